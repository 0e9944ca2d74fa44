/*
 * control.c — the control plane's HTTP front and its clock.
 *
 * One libevent loop serves /healthz, /metrics and the REST API under /api/v1. Every /api/v1
 * call is authenticated by a bearer credential whose kind picks the role:
 *   sca.…  admin (operator)       every /api/v1 route except the agent routes
 *   scj.…  join token             POST /api/v1/agent/register only
 *   scn.…  node credential        the agent routes: heartbeat, model downloads, tunnels
 * A missing or unknown credential is 401; a valid one on the wrong route is 403.
 *
 * Node state machine (st.state is liveness, st.admin_state is the operator's intent):
 *
 *     register ──> ready ──(no heartbeat for --heartbeat-timeout)──> down
 *                    ^                                                │
 *                    └──────────────(next heartbeat)──────────────────┘
 *     admin_state: active <-> cordoned, active|cordoned -> draining -> (uncordon) active
 *
 * Liveness lives in memory; only transitions are written to the store, plus a periodic flush of
 * last-heartbeat times in one transaction. After a restart every node keeps its stored state
 * and gets a full timeout from the restart to heartbeat again, so a control-plane outage never
 * marks healthy nodes down (and never tears anything down).
 */
#include <errno.h>
#include <event2/buffer.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "base/json.h"
#include "base/log.h"
#include "base/secret.h"
#include "base/util.h"
#include "chips/chips.h"
#include "control/internal.h"
#include "net/http.h"

#define MOD "control"
#define MAX_DEVICES 64
#define NAME_RE_MAX 63

typedef enum { ROLE_NONE, ROLE_ADMIN, ROLE_JOIN, ROLE_NODE } role;

typedef struct {
  ctl *c;
  sc_hreq *req;
  sc_hmethod method;
  char path[512];
  char segbuf[512];
  char *seg[8]; /* path segments after /api/v1, pointing into segbuf */
  int nseg;
  role role;
  char cred_id[SC_SECRET_ID_LEN + 1];
  const char *cred_secret;
  char cred_buf[SC_SECRET_MAX];
  int status;   /* reply status, for metrics */
} call;

/* ---------- replies ---------- */

static void reply_json(call *k, int status, json_t *o) {
  k->status = status;
  sc_http_reply_json(k->req, status, o);
}

static void reply_err(call *k, int rc, const sc_err *e) {
  k->status = rc == SC_EINVAL || rc == SC_EFORMAT ? 400
              : rc == SC_EAUTH                    ? 401
              : rc == SC_EPERM                    ? 403
              : rc == SC_ENOENT                   ? 404
              : rc == SC_EEXIST || rc == SC_ESTATE ? 409
              : rc == SC_ETOOBIG                  ? 413
                                                  : 500;
  sc_http_reply_err(k->req, rc, e);
}

