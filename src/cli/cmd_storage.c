/*
 * cmd_storage.c - "storage test|add|list|remove": the storage checks of the
 * console's Test button, and named storage configurations (the CLI side of
 * /api/v1/storages).
 */
#include "cli/args.h"
#include "cli/cli.h"

#include "common/buf.h"
#include "common/error.h"
#include "common/strutil.h"
#include "common/json.h"
#include "storage/storage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STORAGE_USAGE \
	"tenback storage test URI|NAME [--storage-credentials FILE] [--output text|json]\n" \
	"       tenback storage add NAME --uri URI [--storage-credentials FILE]\n" \
	"       tenback storage list [--output text|json]\n" \
	"       tenback storage remove NAME"

/*
 * The key pair for a URI: from FILE, else AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY;
 * for a name, the configuration's sealed pair.  *out_uri is the caller's.
 */
static int
resolve(Cli *cli, const char *what, const char *cred_file, char **out_uri, char **access, char **secret)
{
	MetaStorage sc = {0};
	int rc;

	*out_uri = NULL;
	if (strstr(what, "://")) {
		if ((rc = storage_credentials_resolve(what, cred_file, access, secret)) == 0)
			*out_uri = xstrdup(what);
		return rc;
	}
	if (cred_file) {
		rc = err_set(ERR_INVALID, "--storage-credentials goes with a URI, not with storage configuration \"%s\"",
		             what);
		err_hint("A configuration tests with its own sealed keys.");
		return rc;
	}
	if ((rc = meta_storage_get(cli->meta, what, &sc)) < 0)
		return rc;
	if ((rc = meta_storage_keys(cli->meta, &sc, access, secret)) == 0)
		*out_uri = xstrdup(sc.uri);
	meta_storage_clear(&sc);
	return rc;
}

static int
storage_test_cmd(Cli *cli, int argc, char **argv)
{
	const char *cred_file = NULL, *output = NULL;
	StrList pos = {0};
	ArgSpec specs[] = {
		{"storage-credentials", ARG_STRING, &cred_file, false},
		{"output", ARG_STRING, &output, false},
		{NULL, 0, NULL, false},
	};
	char *uri = NULL, *access = NULL, *secret = NULL;
	StorageTestReport r;
	bool json;
	int rc;

	if (args_parse(argc, argv, specs, &pos) < 0 || pos.count != 1 || cli_output_json(&json, output) != 0) {
		if (err_code() == 0)
			err_set(ERR_INVALID, "storage test needs exactly one URI or storage configuration name");
		strlist_free(&pos);
		return cli_usage_error(STORAGE_USAGE);
	}
	if ((rc = resolve(cli, pos.items[0], cred_file, &uri, &access, &secret)) < 0)
		goto out;
	memset(&r, 0, sizeof(r));
	StorageOpenOpts so = {access, secret, NULL};
	if ((rc = storage_test_opts(uri, access ? &so : NULL, &r)) < 0)
		goto out;
	if (json) {
		Buf b = BUF_INIT;
		JsonWriter w;
		json_writer_init(&w, &b, true);
		storage_test_report_json(&w, uri, &r);
		printf("%s\n", b.data);
		buf_free(&b);
	} else {
		for (int i = 0; i < r.n_checks && i < STORAGE_TEST_MAX_CHECKS; i++)
			printf("%-10s  %-6s  %5lld ms  %s\n", r.checks[i].name, r.checks[i].ok ? "ok" : "FAILED",
			       (long long)r.checks[i].elapsed_ms, r.checks[i].message);
	}
	if (!r.ok) {
		const StorageCheck *bad = NULL;
		for (int i = 0; i < r.n_checks && i < STORAGE_TEST_MAX_CHECKS; i++)
			if (!r.checks[i].ok) {
				bad = &r.checks[i];
				break;
			}
		rc = err_set(ERR_INVALID, "the storage test failed at the \"%s\" check", bad ? bad->name : "?");
		if (bad)
			err_detail("%s", bad->message);
	} else if (!json) {
		printf("storage test passed\n");
	}
out:
	strlist_free(&pos);
	free(uri);
	str_wipe_free(access);
	str_wipe_free(secret);
	return rc;
}

