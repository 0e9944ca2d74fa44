/*
 * dcmi.c — Huawei Ascend NPUs through DCMI (libdcmi.so), opened with dlopen at run time.
 *
 * Open: dlopen -> dcmi_init -> dcmi_get_card_num_list (or the older dcmi_get_card_list) -> per card
 * dcmi_get_device_num_in_card -> per chip dcmi_get_device_type (optional; only NPU chips are
 * kept), dcmi_get_device_chip_info (name = chip_type + " " + chip_name, e.g. "Ascend 910B3";
 * aicore_cnt -> compute_units) and dcmi_get_device_die_v2(VDIE) for the uuid (optional; else a
 * uuid derived from the seed, card and chip). A missing library, a missing required symbol, a
 * failed init or no NPU means "not present": a note, no devices.
 * Refresh: memory from dcmi_get_device_hbm_info (MB; the device memory of 910-class chips) or,
 * when that reports nothing, dcmi_get_device_memory_info_v3 (MB, used = size - available);
 * utilisation = dcmi_get_device_utilization_rate(type 2, AI Core); health from
 * dcmi_get_device_health: 0 ok, 1 (minor) and 2 (major alarm) degraded, 3 (critical) and
 * 0xFFFFFFFF (device gone) failed.
 * DCMI has no shutdown call; close only dlcloses. Calls are serialised by one mutex.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "devices/internal.h"

#define DCMI_MAX_CARDS 64
#define DCMI_MAX_DEVICES 64
#define DCMI_CHIP_NAME_LEN 32
#define DCMI_UTIL_AICORE 2
#define DCMI_NPU_TYPE 0
#define DCMI_VDIE 1

struct dcmi_chip_info {
  unsigned char chip_type[DCMI_CHIP_NAME_LEN];
  unsigned char chip_name[DCMI_CHIP_NAME_LEN];
  unsigned char chip_ver[DCMI_CHIP_NAME_LEN];
  unsigned int aicore_cnt;
};

struct dcmi_hbm_info {
  unsigned long long memory_size; /* MB */
  unsigned int freq;
  unsigned long long memory_usage; /* MB */
  int temp;
  unsigned int bandwith_util_rate;
};

struct dcmi_get_memory_info_stru {
  unsigned long long memory_size;      /* MB */
  unsigned long long memory_available; /* MB */
  unsigned int freq;
  unsigned long hugepagesize;
  unsigned long hugepages_total;
  unsigned long hugepages_free;
  unsigned int utiliza;
  unsigned char reserve[60];
};

struct dcmi_die_id {
  unsigned int soc_die[5];
};

typedef struct {
  void *lib;
  int (*init)(void);
  int (*card_list)(int *, int *, int);
  int (*dev_num)(int, int *);
  int (*dev_type)(int, int, int *); /* optional; enum dcmi_unit_type * */
  int (*chip_info)(int, int, struct dcmi_chip_info *);
  int (*hbm)(int, int, struct dcmi_hbm_info *);                /* optional */
  int (*mem)(int, int, struct dcmi_get_memory_info_stru *);    /* optional */
  int (*util)(int, int, int, unsigned int *);
  int (*health)(int, int, unsigned int *);
  int (*die)(int, int, int, struct dcmi_die_id *); /* optional; enum dcmi_die_type */
  size_t n;
  int card[DCMI_MAX_DEVICES], chip[DCMI_MAX_DEVICES];
} dcmi_state;

static pthread_mutex_t dcmi_lock = PTHREAD_MUTEX_INITIALIZER;

static sc_health health_from(unsigned int h) {
  switch (h) {
  case 0: return SC_HEALTH_OK;
  case 1:
  case 2: return SC_HEALTH_DEGRADED;
  case 3:
  case 0xFFFFFFFFu: return SC_HEALTH_FAILED;
  default: return SC_HEALTH_UNKNOWN;
  }
}

/* Caller holds dcmi_lock. */
static void sample(dcmi_state *st, int card, int chip, sc_device *d) {
  struct dcmi_hbm_info hbm;
  memset(&hbm, 0, sizeof hbm);
  if (st->hbm && st->hbm(card, chip, &hbm) == 0 && hbm.memory_size > 0) {
    d->memory_total_mib = hbm.memory_size;
    d->memory_used_mib = hbm.memory_usage <= hbm.memory_size ? hbm.memory_usage : hbm.memory_size;
  } else {
    struct dcmi_get_memory_info_stru m;
    memset(&m, 0, sizeof m);
    if (st->mem && st->mem(card, chip, &m) == 0 && m.memory_size > 0) {
      d->memory_total_mib = m.memory_size;
      d->memory_used_mib = m.memory_available <= m.memory_size ? m.memory_size - m.memory_available : 0;
    }
  }
  unsigned int u = 0;
  if (st->util(card, chip, DCMI_UTIL_AICORE, &u) == 0) d->util_pct = u > 100 ? 100 : (int)u;
  unsigned int h = 0;
  d->health = st->health(card, chip, &h) == 0 ? health_from(h) : SC_HEALTH_UNKNOWN;
}

static void dcmi_refresh(void *state, sc_device *devs, size_t n, int64_t now_ms) {
  (void)now_ms;
  dcmi_state *st = state;
  pthread_mutex_lock(&dcmi_lock);
  for (size_t i = 0; i < n && i < st->n; i++) sample(st, st->card[i], st->chip[i], &devs[i]);
  pthread_mutex_unlock(&dcmi_lock);
}

