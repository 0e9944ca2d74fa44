/*
 * replicas.c — see replicas.h.
 *
 * Replica life on the node:
 *   (desired) ──start──> starting ──GET /health ok──> ready ──3 failed checks──┐
 *                ^          │ exited / not healthy within 5 min                │
 *                │          v                                                  v
 *                └─backoff─ failed <───────────── engine exited ──────────── (killed)
 * Backoff between restarts: 1, 2, 4 … 60 s; a replica that stays ready for a minute starts
 * over at 1 s. Engines get PR_SET_PDEATHSIG so they never outlive the agent; their output goes
 * to STATE/replicas/ID/engine.log.
 */
#include "agent/replicas.h"
#include "agent/tunnel.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "base/json.h"
#include "base/log.h"
#include "base/secret.h"
#include "base/util.h"

#define MOD "agent"
#define MAX_REPLICAS 64
#define START_TIMEOUT_MS (5 * 60 * 1000)

typedef struct rep {
  char id[40], deployment[64];
  json_t *spec;
  pid_t pid;
  char state[16], reason[256], endpoint[160];
  int restarts, failures, bad_checks;
  int64_t next_start_ms, started_ms, ready_since_ms;
  char dir[2048];
} rep;

struct sc_replicas {
  sc_replicas_opts o;
  char server[512], credential[192], advertise[128], self_exe[4096], state_dir[1024];
  rep v[MAX_REPLICAS];
  int n;
  CURL *curl;
};

sc_replicas *sc_replicas_create(const sc_replicas_opts *o) {
  sc_replicas *r = sc_xcalloc(1, sizeof *r);
  r->o = *o;
  sc_strlcpy(r->server, o->server, sizeof r->server);
  sc_strlcpy(r->credential, o->credential, sizeof r->credential);
  sc_strlcpy(r->advertise, o->advertise && !o->tunnel ? o->advertise : "127.0.0.1", sizeof r->advertise);
  sc_strlcpy(r->self_exe, o->self_exe, sizeof r->self_exe);
  sc_strlcpy(r->state_dir, o->state_dir, sizeof r->state_dir);
  r->curl = curl_easy_init();
  return r;
}

static void stop(rep *p) {
  if (p->pid > 0) {
    kill(-p->pid, SIGTERM);
    kill(p->pid, SIGTERM);
    for (int i = 0; i < 50; i++) {
      if (waitpid(p->pid, NULL, WNOHANG) == p->pid) {
        p->pid = 0;
        break;
      }
      usleep(100000);
    }
    if (p->pid > 0) {
      kill(-p->pid, SIGKILL);
      kill(p->pid, SIGKILL);
      waitpid(p->pid, NULL, 0);
    }
    p->pid = 0;
  }
}

static void forget(sc_replicas *r, int i) {
  stop(&r->v[i]);
  json_decref(r->v[i].spec);
  r->v[i] = r->v[--r->n];
}

void sc_replicas_destroy(sc_replicas *r) {
  if (!r) return;
  while (r->n) forget(r, r->n - 1);
  curl_easy_cleanup(r->curl);
  free(r);
}

int sc_replicas_ready_ports(const sc_replicas *r, sc_tunnel_target *out, int max) {
  int n = 0;
  for (int i = 0; i < r->n && n < max; i++) {
    const rep *p = &r->v[i];
    const char *colon = strrchr(p->endpoint, ':');
    if (p->pid <= 0 || strcmp(p->state, "ready") != 0 || !colon) continue;
    memset(&out[n], 0, sizeof out[n]);
    sc_strlcpy(out[n].id, p->id, sizeof out[n].id);
    out[n].port = atoi(colon + 1);
    if (out[n].port > 0) n++;
  }
  return n;
}

int sc_replicas_count(const sc_replicas *r) { return r->n; }

