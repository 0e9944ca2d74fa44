/*
 * cpu.c — the host as one device, so CPU-only nodes can serve small models.
 *
 * compute_units: CPUs this process may run on (sched_getaffinity), else online CPUs (sysconf).
 * Memory: MemTotal and MemAvailable from /proc/meminfo (used = total - available), else
 * sysinfo(2). Utilisation: share of non-idle jiffies between two samples of the "cpu" line of
 * /proc/stat; the first sample is taken at open, so util is -1 (unknown) until the first
 * refresh that sees time pass. uuid: "CPU-" + /etc/machine-id (stable across reboots), else a
 * hash of the seed. Chip key CPU-x86_64 on x86-64 (the catalogue entry), CPU-<arch> elsewhere.
 */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "base/util.h"
#include "devices/internal.h"

#define PROC_CAP (1 << 20)

#if defined(__x86_64__)
#define CPU_CHIP "CPU-x86_64"
#elif defined(__aarch64__)
#define CPU_CHIP "CPU-aarch64"
#else
#define CPU_CHIP "CPU-other"
#endif

typedef struct {
  uint64_t busy, total; /* last /proc/stat sample; total 0 = none */
} cpu_state;

int sc__cpu_parse_meminfo(const char *text, uint64_t *total_kib, uint64_t *avail_kib) {
  bool got_total = false, got_avail = false;
  for (const char *p = text; p && *p;) {
    unsigned long long v;
    if (sscanf(p, "MemTotal: %llu kB", &v) == 1) {
      *total_kib = v;
      got_total = true;
    } else if (sscanf(p, "MemAvailable: %llu kB", &v) == 1) {
      *avail_kib = v;
      got_avail = true;
    }
    p = strchr(p, '\n');
    if (p) p++;
  }
  if (!got_total || !got_avail || *avail_kib > *total_kib) return SC_EFORMAT;
  return 0;
}

int sc__cpu_parse_stat(const char *text, uint64_t *busy, uint64_t *total) {
  if (!text || strncmp(text, "cpu ", 4) != 0) return SC_EFORMAT;
  unsigned long long v[10] = {0};
  int n = sscanf(text + 4, "%llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4],
                 &v[5], &v[6], &v[7], &v[8], &v[9]);
  if (n < 4) return SC_EFORMAT;
  /* user nice system idle iowait irq softirq steal guest guest_nice; guest time is already
   * counted in user and nice, so it is left out of the total. */
  uint64_t t = 0;
  for (int i = 0; i < n && i < 8; i++) t += v[i];
  uint64_t idle = v[3] + (n > 4 ? v[4] : 0);
  *total = t;
  *busy = t - idle;
  return 0;
}

int sc__cpu_util(uint64_t busy0, uint64_t total0, uint64_t busy1, uint64_t total1) {
  if (total1 <= total0 || busy1 < busy0) return -1;
  uint64_t db = busy1 - busy0, dt = total1 - total0;
  if (db > dt) db = dt;
  return (int)((db * 100 + dt / 2) / dt);
}

static int read_stat(uint64_t *busy, uint64_t *total) {
  char *buf = NULL;
  int rc = sc_read_file("/proc/stat", PROC_CAP, &buf, NULL);
  if (rc == 0) rc = sc__cpu_parse_stat(buf, busy, total);
  free(buf);
  return rc;
}

static void sample_memory(sc_device *d) {
  char *buf = NULL;
  uint64_t total = 0, avail = 0;
  if (sc_read_file("/proc/meminfo", PROC_CAP, &buf, NULL) == 0 && sc__cpu_parse_meminfo(buf, &total, &avail) == 0) {
    d->memory_total_mib = total / 1024;
    d->memory_used_mib = (total - avail) / 1024;
  } else {
    struct sysinfo si;
    if (sysinfo(&si) == 0) {
      uint64_t unit = si.mem_unit ? si.mem_unit : 1;
      uint64_t t = (uint64_t)si.totalram * unit, f = (uint64_t)(si.freeram + si.bufferram) * unit;
      d->memory_total_mib = t >> 20;
      d->memory_used_mib = f < t ? (t - f) >> 20 : 0;
    }
  }
  free(buf);
}

static void cpu_model(char *out, size_t n) {
  char *buf = NULL;
  sc_strlcpy(out, "Host CPU", n);
  if (sc_read_file("/proc/cpuinfo", 4 * PROC_CAP, &buf, NULL) == 0) {
    const char *p = strstr(buf, "model name");
    if (p && (p = strchr(p, ':'))) {
      p++;
      while (*p == ' ' || *p == '\t') p++;
      size_t len = strcspn(p, "\n");
      if (len >= n) len = n - 1;
      if (len) {
        memcpy(out, p, len);
        out[len] = 0;
      }
    }
  }
  free(buf);
}

static void cpu_uuid(char *out, size_t n, uint64_t seed) {
  char *buf = NULL;
  if (sc_read_file("/etc/machine-id", 4096, &buf, NULL) == 0 && strlen(sc_trim(buf)) >= 16) {
    snprintf(out, n, "CPU-%.40s", buf);
  } else {
    snprintf(out, n, "CPU-%016llx", (unsigned long long)sc__mix64(seed));
  }
  free(buf);
}

static int usable_cpus(void) {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    int c = CPU_COUNT(&set);
    if (c > 0) return c;
  }
  long c = sysconf(_SC_NPROCESSORS_ONLN);
  return c > 0 ? (int)c : 1;
}

static void cpu_refresh(void *state, sc_device *devs, size_t n, int64_t now_ms) {
  (void)now_ms;
  cpu_state *st = state;
  if (n < 1) return;
  sc_device *d = &devs[0];
  sample_memory(d);
  uint64_t busy, total;
  if (read_stat(&busy, &total) == 0) {
    if (st->total) {
      int u = sc__cpu_util(st->busy, st->total, busy, total);
      if (u >= 0) d->util_pct = u;
    }
    if (total > st->total) {
      st->busy = busy;
      st->total = total;
    }
  }
  d->health = SC_HEALTH_OK;
}

static void cpu_close(void *state) { free(state); }

static const sc_devops cpu_ops = {"cpu", cpu_refresh, cpu_close, NULL};

int sc__cpu_open(sc_devset *s, sc_err *e) {
  (void)e;
  cpu_state *st = sc_xcalloc(1, sizeof *st);
  size_t first = s->n;
  sc_device *d = sc__devset_add(s, "cpu");
  char model[64];
  cpu_model(model, sizeof model);
  sc_strlcpy(d->vendor, "cpu", sizeof d->vendor);
  sc_strlcpy(d->name, model, sizeof d->name);
  const sc_chip *c = sc_chips_find(sc_chips_global(), CPU_CHIP);
  sc_strlcpy(d->chip, c ? c->key : CPU_CHIP, sizeof d->chip);
  cpu_uuid(d->uuid, sizeof d->uuid, s->seed);
  d->compute_units = usable_cpus();
  d->health = SC_HEALTH_OK;
  sample_memory(d);
  if (read_stat(&st->busy, &st->total) != 0) st->total = 0;
  sc__devset_note(s, "cpu: %d cores, %llu MiB memory", d->compute_units, (unsigned long long)d->memory_total_mib);
  sc__devset_backend(s, &cpu_ops, st, first);
  return 0;
}
