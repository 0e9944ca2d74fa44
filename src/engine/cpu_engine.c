/*
 * cpu_engine.c — continuous batching over a GGUF model on the CPU (the engine.h back end).
 *
 * One worker thread runs steps. Each step, under the lock, it retires cancelled requests and
 * admits waiting ones (FIFO) while the batch has room and the KV cache has blocks; then, without
 * the lock, it runs one forward pass over every running sequence: one token for each decoding
 * sequence, and prompt chunks for prefilling ones (at most prefill_chunk prompt tokens per step
 * in all), samples, and calls back. Sequences join and leave the batch at every step.
 *
 * Request life:   waiting --admit--> running (prefill chunks ... then decode) --> done
 *                    |                   | cancel / eos / max_tokens / context full
 *                    +--cancel-----------+--> on_done (exactly once), blocks released
 *
 * KV cache: blocks of SC_KV_BLOCK tokens. Admission reserves every block the request can need
 * (prompt + max new tokens, capped by the context), so a running sequence never runs out; when
 * the cache cannot supply them the request waits (and so do those behind it: FIFO).
 *
 * Prefix cache: a full block is identified by a hash chain, h_i = H(h_{i-1}, its 16 tokens),
 * so equal hashes mean equal whole prefixes (tokens are also compared, so a collision can only
 * cost a miss). When a request finishes, its full blocks (prompt and generated tokens whose KV
 * was computed) enter the cache; at admission a request takes the longest run of cached blocks
 * matching its prompt (leaving at least its last prompt token to compute) and skips their
 * prefill. Blocks carry refcounts; cached blocks nobody uses sit in an LRU list and are evicted
 * (oldest first) only when free blocks run out. The forward pass is batch-invariant, so reused
 * KV is bit-identical to recomputed KV.
 *
 * Sleep: the worker parks between steps and unmaps the weights; wake maps them again (re-checked)
 * and the worker resumes; requests submitted meanwhile wait. KV contents are kept.
 */
#include "engine/cpu_engine.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"
#include "engine/model.h"
#include "engine/sampler.h"

#define BS SC_KV_BLOCK

typedef struct req {
  struct req *next;
  uint64_t id;
  int32_t *toks; /* prompt then generated tokens */
  int n_prompt, n_gen, max_new;
  sc_gen_params params;
  void (*on_token)(void *, int32_t);
  void (*on_done)(void *, const sc_gen_result *);
  void *ud;
  int32_t *blocks;
  int n_blocks;
  int n_cached, n_done; /* prompt tokens reused / with KV computed */
  bool cancelled;
  sc_finish finish;
  char error[256];
  sc_rng rng;
} req;

typedef struct cpu_engine {
  sc_engine base;
  sc_model *m;
  sc_kvcache *kv;
  int parallel, prefill_chunk, n_blocks;
  pthread_t th;
  pthread_mutex_t mu;
  pthread_cond_t cv;     /* worker waits for work / wake */
  pthread_cond_t slept;  /* sleep() waits for the worker to park */
  bool stop, want_sleep, asleep;
  req *wait_head, *wait_tail;
  req **running;
  int n_running;
  uint64_t next_id;
  bool *eog; /* end-of-generation tokens */
  /* block manager (worker thread and submit's size check only; guarded by mu) */
  int *rc;
  bool *cached;
  uint64_t *hash, *parent;
  int32_t *btoks;          /* n_blocks x BS tokens of cached blocks */
  int *lru_prev, *lru_next; /* list of cached, unreferenced blocks; head = most recent */
  int lru_head, lru_tail, n_lru;
  int *free_stack, n_free;
  int *bucket, *chain, n_bucket; /* hash table: bucket -> block, chain -> next block */
  sc_engine_stats st;
} cpu_engine;

/* ---- block manager ---- */

static uint64_t mix(uint64_t h, uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
  h *= 0xbf58476d1ce4e5b9ull;
  return h ^ (h >> 31);
}

static uint64_t block_hash(uint64_t parent, const int32_t *t) {
  uint64_t h = mix(parent, 0x51ed2701u);
  for (int i = 0; i < BS; i++) h = mix(h, (uint32_t)t[i]);
  return h;
}

