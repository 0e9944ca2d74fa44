/*
 * gateway.c — the OpenAI-compatible gateway: API keys with rate limits, routing over ready
 * replicas, proxying (plain and streamed), and exact metering. See docs/internals/gateway.md.
 *
 * One request's life (all on the event loop):
 *
 *   handle ── key? ── rpm/tpm? ── body ok? ── model known? ── replica ready? ── dispatch
 *     401         429 (Retry-After)   400/413      404             503          │
 *                                                                  ┌────────────┘
 *   dispatch ── upstream fails before any byte ──> next replica (at most GW_MAX_TRIES), else 502
 *       │
 *       └─ headers ── body / SSE events ── upstream done ── record queued ── committed ── last bytes
 *                                                                                 to the client
 *
 * The last bytes of every answer (the whole body of a plain answer; the usage event and
 * [DONE] of a stream) are held until the usage record's transaction has committed.
 */
#include <errno.h>
#include <event2/buffer.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/json.h"
#include "base/log.h"
#include "base/secret.h"
#include "base/util.h"
#include "gateway/internal.h"
#include "net/http.h"

#define MOD "gateway"
#define GW_DEFAULT_MAX_TOKENS 256 /* estimate for routing when the client gives none */
#define GW_COOL_MS 5000           /* a replica whose connection failed is skipped this long (if others can serve) */

/* A growable byte buffer for one call's held-back and relayed bytes. */
typedef struct gbuf {
  char *p;
  size_t n, cap;
} gbuf;

struct gw_call {
  sc_gateway *g;
  gw_call *prev, *next;
  sc_hreq *req;                      /* the client's request; ended exactly once (then NULL) */
  bool client_gone;
  char reqid[40];
  char key_id[32], tenant[64];
  char model[64];
  char path[32];
  char pref_region[64];
  bool stream, client_usage;
  json_t *body;                      /* parsed request, when the slow path or a rewrite needed it */
  const char *raw;                   /* the client's bytes (in the request, valid until it ends) */
  size_t rawlen;
  char *fwd;                         /* the bytes to send upstream when not raw (owned) */
  size_t fwdlen;
  uint64_t prefix_hash;
  int64_t est_prompt, est_tokens;
  int64_t ts_ms, t0_ns, ttft_ns;
  int tries;
  char tried[GW_MAX_TRIES][40];
  gw_rep rep;                        /* copy of the replica of the current attempt */
  sc_hcall *uc;                      /* the upstream call in flight */
  bool headers_seen, is_sse;
  int ustatus;
  char ctype[64];
  gbuf sse, out, tail, resp;         /* SSE bytes not yet split into events; events to relay now;
                                        the last events, held until metered; a plain answer */
  bool usage_seen, done_seen, error_event;
  int64_t prompt_tokens, completion_tokens, content_chunks;
  char status[24];
};

/* ---------- small helpers ---------- */

static void gb_add(gbuf *b, const void *p, size_t n) {
  if (b->n + n > b->cap) {
    b->cap = (b->n + n) * 2 + 256;
    b->p = sc_xrealloc(b->p, b->cap);
  }
  memcpy(b->p + b->n, p, n);
  b->n += n;
}

