/*
 * password.c - argon2id password hashes, random secrets, SHA-256 of
 * secrets and constant-time comparison.
 *
 * Invariant: no plaintext password or secret leaves these functions except
 * through their out parameters; buffers that held one are wiped.
 */
#include "api/api_int.h"

#include "io/io.h"

#include <argon2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <errno.h>

/* OWASP's argon2id recommendation for interactive log-ons: 19 MiB, two
 * passes, one lane; ~30 ms on a laptop core, so a log-on storm cannot eat
 * the daemon's memory (thread per connection). */
#define ARGON2_T_COST 2
#define ARGON2_M_COST_KIB (19 * 1024)
#define ARGON2_LANES 1
#define ARGON2_SALT_BYTES 16
#define ARGON2_HASH_BYTES 32

static void
random_bytes(uint8_t *out, size_t n)
{
	size_t done = 0;

	while (done < n) {
		ssize_t r = getrandom(out + done, n - done, 0);
		if (r < 0 && errno == EINTR)
			continue;
		ASSERT(r > 0);
		done += (size_t)r;
	}
}

int
api_password_hash(const char *password, char **out)
{
	uint8_t salt[ARGON2_SALT_BYTES];
	size_t len = argon2_encodedlen(ARGON2_T_COST, ARGON2_M_COST_KIB, ARGON2_LANES, ARGON2_SALT_BYTES,
	                               ARGON2_HASH_BYTES, Argon2_id);
	char *enc = xmalloc(len);
	int rc;

	*out = NULL;
	random_bytes(salt, sizeof(salt));
	rc = argon2id_hash_encoded(ARGON2_T_COST, ARGON2_M_COST_KIB, ARGON2_LANES, password, strlen(password), salt,
	                           sizeof(salt), ARGON2_HASH_BYTES, enc, len);
	if (rc != ARGON2_OK) {
		free(enc);
		return err_set(ERR_INTERNAL, "could not hash password: %s", argon2_error_message(rc));
	}
	*out = enc;
	return 0;
}

int
api_password_verify(const char *encoded, const char *password)
{
	int rc;

	if (encoded == NULL || strncmp(encoded, "$argon2id$", 10) != 0)
		return err_set(ERR_INVALID, "stored password hash is not an argon2id hash");
	rc = argon2id_verify(encoded, password, strlen(password));
	if (rc == ARGON2_OK)
		return 0;
	if (rc == ARGON2_VERIFY_MISMATCH)
		return err_set(ERR_PERMISSION, "password does not match");
	return err_set(ERR_INVALID, "could not verify password: %s", argon2_error_message(rc));
}

char *
api_password_generate(void)
{
	static const char alphabet[] = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
	uint8_t raw[20];
	char *out = xmalloc(sizeof(raw) + 1);
	size_t n = sizeof(alphabet) - 1;

	for (size_t i = 0; i < sizeof(raw); i++) {
		uint8_t b;
		do   /* rejection sampling: no bias towards the first letters */
			random_bytes(&b, 1);
		while (b >= 256 - 256 % n);
		out[i] = alphabet[b % n];
	}
	out[sizeof(raw)] = '\0';
	explicit_bzero(raw, sizeof(raw));
	return out;
}

char *
api_random_hex(size_t n)
{
	uint8_t *raw = xmalloc(n);
	char *out = xmalloc(2 * n + 1);

	random_bytes(raw, n);
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = "0123456789abcdef"[raw[i] >> 4];
		out[2 * i + 1] = "0123456789abcdef"[raw[i] & 15];
	}
	out[2 * n] = '\0';
	explicit_bzero(raw, n);
	free(raw);
	return out;
}

void
api_sha256_hex(const char *s, char out[65])
{
	IoSha256 *h = io_sha256_new();
	uint8_t d[IO_SHA256_LEN];

	io_sha256_update(h, s, strlen(s));
	io_sha256_final(h, d);
	io_sha256_free(h);
	for (size_t i = 0; i < IO_SHA256_LEN; i++) {
		out[2 * i] = "0123456789abcdef"[d[i] >> 4];
		out[2 * i + 1] = "0123456789abcdef"[d[i] & 15];
	}
	out[64] = '\0';
}

bool
api_secret_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned char diff = (unsigned char)(la != lb);

	for (size_t i = 0; i < la && i < lb; i++)
		diff |= (unsigned char)(a[i] ^ b[i]);
	return diff == 0;
}
