/*
 * fleet.c — the fleet: nodes and devices, placing and releasing requests, health changes, and
 * the counted explanation of why nodes were rejected.
 *
 * A decision scans every node once: filters (health, region, pool, chip, device size, spread,
 * CPU, memory, devices), then the policy's score (policy.c); the best (preference tier, score,
 * rank) wins. Scores depend only on the node's state and the request's shape, so they are cached
 * per request class ("sclass": same shape and constraints) and per node, stamped with the node's
 * version; a placement or release bumps one node's version, so the next decision of a class
 * recomputes only the nodes that changed since that class was last seen. Memory and spread do not
 * enter the cached value; they are checked on every scan.
 *
 * Invariants: node.cpu_free/mem_free and dev.free/free_mem equal capacity minus the live
 * allocations on them; used_milli is the sum of live allocations' compute; a node's ver changes
 * whenever anything a score reads changes (its devices, CPU, tags, health).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "sched/internal.h"

/* ---- interned strings ---- */

static uint64_t hash_str(const char *s) {
  uint64_t h = UINT64_C(1469598103934665603);
  for (; *s; s++) h = (h ^ (unsigned char)*s) * UINT64_C(1099511628211);
  return h;
}

int strtab_find(const strtab *t, const char *s) {
  if (!t->nslot || !s) return -1;
  size_t m = (size_t)t->nslot - 1;
  for (size_t i = hash_str(s) & m;; i = (i + 1) & m) {
    int v = t->slot[i];
    if (!v) return -1;
    if (strcmp(t->s[v - 1], s) == 0) return v - 1;
  }
}

static void strtab_index(strtab *t, int idx) {
  size_t m = (size_t)t->nslot - 1;
  size_t i = hash_str(t->s[idx]) & m;
  while (t->slot[i]) i = (i + 1) & m;
  t->slot[i] = idx + 1;
}

int strtab_add(strtab *t, const char *s) {
  int i = strtab_find(t, s);
  if (i >= 0) return i;
  if (t->n == t->cap) {
    t->cap = t->cap ? t->cap * 2 : 16;
    t->s = sc_xrealloc(t->s, (size_t)t->cap * sizeof *t->s);
  }
  sc_strlcpy(t->s[t->n], s, SC_SCHED_ID_MAX);
  t->n++;
  if ((t->n + 1) * 2 > t->nslot) {
    free(t->slot);
    t->nslot = t->nslot ? t->nslot * 2 : 32;
    while ((t->n + 1) * 2 > t->nslot) t->nslot *= 2;
    t->slot = sc_xcalloc((size_t)t->nslot, sizeof *t->slot);
    for (int j = 0; j < t->n; j++) strtab_index(t, j);
  } else {
    strtab_index(t, t->n - 1);
  }
  return t->n - 1;
}

void strtab_fini(strtab *t) {
  free(t->s);
  free(t->slot);
  memset(t, 0, sizeof *t);
}

/* ---- names and formatting ---- */

static const char *policy_names[SC_POLICY_COUNT] = {"random",   "dotprod", "gpu-clustering", "gpu-packing",
                                                    "best-fit", "fgd",     "suanchi"};

const char *sc_sched_policy_name(sc_sched_policy p) {
  return (unsigned)p < SC_POLICY_COUNT ? policy_names[p] : "?";
}

int sc_sched_policy_parse(const char *name, sc_sched_policy *out) {
  for (int i = 0; i < SC_POLICY_COUNT; i++)
    if (name && strcmp(name, policy_names[i]) == 0) {
      *out = (sc_sched_policy)i;
      return 0;
    }
  return SC_EINVAL;
}

const char *sc_sched_fmt_count(char *buf, size_t cap, long long n) {
  char tmp[32];
  snprintf(tmp, sizeof tmp, "%lld", n < 0 ? -n : n);
  size_t len = strlen(tmp), o = 0;
  char out[48];
  if (n < 0) out[o++] = '-';
  for (size_t i = 0; i < len; i++) {
    if (i && (len - i) % 3 == 0) out[o++] = ',';
    out[o++] = tmp[i];
  }
  out[o] = 0;
  snprintf(buf, cap, "%s", out);
  return buf;
}

static void fmt_mib(char *buf, size_t cap, int64_t mib) {
  if (mib % 1024 == 0) snprintf(buf, cap, "%lld GiB", (long long)(mib / 1024));
  else if (mib >= 1024) snprintf(buf, cap, "%.1f GiB", (double)mib / 1024.0);
  else snprintf(buf, cap, "%lld MiB", (long long)mib);
}

/* ---- lifecycle ---- */

sc_fleet *sc_fleet_create(sc_sched_policy p) {
  sc_fleet *f = sc_xcalloc(1, sizeof *f);
  f->policy = (unsigned)p < SC_POLICY_COUNT ? p : SC_POLICY_SUANCHI;
  f->wl_dirty = true;
  f->epoch_ver = 1;
  return f;
}

static void drop_classes(sc_fleet *f) {
  for (int i = 0; i < f->nclasses; i++) {
    free(f->classes[i].e);
  }
  free(f->classes);
  f->classes = NULL;
  f->nclasses = 0;
}

