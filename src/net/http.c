/* http.c — see http.h. */
#include "net/http.h"
#include "base/json.h"
#include "base/util.h"

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int sc_http_body(struct evhttp_request *req, size_t cap, char **out, size_t *len) {
  struct evbuffer *in = evhttp_request_get_input_buffer(req);
  size_t n = evbuffer_get_length(in);
  if (n > cap) return SC_ETOOBIG;
  char *buf = sc_xmalloc(n + 1);
  if (n) evbuffer_copyout(in, buf, n);
  buf[n] = 0;
  *out = buf;
  if (len) *len = n;
  return 0;
}

int sc_http_json_body(struct evhttp_request *req, size_t cap, json_t **out, sc_err *e) {
  char *buf = NULL;
  size_t len = 0;
  if (sc_http_body(req, cap, &buf, &len))
    return sc_err_set(e, SC_ETOOBIG, "body_too_large", "request body larger than %zu bytes", cap);
  int rc = sc_json_parse_object(buf, len, out, e);
  free(buf);
  return rc;
}

void sc_http_reply_json(struct evhttp_request *req, int status, json_t *obj) {
  char *text = json_dumps(obj, JSON_COMPACT);
  json_decref(obj);
  if (!text) {
    evhttp_send_error(req, 500, "encoding failure");
    return;
  }
  sc_http_reply_text(req, status, "application/json", text, strlen(text));
  free(text);
}

static const char *reason(int status) {
  switch (status) {
  case 200: return "OK";
  case 201: return "Created";
  case 204: return "No Content";
  case 400: return "Bad Request";
  case 401: return "Unauthorized";
  case 403: return "Forbidden";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 409: return "Conflict";
  case 413: return "Payload Too Large";
  case 429: return "Too Many Requests";
  case 503: return "Service Unavailable";
  default: return status >= 500 ? "Internal Server Error" : "Error";
  }
}

void sc_http_reply_text(struct evhttp_request *req, int status, const char *content_type, const char *body,
                        size_t len) {
  struct evkeyvalq *h = evhttp_request_get_output_headers(req);
  evhttp_add_header(h, "Content-Type", content_type);
  struct evbuffer *out = evbuffer_new();
  if (len) evbuffer_add(out, body, len);
  evhttp_send_reply(req, status, reason(status), out);
  evbuffer_free(out);
}

void sc_http_reply_error(struct evhttp_request *req, int status, const char *code, const char *fmt, ...) {
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

void sc_http_reply_err(struct evhttp_request *req, int rc, const sc_err *e) {
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

const char *sc_http_bearer(struct evhttp_request *req, char *buf, size_t cap) {
  const char *h = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
  if (!h || strncasecmp(h, "Bearer ", 7) != 0) return NULL;
  h += 7;
  while (*h == ' ') h++;
  if (!*h || !sc_strlcpy(buf, h, cap)) return NULL;
  return buf;
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

const char *sc_http_path(struct evhttp_request *req, char *buf, size_t cap) {
  const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
  const char *p = u ? evhttp_uri_get_path(u) : NULL;
  if (!p || !sc_strlcpy(buf, p, cap)) return NULL;
  return buf;
}
