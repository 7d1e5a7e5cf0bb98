/*
 * Unit tests of channels/ and the dispatcher's JSON quoting: the Standard
 * Webhooks signature against the specification's own example, the allow
 * list by name and by address, and JSON string escaping of hostile values.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "channels/channels.h"
#include "dispatcher/dispatcher.h"
#include "tc_test.h"

static void test_sign(void)
{
	/* whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw, decoded. */
	static const char b64[] = "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
	static const char body[] = "{\"test\": 2432232314}";
	unsigned char key[64];
	char sig[100];
	int n;

	tc_test_begin("webhook: signature matches the Standard Webhooks example");
	n = EVP_DecodeBlock(key, (const unsigned char *)b64, (int)strlen(b64));
	TC_CHECK_INT(n, 24);
	tc_webhook_sign(key, 24, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body,
			strlen(body), sig, sizeof(sig));
	TC_CHECK_STR(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");

	tc_test_begin("webhook: signature covers id, timestamp and body");
	{
		char a[100], b[100];

		tc_webhook_sign(key, 24, "id1", 1, "x", 1, a, sizeof(a));
		tc_webhook_sign(key, 24, "id2", 1, "x", 1, b, sizeof(b));
		TC_CHECK(strcmp(a, b) != 0);
		tc_webhook_sign(key, 24, "id1", 2, "x", 1, b, sizeof(b));
		TC_CHECK(strcmp(a, b) != 0);
		tc_webhook_sign(key, 24, "id1", 1, "y", 1, b, sizeof(b));
		TC_CHECK(strcmp(a, b) != 0);
	}
}

static struct sockaddr_storage addr(const char *s)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(s, ':')) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		a->sin6_family = AF_INET6;
		inet_pton(AF_INET6, s, &a->sin6_addr);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		a->sin_family = AF_INET;
		inet_pton(AF_INET, s, &a->sin_addr);
	}
	return ss;
}

static bool allowed(const struct tc_allow *a, size_t n, const char *s)
{
	struct sockaddr_storage ss = addr(s);

	return tc_allow_addr(a, n, (struct sockaddr *)&ss);
}

static void test_allow(void)
{
	struct tc_allow a[4];

	memset(a, 0, sizeof(a));
	a[0].family = AF_INET;
	inet_pton(AF_INET, "127.0.0.0", a[0].addr);
	a[0].prefix = 8;
	a[1].family = AF_INET;
	inet_pton(AF_INET, "192.168.10.0", a[1].addr);
	a[1].prefix = 23;
	a[2].family = AF_INET6;
	inet_pton(AF_INET6, "::1", a[2].addr);
	a[2].prefix = 128;
	a[3].host = (char *)"*.example.org";

	tc_test_begin("allow: address ranges, with prefix boundaries");
	TC_CHECK(allowed(a, 4, "127.0.0.1"));
	TC_CHECK(allowed(a, 4, "127.255.255.254"));
	TC_CHECK(!allowed(a, 4, "128.0.0.1"));
	TC_CHECK(allowed(a, 4, "192.168.10.7"));
	TC_CHECK(allowed(a, 4, "192.168.11.255"));
	TC_CHECK(!allowed(a, 4, "192.168.12.0"));
	TC_CHECK(!allowed(a, 4, "10.0.0.1"));
	TC_CHECK(!allowed(a, 4, "169.254.169.254"));
	TC_CHECK(allowed(a, 4, "::1"));
	TC_CHECK(!allowed(a, 4, "::2"));
	TC_CHECK(!allowed(a, 4, "fe80::1"));

	tc_test_begin("allow: an IPv4-mapped IPv6 address is judged as IPv4");
	TC_CHECK(allowed(a, 4, "::ffff:127.0.0.1"));
	TC_CHECK(!allowed(a, 4, "::ffff:10.0.0.1"));

	tc_test_begin("allow: host names, exact and below a wildcard");
	TC_CHECK(tc_allow_host(a, 4, "hooks.example.org"));
	TC_CHECK(tc_allow_host(a, 4, "a.b.EXAMPLE.org"));
	TC_CHECK(!tc_allow_host(a, 4, "example.org"));
	TC_CHECK(!tc_allow_host(a, 4, "evil-example.org"));
	TC_CHECK(!tc_allow_host(a, 4, "example.org.evil.net"));
	a[3].host = (char *)"hooks.example.org";
	TC_CHECK(tc_allow_host(a, 4, "hooks.example.org"));
	TC_CHECK(!tc_allow_host(a, 4, "x.hooks.example.org"));
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

int main(void)
{
	test_sign();
	test_allow();
	test_json_quote();
	return tc_test_done();
}