void sc_fleet_destroy(sc_fleet *f) {
  if (!f) return;
  drop_classes(f);
  for (int c = 0; c < f->nwl; c++) free(f->wl[c].t);
  free(f->wl);
  for (int i = 0; i < f->ndepv; i++) free(f->depv[i].nodes);
  free(f->depv);
  free(f->tasks);
  free(f->task_chips);
  free(f->nodes);
  free(f->hot);
  free(f->devs);
  free(f->allocs);
  free(f->freelist);
  free(f->chip_vendor);
  free(f->node_mark);
  free(f->owner_mark);
  free(f->scratch);
  strtab_fini(&f->ids);
  strtab_fini(&f->chips);
  strtab_fini(&f->regions);
  strtab_fini(&f->owners);
  strtab_fini(&f->deps);
  free(f);
}

sc_sched_policy sc_fleet_policy(const sc_fleet *f) { return f->policy; }

void sc_fleet_set_policy(sc_fleet *f, sc_sched_policy p) {
  if ((unsigned)p >= SC_POLICY_COUNT) return;
  f->policy = p;
  f->epoch_ver++;
}

static bool id_ok(const char *s, bool may_be_empty) {
  if (!s || !*s) return may_be_empty;
  return strlen(s) < SC_SCHED_ID_MAX;
}

int sc_fleet_add_node(sc_fleet *f, const sc_node_spec *n, const sc_device_spec *devs, int ndev, sc_err *e) {
  if (!n || !id_ok(n->id, false))
    return sc_err_set(e, SC_EINVAL, "invalid_node", "node id must be 1..%d bytes", SC_SCHED_ID_MAX - 1);
  if (!id_ok(n->region, true) || !id_ok(n->owner, true))
    return sc_err_set(e, SC_EINVAL, "invalid_node", "node %s: region and owner must be under %d bytes", n->id,
                      SC_SCHED_ID_MAX);
  if (strtab_find(&f->ids, n->id) >= 0)
    return sc_err_set(e, SC_EEXIST, "node_exists", "node %s already exists", n->id);
  if (n->cpu_milli < 0 || n->mem_mib < 0 || n->cpu_milli > INT64_C(1) << 40 || n->mem_mib > INT64_C(1) << 40)
    return sc_err_set(e, SC_EINVAL, "invalid_node", "node %s: CPU and memory must be non-negative and sane",
                      n->id);
  if (ndev < 0 || ndev > SC_SCHED_MAX_DEVS || (ndev && !devs))
    return sc_err_set(e, SC_EINVAL, "invalid_node", "node %s: %d devices (at most %d)", n->id, ndev,
                      SC_SCHED_MAX_DEVS);
  for (int i = 0; i < ndev; i++) {
    if (!devs[i].chip || !*devs[i].chip || strlen(devs[i].chip) >= SC_SCHED_ID_MAX)
      return sc_err_set(e, SC_EINVAL, "invalid_node", "node %s: device %d has no chip key", n->id, i);
    if (strcmp(devs[i].chip, devs[0].chip) != 0)
      return sc_err_set(e, SC_EINVAL, "invalid_node", "node %s: devices must all be one chip (%s and %s)", n->id,
                        devs[0].chip, devs[i].chip);
    if (devs[i].mem_mib < 0 || devs[i].mem_mib > INT64_C(1) << 30)
      return sc_err_set(e, SC_EINVAL, "invalid_node", "node %s: device %d memory out of range", n->id, i);
  }
  if (ndev && strtab_find(&f->chips, devs[0].chip) < 0 && f->chips.n >= MAX_CHIPS)
    return sc_err_set(e, SC_EINVAL, "too_many_chips", "node %s: more than %d chip models in one fleet", n->id,
                      MAX_CHIPS);
  if (f->nnodes == f->capnodes) {
    f->capnodes = f->capnodes ? f->capnodes * 2 : 64;
    f->nodes = sc_xrealloc(f->nodes, (size_t)f->capnodes * sizeof *f->nodes);
    f->hot = sc_xrealloc(f->hot, (size_t)f->capnodes * sizeof *f->hot);
    f->node_mark = sc_xrealloc(f->node_mark, (size_t)f->capnodes * sizeof *f->node_mark);
    f->scratch = sc_xrealloc(f->scratch, (size_t)f->capnodes * sizeof *f->scratch);
  }
  if (f->ndevs + ndev > f->capdevs) {
    while (f->ndevs + ndev > f->capdevs) f->capdevs = f->capdevs ? f->capdevs * 2 : 256;
    f->devs = sc_xrealloc(f->devs, (size_t)f->capdevs * sizeof *f->devs);
  }
  node *nd = &f->nodes[f->nnodes];
  memset(nd, 0, sizeof *nd);
  nd->cpu = nd->cpu_free = n->cpu_milli;
  nd->mem = nd->mem_free = n->mem_mib;
  nd->ndev = ndev;
  nd->dev0 = f->ndevs;
  nd->chip = -1;
  if (ndev) {
    int before = f->chips.n;
    nd->chip = strtab_add(&f->chips, devs[0].chip);
    if (f->chips.n != before) {
      f->chip_vendor = sc_xrealloc(f->chip_vendor, (size_t)f->chips.cap * sizeof *f->chip_vendor);
      sc_strlcpy(f->chip_vendor[nd->chip], devs[0].vendor ? devs[0].vendor : "", sizeof f->chip_vendor[0]);
      f->wl_dirty = true;
    }
  }
  nd->region = n->region && *n->region ? strtab_add(&f->regions, n->region) : -1;
  if (n->owner && *n->owner) {
    nd->owner = strtab_add(&f->owners, n->owner);
    f->owner_mark = sc_xrealloc(f->owner_mark, (size_t)f->owners.cap * sizeof *f->owner_mark);
    f->owner_mark[nd->owner] = 0;
  } else {
    nd->owner = -1;
  }
  nd->kind = (uint8_t)n->owner_kind;
  nd->schedulable = n->schedulable;
  nd->health = SC_SCHED_OK;
  f->hot[f->nnodes] = (hot){.ver = 1, .rank = (uint32_t)f->nnodes, .mem_free = n->mem_mib};
  for (int i = 0; i < ndev; i++) {
    dev *d = &f->devs[f->ndevs + i];
    d->free = 1000;
    d->mem = d->free_mem = devs[i].mem_mib;
    d->health = devs[i].healthy ? SC_SCHED_OK : SC_SCHED_UNHEALTHY;
  }
  f->ndevs += ndev;
  f->node_mark[f->nnodes] = 0;
  strtab_add(&f->ids, n->id);
  f->nnodes++;
  f->wl_dirty = true; /* chip capacities feed the workload's scarcity figures */
  drop_classes(f);    /* per-node arrays changed size */
  return 0;
}

