/*
 * notify.c - notification channels and deliveries: webhooks (a JSON body
 * signed with HMAC-SHA256 under the channel's secret) and e-mail over SMTP,
 * both through libcurl; retries with backoff, every attempt recorded.
 *
 * Invariant: a channel's secret is unsealed only for the one request that
 * needs it and wiped after it; it is never logged, stored in clear, or put
 * in an error message.
 */
#include "alert/alert.h"

#include "common/buf.h"
#include "common/error.h"
#include "common/log.h"
#include "meta/secret.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
notify_sign(const char *secret, const void *body, size_t len, char out[72])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;

	HMAC(EVP_sha256(), secret, (int)strlen(secret), body, len, md, &md_len);
	memcpy(out, "sha256=", 7);
	for (unsigned int i = 0; i < md_len && i < 32; i++)
		snprintf(out + 7 + 2 * i, 3, "%02x", md[i]);
	out[7 + 64] = '\0';
}

/* ---- channels ---- */

static bool
kinds_ok(const char *kinds, char *bad, size_t cap)
{
	char *copy, *save = NULL;
	bool ok = true;

	if (kinds == NULL || *kinds == '\0')
		return true;
	copy = xstrdup(kinds);
	for (char *k = strtok_r(copy, ",", &save); k && ok; k = strtok_r(NULL, ",", &save))
		if (!alert_kind_known(k)) {
			snprintf(bad, cap, "%s", k);
			ok = false;
		}
	free(copy);
	return ok;
}

static bool
takes_kind(const MetaChannel *c, const char *kind)
{
	char *copy, *save = NULL;
	bool r = false;

	if (c->kinds == NULL || *c->kinds == '\0')
		return true;
	copy = xstrdup(c->kinds);
	for (char *k = strtok_r(copy, ",", &save); k && !r; k = strtok_r(NULL, ",", &save))
		r = strcmp(k, kind) == 0;
	free(copy);
	return r;
}

static bool
name_ok(const char *name)
{
	size_t len = name ? strlen(name) : 0;

	return len >= 1 && len <= 63 &&
	       strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") == len &&
	       strspn(name, "0123456789") != len;  /* all digits would read as an id */
}

/* No CR or LF (they would end a mail header or an SMTP command), not empty. */
static bool
header_safe(const char *s)
{
	return s && *s && strpbrk(s, "\r\n") == NULL && strlen(s) < 1024;
}

