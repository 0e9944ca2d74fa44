/*
 * sim_engine.c — continuous batching over the step-time model (sc_sim_core) and the engine.h
 * back end that runs it on a worker thread.
 *
 * Core: `waiting` is a FIFO; a request is admitted into `running` when the batch has room and
 * the KV cache can hold its whole reservation (prompt + max_tokens, rounded up to 16-token
 * blocks), so a running sequence never runs out of KV and nothing is ever preempted; a full
 * cache simply keeps requests waiting. Each step prefills up to max_prefill_tokens prompt tokens
 * (chunked, in admission order) and decodes one token for every sequence whose prompt is done;
 * the step that finishes a prompt also yields its first token.
 *
 * Worker: under the lock it applies cancellations, runs one core step, then waits until the
 * step's end (a running deadline advanced by duration x time_scale; the wait releases the lock)
 * and delivers the events (callbacks without the lock). Cancellations are only applied by the worker, so a request's tokens always precede its
 * on_done and nothing follows it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "base/util.h"
#include "engine/sim.h"

#define BLOCK 16

typedef struct seq {
  uint64_t id;
  void *ud;
  int n_prompt, prefilled, generated, max_tokens, chunk;
  int64_t reserve; /* KV tokens reserved, a multiple of BLOCK */
  int start;       /* position in the filler cycle */
} seq;

struct sc_sim_core {
  sc_sim_model m;
  int n_ctx;
  seq **waiting, **running;
  size_t n_waiting, n_running, cap_waiting, cap_running;
  int64_t kv_used;
  int64_t prompt_total, gen_total, req_total;
  int last_batch;
};

sc_sim_core *sc_sim_core_create(const sc_sim_model *m, int n_ctx) {
  sc_sim_core *c = sc_xcalloc(1, sizeof *c);
  c->m = *m;
  c->n_ctx = n_ctx;
  return c;
}

void sc_sim_core_destroy(sc_sim_core *c) {
  if (!c) return;
  for (size_t i = 0; i < c->n_waiting; i++) free(c->waiting[i]);
  for (size_t i = 0; i < c->n_running; i++) free(c->running[i]);
  free(c->waiting);
  free(c->running);
  free(c);
}

static void push(seq ***arr, size_t *n, size_t *cap, seq *s) {
  if (*n == *cap) {
    *cap = *cap ? *cap * 2 : 16;
    *arr = sc_xrealloc(*arr, *cap * sizeof **arr);
  }
  (*arr)[(*n)++] = s;
}

static sc_sim_event *add_ev(sc_sim_event **evs, size_t *n, size_t *cap) {
  if (*n == *cap) {
    *cap = *cap ? *cap * 2 : 64;
    *evs = sc_xrealloc(*evs, *cap * sizeof **evs);
  }
  sc_sim_event *ev = &(*evs)[(*n)++];
  memset(ev, 0, sizeof *ev);
  return ev;
}

static void done_ev(seq *s, sc_finish f, sc_sim_event **evs, size_t *n, size_t *cap) {
  sc_sim_event *ev = add_ev(evs, n, cap);
  ev->kind = SC_SIM_EV_DONE;
  ev->id = s->id;
  ev->ud = s->ud;
  ev->res.finish = f;
  ev->res.prompt_tokens = s->n_prompt;
  ev->res.completion_tokens = s->generated;
}

int sc_sim_core_submit(sc_sim_core *c, uint64_t id, int n_prompt, const sc_gen_params *p, void *ud, sc_err *e) {
  if (n_prompt < 0 || p->max_tokens < 1)
    return sc_err_set(e, SC_EINVAL, "invalid_value", "a request needs max_tokens >= 1");
  if ((int64_t)n_prompt + p->max_tokens > c->n_ctx)
    return sc_err_set(e, SC_EINVAL, "context_length_exceeded",
                      "this model's maximum context length is %d tokens; the request has %d prompt tokens and asks "
                      "for %d more",
                      c->n_ctx, n_prompt, p->max_tokens);
  int64_t reserve = ((int64_t)n_prompt + p->max_tokens + BLOCK - 1) / BLOCK * BLOCK;
  if (reserve > c->m.kv_capacity_tokens)
    return sc_err_set(e, SC_EINVAL, "context_length_exceeded",
                      "the request needs %lld KV tokens, more than the simulated cache holds (%lld)", (long long)reserve,
                      (long long)c->m.kv_capacity_tokens);
  seq *s = sc_xcalloc(1, sizeof *s);
  s->id = id;
  s->ud = ud;
  s->n_prompt = n_prompt;
  s->max_tokens = p->max_tokens;
  s->reserve = reserve;
  s->start = p->temperature > 0 ? (int)(p->seed % SC_SIM_FILLER_PIECES) : 0;
  push(&c->waiting, &c->n_waiting, &c->cap_waiting, s);
  c->req_total++;
  return 0;
}

