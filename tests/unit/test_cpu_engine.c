/* Unit tests for src/engine/cpu_engine.c and sampler.c: batched greedy output equals solo
 * output, prefix cache reuse, admission control with a small KV cache, cancel, sleep/wake,
 * sampling determinism, bad requests. Tiny synthesized model. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/util.h"
#include "engine/cpu_engine.h"
#include "engine/gguf.h"
#include "engine/sampler.h"
#include "engine/synth.h"

typedef struct out {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int32_t toks[256];
  int n;
  bool done;
  sc_gen_result res;
  sc_engine *cancel_eng; /* cancel after cancel_after tokens */
  uint64_t id;
  int cancel_after;
} out;

static void on_token(void *ud, int32_t t) {
  out *o = ud;
  pthread_mutex_lock(&o->mu);
  if (o->n < 256) o->toks[o->n++] = t;
  bool c = o->cancel_eng && o->n == o->cancel_after;
  pthread_mutex_unlock(&o->mu);
  if (c) o->cancel_eng->ops->cancel(o->cancel_eng, o->id);
}

static void on_done(void *ud, const sc_gen_result *r) {
  out *o = ud;
  pthread_mutex_lock(&o->mu);
  cr_assert_not(o->done, "on_done called twice");
  o->res = *r;
  o->done = true;
  pthread_cond_broadcast(&o->cv);
  pthread_mutex_unlock(&o->mu);
}

static void out_init(out *o) {
  memset(o, 0, sizeof *o);
  pthread_mutex_init(&o->mu, NULL);
  pthread_cond_init(&o->cv, NULL);
}

static void out_wait(out *o) {
  pthread_mutex_lock(&o->mu);
  while (!o->done) pthread_cond_wait(&o->cv, &o->mu);
  pthread_mutex_unlock(&o->mu);
}

static char path[64];
static sc_engine *eng;

static void make_model(void) {
  snprintf(path, sizeof path, "/tmp/sc_engine_test_%d.gguf", (int)getpid());
  sc_synth_opts o = {.arch = "qwen2", .preset = "tiny", .type = SC_GGML_Q8_0, .seed = 3};
  sc_err e;
  cr_assert_eq(sc_synth_write(&o, path, &e), 0, "%s", e.msg);
}

static void start(int parallel, int kv_blocks, int n_ctx) {
  make_model();
  sc_cpu_engine_opts o = {.threads = 2, .parallel = parallel, .kv_blocks = kv_blocks, .n_ctx = n_ctx};
  sc_err e;
  cr_assert_eq(sc_cpu_engine_create(path, &o, &eng, &e), 0, "%s", e.msg);
}

static void stop(void) {
  if (eng) eng->ops->destroy(eng);
  eng = NULL;
  unlink(path);
}

static int32_t prompt[64];
static void fill_prompt(int n, int salt) {
  for (int i = 0; i < n; i++) prompt[i] = (int32_t)((i * 37 + salt * 101 + 5) % 1000);
}

static uint64_t submit(out *o, int n_prompt, int max_tokens, float temp, uint64_t seed) {
  sc_gen_request q = {.prompt = prompt, .n_prompt = n_prompt,
                      .params = {.max_tokens = max_tokens, .temperature = temp, .top_p = 1, .top_k = 0, .seed = seed},
                      .on_token = on_token, .on_done = on_done, .ud = o};
  uint64_t id;
  sc_err e;
  cr_assert_eq(eng->ops->submit(eng, &q, &id, &e), 0, "%s", e.msg);
  return id;
}

