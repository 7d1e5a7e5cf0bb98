/*
 * tocsin report: every delivery of a job and of its escalation rounds,
 * one row each saying which round, for a person (escaped text) or a
 * program (--json); --unreached and --unconfirmed list only the members
 * to chase, judged over the whole family (a member reached or confirmed
 * in any round is neither).
 *
 * Everything shown from a record is what a producer, a roster or a peer
 * wrote: it is printed through safe.c, escaped in text and exact in JSON.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

const char tc_cli_report_help[] =
	"usage: tocsin [-c FILE] report JOB [--json] [--unreached | --unconfirmed]\n"
	"Lists every delivery of the job and of its escalation rounds (JOB.esc.1,\n"
	"...; column RND, 0 for the job itself): channel, address, group, member,\n"
	"state, attempts, last outcome and, once the member acknowledged, how long\n"
	"after that job or round was sent and with which answer. --unreached lists\n"
	"only the members none of whose deliveries (in any round) was sent,\n"
	"delivered or acknowledged; --unconfirmed only those who acknowledged none.\n"
	"Exit 0, or 1 if the job does not exist.\n";

/* The report's columns of text, escaped: reused row after row. */
enum { COL_CHANNEL, COL_STATE, COL_GROUP, COL_MEMBER, COL_ADDRESS, COL_OUTCOME,
       COL_ANSWER, COL_COUNT };
struct cols {
	struct tc_buf b[COL_COUNT];
};

/* String member key of record d escaped into column c of cols, or dflt. */
static const char *col(struct cols *cols, int c, json_t *d, const char *key,
		       const char *dflt)
{
	json_t *v = json_object_get(d, key);

	if (!json_is_string(v))
		return tc_cli_safes(&cols->b[c], dflt);
	return tc_cli_safe(&cols->b[c], json_string_value(v), json_string_length(v));
}

/* Under a delivery's row, indented: each other provider tried before
 * (failover) with why it did not take the message, then the provider
 * that carried it, its message id and segments. Attempts at the same
 * provider are the row's TRY count: not listed again. */
static void report_route(struct cols *cols, json_t *d)
{
	json_t *tried = json_object_get(d, "tried"), *t;
	json_t *segs = json_object_get(d, "segments");
	const char *last = json_string_value(json_object_get(d, "provider"));
	const char *p;
	size_t i, n = json_array_size(tried);

	for (i = 0; i + 1 < n; i++) {
		t = json_array_get(tried, i);
		p = json_string_value(json_object_get(t, "provider"));
		if (!p || (last && strcmp(p, last) == 0))
			continue;
		printf("%18s tried %s: %s\n", "", col(cols, COL_GROUP, t, "provider", "?"),
		       col(cols, COL_OUTCOME, t, "outcome", ""));
	}
	if (json_is_string(json_object_get(d, "provider_message_id")) &&
	    json_string_length(json_object_get(d, "provider_message_id")))
		printf("%18s via %s, message id %s\n", "",
		       col(cols, COL_GROUP, d, "provider", "?"),
		       col(cols, COL_OUTCOME, d, "provider_message_id", ""));
	if (json_is_integer(segs))
		printf("%18s %lld segment%s, %s\n", "", json_integer_value(segs),
		       json_integer_value(segs) == 1 ? "" : "s",
		       col(cols, COL_OUTCOME, d, "encoding", "?"));
}

/* How long after its job was sent (sent_ms) record d was acknowledged,
 * in seconds; -1 when it was not. */
static long long ack_after(json_t *d, int64_t sent_ms)
{
	const char *at = json_string_value(json_object_get(d, "acknowledged_at"));
	int64_t ms;

	if (!at || !sent_ms || tc_time_parse(at, &ms) < 0)
		return -1;
	return ms > sent_ms ? (long long)((ms - sent_ms) / 1000) : 0;
}

/* What each row of one job of the family needs. */
struct rows {
	struct cols cols;
	bool json, first;
	const char *job;            /* the job or round the rows are of */
	int round;                  /* its round, 0 for the job itself */
	int64_t sent_ms;            /* when it was sent; 0: unknown */
	const struct tc_cli_who *who;
	int only;                   /* TC_WHO_* */
};

/* Prints one delivery (tc_cli_dlv_fn) when its member is listed under
 * x->only. */
