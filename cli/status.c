/*
 * tocsin status and report: what the job record says, for a person at
 * 3 a.m. (short, counted per channel) or for a program (--json).
 *
 * Everything shown from the record (the incident, names, groups,
 * addresses, outcomes) is what a producer, a roster or a peer wrote: it is
 * printed through safe.c, escaped in text and exact in JSON.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

static const char status_help[] =
	"usage: tocsin [-c FILE] status JOB [--json]\n"
	"Prints the job's state and its deliveries counted per channel and state,\n"
	"and, once anyone acknowledged or when the job asks for answers, the share\n"
	"of members who confirmed (members reached only by webhook left out) and\n"
	"each answer's count.\n"
	"Exit 0, or 1 if the job does not exist, has expired (its records are\n"
	"removed dispatcher.retention after it finished) or has failed deliveries.\n";

/* Counts of one channel (or all), folded for people. */
struct tally {
	long long ok;               /* delivered (or acknowledged) */
	long long sent;             /* handed to the next hop, no receipt yet */
	long long failed, other, pending;
};

/* A count as stored: a 64-bit integer; anything else (a record written by
 * hand) counts as 0. */
static int count_parse(const redisReply *v, long long *out)
{
	int64_t n;

	if (v->type != REDIS_REPLY_STRING ||
	    tc_parse_int(v->str, v->len, INT64_MIN, INT64_MAX, &n) < 0)
		return TC_EINVAL;
	*out = n;
	return 0;
}

static long long num(const redisReply *rec, const char *name)
{
	long long n = 0;
	size_t i;

	for (i = 0; i + 1 < rec->elements; i += 2)
		if (strcmp(rec->element[i]->str, name) == 0)
			(void)count_parse(rec->element[i + 1], &n);
	return n;
}

long long tc_cli_record_num(const redisReply *rec, const char *name)
{
	return num(rec, name);
}

/* The value of field name of the record, or NULL. */
static const redisReply *field(const redisReply *rec, const char *name)
{
	size_t i;

	for (i = 0; i + 1 < rec->elements; i += 2)
		if (strcmp(rec->element[i]->str, name) == 0)
			return rec->element[i + 1];
	return NULL;
}

/* The field as a C string ("" when absent), to compare: never printed. */
static const char *str(const redisReply *rec, const char *name)
{
	const redisReply *v = field(rec, name);

	return v ? v->str : "";
}

const char *tc_cli_record_str(const redisReply *rec, const char *name)
{
	return str(rec, name);
}

/* Prints fmt (one %s) with the record's field name, escaped. */
static void put_field(const char *fmt, const redisReply *rec, const char *name)
{
	const redisReply *v = field(rec, name);

	tc_cli_put(stdout, fmt, v ? v->str : "", v ? v->len : 0, 0);
}

/* Adds the counts of channel prefix pre ("" for the totals). */
static void tally(const redisReply *rec, const char *pre, struct tally *t)
{
	char k[64];
	int s;

	memset(t, 0, sizeof(*t));
	for (s = 0; s < TC_DS_COUNT; s++) {
		long long n;

		snprintf(k, sizeof(k), "%s%s", pre, tc_dstate_name(s));
		n = num(rec, k);
		switch (s) {
		case TC_DS_SENT:
			t->sent += n;
			break;
		case TC_DS_DELIVERED:
		case TC_DS_ACKNOWLEDGED:
			t->ok += n;
			break;
		case TC_DS_FAILED:
		case TC_DS_UNDELIVERED:
			t->failed += n;
			break;
		case TC_DS_EXPIRED:
		case TC_DS_CANCELLED:
			t->other += n;
			break;
		default:
			t->pending += n;
			break;
		}
	}
}

/* The counts of channel c; false when it has none. */
static bool channel_tally(const redisReply *rec, int c, struct tally *t)
{
	char pre[16];

	snprintf(pre, sizeof(pre), "%s.", tc_channel_name(c));
	tally(rec, pre, t);
	return t->ok || t->sent || t->failed || t->other || t->pending;
}