static void reply_fail(call *k, int rc, const char *code, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void reply_fail(call *k, int rc, const char *code, const char *fmt, ...) {
  sc_err e;
  snprintf(e.code, sizeof e.code, "%s", code);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(e.msg, sizeof e.msg, fmt, ap);
  va_end(ap);
  reply_err(k, rc, &e);
}

/* ---------- validation helpers ---------- */

static int body_json(call *k, json_t **out, sc_err *e) {
  return sc_http_json_body(k->req, k->c->opts.max_body, out, e);
}

static const char *region_name(ctl *c, int64_t id, char *buf, size_t cap) {
  sc_region r;
  if (id && sc_store_get_region(c->store, id, &r) == 0) sc_strlcpy(buf, r.name, cap);
  else sc_strlcpy(buf, "", cap);
  return buf;
}

/* ---------- regions ---------- */

static json_t *region_json(const sc_region *r) {
  json_t *o = json_pack("{s:I,s:s,s:I}", "id", (json_int_t)r->id, "name", r->name, "created_at",
                        (json_int_t)r->created_at);
  if (r->has_location) {
    json_object_set_new(o, "lat", json_real(r->lat));
    json_object_set_new(o, "lon", json_real(r->lon));
  }
  return o;
}

static void regions_list(call *k) {
  sc_region *rs;
  int n;
  sc_err e;
  int rc = sc_store_list_regions(k->c->store, &rs, &n, &e);
  if (rc) return reply_err(k, rc, &e);
  json_t *arr = json_array();
  for (int i = 0; i < n; i++) {
    json_t *o = region_json(&rs[i]);
    int nodes = 0;
    for (int j = 0; j < k->c->reg.n; j++) nodes += strcmp(k->c->reg.nodes[j]->region, rs[i].name) == 0;
    json_object_set_new(o, "nodes", json_integer(nodes));
    json_array_append_new(arr, o);
  }
  free(rs);
  reply_json(k, 200, arr);
}

static void regions_add(call *k) {
  static const sc_json_field f[] = {{"name", SC_JSON_STRING, true, 0, 0, 63, false},
                                    {"lat", SC_JSON_NUMBER, false, -90, 90, 0, false},
                                    {"lon", SC_JSON_NUMBER, false, -180, 180, 0, false},
                                    {0}};
  json_t *b = NULL;
  sc_err e;
  int rc = body_json(k, &b, &e);
  if (!rc) rc = sc_json_check(b, f, NULL, &e);
  if (rc) goto fail;
  sc_region r;
  memset(&r, 0, sizeof r);
  sc_strlcpy(r.name, sc_json_str(b, "name", ""), sizeof r.name);
  if (!sc_valid_name(r.name)) {
    rc = sc_err_set(&e, SC_EINVAL, "invalid_request",
                    "region name '%s' must be 1-63 letters, digits, '.', '-' or '_', starting with a letter or digit",
                    r.name);
    goto fail;
  }
  bool has_lat = json_object_get(b, "lat") != NULL, has_lon = json_object_get(b, "lon") != NULL;
  if (has_lat != has_lon) {
    rc = sc_err_set(&e, SC_EINVAL, "invalid_request", "give both lat and lon, or neither");
    goto fail;
  }
  r.has_location = has_lat;
  r.lat = sc_json_num(b, "lat", 0);
  r.lon = sc_json_num(b, "lon", 0);
  r.created_at = sc_wall_ms();
  if ((rc = sc_store_add_region(k->c->store, &r, &r.id, &e))) goto fail;
  sc_info(MOD, "region %s added", r.name);
  json_decref(b);
  return reply_json(k, 201, region_json(&r));
fail:
  json_decref(b);
  reply_err(k, rc, &e);
}

/* ---------- owners ---------- */

static json_t *owner_json(const sc_owner *o) {
  return json_pack("{s:I,s:s,s:s,s:i,s:f,s:I}", "id", (json_int_t)o->id, "name", o->name, "kind", o->kind,
                   "share_bp", o->share_bp, "share_pct", o->share_bp / 100.0, "created_at", (json_int_t)o->created_at);
}

static void owners_list(call *k) {
  sc_owner *os;
  int n;
  sc_err e;
  int rc = sc_store_list_owners(k->c->store, &os, &n, &e);
  if (rc) return reply_err(k, rc, &e);
  json_t *arr = json_array();
  for (int i = 0; i < n; i++) json_array_append_new(arr, owner_json(&os[i]));
  free(os);
  reply_json(k, 200, arr);
}

static void owners_add(call *k) {
  static const sc_json_field f[] = {{"name", SC_JSON_STRING, true, 0, 0, 63, false},
                                    {"kind", SC_JSON_STRING, false, 0, 0, 8, false},
                                    {"share_bp", SC_JSON_INT, false, 0, 10000, 0, false},
                                    {0}};
  json_t *b = NULL;
  sc_err e;
  int rc = body_json(k, &b, &e);
  if (!rc) rc = sc_json_check(b, f, NULL, &e);
  if (rc) goto fail;
  sc_owner o;
  memset(&o, 0, sizeof o);
  sc_strlcpy(o.name, sc_json_str(b, "name", ""), sizeof o.name);
  sc_strlcpy(o.kind, sc_json_str(b, "kind", "self"), sizeof o.kind);
  o.share_bp = (int)sc_json_int(b, "share_bp", 0);
  if (!sc_valid_name(o.name)) {
    rc = sc_err_set(&e, SC_EINVAL, "invalid_request",
                    "owner name '%s' must be 1-63 letters, digits, '.', '-' or '_', starting with a letter or digit",
                    o.name);
    goto fail;
  }
  if (strcmp(o.kind, "self") != 0 && strcmp(o.kind, "pool") != 0) {
    rc = sc_err_set(&e, SC_EINVAL, "invalid_request", "kind must be 'self' or 'pool', not '%s'", o.kind);
    goto fail;
  }
  if (strcmp(o.kind, "pool") == 0 && !json_object_get(b, "share_bp")) {
    rc = sc_err_set(&e, SC_EINVAL, "invalid_request", "a pool owner needs share_bp (its revenue share, 0-10000)");
    goto fail;
  }
  if (strcmp(o.kind, "self") == 0 && o.share_bp != 0) {
    rc = sc_err_set(&e, SC_EINVAL, "invalid_request", "only pool owners have a revenue share");
    goto fail;
  }
  o.created_at = sc_wall_ms();
  if ((rc = sc_store_add_owner(k->c->store, &o, &o.id, &e))) goto fail;
  sc_info(MOD, "owner %s added (%s, share %d bp)", o.name, o.kind, o.share_bp);
  json_decref(b);
  return reply_json(k, 201, owner_json(&o));
fail:
  json_decref(b);
  reply_err(k, rc, &e);
}

/* ---------- join tokens ---------- */

static json_t *token_json(ctl *c, const sc_join_token *t) {
  sc_owner o;
  char rbuf[64];
  if (sc_store_get_owner(c->store, t->owner_id, &o)) sc_strlcpy(o.name, "?", sizeof o.name);
  int64_t now = sc_wall_ms();
  const char *status = t->revoked ? "revoked" : t->expires_at <= now ? "expired" : t->uses >= t->max_uses ? "used" : "active";
  json_t *j = json_pack("{s:s,s:s,s:I,s:I,s:I,s:I,s:s}", "id", t->id, "owner", o.name, "created_at",
                        (json_int_t)t->created_at, "expires_at", (json_int_t)t->expires_at, "max_uses",
                        (json_int_t)t->max_uses, "uses", (json_int_t)t->uses, "status", status);
  if (t->region_id) json_object_set_new(j, "region", json_string(region_name(c, t->region_id, rbuf, sizeof rbuf)));
  else json_object_set_new(j, "region", json_null());
  return j;
}

static void tokens_list(call *k) {
  sc_join_token *ts;
  int n;
  sc_err e;
  int rc = sc_store_list_tokens(k->c->store, &ts, &n, &e);
  if (rc) return reply_err(k, rc, &e);
  json_t *arr = json_array();
  for (int i = 0; i < n; i++) json_array_append_new(arr, token_json(k->c, &ts[i]));
  free(ts);
  reply_json(k, 200, arr);
}

static void tokens_create(call *k) {
  static const sc_json_field f[] = {{"owner", SC_JSON_STRING, true, 0, 0, 63, false},
                                    {"region", SC_JSON_STRING, false, 0, 0, 63, false},
                                    {"ttl_s", SC_JSON_INT, false, 1, 366LL * 86400, 0, false},
                                    {"uses", SC_JSON_INT, false, 1, 1000000, 0, false},
                                    {0}};
  json_t *b = NULL;
  sc_err e;
  int rc = body_json(k, &b, &e);
  if (!rc) rc = sc_json_check(b, f, NULL, &e);
  if (rc) goto fail;
  sc_owner o;
  const char *oname = sc_json_str(b, "owner", "");
  if (sc_store_find_owner(k->c->store, oname, &o)) {
    rc = sc_err_set(&e, SC_EINVAL, "unknown_owner", "unknown owner '%s' (see 'suanchi owners')", oname);
    goto fail;
  }
  sc_join_token t;
  memset(&t, 0, sizeof t);
  const char *rname = sc_json_str(b, "region", NULL);
  if (rname) {
    sc_region r;
    if (sc_store_find_region(k->c->store, rname, &r)) {
      rc = sc_err_set(&e, SC_EINVAL, "unknown_region", "unknown region '%s' (see 'suanchi regions')", rname);
      goto fail;
    }
    t.region_id = r.id;
  }
  char text[SC_SECRET_MAX];
  sc_secret_new("scj", t.id, text, t.hash);
  t.owner_id = o.id;
  t.created_at = sc_wall_ms();
  t.expires_at = t.created_at + sc_json_int(b, "ttl_s", 86400) * 1000;
  t.max_uses = sc_json_int(b, "uses", 1);
  if ((rc = sc_store_add_token(k->c->store, &t, &e))) goto fail;
  sc_info(MOD, "join token %s created for owner %s", t.id, o.name);
  json_t *out = token_json(k->c, &t);
  json_object_set_new(out, "token", json_string(text));
  json_decref(b);
  return reply_json(k, 201, out);
fail:
  json_decref(b);
  reply_err(k, rc, &e);
}

static void tokens_revoke(call *k, const char *id) {
  sc_err e;
  int rc = sc_store_revoke_token(k->c->store, id, &e);
  if (rc) return reply_err(k, rc, &e);
  sc_join_token t;
  sc_store_get_token(k->c->store, id, &t);
  sc_info(MOD, "join token %s revoked", id);
  reply_json(k, 200, token_json(k->c, &t));
}

/* ---------- nodes ---------- */

static const char *query_param(sc_hreq *req, const char *key, char *buf, size_t cap) {
  return sc_hreq_query(req, key, buf, cap);
}

static bool node_matches(const ctl_node *n, const char *region, const char *owner, const char *state) {
  if (region && strcmp(n->region, region) != 0) return false;
  if (owner && strcmp(n->owner, owner) != 0) return false;
  if (state) {
    const char *s = strcmp(n->st.state, "down") == 0 ? "down"
                    : strcmp(n->st.admin_state, "active") != 0 ? n->st.admin_state
                                                               : "ready";
    if (strcmp(s, state) != 0) return false;
  }
  return true;
}

static int by_name(const void *a, const void *b) {
  return strcmp((*(ctl_node *const *)a)->st.name, (*(ctl_node *const *)b)->st.name);
}

/* The nodes sorted by name (a copy of the pointers; caller frees). Lists are stable across restarts. */
static ctl_node **sorted_nodes(ctl *c) {
  ctl_node **v = sc_xmalloc(sizeof *v * (size_t)(c->reg.n + 1));
  if (c->reg.n) memcpy(v, c->reg.nodes, sizeof *v * (size_t)c->reg.n);
  qsort(v, (size_t)c->reg.n, sizeof *v, by_name);
  return v;
}

static void nodes_list(call *k) {
  char rb[64], ob[64], sb[16];
  const char *region = query_param(k->req, "region", rb, sizeof rb);
  const char *owner = query_param(k->req, "owner", ob, sizeof ob);
  const char *state = query_param(k->req, "state", sb, sizeof sb);
  json_t *arr = json_array();
  ctl_node **v = sorted_nodes(k->c);
  for (int i = 0; i < k->c->reg.n; i++)
    if (node_matches(v[i], region, owner, state)) json_array_append_new(arr, ctl_node_json(k->c, v[i]));
  free(v);
  reply_json(k, 200, arr);
}

static void devices_list(call *k) {
  json_t *arr = json_array();
  ctl_node **v = sorted_nodes(k->c);
  for (int i = 0; i < k->c->reg.n; i++) {
    json_t *n = ctl_node_json(k->c, v[i]);
    json_t *devs = json_object_get(n, "devices");
    size_t j;
    json_t *d;
    json_array_foreach(devs, j, d) {
      json_object_set(d, "node_id", json_object_get(n, "id"));
      json_object_set(d, "node", json_object_get(n, "name"));
      json_object_set(d, "region", json_object_get(n, "region"));
      json_object_set(d, "owner", json_object_get(n, "owner"));
      json_object_set(d, "node_state", json_object_get(n, "state"));
      json_array_append(arr, d);
    }
    json_decref(n);
  }
  free(v);
  reply_json(k, 200, arr);
}

static void node_set_admin(call *k, ctl_node *n, const char *admin_state) {
  sc_err e;
  int rc = sc_store_set_node_state(k->c->store, n->st.id, n->st.state, admin_state, &e);
  if (rc) return reply_err(k, rc, &e);
  sc_strlcpy(n->st.admin_state, admin_state, sizeof n->st.admin_state);
  sc_info(MOD, "node %s (%s) is now %s", n->st.name, n->st.id, admin_state);
  reply_json(k, 200, ctl_node_json(k->c, n));
}

static void node_action(call *k) {
  ctl_node *n = ctl_reg_lookup(&k->c->reg, k->seg[1]);
  if (!n) return reply_fail(k, SC_ENOENT, "not_found", "no node '%s' (see 'suanchi nodes')", k->seg[1]);
  if (k->nseg == 2 && k->method == SC_HGET) return reply_json(k, 200, ctl_node_json(k->c, n));
  if (k->nseg == 2 && k->method == SC_HDELETE) {
    sc_err e;
    int rc = sc_store_delete_node(k->c->store, n->st.id, &e);
    if (rc) return reply_err(k, rc, &e);
    sc_info(MOD, "node %s (%s) deleted; its credential is revoked", n->st.name, n->st.id);
    json_t *o = json_pack("{s:s,s:s,s:b}", "id", n->st.id, "name", n->st.name, "deleted", 1);
    ctl_reg_remove(&k->c->reg, n);
    return reply_json(k, 200, o);
  }
  if (k->nseg == 3 && k->method == SC_HPOST) {
    const char *verb = k->seg[2];
    if (strcmp(verb, "cordon") == 0) return node_set_admin(k, n, "cordoned");
    if (strcmp(verb, "uncordon") == 0) return node_set_admin(k, n, "active");
    if (strcmp(verb, "drain") == 0) return node_set_admin(k, n, "draining");
  }
  reply_fail(k, SC_ENOENT, "not_found", "no such route: %s", k->path);
}

/* ---------- agent endpoints ---------- */

/* Parses and validates the "devices" array of a register or heartbeat body. */
static int parse_devices(const json_t *arr, sc_store_device *out, ctl_device *live, int *n, sc_err *e) {
  static const sc_json_field f[] = {{"index", SC_JSON_INT, true, 0, MAX_DEVICES - 1, 0, false},
                                    {"vendor", SC_JSON_STRING, true, 0, 0, 31, false},
                                    {"chip", SC_JSON_STRING, true, 0, 0, 63, false},
                                    {"uuid", SC_JSON_STRING, true, 0, 0, 95, false},
                                    {"memory_mib", SC_JSON_INT, true, 0, INT64_C(1) << 40, 0, false},
                                    {"memory_used_mib", SC_JSON_INT, false, 0, INT64_C(1) << 40, 0, false},
                                    {"utilization_pct", SC_JSON_INT, false, 0, 100, 0, false},
                                    {"health", SC_JSON_STRING, true, 0, 0, 15, false},
                                    {"driver", SC_JSON_STRING, false, 0, 0, 15, false},
                                    {0}};
  size_t cnt = json_array_size(arr);
  if (!json_is_array(arr)) return sc_err_set(e, SC_EINVAL, "invalid_request", "field 'devices' must be an array");
  if (cnt > MAX_DEVICES) return sc_err_set(e, SC_EINVAL, "invalid_request", "more than %d devices", MAX_DEVICES);
  for (size_t i = 0; i < cnt; i++) {
    json_t *d = json_array_get(arr, i);
    char where[32];
    snprintf(where, sizeof where, "devices[%zu].", i);
    int rc = sc_json_check(d, f, where, e);
    if (rc) return rc;
    sc_store_device *o = &out[i];
    memset(o, 0, sizeof *o);
    o->index = (int)sc_json_int(d, "index", 0);
    if (o->index != (int)i)
      return sc_err_set(e, SC_EINVAL, "invalid_request", "devices[%zu].index must be %zu (devices in order)", i, i);
    sc_strlcpy(o->vendor, sc_json_str(d, "vendor", ""), sizeof o->vendor);
    sc_strlcpy(o->chip, sc_json_str(d, "chip", ""), sizeof o->chip);
    sc_strlcpy(o->uuid, sc_json_str(d, "uuid", ""), sizeof o->uuid);
    sc_strlcpy(o->health, sc_json_str(d, "health", ""), sizeof o->health);
    sc_strlcpy(o->driver, sc_json_str(d, "driver", ""), sizeof o->driver);
    o->memory_mib = sc_json_int(d, "memory_mib", 0);
    live[i].memory_used_mib = sc_json_int(d, "memory_used_mib", 0);
    live[i].util_pct = (int)sc_json_int(d, "utilization_pct", 0);
    if (live[i].memory_used_mib > o->memory_mib)
      return sc_err_set(e, SC_EINVAL, "invalid_request", "devices[%zu]: memory_used_mib exceeds memory_mib", i);
  }
  *n = (int)cnt;
  return 0;
}

static void agent_register(call *k) {
  static const sc_json_field f[] = {{"name", SC_JSON_STRING, true, 0, 0, 63, false},
                                    {"region", SC_JSON_STRING, true, 0, 0, 63, false},
                                    {"hostname", SC_JSON_STRING, false, 0, 0, 127, true},
                                    {"version", SC_JSON_STRING, false, 0, 0, 31, true},
                                    {"devices", SC_JSON_ARRAY, true, 0, 0, MAX_DEVICES, false},
                                    {0}};
  ctl *c = k->c;
  json_t *b = NULL;
  sc_err e;
  ctl_node *n = NULL;
  sc_join_token t;
  int rc = 0;
  /* the credential first: a bad token learns nothing about the body */
  if (sc_store_get_token(c->store, k->cred_id, &t) || !sc_secret_verify(k->cred_secret, t.hash)) {
    rc = sc_err_set(&e, SC_EAUTH, "invalid_token", "join token is not valid");
    goto fail;
  }
  int64_t now = sc_wall_ms();
  if (t.revoked) rc = sc_err_set(&e, SC_EAUTH, "token_revoked", "join token %s was revoked", t.id);
  else if (t.expires_at <= now) rc = sc_err_set(&e, SC_EAUTH, "token_expired", "join token %s has expired", t.id);
  else if (t.uses >= t.max_uses) rc = sc_err_set(&e, SC_EAUTH, "token_used_up", "join token %s has no uses left", t.id);
  if (rc) goto fail;
  if ((rc = body_json(k, &b, &e)) || (rc = sc_json_check(b, f, NULL, &e))) goto fail;
  n = sc_xcalloc(1, sizeof *n);
  sc_store_device devs[MAX_DEVICES];
  ctl_device live[MAX_DEVICES];
  if ((rc = parse_devices(json_object_get(b, "devices"), devs, live, &n->st.ndevices, &e))) goto fail;
  sc_strlcpy(n->st.name, sc_json_str(b, "name", ""), sizeof n->st.name);
  if (!sc_valid_name(n->st.name)) {
    rc = sc_err_set(&e, SC_EINVAL, "invalid_request", "node name '%s' must be 1-63 letters, digits, '.', '-' or '_'",
                    n->st.name);
    goto fail;
  }
  const char *rname = sc_json_str(b, "region", "");
  sc_region r;
  if (sc_store_find_region(c->store, rname, &r)) {
    rc = sc_err_set(&e, SC_EINVAL, "unknown_region", "unknown region '%s' (the operator adds it with 'suanchi region add')",
                    rname);
    goto fail;
  }
  if (t.region_id && t.region_id != r.id) {
    char want[64];
    rc = sc_err_set(&e, SC_EPERM, "wrong_region", "this join token is for region '%s', not '%s'",
                    region_name(c, t.region_id, want, sizeof want), rname);
    goto fail;
  }
  sc_owner o;
  if (sc_store_get_owner(c->store, t.owner_id, &o)) {
    rc = sc_err_set(&e, SC_EIO, "store_error", "owner of token %s is missing", t.id);
    goto fail;
  }
  char cred[SC_SECRET_MAX], cid[SC_SECRET_ID_LEN + 1];
  sc_secret_new("scn", cid, cred, n->st.cred_hash);
  snprintf(n->st.id, sizeof n->st.id, "n%s", cid);
  n->st.region_id = r.id;
  n->st.owner_id = o.id;
  sc_strlcpy(n->st.token_id, t.id, sizeof n->st.token_id);
  sc_strlcpy(n->st.admin_state, "active", sizeof n->st.admin_state);
  sc_strlcpy(n->st.state, "ready", sizeof n->st.state);
  sc_strlcpy(n->st.hostname, sc_json_str(b, "hostname", ""), sizeof n->st.hostname);
  sc_strlcpy(n->st.version, sc_json_str(b, "version", ""), sizeof n->st.version);
  n->st.created_at = n->st.last_heartbeat = now;
  n->st.devices = devs;
  rc = sc_store_register_node(c->store, &n->st, &e);
  n->st.devices = NULL;
  if (rc) goto fail;
  n->st.devices = sc_xmalloc(sizeof *devs * (size_t)(n->st.ndevices ? n->st.ndevices : 1));
  memcpy(n->st.devices, devs, sizeof *devs * (size_t)n->st.ndevices);
  n->live = sc_xmalloc(sizeof *live * (size_t)(n->st.ndevices ? n->st.ndevices : 1));
  memcpy(n->live, live, sizeof *live * (size_t)n->st.ndevices);
  sc_strlcpy(n->region, r.name, sizeof n->region);
  sc_strlcpy(n->owner, o.name, sizeof n->owner);
  sc_strlcpy(n->owner_kind, o.kind, sizeof n->owner_kind);
  n->last_hb_mono_ms = sc_mono_ms();
  ctl_reg_add(&c->reg, n);
  c->m.registrations_total++;
  sc_info(MOD, "node %s (%s) joined region %s for owner %s with %d devices", n->st.name, n->st.id, n->region,
          n->owner, n->st.ndevices);
  json_t *out = ctl_node_json(c, n);
  json_object_set_new(out, "credential", json_string(cred));
  json_object_set_new(out, "heartbeat_interval_s", json_integer(c->opts.heartbeat_interval_s));
  json_decref(b);
  return reply_json(k, 201, out);
fail:
  if (n) n->st.devices = NULL;
  ctl_node_free(n);
  json_decref(b);
  reply_err(k, rc, &e);
}

static bool devices_differ(const ctl_node *n, const sc_store_device *d, int nd) {
  if (nd != n->st.ndevices) return true;
  for (int i = 0; i < nd; i++) {
    const sc_store_device *a = &n->st.devices[i];
    if (strcmp(a->uuid, d[i].uuid) || strcmp(a->chip, d[i].chip) || strcmp(a->vendor, d[i].vendor) ||
        strcmp(a->health, d[i].health) || strcmp(a->driver, d[i].driver) || a->memory_mib != d[i].memory_mib)
      return true;
  }
  return false;
}

/* The node whose credential the call carries, if its secret is right; NULL otherwise. */
static ctl_node *node_of(call *k) {
  char nid[SC_SECRET_ID_LEN + 2];
  snprintf(nid, sizeof nid, "n%s", k->cred_id);
  ctl_node *n = ctl_reg_get(&k->c->reg, nid);
  return n && sc_secret_verify(k->cred_secret, n->st.cred_hash) ? n : NULL;
}

static void agent_heartbeat(call *k) {
  static const sc_json_field f[] = {{"devices", SC_JSON_ARRAY, true, 0, 0, MAX_DEVICES, true},
                                    {"replicas", SC_JSON_ARRAY, false, 0, 0, 4096, true},
                                    {"version", SC_JSON_STRING, false, 0, 0, 31, true},
                                    {0}};
  ctl *c = k->c;
  int64_t t0 = sc_mono_ns();
  ctl_node *n = node_of(k);
  sc_err e;
  json_t *b = NULL;
  int rc = 0;
  if (!n) {
    rc = sc_err_set(&e, SC_EAUTH, "invalid_credential", "node credential is not valid (was the node deleted?)");
    goto fail;
  }
  if ((rc = body_json(k, &b, &e)) || (rc = sc_json_check(b, f, NULL, &e))) goto fail;
  sc_store_device devs[MAX_DEVICES];
  ctl_device live[MAX_DEVICES];
  int nd = 0;
  if ((rc = parse_devices(json_object_get(b, "devices"), devs, live, &nd, &e))) goto fail;
  if (devices_differ(n, devs, nd)) {
    if ((rc = sc_store_replace_devices(c->store, n->st.id, devs, nd, &e))) goto fail;
    n->st.devices = sc_xrealloc(n->st.devices, sizeof *devs * (size_t)(nd ? nd : 1));
    n->live = sc_xrealloc(n->live, sizeof *live * (size_t)(nd ? nd : 1));
    memcpy(n->st.devices, devs, sizeof *devs * (size_t)nd);
    n->st.ndevices = nd;
    sc_info(MOD, "node %s reported a changed device set (%d devices)", n->st.name, nd);
  }
  memcpy(n->live, live, sizeof *live * (size_t)nd);
  const char *ver = sc_json_str(b, "version", NULL);
  if (ver) sc_strlcpy(n->st.version, ver, sizeof n->st.version);
  n->st.last_heartbeat = sc_wall_ms();
  n->last_hb_mono_ms = sc_mono_ms();
  n->hb_dirty = true;
  if (strcmp(n->st.state, "ready") != 0) {
    if ((rc = sc_store_set_node_state(c->store, n->st.id, "ready", n->st.admin_state, &e))) goto fail;
    sc_strlcpy(n->st.state, "ready", sizeof n->st.state);
    c->sv.routes_dirty = true;
    sc_info(MOD, "node %s (%s) is ready again", n->st.name, n->st.id);
  }
  c->m.heartbeats_total++;
  json_t *want = ctl_serving_heartbeat(c, n, json_object_get(b, "replicas"));
  json_decref(b);
  reply_json(k, 200,
             json_pack("{s:s,s:s,s:s,s:I,s:o}", "node_id", n->st.id, "state", n->st.state, "admin_state",
                       n->st.admin_state, "heartbeat_interval_s", (json_int_t)c->opts.heartbeat_interval_s,
                       "replicas", want));
  ctl_metrics_observe(c->m.hb_hist, &c->m.hb_hist_sum, (double)(sc_mono_ns() - t0) / 1e9);
  return;
fail:
  json_decref(b);
  reply_err(k, rc, &e);
}

/* GET /api/v1/agent/tunnel?replica=ID with "Upgrade: suanchi-tunnel": an agent behind NAT hands
 * the gateway a connection to one of its replicas' engines (docs/internals/tunnels.md). After the
 * 101 answer the socket carries the gateway's HTTP requests to the engine, relayed by the agent. */
static void agent_tunnel(call *k) {
  ctl *c = k->c;
  char rid[64], up[64];
  ctl_node *n = node_of(k);
  if (!n)
    return reply_fail(k, SC_EAUTH, "invalid_credential", "node credential is not valid");
  const char *u = sc_hreq_header(k->req, "Upgrade", up, sizeof up);
  if (!u || strcasecmp(u, "suanchi-tunnel") != 0)
    return reply_fail(k, SC_EINVAL, "upgrade_required", "a tunnel needs the header 'Upgrade: suanchi-tunnel'");
  const char *r = sc_hreq_query(k->req, "replica", rid, sizeof rid);
  if (!r || !r[0]) return reply_fail(k, SC_EINVAL, "invalid_request", "a tunnel needs ?replica=ID");
  if (!ctl_serving_replica_on(c, r, n->st.id))
    return reply_fail(k, SC_ENOENT, "not_found", "no replica '%s' on node %s", r, n->st.name);
  int fd = sc_hreq_upgrade(k->req, "suanchi-tunnel");
  if (fd == SC_HUPGRADE_REFUSED)
    return reply_fail(k, SC_EINVAL, "invalid_request", "a tunnel request has no body and nothing after it");
  k->status = 101;
  if (fd < 0) return;
  c->m.tunnels_total++;
  sc_gateway_adopt_tunnel(c->gw, r, fd);
}

/* ---------- routing ---------- */

static void chips_list(call *k) {
  const sc_chips *cat = sc_chips_global();
  json_t *arr = json_array();
  for (size_t i = 0; i < sc_chips_count(cat); i++) {
    const sc_chip *ch = sc_chips_at(cat, i);
    json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:f,s:f,s:f,s:f,s:f,s:f}", "key", ch->key, "vendor", ch->vendor,
                                         "name", ch->name, "memory_gib", ch->memory_gib, "mem_bw_tbps", ch->mem_bw_tbps,
                                         "bf16_tflops", ch->bf16_tflops, "tdp_w", ch->tdp_w, "purchase_usd",
                                         ch->purchase_usd, "rent_usd_per_hour", ch->rent_usd_per_hour));
  }
  reply_json(k, 200, arr);
}

