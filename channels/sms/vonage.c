/*
 * Vonage's (Nexmo's) SMS API: POST <base_url>/json, form-encoded api_key,
 * api_secret, from, to (E.164 digits without '+'), text, type=unicode when
 * the text needs UCS-2, and callback. Its answer is a 200 whatever became
 * of the message: each part's `status` says, as the API documents them
 * (x-errors of its OpenAPI description). A message is sent when every
 * part's status is "0"; the first part's message-id is the provider's id.
 *
 * Status 1 (throttled) is transient and holds the provider back; the
 * statuses that say this account cannot send now (credentials, suspended,
 * no credit, too many binds, not enabled, signature, sender, callback,
 * demo mode) are transient too, so another provider carries the message;
 * those that say the message or number is wrong are permanent.
 *
 * Delivery receipts (tc_sms_vonage_receipt, pure) are read as the OpenAPI
 * description has them: a POST of JSON (DeliveryReceipt), or the same
 * fields form-encoded, as Vonage's dashboard may be set to send them.
 * Vonage signs receipts only when signed webhooks are enabled on the
 * account; tocsin relies on the token in the callback URL instead (it was
 * only ever given to Vonage), and refuses a receipt whose api-key is not
 * the provider's. Inbound messages (replies) are vonage_inbound.c's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "channels/sms/provider.h"

/* The documented statuses that no other attempt can fix. */
static bool permanent_status(long s)
{
	return s == 2 || s == 3 || s == 6 || s == 7 || s == 12 || s == 22 || s == 33;
}

static int vonage_build(const struct tc_sms_provider *p, const struct tc_sms_out *m,
			struct tc_sms_req *q, char *why, size_t n)
{
	const char *to = m->to[0] == '+' ? m->to + 1 : m->to;
	int r = 0;

	r |= tc_sms_form_add(&q->body, "api_key", p->api_key, strlen(p->api_key));
	r |= tc_sms_form_add(&q->body, "api_secret", p->api_secret,
			     strlen(p->api_secret));
	r |= tc_sms_form_add(&q->body, "from", p->from, strlen(p->from));
	r |= tc_sms_form_add(&q->body, "to", to, strlen(to));
	r |= tc_sms_form_add(&q->body, "text", m->text, m->text_len);
	if (m->ucs2)
		r |= tc_sms_form_add(&q->body, "type", "unicode", 7);
	if (m->callback)
		r |= tc_sms_form_add(&q->body, "callback", m->callback,
				     strlen(m->callback));
	if (r) {
		snprintf(why, n, "vonage request larger than %u bytes", TC_LIMIT_BODY);
		return r == -ENOMEM ? -ENOMEM : TC_ELIMIT;
	}
	if (asprintf(&q->url, "%.*s/json", (int)tc_sms_base_len(p->base_url),
		     p->base_url) < 0) {
		q->url = NULL;
		return -ENOMEM;
	}
	q->headers = curl_slist_append(NULL, "Content-Type: application/x-www-form-urlencoded");
	if (q->headers && !curl_slist_append(q->headers, "Expect:")) {
		curl_slist_free_all(q->headers);
		q->headers = NULL;
	}
	return q->headers ? 0 : -ENOMEM;
}

/* A part's status as a number: "0".."99" as a string (as documented) or
 * an integer; -1 when it is neither. */
static long part_status(const json_t *part)
{
	json_t *s = json_object_get(part, "status");
	const char *t;
	char *end;
	long v;

	if (json_is_integer(s))
		return json_integer_value(s) >= 0 && json_integer_value(s) < 1000 ?
		       (long)json_integer_value(s) : -1;
	if (!json_is_string(s))
		return -1;
	t = json_string_value(s);
	if (!t[0] || strlen(t) > 3 || t[0] < '0' || t[0] > '9')
		return -1;
	v = strtol(t, &end, 10);
	return *end ? -1 : v;
}

void tc_sms_vonage_classify(const struct tc_sms_provider *p, long status,
			    const char *body, size_t len, struct tc_outcome *o)
{
	json_t *root, *parts, *part, *err;
	char sample[100], text[TC_LIMIT_LOG_VALUE + 16];
	size_t i, n;
	long s;

	(void)p;
	if (status != 200) {
		tc_sms_status_outcome(status, NULL, o);
		/* 401: the API key is refused; another provider may carry it */
		if (status == 401 || status == 403)
			o->kind = TC_OUT_TRANSIENT;
		return;
	}
	root = json_loadb(body, len, 0, NULL);
	parts = json_object_get(root, "messages");
	n = json_array_size(parts);
	if (!json_is_array(parts) || n == 0) {
		/* The parts' statuses are the verdict: without them it is
		 * unknown, and at least once beats maybe never. */
		tc_sms_body_sample(body, len, sample, sizeof(sample));
		o->kind = TC_OUT_TRANSIENT;
		snprintf(o->detail, sizeof(o->detail), "http 200, but the answer "
			 "has no messages: %s", sample);
		json_decref(root);
		return;
	}
	for (i = 0; i < n; i++) {
		part = json_array_get(parts, i);
		s = part_status(part);
		if (s == 0)
			continue;
		err = json_object_get(part, "error-text");
		tc_log_quote(text, sizeof(text), json_is_string(err) ?
			     json_string_value(err) : "");
		if (s < 0) {
			o->kind = TC_OUT_TRANSIENT;
			snprintf(o->detail, sizeof(o->detail), "http 200, but part %zu "
				 "of the answer has no status", i + 1);
		} else {
			o->kind = permanent_status(s) ? TC_OUT_PERMANENT : TC_OUT_TRANSIENT;
			snprintf(o->detail, sizeof(o->detail), "vonage status %ld %s",
				 s, text);
			if (s == 1 && o->retry_after_ms <= 0)
				o->retry_after_ms = TC_SMS_THROTTLE_MS;
		}
		json_decref(root);
		return;
	}
	o->kind = TC_OUT_SENT;
	if (!tc_sms_json_text(root, "/messages/0/message-id", o->provider_id,
			      sizeof(o->provider_id)))
		o->provider_id[0] = '\0';
	snprintf(o->detail, sizeof(o->detail), "accepted (%zu part%s)", n,
		 n == 1 ? "" : "s");
	json_decref(root);
}

