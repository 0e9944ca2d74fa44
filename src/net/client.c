/* client.c — see client.h. */
#include "net/client.h"
#include "base/util.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REPLY_CAP (64u << 20)

struct sc_client {
  CURL *curl;
  char *base;
  char *auth; /* "Authorization: Bearer ..." */
  long timeout_ms;
};

typedef struct {
  char *p;
  size_t len, cap;
  int toobig;
} buf_t;

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

sc_client *sc_client_create(const char *base, const char *token, long timeout_ms) {
  pthread_once(&curl_once, curl_init_once);
  sc_client *c = sc_xcalloc(1, sizeof *c);
  c->curl = curl_easy_init();
  if (!c->curl) {
    free(c);
    return NULL;
  }
  c->base = sc_xstrdup(base);
  size_t n = strlen(c->base);
  while (n && c->base[n - 1] == '/') c->base[--n] = 0;
  c->timeout_ms = timeout_ms;
  sc_client_set_token(c, token);
  return c;
}

void sc_client_destroy(sc_client *c) {
  if (!c) return;
  curl_easy_cleanup(c->curl);
  free(c->base);
  free(c->auth);
  free(c);
}

void sc_client_set_token(sc_client *c, const char *token) {
  free(c->auth);
  c->auth = NULL;
  if (token) {
    size_t n = strlen(token) + 32;
    c->auth = sc_xmalloc(n);
    snprintf(c->auth, n, "Authorization: Bearer %s", token);
  }
}

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud) {
  buf_t *b = ud;
  size_t n = size * nmemb;
  if (b->len + n > REPLY_CAP) {
    b->toobig = 1;
    return 0;
  }
  if (b->len + n + 1 > b->cap) {
    b->cap = (b->len + n + 1) * 2;
    b->p = sc_xrealloc(b->p, b->cap);
  }
  memcpy(b->p + b->len, ptr, n);
  b->len += n;
  b->p[b->len] = 0;
  return n;
}

int sc_client_call(sc_client *c, const char *method, const char *path, const json_t *body, long *status,
                   json_t **reply, sc_err *e) {
  char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
  int rc = sc_client_call_raw(c, method, path, text, text ? strlen(text) : 0, text ? "application/json" : NULL, status,
                              reply, e);
  free(text);
  return rc;
}

int sc_client_call_raw(sc_client *c, const char *method, const char *path, const void *data, size_t len,
                       const char *content_type, long *status, json_t **reply, sc_err *e) {
  int rc = 0;
  char *url = NULL;
  struct curl_slist *hdr = NULL;
  buf_t b = {0};
  *reply = NULL;
  *status = 0;
  size_t ulen = strlen(c->base) + strlen(path) + 1;
  url = sc_xmalloc(ulen);
  snprintf(url, ulen, "%s%s", c->base, path);
  CURL *h = c->curl;
  curl_easy_reset(h);
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->timeout_ms < 5000 ? c->timeout_ms : 5000L);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
  curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
  hdr = curl_slist_append(hdr, "Accept: application/json");
  if (c->auth) hdr = curl_slist_append(hdr, c->auth);
  if (content_type) {
    char ct[128];
    snprintf(ct, sizeof ct, "Content-Type: %s", content_type);
    hdr = curl_slist_append(hdr, ct);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, data);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
  } else if (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0) {
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, 0L);
  }
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
  CURLcode cc = curl_easy_perform(h);
  if (cc != CURLE_OK) {
    if (b.toobig) rc = sc_err_set(e, SC_ETOOBIG, "reply_too_large", "reply from %s is larger than %u bytes", c->base, REPLY_CAP);
    else rc = sc_err_set(e, SC_EUNAVAIL, "unreachable", "cannot reach %s: %s", c->base, curl_easy_strerror(cc));
    goto out;
  }
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
  if (b.len) {
    json_error_t je;
    *reply = json_loadb(b.p, b.len, 0, &je);
    if (!*reply) {
      rc = sc_err_set(e, SC_EFORMAT, "bad_reply", "HTTP %ld from %s%s with a body that is not JSON", *status,
                      c->base, path);
      goto out;
    }
  }
out:
  curl_slist_free_all(hdr);
  free(url);
  free(b.p);
  return rc;
}

void sc_client_reply_error(long status, const json_t *reply, sc_err *e) {
  json_t *err = json_object_get(reply, "error");
  const char *code = json_string_value(json_object_get(err, "code"));
  const char *msg = json_string_value(json_object_get(err, "message"));
  sc_err_set(e, SC_EIO, code ? code : "http_error", "%s (HTTP %ld)", msg ? msg : "request failed", status);
}
