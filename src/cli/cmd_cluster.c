/*
 * cmd_cluster.c - "cluster add|list|remove" and "tenant list".
 */
#include "cli/args.h"
#include "cli/cli.h"

#include "backup/backup.h"
#include "common/buf.h"
#include "common/error.h"
#include "common/json.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define CLUSTER_USAGE "tenback cluster add NAME --conninfo CONNINFO [--pgdata DIR] --storage URI [--compress METHOD]\n" \
	"       [--storage-credentials FILE]   (s3://: a 0600 file; else AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)\n" \
	"       tenback cluster list [--output text|json]\n       tenback cluster remove NAME"

static int
cluster_add_cmd(Cli *cli, int argc, char **argv)
{
	ClusterAddOpts o = {0};
	StrList pos = {0};
	ArgSpec specs[] = {
		{"conninfo", ARG_STRING, &o.conninfo, true},
		{"pgdata", ARG_STRING, &o.pgdata, false},
		{"storage", ARG_STRING, &o.storage, true},
		{"compress", ARG_STRING, &o.compress, false},
		{"storage-credentials", ARG_STRING, &o.storage_credentials, false},
		{NULL, 0, NULL, false},
	};
	int rc;

	IoCompress comp;

	if ((rc = args_parse(argc, argv, specs, &pos)) < 0 || pos.count != 1 ||
	    (o.compress && (rc = io_compress_parse(&comp, o.compress)) < 0)) {
		if (rc == 0)
			err_set(ERR_INVALID, "cluster add needs exactly one NAME");
		strlist_free(&pos);
		return cli_usage_error(CLUSTER_USAGE);
	}
	o.name = pos.items[0];
	if ((rc = cluster_add(cli->meta, &o)) == 0)
		printf("cluster \"%s\" registered%s\n", o.name,
		       o.pgdata ? "" : " without a data directory: its tenants are backed up logically (pg_dump)");
	strlist_free(&pos);
	return rc;
}

static int
cluster_list_cmd(Cli *cli, int argc, char **argv)
{
	const char *output = NULL;
	StrList pos = {0};
	ArgSpec specs[] = {{"output", ARG_STRING, &output, false}, {NULL, 0, NULL, false}};
	MetaCluster *cs = NULL;
	size_t n = 0;
	bool json;
	int rc;

	if (args_parse(argc, argv, specs, &pos) < 0 || pos.count || cli_output_json(&json, output) != 0) {
		strlist_free(&pos);
		return cli_usage_error(CLUSTER_USAGE);
	}
	if ((rc = meta_cluster_list(cli->meta, &cs, &n)) < 0)
		return rc;
	if (json) {
		Buf b = BUF_INIT;
		JsonWriter w;
		json_writer_init(&w, &b, true);
		json_array_begin(&w);
		for (size_t i = 0; i < n; i++) {
			json_object_begin(&w);
			json_kv_string(&w, "name", cs[i].name);
			json_kv_string(&w, "conninfo", cs[i].conninfo);
			json_kv_string(&w, "pgdata", cs[i].pgdata);
			json_kv_string(&w, "storage", cs[i].storage);
			json_kv_string(&w, "compress", cs[i].compress);
			json_kv_string(&w, "system_id", cs[i].system_id);
			json_kv_int(&w, "pg_version", cs[i].pg_version);
			json_kv_string(&w, "status", cs[i].status);
			json_kv_string(&w, "created_at", cs[i].created_at);
			json_object_end(&w);
		}
		json_array_end(&w);
		printf("%s\n", b.data);
		buf_free(&b);
	} else {
		printf("%-16s %-8s %-20s %-10s %s\n", "NAME", "VERSION", "SYSTEM ID", "STATUS", "STORAGE");
		for (size_t i = 0; i < n; i++)
			printf("%-16s %-8d %-20s %-10s %s\n", cs[i].name, cs[i].pg_version, cs[i].system_id, cs[i].status,
			       cs[i].storage);
	}
	meta_cluster_array_free(cs, n);
	return 0;
}

int
cmd_cluster(Cli *cli, int argc, char **argv)
{
	if (argc >= 1 && strcmp(argv[0], "add") == 0)
		return cluster_add_cmd(cli, argc - 1, argv + 1);
	if (argc >= 1 && strcmp(argv[0], "list") == 0)
		return cluster_list_cmd(cli, argc - 1, argv + 1);
	if (argc == 2 && strcmp(argv[0], "remove") == 0) {
		int rc = meta_cluster_remove(cli->meta, argv[1]);
		if (rc == 0)
			printf("cluster \"%s\" removed (its backups stay in its storage)\n", argv[1]);
		return rc;
	}
	err_set(ERR_INVALID, "unknown cluster subcommand");
	return cli_usage_error(CLUSTER_USAGE);
}

#define TENANT_USAGE "tenback tenant list --cluster NAME [--output text|json]"

int
cmd_tenant(Cli *cli, int argc, char **argv)
{
	const char *cluster = NULL, *output = NULL;
	StrList pos = {0};
	ArgSpec specs[] = {
		{"cluster", ARG_STRING, &cluster, true},
		{"output", ARG_STRING, &output, false},
		{NULL, 0, NULL, false},
	};
	TenantInfo *ts = NULL;
	size_t n = 0;
	bool json;
	int rc;

	if (argc < 1 || strcmp(argv[0], "list") != 0) {
		err_set(ERR_INVALID, "unknown tenant subcommand");
		return cli_usage_error(TENANT_USAGE);
	}
	if (args_parse(argc - 1, argv + 1, specs, &pos) < 0 || pos.count || cli_output_json(&json, output) != 0) {
		strlist_free(&pos);
		return cli_usage_error(TENANT_USAGE);
	}
	if ((rc = tenant_list(cli->meta, cluster, &ts, &n)) < 0)
		return rc;
	if (json) {
		Buf b = BUF_INIT;
		JsonWriter w;
		json_writer_init(&w, &b, true);
		json_array_begin(&w);
		for (size_t i = 0; i < n; i++) {
			json_object_begin(&w);
			json_kv_string(&w, "name", ts[i].name);
			json_kv_uint(&w, "oid", ts[i].oid);
			json_kv_string(&w, "owner", ts[i].owner);
			json_kv_int(&w, "size_bytes", ts[i].size_bytes);
			json_kv_bool(&w, "template", ts[i].is_template);
			json_kv_string(&w, "backup_method", ts[i].backup_method);
			json_kv_string(&w, "backup_method_reason", ts[i].backup_method_reason);
			json_object_end(&w);
		}
		json_array_end(&w);
		printf("%s\n", b.data);
		buf_free(&b);
	} else {
		printf("%-24s %-8s %-16s %12s %-9s %s\n", "TENANT", "OID", "OWNER", "SIZE", "METHOD", "WHY");
		for (size_t i = 0; i < n; i++) {
			char size[32];
			if (ts[i].size_bytes < 0)
				snprintf(size, sizeof(size), "-");
			else
				size_format(size, sizeof(size), (uint64_t)ts[i].size_bytes);
			printf("%-24s %-8u %-16s %12s %-9s %s\n", ts[i].name, ts[i].oid, ts[i].owner, size, ts[i].backup_method,
			       ts[i].backup_method_reason);
		}
	}
	tenant_array_free(ts, n);
	return 0;
}