static void place(call *k) {
  json_t *b = NULL;
  sc_err e;
  int rc = body_json(k, &b, &e);
  if (rc) return reply_err(k, rc, &e);
  ctl_place_dry_run(k->c, k->req, b, &e, &k->status);
  json_decref(b);
}

static void authenticate(call *k) {
  k->role = ROLE_NONE;
  const char *tok = sc_http_bearer(k->req, k->cred_buf, sizeof k->cred_buf);
  char kind[8];
  if (!tok) return;
  if (!sc_secret_parse(tok, kind, k->cred_id, &k->cred_secret)) return;
  if (strcmp(kind, "sca") == 0) {
    if (sc_secret_verify(k->cred_secret, k->c->admin_hash)) k->role = ROLE_ADMIN;
  } else if (strcmp(kind, "scj") == 0) {
    k->role = ROLE_JOIN; /* verified against the token row by the handler */
  } else if (strcmp(kind, "scn") == 0) {
    k->role = ROLE_NODE; /* verified against the node by the handler */
  }
}

static bool is(const call *k, sc_hmethod m, int nseg, const char *s0) {
  return k->method == m && k->nseg == nseg && strcmp(k->seg[0], s0) == 0;
}

static void route_api(call *k) {
  authenticate(k);
  if (k->role == ROLE_NONE)
    return reply_fail(k, SC_EAUTH, "unauthenticated",
                      "missing or invalid credential: send 'Authorization: Bearer TOKEN' (the admin token is in DATA_DIR/admin.token)");
  if (k->nseg == 0) return reply_fail(k, SC_ENOENT, "not_found", "no such route: %s", k->path);
  bool agent_route = strcmp(k->seg[0], "agent") == 0;
  if (agent_route) {
    if (k->nseg == 2 && k->method == SC_HPOST && strcmp(k->seg[1], "register") == 0) {
      if (k->role != ROLE_JOIN) return reply_fail(k, SC_EPERM, "forbidden", "registration needs a join token");
      return agent_register(k);
    }
    if (k->nseg == 3 && k->method == SC_HGET && strcmp(k->seg[1], "models") == 0) {
      if (k->role != ROLE_NODE) return reply_fail(k, SC_EPERM, "forbidden", "model downloads need a node credential");
      if (!node_of(k))
        return reply_fail(k, SC_EAUTH, "invalid_credential", "node credential is not valid");
      return ctl_serving_model_download(k->c, k->req, k->seg[2], &k->status);
    }
    if (k->nseg == 2 && k->method == SC_HGET && strcmp(k->seg[1], "tunnel") == 0) {
      if (k->role != ROLE_NODE) return reply_fail(k, SC_EPERM, "forbidden", "tunnels need a node credential");
      return agent_tunnel(k);
    }
    if (k->nseg == 2 && k->method == SC_HPOST && strcmp(k->seg[1], "heartbeat") == 0) {
      if (k->role != ROLE_NODE) return reply_fail(k, SC_EPERM, "forbidden", "heartbeats need a node credential");
      return agent_heartbeat(k);
    }
    return reply_fail(k, SC_ENOENT, "not_found", "no such route: %s", k->path);
  }
  if (k->role != ROLE_ADMIN) {
    if (k->role == ROLE_JOIN || k->role == ROLE_NODE)
      return reply_fail(k, SC_EPERM, "forbidden", "this credential may only be used by the agent");
  }
  /* gateway admin routes (src/gateway/admin.c) */
  if (strcmp(k->seg[0], "tenants") == 0 || strcmp(k->seg[0], "keys") == 0 || strcmp(k->seg[0], "usage") == 0 ||
      strcmp(k->seg[0], "endpoints") == 0) {
    k->status = 200;
    return sc_gateway_admin(k->c->gw, k->req, k->method, k->seg, k->nseg);
  }
  if (is(k, SC_HGET, 1, "regions")) return regions_list(k);
  if (is(k, SC_HPOST, 1, "regions")) return regions_add(k);
  if (is(k, SC_HGET, 1, "owners")) return owners_list(k);
  if (is(k, SC_HPOST, 1, "owners")) return owners_add(k);
  if (is(k, SC_HGET, 1, "tokens")) return tokens_list(k);
  if (is(k, SC_HPOST, 1, "tokens")) return tokens_create(k);
  if (is(k, SC_HDELETE, 2, "tokens")) return tokens_revoke(k, k->seg[1]);
  if (is(k, SC_HGET, 1, "nodes")) return nodes_list(k);
  if (k->nseg >= 2 && k->nseg <= 3 && strcmp(k->seg[0], "nodes") == 0) return node_action(k);
  if (is(k, SC_HGET, 1, "devices")) return devices_list(k);
  if (is(k, SC_HGET, 1, "chips")) return chips_list(k);
  if (ctl_serving_api(k->c, k->req, k->method, k->seg, k->nseg, &k->status)) return;
  if (is(k, SC_HPOST, 1, "place")) return place(k);
  reply_fail(k, SC_ENOENT, "not_found", "no such route: %s %s",
             k->method == SC_HGET ? "GET" : k->method == SC_HPOST ? "POST"
                                                : k->method == SC_HDELETE ? "DELETE"
                                                                                 : "?",
             k->path);
}

