/*
 * hserver.c — see hserver.h.
 *
 * Each connection is registered once with EV_READ|EV_WRITE|EV_ET|EV_PERSIST and never touched in
 * epoll again: reads go until a short read (with edge triggering a short read means the socket was
 * drained; new bytes raise a new edge), answers are written at once with send(), and only an
 * incomplete write waits for the EV_WRITE edge. A keep-alive request costs one read and one
 * write.
 *
 * Connection states:
 *
 *   READ ── head + body complete ──> ACTIVE (the handler holds the sc_hreq)
 *    ^                                  │ reply / end
 *    │                                  v
 *    └──── answer flushed ────────── FLUSH ── answer flushed, must close ──> LINGER ── EOF / 2 s ──> freed
 *
 *   Any state ── peer gone / write error ──> DEAD: the socket is closed at once; if the handler
 *   still holds the request, its close callback runs (from the loop, never inside a handler's own
 *   call) and the connection is freed when the handler ends the request.
 *
 * Buffers: `in` holds the bytes read; a request's head slices and body point into it and stay
 * valid while the request is ACTIVE, because nothing is read into `in` then (a read event only
 * peeks for EOF). A Content-Length body gets a NUL after it (the byte there is saved and put
 * back); a chunked body is decoded into its own buffer.
 */
#include "net/hserver.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"
#include "net/hparse.h"

#define MOD "http"
#define MAX_HEAD (64 << 10)
#define MAX_PATH 2048
#define LINGER_MS 2000
#define IN_MIN 4096

enum { C_READ, C_ACTIVE, C_FLUSH, C_LINGER, C_DEAD };

typedef struct conn conn;

struct sc_hreq {
  conn *c;
  sc_http_head h;
  sc_hmethod method;
  char path[MAX_PATH];
  sc_hslice query;
  const char *body;
  size_t body_len;
  char *ck_body;             /* decoded chunked body (owned) */
  size_t req_len;            /* bytes of `in` the request occupies (head + body as sent) */
  char saved;                /* the byte after a Content-Length body, replaced by NUL */
  bool restore;
  char *hdrs;                /* response headers added by the handler: "Name: value\r\n"... */
  size_t hdrs_len, hdrs_cap;
  bool streaming, chunked_out, ended;
  void (*close_cb)(void *);
  void *close_arg;
};

struct conn {
  sc_hsrv *s;
  conn *prev, *next;
  int fd;
  struct event *ev;
  int state;
  char *in;
  size_t in_len, in_cap;
  sc_http_chunked ck;       /* chunked request body: decoder state, */
  size_t ck_pos;            /* bytes of `in` it consumed, */
  size_t ck_len, ck_cap;    /* and the decoded bytes in req.ck_body */
  bool head_done, continue_sent;
  char *out;
  size_t out_len, out_cap, out_sent;
  int file_fd;
  off_t file_off;
  size_t file_left;
  bool rd_ready;            /* the socket may hold bytes not read yet */
  bool close_after;         /* close once this answer is out */
  bool keep_alive_10;       /* an HTTP/1.0 client asked for keep-alive */
  bool cb_pending;          /* queued for its close callback */
  bool flush_queued;        /* queued for a send at the end of this loop turn */
  conn *flush_next;
  int busy;                 /* frames of this file's code on the stack that use the connection */
  bool free_me;             /* freed when the outermost of them returns */
  conn *pending_next;
  int64_t last_ms;
  sc_hreq req;
};

typedef struct listener {
  int fd;
  struct event *ev;
} listener;

struct sc_hsrv {
  struct event_base *base;
  sc_hsrv_opts o;
  listener ls[4];
  int nls;
  conn *conns;
  conn *pending;            /* dead connections whose close callbacks are due */
  conn *flushq;             /* connections with streamed chunks to send */
  struct event *defer, *sweep, *resume, *flush_ev;
  int64_t accept_warn_ms;
};

static void advance(conn *c);
static void flush_soon(conn *c);
static void flush(conn *c);

/* ---------- buffers ---------- */

static void out_reserve(conn *c, size_t n) {
  if (c->out_len + n <= c->out_cap) return;
  size_t cap = c->out_cap ? c->out_cap : 1024;
  while (cap < c->out_len + n) cap *= 2;
  c->out = sc_xrealloc(c->out, cap);
  c->out_cap = cap;
}

