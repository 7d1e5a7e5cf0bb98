/*
 * Members: one stakeholder, whether from the configuration, a roster row
 * or a job's recipients, checked the same way wherever it came from.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/internal.h"

static int check_text(const char *v, const char *field, const char *source,
		      unsigned line, const char *path, struct tc_diags *ds)
{
	char p[300];

	if (!v || strlen(v) <= TC_LIMIT_TEXT)
		return 0;
	snprintf(p, sizeof(p), "%s.%s", path, field);
	tc_diags_add(ds, source, line, p, "longer than %d bytes", TC_LIMIT_TEXT);
	return TC_EINVAL;
}

int tc_member_check(struct tc_member *m, const char *region,
		    struct tc_phone_cache *phones, const char *source, unsigned line,
		    const char *path, struct tc_diags *ds)
{
	char why[300], p[300], e164[TC_E164_MAX + 1];
	enum tc_phone_kind kind;
	int c, bad = 0;

	if (!m->name || !m->name[0]) {
		snprintf(p, sizeof(p), "%s.name", path);
		tc_diags_add(ds, source, line, p, "missing");
		bad = 1;
	}
	bad |= check_text(m->name, "name", source, line, path, ds) < 0;
	bad |= check_text(m->role, "role", source, line, path, ds) < 0;
	if (m->email && tc_addr_email_check(m->email, why, sizeof(why)) < 0) {
		snprintf(p, sizeof(p), "%s.email", path);
		tc_diags_add(ds, source, line, p, "%s", why);
		bad = 1;
	}
	if (m->phone) {
		snprintf(p, sizeof(p), "%s.phone", path);
		m->landline = false;
		if (tc_phone_cache_normalize(phones, m->phone, region, e164, &kind, why,
					     sizeof(why)) < 0) {
			tc_diags_add(ds, source, line, p, "%s", why);
			bad = 1;
		} else if (kind == TC_PHONE_FIXED_LINE &&
			   (m->channels & TC_CH_BIT(TC_CH_SMS))) {
			tc_diags_add(ds, source, line, p, "%s is a fixed line, which cannot "
				     "receive SMS: list this member's channels without sms",
				     e164);
			bad = 1;
		} else if (strlen(e164) <= strlen(m->phone)) {
			memcpy(m->phone, e164, strlen(e164) + 1);
		} else {
			/* A national spelling gains its country code. */
			char *e = strdup(e164);

			if (!e) {
				tc_diags_add(ds, source, line, p, "out of memory");
				bad = 1;
			} else {
				free(m->phone);
				m->phone = e;
			}
		}
		/* Kept for calls, never texted: the group's or the job's
		 * channels may include sms when the member names none. */
		m->landline = kind == TC_PHONE_FIXED_LINE;
	}
	if (m->webhook && tc_addr_url_check(m->webhook, why, sizeof(why)) < 0) {
		snprintf(p, sizeof(p), "%s.webhook", path);
		tc_diags_add(ds, source, line, p, "%s", why);
		bad = 1;
	}
	for (c = 0; c < TC_CH_COUNT; c++) {
		/* a fixed line listed for sms was reported above */
		if (!(m->channels & TC_CH_BIT(c)) || tc_member_address(m, c) ||
		    (c == TC_CH_SMS && m->landline))
			continue;
		snprintf(p, sizeof(p), "%s.channels", path);
		tc_diags_add(ds, source, line, p, "channel '%s' needs %s",
			     tc_channel_name(c),
			     c == TC_CH_EMAIL ? "an email" :
			     c == TC_CH_SMS ? "a phone" : "a webhook");
		bad = 1;
	}
	if (!m->email && !m->phone && !m->webhook) {
		tc_diags_add(ds, source, line, path,
			     "no address: needs an email, a phone or a webhook");
		bad = 1;
	}
	return bad ? TC_EINVAL : 0;
}

const char *tc_member_address(const struct tc_member *m, enum tc_channel c)
{
	switch (c) {
	case TC_CH_EMAIL:
		return m->email;
	case TC_CH_SMS:
		return m->landline ? NULL : m->phone;
	case TC_CH_WEBHOOK:
		return m->webhook;
	default:
		return NULL;
	}
}

unsigned tc_member_channels(const struct tc_member *m, unsigned group_ch,
			    unsigned job_ch)
{
	unsigned mask = (m->channels ? m->channels : group_ch) & job_ch, out = 0;
	int c;

	for (c = 0; c < TC_CH_COUNT; c++)
		if ((mask & TC_CH_BIT(c)) && tc_member_address(m, (enum tc_channel)c))
			out |= TC_CH_BIT(c);
	return out;
}