int
notify_channel_create(Meta *m, const NotifyChannelSpec *spec, MetaChannel *out)
{
	MetaChannel c = {0};
	char bad[64];
	int rc;

	memset(out, 0, sizeof(*out));
	if (!name_ok(spec->name)) {
		err_set(ERR_INVALID, "invalid notification channel name \"%.80s\"", spec->name ? spec->name : "");
		err_detail("A channel name has 1 to 63 letters, digits, \"_\" and \"-\", and is not a number.");
		return ERR_INVALID;
	}
	if (spec->type == NULL || (strcmp(spec->type, "webhook") != 0 && strcmp(spec->type, "email") != 0)) {
		err_set(ERR_INVALID, "invalid notification channel type \"%.40s\"", spec->type ? spec->type : "");
		err_hint("Use webhook or email.");
		return ERR_INVALID;
	}
	if (!kinds_ok(spec->kinds, bad, sizeof(bad))) {
		err_set(ERR_INVALID, "unknown alert kind \"%.60s\"", bad);
		err_hint("The kinds are wal_archive_lag, wal_archive_failing, backup_failed, backup_slow, backup_overdue"
		         " and storage_use.");
		return ERR_INVALID;
	}
	if (strcmp(spec->type, "webhook") == 0) {
		if (!header_safe(spec->url) ||
		    (strncmp(spec->url, "http://", 7) != 0 && strncmp(spec->url, "https://", 8) != 0)) {
			err_set(ERR_INVALID, "invalid webhook URL \"%.100s\"", spec->url ? spec->url : "");
			err_hint("Use an http:// or https:// URL.");
			return ERR_INVALID;
		}
		if (spec->secret == NULL || strlen(spec->secret) < 16) {
			err_set(ERR_INVALID, "a webhook channel needs a secret of at least 16 characters");
			err_detail("Each request is signed with it: X-Tenback-Signature: sha256=HMAC-SHA256(secret, body).");
			return ERR_INVALID;
		}
		if (spec->username || spec->from || spec->to)
			return err_set(ERR_INVALID, "username, from and to are for e-mail channels only");
	} else {
		if (!header_safe(spec->url) ||
		    (strncmp(spec->url, "smtp://", 7) != 0 && strncmp(spec->url, "smtps://", 8) != 0)) {
			err_set(ERR_INVALID, "invalid SMTP URL \"%.100s\"", spec->url ? spec->url : "");
			err_hint("Use smtp://host:port (STARTTLS required when a password is given) or smtps://host:port.");
			return ERR_INVALID;
		}
		if (!header_safe(spec->from) || strchr(spec->from, '@') == NULL) {
			err_set(ERR_INVALID, "an e-mail channel needs a sender address (from)");
			return ERR_INVALID;
		}
		if (!header_safe(spec->to) || strchr(spec->to, '@') == NULL) {
			err_set(ERR_INVALID, "an e-mail channel needs recipient addresses (to, comma-separated)");
			return ERR_INVALID;
		}
		if (spec->username && !header_safe(spec->username))
			return err_set(ERR_INVALID, "invalid SMTP user name");
	}
	c.name = (char *)spec->name;
	c.type = (char *)spec->type;
	c.url = (char *)spec->url;
	c.username = (char *)spec->username;
	c.mail_from = (char *)spec->from;
	c.mail_to = (char *)spec->to;
	c.kinds = (char *)(spec->kinds ? spec->kinds : "");
	if (spec->secret && *spec->secret &&
	    (rc = secret_seal(meta_home(m), (const uint8_t *)spec->secret, strlen(spec->secret), &c.secret, &c.secret_len)) < 0)
		return rc;
	rc = meta_channel_add(m, &c);
	free(c.secret);
	if (rc < 0)
		return rc;
	char id[32];
	snprintf(id, sizeof(id), "%lld", (long long)c.id);
	return meta_channel_get(m, id, out);
}

/* ---- sending ---- */

/* libcurl's global set-up, once per process, before the first handle
 * (the daemon's alert thread and API threads may both send). */
static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void
curl_init_once(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static CURL *
curl_handle(void)
{
	pthread_once(&curl_once, curl_init_once);
	return curl_init_rc == CURLE_OK ? curl_easy_init() : NULL;
}

typedef struct Upload {
	const char *data;
	size_t len;
	size_t off;
} Upload;

static size_t
upload_read(char *buf, size_t size, size_t nitems, void *payload)
{
	Upload *u = payload;
	size_t n = size * nitems;

	if (n > u->len - u->off)
		n = u->len - u->off;
	memcpy(buf, u->data + u->off, n);
	u->off += n;
	return n;
}

static size_t
discard(char *buf, size_t size, size_t nmemb, void *payload)
{
	(void)buf;
	(void)payload;
	return size * nmemb;
}

/* The body a webhook receives: the delivery's stored event and alert, with this attempt's figures. */
static char *
webhook_body(const MetaChannel *c, const MetaDelivery *d, int64_t attempt, time_t now)
{
	Buf b = BUF_INIT;
	char at[40];

	time_format_utc(at, sizeof(at), now);
	buf_printf(&b, "{\"delivery\":%lld,\"attempt\":%lld,\"event\":", (long long)d->id, (long long)attempt);
	json_escape(&b, d->event);
	buf_puts(&b, ",\"channel\":");
	json_escape(&b, c->name);
	buf_puts(&b, ",\"sent_at\":");
	json_escape(&b, at);
	buf_puts(&b, ",\"alert\":");
	buf_puts(&b, d->payload);
	buf_puts(&b, "}");
	return buf_steal(&b);
}

static int
send_webhook(const MetaChannel *c, const char *secret, const MetaDelivery *d, int64_t attempt, time_t now,
             long *out_http)
{
	char *body = webhook_body(c, d, attempt, now);
	char sig[72], hdr_sig[128], hdr_ts[64], hdr_id[64], errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *h = NULL;
	CURL *curl = curl_handle();
	CURLcode cc;
	int rc = 0;

	*out_http = 0;
	if (curl == NULL) {
		free(body);
		return err_set(ERR_INTERNAL, "could not start a curl handle");
	}
	notify_sign(secret ? secret : "", body, strlen(body), sig);
	snprintf(hdr_sig, sizeof(hdr_sig), "X-Tenback-Signature: %s", sig);
	snprintf(hdr_ts, sizeof(hdr_ts), "X-Tenback-Timestamp: %lld", (long long)now);
	snprintf(hdr_id, sizeof(hdr_id), "X-Tenback-Delivery: %lld", (long long)d->id);
	h = curl_slist_append(h, "Content-Type: application/json");
	h = curl_slist_append(h, hdr_sig);
	h = curl_slist_append(h, hdr_ts);
	h = curl_slist_append(h, hdr_id);
	h = curl_slist_append(h, "Expect:");
	curl_easy_setopt(curl, CURLOPT_URL, c->url);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "tenback/" TENBACK_VERSION);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, (long)NOTIFY_TIMEOUT_S);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 5L);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
	cc = curl_easy_perform(curl);
	if (cc != CURLE_OK) {
		rc = err_set(ERR_NETWORK, "could not send to webhook: %s", errbuf[0] ? errbuf : curl_easy_strerror(cc));
	} else {
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, out_http);
		if (*out_http < 200 || *out_http > 299)
			rc = err_set(ERR_NETWORK, "webhook answered HTTP %ld", *out_http);
	}
	curl_slist_free_all(h);
	curl_easy_cleanup(curl);
	free(body);
	return rc;
}

