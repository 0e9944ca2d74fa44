/* Unit tests for src/gateway: URL parsing, routing (readiness, region preference, prefix affinity,
 * load bound, retries skipping tried replicas, cool-down), key buckets, the usage table (no double
 * counting) and the group-commit writer. */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../src/gateway/gateway.c"

static char dir[256];
static char db[300];

static void setup(void) {
  snprintf(dir, sizeof dir, "/tmp/sc-gw-XXXXXX");
  cr_assert_not_null(mkdtemp(dir));
  snprintf(db, sizeof db, "%s/suanchi.db", dir);
}

static void teardown(void) {
  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  cr_assert_eq(system(cmd), 0);
}

TestSuite(gateway, .init = setup, .fini = teardown);

Test(gateway, parses_engine_urls) {
  char host[128];
  int port;
  cr_assert_eq(gw_parse_url("http://127.0.0.1:8000", host, sizeof host, &port), 0);
  cr_assert_str_eq(host, "127.0.0.1");
  cr_assert_eq(port, 8000);
  cr_assert_eq(gw_parse_url("http://[::1]:9/", host, sizeof host, &port), 0);
  cr_assert_str_eq(host, "::1");
  cr_assert_neq(gw_parse_url("https://x:1", host, sizeof host, &port), 0);
  cr_assert_neq(gw_parse_url("http://x", host, sizeof host, &port), 0);
  cr_assert_neq(gw_parse_url("http://x:1/v1", host, sizeof host, &port), 0);
  cr_assert_neq(gw_parse_url("http://x:0", host, sizeof host, &port), 0);
}

static sc_gw_replica rep(const char *id, const char *model, const char *region, bool ready) {
  sc_gw_replica r;
  memset(&r, 0, sizeof r);
  snprintf(r.id, sizeof r.id, "%s", id);
  snprintf(r.model, sizeof r.model, "%s", model);
  snprintf(r.deployment, sizeof r.deployment, "%s", model);
  snprintf(r.region, sizeof r.region, "%s", region);
  snprintf(r.url, sizeof r.url, "http://127.0.0.1:%d", 1000 + (int)strlen(id) + id[strlen(id) - 1]);
  r.ready = ready;
  return r;
}

static gw_call call_for(const char *model, const char *region, uint64_t prefix) {
  gw_call c;
  memset(&c, 0, sizeof c);
  snprintf(c.model, sizeof c.model, "%s", model);
  snprintf(c.pref_region, sizeof c.pref_region, "%s", region);
  c.prefix_hash = prefix;
  return c;
}

Test(gateway, routes_to_ready_replicas_of_the_model_in_the_preferred_region) {
  sc_gateway g;
  memset(&g, 0, sizeof g);
  sc_gw_replica rs[] = {rep("a1", "m", "eu", true), rep("a2", "m", "us", true), rep("a3", "m", "eu", false),
                        rep("b1", "other", "eu", true)};
  sc_gateway_set_replicas(&g, rs, 4);
  cr_assert_eq(g.nreps, 4);
  for (uint64_t p = 0; p < 50; p++) {
    gw_call c = call_for("m", "eu", p);
    gw_rep *r = pick(&g, &c);
    cr_assert_str_eq(r->r.id, "a1"); /* a3 is not ready, b1 serves another model */
    c = call_for("m", "us", p);
    cr_assert_str_eq(pick(&g, &c)->r.id, "a2");
  }
  gw_call c = call_for("m", "ap", 7); /* no replica in ap: any ready one */
  gw_rep *r = pick(&g, &c);
  cr_assert(strcmp(r->r.id, "a1") == 0 || strcmp(r->r.id, "a2") == 0);
  c = call_for("nope", "", 1);
  cr_assert_null(pick(&g, &c));
  /* the replica leaves the table (or stops being ready): no new request from that moment */
  sc_gw_replica rs2[] = {rep("a1", "m", "eu", false), rep("a2", "m", "us", true)};
  sc_gateway_set_replicas(&g, rs2, 2);
  c = call_for("m", "eu", 3);
  cr_assert_str_eq(pick(&g, &c)->r.id, "a2");
  free(g.ctl_reps);
  free(g.reps);
}

