/* Fuzz harness: the device spec parser (the --devices flag), opening what it accepts, and the
 * vendor-name -> catalogue mapping, on arbitrary bytes. Vendor libraries point at absent paths. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "devices/devices.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int once;
  if (!once) {
    setenv("SUANCHI_NVML_LIB", "/nonexistent/libnvidia-ml.so.1", 1);
    setenv("SUANCHI_DCMI_LIB", "/nonexistent/libdcmi.so", 1);
    setenv("SUANCHI_EFML_LIB", "/nonexistent/libefml.so", 1);
    once = 1;
  }
  char *s = malloc(size + 1);
  memcpy(s, data, size);
  s[size] = 0;
  sc_err e;
  if (sc_devices_spec_check(s, &e) == 0) {
    sc_devset *set = NULL;
    if (sc_devices_open(s, size, &set, &e) == 0) {
      sc_devices_refresh(set, (int64_t)size * 1000);
      for (size_t i = 0; i < sc_devset_count(set); i++) sc_health_name(sc_devset_get(set, i)->health);
      sc_devices_close(set);
    }
  }
  sc_devices_map_chip("nvidia", s);
  sc_devices_map_chip("huawei", s);
  sc_devices_map_chip("enflame", s);
  free(s);
  return 0;
}
