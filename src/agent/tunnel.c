/*
 * tunnel.c — see tunnel.h.
 *
 * One tunnel's life (a socket to the control plane, `up`, and later one to the engine, `eng`):
 *
 *   DIAL ── connected: send the upgrade request ──> HANDSHAKE ── "101" ──> ENGINE (connect to
 *     │                                                │                127.0.0.1:port; bytes the
 *     └─ refused ──────────────────────────────────────┴─ other answer   gateway sends meanwhile
 *        (backoff)                                        (logged,       stay in the socket)
 *                                                          backoff)           │ connected
 *                                                                             v
 *                          closed <── EOF or error on either side ──── LINKED: bytes relayed
 *                       (dialed again)    (what the other side still        both ways
 *                                          has to get is flushed first:
 *                                          CLOSING)
 *
 * The relay works like the HTTP server (net/hserver.c): both sockets are registered once,
 * edge-triggered for reading and writing, and never touched in epoll again. Bytes read from one
 * side are sent to the other at once; only what the other side cannot take now is kept, and that
 * side's next writable edge sends it. A side stops being read while more than RELAY_HIGH bytes
 * wait for the other, and is read again once they are out. A request and its answer cost one
 * recv and one send each way.
 *
 * The loop thread owns every tunnel; other threads only swap in a new target list under `mu`,
 * which the loop's tick (every TICK_MS) picks up.
 */
#include "agent/tunnel.h"

#include <errno.h>
#include <event2/event.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"
#include "net/hparse.h"
#include "net/http.h"

#define MOD "tunnel"
#define TICK_MS 100
#define MAX_TARGETS 256
#define MAX_HANDSHAKE (16 << 10)
#define RELAY_HIGH (1 << 20)
#define SCRATCH (64 << 10)
#define SETUP_MS 10000 /* a tunnel not linked this long after its dial is given up (and dialed again) */
#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 5000 /* a restarted control plane gets its tunnels back within seconds */

enum { T_DIAL, T_HANDSHAKE, T_ENGINE, T_LINKED, T_CLOSING };

typedef struct target {
  sc_tunnel_target t;
  int open;            /* tunnels in any state */
  int linked;
  int fails;           /* consecutive failed dials */
  int64_t next_dial_ms;
} target;

typedef struct side {
  int fd;
  struct event *ev;
  char *out;           /* bytes waiting to be written to fd: out[off..len) */
  size_t off, len, cap;
  bool rd_ready;       /* an edge said readable and no read has hit EAGAIN since */
  bool eof;            /* the peer closed its end */
} side;

typedef struct tun {
  sc_tunnels *ts;
  struct tun *prev, *next;
  char id[40];
  int port;
  int state;
  int64_t dialed_ms;
  side up, eng;
  char *hs;            /* the server's answer to the upgrade request, while it comes */
  size_t hs_len;
} tun;

struct sc_tunnels {
  pthread_t th;
  struct event_base *base;
  struct event *tick;
  char host[256], cred[192];
  int port, per;
  struct sockaddr_storage sa;
  socklen_t salen;
  char scratch[SCRATCH];
  /* shared */
  pthread_mutex_t mu;
  sc_tunnel_target want[MAX_TARGETS];
  int nwant;
  bool dirty;
  atomic_bool stop;
  /* loop thread (linked counts are read under mu) */
  target cur[MAX_TARGETS];
  int ncur;
  tun *list;
};

static target *find_target(sc_tunnels *ts, const char *id) {
  for (int i = 0; i < ts->ncur; i++)
    if (strcmp(ts->cur[i].t.id, id) == 0) return &ts->cur[i];
  return NULL;
}

/* ---------- a tunnel ---------- */

static void side_free(side *s) {
  if (s->ev) event_free(s->ev);
  if (s->fd >= 0) close(s->fd);
  free(s->out);
}

static void tun_close(tun *t, bool failed) {
  sc_tunnels *ts = t->ts;
  pthread_mutex_lock(&ts->mu);
  target *g = find_target(ts, t->id);
  if (g) {
    g->open--;
    if (t->state == T_LINKED || t->state == T_CLOSING) g->linked--;
    if (failed) {
      int shift = g->fails < 7 ? g->fails : 7;
      int64_t wait = (int64_t)BACKOFF_MIN_MS << shift;
      g->next_dial_ms = sc_mono_ms() + (wait < BACKOFF_MAX_MS ? wait : BACKOFF_MAX_MS);
      g->fails++;
    }
  }
  pthread_mutex_unlock(&ts->mu);
  if (t->prev) t->prev->next = t->next;
  else ts->list = t->next;
  if (t->next) t->next->prev = t->prev;
  side_free(&t->up);
  side_free(&t->eng);
  free(t->hs);
  free(t);
}

