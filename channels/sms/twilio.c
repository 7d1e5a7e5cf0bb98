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
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

const struct tc_sms_kind_ops tc_sms_twilio_ops = {
	.build = twilio_build,
	.classify = tc_sms_twilio_classify,
};
