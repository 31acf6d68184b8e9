/*
 * storage.c - the storage wrappers: URI parsing, path checks, dispatch
 * (to bundling writers and aliases too: bundle.c).
 *
 * Invariant: no path reaches a driver unless it is relative and free of
 * "." and ".." components.
 */
#include "storage/storage.h"

#include "common/buf.h"
#include "common/error.h"
#include "common/strutil.h"
#include "storage/driver.h"
#include "storage/s3/s3.h"
#include "storage/storage_int.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int
storage_open(Storage **out, const char *uri)
{
	return storage_open_opts(out, uri, NULL);
}

int
storage_open_opts(Storage **out, const char *uri, const StorageOpenOpts *o)
{
	Storage *s = NULL;
	void *drv = NULL;
	int rc;

	*out = NULL;
	if (str_starts_with(uri, "file://")) {
		const char *path = uri + strlen("file://");
		if (path[0] != '/') {
			rc = err_set(ERR_INVALID, "invalid storage URI \"%s\"", uri);
			err_hint("A file storage needs an absolute path: file:///var/lib/tenback/backups.");
			return rc;
		}
		if ((rc = storage_posix_new(&drv, path)) < 0)
			return rc;
		s = xcalloc(1, sizeof(*s));
		s->driver = &storage_posix_driver;
	} else if (str_starts_with(uri, "s3://")) {
		if ((rc = storage_s3_new(&drv, uri, o)) < 0)
			return rc;
		s = xcalloc(1, sizeof(*s));
		s->driver = &storage_s3_driver;
	} else {
		const char *colon = strstr(uri, "://");
		if (colon)
			rc = err_set(ERR_UNSUPPORTED, "storage type \"%.*s\" is not supported", (int)(colon - uri), uri);
		else
			rc = err_set(ERR_INVALID, "invalid storage URI \"%s\"", uri);
		err_hint("Use file:///absolute/path or s3://bucket/prefix?endpoint=https://host&region=REGION.");
		return rc;
	}
	s->drv = drv;
	s->uri = xstrdup(uri);
	*out = s;
	return 0;
}

int
storage_credentials_resolve(const char *uri, const char *credentials_file, char **out_access, char **out_secret)
{
	const char *ak = getenv("AWS_ACCESS_KEY_ID");
	const char *sk = getenv("AWS_SECRET_ACCESS_KEY");

	*out_access = NULL;
	*out_secret = NULL;
	if (!str_starts_with(uri, "s3://")) {
		if (credentials_file)
			return err_set(ERR_INVALID, "--storage-credentials is for s3:// storages");
		return 0;
	}
	if (credentials_file)
		return s3_read_credentials_file(credentials_file, out_access, out_secret);
	if (ak && *ak && sk && *sk) {
		*out_access = xstrdup(ak);
		*out_secret = xstrdup(sk);
	}
	return 0;
}

void
storage_free(Storage *s)
{
	if (s == NULL)
		return;
	bundle_storage_release(s);
	io_keyring_free(s->keyring);
	s->driver->free(s->drv);
	free(s->uri);
	free(s);
}

const char *
storage_uri(const Storage *s)
{
	return s->uri;
}

/* An object needs a name: "" (the root) is only for list, info, sync, remove_tree. */
int
storage_check_object_path(const char *path)
{
	if (path[0] == '\0' || path[strlen(path) - 1] == '/')
		return err_set(ERR_INTERNAL, "invalid storage path \"%s\": an object needs a name", path);
	return storage_check_path(path);
}

int
storage_check_path(const char *path)
{
	const char *p = path;

	if (*path == '/' )
		goto bad;
	while (*p) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			goto bad;
		if (!slash)
			break;
		p = slash + 1;
	}
	return 0;
bad:
	return err_set(ERR_INTERNAL, "invalid storage path \"%s\"", path);
}

