/*
 * sim.c — simulated devices from the chip catalogue, for demos, tests and scale tests.
 *
 * Each device is named by a 64-bit hash h = mix(seed, chip key, ordinal), where ordinal counts
 * the devices of that chip across the spec. The uuid is h printed as "SIM-xxxxxxxx-xxxx-xxxx-
 * xxxx-xxxxxxxxxxxx", so one node (one seed) keeps its uuids across restarts. Vendor and total
 * memory come from the catalogue. Utilisation is a pure function of (h, now_ms): a per-device
 * base load, a slow wave with a 10-minute period and a small step noise that changes every 5 s;
 * used memory follows utilisation (10%..85% of total). No clock is read here: the caller passes
 * now_ms, so the same code drives demos and deterministic tests. Health is ok unless forced with
 * sc_devices_sim_set_health.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "devices/internal.h"

#define WAVE_PERIOD_MS 600000
#define NOISE_STEP_MS 5000

typedef struct {
  size_t n;
  uint64_t *h;
  sc_health *forced; /* SC_HEALTH_UNKNOWN: not forced */
} sim_state;

int sc__sim_util(uint64_t h, int64_t now_ms) {
  double base = 15 + (double)(h % 50);                 /* 15..64 */
  double amp = 10 + (double)((h >> 8) % 20);           /* 10..29 */
  int64_t phase = (int64_t)((h >> 16) % WAVE_PERIOD_MS);
  int64_t t = now_ms + phase;
  double wave = sin(2.0 * M_PI * (double)(t % WAVE_PERIOD_MS) / WAVE_PERIOD_MS);
  int64_t step = now_ms >= 0 ? now_ms / NOISE_STEP_MS : -1 - (-1 - now_ms) / NOISE_STEP_MS;
  double noise = (double)(sc__mix64(h ^ (uint64_t)step) % 11) - 5; /* -5..5 */
  double u = base + amp * wave + noise;
  if (u < 0) u = 0;
  if (u > 100) u = 100;
  return (int)lround(u);
}

static void sample(sim_state *st, sc_device *devs, size_t n, int64_t now_ms) {
  for (size_t i = 0; i < n && i < st->n; i++) {
    sc_device *d = &devs[i];
    int u = sc__sim_util(st->h[i], now_ms);
    d->util_pct = u;
    d->memory_used_mib = (uint64_t)((double)d->memory_total_mib * (0.10 + 0.75 * u / 100.0));
    if (d->memory_used_mib > d->memory_total_mib) d->memory_used_mib = d->memory_total_mib;
    d->health = st->forced[i] != SC_HEALTH_UNKNOWN ? st->forced[i] : SC_HEALTH_OK;
  }
}

static void sim_refresh(void *state, sc_device *devs, size_t n, int64_t now_ms) { sample(state, devs, n, now_ms); }

static void sim_close(void *state) {
  sim_state *st = state;
  if (!st) return;
  free(st->h);
  free(st->forced);
  free(st);
}

static void sim_set_health(void *state, size_t rel, sc_health h) {
  sim_state *st = state;
  if (rel < st->n) st->forced[rel] = h;
}

static const sc_devops sim_ops = {"sim", sim_refresh, sim_close, sim_set_health};

int sc__sim_open(sc_devset *s, const sc_chip *chip, int count, int ordinal, sc_err *e) {
  (void)e;
  sim_state *st = sc_xcalloc(1, sizeof *st);
  st->n = (size_t)count;
  st->h = sc_xcalloc(st->n, sizeof *st->h);
  st->forced = sc_xcalloc(st->n, sizeof *st->forced);
  uint64_t chip_h = sc_devices_seed(chip->key);
  size_t first = s->n;
  for (int i = 0; i < count; i++) {
    uint64_t h = sc__mix64(s->seed ^ sc__mix64(chip_h ^ sc__mix64((uint64_t)(ordinal + i))));
    uint64_t h2 = sc__mix64(h);
    st->h[i] = h;
    sc_device *d = sc__devset_add(s, "sim");
    sc_strlcpy(d->vendor, chip->vendor, sizeof d->vendor);
    sc_strlcpy(d->chip, chip->key, sizeof d->chip);
    snprintf(d->name, sizeof d->name, "%.40s (simulated)", chip->name[0] ? chip->name : chip->key);
    snprintf(d->uuid, sizeof d->uuid, "SIM-%08x-%04x-%04x-%04x-%012llx", (unsigned)(h >> 32),
             (unsigned)((h >> 16) & 0xffff), (unsigned)(h & 0xffff), (unsigned)(h2 >> 48),
             (unsigned long long)(h2 & 0xffffffffffffULL));
    d->memory_total_mib = (uint64_t)llround(chip->memory_gib * 1024.0);
  }
  sample(st, s->devs + first, s->n - first, 0);
  sc__devset_backend(s, &sim_ops, st, first);
  return 0;
}
