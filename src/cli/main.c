/*
 * main.c - tenback's entry point: global options, the home directory,
 * command dispatch and exit codes (0 success, 1 error, 2 usage; 200 for an
 * archive-get that could not read the archive; doc/tenback.1, EXIT STATUS).
 */
#include "cli/cli.h"

#include "common/buf.h"
#include "common/error.h"
#include "common/log.h"
#include "common/strutil.h"

#include <malloc.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef TENBACK_VERSION
#define TENBACK_VERSION "dev"
#endif

static const char usage_text[] =
	"Usage: tenback [--home DIR] [--server URL [--token TOKEN]]\n"
	"               [--log-level error|warning|info|debug | --quiet | --verbose] COMMAND [OPTIONS]\n"
	"\n"
	"Backup and recovery for PostgreSQL tenants.\n"
	"\n"
	"Commands:\n"
	"  cluster add NAME --conninfo CONNINFO [--pgdata DIR] --storage URI [--compress zstd|lz4|none]\n"
	"              [--storage-credentials FILE]   (s3://bucket/prefix?endpoint=URL&region=R&uri-style=path)\n"
	"  cluster list [--output text|json]\n"
	"  cluster remove NAME\n"
	"  cluster encryption NAME --key-file FILE | --passphrase-file FILE | --off\n"
	"              (AES-256-GCM at rest: new sets and WAL use this key; older keys are kept to read with)\n"
	"  cluster key-add NAME --key-file FILE | --passphrase-file FILE   (an old key, to read what it encrypted)\n"
	"  cluster key-remove NAME --fingerprint FP\n"
	"  cluster keys NAME [--output text|json]\n"
	"  check --cluster NAME [--archive-timeout SEC] [--output text|json]   (the cluster's setup, one check a line)\n"
	"  tenant list --cluster NAME [--output text|json]\n"
	"  backup --cluster NAME --tenant DB|'*' [--mode full|incremental] [--method physical|logical]\n"
	"         [--compress zstd|lz4|none] [--storage NAME] [--archive-timeout SEC] [--pg-bin DIR]\n"
	"         [--jobs N] [--max-rate RATE] [--detect wal|scan|compare] [--checksum crc32c|sha256]\n"
	"         (NAME: a storage configuration; without --method, the one tenant list shows)\n"
	"  set list --cluster NAME [--tenant DB] [--all] [--output text|json]\n"
	"  set delete --cluster NAME --tenant DB --set ID [--with-dependents]\n"
	"  verify --cluster NAME --tenant DB --set ID|latest\n"
	"  restore --cluster NAME --tenant DB [--set ID|latest] --to DIR [--port N] [--start] [--force]\n"
	"          [--target latest|immediate | --target-time TIME | --target-lsn LSN | --target-xid XID |\n"
	"           --target-name NAME] [--tablespace-map OLD=NEW]... [--socket-dir DIR]\n"
	"          [--run-as USER] [--pg-bin DIR] [--timeout SEC]\n"
	"  restore --cluster NAME --tenant DB [--set ID|latest] --as NEWDB [--into-cluster NAME] [--jobs N]\n"
	"          [--force] [--pg-bin DIR] [--temp-dir DIR]   (a logical set, into a new database)\n"
	"  restore --cluster NAME --tenant DB [--set ID|latest] --sql-file FILE [--force]   (a logical set, as SQL)\n"
	"  window --cluster NAME --tenant DB [--output text|json]   (the restorable ranges)\n"
	"  storage test URI|NAME [--storage-credentials FILE] [--output text|json]   (each check, timed)\n"
	"  storage add NAME --uri URI [--storage-credentials FILE]   (a named storage configuration)\n"
	"  storage list [--output text|json]\n"
	"  storage remove NAME\n"
	"  audit list [--limit N] [--before ID] [--output text|json]   (who changed what: API, console and CLI)\n"
	"  archive-push --cluster NAME PATH       (archive_command, with %p)\n"
	"  archive-get --cluster NAME FILE PATH   (restore_command, with %f %p)\n"
	"  serve [--listen 127.0.0.1:8432] [--workers N] [--web DIR] [--alert-interval SEC]\n"
	"        (the daemon: REST API, console, tasks, alerts every SEC seconds, default 30)\n"
	"  alert list [--all] [--output text|json]   (firing alerts; --all: resolved ones too)\n"
	"  alert ack ID\n"
	"  notify channel add NAME --type webhook|email --url URL [--secret-file FILE] [--kinds K1,K2]\n"
	"                 [--from ADDR --to ADDR[,ADDR] [--username USER]]   (email: --secret-file holds the password)\n"
	"  notify channel list [--output text|json]\n"
	"  notify channel remove NAME\n"
	"  notify test NAME   (sends a test notification now)\n"
	"  notify attempts [--channel NAME] [--limit N] [--output text|json]   (delivery attempts)\n"
	"  user add NAME --role admin|operator|viewer   (password on standard input)\n"
	"  user list [--output text|json]\n"
	"  user passwd NAME   (new password on standard input; ends the user's sessions and tokens)\n"
	"  user remove NAME\n"
	"  user sessions [--user NAME] [--output text|json]   (live sessions and API tokens)\n"
	"  user revoke NAME | --id ID   (all sessions and tokens of a user, or one)\n"
	"  version\n"
	"\n"
	"--home defaults to $TENBACK_HOME, then ~/.local/share/tenback. With --server (and --token or\n"
	"$TENBACK_TOKEN) backup goes through a daemon: backup ... --wait follows the task's steps.\n"
	"--quiet (-q): errors only, no progress; --verbose (-v): debug. Every listing takes --output json.\n"
	"Exit status: 0 success, 1 failure, 2 usage error, 200 archive-get could not read the archive.\n";

