/*
 * static.c - the console's files: "/" is web_dir/index.html and
 * "/web/<path>" is web_dir/<path>.
 *
 * Invariant: only regular files whose real path lies under the real path
 * of web_dir are ever resolved; every refusal is the same ERR_NOT_FOUND,
 * so a probe learns nothing about the file system outside.
 */
#include "api/api_int.h"

#include "common/strutil.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int
not_found(const char *url_path)
{
	return err_set(ERR_NOT_FOUND, "no such page \"%.200s\"", url_path);
}

/* Every segment non-empty, not "." or "..", no backslash or NUL tricks. */
static bool
segments_ok(const char *rel)
{
	const char *s = rel;

	if (*rel == '\0' || strchr(rel, '\\'))
		return false;
	while (*s) {
		size_t len = strcspn(s, "/");
		if (len == 0 || (len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
			return false;
		s += len;
		if (*s == '/')
			s++;
		if (*s == '\0' && s[-1] == '/')
			return false;
	}
	return true;
}

int
api_static_resolve(const char *web_dir, const char *url_path, char **out)
{
	char root[PATH_MAX], real[PATH_MAX];
	const char *rel;
	char *joined = NULL;
	struct stat st;
	size_t rlen;
	int rc = 0;

	*out = NULL;
	if (strcmp(url_path, "/") == 0 || strcmp(url_path, "/web/") == 0 || strcmp(url_path, "/web") == 0)
		rel = "index.html";
	else if (str_starts_with(url_path, "/web/"))
		rel = url_path + 5;
	else
		return not_found(url_path);
	if (!segments_ok(rel) || web_dir == NULL || realpath(web_dir, root) == NULL)
		return not_found(url_path);
	joined = path_join(root, rel);
	if (realpath(joined, real) == NULL) {
		rc = not_found(url_path);
		goto out;
	}
	rlen = strlen(root);
	if (strncmp(real, root, rlen) != 0 || (real[rlen] != '/' && strcmp(root, "/") != 0) ||
	    stat(real, &st) != 0 || !S_ISREG(st.st_mode)) {
		rc = not_found(url_path);
		goto out;
	}
	*out = xstrdup(real);
out:
	free(joined);
	return rc;
}

const char *
api_static_content_type(const char *path)
{
	static const struct {
		const char *ext;
		const char *type;
	} types[] = {
		{".html", "text/html; charset=utf-8"},
		{".js", "text/javascript; charset=utf-8"},
		{".mjs", "text/javascript; charset=utf-8"},
		{".css", "text/css; charset=utf-8"},
		{".json", "application/json"},
		{".map", "application/json"},
		{".svg", "image/svg+xml"},
		{".png", "image/png"},
		{".ico", "image/x-icon"},
		{".woff2", "font/woff2"},
		{".txt", "text/plain; charset=utf-8"},
	};

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (str_ends_with(path, types[i].ext))
			return types[i].type;
	return "application/octet-stream";
}