static void gb_printf(gbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void gb_printf(gbuf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n <= 0) return;
  if (b->n + (size_t)n + 1 > b->cap) {
    b->cap = (b->n + (size_t)n + 1) * 2;
    b->p = sc_xrealloc(b->p, b->cap);
  }
  va_start(ap, fmt);
  vsnprintf(b->p + b->n, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->n += (size_t)n;
}

static uint64_t fnv1a(uint64_t h, const void *p, size_t n) {
  const unsigned char *s = p;
  for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 1099511628211ULL;
  return h;
}
#define FNV_SEED 14695981039346656037ULL

static uint64_t mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

/* OpenAI-shaped error with an optional param. */
static void gw_error(sc_hreq *req, int status, const char *code, const char *param, const char *fmt,
                     ...) __attribute__((format(printf, 5, 6)));
static void gw_error(sc_hreq *req, int status, const char *code, const char *param, const char *fmt,
                     ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  const char *type = status == 401   ? "authentication_error"
                     : status == 404 ? "not_found_error"
                     : status == 429 ? "rate_limit_error"
                     : status < 500  ? "invalid_request_error"
                                     : "server_error";
  json_t *o = json_pack("{s:{s:s,s:s,s:s,s:o}}", "error", "message", msg, "type", type, "code", code, "param",
                        param ? json_string(param) : json_null());
  sc_http_reply_json(req, status, o);
}

int gw_parse_url(const char *url, char *host, size_t cap, int *port) {
  if (strncmp(url, "http://", 7) != 0) return SC_EINVAL;
  char hp[200];
  if (!sc_strlcpy(hp, url + 7, sizeof hp)) return SC_EINVAL;
  size_t n = strlen(hp);
  if (n && hp[n - 1] == '/') hp[n - 1] = 0;
  if (strchr(hp, '/')) return SC_EINVAL;
  if (sc_parse_hostport(hp, host, cap, port) || *port <= 0) return SC_EINVAL;
  if (host[0] == '[') { /* sockets want a bare v6 address */
    size_t l = strlen(host);
    memmove(host, host + 1, l);
    if (l >= 2 && host[l - 2] == ']') host[l - 2] = 0;
  }
  return 0;
}

/* ---------- keys ---------- */

static int key_slot(const sc_gateway *g, const char *id) {
  if (!g->nkslots) return -1;
  uint64_t h = fnv1a(FNV_SEED, id, strlen(id));
  for (int i = 0; i < g->nkslots; i++) {
    int s = (int)((h + (uint64_t)i) % (uint64_t)g->nkslots);
    int k = g->kslots[s];
    if (k < 0) return -1;
    if (strcmp(g->keys[k].id, id) == 0) return k;
  }
  return -1;
}

int gw_keys_reload(sc_gateway *g, sc_err *e) {
  sc_api_key *ks;
  int n;
  int rc = sc_gws_key_list(g->store, &ks, &n, e);
  if (rc) return rc;
  gw_key *nk = sc_xcalloc((size_t)(n ? n : 1), sizeof *nk);
  int64_t now = sc_mono_ms();
  for (int i = 0; i < n; i++) {
    gw_key *k = &nk[i];
    sc_strlcpy(k->id, ks[i].id, sizeof k->id);
    sc_strlcpy(k->tenant, ks[i].tenant, sizeof k->tenant);
    memcpy(k->hash, ks[i].hash, 32);
    k->rpm = ks[i].rpm;
    k->tpm = ks[i].tpm;
    sc_strlcpy(k->region, ks[i].region[0] ? ks[i].region : ks[i].tenant_region, sizeof k->region);
    k->revoked = ks[i].revoked;
    int old = key_slot(g, k->id);
    if (old >= 0) { /* keep the buckets across reloads */
      k->rq_bucket = g->keys[old].rq_bucket;
      k->tk_bucket = g->keys[old].tk_bucket;
      k->last_refill_ms = g->keys[old].last_refill_ms;
    } else {
      k->rq_bucket = (double)k->rpm;
      k->tk_bucket = (double)k->tpm;
      k->last_refill_ms = now;
    }
  }
  free(ks);
  int ns = n * 2 + 16;
  int *slots = sc_xmalloc(sizeof *slots * (size_t)ns);
  for (int i = 0; i < ns; i++) slots[i] = -1;
  for (int i = 0; i < n; i++) {
    uint64_t h = fnv1a(FNV_SEED, nk[i].id, strlen(nk[i].id));
    int s = (int)(h % (uint64_t)ns);
    while (slots[s] >= 0) s = (s + 1) % ns;
    slots[s] = i;
  }
  free(g->keys);
  free(g->kslots);
  g->keys = nk;
  g->nkeys = n;
  g->kslots = slots;
  g->nkslots = ns;
  return 0;
}

static void key_refill(gw_key *k, int64_t now) {
  double dt = (double)(now - k->last_refill_ms);
  if (dt <= 0) return;
  k->last_refill_ms = now;
  if (k->rpm) {
    k->rq_bucket += dt * (double)k->rpm / 60000.0;
    if (k->rq_bucket > (double)k->rpm) k->rq_bucket = (double)k->rpm;
  }
  if (k->tpm) {
    k->tk_bucket += dt * (double)k->tpm / 60000.0;
    if (k->tk_bucket > (double)k->tpm) k->tk_bucket = (double)k->tpm;
  }
}

/* Charges the tokens a finished request used to its key's tpm bucket. */
static void key_charge(sc_gateway *g, const char *key_id, int64_t tokens) {
  int i = key_slot(g, key_id);
  if (i < 0 || !g->keys[i].tpm) return;
  key_refill(&g->keys[i], sc_mono_ms());
  g->keys[i].tk_bucket -= (double)tokens;
}

/* ---------- routing table ---------- */

static gw_rep *rep_find(sc_gateway *g, const char *id) {
  for (int i = 0; i < g->nreps; i++)
    if (strcmp(g->reps[i].r.id, id) == 0) return &g->reps[i];
  return NULL;
}

void gw_rebuild_routes(sc_gateway *g) {
  int n = g->nctl + g->neps;
  gw_rep *v = sc_xcalloc((size_t)(n ? n : 1), sizeof *v);
  int k = 0;
  for (int i = 0; i < g->nctl; i++) {
    gw_rep *r = &v[k];
    r->r = g->ctl_reps[i];
    if (strncmp(r->r.url, "tunnel://", 9) == 0) { /* an agent behind NAT dials in: upstream (id, port 0) */
      sc_strlcpy(r->host, r->r.id, sizeof r->host);
      r->port = 0;
    } else if (gw_parse_url(r->r.url, r->host, sizeof r->host, &r->port)) {
      sc_warn(MOD, "replica %s has an unusable URL '%s'; not routed", r->r.id, r->r.url);
      continue;
    }
    k++;
  }
  for (int i = 0; i < g->neps; i++) {
    const gw_endpoint *ep = &g->eps[i];
    gw_rep *r = &v[k];
    memcpy(r->r.id, "ep-", 3); /* endpoint names are at most 36 characters (admin.c) */
    sc_strlcpy(r->r.id + 3, ep->name, sizeof r->r.id - 3);
    sc_strlcpy(r->r.deployment, ep->model, sizeof r->r.deployment);
    sc_strlcpy(r->r.model, ep->model, sizeof r->r.model);
    sc_strlcpy(r->r.node, ep->name, sizeof r->r.node);
    sc_strlcpy(r->r.node_id, "external", sizeof r->r.node_id);
    sc_strlcpy(r->r.region, ep->region, sizeof r->r.region);
    sc_strlcpy(r->r.owner, "external", sizeof r->r.owner);
    sc_strlcpy(r->r.owner_kind, "self", sizeof r->r.owner_kind);
    sc_strlcpy(r->r.chip, ep->chip, sizeof r->r.chip);
    sc_strlcpy(r->r.url, ep->url, sizeof r->r.url);
    sc_strlcpy(r->upstream_model, ep->upstream_model, sizeof r->upstream_model);
    r->r.ready = true;
    r->external = true;
    if (gw_parse_url(r->r.url, r->host, sizeof r->host, &r->port)) continue;
    k++;
  }
  for (int i = 0; i < k; i++) { /* in-flight estimates survive a table change */
    gw_rep *old = rep_find(g, v[i].r.id);
    if (old) {
      v[i].outstanding = old->outstanding;
      v[i].inflight = old->inflight;
      v[i].cool_until_ms = old->cool_until_ms;
    }
  }
  free(g->reps);
  g->reps = v;
  g->nreps = k;
}

void sc_gateway_set_replicas(sc_gateway *g, const sc_gw_replica *r, int n) {
  free(g->ctl_reps);
  g->ctl_reps = sc_xmalloc(sizeof *r * (size_t)(n > 0 ? n : 1));
  if (n > 0) memcpy(g->ctl_reps, r, sizeof *r * (size_t)n);
  g->nctl = n > 0 ? n : 0;
  gw_rebuild_routes(g);
}

/* Picks a ready replica of c->model not tried yet: the preferred region if it has one, then
 * the replica that ranks first for the prompt's prefix (rendezvous hashing) among those whose
 * outstanding tokens are within a slack of the least loaded. NULL if none. */
static gw_rep *pick(sc_gateway *g, gw_call *c) {
  gw_rep *cand[256];
  int n = 0;
  bool in_region = false, warm = false;
  int64_t now = sc_mono_ms();
  for (int i = 0; i < g->nreps && !warm; i++) /* is any replica not cooling down after a failure? */
    warm = g->reps[i].r.ready && g->reps[i].cool_until_ms <= now && strcmp(g->reps[i].r.model, c->model) == 0;
  for (int i = 0; i < g->nreps && n < 256; i++) {
    gw_rep *r = &g->reps[i];
    if (!r->r.ready || strcmp(r->r.model, c->model) != 0) continue;
    if (warm && r->cool_until_ms > now) continue;
    bool tried = false;
    for (int t = 0; t < c->tries; t++) tried |= strcmp(c->tried[t], r->r.id) == 0;
    if (tried) continue;
    bool here = c->pref_region[0] && strcmp(r->r.region, c->pref_region) == 0;
    if (here && !in_region) {
      n = 0;
      in_region = true;
    }
    if (in_region && !here) continue;
    cand[n++] = r;
  }
  if (!n) return NULL;
  int64_t least = cand[0]->outstanding;
  for (int i = 1; i < n; i++)
    if (cand[i]->outstanding < least) least = cand[i]->outstanding;
  int64_t bound = least + (least / 4 > 2048 ? least / 4 : 2048);
  gw_rep *best = NULL;
  uint64_t best_score = 0;
  for (int i = 0; i < n; i++) {
    if (cand[i]->outstanding > bound) continue;
    uint64_t s = mix64(c->prefix_hash ^ fnv1a(FNV_SEED, cand[i]->r.id, strlen(cand[i]->r.id)));
    if (!best || s > best_score) {
      best = cand[i];
      best_score = s;
    }
  }
  return best;
}

/* ---------- call lifetime ---------- */

/* Frees the call. Its request must have been ended already (c->req NULL). */
static void call_free(gw_call *c) {
  sc_gateway *g = c->g;
  if (c->prev) c->prev->next = c->next;
  else g->calls = c->next;
  if (c->next) c->next->prev = c->prev;
  json_decref(c->body);
  free(c->fwd);
  bool small = c->sse.cap + c->out.cap + c->tail.cap + c->resp.cap <= (256u << 10);
  if (g->nfree < 1024 && small && !g->stopping) { /* kept, buffers and all, for the next request */
    c->next = g->free_calls;
    g->free_calls = c;
    g->nfree++;
    return;
  }
  free(c->sse.p);
  free(c->out.p);
  free(c->tail.p);
  free(c->resp.p);
  free(c);
}

static gw_call *call_new(sc_gateway *g) {
  gw_call *c = g->free_calls;
  if (!c) return sc_xcalloc(1, sizeof *c);
  g->free_calls = c->next;
  g->nfree--;
  gbuf keep[4] = {c->sse, c->out, c->tail, c->resp};
  memset(c, 0, sizeof *c);
  c->sse = (gbuf){keep[0].p, 0, keep[0].cap};
  c->out = (gbuf){keep[1].p, 0, keep[1].cap};
  c->tail = (gbuf){keep[2].p, 0, keep[2].cap};
  c->resp = (gbuf){keep[3].p, 0, keep[3].cap};
  return c;
}

/* Ends the client's request with an error answer (dropped if the client left) and frees the call. */
static void fail_call(gw_call *c, int status, const char *code, const char *msg) {
  sc_hreq *req = c->req;
  c->req = NULL;
  sc_hreq_on_close(req, NULL, NULL);
  gw_error(req, status, code, NULL, "%s", msg);
  call_free(c);
}

static void upstream_done(gw_call *c, int how);

static void on_client_close(void *arg) {
  gw_call *c = arg;
  c->client_gone = true;
  if (c->uc) { /* the engine sees the connection close and stops generating */
    sc_hcall_cancel(c->uc);
    c->uc = NULL;
    upstream_done(c, SC_HCALL_BROKEN);
  }
}

static void dispatch(gw_call *c);

/* Sends the bytes held back for after the commit, ends the request, frees the call. */
static void on_committed(void *arg, bool stored) {
  gw_call *c = arg;
  if (!stored) sc_warn(MOD, "request %s: usage record could not be stored", c->reqid);
  sc_hreq *req = c->req;
  c->req = NULL;
  sc_hreq_on_close(req, NULL, NULL);
  if (c->is_sse) {
    if (c->tail.n) sc_hreq_chunk(req, c->tail.p, c->tail.n);
    sc_hreq_end(req);
  } else if (c->headers_seen && (strcmp(c->status, "ok") == 0 || strncmp(c->status, "error_", 6) == 0)) {
    sc_hreq_add_header(req, "X-Suanchi-Replica", c->rep.r.id);
    sc_hreq_reply(req, c->ustatus, c->ctype[0] ? c->ctype : "application/json", c->resp.p, c->resp.n);
  } else if (strcmp(c->status, "timeout") == 0) {
    sc_hreq_add_header(req, "X-Suanchi-Replica", c->rep.r.id);
    gw_error(req, 504, "upstream_timeout", NULL, "the engine did not answer within %lld ms",
             (long long)c->g->opts.upstream_timeout_ms);
  } else {
    sc_hreq_add_header(req, "X-Suanchi-Replica", c->rep.r.id);
    gw_error(req, 502, "upstream_failed", NULL, "the engine failed before completing the answer");
  }
  call_free(c);
}

/* The upstream part is over: release the replica, queue the usage record. */
static void finish(gw_call *c, const char *status) {
  sc_gateway *g = c->g;
  sc_strlcpy(c->status, status, sizeof c->status);
  gw_rep *r = rep_find(g, c->rep.r.id);
  if (r) {
    r->outstanding -= c->est_tokens;
    r->inflight--;
  }
  if (!c->usage_seen) { /* failed stream: what was produced (one event per token) and the estimate of the prompt */
    c->completion_tokens = c->content_chunks;
    c->prompt_tokens = c->est_prompt;
  }
  key_charge(g, c->key_id, c->prompt_tokens + c->completion_tokens);
  if (c->is_sse && strcmp(status, "ok") != 0) {
    /* the client learns the stream broke; [DONE] follows so SSE parsers end cleanly */
    c->tail.n = 0;
    gb_printf(&c->tail,
              "data: {\"error\":{\"message\":\"%s after %lld tokens\","
              "\"type\":\"server_error\",\"code\":\"%s\",\"param\":null}}\n\ndata: [DONE]\n\n",
              g->stopping ? "the gateway is shutting down; the stream was cut off" : "the engine failed mid-stream",
              (long long)c->completion_tokens, g->stopping ? "shutting_down" : "upstream_failed");
  }
  sc_usage_rec u;
  memset(&u, 0, sizeof u);
  sc_strlcpy(u.request_id, c->reqid, sizeof u.request_id);
  u.ts = c->ts_ms;
  sc_strlcpy(u.tenant, c->tenant, sizeof u.tenant);
  sc_strlcpy(u.key_id, c->key_id, sizeof u.key_id);
  sc_strlcpy(u.deployment, c->rep.r.deployment, sizeof u.deployment);
  sc_strlcpy(u.model, c->model, sizeof u.model);
  sc_strlcpy(u.replica, c->rep.r.id, sizeof u.replica);
  sc_strlcpy(u.node_id, c->rep.r.node_id, sizeof u.node_id);
  sc_strlcpy(u.owner, c->rep.r.owner, sizeof u.owner);
  sc_strlcpy(u.region, c->rep.r.region, sizeof u.region);
  sc_strlcpy(u.chip, c->rep.r.chip, sizeof u.chip);
  u.prompt_tokens = c->prompt_tokens;
  u.completion_tokens = c->completion_tokens;
  int64_t now = sc_mono_ns();
  u.ttft_ms = c->ttft_ns ? (double)(c->ttft_ns - c->t0_ns) / 1e6 : (double)(now - c->t0_ns) / 1e6;
  u.duration_ms = (double)(now - c->t0_ns) / 1e6;
  sc_strlcpy(u.status, status, sizeof u.status);
  if (strcmp(status, "ok") != 0) g->errors_total++;
  gw_meter_submit(g->meter, &u, on_committed, c);
}

/* ---------- SSE relay ---------- */

/* The value of the last "usage": key in body (engines put it last, and the byte sequence cannot occur
 * inside a JSON string, where quotes are escaped), or NULL. */
static const char *last_usage_value(const char *body, size_t n) {
  const char *at = NULL;
  for (const char *p = body; n >= 8 && (p = memmem(p, n - (size_t)(p - body), "\"usage\":", 8)); p += 8) at = p;
  if (!at) return NULL;
  const char *v = at + 8;
  while (v < body + n && (*v == ' ' || *v == '\t' || *v == '\n' || *v == '\r')) v++;
  return v;
}

static bool has_text(const char *p, size_t n, const char *field) {
  size_t fl = strlen(field);
  const char *q = memmem(p, n, field, fl);
  return q && (size_t)(q - p) + fl < n && q[fl] != '"';
}

/* One event (ending in its blank line): counted, metered, queued in c->out for the client or held
 * back in c->tail (the usage event and [DONE] go out only after the record committed). */
static void sse_event(gw_call *c, char *ev, size_t n) {
  const char *data = NULL;
  if (n >= 6 && memcmp(ev, "data: ", 6) == 0) data = ev + 6;
  else if (n >= 5 && memcmp(ev, "data:", 5) == 0) data = ev + 5;
  size_t dl = data ? n - (size_t)(data - ev) : 0;
  while (dl && (data[dl - 1] == '\n' || data[dl - 1] == '\r')) dl--;
  if (!data) return gb_add(&c->out, ev, n); /* comments, other fields: as they are */
  if (dl == 6 && memcmp(data, "[DONE]", 6) == 0) {
    c->done_seen = true;
    return gb_add(&c->tail, ev, n);
  }
  const char *uk = memmem(data, dl, "\"usage\":", 8); /* one search serves both cases below */
  if (uk && (size_t)(uk - data) + 8 < dl && uk[8] == '{') {
    const char *v = last_usage_value(data, dl);
    int64_t pt, ct;
    if (v && memmem(data, dl, "\"choices\":[]", 12) &&
        gw_scan_usage(v, dl - (size_t)(v - data), &pt, &ct) == GW_SCAN_OK) { /* the usage-only event, no tree */
      c->usage_seen = true;
      c->prompt_tokens = pt;
      c->completion_tokens = ct;
      if (c->client_usage) gb_add(&c->tail, ev, n);
      return;
    }
    json_t *o = json_loadb(data, dl, 0, NULL);
    json_t *u = o ? json_object_get(o, "usage") : NULL;
    if (json_is_object(u)) {
      c->usage_seen = true;
      c->prompt_tokens = json_integer_value(json_object_get(u, "prompt_tokens"));
      c->completion_tokens = json_integer_value(json_object_get(u, "completion_tokens"));
      json_t *ch = json_object_get(o, "choices");
      if (json_is_array(ch) && json_array_size(ch) == 0) { /* the usage-only event: held back */
        if (c->client_usage) gb_add(&c->tail, ev, n);
        json_decref(o);
        return;
      }
      if (!c->client_usage) { /* usage riding on a content event: strip it */
        json_object_del(o, "usage");
        char *t = json_dumps(o, JSON_COMPACT);
        if (t) {
          gb_printf(&c->out, "data: %s\n\n", t);
          free(t);
          json_decref(o);
          return;
        }
      }
    }
    json_decref(o);
  }
  if (dl > 9 && memcmp(data, "{\"error\"", 8) == 0) c->error_event = true;
  else if (has_text(data, dl, "\"content\":\"") || has_text(data, dl, "\"text\":\"")) {
    if (!c->ttft_ns) c->ttft_ns = sc_mono_ns();
    c->content_chunks++;
  }
  if (!c->client_usage && uk && uk > data && uk[-1] == ',' && (size_t)(uk - data) + 12 <= dl &&
      memcmp(uk + 8, "null", 4) == 0) { /* the ,"usage":null the client did not ask for */
    char *q = ev + (uk - ev) - 1;
    size_t cut = 13;
    memmove(q, q + cut, n - (size_t)(q - ev) - cut);
    n -= cut;
  }
  gb_add(&c->out, ev, n);
}

/* The length of the first event in p[0..n) — up to and including the blank line that ends it: a
 * line feed followed by LF or CR LF (so LF LF, CR LF CR LF, and mixes) — or 0 if it is not complete.
 * One pass: the bytes are looked at once however many events a read brought. */
static size_t sse_event_len(const char *p, size_t n) {
  for (const char *q = p; (q = memchr(q, '\n', n - (size_t)(q - p))) != NULL; q++) {
    size_t rest = n - (size_t)(q - p);
    if (rest >= 2 && q[1] == '\n') return (size_t)(q - p) + 2;
    if (rest >= 3 && q[1] == '\r' && q[2] == '\n') return (size_t)(q - p) + 3;
  }
  return 0;
}

/* Splits what arrived into events and relays them in one write. */
static void sse_feed(gw_call *c) {
  size_t at = 0, n;
  while ((n = sse_event_len(c->sse.p + at, c->sse.n - at)) > 0) {
    sse_event(c, c->sse.p + at, n);
    at += n;
  }
  if (at) {
    memmove(c->sse.p, c->sse.p + at, c->sse.n - at);
    c->sse.n -= at;
  }
  if (c->out.n) {
    if (c->req && !c->client_gone) sc_hreq_chunk(c->req, c->out.p, c->out.n);
    c->out.n = 0;
  }
}

/* The engine's usage in a plain answer: the last "usage": object. */
static bool plain_usage(const char *body, size_t n, int64_t *prompt, int64_t *completion) {
  const char *v = last_usage_value(body, n);
  if (!v) return false;
  if (gw_scan_usage(v, n - (size_t)(v - body), prompt, completion) == GW_SCAN_OK) return true;
  json_t *o = json_loadb(v, n - (size_t)(v - body), JSON_DISABLE_EOF_CHECK, NULL);
  bool ok = json_is_object(o);
  if (ok) {
    *prompt = json_integer_value(json_object_get(o, "prompt_tokens"));
    *completion = json_integer_value(json_object_get(o, "completion_tokens"));
  }
  json_decref(o);
  return ok;
}

/* ---------- upstream callbacks ---------- */

static void on_upstream_head(void *arg, int status, const char *ctype) {
  gw_call *c = arg;
  c->headers_seen = true;
  c->ustatus = status;
  sc_strlcpy(c->ctype, ctype, sizeof c->ctype);
  c->is_sse = c->stream && status == 200 && strncasecmp(ctype, "text/event-stream", 17) == 0;
  if (c->is_sse) {
    if (!c->client_gone) {
      sc_hreq_add_header(c->req, "Cache-Control", "no-cache");
      sc_hreq_add_header(c->req, "X-Suanchi-Replica", c->rep.r.id);
      sc_hreq_start(c->req, 200, "text/event-stream");
    }
  } else {
    c->ttft_ns = sc_mono_ns();
  }
}

static void on_upstream_data(void *arg, const char *p, size_t n) {
  gw_call *c = arg;
  if (c->is_sse) {
    gb_add(&c->sse, p, n);
    sse_feed(c);
  } else {
    gb_add(&c->resp, p, n);
  }
}

static void on_upstream_done(void *arg, int how) {
  gw_call *c = arg;
  c->uc = NULL;
  upstream_done(c, how);
}

/* The upstream call ended (how: SC_HCALL_*). */
static void upstream_done(gw_call *c, int how) {
  sc_gateway *g = c->g;
  if (how == SC_HCALL_OK && c->headers_seen) {
    if (c->is_sse) {
      if (c->sse.n) { /* a last event without its blank line */
        gb_add(&c->sse, "\n\n", 2);
        sse_feed(c);
      }
      return finish(c, c->usage_seen && c->done_seen && !c->error_event ? "ok" : "failed");
    }
    if (c->ustatus == 200) {
      c->usage_seen = plain_usage(c->resp.p ? c->resp.p : "", c->resp.n, &c->prompt_tokens, &c->completion_tokens);
      return finish(c, "ok");
    }
    c->usage_seen = true; /* an engine's error answer produced nothing */
    char st[24];
    snprintf(st, sizeof st, "error_%d", c->ustatus);
    return finish(c, st);
  }
  if (c->headers_seen)
    return finish(c, c->client_gone ? "client_gone" : how == SC_HCALL_TIMEOUT ? "timeout" : "failed");
  /* nothing came back */
  gw_rep *r = rep_find(g, c->rep.r.id);
  if (r) {
    r->outstanding -= c->est_tokens;
    r->inflight--;
  }
  if (g->stopping) return fail_call(c, 503, "shutting_down", "the gateway is shutting down");
  if (c->client_gone) return fail_call(c, 499, "client_gone", "the client went away");
  if (how == SC_HCALL_TIMEOUT) {
    /* the engine may be working on it: no retry, and the attempt is metered */
    if (r) {
      r->outstanding += c->est_tokens;
      r->inflight++;
    }
    c->usage_seen = true;
    return finish(c, "timeout");
  }
  if (r) r->cool_until_ms = sc_mono_ms() + GW_COOL_MS;
  sc_warn(MOD, "request %s: replica %s (%s) failed before answering; %s", c->reqid, c->rep.r.id, c->rep.r.url,
          c->tries < GW_MAX_TRIES ? "trying another" : "giving up");
  dispatch(c);
}

/* Sends the request to the next replica, or answers 502/503 when none is left. */
/* The upstream body as JSON: the client's, parsed if only bytes were kept, with include_usage set for
 * streams. */
static void ensure_body(gw_call *c) {
  if (!c->body) {
    sc_err e;
    if (sc_json_parse_object(c->raw, c->rawlen, &c->body, &e)) c->body = json_object(); /* cannot happen: scanned */
  }
  if (c->stream) {
    json_t *so = json_object_get(c->body, "stream_options");
    if (!json_is_object(so)) {
      so = json_object();
      json_object_set_new(c->body, "stream_options", so);
    }
    json_object_set_new(so, "include_usage", json_true());
  }
}

static void dispatch(gw_call *c) {
  sc_gateway *g = c->g;
  gw_rep *r = c->tries < GW_MAX_TRIES ? pick(g, c) : NULL;
  if (!r) {
    char msg[200];
    g->errors_total++;
    if (c->tries) {
      snprintf(msg, sizeof msg, "no replica of '%s' could be reached (%d tried)", c->model, c->tries);
      return fail_call(c, 502, "upstream_unavailable", msg);
    }
    snprintf(msg, sizeof msg, "model '%s' has no ready replica right now; retry later", c->model);
    return fail_call(c, 503, "no_ready_replica", msg);
  }
  c->rep = *r;
  sc_strlcpy(c->tried[c->tries++], r->r.id, sizeof c->tried[0]);
  r->outstanding += c->est_tokens;
  r->inflight++;
  c->headers_seen = false;
  char xh[80];
  size_t rl = strlen(c->reqid);
  memcpy(xh, "X-Request-Id: ", 14);
  memcpy(xh + 14, c->reqid, rl);
  memcpy(xh + 14 + rl, "\r\n", 3);
  static const sc_hcall_cbs cbs = {on_upstream_head, on_upstream_data, on_upstream_done};
  if (r->upstream_model[0] || (c->body && c->stream && !c->client_usage)) {
    ensure_body(c);
    if (r->upstream_model[0]) json_object_set_new(c->body, "model", json_string(r->upstream_model));
    char *t = json_dumps(c->body, JSON_COMPACT);
    c->uc = sc_hcli_post(g->cli, r->host, r->port, c->path, xh, t, strlen(t), &cbs, c);
    free(t);
  } else if (c->fwd) {
    c->uc = sc_hcli_post(g->cli, r->host, r->port, c->path, xh, c->fwd, c->fwdlen, &cbs, c);
  } else {
    c->uc = sc_hcli_post(g->cli, r->host, r->port, c->path, xh, c->raw, c->rawlen, &cbs, c);
  }
}

/* ---------- request intake ---------- */

static void models_reply(sc_gateway *g, sc_hreq *req) {
  json_t *data = json_array();
  for (int i = 0; i < g->nreps; i++) {
    if (!g->reps[i].r.ready) continue;
    bool dup = false;
    for (int j = 0; j < i && !dup; j++) dup = g->reps[j].r.ready && strcmp(g->reps[j].r.model, g->reps[i].r.model) == 0;
    if (dup) continue;
    json_array_append_new(data, json_pack("{s:s,s:s,s:i,s:s}", "id", g->reps[i].r.model, "object", "model", "created",
                                          0, "owned_by", "suanchi"));
  }
  sc_http_reply_json(req, 200, json_pack("{s:s,s:o}", "object", "list", "data", data));
}

/* The slow path's text hash (scan.c computes the same on the raw bytes when no escapes are involved). */
static uint64_t text_hash(json_t *body, bool chat) {
  uint64_t h = FNV_SEED;
  size_t left = GW_PREFIX_BYTES;
  if (chat) {
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(body, "messages"), i, m) {
      const char *s = json_string_value(json_object_get(m, "content"));
      if (!s) continue;
      size_t n = strlen(s);
      if (n > left) n = left;
      h = fnv1a(h, s, n);
      left -= n;
      if (!left) break;
    }
  } else {
    json_t *p = json_object_get(body, "prompt");
    if (json_is_array(p)) p = json_array_get(p, 0);
    const char *s = json_string_value(p);
    if (s) h = fnv1a(h, s, strlen(s) < left ? strlen(s) : left);
  }
  return h;
}

