/*
 * http.h — helpers for the HTTP services on net/hserver.h: bounded body reading, JSON and error
 * replies in one format, bearer tokens, and the listen-address parser.
 *
 * Error bodies are always {"error":{"code":"...","message":"..."}} (the OpenAI shape adds "type";
 * sc_http_reply_error includes it too, so both REST and OpenAI clients read them).
 * All functions run on the event-loop thread that owns the request.
 */
#ifndef SC_NET_HTTP_H
#define SC_NET_HTTP_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "net/hserver.h"

/* Reads the request body (at most cap bytes) into a NUL-terminated buffer the caller frees.
 * Returns 0 or SC_ETOOBIG. */
int sc_http_body(sc_hreq *req, size_t cap, char **out, size_t *len);

/* Reads the body (at most cap bytes) and parses it as a JSON object (caller decrefs *out).
 * Errors: SC_ETOOBIG (code body_too_large) or SC_EINVAL (invalid_json), with e set. */
int sc_http_json_body(sc_hreq *req, size_t cap, json_t **out, sc_err *e);

/* Sends obj (reference stolen) as application/json with the given status. */
void sc_http_reply_json(sc_hreq *req, int status, json_t *obj);

/* Sends {"error":{"code":code,"message":msg,"type":type}}; type derived from status. */
void sc_http_reply_error(sc_hreq *req, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Maps an SC_E* code to its HTTP status (SC_EINVAL 400, SC_EAUTH 401, SC_EPERM 403, SC_ENOENT 404,
 * SC_EEXIST 409, SC_ETOOBIG 413, SC_EUNAVAIL 503, else 500) and sends e. */
void sc_http_reply_err(sc_hreq *req, int rc, const sc_err *e);

/* Sends plain text (e.g. /metrics). */
void sc_http_reply_text(sc_hreq *req, int status, const char *content_type, const char *body,
                        size_t len);

/* The token of an "Authorization: Bearer TOKEN" header, copied into buf; NULL if absent or too long. */
const char *sc_http_bearer(sc_hreq *req, char *buf, size_t cap);

/* TCP keepalive on a long-lived socket (30 s idle, 3 probes 10 s apart): a peer whose host vanished
 * without closing is noticed in about a minute. */
void sc_tcp_keepalive(int fd);

/* Splits "HOST:PORT" (or "[v6]:PORT") into host and port. Returns 0 or SC_EINVAL. */
int sc_parse_hostport(const char *s, char *host, size_t hostcap, int *port);


#endif
