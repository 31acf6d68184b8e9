/*
 * backup_int.h - what the parts of the backup module share (not for callers).
 */
#ifndef TENBACK_BACKUP_BACKUP_INT_H
#define TENBACK_BACKUP_BACKUP_INT_H

#include "backup/manifest.h"
#include "backup/ranges.h"
#include "backup/pool.h"
#include "io/io.h"
#include "storage/storage.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* What a data-directory scan decides about a set: which databases are whole. */
typedef struct ScanOpts {
	const char *pgdata;
	bool whole_instance;
} ScanOpts;

/*
 * Walk the data directory (and tablespaces through pg_tblspc links) and add
 * an entry per directory, link and file to m, applying PostgreSQL's base
 * backup exclusions, keeping only the init fork of unlogged relations, and
 * recording relation files of excluded databases as MF_SPARSE.
 * global/pg_control is added last.
 */
int files_scan(Manifest *m, const ScanOpts *o);

/*
 * What the workers of a backup share.  The fields up to jobs are set before
 * the pool starts and read-only after; codecs[i] and bufs[i] belong to
 * worker i; the counters are atomic (the progress tick reads them).
 */
typedef struct CopyCtx {
	Storage *storage;
	const char *set_dir;
	const char *pgdata;
	IoCompress compress;
	int level;
	IoChecksumKind checksum;  /* of every stored file */
	uint64_t start_lsn;
	bool verify_checksums;
	bool hints_unlogged;      /* neither data checksums nor wal_log_hints */
	int jobs;
	uint64_t max_rate;        /* bytes read from the data directory per second; 0: no limit */
	struct Throttle *throttle; /* made by copy_ctx_prepare when max_rate is set */
	IoFrameCodec *codecs[POOL_JOBS_MAX];
	uint8_t *bufs[POOL_JOBS_MAX];   /* COPY_BUF_SIZE each, made by their worker on first use */
	/* the frame of a chunk of COPY_CHUNK_BYTES zeros (copy_ctx_zero_frame), for
	 * the zeros after a WAL switch: made once, not compressed again per chunk */
	uint8_t *zero_frame;
	size_t zero_frame_len;
	_Atomic uint64_t bytes_done;
	_Atomic uint64_t files_done;
	/* optional: progress every ~500 ms, also inside a large file; called by files_progress only */
	void (*progress_cb)(uint64_t bytes_done, uint64_t bytes_total, uint64_t files_done, void *payload);
	void *payload;
	uint64_t bytes_total;
	int64_t last_progress_ms;
	_Atomic uint64_t bytes_read;   /* read from the data directory (incremental: only what it reads) */
	/* incremental --detect compare (jobs 1): what the scan stored against what the WAL named */
	struct IncrCompare *compare;
} CopyCtx;

/* What the page-LSN scan found against what the WAL named (--detect compare). */
typedef struct IncrCompare {
	uint64_t scan_blocks;       /* below the parent's length, stored by the scan */
	uint64_t wal_blocks;        /* named by the WAL, below the parent's length and the file's */
	uint64_t missing;           /* stored by the scan, not named by the WAL, page LSN before the new start */
	uint64_t missing_after_start; /* ... page LSN at or after the new start: changed during the copy */
	uint64_t missing_zero;      /* ... all-zero pages (the scan stores them unjudged) */
	uint64_t only_wal;          /* named by the WAL, not stored by the scan */
	uint64_t whole_files;       /* files the WAL could not describe by blocks */
	uint64_t until_lsn;         /* the new backup's start */
	char first_missing[256];    /* "path block N (lsn X/Y)" of the first miss, for the log */
} IncrCompare;

#define COPY_BUF_SIZE (1024 * 1024)
/* The raw bytes of one frame of a stored file: whole pages. */
#define COPY_CHUNK_BYTES (1024 * 1024)

/* Slots and chunks in flight per owner, for jobs workers: enough to keep
 * every worker busy on one file while its owner writes. */
#define COPY_WINDOW(jobs) ((jobs) + 2)
#define COPY_SLOTS(jobs) (2 * (size_t)(jobs) + 2)
#define COPY_WINDOW_MAX COPY_WINDOW(POOL_JOBS_MAX)
/* A slot holds one chunk and its frame, whichever the compression. */
size_t copy_slot_bytes(void);

/* Report progress when ~500 ms passed since the last report; the thread
 * that runs the pool only (the callback may use its metadata handle). */