/* The mail of a delivery: headers and a plain-text body. */
static char *
mail_text(const MetaChannel *c, const MetaDelivery *d, time_t now)
{
	JsonValue *v = NULL;
	Buf b = BUF_INIT;
	char date[64], subject_state[16];
	const char *kind = "?", *object = "?", *message = "", *fired = NULL, *resolved = NULL;
	struct tm tm;

	if (json_parse(&v, d->payload, strlen(d->payload)) == 0) {
		kind = json_get_string(v, "kind") ? json_get_string(v, "kind") : "?";
		object = json_get_string(v, "object") ? json_get_string(v, "object") : "?";
		message = json_get_string(v, "message") ? json_get_string(v, "message") : "";
		fired = json_get_string(v, "fired_at");
		resolved = json_get_string(v, "resolved_at");
	}
	err_clear();
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	snprintf(subject_state, sizeof(subject_state), "%s",
	         strcmp(d->event, "resolved") == 0 ? "RESOLVED" : strcmp(d->event, "test") == 0 ? "TEST" : "FIRING");
	buf_printf(&b, "Date: %s\r\n", date);
	buf_printf(&b, "From: %s\r\n", c->mail_from);
	buf_printf(&b, "To: %s\r\n", c->mail_to);
	buf_printf(&b, "Message-ID: <tenback-%lld-%lld@tenback>\r\n", (long long)d->id, (long long)now);
	/* kind and object are tenback's own words, never a CR or LF */
	buf_printf(&b, "Subject: [tenback] %s %s %s\r\n", subject_state, kind, object);
	buf_puts(&b, "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n");
	/* the body: lines, each CRLF; a line starting with "." doubled is libcurl's job */
	for (const char *p = message; *p; p++) {
		if (*p == '\n')
			buf_puts(&b, "\r\n");
		else if (*p != '\r')
			buf_putc(&b, *p);
	}
	buf_puts(&b, "\r\n\r\n");
	buf_printf(&b, "Kind: %s\r\nObject: %s\r\nEvent: %s\r\n", kind, object, d->event);
	if (fired)
		buf_printf(&b, "Fired at: %s\r\n", fired);
	if (resolved)
		buf_printf(&b, "Resolved at: %s\r\n", resolved);
	buf_printf(&b, "Channel: %s\r\nDelivery: %lld\r\n", c->name, (long long)d->id);
	json_free(v);
	return buf_steal(&b);
}

