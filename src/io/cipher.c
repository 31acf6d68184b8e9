/*
 * cipher.c - encryption at rest: keys, keyring, encrypting and decrypting
 * streams (cipher.h has the format).
 *
 * Invariants: no byte of content leaves a reader before the chunk holding
 * it was authenticated; key bytes live in structs wiped before they are
 * freed; a writer never emits a chunk flagged last unless it is closing,
 * so a truncated object can never pass as complete.
 *
 * Why a lookahead byte in the reader: the last chunk is sealed with its
 * own flag in the nonce, so the reader must know whether a chunk is the
 * last before opening it; a full chunk followed by one more byte is not.
 */
#include "io/cipher.h"

#include "common/buf.h"
#include "common/error.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAGIC "TBX1"
#define FORMAT 1
#define NONCE_BYTES 12
#define FP_BYTES 8
#define OFF_KIND 5
#define OFF_KDF 6
#define OFF_SALT 12
#define OFF_FP 28
#define OFF_WRAP 36
#define OFF_OBJ_SALT 96
#define OFF_CHUNK 112
#define WRAP_AAD_BYTES OFF_WRAP
#define OBJ_SALT_BYTES 16
#define SEALED_CHUNK (IO_CIPHER_CHUNK_BYTES + IO_CIPHER_TAG_BYTES)

/* ---- keys ---- */

void
io_kek_fingerprint(char out[IO_FINGERPRINT_CHARS + 1], const uint8_t key[IO_KEY_BYTES])
{
	static const char label[] = "tenback kek 1";
	uint8_t sum[IO_SHA256_LEN];
	IoSha256 *h = io_sha256_new();

	io_sha256_update(h, label, sizeof(label) - 1);
	io_sha256_update(h, key, IO_KEY_BYTES);
	io_sha256_final(h, sum);
	io_sha256_free(h);
	io_hex(out, sum, FP_BYTES);
}

void
io_kek_wipe(IoKek *k)
{
	if (k)
		OPENSSL_cleanse(k, sizeof(*k));
}

int
io_kek_from_key_file(IoKek *out, const char *path)
{
	struct stat st;
	ssize_t n;
	int fd, rc;

	memset(out, 0, sizeof(*out));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_errno(errno, "could not open key file \"%s\"", path);
	if (fstat(fd, &st) < 0) {
		rc = err_errno(errno, "could not stat key file \"%s\"", path);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = err_set(ERR_INVALID, "key file \"%s\" is not a regular file", path);
		goto out;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		rc = err_set(ERR_PERMISSION, "key file \"%s\" is accessible by group or others", path);
		err_detail("Its mode is %04o; it must be 0600 or stricter.", (unsigned)(st.st_mode & 07777));
		err_hint("Run \"chmod 600 %s\", then consider the key exposed: rotate to a new one.", path);
		goto out;
	}
	if (st.st_size != IO_KEY_BYTES) {
		rc = err_set(ERR_INVALID, "key file \"%s\" has %lld bytes, not %d", path, (long long)st.st_size, IO_KEY_BYTES);
		err_hint("Make a key file with: (umask 077; head -c 32 /dev/urandom > FILE)");
		goto out;
	}
	n = read(fd, out->key, IO_KEY_BYTES);
	if (n != IO_KEY_BYTES) {
		rc = n < 0 ? err_errno(errno, "could not read key file \"%s\"", path)
		           : err_set(ERR_CORRUPT, "key file \"%s\" is shorter than %d bytes", path, IO_KEY_BYTES);
		goto out;
	}
	out->kind = IO_KEK_KEY_FILE;
	io_kek_fingerprint(out->fingerprint, out->key);
	rc = 0;
out:
	close(fd);
	if (rc < 0)
		io_kek_wipe(out);
	return rc;
}

/* Bounded so that a forged header cannot make a reader allocate more than 256 MiB. */
static bool
kdf_params_ok(const IoKdfParams *p)
{
	return p->log2_n >= 10 && p->log2_n <= 20 && p->r >= 1 && p->r <= 32 && p->p >= 1 && p->p <= 4 &&
	       128ull * p->r * (1ull << p->log2_n) <= (256ull << 20);
}

