/*
 * sched.h — placement: a fractional, heterogeneous, fragmentation-aware scheduler.
 *
 * An sc_fleet holds nodes (CPU, memory, region, owner) and their devices (chip, memory, free
 * compute in milli-device, free memory). Requests are placed and released incrementally; devices
 * and nodes change health. The library is pure: no I/O, no clock, no global randomness. The
 * caller passes an sc_rng (used by the random policy) and `now` (reserved for time-aware policies; the
 * current ones do not read it).
 *
 * Units: CPU in milli-cores, memory in MiB, device compute in milli (1000 = one whole device).
 *
 * Policies (sc_sched_policy): the six of the FGD paper (random, dotprod, gpu-clustering,
 * gpu-packing, best-fit, fgd), scored exactly as the paper's simulator does, and ours, "suanchi",
 * the default. See docs/internals/sched.md.
 *
 * Threading: an sc_fleet is not thread-safe; one thread (or a lock) per fleet.
 */
#ifndef SC_SCHED_SCHED_H
#define SC_SCHED_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/rng.h"

#define SC_SCHED_MAX_DEVS 16 /* devices per node */
#define SC_SCHED_MAX_GPUS 8  /* whole devices one request may take */
#define SC_SCHED_TOPK 5      /* candidates reported per decision */
#define SC_SCHED_ID_MAX 64   /* node ids, regions, owners, chip keys: bytes incl. NUL */

typedef enum {
  SC_POLICY_RANDOM,
  SC_POLICY_DOTPROD,
  SC_POLICY_CLUSTERING,
  SC_POLICY_PACKING,
  SC_POLICY_BESTFIT,
  SC_POLICY_FGD,
  SC_POLICY_SUANCHI,
  SC_POLICY_COUNT
} sc_sched_policy;

/* "random", "dotprod", "gpu-clustering", "gpu-packing", "best-fit", "fgd", "suanchi". */
const char *sc_sched_policy_name(sc_sched_policy p);
/* Parses a policy name; returns 0 or SC_EINVAL. */
int sc_sched_policy_parse(const char *name, sc_sched_policy *out);

typedef enum { SC_OWNER_SELF, SC_OWNER_POOL } sc_owner_kind;
typedef enum { SC_SCHED_OK, SC_SCHED_UNHEALTHY, SC_SCHED_REMOVED } sc_sched_health;

typedef struct sc_node_spec {
  const char *id;     /* unique, 1..63 bytes */
  const char *region; /* may be NULL or "" */
  const char *owner;  /* may be NULL or "" */
  sc_owner_kind owner_kind;
  int64_t cpu_milli;
  int64_t mem_mib;
  bool schedulable; /* false: cordoned, holds what it has, takes nothing new */
} sc_node_spec;

typedef struct sc_device_spec {
  const char *vendor; /* e.g. "nvidia"; may be NULL */
  const char *chip;   /* catalogue key or trace model, e.g. "H100-SXM-80GB", "T4" */
  int64_t mem_mib;    /* device memory; 0 means unknown (requests with memory needs skip it) */
  bool healthy;
} sc_device_spec;

/* One entry of the expected workload, used by fragmentation-aware policies: a request shape
 * and its share of arrivals. Tasks with gpus == 0 are CPU-only. */
typedef struct sc_sched_task {
  int64_t cpu_milli;
  int gpus;       /* 0..8 */
  int gpu_milli;  /* per device, 1..1000 when gpus > 0 */
  const char *chips; /* '|'-separated allow-list (chip keys or vendors); NULL/"" = any */
  double weight;  /* > 0; normalised by the fleet */
} sc_sched_task;

typedef struct sc_sched_req {
  int64_t cpu_milli;   /* >= 0 */
  int64_t mem_mib;     /* >= 0 */
  int gpus;            /* 0 = CPU only; 1 with gpu_milli < 1000 = a fraction of one device;
                          otherwise gpus whole devices on one node (1..8) */
  int gpu_milli;       /* per device, 1..1000 (ignored when gpus == 0; 0 means 1000) */
  int64_t gpu_mem_mib; /* device memory needed per device (0 = none beyond the compute share) */
  const char *chips;   /* '|'-separated allow-list of chip keys or vendors; NULL/"" = any */
  int64_t min_dev_mem_mib; /* only devices with at least this much total memory */
  const char *region;  /* NULL/"" = anywhere */
  bool region_strict;  /* true: only that region; false: prefer it */
  bool allow_pool;     /* open-pool (owner_kind pool) nodes allowed */
  bool pool_only;      /* only open-pool nodes (implies allow_pool) */
  const char *deployment; /* replicas of one deployment: never two on one node, spread over owners */
  bool explain;        /* also count rejection reasons when placed (always done on failure) */
} sc_sched_req;

