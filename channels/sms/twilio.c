/*
 * Twilio's Programmable Messaging: POST <base_url>/2010-04-01/Accounts/
 * {AccountSid}/Messages.json, form-encoded To, From (or
 * MessagingServiceSid), Body and StatusCallback, with HTTP basic
 * authentication (account SID, auth token). A 201 carries the Message
 * resource; its sid is the provider's message id. An error answer carries
 * Twilio's code and message, kept (escaped) in the outcome's detail.
 *
 * A 401, 403 or 404 says this account cannot send (wrong credentials or
 * SID, suspended): another provider may carry the message, so it is
 * transient; other 4xx say the message itself is wrong (a bad To).
 *
 * Status callbacks are verified as Twilio documents X-Twilio-Signature:
 * base64(HMAC-SHA1(auth token, the full URL Twilio requested followed by
 * every POST field's name and value, sorted by name))
 * (tc_sms_twilio_signature); tc_sms_twilio_receipt then reads MessageSid,
 * MessageStatus and ErrorCode. Both are pure (unit-tested, fuzzed).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "channels/sms/provider.h"

static int twilio_build(const struct tc_sms_provider *p, const struct tc_sms_out *m,
			struct tc_sms_req *q, char *why, size_t n)
{
	struct tc_buf url;
	int r = 0;

	tc_buf_init(&url, TC_LIMIT_ADDRESS);
	r |= tc_buf_add(&url, p->base_url, tc_sms_base_len(p->base_url));
	r |= tc_buf_adds(&url, "/2010-04-01/Accounts/");
	r |= tc_sms_form_escape(&url, p->account_sid, strlen(p->account_sid));
	r |= tc_buf_adds(&url, "/Messages.json");
	r |= tc_sms_form_add(&q->body, "To", m->to, strlen(m->to));
	if (p->messaging_service_sid)
		r |= tc_sms_form_add(&q->body, "MessagingServiceSid",
				     p->messaging_service_sid,
				     strlen(p->messaging_service_sid));
	else
		r |= tc_sms_form_add(&q->body, "From", p->from, strlen(p->from));
	r |= tc_sms_form_add(&q->body, "Body", m->text, m->text_len);
	if (m->callback)
		r |= tc_sms_form_add(&q->body, "StatusCallback", m->callback,
				     strlen(m->callback));
	if (r) {
		tc_buf_release(&url);
		snprintf(why, n, "twilio request larger than %u bytes", TC_LIMIT_BODY);
		return r == -ENOMEM ? -ENOMEM : TC_ELIMIT;
	}
	q->url = tc_buf_take(&url);
	q->headers = curl_slist_append(NULL, "Content-Type: application/x-www-form-urlencoded");
	if (q->headers && !curl_slist_append(q->headers, "Expect:")) {
		curl_slist_free_all(q->headers);
		q->headers = NULL;
	}
	if (p->account_sid && p->auth_token &&
	    asprintf(&q->userpwd, "%s:%s", p->account_sid, p->auth_token) < 0)
		q->userpwd = NULL;
	if (!q->url || !q->headers || !q->userpwd)
		return -ENOMEM;
	return 0;
}

void tc_sms_twilio_classify(const struct tc_sms_provider *p, long status,
			    const char *body, size_t len, struct tc_outcome *o)
{
	json_t *root = json_loadb(body, len, 0, NULL);
	char what[200], msg[TC_LIMIT_LOG_VALUE + 16], code[32];
	json_t *m;

	(void)p;
	if (status >= 200 && status < 300) {
		o->kind = TC_OUT_SENT;
		if (root && tc_sms_json_text(root, "/sid", o->provider_id,
					     sizeof(o->provider_id))) {
			snprintf(o->detail, sizeof(o->detail), "accepted (http %ld)", status);
		} else {
			/* Taken, says the status; without an id its receipts
			 * cannot be matched, but sending again would send twice. */
			tc_sms_body_sample(body, len, what, sizeof(what));
			snprintf(o->detail, sizeof(o->detail), "accepted (http %ld), but "
				 "the answer has no message sid: %s", status, what);
		}
		json_decref(root);
		return;
	}
	what[0] = '\0';
	if (root && tc_sms_json_text(root, "/code", code, sizeof(code))) {
		m = json_object_get(root, "message");
		tc_log_quote(msg, sizeof(msg), json_is_string(m) ? json_string_value(m) : "");
		snprintf(what, sizeof(what), "twilio error %.20s %.150s", code, msg);
	}
	tc_sms_status_outcome(status, what, o);
	if (status == 401 || status == 403 || status == 404)
		o->kind = TC_OUT_TRANSIENT;
	json_decref(root);
}