void files_progress(CopyCtx *ctx, bool force);

/* Per-worker state of a copy: ctx->codecs for every worker (ERR_INVALID
 * for a bad level); copy_ctx_release frees codecs and buffers. */
int copy_ctx_prepare(CopyCtx *ctx);
/* COPY_CHUNK_BYTES zeros, shared and read-only. */
const uint8_t *copy_zero_chunk(void);
/* Their frame made with fc (of compression c) into *out (malloc'd). */
int copy_zero_frame(IoFrameCodec *fc, IoCompress c, uint8_t **out, size_t *out_len);
/* Make ctx->zero_frame (after copy_ctx_prepare, before the pool runs). */
int copy_ctx_zero_frame(CopyCtx *ctx);
/* Count n bytes read from the data directory, and with a max_rate wait until
 * the reads so far fit it (any worker; the average since the first read is
 * kept at or below the rate, as pg_basebackup --max-rate does). */
void copy_read_done(const CopyCtx *ctx, uint64_t n);
/* The pool the copy runs on (any worker, any number of times): a paced read's
 * sleep ends early once it stops. */
void copy_throttle_pool(const CopyCtx *ctx, Pool *p);
void copy_ctx_release(CopyCtx *ctx);

/*
 * Copy one MF_FILE entry into <set_dir>/data/<path>, filling size, mtime,
 * sum, stored_size and page_errors, as the owner of that item in pool p:
 * the file is read, its pages checked and its chunks compressed as
 * separate frames by the pool's workers, and the frames written in order
 * (a file of one chunk, by the owner alone: worker worker_idx).
 * A file gone from the source is marked vanished.
 */
int files_copy(CopyCtx *ctx, Pool *p, int worker_idx, ManifestFile *f);
/* The same from the file full into object (a WAL segment into the set's wal/);
 * its pages are checked when f->path names a relation file.  The bytes from
 * zero_from on are stored as zeros, not read (UINT64_MAX: every byte read):
 * a WAL segment's unused rest after its switch record. */
int files_copy_to(CopyCtx *ctx, Pool *p, int worker_idx, ManifestFile *f, const char *full, const char *object,
                  uint64_t zero_from);

/*
 * Incremental copy of a relation file whose previous version is pf (an
 * MF_FILE or MF_INCR entry of the parent set parent_id); f becomes MF_INCR
 * with its parts.  With changed NULL, every page is read and stored when
 * its LSN is above since_lsn (the parent's start), it lies beyond the
 * parent's length or it is all zeros (the page-LSN scan).  With changed
 * (blocks of this segment file named by the WAL since the parent,
 * walblocks_lookup), only those pages and the pages beyond the parent's
 * length are read and stored.  A file whose length is not a whole number
 * of pages is copied whole.  With ctx->compare set (--detect compare, one
 * worker), the scan stores and its result is compared with changed (see
 * IncrCompare).  Runs on worker worker_idx of p, as one piece.
 */
int files_copy_incremental(CopyCtx *ctx, Pool *p, int worker_idx, ManifestFile *f, const ManifestFile *pf,
                           const char *parent_id, uint64_t since_lsn, const char *set_id,
                           const BlockRanges *changed);
/* May path be copied page by page: a main or init fork of a relation. */
bool files_incremental_candidate(const char *path);
/* Is path a free space map or visibility map fork (copied whole, or reused unchanged)? */
bool files_map_fork(const char *path);
/*
 * An incremental's free space or visibility map file that has not changed
 * since before its parent started: the same size and modification time
 * (those files_scan found in f) as the parent recorded, and that time at least 2 s before changed_before
 * (the parent's start).  Such a file is not read: f becomes an
 * incremental entry of no pages of its own whose parts are the parent's
 * (*out_reused true).  A write after the parent's start would have moved
 * the time past it, as pgBackRest's comparison of size and time assumes.
 * Otherwise nothing changes (*out_reused false) and the caller copies it.
 */
int files_reuse_unchanged(CopyCtx *ctx, ManifestFile *f, const ManifestFile *pf, const char *parent_id,
                          int64_t changed_before, bool *out_reused);

/* Is name a relation file ("16384", "16384_vm", "16384.2", "16384_init.1")? */
bool files_relation_name(const char *name, uint32_t *out_relfilenode, int *out_fork, uint32_t *out_segno);
#define FORK_MAIN 0
#define FORK_FSM 1
#define FORK_VM 2
#define FORK_INIT 3

