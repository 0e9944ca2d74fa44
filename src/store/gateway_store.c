/*
 * gateway_store.c — SQL for the gateway's tables: tenants, api_keys (hashes only), usage
 * (one usage_rows row per request that reached an engine, pointing at a usage_dims row; request_id
 * is the primary key, so a record can never be counted twice; the `usage` view joins them).
 */
#include <jansson.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
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

/* The usage writer: statements prepared once, used for every batch.
 *
 * A record's text dimensions (tenant, key, deployment, model, replica, node, owner, region, chip)
 * are stored once in usage_dims; its usage_rows row holds the dims row's id. The writer keeps the
 * ids it has seen in a small hash table (cleared when full and after a rolled-back transaction,
 * which may have undone the dims rows it added). Rows go in ROWS_PER_INSERT at a time: one
 * statement per group costs about 40 % less per row than one per row. A group that hits a request
 * id already stored (a journal replayed after a crash) is rolled back by SQLite as a whole and
 * redone row by row, so every other row of it is still stored. */
#define ROWS_PER_INSERT 32
#define ROW_COLS 8
#define DIM_SLOTS 512 /* power of two */
#define DIM_MAX 384   /* entries before the table is cleared */

typedef struct dim_entry {
  uint64_t hash;
  int64_t id; /* 0: empty slot */
  sc_usage_rec key; /* only the dims fields are set */
} dim_entry;

struct sc_gws_writer {
  sqlite3 *db;
  sqlite3_stmt *begin, *commit, *rollback, *ins1, *insn, *dim_add, *dim_find;
  dim_entry *dims;
  int ndims;
};

#define DIM_FIELDS(X) X(tenant) X(key_id) X(deployment) X(model) X(replica) X(node_id) X(owner) X(region) X(chip)

static uint64_t dim_hash(const sc_usage_rec *u) {
  uint64_t h = 1469598103934665603ull;
#define X(f)                                                      \
  for (const unsigned char *c = (const unsigned char *)u->f; ; c++) { \
    h = (h ^ *c) * 1099511628211ull;                              \
    if (!*c) break;                                               \
  }
  DIM_FIELDS(X)
#undef X
  return h;
}

static bool dim_equal(const sc_usage_rec *a, const sc_usage_rec *b) {
#define X(f) if (strcmp(a->f, b->f)) return false;
  DIM_FIELDS(X)
#undef X
  return true;
}

static void dim_copy(sc_usage_rec *dst, const sc_usage_rec *src) {
#define X(f) memcpy(dst->f, src->f, sizeof dst->f);
  DIM_FIELDS(X)
#undef X
}

static void dims_clear(sc_gws_writer *w) {
  memset(w->dims, 0, DIM_SLOTS * sizeof *w->dims);
  w->ndims = 0;
}

/* The usage_dims id of u's dimensions, adding the row if it is new; 0 if the store failed. */
static int64_t dim_id(sc_gws_writer *w, const sc_usage_rec *u) {
  uint64_t h = dim_hash(u);
  size_t i = (size_t)h & (DIM_SLOTS - 1);
  for (; w->dims[i].id; i = (i + 1) & (DIM_SLOTS - 1))
    if (w->dims[i].hash == h && dim_equal(&w->dims[i].key, u)) return w->dims[i].id;
  int64_t id = 0;
  sqlite3_stmt *sts[] = {w->dim_add, w->dim_find};
  for (int k = 0; k < 2; k++) {
    int c = 1;
#define X(f) sqlite3_bind_text(sts[k], c++, u->f, -1, SQLITE_STATIC);
    DIM_FIELDS(X)
#undef X
    int r = sqlite3_step(sts[k]);
    if (k == 1 && r == SQLITE_ROW) id = sqlite3_column_int64(sts[k], 0);
    sqlite3_reset(sts[k]);
    sqlite3_clear_bindings(sts[k]);
    if (k == 0 && r != SQLITE_DONE) return 0;
  }
  if (!id) return 0;
  if (w->ndims >= DIM_MAX) {
    dims_clear(w);
    i = (size_t)h & (DIM_SLOTS - 1);
  }
  w->dims[i].hash = h;
  w->dims[i].id = id;
  dim_copy(&w->dims[i].key, u);
  w->ndims++;
  return id;
}

