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
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <event2/bufferevent.h>

#include "base/json.h"
#include "base/log.h"
#include "base/secret.h"
#include "base/util.h"
#include "gateway/internal.h"
#include "net/http.h"

#define MOD "gateway"
#define GW_MAX_TOKENS_CAP 1048576 /* longer than any model's context: beyond it, max_tokens is absurd */
#define GW_DEFAULT_MAX_TOKENS 256 /* estimate for routing when the client gives none */
#define GW_PREFIX_BYTES 512       /* prefix-affinity hash covers this much of the prompt */
#define GW_COOL_MS 5000           /* a replica whose connection failed is skipped this long (if others can serve) */

struct gw_call {
  sc_gateway *g;
  gw_call *prev, *next;
  struct evhttp_request *req;        /* client request; detached by libevent if the client leaves */
  struct evhttp_connection *cevcon;  /* client connection, NULL once it closed */
  bool client_gone;
  char reqid[40];
  char key_id[32], tenant[64];
  char model[64];
  char path[32];
  char pref_region[64];
  bool stream, client_usage;
  json_t *body;                      /* parsed request (rewritten per attempt when needed) */
  char *raw;                         /* client's bytes, sent as they are when no rewrite is needed */
  size_t rawlen;
  uint64_t prefix_hash;
  int64_t est_prompt, est_tokens;
  int64_t ts_ms, t0_ns, ttft_ns;
  int tries;
  char tried[GW_MAX_TRIES][40];
  gw_rep rep;                        /* copy of the replica of the current attempt */
  struct evhttp_connection *uconn;
  bool unodelay;                     /* TCP_NODELAY set on uconn's current socket */
  int up_idx;
  struct evhttp_request *ureq;
  enum evhttp_request_error uerr;
  bool uerr_set, headers_seen, is_sse;
  int ustatus;
  char ctype[64];
  struct evbuffer *sse, *tail, *resp;
  bool usage_seen, done_seen, error_event, finishing;
  int64_t prompt_tokens, completion_tokens, content_chunks;
  char status[24];
};

/* ---------- small helpers ---------- */

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
static void gw_error(struct evhttp_request *req, int status, const char *code, const char *param, const char *fmt,
                     ...) __attribute__((format(printf, 5, 6)));