static void out_add(conn *c, const void *p, size_t n) {
  out_reserve(c, n);
  memcpy(c->out + c->out_len, p, n);
  c->out_len += n;
}

/* ---------- connection lifetime ---------- */

static void req_reset(conn *c) {
  sc_hreq *r = &c->req;
  if (r->restore) c->in[r->req_len] = r->saved;
  free(r->ck_body);
  char *h = r->hdrs;
  size_t hc = r->hdrs_cap;
  memset(r, 0, sizeof *r);
  r->c = c;
  r->hdrs = h;
  r->hdrs_cap = hc;
  c->ck = (sc_http_chunked){0};
  c->ck_pos = c->ck_len = c->ck_cap = 0;
  c->head_done = c->continue_sent = false;
}

static void conn_free(conn *c) {
  sc_hsrv *s = c->s;
  if (c->flush_queued)
    for (conn **pp = &s->flushq; *pp; pp = &(*pp)->flush_next)
      if (*pp == c) {
        *pp = c->flush_next;
        break;
      }
  if (c->prev) c->prev->next = c->next;
  else if (s->conns == c) s->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  if (c->ev) event_free(c->ev);
  if (c->fd >= 0) close(c->fd);
  if (c->file_fd >= 0) close(c->file_fd);
  free(c->req.ck_body);
  free(c->req.hdrs);
  free(c->in);
  free(c->out);
  free(c);
}

/* Frees c now, or when the outermost frame using it returns. */
static void conn_release(conn *c) {
  if (c->busy) c->free_me = true;
  else conn_free(c);
}

/* The connection is unusable: close the socket now; the handler (if it holds the request) hears
 * of it from the loop and ends the request later. */
static void conn_kill(conn *c) {
  if (c->state == C_DEAD) return;
  bool held = c->state == C_ACTIVE && !c->req.ended;
  c->state = C_DEAD;
  if (c->ev) {
    event_free(c->ev);
    c->ev = NULL;
  }
  close(c->fd);
  c->fd = -1;
  if (c->file_fd >= 0) {
    close(c->file_fd);
    c->file_fd = -1;
  }
  if (!held) return conn_release(c);
  if (!c->cb_pending) {
    c->cb_pending = true;
    c->pending_next = c->s->pending;
    c->s->pending = c;
    event_active(c->s->defer, EV_TIMEOUT, 0);
  }
}

static void on_defer(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  sc_hsrv *s = arg;
  while (s->pending) {
    conn *c = s->pending;
    s->pending = c->pending_next;
    c->cb_pending = false;
    c->busy++;
    if (!c->req.ended && c->req.close_cb) {
      void (*cb)(void *) = c->req.close_cb;
      c->req.close_cb = NULL;
      cb(c->req.close_arg); /* may end the request */
    }
    c->busy--;
    if (c->req.ended || c->free_me) conn_free(c);
  }
}

/* The answer is complete and written out. */
static void answered(conn *c) {
  c->last_ms = sc_mono_ms();
  if (c->close_after) { /* drain what the client still sends so the close does not reset the answer */
    shutdown(c->fd, SHUT_WR);
    c->state = C_LINGER;
    c->rd_ready = true;
    return;
  }
  size_t used = c->req.req_len;
  req_reset(c);
  if (used < c->in_len) memmove(c->in, c->in + used, c->in_len - used);
  c->in_len -= used;
  c->state = C_READ;
}

/* Sends what is queued. Returns when all is out or the socket is full. */
static void flush(conn *c) {
  while (c->out_sent < c->out_len) {
    ssize_t n = send(c->fd, c->out + c->out_sent, c->out_len - c->out_sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      return conn_kill(c);
    }
    c->out_sent += (size_t)n;
    c->last_ms = sc_mono_ms(); /* a client that reads slowly is not idle */
  }
  c->out_len = c->out_sent = 0;
  while (c->file_left) {
    ssize_t n = sendfile(c->fd, c->file_fd, &c->file_off, c->file_left > (1u << 30) ? (1u << 30) : c->file_left);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      return conn_kill(c);
    }
    if (n == 0) return conn_kill(c); /* the file shrank under us */
    c->file_left -= (size_t)n;
    c->last_ms = sc_mono_ms();
  }
  if (c->file_fd >= 0) {
    close(c->file_fd);
    c->file_fd = -1;
  }
  if (c->state == C_FLUSH) answered(c);
}

