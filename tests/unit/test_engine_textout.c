/* Unit tests for src/engine/textout.c: stop strings on text and UTF-8 hold-back while streaming. */
#include <criterion/criterion.h>
#include <string.h>

#include "engine/textout.h"

typedef struct {
  char buf[1024];
  size_t len;
  int calls;
} sink;

static void emit(void *ud, const char *s, size_t n) {
  sink *k = ud;
  cr_assert_lt(k->len + n, sizeof k->buf);
  memcpy(k->buf + k->len, s, n);
  k->len += n;
  k->buf[k->len] = 0;
  k->calls++;
}

static bool feed(sc_textout *t, sink *k, const char *s) { return sc_textout_feed(t, s, strlen(s), emit, k); }

Test(textout, no_stops_passes_text_through) {
  sc_textout *t = sc_textout_create(NULL, 0);
  sink k = {0};
  cr_assert_not(feed(t, &k, "Hello"));
  cr_assert_str_eq(k.buf, "Hello");
  cr_assert_not(feed(t, &k, ", world"));
  sc_textout_finish(t, emit, &k);
  cr_assert_str_eq(k.buf, "Hello, world");
  sc_textout_destroy(t);
}

Test(textout, stop_across_tokens_is_not_returned) {
  const char *stops[] = {"STOP", "\n\n"};
  sc_textout *t = sc_textout_create(stops, 2);
  sink k = {0};
  cr_assert_not(feed(t, &k, "abc S"));
  cr_assert_str_eq(k.buf, "abc ", "the partial match 'S' is held back");
  cr_assert_not(feed(t, &k, "T"));
  cr_assert_str_eq(k.buf, "abc ");
  cr_assert(feed(t, &k, "OP and more"));
  cr_assert_str_eq(k.buf, "abc ");
  cr_assert(sc_textout_stopped(t));
  cr_assert(feed(t, &k, "later"), "input after a stop is ignored");
  sc_textout_finish(t, emit, &k);
  cr_assert_str_eq(k.buf, "abc ");
  sc_textout_destroy(t);
}

Test(textout, false_partial_match_is_released) {
  const char *stops[] = {"STOP"};
  sc_textout *t = sc_textout_create(stops, 1);
  sink k = {0};
  cr_assert_not(feed(t, &k, "ST"));
  cr_assert_str_eq(k.buf, "");
  cr_assert_not(feed(t, &k, "AR"));
  cr_assert_str_eq(k.buf, "STAR");
  cr_assert_not(feed(t, &k, "ST"));
  sc_textout_finish(t, emit, &k);
  cr_assert_str_eq(k.buf, "STARST", "held-back text is released at the end");
  sc_textout_destroy(t);
}

Test(textout, earliest_stop_wins) {
  const char *stops[] = {"world", "lo"};
  sc_textout *t = sc_textout_create(stops, 2);
  sink k = {0};
  cr_assert(feed(t, &k, "hello world"));
  cr_assert_str_eq(k.buf, "hel");
  sc_textout_destroy(t);
}

Test(textout, utf8_split_across_tokens_is_held) {
  sc_textout *t = sc_textout_create(NULL, 0);
  sink k = {0};
  feed(t, &k, "a\xE7\xAE");
  cr_assert_str_eq(k.buf, "a");
  feed(t, &k, "\x97");
  cr_assert_str_eq(k.buf, "a\xE7\xAE\x97");
  feed(t, &k, "\xF0\x9F");
  feed(t, &k, "\x98");
  cr_assert_str_eq(k.buf, "a\xE7\xAE\x97");
  feed(t, &k, "\x80!");
  cr_assert_str_eq(k.buf, "a\xE7\xAE\x97\xF0\x9F\x98\x80!");
  sc_textout_destroy(t);
}

Test(textout, invalid_and_truncated_bytes_become_replacement_chars) {
  sc_textout *t = sc_textout_create(NULL, 0);
  sink k = {0};
  feed(t, &k, "x\xFFy\xC0\x80");
  cr_assert_str_eq(k.buf, "x\xEF\xBF\xBDy\xEF\xBF\xBD\xEF\xBF\xBD");
  feed(t, &k, "\xE6");
  sc_textout_finish(t, emit, &k);
  cr_assert_str_eq(k.buf, "x\xEF\xBF\xBDy\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD", "a truncated character at the end");
  sc_textout_destroy(t);
}

Test(textout, multibyte_stop_string) {
  const char *stops[] = {"池"};
  sc_textout *t = sc_textout_create(stops, 1);
  sink k = {0};
  cr_assert_not(feed(t, &k, "算\xE6"));
  cr_assert_str_eq(k.buf, "算");
  cr_assert(feed(t, &k, "\xB1\xA0 more"));
  cr_assert_str_eq(k.buf, "算");
  sc_textout_destroy(t);
}
