/*
 * test_s3_parts.c - the S3 driver's pieces that need no server: the
 * s3:// URI and its options, credentials (and the 0600 rule), RFC 3986
 * encoding and canonical query strings, the XML reader (well-formed S3
 * answers, entities, hostile input), retry classification, backoff, and
 * error mapping.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/strutil.h"
#include "storage/s3/s3.h"
#include "storage/storage.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const StorageOpenOpts keys = {.access_key = "AK", .secret_key = "SK"};

static void
uri_basic(void **state)
{
	S3Config c;

	(void)state;
	assert_int_equal(s3_config_parse(&c, "s3://backups/prod/db1?endpoint=http://127.0.0.1:7480/&region=eu-1", &keys),
	                 0);
	assert_string_equal(c.bucket, "backups");
	assert_string_equal(c.prefix, "prod/db1/");
	assert_string_equal(c.endpoint, "http://127.0.0.1:7480");
	assert_string_equal(c.region, "eu-1");
	assert_true(c.path_style);      /* an IP address cannot take host style */
	assert_true(c.verify_tls);
	assert_true(c.part_size == S3_DEFAULT_PART_SIZE);
	assert_string_equal(c.access_key, "AK");
	assert_string_equal(c.secret_key, "SK");
	s3_config_free(&c);

	/* no prefix, AWS default endpoint, host style */
	assert_int_equal(s3_config_parse(&c, "s3://bucket-1?region=cn-hangzhou", &keys), 0);
	assert_string_equal(c.prefix, "");
	assert_string_equal(c.endpoint, "https://s3.cn-hangzhou.amazonaws.com");
	assert_false(c.path_style);
	s3_config_free(&c);

	/* slashes collapse; options */
	assert_int_equal(s3_config_parse(&c,
	                                 "s3://b12//a///b/?endpoint=https://oss.example.com&uri-style=path&"
	                                 "verify-tls=false&part-size=64MiB&upload-threads=4&retries=2&ca-file=%2Fetc%2Fca.pem",
	                                 &keys),
	                 0);
	assert_string_equal(c.prefix, "a/b/");
	assert_true(c.path_style);
	assert_false(c.verify_tls);
	assert_true(c.part_size == 64u * 1024 * 1024);
	assert_int_equal(c.upload_threads, 4);
	assert_int_equal(c.retries, 2);
	assert_string_equal(c.ca_file, "/etc/ca.pem");
	s3_config_free(&c);
}

static void
check_uri_fails(const char *uri, const char *want)
{
	S3Config c;

	err_clear();
	assert_int_equal(s3_config_parse(&c, uri, &keys), ERR_INVALID);
	if (strstr(err_message(), want) == NULL)
		fail_msg("\"%s\": got \"%s\", want \"%s\"", uri, err_message(), want);
}

static void
uri_rejects(void **state)
{
	(void)state;
	check_uri_fails("s3://", "bucket");
	check_uri_fails("s3://ab", "bucket");
	check_uri_fails("s3://bad!bucket/p", "bucket");
	check_uri_fails("s3://b%2Fx/p", "bucket");
	check_uri_fails("s3://bucket/../x", "prefix");
	check_uri_fails("s3://bucket/a/./x", "prefix");
	check_uri_fails("s3://bucket/p?endpoint=ftp://h", "endpoint");
	check_uri_fails("s3://bucket/p?endpoint=http://h/path", "endpoint");
	check_uri_fails("s3://bucket/p?endpoint=http://user@h", "endpoint");
	check_uri_fails("s3://bucket/p?uri-style=odd", "uri-style");
	check_uri_fails("s3://bucket/p?verify-tls=maybe", "verify-tls");
	check_uri_fails("s3://bucket/p?part-size=1MiB", "part-size");
	check_uri_fails("s3://bucket/p?part-size=lots", "part-size");
	check_uri_fails("s3://bucket/p?upload-threads=0", "upload-threads");
	check_uri_fails("s3://bucket/p?colour=blue", "unknown option \"colour\"");
	check_uri_fails("s3://bucket/p?secret-key=x", "must not carry keys");
	check_uri_fails("s3://bucket/p?endpoint=http://10.0.0.1&uri-style=host", "uri-style=host");
	check_uri_fails("s3://bucket/p?region=%zz", "invalid storage URI");
}

