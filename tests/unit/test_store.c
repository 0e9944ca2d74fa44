/* Unit tests for src/store: migrations, uniqueness, token use accounting, node persistence. */
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"

static char dir[256];
static char db[300];

static void setup(void) {
  snprintf(dir, sizeof dir, "/tmp/sc-store-XXXXXX");
  cr_assert_not_null(mkdtemp(dir));
  snprintf(db, sizeof db, "%s/suanchi.db", dir);
}

static void teardown(void) {
  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  cr_assert_eq(system(cmd), 0);
}

TestSuite(store, .init = setup, .fini = teardown);

static sc_store *open_store(void) {
  sc_store *s = NULL;
  sc_err e;
  cr_assert_eq(sc_store_open(db, &s, &e), 0, "%s", e.msg);
  return s;
}

Test(store, migrates_to_current_version_with_self_owner) {
  sc_store *s = open_store();
  cr_assert_eq(sc_store_schema_version(s), SC_STORE_SCHEMA_VERSION);
  sc_owner o;
  cr_assert_eq(sc_store_find_owner(s, "self", &o), 0);
  cr_assert_str_eq(o.kind, "self");
  sc_store_close(s);
  /* reopening does not migrate twice */
  s = open_store();
  sc_owner *os;
  int n;
  sc_err e;
  cr_assert_eq(sc_store_list_owners(s, &os, &n, &e), 0);
  cr_assert_eq(n, 1);
  free(os);
  sc_store_close(s);
}

