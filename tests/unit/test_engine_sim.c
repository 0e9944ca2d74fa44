/* Unit tests for the chip simulator (src/engine/sim_model.c, sim_engine.c): parameter parsing,
 * the step-time model against the catalogue's H100 figures (driven with a fake clock: the core
 * returns step durations, the test adds them up), admission against the KV capacity. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chips/chips.h"
#include "engine/sim.h"

/* Stated tolerance of the calibration on the H100 row (docs/internals/engine-sim.md). */
#define TOL 0.05

static const sc_chip *chip(const char *key) {
  const sc_chip *c = sc_chips_find(sc_chips_global(), key);
  cr_assert_not_null(c, "%s", key);
  return c;
}

Test(sim, parse_params) {
  double v;
  sc_err e;
  cr_assert_eq(sc_sim_parse_params("7e9", &v, &e), 0);
  cr_assert_float_eq(v, 7e9, 1);
  cr_assert_eq(sc_sim_parse_params("7B", &v, &e), 0);
  cr_assert_float_eq(v, 7e9, 1);
  cr_assert_eq(sc_sim_parse_params("0.5b", &v, &e), 0);
  cr_assert_float_eq(v, 5e8, 1);
  cr_assert_eq(sc_sim_parse_params("500M", &v, &e), 0);
  cr_assert_float_eq(v, 5e8, 1);
  cr_assert_eq(sc_sim_parse_params("7000000000", &v, &e), 0);
  cr_assert_eq(sc_sim_parse_params("7X", &v, &e), SC_EINVAL);
  cr_assert(strstr(e.msg, "not a parameter count"), "%s", e.msg);
  cr_assert_eq(sc_sim_parse_params("", &v, &e), SC_EINVAL);
  cr_assert_eq(sc_sim_parse_params("12", &v, &e), SC_EINVAL);
  cr_assert(strstr(e.msg, "outside"), "%s", e.msg);
  cr_assert_eq(sc_sim_parse_params("BB", &v, &e), SC_EINVAL);
}

Test(sim, model_shape_and_errors) {
  sc_sim_model m;
  sc_err e;
  cr_assert_eq(sc_sim_model_init(&m, chip("H100-SXM-80GB"), 8e9, NULL, &e), 0, "%s", e.msg);
  cr_assert_float_eq(m.weight_bytes, 16e9, 1);
  cr_assert_float_eq(m.kv_bytes_per_token, 131072, 1e-6, "Llama-3-8B shape: 32 layers x 8 KV heads x 128");
  cr_assert_float_eq(m.eff_bw, 0.75, 1e-12);
  cr_assert_gt(m.kv_capacity_tokens, 400000);
  cr_assert_eq(sc_sim_model_init(&m, chip("H100-SXM-80GB"), 8e9, "int4", &e), 0);
  cr_assert_float_eq(m.weight_bytes, 4.5e9, 1);
  cr_assert_eq(sc_sim_model_init(&m, chip("Ascend-910B-64GB"), 8e9, "fp8", &e), 0);
  cr_assert_float_eq(m.eff_bw, 0.55, 1e-12);
  cr_assert_eq(sc_sim_model_init(&m, chip("H100-SXM-80GB"), 70e9, NULL, &e), SC_EINVAL);
  cr_assert(strstr(e.msg, "does not fit"), "%s", e.msg);
  cr_assert_eq(sc_sim_model_init(&m, chip("H100-SXM-80GB"), 8e9, "fp4", &e), SC_EINVAL);
  cr_assert(strstr(e.msg, "--sim-dtype"), "%s", e.msg);
}

/* Runs `batch` requests of 512 prompt + 1024 generated tokens through the core and returns the
 * aggregate decode tokens/s over the steps where all of them decode (mean context ~1024). */
