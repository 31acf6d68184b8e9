/*
 * keys.c - a cluster's encryption keys: adding, rotating and removing them
 * (the metadata keeps them sealed), the keyring every storage of the
 * cluster is opened with, and the names objects are sealed under.
 *
 * Invariants: a key file's bytes and a passphrase reach the metadata only
 * sealed with the home's master key, and never a log line; when a cluster
 * has a current key that cannot be loaded, its storages do not open (a
 * write must never fall back to the clear).
 */
#include "backup/backup.h"
#include "backup/backup_int.h"

#include "common/buf.h"
#include "common/error.h"
#include "common/log.h"
#include "common/strutil.h"
#include "io/cipher.h"
#include "meta/secret.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PASSPHRASE_MAX 4096

/*
 * The name an object is sealed under: its path, except that an archived
 * WAL file ("tenback/S/archive/T/F") and its copy in a set
 * ("tenback/S/N/I/wal/F") are both "tenback/S/wal/F", so a set's WAL is a
 * byte copy of the archive's.
 */
char *
repo_cipher_name(const char *path)
{
	const char *comp[8];
	size_t n = 0;
	const char *p = path;
	const char *file;

	while (n < 8) {
		comp[n++] = p;
		if ((p = strchr(p, '/')) == NULL)
			break;
		p++;
	}
	file = strrchr(path, '/');
	file = file ? file + 1 : path;
	if (n == 5 && strncmp(comp[0], "tenback/", 8) == 0 && strncmp(comp[2], "archive/", 8) == 0)
		return xasprintf("%.*s/wal/%s", (int)(comp[2] - comp[0] - 1), path, file);
	if (n == 6 && strncmp(comp[0], "tenback/", 8) == 0 && strncmp(comp[4], "wal/", 4) == 0)
		return xasprintf("%.*s/wal/%s", (int)(comp[2] - comp[0] - 1), path, file);
	return xstrdup(path);
}

/* A passphrase file: private like a key file; one trailing newline is not part of it. */
static int
read_passphrase_file(const char *path, char **out, size_t *out_len)
{
	struct stat st;
	char *buf = NULL;
	ssize_t n;
	size_t len;
	int fd, rc;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_errno(errno, "could not open passphrase file \"%s\"", path);
	if (fstat(fd, &st) < 0) {
		rc = err_errno(errno, "could not stat passphrase file \"%s\"", path);
		goto out;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		rc = err_set(ERR_PERMISSION, "passphrase file \"%s\" is accessible by group or others", path);
		err_detail("Its mode is %04o; it must be 0600 or stricter.", (unsigned)(st.st_mode & 07777));
		err_hint("Run \"chmod 600 %s\", then consider the passphrase exposed: rotate to a new one.", path);
		goto out;
	}
	buf = xmalloc(PASSPHRASE_MAX + 1);
	n = read(fd, buf, PASSPHRASE_MAX + 1);
	if (n < 0) {
		rc = err_errno(errno, "could not read passphrase file \"%s\"", path);
		goto out;
	}
	len = (size_t)n;
	if (len > PASSPHRASE_MAX) {
		rc = err_set(ERR_INVALID, "passphrase file \"%s\" is longer than %d bytes", path, PASSPHRASE_MAX);
		goto out;
	}
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	if (len == 0) {
		rc = err_set(ERR_INVALID, "passphrase file \"%s\" is empty", path);
		goto out;
	}
	buf[len] = '\0';
	*out = buf;
	*out_len = len;
	buf = NULL;
	rc = 0;
out:
	if (buf) {
		OPENSSL_cleanse(buf, PASSPHRASE_MAX + 1);
		free(buf);
	}
	close(fd);
	return rc;
}

/*
 * What a key row seals: "key-file\n<path>", or
 * "passphrase\n<salt hex>\n<log2 N> <r> <p>\n<passphrase>".
 */
typedef struct KeySpec {
	IoKekKind kind;
	char *path;
	char *pass;
	size_t pass_len;
	IoKdfParams kdf;
} KeySpec;

static void
key_spec_clear(KeySpec *ks)
{
	free(ks->path);
	if (ks->pass) {
		OPENSSL_cleanse(ks->pass, ks->pass_len);
		free(ks->pass);
	}
	memset(ks, 0, sizeof(*ks));
}

