/*
 * bench.c — `suanchi model bench FILE`: speed of the forward pass on a model file, as used by
 * bench/engine.sh. Reports prefill tok/s (one prompt in one batch), single-stream decode tok/s,
 * and aggregate decode tok/s with S concurrent sequences decoded together (one batched forward
 * per step, as the engine's continuous batching runs them). Greedy sampling; medians of --reps.
 */
#include <stdio.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>

#include "base/flags.h"
#include "base/util.h"
#include "engine/gguf.h"
#include "engine/model.h"
#include "engine/quant.h"

int sc_model_bench_main(int argc, char **argv);

static int argmax(const float *x, int n) {
  int b = 0;
  for (int i = 1; i < n; i++)
    if (x[i] > x[b]) b = i;
  return b;
}

/* CPU seconds used by the process (all threads). */
static double cpu_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
         (double)ru.ru_stime.tv_usec / 1e6;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Prefills S sequences of `prompt` tokens (one batch each), then decodes gen steps with all S
 * in one batch. Returns decode tok/s over all sequences; *pp gets the prefill tok/s. */
static int run(sc_model *m, int S, int prompt, int gen, double *pp, double *tg, double *util, sc_err *e) {
  int nth = m ? sc_model_threads(m) : 1;
  const sc_model_info *in = sc_model_get_info(m);
  int per = (prompt + gen + SC_KV_BLOCK - 1) / SC_KV_BLOCK;
  sc_kvcache *kv;
  int rc = sc_kvcache_create(m, S * per, &kv, e);
  if (rc) return rc;
  int32_t *blocks = sc_xmalloc((size_t)(S * per) * sizeof *blocks), *toks = sc_xmalloc((size_t)prompt * sizeof *toks),
          *cur = sc_xmalloc((size_t)S * sizeof *cur);
  float *logits = sc_xmalloc((size_t)S * (size_t)in->n_vocab * sizeof *logits);
  sc_fwd_seq *seqs = sc_xcalloc((size_t)S, sizeof *seqs);
  for (int i = 0; i < S * per; i++) blocks[i] = i;
  int64_t t0 = sc_mono_ns();
  double c0 = cpu_s();
  for (int s = 0; s < S && !rc; s++) {
    for (int i = 0; i < prompt; i++) toks[i] = (int32_t)((i * 7919 + s * 104729 + 13) % in->n_vocab);
    seqs[s] = (sc_fwd_seq){.tokens = toks, .n_tokens = prompt, .pos = 0, .blocks = blocks + s * per, .n_blocks = per,
                           .logits = logits + (size_t)s * (size_t)in->n_vocab};
    rc = sc_model_forward(m, kv, &seqs[s], 1, e);
    cur[s] = argmax(seqs[s].logits, in->n_vocab);
  }
  int64_t t1 = sc_mono_ns();
  *pp = (double)S * prompt / ((double)(t1 - t0) / 1e9);
  for (int g = 0; g < gen && !rc; g++) {
    for (int s = 0; s < S; s++) {
      seqs[s].tokens = &cur[s];
      seqs[s].n_tokens = 1;
      seqs[s].pos = prompt + g;
    }
    rc = sc_model_forward(m, kv, seqs, S, e);
    for (int s = 0; s < S; s++) cur[s] = argmax(seqs[s].logits, in->n_vocab);
  }
  double wall = (double)(sc_mono_ns() - t0) / 1e9;
  *tg = (double)S * gen / ((double)(sc_mono_ns() - t1) / 1e9);
  *util = (cpu_s() - c0) / (wall * nth);
  free(blocks), free(toks), free(cur), free(logits), free(seqs);
  sc_kvcache_destroy(kv);
  return rc;
}

/* Prints how many weight matrices the file has of each type (Q4_K files are a mix). */
static void type_mix(const char *path) {
  sc_gguf *g;
  sc_err e;
  if (sc_gguf_open(path, &g, &e)) return;
  int count[64] = {0};
  for (size_t i = 0; i < sc_gguf_tensor_count(g); i++) {
    const sc_gguf_tensor *t = sc_gguf_tensor_at(g, i);
    if (t->n_dims == 2 && t->type < 64) count[t->type]++;
  }
  printf("weight matrices:");
  for (int i = 0; i < 64; i++)
    if (count[i]) printf(" %s x%d", sc_qtype_traits_of((uint32_t)i)->name, count[i]);
  printf("\n");
  sc_gguf_close(g);
}

