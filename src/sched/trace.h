/*
 * trace.h — the Alibaba "openb" GPU traces (FGD, ATC'23): loading the node and pod CSVs, and
 * replaying them the way the FGD paper's simulator does (shared/design/fgd-method.md).
 *
 * Loading is pure (CSV text in, arrays out) and all-or-nothing: on any error the trace is left as
 * it was and e names "file:line: column NAME (N): problem". The replay is pure too: the seed is
 * an argument, and the caller times sc_openb_step if it wants speed figures.
 */
#ifndef SC_SCHED_TRACE_H
#define SC_SCHED_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "sched/sched.h"

#define SC_TRACE_MAX_CPU 4096000   /* milli: 4,096 cores */
#define SC_TRACE_MAX_MEM 67108864  /* MiB: 64 TiB */
#define SC_TRACE_MAX_ROWS 1000000

typedef struct sc_trace_node {
  char name[64];
  int64_t cpu_milli, mem_mib;
  int gpus;
  char model[32]; /* "" for CPU-only nodes */
} sc_trace_node;

typedef struct sc_trace_pod {
  char name[64];
  int64_t cpu_milli, mem_mib;
  int num_gpu;
  int gpu_milli;  /* per GPU; 0 for CPU-only pods */
  char spec[128]; /* '|'-separated allowed models; "" = any */
} sc_trace_pod;

typedef struct sc_trace {
  sc_trace_node *nodes;
  int nnodes;
  sc_trace_pod *pods;
  int npods;
} sc_trace;

/* The GPU models a trace may name: the openb codes (A10, G1, G2, G3, P100, T4, V100M16, V100M32). */
bool sc_trace_model_known(const char *model);

/* Loads a node list (columns sn, cpu_milli, memory_mib, gpu, model) into t, replacing its nodes.
 * origin names the file in errors. Returns 0 or SC_EFORMAT (t unchanged). */
int sc_trace_load_nodes(sc_trace *t, const char *csv, size_t len, const char *origin, sc_err *e);

/* Loads a pod list (columns name, cpu_milli, memory_mib, num_gpu, gpu_milli; optional gpu_spec;
 * other columns ignored) into t, replacing its pods. Returns 0 or SC_EFORMAT (t unchanged). */
int sc_trace_load_pods(sc_trace *t, const char *csv, size_t len, const char *origin, sc_err *e);

/* Frees the arrays; t may then be reused. */
void sc_trace_fini(sc_trace *t);

/* ---- replay ---- */

#define SC_OPENB_MAXPCT 200

typedef struct sc_openb sc_openb;

/* Prepares one run: the GPU nodes of t (sorted by name; tie-break ranks a random permutation),
 * the pods sorted by name then shuffled, topped up (or trimmed) to tune × GPU capacity as the
 * artifact does, and the typical-task workload (top 95% of pod shapes). seed drives every random
 * draw. Returns NULL with e set when t has no GPU nodes or no pods. Destroy with sc_openb_destroy. */
sc_openb *sc_openb_create(const sc_trace *t, sc_sched_policy p, uint64_t seed, double tune, sc_err *e);
void sc_openb_destroy(sc_openb *s);

/* Submits the next pod. Returns 1 when one was submitted, 0 when all were. */
int sc_openb_step(sc_openb *s);

int sc_openb_npods(const sc_openb *s);
/* Mean allocation % (of GPU capacity) at each arrived % 0..SC_OPENB_MAXPCT, as the artifact's
 * merge_alloc_discrete.py computes it; NAN where no event is near. */
void sc_openb_curve(const sc_openb *s, double curve[SC_OPENB_MAXPCT + 1]);
/* Counters: pods placed and failed so far. */
void sc_openb_counts(const sc_openb *s, int *placed, int *failed);
/* The fleet being filled (owned by s). */
sc_fleet *sc_openb_fleet(sc_openb *s);

#endif
