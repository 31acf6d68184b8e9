/*
 * secret.c - seal and open secrets with the home's master key (secret.h).
 *
 * Invariant: key material lives only in stack buffers that are wiped
 * (OPENSSL_cleanse) before every return, and a plaintext buffer is wiped
 * before it is freed on a failed open.
 *
 * Why link() for creation: the key is written to a private temporary file,
 * made durable, then linked to its name.  link() fails with EEXIST instead
 * of replacing, so two processes creating the key at once agree on the
 * first one, and nobody ever reads a half-written key (open(O_EXCL) on the
 * final name would expose a short file between create and write).
 */
#include "meta/secret.h"

#include "common/buf.h"
#include "common/error.h"
#include "common/strutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEY_LEN 32
#define NONCE_LEN 12
#define TAG_LEN 16
#define SEAL_VERSION 1

static int
fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0)
		return err_errno(errno, "could not open directory \"%s\"", dir);
	if (fsync(fd) < 0)
		rc = err_errno(errno, "could not fsync directory \"%s\"", dir);
	close(fd);
	return rc;
}

/* Create HOME/master.key unless another process did it first. */
static int
create_key(const char *home, const char *path)
{
	uint8_t key[KEY_LEN];
	char *tmp = xasprintf("%s/" SECRET_KEY_FILE ".XXXXXX", home);
	int fd = -1;
	int rc;

	if (mkdir(home, 0700) < 0 && errno != EEXIST) {
		rc = err_errno(errno, "could not create directory \"%s\"", home);
		goto out;
	}
	if (RAND_bytes(key, KEY_LEN) != 1) {
		rc = err_set(ERR_INTERNAL, "could not generate a master key: no random bytes from OpenSSL");
		goto out;
	}
	/* mkstemp creates the file 0600 whatever the umask */
	if ((fd = mkstemp(tmp)) < 0) {
		rc = err_errno(errno, "could not create master key file in \"%s\"", home);
		free(tmp);
		tmp = NULL;
		goto out;
	}
	errno = 0;
	if (write(fd, key, KEY_LEN) != KEY_LEN) {
		rc = err_errno(errno ? errno : EIO, "could not write master key file \"%s\"", tmp);
		goto out;
	}
	if (fsync(fd) < 0) {
		rc = err_errno(errno, "could not fsync master key file \"%s\"", tmp);
		goto out;
	}
	rc = close(fd);
	fd = -1;
	if (rc < 0) {
		rc = err_errno(errno, "could not close master key file \"%s\"", tmp);
		goto out;
	}
	if (link(tmp, path) < 0 && errno != EEXIST) {
		rc = err_errno(errno, "could not create master key file \"%s\"", path);
		goto out;
	}
	rc = fsync_dir(home);
out:
	OPENSSL_cleanse(key, sizeof(key));
	if (fd >= 0)
		close(fd);
	if (tmp) {
		unlink(tmp);
		free(tmp);
	}
	return rc;
}

/* Read the master key into key, creating it on first use. */
static int
load_key(const char *home, uint8_t key[KEY_LEN])
{
	char *path = path_join(home, SECRET_KEY_FILE);
	struct stat st;
	int fd = -1;
	ssize_t n;
	int rc;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		if ((rc = create_key(home, path)) < 0)
			goto out;
		fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd < 0) {
		rc = err_errno(errno, "could not open master key file \"%s\"", path);
		goto out;
	}
	if (fstat(fd, &st) < 0) {
		rc = err_errno(errno, "could not stat master key file \"%s\"", path);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = err_set(ERR_CORRUPT, "master key file \"%s\" is not a regular file", path);
		goto out;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		rc = err_set(ERR_PERMISSION, "master key file \"%s\" is accessible by group or others", path);
		err_detail("Its mode is %04o; it must be 0600.", (unsigned)(st.st_mode & 07777));
		err_hint("Run \"chmod 600 %s\", then consider the secrets it protects exposed and enter them again.", path);
		goto out;
	}
	if (st.st_size != KEY_LEN) {
		rc = err_set(ERR_CORRUPT, "master key file \"%s\" has %lld bytes, not %d", path, (long long)st.st_size,
		             KEY_LEN);
		err_hint("Restore the file from a copy of the home; without it the stored secrets cannot be read.");
		goto out;
	}
	n = read(fd, key, KEY_LEN);
	if (n != KEY_LEN) {
		rc = n < 0 ? err_errno(errno, "could not read master key file \"%s\"", path)
		           : err_set(ERR_CORRUPT, "master key file \"%s\" is shorter than %d bytes", path, KEY_LEN);
		goto out;
	}
	rc = 0;
