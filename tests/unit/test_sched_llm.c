/* Unit tests for src/sched/llm.c: LLM replica placement by cost per token under an SLO. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "chips/chips.h"
#include "sched/sched.h"

static sc_chips *cat;

static void setup(void) {
  cat = sc_chips_create();
  sc_err e;
  cr_assert_eq(sc_chips_load_builtin(cat, &e), 0, "%s", e.msg);
}

static void teardown(void) { sc_chips_destroy(cat); }

static void add(sc_fleet *f, const char *id, const char *chip, int ndev, const char *region, sc_owner_kind kind) {
  const sc_chip *c = sc_chips_find(cat, chip);
  cr_assert_not_null(c, "%s", chip);
  sc_device_spec d[8];
  for (int i = 0; i < ndev; i++)
    d[i] = (sc_device_spec){.vendor = c->vendor, .chip = chip, .mem_mib = (int64_t)(c->memory_gib * 1024), .healthy = true};
  sc_node_spec n = {.id = id, .region = region, .owner = id, .owner_kind = kind, .cpu_milli = 64000,
                    .mem_mib = 524288, .schedulable = true};
  sc_err e;
  cr_assert_eq(sc_fleet_add_node(f, &n, d, ndev, &e), 0, "%s", e.msg);
}

/* Llama-2-7B in BF16: 14 GB of weights, 0.5 MiB of KV per token; 4 sequences of 4,096 tokens. */
static const sc_llm_model m7b = {.weight_bytes = 14e9, .kv_bytes_per_token = 524288, .context = 4096,
                                 .concurrency = 4};
/* A 70B model with GQA: 140 GB of weights, 320 KiB of KV per token. */
static const sc_llm_model m70b = {.weight_bytes = 140e9, .kv_bytes_per_token = 327680, .context = 4096,
                                  .concurrency = 4};

static int place(sc_fleet *f, const sc_llm_model *m, double tpot, sc_sched_req base, sc_sched_result *r,
                 sc_llm_plan *p) {
  sc_llm_slo slo = {.tpot_ms = tpot};
  sc_err e = {0};
  int rc = sc_fleet_place_llm(f, cat, m, &slo, NULL, &base, NULL, 0, r, p, &e);
  if (rc && rc != SC_EUNAVAIL) cr_log_error("%s", e.msg);
  return rc;
}

TestSuite(llm, .init = setup, .fini = teardown);

Test(llm, estimates_follow_the_documented_model) {
  double tpot, ttft;
  const sc_chip *h = sc_chips_find(cat, "H100-SXM-80GB");
  sc_llm_estimate(&m7b, h->mem_bw_tbps, h->bf16_tflops, 1, &tpot, &ttft);
  double bytes = 14e9 + 4.0 * 4096 * 524288;
  cr_assert_float_eq(tpot, bytes / (3.35e12 * 0.7) * 1e3, 1e-6);
  cr_assert_float_eq(ttft, 2 * 7e9 * 2048 / (989e12 * 0.5) * 1e3 + tpot, 1e-6);
  cr_assert_float_eq(sc_llm_mem_per_dev_mib(&m7b, 1), 1.1 * bytes / 1048576.0, 1e-6);
  sc_llm_costs c = {.years = 5, .usd_per_kwh = 0.10, .pue = 1.3, .pool_share = 0.7};
  cr_assert_float_eq(sc_llm_device_usd_per_hour(&c, 30000, 700, 2.0, false), 30000 / (5 * 8766.0) + 0.7 * 1.3 * 0.1,
                     1e-9);
  cr_assert_float_eq(sc_llm_device_usd_per_hour(&c, 30000, 700, 2.0, true), 1.4, 1e-9);
}

Test(llm, seven_b_goes_to_the_cheapest_chip_that_meets_tpot) {
  sc_fleet *f = sc_fleet_create(SC_POLICY_SUANCHI);
  add(f, "h100", "H100-SXM-80GB", 1, "", SC_OWNER_SELF);
  add(f, "l40s", "L40S-48GB", 1, "", SC_OWNER_SELF);
  add(f, "g4090", "RTX4090-24GB", 1, "", SC_OWNER_SELF);
  sc_sched_result r;
  sc_llm_plan p;
  /* relaxed TPOT: the RTX 4090 (≈ 32 ms) is cheapest per token */
  cr_assert_eq(place(f, &m7b, 50, (sc_sched_req){0}, &r, &p), 0, "%s", r.why);
  cr_assert_str_eq(r.node_id, "g4090");
  cr_assert_str_eq(p.chip, "RTX4090-24GB");
  cr_assert_eq(p.devices, 1);
  cr_assert_lt(p.tpot_ms, 50);
  cr_assert_gt(p.usd_per_mtok, 0);
  /* tight TPOT: 4090 needs 4 devices (no such node), L40S needs 4; one H100 (≈ 9.6 ms) is next */
  cr_assert_eq(place(f, &m7b, 12, (sc_sched_req){0}, &r, &p), 0, "%s", r.why);
  cr_assert_str_eq(r.node_id, "h100");
  cr_assert_str_eq(p.chip, "H100-SXM-80GB");
  cr_assert_eq(p.devices, 1);
  cr_assert_lt(p.tpot_ms, 12);
  /* impossible TPOT: explained per chip */
  cr_assert_eq(place(f, &m7b, 0.5, (sc_sched_req){0}, &r, &p), SC_EUNAVAIL);
  cr_assert(strstr(r.why, "H100-SXM-80GB: TPOT"), "%s", r.why);
  cr_assert(strstr(r.why, "> 0.5"), "%s", r.why);
  cr_assert(r.never);
  sc_fleet_destroy(f);
}

