/*
 * hclient.h — the gateway's HTTP/1.1 client to engines: keep-alive connection pools per upstream,
 * its own sockets on a libevent loop (one write and one read per call on a pooled connection),
 * responses with Content-Length, chunked or close-delimited bodies, delivered as they arrive.
 *
 * A call ends exactly once through cbs->done, never from inside sc_hcli_post (a failure to connect
 * is reported from the loop), and not at all after sc_hcall_cancel. A pooled connection the engine
 * had closed while idle is retried once on a new connection, invisibly.
 *
 * Threading: the loop thread of the event_base given to sc_hcli_create.
 */
#ifndef SC_NET_HCLIENT_H
#define SC_NET_HCLIENT_H

#include <event2/event.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sc_hcli sc_hcli;
typedef struct sc_hcall sc_hcall;

/* How a call ended (cbs->done): */
enum {
  SC_HCALL_OK = 0,        /* a complete response */
  SC_HCALL_UNSENT = 1,    /* the connection failed before any byte of a response: safe to try elsewhere */
  SC_HCALL_BROKEN = 2,    /* the response started, then the connection failed or the body was malformed */
  SC_HCALL_TIMEOUT = 3    /* no complete response within the timeout */
};

typedef struct sc_hcall_cbs {
  /* The response head: status and Content-Type ("" if none). */
  void (*head)(void *arg, int status, const char *content_type);
  /* Body bytes, de-chunked; p is valid during the call only. */
  void (*data)(void *arg, const char *p, size_t n);
  /* The end; the call is freed after this returns. */
  void (*done)(void *arg, int how);
} sc_hcall_cbs;

/* timeout_ms bounds each call from its start to its last byte. */
sc_hcli *sc_hcli_create(struct event_base *base, int64_t timeout_ms);
/* Closes the pooled connections. Calls in flight must have been cancelled (sc_hcall_cancel) or
 * ended first. Accepts NULL. */
void sc_hcli_destroy(sc_hcli *c);

/* POSTs body to http://host:port/path. xhdr: extra header lines, each "Name: value\r\n" (may be
 * NULL). host is an IP address or a name (resolved once per upstream, blocking). Returns the
 * call; it stays valid until done runs or it is cancelled. */
sc_hcall *sc_hcli_post(sc_hcli *c, const char *host, int port, const char *path, const char *xhdr,
                       const char *body, size_t n, const sc_hcall_cbs *cbs, void *arg);

/* Tunnels: a socket connected to an engine some other way (an agent behind NAT dialed in, see
 * docs/internals/tunnels.md) joins the pool of upstream (name, port 0); sc_hcli_post(name, 0)
 * calls use those connections only, waiting (FIFO, at most 10 s or the timeout if shorter; the
 * timeout starts again once a connection is free) while all are busy, and fail UNSENT when there
 * is none or the wait ran out. The socket gets TCP keepalive. Takes fd. */
void sc_hcli_adopt(sc_hcli *c, const char *name, int fd);
/* Connections (idle and busy) to host:port. */
int sc_hcli_conns(sc_hcli *c, const char *host, int port);

/* Abandons the call: its connection is closed (the engine sees the client leave); no callback runs.
 * Safe from inside the call's own head/data callbacks. */
void sc_hcall_cancel(sc_hcall *k);

#endif
