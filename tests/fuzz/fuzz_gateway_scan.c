/* Fuzz harness: the gateway's fast scanners against jansson (differential). Whenever gw_scan says
 * a body is a valid request, jansson must parse it as an object (duplicates rejected), the slow
 * path's checks must pass, and the fields must agree; whenever gw_scan_usage reads token counts,
 * jansson must read the same. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/gateway/gateway.c"

#define CHECK(x) \
  do {                 \
    if (!(x)) abort(); \
  } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  for (int chat = 0; chat < 2; chat++) {
    gw_scan_result r;
    if (gw_scan((const char *)data, size, chat, &r) != GW_SCAN_OK) continue;
    json_t *o = NULL;
    sc_err e;
    CHECK(sc_json_parse_object((const char *)data, size, &o, &e) == 0);
    CHECK(check_body(NULL, o, chat)); /* a failing check would reply on a NULL request: a crash */
    const char *m = json_string_value(json_object_get(o, "model"));
    CHECK(m && strlen(m) == r.model.n && memcmp(m, r.model.p, r.model.n) == 0);
    CHECK(json_is_true(json_object_get(o, "stream")) == r.stream);
    json_t *so = json_object_get(o, "stream_options");
    CHECK((so != NULL) == r.has_stream_options);
    CHECK((json_is_object(so) && json_is_true(json_object_get(so, "include_usage"))) == r.include_usage);
    json_t *mt = json_object_get(o, "max_tokens");
    if (json_is_integer(mt)) CHECK(r.max_tokens == json_integer_value(mt));
    CHECK(((const char *)data)[r.open] == '{');
    json_decref(o);
  }
  /* the usage object of an engine's answer */
  int64_t pt, ct;
  if (gw_scan_usage((const char *)data, size, &pt, &ct) == GW_SCAN_OK) {
    json_t *u = json_loadb((const char *)data, size, JSON_DISABLE_EOF_CHECK | JSON_REJECT_DUPLICATES, NULL);
    CHECK(json_is_object(u));
    CHECK(json_integer_value(json_object_get(u, "prompt_tokens")) == pt);
    CHECK(json_integer_value(json_object_get(u, "completion_tokens")) == ct);
    json_decref(u);
  }
  return 0;
}
