/*
 * pool.h — a fixed thread pool for data-parallel loops (matmuls, attention).
 *
 * sc_pool_run(p, fn, ctx) calls fn(ctx, ith, nth) on every thread (the caller is thread 0) and
 * returns when all have returned. Workers spin briefly before sleeping, since a forward pass
 * issues a few hundred short parallel sections. One caller at a time.
 */
#ifndef SC_ENGINE_POOL_H
#define SC_ENGINE_POOL_H

typedef struct sc_pool sc_pool;

/* n_threads >= 1 (1: no worker threads). Never fails (aborts on OOM / thread creation failure). */
sc_pool *sc_pool_create(int n_threads);
void sc_pool_destroy(sc_pool *p);
int sc_pool_size(const sc_pool *p);
void sc_pool_run(sc_pool *p, void (*fn)(void *ctx, int ith, int nth), void *ctx);

#endif