static bool out_pending(const conn *c) { return c->out_len > c->out_sent || c->file_left; }

/* ---------- answers ---------- */

static void out_str(conn *c, const char *s) { out_add(c, s, strlen(s)); }

/* Decimal digits of v (>= 0) into buf; returns the length. */
static size_t dec(char *buf, uint64_t v) {
  char t[24];
  size_t n = 0;
  do t[n++] = (char)('0' + v % 10); while ((v /= 10));
  for (size_t i = 0; i < n; i++) buf[i] = t[n - 1 - i];
  return n;
}

/* The status line and headers (no printf: this runs for every answer). */
static void head(conn *c, int status, const char *ctype, int64_t content_length) {
  sc_hreq *r = &c->req;
  char num[24];
  if (status < 100 || status > 999) status = 500;
  out_add(c, "HTTP/1.1 ", 9);
  out_add(c, num, dec(num, (uint64_t)status));
  out_add(c, " ", 1);
  out_str(c, sc_http_reason(status));
  if (ctype) {
    out_add(c, "\r\nContent-Type: ", 16);
    out_str(c, ctype);
  }
  out_add(c, "\r\n", 2);
  if (r->hdrs_len) out_add(c, r->hdrs, r->hdrs_len);
  if (content_length >= 0) {
    out_add(c, "Content-Length: ", 16);
    out_add(c, num, dec(num, (uint64_t)content_length));
    out_add(c, "\r\n", 2);
  } else if (r->chunked_out) {
    out_add(c, "Transfer-Encoding: chunked\r\n", 28);
  }
  if (c->close_after) out_add(c, "Connection: close\r\n\r\n", 21);
  else if (c->keep_alive_10) out_add(c, "Connection: keep-alive\r\n\r\n", 26);
  else out_add(c, "\r\n", 2);
}

/* The request ended from the handler's side: write, then go on with the connection (the next
 * pipelined request is taken here only when the handler answered from outside this file). */
static void ended(conn *c) {
  c->req.ended = true;
  if (c->state == C_DEAD) {
    if (!c->cb_pending) conn_release(c);
    return;
  }
  bool outer = c->busy == 0;
  c->busy++;
  c->state = C_FLUSH;
  flush(c);
  if (outer) advance(c);
  c->busy--;
  if (!c->busy && c->free_me) conn_free(c);
}