/* The value of header name (any case) among "name: value" lines. */
static const char *header(const struct tc_receipt_in *in, const char *name)
{
	size_t i, n = strlen(name);
	const char *v;

	for (i = 0; i < in->n_headers; i++) {
		if (strncasecmp(in->headers[i], name, n) != 0 || in->headers[i][n] != ':')
			continue;
		for (v = in->headers[i] + n + 1; *v == ' ' || *v == '\t'; v++)
			;
		return v;
	}
	return NULL;
}

/* Whether field i sorts before field j: by name, then value (Twilio:
 * case-sensitive, byte order). */
static bool before(const struct tc_sms_form *f, size_t i, size_t j)
{
	int c = strcmp(f->name[i], f->name[j]);

	return c ? c < 0 : strcmp(f->value[i], f->value[j]) < 0;
}

int tc_sms_twilio_signature(const char *auth_token, const char *url,
			    const struct tc_sms_form *f, char *out, size_t n)
{
	size_t order[TC_LIMIT_RECEIPT_FIELDS], i;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	struct tc_buf data;
	int r = 0;

	if (n < 4 * ((SHA_DIGEST_LENGTH + 2) / 3) + 1)
		return TC_ELIMIT;
	tc_buf_init(&data, TC_LIMIT_ADDRESS + TC_LIMIT_HTTP_BODY);
	r |= tc_buf_adds(&data, url);
	for (i = 0; i < f->n; i++) { /* insertion sort: a bounded, small form */
		size_t j = i, k = i;

		for (; j > 0 && before(f, k, order[j - 1]); j--)
			order[j] = order[j - 1];
		order[j] = k;
	}
	for (i = 0; i < f->n; i++) {
		r |= tc_buf_adds(&data, f->name[order[i]]);
		r |= tc_buf_adds(&data, f->value[order[i]]);
	}
	if (r == 0 && !HMAC(EVP_sha1(), auth_token, (int)strlen(auth_token),
			    (const unsigned char *)(data.data ? data.data : ""), data.len,
			    md, &md_len))
		r = -ENOMEM;
	tc_buf_release(&data);
	if (r)
		return r < 0 ? r : -ENOMEM;
	EVP_EncodeBlock((unsigned char *)out, md, (int)md_len);
	return 0;
}

/* Twilio's message statuses: on the way, delivered, or not. */
static int twilio_state(const char *s, enum tc_dstate *out)
{
	static const char *const on_way[] = {
		"accepted", "scheduled", "queued", "sending", "sent", NULL,
	};
	size_t i;

	for (i = 0; on_way[i]; i++)
		if (strcmp(s, on_way[i]) == 0)
			return *out = TC_DS_SENT, 0;
	if (strcmp(s, "delivered") == 0 || strcmp(s, "read") == 0)
		return *out = TC_DS_DELIVERED, 0;
	if (strcmp(s, "undelivered") == 0 || strcmp(s, "failed") == 0 ||
	    strcmp(s, "canceled") == 0)
		return *out = TC_DS_UNDELIVERED, 0;
	return TC_EINVAL;
}

/* A message id or error code as Twilio spells them: letters and digits. */
static bool alnum(const char *s, size_t max)
{
	size_t n = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789");

	return n > 0 && n <= max && s[n] == '\0';
}

