/*
 * manifest.h - the manifest of a backup set: what the set is and every file
 * in it.  Stored as JSON at <set>/manifest, written last: a set directory
 * without a manifest is garbage, never a backup.
 *
 * The text ends with a "manifest_checksum" member holding the SHA-256 (hex)
 * of every byte before that member's key, so a manifest checks itself.
 * The format is described in doc/repository.md.
 */
#ifndef TENBACK_BACKUP_MANIFEST_H
#define TENBACK_BACKUP_MANIFEST_H

#include "backup/ranges.h"
#include "common/buf.h"
#include "common/strutil.h"
#include "io/io.h"
#include "storage/storage.h"

#include <stdbool.h>
#include <stdint.h>

/* Written: 2 (a file's checksum may be "crc32c" or "sha256").  Read: 1 and 2
 * (format 1 knew only "sha256"). */
#define MANIFEST_FORMAT 2
#define MANIFEST_FORMAT_OLDEST 1

typedef enum ManifestKind {
	MF_FILE,     /* content stored at data/<path> as a container (or, with bundle, at
	              * bundle_offset in a bundle: see chain_load) */
	MF_SPARSE,   /* another tenant's relation file: name and size only */
	MF_DIR,
	MF_LINK,     /* pg_tblspc/<oid> -> tablespace location */
	MF_INCR,     /* a relation file of an incremental set: the pages in `blocks` are
	              * stored at data/<path>, in block order; `parts` says which set of
	              * the chain holds every block of the file */
} ManifestKind;

/* Blocks of a file held by one set of the chain. */
typedef struct ManifestPart {
	char *set_id;
	BlockRanges blocks;
} ManifestPart;

/*
 * One file.  A manifest holds one per file of the instance (100,000 and
 * more): members are ordered so that there is no padding between them,
 * kind is a byte.
 */
typedef struct ManifestFile {
	char *path;          /* relative to the data directory; in the manifest's path chunks */
	uint64_t size;       /* raw bytes */
	uint64_t stored_size;
	int64_t mtime;
	uint64_t bundle_offset; /* where its container starts in the bundle (stored_size bytes) */
	char *link_target;   /* MF_LINK */
	ManifestPart *parts; /* MF_INCR: where each block of the file is, this set included */
	BlockRanges blocks;  /* MF_INCR: blocks stored in this set */
	uint32_t mode;
	uint32_t bundle;     /* stored content in <set>/bundles/NNNNNN (storage_bundle_path), or 0:
	                      * an object of its own at data/<path> */
	uint32_t page_errors;/* pages that failed their checksum and were not rewritten during the backup */
	uint32_t n_parts;
	uint8_t kind;        /* ManifestKind */
	bool vanished;       /* removed from the source while the backup ran: not serialized */
	bool parts_packed;   /* a parsed entry's: parts and their ranges are one allocation, their
	                      * set ids the manifest's (part_sets); no part is added to it */
	IoChecksum sum;      /* of the raw content: MF_FILE, MF_INCR with blocks; in the text, hex
	                      * under the kind's name ("crc32c" or "sha256") */
} ManifestFile;

typedef struct ManifestWal {
	char *name;
	uint64_t size;
	uint64_t stored_size;
	IoChecksum sum;
} ManifestWal;

typedef struct ManifestDb {
	uint32_t oid;
	char *name;
	bool included;
} ManifestDb;

typedef struct ManifestTablespace {
	uint32_t oid;
	char *name;
	char *location;
} ManifestTablespace;

typedef struct Manifest {
	int format;
	char *set_id;
	char *cluster;
	char *tenant;            /* database name, or "*" for the whole instance */
	char *type;              /* "full" or "incremental" */
	char *parent;            /* incremental: the set it builds on */
	char *method;            /* "physical" or "logical" */
	char *tenback_version;
	uint32_t pg_version;     /* server_version_num */
	char *system_id;
	uint32_t timeline;
	uint64_t start_lsn;
	uint64_t stop_lsn;
	char *start_time;
	char *stop_time;
	char *compress;
	uint32_t data_checksums; /* data_checksum_version */
	uint32_t wal_seg_size;
	char *superuser;         /* bootstrap superuser (role oid 10) */
	char *backup_label;      /* from pg_backup_stop */
	uint64_t size_bytes;     /* raw bytes of stored files */
	uint64_t stored_bytes;

	ManifestDb *dbs;
	size_t n_dbs;
	ManifestTablespace *tablespaces;
	size_t n_tablespaces;
	ManifestFile *files;
	size_t n_files;
	size_t cap_files;
	ManifestFile **index;    /* sorted by path, built by manifest_find_file */
	char **path_chunks;      /* the files' paths, packed (one malloc per path cost as much again) */
	size_t n_path_chunks;
	size_t path_used;        /* bytes used of the last chunk */
	char **part_sets;        /* the set ids of parsed parts, each once (mostly) */
	size_t n_part_sets;
	ManifestWal *wal;
	size_t n_wal;
	StrList removed;         /* incremental: paths of the parent gone since */

	/* Logical sets ("logical" member): the files are the set's objects
	 * (data/tenant.dump, data/roles.sql, data/database.sql); start_time is
	 * the dump's snapshot; there is no WAL, LSN nor backup_label. */
	char *dump_format;       /* "custom": pg_dump -Fc, uncompressed inside the container */
	char *pg_dump_version;   /* pg_dump --version */
	char *db_encoding;       /* the tenant database's, for CREATE DATABASE at restore */
	char *db_collate;
	char *db_ctype;
	char *db_locale_provider;/* PostgreSQL 15+: "c" (libc) or "i" (ICU); NULL before */
	char *db_icu_locale;

	Buf *files_text;         /* manifest_files_render's, or NULL */
	size_t files_text_n;     /* n_files when it was rendered */
} Manifest;

