/*
 * cmd_serving.c — CLI verbs for serving: model add (upload by content hash, resumable),
 * models, deploy, deployments, replicas, undeploy.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/secret.h"
#include "base/util.h"
#include "cli/cli.h"
#include "cli/commands.h"
#include "net/client.h"

#define CHUNK (8u << 20)

/* Uploads path in chunks, resuming where the server's copy ends. */
static int upload(const cli_common *c, const char *path, const char *sha, int64_t size) {
  char p[256];
  snprintf(p, sizeof p, "/api/v1/blobs/%s", sha);
  json_t *r;
  if (cli_call("model add", c, "GET", p, NULL, &r)) return 1;
  int64_t off = json_integer_value(json_object_get(r, "received"));
  bool complete = json_is_true(json_object_get(r, "complete"));
  json_decref(r);
  if (complete) return 0;
  if (off > size) off = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fprintf(stderr, "suanchi model add: %s: %s\n", path, strerror(errno)), 1;
  char *buf = sc_xmalloc(CHUNK);
  int rc = 0;
  bool tty = !c->json && isatty(2); /* progress only for people watching */
  while (off < size) {
    ssize_t n = pread(fd, buf, CHUNK, off);
    if (n <= 0) {
      fprintf(stderr, "suanchi model add: read error on %s\n", path);
      rc = 1;
      break;
    }
    char q[320];
    snprintf(q, sizeof q, "/api/v1/blobs/%s?offset=%lld", sha, (long long)off);
    json_t *rep = NULL;
    long status = 0;
    if (cli_put_raw("model add", c, q, buf, (size_t)n, &status, &rep)) {
      rc = 1;
      break;
    }
    if (status == 409) { /* someone else moved it on: resume from the server's count */
      off = json_integer_value(json_object_get(rep, "received"));
      json_decref(rep);
      continue;
    }
    json_decref(rep);
    if (status != 200) {
      fprintf(stderr, "suanchi model add: upload failed (HTTP %ld)\n", status);
      rc = 1;
      break;
    }
    off += n;
    if (tty) fprintf(stderr, "\ruploaded %lld / %lld MiB", (long long)(off >> 20), (long long)(size >> 20));
  }
  if (tty) fprintf(stderr, "\n");
  free(buf);
  close(fd);
  return rc;
}

static void one_model(const json_t *o) {
  printf("model %s added (%s", json_string_value(json_object_get(o, "name")), json_string_value(json_object_get(o, "kind")));
  if (strcmp(json_string_value(json_object_get(o, "kind")), "gguf") == 0)
    printf(", %s, %.2f B parameters, sha256 %.12s…", json_string_value(json_object_get(o, "arch")),
           (double)json_integer_value(json_object_get(o, "params")) / 1e9, json_string_value(json_object_get(o, "sha256")));
  else
    printf(", engine %s, %.1f GiB of weights", json_string_value(json_object_get(o, "engine")),
           (double)json_integer_value(json_object_get(o, "weights_bytes")) / (1 << 30));
  printf(")\n");
}