Test(gateway, prefix_affinity_is_stable_and_spreads_and_yields_to_load) {
  sc_gateway g;
  memset(&g, 0, sizeof g);
  sc_gw_replica rs[] = {rep("r1", "m", "", true), rep("r2", "m", "", true), rep("r3", "m", "", true)};
  sc_gateway_set_replicas(&g, rs, 3);
  int hits[3] = {0};
  for (uint64_t p = 0; p < 300; p++) {
    gw_call c = call_for("m", "", mix64(p));
    gw_rep *a = pick(&g, &c), *b = pick(&g, &c);
    cr_assert_eq(a, b, "same prefix, same replica");
    hits[a - g.reps]++;
  }
  for (int i = 0; i < 3; i++) cr_assert_gt(hits[i], 50, "replica %d got %d of 300", i, hits[i]);
  /* the affine replica is far more loaded than the others: the request goes elsewhere */
  gw_call c = call_for("m", "", mix64(42));
  gw_rep *first = pick(&g, &c);
  first->outstanding = 100000;
  cr_assert_neq(pick(&g, &c), first);
  /* the load estimate survives a table refresh */
  char id[40];
  snprintf(id, sizeof id, "%s", first->r.id);
  sc_gateway_set_replicas(&g, rs, 3);
  cr_assert_eq(rep_find(&g, id)->outstanding, 100000);
  free(g.ctl_reps);
  free(g.reps);
}

Test(gateway, retries_skip_tried_and_cooling_replicas) {
  sc_gateway g;
  memset(&g, 0, sizeof g);
  sc_gw_replica rs[] = {rep("x1", "m", "", true), rep("x2", "m", "", true)};
  sc_gateway_set_replicas(&g, rs, 2);
  gw_call c = call_for("m", "", 99);
  gw_rep *a = pick(&g, &c);
  snprintf(c.tried[c.tries++], sizeof c.tried[0], "%s", a->r.id);
  gw_rep *b = pick(&g, &c);
  cr_assert_neq(a, b);
  snprintf(c.tried[c.tries++], sizeof c.tried[0], "%s", b->r.id);
  cr_assert_null(pick(&g, &c));
  /* a replica whose connection failed is skipped while another can serve */
  gw_call d = call_for("m", "", 99);
  a->cool_until_ms = sc_mono_ms() + 60000;
  cr_assert_eq(pick(&g, &d), b);
  b->cool_until_ms = sc_mono_ms() + 60000; /* all cooling: still served */
  cr_assert_not_null(pick(&g, &d));
  free(g.ctl_reps);
  free(g.reps);
}

Test(gateway, rate_buckets_refill_over_time) {
  gw_key k;
  memset(&k, 0, sizeof k);
  k.rpm = 60;
  k.tpm = 600;
  k.rq_bucket = 0;
  k.tk_bucket = -300;
  k.last_refill_ms = 1000;
  key_refill(&k, 2000); /* one second: one request, ten tokens */
  cr_assert_float_eq(k.rq_bucket, 1.0, 1e-9);
  cr_assert_float_eq(k.tk_bucket, -290.0, 1e-9);
  key_refill(&k, 1000000);
  cr_assert_float_eq(k.rq_bucket, 60.0, 1e-9, "capped at rpm");
  cr_assert_float_eq(k.tk_bucket, 600.0, 1e-9, "capped at tpm");
}

