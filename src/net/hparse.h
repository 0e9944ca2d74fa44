/*
 * hparse.h — HTTP/1.x message heads and chunked bodies, parsed from bytes that came off a socket.
 * Pure functions over slices: no allocation, no I/O, never reads past the length given. Used by
 * the server (net/hserver.c) and the upstream client (net/hclient.c); fuzzed by
 * tests/fuzz/fuzz_http.c.
 *
 * Strictness (request smuggling and garbage are refused, not guessed at): the request line is
 * METHOD SP TARGET SP HTTP/1.0|HTTP/1.1 with a token method and a visible-ASCII target; header
 * names are tokens, values are visible ASCII, SP, HTAB or obs-text; obsolete line folding, a
 * Content-Length that is not all digits or given twice with different values, a Transfer-Encoding
 * other than "chunked", and both Transfer-Encoding and Content-Length are errors. Lines end in
 * CRLF or a bare LF.
 */
#ifndef SC_NET_HPARSE_H
#define SC_NET_HPARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SC_HTTP_MAX_HEADERS 64

/* A slice of the buffer that was parsed: valid as long as that buffer is. Not NUL-terminated. */
typedef struct sc_hslice {
  const char *p;
  size_t n;
} sc_hslice;

typedef struct sc_http_head {
  sc_hslice method, target; /* requests */
  int status;               /* responses: 100..999 */
  int minor;                /* HTTP/1.minor: 0 or 1 */
  sc_hslice name[SC_HTTP_MAX_HEADERS], value[SC_HTTP_MAX_HEADERS]; /* values trimmed of SP/HTAB */
  int nh;
  size_t head_len;          /* bytes of the head, blank line included */
  int64_t content_length;   /* -1: none given */
  bool chunked;             /* Transfer-Encoding: chunked */
  bool close;               /* the connection ends after this message (Connection: close, or HTTP/1.0
                               without keep-alive) */
  bool expect_continue;     /* Expect: 100-continue */
} sc_http_head;

/* Parse results: SC_HP_DONE (head complete, h filled), SC_HP_MORE (need more bytes), or an error
 * with *why set to a static message and *status to the HTTP status to answer with (400, 431, 501,
 * 505). */
enum { SC_HP_DONE = 1, SC_HP_MORE = 0, SC_HP_ERROR = -1 };

/* A request head from p[0..n). Heads longer than max_head are SC_HP_ERROR with status 431. */
int sc_http_parse_request(const char *p, size_t n, size_t max_head, sc_http_head *h, int *status,
                          const char **why);

/* A response head from p[0..n) (HTTP/1.x NNN reason). status on error is 502. */
int sc_http_parse_response(const char *p, size_t n, size_t max_head, sc_http_head *h, int *status,
                           const char **why);

/* The value of header `name` (case-insensitive), or false. */
bool sc_http_head_get(const sc_http_head *h, const char *name, sc_hslice *out);

/* Incremental decoder of a chunked body. Zero-initialise it (or call _init) before the first byte. */
typedef struct sc_http_chunked {
  int state;
  uint64_t left;   /* bytes left in the current chunk */
  size_t line;     /* bytes of the current size or trailer line seen (bounded) */
} sc_http_chunked;

/* Feeds p[0..n) (n > 0) and consumes *used (>= 1) bytes of it, yielding at most one slice of body
 * data in *data and *dlen (dlen 0 if none). Returns SC_HP_MORE while the body goes on, SC_HP_DONE once
 * the last chunk and trailers ended (bytes after them are not consumed), or SC_HP_ERROR (*why set).
 * Callers loop:
 *     while (n) { rc = feed(c, p, n, &used, &d, &dl, &why); if (dl) use(d, dl); p += used; n -= used;
 *                 if (rc != SC_HP_MORE) break; } */
int sc_http_chunked_feed(sc_http_chunked *c, const char *p, size_t n, size_t *used, const char **data,
                         size_t *dlen, const char **why);

#endif