static bool remove_from(seq **arr, size_t *n, uint64_t id, seq **out) {
  for (size_t i = 0; i < *n; i++)
    if (arr[i]->id == id) {
      *out = arr[i];
      memmove(arr + i, arr + i + 1, (*n - i - 1) * sizeof *arr);
      (*n)--;
      return true;
    }
  return false;
}

bool sc_sim_core_cancel(sc_sim_core *c, uint64_t id, sc_sim_event **evs, size_t *n, size_t *cap) {
  seq *s = NULL;
  if (remove_from(c->running, &c->n_running, id, &s)) c->kv_used -= s->reserve;
  else if (!remove_from(c->waiting, &c->n_waiting, id, &s)) return false;
  done_ev(s, SC_FINISH_CANCELLED, evs, n, cap);
  free(s);
  return true;
}

void sc_sim_core_drain(sc_sim_core *c, sc_sim_event **evs, size_t *n, size_t *cap) {
  while (c->n_running) sc_sim_core_cancel(c, c->running[0]->id, evs, n, cap);
  while (c->n_waiting) sc_sim_core_cancel(c, c->waiting[0]->id, evs, n, cap);
}

double sc_sim_core_step(sc_sim_core *c, sc_sim_event **evs, size_t *n, size_t *cap) {
  /* Admission in FIFO order: the head waits until it fits (no overtaking, no starvation). */
  while (c->n_waiting && c->n_running < (size_t)c->m.max_batch &&
         c->kv_used + c->waiting[0]->reserve <= c->m.kv_capacity_tokens) {
    seq *s = c->waiting[0];
    memmove(c->waiting, c->waiting + 1, (c->n_waiting - 1) * sizeof *c->waiting);
    c->n_waiting--;
    c->kv_used += s->reserve;
    push(&c->running, &c->n_running, &c->cap_running, s);
  }
  if (!c->n_running) return 0;
  int budget = c->m.max_prefill_tokens, in_step = 0;
  int64_t ctx = 0, new_tokens = 0;
  for (size_t i = 0; i < c->n_running; i++) {
    seq *s = c->running[i];
    if (s->prefilled < s->n_prompt) {
      int chunk = s->n_prompt - s->prefilled < budget ? s->n_prompt - s->prefilled : budget;
      s->chunk = chunk;
      if (!chunk) continue;
      budget -= chunk;
      new_tokens += chunk;
      ctx += s->prefilled + chunk;
    } else {
      s->chunk = -1; /* decode */
      new_tokens += 1;
      ctx += s->n_prompt + s->generated;
    }
    in_step++;
  }
  c->last_batch = in_step;
  double dur = sc_sim_step_seconds(&c->m, in_step, ctx, new_tokens);
  size_t keep = 0;
  for (size_t i = 0; i < c->n_running; i++) {
    seq *s = c->running[i];
    bool emits = s->chunk < 0;
    if (s->chunk > 0) {
      s->prefilled += s->chunk;
      if (s->prefilled == s->n_prompt) {
        emits = true;
        c->prompt_total += s->n_prompt;
      }
    }
    if (emits) {
      sc_sim_event *ev = add_ev(evs, n, cap);
      ev->kind = SC_SIM_EV_TOKEN;
      ev->id = s->id;
      ev->ud = s->ud;
      ev->token = (int32_t)((s->start + s->generated) % SC_SIM_FILLER_PIECES);
      s->generated++;
      c->gen_total++;
      if (s->generated >= s->max_tokens) {
        done_ev(s, SC_FINISH_LENGTH, evs, n, cap);
        c->kv_used -= s->reserve;
        free(s);
        continue;
      }
    }
    c->running[keep++] = s;
  }
  c->n_running = keep;
  return dur;
}

