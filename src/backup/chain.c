/*
 * chain.c - a backup set and the sets it builds on, and rebuilding a file
 * from them.
 *
 * Invariant: a file is rebuilt only from sets of its own chain, each block
 * from exactly the set its parts name, and every stored stream read is
 * verified to its end against its manifest entry before the restore counts.
 * Files stored in bundles are read at their own names: the chain answers
 * the storage's alias lookups from its manifests (chain_resolve).
 */
#include "backup/backup_int.h"

#include "common/buf.h"
#include "common/error.h"
#include "common/strutil.h"
#include "pg/page.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The bundle paths of a set, each once (a file names its bundle by number). */
static void
chain_push(Chain *c, Manifest *m, char *dir)
{
	uint32_t n_bundles = 0;
	char **bundles;

	for (size_t i = 0; i < m->n_files; i++)
		if (m->files[i].bundle >= n_bundles)
			n_bundles = m->files[i].bundle + 1;
	bundles = xcalloc(n_bundles ? n_bundles : 1, sizeof(*bundles));
	for (size_t i = 0; i < m->n_files; i++) {
		uint32_t no = m->files[i].bundle;
		if (no != 0 && bundles[no] == NULL)
			bundles[no] = storage_bundle_path(dir, no);
	}
	c->sets = xrealloc(c->sets, (c->n + 1) * sizeof(*c->sets));
	c->dirs = xrealloc(c->dirs, (c->n + 1) * sizeof(*c->dirs));
	c->bundles = xrealloc(c->bundles, (c->n + 1) * sizeof(*c->bundles));
	c->n_bundles = xrealloc(c->n_bundles, (c->n + 1) * sizeof(*c->n_bundles));
	c->sets[c->n] = m;
	c->dirs[c->n] = dir;
	c->bundles[c->n] = bundles;
	c->n_bundles[c->n] = n_bundles;
	c->n++;
	/* lookups come from every worker at once: the index exists before them */
	manifest_find_file(m, "");
}

/*
 * The storage's alias lookup (StorageAliasResolveFn): "<set dir>/data/<path>"
 * of a bundled file of a set of the chain is its range of its bundle.  One
 * binary search in the set's manifest instead of an alias entry per file
 * (at 100,000 files, the entries took 20 MiB per set).  Read-only: safe
 * from every thread.
 */
static bool
chain_resolve(const char *path, const char **out_bundle_path, uint64_t *out_offset, uint64_t *out_length,
              void *payload)
{
	const Chain *c = payload;

	for (size_t set_idx = 0; set_idx < c->n; set_idx++) {
		size_t dir_len = strlen(c->dirs[set_idx]);
		const ManifestFile *f;

		if (strncmp(path, c->dirs[set_idx], dir_len) != 0 || strncmp(path + dir_len, "/data/", 6) != 0)
			continue;
		f = manifest_find_file(c->sets[set_idx], path + dir_len + 6);
		if (f == NULL || f->bundle == 0 || f->bundle >= c->n_bundles[set_idx])
			return false;
		*out_bundle_path = c->bundles[set_idx][f->bundle];
		*out_offset = f->bundle_offset;
		*out_length = f->stored_size;
		return true;
	}
	return false;
}

int
chain_parent_load(Storage *s, const Manifest *child, Manifest **out, char **out_dir)
{
	char *dir = manifest_set_dir(child->system_id, child->tenant, child->parent);
	Manifest *pm = NULL;
	int rc;

	*out = NULL;
	*out_dir = NULL;
	if ((rc = manifest_load(&pm, s, dir)) < 0) {
		char cause[512];
		snprintf(cause, sizeof(cause), "%s", err_message());
		rc = err_set(ERR_CORRUPT, "backup set \"%s\" depends on set \"%s\", which cannot be read", child->set_id,
		             child->parent);
		err_detail("%s", cause);
		err_hint("The chain is broken: restore an older complete chain, and take a new full backup.");
		free(dir);
		return rc;
	}
	if (strcmp(pm->system_id, child->system_id) != 0 || strcmp(pm->set_id, child->parent) != 0) {
		rc = err_set(ERR_CORRUPT, "backup set \"%s\" names parent \"%s\", but the storage holds another set there",
		             child->set_id, child->parent);
		manifest_free(pm);
		free(dir);
		return rc;
	}
	*out = pm;
	*out_dir = dir;
	return 0;
}

