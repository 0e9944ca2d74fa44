/*
 * chips.c — the chip catalogue. Entries live in a growable array; lookups are linear (the
 * catalogue has tens of rows, lookups happen at registration, not per request).
 */
#include "chips/chips.h"
#include "base/csv.h"
#include "base/util.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

extern const unsigned char sc_chips_builtin_csv[];
extern const size_t sc_chips_builtin_csv_len;

struct sc_chips {
  sc_chip *v;
  size_t n, cap;
};

sc_chips *sc_chips_create(void) { return sc_xcalloc(1, sizeof(sc_chips)); }

void sc_chips_destroy(sc_chips *c) {
  if (!c) return;
  free(c->v);
  free(c);
}

size_t sc_chips_count(const sc_chips *c) { return c->n; }
const sc_chip *sc_chips_at(const sc_chips *c, size_t i) { return i < c->n ? &c->v[i] : NULL; }

const sc_chip *sc_chips_find(const sc_chips *c, const char *key) {
  for (size_t i = 0; i < c->n; i++)
    if (strcasecmp(c->v[i].key, key) == 0) return &c->v[i];
  return NULL;
}

static int num(const char *origin, const sc_csv *r, int col, const char *name, double *out, sc_err *e) {
  *out = 0;
  if (col < 0 || col >= r->nfields || r->field[col][0] == 0) return 0;
  if (sc_parse_double(r->field[col], 0, 1e12, out))
    return sc_err_set(e, SC_EFORMAT, "invalid_catalogue", "%s:%d: column %s: '%s' is not a non-negative number",
                      origin, r->line, name, r->field[col]);
  return 0;
}

static int str(const char *origin, const sc_csv *r, int col, const char *name, char *out, size_t cap, sc_err *e) {
  const char *v = (col >= 0 && col < r->nfields) ? r->field[col] : "";
  if (!sc_strlcpy(out, v, cap))
    return sc_err_set(e, SC_EFORMAT, "invalid_catalogue", "%s:%d: column %s longer than %zu bytes", origin,
                      r->line, name, cap - 1);
  return 0;
}

int sc_chips_load_csv(sc_chips *c, const char *csv, size_t len, const char *origin, sc_err *e) {
  static const char *const ncols[] = {"memory_gib", "mem_bw_tbps", "bf16_dense_tflops", "tdp_w", "rent_usd_per_hour",
                                      "purchase_usd", "decode_tok_s_7b_batch1", "decode_tok_s_7b_batch32",
                                      "prefill_tok_s_7b"};
  enum { NNUM = sizeof ncols / sizeof ncols[0] };
  int rc = 0;
  sc_csv *r = sc_xmalloc(sizeof *r);
  sc_chip *rows = NULL;
  size_t nrows = 0, cap = 0;
  sc_csv_init(r, csv, len);
  rc = sc_csv_next(r, e);
  if (rc <= 0) {
    if (rc == 0) rc = sc_err_set(e, SC_EFORMAT, "invalid_catalogue", "%s: empty file, expected a header", origin);
    goto out;
  }
  int ckey = sc_csv_col(r, "key"), cvendor = sc_csv_col(r, "vendor"), cname = sc_csv_col(r, "chip");
  int cnum[NNUM];
  for (int i = 0; i < NNUM; i++) cnum[i] = sc_csv_col(r, ncols[i]);
  if (ckey < 0 || cvendor < 0 || cnum[0] < 0) {
    rc = sc_err_set(e, SC_EFORMAT, "invalid_catalogue", "%s:1: header must have columns key, vendor, memory_gib",
                    origin);
    goto out;
  }
  int hdr_fields = r->nfields;
  while ((rc = sc_csv_next(r, e)) == 1) {
    if (r->nfields != hdr_fields) {
      rc = sc_err_set(e, SC_EFORMAT, "invalid_catalogue", "%s:%d: %d fields, header has %d", origin, r->line,
                      r->nfields, hdr_fields);
      goto out;
    }
    sc_chip ch;
    memset(&ch, 0, sizeof ch);
    if ((rc = str(origin, r, ckey, "key", ch.key, sizeof ch.key, e)) ||
        (rc = str(origin, r, cvendor, "vendor", ch.vendor, sizeof ch.vendor, e)) ||
        (rc = str(origin, r, cname, "chip", ch.name, sizeof ch.name, e)))
      goto out;
    if (!ch.key[0] || !ch.vendor[0]) {
      rc = sc_err_set(e, SC_EFORMAT, "invalid_catalogue", "%s:%d: key and vendor must not be empty", origin, r->line);
      goto out;
    }
    double *dst[NNUM] = {&ch.memory_gib, &ch.mem_bw_tbps, &ch.bf16_tflops, &ch.tdp_w, &ch.rent_usd_per_hour,
                         &ch.purchase_usd, &ch.decode_tok_s_7b_b1, &ch.decode_tok_s_7b_b32, &ch.prefill_tok_s_7b};
    for (int i = 0; i < NNUM; i++)
      if ((rc = num(origin, r, cnum[i], ncols[i], dst[i], e))) goto out;
    if (!ch.name[0]) memcpy(ch.name, ch.key, sizeof ch.key);
    if (nrows == cap) {
      cap = cap ? cap * 2 : 16;
      rows = sc_xrealloc(rows, cap * sizeof *rows);
    }
    rows[nrows++] = ch;
  }
  if (rc < 0) {
    char why[sizeof e->msg];
    sc_strlcpy(why, e ? e->msg : "malformed CSV", sizeof why);
    sc_err_set(e, rc, "invalid_catalogue", "%s: %s", origin, why);
    goto out;
  }
  rc = 0;
  /* all rows parsed: apply them */
  for (size_t i = 0; i < nrows; i++) {
    sc_chip *old = (sc_chip *)sc_chips_find(c, rows[i].key);
    if (old) {
      *old = rows[i];
      continue;
    }
    if (c->n == c->cap) {
      c->cap = c->cap ? c->cap * 2 : 32;
      c->v = sc_xrealloc(c->v, c->cap * sizeof *c->v);
    }
    c->v[c->n++] = rows[i];
  }
out:
  free(rows);
  free(r);
  return rc;
}

int sc_chips_load_builtin(sc_chips *c, sc_err *e) {
  return sc_chips_load_csv(c, (const char *)sc_chips_builtin_csv, sc_chips_builtin_csv_len, "chips.csv (built-in)", e);
}

int sc_chips_load_file(sc_chips *c, const char *path, sc_err *e) {
  char *buf = NULL;
  size_t len = 0;
  int rc = sc_read_file(path, 4u << 20, &buf, &len);
  if (rc) return sc_err_set(e, rc, "invalid_catalogue", "%s: %s", path, sc_strerror(rc));
  rc = sc_chips_load_csv(c, buf, len, path, e);
  free(buf);
  return rc;
}

static sc_chips *g_chips;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void global_init(void) {
  sc_err e;
  g_chips = sc_chips_create();
  if (sc_chips_load_builtin(g_chips, &e)) abort(); /* the built-in file is tested; failing here is a build bug */
}

const sc_chips *sc_chips_global(void) {
  pthread_once(&g_once, global_init);
  return g_chips;
}

int sc_chips_global_extend(const char *path, sc_err *e) {
  pthread_once(&g_once, global_init);
  return sc_chips_load_file(g_chips, path, e);
}
