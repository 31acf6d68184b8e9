/*
 * s3_config.c - the s3:// URI, credentials, and the encodings SigV4 needs.
 *
 * libcurl 7.88 signs the query string exactly as given, so every query the
 * driver sends is built by s3_query_canonical(): sorted, RFC 3986-encoded,
 * "key=" for a key without a value.
 */
#include "storage/s3/s3.h"

#include "common/buf.h"
#include "common/error.h"
#include "common/log.h"
#include "common/strutil.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static bool
unreserved(unsigned char ch)
{
	return isalnum(ch) || ch == '-' || ch == '.' || ch == '_' || ch == '~';
}

void
s3_uri_encode(Buf *out, const char *s, bool keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (unreserved(*p) || (keep_slash && *p == '/')) {
			buf_putc(out, (char)*p);
		} else {
			buf_putc(out, '%');
			buf_putc(out, hex[*p >> 4]);
			buf_putc(out, hex[*p & 15]);
		}
	}
}

typedef struct EncParam {
	char *key;
	char *value;
} EncParam;

static int
enc_param_cmp(const void *a, const void *b)
{
	const EncParam *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	return c ? c : strcmp(x->value, y->value);
}

char *
s3_query_canonical(const S3Param *params, size_t n)
{
	EncParam *enc = xcalloc(n ? n : 1, sizeof(*enc));
	Buf b = BUF_INIT;

	for (size_t i = 0; i < n; i++) {
		Buf k = BUF_INIT, v = BUF_INIT;
		s3_uri_encode(&k, params[i].key, false);
		s3_uri_encode(&v, params[i].value ? params[i].value : "", false);
		enc[i].key = buf_steal(&k);
		enc[i].value = buf_steal(&v);
	}
	qsort(enc, n, sizeof(*enc), enc_param_cmp);
	buf_puts(&b, "");
	for (size_t i = 0; i < n; i++) {
		buf_printf(&b, "%s%s=%s", i ? "&" : "", enc[i].key, enc[i].value);
		free(enc[i].key);
		free(enc[i].value);
	}
	free(enc);
	return buf_steal(&b);
}

static int
hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* Percent-decode s[0..len) into a malloc'd string; NULL on a bad escape or a NUL byte. */
static char *
pct_decode(const char *s, size_t len)
{
	Buf b = BUF_INIT;

	buf_puts(&b, "");
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '%') {
			if (i + 2 >= len) {
				buf_free(&b);
				return NULL;
			}
			int h = hexval((unsigned char)s[i + 1]), l = hexval((unsigned char)s[i + 2]);
			if (h < 0 || l < 0 || (h == 0 && l == 0)) {
				buf_free(&b);
				return NULL;
			}
			buf_putc(&b, (char)(h * 16 + l));
			i += 2;
		} else {
			buf_putc(&b, s[i]);
		}
	}
	return buf_steal(&b);
}

static bool
valid_bucket(const char *b)
{
	size_t n = strlen(b);

	if (n < 3 || n > 63)
		return false;
	for (const char *p = b; *p; p++)
		if (!(isalnum((unsigned char)*p) || *p == '-' || *p == '.' || *p == '_'))
			return false;
	return true;
}

/* "123", "16MiB", "5M", "1GiB" -> bytes */
static int
parse_size(size_t *out, const char *s, const char *what)
{
	char *end;
	unsigned long long v;
	uint64_t mul = 1;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (end == s || errno)
		goto bad;
	if (*end) {
		if (strcasecmp(end, "k") == 0 || strcasecmp(end, "kib") == 0 || strcasecmp(end, "kb") == 0)
			mul = 1024;
		else if (strcasecmp(end, "m") == 0 || strcasecmp(end, "mib") == 0 || strcasecmp(end, "mb") == 0)
			mul = 1024 * 1024;
		else if (strcasecmp(end, "g") == 0 || strcasecmp(end, "gib") == 0 || strcasecmp(end, "gb") == 0)
			mul = 1024 * 1024 * 1024;
		else
			goto bad;
	}
	if (v > (uint64_t)SIZE_MAX / mul)
		goto bad;
	*out = (size_t)(v * mul);
	return 0;
bad:
	return err_set(ERR_INVALID, "invalid %s \"%s\" in the s3 storage URI", what, s);
}

static int
parse_int(int *out, const char *s, const char *what, int lo, int hi)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (end == s || *end || errno || v < lo || v > hi)
		return err_set(ERR_INVALID, "invalid %s \"%s\" in the s3 storage URI (%d..%d)", what, s, lo, hi);
	*out = (int)v;
	return 0;
}

static char *
trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

