/*
 * hclient.c — see hclient.h.
 *
 * A connection is registered once with EV_READ|EV_WRITE|EV_ET|EV_PERSIST. A call on a pooled
 * connection is one send() of the whole request and, usually, one recv() of the whole response.
 *
 *   post ── idle connection? ──yes──> send ──> READING ── complete ──> done(OK); connection back
 *     │                                  │                               to the pool (keep-alive)
 *     └─no──> connect ── writable ───────┘       └─ EOF before any byte on a pooled connection:
 *                                                   once more on a new connection, else UNSENT
 *
 * Responses are parsed with net/hparse.h and their body handed to cbs->data as it arrives, so a
 * connection's buffer holds at most a head and one read.
 *
 * Tunnel upstreams (port 0) never connect: their connections are sockets given to sc_hcli_adopt.
 * A call finds an idle one, or waits in the upstream's queue (FIFO) until one is parked or
 * adopted; with no connection at all it fails UNSENT at once, and so do the waiting calls when
 * the last one closes.
 */
#include "net/hclient.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"
#include "net/hparse.h"
#include "net/http.h"

#define MOD "http"
#define MAX_RESP_HEAD (64 << 10)
#define MAX_IDLE 1024
#define TUNNEL_WAIT_MS 10000 /* longest wait for a free tunnel connection; then UNSENT (try elsewhere) */

typedef struct hconn hconn;

typedef struct upstream {
  char host[128];
  int port;
  char head[224];    /* " HTTP/1.1\r\nHost: ...\r\nContent-Type: application/json\r\nContent-Length: " */
  size_t head_len;
  struct sockaddr_storage sa;
  socklen_t salen;
  bool resolved;
  hconn *idle;       /* LIFO, doubly linked */
  int nidle;
  int nconns;        /* idle and busy */
  bool tunnel;       /* port 0: connections come from sc_hcli_adopt only */
  sc_hcall *wait_head, *wait_tail; /* calls waiting for a tunnel connection */
} upstream;

struct hconn {
  sc_hcli *cl;
  upstream *up;
  int fd;
  struct event *ev;
  hconn *iprev, *inext;
  sc_hcall *call;    /* NULL: idle */
  bool connecting;
  char *in;
  size_t in_len, in_cap;
};

struct sc_hcall {
  sc_hcli *cl;
  upstream *up;
  hconn *cn;
  sc_hcall_cbs cbs;
  void *arg;
  struct event *tmo;   /* the timeout; made active at once to report an early failure from the loop */
  int early;           /* that failure (SC_HCALL_*), 0 if none */
  char *req;
  size_t req_cap, req_len, req_sent;
  sc_hcall *next_free;
  sc_hcall *wait_prev, *wait_next;
  bool waiting;        /* in up's wait queue */
  bool reused, retried, started, head_done, chunked, until_close, cancelled;
  int64_t body_left;
  sc_http_chunked ck;
  int busy;            /* inside a callback: cancel only marks */
};

struct sc_hcli {
  struct event_base *base;
  int64_t timeout_ms;
  upstream **ups;
  int nups;
  sc_hcall *free_calls;     /* ended calls kept for reuse (with their buffer and timer) */
  int nfree;
};

/* ---------- connections ---------- */

static void fail_later(sc_hcall *k, int how);
static void attach(sc_hcall *k, bool fresh);

static void wait_unlink(sc_hcall *k) {
  upstream *up = k->up;
  if (k->wait_prev) k->wait_prev->wait_next = k->wait_next;
  else up->wait_head = k->wait_next;
  if (k->wait_next) k->wait_next->wait_prev = k->wait_prev;
  else up->wait_tail = k->wait_prev;
  k->wait_prev = k->wait_next = NULL;
  k->waiting = false;
}

/* A tunnel upstream lost its last connection: nothing will come for the calls waiting on it. */
static void fail_waiters(upstream *up) {
  while (up->wait_head) {
    sc_hcall *k = up->wait_head;
    wait_unlink(k);
    fail_later(k, SC_HCALL_UNSENT);
  }
}

/* (Re)starts the call's timer: ms from now. */
static void arm(sc_hcall *k, int64_t ms) {
  struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
  event_add(k->tmo, &tv);
}

