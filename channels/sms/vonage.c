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
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

const struct tc_sms_kind_ops tc_sms_vonage_ops = {
	.build = vonage_build,
	.classify = tc_sms_vonage_classify,
};
