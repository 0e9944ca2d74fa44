/*
 * cmd_engine.c — `suanchi engine`: serves a GGUF model (--model FILE) or simulates a chip of the
 * catalogue (--simulate CHIP) behind the OpenAI-compatible HTTP front (server.h).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/flags.h"
#include "base/log.h"
#include "base/util.h"
#include "chips/chips.h"
#include "cli/commands.h"
#include "engine/chat_template.h"
#include "engine/cpu_engine.h"
#include "engine/gguf.h"
#include "engine/model_codec.h"
#include "engine/server.h"
#include "engine/sim.h"

static void usage(FILE *f, const sc_flag *flags) {
  fprintf(f, "usage: suanchi engine --model FILE [--listen HOST:PORT] [--threads N] [--ctx N] [--parallel N]\n"
             "                      [--chat-template NAME]\n"
             "       suanchi engine --simulate CHIP --sim-params 7e9 [--sim-dtype bf16|fp8|int4] [--sim-speed X]\n"
             "       suanchi engine --sim-table [--sim-params 8e9]\n\n");
  sc_flags_usage(f, flags);
}

/* Prints the calibration table (model vs catalogue) for every chip, as markdown. */
static int print_sim_table(double params, const char *dtype) {
  const sc_chips *cat = sc_chips_global();
  printf("| chip | decode b1 model | catalogue | decode b32 model | catalogue | prefill model | catalogue |\n");
  printf("|---|---:|---:|---:|---:|---:|---:|\n");
  for (size_t i = 0; i < sc_chips_count(cat); i++) {
    const sc_chip *c = sc_chips_at(cat, i);
    sc_sim_model m;
    sc_err e;
    if (sc_sim_model_init(&m, c, params, dtype, &e)) {
      printf("| %s | %s | | | | | |\n", c->key, e.msg);
      continue;
    }
    double b1 = sc_sim_decode_tok_s(&m, 1, 1024), b32 = sc_sim_decode_tok_s(&m, 32, 1024);
    double pf = sc_sim_prefill_tok_s(&m, 2048);
    char r1[32] = "", r32[32] = "", rp[32] = "";
    if (c->decode_tok_s_7b_b1 > 0) snprintf(r1, sizeof r1, "%.0f (%+.0f%%)", c->decode_tok_s_7b_b1,
                                            100 * (b1 / c->decode_tok_s_7b_b1 - 1));
    if (c->decode_tok_s_7b_b32 > 0) snprintf(r32, sizeof r32, "%.0f (%+.0f%%)", c->decode_tok_s_7b_b32,
                                             100 * (b32 / c->decode_tok_s_7b_b32 - 1));
    if (c->prefill_tok_s_7b > 0) snprintf(rp, sizeof rp, "%.0f (%+.0f%%)", c->prefill_tok_s_7b,
                                          100 * (pf / c->prefill_tok_s_7b - 1));
    printf("| %s | %.0f | %s | %.0f | %s | %.0f | %s |\n", c->key, b1, r1, b32, r32, pf, rp);
  }
  return 0;
}

/* Opens a GGUF model: tokenizer and chat template first (cheap, and a template problem should not
 * wait for the weights), then the CPU engine. The served name is the file's base name without
 * ".gguf". On error everything opened is released. */
static int open_model(const char *path, const char *chat_template, int64_t threads, int64_t ctx, int64_t parallel,
                      sc_engine **eng, sc_tokenizer **tok, sc_codec *codec, char *name, size_t cap, sc_err *e) {
  sc_gguf *g = NULL;
  int rc = sc_gguf_open(path, &g, e);
  if (rc) {
    char msg[sizeof e->msg];
    snprintf(msg, sizeof msg, "%s", e->msg);
    if (!strstr(msg, path)) sc_err_set(e, rc, e->code, "%s: %s", path, msg);
    return rc;
  }
  rc = sc_tokenizer_from_gguf(g, tok, e);
  sc_gguf_close(g);
  if (rc) return rc;
  if ((rc = sc_model_codec_init(codec, *tok, chat_template, e))) goto fail;
  sc_cpu_engine_opts o = {.threads = (int)threads, .n_ctx = (int)ctx, .parallel = (int)parallel};
  if ((rc = sc_cpu_engine_create(path, &o, eng, e))) {
    sc_model_codec_fini(codec);
    goto fail;
  }
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  size_t n = strlen(base);
  if (n > 5 && strcmp(base + n - 5, ".gguf") == 0) n -= 5;
  if (n >= cap) n = cap - 1;
  memcpy(name, base, n);
  name[n] = 0;
  sc_info("engine", "model %s: context %d tokens, vocabulary %d, chat template %s", path, (*eng)->n_ctx,
          (*eng)->n_vocab, chat_template ? chat_template : "detected");
  return 0;
fail:
  sc_tokenizer_destroy(*tok);
  *tok = NULL;
  return rc;
}

