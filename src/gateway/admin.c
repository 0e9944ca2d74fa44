/*
 * admin.c — the gateway's admin routes (the control plane authenticated the admin):
 *   POST/GET /api/v1/tenants, POST/GET /api/v1/keys, DELETE /api/v1/keys/ID,
 *   GET /api/v1/usage, PUT/GET /api/v1/endpoints, DELETE /api/v1/endpoints/NAME.
 * External endpoints are kept in the settings table as one JSON document (key
 * "gateway.endpoints"), so they survive restarts without a schema change.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/log.h"
#include "base/secret.h"
#include "base/util.h"
#include "gateway/internal.h"
#include "net/http.h"

#define MOD "gateway"
#define EP_SETTING "gateway.endpoints"

static int body_json(sc_gateway *g, sc_hreq *req, const sc_json_field *f, json_t **out, sc_err *e) {
  int rc = sc_http_json_body(req, g->opts.max_body, out, e);
  if (!rc && (rc = sc_json_check(*out, f, NULL, e))) {
    json_decref(*out);
    *out = NULL;
  }
  return rc;
}

static const char *query_param(sc_hreq *req, const char *key, char *buf, size_t cap) {
  return sc_hreq_query(req, key, buf, cap);
}

static int check_region(sc_gateway *g, const char *name, sc_err *e) {
  sc_region r;
  if (!name || !name[0]) return 0;
  if (sc_store_find_region(g->store, name, &r))
    return sc_err_set(e, SC_EINVAL, "unknown_region", "unknown region '%s' (see 'suanchi regions')", name);
  return 0;
}

/* ---------- tenants ---------- */

static json_t *tenant_json(sc_gateway *g, const sc_tenant *t) {
  int keys = 0;
  for (int i = 0; i < g->nkeys; i++) keys += strcmp(g->keys[i].tenant, t->name) == 0 && !g->keys[i].revoked;
  return json_pack("{s:s,s:s,s:I,s:i}", "name", t->name, "home_region", t->home_region, "created_at",
                   (json_int_t)t->created_at, "keys", keys);
}

static void tenants_add(sc_gateway *g, sc_hreq *req) {
  static const sc_json_field f[] = {{"name", SC_JSON_STRING, true, 0, 0, 63, false},
                                    {"home_region", SC_JSON_STRING, false, 0, 0, 63, true},
                                    {0}};
  json_t *b = NULL;
  sc_err e;
  int rc = body_json(g, req, f, &b, &e);
  if (rc) goto fail;
  sc_tenant t;
  memset(&t, 0, sizeof t);
  sc_strlcpy(t.name, sc_json_str(b, "name", ""), sizeof t.name);
  sc_strlcpy(t.home_region, sc_json_str(b, "home_region", ""), sizeof t.home_region);
  if (!sc_valid_name(t.name)) {
    rc = sc_err_set(&e, SC_EINVAL, "invalid_request",
                    "tenant name '%s' must be 1-63 letters, digits, '.', '-' or '_', starting with a letter or digit", t.name);
    goto fail;
  }
  if ((rc = check_region(g, t.home_region, &e))) goto fail;
  t.created_at = sc_wall_ms();
  if ((rc = sc_gws_tenant_add(g->store, &t, &t.id, &e))) goto fail;
  sc_info(MOD, "tenant %s added (home region '%s')", t.name, t.home_region);
  json_decref(b);
  return sc_http_reply_json(req, 201, tenant_json(g, &t));
fail:
  json_decref(b);
  sc_http_reply_err(req, rc, &e);
}

static void tenants_list(sc_gateway *g, sc_hreq *req) {
  sc_tenant *ts;
  int n;
  sc_err e;
  int rc = sc_gws_tenant_list(g->store, &ts, &n, &e);
  if (rc) return sc_http_reply_err(req, rc, &e);
  json_t *arr = json_array();
  for (int i = 0; i < n; i++) json_array_append_new(arr, tenant_json(g, &ts[i]));
  free(ts);
  sc_http_reply_json(req, 200, arr);
}

/* ---------- keys ---------- */

static json_t *key_json(const gw_key *k, int64_t created_at) {
  return json_pack("{s:s,s:s,s:I,s:I,s:s,s:s,s:I}", "id", k->id, "tenant", k->tenant, "rpm", (json_int_t)k->rpm,
                   "tpm", (json_int_t)k->tpm, "region", k->region, "status", k->revoked ? "revoked" : "active",
                   "created_at", (json_int_t)created_at);
}

