/*
 * Render data and rendering a part: the object a message renders over
 * (DESIGN.md: the job's vars, then job, incident, severity, group, member,
 * ack_url), and the rules each part's output keeps on top of the engine's
 * escaping: a subject is one line, a webhook body is JSON.
 *
 * What it keeps true: a failed render leaves the output buffer as it was,
 * and a rendered webhook.json has been parsed before anyone sends it.
 */
#include <errno.h>
#include <string.h>

#include "templates/internal.h"
#include "templates/templates.h"

/* ---- render data ----------------------------------------------------------- */

/* The names the render data defines; a var cannot take them. */
static const char *const reserved[] = {
	"job", "incident", "severity", "group", "member", "ack_url", "responses",
	"escalation",
};

/* Sets key to a new string (or leaves it out for NULL). Returns 0 or
 * -ENOMEM. */
static int set_string(json_t *o, const char *key, const char *v)
{
	if (!v)
		return 0;
	return json_object_set_new_nocheck(o, key, json_string_nocheck(v)) < 0 ?
	       -ENOMEM : 0;
}

json_t *tc_tpl_data_new(json_t *vars, const char *job_id, const char *incident,
			const char *severity)
{
	json_t *data = json_object(), *job = json_object();
	size_t i;
	int r = 0;

	if (!data || !job)
		goto fail;
	/* shallow: the values are the job's, shared */
	if (json_is_object(vars) && json_object_update(data, vars) < 0)
		goto fail;
	/* intake refuses vars of these names; should one come anyway, the
	 * render data's own wins, or is absent */
	for (i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
		json_object_del(data, reserved[i]);
	r |= set_string(job, "id", job_id);
	r |= json_object_set_nocheck(data, "job", job) < 0 ? -ENOMEM : 0;
	r |= set_string(data, "incident", incident);
	r |= set_string(data, "severity", severity);
	r |= set_string(data, "ack_url", "");
	if (r)
		goto fail;
	json_decref(job);
	return data;
fail:
	json_decref(job);
	json_decref(data);
	return NULL;
}

int tc_tpl_data_set_member(json_t *data, const char *group,
			   const struct tc_member *m)
{
	json_t *g = json_object_get(data, "group");
	json_t *mo = json_object_get(data, "member");
	int r = 0;

	if (!group)
		group = "";
	/* reuse what the previous delivery set: no allocation but the
	 * strings */
	if (json_is_string(g))
		r = json_string_set_nocheck(g, group) < 0 ? -ENOMEM : 0;
	else
		r = set_string(data, "group", group);
	if (r < 0)
		return r;
	if (json_is_object(mo)) {
		json_object_clear(mo);
	} else {
		mo = json_object();
		if (!mo || json_object_set_new_nocheck(data, "member", mo) < 0)
			return -ENOMEM;
	}
	if (!m)
		return 0;
	r |= set_string(mo, "name", m->name);
	r |= set_string(mo, "role", m->role);
	r |= set_string(mo, "email", m->email);
	r |= set_string(mo, "phone", m->phone);
	return r ? -ENOMEM : 0;
}

int tc_tpl_data_set_ack_url(json_t *data, const char *url)
{
	json_t *u = json_object_get(data, "ack_url");

	if (json_is_string(u))
		return json_string_set_nocheck(u, url) < 0 ? -ENOMEM : 0;
	return set_string(data, "ack_url", url);
}

/* ---- rendering a part ------------------------------------------------------ */

/* The length of a line break at s (n bytes left), 0 when there is none:
 * CRLF, CR, LF, NEL (U+0085), LINE and PARAGRAPH SEPARATOR (U+2028/9). */
static size_t line_break(const unsigned char *s, size_t n)
{
	if (s[0] == '\r')
		return n > 1 && s[1] == '\n' ? 2 : 1;
	if (s[0] == '\n')
		return 1;
	if (n > 1 && s[0] == 0xc2 && s[1] == 0x85)
		return 2;
	if (n > 2 && s[0] == 0xe2 && s[1] == 0x80 && (s[2] == 0xa8 || s[2] == 0xa9))
		return 3;
	return 0;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Makes out's bytes from start one line: each line break one space,
 * leading and trailing blanks gone. Shrinks in place. */
static void one_line(struct tc_buf *out, size_t start)
{
	unsigned char *s = (unsigned char *)out->data + start;
	size_t n = out->len - start, i = 0, w = 0, k;

	while (i < n) {
		k = line_break(s + i, n - i);
		if (k) {
			s[w++] = ' ';
			i += k;
		} else {
			s[w++] = s[i++];
		}
	}
	while (w > 0 && is_blank((char)s[w - 1]))
		w--;
	for (i = 0; i < w && is_blank((char)s[i]); i++)
		;
	memmove(s, s + i, w - i);
	out->len = start + (w - i);
	out->data[out->len] = '\0';
}

/* Checks that out's bytes from start are one JSON text. */
static int check_json(const struct tc_buf *out, size_t start, struct tc_diag *d)
{
	/* data is NULL while nothing was rendered */
	const char *text = out->data ? out->data + start : "";
	json_error_t err;
	json_t *v;

	/* The fast scanner says yes for every body that is fine; jansson
	 * (slow: it builds the tree) is asked only to say what is wrong. */
	if (tc_json_valid(text, out->len - start))
		return 0;
	v = json_loadb(text, out->len - start,
		       JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
	if (v) {
		json_decref(v);
		return 0;
	}
	if (d)
		tc_diag_set(d, NULL, 0, NULL, "webhook.json does not render to "
			    "valid JSON: %s at line %d", err.text, err.line);
	return TC_EINVAL;
}

int tc_tpl_render_part(const struct tc_tpl *t, enum tc_part p, const json_t *data,
		       struct tc_buf *out, struct tc_diag *d)
{
	size_t start = out->len;
	int r;

	if ((unsigned)p >= TC_PART_COUNT || !t) {
		if (d)
			tc_diag_set(d, NULL, 0, NULL, "no such part");
		return TC_EINVAL;
	}
	r = tc_tpl_render(t, data, tc_tpl_escape_for(tc_part_name(p)), out, d);
	if (r < 0)
		return r;
	if (p == TC_PART_EMAIL_SUBJECT && out->len > start) {
		one_line(out, start);
	} else if (p == TC_PART_WEBHOOK_JSON) {
		r = check_json(out, start, d);
		if (r < 0 && out->data) {
			out->len = start;
			out->data[start] = '\0';
		}
	}
	return r;
}
