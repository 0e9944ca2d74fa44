/*
 * gguf_write.h — builds GGUF v3 files (used by `model synth` and by tests that forge files).
 *
 * Metadata is serialized as it is added; tensors are added with their data (copied, or adopted
 * when own is true) and written in the order added, each at an offset that is a multiple of the
 * alignment, so any GGUF reader (llama.cpp's included) loads the result.
 */
#ifndef SC_ENGINE_GGUF_WRITE_H
#define SC_ENGINE_GGUF_WRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

typedef struct sc_gguf_writer sc_gguf_writer;

/* alignment: a power of two; 32 is ggml's default. Written as general.alignment when not 32. */
sc_gguf_writer *sc_gguf_writer_create(uint32_t alignment);
void sc_gguf_writer_destroy(sc_gguf_writer *w);

void sc_gguf_w_str(sc_gguf_writer *w, const char *key, const char *s);
void sc_gguf_w_u32(sc_gguf_writer *w, const char *key, uint32_t v);
void sc_gguf_w_i32(sc_gguf_writer *w, const char *key, int32_t v);
void sc_gguf_w_f32(sc_gguf_writer *w, const char *key, float v);
void sc_gguf_w_bool(sc_gguf_writer *w, const char *key, bool v);
void sc_gguf_w_arr_str(sc_gguf_writer *w, const char *key, const char *const *s, size_t n);
void sc_gguf_w_arr_f32(sc_gguf_writer *w, const char *key, const float *v, size_t n);
void sc_gguf_w_arr_i32(sc_gguf_writer *w, const char *key, const int32_t *v, size_t n);

/* Adds a tensor of ggml type `type` with dims ne[0..n_dims); data holds nbytes of encoded
 * blocks. own: the writer frees data (allocated with malloc); otherwise it is copied. */
void sc_gguf_w_tensor(sc_gguf_writer *w, const char *name, uint32_t type, int n_dims, const int64_t *ne,
                      void *data, size_t nbytes, bool own);

/* Writes the file atomically (temp file + rename). Returns 0 or -errno with e set. */
int sc_gguf_writer_save(sc_gguf_writer *w, const char *path, sc_err *e);
/* Returns the whole file image in a malloc'd buffer the caller frees. */
void sc_gguf_writer_image(sc_gguf_writer *w, uint8_t **out, size_t *len);

#endif