int
s3_read_credentials_file(const char *path, char **out_access, char **out_secret)
{
	char line[1024];
	struct stat st;
	FILE *f;
	int fd, rc = 0;

	*out_access = *out_secret = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return err_errno(errno, "could not open the S3 credentials file \"%s\"", path);
	if (fstat(fd, &st) < 0) {
		rc = err_errno(errno, "could not stat the S3 credentials file \"%s\"", path);
		close(fd);
		return rc;
	}
	if (!S_ISREG(st.st_mode) || (st.st_mode & 077) != 0) {
		close(fd);
		rc = err_set(ERR_PERMISSION, "the S3 credentials file \"%s\" is readable by others (mode %04o)", path,
		             (unsigned)(st.st_mode & 07777));
		err_hint("Make it private: chmod 600 \"%s\".", path);
		return rc;
	}
	if ((f = fdopen(fd, "r")) == NULL) {
		rc = err_errno(errno, "could not read the S3 credentials file \"%s\"", path);
		close(fd);
		return rc;
	}
	while (fgets(line, sizeof(line), f)) {
		char *l = trim(line), *eq, *key, *val;
		char **slot = NULL;

		if (*l == '\0' || *l == '#' || *l == ';' || *l == '[')
			continue;
		if (strncmp(l, "export ", 7) == 0)
			l = trim(l + 7);
		if ((eq = strchr(l, '=')) == NULL)
			continue;
		*eq = '\0';
		key = trim(l);
		val = trim(eq + 1);
		if (strcasecmp(key, "aws_access_key_id") == 0 || strcasecmp(key, "access_key") == 0)
			slot = out_access;
		else if (strcasecmp(key, "aws_secret_access_key") == 0 || strcasecmp(key, "secret_key") == 0)
			slot = out_secret;
		if (slot == NULL)
			continue;
		size_t vl = strlen(val);
		if (vl >= 2 && (val[0] == '"' || val[0] == '\'') && val[vl - 1] == val[0]) {
			val[vl - 1] = '\0';
			val++;
		}
		free(*slot);
		*slot = xstrdup(val);
	}
	explicit_bzero(line, sizeof(line));
	fclose(f);
	if (*out_access == NULL || *out_secret == NULL || !**out_access || !**out_secret) {
		free(*out_access);
		free(*out_secret);
		*out_access = *out_secret = NULL;
		rc = err_set(ERR_INVALID, "the S3 credentials file \"%s\" has no access key and secret key", path);
		err_hint("Write two lines: aws_access_key_id = KEY and aws_secret_access_key = SECRET.");
	}
	return rc;
}

void
s3_config_free(S3Config *c)
{
	free(c->bucket);
	free(c->prefix);
	free(c->endpoint);
	free(c->region);
	free(c->ca_file);
	free(c->access_key);
	if (c->secret_key) {
		explicit_bzero(c->secret_key, strlen(c->secret_key));
		free(c->secret_key);
	}
	if (c->session_token) {
		explicit_bzero(c->session_token, strlen(c->session_token));
		free(c->session_token);
	}
	memset(c, 0, sizeof(*c));
}

static bool
host_is_ip_or_local(const char *endpoint)
{
	const char *h = strstr(endpoint, "://");

	h = h ? h + 3 : endpoint;
	if (*h == '[')
		return true;
	if (strncmp(h, "localhost", 9) == 0 && (h[9] == '\0' || h[9] == ':'))
		return true;
	for (; *h && *h != ':' && *h != '/'; h++)
		if (!isdigit((unsigned char)*h) && *h != '.')
			return false;
	return true;
}

