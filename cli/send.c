/*
 * tocsin send: builds a job from the command line, checks it as tocsind
 * will, writes it with one XADD, and with --wait follows it to the end.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "templates/templates.h"

#define WAIT_BLOCK_MS    "300"
#define WAIT_HINT_MS     10000

static const char send_help[] =
	"usage: tocsin [-c FILE] send --template T (--group G ... | --to ADDRESS ...)\n"
	"                     [--channel C ...] [--severity S] [--incident I]\n"
	"                     [--var k=v ...] [--id ID] [--send-at T] [--expires-at T]\n"
	"                     [--response LABEL ...] [--escalation NAME] [--wait] [--json]\n"
	"\n"
	"Writes one job to <prefix>:jobs:<severity> and prints its id.\n"
	"  --template T     the message template (a folder under templates/)\n"
	"  --group G        a stakeholder group from the configuration (repeatable)\n"
	"  --to ADDRESS     an ad-hoc recipient: an email, a +E.164 phone or an\n"
	"                   http(s) webhook URL (repeatable)\n"
	"  --channel C      email, sms or webhook: only these (repeatable)\n"
	"  --severity S     critical, high, normal (default) or low\n"
	"  --incident I     the incident this is about\n"
	"  --var k=v        a template variable (repeatable)\n"
	"  --id ID          idempotency key: a job id already accepted is not sent again\n"
	"  --send-at T      RFC 3339 time to send at\n"
	"  --expires-at T   RFC 3339 time after which nothing more is sent\n"
	"  --response LABEL an answer stakeholders may give on the acknowledgement\n"
	"                   page (repeatable, 1 to 8 labels of 1 to 64 bytes)\n"
	"  --escalation NAME  an escalation policy under `escalations`\n"
	"  --wait           show progress until every delivery is final; exit 1 if\n"
	"                   any failed\n"
	"  --json           machine-readable output\n";

struct send_opts {
	json_t *job;
	json_t *groups, *recipients, *channels, *vars, *responses;
	const char *severity;
	bool wait, json;
};

static int add_recipient(struct send_opts *o, const char *addr)
{
	json_t *r = json_object();
	const char *field = strchr(addr, '@') ? "email" :
			    addr[0] == '+' ? "phone" :
			    strncmp(addr, "http", 4) == 0 ? "webhook" : NULL;

	if (!field) {
		fprintf(stderr, "tocsin send: --to '%s': not an email, a +E.164 phone or an http(s) URL\n",
			addr);
		json_decref(r);
		return -1;
	}
	json_object_set_new(r, "name", json_string(addr));
	json_object_set_new(r, field, json_string(addr));
	json_array_append_new(o->recipients, r);
	return 0;
}

/* Reads the options into o. Returns 0, or an exit code. */
static int parse_opts(struct send_opts *o, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "template", required_argument, NULL, 't' },
		{ "group", required_argument, NULL, 'g' },
		{ "to", required_argument, NULL, 'T' },
		{ "channel", required_argument, NULL, 'C' },
		{ "severity", required_argument, NULL, 's' },
		{ "incident", required_argument, NULL, 'i' },
		{ "var", required_argument, NULL, 'v' },
		{ "id", required_argument, NULL, 'I' },
		{ "send-at", required_argument, NULL, 'a' },
		{ "expires-at", required_argument, NULL, 'e' },
		{ "response", required_argument, NULL, 'r' },
		{ "escalation", required_argument, NULL, 'E' },
		{ "wait", no_argument, NULL, 'w' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 't':
			json_object_set_new(o->job, "template", json_string(optarg));
			break;
		case 'g':
			json_array_append_new(o->groups, json_string(optarg));
			break;
		case 'T':
			if (add_recipient(o, optarg) < 0)
				return TC_EXIT_USAGE;
			break;
		case 'C':
			json_array_append_new(o->channels, json_string(optarg));
			break;
		case 's':
			o->severity = optarg;
			break;
		case 'i':
			json_object_set_new(o->job, "incident", json_string(optarg));
			break;
		case 'v':
			if (tc_cli_add_var(o->vars, "send", optarg) < 0)
				return TC_EXIT_USAGE;
			break;
		case 'I':
			json_object_set_new(o->job, "id", json_string(optarg));
			break;
		case 'a':
			json_object_set_new(o->job, "send_at", json_string(optarg));
			break;
		case 'e':
			json_object_set_new(o->job, "expires_at", json_string(optarg));
			break;
		case 'r':
			json_array_append_new(o->responses, json_string(optarg));
			break;
		case 'E':
			json_object_set_new(o->job, "escalation", json_string(optarg));
			break;
		case 'w':
			o->wait = true;
			break;
		case 'j':
			o->json = true;
			break;
		default:
			fputs(send_help, stderr);
			return TC_EXIT_USAGE;
		}
	}
	if (optind != argc || !json_object_get(o->job, "template") ||
	    (!json_array_size(o->groups) && !json_array_size(o->recipients))) {
		fprintf(stderr, "tocsin send: needs --template and at least one --group or --to\n");
		return TC_EXIT_USAGE;
	}
	if (o->severity && tc_severity_parse(o->severity) < 0) {
		fprintf(stderr, "tocsin send: --severity '%s': expected critical, high, normal or low\n",
			o->severity);
		return TC_EXIT_USAGE;
	}
	if (!o->severity)
		o->severity = "normal";
	json_object_set_new(o->job, "severity", json_string(o->severity));
	if (json_array_size(o->groups))
		json_object_set(o->job, "groups", o->groups);
	if (json_array_size(o->recipients))
		json_object_set(o->job, "recipients", o->recipients);
	if (json_array_size(o->channels))
		json_object_set(o->job, "channels", o->channels);
	if (json_object_size(o->vars))
		json_object_set(o->job, "vars", o->vars);
	if (json_array_size(o->responses))
		json_object_set(o->job, "responses", o->responses);
	return 0;
}

