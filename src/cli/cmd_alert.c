/*
 * cmd_alert.c - "alert list|ack" and "notify channel add|list|remove,
 * test, attempts": the alerts the daemon fired and the channels that
 * carry them, on the local metadata.  Wiring only (src/alert does the work).
 *
 * Invariant: a channel's secret comes from a file (never the command
 * line, which ps and the audit log show), goes to notify_channel_create
 * and is wiped.
 */
#include "cli/args.h"
#include "cli/cli.h"

#include "alert/alert.h"
#include "common/buf.h"
#include "common/error.h"
#include "common/json.h"
#include "common/strutil.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ALERT_USAGE "tenback alert list [--all] [--output text|json]\n" \
	"       tenback alert ack ID"
#define NOTIFY_USAGE "tenback notify channel add NAME --type webhook|email --url URL [--secret-file FILE]\n" \
	"                  [--kinds KIND[,KIND]] [--from ADDR --to ADDR[,ADDR] [--username USER]]\n" \
	"       tenback notify channel list [--output text|json]\n" \
	"       tenback notify channel remove NAME\n" \
	"       tenback notify test NAME\n" \
	"       tenback notify attempts [--channel NAME] [--limit N] [--output text|json]"

static int
print_json_list(void (*emit)(JsonWriter *, const void *, size_t), const void *items, size_t n)
{
	Buf b = BUF_INIT;
	JsonWriter w;

	json_writer_init(&w, &b, true);
	json_array_begin(&w);
	for (size_t i = 0; i < n; i++)
		emit(&w, items, i);
	json_array_end(&w);
	printf("%s\n", b.data);
	buf_free(&b);
	return 0;
}

static void
emit_alert(JsonWriter *w, const void *items, size_t i)
{
	meta_alert_json(w, &((const MetaAlert *)items)[i]);
}

static void
emit_channel(JsonWriter *w, const void *items, size_t i)
{
	meta_channel_json(w, &((const MetaChannel *)items)[i]);
}

static void
emit_attempt(JsonWriter *w, const void *items, size_t i)
{
	meta_attempt_json(w, &((const MetaAttempt *)items)[i]);
}

static int
alert_list_cmd(Cli *cli, int argc, char **argv)
{
	const char *output = NULL;
	bool all = false, json;
	StrList pos = {0};
	ArgSpec specs[] = {
		{"output", ARG_STRING, &output, false},
		{"all", ARG_FLAG, &all, false},
		{NULL, 0, NULL, false},
	};
	MetaAlert *a = NULL;
	size_t n = 0;
	int rc;

	if (args_parse(argc, argv, specs, &pos) < 0 || pos.count || cli_output_json(&json, output) != 0) {
		if (pos.count)
			err_set(ERR_INVALID, "unexpected argument \"%s\"", pos.items[0]);
		strlist_free(&pos);
		return cli_usage_error(ALERT_USAGE);
	}
	if ((rc = meta_alert_list(cli->meta, !all, 1000, &a, &n)) < 0)
		return rc;
	if (json) {
		print_json_list(emit_alert, a, n);
	} else if (n == 0) {
		printf(all ? "no alert\n" : "no alert firing\n");
	} else {
		printf("%-6s %-9s %-20s %-24s %-23s %s\n", "ID", "STATE", "KIND", "OBJECT", "FIRED", "MESSAGE");
		for (size_t i = 0; i < n; i++)
			printf("%-6lld %-9s %-20s %-24s %-23s %s\n", (long long)a[i].id, a[i].resolved_at ? "resolved" : "firing",
			       a[i].kind, a[i].object, a[i].fired_at, a[i].message);
	}
	meta_alert_array_free(a, n);
	return 0;
}

static int
alert_ack_cmd(Cli *cli, int argc, char **argv)
{
	uint64_t id = 0;
	struct passwd *pw;
	char user[80];
	int rc;

	if (argc != 1 || str_to_u64(&id, argv[0], "alert id") < 0 || id == 0) {
		if (argc != 1 || id == 0)
			err_set(ERR_INVALID, "alert ack needs exactly one alert ID");
		return cli_usage_error(ALERT_USAGE);
	}
	pw = getpwuid(geteuid());
	snprintf(user, sizeof(user), "os:%s", pw ? pw->pw_name : "?");
	if ((rc = meta_alert_ack(cli->meta, (int64_t)id, user)) == 0)
		printf("alert %llu acknowledged\n", (unsigned long long)id);
	return rc;
}

