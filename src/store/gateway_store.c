/*
 * gateway_store.c — SQL for the gateway's tables: tenants, api_keys (hashes only), usage
 * (one row per request that reached an engine; request_id is the primary key, so a record can
 * never be counted twice).
 */
#include <jansson.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "store/gateway_store.h"

static int db_err(sqlite3 *db, sc_err *e, const char *what) {
  return sc_err_set(e, SC_EIO, "store_error", "store: %s: %s", what, sqlite3_errmsg(db));
}

static sqlite3_stmt *prep(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) return NULL;
  return st;
}

static void col_text(sqlite3_stmt *st, int col, char *dst, size_t cap) {
  const unsigned char *t = sqlite3_column_text(st, col);
  sc_strlcpy(dst, t ? (const char *)t : "", cap);
}

static int step_write(sqlite3 *db, sqlite3_stmt *st, const char *what, sc_err *e) {
  int r = sqlite3_step(st);
  if (r == SQLITE_DONE) return 0;
  if ((r & 0xff) == SQLITE_CONSTRAINT && sqlite3_extended_errcode(db) == SQLITE_CONSTRAINT_UNIQUE)
    return sc_err_set(e, SC_EEXIST, "already_exists", "%s already exists", what);
  if ((r & 0xff) == SQLITE_CONSTRAINT && sqlite3_extended_errcode(db) == SQLITE_CONSTRAINT_PRIMARYKEY)
    return sc_err_set(e, SC_EEXIST, "already_exists", "%s already exists", what);
  return db_err(db, e, what);
}

/* ---- tenants ---- */

int sc_gws_tenant_add(sc_store *s, const sc_tenant *t, int64_t *id, sc_err *e) {
  sqlite3 *db = sc_store_db(s);
  sqlite3_stmt *st = prep(db, "INSERT INTO tenants(name, home_region, created_at) VALUES(?,?,?)");
  if (!st) return db_err(db, e, "tenant");
  sqlite3_bind_text(st, 1, t->name, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, t->home_region, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 3, t->created_at);
  char what[96];
  snprintf(what, sizeof what, "tenant '%s'", t->name);
  int rc = step_write(db, st, what, e);
  sqlite3_finalize(st);
  if (!rc && id) *id = sqlite3_last_insert_rowid(db);
  return rc;
}

static void row_tenant(sqlite3_stmt *st, sc_tenant *t) {
  memset(t, 0, sizeof *t);
  t->id = sqlite3_column_int64(st, 0);
  col_text(st, 1, t->name, sizeof t->name);
  col_text(st, 2, t->home_region, sizeof t->home_region);
  t->created_at = sqlite3_column_int64(st, 3);
}

int sc_gws_tenant_find(sc_store *s, const char *name, sc_tenant *out) {
  sqlite3_stmt *st = prep(sc_store_db(s), "SELECT id, name, home_region, created_at FROM tenants WHERE name=?");
  if (!st) return SC_EIO;
  sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
  int rc = SC_ENOENT;
  if (sqlite3_step(st) == SQLITE_ROW) {
    row_tenant(st, out);
    rc = 0;
  }
  sqlite3_finalize(st);
  return rc;
}

int sc_gws_tenant_list(sc_store *s, sc_tenant **out, int *n, sc_err *e) {
  sqlite3 *db = sc_store_db(s);
  sqlite3_stmt *st = prep(db, "SELECT id, name, home_region, created_at FROM tenants ORDER BY name");
  if (!st) return db_err(db, e, "tenants");
  int cap = 16, k = 0;
  sc_tenant *v = sc_xmalloc(sizeof *v * (size_t)cap);
  while (sqlite3_step(st) == SQLITE_ROW) {
    if (k == cap) v = sc_xrealloc(v, sizeof *v * (size_t)(cap *= 2));
    row_tenant(st, &v[k++]);
  }
  sqlite3_finalize(st);
  *out = v;
  *n = k;
  return 0;
}

/* ---- keys ---- */

int sc_gws_key_add(sc_store *s, const sc_api_key *k, sc_err *e) {
  sqlite3 *db = sc_store_db(s);
  sqlite3_stmt *st =
      prep(db, "INSERT INTO api_keys(id, tenant_id, hash, rpm, tpm, region, revoked, created_at) VALUES(?,?,?,?,?,?,0,?)");
  if (!st) return db_err(db, e, "api key");
  sqlite3_bind_text(st, 1, k->id, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, k->tenant_id);
  sqlite3_bind_blob(st, 3, k->hash, 32, SQLITE_STATIC);
  sqlite3_bind_int64(st, 4, k->rpm);
  sqlite3_bind_int64(st, 5, k->tpm);
  sqlite3_bind_text(st, 6, k->region, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 7, k->created_at);
  int rc = step_write(db, st, "api key", e);
  sqlite3_finalize(st);
  return rc;
}

