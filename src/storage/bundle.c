/*
 * bundle.c - small objects written into larger bundle objects, and read
 * back from them through aliases (storage.h says how to use both).
 *
 * Invariant: a bundle holds whole objects, one after the other, each
 * appended under the bundler's mutex in one piece: the bytes [offset,
 * offset + length) that storage_bundle_take reports are exactly what the
 * object's writer was given, and nothing of a failed bundle is ever
 * reported as stored (its failure fails every later close and
 * storage_bundle_end, so the caller never completes a set that needs it).
 *
 * Memory stays bounded by the writers, not by the objects: a writer holds
 * at most `limit` bytes, the bundle writer is the driver's own (posix: a
 * file; S3: its part buffers), and the records of closed objects are taken
 * right after close.  Aliases cost one 32-byte slot (at most half full) and
 * the path's bytes each, bundle paths kept once.
 */
#include "storage/storage_int.h"

#include "common/buf.h"
#include "common/error.h"
#include "common/log.h"
#include "common/strutil.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- writing */

/* A closed, bundled object whose place was not taken yet. */
typedef struct Record {
	struct Record *next;
	uint32_t bundle;
	uint64_t offset;
	char path[];
} Record;

struct Bundler {
	char *dir;                 /* "dir/": objects below are bundled */
	char *bundles_dir;         /* "dir/bundles/": never bundled */
	char *dir_plain;           /* "dir", for bundle names */
	uint64_t limit;
	uint64_t target;
	pthread_mutex_t mu;        /* guards everything below */
	uint32_t number;           /* of the current bundle (the last one started) */
	IoWriter *cur;             /* the current bundle's writer, or NULL */
	uint64_t cur_size;
	Record *records;
	int n_open;                /* bundling writers not freed yet */
	bool failed;               /* a bundle write failed: the first error, kept */
	int fail_code;
	char *fail_message;
	char *fail_detail;
	char *fail_hint;
};

char *
storage_bundle_path(const char *dir, uint32_t bundle)
{
	return xasprintf("%s/bundles/%06u", dir, bundle);
}

/* Keep the thread's error as the bundler's (the first one wins); under mu. */
static void
record_failure(Bundler *b)
{
	if (b->failed)
		return;
	b->failed = true;
	b->fail_code = err_code() < 0 ? err_code() : ERR_IO;
	b->fail_message = xstrdup(err_message());
	b->fail_detail = xstrdup(err_detail_text());
	b->fail_hint = xstrdup(err_hint_text());
}

static int
raise_failure(const Bundler *b)
{
	int rc = err_set(b->fail_code, "%s", b->fail_message);

	if (b->fail_detail[0])
		err_detail("%s", b->fail_detail);
	if (b->fail_hint[0])
		err_hint("%s", b->fail_hint);
	return rc;
}

static void
bundler_free(Bundler *b)
{
	Record *r, *next;

	io_writer_free(b->cur); /* not closed: abandoned, nothing visible */
	for (r = b->records; r; r = next) {
		next = r->next;
		free(r);
	}
	pthread_mutex_destroy(&b->mu);
	free(b->dir);
	free(b->bundles_dir);
	free(b->dir_plain);
	free(b->fail_message);
	free(b->fail_detail);
	free(b->fail_hint);
	free(b);
}

/* The highest bundle number already in dir/bundles/ (to continue after it). */
static int
highest_cb(const char *name, const StorageInfo *info, void *payload)
{
	uint32_t *highest = payload;
	char *end;
	unsigned long n;

	if (info->is_dir || strlen(name) < 6 || strspn(name, "0123456789") != strlen(name))
		return 0;
	n = strtoul(name, &end, 10);
	if (n > *highest && n < UINT32_MAX)
		*highest = (uint32_t)n;
	return 0;
}

