/*
 * trace.c — loads the openb node and pod CSVs (src/base/csv.h) with strict checks.
 *
 * Every value is range-checked (negative or absurd sizes, GPU counts, per-GPU milli), GPU models
 * must be known openb codes, a fraction of a GPU is only valid on one GPU, and each row must have
 * as many fields as the header. Rows go into fresh arrays that replace the trace's only when the
 * whole file was good, so a bad file changes nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/csv.h"
#include "base/util.h"
#include "sched/trace.h"

static const char *known_models[] = {"A10", "G1", "G2", "G3", "P100", "T4", "V100M16", "V100M32"};

bool sc_trace_model_known(const char *model) {
  for (size_t i = 0; i < sizeof known_models / sizeof known_models[0]; i++)
    if (strcmp(model, known_models[i]) == 0) return true;
  return false;
}

typedef struct col {
  const char *name;
  int idx;
  bool required;
} col;

static int find_cols(const sc_csv *r, col *cols, int n, const char *origin, sc_err *e) {
  for (int i = 0; i < n; i++) {
    cols[i].idx = sc_csv_col(r, cols[i].name);
    if (cols[i].idx < 0 && cols[i].required)
      return sc_err_set(e, SC_EFORMAT, "invalid_trace", "%s:%d: missing column %s", origin, r->line, cols[i].name);
  }
  return 0;
}

static int get_int(const sc_csv *r, const col *c, int64_t min, int64_t max, const char *origin, int64_t *out,
                   sc_err *e) {
  const char *s = r->field[c->idx];
  if (sc_parse_i64(s, INT64_MIN, INT64_MAX, out))
    return sc_err_set(e, SC_EFORMAT, "invalid_trace", "%s:%d: column %s (%d): '%.40s' is not an integer", origin,
                      r->line, c->name, c->idx + 1, s);
  if (*out < min || *out > max)
    return sc_err_set(e, SC_EFORMAT, "invalid_trace", "%s:%d: column %s (%d): %lld is out of range %lld..%lld",
                      origin, r->line, c->name, c->idx + 1, (long long)*out, (long long)min, (long long)max);
  return 0;
}

static int get_name(const sc_csv *r, const col *c, char *out, size_t cap, const char *origin, sc_err *e) {
  const char *s = r->field[c->idx];
  if (!*s || !sc_strlcpy(out, s, cap))
    return sc_err_set(e, SC_EFORMAT, "invalid_trace", "%s:%d: column %s (%d): must be 1..%zu bytes", origin,
                      r->line, c->name, c->idx + 1, cap - 1);
  return 0;
}

/* Checks a '|'-separated model list; returns 0 or an error naming the first unknown model. */
static int check_models(const sc_csv *r, const col *c, const char *s, const char *origin, sc_err *e) {
  const char *p = s;
  while (*p) {
    const char *q = strchr(p, '|');
    size_t n = q ? (size_t)(q - p) : strlen(p);
    char m[64];
    if (n == 0 || n >= sizeof m)
      return sc_err_set(e, SC_EFORMAT, "invalid_trace", "%s:%d: column %s (%d): empty or overlong model in '%.60s'",
                        origin, r->line, c->name, c->idx + 1, s);
    memcpy(m, p, n);
    m[n] = 0;
    if (!sc_trace_model_known(m))
      return sc_err_set(e, SC_EFORMAT, "invalid_trace", "%s:%d: column %s (%d): unknown GPU model '%s'", origin,
                        r->line, c->name, c->idx + 1, m);
    if (!q) break;
    p = q + 1;
  }
  return 0;
}

static int cmp_node_name(const void *a, const void *b) {
  return strcmp((*(sc_trace_node *const *)a)->name, (*(sc_trace_node *const *)b)->name);
}

static int header(sc_csv *r, const char *origin, sc_err *e) {
  int rc = sc_csv_next(r, e);
  if (rc == 0) return sc_err_set(e, SC_EFORMAT, "invalid_trace", "%s: empty file, expected a header", origin);
  if (rc < 0) {
    char msg[sizeof e->msg];
    snprintf(msg, sizeof msg, "%s", e ? e->msg : "");
    return sc_err_set(e, rc, "invalid_trace", "%s: %s", origin, msg);
  }
  return 0;
}

