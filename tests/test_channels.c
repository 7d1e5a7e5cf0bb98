/*
 * Unit tests of channels/ and the dispatcher's JSON quoting: the Standard
 * Webhooks signature against the specification's own example, and JSON
 * string escaping of hostile values. The allow list is common/allow.c's,
 * tested in test_allow.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "channels/channels.h"
#include "channels/internal.h"
#include "dispatcher/dispatcher.h"
#include "tc_test.h"

static void test_sign(void)
{
	/* whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw, decoded. */
	static const char b64[] = "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
	static const char body[] = "{\"test\": 2432232314}";
	unsigned char key[64];
	struct tc_webhook_signer *sg;
	char sig[TC_WEBHOOK_SIG_MAX];
	int n;

	tc_test_begin("webhook: signature matches the Standard Webhooks example");
	n = EVP_DecodeBlock(key, (const unsigned char *)b64, (int)strlen(b64));
	TC_CHECK_INT(n, 24);
	sg = tc_webhook_signer_new(key, 24);
	TC_CHECK(sg != NULL);
	if (!sg)
		return;
	TC_CHECK_INT(tc_webhook_sign(sg, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", body,
				     strlen(body), sig, sizeof(sig)), 0);
	TC_CHECK_STR(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");

	tc_test_begin("webhook: signature covers id, timestamp and body");
	{
		char a[TC_WEBHOOK_SIG_MAX], b[TC_WEBHOOK_SIG_MAX];

		tc_webhook_sign(sg, "id1", "1", "x", 1, a, sizeof(a));
		tc_webhook_sign(sg, "id2", "1", "x", 1, b, sizeof(b));
		TC_CHECK(strcmp(a, b) != 0);
		tc_webhook_sign(sg, "id1", "2", "x", 1, b, sizeof(b));
		TC_CHECK(strcmp(a, b) != 0);
		tc_webhook_sign(sg, "id1", "1", "y", 1, b, sizeof(b));
		TC_CHECK(strcmp(a, b) != 0);
	}

	tc_test_begin("webhook: a reused signer starts each signature from its key alone");
	tc_webhook_sign(sg, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", body, strlen(body),
			sig, sizeof(sig));
	TC_CHECK_STR(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
	tc_webhook_signer_free(sg);
}

static void test_json_quote(void)
{
	struct tc_buf b;
	json_t *parsed;
	char *all;
	int i;

	tc_test_begin("json: hostile values stay inside their string");
	tc_buf_init(&b, 1 << 16);
	TC_CHECK_INT(tc_json_quote(&b, "a\"b\\c\n\r\t</script>\x01\x7f"), 0);
	TC_CHECK_STR(b.data, "\"a\\\"b\\\\c\\u000a\\u000d\\u0009</script>\\u0001\\u007f\"");
	parsed = json_loads(b.data, JSON_DECODE_ANY, NULL);
	TC_CHECK(json_is_string(parsed));
	TC_CHECK_STR(json_string_value(parsed), "a\"b\\c\n\r\t</script>\x01\x7f");
	json_decref(parsed);

	tc_test_begin("json: quoting past the buffer's limit fails and leaves it whole");
	tc_buf_release(&b);
	tc_buf_init(&b, 64);
	(void)tc_buf_adds(&b, "{\"x\":");
	all = malloc(200);
	for (i = 0; i < 199; i++)
		all[i] = '"';
	all[199] = '\0';
	TC_CHECK_INT(tc_json_quote(&b, all), TC_ELIMIT);
	TC_CHECK_STR(b.data, "{\"x\":");
	free(all);
	tc_buf_release(&b);
}

/* The interface's table-driven facts: which parts each channel composes,
 * which channels can send under a configuration, and what a channel that
 * takes no receipts says. */
static void test_interface(void)
{
	struct tc_cfg cfg;
	struct tc_chan_env env;
	struct tc_chan *ch;
	struct tc_receipt_in in = { 0 };
	struct tc_receipt out;
	char why[200];
	uv_loop_t loop;

	tc_test_begin("channels: one table says which parts each channel composes");
	TC_CHECK_INT(tc_chan_parts(TC_CH_WEBHOOK), 1u << TC_PART_WEBHOOK_JSON);
	TC_CHECK_INT(tc_chan_parts_required(TC_CH_WEBHOOK), 0);
	TC_CHECK_INT(tc_chan_parts_required(TC_CH_EMAIL),
		     1u << TC_PART_EMAIL_SUBJECT | 1u << TC_PART_EMAIL_TXT);
	TC_CHECK_INT(tc_chan_parts(TC_CH_EMAIL) & (1u << TC_PART_EMAIL_HTML),
		     1u << TC_PART_EMAIL_HTML);
	TC_CHECK_INT(tc_chan_parts_required(TC_CH_SMS), 1u << TC_PART_SMS_TXT);

	tc_test_begin("channels: only a channel that can send is available");
	memset(&cfg, 0, sizeof(cfg));
	cfg.in_flight = 10;
	cfg.email.enabled = cfg.sms.enabled = true;
	TC_CHECK_INT(tc_chan_configured(&cfg), TC_CH_BIT(TC_CH_EMAIL) | TC_CH_BIT(TC_CH_SMS));
	TC_CHECK_INT(tc_chan_available(&cfg), TC_CH_BIT(TC_CH_EMAIL));
	cfg.webhook.enabled = true;
	cfg.webhook.concurrency = 7;
	cfg.webhook.per_host = 2;
	TC_CHECK_INT(tc_chan_available(&cfg), TC_CH_BIT(TC_CH_EMAIL) | TC_CH_BIT(TC_CH_WEBHOOK));
	TC_CHECK_INT(tc_chan_limits(&cfg, TC_CH_WEBHOOK).concurrency, 7);

	tc_test_begin("channels: a webhook channel takes no receipts");
	uv_loop_init(&loop);
	env.loop = &loop;
	env.http = tc_http_new(&loop, 4, 2);
	TC_CHECK(env.http != NULL);
	TC_CHECK(tc_chan_new(TC_CH_SMS, &env, &cfg) == NULL); /* composes only */
	ch = tc_chan_new(TC_CH_WEBHOOK, &env, &cfg);
	TC_CHECK(ch != NULL);
	if (ch) {
		TC_CHECK_INT(tc_chan_receipt(ch, &in, &out, why, sizeof(why)), -ENOTSUP);
		TC_CHECK_STR(why, "channel 'webhook' takes no receipts");
	}
	tc_chan_free(ch);
	tc_http_free(env.http);
	uv_run(&loop, UV_RUN_DEFAULT);
	TC_CHECK_INT(uv_loop_close(&loop), 0);
}

/* tc_http_retry_after on s, now at 1795600800000 (2026-11-25T10:00:00Z). */
static int ra(const char *s, int64_t *ms)
{
	*ms = 4242;
	return tc_http_retry_after(s, strlen(s), 1795600800000LL, ms);
}

static void test_retry_after(void)
{
	int64_t ms;

	tc_test_begin("http: Retry-After in seconds, cut at an hour");
	TC_CHECK_INT(ra("120", &ms), 0);
	TC_CHECK_INT(ms, 120000);
	TC_CHECK_INT(ra(" 0\r\n", &ms), 0);
	TC_CHECK_INT(ms, 0);
	TC_CHECK_INT(ra("\t3600 ", &ms), 0);
	TC_CHECK_INT(ms, TC_RETRY_AFTER_MAX_MS);
	TC_CHECK_INT(ra("3601", &ms), 0);
	TC_CHECK_INT(ms, TC_RETRY_AFTER_MAX_MS);
	TC_CHECK_INT(ra("9223372036854775807", &ms), 0);
	TC_CHECK_INT(ms, TC_RETRY_AFTER_MAX_MS);
	TC_CHECK_INT(ra("18446744073709551616", &ms), 0);
	TC_CHECK_INT(ms, TC_RETRY_AFTER_MAX_MS);
	TC_CHECK_INT(ra("99999999999999999999999", &ms), 0);
	TC_CHECK_INT(ms, TC_RETRY_AFTER_MAX_MS);

	tc_test_begin("http: Retry-After as an HTTP date");
	TC_CHECK_INT(ra("Wed, 25 Nov 2026 10:02:00 GMT", &ms), 0);
	TC_CHECK_INT(ms, 120000);
	TC_CHECK_INT(ra("Wed, 25 Nov 2026 09:00:00 GMT", &ms), 0);
	TC_CHECK_INT(ms, 0);
	TC_CHECK_INT(ra("Fri, 31 Dec 9999 23:59:59 GMT", &ms), 0);
	TC_CHECK_INT(ms, TC_RETRY_AFTER_MAX_MS);
	TC_CHECK_INT(ra("Thu, 01 Jan 1970 00:00:00 GMT", &ms), 0);
	TC_CHECK_INT(ms, 0);

	tc_test_begin("http: a Retry-After that is neither is ignored");
	TC_CHECK_INT(ra("-1", &ms), TC_EINVAL);
	TC_CHECK_INT(ra("+5", &ms), TC_EINVAL);
	TC_CHECK_INT(ra("1.5", &ms), TC_EINVAL);
	TC_CHECK_INT(ra("", &ms), TC_EINVAL);
	TC_CHECK_INT(ra("   ", &ms), TC_EINVAL);
	TC_CHECK_INT(ra("-9223372036854775808", &ms), TC_EINVAL);
	TC_CHECK_INT(ra("Sun, 99 Foo 2026 99:99:99 GMT", &ms), TC_EINVAL);
	TC_CHECK_INT(ra("soon", &ms), TC_EINVAL);
	TC_CHECK_INT(ms, 4242);
}

/* One URL's judgement as a string: "refused", "address" or "name NAME". */
static void judge(struct tc_ranges *r, const char *url, char *out, size_t n)
{
	char why[256], *name = NULL;
	int rc = tc_ranges_check_url(r, url, "test.allow", &name, why, sizeof(why));

	if (rc < 0)
		snprintf(out, n, "refused");
	else
		snprintf(out, n, name ? "name %s" : "address", name);
	free(name);
}

static void test_ranges_seen(void)
{
	/* Pairs that share bytes at the start but not their authority, and
	 * authorities that libcurl reads differently from how they look. */
	static const char *const urls[] = {
		"http://127.0.0.1:8080/a", "http://127.0.0.1:8080/b?x=1",
		"http://127.0.0.1/a", "http://127.0.0.1:80/a", "http://127.0.0.1:9/a",
		"http://127.0.0.1:8080@10.0.0.1/a", "http://10.0.0.1:8080@127.0.0.1/a",
		"http://10.0.0.1#@127.0.0.1/a", "http://10.0.0.1?@127.0.0.1/a",
		"http://127.0.0.1", "http://127.0.0.1?q", "HTTP://127.0.0.1/a",
		"http://[::1]/a", "http://[::ffff:10.0.0.1]/a", "http://hooks.example/a",
		"http://hooks.example:8443/a", "http://user:pw@hooks.example/a",
		"http://hooks.example.evil/a", "http://10.0.0.1/a", "not a url/",
		"http://127.0.0.1:8080/a/../b",
	};
	const char *entries[] = { "127.0.0.0/8:8080", "127.0.0.1:80", "[::1]", "hooks.example" };
	struct tc_allow allow[4];
	struct tc_ranges *warm, *cold;
	char why[128], a[300], b[300];
	size_t i, j, round;

	tc_test_begin("ranges: a remembered authority judges as libcurl's parser would");
	for (i = 0; i < 4; i++)
		TC_CHECK_INT(tc_allow_parse(entries[i], &allow[i], why, sizeof(why)), 0);
	warm = tc_ranges_new(allow, 4);
	TC_CHECK(warm != NULL);
	/* Twice over the list: the second round is served from what the
	 * first remembered, and must say what a fresh list says. */
	for (round = 0; round < 2; round++) {
		for (i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
			cold = tc_ranges_new(allow, 4);
			judge(warm, urls[i], a, sizeof(a));
			judge(cold, urls[i], b, sizeof(b));
			tc_ranges_unref(cold);
			if (strcmp(a, b) != 0)
				tc_test_fail(__FILE__, __LINE__, "%s: remembered '%s', fresh '%s'",
					     urls[i], a, b);
		}
	}
	judge(warm, "http://127.0.0.1:8080/z", a, sizeof(a));
	TC_CHECK_STR(a, "address");
	judge(warm, "http://127.0.0.1:9/z", a, sizeof(a));
	TC_CHECK_STR(a, "refused");
	judge(warm, "http://hooks.example:8443/z", a, sizeof(a));
	TC_CHECK_STR(a, "name hooks.example");
	TC_CHECK(warm->seen != NULL);
	tc_ranges_unref(warm);
	for (j = 0; j < 4; j++)
		free(allow[j].host);
}

int main(void)
{
	test_sign();
	test_ranges_seen();
	test_retry_after();
	test_json_quote();
	test_interface();
	return tc_test_done();
}