static void gw_error(struct evhttp_request *req, int status, const char *code, const char *param, const char *fmt,
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
  if (host[0] == '[') { /* evhttp wants a bare v6 address */
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
    if (gw_parse_url(r->r.url, r->host, sizeof r->host, &r->port)) {
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

/* ---------- upstream connections ---------- */

static int upstream_index(sc_gateway *g, const char *host, int port) {
  for (int i = 0; i < g->nups; i++)
    if (g->ups[i].port == port && strcmp(g->ups[i].host, host) == 0) return i;
  g->ups = sc_xrealloc(g->ups, sizeof *g->ups * (size_t)(g->nups + 1));
  gw_upstream *u = &g->ups[g->nups];
  memset(u, 0, sizeof *u);
  sc_strlcpy(u->host, host, sizeof u->host);
  u->port = port;
  return g->nups++;
}

static struct evhttp_connection *conn_get(sc_gateway *g, int idx, bool *nodelay_set) {
  gw_upstream *u = &g->ups[idx];
  *nodelay_set = false;
  if (u->nidle) {
    u->nidle--;
    *nodelay_set = u->idle_nodelay[u->nidle];
    return u->idle[u->nidle];
  }
  struct evhttp_connection *cn = evhttp_connection_base_new(g->base, NULL, u->host, (unsigned short)u->port);
  if (!cn) return NULL;
  struct timeval tv = {(time_t)(g->opts.upstream_timeout_ms / 1000), (suseconds_t)(g->opts.upstream_timeout_ms % 1000) * 1000};
  evhttp_connection_set_timeout_tv(cn, &tv);
  evhttp_connection_set_retries(cn, 0);
  return cn;
}

/* nodelay_set: the socket stays the same (a complete keep-alive exchange), so the option holds. */
static void conn_put(sc_gateway *g, int idx, struct evhttp_connection *cn, bool nodelay_set) {
  gw_upstream *u = &g->ups[idx];
  if (u->nidle == u->cap) {
    u->cap = u->cap ? u->cap * 2 : 16;
    u->idle = sc_xrealloc(u->idle, sizeof *u->idle * (size_t)u->cap);
    u->idle_nodelay = sc_xrealloc(u->idle_nodelay, sizeof *u->idle_nodelay * (size_t)u->cap);
  }
  u->idle_nodelay[u->nidle] = nodelay_set;
  u->idle[u->nidle++] = cn;
}

/* ---------- call lifetime ---------- */

static void call_free(gw_call *c) {
  sc_gateway *g = c->g;
  if (c->prev) c->prev->next = c->next;
  else g->calls = c->next;
  if (c->next) c->next->prev = c->prev;
  if (c->cevcon) evhttp_connection_set_closecb(c->cevcon, NULL, NULL);
  json_decref(c->body);
  free(c->raw);
  if (c->sse) evbuffer_free(c->sse);
  if (c->tail) evbuffer_free(c->tail);
  if (c->resp) evbuffer_free(c->resp);
  free(c);
}

static void on_upstream_done(struct evhttp_request *u, void *arg);

/* Cancels the upstream request in flight; libevent runs only the error callback for a
 * cancelled request, so the completion is run here. */
static void cancel_upstream(gw_call *c) {
  evhttp_cancel_request(c->ureq);
  on_upstream_done(NULL, c);
}

static void on_client_close(struct evhttp_connection *cn, void *arg) {
  (void)cn;
  gw_call *c = arg;
  c->client_gone = true;
  c->cevcon = NULL;
  if (c->ureq) cancel_upstream(c);
}

static void dispatch(gw_call *c);

/* Sends the bytes held back for after the commit, ends the reply, frees the call. */
static void on_committed(void *arg, bool stored) {
  gw_call *c = arg;
  if (!stored) sc_warn(MOD, "request %s: usage record could not be stored", c->reqid);
  struct evhttp_request *req = c->req;
  if (c->cevcon) {
    evhttp_connection_set_closecb(c->cevcon, NULL, NULL);
    c->cevcon = NULL;
  }
  if (c->is_sse) {
    if (c->tail && evbuffer_get_length(c->tail)) evhttp_send_reply_chunk(req, c->tail);
    evhttp_send_reply_end(req);
  } else if (c->headers_seen && c->ureq == NULL && strcmp(c->status, "timeout") != 0 && c->resp &&
             (strcmp(c->status, "ok") == 0 || strncmp(c->status, "error_", 6) == 0)) {
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", c->ctype[0] ? c->ctype : "application/json");
    evhttp_send_reply(req, c->ustatus, c->ustatus == 200 ? "OK" : "Error", c->resp);
  } else if (strcmp(c->status, "timeout") == 0) {
    gw_error(req, 504, "upstream_timeout", NULL, "the engine did not answer within %lld ms",
             (long long)c->g->opts.upstream_timeout_ms);
  } else {
    gw_error(req, 502, "upstream_failed", NULL, "the engine failed before completing the answer");
  }
  call_free(c);
}

/* The upstream part is over: release the replica, queue the usage record. */
static void finish(gw_call *c, const char *status) {
  sc_gateway *g = c->g;
  c->finishing = true;
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
    if (!c->tail) c->tail = evbuffer_new();
    evbuffer_drain(c->tail, evbuffer_get_length(c->tail));
    evbuffer_add_printf(c->tail,
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

static void send_chunk(gw_call *c, const char *p, size_t n) {
  if (c->client_gone) return;
  struct evbuffer *b = evbuffer_new();
  evbuffer_add(b, p, n);
  evhttp_send_reply_chunk(c->req, b);
  evbuffer_free(b);
}

static bool has_text(const char *p, size_t n, const char *field) {
  size_t fl = strlen(field);
  const char *q = memmem(p, n, field, fl);
  return q && (size_t)(q - p) + fl < n && q[fl] != '"';
}

static void sse_event(gw_call *c, char *ev, size_t n) {
  const char *data = NULL;
  if (n >= 6 && memcmp(ev, "data: ", 6) == 0) data = ev + 6;
  else if (n >= 5 && memcmp(ev, "data:", 5) == 0) data = ev + 5;
  size_t dl = data ? n - (size_t)(data - ev) : 0;
  while (dl && (data[dl - 1] == '\n' || data[dl - 1] == '\r')) dl--;
  if (!data) return send_chunk(c, ev, n); /* comments, other fields: as they are */
  if (dl == 6 && memcmp(data, "[DONE]", 6) == 0) {
    c->done_seen = true;
    if (!c->tail) c->tail = evbuffer_new();
    evbuffer_add(c->tail, ev, n);
    return;
  }
  if (memmem(data, dl, "\"usage\":{", 9)) {
    json_t *o = json_loadb(data, dl, 0, NULL);
    json_t *u = o ? json_object_get(o, "usage") : NULL;
    if (json_is_object(u)) {
      c->usage_seen = true;
      c->prompt_tokens = json_integer_value(json_object_get(u, "prompt_tokens"));
      c->completion_tokens = json_integer_value(json_object_get(u, "completion_tokens"));
      json_t *ch = json_object_get(o, "choices");
      if (json_is_array(ch) && json_array_size(ch) == 0) { /* the usage-only event: held back */
        if (c->client_usage) {
          if (!c->tail) c->tail = evbuffer_new();
          evbuffer_add(c->tail, ev, n);
        }
        json_decref(o);
        return;
      }
      if (!c->client_usage) { /* usage riding on a content event: strip it */
        json_object_del(o, "usage");
        char *t = json_dumps(o, JSON_COMPACT);
        if (t) {
          struct evbuffer *b = evbuffer_new();
          evbuffer_add_printf(b, "data: %s\n\n", t);
          if (!c->client_gone) evhttp_send_reply_chunk(c->req, b);
          evbuffer_free(b);
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
  if (!c->client_usage) {
    static const char pat[] = ",\"usage\":null";
    char *q = memmem(ev, n, pat, sizeof pat - 1);
    if (q) {
      size_t cut = sizeof pat - 1;
      memmove(q, q + cut, n - (size_t)(q - ev) - cut);
      n -= cut;
    }
  }
  send_chunk(c, ev, n);
}

static void sse_feed(gw_call *c) {
  for (;;) {
    struct evbuffer_ptr p = evbuffer_search(c->sse, "\n\n", 2, NULL);
    if (p.pos < 0) break;
    size_t n = (size_t)p.pos + 2;
    char *ev = (char *)evbuffer_pullup(c->sse, (ev_ssize_t)n);
    sse_event(c, ev, n);
    evbuffer_drain(c->sse, n);
  }
}

/* The engine's usage in a plain answer: the last "usage": object (engines put it last, and the
 * byte sequence cannot occur inside a JSON string, where quotes are escaped). */
static bool plain_usage(const char *body, size_t n, int64_t *prompt, int64_t *completion) {
  const char *at = NULL;
  for (const char *p = body; n >= 8 && (p = memmem(p, n - (size_t)(p - body), "\"usage\":", 8)); p += 8) at = p;
  if (!at) return false;
  const char *v = at + 8;
  while (v < body + n && (*v == ' ' || *v == '\t' || *v == '\n' || *v == '\r')) v++;
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

static void nodelay(struct evhttp_connection *cn) {
  struct bufferevent *bev = cn ? evhttp_connection_get_bufferevent(cn) : NULL;
  int fd = bev ? (int)bufferevent_getfd(bev) : -1, one = 1;
  if (fd >= 0) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static int on_upstream_headers(struct evhttp_request *u, void *arg) {
  gw_call *c = arg;
  c->headers_seen = true;
  if (!c->unodelay) nodelay(c->uconn);
  c->unodelay = true;
  c->ustatus = evhttp_request_get_response_code(u);
  const char *ct = evhttp_find_header(evhttp_request_get_input_headers(u), "Content-Type");
  sc_strlcpy(c->ctype, ct ? ct : "", sizeof c->ctype);
  c->is_sse = c->stream && c->ustatus == 200 && ct && strncasecmp(ct, "text/event-stream", 17) == 0;
  if (c->is_sse) {
    c->sse = evbuffer_new();
    struct evkeyvalq *h = evhttp_request_get_output_headers(c->req);
    evhttp_add_header(h, "Content-Type", "text/event-stream");
    evhttp_add_header(h, "Cache-Control", "no-cache");
    if (!c->client_gone) evhttp_send_reply_start(c->req, 200, "OK");
  } else {
    c->resp = evbuffer_new();
    c->ttft_ns = sc_mono_ns();
  }
  return 0;
}

static void on_upstream_chunk(struct evhttp_request *u, void *arg) {
  gw_call *c = arg;
  struct evbuffer *in = evhttp_request_get_input_buffer(u);
  if (c->is_sse) {
    evbuffer_add_buffer(c->sse, in);
    sse_feed(c);
  } else if (c->resp) {
    evbuffer_add_buffer(c->resp, in);
  }
}

static void on_upstream_error(enum evhttp_request_error err, void *arg) {
  gw_call *c = arg;
  c->uerr = err;
  c->uerr_set = true;
}

static void on_upstream_done(struct evhttp_request *u, void *arg) {
  gw_call *c = arg;
  sc_gateway *g = c->g;
  c->ureq = NULL;
  bool complete = u && evhttp_request_get_response_code(u) != 0 && c->headers_seen;
  if (c->uconn) { /* reset by libevent if it failed or the engine closes it; reconnects on next use */
    const char *cx = complete ? evhttp_find_header(evhttp_request_get_input_headers(u), "Connection") : NULL;
    conn_put(g, c->up_idx, c->uconn, complete && c->unodelay && !(cx && strcasecmp(cx, "close") == 0));
  }
  c->uconn = NULL;
  if (complete) {
    if (c->is_sse) {
      if (evbuffer_get_length(c->sse)) { /* a last event without its blank line */
        evbuffer_add(c->sse, "\n\n", 2);
        sse_feed(c);
      }
      return finish(c, c->usage_seen && c->done_seen && !c->error_event ? "ok" : "failed");
    }
    if (c->ustatus == 200) {
      size_t n = evbuffer_get_length(c->resp);
      const char *body = (const char *)evbuffer_pullup(c->resp, (ev_ssize_t)n);
      c->usage_seen = plain_usage(body, n, &c->prompt_tokens, &c->completion_tokens);
      return finish(c, "ok");
    }
    c->usage_seen = true; /* an engine's error answer produced nothing */
    char st[24];
    snprintf(st, sizeof st, "error_%d", c->ustatus);
    return finish(c, st);
  }
  if (c->headers_seen) {
    return finish(c, c->client_gone ? "client_gone" : c->uerr_set && c->uerr == EVREQ_HTTP_TIMEOUT ? "timeout" : "failed");
  }
  /* nothing came back */
  gw_rep *r = rep_find(g, c->rep.r.id);
  if (r) {
    r->outstanding -= c->est_tokens;
    r->inflight--;
  }
  if (g->stopping) {
    gw_error(c->req, 503, "shutting_down", NULL, "the gateway is shutting down");
    return call_free(c);
  }
  if (c->client_gone) {
    evhttp_send_reply_end(c->req); /* frees the detached request */
    return call_free(c);
  }
  if (c->uerr_set && c->uerr == EVREQ_HTTP_TIMEOUT) {
    /* the engine may be working on it: no retry, and the attempt is metered */
    c->headers_seen = false;
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
static void dispatch(gw_call *c) {
  sc_gateway *g = c->g;
  gw_rep *r = c->tries < GW_MAX_TRIES ? pick(g, c) : NULL;
  if (!r) {
    int st = c->tries ? 502 : 503;
    if (c->tries) gw_error(c->req, st, "upstream_unavailable", NULL, "no replica of '%s' could be reached (%d tried)", c->model, c->tries);
    else gw_error(c->req, st, "no_ready_replica", NULL, "model '%s' has no ready replica right now; retry later", c->model);
    g->errors_total++;
    return call_free(c);
  }
  c->rep = *r;
  sc_strlcpy(c->tried[c->tries++], r->r.id, sizeof c->tried[0]);
  r->outstanding += c->est_tokens;
  r->inflight++;
  c->up_idx = upstream_index(g, r->host, r->port);
  c->uconn = conn_get(g, c->up_idx, &c->unodelay);
  c->uerr_set = false;
  c->headers_seen = false;
  struct evhttp_request *u = c->uconn ? evhttp_request_new(on_upstream_done, c) : NULL;
  if (!u) {
    r->outstanding -= c->est_tokens;
    r->inflight--;
    gw_error(c->req, 500, "internal_error", NULL, "cannot create an upstream request");
    return call_free(c);
  }
  evhttp_request_set_header_cb(u, on_upstream_headers);
  evhttp_request_set_chunked_cb(u, on_upstream_chunk);
  evhttp_request_set_error_cb(u, on_upstream_error);
  struct evkeyvalq *h = evhttp_request_get_output_headers(u);
  char hostport[160], len[24];
  snprintf(hostport, sizeof hostport, "%s:%d", r->host, r->port);
  evhttp_add_header(h, "Host", hostport);
  evhttp_add_header(h, "Content-Type", "application/json");
  evhttp_add_header(h, "X-Request-Id", c->reqid);
  struct evbuffer *out = evhttp_request_get_output_buffer(u);
  if (r->upstream_model[0] || c->stream) {
    if (r->upstream_model[0]) json_object_set_new(c->body, "model", json_string(r->upstream_model));
    char *t = json_dumps(c->body, JSON_COMPACT);
    evbuffer_add(out, t, strlen(t));
    free(t);
  } else {
    evbuffer_add(out, c->raw, c->rawlen);
  }
  snprintf(len, sizeof len, "%zu", evbuffer_get_length(out));
  evhttp_add_header(h, "Content-Length", len);
  c->ureq = u;
  struct evkeyvalq *oh = evhttp_request_get_output_headers(c->req);
  evhttp_remove_header(oh, "X-Suanchi-Replica");
  evhttp_add_header(oh, "X-Suanchi-Replica", r->r.id);
  if (evhttp_make_request(c->uconn, u, EVHTTP_REQ_POST, c->path) != 0) {
    /* make_request freed u; the connection is unusable: drop it and try the next replica */
    c->ureq = NULL;
    r->outstanding -= c->est_tokens;
    r->inflight--;
    evhttp_connection_free(c->uconn);
    c->uconn = NULL;
    return dispatch(c);
  }
}

/* ---------- request intake ---------- */

static void models_reply(sc_gateway *g, struct evhttp_request *req) {
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

static uint64_t prefix_hash(json_t *body, bool chat, const char *model) {
  uint64_t h = fnv1a(FNV_SEED, model, strlen(model));
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
static bool check_body(struct evhttp_request *req, json_t *b, bool chat) {
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

void sc_gateway_handle(sc_gateway *g, struct evhttp_request *req) {
  char path[128];
  g->requests_total++;
  if (g->stopping) return gw_error(req, 503, "shutting_down", NULL, "the gateway is shutting down");
  if (!sc_http_path(req, path, sizeof path)) {
    g->errors_total++;
    return gw_error(req, 404, "not_found", NULL, "no such route");
  }
  enum evhttp_cmd_type method = evhttp_request_get_command(req);
  bool chat = strcmp(path, "/v1/chat/completions") == 0, compl = strcmp(path, "/v1/completions") == 0;
  bool models = strcmp(path, "/v1/models") == 0;
  const char *one_model = strncmp(path, "/v1/models/", 11) == 0 && path[11] ? path + 11 : NULL;
  if (!chat && !compl && !models && !one_model) {
    g->errors_total++;
    return gw_error(req, 404, "not_found", NULL, "no such route: %s", path);
  }
  bool get = models || one_model;
  if ((get && method != EVHTTP_REQ_GET) || (!get && method != EVHTTP_REQ_POST)) {
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
    evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", ra);
    g->errors_total++;
    return gw_error(req, 429, "rate_limit_exceeded", NULL, "%s limit of this key reached (%lld per minute); retry in %s s",
                    k->rpm && k->rq_bucket < 1.0 ? "request" : "token",
                    (long long)(k->rpm && k->rq_bucket < 1.0 ? k->rpm : k->tpm), ra);
  }
  /* body */
  struct evbuffer *in = evhttp_request_get_input_buffer(req);
  size_t blen = evbuffer_get_length(in);
  if (blen > g->opts.max_body) {
    g->errors_total++;
    return gw_error(req, 413, "request_too_large", NULL, "request body is %zu bytes; the limit is %zu", blen,
                    g->opts.max_body);
  }
  gw_call *c = sc_xcalloc(1, sizeof *c);
  c->g = g;
  c->req = req;
  c->next = g->calls;
  if (g->calls) g->calls->prev = c;
  g->calls = c;
  c->raw = sc_xmalloc(blen + 1);
  evbuffer_copyout(in, c->raw, blen);
  c->raw[blen] = 0;
  c->rawlen = blen;
  sc_err e;
  if (sc_json_parse_object(c->raw, blen, &c->body, &e)) {
    g->errors_total++;
    gw_error(req, 400, "invalid_json", NULL, "%s", e.msg);
    return call_free(c);
  }
  if (!check_body(req, c->body, chat)) {
    g->errors_total++;
    return call_free(c);
  }
  sc_strlcpy(c->model, json_string_value(json_object_get(c->body, "model")), sizeof c->model);
  bool known = false, ready = false;
  for (int i = 0; i < g->nreps; i++)
    if (strcmp(g->reps[i].r.model, c->model) == 0) {
      known = true;
      ready |= g->reps[i].r.ready;
    }
  if (!known) {
    g->errors_total++;
    gw_error(req, 404, "model_not_found", "model", "the model '%s' does not exist or has no replica (see GET /v1/models)", c->model);
    return call_free(c);
  }
  if (k->rpm) k->rq_bucket -= 1.0;
  c->stream = json_is_true(json_object_get(c->body, "stream"));
  if (c->stream) {
    json_t *so = json_object_get(c->body, "stream_options");
    c->client_usage = json_is_object(so) && json_is_true(json_object_get(so, "include_usage"));
    if (!json_is_object(so)) {
      so = json_object();
      json_object_set_new(c->body, "stream_options", so);
    }
    json_object_set_new(so, "include_usage", json_true());
  }
  sc_strlcpy(c->key_id, k->id, sizeof c->key_id);
  sc_strlcpy(c->tenant, k->tenant, sizeof c->tenant);
  sc_strlcpy(c->path, path, sizeof c->path);
  const char *hr = evhttp_find_header(evhttp_request_get_input_headers(req), "X-Suanchi-Region");
  sc_strlcpy(c->pref_region, hr && hr[0] ? hr : k->region, sizeof c->pref_region);
  c->prefix_hash = prefix_hash(c->body, chat, c->model);
  json_t *mt = json_object_get(c->body, "max_tokens");
  if (!mt) mt = json_object_get(c->body, "max_completion_tokens");
  c->est_prompt = (int64_t)blen / 4 + 1;
  c->est_tokens = c->est_prompt + (json_is_integer(mt) ? json_integer_value(mt) : GW_DEFAULT_MAX_TOKENS);
  c->ts_ms = sc_wall_ms();
  c->t0_ns = sc_mono_ns();
  snprintf(c->reqid, sizeof c->reqid, "req-%s%08x", g->rid_prefix, (unsigned)++g->rid_counter);
  evhttp_add_header(evhttp_request_get_output_headers(req), "X-Request-Id", c->reqid);
  c->cevcon = evhttp_request_get_connection(req);
  /* client sockets inherit TCP_NODELAY from the listener (set by the control plane) */
  if (c->cevcon) evhttp_connection_set_closecb(c->cevcon, on_client_close, c);
  (void)ready;
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
    if (c->ureq) {
      cancel_upstream(c);
    }
    c = next;
  }
  gw_meter_stop(g->meter);
  g->meter = NULL;
  /* let the loop write what the callbacks sent (error events, [DONE], answers); new requests get 503 */
  for (int i = 0; i < 20; i++) event_base_loop(g->base, EVLOOP_NONBLOCK);
  while (g->calls) { /* anything left waits for nothing more */
    gw_call *c = g->calls;
    if (c->cevcon) evhttp_connection_set_closecb(c->cevcon, NULL, NULL);
    c->cevcon = NULL;
    call_free(c);
  }
  for (int i = 0; i < g->nups; i++) {
    for (int j = 0; j < g->ups[i].nidle; j++) evhttp_connection_free(g->ups[i].idle[j]);
    free(g->ups[i].idle);
    free(g->ups[i].idle_nodelay);
  }
  free(g->ups);
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
}
