/*
 * cmd_model.c — `suanchi model VERB ...`: model files.
 *   synth OUT.gguf --arch llama|qwen2 --preset tiny|0.5b [--type T] [--seed N] [--vocab FILE]
 *   bench FILE [--threads N] [--prompt N] [--gen N] [--streams LIST]   (for bench/engine.sh)
 */
#include <stdio.h>
#include <string.h>

#include "base/flags.h"
#include "base/util.h"
#include "cli/commands.h"
#include "engine/gguf.h"
#include "engine/quant.h"
#include "engine/synth.h"

int sc_model_bench_main(int argc, char **argv); /* bench.c */

static void usage(FILE *f) {
  fprintf(f,
          "usage: suanchi model add NAME (--gguf FILE | --engine TEMPLATE --weights-gib N)\n"
          "       suanchi model synth OUT.gguf --arch llama|qwen2 --preset tiny|0.5b [--type f32|f16|bf16|q8_0|q4_0|q4_k|q6_k]\n"
          "                          [--seed N] [--vocab FILE]\n"
          "Writes a deterministic random-weight GGUF model (it outputs noise; for tests, demos and benchmarks).\n");
}

static int cmd_synth(int argc, char **argv) {
  const char *arch = NULL, *preset = NULL, *type = "q8_0", *vocab = NULL;
  int64_t seed = 1;
  sc_flag flags[] = {
      {.name = "arch", .type = SC_FLAG_STR, .out = &arch, .help = "llama or qwen2", .required = true},
      {.name = "preset", .type = SC_FLAG_STR, .out = &preset, .help = "tiny (tests) or 0.5b (Qwen2-0.5B's shape)", .required = true},
      {.name = "type", .type = SC_FLAG_STR, .out = &type, .help = "weight type: f32 f16 bf16 q8_0 q4_0 q4_k q6_k (default q8_0)"},
      {.name = "seed", .type = SC_FLAG_I64, .out = &seed, .help = "random seed (default 1)", .min = 0, .max = INT64_MAX},
      {.name = "vocab", .type = SC_FLAG_STR, .out = &vocab, .help = "JSON file of GGUF tokenizer keys (default: synthetic)"},
      {0}};
  sc_args a;
  sc_err e = {0};
  if (sc_flags_parse(flags, argc, argv, &a, &e)) {
    fprintf(stderr, "suanchi model synth: %s\n", e.msg);
    usage(stderr);
    return 2;
  }
  if (a.help) {
    usage(stdout);
    sc_flags_usage(stdout, flags);
    return 0;
  }
  if (a.npos != 1) {
    fprintf(stderr, "suanchi model synth: expected one output file, got %d arguments\n", a.npos);
    usage(stderr);
    return 2;
  }
  int t = sc_qtype_by_name(type);
  if (t < 0) {
    fprintf(stderr, "suanchi model synth: unknown --type '%s' (expected f32, f16, bf16, q8_0, q4_0, q4_k or q6_k)\n", type);
    return 2;
  }
  if (strcmp(arch, "llama") && strcmp(arch, "qwen2")) {
    fprintf(stderr, "suanchi model synth: unknown --arch '%s' (expected llama or qwen2)\n", arch);
    return 2;
  }
  if (strcmp(preset, "tiny") && strcmp(preset, "0.5b") && strcmp(preset, "micro")) {
    fprintf(stderr, "suanchi model synth: unknown --preset '%s' (expected tiny or 0.5b)\n", preset);
    return 2;
  }
  sc_synth_opts o = {.arch = arch, .preset = preset, .type = t, .seed = (uint64_t)seed, .vocab_path = vocab};
  int64_t t0 = sc_mono_ms();
  if (sc_synth_write(&o, a.pos[0], &e)) {
    fprintf(stderr, "suanchi model synth: %s\n", e.msg);
    return 1;
  }
  printf("wrote %s (%s, preset %s, %s, seed %lld) in %.1fs\n", a.pos[0], arch, preset, type, (long long)seed,
         (double)(sc_mono_ms() - t0) / 1000.0);
  return 0;
}

int sc_cmd_model(int argc, char **argv) {
  if (argc < 1 || strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0) {
    usage(argc < 1 ? stderr : stdout);
    return argc < 1 ? 2 : 0;
  }
  if (strcmp(argv[0], "synth") == 0) return cmd_synth(argc - 1, argv + 1);
  if (strcmp(argv[0], "add") == 0) return sc_cli_model_add(argc - 1, argv + 1);
  if (strcmp(argv[0], "bench") == 0) return sc_model_bench_main(argc - 1, argv + 1);
  fprintf(stderr, "suanchi model: unknown verb '%s'\n", argv[0]);
  usage(stderr);
  return 2;
}
