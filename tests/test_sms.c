/*
 * Unit tests of the SMS providers' pure parts: what each answer reads as
 * (tc_sms_*_classify, on the providers' documented answers and on bad
 * ones), the requests they build (form encoding, Vonage's `to` without
 * '+', `type=unicode`, Twilio's basic authentication), JSON pointers,
 * the status callback URL's token, and the credentials blanked out of an
 * answer (tc_sms_credentials, tc_sms_redact).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "channels/sms/provider.h"
#include "tc_test.h"

static struct tc_outcome classify(tc_sms_classify_fn fn, const struct tc_sms_provider *p,
				  long status, const char *body)
{
	struct tc_outcome o;

	memset(&o, 0, sizeof(o));
	o.retry_after_ms = -1;
	fn(p, status, body, strlen(body), &o);
	return o;
}

static void test_twilio(void)
{
	struct tc_sms_provider p = { 0 };
	struct tc_outcome o;

	tc_test_begin("twilio: a 201's sid is the message id");
	o = classify(tc_sms_twilio_classify, &p, 201,
		     "{\"sid\": \"SM0123456789abcdef0123456789abcdef\", \"status\": \"queued\"}");
	TC_CHECK_INT(o.kind, TC_OUT_SENT);
	TC_CHECK_STR(o.provider_id, "SM0123456789abcdef0123456789abcdef");
	TC_CHECK_STR(o.detail, "accepted (http 201)");

	tc_test_begin("twilio: a 201 without a sid is sent, and says so");
	o = classify(tc_sms_twilio_classify, &p, 201, "<html>\x1b[2J");
	TC_CHECK_INT(o.kind, TC_OUT_SENT);
	TC_CHECK_STR(o.provider_id, "");
	TC_CHECK_STR(o.detail, "accepted (http 201), but the answer has no message sid: "
		     "\"<html>\\x1b[2J\"");

	tc_test_begin("twilio: a 400 is permanent, with Twilio's code and message");
	o = classify(tc_sms_twilio_classify, &p, 400,
		     "{\"code\": 21211, \"message\": \"The 'To' number is not valid.\", "
		     "\"status\": 400}");
	TC_CHECK_INT(o.kind, TC_OUT_PERMANENT);
	TC_CHECK_STR(o.detail, "http 400: twilio error 21211 \"The 'To' number is not valid.\"");

	tc_test_begin("twilio: 401, 429 and 5xx are transient; other 4xx permanent");
	TC_CHECK_INT(classify(tc_sms_twilio_classify, &p, 401, "{}").kind, TC_OUT_TRANSIENT);
	TC_CHECK_INT(classify(tc_sms_twilio_classify, &p, 404, "").kind, TC_OUT_TRANSIENT);
	TC_CHECK_INT(classify(tc_sms_twilio_classify, &p, 429, "").kind, TC_OUT_TRANSIENT);
	TC_CHECK_INT(classify(tc_sms_twilio_classify, &p, 503, "x").kind, TC_OUT_TRANSIENT);
	TC_CHECK_INT(classify(tc_sms_twilio_classify, &p, 422, "[1,2").kind, TC_OUT_PERMANENT);
	TC_CHECK_INT(classify(tc_sms_twilio_classify, &p, 302, "").kind, TC_OUT_PERMANENT);
}

static void test_vonage(void)
{
	struct tc_sms_provider p = { 0 };
	struct tc_outcome o;

	tc_test_begin("vonage: every part's status 0 is sent; the first id is kept");
	o = classify(tc_sms_vonage_classify, &p, 200,
		     "{\"message-count\":\"2\",\"messages\":[{\"status\":\"0\","
		     "\"message-id\":\"0A01\"},{\"status\":\"0\",\"message-id\":\"0A02\"}]}");
	TC_CHECK_INT(o.kind, TC_OUT_SENT);
	TC_CHECK_STR(o.provider_id, "0A01");
	TC_CHECK_STR(o.detail, "accepted (2 parts)");

	tc_test_begin("vonage: a 200 with status 1 (throttled) is transient and holds");
	o = classify(tc_sms_vonage_classify, &p, 200,
		     "{\"messages\":[{\"status\":\"1\",\"error-text\":\"Throttled\"}]}");
	TC_CHECK_INT(o.kind, TC_OUT_TRANSIENT);
	TC_CHECK_INT(o.retry_after_ms, TC_SMS_THROTTLE_MS);
	TC_CHECK_STR(o.detail, "vonage status 1 \"Throttled\"");

	tc_test_begin("vonage: documented statuses, permanent or not");
	TC_CHECK_INT(classify(tc_sms_vonage_classify, &p, 200,
			      "{\"messages\":[{\"status\":\"7\"}]}").kind, TC_OUT_PERMANENT);
	TC_CHECK_INT(classify(tc_sms_vonage_classify, &p, 200,
			      "{\"messages\":[{\"status\":\"3\"}]}").kind, TC_OUT_PERMANENT);
	TC_CHECK_INT(classify(tc_sms_vonage_classify, &p, 200,
			      "{\"messages\":[{\"status\":\"9\"}]}").kind, TC_OUT_TRANSIENT);
	TC_CHECK_INT(classify(tc_sms_vonage_classify, &p, 200,
			      "{\"messages\":[{\"status\":\"4\"}]}").kind, TC_OUT_TRANSIENT);
	/* a failed part fails the message, whichever part it is */
	TC_CHECK_INT(classify(tc_sms_vonage_classify, &p, 200,
			      "{\"messages\":[{\"status\":\"0\"},{\"status\":\"6\"}]}").kind,
		     TC_OUT_PERMANENT);

	tc_test_begin("vonage: malformed answers are transient, never sent");
	TC_CHECK_INT(classify(tc_sms_vonage_classify, &p, 200, "{\"messages\": tru").kind,
		     TC_OUT_TRANSIENT);
	TC_CHECK_INT(classify(tc_sms_vonage_classify, &p, 200, "{\"messages\":[]}").kind,
		     TC_OUT_TRANSIENT);
	TC_CHECK_INT(classify(tc_sms_vonage_classify, &p, 200,
			      "{\"messages\":[{\"status\":\"-1\"}]}").kind, TC_OUT_TRANSIENT);
	TC_CHECK_INT(classify(tc_sms_vonage_classify, &p, 200,
			      "{\"messages\":[{\"status\":{}}]}").kind, TC_OUT_TRANSIENT);
	TC_CHECK_INT(classify(tc_sms_vonage_classify, &p, 500, "").kind, TC_OUT_TRANSIENT);
}