static bool help_wanted; /* a --help among the command's arguments */

static char *
default_home(void)
{
	const char *env = getenv("TENBACK_HOME");
	const char *xdg = getenv("XDG_DATA_HOME");
	const char *home = getenv("HOME");

	if (env && *env)
		return xstrdup(env);
	if (xdg && *xdg)
		return path_join(xdg, "tenback");
	if (home && *home)
		return xasprintf("%s/.local/share/tenback", home);
	return xstrdup("/var/lib/tenback");
}

/* ~/.local/share may not exist yet: create the parents of the default home. */
static void
mkdir_parents(const char *path)
{
	char *p = xstrdup(path);

	for (char *s = strchr(p + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		mkdir(p, 0700);
		*s = '/';
	}
	free(p);
}

typedef struct Command {
	const char *name;
	int (*fn)(Cli *, int, char **);
} Command;

static const Command commands[] = {
	{"cluster", cmd_cluster},
	{"check", cmd_check},
	{"tenant", cmd_tenant},
	{"backup", cmd_backup},
	{"set", cmd_set},
	{"verify", cmd_verify},
	{"restore", cmd_restore},
	{"window", cmd_window},
	{"storage", cmd_storage},
	{"audit", cmd_audit},
	{"alert", cmd_alert},
	{"notify", cmd_notify},
	{"serve", cmd_serve},
	{"user", cmd_user},
	{"archive-push", cmd_archive_push},
	{"archive-get", cmd_archive_get},
	{NULL, NULL},
};

/* The audit log's word for a command that changes something ("cli.backup",
 * "cli.set.delete"); NULL for reads and for archive-push/-get, which
 * PostgreSQL runs for every segment. */
static char *
audit_action(const char *cmd, int argc, char **argv)
{
	static const char *const whole[] = {"backup", "restore", "verify", NULL};
	static const char *const with_sub[] = {"cluster", "set", "storage", "user", "alert", NULL};
	static const char *const reads[] = {"list", "show", "test", "sessions", "keys", "--help", NULL};

	/* notify: channel add|remove and test change or send something */
	if (strcmp(cmd, "notify") == 0) {
		if (argc >= 2 && strcmp(argv[0], "channel") == 0 && strcmp(argv[1], "list") != 0)
			return xasprintf("cli.notify.channel.%s", argv[1]);
		if (argc >= 1 && strcmp(argv[0], "test") == 0)
			return xstrdup("cli.notify.test");
		return NULL;
	}

	for (int i = 0; whole[i]; i++)
		if (strcmp(cmd, whole[i]) == 0)
			return xasprintf("cli.%s", cmd);
	for (int i = 0; with_sub[i]; i++) {
		if (strcmp(cmd, with_sub[i]) != 0 || argc < 1)
			continue;
		for (int k = 0; reads[k]; k++)
			if (strcmp(argv[0], reads[k]) == 0)
				return NULL;
		return xasprintf("cli.%s.%s", cmd, argv[0]);
	}
	return NULL;
}

/* The command's arguments for the audit log, with what follows an option
 * naming a password, secret or token, and password= in a conninfo, hidden. */
static char *
audit_args(int argc, char **argv)
{
	Buf b = {0};
	bool hide_next = false;

	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		const char *pw;

		if (i)
			buf_puts(&b, " ");
		if (hide_next) {
			buf_puts(&b, "***");
			hide_next = false;
			continue;
		}
		if (strncmp(a, "--", 2) == 0 && (strstr(a, "password") || strstr(a, "secret") || strstr(a, "token"))) {
			const char *eq = strchr(a, '=');
			if (eq) {
				buf_append(&b, a, (size_t)(eq - a));
				buf_puts(&b, "=***");
			} else {
				buf_puts(&b, a);
				hide_next = true;
			}
			continue;
		}
		if ((pw = strstr(a, "password=")) != NULL) {
			const char *end = pw + 9;
			while (*end && *end != ' ')
				end++;
			buf_append(&b, a, (size_t)(pw - a) + 9);
			buf_puts(&b, "***");
			buf_puts(&b, end);
			continue;
		}
		buf_puts(&b, a);
	}
	if (b.data == NULL)
		return xstrdup("");
	return b.data; /* the Buf's storage, now the caller's */
}

