/*
 * openai.c — parsing and validation of OpenAI completion and chat-completion requests.
 *
 * The body is parsed by jansson (strict: duplicate keys, invalid UTF-8 and NUL characters are
 * rejected), then every field we know is checked in a fixed order, so the first offending field
 * is reported with its name in "param". Strings are copied out so the request outlives the JSON.
 */
#include "engine/openai.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "engine/textout.h"

int sc_oai_fail(sc_oai_error *err, int rc, int status, const char *param, const char *code, const char *fmt, ...) {
  if (!err) return rc;
  snprintf(err->e.code, sizeof err->e.code, "%s", code ? code : "error");
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err->e.msg, sizeof err->e.msg, fmt, ap);
  va_end(ap);
  snprintf(err->param, sizeof err->param, "%s", param ? param : "");
  err->status = status;
  return rc;
}

static void append(void *ud, const char *s, size_t n) {
  char *buf = ud;
  size_t len = strlen(buf);
  if (len + n >= sizeof ((sc_err *)0)->msg * 2) return;
  memcpy(buf + len, s, n);
  buf[len + n] = 0;
}

json_t *sc_oai_error_json(const sc_oai_error *err) {
  /* Messages may quote the request (jansson's parse errors do, and %.32s can cut a character):
   * make them valid UTF-8 so they can be JSON strings. */
  char msg[sizeof err->e.msg * 2];
  msg[0] = 0;
  sc_textout *t = sc_textout_create(NULL, 0);
  sc_textout_feed(t, err->e.msg, strlen(err->e.msg), append, msg);
  sc_textout_finish(t, append, msg);
  sc_textout_destroy(t);
  const char *type = err->status == 404   ? "not_found_error"
                     : err->status == 401 ? "authentication_error"
                     : err->status == 429 ? "rate_limit_error"
                     : err->status < 500  ? "invalid_request_error"
                                          : "server_error";
  json_t *param = err->param[0] ? json_string(err->param) : json_null();
  return json_pack("{s:{s:s,s:s,s:o,s:s}}", "error", "message", msg, "type", type, "param", param, "code",
                   err->e.code[0] ? err->e.code : "error");
}

void sc_oai_request_fini(sc_oai_request *r) {
  if (!r) return;
  free(r->model);
  free(r->prompt);
  free(r->prompt_ids);
  for (int i = 0; i < r->n_messages; i++) {
    free(r->messages[i].role);
    free(r->messages[i].content);
  }
  free(r->messages);
  for (int i = 0; i < r->n_stop; i++) free(r->stop[i]);
  memset(r, 0, sizeof *r);
}

#define BAD(param, ...) sc_oai_fail(err, SC_EINVAL, 400, param, "invalid_value", __VA_ARGS__)
#define BADTYPE(param, what) sc_oai_fail(err, SC_EINVAL, 400, param, "invalid_type", "'%s' must be %s", param, what)

/* A present, non-null member, or NULL. */
static json_t *get(json_t *o, const char *k) {
  json_t *v = json_object_get(o, k);
  return v && !json_is_null(v) ? v : NULL;
}

static int parse_bool(json_t *o, const char *k, bool *out, sc_oai_error *err) {
  json_t *v = get(o, k);
  if (!v) return 0;
  if (!json_is_boolean(v)) return BADTYPE(k, "a boolean");
  *out = json_is_true(v);
  return 0;
}

static int parse_num(json_t *o, const char *k, double lo, double hi, double *out, sc_oai_error *err) {
  json_t *v = get(o, k);
  if (!v) return 0;
  if (!json_is_number(v)) return BADTYPE(k, "a number");
  double d = json_number_value(v);
  if (!isfinite(d) || d < lo || d > hi) return BAD(k, "'%s' must be between %g and %g, got %g", k, lo, hi, d);
  *out = d;
  return 0;
}