Test(llm, model_larger_than_a_device_needs_several_on_one_node) {
  sc_fleet *f = sc_fleet_create(SC_POLICY_SUANCHI);
  add(f, "a", "H100-SXM-80GB", 1, "", SC_OWNER_SELF);
  add(f, "b", "H100-SXM-80GB", 1, "", SC_OWNER_SELF);
  sc_sched_result r;
  sc_llm_plan p;
  cr_assert_eq(place(f, &m70b, 50, (sc_sched_req){0}, &r, &p), SC_EUNAVAIL);
  cr_assert(strstr(r.why, "model needs"), "%s", r.why);
  cr_assert(strstr(r.why, "2×H100-SXM-80GB: can never fit: 2 nodes: 2 fewer than 2 free GPUs"), "%s", r.why);
  cr_assert(r.never);
  cr_assert_eq(sc_fleet_placements(f), 0);
  add(f, "big", "H100-SXM-80GB", 8, "", SC_OWNER_SELF);
  cr_assert_eq(place(f, &m70b, 50, (sc_sched_req){0}, &r, &p), 0, "%s", r.why);
  cr_assert_str_eq(r.node_id, "big");
  cr_assert_eq(r.ndev, 2);
  cr_assert_eq(p.devices, 2);
  cr_assert_gt(p.mem_per_dev_mib, 70 * 1024);
  /* a fleet of small devices only: the plan needs more devices than any node has */
  sc_fleet *g = sc_fleet_create(SC_POLICY_SUANCHI);
  add(g, "s", "L20-48GB", 2, "", SC_OWNER_SELF);
  cr_assert_eq(place(g, &m70b, 200, (sc_sched_req){0}, &r, &p), SC_EUNAVAIL);
  cr_assert(strstr(r.why, "4×L20-48GB: can never fit: 1 node: 1 fewer than 4 free GPUs"), "%s", r.why);
  sc_fleet_destroy(g);
  sc_fleet_destroy(f);
}

Test(llm, region_and_pool_constraints) {
  sc_fleet *f = sc_fleet_create(SC_POLICY_SUANCHI);
  add(f, "east-pool-4090", "RTX4090-24GB", 1, "east", SC_OWNER_POOL);
  add(f, "east-h100", "H100-SXM-80GB", 1, "east", SC_OWNER_SELF);
  add(f, "west-h100", "H100-SXM-80GB", 1, "west", SC_OWNER_SELF);
  sc_sched_result r;
  sc_llm_plan p;
  /* pool not allowed: the pool 4090 is out even though its chip is cheapest */
  cr_assert_eq(place(f, &m7b, 50, (sc_sched_req){.region = "east", .region_strict = true}, &r, &p), 0, "%s", r.why);
  cr_assert_str_eq(r.node_id, "east-h100");
  cr_assert_not(p.pool);
  /* region west */
  cr_assert_eq(place(f, &m7b, 50, (sc_sched_req){.region = "west", .region_strict = true}, &r, &p), 0, "%s", r.why);
  cr_assert_str_eq(r.node_id, "west-h100");
  /* pool only: priced at the owner's share of the rent (0.7 × $0.45/h) */
  cr_assert_eq(place(f, &m7b, 50, (sc_sched_req){.pool_only = true}, &r, &p), 0, "%s", r.why);
  cr_assert_str_eq(r.node_id, "east-pool-4090");
  cr_assert(p.pool);
  cr_assert_float_eq(p.usd_per_hour, 0.7 * 0.45, 1e-9);
  /* nothing left in the east */
  cr_assert_eq(place(f, &m7b, 50, (sc_sched_req){.region = "east", .region_strict = true, .allow_pool = true}, &r, &p),
               SC_EUNAVAIL);
  cr_assert(strstr(r.why, "wrong region"), "%s", r.why);
  cr_assert_not(r.never, "the east nodes are busy, not unsuitable");
  sc_fleet_destroy(f);
}

Test(llm, bad_models_are_rejected) {
  sc_fleet *f = sc_fleet_create(SC_POLICY_SUANCHI);
  add(f, "a", "H100-SXM-80GB", 1, "", SC_OWNER_SELF);
  sc_llm_model bad = m7b;
  bad.concurrency = 0;
  sc_llm_slo slo = {0};
  sc_sched_req base = {0};
  sc_sched_result r;
  sc_llm_plan p;
  sc_err e;
  cr_assert_eq(sc_fleet_place_llm(f, cat, &bad, &slo, NULL, &base, NULL, 0, &r, &p, &e), SC_EINVAL);
  cr_assert(strstr(e.msg, "concurrency >= 1"), "%s", e.msg);
  cr_assert_eq(sc_fleet_placements(f), 0);
  sc_fleet_destroy(f);
}