static void
audit_command(Meta *meta, const char *cmd, int argc, char **argv, int rc)
{
	char *action = audit_action(cmd, argc, argv);
	char outcome[512], user[80];
	struct passwd *pw;
	MetaAudit a = {0};

	if (action == NULL)
		return;
	if (rc < 0)
		snprintf(outcome, sizeof(outcome), "error: %s", err_message());
	else
		snprintf(outcome, sizeof(outcome), rc == 0 ? "ok" : "failed (exit status %d)", rc);
	pw = getpwuid(geteuid());
	snprintf(user, sizeof(user), "os:%s", pw ? pw->pw_name : "?");
	a.user_name = user;
	a.action = action;
	a.object = audit_args(argc, argv);
	a.outcome = outcome;
	if (meta_audit_add(meta, &a) < 0)
		log_warning("could not write the audit log: %s", err_message());
	free(a.object);
	free(action);
}

/*
 * The allocator's one setting, made before anything is allocated.  glibc
 * raises its mmap threshold to the size of every large block freed (up to
 * 32 MiB): after the first compression context or copy buffer of a worker
 * is freed, the next ones come from that thread's heap, where the holes
 * they leave between long-lived manifest entries stay resident.  A fixed
 * threshold (glibc's initial one) keeps large, short-lived blocks in mmap,
 * returned when freed: an incremental backup of a tenant of 100,000 files
 * with --jobs 2 peaked at 78 MiB without it, 63 MiB with it
 * (bench/many_files.sh).
 */
static void
malloc_setup(void)
{
#ifdef M_MMAP_THRESHOLD
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
#endif
}

