/*
 * err.h — error codes shared by every module.
 *
 * Fallible functions return int: 0 on success, a negative SC_E* code, or -errno for
 * failed system calls. Human-readable detail goes into an sc_err (below) or the log.
 */
#ifndef SC_BASE_ERR_H
#define SC_BASE_ERR_H

#include <stddef.h>

enum {
  SC_OK = 0,
  SC_EINVAL = -1000, /* bad input: a field, flag, file or request is wrong */
  SC_ENOENT = -1001, /* the named thing does not exist */
  SC_EEXIST = -1002, /* a thing with that name already exists */
  SC_EAUTH = -1003,  /* missing or wrong credential */
  SC_EPERM = -1004,  /* credential valid but not allowed to do this */
  SC_ETOOBIG = -1005,/* input over a size cap */
  SC_EIO = -1006,    /* storage or network failure */
  SC_ENOMEM = -1007,
  SC_EFORMAT = -1008,/* malformed file or payload */
  SC_ESTATE = -1009, /* operation not valid in the current state */
  SC_EUNAVAIL = -1010/* a peer or resource is not available now */
};

/* Detail of the last error: a short machine code ("invalid_field") and a message for people. */
typedef struct sc_err {
  char code[48];
  char msg[512];
} sc_err;

/* Sets e (may be NULL) and returns rc, so callers can write `return sc_err_set(e, rc, ...)`. */
int sc_err_set(sc_err *e, int rc, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Static description of an SC_E* code or -errno. */
const char *sc_strerror(int rc);

#endif