int sc_fleet_set_workload(sc_fleet *f, const sc_sched_task *tasks, int n, sc_err *e) {
  if (n < 0 || (n && !tasks)) return sc_err_set(e, SC_EINVAL, "invalid_workload", "bad task count %d", n);
  for (int i = 0; i < n; i++) {
    const sc_sched_task *t = &tasks[i];
    if (!(t->weight > 0) || !isfinite(t->weight) || t->cpu_milli < 0 || t->gpus < 0 ||
        t->gpus > SC_SCHED_MAX_GPUS || (t->gpus && (t->gpu_milli < 1 || t->gpu_milli > 1000)) ||
        (t->gpus > 1 && t->gpu_milli != 1000) || (t->chips && strlen(t->chips) >= 256))
      return sc_err_set(e, SC_EINVAL, "invalid_workload", "task %d: bad shape or weight", i);
  }
  free(f->tasks);
  free(f->task_chips);
  f->tasks = n ? sc_xmalloc((size_t)n * sizeof *f->tasks) : NULL;
  f->task_chips = n ? sc_xcalloc((size_t)n, sizeof *f->task_chips) : NULL;
  for (int i = 0; i < n; i++) {
    f->tasks[i] = tasks[i];
    sc_strlcpy(f->task_chips[i], tasks[i].chips ? tasks[i].chips : "", sizeof f->task_chips[i]);
    f->tasks[i].chips = NULL;
  }
  f->ntasks = n;
  f->wl_dirty = true;
  return 0;
}

void sc_fleet_set_ranks(sc_fleet *f, const uint32_t *rank) {
  for (int i = 0; i < f->nnodes; i++) f->hot[i].rank = rank[i];
}

/* ---- requests ---- */

uint64_t sched_chip_mask(const sc_fleet *f, const char *list) {
  if (!list || !*list) return ~UINT64_C(0);
  uint64_t m = 0;
  const char *p = list;
  while (*p) {
    const char *q = strchr(p, '|');
    size_t n = q ? (size_t)(q - p) : strlen(p);
    for (int c = 0; c < f->chips.n && n; c++)
      if ((strlen(f->chips.s[c]) == n && strncasecmp(f->chips.s[c], p, n) == 0) ||
          (strlen(f->chip_vendor[c]) == n && strncasecmp(f->chip_vendor[c], p, n) == 0))
        m |= UINT64_C(1) << c;
    if (!q) break;
    p = q + 1;
  }
  return m;
}

