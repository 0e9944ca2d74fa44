/* usage_ingest_bench.c — the usage ingester's store path (sc_gws_writer_insert, what the gateway's
 * ingester thread runs) on N gateway-like records in transactions of B (the ingester's 2,048).
 * Prints rows/s (wall) and CPU µs per row. Usage: usage_ingest_bench DIR [N] [B]  (DIR: empty). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/gateway_store.h"
#include "store/store.h"

static double clock_s(clockid_t id) {
  struct timespec t;
  clock_gettime(id, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: usage_ingest_bench DIR [N] [B]\n");
    return 2;
  }
  int n = argc > 2 ? atoi(argv[2]) : 200000, b = argc > 3 ? atoi(argv[3]) : 2048;
  if (n <= 0 || b <= 0) return 2;
  char path[4096];
  snprintf(path, sizeof path, "%s/suanchi.db", argv[1]);
  sc_store *s;
  sc_gws_writer *w;
  sc_err e;
  if (sc_store_open(path, &s, &e) || sc_gws_writer_open(s, &w, &e)) {
    fprintf(stderr, "%s\n", e.msg);
    return 1;
  }
  sc_usage_rec *r = calloc((size_t)b, sizeof *r);
  static const char *const keys[] = {"k0a1b2c3d4e5f6a7", "k1b2c3d4e5f6a7b8", "k2c3d4e5f6a7b8c9"};
  double w0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
  int id = 0;
  for (int done = 0; done < n;) {
    int m = n - done < b ? n - done : b;
    for (int i = 0; i < m; i++, id++) { /* three keys of one tenant, two replicas: a few dims rows */
      sc_usage_rec *u = &r[i];
      memset(u, 0, sizeof *u);
      snprintf(u->request_id, sizeof u->request_id, "req-3f9a1c2b%08x", (unsigned)id);
      u->ts = 1795600000000LL + id / 40;
      snprintf(u->tenant, sizeof u->tenant, "acme");
      snprintf(u->key_id, sizeof u->key_id, "%s", keys[id % 3]);
      snprintf(u->deployment, sizeof u->deployment, "chat");
      snprintf(u->model, sizeof u->model, "chat");
      snprintf(u->replica, sizeof u->replica, "r%016x", id % 2);
      snprintf(u->node_id, sizeof u->node_id, "n5e0c2b7a19d3f468");
      snprintf(u->owner, sizeof u->owner, "self");
      snprintf(u->region, sizeof u->region, "hainan");
      snprintf(u->chip, sizeof u->chip, "H100-SXM-80GB");
      snprintf(u->status, sizeof u->status, "ok");
      u->prompt_tokens = 12;
      u->completion_tokens = 8;
      u->ttft_ms = 0.31;
      u->duration_ms = 0.52;
    }
    int stored;
    if (sc_gws_writer_insert(w, r, m, &stored, &e) || stored != m) {
      fprintf(stderr, "insert: %s\n", e.msg);
      return 1;
    }
    done += m;
  }
  double wall = clock_s(CLOCK_MONOTONIC) - w0, cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
  printf("%d rows in transactions of %d: %.0f rows/s, %.2f us CPU per row\n", n, b, n / wall, cpu * 1e6 / n);
  sc_gws_writer_close(w);
  sc_store_close(s);
  free(r);
  return 0;
}