static void keys_create(sc_gateway *g, sc_hreq *req) {
  static const sc_json_field f[] = {{"tenant", SC_JSON_STRING, true, 0, 0, 63, false},
                                    {"rpm", SC_JSON_INT, false, 0, 1000000000, 0, false},
                                    {"tpm", SC_JSON_INT, false, 0, 1000000000000LL, 0, false},
                                    {"region", SC_JSON_STRING, false, 0, 0, 63, true},
                                    {0}};
  json_t *b = NULL;
  sc_err e;
  int rc = body_json(g, req, f, &b, &e);
  if (rc) goto fail;
  sc_tenant t;
  const char *tn = sc_json_str(b, "tenant", "");
  if (sc_gws_tenant_find(g->store, tn, &t)) {
    rc = sc_err_set(&e, SC_EINVAL, "unknown_tenant", "unknown tenant '%s' (see 'suanchi tenants')", tn);
    goto fail;
  }
  sc_api_key k;
  memset(&k, 0, sizeof k);
  sc_strlcpy(k.region, sc_json_str(b, "region", ""), sizeof k.region);
  if ((rc = check_region(g, k.region, &e))) goto fail;
  char text[SC_SECRET_MAX];
  sc_secret_new("sck", k.id, text, k.hash);
  k.tenant_id = t.id;
  k.rpm = sc_json_int(b, "rpm", 0);
  k.tpm = sc_json_int(b, "tpm", 0);
  k.created_at = sc_wall_ms();
  if ((rc = sc_gws_key_add(g->store, &k, &e))) goto fail;
  if ((rc = gw_keys_reload(g, &e))) goto fail;
  sc_info(MOD, "API key %s created for tenant %s", k.id, t.name);
  gw_key view;
  memset(&view, 0, sizeof view);
  sc_strlcpy(view.id, k.id, sizeof view.id);
  sc_strlcpy(view.tenant, t.name, sizeof view.tenant);
  view.rpm = k.rpm;
  view.tpm = k.tpm;
  sc_strlcpy(view.region, k.region[0] ? k.region : t.home_region, sizeof view.region);
  json_t *out = key_json(&view, k.created_at);
  json_object_set_new(out, "key", json_string(text));
  json_decref(b);
  return sc_http_reply_json(req, 201, out);
fail:
  json_decref(b);
  sc_http_reply_err(req, rc, &e);
}

static void keys_list(sc_gateway *g, sc_hreq *req) {
  sc_api_key *ks;
  int n;
  sc_err e;
  int rc = sc_gws_key_list(g->store, &ks, &n, &e);
  if (rc) return sc_http_reply_err(req, rc, &e);
  char tb[64];
  const char *tenant = query_param(req, "tenant", tb, sizeof tb);
  json_t *arr = json_array();
  for (int i = 0; i < n; i++) {
    if (tenant && strcmp(ks[i].tenant, tenant) != 0) continue;
    gw_key v;
    memset(&v, 0, sizeof v);
    sc_strlcpy(v.id, ks[i].id, sizeof v.id);
    sc_strlcpy(v.tenant, ks[i].tenant, sizeof v.tenant);
    v.rpm = ks[i].rpm;
    v.tpm = ks[i].tpm;
    v.revoked = ks[i].revoked;
    sc_strlcpy(v.region, ks[i].region[0] ? ks[i].region : ks[i].tenant_region, sizeof v.region);
    json_array_append_new(arr, key_json(&v, ks[i].created_at));
  }
  free(ks);
  sc_http_reply_json(req, 200, arr);
}

static void keys_revoke(sc_gateway *g, sc_hreq *req, const char *id) {
  sc_err e;
  int rc = sc_gws_key_revoke(g->store, id, &e);
  if (!rc) rc = gw_keys_reload(g, &e);
  if (rc) return sc_http_reply_err(req, rc, &e);
  sc_info(MOD, "API key %s revoked", id);
  sc_http_reply_json(req, 200, json_pack("{s:s,s:s}", "id", id, "status", "revoked"));
}

/* ---------- usage ---------- */

static void usage_query(sc_gateway *g, sc_hreq *req) {
  char bb[16], tb[64], sb[32], ub[32];
  const char *by = query_param(req, "by", bb, sizeof bb);
  const char *tenant = query_param(req, "tenant", tb, sizeof tb);
  const char *since = query_param(req, "since", sb, sizeof sb);
  const char *until = query_param(req, "until", ub, sizeof ub);
  int64_t s = 0, u = 0;
  sc_err e;
  if ((since && sc_parse_i64(since, 0, INT64_MAX, &s)) || (until && sc_parse_i64(until, 0, INT64_MAX, &u))) {
    sc_err_set(&e, SC_EINVAL, "invalid_request", "since and until are epoch milliseconds");
    return sc_http_reply_err(req, SC_EINVAL, &e);
  }
  json_t *rows;
  gw_meter_sync(g->meter); /* every record journaled so far is counted */
  int rc = sc_gws_usage_query(g->store, by ? by : "tenant", tenant, s, u, &rows, &e);
  if (rc) return sc_http_reply_err(req, rc, &e);
  sc_http_reply_json(req, 200, json_pack("{s:s,s:o,s:o}", "by", by ? by : "tenant", "tenant",
                                         tenant ? json_string(tenant) : json_null(), "rows", rows));
}

