/*
 * meter.c — the usage writer: one thread with its own SQLite connection. Records queue up while
 * a transaction is being written and go into the next one together (group commit), so the cost
 * of a commit is shared by every request that finished meanwhile. Each record's callback runs on
 * the event loop after its transaction committed: the proxy sends a reply's last bytes only then,
 * so a client that received a complete answer has always been metered.
 *
 * Hand-over to the loop: a done list under the mutex plus an eventfd the loop watches.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"
#include "gateway/internal.h"

#define MOD "gateway"

typedef struct item {
  sc_usage_rec rec;
  gw_meter_cb cb;
  void *arg;
  bool stored;
  struct item *next;
} item;

struct gw_meter {
  pthread_t th;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  item *q, **qtail;       /* waiting to be written */
  item *done, **dtail;    /* written, callbacks pending */
  bool stop, started;
  bool waiting;           /* the writer sleeps on cv (else it will look at q before sleeping) */
  sc_store *db;
  int efd;
  struct event *ev;
  int64_t committed;      /* records stored (read under mu) */
};

static void *writer(void *arg) {
  gw_meter *m = arg;
  sc_usage_rec *batch = NULL;
  int cap = 0;
  pthread_mutex_lock(&m->mu);
  for (;;) {
    while (!m->q && !m->stop) {
      m->waiting = true;
      pthread_cond_wait(&m->cv, &m->mu);
      m->waiting = false;
    }
    if (!m->q && m->stop) break;
    item *head = m->q;
    m->q = NULL;
    m->qtail = &m->q;
    pthread_mutex_unlock(&m->mu);
    int n = 0;
    for (item *it = head; it; it = it->next) n++;
    if (n > cap) batch = sc_xrealloc(batch, sizeof *batch * (size_t)(cap = n * 2));
    int i = 0;
    for (item *it = head; it; it = it->next) batch[i++] = it->rec;
    int done = 0;
    sc_err e;
    int rc = 0;
    for (int attempt = 0; attempt < 5; attempt++) {
      if ((rc = sc_gws_usage_insert(m->db, batch, n, &done, &e)) == 0) break;
      sc_warn(MOD, "usage write failed (attempt %d): %s", attempt + 1, e.msg);
      usleep(20000);
    }
    if (rc == 0 && done != n) sc_warn(MOD, "usage: %d of %d records were already stored", n - done, n);
    for (item *it = head; it; it = it->next) it->stored = rc == 0;
    pthread_mutex_lock(&m->mu);
    m->committed += rc == 0 ? done : 0;
    item *last = head;
    while (last->next) last = last->next;
    *m->dtail = head;
    m->dtail = &last->next;
    pthread_mutex_unlock(&m->mu);
    uint64_t one = 1;
    ssize_t w = write(m->efd, &one, sizeof one);
    (void)w;
    pthread_mutex_lock(&m->mu);
  }
  pthread_mutex_unlock(&m->mu);
  free(batch);
  return NULL;
}

static void run_done(gw_meter *m) {
  pthread_mutex_lock(&m->mu);
  item *it = m->done;
  m->done = NULL;
  m->dtail = &m->done;
  pthread_mutex_unlock(&m->mu);
  while (it) {
    item *next = it->next;
    if (it->cb) it->cb(it->arg, it->stored);
    free(it);
    it = next;
  }
}

static void on_efd(evutil_socket_t fd, short what, void *arg) {
  (void)what;
  uint64_t v;
  ssize_t r = read(fd, &v, sizeof v);
  (void)r;
  run_done(arg);
}

int gw_meter_start(struct event_base *base, const char *db_path, gw_meter **out, sc_err *e) {
  gw_meter *m = sc_xcalloc(1, sizeof *m);
  int rc = 0;
  m->efd = -1;
  pthread_mutex_init(&m->mu, NULL);
  pthread_cond_init(&m->cv, NULL);
  m->qtail = &m->q;
  m->dtail = &m->done;
  if ((rc = sc_store_open(db_path, &m->db, e))) goto fail;
  m->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (m->efd < 0) {
    rc = sc_err_set(e, -errno, "io_error", "eventfd: %s", strerror(errno));
    goto fail;
  }
  m->ev = event_new(base, m->efd, EV_READ | EV_PERSIST, on_efd, m);
  event_add(m->ev, NULL);
  if (pthread_create(&m->th, NULL, writer, m) != 0) {
    rc = sc_err_set(e, SC_ENOMEM, "thread_failed", "cannot start the usage writer thread");
    goto fail;
  }
  m->started = true;
  *out = m;
  return 0;
fail:
  gw_meter_stop(m);
  return rc;
}

void gw_meter_submit(gw_meter *m, const sc_usage_rec *r, gw_meter_cb cb, void *arg) {
  item *it = sc_xmalloc(sizeof *it);
  it->rec = *r;
  it->cb = cb;
  it->arg = arg;
  it->stored = false;
  it->next = NULL;
  pthread_mutex_lock(&m->mu);
  *m->qtail = it;
  m->qtail = &it->next;
  if (m->waiting) pthread_cond_signal(&m->cv);
  pthread_mutex_unlock(&m->mu);
}

int64_t gw_meter_committed(gw_meter *m) {
  pthread_mutex_lock(&m->mu);
  int64_t v = m->committed;
  pthread_mutex_unlock(&m->mu);
  return v;
}

void gw_meter_stop(gw_meter *m) {
  if (!m) return;
  if (m->started) {
    pthread_mutex_lock(&m->mu);
    m->stop = true;
    pthread_cond_signal(&m->cv);
    pthread_mutex_unlock(&m->mu);
    pthread_join(m->th, NULL);
    run_done(m);
  }
  if (m->ev) event_free(m->ev);
  if (m->efd >= 0) close(m->efd);
  sc_store_close(m->db);
  pthread_mutex_destroy(&m->mu);
  pthread_cond_destroy(&m->cv);
  free(m);
}
