/*
 * gguf.c — defensive GGUF (v2/v3) reader.
 *
 * Layout of a GGUF file (all little-endian):
 *   magic "GGUF" | u32 version | u64 n_tensors | u64 n_kv
 *   n_kv x { string key | u32 type | value }            (string = u64 len + bytes)
 *   n_tensors x { string name | u32 n_dims | u64 ne[n_dims] | u32 type | u64 offset }
 *   padding to general.alignment (default 32) | tensor data
 *
 * The parser walks the header through a bounded cursor (cur) that never reads past the end of
 * the image: every length and count is checked against the bytes left before it is used, and
 * counts are capped so a hostile file cannot make us allocate more than a small multiple of its
 * own size. Metadata is copied into owned memory (strings NUL-terminated) so getters stay valid
 * independent of the mapping. Tensors are checked for: known type, 1..4 dims, positive
 * dimensions whose product does not overflow, row length a multiple of the type's block size,
 * aligned offset, data inside the file, no two tensors overlapping, unique names.
 */
#include "engine/gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/util.h"
#include "engine/quant.h"

#define MAX_KV 65536
#define MAX_TENSORS (1u << 20)
#define MAX_KEY_LEN 65535
#define MAX_DIMS 4

typedef struct kv {
  char *key;
  sc_gguf_type type;
  sc_gguf_type elem; /* arrays */
  uint64_t n;        /* arrays: element count */
  union {
    uint64_t u;
    int64_t i;
    double f;
    bool b;
  } v;
  char *str;           /* SC_GGUF_STRING (NUL-terminated) */
  size_t str_len;
  void *arr;           /* numeric arrays: raw little-endian elements */
  char **arr_str;      /* string arrays: NUL-terminated copies */
  size_t *arr_len;
} kv;

struct sc_gguf {
  uint32_t version;
  const uint8_t *base;
  size_t len;
  bool mapped;
  size_t n_kv;
  kv *kvs;
  size_t n_tensors;
  sc_gguf_tensor *tensors;
  char *names; /* storage of tensor names */
};

typedef struct cur {
  const uint8_t *p;
  size_t len, off;
} cur;

static size_t type_size_of(sc_gguf_type t) {
  switch (t) {
    case SC_GGUF_U8: case SC_GGUF_I8: case SC_GGUF_BOOL: return 1;
    case SC_GGUF_U16: case SC_GGUF_I16: return 2;
    case SC_GGUF_U32: case SC_GGUF_I32: case SC_GGUF_F32: return 4;
    case SC_GGUF_U64: case SC_GGUF_I64: case SC_GGUF_F64: return 8;
    default: return 0;
  }
}

static const char *type_name(uint32_t t) {
  static const char *n[] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64", "i64", "f64"};
  return t < 13 ? n[t] : "unknown";
}

static int need(cur *c, size_t n, const char *what, sc_err *e) {
  if (n > c->len - c->off)
    return sc_err_set(e, SC_EFORMAT, "gguf_truncated", "GGUF truncated: %s needs %zu bytes at offset %zu, file has %zu",
                      what, n, c->off, c->len);
  return 0;
}

static int rd_u32(cur *c, uint32_t *v, const char *what, sc_err *e) {
  int rc = need(c, 4, what, e);
  if (rc) return rc;
  memcpy(v, c->p + c->off, 4);
  c->off += 4;
  return 0;
}

static int rd_u64(cur *c, uint64_t *v, const char *what, sc_err *e) {
  int rc = need(c, 8, what, e);
  if (rc) return rc;
  memcpy(v, c->p + c->off, 8);
  c->off += 8;
  return 0;
}

/* Reads a GGUF string; *s points into the image (not NUL-terminated). */
static int rd_str(cur *c, const char **s, size_t *n, size_t cap, const char *what, sc_err *e) {
  uint64_t len;
  int rc = rd_u64(c, &len, what, e);
  if (rc) return rc;
  if (len > c->len - c->off)
    return sc_err_set(e, SC_EFORMAT, "gguf_bad_string", "GGUF %s: string length %llu at offset %zu runs past the end of the file",
                      what, (unsigned long long)len, c->off - 8);
  if (len > cap)
    return sc_err_set(e, SC_EFORMAT, "gguf_bad_string", "GGUF %s: string length %llu over the limit %zu", what,
                      (unsigned long long)len, cap);
  *s = (const char *)c->p + c->off;
  *n = (size_t)len;
  c->off += (size_t)len;
  return 0;
}