/* Checks the body; on a problem replies 400 and returns false. */
static bool check_body(sc_hreq *req, json_t *b, bool chat) {
  json_t *m = json_object_get(b, "model");
  if (!m) return gw_error(req, 400, "missing_required_parameter", "model", "'model' is required"), false;
  if (!json_is_string(m) || !json_string_length(m) || json_string_length(m) > 63)
    return gw_error(req, 400, "invalid_type", "model", "'model' must be a model name (1-63 characters)"), false;
  json_t *s = json_object_get(b, "stream");
  if (s && !json_is_boolean(s) && !json_is_null(s))
    return gw_error(req, 400, "invalid_type", "stream", "'stream' must be a boolean"), false;
  json_t *so = json_object_get(b, "stream_options");
  if (so && !json_is_object(so) && !json_is_null(so))
    return gw_error(req, 400, "invalid_type", "stream_options", "'stream_options' must be an object"), false;
  static const char *const mt[] = {"max_tokens", "max_completion_tokens"};
  for (int i = 0; i < 2; i++) {
    json_t *v = json_object_get(b, mt[i]);
    if (!v || json_is_null(v)) continue;
    if (!json_is_integer(v))
      return gw_error(req, 400, "invalid_type", mt[i], "'%s' must be an integer", mt[i]), false;
    if (json_integer_value(v) < 1 || json_integer_value(v) > GW_MAX_TOKENS_CAP)
      return gw_error(req, 400, "invalid_value", mt[i], "'%s' must be between 1 and %d, got %lld", mt[i],
                      GW_MAX_TOKENS_CAP, (long long)json_integer_value(v)),
             false;
  }
  if (chat) {
    json_t *ms = json_object_get(b, "messages");
    if (!ms) return gw_error(req, 400, "missing_required_parameter", "messages", "'messages' is required"), false;
    if (!json_is_array(ms) || json_array_size(ms) == 0)
      return gw_error(req, 400, "invalid_type", "messages", "'messages' must be a non-empty array"), false;
  } else {
    json_t *p = json_object_get(b, "prompt");
    if (!p) return gw_error(req, 400, "missing_required_parameter", "prompt", "'prompt' is required"), false;
    if (!json_is_string(p) && !json_is_array(p))
      return gw_error(req, 400, "invalid_type", "prompt", "'prompt' must be a string or an array"), false;
  }
  return true;
}

