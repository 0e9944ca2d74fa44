/*
 * agent.c — the node agent.
 *
 * Life of one node:
 *   load DIR/node.json ──found──> heartbeat loop
 *          │ not found
 *          v
 *   register with the join token (retry with backoff while the server is away; a 4xx such as
 *   an expired token or unknown region is final) ──> save node.json (0600) ──> heartbeat loop
 *
 * Heartbeat loop: every interval, re-sample the devices and POST them. When the server cannot
 * be reached (or answers 5xx) the agent retries with exponential backoff capped at the
 * interval, plus jitter, and keeps running; it logs the outage once and the recovery once.
 * A 401 means the node was deleted (credential revoked): the agent stops with an error.
 *
 * --simulate-nodes N runs N virtual nodes (names NAME-00000 ...) in one process, spread over
 * T threads, each thread with one keep-alive connection; node i's heartbeats are offset by
 * i*interval/N so the load is even. This is what the control-plane scale benchmark drives.
 */
#include "agent/agent.h"
#include "agent/replicas.h"
#include "agent/tunnel.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/json.h"
#include "base/log.h"
#include "base/util.h"
#include "devices/devices.h"
#include "net/client.h"

#define MOD "agent"

static atomic_int g_stop;

static void on_signal(int sig) {
  (void)sig;
  atomic_store(&g_stop, 1);
}

typedef struct vnode {
  char name[128];
  char node_id[32];
  char credential[160];
  char state_path[4096];
  sc_devset *devs;
  sc_replicas *reps; /* engines this node runs (single-node agents only) */
  sc_tunnels *tunnels; /* --tunnel: connections to the server for those engines */
  int64_t next_ms; /* monotonic */
  int failures;
  bool away;       /* last heartbeat failed */
} vnode;

typedef struct stats {
  pthread_mutex_t mu;
  int64_t ok, failed;
  int64_t *lat_us; /* samples */
  size_t n, cap;
} stats;

typedef struct worker {
  const sc_agent_opts *o;
  vnode *nodes;
  int first, step, total; /* nodes first, first+step, ... < total */
  stats *st;
  int rc;
  sc_err err;
} worker;

/* Sleeps until the monotonic time `until_ms` or a stop signal. */
static void sleep_until(int64_t until_ms) {
  while (!atomic_load(&g_stop)) {
    int64_t d = until_ms - sc_mono_ms();
    if (d <= 0) return;
    struct timespec ts = {.tv_sec = d > 200 ? 0 : d / 1000, .tv_nsec = (d > 200 ? 200 : d % 1000) * 1000000L};
    nanosleep(&ts, NULL);
  }
}

static int64_t backoff_ms(int failures, int64_t cap_ms) {
  int64_t b = 1000LL << (failures < 10 ? failures : 10);
  if (b > cap_ms) b = cap_ms;
  return b * (80 + rand() % 41) / 100; /* ±20% jitter so a fleet does not retry in lockstep */
}

static json_t *devices_json(const sc_devset *set) {
  json_t *arr = json_array();
  for (size_t i = 0; i < sc_devset_count(set); i++) {
    const sc_device *d = sc_devset_get(set, i);
    int util = d->util_pct < 0 ? 0 : d->util_pct > 100 ? 100 : d->util_pct;
    uint64_t used = d->memory_used_mib > d->memory_total_mib ? d->memory_total_mib : d->memory_used_mib;
    json_array_append_new(arr, json_pack("{s:i,s:s,s:s,s:s,s:I,s:I,s:i,s:s,s:s}", "index", (int)i, "vendor", d->vendor,
                                         "chip", d->chip, "uuid", d->uuid, "memory_mib", (json_int_t)d->memory_total_mib,
                                         "memory_used_mib", (json_int_t)used, "utilization_pct", util, "health",
                                         sc_health_name(d->health), "driver", d->driver));
  }
  return arr;
}