int
main(int argc, char **argv)
{
	Cli cli = {0};
	char *home = NULL;
	const char *home_opt = NULL;
	const Command *cmd = NULL;
	int i, rc;

	malloc_setup();

	/* under systemd, stderr is the journal: lines carry their priority */
	log_set_journal(log_stderr_is_journal());
	/* on a terminal, a log line replaces a progress line being drawn */
	log_set_terminal(isatty(STDERR_FILENO) && !log_stderr_is_journal());
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--home") == 0 && i + 1 < argc) {
			home_opt = argv[++i];
		} else if (strncmp(a, "--home=", 7) == 0) {
			home_opt = a + 7;
		} else if (strcmp(a, "--server") == 0 && i + 1 < argc) {
			cli.server = argv[++i];
		} else if (strncmp(a, "--server=", 9) == 0) {
			cli.server = a + 9;
		} else if (strcmp(a, "--token") == 0 && i + 1 < argc) {
			cli.token = argv[++i];
		} else if (strncmp(a, "--token=", 8) == 0) {
			cli.token = a + 8;
		} else if ((strcmp(a, "--log-level") == 0 && i + 1 < argc) || strncmp(a, "--log-level=", 12) == 0) {
			const char *v = a[11] == '=' ? a + 12 : argv[++i];
			static const char *const levels[] = {"error", "warning", "info", "debug"};
			int found = -1;
			for (int k = 0; k < 4; k++)
				if (strcmp(v, levels[k]) == 0)
					found = k;
			if (found < 0) {
				fprintf(stderr, "ERROR: invalid log level \"%s\"\nHINT: Use error, warning, info or debug.\n", v);
				return 2;
			}
			log_set_level((LogLevel)found);
		} else if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0) {
			log_set_level(LOG_ERROR);
		} else if (strcmp(a, "--verbose") == 0 || strcmp(a, "-v") == 0) {
			log_set_level(LOG_DEBUG);
		} else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0 || strcmp(a, "help") == 0) {
			fputs(usage_text, stdout);
			return 0;
		} else if (strcmp(a, "--version") == 0 || strcmp(a, "version") == 0) {
			printf("tenback %s\n", TENBACK_VERSION);
			return 0;
		} else {
			break;
		}
	}
	if (i >= argc) {
		fputs(usage_text, stderr);
		return 2;
	}
	for (const Command *c = commands; c->name; c++)
		if (strcmp(argv[i], c->name) == 0)
			cmd = c;
	if (cmd == NULL) {
		fprintf(stderr, "ERROR: unknown command \"%s\"\nHINT: Run \"tenback --help\" for the commands.\n", argv[i]);
		return 2;
	}
	/* "tenback restore --help": every command stops at the option it does not
	 * know with its usage; that usage is then the answer, not an error */
	for (int k = i + 1; k < argc && strcmp(argv[k], "--") != 0; k++)
		if (strcmp(argv[k], "--help") == 0 || strcmp(argv[k], "-h") == 0)
			help_wanted = true;
	home = home_opt ? xstrdup(home_opt) : default_home();
	if (home_opt == NULL)
		mkdir_parents(home);
	cli.home = home;
	log_debug("tenback %s, command \"%s\", home \"%s\"%s%s", TENBACK_VERSION, cmd->name, home,
	          cli.server ? ", server " : "", cli.server ? cli.server : "");
	if (cli.token == NULL)
		cli.token = getenv("TENBACK_TOKEN");
	if (cli.server == NULL && (rc = meta_open(&cli.meta, home)) < 0)
		goto out;
	if (cli.server && cmd->fn != cmd_backup) {
		rc = err_set(ERR_UNSUPPORTED, "\"%s\" does not work through --server yet", argv[i]);
		err_hint("Run it on the daemon's machine, or use the REST API.");
		goto out;
	}
	rc = cmd->fn(&cli, argc - i - 1, argv + i + 1);
out:
	if (rc < 0 || rc == CLI_ABORT_RECOVERY)
		log_error_record();
	if (cli.meta && cmd && rc != CLI_HELP)
		audit_command(cli.meta, cmd->name, argc - i - 1, argv + i + 1, rc);
	meta_free(cli.meta);
	free(home);
	if (rc == CLI_USAGE)
		return 2;
	if (rc == CLI_HELP)
		return 0;
	if (rc == CLI_QUIET_FAIL)
		return 1;
	if (rc == CLI_ABORT_RECOVERY)
		return 200;
	return rc < 0 ? 1 : 0;
}

int
cli_output_json(bool *out, const char *output)
{
	if (output == NULL || strcmp(output, "text") == 0) {
		*out = false;
		return 0;
	}
	if (strcmp(output, "json") == 0) {
		*out = true;
		return 0;
	}
	err_set(ERR_INVALID, "invalid output format \"%s\"", output);
	err_hint("Use --output text or --output json.");
	return CLI_USAGE;
}

int
cli_usage_error(const char *usage)
{
	if (help_wanted) {
		err_clear();
		printf("Usage: %s\n", usage);
		return CLI_HELP;
	}
	log_error_record();
	fprintf(stderr, "Usage: %s\n", usage);
	return CLI_USAGE;
}
