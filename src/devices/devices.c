/*
 * devices.c — the device set: spec parsing, the driver list, vendor name -> catalogue mapping.
 *
 * sc_devices_open parses the whole spec first (so a bad spec opens nothing), then opens each
 * entry in order; drivers append their devices to one flat array, so indexes run 0..n-1 across
 * the node in spec order. "auto" expands to nvml, dcmi, efml and, when those three found no
 * device, cpu. Real drivers and cpu may appear once per spec; sim entries any number of times.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/util.h"
#include "devices/internal.h"

#define SPEC_MAX_LEN 4096
#define SPEC_MAX_ENTRIES 64
#define SIM_MAX_COUNT 64
#define WANT "want auto, nvml, dcmi, efml, cpu or sim:CHIP:COUNT, comma-separated"

typedef enum { ENT_NVML, ENT_DCMI, ENT_EFML, ENT_CPU, ENT_AUTO_CPU, ENT_SIM } ent_kind;

typedef struct {
  ent_kind kind;
  const sc_chip *chip; /* ENT_SIM */
  int count;           /* ENT_SIM */
} spec_entry;

/* ---- spec parsing ---- */

static int parse_sim(const char *ent, spec_entry *out, sc_err *e) {
  /* ent is "sim:CHIP:COUNT"; CHIP is everything between the first and the last colon. */
  const char *chip = ent + 4;
  const char *last = strrchr(ent, ':');
  if (last < chip || last == chip)
    return sc_err_set(e, SC_EINVAL, "invalid_devices", "device spec entry '%.80s': want sim:CHIP:COUNT", ent);
  char key[128];
  size_t klen = (size_t)(last - chip);
  if (klen >= sizeof key)
    return sc_err_set(e, SC_EINVAL, "invalid_devices", "device spec entry '%.80s': chip name is too long", ent);
  memcpy(key, chip, klen);
  key[klen] = 0;
  int64_t count;
  if (sc_parse_i64(last + 1, 1, SIM_MAX_COUNT, &count))
    return sc_err_set(e, SC_EINVAL, "invalid_devices",
                      "device spec entry '%.80s': COUNT '%.20s' must be a whole number from 1 to %d", ent, last + 1,
                      SIM_MAX_COUNT);
  const sc_chip *c = sc_chips_find(sc_chips_global(), key);
  if (!c)
    return sc_err_set(e, SC_EINVAL, "invalid_devices",
                      "device spec entry '%.80s': unknown chip '%s' (run 'suanchi chips' to list the catalogue)", ent,
                      key);
  out->kind = ENT_SIM;
  out->chip = c;
  out->count = (int)count;
  return 0;
}

