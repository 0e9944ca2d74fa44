/*
 * openb.c — replays an openb trace the way the FGD artifact's simulator does
 * (shared/design/fgd-method.md §1-6), driving the same sc_fleet the daemon uses.
 *
 * Steps (all randomness from one sc_rng seeded with the run's seed):
 *  1. fleet: the trace's GPU nodes sorted by name; tie-break ranks are a random permutation (the
 *     artifact's random "%04d-" name prefixes);
 *  2. workload: pods sorted by name (the sampling pool) and the typical tasks (shapes grouped by
 *     cpu, milli, num, spec; top shapes up to 95% of pods, renormalised; fixed for the run);
 *  3. arrivals: pods shuffled, then tuned to tune × GPU capacity: topped up by drawing from the
 *     pool with replacement (stopping at the first draw whose per-GPU milli would overshoot, the
 *     artifact's quirk) or trimmed by removing random pods;
 *  4. each step submits one pod; failures are dropped, nothing is ever deleted; after each step
 *     the arrived and allocated GPU milli are sampled into per-arrived-% buckets.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "sched/trace.h"

struct sc_openb {
  sc_fleet *fleet;
  sc_rng rng;
  const sc_trace_pod **order;
  int n, next, placed, failed;
  int64_t total_milli, arrived;
  double sum[SC_OPENB_MAXPCT + 2];
  long cnt[SC_OPENB_MAXPCT + 2];
};

static int cmp_node(const void *a, const void *b) {
  return strcmp((*(const sc_trace_node *const *)a)->name, (*(const sc_trace_node *const *)b)->name);
}

static int cmp_pod(const void *a, const void *b) {
  return strcmp((*(const sc_trace_pod *const *)a)->name, (*(const sc_trace_pod *const *)b)->name);
}

/* Typical-task order: count descending, then cpu, milli, num, spec descending. */
typedef struct shape {
  const sc_trace_pod *p;
  long count;
} shape;

static int cmp_shape_key(const sc_trace_pod *a, const sc_trace_pod *b) {
  if (a->cpu_milli != b->cpu_milli) return a->cpu_milli < b->cpu_milli ? -1 : 1;
  if (a->gpu_milli != b->gpu_milli) return a->gpu_milli < b->gpu_milli ? -1 : 1;
  if (a->num_gpu != b->num_gpu) return a->num_gpu < b->num_gpu ? -1 : 1;
  return strcmp(a->spec, b->spec);
}

static int cmp_pod_shape(const void *a, const void *b) {
  return cmp_shape_key(*(const sc_trace_pod *const *)a, *(const sc_trace_pod *const *)b);
}

static int cmp_shape(const void *a, const void *b) {
  const shape *x = a, *y = b;
  if (x->count != y->count) return x->count > y->count ? -1 : 1;
  return -cmp_shape_key(x->p, y->p);
}

static void set_workload(sc_fleet *f, const sc_trace *t) {
  const sc_trace_pod **v = sc_xmalloc((size_t)t->npods * sizeof *v);
  for (int i = 0; i < t->npods; i++) v[i] = &t->pods[i];
  qsort(v, (size_t)t->npods, sizeof *v, cmp_pod_shape);
  shape *sh = sc_xmalloc((size_t)t->npods * sizeof *sh);
  int ns = 0;
  for (int i = 0; i < t->npods; i++) {
    if (ns && cmp_shape_key(sh[ns - 1].p, v[i]) == 0) sh[ns - 1].count++;
    else sh[ns++] = (shape){v[i], 1};
  }
  qsort(sh, (size_t)ns, sizeof *sh, cmp_shape);
  sc_sched_task *tasks = sc_xmalloc((size_t)ns * sizeof *tasks);
  long cum = 0;
  int nt = 0;
  for (int i = 0; i < ns; i++) {
    const sc_trace_pod *p = sh[i].p;
    tasks[nt++] = (sc_sched_task){.cpu_milli = p->cpu_milli,
                                  .gpus = p->num_gpu,
                                  .gpu_milli = p->num_gpu ? p->gpu_milli : 0,
                                  .chips = p->spec,
                                  .weight = (double)sh[i].count};
    cum += sh[i].count;
    if ((double)cum >= 0.95 * t->npods) break;
  }
  sc_fleet_set_workload(f, tasks, nt, NULL);
  free(tasks);
  free(sh);
  free(v);
}