static void
uri_credentials(void **state)
{
	S3Config c;
	char path[] = "/tmp/tb-s3-cred-XXXXXX";
	int fd = mkstemp(path);
	const char *text = "[default]\n# comment\naws_access_key_id = AKFILE\naws_secret_access_key=\"SKFILE\"\n";
	StorageOpenOpts fo = {.credentials_file = path};
	char *uri;

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (int)strlen(text));
	close(fd);
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(s3_config_parse(&c, "s3://bucket/p", &fo), 0);
	assert_string_equal(c.access_key, "AKFILE");
	assert_string_equal(c.secret_key, "SKFILE");
	s3_config_free(&c);
	/* named in the URI */
	uri = xasprintf("s3://bucket/p?credentials-file=%s", path);
	assert_int_equal(s3_config_parse(&c, uri, NULL), 0);
	assert_string_equal(c.access_key, "AKFILE");
	s3_config_free(&c);

	/* readable by others: refused, with a hint */
	assert_int_equal(chmod(path, 0640), 0);
	err_clear();
	assert_int_equal(s3_config_parse(&c, "s3://bucket/p", &fo), ERR_PERMISSION);
	assert_non_null(strstr(err_message(), "readable by others"));
	assert_non_null(strstr(err_hint_text(), "chmod 600"));
	assert_int_equal(s3_config_parse(&c, uri, NULL), ERR_PERMISSION);
	/* no keys in it */
	assert_int_equal(chmod(path, 0600), 0);
	FILE *f = fopen(path, "w");
	fputs("nothing=here\n", f);
	fclose(f);
	assert_int_equal(s3_config_parse(&c, "s3://bucket/p", &fo), ERR_INVALID);
	unlink(path);
	assert_true(s3_config_parse(&c, "s3://bucket/p", &fo) < 0);

	/* the environment */
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	err_clear();
	assert_int_equal(s3_config_parse(&c, "s3://bucket/p", NULL), ERR_INVALID);
	assert_non_null(strstr(err_message(), "no S3 credentials"));
	assert_non_null(strstr(err_hint_text(), "AWS_ACCESS_KEY_ID"));
	setenv("AWS_ACCESS_KEY_ID", "AKENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "SKENV", 1);
	assert_int_equal(s3_config_parse(&c, "s3://bucket/p", NULL), 0);
	assert_string_equal(c.access_key, "AKENV");
	assert_string_equal(c.secret_key, "SKENV");
	s3_config_free(&c);
	/* storage_open reads the environment too */
	Storage *s = NULL;
	assert_int_equal(storage_open(&s, "s3://bucket/p?endpoint=http://127.0.0.1:1"), 0);
	assert_string_equal(storage_uri(s), "s3://bucket/p?endpoint=http://127.0.0.1:1");
	storage_free(s);
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	/* half a key pair */
	StorageOpenOpts half = {.access_key = "AK"};
	assert_int_equal(s3_config_parse(&c, "s3://bucket/p", &half), ERR_INVALID);
	free(uri);
}