/* Reads in's form into f and checks its X-Twilio-Signature. Returns 0,
 * or TC_EINVAL / TC_ELIMIT / -ENOMEM with why; release f in every case. */
static int verified_form(const struct tc_sms_provider *p, const struct tc_receipt_in *in,
			 struct tc_sms_form *f, char *why, size_t n)
{
	const char *sig = header(in, "x-twilio-signature");
	char want[64];
	int r;

	r = tc_sms_form_read(in->body ? in->body : "", in->body_len, f);
	if (r == 0 && !sig) {
		snprintf(why, n, "no X-Twilio-Signature header");
		return TC_EINVAL;
	}
	if (r == 0)
		r = tc_sms_twilio_signature(p->auth_token ? p->auth_token : "", in->url, f,
					    want, sizeof(want));
	if (r < 0) {
		snprintf(why, n, "%s", r == -ENOMEM ? "out of memory" :
			 r == TC_ELIMIT ? "more than TC_LIMIT_RECEIPT_FIELDS form fields" :
			 "not a form body");
		return r;
	}
	if (strlen(sig) != strlen(want) || CRYPTO_memcmp(sig, want, strlen(want)) != 0) {
		snprintf(why, n, "X-Twilio-Signature does not verify");
		return TC_EINVAL;
	}
	return 0;
}

int tc_sms_twilio_receipt(const struct tc_sms_provider *p, const struct tc_receipt_in *in,
			  struct tc_receipt *out, char *why, size_t n)
{
	struct tc_sms_form f;
	const char *sid, *st, *code;
	char q[TC_LIMIT_LOG_VALUE + 16];
	int r;

	memset(out, 0, sizeof(*out));
	if ((r = verified_form(p, in, &f, why, n)) < 0)
		goto out;
	sid = tc_sms_form_value(&f, "MessageSid");
	st = tc_sms_form_value(&f, "MessageStatus");
	code = tc_sms_form_value(&f, "ErrorCode");
	r = TC_EINVAL;
	if (!sid || !alnum(sid, TC_LIMIT_PROVIDER_ID)) {
		snprintf(why, n, "MessageSid missing or not a message sid");
		goto out;
	}
	if (!st || twilio_state(st, &out->state) < 0) {
		snprintf(why, n, "MessageStatus %s is not a Twilio message status",
			 tc_log_quote(q, sizeof(q), st ? st : ""));
		goto out;
	}
	snprintf(out->provider_message_id, sizeof(out->provider_message_id), "%s", sid);
	if (code && code[0] && alnum(code, 16))
		snprintf(out->reason, sizeof(out->reason), "twilio %s, error %s", st, code);
	else
		snprintf(out->reason, sizeof(out->reason), "twilio %s", st);
	r = 0;
out:
	tc_sms_form_release(&f);
	return r;
}

int tc_sms_twilio_inbound(const struct tc_sms_provider *p, const struct tc_receipt_in *in,
			  struct tc_inbound *out, char *why, size_t n)
{
	struct tc_sms_form f;
	const char *from, *body;
	int r;

	memset(out, 0, sizeof(*out));
	if ((r = verified_form(p, in, &f, why, n)) < 0)
		goto out;
	from = tc_sms_form_value(&f, "From");
	body = tc_sms_form_value(&f, "Body");
	r = TC_EINVAL;
	if (!from || from[0] != '+' || !alnum(from + 1, 15) ||
	    strspn(from + 1, "0123456789") != strlen(from + 1)) {
		snprintf(why, n, "From missing or not an E.164 number");
		goto out;
	}
	snprintf(out->from, sizeof(out->from), "%s", from);
	snprintf(out->text, sizeof(out->text), "%.*s", (int)(sizeof(out->text) - 1),
		 body ? body : "");
	r = 0;
out:
	tc_sms_form_release(&f);
	return r;
}

const struct tc_sms_kind_ops tc_sms_twilio_ops = {
	.build = twilio_build,
	.classify = tc_sms_twilio_classify,
	.receipt = tc_sms_twilio_receipt,
	.inbound = tc_sms_twilio_inbound,
};