out:
	if (rc < 0)
		OPENSSL_cleanse(key, KEY_LEN);
	if (fd >= 0)
		close(fd);
	free(path);
	return rc;
}

int
secret_seal(const char *home, const uint8_t *plain, size_t len, uint8_t **out, size_t *out_len)
{
	uint8_t key[KEY_LEN];
	uint8_t version = SEAL_VERSION;
	EVP_CIPHER_CTX *ctx = NULL;
	uint8_t *buf = NULL;
	int outl;
	int rc;

	*out = NULL;
	*out_len = 0;
	if (len > (size_t)INT_MAX - SECRET_OVERHEAD)
		return err_set(ERR_INVALID, "secret is too large to seal (%zu bytes)", len);
	if ((rc = load_key(home, key)) < 0)
		return rc;
	buf = xmalloc(len + SECRET_OVERHEAD);
	buf[0] = version;
	if (RAND_bytes(buf + 1, NONCE_LEN) != 1) {
		rc = err_set(ERR_INTERNAL, "could not generate a nonce: no random bytes from OpenSSL");
		goto out;
	}
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) != 1 ||
	    EVP_EncryptInit_ex(ctx, NULL, NULL, key, buf + 1) != 1 ||
	    EVP_EncryptUpdate(ctx, NULL, &outl, &version, 1) != 1 ||
	    (len > 0 && EVP_EncryptUpdate(ctx, buf + 1 + NONCE_LEN, &outl, plain, (int)len) != 1) ||
	    EVP_EncryptFinal_ex(ctx, buf + 1 + NONCE_LEN + len, &outl) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, buf + 1 + NONCE_LEN + len) != 1) {
		rc = err_set(ERR_INTERNAL, "could not seal secret: AES-256-GCM failed in OpenSSL");
		goto out;
	}
	*out = buf;
	*out_len = len + SECRET_OVERHEAD;
	buf = NULL;
	rc = 0;
out:
	OPENSSL_cleanse(key, sizeof(key));
	EVP_CIPHER_CTX_free(ctx);
	if (buf) {
		OPENSSL_cleanse(buf, len + SECRET_OVERHEAD);
		free(buf);
	}
	return rc;
}

int
secret_open(const char *home, const uint8_t *sealed, size_t len, uint8_t **out, size_t *out_len)
{
	uint8_t key[KEY_LEN];
	EVP_CIPHER_CTX *ctx = NULL;
	uint8_t *plain = NULL;
	size_t plain_len;
	uint8_t tag[TAG_LEN];
	int outl;
	int rc;

	*out = NULL;
	*out_len = 0;
	if (len < SECRET_OVERHEAD || len > (size_t)INT_MAX)
		return err_set(ERR_CORRUPT, "sealed secret has an invalid length (%zu bytes)", len);
	if (sealed[0] != SEAL_VERSION)
		return err_set(ERR_CORRUPT, "sealed secret has unknown format version %u", (unsigned)sealed[0]);
	if ((rc = load_key(home, key)) < 0)
		return rc;
	plain_len = len - SECRET_OVERHEAD;
	plain = xmalloc(plain_len + 1);
	memcpy(tag, sealed + len - TAG_LEN, TAG_LEN);
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) != 1 ||
	    EVP_DecryptInit_ex(ctx, NULL, NULL, key, sealed + 1) != 1 ||
	    EVP_DecryptUpdate(ctx, NULL, &outl, sealed, 1) != 1 ||
	    (plain_len > 0 && EVP_DecryptUpdate(ctx, plain, &outl, sealed + 1 + NONCE_LEN, (int)plain_len) != 1) ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN, tag) != 1) {
		rc = err_set(ERR_INTERNAL, "could not open secret: AES-256-GCM failed in OpenSSL");
		goto out;
	}
	/* the tag check: only here does the plaintext become trustworthy */
	if (EVP_DecryptFinal_ex(ctx, plain + plain_len, &outl) != 1) {
		rc = err_set(ERR_CORRUPT, "sealed secret does not match the master key of \"%s\"", home);
		err_detail("The sealed data were altered, or sealed with another home's master key.");
		err_hint("Enter the secret again.");
		goto out;
	}
	plain[plain_len] = '\0';
	*out = plain;
	*out_len = plain_len;
	plain = NULL;
	rc = 0;
out:
	OPENSSL_cleanse(key, sizeof(key));
	EVP_CIPHER_CTX_free(ctx);
	if (plain) {
		OPENSSL_cleanse(plain, plain_len + 1);
		free(plain);
	}
	return rc;
}
