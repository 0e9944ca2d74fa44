/*
 * meter.c — the usage writer: a journal appended on the event loop, ingested into the store by a
 * background thread.
 *
 *   request finished ── record queued ──> end of the loop turn: the turn's records are appended to
 *   the journal with one write() ──> callbacks: the replies' last bytes go out
 *                                        │
 *   ingester thread (every INGEST_MS): inserts what was appended into the `usage` table, in
 *   transactions of up to TXN_RECORDS, and deletes each journal segment once the store holds it.
 *
 * A record is committed when its write() returned: it is in the kernel's page cache and survives a
 * crash or kill of the process — the same guarantee as a SQLite commit in WAL mode with
 * synchronous=NORMAL (neither is synced to the device per request). The client gets its last bytes
 * only after that, so a client that received a complete answer has always been metered. The loop
 * runs no SQL: records reach SQLite in big batches, on a thread scheduled SCHED_IDLE so that serving
 * comes first when the cores are busy (it runs at normal priority while a usage query waits for
 * it). request_id is the table's primary key, so a record ingested twice (a crash between the insert
 * and the segment's deletion) is stored once.
 *
 * The journal is a sequence of segments DATA/usage.journal.<seq>; the loop starts a new one when
 * the current one passes SEG_BYTES. gw_meter_start ingests and deletes whatever segments a previous
 * process left, in order, before anything else runs; a torn record at the end of the last one (the
 * process died inside a write) is dropped with a warning.
 *
 * Record format: u32 magic "SCU1" | u32 payload length | payload | u32 CRC-32 of the payload.
 * payload: request_id tenant key_id deployment model replica node_id owner region chip status
 * (each u8 length + bytes), ts prompt_tokens completion_tokens (i64), ttft_ms duration_ms (f64),
 * all in host byte order (the file never leaves the machine).
 *
 * Threads: submit/stop/sync run on the loop thread, the ingester on its own. The loop never waits
 * for the ingester: positions are packed (segment << 40 | offset) into atomics — `appended` is
 * published by the loop after each write, `ingested` by the ingester after each transaction — and
 * only the loop writes segments, only the ingester deletes them. `mu` serves the ingester's sleeps
 * and sync's wait.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"
#include "gateway/internal.h"

#define MOD "gateway"
#define INGEST_MS 10
#define RETRY_MS 20
#define MAX_TRIES 5
#define SEG_BYTES (8 << 20)     /* a new journal segment after this many bytes */
#define READ_CHUNK (4 << 20)
#define TXN_RECORDS 2048        /* per transaction: bounds how long the store's write lock is held */
#define MAGIC 0x31554353u       /* "SCU1" */
#define OFF_BITS 40
#define POS(seg, off) (((uint64_t)(seg) << OFF_BITS) | (uint64_t)(off))
#define POS_SEG(p) ((int64_t)((p) >> OFF_BITS))
#define POS_OFF(p) ((int64_t)((p) & ((UINT64_C(1) << OFF_BITS) - 1)))

typedef struct item {
  sc_usage_rec rec;
  gw_meter_cb cb;
  void *arg;
  struct item *next;
} item;

struct gw_meter {
  struct event_base *base;
  char *dir, *dbpath;
  /* loop side */
  int jfd;                  /* the current segment */
  int64_t seg, len;         /* its number and length */
  struct event *ev;         /* the append: made active by the first record of a turn, or a retry timer */
  bool armed, stopping;
  item *q, **qtail;
  item *spare;              /* items kept for reuse */
  int nspare, nq, tries;
  char *buf;
  size_t cap;
  int64_t committed;        /* records journaled */
  /* shared */
  _Atomic uint64_t appended; /* POS after the last complete append */
  _Atomic uint64_t ingested; /* POS up to which the store holds the journal */
  pthread_mutex_t mu;
  pthread_cond_t cv, done_cv;
  bool stop, kick;          /* under mu */
  pthread_t th;
  bool started;
  _Atomic bool dead;        /* the ingester could not start: syncs do not wait */
};

