/*
 * Vonage's inbound-sms webhook: a message a member sent to one of the
 * account's numbers (InboundMessage of the SMS API's OpenAPI description:
 * msisdn, to, messageId, text, type, keyword, message-timestamp, and with
 * signed webhooks timestamp, nonce and sig). The dashboard sends it as a
 * POST of JSON, a POST of a form, or a GET with the fields in the query;
 * all three are read.
 *
 * There is no token in an inbound URL, so Vonage's signature is the only
 * verification: without the provider's signature_secret nothing is taken.
 * As Vonage documents its signed webhooks (and its SDKs check them): every
 * field but sig, sorted by name, each appended as "&name=value" with '&'
 * and '=' in the value replaced by '_'; "md5hash" is the hex MD5 of that
 * text followed by the secret, the other methods the hex HMAC of the text
 * keyed with the secret. The signed timestamp must be within
 * TC_VONAGE_SIG_MAX_SKEW_S of now, so a captured request cannot be
 * replayed later. Pure (the time comes in the request): unit-tested and
 * fuzzed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "channels/sms/provider.h"

static const EVP_MD *sig_md(enum tc_vonage_sig m)
{
	switch (m) {
	case TC_VSIG_MD5HASH:
	case TC_VSIG_MD5:
		return EVP_md5();
	case TC_VSIG_SHA1:
		return EVP_sha1();
	case TC_VSIG_SHA256:
		return EVP_sha256();
	case TC_VSIG_SHA512:
		return EVP_sha512();
	}
	return NULL;
}

/* Appends s with '&' and '=' replaced by '_', as Vonage signs values. */
static int add_value(struct tc_buf *b, const char *s)
{
	int r = 0;

	for (; *s && r == 0; s++)
		r = tc_buf_addc(b, *s == '&' || *s == '=' ? '_' : *s);
	return r;
}

