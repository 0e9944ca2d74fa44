/*
 * sim_codec.c — the text side of simulate mode: no tokenizer exists, so prompt lengths are the
 * deterministic approximation sc_sim_count_tokens (plus one BOS token), chat prompts cost
 * 3 + sum(4 + content tokens) (a chat template's framing), and token ids decode to the
 * simulator's filler pieces. The ids themselves carry no meaning: only their count matters.
 */
#include <stdlib.h>

#include "base/util.h"
#include "engine/server.h"
#include "engine/sim.h"

static int make_ids(int n, int32_t **ids, int *out_n) {
  int32_t *v = sc_xmalloc((size_t)(n > 0 ? n : 1) * sizeof *v);
  for (int i = 0; i < n; i++) v[i] = i % SC_SIM_FILLER_PIECES;
  *ids = v;
  *out_n = n;
  return 0;
}

static int sim_encode_prompt(void *ctx, const char *text, size_t len, int32_t **ids, int *n, sc_err *e) {
  (void)ctx;
  (void)e;
  return make_ids(1 + sc_sim_count_tokens(text, len), ids, n);
}

static int sim_encode_chat(void *ctx, const sc_oai_message *msgs, int n_msgs, int32_t **ids, int *n, sc_err *e) {
  (void)ctx;
  (void)e;
  int total = 3;
  for (int i = 0; i < n_msgs; i++) {
    const char *c = msgs[i].content ? msgs[i].content : "";
    size_t len = 0;
    while (c[len]) len++;
    total += 4 + sc_sim_count_tokens(c, len);
  }
  return make_ids(total, ids, n);
}

static const char *sim_token_bytes(void *ctx, int32_t id, size_t *len) {
  (void)ctx;
  return sc_sim_token_text(id, len);
}

const sc_codec sc_sim_codec = {
    .ctx = NULL, .encode_prompt = sim_encode_prompt, .encode_chat = sim_encode_chat, .token_bytes = sim_token_bytes};