void sc_replicas_sync(sc_replicas *r, const json_t *desired) {
  /* stop what is no longer desired */
  for (int i = r->n - 1; i >= 0; i--) {
    bool want = false;
    size_t k;
    json_t *d;
    json_array_foreach(desired, k, d) want |= strcmp(sc_json_str(d, "id", ""), r->v[i].id) == 0;
    if (!want) {
      sc_info(MOD, "replica %s (%s): no longer desired; stopping", r->v[i].id, r->v[i].deployment);
      forget(r, i);
    }
  }
  size_t k;
  json_t *d;
  json_array_foreach(desired, k, d) {
    const char *id = sc_json_str(d, "id", "");
    bool have = false;
    for (int i = 0; i < r->n; i++) have |= strcmp(r->v[i].id, id) == 0;
    if (have || !*id || r->n == MAX_REPLICAS || strchr(id, '/') || strlen(id) >= sizeof r->v[0].id) continue;
    rep *p = &r->v[r->n++];
    memset(p, 0, sizeof *p);
    sc_strlcpy(p->id, id, sizeof p->id);
    sc_strlcpy(p->deployment, sc_json_str(d, "deployment", ""), sizeof p->deployment);
    p->spec = json_incref((json_t *)d);
    sc_strlcpy(p->state, "starting", sizeof p->state);
    snprintf(p->dir, sizeof p->dir, "%s/replicas/%s", r->state_dir, id);
    sc_mkdir_p(p->dir, 0700);
    sc_info(MOD, "replica %s (%s): desired; starting", p->id, p->deployment);
  }
}

/* ---------- model files ---------- */

static size_t write_fd(char *ptr, size_t size, size_t nmemb, void *ud) {
  int fd = *(int *)ud;
  size_t n = size * nmemb, done = 0;
  while (done < n) {
    ssize_t w = write(fd, ptr + done, n - done);
    if (w < 0) return 0;
    done += (size_t)w;
  }
  return n;
}

/* Makes sure STATE/models/SHA.gguf exists and is intact: downloads it (resuming a partial file)
 * and verifies its sha256; a file that fails the check is deleted, never used. */
static int fetch_model(sc_replicas *r, const char *sha, int64_t size, char *path, size_t cap, char *why, size_t whycap) {
  char dir[2048], part[2200];
  snprintf(dir, sizeof dir, "%s/models", r->state_dir);
  sc_mkdir_p(dir, 0700);
  snprintf(path, cap, "%s/%s.gguf", dir, sha);
  snprintf(part, sizeof part, "%s/%s.part", dir, sha);
  struct stat st;
  if (stat(path, &st) == 0 && st.st_size == size) return 0;
  int64_t have = stat(part, &st) == 0 ? st.st_size : 0;
  if (have > size) {
    unlink(part);
    have = 0;
  }
  int fd = open(part, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return snprintf(why, whycap, "cannot write %.150s: %s", part, strerror(errno)), SC_EIO;
  char url[1024], auth[256];
  snprintf(url, sizeof url, "%s/api/v1/agent/models/%s", r->server, sha);
  snprintf(auth, sizeof auth, "Authorization: Bearer %s", r->credential);
  struct curl_slist *h = curl_slist_append(NULL, auth);
  CURL *c = r->curl;
  curl_easy_reset(c);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_fd);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &fd);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 30L);
  if (have > 0) curl_easy_setopt(c, CURLOPT_RESUME_FROM_LARGE, (curl_off_t)have);
  CURLcode cc = curl_easy_perform(c);
  curl_slist_free_all(h);
  fsync(fd);
  close(fd);
  if (cc != CURLE_OK) {
    snprintf(why, whycap, "model download failed (will resume): %s", curl_easy_strerror(cc));
    return SC_EUNAVAIL;
  }
  if (stat(part, &st) != 0 || st.st_size != size) {
    snprintf(why, whycap, "model download incomplete: %lld of %lld bytes (will resume)", (long long)st.st_size, (long long)size);
    return SC_EUNAVAIL;
  }
  char got[65];
  if (sc_sha256_file(part, got, NULL) || strcmp(got, sha) != 0) {
    unlink(part);
    snprintf(why, whycap, "downloaded model fails its sha256 (%s); discarded", got);
    return SC_EFORMAT;
  }
  if (rename(part, path) < 0) return snprintf(why, whycap, "cannot store model: %s", strerror(errno)), SC_EIO;
  sc_info(MOD, "model %s downloaded and verified (%lld bytes)", sha, (long long)size);
  return 0;
}

/* ---------- launching ---------- */

static const struct {
  const char *driver, *var;
} visibility[] = {{"nvml", "CUDA_VISIBLE_DEVICES"}, {"dcmi", "ASCEND_RT_VISIBLE_DEVICES"}, {"efml", "TOPS_VISIBLE_DEVICES"}};