/* "req-" prefix and counter as 8 hex digits (no printf: this runs for every request). */
static void make_reqid(char dst[40], const char *prefix, uint32_t counter) {
  size_t pl = strnlen(prefix, 9);
  memcpy(dst, "req-", 4);
  memcpy(dst + 4, prefix, pl);
  for (int i = 0; i < 8; i++) dst[4 + pl + (size_t)i] = "0123456789abcdef"[(counter >> (28 - 4 * i)) & 15];
  dst[12 + pl] = '\0';
}

void sc_gateway_handle(sc_gateway *g, sc_hreq *req) {
  char path[128];
  g->requests_total++;
  if (g->stopping) return gw_error(req, 503, "shutting_down", NULL, "the gateway is shutting down");
  if (!sc_strlcpy(path, sc_hreq_path(req), sizeof path)) {
    g->errors_total++;
    return gw_error(req, 404, "not_found", NULL, "no such route");
  }
  sc_hmethod method = sc_hreq_method(req);
  bool chat = strcmp(path, "/v1/chat/completions") == 0, compl = strcmp(path, "/v1/completions") == 0;
  bool models = strcmp(path, "/v1/models") == 0;
  const char *one_model = strncmp(path, "/v1/models/", 11) == 0 && path[11] ? path + 11 : NULL;
  if (!chat && !compl && !models && !one_model) {
    g->errors_total++;
    return gw_error(req, 404, "not_found", NULL, "no such route: %s", path);
  }
  bool get = models || one_model;
  if ((get && method != SC_HGET) || (!get && method != SC_HPOST)) {
    g->errors_total++;
    return gw_error(req, 405, "method_not_allowed", NULL, "%s takes %s", path, get ? "GET" : "POST");
  }
  /* key */
  char buf[SC_SECRET_MAX], kind[8], kid[SC_SECRET_ID_LEN + 1];
  const char *secret = NULL;
  const char *tok = sc_http_bearer(req, buf, sizeof buf);
  int ki = -1;
  if (tok && sc_secret_parse(tok, kind, kid, &secret) && strcmp(kind, "sck") == 0) ki = key_slot(g, kid);
  if (ki < 0 || g->keys[ki].revoked || !sc_secret_verify(secret, g->keys[ki].hash)) {
    g->errors_total++;
    return gw_error(req, 401, "invalid_api_key", NULL,
                    ki >= 0 && g->keys[ki].revoked ? "this API key was revoked"
                                                   : "missing or invalid API key: send 'Authorization: Bearer sck.…'");
  }
  gw_key *k = &g->keys[ki];
  if (models) return models_reply(g, req);
  if (one_model) {
    for (int i = 0; i < g->nreps; i++)
      if (g->reps[i].r.ready && strcmp(g->reps[i].r.model, one_model) == 0)
        return sc_http_reply_json(req, 200, json_pack("{s:s,s:s,s:i,s:s}", "id", one_model, "object", "model",
                                                      "created", 0, "owned_by", "suanchi"));
    g->errors_total++;
    return gw_error(req, 404, "model_not_found", "model", "the model '%s' does not exist or has no ready replica",
                    one_model);
  }
  /* rate limits */
  int64_t now = sc_mono_ms();
  key_refill(k, now);
  if ((k->rpm && k->rq_bucket < 1.0) || (k->tpm && k->tk_bucket <= 0)) {
    double wait_s = k->rpm && k->rq_bucket < 1.0 ? (1.0 - k->rq_bucket) * 60.0 / (double)k->rpm
                                                 : (1.0 - k->tk_bucket) * 60.0 / (double)k->tpm;
    char ra[24];
    snprintf(ra, sizeof ra, "%lld", (long long)wait_s + 1);
    sc_hreq_add_header(req, "Retry-After", ra);
    g->errors_total++;
    return gw_error(req, 429, "rate_limit_exceeded", NULL, "%s limit of this key reached (%lld per minute); retry in %s s",
                    k->rpm && k->rq_bucket < 1.0 ? "request" : "token",
                    (long long)(k->rpm && k->rq_bucket < 1.0 ? k->rpm : k->tpm), ra);
  }
  /* body */
  size_t blen;
  const char *braw = sc_hreq_body(req, &blen);
  if (blen > g->opts.max_body) {
    g->errors_total++;
    return gw_error(req, 413, "request_too_large", NULL, "request body is %zu bytes; the limit is %zu", blen,
                    g->opts.max_body);
  }
  /* the fast path proves the body valid and extracts what routing needs without a JSON tree; anything
   * else (errors included) goes the slow way, through jansson */
  gw_scan_result sr;
  json_t *body = NULL;
  char model[64];
  bool stream, client_usage;
  int64_t max_tok;
  uint64_t th;
  bool fast = gw_scan(braw, blen, chat, &sr) == GW_SCAN_OK;
  if (fast) {
    memcpy(model, sr.model.p, sr.model.n);
    model[sr.model.n] = 0;
    stream = sr.stream;
    client_usage = sr.include_usage;
    max_tok = sr.max_tokens ? sr.max_tokens : -1;
    th = sr.text_hash;
  } else {
    sc_err e;
    if (sc_json_parse_object(braw, blen, &body, &e)) {
      g->errors_total++;
      return gw_error(req, 400, "invalid_json", NULL, "%s", e.msg);
    }
    if (!check_body(req, body, chat)) {
      g->errors_total++;
      json_decref(body);
      return;
    }
    sc_strlcpy(model, json_string_value(json_object_get(body, "model")), sizeof model);
    stream = json_is_true(json_object_get(body, "stream"));
    json_t *so = json_object_get(body, "stream_options");
    client_usage = json_is_object(so) && json_is_true(json_object_get(so, "include_usage"));
    json_t *mt = json_object_get(body, "max_tokens");
    if (!json_is_integer(mt)) mt = json_object_get(body, "max_completion_tokens");
    max_tok = json_is_integer(mt) ? json_integer_value(mt) : -1;
    th = text_hash(body, chat);
  }
  bool known = false;
  for (int i = 0; i < g->nreps && !known; i++) known = strcmp(g->reps[i].r.model, model) == 0;
  if (!known) {
    g->errors_total++;
    gw_error(req, 404, "model_not_found", "model", "the model '%s' does not exist or has no replica (see GET /v1/models)", model);
    json_decref(body);
    return;
  }
  gw_call *c = call_new(g);
  c->g = g;
  c->req = req;
  c->next = g->calls;
  if (g->calls) g->calls->prev = c;
  g->calls = c;
  c->body = body;
  c->raw = braw;
  c->rawlen = blen;
  sc_strlcpy(c->model, model, sizeof c->model);
  if (k->rpm) k->rq_bucket -= 1.0;
  c->stream = stream;
  c->client_usage = stream && client_usage;
  if (c->stream && !c->client_usage && fast && !sr.has_stream_options) {
    /* the engine must report usage: splice "stream_options" in as the first member */
    static const char ins[] = "\"stream_options\":{\"include_usage\":true},";
    size_t at = sr.open + 1, il = sizeof ins - 1;
    c->fwd = sc_xmalloc(blen + il);
    memcpy(c->fwd, braw, at);
    memcpy(c->fwd + at, ins, il);
    memcpy(c->fwd + at + il, braw + at, blen - at);
    c->fwdlen = blen + il;
  } else if (c->stream && !c->client_usage && !c->body) {
    ensure_body(c); /* stream_options without include_usage: rewritten through jansson */
  } else if (c->body && c->stream && !c->client_usage) {
    ensure_body(c);
  }
  sc_strlcpy(c->key_id, k->id, sizeof c->key_id);
  sc_strlcpy(c->tenant, k->tenant, sizeof c->tenant);
  sc_strlcpy(c->path, path, sizeof c->path);
  char hrb[64];
  const char *hr = sc_hreq_header(req, "X-Suanchi-Region", hrb, sizeof hrb);
  sc_strlcpy(c->pref_region, hr && hr[0] ? hr : k->region, sizeof c->pref_region);
  c->prefix_hash = mix64(th ^ fnv1a(FNV_SEED, c->model, strlen(c->model)));
  c->est_prompt = (int64_t)blen / 4 + 1;
  c->est_tokens = c->est_prompt + (max_tok > 0 ? max_tok : GW_DEFAULT_MAX_TOKENS);
  c->ts_ms = sc_wall_ms();
  c->t0_ns = sc_mono_ns();
  make_reqid(c->reqid, g->rid_prefix, ++g->rid_counter);
  sc_hreq_add_header(req, "X-Request-Id", c->reqid);
  sc_hreq_on_close(req, on_client_close, c);
  dispatch(c);
}

