/*
 * test_target.c - unit tests for recovery_target_parse (src/backup/pitr.c):
 * what --target, --target-time, --target-lsn, --target-xid and --target-name
 * become.
 *
 * Invariants under test: a time with a zone becomes the right Unix
 * microseconds and the text PostgreSQL gets is that instant written
 * "YYYY-MM-DD HH:MM:SS.ffffff+00" in UTC; a time without a zone, an
 * impossible date or any stray character is ERR_INVALID; LSNs, xids and
 * restore point names are checked against PostgreSQL's own bounds; at most
 * one target is given, and none means "latest".
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "backup/backup.h"
#include "common/error.h"

#include <stdio.h>
#include <string.h>

/* 2026-11-26 14:03:07 UTC */
#define T0 INT64_C(1795701787)
#define US INT64_C(1000000)

static int
parse_time(RecoveryTarget *t, const char *text)
{
	RestoreOpts o = {0};

	o.target_time = text;
	return recovery_target_parse(t, &o);
}

static void
check_time(const char *text, int64_t want_us, const char *want_text)
{
	RecoveryTarget t;

	if (parse_time(&t, text) < 0)
		fail_msg("\"%s\": %s", text, err_message());
	assert_int_equal(t.kind, TARGET_TIME);
	if (t.time_us != want_us)
		fail_msg("\"%s\": %lld us, want %lld", text, (long long)t.time_us, (long long)want_us);
	assert_string_equal(t.text, want_text);
}

static void
check_time_invalid(const char *text)
{
	RecoveryTarget t;
	int rc = parse_time(&t, text);

	if (rc != ERR_INVALID)
		fail_msg("\"%s\" should be ERR_INVALID, got %d (time %lld, text \"%s\")", text, rc, (long long)t.time_us,
		         t.text);
	if (strstr(err_message(), text) == NULL)
		fail_msg("\"%s\": the message should quote the input: %s", text, err_message());
}

static void
test_time_formats(void **state)
{
	(void)state;
	check_time("2026-11-26 14:03:07+00", T0 * US, "2026-11-26 14:03:07.000000+00");
	check_time("2026-11-26T14:03:07Z", T0 * US, "2026-11-26 14:03:07.000000+00");
	check_time("2026-11-26T14:03:07z", T0 * US, "2026-11-26 14:03:07.000000+00");
	check_time("2026-11-26 14:03:07 +00", T0 * US, "2026-11-26 14:03:07.000000+00");
	check_time("2026-11-26 14:03:07+00:00", T0 * US, "2026-11-26 14:03:07.000000+00");
	check_time("2026-11-26 14:03:07.5+00", T0 * US + 500000, "2026-11-26 14:03:07.500000+00");
	check_time("2026-11-26 14:03:07.000001Z", T0 * US + 1, "2026-11-26 14:03:07.000001+00");
	/* beyond microseconds: truncated, as PostgreSQL keeps microseconds */
	check_time("2026-11-26 14:03:07.123456789+00", T0 * US + 123456, "2026-11-26 14:03:07.123456+00");
	check_time("2026-11-26 14:03:07.999999999+00", T0 * US + 999999, "2026-11-26 14:03:07.999999+00");
}

static void
test_time_zones(void **state)
{
	(void)state;
	/* 14:03:07 at +05:30 is 08:33:07 UTC */
	check_time("2026-11-26 14:03:07+05:30", (T0 - 19800) * US, "2026-11-26 08:33:07.000000+00");
	check_time("2026-11-26 14:03:07+0530", (T0 - 19800) * US, "2026-11-26 08:33:07.000000+00");
	/* 14:03:07 at -08:00 is 22:03:07 UTC */
	check_time("2026-11-26 14:03:07-0800", (T0 + 28800) * US, "2026-11-26 22:03:07.000000+00");
	check_time("2026-11-26 14:03:07-08", (T0 + 28800) * US, "2026-11-26 22:03:07.000000+00");
	check_time("2026-11-26 14:03:07.25-08:00", (T0 + 28800) * US + 250000, "2026-11-26 22:03:07.250000+00");
	/* the zone moves the date */
	check_time("2026-11-26 23:30:00-01", (T0 - 14 * 3600 - 3 * 60 - 7 + 23 * 3600 + 30 * 60 + 3600) * US,
	           "2026-11-27 00:30:00.000000+00");
	check_time("2026-01-01 00:30:00+01", INT64_C(1767223800) * US, "2025-12-31 23:30:00.000000+00");
	/* leap year day and the epoch */
	check_time("2028-02-29 12:00:00Z", INT64_C(1835438400) * US, "2028-02-29 12:00:00.000000+00");
	check_time("1970-01-01 00:00:00Z", 0, "1970-01-01 00:00:00.000000+00");
	/* before the epoch: fractions stay positive in the text */
	check_time("1969-12-31 23:59:59.5Z", -500000, "1969-12-31 23:59:59.500000+00");
}

