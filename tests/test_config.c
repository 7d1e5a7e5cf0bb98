/*
 * test_config: the configuration loader. Cases are data under
 * tests/config/:
 *   invalid/<name>.yaml  must be refused; invalid/<name>.expected holds the
 *                        exact diagnostics, one per line, as printed;
 *                        "client-" names load in TC_CFG_CLIENT mode;
 *   valid/<name>.yaml    must load; the values are asserted below.
 * The limits are crossed by files generated into a temporary folder, and
 * examples/tocsin.yaml must load as the quick start uses it.
 *
 * Usage: test_config <tests/config folder> [<examples/tocsin.yaml>]
 * The test works from the case folder, so diagnostics name
 * "invalid/<name>.yaml" whatever the build folder.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "config/config.h"
#include "tests/tc_test.h"

/* 24 bytes, the Standard Webhooks specification's example secret. */
#define WEBHOOK_SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

/* The environment every case sees. */
static const char *const env[][2] = {
	{ "HOSTNAME", "testhost" },
	{ "TOCSIN_TEST_REDIS_URL", "redis://127.0.0.1:6379/0" },
	{ "TOCSIN_TEST_WEBHOOK_SECRET", WEBHOOK_SECRET },
	/* 8 bytes, too short a key. */
	{ "TOCSIN_TEST_SHORT_SECRET", "whsec_c2VjcmV0MTI=" },
	/* 129 bytes, too long a key. */
	{ "TOCSIN_TEST_LONG_SECRET", "whsec_"
	  "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB"
	  "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB"
	  "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB"
	  "QUFBQQ==" },
	{ "TOCSIN_TEST_BAD_SECRET", "not-a-secret-value-7f3a" },
	{ "TOCSIN_TEST_NOTB64_SECRET", "whsec_not*base64*7f3a" },
	{ "TOCSIN_TEST_PASSWORD", "hunter2-7f3a" },
	{ "TOCSIN_TEST_ACK_SECRET", "ack-secret-0123456789-7f3a" },
	{ "TOCSIN_TEST_SHORT_ACK", "short-7f3a" },
	{ "TOCSIN_TEST_TWILIO_SID", "AC0123456789abcdef" },
	{ "TOCSIN_TEST_TWILIO_TOKEN", "twilio-token-7f3a" },
	{ "TOCSIN_TEST_VONAGE_KEY", "vonage-key" },
	{ "TOCSIN_TEST_VONAGE_SECRET", "vonage-secret-7f3a" },
	{ "TOCSIN_TEST_VONAGE_SIG", "vonage-sig-7f3a" },
	{ "TOCSIN_TEST_GATEWAY_TOKEN", "gateway-token-7f3a" },
	{ "TOCSIN_TEST_HOST", "127.0.0.1" },
	{ "TOCSIN_TEST_PORT", "8799" },
	{ "TOCSIN_TEST_PREFIX", "tocsin-env" },
	{ "TOCSIN_TEST_NUMBER", "42" },
	{ "TOCSIN_TEST_NAME", "Ada" },
	{ "TOCSIN_TEST_EMPTY", "" },
	/* For examples/tocsin.yaml. */
	{ "TOCSIN_REDIS_URL", "redis://127.0.0.1:6379/0" },
	{ "TOCSIN_WEBHOOK_SECRET", WEBHOOK_SECRET },
	{ "TOCSIN_RECEIVER_PORT", "8799" },
	{ "TOCSIN_SMTP_PORT", "8825" },
	{ "TOCSIN_SMS_GATEWAY_PORT", "8798" },
};

/* Text that comes from secrets: no diagnostic may contain any of it. */
static const char *const secret_text[] = {
	"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "c2VjcmV0MTI", "QUFBQUFB", "7f3a",
	"LiteralSecret",
};

static const char *const unset_env[] = {
	"TOCSIN_TEST_UNSET", "TOCSIN_TEST_UNSET2",
};

/* ---- helpers --------------------------------------------------------------- */

static char *diags_text(const struct tc_diags *ds)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return NULL;
	tc_diags_print(ds, f);
	fclose(f);
	return text;
}

static void check_no_secret(const char *text)
{
	size_t i;

	for (i = 0; i < sizeof(secret_text) / sizeof(secret_text[0]); i++)
		if (strstr(text, secret_text[i]))
			tc_test_fail(__FILE__, __LINE__, "a diagnostic shows secret "
				     "text '%s'", secret_text[i]);
}

/* Loads path, which must fail with exactly the diagnostics want. */
static void expect_refused(const char *path, enum tc_cfg_mode mode, const char *want)
{
	struct tc_diags *ds = calloc(1, sizeof(*ds));
	struct tc_cfg *cfg = NULL;
	char *got;
	int rc;

	if (!ds) {
		tc_test_fail(__FILE__, __LINE__, "out of memory");
		return;
	}
	rc = tc_cfg_load(path, mode, &cfg, ds);
	TC_CHECK_INT(rc, TC_EINVAL);
	TC_CHECK(cfg == NULL);
	got = diags_text(ds);
	if (!got || strcmp(got, want) != 0) {
		tc_test_fail(__FILE__, __LINE__, "diagnostics of %s differ", path);
		tc_test_comment("expected:", want);
		tc_test_comment("got:", got ? got : "");
	}
	if (got)
		check_no_secret(got);
	free(got);
	tc_cfg_free(cfg);
	free(ds);
}

/* Loads path, which must succeed; returns the configuration. */
static struct tc_cfg *expect_loaded(const char *path, enum tc_cfg_mode mode)
{
	struct tc_diags *ds = calloc(1, sizeof(*ds));
	struct tc_cfg *cfg = NULL;
	char *got;
	int rc;

	if (!ds)
		return NULL;
	rc = tc_cfg_load(path, mode, &cfg, ds);
	TC_CHECK_INT(rc, 0);
	if (rc != 0) {
		got = diags_text(ds);
		tc_test_comment("diagnostics:", got ? got : "");
		free(got);
	}
	TC_CHECK_INT(ds->n, 0);
	free(ds);
	return cfg;
}

static int has_suffix(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && strcmp(s + a - b, suffix) == 0;
}

