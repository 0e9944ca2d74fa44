/*
 * gguf_write.c — GGUF v3 writer: a metadata byte buffer built as keys are added, a list of
 * tensors, and a serializer that lays out header, KVs, tensor infos, padding and aligned data.
 */
#include "engine/gguf_write.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/util.h"
#include "engine/gguf.h"

typedef struct buf {
  uint8_t *p;
  size_t len, cap;
} buf;

typedef struct wtensor {
  char *name;
  uint32_t type;
  int n_dims;
  int64_t ne[4];
  uint8_t *data;
  size_t nbytes;
  uint64_t offset;
} wtensor;

struct sc_gguf_writer {
  uint32_t align;
  buf kv;
  uint64_t n_kv;
  wtensor *t;
  size_t n_t, cap_t;
};

static void put(buf *b, const void *p, size_t n) {
  if (n == 0) return;
  if (b->len + n > b->cap) {
    b->cap = (b->len + n) * 2 + 64;
    b->p = sc_xrealloc(b->p, b->cap);
  }
  memcpy(b->p + b->len, p, n);
  b->len += n;
}
static void put_u32(buf *b, uint32_t v) { put(b, &v, 4); }
static void put_u64(buf *b, uint64_t v) { put(b, &v, 8); }
static void put_str(buf *b, const char *s) {
  size_t n = strlen(s);
  put_u64(b, n);
  put(b, s, n);
}
static void key(sc_gguf_writer *w, const char *k, uint32_t type) {
  put_str(&w->kv, k);
  put_u32(&w->kv, type);
  w->n_kv++;
}

sc_gguf_writer *sc_gguf_writer_create(uint32_t alignment) {
  sc_gguf_writer *w = sc_xcalloc(1, sizeof *w);
  w->align = alignment ? alignment : 32;
  if (w->align != 32) sc_gguf_w_u32(w, "general.alignment", w->align);
  return w;
}

void sc_gguf_writer_destroy(sc_gguf_writer *w) {
  if (!w) return;
  for (size_t i = 0; i < w->n_t; i++) {
    free(w->t[i].name);
    free(w->t[i].data);
  }
  free(w->t);
  free(w->kv.p);
  free(w);
}

void sc_gguf_w_str(sc_gguf_writer *w, const char *k, const char *s) {
  key(w, k, SC_GGUF_STRING);
  put_str(&w->kv, s);
}
void sc_gguf_w_u32(sc_gguf_writer *w, const char *k, uint32_t v) {
  key(w, k, SC_GGUF_U32);
  put_u32(&w->kv, v);
}
void sc_gguf_w_i32(sc_gguf_writer *w, const char *k, int32_t v) {
  key(w, k, SC_GGUF_I32);
  put(&w->kv, &v, 4);
}
void sc_gguf_w_f32(sc_gguf_writer *w, const char *k, float v) {
  key(w, k, SC_GGUF_F32);
  put(&w->kv, &v, 4);
}
void sc_gguf_w_bool(sc_gguf_writer *w, const char *k, bool v) {
  key(w, k, SC_GGUF_BOOL);
  uint8_t b = v;
  put(&w->kv, &b, 1);
}
void sc_gguf_w_arr_str(sc_gguf_writer *w, const char *k, const char *const *s, size_t n) {
  key(w, k, SC_GGUF_ARRAY);
  put_u32(&w->kv, SC_GGUF_STRING);
  put_u64(&w->kv, n);
  for (size_t i = 0; i < n; i++) put_str(&w->kv, s[i]);
}
void sc_gguf_w_arr_f32(sc_gguf_writer *w, const char *k, const float *v, size_t n) {
  key(w, k, SC_GGUF_ARRAY);
  put_u32(&w->kv, SC_GGUF_F32);
  put_u64(&w->kv, n);
  put(&w->kv, v, n * 4);
}
void sc_gguf_w_arr_i32(sc_gguf_writer *w, const char *k, const int32_t *v, size_t n) {
  key(w, k, SC_GGUF_ARRAY);
  put_u32(&w->kv, SC_GGUF_I32);
  put_u64(&w->kv, n);
  put(&w->kv, v, n * 4);
}