/* "a@x, b@y" -> "<a@x>", "<b@y>" */
static struct curl_slist *
recipients(const char *to)
{
	struct curl_slist *l = NULL;
	char *copy = xstrdup(to), *save = NULL;

	for (char *r = strtok_r(copy, ",", &save); r; r = strtok_r(NULL, ",", &save)) {
		while (*r == ' ')
			r++;
		size_t len = strlen(r);
		while (len && r[len - 1] == ' ')
			r[--len] = '\0';
		if (len) {
			char *a = xasprintf("<%s>", r);
			l = curl_slist_append(l, a);
			free(a);
		}
	}
	free(copy);
	return l;
}

static int
send_mail(const MetaChannel *c, const char *password, const MetaDelivery *d, time_t now)
{
	char *text = mail_text(c, d, now);
	char *from = xasprintf("<%s>", c->mail_from);
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *rcpt = recipients(c->mail_to);
	Upload u = {text, strlen(text), 0};
	CURL *curl = curl_handle();
	CURLcode cc;
	int rc = 0;

	if (curl == NULL) {
		rc = err_set(ERR_INTERNAL, "could not start a curl handle");
		goto out;
	}
	curl_easy_setopt(curl, CURLOPT_URL, c->url);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	curl_easy_setopt(curl, CURLOPT_MAIL_FROM, from);
	curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, rcpt);
	curl_easy_setopt(curl, CURLOPT_READFUNCTION, upload_read);
	curl_easy_setopt(curl, CURLOPT_READDATA, &u);
	curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, (long)(2 * NOTIFY_TIMEOUT_S));
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 5L);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
	if (c->username)
		curl_easy_setopt(curl, CURLOPT_USERNAME, c->username);
	if (password) {
		curl_easy_setopt(curl, CURLOPT_PASSWORD, password);
		/* a password never crosses the network in clear */
		if (strncmp(c->url, "smtp://", 7) == 0)
			curl_easy_setopt(curl, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
	}
	cc = curl_easy_perform(curl);
	if (cc != CURLE_OK)
		rc = err_set(ERR_NETWORK, "could not send mail: %s", errbuf[0] ? errbuf : curl_easy_strerror(cc));
	curl_easy_cleanup(curl);
out:
	curl_slist_free_all(rcpt);
	free(from);
	free(text);
	return rc;
}

/* One attempt of d through c: records it; 0 when delivered, else the error set. */
static int
attempt(Meta *m, const MetaChannel *c, MetaDelivery *d, time_t now, int retry_base_s)
{
	uint8_t *secret = NULL;
	size_t secret_len = 0;
	long http = 0;
	MetaAttempt a = {0};
	char when[40];
	int rc;

	if (c->secret && c->secret_len &&
	    (rc = secret_open(meta_home(m), c->secret, c->secret_len, &secret, &secret_len)) < 0) {
		err_prefix("could not unseal the secret of notification channel \"%s\"", c->name);
	} else if (strcmp(c->type, "webhook") == 0) {
		rc = send_webhook(c, (const char *)secret, d, d->attempts + 1, now, &http);
	} else {
		rc = send_mail(c, (const char *)secret, d, now);
	}
	if (secret) {
		explicit_bzero(secret, secret_len);
		free(secret);
	}
	d->attempts++;
	free(d->last_error);
	d->last_error = rc < 0 ? xstrdup(err_message()) : NULL;
	free(d->status);
	if (rc == 0) {
		time_format_utc(when, sizeof(when), now);
		d->status = xstrdup("delivered");
		free(d->delivered_at);
		d->delivered_at = xstrdup(when);
	} else if (retry_base_s <= 0 || d->attempts >= NOTIFY_MAX_ATTEMPTS) {
		d->status = xstrdup("failed");
	} else {
		int64_t wait = retry_base_s;
		for (int64_t i = 1; i < d->attempts && wait < 3600; i++)
			wait *= 2;
		d->status = xstrdup("pending");
		d->next_attempt_at = (int64_t)now + (wait < 3600 ? wait : 3600);
	}
	a.delivery_id = d->id;
	a.attempt = d->attempts;
	a.outcome = rc == 0 ? "delivered" : "failed";
	a.http_status = http;
	a.error = d->last_error;
	if (meta_attempt_add(m, &a) < 0 || meta_delivery_update(m, d) < 0) {
		log_warning("notification delivery %lld: could not record its attempt: %s", (long long)d->id, err_message());
		err_clear();
	}
	if (rc == 0)
		log_info("notification delivery %lld (%s, channel %s): delivered", (long long)d->id, d->event, c->name);
	else
		log_warning("notification delivery %lld (%s, channel %s), attempt %lld: %s%s", (long long)d->id, d->event,
		            c->name, (long long)d->attempts, d->last_error,
		            strcmp(d->status, "failed") == 0 ? " (given up)" : "");
	return rc;
}