/* ---------- create / destroy ---------- */

int sc_gateway_create(struct event_base *base, const sc_gateway_opts *o, sc_gateway **out, sc_err *e) {
  sc_gateway *g = sc_xcalloc(1, sizeof *g);
  g->base = base;
  g->opts = *o;
  if (!g->opts.upstream_timeout_ms) g->opts.upstream_timeout_ms = 300000;
  if (!g->opts.max_body) g->opts.max_body = 1 << 20;
  int rc = sc_store_open(o->db_path, &g->store, e);
  if (!rc) rc = gw_keys_reload(g, e);
  if (!rc) rc = gw_endpoints_load(g, e);
  if (!rc) rc = gw_meter_start(base, o->db_path, &g->meter, e);
  if (rc) {
    sc_gateway_destroy(g);
    return rc;
  }
  gw_rebuild_routes(g);
  g->cli = sc_hcli_create(base, g->opts.upstream_timeout_ms);
  char rid[SC_SECRET_ID_LEN + 2];
  sc_random_id('r', rid, sizeof rid);
  sc_strlcpy(g->rid_prefix, rid + 1, sizeof g->rid_prefix);
  sc_info(MOD, "gateway up: %d API keys, %d external endpoints", g->nkeys, g->neps);
  *out = g;
  return 0;
}

