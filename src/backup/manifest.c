/*
 * manifest.c - manifest serialization, parsing and storage.
 *
 * Invariant: manifest_parse accepts only text whose trailing checksum
 * matches, so every field read from storage was written by tenback.
 */
#include "backup/manifest.h"

#include "common/error.h"
#include "common/json.h"
#include "common/strutil.h"
#include "io/io.h"
#include "pg/wal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECKSUM_KEY "\"manifest_checksum\""

static const char *const kind_names[] = {"file", "sparse", "dir", "link", "incr"};
#define N_KINDS 5

Manifest *
manifest_new(void)
{
	Manifest *m = xcalloc(1, sizeof(*m));

	m->format = MANIFEST_FORMAT;
	return m;
}

void
manifest_free(Manifest *m)
{
	if (m == NULL)
		return;
	free(m->set_id);
	free(m->cluster);
	free(m->tenant);
	free(m->type);
	free(m->method);
	free(m->tenback_version);
	free(m->system_id);
	free(m->start_time);
	free(m->stop_time);
	free(m->compress);
	free(m->superuser);
	free(m->backup_label);
	free(m->dump_format);
	free(m->pg_dump_version);
	free(m->db_encoding);
	free(m->db_collate);
	free(m->db_ctype);
	free(m->db_locale_provider);
	free(m->db_icu_locale);
	if (m->files_text)
		buf_free(m->files_text);
	free(m->files_text);
	for (size_t i = 0; i < m->n_dbs; i++)
		free(m->dbs[i].name);
	free(m->dbs);
	for (size_t i = 0; i < m->n_tablespaces; i++) {
		free(m->tablespaces[i].name);
		free(m->tablespaces[i].location);
	}
	free(m->tablespaces);
	for (size_t i = 0; i < m->n_files; i++) {
		ManifestFile *f = &m->files[i];
		free(f->link_target);
		ranges_free(&f->blocks);
		for (size_t k = 0; !f->parts_packed && k < f->n_parts; k++) {
			free(f->parts[k].set_id);
			ranges_free(&f->parts[k].blocks);
		}
		free(f->parts);
	}
	free(m->files);
	free(m->index);
	for (size_t i = 0; i < m->n_path_chunks; i++)
		free(m->path_chunks[i]);
	free(m->path_chunks);
	for (size_t i = 0; i < m->n_part_sets; i++)
		free(m->part_sets[i]);
	free(m->part_sets);
	free(m->parent);
	strlist_free(&m->removed);
	for (size_t i = 0; i < m->n_wal; i++)
		free(m->wal[i].name);
	free(m->wal);
	free(m);
}

#define PATH_CHUNK_BYTES (64u * 1024)

/* A copy of path in m's path chunks; a long path gets a chunk of its own,
 * put before the one being filled. */
static char *
path_copy(Manifest *m, const char *path)
{
	size_t n = strlen(path) + 1;
	char *p;

	if (n > PATH_CHUNK_BYTES / 4) {
		p = xmalloc(n);
		m->path_chunks = xrealloc(m->path_chunks, (m->n_path_chunks + 1) * sizeof(*m->path_chunks));
		if (m->n_path_chunks > 0) {
			m->path_chunks[m->n_path_chunks] = m->path_chunks[m->n_path_chunks - 1];
			m->path_chunks[m->n_path_chunks - 1] = p;
		} else {
			m->path_chunks[0] = p;
			m->path_used = PATH_CHUNK_BYTES; /* not a chunk to fill */
		}
		m->n_path_chunks++;
	} else {
		if (m->n_path_chunks == 0 || m->path_used + n > PATH_CHUNK_BYTES) {
			m->path_chunks = xrealloc(m->path_chunks, (m->n_path_chunks + 1) * sizeof(*m->path_chunks));
			m->path_chunks[m->n_path_chunks++] = xmalloc(PATH_CHUNK_BYTES);
			m->path_used = 0;
		}
		p = m->path_chunks[m->n_path_chunks - 1] + m->path_used;
		m->path_used += n;
	}
	memcpy(p, path, n);
	return p;
}

ManifestFile *
manifest_add_file(Manifest *m, const char *path, ManifestKind kind)
{
	ManifestFile *f;

	if (m->n_files == m->cap_files) {
		m->cap_files = m->cap_files ? m->cap_files * 2 : 256;
		m->files = xrealloc(m->files, m->cap_files * sizeof(*m->files));
	}
	ASSERT(m->index == NULL);
	f = &m->files[m->n_files++];
	memset(f, 0, sizeof(*f));
	f->path = path_copy(m, path);
	f->kind = kind;
	return f;
}

void
manifest_add_wal(Manifest *m, const char *name, uint64_t size, uint64_t stored_size, const IoChecksum *sum)
{
	m->wal = xrealloc(m->wal, (m->n_wal + 1) * sizeof(*m->wal));
	ManifestWal *w = &m->wal[m->n_wal++];
	w->name = xstrdup(name);
	w->size = size;
	w->stored_size = stored_size;
	w->sum = *sum;
}

void
manifest_add_db(Manifest *m, uint32_t oid, const char *name, bool included)
{
	m->dbs = xrealloc(m->dbs, (m->n_dbs + 1) * sizeof(*m->dbs));
	m->dbs[m->n_dbs].oid = oid;
	m->dbs[m->n_dbs].name = xstrdup(name);
	m->dbs[m->n_dbs].included = included;
	m->n_dbs++;
}

