#!/usr/bin/env bash
# Heap profiler benchmark (issue 5): the peer-bench allocation workload (2
# threads, Vec<String> building and BTreeMap churn, bench/peers/src/bin/heapbench.rs)
# under System, a forwarding-only GlobalAlloc wrapper, rustprof's Sampled<System>
# at the default 512 KiB rate and at 4 KiB, and dhat (at 1/60 of the work, as in
# peer-bench.md); plus the cost of one 32-byte alloc+free. Runs alternate
# between variants; the tables show medians over RUNS runs.
#
# usage: bench/heap.sh [RUNS] [ROUNDS]     (defaults 7 and 300000)
set -euo pipefail
cd "$(dirname "$0")/peers"
runs=${1:-7}
rounds=${2:-300000}
small=$((rounds / 60))
cargo build -q --release --bin heapbench
CARGO_TARGET_DIR=target/passthrough cargo build -q --release --features passthrough --bin heapbench
CARGO_TARGET_DIR=target/sampled cargo build -q --release --features sampled --bin heapbench
CARGO_TARGET_DIR=target/dhat cargo build -q --release --features dhat --bin heapbench
variants=(
  "System|target/release/heapbench work $rounds"
  "passthrough wrapper|target/passthrough/release/heapbench work $rounds"
  "Sampled 512 KiB|target/sampled/release/heapbench work $rounds"
  "Sampled 4 KiB|target/sampled/release/heapbench work $rounds 4096"
  "System (1/60)|target/release/heapbench work $small"
  "dhat (1/60)|target/dhat/release/heapbench work $small"
  "micro System|target/release/heapbench micro 20000000"
  "micro passthrough|target/passthrough/release/heapbench micro 20000000"
  "micro Sampled 512 KiB|target/sampled/release/heapbench micro 20000000"
  "micro Sampled off|target/sampled/release/heapbench micro 20000000 0"
)
out=$(mktemp)
for r in $(seq "$runs"); do
  for v in "${variants[@]}"; do
    name=${v%%|*}; cmd=${v#*|}
    echo "$name|$($cmd 2>/dev/null | grep '^kind=')" >> "$out"
  done
done
python3 - "$out" <<'PY'
import sys, statistics as st
rows = {}
for line in open(sys.argv[1]):
    name, kv = line.rstrip("\n").split("|", 1)
    d = {}
    for x in kv.split():
        k, v = x.split("=", 1)
        try: d[k] = float(v)
        except ValueError: d[k] = v
    rows.setdefault(name, []).append(d)
def med(name, key): return st.median(r[key] for r in rows[name])
def rng(name, key):
    v = sorted(r[key] for r in rows[name]); return f"[{v[0]:.0f}–{v[-1]:.0f}]"
print(f"{'workload':<22}{'wall s':>8}{'CPU s':>8}{'ns/round':>10}{'range':>16}{'vs System':>11}{'vs wrapper':>11}{'RSS +KB':>9}{'held KB':>9}")
base = med("System", "ns_per_round"); wrap = med("passthrough wrapper", "ns_per_round")
small = med("System (1/60)", "ns_per_round")
for name in ["System", "passthrough wrapper", "Sampled 512 KiB", "Sampled 4 KiB", "System (1/60)", "dhat (1/60)"]:
    ns = med(name, "ns_per_round")
    ref = small if "1/60" in name else base
    vs_wrap = f"{(ns/wrap-1)*100:+.2f}%" if "Sampled" in name else ""
    held = f"{med(name, 'profiler_kb'):.0f}" if "profiler_kb" in rows[name][0] else ""
    print(f"{name:<22}{med(name,'wall'):>8.3f}{med(name,'cpu'):>8.3f}{ns:>10.1f}{rng(name,'ns_per_round'):>16}{(ns/ref-1)*100:>+10.2f}%{vs_wrap:>11}{med(name,'rss_growth_kb'):>9.0f}{held:>9}")
print()
print(f"{'32 B alloc+free':<22}{'ns':>8}{'vs System':>11}{'vs wrapper':>11}")
mb = med("micro System", "ns_per_alloc_free"); mw = med("micro passthrough", "ns_per_alloc_free")
for name in ["micro System", "micro passthrough", "micro Sampled 512 KiB", "micro Sampled off"]:
    ns = med(name, "ns_per_alloc_free")
    print(f"{name[6:]:<22}{ns:>8.2f}{ns-mb:>+10.2f}{ns-mw:>+11.2f}")
PY
rm -f "$out"
