/* cli.c — see cli.h. */
#include "cli/cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/util.h"
#include "net/client.h"

int cli_parse(const char *prog, const char *usage, sc_flag *flags, int argc, char **argv, sc_args *args, int minpos,
              int maxpos, bool *done) {
  sc_err e;
  *done = false;
  if (sc_flags_parse(flags, argc, argv, args, &e)) {
    fprintf(stderr, "suanchi %s: %s\nusage: %s\n", prog, e.msg, usage);
    return 2;
  }
  if (args->help) {
    printf("usage: %s\n", usage);
    sc_flags_usage(stdout, flags);
    *done = true;
    return 0;
  }
  if (args->npos < minpos || args->npos > maxpos) {
    fprintf(stderr, "suanchi %s: %s\nusage: %s\n", prog,
            args->npos < minpos ? "missing argument" : "too many arguments", usage);
    return 2;
  }
  return 0;
}

static char *read_trimmed(const char *path) {
  char *buf = NULL;
  if (sc_read_file(path, 4096, &buf, NULL)) return NULL;
  sc_trim(buf);
  return buf;
}

/* Resolves server and credential and performs the request; status and reply are returned as
 * they came (any HTTP status). Returns 0, or 1 after printing why the call could not be made. */
static int call(const char *prog, const cli_common *c, const char *method, const char *path, const void *data,
                size_t len, const char *ctype, long *statusp, json_t **replyp) {
  int rc = 1;
  char *filetoken = NULL, *fileserver = NULL;
  const char *server = c->server ? c->server : getenv("SUANCHI_SERVER");
  char p[4096];
  if (!server && c->data) {
    snprintf(p, sizeof p, "%s/serve.addr", c->data);
    server = fileserver = read_trimmed(p);
  }
  if (!server || !*server) server = "http://127.0.0.1:7700";
  const char *token = c->token ? c->token : getenv("SUANCHI_TOKEN");
  if (!token || !*token) {
    snprintf(p, sizeof p, "%s/admin.token", c->data ? c->data : "./suanchi-data");
    token = filetoken = read_trimmed(p);
    if (!token) {
      fprintf(stderr,
              "suanchi %s: no credential: give --token, set SUANCHI_TOKEN, or --data DIR (reads DIR/admin.token; "
              "cannot read %s)\n",
              prog, p);
      goto out;
    }
  }
  sc_client *cl = sc_client_create(server, token, 120000);
  sc_err e;
  int crc = sc_client_call_raw(cl, method, path, data, len, ctype, statusp, replyp, &e);
  sc_client_destroy(cl);
  if (crc) {
    fprintf(stderr, "suanchi %s: %s\n", prog, e.msg);
    goto out;
  }
  rc = 0;
out:
  free(filetoken);
  free(fileserver);
  return rc;
}

int cli_call(const char *prog, const cli_common *c, const char *method, const char *path, const json_t *body,
             json_t **reply) {
  char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
  long status = 0;
  json_t *r = NULL;
  int rc = call(prog, c, method, path, text, text ? strlen(text) : 0, text ? "application/json" : NULL, &status, &r);
  free(text);
  if (rc) return rc;
  if (status < 200 || status >= 300) {
    sc_err e;
    sc_client_reply_error(status, r, &e);
    fprintf(stderr, "suanchi %s: %s\n", prog, e.msg);
    json_decref(r);
    return 1;
  }
  *reply = r ? r : json_null();
  return 0;
}

int cli_put_raw(const char *prog, const cli_common *c, const char *path, const void *data, size_t len, long *status,
                json_t **reply) {
  *reply = NULL;
  return call(prog, c, "PUT", path, data, len, "application/octet-stream", status, reply);
}

int cli_emit(const cli_common *c, json_t *r, void (*table)(const json_t *)) {
  if (c->json) cli_print_json(r);
  else table(r);
  json_decref(r);
  return 0;
}

void cli_print_json(const json_t *v) {
  char *s = json_dumps(v, JSON_INDENT(2) | JSON_ENCODE_ANY);
  if (s) puts(s);
  free(s);
}

struct cli_table {
  int ncols, nrows, cap;
  char **cells;
};

cli_table *cli_table_new(int ncols, ...) {
  cli_table *t = sc_xcalloc(1, sizeof *t);
  t->ncols = ncols;
  va_list ap;
  va_start(ap, ncols);
  t->cap = 16;
  t->cells = sc_xmalloc(sizeof(char *) * (size_t)(t->cap * ncols));
  for (int i = 0; i < ncols; i++) t->cells[i] = sc_xstrdup(va_arg(ap, const char *));
  va_end(ap);
  t->nrows = 1;
  return t;
}

void cli_table_row(cli_table *t, ...) {
  if (t->nrows == t->cap) {
    t->cap *= 2;
    t->cells = sc_xrealloc(t->cells, sizeof(char *) * (size_t)(t->cap * t->ncols));
  }
  va_list ap;
  va_start(ap, t);
  for (int i = 0; i < t->ncols; i++) {
    const char *v = va_arg(ap, const char *);
    t->cells[t->nrows * t->ncols + i] = sc_xstrdup(v && *v ? v : "-");
  }
  va_end(ap);
  t->nrows++;
}

/* Display width of UTF-8 text: counts code points (good enough for the names we print). */
static int width(const char *s) {
  int w = 0;
  for (; *s; s++)
    if (((unsigned char)*s & 0xC0) != 0x80) w++;
  return w;
}

void cli_table_print(cli_table *t) {
  int *w = sc_xcalloc((size_t)t->ncols, sizeof(int));
  for (int r = 0; r < t->nrows; r++)
    for (int c = 0; c < t->ncols; c++) {
      int cw = width(t->cells[r * t->ncols + c]);
      if (cw > w[c]) w[c] = cw;
    }
  for (int r = 0; r < t->nrows; r++) {
    for (int c = 0; c < t->ncols; c++) {
      const char *v = t->cells[r * t->ncols + c];
      if (c == t->ncols - 1) printf("%s", v);
      else printf("%s%*s", v, w[c] - width(v) + 2, "");
    }
    printf("\n");
  }
  for (int i = 0; i < t->nrows * t->ncols; i++) free(t->cells[i]);
  free(t->cells);
  free(w);
  free(t);
}

const char *cli_time(int64_t ms, char *buf, size_t cap) {
  if (ms <= 0) return sc_strlcpy(buf, "-", cap), buf;
  time_t s = (time_t)(ms / 1000);
  struct tm tm;
  gmtime_r(&s, &tm);
  strftime(buf, cap, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

const char *cli_age(int64_t ms, char *buf, size_t cap) {
  if (ms <= 0) return sc_strlcpy(buf, "never", cap), buf;
  int64_t d = (sc_wall_ms() - ms) / 1000;
  if (d < 0) d = 0;
  if (d < 120) snprintf(buf, cap, "%llds ago", (long long)d);
  else if (d < 7200) snprintf(buf, cap, "%lldm ago", (long long)(d / 60));
  else if (d < 172800) snprintf(buf, cap, "%lldh ago", (long long)(d / 3600));
  else snprintf(buf, cap, "%lldd ago", (long long)(d / 86400));
  return buf;
}