static int
key_spec_unseal(Meta *meta, const MetaKey *k, KeySpec *out)
{
	uint8_t *plain = NULL;
	size_t len = 0;
	char *p, *nl, *nl2, *nl3;
	char salt_hex[2 * IO_KDF_SALT_BYTES + 1];
	unsigned n_log, r, par;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = secret_open(meta_home(meta), k->sealed, k->sealed_len, &plain, &len)) < 0) {
		err_prefix("could not unseal encryption key %s of cluster \"%s\"", k->fingerprint, k->cluster);
		return rc;
	}
	p = xmalloc(len + 1);
	memcpy(p, plain, len);
	p[len] = '\0';
	OPENSSL_cleanse(plain, len);
	free(plain);
	rc = err_set(ERR_CORRUPT, "encryption key %s of cluster \"%s\" is malformed in the metadata", k->fingerprint,
	             k->cluster);
	if ((nl = strchr(p, '\n')) == NULL)
		goto out;
	*nl = '\0';
	if (strcmp(p, "key-file") == 0) {
		out->kind = IO_KEK_KEY_FILE;
		out->path = xstrdup(nl + 1);
		rc = 0;
	} else if (strcmp(p, "passphrase") == 0 && (nl2 = strchr(nl + 1, '\n')) != NULL &&
	           (nl3 = strchr(nl2 + 1, '\n')) != NULL && nl2 - (nl + 1) == 2 * IO_KDF_SALT_BYTES &&
	           sscanf(nl2 + 1, "%u %u %u", &n_log, &r, &par) == 3 && n_log < 256 && r < 256 && par < 256) {
		memcpy(salt_hex, nl + 1, 2 * IO_KDF_SALT_BYTES);
		salt_hex[2 * IO_KDF_SALT_BYTES] = '\0';
		if (io_unhex(out->kdf.salt, salt_hex, IO_KDF_SALT_BYTES) < 0)
			goto out;
		out->kind = IO_KEK_PASSPHRASE;
		out->kdf.log2_n = (uint8_t)n_log;
		out->kdf.r = (uint8_t)r;
		out->kdf.p = (uint8_t)par;
		out->pass_len = len - (size_t)(nl3 + 1 - p);
		out->pass = xmalloc(out->pass_len + 1);
		memcpy(out->pass, nl3 + 1, out->pass_len + 1);
		rc = 0;
	}
	if (rc == 0)
		err_clear();
out:
	OPENSSL_cleanse(p, len);
	free(p);
	return rc;
}

int
cluster_keyring_load(Meta *meta, const char *cluster, IoKeyring **out)
{
	IoKeyring *kr = io_keyring_new();
	MetaKey *keys = NULL;
	size_t n = 0;
	int rc;

	*out = NULL;
	if ((rc = meta_key_list(meta, cluster, &keys, &n)) < 0)
		goto out;
	for (size_t key_idx = 0; key_idx < n; key_idx++) {
		const MetaKey *k = &keys[key_idx];
		KeySpec ks;
		IoKek kek;

		if ((rc = key_spec_unseal(meta, k, &ks)) < 0)
			goto out;
		if (ks.kind == IO_KEK_PASSPHRASE) {
			if (k->current)
				io_keyring_set_current_passphrase(kr, ks.pass, ks.pass_len, &ks.kdf, k->fingerprint);
			else
				io_keyring_add_passphrase(kr, ks.pass, ks.pass_len);
		} else if ((rc = io_kek_from_key_file(&kek, ks.path)) < 0 ||
		           (strcmp(kek.fingerprint, k->fingerprint) != 0 &&
		            (rc = err_set(ERR_INVALID, "key file \"%s\" holds key %s, not key %s", ks.path, kek.fingerprint,
		                          k->fingerprint)) < 0)) {
			if (k->current) {
				char *why = xstrdup(err_message());

				/* Never ERR_NOT_FOUND (a key file gone): archive-get would take it for the
				 * end of the archive, and recovery would end early. */
				rc = err_set(ERR_PERMISSION, "cannot use the current encryption key %s of cluster \"%s\": %s",
				             k->fingerprint, cluster, why);
				free(why);
				err_hint("Put the key file back, or rotate: tenback cluster encryption %s --key-file FILE.",
				         cluster);
				key_spec_clear(&ks);
				io_kek_wipe(&kek);
				goto out;
			}
			/* An old key that is gone only matters to what it encrypted: that read names it. */
			log_warning("encryption key %s of cluster \"%s\" is not usable: %s", k->fingerprint, cluster, err_message());
			err_clear();
			rc = 0;
		} else if (k->current) {
			io_keyring_set_current(kr, &kek);
		} else {
			io_keyring_add_kek(kr, &kek);
		}
		io_kek_wipe(&kek);
		key_spec_clear(&ks);
	}
	*out = kr;
	kr = NULL;
out:
	meta_key_array_free(keys, n);
	io_keyring_free(kr);
	return rc;
}

