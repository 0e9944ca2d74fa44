/*
 * tunnel.h — tunnels for an agent behind NAT (`suanchi agent --tunnel`): the gateway cannot dial
 * the node's engines, so the agent dials the control plane and hands it connections.
 *
 * For each ready replica the agent keeps `per_replica` connections open to
 *   GET /api/v1/agent/tunnel?replica=ID   (node credential, "Upgrade: suanchi-tunnel")
 * Once the server answers 101, the gateway owns that connection as a keep-alive upstream
 * connection to the replica, and the agent relays its bytes to and from a connection of its own
 * to the engine on 127.0.0.1. A tunnel that closes (the engine's idle timeout, a restart of
 * either side) is dialed again; failures back off up to 5 s. docs/internals/tunnels.md.
 *
 * Threading: the relay runs on its own thread and event loop; sc_tunnels_set and
 * sc_tunnels_linked may be called from any thread.
 */
#ifndef SC_AGENT_TUNNEL_H
#define SC_AGENT_TUNNEL_H

#include <stdbool.h>

#include "base/err.h"

typedef struct sc_tunnels sc_tunnels;

typedef struct sc_tunnel_target {
  char id[40]; /* replica id */
  int port;    /* its engine on 127.0.0.1 */
} sc_tunnel_target;

/* server: the control plane's URL, http://HOST:PORT (https is refused: SC_EINVAL). */
int sc_tunnels_start(const char *server, const char *credential, int per_replica, sc_tunnels **out, sc_err *e);
/* The replicas to keep tunnels for (copied); tunnels of others close. */
void sc_tunnels_set(sc_tunnels *t, const sc_tunnel_target *v, int n);
/* Tunnels linked to id's engine now (-1: no such target). */
int sc_tunnels_linked(sc_tunnels *t, const char *id);
/* Closes every tunnel and stops the thread. NULL ok. */
void sc_tunnels_stop(sc_tunnels *t);

#endif