static int parse_int(json_t *o, const char *k, int64_t lo, int64_t hi, bool *seen, int64_t *out, sc_oai_error *err) {
  json_t *v = get(o, k);
  if (!v) return 0;
  if (!json_is_integer(v)) return BADTYPE(k, "an integer");
  json_int_t i = json_integer_value(v);
  if (i < lo || i > hi) return BAD(k, "'%s' must be between %lld and %lld, got %lld", k, (long long)lo, (long long)hi,
                                   (long long)i);
  *out = i;
  if (seen) *seen = true;
  return 0;
}

static int parse_stop(json_t *o, sc_oai_request *r, sc_oai_error *err) {
  json_t *v = get(o, "stop");
  if (!v) return 0;
  if (json_is_string(v)) {
    if (json_string_length(v) > SC_OAI_MAX_STOP_LEN)
      return BAD("stop", "a stop sequence must be at most %d bytes", SC_OAI_MAX_STOP_LEN);
    if (json_string_length(v)) r->stop[r->n_stop++] = sc_xstrdup(json_string_value(v));
    return 0;
  }
  if (!json_is_array(v)) return BADTYPE("stop", "a string or an array of strings");
  if (json_array_size(v) > SC_OAI_MAX_STOP) return BAD("stop", "at most %d stop sequences are allowed", SC_OAI_MAX_STOP);
  size_t i;
  json_t *s;
  json_array_foreach(v, i, s) {
    if (!json_is_string(s)) return BADTYPE("stop", "a string or an array of strings");
    if (json_string_length(s) > SC_OAI_MAX_STOP_LEN)
      return BAD("stop", "a stop sequence must be at most %d bytes", SC_OAI_MAX_STOP_LEN);
    if (json_string_length(s)) r->stop[r->n_stop++] = sc_xstrdup(json_string_value(s));
  }
  return 0;
}

/* Chat content: a string, null, or an array of {"type":"text","text":...} parts (concatenated). */
static int parse_content(json_t *c, char **out, const char *param, sc_oai_error *err) {
  if (!c || json_is_null(c)) {
    *out = sc_xstrdup("");
    return 0;
  }
  if (json_is_string(c)) {
    *out = sc_xstrdup(json_string_value(c));
    return 0;
  }
  if (!json_is_array(c)) return BADTYPE(param, "a string or an array of content parts");
  size_t total = 0, i;
  json_t *p;
  json_array_foreach(c, i, p) {
    json_t *type = json_is_object(p) ? json_object_get(p, "type") : NULL;
    json_t *text = json_is_object(p) ? json_object_get(p, "text") : NULL;
    if (!json_is_string(type) || !json_is_string(text))
      return BADTYPE(param, "a string or an array of {\"type\":\"text\",\"text\":...} parts");
    if (strcmp(json_string_value(type), "text") != 0)
      return sc_oai_fail(err, SC_EINVAL, 400, param, "unsupported_value", "content part type '%.32s' is not supported",
                         json_string_value(type));
    total += json_string_length(text);
  }
  char *buf = sc_xmalloc(total + 1);
  size_t off = 0;
  json_array_foreach(c, i, p) {
    json_t *text = json_object_get(p, "text");
    size_t n = json_string_length(text);
    memcpy(buf + off, json_string_value(text), n);
    off += n;
  }
  buf[off] = 0;
  *out = buf;
  return 0;
}