int sc_gws_key_list(sc_store *s, sc_api_key **out, int *n, sc_err *e) {
  sqlite3 *db = sc_store_db(s);
  sqlite3_stmt *st = prep(db,
                          "SELECT k.id, k.tenant_id, t.name, k.hash, k.rpm, k.tpm, k.region, k.revoked, k.created_at, t.home_region "
                          "FROM api_keys k JOIN tenants t ON t.id = k.tenant_id ORDER BY k.created_at, k.id");
  if (!st) return db_err(db, e, "api keys");
  int cap = 16, c = 0;
  sc_api_key *v = sc_xmalloc(sizeof *v * (size_t)cap);
  while (sqlite3_step(st) == SQLITE_ROW) {
    if (c == cap) v = sc_xrealloc(v, sizeof *v * (size_t)(cap *= 2));
    sc_api_key *k = &v[c++];
    memset(k, 0, sizeof *k);
    col_text(st, 0, k->id, sizeof k->id);
    k->tenant_id = sqlite3_column_int64(st, 1);
    col_text(st, 2, k->tenant, sizeof k->tenant);
    if (sqlite3_column_bytes(st, 3) == 32) memcpy(k->hash, sqlite3_column_blob(st, 3), 32);
    k->rpm = sqlite3_column_int64(st, 4);
    k->tpm = sqlite3_column_int64(st, 5);
    col_text(st, 6, k->region, sizeof k->region);
    k->revoked = sqlite3_column_int(st, 7) != 0;
    k->created_at = sqlite3_column_int64(st, 8);
    col_text(st, 9, k->tenant_region, sizeof k->tenant_region);
  }
  sqlite3_finalize(st);
  *out = v;
  *n = c;
  return 0;
}

int sc_gws_key_revoke(sc_store *s, const char *id, sc_err *e) {
  sqlite3 *db = sc_store_db(s);
  sqlite3_stmt *st = prep(db, "UPDATE api_keys SET revoked=1 WHERE id=?");
  if (!st) return db_err(db, e, "api key");
  sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
  int rc = step_write(db, st, "api key", e);
  sqlite3_finalize(st);
  if (!rc && sqlite3_changes(db) == 0) rc = sc_err_set(e, SC_ENOENT, "not_found", "no API key '%s' (see 'suanchi keys')", id);
  return rc;
}

/* ---- usage ---- */

/* The usage writer: statements prepared once, used for every batch. */
struct sc_gws_writer {
  sqlite3 *db;
  sqlite3_stmt *begin, *ins, *commit, *rollback;
};