/* ---------- external endpoints ---------- */

static json_t *endpoint_json(const gw_endpoint *ep) {
  return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "name", ep->name, "model", ep->model, "url", ep->url, "region",
                   ep->region, "chip", ep->chip, "upstream_model", ep->upstream_model);
}

static int endpoints_save(sc_gateway *g, sc_err *e) {
  json_t *arr = json_array();
  for (int i = 0; i < g->neps; i++) json_array_append_new(arr, endpoint_json(&g->eps[i]));
  char *t = json_dumps(arr, JSON_COMPACT);
  json_decref(arr);
  int rc = sc_store_set_setting(g->store, EP_SETTING, t, e);
  free(t);
  return rc;
}

static int endpoint_from_json(sc_gateway *g, json_t *o, gw_endpoint *ep, sc_err *e) {
  static const sc_json_field f[] = {{"name", SC_JSON_STRING, true, 0, 0, 63, false},
                                    {"model", SC_JSON_STRING, true, 0, 0, 63, false},
                                    {"url", SC_JSON_STRING, true, 0, 0, 159, false},
                                    {"region", SC_JSON_STRING, false, 0, 0, 63, true},
                                    {"chip", SC_JSON_STRING, false, 0, 0, 63, true},
                                    {"upstream_model", SC_JSON_STRING, false, 0, 0, 63, true},
                                    {0}};
  int rc = sc_json_check(o, f, NULL, e);
  if (rc) return rc;
  memset(ep, 0, sizeof *ep);
  sc_strlcpy(ep->name, sc_json_str(o, "name", ""), sizeof ep->name);
  sc_strlcpy(ep->model, sc_json_str(o, "model", ""), sizeof ep->model);
  sc_strlcpy(ep->url, sc_json_str(o, "url", ""), sizeof ep->url);
  sc_strlcpy(ep->region, sc_json_str(o, "region", ""), sizeof ep->region);
  sc_strlcpy(ep->chip, sc_json_str(o, "chip", ""), sizeof ep->chip);
  sc_strlcpy(ep->upstream_model, sc_json_str(o, "upstream_model", ""), sizeof ep->upstream_model);
  if (!sc_valid_name(ep->name) || strlen(ep->name) > 36)
    return sc_err_set(e, SC_EINVAL, "invalid_request",
                      "endpoint name '%s' must be 1-36 letters, digits, '.', '-' or '_', starting with a letter or digit",
                      ep->name);
  if (!sc_valid_name(ep->model))
    return sc_err_set(e, SC_EINVAL, "invalid_request",
                      "model name '%s' must be 1-63 letters, digits, '.', '-' or '_', starting with a letter or digit",
                      ep->model);
  char host[128];
  int port;
  if (gw_parse_url(ep->url, host, sizeof host, &port))
    return sc_err_set(e, SC_EINVAL, "invalid_request", "url '%s' must be http://HOST:PORT (the engine's base URL)",
                      ep->url);
  (void)g;
  return 0;
}

int gw_endpoints_load(sc_gateway *g, sc_err *e) {
  size_t cap = 64 * 1024;
  char *buf = sc_xmalloc(cap);
  g->neps = 0;
  if (sc_store_get_setting(g->store, EP_SETTING, buf, cap) != 0) {
    free(buf);
    return 0;
  }
  json_error_t je;
  json_t *arr = json_loads(buf, 0, &je);
  free(buf);
  if (!json_is_array(arr)) {
    json_decref(arr);
    return sc_err_set(e, SC_EFORMAT, "store_error", "setting %s is not a JSON array", EP_SETTING);
  }
  size_t i;
  json_t *o;
  json_array_foreach(arr, i, o) {
    if (g->neps == GW_MAX_ENDPOINTS) break;
    sc_err e2;
    if (endpoint_from_json(g, o, &g->eps[g->neps], &e2)) {
      sc_warn(MOD, "stored endpoint %zu skipped: %s", i, e2.msg);
      continue;
    }
    g->neps++;
  }
  json_decref(arr);
  return 0;
}