/* The id of the newest entry of key, or "0-0". */
static void last_id(redisContext *c, const char *key, char *out, size_t n)
{
	redisReply *r = redisCommand(c, "XREVRANGE %s + - COUNT 1", key);

	snprintf(out, n, "0-0");
	if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
	    r->element[0]->type == REDIS_REPLY_ARRAY &&
	    r->element[0]->element[0]->type == REDIS_REPLY_STRING)
		snprintf(out, n, "%s", r->element[0]->element[0]->str);
	freeReplyObject(r);
}

static const char *field(const redisReply *fields, const char *name)
{
	size_t i;

	for (i = 0; fields && fields->type == REDIS_REPLY_ARRAY &&
		    i + 1 < fields->elements; i += 2)
		if (fields->element[i]->type == REDIS_REPLY_STRING &&
		    strcmp(fields->element[i]->str, name) == 0 &&
		    fields->element[i + 1]->type == REDIS_REPLY_STRING)
			return fields->element[i + 1]->str;
	return "";
}

/* Looks at new <prefix>:events entries for news of our job: 1 invalid
 * (or refused over a budget), 2 duplicate, 0 nothing, TC_EREDIS. */
static int watch_events(redisContext *c, const char *key, char *from, size_t n,
			const char *id, const char *ref, char *reason, size_t rn)
{
	redisReply *r = redisCommand(c, "XREAD COUNT 100 BLOCK %s STREAMS %s %s",
				     WAIT_BLOCK_MS, key, from);
	int verdict = 0;
	size_t i;

	if (!r || r->type == REDIS_REPLY_ERROR) {
		freeReplyObject(r);
		return TC_EREDIS;
	}
	if (r->type == REDIS_REPLY_ARRAY && r->elements == 1) {
		const redisReply *list = r->element[0]->element[1];

		for (i = 0; i < list->elements; i++) {
			const redisReply *e = list->element[i], *f = e->element[1];
			const char *ev = field(f, "event");

			snprintf(from, n, "%s", e->element[0]->str);
			if (strcmp(field(f, "entry"), ref) != 0 &&
			    !(strcmp(ev, "invalid") != 0 && strcmp(field(f, "job"), id) == 0))
				continue;
			if (strcmp(ev, "invalid") == 0 || strcmp(ev, "refused") == 0) {
				snprintf(reason, rn, "%s", field(f, "reason"));
				verdict = 1;
			} else if (strcmp(ev, "duplicate") == 0) {
				verdict = 2;
			}
		}
	}
	freeReplyObject(r);
	return verdict;
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Follows the job until it is done. */
static int wait_job(const struct tc_cfg *cfg, redisContext *c, const char *id,
		    const char *ref, char *from, bool json)
{
	char key[TC_KEY_MAX], reason[1200];
	int64_t start = mono_ms();
	bool done = false, hinted = false;
	int r, v;

	tc_key_events(key, sizeof(key), cfg->prefix);
	for (;;) {
		v = watch_events(c, key, from, 64, id, ref, reason, sizeof(reason));
		if (v == TC_EREDIS) {
			fprintf(stderr, "tocsin send: lost Redis while waiting: %s\n",
				c->errstr[0] ? c->errstr : "error reply");
			return TC_EXIT_REDIS;
		}
		if (v == 1) {
			/* the reason quotes the job: escaped */
			fprintf(stderr, "tocsin send: tocsind rejected job %s: ", id);
			tc_cli_puts(stderr, "%s\n", reason);
			return TC_EXIT_FAILED;
		}
		if (v == 2) {
			/* --json: stdout is one JSON document, the summary */
			fprintf(json ? stderr : stdout,
				"job %s was already accepted: not sent again\n", id);
			r = tc_cli_progress(cfg, c, id, json ? TC_SHOW_JSON : TC_SHOW_SUMMARY, &done);
			return r == TC_EREDIS ? TC_EXIT_REDIS :
			       r == 1 ? TC_EXIT_FAILED : TC_EXIT_OK;
		}
		r = tc_cli_progress(cfg, c, id, json ? TC_SHOW_NONE : TC_SHOW_LINE, &done);
		if (r == TC_EREDIS)
			return TC_EXIT_REDIS;
		if (r >= 0 && done) {
			r = tc_cli_progress(cfg, c, id, json ? TC_SHOW_JSON : TC_SHOW_SUMMARY, &done);
			return r == TC_EREDIS ? TC_EXIT_REDIS :
			       r == 1 ? TC_EXIT_FAILED : TC_EXIT_OK;
		}
		if (r < 0 && !hinted && mono_ms() - start > WAIT_HINT_MS) {
			fprintf(stderr, "tocsin send: job %s not picked up yet: is tocsind running?\n", id);
			hinted = true;
		}
	}
}

int tc_cli_send(const struct tc_cfg *cfg, redisContext *c, int argc, char **argv)
{
	struct send_opts o = { 0 };
	char key[TC_KEY_MAX], events[TC_KEY_MAX], from[64], ref[128], id[160];
	char why[1200];
	redisReply *rep;
	char *text = NULL;
	int r;

	if (!cfg) {
		fputs(send_help, stdout);
		return TC_EXIT_OK;
	}
	o.job = json_object();
	o.groups = json_array();
	o.responses = json_array();
	o.recipients = json_array();
	o.channels = json_array();
	o.vars = json_object();
	r = parse_opts(&o, argc, argv);
	if (r)
		goto out;
	text = json_dumps(o.job, JSON_COMPACT);
	if (tc_cli_job_check(cfg, "send", text, strlen(text), tc_severity_parse(o.severity),
			     why, sizeof(why)) < 0) {
		tc_cli_puts(stderr, "tocsin send: invalid job: %s\n", why);
		r = TC_EXIT_FAILED;
		goto out;
	}
	if (!c) {
		r = tc_cli_no_redis();
		goto out;
	}
	tc_key_jobs(key, sizeof(key), cfg->prefix, tc_severity_parse(o.severity));
	tc_key_events(events, sizeof(events), cfg->prefix);
	last_id(c, events, from, sizeof(from));
	rep = redisCommand(c, "XADD %s * job %s", key, text);
	if (!rep || rep->type != REDIS_REPLY_STRING) {
		fprintf(stderr, "tocsin send: XADD to %s failed: %s\n", key,
			rep ? rep->str : c->errstr);
		freeReplyObject(rep);
		r = TC_EXIT_REDIS;
		goto out;
	}
	snprintf(ref, sizeof(ref), "%s/%s", o.severity, rep->str);
	if (json_object_get(o.job, "id"))
		snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(o.job, "id")));
	else
		(void)tc_job_default_id(tc_severity_parse(o.severity), rep->str, id,
					sizeof(id));
	if (o.json && !o.wait)
		printf("{\"job\":\"%s\",\"stream\":\"%s\",\"entry\":\"%s\"}\n", id, key, rep->str);
	else if (!o.json)
		printf("job %s queued on %s (entry %s)\n", id, key, rep->str);
	fflush(stdout);
	freeReplyObject(rep);
	if (o.wait)
		r = wait_job(cfg, c, id, ref, from, o.json);
out:
	free(text);
	json_decref(o.job);
	json_decref(o.groups);
	json_decref(o.recipients);
	json_decref(o.channels);
	json_decref(o.vars);
	json_decref(o.responses);
	return r;
}