/* Read a stored container to its end (which checks it), writing the
 * content to fd unless fd < 0; *out tells its size and checksum. */
int files_read_object(Storage *s, const char *object, int fd, const char *dest_path, IoContainerInfo *out);

/* Restore one stored container to an open fd, checking size and checksum
 * against the manifest entry; ERR_CORRUPT names the stored object. */
int files_restore_to_fd(Storage *s, const char *object, int fd, const char *dest_path,
                        uint64_t want_size, const IoChecksum *want_sum);

/*
 * The same as the owner of an item of pool p, whose slots are
 * copy_slot_bytes(): a container of frames is split by the owner, its
 * frames decoded and written at their offsets by the workers (codecs[i]
 * is worker i's), the SHA-256 computed in order by the owner.  A container
 * of one compressed stream (older sets, incremental parts) is restored as
 * files_restore_to_fd does.  The file is complete and checked only when it returns 0.
 */
int files_restore_framed(Pool *p, IoFrameCodec *const *codecs, Storage *s, const char *object, int fd,
                         const char *dest_path, uint64_t want_size, const IoChecksum *want_sum);

/* Shared by the copies: read len bytes at off (short only at the end of the
 * file), and check a chunk's pages, re-reading failing ones; returns how
 * many stay bad and predate the backup (each logged). */
ssize_t files_read_at(int fd, uint8_t *buf, size_t len, off_t off);
uint32_t files_check_pages(const CopyCtx *ctx, int fd, const char *path, uint8_t *chunk, size_t len, off_t off,
                           uint32_t first_blk);

#include "meta/meta.h"
#include "pg/conn.h"

/*
 * Where the WAL of segment seg (the file open as fd, seg_size bytes) ends for
 * good: the end of the first XLOG_SWITCH record at or after from_lsn, rounded
 * up to its WAL page; seg_size when there is none (the WAL runs to the
 * segment's end, or does not read as WAL).  Recovery never reads a segment
 * past its switch record (the next record is at the next segment's start), so
 * the rest, often a recycled segment's old WAL, is stored as zeros, as
 * pg_clearxlogtail does for archives.
 */
uint64_t wal_switch_end(int fd, uint32_t seg_size, uint32_t timeline, uint64_t seg, uint64_t from_lsn);
/* Read archived WAL segment segno of timeline, whole, into buf (seg_size
 * bytes), checking its container; ERR_NOT_FOUND when not archived. */
int archive_read_segment(Storage *s, const char *system_id, uint32_t seg_size, uint32_t timeline, uint64_t segno,
                         uint8_t *buf);

/* The blocks changed between two LSNs, from the WAL (walblocks.c). */
typedef struct WalBlocks WalBlocks;
typedef struct WalBlocksOpts {
	Storage *archive;         /* the cluster's WAL archive */
	const char *system_id;
	const char *pgdata;       /* its pg_wal holds what is not archived yet */
	uint32_t seg_size;
	uint32_t from_timeline, to_timeline;
	uint64_t from_lsn;        /* the parent's start (redo point) */
	uint64_t to_lsn;          /* this backup's start */
	bool (*cancel_cb)(void *payload);
	void *payload;
	/* Optional: reading before this backup has started.  to_lsn and
	 * to_timeline are then unknown (0): the WAL is read up to ahead_lsn (what
	 * the server had written), after which to_lsn_cb waits for the start and
	 * returns it with its timeline (0: give up, ERR_CANCELLED), and reading
	 * goes on from there. */
	uint64_t ahead_lsn;
	uint64_t (*to_lsn_cb)(void *payload, uint32_t *out_timeline);
} WalBlocksOpts;
typedef enum WalBlocksAnswer {
	WB_BLOCKS,                /* exactly the blocks in *out (maybe none) changed */
	WB_WHOLE,                 /* the WAL does not describe this file by blocks: read it whole */
} WalBlocksAnswer;
/* 0 with *out: the blocks; 0 with *out NULL and *out_reason (malloc'd): the
 * WAL cannot be used (a gap, a timeline switch), fall back to the page scan;
 * <0: an error (cancelled, storage failing). */
int walblocks_collect(WalBlocks **out, char **out_reason, const WalBlocksOpts *o);
/* For a relation segment file's path in the data directory: its changed
 * blocks, numbered within the segment file (*out is the caller's to free). */
