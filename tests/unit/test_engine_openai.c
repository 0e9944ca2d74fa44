/* Unit tests for src/engine/openai.c: request parsing, validation messages and the error body. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "engine/openai.h"

static int parse(const char *body, sc_oai_kind k, sc_oai_request *r, sc_oai_error *err) {
  memset(err, 0, sizeof *err);
  return sc_oai_parse(body, strlen(body), k, r, err);
}

Test(openai, chat_full_request) {
  sc_oai_request r;
  sc_oai_error err;
  const char *b = "{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":\"be brief\"},"
                  "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"hel\"},{\"type\":\"text\",\"text\":\"lo\"}]},"
                  "{\"role\":\"assistant\",\"content\":null}],"
                  "\"temperature\":0,\"top_p\":0.5,\"top_k\":40,\"seed\":-7,\"max_completion_tokens\":9,"
                  "\"stop\":[\"a\",\"\",\"bc\"],\"stream\":true,\"stream_options\":{\"include_usage\":true},"
                  "\"n\":1,\"user\":\"ignored\"}";
  cr_assert_eq(parse(b, SC_OAI_CHAT, &r, &err), 0, "%s", err.e.msg);
  cr_assert_str_eq(r.model, "m");
  cr_assert_eq(r.n_messages, 3);
  cr_assert_str_eq(r.messages[1].content, "hello");
  cr_assert_str_eq(r.messages[2].content, "");
  cr_assert_float_eq(r.temperature, 0, 1e-12);
  cr_assert_float_eq(r.top_p, 0.5, 1e-12);
  cr_assert_eq(r.top_k, 40);
  cr_assert(r.has_seed);
  cr_assert_eq(r.seed, (uint64_t)-7);
  cr_assert_eq(r.max_tokens, 9);
  cr_assert_eq(r.n_stop, 2, "empty stop strings are dropped");
  cr_assert_str_eq(r.stop[1], "bc");
  cr_assert(r.stream && r.include_usage);
  sc_oai_request_fini(&r);
}

Test(openai, completion_defaults_and_prompt_forms) {
  sc_oai_request r;
  sc_oai_error err;
  cr_assert_eq(parse("{\"prompt\":\"hi\"}", SC_OAI_COMPLETION, &r, &err), 0);
  cr_assert_str_eq(r.prompt, "hi");
  cr_assert_float_eq(r.temperature, 1.0, 1e-12);
  cr_assert_float_eq(r.top_p, 1.0, 1e-12);
  cr_assert_eq(r.max_tokens, 0);
  cr_assert_null(r.model);
  sc_oai_request_fini(&r);
  cr_assert_eq(parse("{\"prompt\":[\"one\"],\"stop\":\"x\",\"echo\":true}", SC_OAI_COMPLETION, &r, &err), 0);
  cr_assert_str_eq(r.prompt, "one");
  cr_assert_eq(r.n_stop, 1);
  cr_assert(r.echo);
  sc_oai_request_fini(&r);
  cr_assert_eq(parse("{\"prompt\":[1,2,3],\"max_tokens\":4}", SC_OAI_COMPLETION, &r, &err), 0);
  cr_assert_null(r.prompt);
  cr_assert_eq(r.n_prompt_ids, 3);
  cr_assert_eq(r.prompt_ids[2], 3);
  sc_oai_request_fini(&r);
}

static void expect_bad(const char *body, sc_oai_kind k, const char *param, const char *code, const char *msgpart) {
  sc_oai_request r;
  sc_oai_error err;
  cr_assert_eq(parse(body, k, &r, &err), SC_EINVAL, "accepted: %s", body);
  cr_assert_eq(err.status, 400);
  cr_assert_str_eq(err.param, param, "%s: param '%s'", body, err.param);
  cr_assert_str_eq(err.e.code, code, "%s: code '%s'", body, err.e.code);
  cr_assert(strstr(err.e.msg, msgpart), "%s: message '%s'", body, err.e.msg);
}

Test(openai, invalid_requests_name_the_field) {
  expect_bad("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}", SC_OAI_CHAT, "", "invalid_json", "malformed JSON");
  expect_bad("[1]", SC_OAI_CHAT, "", "invalid_json", "JSON object");
  expect_bad("{}", SC_OAI_CHAT, "messages", "missing_required_parameter", "'messages' is required");
  expect_bad("{\"messages\":[]}", SC_OAI_CHAT, "messages", "invalid_value", "at least one");
  expect_bad("{\"messages\":\"hi\"}", SC_OAI_CHAT, "messages", "invalid_type", "an array");
  expect_bad("{\"messages\":[{\"role\":\"bot\",\"content\":\"x\"}]}", SC_OAI_CHAT, "messages[0].role", "invalid_value",
             "must be one of");
  expect_bad("{\"messages\":[{\"role\":\"user\",\"content\":5}]}", SC_OAI_CHAT, "messages[0].content", "invalid_type",
             "must be");
  expect_bad("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\",\"text\":\"u\"}]}]}", SC_OAI_CHAT,
             "messages[0].content", "unsupported_value", "image_url");
  const char *m = "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],";
  char b[512];
#define BAD(extra, param, code, part)           \
  snprintf(b, sizeof b, "%s%s}", m, extra);     \
  expect_bad(b, SC_OAI_CHAT, param, code, part)
  BAD("\"temperature\":2.5", "temperature", "invalid_value", "between 0 and 2");
  BAD("\"temperature\":\"hot\"", "temperature", "invalid_type", "a number");
  BAD("\"top_p\":0", "top_p", "invalid_value", "greater than 0");
  BAD("\"top_p\":1.5", "top_p", "invalid_value", "between 0 and 1");
  BAD("\"top_k\":-2", "top_k", "invalid_value", "between -1");
  BAD("\"max_tokens\":0", "max_tokens", "invalid_value", "between 1 and");
  BAD("\"max_tokens\":1e9", "max_tokens", "invalid_type", "an integer");
  BAD("\"max_tokens\":100000000", "max_tokens", "invalid_value", "between 1 and 1000000");
  BAD("\"max_completion_tokens\":-1", "max_completion_tokens", "invalid_value", "between 1");
  BAD("\"seed\":1.5", "seed", "invalid_type", "an integer");
  BAD("\"stop\":5", "stop", "invalid_type", "a string or an array");
  BAD("\"stop\":[\"a\",\"b\",\"c\",\"d\",\"e\"]", "stop", "invalid_value", "at most 4");
  BAD("\"stop\":[1]", "stop", "invalid_type", "a string or an array");
  BAD("\"stream\":\"yes\"", "stream", "invalid_type", "a boolean");
  BAD("\"stream_options\":{\"include_usage\":true}", "stream_options", "invalid_value", "only allowed when");
  BAD("\"stream\":true,\"stream_options\":{\"include_usage\":1}", "stream_options.include_usage", "invalid_type",
      "a boolean");
  BAD("\"n\":2", "n", "unsupported_value", "only n=1");
  BAD("\"logprobs\":true", "logprobs", "unsupported_value", "not supported");
  BAD("\"model\":7", "model", "invalid_type", "a string");
  BAD("\"presence_penalty\":3", "presence_penalty", "invalid_value", "between -2 and 2");
  expect_bad("{\"prompt\":[\"a\",\"b\"]}", SC_OAI_COMPLETION, "prompt", "unsupported_value", "only one prompt");
  expect_bad("{\"prompt\":[-1]}", SC_OAI_COMPLETION, "prompt", "invalid_value", "out of range");
  expect_bad("{\"prompt\":[]}", SC_OAI_COMPLETION, "prompt", "invalid_value", "empty array");
  expect_bad("{\"prompt\":{}}", SC_OAI_COMPLETION, "prompt", "invalid_type", "a string");
  expect_bad("{\"prompt\":\"x\",\"a\":1,\"a\":2}", SC_OAI_COMPLETION, "", "invalid_json", "duplicate");
}

Test(openai, error_body_shape) {
  sc_oai_error err;
  sc_oai_fail(&err, SC_EINVAL, 400, "top_p", "invalid_value", "bad %d", 1);
  json_t *o = sc_oai_error_json(&err);
  json_t *e = json_object_get(o, "error");
  cr_assert_str_eq(json_string_value(json_object_get(e, "message")), "bad 1");
  cr_assert_str_eq(json_string_value(json_object_get(e, "type")), "invalid_request_error");
  cr_assert_str_eq(json_string_value(json_object_get(e, "param")), "top_p");
  cr_assert_str_eq(json_string_value(json_object_get(e, "code")), "invalid_value");
  json_decref(o);
  sc_oai_fail(&err, SC_ENOENT, 404, NULL, "model_not_found", "no");
  o = sc_oai_error_json(&err);
  e = json_object_get(o, "error");
  cr_assert(json_is_null(json_object_get(e, "param")));
  cr_assert_str_eq(json_string_value(json_object_get(e, "type")), "not_found_error");
  json_decref(o);
}

Test(openai, error_body_is_valid_json_for_any_input) {
  /* jansson quotes the bad input in its message; invalid UTF-8 there must not break the body. */
  const char *body = "{\"messages\":[{\"role\":\"user\",\"content\":\"\\ud4b\xe7\xae\x97\xe6\xb1\"}]}";
  sc_oai_request r;
  sc_oai_error err;
  cr_assert_eq(parse(body, SC_OAI_CHAT, &r, &err), SC_EINVAL);
  json_t *o = sc_oai_error_json(&err);
  cr_assert_not_null(o);
  char *s = json_dumps(o, JSON_COMPACT);
  cr_assert_not_null(s);
  free(s);
  json_decref(o);
  /* A role quoted with %.32s may be cut inside a character. */
  cr_assert_eq(parse("{\"messages\":[{\"role\":\"\xe7\xae\x97\xe7\xae\x97\xe7\xae\x97\xe7\xae\x97\xe7\xae\x97\xe7\xae\x97"
                     "\xe7\xae\x97\xe7\xae\x97\xe7\xae\x97\xe7\xae\x97\xe7\xae\x97\",\"content\":\"x\"}]}",
                     SC_OAI_CHAT, &r, &err),
               SC_EINVAL);
  o = sc_oai_error_json(&err);
  cr_assert_not_null(o);
  json_decref(o);
}
