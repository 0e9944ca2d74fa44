/*
 * serving.c — models, deployments and replicas in the control plane, and the reconciler that
 * keeps the replicas equal to what the deployments ask for.
 *
 * Models: a GGUF file is uploaded in chunks to DATA/blobs/SHA256.part (PUT /api/v1/blobs/SHA,
 * resumable: each chunk says its offset), then registered with POST /api/v1/models, which checks
 * the size and the sha256 of the whole file, moves it to DATA/models/SHA256.gguf and reads its
 * shape (architecture, parameters, context, KV bytes per token) for the scheduler. An external
 * model (served by vLLM, SGLang, llama.cpp's server or MindIE) is a name, an engine template and
 * its weight size. Agents download GGUF files from GET /api/v1/agent/models/SHA (Range for resume).
 *
 * Replica states:   pending ──agent starts it──> starting ──health ok──> ready
 *                      │                            │  ^                   │
 *                      │                            v  └──restart──── failed (engine exited)
 *                      └── stopping (undeploy / scale down / node lost) ──> removed
 * The reconciler (every second on the control loop) rebuilds the scheduler's fleet from the
 * registry, records the live replicas on it (sc_fleet_assign), places missing replicas and marks
 * extra ones stopping. A replica on a node that went down is dropped and replaced elsewhere at
 * once; if the node comes back its agent stops the stale copy (it is no longer desired).
 * Agents learn their desired replicas from the heartbeat reply and report states in the next
 * heartbeat; after a control-plane restart the stored replicas are kept and re-adopted from
 * those reports, never restarted.
 */
#include <errno.h>
#include <event2/buffer.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/json.h"
#include "base/log.h"
#include "base/rng.h"
#include "base/secret.h"
#include "base/util.h"
#include "chips/chips.h"
#include "control/internal.h"
#include "engine/gguf.h"
#include "engine/model.h"
#include "net/http.h"
#include "sched/sched.h"
#include "store/serving_store.h"

#define MOD "serving"
#define CHUNK_MAX (16u << 20)
#define PLAN_CONTEXT 4096
#define PLAN_CONCURRENCY 4

/* ---------- loading ---------- */

static void reload_models(ctl *c) {
  sc_err e;
  free(c->sv.models);
  c->sv.models = NULL;
  c->sv.nmodels = 0;
  if (sc_store_list_models(c->store, &c->sv.models, &c->sv.nmodels, &e)) sc_warn(MOD, "%s", e.msg);
}

static void reload_deployments(ctl *c) {
  sc_err e;
  free(c->sv.deps);
  c->sv.deps = NULL;
  c->sv.ndeps = 0;
  if (sc_store_list_deployments(c->store, &c->sv.deps, &c->sv.ndeps, &e)) sc_warn(MOD, "%s", e.msg);
  c->sv.why = sc_xrealloc(c->sv.why, sizeof *c->sv.why * (size_t)(c->sv.ndeps + 1));
  for (int i = 0; i < c->sv.ndeps; i++) c->sv.why[i][0] = 0;
}

int ctl_serving_load(ctl *c, sc_err *e) {
  reload_models(c);
  reload_deployments(c);
  int rc = sc_store_list_replicas(c->store, &c->sv.reps, &c->sv.nreps, e);
  c->sv.capreps = c->sv.nreps;
  c->sv.routes_dirty = true;
  return rc;
}

void ctl_serving_fini(ctl *c) {
  free(c->sv.models);
  free(c->sv.deps);
  free(c->sv.why);
  free(c->sv.reps);
  memset(&c->sv, 0, sizeof c->sv);
}

static const sc_model_row *model_by_name(ctl *c, const char *name) {
  for (int i = 0; i < c->sv.nmodels; i++)
    if (strcmp(c->sv.models[i].name, name) == 0) return &c->sv.models[i];
  return NULL;
}

static const sc_model_row *model_by_id(ctl *c, int64_t id) {
  for (int i = 0; i < c->sv.nmodels; i++)
    if (c->sv.models[i].id == id) return &c->sv.models[i];
  return NULL;
}

static int dep_index_by_id(ctl *c, int64_t id) {
  for (int i = 0; i < c->sv.ndeps; i++)
    if (c->sv.deps[i].id == id) return i;
  return -1;
}

static int dep_index_by_name(ctl *c, const char *name) {
  for (int i = 0; i < c->sv.ndeps; i++)
    if (strcmp(c->sv.deps[i].name, name) == 0) return i;
  return -1;
}

/* ---------- replica bookkeeping ---------- */

static bool live(const sc_replica_row *r) { return strcmp(r->state, "stopping") != 0 && strcmp(r->state, "stopped") != 0; }

static void put_replica(ctl *c, sc_replica_row *r) {
  sc_err e;
  r->updated_at = sc_wall_ms();
  if (sc_store_put_replica(c->store, r, &e)) sc_warn(MOD, "%s", e.msg);
  c->sv.routes_dirty = true;
}

static void drop_replica(ctl *c, int i) {
  sc_err e;
  if (sc_store_delete_replica(c->store, c->sv.reps[i].id, &e)) sc_warn(MOD, "%s", e.msg);
  c->sv.reps[i] = c->sv.reps[--c->sv.nreps];
  c->sv.routes_dirty = true;
}

static void set_state(ctl *c, sc_replica_row *r, const char *state, const char *reason) {
  if (strcmp(r->state, state) == 0 && strcmp(r->reason, reason) == 0) return;
  sc_info(MOD, "replica %s: %s -> %s%s%s", r->id, r->state, state, *reason ? ": " : "", reason);
  sc_strlcpy(r->state, state, sizeof r->state);
  sc_strlcpy(r->reason, reason, sizeof r->reason);
  put_replica(c, r);
}

