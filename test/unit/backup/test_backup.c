/*
 * test_backup.c - unit tests for src/backup: the manifest (serialization,
 * self-checking parse, set and archive paths, store and load through a
 * storage) and the relation file name parser.
 *
 * Invariants under test: a manifest read back equals the one written, field
 * for field; a manifest that is damaged in any way (a flipped bit anywhere,
 * a cut, a missing or wrong checksum) is never accepted; a set lives at
 * tenback/<sysid>/<encoded tenant>/<set id>.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "backup/backup_int.h"
#include "backup/manifest.h"
#include "common/buf.h"
#include "common/error.h"
#include "common/strutil.h"
#include "io/io.h"
#include "storage/storage.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SHA_A "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
#define SHA_B "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SHA_C "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
#define CRC_D "e3069283" /* a CRC-32C: 8 hex digits */

/* The binary SHA-256 of a hex literal. */
static void
set_sha(IoChecksum *out, const char *hex)
{
	IoChecksumKind k = strlen(hex) == 8 ? IO_CHECKSUM_CRC32C : IO_CHECKSUM_SHA256;

	if (io_checksum_unhex(out, k, hex) < 0)
		fail_msg("bad hex \"%s\"", hex);
}

/* The same, for one call's argument (overwritten by the next). */
static const IoChecksum *
sha_bin(const char *hex)
{
	static IoChecksum sum;

	set_sha(&sum, hex);
	return &sum;
}

static const char backup_label[] =
	"START WAL LOCATION: 16/B374D848 (file 0000000100000016000000B3)\n"
	"CHECKPOINT LOCATION: 16/B374D880\n"
	"BACKUP METHOD: streamed\n"
	"BACKUP FROM: primary\n"
	"START TIME: 2026-11-26 15:08:50 UTC\n"
	"LABEL: tenback \"shop\" \\ 20261126-150850F\ttab\n"
	"START TIMELINE: 1\n";

/* A manifest with something of everything. */
static Manifest *
sample_manifest(void)
{
	Manifest *m = manifest_new();
	ManifestFile *f;

	m->set_id = xstrdup("20261126-150850F");
	m->cluster = xstrdup("main");
	m->tenant = xstrdup("*");
	m->type = xstrdup("full");
	m->method = xstrdup("physical");
	m->tenback_version = xstrdup("0.1.0");
	m->pg_version = 170002;
	m->system_id = xstrdup("7441234567890123456");
	m->timeline = 3;
	m->start_lsn = 0x16B374D848ULL;
	m->stop_lsn = UINT64_MAX;
	m->start_time = xstrdup("2026-11-26 15:08:50+00");
	m->stop_time = xstrdup("2026-11-26 15:09:12+00");
	m->compress = xstrdup("zstd");
	m->data_checksums = 1;
	m->wal_seg_size = 16 * 1024 * 1024;
	m->superuser = xstrdup("postgres \"the\" admin");
	m->backup_label = xstrdup(backup_label);
	m->size_bytes = UINT64_MAX - 1;
	m->stored_bytes = 123456789012ULL;

	manifest_add_db(m, 1, "template1", true);
	manifest_add_db(m, 5, "postgres", false);
	manifest_add_db(m, 16384, "shop \"eu\"/\\x", true);
	/* the checksum member's name as a value before it */
	manifest_add_db(m, 16385, "manifest_checksum", false);
	manifest_add_tablespace(m, 16400, "fast", "/srv/ts/fast \"ssd\"");
	manifest_add_tablespace(m, 16401, "slow\ttab", "/srv/ts/slow");

	f = manifest_add_file(m, "base", MF_DIR);
	f->mode = 0700;
	f = manifest_add_file(m, "base/16384/16385", MF_FILE);
	f->mode = 0600;
	f->size = 8192 * 131072ULL;
	f->stored_size = 12345;
	f->mtime = 1795705730;
	set_sha(&f->sum, SHA_A);
	f = manifest_add_file(m, "base/16384/16385_vm", MF_FILE);
	f->mode = 0640;
	f->size = 8192;
	f->stored_size = 52;
	f->mtime = -1; /* before 1970: still round-trips */
	f->page_errors = 2;
	set_sha(&f->sum, CRC_D);
	f = manifest_add_file(m, "base/5/2619", MF_SPARSE);
	f->mode = 0600;
	f->size = 40960;
	f->mtime = 1795705000;
	f = manifest_add_file(m, "pg_tblspc/16400", MF_LINK);
	f->mode = 0777;
	f->link_target = xstrdup("/srv/ts/fast \"ssd\"");
	f = manifest_add_file(m, "base/16384/gone", MF_FILE);
	f->vanished = true;
	set_sha(&f->sum, SHA_C);
	f = manifest_add_file(m, "odd name \"q\" \\ \xc3\xa9\n", MF_FILE);
	f->mode = 0600;
	f->size = 0;
	f->stored_size = 52;
	set_sha(&f->sum, SHA_B);
	f = manifest_add_file(m, "global/pg_control", MF_FILE);
	f->mode = 0600;
	f->size = 8192;
	f->stored_size = 300;
	f->mtime = 1795705731;
	set_sha(&f->sum, SHA_C);

	manifest_add_wal(m, "0000000300000016000000B3", 16 * 1024 * 1024, 1000, sha_bin(SHA_A));
	manifest_add_wal(m, "0000000300000016000000B4", 16 * 1024 * 1024, 2000, sha_bin(SHA_C));
	manifest_add_wal(m, "0000000300000016000000B5", 16 * 1024 * 1024, 3000, sha_bin(CRC_D));
	return m;
}