static int compile_req(sc_fleet *f, const sc_sched_req *r, creq *q, sc_err *e) {
  memset(q, 0, sizeof *q);
  if (r->cpu_milli < 0 || r->mem_mib < 0 || r->gpu_mem_mib < 0 || r->min_dev_mem_mib < 0)
    return sc_err_set(e, SC_EINVAL, "invalid_request", "CPU, memory and device memory must not be negative");
  if (r->gpus < 0 || r->gpus > SC_SCHED_MAX_GPUS)
    return sc_err_set(e, SC_EINVAL, "invalid_request", "gpus must be 0..%d, got %d", SC_SCHED_MAX_GPUS, r->gpus);
  int milli = r->gpu_milli ? r->gpu_milli : 1000;
  if (r->gpus && (milli < 1 || milli > 1000))
    return sc_err_set(e, SC_EINVAL, "invalid_request", "gpu_milli must be 1..1000, got %d", r->gpu_milli);
  if (r->gpus > 1 && milli != 1000)
    return sc_err_set(e, SC_EINVAL, "invalid_request",
                      "a fraction (gpu_milli %d) is only possible on one device, not %d", milli, r->gpus);
  if (r->deployment && strlen(r->deployment) >= SC_SCHED_ID_MAX)
    return sc_err_set(e, SC_EINVAL, "invalid_request", "deployment name longer than %d bytes",
                      SC_SCHED_ID_MAX - 1);
  q->cpu = r->cpu_milli;
  q->mem = r->mem_mib;
  q->gpus = r->gpus;
  q->milli = r->gpus ? milli : 0;
  q->share = r->gpus == 1 && milli < 1000;
  q->gmem = r->gpus ? r->gpu_mem_mib : 0;
  q->mindev = r->gpus ? r->min_dev_mem_mib : 0;
  q->tag = !r->gpus ? -1 : q->share ? 0 : r->gpus;
  q->chipmask = sched_chip_mask(f, r->chips);
  q->chips_text = r->chips && *r->chips ? r->chips : NULL;
  q->region = -1;
  if (r->region && *r->region) {
    q->region = strtab_find(&f->regions, r->region);
    if (q->region < 0) q->region = -2;
    q->region_text = r->region;
  }
  q->strict = r->region_strict;
  q->pool = r->allow_pool || r->pool_only;
  q->pool_only = r->pool_only;
  q->dep = r->deployment && *r->deployment ? strtab_find(&f->deps, r->deployment) : -1;
  return 0;
}

enum {
  R_OK,
  R_DOWN,
  R_REGION,
  R_POOL,
  R_SELF,
  R_NOGPU,
  R_CHIP,
  R_DEVMEM,
  R_SPREAD,
  R_CPU,
  R_MEM,
  R_GPU,
  R_COUNT
};

/* First reason node n cannot take q. ever: judge against capacity (empty node), ignoring what is
 * allocated and temporary states (cordon, unhealthy); removed nodes and devices stay out.
 * shape_only: skip memory and spread (the checks outside the score cache). */
static int node_check(const sc_fleet *f, const creq *q, int n, bool ever, bool shape_only) {
  const node *nd = &f->nodes[n];
  if (nd->health == SC_SCHED_REMOVED || (!ever && (nd->health != SC_SCHED_OK || !nd->schedulable))) return R_DOWN;
  if (q->strict && q->region != -1 && nd->region != q->region) return R_REGION;
  if (nd->kind == SC_OWNER_POOL && !q->pool) return R_POOL;
  if (nd->kind != SC_OWNER_POOL && q->pool_only) return R_SELF;
  if (q->gpus) {
    if (nd->ndev == 0) return R_NOGPU;
    if (!(q->chipmask >> nd->chip & 1)) return R_CHIP;
    bool big = false;
    for (int i = 0; i < nd->ndev && !big; i++) big = f->devs[nd->dev0 + i].mem >= q->mindev;
    if (!big) return R_DEVMEM;
  }
  if (!shape_only && !ever && q->dep >= 0 && f->node_mark[n] == f->stamp) return R_SPREAD;
  if ((ever ? nd->cpu : nd->cpu_free) < q->cpu) return R_CPU;
  if (!shape_only && (ever ? nd->mem : nd->mem_free) < q->mem) return R_MEM;
  if (q->gpus) {
    int fit = 0;
    for (int i = 0; i < nd->ndev; i++) {
      int d = nd->dev0 + i;
      const dev *x = &f->devs[d];
      if (ever) {
        fit += x->health != SC_SCHED_REMOVED && x->mem >= q->mindev && x->mem >= q->gmem;
      } else if (q->share) {
        fit += sched_dev_fits_share(f, q, d);
      } else {
        fit += sched_dev_whole_free(f, d) && x->mem >= q->mindev && x->mem >= q->gmem;
      }
    }
    if (fit < (q->share ? 1 : q->gpus)) return R_GPU;
  }
  return R_OK;
}

static void reason_text(const sc_fleet *f, const creq *q, int r, char *buf, size_t cap) {
  char a[32], b[32];
  switch (r) {
  case R_DOWN:
    snprintf(buf, cap, "down or cordoned");
    break;
  case R_REGION:
    snprintf(buf, cap, "wrong region");
    break;
  case R_POOL:
    snprintf(buf, cap, "open-pool node not allowed");
    break;
  case R_SELF:
    snprintf(buf, cap, "not an open-pool node");
    break;
  case R_NOGPU:
    snprintf(buf, cap, "no GPUs");
    break;
  case R_CHIP:
    snprintf(buf, cap, "chip not in %s", q->chips_text ? q->chips_text : "the allow-list");
    break;
  case R_DEVMEM:
    fmt_mib(a, sizeof a, q->mindev);
    snprintf(buf, cap, "devices smaller than %s", a);
    break;
  case R_SPREAD:
    snprintf(buf, cap, "already hosts a replica of %s", q->dep >= 0 ? f->deps.s[q->dep] : "the deployment");
    break;
  case R_CPU:
    snprintf(buf, cap, "not enough CPU");
    break;
  case R_MEM:
    snprintf(buf, cap, "not enough memory");
    break;
  case R_GPU:
    fmt_mib(a, sizeof a, q->gmem);
    if (q->share && q->gmem) snprintf(buf, cap, "no GPU with ≥ %d milli and %s free", q->milli, a);
    else if (q->share) snprintf(buf, cap, "no GPU with ≥ %d milli free", q->milli);
    else if (q->gpus == 1 && q->gmem) snprintf(buf, cap, "no GPU with ≥ %s free", a);
    else if (q->gpus == 1) snprintf(buf, cap, "no free GPU");
    else if (q->gmem) {
      snprintf(b, sizeof b, "%s", a);
      snprintf(buf, cap, "fewer than %d free GPUs with ≥ %s", q->gpus, b);
    } else snprintf(buf, cap, "fewer than %d free GPUs", q->gpus);
    break;
  default:
    snprintf(buf, cap, "ok");
  }
}

