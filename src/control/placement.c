/*
 * placement.c — the control plane's view of the fleet for the scheduler (src/sched), and the
 * dry-run placement endpoint POST /api/v1/place.
 *
 * The registry is turned into an sc_fleet: one scheduler node per pool node. A node's devices
 * must be one chip for the scheduler, so a node with several chips contributes the devices of
 * its most common accelerator chip (its `cpu` device counts only when it has no accelerator;
 * then the host is one device of chip CPU-x86_64 whose memory is the host's RAM). Down nodes
 * are unhealthy, cordoned and draining ones unschedulable; a device whose health is not "ok"
 * is unhealthy. Agents do not report node CPU and memory separately yet, so they do not
 * constrain placement (documented in docs/internals/control.md).
 */
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/rng.h"
#include "base/util.h"
#include "control/internal.h"
#include "net/http.h"
#include "sched/sched.h"

#define NODE_UNBOUNDED (INT64_C(1) << 36)

/* Picks the devices a node contributes: indexes into n->st.devices. Returns the count. */
static int node_devices(const ctl_node *n, int *idx) {
  int best = -1, bestcount = 0;
  for (int i = 0; i < n->st.ndevices; i++) {
    if (strcmp(n->st.devices[i].vendor, "cpu") == 0) continue;
    int cnt = 0;
    for (int j = 0; j < n->st.ndevices; j++) cnt += strcmp(n->st.devices[j].chip, n->st.devices[i].chip) == 0;
    if (cnt > bestcount) {
      best = i;
      bestcount = cnt;
    }
  }
  int k = 0;
  for (int i = 0; i < n->st.ndevices && k < SC_SCHED_MAX_DEVS; i++) {
    bool take = best >= 0 ? strcmp(n->st.devices[i].chip, n->st.devices[best].chip) == 0
                          : strcmp(n->st.devices[i].vendor, "cpu") == 0;
    if (take) idx[k++] = i;
  }
  return k;
}

int ctl_fleet_build(ctl *c, int policy, sc_fleet **out, sc_err *e) {
  sc_fleet *f = sc_fleet_create((sc_sched_policy)policy);
  for (int i = 0; i < c->reg.n; i++) {
    const ctl_node *n = c->reg.nodes[i];
    int idx[SC_SCHED_MAX_DEVS];
    int nd = node_devices(n, idx);
    sc_device_spec devs[SC_SCHED_MAX_DEVS];
    for (int k = 0; k < nd; k++) {
      const sc_store_device *d = &n->st.devices[idx[k]];
      devs[k] = (sc_device_spec){.vendor = d->vendor, .chip = d->chip, .mem_mib = d->memory_mib,
                                 .healthy = strcmp(d->health, "ok") == 0};
    }
    sc_node_spec ns = {.id = n->st.id, .region = n->region, .owner = n->owner,
                       .owner_kind = strcmp(n->owner_kind, "pool") == 0 ? SC_OWNER_POOL : SC_OWNER_SELF,
                       .cpu_milli = NODE_UNBOUNDED, .mem_mib = NODE_UNBOUNDED,
                       .schedulable = strcmp(n->st.admin_state, "active") == 0};
    int rc = sc_fleet_add_node(f, &ns, devs, nd, e);
    if (rc) {
      sc_fleet_destroy(f);
      return rc;
    }
    if (strcmp(n->st.state, "ready") != 0) sc_fleet_set_node_health(f, n->st.id, SC_SCHED_UNHEALTHY, NULL);
    for (int k = 0; k < nd; k++)
      if (!devs[k].healthy) sc_fleet_set_device_health(f, n->st.id, k, SC_SCHED_UNHEALTHY, NULL);
  }
  *out = f;
  return 0;
}

/* Device indexes of the scheduler's node (k) back to the node's own device indexes. */
int ctl_fleet_device_index(const ctl_node *n, int k) {
  int idx[SC_SCHED_MAX_DEVS];
  int nd = node_devices(n, idx);
  return k >= 0 && k < nd ? idx[k] : -1;
}

json_t *ctl_place_result_json(ctl *c, const struct sc_sched_result *r, bool placed) {
  json_t *top = json_array();
  for (int i = 0; i < r->ncand; i++) {
    const ctl_node *n = ctl_reg_get(&c->reg, r->top[i].node_id);
    json_array_append_new(top, json_pack("{s:s,s:s,s:f}", "node_id", r->top[i].node_id, "node", n ? n->st.name : "",
                                         "score", r->top[i].score));
  }
  json_t *o = json_pack("{s:b,s:i,s:o,s:s}", "placed", placed, "feasible_nodes", r->nfeasible, "candidates", top,
                        "why", r->why);
  if (placed) {
    const ctl_node *n = ctl_reg_get(&c->reg, r->node_id);
    json_t *devs = json_array();
    for (int i = 0; i < r->ndev; i++)
      json_array_append_new(devs, json_integer(n ? ctl_fleet_device_index(n, r->dev[i]) : r->dev[i]));
    json_object_set_new(o, "node_id", json_string(r->node_id));
    json_object_set_new(o, "node", json_string(n ? n->st.name : ""));
    json_object_set_new(o, "region", json_string(n ? n->region : ""));
    json_object_set_new(o, "owner", json_string(n ? n->owner : ""));
    json_object_set_new(o, "chip", json_string(n && r->ndev ? n->st.devices[ctl_fleet_device_index(n, r->dev[0])].chip : ""));
    json_object_set_new(o, "devices", devs);
    json_object_set_new(o, "gpu_milli", json_integer(r->gpu_milli));
    json_object_set_new(o, "score", json_real(r->score));
  } else {
    json_object_set_new(o, "never", json_boolean(r->never));
  }
  return o;
}

