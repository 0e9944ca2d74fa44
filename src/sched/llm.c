/*
 * llm.c — LLM replica placement: turns a model and its SLO into per-chip device needs and places
 * the replica where the estimated cost per output token is lowest among plans meeting the SLO.
 *
 * Plans are (chip present in the fleet and in the catalogue, 1/2/4/8 whole devices on one node,
 * own or open-pool nodes). For each plan:
 *   memory/device = 1.1 × (weights + concurrency × context × kv_bytes_per_token) / devices
 *   decode step   = max(bytes read / (devices × bandwidth × 0.7 × tp),
 *                       2 × params × concurrency / (devices × bf16 FLOP/s × 0.5 × tp))
 *                   bytes read = weights + concurrency × context × kv_bytes_per_token;
 *                   tp = 1 for one device, 0.9 for several (tensor-parallel overhead)
 *   TPOT = decode step; TTFT = 2 × params × prompt / (devices × FLOP/s × 0.5 × tp) + one step
 *   cost/h = Σ devices' cost (sc_llm_device_usd_per_hour); $/Mtok = cost/h / (3600 × concurrency
 *   / TPOT) × 1e6.
 * Plans that fit memory and SLO are tried cheapest first against the fleet (sc_fleet_place with
 * the chip, device count and per-device memory); the first that places wins. If none does, why
 * lists each chip's best reason.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "chips/chips.h"
#include "sched/internal.h"

#define MEM_OVERHEAD 1.1
#define BW_EFF 0.7
#define FLOP_EFF 0.5
#define TP_EFF 0.9
#define HOURS_PER_YEAR 8766.0

static const int dev_counts[] = {1, 2, 4, 8};

double sc_llm_mem_per_dev_mib(const sc_llm_model *m, int devices) {
  double kv = (double)m->concurrency * m->context * m->kv_bytes_per_token;
  return MEM_OVERHEAD * (m->weight_bytes + kv) / devices / (1024.0 * 1024.0);
}

void sc_llm_estimate(const sc_llm_model *m, double bw_tbps, double bf16_tflops, int devices, double *tpot_ms,
                     double *ttft_ms) {
  double params = m->params > 0 ? m->params : m->weight_bytes / 2;
  double tp = devices > 1 ? TP_EFF : 1.0;
  double bytes = m->weight_bytes + (double)m->concurrency * m->context * m->kv_bytes_per_token;
  double bw = devices * bw_tbps * 1e12 * BW_EFF * tp, flops = devices * bf16_tflops * 1e12 * FLOP_EFF * tp;
  double t_mem = bw > 0 ? bytes / bw : INFINITY;
  double t_cmp = flops > 0 ? 2 * params * m->concurrency / flops : INFINITY;
  double step = fmax(t_mem, t_cmp);
  int prompt = m->prompt_tokens > 0 ? m->prompt_tokens : m->context / 2;
  *tpot_ms = step * 1e3;
  *ttft_ms = (flops > 0 ? 2 * params * prompt / flops : INFINITY) * 1e3 + *tpot_ms;
}

double sc_llm_device_usd_per_hour(const sc_llm_costs *c, double purchase_usd, double tdp_w, double rent_usd_per_hour,
                                  bool pool) {
  if (pool && rent_usd_per_hour > 0) return c->pool_share * rent_usd_per_hour;
  return purchase_usd / (c->years * HOURS_PER_YEAR) + tdp_w / 1000.0 * c->pue * c->usd_per_kwh;
}

typedef struct plan {
  sc_llm_plan p;
  int chip; /* fleet chip index */
} plan;

static int cmp_plan(const void *a, const void *b) {
  const plan *x = a, *y = b;
  if (x->p.usd_per_mtok != y->p.usd_per_mtok) return x->p.usd_per_mtok < y->p.usd_per_mtok ? -1 : 1;
  return x->p.devices - y->p.devices;
}

