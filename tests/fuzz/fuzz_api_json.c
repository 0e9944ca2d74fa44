/* Fuzz harness: the control plane's request-body path (strict JSON parse + schema check), the
 * credential parser and the listen-address parser, on arbitrary bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/secret.h"
#include "net/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const sc_json_field dev[] = {{"index", SC_JSON_INT, true, 0, 63, 0, false},
                                      {"vendor", SC_JSON_STRING, true, 0, 0, 31, false},
                                      {"memory_mib", SC_JSON_INT, true, 0, INT64_C(1) << 40, 0, false},
                                      {"lat", SC_JSON_NUMBER, false, -90, 90, 0, false},
                                      {"devices", SC_JSON_ARRAY, false, 0, 0, 64, false},
                                      {0}};
  sc_err e;
  json_t *o = NULL;
  if (sc_json_parse_object((const char *)data, size, &o, &e) == 0) {
    sc_json_check(o, dev, NULL, &e);
    json_t *arr = json_object_get(o, "devices");
    size_t i;
    json_t *d;
    json_array_foreach(arr, i, d) sc_json_check(d, dev, "devices[].", &e);
    json_decref(o);
  }
  char *s = malloc(size + 1);
  memcpy(s, data, size);
  s[size] = 0;
  char kind[8], id[SC_SECRET_ID_LEN + 1], host[64];
  const char *sec;
  int port;
  sc_secret_parse(s, kind, id, &sec);
  sc_parse_hostport(s, host, sizeof host, &port);
  free(s);
  return 0;
}
