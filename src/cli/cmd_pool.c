/*
 * cmd_pool.c — CLI verbs for the pool: regions, owners, join tokens, nodes, devices.
 * Each verb is a thin call of the REST API (docs/api.md) plus a table or JSON printer.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "cli/cli.h"
#include "cli/commands.h"

/* ---------- regions ---------- */

static void regions_table(const json_t *r) {
  cli_table *t = cli_table_new(4, "NAME", "LAT", "LON", "NODES");
  size_t i;
  json_t *o;
  json_array_foreach(r, i, o) {
    char lat[32] = "", lon[32] = "", nodes[16];
    if (json_object_get(o, "lat")) {
      snprintf(lat, sizeof lat, "%.4f", json_number_value(json_object_get(o, "lat")));
      snprintf(lon, sizeof lon, "%.4f", json_number_value(json_object_get(o, "lon")));
    }
    snprintf(nodes, sizeof nodes, "%lld", (long long)json_integer_value(json_object_get(o, "nodes")));
    cli_table_row(t, json_string_value(json_object_get(o, "name")), lat, lon, nodes);
  }
  cli_table_print(t);
}

static void one_region(const json_t *o) {
  printf("region %s added\n", json_string_value(json_object_get(o, "name")));
}

int sc_cmd_region(int argc, char **argv) {
  cli_common c = {0};
  double lat = NAN, lon = NAN;
  sc_flag flags[] = {CLI_COMMON_FLAGS(&c),
                     {.name = "lat", .type = SC_FLAG_DOUBLE, .out = &lat, .dmin = -90, .dmax = 90, .help = "latitude"},
                     {.name = "lon", .type = SC_FLAG_DOUBLE, .out = &lon, .dmin = -180, .dmax = 180, .help = "longitude"},
                     {0}};
  CLI_PARSE("region", "suanchi region add NAME [--lat DEG --lon DEG]", 2, 2);
  if (strcmp(args.pos[0], "add") != 0) {
    fprintf(stderr, "suanchi region: unknown verb '%s' (expected: add)\n", args.pos[0]);
    return 2;
  }
  if (isnan(lat) != isnan(lon)) {
    fprintf(stderr, "suanchi region: give both --lat and --lon, or neither\n");
    return 2;
  }
  json_t *body = json_pack("{s:s}", "name", args.pos[1]);
  if (!isnan(lat)) {
    json_object_set_new(body, "lat", json_real(lat));
    json_object_set_new(body, "lon", json_real(lon));
  }
  json_t *r;
  int rc = cli_call("region", &c, "POST", "/api/v1/regions", body, &r);
  json_decref(body);
  return rc ? rc : cli_emit(&c, r, one_region);
}

int sc_cmd_regions(int argc, char **argv) {
  cli_common c = {0};
  sc_flag flags[] = {CLI_COMMON_FLAGS(&c), {0}};
  CLI_PARSE("regions", "suanchi regions [--json]", 0, 0);
  json_t *r;
  int rc = cli_call("regions", &c, "GET", "/api/v1/regions", NULL, &r);
  return rc ? rc : cli_emit(&c, r, regions_table);
}

/* ---------- owners ---------- */

static void owners_table(const json_t *r) {
  cli_table *t = cli_table_new(3, "NAME", "KIND", "SHARE");
  size_t i;
  json_t *o;
  json_array_foreach(r, i, o) {
    char share[32];
    snprintf(share, sizeof share, "%.2f%%", json_integer_value(json_object_get(o, "share_bp")) / 100.0);
    cli_table_row(t, json_string_value(json_object_get(o, "name")), json_string_value(json_object_get(o, "kind")),
                  strcmp(json_string_value(json_object_get(o, "kind")), "pool") == 0 ? share : "-");
  }
  cli_table_print(t);
}

