/*
 * cmd_backup.c - "backup", "set list" and "verify".
 */
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/progress.h"
#include "cli/remote.h"

#include "backup/backup.h"
#include "common/buf.h"
#include "common/error.h"
#include "common/json.h"
#include "common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BACKUP_USAGE "tenback backup --cluster NAME --tenant DB|'*' [--mode full|incremental] " \
	"[--method physical|logical] [--storage NAME]\n" \
	"       [--compress none|lz4|zstd] [--jobs N] [--max-rate RATE] [--archive-timeout SEC] [--pg-bin DIR]\n" \
	"       [--detect wal|scan|compare] [--checksum crc32c|sha256]\n" \
	"       tenback --server URL backup --cluster NAME --tenant DB [--mode M] [--method M] [--storage NAME]\n" \
	"       [--max-rate RATE] [--wait]"

int
cmd_backup(Cli *cli, int argc, char **argv)
{
	BackupOpts o = {0};
	Progress bar = {0};
	const char *timeout = NULL, *storage = NULL, *jobs = NULL, *max_rate = NULL;
	bool wait = false;
	StrList pos = {0};
	ArgSpec specs[] = {
		{"cluster", ARG_STRING, &o.cluster, true},
		{"tenant", ARG_STRING, &o.tenant, true},
		{"mode", ARG_STRING, &o.mode, false},
		{"method", ARG_STRING, &o.method, false},
		{"pg-bin", ARG_STRING, &o.pg_bin, false},
		{"compress", ARG_STRING, &o.compress, false},
		{"checksum", ARG_STRING, &o.checksum, false},
		{"archive-timeout", ARG_STRING, &timeout, false},
		{"storage", ARG_STRING, &storage, false},
		{"detect", ARG_STRING, &o.detect, false},
		{"jobs", ARG_STRING, &jobs, false},
		{"max-rate", ARG_STRING, &max_rate, false},
		{"wait", ARG_FLAG, &wait, false},
		{NULL, 0, NULL, false},
	};
	char *id = NULL;
	uint64_t t = 0, v = 0;
	IoCompress comp;
	IoChecksumKind kind;
	int rc;

	if (args_parse(argc, argv, specs, &pos) < 0 || pos.count ||
	    (timeout && str_to_u64(&t, timeout, "--archive-timeout") < 0) ||
	    (o.compress && io_compress_parse(&comp, o.compress) < 0) ||
	    (o.checksum && io_checksum_parse(&kind, o.checksum) < 0)) {
		if (pos.count)
			err_set(ERR_INVALID, "unexpected argument \"%s\"", pos.items[0]);
		strlist_free(&pos);
		return cli_usage_error(BACKUP_USAGE);
	}
	if (o.method && strcmp(o.method, "physical") != 0 && strcmp(o.method, "logical") != 0) {
		err_set(ERR_INVALID, "invalid backup method \"%s\"", o.method);
		err_hint("Use --method physical or --method logical, or leave it out to identify it automatically.");
		return cli_usage_error(BACKUP_USAGE);
	}
	if (o.detect && strcmp(o.detect, "wal") != 0 && strcmp(o.detect, "scan") != 0 && strcmp(o.detect, "compare") != 0) {
		err_set(ERR_INVALID, "invalid value for --detect: \"%s\"", o.detect);
		err_hint("Use wal (the default: changed pages named by the WAL since the parent), scan (read every page) "
		         "or compare (both, differences logged).");
		return cli_usage_error(BACKUP_USAGE);
	}
	if (jobs) {
		if (str_to_u64(&v, jobs, "--jobs") < 0 || v == 0 || v > 64) {
			err_set(ERR_INVALID, "invalid value for --jobs: \"%s\"", jobs);
			err_hint("Give the number of worker threads, from 1 to 64.");
			return cli_usage_error(BACKUP_USAGE);
		}
		if (cli->server) {
			err_set(ERR_INVALID, "--jobs is for a backup run by this command");
			err_hint("A backup through --server runs with the server's default (one worker per CPU).");
			return cli_usage_error(BACKUP_USAGE);
		}
		o.jobs = (int)v;
	}
	if (max_rate && (size_parse(&o.max_rate, max_rate, "--max-rate") < 0 ||
	                 backup_max_rate_check(o.max_rate, false, "--max-rate") < 0)) {
		if (o.max_rate == 0)
			err_hint("Give bytes per second with a unit: k, M or G (\"64M\" is 64 MiB per second).");
		return cli_usage_error(BACKUP_USAGE);
	}
	if (o.checksum && cli->server) {
		err_set(ERR_INVALID, "--checksum is for a backup run by this command");
		err_hint("A backup through --server stores CRC-32C checksums, the default.");
		return cli_usage_error(BACKUP_USAGE);
	}
	if (cli->server) {
		Remote r = {cli->server, cli->token};
		return remote_backup(&r, o.cluster, o.tenant, o.mode, o.method, storage, o.max_rate, wait);
	}
	/* --storage names a storage configuration; without it, the cluster's own storage */
	o.storage = storage;
	o.home = cli->home;
	o.archive_timeout_s = (int)t;
	/* a terminal: one line redrawn in place; else plain log lines (none with --quiet) */
	if (progress_wanted()) {
		progress_begin(&bar, "backup");
		o.progress_cb = progress_update;
		o.payload = &bar;
	} else {
		o.progress = log_get_level() >= LOG_INFO;
	}
	rc = backup_run(cli->meta, &o, &id);
	progress_end(&bar);
	if (rc == 0) {
		log_info("backup set %s of tenant \"%s\" completed", id, o.tenant);
		printf("%s\n", id);
	}
	free(id);
	return rc;
}

