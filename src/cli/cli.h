/*
 * cli.h — shared plumbing of the REST API's command-line client: finding the server and the
 * credential, calling the API, printing tables for people and JSON for scripts.
 *
 * Server: --server URL, else $SUANCHI_SERVER, else DIR/serve.addr when --data DIR is given,
 * else http://127.0.0.1:7700. Credential: --token, else $SUANCHI_TOKEN, else DIR/admin.token
 * (--data DIR, default ./suanchi-data).
 */
#ifndef SC_CLI_CLI_H
#define SC_CLI_CLI_H

#include <jansson.h>
#include <stdbool.h>

#include "base/flags.h"

typedef struct cli_common {
  const char *server, *token, *data;
  bool json;
} cli_common;

/* Flag-table entries for the common flags; put CLI_COMMON_FLAGS(&c) first in a table. */
#define CLI_COMMON_FLAGS(c)                                                                                  \
  {.name = "server", .type = SC_FLAG_STR, .out = &(c)->server, .help = "control plane URL ($SUANCHI_SERVER)"}, \
      {.name = "token", .type = SC_FLAG_STR, .out = &(c)->token, .help = "credential ($SUANCHI_TOKEN)"},       \
      {.name = "data", .type = SC_FLAG_STR, .out = &(c)->data, .help = "data dir whose admin.token to use"},   \
      {.name = "json", .type = SC_FLAG_BOOL, .out = &(c)->json, .help = "print JSON instead of a table"}

/* Parses flags for `suanchi PROG ...`; prints usage on --help (returns 0 with *done set), errors
 * with exit code 2. `usage` is the one-line synopsis. Positional arguments must number in
 * [minpos, maxpos]. */
int cli_parse(const char *prog, const char *usage, sc_flag *flags, int argc, char **argv, sc_args *args, int minpos,
              int maxpos, bool *done);

/* Parses argv against the local `flags` table into a local `args`; returns from the calling
 * command on --help (0) or a usage error (2). */
#define CLI_PARSE(prog, usage, minpos, maxpos)                                               \
  sc_args args;                                                                              \
  bool done;                                                                                 \
  int prc = cli_parse(prog, usage, flags, argc, argv, &args, minpos, maxpos, &done);         \
  if (prc || done) return prc

/* Prints r as JSON (--json) or with table(), frees it, returns 0. */
int cli_emit(const cli_common *c, json_t *r, void (*table)(const json_t *));

/* Calls the API; on success returns 0 and the reply (caller decrefs). On failure prints
 * "suanchi PROG: message" to stderr and returns the exit code (1). */
int cli_call(const char *prog, const cli_common *c, const char *method, const char *path, const json_t *body,
             json_t **reply);

/* PUTs raw bytes; returns 0 with the HTTP status and the JSON reply (may be NULL) whatever the
 * status, or 1 after printing why the request could not be made. */
int cli_put_raw(const char *prog, const cli_common *c, const char *path, const void *data, size_t len, long *status,
                json_t **reply);

/* Prints JSON (indented) to stdout. */
void cli_print_json(const json_t *v);

/* A simple table: add a header row then data rows of strings; print aligns the columns. */
typedef struct cli_table cli_table;
cli_table *cli_table_new(int ncols, ...);
void cli_table_row(cli_table *t, ...); /* ncols const char* values (NULL prints "-") */
void cli_table_print(cli_table *t);    /* prints and frees */

/* Formats an epoch-ms time as "2026-11-25 15:04:05" (UTC) or "-" for 0, and an age ("12s ago"). */
const char *cli_time(int64_t ms, char *buf, size_t cap);
const char *cli_age(int64_t ms, char *buf, size_t cap);

#endif