static void on_request(sc_hreq *req, void *arg) {
  ctl *c = arg;
  call k;
  memset(&k, 0, sizeof k);
  k.c = c;
  k.req = req;
  k.method = sc_hreq_method(req);
  if (!sc_strlcpy(k.path, sc_hreq_path(req), sizeof k.path)) {
    sc_http_reply_error(req, 400, "invalid_path", "request path missing or too long");
    return;
  }
  if (strcmp(k.path, "/healthz") == 0) {
    sc_http_reply_json(req, 200, json_pack("{s:s,s:i}", "status", "ok", "nodes", c->reg.n));
    return;
  }
  if (strcmp(k.path, "/metrics") == 0) {
    ctl_metrics_reply(c, req);
    return;
  }
  if (strncmp(k.path, "/v1/", 4) == 0) { /* the OpenAI-compatible gateway (src/gateway) */
    sc_gateway_handle(c->gw, req);
    return;
  }
  if (strncmp(k.path, "/api/v1", 7) != 0 || (k.path[7] != 0 && k.path[7] != '/')) {
    sc_http_reply_error(req, 404, "not_found", "no such route: %s", k.path);
    return;
  }
  int64_t t0 = sc_mono_ns();
  char *save = NULL;
  memcpy(k.segbuf, k.path, sizeof k.segbuf);
  for (char *p = strtok_r(k.segbuf + 7, "/", &save); p; p = strtok_r(NULL, "/", &save)) {
    if (k.nseg == 8) {
      sc_http_reply_error(req, 404, "not_found", "no such route: %s", k.path);
      return;
    }
    k.seg[k.nseg++] = p;
  }
  route_api(&k);
  c->m.api_requests_total++;
  if (k.status >= 400) c->m.api_errors_total++;
  ctl_metrics_observe(c->m.hist, &c->m.hist_sum, (double)(sc_mono_ns() - t0) / 1e9);
}