typedef struct sc_sched_cand {
  char node_id[SC_SCHED_ID_MAX];
  double score;
} sc_sched_cand;

typedef struct sc_sched_result {
  uint64_t handle; /* pass to sc_fleet_release; 0 when not placed */
  char node_id[SC_SCHED_ID_MAX];
  int node;        /* node index (sc_fleet_node_count order) */
  int ndev;
  int dev[SC_SCHED_MAX_GPUS]; /* device indices within the node */
  int gpu_milli;   /* per device */
  double score;
  int nfeasible;   /* nodes that could take the request now */
  int ncand;
  sc_sched_cand top[SC_SCHED_TOPK]; /* best first */
  bool never;      /* failure: no node could take it even if empty */
  char why[512];   /* counted rejection reasons, e.g. "1,213 nodes: 900 no GPU with ≥ 40 GiB free, 313 wrong region" */
} sc_sched_result;

typedef struct sc_fleet sc_fleet;

/* Creates an empty fleet using policy p. Destroy with sc_fleet_destroy (NULL is fine). */
sc_fleet *sc_fleet_create(sc_sched_policy p);
void sc_fleet_destroy(sc_fleet *f);

sc_sched_policy sc_fleet_policy(const sc_fleet *f);
void sc_fleet_set_policy(sc_fleet *f, sc_sched_policy p);

/* Adds a node with ndev (0..16) devices, all of one chip. Returns 0, or SC_EINVAL/SC_EEXIST with
 * e naming the problem (nothing is added). */
int sc_fleet_add_node(sc_fleet *f, const sc_node_spec *n, const sc_device_spec *devs, int ndev, sc_err *e);

/* Sets the expected workload for fragmentation-aware policies (copied). Without one, fgd and
 * suanchi use a default mix (see docs). Returns 0 or SC_EINVAL. */
int sc_fleet_set_workload(sc_fleet *f, const sc_sched_task *tasks, int n, sc_err *e);

/* Tie-break order: rank[i] for node i, lower wins among equal scores (default: insertion order).
 * rank must hold sc_fleet_node_count values. */
void sc_fleet_set_ranks(sc_fleet *f, const uint32_t *rank);

/* Places r. Returns 0 and fills out; SC_EUNAVAIL when nothing fits now (out->why says why,
 * out->never says whether nothing could ever fit); SC_EINVAL for a malformed request (e). */
int sc_fleet_place(sc_fleet *f, const sc_sched_req *r, sc_rng *rng, int64_t now_ms, sc_sched_result *out,
                   sc_err *e);

/* Records a placement decided earlier (e.g. replicas re-read after a restart): r's resources on
 * node_id's devices devs[0..r->gpus). Constraints other than the shape are not checked. Returns 0
 * and a handle; SC_ENOENT (no such node), SC_EINVAL (bad devices), SC_EUNAVAIL (not enough free). */
int sc_fleet_assign(sc_fleet *f, const char *node_id, const sc_sched_req *r, const int *devs, uint64_t *handle,
                    sc_err *e);

/* Releases a placement. Returns 0 or SC_ENOENT for an unknown handle. */
int sc_fleet_release(sc_fleet *f, uint64_t handle, sc_err *e);

/* Health of one device (index within its node) or of a whole node. Unhealthy or removed devices
 * and nodes take nothing new; what they hold stays until released. */
int sc_fleet_set_device_health(sc_fleet *f, const char *node_id, int dev, sc_sched_health h, sc_err *e);
int sc_fleet_set_node_health(sc_fleet *f, const char *node_id, sc_sched_health h, sc_err *e);
int sc_fleet_set_schedulable(sc_fleet *f, const char *node_id, bool on, sc_err *e);