int
storage_bundle_begin(Storage *s, const char *dir, uint64_t limit, uint64_t target)
{
	Bundler *b;
	char *bundles;
	uint32_t highest = 0;
	int rc;

	if (s->bundler)
		return err_set(ERR_INTERNAL, "bundling is already on for \"%s\"", s->bundler->dir_plain);
	if ((rc = storage_check_object_path(dir)) < 0)
		return rc;
	limit = limit ? limit : STORAGE_BUNDLE_LIMIT_DEFAULT;
	target = target ? target : STORAGE_BUNDLE_TARGET_DEFAULT;
	if (limit > target || limit > SIZE_MAX / 2)
		return err_set(ERR_INVALID, "bundle limit %llu is above the bundle target %llu", (unsigned long long)limit,
		               (unsigned long long)target);
	bundles = path_join(dir, "bundles");
	rc = storage_list(s, bundles, highest_cb, &highest);
	free(bundles);
	if (rc < 0)
		return rc;
	b = xcalloc(1, sizeof(*b));
	b->dir = xasprintf("%s/", dir);
	b->bundles_dir = xasprintf("%s/bundles/", dir);
	b->dir_plain = xstrdup(dir);
	b->limit = limit;
	b->target = target;
	b->number = highest;
	pthread_mutex_init(&b->mu, NULL);
	s->bundler = b;
	return 0;
}

bool
bundle_wants(const Storage *s, const char *path, const StorageWriteOpts *opts)
{
	const Bundler *b = s->bundler;

	return b && opts && opts->no_sync && !opts->no_replace && str_starts_with(path, b->dir) &&
	       !str_starts_with(path, b->bundles_dir);
}

/* Append one object to the current bundle (starting one when needed). */
static int
bundle_append(Storage *s, Bundler *b, const char *path, const uint8_t *data, size_t len)
{
	const StorageWriteOpts wopts = {.no_sync = true};
	size_t plen = strlen(path);
	Record *rec;
	int rc = 0;

	pthread_mutex_lock(&b->mu);
	if (b->failed) {
		rc = raise_failure(b);
		goto out;
	}
	if (b->cur && b->cur_size > 0 && b->cur_size + len > b->target) {
		rc = io_writer_close(b->cur);
		io_writer_free(b->cur);
		b->cur = NULL;
		if (rc < 0)
			goto fail;
	}
	if (b->cur == NULL) {
		char *name;

		if (b->number == UINT32_MAX) {
			rc = err_set(ERR_NO_SPACE, "too many bundles in \"%s\"", b->dir_plain);
			goto fail;
		}
		name = storage_bundle_path(b->dir_plain, b->number + 1);
		rc = s->driver->write_open(s->drv, &b->cur, name, &wopts);
		free(name);
		if (rc < 0)
			goto fail;
		b->number++;
		b->cur_size = 0;
	}
	if (len > 0 && (rc = io_writer_write(b->cur, data, len)) < 0)
		goto fail;
	rec = xmalloc(sizeof(*rec) + plen + 1);
	memcpy(rec->path, path, plen + 1);
	rec->bundle = b->number;
	rec->offset = b->cur_size;
	rec->next = b->records;
	b->records = rec;
	b->cur_size += len;
	goto out;
fail:
	record_failure(b);
out:
	pthread_mutex_unlock(&b->mu);
	return rc;
}

typedef struct BundleWriter {
	Storage *s;
	Bundler *b;
	char *path;
	StorageWriteOpts opts;
	uint8_t *buf;              /* the object so far, while it is small */
	size_t len, cap;
	IoWriter *real;            /* once past the limit: an ordinary object */
} BundleWriter;

static int
bw_write(void *impl, const void *data, size_t len)
{
	BundleWriter *w = impl;
	int rc;

	if (w->real)
		return io_writer_write(w->real, data, len);
	if (len > w->b->limit - w->len) {
		/* too big for a bundle: what came so far, then the rest, to the object itself */
		if ((rc = w->s->driver->write_open(w->s->drv, &w->real, w->path, &w->opts)) < 0)
			return rc;
		if (w->len > 0 && (rc = io_writer_write(w->real, w->buf, w->len)) < 0)
			return rc;
		free(w->buf);
		w->buf = NULL;
		w->len = w->cap = 0;
		return io_writer_write(w->real, data, len);
	}
	if (w->len + len > w->cap) {
		size_t cap = w->cap ? w->cap : 16384;
		while (cap < w->len + len)
			cap *= 2;
		if (cap > w->b->limit)
			cap = (size_t)w->b->limit;
		w->buf = xrealloc(w->buf, cap);
		w->cap = cap;
	}
	memcpy(w->buf + w->len, data, len);
	w->len += len;
	return 0;
}

