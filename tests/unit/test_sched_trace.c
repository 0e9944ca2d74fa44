/* Unit tests for src/sched/trace.c and openb.c: loading openb CSVs (good and bad) and replaying a
 * small hand-made trace. Self-contained: no files outside the test. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "sched/trace.h"

static const char *nodes_ok = "sn,cpu_milli,memory_mib,gpu,model\n"
                              "node-b,32000,262144,2,T4\n"
                              "node-a,96000,786432,8,G2\n"
                              "node-c,64000,262144,0,\n";

static const char *pods_ok = "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos\n"
                             "p0,4000,8192,1,500,,LS\n"
                             "p1,8000,16384,1,1000,T4|G2,BE\n"
                             "p2,2000,4096,0,0,,LS\n"
                             "p3,16000,65536,4,1000,,LS\n"
                             "\"p4\",1000,1024,1,250,G2,BE\n";

static int load(sc_trace *t, bool nodes, const char *csv, sc_err *e) {
  return nodes ? sc_trace_load_nodes(t, csv, strlen(csv), "test.csv", e)
               : sc_trace_load_pods(t, csv, strlen(csv), "test.csv", e);
}

Test(trace, loads_good_files) {
  sc_trace t = {0};
  sc_err e;
  cr_assert_eq(load(&t, true, nodes_ok, &e), 0, "%s", e.msg);
  cr_assert_eq(t.nnodes, 3);
  cr_assert_str_eq(t.nodes[1].name, "node-a");
  cr_assert_eq(t.nodes[1].gpus, 8);
  cr_assert_str_eq(t.nodes[1].model, "G2");
  cr_assert_str_eq(t.nodes[2].model, "");
  cr_assert_eq(load(&t, false, pods_ok, &e), 0, "%s", e.msg);
  cr_assert_eq(t.npods, 5);
  cr_assert_eq(t.pods[0].gpu_milli, 500);
  cr_assert_str_eq(t.pods[1].spec, "T4|G2");
  cr_assert_eq(t.pods[2].num_gpu, 0);
  cr_assert_str_eq(t.pods[4].name, "p4");
  /* the 5-column multigpu layout (no gpu_spec) */
  const char *five = "name,cpu_milli,memory_mib,num_gpu,gpu_milli\np0,1000,1024,8,1000\n";
  cr_assert_eq(load(&t, false, five, &e), 0, "%s", e.msg);
  cr_assert_eq(t.npods, 1);
  cr_assert_eq(t.pods[0].num_gpu, 8);
  sc_trace_fini(&t);
}

Test(trace, bad_node_files_name_file_line_column_and_change_nothing) {
  sc_trace t = {0};
  sc_err e;
  cr_assert_eq(load(&t, true, nodes_ok, &e), 0);
  struct {
    const char *csv, *want;
  } cases[] = {
      {"", "test.csv: empty file, expected a header"},
      {"sn,cpu_milli,memory_mib,model\nn,1,1,T4\n", "test.csv:1: missing column gpu"},
      {"sn,cpu_milli,memory_mib,gpu,model\nn,lots,1,1,T4\n", "test.csv:2: column cpu_milli (2): 'lots' is not an integer"},
      {"sn,cpu_milli,memory_mib,gpu,model\nn,1000,-5,1,T4\n", "test.csv:2: column memory_mib (3): -5 is out of range"},
      {"sn,cpu_milli,memory_mib,gpu,model\nn,99999999999,1,1,T4\n", "column cpu_milli (2): 99999999999 is out of range"},
      {"sn,cpu_milli,memory_mib,gpu,model\nn,1000,1,99,T4\n", "column gpu (4): 99 is out of range 0..16"},
      {"sn,cpu_milli,memory_mib,gpu,model\nn,1000,1,2,X100\n", "test.csv:2: column model (5): unknown GPU model 'X100'"},
      {"sn,cpu_milli,memory_mib,gpu,model\nn,1000,1,2,\n", "column model (5): empty for a node with 2 GPUs"},
      {"sn,cpu_milli,memory_mib,gpu,model\nn,1000,1,2,T4\nm,1\n", "test.csv:3: 2 fields, header has 5"},
      {"sn,cpu_milli,memory_mib,gpu,model\nn,1000,1,2,T4\nm,1,1,1,T4\nn,1,1,1,T4\n",
       "test.csv:4: column sn (1): duplicate node 'n' (also line 2)"},
      {"sn,cpu_milli,memory_mib,gpu,model\n,1000,1,2,T4\n", "test.csv:2: column sn (1): must be 1..63 bytes"},
      {"sn,cpu_milli,memory_mib,gpu,model\n\"n,1000,1,2,T4\n", "test.csv: "},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    cr_assert_neq(load(&t, true, cases[i].csv, &e), 0, "case %zu", i);
    cr_assert(strstr(e.msg, cases[i].want), "case %zu: got '%s'", i, e.msg);
    cr_assert_eq(t.nnodes, 3, "case %zu: nothing half-loaded", i);
    cr_assert_str_eq(t.nodes[0].name, "node-b");
  }
  sc_trace_fini(&t);
}

