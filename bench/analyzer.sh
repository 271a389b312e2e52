#!/usr/bin/env bash
# Analyzer benchmark: rustprof vs go tool pprof on the 1M-sample, 50k-function
# synthetic profile with labels (issue 3: -top >= 30x faster, <= 1/10 the peak
# RSS). Both tools run in the same session on the same file; prints wall time,
# peak RSS and the ratios. Needs Go (`go tool pprof`) and GNU time.
#
# usage: bench/analyzer.sh [RUNS] [SIZE]
#   RUNS of rustprof per query (default 3); go tool pprof runs once per query.
#   SIZE: `1m` (default: 1M samples, 50k functions, labels) or `300k` (issue
#   17's: 300k samples, 20k functions, labels).
# The peer is today's pprof: Go 1.27.3 from target/go-venv (what .ci/run
# installs) when present, else the `go` on PATH; its version is printed.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
size=${2:-1m}
mkdir -p bench/data
case "$size" in
    1m) big=bench/data/big.pb.gz; spec=(--funcs 50000 --samples 1000000 --labels) ;;
    300k) big=bench/data/p300k.pb.gz; spec=(--funcs 20000 --samples 300000 --labels) ;;
    *) echo "unknown SIZE $size (1m or 300k)"; exit 1 ;;
esac
if [ ! -f "$big" ]; then
    python3 bench/synth_profile.py "$big" "${spec[@]}"
fi
cargo build --release -q -p rustprof-cli
rp=target/release/rustprof
TIME=/usr/bin/time
if [ -x target/go-venv/bin/go ]; then
    export PATH="$PWD/target/go-venv/bin:$PATH" GOCACHE="${GOCACHE:-$PWD/target/gocache}"
fi
command -v go >/dev/null || { echo "go is needed (.ci/run installs Go 1.27.3 in target/go-venv)"; exit 1; }
echo "peer: $(go version); profile: $big; load average: $(cut -d' ' -f1-3 /proc/loadavg)"

measure() { # prints "wall_s rss_kb cpu_s" of one run (cpu: user + system)
    local f
    f=$(mktemp)
    $TIME -o "$f" -f "%e %M %U %S" "$@" > /dev/null 2>/dev/null || true
    tail -1 "$f" | awk '{printf "%s %s %.2f\n", $1, $2, $3 + $4}'
    rm -f "$f"
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

queries=(
    "-top"
    "-peek func_1\$"
    "-traces"
    "-top -focus=func_12"
    "-tree -nodecount=20"
)
# Wall time is what a user waits; on a shared machine it also counts waiting
# for a CPU, so the CPU time (user + system, all threads) is printed too.
printf "%-22s %8s %8s %8s %8s %8s %8s %8s %8s %7s\n" query rp_wall rp_cpu rp_MB go_wall go_cpu go_MB speedup cpu_ratio rss_ratio
for q in "${queries[@]}"; do
    # shellcheck disable=SC2206
    args=($q)
    walls=(); cpus=(); rss=0
    for _ in $(seq "$runs"); do
        read -r w r c < <(measure "$rp" "${args[@]}" "$big")
        walls+=("$w"); cpus+=("$c"); [ "$r" -gt "$rss" ] && rss=$r
    done
    rw=$(printf "%s\n" "${walls[@]}" | median)
    rc=$(printf "%s\n" "${cpus[@]}" | median)
    read -r gw gr gc < <(measure go tool pprof "${args[@]}" "$big")
    printf "%-22s %8.2f %8.2f %8.1f %8.2f %8.2f %8.1f %7.1fx %7.1fx %6.1fx\n" "$q" "$rw" "$rc" "$(echo "$rss/1024" | bc -l)" \
        "$gw" "$gc" "$(echo "$gr/1024" | bc -l)" "$(echo "$gw/$rw" | bc -l)" "$(echo "$gc/$rc" | bc -l)" "$(echo "$gr/$rss" | bc -l)"
done