int
cmd_alert(Cli *cli, int argc, char **argv)
{
	if (argc >= 1 && strcmp(argv[0], "list") == 0)
		return alert_list_cmd(cli, argc - 1, argv + 1);
	if (argc >= 1 && strcmp(argv[0], "ack") == 0)
		return alert_ack_cmd(cli, argc - 1, argv + 1);
	err_set(ERR_INVALID, "unknown alert command \"%s\"", argc ? argv[0] : "");
	return cli_usage_error(ALERT_USAGE);
}

/* The first line of a file (malloc'd, without its end of line). */
static int
read_secret_file(const char *path, char **out)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;

	*out = NULL;
	if (f == NULL)
		return err_errno(errno, "could not open secret file \"%s\"", path);
	len = getline(&line, &cap, f);
	fclose(f);
	if (len <= 0) {
		free(line);
		return err_set(ERR_INVALID, "secret file \"%s\" is empty", path);
	}
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		line[--len] = '\0';
	*out = line;
	return 0;
}

static int
channel_add_cmd(Cli *cli, int argc, char **argv)
{
	const char *type = NULL, *url = NULL, *secret_file = NULL, *kinds = NULL, *from = NULL, *to = NULL,
	           *username = NULL;
	StrList pos = {0};
	ArgSpec specs[] = {
		{"type", ARG_STRING, &type, true},
		{"url", ARG_STRING, &url, true},
		{"secret-file", ARG_STRING, &secret_file, false},
		{"kinds", ARG_STRING, &kinds, false},
		{"from", ARG_STRING, &from, false},
		{"to", ARG_STRING, &to, false},
		{"username", ARG_STRING, &username, false},
		{NULL, 0, NULL, false},
	};
	NotifyChannelSpec spec = {0};
	MetaChannel c = {0};
	char *secret = NULL;
	int rc;

	if (args_parse(argc, argv, specs, &pos) < 0 || pos.count != 1) {
		if (pos.count != 1)
			err_set(ERR_INVALID, "notify channel add needs exactly one NAME");
		strlist_free(&pos);
		return cli_usage_error(NOTIFY_USAGE);
	}
	if (secret_file && (rc = read_secret_file(secret_file, &secret)) < 0)
		goto out;
	spec.name = pos.items[0];
	spec.type = type;
	spec.url = url;
	spec.secret = secret;
	spec.kinds = kinds;
	spec.from = from;
	spec.to = to;
	spec.username = username;
	if ((rc = notify_channel_create(cli->meta, &spec, &c)) == 0)
		printf("notification channel \"%s\" added (id %lld)\n", c.name, (long long)c.id);
out:
	str_wipe_free(secret);
	meta_channel_clear(&c);
	strlist_free(&pos);
	return rc;
}

static int
channel_list_cmd(Cli *cli, int argc, char **argv)
{
	const char *output = NULL;
	StrList pos = {0};
	ArgSpec specs[] = {{"output", ARG_STRING, &output, false}, {NULL, 0, NULL, false}};
	MetaChannel *cs = NULL;
	size_t n = 0;
	bool json;
	int rc;

	if (args_parse(argc, argv, specs, &pos) < 0 || pos.count || cli_output_json(&json, output) != 0) {
		strlist_free(&pos);
		return cli_usage_error(NOTIFY_USAGE);
	}
	if ((rc = meta_channel_list(cli->meta, &cs, &n)) < 0)
		return rc;
	if (json) {
		print_json_list(emit_channel, cs, n);
	} else {
		printf("%-4s %-20s %-8s %-40s %s\n", "ID", "NAME", "TYPE", "URL", "KINDS");
		for (size_t i = 0; i < n; i++)
			printf("%-4lld %-20s %-8s %-40s %s\n", (long long)cs[i].id, cs[i].name, cs[i].type, cs[i].url,
			       cs[i].kinds && *cs[i].kinds ? cs[i].kinds : "(all)");
	}
	meta_channel_array_free(cs, n);
	return 0;
}

