/* serving_store.c — SQL for models, deployments and replicas (tables created by migration 2). */
#include "store/serving_store.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

static int fail(sc_store *s, sc_err *e, const char *what) {
  return sc_err_set(e, SC_EIO, "store_error", "store: %s: %s", what, sqlite3_errmsg(sc_store_db(s)));
}

static void text(sqlite3_stmt *st, int col, char *dst, size_t cap) {
  const unsigned char *t = sqlite3_column_text(st, col);
  sc_strlcpy(dst, t ? (const char *)t : "", cap);
}

static int finish_write(sc_store *s, sqlite3_stmt *st, const char *what, sc_err *e) {
  int r = sqlite3_step(st);
  int rc = 0;
  if (r != SQLITE_DONE) {
    if (sqlite3_extended_errcode(sc_store_db(s)) == SQLITE_CONSTRAINT_UNIQUE ||
        sqlite3_extended_errcode(sc_store_db(s)) == SQLITE_CONSTRAINT_PRIMARYKEY)
      rc = sc_err_set(e, SC_EEXIST, "already_exists", "%s already exists", what);
    else rc = fail(s, e, what);
  }
  sqlite3_finalize(st);
  return rc;
}

int sc_store_add_model(sc_store *s, const sc_model_row *m, int64_t *id, sc_err *e) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(sc_store_db(s),
                         "INSERT INTO models(name, kind, sha256, size_bytes, engine, weights_bytes, arch, params,"
                         " context, kv_bytes_per_token, created_at) VALUES(?,?,?,?,?,?,?,?,?,?,?)",
                         -1, &st, NULL) != SQLITE_OK)
    return fail(s, e, "add model");
  sqlite3_bind_text(st, 1, m->name, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, m->kind, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, m->sha256, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 4, m->size_bytes);
  sqlite3_bind_text(st, 5, m->engine, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 6, m->weights_bytes);
  sqlite3_bind_text(st, 7, m->arch, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 8, m->params);
  sqlite3_bind_int64(st, 9, m->context);
  sqlite3_bind_int64(st, 10, m->kv_bytes_per_token);
  sqlite3_bind_int64(st, 11, m->created_at);
  char what[96];
  snprintf(what, sizeof what, "model '%s'", m->name);
  int rc = finish_write(s, st, what, e);
  if (!rc && id) *id = sqlite3_last_insert_rowid(sc_store_db(s));
  return rc;
}

int sc_store_list_models(sc_store *s, sc_model_row **out, int *n, sc_err *e) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(sc_store_db(s),
                         "SELECT id, name, kind, sha256, size_bytes, engine, weights_bytes, arch, params, context,"
                         " kv_bytes_per_token, created_at FROM models ORDER BY name",
                         -1, &st, NULL) != SQLITE_OK)
    return fail(s, e, "list models");
  sc_model_row *v = NULL;
  int cnt = 0, cap = 0;
  while (sqlite3_step(st) == SQLITE_ROW) {
    if (cnt == cap) v = sc_xrealloc(v, sizeof *v * (size_t)(cap = cap ? cap * 2 : 16));
    sc_model_row *m = &v[cnt++];
    memset(m, 0, sizeof *m);
    m->id = sqlite3_column_int64(st, 0);
    text(st, 1, m->name, sizeof m->name);
    text(st, 2, m->kind, sizeof m->kind);
    text(st, 3, m->sha256, sizeof m->sha256);
    m->size_bytes = sqlite3_column_int64(st, 4);
    text(st, 5, m->engine, sizeof m->engine);
    m->weights_bytes = sqlite3_column_int64(st, 6);
    text(st, 7, m->arch, sizeof m->arch);
    m->params = sqlite3_column_int64(st, 8);
    m->context = sqlite3_column_int64(st, 9);
    m->kv_bytes_per_token = sqlite3_column_int64(st, 10);
    m->created_at = sqlite3_column_int64(st, 11);
  }
  sqlite3_finalize(st);
  *out = v;
  *n = cnt;
  return 0;
}

int sc_store_add_deployment(sc_store *s, const sc_deployment_row *d, int64_t *id, sc_err *e) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(sc_store_db(s),
                         "INSERT INTO deployments(name, model_id, replicas, chips, regions, slice_mem_mib,"
                         " slice_compute_milli, slo_ttft_ms, slo_tpot_ms, pool_ok, created_at) VALUES(?,?,?,?,?,?,?,?,?,?,?)",
                         -1, &st, NULL) != SQLITE_OK)
    return fail(s, e, "add deployment");
  sqlite3_bind_text(st, 1, d->name, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, d->model_id);
  sqlite3_bind_int(st, 3, d->replicas);
  sqlite3_bind_text(st, 4, d->chips, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 5, d->regions, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 6, d->slice_mem_mib);
  sqlite3_bind_int(st, 7, d->slice_compute_milli);
  sqlite3_bind_int(st, 8, d->slo_ttft_ms);
  sqlite3_bind_int(st, 9, d->slo_tpot_ms);
  sqlite3_bind_int(st, 10, d->pool_ok);
  sqlite3_bind_int64(st, 11, d->created_at);
  char what[96];
  snprintf(what, sizeof what, "deployment '%s'", d->name);
  int rc = finish_write(s, st, what, e);
  if (!rc && id) *id = sqlite3_last_insert_rowid(sc_store_db(s));
  return rc;
}

