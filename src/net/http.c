/* http.c — see http.h. */
#include "net/http.h"
#include "base/json.h"
#include "base/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

int sc_http_body(sc_hreq *req, size_t cap, char **out, size_t *len) {
  size_t n;
  const char *b = sc_hreq_body(req, &n);
  if (n > cap) return SC_ETOOBIG;
  char *buf = sc_xmalloc(n + 1);
  memcpy(buf, b, n + 1);
  *out = buf;
  if (len) *len = n;
  return 0;
}

int sc_http_json_body(sc_hreq *req, size_t cap, json_t **out, sc_err *e) {
  char *buf = NULL;
  size_t len = 0;
  if (sc_http_body(req, cap, &buf, &len))
    return sc_err_set(e, SC_ETOOBIG, "body_too_large", "request body larger than %zu bytes", cap);
  int rc = sc_json_parse_object(buf, len, out, e);
  free(buf);
  return rc;
}

void sc_http_reply_json(sc_hreq *req, int status, json_t *obj) {
  char *text = json_dumps(obj, JSON_COMPACT);
  json_decref(obj);
  if (!text) {
    sc_hreq_reply(req, 500, "text/plain", "encoding failure", 16);
    return;
  }
  sc_http_reply_text(req, status, "application/json", text, strlen(text));
  free(text);
}

void sc_http_reply_text(sc_hreq *req, int status, const char *content_type, const char *body,
                        size_t len) {
  sc_hreq_reply(req, status, content_type, body, len);
}

void sc_http_reply_error(sc_hreq *req, int status, const char *code, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  const char *type = status == 401   ? "authentication_error"
                     : status == 403 ? "permission_error"
                     : status == 404 ? "not_found_error"
                     : status == 429 ? "rate_limit_error"
                     : status < 500  ? "invalid_request_error"
                                     : "server_error";
  json_t *o = json_pack("{s:{s:s,s:s,s:s}}", "error", "code", code, "message", msg, "type", type);
  sc_http_reply_json(req, status, o);
}

void sc_http_reply_err(sc_hreq *req, int rc, const sc_err *e) {
  int status;
  switch (rc) {
  case SC_EINVAL: case SC_EFORMAT: status = 400; break;
  case SC_EAUTH: status = 401; break;
  case SC_EPERM: status = 403; break;
  case SC_ENOENT: status = 404; break;
  case SC_EEXIST: case SC_ESTATE: status = 409; break;
  case SC_ETOOBIG: status = 413; break;
  case SC_EUNAVAIL: status = 503; break;
  default: status = 500; break;
  }
  const char *code = e && e->code[0] ? e->code : "internal";
  const char *msg = e && e->msg[0] ? e->msg : sc_strerror(rc);
  sc_http_reply_error(req, status, code, "%s", msg);
}

const char *sc_http_bearer(sc_hreq *req, char *buf, size_t cap) {
  char hb[512];
  const char *h = sc_hreq_header(req, "Authorization", hb, sizeof hb);
  if (!h || strncasecmp(h, "Bearer ", 7) != 0) return NULL;
  h += 7;
  while (*h == ' ') h++;
  if (!*h || !sc_strlcpy(buf, h, cap)) return NULL;
  return buf;
}

void sc_tcp_keepalive(int fd) {
  int one = 1, idle = 30, intvl = 10, cnt = 3;
  setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
}

int sc_parse_hostport(const char *s, char *host, size_t hostcap, int *port) {
  const char *colon;
  size_t hlen;
  if (s[0] == '[') {
    const char *close = strchr(s, ']');
    if (!close || close[1] != ':') return SC_EINVAL;
    hlen = (size_t)(close - s - 1);
    s++;
    colon = close + 1;
  } else {
    colon = strrchr(s, ':');
    if (!colon) return SC_EINVAL;
    hlen = (size_t)(colon - s);
  }
  if (hlen == 0 || hlen >= hostcap) return SC_EINVAL;
  memcpy(host, s, hlen);
  host[hlen] = 0;
  int64_t p;
  if (sc_parse_i64(colon + 1, 0, 65535, &p)) return SC_EINVAL;
  *port = (int)p;
  return 0;
}
