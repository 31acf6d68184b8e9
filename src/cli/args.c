/*
 * args.c - option parsing for the tenback commands.
 */
#include "cli/args.h"

#include "common/error.h"

#include <string.h>

int
args_parse(int argc, char **argv, const ArgSpec *specs, StrList *pos)
{
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		const char *eq;
		const ArgSpec *s = NULL;
		size_t len;

		if (strcmp(a, "--") == 0) {
			for (i++; i < argc; i++)
				strlist_add(pos, argv[i]);
			break;
		}
		if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
			strlist_add(pos, a);
			continue;
		}
		a += 2;
		eq = strchr(a, '=');
		len = eq ? (size_t)(eq - a) : strlen(a);
		for (const ArgSpec *p = specs; p->name; p++)
			if (strlen(p->name) == len && strncmp(p->name, a, len) == 0)
				s = p;
		if (s == NULL)
			return err_set(ERR_INVALID, "unknown option \"--%.*s\"", (int)len, a);
		if (s->kind == ARG_FLAG) {
			if (eq)
				return err_set(ERR_INVALID, "option \"--%s\" takes no value", s->name);
			*(bool *)s->dest = true;
			continue;
		}
		const char *val = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
		if (val == NULL)
			return err_set(ERR_INVALID, "option \"--%s\" needs a value", s->name);
		if (s->kind == ARG_STRING)
			*(const char **)s->dest = val;
		else
			strlist_add((StrList *)s->dest, val);
	}
	for (const ArgSpec *p = specs; p->name; p++) {
		if (!p->required)
			continue;
		if ((p->kind == ARG_STRING && *(const char **)p->dest == NULL) ||
		    (p->kind == ARG_LIST && ((StrList *)p->dest)->count == 0))
			return err_set(ERR_INVALID, "option \"--%s\" is required", p->name);
	}
	return 0;
}
