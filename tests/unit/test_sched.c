/* Unit tests for src/sched: placement, release, constraints, health, explanations, and each policy
 * on small hand-made fleets with known answers. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sched/internal.h"
#include "sched/sched.h"

typedef struct nodedef {
  const char *id, *region, *owner;
  sc_owner_kind kind;
  int64_t cpu, mem;
  int ndev;
  const char *chip;
  int64_t devmem;
} nodedef;

static void add(sc_fleet *f, nodedef d) {
  sc_device_spec devs[SC_SCHED_MAX_DEVS];
  for (int i = 0; i < d.ndev; i++)
    devs[i] = (sc_device_spec){.vendor = "nvidia", .chip = d.chip ? d.chip : "H100-SXM-80GB",
                               .mem_mib = d.devmem ? d.devmem : 81920, .healthy = true};
  sc_node_spec n = {.id = d.id,
                    .region = d.region,
                    .owner = d.owner,
                    .owner_kind = d.kind,
                    .cpu_milli = d.cpu ? d.cpu : 96000,
                    .mem_mib = d.mem ? d.mem : 786432,
                    .schedulable = true};
  sc_err e;
  cr_assert_eq(sc_fleet_add_node(f, &n, devs, d.ndev, &e), 0, "%s", e.msg);
}

static int place(sc_fleet *f, sc_sched_req r, sc_sched_result *res) {
  sc_err e;
  sc_rng rng;
  sc_rng_seed(&rng, 1);
  int rc = sc_fleet_place(f, &r, &rng, 0, res, &e);
  return rc;
}

Test(sched, place_and_release_fraction) {
  sc_fleet *f = sc_fleet_create(SC_POLICY_SUANCHI);
  add(f, (nodedef){.id = "n1", .ndev = 2});
  sc_sched_result r;
  cr_assert_eq(place(f, (sc_sched_req){.cpu_milli = 4000, .mem_mib = 1024, .gpus = 1, .gpu_milli = 500,
                                       .gpu_mem_mib = 10240},
                     &r),
               0, "%s", r.why);
  cr_assert_str_eq(r.node_id, "n1");
  cr_assert_eq(r.ndev, 1);
  int d = r.dev[0];
  cr_assert_eq(sc_fleet_dev_free_milli(f, 0, d), 500);
  cr_assert_eq(sc_fleet_dev_free_mem(f, 0, d), 81920 - 10240);
  cr_assert_eq(sc_fleet_node_cpu_free(f, 0), 92000);
  cr_assert_eq(sc_fleet_gpu_milli_used(f), 500);
  cr_assert_eq(sc_fleet_placements(f), 1);
  sc_err e;
  cr_assert_eq(sc_fleet_release(f, r.handle, &e), 0);
  cr_assert_eq(sc_fleet_dev_free_milli(f, 0, d), 1000);
  cr_assert_eq(sc_fleet_dev_free_mem(f, 0, d), 81920);
  cr_assert_eq(sc_fleet_node_cpu_free(f, 0), 96000);
  cr_assert_eq(sc_fleet_node_mem_free(f, 0), 786432);
  cr_assert_eq(sc_fleet_gpu_milli_used(f), 0);
  /* releasing twice is an error naming the handle, and changes nothing */
  cr_assert_eq(sc_fleet_release(f, r.handle, &e), SC_ENOENT);
  cr_assert(strstr(e.msg, "no placement with handle"), "%s", e.msg);
  cr_assert_eq(sc_fleet_release(f, 12345, &e), SC_ENOENT);
  cr_assert_eq(sc_fleet_dev_free_milli(f, 0, d), 1000);
  sc_fleet_destroy(f);
}

Test(sched, whole_devices_and_counted_failure) {
  sc_fleet *f = sc_fleet_create(SC_POLICY_FGD);
  add(f, (nodedef){.id = "a", .ndev = 8});
  sc_sched_result r;
  cr_assert_eq(place(f, (sc_sched_req){.gpus = 4}, &r), 0);
  cr_assert_eq(r.ndev, 4);
  for (int i = 0; i < 4; i++) cr_assert_eq(r.dev[i], i, "lowest-index free devices");
  cr_assert_eq(sc_fleet_dev_free_mem(f, 0, 0), 0, "a whole device holds all its memory");
  cr_assert_eq(place(f, (sc_sched_req){.gpus = 8}, &r), SC_EUNAVAIL);
  cr_assert_str_eq(r.why, "1 node: 1 fewer than 8 free GPUs");
  cr_assert_not(r.never);
  /* a fraction lands on a free device, not on the taken ones */
  cr_assert_eq(place(f, (sc_sched_req){.gpus = 1, .gpu_milli = 250}, &r), 0);
  cr_assert_geq(r.dev[0], 4);
  sc_fleet_destroy(f);
}

