/*
 * gateway.h — the OpenAI-compatible gateway on the control plane's listener: tenants and API
 * keys, routing over ready replicas, proxying (plain and streamed), exact metering.
 *
 * The control plane owns the replica table and calls sc_gateway_set_replicas whenever it
 * changes; the gateway never reads deployments itself. Requests under /v1/ are handed to
 * sc_gateway_handle; admin routes for tenants, keys and usage (/api/v1/tenants, /api/v1/keys,
 * /api/v1/usage) are handed to sc_gateway_admin after the control plane authenticated the admin.
 *
 * Threading: create/destroy/set_replicas/handle/admin are called on the control plane's
 * event-loop thread.
 */
#ifndef SC_GATEWAY_GATEWAY_H
#define SC_GATEWAY_GATEWAY_H

#include <event2/event.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"
#include "net/hserver.h"

typedef struct sc_gw_replica {
  char id[40];          /* replica id */
  char deployment[64];  /* deployment name */
  char model[64];       /* the model name clients ask for: the deployment name */
  char node_id[32];
  char node[64];        /* node name */
  char region[64];
  char owner[64];
  char owner_kind[8];   /* self | pool */
  char chip[64];
  char url[160];        /* engine base URL, e.g. http://127.0.0.1:41234 */
  bool ready;           /* only ready replicas get traffic */
} sc_gw_replica;

typedef struct sc_gateway_opts {
  const char *db_path;       /* the store's SQLite file (the gateway opens its own connections) */
  int64_t upstream_timeout_ms;
  size_t max_body;
} sc_gateway_opts;

typedef struct sc_gateway sc_gateway;

int sc_gateway_create(struct event_base *base, const sc_gateway_opts *o, sc_gateway **out, sc_err *e);
void sc_gateway_destroy(sc_gateway *g);

/* Replaces the routing table (copied). */
void sc_gateway_set_replicas(sc_gateway *g, const sc_gw_replica *r, int n);

/* A tunnel to replica_id's engine (a socket an agent dialed in with, see the control plane's
 * /api/v1/agent/tunnel): joins the connections for routes whose URL is tunnel://. Takes fd. */
void sc_gateway_adopt_tunnel(sc_gateway *g, const char *replica_id, int fd);

/* Serves a request whose path starts with /v1/. */
void sc_gateway_handle(sc_gateway *g, sc_hreq *req);

/* Serves an admin request under /api/v1/{tenants,keys,usage}; seg are the path segments after
 * /api/v1 (seg[0] is "tenants", "keys" or "usage"). The caller has authenticated the admin. */
void sc_gateway_admin(sc_gateway *g, sc_hreq *req, sc_hmethod method, char **seg, int nseg);

/* Appends the gateway's Prometheus metrics (requests, errors, in flight, per-replica readiness,
 * in-flight requests and outstanding tokens) to out. */
struct evbuffer;
void sc_gateway_metrics(const sc_gateway *g, struct evbuffer *out);

#endif