/* ---------- clock: liveness and flushing ---------- */

static void flush_heartbeats(ctl *c) {
  int n = 0;
  const char **ids = sc_xmalloc(sizeof *ids * (size_t)(c->reg.n + 1));
  int64_t *times = sc_xmalloc(sizeof *times * (size_t)(c->reg.n + 1));
  for (int i = 0; i < c->reg.n; i++) {
    ctl_node *nd = c->reg.nodes[i];
    if (!nd->hb_dirty) continue;
    ids[n] = nd->st.id;
    times[n++] = nd->st.last_heartbeat;
  }
  sc_err e;
  if (sc_store_touch_nodes(c->store, ids, times, n, &e)) sc_warn(MOD, "%s", e.msg);
  else
    for (int i = 0; i < c->reg.n; i++) c->reg.nodes[i]->hb_dirty = false;
  free(ids);
  free(times);
}

/* Hands the gateway a new routing table when replicas or node states changed. */
void ctl_push_routes(ctl *c) {
  if (!c->sv.routes_dirty || !c->gw) return;
  sc_gw_replica *r = NULL;
  int n = ctl_serving_routes(c, &r);
  sc_gateway_set_replicas(c->gw, r, n);
  free(r);
  c->sv.routes_dirty = false;
}

static void on_tick(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  ctl *c = arg;
  int64_t now = sc_mono_ms();
  for (int i = 0; i < c->reg.n; i++) {
    ctl_node *n = c->reg.nodes[i];
    if (strcmp(n->st.state, "ready") == 0 && now - n->last_hb_mono_ms > c->opts.heartbeat_timeout_ms) {
      sc_err e;
      if (sc_store_set_node_state(c->store, n->st.id, "down", n->st.admin_state, &e)) {
        sc_warn(MOD, "%s", e.msg);
        continue;
      }
      sc_strlcpy(n->st.state, "down", sizeof n->st.state);
      c->sv.routes_dirty = true; /* the gateway stops sending to its replicas at once */
      sc_warn(MOD, "node %s (%s) is down: no heartbeat for %lld ms", n->st.name, n->st.id,
              (long long)(now - n->last_hb_mono_ms));
    }
  }
  if (now - c->last_reconcile_mono_ms >= 1000) {
    ctl_serving_reconcile(c);
    c->last_reconcile_mono_ms = now;
  }
  ctl_push_routes(c);
  if (now - c->last_flush_mono_ms >= c->opts.flush_interval_ms) {
    flush_heartbeats(c);
    c->last_flush_mono_ms = now;
  }
}

