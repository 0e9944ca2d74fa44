/*
 * internal.h — the fleet's private layout, shared by the files of src/sched (fleet.c, policy.c,
 * llm.c). Nothing outside src/sched includes this.
 */
#ifndef SC_SCHED_INTERNAL_H
#define SC_SCHED_INTERNAL_H

#include <stdint.h>

#include "sched/sched.h"

#define MAX_CHIPS 64 /* distinct chip keys per fleet (bit mask in compiled requests) */
#define NTAGS (SC_SCHED_MAX_GPUS + 1) /* gpu-clustering tags: 0 = share, k = k whole devices */

/* An interned string table with an open-addressing index. */
typedef struct strtab {
  char (*s)[SC_SCHED_ID_MAX];
  int n, cap;
  int *slot; /* index+1, 0 = empty */
  int nslot;
} strtab;

int strtab_find(const strtab *t, const char *s);
int strtab_add(strtab *t, const char *s); /* returns the index (existing or new) */
void strtab_fini(strtab *t);

typedef struct node {
  int64_t cpu, mem, cpu_free, mem_free;
  int ndev, dev0;
  int chip;   /* interned chip, -1 when the node has no devices */
  int region; /* -1 none */
  int owner;  /* -1 none */
  uint32_t frag_ver; /* version frag was computed at (0 = never) */
  double frag;
  uint8_t kind, health;
  bool schedulable;
  uint16_t tags[NTAGS];
  uint8_t ntags; /* distinct tags with a non-zero count */
} node;

/* What the decision scan reads for every node, packed: version (bumped on every change; score
 * caches compare it), tie-break rank, and free memory (mirrors node.mem_free). */
typedef struct hot {
  uint32_t ver, rank;
  int64_t mem_free;
} hot;

typedef struct dev {
  int32_t free;  /* free compute milli (0..1000) */
  int64_t mem, free_mem;
  uint8_t health;
} dev;

typedef struct alloc {
  uint32_t gen;
  bool used;
  int node, ndev, milli, dep, tag;
  uint8_t dev[SC_SCHED_MAX_GPUS];
  int64_t cpu, mem, gmem;
} alloc;

/* A workload task compiled for one chip: tasks that cannot use the chip fold into w0. */
typedef struct wtask {
  int64_t cpu;
  int32_t k;   /* per-device milli */
  int32_t num; /* devices */
  double p;
} wtask;

typedef struct wlist {
  double gpu_per_cpu; /* GPU milli per CPU milli of the GPU tasks that can run on this chip */
  double scarce; /* chip-bound GPU demand aimed at this chip per unit of its capacity share */
  double w0;  /* weight of tasks whose fragment is always all idle compute (CPU-only, other chips) */
  wtask *t;   /* sorted by k ascending */
  int n;
} wlist;

typedef struct deployment {
  int *nodes; /* node index per replica */
  int n, cap;
} deployment;

/* A request after validation and interning. */
typedef struct creq {
  int64_t cpu, mem, gmem, mindev;
  int gpus, milli; /* gpus == 0: CPU only */
  bool share;      /* one device, milli < 1000 */
  int tag;         /* gpu-clustering tag, -1 for CPU-only */
  uint64_t chipmask; /* allowed interned chips */
  int region;      /* -1 any; -2 named region unknown to the fleet */
  bool strict, pool, pool_only;
  int dep;         /* deployment index, -1 none */
  const char *chips_text, *region_text;
} creq;

/* One class of requests that share a score cache (same shape and constraints). */
/* The request fields a cached score depends on (memory and spread are checked outside the cache). */
typedef struct ckey {
  int64_t cpu, gmem, mindev;
  uint64_t chipmask;
  int32_t gpus, milli, region;
  uint8_t strict, pool, pool_only, pad;
} ckey;

typedef struct sclass {
  ckey key;
  bool used;
  uint64_t last_use;
  struct centry {
    double score;  /* -INFINITY = infeasible by shape */
    uint32_t ver;  /* node version the entry was computed at; 0 = empty */
    int32_t pick;  /* chosen device for share requests */
  } *e;            /* per node */
} sclass;

struct sc_fleet {
  sc_sched_policy policy;
  node *nodes;
  hot *hot;
  int nnodes, capnodes;
  dev *devs;
  int ndevs, capdevs;
  strtab ids, chips, regions, owners, deps;
  char (*chip_vendor)[32];
  alloc *allocs;
  int nallocs, capallocs, *freelist, nfree, nlive;
  deployment *depv;
  int ndepv;
  int64_t used_milli;
  /* workload */
  sc_sched_task *tasks;
  char (*task_chips)[256];
  int ntasks;
  wlist *wl; /* per chip */
  int nwl;
  bool wl_dirty;
  double strand_weight; /* suanchi's λ: 0.15, 0.05 or 0 by the share of chip-bound GPU tasks */
  double gpu_per_cpu;   /* whole workload's GPU milli per CPU milli */
  /* score cache */
  sclass *classes;
  int nclasses;
  uint64_t use_clock;
  uint32_t epoch_ver; /* added to node versions; bumped to invalidate all caches */
  /* per-request scratch */
  uint32_t stamp;
  uint32_t *node_mark, *owner_mark;
  int *scratch;
};

/* fleet.c, for llm.c */
uint64_t sched_chip_mask(const sc_fleet *f, const char *list);

/* policy.c */
void sched_compile_workload(sc_fleet *f);
double sched_node_frag(sc_fleet *f, int n);
/* Scores node n for q (which passed the filters). Returns the score (higher wins) and, for share
 * requests, the chosen device index in *pick. rng only for the random policy's device choice. */
double sched_score(sc_fleet *f, const creq *q, int n, int *pick);
/* Best-fit device for a share request: least free compute that fits, lowest index on ties. */
int sched_pick_bestfit(const sc_fleet *f, const creq *q, int n);
bool sched_dev_fits_share(const sc_fleet *f, const creq *q, int d);
bool sched_dev_whole_free(const sc_fleet *f, int d);

static inline int dev_idle(const dev *d) { return d->health == SC_SCHED_OK ? d->free : 0; }

#endif