static void out_append(side *s, const char *p, size_t n) {
  if (s->off && s->off == s->len) s->off = s->len = 0;
  if (s->len + n > s->cap) {
    if (s->off) { /* reuse the consumed front first */
      memmove(s->out, s->out + s->off, s->len - s->off);
      s->len -= s->off;
      s->off = 0;
    }
    if (s->len + n > s->cap) {
      s->cap = s->cap ? s->cap : 16384;
      while (s->cap < s->len + n) s->cap *= 2;
      s->out = sc_xrealloc(s->out, s->cap);
    }
  }
  memcpy(s->out + s->len, p, n);
  s->len += n;
}

static size_t pending(const side *s) { return s->len - s->off; }

/* Sends what waits for s. false: the socket failed. */
static bool flush_side(side *s) {
  while (s->off < s->len) {
    ssize_t n = send(s->fd, s->out + s->off, s->len - s->off, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno == EAGAIN || errno == EWOULDBLOCK;
    }
    s->off += (size_t)n;
  }
  s->off = s->len = 0;
  return true;
}

/* Reads from `from` and sends to `to` until from is drained, closed, or `to` is backed up.
 * false: a socket failed. */
static bool pump(sc_tunnels *ts, side *from, side *to) {
  while (from->rd_ready && !from->eof && pending(to) <= RELAY_HIGH) {
    ssize_t n = recv(from->fd, ts->scratch, SCRATCH, 0);
    if (n > 0) {
      size_t sent = 0;
      while (!pending(to) && sent < (size_t)n) { /* straight through when nothing is queued */
        ssize_t k = send(to->fd, ts->scratch + sent, (size_t)n - sent, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        if (k < 0) return false;
        sent += (size_t)k;
      }
      if (sent < (size_t)n) out_append(to, ts->scratch + sent, (size_t)n - sent);
      continue;
    }
    if (n == 0) from->eof = true;
    else if (errno == EAGAIN || errno == EWOULDBLOCK) from->rd_ready = false;
    else if (errno != EINTR) return false;
  }
  return true;
}

/* LINKED or CLOSING: move bytes both ways; close once a side ended and the other got everything. */
static void relay(tun *t) {
  sc_tunnels *ts = t->ts;
  if (!flush_side(&t->eng) || !flush_side(&t->up)) return tun_close(t, false);
  if (t->state == T_LINKED && (!pump(ts, &t->up, &t->eng) || !pump(ts, &t->eng, &t->up))) return tun_close(t, false);
  if (t->up.eof || t->eng.eof) {
    t->state = T_CLOSING; /* the side that ended sent its last bytes; the other gets them, then both close */
    if (!pending(t->up.eof ? &t->eng : &t->up)) return tun_close(t, false);
  }
}

static void on_ev(evutil_socket_t fd, short what, void *arg);

static bool side_open(tun *t, side *s, const struct sockaddr *sa, socklen_t salen) {
  s->fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s->fd < 0) return false;
  int one = 1;
  setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (s == &t->up) sc_tcp_keepalive(s->fd); /* the server's host may vanish without a FIN */
  if (connect(s->fd, sa, salen) != 0 && errno != EINPROGRESS) return false;
  s->ev = event_new(t->ts->base, s->fd, EV_READ | EV_WRITE | EV_ET | EV_PERSIST, on_ev, t);
  event_add(s->ev, NULL);
  return true;
}

static bool connected(int fd) {
  int err = 0;
  socklen_t el = sizeof err;
  return getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0 && err == 0;
}

/* Reads the server's answer to the upgrade request; on 101 connects to the engine. */
static void handshake(tun *t) {
  sc_tunnels *ts = t->ts;
  for (;;) {
    if (!t->hs) t->hs = sc_xmalloc(MAX_HANDSHAKE + 1);
    ssize_t n = recv(t->up.fd, t->hs + t->hs_len, MAX_HANDSHAKE - t->hs_len, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      t->up.rd_ready = false;
      return;
    }
    if (n <= 0) {
      sc_warn(MOD, "replica %s: the server at %s:%d closed the tunnel before answering", t->id, ts->host, ts->port);
      return tun_close(t, true);
    }
    t->hs_len += (size_t)n;
    sc_http_head h;
    int st;
    const char *why = NULL;
    int rc = sc_http_parse_response(t->hs, t->hs_len, MAX_HANDSHAKE, &h, &st, &why);
    if (rc == SC_HP_MORE && t->hs_len < MAX_HANDSHAKE) continue;
    if (rc != SC_HP_DONE) {
      sc_warn(MOD, "replica %s: the server at %s:%d did not answer HTTP (%s)", t->id, ts->host, ts->port,
              why ? why : "answer too long");
      return tun_close(t, true);
    }
    if (h.status != 101) {
      size_t bl = t->hs_len - h.head_len > 300 ? 300 : t->hs_len - h.head_len;
      sc_warn(MOD, "replica %s: the server refused a tunnel: %d %.*s", t->id, h.status, (int)bl, t->hs + h.head_len);
      return tun_close(t, true);
    }
    /* bytes after the head are the gateway's first request: they wait for the engine */
    if (t->hs_len > h.head_len) out_append(&t->eng, t->hs + h.head_len, t->hs_len - h.head_len);
    free(t->hs);
    t->hs = NULL;
    t->state = T_ENGINE;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)t->port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (!side_open(t, &t->eng, (struct sockaddr *)&sa, sizeof sa)) {
      sc_warn(MOD, "replica %s: cannot connect to the engine on 127.0.0.1:%d: %s", t->id, t->port, strerror(errno));
      return tun_close(t, true);
    }
    return;
  }
}