int sc_cli_model_add(int argc, char **argv) {
  cli_common c = {0};
  const char *gguf = NULL, *engine = NULL;
  double wgib = 0, params_b = 0;
  sc_flag flags[] = {CLI_COMMON_FLAGS(&c),
                     {.name = "gguf", .type = SC_FLAG_STR, .out = &gguf, .help = "GGUF file to upload (stored by sha256)"},
                     {.name = "engine", .type = SC_FLAG_STR, .out = &engine, .help = "external engine template: vllm, sglang, llama.cpp, mindie"},
                     {.name = "weights-gib", .type = SC_FLAG_DOUBLE, .out = &wgib, .dmin = 0.001, .dmax = 1 << 20, .help = "external model: weight size in GiB"},
                     {.name = "params-b", .type = SC_FLAG_DOUBLE, .out = &params_b, .dmin = 0.001, .dmax = 1 << 20, .help = "external model: parameters in billions (default weights/2 bytes)"},
                     {0}};
  CLI_PARSE("model add", "suanchi model add NAME (--gguf FILE | --engine TEMPLATE --weights-gib N)", 1, 1);
  if (!!gguf == !!engine) {
    fprintf(stderr, "suanchi model add: give either --gguf FILE or --engine TEMPLATE --weights-gib N\n");
    return 2;
  }
  json_t *body;
  if (gguf) {
    char sha[65];
    int64_t size = 0;
    if (sc_sha256_file(gguf, sha, &size)) return fprintf(stderr, "suanchi model add: cannot read %s: %s\n", gguf, strerror(errno)), 1;
    if (upload(&c, gguf, sha, size)) return 1;
    body = json_pack("{s:s,s:s,s:s,s:I}", "name", args.pos[0], "kind", "gguf", "sha256", sha, "size_bytes", (json_int_t)size);
  } else {
    if (wgib <= 0) return fprintf(stderr, "suanchi model add: an external model needs --weights-gib\n"), 2;
    body = json_pack("{s:s,s:s,s:s,s:I}", "name", args.pos[0], "kind", "external", "engine", engine, "weights_bytes",
                     (json_int_t)(wgib * (1 << 30)));
    if (params_b > 0) json_object_set_new(body, "params", json_integer((json_int_t)(params_b * 1e9)));
  }
  json_t *r;
  int rc = cli_call("model add", &c, "POST", "/api/v1/models", body, &r);
  json_decref(body);
  return rc ? rc : cli_emit(&c, r, one_model);
}

static void models_table(const json_t *r) {
  cli_table *t = cli_table_new(6, "NAME", "KIND", "ARCH/ENGINE", "PARAMS", "SIZE", "SHA256");
  size_t i;
  json_t *o;
  json_array_foreach(r, i, o) {
    char params[32], size[32];
    snprintf(params, sizeof params, "%.2fB", (double)json_integer_value(json_object_get(o, "params")) / 1e9);
    int64_t bytes = json_integer_value(json_object_get(o, "size_bytes"));
    if (!bytes) bytes = json_integer_value(json_object_get(o, "weights_bytes"));
    snprintf(size, sizeof size, "%.2f GiB", (double)bytes / (1 << 30));
    const char *kind = json_string_value(json_object_get(o, "kind"));
    char sha[16];
    snprintf(sha, sizeof sha, "%.12s", json_string_value(json_object_get(o, "sha256")));
    cli_table_row(t, json_string_value(json_object_get(o, "name")), kind,
                  json_string_value(json_object_get(o, strcmp(kind, "gguf") == 0 ? "arch" : "engine")), params, size, sha);
  }
  cli_table_print(t);
}

int sc_cmd_models(int argc, char **argv) {
  cli_common c = {0};
  sc_flag flags[] = {CLI_COMMON_FLAGS(&c), {0}};
  CLI_PARSE("models", "suanchi models [--json]", 0, 0);
  json_t *r;
  int rc = cli_call("models", &c, "GET", "/api/v1/models", NULL, &r);
  return rc ? rc : cli_emit(&c, r, models_table);
}

static void one_deployment(const json_t *o) {
  printf("deployment %s of %s: %lld replica(s) wanted, %lld placed", json_string_value(json_object_get(o, "name")),
         json_string_value(json_object_get(o, "model")), (long long)json_integer_value(json_object_get(o, "replicas")),
         (long long)json_integer_value(json_object_get(o, "replicas_placed")));
  const char *why = json_string_value(json_object_get(o, "why"));
  if (why && *why) printf(" (waiting: %s)", why);
  printf("\n");
}

