/*
 * policy.c — node scores of the placement policies and the fragmentation measure.
 *
 * The six paper policies follow the FGD artifact's score plugins (see
 * shared/design/fgd-method.md §4): integer scores in 0..100, higher wins, ties go to the node
 * with the lowest rank. "suanchi" (ours) is FGD's fragmentation gradient taken at full precision
 * (no sigmoid, no integer truncation, so small differences are not collapsed into ties that the
 * random rank then decides) with a best-fit tie-break on the compute left after placement.
 *
 * Fragmentation (FGD §5): for a node with idle compute s[0..G) (unhealthy devices count 0), CPU
 * left L, and a workload of tasks m with shares p_m, F = Σ p_m·frag(m) where frag is all idle
 * compute if m cannot run there (CPU-only task, chip not allowed, too few devices with ≥ k_m
 * idle, or L < cpu_m), else the idle compute of the devices with < k_m idle. Computed in
 * O(tasks + G) per state by walking the ascending s against tasks sorted by k.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "sched/internal.h"

#define MAX_SPEC_CPU 128000.0
#define MAX_SPEC_GPU 8000.0

/* ---- workload ---- */

static int cmp_wtask(const void *a, const void *b) {
  const wtask *x = a, *y = b;
  if (x->k != y->k) return x->k < y->k ? -1 : 1;
  if (x->cpu != y->cpu) return x->cpu < y->cpu ? -1 : 1;
  return x->num - y->num;
}

/* Whether chip c is in the '|'-separated list (keys or vendors, case-insensitive). */
static bool chip_listed(const sc_fleet *f, int c, const char *list) {
  if (!list || !*list) return true;
  const char *p = list;
  while (*p) {
    const char *q = strchr(p, '|');
    size_t n = q ? (size_t)(q - p) : strlen(p);
    if (n && ((strlen(f->chips.s[c]) == n && strncasecmp(f->chips.s[c], p, n) == 0) ||
              (strlen(f->chip_vendor[c]) == n && strncasecmp(f->chip_vendor[c], p, n) == 0)))
      return true;
    if (!q) break;
    p = q + 1;
  }
  return false;
}

static const sc_sched_task default_tasks[] = {
    {.gpus = 1, .gpu_milli = 250, .weight = 0.15}, {.gpus = 1, .gpu_milli = 500, .weight = 0.2},
    {.gpus = 1, .gpu_milli = 1000, .weight = 0.35}, {.gpus = 2, .gpu_milli = 1000, .weight = 0.1},
    {.gpus = 4, .gpu_milli = 1000, .weight = 0.1}, {.gpus = 8, .gpu_milli = 1000, .weight = 0.1}};