int sc_cmd_engine(int argc, char **argv) {
  const char *model = NULL, *simulate = NULL, *sim_params = NULL, *sim_dtype = NULL, *listen = "127.0.0.1:8000";
  const char *port_file = NULL, *chat_template = NULL, *model_name = NULL, *chips_file = NULL, *log_level = NULL;
  int64_t threads = 0, ctx = 0, parallel = 0, max_body = 8 << 20, sim_batch = 0;
  double sim_speed = 1.0, sim_eff_bw = 0, sim_eff_fl = 0;
  bool sim_table = false;
  sc_flag flags[] = {
      {.name = "model", .type = SC_FLAG_STR, .out = &model, .help = "GGUF model file to serve"},
      {.name = "simulate", .type = SC_FLAG_STR, .out = &simulate, .help = "serve a simulated CHIP of the catalogue"},
      {.name = "sim-params", .type = SC_FLAG_STR, .out = &sim_params, .help = "simulated model size: 7e9, 7B, 0.5B"},
      {.name = "sim-dtype", .type = SC_FLAG_STR, .out = &sim_dtype, .help = "simulated weights: bf16 (default), fp8, int8, int4"},
      {.name = "sim-speed", .type = SC_FLAG_DOUBLE, .out = &sim_speed, .help = "wall seconds per simulated second (1; 0 = answer at once)",
       .dmin = 0, .dmax = 1000},
      {.name = "sim-eff-bw", .type = SC_FLAG_DOUBLE, .out = &sim_eff_bw,
       .help = "bandwidth efficiency (default 0.75 NVIDIA, 0.55 others)", .dmin = 0.01, .dmax = 1},
      {.name = "sim-eff-fl", .type = SC_FLAG_DOUBLE, .out = &sim_eff_fl, .help = "FLOP/s efficiency (default 0.5)",
       .dmin = 0.01, .dmax = 1},
      {.name = "sim-max-batch", .type = SC_FLAG_I64, .out = &sim_batch, .help = "simulated max running batch (256)",
       .min = 1, .max = 65536},
      {.name = "sim-table", .type = SC_FLAG_BOOL, .out = &sim_table, .help = "print the model-vs-catalogue table and exit"},
      {.name = "listen", .type = SC_FLAG_STR, .out = &listen, .help = "HOST:PORT to serve on (127.0.0.1:8000; port 0 = any)"},
      {.name = "port-file", .type = SC_FLAG_STR, .out = &port_file, .help = "write the bound HOST:PORT to this file"},
      {.name = "model-name", .type = SC_FLAG_STR, .out = &model_name, .help = "model id clients use (default: file or chip name)"},
      {.name = "threads", .type = SC_FLAG_I64, .out = &threads, .help = "CPU threads (default: all cores)", .min = 1, .max = 1024},
      {.name = "ctx", .type = SC_FLAG_I64, .out = &ctx, .help = "context length in tokens (default: model's, 4096 simulated)",
       .min = 16, .max = 1 << 20},
      {.name = "parallel", .type = SC_FLAG_I64, .out = &parallel, .help = "max sequences in a batch", .min = 1, .max = 4096},
      {.name = "chat-template", .type = SC_FLAG_STR, .out = &chat_template, .help = "chatml, llama2 or llama3 (default: detected)"},
      {.name = "max-body", .type = SC_FLAG_I64, .out = &max_body, .help = "request body cap in bytes (8 MiB)",
       .min = 1024, .max = 1 << 30},
      {.name = "chips", .type = SC_FLAG_STR, .out = &chips_file, .help = "extra chip catalogue CSV"},
      {.name = "log-level", .type = SC_FLAG_STR, .out = &log_level, .help = "debug, info (default), warn, error"},
      {0}};
  sc_args args;
  sc_err e = {0};
  const char *env_speed = getenv("SUANCHI_SIM_SPEED"); /* the default, for an agent's simulated replicas */
  if (env_speed && sc_parse_double(env_speed, 0, 1000, &sim_speed)) {
    fprintf(stderr, "suanchi engine: SUANCHI_SIM_SPEED='%s' is not a number from 0 to 1000\n", env_speed);
    return 2;
  }
  if (sc_flags_parse(flags, argc, argv, &args, &e) || args.npos) {
    fprintf(stderr, "suanchi engine: %s\n", args.npos ? "takes no positional arguments" : e.msg);
    return 2;
  }
  if (args.help) {
    usage(stdout, flags);
    return 0;
  }
  if (log_level) {
    sc_log_level lvl;
    if (sc_log_parse_level(log_level, &lvl)) {
      fprintf(stderr, "suanchi engine: --log-level: '%s' is not debug, info, warn or error\n", log_level);
      return 2;
    }
    sc_log_set_level(lvl);
  }
  if (chips_file && sc_chips_global_extend(chips_file, &e)) {
    fprintf(stderr, "suanchi engine: %s\n", e.msg);
    return 1;
  }
  double params = 0;
  if (sim_params && sc_sim_parse_params(sim_params, &params, &e)) {
    fprintf(stderr, "suanchi engine: %s\n", e.msg);
    return 2;
  }
  if (sim_table) return print_sim_table(sim_params ? params : 8e9, sim_dtype);
  if (!!model == !!simulate) {
    fprintf(stderr, "suanchi engine: give exactly one of --model FILE or --simulate CHIP\n");
    usage(stderr, flags);
    return 2;
  }
  sc_engine *eng = NULL;
  const sc_codec *codec = NULL;
  sc_codec mcodec = {0};
  sc_tokenizer *tok = NULL;
  char name[256];
  int rc = 0;
  if (simulate) {
    if (!sim_params) {
      fprintf(stderr, "suanchi engine: --simulate needs --sim-params (e.g. 7e9, 7B)\n");
      return 2;
    }
    const sc_chip *chip = sc_chips_find(sc_chips_global(), simulate);
    if (!chip) {
      fprintf(stderr, "suanchi engine: --simulate: no chip '%s' in the catalogue (see 'suanchi chips')\n", simulate);
      return 2;
    }
    sc_sim_config sc = {.chip = chip,
                        .params = params,
                        .dtype = sim_dtype,
                        .n_ctx = (int)ctx,
                        .max_batch = (int)(sim_batch ? sim_batch : parallel),
                        .time_scale = sim_speed,
                        .eff_bw = sim_eff_bw,
                        .eff_fl = sim_eff_fl};
    if ((rc = sc_sim_engine_create(&sc, &eng, &e))) {
      fprintf(stderr, "suanchi engine: %s\n", e.msg);
      return 1;
    }
    codec = &sc_sim_codec;
    const sc_sim_model *m = sc_sim_engine_model(eng);
    snprintf(name, sizeof name, "sim-%s-%s", chip->key, sim_params);
    sc_info("engine", "simulating %s: %.3gB parameters, %.1f GB of weights, KV %.0f KiB/token, capacity %lld tokens, "
                      "max batch %d, eff_bw %.2f, eff_fl %.2f, time x%g",
            chip->key, params / 1e9, m->weight_bytes / 1e9, m->kv_bytes_per_token / 1024,
            (long long)m->kv_capacity_tokens, m->max_batch, m->eff_bw, m->eff_fl, sim_speed);
  } else {
    sc_chat_template ct;
    if (chat_template && sc_chat_template_by_name(chat_template, &ct, &e)) {
      fprintf(stderr, "suanchi engine: --chat-template: %s\n", e.msg);
      return 2;
    }
    if ((rc = open_model(model, chat_template, threads, ctx, parallel, &eng, &tok, &mcodec, name, sizeof name, &e))) {
      fprintf(stderr, "suanchi engine: %s\n", e.msg);
      return 1;
    }
    codec = &mcodec;
  }
  /* The id goes into every JSON answer: it must be valid UTF-8 (a file name need not be). */
  json_t *id = json_string(model_name ? model_name : name);
  if (!id || !json_string_length(id)) {
    fprintf(stderr, "suanchi engine: the model id '%s' must be non-empty, valid UTF-8 text (see --model-name)\n",
            model_name ? model_name : name);
    json_decref(id);
    eng->ops->destroy(eng);
    if (codec == &mcodec) sc_model_codec_fini(&mcodec);
    sc_tokenizer_destroy(tok);
    return 2;
  }
  json_decref(id);
  sc_engine_server_config cfg = {.listen = listen,
                                 .port_file = port_file,
                                 .model_name = model_name ? model_name : name,
                                 .max_body = (size_t)max_body};
  rc = sc_engine_serve(eng, codec, &cfg, &e);
  eng->ops->destroy(eng);
  if (codec == &mcodec) sc_model_codec_fini(&mcodec);
  sc_tokenizer_destroy(tok);
  if (rc) {
    fprintf(stderr, "suanchi engine: %s\n", e.msg);
    return 1;
  }
  return 0;
}
