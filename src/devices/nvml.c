/*
 * nvml.c — NVIDIA GPUs through NVML (libnvidia-ml.so.1), opened with dlopen at run time.
 *
 * Open: dlopen -> nvmlInit_v2 -> nvmlDeviceGetCount_v2 -> per index nvmlDeviceGetHandleByIndex_v2,
 * nvmlDeviceGetName, nvmlDeviceGetUUID, nvmlDeviceGetMemoryInfo. A missing library, a missing
 * required symbol, a failed init or zero GPUs mean "not present": a note, no devices.
 * Refresh: nvmlDeviceGetMemoryInfo (bytes -> MiB), nvmlDeviceGetUtilizationRates (.gpu %), and
 * health from the return codes plus, when the library has them, nvmlDeviceGetRemappedRows
 * (pending -> degraded, failure -> failed) or nvmlDeviceGetRetiredPagesPendingStatus
 * (pending -> degraded). GPU_IS_LOST / RESET_REQUIRED -> failed.
 * Close: nvmlShutdown (NVML counts inits, so several sets may be open) and dlclose.
 * Calls into the library are serialised by one mutex.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "devices/internal.h"

#define NVML_SUCCESS 0
#define NVML_ERROR_NOT_SUPPORTED 3
#define NVML_ERROR_CORRUPTED_INFOROM 14
#define NVML_ERROR_GPU_IS_LOST 15
#define NVML_ERROR_RESET_REQUIRED 16
#define NVML_NAME_LEN 96 /* NVML_DEVICE_NAME_V2_BUFFER_SIZE */
#define NVML_UUID_LEN 96 /* NVML_DEVICE_UUID_V2_BUFFER_SIZE */
#define NVML_MAX_DEVICES 64

typedef int nvml_ret;
typedef struct nvmlDevice_st *nvml_dev;
typedef struct {
  unsigned long long total, free, used; /* bytes */
} nvml_memory;
typedef struct {
  unsigned int gpu, memory; /* percent */
} nvml_util;

typedef struct {
  void *lib;
  nvml_ret (*init)(void);
  nvml_ret (*shutdown)(void);
  nvml_ret (*count)(unsigned int *);
  nvml_ret (*handle)(unsigned int, nvml_dev *);
  nvml_ret (*name)(nvml_dev, char *, unsigned int);
  nvml_ret (*uuid)(nvml_dev, char *, unsigned int);
  nvml_ret (*mem)(nvml_dev, nvml_memory *);
  nvml_ret (*util)(nvml_dev, nvml_util *);
  nvml_ret (*remapped)(nvml_dev, unsigned int *, unsigned int *, unsigned int *, unsigned int *); /* optional */
  nvml_ret (*retired)(nvml_dev, int *);                                                           /* optional */
  size_t n;
  nvml_dev dev[NVML_MAX_DEVICES];
} nvml_state;

static pthread_mutex_t nvml_lock = PTHREAD_MUTEX_INITIALIZER;

static sc_health health_from(nvml_ret rc) {
  switch (rc) {
  case NVML_SUCCESS: return SC_HEALTH_OK;
  case NVML_ERROR_GPU_IS_LOST:
  case NVML_ERROR_RESET_REQUIRED: return SC_HEALTH_FAILED;
  case NVML_ERROR_CORRUPTED_INFOROM: return SC_HEALTH_DEGRADED;
  default: return SC_HEALTH_UNKNOWN;
  }
}

/* Samples memory, utilisation and health of one GPU; caller holds nvml_lock. */
static void sample(nvml_state *st, nvml_dev h, sc_device *d) {
  nvml_memory m;
  nvml_ret rc = st->mem(h, &m);
  sc_health health = health_from(rc);
  if (rc == NVML_SUCCESS) {
    d->memory_total_mib = m.total >> 20;
    d->memory_used_mib = m.used >> 20;
  }
  nvml_util u;
  rc = st->util(h, &u);
  if (rc == NVML_SUCCESS) d->util_pct = u.gpu > 100 ? 100 : (int)u.gpu;
  else if (health_from(rc) == SC_HEALTH_FAILED) health = SC_HEALTH_FAILED;
  if (health == SC_HEALTH_OK) {
    unsigned int corr = 0, unc = 0, pending = 0, failure = 0;
    int retired_pending = 0;
    if (st->remapped && st->remapped(h, &corr, &unc, &pending, &failure) == NVML_SUCCESS) {
      if (failure) health = SC_HEALTH_FAILED;
      else if (pending) health = SC_HEALTH_DEGRADED;
    } else if (st->retired && st->retired(h, &retired_pending) == NVML_SUCCESS && retired_pending) {
      health = SC_HEALTH_DEGRADED;
    }
  }
  d->health = health;
}

