/* Unit tests for src/chips: the built-in catalogue, operator extensions, and bad catalogue files. */
#include <criterion/criterion.h>
#include <string.h>

#include "chips/chips.h"

Test(chips, builtin_has_the_shared_catalogue) {
  sc_chips *c = sc_chips_create();
  sc_err e;
  cr_assert_eq(sc_chips_load_builtin(c, &e), 0, "%s", e.msg);
  cr_assert_geq(sc_chips_count(c), 12);
  const sc_chip *h = sc_chips_find(c, "H100-SXM-80GB");
  cr_assert_not_null(h);
  cr_assert_str_eq(h->vendor, "nvidia");
  cr_assert_float_eq(h->memory_gib, 80, 1e-9);
  cr_assert_float_eq(h->mem_bw_tbps, 3.35, 1e-9);
  cr_assert_float_eq(h->purchase_usd, 30000, 1e-9);
  const sc_chip *a = sc_chips_find(c, "ascend-910b-64gb");
  cr_assert_not_null(a);
  cr_assert_str_eq(a->vendor, "huawei");
  cr_assert_float_eq(a->rent_usd_per_hour, 0, 1e-9, "empty means unknown (0)");
  cr_assert_not_null(sc_chips_find(c, "Enflame-i20-16GB"));
  cr_assert_not_null(sc_chips_find(c, "CPU-x86_64"));
  sc_chips_destroy(c);
}

Test(chips, operator_file_overrides_and_adds) {
  sc_chips *c = sc_chips_create();
  sc_err e;
  cr_assert_eq(sc_chips_load_builtin(c, &e), 0);
  size_t n = sc_chips_count(c);
  const char *extra = "key,vendor,chip,memory_gib,purchase_usd\n"
                      "H100-SXM-80GB,nvidia,H100,80,25000\n"
                      "MyChip-1,acme,Acme One,32,1000\n";
  cr_assert_eq(sc_chips_load_csv(c, extra, strlen(extra), "extra.csv", &e), 0, "%s", e.msg);
  cr_assert_eq(sc_chips_count(c), n + 1);
  cr_assert_float_eq(sc_chips_find(c, "H100-SXM-80GB")->purchase_usd, 25000, 1e-9);
  cr_assert_str_eq(sc_chips_find(c, "MyChip-1")->vendor, "acme");
  sc_chips_destroy(c);
}

Test(chips, bad_files_change_nothing) {
  sc_chips *c = sc_chips_create();
  sc_err e;
  cr_assert_eq(sc_chips_load_builtin(c, &e), 0);
  size_t n = sc_chips_count(c);
  struct {
    const char *csv, *want;
  } cases[] = {
      {"", "empty file"},
      {"key,vendor\nA,b\n", "header must have"},
      {"key,vendor,memory_gib\nA,b,12\nB,c,-1\n", "bad.csv:3: column memory_gib"},
      {"key,vendor,memory_gib\nA,b,12\nB,c\n", "bad.csv:3: 2 fields"},
      {"key,vendor,memory_gib\nA,b,lots\n", "'lots' is not"},
      {"key,vendor,memory_gib\n,b,1\n", "must not be empty"},
      {"key,vendor,memory_gib\nA,\"b,1\n", "unterminated"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    cr_assert_neq(sc_chips_load_csv(c, cases[i].csv, strlen(cases[i].csv), "bad.csv", &e), 0, "case %zu", i);
    cr_assert(strstr(e.msg, cases[i].want), "case %zu: got '%s'", i, e.msg);
    cr_assert_eq(sc_chips_count(c), n, "case %zu added rows", i);
    cr_assert_null(sc_chips_find(c, "A"));
  }
  sc_chips_destroy(c);
}
