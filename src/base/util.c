/* util.c — see util.h. */
#include "base/util.h"
#include "base/err.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void oom(size_t n) {
  fprintf(stderr, "suanchi: out of memory allocating %zu bytes\n", n);
  abort();
}

void *sc_xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (!p) oom(n);
  return p;
}

void *sc_xcalloc(size_t n, size_t size) {
  void *p = calloc(n ? n : 1, size ? size : 1);
  if (!p) oom(n * size);
  return p;
}

void *sc_xrealloc(void *p, size_t n) {
  void *q = realloc(p, n ? n : 1);
  if (!q) oom(n);
  return q;
}

char *sc_xstrdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *p = sc_xmalloc(n);
  memcpy(p, s, n);
  return p;
}

int64_t sc_wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t sc_mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t sc_mono_ms(void) { return sc_mono_ns() / 1000000; }

int sc_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out) {
  if (!s || !*s || isspace((unsigned char)*s)) return SC_EINVAL;
  errno = 0;
  char *end = NULL;
  long long v = strtoll(s, &end, 10);
  if (errno || *end || v < min || v > max) return SC_EINVAL;
  *out = v;
  return 0;
}

int sc_parse_double(const char *s, double min, double max, double *out) {
  if (!s || !*s || isspace((unsigned char)*s)) return SC_EINVAL;
  errno = 0;
  char *end = NULL;
  double v = strtod(s, &end);
  if (errno || *end || !isfinite(v) || v < min || v > max) return SC_EINVAL;
  *out = v;
  return 0;
}

int sc_parse_duration(const char *s, int64_t *out_sec) {
  if (!s || !*s) return SC_EINVAL;
  size_t n = strlen(s);
  if (n > 24) return SC_EINVAL;
  char buf[32];
  memcpy(buf, s, n + 1);
  int64_t mul = 1;
  char last = buf[n - 1];
  if (!isdigit((unsigned char)last)) {
    switch (last) {
    case 's': mul = 1; break;
    case 'm': mul = 60; break;
    case 'h': mul = 3600; break;
    case 'd': mul = 86400; break;
    default: return SC_EINVAL;
    }
    buf[n - 1] = 0;
  }
  int64_t v;
  if (sc_parse_i64(buf, 1, INT64_C(100000000) / mul * 100, &v)) return SC_EINVAL;
  *out_sec = v * mul;
  return 0;
}

int sc_read_file(const char *path, size_t cap, char **out, size_t *out_len) {
  int rc = 0;
  char *buf = NULL;
  FILE *f = fopen(path, "rb");
  if (!f) return -errno;
  size_t len = 0, alloc = 4096;
  buf = sc_xmalloc(alloc);
  for (;;) {
    if (len + 1 >= alloc) {
      alloc *= 2;
      buf = sc_xrealloc(buf, alloc);
    }
    size_t got = fread(buf + len, 1, alloc - len - 1, f);
    len += got;
    if (len > cap) {
      rc = SC_ETOOBIG;
      goto out;
    }
    if (got == 0) break;
  }
  if (ferror(f)) {
    rc = SC_EIO;
    goto out;
  }
  buf[len] = 0;
  *out = buf;
  if (out_len) *out_len = len;
  buf = NULL;
out:
  free(buf);
  fclose(f);
  return rc;
}

int sc_write_file_atomic(const char *path, const void *data, size_t len, unsigned mode) {
  char tmp[4096];
  if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= sizeof tmp) return SC_EINVAL;
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return -errno;
  int rc = 0;
  const char *p = data;
  size_t left = len;
  while (left) {
    ssize_t w = write(fd, p, left);
    if (w < 0) {
      if (errno == EINTR) continue;
      rc = -errno;
      break;
    }
    p += w;
    left -= (size_t)w;
  }
  if (!rc && fchmod(fd, mode) < 0) rc = -errno;
  if (!rc && fsync(fd) < 0) rc = -errno;
  close(fd);
  if (!rc && rename(tmp, path) < 0) rc = -errno;
  if (rc) unlink(tmp);
  return rc;
}

int sc_mkdir_p(const char *path, unsigned mode) {
  char buf[4096];
  size_t n = strlen(path);
  if (n == 0 || n >= sizeof buf) return SC_EINVAL;
  memcpy(buf, path, n + 1);
  for (size_t i = 1; i <= n; i++) {
    if (buf[i] == '/' || buf[i] == 0) {
      char c = buf[i];
      buf[i] = 0;
      if (mkdir(buf, mode) < 0 && errno != EEXIST) return -errno;
      buf[i] = c;
    }
  }
  struct stat st;
  if (stat(path, &st) < 0) return -errno;
  return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

bool sc_strlcpy(char *dst, const char *src, size_t n) {
  if (n == 0) return false;
  size_t len = strlen(src);
  if (len >= n) {
    memcpy(dst, src, n - 1);
    dst[n - 1] = 0;
    return false;
  }
  memcpy(dst, src, len + 1);
  return true;
}

char *sc_trim(char *s) {
  char *b = s;
  while (*b && isspace((unsigned char)*b)) b++;
  size_t n = strlen(b);
  while (n && isspace((unsigned char)b[n - 1])) n--;
  memmove(s, b, n);
  s[n] = 0;
  return s;
}

bool sc_valid_name(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > 63) return false;
  for (size_t i = 0; i < n; i++) {
    char ch = s[i];
    bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              (i > 0 && (ch == '-' || ch == '_' || ch == '.'));
    if (!ok) return false;
  }
  return true;
}
