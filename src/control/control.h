/*
 * control.h — the control plane (`suanchi serve`): REST API under /api/v1, /healthz, /metrics,
 * the node registry with liveness, backed by the SQLite store.
 */
#ifndef SC_CONTROL_CONTROL_H
#define SC_CONTROL_CONTROL_H

#include <jansson.h>
#include <stdint.h>

#include "base/err.h"

typedef struct sc_control_opts {
  const char *data_dir;          /* holds suanchi.db, admin.token, serve.addr */
  const char *listen;            /* HOST:PORT; port 0 picks a free port (written to DIR/serve.addr) */
  int64_t heartbeat_timeout_ms;  /* ready -> down after this long without a heartbeat */
  int64_t heartbeat_interval_s;  /* what agents are told to use */
  int64_t flush_interval_ms;     /* how often last_heartbeat times are written to the store */
  size_t max_body;               /* request body cap in bytes */
} sc_control_opts;

/* Runs the control plane until SIGINT/SIGTERM. Returns 0 on a clean stop. */
int sc_control_run(const sc_control_opts *opts, sc_err *e);

#endif