static int
set_option(S3Config *c, const char *key, const char *val, char **cred_file, int *style)
{
	if (strcmp(key, "endpoint") == 0) {
		if (!str_starts_with(val, "http://") && !str_starts_with(val, "https://")) {
			int rc = err_set(ERR_INVALID, "invalid endpoint \"%s\" in the s3 storage URI", val);
			err_hint("An endpoint is http://host[:port] or https://host[:port].");
			return rc;
		}
		const char *host = strstr(val, "://") + 3;
		size_t n = strlen(val);
		while (n > 0 && val[n - 1] == '/')
			n--;
		const char *slash = memchr(host, '/', n - (size_t)(host - val));
		if (*host == '\0' || *host == '/' || slash || strpbrk(host, "?@#")) {
			int rc = err_set(ERR_INVALID, "invalid endpoint \"%s\" in the s3 storage URI", val);
			err_hint("An endpoint is http://host[:port] or https://host[:port], without a path.");
			return rc;
		}
		free(c->endpoint);
		c->endpoint = xmalloc(n + 1);
		memcpy(c->endpoint, val, n);
		c->endpoint[n] = '\0';
	} else if (strcmp(key, "region") == 0) {
		if (*val == '\0' || strpbrk(val, "/: \t"))
			return err_set(ERR_INVALID, "invalid region \"%s\" in the s3 storage URI", val);
		free(c->region);
		c->region = xstrdup(val);
	} else if (strcmp(key, "uri-style") == 0) {
		if (strcmp(val, "path") == 0)
			*style = 1;
		else if (strcmp(val, "host") == 0 || strcmp(val, "virtual-host") == 0)
			*style = 2;
		else
			return err_set(ERR_INVALID, "invalid uri-style \"%s\" in the s3 storage URI (path or host)", val);
	} else if (strcmp(key, "ca-file") == 0) {
		free(c->ca_file);
		c->ca_file = xstrdup(val);
	} else if (strcmp(key, "verify-tls") == 0) {
		if (strcmp(val, "true") == 0 || strcmp(val, "on") == 0 || strcmp(val, "1") == 0)
			c->verify_tls = true;
		else if (strcmp(val, "false") == 0 || strcmp(val, "off") == 0 || strcmp(val, "0") == 0)
			c->verify_tls = false;
		else
			return err_set(ERR_INVALID, "invalid verify-tls \"%s\" in the s3 storage URI (true or false)", val);
	} else if (strcmp(key, "credentials-file") == 0) {
		free(*cred_file);
		*cred_file = xstrdup(val);
	} else if (strcmp(key, "part-size") == 0) {
		if (parse_size(&c->part_size, val, "part-size") < 0)
			return ERR_INVALID;
		if (c->part_size < S3_MIN_PART_SIZE || c->part_size > (size_t)1024 * 1024 * 1024) {
			int rc = err_set(ERR_INVALID, "invalid part-size \"%s\" in the s3 storage URI", val);
			err_hint("S3 parts are 5 MiB to 5 GiB; tenback takes at most 1 GiB.");
			return rc;
		}
	} else if (strcmp(key, "upload-threads") == 0) {
		return parse_int(&c->upload_threads, val, "upload-threads", 1, 16);
	} else if (strcmp(key, "retries") == 0) {
		return parse_int(&c->retries, val, "retries", 0, 20);
	} else if (strcmp(key, "retry-time") == 0) {
		int secs = 0;
		if (parse_int(&secs, val, "retry-time", 0, 3600) < 0)
			return ERR_INVALID;
		c->retry_ms = secs * 1000;
	} else if (strcmp(key, "access-key") == 0 || strcmp(key, "secret-key") == 0 ||
	           strcmp(key, "access_key") == 0 || strcmp(key, "secret_key") == 0) {
		int rc = err_set(ERR_INVALID, "the s3 storage URI must not carry keys (\"%s\")", key);
		err_hint("Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or use a credentials file.");
		return rc;
	} else {
		int rc = err_set(ERR_INVALID, "unknown option \"%s\" in the s3 storage URI", key);
		err_hint("Options: endpoint, region, uri-style, ca-file, verify-tls, credentials-file, part-size, "
		         "upload-threads, retries, retry-time.");
		return rc;
	}
	return 0;
}