static void seg_path(const char *dir, int64_t seg, char *out, size_t cap) {
  snprintf(out, cap, "%s/usage.journal.%lld", dir, (long long)seg);
}

/* ---------- encoding ---------- */

/* CRC-32 (IEEE), slicing by 8. */
static uint32_t crc_table[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    crc_table[0][i] = c;
  }
  for (int t = 1; t < 8; t++)
    for (int i = 0; i < 256; i++) crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xff];
}

static uint32_t crc32(const void *p, size_t n) {
  pthread_once(&crc_once, crc_init);
  const unsigned char *s = p;
  uint32_t c = 0xFFFFFFFFu;
  while (n >= 8) {
    uint32_t a, b;
    memcpy(&a, s, 4);
    memcpy(&b, s + 4, 4);
    a ^= c;
    c = crc_table[7][a & 0xff] ^ crc_table[6][(a >> 8) & 0xff] ^ crc_table[5][(a >> 16) & 0xff] ^ crc_table[4][a >> 24] ^
        crc_table[3][b & 0xff] ^ crc_table[2][(b >> 8) & 0xff] ^ crc_table[1][(b >> 16) & 0xff] ^ crc_table[0][b >> 24];
    s += 8;
    n -= 8;
  }
  while (n--) c = crc_table[0][(c ^ *s++) & 0xff] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

#define REC_MAX 1024 /* 11 strings of < 64 bytes + 5 numbers + framing fits */

static size_t put_str(char *o, const char *s) {
  size_t n = strnlen(s, 255);
  o[0] = (char)n;
  memcpy(o + 1, s, n);
  return n + 1;
}

size_t gw_journal_encode(const sc_usage_rec *r, char *out) {
  char *p = out + 8;
  const char *const strs[] = {r->request_id, r->tenant, r->key_id, r->deployment, r->model, r->replica,
                              r->node_id,    r->owner,  r->region, r->chip,       r->status};
  for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) p += put_str(p, strs[i]);
  memcpy(p, &r->ts, 8);
  memcpy(p + 8, &r->prompt_tokens, 8);
  memcpy(p + 16, &r->completion_tokens, 8);
  memcpy(p + 24, &r->ttft_ms, 8);
  memcpy(p + 32, &r->duration_ms, 8);
  p += 40;
  uint32_t len = (uint32_t)(p - out - 8), magic = MAGIC, crc = crc32(out + 8, len);
  memcpy(out, &magic, 4);
  memcpy(out + 4, &len, 4);
  memcpy(p, &crc, 4);
  return (size_t)(p + 4 - out);
}

static bool get_str(const char **p, const char *end, char *dst, size_t cap) {
  if (*p >= end) return false;
  size_t n = (unsigned char)**p;
  if (n >= cap || (size_t)(end - *p) < n + 1) return false;
  memcpy(dst, *p + 1, n);
  dst[n] = 0;
  *p += n + 1;
  return true;
}

int gw_journal_decode(const char *in, size_t n, sc_usage_rec *r, size_t *used) {
  uint32_t magic, len, crc;
  if (n < 12) return 0;
  memcpy(&magic, in, 4);
  memcpy(&len, in + 4, 4);
  if (magic != MAGIC || len > REC_MAX) return -1;
  if (n < (size_t)len + 12) return 0;
  memcpy(&crc, in + 8 + len, 4);
  if (crc != crc32(in + 8, len)) return -1;
  const char *p = in + 8, *end = in + 8 + len;
  memset(r, 0, sizeof *r);
  bool ok = get_str(&p, end, r->request_id, sizeof r->request_id) && get_str(&p, end, r->tenant, sizeof r->tenant) &&
            get_str(&p, end, r->key_id, sizeof r->key_id) && get_str(&p, end, r->deployment, sizeof r->deployment) &&
            get_str(&p, end, r->model, sizeof r->model) && get_str(&p, end, r->replica, sizeof r->replica) &&
            get_str(&p, end, r->node_id, sizeof r->node_id) && get_str(&p, end, r->owner, sizeof r->owner) &&
            get_str(&p, end, r->region, sizeof r->region) && get_str(&p, end, r->chip, sizeof r->chip) &&
            get_str(&p, end, r->status, sizeof r->status) && end - p == 40;
  if (!ok) return -1;
  memcpy(&r->ts, p, 8);
  memcpy(&r->prompt_tokens, p + 8, 8);
  memcpy(&r->completion_tokens, p + 16, 8);
  memcpy(&r->ttft_ms, p + 24, 8);
  memcpy(&r->duration_ms, p + 32, 8);
  *used = (size_t)len + 12;
  return 1;
}

