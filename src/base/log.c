/* log.c — see log.h. */
#include "base/log.h"
#include "base/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

static sc_log_level g_level = SC_LOG_INFO;
static const char *const names[] = {"debug", "info", "warn", "error", "off"};

void sc_log_set_level(sc_log_level lvl) { g_level = lvl; }

int sc_log_parse_level(const char *s, sc_log_level *out) {
  for (int i = 0; i <= SC_LOG_OFF; i++)
    if (strcmp(s, names[i]) == 0) {
      *out = (sc_log_level)i;
      return 0;
    }
  return SC_EINVAL;
}

void sc_log(sc_log_level lvl, const char *mod, const char *fmt, ...) {
  if (lvl < g_level || lvl >= SC_LOG_OFF) return;
  struct timeval tv;
  gettimeofday(&tv, NULL);
  struct tm tm;
  gmtime_r(&tv.tv_sec, &tm);
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  fprintf(stderr, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %-5s %s: %s\n", tm.tm_year + 1900, tm.tm_mon + 1,
          tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(tv.tv_usec / 1000), names[lvl], mod, msg);
}
