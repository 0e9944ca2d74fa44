/*
 * server.c — the OpenAI-compatible HTTP front of `suanchi engine` (see server.h).
 *
 * A generation request ("gen") lives from a successful submit until the back end's on_done has
 * been handled on the event loop:
 *
 *   handler: parse -> encode -> submit ──> RUNNING ──(token msgs)──> text filtered, streamed
 *                                             │  stop string matched: cancel, keep draining
 *                                             │  client closed: cancel, drop further output
 *                                             └──(done msg)──> final chunk/reply, gen freed
 *
 * Back-end callbacks (worker thread) only append a msg to `q` under `qmu` and activate `qev`;
 * the loop drains the queue in order, so a gen's tokens precede its done and the gen is freed
 * exactly once, by the done. A client that goes away leaves its sc_hreq with us (net/hserver.c
 * keeps it until it is ended; the answer is dropped), so the done path is the same.
 */
#include "engine/server.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "base/log.h"
#include "base/util.h"
#include "engine/sim.h"
#include "engine/textout.h"
#include "net/hserver.h"
#include "net/http.h"

#define MOD "engine"

static const double latency_buckets[] = {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120};
static const double ttft_buckets[] = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
#define NB 11

typedef struct hist {
  int64_t counts[NB + 1];
  double sum;
  int64_t n;
} hist;

typedef struct gen gen;

typedef struct msg {
  struct msg *next;
  gen *g;
  bool done;
  int32_t token;
  sc_gen_result res;
} msg;

typedef struct srv {
  struct event_base *base;
  sc_hsrv *http;
  sc_engine *eng;
  const sc_codec *codec;
  const sc_engine_server_config *cfg;
  int64_t created;
  uint64_t rng;
  pthread_mutex_t qmu;
  msg *qhead, *qtail;
  struct event *qev;
  /* metrics (event-loop thread only) */
  int64_t http_status[6]; /* 2xx, 400, 404, 413, other 4xx, 5xx */
  int64_t finished[4];    /* stop, length, cancelled, error */
  int active;
  gen *gens; /* in flight, for cancelling at shutdown */
  hist latency, ttft;
} srv;

struct gen {
  srv *s;
  gen *prev, *next;
  sc_hreq *req;
  uint64_t id;
  sc_oai_kind kind;
  bool stream, include_usage, client_gone, stop_matched, role_sent;
  char cid[48];
  int64_t created;
  sc_textout *tx;
  char *text; /* non-streaming: the whole completion */
  size_t tlen, tcap;
  char *delta; /* streaming: text of the current token */
  size_t dlen, dcap;
  int n_prompt;
  int n_tokens; /* tokens received up to (and including) the one that completed a stop string */
  int64_t t0_ns;
  bool first_token;
};

/* ---- small helpers ---- */