int
io_kek_from_passphrase(IoKek *out, const char *pass, size_t len, const IoKdfParams *kdf)
{
	uint64_t n, maxmem;

	memset(out, 0, sizeof(*out));
	if (len == 0)
		return err_set(ERR_INVALID, "the passphrase is empty");
	if (kdf) {
		out->kdf = *kdf;
	} else {
		if (RAND_bytes(out->kdf.salt, IO_KDF_SALT_BYTES) != 1)
			return err_set(ERR_INTERNAL, "could not draw random bytes for a key derivation salt");
		out->kdf.log2_n = IO_KDF_LOG2_N_DEFAULT;
		out->kdf.r = IO_KDF_R_DEFAULT;
		out->kdf.p = IO_KDF_P_DEFAULT;
	}
	if (!kdf_params_ok(&out->kdf)) {
		IoKdfParams bad = out->kdf;

		io_kek_wipe(out);
		return err_set(ERR_CORRUPT, "invalid scrypt parameters (log2 N %u, r %u, p %u)", bad.log2_n, bad.r, bad.p);
	}
	n = 1ull << out->kdf.log2_n;
	/* scrypt needs 128 * r * N bytes, plus 128 * r * p; leave room. */
	maxmem = 128ull * out->kdf.r * (n + out->kdf.p) + (1u << 20);
	if (EVP_PBE_scrypt(pass, len, out->kdf.salt, IO_KDF_SALT_BYTES, n, out->kdf.r, out->kdf.p, maxmem, out->key,
	                   IO_KEY_BYTES) != 1) {
		io_kek_wipe(out);
		return err_set(ERR_INTERNAL, "could not derive a key from the passphrase (scrypt)");
	}
	out->kind = IO_KEK_PASSPHRASE;
	io_kek_fingerprint(out->fingerprint, out->key);
	return 0;
}

/* ---- the keyring ---- */

typedef struct Pass {
	char *text;
	size_t len;
} Pass;

struct IoKeyring {
	pthread_mutex_t lock;
	IoKek *keks;
	size_t n_keks;
	Pass *passes;
	size_t n_passes;
	bool has_current;
	IoKek current;
	/* io_keyring_set_current_passphrase: derived by the first writer */
	Pass pending;
	IoKdfParams pending_kdf;
	char pending_fp[IO_FINGERPRINT_CHARS + 1];
	/* The write session: one data key, wrapped once. */
	char **required;                          /* io_keyring_require */
	size_t n_required;
	bool session;
	uint8_t data_key[IO_KEY_BYTES];
	uint8_t header[IO_CIPHER_HEADER_BYTES];   /* all but the object salt */
};

IoKeyring *
io_keyring_new(void)
{
	IoKeyring *kr = xcalloc(1, sizeof(*kr));

	pthread_mutex_init(&kr->lock, NULL);
	return kr;
}

void
io_keyring_free(IoKeyring *kr)
{
	if (kr == NULL)
		return;
	for (size_t pass_idx = 0; pass_idx < kr->n_passes; pass_idx++) {
		OPENSSL_cleanse(kr->passes[pass_idx].text, kr->passes[pass_idx].len);
		free(kr->passes[pass_idx].text);
	}
	free(kr->passes);
	for (size_t req_idx = 0; req_idx < kr->n_required; req_idx++)
		free(kr->required[req_idx]);
	free(kr->required);
	if (kr->pending.text) {
		OPENSSL_cleanse(kr->pending.text, kr->pending.len);
		free(kr->pending.text);
	}
	if (kr->keks)
		OPENSSL_cleanse(kr->keks, kr->n_keks * sizeof(*kr->keks));
	free(kr->keks);
	pthread_mutex_destroy(&kr->lock);
	OPENSSL_cleanse(kr, sizeof(*kr));
	free(kr);
}

/* Caller holds the lock. */
static const IoKek *
find_kek(const IoKeyring *kr, const char *fingerprint)
{
	for (size_t kek_idx = 0; kek_idx < kr->n_keks; kek_idx++)
		if (strcmp(kr->keks[kek_idx].fingerprint, fingerprint) == 0)
			return &kr->keks[kek_idx];
	return NULL;
}