void sc_gguf_w_tensor(sc_gguf_writer *w, const char *name, uint32_t type, int n_dims, const int64_t *ne, void *data,
                      size_t nbytes, bool own) {
  if (w->n_t == w->cap_t) {
    w->cap_t = w->cap_t ? w->cap_t * 2 : 16;
    w->t = sc_xrealloc(w->t, w->cap_t * sizeof *w->t);
  }
  wtensor *t = &w->t[w->n_t++];
  memset(t, 0, sizeof *t);
  t->name = sc_xstrdup(name);
  t->type = type;
  t->n_dims = n_dims;
  for (int i = 0; i < 4; i++) t->ne[i] = i < n_dims ? ne[i] : 1;
  if (own) {
    t->data = data;
  } else {
    t->data = sc_xmalloc(nbytes ? nbytes : 1);
    memcpy(t->data, data, nbytes);
  }
  t->nbytes = nbytes;
}

static uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

/* Serializes everything before the data section, padding included. */
static void header(sc_gguf_writer *w, buf *h) {
  put(h, "GGUF", 4);
  put_u32(h, 3);
  put_u64(h, w->n_t);
  put_u64(h, w->n_kv);
  put(h, w->kv.p, w->kv.len);
  uint64_t off = 0;
  for (size_t i = 0; i < w->n_t; i++) {
    wtensor *t = &w->t[i];
    put_str(h, t->name);
    put_u32(h, (uint32_t)t->n_dims);
    for (int d = 0; d < t->n_dims; d++) put_u64(h, (uint64_t)t->ne[d]);
    put_u32(h, t->type);
    t->offset = off;
    put_u64(h, off);
    off = align_up(off + t->nbytes, w->align);
  }
  static const uint8_t zero[64] = {0};
  size_t pad = (size_t)(align_up(h->len, w->align) - h->len);
  while (pad) {
    size_t n = pad < sizeof zero ? pad : sizeof zero;
    put(h, zero, n);
    pad -= n;
  }
}

void sc_gguf_writer_image(sc_gguf_writer *w, uint8_t **out, size_t *len) {
  buf h = {0};
  header(w, &h);
  static const uint8_t zero[64] = {0};
  for (size_t i = 0; i < w->n_t; i++) {
    put(&h, w->t[i].data, w->t[i].nbytes);
    size_t pad = (size_t)(align_up(w->t[i].nbytes, w->align) - w->t[i].nbytes);
    while (i + 1 < w->n_t && pad) {
      size_t n = pad < sizeof zero ? pad : sizeof zero;
      put(&h, zero, n);
      pad -= n;
    }
  }
  *out = h.p;
  *len = h.len;
}

int sc_gguf_writer_save(sc_gguf_writer *w, const char *path, sc_err *e) {
  char tmp[4096];
  if (snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid()) >= (int)sizeof tmp)
    return sc_err_set(e, SC_EINVAL, "bad_path", "path too long: %s", path);
  FILE *f = fopen(tmp, "wb");
  if (!f) return sc_err_set(e, -errno, "write_failed", "cannot create %s: %s", tmp, strerror(errno));
  buf h = {0};
  header(w, &h);
  int ok = fwrite(h.p, 1, h.len, f) == h.len;
  free(h.p);
  static const uint8_t zero[64] = {0};
  for (size_t i = 0; ok && i < w->n_t; i++) {
    ok = fwrite(w->t[i].data, 1, w->t[i].nbytes, f) == w->t[i].nbytes;
    size_t pad = (size_t)(align_up(w->t[i].nbytes, w->align) - w->t[i].nbytes);
    if (i + 1 < w->n_t && pad) ok = ok && fwrite(zero, 1, pad, f) == pad;
  }
  int err = ok ? 0 : errno;
  if (fclose(f) != 0 && !err) err = errno ? errno : EIO;
  if (!ok || err) {
    unlink(tmp);
    return sc_err_set(e, -(err ? err : EIO), "write_failed", "cannot write %s: %s", path, strerror(err ? err : EIO));
  }
  if (rename(tmp, path) != 0) {
    err = errno;
    unlink(tmp);
    return sc_err_set(e, -err, "write_failed", "cannot rename %s to %s: %s", tmp, path, strerror(err));
  }
  return 0;
}
