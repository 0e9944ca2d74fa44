/* Unit tests for src/net: the HTTP/1.x parser (heads, chunked bodies, the refusals), the server
 * (keep-alive, pipelining, chunked and 100-continue uploads, streamed answers, HTTP/1.0, the
 * server's own error answers, client disconnects) driven over real sockets, and the keep-alive
 * client (reuse, a pooled connection the server closed, refused connections, timeouts). */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "base/util.h"
#include "net/hclient.h"
#include "net/hparse.h"
#include "net/hserver.h"

/* ---------- parser ---------- */

static int req(const char *s, sc_http_head *h, int *st) {
  const char *why;
  return sc_http_parse_request(s, strlen(s), 4096, h, st, &why);
}

Test(http_parse, request_heads) {
  sc_http_head h;
  int st = 0;
  cr_assert_eq(req("POST /v1/x?a=b HTTP/1.1\r\nHost: h\r\nContent-Length: 12\r\nX-A:  v  \r\n\r\nbody", &h, &st), SC_HP_DONE);
  cr_assert_eq(h.method.n, 4);
  cr_assert_eq(strncmp(h.target.p, "/v1/x?a=b", h.target.n), 0);
  cr_assert_eq(h.content_length, 12);
  cr_assert_eq(h.minor, 1);
  cr_assert_not(h.close);
  sc_hslice v;
  cr_assert(sc_http_head_get(&h, "x-a", &v));
  cr_assert_eq(v.n, 1, "values are trimmed");
  cr_assert_eq(h.head_len, strlen("POST /v1/x?a=b HTTP/1.1\r\nHost: h\r\nContent-Length: 12\r\nX-A:  v  \r\n\r\n"));
  cr_assert_eq(req("GET / HTTP/1.0\n\n", &h, &st), SC_HP_DONE, "bare LF lines");
  cr_assert(h.close, "HTTP/1.0 closes unless keep-alive");
  cr_assert_eq(req("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &h, &st), SC_HP_DONE);
  cr_assert_not(h.close);
  cr_assert_eq(req("GET / HTTP/1.1\r\nConnection: close\r\n\r\n", &h, &st), SC_HP_DONE);
  cr_assert(h.close);
  cr_assert_eq(req("GET / HTTP/1.1\r\nHost: h\r\n", &h, &st), SC_HP_MORE);
  cr_assert_eq(req("GET / HT", &h, &st), SC_HP_MORE);
}

Test(http_parse, refuses_malformed_and_smuggling_heads) {
  sc_http_head h;
  int st = 0;
  cr_assert_eq(req("GET /\r\n\r\n", &h, &st), SC_HP_ERROR);
  cr_assert_eq(st, 400);
  cr_assert_eq(req("G@T / HTTP/1.1\r\n\r\n", &h, &st), SC_HP_ERROR);
  cr_assert_eq(req("GET / HTTP/2.0\r\n\r\n", &h, &st), SC_HP_ERROR);
  cr_assert_eq(st, 505);
  cr_assert_eq(req("GET / HTTP/1.1\r\nA: b\r\n  folded\r\n\r\n", &h, &st), SC_HP_ERROR);
  cr_assert_eq(req("GET / HTTP/1.1\r\nBad Name: b\r\n\r\n", &h, &st), SC_HP_ERROR);
  cr_assert_eq(req("POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", &h, &st), SC_HP_ERROR);
  cr_assert_eq(req("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", &h, &st), SC_HP_ERROR);
  cr_assert_eq(req("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", &h, &st), SC_HP_ERROR);
  cr_assert_eq(req("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n", &h, &st), SC_HP_DONE);
  cr_assert_eq(req("POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", &h, &st), SC_HP_ERROR);
  cr_assert_eq(st, 400);
  cr_assert_eq(req("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", &h, &st), SC_HP_ERROR);
  cr_assert_eq(st, 501);
  cr_assert_eq(req("GET / HTTP/1.1\r\nA: \x01\r\n\r\n", &h, &st), SC_HP_ERROR);
  char big[5000];
  memset(big, 'a', sizeof big);
  memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
  big[sizeof big - 1] = 0;
  cr_assert_eq(req(big, &h, &st), SC_HP_ERROR);
  cr_assert_eq(st, 431);
  char many[4096] = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 70; i++) strcat(many, "A: b\r\n");
  strcat(many, "\r\n");
  cr_assert_eq(req(many, &h, &st), SC_HP_ERROR);
  cr_assert_eq(st, 431);
}

Test(http_parse, response_heads) {
  sc_http_head h;
  int st;
  const char *why;
  const char *r = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n";
  cr_assert_eq(sc_http_parse_response(r, strlen(r), 4096, &h, &st, &why), SC_HP_DONE);
  cr_assert_eq(h.status, 200);
  cr_assert(h.chunked);
  r = "HTTP/1.1 404\r\n\r\n";
  cr_assert_eq(sc_http_parse_response(r, strlen(r), 4096, &h, &st, &why), SC_HP_DONE, "no reason phrase");
  cr_assert_eq(h.status, 404);
  r = "SSH-2.0-OpenSSH\r\n";
  cr_assert_eq(sc_http_parse_response(r, strlen(r), 4096, &h, &st, &why), SC_HP_ERROR);
  r = "HTTP/1.1 2x0 OK\r\n\r\n";
  cr_assert_eq(sc_http_parse_response(r, strlen(r), 4096, &h, &st, &why), SC_HP_ERROR);
}

/* Decodes s fed `step` bytes at a time into out; returns the final rc. */
static int dechunk(const char *s, size_t step, char *out, size_t *olen) {
  sc_http_chunked ck = {0};
  size_t n = strlen(s), off = 0;
  *olen = 0;
  int rc = SC_HP_MORE;
  while (off < n && rc == SC_HP_MORE) {
    size_t left = n - off < step ? n - off : step;
    const char *p = s + off;
    while (left && rc == SC_HP_MORE) {
      size_t used, dl;
      const char *d, *why;
      rc = sc_http_chunked_feed(&ck, p, left, &used, &d, &dl, &why);
      memcpy(out + *olen, d ? d : "", dl);
      *olen += dl;
      p += used;
      left -= used;
      off += used;
    }
  }
  out[*olen] = 0;
  return rc;
}

Test(http_parse, chunked_bodies_in_any_slicing) {
  const char *body = "5\r\nhello\r\n7;name=val\r\n, world\r\n0\r\nTrailer: x\r\n\r\n";
  char out[64];
  size_t n;
  for (size_t step = 1; step < 60; step++) {
    cr_assert_eq(dechunk(body, step, out, &n), SC_HP_DONE, "step %zu", step);
    cr_assert_str_eq(out, "hello, world");
  }
  cr_assert_eq(dechunk("5\nhello\n0\n\n", 3, out, &n), SC_HP_DONE, "bare LF");
  cr_assert_eq(dechunk("zz\r\n", 1, out, &n), SC_HP_ERROR);
  cr_assert_eq(dechunk("3\r\nabcd\r\n", 1, out, &n), SC_HP_ERROR, "data longer than its size");
  cr_assert_eq(dechunk("fffffffffffffffff\r\n", 1, out, &n), SC_HP_ERROR, "size overflow");
  cr_assert_eq(dechunk("3\r\nabc", 2, out, &n), SC_HP_MORE);
}

/* ---------- server, over real sockets ---------- */

typedef struct srv {
  struct event_base *base;
  sc_hsrv *hs;
  pthread_t th;
  char addr[64];
  int port;
  int closes;       /* close callbacks run */
  sc_hreq *held;    /* a request the handler keeps ("/hold") */
} srv;

static void on_held_close(void *arg) {
  srv *s = arg;
  s->closes++;
  sc_hreq_reply(s->held, 200, "text/plain", "late", 4);
  s->held = NULL;
}

static void handler(sc_hreq *r, void *arg) {
  srv *s = arg;
  const char *path = sc_hreq_path(r);
  char buf[256], out[1024];
  if (strcmp(path, "/echo") == 0) {
    size_t n;
    const char *b = sc_hreq_body(r, &n);
    const char *q = sc_hreq_query(r, "q", buf, sizeof buf);
    char hb[64];
    const char *h = sc_hreq_header(r, "X-H", hb, sizeof hb);
    int len = snprintf(out, sizeof out, "%d %zu h=%s q=%s body=%s", (int)sc_hreq_method(r), n, h ? h : "-",
                       q ? q : "-", b);
    sc_hreq_add_header(r, "X-Test", "yes");
    if (len >= (int)sizeof out) len = (int)sizeof out - 1;
    return sc_hreq_reply(r, 200, "text/plain", out, (size_t)len);
  }
  if (strcmp(path, "/stream") == 0) {
    sc_hreq_start(r, 200, "text/event-stream");
    sc_hreq_chunk(r, "data: 1\n\n", 9);
    sc_hreq_chunk(r, "data: 2\n\n", 9);
    return sc_hreq_end(r);
  }
  if (strcmp(path, "/hold") == 0) {
    s->held = r;
    return sc_hreq_on_close(r, on_held_close, s);
  }
  sc_hreq_reply(r, 404, "text/plain", "no", 2);
}

static void *loop_main(void *arg) {
  srv *s = arg;
  event_base_loop(s->base, EVLOOP_NO_EXIT_ON_EMPTY);
  return NULL;
}

static void srv_start(srv *s, size_t max_body) {
  memset(s, 0, sizeof *s);
  evthread_use_pthreads(); /* the test thread stops the server's loop */
  s->base = event_base_new();
  sc_hsrv_opts o = {.max_body = max_body, .idle_timeout_ms = 60000, .cb = handler, .arg = s};
  sc_err e;
  cr_assert_eq(sc_hsrv_create(s->base, &o, &s->hs, &e), 0);
  cr_assert_eq(sc_hsrv_listen(s->hs, "127.0.0.1", 0, s->addr, sizeof s->addr, &e), 0, "%s", e.msg);
  s->port = (int)strtol(strchr(s->addr, ':') + 1, NULL, 10);
  pthread_create(&s->th, NULL, loop_main, s);
}

static void srv_stop(srv *s) {
  event_base_loopbreak(s->base);
  pthread_join(s->th, NULL);
  sc_hsrv_destroy(s->hs);
  event_base_free(s->base);
}

static int dial(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
  struct timeval tv = {5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

static void put(int fd, const char *s) { cr_assert_eq(write(fd, s, strlen(s)), (ssize_t)strlen(s)); }

/* Reads until `want` appears in what came (or EOF / timeout); returns everything read. */
static char *read_until(int fd, const char *want, char *buf, size_t cap) {
  size_t n = 0;
  buf[0] = 0;
  while (n + 1 < cap && !strstr(buf, want)) {
    ssize_t r = read(fd, buf + n, cap - 1 - n);
    if (r <= 0) break;
    n += (size_t)r;
    buf[n] = 0;
  }
  return buf;
}

Test(http_server, keep_alive_pipelining_queries_and_headers) {
  srv s;
  srv_start(&s, 1 << 16);
  int fd = dial(s.port);
  char buf[8192];
  put(fd, "POST /echo?q=a%20b+c HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc");
  read_until(fd, "body=abc", buf, sizeof buf);
  cr_assert(strstr(buf, "HTTP/1.1 200 OK\r\n"), "%s", buf);
  cr_assert(strstr(buf, "X-Test: yes\r\n"), "%s", buf);
  cr_assert(strstr(buf, "2 3 h=- q=a b c body=abc"), "%s", buf);
  /* two pipelined requests in one write, answered in order on the same connection */
  put(fd, "GET /echo?q=1 HTTP/1.1\r\nHost: x\r\n\r\nGET /echo?q=2 HTTP/1.1\r\nHost: x\r\n\r\n");
  read_until(fd, "q=2", buf, sizeof buf);
  cr_assert(strstr(buf, "q=1") && strstr(buf, "q=1") < strstr(buf, "q=2"), "%s", buf);
  /* a body that arrives in pieces and outgrows the read buffer: head, query and body stay intact */
  static char big[20000 + 256];
  int hl = snprintf(big, sizeof big, "POST /echo?q=big HTTP/1.1\r\nX-H: kept\r\nContent-Length: 20000\r\n\r\n");
  memset(big + hl, 'z', 20000);
  cr_assert_eq(write(fd, big, (size_t)hl + 5000), (ssize_t)hl + 5000);
  usleep(50000);
  cr_assert_eq(write(fd, big + hl + 5000, 15000), 15000);
  read_until(fd, "zzzz", buf, sizeof buf);
  cr_assert(strstr(buf, "2 20000 h=kept q=big body=zz"), "%s", buf);
  close(fd);
  srv_stop(&s);
}

Test(http_server, chunked_upload_and_100_continue) {
  srv s;
  srv_start(&s, 1 << 16);
  int fd = dial(s.port);
  char buf[8192];
  put(fd, "PUT /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nwiki\r\n5\r\npedia\r\n0\r\n\r\n");
  read_until(fd, "wikipedia", buf, sizeof buf);
  cr_assert(strstr(buf, "4 9 h=- q=- body=wikipedia"), "%s", buf);
  /* 40,000 one-byte chunks: 240 KB of framing for a 40 KB body under a 64 KiB cap is accepted */
  static char up[40000 * 6 + 128];
  size_t ul = (size_t)snprintf(up, sizeof up, "PUT /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
  for (int i = 0; i < 40000; i++) memcpy(up + ul, "1\r\nq\r\n", 6), ul += 6;
  memcpy(up + ul, "0\r\n\r\n", 5);
  ul += 5;
  for (size_t o = 0; o < ul;) {
    ssize_t w = write(fd, up + o, ul - o);
    cr_assert_gt(w, 0);
    o += (size_t)w;
  }
  read_until(fd, "qqqq", buf, sizeof buf);
  cr_assert(strstr(buf, "4 40000 h=- q=- body=qq"), "%.200s", buf);
  put(fd, "POST /echo HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n");
  read_until(fd, "100 Continue\r\n\r\n", buf, sizeof buf);
  cr_assert(strstr(buf, "HTTP/1.1 100 Continue"), "%s", buf);
  put(fd, "hi");
  read_until(fd, "body=hi", buf, sizeof buf);
  cr_assert(strstr(buf, "body=hi"), "%s", buf);
  close(fd);
  srv_stop(&s);
}

Test(http_server, streams_chunked_and_raw_for_http10) {
  srv s;
  srv_start(&s, 1 << 16);
  int fd = dial(s.port);
  char buf[8192];
  put(fd, "GET /stream HTTP/1.1\r\n\r\n");
  read_until(fd, "0\r\n\r\n", buf, sizeof buf);
  cr_assert(strstr(buf, "Transfer-Encoding: chunked\r\n"), "%s", buf);
  cr_assert(strstr(buf, "9\r\ndata: 1\n\n\r\n"), "%s", buf);
  close(fd);
  fd = dial(s.port);
  put(fd, "GET /stream HTTP/1.0\r\n\r\n");
  read_until(fd, "\x01", buf, sizeof buf); /* to EOF: the close ends the body */
  cr_assert(strstr(buf, "Connection: close\r\n"), "%s", buf);
  cr_assert(strstr(buf, "\r\n\r\ndata: 1\n\ndata: 2\n\n"), "%s", buf);
  cr_assert_null(strstr(buf, "Transfer-Encoding"), "%s", buf);
  close(fd);
  srv_stop(&s);
}

Test(http_server, answers_bad_input_itself_and_closes) {
  srv s;
  srv_start(&s, 100);
  char buf[8192];
  static const struct {
    const char *req, *status, *code;
  } cases[] = {
      {"GARBAGE\r\n\r\n", "400", "bad_request"},
      {"POST /echo HTTP/1.1\r\nContent-Length: 101\r\n\r\n", "413", "body_too_large"},
      {"POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n80\r\n", "413", "body_too_large"},
      {"PATCH /echo HTTP/1.1\r\n\r\n", "405", "method_not_allowed"},
      {"GET /echo HTTP/3.0\r\n\r\n", "505", "http_version"},
      {"GET nopath HTTP/1.1\r\n\r\n", "400", "invalid_path"},
      {"POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n", "400", "bad_chunked_body"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int fd = dial(s.port);
    put(fd, cases[i].req);
    if (strstr(cases[i].req, "\r\n80\r\n")) { /* a chunk over the limit arrives */
      char junk[200];
      memset(junk, 'x', sizeof junk);
      cr_assert_eq(write(fd, junk, sizeof junk), (ssize_t)sizeof junk);
    }
    read_until(fd, "\x01", buf, sizeof buf); /* the server closes after its answer */
    cr_assert(strncmp(buf + 9, cases[i].status, 3) == 0, "case %zu: %s", i, buf);
    cr_assert(strstr(buf, cases[i].code), "case %zu: %s", i, buf);
    cr_assert(strstr(buf, "Connection: close"), "case %zu: %s", i, buf);
    close(fd);
  }
  /* and it goes on serving */
  int fd = dial(s.port);
  put(fd, "GET /echo HTTP/1.1\r\n\r\n");
  read_until(fd, "body=", buf, sizeof buf);
  cr_assert(strstr(buf, "200 OK"), "%s", buf);
  close(fd);
  srv_stop(&s);
}

Test(http_server, a_client_that_leaves_is_noticed_while_the_handler_holds_its_request) {
  srv s;
  srv_start(&s, 1 << 16);
  int fd = dial(s.port);
  put(fd, "GET /hold HTTP/1.1\r\n\r\n");
  usleep(100000);
  close(fd);
  for (int i = 0; i < 100 && __atomic_load_n(&s.closes, __ATOMIC_SEQ_CST) == 0; i++) usleep(10000);
  cr_assert_eq(s.closes, 1, "the close callback ran once");
  srv_stop(&s);
}

/* ---------- client ---------- */

typedef struct result {
  int status, how, done;
  char body[4096];
  size_t n;
} result;

static void c_head(void *arg, int status, const char *ct) {
  (void)ct;
  ((result *)arg)->status = status;
}
static void c_data(void *arg, const char *p, size_t n) {
  result *r = arg;
  if (r->n + n < sizeof r->body) memcpy(r->body + r->n, p, n), r->n += n;
}
static void c_done(void *arg, int how) {
  result *r = arg;
  r->how = how;
  r->done = 1;
}
static const sc_hcall_cbs cbs = {c_head, c_data, c_done};

static void run_until(struct event_base *b, result *r) {
  for (int i = 0; i < 2000 && !r->done; i++) event_base_loop(b, EVLOOP_ONCE | EVLOOP_NONBLOCK), usleep(1000);
}

static int accepted;
static void count_handler(sc_hreq *r, void *arg) {
  (void)arg;
  size_t n;
  const char *b = sc_hreq_body(r, &n);
  if (strcmp(sc_hreq_path(r), "/stream") == 0) {
    sc_hreq_start(r, 200, "text/event-stream");
    sc_hreq_chunk(r, "data: a\n\n", 9);
    sc_hreq_chunk(r, "data: b\n\n", 9);
    return sc_hreq_end(r);
  }
  accepted++;
  sc_hreq_reply(r, 200, "application/json", b, n);
}

Test(http_client, posts_reuses_connections_and_relays_chunked_bodies) {
  struct event_base *b = event_base_new();
  sc_hsrv *hs;
  sc_err e;
  sc_hsrv_opts o = {.max_body = 1 << 16, .cb = count_handler};
  cr_assert_eq(sc_hsrv_create(b, &o, &hs, &e), 0);
  char addr[64];
  cr_assert_eq(sc_hsrv_listen(hs, "127.0.0.1", 0, addr, sizeof addr, &e), 0);
  int port = (int)strtol(strchr(addr, ':') + 1, NULL, 10);
  sc_hcli *cl = sc_hcli_create(b, 5000);
  for (int i = 0; i < 3; i++) {
    result r = {0};
    sc_hcli_post(cl, "127.0.0.1", port, "/echo", "X-A: 1\r\n", "{\"i\":1}", 7, &cbs, &r);
    run_until(b, &r);
    cr_assert_eq(r.how, SC_HCALL_OK);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(r.n, 7);
  }
  cr_assert_eq(accepted, 3);
  /* a streamed (chunked) answer arrives de-chunked */
  result r = {0};
  sc_hcli_post(cl, "127.0.0.1", port, "/stream", NULL, "{}", 2, &cbs, &r);
  run_until(b, &r);
  cr_assert_eq(r.how, SC_HCALL_OK);
  r.body[r.n] = 0;
  cr_assert_str_eq(r.body, "data: a\n\ndata: b\n\n");
  /* the server goes away: pooled connections die; a new call is UNSENT (nothing answered) */
  sc_hsrv_destroy(hs);
  result r2 = {0};
  sc_hcall *k = sc_hcli_post(cl, "127.0.0.1", port, "/echo", NULL, "{}", 2, &cbs, &r2);
  cr_assert_not_null(k);
  cr_assert_eq(r2.done, 0, "failures are reported from the loop, not from post");
  run_until(b, &r2);
  cr_assert_eq(r2.how, SC_HCALL_UNSENT);
  sc_hcli_destroy(cl);
  event_base_free(b);
}

Test(http_client, times_out_and_cancels_quietly) {
  struct event_base *b = event_base_new();
  /* a listener that never answers */
  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET};
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  cr_assert_eq(bind(lfd, (struct sockaddr *)&a, sizeof a), 0);
  listen(lfd, 8);
  socklen_t sl = sizeof a;
  getsockname(lfd, (struct sockaddr *)&a, &sl);
  sc_hcli *cl = sc_hcli_create(b, 200);
  result r = {0};
  int64_t t0 = sc_mono_ms();
  sc_hcli_post(cl, "127.0.0.1", ntohs(a.sin_port), "/x", NULL, "{}", 2, &cbs, &r);
  run_until(b, &r);
  cr_assert_eq(r.how, SC_HCALL_TIMEOUT);
  cr_assert_geq(sc_mono_ms() - t0, 190);
  result r2 = {0};
  sc_hcall *k = sc_hcli_post(cl, "127.0.0.1", ntohs(a.sin_port), "/x", NULL, "{}", 2, &cbs, &r2);
  sc_hcall_cancel(k);
  for (int i = 0; i < 50; i++) event_base_loop(b, EVLOOP_NONBLOCK), usleep(10000);
  cr_assert_eq(r2.done, 0, "no callback after cancel");
  sc_hcli_destroy(cl);
  close(lfd);
  event_base_free(b);
}

/* ---------- tunnels: upgrade on the server, adopted connections in the client ---------- */

static sc_hcli *tun_cli;
static void tunnel_handler(sc_hreq *r, void *arg) {
  (void)arg;
  int fd = sc_hreq_upgrade(r, "suanchi-tunnel");
  if (fd == SC_HUPGRADE_REFUSED) return sc_hreq_reply(r, 400, "text/plain", "refused", 7);
  if (fd >= 0) sc_hcli_adopt(tun_cli, "r1", fd);
}

/* Runs the loop until `want` came on fd (non-blocking reads in between). */
static char *pump_read(struct event_base *b, int fd, const char *want, char *buf, size_t cap) {
  size_t n = 0;
  buf[0] = 0;
  for (int i = 0; i < 3000 && !strstr(buf, want); i++) {
    event_base_loop(b, EVLOOP_ONCE | EVLOOP_NONBLOCK);
    ssize_t k = recv(fd, buf + n, cap - 1 - n, MSG_DONTWAIT);
    if (k > 0) n += (size_t)k, buf[n] = 0;
    else usleep(1000);
  }
  return buf;
}

/* A server on b whose every request becomes a tunnel of "r1" in tun_cli; *port gets its port. */
static sc_hsrv *tunnel_server(struct event_base *b, int *port) {
  sc_hsrv *hs;
  sc_err e;
  sc_hsrv_opts o = {.max_body = 1 << 16, .cb = tunnel_handler};
  cr_assert_eq(sc_hsrv_create(b, &o, &hs, &e), 0);
  char addr[64];
  cr_assert_eq(sc_hsrv_listen(hs, "127.0.0.1", 0, addr, sizeof addr, &e), 0);
  *port = (int)strtol(strchr(addr, ':') + 1, NULL, 10);
  return hs;
}

/* The "agent" side: dials, upgrades, and checks the 101; returns the socket. */
static int tunnel_dial(struct event_base *b, int port) {
  char buf[4096];
  int fd = dial(port);
  put(fd, "GET /t HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: suanchi-tunnel\r\n\r\n");
  pump_read(b, fd, "\r\n\r\n", buf, sizeof buf);
  cr_assert(strncmp(buf, "HTTP/1.1 101 ", 13) == 0, "%s", buf);
  cr_assert(strstr(buf, "Upgrade: suanchi-tunnel\r\n"), "%s", buf);
  return fd;
}

Test(http_tunnel, upgraded_connections_carry_calls_in_turn) {
  struct event_base *b = event_base_new();
  tun_cli = sc_hcli_create(b, 5000);
  /* no tunnel yet: nothing to send on */
  result r0 = {0};
  sc_hcli_post(tun_cli, "r1", 0, "/v1/x", NULL, "{}", 2, &cbs, &r0);
  run_until(b, &r0);
  cr_assert_eq(r0.how, SC_HCALL_UNSENT);
  int port;
  sc_hsrv *hs = tunnel_server(b, &port);
  char buf[4096];
  /* a request with a body cannot become a tunnel */
  int bad = dial(port);
  put(bad, "GET /t HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nab");
  cr_assert(strstr(pump_read(b, bad, "refused", buf, sizeof buf), "400"), "%s", buf);
  close(bad);
  /* the "agent" side dials and upgrades */
  int eng = tunnel_dial(b, port);
  cr_assert_eq(sc_hcli_conns(tun_cli, "r1", 0), 1);
  /* two calls, one connection: the second waits for the first */
  result ra = {0}, rb = {0}, rc = {0};
  sc_hcli_post(tun_cli, "r1", 0, "/v1/a", NULL, "{\"a\":1}", 7, &cbs, &ra);
  sc_hcli_post(tun_cli, "r1", 0, "/v1/b", NULL, "{\"b\":2}", 7, &cbs, &rb);
  sc_hcall *kc = sc_hcli_post(tun_cli, "r1", 0, "/v1/c", NULL, "{}", 2, &cbs, &rc);
  sc_hcall_cancel(kc); /* a waiting call can leave */
  pump_read(b, eng, "{\"a\":1}", buf, sizeof buf);
  cr_assert(strncmp(buf, "POST /v1/a HTTP/1.1\r\nHost: r1\r\n", 31) == 0, "%s", buf);
  cr_assert_null(strstr(buf, "/v1/b"), "b waits for the connection");
  put(eng, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nA");
  pump_read(b, eng, "{\"b\":2}", buf, sizeof buf);
  cr_assert(strstr(buf, "POST /v1/b"), "%s", buf);
  cr_assert_eq(ra.how, SC_HCALL_OK);
  cr_assert_eq(ra.n, 1);
  cr_assert_eq(ra.body[0], 'A');
  put(eng, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nB");
  run_until(b, &rb);
  cr_assert_eq(rb.how, SC_HCALL_OK);
  cr_assert_eq(rb.body[0], 'B');
  for (int i = 0; i < 20; i++) event_base_loop(b, EVLOOP_NONBLOCK), usleep(1000);
  cr_assert_eq(rc.done, 0, "no callback for the cancelled call");
  /* a call waits while the only tunnel is busy; the tunnel dies: both end, the waiting one UNSENT */
  result re = {0}, rf = {0};
  sc_hcli_post(tun_cli, "r1", 0, "/v1/e", NULL, "{}", 2, &cbs, &re);
  sc_hcli_post(tun_cli, "r1", 0, "/v1/f", NULL, "{}", 2, &cbs, &rf);
  pump_read(b, eng, "/v1/e", buf, sizeof buf);
  close(eng);
  run_until(b, &rf);
  run_until(b, &re);
  cr_assert_eq(rf.how, SC_HCALL_UNSENT, "the waiting call is not stuck");
  cr_assert(re.done);
  /* no tunnel left: the next call finds no connection */
  for (int i = 0; i < 200 && sc_hcli_conns(tun_cli, "r1", 0); i++) event_base_loop(b, EVLOOP_NONBLOCK), usleep(1000);
  cr_assert_eq(sc_hcli_conns(tun_cli, "r1", 0), 0);
  result rd = {0};
  sc_hcli_post(tun_cli, "r1", 0, "/v1/d", NULL, "{}", 2, &cbs, &rd);
  run_until(b, &rd);
  cr_assert_eq(rd.how, SC_HCALL_UNSENT);
  sc_hcli_destroy(tun_cli);
  sc_hsrv_destroy(hs);
  event_base_free(b);
}

static void pump_ms(struct event_base *b, int ms) {
  for (int64_t end = sc_mono_ms() + ms; sc_mono_ms() < end;) event_base_loop(b, EVLOOP_NONBLOCK), usleep(1000);
}

Test(http_tunnel, a_wait_for_a_tunnel_is_bounded_and_then_gets_a_full_timeout) {
  struct event_base *b = event_base_new();
  tun_cli = sc_hcli_create(b, 400);
  int port;
  sc_hsrv *hs = tunnel_server(b, &port);
  char buf[4096];
  int eng = tunnel_dial(b, port);
  /* B waits 250 ms of its 400 ms for A's connection, then still gets 400 ms for itself */
  result ra = {0}, rb = {0};
  sc_hcli_post(tun_cli, "r1", 0, "/v1/a", NULL, "{}", 2, &cbs, &ra);
  sc_hcli_post(tun_cli, "r1", 0, "/v1/b", NULL, "{}", 2, &cbs, &rb);
  pump_read(b, eng, "{}", buf, sizeof buf);
  pump_ms(b, 250);
  put(eng, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nA");
  pump_read(b, eng, "/v1/b", buf, sizeof buf);
  pump_ms(b, 250);
  put(eng, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nB");
  run_until(b, &rb);
  cr_assert_eq(ra.how, SC_HCALL_OK);
  cr_assert_eq(rb.how, SC_HCALL_OK, "the wait did not eat the call's timeout");
  /* D holds the connection and never gets an answer: D times out; C, still waiting, never reached an
   * engine and ends UNSENT (the gateway tries another replica) */
  result rc = {0}, rd = {0};
  sc_hcli_post(tun_cli, "r1", 0, "/v1/d", NULL, "{}", 2, &cbs, &rd);
  sc_hcli_post(tun_cli, "r1", 0, "/v1/c", NULL, "{}", 2, &cbs, &rc);
  run_until(b, &rc);
  run_until(b, &rd);
  cr_assert_eq(rc.how, SC_HCALL_UNSENT);
  cr_assert_eq(rd.how, SC_HCALL_TIMEOUT);
  close(eng);
  sc_hcli_destroy(tun_cli);
  sc_hsrv_destroy(hs);
  event_base_free(b);
}
