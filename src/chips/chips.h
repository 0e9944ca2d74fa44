/*
 * chips.h — the chip catalogue: what each accelerator model is (vendor, memory, bandwidth,
 * FLOP/s, power, prices, reference speeds). Pure data, no I/O beyond loading a CSV buffer.
 *
 * The built-in catalogue is data/chips.csv, compiled into the binary. Operators extend or
 * override it with their own CSV (same columns; rows with an existing key replace it).
 * Absent figures are stored as 0 and mean "unknown".
 */
#ifndef SC_CHIPS_CHIPS_H
#define SC_CHIPS_CHIPS_H

#include <stddef.h>

#include "base/err.h"

typedef struct sc_chip {
  char key[64];    /* catalogue key, e.g. "H100-SXM-80GB" */
  char vendor[32]; /* nvidia, huawei, enflame, cambricon, kunlun, cpu */
  char name[96];   /* marketing name */
  double memory_gib;
  double mem_bw_tbps;
  double bf16_tflops;
  double tdp_w;
  double rent_usd_per_hour;
  double purchase_usd;
  double decode_tok_s_7b_b1;
  double decode_tok_s_7b_b32;
  double prefill_tok_s_7b;
} sc_chip;

typedef struct sc_chips sc_chips;

/* Creates an empty catalogue. Destroy with sc_chips_destroy (NULL is fine). */
sc_chips *sc_chips_create(void);
void sc_chips_destroy(sc_chips *c);

/* Loads CSV text (with a header row) into the catalogue; rows whose key exists replace the entry.
 * origin names the source in errors ("chips.csv"). On error nothing is added and e says
 * "origin:line: ...". Required columns: key, vendor, memory_gib. */
int sc_chips_load_csv(sc_chips *c, const char *csv, size_t len, const char *origin, sc_err *e);

/* Loads the compiled-in catalogue (data/chips.csv). */
int sc_chips_load_builtin(sc_chips *c, sc_err *e);

/* Loads a catalogue file from disk (at most 4 MiB). */
int sc_chips_load_file(sc_chips *c, const char *path, sc_err *e);

size_t sc_chips_count(const sc_chips *c);
const sc_chip *sc_chips_at(const sc_chips *c, size_t i);
/* Exact key match, case-insensitive; NULL if absent. */
const sc_chip *sc_chips_find(const sc_chips *c, const char *key);

/* The process-wide catalogue, loaded from the built-in data on first use (thread-safe). Services
 * that accept --chips FILE call sc_chips_global_extend before starting threads. */
const sc_chips *sc_chips_global(void);
int sc_chips_global_extend(const char *path, sc_err *e);

#endif
