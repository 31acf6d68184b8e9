/*
 * bench_copy.c - the chunked copy of one file alone, without PostgreSQL: how
 * fast files_copy and files_restore_framed go by number of workers.
 *
 *   tb-bench-copy FILE STORAGE_DIR [JOBS [COMPRESS [REPEAT]]]
 *
 * FILE is any file (a relation segment to verify page checksums: name it
 * like one under a base/ directory, e.g. DIR/base/1/16397); STORAGE_DIR an
 * empty directory for the stored object.  Prints, per run, wall and CPU time
 * of the backup and of the restore; the minimum wall time is the one to
 * compare on a shared machine.
 */
#include "backup/backup_int.h"
#include "backup/pool.h"
#include "common/buf.h"
#include "common/error.h"
#include "common/strutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct Run {
	CopyCtx *ctx;
	ManifestFile *f;
	IoFrameCodec *codecs[POOL_JOBS_MAX];
	Storage *s;
	const char *object;
	const char *dest;
} Run;

static int
backup_item(Pool *p, int worker_idx, size_t item_idx, void *payload)
{
	Run *run = payload;

	(void)item_idx;
	return files_copy(run->ctx, p, worker_idx, run->f);
}

static int
restore_item(Pool *p, int worker_idx, size_t item_idx, void *payload)
{
	Run *run = payload;
	int fd = open(run->dest, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	int rc;

	(void)worker_idx;
	(void)item_idx;
	if (fd < 0)
		return err_errno(errno, "could not create \"%s\"", run->dest);
	rc = files_restore_framed(p, run->codecs, run->s, run->object, fd, run->dest, run->f->size, &run->f->sum);
	close(fd);
	return rc;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       (double)ru.ru_stime.tv_usec / 1e6;
}

static int
timed_pool(const char *what, int jobs, int (*item)(Pool *, int, size_t, void *), Run *run, double size_mib)
{
	PoolOpts po = {0};
	double t0 = now_s(), c0 = cpu_s(), wall;
	int rc;

	po.jobs = jobs;
	po.n_items = 1;
	po.item = item;
	po.payload = run;
	po.slot_bytes = copy_slot_bytes();
	po.n_slots = COPY_SLOTS(jobs);
	rc = pool_run(&po);
	wall = now_s() - t0;
	if (rc < 0) {
		fprintf(stderr, "%s: %s\n", what, err_message());
		return rc;
	}
	printf("%-8s jobs %2d  wall %6.3f s  cpu %6.3f s  %7.1f MiB/s\n", what, jobs, wall, cpu_s() - c0,
	       size_mib / wall);
	return 0;
}

int
main(int argc, char **argv)
{
	const char *file, *dir, *base;
	int jobs = argc > 3 ? atoi(argv[3]) : 2, repeat = argc > 5 ? atoi(argv[5]) : 3;
	IoCompress c = IO_COMPRESS_LZ4;
	CopyCtx ctx = {0};
	ManifestFile f = {0};
	Run run = {0};
	char *uri, *pgdata, *object, *dest;
	struct stat st;
	double size_mib;
	int rc = 0;

	if (argc < 3 || jobs < 1 || jobs > POOL_JOBS_MAX || (argc > 4 && io_compress_parse(&c, argv[4]) < 0)) {
		fprintf(stderr, "usage: tb-bench-copy FILE STORAGE_DIR [JOBS [none|lz4|zstd [REPEAT]]]\n");
		return 2;
	}
	file = argv[1];
	dir = argv[2];
	if (stat(file, &st) < 0) {
		perror(file);
		return 1;
	}
	size_mib = (double)st.st_size / 1048576.0;
	/* pgdata: the directory above base/ when there is one, else the file's directory */
	base = strstr(file, "/base/");
	pgdata = base ? strndup(file, (size_t)(base - file)) : strndup(file, (size_t)(strrchr(file, '/') - file));
	f.path = xstrdup(file + strlen(pgdata) + 1);
	f.kind = MF_FILE;
	uri = xasprintf("file://%s", dir);
	if (storage_open(&run.s, uri) < 0) {
		fprintf(stderr, "%s\n", err_message());
		return 1;
	}
	ctx.storage = run.s;
	ctx.set_dir = "set";
	ctx.pgdata = pgdata;
	ctx.compress = c;
	ctx.verify_checksums = base != NULL;
	ctx.start_lsn = UINT64_MAX;
	ctx.jobs = jobs;
	if (copy_ctx_prepare(&ctx) < 0) {
		fprintf(stderr, "%s\n", err_message());
		return 1;
	}
	for (int worker_idx = 0; worker_idx < jobs; worker_idx++)
		io_frame_codec_new(&run.codecs[worker_idx], IO_COMPRESS_NONE, 0);
	object = xasprintf("set/data/%s", f.path);
	dest = xasprintf("%s/restored", dir);
	run.ctx = &ctx;
	run.f = &f;
	run.object = object;
	run.dest = dest;
	for (int run_idx = 0; run_idx < repeat && rc == 0; run_idx++) {
		atomic_store(&ctx.bytes_done, 0);
		f.page_errors = 0;
		if ((rc = timed_pool("backup", jobs, backup_item, &run, size_mib)) < 0)
			break;
		printf("         (%.1f MiB, stored %.1f MiB, %u bad pages)\n", (double)f.size / 1048576.0,
		       (double)f.stored_size / 1048576.0, f.page_errors);
		rc = timed_pool("restore", jobs, restore_item, &run, (double)f.size / 1048576.0);
		unlink(dest);
	}
	for (int worker_idx = 0; worker_idx < jobs; worker_idx++)
		io_frame_codec_free(run.codecs[worker_idx]);
	copy_ctx_release(&ctx);
	storage_free(run.s);
	free(uri);
	free(pgdata);
	free(f.path);
	free(object);
	free(dest);
	return rc < 0 ? 1 : 0;
}
