/*
 * storage.h - where backups live: one interface, one driver per kind of store.
 *
 * Paths are relative to the storage root, '/'-separated, never starting with
 * '/' or containing "..".  Callers use only these wrappers.
 *
 * The atomic-write contract: an object written through storage_write_open
 * becomes visible under its name only when io_writer_close() succeeds; a
 * writer freed without a successful close leaves nothing visible (posix:
 * a temporary file in the same directory, removed; fsync of the file and of
 * the directory before the rename unless no_sync).
 *
 * Thread safety: a Storage may be used from several threads at once; each
 * IoReader/IoWriter it returns belongs to one thread.
 */
#ifndef TENBACK_STORAGE_STORAGE_H
#define TENBACK_STORAGE_STORAGE_H

#include "io/cipher.h"
#include "io/io.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct Storage Storage;

/*
 * file:///absolute/path, or s3://bucket/prefix?endpoint=...&region=...
 * (src/storage/s3/s3.h lists the options); anything else ERR_INVALID /
 * ERR_UNSUPPORTED with a hint.  S3 credentials come from the environment
 * (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) or the URI's credentials-file.
 */
int storage_open(Storage **out, const char *uri);

/* What a URI must not carry: secrets.  Unused fields NULL. */
typedef struct StorageOpenOpts {
	const char *access_key;        /* S3: both keys, or neither */
	const char *secret_key;
	const char *credentials_file;  /* S3: mode 0600 or stricter, else refused */
} StorageOpenOpts;

/* storage_open with options; o may be NULL (then the same as storage_open). */
int storage_open_opts(Storage **out, const char *uri, const StorageOpenOpts *o);
/*
 * The S3 key pair a storage would use, for keeping it (sealed) in the
 * metadata: from credentials_file (mode 0600) when given, else from
 * AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.  Both NULL for file:// or when
 * none is set.  The strings are the caller's (wipe them after use).
 */
int storage_credentials_resolve(const char *uri, const char *credentials_file, char **out_access, char **out_secret);
void storage_free(Storage *s);
/* Borrowed for the Storage's life. */
const char *storage_uri(const Storage *s);

typedef struct StorageWriteOpts {
	bool no_sync;        /* skip fsync: the caller syncs with storage_sync() later */
	bool no_replace;     /* close fails with ERR_EXISTS when the name exists by then
	                      * (posix: link(2), atomic; S3: a lookup just before the
	                      * commit, and "If-None-Match: *" on it: atomic where the
	                      * store honours it - AWS S3; Ceph RGW 16 for single
	                      * PUTs, not for multipart completion) */
} StorageWriteOpts;

typedef struct StorageInfo {
	bool exists;
	bool is_dir;
	uint64_t size;
	int64_t mtime;
} StorageInfo;

typedef int (*StorageListCb)(const char *name, const StorageInfo *info, void *payload);

/* opts may be NULL. */
int storage_write_open(Storage *s, IoWriter **out, const char *path, const StorageWriteOpts *opts);
/* ERR_NOT_FOUND (message names the path) when the object does not exist.
 * An alias (storage_alias_add) reads its range of the bundle. */
int storage_read_open(Storage *s, IoReader **out, const char *path);
/*
 * The bytes [offset, offset + length) of an object: the reader ends after
 * length bytes.  ERR_NOT_FOUND as storage_read_open; an object shorter than
 * offset + length is ERR_CORRUPT (at open, or when it shrinks while read);
 * S3: the object replaced while it is read is ERR_IO, as for a whole read.
 */
int storage_read_open_range(Storage *s, IoReader **out, const char *path, uint64_t offset, uint64_t length);
/* An alias: exists (when its bundle holds the whole range), size = its length,
 * mtime = the bundle's. */
int storage_info(Storage *s, const char *path, StorageInfo *out);
/* Direct children of path (a "directory" prefix), in no particular order;
 * a missing path lists nothing.  A callback returning <0 stops the walk with that code. */