int sc_model_bench_main(int argc, char **argv) {
  int64_t threads = 2, prompt = 128, gen = 16, reps = 3;
  const char *streams = "1,4,16";
  sc_flag flags[] = {{.name = "threads", .type = SC_FLAG_I64, .out = &threads, .help = "threads (default 2)", .min = 1, .max = 256},
                     {.name = "prompt", .type = SC_FLAG_I64, .out = &prompt, .help = "prefill tokens (default 128)", .min = 1, .max = 65536},
                     {.name = "gen", .type = SC_FLAG_I64, .out = &gen, .help = "decode steps (default 16)", .min = 1, .max = 65536},
                     {.name = "reps", .type = SC_FLAG_I64, .out = &reps, .help = "repetitions, median reported (default 3)", .min = 1, .max = 100},
                     {.name = "streams", .type = SC_FLAG_STR, .out = &streams, .help = "concurrent streams to measure (default 1,4,16)"},
                     {0}};
  sc_args a;
  sc_err e = {0};
  if (sc_flags_parse(flags, argc, argv, &a, &e) || a.npos != 1) {
    fprintf(stderr, "usage: suanchi model bench FILE [--threads N] [--prompt N] [--gen N] [--reps N] [--streams 1,4,16]\n%s\n",
            e.msg);
    return 2;
  }
  sc_model *m;
  if (sc_model_load(a.pos[0], (int)threads, &m, &e)) {
    fprintf(stderr, "suanchi model bench: %s\n", e.msg);
    return 1;
  }
  const sc_model_info *in = sc_model_get_info(m);
  printf("model %s: %s, %d layers, %d wide, vocab %d; kernels %s, %lld threads\n", a.pos[0], in->arch, in->n_layer, in->n_embd,
         in->n_vocab, sc_model_kernels_name(m), (long long)threads);
  type_mix(a.pos[0]);
  double pp[100], tg1[100], ut[100];
  for (int r = 0; r < reps; r++)
    if (run(m, 1, (int)prompt, (int)gen, &pp[r], &tg1[r], &ut[r], &e)) goto fail;
  double umin = 1;
  for (int r = 0; r < reps; r++) umin = ut[r] < umin ? ut[r] : umin;
  qsort(pp, (size_t)reps, sizeof *pp, cmp_d);
  qsort(tg1, (size_t)reps, sizeof *tg1, cmp_d);
  printf("prefill %lld tokens: %.1f tok/s\n", (long long)prompt, pp[reps / 2]);
  printf("decode 1 stream: %.1f tok/s\n", tg1[reps / 2]);
  char buf[256];
  sc_strlcpy(buf, streams, sizeof buf);
  for (char *p = buf, *tok; (tok = strsep(&p, ","));) {
    int64_t S;
    if (sc_parse_i64(tok, 1, 256, &S)) {
      fprintf(stderr, "suanchi model bench: bad --streams entry '%s'\n", tok);
      sc_model_free(m);
      return 2;
    }
    double agg[100], dummy;
    for (int r = 0; r < reps; r++) {
      if (run(m, (int)S, 16, (int)gen, &dummy, &agg[r], &ut[r], &e)) goto fail;
      umin = ut[r] < umin ? ut[r] : umin;
    }
    qsort(agg, (size_t)reps, sizeof *agg, cmp_d);
    printf("decode %lld streams: %.1f tok/s aggregate (%.2fx single stream)\n", (long long)S, agg[reps / 2],
           agg[reps / 2] / tg1[reps / 2]);
  }
  printf("CPU share obtained: at least %.0f%% of %lld threads x wall time (below ~90%% the machine was busy and the\n"
         "figures are low)\n", umin * 100, (long long)threads);
  sc_model_free(m);
  return 0;
fail:
  fprintf(stderr, "suanchi model bench: %s\n", e.msg);
  sc_model_free(m);
  return 1;
}
