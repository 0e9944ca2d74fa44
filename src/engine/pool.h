/*
 * pool.h — a fixed thread pool for data-parallel loops (matmuls, attention).
 *
 * sc_pool_for(p, n, fn, ctx) runs fn(ctx, task, ith) for task = 0..n-1 on the pool's threads
 * (the caller is thread 0 and takes part; ith < sc_pool_size identifies the thread for
 * per-thread scratch) and returns when all tasks are done. Tasks are claimed one by one from a
 * shared counter, so a thread the OS descheduled (the machine is shared) delays nobody: the
 * others take its share. Workers spin briefly before sleeping. One caller at a time.
 */
#ifndef SC_ENGINE_POOL_H
#define SC_ENGINE_POOL_H

typedef struct sc_pool sc_pool;

/* n_threads >= 1 (1: no worker threads). Aborts if a thread cannot be created. */
sc_pool *sc_pool_create(int n_threads);
void sc_pool_destroy(sc_pool *p);
int sc_pool_size(const sc_pool *p);
void sc_pool_for(sc_pool *p, int n_tasks, void (*fn)(void *ctx, int task, int ith), void *ctx);

#endif
