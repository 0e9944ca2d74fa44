/*
 * flags.h — command-line flags for subcommands.
 *
 * A subcommand declares a table of sc_flag and calls sc_flags_parse. Accepted forms:
 * `--name value`, `--name=value`, and `--name` alone for booleans. Anything not starting with
 * "--" is a positional argument; "--" ends flags. Unknown flags, missing values, bad numbers
 * and missing required flags are errors with a message naming the flag.
 */
#ifndef SC_BASE_FLAGS_H
#define SC_BASE_FLAGS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "base/err.h"

typedef enum {
  SC_FLAG_STR,      /* out: const char ** (points into argv) */
  SC_FLAG_I64,      /* out: int64_t *, checked against [min,max] */
  SC_FLAG_DOUBLE,   /* out: double *, checked against [dmin,dmax] */
  SC_FLAG_BOOL,     /* out: bool * */
  SC_FLAG_DURATION  /* out: int64_t * seconds ("30s", "24h", "7d") */
} sc_flag_type;

typedef struct sc_flag {
  const char *name; /* without the leading "--" */
  sc_flag_type type;
  void *out;
  const char *help;
  bool required;
  int64_t min, max;   /* SC_FLAG_I64; both 0 means any value */
  double dmin, dmax;  /* SC_FLAG_DOUBLE; both 0 means any finite value */
  bool seen;          /* set by the parser */
} sc_flag;

#define SC_FLAGS_MAX_POS 16

typedef struct sc_args {
  int npos;
  const char *pos[SC_FLAGS_MAX_POS];
  bool help; /* --help or -h was given */
} sc_args;

/* Parses argv[0..argc) (argv[0] is the first argument, not the program). Returns 0 or
 * SC_EINVAL with e describing the problem. */
int sc_flags_parse(sc_flag *flags, int argc, char **argv, sc_args *args, sc_err *e);

/* Prints "  --name   help" lines for the table. */
void sc_flags_usage(FILE *f, const sc_flag *flags);

/* Finds a flag by name (for checking `seen`); NULL if absent. */
const sc_flag *sc_flags_find(const sc_flag *flags, const char *name);

#endif