int sc_hreq_upgrade(sc_hreq *r, const char *protocol) {
  conn *c = r->c;
  if (c->state == C_DEAD) {
    ended(c);
    return SC_HUPGRADE_GONE;
  }
  if (c->state != C_ACTIVE || r->streaming || r->body_len || c->in_len != r->req_len || out_pending(c))
    return SC_HUPGRADE_REFUSED;
  out_str(c, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ");
  out_str(c, protocol);
  out_str(c, "\r\n\r\n");
  /* nothing else is queued on the connection, so the short head goes out in one send */
  size_t len = c->out_len;
  ssize_t n;
  do n = send(c->fd, c->out, len, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  c->out_len = c->out_sent = 0;
  if (n != (ssize_t)len) {
    conn_kill(c);
    ended(c);
    return SC_HUPGRADE_GONE;
  }
  int fd = c->fd;
  event_free(c->ev);
  c->ev = NULL;
  c->fd = -1;
  c->state = C_DEAD;
  r->ended = true;
  conn_release(c);
  return fd;
}

void sc_hreq_add_header(sc_hreq *r, const char *name, const char *value) {
  size_t nl = strlen(name), vl = strlen(value);
  for (size_t i = 0; i < vl; i++)
    if (value[i] == '\r' || value[i] == '\n') return; /* no header injection */
  size_t need = r->hdrs_len + nl + vl + 4;
  if (need > r->hdrs_cap) {
    r->hdrs_cap = need * 2;
    r->hdrs = sc_xrealloc(r->hdrs, r->hdrs_cap);
  }
  memcpy(r->hdrs + r->hdrs_len, name, nl);
  memcpy(r->hdrs + r->hdrs_len + nl, ": ", 2);
  memcpy(r->hdrs + r->hdrs_len + nl + 2, value, vl);
  memcpy(r->hdrs + r->hdrs_len + nl + 2 + vl, "\r\n", 2);
  r->hdrs_len = need;
}

void sc_hreq_reply(sc_hreq *r, int status, const char *content_type, const void *body, size_t len) {
  conn *c = r->c;
  if (c->state != C_DEAD) {
    head(c, status, content_type, (int64_t)len);
    if (len) out_add(c, body, len);
  }
  ended(c);
}

void sc_hreq_reply_file(sc_hreq *r, int status, const char *content_type, int fd, off_t off, size_t len) {
  conn *c = r->c;
  if (c->state == C_DEAD) {
    close(fd);
    return ended(c);
  }
  head(c, status, content_type, (int64_t)len);
  c->file_fd = fd;
  c->file_off = off;
  c->file_left = len;
  ended(c);
}

void sc_hreq_start(sc_hreq *r, int status, const char *content_type) {
  conn *c = r->c;
  r->streaming = true;
  if (c->state == C_DEAD) return;
  if (r->h.minor == 0) c->close_after = true; /* no chunked coding for HTTP/1.0: the close ends the body */
  else r->chunked_out = true;
  head(c, status, content_type, -1);
  flush_soon(c);
}

/* Streamed bytes go out at the end of the loop turn, so the chunks one turn produced (tokens of a
 * batch, events of one upstream read) share one send. */
static void flush_soon(conn *c) {
  if (c->flush_queued) return;
  c->flush_queued = true;
  c->flush_next = c->s->flushq;
  c->s->flushq = c;
  event_active(c->s->flush_ev, EV_TIMEOUT, 0);
}

static void on_flush(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  sc_hsrv *s = arg;
  while (s->flushq) {
    conn *c = s->flushq;
    s->flushq = c->flush_next;
    c->flush_queued = false;
    if (c->state == C_DEAD) continue;
    c->busy++;
    int was = c->state;
    flush(c);
    if (was == C_FLUSH && c->state != C_FLUSH) advance(c);
    c->busy--;
    if (!c->busy && c->free_me) conn_free(c);
  }
}

void sc_hreq_chunk(sc_hreq *r, const void *p, size_t n) {
  conn *c = r->c;
  if (c->state == C_DEAD || !n) return;
  if (r->chunked_out) { /* the size line in hex, without printf (once per chunk) */
    char hx[20];
    size_t k = sizeof hx;
    hx[--k] = '\n';
    hx[--k] = '\r';
    for (size_t v = n; v; v >>= 4) hx[--k] = "0123456789abcdef"[v & 15];
    out_add(c, hx + k, sizeof hx - k);
    out_add(c, p, n);
    out_add(c, "\r\n", 2);
  } else {
    out_add(c, p, n);
  }
  flush_soon(c);
}

void sc_hreq_end(sc_hreq *r) {
  conn *c = r->c;
  if (c->state != C_DEAD && r->chunked_out) out_add(c, "0\r\n\r\n", 5);
  ended(c);
}

/* An answer from the server itself (bad input): JSON error body, then the connection closes. */
static void fail(conn *c, int status, const char *code, const char *msg) {
  char body[512];
  const char *type = status == 413 ? "invalid_request_error" : status >= 500 ? "server_error" : "invalid_request_error";
  int n = snprintf(body, sizeof body, "{\"error\":{\"code\":\"%s\",\"message\":\"%s\",\"type\":\"%s\"}}", code, msg, type);
  c->close_after = true;
  c->state = C_ACTIVE;
  c->req.ended = false;
  sc_hreq_reply(&c->req, status, "application/json", body, (size_t)n);
}

/* ---------- requests ---------- */

static int method_of(sc_hslice m) {
  if (m.n == 3 && memcmp(m.p, "GET", 3) == 0) return SC_HGET;
  if (m.n == 4 && memcmp(m.p, "POST", 4) == 0) return SC_HPOST;
  if (m.n == 3 && memcmp(m.p, "PUT", 3) == 0) return SC_HPUT;
  if (m.n == 6 && memcmp(m.p, "DELETE", 6) == 0) return SC_HDELETE;
  return 0;
}

/* The head is parsed: method, path, query, keep-alive. Returns false after answering an error. */
static bool take_head(conn *c) {
  sc_hreq *r = &c->req;
  r->method = (sc_hmethod)method_of(r->h.method);
  c->close_after = r->h.close;
  c->keep_alive_10 = r->h.minor == 0 && !r->h.close;
  sc_hslice t = r->h.target;
  if (t.n > 7 && strncasecmp(t.p, "http://", 7) == 0) { /* absolute form: drop scheme and authority */
    const char *sl = memchr(t.p + 7, '/', t.n - 7);
    if (!sl) t = (sc_hslice){"/", 1};
    else t = (sc_hslice){sl, t.n - (size_t)(sl - t.p)};
  }
  if (!t.n || t.p[0] != '/') return fail(c, 400, "invalid_path", "the request target must be a path"), false;
  const char *q = memchr(t.p, '?', t.n);
  size_t pl = q ? (size_t)(q - t.p) : t.n;
  if (pl >= MAX_PATH) return fail(c, 414, "uri_too_long", "the request path is too long"), false;
  memcpy(r->path, t.p, pl);
  r->path[pl] = 0;
  r->query = q ? (sc_hslice){q + 1, t.n - pl - 1} : (sc_hslice){NULL, 0};
  if (!r->method) return fail(c, 405, "method_not_allowed", "only GET, POST, PUT and DELETE are served"), false;
  if (r->h.content_length > (int64_t)c->s->o.max_body) {
    char msg[128];
    snprintf(msg, sizeof msg, "request body larger than %zu bytes", c->s->o.max_body);
    return fail(c, 413, "body_too_large", msg), false;
  }
  return true;
}

/* Tries to complete the request from `in`. Returns 1 (dispatched or answered), 0 (need bytes). */
static int parse(conn *c) {
  sc_hreq *r = &c->req;
  if (!c->head_done) {
    int st = 0;
    const char *why = NULL;
    int rc = sc_http_parse_request(c->in, c->in_len, MAX_HEAD, &r->h, &st, &why);
    if (rc == SC_HP_MORE) return 0;
    if (rc == SC_HP_ERROR) {
      fail(c, st, st == 431 ? "header_too_large" : st == 505 ? "http_version" : st == 501 ? "not_implemented" : "bad_request", why);
      return 1;
    }
    c->head_done = true;
    if (!take_head(c)) return 1;
    c->ck_pos = r->h.head_len;
  }
  size_t hl = r->h.head_len;
  bool body_expected = r->h.chunked || r->h.content_length > 0;
  if (r->h.chunked) {
    while (c->ck_pos < c->in_len) {
      size_t used, dl;
      const char *d, *why = NULL;
      int rc = sc_http_chunked_feed(&c->ck, c->in + c->ck_pos, c->in_len - c->ck_pos, &used, &d, &dl, &why);
      if (rc == SC_HP_ERROR) return fail(c, 400, "bad_chunked_body", why), 1;
      /* (decoded bytes are dropped from `in` below, so the raw framing never counts against the cap) */
      if (dl) {
        if (c->ck_len + dl > c->s->o.max_body) {
          char msg[128];
          snprintf(msg, sizeof msg, "request body larger than %zu bytes", c->s->o.max_body);
          return fail(c, 413, "body_too_large", msg), 1;
        }
        if (c->ck_len + dl + 1 > c->ck_cap) {
          c->ck_cap = (c->ck_len + dl + 1) * 2;
          r->ck_body = sc_xrealloc(r->ck_body, c->ck_cap);
        }
        memcpy(r->ck_body + c->ck_len, d, dl);
        c->ck_len += dl;
      }
      c->ck_pos += used;
      if (rc != SC_HP_DONE && c->ck_pos > hl) { /* what was decoded is copied out: drop it from `in` */
        memmove(c->in + hl, c->in + c->ck_pos, c->in_len - c->ck_pos);
        c->in_len -= c->ck_pos - hl;
        c->ck_pos = hl;
      }
      if (rc == SC_HP_DONE) {
        if (!r->ck_body) r->ck_body = sc_xmalloc(1);
        r->ck_body[c->ck_len] = 0;
        r->body = r->ck_body;
        r->body_len = c->ck_len;
        r->req_len = c->ck_pos;
        goto complete;
      }
    }
  } else {
    size_t bl = r->h.content_length > 0 ? (size_t)r->h.content_length : 0;
    if (c->in_len >= hl + bl) {
      r->req_len = hl + bl;
      r->body = c->in + hl;
      r->body_len = bl;
      r->saved = c->in[hl + bl]; /* in_cap > in_len always: the byte exists */
      r->restore = true;
      c->in[hl + bl] = 0;
      goto complete;
    }
  }
  if (body_expected && r->h.expect_continue && !c->continue_sent) {
    c->continue_sent = true;
    out_add(c, "HTTP/1.1 100 Continue\r\n\r\n", 25);
    flush(c);
  }
  return 0;
complete:
  c->state = C_ACTIVE;
  c->s->o.cb(r, c->s->o.arg);
  return 1;
}

/* The parsed head points into `in`; after `in` moved, so must the slices. */
static void rebase(sc_hreq *r, uintptr_t from, char *to) {
#define MOVE(ptr) (ptr) = (ptr) ? to + ((uintptr_t)(ptr) - from) : NULL
  MOVE(r->h.method.p);
  MOVE(r->h.target.p);
  MOVE(r->query.p);
  for (int i = 0; i < r->h.nh; i++) {
    MOVE(r->h.name[i].p);
    MOVE(r->h.value[i].p);
  }
#undef MOVE
}

/* Reads what the socket has (until a short read). Returns false if the connection died. */
static bool fill(conn *c) {
  size_t limit = MAX_HEAD + c->s->o.max_body * 2 + IN_MIN;
  while (c->rd_ready) {
    if (c->in_cap - c->in_len < IN_MIN / 2) {
      if (c->in_cap >= limit) return true; /* parse() will refuse what does not fit */
      size_t cap = c->in_cap ? c->in_cap * 2 : IN_MIN;
      uintptr_t old = (uintptr_t)c->in;
      c->in = sc_xrealloc(c->in, cap);
      c->in_cap = cap;
      if (c->head_done && old != (uintptr_t)c->in) rebase(&c->req, old, c->in);
    }
    size_t room = c->in_cap - c->in_len - 1; /* one byte kept for the body's NUL */
    ssize_t n = recv(c->fd, c->in + c->in_len, room, 0);
    if (n > 0) {
      c->in_len += (size_t)n;
      if ((size_t)n < room) c->rd_ready = false;
      c->last_ms = sc_mono_ms();
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      c->rd_ready = false;
      break;
    }
    conn_kill(c); /* EOF or error */
    return false;
  }
  return true;
}

/* Moves the connection on as far as it can go without waiting. */
static void advance(conn *c) {
  for (;;) {
    if (c->state == C_DEAD) return;
    if (c->state == C_LINGER) { /* read and drop until EOF */
      char junk[4096];
      for (;;) {
        ssize_t n = recv(c->fd, junk, sizeof junk, 0);
        if (n > 0) continue;
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        return conn_kill(c);
      }
    }
    if (c->state != C_READ) return;
    size_t before = c->in_len;
    if (c->in_len && parse(c)) continue; /* dispatched or answered: the state tells what next */
    if (c->state != C_READ) continue;
    if (!c->rd_ready) return;
    if (!fill(c)) return;
    if (c->in_len == before) { /* nothing new: the buffer is full */
      if (!c->head_done) fail(c, 431, "header_too_large", "request head too large");
      else fail(c, 413, "body_too_large", "request body too large");
    }
  }
}

static void on_conn(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  conn *c = arg;
  c->busy++;
  if (what & EV_READ) c->rd_ready = true;
  if ((what & EV_WRITE) && out_pending(c)) flush(c);
  if (c->state == C_ACTIVE && c->rd_ready) { /* the handler holds the request: only look for EOF */
    char b;
    ssize_t n = recv(c->fd, &b, 1, MSG_PEEK);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) conn_kill(c);
    else if (n < 0) c->rd_ready = false;
  } else {
    advance(c);
  }
  c->busy--;
  if (!c->busy && c->free_me) conn_free(c);
}

/* ---------- accepting ---------- */

static void on_resume(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  sc_hsrv *s = arg;
  for (int i = 0; i < s->nls; i++) event_add(s->ls[i].ev, NULL);
}

static void on_accept(evutil_socket_t lfd, short what, void *arg) {
  (void)what;
  sc_hsrv *s = arg;
  for (int k = 0; k < 128; k++) {
    int fd = accept4((int)lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        int64_t now = sc_mono_ms();
        if (now - s->accept_warn_ms > 10000) {
          sc_warn(MOD, "accept: %s; pausing new connections for 100 ms", strerror(errno));
          s->accept_warn_ms = now;
        }
        for (int i = 0; i < s->nls; i++) event_del(s->ls[i].ev);
        struct timeval tv = {0, 100000};
        event_add(s->resume, &tv);
      }
      return;
    }
    conn *c = sc_xcalloc(1, sizeof *c);
    c->s = s;
    c->fd = fd;
    c->file_fd = -1;
    c->req.c = c;
    c->state = C_READ;
    c->last_ms = sc_mono_ms();
    c->ev = event_new(s->base, fd, EV_READ | EV_WRITE | EV_ET | EV_PERSIST, on_conn, c);
    event_add(c->ev, NULL);
    c->next = s->conns;
    if (s->conns) s->conns->prev = c;
    s->conns = c;
  }
}