WalBlocksAnswer walblocks_lookup(const WalBlocks *wb, const char *path, BlockRanges *out);
void walblocks_free(WalBlocks *wb);

/* A set and its ancestors, newest first: sets[0] is the set itself. */
typedef struct Chain {
	Manifest **sets;
	char **dirs;          /* storage directory of each */
	size_t n;
	Storage *storage;     /* whose alias resolver the chain is, until chain_free */
	char ***bundles;      /* bundles[set_idx][no]: "<dir>/bundles/NNNNNN", NULL where unused */
	uint32_t *n_bundles;  /* per set: its highest bundle number + 1 */
} Chain;

/*
 * Load the manifests of head's ancestors (head is taken into the chain).
 * A missing or unreadable parent is ERR_CORRUPT naming both sets: the
 * chain cannot be restored.  Every set's bundled files read at <set
 * dir>/data/<path> through s: the chain answers s's alias lookups from its
 * manifests (storage_alias_resolver_set; no entry per file) until
 * chain_free, which must come before storage_free(s).  Call it before
 * threads read through s; out must not move while loaded.
 */
int chain_load(Chain *out, Storage *s, Manifest *head, const char *head_dir);
/* A chain of set alone (its bundled files readable, its parents not loaded):
 * to walk a chain one set at a time, with chain_parent_load. */
int chain_load_one(Chain *out, Storage *s, Manifest *set, const char *set_dir);
/* Load child's parent and check it is the set child names; *out and
 * *out_dir (malloc'd) are the caller's.  ERR_CORRUPT as chain_load says. */
int chain_parent_load(Storage *s, const Manifest *child, Manifest **out, char **out_dir);
/* More sets than this in a chain: it does not end (a loop). */
#define CHAIN_MAX_SETS 10000
/* The member with that id, or NULL. */
const Manifest *chain_find(const Chain *c, const char *set_id, const char **out_dir);
void chain_free(Chain *c);

/*
 * Write one MF_INCR file of the chain's newest set to fd: every block from
 * the set its parts name, each read once; all stored streams involved are
 * checked against their manifests.  With a pool (p and codecs, else NULL),
 * a large whole file of a full set that a part draws on is laid down whole
 * first, its frames decoded by every worker (as a full restore does), and
 * the other parts' pages are written over the blocks they replace.
 */
int files_restore_incr(Storage *s, const Chain *c, const ManifestFile *f, int fd, const char *dest_path, Pool *p,
                       IoFrameCodec *const *codecs);

/*
 * Connect to a registered cluster and check what every operation needs:
 * PostgreSQL 15 or later, not in recovery, and the server's system
 * identifier equal to the registered one and to pgdata's pg_control.
 */
int cluster_connect(const MetaCluster *c, PgConn **out);
/* For a logical backup: reachable, not in recovery, the registered system
 * identifier; any version, no data directory. */
int cluster_connect_logical(const MetaCluster *c, PgConn **out);

/*
 * Open the storage a set lives in, or a backup goes to: storage_name NULL
 * is the cluster's own storage (where its WAL archive is too), opened with
 * the cluster's key pair unsealed from the metadata; a name is that storage
 * configuration, opened with its own sealed key pair (meta_storage_keys).
 * Without a key pair, credentials are found as storage_open finds them.
 * ERR_NOT_FOUND for an unknown name; ERR_CORRUPT when a key pair does not
 * unseal.  Keys in clear are wiped before it returns.
 */
int cluster_storage_open(Meta *meta, const MetaCluster *c, const char *storage_name, Storage **out);
/* cluster_storage_open of the storage set lives in (set->storage), the set named in the error. */
int set_storage_open(Meta *meta, const MetaCluster *c, const MetaSet *set, Storage **out);

/* ---- encryption keys (keys.c) ---- */

/* The cluster's keys as a keyring (the current one to write with, all to
 * read with); a current key that cannot be loaded is an error. */
int cluster_keyring_load(Meta *meta, const char *cluster, IoKeyring **out);
/* The name an object at path is sealed under (malloc'd): StorageCipherName. */
char *repo_cipher_name(const char *path);

/* Lock file HOME/locks/<name>.lock, held (flock) until lock_release. A
 * process killed with it held releases it with its descriptors. */
int lock_acquire(int *out_fd, const char *home, const char *name, const char *what);
void lock_release(int fd);

#endif
