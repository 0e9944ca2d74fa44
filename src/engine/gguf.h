/*
 * gguf.h — a defensive reader of GGUF files (v2 and v3), the model format of llama.cpp/Ollama.
 *
 * Every offset, size, count, alignment and string length is checked against the file before use;
 * a hostile file yields SC_EFORMAT with a message naming the problem, never a crash. Tensor data
 * is mmapped read-only; metadata is parsed into owned memory at open.
 *
 * Ownership: sc_gguf_open returns a reader the caller closes with sc_gguf_close (NULL ok).
 * Pointers returned by getters stay valid until sc_gguf_close. Not thread-safe for open/close;
 * getters may be called from any thread once open returned.
 */
#ifndef SC_ENGINE_GGUF_H
#define SC_ENGINE_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

/* Metadata value types, numbered as in the GGUF specification. */
typedef enum {
  SC_GGUF_U8 = 0, SC_GGUF_I8 = 1, SC_GGUF_U16 = 2, SC_GGUF_I16 = 3, SC_GGUF_U32 = 4, SC_GGUF_I32 = 5,
  SC_GGUF_F32 = 6, SC_GGUF_BOOL = 7, SC_GGUF_STRING = 8, SC_GGUF_ARRAY = 9, SC_GGUF_U64 = 10,
  SC_GGUF_I64 = 11, SC_GGUF_F64 = 12
} sc_gguf_type;

/* Tensor element types, numbered as in ggml. Only these are accepted. */
typedef enum {
  SC_GGML_F32 = 0, SC_GGML_F16 = 1, SC_GGML_Q4_0 = 2, SC_GGML_Q8_0 = 8, SC_GGML_Q4_K = 12,
  SC_GGML_Q6_K = 14, SC_GGML_BF16 = 30
} sc_ggml_type;

typedef struct sc_gguf sc_gguf;

typedef struct sc_gguf_tensor {
  const char *name;
  sc_ggml_type type;
  int n_dims;
  int64_t ne[4];      /* ne[0] is the fastest-varying (row length) */
  uint64_t offset;    /* from the start of the data section */
  uint64_t nbytes;
  const void *data;   /* into the mapping */
} sc_gguf_tensor;

int sc_gguf_open(const char *path, sc_gguf **out, sc_err *e);
/* Parses a file image already in memory (fuzzing, tests); buf must outlive the reader. */
int sc_gguf_open_buffer(const void *buf, size_t len, sc_gguf **out, sc_err *e);
void sc_gguf_close(sc_gguf *g);

uint32_t sc_gguf_version(const sc_gguf *g);

/* Metadata lookups by key; return false when absent or of another type. Integers of any width
 * are accepted by get_int (checked for range), floats by get_f32. */
bool sc_gguf_get_str(const sc_gguf *g, const char *key, const char **s, size_t *len);
bool sc_gguf_get_int(const sc_gguf *g, const char *key, int64_t *out);
bool sc_gguf_get_f32(const sc_gguf *g, const char *key, float *out);
bool sc_gguf_get_bool(const sc_gguf *g, const char *key, bool *out);
/* Arrays: element type and count; element getters with index checks. */
bool sc_gguf_get_arr(const sc_gguf *g, const char *key, sc_gguf_type *elem, size_t *n);
bool sc_gguf_arr_str(const sc_gguf *g, const char *key, size_t i, const char **s, size_t *len);
bool sc_gguf_arr_f32(const sc_gguf *g, const char *key, size_t i, float *out);
bool sc_gguf_arr_int(const sc_gguf *g, const char *key, size_t i, int64_t *out);

size_t sc_gguf_tensor_count(const sc_gguf *g);
const sc_gguf_tensor *sc_gguf_tensor_at(const sc_gguf *g, size_t i);
const sc_gguf_tensor *sc_gguf_find_tensor(const sc_gguf *g, const char *name);

#endif
