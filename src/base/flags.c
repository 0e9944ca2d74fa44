/* flags.c — see flags.h. */
#include "base/flags.h"
#include "base/util.h"

#include <string.h>

static sc_flag *find(sc_flag *flags, const char *name, size_t len) {
  for (sc_flag *f = flags; f->name; f++)
    if (strlen(f->name) == len && memcmp(f->name, name, len) == 0) return f;
  return NULL;
}

const sc_flag *sc_flags_find(const sc_flag *flags, const char *name) {
  for (const sc_flag *f = flags; f->name; f++)
    if (strcmp(f->name, name) == 0) return f;
  return NULL;
}

static int set_value(sc_flag *f, const char *v, sc_err *e) {
  switch (f->type) {
  case SC_FLAG_STR:
    *(const char **)f->out = v;
    return 0;
  case SC_FLAG_I64: {
    int64_t min = f->min, max = f->max;
    if (min == 0 && max == 0) {
      min = INT64_MIN;
      max = INT64_MAX;
    }
    if (sc_parse_i64(v, min, max, (int64_t *)f->out))
      return sc_err_set(e, SC_EINVAL, "invalid_flag", "--%s: '%s' is not an integer in [%lld, %lld]", f->name,
                        v, (long long)min, (long long)max);
    return 0;
  }
  case SC_FLAG_DOUBLE: {
    double min = f->dmin, max = f->dmax;
    if (min == 0 && max == 0) {
      min = -1e300;
      max = 1e300;
    }
    if (sc_parse_double(v, min, max, (double *)f->out))
      return sc_err_set(e, SC_EINVAL, "invalid_flag", "--%s: '%s' is not a number in [%g, %g]", f->name, v, min,
                        max);
    return 0;
  }
  case SC_FLAG_DURATION:
    if (sc_parse_duration(v, (int64_t *)f->out))
      return sc_err_set(e, SC_EINVAL, "invalid_flag", "--%s: '%s' is not a duration (e.g. 30s, 15m, 24h, 7d)",
                        f->name, v);
    return 0;
  case SC_FLAG_BOOL:
    if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0) *(bool *)f->out = true;
    else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0) *(bool *)f->out = false;
    else return sc_err_set(e, SC_EINVAL, "invalid_flag", "--%s: '%s' is not true or false", f->name, v);
    return 0;
  }
  return SC_EINVAL;
}

int sc_flags_parse(sc_flag *flags, int argc, char **argv, sc_args *args, sc_err *e) {
  memset(args, 0, sizeof *args);
  for (sc_flag *f = flags; f->name; f++) f->seen = false;
  bool only_pos = false;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    if (!only_pos && (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)) {
      args->help = true;
      continue;
    }
    if (!only_pos && strcmp(a, "--") == 0) {
      only_pos = true;
      continue;
    }
    if (only_pos || strncmp(a, "--", 2) != 0) {
      if (a[0] == '-' && a[1] && !only_pos)
        return sc_err_set(e, SC_EINVAL, "invalid_flag", "unknown flag '%s'", a);
      if (args->npos >= SC_FLAGS_MAX_POS)
        return sc_err_set(e, SC_EINVAL, "invalid_args", "too many arguments");
      args->pos[args->npos++] = a;
      continue;
    }
    const char *name = a + 2;
    const char *eq = strchr(name, '=');
    size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
    sc_flag *f = find(flags, name, nlen);
    if (!f) return sc_err_set(e, SC_EINVAL, "invalid_flag", "unknown flag '--%.*s'", (int)nlen, name);
    const char *v = NULL;
    if (eq) v = eq + 1;
    else if (f->type == SC_FLAG_BOOL) v = "true";
    else if (i + 1 < argc) v = argv[++i];
    else return sc_err_set(e, SC_EINVAL, "invalid_flag", "--%s needs a value", f->name);
    int rc = set_value(f, v, e);
    if (rc) return rc;
    f->seen = true;
  }
  if (args->help) return 0;
  for (sc_flag *f = flags; f->name; f++)
    if (f->required && !f->seen) return sc_err_set(e, SC_EINVAL, "missing_flag", "--%s is required", f->name);
  return 0;
}

void sc_flags_usage(FILE *out, const sc_flag *flags) {
  for (const sc_flag *f = flags; f->name; f++)
    fprintf(out, "  --%-20s %s%s\n", f->name, f->help ? f->help : "", f->required ? " (required)" : "");
}