static void
test_time_without_zone(void **state)
{
	RecoveryTarget t;

	(void)state;
	assert_int_equal(parse_time(&t, "2026-11-26 14:03:07"), ERR_INVALID);
	assert_string_equal(err_message(), "recovery target time \"2026-11-26 14:03:07\" has no time zone");
	assert_non_null(strstr(err_hint_text(), "+00"));
	assert_int_equal(parse_time(&t, "2026-11-26 14:03:07.5"), ERR_INVALID);
	assert_non_null(strstr(err_message(), "has no time zone"));
	assert_true(err_hint_text()[0] != '\0');
}

static void
test_time_invalid(void **state)
{
	(void)state;
	check_time_invalid("");
	check_time_invalid("yesterday");
	check_time_invalid("2026-11-26");
	check_time_invalid("2026-11-26 14:03+00");
	check_time_invalid("2026-13-01 00:00:00+00");
	check_time_invalid("2026-00-01 00:00:00+00");
	check_time_invalid("2026-11-00 00:00:00+00");
	check_time_invalid("2026-11-32 00:00:00+00");
	check_time_invalid("2026-11-26 24:00:00+00");
	check_time_invalid("2026-11-26 14:60:00+00");
	check_time_invalid("2026-11-26 14:03:61+00");
	check_time_invalid("2026-11-26 14:03:07.+00");
	check_time_invalid("2026-11-26 14:03:07+00x");
	check_time_invalid("2026-11-26 14:03:07Zx");
	check_time_invalid("2026-11-26_14:03:07+00");
	check_time_invalid("2026-11-26 14:03:07+");
}

/* BUG: days past the end of the month are accepted and timegm() moves
 * them into the next month, so the restore silently targets another day
 * (pitr.c parse_timestamp checks only d <= 31).  PostgreSQL rejects these
 * ("date/time field value out of range"). */
static void
test_time_impossible_dates(void **state)
{
	(void)state;
	check_time_invalid("2026-02-29 10:00:00+00"); /* 2026 is not a leap year */
	check_time_invalid("2026-02-30 10:00:00+00");
	check_time_invalid("2026-04-31 10:00:00+00");
	check_time_invalid("2026-11-31 10:00:00+00");
}

/* BUG: negative hours, minutes and seconds pass (pitr.c parse_timestamp
 * checks only the upper bounds; "%2d" reads a sign). */
static void
test_time_negative_fields(void **state)
{
	(void)state;
	check_time_invalid("2026-11-26 -1:03:07+00");
	check_time_invalid("2026-11-26 14:-3:07+00");
	check_time_invalid("2026-11-26 14:03:-7+00");
}

/* BUG: impossible zone offsets pass (hours above 15, minutes above 59, a
 * second sign); PostgreSQL rejects them. */
static void
test_time_bad_offsets(void **state)
{
	(void)state;
	check_time_invalid("2026-11-26 14:03:07+99");
	check_time_invalid("2026-11-26 14:03:07+05:75");
	check_time_invalid("2026-11-26 14:03:07+-5");
}

static void
test_lsn(void **state)
{
	RestoreOpts o = {0};
	RecoveryTarget t;

	(void)state;
	o.target_lsn = "0/5A0012F8";
	assert_int_equal(recovery_target_parse(&t, &o), 0);
	assert_int_equal(t.kind, TARGET_LSN);
	assert_true(t.lsn == UINT64_C(0x5A0012F8));
	assert_string_equal(t.text, "0/5A0012F8");
	o.target_lsn = "16/b374d848";
	assert_int_equal(recovery_target_parse(&t, &o), 0);
	assert_true(t.lsn == UINT64_C(0x16B374D848));
	assert_string_equal(t.text, "16/B374D848"); /* normalized */
	o.target_lsn = "FFFFFFFF/FFFFFFFF";
	assert_int_equal(recovery_target_parse(&t, &o), 0);
	assert_true(t.lsn == UINT64_MAX);
	o.target_lsn = "0/0";
	assert_int_equal(recovery_target_parse(&t, &o), 0);
	assert_true(t.lsn == 0);

	static const char *const bad[] = {
		"", "0", "/1", "1/", "5A0012F8", "0/5A0012F8 ", "0/5A0012G8", "100000000/0", "0/100000000", "-1/0", "0x1/0",
	};
	for (size_t bad_idx = 0; bad_idx < sizeof(bad) / sizeof(bad[0]); bad_idx++) {
		o.target_lsn = bad[bad_idx];
		if (recovery_target_parse(&t, &o) != ERR_INVALID)
			fail_msg("LSN \"%s\" should be ERR_INVALID", bad[bad_idx]);
		assert_non_null(strstr(err_message(), "invalid LSN"));
	}
}

