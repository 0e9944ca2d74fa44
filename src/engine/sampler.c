/*
 * sampler.c — greedy / temperature / top-k / top-p sampling.
 *
 * Candidates are the top-k (k from the request, or 256 when only top-p is set; if those 256 hold
 * less than top_p of the mass we fall back to the full sorted vocabulary) found with a min-heap,
 * then sorted by probability (ties by id, so the order is total and results reproducible).
 * Plain temperature sampling scans the whole softmax once.
 */
#include "engine/sampler.h"

#include <math.h>
#include <stdlib.h>

#include "base/util.h"


void sc_sampler_scratch_init(sc_sampler_scratch *s, int n) {
  s->n = n;
  s->p = sc_xmalloc((size_t)n * sizeof *s->p);
  s->idx = sc_xmalloc((size_t)n * sizeof *s->idx);
}

void sc_sampler_scratch_fini(sc_sampler_scratch *s) {
  free(s->p);
  free(s->idx);
}

static int argmax(const float *x, int n) {
  int b = 0;
  for (int i = 1; i < n; i++)
    if (x[i] > x[b]) b = i;
  return b;
}

/* a before b when its logit is larger, or equal with a smaller id */
static inline int better(const float *l, int32_t a, int32_t b) { return l[a] > l[b] || (l[a] == l[b] && a < b); }

static __thread const float *t_logits; /* qsort's context */
static int cmp_desc(const void *a, const void *b) {
  int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
  return better(t_logits, x, y) ? -1 : better(t_logits, y, x) ? 1 : 0;
}

/* Top k of n into idx[0..k) sorted best first. */
static int top_k(const float *l, int n, int k, int32_t *idx) {
  if (k >= n) {
    for (int i = 0; i < n; i++) idx[i] = i;
    k = n;
  } else { /* min-heap of the k best on idx[0..k) */
    for (int i = 0; i < k; i++) {
      idx[i] = i;
      for (int c = i; c > 0;) {
        int p = (c - 1) / 2;
        if (!better(l, idx[p], idx[c])) break;
        int32_t t = idx[p];
        idx[p] = idx[c];
        idx[c] = t;
        c = p;
      }
    }
    for (int i = k; i < n; i++) {
      if (!better(l, i, idx[0])) continue;
      idx[0] = i;
      for (int c = 0;;) {
        int a = 2 * c + 1, b = a + 1, m = c;
        if (a < k && better(l, idx[m], idx[a])) m = a;
        if (b < k && better(l, idx[m], idx[b])) m = b;
        if (m == c) break;
        int32_t t = idx[m];
        idx[m] = idx[c];
        idx[c] = t;
        c = m;
      }
    }
  }
  t_logits = l;
  qsort(idx, (size_t)k, sizeof *idx, cmp_desc);
  return k;
}

int32_t sc_sample(const float *l, int n, const sc_gen_params *p, sc_rng *rng, sc_sampler_scratch *s) {
  if (p->temperature <= 0 || p->top_k == 1) return argmax(l, n);
  float inv_t = 1.0f / p->temperature;
  double u = sc_rng_double(rng);
  if (p->top_k <= 0 && p->top_p >= 1.0f) {
    float mx = l[argmax(l, n)];
    double sum = 0;
    for (int i = 0; i < n; i++) {
      s->p[i] = expf((l[i] - mx) * inv_t);
      sum += s->p[i];
    }
    double r = u * sum, c = 0;
    for (int i = 0; i < n; i++) {
      c += s->p[i];
      if (c > r) return i;
    }
    return n - 1;
  }
  int k = p->top_k > 0 ? p->top_k : 256;
  for (int attempt = 0; attempt < 2; attempt++) {
    int m = top_k(l, n, k, s->idx);
    float mx = l[s->idx[0]];
    double sum = 0;
    for (int i = 0; i < m; i++) {
      s->p[i] = expf((l[s->idx[i]] - mx) * inv_t);
      sum += s->p[i];
    }
    if (p->top_k <= 0 && m < n) { /* only top-p: are 256 candidates enough? */
      double all = 0;
      for (int i = 0; i < n; i++) all += expf((l[i] - mx) * inv_t);
      if (sum < p->top_p * all) {
        k = n;
        continue;
      }
      sum = all; /* the nucleus is measured against the whole distribution */
    }
    int keep = m;
    if (p->top_p < 1.0f) {
      double c = 0;
      for (int i = 0; i < m; i++) {
        c += s->p[i];
        if (c >= p->top_p * sum) {
          keep = i + 1;
          break;
        }
      }
    }
    double tot = 0;
    for (int i = 0; i < keep; i++) tot += s->p[i];
    double r = u * tot, c = 0;
    for (int i = 0; i < keep; i++) {
      c += s->p[i];
      if (c > r) return s->idx[i];
    }
    return s->idx[keep - 1];
  }
  return argmax(l, n);
}
