/*
 * chat_template.h — renders chat messages into a model's prompt text with the chat formats
 * chatml (Qwen2 and many others), llama2 and llama3, reproducing their Jinja templates exactly
 * (docs/internals/tokenizer.md shows each rendering). No Jinja engine: a model's
 * tokenizer.chat_template is recognized by distinctive markers, and an unknown one is an error
 * unless the operator names the format (`suanchi engine --chat-template NAME`).
 *
 * Typical use (the engine's chat endpoint):
 *   sc_chat_template ct;
 *   sc_chat_template_detect(sc_tokenizer_chat_template(tok), &ct, &e)   (or _by_name)
 *   sc_chat_render(ct, msgs, n, true, NULL, NULL, &text, &e)
 *   sc_tokenize(tok, text, strlen(text), false, true, ...)   // BOS is in the text; parse specials
 * All functions are pure and thread-safe.
 */
#ifndef SC_ENGINE_CHAT_TEMPLATE_H
#define SC_ENGINE_CHAT_TEMPLATE_H

#include <stdbool.h>

#include "base/err.h"

typedef enum { SC_CHAT_CHATML = 1, SC_CHAT_LLAMA2 = 2, SC_CHAT_LLAMA3 = 3 } sc_chat_template;

typedef struct sc_chat_msg {
  const char *role;    /* "system", "user" or "assistant" */
  const char *content; /* UTF-8, NUL-terminated */
} sc_chat_msg;

/* Recognizes a Jinja chat template: "<|start_header_id|>" -> llama3, "<|im_start|>" -> chatml,
 * "[INST]" -> llama2 (checked in that order). NULL/empty or unrecognized: SC_EINVAL with a message
 * telling to pass --chat-template NAME. */
int sc_chat_template_detect(const char *jinja, sc_chat_template *out, sc_err *e);
/* "chatml", "llama2" or "llama3" (also "llama-2", "llama-3"); anything else: SC_EINVAL listing them. */
int sc_chat_template_by_name(const char *name, sc_chat_template *out, sc_err *e);
const char *sc_chat_template_name(sc_chat_template t);

/* Renders n >= 1 messages. bos_text / eos_text: the texts of the BOS / EOS tokens where the template
 * writes them (llama2: "<s>" before each [INST] and "</s>" after each answer; llama3:
 * "<|begin_of_text|>" first); NULL means the template's standard text, "" none. With
 * add_generation_prompt the assistant's turn is opened (chatml, llama3; llama2's prompt already
 * ends in [/INST]). On success *out is a malloc'd NUL-terminated string the caller frees.
 * Errors (SC_EINVAL, e says which message): no messages, an unknown role, a NULL role/content,
 * a system message that is not first (llama2), llama2 roles not alternating user/assistant. */
int sc_chat_render(sc_chat_template t, const sc_chat_msg *msgs, int n, bool add_generation_prompt,
                   const char *bos_text, const char *eos_text, char **out, sc_err *e);

#endif