int
s3_config_parse(S3Config *c, const char *uri, const StorageOpenOpts *o)
{
	const char *p, *q, *slash;
	char *cred_file = NULL, *prefix_raw = NULL;
	int style = 0, rc;

	memset(c, 0, sizeof(*c));
	c->verify_tls = true;
	c->part_size = S3_DEFAULT_PART_SIZE;
	c->upload_threads = S3_DEFAULT_UPLOAD_THREADS;
	c->retries = S3_DEFAULT_RETRIES;
	c->retry_ms = S3_DEFAULT_RETRY_MS;
	if (!str_starts_with(uri, "s3://"))
		goto bad_uri;
	p = uri + 5;
	q = strchr(p, '?');
	if (q == NULL)
		q = p + strlen(p);
	slash = memchr(p, '/', (size_t)(q - p));
	{
		size_t bl = (size_t)((slash ? slash : q) - p);
		c->bucket = pct_decode(p, bl);
		if (c->bucket == NULL || !valid_bucket(c->bucket)) {
			rc = err_set(ERR_INVALID, "invalid bucket name in the storage URI \"%s\"", uri);
			err_hint("Use s3://bucket/prefix?endpoint=https://host&region=REGION; a bucket name has 3 to 63 "
			         "letters, digits, '.', '-' or '_'.");
			goto fail;
		}
	}
	/* prefix: "" or "a/b/", no empty, "." or ".." components */
	if (slash) {
		prefix_raw = pct_decode(slash + 1, (size_t)(q - slash - 1));
		if (prefix_raw == NULL)
			goto bad_uri;
	} else {
		prefix_raw = xstrdup("");
	}
	{
		Buf pb = BUF_INIT;
		char *save = NULL, *tok;

		buf_puts(&pb, "");
		for (tok = strtok_r(prefix_raw, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
			if (strcmp(tok, ".") == 0 || strcmp(tok, "..") == 0) {
				buf_free(&pb);
				rc = err_set(ERR_INVALID, "invalid prefix in the storage URI \"%s\"", uri);
				err_hint("A prefix is a path without \".\" or \"..\" components.");
				goto fail;
			}
			buf_printf(&pb, "%s/", tok);
		}
		c->prefix = buf_steal(&pb);
	}
	/* options */
	if (*q == '?') {
		const char *a = q + 1;
		while (*a) {
			const char *amp = strchr(a, '&');
			const char *end = amp ? amp : a + strlen(a);
			const char *eq = memchr(a, '=', (size_t)(end - a));
			char *key, *val;

			if (end == a) {
				a = amp ? amp + 1 : end;
				continue;
			}
			key = pct_decode(a, (size_t)((eq ? eq : end) - a));
			val = eq ? pct_decode(eq + 1, (size_t)(end - eq - 1)) : xstrdup("");
			if (key == NULL || val == NULL) {
				free(key);
				free(val);
				goto bad_uri;
			}
			rc = set_option(c, key, val, &cred_file, &style);
			free(key);
			if (val)
				explicit_bzero(val, strlen(val));
			free(val);
			if (rc < 0)
				goto fail;
			a = amp ? amp + 1 : end;
		}
	}
	if (c->region == NULL) {
		const char *r = getenv("AWS_REGION");
		if (r == NULL || *r == '\0')
			r = getenv("AWS_DEFAULT_REGION");
		c->region = xstrdup(r && *r ? r : "us-east-1");
	}
	if (c->endpoint == NULL)
		c->endpoint = xasprintf("https://s3.%s.amazonaws.com", c->region);
	if (style == 1)
		c->path_style = true;
	else if (style == 2)
		c->path_style = false;
	else
		c->path_style = host_is_ip_or_local(c->endpoint) || strchr(c->bucket, '.') != NULL;
	if (!c->path_style && host_is_ip_or_local(c->endpoint)) {
		rc = err_set(ERR_INVALID, "uri-style=host needs a DNS name in the endpoint, not \"%s\"", c->endpoint);
		err_hint("Use uri-style=path for an IP address or localhost.");
		goto fail;
	}

	/* credentials: options, options' file, the URI's file, the environment */
	if (o && (o->access_key || o->secret_key)) {
		if (!o->access_key || !o->secret_key || !*o->access_key || !*o->secret_key) {
			rc = err_set(ERR_INVALID, "an S3 access key needs its secret key, and the other way round");
			goto fail;
		}
		c->access_key = xstrdup(o->access_key);
		c->secret_key = xstrdup(o->secret_key);
	} else if ((o && o->credentials_file) || cred_file) {
		if ((rc = s3_read_credentials_file(o && o->credentials_file ? o->credentials_file : cred_file,
		                                   &c->access_key, &c->secret_key)) < 0)
			goto fail;
	} else {
		const char *ak = getenv("AWS_ACCESS_KEY_ID"), *sk = getenv("AWS_SECRET_ACCESS_KEY");
		if (!ak || !sk || !*ak || !*sk) {
			rc = err_set(ERR_INVALID, "no S3 credentials for storage \"s3://%s/%s\"", c->bucket, c->prefix);
			err_hint("Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or give a credentials file (mode 0600).");
			goto fail;
		}
		c->access_key = xstrdup(ak);
		c->secret_key = xstrdup(sk);
		const char *tok = getenv("AWS_SESSION_TOKEN");
		if (tok && *tok)
			c->session_token = xstrdup(tok);
	}
	if (strchr(c->access_key, ':') || strpbrk(c->access_key, "\r\n") || strpbrk(c->secret_key, "\r\n")) {
		rc = err_set(ERR_INVALID, "the S3 access key or secret key has a character keys never have");
		goto fail;
	}
	if (!c->verify_tls && str_starts_with(c->endpoint, "https://"))
		log_warning("TLS certificate verification is off for s3://%s/%s at %s: anyone on the path can "
		            "read and change the backups",
		            c->bucket, c->prefix, c->endpoint);
	free(cred_file);
	free(prefix_raw);
	return 0;

bad_uri:
	rc = err_set(ERR_INVALID, "invalid storage URI \"%s\"", uri);
	err_hint("Use s3://bucket/prefix?endpoint=https://host&region=REGION.");
fail:
	free(cred_file);
	free(prefix_raw);
	s3_config_free(c);
	return rc;
}