static void lru_remove(cpu_engine *g, int b) {
  int p = g->lru_prev[b], n = g->lru_next[b];
  if (p >= 0) g->lru_next[p] = n; else g->lru_head = n;
  if (n >= 0) g->lru_prev[n] = p; else g->lru_tail = p;
  g->n_lru--;
}

static void lru_push(cpu_engine *g, int b) {
  g->lru_prev[b] = -1;
  g->lru_next[b] = g->lru_head;
  if (g->lru_head >= 0) g->lru_prev[g->lru_head] = b; else g->lru_tail = b;
  g->lru_head = b;
  g->n_lru++;
}

static void table_remove(cpu_engine *g, int b) {
  int *pp = &g->bucket[g->hash[b] & (uint64_t)(g->n_bucket - 1)];
  while (*pp >= 0 && *pp != b) pp = &g->chain[*pp];
  if (*pp == b) *pp = g->chain[b];
  g->cached[b] = false;
}

static int table_find(cpu_engine *g, uint64_t h, uint64_t parent, const int32_t *t) {
  for (int b = g->bucket[h & (uint64_t)(g->n_bucket - 1)]; b >= 0; b = g->chain[b])
    if (g->hash[b] == h && g->parent[b] == parent && memcmp(g->btoks + (size_t)b * BS, t, BS * sizeof *t) == 0) return b;
  return -1;
}

static void table_add(cpu_engine *g, int b, uint64_t h, uint64_t parent, const int32_t *t) {
  g->hash[b] = h;
  g->parent[b] = parent;
  memcpy(g->btoks + (size_t)b * BS, t, BS * sizeof *t);
  int *bk = &g->bucket[h & (uint64_t)(g->n_bucket - 1)];
  g->chain[b] = *bk;
  *bk = b;
  g->cached[b] = true;
}

static int block_alloc(cpu_engine *g) {
  if (g->n_free > 0) return g->free_stack[--g->n_free];
  int b = g->lru_tail; /* evict the least recently used cached block */
  lru_remove(g, b);
  table_remove(g, b);
  return b;
}

static void block_release(cpu_engine *g, int b) {
  if (--g->rc[b] > 0) return;
  if (g->cached[b]) lru_push(g, b);
  else g->free_stack[g->n_free++] = b;
}

static int blocks_needed(const cpu_engine *g, int n_prompt, int max_new) {
  int64_t n = (int64_t)n_prompt + max_new;
  if (n > g->base.n_ctx) n = g->base.n_ctx;
  return (int)((n + BS - 1) / BS);
}

/* Reserves r's blocks, reusing cached prefix blocks. False when the cache cannot supply them. */
static bool admit(cpu_engine *g, req *r) {
  int need = blocks_needed(g, r->n_prompt, r->max_new);
  int full = (r->n_prompt - 1) / BS, matched = 0;
  uint64_t h = 0;
  r->blocks = sc_xmalloc((size_t)need * sizeof *r->blocks);
  for (int i = 0; i < full; i++) {
    uint64_t nh = block_hash(h, r->toks + (size_t)i * BS);
    int b = table_find(g, nh, h, r->toks + (size_t)i * BS);
    if (b < 0) break;
    if (g->rc[b]++ == 0) lru_remove(g, b);
    r->blocks[matched++] = b;
    h = nh;
  }
  if (need - matched > g->n_free + g->n_lru) {
    for (int i = 0; i < matched; i++) block_release(g, r->blocks[i]);
    free(r->blocks);
    r->blocks = NULL;
    return false;
  }
  for (int i = matched; i < need; i++) {
    int b = block_alloc(g);
    g->rc[b] = 1;
    r->blocks[i] = b;
  }
  r->n_blocks = need;
  r->n_cached = r->n_done = matched * BS;
  return true;
}

