/*
 * scan.c — the gateway's fast path for request bodies: one pass over the bytes, no allocation,
 * that either proves the body is a valid request and extracts what routing needs, or gives up.
 *
 * It answers GW_SCAN_OK only for bodies that jansson (sc_json_parse_object, duplicates rejected)
 * would accept as an object AND that pass every check of the gateway's slow path (check_body):
 * then the gateway forwards the client's bytes without building a JSON tree. Anything else —
 * invalid JSON, a field of the wrong type or range, and also what it does not bother to handle
 * (escapes in keys or in the model name, \u0000, numbers jansson might refuse as too big, nesting
 * deeper than 64, objects with more than 64 keys) — is GW_SCAN_SLOW: the slow path parses the body
 * with jansson and gives the exact error. tests/fuzz/fuzz_gateway_scan.c checks the OK answers
 * against jansson on arbitrary input.
 *
 * text_hash covers the first GW_PREFIX_BYTES bytes of the prompt's text (messages' string contents in
 * order, or the prompt) as they appear in the body (escapes not decoded), so equal prompts hash equally.
 */
#include <string.h>

#include "gateway/internal.h"

#define MAX_DEPTH 64
#define MAX_KEYS 64

typedef struct scanner {
  const char *p, *end;
  uint64_t hash;
  size_t hash_left;
} scanner;

static uint64_t fnv(uint64_t h, const char *p, size_t n) {
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)p[i]) * 1099511628211ULL;
  return h;
}

static void ws(scanner *s) {
  while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r')) s->p++;
}

