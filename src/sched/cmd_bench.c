/*
 * cmd_bench.c — `suanchi sched-bench`: replays the openb traces under each policy (trace.h), prints
 * the GPU allocation at 100% and 130% arrived (mean over seeds, next to the FGD paper's figure when
 * fgd_expected.csv is found), and the decision speed (decisions/s, p99 latency) per policy.
 * With --synthetic-gpus N it instead replays the default pods on a fleet made by repeating the
 * trace's nodes until N GPUs, for the large-fleet speed figure.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/csv.h"
#include "base/flags.h"
#include "base/util.h"
#include "cli/commands.h"
#include "sched/trace.h"

#define MAX_TRACES 32
#define FILE_CAP ((size_t)64 << 20)

typedef struct speed {
  double total_ns;
  long n;
  int64_t *ns;
  long cap;
} speed;

typedef struct expect {
  char trace[32];
  int policy, pct;
  double alloc;
} expect;

static const char *paper_names[] = {"01-Random", "02-DotProd", "03-GpuClustering", "04-GpuPacking", "05-BestFit",
                                    "06-FGD"};

static int load_expected(const char *path, expect **out) {
  char *buf = NULL;
  size_t len = 0;
  int n = 0;
  if (sc_read_file(path, FILE_CAP, &buf, &len)) return 0;
  sc_csv *r = sc_xmalloc(sizeof *r);
  sc_err e;
  sc_csv_init(r, buf, len);
  if (sc_csv_next(r, &e) == 1) {
    int ct = sc_csv_col(r, "trace"), cp = sc_csv_col(r, "policy"), ca = sc_csv_col(r, "arrived_pct"),
        cm = sc_csv_col(r, "alloc_pct_mean");
    while (ct >= 0 && cp >= 0 && ca >= 0 && cm >= 0 && sc_csv_next(r, &e) == 1) {
      if (r->nfields <= cm || r->nfields <= ct || r->nfields <= cp || r->nfields <= ca) continue;
      expect x = {.policy = -1};
      for (int i = 0; i < 6; i++)
        if (strcmp(r->field[cp], paper_names[i]) == 0) x.policy = i;
      int64_t pct;
      if (x.policy < 0 || sc_parse_i64(r->field[ca], 0, 200, &pct) ||
          sc_parse_double(r->field[cm], 0, 100, &x.alloc) || !sc_strlcpy(x.trace, r->field[ct], sizeof x.trace))
        continue;
      x.pct = (int)pct;
      *out = sc_xrealloc(*out, (size_t)(n + 1) * sizeof **out);
      (*out)[n++] = x;
    }
  }
  free(r);
  free(buf);
  return n;
}

static double lookup(const expect *x, int n, const char *trace, int policy, int pct) {
  for (int i = 0; i < n; i++)
    if (x[i].policy == policy && x[i].pct == pct && strcmp(x[i].trace, trace) == 0) return x[i].alloc;
  return NAN;
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

static void speed_add(speed *s, int64_t ns) {
  if (s->n == s->cap) {
    s->cap = s->cap ? s->cap * 2 : 65536;
    s->ns = sc_xrealloc(s->ns, (size_t)s->cap * sizeof *s->ns);
  }
  s->ns[s->n++] = ns;
  s->total_ns += (double)ns;
}

static double speed_p99_us(speed *s) {
  if (!s->n) return NAN;
  qsort(s->ns, (size_t)s->n, sizeof *s->ns, cmp_i64);
  return (double)s->ns[(size_t)((double)(s->n - 1) * 0.99)] / 1000.0;
}

static int load_file(const char *path, sc_trace *t, bool nodes, sc_err *e) {
  char *buf = NULL;
  size_t len = 0;
  int rc = sc_read_file(path, FILE_CAP, &buf, &len);
  if (rc) return sc_err_set(e, rc, "io", "%s: %s", path, sc_strerror(rc));
  rc = nodes ? sc_trace_load_nodes(t, buf, len, path, e) : sc_trace_load_pods(t, buf, len, path, e);
  free(buf);
  return rc;
}

/* "…/openb_pod_list_gpuspec33.csv" -> "gpuspec33" */
static void trace_name(const char *path, char *out, size_t cap) {
  const char *b = strrchr(path, '/');
  b = b ? b + 1 : path;
  const char *p = strstr(b, "openb_pod_list_");
  if (p) b = p + strlen("openb_pod_list_");
  size_t n = strcspn(b, ".");
  if (n >= cap) n = cap - 1;
  memcpy(out, b, n);
  out[n] = 0;
}

