// reference.mjs — tokenizes every line of a corpus (each line a JSON string) with an npm reference
// tokenizer and prints one JSON array of ids per line, without BOS/EOS.
// usage: node reference.mjs NODE_MODULES_DIR llama2|llama3 CORPUS.jsonl
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [nm, which, corpus] = process.argv.slice(2);
const file = which === 'llama2' ? ['llama-tokenizer-js', 'llama-tokenizer.js']
                                : ['llama3-tokenizer-js', 'bundle/llama3-tokenizer-with-baked-data.js'];
const t = (await import(pathToFileURL(path.join(nm, ...file)).href)).default;
const out = [];
for (const line of fs.readFileSync(corpus, 'utf8').split('\n')) {
  if (!line) continue;
  const s = JSON.parse(line);
  const ids = which === 'llama2' ? t.encode(s, false, true) : t.encode(s, { bos: false, eos: false });
  out.push(JSON.stringify(ids));
}
fs.writeSync(1, out.join('\n') + '\n');