void sched_compile_workload(sc_fleet *f) {
  for (int c = 0; c < f->nwl; c++) free(f->wl[c].t);
  free(f->wl);
  f->nwl = f->chips.n;
  f->wl = sc_xcalloc((size_t)(f->nwl ? f->nwl : 1), sizeof *f->wl);
  const sc_sched_task *tasks = f->ntasks ? f->tasks : default_tasks;
  int ntasks = f->ntasks ? f->ntasks : (int)(sizeof default_tasks / sizeof default_tasks[0]);
  double total = 0, g = 0, c = 0;
  for (int i = 0; i < ntasks; i++) {
    total += tasks[i].weight;
    g += tasks[i].weight * tasks[i].gpus * (tasks[i].gpus ? tasks[i].gpu_milli : 0);
    c += tasks[i].weight * (double)tasks[i].cpu_milli;
  }
  f->gpu_per_cpu = c > 0 ? g / c : 1e9;
  double gw = 0, cw = 0;
  for (int i = 0; i < ntasks; i++)
    if (tasks[i].gpus) {
      gw += tasks[i].weight;
      if (f->ntasks && f->task_chips[i][0]) cw += tasks[i].weight;
    }
  /* λ by the share of chip-bound GPU tasks (see docs/internals/sched.md): 0.15 without any, 0.05 with
   * some, 0 (plain fgd) from a fifth on */
  double share = gw > 0 ? cw / gw : 0;
  f->strand_weight = share < 0.01 ? 0.15 : share < 0.2 ? 0.05 : 0;
  /* Scarcity of each chip for chip-bound tasks: the GPU demand of tasks that may only use some chips,
   * split evenly over the chips they allow, divided by the chip's share of the fleet's capacity. */
  double capt = 0, *cap = sc_xcalloc((size_t)(f->nwl ? f->nwl : 1), sizeof *cap);
  for (int n = 0; n < f->nnodes; n++)
    if (f->nodes[n].chip >= 0) {
      cap[f->nodes[n].chip] += 1000.0 * f->nodes[n].ndev;
      capt += 1000.0 * f->nodes[n].ndev;
    }
  for (int i = 0; f->ntasks && i < ntasks; i++) {
    if (!tasks[i].gpus || !f->task_chips[i][0]) continue;
    int k = 0;
    for (int c = 0; c < f->nwl; c++) k += cap[c] > 0 && chip_listed(f, c, f->task_chips[i]);
    for (int c = 0; c < f->nwl; c++)
      if (k && cap[c] > 0 && chip_listed(f, c, f->task_chips[i]))
        f->wl[c].scarce += tasks[i].weight / total * tasks[i].gpus * tasks[i].gpu_milli / k / (cap[c] / capt);
  }
  free(cap);
  for (int c = 0; c < f->nwl; c++) {
    wlist *w = &f->wl[c];
    w->t = sc_xcalloc((size_t)ntasks, sizeof *w->t);
    double gsum = 0, csum = 0;
    for (int i = 0; i < ntasks; i++) {
      const sc_sched_task *t = &tasks[i];
      double p = t->weight / total;
      const char *list = f->ntasks ? f->task_chips[i] : NULL;
      if (t->gpus == 0 || !chip_listed(f, c, list)) {
        w->w0 += p;
        continue;
      }
      gsum += p * t->gpus * t->gpu_milli;
      csum += p * (double)t->cpu_milli;
      int k = t->gpu_milli > 0 && t->gpu_milli < 1000 && t->gpus == 1 ? t->gpu_milli : 1000;
      /* merge equal shapes */
      int j;
      for (j = 0; j < w->n; j++)
        if (w->t[j].cpu == t->cpu_milli && w->t[j].k == k && w->t[j].num == t->gpus) break;
      if (j == w->n) w->t[w->n++] = (wtask){.cpu = t->cpu_milli, .k = k, .num = t->gpus, .p = 0};
      w->t[j].p += p;
    }
    qsort(w->t, (size_t)w->n, sizeof *w->t, cmp_wtask);
    w->gpu_per_cpu = csum > 0 ? gsum / csum : 1e9;
  }
  f->wl_dirty = false;
  f->epoch_ver++;
}

/* F for a state: s ascending (G values), T = Σ s, L = CPU left. */
static double frag_eval(const wlist *w, const int *s, int G, int T, int64_t L) {
  double F = w->w0 * T;
  int j = 0, acc = 0;
  for (int i = 0; i < w->n; i++) {
    const wtask *t = &w->t[i];
    while (j < G && s[j] < t->k) acc += s[j++];
    bool ok = G - j >= t->num && L >= t->cpu;
    F += t->p * (ok ? acc : T);
  }
  return F;
}

static void sort_small(int *s, int n) {
  for (int i = 1; i < n; i++) {
    int v = s[i], j = i - 1;
    while (j >= 0 && s[j] > v) {
      s[j + 1] = s[j];
      j--;
    }
    s[j + 1] = v;
  }
}

static int node_idle(const sc_fleet *f, int n, int *s) {
  const node *nd = &f->nodes[n];
  int T = 0;
  for (int i = 0; i < nd->ndev; i++) {
    s[i] = dev_idle(&f->devs[nd->dev0 + i]);
    T += s[i];
  }
  return T;
}

double sched_node_frag(sc_fleet *f, int n) {
  node *nd = &f->nodes[n];
  uint32_t v = f->hot[n].ver + f->epoch_ver;
  if (nd->frag_ver == v && v) return nd->frag;
  double F = 0;
  if (nd->chip >= 0) {
    int s[SC_SCHED_MAX_DEVS];
    int T = node_idle(f, n, s);
    sort_small(s, nd->ndev);
    F = frag_eval(&f->wl[nd->chip], s, nd->ndev, T, nd->cpu_free);
  }
  nd->frag = F;
  nd->frag_ver = v;
  return F;
}

