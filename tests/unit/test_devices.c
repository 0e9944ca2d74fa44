/* Unit tests for src/devices: the spec parser, the sim and cpu drivers, the vendor drivers against
 * the mock libraries in tests/mocks (build/mocks/libmock*.so), and the name -> catalogue mapping. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/devices.h"
#include "devices/internal.h"

/* Points every vendor driver at a path that does not exist, so tests never see a real library. */
static void no_vendor_libs(void) {
  setenv("SUANCHI_NVML_LIB", "/nonexistent/libnvidia-ml.so.1", 1);
  setenv("SUANCHI_DCMI_LIB", "/nonexistent/libdcmi.so", 1);
  setenv("SUANCHI_EFML_LIB", "/nonexistent/libefml.so", 1);
  unsetenv("SC_MOCK_MODE");
}

/* Sets env to build/mocks/NAME.so; skips the test when SC_BUILD is unknown. */
static void use_mock(const char *env, const char *name) {
  const char *b = getenv("SC_BUILD");
  if (!b || !*b) cr_skip_test("SC_BUILD is not set (run through ctest)");
  char path[4096];
  snprintf(path, sizeof path, "%s/mocks/%s.so", b, name);
  setenv(env, path, 1);
}

static sc_devset *open_ok(const char *spec, uint64_t seed) {
  sc_devset *s = NULL;
  sc_err e = {{0}, {0}};
  cr_assert_eq(sc_devices_open(spec, seed, &s, &e), 0, "spec '%s': %s", spec, e.msg);
  cr_assert_not_null(s);
  return s;
}

static bool has_note(const sc_devset *s, const char *want) {
  for (size_t i = 0; sc_devset_note(s, i); i++)
    if (strstr(sc_devset_note(s, i), want)) return true;
  return false;
}

/* ---- spec parser ---- */

Test(devices_spec, good_specs) {
  const char *good[] = {"auto",
                        "cpu",
                        "nvml",
                        "dcmi,efml",
                        "sim:H100-SXM-80GB:8,sim:Ascend-910B-64GB:8",
                        " cpu , sim:h100-sxm-80gb:1 ",
                        "SIM:L40S-48GB:64",
                        "sim:H20-96GB:2,sim:H20-96GB:2,cpu"};
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    sc_err e = {{0}, {0}};
    cr_assert_eq(sc_devices_spec_check(good[i], &e), 0, "'%s': %s", good[i], e.msg);
  }
}