static void show_line(const char *id, const redisReply *rec)
{
	static char last[1024];
	char line[1024], part[160];
	const redisReply *st = field(rec, "state");
	struct tc_buf a, b;
	struct tally t;
	size_t o;
	int c;

	tc_buf_init(&a, 4 * TC_LIMIT_JOB_ID + 8);
	tc_buf_init(&b, 64);
	o = (size_t)snprintf(line, sizeof(line), "job %s [%s] planned %lld",
			     tc_cli_safes(&a, id), tc_cli_safe(&b, st ? st->str : "",
							       st ? st->len : 0),
			     num(rec, "planned"));
	tc_buf_release(&a);
	tc_buf_release(&b);
	/* Escalation: each round names the next, so one line per job leads
	 * an operator through them (tocsin status JOB.esc.1, ...). */
	if (str(rec, "escalation_next")[0])
		put_field("  escalation next round %s\n", rec, "escalation_next");
	if (str(rec, "stopped")[0])
		put_field("  escalation stopped at %s: stop_at of the members confirmed\n",
			  rec, "stopped");
	for (c = 0; c < TC_CH_COUNT; c++) {
		if (!channel_tally(rec, c, &t))
			continue;
		snprintf(part, sizeof(part),
			 " | %s: %lld delivered, %lld sent, %lld failed, %lld pending",
			 tc_channel_name(c), t.ok, t.sent, t.failed, t.pending);
		if (o < sizeof(line))
			o += (size_t)snprintf(line + o, sizeof(line) - o, "%s", part);
	}
	if (strcmp(line, last) == 0)
		return;
	snprintf(last, sizeof(last), "%s", line);
	printf("%s\n", line);
	fflush(stdout);
}

/* When a job's audit trail last moved. */
struct last_event {
	int64_t at_ms;  /* its latest entry's id, by Redis's clock; 0: none */
	int64_t ago_ms; /* how long ago, by Redis's clock too */
};

/* Reads when the audit trail of job id last moved, for a job that is not
 * done: whether it still makes progress. */
static struct last_event last_event(redisContext *c, const struct tc_cfg *cfg,
				    const char *id)
{
	struct last_event e = { 0, 0 };
	char key[TC_KEY_MAX];
	uint64_t ms, secs, us;
	redisReply *r;

	if (tc_key_job_events(key, sizeof(key), cfg->prefix, id) < 0)
		return e;
	r = redisCommand(c, "XREVRANGE %s + - COUNT 1", key);
	/* The entry id's milliseconds: "<ms>-<seq>", ms within RFC 3339's
	 * years (TC_MAX_MS) so that it formats and subtracts safely. */
	if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
	    r->element[0]->type == REDIS_REPLY_ARRAY && r->element[0]->elements == 2 &&
	    r->element[0]->element[0]->type == REDIS_REPLY_STRING &&
	    tc_parse_uint(r->element[0]->element[0]->str,
			  strcspn(r->element[0]->element[0]->str, "-"), TC_MAX_MS, &ms) == 0)
		e.at_ms = (int64_t)ms;
	freeReplyObject(r);
	r = e.at_ms ? redisCommand(c, "TIME") : NULL;
	if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
	    r->element[0]->type == REDIS_REPLY_STRING &&
	    r->element[1]->type == REDIS_REPLY_STRING &&
	    tc_parse_uint(r->element[0]->str, r->element[0]->len, TC_MAX_MS / 1000, &secs) == 0 &&
	    tc_parse_uint(r->element[1]->str, r->element[1]->len, 999999, &us) == 0)
		e.ago_ms = (int64_t)(secs * 1000 + us / 1000) - e.at_ms;
	freeReplyObject(r);
	return e;
}

/* One line per round of f: its id, state, planned and counts per
 * channel, or that it stopped escalating. */
static void show_rounds(const struct tc_cli_family *f)
{
	struct tally t;
	size_t i;
	int c;

	for (i = 1; i < f->n; i++) {
		const redisReply *rec = f->rec[i];

		printf("  round %-4d ", tc_cli_family_round(f, i));
		tc_cli_puts(stdout, "%s", f->id[i]);
		put_field(" [%s]", rec, "state");
		printf(" planned %lld", num(rec, "planned"));
		for (c = 0; c < TC_CH_COUNT; c++)
			if (channel_tally(rec, c, &t))
				printf(" | %s: %lld delivered, %lld sent, %lld failed, %lld pending",
				       tc_channel_name(c), t.ok, t.sent, t.failed, t.pending);
		if (str(rec, "stopped")[0])
			put_field(" | stopped at %s: stop_at of the members confirmed", rec,
				  "stopped");
		printf("\n");
	}
}