void
manifest_add_tablespace(Manifest *m, uint32_t oid, const char *name, const char *location)
{
	m->tablespaces = xrealloc(m->tablespaces, (m->n_tablespaces + 1) * sizeof(*m->tablespaces));
	m->tablespaces[m->n_tablespaces].oid = oid;
	m->tablespaces[m->n_tablespaces].name = xstrdup(name);
	m->tablespaces[m->n_tablespaces].location = xstrdup(location);
	m->n_tablespaces++;
}

void
manifest_file_add_part(ManifestFile *f, const char *set_id, BlockRanges *blocks)
{
	ASSERT(!f->parts_packed);
	f->parts = xrealloc(f->parts, (f->n_parts + 1) * sizeof(*f->parts));
	f->parts[f->n_parts].set_id = xstrdup(set_id);
	f->parts[f->n_parts].blocks = *blocks;
	memset(blocks, 0, sizeof(*blocks));
	f->n_parts++;
}

/*
 * qsort for what is in order already but for a run at the end (a scan's
 * files and a stored manifest's are in path order, but for global/pg_control,
 * copied and listed last): in order, nothing; two runs, one merge; else qsort.
 */
static void
sort_mostly_sorted(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	char *a = base, *tmp, *out;
	size_t split = 0, i, j;

	for (i = 1; i < n; i++)
		if (cmp(a + (i - 1) * size, a + i * size) > 0) {
			if (split) {
				qsort(base, n, size, cmp);
				return;
			}
			split = i;
		}
	if (split == 0)
		return;
	/* [0, split) and [split, n) are each in order: merged, the first run first on ties */
	tmp = xmalloc(n * size);
	out = tmp;
	for (i = 0, j = split; i < split || j < n;) {
		if (j >= n || (i < split && cmp(a + i * size, a + j * size) <= 0))
			memcpy(out, a + i++ * size, size);
		else
			memcpy(out, a + j++ * size, size);
		out += size;
	}
	memcpy(a, tmp, n * size);
	free(tmp);
}

static int
cmp_file_ptr(const void *a, const void *b)
{
	return strcmp((*(ManifestFile *const *)a)->path, (*(ManifestFile *const *)b)->path);
}