static void on_sweep(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  sc_hsrv *s = arg;
  int64_t now = sc_mono_ms();
  for (conn *c = s->conns, *next; c; c = next) {
    next = c->next;
    int64_t idle = now - c->last_ms;
    if ((c->state == C_READ || c->state == C_FLUSH) && idle > s->o.idle_timeout_ms) conn_kill(c);
    else if (c->state == C_LINGER && idle > LINGER_MS) conn_kill(c);
  }
}

int sc_hsrv_create(struct event_base *base, const sc_hsrv_opts *o, sc_hsrv **out, sc_err *e) {
  (void)e;
  sc_hsrv *s = sc_xcalloc(1, sizeof *s);
  s->base = base;
  s->o = *o;
  if (!s->o.idle_timeout_ms) s->o.idle_timeout_ms = 60000;
  if (!s->o.max_body) s->o.max_body = 1 << 20;
  s->defer = event_new(base, -1, 0, on_defer, s);
  s->resume = event_new(base, -1, 0, on_resume, s);
  s->sweep = event_new(base, -1, EV_PERSIST, on_sweep, s);
  s->flush_ev = event_new(base, -1, 0, on_flush, s);
  struct timeval sec = {1, 0};
  event_add(s->sweep, &sec);
  *out = s;
  return 0;
}

