/*
 * util.h — small helpers every module uses: allocation that aborts on OOM, clocks,
 * strict number and duration parsing, bounded file I/O.
 */
#ifndef SC_BASE_UTIL_H
#define SC_BASE_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Allocation for daemons: out of memory prints a message and aborts (there is no sane recovery). */
void *sc_xmalloc(size_t n);
void *sc_xcalloc(size_t n, size_t size);
void *sc_xrealloc(void *p, size_t n);
char *sc_xstrdup(const char *s);

/* Wall clock in milliseconds since the Unix epoch; monotonic clock in ns and ms. */
int64_t sc_wall_ms(void);
int64_t sc_mono_ns(void);
int64_t sc_mono_ms(void);

/* Strict parsers: the whole string must be a number in [min,max]. Return 0 or SC_EINVAL. */
int sc_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out);
int sc_parse_double(const char *s, double min, double max, double *out);
/* Durations like "90s", "15m", "24h", "7d" or a plain number of seconds; result in seconds. */
int sc_parse_duration(const char *s, int64_t *out_sec);

/* Reads a whole file of at most cap bytes into a NUL-terminated buffer the caller frees.
 * Returns 0, -errno, or SC_ETOOBIG. */
int sc_read_file(const char *path, size_t cap, char **out, size_t *out_len);
/* Writes data to path atomically (temp file + fsync + rename) with the given mode. */
int sc_write_file_atomic(const char *path, const void *data, size_t len, unsigned mode);
/* mkdir -p with mode for every created level. */
int sc_mkdir_p(const char *path, unsigned mode);

/* Copies src into dst of size n, always NUL-terminating; returns true if it fit. */
bool sc_strlcpy(char *dst, const char *src, size_t n);

/* Names of regions, owners, nodes, models, deployments, tenants: 1-63 characters of A-Z a-z 0-9 . - _,
 * starting with a letter or digit. */
bool sc_valid_name(const char *s);

/* Trims ASCII whitespace from both ends in place; returns s. */
char *sc_trim(char *s);

#endif