static sc_usage_rec rec(int i, const char *tenant) {
  sc_usage_rec u;
  memset(&u, 0, sizeof u);
  snprintf(u.request_id, sizeof u.request_id, "req-%d", i);
  u.ts = 1795600000000LL + i;
  snprintf(u.tenant, sizeof u.tenant, "%s", tenant);
  snprintf(u.model, sizeof u.model, "m%d", i % 2);
  snprintf(u.status, sizeof u.status, "%s", i % 5 ? "ok" : "failed");
  u.prompt_tokens = 10;
  u.completion_tokens = i;
  return u;
}

Test(gateway, usage_rows_are_never_counted_twice) {
  sc_store *s;
  sc_err e;
  cr_assert_eq(sc_store_open(db, &s, &e), 0, "%s", e.msg);
  sc_usage_rec r[10];
  for (int i = 0; i < 10; i++) r[i] = rec(i, i < 6 ? "a" : "b");
  int done;
  cr_assert_eq(sc_gws_usage_insert(s, r, 10, &done, &e), 0, "%s", e.msg);
  cr_assert_eq(done, 10);
  cr_assert_eq(sc_gws_usage_insert(s, r + 2, 3, &done, &e), 0, "%s", e.msg);
  cr_assert_eq(done, 0, "a request id already stored is not stored again");
  json_t *rows;
  cr_assert_eq(sc_gws_usage_query(s, "tenant", NULL, 0, 0, &rows, &e), 0, "%s", e.msg);
  cr_assert_eq(json_array_size(rows), 2);
  cr_assert_eq(json_integer_value(json_object_get(json_array_get(rows, 0), "requests")), 6);
  cr_assert_eq(json_integer_value(json_object_get(json_array_get(rows, 0), "completion_tokens")), 0 + 1 + 2 + 3 + 4 + 5);
  cr_assert_eq(json_integer_value(json_object_get(json_array_get(rows, 0), "failed")), 2);
  json_decref(rows);
  cr_assert_eq(sc_gws_usage_query(s, "model", "b", 0, 0, &rows, &e), 0, "%s", e.msg);
  cr_assert_eq(json_array_size(rows), 2);
  json_decref(rows);
  cr_assert_eq(sc_gws_usage_query(s, "day", NULL, 1795600000005LL, 0, &rows, &e), 0);
  cr_assert_eq(json_integer_value(json_object_get(json_array_get(rows, 0), "requests")), 5);
  json_decref(rows);
  cr_assert_neq(sc_gws_usage_query(s, "color", NULL, 0, 0, &rows, &e), 0);
  cr_assert(strstr(e.msg, "'color'"));
  sc_store_close(s);
}