static void append(char *buf, size_t cap, const char *fmt, const char *a, double x, double y) {
  size_t o = strlen(buf);
  if (o + 1 >= cap) return;
  snprintf(buf + o, cap - o, fmt, a, x, y);
}

int sc_fleet_place_llm(sc_fleet *f, const sc_chips *catalogue, const sc_llm_model *m, const sc_llm_slo *slo,
                       const sc_llm_costs *costs, const sc_sched_req *base, sc_rng *rng, int64_t now_ms,
                       sc_sched_result *out, sc_llm_plan *plan_out, sc_err *e) {
  memset(out, 0, sizeof *out);
  out->node = -1;
  memset(plan_out, 0, sizeof *plan_out);
  if (!m || !slo || !base || !catalogue)
    return sc_err_set(e, SC_EINVAL, "invalid_request", "model, SLO, request and catalogue are required");
  if (!(m->weight_bytes > 0) || !isfinite(m->weight_bytes) || m->kv_bytes_per_token < 0 || m->context < 1 ||
      m->concurrency < 1 || m->params < 0 || m->prompt_tokens < 0 || slo->ttft_ms < 0 || slo->tpot_ms < 0)
    return sc_err_set(e, SC_EINVAL, "invalid_request",
                      "model needs weight_bytes > 0, context >= 1, concurrency >= 1 and non-negative KV, SLO");
  sc_llm_costs c = {.years = 5, .usd_per_kwh = 0.10, .pue = 1.3, .pool_share = 0.7};
  if (costs) {
    if (costs->years > 0) c.years = costs->years;
    if (costs->usd_per_kwh > 0) c.usd_per_kwh = costs->usd_per_kwh;
    if (costs->pue > 0) c.pue = costs->pue;
    if (costs->pool_share > 0) c.pool_share = costs->pool_share;
  }
  uint64_t allowed = sched_chip_mask(f, base->chips);
  int nchips = f->chips.n;
  plan *plans = sc_xcalloc((size_t)(nchips ? nchips : 1) * 8, sizeof *plans);
  int np = 0;
  char why[sizeof out->why] = "";
  double need1 = sc_llm_mem_per_dev_mib(m, 1);
  bool has_pool = false, has_self = false;
  for (int n = 0; n < f->nnodes; n++) {
    if (f->nodes[n].kind == SC_OWNER_POOL) has_pool = true;
    else has_self = true;
  }
  for (int ci = 0; ci < nchips; ci++) {
    const char *key = f->chips.s[ci];
    if (!(allowed >> ci & 1)) continue;
    const sc_chip *chip = sc_chips_find(catalogue, key);
    /* a chip whose memory is the host's (the CPU row) takes its size from the fleet's devices */
    double fleet_mem = 0;
    for (int d = 0; d < f->ndevs; d++)
      if (f->devs[d].mem > fleet_mem) {
        for (int n = 0; n < f->nnodes; n++)
          if (f->nodes[n].chip == ci && d >= f->nodes[n].dev0 && d < f->nodes[n].dev0 + f->nodes[n].ndev) {
            fleet_mem = (double)f->devs[d].mem;
            break;
          }
      }
    if (!chip || (chip->memory_gib <= 0 && fleet_mem <= 0) || chip->mem_bw_tbps <= 0) {
      append(why, sizeof why, "%s%s: not in the chip catalogue", *why ? "; " : "", 0, 0);
      size_t o = strlen(why);
      snprintf(why + o, sizeof why - o, " (%s)", key);
      continue;
    }
    double devmem = chip->memory_gib > 0 ? chip->memory_gib * 1024.0 : fleet_mem;
    const char *chip_reason = NULL;
    double r1 = 0, r2 = 0;
    for (size_t k = 0; k < sizeof dev_counts / sizeof dev_counts[0]; k++) {
      int nd = dev_counts[k];
      double need = sc_llm_mem_per_dev_mib(m, nd);
      if (need > devmem) {
        chip_reason = "needs %.0f GiB per device, has %.0f";
        r1 = need / 1024.0, r2 = devmem / 1024.0;
        continue;
      }
      double tpot, ttft;
      sc_llm_estimate(m, chip->mem_bw_tbps, chip->bf16_tflops, nd, &tpot, &ttft);
      if ((slo->tpot_ms > 0 && tpot > slo->tpot_ms) || (slo->ttft_ms > 0 && ttft > slo->ttft_ms)) {
        bool t = slo->tpot_ms > 0 && tpot > slo->tpot_ms;
        chip_reason = t ? "TPOT %.1f ms > %.1f" : "TTFT %.0f ms > %.0f";
        r1 = t ? tpot : ttft, r2 = t ? slo->tpot_ms : slo->ttft_ms;
        continue;
      }
      for (int pool = 0; pool < 2; pool++) {
        if (pool ? !(base->allow_pool || base->pool_only) || !has_pool : base->pool_only || !has_self) continue;
        plan *p = &plans[np++];
        p->chip = ci;
        sc_strlcpy(p->p.chip, key, sizeof p->p.chip);
        p->p.devices = nd;
        p->p.pool = pool;
        p->p.mem_per_dev_mib = (int64_t)ceil(need);
        p->p.tpot_ms = tpot;
        p->p.ttft_ms = ttft;
        p->p.tok_s = m->concurrency / (tpot / 1e3);
        p->p.usd_per_hour =
            nd * sc_llm_device_usd_per_hour(&c, chip->purchase_usd, chip->tdp_w, chip->rent_usd_per_hour, pool);
        p->p.usd_per_mtok = p->p.usd_per_hour / (3600.0 * p->p.tok_s) * 1e6;
      }
      break; /* more devices of this chip only cost more per token once one count meets the SLO */
    }
    if (chip_reason && !np) {
      size_t o = strlen(why);
      snprintf(why + o, sizeof why - o, "%s%s: ", *why ? "; " : "", key);
      o = strlen(why);
      snprintf(why + o, sizeof why - o, chip_reason, r1, r2);
    } else if (chip_reason) {
      bool any = false;
      for (int i = 0; i < np; i++) any |= plans[i].chip == ci;
      if (!any) {
        size_t o = strlen(why);
        snprintf(why + o, sizeof why - o, "%s%s: ", *why ? "; " : "", key);
        o = strlen(why);
        snprintf(why + o, sizeof why - o, chip_reason, r1, r2);
      }
    }
  }
  qsort(plans, (size_t)np, sizeof *plans, cmp_plan);
  int rc = SC_EUNAVAIL;
  bool all_never = true;
  for (int i = 0; i < np; i++) {
    sc_sched_req r = *base;
    r.gpus = plans[i].p.devices;
    r.gpu_milli = 1000;
    r.gpu_mem_mib = plans[i].p.mem_per_dev_mib;
    r.chips = plans[i].p.chip;
    r.pool_only = plans[i].p.pool;
    r.allow_pool = plans[i].p.pool;
    sc_sched_result res;
    rc = sc_fleet_place(f, &r, rng, now_ms, &res, e);
    if (rc == 0) {
      *out = res;
      *plan_out = plans[i].p;
      goto done;
    }
    if (rc != SC_EUNAVAIL) goto done;
    all_never &= res.never;
    size_t o = strlen(why);
    snprintf(why + o, sizeof why - o, "%s%d×%s%s: %.200s", *why ? "; " : "", plans[i].p.devices, plans[i].p.chip,
             plans[i].p.pool ? " (pool)" : "", res.why);
  }
  if (!np && !*why) snprintf(why, sizeof why, "no chip in the fleet is allowed");
  {
    char num[32];
    snprintf(out->why, sizeof out->why, "model needs %s MiB on one device (%.1f GiB): %.440s",
             sc_sched_fmt_count(num, sizeof num, (long long)ceil(need1)), need1 / 1024.0, why);
  }
  out->never = all_never;
  rc = SC_EUNAVAIL;
done:
  free(plans);
  return rc;
}