static int parse_messages(json_t *o, sc_oai_request *r, sc_oai_error *err) {
  json_t *v = json_object_get(o, "messages");
  if (!v || json_is_null(v)) return sc_oai_fail(err, SC_EINVAL, 400, "messages", "missing_required_parameter",
                                                "'messages' is required");
  if (!json_is_array(v)) return BADTYPE("messages", "an array");
  size_t n = json_array_size(v);
  if (n == 0) return BAD("messages", "'messages' must contain at least one message");
  if (n > SC_OAI_MAX_MESSAGES) return BAD("messages", "at most %d messages are allowed", SC_OAI_MAX_MESSAGES);
  r->messages = sc_xcalloc(n, sizeof *r->messages);
  size_t i;
  json_t *m;
  json_array_foreach(v, i, m) {
    char param[64];
    snprintf(param, sizeof param, "messages[%zu]", i);
    if (!json_is_object(m)) return BADTYPE(param, "an object");
    json_t *role = json_object_get(m, "role");
    snprintf(param, sizeof param, "messages[%zu].role", i);
    if (!json_is_string(role)) return BADTYPE(param, "a string");
    const char *rs = json_string_value(role);
    if (strcmp(rs, "system") && strcmp(rs, "developer") && strcmp(rs, "user") && strcmp(rs, "assistant") &&
        strcmp(rs, "tool"))
      return BAD(param, "'%s' must be one of system, developer, user, assistant, tool; got '%.32s'", param, rs);
    snprintf(param, sizeof param, "messages[%zu].content", i);
    char *content = NULL;
    int rc = parse_content(json_object_get(m, "content"), &content, param, err);
    if (rc) return rc;
    r->messages[r->n_messages].role = sc_xstrdup(rs);
    r->messages[r->n_messages].content = content;
    r->n_messages++;
  }
  return 0;
}

static int parse_prompt(json_t *o, sc_oai_request *r, sc_oai_error *err) {
  json_t *v = json_object_get(o, "prompt");
  if (!v || json_is_null(v))
    return sc_oai_fail(err, SC_EINVAL, 400, "prompt", "missing_required_parameter", "'prompt' is required");
  if (json_is_string(v)) {
    r->prompt = sc_xstrdup(json_string_value(v));
    return 0;
  }
  if (!json_is_array(v)) return BADTYPE("prompt", "a string, an array of one string, or an array of token ids");
  size_t n = json_array_size(v);
  if (n == 0) return BAD("prompt", "'prompt' must not be an empty array");
  json_t *first = json_array_get(v, 0);
  if (json_is_string(first)) {
    if (n != 1) return sc_oai_fail(err, SC_EINVAL, 400, "prompt", "unsupported_value",
                                   "only one prompt per request is supported");
    r->prompt = sc_xstrdup(json_string_value(first));
    return 0;
  }
  if (n > 10000000) return BAD("prompt", "too many prompt tokens");
  r->prompt_ids = sc_xmalloc(n * sizeof *r->prompt_ids);
  size_t i;
  json_t *t;
  json_array_foreach(v, i, t) {
    if (!json_is_integer(t)) return BADTYPE("prompt", "a string, an array of one string, or an array of token ids");
    json_int_t id = json_integer_value(t);
    if (id < 0 || id > INT32_MAX) return BAD("prompt", "token id %lld is out of range", (long long)id);
    r->prompt_ids[i] = (int32_t)id;
  }
  r->n_prompt_ids = (int)n;
  return 0;
}

