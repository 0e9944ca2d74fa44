/*
 * store.h — the control plane's durable state in SQLite (WAL mode, versioned migrations).
 *
 * The store holds regions, owners, join tokens, nodes and their devices, and small settings.
 * Liveness (heartbeats) is not written per heartbeat: the control plane keeps it in memory and
 * calls sc_store_touch_nodes periodically and sc_store_set_node_state on state changes.
 *
 * All functions run on the caller's thread; one sc_store must not be used by two threads at
 * once. Errors: SC_EEXIST (unique name taken), SC_ENOENT, SC_EIO (SQLite failure, e says why).
 */
#ifndef SC_STORE_STORE_H
#define SC_STORE_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"

#define SC_STORE_SCHEMA_VERSION 3

typedef struct sc_store sc_store;

typedef struct sc_region {
  int64_t id;
  char name[64];
  double lat, lon;
  bool has_location;
  int64_t created_at;
} sc_region;

typedef struct sc_owner {
  int64_t id;
  char name[64];
  char kind[8];     /* "self" or "pool" */
  int share_bp;     /* pool owner's revenue share in basis points (7000 = 70%) */
  int64_t created_at;
} sc_owner;

typedef struct sc_join_token {
  char id[32];
  uint8_t hash[32];
  int64_t owner_id;
  int64_t region_id; /* 0 = any region */
  int64_t created_at, expires_at;
  int64_t max_uses, uses;
  bool revoked;
} sc_join_token;

typedef struct sc_store_device {
  int index;
  char vendor[32];
  char chip[64];
  char uuid[96];
  int64_t memory_mib;
  char driver[16];
  char health[16];
} sc_store_device;

typedef struct sc_store_node {
  char id[32];
  char name[128];
  int64_t region_id, owner_id;
  char token_id[32];
  uint8_t cred_hash[32];
  char admin_state[16]; /* active | cordoned | draining */
  char state[16];       /* ready | down */
  char hostname[128];
  char version[32];
  int64_t created_at, last_heartbeat;
  int ndevices;
  sc_store_device *devices; /* owned by the caller after load: free with sc_store_nodes_free */
} sc_store_node;

/* Opens (creating if needed) DIR/suanchi.db and migrates it to SC_STORE_SCHEMA_VERSION.
 * A database from a newer version is refused. */
int sc_store_open(const char *path, sc_store **out, sc_err *e);
void sc_store_close(sc_store *s);
/* The underlying connection, for the store's sibling files (e.g. src/store/gateway_store.c) that
 * own their tables' SQL. Same threading rule as the store itself. */
struct sqlite3;
struct sqlite3 *sc_store_db(sc_store *s);
int sc_store_schema_version(sc_store *s);

/* Settings (key → text). get returns SC_ENOENT when absent; buf gets the NUL-terminated value. */
int sc_store_get_setting(sc_store *s, const char *key, char *buf, size_t cap);
int sc_store_set_setting(sc_store *s, const char *key, const char *value, sc_err *e);

int sc_store_add_region(sc_store *s, const sc_region *r, int64_t *id, sc_err *e);
int sc_store_find_region(sc_store *s, const char *name, sc_region *out);
int sc_store_get_region(sc_store *s, int64_t id, sc_region *out);
/* Lists all regions ordered by name into a malloc'd array the caller frees. */
int sc_store_list_regions(sc_store *s, sc_region **out, int *n, sc_err *e);

int sc_store_add_owner(sc_store *s, const sc_owner *o, int64_t *id, sc_err *e);
int sc_store_find_owner(sc_store *s, const char *name, sc_owner *out);
int sc_store_get_owner(sc_store *s, int64_t id, sc_owner *out);
int sc_store_list_owners(sc_store *s, sc_owner **out, int *n, sc_err *e);

int sc_store_add_token(sc_store *s, const sc_join_token *t, sc_err *e);
int sc_store_get_token(sc_store *s, const char *id, sc_join_token *out);
int sc_store_list_tokens(sc_store *s, sc_join_token **out, int *n, sc_err *e);
int sc_store_revoke_token(sc_store *s, const char *id, sc_err *e);

/* Registers a node: consumes one use of its join token and inserts the node and its devices in
 * one transaction. SC_ESTATE if the token has no uses left (checked again inside the transaction). */
int sc_store_register_node(sc_store *s, const sc_store_node *n, sc_err *e);
int sc_store_load_nodes(sc_store *s, sc_store_node **out, int *n, sc_err *e);
void sc_store_nodes_free(sc_store_node *nodes, int n);
int sc_store_set_node_state(sc_store *s, const char *id, const char *state, const char *admin_state, sc_err *e);
/* Replaces a node's device rows (when the agent reports a different device set). */
int sc_store_replace_devices(sc_store *s, const char *node_id, const sc_store_device *d, int n, sc_err *e);
/* Writes last_heartbeat for many nodes in one transaction. */
int sc_store_touch_nodes(sc_store *s, const char *const *ids, const int64_t *times, int n, sc_err *e);
/* Deletes a node and its devices (its credential stops working). */
int sc_store_delete_node(sc_store *s, const char *id, sc_err *e);

#endif
