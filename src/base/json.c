/* json.c — see json.h. */
#include "base/json.h"

#include <string.h>

static const char *type_name(sc_json_type t) {
  switch (t) {
  case SC_JSON_STRING: return "a string";
  case SC_JSON_INT: return "an integer";
  case SC_JSON_NUMBER: return "a number";
  case SC_JSON_BOOL: return "a boolean";
  case SC_JSON_OBJECT: return "an object";
  case SC_JSON_ARRAY: return "an array";
  case SC_JSON_ANY: return "a value";
  }
  return "a value";
}

static bool type_ok(const json_t *v, sc_json_type t) {
  switch (t) {
  case SC_JSON_STRING: return json_is_string(v);
  case SC_JSON_INT: return json_is_integer(v);
  case SC_JSON_NUMBER: return json_is_number(v);
  case SC_JSON_BOOL: return json_is_boolean(v);
  case SC_JSON_OBJECT: return json_is_object(v);
  case SC_JSON_ARRAY: return json_is_array(v);
  case SC_JSON_ANY: return true;
  }
  return false;
}

int sc_json_check(const json_t *obj, const sc_json_field *fields, const char *where, sc_err *e) {
  if (!where) where = "";
  if (!json_is_object(obj)) return sc_err_set(e, SC_EINVAL, "invalid_request", "%sbody must be a JSON object", where);
  const char *key;
  json_t *val;
  json_object_foreach((json_t *)obj, key, val) {
    const sc_json_field *f = fields;
    while (f->name && strcmp(f->name, key) != 0) f++;
    if (!f->name) return sc_err_set(e, SC_EINVAL, "invalid_request", "unknown field '%s%.64s'", where, key);
  }
  for (const sc_json_field *f = fields; f->name; f++) {
    json_t *v = json_object_get(obj, f->name);
    if (!v || json_is_null(v)) {
      if (f->required) return sc_err_set(e, SC_EINVAL, "invalid_request", "missing field '%s%s'", where, f->name);
      continue;
    }
    if (!type_ok(v, f->type))
      return sc_err_set(e, SC_EINVAL, "invalid_request", "field '%s%s' must be %s", where, f->name,
                        type_name(f->type));
    if (f->type == SC_JSON_STRING) {
      size_t cap = f->max_len ? f->max_len : 256;
      size_t n = json_string_length(v);
      if (n > cap)
        return sc_err_set(e, SC_EINVAL, "invalid_request", "field '%s%s' is longer than %zu characters", where,
                          f->name, cap);
      if (n == 0 && !f->empty_ok)
        return sc_err_set(e, SC_EINVAL, "invalid_request", "field '%s%s' must not be empty", where, f->name);
      if (strlen(json_string_value(v)) != n)
        return sc_err_set(e, SC_EINVAL, "invalid_request", "field '%s%s' contains a NUL character", where, f->name);
    } else if (f->type == SC_JSON_INT && (f->min || f->max)) {
      json_int_t i = json_integer_value(v);
      if (i < f->min || i > f->max)
        return sc_err_set(e, SC_EINVAL, "invalid_request", "field '%s%s' must be between %lld and %lld", where,
                          f->name, (long long)f->min, (long long)f->max);
    } else if (f->type == SC_JSON_NUMBER && (f->min || f->max)) {
      double d = json_number_value(v);
      if (d < (double)f->min || d > (double)f->max)
        return sc_err_set(e, SC_EINVAL, "invalid_request", "field '%s%s' must be between %lld and %lld", where,
                          f->name, (long long)f->min, (long long)f->max);
    } else if (f->type == SC_JSON_ARRAY) {
      size_t cap = f->max_len ? f->max_len : 4096;
      if (json_array_size(v) > cap)
        return sc_err_set(e, SC_EINVAL, "invalid_request", "field '%s%s' has more than %zu items", where, f->name,
                          cap);
    }
  }
  return 0;
}

int sc_json_parse_object(const char *text, size_t len, json_t **out, sc_err *e) {
  json_error_t je;
  json_t *v = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
  if (!v)
    return sc_err_set(e, SC_EINVAL, "invalid_json", "malformed JSON at line %d column %d: %s", je.line, je.column,
                      je.text);
  if (!json_is_object(v)) {
    json_decref(v);
    return sc_err_set(e, SC_EINVAL, "invalid_json", "body must be a JSON object");
  }
  *out = v;
  return 0;
}

const char *sc_json_str(const json_t *obj, const char *key, const char *dflt) {
  const json_t *v = json_object_get(obj, key);
  return json_is_string(v) ? json_string_value(v) : dflt;
}

int64_t sc_json_int(const json_t *obj, const char *key, int64_t dflt) {
  const json_t *v = json_object_get(obj, key);
  return json_is_integer(v) ? (int64_t)json_integer_value(v) : dflt;
}

double sc_json_num(const json_t *obj, const char *key, double dflt) {
  const json_t *v = json_object_get(obj, key);
  return json_is_number(v) ? json_number_value(v) : dflt;
}

bool sc_json_bool(const json_t *obj, const char *key, bool dflt) {
  const json_t *v = json_object_get(obj, key);
  return json_is_boolean(v) ? json_is_true(v) : dflt;
}