static void nvml_refresh(void *state, sc_device *devs, size_t n, int64_t now_ms) {
  (void)now_ms;
  nvml_state *st = state;
  pthread_mutex_lock(&nvml_lock);
  for (size_t i = 0; i < n && i < st->n; i++)
    if (st->dev[i]) sample(st, st->dev[i], &devs[i]); /* no handle: keep the health found at open */
  pthread_mutex_unlock(&nvml_lock);
}

static void nvml_close(void *state) {
  nvml_state *st = state;
  if (!st) return;
  pthread_mutex_lock(&nvml_lock);
  st->shutdown();
  dlclose(st->lib);
  pthread_mutex_unlock(&nvml_lock);
  free(st);
}

static const sc_devops nvml_ops = {"nvml", nvml_refresh, nvml_close, NULL};

int sc__nvml_open(sc_devset *s, sc_err *e) {
  (void)e;
  const char *path = NULL;
  const char *missing = NULL;
  bool inited = false;
  nvml_state *st = sc_xcalloc(1, sizeof *st);
  pthread_mutex_lock(&nvml_lock);
  st->lib = sc__devices_dlopen(s, "nvml", "SUANCHI_NVML_LIB", "libnvidia-ml.so.1", &path);
  if (!st->lib) goto out;
  SC__DEV_SYM(init, "nvmlInit_v2");
  SC__DEV_SYM(shutdown, "nvmlShutdown");
  SC__DEV_SYM(count, "nvmlDeviceGetCount_v2");
  SC__DEV_SYM(handle, "nvmlDeviceGetHandleByIndex_v2");
  SC__DEV_SYM(name, "nvmlDeviceGetName");
  SC__DEV_SYM(uuid, "nvmlDeviceGetUUID");
  SC__DEV_SYM(mem, "nvmlDeviceGetMemoryInfo");
  SC__DEV_SYM(util, "nvmlDeviceGetUtilizationRates");
  *(void **)(&st->remapped) = dlsym(st->lib, "nvmlDeviceGetRemappedRows");
  *(void **)(&st->retired) = dlsym(st->lib, "nvmlDeviceGetRetiredPagesPendingStatus");
  nvml_ret rc = st->init();
  if (rc != NVML_SUCCESS) {
    sc__devset_note(s, "nvml: not present (nvmlInit_v2 returned %d)", rc);
    goto out;
  }
  inited = true;
  unsigned int count = 0;
  rc = st->count(&count);
  if (rc != NVML_SUCCESS || count == 0) {
    sc__devset_note(s, "nvml: not present (%s)", rc != NVML_SUCCESS ? "nvmlDeviceGetCount_v2 failed" : "no GPUs");
    goto out;
  }
  if (count > NVML_MAX_DEVICES) count = NVML_MAX_DEVICES;
  size_t first = s->n;
  for (unsigned int i = 0; i < count; i++) {
    nvml_dev h = NULL;
    rc = st->handle(i, &h);
    sc_device *d = sc__devset_add(s, "nvml");
    char name[NVML_NAME_LEN] = "", uuid[NVML_UUID_LEN] = "";
    if (rc == NVML_SUCCESS) {
      if (st->name(h, name, sizeof name) != NVML_SUCCESS) name[0] = 0;
      if (st->uuid(h, uuid, sizeof uuid) != NVML_SUCCESS) uuid[0] = 0;
    }
    name[sizeof name - 1] = uuid[sizeof uuid - 1] = 0;
    sc__devices_set_chip(d, "nvidia", name[0] ? name : "NVIDIA GPU");
    if (uuid[0]) sc_strlcpy(d->uuid, uuid, sizeof d->uuid);
    else snprintf(d->uuid, sizeof d->uuid, "GPU-unknown-%llx-%u", (unsigned long long)sc__mix64(s->seed), i);
    st->dev[st->n++] = h;
    if (rc == NVML_SUCCESS) sample(st, h, d);
    else d->health = health_from(rc) == SC_HEALTH_FAILED ? SC_HEALTH_FAILED : SC_HEALTH_UNKNOWN;
  }
  sc__devset_note(s, "nvml: %u GPU%s via %s", count, count == 1 ? "" : "s", path);
  pthread_mutex_unlock(&nvml_lock);
  sc__devset_backend(s, &nvml_ops, st, first);
  return 0;
out:
  if (missing) sc__devset_note(s, "nvml: not present (%s lacks %s)", path, missing);
  if (inited) st->shutdown();
  if (st->lib) dlclose(st->lib);
  pthread_mutex_unlock(&nvml_lock);
  free(st);
  return 0;
}
