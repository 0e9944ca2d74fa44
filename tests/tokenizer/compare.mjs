// compare.mjs — compares two files of JSON id arrays line by line (reference, ours) for the strings
// of CORPUS.jsonl; prints each mismatch and a summary line; exits 1 on any mismatch.
// usage: node compare.mjs NAME CORPUS.jsonl REF.txt OURS.txt
import fs from 'node:fs';

const [name, corpus, refF, oursF] = process.argv.slice(2);
const read = (f) => fs.readFileSync(f, 'utf8').split('\n').filter((l) => l.length);
const strs = read(corpus);
const ref = read(refF), ours = read(oursF);
let bad = 0;
if (ref.length !== strs.length || ours.length !== strs.length) {
  console.log(`${name}: line counts differ: corpus ${strs.length}, reference ${ref.length}, ours ${ours.length}`);
  process.exit(1);
}
for (let i = 0; i < strs.length; i++) {
  if (ref[i] !== ours[i]) {
    bad++;
    if (bad <= 20) console.log(`${name}: MISMATCH #${i + 1} ${strs[i]}\n  reference ${ref[i]}\n  ours      ${ours[i]}`);
  }
}
console.log(`${name}: ${strs.length - bad} of ${strs.length} identical`);
process.exit(bad ? 1 : 0);
