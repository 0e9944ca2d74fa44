/*
 * cmd_gateway.c — CLI verbs of the gateway: tenants, API keys, usage, external endpoints.
 * Each is a thin call of the admin API (docs/api.md, "Gateway administration").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/http.h>

#include "base/util.h"
#include "cli/cli.h"
#include "cli/commands.h"

static const char *str(const json_t *o, const char *k) {
  const char *s = json_string_value(json_object_get(o, k));
  return s && s[0] ? s : "-";
}

static const char *num(const json_t *o, const char *k, char *buf, size_t cap) {
  snprintf(buf, cap, "%lld", (long long)json_integer_value(json_object_get(o, k)));
  return buf;
}

/* ---------- tenants ---------- */

static void tenant_added(const json_t *o) {
  printf("tenant %s added", str(o, "name"));
  if (strcmp(str(o, "home_region"), "-") != 0) printf(" (home region %s)", str(o, "home_region"));
  printf("\n");
}

static void tenants_table(const json_t *r) {
  cli_table *t = cli_table_new(4, "NAME", "HOME_REGION", "KEYS", "CREATED");
  size_t i;
  json_t *o;
  json_array_foreach(r, i, o) {
    char keys[24], cr[32];
    cli_table_row(t, str(o, "name"), str(o, "home_region"), num(o, "keys", keys, sizeof keys),
                  cli_time(json_integer_value(json_object_get(o, "created_at")), cr, sizeof cr));
  }
  cli_table_print(t);
}

int sc_cmd_tenant(int argc, char **argv) {
  cli_common c = {0};
  const char *region = NULL;
  sc_flag flags[] = {CLI_COMMON_FLAGS(&c),
                     {.name = "region", .type = SC_FLAG_STR, .out = &region, .help = "home region: requests prefer replicas there"},
                     {0}};
  CLI_PARSE("tenant", "suanchi tenant add NAME [--region R]", 2, 2);
  if (strcmp(args.pos[0], "add") != 0) {
    fprintf(stderr, "suanchi tenant: unknown verb '%s' (expected: add)\n", args.pos[0]);
    return 2;
  }
  json_t *body = json_pack("{s:s}", "name", args.pos[1]);
  if (region) json_object_set_new(body, "home_region", json_string(region));
  json_t *r;
  int rc = cli_call("tenant", &c, "POST", "/api/v1/tenants", body, &r);
  json_decref(body);
  return rc ? rc : cli_emit(&c, r, tenant_added);
}

int sc_cmd_tenants(int argc, char **argv) {
  cli_common c = {0};
  sc_flag flags[] = {CLI_COMMON_FLAGS(&c), {0}};
  CLI_PARSE("tenants", "suanchi tenants [--json]", 0, 0);
  json_t *r;
  int rc = cli_call("tenants", &c, "GET", "/api/v1/tenants", NULL, &r);
  return rc ? rc : cli_emit(&c, r, tenants_table);
}

/* ---------- keys ---------- */

static void key_created(const json_t *o) {
  puts(str(o, "key"));
  fflush(stdout);
  char rpm[24] = "unlimited", tpm[24] = "unlimited";
  if (json_integer_value(json_object_get(o, "rpm"))) num(o, "rpm", rpm, sizeof rpm);
  if (json_integer_value(json_object_get(o, "tpm"))) num(o, "tpm", tpm, sizeof tpm);
  fprintf(stderr, "API key %s for tenant %s (rpm %s, tpm %s, home region %s). It is shown only once.\n", str(o, "id"),
          str(o, "tenant"), rpm, tpm, str(o, "region"));
}

static void keys_table(const json_t *r) {
  cli_table *t = cli_table_new(7, "ID", "TENANT", "RPM", "TPM", "REGION", "STATUS", "CREATED");
  size_t i;
  json_t *o;
  json_array_foreach(r, i, o) {
    char rpm[24], tpm[24], cr[32];
    cli_table_row(t, str(o, "id"), str(o, "tenant"),
                  json_integer_value(json_object_get(o, "rpm")) ? num(o, "rpm", rpm, sizeof rpm) : "-",
                  json_integer_value(json_object_get(o, "tpm")) ? num(o, "tpm", tpm, sizeof tpm) : "-", str(o, "region"),
                  str(o, "status"), cli_time(json_integer_value(json_object_get(o, "created_at")), cr, sizeof cr));
  }
  cli_table_print(t);
}

static void key_revoked(const json_t *o) { printf("API key %s revoked\n", str(o, "id")); }