static void
add_kek_locked(IoKeyring *kr, const IoKek *k)
{
	IoKek *grown;

	if (find_kek(kr, k->fingerprint))
		return;
	/* Not realloc: the old array is wiped before it is freed. */
	grown = xcalloc(kr->n_keks + 1, sizeof(*grown));
	if (kr->n_keks) {
		memcpy(grown, kr->keks, kr->n_keks * sizeof(*grown));
		OPENSSL_cleanse(kr->keks, kr->n_keks * sizeof(*grown));
	}
	free(kr->keks);
	kr->keks = grown;
	kr->keks[kr->n_keks++] = *k;
}

void
io_keyring_add_kek(IoKeyring *kr, const IoKek *k)
{
	pthread_mutex_lock(&kr->lock);
	add_kek_locked(kr, k);
	pthread_mutex_unlock(&kr->lock);
}

void
io_keyring_add_passphrase(IoKeyring *kr, const char *pass, size_t len)
{
	pthread_mutex_lock(&kr->lock);
	kr->passes = xrealloc(kr->passes, (kr->n_passes + 1) * sizeof(*kr->passes));
	kr->passes[kr->n_passes].text = xmalloc(len + 1);
	memcpy(kr->passes[kr->n_passes].text, pass, len);
	kr->passes[kr->n_passes].text[len] = '\0';
	kr->passes[kr->n_passes].len = len;
	kr->n_passes++;
	pthread_mutex_unlock(&kr->lock);
}

void
io_keyring_set_current(IoKeyring *kr, const IoKek *k)
{
	pthread_mutex_lock(&kr->lock);
	add_kek_locked(kr, k);
	kr->current = *k;
	kr->has_current = true;
	pthread_mutex_unlock(&kr->lock);
}

void
io_keyring_set_current_passphrase(IoKeyring *kr, const char *pass, size_t len, const IoKdfParams *kdf,
                                   const char *fingerprint)
{
	pthread_mutex_lock(&kr->lock);
	if (kr->pending.text) {
		OPENSSL_cleanse(kr->pending.text, kr->pending.len);
		free(kr->pending.text);
	}
	kr->pending.text = xmalloc(len + 1);
	memcpy(kr->pending.text, pass, len);
	kr->pending.text[len] = '\0';
	kr->pending.len = len;
	kr->pending_kdf = *kdf;
	snprintf(kr->pending_fp, sizeof(kr->pending_fp), "%s", fingerprint);
	kr->has_current = false;
	pthread_mutex_unlock(&kr->lock);
	/* readers find it among the passphrases, derived with each object's salt */
	io_keyring_add_passphrase(kr, pass, len);
}

void
io_keyring_require(IoKeyring *kr, const char *prefix)
{
	pthread_mutex_lock(&kr->lock);
	for (size_t req_idx = 0; req_idx < kr->n_required; req_idx++)
		if (strcmp(kr->required[req_idx], prefix) == 0) {
			pthread_mutex_unlock(&kr->lock);
			return;
		}
	kr->required = xrealloc(kr->required, (kr->n_required + 1) * sizeof(*kr->required));
	kr->required[kr->n_required++] = xstrdup(prefix);
	pthread_mutex_unlock(&kr->lock);
}

bool
io_keyring_requires(IoKeyring *kr, const char *path)
{
	bool found = false;

	pthread_mutex_lock(&kr->lock);
	for (size_t req_idx = 0; req_idx < kr->n_required && !found; req_idx++) {
		size_t len = strlen(kr->required[req_idx]);
		found = strncmp(path, kr->required[req_idx], len) == 0 && path[len] == '/';
	}
	pthread_mutex_unlock(&kr->lock);
	return found;
}

bool
io_keyring_encrypts(const IoKeyring *kr)
{
	return kr && (kr->has_current || kr->pending.text);
}

const char *
io_keyring_current_fingerprint(const IoKeyring *kr)
{
	if (kr && kr->has_current)
		return kr->current.fingerprint;
	return kr && kr->pending.text ? kr->pending_fp : NULL;
}

/* Caller holds the lock. */
static char *
describe_locked(const IoKeyring *kr)
{
	Buf b = BUF_INIT;

	for (size_t kek_idx = 0; kek_idx < kr->n_keks; kek_idx++)
		buf_printf(&b, "%s%s", kek_idx ? ", " : "", kr->keks[kek_idx].fingerprint);
	if (kr->n_passes)
		buf_printf(&b, "%s%zu passphrase(s)", kr->n_keks ? ", " : "", kr->n_passes);
	if (b.len == 0)
		buf_printf(&b, "none");
	return buf_steal(&b);
}

