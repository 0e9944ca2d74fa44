/*
 * metrics.c — /metrics in the Prometheus text exposition format (version 0.0.4): nodes by
 * state, devices by vendor/chip/health, heartbeat and registration counters, and latency
 * histograms of API requests and of heartbeat handling (cumulative buckets, _sum, _count).
 */
#include <event2/buffer.h>
#include <stdio.h>
#include <string.h>

#include "control/internal.h"

const double ctl_hist_bounds[CTL_HIST_BUCKETS] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                                  0.01,   0.025,   0.05,   0.1,   0.5,    1.0};

void ctl_metrics_observe(int64_t *hist, double *sum, double seconds) {
  int i = 0;
  while (i < CTL_HIST_BUCKETS && seconds > ctl_hist_bounds[i]) i++;
  hist[i]++;
  *sum += seconds;
}

static void hist_out(struct evbuffer *b, const char *name, const char *help, const int64_t *hist, double sum) {
  evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
  int64_t cum = 0;
  for (int i = 0; i < CTL_HIST_BUCKETS; i++) {
    cum += hist[i];
    evbuffer_add_printf(b, "%s_bucket{le=\"%g\"} %lld\n", name, ctl_hist_bounds[i], (long long)cum);
  }
  cum += hist[CTL_HIST_BUCKETS];
  evbuffer_add_printf(b, "%s_bucket{le=\"+Inf\"} %lld\n%s_sum %.6f\n%s_count %lld\n", name, (long long)cum, name, sum,
                      name, (long long)cum);
}

typedef struct {
  char vendor[32], chip[64], health[16];
  int count;
} dev_group;

static void label_escape(const char *in, char *out, size_t cap) {
  size_t j = 0;
  for (; *in && j + 2 < cap; in++) {
    if (*in == '"' || *in == '\\') out[j++] = '\\';
    if (*in == '\n') {
      out[j++] = '\\';
      out[j++] = 'n';
      continue;
    }
    out[j++] = *in;
  }
  out[j] = 0;
}

void ctl_metrics_reply(ctl *c, sc_hreq *req) {
  struct evbuffer *b = evbuffer_new();
  static const char *const states[] = {"ready", "down", "cordoned", "draining"};
  int counts[4] = {0};
  dev_group groups[128];
  int ngroups = 0;
  for (int i = 0; i < c->reg.n; i++) {
    const ctl_node *n = c->reg.nodes[i];
    int s = strcmp(n->st.state, "down") == 0 ? 1
            : strcmp(n->st.admin_state, "cordoned") == 0 ? 2
            : strcmp(n->st.admin_state, "draining") == 0 ? 3
                                                          : 0;
    counts[s]++;
    for (int d = 0; d < n->st.ndevices; d++) {
      const sc_store_device *dv = &n->st.devices[d];
      int g = 0;
      while (g < ngroups && !(strcmp(groups[g].vendor, dv->vendor) == 0 && strcmp(groups[g].chip, dv->chip) == 0 &&
                              strcmp(groups[g].health, dv->health) == 0))
        g++;
      if (g == ngroups) {
        if (ngroups == (int)(sizeof groups / sizeof groups[0])) continue;
        memcpy(groups[g].vendor, dv->vendor, sizeof groups[g].vendor);
        memcpy(groups[g].chip, dv->chip, sizeof groups[g].chip);
        memcpy(groups[g].health, dv->health, sizeof groups[g].health);
        groups[g].count = 0;
        ngroups++;
      }
      groups[g].count++;
    }
  }
  evbuffer_add_printf(b, "# HELP suanchi_nodes Nodes by state.\n# TYPE suanchi_nodes gauge\n");
  for (int s = 0; s < 4; s++) evbuffer_add_printf(b, "suanchi_nodes{state=\"%s\"} %d\n", states[s], counts[s]);
  evbuffer_add_printf(b, "# HELP suanchi_devices Devices by vendor, chip and health.\n# TYPE suanchi_devices gauge\n");
  for (int g = 0; g < ngroups; g++) {
    char v[80], ch[160], h[40];
    label_escape(groups[g].vendor, v, sizeof v);
    label_escape(groups[g].chip, ch, sizeof ch);
    label_escape(groups[g].health, h, sizeof h);
    evbuffer_add_printf(b, "suanchi_devices{vendor=\"%s\",chip=\"%s\",health=\"%s\"} %d\n", v, ch, h, groups[g].count);
  }
  evbuffer_add_printf(b,
                      "# HELP suanchi_heartbeats_total Heartbeats accepted.\n# TYPE suanchi_heartbeats_total counter\n"
                      "suanchi_heartbeats_total %lld\n"
                      "# HELP suanchi_registrations_total Nodes registered.\n# TYPE suanchi_registrations_total counter\n"
                      "suanchi_registrations_total %lld\n"
                      "# HELP suanchi_tunnels_total Tunnel connections agents behind NAT opened.\n"
                      "# TYPE suanchi_tunnels_total counter\nsuanchi_tunnels_total %lld\n"
                      "# HELP suanchi_api_requests_total API requests.\n# TYPE suanchi_api_requests_total counter\n"
                      "suanchi_api_requests_total %lld\n"
                      "# HELP suanchi_api_errors_total API requests answered with 4xx or 5xx.\n"
                      "# TYPE suanchi_api_errors_total counter\nsuanchi_api_errors_total %lld\n",
                      (long long)c->m.heartbeats_total, (long long)c->m.registrations_total, (long long)c->m.tunnels_total,
                      (long long)c->m.api_requests_total, (long long)c->m.api_errors_total);
  hist_out(b, "suanchi_api_request_duration_seconds", "Time to handle an /api/v1 request (all routes).", c->m.hist,
           c->m.hist_sum);
  hist_out(b, "suanchi_heartbeat_duration_seconds", "Time to handle one heartbeat.", c->m.hb_hist, c->m.hb_hist_sum);
  if (c->gw) sc_gateway_metrics(c->gw, b);
  size_t n = evbuffer_get_length(b);
  sc_hreq_reply(req, 200, "text/plain; version=0.0.4", evbuffer_pullup(b, -1), n);
  evbuffer_free(b);
}
