/*
 * log.h — leveled logging to stderr, one line per event:
 *   2026-11-25T15:00:00.123Z info  control: listening on 127.0.0.1:7700
 * Thread-safe (one fprintf per line). The level is set once at start.
 */
#ifndef SC_BASE_LOG_H
#define SC_BASE_LOG_H

typedef enum { SC_LOG_DEBUG = 0, SC_LOG_INFO, SC_LOG_WARN, SC_LOG_ERROR, SC_LOG_OFF } sc_log_level;

void sc_log_set_level(sc_log_level lvl);
/* Parses "debug|info|warn|error|off"; returns 0 or SC_EINVAL. */
int sc_log_parse_level(const char *s, sc_log_level *out);
void sc_log(sc_log_level lvl, const char *mod, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define sc_debug(mod, ...) sc_log(SC_LOG_DEBUG, mod, __VA_ARGS__)
#define sc_info(mod, ...) sc_log(SC_LOG_INFO, mod, __VA_ARGS__)
#define sc_warn(mod, ...) sc_log(SC_LOG_WARN, mod, __VA_ARGS__)
#define sc_error(mod, ...) sc_log(SC_LOG_ERROR, mod, __VA_ARGS__)

#endif