static int is_yaml(const struct dirent *e)
{
	return has_suffix(e->d_name, ".yaml");
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static char *dup_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *dup_printf(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	return s;
}

/* Test names must live until the next tc_test_begin: kept here, freed at
 * the end. */
static char *names[4096];
static size_t n_names;

static const char *keep_name(char *s)
{
	if (s && n_names < sizeof(names) / sizeof(names[0]))
		names[n_names++] = s;
	return s ? s : "(out of memory)";
}

/* ---- invalid/ ---------------------------------------------------------------- */

static void invalid_cases(void)
{
	struct dirent **list;
	int n, i;

	n = scandir("invalid", &list, is_yaml, by_name);
	tc_test_begin("config: invalid/ has cases");
	TC_CHECK(n > 30);
	for (i = 0; i < n; i++) {
		const char *name = list[i]->d_name;
		char *path = dup_printf("invalid/%s", name);
		char *exp = dup_printf("invalid/%.*s.expected", (int)strlen(name) - 5, name);
		char *want = exp ? tc_test_read_file(exp, NULL) : NULL;

		tc_test_begin(keep_name(dup_printf("invalid: %s", name)));
		if (!path || !want)
			tc_test_fail(__FILE__, __LINE__, "cannot read %s", exp ? exp : name);
		else
			expect_refused(path, strncmp(name, "client-", 7) == 0 ?
				       TC_CFG_CLIENT : TC_CFG_DAEMON, want);
		free(path);
		free(exp);
		free(want);
		free(list[i]);
	}
	free(list);
}

/* ---- valid/ ---------------------------------------------------------------- */

static void end_with(const char *s, const char *suffix)
{
	if (!s || !has_suffix(s, suffix))
		tc_test_fail(__FILE__, __LINE__, "'%s' does not end with '%s'",
			     s ? s : "(null)", suffix);
}

static void check_minimal(const struct tc_cfg *c)
{
	TC_CHECK_STR(c->redis_url, "redis://127.0.0.1:6379/0");
	TC_CHECK_STR(c->prefix, "tocsin");
	TC_CHECK_STR(c->consumer, "testhost");
	TC_CHECK_INT(c->in_flight, 1000);
	TC_CHECK_INT(c->claim_idle_ms, 60000);
	TC_CHECK_INT(c->shutdown_grace_ms, 10000);
	TC_CHECK_INT(c->retention_ms, 30ull * 86400000);
	TC_CHECK(c->listen == NULL);
	TC_CHECK(c->public_url == NULL);
	TC_CHECK(c->ack_secret == NULL);
	TC_CHECK(c->templates && c->templates[0] == '/');
	end_with(c->templates, "/tests/config/valid/templates");
	end_with(c->path, "/tests/config/valid/minimal.yaml");
	end_with(c->dir, "/tests/config/valid");
	TC_CHECK(c->webhook.enabled);
	TC_CHECK_INT(c->webhook.concurrency, 256);
	TC_CHECK_INT(c->webhook.per_host, 16);
	TC_CHECK_INT(c->webhook.connect_timeout_ms, 3000);
	TC_CHECK_INT(c->webhook.timeout_ms, 10000);
	TC_CHECK_INT(c->webhook.key_len, 24);
	TC_CHECK_INT(c->webhook.key[0], 0x31);
	TC_CHECK_INT(c->webhook.key[23], 0xb0);
	TC_CHECK_INT(c->webhook.retry.attempts, 8);
	TC_CHECK_INT(c->webhook.retry.base_ms, 1000);
	TC_CHECK_INT(c->webhook.retry.max_ms, 300000);
	TC_CHECK_INT(c->webhook.n_allow, 1);
	TC_CHECK(c->webhook.allow[0].host == NULL);
	TC_CHECK_INT(c->webhook.allow[0].family, AF_INET);
	TC_CHECK_INT(c->webhook.allow[0].prefix, 8);
	TC_CHECK_INT(c->webhook.allow[0].addr[0], 127);
	TC_CHECK(c->webhook.rate.per_second == 0);
	TC_CHECK_INT(c->webhook.rate.burst, 0);
	TC_CHECK(c->webhook.proxy == NULL);
	TC_CHECK(c->webhook.ca_file == NULL);
	TC_CHECK(!c->email.enabled);
	TC_CHECK_INT(c->email.sessions, 4);
	TC_CHECK_INT(c->email.starttls, TC_STARTTLS_REQUIRED);
	TC_CHECK_INT(c->email.retry.attempts, 6);
	TC_CHECK_INT(c->email.retry.base_ms, 30000);
	TC_CHECK_INT(c->email.retry.max_ms, 1800000);
	TC_CHECK(!c->sms.enabled);
	TC_CHECK_INT(c->sms.max_segments, 3);
	TC_CHECK_INT(c->sms.overflow, TC_OVERFLOW_TRUNCATE);
	TC_CHECK_INT(c->sms.retry.attempts, 5);
	TC_CHECK_INT(c->sms.retry.base_ms, 5000);
	TC_CHECK_INT(c->sms.retry.max_ms, 600000);
	TC_CHECK_STR(c->sms.default_region, "");
	TC_CHECK_INT(c->sms.max_per_job, 100000);
	TC_CHECK_INT(c->sms.breaker.failures, 5);
	TC_CHECK_INT(c->sms.breaker.cooldown_ms, 30000);
	TC_CHECK_INT(c->sms.n_allow, 0); /* no channels.sms: no list */
	TC_CHECK_INT(c->n_groups, 0);
	TC_CHECK(tc_cfg_group(c, "oncall") == NULL);
	TC_CHECK_INT(c->n_escalations, 0);
	TC_CHECK(c->escalation[TC_SEV_CRITICAL] == NULL);
	TC_CHECK(tc_cfg_escalation(c, "page") == NULL);
}

static void check_allow(const struct tc_allow *a, const char *host, int family,
			const char *addr, unsigned prefix)
{
	unsigned char want[16] = { 0 };

	if (host) {
		TC_CHECK_STR(a->host, host);
		return;
	}
	TC_CHECK(a->host == NULL);
	TC_CHECK_INT(a->family, family);
	TC_CHECK_INT(a->prefix, prefix);
	TC_CHECK_INT(inet_pton(family, addr, want), 1);
	TC_CHECK(memcmp(a->addr, want, family == AF_INET ? 4 : 16) == 0);
}

/* An entry with a port, or the word public (host "public"). */
static void check_allow_port(const struct tc_allow *a, const char *host,
			     int family, const char *addr, unsigned prefix,
			     unsigned port)
{
	TC_CHECK_INT(a->port, port);
	if (host && strcmp(host, "public") == 0) {
		TC_CHECK(a->public);
		TC_CHECK(a->host == NULL);
		return;
	}
	TC_CHECK(!a->public);
	check_allow(a, host, family, addr, prefix);
}

static void check_allow_forms(const struct tc_cfg *c)
{
	const struct tc_allow *a = c->webhook.allow;

	TC_CHECK_INT(c->webhook.n_allow, 11);
	if (c->webhook.n_allow != 11)
		return;
	check_allow_port(&a[0], "public", 0, NULL, 0, 0);
	check_allow_port(&a[1], "public", 0, NULL, 0, 443);
	check_allow_port(&a[2], NULL, AF_INET, "127.0.0.1", 32, 9000);
	check_allow_port(&a[3], NULL, AF_INET6, "::1", 128, 9000);
	check_allow_port(&a[4], NULL, AF_INET6, "fd00::", 8, 443);
	check_allow_port(&a[5], NULL, AF_INET, "10.0.0.0", 8, 8443);
	check_allow_port(&a[6], "hooks.example.org", 0, NULL, 0, 8443);
	check_allow_port(&a[7], "*.example.net", 0, NULL, 0, 443);
	/* IPv4-mapped ranges are kept as the IPv4 ranges they are. */
	check_allow_port(&a[8], NULL, AF_INET, "10.0.0.0", 8, 0);
	check_allow_port(&a[9], NULL, AF_INET6, "::1", 128, 0);
	check_allow_port(&a[10], NULL, AF_INET, "192.0.2.1", 32, 0);
}

/* full.yaml's kind http provider. */
static void check_gateway(const struct tc_sms_provider *p)
{
	TC_CHECK(p->base_url == NULL && p->from == NULL);
	TC_CHECK_STR(p->url, "http://127.0.0.1:8799/sms");
	TC_CHECK_INT(p->method, TC_SMS_PUT);
	TC_CHECK_INT(p->n_headers, 2);
	if (p->n_headers == 2) {
		TC_CHECK_STR(p->headers[0].name, "X-Api-Key");
		TC_CHECK_STR(p->headers[0].value, "gateway-token-7f3a");
		TC_CHECK(p->headers[0].secret);
		TC_CHECK_STR(p->headers[1].name, "X-Tenant");
		TC_CHECK_STR(p->headers[1].value, "acme");
		TC_CHECK(!p->headers[1].secret);
	}
	TC_CHECK_INT(p->content_type, TC_SMS_CONTENT_FORM);
	TC_CHECK_STR(p->body, "to={{to}}&text={{text}}");
	TC_CHECK_INT(p->success.n_status, 3);
	TC_CHECK_INT(p->success.status[0], 200);
	TC_CHECK_INT(p->success.status[2], 202);
	TC_CHECK_STR(p->success.pointer, "/ok");
	TC_CHECK(json_is_true(p->success.equals));
	TC_CHECK_STR(p->message_id, "/messages/0/id");
	TC_CHECK(p->rate.per_second == 10);
	TC_CHECK_INT(p->rate.burst, 10);
}

/* full.yaml's escalations and dispatcher.escalation. */
static void check_escalations(const struct tc_cfg *c)
{
	const struct tc_escalation *e;

	TC_CHECK_INT(c->n_escalations, 2);
	TC_CHECK_STR(c->escalation[TC_SEV_CRITICAL], "page-managers");
	TC_CHECK_STR(c->escalation[TC_SEV_HIGH], "page-managers");
	TC_CHECK(c->escalation[TC_SEV_NORMAL] == NULL);
	TC_CHECK_STR(c->escalation[TC_SEV_LOW], "status");
	e = tc_cfg_escalation(c, "page-managers");
	TC_CHECK(e != NULL);
	if (e) {
		TC_CHECK_INT(e->after_ms, 600000);
		TC_CHECK_INT(e->rounds, 3);
		TC_CHECK_INT(e->n_channels, 2);
		TC_CHECK_INT(e->channels[0], TC_CH_SMS);
		TC_CHECK_INT(e->channels[1], TC_CH_EMAIL);
		TC_CHECK_INT(e->n_groups, 1);
		if (e->n_groups == 1)
			TC_CHECK_STR(e->groups[0], "executives");
		TC_CHECK_INT(e->stop_at, 80);
	}
	e = tc_cfg_escalation(c, "status");
	TC_CHECK(e != NULL);
	if (e) {
		TC_CHECK_INT(e->after_ms, 3600000);
		TC_CHECK_INT(e->rounds, 1);
		TC_CHECK_INT(e->n_channels, 0);
		TC_CHECK_INT(e->n_groups, 2);
		if (e->n_groups == 2) {
			TC_CHECK_STR(e->groups[0], "status-page");
			TC_CHECK_STR(e->groups[1], "customers");
		}
		TC_CHECK_INT(e->stop_at, 100);
	}
	TC_CHECK(tc_cfg_escalation(c, "Status") == NULL);
}

static void check_full(const struct tc_cfg *c)
{
	const struct tc_sms_provider *p = c->sms.providers;
	const struct tc_group *g;

	TC_CHECK_STR(c->redis_url, "unix:///run/tocsin/redis.sock");
	TC_CHECK_STR(c->prefix, "tocsin-test:eu.1");
	TC_CHECK_STR(c->consumer, "testhost");
	TC_CHECK_INT(c->in_flight, 500);
	TC_CHECK_INT(c->claim_idle_ms, 90000);
	TC_CHECK_INT(c->shutdown_grace_ms, 0);
	TC_CHECK_INT(c->retention_ms, 400ull * 86400000);
	TC_CHECK_STR(c->listen, "127.0.0.1:8725");
	TC_CHECK_STR(c->public_url, "https://tocsin.example.org");
	TC_CHECK_STR(c->ack_secret, "ack-secret-0123456789-7f3a");
	end_with(c->templates, "/tests/config/valid/tpl");

	TC_CHECK_INT(c->webhook.concurrency, 100);
	TC_CHECK_INT(c->webhook.per_host, 4);
	TC_CHECK_INT(c->webhook.connect_timeout_ms, 250);
	TC_CHECK_INT(c->webhook.timeout_ms, 120000);
	TC_CHECK_INT(c->webhook.retry.attempts, 3);
	TC_CHECK_INT(c->webhook.retry.base_ms, 500);
	TC_CHECK_INT(c->webhook.retry.max_ms, 3600000);
	TC_CHECK(c->webhook.rate.per_second == 50);
	TC_CHECK_INT(c->webhook.rate.burst, 60);
	TC_CHECK_STR(c->webhook.proxy, "http://[::1]:3128");
	end_with(c->webhook.ca_file, "/tests/config/valid/webhook-ca.pem");
	end_with(c->sms.ca_file, "/tests/config/valid/webhook-ca.pem");
	TC_CHECK_INT(c->webhook.n_allow, 6);
	if (c->webhook.n_allow == 6) {
		check_allow(&c->webhook.allow[0], NULL, AF_INET, "127.0.0.0", 8);
		check_allow(&c->webhook.allow[1], NULL, AF_INET6, "::1", 128);
		check_allow(&c->webhook.allow[2], NULL, AF_INET, "192.0.2.7", 32);
		check_allow(&c->webhook.allow[3], NULL, AF_INET6, "2001:db8::", 32);
		check_allow(&c->webhook.allow[4], "hooks.example.org", 0, NULL, 0);
		check_allow(&c->webhook.allow[5], "*.partners.example.net", 0, NULL, 0);
	}

	TC_CHECK(c->email.enabled);
	TC_CHECK_STR(c->email.host, "smtp.example.org");
	TC_CHECK_INT(c->email.port, 2525);
	/* A password travels only with starttls: required. */
	TC_CHECK_INT(c->email.starttls, TC_STARTTLS_REQUIRED);
	end_with(c->email.ca_file, "/tests/config/valid/webhook-ca.pem");
	TC_CHECK_STR(c->email.username, "tocsin");
	TC_CHECK_STR(c->email.password, "hunter2-7f3a");
	TC_CHECK_STR(c->email.from, "Incident desk <incidents@example.org>");
	TC_CHECK_STR(c->email.from_name, "Incident desk");
	TC_CHECK_STR(c->email.from_addr, "incidents@example.org");
	TC_CHECK_STR(c->email.reply_to, "noc@example.org");
	TC_CHECK_STR(c->email.bounce_address, "bounces+{delivery}@example.org");
	TC_CHECK_INT(c->email.sessions, 8);
	TC_CHECK(c->email.rate.per_second == 2.5);
	TC_CHECK_INT(c->email.rate.burst, 3);
	TC_CHECK_INT(c->email.retry.attempts, 6);

	TC_CHECK(c->sms.enabled);
	TC_CHECK_INT(c->sms.max_segments, 2);
	TC_CHECK_INT(c->sms.overflow, TC_OVERFLOW_REJECT);
	TC_CHECK_STR(c->sms.default_region, "GB");
	TC_CHECK_INT(c->sms.max_per_job, 50000);
	TC_CHECK_INT(c->sms.breaker.failures, 3);
	TC_CHECK_INT(c->sms.breaker.cooldown_ms, 120000);
	TC_CHECK_INT(c->sms.n_allow, 2);
	if (c->sms.n_allow == 2) {
		TC_CHECK(c->sms.allow[0].public);
		check_allow_port(&c->sms.allow[1], NULL, AF_INET, "127.0.0.1", 32,
				 8799);
	}
	TC_CHECK_INT(c->sms.n_providers, 3);
	if (c->sms.n_providers == 3) {
		TC_CHECK_STR(p[0].name, "twilio-main");
		TC_CHECK_INT(p[0].kind, TC_SMS_TWILIO);
		TC_CHECK_STR(p[0].base_url, "https://api.twilio.com");
		TC_CHECK_STR(p[0].account_sid, "AC0123456789abcdef");
		TC_CHECK_STR(p[0].auth_token, "twilio-token-7f3a");
		TC_CHECK_STR(p[0].from, "+15550100000");
		TC_CHECK(p[0].rate.per_second == 1);
		TC_CHECK_INT(p[0].rate.burst, 5);
		TC_CHECK(p[0].messaging_service_sid == NULL);
		TC_CHECK(p[0].url == NULL && p[0].body == NULL);
		TC_CHECK_STR(p[1].name, "vonage");
		TC_CHECK_INT(p[1].kind, TC_SMS_VONAGE);
		TC_CHECK_STR(p[1].base_url, "https://rest.nexmo.com");
		TC_CHECK_STR(p[1].api_key, "vonage-key");
		TC_CHECK_STR(p[1].api_secret, "vonage-secret-7f3a");
		TC_CHECK_STR(p[1].from, "Tocsin");
		TC_CHECK_STR(p[1].signature_secret, "vonage-sig-7f3a");
		TC_CHECK_INT(p[1].signature_method, TC_VSIG_SHA256);
		TC_CHECK(p[1].rate.per_second == 0);
		TC_CHECK_INT(p[1].rate.burst, 0);
		TC_CHECK_STR(p[2].name, "gateway");
		TC_CHECK_INT(p[2].kind, TC_SMS_HTTP);
		TC_CHECK_STR(p[2].auth_token, "twilio-token-7f3a");
		TC_CHECK(p[2].account_sid == NULL);
		check_gateway(&p[2]);
	}
	TC_CHECK_INT(c->sms.retry.max_ms, 600000);

	TC_CHECK_INT(c->n_groups, 3);
	g = tc_cfg_group(c, "executives");
	TC_CHECK(g != NULL);
	if (g) {
		TC_CHECK_INT(g->channels, TC_CH_ALL);
		TC_CHECK(g->roster == NULL);
		TC_CHECK_INT(g->n_members, 2);
		TC_CHECK_STR(g->members[0].name, "Ada Lovelace");
		TC_CHECK_STR(g->members[0].role, "CTO");
		TC_CHECK_STR(g->members[0].email, "ada@example.org");
		TC_CHECK_STR(g->members[0].phone, "+447911123456");
		TC_CHECK(g->members[0].webhook == NULL);
		TC_CHECK_INT(g->members[0].channels,
			     TC_CH_BIT(TC_CH_EMAIL) | TC_CH_BIT(TC_CH_SMS));
		TC_CHECK_STR(g->members[1].name, "Grace Hopper");
		TC_CHECK_INT(g->members[1].channels, 0);
	}
	g = tc_cfg_group(c, "customers");
	TC_CHECK(g != NULL);
	if (g) {
		TC_CHECK_INT(g->channels, TC_CH_BIT(TC_CH_EMAIL));
		TC_CHECK_INT(g->n_members, 0);
		end_with(g->roster, "/tests/config/valid/rosters/customers.csv");
		TC_CHECK(g->roster && g->roster[0] == '/');
	}
	g = tc_cfg_group(c, "status-page");
	TC_CHECK(g != NULL);
	if (g) {
		TC_CHECK_INT(g->n_members, 1);
		TC_CHECK_STR(g->members[0].webhook, "https://hooks.example.org/tocsin");
		TC_CHECK_INT(g->members[0].channels, TC_CH_BIT(TC_CH_WEBHOOK));
	}
	TC_CHECK(tc_cfg_group(c, "Executives") == NULL);
	check_escalations(c);
}

static void check_client_unset(const struct tc_cfg *c)
{
	const struct tc_group *g = tc_cfg_group(c, "oncall");

	TC_CHECK_STR(c->redis_url, "redis://127.0.0.1:6379/0");
	TC_CHECK_STR(c->consumer, "testhost");
	TC_CHECK(c->ack_secret == NULL);
	TC_CHECK(c->webhook.enabled);
	TC_CHECK_INT(c->webhook.key_len, 0);
	TC_CHECK_INT(c->webhook.n_allow, 1);
	TC_CHECK(c->email.enabled);
	TC_CHECK(c->email.host == NULL);
	TC_CHECK_STR(c->email.from, "incidents@example.org");
	TC_CHECK_STR(c->email.from_addr, "incidents@example.org");
	TC_CHECK(c->email.from_name == NULL);
	TC_CHECK(g != NULL);
	if (g) {
		TC_CHECK_INT(g->n_members, 2);
		TC_CHECK_STR(g->members[0].name, "Ada");
		TC_CHECK(g->members[0].webhook == NULL);
		TC_CHECK_STR(g->members[1].email, "grace@example.org");
	}
}

static void check_env(const struct tc_cfg *c)
{
	const struct tc_group *g = tc_cfg_group(c, "oncall");

	TC_CHECK_STR(c->redis_url, "redis://127.0.0.1:8799/2");
	TC_CHECK_STR(c->redis_username, "Ada");
	TC_CHECK_STR(c->redis_password, "hunter2-7f3a");
	TC_CHECK_STR(c->prefix, "tocsin-env");
	TC_CHECK_INT(c->in_flight, 42);
	TC_CHECK_INT(c->webhook.n_allow, 1);
	TC_CHECK(g != NULL);
	if (g && g->n_members == 1) {
		TC_CHECK_INT(g->channels, TC_CH_BIT(TC_CH_WEBHOOK));
		TC_CHECK_STR(g->members[0].name, "Ada (on call)");
		TC_CHECK_STR(g->members[0].webhook, "http://127.0.0.1:8799/hooks/$ada");
	}
}

static void check_ipv6(const struct tc_cfg *c)
{
	const struct tc_group *g = tc_cfg_group(c, "ops");

	TC_CHECK_STR(c->redis_url, "redis://[::1]:6380/3");
	TC_CHECK(c->redis_username == NULL);
	TC_CHECK_STR(c->redis_password, "hunter2-7f3a");
	TC_CHECK(!c->webhook.enabled);
	TC_CHECK_INT(c->webhook.key_len, 0);
	TC_CHECK_STR(c->email.host, "::1");
	TC_CHECK_INT(c->email.port, 587);
	TC_CHECK_INT(c->email.starttls, TC_STARTTLS_OFF);
	TC_CHECK(c->email.rate.per_second == 0.5);
	TC_CHECK_INT(c->email.rate.burst, 1);
	TC_CHECK_INT(c->sms.n_providers, 1);
	if (c->sms.n_providers == 1) {
		TC_CHECK_INT(c->sms.providers[0].rate.burst, 3);
		TC_CHECK_STR(c->sms.providers[0].from, "+15550100001");
	}
	TC_CHECK(g != NULL);
	if (g && g->n_members == 1)
		TC_CHECK_STR(g->members[0].phone, "+15550100000");
}

static void check_email(const struct tc_cfg *c)
{
	TC_CHECK(c->email.enabled);
	TC_CHECK_STR(c->email.host, "smtp.example.org");
	TC_CHECK_INT(c->email.port, 25);
	TC_CHECK_INT(c->email.starttls, TC_STARTTLS_OPPORTUNISTIC);
	TC_CHECK(c->email.username == NULL && c->email.password == NULL);
	TC_CHECK(c->email.ca_file == NULL);
	TC_CHECK_STR(c->email.from, "\"Acme, Inc. Incident desk\" <incidents@example.org>");
	TC_CHECK_STR(c->email.from_name, "Acme, Inc. Incident desk");
	TC_CHECK_STR(c->email.from_addr, "incidents@example.org");
	TC_CHECK(c->email.reply_to == NULL);
	TC_CHECK_STR(c->email.bounce_address, "bounces@example.org");
	TC_CHECK(!c->webhook.enabled && !c->sms.enabled);
}

static void check_sms(const struct tc_cfg *c)
{
	const struct tc_sms_provider *p = c->sms.providers;

	TC_CHECK_INT(c->sms.max_segments, 4);
	TC_CHECK_INT(c->sms.n_allow, 1);
	if (c->sms.n_allow == 1)
		TC_CHECK(c->sms.allow[0].public && c->sms.allow[0].port == 0);
	TC_CHECK_INT(c->sms.n_providers, 7);
	if (c->sms.n_providers != 7)
		return;
	TC_CHECK_STR(p[0].base_url, "https://api.twilio.com");
	TC_CHECK_STR(p[0].messaging_service_sid, "MG0123456789abcdef0123456789ABCDEF");
	TC_CHECK(p[0].from == NULL);
	/* A burst left out is at least max_segments. */
	TC_CHECK(p[0].rate.per_second == 1);
	TC_CHECK_INT(p[0].rate.burst, 4);
	TC_CHECK_STR(p[1].base_url, "https://rest.nexmo.com/sms");
	TC_CHECK_STR(p[1].from, "Acme");
	TC_CHECK_STR(p[2].name, "gateway.eu-1");
	TC_CHECK_INT(p[2].method, TC_SMS_POST);
	TC_CHECK_INT(p[2].content_type, TC_SMS_CONTENT_JSON);
	TC_CHECK_INT(p[2].n_headers, 1);
	if (p[2].n_headers == 1) {
		TC_CHECK_STR(p[2].headers[0].value, "Bearer gateway-token-7f3a");
		TC_CHECK(p[2].headers[0].secret);
	}
	TC_CHECK(p[2].auth_token == NULL && p[2].message_id == NULL);
	TC_CHECK_INT(p[2].success.n_status, 0);
	TC_CHECK(json_is_string(p[2].success.equals) &&
		 strcmp(json_string_value(p[2].success.equals), "0") == 0);
	TC_CHECK(json_is_integer(p[3].success.equals) &&
		 json_integer_value(p[3].success.equals) == 0);
	TC_CHECK_STR(p[4].success.pointer, "/x~1y");
	TC_CHECK(json_is_real(p[4].success.equals) &&
		 json_real_value(p[4].success.equals) == -1.5);
	TC_CHECK(json_is_false(p[5].success.equals));
	TC_CHECK(p[6].success.equals == NULL);
	TC_CHECK_INT(p[6].success.n_status, 1);
	TC_CHECK_INT(p[6].success.status[0], 202);
}

/* listen's port 0: any free port (tocsind logs the one it got). */
static void check_listen_any_port(const struct tc_cfg *c)
{
	TC_CHECK_STR(c->listen, "127.0.0.1:0");
}

static const struct {
	const char *file;
	enum tc_cfg_mode mode;
	void (*check)(const struct tc_cfg *c);
} valid[] = {
	{ "minimal.yaml", TC_CFG_DAEMON, check_minimal },
	{ "full.yaml", TC_CFG_DAEMON, check_full },
	{ "client-unset.yaml", TC_CFG_CLIENT, check_client_unset },
	{ "env.yaml", TC_CFG_DAEMON, check_env },
	{ "ipv6.yaml", TC_CFG_DAEMON, check_ipv6 },
	{ "allow.yaml", TC_CFG_DAEMON, check_allow_forms },
	{ "email.yaml", TC_CFG_DAEMON, check_email },
	{ "sms.yaml", TC_CFG_DAEMON, check_sms },
	{ "listen-any-port.yaml", TC_CFG_DAEMON, check_listen_any_port },
};

static void valid_cases(void)
{
	struct dirent **list;
	size_t k;
	int n, i;

	for (k = 0; k < sizeof(valid) / sizeof(valid[0]); k++) {
		char *path = dup_printf("valid/%s", valid[k].file);
		struct tc_cfg *c;

		tc_test_begin(keep_name(dup_printf("valid: %s", valid[k].file)));
		c = path ? expect_loaded(path, valid[k].mode) : NULL;
		if (c)
			valid[k].check(c);
		tc_cfg_free(c);
		free(path);
	}
	/* Every file in valid/ has its assertions above. */
	n = scandir("valid", &list, is_yaml, by_name);
	tc_test_begin("config: each file in valid/ is checked");
	TC_CHECK_INT(n, (int)(sizeof(valid) / sizeof(valid[0])));
	for (i = 0; i < n; i++) {
		for (k = 0; k < sizeof(valid) / sizeof(valid[0]); k++)
			if (strcmp(list[i]->d_name, valid[k].file) == 0)
				break;
		if (k == sizeof(valid) / sizeof(valid[0]))
			tc_test_fail(__FILE__, __LINE__, "valid/%s has no checks",
				     list[i]->d_name);
		free(list[i]);
	}
	free(list);

	tc_test_begin("config: a client load of a daemon file is the same");
	{
		struct tc_cfg *c = expect_loaded("valid/full.yaml", TC_CFG_CLIENT);

		if (c)
			check_full(c);
		tc_cfg_free(c);
	}
}

/* ---- generated: limits and files -------------------------------------------- */

static const char base[] =
	"redis:\n"
	"  url: redis://127.0.0.1\n"
	"channels:\n"
	"  webhook:\n"
	"    secret: ${TOCSIN_TEST_WEBHOOK_SECRET}\n"
	"    allow: [127.0.0.0/8]\n";

static void write_file(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "wb");

	if (!f || fwrite(text, 1, len, f) != len)
		tc_test_fail(__FILE__, __LINE__, "cannot write %s", path);
	if (f)
		fclose(f);
}