static void
encode_and_query(void **state)
{
	Buf b = BUF_INIT;
	char *q;

	(void)state;
	s3_uri_encode(&b, "a b/c+d~e_f.g-h*ü", true);
	assert_string_equal(b.data, "a%20b/c%2Bd~e_f.g-h%2A%C3%BC");
	buf_reset(&b);
	s3_uri_encode(&b, "a/b=c&d", false);
	assert_string_equal(b.data, "a%2Fb%3Dc%26d");
	buf_free(&b);

	S3Param p1[] = {{"uploads", ""}};
	q = s3_query_canonical(p1, 1);
	assert_string_equal(q, "uploads=");
	free(q);
	S3Param p2[] = {{"uploadId", "x/y+z"}, {"partNumber", "3"}};
	q = s3_query_canonical(p2, 2);
	assert_string_equal(q, "partNumber=3&uploadId=x%2Fy%2Bz");
	free(q);
	/* sorted by encoded key: upper case before lower case, '-' before letters */
	S3Param p3[] = {{"prefix", "a b/"}, {"list-type", "2"}, {"delimiter", "/"}, {"continuation-token", "T=="},
	                {"max-keys", "1"}, {"start-after", NULL}};
	q = s3_query_canonical(p3, 6);
	assert_string_equal(q, "continuation-token=T%3D%3D&delimiter=%2F&list-type=2&max-keys=1&prefix=a%20b%2F&"
	                       "start-after=");
	free(q);
	S3Param p4[] = {{"delete", NULL}};
	q = s3_query_canonical(p4, 1);
	assert_string_equal(q, "delete=");
	free(q);
	q = s3_query_canonical(NULL, 0);
	assert_string_equal(q, "");
	free(q);
}

/* ---- XML ---- */

typedef struct Rec {
	Buf log;
} Rec;

static int
rec_cb(void *payload, S3XmlEvent ev, const char *path, const char *text, size_t len)
{
	Rec *r = payload;

	if (ev == S3_XML_TEXT)
		buf_printf(&r->log, "%s=[%.*s];", path, (int)len, text);
	else if (ev == S3_XML_OPEN)
		buf_printf(&r->log, "+%s;", path);
	return 0;
}

