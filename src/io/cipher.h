/*
 * cipher.h - encryption at rest: key-encryption keys, a keyring, and the
 * encrypting / decrypting stream filters (AES-256-GCM, OpenSSL EVP).
 *
 * An encrypted object is a fixed header followed by chunks:
 *
 *   header (116 bytes)
 *     0  "TBX1"                  magic
 *     4  u8 format = 1
 *     5  u8 KEK kind             1 key file, 2 passphrase (scrypt)
 *     6  u8 log2(N), u8 r, u8 p  scrypt parameters (0 for a key file)
 *     9  3 zero bytes
 *    12  16 bytes                scrypt salt (zeros for a key file)
 *    28  8 bytes                 KEK fingerprint
 *    36  12 + 32 + 16 bytes      the data key wrapped by the KEK: AES-256-GCM
 *                                nonce, ciphertext, tag; AAD = header bytes 0..35
 *    96  16 bytes                object salt (random per object)
 *   112  u32 LE chunk size       65536
 *   chunks: each 65536 bytes of content (the last one shorter, possibly
 *   empty) encrypted with AES-256-GCM and followed by its 16-byte tag.
 *     key   = HMAC-SHA256(data key, "tenback object key 1" | object salt)
 *     nonce = chunk index (u64 LE) | last-chunk flag (u8) | 3 zero bytes
 *     AAD   = the whole header | the object's name
 *
 * So a changed byte anywhere, a dropped or reordered chunk, a truncation
 * (even at a chunk boundary: the last chunk is sealed as last), or an
 * object moved to another name fails authentication: ERR_CORRUPT.
 *
 * A KEK fingerprint is the first 8 bytes of SHA-256("tenback kek 1" | KEK),
 * written as 16 lowercase hex digits: it names a key without revealing it.
 *
 * Thread safety: an IoKeyring may be shared by threads (a mutex guards its
 * lazy derivations and its write session); each stream belongs to one
 * thread.  Key material is wiped (OPENSSL_cleanse) before memory is freed.
 */
#ifndef TENBACK_IO_CIPHER_H
#define TENBACK_IO_CIPHER_H

#include "io/io.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IO_KEY_BYTES 32
#define IO_KDF_SALT_BYTES 16
#define IO_FINGERPRINT_CHARS 16
#define IO_CIPHER_HEADER_BYTES 116
#define IO_CIPHER_CHUNK_BYTES 65536
#define IO_CIPHER_TAG_BYTES 16

typedef enum IoKekKind {
	IO_KEK_KEY_FILE = 1,
	IO_KEK_PASSPHRASE = 2,
} IoKekKind;

/* scrypt's parameters; log2_n 10..20, r 1..32, p 1..4 and 128 * r * N at most
 * 256 MiB are accepted (ERR_CORRUPT otherwise: a forged header). */
typedef struct IoKdfParams {
	uint8_t salt[IO_KDF_SALT_BYTES];
	uint8_t log2_n;
	uint8_t r;
	uint8_t p;
} IoKdfParams;

#define IO_KDF_LOG2_N_DEFAULT 15   /* N = 32768, r = 8: 32 MiB and about 0.1 s */
#define IO_KDF_R_DEFAULT 8
#define IO_KDF_P_DEFAULT 1

/* A key-encryption key: a key file's 32 bytes, or derived from a passphrase. */
typedef struct IoKek {
	IoKekKind kind;
	IoKdfParams kdf;                 /* passphrase only; zeros for a key file */
	uint8_t key[IO_KEY_BYTES];
	char fingerprint[IO_FINGERPRINT_CHARS + 1];
} IoKek;

/*
 * A key file: exactly 32 bytes, a regular file that group and others
 * cannot open (ERR_PERMISSION otherwise, as for the master key); another
 * size is ERR_INVALID with a hint on making one.
 */
int io_kek_from_key_file(IoKek *out, const char *path);
/* A passphrase (not empty) through scrypt; kdf NULL: a new random salt and
 * the default parameters. */
