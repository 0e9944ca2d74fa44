/*
 * libmockefml.c — a stand-in for libefml.so exporting the EFML symbols src/devices/efml.c uses,
 * with two fake GCUs: 0 "I20" (16 GiB), 1 "S60" (48 GiB). SC_MOCK_MODE: "fail-init" (EfmlInit
 * fails), "zero" (no devices), "faulty" (GCU 1 reports unhealthy).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  uint64_t mem_total_size; /* bytes */
  uint32_t mem_used;       /* MiB */
} efmlDevMemInfo_t;

static int inited;
static unsigned samples;

static void put(char *dst, const char *src) { memcpy(dst, src, strlen(src) + 1); }

static const char *mode(void) {
  const char *m = getenv("SC_MOCK_MODE");
  return m ? m : "";
}

int EfmlInit(bool no_driver) {
  if (no_driver || strcmp(mode(), "fail-init") == 0) return 6; /* EFML_ERROR_DRIVER_NOT_LOADED */
  inited = 1;
  return 0;
}

void EfmlShutdown(void) { inited = 0; }

int EfmlGetDevCount(uint32_t *n) {
  if (!inited) return 1;
  *n = strcmp(mode(), "zero") == 0 ? 0 : 2;
  return 0;
}

int EfmlGetDevName(uint32_t i, char *name) {
  if (i >= 2) return 2;
  put(name, i == 0 ? "I20" : "S60");
  return 0;
}

int EfmlGetDevUuid(uint32_t i, char *uuid) {
  if (i >= 2) return 2;
  put(uuid, i == 0 ? "EF-0001-AAAA" : "EF-0002-BBBB");
  return 0;
}

int EfmlGetDevMem(uint32_t i, efmlDevMemInfo_t *m) {
  if (i >= 2) return 2;
  m->mem_total_size = (i == 0 ? 16ULL : 48ULL) << 30;
  m->mem_used = i == 0 ? 2048 : 100;
  return 0;
}

int EfmlGetDevDtuUsage(uint32_t i, float *u) {
  if (i >= 2) return 2;
  *u = (i == 0 ? 12.4f : 80.6f) + (float)(samples++ % 3);
  return 0;
}

int EfmlGetDevIsHealth(uint32_t i, bool *ok) {
  if (i >= 2) return 2;
  *ok = !(strcmp(mode(), "faulty") == 0 && i == 1);
  return 0;
}