static void on_signal(evutil_socket_t sig, short what, void *arg) {
  (void)what;
  ctl *c = arg;
  sc_info(MOD, "signal %d: stopping", (int)sig);
  event_base_loopbreak(c->base);
}

/* ---------- start-up ---------- */

static int load_registry(ctl *c, sc_err *e) {
  sc_store_node *nodes = NULL;
  int n = 0;
  int rc = sc_store_load_nodes(c->store, &nodes, &n, e);
  if (rc) return rc;
  int64_t now = sc_mono_ms();
  for (int i = 0; i < n; i++) {
    ctl_node *nd = sc_xcalloc(1, sizeof *nd);
    nd->st = nodes[i];
    nodes[i].devices = NULL;
    nd->live = sc_xcalloc((size_t)(nd->st.ndevices ? nd->st.ndevices : 1), sizeof *nd->live);
    sc_region r;
    sc_owner o;
    if (sc_store_get_region(c->store, nd->st.region_id, &r) == 0) sc_strlcpy(nd->region, r.name, sizeof nd->region);
    if (sc_store_get_owner(c->store, nd->st.owner_id, &o) == 0) {
      sc_strlcpy(nd->owner, o.name, sizeof nd->owner);
      sc_strlcpy(nd->owner_kind, o.kind, sizeof nd->owner_kind);
    }
    nd->last_hb_mono_ms = now; /* a full timeout from the restart before anything is marked down */
    ctl_reg_add(&c->reg, nd);
  }
  sc_store_nodes_free(nodes, n);
  return 0;
}