/* Parses spec into entries[0..*n). 0 or SC_EINVAL with e naming the bad part. */
static int parse_spec(const char *spec, spec_entry *entries, size_t *n, sc_err *e) {
  *n = 0;
  if (!spec) spec = "";
  size_t len = strlen(spec);
  if (len > SPEC_MAX_LEN)
    return sc_err_set(e, SC_EINVAL, "invalid_devices", "device spec is longer than %d characters", SPEC_MAX_LEN);
  char buf[SPEC_MAX_LEN + 1];
  memcpy(buf, spec, len + 1);
  if (!*sc_trim(buf)) return sc_err_set(e, SC_EINVAL, "invalid_devices", "device spec is empty (" WANT ")");
  bool seen[ENT_AUTO_CPU + 1] = {false};
  size_t nent = 0;
  char *p = buf;
  for (int pos = 1;; pos++) {
    char *comma = strchr(p, ',');
    if (comma) *comma = 0;
    char *ent = sc_trim(p);
    if (!*ent)
      return sc_err_set(e, SC_EINVAL, "invalid_devices", "device spec '%.200s': entry %d is empty (" WANT ")", spec,
                        pos);
    ent_kind kinds[4];
    size_t nk = 0;
    spec_entry sim = {0};
    if (strcasecmp(ent, "auto") == 0) {
      kinds[nk++] = ENT_NVML;
      kinds[nk++] = ENT_DCMI;
      kinds[nk++] = ENT_EFML;
      kinds[nk++] = ENT_AUTO_CPU;
    } else if (strcasecmp(ent, "nvml") == 0) {
      kinds[nk++] = ENT_NVML;
    } else if (strcasecmp(ent, "dcmi") == 0) {
      kinds[nk++] = ENT_DCMI;
    } else if (strcasecmp(ent, "efml") == 0) {
      kinds[nk++] = ENT_EFML;
    } else if (strcasecmp(ent, "cpu") == 0) {
      kinds[nk++] = ENT_CPU;
    } else if (strncasecmp(ent, "sim:", 4) == 0) {
      int rc = parse_sim(ent, &sim, e);
      if (rc) return rc;
    } else {
      return sc_err_set(e, SC_EINVAL, "invalid_devices", "device spec '%.200s': unknown entry '%.80s' (" WANT ")",
                        spec, ent);
    }
    if (nk == 0) {
      if (nent == SPEC_MAX_ENTRIES)
        return sc_err_set(e, SC_EINVAL, "invalid_devices", "device spec has more than %d entries", SPEC_MAX_ENTRIES);
      entries[nent++] = sim;
    }
    for (size_t k = 0; k < nk; k++) {
      ent_kind kk = kinds[k] == ENT_AUTO_CPU ? ENT_CPU : kinds[k];
      if (seen[kk])
        return sc_err_set(e, SC_EINVAL, "invalid_devices",
                          "device spec '%.200s': entry '%.80s' repeats a driver already in the spec (auto covers "
                          "nvml, dcmi, efml and cpu)",
                          spec, ent);
      seen[kk] = true;
      if (nent == SPEC_MAX_ENTRIES)
        return sc_err_set(e, SC_EINVAL, "invalid_devices", "device spec has more than %d entries", SPEC_MAX_ENTRIES);
      entries[nent++] = (spec_entry){.kind = kinds[k]};
    }
    if (!comma) break;
    p = comma + 1;
  }
  *n = nent;
  return 0;
}

int sc_devices_spec_check(const char *spec, sc_err *e) {
  spec_entry entries[SPEC_MAX_ENTRIES];
  size_t n;
  return parse_spec(spec, entries, &n, e);
}

/* ---- the set ---- */

sc_device *sc__devset_add(sc_devset *s, const char *driver) {
  if (s->n == s->cap) {
    s->cap = s->cap ? s->cap * 2 : 8;
    s->devs = sc_xrealloc(s->devs, s->cap * sizeof *s->devs);
  }
  sc_device *d = &s->devs[s->n];
  memset(d, 0, sizeof *d);
  d->index = (int)s->n;
  d->util_pct = -1;
  sc_strlcpy(d->driver, driver, sizeof d->driver);
  s->n++;
  return d;
}

void sc__devset_backend(sc_devset *s, const sc_devops *ops, void *state, size_t first) {
  if (s->nbe == s->capbe) {
    s->capbe = s->capbe ? s->capbe * 2 : 4;
    s->be = sc_xrealloc(s->be, s->capbe * sizeof *s->be);
  }
  s->be[s->nbe++] = (sc_devbackend){.ops = ops, .state = state, .first = first, .count = s->n - first};
}

void sc__devset_note(sc_devset *s, const char *fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  s->notes = sc_xrealloc(s->notes, (s->nnotes + 1) * sizeof *s->notes);
  s->notes[s->nnotes++] = sc_xstrdup(buf);
}

void *sc__devices_dlopen(sc_devset *s, const char *driver, const char *env, const char *def, const char **path) {
  const char *v = getenv(env);
  *path = v && *v ? v : def;
  void *lib = dlopen(*path, RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char *why = dlerror();
    sc__devset_note(s, "%s: not present (%s)", driver, why ? why : *path);
  }
  return lib;
}

uint64_t sc__mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

uint64_t sc_devices_seed(const char *name) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (const unsigned char *p = (const unsigned char *)(name ? name : ""); *p; p++) {
    h ^= *p;
    h *= 0x100000001b3ULL;
  }
  return h;
}