static int load_state(vnode *v, bool o_name_given, sc_err *e) {
  char *buf = NULL;
  int rc = sc_read_file(v->state_path, 65536, &buf, NULL);
  if (rc == -ENOENT) return SC_ENOENT;
  if (rc) return sc_err_set(e, rc, "state", "cannot read %s: %s", v->state_path, sc_strerror(rc));
  json_t *j = NULL;
  sc_err why;
  rc = sc_json_parse_object(buf, strlen(buf), &j, &why);
  free(buf);
  if (rc) return sc_err_set(e, SC_EFORMAT, "state", "%s is corrupt (%s); move it away to join as a new node",
                            v->state_path, why.msg);
  const char *id = sc_json_str(j, "node_id", NULL), *cred = sc_json_str(j, "credential", NULL);
  const char *name = sc_json_str(j, "name", NULL);
  if (!id || !cred || !name || !sc_strlcpy(v->node_id, id, sizeof v->node_id) ||
      !sc_strlcpy(v->credential, cred, sizeof v->credential)) {
    json_decref(j);
    return sc_err_set(e, SC_EFORMAT, "state", "%s lacks node_id/credential/name; move it away to join as a new node",
                      v->state_path);
  }
  if (o_name_given && strcmp(name, v->name) != 0)
    sc_warn(MOD, "%s belongs to node '%s'; keeping that name (not '%s')", v->state_path, name, v->name);
  sc_strlcpy(v->name, name, sizeof v->name);
  json_decref(j);
  return 0;
}

static int save_state(const sc_agent_opts *o, vnode *v, sc_err *e) {
  json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:s}", "node_id", v->node_id, "name", v->name, "credential", v->credential,
                        "server", o->server, "region", o->region ? o->region : "");
  char *text = json_dumps(j, JSON_INDENT(2));
  json_decref(j);
  int rc = sc_write_file_atomic(v->state_path, text, strlen(text), 0600);
  free(text);
  if (rc) return sc_err_set(e, rc, "state", "cannot write %s: %s", v->state_path, sc_strerror(rc));
  return 0;
}

static int register_node(const sc_agent_opts *o, sc_client *cl, vnode *v, sc_err *e) {
  char host[128] = "";
  gethostname(host, sizeof host - 1);
  int failures = 0;
  sc_client_set_token(cl, o->join);
  while (!atomic_load(&g_stop)) {
    json_t *body = json_pack("{s:s,s:s,s:s,s:s,s:o}", "name", v->name, "region", o->region, "hostname", host,
                             "version", SC_VERSION, "devices", devices_json(v->devs));
    long status = 0;
    json_t *r = NULL;
    int rc = sc_client_call(cl, "POST", "/api/v1/agent/register", body, &status, &r, e);
    json_decref(body);
    if (rc == 0 && status == 201) {
      const char *id = sc_json_str(r, "id", ""), *cred = sc_json_str(r, "credential", "");
      sc_strlcpy(v->node_id, id, sizeof v->node_id);
      sc_strlcpy(v->credential, cred, sizeof v->credential);
      json_decref(r);
      if (!v->node_id[0] || !v->credential[0])
        return sc_err_set(e, SC_EFORMAT, "bad_reply", "server accepted the node but sent no credential");
      return save_state(o, v, e);
    }
    if (rc == 0 && status >= 400 && status < 500) {
      sc_err why;
      sc_client_reply_error(status, r, &why);
      json_decref(r);
      return sc_err_set(e, SC_EAUTH, why.code, "cannot join: %s", why.msg);
    }
    json_decref(r);
    int64_t wait = backoff_ms(failures++, 30000);
    sc_warn(MOD, "register %s: %s; retrying in %lld ms", v->name, rc ? e->msg : "server error", (long long)wait);
    sleep_until(sc_mono_ms() + wait);
  }
  return sc_err_set(e, SC_ESTATE, "stopped", "stopped before joining");
}

static void record(stats *st, bool ok, int64_t us) {
  pthread_mutex_lock(&st->mu);
  if (ok) {
    st->ok++;
    if (st->n == st->cap) {
      st->cap = st->cap ? st->cap * 2 : 4096;
      st->lat_us = sc_xrealloc(st->lat_us, st->cap * sizeof *st->lat_us);
    }
    st->lat_us[st->n++] = us;
  } else {
    st->failed++;
  }
  pthread_mutex_unlock(&st->mu);
}

