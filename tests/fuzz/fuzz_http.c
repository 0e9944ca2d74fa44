/* Fuzz harness: net/hparse — request heads, response heads and chunked bodies — on arbitrary
 * bytes, whole and fed in random slices (the decoder must give the same body either way). */
#define CHECK(x) \
  do {            \
    if (!(x)) abort(); \
  } while (0)
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/hparse.h"

/* Decodes p[0..n) fed in slices of `step` bytes; returns the final rc and the body length. */
static int decode(const char *p, size_t n, size_t step, char *out, size_t *olen) {
  sc_http_chunked ck = {0};
  int rc = SC_HP_MORE;
  *olen = 0;
  size_t off = 0;
  while (off < n && rc == SC_HP_MORE) {
    size_t slice = n - off < step ? n - off : step;
    const char *q = p + off;
    size_t left = slice;
    while (left) {
      size_t used, dl;
      const char *d, *why;
      rc = sc_http_chunked_feed(&ck, q, left, &used, &d, &dl, &why);
      CHECK(used <= left);
      if (dl) {
        CHECK(d >= q && d + dl <= q + left);
        memcpy(out + *olen, d, dl);
        *olen += dl;
      }
      q += used;
      left -= used;
      if (rc != SC_HP_MORE) break;
      CHECK(used > 0);
    }
    off += slice - left;
    if (rc != SC_HP_MORE) break;
  }
  return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *p = (const char *)data;
  sc_http_head h;
  int st;
  const char *why;
  int rc = sc_http_parse_request(p, size, 4096, &h, &st, &why);
  if (rc == SC_HP_DONE) {
    CHECK(h.head_len <= size && h.nh <= SC_HTTP_MAX_HEADERS);
    CHECK(h.method.p >= p && h.target.p + h.target.n <= p + size);
  } else if (rc == SC_HP_ERROR) {
    CHECK(st >= 400 && st < 600 && why);
  }
  rc = sc_http_parse_response(p, size, 4096, &h, &st, &why);
  if (rc == SC_HP_DONE) CHECK(h.status >= 100 && h.status <= 999 && h.head_len <= size);
  char *a = malloc(size + 1), *b = malloc(size + 1);
  size_t al, bl;
  int ra = decode(p, size, size ? size : 1, a, &al);
  int rb = decode(p, size, size ? (size_t)data[0] % 7 + 1 : 1, b, &bl);
  CHECK(ra == rb);
  if (ra != SC_HP_ERROR) CHECK(al == bl && memcmp(a, b, al) == 0);
  free(a);
  free(b);
  return 0;
}
