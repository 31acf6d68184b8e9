/*
 * cmd_audit.c - tenback audit list: the audit log of this home, newest first
 * (what the API, the console and the CLI changed, and who did it).
 */
#include "cli/args.h"
#include "cli/cli.h"

#include "common/buf.h"
#include "common/error.h"
#include "common/json.h"
#include "common/strutil.h"
#include "meta/meta.h"

#include <stdio.h>
#include <string.h>

#define AUDIT_USAGE "tenback audit list [--limit N] [--before ID] [--output text|json]"

int
cmd_audit(Cli *cli, int argc, char **argv)
{
	const char *output = NULL, *limit_s = NULL, *before_s = NULL;
	StrList pos = {0};
	ArgSpec specs[] = {
		{"output", ARG_STRING, &output, false},
		{"limit", ARG_STRING, &limit_s, false},
		{"before", ARG_STRING, &before_s, false},
		{NULL, 0, NULL, false},
	};
	uint64_t limit = 100, before = 0;
	MetaAudit *a = NULL;
	size_t n = 0;
	bool json;
	int rc;

	if (argc < 1 || strcmp(argv[0], "list") != 0)
		return cli_usage_error(AUDIT_USAGE);
	if (args_parse(argc - 1, argv + 1, specs, &pos) < 0 || pos.count || cli_output_json(&json, output) != 0 ||
	    (limit_s && str_to_u64(&limit, limit_s, "--limit") < 0) ||
	    (before_s && str_to_u64(&before, before_s, "--before") < 0)) {
		if (pos.count)
			err_set(ERR_INVALID, "unexpected argument \"%s\"", pos.items[0]);
		strlist_free(&pos);
		return cli_usage_error(AUDIT_USAGE);
	}
	if (limit < 1 || limit > 100000) {
		err_set(ERR_INVALID, "invalid value for --limit: \"%s\"", limit_s);
		err_hint("Give how many entries to show, from 1 to 100000.");
		return cli_usage_error(AUDIT_USAGE);
	}
	if ((rc = meta_audit_list(cli->meta, (int64_t)limit, (int64_t)before, &a, &n)) < 0)
		return rc;
	if (json) {
		Buf b = BUF_INIT;
		JsonWriter w;
		json_writer_init(&w, &b, true);
		json_array_begin(&w);
		for (size_t i = 0; i < n; i++) {
			meta_audit_json(&w, &a[i]);
		}
		json_array_end(&w);
		printf("%s\n", b.data);
		buf_free(&b);
	} else {
		for (size_t i = 0; i < n; i++)
			printf("%-6lld %s  %-16s %-20s %s  %s%s%s\n", (long long)a[i].id, a[i].at, a[i].user_name, a[i].action,
			       a[i].object, a[i].outcome, a[i].detail ? "  " : "", a[i].detail ? a[i].detail : "");
	}
	meta_audit_array_free(a, n);
	return 0;
}