int tc_sms_vonage_signature(const char *secret, enum tc_vonage_sig method,
			    const struct tc_sms_form *f, char *out, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t order[TC_LIMIT_RECEIPT_FIELDS], i, m = 0;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	const EVP_MD *alg = sig_md(method);
	struct tc_buf data;
	int r = 0;

	if (!alg || n < 2 * (size_t)EVP_MD_get_size(alg) + 1)
		return TC_ELIMIT;
	for (i = 0; i < f->n; i++) { /* insertion sort by name: a small form */
		size_t j;

		if (strcmp(f->name[i], "sig") == 0)
			continue;
		for (j = m; j > 0 && strcmp(f->name[i], f->name[order[j - 1]]) < 0; j--)
			order[j] = order[j - 1];
		order[j] = i;
		m++;
	}
	/* the fields (of a body or a query), a '&' and a '=' each, a secret
	 * (a configuration value) */
	tc_buf_init(&data, TC_LIMIT_HTTP_BODY + TC_LIMIT_HTTP_TARGET +
		    2 * TC_LIMIT_RECEIPT_FIELDS + TC_LIMIT_ADDRESS);
	for (i = 0; i < m; i++) {
		r |= tc_buf_addc(&data, '&');
		r |= tc_buf_adds(&data, f->name[order[i]]);
		r |= tc_buf_addc(&data, '=');
		r |= add_value(&data, f->value[order[i]]);
	}
	if (r == 0 && method == TC_VSIG_MD5HASH) {
		r |= tc_buf_adds(&data, secret);
		if (r == 0 && !EVP_Digest(data.data ? data.data : "", data.len, md, &md_len,
					  alg, NULL))
			r = -ENOMEM;
	} else if (r == 0 && !HMAC(alg, secret, (int)strlen(secret),
				   (const unsigned char *)(data.data ? data.data : ""),
				   data.len, md, &md_len)) {
		r = -ENOMEM;
	}
	if (data.data)
		OPENSSL_cleanse(data.data, data.len); /* it held the secret */
	tc_buf_release(&data);
	if (r)
		return r < 0 ? r : TC_ELIMIT;
	for (i = 0; i < md_len; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[2 * md_len] = '\0';
	return 0;
}

/* Reads a JSON object of strings into f, its names and values borrowed
 * from *root (f->store stays NULL). */
static int json_fields(const struct tc_receipt_in *in, json_t **root, struct tc_sms_form *f,
		       char *why, size_t n)
{
	const char *name;
	json_t *v;

	*root = json_loadb(in->body ? in->body : "", in->body_len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(*root)) {
		snprintf(why, n, "not a JSON object without duplicate members");
		return TC_EINVAL;
	}
	json_object_foreach(*root, name, v) {
		if (f->n == TC_LIMIT_RECEIPT_FIELDS) {
			snprintf(why, n, "more than TC_LIMIT_RECEIPT_FIELDS fields");
			return TC_ELIMIT;
		}
		if (!json_is_string(v)) {
			char q[TC_LIMIT_LOG_VALUE + 16];

			/* InboundMessage has strings only: what is not one
			 * cannot be signed as Vonage signs */
			snprintf(why, n, "member %s is not a string",
				 tc_log_quote(q, sizeof(q), name));
			return TC_EINVAL;
		}
		f->name[f->n] = name;
		f->value[f->n++] = json_string_value(v);
	}
	return 0;
}

/* Reads in's fields (the query of a GET, a form or a JSON body) into f;
 * a name twice is refused (which of them was signed?). Release f and
 * *root in every case. */
static int read_fields(const struct tc_receipt_in *in, json_t **root, struct tc_sms_form *f,
		       char *why, size_t n)
{
	const char *ct = in->content_type ? in->content_type : "";
	size_t i, j;
	int e;

	if (in->query || strncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0) {
		e = in->query ? tc_sms_form_read(in->query, strlen(in->query), f) :
		    tc_sms_form_read(in->body ? in->body : "", in->body_len, f);
		if (e < 0) {
			snprintf(why, n, "%s", e == TC_ELIMIT ?
				 "more than TC_LIMIT_RECEIPT_FIELDS fields" :
				 e == -ENOMEM ? "out of memory" : "not a form");
			return e;
		}
		for (i = 0; i < f->n; i++)
			for (j = 0; j < i; j++)
				if (strcmp(f->name[i], f->name[j]) == 0) {
					snprintf(why, n, "a field is given twice");
					return TC_EINVAL;
				}
		return 0;
	}
	return json_fields(in, root, f, why, n);
}

/* Whether s is 1 to max decimal digits. */
static bool digits(const char *s, size_t max)
{
	size_t k = strspn(s, "0123456789");

	return k > 0 && k <= max && s[k] == '\0';
}

/* Checks f's sig (hex, any case) and its timestamp's freshness. */
static int verify(const struct tc_sms_provider *p, const struct tc_receipt_in *in,
		  const struct tc_sms_form *f, char *why, size_t n)
{
	const char *sig = tc_sms_form_value(f, "sig"), *ts = tc_sms_form_value(f, "timestamp");
	char want[2 * EVP_MAX_MD_SIZE + 1], got[2 * EVP_MAX_MD_SIZE + 1];
	size_t i, len;
	int64_t t;
	int e;

	if (!sig) {
		snprintf(why, n, "no sig: the request is not signed");
		return TC_EINVAL;
	}
	e = tc_sms_vonage_signature(p->signature_secret, p->signature_method, f, want,
				    sizeof(want));
	if (e < 0) {
		snprintf(why, n, "%s", e == -ENOMEM ? "out of memory" : "fields too large");
		return e;
	}
	len = strlen(want);
	if (strlen(sig) != len) {
		snprintf(why, n, "sig does not verify");
		return TC_EINVAL;
	}
	for (i = 0; i < len; i++)
		got[i] = sig[i] >= 'A' && sig[i] <= 'F' ? (char)(sig[i] - 'A' + 'a') : sig[i];
	if (CRYPTO_memcmp(got, want, len) != 0) {
		snprintf(why, n, "sig does not verify");
		return TC_EINVAL;
	}
	/* Verified; now whether it is fresh (the timestamp is signed). */
	if (!ts || !digits(ts, 12)) {
		snprintf(why, n, "timestamp missing or not Unix seconds");
		return TC_EINVAL;
	}
	t = strtoll(ts, NULL, 10);
	if (t < in->now_s - TC_VONAGE_SIG_MAX_SKEW_S || t > in->now_s + TC_VONAGE_SIG_MAX_SKEW_S) {
		snprintf(why, n, "timestamp %lld is more than %d s from now (%lld): stale or "
			 "replayed", (long long)t, TC_VONAGE_SIG_MAX_SKEW_S,
			 (long long)in->now_s);
		return TC_EINVAL;
	}
	return 0;
}

int tc_sms_vonage_inbound(const struct tc_sms_provider *p, const struct tc_receipt_in *in,
			  struct tc_inbound *out, char *why, size_t n)
{
	struct tc_sms_form f = { 0 };
	json_t *root = NULL;
	const char *msisdn, *key, *type, *text;
	int e;

	memset(out, 0, sizeof(*out));
	if (!p->signature_secret) {
		snprintf(why, n, "no signature_secret: this provider takes no inbound messages");
		return TC_EINVAL;
	}
	if ((e = read_fields(in, &root, &f, why, n)) < 0 || (e = verify(p, in, &f, why, n)) < 0)
		goto out;
	e = TC_EINVAL;
	key = tc_sms_form_value(&f, "api-key");
	if (key && (!p->api_key || strcmp(key, p->api_key) != 0)) {
		snprintf(why, n, "api-key is not the provider's");
		goto out;
	}
	/* E.164 digits without '+', as Vonage writes numbers */
	msisdn = tc_sms_form_value(&f, "msisdn");
	if (msisdn && msisdn[0] == '+')
		msisdn++;
	if (!msisdn || !digits(msisdn, 15)) {
		snprintf(why, n, "msisdn missing or not an E.164 number");
		goto out;
	}
	snprintf(out->from, sizeof(out->from), "+%s", msisdn);
	type = tc_sms_form_value(&f, "type");
	text = type && strcmp(type, "binary") == 0 ? NULL : tc_sms_form_value(&f, "text");
	snprintf(out->text, sizeof(out->text), "%.*s", (int)(sizeof(out->text) - 1),
		 text ? text : "");
	e = 0;
out:
	json_decref(root);
	tc_sms_form_release(&f);
	return e;
}
