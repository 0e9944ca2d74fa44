/*
 * internal.h — what the device drivers share with devices.c (not part of the module's interface).
 *
 * A set owns a flat array of sc_device and a list of backends; each backend is one opened driver
 * instance that covers devices [first, first+count) of the array. Drivers append devices with
 * sc__devset_add while they open, then register themselves with sc__devset_backend.
 */
#ifndef SC_DEVICES_INTERNAL_H
#define SC_DEVICES_INTERNAL_H

#include <stdbool.h>

#include "chips/chips.h"
#include "devices/devices.h"

typedef struct sc_devops {
  const char *name;
  /* Re-samples devs[0..n) (the backend's own devices). */
  void (*refresh)(void *state, sc_device *devs, size_t n, int64_t now_ms);
  /* Frees state (and closes the library). */
  void (*close)(void *state);
  /* Sim only: forces the health of the backend's device rel. NULL elsewhere. */
  void (*set_health)(void *state, size_t rel, sc_health h);
} sc_devops;

typedef struct sc_devbackend {
  const sc_devops *ops;
  void *state;
  size_t first, count;
} sc_devbackend;

struct sc_devset {
  sc_device *devs;
  size_t n, cap;
  sc_devbackend *be;
  size_t nbe, capbe;
  char **notes;
  size_t nnotes;
  uint64_t seed;
};

/* Appends a zeroed device with its index and driver name set; the pointer is valid until the
 * next add. */
sc_device *sc__devset_add(sc_devset *s, const char *driver);
/* Registers an opened driver covering devices [first, s->n). */
void sc__devset_backend(sc_devset *s, const sc_devops *ops, void *state, size_t first);
/* Adds an operator note (printf-style). */
void sc__devset_note(sc_devset *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Fills vendor/chip of d from its raw name: catalogue key if mapped, else the raw name. */
void sc__devices_set_chip(sc_device *d, const char *vendor, const char *raw_name);
/* Opens a vendor library: getenv(env) when set and non-empty, else def (the chosen path goes to
 * *path). On failure adds the note "DRIVER: not present (why)" and returns NULL. */
void *sc__devices_dlopen(sc_devset *s, const char *driver, const char *env, const char *def, const char **path);

/* Resolves st->field from st->lib; on a missing symbol sets `missing` and jumps to `out` (both
 * provided by the driver's open function). */
#define SC__DEV_SYM(field, name)                                                                 \
  do {                                                                                           \
    *(void **)(&st->field) = dlsym(st->lib, name);                                              \
    if (!st->field) {                                                                            \
      missing = name;                                                                            \
      goto out;                                                                                  \
    }                                                                                            \
  } while (0)

/* 64-bit mixer (splitmix64 finaliser) used for simulated values and fallback uuids. */
uint64_t sc__mix64(uint64_t x);

/* Drivers. Each returns 0 ("not present" is 0 with no devices and a note). */
int sc__nvml_open(sc_devset *s, sc_err *e);
int sc__dcmi_open(sc_devset *s, sc_err *e);
int sc__efml_open(sc_devset *s, sc_err *e);
int sc__cpu_open(sc_devset *s, sc_err *e);
/* ordinal: how many devices of this chip earlier sim entries of the spec already made, so each
 * (seed, chip, ordinal) names one device whatever the order of the entries. */
int sc__sim_open(sc_devset *s, const sc_chip *chip, int count, int ordinal, sc_err *e);

/* Parsers behind the cpu driver, exposed for tests. */
/* /proc/meminfo text -> MemTotal and MemAvailable in KiB. 0 or SC_EFORMAT. */
int sc__cpu_parse_meminfo(const char *text, uint64_t *total_kib, uint64_t *avail_kib);
/* /proc/stat text -> busy and total jiffies of the "cpu " line. 0 or SC_EFORMAT. */
int sc__cpu_parse_stat(const char *text, uint64_t *busy, uint64_t *total);
/* Utilisation % between two /proc/stat samples; -1 when no time passed. */
int sc__cpu_util(uint64_t busy0, uint64_t total0, uint64_t busy1, uint64_t total1);

/* Simulated utilisation % of the device with hash h at now_ms (deterministic). */
int sc__sim_util(uint64_t h, int64_t now_ms);

#endif
