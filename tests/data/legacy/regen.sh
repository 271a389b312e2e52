#!/bin/sh
# Regenerates tests/data/legacy: with --sources, the profiles themselves (Go's
# debug=1 texts from go/main.go.txt, gperftools' from gperftools/*.c*, the crafted
# ones from crafted/make.py); always, the expected outputs of Go 1.27.3's
# `go tool pprof -symbolize=none` (-raw, -top, -traces) in expected/.
# Needs Go 1.27.3 on PATH (and for --sources, gcc, g++, libgoogle-perftools-dev).
set -eu
cd "$(dirname "$0")"
if [ "${1:-}" = --sources ]; then
  t=$(mktemp -d)
  cp go/main.go.txt "$t/main.go"
  printf 'module legacyprofiles\n\ngo 1.27\n' > "$t/go.mod"
  (cd "$t" && go build -o legacyprofiles . && ./legacyprofiles "$OLDPWD/go")
  gzip -9 -n -c go/goroutine.txt > go/goroutine.txt.gz
  gcc -O1 -g -fno-omit-frame-pointer -o "$t/burn" gperftools/burn.c -Wl,--no-as-needed -lprofiler -ltcmalloc
  CPUPROFILE="$t/cpu.prof" CPUPROFILE_FREQUENCY=250 HEAPPROFILE="$t/heap" "$t/burn"
  cp "$t/cpu.prof" gperftools/cpu.prof
  cp "$t/heap.0001.heap" gperftools/heapprofile.heap
  g++ -O1 -g -fno-omit-frame-pointer -o "$t/sample" gperftools/sample.cc -Wl,--no-as-needed -ltcmalloc
  TCMALLOC_SAMPLE_PARAMETER=524288 "$t/sample" gperftools/heapz.txt gperftools/growthz.txt
  (cd crafted && python3 make.py)
  rm -rf "$t"
fi
rm -rf expected && mkdir expected
for f in go/*.txt go/*.gz gperftools/*.prof gperftools/*.heap gperftools/*z.txt crafted/*.*; do
  case "$f" in *.py|*/main.go.txt) continue ;; esac
  for c in raw top traces; do
    out="expected/$(echo "$f" | tr / _).$c"
    TZ=UTC go tool pprof -symbolize=none "-$c" "$f" > "$out" 2> "$out.err" || echo "exit $?" >> "$out.err"
  done
done
