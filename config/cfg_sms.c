/*
 * cfg_sms: the rules of channels.sms: segments and overflow, the default
 * region, the cap per job, where generic gateways may be reached, the
 * circuit breaker, and the providers in failover order with what each
 * kind needs (cfg_sms_http.c reads a generic gateway's own keys).
 *
 * A provider's rate is counted in segments, so its burst must let the
 * longest message (max_segments) through.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_internal.h"

#define TWILIO_BASE_URL "https://api.twilio.com"
#define VONAGE_BASE_URL "https://rest.nexmo.com/sms"

/* ---- providers ----------------------------------------------------------------- */

static const char *const provider_keys[] = {
	"name", "kind", "base_url", "account_sid", "auth_token",
	"messaging_service_sid", "api_key", "api_secret", "from", "url", "method",
	"headers", "content_type", "body", "success", "message_id", "rate",
	"signature_secret", "signature_method", NULL
};
static const char *const kind_names[] = { "twilio", "vonage", "http", NULL };
/* As Vonage's dashboard and SDKs name them, index for index with enum
 * tc_vonage_sig. */
static const char *const sig_names[] = { "md5hash", "md5", "sha1", "sha256", "sha512",
					 NULL };

/* The keys only some kinds have: which kinds need each, which may have it
 * (http may send an auth_token as a bearer token). */
#define KIND(k) (1u << (k))
#define TWILIO  KIND(TC_SMS_TWILIO)
#define VONAGE  KIND(TC_SMS_VONAGE)
#define HTTP    KIND(TC_SMS_HTTP)
static const struct {
	const char *name;
	unsigned need, may;
} kind_keys[] = {
	{ "base_url", 0, TWILIO | VONAGE },
	{ "account_sid", TWILIO, TWILIO },
	{ "auth_token", TWILIO, TWILIO | HTTP },
	{ "messaging_service_sid", 0, TWILIO },
	{ "api_key", VONAGE, VONAGE },
	{ "api_secret", VONAGE, VONAGE },
	{ "from", VONAGE, TWILIO | VONAGE },
	{ "url", HTTP, HTTP },
	{ "method", 0, HTTP },
	{ "headers", 0, HTTP },
	{ "content_type", 0, HTTP },
	{ "body", HTTP, HTTP },
	{ "success", 0, HTTP },
	{ "message_id", 0, HTTP },
	{ "signature_secret", 0, VONAGE },
	{ "signature_method", 0, VONAGE },
};

/* Reports the keys of m that kind does not use and those it needs but
 * lacks. Returns false when anything was reported. */
static bool kind_check(struct tc_load *ld, struct tc_ymap *m, int kind)
{
	bool ok = true;
	size_t i;

	for (i = 0; i < sizeof(kind_keys) / sizeof(kind_keys[0]); i++) {
		bool present = tc_yaml_field(m, kind_keys[i].name)->present;

		if (present && !(kind_keys[i].may & KIND(kind))) {
			tc_yaml_bad_value(ld, m, kind_keys[i].name, "not used by "
					  "kind '%s'", kind_names[kind]);
			ok = false;
		} else if (!present && (kind_keys[i].need & KIND(kind))) {
			tc_yaml_report(ld, m->line, m->path, "missing required key "
				       "'%s' (kind %s)", kind_keys[i].name,
				       kind_names[kind]);
			ok = false;
		}
	}
	if (kind == TC_SMS_TWILIO && !tc_yaml_field(m, "from")->present &&
	    !tc_yaml_field(m, "messaging_service_sid")->present) {
		tc_yaml_report(ld, m->line, m->path, "missing required key 'from' "
			       "or 'messaging_service_sid' (kind twilio)");
		ok = false;
	}
	return ok;
}

/* Whether kind (-1: unknown) has key name: an unknown kind's keys are
 * all read, to report what else is wrong with them. */
static bool kind_has(int kind, const char *name)
{
	size_t i;

	if (kind < 0)
		return true;
	for (i = 0; i < sizeof(kind_keys) / sizeof(kind_keys[0]); i++)
		if (strcmp(kind_keys[i].name, name) == 0)
			return kind_keys[i].may & KIND(kind);
	return true;
}

/* An SMS sender: E.164 (normalized into s) or an alphanumeric sender name of
 * 1..11 letters, digits and spaces with at least one letter. */
