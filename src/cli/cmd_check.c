/*
 * cmd_check.c - tenback check --cluster NAME: the cluster's setup, one line
 * per check as it ends (OK, FAIL with the reason and hint, SKIP with why),
 * or one JSON array; exit 1 when any check failed.
 */
#include "cli/args.h"
#include "cli/cli.h"

#include "backup/check.h"
#include "common/buf.h"
#include "common/error.h"
#include "common/json.h"
#include "common/strutil.h"

#include <stdio.h>
#include <string.h>

#define CHECK_USAGE "tenback check --cluster NAME [--archive-timeout SEC] [--output text|json]"

static void
print_item(const CheckItem *it, void *payload)
{
	(void)payload;
	printf("%-4s  %-16s %s\n", check_status_name(it->status), it->name, it->message);
	if (it->detail)
		printf("      %-16s DETAIL: %s\n", "", it->detail);
	if (it->hint)
		printf("      %-16s HINT: %s\n", "", it->hint);
	fflush(stdout);
}

int
cmd_check(Cli *cli, int argc, char **argv)
{
	const char *cluster = NULL, *output = NULL, *timeout = NULL;
	StrList pos = {0};
	ArgSpec specs[] = {
		{"cluster", ARG_STRING, &cluster, true},
		{"output", ARG_STRING, &output, false},
		{"archive-timeout", ARG_STRING, &timeout, false},
		{NULL, 0, NULL, false},
	};
	CheckOpts o = {0};
	CheckItem *items = NULL;
	size_t n = 0, failed;
	uint64_t t = 60;
	bool json;
	int rc;

	if (args_parse(argc, argv, specs, &pos) < 0 || pos.count || cli_output_json(&json, output) != 0 ||
	    (timeout && str_to_u64(&t, timeout, "--archive-timeout") < 0)) {
		if (pos.count)
			err_set(ERR_INVALID, "unexpected argument \"%s\"", pos.items[0]);
		strlist_free(&pos);
		return cli_usage_error(CHECK_USAGE);
	}
	if (t < 1 || t > 86400) {
		err_set(ERR_INVALID, "invalid value for --archive-timeout: \"%s\"", timeout);
		err_hint("Give the seconds to wait for a WAL segment to be archived, from 1 to 86400.");
		return cli_usage_error(CHECK_USAGE);
	}
	o.home = cli->home;
	o.cluster = cluster;
	o.archive_timeout_s = (int)t;
	if (!json)
		o.item_cb = print_item;
	if ((rc = cluster_check(cli->meta, &o, &items, &n)) < 0)
		return rc;
	if (json) {
		Buf b = BUF_INIT;
		JsonWriter w;

		json_writer_init(&w, &b, true);
		json_array_begin(&w);
		for (size_t i = 0; i < n; i++) {
			json_object_begin(&w);
			json_kv_string(&w, "check", items[i].name);
			json_kv_string(&w, "status", check_status_name(items[i].status));
			json_kv_string(&w, "message", items[i].message);
			json_kv_string(&w, "detail", items[i].detail);
			json_kv_string(&w, "hint", items[i].hint);
			json_kv_int(&w, "elapsed_ms", items[i].elapsed_ms);
			json_object_end(&w);
		}
		json_array_end(&w);
		printf("%s\n", b.data);
		buf_free(&b);
	}
	failed = check_items_failed(items, n);
	check_items_free(items, n);
	if (failed == 0)
		return 0;
	rc = err_set(ERR_INVALID, "%zu of the checks of cluster \"%s\" failed", failed, cluster);
	err_hint("Fix what the FAIL lines say, then run \"tenback check --cluster %s\" again.", cluster);
	return rc;
}