static int
channel_remove_cmd(Cli *cli, int argc, char **argv)
{
	MetaChannel c;
	int rc;

	if (argc != 1) {
		err_set(ERR_INVALID, "notify channel remove needs exactly one NAME");
		return cli_usage_error(NOTIFY_USAGE);
	}
	if ((rc = meta_channel_get(cli->meta, argv[0], &c)) < 0)
		return rc;
	if ((rc = meta_channel_remove(cli->meta, c.id)) == 0)
		printf("notification channel \"%s\" removed\n", c.name);
	meta_channel_clear(&c);
	return rc;
}

static int
test_cmd(Cli *cli, int argc, char **argv)
{
	bool delivered = false;
	char *error = NULL;
	int64_t delivery = 0;
	int rc;

	if (argc != 1) {
		err_set(ERR_INVALID, "notify test needs exactly one channel NAME");
		return cli_usage_error(NOTIFY_USAGE);
	}
	if ((rc = notify_test(cli->meta, argv[0], &delivered, &error, &delivery)) < 0)
		return rc;
	if (delivered) {
		printf("test notification delivered through channel \"%s\" (delivery %lld)\n", argv[0], (long long)delivery);
	} else {
		rc = err_set(ERR_NETWORK, "test notification through channel \"%s\" failed: %s", argv[0], error);
		err_hint("\"tenback notify attempts --channel %s\" lists the attempts.", argv[0]);
	}
	free(error);
	return rc;
}

static int
attempts_cmd(Cli *cli, int argc, char **argv)
{
	const char *output = NULL, *channel = NULL, *limit_s = NULL;
	StrList pos = {0};
	ArgSpec specs[] = {
		{"output", ARG_STRING, &output, false},
		{"channel", ARG_STRING, &channel, false},
		{"limit", ARG_STRING, &limit_s, false},
		{NULL, 0, NULL, false},
	};
	MetaAttempt *a = NULL;
	MetaChannel c = {0};
	uint64_t limit = 100;
	size_t n = 0;
	bool json;
	int rc;

	if (args_parse(argc, argv, specs, &pos) < 0 || pos.count || cli_output_json(&json, output) != 0 ||
	    (limit_s && (str_to_u64(&limit, limit_s, "--limit") < 0 || limit < 1 || limit > 100000))) {
		if (pos.count)
			err_set(ERR_INVALID, "unexpected argument \"%s\"", pos.items[0]);
		strlist_free(&pos);
		return cli_usage_error(NOTIFY_USAGE);
	}
	if (channel && (rc = meta_channel_get(cli->meta, channel, &c)) < 0)
		return rc;
	rc = meta_attempt_list(cli->meta, c.id, (int64_t)limit, &a, &n);
	meta_channel_clear(&c);
	if (rc < 0)
		return rc;
	if (json) {
		print_json_list(emit_attempt, a, n);
	} else {
		printf("%-6s %-8s %-16s %-9s %-3s %-23s %-9s %s\n", "ID", "DELIVERY", "CHANNEL", "EVENT", "TRY", "AT", "OUTCOME",
		       "ERROR");
		for (size_t i = 0; i < n; i++)
			printf("%-6lld %-8lld %-16s %-9s %-3lld %-23s %-9s %s\n", (long long)a[i].id, (long long)a[i].delivery_id,
			       a[i].channel, a[i].event, (long long)a[i].attempt, a[i].at, a[i].outcome,
			       a[i].error ? a[i].error : "");
	}
	meta_attempt_array_free(a, n);
	return 0;
}

int
cmd_notify(Cli *cli, int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[0], "channel") == 0) {
		if (strcmp(argv[1], "add") == 0)
			return channel_add_cmd(cli, argc - 2, argv + 2);
		if (strcmp(argv[1], "list") == 0)
			return channel_list_cmd(cli, argc - 2, argv + 2);
		if (strcmp(argv[1], "remove") == 0)
			return channel_remove_cmd(cli, argc - 2, argv + 2);
	}
	if (argc >= 1 && strcmp(argv[0], "test") == 0)
		return test_cmd(cli, argc - 1, argv + 1);
	if (argc >= 1 && strcmp(argv[0], "attempts") == 0)
		return attempts_cmd(cli, argc - 1, argv + 1);
	err_set(ERR_INVALID, "unknown notify command \"%s\"", argc ? argv[0] : "");
	return cli_usage_error(NOTIFY_USAGE);
}