/* One heartbeat; returns 0, SC_EUNAVAIL (retry later) or SC_EAUTH (credential revoked). */
static int heartbeat(const sc_agent_opts *o, sc_client *cl, vnode *v, stats *st, sc_err *e) {
  sc_devices_refresh(v->devs, sc_wall_ms());
  json_t *body = json_pack("{s:o,s:o,s:s}", "devices", devices_json(v->devs), "replicas",
                           v->reps ? sc_replicas_report(v->reps) : json_array(), "version", SC_VERSION);
  sc_client_set_token(cl, v->credential);
  long status = 0;
  json_t *r = NULL;
  int64_t t0 = sc_mono_ns();
  int rc = sc_client_call(cl, "POST", "/api/v1/agent/heartbeat", body, &status, &r, e);
  int64_t us = (sc_mono_ns() - t0) / 1000;
  json_decref(body);
  (void)o;
  if (rc == 0 && status == 200) {
    const json_t *want = json_object_get(r, "replicas");
    if (v->reps && json_is_array(want)) sc_replicas_sync(v->reps, want);
    json_decref(r);
    record(st, true, us);
    return 0;
  }
  record(st, false, us);
  if (rc == 0 && status == 401) {
    sc_err why;
    sc_client_reply_error(status, r, &why);
    json_decref(r);
    return sc_err_set(e, SC_EAUTH, "revoked", "node %s (%s): the server no longer accepts its credential (%s); "
                      "the node was deleted. Remove %s to join again with a new token.",
                      v->name, v->node_id, why.msg, v->state_path);
  }
  if (rc == 0) {
    sc_client_reply_error(status, r, e);
    json_decref(r);
  }
  return SC_EUNAVAIL;
}

/* Sends v's heartbeat and schedules the next one: after the interval (never bursting to catch up
 * after a stall), or with backoff while the server is away; logs the outage and the recovery once.
 * Returns false when the agent must stop (the node's credential was revoked). */
static bool beat(worker *w, sc_client *cl, vnode *v, int64_t interval) {
  sc_err e;
  int rc = heartbeat(w->o, cl, v, w->st, &e);
  if (rc == SC_EAUTH) {
    w->rc = rc;
    w->err = e;
    atomic_store(&g_stop, 1);
    return false;
  }
  if (rc) {
    if (!v->away) sc_warn(MOD, "node %s: heartbeat failed: %s; retrying with backoff", v->name, e.msg);
    v->away = true;
    v->next_ms = sc_mono_ms() + backoff_ms(v->failures++, interval);
    return true;
  }
  if (v->away) sc_info(MOD, "node %s: server reachable again after %d failed heartbeats", v->name, v->failures);
  v->away = false;
  v->failures = 0;
  v->next_ms += interval;
  if (v->next_ms < sc_mono_ms()) v->next_ms = sc_mono_ms() + interval;
  return true;
}

/* Keeps tunnels for the ready replicas. When one just became ready, waits (up to 2 s) for its
 * first tunnel before the heartbeat reports it, so the gateway never routes to a replica it has no
 * connection to. */
static void sync_tunnels(vnode *v, bool changed) {
  sc_tunnel_target tt[64];
  int n = sc_replicas_ready_ports(v->reps, tt, 64);
  sc_tunnels_set(v->tunnels, tt, n);
  if (!changed || v->away) return; /* no waiting while the server is away: nothing would link */
  for (int64_t until = sc_mono_ms() + 2000; sc_mono_ms() < until && !atomic_load(&g_stop);) {
    bool all = true;
    for (int i = 0; i < n && all; i++) all = sc_tunnels_linked(v->tunnels, tt[i].id) > 0;
    if (all) return;
    struct timespec ts = {0, 20 * 1000000};
    nanosleep(&ts, NULL);
  }
}

/* One real node: heartbeats plus the engines it runs. Wakes every 500 ms to supervise the engines
 * and heartbeats early when one changed state, so the gateway learns about it quickly. */
