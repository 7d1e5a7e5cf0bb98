/*
 * What providers answer: an SMS provider's HTTP answer (Twilio, Vonage, a
 * generic gateway) and an SMTP server's reply, each read by a pure
 * function (channels/sms/provider.h, channels/email/email.h). The input's
 * first four bytes pick the reader, the status (or reply code and
 * enhanced status) and the stage; the rest is the body or the reply text.
 * Whatever comes, the outcome is one of the four kinds, its texts are
 * terminated and safe to show, a hold is within TC_RETRY_AFTER_MAX_MS,
 * and an SMTP reply's class decides its kind as the issue says.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "channels/email/email.h"
#include "channels/sms/provider.h"
#include "tests/fuzz/fuzz.h"

static void outcome_ok(const struct tc_outcome *o)
{
	fz_assert(o->kind == TC_OUT_DELIVERED || o->kind == TC_OUT_SENT ||
		  o->kind == TC_OUT_TRANSIENT || o->kind == TC_OUT_PERMANENT,
		  "one of the four outcomes");
	fz_assert(strnlen(o->detail, sizeof(o->detail)) < sizeof(o->detail),
		  "detail is terminated");
	fz_assert(strnlen(o->provider_id, sizeof(o->provider_id)) < sizeof(o->provider_id),
		  "provider_id is terminated");
	fz_shown(o->detail, "an outcome's detail");
	fz_shown(o->provider_id, "a provider's message id");
	fz_assert(o->retry_after_ms >= -1 && o->retry_after_ms <= TC_RETRY_AFTER_MAX_MS,
		  "a hold within TC_RETRY_AFTER_MAX_MS");
}

static void sms(unsigned which, long status, const char *body, size_t len)
{
	static const tc_sms_classify_fn readers[] = {
		tc_sms_twilio_classify, tc_sms_vonage_classify, tc_sms_http_classify,
	};
	struct tc_sms_provider p;
	struct tc_outcome o;

	/* A gateway whose answer says {"ok": true, "id": "..."} on a 2xx. */
	memset(&p, 0, sizeof(p));
	p.name = "fuzz";
	p.kind = which == 0 ? TC_SMS_TWILIO : which == 1 ? TC_SMS_VONAGE : TC_SMS_HTTP;
	p.success.pointer = "/ok";
	p.success.equals = json_true();
	p.message_id = "/id";
	memset(&o, 0, sizeof(o));
	o.retry_after_ms = -1;
	readers[which](&p, status, body, len, &o);
	outcome_ok(&o);
	if (status >= 400 && status < 500 && status != 429 && which == 2)
		fz_assert(o.kind != TC_OUT_SENT, "a gateway's 4xx is no success");
}

static void smtp(const uint8_t *h, const char *text)
{
	struct tc_smtp_reply r = {
		.code = h[1] % 2 ? 0 : 200 + (h[2] % 4) * 100 + h[3] % 60,
		.enh_class = h[3] % 6, .enh_subject = h[2] % 8, .enh_detail = h[1] % 30,
		.text = (h[0] >> 4) % 3 ? text : NULL,
	};
	enum tc_smtp_stage stage = (enum tc_smtp_stage)((h[0] >> 2) % 4);
	struct tc_outcome o;

	memset(&o, 0, sizeof(o));
	o.retry_after_ms = -1;
	(void)tc_smtp_classify(&r, stage, &o);
	outcome_ok(&o);
	if (r.code >= 500)
		fz_assert(o.kind == TC_OUT_PERMANENT, "a 5xx reply is permanent");
	else if (r.code >= 400 || r.code == 0)
		fz_assert(o.kind == TC_OUT_TRANSIENT, "a 4xx reply, or none, is transient");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *body;
	long status;

	/* What the HTTP client keeps of an answer; an SMTP reply is less. */
	if (size < 4 || size - 4 > TC_LIMIT_RESPONSE_BODY)
		return 0;
	body = fz_strndup(data + 4, size - 4);
	status = 100 + (data[1] << 8 | data[2]) % 500;
	if (data[0] % 4 < 3)
		sms(data[0] % 4, status, body, size - 4);
	else
		smtp(data, body);
	free(body);
	return 0;
}