int
notify_queue(Meta *m, const MetaAlert *alert, const char *event, time_t now)
{
	MetaChannel *cs = NULL;
	size_t n = 0;
	Buf b = BUF_INIT;
	JsonWriter w;
	int rc;

	if ((rc = meta_channel_list(m, &cs, &n)) < 0)
		return rc;
	json_writer_init(&w, &b, false);
	meta_alert_json(&w, alert);
	for (size_t i = 0; i < n && rc == 0; i++) {
		MetaDelivery d = {0};
		if (!takes_kind(&cs[i], alert->kind))
			continue;
		d.channel_id = cs[i].id;
		d.alert_id = alert->id;
		d.event = (char *)event;
		d.payload = (char *)b.data;
		d.status = (char *)"pending";
		d.next_attempt_at = (int64_t)now;
		rc = meta_delivery_add(m, &d);
	}
	buf_free(&b);
	meta_channel_array_free(cs, n);
	return rc;
}

int
notify_deliver_due(Meta *m, time_t now, int retry_base_s, int *out_tried)
{
	MetaDelivery *ds = NULL;
	size_t n = 0;
	int rc, tried = 0;

	if ((rc = meta_delivery_due(m, (int64_t)now, &ds, &n)) < 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		MetaChannel c;
		char id[32];

		snprintf(id, sizeof(id), "%lld", (long long)ds[i].channel_id);
		if (meta_channel_get(m, id, &c) < 0) {
			err_clear();
			continue;  /* removed meanwhile: its deliveries go with it */
		}
		attempt(m, &c, &ds[i], now, retry_base_s);
		err_clear();
		tried++;
		meta_channel_clear(&c);
	}
	meta_delivery_array_free(ds, n);
	if (out_tried)
		*out_tried = tried;
	return 0;
}

int
notify_test(Meta *m, const char *channel, bool *out_delivered, char **out_error, int64_t *out_delivery_id)
{
	MetaChannel c;
	MetaDelivery d = {0};
	MetaAlert a = {0};
	Buf b = BUF_INIT;
	JsonWriter w;
	char now_s[40], object[64], message[256];
	time_t now = time(NULL);
	int rc;

	*out_delivered = false;
	*out_error = NULL;
	if (out_delivery_id)
		*out_delivery_id = 0;
	if ((rc = meta_channel_get(m, channel, &c)) < 0)
		return rc;
	time_format_utc(now_s, sizeof(now_s), now);
	snprintf(object, sizeof(object), "notification-channels/%lld", (long long)c.id);
	snprintf(message, sizeof(message), "Test notification from tenback through channel \"%s\"", c.name);
	a.kind = (char *)"test";
	a.object = object;
	a.message = message;
	a.fired_at = now_s;
	json_writer_init(&w, &b, false);
	meta_alert_json(&w, &a);
	d.channel_id = c.id;
	d.event = xstrdup("test");
	d.payload = buf_steal(&b);
	d.status = xstrdup("pending");
	d.next_attempt_at = (int64_t)now;
	if ((rc = meta_delivery_add(m, &d)) < 0)
		goto out;
	if (attempt(m, &c, &d, now, 0) == 0)
		*out_delivered = true;
	else
		*out_error = xstrdup(err_message());
	err_clear();
	if (out_delivery_id)
		*out_delivery_id = d.id;
out:
	meta_delivery_clear(&d);
	meta_channel_clear(&c);
	return rc;
}