Test(devices_spec, bad_specs_name_the_bad_part) {
  char longspec[5000];
  memset(longspec, 'a', sizeof longspec - 1);
  longspec[sizeof longspec - 1] = 0;
  char many[1024] = "";
  for (int i = 0; i < 65; i++) strcat(many, i ? ",sim:L20-48GB:1" : "sim:L20-48GB:1");
  struct {
    const char *spec, *want;
  } cases[] = {
      {"", "device spec is empty"},
      {"   ", "device spec is empty"},
      {"gpu", "unknown entry 'gpu'"},
      {"cpu,gpu", "unknown entry 'gpu' (want auto, nvml, dcmi, efml, cpu or sim:CHIP:COUNT"},
      {"cpu,,nvml", "entry 2 is empty"},
      {"cpu,", "entry 2 is empty"},
      {"sim:H100-SXM-80GB", "'sim:H100-SXM-80GB': want sim:CHIP:COUNT"},
      {"sim:", "want sim:CHIP:COUNT"},
      {"sim::3", "want sim:CHIP:COUNT"},
      {"sim:H100-SXM-80GB:0", "COUNT '0' must be a whole number from 1 to 64"},
      {"sim:H100-SXM-80GB:65", "COUNT '65' must be a whole number from 1 to 64"},
      {"sim:H100-SXM-80GB:eight", "COUNT 'eight' must be"},
      {"sim:H100-SXM-80GB:", "COUNT '' must be"},
      {"sim:H999:8", "unknown chip 'H999' (run 'suanchi chips' to list the catalogue)"},
      {"cpu,cpu", "entry 'cpu' repeats a driver"},
      {"auto,nvml", "entry 'nvml' repeats a driver already in the spec (auto covers"},
      {"cpu,auto", "entry 'auto' repeats"},
      {longspec, "longer than 4096 characters"},
      {many, "more than 64 entries"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    sc_err e = {{0}, {0}};
    cr_assert_eq(sc_devices_spec_check(cases[i].spec, &e), SC_EINVAL, "case %zu accepted", i);
    cr_assert(strstr(e.msg, cases[i].want), "case %zu: got '%s', want '%s'", i, e.msg, cases[i].want);
    cr_assert_str_eq(e.code, "invalid_devices");
    /* open refuses the same spec and hands back nothing */
    sc_devset *s = (sc_devset *)1;
    cr_assert_eq(sc_devices_open(cases[i].spec, 1, &s, &e), SC_EINVAL);
    cr_assert_null(s);
  }
  sc_err e;
  cr_assert_eq(sc_devices_spec_check(NULL, &e), SC_EINVAL);
}

/* ---- sim ---- */

Test(devices_sim, catalogue_figures) {
  sc_devset *s = open_ok("sim:H100-SXM-80GB:8,sim:Ascend-910B-64GB:8", 42);
  cr_assert_eq(sc_devset_count(s), 16);
  for (size_t i = 0; i < 16; i++) {
    const sc_device *d = sc_devset_get(s, i);
    cr_assert_eq(d->index, (int)i);
    cr_assert_str_eq(d->driver, "sim");
    if (i < 8) {
      cr_assert_str_eq(d->chip, "H100-SXM-80GB");
      cr_assert_str_eq(d->vendor, "nvidia");
      cr_assert_eq(d->memory_total_mib, 80 * 1024);
    } else {
      cr_assert_str_eq(d->chip, "Ascend-910B-64GB");
      cr_assert_str_eq(d->vendor, "huawei");
      cr_assert_eq(d->memory_total_mib, 64 * 1024);
    }
    cr_assert(strncmp(d->uuid, "SIM-", 4) == 0, "%s", d->uuid);
    cr_assert_eq(strlen(d->uuid), 40, "%s", d->uuid);
    cr_assert_eq(d->health, SC_HEALTH_OK);
    cr_assert(d->util_pct >= 0 && d->util_pct <= 100);
    cr_assert_leq(d->memory_used_mib, d->memory_total_mib);
    for (size_t j = 0; j < i; j++) cr_assert_str_neq(d->uuid, sc_devset_get(s, j)->uuid, "uuid %zu == %zu", i, j);
  }
  cr_assert_null(sc_devset_get(s, 16));
  /* lower-case key in the spec, canonical key in the device */
  sc_devset *t = open_ok("sim:l40s-48gb:1", 42);
  cr_assert_str_eq(sc_devset_get(t, 0)->chip, "L40S-48GB");
  sc_devices_close(t);
  sc_devices_close(s);
}

Test(devices_sim, uuids_are_stable_per_seed) {
  sc_devset *a = open_ok("sim:H20-96GB:2,sim:L40S-48GB:1", sc_devices_seed("node-7"));
  sc_devset *b = open_ok("sim:H20-96GB:2,sim:L40S-48GB:1", sc_devices_seed("node-7"));
  sc_devset *c = open_ok("sim:H20-96GB:2,sim:L40S-48GB:1", sc_devices_seed("node-8"));
  /* order of entries and splitting an entry do not change a device's uuid */
  sc_devset *d = open_ok("sim:L40S-48GB:1,sim:H20-96GB:1,sim:H20-96GB:1", sc_devices_seed("node-7"));
  for (size_t i = 0; i < 3; i++) {
    cr_assert_str_eq(sc_devset_get(a, i)->uuid, sc_devset_get(b, i)->uuid);
    cr_assert_str_neq(sc_devset_get(a, i)->uuid, sc_devset_get(c, i)->uuid);
  }
  cr_assert_str_eq(sc_devset_get(d, 0)->uuid, sc_devset_get(a, 2)->uuid);
  cr_assert_str_eq(sc_devset_get(d, 1)->uuid, sc_devset_get(a, 0)->uuid);
  cr_assert_str_eq(sc_devset_get(d, 2)->uuid, sc_devset_get(a, 1)->uuid);
  sc_devices_close(a);
  sc_devices_close(b);
  sc_devices_close(c);
  sc_devices_close(d);
}

Test(devices_sim, load_follows_now_deterministically) {
  sc_devset *a = open_ok("sim:H100-SXM-80GB:4", 7);
  sc_devset *b = open_ok("sim:H100-SXM-80GB:4", 7);
  int64_t t0 = 1764000000000LL;
  int lo = 100, hi = 0;
  for (int64_t t = t0; t < t0 + 3600 * 1000; t += 30 * 1000) {
    sc_devices_refresh(a, t);
    sc_devices_refresh(b, t);
    for (size_t i = 0; i < 4; i++) {
      const sc_device *x = sc_devset_get(a, i), *y = sc_devset_get(b, i);
      cr_assert_eq(x->util_pct, y->util_pct);
      cr_assert_eq(x->memory_used_mib, y->memory_used_mib);
      cr_assert(x->util_pct >= 0 && x->util_pct <= 100);
      cr_assert_leq(x->memory_used_mib, x->memory_total_mib);
      cr_assert_geq(x->memory_used_mib, x->memory_total_mib / 10);
      if (x->util_pct < lo) lo = x->util_pct;
      if (x->util_pct > hi) hi = x->util_pct;
    }
  }
  cr_assert_gt(hi - lo, 10, "load should vary over an hour (%d..%d)", lo, hi);
  for (int64_t t = -100000; t < 100000; t += 777) {
    int u = sc__sim_util(0xdeadbeefULL, t);
    cr_assert(u >= 0 && u <= 100);
  }
  sc_devices_close(a);
  sc_devices_close(b);
}

Test(devices_sim, forced_health) {
  no_vendor_libs();
  sc_devset *s = open_ok("sim:L20-48GB:2,cpu", 1);
  cr_assert_eq(sc_devices_sim_set_health(s, 1, SC_HEALTH_FAILED), 0);
  cr_assert_eq(sc_devset_get(s, 1)->health, SC_HEALTH_FAILED);
  sc_devices_refresh(s, 5000);
  cr_assert_eq(sc_devset_get(s, 1)->health, SC_HEALTH_FAILED);
  cr_assert_eq(sc_devset_get(s, 0)->health, SC_HEALTH_OK);
  cr_assert_eq(sc_devices_sim_set_health(s, 1, SC_HEALTH_UNKNOWN), 0);
  sc_devices_refresh(s, 6000);
  cr_assert_eq(sc_devset_get(s, 1)->health, SC_HEALTH_OK);
  cr_assert_eq(sc_devices_sim_set_health(s, 2, SC_HEALTH_FAILED), SC_EINVAL, "cpu is not simulated");
  cr_assert_eq(sc_devices_sim_set_health(s, 3, SC_HEALTH_FAILED), SC_EINVAL);
  sc_devices_close(s);
}

/* 10,000 nodes x 8 simulated devices in one process (agent --simulate-nodes): opens, refreshes
 * and closes without touching dlopen. No timing assertion; see docs/benchmarks.md. */
Test(devices_sim, many_sets) {
  no_vendor_libs();
  enum { N = 10000 };
  sc_devset **sets = calloc(N, sizeof *sets);
  for (int i = 0; i < N; i++) {
    char name[32];
    snprintf(name, sizeof name, "sim-node-%d", i);
    sets[i] = open_ok("sim:H100-SXM-80GB:8", sc_devices_seed(name));
    sc_devices_refresh(sets[i], 5000LL * i);
    cr_assert_eq(sc_devset_count(sets[i]), 8);
    cr_assert_null(sc_devset_note(sets[i], 0), "sim opens no driver and leaves no note");
  }
  cr_assert_str_neq(sc_devset_get(sets[0], 0)->uuid, sc_devset_get(sets[1], 0)->uuid);
  for (int i = 0; i < N; i++) sc_devices_close(sets[i]);
  free(sets);
}

/* ---- cpu ---- */

Test(devices_cpu, sane_host_values) {
  no_vendor_libs();
  sc_devset *s = open_ok("cpu", 3);
  cr_assert_eq(sc_devset_count(s), 1);
  const sc_device *d = sc_devset_get(s, 0);
  cr_assert_str_eq(d->driver, "cpu");
  cr_assert_str_eq(d->vendor, "cpu");
#if defined(__x86_64__)
  cr_assert_str_eq(d->chip, "CPU-x86_64");
#endif
  cr_assert(strncmp(d->uuid, "CPU-", 4) == 0, "%s", d->uuid);
  cr_assert_geq(d->compute_units, 1);
  cr_assert_gt(d->memory_total_mib, 64);
  cr_assert_leq(d->memory_used_mib, d->memory_total_mib);
  cr_assert_eq(d->health, SC_HEALTH_OK);
  cr_assert(has_note(s, "cpu: "));
  /* burn a little CPU so /proc/stat moves, then refresh */
  volatile double x = 0;
  for (int i = 0; i < 20000000; i++) x += i * 0.5;
  sc_devices_refresh(s, 0);
  cr_assert(d->util_pct >= -1 && d->util_pct <= 100, "util %d", d->util_pct);
  char uuid[64];
  snprintf(uuid, sizeof uuid, "%s", d->uuid);
  sc_devices_close(s);
  s = open_ok("cpu", 3);
  cr_assert_str_eq(sc_devset_get(s, 0)->uuid, uuid, "host uuid is stable");
  sc_devices_close(s);
}

Test(devices_cpu, parsers) {
  uint64_t t = 0, a = 0, busy = 0, total = 0;
  const char *mi = "MemTotal:       16314480 kB\nMemFree:         1033680 kB\nMemAvailable:    8123456 kB\n";
  cr_assert_eq(sc__cpu_parse_meminfo(mi, &t, &a), 0);
  cr_assert_eq(t, 16314480);
  cr_assert_eq(a, 8123456);
  cr_assert_eq(sc__cpu_parse_meminfo("MemTotal: 100 kB\n", &t, &a), SC_EFORMAT, "no MemAvailable");
  cr_assert_eq(sc__cpu_parse_meminfo("MemTotal: 100 kB\nMemAvailable: 200 kB\n", &t, &a), SC_EFORMAT);
  cr_assert_eq(sc__cpu_parse_meminfo("", &t, &a), SC_EFORMAT);
  const char *st = "cpu  100 5 50 800 20 3 2 10 7 0\ncpu0 1 2 3 4\n";
  cr_assert_eq(sc__cpu_parse_stat(st, &busy, &total), 0);
  cr_assert_eq(total, 100 + 5 + 50 + 800 + 20 + 3 + 2 + 10);
  cr_assert_eq(busy, total - 820);
  cr_assert_eq(sc__cpu_parse_stat("intr 1 2 3\n", &busy, &total), SC_EFORMAT);
  cr_assert_eq(sc__cpu_parse_stat("cpu  1 2\n", &busy, &total), SC_EFORMAT);
  cr_assert_eq(sc__cpu_util(100, 1000, 150, 1100), 50);
  cr_assert_eq(sc__cpu_util(100, 1000, 100, 1000), -1, "no time passed");
  cr_assert_eq(sc__cpu_util(100, 1000, 300, 1100), 100, "clamped");
}

/* ---- vendor drivers against mock libraries ---- */

Test(devices_nvml, mock_two_gpus) {
  no_vendor_libs();
  use_mock("SUANCHI_NVML_LIB", "libmocknvml");
  sc_devset *s = open_ok("nvml", 1);
  cr_assert_eq(sc_devset_count(s), 2);
  const sc_device *g0 = sc_devset_get(s, 0), *g1 = sc_devset_get(s, 1);
  cr_assert_str_eq(g0->driver, "nvml");
  cr_assert_str_eq(g0->vendor, "nvidia");
  cr_assert_str_eq(g0->chip, "H100-SXM-80GB");
  cr_assert_str_eq(g0->name, "NVIDIA H100 80GB HBM3");
  cr_assert_str_eq(g0->uuid, "GPU-11111111-2222-3333-4444-555555555555");
  cr_assert_eq(g0->memory_total_mib, 81559);
  cr_assert_eq(g0->memory_used_mib, 1024);
  cr_assert_eq(g0->health, SC_HEALTH_OK);
  cr_assert_str_eq(g1->chip, "L40S-48GB");
  cr_assert_eq(g1->index, 1);
  int u0 = g1->util_pct;
  cr_assert(u0 >= 5 && u0 < 15, "util %d", u0);
  sc_devices_refresh(s, 0);
  cr_assert_neq(g1->util_pct, u0, "refresh re-samples");
  cr_assert(has_note(s, "nvml: 2 GPUs via"));
  sc_devices_close(s);
}

Test(devices_nvml, faults_become_health) {
  no_vendor_libs();
  use_mock("SUANCHI_NVML_LIB", "libmocknvml");
  setenv("SC_MOCK_MODE", "faulty", 1);
  sc_devset *s = open_ok("nvml", 1);
  sc_devices_refresh(s, 0);
  cr_assert_eq(sc_devset_get(s, 0)->health, SC_HEALTH_DEGRADED, "row remap pending");
  cr_assert_eq(sc_devset_get(s, 1)->health, SC_HEALTH_FAILED, "GPU lost");
  sc_devices_close(s);
}

Test(devices_nvml, not_present_is_not_an_error) {
  no_vendor_libs();
  /* missing library */
  sc_devset *s = open_ok("nvml", 1);
  cr_assert_eq(sc_devset_count(s), 0);
  cr_assert(has_note(s, "nvml: not present (/nonexistent/libnvidia-ml.so.1"));
  sc_devices_close(s);
  /* init fails */
  use_mock("SUANCHI_NVML_LIB", "libmocknvml");
  setenv("SC_MOCK_MODE", "fail-init", 1);
  s = open_ok("nvml", 1);
  cr_assert_eq(sc_devset_count(s), 0);
  cr_assert(has_note(s, "nvml: not present (nvmlInit_v2 returned 9)"));
  sc_devices_close(s);
  /* zero GPUs */
  setenv("SC_MOCK_MODE", "zero", 1);
  s = open_ok("nvml", 1);
  cr_assert_eq(sc_devset_count(s), 0);
  cr_assert(has_note(s, "nvml: not present (no GPUs)"));
  sc_devices_close(s);
  /* a library without the NVML symbols */
  unsetenv("SC_MOCK_MODE");
  use_mock("SUANCHI_NVML_LIB", "libmockdcmi");
  s = open_ok("nvml", 1);
  cr_assert_eq(sc_devset_count(s), 0);
  cr_assert(has_note(s, "lacks nvmlInit_v2"));
  sc_devices_close(s);
}

Test(devices_dcmi, mock_two_npus) {
  no_vendor_libs();
  use_mock("SUANCHI_DCMI_LIB", "libmockdcmi");
  sc_devset *s = open_ok("dcmi", 1);
  cr_assert_eq(sc_devset_count(s), 2, "the MCU is skipped");
  const sc_device *a = sc_devset_get(s, 0), *b = sc_devset_get(s, 1);
  cr_assert_str_eq(a->driver, "dcmi");
  cr_assert_str_eq(a->vendor, "huawei");
  cr_assert_str_eq(a->name, "Ascend 910B3");
  cr_assert_str_eq(a->chip, "Ascend-910B-64GB");
  cr_assert_eq(a->memory_total_mib, 65536);
  cr_assert_eq(a->memory_used_mib, 3394);
  cr_assert_eq(a->compute_units, 20);
  cr_assert_str_eq(a->uuid, "NPU-00003000-00003001-00003002-00003003-00003004");
  cr_assert_eq(a->health, SC_HEALTH_OK);
  cr_assert(a->util_pct >= 40 && a->util_pct < 45);
  cr_assert_str_eq(b->chip, "Ascend 310P3", "unmapped names are reported raw");
  cr_assert_eq(b->memory_total_mib, 24576, "from memory_info_v3 when HBM reports nothing");
  cr_assert_eq(b->memory_used_mib, 4096);
  sc_devices_close(s);
}

Test(devices_dcmi, faults_and_absence) {
  no_vendor_libs();
  use_mock("SUANCHI_DCMI_LIB", "libmockdcmi");
  setenv("SC_MOCK_MODE", "faulty", 1);
  sc_devset *s = open_ok("dcmi", 1);
  sc_devices_refresh(s, 0);
  cr_assert_eq(sc_devset_get(s, 0)->health, SC_HEALTH_OK);
  cr_assert_eq(sc_devset_get(s, 1)->health, SC_HEALTH_FAILED, "critical alarm");
  sc_devices_close(s);
  setenv("SC_MOCK_MODE", "fail-init", 1);
  s = open_ok("dcmi", 1);
  cr_assert_eq(sc_devset_count(s), 0);
  cr_assert(has_note(s, "dcmi: not present (dcmi_init returned -8005)"));
  sc_devices_close(s);
  setenv("SC_MOCK_MODE", "zero", 1);
  s = open_ok("dcmi", 1);
  cr_assert_eq(sc_devset_count(s), 0);
  sc_devices_close(s);
  no_vendor_libs();
  s = open_ok("dcmi", 1);
  cr_assert_eq(sc_devset_count(s), 0);
  cr_assert(has_note(s, "dcmi: not present ("));
  sc_devices_close(s);
}

Test(devices_efml, mock_two_gcus) {
  no_vendor_libs();
  use_mock("SUANCHI_EFML_LIB", "libmockefml");
  sc_devset *s = open_ok("efml", 1);
  cr_assert_eq(sc_devset_count(s), 2);
  const sc_device *a = sc_devset_get(s, 0), *b = sc_devset_get(s, 1);
  cr_assert_str_eq(a->driver, "efml");
  cr_assert_str_eq(a->vendor, "enflame");
  cr_assert_str_eq(a->chip, "Enflame-i20-16GB");
  cr_assert_str_eq(a->uuid, "EF-0001-AAAA");
  cr_assert_eq(a->memory_total_mib, 16384, "bytes -> MiB");
  cr_assert_eq(a->memory_used_mib, 2048, "already MiB");
  cr_assert_eq(a->util_pct, 12);
  cr_assert_eq(a->health, SC_HEALTH_OK);
  cr_assert_str_eq(b->chip, "S60");
  cr_assert_eq(b->util_pct, 82, "80.6 + 1 rounds to 82");
  sc_devices_close(s);
  setenv("SC_MOCK_MODE", "faulty", 1);
  s = open_ok("efml", 1);
  cr_assert_eq(sc_devset_get(s, 1)->health, SC_HEALTH_FAILED);
  sc_devices_close(s);
  setenv("SC_MOCK_MODE", "fail-init", 1);
  s = open_ok("efml", 1);
  cr_assert_eq(sc_devset_count(s), 0);
  cr_assert(has_note(s, "efml: not present (EfmlInit returned 6)"));
  sc_devices_close(s);
}

/* ---- auto ---- */

Test(devices_auto, cpu_only_without_accelerators) {
  no_vendor_libs();
  sc_devset *s = open_ok("auto", 1);
  cr_assert_eq(sc_devset_count(s), 1);
  cr_assert_str_eq(sc_devset_get(s, 0)->driver, "cpu");
  cr_assert(has_note(s, "nvml: not present"));
  cr_assert(has_note(s, "dcmi: not present"));
  cr_assert(has_note(s, "efml: not present"));
  sc_devices_close(s);
}

Test(devices_auto, every_vendor_and_indexes_across_the_node) {
  no_vendor_libs();
  use_mock("SUANCHI_NVML_LIB", "libmocknvml");
  use_mock("SUANCHI_DCMI_LIB", "libmockdcmi");
  use_mock("SUANCHI_EFML_LIB", "libmockefml");
  sc_devset *s = open_ok("auto,sim:L20-48GB:2", 1);
  cr_assert_eq(sc_devset_count(s), 8, "2 nvml + 2 dcmi + 2 efml + 2 sim, no cpu");
  const char *drivers[] = {"nvml", "nvml", "dcmi", "dcmi", "efml", "efml", "sim", "sim"};
  for (size_t i = 0; i < 8; i++) {
    cr_assert_eq(sc_devset_get(s, i)->index, (int)i);
    cr_assert_str_eq(sc_devset_get(s, i)->driver, drivers[i]);
  }
  cr_assert(has_note(s, "cpu: skipped (auto found 6 accelerators)"));
  sc_devices_refresh(s, 1000);
  sc_devices_close(s);
}

/* ---- mapping and helpers ---- */

Test(devices_map, vendor_names_to_catalogue_keys) {
  struct {
    const char *vendor, *name, *key;
  } cases[] = {
      {"nvidia", "NVIDIA H100 80GB HBM3", "H100-SXM-80GB"},
      {"nvidia", "NVIDIA H100 SXM5 80GB", "H100-SXM-80GB"},
      {"nvidia", "NVIDIA H100 PCIe", NULL},
      {"nvidia", "NVIDIA H100 NVL", NULL},
      {"nvidia", "NVIDIA H800", "H800-80GB"},
      {"nvidia", "NVIDIA H20", "H20-96GB"},
      {"nvidia", "NVIDIA H200", NULL},
      {"nvidia", "NVIDIA A100-SXM4-80GB", "A100-SXM-80GB"},
      {"nvidia", "NVIDIA A100-SXM4-40GB", NULL},
      {"nvidia", "NVIDIA A100 80GB PCIe", NULL},
      {"nvidia", "NVIDIA L40S", "L40S-48GB"},
      {"nvidia", "NVIDIA L40", NULL},
      {"nvidia", "NVIDIA L20", "L20-48GB"},
      {"nvidia", "NVIDIA GeForce RTX 4090", "RTX4090-24GB"},
      {"nvidia", "NVIDIA GeForce RTX 4090 D", NULL},
      {"huawei", "Ascend 910B3", "Ascend-910B-64GB"},
      {"huawei", "Ascend 910B1", "Ascend-910B-64GB"},
      {"huawei", "Ascend 910B4", NULL},
      {"huawei", "Ascend 310P3", NULL},
      {"enflame", "I20", "Enflame-i20-16GB"},
      {"enflame", "Enflame i20", "Enflame-i20-16GB"},
      {"enflame", "S60", NULL},
      {"huawei", "NVIDIA L40S", NULL},
      {"nvidia", "", NULL},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const char *got = sc_devices_map_chip(cases[i].vendor, cases[i].name);
    if (!cases[i].key) {
      cr_assert_null(got, "'%s' mapped to %s", cases[i].name, got);
    } else {
      cr_assert_not_null(got, "'%s' unmapped", cases[i].name);
      cr_assert_str_eq(got, cases[i].key, "'%s'", cases[i].name);
      cr_assert_not_null(sc_chips_find(sc_chips_global(), got), "%s is not in the catalogue", got);
    }
  }
  cr_assert_null(sc_devices_map_chip(NULL, "x"));
}

Test(devices_misc, health_names_and_seed) {
  for (int h = SC_HEALTH_UNKNOWN; h <= SC_HEALTH_FAILED; h++) {
    sc_health back;
    cr_assert_eq(sc_health_parse(sc_health_name((sc_health)h), &back), 0);
    cr_assert_eq((int)back, h);
  }
  cr_assert_str_eq(sc_health_name(SC_HEALTH_DEGRADED), "degraded");
  sc_health x;
  cr_assert_eq(sc_health_parse("sick", &x), SC_EINVAL);
  cr_assert_eq(sc_health_parse(NULL, &x), SC_EINVAL);
  cr_assert_eq(sc_devices_seed(""), 0xcbf29ce484222325ULL);
  cr_assert_eq(sc_devices_seed("node-1"), sc_devices_seed("node-1"));
  cr_assert_neq(sc_devices_seed("node-1"), sc_devices_seed("node-2"));
  sc_devices_close(NULL);
  cr_assert_eq(sc_devset_count(NULL), 0);
  cr_assert_eq(sc_devices_refresh(NULL, 0), 0);
}