static void test_gateway(void)
{
	struct tc_sms_provider p = { 0 };
	struct tc_outcome o;

	p.success.pointer = "/result/ok";
	p.success.equals = json_true();
	p.message_id = "/result/id";
	p.success.status[0] = 202;
	p.success.n_status = 1;

	tc_test_begin("http: status, pointer and equals all say taken");
	o = classify(tc_sms_http_classify, &p, 202,
		     "{\"result\": {\"ok\": true, \"id\": 42}}");
	TC_CHECK_INT(o.kind, TC_OUT_SENT);
	TC_CHECK_STR(o.provider_id, "42");

	tc_test_begin("http: anything less is not taken");
	TC_CHECK_INT(classify(tc_sms_http_classify, &p, 200,
			      "{\"result\": {\"ok\": true}}").kind, TC_OUT_PERMANENT);
	o = classify(tc_sms_http_classify, &p, 202, "{\"result\": {\"ok\": false}}");
	TC_CHECK_INT(o.kind, TC_OUT_TRANSIENT);
	TC_CHECK_STR(o.detail, "http 202, but the answer has another value at \"/result/ok\": "
		     "\"{\\\"result\\\": {\\\"ok\\\": false}}\"");
	TC_CHECK_INT(classify(tc_sms_http_classify, &p, 202, "{\"result\": 1}").kind,
		     TC_OUT_TRANSIENT);
	TC_CHECK_INT(classify(tc_sms_http_classify, &p, 202, "not json").kind,
		     TC_OUT_TRANSIENT);
	TC_CHECK_INT(classify(tc_sms_http_classify, &p, 503, "").kind, TC_OUT_TRANSIENT);

	tc_test_begin("http: an id with controls or spaces is not kept");
	o = classify(tc_sms_http_classify, &p, 202,
		     "{\"result\": {\"ok\": true, \"id\": \"a b\\u001b\"}}");
	TC_CHECK_INT(o.kind, TC_OUT_SENT);
	TC_CHECK_STR(o.provider_id, "");
	json_decref(p.success.equals);
}

