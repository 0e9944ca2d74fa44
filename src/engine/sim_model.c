/*
 * sim_model.c — the step-time model of the chip simulator and its filler vocabulary.
 *
 * step = max((weights + ctx_tokens x kv_bytes_per_token) / (eff_bw x bandwidth),
 *            2 x params x new_tokens / (eff_fl x flops))
 *        + step_overhead + n_seqs x seq_overhead
 * Decode steps are bandwidth-bound (weights plus every running sequence's KV cache are read once
 * per step); prefill steps are compute-bound over the prompt tokens of the step. The overhead
 * terms were fitted to the H100 row of the catalogue (docs/internals/engine-sim.md).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/sim.h"

#define GIB (1024.0 * 1024.0 * 1024.0)

int sc_sim_parse_params(const char *s, double *out, sc_err *e) {
  if (!s || !*s) return sc_err_set(e, SC_EINVAL, "invalid_flag", "--sim-params: empty");
  char *end = NULL;
  double v = strtod(s, &end);
  double mul = 1;
  if (end && *end) {
    if ((end[0] == 'B' || end[0] == 'b') && !end[1]) mul = 1e9;
    else if ((end[0] == 'M' || end[0] == 'm') && !end[1]) mul = 1e6;
    else if ((end[0] == 'T' || end[0] == 't') && !end[1]) mul = 1e12;
    else mul = 0;
  }
  if (end == s || mul == 0 || !isfinite(v))
    return sc_err_set(e, SC_EINVAL, "invalid_flag", "--sim-params: '%s' is not a parameter count (e.g. 7e9, 7B, 0.5B)",
                      s);
  v *= mul;
  if (v < 1e6 || v > 5e12)
    return sc_err_set(e, SC_EINVAL, "invalid_flag", "--sim-params: '%s' is outside 1M..5T parameters", s);
  *out = v;
  return 0;
}

/* Typical shapes of recent open models (grouped-query attention), by size. */
static const struct {
  double max_params;
  int layers, kv_heads, head_dim;
} shapes[] = {
    {0.75e9, 24, 2, 64},   /* Qwen2-0.5B */
    {2.2e9, 28, 2, 128},   /* Qwen2-1.5B */
    {4.5e9, 28, 8, 128},   /* Llama-3.2-3B */
    {10e9, 32, 8, 128},    /* Llama-3-8B, Qwen2.5-7B-like */
    {20e9, 48, 8, 128},    /* Qwen2.5-14B */
    {45e9, 64, 8, 128},    /* Qwen2.5-32B */
    {120e9, 80, 8, 128},   /* Llama-3-70B */
    {1e300, 126, 8, 128},  /* Llama-3.1-405B */
};