Test(trace, bad_pod_files_name_file_line_column_and_change_nothing) {
  sc_trace t = {0};
  sc_err e;
  cr_assert_eq(load(&t, false, pods_ok, &e), 0);
  const char *h = "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec\n";
  struct {
    const char *rows, *want;
  } cases[] = {
      {"p,1000,1024,1,abc,\n", "test.csv:2: column gpu_milli (5): 'abc' is not an integer"},
      {"p,1000,1024,1,1.5,\n", "column gpu_milli (5): '1.5' is not an integer"},
      {"p,-1,1024,1,500,\n", "test.csv:2: column cpu_milli (2): -1 is out of range"},
      {"p,1000,1024,1,1500,\n", "column gpu_milli (5): 1500 is out of range 0..1000"},
      {"p,1000,1024,9,1000,\n", "column num_gpu (4): 9 is out of range 0..8"},
      {"p,1000,999999999999,1,1000,\n", "column memory_mib (3): 999999999999 is out of range"},
      {"p,1000,1024,2,500,\n", "column gpu_milli (5): 500 is a fraction, only possible with num_gpu 1"},
      {"p,1000,1024,1,0,\n", "column gpu_milli (5): 0 with num_gpu 1"},
      {"p,1000,1024,1,500,H999\n", "test.csv:2: column gpu_spec (6): unknown GPU model 'H999'"},
      {"p,1000,1024,1,500,T4||G2\n", "column gpu_spec (6): empty or overlong model"},
      {"ok,1,1,0,0,\np,1000,1024\n", "test.csv:3: 3 fields, header has 6"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char csv[512];
    snprintf(csv, sizeof csv, "%s%s", h, cases[i].rows);
    cr_assert_neq(load(&t, false, csv, &e), 0, "case %zu", i);
    cr_assert(strstr(e.msg, cases[i].want), "case %zu: got '%s'", i, e.msg);
    cr_assert_eq(t.npods, 5, "case %zu: nothing half-loaded", i);
  }
  cr_assert_neq(load(&t, false, "name,cpu_milli,memory_mib,num_gpu\np,1,1,1\n", &e), 0);
  cr_assert(strstr(e.msg, "test.csv:1: missing column gpu_milli"), "%s", e.msg);
  sc_trace_fini(&t);
}

Test(openb, replays_deterministically) {
  sc_trace t = {0};
  sc_err e;
  cr_assert_eq(load(&t, true, nodes_ok, &e), 0);
  cr_assert_eq(load(&t, false, pods_ok, &e), 0);
  for (int p = 0; p < SC_POLICY_COUNT; p++) {
    double c1[SC_OPENB_MAXPCT + 1], c2[SC_OPENB_MAXPCT + 1];
    int placed[2], failed[2];
    for (int k = 0; k < 2; k++) {
      sc_openb *s = sc_openb_create(&t, (sc_sched_policy)p, 42, 1.3, &e);
      cr_assert_not_null(s, "%s", e.msg);
      /* 10 GPUs x 1.3 = 13,000 milli of arrivals */
      int steps = 0;
      while (sc_openb_step(s)) steps++;
      cr_assert_eq(steps, sc_openb_npods(s));
      cr_assert_gt(steps, 5, "topped up beyond the 5 trace pods");
      sc_openb_counts(s, &placed[k], &failed[k]);
      cr_assert_eq(placed[k] + failed[k], steps);
      sc_openb_curve(s, k ? c2 : c1);
      sc_openb_destroy(s);
    }
    cr_assert_eq(placed[0], placed[1], "policy %d", p);
    for (int x = 0; x <= 130; x++) cr_assert((isnan(c1[x]) && isnan(c2[x])) || c1[x] == c2[x]);
    int samples = 0;
    for (int x = 0; x <= SC_OPENB_MAXPCT; x++)
      if (!isnan(c1[x])) {
        samples++;
        cr_assert(c1[x] >= 0 && c1[x] <= 100.0, "policy %d: %g at %d", p, c1[x], x);
      }
    cr_assert_gt(samples, 0, "policy %d", p);
  }
  /* CPU-only pod lists are replayed as they are (no top-up: they add no GPU demand) */
  sc_trace cp = {.nodes = t.nodes, .nnodes = t.nnodes};
  cr_assert_eq(load(&cp, false, "name,cpu_milli,memory_mib,num_gpu,gpu_milli\na,1,1,0,0\nb,1,1,0,0\n", &e), 0);
  sc_openb *s = sc_openb_create(&cp, SC_POLICY_SUANCHI, 1, 1.3, &e);
  cr_assert_not_null(s, "%s", e.msg);
  cr_assert_eq(sc_openb_npods(s), 2);
  sc_openb_destroy(s);
  free(cp.pods);
  /* CPU-only node lists cannot be replayed */
  sc_trace cpu = {0};
  cr_assert_eq(load(&cpu, true, "sn,cpu_milli,memory_mib,gpu,model\nc,1000,1000,0,\n", &e), 0);
  cpu.pods = t.pods;
  cpu.npods = t.npods;
  cr_assert_null(sc_openb_create(&cpu, SC_POLICY_FGD, 1, 1.3, &e));
  cr_assert(strstr(e.msg, "0 GPU nodes"), "%s", e.msg);
  cpu.pods = NULL;
  cpu.npods = 0;
  sc_trace_fini(&cpu);
  sc_trace_fini(&t);
}