/* Engine templates for real accelerators: {model} {port} {name} {file} are replaced. */
static const struct {
  const char *engine, *cmd;
} templates[] = {
    {"vllm", "vllm serve {model} --host 0.0.0.0 --port {port} --served-model-name {name}"},
    {"sglang", "python3 -m sglang.launch_server --model-path {model} --host 0.0.0.0 --port {port} --served-model-name {name}"},
    {"llama.cpp", "llama-server -m {file} --host 0.0.0.0 --port {port} --alias {name}"},
    {"mindie", "mindie-llm-server --model {model} --port {port} --served-model-name {name}"},
};

static int add_arg(char **argv, int *n, int max, char *buf, size_t cap, size_t *used, const char *s) {
  size_t len = strlen(s) + 1;
  if (*n + 1 >= max || *used + len > cap) return SC_ETOOBIG;
  memcpy(buf + *used, s, len);
  argv[(*n)++] = buf + *used;
  *used += len;
  argv[*n] = NULL;
  return 0;
}

int sc_replicas_command(const json_t *spec, const sc_device *dev0, const int *vendor_idx, int ndev, const char *self_exe,
                        const char *model_path, int port, const char *port_file, char *buf, size_t cap, char **argv,
                        int maxargs, char *env, size_t envcap, char *why, size_t whycap) {
  const json_t *m = json_object_get(spec, "model");
  const char *kind = sc_json_str(m, "kind", ""), *name = sc_json_str(spec, "deployment", "model");
  size_t used = 0;
  int n = 0;
  char num[64];
  env[0] = 0;
  if (!dev0) return snprintf(why, whycap, "the replica's device is not on this node"), SC_EINVAL;
  bool sim = strcmp(dev0->driver, "sim") == 0, cpu = strcmp(dev0->driver, "cpu") == 0;
  if (sim || (cpu && strcmp(kind, "gguf") == 0)) {
    int rc = add_arg(argv, &n, maxargs, buf, cap, &used, self_exe);
    rc |= add_arg(argv, &n, maxargs, buf, cap, &used, "engine");
    if (sim) {
      double params = (double)sc_json_int(m, "params", 0);
      if (params <= 0) params = (double)sc_json_int(m, "weights_bytes", 0) / 2;
      if (params <= 0) return snprintf(why, whycap, "model has no parameter count to simulate"), SC_EINVAL;
      snprintf(num, sizeof num, "%.0f", params);
      rc |= add_arg(argv, &n, maxargs, buf, cap, &used, "--simulate");
      rc |= add_arg(argv, &n, maxargs, buf, cap, &used, dev0->chip);
      rc |= add_arg(argv, &n, maxargs, buf, cap, &used, "--sim-params");
      rc |= add_arg(argv, &n, maxargs, buf, cap, &used, num);
    } else {
      if (!model_path) return snprintf(why, whycap, "model file missing"), SC_EINVAL;
      rc |= add_arg(argv, &n, maxargs, buf, cap, &used, "--model");
      rc |= add_arg(argv, &n, maxargs, buf, cap, &used, model_path);
      snprintf(num, sizeof num, "%d", dev0->compute_units > 0 ? dev0->compute_units : 1);
      rc |= add_arg(argv, &n, maxargs, buf, cap, &used, "--threads");
      rc |= add_arg(argv, &n, maxargs, buf, cap, &used, num);
    }
    rc |= add_arg(argv, &n, maxargs, buf, cap, &used, "--listen");
    rc |= add_arg(argv, &n, maxargs, buf, cap, &used, "127.0.0.1:0");
    rc |= add_arg(argv, &n, maxargs, buf, cap, &used, "--port-file");
    rc |= add_arg(argv, &n, maxargs, buf, cap, &used, port_file);
    rc |= add_arg(argv, &n, maxargs, buf, cap, &used, "--model-name");
    rc |= add_arg(argv, &n, maxargs, buf, cap, &used, name);
    if (rc) return snprintf(why, whycap, "command line too long"), SC_ETOOBIG;
    return 0;
  }
  if (cpu) return snprintf(why, whycap, "an external engine cannot run on a cpu device"), SC_EINVAL;
  const char *engine = strcmp(kind, "gguf") == 0 ? "llama.cpp" : sc_json_str(m, "engine", "");
  const char *tmpl = NULL;
  for (size_t i = 0; i < sizeof templates / sizeof templates[0]; i++)
    if (strcmp(templates[i].engine, engine) == 0) tmpl = templates[i].cmd;
  if (!tmpl) return snprintf(why, whycap, "no engine template '%s'", engine), SC_EINVAL;
  char line[2048], word[512];
  sc_strlcpy(line, tmpl, sizeof line);
  char *save = NULL;
  for (char *w = strtok_r(line, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
    const char *v = w;
    if (strcmp(w, "{model}") == 0) v = sc_json_str(m, "name", "");
    else if (strcmp(w, "{name}") == 0) v = name;
    else if (strcmp(w, "{file}") == 0) v = model_path ? model_path : "";
    else if (strcmp(w, "{port}") == 0) {
      snprintf(word, sizeof word, "%d", port);
      v = word;
    }
    if (add_arg(argv, &n, maxargs, buf, cap, &used, v)) return snprintf(why, whycap, "command line too long"), SC_ETOOBIG;
  }
  for (size_t i = 0; i < sizeof visibility / sizeof visibility[0]; i++) {
    if (strcmp(visibility[i].driver, dev0->driver) != 0) continue;
    size_t u = (size_t)snprintf(env, envcap, "%s=", visibility[i].var);
    for (int k = 0; k < ndev && u < envcap; k++) u += (size_t)snprintf(env + u, envcap - u, "%s%d", k ? "," : "", vendor_idx[k]);
  }
  return 0;
}

static int free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t l = sizeof a;
  int port = 0;
  if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && getsockname(fd, (struct sockaddr *)&a, &l) == 0)
    port = ntohs(a.sin_port);
  if (fd >= 0) close(fd);
  return port;
}

