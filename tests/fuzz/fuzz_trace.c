/* Fuzz harness: the openb trace loaders on arbitrary bytes (as a node list and as a pod list), and
 * a short replay when both load and the result is small. */
#include <stdint.h>
#include <stdlib.h>

#include "sched/trace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  sc_trace t = {0};
  sc_err e;
  int rn = sc_trace_load_nodes(&t, (const char *)data, size, "fuzz", &e);
  int rp = sc_trace_load_pods(&t, (const char *)data, size, "fuzz", &e);
  if (!rn && !rp && t.nnodes <= 64 && t.npods <= 256) {
    sc_openb *s = sc_openb_create(&t, SC_POLICY_SUANCHI, 1, 1.3, &e);
    for (int i = 0; s && i < 4096 && sc_openb_step(s); i++) {
    }
    sc_openb_destroy(s);
  }
  sc_trace_fini(&t);
  return 0;
}