static void on_ev(evutil_socket_t fd, short what, void *arg) {
  tun *t = arg;
  side *s = fd == t->up.fd ? &t->up : &t->eng;
  if (what & EV_READ) s->rd_ready = true;
  switch (t->state) {
  case T_DIAL:
    if (!(what & EV_WRITE) && !(what & EV_READ)) return;
    if (!connected(t->up.fd)) {
      sc_warn(MOD, "replica %s: cannot connect to %s:%d", t->id, t->ts->host, t->ts->port);
      return tun_close(t, true);
    }
    t->state = T_HANDSHAKE;
    char req[1024];
    int n = snprintf(req, sizeof req,
                     "GET /api/v1/agent/tunnel?replica=%s HTTP/1.1\r\nHost: %s:%d\r\nAuthorization: Bearer %s\r\n"
                     "Connection: Upgrade\r\nUpgrade: suanchi-tunnel\r\n\r\n",
                     t->id, t->ts->host, t->ts->port, t->ts->cred);
    if (n < 0 || (size_t)n >= sizeof req) return tun_close(t, true); /* cannot happen with the fields' sizes */
    out_append(&t->up, req, (size_t)n);
    if (!flush_side(&t->up)) return tun_close(t, true);
    if (t->up.rd_ready) handshake(t);
    return;
  case T_HANDSHAKE:
    if (!flush_side(&t->up)) return tun_close(t, true);
    if (t->up.rd_ready) handshake(t);
    return;
  case T_ENGINE: /* the gateway's bytes stay in the up socket until the engine is connected */
    if (s != &t->eng || !(what & (EV_WRITE | EV_READ))) return;
    if (!connected(t->eng.fd)) {
      sc_warn(MOD, "replica %s: cannot reach the engine on 127.0.0.1:%d", t->id, t->port);
      return tun_close(t, true);
    }
    t->state = T_LINKED;
    pthread_mutex_lock(&t->ts->mu);
    target *g = find_target(t->ts, t->id);
    if (g) {
      g->linked++;
      g->fails = 0;
    }
    pthread_mutex_unlock(&t->ts->mu);
    t->up.rd_ready = true; /* an edge may have come and gone while connecting */
    return relay(t);
  default:
    return relay(t);
  }
}

static void dial(sc_tunnels *ts, target *g) {
  tun *t = sc_xcalloc(1, sizeof *t);
  t->ts = ts;
  sc_strlcpy(t->id, g->t.id, sizeof t->id);
  t->port = g->t.port;
  t->state = T_DIAL;
  t->dialed_ms = sc_mono_ms();
  t->up.fd = t->eng.fd = -1;
  t->next = ts->list;
  if (ts->list) ts->list->prev = t;
  ts->list = t;
  g->open++;
  if (!side_open(t, &t->up, (struct sockaddr *)&ts->sa, ts->salen)) {
    sc_warn(MOD, "replica %s: cannot connect to %s:%d: %s", t->id, ts->host, ts->port, strerror(errno));
    tun_close(t, true);
  }
}

/* ---------- the loop ---------- */

static void on_tick(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  sc_tunnels *ts = arg;
  if (atomic_load(&ts->stop)) {
    event_base_loopbreak(ts->base);
    return;
  }
  pthread_mutex_lock(&ts->mu);
  if (ts->dirty) { /* the new target list; counters carry over for ids kept */
    target next[MAX_TARGETS];
    for (int i = 0; i < ts->nwant; i++) {
      target *old = find_target(ts, ts->want[i].id);
      next[i] = old ? *old : (target){.t = ts->want[i]};
      next[i].t.port = ts->want[i].port;
    }
    memcpy(ts->cur, next, sizeof *next * (size_t)ts->nwant);
    ts->ncur = ts->nwant;
    ts->dirty = false;
  }
  pthread_mutex_unlock(&ts->mu);
  int64_t now = sc_mono_ms();
  for (tun *t = ts->list, *nx; t; t = nx) { /* tunnels of replicas no longer wanted or moved, and stuck dials */
    nx = t->next;
    target *g = find_target(ts, t->id);
    if (!g || g->t.port != t->port) {
      tun_close(t, false);
    } else if (t->state < T_LINKED && now - t->dialed_ms > SETUP_MS) {
      sc_warn(MOD, "replica %s: no tunnel after %d s (%s); dialing again", t->id, SETUP_MS / 1000,
              t->state == T_DIAL ? "no connection" : t->state == T_HANDSHAKE ? "the server did not answer"
                                                                              : "the engine did not accept");
      tun_close(t, true);
    }
  }
  for (int i = 0; i < ts->ncur; i++) {
    target *g = &ts->cur[i];
    while (g->open < ts->per && now >= g->next_dial_ms) {
      int before = g->open;
      dial(ts, g);
      if (g->open <= before) break; /* failed at once: backing off */
    }
  }
}