int sc_devices_open(const char *spec, uint64_t seed, sc_devset **out, sc_err *e) {
  spec_entry entries[SPEC_MAX_ENTRIES];
  size_t n;
  *out = NULL;
  int rc = parse_spec(spec, entries, &n, e);
  if (rc) return rc;
  sc_devset *s = sc_xcalloc(1, sizeof *s);
  s->seed = seed;
  size_t accel = 0; /* devices found by nvml/dcmi/efml */
  for (size_t i = 0; i < n && rc == 0; i++) {
    size_t before = s->n;
    switch (entries[i].kind) {
    case ENT_NVML: rc = sc__nvml_open(s, e); break;
    case ENT_DCMI: rc = sc__dcmi_open(s, e); break;
    case ENT_EFML: rc = sc__efml_open(s, e); break;
    case ENT_CPU: rc = sc__cpu_open(s, e); break;
    case ENT_AUTO_CPU:
      if (accel == 0) rc = sc__cpu_open(s, e);
      else sc__devset_note(s, "cpu: skipped (auto found %zu accelerator%s)", accel, accel == 1 ? "" : "s");
      break;
    case ENT_SIM: {
      /* Devices of this chip made by earlier sim entries keep their ordinals. */
      int ordinal = 0;
      for (size_t j = 0; j < i; j++)
        if (entries[j].kind == ENT_SIM && entries[j].chip == entries[i].chip) ordinal += entries[j].count;
      rc = sc__sim_open(s, entries[i].chip, entries[i].count, ordinal, e);
      break;
    }
    }
    if (entries[i].kind == ENT_NVML || entries[i].kind == ENT_DCMI || entries[i].kind == ENT_EFML)
      accel += s->n - before;
  }
  if (rc) {
    sc_devices_close(s);
    return rc;
  }
  *out = s;
  return 0;
}

size_t sc_devset_count(const sc_devset *set) { return set ? set->n : 0; }

const sc_device *sc_devset_get(const sc_devset *set, size_t i) {
  return set && i < set->n ? &set->devs[i] : NULL;
}

const char *sc_devset_note(const sc_devset *set, size_t i) {
  return set && i < set->nnotes ? set->notes[i] : NULL;
}

int sc_devices_refresh(sc_devset *set, int64_t now_ms) {
  if (!set) return 0;
  for (size_t b = 0; b < set->nbe; b++) {
    sc_devbackend *be = &set->be[b];
    if (be->count && be->ops->refresh) be->ops->refresh(be->state, set->devs + be->first, be->count, now_ms);
  }
  return 0;
}

int sc_devices_sim_set_health(sc_devset *set, size_t i, sc_health h) {
  if (!set || i >= set->n) return SC_EINVAL;
  for (size_t b = 0; b < set->nbe; b++) {
    sc_devbackend *be = &set->be[b];
    if (i >= be->first && i < be->first + be->count) {
      if (!be->ops->set_health) return SC_EINVAL;
      be->ops->set_health(be->state, i - be->first, h);
      if (h != SC_HEALTH_UNKNOWN) set->devs[i].health = h;
      return 0;
    }
  }
  return SC_EINVAL;
}

void sc_devices_close(sc_devset *set) {
  if (!set) return;
  /* Close in reverse order of opening. */
  for (size_t b = set->nbe; b-- > 0;)
    if (set->be[b].ops->close) set->be[b].ops->close(set->be[b].state);
  for (size_t i = 0; i < set->nnotes; i++) free(set->notes[i]);
  free(set->notes);
  free(set->be);
  free(set->devs);
  free(set);
}

/* ---- health names ---- */

static const char *const health_names[] = {"unknown", "ok", "degraded", "failed"};

const char *sc_health_name(sc_health h) {
  return (unsigned)h < sizeof health_names / sizeof health_names[0] ? health_names[h] : "unknown";
}