static void one_owner(const json_t *o) {
  printf("owner %s added (%s", json_string_value(json_object_get(o, "name")),
         json_string_value(json_object_get(o, "kind")));
  if (strcmp(json_string_value(json_object_get(o, "kind")), "pool") == 0)
    printf(", revenue share %.2f%%", json_integer_value(json_object_get(o, "share_bp")) / 100.0);
  printf(")\n");
}

int sc_cmd_owner(int argc, char **argv) {
  cli_common c = {0};
  bool pool = false;
  double share = NAN;
  sc_flag flags[] = {CLI_COMMON_FLAGS(&c),
                     {.name = "pool", .type = SC_FLAG_BOOL, .out = &pool, .help = "an open-pool owner (third party)"},
                     {.name = "share", .type = SC_FLAG_DOUBLE, .out = &share, .dmin = 0, .dmax = 100,
                      .help = "pool owner's revenue share in percent (stored as basis points)"},
                     {0}};
  CLI_PARSE("owner", "suanchi owner add NAME [--pool --share PCT]", 2, 2);
  if (strcmp(args.pos[0], "add") != 0) {
    fprintf(stderr, "suanchi owner: unknown verb '%s' (expected: add)\n", args.pos[0]);
    return 2;
  }
  if (pool && isnan(share)) {
    fprintf(stderr, "suanchi owner: a pool owner needs --share PCT (its revenue share)\n");
    return 2;
  }
  if (!pool && !isnan(share)) {
    fprintf(stderr, "suanchi owner: --share applies to pool owners only (add --pool)\n");
    return 2;
  }
  json_t *body = json_pack("{s:s,s:s}", "name", args.pos[1], "kind", pool ? "pool" : "self");
  if (pool) json_object_set_new(body, "share_bp", json_integer((json_int_t)llround(share * 100)));
  json_t *r;
  int rc = cli_call("owner", &c, "POST", "/api/v1/owners", body, &r);
  json_decref(body);
  return rc ? rc : cli_emit(&c, r, one_owner);
}

int sc_cmd_owners(int argc, char **argv) {
  cli_common c = {0};
  sc_flag flags[] = {CLI_COMMON_FLAGS(&c), {0}};
  CLI_PARSE("owners", "suanchi owners [--json]", 0, 0);
  json_t *r;
  int rc = cli_call("owners", &c, "GET", "/api/v1/owners", NULL, &r);
  return rc ? rc : cli_emit(&c, r, owners_table);
}

/* ---------- join tokens ---------- */

static void tokens_table(const json_t *r) {
  cli_table *t = cli_table_new(7, "ID", "OWNER", "REGION", "USES", "EXPIRES", "STATUS", "CREATED");
  size_t i;
  json_t *o;
  json_array_foreach(r, i, o) {
    char uses[48], exp[32], cr[32];
    snprintf(uses, sizeof uses, "%lld/%lld", (long long)json_integer_value(json_object_get(o, "uses")),
             (long long)json_integer_value(json_object_get(o, "max_uses")));
    cli_table_row(t, json_string_value(json_object_get(o, "id")), json_string_value(json_object_get(o, "owner")),
                  json_string_value(json_object_get(o, "region")), uses,
                  cli_time(json_integer_value(json_object_get(o, "expires_at")), exp, sizeof exp),
                  json_string_value(json_object_get(o, "status")),
                  cli_time(json_integer_value(json_object_get(o, "created_at")), cr, sizeof cr));
  }
  cli_table_print(t);
}

static void token_created(const json_t *o) {
  char exp[32];
  puts(json_string_value(json_object_get(o, "token")));
  fflush(stdout);
  fprintf(stderr, "join token %s for owner %s%s%s: %lld use(s), expires %s UTC. It is shown only once.\n",
          json_string_value(json_object_get(o, "id")), json_string_value(json_object_get(o, "owner")),
          json_is_string(json_object_get(o, "region")) ? " in region " : "",
          json_is_string(json_object_get(o, "region")) ? json_string_value(json_object_get(o, "region")) : "",
          (long long)json_integer_value(json_object_get(o, "max_uses")),
          cli_time(json_integer_value(json_object_get(o, "expires_at")), exp, sizeof exp));
}