int storage_list(Storage *s, const char *path, StorageListCb cb, void *payload);
/* Remove one object; a missing one is not an error. */
int storage_remove(Storage *s, const char *path);
/* Remove everything under path. */
int storage_remove_tree(Storage *s, const char *path);
/* Make everything written under path durable (after no_sync writes). */
int storage_sync(Storage *s, const char *path);
/* Copy an object as is (no decompression). */
int storage_copy(Storage *s, const char *from, const char *to, const StorageWriteOpts *opts);
/* The same from one storage to another (an archived segment into a set kept elsewhere). */
int storage_copy_between(Storage *src, const char *from, Storage *dst, const char *to, const StorageWriteOpts *opts);
/* Write, read back, list and remove a small probe object under path. */
int storage_probe(Storage *s, const char *path);

/* ---- small objects bundled into larger ones (bundle.c) ----
 *
 * A directory with many small objects (a backup set's data files) need not
 * be as many objects on the store.  Between storage_bundle_begin and
 * storage_bundle_end, an object written under dir/ is kept in memory while
 * it is small; closed at no more than `limit` bytes, it is appended whole to
 * the current bundle object "dir/bundles/NNNNNN" (000001, 000002, ...; a
 * new one once the next object would take it past `target` bytes) and
 * storage_bundle_take says where.  An object that grows past `limit`
 * becomes an ordinary object, streamed as any other.  Bundles are written
 * with no_sync: storage_sync(dir) makes them durable.
 *
 * Bundled are only objects under dir/ (not under dir/bundles/) opened with
 * no_sync and without no_replace: those two options promise something at
 * close that a shared bundle object cannot keep.
 *
 * The atomic-write contract, for a bundled object: its close only appends
 * it to the bundle.  It is in the store when the bundle is: after
 * storage_bundle_end returned 0 (or, for earlier bundles, once a later one
 * was started).  A failed bundle fails the closes after it and
 * storage_bundle_end; storage_bundle_abandon leaves nothing of the current
 * bundle visible.
 *
 * Memory: one buffer of at most `limit` bytes per open writer, and one
 * record per closed object not taken yet (taken right after close, the
 * records stay as few as the writing threads).
 *
 * Thread safety: writers may be opened, written and closed from several
 * threads at once.  storage_bundle_begin, _end and _abandon must not run
 * concurrently with any other use of the Storage, and every writer opened
 * in between must be closed or freed before _end or _abandon.
 */
#define STORAGE_BUNDLE_LIMIT_DEFAULT (1024u * 1024)          /* objects up to 1 MiB are bundled */
#define STORAGE_BUNDLE_TARGET_DEFAULT (32u * 1024 * 1024)    /* bundles of about 32 MiB */

/* limit, target 0: the defaults.  ERR_INVALID when limit > target,
 * ERR_INTERNAL when bundling is already on.  Numbering continues after the
 * bundles already in dir/bundles/. */
int storage_bundle_begin(Storage *s, const char *dir, uint64_t limit, uint64_t target);
/*
 * Where the object path, closed just before by this thread, went: true
 * with its bundle number and the offset of its first byte there; false
 * (both 0) when it is an ordinary object.  Removes the record: call it
 * right after a successful io_writer_close.
 */
bool storage_bundle_take(Storage *s, const char *path, uint32_t *out_bundle, uint64_t *out_offset);
/* Close the current bundle; its error, or the first failure of a bundle
 * write since begin.  Writes are ordinary again after it, whatever it returns. */
int storage_bundle_end(Storage *s);
/* Stop bundling after a failure: the current bundle is dropped (posix: its
 * temporary file removed; S3: its upload aborted). */
void storage_bundle_abandon(Storage *s);
/* "dir/bundles/NNNNNN", malloc'd. */
char *storage_bundle_path(const char *dir, uint32_t bundle);

/*
 * Reading bundled objects: from now on path reads as the bytes [offset,
 * offset + length) of bundle_path (storage_read_open, storage_info,
 * storage_copy); storage_list and storage_remove still see only real
 * objects.  Adding an alias for a path again replaces it.
 * Not thread-safe: add every alias before threads read through the Storage;
 * lookups are then read-only.  Memory: one small entry per alias, until
 * storage_free.
 */