/* ---------- scheduling ---------- */

static void model_plan(const sc_model_row *m, sc_llm_model *out) {
  memset(out, 0, sizeof *out);
  out->weight_bytes = (double)(m->kind[0] == 'g' ? m->size_bytes : m->weights_bytes);
  out->params = (double)m->params;
  out->kv_bytes_per_token = m->kv_bytes_per_token > 0 ? (double)m->kv_bytes_per_token : out->weight_bytes / 13000.0;
  out->context = m->context > 0 && m->context < PLAN_CONTEXT ? (int)m->context : PLAN_CONTEXT;
  out->concurrency = PLAN_CONCURRENCY;
}

/* Node device index (as stored) -> the scheduler's device index for that node, or -1. */
static int fleet_dev(const ctl_node *n, int idx) {
  for (int k = 0; k < SC_SCHED_MAX_DEVS; k++) {
    int d = ctl_fleet_device_index(n, k);
    if (d < 0) return -1;
    if (d == idx) return k;
  }
  return -1;
}

static int parse_devs(const char *s, int *out, int max) {
  int n = 0;
  const char *p = s;
  while (*p && n < max) {
    char *end;
    long v = strtol(p, &end, 10);
    if (end == p) break;
    out[n++] = (int)v;
    p = *end == ',' ? end + 1 : end;
  }
  return n;
}

void ctl_fleet_apply_replicas(ctl *c, sc_fleet *f) {
  for (int i = 0; i < c->sv.nreps; i++) {
    const sc_replica_row *r = &c->sv.reps[i];
    if (!live(r)) continue;
    const ctl_node *n = ctl_reg_get(&c->reg, r->node_id);
    int di = dep_index_by_id(c, r->deployment_id);
    if (!n || di < 0) continue;
    int idx[SC_SCHED_MAX_GPUS], k[SC_SCHED_MAX_GPUS];
    int nd = parse_devs(r->devices, idx, SC_SCHED_MAX_GPUS), ok = 1;
    for (int j = 0; j < nd; j++) ok &= (k[j] = fleet_dev(n, idx[j])) >= 0;
    if (!ok || !nd) continue;
    sc_sched_req q = {.gpus = nd, .gpu_milli = r->gpu_milli ? r->gpu_milli : 1000, .gpu_mem_mib = r->mem_mib,
                      .deployment = c->sv.deps[di].name};
    uint64_t h;
    sc_err e;
    if (sc_fleet_assign(f, r->node_id, &q, k, &h, &e)) sc_debug(MOD, "replica %s: %s", r->id, e.msg);
  }
}

/* Places one replica of deployment d on f. Returns 0 with row filled, or SC_EUNAVAIL with why. */
static int place_replica(ctl *c, sc_fleet *f, const sc_deployment_row *d, sc_replica_row *row, bool *never, char *why,
                         size_t whycap) {
  const sc_model_row *m = model_by_id(c, d->model_id);
  sc_rng rng;
  sc_rng_seed(&rng, (uint64_t)sc_mono_ns());
  sc_err e = {0};
  sc_sched_result res;
  int rc = SC_EUNAVAIL;
  *never = false;
  why[0] = 0;
  /* Regions are tried in the order given (strict each; none = anywhere). Replicas of one deployment
   * are spread over nodes when possible: a first pass over the regions with the scheduler's spreading
   * rule; only if spreading was an obstacle, a second pass without it (a soft constraint). */
  char regions[256];
  sc_strlcpy(regions, d->regions, sizeof regions);
  const char *regv[32];
  int nreg = 0;
  char *save = NULL;
  for (char *r = strtok_r(regions, "|", &save); r && nreg < 32; r = strtok_r(NULL, "|", &save)) regv[nreg++] = r;
  if (nreg == 0) regv[nreg++] = NULL;
  bool all_never = true, spread_blocked = false;
  for (int pass = 0; pass < 2 && rc; pass++) {
    if (pass == 1 && !spread_blocked) break;
    for (int ri = 0; ri < nreg && rc; ri++) {
      const char *reg = regv[ri];
      sc_sched_req q = {.chips = d->chips[0] ? d->chips : NULL, .region = reg, .region_strict = reg != NULL,
                        .allow_pool = d->pool_ok, .deployment = pass ? NULL : d->name, .explain = false};
      if (d->slice_compute_milli > 0 || d->slice_mem_mib > 0) {
        q.gpus = 1;
        q.gpu_milli = d->slice_compute_milli > 0 ? d->slice_compute_milli : 1000;
        q.gpu_mem_mib = d->slice_mem_mib;
        rc = sc_fleet_place(f, &q, &rng, sc_wall_ms(), &res, &e);
      } else {
        sc_llm_model lm;
        model_plan(m, &lm);
        sc_llm_slo slo = {.ttft_ms = d->slo_ttft_ms, .tpot_ms = d->slo_tpot_ms};
        sc_llm_plan plan;
        rc = sc_fleet_place_llm(f, sc_chips_global(), &lm, &slo, NULL, &q, &rng, sc_wall_ms(), &res, &plan, &e);
      }
      if (rc == SC_EINVAL) {
        snprintf(why, whycap, "%s", e.msg);
        *never = true;
        return rc;
      }
      if (rc == 0) break;
      if (!res.never) all_never = false;
      if (strstr(res.why, "already hosts a replica")) spread_blocked = true;
      if (pass == 0) {
        size_t used = strlen(why);
        snprintf(why + used, whycap - used, "%s%s%s%s", used ? "; " : "", reg ? reg : "", reg ? ": " : "", res.why);
      }
    }
  }
  if (rc) {
    *never = all_never;
    return rc;
  }
  const ctl_node *n = ctl_reg_get(&c->reg, res.node_id);
  memset(row, 0, sizeof *row);
  sc_random_id('r', row->id, sizeof row->id);
  row->deployment_id = d->id;
  sc_strlcpy(row->node_id, res.node_id, sizeof row->node_id);
  size_t used = 0;
  for (int i = 0; i < res.ndev; i++) {
    int w = snprintf(row->devices + used, sizeof row->devices - used, "%s%d", i ? "," : "",
                     n ? ctl_fleet_device_index(n, res.dev[i]) : res.dev[i]);
    if (w > 0) used += (size_t)w;
  }
  row->gpu_milli = res.gpu_milli;
  row->mem_mib = d->slice_mem_mib;
  sc_strlcpy(row->state, "pending", sizeof row->state);
  row->created_at = row->updated_at = sc_wall_ms();
  return 0;
}