int sc_hsrv_listen(sc_hsrv *s, const char *host, int port, char *bound, size_t cap, sc_err *e) {
  if (s->nls == (int)(sizeof s->ls / sizeof s->ls[0]))
    return sc_err_set(e, SC_EINVAL, "listen_failed", "too many listeners");
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
  struct addrinfo *ai = NULL;
  char ps[16];
  snprintf(ps, sizeof ps, "%d", port);
  int gai = getaddrinfo(host, ps, &hints, &ai);
  if (gai) return sc_err_set(e, SC_EINVAL, "listen_failed", "cannot resolve %s: %s", host, gai_strerror(gai));
  int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1, err = 0;
  if (fd < 0) err = errno;
  if (!err) {
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* inherited by accepted sockets */
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 4096)) err = errno;
  }
  freeaddrinfo(ai);
  if (err) {
    if (fd >= 0) close(fd);
    return sc_err_set(e, -err, "listen_failed", "cannot listen on %s:%d: %s", host, port, strerror(err));
  }
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  getsockname(fd, (struct sockaddr *)&ss, &sl);
  char ip[INET6_ADDRSTRLEN];
  if (ss.ss_family == AF_INET6) {
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof ip);
    snprintf(bound, cap, "[%s]:%d", ip, ntohs(s6->sin6_port));
  } else {
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof ip);
    snprintf(bound, cap, "%s:%d", ip, ntohs(s4->sin_port));
  }
  listener *l = &s->ls[s->nls++];
  l->fd = fd;
  l->ev = event_new(s->base, fd, EV_READ | EV_PERSIST, on_accept, s);
  event_add(l->ev, NULL);
  return 0;
}