int
cluster_key_add(Meta *meta, const KeyAddOpts *o, char *out_fingerprint)
{
	MetaCluster c = {0};
	MetaKey row = {0};
	IoKek kek = {0};
	char *pass = NULL;
	size_t pass_len = 0;
	char *plain = NULL;
	int rc;

	out_fingerprint[0] = '\0';
	if ((o->key_file != NULL) + (o->passphrase_file != NULL) + (o->passphrase != NULL) != 1)
		return err_set(ERR_INVALID, "give one of a key file and a passphrase");
	if ((rc = meta_cluster_get(meta, o->cluster, &c)) < 0)
		return rc;
	if (o->key_file) {
		char *abs = NULL;

		if (o->key_file[0] != '/') {
			rc = err_set(ERR_INVALID, "the key file must be an absolute path: \"%s\"", o->key_file);
			goto out;
		}
		if ((rc = io_kek_from_key_file(&kek, o->key_file)) < 0)
			goto out;
		abs = xstrdup(o->key_file);
		plain = xasprintf("key-file\n%s", abs);
		free(abs);
		row.kind = (char *)"key-file";
	} else {
		char salt_hex[2 * IO_KDF_SALT_BYTES + 1];
		Buf b = BUF_INIT;

		if (o->passphrase) {
			pass_len = strlen(o->passphrase);
			pass = xstrdup(o->passphrase);
		} else if ((rc = read_passphrase_file(o->passphrase_file, &pass, &pass_len)) < 0) {
			goto out;
		}
		if ((rc = io_kek_from_passphrase(&kek, pass, pass_len, NULL)) < 0)
			goto out;
		io_hex(salt_hex, kek.kdf.salt, IO_KDF_SALT_BYTES);
		buf_printf(&b, "passphrase\n%s\n%u %u %u\n", salt_hex, kek.kdf.log2_n, kek.kdf.r, kek.kdf.p);
		buf_append(&b, pass, pass_len);
		plain = buf_steal(&b);
		row.kind = (char *)"passphrase";
	}
	row.cluster = c.name;
	row.fingerprint = kek.fingerprint;
	row.current = o->current;
	if ((rc = secret_seal(meta_home(meta), (const uint8_t *)plain, strlen(plain), &row.sealed, &row.sealed_len)) < 0 ||
	    (rc = meta_key_put(meta, &row)) < 0)
		goto out;
	snprintf(out_fingerprint, IO_FINGERPRINT_CHARS + 1, "%s", kek.fingerprint);
out:
	if (plain) {
		OPENSSL_cleanse(plain, strlen(plain));
		free(plain);
	}
	if (pass) {
		OPENSSL_cleanse(pass, pass_len);
		free(pass);
	}
	free(row.sealed);
	io_kek_wipe(&kek);
	meta_cluster_clear(&c);
	return rc;
}

int
cluster_key_remove(Meta *meta, const char *cluster, const char *fingerprint)
{
	MetaKey *keys = NULL;
	size_t n = 0;
	int rc;

	if ((rc = meta_key_list(meta, cluster, &keys, &n)) < 0)
		return rc;
	for (size_t key_idx = 0; key_idx < n; key_idx++)
		if (keys[key_idx].current && strcmp(keys[key_idx].fingerprint, fingerprint) == 0) {
			rc = err_set(ERR_INVALID, "encryption key %s is the current key of cluster \"%s\"", fingerprint, cluster);
			err_hint("Rotate to another key, or turn encryption off (tenback cluster encryption %s --off), "
			         "first.", cluster);
		}
	meta_key_array_free(keys, n);
	if (rc < 0)
		return rc;
	return meta_key_remove(meta, cluster, fingerprint);
}

int
cluster_encryption_off(Meta *meta, const char *cluster)
{
	MetaCluster c = {0};
	int rc;

	if ((rc = meta_cluster_get(meta, cluster, &c)) < 0)
		return rc;
	meta_cluster_clear(&c);
	return meta_key_clear_current(meta, cluster);
}
