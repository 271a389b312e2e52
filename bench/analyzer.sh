#!/usr/bin/env bash
# Analyzer benchmark: rustprof vs go tool pprof on the 1M-sample, 50k-function
# synthetic profile with labels (issue 3: -top >= 30x faster, <= 1/10 the peak
# RSS). Both tools run in the same session on the same file; prints wall time,
# peak RSS and the ratios. Needs Go (`go tool pprof`) and GNU time.
#
# usage: bench/analyzer.sh [RUNS]   (RUNS of rustprof per query, default 3;
#                                    go tool pprof runs once per query: ~1 min each)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
mkdir -p bench/data
big=bench/data/big.pb.gz
if [ ! -f "$big" ]; then
    python3 bench/synth_profile.py "$big" --funcs 50000 --samples 1000000 --labels
fi
cargo build --release -q -p rustprof-cli
rp=target/release/rustprof
TIME=/usr/bin/time
command -v go >/dev/null || { echo "go is needed (apt-get install golang-go)"; exit 1; }

measure() { # prints "wall_s rss_kb" of one run
    local f
    f=$(mktemp)
    $TIME -o "$f" -f "%e %M" "$@" > /dev/null 2>/dev/null || true
    tail -1 "$f"
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
printf "%-22s %10s %10s %10s %10s %8s %8s\n" query rp_wall rp_rss_MB go_wall go_rss_MB speedup rss_ratio
for q in "${queries[@]}"; do
    # shellcheck disable=SC2206
    args=($q)
    walls=(); rss=0
    for _ in $(seq "$runs"); do
        read -r w r < <(measure "$rp" "${args[@]}" "$big")
        walls+=("$w"); [ "$r" -gt "$rss" ] && rss=$r
    done
    rw=$(printf "%s\n" "${walls[@]}" | median)
    read -r gw gr < <(measure go tool pprof "${args[@]}" "$big")
    printf "%-22s %10.2f %10.1f %10.2f %10.1f %7.1fx %7.1fx\n" "$q" "$rw" "$(echo "$rss/1024" | bc -l)" \
        "$gw" "$(echo "$gr/1024" | bc -l)" "$(echo "$gw/$rw" | bc -l)" "$(echo "$gr/$rss" | bc -l)"
done
