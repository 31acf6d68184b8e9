/*
 * cli.h - what main.c hands each command: global options and the
 * metadata store.  Commands parse their own options, call the engine and
 * print; no business logic lives here.
 */
#ifndef TENBACK_CLI_CLI_H
#define TENBACK_CLI_CLI_H

#include "meta/meta.h"

#include <stdbool.h>

/* A command returns 0, a negative ErrCode (exit 1), CLI_USAGE (exit 2) or CLI_QUIET_FAIL (exit 1). */
#define CLI_USAGE 2
/* Exit 1 without an ERROR line (archive-get of a missing file: normal). */
#define CLI_QUIET_FAIL 3
/* restore_command could not read the archive: exit above 125 so recovery stops
 * with an error instead of taking it for the end of the archive. */
#define CLI_ABORT_RECOVERY 4
/* "tenback COMMAND ... --help": cli_usage_error printed the usage on stdout (exit 0). */
#define CLI_HELP 5

typedef struct Cli {
	const char *home;
	Meta *meta;         /* opened by main before the command runs (not with --server) */
	const char *server; /* --server URL: talk to a daemon */
	const char *token;  /* --token, else $TENBACK_TOKEN */
} Cli;

int cmd_cluster(Cli *cli, int argc, char **argv);
int cmd_tenant(Cli *cli, int argc, char **argv);
int cmd_check(Cli *cli, int argc, char **argv);
int cmd_backup(Cli *cli, int argc, char **argv);
int cmd_set(Cli *cli, int argc, char **argv);
int cmd_verify(Cli *cli, int argc, char **argv);
int cmd_restore(Cli *cli, int argc, char **argv);
int cmd_window(Cli *cli, int argc, char **argv);
int cmd_storage(Cli *cli, int argc, char **argv);
int cmd_audit(Cli *cli, int argc, char **argv);
int cmd_alert(Cli *cli, int argc, char **argv);
int cmd_notify(Cli *cli, int argc, char **argv);
int cmd_serve(Cli *cli, int argc, char **argv);
int cmd_user(Cli *cli, int argc, char **argv);
int cmd_archive_push(Cli *cli, int argc, char **argv);
int cmd_archive_get(Cli *cli, int argc, char **argv);

/* "text" or "json"; ERR_INVALID otherwise. */
int cli_output_json(bool *out, const char *output);
/* Report a usage error (message set) and return CLI_USAGE; after a --help or -h
 * among the command's arguments, print the usage on stdout and return CLI_HELP. */
int cli_usage_error(const char *usage);

#endif