Test(cpu_engine, batch_of_16_matches_solo, .fini = stop) {
  start(16, 0, 256);
  out solo;
  out_init(&solo);
  fill_prompt(20, 0);
  submit(&solo, 20, 24, 0, 1);
  out_wait(&solo);
  cr_assert(solo.n > 0);
  cr_assert_eq(solo.res.completion_tokens, solo.n);
  cr_assert_eq(solo.res.prompt_tokens, 20);
  static out many[16];
  for (int i = 0; i < 16; i++) {
    out_init(&many[i]);
    int n = i == 5 ? 20 : 20 - (i % 7);
    fill_prompt(n, i == 5 ? 0 : i + 1);
    submit(&many[i], n, 24, 0, 1);
  }
  for (int i = 0; i < 16; i++) out_wait(&many[i]);
  cr_assert_eq(many[5].n, solo.n);
  cr_assert_eq(memcmp(many[5].toks, solo.toks, (size_t)solo.n * 4), 0, "greedy output differs in a batch of 16");
  sc_engine_stats st;
  eng->ops->stats(eng, &st);
  cr_assert_eq(st.requests_total, 17);
  cr_assert(st.last_batch_size >= 1);
  cr_assert_eq(st.running, 0);
  cr_assert_eq(st.waiting, 0);
}

Test(cpu_engine, prefix_cache_reuses_blocks, .fini = stop) {
  start(4, 0, 256);
  fill_prompt(40, 9);
  out a, b;
  out_init(&a);
  submit(&a, 40, 8, 0, 1);
  out_wait(&a);
  cr_assert_eq(a.res.cached_tokens, 0);
  out_init(&b);
  submit(&b, 40, 8, 0, 1);
  out_wait(&b);
  cr_assert_eq(b.res.cached_tokens, 32, "cached %d", b.res.cached_tokens); /* two full blocks; the last token is computed */
  cr_assert_eq(a.n, b.n);
  cr_assert_eq(memcmp(a.toks, b.toks, (size_t)a.n * 4), 0, "output changed with a cached prefix");
  /* a prompt extending a previous answer reuses the generated tokens' blocks too */
  out c;
  out_init(&c);
  int n = 40 + a.n;
  for (int i = 0; i < a.n; i++) prompt[40 + i] = a.toks[i];
  submit(&c, n, 4, 0, 1);
  out_wait(&c);
  cr_assert_geq(c.res.cached_tokens, 32);
  sc_engine_stats st;
  eng->ops->stats(eng, &st);
  cr_assert_geq(st.prefix_cache_hit_tokens, 64);
}

Test(cpu_engine, full_cache_queues_requests, .fini = stop) {
  start(8, 6, 128); /* 6 blocks = 96 tokens; each request needs 3 (20 + 20 tokens) */
  static out o[7];
  fill_prompt(20, 4);
  for (int i = 0; i < 7; i++) {
    out_init(&o[i]);
    submit(&o[i], 20, 20, 0, 1);
  }
  sc_engine_stats st;
  eng->ops->stats(eng, &st);
  cr_assert_leq(st.running, 2);
  for (int i = 0; i < 7; i++) out_wait(&o[i]);
  for (int i = 0; i < 7; i++) {
    cr_assert(o[i].res.finish == SC_FINISH_LENGTH || o[i].res.finish == SC_FINISH_STOP);
    cr_assert_eq(memcmp(o[i].toks, o[0].toks, (size_t)o[0].n * 4), 0);
  }
  eng->ops->stats(eng, &st);
  cr_assert_eq(st.kv_blocks_total, 6);
  cr_assert_eq(st.kv_blocks_used, 0);
  /* a request that can never fit is refused up front */
  sc_gen_request q = {.prompt = prompt, .n_prompt = 20, .params = {.max_tokens = 100, .top_p = 1}, .on_token = on_token,
                      .on_done = on_done, .ud = &o[0]};
  sc_err e;
  uint64_t id;
  cr_assert_eq(eng->ops->submit(eng, &q, &id, &e), SC_EINVAL);
  cr_assert(strstr(e.msg, "needs 8 KV blocks; the cache has 6"), "%s", e.msg);
}