/* "1,213 nodes: 900 no GPU with ≥ 40 GiB free, 313 wrong region" — reasons by count, largest first. */
static void explain(const sc_fleet *f, const creq *q, bool ever, char *out, size_t cap) {
  int cnt[R_COUNT] = {0};
  for (int n = 0; n < f->nnodes; n++) cnt[node_check(f, q, n, ever, false)]++;
  char num[32];
  size_t o = 0;
  int w = snprintf(out, cap, "%s node%s", sc_sched_fmt_count(num, sizeof num, f->nnodes), f->nnodes == 1 ? "" : "s");
  o = w > 0 ? (size_t)w : 0;
  bool first = true;
  for (;;) {
    int best = -1;
    for (int r = 1; r < R_COUNT; r++)
      if (cnt[r] && (best < 0 || cnt[r] > cnt[best])) best = r;
    if (best < 0) break;
    char why[160];
    reason_text(f, q, best, why, sizeof why);
    if (o < cap) {
      w = snprintf(out + o, cap - o, "%s %s %s", first ? ":" : ",", sc_sched_fmt_count(num, sizeof num, cnt[best]),
                   why);
      o += w > 0 ? (size_t)w : 0;
    }
    first = false;
    cnt[best] = 0;
  }
  if (first && o < cap) snprintf(out + o, cap - o, "%s", f->nnodes ? ": all could take it" : " in the fleet");
}

/* ---- score cache ---- */


static ckey make_key(const creq *q) {
  ckey k;
  memset(&k, 0, sizeof k);
  k.cpu = q->cpu;
  k.gmem = q->gmem;
  k.mindev = q->mindev;
  k.chipmask = q->chipmask;
  k.gpus = q->gpus;
  k.milli = q->milli;
  k.region = q->strict ? q->region : -1;
  k.strict = q->strict;
  k.pool = q->pool;
  k.pool_only = q->pool_only;
  return k;
}

static sclass *class_for(sc_fleet *f, const creq *q) {
  if (f->policy == SC_POLICY_RANDOM || !f->nnodes) return NULL;
  if (!f->classes) {
    size_t per = (size_t)f->nnodes * sizeof(struct centry);
    size_t n = ((size_t)64 << 20) / per;
    f->nclasses = n < 16 ? 16 : n > 1024 ? 1024 : (int)n;
    f->classes = sc_xcalloc((size_t)f->nclasses, sizeof *f->classes);
  }
  f->use_clock++;
  ckey k = make_key(q);
  sclass *victim = NULL;
  for (int i = 0; i < f->nclasses; i++) {
    sclass *c = &f->classes[i];
    if (c->used && memcmp(&c->key, &k, sizeof k) == 0) {
      c->last_use = f->use_clock;
      return c;
    }
    /* an unused slot, else the least recently used one */
    if (!victim || (victim->used && (!c->used || c->last_use < victim->last_use))) victim = c;
  }
  victim->key = k;
  victim->used = true;
  victim->last_use = f->use_clock;
  if (!victim->e) victim->e = sc_xmalloc((size_t)f->nnodes * sizeof *victim->e);
  for (int n = 0; n < f->nnodes; n++) victim->e[n].ver = 0;
  return victim;
}

/* ---- placing ---- */

typedef struct cand {
  int node, tier, pick;
  double score;
  uint32_t rank;
} cand;

static bool better(const cand *a, const cand *b) {
  if (a->tier != b->tier) return a->tier < b->tier;
  if (a->score != b->score) return a->score > b->score;
  return a->rank < b->rank;
}

static void topk_insert(cand *top, int *ntop, const cand *c) {
  int n = *ntop;
  if (n == SC_SCHED_TOPK && !better(c, &top[n - 1])) return;
  int i = n < SC_SCHED_TOPK ? n : n - 1;
  while (i > 0 && better(c, &top[i - 1])) {
    top[i] = top[i - 1];
    i--;
  }
  top[i] = *c;
  if (n < SC_SCHED_TOPK) (*ntop)++;
}

static void mark_deployment(sc_fleet *f, const creq *q) {
  f->stamp++;
  if (f->stamp == 0) { /* wrapped: clear marks */
    memset(f->node_mark, 0, (size_t)f->nnodes * sizeof *f->node_mark);
    if (f->owner_mark) memset(f->owner_mark, 0, (size_t)f->owners.n * sizeof *f->owner_mark);
    f->stamp = 1;
  }
  if (q->dep < 0) return;
  const deployment *d = &f->depv[q->dep];
  for (int i = 0; i < d->n; i++) {
    f->node_mark[d->nodes[i]] = f->stamp;
    int o = f->nodes[d->nodes[i]].owner;
    if (o >= 0) f->owner_mark[o] = f->stamp;
  }
}

