/* hparse.c — see hparse.h. */
#include "net/hparse.h"

#include <string.h>
#include <strings.h>

#include "base/err.h"

static bool is_tchar(unsigned char ch) {
  if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')) return true;
  return ch && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

static bool is_vchar_or_space(unsigned char ch) { return ch == '\t' || (ch >= 0x20 && ch != 0x7f); }

static bool slice_ieq(sc_hslice s, const char *lit) {
  size_t n = strlen(lit);
  return s.n == n && strncasecmp(s.p, lit, n) == 0;
}

/* Whether the comma-separated list s contains token lit (case-insensitive). */
static bool list_has(sc_hslice s, const char *lit) {
  size_t i = 0;
  while (i < s.n) {
    while (i < s.n && (s.p[i] == ' ' || s.p[i] == '\t' || s.p[i] == ',')) i++;
    size_t b = i;
    while (i < s.n && s.p[i] != ',') i++;
    size_t e = i;
    while (e > b && (s.p[e - 1] == ' ' || s.p[e - 1] == '\t')) e--;
    if (e > b && slice_ieq((sc_hslice){s.p + b, e - b}, lit)) return true;
  }
  return false;
}

/* The end of the line starting at p[i]: index of its '\n', or n if none yet. */
static size_t line_end(const char *p, size_t i, size_t n) {
  const char *q = memchr(p + i, '\n', n - i);
  return q ? (size_t)(q - p) : n;
}

/* Parses the header lines from p[i] to the blank line; fills h. */
static int parse_fields(const char *p, size_t n, size_t i, size_t max_head, sc_http_head *h, int *status,
                        const char **why) {
  bool have_cl = false, have_te = false;
  h->nh = 0;
  h->content_length = -1;
  h->chunked = false;
  h->expect_continue = false;
  bool keep_alive = false, close = false;
  for (;;) {
    size_t e = line_end(p, i, n);
    if (e == n) {
      if (n > max_head) return *status = 431, *why = "request head too large", SC_HP_ERROR;
      return SC_HP_MORE;
    }
    if (e + 1 > max_head) return *status = 431, *why = "request head too large", SC_HP_ERROR;
    size_t le = e;
    if (le > i && p[le - 1] == '\r') le--;
    if (le == i) { /* blank line */
      h->head_len = e + 1;
      break;
    }
    if (p[i] == ' ' || p[i] == '\t') return *status = 400, *why = "obsolete header line folding", SC_HP_ERROR;
    size_t c = i;
    while (c < le && is_tchar((unsigned char)p[c])) c++;
    if (c == i || c == le || p[c] != ':') return *status = 400, *why = "malformed header line", SC_HP_ERROR;
    sc_hslice name = {p + i, c - i};
    size_t vb = c + 1, ve = le;
    for (size_t k = vb; k < ve; k++)
      if (!is_vchar_or_space((unsigned char)p[k])) return *status = 400, *why = "invalid character in a header value", SC_HP_ERROR;
    while (vb < ve && (p[vb] == ' ' || p[vb] == '\t')) vb++;
    while (ve > vb && (p[ve - 1] == ' ' || p[ve - 1] == '\t')) ve--;
    sc_hslice val = {p + vb, ve - vb};
    if (h->nh == SC_HTTP_MAX_HEADERS) return *status = 431, *why = "too many header fields", SC_HP_ERROR;
    h->name[h->nh] = name;
    h->value[h->nh++] = val;
    if (slice_ieq(name, "Content-Length")) {
      if (!val.n || val.n > 18) return *status = 400, *why = "invalid Content-Length", SC_HP_ERROR;
      int64_t v = 0;
      for (size_t k = 0; k < val.n; k++) {
        if (val.p[k] < '0' || val.p[k] > '9') return *status = 400, *why = "invalid Content-Length", SC_HP_ERROR;
        v = v * 10 + (val.p[k] - '0');
      }
      if (have_cl && v != h->content_length) return *status = 400, *why = "conflicting Content-Length", SC_HP_ERROR;
      have_cl = true;
      h->content_length = v;
    } else if (slice_ieq(name, "Transfer-Encoding")) {
      if (have_te || !slice_ieq(val, "chunked"))
        return *status = 501, *why = "only Transfer-Encoding: chunked is supported", SC_HP_ERROR;
      have_te = true;
      h->chunked = true;
    } else if (slice_ieq(name, "Connection")) {
      close |= list_has(val, "close");
      keep_alive |= list_has(val, "keep-alive");
    } else if (slice_ieq(name, "Expect")) {
      if (!slice_ieq(val, "100-continue")) return *status = 417, *why = "unsupported Expect", SC_HP_ERROR;
      h->expect_continue = true;
    }
    i = e + 1;
  }
  if (have_cl && have_te) return *status = 400, *why = "both Content-Length and Transfer-Encoding", SC_HP_ERROR;
  h->close = close || (h->minor == 0 && !keep_alive);
  return SC_HP_DONE;
}

/* "HTTP/1.x" at p[0..8) -> minor, or -1. */
static int version(const char *p, size_t n) {
  if (n != 8 || memcmp(p, "HTTP/1.", 7) != 0) return -1;
  return p[7] == '0' ? 0 : p[7] == '1' ? 1 : -1;
}

int sc_http_parse_request(const char *p, size_t n, size_t max_head, sc_http_head *h, int *status,
                          const char **why) {
  size_t i = 0;
  while (i < n && i < 4 && (p[i] == '\r' || p[i] == '\n')) i++; /* tolerated stray CRLF before a request */
  size_t e = line_end(p, i, n);
  if (e == n) {
    if (n > max_head) return *status = 431, *why = "request line too long", SC_HP_ERROR;
    /* an early look at what came so far: a method must be a token */
    for (size_t k = i; k < n && p[k] != ' '; k++)
      if (!is_tchar((unsigned char)p[k]) && p[k] != '\r') return *status = 400, *why = "malformed request line", SC_HP_ERROR;
    return SC_HP_MORE;
  }
  size_t le = e > i && p[e - 1] == '\r' ? e - 1 : e;
  size_t m = i;
  while (m < le && is_tchar((unsigned char)p[m])) m++;
  if (m == i || m >= le || p[m] != ' ') return *status = 400, *why = "malformed request line", SC_HP_ERROR;
  size_t t = m + 1, te = t;
  while (te < le && p[te] > ' ' && p[te] != 0x7f) te++;
  if (te == t || te >= le || p[te] != ' ') return *status = 400, *why = "malformed request target", SC_HP_ERROR;
  int minor = version(p + te + 1, le - te - 1);
  if (minor < 0) {
    if (le - te - 1 >= 5 && memcmp(p + te + 1, "HTTP/", 5) == 0)
      return *status = 505, *why = "HTTP version not supported", SC_HP_ERROR;
    return *status = 400, *why = "malformed request line", SC_HP_ERROR;
  }
  h->method = (sc_hslice){p + i, m - i};
  h->target = (sc_hslice){p + t, te - t};
  h->minor = minor;
  h->status = 0;
  return parse_fields(p, n, e + 1, max_head, h, status, why);
}

int sc_http_parse_response(const char *p, size_t n, size_t max_head, sc_http_head *h, int *status,
                           const char **why) {
  size_t e = line_end(p, 0, n);
  *status = 502;
  if (e == n) {
    if (n > max_head) return *why = "response head too large", SC_HP_ERROR;
    if (n >= 5 && memcmp(p, "HTTP/", 5) != 0) return *why = "not an HTTP response", SC_HP_ERROR;
    return SC_HP_MORE;
  }
  size_t le = e > 0 && p[e - 1] == '\r' ? e - 1 : e;
  if (le < 12 || p[8] != ' ' || (le > 12 && p[12] != ' ')) return *why = "malformed status line", SC_HP_ERROR;
  int minor = version(p, 8);
  if (minor < 0) return *why = "unsupported HTTP version in the response", SC_HP_ERROR;
  int st = 0;
  for (int k = 9; k < 12; k++) {
    if (p[k] < '0' || p[k] > '9') return *why = "malformed status code", SC_HP_ERROR;
    st = st * 10 + (p[k] - '0');
  }
  if (st < 100) return *why = "malformed status code", SC_HP_ERROR;
  h->method = h->target = (sc_hslice){NULL, 0};
  h->minor = minor;
  h->status = st;
  int rc = parse_fields(p, n, e + 1, max_head, h, status, why);
  if (rc == SC_HP_ERROR) *status = 502;
  return rc;
}

bool sc_http_head_get(const sc_http_head *h, const char *name, sc_hslice *out) {
  for (int i = 0; i < h->nh; i++)
    if (slice_ieq(h->name[i], name)) {
      *out = h->value[i];
      return true;
    }
  return false;
}

/* ---------- chunked bodies ---------- */

enum { CK_SIZE, CK_EXT, CK_SIZE_LF, CK_DATA, CK_DATA_CR, CK_DATA_LF, CK_TRAILER, CK_TRAILER_LF, CK_DONE };
#define CK_MAX_LINE 4096

int sc_http_chunked_feed(sc_http_chunked *c, const char *p, size_t n, size_t *used, const char **data,
                         size_t *dlen, const char **why) {
  size_t i = 0;
  *data = NULL;
  *dlen = 0;
  while (i < n) {
    unsigned char ch = (unsigned char)p[i];
    switch (c->state) {
    case CK_SIZE: {
      int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
      if (d >= 0) {
        if (c->left >> 56) return *why = "chunk size too large", *used = i, SC_HP_ERROR;
        c->left = c->left * 16 + (uint64_t)d;
        c->line++;
        i++;
        break;
      }
      if (!c->line) return *why = "malformed chunk size", *used = i, SC_HP_ERROR;
      if (ch == ';' || ch == ' ' || ch == '\t') c->state = CK_EXT;
      else if (ch == '\r') c->state = CK_SIZE_LF;
      else if (ch == '\n') goto size_done;
      else return *why = "malformed chunk size", *used = i, SC_HP_ERROR;
      i++;
      break;
    }
    case CK_EXT:
      if (++c->line > CK_MAX_LINE) return *why = "chunk extension too long", *used = i, SC_HP_ERROR;
      if (ch == '\r') c->state = CK_SIZE_LF;
      else if (ch == '\n') goto size_done;
      else if (!is_vchar_or_space(ch)) return *why = "invalid chunk extension", *used = i, SC_HP_ERROR;
      i++;
      break;
    case CK_SIZE_LF:
      if (ch != '\n') return *why = "malformed chunk size line", *used = i, SC_HP_ERROR;
    size_done:
      i++;
      c->line = 0;
      c->state = c->left ? CK_DATA : CK_TRAILER;
      break;
    case CK_DATA: {
      size_t take = n - i;
      if ((uint64_t)take > c->left) take = (size_t)c->left;
      *data = p + i;
      *dlen = take;
      c->left -= take;
      i += take;
      if (!c->left) c->state = CK_DATA_CR;
      *used = i;
      return SC_HP_MORE;
    }
    case CK_DATA_CR:
      if (ch == '\n') c->state = CK_SIZE;
      else if (ch == '\r') c->state = CK_DATA_LF;
      else return *why = "chunk data longer than its size", *used = i, SC_HP_ERROR;
      i++;
      break;
    case CK_DATA_LF:
      if (ch != '\n') return *why = "chunk data longer than its size", *used = i, SC_HP_ERROR;
      c->state = CK_SIZE;
      i++;
      break;
    case CK_TRAILER: /* trailer lines until an empty one; their content is ignored */
      if (ch == '\n') {
        i++;
        if (!c->line) {
          c->state = CK_DONE;
          *used = i;
          return SC_HP_DONE;
        }
        c->line = 0;
        break;
      }
      if (ch == '\r') {
        c->state = CK_TRAILER_LF;
        i++;
        break;
      }
      if (++c->line > CK_MAX_LINE || !is_vchar_or_space(ch)) return *why = "malformed trailer", *used = i, SC_HP_ERROR;
      i++;
      break;
    case CK_TRAILER_LF:
      if (ch != '\n') return *why = "malformed trailer", *used = i, SC_HP_ERROR;
      i++;
      c->state = CK_TRAILER;
      if (!c->line) {
        c->state = CK_DONE;
        *used = i;
        return SC_HP_DONE;
      }
      c->line = 0;
      break;
    default:
      *used = 0;
      return SC_HP_DONE;
    }
  }
  *used = i;
  return SC_HP_MORE;
}
