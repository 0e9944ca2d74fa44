/*
 * devices.h — the accelerators (and the CPU) of one node, behind one interface.
 *
 * A device SPEC chooses the drivers: a comma-separated list of
 *   auto             probe nvml, dcmi and efml; add cpu when none of them found a device
 *   nvml             NVIDIA, libnvidia-ml.so.1 (override: SUANCHI_NVML_LIB)
 *   dcmi             Huawei Ascend, libdcmi.so (override: SUANCHI_DCMI_LIB)
 *   efml             Enflame, libefml.so (override: SUANCHI_EFML_LIB)
 *   cpu              the host itself (cores, memory, load) as one device
 *   sim:CHIP:COUNT   COUNT (1..64) simulated devices of a chip catalogue entry
 * e.g. "auto", "cpu", "sim:H100-SXM-80GB:8,sim:Ascend-910B-64GB:8".
 *
 * Vendor libraries are opened with dlopen when the set is opened, never linked: a missing
 * library, a failed init or zero devices means "not present" (no devices, a note), never an
 * error. A spec of sim and cpu entries only never touches dlopen, so a process may hold many
 * thousands of simulated sets cheaply.
 *
 * Threads: a set is used by one thread at a time; different sets may be used from different
 * threads at once (calls into vendor libraries are serialised per driver inside).
 */
#ifndef SC_DEVICES_DEVICES_H
#define SC_DEVICES_DEVICES_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

typedef enum {
  SC_HEALTH_UNKNOWN = 0, /* the driver could not tell */
  SC_HEALTH_OK,
  SC_HEALTH_DEGRADED,    /* works, but a vendor warning is raised (ECC, pending remap, minor alarm) */
  SC_HEALTH_FAILED       /* lost, critical alarm, needs a reset */
} sc_health;

typedef struct sc_device {
  int index;                 /* 0..n-1 across the node, in spec order */
  char driver[8];            /* "nvml", "dcmi", "efml", "cpu", "sim" */
  char vendor[32];           /* catalogue vendor: nvidia, huawei, enflame, cpu, ... */
  char chip[64];             /* catalogue key ("H100-SXM-80GB"), or the raw name when unmapped */
  char name[64];             /* the name the vendor library reports ("NVIDIA H100 80GB HBM3") */
  char uuid[64];             /* stable identifier ("GPU-...", "SIM-...", "CPU-...") */
  uint64_t memory_total_mib;
  uint64_t memory_used_mib;
  int util_pct;              /* 0..100; -1 when unknown */
  int compute_units;         /* CPU: usable cores; Ascend: AI cores; 0 when unknown */
  sc_health health;
} sc_device;

typedef struct sc_devset sc_devset;

/* Opens the devices named by spec. seed makes simulated uuids stable: pass the same value on
 * every start of the same node (e.g. sc_devices_seed(node_name)). On success *out holds the set
 * (possibly with zero devices, e.g. "nvml" on a host without NVIDIA GPUs); free it with
 * sc_devices_close. A bad spec returns SC_EINVAL, e names the bad part, nothing is opened.
 * Dynamic fields (used memory, util, health) hold a first sample; simulated devices are
 * sampled at time 0 until the first sc_devices_refresh. */
int sc_devices_open(const char *spec, uint64_t seed, sc_devset **out, sc_err *e);

/* Checks a spec without opening anything (for validating a flag early). 0 or SC_EINVAL. */
int sc_devices_spec_check(const char *spec, sc_err *e);

size_t sc_devset_count(const sc_devset *set);
/* Device i (< count), or NULL. The pointer stays valid until sc_devices_close; refresh updates
 * the dynamic fields in place. */
const sc_device *sc_devset_get(const sc_devset *set, size_t i);

/* Probe notes for operators ("nvml: not present (libnvidia-ml.so.1: cannot open ...)",
 * "nvml: 2 devices via libnvidia-ml.so.1"), i < count of notes; NULL past the end. */
const char *sc_devset_note(const sc_devset *set, size_t i);

/* Re-samples used memory, utilisation and health of every device. now_ms is the caller's
 * clock (wall or simulated); only simulated devices use it (no clock is read inside sim).
 * Always returns 0; a device whose driver call fails gets health unknown or failed. */
int sc_devices_refresh(sc_devset *set, int64_t now_ms);

/* Forces the health of simulated device i (for demos and fault tests); SC_HEALTH_UNKNOWN
 * clears the override. SC_EINVAL if i is out of range or not a sim device. */
int sc_devices_sim_set_health(sc_devset *set, size_t i, sc_health h);

/* Closes the drivers and frees the set. NULL is fine. */
void sc_devices_close(sc_devset *set);

/* Maps a vendor's device name to a chip catalogue key: ("nvidia", "NVIDIA H100 80GB HBM3")
 * -> "H100-SXM-80GB", ("huawei", "Ascend 910B3") -> "Ascend-910B-64GB". NULL if unmapped. */
const char *sc_devices_map_chip(const char *vendor, const char *name);

/* "ok", "degraded", "failed", "unknown". */
const char *sc_health_name(sc_health h);
/* Inverse of sc_health_name; 0 or SC_EINVAL. */
int sc_health_parse(const char *s, sc_health *out);

/* A 64-bit seed from a node name (FNV-1a), for sc_devices_open. */
uint64_t sc_devices_seed(const char *name);

#endif