char *
io_keyring_describe(IoKeyring *kr)
{
	char *s;

	pthread_mutex_lock(&kr->lock);
	s = describe_locked(kr);
	pthread_mutex_unlock(&kr->lock);
	return s;
}

/* ---- AES-256-GCM of one piece ---- */

static int
gcm(bool enc, const uint8_t key[IO_KEY_BYTES], const uint8_t nonce[NONCE_BYTES], const uint8_t *aad, size_t aad_len,
    const uint8_t *aad2, size_t aad2_len, const uint8_t *in, size_t len, uint8_t *out, uint8_t tag[IO_CIPHER_TAG_BYTES])
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int outl = 0, ok;

	if (ctx == NULL)
		return err_set(ERR_INTERNAL, "could not allocate a cipher context");
	ok = EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, enc ? 1 : 0) == 1 &&
	     EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, NONCE_BYTES, NULL) == 1 &&
	     EVP_CipherInit_ex(ctx, NULL, NULL, key, nonce, enc ? 1 : 0) == 1 &&
	     (aad_len == 0 || EVP_CipherUpdate(ctx, NULL, &outl, aad, (int)aad_len) == 1) &&
	     (aad2_len == 0 || EVP_CipherUpdate(ctx, NULL, &outl, aad2, (int)aad2_len) == 1) &&
	     (len == 0 || EVP_CipherUpdate(ctx, out, &outl, in, (int)len) == 1);
	if (!ok) {
		EVP_CIPHER_CTX_free(ctx);
		return err_set(ERR_INTERNAL, "AES-256-GCM failed");
	}
	if (enc) {
		ok = EVP_CipherFinal_ex(ctx, out + len, &outl) == 1 &&
		     EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, IO_CIPHER_TAG_BYTES, tag) == 1;
		EVP_CIPHER_CTX_free(ctx);
		return ok ? 0 : err_set(ERR_INTERNAL, "AES-256-GCM failed");
	}
	ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, IO_CIPHER_TAG_BYTES, tag) == 1 &&
	     EVP_CipherFinal_ex(ctx, out + len, &outl) == 1;
	EVP_CIPHER_CTX_free(ctx);
	/* The caller says what failed to authenticate. */
	return ok ? 0 : ERR_CORRUPT;
}

static void
object_key(uint8_t out[IO_KEY_BYTES], const uint8_t data_key[IO_KEY_BYTES], const uint8_t salt[OBJ_SALT_BYTES])
{
	static const char label[] = "tenback object key 1";
	uint8_t msg[sizeof(label) - 1 + OBJ_SALT_BYTES];
	unsigned int len = IO_KEY_BYTES;

	memcpy(msg, label, sizeof(label) - 1);
	memcpy(msg + sizeof(label) - 1, salt, OBJ_SALT_BYTES);
	HMAC(EVP_sha256(), data_key, IO_KEY_BYTES, msg, sizeof(msg), out, &len);
}

static void
chunk_nonce(uint8_t out[NONCE_BYTES], uint64_t chunk_idx, bool last)
{
	for (int byte_idx = 0; byte_idx < 8; byte_idx++)
		out[byte_idx] = (uint8_t)(chunk_idx >> (8 * byte_idx));
	out[8] = last ? 1 : 0;
	out[9] = out[10] = out[11] = 0;
}

