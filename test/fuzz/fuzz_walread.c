/*
 * fuzz_walread.c - archived WAL is read record by record for point-in-time
 * targets and for incremental backups' changed blocks: page headers, record
 * headers, block references, continuation records, CRCs.  The input: a
 * 4-byte length, the start of a 1 MiB segment of that length (the rest
 * zeros), then the start of the next segment.  The first segment's number is
 * its page address (bytes 8..15 of its header), so real WAL is a seed; every
 * record is decoded as the callers do.
 */
#include "common/error.h"
#include "pg/walread.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SEG (1024u * 1024u)

typedef struct Input {
	const uint8_t *part[2];
	size_t len[2];
	uint64_t first_seg;
} Input;

static int
segment_cb(uint8_t *buf, uint32_t timeline, uint64_t segno, void *payload)
{
	Input *in = payload;

	(void)timeline;
	if (segno < in->first_seg || segno > in->first_seg + 1)
		return err_set(ERR_NOT_FOUND, "segment %llu is not in the archive", (unsigned long long)segno);
	segno -= in->first_seg;
	memset(buf, 0, SEG);
	if (in->len[segno])
		memcpy(buf, in->part[segno], in->len[segno] < SEG ? in->len[segno] : SEG);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Input in = {{data, NULL}, {size, 0}, 1};
	PgWalReader *rd = NULL;
	PgWalRecord rec;
	int guard = 0;

	if (size >= 4) {
		uint32_t first;
		memcpy(&first, data, 4);
		first %= (uint32_t)(size - 3);
		in.part[0] = data + 4;
		in.len[0] = first;
		in.part[1] = data + 4 + first;
		in.len[1] = size - 4 - first;
	}
	if (in.len[0] >= 16) {
		uint64_t pageaddr;
		memcpy(&pageaddr, in.part[0] + 8, 8);
		in.first_seg = pageaddr / SEG;
		if (in.first_seg == 0 || in.first_seg > (UINT64_C(1) << 32))
			in.first_seg = 1;
	}
	if (pg_walreader_new(&rd, SEG, 1, in.first_seg * SEG, segment_cb, &in) != 0)
		return 0;
	while (guard++ < 100000 && pg_walreader_next(rd, &rec) == 1) {
		int64_t t;
		bool commit;
		uint32_t xid;
		char name[64];

		(void)pg_wal_record_xact(&rec, &t, &commit, &xid);
		(void)pg_wal_record_restore_point(&rec, name, &t);
		(void)pg_wal_record_is_switch(&rec);
		for (int i = 0; i < rec.n_blocks; i++)
			if (rec.blocks[i].block_id > 32)
				abort();
	}
	(void)pg_walreader_end_lsn(rd);
	(void)pg_walreader_end_reason(rd);
	pg_walreader_free(rd);
	return 0;
}