static void test_pointer(void)
{
	json_t *j = json_loads("{\"a/b\": {\"~x\": [10, 20]}, \"\": 1}", 0, NULL);

	tc_test_begin("json pointers: escapes, arrays, the empty key");
	TC_CHECK(json_integer_value(tc_sms_json_at(j, "/a~1b/~0x/1")) == 20);
	TC_CHECK(json_integer_value(tc_sms_json_at(j, "/")) == 1);
	TC_CHECK(tc_sms_json_at(j, "/a~1b/~0x/01") == NULL);
	TC_CHECK(tc_sms_json_at(j, "/a~1b/~0x/2") == NULL);
	TC_CHECK(tc_sms_json_at(j, "/a~1b/~0x/-") == NULL);
	TC_CHECK(tc_sms_json_at(j, "a") == NULL);
	TC_CHECK(tc_sms_json_at(NULL, "/a") == NULL);
	json_decref(j);
}

static void test_requests(void)
{
	struct tc_sms_provider tw = { 0 }, vo = { 0 };
	struct tc_sms_out m = { .to = "+447911123456", .text = "Zürich & co", .ucs2 = true };
	struct tc_sms_req q;
	char why[200];

	m.text_len = strlen(m.text);
	tw.name = "tw";
	tw.base_url = "https://api.twilio.com/";
	tw.account_sid = "AC0123";
	tw.auth_token = "secret-token";
	tw.from = "+14155550100";

	tc_test_begin("twilio: the request, form-encoded, with basic authentication");
	tc_sms_req_init(&q);
	TC_CHECK_INT(tc_sms_twilio_ops.build(&tw, &m, &q, why, sizeof(why)), 0);
	TC_CHECK_STR(q.url, "https://api.twilio.com/2010-04-01/Accounts/AC0123/Messages.json");
	TC_CHECK_STR(q.body.data, "To=%2B447911123456&From=%2B14155550100&Body=Z%C3%BCrich%20%26%20co");
	TC_CHECK_STR(q.userpwd, "AC0123:secret-token");
	tc_sms_req_release(&q);

	tc_test_begin("twilio: a messaging service in place of From, and a callback");
	tw.messaging_service_sid = "MGabc";
	m.callback = "https://t.example/receipts/tw/x.y";
	tc_sms_req_init(&q);
	TC_CHECK_INT(tc_sms_twilio_ops.build(&tw, &m, &q, why, sizeof(why)), 0);
	TC_CHECK(strstr(q.body.data, "&MessagingServiceSid=MGabc&") != NULL);
	TC_CHECK(strstr(q.body.data, "From=") == NULL);
	TC_CHECK(strstr(q.body.data, "&StatusCallback=https%3A%2F%2Ft.example%2Freceipts%2Ftw%2Fx.y") != NULL);
	tc_sms_req_release(&q);

	tc_test_begin("vonage: to without '+', type=unicode for UCS-2, callback");
	vo.name = "vo";
	vo.base_url = "https://rest.nexmo.com/sms";
	vo.api_key = "abcd1234";
	vo.api_secret = "s3cret";
	vo.from = "Acme Desk";
	tc_sms_req_init(&q);
	TC_CHECK_INT(tc_sms_vonage_ops.build(&vo, &m, &q, why, sizeof(why)), 0);
	TC_CHECK_STR(q.url, "https://rest.nexmo.com/sms/json");
	TC_CHECK_STR(q.body.data, "api_key=abcd1234&api_secret=s3cret&from=Acme%20Desk&"
		     "to=447911123456&text=Z%C3%BCrich%20%26%20co&type=unicode&"
		     "callback=https%3A%2F%2Ft.example%2Freceipts%2Ftw%2Fx.y");
	TC_CHECK(q.userpwd == NULL);
	tc_sms_req_release(&q);
	m.ucs2 = false;
	tc_sms_req_init(&q);
	TC_CHECK_INT(tc_sms_vonage_ops.build(&vo, &m, &q, why, sizeof(why)), 0);
	TC_CHECK(strstr(q.body.data, "type=") == NULL);
	tc_sms_req_release(&q);
}