int storage_alias_add(Storage *s, const char *path, const char *bundle_path, uint64_t offset, uint64_t length);

/* ---- encryption at rest (io/cipher.h) ----
 *
 * With a keyring, storage_write_open encrypts every object it opens while
 * the keyring has a current key - before bundling, so a bundled object is
 * one whole encrypted object inside its bundle - and storage_read_open
 * decrypts encrypted objects (aliases included) and passes others through
 * unchanged.  The name sealed with an object is name_of(path) (malloc'd;
 * name_of NULL: the path itself): a caller that copies objects from one
 * path to another (archived WAL into a set) maps both to one name.
 * storage_copy, storage_copy_between and ranges read with
 * storage_read_open_range move the bytes as stored.
 *
 * Set it once, before any other use of the Storage from other threads; the
 * Storage owns kr from then on (freed with it).  Aliases added afterwards
 * to an encrypted bundle cover their object's encrypted length (one read of
 * the bundle's first bytes when its first alias is added).
 */
typedef char *(*StorageCipherName)(const char *path);
void storage_cipher_set(Storage *s, IoKeyring *kr, StorageCipherName name_of);
/* The keyring, borrowed for the Storage's life; NULL when none was set. */
IoKeyring *storage_keyring(const Storage *s);
/*
 * r (from storage_read_open, read at least once) found an encrypted object
 * under dir (a set whose manifest it is): from now on every object read
 * under dir/ must be encrypted, else ERR_CORRUPT - an unencrypted object
 * put in its place by someone who can write to the storage is refused.
 * Nothing happens for an unencrypted r or a Storage without a keyring.
 */
void storage_cipher_note(Storage *s, const IoReader *r, const char *dir);
/*
 * Aliases without an entry each: where no added alias names a path, fn is
 * asked; true with the bundle path (borrowed: it must stay valid while fn
 * is set) and the range makes path an alias.  fn is called from every
 * thread that reads through s, at once: it must be thread-safe.  NULL
 * removes it.  Set it before threads read through s.
 */
typedef bool (*StorageAliasResolveFn)(const char *path, const char **out_bundle_path, uint64_t *out_offset,
                                      uint64_t *out_length, void *payload);
void storage_alias_resolver_set(Storage *s, StorageAliasResolveFn fn, void *payload);

/* ---- the storage test: the console's Test button (probe.c) ---- */

#define STORAGE_TEST_MAX_CHECKS 16

typedef struct StorageCheck {
	char name[32];        /* "open", "write", "read back", "list", "delete", "free space" */
	bool ok;
	char message[768];    /* what was found, or the error (message and hint) */
	int64_t elapsed_ms;
} StorageCheck;

typedef struct StorageTestReport {
	StorageCheck checks[STORAGE_TEST_MAX_CHECKS];
	int n_checks;
	bool ok;              /* every check ok */
	int64_t free_bytes;   /* -1: unknown */
} StorageTestReport;

/*
 * Open the URI and run separate checks, each timed: "open" (URI valid, root
 * reachable), "write" (a small object), "read back" (the same bytes),
 * "list" (the object is listed), "delete" (and gone after), "free space"
 * (posix: statvfs of the root; other stores: ok, unknown).  Stops after the
 * first failed check: later checks are absent.  The probe object is removed
 * whatever fails after it was written.
 * Returns 0 with ok=false when a check fails; <0 only for internal errors.
 */
int storage_test(const char *uri, StorageTestReport *out);
/* The same, the storage opened with o (a named configuration's key pair); o may be NULL. */
int storage_test_opts(const char *uri, const StorageOpenOpts *o, StorageTestReport *out);
struct JsonWriter;
/* The report as the API and `storage test --output json` give it: {"uri", "ok", "free_bytes", "checks": [...]}. */
void storage_test_report_json(struct JsonWriter *w, const char *uri, const StorageTestReport *r);
/* The driver's own checks (S3: "endpoint", "tls", "credentials", "bucket",
 * "clock"), appended to r before "open"; true when all passed or the driver
 * has none. */
bool storage_driver_test(Storage *s, StorageTestReport *r);

#endif