static int
bw_close(void *impl)
{
	BundleWriter *w = impl;
	int rc;

	if (w->real)
		return io_writer_close(w->real);
	rc = bundle_append(w->s, w->b, w->path, w->buf, w->len);
	free(w->buf);
	w->buf = NULL;
	w->len = w->cap = 0;
	return rc;
}

static void
bw_free(void *impl)
{
	BundleWriter *w = impl;

	io_writer_free(w->real);
	pthread_mutex_lock(&w->b->mu);
	w->b->n_open--;
	pthread_mutex_unlock(&w->b->mu);
	free(w->buf);
	free(w->path);
	free(w);
}

static const IoWriterOps bundle_writer_ops = {bw_write, bw_close, bw_free};

int
bundle_writer_open(Storage *s, IoWriter **out, const char *path, const StorageWriteOpts *opts)
{
	BundleWriter *w = xcalloc(1, sizeof(*w));

	w->s = s;
	w->b = s->bundler;
	w->path = xstrdup(path);
	w->opts = *opts;
	pthread_mutex_lock(&w->b->mu);
	w->b->n_open++;
	pthread_mutex_unlock(&w->b->mu);
	*out = io_writer_new(&bundle_writer_ops, w);
	return 0;
}

bool
storage_bundle_take(Storage *s, const char *path, uint32_t *out_bundle, uint64_t *out_offset)
{
	Bundler *b = s->bundler;
	bool found = false;

	*out_bundle = 0;
	*out_offset = 0;
	if (b == NULL)
		return false;
	pthread_mutex_lock(&b->mu);
	for (Record **pp = &b->records; *pp; pp = &(*pp)->next) {
		Record *r = *pp;
		if (strcmp(r->path, path) == 0) {
			*out_bundle = r->bundle;
			*out_offset = r->offset;
			*pp = r->next;
			free(r);
			found = true;
			break;
		}
	}
	pthread_mutex_unlock(&b->mu);
	return found;
}

int
storage_bundle_end(Storage *s)
{
	Bundler *b = s->bundler;
	int rc = 0;

	if (b == NULL)
		return 0;
	ASSERT(b->n_open == 0);
	s->bundler = NULL;
	if (b->failed) {
		rc = raise_failure(b);
	} else if (b->cur) {
		rc = io_writer_close(b->cur);
		if (rc < 0)
			err_prefix("could not store bundle %06u of \"%s\"", b->number, b->dir_plain);
	}
	bundler_free(b);
	return rc;
}

void
storage_bundle_abandon(Storage *s)
{
	Bundler *b = s->bundler;

	if (b == NULL)
		return;
	ASSERT(b->n_open == 0);
	s->bundler = NULL;
	bundler_free(b);
}

/* ----------------------------------------------------- reading members */

/*
 * Members of a bundle on a store where each read is a request (S3): one
 * ranged GET of a window of the bundle serves every member inside it.
 * Readers ask for members in about the order the backup wrote them (restore
 * goes by size, largest first, as the backup did; verify by bundle offset),
 * so two windows make one GET serve hundreds of small files.
 * Memory: N_WINDOWS * WINDOW_BYTES while bundles are read.
 */
#define WINDOW_BYTES (4u * 1024 * 1024)
#define N_WINDOWS 2
#define N_SIZES 8

typedef struct Window {
	char *bundle;              /* NULL: empty */
	uint64_t start;
	size_t len;
	uint8_t *data;
	uint64_t used;             /* tick of the last hit, for replacement */
} Window;

struct BundleWindows {
	pthread_mutex_t mu;        /* readers run on many threads */
	Window win[N_WINDOWS];
	struct {
		char *bundle;
		uint64_t size;
	} sizes[N_SIZES];          /* the bundles' sizes, asked once each (round robin) */
	size_t next_size;
	uint64_t tick;
	uint64_t hits, fetches;
};

static pthread_mutex_t windows_init_mu = PTHREAD_MUTEX_INITIALIZER;