void ctl_serving_reconcile(ctl *c) {
  /* replicas on nodes that are gone or down are lost: drop them so they are replaced */
  for (int i = c->sv.nreps - 1; i >= 0; i--) {
    sc_replica_row *r = &c->sv.reps[i];
    const ctl_node *n = ctl_reg_get(&c->reg, r->node_id);
    if (!n) {
      sc_info(MOD, "replica %s: node %s was deleted; replica dropped", r->id, r->node_id);
      drop_replica(c, i);
    } else if (strcmp(n->st.state, "down") == 0 && live(r)) {
      sc_warn(MOD, "replica %s: node %s is down; rescheduling", r->id, n->st.name);
      drop_replica(c, i);
    } else if (dep_index_by_id(c, r->deployment_id) < 0 && live(r)) {
      set_state(c, r, "stopping", "deployment removed");
    }
  }
  /* is there anything to place or scale down? (building the fleet costs O(nodes)) */
  bool work = false;
  for (int di = 0; di < c->sv.ndeps && !work; di++) {
    int nlive = 0;
    for (int i = 0; i < c->sv.nreps; i++) nlive += c->sv.reps[i].deployment_id == c->sv.deps[di].id && live(&c->sv.reps[i]);
    work = nlive != c->sv.deps[di].replicas;
  }
  if (!work) return;
  sc_fleet *f = NULL;
  sc_err e;
  if (ctl_fleet_build(c, SC_POLICY_SUANCHI, &f, &e)) {
    sc_warn(MOD, "reconcile: %s", e.msg);
    return;
  }
  ctl_fleet_apply_replicas(c, f);
  for (int di = 0; di < c->sv.ndeps; di++) {
    const sc_deployment_row *d = &c->sv.deps[di];
    int nlive = 0;
    for (int i = 0; i < c->sv.nreps; i++) nlive += c->sv.reps[i].deployment_id == d->id && live(&c->sv.reps[i]);
    for (; nlive < d->replicas; nlive++) {
      sc_replica_row row;
      bool never;
      char why[512];
      if (place_replica(c, f, d, &row, &never, why, sizeof why)) {
        if (strcmp(c->sv.why[di], why) != 0) sc_warn(MOD, "deployment %s: cannot place a replica: %s", d->name, why);
        sc_strlcpy(c->sv.why[di], why, sizeof c->sv.why[di]);
        break;
      }
      c->sv.why[di][0] = 0;
      if (c->sv.nreps == c->sv.capreps)
        c->sv.reps = sc_xrealloc(c->sv.reps, sizeof *c->sv.reps * (size_t)(c->sv.capreps = c->sv.capreps ? c->sv.capreps * 2 : 16));
      c->sv.reps[c->sv.nreps++] = row;
      put_replica(c, &c->sv.reps[c->sv.nreps - 1]);
      const ctl_node *n = ctl_reg_get(&c->reg, row.node_id);
      sc_info(MOD, "deployment %s: replica %s placed on %s devices [%s]", d->name, row.id, n ? n->st.name : row.node_id,
              row.devices);
    }
    /* scale down: newest first */
    for (int i = c->sv.nreps - 1; i >= 0 && nlive > d->replicas; i--) {
      sc_replica_row *r = &c->sv.reps[i];
      if (r->deployment_id == d->id && live(r)) {
        set_state(c, r, "stopping", "scaled down");
        nlive--;
      }
    }
  }
  sc_fleet_destroy(f);
}

/* ---------- heartbeat ---------- */