static void token_revoked(const json_t *o) { printf("join token %s revoked\n", json_string_value(json_object_get(o, "id"))); }

int sc_cmd_token(int argc, char **argv) {
  cli_common c = {0};
  const char *owner = NULL, *region = NULL;
  int64_t ttl = 86400, uses = 1;
  sc_flag flags[] = {CLI_COMMON_FLAGS(&c),
                     {.name = "owner", .type = SC_FLAG_STR, .out = &owner, .help = "owner the joining nodes belong to"},
                     {.name = "region", .type = SC_FLAG_STR, .out = &region, .help = "only nodes of this region may join"},
                     {.name = "ttl", .type = SC_FLAG_DURATION, .out = &ttl, .help = "lifetime (default 24h)"},
                     {.name = "uses", .type = SC_FLAG_I64, .out = &uses, .min = 1, .max = 1000000,
                      .help = "how many nodes may join with it (default 1)"},
                     {0}};
  const char *usage = "suanchi token create --owner NAME [--region R] [--ttl 24h] [--uses N] | token list | token revoke ID";
  CLI_PARSE("token", usage, 1, 2);
  const char *verb = args.pos[0];
  json_t *r;
  int rc;
  if (strcmp(verb, "create") == 0) {
    if (args.npos != 1 || !owner) {
      fprintf(stderr, "suanchi token create: %s\nusage: %s\n", owner ? "too many arguments" : "--owner is required", usage);
      return 2;
    }
    if (ttl > 366LL * 86400) {
      fprintf(stderr, "suanchi token create: --ttl must be at most 366d\n");
      return 2;
    }
    json_t *body = json_pack("{s:s,s:I,s:I}", "owner", owner, "ttl_s", (json_int_t)ttl, "uses", (json_int_t)uses);
    if (region) json_object_set_new(body, "region", json_string(region));
    rc = cli_call("token create", &c, "POST", "/api/v1/tokens", body, &r);
    json_decref(body);
    return rc ? rc : cli_emit(&c, r, token_created);
  }
  if (strcmp(verb, "list") == 0 && args.npos == 1) {
    rc = cli_call("token list", &c, "GET", "/api/v1/tokens", NULL, &r);
    return rc ? rc : cli_emit(&c, r, tokens_table);
  }
  if (strcmp(verb, "revoke") == 0 && args.npos == 2) {
    char path[256];
    snprintf(path, sizeof path, "/api/v1/tokens/%s", args.pos[1]);
    rc = cli_call("token revoke", &c, "DELETE", path, NULL, &r);
    return rc ? rc : cli_emit(&c, r, token_revoked);
  }
  fprintf(stderr, "suanchi token: bad verb or arguments\nusage: %s\n", usage);
  return 2;
}

/* ---------- nodes and devices ---------- */

static void nodes_table(const json_t *r) {
  cli_table *t = cli_table_new(8, "ID", "NAME", "REGION", "OWNER", "STATE", "DEVICES", "MEMORY", "HEARTBEAT");
  size_t i;
  json_t *o;
  json_array_foreach(r, i, o) {
    json_t *devs = json_object_get(o, "devices");
    char dsum[256] = "", mem[32], age[32];
    int64_t mib = 0;
    /* summarise devices as "8x H100-SXM-80GB" groups */
    size_t j = 0, n = json_array_size(devs);
    size_t used = 0;
    while (j < n) {
      const char *chip = json_string_value(json_object_get(json_array_get(devs, j), "chip"));
      size_t k = j;
      while (k < n && strcmp(json_string_value(json_object_get(json_array_get(devs, k), "chip")), chip) == 0) k++;
      int w = snprintf(dsum + used, sizeof dsum - used, "%s%zux %s", used ? ", " : "", k - j, chip);
      if (w > 0 && (size_t)w < sizeof dsum - used) used += (size_t)w;
      j = k;
    }
    for (j = 0; j < n; j++) mib += json_integer_value(json_object_get(json_array_get(devs, j), "memory_mib"));
    snprintf(mem, sizeof mem, "%.0f GiB", (double)mib / 1024.0);
    cli_table_row(t, json_string_value(json_object_get(o, "id")), json_string_value(json_object_get(o, "name")),
                  json_string_value(json_object_get(o, "region")),
                  json_string_value(json_object_get(o, "owner")), json_string_value(json_object_get(o, "state")),
                  dsum, mem, cli_age(json_integer_value(json_object_get(o, "last_heartbeat")), age, sizeof age));
  }
  cli_table_print(t);
}

