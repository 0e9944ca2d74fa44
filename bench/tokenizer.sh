#!/usr/bin/env bash
# bench/tokenizer.sh — tokenizer speed on a long prompt: Llama 2 (SentencePiece) and Llama 3 (byte-level
# BPE) vocabularies exported by tests/e2e/test_tokenizer_reference.sh (run it first), on ~450 KB of the
# comparison corpus repeated (~200k-300k tokens). Reports the median of 5 sc_tokenize calls
# (bench/tokenizer_bench.c calls sc_tokenize directly; special tokens parsed).
# usage: bench/tokenizer.sh [BUILD_DIR]
set -euo pipefail
B=${1:-build}
S="$B/suanchi"
D="$B/tokenizer-ref"
[ -f "$D/llama3.json" ] && [ -f "$D/corpus.jsonl" ] || { echo "run tests/e2e/test_tokenizer_reference.sh first"; exit 1; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
node -e '
const fs = require("fs");
const lines = fs.readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean).map(JSON.parse);
let s = "", i = 0;
while (Buffer.byteLength(s) < 450000) s += lines[i++ % lines.length] + "\n";
fs.writeFileSync(process.argv[2], s);' "$D/corpus.jsonl" "$T/long.txt"
cc -O2 -std=c11 -D_GNU_SOURCE -Isrc bench/tokenizer_bench.c "$B/libsuanchi_core.a" \
  $(pkg-config --libs libevent libevent_pthreads jansson sqlite3 libsodium libcurl libpcre2-8) -lpthread -lm -ldl \
  -o "$T/tokenizer_bench"
for m in llama2 llama3; do
  echo "$m: $("$T/tokenizer_bench" "$D/$m.json" "$T/long.txt")"
done
