/*
 * internal.h — state shared by the gateway's files: gateway.c (keys, routing, proxying),
 * meter.c (the usage journal and its ingester thread), admin.c (tenants, keys, usage, endpoints).
 * Everything except the writer thread's body runs on the control plane's event-loop thread.
 */
#ifndef SC_GATEWAY_INTERNAL_H
#define SC_GATEWAY_INTERNAL_H

#include <event2/event.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "gateway/gateway.h"
#include "net/hclient.h"
#include "net/hparse.h"
#include "store/gateway_store.h"
#include "store/store.h"

#define GW_MAX_ENDPOINTS 64
#define GW_MAX_TOKENS_CAP 1048576 /* longer than any model's context: beyond it, max_tokens is absurd */
#define GW_PREFIX_BYTES 512       /* prefix-affinity hash covers this much of the prompt */
#define GW_MAX_TRIES 3

/* One API key as the hot path sees it, with its rate-limit buckets. */
typedef struct gw_key {
  char id[32];
  char tenant[64];
  uint8_t hash[32];
  int64_t rpm, tpm;
  char region[64];     /* home region: the key's own, else the tenant's */
  bool revoked;
  double rq_bucket, tk_bucket; /* requests and tokens left; refilled continuously */
  int64_t last_refill_ms;
} gw_key;

/* A routable replica: the control plane's or an external endpoint. */
typedef struct gw_rep {
  sc_gw_replica r;
  char upstream_model[64]; /* model name sent upstream ("" = leave the client's) */
  char host[128];
  int port;
  int64_t outstanding;     /* estimated tokens in flight */
  int inflight;
  int64_t cool_until_ms;    /* after a failed connection: skipped until then while others can serve */
  bool external;
} gw_rep;

typedef struct gw_endpoint {
  char name[64], model[64], url[160], region[64], chip[64], upstream_model[64];
} gw_endpoint;

/* ---- meter.c: the usage writer ---- */
typedef void (*gw_meter_cb)(void *arg, bool stored);
typedef struct gw_meter gw_meter;
int gw_meter_start(struct event_base *base, const char *db_path, gw_meter **out, sc_err *e);
/* Queues one record; cb(arg, stored) runs on the loop thread once it is in the journal (at the end
 * of this loop turn; stored=false: the write failed and was logged). */
void gw_meter_submit(gw_meter *m, const sc_usage_rec *r, gw_meter_cb cb, void *arg);
/* Writes what is queued, runs the callbacks, stops the thread. */
void gw_meter_stop(gw_meter *m);
int64_t gw_meter_committed(gw_meter *m);
/* Waits (up to 5 s) until every record journaled so far is in the store: before usage queries. */
void gw_meter_sync(gw_meter *m);
/* The journal's record encoding (exposed for tests and the fuzz harness): encode writes at most
 * 1024 bytes and returns the length; decode returns 1 (*used bytes read), 0 (incomplete) or -1
 * (not a record). */
size_t gw_journal_encode(const sc_usage_rec *r, char *out);
int gw_journal_decode(const char *in, size_t n, sc_usage_rec *r, size_t *used);

typedef struct gw_call gw_call;

struct sc_gateway {
  struct event_base *base;
  sc_gateway_opts opts;
  sc_store *store;               /* loop-thread connection: admin routes, key loading */
  gw_meter *meter;
  gw_key *keys;
  int nkeys;
  int *kslots;                   /* open addressing: id -> index in keys, -1 empty */
  int nkslots;
  sc_gw_replica *ctl_reps;       /* the control plane's table, as last given */
  int nctl;
  gw_endpoint eps[GW_MAX_ENDPOINTS];
  int neps;
  gw_rep *reps;                  /* the routing table: ctl_reps + endpoints */
  int nreps;
  sc_hcli *cli;                  /* keep-alive connections to the engines */
  gw_call *calls;                /* in flight (doubly linked) */
  gw_call *free_calls;           /* ended calls kept for reuse (with their buffers) */
  int nfree;
  int64_t requests_total, errors_total;
  bool stopping;
  char rid_prefix[9];            /* request ids: req-<random prefix><counter>, unique across restarts */
  uint32_t rid_counter;
};

/* scan.c: the fast path for request bodies (see the file's comment) */
typedef struct gw_scan_result {
  sc_hslice model;          /* the model name (no escapes in it) */
  bool stream;              /* "stream": true */
  bool has_stream_options;  /* "stream_options" is present (an object or null) */
  bool include_usage;       /* ... an object with "include_usage": true */
  int64_t max_tokens;       /* max_tokens, else max_completion_tokens; 0 if neither */
  uint64_t text_hash;       /* FNV-1a of the first GW_PREFIX_BYTES of the prompt's text */
  size_t open;              /* offset of the body's '{' */
} gw_scan_result;
enum { GW_SCAN_OK = 0, GW_SCAN_SLOW = 1 };
int gw_scan(const char *body, size_t n, bool chat, gw_scan_result *r);
/* The integer prompt_tokens and completion_tokens of the object at p (what follows it is ignored);
 * GW_SCAN_SLOW when it is not that simple (the caller asks jansson). */
int gw_scan_usage(const char *p, size_t n, int64_t *prompt, int64_t *completion);

/* gateway.c */
int gw_keys_reload(sc_gateway *g, sc_err *e);
void gw_rebuild_routes(sc_gateway *g);
int gw_parse_url(const char *url, char *host, size_t cap, int *port);

/* admin.c */
int gw_endpoints_load(sc_gateway *g, sc_err *e);

#endif