/* Caches r's full blocks whose KV is computed, then drops its references. */
static void retire_blocks(cpu_engine *g, req *r) {
  if (!r->blocks) return;
  int filled = r->n_done + (r->n_gen > 0 ? r->n_gen - 1 : 0);
  if (r->finish == SC_FINISH_ERROR) filled = 0;
  uint64_t h = 0;
  for (int i = 0; i < r->n_blocks; i++) {
    int b = r->blocks[i];
    if ((i + 1) * BS <= filled) {
      const int32_t *t = r->toks + (size_t)i * BS;
      uint64_t nh = block_hash(h, t);
      if (!g->cached[b] && table_find(g, nh, h, t) < 0) table_add(g, b, nh, h, t);
      h = nh;
    }
    block_release(g, b);
  }
  free(r->blocks);
  r->blocks = NULL;
}

static void req_free(req *r) {
  if (!r) return;
  free(r->toks);
  free(r->blocks);
  free(r);
}

static void finish(req *r, sc_finish f, int cached) {
  sc_gen_result res = {.finish = f, .prompt_tokens = r->n_prompt, .completion_tokens = r->n_gen, .cached_tokens = cached};
  if (f == SC_FINISH_ERROR) sc_strlcpy(res.error, r->error, sizeof res.error);
  r->on_done(r->ud, &res);
}

/* ---- the worker ---- */