int sc_sim_model_init(sc_sim_model *m, const sc_chip *chip, double params, const char *dtype, sc_err *e) {
  memset(m, 0, sizeof *m);
  snprintf(m->chip, sizeof m->chip, "%s", chip->key);
  if (!dtype || !strcmp(dtype, "bf16") || !strcmp(dtype, "fp16")) m->bytes_per_param = 2;
  else if (!strcmp(dtype, "fp8") || !strcmp(dtype, "int8")) m->bytes_per_param = 1;
  else if (!strcmp(dtype, "int4")) m->bytes_per_param = 0.5625; /* 4 bits + group scales */
  else return sc_err_set(e, SC_EINVAL, "invalid_flag", "--sim-dtype: '%s' is not bf16, fp16, fp8, int8 or int4", dtype);
  if (chip->mem_bw_tbps <= 0 || chip->bf16_tflops <= 0)
    return sc_err_set(e, SC_EINVAL, "invalid_chip", "chip %s has no bandwidth or FLOP/s figure in the catalogue",
                      chip->key);
  m->params = params;
  m->weight_bytes = params * m->bytes_per_param;
  size_t i = 0;
  while (params > shapes[i].max_params) i++;
  m->n_layers = shapes[i].layers;
  m->n_kv_heads = shapes[i].kv_heads;
  m->head_dim = shapes[i].head_dim;
  m->kv_bytes_per_token = 2.0 * m->n_layers * m->n_kv_heads * m->head_dim * 2.0; /* K and V in bf16 */
  m->mem_bw = chip->mem_bw_tbps * 1e12;
  m->flops = chip->bf16_tflops * 1e12;
  m->eff_bw = !strcmp(chip->vendor, "nvidia") ? 0.75 : !strcmp(chip->vendor, "cpu") ? 0.6 : 0.55;
  m->eff_fl = 0.5;
  m->step_overhead_s = 0.85e-3;
  m->seq_overhead_s = 0.125e-3;
  m->max_batch = 256;
  m->max_prefill_tokens = 8192;
  /* The host-CPU row lists no memory (it is the host's RAM): assume 64 GiB. */
  m->memory_bytes = (chip->memory_gib > 0 ? chip->memory_gib : 64) * GIB;
  /* As vLLM: 90% of the memory for the engine, 1 GiB of it for activations, the rest KV. */
  double kv = 0.9 * m->memory_bytes - m->weight_bytes - 1.0 * GIB;
  m->kv_capacity_tokens = kv > 0 ? (int64_t)(kv / m->kv_bytes_per_token) : 0;
  if (m->kv_capacity_tokens < 256)
    return sc_err_set(e, SC_EINVAL, "does_not_fit",
                      "a %.3gB-parameter model in %s (%.1f GB of weights) does not fit %s's %.0f GiB with room for "
                      "a KV cache; try --sim-dtype fp8 or int4",
                      params / 1e9, dtype ? dtype : "bf16", m->weight_bytes / 1e9, chip->key, m->memory_bytes / GIB);
  return 0;
}

double sc_sim_step_seconds(const sc_sim_model *m, int n_seqs, int64_t ctx_tokens, int64_t new_tokens) {
  double mem = (m->weight_bytes + (double)ctx_tokens * m->kv_bytes_per_token) / (m->eff_bw * m->mem_bw);
  double comp = 2.0 * m->params * (double)new_tokens / (m->eff_fl * m->flops);
  return (mem > comp ? mem : comp) + m->step_overhead_s + n_seqs * m->seq_overhead_s;
}

double sc_sim_decode_tok_s(const sc_sim_model *m, int batch, int ctx) {
  return batch / sc_sim_step_seconds(m, batch, (int64_t)batch * ctx, batch);
}

double sc_sim_prefill_tok_s(const sc_sim_model *m, int n) {
  double t = 0;
  for (int done = 0; done < n;) {
    int chunk = n - done < m->max_prefill_tokens ? n - done : m->max_prefill_tokens;
    t += sc_sim_step_seconds(m, 1, done + chunk, chunk);
    done += chunk;
  }
  return n / t;
}

/* The filler text, cut into pieces; 算 and 池 are split inside their UTF-8 bytes on purpose so
 * clients see the server hold back partial characters. */
static const char *const filler[] = {
    " The", " simulated", " engine", " answers", " at", " the", " pace", " of", " the", " chip", ".",
    " \xE7\xAE", "\x97", "\xE6", "\xB1\xA0", " pools", " compute", " so", " every", " token", " costs", " less",
    ".", "\n"};
#define N_FILLER (sizeof filler / sizeof filler[0])
_Static_assert(N_FILLER == SC_SIM_FILLER_PIECES, "filler size");

const char *sc_sim_token_text(int32_t id, size_t *len) {
  const char *s = id >= 0 && id < SC_SIM_VOCAB ? filler[(size_t)id % N_FILLER] : "";
  *len = strlen(s);
  return s;
}

int sc_sim_count_tokens(const char *text, size_t len) {
  int n = 0;
  size_t run = 0;
  for (size_t i = 0; i <= len; i++) {
    unsigned char c = i < len ? (unsigned char)text[i] : 0;
    bool alnum = i < len && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'));
    if (alnum) {
      run++;
      continue;
    }
    n += (int)((run + 3) / 4);
    run = 0;
    if (i == len) break;
    if (c == '\n') n++;
    else if (c == ' ' || c == '\t' || c == '\r') continue;
    else if (c < 0x80 || (c & 0xC0) != 0x80) n++; /* punctuation, or the lead byte of a code point */
  }
  return n;
}
