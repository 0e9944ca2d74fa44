/*
 * store.c — SQLite persistence for the control plane.
 *
 * Migrations: `migrations[i]` upgrades schema version i to i+1; PRAGMA user_version holds the
 * version. Each migration runs in its own transaction, so a crash leaves the old or the new
 * schema, never a mix. WAL mode with synchronous=NORMAL: a committed transaction survives a
 * process kill (kill -9); an OS crash may lose the last few, never corrupt.
 *
 * Invariant: every write function either commits all of its effects or none (one transaction).
 */
#include "store/store.h"
#include "base/util.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sc_store {
  sqlite3 *db;
};

static const char *const migrations[] = {
    /* 0 -> 1: the pool */
    "CREATE TABLE settings(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE regions(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, lat REAL, lon REAL,"
    "  created_at INTEGER NOT NULL);"
    "CREATE TABLE owners(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
    "  kind TEXT NOT NULL CHECK(kind IN ('self','pool')),"
    "  share_bp INTEGER NOT NULL CHECK(share_bp BETWEEN 0 AND 10000), created_at INTEGER NOT NULL);"
    "INSERT INTO owners(name, kind, share_bp, created_at) VALUES('self', 'self', 0, CAST(strftime('%s','now') AS INTEGER) * 1000);"
    "CREATE TABLE join_tokens(id TEXT PRIMARY KEY, hash BLOB NOT NULL, owner_id INTEGER NOT NULL REFERENCES owners(id),"
    "  region_id INTEGER REFERENCES regions(id), created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,"
    "  max_uses INTEGER NOT NULL, uses INTEGER NOT NULL DEFAULT 0, revoked INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE nodes(id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, region_id INTEGER NOT NULL REFERENCES regions(id),"
    "  owner_id INTEGER NOT NULL REFERENCES owners(id), token_id TEXT, cred_hash BLOB NOT NULL,"
    "  admin_state TEXT NOT NULL DEFAULT 'active', state TEXT NOT NULL DEFAULT 'ready',"
    "  hostname TEXT NOT NULL DEFAULT '', version TEXT NOT NULL DEFAULT '',"
    "  created_at INTEGER NOT NULL, last_heartbeat INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE devices(node_id TEXT NOT NULL REFERENCES nodes(id) ON DELETE CASCADE, idx INTEGER NOT NULL,"
    "  vendor TEXT NOT NULL, chip TEXT NOT NULL, uuid TEXT NOT NULL, memory_mib INTEGER NOT NULL,"
    "  driver TEXT NOT NULL, health TEXT NOT NULL, PRIMARY KEY(node_id, idx));",
    /* 1 -> 2: serving (models, deployments, replicas) and the gateway (tenants, keys, usage) */
    "CREATE TABLE models(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
    "  kind TEXT NOT NULL CHECK(kind IN ('gguf','external')), sha256 TEXT NOT NULL DEFAULT '',"
    "  size_bytes INTEGER NOT NULL DEFAULT 0, engine TEXT NOT NULL DEFAULT '', weights_bytes INTEGER NOT NULL DEFAULT 0,"
    "  arch TEXT NOT NULL DEFAULT '', params INTEGER NOT NULL DEFAULT 0, context INTEGER NOT NULL DEFAULT 0,"
    "  kv_bytes_per_token INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL);"
    "CREATE TABLE deployments(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
    "  model_id INTEGER NOT NULL REFERENCES models(id), replicas INTEGER NOT NULL,"
    "  chips TEXT NOT NULL DEFAULT '', regions TEXT NOT NULL DEFAULT '', slice_mem_mib INTEGER NOT NULL DEFAULT 0,"
    "  slice_compute_milli INTEGER NOT NULL DEFAULT 0, slo_ttft_ms INTEGER NOT NULL DEFAULT 0,"
    "  slo_tpot_ms INTEGER NOT NULL DEFAULT 0, pool_ok INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL);"
    "CREATE TABLE replicas(id TEXT PRIMARY KEY, deployment_id INTEGER NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,"
    "  node_id TEXT NOT NULL, devices TEXT NOT NULL DEFAULT '', gpu_milli INTEGER NOT NULL DEFAULT 0,"
    "  mem_mib INTEGER NOT NULL DEFAULT 0, state TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '',"
    "  endpoint TEXT NOT NULL DEFAULT '', restarts INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL);"
    "CREATE TABLE tenants(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, home_region TEXT NOT NULL DEFAULT '',"
    "  created_at INTEGER NOT NULL);"
    "CREATE TABLE api_keys(id TEXT PRIMARY KEY, tenant_id INTEGER NOT NULL REFERENCES tenants(id), hash BLOB NOT NULL,"
    "  rpm INTEGER NOT NULL DEFAULT 0, tpm INTEGER NOT NULL DEFAULT 0, region TEXT NOT NULL DEFAULT '',"
    "  revoked INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL);"
    "CREATE TABLE usage(request_id TEXT PRIMARY KEY, ts INTEGER NOT NULL, tenant TEXT NOT NULL, key_id TEXT NOT NULL,"
    "  deployment TEXT NOT NULL, model TEXT NOT NULL, replica TEXT NOT NULL, node_id TEXT NOT NULL, owner TEXT NOT NULL,"
    "  region TEXT NOT NULL, chip TEXT NOT NULL, prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL,"
    "  ttft_ms REAL NOT NULL, duration_ms REAL NOT NULL, status TEXT NOT NULL);"
    "CREATE INDEX usage_tenant_ts ON usage(tenant, ts);",
    /* 2 -> 3: usage rows reference a row of their dimensions (tenant ... chip, shared by many
     * requests) instead of repeating ~150 bytes of text: 2x cheaper to insert. `usage` stays as a
     * view with the old columns; CROSS JOIN keeps usage_rows the outer loop (aggregates over every
     * tenant scan the rows once instead of going through the index per dims row). */
    "CREATE TABLE usage_dims(id INTEGER PRIMARY KEY, tenant TEXT NOT NULL, key_id TEXT NOT NULL,"
    "  deployment TEXT NOT NULL, model TEXT NOT NULL, replica TEXT NOT NULL, node_id TEXT NOT NULL,"
    "  owner TEXT NOT NULL, region TEXT NOT NULL, chip TEXT NOT NULL,"
    "  UNIQUE(tenant, key_id, deployment, model, replica, node_id, owner, region, chip));"
    "CREATE TABLE usage_rows(request_id TEXT PRIMARY KEY, ts INTEGER NOT NULL, dim INTEGER NOT NULL,"
    "  prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL, ttft_ms REAL NOT NULL,"
    "  duration_ms REAL NOT NULL, status TEXT NOT NULL);"
    "INSERT INTO usage_dims(tenant, key_id, deployment, model, replica, node_id, owner, region, chip)"
    "  SELECT DISTINCT tenant, key_id, deployment, model, replica, node_id, owner, region, chip FROM usage;"
    "INSERT INTO usage_rows SELECT u.request_id, u.ts, d.id, u.prompt_tokens, u.completion_tokens, u.ttft_ms,"
    "  u.duration_ms, u.status FROM usage u JOIN usage_dims d ON d.tenant = u.tenant AND d.key_id = u.key_id"
    "  AND d.deployment = u.deployment AND d.model = u.model AND d.replica = u.replica AND d.node_id = u.node_id"
    "  AND d.owner = u.owner AND d.region = u.region AND d.chip = u.chip;"
    "DROP TABLE usage;"
    "CREATE INDEX usage_rows_ts ON usage_rows(ts);"
    "CREATE VIEW usage AS SELECT r.request_id, r.ts, d.tenant, d.key_id, d.deployment, d.model, d.replica,"
    "  d.node_id, d.owner, d.region, d.chip, r.prompt_tokens, r.completion_tokens, r.ttft_ms, r.duration_ms,"
    "  r.status FROM usage_rows r CROSS JOIN usage_dims d ON d.id = r.dim;",
};
enum { NMIGRATIONS = sizeof migrations / sizeof migrations[0] };
_Static_assert(NMIGRATIONS == SC_STORE_SCHEMA_VERSION, "one migration per schema version");