Test(cpu_engine, bad_requests, .fini = stop) {
  start(2, 0, 64);
  out o;
  out_init(&o);
  fill_prompt(64, 1);
  sc_gen_request q = {.prompt = prompt, .n_prompt = 64, .params = {.max_tokens = 4, .top_p = 1}, .on_token = on_token,
                      .on_done = on_done, .ud = &o};
  sc_err e;
  uint64_t id;
  cr_assert_eq(eng->ops->submit(eng, &q, &id, &e), SC_EINVAL);
  cr_assert(strstr(e.msg, "the prompt has 64 tokens; the context is 64"), "%s", e.msg);
  q.n_prompt = 4;
  q.params.top_p = 0;
  cr_assert_eq(eng->ops->submit(eng, &q, &id, &e), SC_EINVAL);
  cr_assert(strstr(e.msg, "top_p"), "%s", e.msg);
  q.params.top_p = 1;
  q.params.temperature = -1;
  cr_assert_eq(eng->ops->submit(eng, &q, &id, &e), SC_EINVAL);
  cr_assert(strstr(e.msg, "temperature"), "%s", e.msg);
  q.params.temperature = 0;
  q.params.max_tokens = 0;
  cr_assert_eq(eng->ops->submit(eng, &q, &id, &e), SC_EINVAL);
  cr_assert(strstr(e.msg, "max_tokens"), "%s", e.msg);
  q.params.max_tokens = 4;
  prompt[2] = 5000;
  cr_assert_eq(eng->ops->submit(eng, &q, &id, &e), SC_EINVAL);
  cr_assert(strstr(e.msg, "token 5000 is out of the vocabulary"), "%s", e.msg);
  q.n_prompt = 0;
  cr_assert_eq(eng->ops->submit(eng, &q, &id, &e), SC_EINVAL);
  /* the engine still serves */
  fill_prompt(8, 1);
  submit(&o, 8, 3, 0, 1);
  out_wait(&o);
  cr_assert_eq(o.res.prompt_tokens, 8);
  /* a long generation is capped by the context */
  out l;
  out_init(&l);
  submit(&l, 8, 1000, 0, 1);
  out_wait(&l);
  cr_assert(l.res.finish == SC_FINISH_STOP || l.n == 64 - 8, "n %d", l.n);
}

Test(cpu_engine, cancel_and_destroy, .fini = stop) {
  start(2, 0, 256);
  out o;
  out_init(&o);
  fill_prompt(10, 2);
  o.cancel_eng = eng;
  o.cancel_after = 2;
  /* set id before tokens can arrive: the callback reads it under the lock */
  pthread_mutex_lock(&o.mu);
  o.id = submit(&o, 10, 200, 0.9f, 7);
  pthread_mutex_unlock(&o.mu);
  out_wait(&o);
  if (o.res.finish != SC_FINISH_STOP) cr_assert_eq(o.res.finish, SC_FINISH_CANCELLED);
  cr_assert_lt(o.n, 10);
  /* requests still pending at destroy end as cancelled */
  static out p[3];
  for (int i = 0; i < 3; i++) {
    out_init(&p[i]);
    submit(&p[i], 10, 200, 0.9f, (uint64_t)i);
  }
  eng->ops->destroy(eng);
  eng = NULL;
  for (int i = 0; i < 3; i++) {
    cr_assert(p[i].done);
    cr_assert(p[i].res.finish == SC_FINISH_CANCELLED || p[i].res.finish == SC_FINISH_STOP ||
              p[i].res.finish == SC_FINISH_LENGTH);
  }
}

Test(cpu_engine, sleep_and_wake, .fini = stop) {
  start(2, 0, 256);
  sc_err e;
  cr_assert_eq(eng->ops->sleep(eng, &e), 0);
  sc_engine_stats st;
  eng->ops->stats(eng, &st);
  cr_assert(st.sleeping);
  out o;
  out_init(&o);
  fill_prompt(10, 3);
  submit(&o, 10, 5, 0, 1);
  usleep(100 * 1000);
  pthread_mutex_lock(&o.mu);
  cr_assert_not(o.done, "served while asleep");
  pthread_mutex_unlock(&o.mu);
  cr_assert_eq(eng->ops->wake(eng, &e), 0, "%s", e.msg);
  out_wait(&o);
  eng->ops->stats(eng, &st);
  cr_assert_not(st.sleeping);
  cr_assert(o.n > 0 || o.res.finish == SC_FINISH_STOP);
  cr_assert_eq(eng->ops->wake(eng, &e), 0); /* waking an awake engine is fine */
}