int sc_cmd_nodes(int argc, char **argv) {
  cli_common c = {0};
  const char *region = NULL, *owner = NULL, *state = NULL;
  sc_flag flags[] = {CLI_COMMON_FLAGS(&c),
                     {.name = "region", .type = SC_FLAG_STR, .out = &region, .help = "only this region"},
                     {.name = "owner", .type = SC_FLAG_STR, .out = &owner, .help = "only this owner"},
                     {.name = "state", .type = SC_FLAG_STR, .out = &state, .help = "ready|down|cordoned|draining"},
                     {0}};
  CLI_PARSE("nodes", "suanchi nodes [--region R] [--owner O] [--state S] [--json]", 0, 0);
  char path[512];
  size_t used = (size_t)snprintf(path, sizeof path, "/api/v1/nodes?");
  const char *keys[] = {"region", "owner", "state"};
  const char *vals[] = {region, owner, state};
  for (int i = 0; i < 3; i++) {
    if (!vals[i]) continue;
    for (const char *p = vals[i]; *p; p++)
      if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' ||
            *p == '_' || *p == '.')) {
        fprintf(stderr, "suanchi nodes: --%s '%s' has characters a name cannot have\n", keys[i], vals[i]);
        return 2;
      }
    used += (size_t)snprintf(path + used, sizeof path - used, "%s=%s&", keys[i], vals[i]);
    if (used >= sizeof path) {
      fprintf(stderr, "suanchi nodes: filters too long\n");
      return 2;
    }
  }
  json_t *r;
  int rc = cli_call("nodes", &c, "GET", path, NULL, &r);
  return rc ? rc : cli_emit(&c, r, nodes_table);
}

static void devices_table(const json_t *r) {
  cli_table *t = cli_table_new(9, "NODE", "IDX", "VENDOR", "CHIP", "MEMORY", "USED", "UTIL", "HEALTH", "REGION");
  size_t i;
  json_t *o;
  json_array_foreach(r, i, o) {
    char idx[16], mem[32], used[32], util[16];
    snprintf(idx, sizeof idx, "%lld", (long long)json_integer_value(json_object_get(o, "index")));
    snprintf(mem, sizeof mem, "%lld MiB", (long long)json_integer_value(json_object_get(o, "memory_mib")));
    snprintf(used, sizeof used, "%lld MiB", (long long)json_integer_value(json_object_get(o, "memory_used_mib")));
    snprintf(util, sizeof util, "%lld%%", (long long)json_integer_value(json_object_get(o, "utilization_pct")));
    cli_table_row(t, json_string_value(json_object_get(o, "node")), idx, json_string_value(json_object_get(o, "vendor")),
                  json_string_value(json_object_get(o, "chip")), mem, used, util,
                  json_string_value(json_object_get(o, "health")), json_string_value(json_object_get(o, "region")));
  }
  cli_table_print(t);
}

int sc_cmd_devices(int argc, char **argv) {
  cli_common c = {0};
  sc_flag flags[] = {CLI_COMMON_FLAGS(&c), {0}};
  CLI_PARSE("devices", "suanchi devices [--json]", 0, 0);
  json_t *r;
  int rc = cli_call("devices", &c, "GET", "/api/v1/devices", NULL, &r);
  return rc ? rc : cli_emit(&c, r, devices_table);
}

