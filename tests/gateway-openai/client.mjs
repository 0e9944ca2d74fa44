// Drives the suanchi gateway with the official `openai` npm client: models.list, chat (plain and
// streamed, with and without usage), completions (plain and streamed), and the client's error
// classes for the gateway's own errors (401, 404, 400, 429 with Retry-After honoured as given).
// Usage: node client.mjs GATEWAY_URL API_KEY LIMITED_KEY  (openai resolved from this folder's
// node_modules, installed by the e2e test into the build dir).
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const [base, key, limitedKey] = process.argv.slice(2);
const client = new OpenAI({ baseURL: base + '/v1', apiKey: key, maxRetries: 0, timeout: 30000 });

const models = await client.models.list();
assert.deepEqual(models.data.map((m) => m.id).sort(), ['m1']);
assert.equal((await client.models.retrieve('m1')).id, 'm1');
await assert.rejects(client.models.retrieve('nope'), (e) => e instanceof OpenAI.NotFoundError);

const chat = await client.chat.completions.create({
  model: 'm1', messages: [{ role: 'user', content: 'Hello there' }], max_tokens: 10, temperature: 0,
});
assert.equal(chat.object, 'chat.completion');
assert.equal(chat.choices[0].message.content, ' The simulated engine answers at the pace of the chip');
assert.equal(chat.usage.completion_tokens, 10);

// raw response: the gateway's headers
const raw = await client.chat.completions
  .create({ model: 'm1', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 })
  .asResponse();
assert.match(raw.headers.get('x-request-id'), /^req-[0-9a-f]{16}$/);
assert.equal(raw.headers.get('x-suanchi-replica'), 'ep-e1');

// streamed with usage: the usage chunk arrives (choices empty) before the end
const stream = await client.chat.completions.create({
  model: 'm1', messages: [{ role: 'user', content: 'Hello there' }], max_tokens: 13, temperature: 0, stream: true,
  stream_options: { include_usage: true },
});
let text = '', usage = null, finish = null;
for await (const c of stream) {
  if (c.choices.length) {
    text += c.choices[0].delta.content ?? '';
    finish = c.choices[0].finish_reason ?? finish;
  }
  if (c.usage) usage = c.usage;
}
assert.equal(text, ' The simulated engine answers at the pace of the chip. 算');
assert.equal(finish, 'length');
assert.equal(usage.completion_tokens, 13);

// streamed without usage: the gateway asked the engine for it, but the client sees none
const s2 = await client.chat.completions.create({
  model: 'm1', messages: [{ role: 'user', content: 'Hello there' }], max_tokens: 4, temperature: 0, stream: true,
});
let sawUsage = false, t2 = '';
for await (const c of s2) {
  if (c.usage) sawUsage = true;
  if ('usage' in c) sawUsage = true;
  t2 += c.choices[0]?.delta?.content ?? '';
}
assert.equal(sawUsage, false);
assert.equal(t2, ' The simulated engine answers');

const cmpl = await client.completions.create({ model: 'm1', prompt: 'Hello there', max_tokens: 20, temperature: 0, stop: ['pace'] });
assert.equal(cmpl.choices[0].text, ' The simulated engine answers at the ');
assert.equal(cmpl.usage.completion_tokens, 7);
const cs = await client.completions.create({ model: 'm1', prompt: 'x', max_tokens: 4, temperature: 0, stream: true });
let ct = '';
for await (const c of cs) ct += c.choices[0]?.text ?? '';
assert.equal(ct, ' The simulated engine answers');

// errors
await assert.rejects(
  new OpenAI({ baseURL: base + '/v1', apiKey: 'sck.0000000000000000.00', maxRetries: 0 }).models.list(),
  (e) => e instanceof OpenAI.AuthenticationError && e.status === 401 && e.code === 'invalid_api_key');
await assert.rejects(
  client.chat.completions.create({ model: 'nope', messages: [{ role: 'user', content: 'x' }] }),
  (e) => e instanceof OpenAI.NotFoundError && e.code === 'model_not_found');
await assert.rejects(
  client.chat.completions.create({ model: 'm1', messages: [{ role: 'user', content: 'x' }], max_tokens: 2000000000 }),
  (e) => e instanceof OpenAI.BadRequestError && e.param === 'max_tokens');
const limited = new OpenAI({ baseURL: base + '/v1', apiKey: limitedKey, maxRetries: 0 });
await limited.chat.completions.create({ model: 'm1', messages: [{ role: 'user', content: 'x' }], max_tokens: 1 });
await assert.rejects(
  limited.chat.completions.create({ model: 'm1', messages: [{ role: 'user', content: 'x' }], max_tokens: 1 }),
  (e) => e instanceof OpenAI.RateLimitError && Number(e.headers['retry-after']) >= 1);
console.log('openai client against the gateway: ok');