static int alloc_new(sc_fleet *f) {
  if (f->nfree) return f->freelist[--f->nfree];
  if (f->nallocs == f->capallocs) {
    f->capallocs = f->capallocs ? f->capallocs * 2 : 256;
    f->allocs = sc_xrealloc(f->allocs, (size_t)f->capallocs * sizeof *f->allocs);
    f->freelist = sc_xrealloc(f->freelist, (size_t)f->capallocs * sizeof *f->freelist);
  }
  f->allocs[f->nallocs].gen = 0;
  return f->nallocs++;
}

static void node_tag(node *nd, int tag, int delta) {
  if (tag < 0) return;
  if (delta > 0 && nd->tags[tag]++ == 0) nd->ntags++;
  if (delta < 0 && --nd->tags[tag] == 0) nd->ntags--;
}

static void dep_add(sc_fleet *f, int dep, int n) {
  deployment *d = &f->depv[dep];
  if (d->n == d->cap) {
    d->cap = d->cap ? d->cap * 2 : 4;
    d->nodes = sc_xrealloc(d->nodes, (size_t)d->cap * sizeof *d->nodes);
  }
  d->nodes[d->n++] = n;
}

static void dep_remove(sc_fleet *f, int dep, int n) {
  deployment *d = &f->depv[dep];
  for (int i = 0; i < d->n; i++)
    if (d->nodes[i] == n) {
      d->nodes[i] = d->nodes[--d->n];
      return;
    }
}

static uint64_t commit(sc_fleet *f, const creq *q, const sc_sched_req *r, int n, int pick, const int *want,
                       sc_sched_result *out) {
  node *nd = &f->nodes[n];
  int a = alloc_new(f);
  alloc *al = &f->allocs[a];
  uint32_t gen = al->gen + 1;
  memset(al, 0, sizeof *al);
  al->gen = gen ? gen : 1;
  al->used = true;
  al->node = n;
  al->cpu = q->cpu;
  al->mem = q->mem;
  al->gmem = q->gmem;
  al->milli = q->milli;
  al->tag = q->tag;
  al->dep = -1;
  if (q->share) {
    al->ndev = 1;
    al->dev[0] = (uint8_t)pick;
  } else if (q->gpus && want) {
    for (int i = 0; i < q->gpus; i++) al->dev[al->ndev++] = (uint8_t)want[i];
  } else if (q->gpus) {
    for (int i = 0; i < nd->ndev && al->ndev < q->gpus; i++)
      if (sched_dev_whole_free(f, nd->dev0 + i) && f->devs[nd->dev0 + i].mem >= q->mindev &&
          f->devs[nd->dev0 + i].mem >= q->gmem)
        al->dev[al->ndev++] = (uint8_t)i;
  }
  for (int i = 0; i < al->ndev; i++) {
    dev *d = &f->devs[nd->dev0 + al->dev[i]];
    d->free -= q->milli;
    /* a whole device holds all of its memory; a share holds what it asked for */
    int64_t m = q->share ? q->gmem : d->mem;
    if (!q->share) al->gmem = d->mem;
    d->free_mem -= m;
  }
  nd->cpu_free -= q->cpu;
  nd->mem_free -= q->mem;
  node_tag(nd, q->tag, +1);
  f->hot[n].ver++;
  f->hot[n].mem_free = nd->mem_free;
  f->used_milli += (int64_t)q->milli * al->ndev;
  if (r->deployment && *r->deployment) {
    int before = f->deps.n;
    int dep = strtab_add(&f->deps, r->deployment);
    if (f->deps.n != before) {
      f->depv = sc_xrealloc(f->depv, (size_t)f->deps.cap * sizeof *f->depv);
      memset(&f->depv[dep], 0, sizeof f->depv[dep]);
      f->ndepv = f->deps.n;
    }
    al->dep = dep;
    dep_add(f, dep, n);
  }
  f->nlive++;
  out->ndev = al->ndev;
  for (int i = 0; i < al->ndev; i++) out->dev[i] = al->dev[i];
  out->gpu_milli = q->milli;
  return (uint64_t)al->gen << 32 | (uint64_t)(a + 1);
}