static int setup_admin(ctl *c, sc_err *e) {
  char path[4096], hexhash[80];
  snprintf(path, sizeof path, "%s/admin.token", c->opts.data_dir);
  if (sc_store_get_setting(c->store, "admin_token_hash", hexhash, sizeof hexhash) == 0 && strlen(hexhash) == 64) {
    for (int i = 0; i < 32; i++) {
      unsigned v;
      sscanf(hexhash + 2 * i, "%2x", &v);
      c->admin_hash[i] = (uint8_t)v;
    }
    if (access(path, F_OK) != 0)
      sc_warn(MOD, "%s is missing; the admin token stays valid (delete %s/suanchi.db's setting to rotate)", path,
              c->opts.data_dir);
    return 0;
  }
  char id[SC_SECRET_ID_LEN + 1], text[SC_SECRET_MAX];
  sc_secret_new("sca", id, text, c->admin_hash);
  char line[SC_SECRET_MAX + 2];
  int len = snprintf(line, sizeof line, "%s\n", text);
  int rc = sc_write_file_atomic(path, line, (size_t)len, 0600);
  if (rc) return sc_err_set(e, rc, "io_error", "cannot write %s: %s", path, sc_strerror(rc));
  for (int i = 0; i < 32; i++) snprintf(hexhash + 2 * i, 3, "%02x", c->admin_hash[i]);
  if ((rc = sc_store_set_setting(c->store, "admin_token_hash", hexhash, e))) return rc;
  sc_info(MOD, "admin token written to %s (mode 0600); the CLI reads it with --data %s", path, c->opts.data_dir);
  return 0;
}

