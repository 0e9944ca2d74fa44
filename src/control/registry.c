/*
 * registry.c — the control plane's in-memory node table: an array of nodes plus an
 * open-addressing hash index from node id to array position (linear probing, load ≤ 1/2,
 * backward-shift deletion). Heartbeats look nodes up here, never in the store.
 */
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "control/internal.h"

static uint64_t hash_id(const char *s) {
  uint64_t h = 1469598103934665603ULL;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
  return h;
}

void ctl_reg_init(ctl_registry *r) {
  memset(r, 0, sizeof *r);
  r->nslots = 64;
  r->slots = sc_xmalloc(sizeof(int) * (size_t)r->nslots);
  for (int i = 0; i < r->nslots; i++) r->slots[i] = -1;
}

void ctl_node_free(ctl_node *n) {
  if (!n) return;
  free(n->st.devices);
  free(n->live);
  free(n);
}

void ctl_reg_fini(ctl_registry *r) {
  for (int i = 0; i < r->n; i++) ctl_node_free(r->nodes[i]);
  free(r->nodes);
  free(r->slots);
  memset(r, 0, sizeof *r);
}

static int find_slot(const ctl_registry *r, const char *id) {
  int mask = r->nslots - 1;
  for (int i = (int)(hash_id(id) & (uint64_t)mask);; i = (i + 1) & mask) {
    int p = r->slots[i];
    if (p < 0) return -1 - i; /* empty slot: where it would go */
    if (strcmp(r->nodes[p]->st.id, id) == 0) return i;
  }
}

static void rehash(ctl_registry *r, int nslots) {
  free(r->slots);
  r->nslots = nslots;
  r->slots = sc_xmalloc(sizeof(int) * (size_t)nslots);
  for (int i = 0; i < nslots; i++) r->slots[i] = -1;
  for (int p = 0; p < r->n; p++) r->slots[-1 - find_slot(r, r->nodes[p]->st.id)] = p;
}

ctl_node *ctl_reg_get(ctl_registry *r, const char *id) {
  int s = find_slot(r, id);
  return s >= 0 ? r->nodes[r->slots[s]] : NULL;
}

ctl_node *ctl_reg_lookup(ctl_registry *r, const char *id_or_name) {
  ctl_node *n = ctl_reg_get(r, id_or_name);
  if (n) return n;
  for (int i = 0; i < r->n; i++)
    if (strcmp(r->nodes[i]->st.name, id_or_name) == 0) return r->nodes[i];
  return NULL;
}

void ctl_reg_add(ctl_registry *r, ctl_node *n) {
  if (r->n == r->cap) {
    r->cap = r->cap ? r->cap * 2 : 64;
    r->nodes = sc_xrealloc(r->nodes, sizeof *r->nodes * (size_t)r->cap);
  }
  r->nodes[r->n++] = n;
  if (r->n * 2 > r->nslots) rehash(r, r->nslots * 2);
  else r->slots[-1 - find_slot(r, n->st.id)] = r->n - 1;
}

void ctl_reg_remove(ctl_registry *r, ctl_node *n) {
  int s = find_slot(r, n->st.id);
  if (s < 0) return;
  int p = r->slots[s];
  /* move the last node into position p */
  int last = r->n - 1;
  if (p != last) {
    r->nodes[p] = r->nodes[last];
    r->slots[find_slot(r, r->nodes[p]->st.id)] = p;
  }
  r->n--;
  ctl_node_free(n);
  rehash(r, r->nslots); /* deletions are rare (operator action): rebuilding is simplest */
}

static const char *display_state(const ctl_node *n) {
  if (strcmp(n->st.state, "down") == 0) return "down";
  if (strcmp(n->st.admin_state, "active") != 0) return n->st.admin_state;
  return "ready";
}

json_t *ctl_node_json(const ctl *c, const ctl_node *n) {
  (void)c;
  json_t *devs = json_array();
  for (int i = 0; i < n->st.ndevices; i++) {
    const sc_store_device *d = &n->st.devices[i];
    json_array_append_new(devs, json_pack("{s:i,s:s,s:s,s:s,s:I,s:I,s:i,s:s,s:s}", "index", d->index, "vendor",
                                          d->vendor, "chip", d->chip, "uuid", d->uuid, "memory_mib",
                                          (json_int_t)d->memory_mib, "memory_used_mib",
                                          (json_int_t)n->live[i].memory_used_mib, "utilization_pct",
                                          n->live[i].util_pct, "health", d->health, "driver", d->driver));
  }
  return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:b,s:I,s:I,s:s,s:s,s:o}", "id", n->st.id, "name", n->st.name,
                   "region", n->region, "owner", n->owner, "owner_kind", n->owner_kind, "state", display_state(n),
                   "admin_state", n->st.admin_state, "alive", strcmp(n->st.state, "ready") == 0, "last_heartbeat",
                   (json_int_t)n->st.last_heartbeat, "created_at", (json_int_t)n->st.created_at, "hostname",
                   n->st.hostname, "version", n->st.version, "devices", devs);
}