void
storage_cipher_set(Storage *s, IoKeyring *kr, StorageCipherName name_of)
{
	io_keyring_free(s->keyring);
	s->keyring = kr;
	s->cipher_name = name_of;
}

IoKeyring *
storage_keyring(const Storage *s)
{
	return s->keyring;
}

void
storage_cipher_note(Storage *s, const IoReader *r, const char *dir)
{
	if (s->keyring && io_decrypt_reader_encrypted(r))
		io_keyring_require(s->keyring, dir);
}

/* The stream *w becomes the encrypting writer on top of it. */
static int
encrypt_wrap(Storage *s, IoWriter **w, const char *path)
{
	char *name = s->cipher_name ? s->cipher_name(path) : xstrdup(path);
	IoWriter *sink = *w;
	int rc;

	*w = NULL;
	rc = io_encrypt_writer_new(w, sink, s->keyring, name);
	free(name);
	return rc;
}

static int
decrypt_wrap(Storage *s, IoReader **r, const char *path)
{
	char *name = s->cipher_name ? s->cipher_name(path) : xstrdup(path);
	IoReader *source = *r;
	int rc;

	*r = NULL;
	rc = io_decrypt_reader_new_strict(r, source, s->keyring, name, io_keyring_requires(s->keyring, path));
	free(name);
	return rc;
}

int
storage_write_open(Storage *s, IoWriter **out, const char *path, const StorageWriteOpts *opts)
{
	StorageWriteOpts none = {0};
	int rc;

	*out = NULL;
	if ((rc = storage_check_object_path(path)) < 0)
		return rc;
	if (bundle_wants(s, path, opts))
		rc = bundle_writer_open(s, out, path, opts);
	else
		rc = s->driver->write_open(s->drv, out, path, opts ? opts : &none);
	if (rc < 0 || !io_keyring_encrypts(s->keyring))
		return rc;
	return encrypt_wrap(s, out, path);
}

int
storage_read_open(Storage *s, IoReader **out, const char *path)
{
	const char *bundle;
	uint64_t offset, length;
	int rc;

	*out = NULL;
	if ((rc = storage_check_object_path(path)) < 0)
		return rc;
	if (bundle_alias_find(s, path, &bundle, &offset, &length))
		rc = bundle_member_open(s, out, bundle, offset, length);
	else
		rc = s->driver->read_open(s->drv, out, path);
	if (rc < 0 || s->keyring == NULL)
		return rc;
	return decrypt_wrap(s, out, path);
}

int
storage_read_open_range(Storage *s, IoReader **out, const char *path, uint64_t offset, uint64_t length)
{
	int rc;

	*out = NULL;
	if ((rc = storage_check_object_path(path)) < 0)
		return rc;
	if (offset > UINT64_MAX - length)
		return err_set(ERR_INTERNAL, "invalid range %llu+%llu of \"%s\"", (unsigned long long)offset,
		               (unsigned long long)length, path);
	if (s->driver->read_open_range == NULL)
		return err_set(ERR_UNSUPPORTED, "storage driver \"%s\" cannot read a part of an object", s->driver->name);
	return s->driver->read_open_range(s->drv, out, path, offset, length);
}

int
storage_info(Storage *s, const char *path, StorageInfo *out)
{
	const char *bundle;
	uint64_t offset, length;
	StorageInfo binfo = {0};   /* a driver fills it only for what exists */
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = storage_check_path(path)) < 0)
		return rc;
	if (!bundle_alias_find(s, path, &bundle, &offset, &length))
		return s->driver->info(s->drv, path, out);
	if ((rc = s->driver->info(s->drv, bundle, &binfo)) < 0)
		return rc;
	if (binfo.exists && !binfo.is_dir && binfo.size >= offset + length) {
		out->exists = true;
		out->size = length;
		out->mtime = binfo.mtime;
	}
	return 0;
}