json_t *ctl_serving_heartbeat(ctl *c, ctl_node *n, const json_t *reported) {
  /* states the agent reports */
  size_t i;
  json_t *rep;
  json_array_foreach(reported, i, rep) {
    const char *id = sc_json_str(rep, "id", "");
    for (int k = 0; k < c->sv.nreps; k++) {
      sc_replica_row *r = &c->sv.reps[k];
      if (strcmp(r->id, id) != 0 || strcmp(r->node_id, n->st.id) != 0) continue;
      const char *state = sc_json_str(rep, "state", "");
      const char *endpoint = sc_json_str(rep, "endpoint", "");
      char tun[80];
      if (strncmp(endpoint, "tunnel://", 9) == 0) { /* a tunnel is always the replica's own */
        snprintf(tun, sizeof tun, "tunnel://%s", r->id);
        endpoint = tun;
      }
      int restarts = (int)sc_json_int(rep, "restarts", 0);
      if (strcmp(r->state, "stopping") == 0) {
        if (strcmp(state, "stopped") == 0) {
          sc_info(MOD, "replica %s stopped on %s", r->id, n->st.name);
          drop_replica(c, k);
        }
        break;
      }
      if (!strcmp(state, "starting") || !strcmp(state, "ready") || !strcmp(state, "failed")) {
        bool changed = strcmp(r->endpoint, endpoint) != 0 || r->restarts != restarts;
        sc_strlcpy(r->endpoint, endpoint, sizeof r->endpoint);
        r->restarts = restarts;
        if (strcmp(r->state, state) != 0 || strcmp(r->reason, sc_json_str(rep, "reason", "")) != 0)
          set_state(c, r, state, sc_json_str(rep, "reason", ""));
        else if (changed)
          put_replica(c, r);
      }
      break;
    }
  }
  /* stopping replicas the agent no longer runs are gone */
  for (int k = c->sv.nreps - 1; k >= 0; k--) {
    sc_replica_row *r = &c->sv.reps[k];
    if (strcmp(r->node_id, n->st.id) != 0 || strcmp(r->state, "stopping") != 0) continue;
    bool reported_now = false;
    json_array_foreach(reported, i, rep) reported_now |= strcmp(sc_json_str(rep, "id", ""), r->id) == 0;
    if (!reported_now) drop_replica(c, k);
  }
  ctl_push_routes(c);
  /* what the node should run */
  json_t *want = json_array();
  for (int k = 0; k < c->sv.nreps; k++) {
    const sc_replica_row *r = &c->sv.reps[k];
    if (strcmp(r->node_id, n->st.id) != 0 || !live(r)) continue;
    int di = dep_index_by_id(c, r->deployment_id);
    const sc_model_row *m = di >= 0 ? model_by_id(c, c->sv.deps[di].model_id) : NULL;
    if (!m) continue;
    int idx[SC_SCHED_MAX_GPUS];
    int nd = parse_devs(r->devices, idx, SC_SCHED_MAX_GPUS);
    json_t *devs = json_array();
    for (int j = 0; j < nd; j++) json_array_append_new(devs, json_integer(idx[j]));
    json_array_append_new(
        want, json_pack("{s:s,s:s,s:{s:s,s:s,s:s,s:I,s:s,s:I,s:I},s:o,s:i,s:I}", "id", r->id, "deployment",
                        c->sv.deps[di].name, "model", "name", m->name, "kind", m->kind, "sha256", m->sha256,
                        "size_bytes", (json_int_t)m->size_bytes, "engine", m->engine, "params", (json_int_t)m->params,
                        "weights_bytes", (json_int_t)m->weights_bytes, "devices", devs, "gpu_milli", r->gpu_milli,
                        "mem_mib", (json_int_t)r->mem_mib));
  }
  return want;
}

bool ctl_serving_replica_on(ctl *c, const char *rid, const char *node_id) {
  for (int k = 0; k < c->sv.nreps; k++) {
    const sc_replica_row *r = &c->sv.reps[k];
    if (strcmp(r->id, rid) == 0) return strcmp(r->node_id, node_id) == 0 && live(r);
  }
  return false;
}

/* The routing table: one entry per replica with an endpoint. */
int ctl_serving_routes(ctl *c, sc_gw_replica **out) {
  sc_gw_replica *v = sc_xcalloc((size_t)c->sv.nreps + 1, sizeof *v);
  int n = 0;
  for (int k = 0; k < c->sv.nreps; k++) {
    const sc_replica_row *r = &c->sv.reps[k];
    const ctl_node *node = ctl_reg_get(&c->reg, r->node_id);
    int di = dep_index_by_id(c, r->deployment_id);
    if (!node || di < 0 || !r->endpoint[0]) continue;
    sc_gw_replica *g = &v[n++];
    sc_strlcpy(g->id, r->id, sizeof g->id);
    sc_strlcpy(g->deployment, c->sv.deps[di].name, sizeof g->deployment);
    sc_strlcpy(g->model, c->sv.deps[di].name, sizeof g->model);
    sc_strlcpy(g->node_id, node->st.id, sizeof g->node_id);
    sc_strlcpy(g->node, node->st.name, sizeof g->node);
    sc_strlcpy(g->region, node->region, sizeof g->region);
    sc_strlcpy(g->owner, node->owner, sizeof g->owner);
    sc_strlcpy(g->owner_kind, node->owner_kind, sizeof g->owner_kind);
    int idx[1];
    if (parse_devs(r->devices, idx, 1) == 1 && idx[0] < node->st.ndevices)
      sc_strlcpy(g->chip, node->st.devices[idx[0]].chip, sizeof g->chip);
    sc_strlcpy(g->url, r->endpoint, sizeof g->url);
    g->ready = strcmp(r->state, "ready") == 0 && strcmp(node->st.state, "ready") == 0;
  }
  *out = v;
  return n;
}

/* ---------- API ---------- */

static void reply(sc_hreq *req, int *status, int code, json_t *o) {
  *status = code;
  sc_http_reply_json(req, code, o);
}

static void reply_e(sc_hreq *req, int *status, int rc, const sc_err *e) {
  *status = rc == SC_EINVAL || rc == SC_EFORMAT ? 400 : rc == SC_ENOENT ? 404 : rc == SC_EEXIST || rc == SC_ESTATE ? 409
            : rc == SC_ETOOBIG ? 413 : 500;
  sc_http_reply_err(req, rc, e);
}

static bool valid_sha(const char *s) {
  if (strlen(s) != 64) return false;
  for (const char *p = s; *p; p++)
    if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) return false;
  return true;
}

