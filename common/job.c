/*
 * The job: one JSON object from a stream entry, parsed and validated as
 * DESIGN.md defines it. Anything not in the contract is an error that names
 * the field, so a producer learns at once what it got wrong.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/internal.h"

static const char *const reserved_vars[] = {
	"job", "incident", "severity", "group", "member", "ack_url", "responses",
	"escalation"
};

int tc_job_default_id(enum tc_severity stream, const char *entry, char *out,
		      size_t n)
{
	int r = snprintf(out, n, "%s-%s", tc_severity_name(stream), entry);

	if (r < 0 || (size_t)r >= n || !entry[0] || !tc_job_id_valid(out))
		return TC_EINVAL;
	return 0;
}

bool tc_job_id_valid(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++) {
		char c = s[n];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == ':' || c == '-'))
			return false;
	}
	return n >= 1 && n <= TC_LIMIT_JOB_ID;
}

/* Template and group names become folder names and keys: keep them plain. */
static bool name_valid(const char *s)
{
	size_t n = 0;

	if (s[0] == '.')
		return false;
	for (; s[n]; n++) {
		char c = s[n];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return false;
	}
	return n >= 1 && n <= 128;
}

/* Depth of a JSON value: 1 for a scalar; stops counting past limit. */
static int json_depth(json_t *v, int limit)
{
	int max = 0, d;
	size_t i;
	const char *k;
	json_t *e;

	if (limit <= 0)
		return 1;
	if (json_is_array(v)) {
		json_array_foreach(v, i, e) {
			d = json_depth(e, limit - 1);
			if (d > max)
				max = d;
		}
	} else if (json_is_object(v)) {
		json_object_foreach(v, k, e) {
			d = json_depth(e, limit - 1);
			if (d > max)
				max = d;
		}
	} else {
		return 1;
	}
	return max + 1;
}

