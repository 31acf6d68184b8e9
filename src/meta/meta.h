/*
 * meta.h - tenback's metadata store: registered clusters and known backup
 * sets, in one SQLite file (HOME/metadata.db, WAL mode) shared by the CLI,
 * archive-push and, later, the daemon.
 *
 * The storage stays the truth about backup sets (a set exists when its
 * manifest does); the store is the index that lists them quickly, and the
 * record of running and failed attempts.
 *
 * Strings in the structs are malloc'd and owned by the struct; *_clear
 * frees them.  A Meta is used by one thread at a time.
 */
#ifndef TENBACK_META_META_H
#define TENBACK_META_META_H

#include <stddef.h>
#include <stdint.h>

typedef struct Meta Meta;

/* Creates home (mode 0700) and the database when missing and migrates the
 * schema forward.  Refuses a database newer than this binary. */
int meta_open(Meta **out, const char *home);
void meta_free(Meta *m);
int meta_schema_version(Meta *m);
/* The schema version this binary migrates to. */
int meta_schema_latest(void);

typedef struct MetaCluster {
	char *name;
	char *conninfo;
	char *pgdata;
	char *storage;
	char *compress;
	char *system_id;      /* decimal */
	int pg_version;       /* server_version_num at registration */
	char *status;         /* NORMAL, UPGRADING */
	char *created_at;
} MetaCluster;

/* ERR_EXISTS when the name is taken. */
int meta_cluster_add(Meta *m, const MetaCluster *c);
/* ERR_NOT_FOUND: cluster "x" does not exist (hint: tenback cluster list). */
int meta_cluster_get(Meta *m, const char *name, MetaCluster *out);
int meta_cluster_list(Meta *m, MetaCluster **out, size_t *out_count);
int meta_cluster_remove(Meta *m, const char *name);
void meta_cluster_clear(MetaCluster *c);
void meta_cluster_array_free(MetaCluster *a, size_t n);

typedef struct MetaSet {
	char *cluster;
	char *tenant;
	char *id;
	char *type;           /* full, incremental */
	char *method;         /* physical */
	char *status;         /* running, completed, failed */
	int64_t pid;          /* of the process taking it, while running */
	char *storage_path;   /* set directory under the storage root */
	char *start_time;
	char *stop_time;
	char *start_lsn;
	char *stop_lsn;
	int64_t timeline;
	char *system_id;
	int64_t size_bytes;
	int64_t stored_bytes;
	int64_t file_count;
	char *error;
	char *parent;         /* incremental: the set it builds on */
} MetaSet;

int meta_set_insert(Meta *m, const MetaSet *s);
/* Replace every column of the row (cluster, tenant, id). */
int meta_set_update(Meta *m, const MetaSet *s);
int meta_set_delete(Meta *m, const char *cluster, const char *tenant, const char *id);
/* Ordered by id; tenant and status NULL mean any. */
int meta_set_list(Meta *m, const char *cluster, const char *tenant, const char *status,
                  MetaSet **out, size_t *out_count);
void meta_set_clear(MetaSet *s);
void meta_set_array_free(MetaSet *a, size_t n);

#endif