void sc_sim_core_stats(const sc_sim_core *c, sc_engine_stats *out) {
  memset(out, 0, sizeof *out);
  out->prompt_tokens_total = c->prompt_total;
  out->generation_tokens_total = c->gen_total;
  out->requests_total = c->req_total;
  out->running = (int)c->n_running;
  out->waiting = (int)c->n_waiting;
  out->last_batch_size = c->last_batch;
  out->kv_blocks_total = (int)(c->m.kv_capacity_tokens / BLOCK);
  out->kv_blocks_used = (int)(c->kv_used / BLOCK);
}

/* ---- the engine.h back end ---- */

typedef struct cb {
  void (*on_token)(void *ud, int32_t token);
  void (*on_done)(void *ud, const sc_gen_result *res);
  void *ud;
} cb;

typedef struct sim_engine {
  sc_engine base;
  sc_sim_model model;
  sc_sim_core *core;
  double scale;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  pthread_t thread;
  bool stop, sleeping;
  uint64_t next_id;
  uint64_t *cancels;
  size_t n_cancels, cap_cancels;
} sim_engine;

static void deliver(sc_sim_event *evs, size_t n) {
  for (size_t i = 0; i < n; i++) {
    cb *k = evs[i].ud;
    if (evs[i].kind == SC_SIM_EV_TOKEN) {
      k->on_token(k->ud, evs[i].token);
    } else {
      k->on_done(k->ud, &evs[i].res);
      free(k);
    }
  }
}

static void wait_until(sim_engine *s, int64_t deadline_ns) {
  /* The condition variable uses CLOCK_MONOTONIC (see create). */
  while (!s->stop) {
    int64_t now = sc_mono_ns();
    if (now >= deadline_ns) break;
    struct timespec ts = {.tv_sec = deadline_ns / 1000000000, .tv_nsec = deadline_ns % 1000000000};
    pthread_cond_timedwait(&s->cv, &s->mu, &ts);
  }
}

static void *worker(void *arg) {
  sim_engine *s = arg;
  sc_sim_event *evs = NULL;
  size_t n = 0, cap = 0;
  int64_t next_ns = 0;
  pthread_mutex_lock(&s->mu);
  while (!s->stop) {
    n = 0;
    for (size_t i = 0; i < s->n_cancels; i++) sc_sim_core_cancel(s->core, s->cancels[i], &evs, &n, &cap);
    s->n_cancels = 0;
    double dur = s->sleeping ? 0 : sc_sim_core_step(s->core, &evs, &n, &cap);
    if (!n && dur <= 0) {
      pthread_cond_wait(&s->cv, &s->mu);
      next_ns = 0; /* idle: the next step starts from now */
      continue;
    }
    if (dur > 0 && s->scale > 0) {
      /* Steps run back to back on the simulated chip: pace against a running deadline so the time
       * spent delivering tokens overlaps the next step's wait. After idling or falling behind by
       * more than 20 ms (a loaded host), restart from now rather than bursting to catch up. */
      int64_t now = sc_mono_ns();
      if (next_ns < now - 20000000) next_ns = now;
      next_ns += (int64_t)(dur * s->scale * 1e9);
      wait_until(s, next_ns);
    }
    pthread_mutex_unlock(&s->mu);
    deliver(evs, n);
    pthread_mutex_lock(&s->mu);
  }
  pthread_mutex_unlock(&s->mu);
  free(evs);
  return NULL;
}

