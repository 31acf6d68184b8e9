/*
 * fuzz_s3xml.c - answers of an S3 server (listings, errors, multipart
 * uploads) are untrusted XML: the event parser and the path lookup.
 */
#include "storage/s3/s3.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
count_cb(void *payload, S3XmlEvent ev, const char *path, const char *text, size_t len)
{
	size_t *n = payload;

	(void)ev;
	(void)text;
	*n += strlen(path) + len;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char out[256];
	size_t n = 0;

	(void)s3_xml_parse((const char *)data, size, count_cb, &n);
	(void)s3_xml_get((const char *)data, size, "Error/Code", out, sizeof(out));
	(void)s3_xml_get((const char *)data, size, "ListBucketResult/NextContinuationToken", out, sizeof(out));
	(void)s3_xml_get((const char *)data, size, "InitiateMultipartUploadResult/UploadId", out, 1);
	return 0;
}