/* Read-only views. */
int sc_fleet_node_count(const sc_fleet *f);
int sc_fleet_find_node(const sc_fleet *f, const char *id); /* index or -1 */
const char *sc_fleet_node_id(const sc_fleet *f, int node);
int64_t sc_fleet_node_cpu_free(const sc_fleet *f, int node);
int64_t sc_fleet_node_mem_free(const sc_fleet *f, int node);
int sc_fleet_node_ndev(const sc_fleet *f, int node);
int sc_fleet_dev_free_milli(const sc_fleet *f, int node, int dev);
int64_t sc_fleet_dev_free_mem(const sc_fleet *f, int node, int dev);
const char *sc_fleet_node_chip(const sc_fleet *f, int node); /* "" when no devices */
/* Totals over healthy devices of schedulable nodes: capacity and allocated milli. */
int64_t sc_fleet_gpu_milli_total(const sc_fleet *f);
int64_t sc_fleet_gpu_milli_used(const sc_fleet *f);
int sc_fleet_placements(const sc_fleet *f);

/* Formats n with thousands separators ("1,213") into buf. */
const char *sc_sched_fmt_count(char *buf, size_t cap, long long n);

/* ---- LLM replica placement (llm.c) ---- */

typedef struct sc_chips sc_chips;

typedef struct sc_llm_model {
  double weight_bytes;       /* total weights */
  double params;             /* parameter count; 0 = weight_bytes / 2 (BF16) */
  double kv_bytes_per_token; /* KV cache per token of context */
  int context;               /* tokens per sequence (prompt + output) */
  int prompt_tokens;         /* typical prompt length for the TTFT estimate; 0 = context / 2 */
  int concurrency;           /* sequences served at once by one replica */
} sc_llm_model;

typedef struct sc_llm_slo {
  double ttft_ms; /* 0 = no bound */
  double tpot_ms; /* 0 = no bound */
} sc_llm_slo;

typedef struct sc_llm_costs {
  double years;       /* straight-line depreciation period; default 5 */
  double usd_per_kwh; /* default 0.10 */
  double pue;         /* default 1.3 */
  double pool_share;  /* open-pool devices: the owner's share of the catalogue rent; default 0.7 */
} sc_llm_costs;

typedef struct sc_llm_plan {
  char chip[SC_SCHED_ID_MAX];
  int devices;          /* on one node */
  bool pool;            /* on an open-pool node (priced at the owner's share) */
  int64_t mem_per_dev_mib;
  double tpot_ms;       /* estimated */
  double ttft_ms;       /* estimated */
  double tok_s;         /* replica decode throughput at the wanted concurrency */
  double usd_per_hour;  /* devices' cost */
  double usd_per_mtok;  /* cost per million output tokens */
} sc_llm_plan;

/* Places one replica: enumerates (chip present in the fleet, 1/2/4/8 devices), keeps plans whose
 * memory fits and whose estimated TTFT/TPOT meet slo, and places the cheapest per token that
 * fits now. base carries the other constraints (cpu, mem, chips, region, pool, deployment); its
 * gpus/gpu_milli/gpu_mem_mib are set by the planner. costs may be NULL (defaults).
 * Returns 0 with out and plan filled; SC_EUNAVAIL with out->why explaining (memory, SLO, fleet). */
int sc_fleet_place_llm(sc_fleet *f, const sc_chips *catalogue, const sc_llm_model *m, const sc_llm_slo *slo,
                       const sc_llm_costs *costs, const sc_sched_req *base, sc_rng *rng, int64_t now_ms,
                       sc_sched_result *out, sc_llm_plan *plan, sc_err *e);

/* The estimates used above, for one chip and device count (exposed for tests and docs):
 * memory per device in MiB, TPOT and TTFT in ms. */
double sc_llm_mem_per_dev_mib(const sc_llm_model *m, int devices);
void sc_llm_estimate(const sc_llm_model *m, double bw_tbps, double bf16_tflops, int devices, double *tpot_ms,
                     double *ttft_ms);
/* Cost of one device-hour in USD: own devices purchase/(years·8766 h) + tdp·pue·price;
 * pool devices pool_share × rent when the catalogue lists a rent, else the same as own. */
double sc_llm_device_usd_per_hour(const sc_llm_costs *c, double purchase_usd, double tdp_w, double rent_usd_per_hour,
                                  bool pool);

#endif
