/* Unit tests for src/engine/model_codec.c: the server's codec over a real tokenizer and chat
 * template, on a byte-fallback SentencePiece vocabulary built in code. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "engine/model_codec.h"
#include "engine/vocab.h"

static void set_tok(sc_vocab *v, size_t i, const char *s, int type) {
  v->tokens[i] = sc_xstrdup(s);
  v->token_lens[i] = strlen(s);
  v->scores[i] = 0;
  v->token_types[i] = type;
}

/* <unk> <s> </s>, the 256 byte tokens and "▁": every text encodes through byte fallback. */
static sc_tokenizer *byte_tokenizer(void) {
  sc_vocab *v = sc_vocab_new(260, 0);
  snprintf(v->model, sizeof v->model, "llama");
  v->scores = calloc(v->n_tokens, sizeof *v->scores);
  v->token_types = calloc(v->n_tokens, sizeof *v->token_types);
  set_tok(v, 0, "<unk>", SC_TOKTYPE_UNKNOWN);
  set_tok(v, 1, "<s>", SC_TOKTYPE_CONTROL);
  set_tok(v, 2, "</s>", SC_TOKTYPE_CONTROL);
  for (int b = 0; b < 256; b++) {
    char buf[8];
    snprintf(buf, sizeof buf, "<0x%02X>", b);
    set_tok(v, 3 + (size_t)b, buf, SC_TOKTYPE_BYTE);
  }
  set_tok(v, 259, "\xE2\x96\x81", SC_TOKTYPE_NORMAL); /* "▁", the SentencePiece space */
  v->bos_id = 1;
  v->eos_id = 2;
  v->unk_id = 0;
  sc_tokenizer *t = NULL;
  sc_err e;
  cr_assert_eq(sc_tokenizer_from_vocab(v, &t, &e), 0, "%s", e.msg);
  sc_vocab_destroy(v);
  return t;
}

static void decode(const sc_codec *c, const int32_t *ids, int n, char *out, size_t cap) {
  size_t off = 0;
  for (int i = 0; i < n; i++) {
    size_t len;
    const char *b = c->token_bytes(c->ctx, ids[i], &len);
    cr_assert_lt(off + len, cap);
    memcpy(out + off, b, len);
    off += len;
  }
  out[off] = 0;
}

Test(model_codec, prompt_and_chat) {
  sc_tokenizer *t = byte_tokenizer();
  sc_codec c;
  sc_err e;
  cr_assert_eq(sc_model_codec_init(&c, t, "llama2", &e), 0, "%s", e.msg);
  int32_t *ids = NULL;
  int n = 0;
  char text[512];
  cr_assert_eq(c.encode_prompt(c.ctx, "hi", 2, &ids, &n, &e), 0, "%s", e.msg);
  cr_assert_eq(ids[0], 1, "BOS first");
  decode(&c, ids, n, text, sizeof text);
  cr_assert(strstr(text, "hi"), "'%s'", text);
  free(ids);
  sc_oai_message msgs[2] = {{.role = "developer", .content = "be brief"}, {.role = "user", .content = "hello"}};
  cr_assert_eq(c.encode_chat(c.ctx, msgs, 2, &ids, &n, &e), 0, "%s", e.msg);
  cr_assert_eq(ids[0], 1, "the template's <s> is the BOS token, not text");
  decode(&c, ids, n, text, sizeof text);
  cr_assert(strstr(text, "[INST]") && strstr(text, "be brief") && strstr(text, "hello"), "'%s'", text);
  free(ids);
  cr_assert(c.is_eog(c.ctx, 2), "</s> ends generation");
  cr_assert_not(c.is_eog(c.ctx, 100));
  sc_oai_message bad[1] = {{.role = "tool", .content = "x"}};
  cr_assert_neq(c.encode_chat(c.ctx, bad, 1, &ids, &n, &e), 0);
  cr_assert(e.msg[0]);
  sc_model_codec_fini(&c);
  sc_tokenizer_destroy(t);
}

Test(model_codec, unknown_template_needs_a_name) {
  sc_tokenizer *t = byte_tokenizer();
  sc_codec c;
  sc_err e;
  cr_assert_eq(sc_model_codec_init(&c, t, NULL, &e), SC_EINVAL);
  cr_assert(strstr(e.msg, "--chat-template"), "%s", e.msg);
  cr_assert_eq(sc_model_codec_init(&c, t, "vicuna", &e), SC_EINVAL);
  cr_assert_eq(sc_model_codec_init(&c, t, "chatml", &e), 0);
  sc_model_codec_fini(&c);
  sc_tokenizer_destroy(t);
}