static void
xml_list_result(void **state)
{
	static const char doc[] =
	    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
	    "<Name>b</Name><Prefix>p/</Prefix><KeyCount>2</KeyCount><IsTruncated>true</IsTruncated>"
	    "<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>"
	    "<Contents><Key>p/a&amp;b &lt;&gt;&quot;&apos;&#65;&#x42;&#xe9;</Key><Size>12</Size>"
	    "<LastModified>2024-05-01T10:00:00.000Z</LastModified><ETag>&quot;abc&quot;</ETag></Contents>"
	    "<!-- a comment <Key>no</Key> -->"
	    "<CommonPrefixes><Prefix><![CDATA[p/d<ir>/]]></Prefix></CommonPrefixes>"
	    "<Empty/><Attr a=\"x>y\" b='z'>v</Attr>"
	    "</ListBucketResult>\n";
	char out[128];
	Rec r = {BUF_INIT};

	(void)state;
	assert_int_equal(s3_xml_parse(doc, strlen(doc), rec_cb, &r), 0);
	assert_non_null(strstr(r.log.data, "ListBucketResult/Contents/Key=[p/a&b <>\"'AB\xc3\xa9];"));
	assert_non_null(strstr(r.log.data, "ListBucketResult/CommonPrefixes/Prefix=[p/d<ir>/];"));
	assert_non_null(strstr(r.log.data, "ListBucketResult/Empty=[];"));
	assert_non_null(strstr(r.log.data, "ListBucketResult/Attr=[v];"));
	assert_null(strstr(r.log.data, "=[no]"));
	/* an element with children has no TEXT event */
	assert_null(strstr(r.log.data, "ListBucketResult/Contents=["));
	buf_free(&r.log);

	assert_true(s3_xml_get(doc, strlen(doc), "ListBucketResult/NextContinuationToken", out, sizeof(out)));
	assert_string_equal(out, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
	assert_false(s3_xml_get(doc, strlen(doc), "ListBucketResult/Nope", out, sizeof(out)));
	/* truncated to the buffer */
	assert_true(s3_xml_get(doc, strlen(doc), "ListBucketResult/Name", out, 1));
	assert_string_equal(out, "");
}

static void
xml_other_answers(void **state)
{
	static const char err[] = "<?xml version=\"1.0\"?><Error><Code>SignatureDoesNotMatch</Code>"
	                          "<Message>The request signature we calculated does not match</Message>"
	                          "<RequestId>tx1</RequestId></Error>";
	static const char init[] = "<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key>"
	                           "<UploadId>2~abc.DEF-_</UploadId></InitiateMultipartUploadResult>";
	static const char del[] = "<DeleteResult><Deleted><Key>a</Key></Deleted><Error><Key>b</Key>"
	                          "<Code>AccessDenied</Code><Message>no</Message></Error></DeleteResult>";
	char out[256];

	(void)state;
	assert_true(s3_xml_get(err, strlen(err), "Error/Code", out, sizeof(out)));
	assert_string_equal(out, "SignatureDoesNotMatch");
	assert_true(s3_xml_get(err, strlen(err), "Error/Message", out, sizeof(out)));
	assert_string_equal(out, "The request signature we calculated does not match");
	assert_true(s3_xml_get(init, strlen(init), "InitiateMultipartUploadResult/UploadId", out, sizeof(out)));
	assert_string_equal(out, "2~abc.DEF-_");
	assert_true(s3_xml_get(del, strlen(del), "DeleteResult/Error/Code", out, sizeof(out)));
	assert_string_equal(out, "AccessDenied");
	/* not "Error/Code": paths are from the root */
	assert_false(s3_xml_get(del, strlen(del), "Error/Code", out, sizeof(out)));

	Buf b = BUF_INIT;
	s3_xml_escape(&b, "a&b<c>d\"e'f");
	assert_string_equal(b.data, "a&amp;b&lt;c&gt;d&quot;e&apos;f");
	buf_free(&b);
}

static int
nop_cb(void *payload, S3XmlEvent ev, const char *path, const char *text, size_t len)
{
	(void)payload;
	(void)ev;
	(void)path;
	(void)text;
	(void)len;
	return 0;
}

static void
check_bad_xml(const char *doc, size_t len)
{
	err_clear();
	if (s3_xml_parse(doc, len, nop_cb, NULL) != ERR_CORRUPT)
		fail_msg("accepted: %.*s", (int)len, doc);
	assert_non_null(strstr(err_message(), "malformed XML"));
}

static void
xml_hostile(void **state)
{
	static const char *bad[] = {
	    "",
	    "   ",
	    "plain text",
	    "<a>",
	    "<a></b>",
	    "<a><b></a></b>",
	    "</a>",
	    "<a></a><b></b>",
	    "<a></a>trailing",
	    "<a>&unknown;</a>",
	    "<a>&amp</a>",
	    "<a>&#;</a>",
	    "<a>&#0;</a>",
	    "<a>&#x110000;</a>",
	    "<a>&#xD800;</a>",
	    "<a>&#123456789012;</a>",
	    "<a>&#x12G;</a>",
	    "<a x=\"unterminated></a>",
	    "<a><!-- unterminated</a>",
	    "<a><![CDATA[ unterminated</a>",
	    "<?xml unterminated",
	    "<!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>",
	    "<a><!ENTITY x \"y\"></a>",
	    "<>",
	    "< a></a>",
	    "<a</a>",
	    "<a><b <c>></b></a>",
	    "&amp;<a></a>",
	};
	Buf deep = BUF_INIT, longname = BUF_INIT;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		check_bad_xml(bad[i], strlen(bad[i]));
	/* an embedded NUL */
	check_bad_xml("<a>x\0y</a>", 10);
	/* bounds: the length given, not the NUL */
	check_bad_xml("<a></a>", 5);
	/* too deep */
	for (int i = 0; i < 100; i++)
		buf_puts(&deep, "<d>");
	for (int i = 0; i < 100; i++)
		buf_puts(&deep, "</d>");
	check_bad_xml(deep.data, deep.len);
	/* names longer than the path buffer */
	buf_putc(&longname, '<');
	for (int i = 0; i < 2000; i++)
		buf_putc(&longname, 'n');
	buf_putc(&longname, '>');
	check_bad_xml(longname.data, longname.len);
	buf_free(&deep);
	buf_free(&longname);

	/* within the limits: fine */
	assert_int_equal(s3_xml_parse("<a><b><c>x</c></b></a>", 22, nop_cb, NULL), 0);
	/* a bounded buffer never reads past len (ASan checks this) */
	char *heap = xmalloc(7);
	memcpy(heap, "<a>&amp", 7);
	check_bad_xml(heap, 7);
	memcpy(heap, "<a>&#12", 7);
	check_bad_xml(heap, 7);
	memcpy(heap, "<a x='", 6);
	check_bad_xml(heap, 6);
	free(heap);
}

/* ---- retries and errors ---- */

static void
retry_classification(void **state)
{
	(void)state;
	assert_int_equal(s3_retry_classify(0, 500, ""), S3_RETRY_YES);
	assert_int_equal(s3_retry_classify(0, 502, ""), S3_RETRY_YES);
	assert_int_equal(s3_retry_classify(0, 503, "SlowDown"), S3_RETRY_YES);
	assert_int_equal(s3_retry_classify(0, 504, ""), S3_RETRY_YES);
	assert_int_equal(s3_retry_classify(0, 429, ""), S3_RETRY_YES);
	assert_int_equal(s3_retry_classify(0, 400, "RequestTimeout"), S3_RETRY_YES);
	assert_int_equal(s3_retry_classify(0, 200, "InternalError"), S3_RETRY_YES);
	assert_int_equal(s3_retry_classify(CURLE_COULDNT_CONNECT, 0, ""), S3_RETRY_YES);
	assert_int_equal(s3_retry_classify(CURLE_OPERATION_TIMEDOUT, 0, ""), S3_RETRY_YES);
	assert_int_equal(s3_retry_classify(CURLE_RECV_ERROR, 0, ""), S3_RETRY_YES);
	assert_int_equal(s3_retry_classify(CURLE_WEIRD_SERVER_REPLY, 0, ""), S3_RETRY_YES);
	assert_int_equal(s3_retry_classify(CURLE_SEND_ERROR, 0, ""), S3_RETRY_YES);
	assert_int_equal(s3_retry_classify(CURLE_GOT_NOTHING, 0, ""), S3_RETRY_YES);
	assert_int_equal(s3_retry_classify(CURLE_PARTIAL_FILE, 0, ""), S3_RETRY_YES);

	assert_int_equal(s3_retry_classify(0, 403, "SignatureDoesNotMatch"), S3_RETRY_NO);
	assert_int_equal(s3_retry_classify(0, 403, "RequestTimeTooSkewed"), S3_RETRY_NO);
	assert_int_equal(s3_retry_classify(0, 404, "NoSuchBucket"), S3_RETRY_NO);
	assert_int_equal(s3_retry_classify(0, 404, ""), S3_RETRY_NO);
	assert_int_equal(s3_retry_classify(0, 400, "InvalidArgument"), S3_RETRY_NO);
	assert_int_equal(s3_retry_classify(0, 507, ""), S3_RETRY_NO);
	assert_int_equal(s3_retry_classify(CURLE_PEER_FAILED_VERIFICATION, 0, ""), S3_RETRY_NO);
	assert_int_equal(s3_retry_classify(CURLE_URL_MALFORMAT, 0, ""), S3_RETRY_NO);
	assert_int_equal(s3_retry_classify(CURLE_WRITE_ERROR, 0, ""), S3_RETRY_NO);
}

static void
error_mapping(void **state)
{
	(void)state;
	assert_int_equal(s3_error_code(0, 403, "SignatureDoesNotMatch"), ERR_PERMISSION);
	assert_int_equal(s3_error_code(0, 403, "AccessDenied"), ERR_PERMISSION);
	assert_int_equal(s3_error_code(0, 403, "InvalidAccessKeyId"), ERR_PERMISSION);
	assert_int_equal(s3_error_code(0, 403, "QuotaExceeded"), ERR_NO_SPACE);
	assert_int_equal(s3_error_code(0, 400, "EntityTooLarge"), ERR_NO_SPACE);
	assert_int_equal(s3_error_code(0, 507, ""), ERR_NO_SPACE);
	assert_int_equal(s3_error_code(0, 404, "NoSuchBucket"), ERR_NOT_FOUND);
	assert_int_equal(s3_error_code(0, 404, "NoSuchKey"), ERR_NOT_FOUND);
	assert_int_equal(s3_error_code(0, 404, ""), ERR_NOT_FOUND);
	assert_int_equal(s3_error_code(0, 503, "SlowDown"), ERR_BUSY);
	assert_int_equal(s3_error_code(0, 429, ""), ERR_BUSY);
	assert_int_equal(s3_error_code(0, 500, "InternalError"), ERR_NETWORK);
	assert_int_equal(s3_error_code(CURLE_COULDNT_CONNECT, 0, ""), ERR_NETWORK);
	assert_int_equal(s3_error_code(CURLE_OPERATION_TIMEDOUT, 0, ""), ERR_TIMEOUT);
	assert_int_equal(s3_error_code(0, 400, "InvalidArgument"), ERR_INVALID);
}

static void
backoff_bounds(void **state)
{
	unsigned seed = 1;
	int prev_cap = 0;

	(void)state;
	for (int attempt = 1; attempt <= 12; attempt++) {
		long cap = 100L << (attempt > 7 ? 7 : attempt - 1);
		if (cap > 8000)
			cap = 8000;
		for (int i = 0; i < 200; i++) {
			int ms = s3_backoff_ms(attempt, &seed);
			assert_in_range(ms, cap / 2, cap);
		}
		assert_true(cap >= prev_cap);
		prev_cap = (int)cap;
	}
	/* jitter: not all the same */
	int a = s3_backoff_ms(5, &seed), same = 1;
	for (int i = 0; i < 20; i++)
		same &= s3_backoff_ms(5, &seed) == a;
	assert_false(same);
}

/* Connection refused is retried (each retry logged), then the final error
 * names the operation, the object and the last error. */
static void
retries_then_fails(void **state)
{
	Storage *s = NULL;
	IoReader *r = NULL;
	int64_t t0;

	(void)state;
	assert_int_equal(storage_open_opts(&s, "s3://bucket/p?endpoint=http://127.0.0.1:9&retries=2", &keys), 0);
	err_clear();
	t0 = time_now_ms();
	assert_int_equal(storage_read_open(s, &r, "dir/obj"), ERR_NETWORK);
	assert_non_null(strstr(err_message(), "S3 read of \"s3://bucket/p/dir/obj\" failed: could not reach"));
	assert_non_null(strstr(err_detail_text(), "Gave up after 3 attempts"));
	assert_non_null(strstr(err_hint_text(), "endpoint="));
	/* two backoffs: 50..100 ms, then 100..200 ms */
	assert_true(time_now_ms() - t0 >= 150);
	storage_free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(uri_basic),
		cmocka_unit_test(uri_rejects),
		cmocka_unit_test(uri_credentials),
		cmocka_unit_test(encode_and_query),
		cmocka_unit_test(xml_list_result),
		cmocka_unit_test(xml_other_answers),
		cmocka_unit_test(xml_hostile),
		cmocka_unit_test(retry_classification),
		cmocka_unit_test(error_mapping),
		cmocka_unit_test(backoff_bounds),
		cmocka_unit_test(retries_then_fails),
	};

	return cmocka_run_group_tests_name("s3 parts", tests, NULL, NULL);
}