static void node_done(const json_t *o) {
  if (json_is_true(json_object_get(o, "deleted")))
    printf("node %s (%s) deleted; its credential no longer works\n", json_string_value(json_object_get(o, "name")),
           json_string_value(json_object_get(o, "id")));
  else
    printf("node %s (%s) is %s\n", json_string_value(json_object_get(o, "name")),
           json_string_value(json_object_get(o, "id")), json_string_value(json_object_get(o, "state")));
}

int sc_cmd_node(int argc, char **argv) {
  cli_common c = {0};
  sc_flag flags[] = {CLI_COMMON_FLAGS(&c), {0}};
  const char *usage = "suanchi node cordon|uncordon|drain|delete|show ID";
  CLI_PARSE("node", usage, 2, 2);
  const char *verb = args.pos[0], *id = args.pos[1];
  char path[256];
  const char *method;
  if (strcmp(verb, "delete") == 0) {
    method = "DELETE";
    snprintf(path, sizeof path, "/api/v1/nodes/%s", id);
  } else if (strcmp(verb, "show") == 0) {
    method = "GET";
    snprintf(path, sizeof path, "/api/v1/nodes/%s", id);
  } else if (strcmp(verb, "cordon") == 0 || strcmp(verb, "uncordon") == 0 || strcmp(verb, "drain") == 0) {
    method = "POST";
    snprintf(path, sizeof path, "/api/v1/nodes/%s/%s", id, verb);
  } else {
    fprintf(stderr, "suanchi node: unknown verb '%s'\nusage: %s\n", verb, usage);
    return 2;
  }
  if (strchr(id, '/') || strchr(id, '?') || strchr(id, '%')) {
    fprintf(stderr, "suanchi node: '%s' is not a node id or name\n", id);
    return 2;
  }
  json_t *r;
  int rc = cli_call("node", &c, method, path, NULL, &r);
  if (rc) return rc;
  if (strcmp(verb, "show") == 0 && !c.json) {
    cli_print_json(r);
    json_decref(r);
    return 0;
  }
  return cli_emit(&c, r, node_done);
}

/* ---------- placement ---------- */

static void place_table(const json_t *o) {
  if (json_is_true(json_object_get(o, "placed"))) {
    json_t *devs = json_object_get(o, "devices");
    char dl[128] = "";
    size_t used = 0, i;
    json_t *d;
    json_array_foreach(devs, i, d) {
      int w = snprintf(dl + used, sizeof dl - used, "%s%lld", i ? "," : "", (long long)json_integer_value(d));
      if (w > 0 && (size_t)w < sizeof dl - used) used += (size_t)w;
    }
    printf("would place on %s (%s, region %s, owner %s): %s devices [%s] at %lld milli each, score %.2f\n",
           json_string_value(json_object_get(o, "node")), json_string_value(json_object_get(o, "node_id")),
           json_string_value(json_object_get(o, "region")), json_string_value(json_object_get(o, "owner")),
           json_string_value(json_object_get(o, "chip")), dl,
           (long long)json_integer_value(json_object_get(o, "gpu_milli")),
           json_number_value(json_object_get(o, "score")));
  } else {
    printf("cannot place now%s\n", json_is_true(json_object_get(o, "never")) ? " (and never could)" : "");
  }
  printf("policy %s, %lld feasible nodes\n", json_string_value(json_object_get(o, "policy")),
         (long long)json_integer_value(json_object_get(o, "feasible_nodes")));
  cli_table *t = cli_table_new(3, "CANDIDATE", "NODE_ID", "SCORE");
  size_t i;
  json_t *c;
  json_array_foreach(json_object_get(o, "candidates"), i, c) {
    char sc[32];
    snprintf(sc, sizeof sc, "%.3f", json_number_value(json_object_get(c, "score")));
    cli_table_row(t, json_string_value(json_object_get(c, "node")), json_string_value(json_object_get(c, "node_id")), sc);
  }
  cli_table_print(t);
  const char *why = json_string_value(json_object_get(o, "why"));
  if (why && *why) printf("rejected: %s\n", why);
}