static void
assert_str_eq_or_null(const char *got, const char *want)
{
	if (want == NULL)
		assert_null(got);
	else
		assert_string_equal(got, want);
}

/* got (parsed) equals want (built) minus the vanished files. */
static void
assert_manifest_equal(const Manifest *got, const Manifest *want)
{
	size_t got_idx = 0;

	assert_int_equal(got->format, want->format);
	assert_string_equal(got->set_id, want->set_id);
	assert_str_eq_or_null(got->cluster, want->cluster);
	assert_string_equal(got->tenant, want->tenant);
	assert_str_eq_or_null(got->type, want->type);
	assert_str_eq_or_null(got->method, want->method);
	assert_str_eq_or_null(got->tenback_version, want->tenback_version);
	assert_int_equal(got->pg_version, want->pg_version);
	assert_string_equal(got->system_id, want->system_id);
	assert_int_equal(got->timeline, want->timeline);
	assert_true(got->start_lsn == want->start_lsn);
	assert_true(got->stop_lsn == want->stop_lsn);
	assert_str_eq_or_null(got->start_time, want->start_time);
	assert_str_eq_or_null(got->stop_time, want->stop_time);
	assert_str_eq_or_null(got->compress, want->compress);
	assert_int_equal(got->data_checksums, want->data_checksums);
	assert_int_equal(got->wal_seg_size, want->wal_seg_size);
	assert_string_equal(got->superuser, want->superuser);
	assert_string_equal(got->backup_label, want->backup_label);
	assert_true(got->size_bytes == want->size_bytes);
	assert_true(got->stored_bytes == want->stored_bytes);

	assert_int_equal(got->n_dbs, want->n_dbs);
	for (size_t db_idx = 0; db_idx < want->n_dbs; db_idx++) {
		assert_int_equal(got->dbs[db_idx].oid, want->dbs[db_idx].oid);
		assert_string_equal(got->dbs[db_idx].name, want->dbs[db_idx].name);
		assert_int_equal(got->dbs[db_idx].included, want->dbs[db_idx].included);
	}
	assert_int_equal(got->n_tablespaces, want->n_tablespaces);
	for (size_t ts_idx = 0; ts_idx < want->n_tablespaces; ts_idx++) {
		assert_int_equal(got->tablespaces[ts_idx].oid, want->tablespaces[ts_idx].oid);
		assert_string_equal(got->tablespaces[ts_idx].name, want->tablespaces[ts_idx].name);
		assert_string_equal(got->tablespaces[ts_idx].location, want->tablespaces[ts_idx].location);
	}

	for (size_t want_idx = 0; want_idx < want->n_files; want_idx++) {
		const ManifestFile *w = &want->files[want_idx];
		const ManifestFile *g;

		if (w->vanished)
			continue;
		assert_true(got_idx < got->n_files);
		g = &got->files[got_idx++];
		assert_string_equal(g->path, w->path);
		assert_int_equal(g->kind, w->kind);
		assert_int_equal(g->mode, w->mode);
		assert_false(g->vanished);
		if (w->kind == MF_FILE || w->kind == MF_SPARSE) {
			assert_true(g->size == w->size);
			assert_true(g->mtime == w->mtime);
		}
		if (w->kind == MF_FILE) {
			assert_true(g->stored_size == w->stored_size);
			assert_true(io_checksum_equal(&g->sum, &w->sum));
			assert_int_equal(g->page_errors, w->page_errors);
		}
		if (w->kind == MF_LINK)
			assert_string_equal(g->link_target, w->link_target);
		else
			assert_null(g->link_target);
	}
	assert_int_equal(got->n_files, got_idx);

	assert_int_equal(got->n_wal, want->n_wal);
	for (size_t wal_idx = 0; wal_idx < want->n_wal; wal_idx++) {
		assert_string_equal(got->wal[wal_idx].name, want->wal[wal_idx].name);
		assert_true(got->wal[wal_idx].size == want->wal[wal_idx].size);
		assert_true(got->wal[wal_idx].stored_size == want->wal[wal_idx].stored_size);
		assert_true(io_checksum_equal(&got->wal[wal_idx].sum, &want->wal[wal_idx].sum));
	}
}

