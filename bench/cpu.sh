#!/usr/bin/env bash
# CPU profiler benchmark (issue 4): overhead, achieved rate, per-thread balance,
# cost per sample and RSS of rustprof against pprof-rs (crate `pprof`, its
# default unwinder and its `frame-pointer` one), on the peer-bench workload
# (2 threads, 38,000 x 16,384 mixing steps each). Runs alternate between
# variants; the table shows medians over RUNS runs. The "floor" rows open the
# same perf SIGTRAP events with a handler that only counts: what the kernel (and
# a VM) charge per signal, below which no signal-based profiler can go.
#
# usage: bench/cpu.sh [RUNS] [ROUNDS]     (defaults 5 and 38000)
set -euo pipefail
cd "$(dirname "$0")/peers"
runs=${1:-5}
rounds=${2:-38000}
cargo build -q --release
CARGO_TARGET_DIR=target/pprof cargo build -q --release --features pprof
RUSTFLAGS="-C force-frame-pointers=yes" CARGO_TARGET_DIR=target/pprof-fp cargo build -q --release --features pprof-fp
variants=(
  "none|target/release/cpubench none 100"
  "floor 100 Hz|target/release/cpubench floor 100"
  "floor 1000 Hz|target/release/cpubench floor 1000"
  "rustprof 100 Hz|target/release/cpubench rustprof 100"
  "rustprof 1000 Hz|target/release/cpubench rustprof 1000"
  "pprof-rs 100 Hz|target/pprof/release/cpubench pprof 100"
  "pprof-rs 1000 Hz|target/pprof/release/cpubench pprof 1000"
  "pprof-rs fp 1000 Hz|target/pprof-fp/release/cpubench pprof 1000"
)
out=$(mktemp)
for r in $(seq "$runs"); do
  for v in "${variants[@]}"; do
    name=${v%%|*}; cmd=${v#*|}
    echo "$name|$($cmd "$rounds")" >> "$out"
  done
done
python3 - "$out" <<'PY'
import sys, statistics as st
rows = {}
for line in open(sys.argv[1]):
    name, kv = line.rstrip("\n").split("|", 1)
    d = dict(x.split("=", 1) for x in kv.split())
    rows.setdefault(name, []).append({k: float(v) if k != "kind" else v for k, v in d.items()})
def med(name, key): return st.median(r[key] for r in rows[name])
base_cpu = med("none", "cpu"); base_wall = med("none", "wall")
print(f"{'variant':<22}{'wall s':>8}{'CPU s':>8}{'CPU ovh':>9}{'samples':>9}{'expected':>10}{'rec/exp':>9}{'CPU rep/real':>13}{'thread gap':>11}{'RSS +MB':>9}{'ns/sample':>10}")
for name in rows:
    wall, cpu = med(name, "wall"), med(name, "cpu")
    s, e = med(name, "samples"), med(name, "expected")
    rep = med(name, "cpu_reported_s")
    gaps = [abs(r["w0"] - r["w1"]) / max(r["w0"], r["w1"]) for r in rows[name] if max(r["w0"], r["w1"]) > 0]
    gap = f"{100*st.median(gaps):.1f}%" if gaps else "-"
    rss = (med(name, "rss_started_kb") - med(name, "rss_before_kb")) / 1024
    ovh = (cpu - base_cpu) / base_cpu * 100
    nsps = (cpu - base_cpu) * 1e9 / s if s > 0 else float("nan")
    ratio = s / e if e > 0 and s > 0 else float("nan")
    real = rep / cpu if rep > 0 else float("nan")
    print(f"{name:<22}{wall:>8.3f}{cpu:>8.3f}{ovh:>8.2f}%{s:>9.0f}{e:>10.0f}{ratio:>9.3f}{real:>13.3f}{gap:>11}{rss:>9.1f}{nsps:>10.0f}")
PY
rm -f "$out"