static int64_t count_sql(sc_store *s, const char *sql) {
  sqlite3_stmt *st;
  cr_assert_eq(sqlite3_prepare_v2(sc_store_db(s), sql, -1, &st, NULL), SQLITE_OK);
  cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
  int64_t v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

Test(gateway, a_duplicate_in_a_group_of_rows_keeps_the_others_of_the_group) {
  sc_store *s;
  sc_err e;
  cr_assert_eq(sc_store_open(db, &s, &e), 0, "%s", e.msg);
  static sc_usage_rec r[100];
  for (int i = 0; i < 100; i++) r[i] = rec(i, "a");
  int done;
  cr_assert_eq(sc_gws_usage_insert(s, r + 40, 1, &done, &e), 0, "%s", e.msg);
  cr_assert_eq(done, 1);
  /* rows go in groups of 32: the second group (32..63) holds the one already stored */
  cr_assert_eq(sc_gws_usage_insert(s, r, 100, &done, &e), 0, "%s", e.msg);
  cr_assert_eq(done, 99);
  cr_assert(strstr(e.msg, "req-40"), "%s", e.msg);
  cr_assert_eq(count_sql(s, "SELECT COUNT(*) FROM usage"), 100);
  cr_assert_eq(count_sql(s, "SELECT SUM(completion_tokens) FROM usage"), 99 * 100 / 2);
  cr_assert_eq(count_sql(s, "SELECT COUNT(*) FROM usage WHERE request_id = 'req-63' AND tenant = 'a' AND model = 'm1'"),
               1);
  sc_store_close(s);
}

Test(gateway, usage_dimensions_are_stored_once_each_however_many_there_are) {
  sc_store *s;
  sc_err e;
  cr_assert_eq(sc_store_open(db, &s, &e), 0, "%s", e.msg);
  sc_gws_writer *w;
  cr_assert_eq(sc_gws_writer_open(s, &w, &e), 0, "%s", e.msg);
  /* more distinct tenants than the writer's id cache holds, twice over, in several batches */
  static sc_usage_rec r[2000];
  for (int i = 0; i < 2000; i++) {
    char t[16];
    snprintf(t, sizeof t, "t%d", i % 1000);
    r[i] = rec(i, t);
    snprintf(r[i].model, sizeof r[i].model, "m");
  }
  int done, total = 0;
  for (int i = 0; i < 2000; i += 500) {
    cr_assert_eq(sc_gws_writer_insert(w, r + i, 500, &done, &e), 0, "%s", e.msg);
    total += done;
  }
  cr_assert_eq(total, 2000);
  cr_assert_eq(count_sql(s, "SELECT COUNT(*) FROM usage_dims"), 1000);
  cr_assert_eq(count_sql(s, "SELECT COUNT(*) FROM usage WHERE tenant = 't7'"), 2);
  json_t *rows;
  cr_assert_eq(sc_gws_usage_query(s, "tenant", "t999", 0, 0, &rows, &e), 0, "%s", e.msg);
  cr_assert_eq(json_array_size(rows), 1);
  cr_assert_eq(json_integer_value(json_object_get(json_array_get(rows, 0), "completion_tokens")), 999 + 1999);
  json_decref(rows);
  sc_gws_writer_close(w);
  sc_store_close(s);
}

static int callbacks;
static struct event_base *loop;
static void on_stored(void *arg, bool stored) {
  (void)arg;
  cr_assert(stored);
  if (++callbacks == 500) event_base_loopbreak(loop);
}

Test(gateway, writer_commits_every_record_once_before_its_callback) {
  sc_store *s;
  sc_err e;
  cr_assert_eq(sc_store_open(db, &s, &e), 0, "%s", e.msg); /* migrates */
  loop = event_base_new();
  gw_meter *m;
  cr_assert_eq(gw_meter_start(loop, db, &m, &e), 0, "%s", e.msg);
  for (int i = 0; i < 500; i++) {
    sc_usage_rec u = rec(i, "t");
    gw_meter_submit(m, &u, on_stored, NULL);
  }
  struct timeval limit = {20, 0};
  event_base_loopexit(loop, &limit);
  event_base_dispatch(loop);
  cr_assert_eq(callbacks, 500);
  cr_assert_eq(gw_meter_committed(m), 500);
  gw_meter_stop(m);
  json_t *rows;
  cr_assert_eq(sc_gws_usage_query(s, "tenant", "t", 0, 0, &rows, &e), 0);
  cr_assert_eq(json_integer_value(json_object_get(json_array_get(rows, 0), "requests")), 500);
  json_decref(rows);
  sc_store_close(s);
  event_base_free(loop);
}

Test(gateway, body_scanner_takes_the_slow_path_for_what_it_cannot_prove) {
  gw_scan_result r;
  const char *ok = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\\n\"}],\"max_tokens\":5}";
  cr_assert_eq(gw_scan(ok, strlen(ok), true, &r), GW_SCAN_OK);
  cr_assert_eq(r.max_tokens, 5);
  cr_assert_eq(r.model.n, 1);
  /* stream_options: null is present: the stream is rewritten through jansson, never spliced (a duplicate key) */
  const char *sn = "{\"model\":\"m\",\"messages\":[1],\"stream\":true,\"stream_options\":null}";
  cr_assert_eq(gw_scan(sn, strlen(sn), true, &r), GW_SCAN_OK);
  cr_assert(r.stream && r.has_stream_options && !r.include_usage);
  static const char *const slow[] = {
      "{\"model\":\"m\",\"messages\":[1],\"x\":1000000000000000000e20}", /* might overflow a double */
      "{\"model\":\"m\",\"messages\":[1],\"x\":12345678901234567890}",   /* over 64 bits */
      "{\"model\":\"m\",\"messages\":[1],\"model\":\"n\"}",             /* duplicate */
      "{\"model\":\"m\",\"messages\":[]}",                                /* empty messages */
      "{\"model\":\"m\",\"messages\":[1],\"max_tokens\":0}",             /* out of range */
      "{\"model\":\"m\",\"messages\":[1],\"max_tokens\":1.0}",           /* not an integer */
      "{\"model\":\"m\",\"messages\":[1]} x",                             /* trailing bytes */
      "{\"model\":\"m\",\"messages\":[\"\\u0000\"]}",                    /* NUL */
      "{\"model\":\"m\",\"messages\":[\"\\ud800\"]}",                    /* lone surrogate */
      "{\"model\":\"m\",\"messages\":[\"\xc0\xaf\"]}",                   /* overlong UTF-8 */
  };
  for (size_t i = 0; i < sizeof slow / sizeof slow[0]; i++)
    cr_assert_eq(gw_scan(slow[i], strlen(slow[i]), true, &r), GW_SCAN_SLOW, "case %zu", i);
}

Test(gateway, sse_events_split_on_lf_and_crlf_blank_lines) {
  gw_call c;
  memset(&c, 0, sizeof c);
  c.client_gone = true;
  c.is_sse = true;
  const char *lf = "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n";
  const char *crlf = "data: {\"choices\":[{\"delta\":{\"content\":\"b\"}}]}\r\n\r\ndata: [DONE]\r\n\r\n";
  on_upstream_data(&c, lf, strlen(lf));
  on_upstream_data(&c, crlf, strlen(crlf));
  cr_assert_eq(c.content_chunks, 2);
  cr_assert(c.done_seen);
  cr_assert_eq(c.sse.n, 0, "nothing left unsplit");
  free(c.sse.p);
  free(c.out.p);
  free(c.tail.p);
}

Test(gateway, journal_records_round_trip_and_corruption_is_refused) {
  sc_usage_rec a = rec(7, "tenant-a"), b;
  snprintf(a.chip, sizeof a.chip, "H100-SXM-80GB");
  a.ttft_ms = 12.5;
  a.duration_ms = 99.25;
  char buf[2048];
  size_t n = gw_journal_encode(&a, buf), used = 0;
  cr_assert_leq(n, 1024);
  cr_assert_eq(gw_journal_decode(buf, n, &b, &used), 1);
  cr_assert_eq(used, n);
  cr_assert_eq(memcmp(&a, &b, sizeof a), 0, "every field survives");
  cr_assert_eq(gw_journal_decode(buf, n - 1, &b, &used), 0, "a torn record is incomplete, not garbage");
  cr_assert_eq(gw_journal_decode(buf, 5, &b, &used), 0);
  buf[20] ^= 1;
  cr_assert_eq(gw_journal_decode(buf, n, &b, &used), -1, "a flipped bit fails the CRC");
  buf[20] ^= 1;
  buf[0] = 'X';
  cr_assert_eq(gw_journal_decode(buf, n, &b, &used), -1, "not a record");
}

Test(gateway, journal_crc_is_the_standard_crc32) {
  /* a record framed by another implementation (Python's zlib.crc32) decodes */
  static const char rec[] =
      "\x53\x43\x55\x31\x5f\x00\x00\x00\x07\x72\x65\x71\x2d\x61\x62\x63\x02\x74\x31\x02\x6b\x31\x02\x6d"
      "\x31\x02\x6d\x31\x05\x65\x70\x2d\x65\x31\x08\x65\x78\x74\x65\x72\x6e\x61\x6c\x08\x65\x78\x74\x65"
      "\x72\x6e\x61\x6c\x02\x65\x75\x04\x48\x31\x30\x30\x02\x6f\x6b\x00\xa4\x19\x12\xa2\x01\x00\x00\x0c"
      "\x00\x00\x00\x00\x00\x00\x00\x08\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xf8\x3f\x00"
      "\x00\x00\x00\x00\x00\x04\x40\x79\x89\x2a\xd6";
  sc_usage_rec r;
  size_t used;
  cr_assert_eq(gw_journal_decode(rec, sizeof rec - 1, &r, &used), 1);
  cr_assert_eq(used, sizeof rec - 1);
  cr_assert_str_eq(r.request_id, "req-abc");
  cr_assert_str_eq(r.chip, "H100");
  cr_assert_eq(r.completion_tokens, 8);
}

Test(gateway, records_left_in_the_journal_by_a_crash_are_stored_at_start) {
  sc_store *s;
  sc_err e;
  cr_assert_eq(sc_store_open(db, &s, &e), 0, "%s", e.msg);
  /* segment 3: two records and a torn third (the process died inside a write); segment 5: one */
  char buf[4096], path[400];
  size_t n;
  sc_usage_rec r1 = rec(1, "t"), r2 = rec(2, "t"), r3 = rec(3, "t"), r4 = rec(4, "t");
  n = gw_journal_encode(&r1, buf);
  n += gw_journal_encode(&r2, buf + n);
  size_t torn = gw_journal_encode(&r3, buf + n);
  snprintf(path, sizeof path, "%s/usage.journal.3", dir);
  cr_assert_eq(sc_write_file_atomic(path, buf, n + torn / 2, 0600), 0);
  n = gw_journal_encode(&r4, buf);
  snprintf(path, sizeof path, "%s/usage.journal.5", dir);
  cr_assert_eq(sc_write_file_atomic(path, buf, n, 0600), 0);
  /* and record 1 was already stored before the crash: it must not count twice */
  int done;
  cr_assert_eq(sc_gws_usage_insert(s, &r1, 1, &done, &e), 0);
  struct event_base *b = event_base_new();
  gw_meter *m;
  cr_assert_eq(gw_meter_start(b, db, &m, &e), 0, "%s", e.msg);
  json_t *rows;
  cr_assert_eq(sc_gws_usage_query(s, "tenant", "t", 0, 0, &rows, &e), 0);
  cr_assert_eq(json_integer_value(json_object_get(json_array_get(rows, 0), "requests")), 3, "records 1, 2 and 4");
  json_decref(rows);
  snprintf(path, sizeof path, "%s/usage.journal.3", dir);
  cr_assert_neq(access(path, F_OK), 0, "ingested segments are removed");
  snprintf(path, sizeof path, "%s/usage.journal.6", dir);
  cr_assert_eq(access(path, F_OK), 0, "new records go to a new segment");
  gw_meter_stop(m);
  cr_assert_neq(access(path, F_OK), 0, "a clean stop leaves no journal behind");
  event_base_free(b);
  sc_store_close(s);
}

/* ---- in process: a gateway on net/hserver, called by libevent's evhttp client on the same loop ---- */

static int got_status;
static char got_body[2048];
static void on_reply(struct evhttp_request *r, void *arg) {
  (void)arg;
  got_status = r ? evhttp_request_get_response_code(r) : -1;
  got_body[0] = 0;
  if (r) {
    struct evbuffer *b = evhttp_request_get_input_buffer(r);
    size_t n = evbuffer_get_length(b);
    if (n >= sizeof got_body) n = sizeof got_body - 1;
    evbuffer_copyout(b, got_body, n);
    got_body[n] = 0;
  }
  event_base_loopbreak(loop);
}

static void serve_gw(sc_hreq *req, void *arg) { sc_gateway_handle(arg, req); }

static int call_gw(struct evhttp_connection *cn, const char *key, const char *body) {
  struct evhttp_request *r = evhttp_request_new(on_reply, NULL);
  char auth[256];
  snprintf(auth, sizeof auth, "Bearer %s", key);
  evhttp_add_header(evhttp_request_get_output_headers(r), "Authorization", auth);
  evhttp_add_header(evhttp_request_get_output_headers(r), "Host", "127.0.0.1");
  evbuffer_add(evhttp_request_get_output_buffer(r), body, strlen(body));
  evhttp_make_request(cn, r, EVHTTP_REQ_POST, "/v1/chat/completions");
  struct timeval limit = {10, 0};
  event_base_loopexit(loop, &limit);
  event_base_dispatch(loop);
  return got_status;
}

Test(gateway, answers_503_when_no_replica_is_ready_and_404_for_unknown_models) {
  sc_store *s;
  sc_err e;
  cr_assert_eq(sc_store_open(db, &s, &e), 0, "%s", e.msg);
  sc_tenant t = {.name = "t", .created_at = 1};
  cr_assert_eq(sc_gws_tenant_add(s, &t, &t.id, &e), 0, "%s", e.msg);
  sc_api_key k;
  memset(&k, 0, sizeof k);
  char text[SC_SECRET_MAX];
  sc_secret_new("sck", k.id, text, k.hash);
  k.tenant_id = t.id;
  cr_assert_eq(sc_gws_key_add(s, &k, &e), 0, "%s", e.msg);
  loop = event_base_new();
  sc_gateway *g;
  sc_gateway_opts o = {.db_path = db, .upstream_timeout_ms = 5000, .max_body = 4096};
  cr_assert_eq(sc_gateway_create(loop, &o, &g, &e), 0, "%s", e.msg);
  sc_gw_replica rs[] = {rep("z1", "m", "eu", false)};
  sc_gateway_set_replicas(g, rs, 1);
  sc_hsrv *http;
  sc_hsrv_opts ho = {.max_body = 1 << 20, .cb = serve_gw, .arg = g};
  cr_assert_eq(sc_hsrv_create(loop, &ho, &http, &e), 0);
  char addr[64];
  cr_assert_eq(sc_hsrv_listen(http, "127.0.0.1", 0, addr, sizeof addr, &e), 0, "%s", e.msg);
  struct evhttp_connection *cn = evhttp_connection_base_new(loop, NULL, "127.0.0.1", (ev_uint16_t)strtol(strchr(addr, ':') + 1, NULL, 10));
  const char *body = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}";
  cr_assert_eq(call_gw(cn, text, body), 503);
  cr_assert(strstr(got_body, "\"no_ready_replica\""), "%s", got_body);
  cr_assert_eq(call_gw(cn, text, "{\"model\":\"q\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}"), 404);
  cr_assert(strstr(got_body, "\"model_not_found\""), "%s", got_body);
  cr_assert_eq(call_gw(cn, "sck.0000000000000000.00", body), 401);
  /* the replica becomes ready but its engine is not there: 502 after the retries, no record */
  sc_gw_replica up[] = {rep("z1", "m", "eu", true)};
  snprintf(up[0].url, sizeof up[0].url, "http://127.0.0.1:1");
  sc_gateway_set_replicas(g, up, 1);
  cr_assert_eq(call_gw(cn, text, body), 502);
  cr_assert(strstr(got_body, "\"upstream_unavailable\""), "%s", got_body);
  evhttp_connection_free(cn);
  sc_gateway_destroy(g);
  sc_hsrv_destroy(http);
  json_t *rows;
  cr_assert_eq(sc_gws_usage_query(s, "tenant", NULL, 0, 0, &rows, &e), 0);
  cr_assert_eq(json_array_size(rows), 0, "no usage for requests that reached no engine");
  json_decref(rows);
  sc_store_close(s);
  event_base_free(loop);
}