static void *loop_main(void *arg) {
  sc_tunnels *ts = arg;
  event_base_dispatch(ts->base);
  return NULL;
}

int sc_tunnels_start(const char *server, const char *credential, int per_replica, sc_tunnels **out, sc_err *e) {
  if (strncmp(server, "http://", 7) != 0)
    return sc_err_set(e, SC_EINVAL, "invalid_request", "tunnels need an http:// server URL, not '%s'", server);
  char hp[300];
  sc_strlcpy(hp, server + 7, sizeof hp);
  char *slash = strchr(hp, '/');
  if (slash) *slash = 0;
  sc_tunnels *ts = sc_xcalloc(1, sizeof *ts);
  if (sc_parse_hostport(hp, ts->host, sizeof ts->host, &ts->port) || ts->port <= 0) {
    free(ts);
    return sc_err_set(e, SC_EINVAL, "invalid_request", "cannot read host:port from the server URL '%s'", server);
  }
  char host[256];
  sc_strlcpy(host, ts->host, sizeof host);
  if (host[0] == '[') { /* [v6] */
    memmove(host, host + 1, strlen(host));
    host[strcspn(host, "]")] = 0;
  }
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai = NULL;
  char ps[16];
  snprintf(ps, sizeof ps, "%d", ts->port);
  int gai = getaddrinfo(host, ps, &hints, &ai);
  if (gai || !ai) {
    free(ts);
    return sc_err_set(e, SC_EUNAVAIL, "unavailable", "cannot resolve %s: %s", host, gai_strerror(gai));
  }
  memcpy(&ts->sa, ai->ai_addr, ai->ai_addrlen);
  ts->salen = ai->ai_addrlen;
  freeaddrinfo(ai);
  sc_strlcpy(ts->cred, credential, sizeof ts->cred);
  ts->per = per_replica > 0 ? per_replica : 1;
  pthread_mutex_init(&ts->mu, NULL);
  ts->base = event_base_new();
  ts->tick = event_new(ts->base, -1, EV_PERSIST, on_tick, ts);
  struct timeval tv = {0, TICK_MS * 1000};
  event_add(ts->tick, &tv);
  if (pthread_create(&ts->th, NULL, loop_main, ts)) {
    event_free(ts->tick);
    event_base_free(ts->base);
    pthread_mutex_destroy(&ts->mu);
    free(ts);
    return sc_err_set(e, SC_ENOMEM, "internal", "cannot start the tunnel thread");
  }
  *out = ts;
  return 0;
}

void sc_tunnels_set(sc_tunnels *ts, const sc_tunnel_target *v, int n) {
  if (n > MAX_TARGETS) n = MAX_TARGETS;
  pthread_mutex_lock(&ts->mu);
  bool same = n == ts->nwant;
  for (int i = 0; same && i < n; i++) same = ts->want[i].port == v[i].port && strcmp(ts->want[i].id, v[i].id) == 0;
  if (!same) {
    for (int i = 0; i < n; i++) {
      sc_strlcpy(ts->want[i].id, v[i].id, sizeof ts->want[i].id);
      ts->want[i].port = v[i].port;
    }
    ts->nwant = n;
    ts->dirty = true;
  }
  pthread_mutex_unlock(&ts->mu);
}

int sc_tunnels_linked(sc_tunnels *ts, const char *id) {
  pthread_mutex_lock(&ts->mu);
  target *g = ts->dirty ? NULL : find_target(ts, id);
  int n = g ? g->linked : -1;
  pthread_mutex_unlock(&ts->mu);
  return n;
}

void sc_tunnels_stop(sc_tunnels *ts) {
  if (!ts) return;
  atomic_store(&ts->stop, true);
  pthread_join(ts->th, NULL);
  while (ts->list) tun_close(ts->list, false);
  event_free(ts->tick);
  event_base_free(ts->base);
  pthread_mutex_destroy(&ts->mu);
  free(ts);
}