void sc_hsrv_stop_listening(sc_hsrv *s) {
  for (int i = 0; i < s->nls; i++) {
    event_free(s->ls[i].ev);
    close(s->ls[i].fd);
  }
  s->nls = 0;
}

void sc_hsrv_destroy(sc_hsrv *s) {
  if (!s) return;
  sc_hsrv_stop_listening(s);
  for (conn *c = s->conns; c; c = c->next) /* handlers still holding requests hear the close first */
    if (c->state == C_ACTIVE && !c->req.ended && c->req.close_cb) conn_kill(c);
  on_defer(-1, 0, s);
  while (s->conns) conn_free(s->conns);
  event_free(s->defer);
  event_free(s->resume);
  event_free(s->sweep);
  event_free(s->flush_ev);
  free(s);
}

/* ---------- request accessors ---------- */

sc_hmethod sc_hreq_method(const sc_hreq *r) { return r->method; }
const char *sc_hreq_path(const sc_hreq *r) { return r->path; }

const char *sc_hreq_body(const sc_hreq *r, size_t *len) {
  if (len) *len = r->body_len;
  return r->body ? r->body : "";
}

const char *sc_hreq_header(const sc_hreq *r, const char *name, char *buf, size_t cap) {
  sc_hslice v;
  if (!sc_http_head_get(&r->h, name, &v) || v.n >= cap) return NULL;
  memcpy(buf, v.p, v.n);
  buf[v.n] = 0;
  return buf;
}

