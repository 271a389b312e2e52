#!/usr/bin/env bash
# Decode benchmark of the 1M-sample synthetic profile (issue 2's target: <= 1.0 s
# with gunzip, peak memory <= 3x the uncompressed size). Generates the profile
# with bench/synth_profile.py on first use (about 35 s).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/data
big=bench/data/big.pb.gz
if [ ! -f "$big" ]; then
    python3 bench/synth_profile.py "$big" --funcs 50000 --samples 1000000 --labels
fi
cargo bench -p rustprof-profile --bench decode -- "$PWD/$big" "${RUNS:-5}"