int sc_fleet_place(sc_fleet *f, const sc_sched_req *r, sc_rng *rng, int64_t now_ms, sc_sched_result *out,
                   sc_err *e) {
  (void)now_ms;
  memset(out, 0, sizeof *out);
  out->node = -1;
  if (!r) return sc_err_set(e, SC_EINVAL, "invalid_request", "no request");
  if (f->wl_dirty) sched_compile_workload(f);
  creq q;
  int rc = compile_req(f, r, &q, e);
  if (rc) return rc;
  mark_deployment(f, &q);
  sclass *cls = class_for(f, &q);
  cand best = {.node = -1}, top[SC_SCHED_TOPK];
  int ntop = 0, nfeas = 0;
  bool tiers = (q.region != -1 && !q.strict) || q.dep >= 0;
  if (!cls) { /* random policy: every feasible node, then one uniformly */
    for (int n = 0; n < f->nnodes; n++)
      if (node_check(f, &q, n, false, false) == R_OK) f->scratch[nfeas++] = n;
  } else {
    const uint32_t ev = f->epoch_ver;
    const hot *h = f->hot;
    struct centry *ce = cls->e;
    double cut = -INFINITY; /* top[ntop-1].score once the list is full */
    for (int n = 0; n < f->nnodes; n++) {
      uint32_t v = h[n].ver + ev;
      if (ce[n].ver != v) {
        int pick = -1;
        ce[n].score = node_check(f, &q, n, false, true) == R_OK ? sched_score(f, &q, n, &pick) : -INFINITY;
        ce[n].pick = pick;
        ce[n].ver = v;
      }
      double score = ce[n].score;
      if (score == -INFINITY || h[n].mem_free < q.mem) continue;
      if (q.dep >= 0 && f->node_mark[n] == f->stamp) continue;
      nfeas++;
      if (!tiers && score < cut) continue; /* cannot enter the top list nor win */
      cand c = {.node = n, .score = score, .rank = h[n].rank, .pick = ce[n].pick};
      if (tiers) {
        const node *nd = &f->nodes[n];
        if (q.region != -1 && !q.strict && nd->region != q.region) c.tier += 2;
        if (q.dep >= 0 && nd->owner >= 0 && f->owner_mark[nd->owner] == f->stamp) c.tier += 1;
      }
      if (ntop < SC_SCHED_TOPK || better(&c, &top[ntop - 1])) {
        topk_insert(top, &ntop, &c);
        if (ntop == SC_SCHED_TOPK) cut = top[ntop - 1].score;
      }
    }
    if (ntop) best = top[0];
  }
  if (!cls && nfeas) {
    int n = f->scratch[rng ? sc_rng_below(rng, (uint64_t)nfeas) : 0];
    best = (cand){.node = n, .score = 100, .rank = f->hot[n].rank, .pick = -1};
    top[0] = best;
    ntop = 1;
  }
  out->nfeasible = nfeas;
  if (best.node < 0) {
    explain(f, &q, false, out->why, sizeof out->why);
    bool ever = false;
    for (int n = 0; n < f->nnodes && !ever; n++) ever = node_check(f, &q, n, true, false) == R_OK;
    out->never = !ever;
    if (out->never) {
      char tmp[sizeof out->why];
      explain(f, &q, true, tmp, sizeof tmp);
      snprintf(out->why, sizeof out->why, "can never fit: %.480s", tmp);
    }
    return SC_EUNAVAIL;
  }
  int n = best.node, pick = best.pick;
  if (q.share && (pick < 0 || f->policy != SC_POLICY_FGD)) {
    if (f->policy == SC_POLICY_RANDOM && rng) {
      const node *nd = &f->nodes[n];
      int fits[SC_SCHED_MAX_DEVS], k = 0;
      for (int i = 0; i < nd->ndev; i++)
        if (sched_dev_fits_share(f, &q, nd->dev0 + i)) fits[k++] = i;
      pick = fits[sc_rng_below(rng, (uint64_t)k)];
    } else if (f->policy != SC_POLICY_SUANCHI || pick < 0) {
      pick = sched_pick_bestfit(f, &q, n);
    }
  }
  out->ncand = ntop;
  for (int i = 0; i < ntop; i++) {
    sc_strlcpy(out->top[i].node_id, f->ids.s[top[i].node], SC_SCHED_ID_MAX);
    out->top[i].score = top[i].score;
  }
  out->node = n;
  out->score = best.score;
  sc_strlcpy(out->node_id, f->ids.s[n], SC_SCHED_ID_MAX);
  if (r->explain) explain(f, &q, false, out->why, sizeof out->why);
  out->handle = commit(f, &q, r, n, pick, NULL, out);
  return 0;
}

int sc_fleet_release(sc_fleet *f, uint64_t handle, sc_err *e) {
  uint64_t idx = handle & 0xffffffffu;
  uint32_t gen = (uint32_t)(handle >> 32);
  if (!idx || idx > (uint64_t)f->nallocs || !f->allocs[idx - 1].used || f->allocs[idx - 1].gen != gen)
    return sc_err_set(e, SC_ENOENT, "unknown_placement", "no placement with handle %llu",
                      (unsigned long long)handle);
  alloc *al = &f->allocs[idx - 1];
  node *nd = &f->nodes[al->node];
  for (int i = 0; i < al->ndev; i++) {
    dev *d = &f->devs[nd->dev0 + al->dev[i]];
    d->free += al->milli;
    d->free_mem += al->gmem;
  }
  nd->cpu_free += al->cpu;
  nd->mem_free += al->mem;
  node_tag(nd, al->tag, -1);
  f->hot[al->node].ver++;
  f->hot[al->node].mem_free = nd->mem_free;
  f->used_milli -= (int64_t)al->milli * al->ndev;
  if (al->dep >= 0) dep_remove(f, al->dep, al->node);
  al->used = false;
  f->freelist[f->nfree++] = (int)(idx - 1);
  f->nlive--;
  return 0;
}

/* ---- health ---- */

