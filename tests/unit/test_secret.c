/* Unit tests for src/base/secret: credential format, hashing, verification. */
#include <criterion/criterion.h>
#include <string.h>

#include "base/secret.h"

Test(secret, create_parse_verify) {
  char id[SC_SECRET_ID_LEN + 1], text[SC_SECRET_MAX], kind[8], pid[SC_SECRET_ID_LEN + 1];
  uint8_t hash[32];
  sc_secret_new("scj", id, text, hash);
  cr_assert_eq(strlen(id), SC_SECRET_ID_LEN);
  const char *sec;
  cr_assert(sc_secret_parse(text, kind, pid, &sec));
  cr_assert_str_eq(kind, "scj");
  cr_assert_str_eq(pid, id);
  cr_assert(sc_secret_verify(sec, hash));
  char wrong[65];
  memcpy(wrong, sec, 65);
  wrong[0] = wrong[0] == 'a' ? 'b' : 'a';
  cr_assert_not(sc_secret_verify(wrong, hash));
  /* two secrets differ */
  char id2[SC_SECRET_ID_LEN + 1], text2[SC_SECRET_MAX];
  uint8_t hash2[32];
  sc_secret_new("scj", id2, text2, hash2);
  cr_assert_str_neq(text, text2);
  cr_assert_neq(memcmp(hash, hash2, 32), 0);
}

Test(secret, malformed) {
  char kind[8], id[SC_SECRET_ID_LEN + 1];
  const char *sec;
  const char *bad[] = {"", "abc", "scj..x", "scj.0123456789abcdef.short", "toolongkind.0123456789abcdef.x",
                       "scj.0123456789abcde.0000000000000000000000000000000000000000000000000000000000000000"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) cr_assert_not(sc_secret_parse(bad[i], kind, id, &sec), "%s", bad[i]);
}
