/*
 * driver.h - what a storage driver implements (storage.h is for callers).
 *
 * A driver is a const table of operations; NULL marks an optional operation
 * as unsupported.  Each op takes the driver's own handle.  Paths reaching a
 * driver are already validated (relative, no "..").
 */
#ifndef TENBACK_STORAGE_DRIVER_H
#define TENBACK_STORAGE_DRIVER_H

#include "storage/storage.h"

typedef struct StorageDriver {
	const char *name;
	int (*write_open)(void *drv, IoWriter **out, const char *path, const StorageWriteOpts *opts);
	int (*read_open)(void *drv, IoReader **out, const char *path);
	/* the bytes [offset, offset + length); see storage_read_open_range */
	int (*read_open_range)(void *drv, IoReader **out, const char *path, uint64_t offset, uint64_t length);
	int (*info)(void *drv, const char *path, StorageInfo *out);
	int (*list)(void *drv, const char *path, StorageListCb cb, void *payload);
	int (*remove)(void *drv, const char *path);
	int (*remove_tree)(void *drv, const char *path);
	int (*sync)(void *drv, const char *path);    /* optional */
	void (*free)(void *drv);
	/* optional: store-specific checks for storage_test (endpoint, TLS,
	 * credentials, ...), appended to r; false when one failed */
	bool (*test)(void *drv, StorageTestReport *r);
	/* every operation is a request over the network: batch reads */
	bool remote;
} StorageDriver;

/* posix: root is an absolute directory path; created if missing. */
int storage_posix_new(void **out, const char *root);
extern const StorageDriver storage_posix_driver;

/* s3: see s3/s3.h for the URI's options. */
int storage_s3_new(void **out, const char *uri, const StorageOpenOpts *o);
extern const StorageDriver storage_s3_driver;

#endif