static int split_list(char *s, const char **out, int max) {
  int n = 0;
  for (char *p = s; p && *p && n < max;) {
    char *c = strchr(p, ',');
    if (c) *c = 0;
    if (*p) out[n++] = p;
    p = c ? c + 1 : NULL;
  }
  return n;
}

int sc_cmd_sched_bench(int argc, char **argv) {
  const char *data = "../shared/data/alibaba_gpu_v2023", *nodes_path = NULL, *pods_arg = NULL, *traces_arg = NULL,
             *policy_arg = "random,dotprod,gpu-clustering,gpu-packing,best-fit,fgd,suanchi", *expected_path = NULL;
  int64_t seeds = 10, seed0 = 42, synthetic = 0;
  double tune = 1.3;
  bool as_json = false, quiet = false;
  sc_flag flags[] = {
      {.name = "data", .type = SC_FLAG_STR, .out = &data, .help = "trace folder (default ../shared/data/alibaba_gpu_v2023)"},
      {.name = "nodes", .type = SC_FLAG_STR, .out = &nodes_path, .help = "node CSV (default DATA/openb_node_list_gpu_node.csv)"},
      {.name = "pods", .type = SC_FLAG_STR, .out = &pods_arg, .help = "pod CSV(s), comma-separated"},
      {.name = "traces", .type = SC_FLAG_STR, .out = &traces_arg, .help = "trace names (default,cpu050,...) in DATA; 'all' = the paper's 17"},
      {.name = "policy", .type = SC_FLAG_STR, .out = &policy_arg, .help = "policies, comma-separated (default all 7)"},
      {.name = "seeds", .type = SC_FLAG_I64, .out = &seeds, .help = "runs per trace and policy (default 10)", .min = 1, .max = 1000},
      {.name = "seed0", .type = SC_FLAG_I64, .out = &seed0, .help = "first seed (default 42)", .min = 0, .max = INT64_MAX},
      {.name = "tune", .type = SC_FLAG_DOUBLE, .out = &tune, .help = "arrivals as a multiple of GPU capacity (default 1.3)", .dmin = 0.01, .dmax = 10},
      {.name = "synthetic-gpus", .type = SC_FLAG_I64, .out = &synthetic, .help = "speed test: repeat the nodes up to this many GPUs", .min = 1, .max = 10000000},
      {.name = "expected", .type = SC_FLAG_STR, .out = &expected_path, .help = "paper figures (default DATA/fgd_expected.csv if present)"},
      {.name = "json", .type = SC_FLAG_BOOL, .out = &as_json, .help = "print JSON"},
      {.name = "quiet", .type = SC_FLAG_BOOL, .out = &quiet, .help = "no progress on stderr"},
      {0}};
  sc_args args;
  sc_err e;
  int rc = 1;
  sc_trace nodes = {0}, pods = {0};
  expect *exp = NULL;
  int nexp = 0;
  char *pods_copy = NULL, *pol_copy = NULL, *traces_copy = NULL;
  speed sp[SC_POLICY_COUNT];
  memset(sp, 0, sizeof sp);
  json_t *results = NULL, *speeds = NULL;

  if (sc_flags_parse(flags, argc, argv, &args, &e) || args.npos) {
    fprintf(stderr, "suanchi sched-bench: %s\n", args.npos ? "takes no positional arguments" : e.msg);
    return 2;
  }
  if (args.help) {
    printf("usage: suanchi sched-bench [--nodes CSV] [--pods CSV[,CSV...] | --traces NAMES] [--policy LIST]\n"
           "                           [--seeds N] [--json] [--synthetic-gpus N]\n");
    sc_flags_usage(stdout, flags);
    return 0;
  }
  sc_sched_policy pols[SC_POLICY_COUNT];
  int npol = 0;
  {
    const char *names[SC_POLICY_COUNT * 2];
    pol_copy = sc_xstrdup(policy_arg);
    int n = split_list(pol_copy, names, SC_POLICY_COUNT * 2);
    for (int i = 0; i < n; i++) {
      sc_sched_policy p;
      if (sc_sched_policy_parse(names[i], &p)) {
        fprintf(stderr,
                "suanchi sched-bench: --policy: unknown policy '%s' (random, dotprod, gpu-clustering, gpu-packing, "
                "best-fit, fgd, suanchi)\n",
                names[i]);
        rc = 2;
        goto out;
      }
      if (npol < SC_POLICY_COUNT) pols[npol++] = p;
    }
    if (!npol) {
      fprintf(stderr, "suanchi sched-bench: --policy: empty list\n");
      rc = 2;
      goto out;
    }
  }
  char pathbuf[4096];
  if (!nodes_path) {
    snprintf(pathbuf, sizeof pathbuf, "%s/openb_node_list_gpu_node.csv", data);
    nodes_path = pathbuf;
  }
  if (load_file(nodes_path, &nodes, true, &e)) {
    fprintf(stderr, "suanchi sched-bench: %s\n", e.msg);
    goto out;
  }
  /* the list of pod files */
  const char *pod_files[MAX_TRACES];
  char pod_paths[MAX_TRACES][4096];
  int ntr = 0;
  static const char *all17 = "default,cpu050,cpu100,cpu200,cpu250,gpushare40,gpushare60,gpushare80,gpushare100,"
                             "gpuspec10,gpuspec20,gpuspec25,gpuspec33,multigpu20,multigpu30,multigpu40,multigpu50";
  if (pods_arg) {
    pods_copy = sc_xstrdup(pods_arg);
    ntr = split_list(pods_copy, pod_files, MAX_TRACES);
  } else {
    traces_copy = sc_xstrdup(!traces_arg ? "default" : strcmp(traces_arg, "all") == 0 ? all17 : traces_arg);
    const char *names[MAX_TRACES];
    int n = split_list(traces_copy, names, MAX_TRACES);
    for (int i = 0; i < n; i++) {
      snprintf(pod_paths[i], sizeof pod_paths[i], "%s/openb_pod_list_%s.csv", data, names[i]);
      pod_files[ntr++] = pod_paths[i];
    }
  }
  if (!ntr) {
    fprintf(stderr, "suanchi sched-bench: no pod files\n");
    rc = 2;
    goto out;
  }
  if (!expected_path) {
    snprintf(pathbuf, sizeof pathbuf, "%s/fgd_expected.csv", data);
    expected_path = pathbuf;
  }
  if (!synthetic) nexp = load_expected(expected_path, &exp); /* the paper ran the 1,213-node fleet only */

  if (synthetic) { /* repeat the node list up to the wanted GPU count */
    sc_trace big = {0};
    int64_t g = 0;
    int cap = 0;
    for (int i = 0; g < synthetic; i = (i + 1) % nodes.nnodes) {
      if (nodes.nodes[i].gpus == 0) {
        if (i == nodes.nnodes - 1 && g == 0) break;
        continue;
      }
      if (big.nnodes == cap) {
        cap = cap ? cap * 2 : 4096;
        big.nodes = sc_xrealloc(big.nodes, (size_t)cap * sizeof *big.nodes);
      }
      big.nodes[big.nnodes] = nodes.nodes[i];
      snprintf(big.nodes[big.nnodes].name, sizeof big.nodes[0].name, "syn-%07d", big.nnodes);
      big.nnodes++;
      g += nodes.nodes[i].gpus;
    }
    sc_trace_fini(&nodes);
    nodes = big;
    if (!quiet) fprintf(stderr, "synthetic fleet: %d nodes, %lld GPUs\n", nodes.nnodes, (long long)g);
  }

  results = json_array();
  if (!as_json) {
    printf("%-12s %-15s %5s %9s %7s %9s %7s\n", "TRACE", "POLICY", "SEEDS", "ALLOC@100", "SD", "ALLOC@130",
           "PAPER@100");
  }
  for (int ti = 0; ti < ntr; ti++) {
    char tname[64];
    trace_name(pod_files[ti], tname, sizeof tname);
    if (load_file(pod_files[ti], &pods, false, &e)) {
      fprintf(stderr, "suanchi sched-bench: %s\n", e.msg);
      goto out;
    }
    sc_trace t = {.nodes = nodes.nodes, .nnodes = nodes.nnodes, .pods = pods.pods, .npods = pods.npods};
    for (int pi = 0; pi < npol; pi++) {
      double s100 = 0, ss100 = 0, s130 = 0;
      int n100 = 0, n130 = 0;
      for (int64_t k = 0; k < seeds; k++) {
        sc_openb *run = sc_openb_create(&t, pols[pi], (uint64_t)(seed0 + k), tune, &e);
        if (!run) {
          fprintf(stderr, "suanchi sched-bench: %s: %s\n", pod_files[ti], e.msg);
          goto out;
        }
        for (;;) {
          int64_t t0 = sc_mono_ns();
          int more = sc_openb_step(run);
          int64_t t1 = sc_mono_ns();
          if (!more) break;
          speed_add(&sp[pols[pi]], t1 - t0);
        }
        double curve[SC_OPENB_MAXPCT + 1];
        sc_openb_curve(run, curve);
        if (!isnan(curve[100])) s100 += curve[100], ss100 += curve[100] * curve[100], n100++;
        if (!isnan(curve[130])) s130 += curve[130], n130++;
        sc_openb_destroy(run);
      }
      double m100 = n100 ? s100 / n100 : NAN, m130 = n130 ? s130 / n130 : NAN;
      double sd = n100 > 1 ? sqrt(fmax(0, (ss100 - s100 * s100 / n100) / (n100 - 1))) : 0;
      double paper = (int)pols[pi] < 6 ? lookup(exp, nexp, tname, (int)pols[pi], 100) : NAN;
      if (!as_json) {
        printf("%-12s %-15s %5lld %9.2f %7.2f %9.2f", tname, sc_sched_policy_name(pols[pi]), (long long)seeds, m100,
               sd, m130);
        if (!isnan(paper)) printf(" %9.2f (%+.2f)", paper, m100 - paper);
        printf("\n");
        fflush(stdout);
      } else if (!quiet) {
        fprintf(stderr, "%s %s: %.2f\n", tname, sc_sched_policy_name(pols[pi]), m100);
      }
      json_array_append_new(results, json_pack("{s:s,s:s,s:i,s:f,s:f,s:I}", "policy", sc_sched_policy_name(pols[pi]),
                                               "trace", tname, "arrived_pct", 100, "alloc_pct", m100, "sd", sd,
                                               "seeds", (json_int_t)seeds));
      json_array_append_new(results, json_pack("{s:s,s:s,s:i,s:f,s:I}", "policy", sc_sched_policy_name(pols[pi]),
                                               "trace", tname, "arrived_pct", 130, "alloc_pct", isnan(m130) ? 0 : m130,
                                               "seeds", (json_int_t)seeds));
    }
    sc_trace_fini(&pods);
  }
  speeds = json_array();
  if (!as_json) printf("\n%-15s %10s %14s %12s\n", "POLICY", "DECISIONS", "DECISIONS/S", "P99_US");
  for (int pi = 0; pi < npol; pi++) {
    speed *s = &sp[pols[pi]];
    if (!s->n) continue;
    double dps = s->total_ns > 0 ? (double)s->n / (s->total_ns / 1e9) : 0, p99 = speed_p99_us(s);
    s->n = s->n; /* sorted now */
    if (!as_json) printf("%-15s %10ld %14.0f %12.1f\n", sc_sched_policy_name(pols[pi]), s->n, dps, p99);
    json_array_append_new(speeds, json_pack("{s:s,s:f,s:f,s:I}", "policy", sc_sched_policy_name(pols[pi]),
                                            "decisions_per_s", dps, "p99_decision_us", p99, "decisions",
                                            (json_int_t)s->n));
    sp[pols[pi]].n = 0;
  }
  if (as_json) {
    json_t *o = json_pack("{s:O,s:O,s:I,s:f,s:I}", "results", results, "speed", speeds, "seeds", (json_int_t)seeds,
                          "tune", tune, "nodes", (json_int_t)nodes.nnodes);
    char *s = json_dumps(o, JSON_INDENT(2));
    puts(s);
    free(s);
    json_decref(o);
  }
  rc = 0;
out:
  for (int i = 0; i < SC_POLICY_COUNT; i++) free(sp[i].ns);
  json_decref(results);
  json_decref(speeds);
  sc_trace_fini(&nodes);
  sc_trace_fini(&pods);
  free(exp);
  free(pods_copy);
  free(pol_copy);
  free(traces_copy);
  return rc;
}