Test(cpu_engine, sampling_is_deterministic_per_seed, .fini = stop) {
  start(4, 0, 256);
  fill_prompt(12, 5);
  out a, b, c;
  out_init(&a);
  out_init(&b);
  out_init(&c);
  submit(&a, 12, 16, 1.0f, 42);
  submit(&b, 12, 16, 1.0f, 42);
  submit(&c, 12, 16, 1.0f, 43);
  out_wait(&a);
  out_wait(&b);
  out_wait(&c);
  cr_assert_eq(a.n, b.n);
  cr_assert_eq(memcmp(a.toks, b.toks, (size_t)a.n * 4), 0);
}

Test(sampler, greedy_topk_topp) {
  float l[6] = {1, 5, 3, 5, -2, 0};
  sc_sampler_scratch s;
  sc_sampler_scratch_init(&s, 6);
  sc_rng r;
  sc_rng_seed(&r, 1);
  sc_gen_params p = {.max_tokens = 1, .temperature = 0, .top_p = 1};
  cr_assert_eq(sc_sample(l, 6, &p, &r, &s), 1); /* ties go to the lowest id */
  p.temperature = 1;
  p.top_k = 2;
  for (int i = 0; i < 200; i++) {
    int t = sc_sample(l, 6, &p, &r, &s);
    cr_assert(t == 1 || t == 3, "top_k=2 gave %d", t);
  }
  p.top_k = 0;
  p.top_p = 0.5f; /* ids 1 and 3 each hold ~0.46: the nucleus needs both */
  int seen[6] = {0};
  for (int i = 0; i < 400; i++) seen[sc_sample(l, 6, &p, &r, &s)]++;
  cr_assert(seen[1] > 0 && seen[3] > 0 && seen[0] + seen[2] + seen[4] + seen[5] == 0);
  p.top_p = 1;
  p.temperature = 100; /* nearly uniform: everything shows up */
  memset(seen, 0, sizeof seen);
  for (int i = 0; i < 2000; i++) seen[sc_sample(l, 6, &p, &r, &s)]++;
  for (int i = 0; i < 6; i++) cr_assert(seen[i] > 0);
  sc_sampler_scratch_fini(&s);
}

Test(cpu_engine, bad_model_and_options) {
  sc_engine *x;
  sc_err e;
  cr_assert_eq(sc_cpu_engine_create("/nonexistent/model.gguf", NULL, &x, &e), SC_ENOENT);
  cr_assert(strstr(e.msg, "/nonexistent/model.gguf"), "%s", e.msg);
  make_model();
  sc_cpu_engine_opts o = {.threads = -1};
  cr_assert_eq(sc_cpu_engine_create(path, &o, &x, &e), SC_EINVAL);
  unlink(path);
}

/* Unreferenced cached blocks are evicted (least recently used first) when free blocks run out. */
Test(cpu_engine, lru_eviction, .fini = stop) {
  start(1, 6, 96); /* 6 blocks; each request below needs 3 (33 + 8 tokens) and caches 2 */
  out o;
  int32_t first[33];
  fill_prompt(33, 1);
  memcpy(first, prompt, sizeof first);
  out_init(&o);
  submit(&o, 33, 8, 0, 1);
  out_wait(&o);
  out_init(&o);
  submit(&o, 33, 8, 0, 1);
  out_wait(&o);
  cr_assert_eq(o.res.cached_tokens, 32);
  for (int salt = 2; salt < 5; salt++) { /* three other prompts push the first one out */
    fill_prompt(33, salt);
    out_init(&o);
    submit(&o, 33, 8, 0, 1);
    out_wait(&o);
  }
  memcpy(prompt, first, sizeof first);
  out_init(&o);
  submit(&o, 33, 8, 0, 1);
  out_wait(&o);
  cr_assert_eq(o.res.cached_tokens, 0, "expected the first prompt's blocks to be evicted");
  sc_engine_stats st;
  eng->ops->stats(eng, &st);
  cr_assert_eq(st.kv_blocks_used, 0);
}