/* The session's data key and header, made on first use; caller holds the lock. */
static int
session_start(IoKeyring *kr)
{
	uint8_t *h = kr->header;
	uint8_t fp[FP_BYTES];
	int rc;

	if (kr->session)
		return 0;
	if (!kr->has_current && kr->pending.text) {
		IoKek k;

		if ((rc = io_kek_from_passphrase(&k, kr->pending.text, kr->pending.len, &kr->pending_kdf)) < 0)
			return rc;
		if (strcmp(k.fingerprint, kr->pending_fp) != 0) {
			io_kek_wipe(&k);
			return err_set(ERR_INVALID, "the current passphrase does not derive its key %s", kr->pending_fp);
		}
		add_kek_locked(kr, &k);
		kr->current = k;
		kr->has_current = true;
		io_kek_wipe(&k);
	}
	if (!kr->has_current)
		return err_set(ERR_INTERNAL, "no encryption key to write with");
	memset(h, 0, sizeof(kr->header));
	memcpy(h, MAGIC, 4);
	h[4] = FORMAT;
	h[OFF_KIND] = (uint8_t)kr->current.kind;
	if (kr->current.kind == IO_KEK_PASSPHRASE) {
		h[OFF_KDF] = kr->current.kdf.log2_n;
		h[OFF_KDF + 1] = kr->current.kdf.r;
		h[OFF_KDF + 2] = kr->current.kdf.p;
		memcpy(h + OFF_SALT, kr->current.kdf.salt, IO_KDF_SALT_BYTES);
	}
	if ((rc = io_unhex(fp, kr->current.fingerprint, FP_BYTES)) < 0)
		return rc;
	memcpy(h + OFF_FP, fp, FP_BYTES);
	if (RAND_bytes(kr->data_key, IO_KEY_BYTES) != 1 || RAND_bytes(h + OFF_WRAP, NONCE_BYTES) != 1)
		return err_set(ERR_INTERNAL, "could not draw random bytes for a data key");
	rc = gcm(true, kr->current.key, h + OFF_WRAP, h, WRAP_AAD_BYTES, NULL, 0, kr->data_key, IO_KEY_BYTES,
	         h + OFF_WRAP + NONCE_BYTES, h + OFF_WRAP + NONCE_BYTES + IO_KEY_BYTES);
	if (rc < 0)
		return rc;
	h[OFF_CHUNK] = (uint8_t)(IO_CIPHER_CHUNK_BYTES & 0xff);
	h[OFF_CHUNK + 1] = (uint8_t)((IO_CIPHER_CHUNK_BYTES >> 8) & 0xff);
	h[OFF_CHUNK + 2] = (uint8_t)((IO_CIPHER_CHUNK_BYTES >> 16) & 0xff);
	h[OFF_CHUNK + 3] = (uint8_t)((IO_CIPHER_CHUNK_BYTES >> 24) & 0xff);
	kr->session = true;
	return 0;
}

uint64_t
io_cipher_sealed_size(uint64_t plain_len)
{
	/* every full chunk sealed, then the last (possibly empty) one; a full last chunk is the last */
	uint64_t chunks = plain_len / IO_CIPHER_CHUNK_BYTES + 1;

	if (plain_len > 0 && plain_len % IO_CIPHER_CHUNK_BYTES == 0)
		chunks--;
	return IO_CIPHER_HEADER_BYTES + plain_len + chunks * IO_CIPHER_TAG_BYTES;
}

bool
io_cipher_header_is(const uint8_t *buf, size_t len, char out_fingerprint[IO_FINGERPRINT_CHARS + 1])
{
	if (len < 4 || memcmp(buf, MAGIC, 4) != 0)
		return false;
	if (out_fingerprint) {
		if (len >= OFF_FP + FP_BYTES)
			io_hex(out_fingerprint, buf + OFF_FP, FP_BYTES);
		else
			strcpy(out_fingerprint, "?");
	}
	return true;
}

/* ---- the encrypting writer ---- */

typedef struct EncWriter {
	IoWriter *sink;
	uint8_t key[IO_KEY_BYTES];
	uint8_t header[IO_CIPHER_HEADER_BYTES];
	char *name;
	uint8_t *plain;          /* IO_CIPHER_CHUNK_BYTES */
	size_t plain_len;
	uint8_t *sealed;         /* SEALED_CHUNK */
	uint64_t chunk_idx;
} EncWriter;

static int
enc_emit(EncWriter *e, bool last)
{
	uint8_t nonce[NONCE_BYTES];
	int rc;

	chunk_nonce(nonce, e->chunk_idx, last);
	rc = gcm(true, e->key, nonce, e->header, IO_CIPHER_HEADER_BYTES, (const uint8_t *)e->name, strlen(e->name),
	         e->plain, e->plain_len, e->sealed, e->sealed + e->plain_len);
	if (rc < 0)
		return rc;
	if ((rc = io_writer_write(e->sink, e->sealed, e->plain_len + IO_CIPHER_TAG_BYTES)) < 0)
		return rc;
	e->chunk_idx++;
	e->plain_len = 0;
	return 0;
}