/* A file with base, then what the callback adds. */
static char *gen(const char *dir, const char *name, struct tc_buf *b)
{
	char *path = dup_printf("%s/%s", dir, name);

	if (path)
		write_file(path, b->data ? b->data : "", b->len);
	return path;
}

static void limit_groups(const char *dir, unsigned n, bool over)
{
	struct tc_buf b;
	char *path, *want;
	unsigned i;

	tc_buf_init(&b, 1u << 20);
	(void)tc_buf_adds(&b, base);
	(void)tc_buf_adds(&b, "groups:\n");
	for (i = 0; i < n; i++)
		(void)tc_buf_printf(&b, "  g%u:\n    members: [{name: A, webhook: "
				    "'http://127.0.0.1/'}]\n", i);
	path = gen(dir, "groups.yaml", &b);
	if (over) {
		want = dup_printf("%s:7: groups: more than 1024 groups "
				  "(TC_LIMIT_GROUPS)\n", path);
		expect_refused(path, TC_CFG_DAEMON, want);
		free(want);
	} else {
		struct tc_cfg *c = expect_loaded(path, TC_CFG_DAEMON);

		TC_CHECK(c && c->n_groups == n);
		tc_cfg_free(c);
	}
	free(path);
	tc_buf_release(&b);
}

static void limit_members(const char *dir, unsigned n, bool over)
{
	struct tc_buf b;
	char *path, *want;
	unsigned i;

	tc_buf_init(&b, 1u << 22);
	(void)tc_buf_adds(&b, base);
	(void)tc_buf_adds(&b, "groups:\n  all:\n    members:\n");
	for (i = 0; i < n; i++)
		(void)tc_buf_printf(&b, "      - {name: M%u, webhook: "
				    "'http://127.0.0.1/%u'}\n", i, i);
	path = gen(dir, "members.yaml", &b);
	if (over) {
		want = dup_printf("%s:9: groups.all.members: more than 10000 members "
				  "(TC_LIMIT_INLINE_MEMBERS); use a roster\n", path);
		expect_refused(path, TC_CFG_DAEMON, want);
		free(want);
	} else {
		struct tc_cfg *c = expect_loaded(path, TC_CFG_DAEMON);
		const struct tc_group *g = c ? tc_cfg_group(c, "all") : NULL;

		TC_CHECK(g && g->n_members == n);
		tc_cfg_free(c);
	}
	free(path);
	tc_buf_release(&b);
}