static void test_gateway_request(void)
{
	struct tc_sms_header h = { "X-Api-Key", "k3y", true };
	struct tc_sms_provider p = { 0 };
	struct tc_sms_out m = { .to = "+447911123456", .text = "a \"b\" & c\n" };
	struct tc_sms_req q;
	struct tc_tpl *t = NULL;
	struct curl_slist *l;
	char why[200], hdrs[512] = "";

	m.text_len = strlen(m.text);
	p.name = "gw";
	p.kind = TC_SMS_HTTP;
	p.url = "https://gw.example/send";
	p.method = TC_SMS_PUT;
	p.headers = &h;
	p.n_headers = 1;
	p.auth_token = "tok";

	tc_test_begin("http: a JSON body escapes {{text}} as a JSON string");
	p.body = "{\"to\": \"{{to}}\", \"text\": \"{{text}}\"}";
	TC_CHECK_INT(tc_sms_http_body(&p, &t, why, sizeof(why)), 0);
	m.body = t;
	tc_sms_req_init(&q);
	TC_CHECK_INT(tc_sms_http_ops.build(&p, &m, &q, why, sizeof(why)), 0);
	TC_CHECK_STR(q.body.data, "{\"to\": \"+447911123456\", \"text\": \"a \\\"b\\\" \\u0026 c\\n\"}");
	TC_CHECK_STR(q.method, "PUT");
	TC_CHECK_STR(q.url, "https://gw.example/send");
	for (l = q.headers; l; l = l->next)
		snprintf(hdrs + strlen(hdrs), sizeof(hdrs) - strlen(hdrs), "%s|", l->data);
	TC_CHECK_STR(hdrs, "X-Api-Key: k3y|Content-Type: application/json|"
		     "Authorization: Bearer tok|Expect:|");
	tc_sms_req_release(&q);
	tc_tpl_free(t);

	tc_test_begin("http: a form body takes the values form-encoded");
	p.content_type = TC_SMS_CONTENT_FORM;
	p.body = "to={{to}}&msg={{text}}";
	t = NULL;
	TC_CHECK_INT(tc_sms_http_body(&p, &t, why, sizeof(why)), 0);
	m.body = t;
	tc_sms_req_init(&q);
	TC_CHECK_INT(tc_sms_http_ops.build(&p, &m, &q, why, sizeof(why)), 0);
	TC_CHECK_STR(q.body.data, "to=%2B447911123456&msg=a%20%22b%22%20%26%20c%0A");
	tc_sms_req_release(&q);
	tc_tpl_free(t);

	tc_test_begin("http: a body that is no template says where");
	p.body = "{{#to}}";
	t = NULL;
	TC_CHECK(tc_sms_http_body(&p, &t, why, sizeof(why)) < 0);
	TC_CHECK(strncmp(why, "provider gw body:1: ", 20) == 0);
	TC_CHECK(t == NULL);
}

