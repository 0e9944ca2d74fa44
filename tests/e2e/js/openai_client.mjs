// Drives `suanchi engine --simulate` with the official `openai` npm client (the reference
// implementation of the protocol): models, chat and completions, streaming with usage, errors.
// Usage: node openai_client.mjs BASE_URL MODEL  (the openai package resolved via NODE_PATH-free
// import from the install dir given in OPENAI_DIR).
import { createRequire } from 'node:module';
import assert from 'node:assert/strict';

const require = createRequire(process.env.OPENAI_DIR + '/package.json');
const OpenAI = require('openai');
const [base, model] = process.argv.slice(2);
const client = new OpenAI({ baseURL: base + '/v1', apiKey: 'unused', maxRetries: 0, timeout: 30000 });

const models = await client.models.list();
assert.equal(models.data[0].id, model);

const chat = await client.chat.completions.create({
  model, messages: [{ role: 'user', content: 'Hello there' }], max_tokens: 10, temperature: 0,
});
assert.equal(chat.object, 'chat.completion');
assert.equal(chat.choices[0].message.content, ' The simulated engine answers at the pace of the chip');
assert.equal(chat.choices[0].finish_reason, 'length');
assert.deepEqual([chat.usage.prompt_tokens, chat.usage.completion_tokens, chat.usage.total_tokens], [11, 10, 21]);

const stream = await client.chat.completions.create({
  model, messages: [{ role: 'user', content: 'Hello there' }], max_tokens: 13, temperature: 0, stream: true,
  stream_options: { include_usage: true },
});
let text = '', finish = null, usage = null, chunks = 0;
for await (const c of stream) {
  chunks++;
  if (c.choices.length) {
    text += c.choices[0].delta.content ?? '';
    if (c.choices[0].finish_reason) finish = c.choices[0].finish_reason;
  }
  if (c.usage) usage = c.usage;
}
assert.equal(text, ' The simulated engine answers at the pace of the chip. 算');
assert.equal(finish, 'length');
assert.equal(usage.completion_tokens, 13);
assert.ok(chunks >= 14);

const cmpl = await client.completions.create({ model, prompt: 'Hello there', max_tokens: 20, temperature: 0, stop: ['pace'] });
assert.equal(cmpl.choices[0].text, ' The simulated engine answers at the ');
assert.equal(cmpl.choices[0].finish_reason, 'stop');
assert.equal(cmpl.usage.completion_tokens, 7);

const cstream = await client.completions.create({ model, prompt: 'x', max_tokens: 4, temperature: 0, stream: true });
let ctext = '';
for await (const c of cstream) ctext += c.choices[0]?.text ?? '';
assert.equal(ctext, ' The simulated engine answers');

await assert.rejects(
  client.chat.completions.create({ model, messages: [{ role: 'user', content: 'x' }], temperature: 5 }),
  (err) => err instanceof OpenAI.BadRequestError && err.status === 400 && err.param === 'temperature' &&
    err.code === 'invalid_value');
await assert.rejects(
  client.chat.completions.create({ model: 'gpt-9', messages: [{ role: 'user', content: 'x' }] }),
  (err) => err instanceof OpenAI.NotFoundError && err.code === 'model_not_found');

// Aborting a stream mid-way (client disconnect) leaves the server serving.
const ac = new AbortController();
const long = await client.chat.completions.create(
  { model, messages: [{ role: 'user', content: 'x' }], max_tokens: 3000, stream: true }, { signal: ac.signal });
let n = 0;
try {
  for await (const c of long) { if (++n === 3) ac.abort(); }
} catch (e) { /* aborted */ }
const after = await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'x' }], max_tokens: 2 });
assert.equal(after.usage.completion_tokens, 2);
console.log('openai client: ok');
