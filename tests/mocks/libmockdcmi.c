/*
 * libmockdcmi.c — a stand-in for libdcmi.so exporting the DCMI symbols src/devices/dcmi.c uses:
 * two cards with one NPU each (card 3: "Ascend" "910B3", 64 GB HBM; card 5: "Ascend" "310P3",
 * 24 GB DDR reported only through dcmi_get_device_memory_info_v3) plus an MCU on card 3 that must
 * be skipped. SC_MOCK_MODE: "fail-init" (dcmi_init fails), "zero" (no cards), "faulty" (card 5
 * raises a critical alarm after open).
 */
#include <stdlib.h>
#include <string.h>

struct dcmi_chip_info {
  unsigned char chip_type[32];
  unsigned char chip_name[32];
  unsigned char chip_ver[32];
  unsigned int aicore_cnt;
};
struct dcmi_hbm_info {
  unsigned long long memory_size;
  unsigned int freq;
  unsigned long long memory_usage;
  int temp;
  unsigned int bandwith_util_rate;
};
struct dcmi_get_memory_info_stru {
  unsigned long long memory_size;
  unsigned long long memory_available;
  unsigned int freq;
  unsigned long hugepagesize;
  unsigned long hugepages_total;
  unsigned long hugepages_free;
  unsigned int utiliza;
  unsigned char reserve[60];
};
struct dcmi_die_id {
  unsigned int soc_die[5];
};

static int inited;
static int samples;

static const char *mode(void) {
  const char *m = getenv("SC_MOCK_MODE");
  return m ? m : "";
}

int dcmi_init(void) {
  if (strcmp(mode(), "fail-init") == 0) return -8005; /* DCMI_ERR_CODE_INNER_ERR */
  inited = 1;
  return 0;
}

int dcmi_get_card_num_list(int *card_num, int *card_list, int list_len) {
  if (!inited) return -8005;
  if (strcmp(mode(), "zero") == 0) {
    *card_num = 0;
    return 0;
  }
  if (list_len < 2) return -8001;
  *card_num = 2;
  card_list[0] = 3;
  card_list[1] = 5;
  return 0;
}

static int valid(int card, int dev) { return (card == 3 && (dev == 0 || dev == 1)) || (card == 5 && dev == 0); }

int dcmi_get_device_num_in_card(int card, int *n) {
  if (card != 3 && card != 5) return -8007;
  *n = card == 3 ? 2 : 1; /* card 3 chip 1 is the MCU */
  return 0;
}

int dcmi_get_device_type(int card, int dev, int *type) {
  if (!valid(card, dev)) return -8007;
  *type = card == 3 && dev == 1 ? 1 /* MCU_TYPE */ : 0 /* NPU_TYPE */;
  return 0;
}

int dcmi_get_device_chip_info(int card, int dev, struct dcmi_chip_info *ci) {
  if (!valid(card, dev)) return -8007;
  memset(ci, 0, sizeof *ci);
  memcpy(ci->chip_type, "Ascend", 6);
  memcpy(ci->chip_name, card == 3 ? "910B3" : "310P3", 5);
  memcpy(ci->chip_ver, "V1", 2);
  ci->aicore_cnt = card == 3 ? 20 : 8;
  return 0;
}

int dcmi_get_device_hbm_info(int card, int dev, struct dcmi_hbm_info *h) {
  if (!valid(card, dev)) return -8007;
  memset(h, 0, sizeof *h);
  if (card == 3) {
    h->memory_size = 65536;
    h->memory_usage = 3394;
  }
  return 0;
}

int dcmi_get_device_memory_info_v3(int card, int dev, struct dcmi_get_memory_info_stru *m) {
  if (!valid(card, dev)) return -8007;
  memset(m, 0, sizeof *m);
  m->memory_size = card == 5 ? 24576 : 32768;
  m->memory_available = card == 5 ? 20480 : 32768;
  return 0;
}

int dcmi_get_device_utilization_rate(int card, int dev, int type, unsigned int *rate) {
  if (!valid(card, dev) || type != 2) return -8001;
  *rate = (card == 3 ? 40u : 7u) + (unsigned)(samples++ % 5);
  return 0;
}

int dcmi_get_device_health(int card, int dev, unsigned int *health) {
  if (!valid(card, dev)) return -8007;
  *health = strcmp(mode(), "faulty") == 0 && card == 5 && samples > 2 ? 3 : 0;
  return 0;
}

int dcmi_get_device_die_v2(int card, int dev, int type, struct dcmi_die_id *die) {
  if (!valid(card, dev) || type != 1) return -8001;
  for (int i = 0; i < 5; i++) die->soc_die[i] = (unsigned)(card * 0x1000 + i);
  return 0;
}
