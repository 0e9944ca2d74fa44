/*
 * replicas.h — the engine replicas one node runs: started as child processes, health-checked,
 * restarted with backoff, stopped when no longer desired. The control plane's heartbeat reply
 * says what to run (sc_replicas_sync); the next heartbeat reports states (sc_replicas_report).
 *
 * Engines: the built-in `suanchi engine` on `cpu` devices (the GGUF model, downloaded from the
 * control plane, sha256-verified, cached by hash) and on `sim` devices (`--simulate CHIP`);
 * engine templates (vLLM, SGLang, llama.cpp's server, MindIE) on real accelerators, with the
 * vendor's device-visibility variable. One thread only.
 */
#ifndef SC_AGENT_REPLICAS_H
#define SC_AGENT_REPLICAS_H

#include <jansson.h>
#include <stdbool.h>

#include "devices/devices.h"

typedef struct sc_replicas sc_replicas;

typedef struct sc_replicas_opts {
  const char *state_dir;  /* replicas/ID/engine.log and models/SHA.gguf live here */
  const char *server;     /* control plane URL, for model downloads */
  const char *credential; /* node credential */
  const char *advertise;  /* host the gateway reaches engines at (default 127.0.0.1) */
  bool tunnel;            /* the gateway reaches engines through tunnels: endpoints are reported
                             as tunnel://ID and engines are reached on 127.0.0.1 */
  const char *self_exe;   /* the suanchi binary to run engines with */
  sc_devset *devices;
} sc_replicas_opts;

sc_replicas *sc_replicas_create(const sc_replicas_opts *o);
/* Stops every engine and frees. NULL ok. */
void sc_replicas_destroy(sc_replicas *r);
/* desired: the heartbeat reply's "replicas" array. Starts new ones, stops the others. */
void sc_replicas_sync(sc_replicas *r, const json_t *desired);
/* Supervises (exits, health, restarts). Returns true when some state changed. */
bool sc_replicas_tick(sc_replicas *r, int64_t now_ms);
/* [{"id","state","reason","endpoint","restarts"}] (new reference). */
json_t *sc_replicas_report(const sc_replicas *r);
int sc_replicas_count(const sc_replicas *r);
/* The ready replicas and their engines' local ports (for tunnels); returns how many (<= max). */
struct sc_tunnel_target;
int sc_replicas_ready_ports(const sc_replicas *r, struct sc_tunnel_target *out, int max);

/* The command line and environment of a replica (exposed for tests): fills argv (NULL-ended,
 * strings owned by the caller's buffer) and env "NAME=VALUE" (or ""); returns 0 or SC_EINVAL with
 * why. model_path: local GGUF file or NULL; port: for templates that take one. */
int sc_replicas_command(const json_t *spec, const sc_device *dev0, const int *vendor_idx, int ndev,
                        const char *self_exe, const char *model_path, int port, const char *port_file, char *buf,
                        size_t cap, char **argv, int maxargs, char *env, size_t envcap, char *why, size_t whycap);

#endif