void sc_gateway_destroy(sc_gateway *g) {
  if (!g) return;
  g->stopping = true;
  /* upstream requests in flight are cancelled: their records are queued and written below */
  for (gw_call *c = g->calls; c;) {
    gw_call *next = c->next;
    if (c->uc) {
      sc_hcall_cancel(c->uc);
      c->uc = NULL;
      upstream_done(c, SC_HCALL_BROKEN);
    }
    c = next;
  }
  gw_meter_stop(g->meter);
  g->meter = NULL;
  /* let the loop write what the callbacks sent (error events, [DONE], answers); new requests get 503 */
  for (int i = 0; i < 20; i++) event_base_loop(g->base, EVLOOP_NONBLOCK);
  while (g->calls) { /* anything left waits for nothing more */
    gw_call *c = g->calls;
    if (c->req && c->is_sse) {
      sc_hreq_on_close(c->req, NULL, NULL);
      sc_hreq_end(c->req);
      c->req = NULL;
    } else if (c->req) {
      fail_call(c, 503, "shutting_down", "the gateway is shutting down");
      continue;
    }
    call_free(c);
  }
  sc_hcli_destroy(g->cli);
  while (g->free_calls) {
    gw_call *c = g->free_calls;
    g->free_calls = c->next;
    free(c->sse.p);
    free(c->out.p);
    free(c->tail.p);
    free(c->resp.p);
    free(c);
  }
  sc_store_close(g->store);
  free(g->keys);
  free(g->kslots);
  free(g->ctl_reps);
  free(g->reps);
  free(g);
}