static int
chain_load_sets(Chain *out, Storage *s, Manifest *head, const char *head_dir, bool parents)
{
	int rc = 0;

	memset(out, 0, sizeof(*out));
	out->storage = s;
	storage_alias_resolver_set(s, chain_resolve, out);
	chain_push(out, head, xstrdup(head_dir));
	while (parents && out->sets[out->n - 1]->parent != NULL) {
		Manifest *pm;
		char *dir;

		if (out->n > CHAIN_MAX_SETS)
			return err_set(ERR_CORRUPT, "backup set chain of \"%s\" does not end", head->set_id);
		if ((rc = chain_parent_load(s, out->sets[out->n - 1], &pm, &dir)) < 0)
			return rc;
		chain_push(out, pm, dir);
	}
	return 0;
}

int
chain_load(Chain *out, Storage *s, Manifest *head, const char *head_dir)
{
	return chain_load_sets(out, s, head, head_dir, true);
}

int
chain_load_one(Chain *out, Storage *s, Manifest *set, const char *set_dir)
{
	return chain_load_sets(out, s, set, set_dir, false);
}

const Manifest *
chain_find(const Chain *c, const char *set_id, const char **out_dir)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->sets[i]->set_id, set_id) == 0) {
			if (out_dir)
				*out_dir = c->dirs[i];
			return c->sets[i];
		}
	return NULL;
}

void
chain_free(Chain *c)
{
	/* sets[0] belongs to the caller who loaded it */
	for (size_t i = 1; i < c->n; i++)
		manifest_free(c->sets[i]);
	for (size_t i = 0; i < c->n; i++) {
		free(c->dirs[i]);
		for (uint32_t no = 0; no < c->n_bundles[i]; no++)
			free(c->bundles[i][no]);
		free(c->bundles[i]);
	}
	if (c->storage)
		storage_alias_resolver_set(c->storage, NULL, NULL);
	free(c->sets);
	free(c->dirs);
	free(c->bundles);
	free(c->n_bundles);
	memset(c, 0, sizeof(*c));
}

/* Stream one set's stored pages of a file; write those the part names. */
static int
apply_part(Storage *s, const char *set_dir, const ManifestFile *entry, const BlockRanges *want, int fd,
           const char *dest_path)
{
	char *object = xasprintf("%s/data/%s", set_dir, entry->path);
	IoReader *src = NULL, *r = NULL;
	IoContainerInfo info;
	uint8_t *page = xmalloc(PG_PAGE_SIZE);
	uint64_t want_raw;
	size_t range_idx = 0;
	uint32_t next_blk = 0;
	bool more = true;
	uint64_t written = 0;
	ssize_t n;
	int rc;

	want_raw = entry->kind == MF_INCR ? ranges_count(&entry->blocks) * PG_PAGE_SIZE : entry->size;
	if ((rc = storage_read_open(s, &src, object)) < 0)
		goto out;
	rc = io_container_reader_new(&r, src);
	src = NULL;
	if (rc < 0)
		goto out;
	if (entry->kind == MF_INCR) {
		more = entry->blocks.n > 0;
		next_blk = more ? entry->blocks.r[0].first : 0;
	}
	for (;;) {
		n = io_reader_read_full(r, page, PG_PAGE_SIZE);
		if (n < 0) {
			rc = (int)n;
			goto out;
		}
		if (n == 0)
			break;
		if (n != PG_PAGE_SIZE || !more) {
			rc = err_set(ERR_CORRUPT, "stored pages do not match the manifest's block list");
			goto out;
		}
		if (ranges_contains(want, next_blk)) {
			ssize_t w = pwrite(fd, page, PG_PAGE_SIZE, (off_t)next_blk * PG_PAGE_SIZE);
			if (w != PG_PAGE_SIZE) {
				rc = err_errno(w < 0 ? errno : ENOSPC, "could not write file \"%s\"", dest_path);
				goto out;
			}
			written++;
		}
		/* the next block this stream holds */
		if (entry->kind == MF_INCR) {
			if (next_blk == entry->blocks.r[range_idx].last) {
				range_idx++;
				more = range_idx < entry->blocks.n;
				if (more)
					next_blk = entry->blocks.r[range_idx].first;
			} else {
				next_blk++;
			}
		} else {
			next_blk++;
		}
	}
	io_container_reader_info(r, &info);
	if (info.raw_size != want_raw || !io_checksum_equal(&info.sum, &entry->sum))
		rc = err_set(ERR_CORRUPT, "content does not match the manifest");
	else if (written != ranges_count(want))
		rc = err_set(ERR_CORRUPT, "the manifest's parts name pages set \"%s\" does not hold", set_dir);
out:
	if (rc < 0 && err_code() == ERR_CORRUPT)
		err_prefix("stored file \"%s\" is damaged", object);
	io_reader_free(r);
	io_reader_free(src);
	free(page);
	free(object);
	return rc;
}

