/*
 * json.h — strict validation of JSON request bodies (jansson).
 *
 * A handler declares the fields it accepts with their types; sc_json_check rejects unknown
 * fields, missing required fields and wrong types with a message naming the field, so every API
 * endpoint answers bad input the same way.
 */
#ifndef SC_BASE_JSON_H
#define SC_BASE_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"

typedef enum {
  SC_JSON_STRING,  /* non-empty unless .empty_ok */
  SC_JSON_INT,     /* integer within [min,max] (both 0 = any) */
  SC_JSON_NUMBER,  /* integer or real */
  SC_JSON_BOOL,
  SC_JSON_OBJECT,
  SC_JSON_ARRAY,
  SC_JSON_ANY
} sc_json_type;

typedef struct sc_json_field {
  const char *name;
  sc_json_type type;
  bool required;
  int64_t min, max;
  size_t max_len; /* strings and arrays: 0 = default cap (256 chars / 4096 items) */
  bool empty_ok;
} sc_json_field;

/* Checks obj against fields (terminated by {NULL}). Returns 0 or SC_EINVAL with e set
 * (code "invalid_request"), naming the first offending field. `where` prefixes names of
 * nested objects ("devices[3]."), may be NULL. */
int sc_json_check(const json_t *obj, const sc_json_field *fields, const char *where, sc_err *e);

/* Parses text of len bytes as a JSON object. Errors (code "invalid_json") say line and column. */
int sc_json_parse_object(const char *text, size_t len, json_t **out, sc_err *e);

/* Getters for validated objects: the default when absent or null. */
const char *sc_json_str(const json_t *obj, const char *key, const char *dflt);
int64_t sc_json_int(const json_t *obj, const char *key, int64_t dflt);
double sc_json_num(const json_t *obj, const char *key, double dflt);
bool sc_json_bool(const json_t *obj, const char *key, bool dflt);

#endif
