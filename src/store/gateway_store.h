/*
 * gateway_store.h — the gateway's tables in the store (schema v3): tenants, api_keys, usage.
 *
 * The SQL lives here, on the store's connection (sc_store_db). Same threading rule as the
 * store: one sc_store per thread. The gateway opens one on the event loop (admin routes, key
 * loading) and its usage ingester thread another (sc_gws_writer).
 */
#ifndef SC_STORE_GATEWAY_STORE_H
#define SC_STORE_GATEWAY_STORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"
#include "store/store.h"

typedef struct sc_tenant {
  int64_t id;
  char name[64];
  char home_region[64];
  int64_t created_at;
} sc_tenant;

typedef struct sc_api_key {
  char id[32];
  int64_t tenant_id;
  char tenant[64];   /* filled by list */
  char tenant_region[64]; /* the tenant's home region, filled by list */
  uint8_t hash[32];
  int64_t rpm, tpm;  /* 0 = unlimited */
  char region[64];   /* home region of the key ("" = the tenant's) */
  bool revoked;
  int64_t created_at;
} sc_api_key;

typedef struct sc_usage_rec {
  char request_id[40];
  int64_t ts;            /* epoch ms when the request arrived */
  char tenant[64];
  char key_id[32];
  char deployment[64];
  char model[64];
  char replica[40];
  char node_id[32];
  char owner[64];
  char region[64];
  char chip[64];
  int64_t prompt_tokens, completion_tokens;
  double ttft_ms, duration_ms;
  char status[24];       /* ok | error_4xx | error_5xx | failed | client_gone | timeout */
} sc_usage_rec;

int sc_gws_tenant_add(sc_store *s, const sc_tenant *t, int64_t *id, sc_err *e);
int sc_gws_tenant_find(sc_store *s, const char *name, sc_tenant *out);
int sc_gws_tenant_list(sc_store *s, sc_tenant **out, int *n, sc_err *e);

int sc_gws_key_add(sc_store *s, const sc_api_key *k, sc_err *e);
/* All keys (revoked ones too), with their tenant's name, oldest first; caller frees. */
int sc_gws_key_list(sc_store *s, sc_api_key **out, int *n, sc_err *e);
/* SC_ENOENT if no such key. */
int sc_gws_key_revoke(sc_store *s, const char *id, sc_err *e);

/* Inserts n records in one transaction. A request id already present is an error for that
 * record only (it is logged by the caller); the others are committed. Returns the number
 * inserted in *done. */
int sc_gws_usage_insert(sc_store *s, const sc_usage_rec *r, int n, int *done, sc_err *e);

/* A usage writer: sc_gws_usage_insert with its statements prepared once, for a connection that
 * writes batch after batch. */
typedef struct sc_gws_writer sc_gws_writer;
int sc_gws_writer_open(sc_store *s, sc_gws_writer **out, sc_err *e);
int sc_gws_writer_insert(sc_gws_writer *w, const sc_usage_rec *r, int n, int *done, sc_err *e);
void sc_gws_writer_close(sc_gws_writer *w);

/* Aggregates usage. by: "tenant", "model", "day", "region", "chip", "owner", "key" or "status";
 * tenant: NULL for all; since_ms/until_ms: 0 for unbounded. Returns a JSON array of
 * {"group","requests","prompt_tokens","completion_tokens","total_tokens","failed"} (new reference). */
int sc_gws_usage_query(sc_store *s, const char *by, const char *tenant, int64_t since_ms, int64_t until_ms,
                       json_t **out, sc_err *e);

#endif