/* ---- device choice ---- */

bool sched_dev_fits_share(const sc_fleet *f, const creq *q, int d) {
  const dev *x = &f->devs[d];
  return x->health == SC_SCHED_OK && x->free >= q->milli && x->free_mem >= q->gmem && x->mem >= q->mindev;
}

bool sched_dev_whole_free(const sc_fleet *f, int d) {
  const dev *x = &f->devs[d];
  return x->health == SC_SCHED_OK && x->free == 1000 && x->free_mem == x->mem;
}

int sched_pick_bestfit(const sc_fleet *f, const creq *q, int n) {
  const node *nd = &f->nodes[n];
  int best = -1, bestfree = 0;
  for (int i = 0; i < nd->ndev; i++) {
    int d = nd->dev0 + i;
    if (!sched_dev_fits_share(f, q, d)) continue;
    if (best < 0 || f->devs[d].free < bestfree) {
      best = i;
      bestfree = f->devs[d].free;
    }
  }
  return best;
}

/* ---- scores ---- */

static double sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

/* Fragmentation after placing q on node n: share requests on device i (pick), whole-device
 * requests on the lowest-index free devices, CPU-only requests leave the devices as they are. */
static double frag_after(sc_fleet *f, const creq *q, int n, int pick, int *T_after) {
  const node *nd = &f->nodes[n];
  int s[SC_SCHED_MAX_DEVS];
  int T = 0;
  int need = q->share ? 0 : q->gpus;
  for (int i = 0; i < nd->ndev; i++) {
    int d = nd->dev0 + i;
    s[i] = dev_idle(&f->devs[d]);
    if (q->share && i == pick) s[i] -= q->milli;
    else if (need && q->gpus && sched_dev_whole_free(f, d)) {
      s[i] = 0;
      need--;
    }
    T += s[i];
  }
  sort_small(s, nd->ndev);
  *T_after = T;
  return frag_eval(&f->wl[nd->chip], s, nd->ndev, T, nd->cpu_free - q->cpu);
}

static int node_idle_total(const sc_fleet *f, int n) {
  const node *nd = &f->nodes[n];
  int T = 0;
  for (int i = 0; i < nd->ndev; i++) T += dev_idle(&f->devs[nd->dev0 + i]);
  return T;
}

/* GPU compute on a node that its CPU cannot serve at the workload's GPU-per-CPU ratio for this
 * chip: T idle milli, L CPU milli left. suanchi penalises placements that increase it. */
static double strand(const wlist *w, double T, double L) {
  double s = T - L * w->gpu_per_cpu;
  return s > 0 ? s : 0;
}
/* fgd: ⌊100·σ(Δ/1000)⌋ with Δ = F(before) − F(after). suanchi: the same score of
 * Δ + λ·min(0, S(before) − S(after)) − [CPU-only] μ·G(after), S the CPU-stranded compute (strand above)
 * and G the node's idle compute: a placement that leaves GPUs without CPU to use them loses score, and a
 * CPU-only request prefers nodes whose GPUs are busy. λ = strand_weight; both terms are off when λ is 0. */
/* suanchi's μ: per milli of idle GPU compute left on the node, subtracted from a CPU-only request's Δ */
#define CPU_ONLY_IDLE_WEIGHT 0.1
/* suanchi's ν: per milli an unconstrained request takes, times the chip's scarcity (wlist.scarce) */
#define SCARCE_WEIGHT 1.0