static char *dupn(const char *s, size_t n) {
  char *d = sc_xmalloc(n + 1);
  memcpy(d, s, n);
  d[n] = 0;
  return d;
}

static int rd_scalar(cur *c, sc_gguf_type t, kv *k, sc_err *e) {
  size_t sz = type_size_of(t);
  int rc = need(c, sz, k->key, e);
  if (rc) return rc;
  const uint8_t *p = c->p + c->off;
  switch (t) {
    case SC_GGUF_U8: k->v.u = p[0]; break;
    case SC_GGUF_I8: k->v.i = (int8_t)p[0]; break;
    case SC_GGUF_BOOL:
      if (p[0] > 1)
        return sc_err_set(e, SC_EFORMAT, "gguf_bad_value", "GGUF key '%s': bool value %u is not 0 or 1", k->key, p[0]);
      k->v.b = p[0] != 0;
      break;
    case SC_GGUF_U16: { uint16_t v; memcpy(&v, p, 2); k->v.u = v; break; }
    case SC_GGUF_I16: { int16_t v; memcpy(&v, p, 2); k->v.i = v; break; }
    case SC_GGUF_U32: { uint32_t v; memcpy(&v, p, 4); k->v.u = v; break; }
    case SC_GGUF_I32: { int32_t v; memcpy(&v, p, 4); k->v.i = v; break; }
    case SC_GGUF_F32: { float v; memcpy(&v, p, 4); k->v.f = v; break; }
    case SC_GGUF_U64: { uint64_t v; memcpy(&v, p, 8); k->v.u = v; break; }
    case SC_GGUF_I64: { int64_t v; memcpy(&v, p, 8); k->v.i = v; break; }
    case SC_GGUF_F64: { double v; memcpy(&v, p, 8); k->v.f = v; break; }
    default: return sc_err_set(e, SC_EFORMAT, "gguf_bad_type", "GGUF key '%s': bad value type %u", k->key, (unsigned)t);
  }
  c->off += sz;
  return 0;
}

static int rd_value(cur *c, kv *k, sc_err *e) {
  int rc = 0;
  if (k->type == SC_GGUF_STRING) {
    const char *s;
    size_t n;
    if ((rc = rd_str(c, &s, &n, SIZE_MAX, k->key, e))) return rc;
    k->str = dupn(s, n);
    k->str_len = n;
    return 0;
  }
  if (k->type != SC_GGUF_ARRAY) return rd_scalar(c, k->type, k, e);
  uint32_t et;
  uint64_t n;
  if ((rc = rd_u32(c, &et, k->key, e)) || (rc = rd_u64(c, &n, k->key, e))) return rc;
  if (et == SC_GGUF_ARRAY)
    return sc_err_set(e, SC_EFORMAT, "gguf_bad_type", "GGUF key '%s': nested arrays are not supported", k->key);
  if (et > SC_GGUF_F64)
    return sc_err_set(e, SC_EFORMAT, "gguf_bad_type", "GGUF key '%s': bad array element type %u", k->key, et);
  k->elem = (sc_gguf_type)et;
  size_t left = c->len - c->off;
  size_t min_el = et == SC_GGUF_STRING ? 8 : type_size_of(k->elem);
  if (n > left / min_el)
    return sc_err_set(e, SC_EFORMAT, "gguf_bad_count", "GGUF key '%s': array of %llu %s elements does not fit in the file",
                      k->key, (unsigned long long)n, type_name(et));
  k->n = n;
  if (et == SC_GGUF_STRING) {
    k->arr_str = sc_xcalloc(n ? n : 1, sizeof *k->arr_str);
    k->arr_len = sc_xcalloc(n ? n : 1, sizeof *k->arr_len);
    for (uint64_t i = 0; i < n; i++) {
      const char *s;
      size_t sl;
      if ((rc = rd_str(c, &s, &sl, SIZE_MAX, k->key, e))) {
        k->n = i; /* free what was read */
        return rc;
      }
      k->arr_str[i] = dupn(s, sl);
      k->arr_len[i] = sl;
    }
    return 0;
  }
  size_t bytes = (size_t)n * min_el;
  if (et == SC_GGUF_BOOL)
    for (size_t i = 0; i < bytes; i++)
      if (c->p[c->off + i] > 1)
        return sc_err_set(e, SC_EFORMAT, "gguf_bad_value", "GGUF key '%s': bool element %zu is not 0 or 1", k->key, i);
  k->arr = sc_xmalloc(bytes ? bytes : 1);
  memcpy(k->arr, c->p + c->off, bytes);
  c->off += bytes;
  return 0;
}

