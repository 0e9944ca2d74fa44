/* Unit tests for src/engine/server.c with a scripted back end and codec: paths the simulator never
 * takes — a back-end error (plain and mid-stream), end-of-generation tokens, invalid UTF-8 from the
 * model, and a submit refused by the back end. The server runs on a thread on 127.0.0.1:0; a
 * SIGTERM stops it. */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"
#include "engine/server.h"

/* ---- scripted back end: each prompt's first id picks a script ---- */
enum { SCRIPT_OK = 1, SCRIPT_ERROR = 2, SCRIPT_EOG = 3, SCRIPT_BADUTF8 = 4, SCRIPT_REFUSE = 5 };

typedef struct job {
  sc_gen_request req;
  int script;
} job;

static void *run_job(void *arg) {
  job *j = arg;
  sc_gen_result res = {.finish = SC_FINISH_LENGTH, .prompt_tokens = 1};
  static const int32_t ok[] = {10, 11, 12}, eog[] = {10, 99, 11}, bad[] = {13, 14, 10};
  const int32_t *toks = j->script == SCRIPT_EOG ? eog : j->script == SCRIPT_BADUTF8 ? bad : ok;
  int n = j->script == SCRIPT_ERROR ? 1 : 3;
  for (int i = 0; i < n; i++) j->req.on_token(j->req.ud, toks[i]);
  res.completion_tokens = n;
  if (j->script == SCRIPT_ERROR) {
    res.finish = SC_FINISH_ERROR;
    snprintf(res.error, sizeof res.error, "out of \xff device memory");
  }
  j->req.on_done(j->req.ud, &res);
  free(j);
  return NULL;
}

static int fake_submit(sc_engine *eng, const sc_gen_request *req, uint64_t *id, sc_err *e) {
  (void)eng;
  if (req->prompt[0] == SCRIPT_REFUSE) return sc_err_set(e, SC_EUNAVAIL, "busy", "the back end is full");
  job *j = sc_xcalloc(1, sizeof *j);
  j->req = *req;
  j->script = req->prompt[0];
  *id = 1;
  pthread_t t;
  pthread_create(&t, NULL, run_job, j);
  pthread_detach(t);
  return 0;
}
static void fake_cancel(sc_engine *eng, uint64_t id) {
  (void)eng;
  (void)id;
}
static void fake_stats(sc_engine *eng, sc_engine_stats *out) {
  (void)eng;
  memset(out, 0, sizeof *out);
}
static int fake_nop(sc_engine *eng, sc_err *e) {
  (void)eng;
  (void)e;
  return 0;
}
static void fake_destroy(sc_engine *eng) { (void)eng; }
static const sc_engine_ops fake_ops = {fake_submit, fake_cancel, fake_stats, fake_nop, fake_nop, fake_destroy};
static sc_engine fake_engine = {.ops = &fake_ops, .n_ctx = 64, .n_vocab = 100, .eos_id = 99};

/* ---- codec: the prompt text's first character picks the script ---- */
static int enc(const char *text, int32_t **ids, int *n) {
  *ids = sc_xmalloc(sizeof **ids);
  (*ids)[0] = text[0] - '0';
  *n = 1;
  return 0;
}
static int enc_prompt(void *ctx, const char *text, size_t len, int32_t **ids, int *n, sc_err *e) {
  (void)ctx, (void)len, (void)e;
  return enc(text, ids, n);
}
static int enc_chat(void *ctx, const sc_oai_message *m, int n_msgs, int32_t **ids, int *n, sc_err *e) {
  (void)ctx, (void)n_msgs, (void)e;
  return enc(m[0].content, ids, n);
}
static const char *bytes(void *ctx, int32_t id, size_t *len) {
  (void)ctx;
  const char *s = id == 10 ? "Hi" : id == 11 ? " there" : id == 12 ? "!" : id == 13 ? "a\xff" : id == 14 ? "\xe7\xae" : "";
  *len = strlen(s);
  return s;
}
static bool eog(void *ctx, int32_t id) {
  (void)ctx;
  return id == 99;
}
static const sc_codec codec = {NULL, enc_prompt, enc_chat, bytes, eog};

/* ---- server on a thread ---- */
static char dir[64], base_url[128];
static pthread_t srv_thread;
static int srv_rc = -1;

static void *serve(void *arg) {
  (void)arg;
  char pf[128];
  snprintf(pf, sizeof pf, "%s/port", dir);
  sc_engine_server_config cfg = {.listen = "127.0.0.1:0", .port_file = pf, .model_name = "fake", .max_body = 4096};
  sc_err e;
  srv_rc = sc_engine_serve(&fake_engine, &codec, &cfg, &e);
  return NULL;
}

