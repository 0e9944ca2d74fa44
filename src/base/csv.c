/* csv.c — see csv.h. Quoted fields may contain commas, doubled quotes and newlines. */
#include "base/csv.h"

#include <string.h>

void sc_csv_init(sc_csv *r, const char *buf, size_t len) {
  memset(r, 0, offsetof(sc_csv, scratch));
  r->buf = buf;
  r->len = len;
  r->next_line = 1;
}

int sc_csv_next(sc_csv *r, sc_err *e) {
  for (;;) {
    if (r->pos >= r->len) return 0;
    /* skip blank lines */
    char c = r->buf[r->pos];
    if (c == '\n' || c == '\r') {
      if (c == '\n') r->next_line++;
      r->pos++;
      continue;
    }
    break;
  }
  r->line = r->next_line;
  r->nfields = 0;
  size_t out = 0;
  bool in_quotes = false, was_quoted = false;
  r->field[r->nfields++] = r->scratch;
  while (r->pos < r->len) {
    char c = r->buf[r->pos++];
    if (in_quotes) {
      if (c == '"') {
        if (r->pos < r->len && r->buf[r->pos] == '"') {
          r->pos++;
        } else {
          in_quotes = false;
          continue;
        }
      } else if (c == '\n') {
        r->next_line++;
      }
    } else if (c == '"' && !was_quoted && &r->scratch[out] == r->field[r->nfields - 1]) {
      in_quotes = was_quoted = true;
      continue;
    } else if (c == ',') {
      if (r->nfields >= SC_CSV_MAX_FIELDS)
        return sc_err_set(e, SC_EFORMAT, "csv", "line %d: more than %d fields", r->line, SC_CSV_MAX_FIELDS);
      r->scratch[out++] = 0;
      r->field[r->nfields++] = &r->scratch[out];
      was_quoted = false;
      continue;
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && r->pos < r->len && r->buf[r->pos] == '\n') r->pos++;
      r->next_line++;
      break;
    } else if (was_quoted) {
      return sc_err_set(e, SC_EFORMAT, "csv", "line %d: text after a closing quote", r->line);
    }
    if (c == 0) return sc_err_set(e, SC_EFORMAT, "csv", "line %d: NUL byte", r->line);
    if (out >= SC_CSV_MAX_RECORD)
      return sc_err_set(e, SC_EFORMAT, "csv", "line %d: record longer than %d bytes", r->line, SC_CSV_MAX_RECORD);
    r->scratch[out++] = c;
  }
  if (in_quotes) return sc_err_set(e, SC_EFORMAT, "csv", "line %d: unterminated quoted field", r->line);
  r->scratch[out] = 0;
  return 1;
}

int sc_csv_col(const sc_csv *r, const char *name) {
  for (int i = 0; i < r->nfields; i++)
    if (strcmp(r->field[i], name) == 0) return i;
  return -1;
}