static bool sender_ok(char *s)
{
	char e164[TC_E164_MAX + 1], why[300];
	enum tc_phone_kind kind;
	size_t i, len = strlen(s);
	bool letter = false;

	if (s[0] == '+') {
		if (tc_addr_phone_normalize(s, NULL, e164, &kind, why, sizeof(why)) < 0)
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

/* A Twilio Messaging Service SID: MG and 32 hexadecimal digits. */
static bool service_sid_ok(const char *s)
{
	size_t i;

	if (strncmp(s, "MG", 2) != 0 || strlen(s) != 34)
		return false;
	for (i = 2; i < 34; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return true;
}

/* The keys of a twilio or vonage provider (and, for an unknown kind,
 * whatever of them is there). */
static void load_hosted(struct tc_load *ld, struct tc_ymap *m, int kind,
			struct tc_sms_provider *p)
{
	static const char *const names[] = {
		"account_sid", "auth_token", "api_key", "api_secret",
	};
	static const unsigned flags[] = { 0, TC_F_SECRET, 0, TC_F_SECRET };
	char **slot[] = { &p->account_sid, &p->auth_token, &p->api_key,
			  &p->api_secret };
	char q[TC_SHOW_BYTES];
	size_t i;
	int sig;

	(void)tc_val_get_url(ld, m, "base_url", 0, &p->base_url);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (kind_has(kind, names[i]))
			(void)tc_yaml_get_str(ld, m, names[i], flags[i], slot[i]);
	if (kind_has(kind, "messaging_service_sid") &&
	    tc_yaml_get_str(ld, m, "messaging_service_sid", 0,
			    &p->messaging_service_sid) == TC_V_OK &&
	    !service_sid_ok(p->messaging_service_sid))
		tc_yaml_bad_value(ld, m, "messaging_service_sid", "not a Messaging "
				  "Service SID '%s': MG and 32 hexadecimal digits",
				  tc_yaml_shows(q, sizeof(q), p->messaging_service_sid));
	if (kind_has(kind, "from") &&
	    tc_yaml_get_str(ld, m, "from", 0, &p->from) == TC_V_OK &&
	    !sender_ok(p->from))
		tc_yaml_bad_value(ld, m, "from", "not an E.164 number or a sender "
				  "name (1 to 11 letters, digits, spaces) '%s'",
				  tc_yaml_shows(q, sizeof(q), p->from));
	if (kind_has(kind, "signature_secret"))
		(void)tc_yaml_get_str(ld, m, "signature_secret", TC_F_SECRET,
				      &p->signature_secret);
	if (kind_has(kind, "signature_method") &&
	    tc_yaml_get_enum(ld, m, "signature_method", sig_names,
			     "md5hash, md5, sha1, sha256 or sha512", &sig) == TC_V_OK) {
		p->signature_method = (enum tc_vonage_sig)sig;
		if (!tc_yaml_field(m, "signature_secret")->present)
			tc_yaml_bad_value(ld, m, "signature_method", "set without "
					  "signature_secret");
	}
	if (!p->base_url && kind == TC_SMS_TWILIO)
		p->base_url = tc_yaml_strdup(ld, TWILIO_BASE_URL);
	else if (!p->base_url && kind == TC_SMS_VONAGE)
		p->base_url = tc_yaml_strdup(ld, VONAGE_BASE_URL);
}

static void load_provider(struct tc_load *ld, struct fy_node *v, unsigned line,
			  const char *path, unsigned max_segments,
			  struct tc_sms_provider *p)
{
	char q[TC_SHOW_BYTES];
	int kind = -1;
	struct tc_ymap m;

	if (!tc_yaml_map_read(ld, v, path, line, provider_keys, &m))
		return;
	if (tc_yaml_get_str(ld, &m, "name", TC_F_REQUIRED, &p->name) == TC_V_OK &&
	    !tc_val_name_ok(p->name, strlen(p->name)))
		tc_yaml_bad_value(ld, &m, "name", "not a provider name '%s': 1 to %d "
				  "of A-Z a-z 0-9 _ - .",
				  tc_yaml_shows(q, sizeof(q), p->name), TC_NAME_CHARS);
	if (!tc_yaml_field(&m, "kind")->present)
		tc_yaml_report(ld, m.line, m.path, "missing required key 'kind'");
	else if (tc_yaml_get_enum(ld, &m, "kind", kind_names,
				  "twilio, vonage or http", &kind) == TC_V_OK)
		p->kind = (enum tc_sms_kind)kind;
	if (kind >= 0)
		(void)kind_check(ld, &m, kind);
	if (kind != TC_SMS_HTTP)
		load_hosted(ld, &m, kind, p);
	else
		(void)tc_yaml_get_str(ld, &m, "auth_token", TC_F_SECRET,
				      &p->auth_token);
	if (kind == TC_SMS_HTTP || kind < 0)
		tc_cfg_read_sms_http(ld, &m, p);
	tc_yaml_get_rate(ld, &m, max_segments, "channels.sms.max_segments",
			 &p->rate);
}

static void load_providers(struct tc_load *ld, struct tc_ymap *m,
			   unsigned max_segments, struct tc_sms_cfg *s)
{
	struct tc_yfield *f = tc_yaml_field(m, "providers");
	char path[TC_PATH], ipath[TC_PATH];
	struct fy_node *item;
	void *it = NULL;
	size_t i, k;
	int n;

	tc_yaml_path_key(path, sizeof(path), m->path, "providers");
	if (!f->present) {
		tc_yaml_report(ld, m->line, m->path, "missing required key "
			       "'providers'");
		return;
	}
	if (!tc_yaml_is_kind(ld, f->val, FYNT_SEQUENCE, f->line, path, "a list"))
		return;
	n = fy_node_sequence_item_count(f->val);
	if (n == 0) {
		tc_yaml_report(ld, f->line, path, "empty list: name at least one "
			       "provider");
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
		load_provider(ld, item, tc_yaml_line(item, f->line), ipath,
			      max_segments, p);
		s->n_providers++;
		for (k = 0; p->name && k < i; k++)
			if (s->providers[k].name &&
			    strcmp(s->providers[k].name, p->name) == 0)
				tc_yaml_report(ld, tc_yaml_line(item, f->line), ipath,
					       "provider name '%s' used twice", p->name);
	}
}

/* ---- channels.sms ---------------------------------------------------------------- */

static const char *const sms_keys[] = {
	"max_segments", "overflow", "default_region", "max_per_job", "allow",
	"breaker", "providers", "retry", "connect_timeout", "timeout", "ca_file", NULL
};
static const char *const breaker_keys[] = { "failures", "cooldown", NULL };
static const char *const overflow_names[] = { "truncate", "reject", NULL };

/* The regions libphonenumber knows: ISO 3166-1 alpha-2, and AC, TA, XK. */
static const char regions[] =
	"AC AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG "
	"BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK "
	"CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES "
	"ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT "
	"GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP "
	"KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA "
	"MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA "
	"NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS "
	"PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO "
	"SR SS ST SV SX SY SZ TA TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW "
	"TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS XK YE YT ZA ZM ZW";

static bool region_ok(const char *s)
{
	size_t i;

	if (strlen(s) != 2 || !isupper((unsigned char)s[0]) ||
	    !isupper((unsigned char)s[1]))
		return false;
	for (i = 0; i + 1 < sizeof(regions); i += 3)
		if (regions[i] == s[0] && regions[i + 1] == s[1])
			return true;
	return false;
}

static void load_region(struct tc_load *ld, struct tc_ymap *m,
			struct tc_sms_cfg *s)
{
	char q[TC_SHOW_BYTES], *v = NULL;

	if (tc_yaml_get_str(ld, m, "default_region", 0, &v) != TC_V_OK)
		return;
	if (region_ok(v))
		memcpy(s->default_region, v, 3);
	else
		tc_yaml_bad_value(ld, m, "default_region", "not an ISO 3166 region "
				  "code '%s': two capital letters such as US or "
				  "GB%s", tc_yaml_shows(q, sizeof(q), v),
				  strcmp(v, "UK") == 0 ? " (the United Kingdom is GB)"
						       : "");
	free(v);
}

/* breaker: {failures, cooldown}; defaults stay for what is absent. */
static void load_breaker(struct tc_load *ld, struct tc_ymap *m,
			 struct tc_breaker_cfg *b)
{
	struct tc_ymap r;

	if (tc_yaml_sub_map(ld, m, "breaker", 0, breaker_keys, &r) != TC_V_OK)
		return;
	(void)tc_yaml_get_uint(ld, &r, "failures", 1, 1000, &b->failures);
	(void)tc_yaml_get_duration(ld, &r, "cooldown", 1, TC_DURATION_MAX,
				   &b->cooldown_ms);
}

/* The default allow list of generic gateways: public. */
static void default_allow(struct tc_load *ld, struct tc_sms_cfg *s)
{
	s->allow = calloc(1, sizeof(*s->allow));
	if (!s->allow) {
		ld->oom = true;
		return;
	}
	s->allow[0].public = true;
	s->n_allow = 1;
}

void tc_cfg_read_sms(struct tc_load *ld, struct tc_ymap *ch)
{
	struct tc_sms_cfg *s = &ld->cfg->sms;
	int overflow = TC_OVERFLOW_TRUNCATE, segments;
	struct tc_ymap m;

	if (!tc_yaml_field(ch, "sms")->present)
		return;
	s->enabled = true;
	ld->enabled |= TC_CH_BIT(TC_CH_SMS);
	if (tc_yaml_sub_map(ld, ch, "sms", 0, sms_keys, &m) != TC_V_OK)
		return;
	segments = tc_yaml_get_uint(ld, &m, "max_segments", 1, 10,
				    &s->max_segments);
	if (tc_yaml_get_enum(ld, &m, "overflow", overflow_names,
			     "truncate or reject", &overflow) == TC_V_OK)
		s->overflow = (enum tc_overflow)overflow;
	load_region(ld, &m, s);
	(void)tc_yaml_get_uint(ld, &m, "max_per_job", 1, 10000000, &s->max_per_job);
	if (tc_yaml_get_allow(ld, &m, "allow", 0, &s->allow,
			      &s->n_allow) == TC_V_NONE)
		default_allow(ld, s);
	load_breaker(ld, &m, &s->breaker);
	(void)tc_yaml_get_duration(ld, &m, "connect_timeout", 1, TC_DURATION_MAX,
				   &s->connect_timeout_ms);
	(void)tc_yaml_get_duration(ld, &m, "timeout", 1, TC_DURATION_MAX,
				   &s->timeout_ms);
	s->ca_file = tc_val_ca_file(ld, &m, "ca_file");
	/* A bad max_segments was reported: providers are not judged by it. */
	load_providers(ld, &m, segments == TC_V_BAD ? 1 : s->max_segments, s);
	tc_yaml_get_retry(ld, &m, &s->retry);
}