static int
enc_write(void *impl, const void *buf, size_t len)
{
	EncWriter *e = impl;
	const uint8_t *p = buf;
	int rc;

	while (len > 0) {
		size_t take;

		/* A full chunk is emitted only once more content follows: the last is sealed at close. */
		if (e->plain_len == IO_CIPHER_CHUNK_BYTES && (rc = enc_emit(e, false)) < 0)
			return rc;
		take = IO_CIPHER_CHUNK_BYTES - e->plain_len;
		if (take > len)
			take = len;
		memcpy(e->plain + e->plain_len, p, take);
		e->plain_len += take;
		p += take;
		len -= take;
	}
	return 0;
}

static int
enc_close(void *impl)
{
	EncWriter *e = impl;
	int rc;

	if ((rc = enc_emit(e, true)) < 0)
		return rc;
	return io_writer_close(e->sink);
}

static void
enc_free(void *impl)
{
	EncWriter *e = impl;

	io_writer_free(e->sink);
	OPENSSL_cleanse(e->key, sizeof(e->key));
	if (e->plain)
		OPENSSL_cleanse(e->plain, IO_CIPHER_CHUNK_BYTES);
	free(e->plain);
	free(e->sealed);
	free(e->name);
	free(e);
}

static const IoWriterOps enc_ops = {
	.write = enc_write,
	.close = enc_close,
	.free = enc_free,
};

int
io_encrypt_writer_new(IoWriter **out, IoWriter *sink, IoKeyring *kr, const char *name)
{
	EncWriter *e = NULL;
	int rc;

	*out = NULL;
	e = xcalloc(1, sizeof(*e));
	e->sink = sink;
	e->name = xstrdup(name);
	pthread_mutex_lock(&kr->lock);
	rc = session_start(kr);
	if (rc == 0) {
		memcpy(e->header, kr->header, IO_CIPHER_HEADER_BYTES);
		if (RAND_bytes(e->header + OFF_OBJ_SALT, OBJ_SALT_BYTES) != 1)
			rc = err_set(ERR_INTERNAL, "could not draw random bytes for an object salt");
		else
			object_key(e->key, kr->data_key, e->header + OFF_OBJ_SALT);
	}
	pthread_mutex_unlock(&kr->lock);
	if (rc == 0)
		rc = io_writer_write(sink, e->header, IO_CIPHER_HEADER_BYTES);
	if (rc < 0) {
		enc_free(e);
		return rc;
	}
	e->plain = xmalloc(IO_CIPHER_CHUNK_BYTES);
	e->sealed = xmalloc(SEALED_CHUNK);
	*out = io_writer_new(&enc_ops, e);
	return 0;
}

/* ---- the decrypting reader ---- */

typedef enum DecMode {
	DEC_UNKNOWN,
	DEC_PLAIN,
	DEC_CIPHER,
} DecMode;

typedef struct DecReader {
	IoReader *src;
	IoKeyring *kr;
	char *name;
	DecMode mode;
	bool require_encrypted;
	uint8_t head[IO_CIPHER_HEADER_BYTES];
	size_t head_len, head_off;     /* plain: bytes peeked, and served */
	uint8_t key[IO_KEY_BYTES];
	uint8_t *in;                   /* SEALED_CHUNK + 1: a chunk and one byte of lookahead */
	size_t in_len;
	uint8_t *plain;                /* IO_CIPHER_CHUNK_BYTES */
	size_t plain_len, plain_off;
	uint64_t chunk_idx;
	bool done;
} DecReader;

