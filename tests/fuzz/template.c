/*
 * The template compiler and renderer (templates/mustache*.c, data.c): the
 * input is pieces separated by NUL bytes: a template's text, the job's vars
 * as JSON, then partials, each its name, a newline and its text. The
 * template is compiled with those partials, then rendered as every part
 * over the render data intake builds from such vars (a member set), or
 * over the JSON itself when it is not an object. An email subject must
 * come out as one line; webhook.json valid JSON; sms.txt is then fitted.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "templates/templates.h"
#include "tests/fuzz/fuzz.h"

#define MAX_PARTIALS 8

struct partials {
	struct {
		char name[TC_TPL_MAX_NAME + 1];
		const char *text;
		size_t len;
	} p[MAX_PARTIALS];
	size_t n;
};

static int find_partial(void *data, const char *name, struct tc_tpl_partial *out)
{
	struct partials *ps = data;
	size_t i;

	for (i = 0; i < ps->n; i++)
		if (strcmp(ps->p[i].name, name) == 0) {
			out->text = ps->p[i].text;
			out->len = ps->p[i].len;
			out->source = NULL;
			return 0;
		}
	return -ENOENT;
}

static void render_parts(const struct tc_tpl *t, const json_t *data)
{
	struct tc_diag d;
	struct tc_buf out;
	json_error_t err;
	json_t *j;
	int p, r;

	for (p = 0; p < TC_PART_COUNT; p++) {
		tc_buf_init(&out, TC_LIMIT_BODY);
		r = tc_tpl_render_part(t, (enum tc_part)p, data, &out, &d);
		if (r == 0 && p == TC_PART_EMAIL_SUBJECT)
			fz_assert(!out.data || !strpbrk(out.data, "\r\n"),
				  "an email subject is one line");
		if (r == 0 && p == TC_PART_WEBHOOK_JSON) {
			/* jansson refuses numbers past a double ("1e999")
			 * or an int64, which the JSON grammar allows */
			j = json_loadb(out.data ? out.data : "", out.len,
				       JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
			fz_assert(j != NULL || strstr(err.text, "overflow") ||
				  strstr(err.text, "too big"),
				  "webhook.json renders to valid JSON");
			json_decref(j);
		}
		if (r == 0 && p == TC_PART_SMS_TXT)
			(void)tc_sms_fit(&out, 3, TC_OVERFLOW_TRUNCATE, NULL, NULL);
		fz_assert(r == 0 || out.len == 0, "a failed render leaves out as it was");
		tc_buf_release(&out);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = { (const char *)data, size };
	struct tc_member m = { .name = "Ada", .role = "CTO",
			       .email = "ada@example.org", .phone = "+442079460000" };
	struct partials ps = { .n = 0 };
	const char *text, *json, *piece, *nl;
	size_t text_len, json_len, len;
	struct tc_tpl *t = NULL;
	struct tc_diag d;
	json_t *vars, *rdata;

	/* A template at its limit and its data. */
	if (size > TC_TPL_MAX_SOURCE + TC_LIMIT_JOB_BYTES)
		return 0;
	text = fz_next(&in, &text_len);
	if (!text)
		return 0;
	json = fz_next(&in, &json_len);
	while (ps.n < MAX_PARTIALS && (piece = fz_next(&in, &len))) {
		nl = memchr(piece, '\n', len);
		if (!nl || (size_t)(nl - piece) > TC_TPL_MAX_NAME)
			continue;
		memcpy(ps.p[ps.n].name, piece, (size_t)(nl - piece));
		ps.p[ps.n].name[nl - piece] = '\0';
		ps.p[ps.n].text = nl + 1;
		ps.p[ps.n].len = len - (size_t)(nl - piece) - 1;
		ps.n++;
	}
	if (tc_tpl_compile("fuzz", text, text_len, find_partial, &ps, &t, &d) < 0) {
		fz_assert(t == NULL, "nothing compiled on failure");
		return 0;
	}
	vars = json ? json_loadb(json, json_len, JSON_DECODE_ANY, NULL) : NULL;
	if (vars && !json_is_object(vars)) {
		render_parts(t, vars);
		json_decref(vars);
		vars = NULL;
	}
	rdata = tc_tpl_data_new(vars, "job-1", "INC-1", "high");
	if (!rdata || tc_tpl_data_set_member(rdata, "oncall", &m) < 0)
		abort();
	render_parts(t, rdata);
	json_decref(rdata);
	json_decref(vars);
	tc_tpl_free(t);
	return 0;
}
