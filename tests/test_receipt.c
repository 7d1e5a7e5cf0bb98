/*
 * Unit tests of the receipt readers (pure): the form reader, Twilio's
 * X-Twilio-Signature on Twilio's documented example, Twilio status
 * callbacks (statuses, ErrorCode, tampering) and Vonage delivery receipts
 * (JSON and form, statuses, api-key), Twilio's inbound message webhook,
 * and Vonage's signed inbound-sms (vectors computed apart from tocsin:
 * the Vonage SDKs' published one, and Python's hashlib and hmac).
 */
#include <stdio.h>
#include <string.h>

#include "channels/sms/provider.h"
#include "tc_test.h"

/* Twilio's documented example (security guide): auth token 12345. */
#define DOC_URL "https://mycompany.com/myapp.php?foo=1&bar=2"
#define DOC_BODY "CallSid=CA1234567890ABCDE&Caller=%2B12349013030&Digits=1234&" \
	"From=%2B12349013030&To=%2B18005551212"
#define DOC_SIG "0/KCTR6DLpKmkAf8muzZqo1nDgQ="

static void test_form(void)
{
	struct tc_sms_form f;

	tc_test_begin("form: fields decoded, empty parts skipped, first value wins");
	TC_CHECK_INT(tc_sms_form_read("a=1&&b=x+y%21&a=2&c", 19, &f), 0);
	TC_CHECK_INT(f.n, 4);
	TC_CHECK_STR(tc_sms_form_value(&f, "a"), "1");
	TC_CHECK_STR(tc_sms_form_value(&f, "b"), "x y!");
	TC_CHECK_STR(tc_sms_form_value(&f, "c"), "");
	TC_CHECK(tc_sms_form_value(&f, "d") == NULL);
	tc_sms_form_release(&f);

	tc_test_begin("form: a bad escape or a NUL byte is refused");
	TC_CHECK_INT(tc_sms_form_read("a=%4", 4, &f), TC_EINVAL);
	tc_sms_form_release(&f);
	TC_CHECK_INT(tc_sms_form_read("a=%00", 5, &f), TC_EINVAL);
	tc_sms_form_release(&f);

	tc_test_begin("form: more than TC_LIMIT_RECEIPT_FIELDS fields is refused");
	{
		char body[4 * (TC_LIMIT_RECEIPT_FIELDS + 1) + 1];
		int i;

		body[0] = '\0';
		for (i = 0; i <= TC_LIMIT_RECEIPT_FIELDS; i++)
			strcat(body, "a=1&");
		TC_CHECK_INT(tc_sms_form_read(body, strlen(body), &f), TC_ELIMIT);
		tc_sms_form_release(&f);
	}
}

static void test_signature(void)
{
	struct tc_sms_form f;
	char sig[64];

	tc_test_begin("twilio signature: Twilio's documented example");
	TC_CHECK_INT(tc_sms_form_read(DOC_BODY, strlen(DOC_BODY), &f), 0);
	TC_CHECK_INT(tc_sms_twilio_signature("12345", DOC_URL, &f, sig, sizeof(sig)), 0);
	TC_CHECK_STR(sig, DOC_SIG);
	tc_sms_form_release(&f);

	tc_test_begin("twilio signature: field order in the body does not matter");
	{
		const char *b = "To=%2B18005551212&Digits=1234&CallSid=CA1234567890ABCDE&"
				"From=%2B12349013030&Caller=%2B12349013030";

		TC_CHECK_INT(tc_sms_form_read(b, strlen(b), &f), 0);
	}
	TC_CHECK_INT(tc_sms_twilio_signature("12345", DOC_URL, &f, sig, sizeof(sig)), 0);
	TC_CHECK_STR(sig, DOC_SIG);
	tc_sms_form_release(&f);
}