Test(sched, bad_requests_are_rejected_with_a_message) {
  sc_fleet *f = sc_fleet_create(SC_POLICY_SUANCHI);
  add(f, (nodedef){.id = "a", .ndev = 8});
  sc_sched_result r;
  sc_err e;
  struct {
    sc_sched_req q;
    const char *want;
  } cases[] = {
      {{.gpus = 9}, "gpus must be 0..8"},
      {{.gpus = -1}, "gpus must be 0..8"},
      {{.gpus = 1, .gpu_milli = 1001}, "gpu_milli must be 1..1000"},
      {{.gpus = 2, .gpu_milli = 500}, "only possible on one device"},
      {{.cpu_milli = -1}, "must not be negative"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    cr_assert_eq(sc_fleet_place(f, &cases[i].q, NULL, 0, &r, &e), SC_EINVAL, "case %zu", i);
    cr_assert(strstr(e.msg, cases[i].want), "case %zu: %s", i, e.msg);
  }
  cr_assert_eq(sc_fleet_placements(f), 0);
  cr_assert_eq(sc_fleet_gpu_milli_used(f), 0);
  sc_fleet_destroy(f);
}

Test(sched, bad_nodes_are_rejected) {
  sc_fleet *f = sc_fleet_create(SC_POLICY_SUANCHI);
  sc_err e;
  sc_device_spec d[2] = {{.chip = "H100-SXM-80GB", .healthy = true}, {.chip = "A100-SXM-80GB", .healthy = true}};
  sc_node_spec n = {.id = "x", .cpu_milli = 1000, .mem_mib = 1000, .schedulable = true};
  cr_assert_eq(sc_fleet_add_node(f, &n, d, 2, &e), SC_EINVAL);
  cr_assert(strstr(e.msg, "devices must all be one chip"), "%s", e.msg);
  cr_assert_eq(sc_fleet_add_node(f, &n, d, 1, &e), 0);
  cr_assert_eq(sc_fleet_add_node(f, &n, d, 1, &e), SC_EEXIST);
  cr_assert(strstr(e.msg, "node x already exists"), "%s", e.msg);
  n.id = "y";
  n.cpu_milli = -5;
  cr_assert_eq(sc_fleet_add_node(f, &n, d, 1, &e), SC_EINVAL);
  cr_assert_eq(sc_fleet_node_count(f), 1);
  sc_fleet_destroy(f);
}

Test(sched, explanation_counts_reasons_with_thousands) {
  /* the example: 1,213 nodes: 900 with devices too full for 40 GiB, 313 in another region */
  sc_fleet *f = sc_fleet_create(SC_POLICY_SUANCHI);
  char id[32];
  for (int i = 0; i < 1213; i++) {
    snprintf(id, sizeof id, "n%04d", i);
    add(f, (nodedef){.id = id, .region = i < 900 ? "cn-east" : "cn-west", .ndev = 1, .chip = "L20-48GB",
                     .devmem = i < 900 ? 24576 : 49152});
  }
  sc_sched_result r;
  cr_assert_eq(place(f, (sc_sched_req){.gpus = 1, .gpu_mem_mib = 40960, .region = "cn-east", .region_strict = true},
                     &r),
               SC_EUNAVAIL);
  cr_assert_str_eq(r.why, "can never fit: 1,213 nodes: 900 no GPU with ≥ 40 GiB free, 313 wrong region");
  cr_assert(r.never);
  /* a share with memory, where devices are big enough but busy: not "never" */
  cr_assert_eq(place(f, (sc_sched_req){.gpus = 1, .gpu_milli = 500, .gpu_mem_mib = 40960, .region = "cn-west",
                                       .region_strict = true},
                     &r),
               0);
  cr_assert_eq(place(f, (sc_sched_req){.gpus = 1, .gpu_mem_mib = 20480, .region = "cn-west", .region_strict = true,
                                       .explain = true},
                     &r),
               0);
  cr_assert_str_eq(r.why, "1,213 nodes: 900 wrong region, 1 no GPU with ≥ 20 GiB free");
  cr_assert_eq(r.nfeasible, 312);
  cr_assert_eq(r.ncand, SC_SCHED_TOPK);
  cr_assert_geq(r.top[0].score, r.top[1].score);
  char buf[32];
  cr_assert_str_eq(sc_sched_fmt_count(buf, sizeof buf, 1234567), "1,234,567");
  cr_assert_str_eq(sc_sched_fmt_count(buf, sizeof buf, 999), "999");
  sc_fleet_destroy(f);
}

Test(sched, never_fits_is_reported_at_once) {
  sc_fleet *f = sc_fleet_create(SC_POLICY_SUANCHI);
  add(f, (nodedef){.id = "a", .ndev = 4});
  add(f, (nodedef){.id = "b", .ndev = 4});
  sc_sched_result r;
  cr_assert_eq(place(f, (sc_sched_req){.gpus = 8}, &r), SC_EUNAVAIL);
  cr_assert(r.never);
  cr_assert_str_eq(r.why, "can never fit: 2 nodes: 2 fewer than 8 free GPUs");
  cr_assert_eq(place(f, (sc_sched_req){.cpu_milli = 200000}, &r), SC_EUNAVAIL);
  cr_assert(r.never);
  cr_assert(strstr(r.why, "2 not enough CPU"), "%s", r.why);
  cr_assert_eq(place(f, (sc_sched_req){.gpus = 1, .chips = "Ascend-910B-64GB|huawei"}, &r), SC_EUNAVAIL);
  cr_assert_str_eq(r.why, "can never fit: 2 nodes: 2 chip not in Ascend-910B-64GB|huawei");
  sc_fleet_destroy(f);
}

Test(sched, chip_vendor_and_device_size_constraints) {
  sc_fleet *f = sc_fleet_create(SC_POLICY_SUANCHI);
  add(f, (nodedef){.id = "small", .ndev = 2, .chip = "RTX4090-24GB", .devmem = 24576});
  add(f, (nodedef){.id = "big", .ndev = 2, .chip = "H100-SXM-80GB", .devmem = 81920});
  sc_sched_result r;
  cr_assert_eq(place(f, (sc_sched_req){.gpus = 1, .chips = "rtx4090-24gb"}, &r), 0);
  cr_assert_str_eq(r.node_id, "small");
  cr_assert_eq(place(f, (sc_sched_req){.gpus = 1, .chips = "nvidia"}, &r), 0);
  cr_assert_eq(place(f, (sc_sched_req){.gpus = 1, .min_dev_mem_mib = 40960}, &r), 0);
  cr_assert_str_eq(r.node_id, "big");
  cr_assert_eq(place(f, (sc_sched_req){.gpus = 2, .min_dev_mem_mib = 40960}, &r), SC_EUNAVAIL);
  cr_assert(strstr(r.why, "1 devices smaller than 40 GiB"), "%s", r.why);
  sc_fleet_destroy(f);
}

Test(sched, region_pool_and_spread) {
  sc_fleet *f = sc_fleet_create(SC_POLICY_SUANCHI);
  add(f, (nodedef){.id = "e1", .region = "east", .owner = "us", .ndev = 8});
  add(f, (nodedef){.id = "w1", .region = "west", .owner = "us", .ndev = 8});
  add(f, (nodedef){.id = "w2", .region = "west", .owner = "alice", .kind = SC_OWNER_POOL, .ndev = 8});
  sc_sched_result r;
  /* strict region */
  cr_assert_eq(place(f, (sc_sched_req){.gpus = 1, .region = "east", .region_strict = true}, &r), 0);
  cr_assert_str_eq(r.node_id, "e1");
  /* preference: the region's node wins even if another scores the same */
  cr_assert_eq(place(f, (sc_sched_req){.gpus = 1, .region = "west"}, &r), 0);
  cr_assert_str_eq(r.node_id, "w1");
  /* pool nodes only when allowed */
  cr_assert_eq(place(f, (sc_sched_req){.gpus = 1, .region = "west", .region_strict = true, .pool_only = true}, &r),
               0);
  cr_assert_str_eq(r.node_id, "w2");
  cr_assert_eq(place(f, (sc_sched_req){.gpus = 8, .region = "west", .region_strict = true}, &r), SC_EUNAVAIL);
  cr_assert_str_eq(r.why, "3 nodes: 1 wrong region, 1 open-pool node not allowed, 1 fewer than 8 free GPUs");
  cr_assert_eq(place(f, (sc_sched_req){.gpus = 1, .region = "mars", .region_strict = true}, &r), SC_EUNAVAIL);
  cr_assert(r.never);
  /* spread: replicas of one deployment never share a node, and prefer new owners */
  sc_fleet *g = sc_fleet_create(SC_POLICY_SUANCHI);
  add(g, (nodedef){.id = "a1", .owner = "a", .ndev = 8});
  add(g, (nodedef){.id = "a2", .owner = "a", .ndev = 8});
  add(g, (nodedef){.id = "b1", .owner = "b", .kind = SC_OWNER_POOL, .ndev = 8});
  sc_sched_req q = {.gpus = 1, .deployment = "chat", .allow_pool = true};
  cr_assert_eq(place(g, q, &r), 0);
  char first[64];
  snprintf(first, sizeof first, "%s", r.node_id);
  uint64_t h1 = r.handle;
  cr_assert_eq(place(g, q, &r), 0);
  cr_assert_str_neq(r.node_id, first);
  cr_assert(first[0] != r.node_id[0], "second replica goes to the other owner (%s, %s)", first, r.node_id);
  cr_assert_eq(place(g, q, &r), 0);
  cr_assert_eq(place(g, q, &r), SC_EUNAVAIL);
  cr_assert_str_eq(r.why, "3 nodes: 3 already hosts a replica of chat");
  cr_assert_not(r.never);
  sc_err e;
  cr_assert_eq(sc_fleet_release(g, h1, &e), 0);
  cr_assert_eq(place(g, q, &r), 0);
  cr_assert_str_eq(r.node_id, first);
  sc_fleet_destroy(g);
  sc_fleet_destroy(f);
}

Test(sched, health_and_cordon) {
  sc_fleet *f = sc_fleet_create(SC_POLICY_SUANCHI);
  add(f, (nodedef){.id = "a", .ndev = 2});
  add(f, (nodedef){.id = "b", .ndev = 2});
  sc_err e;
  cr_assert_eq(sc_fleet_set_device_health(f, "a", 0, SC_SCHED_UNHEALTHY, &e), 0);
  cr_assert_eq(sc_fleet_set_device_health(f, "a", 7, SC_SCHED_UNHEALTHY, &e), SC_EINVAL);
  cr_assert(strstr(e.msg, "node a has no device 7"), "%s", e.msg);
  cr_assert_eq(sc_fleet_set_node_health(f, "zz", SC_SCHED_REMOVED, &e), SC_ENOENT);
  cr_assert(strstr(e.msg, "no node 'zz'"), "%s", e.msg);
  cr_assert_eq(sc_fleet_gpu_milli_total(f), 3000);
  sc_sched_result r;
  cr_assert_eq(place(f, (sc_sched_req){.gpus = 2}, &r), 0);
  cr_assert_str_eq(r.node_id, "b", "node a has only one healthy device");
  cr_assert_eq(place(f, (sc_sched_req){.gpus = 1}, &r), 0);
  cr_assert_str_eq(r.node_id, "a");
  cr_assert_eq(r.dev[0], 1);
  cr_assert_eq(sc_fleet_set_schedulable(f, "a", false, &e), 0);
  cr_assert_eq(sc_fleet_set_node_health(f, "b", SC_SCHED_REMOVED, &e), 0);
  cr_assert_eq(place(f, (sc_sched_req){.cpu_milli = 1000}, &r), SC_EUNAVAIL);
  cr_assert_str_eq(r.why, "2 nodes: 2 down or cordoned");
  cr_assert_not(r.never, "a cordoned node may come back");
  cr_assert_eq(sc_fleet_set_schedulable(f, "a", true, &e), 0);
  cr_assert_eq(place(f, (sc_sched_req){.cpu_milli = 1000}, &r), 0);
  cr_assert_str_eq(r.node_id, "a");
  sc_fleet_destroy(f);
}

Test(sched, policy_names) {
  for (int p = 0; p < SC_POLICY_COUNT; p++) {
    sc_sched_policy q;
    cr_assert_eq(sc_sched_policy_parse(sc_sched_policy_name((sc_sched_policy)p), &q), 0);
    cr_assert_eq((int)q, p);
  }
  sc_sched_policy q;
  cr_assert_eq(sc_sched_policy_parse("tetris", &q), SC_EINVAL);
}

/* ---- policies on hand-made fleets ---- */

Test(policy, best_fit_packs_the_fullest_node_and_device) {
  sc_fleet *f = sc_fleet_create(SC_POLICY_BESTFIT);
  add(f, (nodedef){.id = "empty", .ndev = 2});
  add(f, (nodedef){.id = "used", .ndev = 2});
  sc_sched_result r;
  cr_assert_eq(place(f, (sc_sched_req){.gpus = 1, .gpu_milli = 600, .chips = "H100-SXM-80GB"}, &r), 0);
  cr_assert_str_eq(r.node_id, "empty", "equal scores: lowest rank");
  /* now "empty" has [400, 1000]; a 300 share goes there, on device 0 (least idle that fits) */
  cr_assert_eq(place(f, (sc_sched_req){.gpus = 1, .gpu_milli = 300}, &r), 0);
  cr_assert_str_eq(r.node_id, "empty");
  cr_assert_eq(r.dev[0], 0);
  cr_assert_eq(sc_fleet_dev_free_milli(f, 0, 0), 100);
  sc_fleet_destroy(f);
}

Test(policy, dotprod_prefers_the_smallest_dot_product) {
  sc_fleet *f = sc_fleet_create(SC_POLICY_DOTPROD);
  add(f, (nodedef){.id = "cpu-rich", .cpu = 128000, .ndev = 8});
  add(f, (nodedef){.id = "cpu-poor", .cpu = 16000, .ndev = 8});
  sc_sched_result r;
  cr_assert_eq(place(f, (sc_sched_req){.cpu_milli = 8000, .gpus = 1}, &r), 0);
  cr_assert_str_eq(r.node_id, "cpu-poor");
  /* ⌊100·(1 − (16000·8000/128000² + 8000·1000/8000²)/2)⌋ = ⌊100·(1 − 0.1328/2)⌋ = 93 (rich: 90) */
  cr_assert_float_eq(r.score, 93, 1e-9);
  cr_assert_float_eq(r.top[1].score, 90, 1e-9);
  sc_fleet_destroy(f);
}

Test(policy, gpu_clustering_groups_like_pods) {
  sc_fleet *f = sc_fleet_create(SC_POLICY_CLUSTERING);
  add(f, (nodedef){.id = "a", .ndev = 8});
  add(f, (nodedef){.id = "b", .ndev = 8});
  add(f, (nodedef){.id = "c", .ndev = 8});
  sc_sched_result r;
  cr_assert_eq(place(f, (sc_sched_req){.gpus = 1, .gpu_milli = 500}, &r), 0);
  cr_assert_str_eq(r.node_id, "a");
  cr_assert_eq(place(f, (sc_sched_req){.gpus = 1}, &r), 0);
  cr_assert_str_eq(r.node_id, "b", "1-gpu pod avoids the share node (0) for an idle one (25)");
  cr_assert_float_eq(r.score, 25, 1e-9);
  cr_assert_eq(place(f, (sc_sched_req){.gpus = 1, .gpu_milli = 200}, &r), 0);
  cr_assert_str_eq(r.node_id, "a", "share pod joins the share node: 75 + ⌊25·500/8000⌋ = 76");
  cr_assert_float_eq(r.score, 76, 1e-9);
  cr_assert_eq(place(f, (sc_sched_req){.gpus = 2}, &r), 0);
  cr_assert_str_eq(r.node_id, "c");
  cr_assert_eq(place(f, (sc_sched_req){.cpu_milli = 1000}, &r), 0);
  cr_assert_float_eq(r.score, 0, 1e-9, "CPU-only pods score 0");
  sc_fleet_destroy(f);
}

Test(policy, gpu_packing_prefers_shared_then_used_then_free) {
  sc_fleet *f = sc_fleet_create(SC_POLICY_PACKING);
  add(f, (nodedef){.id = "a", .ndev = 2});
  add(f, (nodedef){.id = "b", .ndev = 2});
  sc_sched_result r;
  cr_assert_eq(place(f, (sc_sched_req){.gpus = 1, .gpu_milli = 600}, &r), 0);
  cr_assert_float_eq(r.score, 31, 1e-9, "free node: max(33 − 2, 2)");
  const char *used = r.node_id[0] == 'a' ? "a" : "b";
  cr_assert_eq(place(f, (sc_sched_req){.gpus = 1, .gpu_milli = 300}, &r), 0);
  cr_assert_str_eq(r.node_id, used);
  cr_assert_float_eq(r.score, 96, 1e-9, "shared GPU with 400 idle: 100 − 40/10");
  cr_assert_eq(place(f, (sc_sched_req){.gpus = 1}, &r), 0);
  cr_assert_str_eq(r.node_id, used, "a free GPU on a used node (49) beats a free node (31)");
  cr_assert_float_eq(r.score, 49, 1e-9);
  sc_fleet_destroy(f);
}

Test(policy, fgd_matches_the_worked_example) {
  /* fgd-method.md §5: GPUs idle [300, 1000] (mirror of [1000, 300]), L = 8000, tasks A(4000, 1×500)
   * p=.5, B(2000, 1×1000) p=.3, C(CPU-only) p=.2: F = 500; placing A gives F' = 550, score 48. */
  sc_fleet *f = sc_fleet_create(SC_POLICY_FGD);
  add(f, (nodedef){.id = "n", .cpu = 8000, .ndev = 2});
  sc_sched_task w[] = {{.cpu_milli = 4000, .gpus = 1, .gpu_milli = 500, .weight = 5},
                       {.cpu_milli = 2000, .gpus = 1, .gpu_milli = 1000, .weight = 3},
                       {.cpu_milli = 1000, .gpus = 0, .weight = 2}};
  sc_err e;
  cr_assert_eq(sc_fleet_set_workload(f, w, 3, &e), 0);
  sc_sched_result r;
  cr_assert_eq(place(f, (sc_sched_req){.gpus = 1, .gpu_milli = 700}, &r), 0);
  cr_assert_eq(r.dev[0], 0);
  cr_assert_float_eq(sched_node_frag(f, 0), 500, 1e-9);
  cr_assert_eq(place(f, (sc_sched_req){.cpu_milli = 4000, .gpus = 1, .gpu_milli = 500}, &r), 0);
  cr_assert_float_eq(r.score, 48, 1e-9);
  cr_assert_eq(r.dev[0], 1);
  cr_assert_float_eq(sched_node_frag(f, 0), 550, 1e-9);
  /* bad workloads change nothing */
  sc_sched_task bad = {.gpus = 2, .gpu_milli = 500, .weight = 1};
  cr_assert_eq(sc_fleet_set_workload(f, &bad, 1, &e), SC_EINVAL);
  cr_assert(strstr(e.msg, "task 0: bad shape or weight"), "%s", e.msg);
  sc_fleet_destroy(f);
}

Test(policy, fgd_picks_the_gpu_that_fragments_least) {
  /* idle [1000, 600]: a 500 share on GPU1 leaves [1000, 100] where a whole-GPU task still fits;
   * on GPU0 it leaves [500, 600] where it does not. */
  sc_fleet *f = sc_fleet_create(SC_POLICY_FGD);
  add(f, (nodedef){.id = "n", .ndev = 2});
  sc_sched_task w[] = {{.gpus = 1, .gpu_milli = 1000, .weight = 1}};
  sc_fleet_set_workload(f, w, 1, NULL);
  sc_sched_result r;
  cr_assert_eq(place(f, (sc_sched_req){.gpus = 1, .gpu_milli = 400}, &r), 0);
  cr_assert_eq(r.dev[0], 0);
  /* now [600, 1000] */
  cr_assert_eq(place(f, (sc_sched_req){.gpus = 1, .gpu_milli = 500}, &r), 0);
  cr_assert_eq(r.dev[0], 0, "the 600 GPU, keeping the free one whole");
  sc_fleet_destroy(f);
}

Test(policy, suanchi_keeps_cpu_for_gpus) {
  /* Two 8-GPU nodes, one CPU-poor. A CPU-only pod: fgd sees no change in fragmentation on either
   * (ties -> rank -> the CPU-poor node); suanchi sees it would strand the CPU-poor node's GPUs. */
  sc_sched_task w[] = {{.cpu_milli = 4000, .gpus = 1, .gpu_milli = 1000, .weight = 9},
                       {.cpu_milli = 8000, .gpus = 0, .weight = 1}};
  sc_sched_result r;
  for (int pol = 0; pol < 2; pol++) {
    sc_fleet *f = sc_fleet_create(pol ? SC_POLICY_SUANCHI : SC_POLICY_FGD);
    add(f, (nodedef){.id = "poor", .cpu = 20000, .ndev = 8});
    add(f, (nodedef){.id = "rich", .cpu = 128000, .ndev = 8});
    sc_fleet_set_workload(f, w, 2, NULL);
    cr_assert_eq(place(f, (sc_sched_req){.cpu_milli = 8000}, &r), 0);
    cr_assert_str_eq(r.node_id, pol ? "rich" : "poor", "policy %d", pol);
    sc_fleet_destroy(f);
  }
}

Test(policy, suanchi_sends_cpu_only_pods_where_gpus_are_busy) {
  sc_sched_task w[] = {{.cpu_milli = 4000, .gpus = 1, .gpu_milli = 1000, .weight = 9},
                       {.cpu_milli = 2000, .gpus = 0, .weight = 1}};
  sc_sched_result r;
  for (int pol = 0; pol < 2; pol++) {
    sc_fleet *f = sc_fleet_create(pol ? SC_POLICY_SUANCHI : SC_POLICY_FGD);
    add(f, (nodedef){.id = "a", .cpu = 128000, .ndev = 8});
    add(f, (nodedef){.id = "b", .cpu = 128000, .ndev = 8});
    sc_fleet_set_workload(f, w, 2, NULL);
    cr_assert_eq(place(f, (sc_sched_req){.gpus = 8, .cpu_milli = 8000}, &r), 0);
    cr_assert_str_eq(r.node_id, "a", "equal nodes: rank order");
    uint32_t rank[2] = {1, 0}; /* now the free node "b" wins ties */
    sc_fleet_set_ranks(f, rank);
    cr_assert_eq(place(f, (sc_sched_req){.cpu_milli = 2000}, &r), 0);
    /* fgd: F changes nowhere (σ(0) = 50 on both), the tie goes to "b"; suanchi: "b" has idle GPUs */
    cr_assert_str_eq(r.node_id, pol ? "a" : "b", "policy %d", pol);
    sc_fleet_destroy(f);
  }
}

Test(policy, suanchi_is_fgd_when_many_tasks_are_chip_bound) {
  /* as suanchi_keeps_cpu_for_gpus, but a third of the GPU tasks need a chip: the CPU terms are off */
  sc_sched_task w[] = {{.cpu_milli = 4000, .gpus = 1, .gpu_milli = 1000, .weight = 6},
                       {.cpu_milli = 4000, .gpus = 1, .gpu_milli = 1000, .chips = "H100-SXM-80GB", .weight = 3},
                       {.cpu_milli = 8000, .gpus = 0, .weight = 1}};
  sc_fleet *f = sc_fleet_create(SC_POLICY_SUANCHI);
  add(f, (nodedef){.id = "poor", .cpu = 20000, .ndev = 8});
  add(f, (nodedef){.id = "rich", .cpu = 128000, .ndev = 8});
  sc_fleet_set_workload(f, w, 3, NULL);
  sc_sched_result r;
  cr_assert_eq(place(f, (sc_sched_req){.cpu_milli = 8000}, &r), 0);
  cr_assert_str_eq(r.node_id, "poor");
  sc_fleet_destroy(f);
}

Test(policy, suanchi_keeps_scarce_chips_for_the_tasks_bound_to_them) {
  /* Half the GPU tasks (500 milli each) may only use T4, 2 of the 10 GPUs: scarcity 0.5·500/(2000/10000) */
  sc_sched_task w[] = {{.cpu_milli = 1000, .gpus = 1, .gpu_milli = 500, .chips = "T4", .weight = 5},
                       {.cpu_milli = 1000, .gpus = 1, .gpu_milli = 500, .weight = 5}};
  sc_sched_result r;
  for (int pol = 0; pol < 2; pol++) { /* fgd computes the same figures but does not use them */
    sc_fleet *f = sc_fleet_create(pol ? SC_POLICY_SUANCHI : SC_POLICY_FGD);
    add(f, (nodedef){.id = "t4", .ndev = 2, .chip = "T4"});
    add(f, (nodedef){.id = "g2", .ndev = 8, .chip = "G2"});
    sc_fleet_set_workload(f, w, 2, NULL);
    cr_assert_eq(place(f, (sc_sched_req){.gpus = 1, .gpu_milli = 500, .chips = "T4"}, &r), 0);
    cr_assert_eq(place(f, (sc_sched_req){.gpus = 1, .gpu_milli = 500}, &r), 0);
    int t4 = sc_fleet_find_node(f, "t4");
    cr_assert_float_eq(f->wl[f->nodes[t4].chip].scarce, 1250, 1e-9);
    cr_assert_float_eq(f->wl[f->nodes[sc_fleet_find_node(f, "g2")].chip].scarce, 0, 1e-9);
    if (pol) {
      cr_assert_str_eq(r.node_id, "g2");
      cr_assert_eq(r.ncand, 2);
      cr_assert_str_eq(r.top[1].node_id, "t4");
      cr_assert_lt(r.top[1].score, r.top[0].score, "the T4 node pays for its scarcity");
    }
    sc_fleet_destroy(f);
  }
}

Test(policy, random_spreads_with_the_given_rng) {
  sc_fleet *f = sc_fleet_create(SC_POLICY_RANDOM);
  add(f, (nodedef){.id = "a", .ndev = 8});
  add(f, (nodedef){.id = "b", .ndev = 8});
  add(f, (nodedef){.id = "c", .ndev = 8});
  sc_rng rng;
  sc_rng_seed(&rng, 7);
  int hits[3] = {0};
  sc_sched_result r;
  for (int i = 0; i < 30; i++) {
    sc_sched_req q = {.cpu_milli = 100, .gpus = 1, .gpu_milli = 100};
    cr_assert_eq(sc_fleet_place(f, &q, &rng, 0, &r, NULL), 0);
    hits[r.node]++;
  }
  for (int i = 0; i < 3; i++) cr_assert_gt(hits[i], 2, "node %d got %d", i, hits[i]);
  sc_fleet_destroy(f);
}

Test(policy, scores_are_cached_but_follow_changes) {
  /* same request class twice; after a release the cache must see the freed node again */
  sc_fleet *f = sc_fleet_create(SC_POLICY_SUANCHI);
  add(f, (nodedef){.id = "a", .ndev = 1});
  sc_sched_result r;
  cr_assert_eq(place(f, (sc_sched_req){.gpus = 1}, &r), 0);
  uint64_t h = r.handle;
  cr_assert_eq(place(f, (sc_sched_req){.gpus = 1}, &r), SC_EUNAVAIL);
  cr_assert_eq(sc_fleet_release(f, h, NULL), 0);
  cr_assert_eq(place(f, (sc_sched_req){.gpus = 1}, &r), 0);
  sc_fleet_set_policy(f, SC_POLICY_BESTFIT);
  cr_assert_eq(place(f, (sc_sched_req){.gpus = 1}, &r), SC_EUNAVAIL);
  sc_fleet_destroy(f);
}

Test(rng, deterministic_and_bounded) {
  sc_rng a, b;
  sc_rng_seed(&a, 42);
  sc_rng_seed(&b, 42);
  for (int i = 0; i < 100; i++) cr_assert_eq(sc_rng_next(&a), sc_rng_next(&b));
  for (int i = 0; i < 1000; i++) {
    cr_assert_lt(sc_rng_below(&a, 7), 7);
    double d = sc_rng_double(&a);
    cr_assert(d >= 0 && d < 1);
  }
}