void sc_gateway_metrics(const sc_gateway *g, struct evbuffer *b) {
  int inflight = 0;
  for (const gw_call *c = g->calls; c; c = c->next) inflight++;
  evbuffer_add_printf(b,
                      "# HELP suanchi_gateway_requests_total Requests to /v1.\n# TYPE suanchi_gateway_requests_total counter\n"
                      "suanchi_gateway_requests_total %lld\n"
                      "# HELP suanchi_gateway_errors_total Requests answered with an error or a failed stream.\n"
                      "# TYPE suanchi_gateway_errors_total counter\nsuanchi_gateway_errors_total %lld\n"
                      "# HELP suanchi_gateway_inflight Requests being proxied now.\n# TYPE suanchi_gateway_inflight gauge\n"
                      "suanchi_gateway_inflight %d\n"
                      "# HELP suanchi_gateway_replica_ready Replicas in the routing table (1 = gets traffic).\n"
                      "# TYPE suanchi_gateway_replica_ready gauge\n",
                      (long long)g->requests_total, (long long)g->errors_total, inflight);
  for (int i = 0; i < g->nreps; i++)
    evbuffer_add_printf(b, "suanchi_gateway_replica_ready{replica=\"%s\",model=\"%s\",region=\"%s\"} %d\n",
                        g->reps[i].r.id, g->reps[i].r.model, g->reps[i].r.region, g->reps[i].r.ready ? 1 : 0);
  evbuffer_add_printf(b, "# HELP suanchi_gateway_replica_outstanding_tokens Estimated tokens in flight per replica.\n"
                         "# TYPE suanchi_gateway_replica_outstanding_tokens gauge\n");
  for (int i = 0; i < g->nreps; i++)
    evbuffer_add_printf(b, "suanchi_gateway_replica_outstanding_tokens{replica=\"%s\",model=\"%s\"} %lld\n",
                        g->reps[i].r.id, g->reps[i].r.model, (long long)g->reps[i].outstanding);
  evbuffer_add_printf(b, "# HELP suanchi_gateway_replica_tunnels Connections agents behind NAT opened for a replica.\n"
                         "# TYPE suanchi_gateway_replica_tunnels gauge\n");
  for (int i = 0; i < g->nreps; i++)
    if (g->reps[i].port == 0)
      evbuffer_add_printf(b, "suanchi_gateway_replica_tunnels{replica=\"%s\",model=\"%s\"} %d\n", g->reps[i].r.id,
                          g->reps[i].r.model, sc_hcli_conns(g->cli, g->reps[i].host, 0));
}

void sc_gateway_adopt_tunnel(sc_gateway *g, const char *replica_id, int fd) { sc_hcli_adopt(g->cli, replica_id, fd); }
