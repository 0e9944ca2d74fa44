/* err.c — error detail helpers. */
#include "base/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int sc_err_set(sc_err *e, int rc, const char *code, const char *fmt, ...) {
  if (e) {
    snprintf(e->code, sizeof e->code, "%s", code ? code : "error");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
  }
  return rc;
}

const char *sc_strerror(int rc) {
  switch (rc) {
  case SC_OK: return "success";
  case SC_EINVAL: return "invalid input";
  case SC_ENOENT: return "not found";
  case SC_EEXIST: return "already exists";
  case SC_EAUTH: return "unauthenticated";
  case SC_EPERM: return "permission denied";
  case SC_ETOOBIG: return "too large";
  case SC_EIO: return "I/O error";
  case SC_ENOMEM: return "out of memory";
  case SC_EFORMAT: return "malformed data";
  case SC_ESTATE: return "invalid state";
  case SC_EUNAVAIL: return "unavailable";
  default:
    if (rc < 0 && rc > -4096) return strerror(-rc);
    return "unknown error";
  }
}
