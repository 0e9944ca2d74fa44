/*
 * internal.h — state shared by the control plane's files (control.c: HTTP routes and the
 * liveness timer; registry.c: the in-memory node table; metrics.c: Prometheus exposition).
 * Everything here runs on the single event-loop thread.
 */
#ifndef SC_CONTROL_INTERNAL_H
#define SC_CONTROL_INTERNAL_H

#include <event2/event.h>
#include <stdbool.h>
#include <stdint.h>

#include "control/control.h"
#include "gateway/gateway.h"
#include "store/serving_store.h"
#include "store/store.h"

/* Live view of one device: the stored facts plus what the last heartbeat said. */
typedef struct ctl_device {
  int64_t memory_used_mib;
  int util_pct;
} ctl_device;

/* One node. `st` holds the persisted fields; state/admin_state there are authoritative and are
 * written to the store on every change. */
typedef struct ctl_node {
  sc_store_node st;
  ctl_device *live;          /* st.ndevices entries */
  char region[64];
  char owner[64];
  char owner_kind[8];
  int64_t last_hb_mono_ms;   /* monotonic time of the last heartbeat (or of server start) */
  bool hb_dirty;             /* last_heartbeat not yet flushed to the store */
} ctl_node;

typedef struct ctl_registry {
  ctl_node **nodes; /* sorted by nothing; index i is stable until a delete */
  int n, cap;
  /* open-addressing index: id -> position in nodes */
  int *slots;
  int nslots;
} ctl_registry;

#define CTL_HIST_BUCKETS 12

typedef struct ctl_metrics {
  int64_t heartbeats_total;
  int64_t registrations_total;
  int64_t tunnels_total;           /* tunnel connections agents opened */
  int64_t api_requests_total;
  int64_t api_errors_total;        /* 4xx and 5xx */
  int64_t hist[CTL_HIST_BUCKETS + 1];
  double hist_sum;
  int64_t hb_hist[CTL_HIST_BUCKETS + 1];
  double hb_hist_sum;
} ctl_metrics;

/* Serving state (serving.c): cached models and deployments, the live replicas. */
typedef struct ctl_serving {
  sc_model_row *models;
  int nmodels;
  sc_deployment_row *deps;
  int ndeps;
  char (*why)[512]; /* per deployment: why its last replica could not be placed ("" = fine) */
  sc_replica_row *reps;
  int nreps, capreps;
  bool routes_dirty; /* the gateway's routing table must be rebuilt */
} ctl_serving;

typedef struct ctl {
  sc_control_opts opts;
  struct event_base *base;
  sc_hsrv *http;
  struct event *tick, *sigint, *sigterm;
  sc_store *store;
  ctl_registry reg;
  ctl_metrics m;
  uint8_t admin_hash[32];
  ctl_serving sv;
  int64_t last_reconcile_mono_ms;
  int64_t started_mono_ms;
  int64_t last_flush_mono_ms;
  sc_gateway *gw;            /* the OpenAI gateway (/v1/..., /api/v1/{tenants,keys,usage,endpoints}) */
} ctl;

/* registry.c */
void ctl_reg_init(ctl_registry *r);
void ctl_reg_fini(ctl_registry *r);
ctl_node *ctl_reg_get(ctl_registry *r, const char *id);
/* Finds by id or, failing that, by name. */
ctl_node *ctl_reg_lookup(ctl_registry *r, const char *id_or_name);
void ctl_reg_add(ctl_registry *r, ctl_node *n);   /* takes ownership */
void ctl_reg_remove(ctl_registry *r, ctl_node *n); /* frees n */
void ctl_node_free(ctl_node *n);
/* JSON of a node as the API shows it (new reference). */
json_t *ctl_node_json(const ctl *c, const ctl_node *n);

/* placement.c */
typedef struct sc_fleet sc_fleet;
int ctl_fleet_build(ctl *c, int policy, sc_fleet **out, sc_err *e);
int ctl_fleet_device_index(const ctl_node *n, int k);
struct sc_sched_result;
json_t *ctl_place_result_json(ctl *c, const struct sc_sched_result *r, bool placed);
void ctl_place_dry_run(ctl *c, sc_hreq *req, const json_t *b, sc_err *e, int *status);

/* serving.c */
int ctl_serving_load(ctl *c, sc_err *e);
void ctl_serving_fini(ctl *c);
void ctl_serving_reconcile(ctl *c);
void ctl_fleet_apply_replicas(ctl *c, sc_fleet *f);
/* Takes the replica states a node reported and returns what it should run (new reference). */
json_t *ctl_serving_heartbeat(ctl *c, ctl_node *n, const json_t *reported);
/* Serves /api/v1/{blobs,models,deployments,replicas}; false when the route is not one of them. */
bool ctl_serving_api(ctl *c, sc_hreq *req, sc_hmethod m, char **seg, int nseg, int *status);
void ctl_serving_model_download(ctl *c, sc_hreq *req, const char *sha, int *status);
/* Whether replica rid is one node_id runs (and not stopping). */
bool ctl_serving_replica_on(ctl *c, const char *rid, const char *node_id);
/* Builds the gateway's routing table (caller frees); returns its length. */
int ctl_serving_routes(ctl *c, sc_gw_replica **out);

/* control.c */
void ctl_push_routes(ctl *c);

/* metrics.c */
extern const double ctl_hist_bounds[CTL_HIST_BUCKETS];
void ctl_metrics_observe(int64_t *hist, double *sum, double seconds);
void ctl_metrics_reply(ctl *c, sc_hreq *req);

#endif