static void kv_free(kv *k) {
  free(k->key);
  free(k->str);
  free(k->arr);
  if (k->arr_str)
    for (uint64_t i = 0; i < k->n; i++) free(k->arr_str[i]);
  free(k->arr_str);
  free(k->arr_len);
}

void sc_gguf_close(sc_gguf *g) {
  if (!g) return;
  for (size_t i = 0; i < g->n_kv; i++) kv_free(&g->kvs[i]);
  free(g->kvs);
  free(g->tensors);
  free(g->names);
  if (g->mapped && g->base) munmap((void *)g->base, g->len);
  free(g);
}

static const kv *find_kv(const sc_gguf *g, const char *key) {
  if (!g || !key) return NULL;
  for (size_t i = 0; i < g->n_kv; i++)
    if (strcmp(g->kvs[i].key, key) == 0) return &g->kvs[i];
  return NULL;
}

static int cmp_off(const void *a, const void *b) {
  const sc_gguf_tensor *x = *(const sc_gguf_tensor *const *)a, *y = *(const sc_gguf_tensor *const *)b;
  return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static int cmp_name(const void *a, const void *b) {
  const sc_gguf_tensor *x = *(const sc_gguf_tensor *const *)a, *y = *(const sc_gguf_tensor *const *)b;
  return strcmp(x->name, y->name);
}

static int parse(sc_gguf *g, sc_err *e) {
  cur c = {g->base, g->len, 0};
  int rc;
  const sc_gguf_tensor **sorted = NULL;
  if (g->len < 4 || memcmp(g->base, "GGUF", 4) != 0)
    return sc_err_set(e, SC_EFORMAT, "gguf_bad_magic", "not a GGUF file (bad magic; expected \"GGUF\")");
  c.off = 4;
  if ((rc = rd_u32(&c, &g->version, "version", e))) return rc;
  if (g->version != 2 && g->version != 3)
    return sc_err_set(e, SC_EFORMAT, "gguf_bad_version", "GGUF version %u is not supported (only 2 and 3)", g->version);
  uint64_t nt, nkv;
  if ((rc = rd_u64(&c, &nt, "tensor count", e)) || (rc = rd_u64(&c, &nkv, "metadata count", e))) return rc;
  /* A KV needs at least 8 (key len) + 4 (type) + 1 bytes, a tensor info at least 8+4+8+4+8. */
  if (nkv > MAX_KV || nkv > (g->len - c.off) / 13)
    return sc_err_set(e, SC_EFORMAT, "gguf_bad_count", "GGUF metadata count %llu is impossible for a file of %zu bytes",
                      (unsigned long long)nkv, g->len);
  if (nt > MAX_TENSORS || nt > (g->len - c.off) / 32)
    return sc_err_set(e, SC_EFORMAT, "gguf_bad_count", "GGUF tensor count %llu is impossible for a file of %zu bytes",
                      (unsigned long long)nt, g->len);
  g->kvs = sc_xcalloc(nkv ? nkv : 1, sizeof *g->kvs);
  for (uint64_t i = 0; i < nkv; i++) {
    kv *k = &g->kvs[i];
    const char *key;
    size_t kl;
    uint32_t t;
    char what[64];
    snprintf(what, sizeof what, "metadata key #%llu", (unsigned long long)i);
    if ((rc = rd_str(&c, &key, &kl, MAX_KEY_LEN, what, e))) return rc;
    if (kl == 0) return sc_err_set(e, SC_EFORMAT, "gguf_bad_key", "GGUF %s is empty", what);
    if (memchr(key, 0, kl)) return sc_err_set(e, SC_EFORMAT, "gguf_bad_key", "GGUF %s contains a NUL byte", what);
    k->key = dupn(key, kl);
    g->n_kv = i + 1;
    if (find_kv(g, k->key) != k)
      return sc_err_set(e, SC_EFORMAT, "gguf_dup_key", "GGUF metadata key '%s' appears twice", k->key);
    if ((rc = rd_u32(&c, &t, k->key, e))) return rc;
    if (t > SC_GGUF_F64)
      return sc_err_set(e, SC_EFORMAT, "gguf_bad_type", "GGUF key '%s': unknown value type %u", k->key, t);
    k->type = (sc_gguf_type)t;
    if ((rc = rd_value(&c, k, e))) return rc;
  }

  uint64_t align = 32;
  const kv *ak = find_kv(g, "general.alignment");
  if (ak) {
    if (ak->type != SC_GGUF_U32)
      return sc_err_set(e, SC_EFORMAT, "gguf_bad_alignment", "GGUF general.alignment must be a u32, is %s",
                        type_name(ak->type));
    align = ak->v.u;
    if (align == 0 || (align & (align - 1)) || align > (1u << 16))
      return sc_err_set(e, SC_EFORMAT, "gguf_bad_alignment",
                        "GGUF general.alignment %llu is not a power of two between 1 and 65536", (unsigned long long)align);
  }

  /* Tensor infos; names are stored in one owned buffer. */
  g->tensors = sc_xcalloc(nt ? nt : 1, sizeof *g->tensors);
  size_t names_cap = 0, names_len = 0;
  size_t *name_off = sc_xcalloc(nt ? nt : 1, sizeof *name_off);
  for (uint64_t i = 0; i < nt; i++) {
    sc_gguf_tensor *t = &g->tensors[i];
    const char *nm;
    size_t nl;
    uint32_t nd, ty;
    char what[64];
    snprintf(what, sizeof what, "tensor #%llu name", (unsigned long long)i);
    if ((rc = rd_str(&c, &nm, &nl, 1024, what, e))) goto out_names;
    if (nl == 0 || memchr(nm, 0, nl)) {
      rc = sc_err_set(e, SC_EFORMAT, "gguf_bad_tensor", "GGUF tensor #%llu has an empty or invalid name", (unsigned long long)i);
      goto out_names;
    }
    if (names_len + nl + 1 > names_cap) {
      names_cap = (names_len + nl + 1) * 2;
      g->names = sc_xrealloc(g->names, names_cap);
    }
    memcpy(g->names + names_len, nm, nl);
    g->names[names_len + nl] = 0;
    name_off[i] = names_len;
    names_len += nl + 1;
    const char *tn = g->names + name_off[i];
    if ((rc = rd_u32(&c, &nd, tn, e))) goto out_names;
    if (nd < 1 || nd > MAX_DIMS) {
      rc = sc_err_set(e, SC_EFORMAT, "gguf_bad_tensor", "GGUF tensor '%s' has %u dimensions (1 to 4 allowed)", tn, nd);
      goto out_names;
    }
    t->n_dims = (int)nd;
    uint64_t nel = 1;
    for (int d = 0; d < MAX_DIMS; d++) t->ne[d] = 1;
    for (uint32_t d = 0; d < nd; d++) {
      uint64_t v;
      if ((rc = rd_u64(&c, &v, tn, e))) goto out_names;
      if (v == 0 || v > (1ull << 40) || nel > (1ull << 50) / v) {
        rc = sc_err_set(e, SC_EFORMAT, "gguf_bad_tensor", "GGUF tensor '%s': dimension %u of size %llu is invalid or too large",
                        tn, d, (unsigned long long)v);
        goto out_names;
      }
      nel *= v;
      t->ne[d] = (int64_t)v;
    }
    if ((rc = rd_u32(&c, &ty, tn, e))) goto out_names;
    const sc_qtype_traits *tr = sc_qtype_traits_of(ty);
    if (!tr) {
      rc = sc_err_set(e, SC_EFORMAT, "gguf_bad_tensor_type",
                      "GGUF tensor '%s' has type %u, not one of F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K", tn, ty);
      goto out_names;
    }
    t->type = (sc_ggml_type)ty;
    if (t->ne[0] % tr->block) {
      rc = sc_err_set(e, SC_EFORMAT, "gguf_bad_tensor", "GGUF tensor '%s': row length %lld is not a multiple of %s's block of %d",
                      tn, (long long)t->ne[0], tr->name, tr->block);
      goto out_names;
    }
    t->nbytes = nel / (uint64_t)tr->block * (uint64_t)tr->size;
    if ((rc = rd_u64(&c, &t->offset, tn, e))) goto out_names;
    if (t->offset % align) {
      rc = sc_err_set(e, SC_EFORMAT, "gguf_bad_offset", "GGUF tensor '%s': offset %llu is not a multiple of the alignment %llu",
                      tn, (unsigned long long)t->offset, (unsigned long long)align);
      goto out_names;
    }
  }
  for (uint64_t i = 0; i < nt; i++) g->tensors[i].name = g->names + name_off[i];
  free(name_off);
  name_off = NULL;
  g->n_tensors = nt;

  uint64_t data_start = (c.off + align - 1) / align * align;
  if (nt > 0 && data_start > g->len)
    return sc_err_set(e, SC_EFORMAT, "gguf_truncated", "GGUF truncated: the data section would start at %llu, file has %zu bytes",
                      (unsigned long long)data_start, g->len);
  uint64_t data_len = data_start <= g->len ? g->len - data_start : 0;
  for (size_t i = 0; i < nt; i++) {
    sc_gguf_tensor *t = &g->tensors[i];
    if (t->offset > data_len || t->nbytes > data_len - t->offset)
      return sc_err_set(e, SC_EFORMAT, "gguf_bad_offset",
                        "GGUF tensor '%s': data at offset %llu of %llu bytes runs past the end of the file (data section is %llu bytes)",
                        t->name, (unsigned long long)t->offset, (unsigned long long)t->nbytes, (unsigned long long)data_len);
    t->data = g->base + data_start + t->offset;
  }
  if (nt > 1) {
    sorted = sc_xmalloc(nt * sizeof *sorted);
    for (size_t i = 0; i < nt; i++) sorted[i] = &g->tensors[i];
    qsort(sorted, nt, sizeof *sorted, cmp_name);
    for (size_t i = 1; i < nt; i++)
      if (strcmp(sorted[i - 1]->name, sorted[i]->name) == 0) {
        rc = sc_err_set(e, SC_EFORMAT, "gguf_dup_tensor", "GGUF tensor name '%s' appears twice", sorted[i]->name);
        goto out;
      }
    qsort(sorted, nt, sizeof *sorted, cmp_off);
    for (size_t i = 1; i < nt; i++)
      if (sorted[i - 1]->offset + sorted[i - 1]->nbytes > sorted[i]->offset) {
        rc = sc_err_set(e, SC_EFORMAT, "gguf_overlap", "GGUF tensors '%s' and '%s' overlap in the data section",
                        sorted[i - 1]->name, sorted[i]->name);
        goto out;
      }
  }
  rc = 0;
out:
  free(sorted);
  return rc;
out_names:
  free(name_off);
  return rc;
}

int sc_gguf_open_buffer(const void *buf, size_t len, sc_gguf **out, sc_err *e) {
  *out = NULL;
  sc_gguf *g = sc_xcalloc(1, sizeof *g);
  g->base = buf;
  g->len = len;
  int rc = parse(g, e);
  if (rc) {
    sc_gguf_close(g);
    return rc;
  }
  *out = g;
  return 0;
}

int sc_gguf_open(const char *path, sc_gguf **out, sc_err *e) {
  *out = NULL;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    return sc_err_set(e, err == ENOENT ? SC_ENOENT : -err, "gguf_open", "cannot open %s: %s", path, strerror(err));
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return sc_err_set(e, SC_EFORMAT, "gguf_open", "%s is not a regular file", path);
  }
  if (st.st_size < 24) {
    close(fd);
    return sc_err_set(e, SC_EFORMAT, "gguf_truncated", "%s: GGUF truncated: file has %lld bytes, a header needs 24", path,
                      (long long)st.st_size);
  }
  void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
  int err = errno;
  close(fd);
  if (p == MAP_FAILED) return sc_err_set(e, -err, "gguf_open", "cannot map %s: %s", path, strerror(err));
  sc_gguf *g = sc_xcalloc(1, sizeof *g);
  g->base = p;
  g->len = (size_t)st.st_size;
  g->mapped = true;
  int rc = parse(g, e);
  if (rc) {
    if (e) {
      char msg[sizeof e->msg + 256];
      snprintf(msg, sizeof msg, "%.200s: %s", path, e->msg);
      sc_strlcpy(e->msg, msg, sizeof e->msg);
    }
    sc_gguf_close(g);
    return rc;
  }
  *out = g;
  return 0;
}