static void blob_path(ctl *c, const char *sha, const char *ext, char *buf, size_t cap) {
  snprintf(buf, cap, "%s/%s/%s%s", c->opts.data_dir, strcmp(ext, ".gguf") == 0 ? "models" : "blobs", sha, ext);
}

static int64_t file_size(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 ? (int64_t)st.st_size : -1;
}

static void blob_put(ctl *c, sc_hreq *req, const char *sha, int *status) {
  sc_err e;
  if (!valid_sha(sha)) {
    sc_err_set(&e, SC_EINVAL, "invalid_request", "blob name must be a sha256 in lowercase hex");
    return reply_e(req, status, SC_EINVAL, &e);
  }
  char off_s[32] = "";
  if (!sc_hreq_query(req, "offset", off_s, sizeof off_s)) off_s[0] = 0;
  int64_t off;
  if (sc_parse_i64(off_s, 0, INT64_C(1) << 40, &off)) {
    sc_err_set(&e, SC_EINVAL, "invalid_request", "PUT /api/v1/blobs/SHA needs ?offset=N");
    return reply_e(req, status, SC_EINVAL, &e);
  }
  char path[4096], dir[4096];
  snprintf(dir, sizeof dir, "%s/blobs", c->opts.data_dir);
  sc_mkdir_p(dir, 0700);
  blob_path(c, sha, ".part", path, sizeof path);
  int64_t have = file_size(path);
  if (have < 0) have = 0;
  if (off != have) {
    *status = 409;
    sc_http_reply_json(req, 409, json_pack("{s:{s:s,s:s,s:s},s:I}", "error", "code", "wrong_offset", "message",
                                           "offset does not match the bytes received so far; resume from received",
                                           "type", "invalid_request_error", "received", (json_int_t)have));
    return;
  }
  size_t n;
  const char *in = sc_hreq_body(req, &n);
  if (n > CHUNK_MAX) {
    sc_err_set(&e, SC_ETOOBIG, "body_too_large", "chunks are at most %u bytes", CHUNK_MAX);
    return reply_e(req, status, SC_ETOOBIG, &e);
  }
  int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  int wr = fd < 0 ? -1 : 0;
  for (size_t done = 0; wr >= 0 && done < n; done += (size_t)wr) {
    wr = (int)write(fd, in + done, n - done > (1u << 30) ? (1u << 30) : n - done);
    if (wr < 0 && errno == EINTR) wr = 0;
  }
  if (wr < 0 || fsync(fd) < 0) {
    /* a short write would leave a torn chunk: cut the file back to what was acknowledged */
    if (fd >= 0 && ftruncate(fd, have) < 0) sc_warn(MOD, "cannot truncate %s", path);
    if (fd >= 0) close(fd);
    sc_err_set(&e, SC_EIO, "io_error", "cannot write %s: %s", path, strerror(errno));
    return reply_e(req, status, SC_EIO, &e);
  }
  close(fd);
  reply(req, status, 200, json_pack("{s:s,s:I}", "sha256", sha, "received", (json_int_t)file_size(path)));
}

static void blob_get(ctl *c, sc_hreq *req, const char *sha, int *status) {
  char path[4096], done[4096];
  blob_path(c, sha, ".part", path, sizeof path);
  blob_path(c, sha, ".gguf", done, sizeof done);
  int64_t have = file_size(path);
  bool complete = file_size(done) >= 0;
  reply(req, status, 200, json_pack("{s:s,s:I,s:b}", "sha256", sha, "received", (json_int_t)(have < 0 ? 0 : have),
                                    "complete", complete));
}

static json_t *model_json(const sc_model_row *m) {
  return json_pack("{s:I,s:s,s:s,s:s,s:I,s:s,s:I,s:s,s:I,s:I,s:I,s:I}", "id", (json_int_t)m->id, "name", m->name, "kind",
                   m->kind, "sha256", m->sha256, "size_bytes", (json_int_t)m->size_bytes, "engine", m->engine,
                   "weights_bytes", (json_int_t)m->weights_bytes, "arch", m->arch, "params", (json_int_t)m->params,
                   "context", (json_int_t)m->context, "kv_bytes_per_token", (json_int_t)m->kv_bytes_per_token,
                   "created_at", (json_int_t)m->created_at);
}

static const char *const engine_templates[] = {"vllm", "sglang", "llama.cpp", "mindie", NULL};

/* Reads the shape of a GGUF model the engine can run. */
static int gguf_shape(const char *path, sc_model_row *m, sc_err *e) {
  sc_gguf *g = NULL;
  int rc = sc_gguf_open(path, &g, e);
  if (rc) return rc;
  sc_model_info info;
  if ((rc = sc_model_check(g, &info, e))) goto out;
  sc_strlcpy(m->arch, info.arch, sizeof m->arch);
  int64_t params = 0;
  for (size_t i = 0; i < sc_gguf_tensor_count(g); i++) {
    const sc_gguf_tensor *t = sc_gguf_tensor_at(g, i);
    int64_t n = 1;
    for (int d = 0; d < t->n_dims; d++) n *= t->ne[d];
    params += n;
  }
  m->params = params;
  m->context = info.n_ctx_train;
  m->kv_bytes_per_token = (int64_t)2 * info.n_layer * info.n_head_kv * info.head_dim * 2;
out:
  sc_gguf_close(g);
  return rc;
}