static int dup_field(char **dst, const char *src)
{
	*dst = NULL;
	if (!src)
		return 0;
	*dst = strdup(src);
	return *dst ? 0 : -1;
}

struct tc_member *tc_member_dup(const struct tc_member *m)
{
	struct tc_member *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	if (dup_field(&d->name, m->name) || dup_field(&d->role, m->role) ||
	    dup_field(&d->email, m->email) || dup_field(&d->phone, m->phone) ||
	    dup_field(&d->webhook, m->webhook)) {
		tc_member_release(d);
		free(d);
		return NULL;
	}
	d->channels = m->channels;
	d->landline = m->landline;
	return d;
}

void tc_member_release(struct tc_member *m)
{
	if (!m)
		return;
	free(m->name);
	free(m->role);
	free(m->email);
	free(m->phone);
	free(m->webhook);
	memset(m, 0, sizeof(*m));
}

int tc_json_string(json_t *v, const char *path, const char *key, char **dst,
		   size_t max, struct tc_diag *d)
{
	char p[300];

	if (path[0])
		snprintf(p, sizeof(p), "%s.%s", path, key);
	else
		snprintf(p, sizeof(p), "%s", key);
	if (!json_is_string(v)) {
		tc_diag_set(d, "job", 0, p, "not a string");
		return TC_EINVAL;
	}
	if (json_string_length(v) > max) {
		tc_diag_set(d, "job", 0, p, "longer than %zu bytes", max);
		return TC_ELIMIT;
	}
	if (strlen(json_string_value(v)) != json_string_length(v)) {
		tc_diag_set(d, "job", 0, p, "contains a NUL character");
		return TC_EINVAL;
	}
	*dst = strdup(json_string_value(v));
	if (!*dst) {
		tc_diag_set(d, "job", 0, p, "out of memory");
		return TC_EINVAL;
	}
	return 0;
}

int tc_json_channels(json_t *v, unsigned *mask, const char *path,
		     struct tc_diag *d)
{
	char p[300];
	size_t i;
	json_t *e;

	if (!json_is_array(v)) {
		tc_diag_set(d, "job", 0, path, "not an array");
		return TC_EINVAL;
	}
	if (json_array_size(v) == 0) {
		tc_diag_set(d, "job", 0, path, "empty: name at least one channel");
		return TC_EINVAL;
	}
	*mask = 0;
	json_array_foreach(v, i, e) {
		int c = json_is_string(e) ? tc_channel_parse(json_string_value(e)) : -1;

		snprintf(p, sizeof(p), "%s[%zu]", path, i);
		if (!json_is_string(e)) {
			tc_diag_set(d, "job", 0, p, "not a string");
			return TC_EINVAL;
		}
		if (c < 0) {
			char q[TC_LIMIT_LOG_VALUE + 16];

			tc_diag_set(d, "job", 0, p,
				    "unknown channel %s (email, sms or webhook)",
				    tc_log_quote(q, sizeof(q), json_string_value(e)));
			return TC_EINVAL;
		}
		*mask |= TC_CH_BIT(c);
	}
	return 0;
}

int tc_member_from_json(json_t *o, struct tc_member *m, const char *path,
			struct tc_diag *d)
{
	const char *key;
	json_t *v;
	char p[300];
	int r = 0;

	memset(m, 0, sizeof(*m));
	if (!json_is_object(o)) {
		tc_diag_set(d, "job", 0, path, "not an object");
		return TC_EINVAL;
	}
	json_object_foreach(o, key, v) {
		if (strcmp(key, "name") == 0)
			r = tc_json_string(v, path, key, &m->name, TC_LIMIT_TEXT, d);
		else if (strcmp(key, "role") == 0)
			r = tc_json_string(v, path, key, &m->role, TC_LIMIT_TEXT, d);
		else if (strcmp(key, "email") == 0)
			r = tc_json_string(v, path, key, &m->email, TC_LIMIT_ADDRESS, d);
		else if (strcmp(key, "phone") == 0)
			r = tc_json_string(v, path, key, &m->phone, TC_LIMIT_ADDRESS, d);
		else if (strcmp(key, "webhook") == 0)
			r = tc_json_string(v, path, key, &m->webhook, TC_LIMIT_ADDRESS, d);
		else if (strcmp(key, "channels") == 0) {
			snprintf(p, sizeof(p), "%s.channels", path);
			r = tc_json_channels(v, &m->channels, p, d);
		} else {
			char q[TC_LIMIT_LOG_VALUE + 16];

			tc_diag_set(d, "job", 0, path, "unknown field %s",
				    tc_log_quote(q, sizeof(q), key));
			r = TC_EINVAL;
		}
		if (r < 0) {
			tc_member_release(m);
			return r;
		}
	}
	return 0;
}