int sc_cmd_key(int argc, char **argv) {
  cli_common c = {0};
  const char *tenant = NULL, *region = NULL;
  int64_t rpm = 0, tpm = 0;
  sc_flag flags[] = {CLI_COMMON_FLAGS(&c),
                     {.name = "tenant", .type = SC_FLAG_STR, .out = &tenant, .help = "tenant the key belongs to"},
                     {.name = "rpm", .type = SC_FLAG_I64, .out = &rpm, .min = 1, .max = 1000000000,
                      .help = "requests per minute (default unlimited)"},
                     {.name = "tpm", .type = SC_FLAG_I64, .out = &tpm, .min = 1, .max = 1000000000000LL,
                      .help = "tokens per minute, prompt + completion (default unlimited)"},
                     {.name = "region", .type = SC_FLAG_STR, .out = &region, .help = "home region (default: the tenant's)"},
                     {0}};
  const char *usage = "suanchi key create --tenant T [--rpm N] [--tpm N] [--region R] | key revoke ID";
  CLI_PARSE("key", usage, 1, 2);
  const char *verb = args.pos[0];
  json_t *r;
  int rc;
  if (strcmp(verb, "create") == 0 && args.npos == 1) {
    if (!tenant) {
      fprintf(stderr, "suanchi key create: --tenant is required\nusage: %s\n", usage);
      return 2;
    }
    json_t *body = json_pack("{s:s,s:I,s:I}", "tenant", tenant, "rpm", (json_int_t)rpm, "tpm", (json_int_t)tpm);
    if (region) json_object_set_new(body, "region", json_string(region));
    rc = cli_call("key create", &c, "POST", "/api/v1/keys", body, &r);
    json_decref(body);
    return rc ? rc : cli_emit(&c, r, key_created);
  }
  if (strcmp(verb, "revoke") == 0 && args.npos == 2) {
    char path[256];
    snprintf(path, sizeof path, "/api/v1/keys/%s", args.pos[1]);
    rc = cli_call("key revoke", &c, "DELETE", path, NULL, &r);
    return rc ? rc : cli_emit(&c, r, key_revoked);
  }
  fprintf(stderr, "suanchi key: bad verb or arguments\nusage: %s\n", usage);
  return 2;
}

int sc_cmd_keys(int argc, char **argv) {
  cli_common c = {0};
  const char *tenant = NULL;
  sc_flag flags[] = {CLI_COMMON_FLAGS(&c),
                     {.name = "tenant", .type = SC_FLAG_STR, .out = &tenant, .help = "only this tenant's keys"},
                     {0}};
  CLI_PARSE("keys", "suanchi keys [--tenant T] [--json]", 0, 0);
  char path[256] = "/api/v1/keys";
  if (tenant) {
    char *q = evhttp_encode_uri(tenant);
    snprintf(path, sizeof path, "/api/v1/keys?tenant=%s", q);
    free(q);
  }
  json_t *r;
  int rc = cli_call("keys", &c, "GET", path, NULL, &r);
  return rc ? rc : cli_emit(&c, r, keys_table);
}

/* ---------- usage ---------- */

static void usage_table(const json_t *r) {
  const char *by = str(r, "by");
  char head[32];
  snprintf(head, sizeof head, "%s", by);
  for (char *p = head; *p; p++)
    if (*p >= 'a' && *p <= 'z') *p = (char)(*p - 'a' + 'A');
  cli_table *t = cli_table_new(6, head, "REQUESTS", "PROMPT_TOKENS", "COMPLETION_TOKENS", "TOTAL_TOKENS", "FAILED");
  size_t i;
  json_t *o;
  json_array_foreach(json_object_get(r, "rows"), i, o) {
    char a[24], b[24], c2[24], d[24], f[24];
    cli_table_row(t, str(o, "group"), num(o, "requests", a, sizeof a), num(o, "prompt_tokens", b, sizeof b),
                  num(o, "completion_tokens", c2, sizeof c2), num(o, "total_tokens", d, sizeof d),
                  num(o, "failed", f, sizeof f));
  }
  cli_table_print(t);
}

/* "2026-11-25" (UTC midnight) or a duration back from now ("24h", "7d") -> epoch ms; -1 if neither. */
static int64_t parse_when(const char *s) {
  int y, m, d;
  char tail;
  if (sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) == 3 && m >= 1 && m <= 12 && d >= 1 && d <= 31 && y >= 1970) {
    struct tm tm = {.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d};
    return (int64_t)timegm(&tm) * 1000;
  }
  int64_t sec;
  if (sc_parse_duration(s, &sec) == 0) return sc_wall_ms() - sec * 1000;
  return -1;
}

