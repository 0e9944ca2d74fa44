/* cmd_chips.c — `suanchi chips [--chips FILE] [--json]`: prints the chip catalogue. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/flags.h"
#include "chips/chips.h"
#include "cli/commands.h"

int sc_cmd_chips(int argc, char **argv) {
  const char *extra = NULL;
  bool as_json = false;
  sc_flag flags[] = {{.name = "chips", .type = SC_FLAG_STR, .out = &extra, .help = "extra catalogue CSV to merge"},
                     {.name = "json", .type = SC_FLAG_BOOL, .out = &as_json, .help = "print JSON"},
                     {0}};
  sc_args args;
  sc_err e;
  if (sc_flags_parse(flags, argc, argv, &args, &e) || args.npos) {
    fprintf(stderr, "suanchi chips: %s\n", args.npos ? "takes no arguments" : e.msg);
    return 2;
  }
  if (args.help) {
    printf("usage: suanchi chips [--chips FILE] [--json]\n");
    sc_flags_usage(stdout, flags);
    return 0;
  }
  if (extra && sc_chips_global_extend(extra, &e)) {
    fprintf(stderr, "suanchi chips: %s\n", e.msg);
    return 1;
  }
  const sc_chips *cat = sc_chips_global();
  if (as_json) {
    json_t *arr = json_array();
    for (size_t i = 0; i < sc_chips_count(cat); i++) {
      const sc_chip *c = sc_chips_at(cat, i);
      json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f}", "key", c->key,
                                           "vendor", c->vendor, "name", c->name, "memory_gib", c->memory_gib,
                                           "mem_bw_tbps", c->mem_bw_tbps, "bf16_tflops", c->bf16_tflops, "tdp_w",
                                           c->tdp_w, "rent_usd_per_hour", c->rent_usd_per_hour, "purchase_usd",
                                           c->purchase_usd, "decode_tok_s_7b_b1", c->decode_tok_s_7b_b1,
                                           "decode_tok_s_7b_b32", c->decode_tok_s_7b_b32, "prefill_tok_s_7b",
                                           c->prefill_tok_s_7b));
    }
    char *s = json_dumps(arr, JSON_INDENT(2));
    puts(s);
    free(s);
    json_decref(arr);
    return 0;
  }
  printf("%-20s %-10s %8s %8s %8s %6s %10s\n", "KEY", "VENDOR", "MEM_GIB", "BW_TB/S", "TFLOPS", "TDP_W", "PRICE_USD");
  for (size_t i = 0; i < sc_chips_count(cat); i++) {
    const sc_chip *c = sc_chips_at(cat, i);
    printf("%-20s %-10s %8.0f %8.3f %8.1f %6.0f %10.0f\n", c->key, c->vendor, c->memory_gib, c->mem_bw_tbps,
           c->bf16_tflops, c->tdp_w, c->purchase_usd);
  }
  return 0;
}