/* Parse must fail with ERR_CORRUPT and leave *out NULL. */
static void
assert_corrupt(const char *text, size_t len, const char *what)
{
	Manifest *m = (Manifest *)(uintptr_t)1;
	int rc = manifest_parse(&m, text, len);

	if (rc != ERR_CORRUPT) {
		if (rc == 0)
			manifest_free(m);
		fail_msg("%s: manifest_parse returned %d (%s), want ERR_CORRUPT", what, rc, rc ? err_message() : "ok");
	}
	assert_null(m);
}

/* Like assert_corrupt, and the thread's error record says so too. */
static void
assert_corrupt_record(const char *text, size_t len, const char *what)
{
	assert_corrupt(text, len, what);
	if (err_code() != ERR_CORRUPT)
		fail_msg("%s: returned ERR_CORRUPT but err_code() is %s (\"%s\")", what, err_code_name(err_code()),
		         err_message());
}

/* ---- tests ---- */

static void
test_manifest_round_trip(void **state)
{
	Manifest *m = sample_manifest();
	Manifest *back = NULL;
	Buf text = BUF_INIT;
	Buf again = BUF_INIT;

	(void)state;
	manifest_to_json(m, &text);
	if (manifest_parse(&back, text.data, text.len) != 0)
		fail_msg("manifest_parse: %s", err_message());
	assert_manifest_equal(back, m);

	/* the text ends with the checksum member */
	assert_non_null(strstr(text.data, "\"manifest_checksum\": \""));
	assert_true(str_ends_with(text.data, "\"\n}\n"));
	/* serializing what was parsed gives the same bytes */
	manifest_to_json(back, &again);
	assert_int_equal(again.len, text.len);
	assert_memory_equal(again.data, text.data, text.len);

	assert_true(manifest_db_included(back, 16384));
	assert_false(manifest_db_included(back, 5));
	assert_false(manifest_db_included(back, 99999));

	manifest_free(back);
	manifest_free(m);
	manifest_free(NULL);
	buf_free(&text);
	buf_free(&again);
}

static void
test_manifest_empty_lists(void **state)
{
	Manifest *m = manifest_new();
	Manifest *back = NULL;
	Buf text = BUF_INIT;

	(void)state;
	m->set_id = xstrdup("20261126-000000F");
	m->tenant = xstrdup("shop");
	m->system_id = xstrdup("1");
	m->superuser = xstrdup("postgres");
	m->backup_label = xstrdup("");
	m->wal_seg_size = 1024 * 1024;
	manifest_to_json(m, &text);
	assert_int_equal(manifest_parse(&back, text.data, text.len), 0);
	assert_manifest_equal(back, m);
	assert_int_equal(back->n_files, 0);
	assert_int_equal(back->n_wal, 0);
	assert_int_equal(back->n_dbs, 0);
	manifest_free(back);
	manifest_free(m);
	buf_free(&text);
}

static void
test_manifest_vanished_not_serialized(void **state)
{
	Manifest *m = sample_manifest();
	Manifest *back = NULL;
	Buf text = BUF_INIT;

	(void)state;
	manifest_to_json(m, &text);
	assert_null(strstr(text.data, "base/16384/gone"));
	assert_null(strstr(text.data, "vanished"));
	assert_int_equal(manifest_parse(&back, text.data, text.len), 0);
	assert_int_equal(back->n_files, m->n_files - 1);
	for (size_t file_idx = 0; file_idx < back->n_files; file_idx++)
		assert_string_not_equal(back->files[file_idx].path, "base/16384/gone");
	manifest_free(back);
	manifest_free(m);
	buf_free(&text);
}