/* A receipt's fields, JSON or form. */
struct dlr {
	json_t *json;
	struct tc_sms_form form;
	bool is_json;
};

/* Field name's value as text into out (n bytes): false when absent, not
 * a string or integer, not printable, or too long. */
static bool field(const struct dlr *r, const char *name, char *out, size_t n)
{
	char ptr[40];
	const char *v;

	if (r->is_json) {
		snprintf(ptr, sizeof(ptr), "/%s", name);
		return tc_sms_json_text(r->json, ptr, out, n);
	}
	/* as tc_sms_json_text: printable, no spaces, fits, or not taken */
	v = tc_sms_form_value(&r->form, name);
	if (!v || !v[0] || strlen(v) >= n)
		return false;
	for (size_t i = 0; v[i]; i++)
		if ((unsigned char)v[i] < 0x21 || (unsigned char)v[i] > 0x7e)
			return false;
	snprintf(out, n, "%s", v);
	return true;
}

/* Vonage's DLR statuses: on the way, delivered, or not. */
static int vonage_state(const char *s, enum tc_dstate *out)
{
	if (strcmp(s, "delivered") == 0)
		return *out = TC_DS_DELIVERED, 0;
	if (strcmp(s, "expired") == 0 || strcmp(s, "failed") == 0 ||
	    strcmp(s, "rejected") == 0)
		return *out = TC_DS_UNDELIVERED, 0;
	if (strcmp(s, "accepted") == 0 || strcmp(s, "buffered") == 0 ||
	    strcmp(s, "unknown") == 0)
		return *out = TC_DS_SENT, 0;
	return TC_EINVAL;
}

int tc_sms_vonage_receipt(const struct tc_sms_provider *p, const struct tc_receipt_in *in,
			  struct tc_receipt *out, char *why, size_t n)
{
	struct dlr r = { 0 };
	char id[TC_LIMIT_PROVIDER_ID + 1], st[32], code[24], key[80];
	int e = TC_EINVAL;

	memset(out, 0, sizeof(*out));
	r.is_json = !in->content_type ||
		strncasecmp(in->content_type, "application/x-www-form-urlencoded", 33) != 0;
	if (r.is_json) {
		r.json = json_loadb(in->body ? in->body : "", in->body_len, 0, NULL);
		if (!json_is_object(r.json)) {
			snprintf(why, n, "not a JSON object");
			goto out;
		}
	} else if ((e = tc_sms_form_read(in->body ? in->body : "", in->body_len,
					 &r.form)) < 0) {
		snprintf(why, n, "%s", e == TC_ELIMIT ?
			 "more than TC_LIMIT_RECEIPT_FIELDS form fields" : "not a form body");
		goto out;
	}
	e = TC_EINVAL;
	if (field(&r, "api-key", key, sizeof(key)) &&
	    (!p->api_key || strcmp(key, p->api_key) != 0)) {
		snprintf(why, n, "api-key is not the provider's");
		goto out;
	}
	if (!field(&r, "messageId", id, sizeof(id)) || !id[0] ||
	    strspn(id, "0123456789ABCDEFabcdef-") != strlen(id)) {
		snprintf(why, n, "messageId missing or not a message id");
		goto out;
	}
	if (!field(&r, "status", st, sizeof(st)) || vonage_state(st, &out->state) < 0) {
		snprintf(why, n, "status missing or not a Vonage DLR status");
		goto out;
	}
	snprintf(out->provider_message_id, sizeof(out->provider_message_id), "%s", id);
	if (field(&r, "err-code", code, sizeof(code)) && strspn(code, "0123456789") ==
	    strlen(code) && code[0] && strcmp(code, "0") != 0)
		snprintf(out->reason, sizeof(out->reason), "vonage %s, err-code %s", st, code);
	else
		snprintf(out->reason, sizeof(out->reason), "vonage %s", st);
	e = 0;
out:
	json_decref(r.json);
	if (!r.is_json)
		tc_sms_form_release(&r.form);
	return e;
}

const struct tc_sms_kind_ops tc_sms_vonage_ops = {
	.build = vonage_build,
	.classify = tc_sms_vonage_classify,
	.receipt = tc_sms_vonage_receipt,
	.inbound = tc_sms_vonage_inbound,
};
