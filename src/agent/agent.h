/*
 * agent.h — the node agent (`suanchi agent`): discovers devices, joins the pool once with a join
 * token, then heartbeats device stats. Outbound HTTP only, so it works behind NAT.
 */
#ifndef SC_AGENT_AGENT_H
#define SC_AGENT_AGENT_H

#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"

typedef struct sc_agent_opts {
  const char *server;       /* control plane URL */
  const char *join;         /* join token (needed only until the node is registered) */
  const char *region;
  const char *devices;      /* device SPEC (see devices.h) */
  const char *state_dir;    /* holds node.json (0600): the node's id and credential */
  const char *name;         /* node name; default: the host name */
  int64_t heartbeat_s;      /* heartbeat interval */
  int64_t simulate_nodes;   /* >0: run this many virtual nodes in one process */
  int64_t threads;          /* worker threads for --simulate-nodes */
  int64_t run_for_s;        /* >0: stop after this long and print heartbeat statistics */
  const char *advertise;    /* host the gateway reaches this node's engines at (default 127.0.0.1) */
  bool tunnel;              /* behind NAT: the gateway reaches the engines through tunnels the agent dials */
  int64_t tunnels;          /* tunnel connections per replica (default 16) */
} sc_agent_opts;

/* Runs until SIGINT/SIGTERM (or run_for_s). Returns 0 on a clean stop, an error when the node
 * cannot join (bad token, unknown region) or its credential was revoked. */
int sc_agent_run(const sc_agent_opts *o, sc_err *e);

#endif