uint32_t sc_gguf_version(const sc_gguf *g) { return g ? g->version : 0; }

bool sc_gguf_get_str(const sc_gguf *g, const char *key, const char **s, size_t *len) {
  const kv *k = find_kv(g, key);
  if (!k || k->type != SC_GGUF_STRING) return false;
  if (s) *s = k->str;
  if (len) *len = k->str_len;
  return true;
}

static bool scalar_int(sc_gguf_type t, uint64_t u, int64_t i, int64_t *out) {
  switch (t) {
    case SC_GGUF_U8: case SC_GGUF_U16: case SC_GGUF_U32: *out = (int64_t)u; return true;
    case SC_GGUF_U64:
      if (u > INT64_MAX) return false;
      *out = (int64_t)u;
      return true;
    case SC_GGUF_I8: case SC_GGUF_I16: case SC_GGUF_I32: case SC_GGUF_I64: *out = i; return true;
    default: return false;
  }
}

bool sc_gguf_get_int(const sc_gguf *g, const char *key, int64_t *out) {
  const kv *k = find_kv(g, key);
  if (!k) return false;
  int64_t v;
  if (!scalar_int(k->type, k->v.u, k->v.i, &v)) return false;
  if (out) *out = v;
  return true;
}

bool sc_gguf_get_f32(const sc_gguf *g, const char *key, float *out) {
  const kv *k = find_kv(g, key);
  if (!k || (k->type != SC_GGUF_F32 && k->type != SC_GGUF_F64)) return false;
  if (out) *out = (float)k->v.f;
  return true;
}