static int db_err(sc_store *s, sc_err *e, const char *what) {
  return sc_err_set(e, SC_EIO, "store_error", "store: %s: %s", what, sqlite3_errmsg(s->db));
}

static int exec(sc_store *s, const char *sql, sc_err *e) {
  char *msg = NULL;
  if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
    sc_err_set(e, SC_EIO, "store_error", "store: %s", msg ? msg : "exec failed");
    sqlite3_free(msg);
    return SC_EIO;
  }
  return 0;
}

static sqlite3_stmt *prep(sc_store *s, const char *sql) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) return NULL;
  return st;
}

sqlite3 *sc_store_db(sc_store *s) { return s->db; }

int sc_store_schema_version(sc_store *s) {
  sqlite3_stmt *st = prep(s, "PRAGMA user_version");
  int v = -1;
  if (st && sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  return v;
}

static int migrate(sc_store *s, sc_err *e) {
  int v = sc_store_schema_version(s);
  if (v < 0) return db_err(s, e, "reading schema version");
  if (v > SC_STORE_SCHEMA_VERSION)
    return sc_err_set(e, SC_ESTATE, "store_too_new",
                      "store: database schema version %d is newer than this binary's %d; upgrade suanchi", v,
                      SC_STORE_SCHEMA_VERSION);
  for (; v < SC_STORE_SCHEMA_VERSION; v++) {
    char bump[64];
    snprintf(bump, sizeof bump, "PRAGMA user_version=%d;", v + 1);
    int rc = exec(s, "BEGIN IMMEDIATE", e);
    if (!rc) rc = exec(s, migrations[v], e);
    if (!rc) rc = exec(s, bump, e);
    if (!rc) rc = exec(s, "COMMIT", e);
    if (rc) {
      exec(s, "ROLLBACK", NULL);
      return rc;
    }
  }
  return 0;
}

int sc_store_open(const char *path, sc_store **out, sc_err *e) {
  sc_store *s = sc_xcalloc(1, sizeof *s);
  int rc = 0;
  if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL) !=
      SQLITE_OK) {
    rc = sc_err_set(e, SC_EIO, "store_error", "store: cannot open %s: %s", path,
                    s->db ? sqlite3_errmsg(s->db) : "out of memory");
    goto out;
  }
  sqlite3_busy_timeout(s->db, 5000);
  if ((rc = exec(s, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;", e))) goto out;
  if ((rc = migrate(s, e))) goto out;
  *out = s;
  s = NULL;
out:
  sc_store_close(s);
  return rc;
}

void sc_store_close(sc_store *s) {
  if (!s) return;
  sqlite3_close_v2(s->db);
  free(s);
}

static void col_text(sqlite3_stmt *st, int col, char *dst, size_t cap) {
  const unsigned char *t = sqlite3_column_text(st, col);
  sc_strlcpy(dst, t ? (const char *)t : "", cap);
}

/* Runs a one-statement write; maps UNIQUE violations to SC_EEXIST with `what` in the message. */
static int step_write(sc_store *s, sqlite3_stmt *st, const char *what, sc_err *e) {
  int r = sqlite3_step(st);
  if (r == SQLITE_DONE) return 0;
  if ((r & 0xff) == SQLITE_CONSTRAINT && sqlite3_extended_errcode(s->db) == SQLITE_CONSTRAINT_UNIQUE)
    return sc_err_set(e, SC_EEXIST, "already_exists", "%s already exists", what);
  return db_err(s, e, what);
}

int sc_store_get_setting(sc_store *s, const char *key, char *buf, size_t cap) {
  sqlite3_stmt *st = prep(s, "SELECT value FROM settings WHERE key=?");
  int rc = SC_ENOENT;
  if (!st) return SC_EIO;
  sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
  if (sqlite3_step(st) == SQLITE_ROW) {
    col_text(st, 0, buf, cap);
    rc = 0;
  }
  sqlite3_finalize(st);
  return rc;
}

int sc_store_set_setting(sc_store *s, const char *key, const char *value, sc_err *e) {
  sqlite3_stmt *st = prep(s, "INSERT INTO settings(key,value) VALUES(?,?) ON CONFLICT(key) DO UPDATE SET value=excluded.value");
  if (!st) return db_err(s, e, "setting");
  sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
  int rc = step_write(s, st, "setting", e);
  sqlite3_finalize(st);
  return rc;
}

/* ---- regions ---- */

static void row_region(sqlite3_stmt *st, sc_region *r) {
  memset(r, 0, sizeof *r);
  r->id = sqlite3_column_int64(st, 0);
  col_text(st, 1, r->name, sizeof r->name);
  r->has_location = sqlite3_column_type(st, 2) != SQLITE_NULL;
  r->lat = sqlite3_column_double(st, 2);
  r->lon = sqlite3_column_double(st, 3);
  r->created_at = sqlite3_column_int64(st, 4);
}

#define REGION_COLS "id, name, lat, lon, created_at"

int sc_store_add_region(sc_store *s, const sc_region *r, int64_t *id, sc_err *e) {
  sqlite3_stmt *st = prep(s, "INSERT INTO regions(name, lat, lon, created_at) VALUES(?,?,?,?)");
  if (!st) return db_err(s, e, "add region");
  sqlite3_bind_text(st, 1, r->name, -1, SQLITE_STATIC);
  if (r->has_location) {
    sqlite3_bind_double(st, 2, r->lat);
    sqlite3_bind_double(st, 3, r->lon);
  }
  sqlite3_bind_int64(st, 4, r->created_at);
  char what[96];
  snprintf(what, sizeof what, "region '%s'", r->name);
  int rc = step_write(s, st, what, e);
  if (!rc && id) *id = sqlite3_last_insert_rowid(s->db);
  sqlite3_finalize(st);
  return rc;
}

static int get_one(sc_store *s, const char *sql, const char *text, int64_t num, void (*row)(sqlite3_stmt *, void *),
                   void *out) {
  sqlite3_stmt *st = prep(s, sql);
  if (!st) return SC_EIO;
  if (text) sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
  else sqlite3_bind_int64(st, 1, num);
  int rc = SC_ENOENT;
  if (sqlite3_step(st) == SQLITE_ROW) {
    row(st, out);
    rc = 0;
  }
  sqlite3_finalize(st);
  return rc;
}

static void row_region_v(sqlite3_stmt *st, void *out) { row_region(st, out); }

int sc_store_find_region(sc_store *s, const char *name, sc_region *out) {
  return get_one(s, "SELECT " REGION_COLS " FROM regions WHERE name=?", name, 0, row_region_v, out);
}

int sc_store_get_region(sc_store *s, int64_t id, sc_region *out) {
  return get_one(s, "SELECT " REGION_COLS " FROM regions WHERE id=?", NULL, id, row_region_v, out);
}

/* Collects all rows of sql into a malloc'd array of elements of size `size`. */
static int list_rows(sc_store *s, const char *sql, size_t size, void (*row)(sqlite3_stmt *, void *), void **out,
                     int *n, sc_err *e) {
  sqlite3_stmt *st = prep(s, sql);
  if (!st) return db_err(s, e, "list");
  char *arr = NULL;
  int cnt = 0, cap = 0, r;
  while ((r = sqlite3_step(st)) == SQLITE_ROW) {
    if (cnt == cap) {
      cap = cap ? cap * 2 : 16;
      arr = sc_xrealloc(arr, (size_t)cap * size);
    }
    row(st, arr + (size_t)cnt * size);
    cnt++;
  }
  sqlite3_finalize(st);
  if (r != SQLITE_DONE) {
    free(arr);
    return db_err(s, e, "list");
  }
  *out = arr;
  *n = cnt;
  return 0;
}

int sc_store_list_regions(sc_store *s, sc_region **out, int *n, sc_err *e) {
  return list_rows(s, "SELECT " REGION_COLS " FROM regions ORDER BY name", sizeof(sc_region), row_region_v,
                   (void **)out, n, e);
}

/* ---- owners ---- */

#define OWNER_COLS "id, name, kind, share_bp, created_at"

static void row_owner_v(sqlite3_stmt *st, void *out) {
  sc_owner *o = out;
  memset(o, 0, sizeof *o);
  o->id = sqlite3_column_int64(st, 0);
  col_text(st, 1, o->name, sizeof o->name);
  col_text(st, 2, o->kind, sizeof o->kind);
  o->share_bp = sqlite3_column_int(st, 3);
  o->created_at = sqlite3_column_int64(st, 4);
}

int sc_store_add_owner(sc_store *s, const sc_owner *o, int64_t *id, sc_err *e) {
  sqlite3_stmt *st = prep(s, "INSERT INTO owners(name, kind, share_bp, created_at) VALUES(?,?,?,?)");
  if (!st) return db_err(s, e, "add owner");
  sqlite3_bind_text(st, 1, o->name, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, o->kind, -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 3, o->share_bp);
  sqlite3_bind_int64(st, 4, o->created_at);
  char what[96];
  snprintf(what, sizeof what, "owner '%s'", o->name);
  int rc = step_write(s, st, what, e);
  if (!rc && id) *id = sqlite3_last_insert_rowid(s->db);
  sqlite3_finalize(st);
  return rc;
}

int sc_store_find_owner(sc_store *s, const char *name, sc_owner *out) {
  return get_one(s, "SELECT " OWNER_COLS " FROM owners WHERE name=?", name, 0, row_owner_v, out);
}

int sc_store_get_owner(sc_store *s, int64_t id, sc_owner *out) {
  return get_one(s, "SELECT " OWNER_COLS " FROM owners WHERE id=?", NULL, id, row_owner_v, out);
}

int sc_store_list_owners(sc_store *s, sc_owner **out, int *n, sc_err *e) {
  return list_rows(s, "SELECT " OWNER_COLS " FROM owners ORDER BY name", sizeof(sc_owner), row_owner_v,
                   (void **)out, n, e);
}

/* ---- join tokens ---- */

#define TOKEN_COLS "id, hash, owner_id, region_id, created_at, expires_at, max_uses, uses, revoked"

static void row_token_v(sqlite3_stmt *st, void *out) {
  sc_join_token *t = out;
  memset(t, 0, sizeof *t);
  col_text(st, 0, t->id, sizeof t->id);
  if (sqlite3_column_bytes(st, 1) == (int)sizeof t->hash) memcpy(t->hash, sqlite3_column_blob(st, 1), sizeof t->hash);
  t->owner_id = sqlite3_column_int64(st, 2);
  t->region_id = sqlite3_column_int64(st, 3);
  t->created_at = sqlite3_column_int64(st, 4);
  t->expires_at = sqlite3_column_int64(st, 5);
  t->max_uses = sqlite3_column_int64(st, 6);
  t->uses = sqlite3_column_int64(st, 7);
  t->revoked = sqlite3_column_int(st, 8) != 0;
}

int sc_store_add_token(sc_store *s, const sc_join_token *t, sc_err *e) {
  sqlite3_stmt *st = prep(s, "INSERT INTO join_tokens(" TOKEN_COLS ") VALUES(?,?,?,?,?,?,?,0,0)");
  if (!st) return db_err(s, e, "add token");
  sqlite3_bind_text(st, 1, t->id, -1, SQLITE_STATIC);
  sqlite3_bind_blob(st, 2, t->hash, sizeof t->hash, SQLITE_STATIC);
  sqlite3_bind_int64(st, 3, t->owner_id);
  if (t->region_id) sqlite3_bind_int64(st, 4, t->region_id);
  sqlite3_bind_int64(st, 5, t->created_at);
  sqlite3_bind_int64(st, 6, t->expires_at);
  sqlite3_bind_int64(st, 7, t->max_uses);
  int rc = step_write(s, st, "token", e);
  sqlite3_finalize(st);
  return rc;
}

int sc_store_get_token(sc_store *s, const char *id, sc_join_token *out) {
  return get_one(s, "SELECT " TOKEN_COLS " FROM join_tokens WHERE id=?", id, 0, row_token_v, out);
}

int sc_store_list_tokens(sc_store *s, sc_join_token **out, int *n, sc_err *e) {
  return list_rows(s, "SELECT " TOKEN_COLS " FROM join_tokens ORDER BY created_at, id", sizeof(sc_join_token),
                   row_token_v, (void **)out, n, e);
}

int sc_store_revoke_token(sc_store *s, const char *id, sc_err *e) {
  sqlite3_stmt *st = prep(s, "UPDATE join_tokens SET revoked=1 WHERE id=?");
  if (!st) return db_err(s, e, "revoke token");
  sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
  int rc = step_write(s, st, "token", e);
  if (!rc && sqlite3_changes(s->db) == 0) rc = sc_err_set(e, SC_ENOENT, "not_found", "no join token '%s'", id);
  sqlite3_finalize(st);
  return rc;
}

/* ---- nodes ---- */

static int insert_devices(sc_store *s, const char *node_id, const sc_store_device *d, int n, sc_err *e) {
  sqlite3_stmt *st =
      prep(s, "INSERT INTO devices(node_id, idx, vendor, chip, uuid, memory_mib, driver, health) VALUES(?,?,?,?,?,?,?,?)");
  if (!st) return db_err(s, e, "devices");
  int rc = 0;
  for (int i = 0; i < n && !rc; i++) {
    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, node_id, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, d[i].index);
    sqlite3_bind_text(st, 3, d[i].vendor, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, d[i].chip, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, d[i].uuid, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, d[i].memory_mib);
    sqlite3_bind_text(st, 7, d[i].driver, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, d[i].health, -1, SQLITE_STATIC);
    rc = step_write(s, st, "device index", e);
  }
  sqlite3_finalize(st);
  return rc;
}

int sc_store_register_node(sc_store *s, const sc_store_node *n, sc_err *e) {
  int rc = exec(s, "BEGIN IMMEDIATE", e);
  if (rc) return rc;
  sqlite3_stmt *st = NULL;
  if (n->token_id[0]) {
    st = prep(s, "UPDATE join_tokens SET uses=uses+1 WHERE id=? AND uses<max_uses AND revoked=0");
    if (!st) {
      rc = db_err(s, e, "register");
      goto out;
    }
    sqlite3_bind_text(st, 1, n->token_id, -1, SQLITE_STATIC);
    if ((rc = step_write(s, st, "token", e))) goto out;
    if (sqlite3_changes(s->db) != 1) {
      rc = sc_err_set(e, SC_ESTATE, "token_used_up", "join token has no uses left");
      goto out;
    }
    sqlite3_finalize(st);
  }
  st = prep(s, "INSERT INTO nodes(id, name, region_id, owner_id, token_id, cred_hash, admin_state, state, hostname,"
               " version, created_at, last_heartbeat) VALUES(?,?,?,?,?,?,?,?,?,?,?,?)");
  if (!st) {
    rc = db_err(s, e, "register");
    goto out;
  }
  sqlite3_bind_text(st, 1, n->id, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, n->name, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 3, n->region_id);
  sqlite3_bind_int64(st, 4, n->owner_id);
  sqlite3_bind_text(st, 5, n->token_id, -1, SQLITE_STATIC);
  sqlite3_bind_blob(st, 6, n->cred_hash, sizeof n->cred_hash, SQLITE_STATIC);
  sqlite3_bind_text(st, 7, n->admin_state, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 8, n->state, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 9, n->hostname, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 10, n->version, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 11, n->created_at);
  sqlite3_bind_int64(st, 12, n->last_heartbeat);
  char what[160];
  snprintf(what, sizeof what, "node name '%s'", n->name);
  if ((rc = step_write(s, st, what, e))) goto out;
  rc = insert_devices(s, n->id, n->devices, n->ndevices, e);
out:
  sqlite3_finalize(st);
  if (rc) exec(s, "ROLLBACK", NULL);
  else rc = exec(s, "COMMIT", e);
  return rc;
}

int sc_store_load_nodes(sc_store *s, sc_store_node **out, int *n, sc_err *e) {
  sc_store_node *nodes = NULL;
  int cnt = 0, cap = 0, r, rc = 0;
  sqlite3_stmt *st = prep(s, "SELECT id, name, region_id, owner_id, IFNULL(token_id,''), cred_hash, admin_state, state,"
                             " hostname, version, created_at, last_heartbeat FROM nodes ORDER BY name");
  sqlite3_stmt *dv = prep(s, "SELECT idx, vendor, chip, uuid, memory_mib, driver, health FROM devices WHERE node_id=? ORDER BY idx");
  if (!st || !dv) {
    rc = db_err(s, e, "load nodes");
    goto out;
  }
  while ((r = sqlite3_step(st)) == SQLITE_ROW) {
    if (cnt == cap) {
      cap = cap ? cap * 2 : 64;
      nodes = sc_xrealloc(nodes, (size_t)cap * sizeof *nodes);
    }
    sc_store_node *nd = &nodes[cnt++];
    memset(nd, 0, sizeof *nd);
    col_text(st, 0, nd->id, sizeof nd->id);
    col_text(st, 1, nd->name, sizeof nd->name);
    nd->region_id = sqlite3_column_int64(st, 2);
    nd->owner_id = sqlite3_column_int64(st, 3);
    col_text(st, 4, nd->token_id, sizeof nd->token_id);
    if (sqlite3_column_bytes(st, 5) == (int)sizeof nd->cred_hash)
      memcpy(nd->cred_hash, sqlite3_column_blob(st, 5), sizeof nd->cred_hash);
    col_text(st, 6, nd->admin_state, sizeof nd->admin_state);
    col_text(st, 7, nd->state, sizeof nd->state);
    col_text(st, 8, nd->hostname, sizeof nd->hostname);
    col_text(st, 9, nd->version, sizeof nd->version);
    nd->created_at = sqlite3_column_int64(st, 10);
    nd->last_heartbeat = sqlite3_column_int64(st, 11);
    sqlite3_reset(dv);
    sqlite3_bind_text(dv, 1, nd->id, -1, SQLITE_TRANSIENT);
    int dcap = 0;
    while (sqlite3_step(dv) == SQLITE_ROW) {
      if (nd->ndevices == dcap) {
        dcap = dcap ? dcap * 2 : 8;
        nd->devices = sc_xrealloc(nd->devices, (size_t)dcap * sizeof *nd->devices);
      }
      sc_store_device *d = &nd->devices[nd->ndevices++];
      memset(d, 0, sizeof *d);
      d->index = sqlite3_column_int(dv, 0);
      col_text(dv, 1, d->vendor, sizeof d->vendor);
      col_text(dv, 2, d->chip, sizeof d->chip);
      col_text(dv, 3, d->uuid, sizeof d->uuid);
      d->memory_mib = sqlite3_column_int64(dv, 4);
      col_text(dv, 5, d->driver, sizeof d->driver);
      col_text(dv, 6, d->health, sizeof d->health);
    }
  }
  if (r != SQLITE_DONE) rc = db_err(s, e, "load nodes");
out:
  sqlite3_finalize(st);
  sqlite3_finalize(dv);
  if (rc) {
    sc_store_nodes_free(nodes, cnt);
    return rc;
  }
  *out = nodes;
  *n = cnt;
  return 0;
}

void sc_store_nodes_free(sc_store_node *nodes, int n) {
  for (int i = 0; i < n && nodes; i++) free(nodes[i].devices);
  free(nodes);
}

int sc_store_set_node_state(sc_store *s, const char *id, const char *state, const char *admin_state, sc_err *e) {
  sqlite3_stmt *st = prep(s, "UPDATE nodes SET state=?, admin_state=? WHERE id=?");
  if (!st) return db_err(s, e, "node state");
  sqlite3_bind_text(st, 1, state, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, admin_state, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, id, -1, SQLITE_STATIC);
  int rc = step_write(s, st, "node", e);
  if (!rc && sqlite3_changes(s->db) == 0) rc = sc_err_set(e, SC_ENOENT, "not_found", "no node '%s'", id);
  sqlite3_finalize(st);
  return rc;
}

int sc_store_replace_devices(sc_store *s, const char *node_id, const sc_store_device *d, int n, sc_err *e) {
  int rc = exec(s, "BEGIN IMMEDIATE", e);
  if (rc) return rc;
  sqlite3_stmt *st = prep(s, "DELETE FROM devices WHERE node_id=?");
  if (!st) rc = db_err(s, e, "devices");
  else {
    sqlite3_bind_text(st, 1, node_id, -1, SQLITE_STATIC);
    rc = step_write(s, st, "devices", e);
    sqlite3_finalize(st);
  }
  if (!rc) rc = insert_devices(s, node_id, d, n, e);
  if (rc) exec(s, "ROLLBACK", NULL);
  else rc = exec(s, "COMMIT", e);
  return rc;
}

int sc_store_touch_nodes(sc_store *s, const char *const *ids, const int64_t *times, int n, sc_err *e) {
  if (n == 0) return 0;
  int rc = exec(s, "BEGIN IMMEDIATE", e);
  if (rc) return rc;
  sqlite3_stmt *st = prep(s, "UPDATE nodes SET last_heartbeat=? WHERE id=?");
  if (!st) rc = db_err(s, e, "touch nodes");
  for (int i = 0; i < n && !rc; i++) {
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, times[i]);
    sqlite3_bind_text(st, 2, ids[i], -1, SQLITE_STATIC);
    rc = step_write(s, st, "touch nodes", e);
  }
  sqlite3_finalize(st);
  if (rc) exec(s, "ROLLBACK", NULL);
  else rc = exec(s, "COMMIT", e);
  return rc;
}

int sc_store_delete_node(sc_store *s, const char *id, sc_err *e) {
  sqlite3_stmt *st = prep(s, "DELETE FROM nodes WHERE id=?");
  if (!st) return db_err(s, e, "delete node");
  sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
  int rc = step_write(s, st, "node", e);
  if (!rc && sqlite3_changes(s->db) == 0) rc = sc_err_set(e, SC_ENOENT, "not_found", "no node '%s'", id);
  sqlite3_finalize(st);
  return rc;
}