static int row_error(sc_err *e, int rc, const char *origin) {
  char msg[sizeof e->msg];
  snprintf(msg, sizeof msg, "%s", e ? e->msg : "");
  return sc_err_set(e, rc, "invalid_trace", "%s: %s", origin, msg);
}

int sc_trace_load_nodes(sc_trace *t, const char *csv, size_t len, const char *origin, sc_err *e) {
  sc_csv *r = sc_xmalloc(sizeof *r);
  sc_trace_node *v = NULL, **ord = NULL;
  int n = 0, cap = 0, lcap = 0, rc, *lines = NULL;
  col cols[] = {{"sn", -1, true}, {"cpu_milli", -1, true}, {"memory_mib", -1, true}, {"gpu", -1, true},
                {"model", -1, true}};
  sc_csv_init(r, csv, len);
  if ((rc = header(r, origin, e)) || (rc = find_cols(r, cols, 5, origin, e))) goto out;
  int nhead = r->nfields;
  while ((rc = sc_csv_next(r, e)) == 1) {
    if (r->nfields != nhead) {
      rc = sc_err_set(e, SC_EFORMAT, "invalid_trace", "%s:%d: %d fields, header has %d", origin, r->line,
                      r->nfields, nhead);
      goto out;
    }
    if (n >= SC_TRACE_MAX_ROWS) {
      rc = sc_err_set(e, SC_ETOOBIG, "invalid_trace", "%s:%d: more than %d rows", origin, r->line, SC_TRACE_MAX_ROWS);
      goto out;
    }
    if (n == cap) {
      cap = cap ? cap * 2 : 256;
      v = sc_xrealloc(v, (size_t)cap * sizeof *v);
    }
    sc_trace_node *x = &v[n];
    memset(x, 0, sizeof *x);
    int64_t g;
    if ((rc = get_name(r, &cols[0], x->name, sizeof x->name, origin, e)) ||
        (rc = get_int(r, &cols[1], 0, SC_TRACE_MAX_CPU, origin, &x->cpu_milli, e)) ||
        (rc = get_int(r, &cols[2], 0, SC_TRACE_MAX_MEM, origin, &x->mem_mib, e)) ||
        (rc = get_int(r, &cols[3], 0, SC_SCHED_MAX_DEVS, origin, &g, e)))
      goto out;
    x->gpus = (int)g;
    const char *model = r->field[cols[4].idx];
    if (x->gpus && !*model) {
      rc = sc_err_set(e, SC_EFORMAT, "invalid_trace", "%s:%d: column model (%d): empty for a node with %d GPUs",
                      origin, r->line, cols[4].idx + 1, x->gpus);
      goto out;
    }
    if (*model) {
      if (strchr(model, '|') || !sc_strlcpy(x->model, model, sizeof x->model) || !sc_trace_model_known(model)) {
        rc = sc_err_set(e, SC_EFORMAT, "invalid_trace", "%s:%d: column model (%d): unknown GPU model '%.40s'", origin,
                        r->line, cols[4].idx + 1, model);
        goto out;
      }
    }
    if (n == lcap) {
      lcap = lcap ? lcap * 2 : 256;
      lines = sc_xrealloc(lines, (size_t)lcap * sizeof *lines);
    }
    lines[n] = r->line;
    n++;
  }
  if (rc < 0) {
    rc = row_error(e, rc, origin);
    goto out;
  }
  /* duplicate names: sort indices by name and compare neighbours */
  if (n > 1) {
    ord = sc_xmalloc((size_t)n * sizeof *ord);
    for (int i = 0; i < n; i++) ord[i] = &v[i];
    qsort(ord, (size_t)n, sizeof *ord, cmp_node_name);
    for (int i = 1; i < n; i++)
      if (strcmp(ord[i - 1]->name, ord[i]->name) == 0) {
        int a = (int)(ord[i - 1] - v), b = (int)(ord[i] - v);
        rc = sc_err_set(e, SC_EFORMAT, "invalid_trace", "%s:%d: column sn (%d): duplicate node '%s' (also line %d)",
                        origin, lines[a > b ? a : b], cols[0].idx + 1, ord[i]->name, lines[a < b ? a : b]);
        goto out;
      }
  }
  rc = 0;
  free(t->nodes);
  t->nodes = v;
  t->nnodes = n;
  v = NULL;
out:
  free(ord);
  free(lines);
  free(v);
  free(r);
  return rc;
}