static int sim_submit(sc_engine *eng, const sc_gen_request *req, uint64_t *id, sc_err *e) {
  sim_engine *s = (sim_engine *)eng;
  cb *k = sc_xmalloc(sizeof *k);
  k->on_token = req->on_token;
  k->on_done = req->on_done;
  k->ud = req->ud;
  pthread_mutex_lock(&s->mu);
  uint64_t nid = ++s->next_id;
  int rc = sc_sim_core_submit(s->core, nid, req->n_prompt, &req->params, k, e);
  if (!rc) {
    *id = nid;
    pthread_cond_broadcast(&s->cv);
  }
  pthread_mutex_unlock(&s->mu);
  if (rc) free(k);
  return rc;
}

static void sim_cancel(sc_engine *eng, uint64_t id) {
  sim_engine *s = (sim_engine *)eng;
  pthread_mutex_lock(&s->mu);
  if (s->n_cancels == s->cap_cancels) {
    s->cap_cancels = s->cap_cancels ? s->cap_cancels * 2 : 16;
    s->cancels = sc_xrealloc(s->cancels, s->cap_cancels * sizeof *s->cancels);
  }
  s->cancels[s->n_cancels++] = id;
  pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->mu);
}

static void sim_stats(sc_engine *eng, sc_engine_stats *out) {
  sim_engine *s = (sim_engine *)eng;
  pthread_mutex_lock(&s->mu);
  sc_sim_core_stats(s->core, out);
  out->sleeping = s->sleeping;
  pthread_mutex_unlock(&s->mu);
}

static int sim_sleep(sc_engine *eng, sc_err *e) {
  (void)e;
  sim_engine *s = (sim_engine *)eng;
  pthread_mutex_lock(&s->mu);
  s->sleeping = true;
  pthread_mutex_unlock(&s->mu);
  return 0;
}

static int sim_wake(sc_engine *eng, sc_err *e) {
  (void)e;
  sim_engine *s = (sim_engine *)eng;
  pthread_mutex_lock(&s->mu);
  s->sleeping = false;
  pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->mu);
  return 0;
}

static void sim_destroy(sc_engine *eng) {
  sim_engine *s = (sim_engine *)eng;
  if (!s) return;
  pthread_mutex_lock(&s->mu);
  s->stop = true;
  pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->mu);
  pthread_join(s->thread, NULL);
  sc_sim_event *evs = NULL;
  size_t n = 0, cap = 0;
  sc_sim_core_drain(s->core, &evs, &n, &cap);
  deliver(evs, n);
  free(evs);
  sc_sim_core_destroy(s->core);
  free(s->cancels);
  pthread_cond_destroy(&s->cv);
  pthread_mutex_destroy(&s->mu);
  free(s);
}

static const sc_engine_ops sim_ops = {
    .submit = sim_submit, .cancel = sim_cancel, .stats = sim_stats,
    .sleep = sim_sleep,   .wake = sim_wake,     .destroy = sim_destroy,
};

int sc_sim_engine_create(const sc_sim_config *cfg, sc_engine **out, sc_err *e) {
  sim_engine *s = sc_xcalloc(1, sizeof *s);
  int rc = sc_sim_model_init(&s->model, cfg->chip, cfg->params, cfg->dtype, e);
  if (rc) {
    free(s);
    return rc;
  }
  if (cfg->max_batch > 0) s->model.max_batch = cfg->max_batch;
  if (cfg->eff_bw > 0) s->model.eff_bw = cfg->eff_bw;
  if (cfg->eff_fl > 0) s->model.eff_fl = cfg->eff_fl;
  s->base.ops = &sim_ops;
  s->base.n_ctx = cfg->n_ctx > 0 ? cfg->n_ctx : 4096;
  s->base.n_vocab = SC_SIM_VOCAB;
  s->base.eos_id = -1;
  s->scale = cfg->time_scale;
  s->core = sc_sim_core_create(&s->model, s->base.n_ctx);
  pthread_mutex_init(&s->mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&s->cv, &ca);
  pthread_condattr_destroy(&ca);
  if ((rc = pthread_create(&s->thread, NULL, worker, s)) != 0) {
    sc_sim_core_destroy(s->core);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
    return sc_err_set(e, -rc, "thread", "cannot start the simulator thread: %s", strerror(rc));
  }
  *out = &s->base;
  return 0;
}

const sc_sim_model *sc_sim_engine_model(const sc_engine *eng) { return &((const sim_engine *)eng)->model; }
