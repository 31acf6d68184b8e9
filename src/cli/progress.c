/*
 * progress.c - the in-place progress line of backup and restore on a terminal.
 */
#include "cli/progress.h"

#include "common/log.h"
#include "common/strutil.h"

#include <inttypes.h>
#include <stdio.h>
#include <unistd.h>

bool
progress_wanted(void)
{
	return isatty(STDERR_FILENO) && log_get_level() >= LOG_INFO;
}

void
progress_begin(Progress *p, const char *what)
{
	p->what = what;
	p->start_ms = time_now_ms();
	p->drawn = false;
	p->finished = false;
}

static void
human_bytes(char *out, size_t cap, double bytes)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	int u = 0;

	while (bytes >= 1024.0 && u < 4) {
		bytes /= 1024.0;
		u++;
	}
	snprintf(out, cap, u ? "%.1f %s" : "%.0f %s", bytes, units[u]);
}

void
progress_update(uint64_t bytes_done, uint64_t bytes_total, uint64_t files_done, void *payload)
{
	Progress *p = payload;
	double secs = (double)(time_now_ms() - p->start_ms) / 1000.0;
	double rate = secs > 0.0 ? (double)bytes_done / secs : 0.0;
	char done[32], total[32], per_s[32], left[32] = "";

	if (p->finished)
		return;

	human_bytes(done, sizeof(done), (double)bytes_done);
	human_bytes(total, sizeof(total), (double)bytes_total);
	human_bytes(per_s, sizeof(per_s), rate);
	if (rate > 0.0 && bytes_total > bytes_done) {
		uint64_t s = (uint64_t)((double)(bytes_total - bytes_done) / rate);
		snprintf(left, sizeof(left), ", %" PRIu64 ":%02" PRIu64 " left", s / 60, s % 60);
	}
	/* \r and erase to the end of the line: one line, redrawn */
	fprintf(stderr, "\r\033[K%s: %s of %s (%d%%), %" PRIu64 " files, %s/s%s", p->what, done, total,
	        bytes_total ? (int)(bytes_done * 100 / bytes_total) : 100, files_done, per_s, left);
	p->drawn = true;
	/* complete: end the line now, so that the log lines after it start on their own */
	if (bytes_total > 0 && bytes_done >= bytes_total) {
		progress_end(p);
		p->finished = true;
	}
	fflush(stderr);
}

void
progress_end(Progress *p)
{
	if (p->drawn)
		fputc('\n', stderr);
	p->drawn = false;
}