static void limit_allow(const char *dir, unsigned n, bool over)
{
	struct tc_buf b;
	char *path, *want;
	unsigned i;

	tc_buf_init(&b, 1u << 20);
	(void)tc_buf_adds(&b, "redis: {url: 'redis://127.0.0.1'}\nchannels:\n"
			  "  webhook:\n    secret: ${TOCSIN_TEST_WEBHOOK_SECRET}\n"
			  "    allow:\n");
	for (i = 0; i < n; i++)
		(void)tc_buf_printf(&b, "      - h%u.example.org\n", i);
	path = gen(dir, "allow.yaml", &b);
	if (over) {
		want = dup_printf("%s:5: channels.webhook.allow: more than 256 entries "
				  "(TC_LIMIT_ALLOW)\n", path);
		expect_refused(path, TC_CFG_DAEMON, want);
		free(want);
	} else {
		struct tc_cfg *c = expect_loaded(path, TC_CFG_DAEMON);

		TC_CHECK(c && c->webhook.n_allow == n);
		tc_cfg_free(c);
	}
	free(path);
	tc_buf_release(&b);
}

static void limit_providers(const char *dir, unsigned n, bool over)
{
	struct tc_buf b;
	char *path, *want;
	unsigned i;

	tc_buf_init(&b, 1u << 20);
	(void)tc_buf_adds(&b, "redis: {url: 'redis://127.0.0.1'}\nchannels:\n"
			  "  sms:\n    providers:\n");
	for (i = 0; i < n; i++)
		(void)tc_buf_printf(&b, "      - {name: p%u, kind: http, url: "
				    "'https://sms.example.net/', body: '{{text}}'}\n",
				    i);
	path = gen(dir, "providers.yaml", &b);
	if (over) {
		want = dup_printf("%s:4: channels.sms.providers: more than 16 providers "
				  "(TC_LIMIT_PROVIDERS)\n", path);
		expect_refused(path, TC_CFG_DAEMON, want);
		free(want);
	} else {
		struct tc_cfg *c = expect_loaded(path, TC_CFG_DAEMON);

		TC_CHECK(c && c->sms.n_providers == n);
		tc_cfg_free(c);
	}
	free(path);
	tc_buf_release(&b);
}