Test(store, refuses_newer_schema) {
  sc_store *s = open_store();
  sc_store_close(s);
  sqlite3 *raw;
  cr_assert_eq(sqlite3_open(db, &raw), SQLITE_OK);
  cr_assert_eq(sqlite3_exec(raw, "PRAGMA user_version=99", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(raw);
  sc_err e;
  cr_assert_eq(sc_store_open(db, &s, &e), SC_ESTATE);
  cr_assert(strstr(e.msg, "newer than this binary"), "%s", e.msg);
}

Test(store, migrates_usage_of_schema_2_into_rows_and_dimensions) {
  sc_store *s = open_store();
  sc_store_close(s);
  /* put the database back at schema 2: the usage table as it was, with three records */
  sqlite3 *raw;
  cr_assert_eq(sqlite3_open(db, &raw), SQLITE_OK);
  const char *v2 =
      "DROP VIEW usage; DROP TABLE usage_rows; DROP TABLE usage_dims;"
      "CREATE TABLE usage(request_id TEXT PRIMARY KEY, ts INTEGER NOT NULL, tenant TEXT NOT NULL, key_id TEXT NOT NULL,"
      "  deployment TEXT NOT NULL, model TEXT NOT NULL, replica TEXT NOT NULL, node_id TEXT NOT NULL, owner TEXT NOT NULL,"
      "  region TEXT NOT NULL, chip TEXT NOT NULL, prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL,"
      "  ttft_ms REAL NOT NULL, duration_ms REAL NOT NULL, status TEXT NOT NULL);"
      "CREATE INDEX usage_tenant_ts ON usage(tenant, ts);"
      "INSERT INTO usage VALUES('r1', 1000, 'acme', 'k1', 'd', 'm', 'rep1', 'n1', 'self', 'hainan', 'H100', 10, 5, 1.5,"
      "  9.0, 'ok'), ('r2', 2000, 'acme', 'k1', 'd', 'm', 'rep1', 'n1', 'self', 'hainan', 'H100', 20, 7, 2.5, 8.0,"
      "  'failed'), ('r3', 3000, 'beta', 'k2', 'd', 'm', 'rep2', 'n2', 'pool', 'gansu', '910B', 30, 9, 3.5, 7.0, 'ok');"
      "PRAGMA user_version=2;";
  char *msg = NULL;
  cr_assert_eq(sqlite3_exec(raw, v2, NULL, NULL, &msg), SQLITE_OK, "%s", msg ? msg : "");
  sqlite3_close(raw);
  s = open_store();
  cr_assert_eq(sc_store_schema_version(s), SC_STORE_SCHEMA_VERSION);
  sqlite3_stmt *st;
  cr_assert_eq(sqlite3_prepare_v2(sc_store_db(s),
                                  "SELECT (SELECT COUNT(*) FROM usage_dims), group_concat(request_id || ':' || ts || ':' ||"
                                  " tenant || ':' || key_id || ':' || replica || ':' || node_id || ':' || owner || ':' ||"
                                  " region || ':' || chip || ':' || prompt_tokens || ':' || completion_tokens || ':' ||"
                                  " ttft_ms || ':' || duration_ms || ':' || status, ' ') FROM"
                                  " (SELECT * FROM usage ORDER BY request_id)",
                                  -1, &st, NULL),
               SQLITE_OK);
  cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
  cr_assert_eq(sqlite3_column_int(st, 0), 2, "two distinct sets of dimensions");
  cr_assert_str_eq((const char *)sqlite3_column_text(st, 1),
                   "r1:1000:acme:k1:rep1:n1:self:hainan:H100:10:5:1.5:9.0:ok "
                   "r2:2000:acme:k1:rep1:n1:self:hainan:H100:20:7:2.5:8.0:failed "
                   "r3:3000:beta:k2:rep2:n2:pool:gansu:910B:30:9:3.5:7.0:ok");
  sqlite3_finalize(st);
  sc_store_close(s);
}

Test(store, unique_names) {
  sc_store *s = open_store();
  sc_err e;
  sc_region r = {.name = "hainan", .created_at = 1};
  cr_assert_eq(sc_store_add_region(s, &r, NULL, &e), 0);
  cr_assert_eq(sc_store_add_region(s, &r, NULL, &e), SC_EEXIST);
  cr_assert(strstr(e.msg, "region 'hainan' already exists"), "%s", e.msg);
  sc_owner o = {.name = "self", .kind = "self"};
  cr_assert_eq(sc_store_add_owner(s, &o, NULL, &e), SC_EEXIST);
  sc_store_close(s);
}

static sc_store_node make_node(const char *id, const char *name, const char *token, int64_t region, int64_t owner,
                               sc_store_device *d, int nd) {
  sc_store_node n;
  memset(&n, 0, sizeof n);
  snprintf(n.id, sizeof n.id, "%s", id);
  snprintf(n.name, sizeof n.name, "%s", name);
  snprintf(n.token_id, sizeof n.token_id, "%s", token);
  snprintf(n.admin_state, sizeof n.admin_state, "active");
  snprintf(n.state, sizeof n.state, "ready");
  n.region_id = region;
  n.owner_id = owner;
  n.devices = d;
  n.ndevices = nd;
  n.created_at = 5;
  return n;
}

Test(store, register_consumes_token_uses_atomically) {
  sc_store *s = open_store();
  sc_err e;
  sc_region r = {.name = "suqian", .created_at = 1};
  int64_t rid;
  cr_assert_eq(sc_store_add_region(s, &r, &rid, &e), 0);
  sc_join_token t = {.id = "t1", .owner_id = 1, .expires_at = 10, .max_uses = 1};
  cr_assert_eq(sc_store_add_token(s, &t, &e), 0);
  sc_store_device d[2] = {{.index = 0, .vendor = "nvidia", .chip = "H100-SXM-80GB", .uuid = "u0", .memory_mib = 81920,
                           .driver = "sim", .health = "ok"},
                          {.index = 1, .vendor = "nvidia", .chip = "H100-SXM-80GB", .uuid = "u1", .memory_mib = 81920,
                           .driver = "sim", .health = "ok"}};
  sc_store_node n = make_node("n1", "box", "t1", rid, 1, d, 2);
  cr_assert_eq(sc_store_register_node(s, &n, &e), 0, "%s", e.msg);
  sc_store_node n2 = make_node("n2", "box2", "t1", rid, 1, d, 2);
  cr_assert_eq(sc_store_register_node(s, &n2, &e), SC_ESTATE);
  /* a failed registration (duplicate name) leaves the token's use count alone */
  sc_join_token t2 = {.id = "t2", .owner_id = 1, .expires_at = 10, .max_uses = 3};
  cr_assert_eq(sc_store_add_token(s, &t2, &e), 0);
  sc_store_node dup = make_node("n3", "box", "t2", rid, 1, d, 2);
  cr_assert_eq(sc_store_register_node(s, &dup, &e), SC_EEXIST);
  sc_join_token got;
  cr_assert_eq(sc_store_get_token(s, "t2", &got), 0);
  cr_assert_eq(got.uses, 0);
  cr_assert_eq(sc_store_get_token(s, "t1", &got), 0);
  cr_assert_eq(got.uses, 1);

  sc_store_node *all;
  int cnt;
  cr_assert_eq(sc_store_load_nodes(s, &all, &cnt, &e), 0);
  cr_assert_eq(cnt, 1);
  cr_assert_eq(all[0].ndevices, 2);
  cr_assert_str_eq(all[0].devices[1].uuid, "u1");
  sc_store_nodes_free(all, cnt);

  /* state, device replacement, heartbeat flush, delete */
  cr_assert_eq(sc_store_set_node_state(s, "n1", "down", "cordoned", &e), 0);
  cr_assert_eq(sc_store_replace_devices(s, "n1", d, 1, &e), 0);
  const char *ids[] = {"n1"};
  int64_t times[] = {777};
  cr_assert_eq(sc_store_touch_nodes(s, ids, times, 1, &e), 0);
  cr_assert_eq(sc_store_load_nodes(s, &all, &cnt, &e), 0);
  cr_assert_str_eq(all[0].state, "down");
  cr_assert_str_eq(all[0].admin_state, "cordoned");
  cr_assert_eq(all[0].ndevices, 1);
  cr_assert_eq(all[0].last_heartbeat, 777);
  sc_store_nodes_free(all, cnt);
  cr_assert_eq(sc_store_delete_node(s, "n1", &e), 0);
  cr_assert_eq(sc_store_delete_node(s, "n1", &e), SC_ENOENT);
  cr_assert_eq(sc_store_load_nodes(s, &all, &cnt, &e), 0);
  cr_assert_eq(cnt, 0);
  sc_store_nodes_free(all, cnt);
  sc_store_close(s);
}

Test(store, revoke_unknown_token) {
  sc_store *s = open_store();
  sc_err e;
  cr_assert_eq(sc_store_revoke_token(s, "nope", &e), SC_ENOENT);
  cr_assert(strstr(e.msg, "no join token 'nope'"));
  sc_store_close(s);
}
