/*
 * textout.h — turns the bytes of generated tokens into text a client may see: stop strings are
 * matched on the text (the stop text itself is never returned), a suffix that could still become
 * a stop string is held back, and only complete UTF-8 leaves (a multi-byte character split across
 * tokens is held until it is whole; invalid bytes become U+FFFD so every chunk is valid JSON text).
 *
 * Pure and single-threaded: the server keeps one per request on its event-loop thread.
 */
#ifndef SC_ENGINE_TEXTOUT_H
#define SC_ENGINE_TEXTOUT_H

#include <stdbool.h>
#include <stddef.h>

typedef struct sc_textout sc_textout;

/* Creates a filter for up to n stop strings (copied; empty ones ignored). Destroy with
 * sc_textout_destroy (NULL ok). */
sc_textout *sc_textout_create(const char *const *stops, int n);
void sc_textout_destroy(sc_textout *t);

/* Appends the bytes of one token. Text that is now safe is appended to the caller's buffer via
 * emit(ud, text, len) (valid UTF-8, possibly several calls). Returns true when a stop string
 * matched: the text before it has been emitted and the filter accepts no more input. */
bool sc_textout_feed(sc_textout *t, const char *bytes, size_t n, void (*emit)(void *ud, const char *s, size_t len),
                     void *ud);

/* End of generation: emits whatever is held back (an incomplete trailing UTF-8 sequence becomes
 * U+FFFD). No-op after a stop matched. */
void sc_textout_finish(sc_textout *t, void (*emit)(void *ud, const char *s, size_t len), void *ud);

/* Whether a stop string matched. */
bool sc_textout_stopped(const sc_textout *t);

#endif