/* An idle connection is there: the first waiting call takes it, with its full timeout from now. */
static void serve_waiter(upstream *up) {
  if (!up->wait_head || !up->idle) return;
  sc_hcall *k = up->wait_head;
  wait_unlink(k);
  arm(k, k->cl->timeout_ms);
  attach(k, false);
}

static void conn_close(hconn *cn) {
  if (!cn) return;
  if (!cn->call && (cn->iprev || cn->inext || cn->up->idle == cn)) { /* unlink from the idle list */
    if (cn->iprev) cn->iprev->inext = cn->inext;
    else cn->up->idle = cn->inext;
    if (cn->inext) cn->inext->iprev = cn->iprev;
    cn->up->nidle--;
  }
  if (cn->ev) event_free(cn->ev);
  if (cn->fd >= 0) close(cn->fd);
  free(cn->in);
  upstream *up = cn->up;
  free(cn);
  if (--up->nconns == 0) fail_waiters(up);
}

static void conn_park(hconn *cn) {
  upstream *up = cn->up;
  cn->call = NULL;
  if (up->nidle >= MAX_IDLE) return conn_close(cn);
  cn->in_len = 0;
  cn->iprev = NULL;
  cn->inext = up->idle;
  if (up->idle) up->idle->iprev = cn;
  up->idle = cn;
  up->nidle++;
  serve_waiter(up);
}

static void on_conn(evutil_socket_t fd, short what, void *arg);

static int resolve(upstream *up) {
  struct sockaddr_in *s4 = (struct sockaddr_in *)&up->sa;
  struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&up->sa;
  memset(&up->sa, 0, sizeof up->sa);
  if (inet_pton(AF_INET, up->host, &s4->sin_addr) == 1) {
    s4->sin_family = AF_INET;
    s4->sin_port = htons((uint16_t)up->port);
    up->salen = sizeof *s4;
  } else if (inet_pton(AF_INET6, up->host, &s6->sin6_addr) == 1) {
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons((uint16_t)up->port);
    up->salen = sizeof *s6;
  } else {
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai = NULL;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", up->port);
    if (getaddrinfo(up->host, ps, &hints, &ai) || !ai) return -1;
    memcpy(&up->sa, ai->ai_addr, ai->ai_addrlen);
    up->salen = ai->ai_addrlen;
    freeaddrinfo(ai);
  }
  up->resolved = true;
  return 0;
}

static hconn *conn_wrap(sc_hcli *cl, upstream *up, int fd, bool connecting) {
  hconn *cn = sc_xcalloc(1, sizeof *cn);
  cn->cl = cl;
  cn->up = up;
  cn->fd = fd;
  cn->connecting = connecting;
  cn->ev = event_new(cl->base, fd, EV_READ | EV_WRITE | EV_ET | EV_PERSIST, on_conn, cn);
  event_add(cn->ev, NULL);
  up->nconns++;
  return cn;
}

