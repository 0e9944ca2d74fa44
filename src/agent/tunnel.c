/*
 * tunnel.c — see tunnel.h.
 *
 * One tunnel's life (a bufferevent to the control plane, `up`, and later one to the engine, `eng`):
 *
 *   DIAL ── connected: send the upgrade request ──> HANDSHAKE ── "101" ──> ENGINE (connect to
 *     │                                                │                127.0.0.1:port; bytes the
 *     └─ refused ──────────────────────────────────────┴─ other answer   gateway sends meanwhile
 *        (backoff)                                        (logged,       wait in up's input)
 *                                                          backoff)           │ connected
 *                                                                             v
 *                          closed <── EOF or error on either side ──── LINKED: bytes relayed
 *                       (dialed again)    (the other side's output          both ways
 *                                          is flushed first)
 *
 * Backpressure: a side stops reading while the other side has more than RELAY_HIGH bytes
 * waiting to be written, and resumes once they are out.
 *
 * The loop thread owns every tunnel; other threads only swap in a new target list under `mu`,
 * which the loop's tick (every TICK_MS) picks up.
 */
#include "agent/tunnel.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
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

#include "base/log.h"
#include "base/util.h"
#include "net/hparse.h"
#include "net/http.h"

#define MOD "tunnel"
#define TICK_MS 100
#define MAX_TARGETS 256
#define MAX_HANDSHAKE (16 << 10)
#define RELAY_HIGH (1 << 20)
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

typedef struct tun {
  sc_tunnels *ts;
  struct tun *prev, *next;
  char id[40];
  int port;
  struct bufferevent *up, *eng;
  int state;
} tun;

struct sc_tunnels {
  pthread_t th;
  struct event_base *base;
  struct event *tick;
  char host[256], cred[192];
  int port, per;
  struct sockaddr_storage sa;
  socklen_t salen;
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
  if (t->up) bufferevent_free(t->up);
  if (t->eng) bufferevent_free(t->eng);
  free(t);
}

static void relay(tun *t, struct bufferevent *from, struct bufferevent *to) {
  struct evbuffer *out = bufferevent_get_output(to);
  evbuffer_add_buffer(out, bufferevent_get_input(from));
  if (evbuffer_get_length(out) > RELAY_HIGH) bufferevent_disable(from, EV_READ);
  (void)t;
}

static void on_read(struct bufferevent *b, void *arg) {
  tun *t = arg;
  if (t->state == T_LINKED) relay(t, b, b == t->up ? t->eng : t->up);
}

/* Output of b drained: the other side may read again; a closing tunnel is done. */
static void on_write(struct bufferevent *b, void *arg) {
  tun *t = arg;
  if (t->state == T_CLOSING) return tun_close(t, false);
  if (t->state != T_LINKED) return;
  bufferevent_enable(b == t->up ? t->eng : t->up, EV_READ);
}

static void on_event(struct bufferevent *b, short what, void *arg) {
  tun *t = arg;
  if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))) return;
  if (t->state == T_LINKED) { /* what the closing side sent last still goes out to the other */
    struct bufferevent *other = b == t->up ? t->eng : t->up;
    relay(t, b, other);
    if (evbuffer_get_length(bufferevent_get_output(other))) {
      t->state = T_CLOSING;
      bufferevent_disable(b, EV_READ);
      bufferevent_disable(other, EV_READ);
      return;
    }
    return tun_close(t, false);
  }
  if (t->state == T_CLOSING) return tun_close(t, false);
  if (t->state == T_DIAL || t->state == T_HANDSHAKE)
    sc_warn(MOD, "replica %s: tunnel to %s:%d failed: %s", t->id, t->ts->host, t->ts->port,
            t->state == T_DIAL ? "cannot connect" : "closed before the server answered");
  else
    sc_warn(MOD, "replica %s: cannot reach the engine on 127.0.0.1:%d", t->id, t->port);
  tun_close(t, true);
}

static void linked(tun *t) {
  t->state = T_LINKED;
  sc_tunnels *ts = t->ts;
  pthread_mutex_lock(&ts->mu);
  target *g = find_target(ts, t->id);
  if (g) {
    g->linked++;
    g->fails = 0;
  }
  pthread_mutex_unlock(&ts->mu);
  bufferevent_setcb(t->up, on_read, on_write, on_event, t);
  bufferevent_enable(t->eng, EV_READ);
  bufferevent_enable(t->up, EV_READ);
  relay(t, t->up, t->eng); /* what the gateway sent while the engine connection was being made */
}