static double measured_decode(const sc_sim_model *m, int batch) {
  sc_sim_core *c = sc_sim_core_create(m, 4096);
  sc_gen_params p = {.max_tokens = 1024, .temperature = 0, .top_p = 1};
  sc_err e;
  for (int i = 0; i < batch; i++) cr_assert_eq(sc_sim_core_submit(c, (uint64_t)i + 1, 512, &p, NULL, &e), 0);
  sc_sim_event *evs = NULL;
  size_t n = 0, cap = 0;
  double clock = 0, decode_time = 0;
  int64_t decode_tokens = 0;
  int done = 0, full_steps = 0;
  while (done < batch) {
    n = 0;
    double d = sc_sim_core_step(c, &evs, &n, &cap);
    cr_assert_gt(d, 0);
    clock += d;
    int toks = 0;
    for (size_t i = 0; i < n; i++) {
      if (evs[i].kind == SC_SIM_EV_TOKEN) toks++;
      else done++;
    }
    sc_engine_stats st;
    sc_sim_core_stats(c, &st);
    /* The first full step still finishes prompts: count the pure decode steps after it. */
    if (toks == batch && st.last_batch_size == batch && full_steps++) {
      decode_time += d;
      decode_tokens += toks;
    }
  }
  free(evs);
  sc_sim_core_destroy(c);
  cr_assert_gt(clock, decode_time);
  return decode_tokens / decode_time;
}

Test(sim, reproduces_the_catalogue_h100_decode_figures) {
  const sc_chip *h = chip("H100-SXM-80GB");
  sc_sim_model m;
  sc_err e;
  cr_assert_eq(sc_sim_model_init(&m, h, 8e9, "bf16", &e), 0);
  double b1 = measured_decode(&m, 1), b32 = measured_decode(&m, 32);
  cr_assert(b1 > h->decode_tok_s_7b_b1 * (1 - TOL) && b1 < h->decode_tok_s_7b_b1 * (1 + TOL), "b1 %.1f vs %.0f", b1,
            h->decode_tok_s_7b_b1);
  cr_assert(b32 > h->decode_tok_s_7b_b32 * (1 - TOL) && b32 < h->decode_tok_s_7b_b32 * (1 + TOL), "b32 %.1f vs %.0f",
            b32, h->decode_tok_s_7b_b32);
  double pf = sc_sim_prefill_tok_s(&m, 2048);
  cr_assert(pf > h->prefill_tok_s_7b * 0.9 && pf < h->prefill_tok_s_7b * 1.1, "prefill %.0f", pf);
  /* Decode is bandwidth-bound: a chip with half the bandwidth is about half as fast at b1. */
  sc_sim_model half = m;
  half.mem_bw /= 2;
  cr_assert_lt(sc_sim_decode_tok_s(&half, 1, 1024), 0.6 * sc_sim_decode_tok_s(&m, 1, 1024));
}

Test(sim, full_kv_cache_queues_requests) {
  sc_sim_model m;
  sc_err e;
  cr_assert_eq(sc_sim_model_init(&m, chip("H100-SXM-80GB"), 8e9, NULL, &e), 0);
  m.kv_capacity_tokens = 1000; /* room for two 400-token reservations */
  sc_sim_core *c = sc_sim_core_create(&m, 4096);
  sc_gen_params p = {.max_tokens = 300};
  for (int i = 0; i < 3; i++) cr_assert_eq(sc_sim_core_submit(c, (uint64_t)i + 1, 100, &p, NULL, &e), 0);
  sc_gen_params huge = {.max_tokens = 2000};
  cr_assert_eq(sc_sim_core_submit(c, 9, 100, &huge, NULL, &e), SC_EINVAL, "can never fit");
  cr_assert(strstr(e.msg, "KV"), "%s", e.msg);
  sc_gen_params toolong = {.max_tokens = 10};
  cr_assert_eq(sc_sim_core_submit(c, 10, 4090, &toolong, NULL, &e), SC_EINVAL);
  cr_assert(strstr(e.msg, "maximum context length"), "%s", e.msg);
  sc_sim_event *evs = NULL;
  size_t n = 0, cap = 0;
  sc_sim_core_step(c, &evs, &n, &cap);
  sc_engine_stats st;
  sc_sim_core_stats(c, &st);
  cr_assert_eq(st.running, 2);
  cr_assert_eq(st.waiting, 1, "the third waits for KV space");
  cr_assert_eq(st.kv_blocks_used, 50);
  /* Cancelling a running request frees its blocks; the waiting one is admitted next step. */
  n = 0;
  cr_assert(sc_sim_core_cancel(c, 1, &evs, &n, &cap));
  cr_assert_eq(n, 1);
  cr_assert_eq(evs[0].kind, SC_SIM_EV_DONE);
  cr_assert_eq(evs[0].res.finish, SC_FINISH_CANCELLED);
  cr_assert_not(sc_sim_core_cancel(c, 1, &evs, &n, &cap));
  n = 0;
  sc_sim_core_step(c, &evs, &n, &cap);
  sc_sim_core_stats(c, &st);
  cr_assert_eq(st.running, 2);
  cr_assert_eq(st.waiting, 0);
  n = 0;
  sc_sim_core_drain(c, &evs, &n, &cap);
  cr_assert_eq(n, 2);
  free(evs);
  sc_sim_core_destroy(c);
}