static int hexval(char ch) {
  return ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
}

const char *sc_hreq_query(const sc_hreq *r, const char *key, char *buf, size_t cap) {
  size_t kl = strlen(key), i = 0;
  const char *q = r->query.p;
  size_t n = r->query.n;
  while (q && i < n) {
    size_t e = i;
    while (e < n && q[e] != '&') e++;
    if (e - i > kl && memcmp(q + i, key, kl) == 0 && q[i + kl] == '=') {
      size_t o = 0;
      for (size_t k = i + kl + 1; k < e; k++) {
        char ch = q[k];
        if (ch == '+') ch = ' ';
        else if (ch == '%') {
          if (k + 2 >= e) return NULL;
          int hi = hexval(q[k + 1]), lo = hexval(q[k + 2]);
          if (hi < 0 || lo < 0) return NULL;
          ch = (char)(hi * 16 + lo);
          k += 2;
        }
        if (!ch || o + 1 >= cap) return NULL;
        buf[o++] = ch;
      }
      buf[o] = 0;
      return buf;
    }
    if (e - i == kl && memcmp(q + i, key, kl) == 0) { /* "key" alone: empty value */
      if (cap < 1) return NULL;
      buf[0] = 0;
      return buf;
    }
    i = e + 1;
  }
  return NULL;
}

void sc_hreq_on_close(sc_hreq *r, void (*cb)(void *arg), void *arg) {
  r->close_cb = cb;
  r->close_arg = arg;
}

bool sc_hreq_gone(const sc_hreq *r) { return r->c->state == C_DEAD; }

const char *sc_http_reason(int status) {
  switch (status) {
  case 100: return "Continue";
  case 200: return "OK";
  case 201: return "Created";
  case 204: return "No Content";
  case 206: return "Partial Content";
  case 400: return "Bad Request";
  case 401: return "Unauthorized";
  case 403: return "Forbidden";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 409: return "Conflict";
  case 413: return "Payload Too Large";
  case 414: return "URI Too Long";
  case 416: return "Range Not Satisfiable";
  case 417: return "Expectation Failed";
  case 429: return "Too Many Requests";
  case 431: return "Request Header Fields Too Large";
  case 500: return "Internal Server Error";
  case 501: return "Not Implemented";
  case 502: return "Bad Gateway";
  case 503: return "Service Unavailable";
  case 504: return "Gateway Timeout";
  case 505: return "HTTP Version Not Supported";
  default: return status >= 500 ? "Server Error" : status >= 400 ? "Client Error" : "OK";
  }
}
