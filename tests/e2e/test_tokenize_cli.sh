#!/usr/bin/env bash
# test_tokenize_cli.sh — `suanchi tokenize` on a small vocabulary file and a GGUF file written by
# the engine's GGUF writer path (a vocab JSON is enough here); every bad input gets a clear message.
set -euo pipefail
: "${SUANCHI:?}" "${SC_SRC:?}" "${SC_BUILD:?}"
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT
fail=0
check() { # name expected actual
  if [ "$2" != "$3" ]; then echo "FAIL $1: expected [$2] got [$3]"; fail=1; fi
}
expect_err() { # name exit-code needle cmd...
  local name=$1 code=$2 needle=$3
  shift 3
  local out rc=0
  out=$("$@" 2>&1) || rc=$?
  if [ "$rc" -ne "$code" ] || [[ "$out" != *"$needle"* ]]; then
    echo "FAIL $name: rc=$rc (want $code), output: $out (want: $needle)"
    fail=1
  fi
}

# A SentencePiece vocabulary: <unk> <s> </s>, byte tokens, a few pieces.
{
  printf '{"model":"llama","bos_token_id":1,"eos_token_id":2,"chat_template":"[INST]","tokens":["<unk>","<s>","</s>"'
  for b in $(seq 0 255); do printf ',"<0x%02X>"' "$b"; done
  printf ',"▁","h","i","▁h","▁hi"],"scores":[0,0,0'
  for b in $(seq 0 255); do printf ',0'; done
  printf ',-9,-9,-9,-1,-2],"token_type":[2,3,3'
  for b in $(seq 0 255); do printf ',6'; done
  printf ',1,1,1,1,1]}'
} >"$D/spm.json"

check plain "$(printf '1\t"<s>"\n263\t"▁hi"')" "$("$SUANCHI" tokenize --vocab "$D/spm.json" hi)"
check json '{"count":2,"tokens":[263,3],"pieces":["▁hi","<0x00>"]}' \
  "$(printf 'hi\0' >"$D/in.txt"; "$SUANCHI" tokenize --vocab "$D/spm.json" --json --no-bos --file "$D/in.txt")"
check special '{"count":3,"tokens":[1,263,2],"pieces":["<s>","▁hi","</s>"]}' \
  "$("$SUANCHI" tokenize --vocab "$D/spm.json" --json --no-bos --special '<s>hi</s>')"
printf '"hi"\n"\\n"\n""\n' >"$D/lines.jsonl"
check jsonl "$(printf '[263]\n[259,13]\n[]')" "$("$SUANCHI" tokenize --vocab "$D/spm.json" --no-bos --jsonl "$D/lines.jsonl")"

# Chat rendering (the vocabulary's template "[INST]" is detected as llama2).
printf '[{"role":"user","content":"hi "}]\n' >"$D/chat.jsonl"
check chat-prompt '"<s>[INST] hi [/INST]"' "$("$SUANCHI" tokenize --vocab "$D/spm.json" --chat "$D/chat.jsonl" --print-prompt)"
check chat-chatml '"<|im_start|>user\nhi <|im_end|>\n"' \
  "$("$SUANCHI" tokenize --vocab "$D/spm.json" --chat "$D/chat.jsonl" --print-prompt --chat-template chatml --no-gen-prompt)"
check chat-ids '[1,259,94,76,81,86,87,96,263,259,94,50,76,81,86,87,96]' "$("$SUANCHI" tokenize --vocab "$D/spm.json" --chat "$D/chat.jsonl")"

# Bad input.
printf '[{"role":"tool","content":"x"}]\n' >"$D/tool.jsonl"
expect_err chat-role 1 "tool.jsonl line 1: messages[0] has unknown role 'tool'" "$SUANCHI" tokenize --vocab "$D/spm.json" --chat "$D/tool.jsonl"
printf '[]\n' >"$D/empty.jsonl"
expect_err chat-empty 1 "empty.jsonl line 1: messages must not be empty" "$SUANCHI" tokenize --vocab "$D/spm.json" --chat "$D/empty.jsonl"
printf '{"role":"user"}\n' >"$D/obj.jsonl"
expect_err chat-shape 1 "obj.jsonl line 1: expected a JSON array of messages" "$SUANCHI" tokenize --vocab "$D/spm.json" --chat "$D/obj.jsonl"
expect_err chat-name 2 "unknown chat template 'vicuna'" "$SUANCHI" tokenize --vocab "$D/spm.json" --chat "$D/chat.jsonl" --chat-template vicuna
expect_err chat-flags 2 "go with --chat FILE" "$SUANCHI" tokenize --vocab "$D/spm.json" --print-prompt hi
expect_err no-source 2 "give exactly one of --vocab FILE or --model FILE.gguf" "$SUANCHI" tokenize hi
expect_err two-sources 2 "give exactly one of --vocab" "$SUANCHI" tokenize --vocab a --model b hi
expect_err no-input 2 "give exactly one input" "$SUANCHI" tokenize --vocab "$D/spm.json"
expect_err two-inputs 2 "give exactly one input" "$SUANCHI" tokenize --vocab "$D/spm.json" --file x hi
expect_err bad-flag 2 "unknown flag" "$SUANCHI" tokenize --vocab "$D/spm.json" --colour hi
expect_err missing-vocab 1 "vocab $D/none.json: No such file" "$SUANCHI" tokenize --vocab "$D/none.json" hi
echo '{"model":"llama","tokens":["a"],"scores":[1,2]}' >"$D/bad.json"
expect_err bad-vocab 1 "'scores' has 2 items but 'tokens' has 1" "$SUANCHI" tokenize --vocab "$D/bad.json" hi
echo '{"model":"gpt2","pre":"falcon","tokens":["a"]}' >"$D/pre.json"
echo '{"model":"llama","tokens":["a"],"chat_template":"{{ messages }}"}' >"$D/tmpl.json"
expect_err chat-unknown-template 1 "not one of chatml, llama2, llama3" "$SUANCHI" tokenize --vocab "$D/tmpl.json" --chat "$D/chat.jsonl"
expect_err bad-pre 1 "unsupported pre-tokenizer 'falcon'" "$SUANCHI" tokenize --vocab "$D/pre.json" hi
printf 'not json\n' >"$D/bad.jsonl"
expect_err bad-jsonl 1 "bad.jsonl line 1: expected a JSON string" "$SUANCHI" tokenize --vocab "$D/spm.json" --jsonl "$D/bad.jsonl"
expect_err missing-file 1 "nofile.txt: No such file" "$SUANCHI" tokenize --vocab "$D/spm.json" --file "$D/nofile.txt"
printf 'GGUF\3\0\0\0' >"$D/trunc.gguf"
expect_err bad-gguf 1 "GGUF truncated" "$SUANCHI" tokenize --model "$D/trunc.gguf" hi
expect_err missing-gguf 1 "cannot open" "$SUANCHI" tokenize --model "$D/none.gguf" hi

[ $fail -eq 0 ] && echo "PASS test_tokenize_cli"
exit $fail
