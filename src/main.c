/*
 * main.c — suanchi's single binary: dispatches the subcommand to its module. Nothing else.
 */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"

typedef struct {
  const char *name;
  int (*fn)(int argc, char **argv);
  const char *help;
} command;

static const command commands[] = {
    /* pool */
    {"serve", sc_cmd_serve, "run the control plane (REST API, store, metrics)"},
    {"agent", sc_cmd_agent, "run the node agent: discover devices, join, heartbeat"},
    {"region", sc_cmd_region, "add a region: region add NAME [--lat --lon]"},
    {"regions", sc_cmd_regions, "list regions"},
    {"owner", sc_cmd_owner, "add an owner: owner add NAME [--pool --share PCT]"},
    {"owners", sc_cmd_owners, "list owners"},
    {"token", sc_cmd_token, "join tokens: token create|list|revoke"},
    {"node", sc_cmd_node, "node cordon|uncordon|drain|delete|show ID"},
    {"nodes", sc_cmd_nodes, "list nodes"},
    {"devices", sc_cmd_devices, "list devices"},
    {"discover", sc_cmd_discover, "show the devices found on this host"},
    {"chips", sc_cmd_chips, "show the chip catalogue"},
    /* placement */
    {"place", sc_cmd_place, "place --dry-run: where a request would go, top candidates, rejections"},
    {"sched-bench", sc_cmd_sched_bench, "replay the Alibaba GPU traces under each placement policy"},
    /* engine */
    {"model", sc_cmd_model, "synthesize and benchmark GGUF models"},
    {"tokenize", sc_cmd_tokenize, "show how a model's tokenizer splits text"},
    {"engine", sc_cmd_engine, "serve a GGUF model or a simulated chip (OpenAI API)"},
    /* serving */
    {"models", sc_cmd_models, "list models (add them with 'model add')"},
    {"deploy", sc_cmd_deploy, "deploy NAME --model M [--replicas N] ...: serve a model"},
    {"deployments", sc_cmd_deployments, "list deployments"},
    {"replicas", sc_cmd_replicas, "list replicas and their states"},
    {"undeploy", sc_cmd_undeploy, "remove a deployment"},
    {"tenant", sc_cmd_tenant, "add a tenant: tenant add NAME [--region R]"},
    {"tenants", sc_cmd_tenants, "list tenants"},
    {"key", sc_cmd_key, "API keys: key create --tenant T [--rpm N] [--tpm N] | key revoke ID"},
    {"keys", sc_cmd_keys, "list API keys"},
    {"usage", sc_cmd_usage, "metered usage: usage [--tenant T] [--by model|day|region|chip|owner]"},
    {"endpoint", sc_cmd_endpoint, "external engines: endpoint add NAME --model M --url URL | endpoint remove NAME"},
    {"endpoints", sc_cmd_endpoints, "list external endpoints"},
    {NULL, NULL, NULL}};

static void usage(FILE *f) {
  fprintf(f, "suanchi %s — converged AI compute pool\n\nusage: suanchi COMMAND [ARGS]\n\ncommands:\n", SC_VERSION);
  for (const command *c = commands; c->name; c++) fprintf(f, "  %-14s %s\n", c->name, c->help);
  fprintf(f, "\nRun 'suanchi COMMAND --help' for a command's flags.\n");
}

int main(int argc, char **argv) {
  if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
    printf("suanchi %s\n", SC_VERSION);
    return 0;
  }
  for (const command *c = commands; c->name; c++)
    if (strcmp(c->name, argv[1]) == 0) return c->fn(argc - 2, argv + 2);
  fprintf(stderr, "suanchi: unknown command '%s'\n", argv[1]);
  usage(stderr);
  return 2;
}