/* A generic gateway with n headers (headers) or n success statuses. */
static void limit_gateway(const char *dir, unsigned n, bool headers, bool over)
{
	struct tc_buf b;
	char *path, *want;
	unsigned i;

	tc_buf_init(&b, 1u << 20);
	(void)tc_buf_adds(&b, "redis: {url: 'redis://127.0.0.1'}\nchannels:\n"
			  "  sms:\n    providers:\n      - name: gw\n"
			  "        kind: http\n        url: https://sms.example.net/\n"
			  "        body: '{{text}}'\n");
	(void)tc_buf_adds(&b, headers ? "        headers:\n" : "        success:\n"
			  "          status: [");
	for (i = 0; i < n; i++) {
		if (headers)
			(void)tc_buf_printf(&b, "          X-H%u: v\n", i);
		else
			(void)tc_buf_printf(&b, "%s%u", i ? ", " : "", 100 + i);
	}
	(void)tc_buf_adds(&b, headers ? "" : "]\n");
	path = gen(dir, "gateway.yaml", &b);
	if (over) {
		want = headers ?
		       dup_printf("%s:9: channels.sms.providers[0].headers: more than "
				  "32 headers (TC_LIMIT_SMS_HEADERS)\n", path) :
		       dup_printf("%s:10: channels.sms.providers[0].success.status: "
				  "more than 16 statuses (TC_LIMIT_SMS_STATUSES)\n",
				  path);
		expect_refused(path, TC_CFG_DAEMON, want);
		free(want);
	} else {
		struct tc_cfg *c = expect_loaded(path, TC_CFG_DAEMON);

		TC_CHECK(c && c->sms.n_providers == 1);
		if (c && c->sms.n_providers == 1)
			TC_CHECK_INT(headers ? c->sms.providers[0].n_headers :
				     c->sms.providers[0].success.n_status, n);
		tc_cfg_free(c);
	}
	free(path);
	tc_buf_release(&b);
}

