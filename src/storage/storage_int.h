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

struct Storage {
	const StorageDriver *driver;
	void *drv;
	char *uri;
	Bundler *bundler;      /* between storage_bundle_begin and _end, else NULL */
	AliasMap *aliases;     /* NULL until the first storage_alias_add */
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
/* At storage_free: abandon bundling if still on, free the aliases. */
void bundle_storage_release(Storage *s);

#endif