int sc_cmd_deploy(int argc, char **argv) {
  cli_common c = {0};
  const char *model = NULL, *chips = NULL, *regions = NULL, *slice = NULL;
  int64_t replicas = 1, ttft = 0, tpot = 0;
  bool pool_ok = false;
  sc_flag flags[] = {CLI_COMMON_FLAGS(&c),
                     {.name = "model", .type = SC_FLAG_STR, .out = &model, .help = "model to serve (see 'suanchi models')", .required = true},
                     {.name = "replicas", .type = SC_FLAG_I64, .out = &replicas, .min = 0, .max = 1000, .help = "replicas (default 1)"},
                     {.name = "chips", .type = SC_FLAG_STR, .out = &chips, .help = "allowed chips or vendors, comma-separated"},
                     {.name = "regions", .type = SC_FLAG_STR, .out = &regions, .help = "allowed regions in order of preference, comma-separated"},
                     {.name = "slice", .type = SC_FLAG_STR, .out = &slice, .help = "a fraction of one device: mem=GiB,compute=PCT"},
                     {.name = "slo-ttft", .type = SC_FLAG_I64, .out = &ttft, .min = 1, .max = 3600000, .help = "time to first token bound (ms)"},
                     {.name = "slo-tpot", .type = SC_FLAG_I64, .out = &tpot, .min = 1, .max = 3600000, .help = "time per output token bound (ms)"},
                     {.name = "pool-ok", .type = SC_FLAG_BOOL, .out = &pool_ok, .help = "open-pool nodes may serve it"},
                     {0}};
  CLI_PARSE("deploy", "suanchi deploy NAME --model M [--replicas N] [--chips LIST] [--regions LIST] [--slice mem=GiB,compute=PCT] [--slo-ttft MS] [--slo-tpot MS] [--pool-ok]", 1, 1);
  json_t *body = json_pack("{s:s,s:s,s:I,s:b}", "name", args.pos[0], "model", model, "replicas", (json_int_t)replicas, "pool_ok", pool_ok);
  if (ttft) json_object_set_new(body, "slo_ttft_ms", json_integer(ttft));
  if (tpot) json_object_set_new(body, "slo_tpot_ms", json_integer(tpot));
  const char *lists[2] = {chips, regions}, *keys[2] = {"chips", "regions"};
  for (int i = 0; i < 2; i++) {
    if (!lists[i]) continue;
    char buf[256];
    if (!sc_strlcpy(buf, lists[i], sizeof buf)) return fprintf(stderr, "suanchi deploy: --%s too long\n", keys[i]), 2;
    for (char *p = buf; *p; p++)
      if (*p == ',') *p = '|';
    json_object_set_new(body, keys[i], json_string(buf));
  }
  if (slice) {
    double mem = -1, pct = -1;
    char buf[128];
    sc_strlcpy(buf, slice, sizeof buf);
    char *save = NULL;
    for (char *kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
      double v;
      if (strncmp(kv, "mem=", 4) == 0 && sc_parse_double(kv + 4, 0.001, 1 << 20, &v) == 0) mem = v;
      else if (strncmp(kv, "compute=", 8) == 0 && sc_parse_double(kv + 8, 0.1, 100, &v) == 0) pct = v;
      else {
        json_decref(body);
        return fprintf(stderr, "suanchi deploy: --slice '%s': expected mem=GiB,compute=PCT (PCT 0.1-100)\n", slice), 2;
      }
    }
    if (mem < 0 && pct < 0) {
      json_decref(body);
      return fprintf(stderr, "suanchi deploy: --slice needs mem=GiB and/or compute=PCT\n"), 2;
    }
    if (mem > 0) json_object_set_new(body, "slice_mem_mib", json_integer((json_int_t)llround(mem * 1024)));
    json_object_set_new(body, "slice_compute_milli", json_integer(pct > 0 ? (json_int_t)llround(pct * 10) : 1000));
  }
  json_t *r;
  int rc = cli_call("deploy", &c, "POST", "/api/v1/deployments", body, &r);
  json_decref(body);
  return rc ? rc : cli_emit(&c, r, one_deployment);
}

