/*
 * libmocknvml.c — a stand-in for libnvidia-ml.so.1 exporting the NVML symbols src/devices/nvml.c
 * uses, with two fake GPUs: 0 "NVIDIA H100 80GB HBM3", 1 "NVIDIA L40S". SC_MOCK_MODE selects a
 * behaviour: "fail-init" (nvmlInit_v2 fails), "zero" (no GPUs), "faulty" (GPU 1 is lost after
 * open; GPU 0 has a row remap pending). Utilisation rises by 1 on every sample.
 */
#include <stdlib.h>
#include <string.h>

typedef struct nvmlDevice_st {
  int index;
} nvmlDevice_st;
typedef struct {
  unsigned long long total, free, used;
} nvmlMemory_t;
typedef struct {
  unsigned int gpu, memory;
} nvmlUtilization_t;

static nvmlDevice_st devs[2] = {{0}, {1}};
static int inits;
static unsigned int samples;

static const char *mode(void) {
  const char *m = getenv("SC_MOCK_MODE");
  return m ? m : "";
}

int nvmlInit_v2(void) {
  if (strcmp(mode(), "fail-init") == 0) return 9; /* NVML_ERROR_DRIVER_NOT_LOADED */
  inits++;
  return 0;
}

int nvmlShutdown(void) {
  if (inits == 0) return 1; /* NVML_ERROR_UNINITIALIZED */
  inits--;
  return 0;
}

int nvmlDeviceGetCount_v2(unsigned int *n) {
  if (!inits) return 1;
  *n = strcmp(mode(), "zero") == 0 ? 0 : 2;
  return 0;
}

int nvmlDeviceGetHandleByIndex_v2(unsigned int i, nvmlDevice_st **h) {
  if (!inits) return 1;
  if (i >= 2 || strcmp(mode(), "zero") == 0) return 2;
  *h = &devs[i];
  return 0;
}

static int copy(char *dst, unsigned int len, const char *src) {
  if (strlen(src) + 1 > len) return 7; /* NVML_ERROR_INSUFFICIENT_SIZE */
  memcpy(dst, src, strlen(src) + 1);
  return 0;
}

int nvmlDeviceGetName(nvmlDevice_st *h, char *name, unsigned int len) {
  return copy(name, len, h->index == 0 ? "NVIDIA H100 80GB HBM3" : "NVIDIA L40S");
}

int nvmlDeviceGetUUID(nvmlDevice_st *h, char *uuid, unsigned int len) {
  return copy(uuid, len, h->index == 0 ? "GPU-11111111-2222-3333-4444-555555555555"
                                       : "GPU-66666666-7777-8888-9999-000000000000");
}

static int lost(nvmlDevice_st *h) { return strcmp(mode(), "faulty") == 0 && h->index == 1 && samples > 0; }

int nvmlDeviceGetMemoryInfo(nvmlDevice_st *h, nvmlMemory_t *m) {
  if (lost(h)) return 15; /* NVML_ERROR_GPU_IS_LOST */
  m->total = (h->index == 0 ? 81559ULL : 46068ULL) << 20;
  m->used = (h->index == 0 ? 1024ULL : 512ULL) << 20;
  m->free = m->total - m->used;
  return 0;
}

int nvmlDeviceGetUtilizationRates(nvmlDevice_st *h, nvmlUtilization_t *u) {
  if (lost(h)) return 15;
  u->gpu = (h->index == 0 ? 30 : 5) + samples++ % 10;
  u->memory = 10;
  return 0;
}

int nvmlDeviceGetRemappedRows(nvmlDevice_st *h, unsigned int *corr, unsigned int *unc, unsigned int *pending,
                              unsigned int *failure) {
  *corr = *unc = *failure = 0;
  *pending = strcmp(mode(), "faulty") == 0 && h->index == 0;
  return 0;
}