static int node_by_id(const sc_fleet *f, const char *id, sc_err *e) {
  int n = strtab_find(&f->ids, id);
  if (n < 0) sc_err_set(e, SC_ENOENT, "unknown_node", "no node '%s'", id ? id : "(null)");
  return n;
}

int sc_fleet_set_device_health(sc_fleet *f, const char *node_id, int dev_idx, sc_sched_health h, sc_err *e) {
  int n = node_by_id(f, node_id, e);
  if (n < 0) return SC_ENOENT;
  node *nd = &f->nodes[n];
  if (dev_idx < 0 || dev_idx >= nd->ndev || (unsigned)h > SC_SCHED_REMOVED)
    return sc_err_set(e, SC_EINVAL, "invalid_device", "node %s has no device %d", node_id, dev_idx);
  f->devs[nd->dev0 + dev_idx].health = (uint8_t)h;
  f->hot[n].ver++;
  return 0;
}

int sc_fleet_set_node_health(sc_fleet *f, const char *node_id, sc_sched_health h, sc_err *e) {
  int n = node_by_id(f, node_id, e);
  if (n < 0) return SC_ENOENT;
  if ((unsigned)h > SC_SCHED_REMOVED) return sc_err_set(e, SC_EINVAL, "invalid_health", "bad health %d", (int)h);
  f->nodes[n].health = (uint8_t)h;
  f->hot[n].ver++;
  return 0;
}

int sc_fleet_set_schedulable(sc_fleet *f, const char *node_id, bool on, sc_err *e) {
  int n = node_by_id(f, node_id, e);
  if (n < 0) return SC_ENOENT;
  f->nodes[n].schedulable = on;
  f->hot[n].ver++;
  return 0;
}

/* ---- views ---- */

int sc_fleet_node_count(const sc_fleet *f) { return f->nnodes; }
int sc_fleet_find_node(const sc_fleet *f, const char *id) { return strtab_find(&f->ids, id); }
const char *sc_fleet_node_id(const sc_fleet *f, int n) { return n >= 0 && n < f->nnodes ? f->ids.s[n] : NULL; }
int64_t sc_fleet_node_cpu_free(const sc_fleet *f, int n) { return f->nodes[n].cpu_free; }
int64_t sc_fleet_node_mem_free(const sc_fleet *f, int n) { return f->nodes[n].mem_free; }
int sc_fleet_node_ndev(const sc_fleet *f, int n) { return f->nodes[n].ndev; }
int sc_fleet_dev_free_milli(const sc_fleet *f, int n, int d) { return f->devs[f->nodes[n].dev0 + d].free; }
int64_t sc_fleet_dev_free_mem(const sc_fleet *f, int n, int d) { return f->devs[f->nodes[n].dev0 + d].free_mem; }
const char *sc_fleet_node_chip(const sc_fleet *f, int n) {
  return f->nodes[n].chip >= 0 ? f->chips.s[f->nodes[n].chip] : "";
}

int64_t sc_fleet_gpu_milli_total(const sc_fleet *f) {
  int64_t t = 0;
  for (int n = 0; n < f->nnodes; n++) {
    const node *nd = &f->nodes[n];
    if (nd->health == SC_SCHED_REMOVED) continue;
    for (int i = 0; i < nd->ndev; i++) t += f->devs[nd->dev0 + i].health == SC_SCHED_OK ? 1000 : 0;
  }
  return t;
}

int64_t sc_fleet_gpu_milli_used(const sc_fleet *f) { return f->used_milli; }
int sc_fleet_placements(const sc_fleet *f) { return f->nlive; }

int sc_fleet_assign(sc_fleet *f, const char *node_id, const sc_sched_req *r, const int *devs, uint64_t *handle,
                    sc_err *e) {
  creq q;
  int rc = compile_req(f, r, &q, e);
  if (rc) return rc;
  int n = strtab_find(&f->ids, node_id);
  if (n < 0) return sc_err_set(e, SC_ENOENT, "unknown_node", "node %s is not in the fleet", node_id);
  node *nd = &f->nodes[n];
  for (int i = 0; i < q.gpus; i++) {
    if (devs[i] < 0 || devs[i] >= nd->ndev)
      return sc_err_set(e, SC_EINVAL, "invalid_request", "node %s has no device %d", node_id, devs[i]);
    for (int j = 0; j < i; j++)
      if (devs[j] == devs[i]) return sc_err_set(e, SC_EINVAL, "invalid_request", "device %d given twice", devs[i]);
    const dev *d = &f->devs[nd->dev0 + devs[i]];
    int64_t need_mem = q.share ? q.gmem : d->mem;
    if (d->free < q.milli || d->free_mem < need_mem)
      return sc_err_set(e, SC_EUNAVAIL, "no_capacity", "node %s device %d lacks the free compute or memory", node_id,
                        devs[i]);
  }
  if (nd->cpu_free < q.cpu || nd->mem_free < q.mem)
    return sc_err_set(e, SC_EUNAVAIL, "no_capacity", "node %s lacks the free CPU or memory", node_id);
  sc_sched_result out;
  memset(&out, 0, sizeof out);
  *handle = commit(f, &q, r, n, q.share ? devs[0] : -1, devs, &out);
  return 0;
}
