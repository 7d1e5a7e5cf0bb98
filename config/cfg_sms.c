/*
 * cfg_sms: the rules of channels.sms: segments and overflow, and the
 * providers in failover order with the credentials each kind needs.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_internal.h"

/* ---- channels.sms ------------------------------------------------------------ */

static const char *const sms_keys[] = {
	"max_segments", "overflow", "providers", "retry", NULL
};
static const char *const provider_keys[] = {
	"name", "kind", "base_url", "account_sid", "auth_token", "api_key",
	"api_secret", "from", "rate", NULL
};
static const char *const overflow_names[] = { "truncate", "reject", NULL };
static const char *const kind_names[] = { "twilio", "vonage", "http", NULL };

/* A provider's credentials: the kinds that need each, the kinds that may
 * have it (http may send an auth_token as a bearer token). */
#define KIND(k) (1u << (k))
static const struct {
	const char *name;
	unsigned flags;
	unsigned need, may;
} creds[] = {
	{ "account_sid", 0, KIND(TC_SMS_TWILIO), KIND(TC_SMS_TWILIO) },
	{ "auth_token", TC_F_SECRET, KIND(TC_SMS_TWILIO),
	  KIND(TC_SMS_TWILIO) | KIND(TC_SMS_HTTP) },
	{ "api_key", 0, KIND(TC_SMS_VONAGE), KIND(TC_SMS_VONAGE) },
	{ "api_secret", TC_F_SECRET, KIND(TC_SMS_VONAGE), KIND(TC_SMS_VONAGE) },
};

/* The credentials of m for kind (-1: unknown, take what is there). */
static void load_credentials(struct tc_load *ld, struct tc_ymap *m, int kind,
			     struct tc_sms_provider *p)
{
	char **slot[] = { &p->account_sid, &p->auth_token, &p->api_key,
			  &p->api_secret };
	size_t i;

	for (i = 0; i < sizeof(creds) / sizeof(creds[0]); i++) {
		bool present = tc_yaml_field(m, creds[i].name)->present;

		if (kind >= 0 && present && !(creds[i].may & KIND(kind)))
			tc_yaml_bad_value(ld, m, creds[i].name, "not used by kind '%s'",
					  kind_names[kind]);
		else if (kind >= 0 && !present && (creds[i].need & KIND(kind)))
			tc_yaml_report(ld, m->line, m->path, "missing required key '%s' "
				       "(kind %s)", creds[i].name, kind_names[kind]);
		else
			(void)tc_yaml_get_str(ld, m, creds[i].name, creds[i].flags,
					      slot[i]);
	}
}

/* An SMS sender: E.164 (normalized into s) or an alphanumeric sender name of
 * 1..11 letters, digits and spaces with at least one letter. */
static bool sender_ok(char *s)
{
	char e164[17], why[64];
	size_t i, len = strlen(s);
	bool letter = false;

	if (s[0] == '+') {
		if (tc_addr_phone_normalize(s, e164, why, sizeof(why)) < 0)
			return false;
		memcpy(s, e164, strlen(e164) + 1);
		return true;
	}
	if (len > 11)
		return false;
	for (i = 0; i < len; i++) {
		if (isalpha((unsigned char)s[i]))
			letter = true;
		else if (!isdigit((unsigned char)s[i]) && s[i] != ' ')
			return false;
	}
	return letter;
}