static int twilio(const char *body, const char *sig, struct tc_receipt *out, char *why)
{
	struct tc_sms_provider p = { .auth_token = "12345" };
	char line[128];
	const char *headers[2] = { "content-type: application/x-www-form-urlencoded", line };
	struct tc_receipt_in in = {
		.provider = "tw", .url = "https://t.example/receipts/tw/x", .body = body,
		.body_len = strlen(body), .headers = headers, .n_headers = sig ? 2 : 1,
	};

	snprintf(line, sizeof(line), "X-Twilio-Signature: %s", sig ? sig : "");
	return tc_sms_twilio_receipt(&p, &in, out, why, 200);
}

/* body signed for https://t.example/receipts/tw/x with 12345. */
static const char *sign(const char *body, char *sig)
{
	struct tc_sms_form f;

	tc_sms_form_read(body, strlen(body), &f);
	tc_sms_twilio_signature("12345", "https://t.example/receipts/tw/x", &f, sig, 64);
	tc_sms_form_release(&f);
	return sig;
}

static void test_twilio(void)
{
	struct tc_receipt r;
	char why[200], sig[64];
	const char *b;

	tc_test_begin("twilio receipt: delivered");
	b = "MessageSid=SM1&MessageStatus=delivered&AccountSid=AC1";
	TC_CHECK_INT(twilio(b, sign(b, sig), &r, why), 0);
	TC_CHECK_INT(r.state, TC_DS_DELIVERED);
	TC_CHECK_STR(r.provider_message_id, "SM1");
	TC_CHECK_STR(r.reason, "twilio delivered");

	tc_test_begin("twilio receipt: undelivered and failed keep ErrorCode");
	b = "MessageSid=SM1&MessageStatus=undelivered&ErrorCode=30003";
	TC_CHECK_INT(twilio(b, sign(b, sig), &r, why), 0);
	TC_CHECK_INT(r.state, TC_DS_UNDELIVERED);
	TC_CHECK_STR(r.reason, "twilio undelivered, error 30003");
	b = "MessageSid=SM1&MessageStatus=failed&ErrorCode=30007";
	TC_CHECK_INT(twilio(b, sign(b, sig), &r, why), 0);
	TC_CHECK_INT(r.state, TC_DS_UNDELIVERED);

	tc_test_begin("twilio receipt: statuses on the way stay sent");
	b = "MessageSid=SM1&MessageStatus=queued";
	TC_CHECK_INT(twilio(b, sign(b, sig), &r, why), 0);
	TC_CHECK_INT(r.state, TC_DS_SENT);

	tc_test_begin("twilio receipt: tampered, unsigned, unknown status, bad sid refused");
	b = "MessageSid=SM1&MessageStatus=delivered";
	sign(b, sig);
	TC_CHECK_INT(twilio("MessageSid=SM1&MessageStatus=undelivered", sig, &r, why), TC_EINVAL);
	TC_CHECK_STR(why, "X-Twilio-Signature does not verify");
	TC_CHECK_INT(twilio(b, NULL, &r, why), TC_EINVAL);
	TC_CHECK_STR(why, "no X-Twilio-Signature header");
	b = "MessageSid=SM1&MessageStatus=%1B%5Bwat";
	TC_CHECK_INT(twilio(b, sign(b, sig), &r, why), TC_EINVAL);
	TC_CHECK(strchr(why, 0x1b) == NULL);
	b = "MessageSid=SM+1&MessageStatus=sent";
	TC_CHECK_INT(twilio(b, sign(b, sig), &r, why), TC_EINVAL);
	b = "MessageStatus=sent";
	TC_CHECK_INT(twilio(b, sign(b, sig), &r, why), TC_EINVAL);
}