static void *worker(void *arg) {
  cpu_engine *g = arg;
  const sc_model_info *in = sc_model_get_info(g->m);
  int V = in->n_vocab;
  sc_sampler_scratch ss;
  sc_sampler_scratch_init(&ss, V);
  sc_fwd_seq *seqs = sc_xcalloc((size_t)g->parallel, sizeof *seqs);
  req **batch = sc_xcalloc((size_t)g->parallel, sizeof *batch);
  float *logits = sc_xmalloc((size_t)g->parallel * (size_t)V * sizeof *logits);
  req **done = sc_xcalloc((size_t)g->parallel + 1, sizeof *done);
  for (;;) {
    int n_done = 0;
    req *gone = NULL; /* cancelled while waiting */
    pthread_mutex_lock(&g->mu);
    for (;;) {
      if (g->want_sleep && !g->asleep) {
        sc_model_unmap(g->m);
        g->asleep = true;
        g->st.sleeping = true;
        pthread_cond_broadcast(&g->slept);
      }
      if (g->stop) break;
      bool has_cancel = false;
      for (req *r = g->wait_head; r; r = r->next) has_cancel = has_cancel || r->cancelled;
      for (int i = 0; i < g->n_running; i++) has_cancel = has_cancel || g->running[i]->cancelled;
      if (!g->asleep && (g->n_running > 0 || g->wait_head)) break;
      if (has_cancel) break;
      pthread_cond_wait(&g->cv, &g->mu);
    }
    if (g->stop) {
      pthread_cond_broadcast(&g->slept); /* nobody may wait for a sleep that never comes */
      pthread_mutex_unlock(&g->mu);
      break;
    }
    /* retire cancelled waiting requests */
    for (req **pp = &g->wait_head; *pp;) {
      req *r = *pp;
      if (r->cancelled) {
        *pp = r->next;
        r->next = gone;
        gone = r;
        g->st.waiting--;
      } else {
        pp = &r->next;
      }
    }
    g->wait_tail = NULL;
    for (req *r = g->wait_head; r; r = r->next) g->wait_tail = r;
    /* retire cancelled running ones */
    for (int i = 0; i < g->n_running;) {
      req *r = g->running[i];
      if (r->cancelled) {
        r->finish = SC_FINISH_CANCELLED;
        retire_blocks(g, r);
        done[n_done++] = r;
        g->running[i] = g->running[--g->n_running];
      } else {
        i++;
      }
    }
    /* admit */
    while (!g->asleep && g->wait_head && g->n_running < g->parallel && admit(g, g->wait_head)) {
      req *r = g->wait_head;
      g->wait_head = r->next;
      if (!g->wait_head) g->wait_tail = NULL;
      r->next = NULL;
      g->running[g->n_running++] = r;
      g->st.waiting--;
      g->st.prefix_cache_hit_tokens += r->n_cached;
    }
    /* build the batch: decodes first, then prompt chunks within the budget */
    int nb = 0, budget = g->prefill_chunk;
    bool run = !g->asleep;
    for (int i = 0; run && i < g->n_running; i++) {
      req *r = g->running[i];
      if (r->n_done < r->n_prompt) continue;
      int pos = r->n_prompt + r->n_gen - 1;
      seqs[nb] = (sc_fwd_seq){.tokens = r->toks + pos, .n_tokens = 1, .pos = pos, .blocks = r->blocks,
                              .n_blocks = r->n_blocks, .logits = logits + (size_t)nb * V};
      batch[nb++] = r;
    }
    for (int i = 0; run && i < g->n_running && budget > 0; i++) {
      req *r = g->running[i];
      if (r->n_done >= r->n_prompt) continue;
      int n = r->n_prompt - r->n_done;
      if (n > budget) n = budget;
      budget -= n;
      bool last = r->n_done + n == r->n_prompt;
      seqs[nb] = (sc_fwd_seq){.tokens = r->toks + r->n_done, .n_tokens = n, .pos = r->n_done, .blocks = r->blocks,
                              .n_blocks = r->n_blocks, .logits = last ? logits + (size_t)nb * V : NULL};
      batch[nb++] = r;
    }
    g->st.running = g->n_running;
    if (nb) g->st.last_batch_size = nb;
    pthread_mutex_unlock(&g->mu);

    for (req *r = gone; r;) {
      req *nx = r->next;
      finish(r, SC_FINISH_CANCELLED, 0);
      req_free(r);
      r = nx;
    }
    for (int i = 0; i < n_done; i++) {
      finish(done[i], done[i]->finish, done[i]->n_cached);
      req_free(done[i]);
    }
    n_done = 0;
    if (nb == 0) continue;

    sc_err e = {0};
    int rc = sc_model_forward(g->m, g->kv, seqs, nb, &e);
    int64_t new_prompt = 0, new_gen = 0;
    for (int i = 0; i < nb; i++) {
      req *r = batch[i];
      if (rc) {
        r->finish = SC_FINISH_ERROR;
        sc_strlcpy(r->error, e.msg, sizeof r->error);
        done[n_done++] = r;
        continue;
      }
      if (r->n_done < r->n_prompt) {
        r->n_done += seqs[i].n_tokens;
        new_prompt += seqs[i].n_tokens;
      }
      if (!seqs[i].logits) continue;
      int32_t tok = sc_sample(seqs[i].logits, V, &r->params, &r->rng, &ss);
      if (g->eog[tok]) {
        r->finish = SC_FINISH_STOP;
        done[n_done++] = r;
        continue;
      }
      r->toks[r->n_prompt + r->n_gen++] = tok;
      new_gen++;
      r->on_token(r->ud, tok);
      if (r->n_gen >= r->max_new) {
        r->finish = SC_FINISH_LENGTH;
        done[n_done++] = r;
      }
    }
    pthread_mutex_lock(&g->mu);
    g->st.prompt_tokens_total += new_prompt;
    g->st.generation_tokens_total += new_gen;
    for (int i = 0; i < n_done; i++) {
      req *r = done[i];
      retire_blocks(g, r);
      for (int j = 0; j < g->n_running; j++)
        if (g->running[j] == r) {
          g->running[j] = g->running[--g->n_running];
          break;
        }
    }
    g->st.running = g->n_running;
    g->st.kv_blocks_used = g->n_blocks - g->n_free - g->n_lru;
    pthread_mutex_unlock(&g->mu);
    for (int i = 0; i < n_done; i++) {
      finish(done[i], done[i]->finish, done[i]->n_cached);
      req_free(done[i]);
    }
  }
  /* stopping: everything pending is cancelled */
  for (int i = 0; i < g->n_running; i++) {
    g->running[i]->finish = SC_FINISH_CANCELLED;
    finish(g->running[i], SC_FINISH_CANCELLED, g->running[i]->n_cached);
    req_free(g->running[i]);
  }
  g->n_running = 0;
  for (req *r = g->wait_head; r;) {
    req *nx = r->next;
    finish(r, SC_FINISH_CANCELLED, 0);
    req_free(r);
    r = nx;
  }
  g->wait_head = g->wait_tail = NULL;
  sc_sampler_scratch_fini(&ss);
  free(seqs);
  free(batch);
  free(logits);
  free(done);
  return NULL;
}