static void endpoints_put(sc_gateway *g, sc_hreq *req) {
  char *buf = NULL;
  size_t len = 0;
  sc_err e;
  json_t *b = NULL;
  int rc;
  if (sc_http_body(req, g->opts.max_body, &buf, &len)) {
    rc = sc_err_set(&e, SC_ETOOBIG, "body_too_large", "request body larger than %zu bytes", g->opts.max_body);
    goto fail;
  }
  rc = sc_json_parse_object(buf, len, &b, &e);
  free(buf);
  if (rc) goto fail;
  gw_endpoint ep;
  if ((rc = endpoint_from_json(g, b, &ep, &e))) goto fail;
  if ((rc = check_region(g, ep.region, &e))) goto fail;
  int at = -1;
  for (int i = 0; i < g->neps; i++)
    if (strcmp(g->eps[i].name, ep.name) == 0) at = i;
  for (int i = 0; i < g->nctl; i++)
    if (strcmp(g->ctl_reps[i].model, ep.model) == 0) {
      rc = sc_err_set(&e, SC_EEXIST, "model_is_deployed",
                      "model '%s' is a deployment of this pool; external endpoints serve other model names", ep.model);
      goto fail;
    }
  if (at < 0 && g->neps == GW_MAX_ENDPOINTS) {
    rc = sc_err_set(&e, SC_EINVAL, "too_many_endpoints", "at most %d external endpoints", GW_MAX_ENDPOINTS);
    goto fail;
  }
  gw_endpoint saved[GW_MAX_ENDPOINTS];
  int nsaved = g->neps;
  memcpy(saved, g->eps, sizeof saved);
  if (at < 0) at = g->neps++;
  g->eps[at] = ep;
  if ((rc = endpoints_save(g, &e))) {
    memcpy(g->eps, saved, sizeof saved);
    g->neps = nsaved;
    goto fail;
  }
  gw_rebuild_routes(g);
  sc_info(MOD, "endpoint %s: model %s at %s (region '%s', chip '%s')", ep.name, ep.model, ep.url, ep.region, ep.chip);
  json_decref(b);
  return sc_http_reply_json(req, 200, endpoint_json(&ep));
fail:
  json_decref(b);
  sc_http_reply_err(req, rc, &e);
}

static void endpoints_list(sc_gateway *g, sc_hreq *req) {
  json_t *arr = json_array();
  for (int i = 0; i < g->neps; i++) json_array_append_new(arr, endpoint_json(&g->eps[i]));
  sc_http_reply_json(req, 200, arr);
}

static void endpoints_delete(sc_gateway *g, sc_hreq *req, const char *name) {
  sc_err e;
  int at = -1;
  for (int i = 0; i < g->neps; i++)
    if (strcmp(g->eps[i].name, name) == 0) at = i;
  if (at < 0) {
    sc_err_set(&e, SC_ENOENT, "not_found", "no endpoint '%s' (see 'suanchi endpoints')", name);
    return sc_http_reply_err(req, SC_ENOENT, &e);
  }
  gw_endpoint gone = g->eps[at];
  memmove(&g->eps[at], &g->eps[at + 1], sizeof g->eps[0] * (size_t)(g->neps - at - 1));
  g->neps--;
  int rc = endpoints_save(g, &e);
  if (rc) {
    memmove(&g->eps[at + 1], &g->eps[at], sizeof g->eps[0] * (size_t)(g->neps - at));
    g->eps[at] = gone;
    g->neps++;
    return sc_http_reply_err(req, rc, &e);
  }
  gw_rebuild_routes(g);
  sc_info(MOD, "endpoint %s removed", name);
  sc_http_reply_json(req, 200, json_pack("{s:s,s:s}", "name", name, "status", "removed"));
}

/* ---------- routing ---------- */

void sc_gateway_admin(sc_gateway *g, sc_hreq *req, sc_hmethod m, char **seg, int nseg) {
  const char *s0 = nseg ? seg[0] : "";
  if (strcmp(s0, "tenants") == 0 && nseg == 1 && m == SC_HPOST) return tenants_add(g, req);
  if (strcmp(s0, "tenants") == 0 && nseg == 1 && m == SC_HGET) return tenants_list(g, req);
  if (strcmp(s0, "keys") == 0 && nseg == 1 && m == SC_HPOST) return keys_create(g, req);
  if (strcmp(s0, "keys") == 0 && nseg == 1 && m == SC_HGET) return keys_list(g, req);
  if (strcmp(s0, "keys") == 0 && nseg == 2 && m == SC_HDELETE) return keys_revoke(g, req, seg[1]);
  if (strcmp(s0, "usage") == 0 && nseg == 1 && m == SC_HGET) return usage_query(g, req);
  if (strcmp(s0, "endpoints") == 0 && nseg == 1 && m == SC_HPUT) return endpoints_put(g, req);
  if (strcmp(s0, "endpoints") == 0 && nseg == 1 && m == SC_HGET) return endpoints_list(g, req);
  if (strcmp(s0, "endpoints") == 0 && nseg == 2 && m == SC_HDELETE) return endpoints_delete(g, req, seg[1]);
  sc_http_reply_error(req, 404, "not_found", "no such route under /api/v1/%s for this method", s0);
}