int sc_gws_writer_open(sc_store *s, sc_gws_writer **out, sc_err *e) {
  sc_gws_writer *w = sc_xcalloc(1, sizeof *w);
  w->db = sc_store_db(s);
  w->begin = prep(w->db, "BEGIN IMMEDIATE");
  w->ins = prep(w->db,
                "INSERT INTO usage(request_id, ts, tenant, key_id, deployment, model, replica, node_id, owner,"
                " region, chip, prompt_tokens, completion_tokens, ttft_ms, duration_ms, status)"
                " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
  w->commit = prep(w->db, "COMMIT");
  w->rollback = prep(w->db, "ROLLBACK");
  if (!w->begin || !w->ins || !w->commit || !w->rollback) {
    int rc = db_err(w->db, e, "usage writer");
    sc_gws_writer_close(w);
    return rc;
  }
  *out = w;
  return 0;
}

void sc_gws_writer_close(sc_gws_writer *w) {
  if (!w) return;
  sqlite3_finalize(w->begin);
  sqlite3_finalize(w->ins);
  sqlite3_finalize(w->commit);
  sqlite3_finalize(w->rollback);
  free(w);
}

static int run1(sqlite3_stmt *st) {
  int r = sqlite3_step(st);
  sqlite3_reset(st);
  return r == SQLITE_DONE ? 0 : -1;
}

int sc_gws_writer_insert(sc_gws_writer *w, const sc_usage_rec *r, int n, int *done, sc_err *e) {
  sqlite3 *db = w->db;
  sqlite3_stmt *st = w->ins;
  *done = 0;
  if (run1(w->begin)) return db_err(db, e, "usage begin");
  int rc = 0;
  for (int i = 0; i < n; i++) {
    const sc_usage_rec *u = &r[i];
    sqlite3_bind_text(st, 1, u->request_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, u->ts);
    sqlite3_bind_text(st, 3, u->tenant, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, u->key_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, u->deployment, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, u->model, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, u->replica, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, u->node_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 9, u->owner, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 10, u->region, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 11, u->chip, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 12, u->prompt_tokens);
    sqlite3_bind_int64(st, 13, u->completion_tokens);
    sqlite3_bind_double(st, 14, u->ttft_ms);
    sqlite3_bind_double(st, 15, u->duration_ms);
    sqlite3_bind_text(st, 16, u->status, -1, SQLITE_STATIC);
    int r2 = sqlite3_step(st);
    sqlite3_reset(st);
    if (r2 == SQLITE_DONE) (*done)++;
    else if ((r2 & 0xff) != SQLITE_CONSTRAINT) {
      rc = db_err(db, e, "usage insert");
      break;
    } else
      sc_err_set(e, SC_EEXIST, "duplicate_usage", "usage record %s already stored", u->request_id);
  }
  sqlite3_clear_bindings(st);
  if (!rc && run1(w->commit)) rc = db_err(db, e, "usage commit");
  if (rc) {
    run1(w->rollback);
    *done = 0;
  }
  return rc;
}

int sc_gws_usage_insert(sc_store *s, const sc_usage_rec *r, int n, int *done, sc_err *e) {
  sc_gws_writer *w;
  int rc = sc_gws_writer_open(s, &w, e);
  if (rc) return rc;
  rc = sc_gws_writer_insert(w, r, n, done, e);
  sc_gws_writer_close(w);
  return rc;
}

int sc_gws_usage_query(sc_store *s, const char *by, const char *tenant, int64_t since_ms, int64_t until_ms,
                       json_t **out, sc_err *e) {
  static const struct {
    const char *by, *expr;
  } groups[] = {{"tenant", "tenant"},
                {"model", "model"},
                {"day", "strftime('%Y-%m-%d', ts / 1000, 'unixepoch')"},
                {"region", "region"},
                {"chip", "chip"},
                {"owner", "owner"},
                {"key", "key_id"},
                {"status", "status"}};
  const char *expr = NULL;
  for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++)
    if (strcmp(groups[i].by, by) == 0) expr = groups[i].expr;
  if (!expr)
    return sc_err_set(e, SC_EINVAL, "invalid_request",
                      "cannot group usage by '%s' (expected tenant, model, day, region, chip, owner, key or status)", by);
  char sql[768];
  snprintf(sql, sizeof sql,
           "SELECT %s AS g, COUNT(*), SUM(prompt_tokens), SUM(completion_tokens), SUM(status <> 'ok') FROM usage "
           "WHERE (?1 IS NULL OR tenant = ?1) AND (?2 = 0 OR ts >= ?2) AND (?3 = 0 OR ts < ?3) GROUP BY g ORDER BY g",
           expr);
  sqlite3 *db = sc_store_db(s);
  sqlite3_stmt *st = prep(db, sql);
  if (!st) return db_err(db, e, "usage query");
  if (tenant) sqlite3_bind_text(st, 1, tenant, -1, SQLITE_STATIC);
  else sqlite3_bind_null(st, 1);
  sqlite3_bind_int64(st, 2, since_ms);
  sqlite3_bind_int64(st, 3, until_ms);
  json_t *arr = json_array();
  int r;
  while ((r = sqlite3_step(st)) == SQLITE_ROW) {
    const unsigned char *g = sqlite3_column_text(st, 0);
    int64_t p = sqlite3_column_int64(st, 2), c = sqlite3_column_int64(st, 3);
    json_array_append_new(arr, json_pack("{s:s,s:I,s:I,s:I,s:I,s:I}", "group", g ? (const char *)g : "", "requests",
                                         (json_int_t)sqlite3_column_int64(st, 1), "prompt_tokens", (json_int_t)p,
                                         "completion_tokens", (json_int_t)c, "total_tokens", (json_int_t)(p + c),
                                         "failed", (json_int_t)sqlite3_column_int64(st, 4)));
  }
  sqlite3_finalize(st);
  if (r != SQLITE_DONE) {
    json_decref(arr);
    return db_err(db, e, "usage query");
  }
  *out = arr;
  return 0;
}
