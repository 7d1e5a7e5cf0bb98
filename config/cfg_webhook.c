/*
 * cfg_webhook: the rules of channels.webhook: caps, timeouts, the
 * Standard Webhooks secret (decoded here, never shown), the allow list,
 * the rate per destination host, the proxy, the CAs to trust and retries.
 */
#include <stdlib.h>
#include <string.h>

#include "config/config_internal.h"

/* ---- channels.webhook ---------------------------------------------------------- */

static const char *const webhook_keys[] = {
	"concurrency", "per_host", "connect_timeout", "timeout", "secret", "allow",
	"rate", "proxy", "ca_file", "retry", NULL
};

static int b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Decodes standard base64 (padding optional) into out (max bytes).
 * Returns the length, -1 when s is not base64, -2 when it decodes to more
 * than max. */
static long b64_decode(const char *s, unsigned char *out, size_t max)
{
	size_t len = strlen(s), pad = 0, i, o = 0;
	uint32_t acc = 0;
	unsigned bits = 0;

	while (len > 0 && s[len - 1] == '=' && pad < 2) {
		len--;
		pad++;
	}
	if (len == 0 || len % 4 == 1 || (pad && (len + pad) % 4 != 0))
		return -1;
	for (i = 0; i < len; i++) {
		int v = b64_value(s[i]);

		if (v < 0)
			return -1;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o >= max)
				return -2;
			out[o++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	/* Leftover bits must be zero, or it is not canonical base64. */
	if (acc != 0)
		return -1;
	return (long)o;
}

/* A Standard Webhooks secret: "whsec_" and base64 of 16..128 bytes. The
 * value is never shown. */
static void load_webhook_secret(struct tc_load *ld, struct tc_ymap *m,
				struct tc_webhook_cfg *w)
{
	char *s = NULL;
	long n;

	if (tc_yaml_get_str(ld, m, "secret", TC_F_REQUIRED | TC_F_SECRET, &s) != TC_V_OK)
		return;
	if (strncmp(s, "whsec_", 6) != 0) {
		tc_yaml_bad_value(ld, m, "secret", "not a Standard Webhooks secret: "
				  "expected whsec_ and base64");
		goto out;
	}
	n = b64_decode(s + 6, w->key, sizeof(w->key));
	if (n == -1)
		tc_yaml_bad_value(ld, m, "secret", "not a Standard Webhooks secret: what "
				  "follows whsec_ is not base64");
	else if (n == -2 || n < 16)
		tc_yaml_bad_value(ld, m, "secret", "the key must be 16 to 128 "
				  "bytes, got %s", n == -2 ? "more" : "fewer");
	else
		w->key_len = (size_t)n;
out:
	if (!w->key_len)
		explicit_bzero(w->key, sizeof(w->key));
	explicit_bzero(s, strlen(s));
	free(s);
}

/* proxy: http://host:port (a name, an IPv4 or a [bracketed] IPv6 host),
 * nothing after but an optional "/". Only what the file says is used:
 * tocsind never takes a proxy from the environment. */
static void load_proxy(struct tc_load *ld, struct tc_ymap *m,
		       struct tc_webhook_cfg *w)
{
	char q[TC_SHOW_BYTES], *s = NULL, *hp;
	const char *port;
	bool slash;
	size_t len;

	if (tc_yaml_get_str(ld, m, "proxy", 0, &s) != TC_V_OK)
		return;
	len = strlen(s);
	if (strchr(s, '@')) {
		/* user:password@ may hold a secret: not shown. */
		tc_yaml_bad_value(ld, m, "proxy", "credentials in the proxy URL are "
				  "not supported: expected http://host:port");
		goto bad;
	}
	if (strncmp(s, "http://", 7) != 0) {
		tc_yaml_bad_value(ld, m, "proxy", "not an http:// proxy URL '%s': "
				  "expected http://host:port",
				  tc_yaml_shows(q, sizeof(q), s));
		goto bad;
	}
	hp = s + 7;
	slash = len > 7 && s[len - 1] == '/';
	if (slash)
		s[len - 1] = '\0';
	if (!tc_val_host_port_ok(hp, false, &port)) {
		if (slash)
			s[len - 1] = '/';
		tc_yaml_bad_value(ld, m, "proxy", "not http://host:port '%s'",
				  tc_yaml_shows(q, sizeof(q), s));
		goto bad;
	}
	w->proxy = s;
	return;
bad:
	free(s);
}

void tc_cfg_read_webhook(struct tc_load *ld, struct tc_ymap *ch)
{
	struct tc_webhook_cfg *w = &ld->cfg->webhook;
	struct tc_ymap m;

	if (!tc_yaml_field(ch, "webhook")->present)
		return;
	w->enabled = true;
	ld->enabled |= TC_CH_BIT(TC_CH_WEBHOOK);
	if (tc_yaml_sub_map(ld, ch, "webhook", 0, webhook_keys, &m) != TC_V_OK)
		return;
	(void)tc_yaml_get_uint(ld, &m, "concurrency", 1, 100000, &w->concurrency);
	(void)tc_yaml_get_uint(ld, &m, "per_host", 1, 10000, &w->per_host);
	(void)tc_yaml_get_duration(ld, &m, "connect_timeout", 1, TC_DURATION_MAX,
				   &w->connect_timeout_ms);
	(void)tc_yaml_get_duration(ld, &m, "timeout", 1, TC_DURATION_MAX,
				   &w->timeout_ms);
	load_webhook_secret(ld, &m, w);
	(void)tc_yaml_get_allow(ld, &m, "allow", TC_F_REQUIRED, &w->allow,
				&w->n_allow);
	tc_yaml_get_rate(ld, &m, 1, NULL, &w->rate);
	load_proxy(ld, &m, w);
	w->ca_file = tc_val_ca_file(ld, &m, "ca_file");
	tc_yaml_get_retry(ld, &m, &w->retry);
}

