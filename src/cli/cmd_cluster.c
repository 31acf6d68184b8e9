/*
 * cmd_cluster.c - "cluster add|list|remove", a cluster's encryption keys
 * ("cluster encryption|keys|key-add|key-remove") and "tenant list".
 */
#include "cli/args.h"
#include "cli/cli.h"

#include "backup/backup.h"
#include "common/buf.h"
#include "common/error.h"
#include "common/json.h"
#include "io/cipher.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define CLUSTER_USAGE "tenback cluster add NAME --conninfo CONNINFO [--pgdata DIR] --storage URI [--compress METHOD]\n" \
	"       [--storage-credentials FILE]   (s3://: a 0600 file; else AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)\n" \
	"       tenback cluster list [--output text|json]\n       tenback cluster remove NAME\n" \
	"       tenback cluster encryption NAME --key-file FILE | --passphrase-file FILE | --off\n" \
	"       tenback cluster key-add NAME --key-file FILE | --passphrase-file FILE   (an old key, to read with)\n" \
	"       tenback cluster key-remove NAME --fingerprint FP\n" \
	"       tenback cluster keys NAME [--output text|json]"

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

/* "encryption" (current: true) and "key-add" (current: false). */
static int
cluster_key_cmd(Cli *cli, int argc, char **argv, bool current)
{
	KeyAddOpts o = {0};
	bool off = false;
	StrList pos = {0};
	ArgSpec specs[] = {
		{"key-file", ARG_STRING, &o.key_file, false},
		{"passphrase-file", ARG_STRING, &o.passphrase_file, false},
		{"off", ARG_FLAG, &off, false},
		{NULL, 0, NULL, false},
	};
	char fp[IO_FINGERPRINT_CHARS + 1];
	int given, rc;

	if ((rc = args_parse(argc, argv, specs, &pos)) < 0 || pos.count != 1) {
		if (rc == 0)
			err_set(ERR_INVALID, "cluster %s needs exactly one NAME", current ? "encryption" : "key-add");
		strlist_free(&pos);
		return cli_usage_error(CLUSTER_USAGE);
	}
	o.cluster = pos.items[0];
	o.current = current;
	given = (o.key_file != NULL) + (o.passphrase_file != NULL) + (current && off);
	if (given != 1 || (!current && off)) {
		err_set(ERR_INVALID, "give exactly one of --key-file, --passphrase-file%s", current ? " and --off" : "");
		err_hint("A key file holds 32 random bytes: (umask 077; head -c 32 /dev/urandom > FILE).");
		strlist_free(&pos);
		return cli_usage_error(CLUSTER_USAGE);
	}
	if (off) {
		if ((rc = cluster_encryption_off(cli->meta, o.cluster)) == 0)
			printf("cluster \"%s\": new backup sets and WAL are not encrypted; its keys are kept to read older "
			       "ones\n", o.cluster);
	} else if ((rc = cluster_key_add(cli->meta, &o, fp)) == 0) {
		if (current)
			printf("cluster \"%s\": new backup sets and WAL are encrypted with key %s\n", o.cluster, fp);
		else
			printf("cluster \"%s\": key %s added, to read what it encrypted\n", o.cluster, fp);
	}
	strlist_free(&pos);
	return rc;
}

static int
cluster_keys_cmd(Cli *cli, int argc, char **argv)
{
	const char *output = NULL;
	StrList pos = {0};
	ArgSpec specs[] = {{"output", ARG_STRING, &output, false}, {NULL, 0, NULL, false}};
	MetaCluster c = {0};
	MetaKey *keys = NULL;
	size_t n = 0;
	bool json;
	int rc;

	if (args_parse(argc, argv, specs, &pos) < 0 || pos.count != 1 || cli_output_json(&json, output) != 0) {
		if (pos.count != 1)
			err_set(ERR_INVALID, "cluster keys needs exactly one NAME");
		strlist_free(&pos);
		return cli_usage_error(CLUSTER_USAGE);
	}
	if ((rc = meta_cluster_get(cli->meta, pos.items[0], &c)) < 0 ||
	    (rc = meta_key_list(cli->meta, pos.items[0], &keys, &n)) < 0)
		goto out;
	if (json) {
		Buf b = BUF_INIT;
		JsonWriter w;
		json_writer_init(&w, &b, true);
		json_array_begin(&w);
		for (size_t key_idx = 0; key_idx < n; key_idx++) {
			json_object_begin(&w);
			json_kv_string(&w, "fingerprint", keys[key_idx].fingerprint);
			json_kv_string(&w, "kind", keys[key_idx].kind);
			json_kv_bool(&w, "current", keys[key_idx].current);
			json_kv_string(&w, "created_at", keys[key_idx].created_at);
			json_object_end(&w);
		}
		json_array_end(&w);
		printf("%s\n", b.data);
		buf_free(&b);
	} else {
		printf("%-16s %-10s %-7s %s\n", "FINGERPRINT", "KIND", "CURRENT", "CREATED");
		for (size_t key_idx = 0; key_idx < n; key_idx++)
			printf("%-16s %-10s %-7s %s\n", keys[key_idx].fingerprint, keys[key_idx].kind,
			       keys[key_idx].current ? "yes" : "no", keys[key_idx].created_at);
	}
out:
	meta_key_array_free(keys, n);
	meta_cluster_clear(&c);
	strlist_free(&pos);
	return rc;
}

static int
cluster_key_remove_cmd(Cli *cli, int argc, char **argv)
{
	const char *fp = NULL;
	StrList pos = {0};
	ArgSpec specs[] = {{"fingerprint", ARG_STRING, &fp, true}, {NULL, 0, NULL, false}};
	int rc;

	if ((rc = args_parse(argc, argv, specs, &pos)) < 0 || pos.count != 1) {
		if (rc == 0)
			err_set(ERR_INVALID, "cluster key-remove needs exactly one NAME");
		strlist_free(&pos);
		return cli_usage_error(CLUSTER_USAGE);
	}
	if ((rc = cluster_key_remove(cli->meta, pos.items[0], fp)) == 0)
		printf("cluster \"%s\": key %s removed; what it encrypted cannot be read without it\n", pos.items[0], fp);
	strlist_free(&pos);
	return rc;
}

int
cmd_cluster(Cli *cli, int argc, char **argv)
{
	if (argc >= 1 && strcmp(argv[0], "encryption") == 0)
		return cluster_key_cmd(cli, argc - 1, argv + 1, true);
	if (argc >= 1 && strcmp(argv[0], "key-add") == 0)
		return cluster_key_cmd(cli, argc - 1, argv + 1, false);
	if (argc >= 1 && strcmp(argv[0], "key-remove") == 0)
		return cluster_key_remove_cmd(cli, argc - 1, argv + 1);
	if (argc >= 1 && strcmp(argv[0], "keys") == 0)
		return cluster_keys_cmd(cli, argc - 1, argv + 1);
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