static void
test_xid(void **state)
{
	RestoreOpts o = {0};
	RecoveryTarget t;

	(void)state;
	o.target_xid = "123456";
	assert_int_equal(recovery_target_parse(&t, &o), 0);
	assert_int_equal(t.kind, TARGET_XID);
	assert_int_equal(t.xid, 123456);
	assert_string_equal(t.text, "123456");
	o.target_xid = "3"; /* FirstNormalTransactionId */
	assert_int_equal(recovery_target_parse(&t, &o), 0);
	assert_int_equal(t.xid, 3);
	o.target_xid = "4294967295";
	assert_int_equal(recovery_target_parse(&t, &o), 0);
	assert_true(t.xid == UINT32_MAX);

	/* 0-2 are special xids nothing commits with; above 32 bits is no xid */
	static const char *const bad[] = {
		"0", "1", "2", "4294967296", "18446744073709551616", "-1", "", "12a", " 12", "12 ", "0x10", "+5",
	};
	for (size_t bad_idx = 0; bad_idx < sizeof(bad) / sizeof(bad[0]); bad_idx++) {
		o.target_xid = bad[bad_idx];
		if (recovery_target_parse(&t, &o) != ERR_INVALID)
			fail_msg("xid \"%s\" should be ERR_INVALID", bad[bad_idx]);
		assert_non_null(strstr(err_message(), "invalid transaction id"));
	}
}

static void
test_name(void **state)
{
	RestoreOpts o = {0};
	RecoveryTarget t;
	char longest[64], too_long[65];

	(void)state;
	o.target_name = "before_migration";
	assert_int_equal(recovery_target_parse(&t, &o), 0);
	assert_int_equal(t.kind, TARGET_NAME);
	assert_string_equal(t.name, "before_migration");
	assert_string_equal(t.text, "before_migration");

	/* PostgreSQL's limit: MAXFNAMELEN - 1 = 63 bytes */
	memset(longest, 'n', 63);
	longest[63] = '\0';
	o.target_name = longest;
	assert_int_equal(recovery_target_parse(&t, &o), 0);
	assert_string_equal(t.name, longest);
	memset(too_long, 'n', 64);
	too_long[64] = '\0';
	o.target_name = too_long;
	assert_int_equal(recovery_target_parse(&t, &o), ERR_INVALID);
	assert_non_null(strstr(err_message(), "invalid restore point name"));
	o.target_name = "";
	assert_int_equal(recovery_target_parse(&t, &o), ERR_INVALID);
}

static void
test_latest_immediate_none(void **state)
{
	RestoreOpts o = {0};
	RecoveryTarget t;

	(void)state;
	memset(&t, 0x5a, sizeof(t));
	assert_int_equal(recovery_target_parse(&t, &o), 0);
	assert_int_equal(t.kind, TARGET_LATEST);
	assert_string_equal(t.text, "");
	o.target = "latest";
	assert_int_equal(recovery_target_parse(&t, &o), 0);
	assert_int_equal(t.kind, TARGET_LATEST);
	o.target = "immediate";
	assert_int_equal(recovery_target_parse(&t, &o), 0);
	assert_int_equal(t.kind, TARGET_IMMEDIATE);
	o.target = "soon";
	assert_int_equal(recovery_target_parse(&t, &o), ERR_INVALID);
	assert_string_equal(err_message(), "invalid recovery target \"soon\"");
	assert_non_null(strstr(err_hint_text(), "--target immediate"));
	o.target = "Latest";
	assert_int_equal(recovery_target_parse(&t, &o), ERR_INVALID);
}

static void
test_two_targets(void **state)
{
	const char *vals[5] = {"latest", "2026-11-26 14:03:07+00", "0/1", "1000", "rp"};

	(void)state;
	for (int i = 0; i < 5; i++)
		for (int j = i + 1; j < 5; j++) {
			RestoreOpts o = {0};
			RecoveryTarget t;
			const char **slots[5] = {&o.target, &o.target_time, &o.target_lsn, &o.target_xid, &o.target_name};
			*slots[i] = vals[i];
			*slots[j] = vals[j];
			if (recovery_target_parse(&t, &o) != ERR_INVALID)
				fail_msg("targets %d and %d together should be ERR_INVALID", i, j);
			assert_string_equal(err_message(), "give one recovery target at most");
			assert_non_null(strstr(err_hint_text(), "--target-name"));
		}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_time_formats),
		cmocka_unit_test(test_time_zones),
		cmocka_unit_test(test_time_without_zone),
		cmocka_unit_test(test_time_invalid),
		cmocka_unit_test(test_time_impossible_dates),
		cmocka_unit_test(test_time_negative_fields),
		cmocka_unit_test(test_time_bad_offsets),
		cmocka_unit_test(test_lsn),
		cmocka_unit_test(test_xid),
		cmocka_unit_test(test_name),
		cmocka_unit_test(test_latest_immediate_none),
		cmocka_unit_test(test_two_targets),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