static void models_add(ctl *c, sc_hreq *req, const json_t *b, int *status) {
  static const sc_json_field f[] = {{"name", SC_JSON_STRING, true, 0, 0, 63, false},
                                    {"kind", SC_JSON_STRING, true, 0, 0, 16, false},
                                    {"sha256", SC_JSON_STRING, false, 0, 0, 64, false},
                                    {"size_bytes", SC_JSON_INT, false, 1, INT64_C(1) << 40, 0, false},
                                    {"engine", SC_JSON_STRING, false, 0, 0, 31, false},
                                    {"weights_bytes", SC_JSON_INT, false, 1, INT64_C(1) << 44, 0, false},
                                    {"params", SC_JSON_INT, false, 1, INT64_C(1) << 44, 0, false},
                                    {0}};
  sc_err e;
  int rc = sc_json_check(b, f, NULL, &e);
  if (rc) return reply_e(req, status, rc, &e);
  sc_model_row m;
  memset(&m, 0, sizeof m);
  sc_strlcpy(m.name, sc_json_str(b, "name", ""), sizeof m.name);
  sc_strlcpy(m.kind, sc_json_str(b, "kind", ""), sizeof m.kind);
  if (!sc_valid_name(m.name)) {
    sc_err_set(&e, SC_EINVAL, "invalid_request", "model name '%s' must be 1-63 letters, digits, '.', '-' or '_'", m.name);
    return reply_e(req, status, SC_EINVAL, &e);
  }
  if (model_by_name(c, m.name)) {
    sc_err_set(&e, SC_EEXIST, "already_exists", "model '%s' already exists", m.name);
    return reply_e(req, status, SC_EEXIST, &e);
  }
  m.created_at = sc_wall_ms();
  if (strcmp(m.kind, "external") == 0) {
    const char *eng = sc_json_str(b, "engine", "");
    bool known = false;
    for (int i = 0; engine_templates[i]; i++) known |= strcmp(engine_templates[i], eng) == 0;
    if (!known || !json_object_get(b, "weights_bytes")) {
      sc_err_set(&e, SC_EINVAL, "invalid_request",
                 "an external model needs engine (vllm, sglang, llama.cpp or mindie) and weights_bytes");
      return reply_e(req, status, SC_EINVAL, &e);
    }
    sc_strlcpy(m.engine, eng, sizeof m.engine);
    m.weights_bytes = sc_json_int(b, "weights_bytes", 0);
    m.params = sc_json_int(b, "params", m.weights_bytes / 2);
  } else if (strcmp(m.kind, "gguf") == 0) {
    const char *sha = sc_json_str(b, "sha256", "");
    if (!valid_sha(sha) || !json_object_get(b, "size_bytes")) {
      sc_err_set(&e, SC_EINVAL, "invalid_request", "a gguf model needs sha256 (lowercase hex) and size_bytes");
      return reply_e(req, status, SC_EINVAL, &e);
    }
    sc_strlcpy(m.sha256, sha, sizeof m.sha256);
    m.size_bytes = sc_json_int(b, "size_bytes", 0);
    char part[4096], done[4096], dir[4096];
    blob_path(c, sha, ".part", part, sizeof part);
    blob_path(c, sha, ".gguf", done, sizeof done);
    snprintf(dir, sizeof dir, "%s/models", c->opts.data_dir);
    sc_mkdir_p(dir, 0700);
    if (file_size(done) != m.size_bytes) {
      int64_t have = file_size(part);
      if (have != m.size_bytes) {
        sc_err_set(&e, SC_ESTATE, "incomplete_upload", "the upload of %s has %lld of %lld bytes; upload the rest first", sha,
                   (long long)(have < 0 ? 0 : have), (long long)m.size_bytes);
        return reply_e(req, status, SC_ESTATE, &e);
      }
      char got[65];
      if (sc_sha256_file(part, got, NULL) || strcmp(got, sha) != 0) {
        unlink(part); /* a corrupt upload is never used */
        sc_err_set(&e, SC_EINVAL, "hash_mismatch", "the uploaded file's sha256 is %s, not %s; upload discarded", got, sha);
        return reply_e(req, status, SC_EINVAL, &e);
      }
      if ((rc = gguf_shape(part, &m, &e))) {
        unlink(part);
        char why[sizeof e.msg];
        sc_strlcpy(why, e.msg, sizeof why);
        sc_err_set(&e, SC_EINVAL, "invalid_model", "not a model this engine can serve: %s", why);
        return reply_e(req, status, SC_EINVAL, &e);
      }
      if (rename(part, done) < 0) {
        sc_err_set(&e, SC_EIO, "io_error", "cannot store the model: %s", strerror(errno));
        return reply_e(req, status, SC_EIO, &e);
      }
    } else if ((rc = gguf_shape(done, &m, &e))) {
      return reply_e(req, status, SC_EINVAL, &e);
    }
  } else {
    sc_err_set(&e, SC_EINVAL, "invalid_request", "kind must be 'gguf' or 'external'");
    return reply_e(req, status, SC_EINVAL, &e);
  }
  if ((rc = sc_store_add_model(c->store, &m, &m.id, &e))) return reply_e(req, status, rc, &e);
  reload_models(c);
  sc_info(MOD, "model %s added (%s)", m.name, m.kind);
  reply(req, status, 201, model_json(&m));
}

static void models_list(ctl *c, sc_hreq *req, int *status) {
  json_t *a = json_array();
  for (int i = 0; i < c->sv.nmodels; i++) json_array_append_new(a, model_json(&c->sv.models[i]));
  reply(req, status, 200, a);
}