static void report_row(void *data, const char *did, size_t len, json_t *d)
{
	struct rows *x = data;
	struct cols *cols = &x->cols;
	long long after;

	if (!tc_cli_who_listed(x->who, json_string_value(json_object_get(d, "member_key")),
			       x->only))
		return;
	after = ack_after(d, x->sent_ms);
	if (x->json) {
		json_object_set_new(d, "delivery", tc_cli_json_string(did, len));
		json_object_set_new(d, "job", tc_cli_json_string(x->job, strlen(x->job)));
		json_object_set_new(d, "round", json_integer(x->round));
		if (after >= 0)
			json_object_set_new(d, "acknowledged_after_s", json_integer(after));
		printf("%s", x->first ? "" : ",");
		if (tc_cli_json_print(stdout, d, JSON_COMPACT | JSON_SORT_KEYS) < 0)
			printf("{}\n");
	} else {
		char ack[48] = "";

		if (after >= 0)
			snprintf(ack, sizeof(ack), "after %llds%s", after,
				 json_string_length(json_object_get(d, "response")) ? ": " : "");
		printf("%3d %-8s %-12s %3lld  %-14s %-20s %-40s %s%s%s%s%s\n", x->round,
		       col(cols, COL_CHANNEL, d, "channel", "?"),
		       col(cols, COL_STATE, d, "state", "?"),
		       json_integer_value(json_object_get(d, "attempts")),
		       col(cols, COL_GROUP, d, "group", ""),
		       col(cols, COL_MEMBER, d, "member", ""),
		       col(cols, COL_ADDRESS, d, "address", ""),
		       col(cols, COL_OUTCOME, d, "last_outcome", ""),
		       ack[0] ? " [acknowledged " : "", ack,
		       ack[0] ? col(cols, COL_ANSWER, d, "response", "") : "",
		       ack[0] ? "]" : "");
		report_route(cols, d);
	}
	x->first = false;
}

/* When job rec was sent, in ms since the epoch: its send_at (a round's
 * is when it was due), else when it was created; 0 when unknown. */
static int64_t sent_ms(const redisReply *rec)
{
	json_t *job = json_loads(tc_cli_record_str(rec, "job"), 0, NULL);
	const char *at = json_string_value(json_object_get(job, "send_at"));
	int64_t created = 0, ms = 0;

	if (tc_time_parse(tc_cli_record_str(rec, "created_at"), &created) < 0)
		created = 0;
	if (!at || tc_time_parse(at, &ms) < 0 || ms < created)
		ms = created;
	json_decref(job);
	return ms;
}

int tc_cli_report(const struct tc_cfg *cfg, redisContext *c, const char *id, bool json,
		  int only)
{
	struct tc_cli_family f;
	struct tc_cli_who *who = NULL;
	struct rows x;
	bool done;
	size_t i;
	int st = tc_cli_family_read(cfg, c, id, true, &f), code = TC_EXIT_OK;

	if (st == -1) {
		tc_cli_puts(stderr, "tocsin report: no job '%s'\n", id);
		return TC_EXIT_FAILED;
	}
	if (st == TC_EREDIS)
		return TC_EXIT_REDIS;
	if (only != TC_WHO_ALL && !(who = tc_cli_who_read(cfg, c, &f))) {
		tc_cli_family_free(&f);
		return TC_EXIT_REDIS;
	}
	if (!json) {
		(void)tc_cli_progress(cfg, c, id, TC_SHOW_SUMMARY, &done);
		printf("\n%3s %-8s %-12s %3s  %-14s %-20s %-40s %s\n", "RND", "CHANNEL",
		       "STATE", "TRY", "GROUP", "MEMBER", "ADDRESS", "LAST OUTCOME");
	} else {
		printf("[\n");
	}
	memset(&x, 0, sizeof(x));
	x.json = json;
	x.first = true;
	x.who = who;
	x.only = only;
	for (i = 0; i < COL_COUNT; i++)
		tc_buf_init(&x.cols.b[i], TC_CLI_SHOW_MAX);
	for (i = 0; i < f.n && code == TC_EXIT_OK; i++) {
		x.job = f.id[i];
		x.round = tc_cli_family_round(&f, i);
		x.sent_ms = sent_ms(f.rec[i]);
		if (tc_cli_scan(cfg, c, f.id[i], report_row, &x) < 0)
			code = TC_EXIT_REDIS;
	}
	for (i = 0; i < COL_COUNT; i++)
		tc_buf_release(&x.cols.b[i]);
	tc_cli_who_free(who);
	tc_cli_family_free(&f);
	if (json && code == TC_EXIT_OK)
		printf("]\n");
	return code;
}