static void limit_escalations(const char *dir, unsigned n, bool over)
{
	struct tc_buf b;
	char *path, *want;
	unsigned i;

	tc_buf_init(&b, 1u << 20);
	(void)tc_buf_adds(&b, base);
	(void)tc_buf_adds(&b, "escalations:\n");
	for (i = 0; i < n; i++)
		(void)tc_buf_printf(&b, "  e%u: {after: 1m, channels: [webhook]}\n", i);
	path = gen(dir, "escalations.yaml", &b);
	if (over) {
		want = dup_printf("%s:7: escalations: more than 64 policies "
				  "(TC_LIMIT_ESCALATIONS)\n", path);
		expect_refused(path, TC_CFG_DAEMON, want);
		free(want);
	} else {
		struct tc_cfg *c = expect_loaded(path, TC_CFG_DAEMON);

		TC_CHECK(c && c->n_escalations == n);
		tc_cfg_free(c);
	}
	free(path);
	tc_buf_release(&b);
}

/* A value of len bytes, written in the file or coming from ${NAME}. */
static void limit_value(const char *dir, size_t len, bool over, bool from_env)
{
	static const char head[] = "https://example.org/";
	struct tc_buf v, b;
	char *path, *want;

	tc_buf_init(&v, 1u << 20);
	(void)tc_buf_adds(&v, head);
	while (v.len < len)
		(void)tc_buf_addc(&v, 'a');
	tc_buf_init(&b, 1u << 20);
	(void)tc_buf_adds(&b, base);
	if (from_env) {
		setenv("TOCSIN_TEST_LONG", v.data, 1);
		(void)tc_buf_adds(&b, "public_url: ${TOCSIN_TEST_LONG}\n");
	} else {
		(void)tc_buf_printf(&b, "public_url: %s\n", v.data);
	}
	path = gen(dir, "value.yaml", &b);
	if (over) {
		want = dup_printf("%s:7: public_url: longer than 2048 bytes "
				  "(TC_LIMIT_ADDRESS)\n", path);
		expect_refused(path, TC_CFG_DAEMON, want);
		free(want);
	} else {
		struct tc_cfg *c = expect_loaded(path, TC_CFG_DAEMON);

		TC_CHECK(c && c->public_url && strlen(c->public_url) == len);
		tc_cfg_free(c);
	}
	unsetenv("TOCSIN_TEST_LONG");
	free(path);
	tc_buf_release(&v);
	tc_buf_release(&b);
}

