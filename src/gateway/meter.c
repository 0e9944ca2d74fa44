/*
 * meter.c — the usage writer: group commit on the event loop. Records finished during one turn
 * of the loop are queued; the first one makes the commit event active, which libevent runs after
 * the callbacks already due in that turn, so everything the turn finished goes into one
 * transaction (statements prepared once, no fsync: WAL with synchronous=NORMAL). Each record's
 * callback runs right after its transaction committed: the proxy sends a reply's last bytes
 * only then, so a client that received a complete answer has always been metered.
 *
 * No thread hand-off on the request path (a commit is tens of microseconds; waiting for another
 * thread to be scheduled on a busy machine is milliseconds). The checkpointer thread copies the
 * WAL into the database file every CKPT_MS, so the loop never runs a checkpoint's fsync.
 *
 * A failed commit (disk full, I/O error) is retried on a timer; after MAX_TRIES the records'
 * callbacks run with stored=false and the failure is logged for each request.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "base/util.h"
#include "gateway/internal.h"

#define MOD "gateway"
#define CKPT_MS 500
#define RETRY_MS 20
#define MAX_TRIES 5

typedef struct item {
  sc_usage_rec rec;
  gw_meter_cb cb;
  void *arg;
  struct item *next;
} item;

struct gw_meter {
  struct event_base *base;
  sc_store *db;
  sc_gws_writer *w;
  struct event *ev;         /* the commit: made active by the first record of a batch, or a retry timer */
  bool armed;
  item *q, **qtail;         /* waiting for the next commit */
  int nq;
  sc_usage_rec *batch;
  int cap, tries;
  int64_t committed;
  /* checkpointer */
  char *path;
  pthread_t th;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool stop, started;
};

/* Commits what is queued and runs the callbacks. */
static void commit(gw_meter *m) {
  item *head = m->q;
  int n = m->nq;
  if (!n) return;
  if (n > m->cap) m->batch = sc_xrealloc(m->batch, sizeof *m->batch * (size_t)(m->cap = n * 2));
  int i = 0;
  for (item *it = head; it; it = it->next) m->batch[i++] = it->rec;
  int done = 0;
  sc_err e;
  int rc = sc_gws_writer_insert(m->w, m->batch, n, &done, &e);
  if (rc && ++m->tries < MAX_TRIES) {
    sc_warn(MOD, "usage write failed (attempt %d): %s; retrying", m->tries, e.msg);
    struct timeval tv = {0, RETRY_MS * 1000};
    m->armed = true;
    event_add(m->ev, &tv);
    return;
  }
  if (rc) sc_warn(MOD, "usage write failed %d times: %s; %d records are lost", m->tries, e.msg, n);
  else if (done != n) sc_warn(MOD, "usage: %d of %d records were already stored", n - done, n);
  m->tries = 0;
  m->committed += rc == 0 ? done : 0;
  m->q = NULL;
  m->qtail = &m->q;
  m->nq = 0;
  while (head) { /* callbacks may queue new records: they go into the next batch */
    item *next = head->next;
    if (head->cb) head->cb(head->arg, rc == 0);
    free(head);
    head = next;
  }
}

static void on_commit(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  gw_meter *m = arg;
  m->armed = false;
  commit(m);
}

static void *checkpointer(void *arg) {
  gw_meter *m = arg;
  sc_store *db = NULL;
  sc_err e;
  if (sc_store_open(m->path, &db, &e)) {
    sc_warn(MOD, "checkpointer: %s; the WAL is checkpointed by other connections only", e.msg);
    return NULL;
  }
  pthread_mutex_lock(&m->mu);
  while (!m->stop) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += CKPT_MS * 1000000L;
    ts.tv_sec += ts.tv_nsec / 1000000000L;
    ts.tv_nsec %= 1000000000L;
    pthread_cond_timedwait(&m->cv, &m->mu, &ts);
    if (m->stop) break;
    pthread_mutex_unlock(&m->mu);
    if (sc_store_checkpoint(db)) sc_warn(MOD, "WAL checkpoint failed");
    pthread_mutex_lock(&m->mu);
  }
  pthread_mutex_unlock(&m->mu);
  sc_store_checkpoint(db);
  sc_store_close(db);
  return NULL;
}

int gw_meter_start(struct event_base *base, const char *db_path, gw_meter **out, sc_err *e) {
  gw_meter *m = sc_xcalloc(1, sizeof *m);
  m->base = base;
  m->qtail = &m->q;
  m->path = sc_xstrdup(db_path);
  pthread_mutex_init(&m->mu, NULL);
  pthread_cond_init(&m->cv, NULL);
  int rc = sc_store_open(db_path, &m->db, e);
  if (!rc) rc = sc_gws_writer_open(m->db, &m->w, e);
  if (rc) goto fail;
  m->ev = event_new(base, -1, 0, on_commit, m);
  if (pthread_create(&m->th, NULL, checkpointer, m) != 0) {
    rc = sc_err_set(e, SC_ENOMEM, "thread_failed", "cannot start the WAL checkpointer thread");
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
  it->next = NULL;
  *m->qtail = it;
  m->qtail = &it->next;
  m->nq++;
  if (!m->armed) {
    m->armed = true;
    event_active(m->ev, EV_TIMEOUT, 0);
  }
}

int64_t gw_meter_committed(gw_meter *m) { return m->committed; }

void gw_meter_stop(gw_meter *m) {
  if (!m) return;
  for (int i = 0; m->w && m->nq && i < MAX_TRIES; i++) commit(m); /* what is queued is written now */
  if (m->started) {
    pthread_mutex_lock(&m->mu);
    m->stop = true;
    pthread_cond_signal(&m->cv);
    pthread_mutex_unlock(&m->mu);
    pthread_join(m->th, NULL);
  }
  if (m->ev) event_free(m->ev);
  sc_gws_writer_close(m->w);
  sc_store_close(m->db);
  pthread_mutex_destroy(&m->mu);
  pthread_cond_destroy(&m->cv);
  free(m->batch);
  free(m->path);
  free(m);
}