static void dcmi_close(void *state) {
  dcmi_state *st = state;
  if (!st) return;
  pthread_mutex_lock(&dcmi_lock);
  dlclose(st->lib);
  pthread_mutex_unlock(&dcmi_lock);
  free(st);
}

static const sc_devops dcmi_ops = {"dcmi", dcmi_refresh, dcmi_close, NULL};

static void copy_field(char *dst, size_t n, const unsigned char *src, size_t srclen) {
  size_t len = strnlen((const char *)src, srclen);
  if (len >= n) len = n - 1;
  memcpy(dst, src, len);
  dst[len] = 0;
}

int sc__dcmi_open(sc_devset *s, sc_err *e) {
  (void)e;
  const char *path = NULL;
  const char *missing = NULL;
  dcmi_state *st = sc_xcalloc(1, sizeof *st);
  pthread_mutex_lock(&dcmi_lock);
  st->lib = sc__devices_dlopen(s, "dcmi", "SUANCHI_DCMI_LIB", "libdcmi.so", &path);
  if (!st->lib) goto out;
  SC__DEV_SYM(init, "dcmi_init");
  *(void **)(&st->card_list) = dlsym(st->lib, "dcmi_get_card_num_list");
  if (!st->card_list) SC__DEV_SYM(card_list, "dcmi_get_card_list");
  SC__DEV_SYM(dev_num, "dcmi_get_device_num_in_card");
  SC__DEV_SYM(chip_info, "dcmi_get_device_chip_info");
  SC__DEV_SYM(util, "dcmi_get_device_utilization_rate");
  SC__DEV_SYM(health, "dcmi_get_device_health");
  *(void **)(&st->dev_type) = dlsym(st->lib, "dcmi_get_device_type");
  *(void **)(&st->hbm) = dlsym(st->lib, "dcmi_get_device_hbm_info");
  *(void **)(&st->mem) = dlsym(st->lib, "dcmi_get_device_memory_info_v3");
  *(void **)(&st->die) = dlsym(st->lib, "dcmi_get_device_die_v2");
  int rc = st->init();
  if (rc != 0) {
    sc__devset_note(s, "dcmi: not present (dcmi_init returned %d)", rc);
    goto out;
  }
  int ncards = 0, cards[DCMI_MAX_CARDS];
  rc = st->card_list(&ncards, cards, DCMI_MAX_CARDS);
  if (rc != 0 || ncards <= 0) {
    sc__devset_note(s, "dcmi: not present (%s)", rc != 0 ? "listing cards failed" : "no cards");
    goto out;
  }
  if (ncards > DCMI_MAX_CARDS) ncards = DCMI_MAX_CARDS;
  size_t first = s->n;
  for (int c = 0; c < ncards; c++) {
    int nchips = 0;
    if (st->dev_num(cards[c], &nchips) != 0) continue;
    for (int chip = 0; chip < nchips && st->n < DCMI_MAX_DEVICES; chip++) {
      int type = DCMI_NPU_TYPE;
      if (st->dev_type && st->dev_type(cards[c], chip, &type) == 0 && type != DCMI_NPU_TYPE) continue;
      struct dcmi_chip_info ci;
      memset(&ci, 0, sizeof ci);
      if (st->chip_info(cards[c], chip, &ci) != 0) continue;
      char ctype[DCMI_CHIP_NAME_LEN + 1], cname[DCMI_CHIP_NAME_LEN + 1], name[80];
      copy_field(ctype, sizeof ctype, ci.chip_type, sizeof ci.chip_type);
      copy_field(cname, sizeof cname, ci.chip_name, sizeof ci.chip_name);
      snprintf(name, sizeof name, "%s%s%s", ctype, ctype[0] && cname[0] ? " " : "", cname);
      sc_device *d = sc__devset_add(s, "dcmi");
      sc__devices_set_chip(d, "huawei", name[0] ? name : "Ascend NPU");
      d->compute_units = (int)ci.aicore_cnt;
      struct dcmi_die_id die;
      memset(&die, 0, sizeof die);
      if (st->die && st->die(cards[c], chip, DCMI_VDIE, &die) == 0 &&
          (die.soc_die[0] | die.soc_die[1] | die.soc_die[2] | die.soc_die[3] | die.soc_die[4]))
        snprintf(d->uuid, sizeof d->uuid, "NPU-%08X-%08X-%08X-%08X-%08X", die.soc_die[0], die.soc_die[1],
                 die.soc_die[2], die.soc_die[3], die.soc_die[4]);
      else
        snprintf(d->uuid, sizeof d->uuid, "NPU-%016llx-%d-%d", (unsigned long long)sc__mix64(s->seed), cards[c],
                 chip);
      st->card[st->n] = cards[c];
      st->chip[st->n] = chip;
      st->n++;
      sample(st, cards[c], chip, d);
    }
  }
  if (st->n == 0) {
    sc__devset_note(s, "dcmi: not present (no NPU on %d card%s)", ncards, ncards == 1 ? "" : "s");
    goto out;
  }
  sc__devset_note(s, "dcmi: %zu NPU%s via %s", st->n, st->n == 1 ? "" : "s", path);
  pthread_mutex_unlock(&dcmi_lock);
  sc__devset_backend(s, &dcmi_ops, st, first);
  return 0;
out:
  if (missing) sc__devset_note(s, "dcmi: not present (%s lacks %s)", path, missing);
  if (st->lib) dlclose(st->lib);
  pthread_mutex_unlock(&dcmi_lock);
  free(st);
  return 0;
}
