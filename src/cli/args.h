/*
 * args.h - command-line options: "--name value", "--name=value", flags,
 * repeatable options and positional arguments.  Wiring only.
 */
#ifndef TENBACK_CLI_ARGS_H
#define TENBACK_CLI_ARGS_H

#include "common/strutil.h"

#include <stdbool.h>

typedef enum ArgKind {
	ARG_STRING,     /* const char **dest */
	ARG_FLAG,       /* bool *dest */
	ARG_LIST,       /* StrList *dest: repeatable */
} ArgKind;

typedef struct ArgSpec {
	const char *name;   /* without "--" */
	ArgKind kind;
	void *dest;
	bool required;
} ArgSpec;

/* Parse argv[0..argc) against specs (NULL-name terminated); positional
 * arguments go to pos.  ERR_INVALID with a message naming the option. */
int args_parse(int argc, char **argv, const ArgSpec *specs, StrList *pos);

#endif
