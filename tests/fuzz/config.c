/*
 * The configuration loader (config/): a YAML file, any bytes, loaded and
 * validated for tocsind and for the CLI, in a folder of its own that holds
 * a roster (rosters/customers.csv), a CA file (ca.pem) and template
 * folders (templates/, tpl/), with the ${NAME}s the seeds use set (and
 * TOCSIN_TEST_UNSET not). Every diagnostic must be printable as it is: a
 * value from the file or the environment is quoted and escaped.
 */
#include <stdio.h>
#include <stdlib.h>

#include "config/config.h"
#include "tests/fuzz/fuzz.h"

static const char *const env[][2] = {
	{ "HOSTNAME", "fuzzhost" },
	{ "TOCSIN_TEST_REDIS_URL", "redis://127.0.0.1:6379/0" },
	{ "TOCSIN_REDIS_URL", "redis://127.0.0.1:6379/0" },
	{ "TOCSIN_TEST_WEBHOOK_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" },
	{ "TOCSIN_WEBHOOK_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" },
	{ "TOCSIN_TEST_SHORT_SECRET", "whsec_c2VjcmV0MTI=" },
	{ "TOCSIN_TEST_BAD_SECRET", "not-a-secret-value-7f3a" },
	{ "TOCSIN_TEST_PASSWORD", "hunter2-7f3a" },
	{ "TOCSIN_TEST_ACK_SECRET", "ack-secret-0123456789-7f3a" },
	{ "TOCSIN_TEST_TWILIO_SID", "AC0123456789abcdef" },
	{ "TOCSIN_TEST_TWILIO_TOKEN", "twilio-token-7f3a" },
	{ "TOCSIN_TEST_VONAGE_KEY", "vonage-key" },
	{ "TOCSIN_TEST_VONAGE_SECRET", "vonage-secret-7f3a" },
	{ "TOCSIN_TEST_GATEWAY_TOKEN", "gateway-token-7f3a" },
	{ "TOCSIN_TEST_HOST", "127.0.0.1" },
	{ "TOCSIN_TEST_PORT", "8799" },
	{ "TOCSIN_RECEIVER_PORT", "8799" },
	{ "TOCSIN_TEST_PREFIX", "tocsin-env" },
	{ "TOCSIN_TEST_NUMBER", "42" },
	{ "TOCSIN_TEST_NAME", "Ada" },
	{ "TOCSIN_TEST_EMPTY", "" },
	/* A value a file could not hold: controls and a bidi override. */
	{ "TOCSIN_TEST_CONTROL", "a\x1b[31mred\xe2\x80\xae\tb" },
};

static const char roster[] =
	"name,role,email,phone,webhook,channels\n"
	"Acme Corp,Customer,ops@acme.example.com,,,\n"
	"\"Globex, Inc.\",Customer,noc@globex.example.com,+1 555 010 2000,,email sms\n"
	"Hooks,,,,http://127.0.0.1:8799/hooks/x,webhook\n";

static char path[512];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	size_t i;

	(void)argc;
	(void)argv;
	for (i = 0; i < sizeof(env) / sizeof(env[0]); i++)
		setenv(env[i][0], env[i][1], 1);
	unsetenv("TOCSIN_TEST_UNSET");
	fz_writes("rosters/customers.csv", roster);
	fz_writes("ca.pem", "-----BEGIN CERTIFICATE-----\n");
	fz_writes("templates/outage/webhook.json", "{\"text\": \"{{service}}\"}\n");
	fz_writes("tpl/outage/webhook.json", "{\"text\": \"{{service}}\"}\n");
	snprintf(path, sizeof(path), "%s/tocsin.yaml", fz_dir());
	return 0;
}

static void load(enum tc_cfg_mode mode)
{
	static struct tc_diags ds;
	struct tc_cfg *cfg = NULL;
	char line[1200];
	size_t i;

	ds.n = ds.dropped = 0;
	if (tc_cfg_load(path, mode, &cfg, &ds) == 0) {
		fz_assert(cfg && ds.n == 0, "a loaded configuration has no error");
		tc_cfg_free(cfg);
		return;
	}
	fz_assert(cfg == NULL && ds.n > 0, "a refused configuration says why");
	for (i = 0; i < ds.n; i++) {
		tc_diag_format(&ds.item[i], line, sizeof(line));
		fz_shown(line, "a configuration diagnostic");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The loader refuses a file past TC_LIMIT_CONFIG_BYTES: one more. */
	if (size > TC_LIMIT_CONFIG_BYTES + 1)
		return 0;
	fz_write("tocsin.yaml", data, size);
	load(TC_CFG_DAEMON);
	load(TC_CFG_CLIENT);
	return 0;
}
