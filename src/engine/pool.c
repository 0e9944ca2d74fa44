/*
 * pool.c — thread pool: a generation counter announces work; workers spin on it for a short
 * while, then sleep on a condition variable; a done counter tells the caller all finished.
 */
#include "engine/pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/util.h"

#define SPIN 20000

struct sc_pool {
  int n;
  pthread_t *th;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  atomic_uint gen;
  atomic_int done;
  atomic_bool stop;
  void (*fn)(void *, int, int);
  void *ctx;
};

typedef struct warg {
  sc_pool *p;
  int ith;
} warg;

static void *worker(void *arg) {
  warg *w = arg;
  sc_pool *p = w->p;
  int ith = w->ith;
  free(w);
  unsigned seen = 0;
  for (;;) {
    unsigned g;
    int spins = 0;
    while ((g = atomic_load_explicit(&p->gen, memory_order_acquire)) == seen && !atomic_load(&p->stop)) {
      if (++spins < SPIN) {
#if defined(__x86_64__)
        __builtin_ia32_pause();
#endif
        continue;
      }
      pthread_mutex_lock(&p->mu);
      while (atomic_load(&p->gen) == seen && !atomic_load(&p->stop)) pthread_cond_wait(&p->cv, &p->mu);
      pthread_mutex_unlock(&p->mu);
    }
    if (atomic_load(&p->stop)) return NULL;
    seen = g;
    p->fn(p->ctx, ith, p->n);
    atomic_fetch_add_explicit(&p->done, 1, memory_order_acq_rel);
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

void sc_pool_run(sc_pool *p, void (*fn)(void *ctx, int ith, int nth), void *ctx) {
  if (p->n == 1) {
    fn(ctx, 0, 1);
    return;
  }
  p->fn = fn;
  p->ctx = ctx;
  atomic_store(&p->done, 0);
  pthread_mutex_lock(&p->mu);
  atomic_fetch_add_explicit(&p->gen, 1, memory_order_release);
  pthread_cond_broadcast(&p->cv);
  pthread_mutex_unlock(&p->mu);
  fn(ctx, 0, p->n);
  int spins = 0;
  while (atomic_load_explicit(&p->done, memory_order_acquire) < p->n - 1)
    if (++spins > SPIN) sched_yield();
}
