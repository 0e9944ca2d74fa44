/*
 * client.h — a blocking JSON-over-HTTP client (libcurl) for the CLI and the agent.
 *
 * One sc_client keeps one curl handle, so consecutive calls reuse the connection (keep-alive).
 * Not thread-safe: one client per thread.
 */
#ifndef SC_NET_CLIENT_H
#define SC_NET_CLIENT_H

#include <jansson.h>

#include "base/err.h"

typedef struct sc_client sc_client;

/* base: "http://host:port" (a trailing slash is ignored). token: bearer credential or NULL.
 * timeout_ms: whole-request timeout. Returns NULL only if curl cannot start. */
sc_client *sc_client_create(const char *base, const char *token, long timeout_ms);
void sc_client_destroy(sc_client *c);
void sc_client_set_token(sc_client *c, const char *token);

/* Calls METHOD base+path with body (may be NULL; not stolen) and parses a JSON reply.
 * Returns 0 with *status and *reply (caller decrefs; NULL when the reply body is empty) for any
 * HTTP status; SC_EUNAVAIL when the server cannot be reached (e says why); SC_EFORMAT when the
 * reply is not JSON. */
int sc_client_call(sc_client *c, const char *method, const char *path, const json_t *body, long *status,
                   json_t **reply, sc_err *e);

/* The same with a raw body of len bytes sent as content_type (NULL: no body). */
int sc_client_call_raw(sc_client *c, const char *method, const char *path, const void *data, size_t len,
                       const char *content_type, long *status, json_t **reply, sc_err *e);

/* For a non-2xx reply: fills e from the standard error body, or a generic message. */
void sc_client_reply_error(long status, const json_t *reply, sc_err *e);

#endif