int
storage_list(Storage *s, const char *path, StorageListCb cb, void *payload)
{
	int rc;

	if ((rc = storage_check_path(path)) < 0)
		return rc;
	return s->driver->list(s->drv, path, cb, payload);
}

int
storage_remove(Storage *s, const char *path)
{
	int rc;

	if ((rc = storage_check_object_path(path)) < 0)
		return rc;
	return s->driver->remove(s->drv, path);
}

int
storage_remove_tree(Storage *s, const char *path)
{
	int rc;

	if ((rc = storage_check_path(path)) < 0)
		return rc;
	return s->driver->remove_tree(s->drv, path);
}

int
storage_sync(Storage *s, const char *path)
{
	int rc;

	if ((rc = storage_check_path(path)) < 0)
		return rc;
	return s->driver->sync ? s->driver->sync(s->drv, path) : 0;
}

int
storage_copy(Storage *s, const char *from, const char *to, const StorageWriteOpts *opts)
{
	return storage_copy_between(s, from, s, to, opts);
}

int
storage_copy_between(Storage *src, const char *from, Storage *dst, const char *to, const StorageWriteOpts *opts)
{
	IoReader *r = NULL;
	IoWriter *w = NULL;
	char *chunk = xmalloc(256 * 1024);
	ssize_t n;
	int rc;

	if ((rc = storage_read_open(src, &r, from)) < 0)
		goto out;
	if ((rc = storage_write_open(dst, &w, to, opts)) < 0)
		goto out;
	while ((n = io_reader_read(r, chunk, 256 * 1024)) > 0)
		if ((rc = io_writer_write(w, chunk, (size_t)n)) < 0)
			goto out;
	if (n < 0) {
		rc = (int)n;
		goto out;
	}
	rc = io_writer_close(w);
out:
	io_writer_free(w);
	io_reader_free(r);
	free(chunk);
	return rc;
}

static atomic_uint probe_counter;

typedef struct ProbeList {
	const char *name;
	bool found;
} ProbeList;

static int
probe_list_cb(const char *name, const StorageInfo *info, void *payload)
{
	ProbeList *pl = payload;

	(void)info;
	if (strcmp(name, pl->name) == 0)
		pl->found = true;
	return 0;
}

bool
storage_driver_test(Storage *s, StorageTestReport *r)
{
	return s->driver->test ? s->driver->test(s->drv, r) : true;
}

int
storage_probe(Storage *s, const char *dir)
{
	static const char content[] = "tenback storage probe\n";
	char name[64], got[64];
	char *path = NULL;
	IoWriter *w = NULL;
	IoReader *r = NULL;
	ProbeList pl;
	ssize_t n;
	int rc;

	snprintf(name, sizeof(name), ".probe-%ld-%u", (long)getpid(), atomic_fetch_add(&probe_counter, 1));
	path = path_join(dir, name);
	if ((rc = storage_write_open(s, &w, path, NULL)) < 0 ||
	    (rc = io_writer_write(w, content, sizeof(content) - 1)) < 0 ||
	    (rc = io_writer_close(w)) < 0) {
		err_prefix("storage \"%s\" is not writable", s->uri);
		goto out;
	}
	if ((rc = storage_read_open(s, &r, path)) < 0)
		goto out;
	n = io_reader_read_full(r, got, sizeof(got));
	if (n != (ssize_t)(sizeof(content) - 1) || memcmp(got, content, (size_t)n) != 0) {
		rc = n < 0 ? (int)n : err_set(ERR_CORRUPT, "storage \"%s\" returned other data than written", s->uri);
		goto out;
	}
	pl.name = name;
	pl.found = false;
	if ((rc = storage_list(s, dir, probe_list_cb, &pl)) < 0)
		goto out;
	if (!pl.found) {
		rc = err_set(ERR_IO, "storage \"%s\" does not list an object just written", s->uri);
		goto out;
	}
	rc = storage_remove(s, path);
out:
	io_writer_free(w);
	io_reader_free(r);
	free(path);
	return rc;
}