static void
test_manifest_flipped_bits(void **state)
{
	Manifest *m = sample_manifest();
	Buf text = BUF_INIT;
	char *copy;
	char what[64];

	(void)state;
	manifest_to_json(m, &text);
	copy = xmalloc(text.len);
	/* every bit of every byte, the checksum member included */
	for (size_t byte_idx = 0; byte_idx < text.len; byte_idx++) {
		for (int bit = 0; bit < 8; bit++) {
			memcpy(copy, text.data, text.len);
			copy[byte_idx] ^= (char)(1 << bit);
			snprintf(what, sizeof(what), "byte %zu bit %d", byte_idx, bit);
			assert_corrupt(copy, text.len, what);
		}
	}
	free(copy);
	manifest_free(m);
	buf_free(&text);
}

static void
test_manifest_truncated(void **state)
{
	Manifest *m = sample_manifest();
	Buf text = BUF_INIT;
	char what[64];
	size_t complete;

	(void)state;
	manifest_to_json(m, &text);
	/* cutting only the trailing newline leaves a complete document */
	complete = text.len;
	while (complete > 0 && text.data[complete - 1] == '\n')
		complete--;
	for (size_t cut = 0; cut < complete; cut++) {
		char *copy = xmalloc(cut ? cut : 1);
		memcpy(copy, text.data, cut);
		snprintf(what, sizeof(what), "cut to %zu of %zu bytes", cut, text.len);
		assert_corrupt(copy, cut, what);
		free(copy);
	}
	manifest_free(m);
	buf_free(&text);
}

static void
test_manifest_checksum_missing_or_wrong(void **state)
{
	Manifest *m = sample_manifest();
	Buf text = BUF_INIT;
	Buf edit = BUF_INIT;
	const char *key;

	(void)state;
	/* without a value spelled like the member's name (see the round trip) */
	assert_string_equal(m->dbs[3].name, "manifest_checksum");
	free(m->dbs[3].name);
	m->dbs[3].name = xstrdup("other");
	manifest_to_json(m, &text);
	key = strstr(text.data, "\"manifest_checksum\": \"");
	assert_non_null(key);

	/* no checksum member at all, otherwise valid JSON */
	buf_append(&edit, text.data, (size_t)(key - text.data));
	assert_true(str_ends_with(edit.data, ",\n"));
	edit.len -= 2;
	buf_puts(&edit, "\n}\n");
	assert_corrupt_record(edit.data, edit.len, "no checksum");
	assert_string_equal(err_message(), "manifest has no checksum");

	/* a checksum of other content */
	buf_reset(&edit);
	buf_append(&edit, text.data, (size_t)(key - text.data));
	buf_puts(&edit, "\"manifest_checksum\": \"" SHA_A "\"\n}\n");
	assert_corrupt_record(edit.data, edit.len, "wrong checksum");
	assert_string_equal(err_message(), "manifest checksum mismatch");

	/* a checksum that is not a string */
	buf_reset(&edit);
	buf_append(&edit, text.data, (size_t)(key - text.data));
	buf_puts(&edit, "\"manifest_checksum\": 12\n}\n");
	assert_corrupt_record(edit.data, edit.len, "numeric checksum");

	/* an empty text, and a text that is not JSON */
	assert_corrupt_record("", 0, "empty");
	assert_corrupt_record("\"manifest_checksum\"", 19, "bare key");

	/* a member edited before the checksum */
	buf_reset(&edit);
	buf_append(&edit, text.data, text.len);
	char *tl = strstr(edit.data, "\"timeline\": 3");
	assert_non_null(tl);
	tl[12] = '4';
	assert_corrupt_record(edit.data, edit.len, "edited timeline");
	assert_string_equal(err_message(), "manifest checksum mismatch");

	manifest_free(m);
	buf_free(&text);
	buf_free(&edit);
}

