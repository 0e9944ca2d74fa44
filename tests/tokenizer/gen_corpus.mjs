// gen_corpus.mjs — writes the comparison corpus: the hand-written strings of corpus.jsonl followed by
// N pseudo-random strings (fixed seed, so every run compares the same strings) mixing words, numbers,
// punctuation, whitespace runs, contractions, CJK, other scripts and emoji.
// usage: node gen_corpus.mjs CORPUS.jsonl N OUT.jsonl
import fs from 'node:fs';

const [src, nStr, out] = process.argv.slice(2);
const base = fs.readFileSync(src, 'utf8').split('\n').filter((l) => l.length).map((l) => JSON.parse(l));
let seed = 0x5eed1234;
const rnd = (n) => {
  seed ^= seed << 13; seed >>>= 0; seed ^= seed >>> 17; seed ^= seed << 5; seed >>>= 0;
  return seed % n;
};
const pick = (a) => a[rnd(a.length)];
const words = ['the', 'The', 'model', 'token', 'izer', 'GPU', 'compute', 'pool', 'llama', 'Qwen', 'hello', 'world',
  'function', 'return', 'int', 'x', 'y', 'i', 'I', 'a', 'an', 'of', 'to', 'in', 'is', 'was', 'running', 'faster',
  'throughput', 'latency', 'über', 'naïve', 'Ελλάδα', 'Москва', 'العربية', 'हिन्दी', '数据', '中心', '算力', '池',
  'トークン', '한국어', 'ภาษา', '😀', '🦙', '🚀', '👍🏽', '❤️', '∑', 'π', '€', '£', '¥'];
const puncts = ['.', ',', '!', '?', ';', ':', '-', '--', '...', '(', ')', '[', ']', '{', '}', '"', "'", '`', '/', '\\',
  '<', '>', '=', '==', '+', '*', '&', '%', '$', '#', '@', '^', '|', '~', '_', '→', '—', '“', '”', '、', '。', '！'];
const spaces = [' ', ' ', ' ', ' ', '  ', '   ', '\t', '\n', '\n\n', ' \n', '\n  ', '\r\n', '\u3000', '\u00a0', '    '];
const contractions = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'RE", "'Ll"];
const ranges = [[0x20, 0x7e], [0xa1, 0x17f], [0x370, 0x3ff], [0x400, 0x4ff], [0x4e00, 0x9fa5], [0x3040, 0x30ff],
  [0xac00, 0xd7a3], [0x600, 0x6ff], [0x900, 0x97f], [0x1f300, 0x1f64f], [0x2000, 0x206f], [0x2190, 0x22ff]];
const randChar = () => {
  const [lo, hi] = pick(ranges);
  let c = lo + rnd(hi - lo + 1);
  if (c === 0x85 || c === 0x180e || c === 0xfeff || (c >= 0x2060 && c <= 0x206f)) c = 0x41;
  return String.fromCodePoint(c);
};
const parts = [
  () => pick(words), () => pick(words), () => pick(words), () => pick(puncts), () => pick(spaces), () => pick(spaces),
  () => String(rnd(100000)), () => String(rnd(10)) + '.' + String(rnd(1000)), () => pick(contractions),
  () => randChar(), () => randChar() + randChar(), () => Array.from(pick(base)).slice(0, 1 + rnd(20)).join(''),
];
const lines = base.map((s) => JSON.stringify(s));
for (let i = 0; i < Number(nStr); i++) {
  let s = '';
  const k = 1 + rnd(40);
  for (let j = 0; j < k; j++) s += pick(parts)();
  lines.push(JSON.stringify(s));
}
fs.writeFileSync(out, lines.join('\n') + '\n');