sc_openb *sc_openb_create(const sc_trace *t, sc_sched_policy p, uint64_t seed, double tune, sc_err *e) {
  sc_openb *s = sc_xcalloc(1, sizeof *s);
  s->fleet = sc_fleet_create(p);
  sc_rng_seed(&s->rng, seed);
  const sc_trace_node **nodes = sc_xmalloc((size_t)(t->nnodes ? t->nnodes : 1) * sizeof *nodes);
  int nn = 0;
  for (int i = 0; i < t->nnodes; i++)
    if (t->nodes[i].gpus > 0) nodes[nn++] = &t->nodes[i];
  qsort(nodes, (size_t)nn, sizeof *nodes, cmp_node);
  for (int i = 0; i < nn; i++) {
    sc_device_spec d[SC_SCHED_MAX_DEVS];
    for (int j = 0; j < nodes[i]->gpus; j++)
      d[j] = (sc_device_spec){.vendor = "openb", .chip = nodes[i]->model, .mem_mib = 0, .healthy = true};
    sc_node_spec ns = {.id = nodes[i]->name,
                       .cpu_milli = nodes[i]->cpu_milli,
                       .mem_mib = nodes[i]->mem_mib,
                       .owner_kind = SC_OWNER_SELF,
                       .schedulable = true};
    if (sc_fleet_add_node(s->fleet, &ns, d, nodes[i]->gpus, e)) goto fail;
    s->total_milli += 1000 * nodes[i]->gpus;
  }
  if (!nn || !t->npods) {
    sc_err_set(e, SC_EINVAL, "empty_trace", "the trace has %d GPU nodes and %d pods; both must be > 0", nn,
               t->npods);
    goto fail;
  }
  set_workload(s->fleet, t);

  /* pool sorted by name; arrivals = pool shuffled */
  const sc_trace_pod **pool = sc_xmalloc((size_t)t->npods * sizeof *pool);
  for (int i = 0; i < t->npods; i++) pool[i] = &t->pods[i];
  qsort(pool, (size_t)t->npods, sizeof *pool, cmp_pod);
  (void)sc_rng_next(&s->rng); /* the artifact spends one draw before shuffling */
  int cap = t->npods * 2 + 16, n = t->npods;
  s->order = sc_xmalloc((size_t)cap * sizeof *s->order);
  memcpy(s->order, pool, (size_t)n * sizeof *pool);
  for (int i = n - 1; i > 0; i--) {
    int j = (int)sc_rng_below(&s->rng, (uint64_t)i + 1);
    const sc_trace_pod *x = s->order[i];
    s->order[i] = s->order[j];
    s->order[j] = x;
  }
  int64_t total = 0, target = (int64_t)(tune * (double)s->total_milli);
  for (int i = 0; i < n; i++) total += (int64_t)s->order[i]->num_gpu * s->order[i]->gpu_milli;
  int64_t pool_gpu = 0;
  for (int i = 0; i < t->npods; i++) pool_gpu += pool[i]->gpu_milli;
  if (total < target && pool_gpu > 0) { /* (a pool of CPU-only pods could never reach the target) */
    for (;;) {
      const sc_trace_pod *x = pool[sc_rng_below(&s->rng, (uint64_t)t->npods)];
      if (total + x->gpu_milli > target) break;
      if (n == cap) {
        cap *= 2;
        s->order = sc_xrealloc(s->order, (size_t)cap * sizeof *s->order);
      }
      s->order[n++] = x;
      total += (int64_t)x->num_gpu * x->gpu_milli;
    }
  } else {
    while (total > target && n > 0) {
      int j = (int)sc_rng_below(&s->rng, (uint64_t)n);
      total -= (int64_t)s->order[j]->num_gpu * s->order[j]->gpu_milli;
      memmove(&s->order[j], &s->order[j + 1], (size_t)(n - j - 1) * sizeof *s->order);
      n--;
    }
  }
  s->n = n;
  free(pool);

  /* tie-break ranks: a random permutation of the name-sorted nodes */
  uint32_t *rank = sc_xmalloc((size_t)nn * sizeof *rank);
  for (int i = 0; i < nn; i++) rank[i] = (uint32_t)i;
  for (int i = nn - 1; i > 0; i--) {
    int j = (int)sc_rng_below(&s->rng, (uint64_t)i + 1);
    uint32_t x = rank[i];
    rank[i] = rank[j];
    rank[j] = x;
  }
  sc_fleet_set_ranks(s->fleet, rank);
  free(rank);
  free(nodes);
  return s;
fail:
  free(nodes);
  sc_openb_destroy(s);
  return NULL;
}

void sc_openb_destroy(sc_openb *s) {
  if (!s) return;
  sc_fleet_destroy(s->fleet);
  free(s->order);
  free(s);
}

int sc_openb_step(sc_openb *s) {
  if (s->next >= s->n) return 0;
  const sc_trace_pod *p = s->order[s->next++];
  sc_sched_req r = {.cpu_milli = p->cpu_milli,
                    .mem_mib = p->mem_mib,
                    .gpus = p->num_gpu,
                    .gpu_milli = p->num_gpu ? p->gpu_milli : 0,
                    .chips = p->spec,
                    .allow_pool = true};
  sc_sched_result res;
  if (sc_fleet_place(s->fleet, &r, &s->rng, 0, &res, NULL) == 0) s->placed++;
  else s->failed++;
  s->arrived += (int64_t)p->num_gpu * p->gpu_milli;
  /* arrive% = round(arrived / gpus / 10) (half to even, like Python), alloc% = used / gpus / 10 */
  double gpus = (double)s->total_milli / 1000.0;
  double apct = nearbyint((double)s->arrived / gpus / 10.0);
  int x = apct < 0 ? 0 : apct > SC_OPENB_MAXPCT + 1 ? SC_OPENB_MAXPCT + 1 : (int)apct;
  s->sum[x] += (double)sc_fleet_gpu_milli_used(s->fleet) / gpus / 10.0;
  s->cnt[x]++;
  return 1;
}

int sc_openb_npods(const sc_openb *s) { return s->n; }

void sc_openb_curve(const sc_openb *s, double curve[SC_OPENB_MAXPCT + 1]) {
  for (int x = 0; x <= SC_OPENB_MAXPCT; x++) {
    if (s->cnt[x]) {
      curve[x] = s->sum[x] / (double)s->cnt[x];
      continue;
    }
    double sum = 0;
    long cnt = 0;
    if (x > 0) sum += s->sum[x - 1], cnt += s->cnt[x - 1];
    sum += s->sum[x + 1], cnt += s->cnt[x + 1];
    curve[x] = cnt ? sum / (double)cnt : NAN;
  }
}

void sc_openb_counts(const sc_openb *s, int *placed, int *failed) {
  *placed = s->placed;
  *failed = s->failed;
}

sc_fleet *sc_openb_fleet(sc_openb *s) { return s->fleet; }