static void show_summary(const struct tc_cli_family *f, struct last_event last,
			 json_t *acks)
{
	const char *id = f->id[0];
	const redisReply *rec = f->rec[0];
	char at[40];

	struct tally t;
	int c;

	tc_cli_puts(stdout, "job %s\n", id);
	put_field("  state      %s\n", rec, "state");
	if (str(rec, "refused")[0])
		put_field("  refused    %s; nothing of it was sent\n", rec, "refused");
	put_field("  template   %s\n", rec, "template");
	put_field("  severity   %s\n", rec, "severity");
	if (str(rec, "incident")[0])
		put_field("  incident   %s\n", rec, "incident");
	put_field("  created    %s\n", rec, "created_at");
	if (str(rec, "done_at")[0])
		put_field("  done       %s\n", rec, "done_at");
	else if (last.at_ms) {
		tc_time_format(last.at_ms, at, sizeof(at));
		printf("  last event %s (%lld s ago)\n", at, (long long)(last.ago_ms / 1000));
	}
	printf("  planned    %lld\n", num(rec, "planned"));
	if (num(rec, "unreachable"))
		printf("  unreached  %lld member%s with no address on the job's channels\n",
		       num(rec, "unreachable"), num(rec, "unreachable") == 1 ? "" : "s");
	if (num(rec, "roster_errors"))
		printf("  skipped    %lld roster row%s that no longer validate (see tocsind's log)\n",
		       num(rec, "roster_errors"), num(rec, "roster_errors") == 1 ? "" : "s");
	if (num(rec, "paused")) {
		printf("  paused     %lld time%s while Redis was away ",
		       num(rec, "paused"), num(rec, "paused") == 1 ? "" : "s");
		put_field("(last: %s)\n", rec, "last_pause");
	}
	/* Escalation: each round names the next, so one line per job leads
	 * an operator through them (tocsin status JOB.esc.1, ...). */
	if (str(rec, "escalation_next")[0])
		put_field("  escalation next round %s\n", rec, "escalation_next");
	if (str(rec, "stopped")[0])
		put_field("  escalation stopped at %s: stop_at of the members confirmed\n",
			  rec, "stopped");
	for (c = 0; c < TC_CH_COUNT; c++) {
		if (!channel_tally(rec, c, &t))
			continue;
		printf("  %-10s %lld delivered, %lld sent, %lld failed, "
		       "%lld expired or cancelled, %lld pending\n",
		       tc_channel_name(c), t.ok, t.sent, t.failed, t.other, t.pending);
	}
	show_rounds(f);
	tc_cli_acks_show(acks);
}

/* The record rec of job id as JSON, with the record's field names (DESIGN.md's
 * job record): counts as numbers, the rest as strings; "job" is the id
 * and "request" the job's text (the record's own `job` field). */
static json_t *record_json(const char *id, const redisReply *rec)
{
	json_t *o = json_object();
	size_t i;

	for (i = 0; i + 1 < rec->elements; i += 2) {
		const char *k = rec->element[i]->str, *v = rec->element[i + 1]->str;
		bool count = strcmp(k, "planned") == 0 || strcmp(k, "unreachable") == 0 ||
			     strcmp(k, "roster_errors") == 0 || strcmp(k, "paused") == 0 ||
			     strcmp(k, "pass") == 0 || strcmp(k, "members") == 0 ||
			     strcmp(k, "confirmed") == 0 || tc_dstate_parse(k) >= 0 ||
			     strchr(k, '.') || strncmp(k, "response:", 9) == 0;
		json_t *s = tc_cli_json_string(v, rec->element[i + 1]->len);
		long long n;

		/* a count that is not a number (written by hand) stays a string */
		if (count && count_parse(rec->element[i + 1], &n) == 0) {
			json_decref(s);
			s = json_integer(n);
		}
		json_object_set_new(o, strcmp(k, "job") == 0 ? "request" : k, s);
	}
	json_object_set_new(o, "job", tc_cli_json_string(id, strlen(id)));
	return o;
}

static void show_json(const struct tc_cli_family *f, struct last_event last, json_t *acks)
{
	json_t *o = record_json(f->id[0], f->rec[0]), *rounds = json_array(), *one;
	char at[40];
	size_t i;

	for (i = 1; i < f->n; i++) {
		one = record_json(f->id[i], f->rec[i]);
		/* Its text is the job's but for id, channels, groups and
		 * send_at: the id is enough. */
		json_object_del(one, "request");
		json_object_set_new(one, "id", tc_cli_json_string(f->id[i], strlen(f->id[i])));
		json_object_set_new(one, "round", json_integer(tc_cli_family_round(f, i)));
		json_array_append_new(rounds, one);
	}
	json_object_set_new(o, "rounds", rounds);
	if (acks)
		json_object_set(o, "acknowledgements", acks);
	if (last.at_ms) {
		tc_time_format(last.at_ms, at, sizeof(at));
		json_object_set_new(o, "last_event_at", json_string(at));
	}
	if (tc_cli_json_print(stdout, o, JSON_COMPACT | JSON_SORT_KEYS) < 0)
		printf("{}\n");
	json_decref(o);
}

/* Whether family f's acknowledgements are worth showing: anyone
 * acknowledged, or the job asks for answers. */
static bool has_acks(const struct tc_cli_family *f)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		if (num(f->rec[i], "acknowledged") > 0)
			return true;
	return strstr(str(f->rec[0], "job"), "\"responses\"") != NULL;
}

int tc_cli_progress(const struct tc_cfg *cfg, redisContext *c, const char *id,
		    enum tc_show show, bool *done)
{
	const struct last_event none = { 0, 0 };
	bool full = show == TC_SHOW_SUMMARY || show == TC_SHOW_JSON;
	struct tc_cli_family f;
	json_t *acks = NULL;
	redisReply *rec;
	struct tally t;
	int r = tc_cli_family_read(cfg, c, id, full, &f);