static void on_engine_event(struct bufferevent *b, short what, void *arg) {
  tun *t = arg;
  if (t->state == T_ENGINE && (what & BEV_EVENT_CONNECTED)) {
    int one = 1;
    setsockopt(bufferevent_getfd(b), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    bufferevent_setcb(b, on_read, on_write, on_event, t);
    return linked(t);
  }
  on_event(b, what, arg);
}

/* The server's answer to the upgrade request. */
static void on_handshake(struct bufferevent *b, void *arg) {
  tun *t = arg;
  if (t->state != T_HANDSHAKE) return; /* T_ENGINE: the gateway's bytes wait in the input */
  struct evbuffer *in = bufferevent_get_input(b);
  size_t n = evbuffer_get_length(in);
  const char *p = (const char *)evbuffer_pullup(in, -1);
  sc_http_head h;
  int st;
  const char *why = NULL;
  int rc = sc_http_parse_response(p, n, MAX_HANDSHAKE, &h, &st, &why);
  if (rc == SC_HP_MORE) return;
  if (rc == SC_HP_ERROR) {
    sc_warn(MOD, "replica %s: the server at %s:%d did not answer HTTP (%s)", t->id, t->ts->host, t->ts->port, why);
    return tun_close(t, true);
  }
  if (h.status != 101) {
    size_t bl = n - h.head_len > 300 ? 300 : n - h.head_len;
    sc_warn(MOD, "replica %s: the server refused a tunnel: %d %.*s", t->id, h.status, (int)bl, p + h.head_len);
    return tun_close(t, true);
  }
  evbuffer_drain(in, h.head_len);
  t->state = T_ENGINE;
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)t->port)};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  t->eng = bufferevent_socket_new(t->ts->base, -1, BEV_OPT_CLOSE_ON_FREE);
  bufferevent_setcb(t->eng, NULL, NULL, on_engine_event, t);
  bufferevent_setwatermark(t->eng, EV_WRITE, 0, 0);
  if (bufferevent_socket_connect(t->eng, (struct sockaddr *)&sa, sizeof sa) < 0) {
    sc_warn(MOD, "replica %s: cannot connect to the engine on 127.0.0.1:%d", t->id, t->port);
    tun_close(t, true);
  }
}

static void on_up_event(struct bufferevent *b, short what, void *arg) {
  tun *t = arg;
  if (t->state == T_DIAL && (what & BEV_EVENT_CONNECTED)) {
    int one = 1;
    setsockopt(bufferevent_getfd(b), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    t->state = T_HANDSHAKE;
    evbuffer_add_printf(bufferevent_get_output(b),
                        "GET /api/v1/agent/tunnel?replica=%s HTTP/1.1\r\nHost: %s:%d\r\nAuthorization: Bearer %s\r\n"
                        "Connection: Upgrade\r\nUpgrade: suanchi-tunnel\r\n\r\n",
                        t->id, t->ts->host, t->ts->port, t->ts->cred);
    return;
  }
  if (t->state == T_ENGINE && (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))) return tun_close(t, false);
  on_event(b, what, arg);
}

static void dial(sc_tunnels *ts, target *g) {
  tun *t = sc_xcalloc(1, sizeof *t);
  t->ts = ts;
  sc_strlcpy(t->id, g->t.id, sizeof t->id);
  t->port = g->t.port;
  t->state = T_DIAL;
  t->next = ts->list;
  if (ts->list) ts->list->prev = t;
  ts->list = t;
  g->open++;
  t->up = bufferevent_socket_new(ts->base, -1, BEV_OPT_CLOSE_ON_FREE);
  bufferevent_setcb(t->up, on_handshake, on_write, on_up_event, t);
  bufferevent_setwatermark(t->up, EV_WRITE, 0, 0);
  bufferevent_enable(t->up, EV_READ);
  if (bufferevent_socket_connect(t->up, (struct sockaddr *)&ts->sa, (int)ts->salen) < 0) {
    sc_warn(MOD, "replica %s: cannot connect to %s:%d", t->id, ts->host, ts->port);
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
  for (tun *t = ts->list, *nx; t; t = nx) { /* tunnels of replicas no longer wanted, or moved */
    nx = t->next;
    target *g = find_target(ts, t->id);
    if (!g || g->t.port != t->port) tun_close(t, false);
  }
  int64_t now = sc_mono_ms();
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