int sc_cmd_place(int argc, char **argv) {
  cli_common c = {0};
  bool dry = false, strict = false, pool_ok = false, pool_only = false;
  int64_t gpus = 0, milli = 1000, cpu = 0, mem = 0;
  double gpu_mem_gib = 0, min_dev_gib = 0;
  const char *chips = NULL, *region = NULL, *policy = NULL;
  sc_flag flags[] = {CLI_COMMON_FLAGS(&c),
                     {.name = "dry-run", .type = SC_FLAG_BOOL, .out = &dry, .help = "show where it would go (required)"},
                     {.name = "gpus", .type = SC_FLAG_I64, .out = &gpus, .min = 0, .max = 8, .help = "devices (0 = CPU only)"},
                     {.name = "gpu-milli", .type = SC_FLAG_I64, .out = &milli, .min = 1, .max = 1000, .help = "compute share per device (1000 = whole)"},
                     {.name = "gpu-mem", .type = SC_FLAG_DOUBLE, .out = &gpu_mem_gib, .dmin = 0, .dmax = 1 << 20, .help = "device memory per device in GiB"},
                     {.name = "min-device-mem", .type = SC_FLAG_DOUBLE, .out = &min_dev_gib, .dmin = 0, .dmax = 1 << 20, .help = "only devices with at least this many GiB"},
                     {.name = "cpu", .type = SC_FLAG_I64, .out = &cpu, .min = 0, .max = INT64_C(1) << 30, .help = "CPU milli-cores"},
                     {.name = "mem", .type = SC_FLAG_I64, .out = &mem, .min = 0, .max = INT64_C(1) << 30, .help = "host memory MiB"},
                     {.name = "chips", .type = SC_FLAG_STR, .out = &chips, .help = "allowed chips or vendors, '|'-separated"},
                     {.name = "region", .type = SC_FLAG_STR, .out = &region, .help = "preferred region"},
                     {.name = "strict-region", .type = SC_FLAG_BOOL, .out = &strict, .help = "only that region"},
                     {.name = "pool-ok", .type = SC_FLAG_BOOL, .out = &pool_ok, .help = "open-pool nodes allowed"},
                     {.name = "pool-only", .type = SC_FLAG_BOOL, .out = &pool_only, .help = "only open-pool nodes"},
                     {.name = "policy", .type = SC_FLAG_STR, .out = &policy, .help = "placement policy (default suanchi)"},
                     {0}};
  CLI_PARSE("place", "suanchi place --dry-run [--gpus N] [--gpu-milli M] [--gpu-mem GiB] [--chips LIST] [--region R] ...", 0, 0);
  if (!dry) {
    fprintf(stderr, "suanchi place: only --dry-run is supported (deployments place their own replicas)\n");
    return 2;
  }
  if (strict && !region) {
    fprintf(stderr, "suanchi place: --strict-region needs --region\n");
    return 2;
  }
  json_t *body = json_pack("{s:b,s:I,s:I,s:I,s:I,s:I,s:I,s:b,s:b,s:b}", "dry_run", 1, "gpus", (json_int_t)gpus,
                           "gpu_milli", (json_int_t)milli, "gpu_mem_mib", (json_int_t)(gpu_mem_gib * 1024),
                           "min_device_mem_mib", (json_int_t)(min_dev_gib * 1024), "cpu_milli", (json_int_t)cpu,
                           "mem_mib", (json_int_t)mem, "region_strict", strict, "pool_ok", pool_ok, "pool_only",
                           pool_only);
  if (chips) json_object_set_new(body, "chips", json_string(chips));
  if (region) json_object_set_new(body, "region", json_string(region));
  if (policy) json_object_set_new(body, "policy", json_string(policy));
  json_t *r;
  int rc = cli_call("place", &c, "POST", "/api/v1/place", body, &r);
  json_decref(body);
  if (rc) return rc;
  int placed = json_is_true(json_object_get(r, "placed"));
  cli_emit(&c, r, place_table);
  return placed ? 0 : 1;
}