static json_t *deployment_json(ctl *c, int di) {
  const sc_deployment_row *d = &c->sv.deps[di];
  const sc_model_row *m = model_by_id(c, d->model_id);
  int ready = 0, total = 0;
  for (int i = 0; i < c->sv.nreps; i++)
    if (c->sv.reps[i].deployment_id == d->id && live(&c->sv.reps[i])) {
      total++;
      ready += strcmp(c->sv.reps[i].state, "ready") == 0;
    }
  return json_pack("{s:I,s:s,s:s,s:i,s:i,s:i,s:s,s:s,s:I,s:i,s:i,s:i,s:b,s:s,s:I}", "id", (json_int_t)d->id, "name",
                   d->name, "model", m ? m->name : "?", "replicas", d->replicas, "replicas_ready", ready,
                   "replicas_placed", total, "chips", d->chips, "regions", d->regions, "slice_mem_mib",
                   (json_int_t)d->slice_mem_mib, "slice_compute_milli", d->slice_compute_milli, "slo_ttft_ms",
                   d->slo_ttft_ms, "slo_tpot_ms", d->slo_tpot_ms, "pool_ok", d->pool_ok, "why", c->sv.why[di],
                   "created_at", (json_int_t)d->created_at);
}

static void deployments_add(ctl *c, sc_hreq *req, const json_t *b, int *status) {
  static const sc_json_field f[] = {{"name", SC_JSON_STRING, true, 0, 0, 63, false},
                                    {"model", SC_JSON_STRING, true, 0, 0, 63, false},
                                    {"replicas", SC_JSON_INT, false, 0, 1000, 0, false},
                                    {"chips", SC_JSON_STRING, false, 0, 0, 255, true},
                                    {"regions", SC_JSON_STRING, false, 0, 0, 255, true},
                                    {"slice_mem_mib", SC_JSON_INT, false, 0, INT64_C(1) << 30, 0, false},
                                    {"slice_compute_milli", SC_JSON_INT, false, 0, 1000, 0, false},
                                    {"slo_ttft_ms", SC_JSON_INT, false, 0, 3600000, 0, false},
                                    {"slo_tpot_ms", SC_JSON_INT, false, 0, 3600000, 0, false},
                                    {"pool_ok", SC_JSON_BOOL, false, 0, 0, 0, false},
                                    {0}};
  sc_err e;
  int rc = sc_json_check(b, f, NULL, &e);
  if (rc) return reply_e(req, status, rc, &e);
  sc_deployment_row d;
  memset(&d, 0, sizeof d);
  sc_strlcpy(d.name, sc_json_str(b, "name", ""), sizeof d.name);
  if (!sc_valid_name(d.name)) {
    sc_err_set(&e, SC_EINVAL, "invalid_request", "deployment name '%s' must be 1-63 letters, digits, '.', '-' or '_'", d.name);
    return reply_e(req, status, SC_EINVAL, &e);
  }
  const sc_model_row *m = model_by_name(c, sc_json_str(b, "model", ""));
  if (!m) {
    sc_err_set(&e, SC_EINVAL, "unknown_model", "unknown model '%s' (see 'suanchi models')", sc_json_str(b, "model", ""));
    return reply_e(req, status, SC_EINVAL, &e);
  }
  if (dep_index_by_name(c, d.name) >= 0) {
    sc_err_set(&e, SC_EEXIST, "already_exists", "deployment '%s' already exists", d.name);
    return reply_e(req, status, SC_EEXIST, &e);
  }
  d.model_id = m->id;
  d.replicas = (int)sc_json_int(b, "replicas", 1);
  sc_strlcpy(d.chips, sc_json_str(b, "chips", ""), sizeof d.chips);
  sc_strlcpy(d.regions, sc_json_str(b, "regions", ""), sizeof d.regions);
  d.slice_mem_mib = sc_json_int(b, "slice_mem_mib", 0);
  d.slice_compute_milli = (int)sc_json_int(b, "slice_compute_milli", 0);
  d.slo_ttft_ms = (int)sc_json_int(b, "slo_ttft_ms", 0);
  d.slo_tpot_ms = (int)sc_json_int(b, "slo_tpot_ms", 0);
  d.pool_ok = sc_json_bool(b, "pool_ok", false);
  d.created_at = sc_wall_ms();
  /* a deployment no node could ever host is refused at once, with the scheduler's reasons */
  if (d.replicas > 0) {
    sc_fleet *fl = NULL;
    if ((rc = ctl_fleet_build(c, SC_POLICY_SUANCHI, &fl, &e))) return reply_e(req, status, rc, &e);
    /* judged on the fleet as it is, replicas included: 'never' means not even on empty nodes */
    ctl_fleet_apply_replicas(c, fl);
    sc_replica_row row;
    bool never = false;
    char why[512];
    d.id = -1;
    rc = place_replica(c, fl, &d, &row, &never, why, sizeof why);
    sc_fleet_destroy(fl);
    if (rc && never) {
      sc_err_set(&e, SC_EINVAL, "unschedulable", "no node can host a replica of '%s': %s", d.name, why);
      return reply_e(req, status, SC_EINVAL, &e);
    }
  }
  if ((rc = sc_store_add_deployment(c->store, &d, &d.id, &e))) return reply_e(req, status, rc, &e);
  reload_deployments(c);
  sc_info(MOD, "deployment %s of model %s: %d replicas", d.name, m->name, d.replicas);
  ctl_serving_reconcile(c);
  reply(req, status, 201, deployment_json(c, dep_index_by_name(c, d.name)));
}

static void deployments_list(ctl *c, sc_hreq *req, int *status) {
  json_t *a = json_array();
  for (int i = 0; i < c->sv.ndeps; i++) json_array_append_new(a, deployment_json(c, i));
  reply(req, status, 200, a);
}

