/*
 * cmd_discover.c — `suanchi discover [--devices SPEC] [--name N] [--json]`: prints the devices
 * found on this host, for operators checking a node before it joins the pool. Opens the spec,
 * waits --sample-ms so CPU load has two samples, refreshes once, prints a table (probe notes go
 * to stderr) or a JSON array. Exit 0 with devices, 1 when none were found, 2 on a usage error.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "base/flags.h"
#include "base/util.h"
#include "cli/commands.h"
#include "devices/devices.h"

static json_t *device_json(const sc_device *d) {
  return json_pack("{s:i,s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:i,s:i,s:s}", "index", d->index, "driver", d->driver, "vendor",
                   d->vendor, "chip", d->chip, "name", d->name, "uuid", d->uuid, "memory_mib",
                   (json_int_t)d->memory_total_mib, "memory_used_mib", (json_int_t)d->memory_used_mib, "util_pct",
                   d->util_pct, "compute_units", d->compute_units, "health", sc_health_name(d->health));
}

int sc_cmd_discover(int argc, char **argv) {
  const char *spec = "auto", *name = NULL;
  bool as_json = false;
  int64_t sample_ms = 200;
  sc_flag flags[] = {
      {.name = "devices", .type = SC_FLAG_STR, .out = &spec, .help = "device spec (default auto): auto, nvml, dcmi, efml, cpu, sim:CHIP:COUNT, comma-separated"},
      {.name = "name", .type = SC_FLAG_STR, .out = &name, .help = "node name that seeds simulated uuids (default: host name)"},
      {.name = "sample-ms", .type = SC_FLAG_I64, .out = &sample_ms, .min = 0, .max = 10000, .help = "wait between the two load samples (default 200)"},
      {.name = "json", .type = SC_FLAG_BOOL, .out = &as_json, .help = "print JSON"},
      {0}};
  sc_args args;
  sc_err e;
  if (sc_flags_parse(flags, argc, argv, &args, &e) || args.npos) {
    fprintf(stderr, "suanchi discover: %s\n", args.npos ? "takes no arguments" : e.msg);
    return 2;
  }
  if (args.help) {
    printf("usage: suanchi discover [--devices SPEC] [--name N] [--sample-ms MS] [--json]\n");
    sc_flags_usage(stdout, flags);
    return 0;
  }
  if (sc_devices_spec_check(spec, &e)) {
    fprintf(stderr, "suanchi discover: %s\n", e.msg);
    return 2;
  }
  char host[256] = "";
  if (!name) {
    if (gethostname(host, sizeof host - 1) != 0) host[0] = 0;
    name = host;
  }
  sc_devset *set = NULL;
  if (sc_devices_open(spec, sc_devices_seed(name), &set, &e)) {
    fprintf(stderr, "suanchi discover: %s\n", e.msg);
    return 1;
  }
  if (sample_ms > 0) {
    struct timespec ts = {(time_t)(sample_ms / 1000), (long)(sample_ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
  }
  sc_devices_refresh(set, sc_wall_ms());
  size_t n = sc_devset_count(set);
  if (!as_json)
    for (size_t i = 0; sc_devset_note(set, i); i++) fprintf(stderr, "discover: %s\n", sc_devset_note(set, i));
  if (as_json) {
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(arr, device_json(sc_devset_get(set, i)));
    char *s = json_dumps(arr, JSON_INDENT(2));
    puts(s);
    free(s);
    json_decref(arr);
  } else if (n) {
    printf("%-5s %-6s %-8s %-18s %9s %9s %5s %6s %-9s %s\n", "INDEX", "DRIVER", "VENDOR", "CHIP", "MEM_MIB", "USED_MIB",
           "UTIL%", "UNITS", "HEALTH", "UUID");
    for (size_t i = 0; i < n; i++) {
      const sc_device *d = sc_devset_get(set, i);
      char util[16];
      if (d->util_pct >= 0) snprintf(util, sizeof util, "%d", d->util_pct);
      else snprintf(util, sizeof util, "-");
      printf("%-5d %-6s %-8s %-18s %9llu %9llu %5s %6d %-9s %s\n", d->index, d->driver, d->vendor, d->chip,
             (unsigned long long)d->memory_total_mib, (unsigned long long)d->memory_used_mib, util, d->compute_units,
             sc_health_name(d->health), d->uuid);
    }
  }
  int rc = 0;
  if (n == 0) {
    fprintf(stderr, "suanchi discover: no devices found for spec '%s'\n", spec);
    rc = 1;
  }
  sc_devices_close(set);
  return rc;
}
