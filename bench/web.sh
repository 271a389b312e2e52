#!/usr/bin/env bash
# Web UI benchmark (issue 9, point 4): on the 1M-sample, 50k-function synthetic
# profile, how long each view of `rustprof -http` takes to be served once the
# profile is loaded, against `go tool pprof -http` serving the same views in the
# same run. Both servers load the same file; each URL is fetched with curl
# (time_total: request to last byte). rustprof's time is the median of RUNS
# fetches (the first is shown too: the flame graph caches its tree), go tool
# pprof is fetched once per view (it takes seconds to minutes per view).
# Needs Go (`go tool pprof`), graphviz (`dot`, for the Graph view) and curl.
#
# usage: bench/web.sh [RUNS]   (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
mkdir -p bench/data
big=${PROFILE:-bench/data/big.pb.gz}
if [ ! -f "$big" ]; then
    python3 bench/synth_profile.py "$big" --funcs 50000 --samples 1000000 --labels
fi
cargo build --release -q -p rustprof-cli
target=${CARGO_TARGET_DIR:-target}
rp=$target/release/rustprof
for tool in go dot curl; do
    command -v "$tool" >/dev/null || { echo "$tool is needed"; exit 1; }
done

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

# Starts a server (the command after the port) in the background; sets $load
# to the seconds until it listens (both load the profile before listening).
start() {
    local port=$1; shift
    BROWSER= "$@" > /dev/null 2>&1 &
    local pid=$!
    pids+=("$pid")
    local t0 t1
    t0=$(date +%s.%N)
    until curl -s -o /dev/null "http://127.0.0.1:$port/ui/static/none"; do
        sleep 0.05
        kill -0 "$pid" 2>/dev/null || { echo "server on port $port died" >&2; exit 1; }
    done
    t1=$(date +%s.%N)
    load=$(echo "$t1 - $t0" | bc -l)
}

# One fetch: "seconds status bytes".
fetch() {
    curl -s -o /dev/null --max-time 600 -w '%{time_total} %{http_code} %{size_download}\n' "$1"
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

rp_port=$(free_port)
go_port=$(free_port)
start "$rp_port" "$rp" -http="127.0.0.1:$rp_port" -no_browser "$big"
rp_load=$load
start "$go_port" go tool pprof -http="127.0.0.1:$go_port" -no_browser "$big"
go_load=$load
printf "load (until listening): rustprof %.2fs, go tool pprof %.2fs\n\n" "$rp_load" "$go_load"

# The flame graph's first frame below the root, as the UI asks for it on zoom.
sub=$(curl -s "http://127.0.0.1:$rp_port/ui/flamegraph.json" | python3 -c '
import json, sys
d = json.load(sys.stdin)
n = d["nodes"]
print(d["nameIds"][n[8 if d["mean"] else 6]] if len(n) > 6 else "")')

# view | rustprof path | go tool pprof path ("-": no such view)
views=(
    "Top|/ui/top|/ui/top"
    "Graph|/ui/graph|/ui/graph"
    "Flame Graph|/ui/flamegraph|/ui/flamegraph"
    "Peek|/ui/peek?f=func_1%5Cb|/ui/peek?f=func_1%5Cb"
    "Source|/ui/source?f=func_1%24|/ui/source?f=func_1%24"
    "Top, focused|/ui/top?f=func_12|/ui/top?f=func_12"
    "Flame, focused|/ui/flamegraph?f=func_12|/ui/flamegraph?f=func_12"
    "Flame, subtree|/ui/flamegraph.json?path=$sub|-"
)
printf "%-16s %9s %9s %8s %9s %9s %8s %8s\n" view rp_first rp_median rp_KB go_s go_status go_KB ratio
worst=0
for v in "${views[@]}"; do
    IFS='|' read -r name rpath gpath <<< "$v"
    times=(); first=""; status=""; size=0
    for _ in $(seq "$runs"); do
        read -r t status size < <(fetch "http://127.0.0.1:$rp_port$rpath")
        [ -z "$first" ] && first=$t
        times+=("$t")
    done
    med=$(printf "%s\n" "${times[@]}" | median)
    worst=$(echo "if ($first > $worst) $first else $worst" | bc -l)
    if [ "$gpath" = "-" ]; then
        printf "%-16s %9.3f %9.3f %8d %9s %9s %8s %8s   (rp status %s)\n" "$name" "$first" "$med" \
            "$((size / 1024))" - - - - "$status"
        continue
    fi
    read -r gt gstatus gsize < <(fetch "http://127.0.0.1:$go_port$gpath")
    printf "%-16s %9.3f %9.3f %8d %9.2f %9s %8d %7.1fx   (rp status %s)\n" "$name" "$first" "$med" \
        "$((size / 1024))" "$gt" "$gstatus" "$((gsize / 1024))" "$(echo "$gt / $med" | bc -l)" "$status"
done
printf "\nslowest rustprof view (first fetch): %.3fs\n" "$worst"