/* ---------- ingesting ---------- */

/* Inserts the records at the start of buf[0..n) (at most TXN_RECORDS, in one transaction; recs
 * has room for them) into the store. Returns the bytes consumed (less than n when more records follow or the tail is an
 * unfinished record) or -1 if the store failed. */
static int64_t ingest_buf(sc_gws_writer *w, sc_usage_rec *recs, const char *buf, size_t n, const char *what) {
  size_t off = 0;
  int cnt = 0;
  while (off < n && cnt < TXN_RECORDS) {
    size_t used = 0;
    int rc = gw_journal_decode(buf + off, n - off, &recs[cnt], &used);
    if (rc == 0) break;
    if (rc < 0) { /* never written by us: skip the rest rather than misread it */
      sc_warn(MOD, "%s: unreadable usage record at byte %zu; %zu bytes skipped", what, off, n - off);
      off = n;
      break;
    }
    cnt++;
    off += used;
  }
  int64_t res = (int64_t)off;
  if (cnt) {
    int done = 0;
    sc_err e;
    int rc = -1;
    for (int attempt = 0; attempt < MAX_TRIES && rc; attempt++) {
      if ((rc = sc_gws_writer_insert(w, recs, cnt, &done, &e)) == 0) break;
      sc_warn(MOD, "usage ingest failed (attempt %d): %s", attempt + 1, e.msg);
      usleep(RETRY_MS * 1000);
    }
    if (rc) res = -1;
  }
  return res;
}

/* Ingests and deletes the segments a previous process left. *next_seg gets the number after the
 * highest one found. */
static int recover(const char *dir, sc_gws_writer *w, int64_t *next_seg, sc_err *e) {
  DIR *d = opendir(dir);
  if (!d) return sc_err_set(e, -errno, "io_error", "cannot list %s: %s", dir, strerror(errno));
  int64_t *segs = NULL;
  int n = 0, cap = 0;
  struct dirent *de;
  while ((de = readdir(d))) {
    int64_t v;
    if (strncmp(de->d_name, "usage.journal.", 14) != 0 || sc_parse_i64(de->d_name + 14, 0, INT64_C(1) << 23, &v)) continue;
    if (n == cap) segs = sc_xrealloc(segs, sizeof *segs * (size_t)(cap = cap ? cap * 2 : 8));
    segs[n++] = v;
  }
  closedir(d);
  for (int i = 1; i < n; i++) /* oldest first */
    for (int j = i; j > 0 && segs[j - 1] > segs[j]; j--) {
      int64_t t = segs[j];
      segs[j] = segs[j - 1];
      segs[j - 1] = t;
    }
  int rc = 0;
  sc_usage_rec *recs = sc_xmalloc(sizeof *recs * TXN_RECORDS);
  *next_seg = n ? segs[n - 1] + 1 : 1;
  for (int i = 0; i < n && !rc; i++) {
    char path[4200];
    seg_path(dir, segs[i], path, sizeof path);
    char *buf = NULL;
    size_t len = 0;
    if ((rc = sc_read_file(path, (size_t)1 << 34, &buf, &len))) {
      rc = sc_err_set(e, rc, "io_error", "cannot read %s: %s", path, sc_strerror(rc));
      break;
    }
    size_t used = 0;
    while (used < len) {
      int64_t u = ingest_buf(w, recs, buf + used, len - used, path);
      if (u < 0) {
        rc = sc_err_set(e, SC_EIO, "store_error", "cannot store the usage records in %s", path);
        break;
      }
      if (u == 0) break; /* a torn record */
      used += (size_t)u;
    }
    free(buf);
    if (rc) break;
    if (used < len) sc_warn(MOD, "%s: a torn record at its end (%zu bytes) was dropped", path, len - used);
    else if (len) sc_info(MOD, "%s: %zu bytes of usage records from the previous run stored", path, len);
    if (unlink(path) != 0) rc = sc_err_set(e, -errno, "io_error", "cannot remove %s: %s", path, strerror(errno));
  }
  free(recs);
  free(segs);
  return rc;
}

