#!/usr/bin/env bash
# bench/usage_ingest.sh — the usage ingester's cost per record: bench/usage_ingest_bench.c calls
# sc_gws_writer_insert (the ingester thread's store path) with 200,000 gateway-like records in
# transactions of 2,048, on a fresh store; 5 runs, median printed.
# usage: bench/usage_ingest.sh [BUILD_DIR]
set -euo pipefail
B=${1:-build}
[ -f "$B/libsuanchi_core.a" ] || { echo "build first: make build"; exit 2; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cc -O2 -std=c11 -D_GNU_SOURCE -Isrc bench/usage_ingest_bench.c "$B/libsuanchi_core.a" \
  $(pkg-config --libs libevent libevent_pthreads jansson sqlite3 libsodium libcurl libpcre2-8) -lpthread -lm -ldl \
  -o "$T/usage_ingest_bench"
for i in 1 2 3 4 5; do
  rm -rf "$T/d" && mkdir "$T/d"
  "$T/usage_ingest_bench" "$T/d" 200000 2048 | tee -a "$T/out"
done
echo "median: $(awk '{print $(NF-4)}' "$T/out" | sort -g | sed -n 3p) us CPU per row"