bool sc_gguf_get_bool(const sc_gguf *g, const char *key, bool *out) {
  const kv *k = find_kv(g, key);
  if (!k || k->type != SC_GGUF_BOOL) return false;
  if (out) *out = k->v.b;
  return true;
}

bool sc_gguf_get_arr(const sc_gguf *g, const char *key, sc_gguf_type *elem, size_t *n) {
  const kv *k = find_kv(g, key);
  if (!k || k->type != SC_GGUF_ARRAY) return false;
  if (elem) *elem = k->elem;
  if (n) *n = (size_t)k->n;
  return true;
}

bool sc_gguf_arr_str(const sc_gguf *g, const char *key, size_t i, const char **s, size_t *len) {
  const kv *k = find_kv(g, key);
  if (!k || k->type != SC_GGUF_ARRAY || k->elem != SC_GGUF_STRING || i >= k->n) return false;
  if (s) *s = k->arr_str[i];
  if (len) *len = k->arr_len[i];
  return true;
}

bool sc_gguf_arr_f32(const sc_gguf *g, const char *key, size_t i, float *out) {
  const kv *k = find_kv(g, key);
  if (!k || k->type != SC_GGUF_ARRAY || i >= k->n) return false;
  if (k->elem == SC_GGUF_F32) {
    float v;
    memcpy(&v, (const uint8_t *)k->arr + i * 4, 4);
    if (out) *out = v;
    return true;
  }
  if (k->elem == SC_GGUF_F64) {
    double v;
    memcpy(&v, (const uint8_t *)k->arr + i * 8, 8);
    if (out) *out = (float)v;
    return true;
  }
  return false;
}