/* Runs at normal priority while a usage query waits, SCHED_IDLE otherwise. */
static void set_idle(bool idle) {
  struct sched_param sp = {0};
  if (sched_setscheduler((pid_t)syscall(SYS_gettid), idle ? SCHED_IDLE : SCHED_OTHER, &sp) != 0)
    sc_debug(MOD, "usage ingester: cannot change its scheduling: %s", strerror(errno));
}

/* A finished segment is stored: close and delete it; the next one's position is published. */
static uint64_t segment_done(gw_meter *m, int *rfd, const char *path, int64_t seg) {
  close(*rfd);
  *rfd = -1;
  if (unlink(path) != 0) sc_warn(MOD, "cannot remove %s: %s", path, strerror(errno));
  uint64_t at = POS(seg + 1, 0);
  atomic_store(&m->ingested, at);
  return at;
}

static void *ingester(void *arg) {
  gw_meter *m = arg;
  sc_store *db = NULL;
  sc_gws_writer *w = NULL;
  sc_err e;
  if (sc_store_open(m->dbpath, &db, &e) || sc_gws_writer_open(db, &w, &e)) {
    sc_error(MOD, "usage ingester cannot start (%s); records stay in the journal until the next start", e.msg);
    sc_store_close(db);
    atomic_store(&m->dead, true);
    pthread_mutex_lock(&m->mu);
    pthread_cond_broadcast(&m->done_cv);
    pthread_mutex_unlock(&m->mu);
    return NULL;
  }
  /* allocated once: freeing big blocks would unmap them, and munmap stalls every thread of the
   * process (the mmap lock and TLB shoot-downs), the event loop included */
  char *buf = sc_xmalloc(READ_CHUNK);
  sc_usage_rec *recs = sc_xmalloc(sizeof *recs * TXN_RECORDS);
  uint64_t at = atomic_load(&m->ingested);
  int rfd = -1;
  bool idle = true;
  set_idle(true);
  pthread_mutex_lock(&m->mu);
  for (;;) {
    if (atomic_load(&m->appended) == at && !m->stop && !m->kick) {
      struct timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      ts.tv_nsec += INGEST_MS * 1000000L;
      ts.tv_sec += ts.tv_nsec / 1000000000L;
      ts.tv_nsec %= 1000000000L;
      pthread_cond_timedwait(&m->cv, &m->mu, &ts);
    }
    bool stop = m->stop, urgent = m->kick || m->stop;
    m->kick = false;
    pthread_mutex_unlock(&m->mu);
    if (urgent == idle) set_idle(idle = !urgent);
    bool failed = false;
    for (;;) { /* until caught up with what was appended when we looked */
      uint64_t end = atomic_load(&m->appended);
      int64_t seg = POS_SEG(at), off = POS_OFF(at);
      if (at >= end) break;
      char path[4200];
      seg_path(m->dir, seg, path, sizeof path);
      if (rfd < 0 && (rfd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        sc_warn(MOD, "cannot open %s: %s", path, strerror(errno));
        failed = true;
        break;
      }
      /* a finished segment is read to its end; the current one up to what was published */
      int64_t limit = POS_SEG(end) > seg ? INT64_MAX : POS_OFF(end);
      size_t want = limit - off < READ_CHUNK ? (size_t)(limit - off) : READ_CHUNK;
      ssize_t r = want ? pread(rfd, buf, want, (off_t)off) : 0;
      if (r < 0) {
        sc_warn(MOD, "cannot read %s: %s", path, strerror(errno));
        failed = true;
        break;
      }
      if (r == 0) { /* the end of a finished segment: all of it is stored */
        if (POS_SEG(end) == seg) break;
        at = segment_done(m, &rfd, path, seg);
        continue;
      }
      int64_t used = ingest_buf(w, recs, buf, (size_t)r, path);
      if (used < 0 || (used == 0 && (size_t)r == READ_CHUNK)) { /* the store is failing */
        failed = true;
        break;
      }
      if (used == 0) {
        if (POS_SEG(end) == seg) break; /* the loop appends whole records: wait for the rest */
        /* a finished segment that ends torn (a write that failed half-way): drop the end, move on */
        sc_warn(MOD, "%s: a torn record at byte %lld was dropped", path, (long long)off);
        at = segment_done(m, &rfd, path, seg);
        continue;
      }
      at = POS(seg, off + used);
      atomic_store(&m->ingested, at);
    }
    pthread_mutex_lock(&m->mu);
    pthread_cond_broadcast(&m->done_cv);
    if (stop && (at >= atomic_load(&m->appended) || failed)) break;
    if (failed) { /* wait before trying again */
      pthread_mutex_unlock(&m->mu);
      usleep(200000);
      pthread_mutex_lock(&m->mu);
    }
  }
  pthread_mutex_unlock(&m->mu);
  if (rfd >= 0) close(rfd);
  free(recs);
  free(buf);
  sc_gws_writer_close(w);
  sc_store_close(db);
  return NULL;
}

/* ---------- appending (loop thread) ---------- */

static int open_seg(gw_meter *m, int64_t seg) {
  char path[4200];
  seg_path(m->dir, seg, path, sizeof path);
  int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return -errno;
  if (m->jfd >= 0) close(m->jfd);
  m->jfd = fd;
  m->seg = seg;
  m->len = 0;
  return 0;
}

/* Appends what is queued and runs the callbacks. */
static void append(gw_meter *m) {
  item *head = m->q;
  int n = m->nq;
  if (!n) return;
  if ((size_t)n * REC_MAX > m->cap) m->buf = sc_xrealloc(m->buf, m->cap = (size_t)n * REC_MAX * 2);
  size_t len = 0;
  for (item *it = head; it; it = it->next) len += gw_journal_encode(&it->rec, m->buf + len);
  size_t off = 0;
  int err = 0;
  while (off < len) {
    ssize_t w = write(m->jfd, m->buf + off, len - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      err = w < 0 ? errno : EIO;
      break;
    }
    off += (size_t)w;
  }
  if (err && off && ftruncate(m->jfd, (off_t)m->len) != 0) { /* no torn record in the middle of a segment */
    sc_warn(MOD, "cannot cut a partial usage record: %s; starting a new segment", strerror(errno));
    int64_t torn = m->len + (int64_t)off;
    if (open_seg(m, m->seg + 1) == 0) atomic_store(&m->appended, POS(m->seg, 0)); /* the ingester drops the torn end */
    else m->len = torn;
  }
  if (!err) {
    m->len += (int64_t)len;
    atomic_store(&m->appended, POS(m->seg, m->len));
    if (m->len >= SEG_BYTES) { /* the next segment; this one is the ingester's to delete */
      int rc = open_seg(m, m->seg + 1);
      if (rc) sc_warn(MOD, "cannot start a new usage journal segment: %s; the current one grows", sc_strerror(rc));
      else atomic_store(&m->appended, POS(m->seg, 0));
    }
  }
  if (err && ++m->tries < MAX_TRIES && !m->stopping) {
    sc_warn(MOD, "usage journal write failed (attempt %d): %s; retrying", m->tries, strerror(err));
    struct timeval tv = {0, RETRY_MS * 1000};
    m->armed = true;
    event_add(m->ev, &tv);
    return;
  }
  if (err) sc_warn(MOD, "usage journal write failed %d times: %s; %d records are lost", m->tries, strerror(err), n);
  m->tries = 0;
  if (!err) m->committed += n;
  m->q = NULL;
  m->qtail = &m->q;
  m->nq = 0;
  while (head) { /* callbacks may queue new records: they go into the next turn's append */
    item *next = head->next;
    if (head->cb) head->cb(head->arg, !err);
    if (m->nspare < 4096) {
      head->next = m->spare;
      m->spare = head;
      m->nspare++;
    } else {
      free(head);
    }
    head = next;
  }
}

static void on_append(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  gw_meter *m = arg;
  m->armed = false;
  append(m);
}

int gw_meter_start(struct event_base *base, const char *db_path, gw_meter **out, sc_err *e) {
  gw_meter *m = sc_xcalloc(1, sizeof *m);
  m->base = base;
  m->jfd = -1;
  m->qtail = &m->q;
  m->dbpath = sc_xstrdup(db_path);
  m->dir = sc_xstrdup(db_path);
  char *slash = strrchr(m->dir, '/');
  if (slash) *slash = 0;
  else sc_strlcpy(m->dir, ".", strlen(m->dir) + 1);
  pthread_mutex_init(&m->mu, NULL);
  pthread_cond_init(&m->cv, NULL);
  pthread_cond_init(&m->done_cv, NULL);
  sc_store *db = NULL;
  sc_gws_writer *w = NULL;
  int64_t seg = 1;
  int rc = sc_store_open(db_path, &db, e);
  if (!rc) rc = sc_gws_writer_open(db, &w, e);
  if (!rc) rc = recover(m->dir, w, &seg, e);
  sc_gws_writer_close(w);
  sc_store_close(db);
  if (rc) goto fail;
  if ((rc = open_seg(m, seg))) {
    rc = sc_err_set(e, rc, "io_error", "cannot create the usage journal in %s: %s", m->dir, sc_strerror(rc));
    goto fail;
  }
  atomic_store(&m->appended, POS(seg, 0));
  atomic_store(&m->ingested, POS(seg, 0));
  m->ev = event_new(base, -1, 0, on_append, m);
  if (pthread_create(&m->th, NULL, ingester, m) != 0) {
    rc = sc_err_set(e, SC_ENOMEM, "thread_failed", "cannot start the usage ingester thread");
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
  item *it = m->spare;
  if (it) {
    m->spare = it->next;
    m->nspare--;
  } else {
    it = sc_xmalloc(sizeof *it);
  }
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

void gw_meter_sync(gw_meter *m) {
  if (!m || !m->started) return;
  pthread_mutex_lock(&m->mu);
  uint64_t target = atomic_load(&m->appended);
  m->kick = true;
  pthread_cond_signal(&m->cv);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_sec += 5;
  while (atomic_load(&m->ingested) < target && !atomic_load(&m->dead))
    if (pthread_cond_timedwait(&m->done_cv, &m->mu, &ts) == ETIMEDOUT) {
      sc_warn(MOD, "usage: the store is behind the journal; the answer may miss the latest records");
      break;
    }
  pthread_mutex_unlock(&m->mu);
}

void gw_meter_stop(gw_meter *m) {
  if (!m) return;
  m->stopping = true;
  for (int i = 0; m->jfd >= 0 && m->nq && i < MAX_TRIES; i++) append(m); /* what is queued is journaled now */
  if (m->started) { /* the ingester stores everything and stops */
    pthread_mutex_lock(&m->mu);
    m->stop = true;
    pthread_cond_signal(&m->cv);
    pthread_mutex_unlock(&m->mu);
    pthread_join(m->th, NULL);
  }
  if (m->ev) event_free(m->ev);
  if (m->jfd >= 0) {
    close(m->jfd);
    char path[4200];
    seg_path(m->dir, m->seg, path, sizeof path);
    if (m->started && atomic_load(&m->ingested) >= atomic_load(&m->appended)) unlink(path); /* all stored */
  }
  pthread_mutex_destroy(&m->mu);
  pthread_cond_destroy(&m->cv);
  pthread_cond_destroy(&m->done_cv);
  while (m->spare) {
    item *it = m->spare;
    m->spare = it->next;
    free(it);
  }
  free(m->buf);
  free(m->dir);
  free(m->dbpath);
  free(m);
}
