/* cmd_agent.c — `suanchi agent`: flags for the node agent. */
#include <stdio.h>

#include "agent/agent.h"
#include "base/flags.h"
#include "base/log.h"
#include "cli/commands.h"

int sc_cmd_agent(int argc, char **argv) {
  sc_agent_opts o = {.server = "http://127.0.0.1:7700", .devices = "auto", .state_dir = "./suanchi-agent",
                     .heartbeat_s = 5, .threads = 4, .tunnels = 16};
  const char *level = "info";
  sc_flag flags[] = {
      {.name = "server", .type = SC_FLAG_STR, .out = &o.server, .help = "control plane URL (default http://127.0.0.1:7700)"},
      {.name = "join", .type = SC_FLAG_STR, .out = &o.join, .help = "join token (only needed the first time)"},
      {.name = "region", .type = SC_FLAG_STR, .out = &o.region, .help = "region this node is in"},
      {.name = "devices", .type = SC_FLAG_STR, .out = &o.devices, .help = "device SPEC: auto, cpu, nvml, dcmi, efml, sim:CHIP:COUNT,... (default auto)"},
      {.name = "state", .type = SC_FLAG_STR, .out = &o.state_dir, .help = "state dir for the node credential (default ./suanchi-agent)"},
      {.name = "name", .type = SC_FLAG_STR, .out = &o.name, .help = "node name (default: host name)"},
      {.name = "heartbeat", .type = SC_FLAG_DURATION, .out = &o.heartbeat_s, .help = "heartbeat interval (default 5s)"},
      {.name = "simulate-nodes", .type = SC_FLAG_I64, .out = &o.simulate_nodes, .min = 1, .max = 100000, .help = "run N virtual nodes in this process (scale tests)"},
      {.name = "threads", .type = SC_FLAG_I64, .out = &o.threads, .min = 1, .max = 64, .help = "threads for --simulate-nodes (default 4)"},
      {.name = "run-for", .type = SC_FLAG_DURATION, .out = &o.run_for_s, .help = "stop after this long and print heartbeat statistics as JSON"},
      {.name = "advertise", .type = SC_FLAG_STR, .out = &o.advertise, .help = "host the gateway reaches this node's engines at (default 127.0.0.1)"},
      {.name = "tunnel", .type = SC_FLAG_BOOL, .out = &o.tunnel, .help = "behind NAT: serve the engines through connections the agent dials to the server (no inbound ports)"},
      {.name = "tunnels", .type = SC_FLAG_I64, .out = &o.tunnels, .min = 1, .max = 1024, .help = "tunnel connections per replica: requests in flight to one replica at most (default 16)"},
      {.name = "log-level", .type = SC_FLAG_STR, .out = &level, .help = "debug|info|warn|error (default info)"},
      {0}};
  sc_args args;
  sc_err e;
  if (sc_flags_parse(flags, argc, argv, &args, &e) || args.npos) {
    fprintf(stderr, "suanchi agent: %s\n", args.npos ? "unexpected argument" : e.msg);
    return 2;
  }
  if (args.help) {
    printf("usage: suanchi agent --server URL --join TOKEN --region R --devices SPEC --state DIR [flags]\n");
    sc_flags_usage(stdout, flags);
    return 0;
  }
  sc_log_level lvl;
  if (sc_log_parse_level(level, &lvl)) {
    fprintf(stderr, "suanchi agent: --log-level '%s' is not debug|info|warn|error\n", level);
    return 2;
  }
  sc_log_set_level(lvl);
  if (sc_agent_run(&o, &e)) {
    fprintf(stderr, "suanchi agent: %s\n", e.msg);
    return 1;
  }
  return 0;
}
