#!/usr/bin/env bash
# Timeline benchmark (issue 16, point 6): on a synthetic 1M-event, 60 s trace of
# a busy service (crates/cli/examples/synth_trace.rs: 32 threads with scheduler
# states, regions, lock waits, CPU samples, logs; 16 async tasks; 15,000 user
# tasks; the heap counter), how long `rustprof -http trace.pftrace` takes from
# its start to the last byte of the first timeline screen (the page, the lanes
# and the first view.json at 1600 px), and how long each pan/zoom request
# (view.json for another window) takes. Targets: 2 s and 100 ms.
#
# The peer, measured in the same run: Perfetto's official Python schema (PyPI
# `perfetto`, in target/perfetto-venv as .ci/run installs it) parsing the same
# file (ParseFromString, then a pass over its packets), i.e. reading the trace
# without showing anything.
#
# usage: bench/timeline.sh [EVENTS]   (default 1000000)
set -euo pipefail
cd "$(dirname "$0")/.."
events=${1:-1000000}
mkdir -p bench/data
cargo build --release -q -p rustprof-cli --example synth_trace
cargo build --release -q -p rustprof-cli
target=${CARGO_TARGET_DIR:-target}
rp=$target/release/rustprof
trace=bench/data/trace-$events.pftrace
if [ ! -f "$trace" ]; then
    "$target/release/examples/synth_trace" "$trace" "$events" 60
fi
command -v curl >/dev/null || { echo "curl is needed"; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
port=$(free_port)
base="http://127.0.0.1:$port/ui"

# First screen: process start to the last byte of the first view.
t0=$(date +%s.%N)
"$rp" -http="127.0.0.1:$port" -no_browser "$trace" > /dev/null 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
until curl -s -o /dev/null "$base/static/timeline.css"; do
    sleep 0.01
    kill -0 "$pid" 2>/dev/null || { echo "the server died" >&2; exit 1; }
done
t_listen=$(date +%s.%N)
curl -s -o /dev/null "$base/"
curl -s -o /dev/null "$base/static/timeline.js"
dur=$(curl -s "$base/timeline/lanes.json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["duration"])')
bytes=$(curl -s -o /dev/null -w '%{size_download}' "$base/timeline/view.json?start=0&end=$dur&width=1600")
t1=$(date +%s.%N)
first=$(echo "$t1 - $t0" | bc -l)
# The server's CPU time up to here (user + system), which a loaded machine
# stretches less than the wall clock.
ticks=$(getconf CLK_TCK)
cpu_first=$(awk -v t="$ticks" '{print ($14 + $15) / t}' "/proc/$pid/stat")
load=$(echo "$t_listen - $t0" | bc -l)

# Pan and zoom: windows of 7 widths (the whole trace down to 1 ms) at 3 places each.
times=()
for frac in 1 4 16 60 600 6000 60000; do
    span=$((dur / frac))
    for pos in 10 50 90; do
        start=$(( (dur - span) * pos / 100 ))
        t=$(curl -s -o /dev/null -w '%{time_total}' "$base/timeline/view.json?start=$start&end=$((start + span))&width=1600")
        times+=("$t")
    done
done
med=$(printf '%s\n' "${times[@]}" | median)
max=$(printf '%s\n' "${times[@]}" | sort -n | tail -1)
sel=$(curl -s -o /dev/null -w '%{time_total}' "$base/timeline/range.json?start=0&end=$dur")

# The peer.
peer=""
py=target/perfetto-venv/bin/python3
if [ -x "$py" ] && "$py" -c 'from perfetto.protos.perfetto.trace import perfetto_trace_pb2' 2>/dev/null; then
    p0=$(date +%s.%N)
    /usr/bin/time -f '%U %S' -o bench/data/peer.time "$py" -c '
import sys
from perfetto.protos.perfetto.trace import perfetto_trace_pb2 as pb
t = pb.Trace()
t.ParseFromString(open(sys.argv[1], "rb").read())
n = sum(1 for p in t.packet if p.HasField("track_event"))
print(n, file=sys.stderr)
' "$trace" 2>/dev/null
    p1=$(date +%s.%N)
    peer=$(echo "$p1 - $p0" | bc -l)
    peer_cpu=$(awk '{print $1 + $2}' bench/data/peer.time)
fi

printf 'trace: %s (%s events, %s bytes), machine load %s\n' "$trace" "$events" "$(stat -c %s "$trace")" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf 'first screen: %.2f s (listening after %.2f s; first view %s bytes; %.2f s of CPU); target 2 s: %.2f of it\n' \
    "$first" "$load" "$bytes" "$cpu_first" "$(echo "$first / 2" | bc -l)"
printf 'pan/zoom view.json: median %.1f ms, max %.1f ms over %d requests; target 100 ms: max is %.2f of it\n' \
    "$(echo "$med * 1000" | bc -l)" "$(echo "$max * 1000" | bc -l)" "${#times[@]}" "$(echo "$max * 10" | bc -l)"
printf 'range totals of the whole trace: %.1f ms\n' "$(echo "$sel * 1000" | bc -l)"
if [ -n "$peer" ]; then
    printf "peer: Perfetto's Python schema parses the file in %.2f s (%.2f s of CPU); rustprof's first screen takes %.2f of that (CPU: %.2f)\n" \
        "$peer" "$peer_cpu" "$(echo "$first / $peer" | bc -l)" "$(echo "$cpu_first / $peer_cpu" | bc -l)"
else
    echo "peer: target/perfetto-venv with PyPI perfetto is missing (.ci/run installs it)"
fi
