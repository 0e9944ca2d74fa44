/* cmd_serve.c — `suanchi serve`: flags for the control plane. */
#include <stdio.h>

#include "base/flags.h"
#include "base/log.h"
#include "chips/chips.h"
#include "cli/commands.h"
#include "control/control.h"

int sc_cmd_serve(int argc, char **argv) {
  const char *data = "./suanchi-data", *listen = "127.0.0.1:7700", *chips = NULL, *level = "info";
  int64_t timeout_s = 15, interval_s = 5, max_body = 1 << 20;
  sc_flag flags[] = {
      {.name = "data", .type = SC_FLAG_STR, .out = &data, .help = "data directory (default ./suanchi-data)"},
      {.name = "listen", .type = SC_FLAG_STR, .out = &listen, .help = "HOST:PORT to listen on (default 127.0.0.1:7700; port 0 = any free port, written to DIR/serve.addr)"},
      {.name = "heartbeat-timeout", .type = SC_FLAG_DURATION, .out = &timeout_s, .help = "mark a node down after this long without a heartbeat (default 15s)"},
      {.name = "heartbeat-interval", .type = SC_FLAG_DURATION, .out = &interval_s, .help = "interval suggested to agents (default 5s)"},
      {.name = "max-body", .type = SC_FLAG_I64, .out = &max_body, .min = 1024, .max = 64 << 20, .help = "request body cap in bytes (default 1 MiB)"},
      {.name = "chips", .type = SC_FLAG_STR, .out = &chips, .help = "extra chip catalogue CSV merged over the built-in one"},
      {.name = "log-level", .type = SC_FLAG_STR, .out = &level, .help = "debug|info|warn|error (default info)"},
      {0}};
  sc_args args;
  sc_err e;
  if (sc_flags_parse(flags, argc, argv, &args, &e) || args.npos) {
    fprintf(stderr, "suanchi serve: %s\n", args.npos ? "unexpected argument" : e.msg);
    return 2;
  }
  if (args.help) {
    printf("usage: suanchi serve [--data DIR] [--listen HOST:PORT] [flags]\n");
    sc_flags_usage(stdout, flags);
    return 0;
  }
  sc_log_level lvl;
  if (sc_log_parse_level(level, &lvl)) {
    fprintf(stderr, "suanchi serve: --log-level '%s' is not debug|info|warn|error\n", level);
    return 2;
  }
  sc_log_set_level(lvl);
  if (chips && sc_chips_global_extend(chips, &e)) {
    fprintf(stderr, "suanchi serve: %s\n", e.msg);
    return 1;
  }
  sc_control_opts o = {.data_dir = data,
                       .listen = listen,
                       .heartbeat_timeout_ms = timeout_s * 1000,
                       .heartbeat_interval_s = interval_s,
                       .flush_interval_ms = 10000,
                       .max_body = (size_t)max_body};
  if (sc_control_run(&o, &e)) {
    fprintf(stderr, "suanchi serve: %s\n", e.msg);
    return 1;
  }
  return 0;
}