static void deployments_delete(ctl *c, sc_hreq *req, const char *name, int *status) {
  sc_err e;
  int di = dep_index_by_name(c, name);
  if (di < 0) {
    sc_err_set(&e, SC_ENOENT, "not_found", "no deployment '%s'", name);
    return reply_e(req, status, SC_ENOENT, &e);
  }
  int64_t id = c->sv.deps[di].id;
  for (int i = 0; i < c->sv.nreps; i++)
    if (c->sv.reps[i].deployment_id == id) set_state(c, &c->sv.reps[i], "stopping", "undeployed");
  /* replica rows go with the deployment (ON DELETE CASCADE); the in-memory ones stay until the
   * agents report them stopped, so the engines are stopped even though the rows are gone */
  int rc = sc_store_delete_deployment(c->store, id, &e);
  if (rc) return reply_e(req, status, rc, &e);
  for (int i = 0; i < c->sv.nreps; i++)
    if (c->sv.reps[i].deployment_id == id) c->sv.reps[i].deployment_id = -1;
  reload_deployments(c);
  sc_info(MOD, "deployment %s removed", name);
  reply(req, status, 200, json_pack("{s:s,s:b}", "name", name, "deleted", 1));
}

static void replicas_list(ctl *c, sc_hreq *req, int *status) {
  json_t *a = json_array();
  for (int k = 0; k < c->sv.nreps; k++) {
    const sc_replica_row *r = &c->sv.reps[k];
    const ctl_node *n = ctl_reg_get(&c->reg, r->node_id);
    int di = dep_index_by_id(c, r->deployment_id);
    json_array_append_new(a, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:i,s:I,s:s,s:s,s:s,s:i,s:I,s:I}", "id", r->id,
                                       "deployment", di >= 0 ? c->sv.deps[di].name : "", "node_id", r->node_id, "node",
                                       n ? n->st.name : "", "region", n ? n->region : "", "devices", r->devices,
                                       "gpu_milli", r->gpu_milli, "mem_mib", (json_int_t)r->mem_mib, "state", r->state,
                                       "reason", r->reason, "endpoint", r->endpoint, "restarts", r->restarts,
                                       "created_at", (json_int_t)r->created_at, "updated_at", (json_int_t)r->updated_at));
  }
  reply(req, status, 200, a);
}


bool ctl_serving_api(ctl *c, sc_hreq *req, sc_hmethod m, char **seg, int nseg, int *status) {
  const char *s0 = seg[0];
  sc_err e;
  json_t *b = NULL;
  if (strcmp(s0, "blobs") == 0 && nseg == 2) {
    if (m == SC_HPUT) blob_put(c, req, seg[1], status);
    else if (m == SC_HGET) blob_get(c, req, seg[1], status);
    else return false;
    return true;
  }
  bool is_models = strcmp(s0, "models") == 0, is_deps = strcmp(s0, "deployments") == 0;
  if ((is_models || is_deps) && nseg == 1 && m == SC_HPOST) {
    int rc = sc_http_json_body(req, c->opts.max_body, &b, &e);
    if (rc) reply_e(req, status, rc, &e);
    else if (is_models) models_add(c, req, b, status);
    else deployments_add(c, req, b, status);
    json_decref(b);
    return true;
  }
  if (is_models && nseg == 1 && m == SC_HGET) return models_list(c, req, status), true;
  if (is_deps && nseg == 1 && m == SC_HGET) return deployments_list(c, req, status), true;
  if (is_deps && nseg == 2 && m == SC_HDELETE) return deployments_delete(c, req, seg[1], status), true;
  if (strcmp(s0, "replicas") == 0 && nseg == 1 && m == SC_HGET) return replicas_list(c, req, status), true;
  return false;
}

/* GET /api/v1/agent/models/SHA with an optional "Range: bytes=N-" (resume). */
void ctl_serving_model_download(ctl *c, sc_hreq *req, const char *sha, int *status) {
  sc_err e;
  char path[4096];
  bool known = false;
  for (int i = 0; i < c->sv.nmodels; i++) known |= strcmp(c->sv.models[i].sha256, sha) == 0;
  blob_path(c, sha, ".gguf", path, sizeof path);
  int64_t size = valid_sha(sha) && known ? file_size(path) : -1;
  if (size < 0) {
    sc_err_set(&e, SC_ENOENT, "not_found", "no model file %s", sha);
    return reply_e(req, status, SC_ENOENT, &e);
  }
  int64_t from = 0;
  char rbuf[64];
  const char *range = sc_hreq_header(req, "Range", rbuf, sizeof rbuf);
  if (range) {
    char num[32] = "";
    if (strncmp(range, "bytes=", 6) == 0) {
      const char *dash = strchr(range + 6, '-');
      if (dash && dash[1] == 0 && (size_t)(dash - range - 6) < sizeof num) memcpy(num, range + 6, (size_t)(dash - range - 6));
    }
    if (sc_parse_i64(num, 0, size, &from)) {
      sc_err_set(&e, SC_EINVAL, "invalid_range", "only 'Range: bytes=N-' with N <= %lld is supported", (long long)size);
      return reply_e(req, status, SC_EINVAL, &e);
    }
  }
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    sc_err_set(&e, SC_EIO, "io_error", "cannot open the model file");
    return reply_e(req, status, SC_EIO, &e);
  }
  char cr[96];
  if (range) {
    snprintf(cr, sizeof cr, "bytes %lld-%lld/%lld", (long long)from, (long long)size - 1, (long long)size);
    sc_hreq_add_header(req, "Content-Range", cr);
  }
  *status = range ? 206 : 200;
  sc_hreq_reply_file(req, *status, "application/octet-stream", fd, (off_t)from, (size_t)(size - from));
}