/* A new connection (connect in progress), or NULL. */
static hconn *conn_new(sc_hcli *cl, upstream *up) {
  if (!up->resolved && resolve(up)) return NULL;
  int fd = socket(up->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
  if (fd < 0) return NULL;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  bool connecting = false;
  if (connect(fd, (struct sockaddr *)&up->sa, up->salen) != 0) {
    if (errno != EINPROGRESS) {
      up->resolved = false; /* names are looked up again after a failure */
      close(fd);
      return NULL;
    }
    connecting = true;
  }
  return conn_wrap(cl, up, fd, connecting);
}

/* ---------- calls ---------- */

/* Ends a call's life: kept for the next post (timer and request buffer included) or freed. */
static void call_free(sc_hcall *k) {
  sc_hcli *cl = k->cl;
  event_del(k->tmo);
  if (cl->nfree < 256 && k->req_cap <= (64u << 10)) {
    k->next_free = cl->free_calls;
    cl->free_calls = k;
    cl->nfree++;
    return;
  }
  event_free(k->tmo);
  free(k->req);
  free(k);
}

/* Ends the call: the connection goes back to the pool (reuse) or is closed, then done runs. */
static void call_end(sc_hcall *k, int how, bool reuse) {
  if (k->waiting) wait_unlink(k);
  hconn *cn = k->cn;
  k->cn = NULL;
  if (cn) {
    cn->call = NULL;
    if (reuse) conn_park(cn);
    else conn_close(cn);
  }
  if (k->cancelled) return call_free(k);
  k->busy++;
  k->cbs.done(k->arg, how);
  call_free(k);
}

/* Report a failure from the loop, not from the caller's stack. */
static void fail_later(sc_hcall *k, int how) {
  k->early = how;
  event_active(k->tmo, EV_TIMEOUT, 0);
}

static int send_req(sc_hcall *k);

/* Puts the call on a connection: a pooled one, else a new one (a tunnel's call waits for one). */
static void attach(sc_hcall *k, bool fresh) {
  upstream *up = k->up;
  hconn *cn = NULL;
  if (up->tunnel && !up->idle) {
    if (!up->nconns) return fail_later(k, SC_HCALL_UNSENT);
    k->waiting = true;
    arm(k, k->cl->timeout_ms < TUNNEL_WAIT_MS ? k->cl->timeout_ms : TUNNEL_WAIT_MS);
    k->wait_prev = up->wait_tail;
    if (up->wait_tail) up->wait_tail->wait_next = k;
    else up->wait_head = k;
    up->wait_tail = k;
    return;
  }
  if ((!fresh || up->tunnel) && up->idle) {
    cn = up->idle;
    up->idle = cn->inext;
    if (up->idle) up->idle->iprev = NULL;
    cn->inext = cn->iprev = NULL;
    up->nidle--;
    k->reused = true;
  } else {
    cn = conn_new(k->cl, up);
    k->reused = false;
    if (!cn) return fail_later(k, SC_HCALL_UNSENT);
  }
  cn->call = k;
  cn->in_len = 0;
  k->cn = cn;
  k->req_sent = 0;
  if (!cn->connecting) send_req(k);
}

/* The connection failed before any response byte: once more on a new connection if the engine
 * had closed a pooled one, else the caller hears of it from the loop. */
static void unsent(sc_hcall *k) {
  hconn *cn = k->cn;
  k->cn = NULL;
  cn->call = NULL;
  conn_close(cn);
  if (k->reused && !k->retried) {
    k->retried = true;
    return attach(k, true);
  }
  fail_later(k, SC_HCALL_UNSENT);
}

/* Sends what is left of the request. Returns -1 if the connection failed (the call moved to
 * another connection or waits for its failure report). */
static int send_req(sc_hcall *k) {
  hconn *cn = k->cn;
  while (k->req_sent < k->req_len) {
    ssize_t n = send(cn->fd, k->req + k->req_sent, k->req_len - k->req_sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
      unsent(k);
      return -1;
    }
    k->req_sent += (size_t)n;
  }
  return 0;
}

/* Hands body bytes to the caller. Returns false if the call was cancelled meanwhile. */
static bool deliver(sc_hcall *k, const char *p, size_t n) {
  if (!n) return true;
  k->busy++;
  k->cbs.data(k->arg, p, n);
  k->busy--;
  return !k->cancelled;
}

/* Works through cn->in. Returns false once the call ended (or was cancelled). */
static bool process(sc_hcall *k) {
  hconn *cn = k->cn;
  size_t off = 0;
  while (!k->head_done) {
    sc_http_head h;
    int st;
    const char *why = NULL;
    int rc = sc_http_parse_response(cn->in + off, cn->in_len - off, MAX_RESP_HEAD, &h, &st, &why);
    if (rc == SC_HP_MORE) goto keep;
    if (rc == SC_HP_ERROR) {
      sc_warn(MOD, "%s:%d answered something that is not HTTP: %s", k->up->host, k->up->port, why);
      call_end(k, SC_HCALL_BROKEN, false);
      return false;
    }
    off += h.head_len;
    if (h.status < 200) continue; /* 100 Continue and friends */
    k->head_done = true;
    k->chunked = h.chunked;
    k->body_left = h.content_length;
    k->until_close = h.close;
    if (h.status == 204 || h.status == 304) k->body_left = 0, k->chunked = false;
    else if (!h.chunked && h.content_length < 0) k->until_close = true, k->body_left = -1;
    char ct[96] = "";
    sc_hslice v;
    if (sc_http_head_get(&h, "Content-Type", &v) && v.n < sizeof ct) {
      memcpy(ct, v.p, v.n);
      ct[v.n] = 0;
    }
    k->busy++;
    k->cbs.head(k->arg, h.status, ct);
    k->busy--;
    if (k->cancelled) goto cancelled;
  }
  if (k->chunked) {
    while (off < cn->in_len) {
      size_t used, dl;
      const char *d, *why = NULL;
      int rc = sc_http_chunked_feed(&k->ck, cn->in + off, cn->in_len - off, &used, &d, &dl, &why);
      if (rc == SC_HP_ERROR) {
        sc_warn(MOD, "%s:%d sent a malformed chunked body: %s", k->up->host, k->up->port, why);
        call_end(k, SC_HCALL_BROKEN, false);
        return false;
      }
      if (!deliver(k, d, dl)) goto cancelled;
      off += used;
      if (rc == SC_HP_DONE) { /* reused only if nothing is left over either way */
        call_end(k, SC_HCALL_OK, !k->until_close && off == cn->in_len && k->req_sent == k->req_len);
        return false;
      }
    }
  } else if (k->body_left >= 0) {
    size_t take = cn->in_len - off;
    if ((int64_t)take > k->body_left) take = (size_t)k->body_left;
    if (!deliver(k, cn->in + off, take)) goto cancelled;
    off += take;
    k->body_left -= (int64_t)take;
    if (!k->body_left) { /* an early answer with part of the request unsent: the connection is not reusable */
      call_end(k, SC_HCALL_OK, !k->until_close && off == cn->in_len && k->req_sent == k->req_len);
      return false;
    }
  } else { /* until the engine closes */
    if (!deliver(k, cn->in + off, cn->in_len - off)) goto cancelled;
    off = cn->in_len;
  }
keep:
  if (off) {
    memmove(cn->in, cn->in + off, cn->in_len - off);
    cn->in_len -= off;
  }
  return true;
cancelled:
  call_end(k, SC_HCALL_BROKEN, false);
  return false;
}

static void on_eof(sc_hcall *k) {
  if (!k->started) return unsent(k);
  if (k->head_done && k->body_left < 0 && !k->chunked) return call_end(k, SC_HCALL_OK, false);
  call_end(k, SC_HCALL_BROKEN, false);
}

static void read_resp(sc_hcall *k) {
  hconn *cn = k->cn;
  for (;;) {
    if (cn->in_cap - cn->in_len < 2048) {
      if (!k->head_done && cn->in_cap >= MAX_RESP_HEAD * 2) return call_end(k, SC_HCALL_BROKEN, false);
      cn->in_cap = cn->in_cap ? cn->in_cap * 2 : 8192;
      cn->in = sc_xrealloc(cn->in, cn->in_cap);
    }
    size_t room = cn->in_cap - cn->in_len;
    ssize_t n = recv(cn->fd, cn->in + cn->in_len, room, 0);
    if (n > 0) {
      cn->in_len += (size_t)n;
      k->started = true;
      if (!process(k)) return;
      if ((size_t)n < room) return;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    return on_eof(k);
  }
}

static void on_conn(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  hconn *cn = arg;
  sc_hcall *k = cn->call;
  if (!k) { /* idle: readable means the engine closed it (or sent junk); either way it is done */
    if (what & EV_READ) conn_close(cn);
    return;
  }
  if (cn->connecting) {
    int err = 0;
    socklen_t el = sizeof err;
    if (getsockopt(cn->fd, SOL_SOCKET, SO_ERROR, &err, &el) || err) {
      cn->up->resolved = false;
      return unsent(k);
    }
    if (!(what & EV_WRITE)) return;
    cn->connecting = false;
  }
  if (k->req_sent < k->req_len && send_req(k) < 0) return;
  if (what & EV_READ) read_resp(k);
}

static void on_tmo(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  sc_hcall *k = arg;
  if (k->early) return call_end(k, k->early, false);
  if (k->waiting) return call_end(k, SC_HCALL_UNSENT, false); /* never reached an engine: try elsewhere */
  call_end(k, SC_HCALL_TIMEOUT, false);
}

static char *put(char *w, const void *p, size_t n) {
  if (n) memcpy(w, p, n);
  return w + n;
}

/* The upstream host:port (found or added). */
static upstream *upstream_get(sc_hcli *cl, const char *host, int port) {
  for (int i = 0; i < cl->nups; i++)
    if (cl->ups[i]->port == port && strcmp(cl->ups[i]->host, host) == 0) return cl->ups[i];
  upstream *up = sc_xcalloc(1, sizeof *up);
  sc_strlcpy(up->host, host, sizeof up->host);
  up->port = port;
  up->tunnel = port == 0;
  bool v6 = strchr(host, ':') != NULL; /* Host: [::1]:8000 */
  if (up->tunnel)
    up->head_len = (size_t)snprintf(up->head, sizeof up->head,
                                    " HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: ", up->host);
  else
    up->head_len = (size_t)snprintf(up->head, sizeof up->head,
                                    " HTTP/1.1\r\nHost: %s%s%s:%d\r\nContent-Type: application/json\r\nContent-Length: ",
                                    v6 ? "[" : "", up->host, v6 ? "]" : "", port);
  cl->ups = sc_xrealloc(cl->ups, sizeof *cl->ups * (size_t)(cl->nups + 1));
  cl->ups[cl->nups++] = up;
  return up;
}

void sc_hcli_adopt(sc_hcli *cl, const char *name, int fd) {
  upstream *up = upstream_get(cl, name, 0);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sc_tcp_keepalive(fd); /* an agent's host that vanishes leaves a half-open socket */
  hconn *cn = conn_wrap(cl, up, fd, false);
  conn_park(cn);
}

int sc_hcli_conns(sc_hcli *cl, const char *host, int port) {
  for (int i = 0; i < cl->nups; i++)
    if (cl->ups[i]->port == port && strcmp(cl->ups[i]->host, host) == 0) return cl->ups[i]->nconns;
  return 0;
}

sc_hcall *sc_hcli_post(sc_hcli *cl, const char *host, int port, const char *path, const char *xhdr,
                       const char *body, size_t n, const sc_hcall_cbs *cbs, void *arg) {
  upstream *up = upstream_get(cl, host, port);
  sc_hcall *k = cl->free_calls;
  struct event *tmo = NULL;
  char *req = NULL;
  size_t req_cap = 0;
  if (k) {
    cl->free_calls = k->next_free;
    cl->nfree--;
    tmo = k->tmo;
    req = k->req;
    req_cap = k->req_cap;
    memset(k, 0, sizeof *k);
  } else {
    k = sc_xcalloc(1, sizeof *k);
  }
  k->cl = cl;
  k->up = up;
  k->cbs = *cbs;
  k->arg = arg;
  /* the request head without printf (it runs for every call) */
  size_t pl = strlen(path), xl = xhdr ? strlen(xhdr) : 0, cap = 5 + pl + up->head_len + 24 + xl + 2 + n;
  if (cap > req_cap) {
    free(req);
    req = sc_xmalloc(req_cap = cap);
  }
  k->req = req;
  k->req_cap = req_cap;
  char *w = req;
  w = put(w, "POST ", 5);
  w = put(w, path, pl);
  w = put(w, up->head, up->head_len);
  char digits[24];
  size_t nd = 0;
  for (size_t v = n;; v /= 10) {
    digits[nd++] = (char)('0' + v % 10);
    if (v < 10) break;
  }
  while (nd) *w++ = digits[--nd];
  w = put(w, "\r\n", 2);
  w = put(w, xhdr, xl);
  w = put(w, "\r\n", 2);
  w = put(w, body, n);
  k->req_len = (size_t)(w - req);
  k->tmo = tmo ? tmo : event_new(cl->base, -1, 0, on_tmo, k);
  arm(k, cl->timeout_ms);
  attach(k, false);
  return k;
}

void sc_hcall_cancel(sc_hcall *k) {
  if (k->busy) {
    k->cancelled = true;
    return;
  }
  if (k->waiting) wait_unlink(k);
  hconn *cn = k->cn;
  if (cn) {
    cn->call = NULL;
    conn_close(cn);
  }
  call_free(k);
}


sc_hcli *sc_hcli_create(struct event_base *base, int64_t timeout_ms) {
  sc_hcli *cl = sc_xcalloc(1, sizeof *cl);
  cl->base = base;
  cl->timeout_ms = timeout_ms > 0 ? timeout_ms : 300000;
  return cl;
}

void sc_hcli_destroy(sc_hcli *cl) {
  if (!cl) return;
  for (int i = 0; i < cl->nups; i++) {
    while (cl->ups[i]->idle) conn_close(cl->ups[i]->idle);
    free(cl->ups[i]);
  }
  while (cl->free_calls) {
    sc_hcall *k = cl->free_calls;
    cl->free_calls = k->next_free;
    event_free(k->tmo);
    free(k->req);
    free(k);
  }
  free(cl->ups);
  free(cl);
}
