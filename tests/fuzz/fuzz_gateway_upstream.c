/* Fuzz harness: what the gateway reads from engines — the SSE relay (event splitting, usage
 * extraction, usage stripping, content counting) fed in random slices, and the usage object of a
 * plain answer — and the usage journal's record decoder, on arbitrary bytes. The client is marked
 * gone, so nothing is sent. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/gateway/gateway.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  int64_t p = 0, c = 0;
  plain_usage((const char *)data, size, &p, &c);
  gw_call call;
  memset(&call, 0, sizeof call);
  call.client_gone = true;
  call.is_sse = true;
  call.client_usage = size && (data[0] & 1);
  size_t off = 0, step = size ? (size_t)data[0] % 17 + 1 : 1;
  while (off < size) { /* arrive in chunks, as from the network */
    size_t n = size - off < step ? size - off : step;
    on_upstream_data(&call, (const char *)data + off, n);
    off += n;
  }
  free(call.sse.p);
  free(call.out.p);
  free(call.tail.p);
  /* the usage journal's decoder on the same bytes (a journal damaged on disk) */
  sc_usage_rec r;
  size_t used;
  for (size_t at = 0; at < size && gw_journal_decode((const char *)data + at, size - at, &r, &used) == 1;) at += used;
  return 0;
}
