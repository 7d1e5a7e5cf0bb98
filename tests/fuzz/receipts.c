/*
 * What providers post back: a status callback (Twilio, Vonage) and an
 * inbound SMS (Twilio, Vonage), each through its pure reader
 * (channels/sms/). The input is a URL, a content type and a body,
 * separated by NUL bytes; every other input gets Twilio's signature
 * computed over the body read as a form, and Vonage's (each method in
 * turn) appended to it as sig, with the clock at its timestamp, so the
 * readers past the signature checks are reached too; the URL's query is
 * also read as a Vonage GET.
 * Whatever comes, a refusal says why in printable text, and an accepted
 * receipt names a printable message id and one of the states a receipt
 * may set.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channels/sms/provider.h"
#include "tests/fuzz/fuzz.h"

static void why_ok(const char *why, size_t n)
{
	fz_assert(strnlen(why, n) < n, "why is terminated");
	fz_shown(why, "why a receipt was refused");
}

static void receipt_ok(const struct tc_receipt *r)
{
	fz_assert(r->provider_message_id[0] != '\0', "a receipt names its message");
	fz_shown(r->provider_message_id, "a receipt's message id");
	fz_shown(r->reason, "a receipt's reason");
	fz_assert(r->state == TC_DS_SENT || r->state == TC_DS_DELIVERED ||
		  r->state == TC_DS_UNDELIVERED, "sent, delivered or undelivered");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned calls;
	struct fz_in in = { (const char *)data, size };
	struct tc_sms_provider twilio, vonage;
	char *url, *type, *body, sig[64], header[96], why[256];
	const char *p, *headers[1];
	struct tc_receipt_in rin;
	struct tc_sms_form f;
	struct tc_receipt out;
	struct tc_inbound inbound;
	char *vbody, vsig[130];
	const char *ts, *q;
	size_t len;

	/* What the listener hands over: a body within TC_LIMIT_HTTP_BODY. */
	if (size > TC_LIMIT_HTTP_BODY + 4096)
		return 0;
	p = fz_next(&in, &len);
	url = fz_strndup(p ? p : "", p ? len : 0);
	p = fz_next(&in, &len);
	type = fz_strndup(p ? p : "", p ? len : 0);
	p = fz_next(&in, &len);
	body = fz_strndup(p ? p : "", p ? len : 0);
	len = p ? len : 0;

	memset(&twilio, 0, sizeof(twilio));
	twilio.name = "tw";
	twilio.kind = TC_SMS_TWILIO;
	twilio.account_sid = "AC0123456789abcdef0123456789abcdef";
	twilio.auth_token = "12345";
	memset(&vonage, 0, sizeof(vonage));
	vonage.name = "vg";
	vonage.kind = TC_SMS_VONAGE;
	vonage.api_key = "abcd1234";
	vonage.api_secret = "secret";

	snprintf(header, sizeof(header), "X-Twilio-Signature: forged");
	if (calls++ % 2) {
		if (tc_sms_form_read(body, len, &f) == 0 &&
		    tc_sms_twilio_signature(twilio.auth_token, url, &f, sig, sizeof(sig)) == 0)
			snprintf(header, sizeof(header), "X-Twilio-Signature: %s", sig);
		tc_sms_form_release(&f); /* in every case, as the reader says */
	}
	headers[0] = header;
	rin = (struct tc_receipt_in){
		.provider = "tw", .url = url, .content_type = type, .body = body,
		.body_len = len, .headers = headers, .n_headers = 1,
	};

	memset(&out, 0, sizeof(out));
	why[0] = '\0';
	if (tc_sms_twilio_receipt(&twilio, &rin, &out, why, sizeof(why)) == 0)
		receipt_ok(&out);
	else
		why_ok(why, sizeof(why));
	memset(&inbound, 0, sizeof(inbound));
	why[0] = '\0';
	if (tc_sms_twilio_inbound(&twilio, &rin, &inbound, why, sizeof(why)) == 0)
		fz_assert(inbound.from[0] == '+', "an inbound number is E.164");
	else
		why_ok(why, sizeof(why));
	rin.provider = "vg";
	memset(&out, 0, sizeof(out));
	why[0] = '\0';
	if (tc_sms_vonage_receipt(&vonage, &rin, &out, why, sizeof(why)) == 0)
		receipt_ok(&out);
	else
		why_ok(why, sizeof(why));

	vonage.signature_secret = "vonage-sig";
	vonage.signature_method = (enum tc_vonage_sig)(calls / 2 % 5);
	vbody = NULL;
	if (calls % 2 && tc_sms_form_read(body, len, &f) == 0 &&
	    tc_sms_vonage_signature(vonage.signature_secret, vonage.signature_method, &f,
				    vsig, sizeof(vsig)) == 0 &&
	    asprintf(&vbody, "%s&sig=%s", body, vsig) >= 0) {
		ts = tc_sms_form_value(&f, "timestamp");
		rin.now_s = ts ? strtoll(ts, NULL, 10) : 0;
		rin.body = vbody;
		rin.body_len = strlen(vbody);
	}
	tc_sms_form_release(&f);
	memset(&inbound, 0, sizeof(inbound));
	why[0] = '\0';
	if (tc_sms_vonage_inbound(&vonage, &rin, &inbound, why, sizeof(why)) == 0)
		fz_assert(inbound.from[0] == '+', "an inbound number is E.164");
	else
		why_ok(why, sizeof(why));
	q = strchr(url, '?');
	rin.query = q ? q + 1 : "";
	memset(&inbound, 0, sizeof(inbound));
	why[0] = '\0';
	if (tc_sms_vonage_inbound(&vonage, &rin, &inbound, why, sizeof(why)) == 0)
		fz_assert(inbound.from[0] == '+', "an inbound number is E.164");
	else
		why_ok(why, sizeof(why));
	free(vbody);
	free(url);
	free(type);
	free(body);
	return 0;
}
