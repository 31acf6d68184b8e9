/*
 * secret.h - secrets at rest (storage credentials): sealed with AES-256-GCM
 * under the home's master key before they reach the metadata store.
 *
 * The master key is HOME/master.key: 32 random bytes, created mode 0600 on
 * first use (atomically: a concurrent first use sees one key, never a
 * partial file).  A key file with any group or other permission bit, or
 * that is not a regular file of 32 bytes, is refused: a secret is never
 * sealed with a key someone else could read.  Losing the key loses the
 * secrets (they can be entered again); copying a home copies its key.
 *
 * Sealed format (version 1):
 *   version u8 = 1 | nonce (12 random bytes) | ciphertext (len of plain) | GCM tag (16)
 * The version byte is authenticated as additional data.
 *
 * Thread safety: safe from any thread (no state kept between calls).
 */
#ifndef TENBACK_META_SECRET_H
#define TENBACK_META_SECRET_H

#include <stddef.h>
#include <stdint.h>

#define SECRET_KEY_FILE "master.key"
#define SECRET_OVERHEAD (1 + 12 + 16)

/*
 * Seal len bytes of plain.  *out (malloc'd, the caller's) holds
 * len + SECRET_OVERHEAD bytes.  ERR_PERMISSION when the key file is open to
 * group or others; ERR_CORRUPT when it is not 32 bytes; ERR_IO and the like
 * when it cannot be read or created.
 */
int secret_seal(const char *home, const uint8_t *plain, size_t len, uint8_t **out, size_t *out_len);

/*
 * Open what secret_seal produced.  *out (malloc'd, the caller's; one extra
 * NUL byte after *out_len so a text secret is a C string).  ERR_CORRUPT when
 * the input is truncated, of an unknown version, altered, or sealed under
 * another key; the key errors as secret_seal.  The caller should wipe the
 * plaintext when done with it.
 */
int secret_open(const char *home, const uint8_t *sealed, size_t len, uint8_t **out, size_t *out_len);

#endif