static void single_node_loop(worker *w) {
  const sc_agent_opts *o = w->o;
  vnode *v = &w->nodes[0];
  sc_client *cl = sc_client_create(o->server, NULL, 10000);
  int64_t interval = o->heartbeat_s * 1000;
  while (!atomic_load(&g_stop)) {
    int64_t now = sc_mono_ms();
    bool changed = v->reps && sc_replicas_tick(v->reps, sc_wall_ms());
    if (v->tunnels) sync_tunnels(v, changed);
    if (changed && !v->away) v->next_ms = now;
    if (now >= v->next_ms && !beat(w, cl, v, interval)) break;
    int64_t until = sc_mono_ms() + 500;
    sleep_until(until < v->next_ms ? until : v->next_ms);
  }
  sc_client_destroy(cl);
}

static void *worker_main(void *arg) {
  worker *w = arg;
  const sc_agent_opts *o = w->o;
  if (o->simulate_nodes <= 0) {
    single_node_loop(w);
    return NULL;
  }
  sc_client *cl = sc_client_create(o->server, NULL, 10000);
  int64_t interval = o->heartbeat_s * 1000;
  while (!atomic_load(&g_stop)) {
    /* the next due node of this worker */
    vnode *v = NULL;
    for (int i = w->first; i < w->total; i += w->step)
      if (!v || w->nodes[i].next_ms < v->next_ms) v = &w->nodes[i];
    if (!v) break;
    sleep_until(v->next_ms);
    if (atomic_load(&g_stop)) break;
    if (!beat(w, cl, v, interval)) break;
  }
  sc_client_destroy(cl);
  return NULL;
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

static void print_stats(stats *st, int64_t nodes, int64_t secs) {
  qsort(st->lat_us, st->n, sizeof *st->lat_us, cmp_i64);
  double p50 = st->n ? st->lat_us[st->n / 2] / 1000.0 : 0;
  double p99 = st->n ? st->lat_us[(size_t)((double)(st->n - 1) * 0.99)] / 1000.0 : 0;
  double mx = st->n ? st->lat_us[st->n - 1] / 1000.0 : 0;
  printf("{\"nodes\":%lld,\"seconds\":%lld,\"heartbeats_ok\":%lld,\"heartbeats_failed\":%lld,"
         "\"heartbeats_per_s\":%.1f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f}\n",
         (long long)nodes, (long long)secs, (long long)st->ok, (long long)st->failed,
         secs ? (double)st->ok / (double)secs : 0.0, p50, p99, mx);
  fflush(stdout);
}

int sc_agent_run(const sc_agent_opts *o, sc_err *e) {
  int rc = 0;
  int64_t n = o->simulate_nodes > 0 ? o->simulate_nodes : 1;
  vnode *nodes = sc_xcalloc((size_t)n, sizeof *nodes);
  stats st = {.mu = PTHREAD_MUTEX_INITIALIZER};
  sc_client *cl = NULL;
  worker *ws = NULL;
  pthread_t *th = NULL;
  int64_t nth = 0;
  char host[128] = "node";
  gethostname(host, sizeof host - 1);
  const char *base = o->name ? o->name : (o->simulate_nodes > 0 ? "sim" : host);
  if ((rc = sc_devices_spec_check(o->devices, e))) goto out;
  if ((rc = sc_mkdir_p(o->state_dir, 0700))) {
    rc = sc_err_set(e, rc, "state", "cannot create state dir %s: %s", o->state_dir, sc_strerror(rc));
    goto out;
  }
  atomic_store(&g_stop, 0);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
  srand((unsigned)(sc_mono_ns() ^ getpid()));

  cl = sc_client_create(o->server, NULL, 15000);
  int64_t joined = 0, resumed = 0;
  for (int64_t i = 0; i < n && !atomic_load(&g_stop); i++) {
    vnode *v = &nodes[i];
    int w1, w2;
    if (o->simulate_nodes > 0) {
      w1 = snprintf(v->name, sizeof v->name, "%s-%05lld", base, (long long)i);
      w2 = snprintf(v->state_path, sizeof v->state_path, "%s/node-%05lld.json", o->state_dir, (long long)i);
    } else {
      w1 = sc_strlcpy(v->name, base, sizeof v->name) ? 0 : (int)sizeof v->name;
      w2 = snprintf(v->state_path, sizeof v->state_path, "%s/node.json", o->state_dir);
    }
    if (w1 < 0 || w1 >= (int)sizeof v->name || w2 < 0 || w2 >= (int)sizeof v->state_path) {
      rc = sc_err_set(e, SC_EINVAL, "invalid_flag", "--name or --state is too long");
      goto out;
    }
    rc = load_state(v, o->name != NULL, e);
    if (rc && rc != SC_ENOENT) goto out;
    bool need_join = rc == SC_ENOENT;
    if ((rc = sc_devices_open(o->devices, sc_devices_seed(v->name), &v->devs, e))) goto out;
    if (need_join) {
      if (!o->join || !o->region) {
        rc = sc_err_set(e, SC_EINVAL, "missing_flag", "%s has no node credential: give --join TOKEN and --region R",
                        o->state_dir);
        goto out;
      }
      if ((rc = register_node(o, cl, v, e))) goto out;
      joined++;
      if (o->simulate_nodes <= 0)
        sc_info(MOD, "joined as node %s (%s) with %zu devices; credential saved in %s", v->name, v->node_id,
                sc_devset_count(v->devs), v->state_path);
    } else {
      resumed++;
      if (o->simulate_nodes <= 0)
        sc_info(MOD, "resuming as node %s (%s) from %s", v->name, v->node_id, v->state_path);
    }
  }
  if (atomic_load(&g_stop)) goto out;
  if (o->simulate_nodes <= 0) {
    char self[4096];
    ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
    self[sl > 0 ? sl : 0] = 0;
    sc_replicas_opts ro = {.state_dir = o->state_dir, .server = o->server, .credential = nodes[0].credential,
                           .advertise = o->advertise, .tunnel = o->tunnel, .self_exe = self, .devices = nodes[0].devs};
    nodes[0].reps = sc_replicas_create(&ro);
    if (o->tunnel) {
      if ((rc = sc_tunnels_start(o->server, nodes[0].credential, (int)o->tunnels, &nodes[0].tunnels, e))) goto out;
      sc_info(MOD, "engines are served through tunnels to %s (%lld per replica)", o->server, (long long)o->tunnels);
    }
  }
  if (o->simulate_nodes > 0)
    sc_info(MOD, "%lld virtual nodes up (%lld joined, %lld resumed), heartbeat every %llds", (long long)n,
            (long long)joined, (long long)resumed, (long long)o->heartbeat_s);
  int64_t start = sc_mono_ms(), interval = o->heartbeat_s * 1000;
  for (int64_t i = 0; i < n; i++) nodes[i].next_ms = start + (o->simulate_nodes > 0 ? i * interval / n : 0);
  nth = o->simulate_nodes > 0 ? (o->threads > n ? n : o->threads) : 1;
  ws = sc_xcalloc((size_t)nth, sizeof *ws);
  th = sc_xcalloc((size_t)nth, sizeof *th);
  for (int64_t t = 0; t < nth; t++) {
    ws[t] = (worker){.o = o, .nodes = nodes, .first = (int)t, .step = (int)nth, .total = (int)n, .st = &st};
    pthread_create(&th[t], NULL, worker_main, &ws[t]);
  }
  if (o->run_for_s > 0) {
    sleep_until(start + o->run_for_s * 1000);
    atomic_store(&g_stop, 1);
  }
  for (int64_t t = 0; t < nth; t++) pthread_join(th[t], NULL);
  for (int64_t t = 0; t < nth; t++)
    if (ws[t].rc) {
      rc = ws[t].rc;
      *e = ws[t].err;
    }
  if (o->run_for_s > 0) print_stats(&st, n, (sc_mono_ms() - start) / 1000);
  if (!rc) sc_info(MOD, "stopped");
out:
  sc_client_destroy(cl);
  for (int64_t i = 0; i < n; i++) {
    sc_tunnels_stop(nodes[i].tunnels);
    sc_replicas_destroy(nodes[i].reps);
    sc_devices_close(nodes[i].devs);
  }
  free(nodes);
  free(ws);
  free(th);
  free(st.lat_us);
  return rc;
}