/* The KEK of an object's header; caller holds the lock.  NULL with the error set. */
static const IoKek *
header_kek(IoKeyring *kr, const uint8_t *h, const char *name, int *out_rc)
{
	char fp[IO_FINGERPRINT_CHARS + 1];
	const IoKek *k;
	char *have;

	io_hex(fp, h + OFF_FP, FP_BYTES);
	if ((k = find_kek(kr, fp)) != NULL)
		return k;
	if (h[OFF_KIND] == IO_KEK_PASSPHRASE && kr->n_passes > 0) {
		IoKdfParams p = {0};

		memcpy(p.salt, h + OFF_SALT, IO_KDF_SALT_BYTES);
		p.log2_n = h[OFF_KDF];
		p.r = h[OFF_KDF + 1];
		p.p = h[OFF_KDF + 2];
		for (size_t pass_idx = 0; pass_idx < kr->n_passes; pass_idx++) {
			IoKek d;

			if ((*out_rc = io_kek_from_passphrase(&d, kr->passes[pass_idx].text, kr->passes[pass_idx].len, &p)) < 0) {
				err_prefix("cannot decrypt \"%s\"", name);
				return NULL;
			}
			add_kek_locked(kr, &d);
			io_kek_wipe(&d);
			if ((k = find_kek(kr, fp)) != NULL)
				return k;
		}
		*out_rc = err_set(ERR_PERMISSION, "cannot decrypt \"%s\": wrong passphrase", name);
		err_detail("It was encrypted with a passphrase whose key is %s; no passphrase given derives that key.", fp);
		err_hint("Give the passphrase that was in use when it was written (tenback cluster key-add CLUSTER "
		         "--passphrase-file FILE).");
		return NULL;
	}
	have = describe_locked(kr);
	*out_rc = err_set(ERR_PERMISSION, "cannot decrypt \"%s\": it was encrypted with key %s, which is not at hand",
	                  name, fp);
	err_detail("The keys given are: %s.", have);
	err_hint("Add the %s that was in use when it was written: tenback cluster key-add CLUSTER %s.",
	         h[OFF_KIND] == IO_KEK_PASSPHRASE ? "passphrase" : "key file",
	         h[OFF_KIND] == IO_KEK_PASSPHRASE ? "--passphrase-file FILE" : "--key-file FILE");
	free(have);
	return NULL;
}

static int
dec_start(DecReader *d)
{
	const IoKek *k;
	uint8_t data_key[IO_KEY_BYTES];
	uint8_t *h = d->head;
	ssize_t n;
	int rc = 0;

	n = io_reader_read_full(d->src, h, 4);
	if (n < 0)
		return (int)n;
	d->head_len = (size_t)n;
	if (n < 4 || memcmp(h, MAGIC, 4) != 0) {
		if (d->require_encrypted) {
			int rc2 = err_set(ERR_CORRUPT, "object \"%s\" is not encrypted, but its set is", d->name);
			err_detail("The manifest of its set is encrypted: every object of the set must be. It was replaced.");
			return rc2;
		}
		d->mode = DEC_PLAIN;
		return 0;
	}
	n = io_reader_read_full(d->src, h + 4, IO_CIPHER_HEADER_BYTES - 4);
	if (n < 0)
		return (int)n;
	if ((size_t)n < IO_CIPHER_HEADER_BYTES - 4)
		return err_set(ERR_CORRUPT, "encrypted object \"%s\" is truncated (in its header)", d->name);
	if (h[4] != FORMAT)
		return err_set(ERR_UNSUPPORTED, "encrypted object \"%s\" has format %u, which this tenback does not read",
		               d->name, h[4]);
	if ((h[OFF_KIND] != IO_KEK_KEY_FILE && h[OFF_KIND] != IO_KEK_PASSPHRASE) ||
	    (uint32_t)(h[OFF_CHUNK] | h[OFF_CHUNK + 1] << 8 | h[OFF_CHUNK + 2] << 16 | (uint32_t)h[OFF_CHUNK + 3] << 24) !=
	        IO_CIPHER_CHUNK_BYTES)
		return err_set(ERR_CORRUPT, "encrypted object \"%s\" has a damaged header", d->name);
	pthread_mutex_lock(&d->kr->lock);
	k = header_kek(d->kr, h, d->name, &rc);
	if (k && gcm(false, k->key, h + OFF_WRAP, h, WRAP_AAD_BYTES, NULL, 0, h + OFF_WRAP + NONCE_BYTES, IO_KEY_BYTES,
	             data_key, h + OFF_WRAP + NONCE_BYTES + IO_KEY_BYTES) < 0) {
		rc = err_set(ERR_CORRUPT, "encrypted object \"%s\" has a damaged header (its data key does not unwrap)",
		             d->name);
	}
	pthread_mutex_unlock(&d->kr->lock);
	if (rc == 0)
		object_key(d->key, data_key, h + OFF_OBJ_SALT);
	OPENSSL_cleanse(data_key, sizeof(data_key));
	if (rc < 0)
		return rc;
	d->mode = DEC_CIPHER;
	d->in = xmalloc(SEALED_CHUNK + 1);
	d->plain = xmalloc(IO_CIPHER_CHUNK_BYTES);
	return 0;
}