static void test_inbound(void)
{
	struct tc_sms_provider p = { .auth_token = "12345" };
	char why[200], sig[64], line[128];
	const char *headers[1] = { line };
	struct tc_inbound m;
	struct tc_receipt_in in = {
		.provider = "tw", .url = "https://t.example/receipts/tw/x", .headers = headers,
		.n_headers = 1,
	};
	const char *b;

	tc_test_begin("twilio inbound: From and Body of a signed webhook");
	b = "MessageSid=SM1&From=%2B14155550100&To=%2B14155550199&Body=+2+";
	in.body = b;
	in.body_len = strlen(b);
	snprintf(line, sizeof(line), "X-Twilio-Signature: %s", sign(b, sig));
	TC_CHECK_INT(tc_sms_twilio_inbound(&p, &in, &m, why, sizeof(why)), 0);
	TC_CHECK_STR(m.from, "+14155550100");
	TC_CHECK_STR(m.text, " 2 ");

	tc_test_begin("twilio inbound: tampered, or From not E.164, refused");
	in.body = "MessageSid=SM1&From=%2B14155550101&To=%2B14155550199&Body=+2+";
	TC_CHECK_INT(tc_sms_twilio_inbound(&p, &in, &m, why, sizeof(why)), TC_EINVAL);
	b = "From=alice&Body=1";
	in.body = b;
	in.body_len = strlen(b);
	snprintf(line, sizeof(line), "X-Twilio-Signature: %s", sign(b, sig));
	TC_CHECK_INT(tc_sms_twilio_inbound(&p, &in, &m, why, sizeof(why)), TC_EINVAL);
}

static int vonage(const char *ctype, const char *body, struct tc_receipt *out, char *why)
{
	struct tc_sms_provider p = { .api_key = "abcd1234" };
	struct tc_receipt_in in = {
		.provider = "vo", .url = "https://t.example/receipts/vo/x", .content_type = ctype,
		.body = body, .body_len = strlen(body),
	};

	return tc_sms_vonage_receipt(&p, &in, out, why, 200);
}

static void test_vonage(void)
{
	struct tc_receipt r;
	char why[200];

	tc_test_begin("vonage receipt: the description's example (JSON)");
	TC_CHECK_INT(vonage("application/json", "{\"msisdn\":\"447700900000\",\"to\":\"AcmeInc\","
			    "\"network-code\":\"12345\",\"messageId\":\"0A0000001234567B\","
			    "\"price\":\"0.03330000\",\"status\":\"delivered\",\"scts\":\"2001011400\","
			    "\"err-code\":\"0\",\"api-key\":\"abcd1234\"}", &r, why), 0);
	TC_CHECK_INT(r.state, TC_DS_DELIVERED);
	TC_CHECK_STR(r.provider_message_id, "0A0000001234567B");
	TC_CHECK_STR(r.reason, "vonage delivered");

	tc_test_begin("vonage receipt: form-encoded, failed with err-code");
	TC_CHECK_INT(vonage("application/x-www-form-urlencoded",
			    "messageId=0A01&status=rejected&err-code=6", &r, why), 0);
	TC_CHECK_INT(r.state, TC_DS_UNDELIVERED);
	TC_CHECK_STR(r.reason, "vonage rejected, err-code 6");
	TC_CHECK_INT(vonage("application/json", "{\"messageId\":\"0A\",\"status\":\"buffered\"}",
			    &r, why), 0);
	TC_CHECK_INT(r.state, TC_DS_SENT);

	tc_test_begin("vonage receipt: another api-key, bad status or id, not JSON refused");
	TC_CHECK_INT(vonage("application/json", "{\"messageId\":\"0A\",\"status\":\"delivered\","
			    "\"api-key\":\"other\"}", &r, why), TC_EINVAL);
	TC_CHECK_INT(vonage("application/json", "{\"messageId\":\"0A\",\"status\":\"read\"}",
			    &r, why), TC_EINVAL);
	TC_CHECK_INT(vonage("application/json", "{\"messageId\":\"x y\",\"status\":\"delivered\"}",
			    &r, why), TC_EINVAL);
	TC_CHECK_INT(vonage("application/json", "[", &r, why), TC_EINVAL);
}

/* Vonage's inbound-sms, its fields as the OpenAPI description's example
 * (text with '&' and '=', which Vonage signs as '_'), signed with
 * "s3cr3t-Sig" at 1578787200, each method's sig computed with Python:
 * hashlib.md5(text + secret) and hmac.new(secret, text, method). */
