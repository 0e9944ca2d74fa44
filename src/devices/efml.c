/*
 * efml.c — Enflame GCUs through EFML (libefml.so), opened with dlopen at run time.
 *
 * Open: dlopen -> EfmlInit(false) -> EfmlGetDevCount -> per index EfmlGetDevName, EfmlGetDevUuid
 * (128-byte buffers, MAX_CHAR_BUFF_LEN in efml.h). A missing library, a missing required symbol,
 * a failed init or zero devices mean "not present": a note, no devices.
 * Refresh: EfmlGetDevMem (efmlDevMemInfo_t: mem_total_size in bytes, mem_used in MiB, as
 * Enflame's own exporter reads them), EfmlGetDevDtuUsage (float %), EfmlGetDevIsHealth (bool;
 * optional: unknown without it).
 * Close: EfmlShutdown and dlclose. Calls are serialised by one mutex.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "devices/internal.h"

#define EFML_SUCCESS 0
#define EFML_BUF_LEN 128 /* MAX_CHAR_BUFF_LEN */
#define EFML_MAX_DEVICES 64

typedef struct {
  uint64_t mem_total_size; /* bytes */
  uint32_t mem_used;       /* MiB */
} efml_mem;

typedef struct {
  void *lib;
  int (*init)(bool);
  void (*shutdown)(void);
  int (*count)(uint32_t *);
  int (*name)(uint32_t, char *);
  int (*uuid)(uint32_t, char *);
  int (*mem)(uint32_t, efml_mem *);
  int (*usage)(uint32_t, float *);
  int (*healthy)(uint32_t, bool *); /* optional */
  size_t n;
} efml_state;

static pthread_mutex_t efml_lock = PTHREAD_MUTEX_INITIALIZER;

/* Caller holds efml_lock. */
static void sample(efml_state *st, uint32_t i, sc_device *d) {
  efml_mem m = {0, 0};
  int rc = st->mem(i, &m);
  if (rc == EFML_SUCCESS) {
    d->memory_total_mib = m.mem_total_size >> 20;
    d->memory_used_mib = m.mem_used <= d->memory_total_mib ? m.mem_used : d->memory_total_mib;
  }
  float u = 0;
  if (st->usage(i, &u) == EFML_SUCCESS) d->util_pct = u < 0 ? 0 : u > 100 ? 100 : (int)(u + 0.5f);
  bool ok = false;
  if (st->healthy && st->healthy(i, &ok) == EFML_SUCCESS) d->health = ok ? SC_HEALTH_OK : SC_HEALTH_FAILED;
  else d->health = SC_HEALTH_UNKNOWN;
}

static void efml_refresh(void *state, sc_device *devs, size_t n, int64_t now_ms) {
  (void)now_ms;
  efml_state *st = state;
  pthread_mutex_lock(&efml_lock);
  for (size_t i = 0; i < n && i < st->n; i++) sample(st, (uint32_t)i, &devs[i]);
  pthread_mutex_unlock(&efml_lock);
}

static void efml_close(void *state) {
  efml_state *st = state;
  if (!st) return;
  pthread_mutex_lock(&efml_lock);
  st->shutdown();
  dlclose(st->lib);
  pthread_mutex_unlock(&efml_lock);
  free(st);
}

static const sc_devops efml_ops = {"efml", efml_refresh, efml_close, NULL};

int sc__efml_open(sc_devset *s, sc_err *e) {
  (void)e;
  const char *path = NULL;
  const char *missing = NULL;
  bool inited = false;
  efml_state *st = sc_xcalloc(1, sizeof *st);
  pthread_mutex_lock(&efml_lock);
  st->lib = sc__devices_dlopen(s, "efml", "SUANCHI_EFML_LIB", "libefml.so", &path);
  if (!st->lib) goto out;
  SC__DEV_SYM(init, "EfmlInit");
  SC__DEV_SYM(shutdown, "EfmlShutdown");
  SC__DEV_SYM(count, "EfmlGetDevCount");
  SC__DEV_SYM(name, "EfmlGetDevName");
  SC__DEV_SYM(uuid, "EfmlGetDevUuid");
  SC__DEV_SYM(mem, "EfmlGetDevMem");
  SC__DEV_SYM(usage, "EfmlGetDevDtuUsage");
  *(void **)(&st->healthy) = dlsym(st->lib, "EfmlGetDevIsHealth");
  int rc = st->init(false);
  if (rc != EFML_SUCCESS) {
    sc__devset_note(s, "efml: not present (EfmlInit returned %d)", rc);
    goto out;
  }
  inited = true;
  uint32_t count = 0;
  rc = st->count(&count);
  if (rc != EFML_SUCCESS || count == 0) {
    sc__devset_note(s, "efml: not present (%s)", rc != EFML_SUCCESS ? "EfmlGetDevCount failed" : "no devices");
    goto out;
  }
  if (count > EFML_MAX_DEVICES) count = EFML_MAX_DEVICES;
  size_t first = s->n;
  for (uint32_t i = 0; i < count; i++) {
    char name[EFML_BUF_LEN] = "", uuid[EFML_BUF_LEN] = "";
    if (st->name(i, name) != EFML_SUCCESS) name[0] = 0;
    if (st->uuid(i, uuid) != EFML_SUCCESS) uuid[0] = 0;
    name[sizeof name - 1] = uuid[sizeof uuid - 1] = 0;
    sc_device *d = sc__devset_add(s, "efml");
    sc__devices_set_chip(d, "enflame", name[0] ? name : "Enflame GCU");
    if (uuid[0]) sc_strlcpy(d->uuid, uuid, sizeof d->uuid);
    else snprintf(d->uuid, sizeof d->uuid, "GCU-%016llx-%u", (unsigned long long)sc__mix64(s->seed), i);
    st->n++;
    sample(st, i, d);
  }
  sc__devset_note(s, "efml: %u device%s via %s", count, count == 1 ? "" : "s", path);
  pthread_mutex_unlock(&efml_lock);
  sc__devset_backend(s, &efml_ops, st, first);
  return 0;
out:
  if (missing) sc__devset_note(s, "efml: not present (%s lacks %s)", path, missing);
  if (inited) st->shutdown();
  if (st->lib) dlclose(st->lib);
  pthread_mutex_unlock(&efml_lock);
  free(st);
  return 0;
}
