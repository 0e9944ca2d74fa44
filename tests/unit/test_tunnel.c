/* Unit tests for the agent's tunnels (src/agent/tunnel.c) against a fake control plane and a fake
 * engine on real sockets: the upgrade request, bytes relayed both ways (also big ones), redial after
 * a close, backoff after a refusal, a server that never answers, bad server URLs. */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/tunnel.h"
#include "base/util.h"

static int listener(int *port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET};
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
  cr_assert_eq(listen(fd, 64), 0);
  socklen_t sl = sizeof a;
  getsockname(fd, (struct sockaddr *)&a, &sl);
  *port = ntohs(a.sin_port);
  return fd;
}

/* accept within ms, or -1 */
static int accept_within(int lfd, int ms) {
  struct pollfd p = {.fd = lfd, .events = POLLIN};
  if (poll(&p, 1, ms) != 1) return -1;
  int fd = accept(lfd, NULL, NULL);
  struct timeval tv = {5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

/* reads until `want` is in what came (or EOF/timeout) */
static char *read_until(int fd, const char *want, char *buf, size_t cap, size_t *got) {
  size_t n = 0;
  buf[0] = 0;
  while (n + 1 < cap && !memmem(buf, n, want, strlen(want))) {
    ssize_t r = read(fd, buf + n, cap - 1 - n);
    if (r <= 0) break;
    n += (size_t)r;
    buf[n] = 0;
  }
  if (got) *got = n;
  return buf;
}

/* whether the peer closed fd (read gives EOF within the 5 s receive timeout) */
static bool closed_by_peer(int fd) {
  char c;
  return read(fd, &c, 1) == 0;
}

static void put(int fd, const void *p, size_t n) {
  size_t off = 0;
  while (off < n) {
    ssize_t k = write(fd, (const char *)p + off, n - off);
    cr_assert_gt(k, 0);
    off += (size_t)k;
  }
}

/* Tunnels (one per replica) to a fake control plane *srv for replica id, whose engine is *eng;
 * returns them once the first dial arrived (*up). */
static sc_tunnels *start_fake(const char *id, const char *cred, int *srv, int *eng, int *up) {
  int sport, eport;
  *srv = listener(&sport);
  *eng = listener(&eport);
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/", sport);
  sc_tunnels *ts;
  sc_err e;
  cr_assert_eq(sc_tunnels_start(url, cred, 1, &ts, &e), 0, "%s", e.msg);
  sc_tunnel_target t = {.port = eport};
  snprintf(t.id, sizeof t.id, "%s", id);
  sc_tunnels_set(ts, &t, 1);
  *up = accept_within(*srv, 3000);
  cr_assert_geq(*up, 0, "the agent dialed");
  return ts;
}

Test(tunnel, relays_both_ways_and_dials_again) {
  int srv, eng, up;
  char buf[1 << 16];
  sc_tunnels *ts = start_fake("r1", "scn.0123456789abcdef.secret", &srv, &eng, &up);
  read_until(up, "\r\n\r\n", buf, sizeof buf, NULL);
  cr_assert(strncmp(buf, "GET /api/v1/agent/tunnel?replica=r1 HTTP/1.1\r\n", 46) == 0, "%s", buf);
  cr_assert(strstr(buf, "Authorization: Bearer scn.0123456789abcdef.secret\r\n"), "%s", buf);
  cr_assert(strstr(buf, "Upgrade: suanchi-tunnel\r\n"), "%s", buf);
  /* the 101 and the gateway's first request in one write */
  const char *first = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: suanchi-tunnel\r\n\r\nPOST /a";
  put(up, first, strlen(first));
  int en = accept_within(eng, 3000);
  cr_assert_geq(en, 0, "the agent connected to the engine");
  cr_assert_str_eq(read_until(en, "POST /a", buf, sizeof buf, NULL), "POST /a");
  for (int i = 0; i < 100 && sc_tunnels_linked(ts, "r1") != 1; i++) usleep(10000);
  cr_assert_eq(sc_tunnels_linked(ts, "r1"), 1);
  /* 4 MiB back, more than the relay buffers: it arrives whole and in order */
  size_t big = 4u << 20;
  char *data = malloc(big), *back = malloc(big);
  for (size_t i = 0; i < big; i++) data[i] = (char)(i * 7 + i / 4096);
  put(en, data, big);
  size_t got = 0;
  while (got < big) {
    ssize_t r = read(up, back + got, big - got);
    cr_assert_gt(r, 0);
    got += (size_t)r;
  }
  cr_assert(memcmp(data, back, big) == 0, "relayed bytes differ");
  free(data);
  free(back);
  /* the server side closes: the tunnel is gone and the agent dials a new one */
  close(up);
  up = accept_within(srv, 3000);
  cr_assert_geq(up, 0, "dialed again");
  read_until(up, "\r\n\r\n", buf, sizeof buf, NULL);
  cr_assert(strstr(buf, "replica=r1"));
  cr_assert(closed_by_peer(en), "the engine connection closed with the tunnel");
  close(en);
  /* no longer wanted: the pending tunnel closes */
  sc_tunnels_set(ts, NULL, 0);
  cr_assert(closed_by_peer(up), "closed when the replica is no longer served");
  close(up);
  sc_tunnels_stop(ts);
  close(srv);
  close(eng);
}

Test(tunnel, a_refusal_backs_off_and_a_silent_server_is_given_up) {
  int srv, eng, up;
  char buf[4096];
  sc_tunnels *ts = start_fake("r9", "scn.x.y", &srv, &eng, &up);
  read_until(up, "\r\n\r\n", buf, sizeof buf, NULL);
  const char *no = "HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nno";
  put(up, no, strlen(no));
  int64_t t0 = sc_mono_ms();
  int again = accept_within(srv, 3000);
  cr_assert_geq(again, 0, "dialed again after the refusal");
  cr_assert_geq(sc_mono_ms() - t0, 200, "after a backoff, not at once");
  close(up);
  cr_assert_eq(sc_tunnels_linked(ts, "r9"), 0);
  /* this one gets no answer at all: given up after 10 s and dialed again */
  read_until(again, "\r\n\r\n", buf, sizeof buf, NULL);
  int third = accept_within(srv, 13000);
  cr_assert_geq(third, 0, "a silent server does not hold the tunnel forever");
  close(again);
  close(third);
  sc_tunnels_stop(ts);
  close(srv);
  close(eng);
}

Test(tunnel, refuses_server_urls_it_cannot_dial) {
  sc_tunnels *ts;
  sc_err e;
  cr_assert_eq(sc_tunnels_start("https://cp.example:7700", "c", 1, &ts, &e), SC_EINVAL);
  cr_assert(strstr(e.msg, "http://"), "%s", e.msg);
  cr_assert_eq(sc_tunnels_start("http://", "c", 1, &ts, &e), SC_EINVAL);
  cr_assert_eq(sc_tunnels_start("http://127.0.0.1:notaport", "c", 1, &ts, &e), SC_EINVAL);
}
