#!/usr/bin/env bash
# What serving /debug/pprof costs a service under concurrent clients (issue 13
# point 2): bench/peers' httpbench (a service with ~16 MB live, heap sampling
# at 4 KiB, block and mutex at rate 1) with CLIENTS threads fetching every text
# and proto endpoint for SECONDS; prints the RSS before the clients, its peak,
# its end, and what the clients got.
#
# usage: bench/http.sh [CLIENTS...]     (default: 1 4 16; SECONDS=60)
set -euo pipefail
cd "$(dirname "$0")/peers"
seconds=${SECONDS_PER_RUN:-60}
cargo build -q --release --features own_stats --bin httpbench
for c in "${@:-1 4 16}"; do
  for n in $c; do
    target/release/httpbench "$n" "$seconds"
  done
done