bool sc_gguf_arr_int(const sc_gguf *g, const char *key, size_t i, int64_t *out) {
  const kv *k = find_kv(g, key);
  if (!k || k->type != SC_GGUF_ARRAY || i >= k->n) return false;
  size_t sz = type_size_of(k->elem);
  if (!sz || k->elem == SC_GGUF_F32 || k->elem == SC_GGUF_F64 || k->elem == SC_GGUF_BOOL) return false;
  const uint8_t *p = (const uint8_t *)k->arr + i * sz;
  uint64_t u = 0;
  int64_t s = 0;
  switch (k->elem) {
    case SC_GGUF_U8: u = p[0]; break;
    case SC_GGUF_I8: s = (int8_t)p[0]; break;
    case SC_GGUF_U16: { uint16_t v; memcpy(&v, p, 2); u = v; break; }
    case SC_GGUF_I16: { int16_t v; memcpy(&v, p, 2); s = v; break; }
    case SC_GGUF_U32: { uint32_t v; memcpy(&v, p, 4); u = v; break; }
    case SC_GGUF_I32: { int32_t v; memcpy(&v, p, 4); s = v; break; }
    case SC_GGUF_U64: memcpy(&u, p, 8); break;
    case SC_GGUF_I64: memcpy(&s, p, 8); break;
    default: return false;
  }
  int64_t v;
  if (!scalar_int(k->elem, u, s, &v)) return false;
  if (out) *out = v;
  return true;
}

size_t sc_gguf_tensor_count(const sc_gguf *g) { return g ? g->n_tensors : 0; }

const sc_gguf_tensor *sc_gguf_tensor_at(const sc_gguf *g, size_t i) {
  return g && i < g->n_tensors ? &g->tensors[i] : NULL;
}

const sc_gguf_tensor *sc_gguf_find_tensor(const sc_gguf *g, const char *name) {
  if (!g || !name) return NULL;
  for (size_t i = 0; i < g->n_tensors; i++)
    if (strcmp(g->tensors[i].name, name) == 0) return &g->tensors[i];
  return NULL;
}