/* A file of exactly size bytes: base, then a comment to fill it. */
static void limit_file(const char *dir, size_t size, bool over)
{
	struct tc_buf b;
	char *path, *want;

	tc_buf_init(&b, size + 1);
	(void)tc_buf_adds(&b, base);
	(void)tc_buf_adds(&b, "#");
	while (b.len < size - 1)
		(void)tc_buf_addc(&b, 'x');
	(void)tc_buf_addc(&b, '\n');
	path = gen(dir, "big.yaml", &b);
	if (over) {
		want = dup_printf("%s: larger than 1048576 bytes "
				  "(TC_LIMIT_CONFIG_BYTES)\n", path);
		expect_refused(path, TC_CFG_DAEMON, want);
		free(want);
	} else {
		struct tc_cfg *c = expect_loaded(path, TC_CFG_DAEMON);

		tc_cfg_free(c);
	}
	free(path);
	tc_buf_release(&b);
}

static void generated_cases(void)
{
	static const char *const generated[] = {
		"notemplates.yaml", "groups.yaml", "members.yaml", "allow.yaml",
		"providers.yaml", "gateway.yaml", "escalations.yaml", "value.yaml",
		"big.yaml",
	};
	char tmpl[] = "/tmp/tocsin-test-config-XXXXXX";
	char *dir = mkdtemp(tmpl), *tpl, *path, *want;
	struct tc_buf b;
	size_t i;

	tc_test_begin("config: a temporary folder");
	TC_CHECK(dir != NULL);
	if (!dir)
		return;
	tpl = dup_printf("%s/templates", dir);

	/* Before templates/ exists: the default folder is missing. */
	tc_test_begin("config: a missing default templates/ folder");
	tc_buf_init(&b, 4096);
	(void)tc_buf_adds(&b, base);
	path = gen(dir, "notemplates.yaml", &b);
	want = dup_printf("%s:1: templates: no folder '%s/templates/' (the "
			  "default); create it or set templates\n", path, dir);
	expect_refused(path, TC_CFG_DAEMON, want);
	free(want);
	free(path);
	tc_buf_release(&b);
	TC_CHECK_INT(mkdir(tpl, 0700), 0);

	tc_test_begin("config: TC_LIMIT_GROUPS groups load");
	limit_groups(dir, TC_LIMIT_GROUPS, false);
	tc_test_begin("config: more than TC_LIMIT_GROUPS groups");
	limit_groups(dir, TC_LIMIT_GROUPS + 1, true);
	tc_test_begin("config: TC_LIMIT_INLINE_MEMBERS members load");
	limit_members(dir, TC_LIMIT_INLINE_MEMBERS, false);
	tc_test_begin("config: more than TC_LIMIT_INLINE_MEMBERS members");
	limit_members(dir, TC_LIMIT_INLINE_MEMBERS + 1, true);
	tc_test_begin("config: TC_LIMIT_ALLOW allow entries load");
	limit_allow(dir, TC_LIMIT_ALLOW, false);
	tc_test_begin("config: more than TC_LIMIT_ALLOW allow entries");
	limit_allow(dir, TC_LIMIT_ALLOW + 1, true);
	tc_test_begin("config: TC_LIMIT_PROVIDERS providers load");
	limit_providers(dir, TC_LIMIT_PROVIDERS, false);
	tc_test_begin("config: more than TC_LIMIT_PROVIDERS providers");
	limit_providers(dir, TC_LIMIT_PROVIDERS + 1, true);
	tc_test_begin("config: TC_LIMIT_SMS_HEADERS headers load");
	limit_gateway(dir, TC_LIMIT_SMS_HEADERS, true, false);
	tc_test_begin("config: more than TC_LIMIT_SMS_HEADERS headers");
	limit_gateway(dir, TC_LIMIT_SMS_HEADERS + 1, true, true);
	tc_test_begin("config: TC_LIMIT_SMS_STATUSES statuses load");
	limit_gateway(dir, TC_LIMIT_SMS_STATUSES, false, false);
	tc_test_begin("config: more than TC_LIMIT_SMS_STATUSES statuses");
	limit_gateway(dir, TC_LIMIT_SMS_STATUSES + 1, false, true);
	tc_test_begin("config: TC_LIMIT_ESCALATIONS policies load");
	limit_escalations(dir, TC_LIMIT_ESCALATIONS, false);
	tc_test_begin("config: more than TC_LIMIT_ESCALATIONS policies");
	limit_escalations(dir, TC_LIMIT_ESCALATIONS + 1, true);
	tc_test_begin("config: a value of TC_LIMIT_ADDRESS bytes loads");
	limit_value(dir, TC_LIMIT_ADDRESS, false, false);
	tc_test_begin("config: a value over TC_LIMIT_ADDRESS bytes");
	limit_value(dir, TC_LIMIT_ADDRESS + 1, true, false);
	tc_test_begin("config: a value over TC_LIMIT_ADDRESS bytes from ${NAME}");
	limit_value(dir, TC_LIMIT_ADDRESS + 1, true, true);
	tc_test_begin("config: a file of TC_LIMIT_CONFIG_BYTES loads");
	limit_file(dir, TC_LIMIT_CONFIG_BYTES, false);
	tc_test_begin("config: a file over TC_LIMIT_CONFIG_BYTES");
	limit_file(dir, TC_LIMIT_CONFIG_BYTES + 1, true);

	tc_test_begin("config: a missing file");
	expect_refused("invalid/no-such-file.yaml", TC_CFG_DAEMON,
		       "invalid/no-such-file.yaml: cannot open: No such file or "
		       "directory\n");
	tc_test_begin("config: a folder instead of a file");
	expect_refused("valid/templates", TC_CFG_DAEMON,
		       "valid/templates: not a regular file\n");

	/* Clean up what was generated. */
	for (i = 0; i < sizeof(generated) / sizeof(generated[0]); i++) {
		path = dup_printf("%s/%s", dir, generated[i]);
		if (path)
			(void)unlink(path);
		free(path);
	}
	(void)rmdir(tpl);
	(void)rmdir(dir);
	free(tpl);
}

