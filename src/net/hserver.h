/*
 * hserver.h — the HTTP/1.1 server of `suanchi serve`: its own sockets on a libevent loop, built for
 * the gateway's hot path (one read and one write per request on a keep-alive connection, no
 * epoll_ctl after the connection is set up) and used by every route of the listener.
 *
 * A connection carries one request at a time (pipelined requests wait their turn). The handler
 * gets an sc_hreq, may answer at once or later (after an upstream call), and must end every
 * request exactly once with sc_hreq_reply, sc_hreq_reply_file or sc_hreq_start…sc_hreq_end.
 * After that call the sc_hreq is gone. If the client disconnects before the answer ended, the
 * close callback (if set) runs once; the handler still ends the request (the answer is dropped).
 *
 * Bad input is answered by the server itself with the JSON error body and never reaches the
 * handler: malformed heads 400, heads over 64 KiB 431, bodies over max_body 413, unsupported
 * transfer codings 501, other HTTP versions 505, methods other than GET/POST/PUT/DELETE 405.
 *
 * Threading: everything runs on the loop thread of the event_base given to sc_hsrv_create.
 */
#ifndef SC_NET_HSERVER_H
#define SC_NET_HSERVER_H

#include <event2/event.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "base/err.h"

typedef struct sc_hsrv sc_hsrv;
typedef struct sc_hreq sc_hreq;

typedef enum sc_hmethod { SC_HGET = 1, SC_HPOST = 2, SC_HPUT = 4, SC_HDELETE = 8 } sc_hmethod;

typedef void (*sc_hsrv_cb)(sc_hreq *r, void *arg);

typedef struct sc_hsrv_opts {
  size_t max_body;        /* larger request bodies are answered 413 before they are read */
  int idle_timeout_ms;    /* a connection with no request in progress is closed after this (60 s) */
  sc_hsrv_cb cb;          /* every request */
  void *arg;
} sc_hsrv_opts;

int sc_hsrv_create(struct event_base *base, const sc_hsrv_opts *o, sc_hsrv **out, sc_err *e);

/* Listens on host:port (port 0: any); writes the bound "host:port" into bound. Accepted sockets
 * have TCP_NODELAY. */
int sc_hsrv_listen(sc_hsrv *s, const char *host, int port, char *bound, size_t cap, sc_err *e);

/* Closes the listeners and every connection. Requests still held by handlers must have ended
 * (their close callbacks run first, so handlers can end them). Accepts NULL. */
void sc_hsrv_destroy(sc_hsrv *s);

/* Stops accepting connections (the listeners close); existing ones go on. */
void sc_hsrv_stop_listening(sc_hsrv *s);

/* ---- the request (valid until it is ended) ---- */
sc_hmethod sc_hreq_method(const sc_hreq *r);
/* The path of the target, without the query: "/api/v1/nodes". NUL-terminated. */
const char *sc_hreq_path(const sc_hreq *r);
/* Query parameter `key`, percent-decoded ('+' is a space) into buf; NULL if absent, malformed or
 * longer than cap - 1. */
const char *sc_hreq_query(const sc_hreq *r, const char *key, char *buf, size_t cap);
/* Header `name` (case-insensitive) copied into buf; NULL if absent or longer than cap - 1. */
const char *sc_hreq_header(const sc_hreq *r, const char *name, char *buf, size_t cap);
/* The body (NUL-terminated; *len without the NUL). Never NULL. */
const char *sc_hreq_body(const sc_hreq *r, size_t *len);
/* Runs cb(arg) once if the client goes away before the request ended. */
void sc_hreq_on_close(sc_hreq *r, void (*cb)(void *arg), void *arg);
/* Whether the client has gone away. */
bool sc_hreq_gone(const sc_hreq *r);

/* ---- the answer ---- */
/* Adds a response header (copied); before the reply or sc_hreq_start. */
void sc_hreq_add_header(sc_hreq *r, const char *name, const char *value);
/* Answers with status, content type and body (copied); ends the request. */
void sc_hreq_reply(sc_hreq *r, int status, const char *content_type, const void *body, size_t len);
/* Answers with len bytes of file fd from offset off (sent with sendfile); takes fd (closed after). */
void sc_hreq_reply_file(sc_hreq *r, int status, const char *content_type, int fd, off_t off, size_t len);
/* A streamed answer: the head now, then chunks, then the end (chunked transfer coding; HTTP/1.0
 * clients get the bytes raw and the connection closes at the end). */
void sc_hreq_start(sc_hreq *r, int status, const char *content_type);
void sc_hreq_chunk(sc_hreq *r, const void *p, size_t n);
void sc_hreq_end(sc_hreq *r);

/* Switches the connection to another protocol (RFC 9110 §7.8): answers "101 Switching Protocols"
 * with "Upgrade: protocol", ends the request and hands the socket (non-blocking) to the caller,
 * who owns it from then on. Returns the socket; SC_HUPGRADE_REFUSED if the request cannot be
 * upgraded (it has a body, or more bytes follow it on the connection): the request is still held
 * and must be answered; SC_HUPGRADE_GONE if the connection failed: the request has ended. */
enum { SC_HUPGRADE_REFUSED = -1, SC_HUPGRADE_GONE = -2 };
int sc_hreq_upgrade(sc_hreq *r, const char *protocol);

/* The reason phrase of a status ("Not Found"). */
const char *sc_http_reason(int status);

#endif