static void load_provider(struct tc_load *ld, struct fy_node *v, unsigned line,
			  const char *path, struct tc_sms_provider *p)
{
	char q[TC_SHOW_BYTES], why[600];
	int kind = -1;
	struct tc_ymap m;

	if (!tc_yaml_map_read(ld, v, path, line, provider_keys, &m))
		return;
	if (tc_yaml_get_str(ld, &m, "name", TC_F_REQUIRED, &p->name) == TC_V_OK &&
	    !tc_val_name_ok(p->name, strlen(p->name)))
		tc_yaml_bad_value(ld, &m, "name", "not a provider name '%s': 1 to %d of "
				  "A-Z a-z 0-9 _ - .", tc_yaml_shows(q, sizeof(q), p->name),
				  TC_NAME_CHARS);
	if (!tc_yaml_field(&m, "kind")->present)
		tc_yaml_report(ld, m.line, m.path, "missing required key 'kind'");
	else if (tc_yaml_get_enum(ld, &m, "kind", kind_names, "twilio, vonage or http",
				  &kind) == TC_V_OK)
		p->kind = (enum tc_sms_kind)kind;
	if (tc_yaml_get_str(ld, &m, "base_url", TC_F_REQUIRED, &p->base_url) == TC_V_OK &&
	    tc_addr_url_check(p->base_url, why, sizeof(why)) < 0)
		tc_yaml_bad_value(ld, &m, "base_url", "%s", why);
	load_credentials(ld, &m, kind, p);
	if (tc_yaml_get_str(ld, &m, "from", TC_F_REQUIRED, &p->from) == TC_V_OK &&
	    !sender_ok(p->from))
		tc_yaml_bad_value(ld, &m, "from", "not an E.164 number or a sender name "
				  "(1 to 11 letters, digits, spaces) '%s'",
				  tc_yaml_shows(q, sizeof(q), p->from));
	tc_yaml_get_rate(ld, &m, &p->rate);
}

static void load_providers(struct tc_load *ld, struct tc_ymap *m, struct tc_sms_cfg *s)
{
	struct tc_yfield *f = tc_yaml_field(m, "providers");
	char path[TC_PATH], ipath[TC_PATH];
	struct fy_node *item;
	void *it = NULL;
	size_t i, k;
	int n;

	tc_yaml_path_key(path, sizeof(path), m->path, "providers");
	if (!f->present) {
		tc_yaml_report(ld, m->line, m->path, "missing required key 'providers'");
		return;
	}
	if (!tc_yaml_is_kind(ld, f->val, FYNT_SEQUENCE, f->line, path, "a list"))
		return;
	n = fy_node_sequence_item_count(f->val);
	if (n == 0) {
		tc_yaml_report(ld, f->line, path, "empty list: name at least one provider");
		return;
	}
	if (n > TC_LIMIT_PROVIDERS) {
		tc_yaml_report(ld, f->line, path, "more than %d providers "
			       "(TC_LIMIT_PROVIDERS)", TC_LIMIT_PROVIDERS);
		return;
	}
	s->providers = calloc((size_t)n, sizeof(*s->providers));
	if (!s->providers) {
		ld->oom = true;
		return;
	}
	for (i = 0; (item = fy_node_sequence_iterate(f->val, &it)); i++) {
		struct tc_sms_provider *p = &s->providers[i];

		tc_yaml_path_index(ipath, sizeof(ipath), path, i);
		load_provider(ld, item, tc_yaml_line(item, f->line), ipath, p);
		s->n_providers++;
		for (k = 0; p->name && k < i; k++)
			if (s->providers[k].name &&
			    strcmp(s->providers[k].name, p->name) == 0)
				tc_yaml_report(ld, tc_yaml_line(item, f->line), ipath,
					       "provider name '%s' used twice", p->name);
	}
}

void tc_cfg_read_sms(struct tc_load *ld, struct tc_ymap *ch)
{
	struct tc_sms_cfg *s = &ld->cfg->sms;
	int overflow = TC_OVERFLOW_TRUNCATE;
	struct tc_ymap m;

	if (!tc_yaml_field(ch, "sms")->present)
		return;
	s->enabled = true;
	ld->enabled |= TC_CH_BIT(TC_CH_SMS);
	if (tc_yaml_sub_map(ld, ch, "sms", 0, sms_keys, &m) != TC_V_OK)
		return;
	(void)tc_yaml_get_uint(ld, &m, "max_segments", 1, 10, &s->max_segments);
	if (tc_yaml_get_enum(ld, &m, "overflow", overflow_names, "truncate or reject",
			     &overflow) == TC_V_OK)
		s->overflow = (enum tc_overflow)overflow;
	load_providers(ld, &m, s);
	tc_yaml_get_retry(ld, &m, &s->retry);
}