static void
test_manifest_bad_content_with_valid_checksum(void **state)
{
	Manifest *m = sample_manifest();
	Manifest *back = (Manifest *)(uintptr_t)1;
	Buf text = BUF_INIT;

	(void)state;
	/* a file entry without its content checksum (or with one that is not hex), checksummed again */
	for (int bad_idx = 0; bad_idx < 2; bad_idx++) {
		const char *bad = bad_idx == 0 ? "\"sha256\":\"\"" : "\"sha256\":\"" SHA_A "x\"";
		char *entry, *sha, *key;
		uint8_t sum[IO_SHA256_LEN];
		char hex[2 * IO_SHA256_LEN + 1];
		IoSha256 *h = io_sha256_new();
		Buf edit = BUF_INIT;

		buf_reset(&text);
		manifest_to_json(m, &text);
		entry = strstr(text.data, "\"path\":\"base/16384/16385\"");
		assert_non_null(entry);
		sha = strstr(entry, "\"sha256\":\"");
		assert_non_null(sha);
		buf_append(&edit, text.data, (size_t)(sha - text.data));
		buf_puts(&edit, bad);
		buf_puts(&edit, sha + strlen("\"sha256\":\"") + 2 * IO_SHA256_LEN + 1);
		/* the last one: a database is named after it too */
		key = NULL;
		for (char *k = edit.data; (k = strstr(k, "\"manifest_checksum\"")) != NULL; k++)
			key = k;
		assert_non_null(key);
		edit.len = (size_t)(key - edit.data);
		io_sha256_update(h, edit.data, edit.len);
		io_sha256_final(h, sum);
		io_sha256_free(h);
		io_hex(hex, sum, sizeof(sum));
		buf_printf(&edit, "\"manifest_checksum\": \"%s\"\n}\n", hex);
		assert_corrupt_record(edit.data, edit.len, "file without sha256");
		assert_string_equal(err_message(), "manifest entry \"base/16384/16385\" has no checksum");
		buf_free(&edit);
	}

	/* a required field missing */
	free(m->superuser);
	m->superuser = NULL;
	buf_reset(&text);
	manifest_to_json(m, &text);
	assert_corrupt_record(text.data, text.len, "no superuser");
	m->superuser = xstrdup("postgres");

	/* a link without its target */
	free(m->files[4].link_target);
	m->files[4].link_target = NULL;
	buf_reset(&text);
	manifest_to_json(m, &text);
	assert_corrupt_record(text.data, text.len, "link without target");
	m->files[4].link_target = xstrdup("/x");

	/* a future format: unsupported, not corrupt */
	m->format = MANIFEST_FORMAT + 1;
	buf_reset(&text);
	manifest_to_json(m, &text);
	assert_int_equal(manifest_parse(&back, text.data, text.len), ERR_UNSUPPORTED);
	assert_null(back);
	assert_string_equal(err_message(), "manifest format 3 is not supported");
	/* format 1, what sets older than CRC-32C checksums have, is read */
	m->format = MANIFEST_FORMAT_OLDEST;
	buf_reset(&text);
	manifest_to_json(m, &text);
	assert_int_equal(manifest_parse(&back, text.data, text.len), 0);
	assert_int_equal(back->format, 1);
	manifest_free(back);
	back = NULL;
	m->format = 0;
	buf_reset(&text);
	manifest_to_json(m, &text);
	assert_int_equal(manifest_parse(&back, text.data, text.len), ERR_UNSUPPORTED);
	assert_null(back);

	manifest_free(m);
	buf_free(&text);
}

/* A manifest that is not valid JSON: the error record agrees with the
 * returned code, so a caller reading err_code() (the API's status mapping)
 * sees "corrupt", not "invalid". */
static void
test_manifest_invalid_json_error_record(void **state)
{
	Manifest *m = sample_manifest();
	Manifest *back = NULL;
	Buf text = BUF_INIT;
	int rc_bad_start, code_bad_start, rc_cut, code_cut;
	char message[256];

	(void)state;
	manifest_to_json(m, &text);
	text.data[0] = '[';
	rc_bad_start = manifest_parse(&back, text.data, text.len);
	code_bad_start = err_code();
	snprintf(message, sizeof(message), "%s", err_message());
	text.data[0] = '{';
	rc_cut = manifest_parse(&back, text.data, text.len - 3);
	code_cut = err_code();
	/* free before asserting: a failure leaks nothing under ASan */
	manifest_free(m);
	buf_free(&text);

	assert_null(back);
	assert_int_equal(rc_bad_start, ERR_CORRUPT);
	assert_int_equal(rc_cut, ERR_CORRUPT);
	assert_true(str_starts_with(message, "manifest is not valid JSON: "));
	if (code_bad_start != ERR_CORRUPT || code_cut != ERR_CORRUPT)
		fail_msg("manifest_parse returned ERR_CORRUPT but err_code() is %s (\"%s\")",
		         err_code_name(code_bad_start), message);
}

