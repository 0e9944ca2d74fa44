/*
 * csv.h — a bounded, allocation-light CSV reader (RFC 4180 quoting) for traces and catalogues.
 *
 * The reader works on a buffer the caller owns and yields one record at a time as an array of
 * slices into a per-record scratch buffer. Line numbers are 1-based and count physical lines, so
 * errors can name "file:line:column". Caps: SC_CSV_MAX_FIELDS fields, SC_CSV_MAX_RECORD bytes.
 */
#ifndef SC_BASE_CSV_H
#define SC_BASE_CSV_H

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"

#define SC_CSV_MAX_FIELDS 64
#define SC_CSV_MAX_RECORD 65536

typedef struct sc_csv {
  const char *buf;
  size_t len, pos;
  int line;                 /* line where the current record started */
  int next_line;
  int nfields;
  char *field[SC_CSV_MAX_FIELDS]; /* NUL-terminated, into scratch; valid until the next call */
  char scratch[SC_CSV_MAX_RECORD + SC_CSV_MAX_FIELDS];
} sc_csv;

/* Starts reading buf[0..len). The buffer must outlive the reader. */
void sc_csv_init(sc_csv *r, const char *buf, size_t len);

/* Reads the next record. Returns 1 when a record was read, 0 at the end, SC_EFORMAT on a malformed
 * record (unterminated quote, too many fields, record too long) with e naming the line. Blank lines
 * are skipped. */
int sc_csv_next(sc_csv *r, sc_err *e);

/* Index of the header column named name in the current record, or -1. */
int sc_csv_col(const sc_csv *r, const char *name);

#endif