/* ---- examples/tocsin.yaml ---------------------------------------------------- */

static void example_case(const char *example)
{
	char *ca = realpath("valid/webhook-ca.pem", NULL); /* in tests/config */
	const struct tc_group *g;
	struct tc_cfg *c;
	size_t i;

	tc_test_begin("config: examples/tocsin.yaml loads");
	/* The demo makes its certificate; any file of certificates passes. */
	setenv("TOCSIN_SMTP_CA_FILE", ca ? ca : "valid/webhook-ca.pem", 1);
	free(ca);
	c = expect_loaded(example, TC_CFG_DAEMON);
	if (!c)
		return;
	TC_CHECK_STR(c->redis_url, "redis://127.0.0.1:6379/0");
	TC_CHECK_STR(c->prefix, "tocsin");
	TC_CHECK_STR(c->consumer, "demo");
	TC_CHECK_INT(c->in_flight, 1000);
	TC_CHECK_STR(c->listen, "127.0.0.1:8725");
	TC_CHECK(c->webhook.enabled);
	TC_CHECK_INT(c->webhook.key_len, 24);
	TC_CHECK(c->email.enabled);
	TC_CHECK_STR(c->email.host, "localhost");
	TC_CHECK_INT(c->email.port, 8825);
	TC_CHECK_INT(c->email.starttls, TC_STARTTLS_REQUIRED);
	TC_CHECK(c->sms.enabled && c->sms.n_providers == 1);
	TC_CHECK_STR(c->sms.default_region, "GB");
	/* a national spelling, normalised in the default region */
	g = tc_cfg_group(c, "executives");
	TC_CHECK(g && g->n_members > 0 && g->members[0].phone);
	if (g && g->n_members > 0 && g->members[0].phone)
		TC_CHECK_STR(g->members[0].phone, "+447911123456");
	TC_CHECK(tc_cfg_group(c, "oncall") != NULL);
	TC_CHECK(tc_cfg_group(c, "executives") != NULL);
	TC_CHECK(tc_cfg_group(c, "status-page") != NULL);
	g = tc_cfg_group(c, "oncall");
	for (i = 0; g && i < g->n_members; i++)
		TC_CHECK(g->members[i].webhook &&
			 strncmp(g->members[i].webhook, "http://127.0.0.1:8799/hooks/",
				 28) == 0);
	g = tc_cfg_group(c, "customers");
	TC_CHECK(g && g->roster);
	tc_cfg_free(c);

	tc_test_begin("config: examples/tocsin.yaml for the CLI needs only the Redis URL");
	unsetenv("TOCSIN_WEBHOOK_SECRET");
	unsetenv("TOCSIN_RECEIVER_PORT");
	unsetenv("TOCSIN_SMTP_PORT");
	unsetenv("TOCSIN_SMTP_CA_FILE");
	unsetenv("TOCSIN_SMS_GATEWAY_PORT");
	c = expect_loaded(example, TC_CFG_CLIENT);
	TC_CHECK(c && c->webhook.key_len == 0);
	tc_cfg_free(c);
}

int main(int argc, char **argv)
{
	char *example;
	size_t i;
	int rc;

	example = tc_test_enter(argc, argv,
				"test_config <tests/config> [<examples/tocsin.yaml>]");
	for (i = 0; i < sizeof(env) / sizeof(env[0]); i++)
		setenv(env[i][0], env[i][1], 1);
	for (i = 0; i < sizeof(unset_env) / sizeof(unset_env[0]); i++)
		unsetenv(unset_env[i]);

	invalid_cases();
	valid_cases();
	generated_cases();
	if (example)
		example_case(example);
	else if (argc > 2)
		printf("# cannot find %s\n", argv[2]);
	rc = tc_test_done();
	for (i = 0; i < n_names; i++)
		free(names[i]);
	free(example);
	return rc;
}