/* ---- ops ---- */

static int op_submit(sc_engine *eng, const sc_gen_request *q, uint64_t *id, sc_err *e) {
  cpu_engine *g = (cpu_engine *)eng;
  const sc_gen_params *p = &q->params;
  if (!q->prompt || q->n_prompt < 1) return sc_err_set(e, SC_EINVAL, "invalid_prompt", "the prompt is empty");
  if (q->n_prompt >= eng->n_ctx)
    return sc_err_set(e, SC_EINVAL, "context_length_exceeded",
                      "the prompt has %d tokens; the context is %d tokens (at least one must remain for the completion)",
                      q->n_prompt, eng->n_ctx);
  if (p->max_tokens < 1) return sc_err_set(e, SC_EINVAL, "invalid_max_tokens", "max_tokens must be at least 1");
  if (!(p->temperature >= 0 && p->temperature <= 100))
    return sc_err_set(e, SC_EINVAL, "invalid_temperature", "temperature must be between 0 and 100");
  if (!(p->top_p > 0 && p->top_p <= 1)) return sc_err_set(e, SC_EINVAL, "invalid_top_p", "top_p must be in (0, 1]");
  if (p->top_k < 0) return sc_err_set(e, SC_EINVAL, "invalid_top_k", "top_k must be 0 (off) or positive");
  if (!q->on_token || !q->on_done) return sc_err_set(e, SC_EINVAL, "invalid_request", "callbacks are required");
  for (int i = 0; i < q->n_prompt; i++)
    if (q->prompt[i] < 0 || q->prompt[i] >= eng->n_vocab)
      return sc_err_set(e, SC_EINVAL, "invalid_prompt", "prompt token %d is out of the vocabulary [0, %d)", q->prompt[i],
                        eng->n_vocab);
  int max_new = p->max_tokens;
  if (max_new > eng->n_ctx - q->n_prompt) max_new = eng->n_ctx - q->n_prompt;
  if (blocks_needed(g, q->n_prompt, max_new) > g->n_blocks)
    return sc_err_set(e, SC_EINVAL, "kv_cache_too_small", "the request needs %d KV blocks; the cache has %d",
                      blocks_needed(g, q->n_prompt, max_new), g->n_blocks);
  req *r = sc_xcalloc(1, sizeof *r);
  r->toks = sc_xmalloc((size_t)(q->n_prompt + max_new) * sizeof *r->toks);
  memcpy(r->toks, q->prompt, (size_t)q->n_prompt * sizeof *r->toks);
  r->n_prompt = q->n_prompt;
  r->max_new = max_new;
  r->params = *p;
  r->on_token = q->on_token;
  r->on_done = q->on_done;
  r->ud = q->ud;
  sc_rng_seed(&r->rng, p->seed);
  pthread_mutex_lock(&g->mu);
  r->id = ++g->next_id;
  if (g->wait_tail) g->wait_tail->next = r; else g->wait_head = r;
  g->wait_tail = r;
  g->st.waiting++;
  g->st.requests_total++;
  pthread_cond_signal(&g->cv);
  pthread_mutex_unlock(&g->mu);
  if (id) *id = r->id;
  return 0;
}

static void op_cancel(sc_engine *eng, uint64_t id) {
  cpu_engine *g = (cpu_engine *)eng;
  pthread_mutex_lock(&g->mu);
  for (req *r = g->wait_head; r; r = r->next)
    if (r->id == id) r->cancelled = true;
  for (int i = 0; i < g->n_running; i++)
    if (g->running[i]->id == id) g->running[i]->cancelled = true;
  pthread_cond_signal(&g->cv);
  pthread_mutex_unlock(&g->mu);
}

