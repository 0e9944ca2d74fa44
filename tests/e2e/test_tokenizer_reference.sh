#!/usr/bin/env bash
# test_tokenizer_reference.sh — our tokenizer must match the npm reference tokenizers exactly:
# llama-tokenizer-js (Llama 2, SentencePiece BPE) and llama3-tokenizer-js (Llama 3, byte-level BPE),
# on the hand-written corpus tests/tokenizer/corpus.jsonl plus 3000 seeded random strings.
# The packages are npm-installed once into $SC_BUILD/tokenizer-ref (cached); their vocabularies
# are exported to suanchi's vocabulary JSON and fed to `suanchi tokenize --vocab ... --jsonl`.
# Skips (exit 0, with a message) only when node/npm are missing or the npm registry is unreachable.
set -euo pipefail
: "${SUANCHI:?}" "${SC_SRC:?}" "${SC_BUILD:?}"
T="$SC_SRC/tests/tokenizer"
D="$SC_BUILD/tokenizer-ref"
mkdir -p "$D"

skip() { echo "SKIP test_tokenizer_reference: $*"; exit 0; }
command -v node >/dev/null && command -v npm >/dev/null || skip "node/npm are not installed"

PKGS="llama-tokenizer-js@1.2.2 llama3-tokenizer-js@1.2.0"
if [ ! -f "$D/node_modules/llama-tokenizer-js/llama-tokenizer.js" ] ||
   [ ! -f "$D/node_modules/llama3-tokenizer-js/bundle/llama3-tokenizer-with-baked-data.js" ]; then
  [ -f "$D/package.json" ] || echo '{"name":"suanchi-tokenizer-ref","private":true}' >"$D/package.json"
  if ! timeout 240 npm install --prefix "$D" --no-audit --no-fund --loglevel=error $PKGS >"$D/npm.log" 2>&1; then
    if ! timeout 30 npm view llama-tokenizer-js version >/dev/null 2>&1; then
      skip "the npm registry is unreachable (npm install failed: $(tail -1 "$D/npm.log"))"
    fi
    cat "$D/npm.log"
    echo "FAIL: npm install $PKGS failed although the registry answers"
    exit 1
  fi
fi
NM="$D/node_modules"

node "$T/export_vocab.mjs" "$NM" "$D"
node "$T/gen_corpus.mjs" "$T/corpus.jsonl" 3000 "$D/corpus.jsonl"

fail=0
for m in llama2 llama3; do
  node "$T/reference.mjs" "$NM" "$m" "$D/corpus.jsonl" >"$D/ref-$m.txt"
  special=""
  [ "$m" = llama3 ] && special="--special" # llama3-tokenizer-js always parses special tokens
  "$SUANCHI" tokenize --vocab "$D/$m.json" --no-bos $special --jsonl "$D/corpus.jsonl" >"$D/ours-$m.txt"
  node "$T/compare.mjs" "$m" "$D/corpus.jsonl" "$D/ref-$m.txt" "$D/ours-$m.txt" || fail=1
done

# The exported vocabularies also carry BOS and the chat templates the engine detects.
out=$("$SUANCHI" tokenize --vocab "$D/llama3.json" --json "Hi")
[ "$out" = '{"count":2,"tokens":[128000,13347],"pieces":["<|begin_of_text|>","Hi"]}' ] || { echo "FAIL: llama3 BOS: $out"; fail=1; }
out=$("$SUANCHI" tokenize --vocab "$D/llama2.json" --json "Hello world!")
[ "$out" = '{"count":4,"tokens":[1,15043,3186,29991],"pieces":["<s>","▁Hello","▁world","!"]}' ] || { echo "FAIL: llama2 BOS: $out"; fail=1; }

[ $fail -eq 0 ] && echo "PASS test_tokenizer_reference"
exit $fail