int sc_health_parse(const char *s, sc_health *out) {
  for (size_t i = 0; s && i < sizeof health_names / sizeof health_names[0]; i++)
    if (strcmp(s, health_names[i]) == 0) {
      *out = (sc_health)i;
      return 0;
    }
  return SC_EINVAL;
}

/* ---- vendor name -> catalogue key ---- */

/* A rule matches when the name has every `need` token and none of the `deny` tokens. Tokens are
 * the upper-cased words of the name split at spaces, '-', '_', '/', '(', ')' and ','. A need token
 * ending in '*' matches as a prefix. */
typedef struct {
  const char *vendor;
  const char *key;
  const char *need[3];
  const char *deny[4];
} map_rule;

static const map_rule map_rules[] = {
    /* "NVIDIA H100 80GB HBM3" is the SXM5 board; PCIe and NVL boards are other chips. */
    {"nvidia", "H100-SXM-80GB", {"H100"}, {"PCIE", "NVL", "94GB", "96GB"}},
    {"nvidia", "H800-80GB", {"H800"}, {"PCIE"}},
    {"nvidia", "H20-96GB", {"H20"}, {"141GB"}},
    {"nvidia", "A100-SXM-80GB", {"A100", "80GB"}, {"PCIE"}},
    {"nvidia", "L40S-48GB", {"L40S"}, {0}},
    {"nvidia", "L20-48GB", {"L20"}, {0}},
    {"nvidia", "RTX4090-24GB", {"RTX", "4090"}, {"D"}},
    /* 910B1/B2/B3 carry 64 GB of HBM; the 910B4 has 32 GB. */
    {"huawei", "Ascend-910B-64GB", {"910B*"}, {"910B4"}},
    {"enflame", "Enflame-i20-16GB", {"I20"}, {0}},
};

#define MAX_TOKENS 16

static size_t tokenize(const char *name, char tok[][32]) {
  size_t n = 0, len = 0;
  for (const char *p = name;; p++) {
    char c = *p;
    bool sep = !c || c == ' ' || c == '-' || c == '_' || c == '/' || c == '(' || c == ')' || c == ',';
    if (!sep) {
      if (len < 31 && n < MAX_TOKENS) tok[n][len++] = (char)toupper((unsigned char)c);
      continue;
    }
    if (len && n < MAX_TOKENS) {
      tok[n][len] = 0;
      n++;
    }
    len = 0;
    if (!c) break;
  }
  return n;
}

static bool has_token(char tok[][32], size_t n, const char *want) {
  size_t wl = strlen(want);
  bool prefix = wl && want[wl - 1] == '*';
  for (size_t i = 0; i < n; i++) {
    if (prefix ? strncmp(tok[i], want, wl - 1) == 0 : strcmp(tok[i], want) == 0) return true;
  }
  return false;
}

const char *sc_devices_map_chip(const char *vendor, const char *name) {
  if (!vendor || !name) return NULL;
  char tok[MAX_TOKENS][32];
  size_t n = tokenize(name, tok);
  for (size_t r = 0; r < sizeof map_rules / sizeof map_rules[0]; r++) {
    const map_rule *m = &map_rules[r];
    if (strcasecmp(m->vendor, vendor) != 0) continue;
    bool ok = true;
    for (size_t k = 0; ok && k < 3 && m->need[k]; k++) ok = has_token(tok, n, m->need[k]);
    for (size_t k = 0; ok && k < 4 && m->deny[k]; k++) ok = !has_token(tok, n, m->deny[k]);
    if (ok) return m->key;
  }
  return NULL;
}

void sc__devices_set_chip(sc_device *d, const char *vendor, const char *raw_name) {
  sc_strlcpy(d->vendor, vendor, sizeof d->vendor);
  sc_strlcpy(d->name, raw_name, sizeof d->name);
  const char *key = sc_devices_map_chip(vendor, raw_name);
  /* Prefer the catalogue's spelling when the operator's catalogue has the key. */
  const sc_chip *c = key ? sc_chips_find(sc_chips_global(), key) : NULL;
  sc_strlcpy(d->chip, c ? c->key : key ? key : raw_name, sizeof d->chip);
}
