/* Fuzz harness: the CSV reader and the chip-catalogue loader on arbitrary bytes. */
#include <stdint.h>
#include <stdlib.h>

#include "base/csv.h"
#include "chips/chips.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  sc_csv *r = malloc(sizeof *r);
  sc_err e;
  sc_csv_init(r, (const char *)data, size);
  int n = 0;
  while (sc_csv_next(r, &e) == 1 && n < 100000) n++;
  free(r);
  sc_chips *c = sc_chips_create();
  sc_chips_load_csv(c, (const char *)data, size, "fuzz", &e);
  sc_chips_destroy(c);
  return 0;
}
