/*
 * fuzz_pgfiles.c - bytes read from a data directory or a backup set: a page
 * (header, LSN, checksum), pg_control, a WAL segment's long page header,
 * and the text forms of LSNs, WAL file names and block ranges in manifests.
 */
#include "backup/ranges.h"
#include "pg/control.h"
#include "pg/page.h"
#include "pg/wal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t page[PG_PAGE_SIZE];
	PgControl ctl;
	PgWalLongHeader hdr;
	BlockRanges rs = {0};
	char *text = malloc(size + 1);
	uint64_t lsn, segno;
	uint32_t tli;

	memset(page, 0, sizeof(page));
	memcpy(page, data, size < sizeof(page) ? size : sizeof(page));
	(void)pg_page_verify(page, size > 4 ? data[4] : 0);
	(void)pg_page_is_new(page);
	(void)pg_page_lsn(page);
	(void)pg_control_parse(&ctl, data, size);
	(void)pg_wal_long_header_parse(&hdr, data, size);

	memcpy(text, data, size);
	text[size] = '\0';
	(void)pg_lsn_parse(&lsn, text);
	(void)pg_wal_name_parse(&tli, &segno, text, 16u * 1024 * 1024);
	(void)pg_wal_file_kind(text, &tli);
	if (ranges_parse(&rs, text) == 0) {
		char *again = ranges_format(&rs);
		BlockRanges back = {0};
		if (ranges_parse(&back, again) != 0 || back.n != rs.n)
			abort();
		ranges_free(&back);
		free(again);
	}
	ranges_free(&rs);
	free(text);
	return 0;
}