int sc_gws_writer_open(sc_store *s, sc_gws_writer **out, sc_err *e) {
  sc_gws_writer *w = sc_xcalloc(1, sizeof *w);
  w->db = sc_store_db(s);
  w->dims = sc_xcalloc(DIM_SLOTS, sizeof *w->dims);
  char sql[64 + ROWS_PER_INSERT * 20];
  size_t n = (size_t)snprintf(sql, sizeof sql, "INSERT INTO usage_rows VALUES");
  for (int i = 0; i < ROWS_PER_INSERT; i++) n += (size_t)snprintf(sql + n, sizeof sql - n, "%s(?,?,?,?,?,?,?,?)", i ? "," : "");
  w->begin = prep(w->db, "BEGIN IMMEDIATE");
  w->commit = prep(w->db, "COMMIT");
  w->rollback = prep(w->db, "ROLLBACK");
  w->insn = prep(w->db, sql);
  w->ins1 = prep(w->db, "INSERT INTO usage_rows VALUES(?,?,?,?,?,?,?,?)");
  w->dim_add = prep(w->db, "INSERT OR IGNORE INTO usage_dims(tenant, key_id, deployment, model, replica, node_id,"
                           " owner, region, chip) VALUES(?,?,?,?,?,?,?,?,?)");
  w->dim_find = prep(w->db, "SELECT id FROM usage_dims WHERE tenant = ? AND key_id = ? AND deployment = ? AND"
                            " model = ? AND replica = ? AND node_id = ? AND owner = ? AND region = ? AND chip = ?");
  if (!w->begin || !w->commit || !w->rollback || !w->insn || !w->ins1 || !w->dim_add || !w->dim_find) {
    int rc = db_err(w->db, e, "usage writer");
    sc_gws_writer_close(w);
    return rc;
  }
  *out = w;
  return 0;
}

void sc_gws_writer_close(sc_gws_writer *w) {
  if (!w) return;
  sqlite3_stmt *sts[] = {w->begin, w->commit, w->rollback, w->insn, w->ins1, w->dim_add, w->dim_find};
  for (size_t i = 0; i < sizeof sts / sizeof sts[0]; i++) sqlite3_finalize(sts[i]);
  free(w->dims);
  free(w);
}

static int run1(sqlite3_stmt *st) {
  int r = sqlite3_step(st);
  sqlite3_reset(st);
  return r == SQLITE_DONE ? 0 : -1;
}

static void bind_row(sqlite3_stmt *st, int col, const sc_usage_rec *u, int64_t dim) {
  sqlite3_bind_text(st, col + 1, u->request_id, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, col + 2, u->ts);
  sqlite3_bind_int64(st, col + 3, dim);
  sqlite3_bind_int64(st, col + 4, u->prompt_tokens);
  sqlite3_bind_int64(st, col + 5, u->completion_tokens);
  sqlite3_bind_double(st, col + 6, u->ttft_ms);
  sqlite3_bind_double(st, col + 7, u->duration_ms);
  sqlite3_bind_text(st, col + 8, u->status, -1, SQLITE_STATIC);
}

/* Steps st; 1 if it inserted, 0 on a duplicate request id, -1 if the store failed. */
static int step_row(sqlite3_stmt *st) {
  int r = sqlite3_step(st);
  sqlite3_reset(st);
  if (r == SQLITE_DONE) return 1;
  return (r & 0xff) == SQLITE_CONSTRAINT ? 0 : -1;
}

/* Rows r[0..n) with dims ids dim[0..n), one statement each; counts duplicates into e. */
static int insert_rows_one_by_one(sc_gws_writer *w, const sc_usage_rec *r, const int64_t *dim, int n, int *done,
                                  sc_err *e) {
  for (int i = 0; i < n; i++) {
    bind_row(w->ins1, 0, &r[i], dim[i]);
    int k = step_row(w->ins1);
    if (k < 0) return -1;
    if (k) (*done)++;
    else sc_err_set(e, SC_EEXIST, "duplicate_usage", "usage record %s already stored", r[i].request_id);
  }
  return 0;
}

int sc_gws_writer_insert(sc_gws_writer *w, const sc_usage_rec *r, int n, int *done, sc_err *e) {
  sqlite3 *db = w->db;
  *done = 0;
  if (run1(w->begin)) return db_err(db, e, "usage begin");
  int rc = 0;
  for (int i = 0; i < n && !rc; i += ROWS_PER_INSERT) {
    int m = n - i < ROWS_PER_INSERT ? n - i : ROWS_PER_INSERT;
    int64_t dim[ROWS_PER_INSERT];
    for (int j = 0; j < m && !rc; j++)
      if (!(dim[j] = dim_id(w, &r[i + j]))) rc = db_err(db, e, "usage dimensions");
    if (rc) break;
    int k = 0;
    if (m == ROWS_PER_INSERT) {
      for (int j = 0; j < m; j++) bind_row(w->insn, j * ROW_COLS, &r[i + j], dim[j]);
      if ((k = step_row(w->insn)) > 0) *done += m;
    }
    if (k < 0 || (k == 0 && insert_rows_one_by_one(w, r + i, dim, m, done, e)))
      rc = db_err(db, e, "usage insert");
  }
  sqlite3_clear_bindings(w->insn);
  sqlite3_clear_bindings(w->ins1);
  if (!rc && run1(w->commit)) rc = db_err(db, e, "usage commit");
  if (rc) {
    run1(w->rollback);
    dims_clear(w);
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