static double score_fgd(sc_fleet *f, const creq *q, int n, int *pick, bool ours) {
  const node *nd = &f->nodes[n];
  if (nd->chip < 0) return 50; /* CPU-only node: nothing to fragment, σ(0) */
  const wlist *w = &f->wl[nd->chip];
  double F = sched_node_frag(f, n), lam = ours ? f->strand_weight : 0;
  double S0 = lam > 0 ? strand(w, node_idle_total(f, n), (double)nd->cpu_free) : 0;
  double L1 = (double)(nd->cpu_free - q->cpu);
  int Ta;
  if (!q->share) {
    double d = F - frag_after(f, q, n, -1, &Ta);
    if (lam > 0) d += lam * fmin(0, S0 - strand(w, Ta, L1));
    if (lam > 0 && !q->gpus) d -= CPU_ONLY_IDLE_WEIGHT * Ta; /* CPU-only: go where GPUs are busy */
    if (ours && q->gpus && !q->chips_text) d -= SCARCE_WEIGHT * w->scarce * q->gpus * q->milli / 1000.0;
    return floor(100.0 * sigmoid(d / 1000.0));
  }
  double best = -INFINITY;
  int seen[SC_SCHED_MAX_DEVS], nseen = 0;
  for (int i = 0; i < nd->ndev; i++) {
    int d = nd->dev0 + i;
    if (!sched_dev_fits_share(f, q, d)) continue;
    int v = f->devs[d].free;
    bool dup = false;
    for (int j = 0; j < nseen; j++) dup |= seen[j] == v;
    if (dup) continue; /* same idle value gives the same state; first index wins */
    seen[nseen++] = v;
    double delta = F - frag_after(f, q, n, i, &Ta);
    if (lam > 0) delta += lam * fmin(0, S0 - strand(w, Ta, L1));
    if (ours && !q->chips_text) delta -= SCARCE_WEIGHT * w->scarce * q->milli / 1000.0;
    double sc = floor(100.0 * sigmoid(delta / 1000.0));
    if (sc > best) {
      best = sc;
      *pick = i;
    }
  }
  return best;
}

static double score_dotprod(const sc_fleet *f, const creq *q, int n) {
  const node *nd = &f->nodes[n];
  double rg = q->gpus ? (double)q->gpus * q->milli : 0;
  double d = ((double)nd->cpu_free / MAX_SPEC_CPU) * ((double)q->cpu / MAX_SPEC_CPU) +
             ((double)node_idle_total(f, n) / MAX_SPEC_GPU) * (rg / MAX_SPEC_GPU);
  d /= 2;
  return floor(100.0 * (1 - d));
}

static double score_bestfit(const sc_fleet *f, const creq *q, int n) {
  const node *nd = &f->nodes[n];
  double rg = q->gpus ? (double)q->gpus * q->milli : 0;
  double left = 0.5 * (double)(nd->cpu_free - q->cpu) / MAX_SPEC_CPU +
                0.5 * ((double)node_idle_total(f, n) - rg) / MAX_SPEC_GPU;
  return floor(100.0 * (1 - left));
}

static double score_clustering(const sc_fleet *f, const creq *q, int n) {
  if (q->tag < 0) return 0;
  const node *nd = &f->nodes[n];
  int64_t G = node_idle_total(f, n);
  int64_t base;
  if (nd->tags[q->tag]) base = nd->ntags == 1 ? 75 : 50;
  else base = nd->ntags == 0 ? 25 : 0;
  return (double)(25 * (8000 - G) / 8000 + base);
}

static double score_packing(const sc_fleet *f, const creq *q, int n) {
  if (!q->gpus) return 0;
  const node *nd = &f->nodes[n];
  int nfree = 0;
  for (int i = 0; i < nd->ndev; i++) nfree += dev_idle(&f->devs[nd->dev0 + i]) == 1000;
  if (nfree == nd->ndev) {
    int s = 33 - nfree;
    return s > nfree ? s : nfree;
  }
  if (!q->share) { /* whole devices: every device used is a fully free one */
    int s = 50 - q->gpus;
    return s > 33 ? s : 33;
  }
  int i = sched_pick_bestfit(f, q, n);
  int idle = f->devs[nd->dev0 + i].free;
  if (idle == 1000) return 49;
  int s = 100 - (idle * 100 / 1000) / 10;
  return s > 50 ? s : 50;
}

double sched_score(sc_fleet *f, const creq *q, int n, int *pick) {
  *pick = -1;
  switch (f->policy) {
  case SC_POLICY_FGD:
    return score_fgd(f, q, n, pick, false);
  case SC_POLICY_SUANCHI:
    return score_fgd(f, q, n, pick, true);
  case SC_POLICY_DOTPROD:
    return score_dotprod(f, q, n);
  case SC_POLICY_BESTFIT:
    return score_bestfit(f, q, n);
  case SC_POLICY_CLUSTERING:
    return score_clustering(f, q, n);
  case SC_POLICY_PACKING:
    return score_packing(f, q, n);
  default:
    return 0;
  }
}