static int parse_fields(json_t *o, sc_oai_kind kind, sc_oai_request *r, sc_oai_error *err) {
  int rc;
  json_t *v = get(o, "model");
  if (v) {
    if (!json_is_string(v)) return BADTYPE("model", "a string");
    if (json_string_length(v) > 256) return BAD("model", "'model' is longer than 256 characters");
    r->model = sc_xstrdup(json_string_value(v));
  }
  rc = kind == SC_OAI_CHAT ? parse_messages(o, r, err) : parse_prompt(o, r, err);
  if (rc) return rc;

  int64_t i64 = 0;
  bool seen = false;
  /* max_completion_tokens is the newer name; it wins when both are given. */
  if ((rc = parse_int(o, "max_tokens", 1, SC_OAI_MAX_TOKENS_CAP, &seen, &i64, err))) return rc;
  if ((rc = parse_int(o, "max_completion_tokens", 1, SC_OAI_MAX_TOKENS_CAP, &seen, &i64, err))) return rc;
  if (seen) r->max_tokens = (int)i64;
  if ((rc = parse_num(o, "temperature", 0, 2, &r->temperature, err))) return rc;
  if ((rc = parse_num(o, "top_p", 0, 1, &r->top_p, err))) return rc;
  if (r->top_p <= 0) return BAD("top_p", "'top_p' must be greater than 0 and at most 1");
  i64 = 0;
  if ((rc = parse_int(o, "top_k", -1, 1000000, NULL, &i64, err))) return rc;
  r->top_k = i64 < 0 ? 0 : (int)i64; /* -1 means off, as in vLLM */
  if ((rc = parse_int(o, "seed", INT64_MIN, INT64_MAX, &r->has_seed, &i64, err))) return rc;
  if (r->has_seed) r->seed = (uint64_t)i64;
  if ((rc = parse_stop(o, r, err))) return rc;
  if ((rc = parse_bool(o, "stream", &r->stream, err))) return rc;
  v = get(o, "stream_options");
  if (v) {
    if (!json_is_object(v)) return BADTYPE("stream_options", "an object");
    if (!r->stream) return BAD("stream_options", "'stream_options' is only allowed when 'stream' is true");
    json_t *iu = get(v, "include_usage");
    if (iu && !json_is_boolean(iu)) return BADTYPE("stream_options.include_usage", "a boolean");
    r->include_usage = iu && json_is_true(iu);
  }
  i64 = 1;
  if ((rc = parse_int(o, "n", 1, 128, NULL, &i64, err))) return rc;
  if (i64 != 1) return sc_oai_fail(err, SC_EINVAL, 400, "n", "unsupported_value", "only n=1 is supported");
  double pen = 0;
  if ((rc = parse_num(o, "presence_penalty", -2, 2, &pen, err))) return rc;
  if ((rc = parse_num(o, "frequency_penalty", -2, 2, &pen, err))) return rc;
  if (kind == SC_OAI_COMPLETION) {
    if ((rc = parse_bool(o, "echo", &r->echo, err))) return rc;
    v = get(o, "logprobs");
    if (v && !(json_is_integer(v) && json_integer_value(v) == 0))
      return sc_oai_fail(err, SC_EINVAL, 400, "logprobs", "unsupported_value", "logprobs are not supported");
    v = get(o, "best_of");
    if (v && !(json_is_integer(v) && json_integer_value(v) == 1))
      return sc_oai_fail(err, SC_EINVAL, 400, "best_of", "unsupported_value", "only best_of=1 is supported");
  } else {
    bool lp = false;
    if ((rc = parse_bool(o, "logprobs", &lp, err))) return rc;
    if (lp) return sc_oai_fail(err, SC_EINVAL, 400, "logprobs", "unsupported_value", "logprobs are not supported");
    v = get(o, "tools");
    if (v && !(json_is_array(v) && json_array_size(v) == 0))
      return sc_oai_fail(err, SC_EINVAL, 400, "tools", "unsupported_value", "tools are not supported");
  }
  return 0;
}

int sc_oai_parse(const char *body, size_t len, sc_oai_kind kind, sc_oai_request *out, sc_oai_error *err) {
  memset(out, 0, sizeof *out);
  out->kind = kind;
  out->temperature = 1.0;
  out->top_p = 1.0;
  json_error_t je;
  json_t *o = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
  if (!o)
    return sc_oai_fail(err, SC_EINVAL, 400, NULL, "invalid_json", "malformed JSON at line %d column %d: %s", je.line,
                       je.column, je.text);
  int rc;
  if (!json_is_object(o)) {
    rc = sc_oai_fail(err, SC_EINVAL, 400, NULL, "invalid_json", "the request body must be a JSON object");
    goto out;
  }
  rc = parse_fields(o, kind, out, err);
out:
  json_decref(o);
  if (rc) sc_oai_request_fini(out);
  return rc;
}