static void op_stats(sc_engine *eng, sc_engine_stats *out) {
  cpu_engine *g = (cpu_engine *)eng;
  pthread_mutex_lock(&g->mu);
  *out = g->st;
  out->kv_blocks_total = g->n_blocks;
  out->kv_blocks_used = g->n_blocks - g->n_free - g->n_lru;
  out->sleeping = g->asleep;
  pthread_mutex_unlock(&g->mu);
}

static int op_sleep(sc_engine *eng, sc_err *e) {
  cpu_engine *g = (cpu_engine *)eng;
  pthread_mutex_lock(&g->mu);
  g->want_sleep = true;
  pthread_cond_signal(&g->cv);
  while (!g->asleep && !g->stop) pthread_cond_wait(&g->slept, &g->mu);
  int rc = g->asleep ? 0 : sc_err_set(e, SC_ESTATE, "engine_stopping", "the engine is shutting down");
  pthread_mutex_unlock(&g->mu);
  return rc;
}

static int op_wake(sc_engine *eng, sc_err *e) {
  cpu_engine *g = (cpu_engine *)eng;
  int rc = 0;
  pthread_mutex_lock(&g->mu);
  if (g->asleep) {
    rc = sc_model_remap(g->m, e); /* the worker is parked: the model is ours */
    if (rc == 0) {
      g->asleep = g->want_sleep = false;
      g->st.sleeping = false;
      pthread_cond_signal(&g->cv);
    }
  }
  g->want_sleep = false;
  pthread_mutex_unlock(&g->mu);
  return rc;
}

static void op_destroy(sc_engine *eng) {
  cpu_engine *g = (cpu_engine *)eng;
  if (!g) return;
  pthread_mutex_lock(&g->mu);
  g->stop = true;
  pthread_cond_broadcast(&g->cv);
  pthread_mutex_unlock(&g->mu);
  pthread_join(g->th, NULL);
  sc_kvcache_destroy(g->kv);
  sc_model_free(g->m);
  pthread_mutex_destroy(&g->mu);
  pthread_cond_destroy(&g->cv);
  pthread_cond_destroy(&g->slept);
  void *arrs[] = {g->running, g->eog, g->rc, g->cached, g->hash, g->parent, g->btoks, g->lru_prev, g->lru_next,
                  g->free_stack, g->bucket, g->chain};
  for (size_t i = 0; i < sizeof arrs / sizeof arrs[0]; i++) free(arrs[i]);
  free(g);
}

static const sc_engine_ops OPS = {op_submit, op_cancel, op_stats, op_sleep, op_wake, op_destroy};

/* End-of-generation tokens: the model's eos plus the usual turn/text terminators it has. */
static void find_eog(cpu_engine *g, const char *path) {
  const sc_model_info *in = sc_model_get_info(g->m);
  g->eog = sc_xcalloc((size_t)in->n_vocab, sizeof *g->eog);
  if (in->eos_id >= 0) g->eog[in->eos_id] = true;
  sc_gguf *gg;
  sc_err e;
  if (sc_gguf_open(path, &gg, &e)) return;
  static const char *names[] = {"<|endoftext|>", "<|im_end|>", "<|eot_id|>", "<|end_of_text|>", "<|end|>", "</s>", NULL};
  size_t n = 0;
  sc_gguf_get_arr(gg, "tokenizer.ggml.tokens", NULL, &n);
  for (size_t i = 0; i < n && i < (size_t)in->n_vocab; i++) {
    const char *s;
    if (!sc_gguf_arr_str(gg, "tokenizer.ggml.tokens", i, &s, NULL)) continue;
    for (int k = 0; names[k]; k++)
      if (strcmp(s, names[k]) == 0) g->eog[i] = true;
  }
  sc_gguf_close(gg);
}