int io_kek_from_passphrase(IoKek *out, const char *pass, size_t len, const IoKdfParams *kdf);
/* The fingerprint of 32 key bytes. */
void io_kek_fingerprint(char out[IO_FINGERPRINT_CHARS + 1], const uint8_t key[IO_KEY_BYTES]);
void io_kek_wipe(IoKek *k);

typedef struct IoKeyring IoKeyring;

IoKeyring *io_keyring_new(void);
/* Wipes every key; NULL is accepted. */
void io_keyring_free(IoKeyring *kr);
/* Keys to read with (copied). */
void io_keyring_add_kek(IoKeyring *kr, const IoKek *k);
/* A passphrase to try on objects sealed with one: derived with each
 * object's own salt and parameters (once per salt). */
void io_keyring_add_passphrase(IoKeyring *kr, const char *pass, size_t len);
/* The key new objects are encrypted with (also added for reading). */
void io_keyring_set_current(IoKeyring *kr, const IoKek *k);
/* A passphrase as the current key, derived (scrypt) only when the first
 * object is written: readers do not pay for it.  fingerprint is what it
 * must derive; the first writer fails (ERR_INVALID) when it does not. */
void io_keyring_set_current_passphrase(IoKeyring *kr, const char *pass, size_t len, const IoKdfParams *kdf,
                                       const char *fingerprint);
/* Whether objects written now are encrypted. */
bool io_keyring_encrypts(const IoKeyring *kr);
/* The current key's fingerprint, or NULL; borrowed for the keyring's life. */
const char *io_keyring_current_fingerprint(const IoKeyring *kr);
/* A text naming the keyring's keys ("none", or "a1b2..., c3d4..."), the caller's. */
char *io_keyring_describe(IoKeyring *kr);

/*
 * Encrypt what is written into sink (owned, even on failure) as one
 * encrypted object of that name.  Every writer of a keyring uses the same
 * data key, made at random on its first use and wrapped by the current
 * KEK (ERR_INTERNAL when the keyring has none): one data key per keyring
 * that writes - tenback makes one per backup set and per archived segment.
 */
int io_encrypt_writer_new(IoWriter **out, IoWriter *sink, IoKeyring *kr, const char *name);

/*
 * Read source (owned, even on failure): an encrypted object of that name
 * is decrypted and authenticated chunk by chunk (ERR_CORRUPT as above, from
 * the read that reaches the damage); anything else is passed through
 * unchanged.  A key that is not in the keyring is ERR_PERMISSION naming
 * the fingerprint needed and the ones at hand; a passphrase-sealed object
 * that no passphrase of the keyring opens says "wrong passphrase".
 */
int io_decrypt_reader_new(IoReader **out, IoReader *source, IoKeyring *kr, const char *name);
/* The same, but an object that is not encrypted is ERR_CORRUPT ("... is not
 * encrypted, but its set is") from the first read, when require_encrypted. */
int io_decrypt_reader_new_strict(IoReader **out, IoReader *source, IoKeyring *kr, const char *name,
                                 bool require_encrypted);
/* After a first read: whether r (any reader) is a decrypting reader that found an encrypted object. */
bool io_decrypt_reader_encrypted(const IoReader *r);

/*
 * Objects whose path starts with prefix/ must be encrypted (a set whose
 * manifest is): io_keyring_requires says so for a path.  Thread-safe.
 */
void io_keyring_require(IoKeyring *kr, const char *prefix);
bool io_keyring_requires(IoKeyring *kr, const char *path);

/* The stored length of an encrypted object of plain_len bytes of content. */
uint64_t io_cipher_sealed_size(uint64_t plain_len);

/* Whether buf (len bytes, the object's start) is an encrypted object's header;
 * *out_fingerprint (may be NULL) gets the key's fingerprint. */
bool io_cipher_header_is(const uint8_t *buf, size_t len, char out_fingerprint[IO_FINGERPRINT_CHARS + 1]);

#endif