static void test_callback(void)
{
	struct tc_buf b;
	unsigned char mac[32];
	unsigned int len = 0;
	static const unsigned char ref[] = "JOB-1\0" "0123456789abcdef0123456789abcdef";
	char want[200], b64[64];
	size_t i;

	tc_test_begin("callback: <public_url>/receipts/<provider>/<token>, signed");
	HMAC(EVP_sha256(), "0123456789abcdef", 16, ref, sizeof(ref) - 1, mac, &len);
	EVP_EncodeBlock((unsigned char *)b64, mac, (int)len);
	for (i = 0; b64[i]; i++)
		b64[i] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : b64[i];
	b64[43] = '\0'; /* 32 bytes: 43 characters without the '=' */
	/* base64url of the job id, NUL and the delivery id */
	snprintf(want, sizeof(want), "https://t.example/receipts/tw/"
		 "Sk9CLTEAMDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY.%s", b64);
	tc_buf_init(&b, 1024);
	TC_CHECK_INT(tc_sms_callback_url("https://t.example/", "0123456789abcdef", "tw",
					 "JOB-1", "0123456789abcdef0123456789abcdef", &b), 0);
	TC_CHECK_STR(b.data, want);
	tc_buf_release(&b);
}

/* body with p's credentials blanked, as the SMS channel reads answers. */
static char *redacted(const struct tc_sms_provider *p, const char *body, size_t *n)
{
	struct tc_buf creds;
	char *copy = strdup(body);

	tc_buf_init(&creds, TC_LIMIT_BODY);
	TC_CHECK_INT(tc_sms_credentials(p, &creds), 0);
	*n = tc_sms_redact(copy, strlen(copy), creds.data, creds.len);
	tc_buf_release(&creds);
	return copy;
}

static void test_redact(void)
{
	struct tc_sms_header h[2] = { { "Authorization", "Bearer gt-Tok3n", true },
				      { "X-Team", "blue", false } };
	struct tc_sms_provider tw = { 0 }, vo = { 0 }, gw = { 0 };
	char *out;
	size_t n;

	tw.kind = TC_SMS_TWILIO;
	tw.account_sid = "AC0123";
	tw.auth_token = "secret-token";
	tc_test_begin("redact: a Twilio token, raw and inside Basic credentials");
	/* base64("AC0123:secret-token") */
	out = redacted(&tw, "{\"message\": \"refused Basic QUMwMTIzOnNlY3JldC10b2tlbg== "
		       "and secret-token, secret-token\"}", &n);
	TC_CHECK_STR(out, "{\"message\": \"refused Basic **************************** "
		     "and ************, ************\"}");
	TC_CHECK_INT(n, 3);
	free(out);

	tc_test_begin("redact: a Vonage secret, raw and form-encoded");
	vo.kind = TC_SMS_VONAGE;
	vo.api_key = "abcd1234";
	vo.api_secret = "s3&c ret";
	out = redacted(&vo, "api_key=abcd1234&api_secret=s3%26c%20ret: 's3&c ret'", &n);
	TC_CHECK_STR(out, "api_key=abcd1234&api_secret=************: '********'");
	TC_CHECK_INT(n, 2);
	free(out);

	tc_test_begin("redact: a gateway's credential header, whole and its last word");
	gw.kind = TC_SMS_HTTP;
	gw.headers = h;
	gw.n_headers = 2;
	out = redacted(&gw, "no Bearer gt-Tok3n; gt-Tok3n, team blue", &n);
	TC_CHECK_STR(out, "no ***************; ********, team blue");
	free(out);

	tc_test_begin("redact: an answer without them, or empty, is left alone");
	out = redacted(&gw, "{\"ok\": false}", &n);
	TC_CHECK_STR(out, "{\"ok\": false}");
	TC_CHECK_INT(n, 0);
	free(out);
	TC_CHECK_INT(tc_sms_redact(NULL, 0, "x\0", 2), 0);
	TC_CHECK_INT(tc_sms_redact((char[]){ "abc" }, 3, NULL, 0), 0);
}

int main(void)
{
	test_twilio();
	test_vonage();
	test_gateway();
	test_pointer();
	test_requests();
	test_gateway_request();
	test_callback();
	test_redact();
	return tc_test_done();
}
