/*
 * storage_int.h - what storage.c and bundle.c share (not for callers).
 */
#ifndef TENBACK_STORAGE_STORAGE_INT_H
#define TENBACK_STORAGE_STORAGE_INT_H

#include "storage/driver.h"
#include "storage/storage.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct Bundler Bundler;
typedef struct AliasMap AliasMap;
typedef struct BundleWindows BundleWindows;

struct Storage {
	const StorageDriver *driver;
	void *drv;
	char *uri;
	Bundler *bundler;      /* between storage_bundle_begin and _end, else NULL */
	AliasMap *aliases;     /* NULL until the first storage_alias_add */
	BundleWindows *windows; /* remote stores: what was read of bundles, NULL until then */
	IoKeyring *keyring;    /* storage_cipher_set: owned; NULL: objects pass as stored */
	StorageCipherName cipher_name;
	StorageAliasResolveFn alias_resolve; /* storage_alias_resolver_set, or NULL */
	void *alias_payload;
};

/* Path checks (storage.c): 0, or ERR_INTERNAL "invalid storage path".  An
 * object needs a name; "" (the root) is only for list, info, sync, remove_tree. */
int storage_check_path(const char *path);
int storage_check_object_path(const char *path);

/* Is a writer for path (already checked) to be bundled? */
bool bundle_wants(const Storage *s, const char *path, const StorageWriteOpts *opts);
/* A writer that bundles path while it stays small. */
int bundle_writer_open(Storage *s, IoWriter **out, const char *path, const StorageWriteOpts *opts);
/* The alias of path (added, else the resolver's): true with its bundle (borrowed until
 * storage_free, or as the resolver says) and range. */
bool bundle_alias_find(const Storage *s, const char *path, const char **out_bundle_path, uint64_t *out_offset,
                       uint64_t *out_length);
/* A reader of the member [offset, offset + length) of bundle (an alias's,
 * from bundle_alias_find): on a remote store through a window of the bundle
 * shared by the members near it (one request for many), else a range read.
 * Thread-safe. */
int bundle_member_open(Storage *s, IoReader **out, const char *bundle, uint64_t offset, uint64_t length);
/* At storage_free: abandon bundling if still on, free the aliases. */
void bundle_storage_release(Storage *s);

#endif