static void
windows_free(Storage *s)
{
	BundleWindows *bw = s->windows;

	if (bw == NULL)
		return;
	if (bw->fetches > 0)
		log_debug("bundles: %llu members read with %llu requests", (unsigned long long)(bw->hits + bw->fetches),
		          (unsigned long long)bw->fetches);
	for (int i = 0; i < N_WINDOWS; i++) {
		free(bw->win[i].bundle);
		free(bw->win[i].data);
	}
	for (int i = 0; i < N_SIZES; i++)
		free(bw->sizes[i].bundle);
	pthread_mutex_destroy(&bw->mu);
	free(bw);
	s->windows = NULL;
}

/* The size of bundle (under bw->mu). */
static int
bundle_size(Storage *s, BundleWindows *bw, const char *bundle, uint64_t *out)
{
	StorageInfo info;
	int rc;

	for (int i = 0; i < N_SIZES; i++)
		if (bw->sizes[i].bundle && strcmp(bw->sizes[i].bundle, bundle) == 0) {
			*out = bw->sizes[i].size;
			return 0;
		}
	if ((rc = s->driver->info(s->drv, bundle, &info)) < 0)
		return rc;
	if (!info.exists)
		return err_set(ERR_NOT_FOUND, "bundle \"%s\" does not exist", bundle);
	free(bw->sizes[bw->next_size].bundle);
	bw->sizes[bw->next_size].bundle = xstrdup(bundle);
	bw->sizes[bw->next_size].size = info.size;
	bw->next_size = (bw->next_size + 1) % N_SIZES;
	*out = info.size;
	return 0;
}

/* Fill a window from offset (under bw->mu); ERR_CORRUPT when the bundle ends
 * before the member [offset, offset + length) does. */
static int
window_fill(Storage *s, BundleWindows *bw, Window *w, const char *bundle, uint64_t offset, uint64_t length)
{
	IoReader *r = NULL;
	uint64_t size = 0, end;
	ssize_t n = 0;
	int rc;

	free(w->bundle);
	w->bundle = NULL;
	if ((rc = bundle_size(s, bw, bundle, &size)) < 0)
		return rc;
	if (size < offset + length)
		return err_set(ERR_CORRUPT, "bundle \"%s\" is %llu bytes long, it ends before its member at %llu+%llu",
		               bundle, (unsigned long long)size, (unsigned long long)offset, (unsigned long long)length);
	end = size - offset > WINDOW_BYTES ? offset + WINDOW_BYTES : size;
	if (w->data == NULL)
		w->data = xmalloc(WINDOW_BYTES);
	if ((rc = storage_read_open_range(s, &r, bundle, offset, end - offset)) == 0) {
		n = io_reader_read_full(r, w->data, (size_t)(end - offset));
		if (n < 0)
			rc = (int)n;
		else if ((uint64_t)n < length)
			rc = err_set(ERR_CORRUPT, "bundle \"%s\" ended at %llu, before its member at %llu+%llu", bundle,
			             (unsigned long long)(offset + (uint64_t)n), (unsigned long long)offset,
			             (unsigned long long)length);
	}
	io_reader_free(r);
	if (rc < 0)
		return rc;
	w->bundle = xstrdup(bundle);
	w->start = offset;
	w->len = (size_t)n;
	bw->fetches++;
	return 0;
}

int
bundle_member_open(Storage *s, IoReader **out, const char *bundle, uint64_t offset, uint64_t length)
{
	BundleWindows *bw;
	Window *w = NULL;
	int rc = 0;

	*out = NULL;
	if (!s->driver->remote || length > WINDOW_BYTES / 4)
		return storage_read_open_range(s, out, bundle, offset, length);
	pthread_mutex_lock(&windows_init_mu);
	if (s->windows == NULL) {
		s->windows = xcalloc(1, sizeof(*s->windows));
		pthread_mutex_init(&s->windows->mu, NULL);
	}
	bw = s->windows;
	pthread_mutex_unlock(&windows_init_mu);

	pthread_mutex_lock(&bw->mu);
	bw->tick++;
	for (int i = 0; i < N_WINDOWS && w == NULL; i++) {
		Window *c = &bw->win[i];
		if (c->bundle && c->start <= offset && offset + length <= c->start + c->len && strcmp(c->bundle, bundle) == 0) {
			w = c;
			bw->hits++;
		}
	}
	if (w == NULL) {
		w = &bw->win[0];
		for (int i = 1; i < N_WINDOWS; i++)
			if (bw->win[i].used < w->used)
				w = &bw->win[i];
		rc = window_fill(s, bw, w, bundle, offset, length);
	}
	if (rc == 0) {
		w->used = bw->tick;
		*out = io_mem_reader_new(w->data + (offset - w->start), (size_t)length);
	}
	pthread_mutex_unlock(&bw->mu);
	return rc;
}