Test(sim, tokens_counts_and_filler) {
  cr_assert_eq(sc_sim_count_tokens("", 0), 0);
  cr_assert_eq(sc_sim_count_tokens("Hello there", 11), 4, "ceil(5/4) + ceil(5/4)");
  cr_assert_eq(sc_sim_count_tokens("a, b.", 5), 4);
  cr_assert_eq(sc_sim_count_tokens("算池\n", strlen("算池\n")), 3);
  size_t n;
  cr_assert_str_eq(sc_sim_token_text(0, &n), " The");
  cr_assert_eq(n, 4);
  sc_sim_token_text(-1, &n);
  cr_assert_eq(n, 0);
}

static int tokens_seen, dones_seen;
static sc_gen_result last;
static void tok(void *ud, int32_t t) {
  (void)ud;
  (void)t;
  __atomic_add_fetch(&tokens_seen, 1, __ATOMIC_SEQ_CST);
}
static void dn(void *ud, const sc_gen_result *r) {
  (void)ud;
  last = *r;
  __atomic_add_fetch(&dones_seen, 1, __ATOMIC_SEQ_CST);
}

Test(sim, engine_runs_requests_at_speed_zero) {
  sc_sim_config cfg = {.chip = chip("H100-SXM-80GB"), .params = 7e9, .time_scale = 0};
  sc_engine *eng;
  sc_err e;
  cr_assert_eq(sc_sim_engine_create(&cfg, &eng, &e), 0, "%s", e.msg);
  int32_t prompt[5] = {0};
  sc_gen_request r = {.prompt = prompt, .n_prompt = 5, .params = {.max_tokens = 7}, .on_token = tok, .on_done = dn};
  uint64_t id;
  cr_assert_eq(eng->ops->submit(eng, &r, &id, &e), 0);
  for (int i = 0; i < 5000 && !__atomic_load_n(&dones_seen, __ATOMIC_SEQ_CST); i++) {
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
  }
  cr_assert_eq(dones_seen, 1);
  cr_assert_eq(tokens_seen, 7);
  cr_assert_eq(last.finish, SC_FINISH_LENGTH);
  cr_assert_eq(last.prompt_tokens, 5);
  cr_assert_eq(last.completion_tokens, 7);
  /* Asleep, a request waits; destroy cancels it. */
  cr_assert_eq(eng->ops->sleep(eng, &e), 0);
  r.params.max_tokens = 3;
  cr_assert_eq(eng->ops->submit(eng, &r, &id, &e), 0);
  sc_engine_stats st;
  eng->ops->stats(eng, &st);
  cr_assert(st.sleeping);
  eng->ops->destroy(eng);
  cr_assert_eq(dones_seen, 2);
  cr_assert_eq(last.finish, SC_FINISH_CANCELLED);
}
