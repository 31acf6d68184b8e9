/*
 * cmd_restore.c - "restore".
 */
#include "cli/args.h"
#include "cli/cli.h"

#include "backup/backup.h"
#include "common/buf.h"
#include "common/error.h"
#include "common/json.h"
#include "pg/wal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RESTORE_USAGE "tenback restore --cluster NAME --tenant DB [--set ID|latest] --to DIR [--port N] [--start]\n" \
	"       [--force] [--target latest|immediate | --target-time TIME | --target-lsn LSN | --target-xid XID |\n" \
	"        --target-name NAME] [--tablespace-map OLD=NEW]... [--socket-dir DIR]\n" \
	"       [--run-as USER] [--pg-bin DIR] [--timeout SEC]"

int
cmd_restore(Cli *cli, int argc, char **argv)
{
	RestoreOpts o = {0};
	const char *port = NULL, *timeout = NULL;
	StrList maps = {0}, pos = {0};
	ArgSpec specs[] = {
		{"cluster", ARG_STRING, &o.cluster, true},
		{"tenant", ARG_STRING, &o.tenant, true},
		{"set", ARG_STRING, &o.set, false},
		{"to", ARG_STRING, &o.to, true},
		{"port", ARG_STRING, &port, false},
		{"start", ARG_FLAG, &o.start, false},
		{"force", ARG_FLAG, &o.force, false},
		{"target", ARG_STRING, &o.target, false},
		{"target-time", ARG_STRING, &o.target_time, false},
		{"target-lsn", ARG_STRING, &o.target_lsn, false},
		{"target-xid", ARG_STRING, &o.target_xid, false},
		{"target-name", ARG_STRING, &o.target_name, false},
		{"tablespace-map", ARG_LIST, &maps, false},
		{"socket-dir", ARG_STRING, &o.socket_dir, false},
		{"run-as", ARG_STRING, &o.run_as, false},
		{"pg-bin", ARG_STRING, &o.pg_bin, false},
		{"timeout", ARG_STRING, &timeout, false},
		{NULL, 0, NULL, false},
	};
	TablespaceMap *tm = NULL;
	uint64_t v;
	int rc;

	if (args_parse(argc, argv, specs, &pos) < 0 || pos.count) {
		if (pos.count)
			err_set(ERR_INVALID, "unexpected argument \"%s\"", pos.items[0]);
		rc = cli_usage_error(RESTORE_USAGE);
		goto out;
	}
	if (port) {
		if (str_to_u64(&v, port, "--port") < 0 || v == 0 || v > 65535) {
			err_set(ERR_INVALID, "invalid value for --port: \"%s\"", port);
			rc = cli_usage_error(RESTORE_USAGE);
			goto out;
		}
		o.port = (int)v;
	}
	if (timeout) {
		if (str_to_u64(&v, timeout, "--timeout") < 0 || v > 86400 * 30) {
			rc = cli_usage_error(RESTORE_USAGE);
			goto out;
		}
		o.timeout_s = (int)v;
	}
	tm = xcalloc(maps.count + 1, sizeof(*tm));
	for (size_t i = 0; i < maps.count; i++) {
		char *eq = strchr(maps.items[i], '=');
		if (eq == NULL || eq == maps.items[i] || eq[1] == '\0') {
			err_set(ERR_INVALID, "invalid --tablespace-map \"%s\"", maps.items[i]);
			err_hint("Write it as OLD=NEW: the old location (or name) and the new directory.");
			rc = cli_usage_error(RESTORE_USAGE);
			goto out;
		}
		*eq = '\0';
		tm[i].from = maps.items[i];
		tm[i].to = eq + 1;
	}
	o.maps = tm;
	o.n_maps = maps.count;
	o.home = cli->home;
	if (o.set == NULL)
		o.set = "latest"; /* with a point-in-time target: the newest set before it */
	fflush(stdout);
	rc = restore_run(cli->meta, &o);
out:
	free(tm);
	strlist_free(&maps);
	strlist_free(&pos);
	return rc;
}

#define WINDOW_USAGE "tenback window --cluster NAME --tenant DB [--output text|json]"

int
cmd_window(Cli *cli, int argc, char **argv)
{
	const char *cluster = NULL, *tenant = NULL, *output = NULL;
	StrList pos = {0};
	ArgSpec specs[] = {
		{"cluster", ARG_STRING, &cluster, true},
		{"tenant", ARG_STRING, &tenant, true},
		{"output", ARG_STRING, &output, false},
		{NULL, 0, NULL, false},
	};
	WindowRange *w = NULL;
	size_t n = 0;
	bool json;
	char a[32], b[32];
	int rc;

	if (args_parse(argc, argv, specs, &pos) < 0 || pos.count || cli_output_json(&json, output) != 0) {
		strlist_free(&pos);
		return cli_usage_error(WINDOW_USAGE);
	}
	if ((rc = backup_window(cli->meta, cluster, tenant, &w, &n)) < 0)
		return rc;
	if (json) {
		Buf out = BUF_INIT;
		JsonWriter jw;
		json_writer_init(&jw, &out, true);
		json_array_begin(&jw);
		for (size_t i = 0; i < n; i++) {
			pg_lsn_format(a, w[i].start_lsn);
			pg_lsn_format(b, w[i].end_lsn);
			json_object_begin(&jw);
			json_kv_string(&jw, "set", w[i].set_id);
			json_kv_string(&jw, "start_lsn", a);
			json_kv_string(&jw, "start_time", w[i].start_time);
			json_kv_string(&jw, "end_lsn", b);
			json_kv_string(&jw, "end_time", w[i].end_time);
			json_kv_string(&jw, "end_reason", w[i].end_reason);
			json_object_end(&jw);
		}
		json_array_end(&jw);
		printf("%s\n", out.data);
		buf_free(&out);
	} else {
		printf("%-17s %-14s %-22s %-14s %-29s %s\n", "SET", "FROM LSN", "FROM TIME", "TO LSN", "LAST TRANSACTION",
		       "RANGE ENDS");
		for (size_t i = 0; i < n; i++) {
			pg_lsn_format(a, w[i].start_lsn);
			pg_lsn_format(b, w[i].end_lsn);
			printf("%-17s %-14s %-22s %-14s %-29s %s\n", w[i].set_id, a, w[i].start_time, b,
			       w[i].end_time ? w[i].end_time : "-", w[i].end_reason);
		}
	}
	window_array_free(w, n);
	return 0;
}