#define SET_USAGE "tenback set list --cluster NAME [--tenant DB] [--all] [--output text|json]\n" \
	"       tenback set delete --cluster NAME --tenant DB --set ID [--with-dependents]"

static int
set_delete_cmd(Cli *cli, int argc, char **argv)
{
	const char *cluster = NULL, *tenant = NULL, *set = NULL;
	bool deps = false;
	StrList pos = {0}, deleted = {0};
	ArgSpec specs[] = {
		{"cluster", ARG_STRING, &cluster, true},
		{"tenant", ARG_STRING, &tenant, true},
		{"set", ARG_STRING, &set, true},
		{"with-dependents", ARG_FLAG, &deps, false},
		{NULL, 0, NULL, false},
	};
	int rc;

	if (args_parse(argc, argv, specs, &pos) < 0 || pos.count) {
		strlist_free(&pos);
		return cli_usage_error(SET_USAGE);
	}
	rc = backup_set_delete(cli->meta, cluster, tenant, set, deps, &deleted);
	for (size_t i = 0; i < deleted.count; i++)
		printf("deleted %s\n", deleted.items[i]);
	strlist_free(&deleted);
	return rc;
}

int
cmd_set(Cli *cli, int argc, char **argv)
{
	const char *cluster = NULL, *tenant = NULL, *output = NULL;
	bool all = false, json;
	StrList pos = {0};
	ArgSpec specs[] = {
		{"cluster", ARG_STRING, &cluster, true},
		{"tenant", ARG_STRING, &tenant, false},
		{"output", ARG_STRING, &output, false},
		{"all", ARG_FLAG, &all, false},
		{NULL, 0, NULL, false},
	};
	MetaCluster c = {0};
	MetaSet *sets = NULL;
	size_t n = 0;
	int rc;

	if (argc >= 1 && strcmp(argv[0], "delete") == 0)
		return set_delete_cmd(cli, argc - 1, argv + 1);
	if (argc < 1 || strcmp(argv[0], "list") != 0) {
		err_set(ERR_INVALID, "unknown set subcommand");
		return cli_usage_error(SET_USAGE);
	}
	if (args_parse(argc - 1, argv + 1, specs, &pos) < 0 || pos.count || cli_output_json(&json, output) != 0) {
		strlist_free(&pos);
		return cli_usage_error(SET_USAGE);
	}
	if ((rc = meta_cluster_get(cli->meta, cluster, &c)) < 0)
		return rc;
	meta_cluster_clear(&c);
	/* Only completed sets are backups; --all shows failed and running attempts too. */
	if ((rc = meta_set_list(cli->meta, cluster, tenant, all ? NULL : "completed", &sets, &n)) < 0)
		return rc;
	if (json) {
		Buf b = BUF_INIT;
		JsonWriter w;
		json_writer_init(&w, &b, true);
		json_array_begin(&w);
		for (size_t i = 0; i < n; i++) {
			json_object_begin(&w);
			json_kv_string(&w, "id", sets[i].id);
			json_kv_string(&w, "cluster", sets[i].cluster);
			json_kv_string(&w, "tenant", sets[i].tenant);
			json_kv_string(&w, "type", sets[i].type);
			json_kv_string(&w, "parent", sets[i].parent);
			/* the chain a restore of this set reads, full first */
			json_key(&w, "chain");
			json_array_begin(&w);
			{
				StrList chain = {0};
				const char *id = sets[i].id;
				while (id && chain.count <= n) {
					const char *parent = NULL;
					strlist_add(&chain, id);
					for (size_t k = 0; k < n; k++)
						if (strcmp(sets[k].id, id) == 0)
							parent = sets[k].parent;
					id = parent;
				}
				for (size_t k = chain.count; k-- > 0;)
					json_string(&w, chain.items[k]);
				strlist_free(&chain);
			}
			json_array_end(&w);
			json_kv_string(&w, "method", sets[i].method);
			json_kv_string(&w, "status", sets[i].status);
			json_kv_string(&w, "start_time", sets[i].start_time);
			json_kv_string(&w, "stop_time", sets[i].stop_time);
			json_kv_string(&w, "start_lsn", sets[i].start_lsn);
			json_kv_string(&w, "stop_lsn", sets[i].stop_lsn);
			json_kv_int(&w, "timeline", sets[i].timeline);
			json_kv_int(&w, "size_bytes", sets[i].size_bytes);
			json_kv_int(&w, "stored_bytes", sets[i].stored_bytes);
			json_kv_int(&w, "file_count", sets[i].file_count);
			json_kv_string(&w, "storage", sets[i].storage); /* null: the cluster's own storage */
			json_kv_string(&w, "storage_path", sets[i].storage_path);
			json_kv_string(&w, "encryption_key", sets[i].encryption_key); /* null: not encrypted */
			if (sets[i].error)
				json_kv_string(&w, "error", sets[i].error);
			json_kv_string(&w, "verify_status", sets[i].verify_status);
			json_kv_string(&w, "verified_at", sets[i].verified_at);
			json_object_end(&w);
		}
		json_array_end(&w);
		printf("%s\n", b.data);
		buf_free(&b);
	} else {
		printf("%-17s %-12s %-12s %-9s %-17s %-10s %-22s %-22s %10s %10s\n", "SET", "TENANT", "TYPE", "METHOD",
		       "PARENT", "STATUS", "START", "STOP", "SIZE", "STORED");
		for (size_t i = 0; i < n; i++) {
			char size[32], stored[32];
			size_format(size, sizeof(size), (uint64_t)sets[i].size_bytes);
			size_format(stored, sizeof(stored), (uint64_t)sets[i].stored_bytes);
			printf("%-17s %-12s %-12s %-9s %-17s %-10s %-22s %-22s %10s %10s\n", sets[i].id, sets[i].tenant,
			       sets[i].type, sets[i].method ? sets[i].method : "-", sets[i].parent ? sets[i].parent : "-",
			       sets[i].status, sets[i].start_time ? sets[i].start_time : "-",
			       sets[i].stop_time ? sets[i].stop_time : "-", size, stored);
		}
	}
	meta_set_array_free(sets, n);
	return 0;
}

#define VERIFY_USAGE "tenback verify --cluster NAME --tenant DB --set ID|latest"

int
cmd_verify(Cli *cli, int argc, char **argv)
{
	const char *cluster = NULL, *tenant = NULL, *set = NULL;
	StrList pos = {0};
	ArgSpec specs[] = {
		{"cluster", ARG_STRING, &cluster, true},
		{"tenant", ARG_STRING, &tenant, true},
		{"set", ARG_STRING, &set, false},
		{NULL, 0, NULL, false},
	};
	VerifyReport rep;
	int rc;

	if (args_parse(argc, argv, specs, &pos) < 0 || pos.count) {
		strlist_free(&pos);
		return cli_usage_error(VERIFY_USAGE);
	}
	if ((rc = backup_verify(cli->meta, cluster, tenant, set ? set : "latest", &rep)) == 0)
		printf("backup set verified: %zu files and %zu WAL segments, %.1f MiB, all checksums match\n",
		       rep.files_checked, rep.wal_checked, (double)rep.bytes_checked / 1048576.0);
	return rc;
}
