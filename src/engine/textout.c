/*
 * textout.c — stop strings and UTF-8 hold-back for generated text (see textout.h).
 *
 * Invariant: `pend` holds the bytes not yet emitted; every stop string that could match has its
 * whole match inside `pend`, because we only emit a prefix of `pend` after checking that no stop
 * string starts in it (the held-back suffix is the longest one that is a proper prefix of some
 * stop string, extended back to a UTF-8 character boundary).
 */
#include "engine/textout.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "engine/openai.h"
#include "engine/tokenizer.h" /* sc_utf8_complete_len */

struct sc_textout {
  char *stops[SC_OAI_MAX_STOP];
  size_t stop_len[SC_OAI_MAX_STOP];
  int n_stops;
  char *pend;
  size_t plen, pcap;
  bool stopped;
};

sc_textout *sc_textout_create(const char *const *stops, int n) {
  sc_textout *t = sc_xcalloc(1, sizeof *t);
  for (int i = 0; i < n && t->n_stops < SC_OAI_MAX_STOP; i++) {
    if (!stops[i] || !stops[i][0]) continue;
    t->stops[t->n_stops] = sc_xstrdup(stops[i]);
    t->stop_len[t->n_stops] = strlen(stops[i]);
    t->n_stops++;
  }
  return t;
}

void sc_textout_destroy(sc_textout *t) {
  if (!t) return;
  for (int i = 0; i < t->n_stops; i++) free(t->stops[i]);
  free(t->pend);
  free(t);
}

bool sc_textout_stopped(const sc_textout *t) { return t->stopped; }

/* Length of the valid UTF-8 sequence at s[0..n), or 0 if the bytes there are invalid or
 * incomplete. Rejects overlong forms, surrogates and code points above U+10FFFF (as jansson). */
static size_t utf8_seq(const unsigned char *s, size_t n) {
  unsigned c = s[0];
  size_t len;
  uint32_t cp;
  if (c < 0x80) return 1;
  if (c < 0xC2) return 0;
  if (c < 0xE0) len = 2, cp = c & 0x1F;
  else if (c < 0xF0) len = 3, cp = c & 0x0F;
  else if (c < 0xF5) len = 4, cp = c & 0x07;
  else return 0;
  if (n < len) return 0;
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (s[i] & 0x3F);
  }
  if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF))
    return 0;
  return len;
}

/* Length of the maximal subpart of an invalid sequence at s (Unicode's "U+FFFD substitution of
 * maximal subparts"): a lead byte and the continuation bytes that could still have followed it. */
static size_t invalid_len(const unsigned char *s, size_t n) {
  unsigned c = s[0];
  if (c < 0xC2 || c > 0xF4) return 1;
  size_t need = c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4, i = 1;
  for (; i < need && i < n; i++) {
    unsigned lo = 0x80, hi = 0xBF;
    if (i == 1) {
      if (c == 0xE0) lo = 0xA0;
      else if (c == 0xED) hi = 0x9F;
      else if (c == 0xF0) lo = 0x90;
      else if (c == 0xF4) hi = 0x8F;
    }
    if (s[i] < lo || s[i] > hi) break;
  }
  return i;
}

/* Emits s[0..n) with every invalid sequence (maximal subpart) replaced by one U+FFFD. */
static void emit_clean(const char *str, size_t n, void (*emit)(void *, const char *, size_t), void *ud) {
  const unsigned char *s = (const unsigned char *)str;
  size_t run = 0, i = 0;
  while (i < n) {
    size_t l = utf8_seq(s + i, n - i);
    if (l) {
      i += l;
      continue;
    }
    if (i > run) emit(ud, str + run, i - run);
    emit(ud, "\xEF\xBF\xBD", 3);
    i += invalid_len(s + i, n - i);
    run = i;
  }
  if (n > run) emit(ud, str + run, n - run);
}

/* Longest k < len(stop) such that the last k bytes of pend equal the first k bytes of a stop. */
static size_t holdback(const sc_textout *t) {
  size_t best = 0;
  for (int i = 0; i < t->n_stops; i++) {
    size_t k = t->stop_len[i] - 1;
    if (k > t->plen) k = t->plen;
    for (; k > best; k--)
      if (memcmp(t->pend + t->plen - k, t->stops[i], k) == 0) break;
    if (k > best) best = k;
  }
  return best;
}

bool sc_textout_feed(sc_textout *t, const char *bytes, size_t n, void (*emit)(void *ud, const char *s, size_t len),
                     void *ud) {
  if (t->stopped) return true;
  if (t->plen + n + 1 > t->pcap) {
    t->pcap = (t->plen + n + 1) * 2;
    t->pend = sc_xrealloc(t->pend, t->pcap);
  }
  if (n) memcpy(t->pend + t->plen, bytes, n);
  t->plen += n;
  /* The earliest stop match wins. */
  size_t at = SIZE_MAX;
  for (int i = 0; i < t->n_stops; i++) {
    void *m = memmem(t->pend, t->plen, t->stops[i], t->stop_len[i]);
    if (m && (size_t)((char *)m - t->pend) < at) at = (size_t)((char *)m - t->pend);
  }
  if (at != SIZE_MAX) {
    emit_clean(t->pend, at, emit, ud);
    t->plen = 0;
    t->stopped = true;
    return true;
  }
  size_t safe = t->plen - holdback(t);
  safe = sc_utf8_complete_len(t->pend, safe);
  if (safe) {
    emit_clean(t->pend, safe, emit, ud);
    memmove(t->pend, t->pend + safe, t->plen - safe);
    t->plen -= safe;
  }
  return false;
}

void sc_textout_finish(sc_textout *t, void (*emit)(void *ud, const char *s, size_t len), void *ud) {
  if (t->stopped || !t->plen) return;
  emit_clean(t->pend, t->plen, emit, ud);
  t->plen = 0;
}
