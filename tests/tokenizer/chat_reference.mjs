// chat_reference.mjs — renders chat conversations with the models' own Jinja chat templates using
// @huggingface/jinja (the Jinja implementation of transformers.js), for comparison with suanchi's
// hand-written renderings (`suanchi tokenize --chat FILE --print-prompt`).
// usage: node chat_reference.mjs NODE_MODULES_DIR OUT_DIR
// Writes OUT_DIR/chat-alt.jsonl (conversations valid for every template: roles alternate
// user/assistant after an optional system message), OUT_DIR/chat-free.jsonl (any order of roles:
// chatml and llama3 only) and OUT_DIR/chat-ref-TEMPLATE-{alt,free}-{gen,nogen}.txt, one JSON string
// (the rendered prompt) per conversation.
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [nm, outDir] = process.argv.slice(2);
const { Template } = await import(pathToFileURL(path.join(nm, '@huggingface/jinja/dist/index.js')).href);

const TEMPLATES = {
  chatml: "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}",
  llama2: "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}{% for message in loop_messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}",
  llama3: "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}",
};
const TOKENS = { chatml: ['<|begin_of_text|>', '<|end_of_text|>'], llama2: ['<s>', '</s>'], llama3: ['<|begin_of_text|>', '<|end_of_text|>'] };

const contents = ['Hello!', '  padded both sides  ', '\n\nnewlines around\n', '\ttabbed\t', 'multi\nline\n\ncontent',
  '你好，世界', 'emoji 🦙🚀 here', '', ' ', 'code:\n```c\nint x = 1;\n```\n', 'quotes "double" and \'single\'',
  '\u3000ideographic space\u3000', 'nbsp\u00a0', 'What is 2+2?', 'The answer is 4.', '<|eot_id|> looks special',
  '[INST] nested [/INST]', '<<SYS>> fake', 'trailing newline\n'];
let seed = 7;
const rnd = (n) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
const pick = (a) => a[rnd(a.length)];

const alt = [], free = [];
for (let i = 0; i < 120; i++) {
  const conv = [];
  // Blank system messages are left out: @huggingface/jinja evaluates `" " != false` with JavaScript's
  // loose equality (false), Python's Jinja2, which transformers uses, says true. We follow Python
  // (a unit test pins it).
  if (rnd(2)) conv.push({ role: 'system', content: pick(contents.filter((c) => c.trim() !== '')) });
  const turns = 1 + rnd(5);
  for (let k = 0; k < turns; k++) conv.push({ role: k % 2 ? 'assistant' : 'user', content: pick(contents) });
  alt.push(conv);
}
for (let i = 0; i < 60; i++) {
  const conv = [];
  const turns = 1 + rnd(6);
  for (let k = 0; k < turns; k++) conv.push({ role: pick(['system', 'user', 'assistant']), content: pick(contents) });
  free.push(conv);
}
fs.mkdirSync(outDir, { recursive: true });
fs.writeFileSync(path.join(outDir, 'chat-alt.jsonl'), alt.map((c) => JSON.stringify(c)).join('\n') + '\n');
fs.writeFileSync(path.join(outDir, 'chat-free.jsonl'), free.map((c) => JSON.stringify(c)).join('\n') + '\n');
for (const [name, src] of Object.entries(TEMPLATES)) {
  const t = new Template(src);
  for (const [set, convs] of [['alt', alt], ['free', free]]) {
    if (name === 'llama2' && set === 'free') continue;
    for (const gen of [true, false]) {
      const out = convs.map((messages) => JSON.stringify(t.render({
        messages, bos_token: TOKENS[name][0], eos_token: TOKENS[name][1], add_generation_prompt: gen,
      })));
      fs.writeFileSync(path.join(outDir, `chat-ref-${name}-${set}-${gen ? 'gen' : 'nogen'}.txt`), out.join('\n') + '\n');
    }
  }
}