int sc_trace_load_pods(sc_trace *t, const char *csv, size_t len, const char *origin, sc_err *e) {
  sc_csv *r = sc_xmalloc(sizeof *r);
  sc_trace_pod *v = NULL;
  int n = 0, cap = 0, rc;
  col cols[] = {{"name", -1, true},    {"cpu_milli", -1, true}, {"memory_mib", -1, true},
                {"num_gpu", -1, true}, {"gpu_milli", -1, true}, {"gpu_spec", -1, false}};
  sc_csv_init(r, csv, len);
  if ((rc = header(r, origin, e)) || (rc = find_cols(r, cols, 6, origin, e))) goto out;
  int nhead = r->nfields;
  while ((rc = sc_csv_next(r, e)) == 1) {
    if (r->nfields != nhead) {
      rc = sc_err_set(e, SC_EFORMAT, "invalid_trace", "%s:%d: %d fields, header has %d", origin, r->line,
                      r->nfields, nhead);
      goto out;
    }
    if (n >= SC_TRACE_MAX_ROWS) {
      rc = sc_err_set(e, SC_ETOOBIG, "invalid_trace", "%s:%d: more than %d rows", origin, r->line, SC_TRACE_MAX_ROWS);
      goto out;
    }
    if (n == cap) {
      cap = cap ? cap * 2 : 1024;
      v = sc_xrealloc(v, (size_t)cap * sizeof *v);
    }
    sc_trace_pod *x = &v[n];
    memset(x, 0, sizeof *x);
    int64_t g, m;
    if ((rc = get_name(r, &cols[0], x->name, sizeof x->name, origin, e)) ||
        (rc = get_int(r, &cols[1], 0, SC_TRACE_MAX_CPU, origin, &x->cpu_milli, e)) ||
        (rc = get_int(r, &cols[2], 0, SC_TRACE_MAX_MEM, origin, &x->mem_mib, e)) ||
        (rc = get_int(r, &cols[3], 0, SC_SCHED_MAX_GPUS, origin, &g, e)) ||
        (rc = get_int(r, &cols[4], 0, 1000, origin, &m, e)))
      goto out;
    x->num_gpu = (int)g;
    x->gpu_milli = g ? (int)m : 0;
    if (g && m == 0) {
      rc = sc_err_set(e, SC_EFORMAT, "invalid_trace", "%s:%d: column gpu_milli (%d): 0 with num_gpu %d", origin,
                      r->line, cols[4].idx + 1, x->num_gpu);
      goto out;
    }
    if (g > 1 && m != 1000) {
      rc = sc_err_set(e, SC_EFORMAT, "invalid_trace",
                      "%s:%d: column gpu_milli (%d): %lld is a fraction, only possible with num_gpu 1 (got %d)", origin,
                      r->line, cols[4].idx + 1, (long long)m, x->num_gpu);
      goto out;
    }
    if (cols[5].idx >= 0 && g) {
      const char *spec = r->field[cols[5].idx];
      if (!sc_strlcpy(x->spec, spec, sizeof x->spec)) {
        rc = sc_err_set(e, SC_EFORMAT, "invalid_trace", "%s:%d: column gpu_spec (%d): longer than %zu bytes", origin,
                        r->line, cols[5].idx + 1, sizeof x->spec - 1);
        goto out;
      }
      if ((rc = check_models(r, &cols[5], spec, origin, e))) goto out;
    }
    n++;
  }
  if (rc < 0) {
    rc = row_error(e, rc, origin);
    goto out;
  }
  rc = 0;
  free(t->pods);
  t->pods = v;
  t->npods = n;
  v = NULL;
out:
  free(v);
  free(r);
  return rc;
}

void sc_trace_fini(sc_trace *t) {
  free(t->nodes);
  free(t->pods);
  memset(t, 0, sizeof *t);
}