static int
cmp_range(const void *a, const void *b)
{
	const BlockRange *x = a, *y = b;

	return x->first < y->first ? -1 : x->first > y->first;
}

int
files_restore_incr(Storage *s, const Chain *c, const ManifestFile *f, int fd, const char *dest_path, Pool *p,
                   IoFrameCodec *const *codecs)
{
	ssize_t whole_part = -1;
	uint64_t nblocks = f->size / PG_PAGE_SIZE;
	uint64_t covered = 0;
	BlockRange *all = NULL;
	size_t n_all = 0;
	int rc;

	for (size_t i = 0; i < f->n_parts; i++) {
		const BlockRanges *b = &f->parts[i].blocks;
		if (b->n && b->r[b->n - 1].last >= nblocks)
			return err_set(ERR_CORRUPT, "manifest entry \"%s\" names blocks beyond its length", f->path);
		covered += ranges_count(b);
		if (b->n == 0)
			continue; /* a part with no blocks: nothing to copy (and b->r may be NULL) */
		all = xrealloc(all, (n_all + b->n + 1) * sizeof(*all));
		memcpy(all + n_all, b->r, b->n * sizeof(*all));
		n_all += b->n;
	}
	/* The parts must tile the file: no block twice, none missing. */
	if (n_all > 1)
		qsort(all, n_all, sizeof(*all), cmp_range);
	for (size_t i = 1; i < n_all; i++)
		if (all[i].first <= all[i - 1].last) {
			free(all);
			return err_set(ERR_CORRUPT, "manifest entry \"%s\" names a block in two parts", f->path);
		}
	free(all);
	if (covered != nblocks)
		return err_set(ERR_CORRUPT, "manifest entry \"%s\" does not account for every block", f->path);
	if (ftruncate(fd, (off_t)f->size) < 0)
		return err_errno(errno, "could not extend file \"%s\"", dest_path);
	/* pass 0: a large whole file the chain starts from, laid down whole on
	 * every worker; pass 1: the other parts, over the blocks they own */
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < f->n_parts; i++) {
			const char *dir;
			const Manifest *m = chain_find(c, f->parts[i].set_id, &dir);
			const ManifestFile *entry;

			if (m == NULL)
				return err_set(ERR_CORRUPT, "file \"%s\" needs set \"%s\", which is not in its chain", f->path,
				               f->parts[i].set_id);
			entry = manifest_find_file((Manifest *)m, f->path);
			if (entry == NULL || (entry->kind != MF_FILE && entry->kind != MF_INCR))
				return err_set(ERR_CORRUPT, "set \"%s\" does not hold file \"%s\" its child refers to",
				               f->parts[i].set_id, f->path);
			if (entry->kind == MF_INCR && entry->blocks.n == 0)
				return err_set(ERR_CORRUPT, "set \"%s\" stores no page of \"%s\" its child refers to",
				               f->parts[i].set_id, f->path);
			if (pass == 0) {
				if (p && whole_part < 0 && entry->kind == MF_FILE && entry->size > COPY_CHUNK_BYTES) {
					char *object = xasprintf("%s/data/%s", dir, entry->path);

					whole_part = (ssize_t)i;
					rc = files_restore_framed(p, codecs, s, object, fd, dest_path, entry->size, &entry->sum);
					if (rc < 0 && err_code() == ERR_CORRUPT)
						err_prefix("stored file \"%s\" is damaged", object);
					free(object);
					if (rc < 0)
						return rc;
				}
				continue;
			}
			if ((ssize_t)i != whole_part && (rc = apply_part(s, dir, entry, &f->parts[i].blocks, fd, dest_path)) < 0)
				return rc;
		}
	/* the whole file may have been longer than the file is now */
	if (whole_part >= 0 && ftruncate(fd, (off_t)f->size) < 0)
		return err_errno(errno, "could not truncate file \"%s\"", dest_path);
	return 0;
}
