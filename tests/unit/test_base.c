/* Unit tests for src/base: number/duration parsing, flags, CSV, JSON validation. */
#include <criterion/criterion.h>
#include <string.h>

#include "base/csv.h"
#include "base/flags.h"
#include "base/json.h"
#include "base/util.h"

Test(util, parse_i64_strict) {
  int64_t v;
  cr_assert_eq(sc_parse_i64("42", 0, 100, &v), 0);
  cr_assert_eq(v, 42);
  cr_assert_neq(sc_parse_i64("42x", 0, 100, &v), 0);
  cr_assert_neq(sc_parse_i64("", 0, 100, &v), 0);
  cr_assert_neq(sc_parse_i64(" 4", 0, 100, &v), 0);
  cr_assert_neq(sc_parse_i64("101", 0, 100, &v), 0);
  cr_assert_neq(sc_parse_i64("99999999999999999999999", INT64_MIN, INT64_MAX, &v), 0);
}

Test(util, parse_duration) {
  int64_t s;
  cr_assert_eq(sc_parse_duration("24h", &s), 0);
  cr_assert_eq(s, 86400);
  cr_assert_eq(sc_parse_duration("90", &s), 0);
  cr_assert_eq(s, 90);
  cr_assert_eq(sc_parse_duration("15m", &s), 0);
  cr_assert_eq(s, 900);
  cr_assert_eq(sc_parse_duration("7d", &s), 0);
  cr_assert_eq(s, 7 * 86400);
  cr_assert_neq(sc_parse_duration("h", &s), 0);
  cr_assert_neq(sc_parse_duration("-5s", &s), 0);
  cr_assert_neq(sc_parse_duration("0s", &s), 0);
  cr_assert_neq(sc_parse_duration("5w", &s), 0);
}

Test(flags, forms_and_errors) {
  const char *name = NULL;
  int64_t n = 7;
  bool pool = false;
  sc_flag flags[] = {{.name = "name", .type = SC_FLAG_STR, .out = &name, .required = true},
                     {.name = "n", .type = SC_FLAG_I64, .out = &n, .min = 1, .max = 10},
                     {.name = "pool", .type = SC_FLAG_BOOL, .out = &pool},
                     {0}};
  char *argv1[] = {"add", "--name", "x", "--n=3", "--pool", "extra"};
  sc_args a;
  sc_err e;
  cr_assert_eq(sc_flags_parse(flags, 6, argv1, &a, &e), 0);
  cr_assert_str_eq(name, "x");
  cr_assert_eq(n, 3);
  cr_assert(pool);
  cr_assert_eq(a.npos, 2);
  cr_assert_str_eq(a.pos[1], "extra");

  char *argv2[] = {"--name", "x", "--bogus"};
  cr_assert_neq(sc_flags_parse(flags, 3, argv2, &a, &e), 0);
  cr_assert(strstr(e.msg, "--bogus"));
  char *argv3[] = {"--n", "11", "--name", "y"};
  cr_assert_neq(sc_flags_parse(flags, 4, argv3, &a, &e), 0);
  cr_assert(strstr(e.msg, "--n"));
  char *argv4[] = {"--n", "2"};
  cr_assert_neq(sc_flags_parse(flags, 2, argv4, &a, &e), 0);
  cr_assert(strstr(e.msg, "--name is required"));
  char *argv5[] = {"--name"};
  cr_assert_neq(sc_flags_parse(flags, 1, argv5, &a, &e), 0);
  cr_assert(strstr(e.msg, "needs a value"));
}

Test(csv, quoting_and_lines) {
  const char *text = "a,b,c\n1,\"x,y\",\"he said \"\"hi\"\"\"\n\n2,\"multi\nline\",z\r\n3,,\n";
  sc_csv *r = malloc(sizeof *r);
  sc_err e;
  sc_csv_init(r, text, strlen(text));
  cr_assert_eq(sc_csv_next(r, &e), 1);
  cr_assert_eq(r->nfields, 3);
  cr_assert_eq(sc_csv_col(r, "c"), 2);
  cr_assert_eq(sc_csv_next(r, &e), 1);
  cr_assert_str_eq(r->field[1], "x,y");
  cr_assert_str_eq(r->field[2], "he said \"hi\"");
  cr_assert_eq(sc_csv_next(r, &e), 1);
  cr_assert_eq(r->line, 4);
  cr_assert_str_eq(r->field[1], "multi\nline");
  cr_assert_eq(sc_csv_next(r, &e), 1);
  cr_assert_eq(r->line, 6);
  cr_assert_eq(r->nfields, 3);
  cr_assert_str_eq(r->field[2], "");
  cr_assert_eq(sc_csv_next(r, &e), 0);
  free(r);
}

Test(csv, malformed) {
  sc_csv *r = malloc(sizeof *r);
  sc_err e;
  const char *bad1 = "a,b\n1,\"open\n";
  sc_csv_init(r, bad1, strlen(bad1));
  cr_assert_eq(sc_csv_next(r, &e), 1);
  cr_assert_eq(sc_csv_next(r, &e), SC_EFORMAT);
  cr_assert(strstr(e.msg, "line 2"));
  const char *bad2 = "\"a\"b,c\n";
  sc_csv_init(r, bad2, strlen(bad2));
  cr_assert_eq(sc_csv_next(r, &e), SC_EFORMAT);
  free(r);
}

Test(json, check_fields) {
  sc_json_field f[] = {{"name", SC_JSON_STRING, true, 0, 0, 16, false},
                       {"share", SC_JSON_INT, false, 0, 100, 0, false},
                       {0}};
  sc_err e;
  json_t *o;
  cr_assert_eq(sc_json_parse_object("{\"name\":\"a\",\"share\":70}", 23, &o, &e), 0);
  cr_assert_eq(sc_json_check(o, f, NULL, &e), 0);
  json_decref(o);
  const char *cases[][2] = {
      {"{\"share\":70}", "missing field 'name'"},
      {"{\"name\":5}", "must be a string"},
      {"{\"name\":\"a\",\"x\":1}", "unknown field 'x'"},
      {"{\"name\":\"a\",\"share\":101}", "between 0 and 100"},
      {"{\"name\":\"\"}", "must not be empty"},
      {"{\"name\":\"aaaaaaaaaaaaaaaaa\"}", "longer than 16"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    cr_assert_eq(sc_json_parse_object(cases[i][0], strlen(cases[i][0]), &o, &e), 0);
    cr_assert_eq(sc_json_check(o, f, NULL, &e), SC_EINVAL, "case %zu", i);
    cr_assert(strstr(e.msg, cases[i][1]), "case %zu: %s", i, e.msg);
    json_decref(o);
  }
  cr_assert_eq(sc_json_parse_object("{\"a\":", 5, &o, &e), SC_EINVAL);
  cr_assert(strstr(e.msg, "malformed JSON"));
  cr_assert_eq(sc_json_parse_object("[1]", 3, &o, &e), SC_EINVAL);
  cr_assert_eq(sc_json_parse_object("{\"a\":1,\"a\":2}", 13, &o, &e), SC_EINVAL);
}