#define VIN_FORM "msisdn=447700900001&to=447700900000&messageId=0A0000000123ABCD1&" \
	"text=2+a%3Db%26c&type=text&keyword=2&message-timestamp=2020-01-01+12%3A00%3A00&" \
	"timestamp=1578787200&nonce=aaaaaaaa-bbbb-cccc-dddd-0123456789ab&api-key=abcd1234"
#define VIN_NOW 1578787200

static int vonage_in(enum tc_vonage_sig method, const char *ctype, const char *body,
		     const char *query, int64_t now, struct tc_inbound *m, char *why)
{
	struct tc_sms_provider p = { .api_key = "abcd1234", .signature_secret = "s3cr3t-Sig",
				     .signature_method = method };
	struct tc_receipt_in in = {
		.provider = "vo", .url = "https://t.example/inbound/vo", .content_type = ctype,
		.body = body, .body_len = strlen(body), .query = query, .now_s = now,
	};

	why[0] = '\0';
	return tc_sms_vonage_inbound(&p, &in, m, why, 200);
}

static void test_vonage_inbound(void)
{
	static const struct { enum tc_vonage_sig m; const char *sig; } v[] = {
		{ TC_VSIG_MD5HASH, "6f6bd0f828deb7251faf3cb1486f3b8b" },
		{ TC_VSIG_MD5, "9d6349181470567389f4f731a6760861" },
		{ TC_VSIG_SHA1, "b8e0558da7dd73d293a15690070d86e6a01f33ae" },
		{ TC_VSIG_SHA256, "0f66e8a0846796bc3e6376ebdcb00220ef5448e4d7f7f364a8c237f2a1d33e49" },
		{ TC_VSIG_SHA512, "b46b701c63c645c4a794d99167758d907272750499925ea25079704d3d562c69"
				  "d414c97fe346238d46146bdcc3671f02eca90804bd2736c0eea7bfc861537fd4" },
	};
	char body[1024], why[200], sig[130], json[1024], name[5][80];
	struct tc_inbound m;
	struct tc_sms_form f;
	size_t i;

	tc_test_begin("vonage signature: the SDKs' published md5hash vector");
	TC_CHECK_INT(tc_sms_form_read("a=1&b=2&timestamp=1461605396&sig=x", 34, &f), 0);
	TC_CHECK_INT(tc_sms_vonage_signature("secret", TC_VSIG_MD5HASH, &f, sig, sizeof(sig)), 0);
	TC_CHECK_STR(sig, "6af838ef94998832dbfc29020b564830");
	tc_sms_form_release(&f);

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		snprintf(name[i], sizeof(name[i]), "vonage inbound: a signed form verifies "
			 "(method %zu)", i);
		tc_test_begin(name[i]);
		snprintf(body, sizeof(body), "%s&sig=%s", VIN_FORM, v[i].sig);
		TC_CHECK_INT(vonage_in(v[i].m, "application/x-www-form-urlencoded", body, NULL,
				       VIN_NOW + 10, &m, why), 0);
		TC_CHECK_STR(m.from, "+447700900001");
		TC_CHECK_STR(m.text, "2 a=b&c");
		/* a method other than the account's does not verify */
		TC_CHECK_INT(vonage_in(v[(i + 1) % 5].m, "application/x-www-form-urlencoded",
				       body, NULL, VIN_NOW, &m, why), TC_EINVAL);
	}

	tc_test_begin("vonage inbound: the same fields as JSON, and as a GET's query");
	snprintf(json, sizeof(json), "{\"msisdn\":\"447700900001\",\"to\":\"447700900000\","
		 "\"messageId\":\"0A0000000123ABCD1\",\"text\":\"2 a=b&c\",\"type\":\"text\","
		 "\"keyword\":\"2\",\"message-timestamp\":\"2020-01-01 12:00:00\","
		 "\"timestamp\":\"1578787200\",\"nonce\":\"aaaaaaaa-bbbb-cccc-dddd-0123456789ab\","
		 "\"api-key\":\"abcd1234\",\"sig\":\"%s\"}", v[3].sig);
	TC_CHECK_INT(vonage_in(TC_VSIG_SHA256, "application/json", json, NULL, VIN_NOW, &m,
			       why), 0);
	TC_CHECK_STR(m.text, "2 a=b&c");
	snprintf(body, sizeof(body), "%s&sig=%s", VIN_FORM, "0F66E8A0846796BC3E6376EBDCB00220"
		 "EF5448E4D7F7F364A8C237F2A1D33E49"); /* upper case, as some send it */
	TC_CHECK_INT(vonage_in(TC_VSIG_SHA256, NULL, "", body, VIN_NOW, &m, why), 0);
	TC_CHECK_STR(m.from, "+447700900001");

	tc_test_begin("vonage inbound: tampered, unsigned, stale, twice, foreign key refused");
	snprintf(body, sizeof(body), "%s&sig=%s", VIN_FORM, v[0].sig);
	body[7] = '9'; /* msisdn=9477... */
	TC_CHECK_INT(vonage_in(TC_VSIG_MD5HASH, "application/x-www-form-urlencoded", body,
			       NULL, VIN_NOW, &m, why), TC_EINVAL);
	TC_CHECK_STR(why, "sig does not verify");
	TC_CHECK_INT(vonage_in(TC_VSIG_MD5HASH, "application/x-www-form-urlencoded", VIN_FORM,
			       NULL, VIN_NOW, &m, why), TC_EINVAL);
	TC_CHECK_STR(why, "no sig: the request is not signed");
	snprintf(body, sizeof(body), "%s&sig=%s", VIN_FORM, v[0].sig);
	TC_CHECK_INT(vonage_in(TC_VSIG_MD5HASH, "application/x-www-form-urlencoded", body,
			       NULL, VIN_NOW + TC_VONAGE_SIG_MAX_SKEW_S + 1, &m, why), TC_EINVAL);
	TC_CHECK(strstr(why, "stale or replayed") != NULL);
	TC_CHECK_INT(vonage_in(TC_VSIG_MD5HASH, "application/x-www-form-urlencoded", body,
			       NULL, VIN_NOW - TC_VONAGE_SIG_MAX_SKEW_S - 1, &m, why), TC_EINVAL);
	TC_CHECK_INT(vonage_in(TC_VSIG_MD5HASH, "application/x-www-form-urlencoded", body,
			       NULL, VIN_NOW + TC_VONAGE_SIG_MAX_SKEW_S, &m, why), 0);
	snprintf(body, sizeof(body), "%s&sig=%s&text=1", VIN_FORM, v[0].sig);
	TC_CHECK_INT(vonage_in(TC_VSIG_MD5HASH, "application/x-www-form-urlencoded", body,
			       NULL, VIN_NOW, &m, why), TC_EINVAL);
	TC_CHECK_STR(why, "a field is given twice");
	TC_CHECK_INT(vonage_in(TC_VSIG_MD5HASH, "application/json", "{\"a\":1}", NULL, VIN_NOW,
			       &m, why), TC_EINVAL);
	TC_CHECK_STR(why, "member \"a\" is not a string");
	snprintf(body, sizeof(body), "%s&sig=26fd78f094a54a6c88ba4956145f29ad", VIN_FORM);
	memcpy(strstr(body, "abcd1234"), "zzzz9999", 8); /* signed, by another account */
	TC_CHECK_INT(vonage_in(TC_VSIG_MD5HASH, "application/x-www-form-urlencoded", body,
			       NULL, VIN_NOW, &m, why), TC_EINVAL);
	TC_CHECK_STR(why, "api-key is not the provider's");
	{
		struct tc_sms_provider p = { .api_key = "abcd1234" };
		struct tc_receipt_in in = { .body = body, .body_len = strlen(body),
					    .content_type = "application/x-www-form-urlencoded",
					    .now_s = VIN_NOW };

		TC_CHECK_INT(tc_sms_vonage_inbound(&p, &in, &m, why, sizeof(why)), TC_EINVAL);
		TC_CHECK(strstr(why, "no signature_secret") != NULL);
	}
}

int main(void)
{
	test_form();
	test_signature();
	test_twilio();
	test_inbound();
	test_vonage();
	test_vonage_inbound();
	return tc_test_done();
}