/* Authenticate and decrypt the next chunk into plain. */
static int
dec_next_chunk(DecReader *d)
{
	uint8_t nonce[NONCE_BYTES];
	size_t sealed_len;
	bool last;
	ssize_t n;
	int rc;

	n = io_reader_read_full(d->src, d->in + d->in_len, SEALED_CHUNK + 1 - d->in_len);
	if (n < 0)
		return (int)n;
	d->in_len += (size_t)n;
	last = d->in_len <= SEALED_CHUNK;
	sealed_len = last ? d->in_len : SEALED_CHUNK;
	if (sealed_len < IO_CIPHER_TAG_BYTES)
		return err_set(ERR_CORRUPT, "encrypted object \"%s\" is truncated (chunk %llu)", d->name,
		               (unsigned long long)d->chunk_idx);
	chunk_nonce(nonce, d->chunk_idx, last);
	rc = gcm(false, d->key, nonce, d->head, IO_CIPHER_HEADER_BYTES, (const uint8_t *)d->name, strlen(d->name), d->in,
	         sealed_len - IO_CIPHER_TAG_BYTES, d->plain, d->in + sealed_len - IO_CIPHER_TAG_BYTES);
	if (rc < 0) {
		rc = err_set(ERR_CORRUPT, "encrypted object \"%s\" is damaged, truncated or not at its own name (chunk %llu "
		             "does not authenticate)", d->name, (unsigned long long)d->chunk_idx);
		err_detail("Its content was changed after it was written, or it was cut short, or moved from another name.");
		return rc;
	}
	d->plain_len = sealed_len - IO_CIPHER_TAG_BYTES;
	d->plain_off = 0;
	d->chunk_idx++;
	if (last) {
		d->done = true;
		d->in_len = 0;
	} else {
		d->in[0] = d->in[SEALED_CHUNK];
		d->in_len = 1;
	}
	return 0;
}

static ssize_t
dec_read(void *impl, void *buf, size_t cap)
{
	DecReader *d = impl;
	int rc;

	if (d->mode == DEC_UNKNOWN && (rc = dec_start(d)) < 0)
		return rc;
	if (d->mode == DEC_PLAIN) {
		if (d->head_off < d->head_len) {
			size_t take = d->head_len - d->head_off;

			if (take > cap)
				take = cap;
			memcpy(buf, d->head + d->head_off, take);
			d->head_off += take;
			return (ssize_t)take;
		}
		return io_reader_read(d->src, buf, cap);
	}
	while (d->plain_off == d->plain_len) {
		if (d->done)
			return 0;
		if ((rc = dec_next_chunk(d)) < 0)
			return rc;
	}
	if (cap > d->plain_len - d->plain_off)
		cap = d->plain_len - d->plain_off;
	memcpy(buf, d->plain + d->plain_off, cap);
	d->plain_off += cap;
	return (ssize_t)cap;
}

static void
dec_free(void *impl)
{
	DecReader *d = impl;

	io_reader_free(d->src);
	OPENSSL_cleanse(d->key, sizeof(d->key));
	if (d->plain)
		OPENSSL_cleanse(d->plain, IO_CIPHER_CHUNK_BYTES);
	free(d->plain);
	free(d->in);
	free(d->name);
	free(d);
}

static const IoReaderOps dec_ops = {
	.read = dec_read,
	.free = dec_free,
};

int
io_decrypt_reader_new_strict(IoReader **out, IoReader *source, IoKeyring *kr, const char *name,
                             bool require_encrypted)
{
	DecReader *d = xcalloc(1, sizeof(*d));

	d->src = source;
	d->kr = kr;
	d->name = xstrdup(name);
	d->require_encrypted = require_encrypted;
	*out = io_reader_new(&dec_ops, d);
	return 0;
}

int
io_decrypt_reader_new(IoReader **out, IoReader *source, IoKeyring *kr, const char *name)
{
	return io_decrypt_reader_new_strict(out, source, kr, name, false);
}

bool
io_decrypt_reader_encrypted(const IoReader *r)
{
	const DecReader *d;

	if (r == NULL || io_reader_ops(r) != &dec_ops)
		return false;
	d = io_reader_impl((IoReader *)r);
	return d->mode == DEC_CIPHER;
}