const ManifestFile *
manifest_find_file(Manifest *m, const char *path)
{
	size_t lo = 0, hi = m->n_files;

	if (m->index == NULL) {
		m->index = xmalloc((m->n_files + 1) * sizeof(*m->index));
		for (size_t i = 0; i < m->n_files; i++)
			m->index[i] = &m->files[i];
		sort_mostly_sorted(m->index, m->n_files, sizeof(*m->index), cmp_file_ptr);
	}
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(path, m->index[mid]->path);
		if (c == 0)
			return m->index[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

typedef struct LookupFile {
	char *path;
	uint64_t size;
	int64_t mtime;
	ManifestPart *parts;
	uint32_t n_parts;
	uint8_t kind;
	bool parts_packed;
} LookupFile;

struct ManifestLookup {
	LookupFile *files;       /* sorted by path */
	size_t n_files;
	char **path_chunks;      /* taken from the manifest */
	size_t n_path_chunks;
	char **part_sets;        /* taken from the manifest */
	size_t n_part_sets;
};

static int
cmp_lookup_file(const void *a, const void *b)
{
	return strcmp(((const LookupFile *)a)->path, ((const LookupFile *)b)->path);
}

ManifestLookup *
manifest_lookup_take(Manifest *m)
{
	ManifestLookup *l = xcalloc(1, sizeof(*l));

	l->files = xmalloc((m->n_files + 1) * sizeof(*l->files));
	for (size_t i = 0; i < m->n_files; i++) {
		ManifestFile *f = &m->files[i];
		l->files[i] = (LookupFile){f->path, f->size, f->mtime, f->parts, f->n_parts, f->kind, f->parts_packed};
		f->parts = NULL;
		f->n_parts = 0;
		free(f->link_target);
		ranges_free(&f->blocks);
	}
	l->n_files = m->n_files;
	sort_mostly_sorted(l->files, l->n_files, sizeof(*l->files), cmp_lookup_file);
	l->path_chunks = m->path_chunks;
	l->n_path_chunks = m->n_path_chunks;
	l->part_sets = m->part_sets;
	l->n_part_sets = m->n_part_sets;
	m->part_sets = NULL;
	m->n_part_sets = 0;
	m->path_chunks = NULL;
	m->n_path_chunks = 0;
	m->path_used = 0;
	free(m->files);
	free(m->index);
	m->files = NULL;
	m->index = NULL;
	m->n_files = m->cap_files = 0;
	return l;
}

bool
manifest_lookup_find(const ManifestLookup *l, const char *path, ManifestFile *out)
{
	size_t lo = 0, hi = l->n_files;

	memset(out, 0, sizeof(*out));
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const LookupFile *x = &l->files[mid];
		int c = strcmp(path, x->path);
		if (c == 0) {
			out->path = x->path;
			out->size = x->size;
			out->mtime = x->mtime;
			out->parts = x->parts;
			out->n_parts = x->n_parts;
			out->kind = x->kind;
			return true;
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return false;
}

size_t
manifest_lookup_count(const ManifestLookup *l)
{
	return l->n_files;
}

const char *
manifest_lookup_path(const ManifestLookup *l, size_t idx)
{
	ASSERT(idx < l->n_files);
	return l->files[idx].path;
}

void
manifest_lookup_free(ManifestLookup *l)
{
	if (l == NULL)
		return;
	for (size_t i = 0; i < l->n_files; i++) {
		for (uint32_t k = 0; !l->files[i].parts_packed && k < l->files[i].n_parts; k++) {
			free(l->files[i].parts[k].set_id);
			ranges_free(&l->files[i].parts[k].blocks);
		}
		free(l->files[i].parts);
	}
	for (size_t i = 0; i < l->n_path_chunks; i++)
		free(l->path_chunks[i]);
	free(l->path_chunks);
	for (size_t i = 0; i < l->n_part_sets; i++)
		free(l->part_sets[i]);
	free(l->part_sets);
	free(l->files);
	free(l);
}

bool
manifest_db_included(const Manifest *m, uint32_t oid)
{
	for (size_t i = 0; i < m->n_dbs; i++)
		if (m->dbs[i].oid == oid)
			return m->dbs[i].included;
	return false;
}

bool
manifest_is_logical(const Manifest *m)
{
	return m->method && strcmp(m->method, "logical") == 0;
}

/* Optional members: only a bundled file has them (a manifest without them reads as before). */
static void
write_bundle(JsonWriter *w, const ManifestFile *f)
{
	if (f->bundle == 0)
		return;
	json_kv_uint(w, "bundle", f->bundle);
	json_kv_uint(w, "bundle_offset", f->bundle_offset);
}

/*
 * Where the text goes: all into out (manifest_to_json), or, with sink set,
 * out holding at most about FLUSH_BYTES before they go on to the sink
 * (manifest_store: the text of 100,000 files is never whole in memory).
 * Either way h sees every byte, for the trailing checksum.
 */
#define FLUSH_BYTES (1024 * 1024)

typedef struct TextOut {
	Buf *out;
	IoSha256 *h;
	IoWriter *sink;
	int rc;
} TextOut;

static void
text_flush(TextOut *t, bool always)
{
	if (t->sink == NULL || (!always && t->out->len < FLUSH_BYTES))
		return;
	if (t->h)
		io_sha256_update(t->h, t->out->data, t->out->len);
	if (t->rc == 0)
		t->rc = io_writer_write(t->sink, t->out->data, t->out->len);
	buf_reset(t->out);
}

/* "crc32c": "<hex>" or "sha256": "<hex>". */
static void
write_sum(JsonWriter *w, const IoChecksum *sum)
{
	char hex[2 * IO_CHECKSUM_MAX_LEN + 1];

	io_checksum_hex(hex, sum);
	json_kv_string(w, io_checksum_name(sum->kind), hex);
}

/* An entry's checksum, under either kind's name: 0, or -1 when it has none or a bad one. */
static int
parse_sum(IoChecksum *out, const JsonValue *o)
{
	const char *crc = json_get_string(o, io_checksum_name(IO_CHECKSUM_CRC32C));
	const char *sha = json_get_string(o, io_checksum_name(IO_CHECKSUM_SHA256));

	if ((crc == NULL) == (sha == NULL))
		return -1;
	if (crc != NULL)
		return io_checksum_unhex(out, IO_CHECKSUM_CRC32C, crc) < 0 ? -1 : 0;
	return io_checksum_unhex(out, IO_CHECKSUM_SHA256, sha) < 0 ? -1 : 0;
}

/* The "files" array's members, each on a line of its own. */
static void
write_files(JsonWriter *w, const Manifest *m, TextOut *t)
{
	Buf *out = t->out;

	for (size_t i = 0; i < m->n_files; i++) {
		const ManifestFile *f = &m->files[i];
		if (f->vanished)
			continue;
		buf_puts(out, "\n");
		json_object_begin(w);
		json_kv_string(w, "path", f->path);
		json_kv_string(w, "kind", kind_names[f->kind]);
		json_kv_uint(w, "mode", f->mode);
		if (f->kind == MF_FILE || f->kind == MF_SPARSE) {
			json_kv_uint(w, "size", f->size);
			json_kv_int(w, "mtime", f->mtime);
		}
		if (f->kind == MF_FILE) {
			json_kv_uint(w, "stored_size", f->stored_size);
			write_sum(w, &f->sum);
			if (f->page_errors)
				json_kv_uint(w, "page_errors", f->page_errors);
			write_bundle(w, f);
		}
		if (f->kind == MF_LINK)
			json_kv_string(w, "target", f->link_target);
		if (f->kind == MF_INCR) {
			char *r = ranges_format(&f->blocks);
			json_kv_uint(w, "size", f->size);
			json_kv_int(w, "mtime", f->mtime);
			json_kv_string(w, "blocks", r);
			free(r);
			if (f->blocks.n) {
				json_kv_uint(w, "stored_size", f->stored_size);
				write_sum(w, &f->sum);
				write_bundle(w, f);
			}
			json_key(w, "parts");
			json_array_begin(w);
			for (size_t k = 0; k < f->n_parts; k++) {
				r = ranges_format(&f->parts[k].blocks);
				json_object_begin(w);
				json_kv_string(w, "set", f->parts[k].set_id);
				json_kv_string(w, "blocks", r);
				json_object_end(w);
				free(r);
			}
			json_array_end(w);
		}
		json_object_end(w);
		text_flush(t, false);
	}
}

static void
serialize(const Manifest *m, TextOut *t)
{
	Buf *out = t->out;
	JsonWriter w;
	char lsn[32];
	uint8_t sum[IO_SHA256_LEN];
	char hex[65];
	bool logical = manifest_is_logical(m);

	json_writer_init(&w, out, true);
	json_object_begin(&w);
	json_kv_int(&w, "format", m->format);
	json_kv_string(&w, "set_id", m->set_id);
	json_kv_string(&w, "cluster", m->cluster);
	json_kv_string(&w, "tenant", m->tenant);
	json_kv_string(&w, "type", m->type);
	if (m->parent)
		json_kv_string(&w, "parent", m->parent);
	json_kv_string(&w, "method", m->method);
	json_kv_string(&w, "tenback_version", m->tenback_version);
	json_kv_uint(&w, "pg_version", m->pg_version);
	json_kv_string(&w, "system_id", m->system_id);
	if (!logical) {
		json_kv_uint(&w, "timeline", m->timeline);
		pg_lsn_format(lsn, m->start_lsn);
		json_kv_string(&w, "start_lsn", lsn);
		pg_lsn_format(lsn, m->stop_lsn);
		json_kv_string(&w, "stop_lsn", lsn);
	}
	json_kv_string(&w, "start_time", m->start_time);
	json_kv_string(&w, "stop_time", m->stop_time);
	json_kv_string(&w, "compress", m->compress);
	if (!logical) {
		json_kv_uint(&w, "data_checksums", m->data_checksums);
		json_kv_uint(&w, "wal_seg_size", m->wal_seg_size);
		json_kv_string(&w, "superuser", m->superuser);
		json_kv_string(&w, "backup_label", m->backup_label);
	}
	json_kv_uint(&w, "size_bytes", m->size_bytes);
	json_kv_uint(&w, "stored_bytes", m->stored_bytes);
	if (logical) {
		/* start_time is the dump's snapshot; no LSN, WAL, label, databases nor tablespaces */
		json_key(&w, "logical");
		json_object_begin(&w);
		json_kv_string(&w, "dump_format", m->dump_format);
		json_kv_string(&w, "pg_dump_version", m->pg_dump_version);
		json_kv_string(&w, "encoding", m->db_encoding);
		json_kv_string(&w, "collate", m->db_collate);
		json_kv_string(&w, "ctype", m->db_ctype);
		json_kv_string(&w, "locale_provider", m->db_locale_provider);
		json_kv_string(&w, "icu_locale", m->db_icu_locale);
		json_object_end(&w);
	}

	json_key(&w, "databases");
	json_array_begin(&w);
	for (size_t i = 0; i < m->n_dbs; i++) {
		json_object_begin(&w);
		json_kv_uint(&w, "oid", m->dbs[i].oid);
		json_kv_string(&w, "name", m->dbs[i].name);
		json_kv_bool(&w, "included", m->dbs[i].included);
		json_object_end(&w);
	}
	json_array_end(&w);

	json_key(&w, "tablespaces");
	json_array_begin(&w);
	for (size_t i = 0; i < m->n_tablespaces; i++) {
		json_object_begin(&w);
		json_kv_uint(&w, "oid", m->tablespaces[i].oid);
		json_kv_string(&w, "name", m->tablespaces[i].name);
		json_kv_string(&w, "location", m->tablespaces[i].location);
		json_object_end(&w);
	}
	json_array_end(&w);

	w.pretty = false; /* one line per file keeps big manifests compact */
	json_key(&w, "files");
	json_array_begin(&w);
	if (m->files_text != NULL && m->files_text_n == m->n_files) {
		/* rendered ahead (manifest_files_render), byte for byte what the loop writes */
		buf_append(out, m->files_text->data, m->files_text->len);
		w.need_comma[w.depth] = m->files_text->len > 0;
		text_flush(t, false);
	} else {
		write_files(&w, m, t);
	}
	json_array_end(&w);
	json_key(&w, "wal");
	json_array_begin(&w);
	for (size_t i = 0; i < m->n_wal; i++) {
		buf_puts(out, "\n");
		json_object_begin(&w);
		json_kv_string(&w, "name", m->wal[i].name);
		json_kv_uint(&w, "size", m->wal[i].size);
		json_kv_uint(&w, "stored_size", m->wal[i].stored_size);
		write_sum(&w, &m->wal[i].sum);
		json_object_end(&w);
	}
	json_array_end(&w);
	json_key(&w, "removed");
	json_array_begin(&w);
	for (size_t i = 0; i < m->removed.count; i++) {
		buf_puts(out, "\n");
		json_string(&w, m->removed.items[i]);
	}
	json_array_end(&w);
	buf_puts(out, ",\n");

	text_flush(t, true);
	if (t->sink == NULL)
		io_sha256_update(t->h, out->data, out->len);
	io_sha256_final(t->h, sum);
	io_sha256_free(t->h);
	t->h = NULL; /* the checksum line is not part of what it sums */
	io_hex(hex, sum, sizeof(sum));
	buf_printf(out, CHECKSUM_KEY ": \"%s\"\n}\n", hex);
	text_flush(t, true);
}

void
manifest_files_render(Manifest *m)
{
	JsonWriter w;
	TextOut t = {NULL, NULL, NULL, 0};

	if (m->files_text == NULL)
		m->files_text = xcalloc(1, sizeof(*m->files_text)); /* all zero: BUF_INIT */
	buf_reset(m->files_text);
	t.out = m->files_text;
	json_writer_init(&w, m->files_text, false);
	w.depth = 1; /* inside the array, as serialize writes it */
	write_files(&w, m, &t);
	m->files_text_n = m->n_files;
}

void
manifest_to_json(const Manifest *m, Buf *out)
{
	TextOut t = {out, io_sha256_new(), NULL, 0};

	serialize(m, &t);
}

static char *
dup_str(const JsonValue *o, const char *key)
{
	return xstrdup(json_get_string(o, key));
}

static int
parse_lsn_member(uint64_t *out, const JsonValue *o, const char *key)
{
	const char *s = json_get_string(o, key);

	if (s == NULL || pg_lsn_parse(out, s) < 0)
		return err_set(ERR_CORRUPT, "manifest has no valid \"%s\"", key);
	return 0;
}

/* set_id, once in m (the last few looked at: a chain names a handful of
 * sets, and a manifest naming many costs a copy each, not a search). */
static char *
part_set_intern(Manifest *m, const char *set_id)
{
	for (size_t i = m->n_part_sets, seen = 0; i-- > 0 && seen < 16; seen++)
		if (strcmp(m->part_sets[i], set_id) == 0)
			return m->part_sets[i];
	m->part_sets = xrealloc(m->part_sets, (m->n_part_sets + 1) * sizeof(*m->part_sets));
	return m->part_sets[m->n_part_sets++] = xstrdup(set_id);
}

/*
 * An entry's parts in one allocation, the ranges after the parts, the set
 * ids m's: an incremental manifest has parts for every relation file, and
 * three allocations each (parts, set id, ranges) cost 96 bytes a file.
 */
static int
parse_parts(Manifest *m, ManifestFile *f, const JsonValue *parts)
{
	size_t n = parts->count, n_ranges = 0;
	BlockRanges *tmp;
	ManifestPart *packed;
	BlockRange *r;
	int rc = 0;

	if (n == 0)
		return 0;
	if (n > UINT32_MAX)
		return err_set(ERR_CORRUPT, "manifest entry \"%s\" has an invalid part", f->path);
	tmp = xcalloc(n, sizeof(*tmp));
	for (size_t i = 0; i < n; i++) {
		const char *set = json_get_string(parts->items[i], "set");
		const char *pb = json_get_string(parts->items[i], "blocks");

		if (set == NULL || pb == NULL || ranges_parse(&tmp[i], pb) < 0) {
			rc = err_set(ERR_CORRUPT, "manifest entry \"%s\" has an invalid part", f->path);
			goto out;
		}
		n_ranges += tmp[i].n;
	}
	packed = xmalloc(n * sizeof(*packed) + n_ranges * sizeof(*r));
	r = (BlockRange *)(packed + n);
	for (size_t i = 0; i < n; i++) {
		packed[i].set_id = part_set_intern(m, json_get_string(parts->items[i], "set"));
		packed[i].blocks = (BlockRanges){tmp[i].n ? r : NULL, tmp[i].n, tmp[i].n};
		if (tmp[i].n)
			memcpy(r, tmp[i].r, tmp[i].n * sizeof(*r));
		r += tmp[i].n;
	}
	f->parts = packed;
	f->n_parts = (uint32_t)n;
	f->parts_packed = true;
out:
	for (size_t i = 0; i < n; i++)
		ranges_free(&tmp[i]);
	free(tmp);
	return rc;
}

static int
parse_incr(Manifest *m, ManifestFile *f, const JsonValue *o)
{
	const char *blocks = json_get_string(o, "blocks");
	const JsonValue *parts = json_get(o, "parts");

	if (blocks == NULL || parts == NULL || parts->type != JSON_ARRAY)
		return err_set(ERR_CORRUPT, "manifest entry \"%s\" lacks blocks or parts", f->path);
	if (ranges_parse(&f->blocks, blocks) < 0)
		return ERR_CORRUPT;
	if (f->blocks.n && parse_sum(&f->sum, o) < 0)
		return err_set(ERR_CORRUPT, "manifest entry \"%s\" has no checksum", f->path);
	return parse_parts(m, f, parts);
}

/* "bundle" and "bundle_offset": both or neither, on an entry with stored content. */
static int
parse_bundle(ManifestFile *f, const JsonValue *o)
{
	bool has_bundle = json_get(o, "bundle") != NULL, has_offset = json_get(o, "bundle_offset") != NULL;
	bool ok_bundle = true, ok_offset = true;
	uint64_t bundle;

	if (!has_bundle && !has_offset)
		return 0;
	bundle = json_get_uint(o, "bundle", &ok_bundle);
	f->bundle_offset = json_get_uint(o, "bundle_offset", &ok_offset);
	if (!has_bundle || !has_offset || !ok_bundle || !ok_offset || bundle == 0 || bundle > UINT32_MAX ||
	    f->bundle_offset > UINT64_MAX - f->stored_size)
		return err_set(ERR_CORRUPT, "manifest entry \"%s\" has an invalid bundle", f->path);
	if (!(f->kind == MF_FILE || (f->kind == MF_INCR && f->blocks.n > 0)))
		return err_set(ERR_CORRUPT, "manifest entry \"%s\" has a bundle but no stored content", f->path);
	f->bundle = (uint32_t)bundle;
	return 0;
}

/* A manifest path stays inside the data directory: relative, no "." or ".." parts. */
static bool
safe_relpath(const char *path)
{
	const char *p = path;

	if (*path == '\0' || *path == '/')
		return false;
	for (;;) {
		size_t n = strcspn(p, "/");
		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		if (p[n] == '\0')
			return true;
		p += n + 1;
	}
}

static int
parse_file(Manifest *m, const JsonValue *o, size_t i)
{
	const char *path = json_get_string(o, "path");
	const char *kind = json_get_string(o, "kind");
	int k = -1;

	for (int j = 0; kind && j < N_KINDS; j++)
		if (strcmp(kind, kind_names[j]) == 0)
			k = j;
	if (path == NULL || k < 0)
		return err_set(ERR_CORRUPT, "manifest file entry %zu is invalid", i);
	if (!safe_relpath(path))
		return err_set(ERR_CORRUPT, "manifest file entry \"%.200s\" leaves the data directory", path);
	ManifestFile *f = manifest_add_file(m, path, (ManifestKind)k);
	f->mode = (uint32_t)json_get_uint(o, "mode", NULL);
	f->size = json_get_uint(o, "size", NULL);
	f->mtime = json_get_int(o, "mtime", NULL);
	f->stored_size = json_get_uint(o, "stored_size", NULL);
	f->page_errors = (uint32_t)json_get_uint(o, "page_errors", NULL);
	if (k == MF_FILE && parse_sum(&f->sum, o) < 0)
		return err_set(ERR_CORRUPT, "manifest entry \"%s\" has no checksum", path);
	if (k == MF_LINK) {
		const char *t = json_get_string(o, "target");
		if (t == NULL)
			return err_set(ERR_CORRUPT, "manifest link \"%s\" has no target", path);
		f->link_target = xstrdup(t);
	}
	if (k == MF_INCR && parse_incr(m, f, o) < 0)
		return err_code();
	if (parse_bundle(f, o) < 0)
		return err_code();
	return 0;
}

/*
 * The file entries, parsed as the JSON parser reaches them (a manifest of
 * 100,000 files is never a tree in memory).  The first bad entry's error is
 * kept, not raised: the checksum, checked once the whole text is parsed,
 * speaks first.
 */
typedef struct FilesParse {
	Manifest *m;
	int rc;
	char message[512];
} FilesParse;

static int
file_item_cb(const JsonValue *item, size_t item_idx, void *payload)
{
	FilesParse *fp = payload;

	if (fp->rc == 0 && (fp->rc = parse_file(fp->m, item, item_idx)) < 0)
		snprintf(fp->message, sizeof(fp->message), "%s", err_message());
	return 0;
}

/*
 * Where the text comes from: a storage reader (manifest_load_named, which
 * never holds the whole text) or memory (manifest_parse).  Every byte read
 * goes through tap(), which keeps the SHA-256 of the text as it was before
 * the last CHECKSUM_KEY seen so far: the checksum covers every byte before
 * the last occurrence of its key.  The last KEY_LEN - 1 bytes are held back
 * from the hash until the next bytes show whether a key starts among them.
 */
#define KEY_LEN (sizeof(CHECKSUM_KEY) - 1)
#define MEM_CHUNK 4093 /* odd: manifest_parse's reads end anywhere, like a reader's */

typedef struct TextIn {
	IoReader *r;
	const char *mem;
	size_t mem_len;
	size_t mem_pos;
	IoSha256 *h;          /* the bytes before hold */
	IoSha256 *at_key;     /* h when the last key started, NULL before one */
	Buf window;           /* hold + the bytes just read (a reader's; memory is one window) */
	char hold[KEY_LEN - 1];
	size_t n_hold;
	int read_rc;
} TextIn;

static void
tap(TextIn *t, const char *data, size_t len)
{
	const char *w;
	size_t wl, hashed = 0, keep;

	if (t->mem) {
		/* the held bytes are those just before data */
		w = data - t->n_hold;
		wl = t->n_hold + len;
	} else {
		buf_reset(&t->window);
		buf_append(&t->window, t->hold, t->n_hold);
		buf_append(&t->window, data, len);
		w = t->window.data;
		wl = t->window.len;
	}
	for (const char *p = w; (p = memmem(p, wl - (size_t)(p - w), CHECKSUM_KEY, KEY_LEN)); p++) {
		io_sha256_update(t->h, w + hashed, (size_t)(p - w) - hashed);
		hashed = (size_t)(p - w);
		if (t->at_key == NULL)
			t->at_key = io_sha256_new();
		io_sha256_copy(t->at_key, t->h);
	}
	/* a key found ends in the window: what is held back starts after its start */
	keep = wl - hashed < KEY_LEN - 1 ? wl - hashed : KEY_LEN - 1;
	io_sha256_update(t->h, w + hashed, wl - hashed - keep);
	memcpy(t->hold, w + wl - keep, keep);
	t->n_hold = keep;
}

static ssize_t
text_read(void *buf, size_t n, void *payload)
{
	TextIn *t = payload;
	ssize_t got;

	if (t->r) {
		got = io_reader_read(t->r, buf, n);
	} else {
		size_t k = t->mem_len - t->mem_pos;
		if (k > n)
			k = n;
		if (k > MEM_CHUNK)
			k = MEM_CHUNK;
		memcpy(buf, t->mem + t->mem_pos, k);
		if (k > 0)
			tap(t, t->mem + t->mem_pos, k);
		t->mem_pos += k;
		return (ssize_t)k;
	}
	if (got > 0)
		tap(t, buf, (size_t)got);
	else if (got < 0)
		t->read_rc = (int)got;
	return got;
}

/* The rest of the text through tap (after invalid JSON: is there a checksum at all?). */
static int
text_drain(TextIn *t)
{
	char chunk[16384];
	ssize_t n;

	while ((n = text_read(chunk, sizeof(chunk), t)) > 0)
		;
	return (int)n;
}

static void
text_in_free(TextIn *t)
{
	io_sha256_free(t->h);
	io_sha256_free(t->at_key);
	buf_free(&t->window);
}

static int
parse_text(Manifest **out, TextIn *t)
{
	JsonValue *root = NULL;
	Manifest *m = manifest_new();
	FilesParse fp = {m, 0, ""};
	uint8_t sum[IO_SHA256_LEN];
	char hex[65];
	const char *want;
	int rc;

	*out = NULL;
	t->h = io_sha256_new();
	if (json_parse_reader(&root, text_read, t, "files", file_item_cb, &fp) < 0) {
		char cause[512];

		if (t->read_rc < 0) {
			rc = t->read_rc; /* not the text's fault: its error as it is */
			goto out;
		}
		snprintf(cause, sizeof(cause), "%s", err_message());
		if ((rc = text_drain(t)) < 0)
			goto out;
		if (t->at_key == NULL)
			rc = err_set(ERR_CORRUPT, "manifest has no checksum");
		else
			rc = err_set(ERR_CORRUPT, "manifest is not valid JSON: %s", cause);
		goto out;
	}
	if (t->at_key == NULL) {
		rc = err_set(ERR_CORRUPT, "manifest has no checksum");
		goto out;
	}
	io_sha256_final(t->at_key, sum);
	io_hex(hex, sum, sizeof(sum));
	want = json_get_string(root, "manifest_checksum");
	if (want == NULL || strcmp(want, hex) != 0) {
		rc = err_set(ERR_CORRUPT, "manifest checksum mismatch");
		goto out;
	}
	m->format = (int)json_get_int(root, "format", NULL);
	if (m->format < MANIFEST_FORMAT_OLDEST || m->format > MANIFEST_FORMAT) {
		rc = err_set(ERR_UNSUPPORTED, "manifest format %d is not supported", m->format);
		goto out;
	}
	m->set_id = dup_str(root, "set_id");
	m->cluster = dup_str(root, "cluster");
	m->tenant = dup_str(root, "tenant");
	m->type = dup_str(root, "type");
	m->parent = dup_str(root, "parent");
	m->method = dup_str(root, "method");
	m->tenback_version = dup_str(root, "tenback_version");
	m->pg_version = (uint32_t)json_get_uint(root, "pg_version", NULL);
	m->system_id = dup_str(root, "system_id");
	m->timeline = (uint32_t)json_get_uint(root, "timeline", NULL);
	m->start_time = dup_str(root, "start_time");
	m->stop_time = dup_str(root, "stop_time");
	m->compress = dup_str(root, "compress");
	m->data_checksums = (uint32_t)json_get_uint(root, "data_checksums", NULL);
	m->wal_seg_size = (uint32_t)json_get_uint(root, "wal_seg_size", NULL);
	m->superuser = dup_str(root, "superuser");
	m->backup_label = dup_str(root, "backup_label");
	m->size_bytes = json_get_uint(root, "size_bytes", NULL);
	m->stored_bytes = json_get_uint(root, "stored_bytes", NULL);
	if (manifest_is_logical(m)) {
		/* a logical set: the dump and how to recreate its database; no WAL, LSN nor label */
		const JsonValue *lg = json_get(root, "logical");
		m->dump_format = dup_str(lg, "dump_format");
		m->pg_dump_version = dup_str(lg, "pg_dump_version");
		m->db_encoding = dup_str(lg, "encoding");
		m->db_collate = dup_str(lg, "collate");
		m->db_ctype = dup_str(lg, "ctype");
		m->db_locale_provider = dup_str(lg, "locale_provider");
		m->db_icu_locale = dup_str(lg, "icu_locale");
		if (m->set_id == NULL || m->tenant == NULL || m->system_id == NULL || m->dump_format == NULL ||
		    m->db_encoding == NULL || m->pg_version == 0) {
			rc = err_set(ERR_CORRUPT, "manifest lacks required fields");
			goto out;
		}
	} else {
		if (m->set_id == NULL || m->tenant == NULL || m->system_id == NULL || m->backup_label == NULL ||
		    m->superuser == NULL || m->wal_seg_size == 0) {
			rc = err_set(ERR_CORRUPT, "manifest lacks required fields");
			goto out;
		}
		if ((rc = parse_lsn_member(&m->start_lsn, root, "start_lsn")) < 0 ||
		    (rc = parse_lsn_member(&m->stop_lsn, root, "stop_lsn")) < 0)
			goto out;
	}
	const JsonValue *dbs = json_get(root, "databases");
	for (size_t i = 0; dbs && i < dbs->count; i++) {
		const char *name = json_get_string(dbs->items[i], "name");
		if (name == NULL) {
			rc = err_set(ERR_CORRUPT, "manifest database entry %zu is invalid", i);
			goto out;
		}
		manifest_add_db(m, (uint32_t)json_get_uint(dbs->items[i], "oid", NULL), name,
		                json_get_bool(dbs->items[i], "included", false));
	}
	const JsonValue *tss = json_get(root, "tablespaces");
	for (size_t i = 0; tss && i < tss->count; i++) {
		const char *name = json_get_string(tss->items[i], "name");
		const char *loc = json_get_string(tss->items[i], "location");
		if (name == NULL || loc == NULL) {
			rc = err_set(ERR_CORRUPT, "manifest tablespace entry %zu is invalid", i);
			goto out;
		}
		manifest_add_tablespace(m, (uint32_t)json_get_uint(tss->items[i], "oid", NULL), name, loc);
	}
	if (fp.rc < 0) {
		rc = err_set(fp.rc, "%s", fp.message);
		goto out;
	}
	const JsonValue *wal = json_get(root, "wal");
	for (size_t i = 0; wal && i < wal->count; i++) {
		const JsonValue *o = wal->items[i];
		const char *name = json_get_string(o, "name");
		IoChecksum sum_wal;
		if (name == NULL || parse_sum(&sum_wal, o) < 0 ||
		    pg_wal_file_kind(name, NULL) == PG_WAL_FILE_UNKNOWN) {
			rc = err_set(ERR_CORRUPT, "manifest WAL entry %zu is invalid", i);
			goto out;
		}
		manifest_add_wal(m, name, json_get_uint(o, "size", NULL), json_get_uint(o, "stored_size", NULL), &sum_wal);
	}
	const JsonValue *removed = json_get(root, "removed");
	for (size_t i = 0; removed && i < removed->count; i++)
		if (removed->items[i]->type == JSON_STRING)
			strlist_add(&m->removed, removed->items[i]->string);
	*out = m;
	m = NULL;
	rc = 0;
out:
	json_free(root);
	manifest_free(m);
	return rc;
}

int
manifest_parse(Manifest **out, const char *text, size_t len)
{
	TextIn t = {.mem = text, .mem_len = len};
	int rc = parse_text(out, &t);

	text_in_free(&t);
	return rc;
}

char *
manifest_set_dir(const char *system_id, const char *tenant, const char *set_id)
{
	char *enc = str_path_encode(tenant);
	char *p = xasprintf("tenback/%s/%s/%s", system_id, enc, set_id);

	free(enc);
	return p;
}

char *
manifest_archive_path(const char *system_id, const char *wal_name)
{
	return xasprintf("tenback/%s/archive/%.8s/%s", system_id, wal_name, wal_name);
}

int
manifest_load(Manifest **out, Storage *s, const char *set_dir)
{
	return manifest_load_named(out, s, set_dir, "manifest");
}

int
manifest_load_named(Manifest **out, Storage *s, const char *set_dir, const char *name)
{
	char *path = path_join(set_dir, name);
	TextIn t = {0};
	int rc;

	*out = NULL;
	if ((rc = storage_read_open(s, &t.r, path)) < 0)
		goto out;
	/* parsed as it is read: the text of 100,000 files is never whole in memory */
	rc = parse_text(out, &t);
	if (rc < 0) {
		if (t.read_rc == 0)
			err_prefix("could not read manifest \"%s\"", path);
	} else {
		storage_cipher_note(s, t.r, set_dir); /* an encrypted manifest: its set's objects must be too */
	}
out:
	io_reader_free(t.r);
	text_in_free(&t);
	free(path);
	return rc;
}

int
manifest_store(const Manifest *m, Storage *s, const char *set_dir)
{
	return manifest_store_named(m, s, set_dir, "manifest", true);
}

int
manifest_store_named(const Manifest *m, Storage *s, const char *set_dir, const char *name, bool sync)
{
	char *path = path_join(set_dir, name);
	IoWriter *w = NULL;
	Buf text = BUF_INIT;
	TextOut t = {&text, io_sha256_new(), NULL, 0};
	int rc;

	if ((rc = storage_write_open(s, &w, path, &(StorageWriteOpts){.no_sync = !sync})) == 0) {
		t.sink = w;
		serialize(m, &t);
		if ((rc = t.rc) == 0)
			rc = io_writer_close(w);
	}
	if (rc < 0)
		err_prefix("could not write manifest \"%s\"", path);
	io_writer_free(w);
	io_sha256_free(t.h); /* NULL once serialized */
	buf_free(&text);
	free(path);
	return rc;
}
