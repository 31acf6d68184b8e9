/*
 * cmd_archive.c - "archive-push" and "archive-get", run by PostgreSQL.
 */
#include "cli/args.h"
#include "cli/cli.h"

#include "backup/backup.h"
#include "common/error.h"
#include "common/log.h"

#include <stdio.h>

int
cmd_archive_push(Cli *cli, int argc, char **argv)
{
	const char *cluster = NULL;
	StrList pos = {0};
	ArgSpec specs[] = {{"cluster", ARG_STRING, &cluster, true}, {NULL, 0, NULL, false}};
	int rc;

	if (args_parse(argc, argv, specs, &pos) < 0 || pos.count != 1) {
		if (pos.count != 1)
			err_set(ERR_INVALID, "archive-push needs the WAL file's path (%%p)");
		strlist_free(&pos);
		return cli_usage_error("tenback archive-push --cluster NAME PATH");
	}
	rc = archive_push(cli->meta, cluster, pos.items[0]);
	strlist_free(&pos);
	return rc;
}

int
cmd_archive_get(Cli *cli, int argc, char **argv)
{
	const char *cluster = NULL;
	StrList pos = {0};
	ArgSpec specs[] = {{"cluster", ARG_STRING, &cluster, true}, {NULL, 0, NULL, false}};
	int rc;

	if (args_parse(argc, argv, specs, &pos) < 0 || pos.count != 2) {
		if (pos.count != 2)
			err_set(ERR_INVALID, "archive-get needs the file name (%%f) and the destination (%%p)");
		strlist_free(&pos);
		return cli_usage_error("tenback archive-get --cluster NAME FILE PATH");
	}
	rc = archive_get(cli->meta, cluster, pos.items[0], pos.items[1]);
	if (rc < 0 && rc != ERR_NOT_FOUND) {
		/* Not "no such file": a storage or metadata error.  PostgreSQL would
		 * take exit 1 for the end of the archive and promote early. */
		strlist_free(&pos);
		return CLI_ABORT_RECOVERY;
	}
	if (rc == ERR_NOT_FOUND) {
		/* Normal at the end of recovery: say so quietly, exit non-zero. */
		log_info("%s", err_message());
		strlist_free(&pos);
		err_clear();
		return CLI_QUIET_FAIL;
	}
	strlist_free(&pos);
	return rc;
}