static int hexv(char c) {
  return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static bool hex4(const char *p, unsigned *v) {
  *v = 0;
  for (int i = 0; i < 4; i++) {
    int h = hexv(p[i]);
    if (h < 0) return false;
    *v = *v * 16 + (unsigned)h;
  }
  return true;
}

/* Length of the valid UTF-8 sequence at p (non-ASCII lead byte), or 0. */
static size_t utf8_len(const unsigned char *p, const unsigned char *end) {
  unsigned c = p[0];
  size_t n;
  unsigned min;
  if (c >= 0xC2 && c <= 0xDF) n = 2, min = 0x80;
  else if (c >= 0xE0 && c <= 0xEF) n = 3, min = 0x800;
  else if (c >= 0xF0 && c <= 0xF4) n = 4, min = 0x10000;
  else return 0;
  if ((size_t)(end - p) < n) return 0;
  unsigned cp = c & (n == 2 ? 0x1F : n == 3 ? 0x0F : 0x07);
  for (size_t i = 1; i < n; i++) {
    if ((p[i] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (p[i] & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

/* A string at s->p (the opening quote). Its raw contents go to *out; *escaped says whether it had
 * escapes. false: give up. */
static bool str(scanner *s, sc_hslice *out, bool *escaped) {
  const char *p = s->p + 1;
  *escaped = false;
  while (p < s->end) {
    unsigned char c = (unsigned char)*p;
    if (c == '"') {
      if (out) *out = (sc_hslice){s->p + 1, (size_t)(p - s->p - 1)};
      s->p = p + 1;
      return true;
    }
    if (c < 0x20) return false;
    if (c == '\\') {
      *escaped = true;
      if (p + 1 >= s->end) return false;
      char e = p[1];
      if (e == 'u') {
        unsigned v, w;
        if (s->end - p < 6 || !hex4(p + 2, &v) || v == 0) return false;
        if (v >= 0xDC00 && v <= 0xDFFF) return false;
        if (v >= 0xD800 && v <= 0xDBFF) { /* a high surrogate needs its low half */
          if (s->end - p < 12 || p[6] != '\\' || p[7] != 'u' || !hex4(p + 8, &w) || w < 0xDC00 || w > 0xDFFF) return false;
          p += 12;
        } else {
          p += 6;
        }
        continue;
      }
      if (!strchr("\"\\/bfnrt", e) || !e) return false;
      p += 2;
      continue;
    }
    if (c < 0x80) {
      p++;
      continue;
    }
    size_t n = utf8_len((const unsigned char *)p, (const unsigned char *)s->end);
    if (!n) return false;
    p += n;
  }
  return false;
}

/* A number. *ival and *is_int: the value when it is an integer of at most 18 digits. */
static bool num(scanner *s, int64_t *ival, bool *is_int) {
  const char *p = s->p;
  bool neg = *p == '-';
  if (neg) p++;
  if (p >= s->end) return false;
  const char *d0 = p;
  if (*p == '0') p++;
  else if (*p >= '1' && *p <= '9')
    while (p < s->end && *p >= '0' && *p <= '9') p++;
  else return false;
  size_t digits = (size_t)(p - d0);
  bool integer = true;
  if (p < s->end && *p == '.') {
    integer = false;
    p++;
    const char *f = p;
    while (p < s->end && *p >= '0' && *p <= '9') p++;
    if (p == f) return false;
  }
  if (p < s->end && (*p == 'e' || *p == 'E')) {
    integer = false;
    p++;
    if (p < s->end && (*p == '+' || *p == '-')) p++;
    const char *x = p;
    while (p < s->end && *p >= '0' && *p <= '9') p++;
    if (p == x || p - x > 2 || digits > 15) return false; /* what might overflow a double: slow path */
  }
  if (integer && digits > 18) return false;   /* jansson refuses integers over 64 bits */
  if (!integer && digits > 300) return false;
  if (integer) {
    int64_t v = 0;
    for (const char *q = d0; q < d0 + digits; q++) v = v * 10 + (*q - '0');
    *ival = neg ? -v : v;
  }
  *is_int = integer;
  s->p = p;
  return true;
}

static bool lit(scanner *s, const char *w) {
  size_t n = strlen(w);
  if ((size_t)(s->end - s->p) < n || memcmp(s->p, w, n) != 0) return false;
  s->p += n;
  return true;
}

static bool value(scanner *s, int depth);

/* An object at s->p. For each key, if `on_key` is given it is called with the key and must consume
 * the value (returning false to give up); otherwise the value is validated and skipped. */
typedef bool (*key_fn)(scanner *s, sc_hslice key, void *ctx, int depth);

static bool object(scanner *s, int depth, key_fn on_key, void *ctx) {
  if (depth > MAX_DEPTH) return false;
  sc_hslice keys[MAX_KEYS];
  int nk = 0;
  s->p++; /* { */
  ws(s);
  if (s->p < s->end && *s->p == '}') {
    s->p++;
    return true;
  }
  for (;;) {
    if (s->p >= s->end || *s->p != '"') return false;
    sc_hslice k;
    bool esc;
    if (!str(s, &k, &esc) || esc || nk == MAX_KEYS) return false;
    for (int i = 0; i < nk; i++)
      if (keys[i].n == k.n && memcmp(keys[i].p, k.p, k.n) == 0) return false; /* duplicate */
    keys[nk++] = k;
    ws(s);
    if (s->p >= s->end || *s->p != ':') return false;
    s->p++;
    ws(s);
    if (on_key ? !on_key(s, k, ctx, depth) : !value(s, depth + 1)) return false;
    ws(s);
    if (s->p >= s->end) return false;
    if (*s->p == '}') {
      s->p++;
      return true;
    }
    if (*s->p != ',') return false;
    s->p++;
    ws(s);
  }
}

static bool array(scanner *s, int depth, bool (*on_item)(scanner *s, void *ctx, int depth), void *ctx, int *count) {
  if (depth > MAX_DEPTH) return false;
  int n = 0;
  s->p++; /* [ */
  ws(s);
  if (s->p < s->end && *s->p == ']') {
    s->p++;
    if (count) *count = 0;
    return true;
  }
  for (;;) {
    if (on_item ? !on_item(s, ctx, depth) : !value(s, depth + 1)) return false;
    n++;
    ws(s);
    if (s->p >= s->end) return false;
    if (*s->p == ']') {
      s->p++;
      if (count) *count = n;
      return true;
    }
    if (*s->p != ',') return false;
    s->p++;
    ws(s);
  }
}

static bool value(scanner *s, int depth) {
  if (s->p >= s->end) return false;
  bool esc, is_int;
  int64_t iv;
  switch (*s->p) {
  case '{': return object(s, depth, NULL, NULL);
  case '[': return array(s, depth, NULL, NULL, NULL);
  case '"': return str(s, NULL, &esc);
  case 't': return lit(s, "true");
  case 'f': return lit(s, "false");
  case 'n': return lit(s, "null");
  default: return num(s, &iv, &is_int);
  }
}

static void hash_text(scanner *s, sc_hslice t) {
  size_t n = t.n < s->hash_left ? t.n : s->hash_left;
  s->hash = fnv(s->hash, t.p, n);
  s->hash_left -= n;
}

/* A string whose text goes into the hash. */
static bool hashed_str(scanner *s) {
  sc_hslice t;
  bool esc;
  if (!str(s, &t, &esc)) return false;
  hash_text(s, t);
  return true;
}

/* A message object: validated; the text of its "content" (when a string) goes into the hash. */
static bool message_key(scanner *s, sc_hslice key, void *ctx, int depth) {
  (void)ctx;
  if (key.n == 7 && memcmp(key.p, "content", 7) == 0 && s->p < s->end && *s->p == '"') return hashed_str(s);
  return value(s, depth + 1);
}

static bool message(scanner *s, void *ctx, int depth) {
  if (s->p < s->end && *s->p == '{') return object(s, depth + 1, message_key, ctx);
  return value(s, depth + 1);
}

/* The first element of a prompt array, when a string, goes into the hash. */
static bool prompt_item(scanner *s, void *ctx, int depth) {
  int *seen = ctx;
  if (!(*seen)++ && s->p < s->end && *s->p == '"') return hashed_str(s);
  return value(s, depth + 1);
}

typedef struct top {
  gw_scan_result *r;
  bool chat, seen_model, seen_msgs, seen_prompt, seen_mt, seen_mct;
  sc_hslice prompt_text, model;
  bool prompt_is_text;
  int64_t mt, mct;
} top;

static bool usage_key(scanner *s, sc_hslice key, void *ctx, int depth) {
  bool *include = ctx;
  if (key.n == 13 && memcmp(key.p, "include_usage", 13) == 0 && lit(s, "true")) {
    *include = true;
    return true;
  }
  return value(s, depth + 1);
}

/* max_tokens / max_completion_tokens: null, or an integer in range. */
static bool max_tokens(scanner *s, bool *seen, int64_t *v) {
  if (lit(s, "null")) return true;
  bool is_int;
  if (s->p >= s->end || !(*s->p == '-' || (*s->p >= '0' && *s->p <= '9')) || !num(s, v, &is_int) || !is_int) return false;
  if (*v < 1 || *v > GW_MAX_TOKENS_CAP) return false;
  *seen = true;
  return true;
}

static bool top_key(scanner *s, sc_hslice k, void *ctx, int depth) {
  top *t = ctx;
  gw_scan_result *r = t->r;
#define IS(lit_) (k.n == sizeof(lit_) - 1 && memcmp(k.p, lit_, k.n) == 0)
  if (IS("model")) {
    bool esc;
    if (s->p >= s->end || *s->p != '"' || !str(s, &t->model, &esc) || esc || t->model.n < 1 || t->model.n > 63)
      return false;
    t->seen_model = true;
    return true;
  }
  if (IS("stream")) {
    if (lit(s, "true")) return r->stream = true, true;
    return lit(s, "false") || lit(s, "null");
  }
  if (IS("stream_options")) {
    r->has_stream_options = true; /* present: a stream is then rewritten through jansson, not spliced */
    if (lit(s, "null")) return true;
    if (s->p >= s->end || *s->p != '{') return false;
    return object(s, depth + 1, usage_key, &r->include_usage);
  }
  if (IS("max_tokens")) return max_tokens(s, &t->seen_mt, &t->mt);
  if (IS("max_completion_tokens")) return max_tokens(s, &t->seen_mct, &t->mct);
  if (t->chat && IS("messages")) {
    int n = 0;
    if (s->p >= s->end || *s->p != '[' || !array(s, depth + 1, message, NULL, &n) || n == 0) return false;
    t->seen_msgs = true;
    return true;
  }
  if (!t->chat && IS("prompt")) {
    if (s->p < s->end && *s->p == '"') {
      bool esc;
      if (!str(s, &t->prompt_text, &esc)) return false;
      t->prompt_is_text = true;
    } else {
      int seen = 0;
      if (s->p >= s->end || *s->p != '[' || !array(s, depth + 1, prompt_item, &seen, NULL)) return false;
    }
    t->seen_prompt = true;
    return true;
  }
#undef IS
  return value(s, depth + 1);
}

int gw_scan(const char *body, size_t n, bool chat, gw_scan_result *r) {
  memset(r, 0, sizeof *r);
  scanner s = {.p = body, .end = body + n, .hash_left = GW_PREFIX_BYTES};
  top t = {.r = r, .chat = chat};
  ws(&s);
  if (s.p >= s.end || *s.p != '{') return GW_SCAN_SLOW;
  r->open = (size_t)(s.p - body);
  s.hash = 14695981039346656037ULL;
  if (!object(&s, 0, top_key, &t)) return GW_SCAN_SLOW;
  ws(&s);
  if (s.p != s.end || !t.seen_model || (chat ? !t.seen_msgs : !t.seen_prompt)) return GW_SCAN_SLOW;
  if (!chat && t.prompt_is_text) hash_text(&s, t.prompt_text);
  r->model = t.model;
  r->max_tokens = t.seen_mt ? t.mt : t.seen_mct ? t.mct : 0;
  r->text_hash = s.hash;
  return GW_SCAN_OK;
}

/* ---------- the engine's usage object ---------- */

typedef struct usage_ctx {
  int64_t prompt, completion;
  bool has_p, has_c;
} usage_ctx;

static bool usage_field(scanner *s, sc_hslice k, void *ctx, int depth) {
  usage_ctx *u = ctx;
  bool is_int;
  if (k.n == 13 && memcmp(k.p, "prompt_tokens", 13) == 0 && s->p < s->end && *s->p != '{' && *s->p != '[' &&
      *s->p != '"' && *s->p != 't' && *s->p != 'f' && *s->p != 'n')
    return num(s, &u->prompt, &is_int) && is_int && (u->has_p = true);
  if (k.n == 17 && memcmp(k.p, "completion_tokens", 17) == 0 && s->p < s->end && *s->p != '{' && *s->p != '[' &&
      *s->p != '"' && *s->p != 't' && *s->p != 'f' && *s->p != 'n')
    return num(s, &u->completion, &is_int) && is_int && (u->has_c = true);
  return value(s, depth + 1);
}

int gw_scan_usage(const char *p, size_t n, int64_t *prompt, int64_t *completion) {
  scanner s = {.p = p, .end = p + n};
  ws(&s);
  usage_ctx u = {0};
  if (s.p >= s.end || *s.p != '{' || !object(&s, 0, usage_field, &u) || !u.has_p || !u.has_c) return GW_SCAN_SLOW;
  *prompt = u.prompt;
  *completion = u.completion;
  return GW_SCAN_OK;
}
