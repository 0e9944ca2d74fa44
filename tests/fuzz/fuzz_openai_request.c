/* Fuzz harness: the OpenAI request parser (both endpoints) on arbitrary bytes, and the stop-string /
 * UTF-8 filter on the same bytes cut into tokens. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/openai.h"
#include "engine/textout.h"

static void sink(void *ud, const char *s, size_t n) {
  size_t *total = ud;
  /* Everything emitted must be complete, valid text: jansson accepts only valid UTF-8. */
  json_t *j = json_stringn(s, n);
  if (!j) abort();
  json_decref(j);
  *total += n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  for (int k = 0; k < 2; k++) {
    sc_oai_request r;
    sc_oai_error err;
    if (sc_oai_parse((const char *)data, size, k ? SC_OAI_CHAT : SC_OAI_COMPLETION, &r, &err) == 0) {
      if (r.n_stop > SC_OAI_MAX_STOP || (k && r.n_messages < 1)) abort();
      sc_oai_request_fini(&r);
    } else {
      json_t *o = sc_oai_error_json(&err);
      if (!o) abort();
      json_decref(o);
    }
  }
  /* Stops are the first two 3-byte slices; the rest is fed in tokens of 1..4 bytes. */
  if (size >= 6) {
    char s1[4] = {0}, s2[4] = {0};
    memcpy(s1, data, 3);
    memcpy(s2, data + 3, 3);
    const char *stops[2] = {s1, s2};
    sc_textout *t = sc_textout_create(stops, 2);
    size_t total = 0;
    for (size_t i = 6; i < size;) {
      size_t n = 1 + data[i] % 4;
      if (i + n > size) n = size - i;
      if (sc_textout_feed(t, (const char *)data + i, n, sink, &total)) break;
      i += n;
    }
    sc_textout_finish(t, sink, &total);
    sc_textout_destroy(t);
  }
  return 0;
}