	if (r < 0)
		return r;
	rec = f.rec[0];
	*done = strcmp(str(rec, "state"), "done") == 0 ||
		strcmp(str(rec, "state"), "cancelled") == 0;
	tally(rec, "", &t);
	/* A job refused over a budget failed as a whole. */
	r = t.failed > 0 || str(rec, "refused")[0];
	if (full && has_acks(&f))
		acks = tc_cli_acks(cfg, c, &f);
	if (show == TC_SHOW_LINE)
		show_line(id, rec);
	else if (show == TC_SHOW_SUMMARY)
		show_summary(&f, *done ? none : last_event(c, cfg, id), acks);
	else if (show == TC_SHOW_JSON)
		show_json(&f, *done ? none : last_event(c, cfg, id), acks);
	json_decref(acks);
	tc_cli_family_free(&f);
	return r;
}

/* Says what the tombstone of job id holds once its records expired
 * (dispatcher.retention after it finished). Returns 0 when there is one
 * (shown), -1 when there is none either, TC_EREDIS when Redis failed. */
static int show_tombstone(const struct tc_cfg *cfg, redisContext *c, const char *id,
			  bool json)
{
	char key[TC_KEY_MAX];
	redisReply *rec;
	json_t *o;

	if (tc_key_tombstone(key, sizeof(key), cfg->prefix, id) < 0)
		return -1;
	rec = redisCommand(c, "HGETALL %s", key);
	if (!rec || rec->type != REDIS_REPLY_ARRAY) {
		freeReplyObject(rec);
		return TC_EREDIS;
	}
	if (rec->elements == 0) {
		freeReplyObject(rec);
		return -1;
	}
	if (json) {
		o = json_pack("{s:o,s:b,s:s,s:s,s:s,s:s}", "job",
			      tc_cli_json_string(id, strlen(id)), "expired", 1,
			      "state", str(rec, "state"), "done_at", str(rec, "done_at"),
			      "expired_at", str(rec, "expired_at"),
			      "planned", str(rec, "planned"));
		if (!o || tc_cli_json_print(stdout, o, JSON_COMPACT | JSON_SORT_KEYS) < 0)
			printf("{}\n");
		json_decref(o);
	} else {
		tc_cli_puts(stdout, "job %s: expired", id);
		put_field(" (it was %s", rec, "state");
		put_field(" at %s;", rec, "done_at");
		put_field(" its %s deliveries' records", rec, "planned");
		put_field(" expired at %s, dispatcher.retention after)\n", rec,
			  "expired_at");
	}
	freeReplyObject(rec);
	return 0;
}

int tc_cli_status(const struct tc_cfg *cfg, redisContext *c, const char *cmd,
		  int argc, char **argv)
{
	const char *id = NULL;
	bool json = false, done, bad = false;
	int r, t, i, k, only = TC_WHO_ALL;

	if (!cfg) {
		fputs(strcmp(cmd, "report") == 0 ? tc_cli_report_help : status_help, stdout);
		return TC_EXIT_OK;
	}
	/* report's --unreached and --unconfirmed, taken out before the rest */
	for (i = k = 1; i < argc; i++) {
		if (strcmp(cmd, "report") == 0 && (strcmp(argv[i], "--unreached") == 0 ||
						   strcmp(argv[i], "--unconfirmed") == 0)) {
			bad |= only != TC_WHO_ALL;
			only = argv[i][4] == 'r' ? TC_WHO_UNREACHED : TC_WHO_UNCONFIRMED;
		} else {
			argv[k++] = argv[i];
		}
	}
	argc = k;
	bad |= tc_cli_one_arg(argc, argv, 1, &id, &json) < 0;
	if (!id || bad) {
		fputs(strcmp(cmd, "report") == 0 ? tc_cli_report_help : status_help, stderr);
		return TC_EXIT_USAGE;
	}
	if (!c)
		return tc_cli_no_redis();
	if (strcmp(cmd, "report") == 0)
		return tc_cli_report(cfg, c, id, json, only);
	r = tc_cli_progress(cfg, c, id, json ? TC_SHOW_JSON : TC_SHOW_SUMMARY, &done);
	/* An expired job exits 1 like a missing one: its counts are gone. */
	if (r == -1) {
		t = show_tombstone(cfg, c, id, json);
		if (t == TC_EREDIS)
			return TC_EXIT_REDIS;
		if (t == -1)
			tc_cli_puts(stderr, "tocsin status: no job '%s'\n", id);
	}
	return r == TC_EREDIS ? TC_EXIT_REDIS : r != 0 ? TC_EXIT_FAILED : TC_EXIT_OK;
}
