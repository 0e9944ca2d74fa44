/*
 * serving_store.h — persistence of models, deployments and replicas (schema v2).
 * Same threading and error rules as store.h.
 */
#ifndef SC_STORE_SERVING_STORE_H
#define SC_STORE_SERVING_STORE_H

#include <stdint.h>

#include "store/store.h"

typedef struct sc_model_row {
  int64_t id;
  char name[64];
  char kind[16];     /* gguf | external */
  char sha256[65];   /* gguf: content hash of the file */
  int64_t size_bytes;
  char engine[32];   /* external: engine template name */
  int64_t weights_bytes;
  char arch[32];
  int64_t params, context, kv_bytes_per_token;
  int64_t created_at;
} sc_model_row;

typedef struct sc_deployment_row {
  int64_t id;
  char name[64];
  int64_t model_id;
  int replicas;
  char chips[256];   /* '|'-separated allow-list, "" = any */
  char regions[256]; /* '|'-separated allow-list, "" = any */
  int64_t slice_mem_mib;
  int slice_compute_milli; /* 0 = whole devices */
  int slo_ttft_ms, slo_tpot_ms;
  bool pool_ok;
  int64_t created_at;
} sc_deployment_row;

typedef struct sc_replica_row {
  char id[40];
  int64_t deployment_id;
  char node_id[32];
  char devices[64];  /* comma-separated device indexes on the node */
  int gpu_milli;
  int64_t mem_mib;
  char state[16];    /* pending | starting | ready | failed | stopping | stopped */
  char reason[256];
  char endpoint[160];
  int restarts;
  int64_t created_at, updated_at;
} sc_replica_row;

int sc_store_add_model(sc_store *s, const sc_model_row *m, int64_t *id, sc_err *e);
int sc_store_list_models(sc_store *s, sc_model_row **out, int *n, sc_err *e);

int sc_store_add_deployment(sc_store *s, const sc_deployment_row *d, int64_t *id, sc_err *e);
int sc_store_list_deployments(sc_store *s, sc_deployment_row **out, int *n, sc_err *e);
int sc_store_delete_deployment(sc_store *s, int64_t id, sc_err *e); /* and its replicas */

int sc_store_put_replica(sc_store *s, const sc_replica_row *r, sc_err *e); /* insert or replace */
int sc_store_list_replicas(sc_store *s, sc_replica_row **out, int *n, sc_err *e);
int sc_store_delete_replica(sc_store *s, const char *id, sc_err *e);

#endif