static void fail(rep *p, int64_t now, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail(rep *p, int64_t now, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(p->reason, sizeof p->reason, fmt, ap);
  va_end(ap);
  sc_strlcpy(p->state, "failed", sizeof p->state);
  p->endpoint[0] = 0;
  int64_t b = 1000LL << (p->failures < 6 ? p->failures : 6);
  p->failures++;
  p->next_start_ms = now + b;
  sc_warn(MOD, "replica %s: %s; restarting in %lld ms", p->id, p->reason, (long long)b);
}

static void start(sc_replicas *r, rep *p, int64_t now) {
  char why[256] = "";
  const json_t *devs = json_object_get(p->spec, "devices");
  int idx[16], vidx[16], nd = 0;
  size_t k;
  json_t *d;
  json_array_foreach(devs, k, d) if (nd < 16) idx[nd++] = (int)json_integer_value(d);
  const sc_device *dev0 = nd ? sc_devset_get(r->o.devices, (size_t)idx[0]) : NULL;
  for (int i = 0; i < nd && dev0; i++) {
    const sc_device *di = sc_devset_get(r->o.devices, (size_t)idx[i]);
    vidx[i] = 0;
    for (int j = 0; di && j < idx[i]; j++) vidx[i] += strcmp(sc_devset_get(r->o.devices, (size_t)j)->driver, di->driver) == 0;
  }
  const json_t *m = json_object_get(p->spec, "model");
  char model_path[4200] = "";
  bool need_file = strcmp(sc_json_str(m, "kind", ""), "gguf") == 0 && dev0 && strcmp(dev0->driver, "sim") != 0;
  if (need_file) {
    int rc = fetch_model(r, sc_json_str(m, "sha256", ""), sc_json_int(m, "size_bytes", 0), model_path, sizeof model_path,
                         why, sizeof why);
    if (rc) return fail(p, now, "%s", why);
  }
  char port_file[4200], logp[4200];
  snprintf(port_file, sizeof port_file, "%s/port", p->dir);
  snprintf(logp, sizeof logp, "%s/engine.log", p->dir);
  unlink(port_file);
  int port = free_port();
  char buf[8192], env[256], *argv[64];
  if (sc_replicas_command(p->spec, dev0, vidx, nd, r->self_exe, need_file ? model_path : NULL, port, port_file, buf,
                          sizeof buf, argv, 64, env, sizeof env, why, sizeof why))
    return fail(p, now, "%s", why);
  bool builtin = strcmp(argv[0], r->self_exe) == 0;
  if (!builtin) {
    snprintf(p->endpoint, sizeof p->endpoint, "http://%s:%d", r->advertise, port);
  } else {
    p->endpoint[0] = 0;
  }
  pid_t pid = fork();
  if (pid < 0) return fail(p, now, "fork: %s", strerror(errno));
  if (pid == 0) {
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    int fd = open(logp, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    int nul = open("/dev/null", O_RDONLY);
    if (nul >= 0) dup2(nul, 0);
    if (env[0]) putenv(env);
    execvp(argv[0], argv);
    fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  p->pid = pid;
  p->started_ms = now;
  p->bad_checks = 0;
  sc_strlcpy(p->state, "starting", sizeof p->state);
  p->reason[0] = 0;
  sc_info(MOD, "replica %s (%s): started %s (pid %d), log %s", p->id, p->deployment, argv[0], (int)pid, logp);
}

static bool healthy(sc_replicas *r, const char *endpoint) {
  char url[256];
  snprintf(url, sizeof url, "%s/health", endpoint);
  CURL *c = r->curl;
  curl_easy_reset(c);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 1000L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_NOBODY, 0L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_fd);
  static int devnull = -1;
  if (devnull < 0) devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &devnull);
  long code = 0;
  if (curl_easy_perform(c) != CURLE_OK) return false;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
  return code == 200;
}

bool sc_replicas_tick(sc_replicas *r, int64_t now) {
  bool changed = false;
  for (int i = 0; i < r->n; i++) {
    rep *p = &r->v[i];
    char before[16];
    sc_strlcpy(before, p->state, sizeof before);
    int status;
    if (p->pid > 0 && waitpid(p->pid, &status, WNOHANG) == p->pid) {
      p->pid = 0;
      p->restarts++;
      if (WIFSIGNALED(status)) fail(p, now, "engine killed by signal %d", WTERMSIG(status));
      else fail(p, now, "engine exited with status %d (see %s/engine.log)", WEXITSTATUS(status), p->dir);
    }
    if (p->pid == 0 && now >= p->next_start_ms) start(r, p, now);
    if (p->pid > 0 && strcmp(p->state, "starting") == 0) {
      if (!p->endpoint[0]) {
        char pf[4200], *txt = NULL;
        snprintf(pf, sizeof pf, "%s/port", p->dir);
        if (sc_read_file(pf, 256, &txt, NULL) == 0) {
          sc_trim(txt);
          const char *colon = strrchr(txt, ':');
          if (colon) snprintf(p->endpoint, sizeof p->endpoint, "http://%s:%s", r->advertise, colon + 1);
          free(txt);
        }
      }
      if (p->endpoint[0] && healthy(r, p->endpoint)) {
        sc_strlcpy(p->state, "ready", sizeof p->state);
        p->ready_since_ms = now;
        sc_info(MOD, "replica %s (%s): ready at %s", p->id, p->deployment, p->endpoint);
      } else if (now - p->started_ms > START_TIMEOUT_MS) {
        stop(p);
        fail(p, now, "engine did not become healthy within %d s", START_TIMEOUT_MS / 1000);
      }
    } else if (p->pid > 0 && strcmp(p->state, "ready") == 0) {
      if (healthy(r, p->endpoint)) {
        p->bad_checks = 0;
        if (now - p->ready_since_ms > 60000) p->failures = 0;
      } else if (++p->bad_checks >= 3) {
        stop(p);
        p->restarts++;
        fail(p, now, "engine failed 3 health checks");
      }
    }
    changed |= strcmp(before, p->state) != 0;
  }
  return changed;
}

json_t *sc_replicas_report(const sc_replicas *r) {
  json_t *a = json_array();
  for (int i = 0; i < r->n; i++) {
    const rep *p = &r->v[i];
    char tun[64];
    const char *ep = strcmp(p->state, "failed") == 0 ? "" : p->endpoint;
    if (r->o.tunnel && ep[0]) {
      snprintf(tun, sizeof tun, "tunnel://%s", p->id);
      ep = tun;
    }
    json_array_append_new(a, json_pack("{s:s,s:s,s:s,s:s,s:i}", "id", p->id, "state", p->state, "reason", p->reason,
                                       "endpoint", ep, "restarts", p->restarts));
  }
  return a;
}
