/*
 * secret.h — credentials shown once and stored hashed (libsodium).
 *
 * A credential reads "<kind>.<id>.<secret>": kind is a short tag ("sca" admin, "scj" join token,
 * "scn" node), id names the row that holds the hash, and secret is 32 random bytes in hex. Only
 * BLAKE2b-256(secret) is stored; verification compares hashes in constant time.
 */
#ifndef SC_BASE_SECRET_H
#define SC_BASE_SECRET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SC_SECRET_ID_LEN 16     /* hex chars of an id */
#define SC_SECRET_MAX 128       /* room for a whole credential */

/* Makes a new credential of the given kind: writes the id (NUL-terminated, 17 bytes) and the
 * whole credential text (SC_SECRET_MAX bytes), and the hash to store. */
void sc_secret_new(const char *kind, char *id, char *text, uint8_t hash[32]);
/* Splits a credential into kind, id and secret part; false if it is not well formed. Pointers
 * point into the caller's buffers (kind and id are copied, secret points into text). */
bool sc_secret_parse(const char *text, char kind[8], char id[SC_SECRET_ID_LEN + 1], const char **secret);
void sc_secret_hash(const char *secret, uint8_t hash[32]);
/* Constant-time comparison of the secret's hash with a stored hash. */
bool sc_secret_verify(const char *secret, const uint8_t stored[32]);
/* SHA-256 of a whole file as 64 lowercase hex digits (+NUL); size (may be NULL) gets its length.
 * Returns 0, -errno or SC_EIO. Streams the file in 1 MiB reads. */
int sc_sha256_file(const char *path, char out[65], int64_t *size);

/* Random id of SC_SECRET_ID_LEN hex chars with a one-letter prefix (e.g. node ids "n…"). */
void sc_random_id(char prefix, char *out, size_t cap);

#endif
