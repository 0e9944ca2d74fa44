/* secret.c — see secret.h. */
#include "base/secret.h"
#include "base/err.h"
#include "base/util.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void init(void) {
  if (sodium_init() < 0) {
    fprintf(stderr, "suanchi: libsodium failed to initialise\n");
    abort();
  }
}

static void hex(const uint8_t *b, size_t n, char *out) {
  static const char d[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = d[b[i] >> 4];
    out[2 * i + 1] = d[b[i] & 15];
  }
  out[2 * n] = 0;
}

void sc_secret_hash(const char *secret, uint8_t hash[32]) {
  init();
  crypto_generichash(hash, 32, (const unsigned char *)secret, strlen(secret), NULL, 0);
}

void sc_secret_new(const char *kind, char *id, char *text, uint8_t hash[32]) {
  init();
  uint8_t rid[SC_SECRET_ID_LEN / 2], sec[32];
  randombytes_buf(rid, sizeof rid);
  randombytes_buf(sec, sizeof sec);
  char sechex[65];
  hex(rid, sizeof rid, id);
  hex(sec, sizeof sec, sechex);
  snprintf(text, SC_SECRET_MAX, "%s.%s.%s", kind, id, sechex);
  sc_secret_hash(sechex, hash);
  sodium_memzero(sec, sizeof sec);
}

bool sc_secret_parse(const char *text, char kind[8], char id[SC_SECRET_ID_LEN + 1], const char **secret) {
  const char *d1 = strchr(text, '.');
  if (!d1 || d1 == text || d1 - text >= 8) return false;
  const char *d2 = strchr(d1 + 1, '.');
  if (!d2 || d2 - d1 - 1 != SC_SECRET_ID_LEN) return false;
  if (strlen(d2 + 1) != 64) return false;
  memcpy(kind, text, (size_t)(d1 - text));
  kind[d1 - text] = 0;
  memcpy(id, d1 + 1, SC_SECRET_ID_LEN);
  id[SC_SECRET_ID_LEN] = 0;
  *secret = d2 + 1;
  return true;
}

bool sc_secret_verify(const char *secret, const uint8_t stored[32]) {
  uint8_t h[32];
  sc_secret_hash(secret, h);
  return sodium_memcmp(h, stored, 32) == 0;
}

void sc_random_id(char prefix, char *out, size_t cap) {
  init();
  uint8_t rid[SC_SECRET_ID_LEN / 2];
  char h[SC_SECRET_ID_LEN + 1];
  randombytes_buf(rid, sizeof rid);
  hex(rid, sizeof rid, h);
  snprintf(out, cap, "%c%s", prefix, h);
}

int sc_sha256_file(const char *path, char out[65], int64_t *size) {
  init();
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  crypto_hash_sha256_state st;
  crypto_hash_sha256_init(&st);
  unsigned char *buf = sc_xmalloc(1 << 20);
  ssize_t n;
  int64_t total = 0;
  while ((n = read(fd, buf, 1 << 20)) > 0) {
    crypto_hash_sha256_update(&st, buf, (unsigned long long)n);
    total += n;
  }
  free(buf);
  close(fd);
  if (n < 0) return SC_EIO;
  unsigned char h[32];
  crypto_hash_sha256_final(&st, h);
  hex(h, 32, out);
  if (size) *size = total;
  return 0;
}