static int
storage_add_cmd(Cli *cli, int argc, char **argv)
{
	const char *uri = NULL, *cred_file = NULL;
	StrList pos = {0};
	ArgSpec specs[] = {
		{"uri", ARG_STRING, &uri, true},
		{"storage-credentials", ARG_STRING, &cred_file, false},
		{NULL, 0, NULL, false},
	};
	char *access = NULL, *secret = NULL;
	MetaStorage s = {0};
	Storage *st = NULL;
	int rc;

	if (args_parse(argc, argv, specs, &pos) < 0 || pos.count != 1) {
		if (err_code() == 0)
			err_set(ERR_INVALID, "storage add needs exactly one NAME");
		strlist_free(&pos);
		return cli_usage_error(STORAGE_USAGE);
	}
	if (strstr(uri, "://") == NULL) {
		rc = err_set(ERR_INVALID, "invalid storage URI \"%s\"", uri);
		err_hint("Use file:///path or s3://bucket/prefix?endpoint=...&region=....");
		goto out;
	}
	if ((rc = storage_credentials_resolve(uri, cred_file, &access, &secret)) < 0)
		goto out;
	/* the keys must work before they are kept */
	StorageOpenOpts so = {access, secret, NULL};
	if ((rc = storage_open_opts(&st, uri, access ? &so : NULL)) < 0 || (rc = storage_probe(st, "tenback")) < 0)
		goto out;
	s.name = pos.items[0];
	s.uri = (char *)uri;
	if ((rc = meta_storage_seal_keys(cli->meta, &s, access, secret)) < 0 || (rc = meta_storage_put(cli->meta, &s)) < 0)
		goto out;
	printf("storage configuration \"%s\" saved%s\n", s.name, access ? " (its keys sealed in the metadata)" : "");
out:
	free(s.secret);
	storage_free(st);
	strlist_free(&pos);
	str_wipe_free(access);
	str_wipe_free(secret);
	return rc;
}

static int
storage_list_cmd(Cli *cli, int argc, char **argv)
{
	const char *output = NULL;
	StrList pos = {0};
	ArgSpec specs[] = {{"output", ARG_STRING, &output, false}, {NULL, 0, NULL, false}};
	MetaStorage *ss = NULL;
	size_t n = 0;
	bool json;
	int rc;

	if (args_parse(argc, argv, specs, &pos) < 0 || pos.count || cli_output_json(&json, output) != 0) {
		strlist_free(&pos);
		return cli_usage_error(STORAGE_USAGE);
	}
	if ((rc = meta_storage_list(cli->meta, &ss, &n)) < 0)
		return rc;
	if (json) {
		Buf b = BUF_INIT;
		JsonWriter w;
		json_writer_init(&w, &b, true);
		json_array_begin(&w);
		for (size_t i = 0; i < n; i++) {
			json_object_begin(&w);
			json_kv_string(&w, "name", ss[i].name);
			json_kv_string(&w, "uri", ss[i].uri);
			json_kv_bool(&w, "has_secret", ss[i].secret != NULL);
			json_kv_string(&w, "created_at", ss[i].created_at);
			json_object_end(&w);
		}
		json_array_end(&w);
		printf("%s\n", b.data);
		buf_free(&b);
	} else {
		for (size_t i = 0; i < n; i++)
			printf("%-20s  %-5s  %s\n", ss[i].name, ss[i].secret ? "keys" : "-", ss[i].uri);
	}
	meta_storage_array_free(ss, n);
	return 0;
}

int
cmd_storage(Cli *cli, int argc, char **argv)
{
	if (argc >= 1 && strcmp(argv[0], "test") == 0)
		return storage_test_cmd(cli, argc - 1, argv + 1);
	if (argc >= 1 && strcmp(argv[0], "add") == 0)
		return storage_add_cmd(cli, argc - 1, argv + 1);
	if (argc >= 1 && strcmp(argv[0], "list") == 0)
		return storage_list_cmd(cli, argc - 1, argv + 1);
	if (argc == 2 && strcmp(argv[0], "remove") == 0) {
		int rc = meta_storage_remove(cli->meta, argv[1]);
		if (rc == 0)
			printf("storage configuration \"%s\" removed\n", argv[1]);
		return rc;
	}
	err_set(ERR_INVALID, "unknown storage subcommand");
	return cli_usage_error(STORAGE_USAGE);
}
