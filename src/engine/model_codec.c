/*
 * model_codec.c — text <-> tokens for a real model (see model_codec.h).
 *
 * Completions prompts are tokenized with the model's BOS rule and special tokens recognised (as
 * Hugging Face tokenizers and vLLM do). Chat prompts are rendered by the template with the BOS/EOS
 * texts of this vocabulary, then tokenized without adding BOS (the template wrote it) and with
 * special tokens parsed. The "developer" role is the newer name of "system".
 */
#include "engine/model_codec.h"

#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "engine/chat_template.h"

typedef struct mc {
  const sc_tokenizer *tok;
  sc_chat_template ct;
  char bos[256], eos[256];
} mc;

static int encode_prompt(void *ctx, const char *text, size_t len, int32_t **ids, int *n, sc_err *e) {
  mc *m = ctx;
  return sc_tokenize(m->tok, text, len, sc_tokenizer_add_bos(m->tok), true, ids, n, e);
}

static int encode_chat(void *ctx, const sc_oai_message *msgs, int n_msgs, int32_t **ids, int *n, sc_err *e) {
  mc *m = ctx;
  sc_chat_msg *cm = sc_xcalloc((size_t)n_msgs, sizeof *cm);
  for (int i = 0; i < n_msgs; i++) {
    cm[i].role = strcmp(msgs[i].role, "developer") == 0 ? "system" : msgs[i].role;
    cm[i].content = msgs[i].content ? msgs[i].content : "";
  }
  char *text = NULL;
  int rc = sc_chat_render(m->ct, cm, n_msgs, true, m->bos, m->eos, &text, e);
  free(cm);
  if (rc) return rc;
  rc = sc_tokenize(m->tok, text, strlen(text), false, true, ids, n, e);
  free(text);
  return rc;
}

static const char *token_bytes(void *ctx, int32_t id, size_t *len) {
  mc *m = ctx;
  return sc_token_bytes(m->tok, id, len);
}

static bool is_eog(void *ctx, int32_t id) {
  mc *m = ctx;
  return sc_tokenizer_is_eog(m->tok, id);
}

static void special_text(const sc_tokenizer *tok, int32_t id, char *buf, size_t cap) {
  size_t len = 0;
  const char *t = id >= 0 ? sc_token_text(tok, id, &len) : NULL;
  buf[0] = 0;
  if (t && len < cap) {
    memcpy(buf, t, len);
    buf[len] = 0;
  }
}

int sc_model_codec_init(sc_codec *out, const sc_tokenizer *tok, const char *template_name, sc_err *e) {
  mc *m = sc_xcalloc(1, sizeof *m);
  m->tok = tok;
  int rc = template_name ? sc_chat_template_by_name(template_name, &m->ct, e)
                         : sc_chat_template_detect(sc_tokenizer_chat_template(tok), &m->ct, e);
  if (rc) {
    free(m);
    return rc;
  }
  /* Only write a BOS into chat prompts when the model wants one. */
  if (sc_tokenizer_add_bos(tok)) special_text(tok, sc_tokenizer_bos(tok), m->bos, sizeof m->bos);
  special_text(tok, sc_tokenizer_eos(tok), m->eos, sizeof m->eos);
  out->ctx = m;
  out->encode_prompt = encode_prompt;
  out->encode_chat = encode_chat;
  out->token_bytes = token_bytes;
  out->is_eog = is_eog;
  return 0;
}

void sc_model_codec_fini(sc_codec *c) {
  if (!c) return;
  free(c->ctx);
  c->ctx = NULL;
}