/* Is m a logical set's manifest? */
bool manifest_is_logical(const Manifest *m);

Manifest *manifest_new(void);
void manifest_free(Manifest *m);
/* Append a file entry (copies path/link_target); returns it, borrowed until the next add. */
ManifestFile *manifest_add_file(Manifest *m, const char *path, ManifestKind kind);
void manifest_add_wal(Manifest *m, const char *name, uint64_t size, uint64_t stored_size, const IoChecksum *sum);
void manifest_add_db(Manifest *m, uint32_t oid, const char *name, bool included);
void manifest_add_tablespace(Manifest *m, uint32_t oid, const char *name, const char *location);
bool manifest_db_included(const Manifest *m, uint32_t oid);
/* Add a part to an MF_INCR entry (takes the ranges). */
void manifest_file_add_part(ManifestFile *f, const char *set_id, BlockRanges *blocks);
/* The entry for path, or NULL; builds a sorted index on first use (do not
 * add files after a lookup).  Lookups from several threads at once are
 * safe only once the index exists: look one path up before sharing m. */
const ManifestFile *manifest_find_file(Manifest *m, const char *path);

/*
 * A set's files reduced to what an incremental backup asks of its parent
 * (path, kind, size, mtime, parts): 40 bytes a file instead of a ManifestFile's
 * 128, sorted by path.  manifest_lookup_take moves m's files into it (m
 * keeps its other members and no file); read-only from then on, so
 * lookups from several threads at once are safe.
 */
typedef struct ManifestLookup ManifestLookup;
ManifestLookup *manifest_lookup_take(Manifest *m);
/* The entry for path as a ManifestFile with path, kind, size, mtime and parts set
 * (borrowed until manifest_lookup_free), the rest zero; false if none. */
bool manifest_lookup_find(const ManifestLookup *l, const char *path, ManifestFile *out);
size_t manifest_lookup_count(const ManifestLookup *l);
/* The idx-th path in path order (borrowed). */
const char *manifest_lookup_path(const ManifestLookup *l, size_t idx);
void manifest_lookup_free(ManifestLookup *l);

/* Serialize with the trailing checksum. */
void manifest_to_json(const Manifest *m, Buf *out);
/*
 * Render the "files" array now, for a later manifest_store or
 * manifest_to_json to copy (a backup does it while pg_backup_stop runs).
 * The caller changes no file entry after it; adding one makes the rendering
 * stale, and it is then not used.
 */
void manifest_files_render(Manifest *m);
/* Parse and check the checksum: ERR_CORRUPT "manifest checksum mismatch". */
int manifest_parse(Manifest **out, const char *text, size_t len);

/* Storage paths of a set: tenback/<sysid>/<encoded tenant>/<set id>; malloc'd. */
char *manifest_set_dir(const char *system_id, const char *tenant, const char *set_id);
char *manifest_archive_path(const char *system_id, const char *wal_name);

/* Read <set_dir>/manifest from storage. */
int manifest_load(Manifest **out, Storage *s, const char *set_dir);
/* Write <set_dir>/manifest atomically (fsync'd). */
int manifest_store(const Manifest *m, Storage *s, const char *set_dir);
/* The same under another name: "manifest.partial" holds a set between the
 * steps of a backup task; it never makes the set a backup.  Without sync it
 * is atomic but not fsync'd: a task resumed after the process died finds
 * it; after a crash of the machine it may be gone, and the task says so. */
int manifest_load_named(Manifest **out, Storage *s, const char *set_dir, const char *name);
int manifest_store_named(const Manifest *m, Storage *s, const char *set_dir, const char *name, bool sync);

#endif