/* ---------------------------------------------------------------- aliases */

typedef struct Alias {
	const char *path;          /* in the map's string chunks; NULL: a free slot */
	uint32_t hash;
	uint32_t bundle_idx;
	uint64_t offset;
	uint64_t length;
} Alias;

#define CHUNK_BYTES (64u * 1024)

struct AliasMap {
	Alias *slots;
	size_t cap;                /* a power of two */
	size_t count;
	char **bundles;            /* each bundle path once */
	bool *sealed;              /* per bundle: its objects are encrypted (storage_cipher_set) */
	size_t n_bundles;
	size_t last_bundle;        /* most aliases of a set follow each other in one bundle */
	char **chunks;             /* the paths' bytes: chunks of CHUNK_BYTES, long paths alone */
	size_t n_chunks;
	char *cur;                 /* the chunk being filled */
	size_t cur_used;
};

static uint32_t
hash_path(const char *s)
{
	uint32_t h = 2166136261u;  /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

static char *
map_alloc(AliasMap *m, size_t n)
{
	m->chunks = xrealloc(m->chunks, (m->n_chunks + 1) * sizeof(*m->chunks));
	return m->chunks[m->n_chunks++] = xmalloc(n);
}

static const char *
map_strdup(AliasMap *m, const char *s)
{
	size_t n = strlen(s) + 1;
	char *p;

	if (n > CHUNK_BYTES / 4) {
		p = map_alloc(m, n); /* a long path: its own allocation */
	} else {
		if (m->cur == NULL || m->cur_used + n > CHUNK_BYTES) {
			m->cur = map_alloc(m, CHUNK_BYTES);
			m->cur_used = 0;
		}
		p = m->cur + m->cur_used;
		m->cur_used += n;
	}
	memcpy(p, s, n);
	return p;
}

static uint32_t
bundle_index(AliasMap *m, const char *bundle_path)
{
	if (m->n_bundles > 0 && strcmp(m->bundles[m->last_bundle], bundle_path) == 0)
		return (uint32_t)m->last_bundle;
	for (size_t i = m->n_bundles; i-- > 0;)
		if (strcmp(m->bundles[i], bundle_path) == 0) {
			m->last_bundle = i;
			return (uint32_t)i;
		}
	ASSERT(m->n_bundles < UINT32_MAX);
	m->bundles = xrealloc(m->bundles, (m->n_bundles + 1) * sizeof(*m->bundles));
	m->sealed = xrealloc(m->sealed, (m->n_bundles + 1) * sizeof(*m->sealed));
	m->bundles[m->n_bundles] = xstrdup(bundle_path);
	m->sealed[m->n_bundles] = false;
	m->last_bundle = m->n_bundles++;
	return (uint32_t)m->last_bundle;
}

/* The slot of path: its own, or the free one where it would go. */
static Alias *
map_slot(const AliasMap *m, const char *path, uint32_t hash)
{
	size_t mask = m->cap - 1;

	for (size_t i = hash & mask;; i = (i + 1) & mask) {
		Alias *a = &m->slots[i];
		if (a->path == NULL || (a->hash == hash && strcmp(a->path, path) == 0))
			return a;
	}
}

static void
map_grow(AliasMap *m)
{
	Alias *old = m->slots;
	size_t old_cap = m->cap;

	m->cap = old_cap ? old_cap * 2 : 1024;
	m->slots = xcalloc(m->cap, sizeof(*m->slots));
	for (size_t i = 0; i < old_cap; i++)
		if (old[i].path)
			*map_slot(m, old[i].path, old[i].hash) = old[i];
	free(old);
}

/*
 * Whether the objects of a bundle are encrypted: its first bytes are an
 * encrypted object's header.  A missing or short bundle reads as plain:
 * reading the alias then fails, naming it.
 */
static int
bundle_probe_sealed(Storage *s, const char *bundle_path, bool *out)
{
	IoReader *r = NULL;
	uint8_t head[4];
	ssize_t n;
	int rc;

	*out = false;
	rc = s->driver->read_open_range ? s->driver->read_open_range(s->drv, &r, bundle_path, 0, sizeof(head))
	                                : s->driver->read_open(s->drv, &r, bundle_path);
	if (rc == ERR_NOT_FOUND || rc == ERR_CORRUPT) {
		err_clear();
		return 0;
	}
	if (rc < 0)
		return rc;
	n = io_reader_read_full(r, head, sizeof(head));
	io_reader_free(r);
	if (n < 0 && n != ERR_CORRUPT)
		return (int)n;
	*out = n == (ssize_t)sizeof(head) && io_cipher_header_is(head, sizeof(head), NULL);
	return 0;
}

int
storage_alias_add(Storage *s, const char *path, const char *bundle_path, uint64_t offset, uint64_t length)
{
	size_t n_bundles_before;
	AliasMap *m;
	uint32_t hash = hash_path(path);
	Alias *a;
	int rc;

	if ((rc = storage_check_object_path(path)) < 0 || (rc = storage_check_object_path(bundle_path)) < 0)
		return rc;
	if (offset > UINT64_MAX - length)
		return err_set(ERR_INVALID, "alias \"%s\": the range %llu+%llu is out of bounds", path,
		               (unsigned long long)offset, (unsigned long long)length);
	if (s->aliases == NULL)
		s->aliases = xcalloc(1, sizeof(*s->aliases));
	m = s->aliases;
	if ((m->count + 1) * 2 > m->cap)
		map_grow(m);
	a = map_slot(m, path, hash);
	if (a->path == NULL) {
		a->path = map_strdup(m, path);
		a->hash = hash;
		m->count++;
	}
	n_bundles_before = m->n_bundles;
	a->bundle_idx = bundle_index(m, bundle_path);
	if (m->n_bundles > n_bundles_before && s->keyring &&
	    (rc = bundle_probe_sealed(s, bundle_path, &m->sealed[a->bundle_idx])) < 0) {
		err_prefix("could not read bundle \"%s\"", bundle_path);
		return rc;
	}
	a->offset = offset;
	a->length = length;
	return 0;
}

bool
bundle_alias_find(const Storage *s, const char *path, const char **out_bundle_path, uint64_t *out_offset,
                  uint64_t *out_length)
{
	const AliasMap *m = s->aliases;
	const Alias *a = NULL;

	if (m != NULL && m->count > 0)
		a = map_slot(m, path, hash_path(path));
	if (a == NULL || a->path == NULL) {
		if (s->alias_resolve == NULL ||
		    !s->alias_resolve(path, out_bundle_path, out_offset, out_length, s->alias_payload))
			return false;
		/* A manifest gives a bundled object's plain length; in a set whose
		 * manifest was encrypted (storage_cipher_note) every object is, and
		 * its bundle holds the encrypted one, longer by the cipher's framing. */
		if (s->keyring && io_keyring_requires(s->keyring, *out_bundle_path))
			*out_length = io_cipher_sealed_size(*out_length);
		return true;
	}
	*out_bundle_path = m->bundles[a->bundle_idx];
	*out_offset = a->offset;
	*out_length = m->sealed[a->bundle_idx] ? io_cipher_sealed_size(a->length) : a->length;
	return true;
}

void
storage_alias_resolver_set(Storage *s, StorageAliasResolveFn fn, void *payload)
{
	s->alias_resolve = fn;
	s->alias_payload = fn ? payload : NULL;
}

void
bundle_storage_release(Storage *s)
{
	AliasMap *m = s->aliases;

	storage_bundle_abandon(s); /* still on: what the caller did not end is not stored */
	windows_free(s);
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->n_bundles; i++)
		free(m->bundles[i]);
	for (size_t i = 0; i < m->n_chunks; i++)
		free(m->chunks[i]);
	free(m->bundles);
	free(m->sealed);
	free(m->chunks);
	free(m->slots);
	free(m);
	s->aliases = NULL;
}