/* POST /api/v1/place — where would this request go now? Nothing is reserved. */
void ctl_place_dry_run(ctl *c, sc_hreq *req, const json_t *b, sc_err *e, int *status) {
  static const sc_json_field f[] = {{"gpus", SC_JSON_INT, false, 0, SC_SCHED_MAX_GPUS, 0, false},
                                    {"gpu_milli", SC_JSON_INT, false, 1, 1000, 0, false},
                                    {"gpu_mem_mib", SC_JSON_INT, false, 0, INT64_C(1) << 30, 0, false},
                                    {"min_device_mem_mib", SC_JSON_INT, false, 0, INT64_C(1) << 30, 0, false},
                                    {"cpu_milli", SC_JSON_INT, false, 0, INT64_C(1) << 30, 0, false},
                                    {"mem_mib", SC_JSON_INT, false, 0, INT64_C(1) << 30, 0, false},
                                    {"chips", SC_JSON_STRING, false, 0, 0, 255, false},
                                    {"region", SC_JSON_STRING, false, 0, 0, 63, false},
                                    {"region_strict", SC_JSON_BOOL, false, 0, 0, 0, false},
                                    {"pool_ok", SC_JSON_BOOL, false, 0, 0, 0, false},
                                    {"pool_only", SC_JSON_BOOL, false, 0, 0, 0, false},
                                    {"policy", SC_JSON_STRING, false, 0, 0, 32, false},
                                    {"dry_run", SC_JSON_BOOL, true, 0, 0, 0, false},
                                    {0}};
  int rc = sc_json_check(b, f, NULL, e);
  sc_sched_policy pol = SC_POLICY_SUANCHI;
  if (!rc && !sc_json_bool(b, "dry_run", false))
    rc = sc_err_set(e, SC_EINVAL, "invalid_request",
                    "only dry runs are supported here; deployments place their replicas themselves");
  if (!rc && sc_json_str(b, "policy", NULL) && sc_sched_policy_parse(sc_json_str(b, "policy", ""), &pol))
    rc = sc_err_set(e, SC_EINVAL, "invalid_request",
                    "unknown policy '%s' (random, dotprod, gpu-clustering, gpu-packing, best-fit, fgd, suanchi)",
                    sc_json_str(b, "policy", ""));
  if (rc) {
    *status = 400;
    sc_http_reply_err(req, rc, e);
    return;
  }
  sc_fleet *fl = NULL;
  if ((rc = ctl_fleet_build(c, pol, &fl, e))) {
    *status = 500;
    sc_http_reply_err(req, rc, e);
    return;
  }
  sc_sched_req r = {.cpu_milli = sc_json_int(b, "cpu_milli", 0),
                    .mem_mib = sc_json_int(b, "mem_mib", 0),
                    .gpus = (int)sc_json_int(b, "gpus", 0),
                    .gpu_milli = (int)sc_json_int(b, "gpu_milli", 1000),
                    .gpu_mem_mib = sc_json_int(b, "gpu_mem_mib", 0),
                    .min_dev_mem_mib = sc_json_int(b, "min_device_mem_mib", 0),
                    .chips = sc_json_str(b, "chips", NULL),
                    .region = sc_json_str(b, "region", NULL),
                    .region_strict = sc_json_bool(b, "region_strict", false),
                    .allow_pool = sc_json_bool(b, "pool_ok", false) || sc_json_bool(b, "pool_only", false),
                    .pool_only = sc_json_bool(b, "pool_only", false),
                    .explain = true};
  sc_rng rng;
  sc_rng_seed(&rng, (uint64_t)sc_mono_ns());
  sc_sched_result res;
  rc = sc_fleet_place(fl, &r, &rng, sc_wall_ms(), &res, e);
  sc_fleet_destroy(fl);
  if (rc == SC_EINVAL) {
    *status = 400;
    sc_http_reply_err(req, rc, e);
    return;
  }
  json_t *o = ctl_place_result_json(c, &res, rc == 0);
  json_object_set_new(o, "policy", json_string(sc_sched_policy_name(pol)));
  *status = 200;
  sc_http_reply_json(req, 200, o);
}