static int parse_id(json_t *v, struct tc_job *job, struct tc_diag *d)
{
	char q[TC_LIMIT_LOG_VALUE + 16];

	if (!json_is_string(v)) {
		tc_diag_set(d, "job", 0, "id", "not a string");
		return TC_EINVAL;
	}
	if (!tc_job_id_valid(json_string_value(v)) ||
	    strlen(json_string_value(v)) != json_string_length(v)) {
		tc_diag_set(d, "job", 0, "id",
			    "not 1 to %d of A-Z a-z 0-9 . _ : - %s", TC_LIMIT_JOB_ID,
			    tc_log_quote(q, sizeof(q), json_string_value(v)));
		return TC_EINVAL;
	}
	memcpy(job->id, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

static int parse_name(json_t *v, const char *path, char **dst, struct tc_diag *d)
{
	char q[TC_LIMIT_LOG_VALUE + 16];
	int r = tc_json_string(v, "", path, dst, TC_LIMIT_TEXT, d);

	if (r < 0)
		return r;
	if (!name_valid(*dst)) {
		tc_diag_set(d, "job", 0, path,
			    "not a name of A-Z a-z 0-9 . _ - %s",
			    tc_log_quote(q, sizeof(q), *dst));
		return TC_EINVAL;
	}
	return 0;
}

static int parse_groups(json_t *v, struct tc_job *job, struct tc_diag *d)
{
	char p[64];
	size_t i;
	json_t *e;
	int r;

	if (!json_is_array(v)) {
		tc_diag_set(d, "job", 0, "groups", "not an array");
		return TC_EINVAL;
	}
	if (json_array_size(v) > TC_LIMIT_JOB_GROUPS) {
		tc_diag_set(d, "job", 0, "groups", "more than %d groups",
			    TC_LIMIT_JOB_GROUPS);
		return TC_ELIMIT;
	}
	job->groups = calloc(json_array_size(v) + 1, sizeof(char *));
	if (!job->groups)
		return -ENOMEM;
	json_array_foreach(v, i, e) {
		snprintf(p, sizeof(p), "groups[%zu]", i);
		r = parse_name(e, p, &job->groups[i], d);
		if (r < 0)
			return r;
		job->n_groups++;
	}
	return 0;
}

static int parse_recipients(json_t *v, const char *region, struct tc_job *job,
			    struct tc_diag *d)
{
	struct tc_diags *ds;
	char p[64];
	size_t i;
	json_t *e;
	int r = 0;

	if (!json_is_array(v)) {
		tc_diag_set(d, "job", 0, "recipients", "not an array");
		return TC_EINVAL;
	}
	if (json_array_size(v) > TC_LIMIT_JOB_RECIPIENTS) {
		tc_diag_set(d, "job", 0, "recipients", "more than %d recipients",
			    TC_LIMIT_JOB_RECIPIENTS);
		return TC_ELIMIT;
	}
	job->recipients = calloc(json_array_size(v) + 1, sizeof(struct tc_member));
	ds = malloc(sizeof(*ds));
	if (!job->recipients || !ds) {
		free(ds);
		return -ENOMEM;
	}
	json_array_foreach(v, i, e) {
		snprintf(p, sizeof(p), "recipients[%zu]", i);
		r = tc_member_from_json(e, &job->recipients[i], p, d);
		if (r < 0)
			break;
		job->n_recipients++;
		ds->n = ds->dropped = 0;
		if (tc_member_check(&job->recipients[i], region, NULL, "job", 0, p, ds) < 0) {
			*d = ds->item[0];
			r = TC_EINVAL;
			break;
		}
	}
	free(ds);
	return r;
}

static int parse_vars(json_t *v, struct tc_job *job, struct tc_diag *d)
{
	char q[TC_LIMIT_LOG_VALUE + 16];
	const char *k;
	json_t *e;
	size_t i;

	if (!json_is_object(v)) {
		tc_diag_set(d, "job", 0, "vars", "not an object");
		return TC_EINVAL;
	}
	if (json_object_size(v) > TC_LIMIT_JOB_VARS) {
		tc_diag_set(d, "job", 0, "vars", "more than %d variables",
			    TC_LIMIT_JOB_VARS);
		return TC_ELIMIT;
	}
	json_object_foreach(v, k, e) {
		if (strlen(k) > TC_LIMIT_TEXT) {
			tc_diag_set(d, "job", 0, "vars",
				    "a variable name of %zu bytes, more than the limit of %d",
				    strlen(k), TC_LIMIT_TEXT);
			return TC_ELIMIT;
		}
		for (i = 0; i < sizeof(reserved_vars) / sizeof(reserved_vars[0]); i++) {
			if (strcmp(k, reserved_vars[i]) != 0)
				continue;
			tc_diag_set(d, "job", 0, "vars",
				    "%s is reserved for the render data",
				    tc_log_quote(q, sizeof(q), k));
			return TC_EINVAL;
		}
	}
	json_decref(job->vars);
	job->vars = json_incref(v);
	return 0;
}

static int parse_time(json_t *v, const char *path, int64_t *ms, struct tc_diag *d)
{
	char q[TC_LIMIT_LOG_VALUE + 16];

	if (!json_is_string(v)) {
		tc_diag_set(d, "job", 0, path, "not a string");
		return TC_EINVAL;
	}
	if (tc_time_parse(json_string_value(v), ms) < 0) {
		tc_diag_set(d, "job", 0, path,
			    "not an RFC 3339 time such as '2026-11-25T10:00:00Z' %s",
			    tc_log_quote(q, sizeof(q), json_string_value(v)));
		return TC_EINVAL;
	}
	return 0;
}

static int parse_severity(json_t *v, struct tc_job *job, struct tc_diag *d)
{
	char q[TC_LIMIT_LOG_VALUE + 16];
	int s;

	if (!json_is_string(v)) {
		tc_diag_set(d, "job", 0, "severity", "not a string");
		return TC_EINVAL;
	}
	s = tc_severity_parse(json_string_value(v));
	if (s < 0) {
		tc_diag_set(d, "job", 0, "severity",
			    "unknown severity %s (critical, high, normal or low)",
			    tc_log_quote(q, sizeof(q), json_string_value(v)));
		return TC_EINVAL;
	}
	if ((enum tc_severity)s != job->severity) {
		tc_diag_set(d, "job", 0, "severity",
			    "'%s' does not match the stream it was written to ('%s')",
			    tc_severity_name(s), tc_severity_name(job->severity));
		return TC_EINVAL;
	}
	return 0;
}

/* responses: 1 to 8 distinct labels of 1 to 64 bytes, kept for the
 * acknowledgement page and its form. */
static int parse_responses(json_t *v, struct tc_job *job, struct tc_diag *d)
{
	char p[32];
	size_t i, j;
	json_t *e;

	if (!json_is_array(v) || json_array_size(v) < 1 ||
	    json_array_size(v) > TC_LIMIT_JOB_RESPONSES) {
		tc_diag_set(d, "job", 0, "responses", "not a list of 1 to %d labels",
			    TC_LIMIT_JOB_RESPONSES);
		return TC_EINVAL;
	}
	json_array_foreach(v, i, e) {
		size_t n = json_is_string(e) ? json_string_length(e) : 0;

		snprintf(p, sizeof(p), "responses[%zu]", i);
		if (n < 1 || n > TC_LIMIT_RESPONSE_LABEL ||
		    strlen(json_string_value(e)) != n) {
			tc_diag_set(d, "job", 0, p, "not a label of 1 to %d bytes",
				    TC_LIMIT_RESPONSE_LABEL);
			return TC_EINVAL;
		}
		for (j = 0; j < i; j++)
			if (json_equal(json_array_get(v, j), e)) {
				tc_diag_set(d, "job", 0, p, "the same label as responses[%zu]", j);
				return TC_EINVAL;
			}
	}
	job->responses = json_incref(v);
	return 0;
}

int tc_job_round(const char *id, char *root, size_t n)
{
	const char *p = strstr(id, ".esc."), *q;
	int64_t round;

	/* The last ".esc.": a root id may itself contain one. */
	while (p && (q = strstr(p + 1, ".esc.")))
		p = q;
	if (!p || p == id || tc_parse_int(p + 5, strlen(p + 5), 1, 99, &round) < 0 ||
	    p[5] == '0' || (size_t)(p - id) >= n)
		return 0;
	memcpy(root, id, (size_t)(p - id));
	root[p - id] = '\0';
	return (int)round;
}

/* Dispatches one top-level member to its parser. */
static int parse_field(const char *k, json_t *v, const char *region,
		       struct tc_job *job, struct tc_diag *d)
{
	char q[TC_LIMIT_LOG_VALUE + 16];

	if (strcmp(k, "id") == 0)
		return parse_id(v, job, d);
	if (strcmp(k, "template") == 0)
		return parse_name(v, "template", &job->template, d);
	if (strcmp(k, "groups") == 0)
		return parse_groups(v, job, d);
	if (strcmp(k, "recipients") == 0)
		return parse_recipients(v, region, job, d);
	if (strcmp(k, "channels") == 0)
		return tc_json_channels(v, &job->channels, "channels", d);
	if (strcmp(k, "severity") == 0)
		return parse_severity(v, job, d);
	if (strcmp(k, "incident") == 0)
		return tc_json_string(v, "", "incident", &job->incident,
				      TC_LIMIT_TEXT, d);
	if (strcmp(k, "vars") == 0)
		return parse_vars(v, job, d);
	if (strcmp(k, "send_at") == 0)
		return parse_time(v, "send_at", &job->send_at_ms, d);
	if (strcmp(k, "expires_at") == 0)
		return parse_time(v, "expires_at", &job->expires_at_ms, d);
	if (strcmp(k, "responses") == 0)
		return parse_responses(v, job, d);
	if (strcmp(k, "escalation") == 0)
		return parse_name(v, "escalation", &job->escalation, d);
	tc_diag_set(d, "job", 0, NULL, "unknown field %s",
		    tc_log_quote(q, sizeof(q), k));
	return TC_EINVAL;
}

int tc_job_parse(const char *json, size_t len, enum tc_severity stream,
		 const char *entry, const char *region, struct tc_job *job,
		 struct tc_diag *d)
{
	char text[4 * JSON_ERROR_TEXT_LENGTH + 8];
	json_error_t err;
	json_t *root;
	const char *k;
	json_t *v;
	int r = 0;

	memset(job, 0, sizeof(*job));
	job->severity = stream;
	job->channels = TC_CH_ALL;
	snprintf(job->entry, sizeof(job->entry), "%s", entry ? entry : "");
	if (len > TC_LIMIT_JOB_BYTES) {
		tc_diag_set(d, "job", 0, NULL, "%zu bytes, more than the limit of %u",
			    len, TC_LIMIT_JOB_BYTES);
		return TC_ELIMIT;
	}
	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &err);
	if (!root) {
		tc_diag_set(d, "job", (unsigned)(err.line > 0 ? err.line : 0), NULL,
			    "not valid JSON: %s (column %d)",
			    tc_diag_clean(text, sizeof(text), err.text), err.column);
		return TC_EINVAL;
	}
	if (!json_is_object(root)) {
		tc_diag_set(d, "job", 0, NULL, "not a JSON object");
		r = TC_EINVAL;
		goto out;
	}
	if (json_depth(root, TC_LIMIT_JOB_DEPTH + 1) > TC_LIMIT_JOB_DEPTH) {
		tc_diag_set(d, "job", 0, NULL, "nested deeper than %d levels",
			    TC_LIMIT_JOB_DEPTH);
		r = TC_ELIMIT;
		goto out;
	}
	json_object_foreach(root, k, v) {
		r = parse_field(k, v, region, job, d);
		if (r < 0)
			goto out;
	}
	r = TC_EINVAL;
	if (!job->template) {
		tc_diag_set(d, "job", 0, "template", "missing");
		goto out;
	}
	if (job->n_groups == 0 && job->n_recipients == 0) {
		tc_diag_set(d, "job", 0, "groups",
			    "no audience: give groups or recipients");
		goto out;
	}
	if (job->send_at_ms && job->expires_at_ms &&
	    job->expires_at_ms <= job->send_at_ms) {
		tc_diag_set(d, "job", 0, "expires_at", "not after send_at");
		goto out;
	}
	if (!job->id[0] && tc_job_default_id(stream, job->entry, job->id,
					     sizeof(job->id)) < 0) {
		tc_diag_set(d, "job", 0, "id", "missing, and no stream entry id");
		goto out;
	}
	if (!job->vars)
		job->vars = json_object();
	r = job->vars ? 0 : -ENOMEM;
out:
	json_decref(root);
	if (r < 0) {
		if (r == -ENOMEM)
			tc_diag_set(d, "job", 0, NULL, "out of memory");
		tc_job_release(job);
	}
	return r;
}

void tc_job_release(struct tc_job *job)
{
	size_t i;

	if (!job)
		return;
	free(job->template);
	for (i = 0; job->groups && job->groups[i]; i++)
		free(job->groups[i]);
	free(job->groups);
	for (i = 0; i < job->n_recipients; i++)
		tc_member_release(&job->recipients[i]);
	free(job->recipients);
	free(job->incident);
	json_decref(job->vars);
	json_decref(job->responses);
	free(job->escalation);
	job->escalation = NULL;
	job->responses = NULL;
	job->template = NULL;
	job->groups = NULL;
	job->recipients = NULL;
	job->incident = NULL;
	job->vars = NULL;
	job->n_groups = job->n_recipients = 0;
}