static uint64_t next_rand(srv *s) {
  uint64_t z = (s->rng += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

static void count_status(srv *s, int status) {
  int i = status < 300 ? 0 : status == 400 ? 1 : status == 404 ? 2 : status == 413 ? 3 : status < 500 ? 4 : 5;
  s->http_status[i]++;
}

static void hist_add(hist *h, const double *b, double v) {
  int i = 0;
  while (i < NB && v > b[i]) i++;
  h->counts[i]++;
  h->sum += v;
  h->n++;
}

static void reply_json(srv *s, sc_hreq *req, int status, json_t *o) {
  count_status(s, status);
  sc_http_reply_json(req, status, o);
}

static void reply_oai_error(srv *s, sc_hreq *req, const sc_oai_error *err) {
  reply_json(s, req, err->status ? err->status : 400, sc_oai_error_json(err));
}

static void reply_error(srv *s, sc_hreq *req, int status, const char *param, const char *code,
                        const char *msg) {
  sc_oai_error err;
  sc_oai_fail(&err, SC_EINVAL, status, param, code, "%s", msg);
  reply_oai_error(s, req, &err);
}

static void buf_add(char **b, size_t *len, size_t *cap, const char *p, size_t n) {
  if (*len + n + 1 > *cap) {
    *cap = (*len + n + 1) * 2;
    *b = sc_xrealloc(*b, *cap);
  }
  memcpy(*b + *len, p, n);
  *len += n;
  (*b)[*len] = 0;
}

/* ---- marshalling back-end callbacks onto the loop ---- */

static void enqueue(gen *g, msg *m) {
  srv *s = g->s;
  m->g = g;
  pthread_mutex_lock(&s->qmu);
  if (s->qtail) s->qtail->next = m;
  else s->qhead = m;
  s->qtail = m;
  pthread_mutex_unlock(&s->qmu);
  event_active(s->qev, EV_READ, 0);
}

static void on_token(void *ud, int32_t token) {
  msg *m = sc_xcalloc(1, sizeof *m);
  m->token = token;
  enqueue(ud, m);
}

static void on_done(void *ud, const sc_gen_result *res) {
  msg *m = sc_xcalloc(1, sizeof *m);
  m->done = true;
  m->res = *res;
  enqueue(ud, m);
}

/* ---- streaming ---- */

static void sse_send(gen *g, json_t *o) {
  char *txt = json_dumps(o, JSON_COMPACT);
  json_decref(o);
  if (!txt) return;
  size_t n = strlen(txt);
  char *ev = sc_xmalloc(n + 9);
  memcpy(ev, "data: ", 6);
  memcpy(ev + 6, txt, n);
  memcpy(ev + 6 + n, "\n\n", 2);
  sc_hreq_chunk(g->req, ev, n + 8);
  free(ev);
  free(txt);
}

/* One chunk: chat {"delta":...} or completions {"text":...}; finish NULL = in progress. */
static json_t *chunk_json(gen *g, const char *text, size_t len, const char *finish, bool role) {
  json_t *choice;
  json_t *fin = finish ? json_string(finish) : json_null();
  if (g->kind == SC_OAI_CHAT) {
    json_t *delta = json_object();
    if (role) json_object_set_new(delta, "role", json_string("assistant"));
    if (text) json_object_set_new(delta, "content", json_stringn(text, len));
    choice = json_pack("{s:i,s:o,s:n,s:o}", "index", 0, "delta", delta, "logprobs", "finish_reason", fin);
  } else {
    choice = json_pack("{s:s%,s:i,s:n,s:o}", "text", text ? text : "", text ? len : 0, "index", 0, "logprobs",
                       "finish_reason", fin);
  }
  json_t *o = json_pack("{s:s,s:s,s:I,s:s,s:[o]}", "id", g->cid, "object",
                        g->kind == SC_OAI_CHAT ? "chat.completion.chunk" : "text_completion", "created",
                        (json_int_t)g->created, "model", g->s->cfg->model_name, "choices", choice);
  if (g->include_usage) json_object_set_new(o, "usage", json_null());
  return o;
}

static json_t *usage_json(int prompt, int completion, int cached) {
  return json_pack("{s:i,s:i,s:i,s:{s:i}}", "prompt_tokens", prompt, "completion_tokens", completion, "total_tokens",
                   prompt + completion, "prompt_tokens_details", "cached_tokens", cached);
}

static void emit_text(void *ud, const char *p, size_t n) {
  gen *g = ud;
  if (g->stream) buf_add(&g->delta, &g->dlen, &g->dcap, p, n);
  else buf_add(&g->text, &g->tlen, &g->tcap, p, n);
}

static void gen_free(gen *g) {
  sc_textout_destroy(g->tx);
  free(g->text);
  free(g->delta);
  free(g);
}

static void client_left(gen *g) {
  if (g->client_gone) return;
  g->client_gone = true;
  sc_info(MOD, "%s: client went away; cancelling", g->cid);
  g->s->eng->ops->cancel(g->s->eng, g->id);
}

/* The client closed its connection while the request runs (net/hserver.c notices at once). */
static void on_close(void *arg) { client_left(arg); }

static void handle_token(gen *g, int32_t token) {
  srv *s = g->s;
  if (!g->first_token) {
    g->first_token = true;
    hist_add(&s->ttft, ttft_buckets, (double)(sc_mono_ns() - g->t0_ns) / 1e9);
  }
  if (g->client_gone || g->stop_matched) return;
  g->n_tokens++;
  if (s->codec->is_eog && s->codec->is_eog(s->codec->ctx, token)) {
    g->stop_matched = true; /* finish "stop"; the token's text (a control token) is not shown */
    s->eng->ops->cancel(s->eng, g->id);
    return;
  }
  size_t n;
  const char *bytes = s->codec->token_bytes(s->codec->ctx, token, &n);
  g->dlen = 0;
  if (sc_textout_feed(g->tx, bytes, n, emit_text, g)) {
    g->stop_matched = true;
    s->eng->ops->cancel(s->eng, g->id);
  }
  if (g->stream && g->kind == SC_OAI_CHAT && !g->role_sent) {
    /* As OpenAI: the first chunk carries the role and empty content. */
    sse_send(g, chunk_json(g, "", 0, NULL, true));
    g->role_sent = true;
  }
  if (g->stream && g->dlen) sse_send(g, chunk_json(g, g->delta, g->dlen, NULL, false));
}

static const char *finish_name(gen *g, const sc_gen_result *r) {
  if (g->stop_matched) return "stop";
  switch (r->finish) {
  case SC_FINISH_LENGTH: return "length";
  case SC_FINISH_CANCELLED: return g->client_gone ? "cancelled" : "stop";
  case SC_FINISH_ERROR: return "error";
  default: return "stop";
  }
}

static void handle_done(gen *g, const sc_gen_result *r) {
  srv *s = g->s;
  s->active--;
  if (g->prev) g->prev->next = g->next;
  else s->gens = g->next;
  if (g->next) g->next->prev = g->prev;
  const char *finish = finish_name(g, r);
  int fi = g->client_gone ? 2 : r->finish == SC_FINISH_ERROR ? 3 : !strcmp(finish, "length") ? 1 : 0;
  s->finished[fi]++;
  hist_add(&s->latency, latency_buckets, (double)(sc_mono_ns() - g->t0_ns) / 1e9);
  sc_hreq_on_close(g->req, NULL, NULL);
  /* Tokens the back end made after a stop string matched (before the cancel landed) were never
   * shown: the usage counts what the client got, as OpenAI does. */
  int prompt = g->n_prompt, completion = g->stop_matched ? g->n_tokens : r->completion_tokens;
  if (g->client_gone) {
    /* The answer goes nowhere; ending the request frees it. */
    if (g->stream) sc_hreq_end(g->req);
    else sc_hreq_reply(g->req, 499, NULL, NULL, 0);
    gen_free(g);
    return;
  }
  if (r->finish == SC_FINISH_ERROR) {
    sc_warn(MOD, "%s: back end error: %s", g->cid, r->error);
    sc_oai_error err;
    sc_oai_fail(&err, SC_EIO, 500, NULL, "engine_error", "generation failed: %s", r->error);
    if (g->stream) {
      sse_send(g, sc_oai_error_json(&err));
      sc_hreq_chunk(g->req, "data: [DONE]\n\n", 14);
      sc_hreq_end(g->req);
    } else {
      reply_oai_error(s, g->req, &err);
    }
    gen_free(g);
    return;
  }
  g->dlen = 0;
  sc_textout_finish(g->tx, emit_text, g);
  if (g->stream) {
    if (g->dlen) sse_send(g, chunk_json(g, g->delta, g->dlen, NULL, false));
    if (g->kind == SC_OAI_CHAT) {
      json_t *o = chunk_json(g, NULL, 0, finish, false);
      sse_send(g, o);
    } else {
      sse_send(g, chunk_json(g, "", 0, finish, false));
    }
    if (g->include_usage) {
      json_t *o = json_pack("{s:s,s:s,s:I,s:s,s:[],s:o}", "id", g->cid, "object",
                            g->kind == SC_OAI_CHAT ? "chat.completion.chunk" : "text_completion", "created",
                            (json_int_t)g->created, "model", s->cfg->model_name, "choices", "usage",
                            usage_json(prompt, completion, r->cached_tokens));
      sse_send(g, o);
    }
    sc_hreq_chunk(g->req, "data: [DONE]\n\n", 14);
    sc_hreq_end(g->req);
  } else {
    json_t *choice;
    json_t *content = json_stringn(g->text ? g->text : "", g->tlen);
    if (g->kind == SC_OAI_CHAT)
      choice = json_pack("{s:i,s:{s:s,s:o},s:n,s:s}", "index", 0, "message", "role", "assistant", "content", content,
                         "logprobs", "finish_reason", finish);
    else
      choice = json_pack("{s:o,s:i,s:n,s:s}", "text", content, "index", 0, "logprobs", "finish_reason", finish);
    json_t *o = json_pack("{s:s,s:s,s:I,s:s,s:[o],s:o}", "id", g->cid, "object",
                          g->kind == SC_OAI_CHAT ? "chat.completion" : "text_completion", "created",
                          (json_int_t)g->created, "model", s->cfg->model_name, "choices", choice, "usage",
                          usage_json(prompt, completion, r->cached_tokens));
    reply_json(s, g->req, 200, o);
  }
  gen_free(g);
}

static void drain_queue(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  srv *s = arg;
  pthread_mutex_lock(&s->qmu);
  msg *m = s->qhead;
  s->qhead = s->qtail = NULL;
  pthread_mutex_unlock(&s->qmu);
  while (m) {
    msg *next = m->next;
    if (m->done) handle_done(m->g, &m->res);
    else handle_token(m->g, m->token);
    free(m);
    m = next;
  }
}

/* ---- endpoints ---- */

static bool model_matches(srv *s, const char *name) { return !name || !strcmp(name, s->cfg->model_name); }

static void handle_generate(srv *s, sc_hreq *req, sc_oai_kind kind) {
  char *body = NULL;
  size_t len = 0;
  sc_oai_request r;
  sc_oai_error err;
  memset(&r, 0, sizeof r);
  int32_t *ids = NULL;
  int n_ids = 0;
  gen *g = NULL;
  if (sc_http_body(req, s->cfg->max_body, &body, &len)) {
    char msg[128];
    snprintf(msg, sizeof msg, "the request body is over the %zu-byte limit", s->cfg->max_body);
    reply_error(s, req, 413, NULL, "request_too_large", msg);
    return;
  }
  if (sc_oai_parse(body, len, kind, &r, &err)) {
    reply_oai_error(s, req, &err);
    goto out;
  }
  if (!model_matches(s, r.model)) {
    sc_oai_fail(&err, SC_ENOENT, 404, "model", "model_not_found", "the model '%.200s' does not exist; this server serves '%.200s'",
                r.model, s->cfg->model_name);
    reply_oai_error(s, req, &err);
    goto out;
  }
  sc_err e = {0};
  int rc;
  if (kind == SC_OAI_CHAT) {
    rc = s->codec->encode_chat(s->codec->ctx, r.messages, r.n_messages, &ids, &n_ids, &e);
  } else if (r.prompt) {
    rc = s->codec->encode_prompt(s->codec->ctx, r.prompt, strlen(r.prompt), &ids, &n_ids, &e);
  } else {
    rc = 0;
    for (int i = 0; i < r.n_prompt_ids && !rc; i++)
      if (r.prompt_ids[i] >= s->eng->n_vocab)
        rc = sc_err_set(&e, SC_EINVAL, "invalid_value", "token id %d is outside the vocabulary (%d tokens)",
                        r.prompt_ids[i], s->eng->n_vocab);
    if (!rc) {
      ids = r.prompt_ids;
      n_ids = r.n_prompt_ids;
      r.prompt_ids = NULL;
    }
  }
  const char *pparam = kind == SC_OAI_CHAT ? "messages" : "prompt";
  if (rc) {
    sc_oai_fail(&err, rc, rc == SC_ETOOBIG ? 413 : 400, pparam, e.code[0] ? e.code : "invalid_value", "%s", e.msg);
    reply_oai_error(s, req, &err);
    goto out;
  }
  int n_ctx = s->eng->n_ctx;
  if (n_ids >= n_ctx) {
    sc_oai_fail(&err, SC_EINVAL, 400, pparam, "context_length_exceeded",
                "this model's maximum context length is %d tokens, but the prompt has %d tokens", n_ctx, n_ids);
    reply_oai_error(s, req, &err);
    goto out;
  }
  if (r.max_tokens && (int64_t)n_ids + r.max_tokens > n_ctx) {
    sc_oai_fail(&err, SC_EINVAL, 400, "max_tokens", "context_length_exceeded",
                "this model's maximum context length is %d tokens; the prompt has %d tokens and max_tokens is %d",
                n_ctx, n_ids, r.max_tokens);
    reply_oai_error(s, req, &err);
    goto out;
  }

  g = sc_xcalloc(1, sizeof *g);
  g->s = s;
  g->req = req;
  g->kind = kind;
  g->stream = r.stream;
  g->include_usage = r.include_usage;
  g->created = sc_wall_ms() / 1000;
  g->n_prompt = n_ids;
  g->t0_ns = sc_mono_ns();
  snprintf(g->cid, sizeof g->cid, "%s-%016llx%08llx", kind == SC_OAI_CHAT ? "chatcmpl" : "cmpl",
           (unsigned long long)next_rand(s), (unsigned long long)(next_rand(s) & 0xffffffffu));
  g->tx = sc_textout_create((const char *const *)r.stop, r.n_stop);
  if (kind == SC_OAI_COMPLETION && r.echo) {
    if (r.prompt) {
      buf_add(&g->text, &g->tlen, &g->tcap, r.prompt, strlen(r.prompt));
    } else {
      for (int i = 0; i < n_ids; i++) {
        size_t n;
        const char *b = s->codec->token_bytes(s->codec->ctx, ids[i], &n);
        buf_add(&g->text, &g->tlen, &g->tcap, b, n);
      }
    }
  }
  sc_gen_request gr = {
      .prompt = ids,
      .n_prompt = n_ids,
      .params = {.max_tokens = r.max_tokens ? r.max_tokens : n_ctx - n_ids,
                 .temperature = (float)r.temperature,
                 .top_p = (float)r.top_p,
                 .top_k = r.top_k,
                 .seed = r.has_seed ? r.seed : next_rand(s)},
      .on_token = on_token,
      .on_done = on_done,
      .ud = g,
  };
  if ((rc = s->eng->ops->submit(s->eng, &gr, &g->id, &e))) {
    sc_oai_fail(&err, rc, rc == SC_EUNAVAIL ? 503 : 400, pparam, e.code[0] ? e.code : "invalid_value", "%s", e.msg);
    reply_oai_error(s, req, &err);
    gen_free(g);
    g = NULL;
    goto out;
  }
  s->active++;
  g->next = s->gens;
  if (s->gens) s->gens->prev = g;
  s->gens = g;
  sc_hreq_on_close(req, on_close, g);
  if (g->stream) {
    sc_hreq_add_header(req, "Cache-Control", "no-cache");
    count_status(s, 200);
    sc_hreq_start(req, 200, "text/event-stream");
    /* Echoed prompt text goes first. */
    if (g->tlen) {
      sse_send(g, chunk_json(g, g->text, g->tlen, NULL, false));
      g->tlen = 0;
    }
  }
out:
  free(ids);
  free(body);
  sc_oai_request_fini(&r);
}

static json_t *model_json(srv *s) {
  return json_pack("{s:s,s:s,s:I,s:s,s:i}", "id", s->cfg->model_name, "object", "model", "created",
                   (json_int_t)s->created, "owned_by", "suanchi", "max_model_len", s->eng->n_ctx);
}

static void hist_print(struct evbuffer *b, const char *name, const char *help, const hist *h, const double *bk) {
  evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
  int64_t cum = 0;
  for (int i = 0; i < NB; i++) {
    cum += h->counts[i];
    evbuffer_add_printf(b, "%s_bucket{le=\"%g\"} %lld\n", name, bk[i], (long long)cum);
  }
  cum += h->counts[NB];
  evbuffer_add_printf(b, "%s_bucket{le=\"+Inf\"} %lld\n%s_sum %.6f\n%s_count %lld\n", name, (long long)cum, name,
                      h->sum, name, (long long)h->n);
}

static void handle_metrics(srv *s, sc_hreq *req) {
  sc_engine_stats st;
  memset(&st, 0, sizeof st);
  s->eng->ops->stats(s->eng, &st);
  struct evbuffer *b = evbuffer_new();
#define G(name, type, help, fmt, val) \
  evbuffer_add_printf(b, "# HELP suanchi_engine_" name " " help "\n# TYPE suanchi_engine_" name " " type "\n" \
                         "suanchi_engine_" name " " fmt "\n", val)
  G("prompt_tokens_total", "counter", "Prompt tokens processed.", "%lld", (long long)st.prompt_tokens_total);
  G("generation_tokens_total", "counter", "Tokens generated.", "%lld", (long long)st.generation_tokens_total);
  G("prefix_cache_hit_tokens_total", "counter", "Prompt tokens served from the prefix cache.", "%lld",
    (long long)st.prefix_cache_hit_tokens);
  G("requests_running", "gauge", "Sequences in the running batch.", "%d", st.running);
  G("requests_waiting", "gauge", "Requests queued for admission.", "%d", st.waiting);
  G("batch_size", "gauge", "Sequences in the last step.", "%d", st.last_batch_size);
  G("kv_cache_blocks_total", "gauge", "KV-cache blocks.", "%d", st.kv_blocks_total);
  G("kv_cache_blocks_used", "gauge", "KV-cache blocks in use.", "%d", st.kv_blocks_used);
  G("kv_cache_usage_ratio", "gauge", "Fraction of the KV cache in use.", "%.6f",
    st.kv_blocks_total ? (double)st.kv_blocks_used / st.kv_blocks_total : 0.0);
  G("sleeping", "gauge", "1 while the weights are released (POST /sleep).", "%d", st.sleeping ? 1 : 0);
  G("active_requests", "gauge", "Generation requests in flight in the HTTP front.", "%d", s->active);
#undef G
  evbuffer_add_printf(b, "# HELP suanchi_engine_requests_total Generation requests finished, by reason.\n"
                         "# TYPE suanchi_engine_requests_total counter\n");
  static const char *const fin[] = {"stop", "length", "cancelled", "error"};
  for (int i = 0; i < 4; i++)
    evbuffer_add_printf(b, "suanchi_engine_requests_total{finish_reason=\"%s\"} %lld\n", fin[i],
                        (long long)s->finished[i]);
  evbuffer_add_printf(b, "# HELP suanchi_engine_http_responses_total HTTP responses, by status class.\n"
                         "# TYPE suanchi_engine_http_responses_total counter\n");
  static const char *const cls[] = {"2xx", "400", "404", "413", "4xx", "5xx"};
  for (int i = 0; i < 6; i++)
    evbuffer_add_printf(b, "suanchi_engine_http_responses_total{status=\"%s\"} %lld\n", cls[i],
                        (long long)s->http_status[i]);
  hist_print(b, "suanchi_engine_request_latency_seconds", "Time from request to last token.", &s->latency,
             latency_buckets);
  hist_print(b, "suanchi_engine_time_to_first_token_seconds", "Time from request to first token.", &s->ttft,
             ttft_buckets);
  count_status(s, 200);
  size_t n = evbuffer_get_length(b);
  sc_hreq_reply(req, 200, "text/plain; version=0.0.4", evbuffer_pullup(b, -1), n);
  evbuffer_free(b);
}

static void handle_sleep(srv *s, sc_hreq *req, bool sleep) {
  sc_err e = {0};
  int rc = sleep ? s->eng->ops->sleep(s->eng, &e) : s->eng->ops->wake(s->eng, &e);
  if (rc) {
    reply_error(s, req, 500, NULL, e.code[0] ? e.code : "engine_error", e.msg[0] ? e.msg : sc_strerror(rc));
    return;
  }
  sc_info(MOD, "%s", sleep ? "sleeping: weights released" : "awake: weights restored");
  reply_json(s, req, 200, json_pack("{s:s}", "status", sleep ? "sleeping" : "awake"));
}

static void dispatch(sc_hreq *req, void *arg) {
  srv *s = arg;
  const char *path = sc_hreq_path(req);
  sc_hmethod cmd = sc_hreq_method(req);
  bool get = cmd == SC_HGET, post = cmd == SC_HPOST;
  const char *allowed = NULL;
  if (!strcmp(path, "/v1/chat/completions")) {
    if (post) return handle_generate(s, req, SC_OAI_CHAT);
    allowed = "POST";
  } else if (!strcmp(path, "/v1/completions")) {
    if (post) return handle_generate(s, req, SC_OAI_COMPLETION);
    allowed = "POST";
  } else if (!strcmp(path, "/v1/models")) {
    if (get) return reply_json(s, req, 200, json_pack("{s:s,s:[o]}", "object", "list", "data", model_json(s)));
    allowed = "GET";
  } else if (!strncmp(path, "/v1/models/", 11)) {
    if (get) {
      if (!strcmp(path + 11, s->cfg->model_name)) return reply_json(s, req, 200, model_json(s));
      char msg[700];
      snprintf(msg, sizeof msg, "the model '%.300s' does not exist", path + 11);
      return reply_error(s, req, 404, "model", "model_not_found", msg);
    }
    allowed = "GET";
  } else if (!strcmp(path, "/health")) {
    if (get) {
      sc_engine_stats st;
      memset(&st, 0, sizeof st);
      s->eng->ops->stats(s->eng, &st);
      return reply_json(s, req, 200, json_pack("{s:s,s:b}", "status", "ok", "sleeping", st.sleeping));
    }
    allowed = "GET";
  } else if (!strcmp(path, "/is_sleeping")) {
    if (get) {
      sc_engine_stats st;
      memset(&st, 0, sizeof st);
      s->eng->ops->stats(s->eng, &st);
      return reply_json(s, req, 200, json_pack("{s:b}", "is_sleeping", st.sleeping));
    }
    allowed = "GET";
  } else if (!strcmp(path, "/metrics")) {
    if (get) return handle_metrics(s, req);
    allowed = "GET";
  } else if (!strcmp(path, "/sleep") || !strcmp(path, "/wake")) {
    if (post) return handle_sleep(s, req, !strcmp(path, "/sleep"));
    allowed = "POST";
  }
  if (allowed) {
    sc_hreq_add_header(req, "Allow", allowed);
    char msg[64];
    snprintf(msg, sizeof msg, "use %s for this endpoint", allowed);
    return reply_error(s, req, 405, NULL, "method_not_allowed", msg);
  }
  reply_error(s, req, 404, NULL, "not_found", "no such endpoint");
}

static void on_signal(evutil_socket_t sig, short what, void *arg) {
  (void)what;
  sc_info(MOD, "signal %d: shutting down", (int)sig);
  event_base_loopexit(arg, NULL);
}

int sc_engine_serve(sc_engine *eng, const sc_codec *codec, const sc_engine_server_config *cfg, sc_err *e) {
  int rc = 0;
  srv s;
  memset(&s, 0, sizeof s);
  struct event *sigint = NULL, *sigterm = NULL;
  s.eng = eng;
  s.codec = codec;
  s.cfg = cfg;
  s.created = sc_wall_ms() / 1000;
  s.rng = (uint64_t)sc_mono_ns() ^ ((uint64_t)sc_wall_ms() << 20);
  pthread_mutex_init(&s.qmu, NULL);
  char host[256];
  int port;
  if (sc_parse_hostport(cfg->listen, host, sizeof host, &port)) {
    rc = sc_err_set(e, SC_EINVAL, "invalid_flag", "--listen: '%s' is not HOST:PORT", cfg->listen);
    goto out;
  }
  evthread_use_pthreads();
  signal(SIGPIPE, SIG_IGN);
  s.base = event_base_new();
  if (!s.base) {
    rc = sc_err_set(e, SC_EIO, "internal", "cannot create the event loop");
    goto out;
  }
  /* the server's own cap (answered 413 before reading); ours is checked after reading, so
   * bodies between the two get the OpenAI-shaped 413. */
  sc_hsrv_opts ho = {.max_body = cfg->max_body * 2 + 65536, .idle_timeout_ms = 600000, .cb = dispatch, .arg = &s};
  char addr[300];
  if ((rc = sc_hsrv_create(s.base, &ho, &s.http, e))) goto out;
  sc_err le;
  if (sc_hsrv_listen(s.http, host, port, addr, sizeof addr, &le)) {
    rc = sc_err_set(e, SC_EIO, "bind_failed", "cannot listen on %s: %s", cfg->listen, le.msg);
    goto out;
  }
  s.qev = event_new(s.base, -1, 0, drain_queue, &s);
  sigint = evsignal_new(s.base, SIGINT, on_signal, s.base);
  sigterm = evsignal_new(s.base, SIGTERM, on_signal, s.base);
  event_add(sigint, NULL);
  event_add(sigterm, NULL);
  if (cfg->port_file) {
    char line[320];
    int n = snprintf(line, sizeof line, "%s\n", addr);
    int wrc = sc_write_file_atomic(cfg->port_file, line, (size_t)n, 0644);
    if (wrc) {
      rc = sc_err_set(e, SC_EIO, "io", "cannot write --port-file %s: %s", cfg->port_file, sc_strerror(wrc));
      goto out;
    }
  }
  sc_info(MOD, "serving model '%s' (context %d tokens) on http://%s", cfg->model_name, eng->n_ctx, addr);
  event_base_dispatch(s.base);
  /* Shutdown: cancel what is in flight and keep the loop turning until every done arrived
   * (the back end guarantees one per submitted request), so replies are flushed and no callback
   * outlives this frame. */
  if (s.active) sc_info(MOD, "stopping: cancelling %d request(s) in flight", s.active);
  eng->ops->wake(eng, NULL);
  for (gen *g = s.gens; g; g = g->next) eng->ops->cancel(eng, g->id);
  for (int64_t warn = sc_mono_ms() + 5000; s.active > 0;) {
    event_base_loop(s.base, EVLOOP_NONBLOCK);
    if (s.active > 0) {
      struct timespec ts = {0, 2000000};
      nanosleep(&ts, NULL);
    }
    if (sc_mono_ms() > warn) {
      sc_warn(MOD, "still waiting for %d cancelled request(s)", s.active);
      warn = sc_mono_ms() + 5000;
    }
  }
  event_base_loop(s.base, EVLOOP_NONBLOCK);
out:
  if (sigint) event_free(sigint);
  if (sigterm) event_free(sigterm);
  sc_hsrv_destroy(s.http);
  if (s.qev) event_free(s.qev);
  if (s.base) event_base_free(s.base);
  pthread_mutex_destroy(&s.qmu);
  return rc;
}