/* ---------- the SSE relay: framing, usage taken out or held back ---------- */

static void feed_event(gw_call *c, const char *ev) {
  char *copy = strdup(ev); /* sse_event edits in place */
  c->out.n = c->tail.n = 0;
  sse_event(c, copy, strlen(copy));
  free(copy);
}

static bool buf_is(const gbuf *b, const char *want) { return b->n == strlen(want) && memcmp(b->p, want, b->n) == 0; }

Test(gateway, sse_events_end_at_a_blank_line_of_any_framing) {
  cr_assert_eq(sse_event_len("data: a\n\ndata: b", 16), 9);
  cr_assert_eq(sse_event_len("data: a\r\n\r\nx", 12), 11);
  cr_assert_eq(sse_event_len("data: a\n\r\nx", 11), 10);
  cr_assert_eq(sse_event_len("data: a\r\ndata: b\r\n", 18), 0, "no blank line yet");
  cr_assert_eq(sse_event_len("data: a\n", 8), 0);
  cr_assert_eq(sse_event_len("", 0), 0);
}

Test(gateway, sse_usage_is_taken_from_the_stream_and_shown_only_when_asked) {
  gw_call c;
  memset(&c, 0, sizeof c);
  /* a content event: counted; the usage:null the client did not ask for is cut */
  feed_event(&c, "data: {\"id\":\"x\",\"choices\":[{\"delta\":{\"content\":\"hi\"}}],\"usage\":null}\n\n");
  cr_assert(buf_is(&c.out, "data: {\"id\":\"x\",\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\n"), "%.*s", (int)c.out.n,
            c.out.p);
  cr_assert_eq(c.content_chunks, 1);
  /* the usage-only event: read, and not relayed */
  const char *uev = "data: {\"id\":\"x\",\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":5,"
                    "\"total_tokens\":8}}\n\n";
  feed_event(&c, uev);
  cr_assert(c.usage_seen);
  cr_assert_eq(c.prompt_tokens, 3);
  cr_assert_eq(c.completion_tokens, 5);
  cr_assert_eq(c.out.n + c.tail.n, 0, "the client did not ask for usage");
  /* a client that asked gets it after the record committed (held in the tail), with [DONE] */
  gw_call d;
  memset(&d, 0, sizeof d);
  d.client_usage = true;
  feed_event(&d, "data: {\"id\":\"x\",\"choices\":[{\"delta\":{\"content\":\"hi\"}}],\"usage\":null}\n\n");
  cr_assert(buf_is(&d.out, "data: {\"id\":\"x\",\"choices\":[{\"delta\":{\"content\":\"hi\"}}],\"usage\":null}\n\n"));
  feed_event(&d, uev);
  cr_assert(buf_is(&d.tail, uev));
  cr_assert_eq(d.completion_tokens, 5);
  d.tail.n = 0;
  char *done = strdup("data: [DONE]\n\n");
  sse_event(&d, done, strlen(done));
  cr_assert(d.done_seen);
  cr_assert(buf_is(&d.tail, "data: [DONE]\n\n"));
  free(done);
  /* usage riding on a content event (not the usage-only shape): taken, and cut out for a client that
   * did not ask */
  gw_call f;
  memset(&f, 0, sizeof f);
  feed_event(&f, "data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}],\"usage\":{\"prompt_tokens\":1,"
                 "\"completion_tokens\":2}}\n\n");
  cr_assert(f.usage_seen);
  cr_assert_eq(f.completion_tokens, 2);
  cr_assert(buf_is(&f.out, "data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\n"), "%.*s", (int)f.out.n, f.out.p);
  free(c.out.p), free(c.tail.p), free(d.out.p), free(d.tail.p), free(f.out.p), free(f.tail.p);
}