static int bind_listener(ctl *c, sc_err *e) {
  char host[256];
  int port;
  if (sc_parse_hostport(c->opts.listen, host, sizeof host, &port))
    return sc_err_set(e, SC_EINVAL, "invalid_flag", "--listen '%s' is not HOST:PORT", c->opts.listen);
  char addr[300];
  sc_err le;
  if (sc_hsrv_listen(c->http, host, port, addr, sizeof addr, &le))
    return sc_err_set(e, -EADDRINUSE, "listen_failed", "cannot listen on %s: %s", c->opts.listen, le.msg);
  char path[4096], line[320];
  snprintf(path, sizeof path, "%s/serve.addr", c->opts.data_dir);
  int len = snprintf(line, sizeof line, "http://%s\n", addr);
  sc_write_file_atomic(path, line, (size_t)len, 0644);
  sc_info(MOD, "listening on http://%s", addr);
  return 0;
}

int sc_control_run(const sc_control_opts *opts, sc_err *e) {
  ctl c;
  memset(&c, 0, sizeof c);
  c.opts = *opts;
  ctl_reg_init(&c.reg);
  int rc = sc_mkdir_p(opts->data_dir, 0700);
  char dbpath[4096];
  if (rc) {
    rc = sc_err_set(e, rc, "io_error", "cannot create data dir %s: %s", opts->data_dir, sc_strerror(rc));
    goto out;
  }
  snprintf(dbpath, sizeof dbpath, "%s/suanchi.db", opts->data_dir);
  if ((rc = sc_store_open(dbpath, &c.store, e))) goto out;
  if ((rc = setup_admin(&c, e))) goto out;
  if ((rc = load_registry(&c, e))) goto out;
  if ((rc = ctl_serving_load(&c, e))) goto out;
  signal(SIGPIPE, SIG_IGN);
  c.base = event_base_new();
  /* model uploads come in chunks of up to 16 MiB; JSON bodies are capped by the handlers */
  sc_hsrv_opts ho = {.max_body = opts->max_body * 4 > (17 << 20) ? opts->max_body * 4 : (17 << 20),
                     .idle_timeout_ms = 60000, .cb = on_request, .arg = &c};
  if ((rc = sc_hsrv_create(c.base, &ho, &c.http, e))) goto out;
  sc_gateway_opts gwo = {.db_path = dbpath, .upstream_timeout_ms = 300000, .max_body = opts->max_body};
  if ((rc = sc_gateway_create(c.base, &gwo, &c.gw, e))) goto out;
  if ((rc = bind_listener(&c, e))) goto out;
  c.started_mono_ms = c.last_flush_mono_ms = sc_mono_ms();
  struct timeval second = {0, 250000};
  c.tick = event_new(c.base, -1, EV_PERSIST, on_tick, &c);
  event_add(c.tick, &second);
  c.sigint = evsignal_new(c.base, SIGINT, on_signal, &c);
  c.sigterm = evsignal_new(c.base, SIGTERM, on_signal, &c);
  event_add(c.sigint, NULL);
  event_add(c.sigterm, NULL);
  sc_info(MOD, "control plane up: %d nodes known, heartbeat timeout %lld ms", c.reg.n,
          (long long)opts->heartbeat_timeout_ms);
  event_base_dispatch(c.base);
  flush_heartbeats(&c);
  sc_info(MOD, "stopped");
out:
  if (c.tick) event_free(c.tick);
  if (c.sigint) event_free(c.sigint);
  if (c.sigterm) event_free(c.sigterm);
  if (c.http) sc_hsrv_stop_listening(c.http);
  sc_gateway_destroy(c.gw);
  sc_hsrv_destroy(c.http);
  if (c.base) event_base_free(c.base);
  ctl_serving_fini(&c);
  ctl_reg_fini(&c.reg);
  sc_store_close(c.store);
  return rc;
}