int sc_cpu_engine_create(const char *path, const sc_cpu_engine_opts *opts, sc_engine **out, sc_err *e) {
  *out = NULL;
  sc_cpu_engine_opts o = opts ? *opts : (sc_cpu_engine_opts){0};
  if (o.threads < 0 || o.threads > 1024 || o.n_ctx < 0 || o.parallel < 0 || o.parallel > 1024 || o.kv_blocks < 0 ||
      o.prefill_chunk < 0)
    return sc_err_set(e, SC_EINVAL, "bad_option", "engine options out of range (threads %d, ctx %d, parallel %d, kv blocks %d)",
                      o.threads, o.n_ctx, o.parallel, o.kv_blocks);
  if (o.threads == 0) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    o.threads = n > 0 ? (int)n : 1;
  }
  if (o.parallel == 0) o.parallel = 16;
  if (o.prefill_chunk == 0) o.prefill_chunk = 512;
  sc_model *m;
  int rc = sc_model_load(path, o.threads, &m, e);
  if (rc) return rc;
  const sc_model_info *in = sc_model_get_info(m);
  if (o.n_ctx == 0) o.n_ctx = in->n_ctx_train < 4096 ? in->n_ctx_train : 4096;
  if (o.n_ctx < 2 || o.n_ctx > (1 << 22)) {
    sc_model_free(m);
    return sc_err_set(e, SC_EINVAL, "bad_option", "context size %d is out of range [2, %d]", o.n_ctx, 1 << 22);
  }
  if (o.kv_blocks == 0) {
    int64_t toks = (int64_t)o.parallel * o.n_ctx;
    if (toks > 65536) toks = 65536;
    if (toks < o.n_ctx) toks = o.n_ctx;
    o.kv_blocks = (int)((toks + BS - 1) / BS);
  }
  cpu_engine *g = sc_xcalloc(1, sizeof *g);
  g->m = m;
  if ((rc = sc_kvcache_create(m, o.kv_blocks, &g->kv, e))) {
    sc_model_free(m);
    free(g);
    return rc;
  }
  g->base.ops = &OPS;
  g->base.n_ctx = o.n_ctx;
  g->base.n_vocab = in->n_vocab;
  g->base.eos_id = in->eos_id;
  g->parallel = o.parallel;
  g->prefill_chunk = o.prefill_chunk;
  int nb = g->n_blocks = o.kv_blocks;
  g->running = sc_xcalloc((size_t)o.parallel, sizeof *g->running);
  g->rc = sc_xcalloc((size_t)nb, sizeof *g->rc);
  g->cached = sc_xcalloc((size_t)nb, sizeof *g->cached);
  g->hash = sc_xcalloc((size_t)nb, sizeof *g->hash);
  g->parent = sc_xcalloc((size_t)nb, sizeof *g->parent);
  g->btoks = sc_xcalloc((size_t)nb * BS, sizeof *g->btoks);
  g->lru_prev = sc_xcalloc((size_t)nb, sizeof *g->lru_prev);
  g->lru_next = sc_xcalloc((size_t)nb, sizeof *g->lru_next);
  g->lru_head = g->lru_tail = -1;
  g->free_stack = sc_xcalloc((size_t)nb, sizeof *g->free_stack);
  for (int i = 0; i < nb; i++) g->free_stack[i] = nb - 1 - i;
  g->n_free = nb;
  for (g->n_bucket = 16; g->n_bucket < 2 * nb; g->n_bucket *= 2) {}
  g->bucket = sc_xmalloc((size_t)g->n_bucket * sizeof *g->bucket);
  for (int i = 0; i < g->n_bucket; i++) g->bucket[i] = -1;
  g->chain = sc_xcalloc((size_t)nb, sizeof *g->chain);
  g->st.kv_blocks_total = nb;
  find_eog(g, path);
  pthread_mutex_init(&g->mu, NULL);
  pthread_cond_init(&g->cv, NULL);
  pthread_cond_init(&g->slept, NULL);
  if (pthread_create(&g->th, NULL, worker, g) != 0) {
    sc_kvcache_destroy(g->kv);
    sc_model_free(m);
    free(g);
    return sc_err_set(e, SC_ENOMEM, "thread", "cannot start the engine's worker thread");
  }
  sc_info("engine", "loaded %s: %s, %d layers, vocab %d; ctx %d, parallel %d, %d KV blocks of %d tokens; kernels %s, %d threads",
          path, in->arch, in->n_layer, in->n_vocab, o.n_ctx, o.parallel, nb, BS, sc_model_kernels_name(m), o.threads);
  *out = &g->base;
  return 0;
}