static void start(void) {
  sc_log_set_level(SC_LOG_ERROR);
  snprintf(dir, sizeof dir, "/tmp/sc-server-test-XXXXXX");
  cr_assert_not_null(mkdtemp(dir));
  pthread_create(&srv_thread, NULL, serve, NULL);
  char pf[128], *txt = NULL;
  snprintf(pf, sizeof pf, "%s/port", dir);
  for (int i = 0; i < 400 && sc_read_file(pf, 256, &txt, NULL) != 0; i++) {
    struct timespec ts = {0, 10000000};
    nanosleep(&ts, NULL);
  }
  cr_assert_not_null(txt, "the server did not write its port file");
  snprintf(base_url, sizeof base_url, "http://%s", sc_trim(txt));
  free(txt);
}

static void stop(void) {
  kill(getpid(), SIGTERM);
  pthread_join(srv_thread, NULL);
  cr_assert_eq(srv_rc, 0);
  char pf[128];
  snprintf(pf, sizeof pf, "%s/port", dir);
  unlink(pf);
  rmdir(dir);
}

TestSuite(server, .init = start, .fini = stop);

typedef struct {
  char *p;
  size_t n;
} buf;
static size_t collect(char *d, size_t sz, size_t nm, void *ud) {
  buf *b = ud;
  b->p = sc_xrealloc(b->p, b->n + sz * nm + 1);
  memcpy(b->p + b->n, d, sz * nm);
  b->n += sz * nm;
  b->p[b->n] = 0;
  return sz * nm;
}

static long post(const char *path, const char *body, buf *out) {
  char url[256];
  snprintf(url, sizeof url, "%s%s", base_url, path);
  CURL *c = curl_easy_init();
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
  out->p = sc_xstrdup("");
  out->n = 0;
  cr_assert_eq(curl_easy_perform(c), CURLE_OK);
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(c);
  return status;
}

static json_t *parse(const buf *b) {
  json_error_t je;
  json_t *o = json_loads(b->p, 0, &je);
  cr_assert_not_null(o, "not JSON: %s", b->p);
  return o;
}

Test(server, plain_completion) {
  buf b;
  cr_assert_eq(post("/v1/completions", "{\"prompt\":\"1\"}", &b), 200);
  json_t *o = parse(&b);
  cr_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(o, "choices"), 0), "text")),
                   "Hi there!");
  json_decref(o);
  free(b.p);
}

Test(server, backend_error_is_a_500_with_an_openai_body) {
  buf b;
  cr_assert_eq(post("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"2\"}]}", &b), 500);
  json_t *o = parse(&b);
  json_t *err = json_object_get(o, "error");
  cr_assert_str_eq(json_string_value(json_object_get(err, "code")), "engine_error");
  cr_assert_str_eq(json_string_value(json_object_get(err, "type")), "server_error");
  cr_assert(strstr(json_string_value(json_object_get(err, "message")), "device memory"));
  json_decref(o);
  free(b.p);
}

Test(server, backend_error_mid_stream) {
  buf b;
  cr_assert_eq(post("/v1/completions", "{\"prompt\":\"2\",\"stream\":true}", &b), 200);
  cr_assert(strstr(b.p, "data: {\"id\""), "%s", b.p);
  cr_assert(strstr(b.p, "data: {\"error\":{"), "%s", b.p);
  cr_assert(strstr(b.p, "\"code\":\"engine_error\""), "%s", b.p);
  size_t n = strlen(b.p);
  cr_assert(n > 14 && strcmp(b.p + n - 14, "data: [DONE]\n\n") == 0, "%s", b.p);
  free(b.p);
}

Test(server, end_of_generation_token_stops) {
  buf b;
  cr_assert_eq(post("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"3\"}]}", &b), 200);
  json_t *o = parse(&b);
  json_t *ch = json_array_get(json_object_get(o, "choices"), 0);
  cr_assert_str_eq(json_string_value(json_object_get(json_object_get(ch, "message"), "content")), "Hi");
  cr_assert_str_eq(json_string_value(json_object_get(ch, "finish_reason")), "stop");
  cr_assert_eq(json_integer_value(json_object_get(json_object_get(o, "usage"), "completion_tokens")), 2,
               "the end-of-generation token counts, what follows it does not");
  json_decref(o);
  free(b.p);
}

Test(server, invalid_utf8_from_the_model_is_replaced) {
  buf b;
  cr_assert_eq(post("/v1/completions", "{\"prompt\":\"4\"}", &b), 200);
  json_t *o = parse(&b);
  cr_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(o, "choices"), 0), "text")),
                   "a\xEF\xBF\xBD\xEF\xBF\xBDHi", "0xFF and a cut character each become U+FFFD");
  json_decref(o);
  free(b.p);
}

Test(server, refused_submit) {
  buf b;
  cr_assert_eq(post("/v1/completions", "{\"prompt\":\"5\"}", &b), 503);
  json_t *o = parse(&b);
  cr_assert_str_eq(json_string_value(json_object_get(json_object_get(o, "error"), "code")), "busy");
  json_decref(o);
  free(b.p);
}