static void deployments_table(const json_t *r) {
  cli_table *t = cli_table_new(7, "NAME", "MODEL", "READY", "CHIPS", "REGIONS", "SLO", "WAITING");
  size_t i;
  json_t *o;
  json_array_foreach(r, i, o) {
    char ready[32], slo[64];
    snprintf(ready, sizeof ready, "%lld/%lld", (long long)json_integer_value(json_object_get(o, "replicas_ready")),
             (long long)json_integer_value(json_object_get(o, "replicas")));
    long long tt = json_integer_value(json_object_get(o, "slo_ttft_ms")), tp = json_integer_value(json_object_get(o, "slo_tpot_ms"));
    if (tt || tp) snprintf(slo, sizeof slo, "ttft %lldms tpot %lldms", tt, tp);
    else slo[0] = 0;
    cli_table_row(t, json_string_value(json_object_get(o, "name")), json_string_value(json_object_get(o, "model")), ready,
                  json_string_value(json_object_get(o, "chips")), json_string_value(json_object_get(o, "regions")), slo,
                  json_string_value(json_object_get(o, "why")));
  }
  cli_table_print(t);
}

int sc_cmd_deployments(int argc, char **argv) {
  cli_common c = {0};
  sc_flag flags[] = {CLI_COMMON_FLAGS(&c), {0}};
  CLI_PARSE("deployments", "suanchi deployments [--json]", 0, 0);
  json_t *r;
  int rc = cli_call("deployments", &c, "GET", "/api/v1/deployments", NULL, &r);
  return rc ? rc : cli_emit(&c, r, deployments_table);
}

static void replicas_table(const json_t *r) {
  cli_table *t = cli_table_new(8, "ID", "DEPLOYMENT", "NODE", "REGION", "DEVICES", "STATE", "RESTARTS", "ENDPOINT/REASON");
  size_t i;
  json_t *o;
  json_array_foreach(r, i, o) {
    char restarts[16];
    snprintf(restarts, sizeof restarts, "%lld", (long long)json_integer_value(json_object_get(o, "restarts")));
    const char *reason = json_string_value(json_object_get(o, "reason"));
    cli_table_row(t, json_string_value(json_object_get(o, "id")), json_string_value(json_object_get(o, "deployment")),
                  json_string_value(json_object_get(o, "node")), json_string_value(json_object_get(o, "region")),
                  json_string_value(json_object_get(o, "devices")), json_string_value(json_object_get(o, "state")), restarts,
                  reason && *reason ? reason : json_string_value(json_object_get(o, "endpoint")));
  }
  cli_table_print(t);
}

int sc_cmd_replicas(int argc, char **argv) {
  cli_common c = {0};
  sc_flag flags[] = {CLI_COMMON_FLAGS(&c), {0}};
  CLI_PARSE("replicas", "suanchi replicas [--json]", 0, 0);
  json_t *r;
  int rc = cli_call("replicas", &c, "GET", "/api/v1/replicas", NULL, &r);
  return rc ? rc : cli_emit(&c, r, replicas_table);
}

static void undeployed(const json_t *o) { printf("deployment %s removed; its replicas are stopping\n", json_string_value(json_object_get(o, "name"))); }

int sc_cmd_undeploy(int argc, char **argv) {
  cli_common c = {0};
  sc_flag flags[] = {CLI_COMMON_FLAGS(&c), {0}};
  CLI_PARSE("undeploy", "suanchi undeploy NAME", 1, 1);
  if (strchr(args.pos[0], '/') || strchr(args.pos[0], '?')) return fprintf(stderr, "suanchi undeploy: bad name\n"), 2;
  char p[256];
  snprintf(p, sizeof p, "/api/v1/deployments/%s", args.pos[0]);
  json_t *r;
  int rc = cli_call("undeploy", &c, "DELETE", p, NULL, &r);
  return rc ? rc : cli_emit(&c, r, undeployed);
}
