/*
 * pool.c — thread pool with task claiming.
 *
 * State: `claim` packs (generation << 32 | next task). A run stores fn/ctx/n, then publishes a
 * new generation with next = 0. Threads claim tasks by CAS on claim, which fails once the
 * generation moved on or next reached n, so a late worker can never run a task of the wrong run;
 * fn/ctx are read only after a successful claim, when the run cannot have finished. A finished run
 * is closed (next = all ones) before fn/ctx/n change, so a stale claim can never succeed. `finished`
 * counts completed tasks; the caller returns when it reaches n. Idle workers spin for a short
 * while, then sleep on a condition variable (sleepers are counted so a run only signals when
 * someone sleeps).
 */
#include "engine/pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/util.h"

#define SPIN 4000

struct sc_pool {
  int n;
  pthread_t *th;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  _Atomic uint64_t claim;
  atomic_int finished;
  atomic_int sleepers;
  atomic_bool stop;
  atomic_int n_tasks;
  void (*fn)(void *, int, int);
  void *ctx;
};

typedef struct warg {
  sc_pool *p;
  int ith;
} warg;

static inline void cpu_relax(void) {
#if defined(__x86_64__)
  __builtin_ia32_pause();
#endif
}

/* Claims and runs tasks of generation gen until none are left. */
static void work(sc_pool *p, uint32_t gen, int ith) {
  uint64_t v = atomic_load_explicit(&p->claim, memory_order_acquire);
  for (;;) {
    if ((uint32_t)(v >> 32) != gen) return;
    uint32_t next = (uint32_t)v;
    if (next >= (uint32_t)atomic_load_explicit(&p->n_tasks, memory_order_relaxed)) return;
    if (!atomic_compare_exchange_weak_explicit(&p->claim, &v, v + 1, memory_order_acq_rel, memory_order_acquire)) continue;
    p->fn(p->ctx, (int)next, ith);
    atomic_fetch_add_explicit(&p->finished, 1, memory_order_release);
    v = atomic_load_explicit(&p->claim, memory_order_acquire);
  }
}

static void *worker(void *arg) {
  warg *w = arg;
  sc_pool *p = w->p;
  int ith = w->ith;
  free(w);
  uint32_t seen = 0;
  for (;;) {
    uint32_t g;
    int spins = 0;
    while ((g = (uint32_t)(atomic_load_explicit(&p->claim, memory_order_acquire) >> 32)) == seen) {
      if (atomic_load(&p->stop)) return NULL;
      if (++spins < SPIN) {
        cpu_relax();
        continue;
      }
      pthread_mutex_lock(&p->mu);
      atomic_fetch_add(&p->sleepers, 1);
      while ((uint32_t)(atomic_load(&p->claim) >> 32) == seen && !atomic_load(&p->stop)) pthread_cond_wait(&p->cv, &p->mu);
      atomic_fetch_sub(&p->sleepers, 1);
      pthread_mutex_unlock(&p->mu);
      spins = 0;
    }
    seen = g;
    work(p, g, ith);
  }
}

sc_pool *sc_pool_create(int n_threads) {
  sc_pool *p = sc_xcalloc(1, sizeof *p);
  p->n = n_threads < 1 ? 1 : n_threads;
  pthread_mutex_init(&p->mu, NULL);
  pthread_cond_init(&p->cv, NULL);
  p->th = sc_xcalloc((size_t)p->n, sizeof *p->th);
  for (int i = 1; i < p->n; i++) {
    warg *w = sc_xmalloc(sizeof *w);
    w->p = p;
    w->ith = i;
    if (pthread_create(&p->th[i], NULL, worker, w) != 0) {
      fprintf(stderr, "suanchi: cannot create a worker thread\n");
      abort();
    }
  }
  return p;
}

void sc_pool_destroy(sc_pool *p) {
  if (!p) return;
  pthread_mutex_lock(&p->mu);
  atomic_store(&p->stop, true);
  pthread_cond_broadcast(&p->cv);
  pthread_mutex_unlock(&p->mu);
  for (int i = 1; i < p->n; i++) pthread_join(p->th[i], NULL);
  pthread_mutex_destroy(&p->mu);
  pthread_cond_destroy(&p->cv);
  free(p->th);
  free(p);
}

int sc_pool_size(const sc_pool *p) { return p->n; }

void sc_pool_for(sc_pool *p, int n_tasks, void (*fn)(void *ctx, int task, int ith), void *ctx) {
  if (n_tasks <= 0) return;
  if (p->n == 1 || n_tasks == 1) {
    for (int i = 0; i < n_tasks; i++) fn(ctx, i, 0);
    return;
  }
  p->fn = fn;
  p->ctx = ctx;
  atomic_store_explicit(&p->n_tasks, n_tasks, memory_order_relaxed);
  atomic_store_explicit(&p->finished, 0, memory_order_relaxed);
  uint64_t v = atomic_load_explicit(&p->claim, memory_order_relaxed);
  uint32_t gen = (uint32_t)(v >> 32) + 1;
  atomic_store_explicit(&p->claim, (uint64_t)gen << 32, memory_order_release);
  if (atomic_load(&p->sleepers) > 0) {
    pthread_mutex_lock(&p->mu);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
  }
  work(p, gen, 0);
  int spins = 0;
  while (atomic_load_explicit(&p->finished, memory_order_acquire) < n_tasks) {
    if (++spins > SPIN) sched_yield();
    else cpu_relax();
  }
  /* Close the run before the next one rewrites n_tasks: a worker holding a stale claim word of
   * this run then fails its CAS instead of pairing it with the next run's task count. */
  atomic_store_explicit(&p->claim, ((uint64_t)gen << 32) | 0xFFFFFFFFu, memory_order_release);
}
