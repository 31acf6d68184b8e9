/*
 * cmd_restore.c - "restore".
 */
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/progress.h"

#include "backup/backup.h"
#include "common/buf.h"
#include "common/error.h"
#include "common/json.h"
#include "pg/wal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RESTORE_USAGE "tenback restore --cluster NAME --tenant DB [--set ID|latest] --to DIR [--port N] [--start]\n" \
	"       [--force] [--jobs N] [--target latest|immediate | --target-time TIME | --target-lsn LSN | --target-xid XID |\n" \
	"        --target-name NAME] [--tablespace-map OLD=NEW]... [--socket-dir DIR]\n" \
	"       [--run-as USER] [--pg-bin DIR] [--timeout SEC]\n" \
	"       tenback restore --cluster NAME --tenant DB [--set ID|latest] --as NEWDB [--into-cluster NAME]\n" \
	"       [--jobs N] [--force] [--pg-bin DIR] [--temp-dir DIR]        (a logical set)\n" \
	"       tenback restore --cluster NAME --tenant DB [--set ID|latest] --sql-file FILE [--force] [--pg-bin DIR]"

/* The options of one kind of restore that the other kind does not take.  --jobs
 * goes with both: worker threads of a physical restore, pg_restore jobs of a
 * logical one. */
static const char *const physical_only[] = {"to", "port", "start", "target", "target-time", "target-lsn",
                                            "target-xid", "target-name", "tablespace-map", "socket-dir", "run-as",
                                            "timeout", NULL};
static const char *const logical_only[] = {"as", "sql-file", "into-cluster", "temp-dir", NULL};

/* Was --name given (as "--name", "--name=...")? */
static bool
given(int argc, char **argv, const char *name)
{
	size_t len = strlen(name);

	for (int i = 0; i < argc; i++)
		if (strncmp(argv[i], "--", 2) == 0 && strncmp(argv[i] + 2, name, len) == 0 &&
		    (argv[i][2 + len] == '\0' || argv[i][2 + len] == '='))
			return true;
	return false;
}

static int
restore_logical(Cli *cli, int argc, char **argv)
{
	LogicalRestoreOpts o = {0};
	const char *jobs = NULL;
	StrList pos = {0};
	ArgSpec specs[] = {
		{"cluster", ARG_STRING, &o.cluster, true},
		{"tenant", ARG_STRING, &o.tenant, true},
		{"set", ARG_STRING, &o.set, false},
		{"as", ARG_STRING, &o.as, false},
		{"sql-file", ARG_STRING, &o.sql_file, false},
		{"into-cluster", ARG_STRING, &o.into_cluster, false},
		{"jobs", ARG_STRING, &jobs, false},
		{"force", ARG_FLAG, &o.force, false},
		{"pg-bin", ARG_STRING, &o.pg_bin, false},
		{"temp-dir", ARG_STRING, &o.temp_dir, false},
		{NULL, 0, NULL, false},
	};
	uint64_t v;

	for (size_t i = 0; physical_only[i]; i++)
		if (given(argc, argv, physical_only[i])) {
			err_set(ERR_INVALID, "--%s is for a physical restore (--to DIR); it does not go with --as or --sql-file",
			        physical_only[i]);
			return cli_usage_error(RESTORE_USAGE);
		}
	if (args_parse(argc, argv, specs, &pos) < 0 || pos.count) {
		if (pos.count)
			err_set(ERR_INVALID, "unexpected argument \"%s\"", pos.items[0]);
		strlist_free(&pos);
		return cli_usage_error(RESTORE_USAGE);
	}
	if (o.as && o.sql_file) {
		err_set(ERR_INVALID, "--as and --sql-file do not go together");
		err_hint("Restore into a database with --as, or write the SQL script with --sql-file.");
		return cli_usage_error(RESTORE_USAGE);
	}
	if (o.sql_file && (o.into_cluster || jobs)) {
		err_set(ERR_INVALID, "--%s is for a restore into a database (--as); --sql-file only writes a file",
		        o.into_cluster ? "into-cluster" : "jobs");
		return cli_usage_error(RESTORE_USAGE);
	}
	if (jobs) {
		if (str_to_u64(&v, jobs, "--jobs") < 0 || v == 0 || v > 128) {
			err_set(ERR_INVALID, "invalid value for --jobs: \"%s\"", jobs);
			err_hint("Give the number of parallel pg_restore jobs, from 1 to 128.");
			return cli_usage_error(RESTORE_USAGE);
		}
		o.jobs = (int)v;
	}
	if (o.set == NULL)
		o.set = "latest";
	fflush(stdout);
	return logical_restore_run(cli->meta, &o);
}

int
cmd_restore(Cli *cli, int argc, char **argv)
{
	RestoreOpts o = {0};
	Progress bar = {0};
	const char *port = NULL, *timeout = NULL, *jobs = NULL;
	StrList maps = {0}, pos = {0};
	ArgSpec specs[] = {
		{"cluster", ARG_STRING, &o.cluster, true},
		{"tenant", ARG_STRING, &o.tenant, true},
		{"set", ARG_STRING, &o.set, false},
		{"to", ARG_STRING, &o.to, false},
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
		{"jobs", ARG_STRING, &jobs, false},
		{NULL, 0, NULL, false},
	};
	TablespaceMap *tm = NULL;
	uint64_t v;
	int rc;

	if (given(argc, argv, "as") || given(argc, argv, "sql-file"))
		return restore_logical(cli, argc, argv);
	for (size_t i = 0; logical_only[i]; i++)
		if (given(argc, argv, logical_only[i])) {
			err_set(ERR_INVALID, "--%s is for a logical restore; it needs --as NEWDB", logical_only[i]);
			return cli_usage_error(RESTORE_USAGE);
		}
	if (args_parse(argc, argv, specs, &pos) < 0 || pos.count) {
		if (pos.count)
			err_set(ERR_INVALID, "unexpected argument \"%s\"", pos.items[0]);
		rc = cli_usage_error(RESTORE_USAGE);
		goto out;
	}
	if (o.to == NULL) {
		err_set(ERR_INVALID, "restore needs --to DIR (a physical set), or --as NEWDB or --sql-file FILE (a logical set)");
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
	if (jobs) {
		if (str_to_u64(&v, jobs, "--jobs") < 0 || v == 0 || v > 64) {
			err_set(ERR_INVALID, "invalid value for --jobs: \"%s\"", jobs);
			err_hint("Give the number of worker threads laying the files down, from 1 to 64.");
			rc = cli_usage_error(RESTORE_USAGE);
			goto out;
		}
		o.jobs = (int)v;
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
	if (progress_wanted()) {
		progress_begin(&bar, "restore");
		o.progress_cb = progress_update;
		o.payload = &bar;
	}
	rc = restore_run(cli->meta, &o);
	progress_end(&bar);
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