static void
test_manifest_paths(void **state)
{
	char *p;

	(void)state;
	p = manifest_set_dir("123", "*", "20261126-000000F");
	assert_string_equal(p, "tenback/123/%2A/20261126-000000F");
	free(p);
	p = manifest_set_dir("7441234567890123456", "shop", "20261126-150850F");
	assert_string_equal(p, "tenback/7441234567890123456/shop/20261126-150850F");
	free(p);
	/* a tenant name never adds or climbs a directory level */
	p = manifest_set_dir("1", "a/b", "S");
	assert_string_equal(p, "tenback/1/a%2Fb/S");
	free(p);
	p = manifest_set_dir("1", "..", "S");
	assert_string_not_equal(p, "tenback/1/../S");
	assert_true(str_starts_with(p, "tenback/1/"));
	assert_null(strstr(p, "/../"));
	free(p);

	p = manifest_archive_path("123", "000000010000000000000002");
	assert_string_equal(p, "tenback/123/archive/00000001/000000010000000000000002");
	free(p);
	p = manifest_archive_path("123", "00000002.history");
	assert_string_equal(p, "tenback/123/archive/00000002/00000002.history");
	free(p);
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
collect_cb(const char *name, const StorageInfo *info, void *payload)
{
	(void)info;
	strlist_add(payload, name);
	return 0;
}

static void
test_manifest_store_load(void **state)
{
	char tmpl[] = "/tmp/tenback-test-backup-XXXXXX";
	Manifest *m = sample_manifest();
	Manifest *back = NULL;
	Storage *s = NULL;
	StrList names = {0};
	IoWriter *w = NULL;
	Buf text = BUF_INIT;
	char *uri;
	char *set_dir;

	(void)state;
	assert_non_null(mkdtemp(tmpl));
	uri = xasprintf("file://%s", tmpl);
	assert_int_equal(storage_open(&s, uri), 0);
	set_dir = manifest_set_dir(m->system_id, m->tenant, m->set_id);

	/* nothing stored yet */
	assert_int_equal(manifest_load(&back, s, set_dir), ERR_NOT_FOUND);
	assert_null(back);

	if (manifest_store(m, s, set_dir) != 0)
		fail_msg("manifest_store: %s", err_message());
	assert_int_equal(storage_list(s, set_dir, collect_cb, &names), 0);
	assert_int_equal(names.count, 1);
	assert_string_equal(names.items[0], "manifest");
	strlist_free(&names);

	if (manifest_load(&back, s, set_dir) != 0)
		fail_msg("manifest_load: %s", err_message());
	assert_manifest_equal(back, m);
	manifest_free(back);
	back = NULL;

	/* a damaged stored manifest: ERR_CORRUPT naming the object */
	manifest_to_json(m, &text);
	text.data[text.len / 2] ^= 0x04;
	char *path = path_join(set_dir, "manifest");
	assert_int_equal(storage_write_open(s, &w, path, NULL), 0);
	assert_int_equal(io_writer_write(w, text.data, text.len), 0);
	assert_int_equal(io_writer_close(w), 0);
	io_writer_free(w);
	assert_int_equal(manifest_load(&back, s, set_dir), ERR_CORRUPT);
	assert_null(back);
	assert_non_null(strstr(err_message(), "could not read manifest"));
	assert_non_null(strstr(err_message(), path));

	/* an empty stored manifest */
	assert_int_equal(storage_write_open(s, &w, path, NULL), 0);
	assert_int_equal(io_writer_close(w), 0);
	io_writer_free(w);
	assert_int_equal(manifest_load(&back, s, set_dir), ERR_CORRUPT);
	assert_null(back);

	free(path);
	buf_free(&text);
	free(set_dir);
	storage_free(s);
	free(uri);
	manifest_free(m);
	nftw(tmpl, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void
check_rel(const char *name, uint32_t want_rel, int want_fork, uint32_t want_seg)
{
	uint32_t rel = 0, seg = 0;
	int fork = -1;

	if (!files_relation_name(name, &rel, &fork, &seg))
		fail_msg("files_relation_name rejected \"%s\"", name);
	assert_int_equal(rel, want_rel);
	assert_int_equal(fork, want_fork);
	assert_int_equal(seg, want_seg);
	/* outputs are optional */
	assert_true(files_relation_name(name, NULL, NULL, NULL));
}

static void
check_not_rel(const char *name)
{
	uint32_t rel = 77, seg = 77;
	int fork = 77;

	if (files_relation_name(name, &rel, &fork, &seg))
		fail_msg("files_relation_name accepted \"%s\"", name);
	assert_int_equal(rel, 77);
	assert_int_equal(fork, 77);
	assert_int_equal(seg, 77);
}

static void
test_files_relation_name(void **state)
{
	(void)state;
	check_rel("16384", 16384, FORK_MAIN, 0);
	check_rel("16384_fsm", 16384, FORK_FSM, 0);
	check_rel("16384_vm", 16384, FORK_VM, 0);
	check_rel("16384_vm.3", 16384, FORK_VM, 3);
	check_rel("16384_init", 16384, FORK_INIT, 0);
	check_rel("16384_init.1", 16384, FORK_INIT, 1);
	check_rel("16384.2", 16384, FORK_MAIN, 2);
	check_rel("1.12", 1, FORK_MAIN, 12);
	check_rel("4294967295", 4294967295u, FORK_MAIN, 0);

	check_not_rel("pg_filenode.map");
	check_not_rel("16384_foo");
	check_not_rel("16384_fsmx");
	check_not_rel("16384_");
	check_not_rel("16384.");
	check_not_rel("16384.x");
	check_not_rel("16384.2.3");
	check_not_rel("16384_vm_fsm");
	check_not_rel("16384 ");
	check_not_rel("t3_16384");
	check_not_rel("PG_VERSION");
	check_not_rel("pg_internal.init");
	check_not_rel("");
	check_not_rel("_vm");
	check_not_rel(".1");
	check_not_rel("-1");
	check_not_rel("4294967296");
	check_not_rel("99999999999999999999");
}

static void
put_file(const char *dir, const char *name, size_t size)
{
	char *path = path_join(dir, name);
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	for (size_t i = 0; i < size; i++)
		fputc('x', f);
	assert_int_equal(fclose(f), 0);
	free(path);
}

static const ManifestFile *
scanned(Manifest *m, const char *path)
{
	for (size_t i = 0; i < m->n_files; i++)
		if (strcmp(m->files[i].path, path) == 0)
			return &m->files[i];
	return NULL;
}

/*
 * The walk of a data directory: a database's files with their sizes, sparse
 * outside the tenant; an unlogged relation by its init fork only; temporary
 * files, postmaster.pid and pg_internal.init left out; a directory inside a
 * database's is listed; pg_wal's contents are not.
 */
static void
test_files_scan(void **state)
{
	char tmpl[] = "/tmp/tenback-test-scan-XXXXXX";
	char *d;

	(void)state;
	assert_non_null(mkdtemp(tmpl));
	for (int pass = 0; pass < 2; pass++) {
		const char *dirs[] = {"base", "base/1", "base/5", "base/5/pgsql_tmp", "base/5/sub", "global", "pg_wal", NULL};
		Manifest *m = manifest_new();
		ScanOpts o = {tmpl, pass == 0};
		const ManifestFile *f;

		for (int i = 0; pass == 0 && dirs[i]; i++) {
			d = path_join(tmpl, dirs[i]);
			assert_int_equal(mkdir(d, 0700), 0);
			free(d);
		}
		if (pass == 0) {
			d = path_join(tmpl, "base/5");
			put_file(d, "1259", 16384);
			put_file(d, "1259_fsm", 24576);
			put_file(d, "1259.1", 8192);
			put_file(d, "7000", 8192);      /* unlogged: 7000_init exists */
			put_file(d, "7000_fsm", 8192);
			put_file(d, "7000_init", 0);
			put_file(d, "t3_7001", 8192);   /* a temporary relation */
			put_file(d, "pg_internal.init", 100);
			put_file(d, "PG_VERSION", 3);
			free(d);
			d = path_join(tmpl, "base/1");
			put_file(d, "1259", 8192);
			/* a directory large enough to be statted by two threads, in two blocks */
			for (int i = 0; i < 1500; i++) {
				char name[32];

				snprintf(name, sizeof(name), "%d", 20000 + i);
				put_file(d, name, (size_t)(i % 50));
			}
			put_file(d, "20100_init", 0); /* 20100 is unlogged */
			/* temporary relations: listed after the numbers, in the second block */
			put_file(d, "t5_20599", 10);
			put_file(d, "t7_21450", 10);
			put_file(d, "pg_internal.init", 10);
			free(d);
			d = path_join(tmpl, "pg_wal");
			put_file(d, "000000010000000000000001", 64);
			free(d);
			d = path_join(tmpl, "global");
			put_file(d, "pg_control", 8192);
			free(d);
			put_file(tmpl, "postmaster.pid", 10);
			put_file(tmpl, "PG_VERSION", 3);
		}
		/* pass 1: only database 1 is the tenant's */
		if (pass == 1) {
			manifest_add_db(m, 1, "one", true);
			manifest_add_db(m, 5, "five", false);
		}
		if (files_scan(m, &o) != 0)
			fail_msg("files_scan: %s", err_message());
		assert_non_null(f = scanned(m, "base/5/1259"));
		assert_int_equal(f->kind, pass == 0 ? MF_FILE : MF_SPARSE);
		assert_int_equal(f->size, 16384);
		assert_non_null(f = scanned(m, "base/5/1259_fsm"));
		assert_int_equal(f->size, 24576);
		assert_non_null(f = scanned(m, "base/5/1259.1"));
		assert_int_equal(f->size, 8192);
		assert_non_null(f = scanned(m, "base/5/7000_init"));
		assert_null(scanned(m, "base/5/7000"));
		assert_null(scanned(m, "base/5/7000_fsm"));
		assert_null(scanned(m, "base/5/t3_7001"));
		assert_null(scanned(m, "base/5/pg_internal.init"));
		assert_null(scanned(m, "base/5/pgsql_tmp"));
		assert_non_null(f = scanned(m, "base/5/sub"));
		assert_int_equal(f->kind, MF_DIR);
		assert_non_null(f = scanned(m, "base/5/PG_VERSION"));
		assert_int_equal(f->kind, MF_FILE);
		assert_non_null(f = scanned(m, "base/1/1259"));
		assert_int_equal(f->kind, MF_FILE);
		{
			const char *prev = NULL;
			size_t n_big = 0, n_numbered = 0;

			/* one pass: every numbered file with its size (a lookup each would be
			 * quadratic, and slow under valgrind) */
			for (size_t i = 0; i < m->n_files; i++) {
				const char *p = m->files[i].path;
				char *end;
				long k;

				if (strncmp(p, "base/1/2", 8) != 0)
					continue;
				k = strtol(p + 7, &end, 10);
				if (*end != '\0')
					continue;
				assert_true(k >= 20000 && k < 21500 && k != 20100);
				assert_int_equal(m->files[i].size, (uint64_t)((k - 20000) % 50));
				assert_int_equal(m->files[i].kind, MF_FILE);
				n_numbered++;
			}
			assert_int_equal(n_numbered, 1499);
			assert_non_null(scanned(m, "base/1/20100_init"));
			assert_null(scanned(m, "base/1/t5_20599"));
			assert_null(scanned(m, "base/1/t7_21450"));
			assert_null(scanned(m, "base/1/pg_internal.init"));
			/* in name order, as one thread lists them */
			for (size_t i = 0; i < m->n_files; i++) {
				if (strncmp(m->files[i].path, "base/1/", 7) != 0)
					continue;
				if (prev)
					assert_true(strcmp(prev, m->files[i].path) < 0);
				prev = m->files[i].path;
				n_big++;
			}
			assert_int_equal(n_big, 1 + 1499 + 1); /* 1259, the others but 20100, 20100_init */
		}
		assert_non_null(scanned(m, "pg_wal"));
		assert_null(scanned(m, "pg_wal/000000010000000000000001"));
		assert_null(scanned(m, "postmaster.pid"));
		assert_non_null(scanned(m, "PG_VERSION"));
		manifest_free(m);
	}
	/* a database directory that cannot be read: the walk fails, naming it */
	{
		Manifest *m = manifest_new();
		ScanOpts o = {tmpl, true};

		d = path_join(tmpl, "base/5");
		assert_int_equal(chmod(d, 0), 0);
		if (geteuid() != 0) { /* root reads it anyway */
			assert_true(files_scan(m, &o) < 0);
			assert_non_null(strstr(err_message(), "base/5"));
		}
		assert_int_equal(chmod(d, 0700), 0);
		free(d);
		manifest_free(m);
	}
	nftw(tmpl, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_manifest_round_trip),
		cmocka_unit_test(test_manifest_empty_lists),
		cmocka_unit_test(test_manifest_vanished_not_serialized),
		cmocka_unit_test(test_manifest_flipped_bits),
		cmocka_unit_test(test_manifest_truncated),
		cmocka_unit_test(test_manifest_checksum_missing_or_wrong),
		cmocka_unit_test(test_manifest_bad_content_with_valid_checksum),
		cmocka_unit_test(test_manifest_invalid_json_error_record),
		cmocka_unit_test(test_manifest_paths),
		cmocka_unit_test(test_manifest_store_load),
		cmocka_unit_test(test_files_relation_name),
		cmocka_unit_test(test_files_scan),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