int sc_store_list_deployments(sc_store *s, sc_deployment_row **out, int *n, sc_err *e) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(sc_store_db(s),
                         "SELECT id, name, model_id, replicas, chips, regions, slice_mem_mib, slice_compute_milli,"
                         " slo_ttft_ms, slo_tpot_ms, pool_ok, created_at FROM deployments ORDER BY name",
                         -1, &st, NULL) != SQLITE_OK)
    return fail(s, e, "list deployments");
  sc_deployment_row *v = NULL;
  int cnt = 0, cap = 0;
  while (sqlite3_step(st) == SQLITE_ROW) {
    if (cnt == cap) v = sc_xrealloc(v, sizeof *v * (size_t)(cap = cap ? cap * 2 : 16));
    sc_deployment_row *d = &v[cnt++];
    memset(d, 0, sizeof *d);
    d->id = sqlite3_column_int64(st, 0);
    text(st, 1, d->name, sizeof d->name);
    d->model_id = sqlite3_column_int64(st, 2);
    d->replicas = sqlite3_column_int(st, 3);
    text(st, 4, d->chips, sizeof d->chips);
    text(st, 5, d->regions, sizeof d->regions);
    d->slice_mem_mib = sqlite3_column_int64(st, 6);
    d->slice_compute_milli = sqlite3_column_int(st, 7);
    d->slo_ttft_ms = sqlite3_column_int(st, 8);
    d->slo_tpot_ms = sqlite3_column_int(st, 9);
    d->pool_ok = sqlite3_column_int(st, 10) != 0;
    d->created_at = sqlite3_column_int64(st, 11);
  }
  sqlite3_finalize(st);
  *out = v;
  *n = cnt;
  return 0;
}

int sc_store_delete_deployment(sc_store *s, int64_t id, sc_err *e) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(sc_store_db(s), "DELETE FROM deployments WHERE id=?", -1, &st, NULL) != SQLITE_OK)
    return fail(s, e, "delete deployment");
  sqlite3_bind_int64(st, 1, id);
  return finish_write(s, st, "deployment", e);
}

int sc_store_put_replica(sc_store *s, const sc_replica_row *r, sc_err *e) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(sc_store_db(s),
                         "INSERT OR REPLACE INTO replicas(id, deployment_id, node_id, devices, gpu_milli, mem_mib, state,"
                         " reason, endpoint, restarts, created_at, updated_at) VALUES(?,?,?,?,?,?,?,?,?,?,?,?)",
                         -1, &st, NULL) != SQLITE_OK)
    return fail(s, e, "put replica");
  sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, r->deployment_id);
  sqlite3_bind_text(st, 3, r->node_id, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 4, r->devices, -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 5, r->gpu_milli);
  sqlite3_bind_int64(st, 6, r->mem_mib);
  sqlite3_bind_text(st, 7, r->state, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 8, r->reason, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 9, r->endpoint, -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 10, r->restarts);
  sqlite3_bind_int64(st, 11, r->created_at);
  sqlite3_bind_int64(st, 12, r->updated_at);
  return finish_write(s, st, "replica", e);
}

int sc_store_list_replicas(sc_store *s, sc_replica_row **out, int *n, sc_err *e) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(sc_store_db(s),
                         "SELECT id, deployment_id, node_id, devices, gpu_milli, mem_mib, state, reason, endpoint,"
                         " restarts, created_at, updated_at FROM replicas ORDER BY created_at, id",
                         -1, &st, NULL) != SQLITE_OK)
    return fail(s, e, "list replicas");
  sc_replica_row *v = NULL;
  int cnt = 0, cap = 0;
  while (sqlite3_step(st) == SQLITE_ROW) {
    if (cnt == cap) v = sc_xrealloc(v, sizeof *v * (size_t)(cap = cap ? cap * 2 : 16));
    sc_replica_row *r = &v[cnt++];
    memset(r, 0, sizeof *r);
    text(st, 0, r->id, sizeof r->id);
    r->deployment_id = sqlite3_column_int64(st, 1);
    text(st, 2, r->node_id, sizeof r->node_id);
    text(st, 3, r->devices, sizeof r->devices);
    r->gpu_milli = sqlite3_column_int(st, 4);
    r->mem_mib = sqlite3_column_int64(st, 5);
    text(st, 6, r->state, sizeof r->state);
    text(st, 7, r->reason, sizeof r->reason);
    text(st, 8, r->endpoint, sizeof r->endpoint);
    r->restarts = sqlite3_column_int(st, 9);
    r->created_at = sqlite3_column_int64(st, 10);
    r->updated_at = sqlite3_column_int64(st, 11);
  }
  sqlite3_finalize(st);
  *out = v;
  *n = cnt;
  return 0;
}

int sc_store_delete_replica(sc_store *s, const char *id, sc_err *e) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(sc_store_db(s), "DELETE FROM replicas WHERE id=?", -1, &st, NULL) != SQLITE_OK)
    return fail(s, e, "delete replica");
  sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
  return finish_write(s, st, "replica", e);
}