int sc_cmd_usage(int argc, char **argv) {
  cli_common c = {0};
  const char *tenant = NULL, *by = "tenant", *since = NULL, *until = NULL;
  sc_flag flags[] = {CLI_COMMON_FLAGS(&c),
                     {.name = "tenant", .type = SC_FLAG_STR, .out = &tenant, .help = "only this tenant's requests"},
                     {.name = "by", .type = SC_FLAG_STR, .out = &by,
                      .help = "group by tenant (default), model, day, region, chip, owner, key or status"},
                     {.name = "since", .type = SC_FLAG_STR, .out = &since,
                      .help = "from this UTC date (2026-11-01) or this long ago (24h, 7d)"},
                     {.name = "until", .type = SC_FLAG_STR, .out = &until, .help = "before this UTC date or this long ago"},
                     {0}};
  CLI_PARSE("usage", "suanchi usage [--tenant T] [--by model|day|region|chip|owner] [--since WHEN] [--until WHEN] [--json]",
        0, 0);
  int64_t since_ms = 0, until_ms = 0;
  if ((since && (since_ms = parse_when(since)) < 0) || (until && (until_ms = parse_when(until)) < 0)) {
    fprintf(stderr, "suanchi usage: --%s '%s' is neither a UTC date (2026-11-01) nor a duration (24h, 7d)\n",
            since && since_ms < 0 ? "since" : "until", since && since_ms < 0 ? since : until);
    return 2;
  }
  static const char *const bys[] = {"tenant", "model", "day", "region", "chip", "owner", "key", "status"};
  bool ok = false;
  for (size_t i = 0; i < sizeof bys / sizeof bys[0]; i++) ok |= strcmp(by, bys[i]) == 0;
  if (!ok) {
    fprintf(stderr, "suanchi usage: --by '%s' is not one of tenant, model, day, region, chip, owner, key, status\n", by);
    return 2;
  }
  char path[512];
  int n = snprintf(path, sizeof path, "/api/v1/usage?by=%s", by);
  if (tenant) {
    char *q = evhttp_encode_uri(tenant);
    n += snprintf(path + n, sizeof path - (size_t)n, "&tenant=%s", q);
    free(q);
  }
  if (since) n += snprintf(path + n, sizeof path - (size_t)n, "&since=%lld", (long long)since_ms);
  if (until) snprintf(path + n, sizeof path - (size_t)n, "&until=%lld", (long long)until_ms);
  json_t *r;
  int rc = cli_call("usage", &c, "GET", path, NULL, &r);
  return rc ? rc : cli_emit(&c, r, usage_table);
}

/* ---------- external endpoints ---------- */

static void endpoint_done(const json_t *o) {
  printf("endpoint %s: model %s at %s\n", str(o, "name"), str(o, "model"), str(o, "url"));
}

static void endpoint_removed(const json_t *o) { printf("endpoint %s removed\n", str(o, "name")); }

static void endpoints_table(const json_t *r) {
  cli_table *t = cli_table_new(6, "NAME", "MODEL", "URL", "REGION", "CHIP", "UPSTREAM_MODEL");
  size_t i;
  json_t *o;
  json_array_foreach(r, i, o) {
    cli_table_row(t, str(o, "name"), str(o, "model"), str(o, "url"), str(o, "region"), str(o, "chip"),
                  str(o, "upstream_model"));
  }
  cli_table_print(t);
}

int sc_cmd_endpoint(int argc, char **argv) {
  cli_common c = {0};
  const char *model = NULL, *url = NULL, *region = NULL, *chip = NULL, *upstream = NULL;
  sc_flag flags[] = {CLI_COMMON_FLAGS(&c),
                     {.name = "model", .type = SC_FLAG_STR, .out = &model, .help = "model name clients ask for"},
                     {.name = "url", .type = SC_FLAG_STR, .out = &url, .help = "engine base URL, http://HOST:PORT"},
                     {.name = "region", .type = SC_FLAG_STR, .out = &region, .help = "region the engine runs in"},
                     {.name = "chip", .type = SC_FLAG_STR, .out = &chip, .help = "chip it runs on (for usage reports)"},
                     {.name = "upstream-model", .type = SC_FLAG_STR, .out = &upstream,
                      .help = "model name the engine expects (default: the same as --model)"},
                     {0}};
  const char *usage = "suanchi endpoint add NAME --model M --url URL [--region R] [--chip C] [--upstream-model U] | "
                      "endpoint remove NAME";
  CLI_PARSE("endpoint", usage, 2, 2);
  json_t *r;
  int rc;
  if (strcmp(args.pos[0], "add") == 0) {
    if (!model || !url) {
      fprintf(stderr, "suanchi endpoint add: --model and --url are required\nusage: %s\n", usage);
      return 2;
    }
    json_t *body = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "name", args.pos[1], "model", model, "url", url, "region",
                             region ? region : "", "chip", chip ? chip : "", "upstream_model", upstream ? upstream : "");
    rc = cli_call("endpoint add", &c, "PUT", "/api/v1/endpoints", body, &r);
    json_decref(body);
    return rc ? rc : cli_emit(&c, r, endpoint_done);
  }
  if (strcmp(args.pos[0], "remove") == 0) {
    char path[256];
    snprintf(path, sizeof path, "/api/v1/endpoints/%s", args.pos[1]);
    rc = cli_call("endpoint remove", &c, "DELETE", path, NULL, &r);
    return rc ? rc : cli_emit(&c, r, endpoint_removed);
  }
  fprintf(stderr, "suanchi endpoint: unknown verb '%s'\nusage: %s\n", args.pos[0], usage);
  return 2;
}

int sc_cmd_endpoints(int argc, char **argv) {
  cli_common c = {0};
  sc_flag flags[] = {CLI_COMMON_FLAGS(&c), {0}};
  CLI_PARSE("endpoints", "suanchi endpoints [--json]", 0, 0);
  json_t *r;
  int rc = cli_call("endpoints", &c, "GET", "/api/v1/endpoints", NULL, &r);
  return rc ? rc : cli_emit(&c, r, endpoints_table);
}
