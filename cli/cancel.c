/*
 * tocsin cancel: stops what is left of a job. One Lua script marks the job
 * record cancelled and tells the watchers, in one atomic step; tocsind,
 * which watches the records of the jobs it runs, turns the deliveries not
 * yet sent into `cancelled`, lets the ones in flight finish and be
 * recorded, and then acknowledges the job's entry. A job that is done
 * stays done: cancel never rewrites history.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"

/* How long cancel waits for a job that has no record yet, and how often
 * it looks. */
#define CANCEL_WAIT_MS 3000
#define CANCEL_POLL_MS 50

static const char cancel_help[] =
	"usage: tocsin [-c FILE] cancel JOB [--json]\n"
	"\n"
	"Cancels job JOB: tocsind sends none of its deliveries that are still\n"
	"queued or waiting for a retry (they become `cancelled`), lets the ones\n"
	"in flight finish and be recorded, and finishes the job as `cancelled`.\n"
	"Follow it with `tocsin status JOB`.\n"
	"\n"
	"A job not yet picked up has no record: cancel waits up to 3 s for\n"
	"tocsind to pick it up (a job sent a moment ago), then says there is no\n"
	"such job. The job's escalation rounds (JOB.esc.1, ...) still asleep or\n"
	"running are cancelled with it, also when JOB itself is already done.\n"
	"\n"
	"  --json   machine-readable output\n"
	"\n"
	"Exit 0 when the job is cancelled (now or before), 1 when there is no such\n"
	"job or it is already done, 2 usage, 3 Redis unreachable.\n";

/* Prints the outcome; returns the exit code. */
static int cancel_report(const char *id, const char *verdict, const char *detail,
			 const char *now, bool json)
{
	if (strcmp(verdict, "none") == 0) {
		fprintf(stderr, "tocsin cancel: no job '%s'\n", id);
		return TC_EXIT_FAILED;
	}
	if (strcmp(verdict, "done") == 0) {
		fprintf(stderr, "tocsin cancel: job %s is already done", id);
		tc_cli_puts(stderr, detail[0] ? " (at %s)" : "%s", detail);
		fprintf(stderr, ": nothing to cancel\n");
		return TC_EXIT_FAILED;
	}
	if (json) {
		const char *at = strcmp(verdict, "now") == 0 ? now : detail;
		json_t *o = json_pack("{s:s, s:s, s:o, s:b}", "job", id,
				      "state", "cancelled",
				      "cancelled_at", tc_cli_json_string(at, strlen(at)),
				      "already", strcmp(verdict, "cancelled") == 0);

		if (!o || tc_cli_json_print(stdout, o, JSON_COMPACT | JSON_SORT_KEYS) < 0)
			printf("{}\n");
		json_decref(o);
	} else if (strcmp(verdict, "cancelled") == 0) {
		printf("job %s was already cancelled", id);
		tc_cli_puts(stdout, detail[0] ? " at %s\n" : "%s\n", detail);
	} else {
		printf("job %s cancelled; tocsind stops its remaining deliveries "
		       "(see tocsin status %s)\n", id, id);
	}
	return TC_EXIT_OK;
}

/* Runs CANCEL for job id. Returns the reply (verdict, detail), or NULL
 * with the failure printed. */
static redisReply *cancel_one(const struct tc_cfg *cfg, redisContext *c,
			      const char *id, const char *now,
			      const struct tc_retain *keep)
{
	char k_job[TC_KEY_MAX], k_ev[TC_KEY_MAX], k_events[TC_KEY_MAX];
	char k_sched[TC_KEY_MAX], k_dlv[TC_KEY_MAX], k_tomb[TC_KEY_MAX];
	redisReply *rep;

	if (tc_key_job(k_job, sizeof(k_job), cfg->prefix, id) < 0 ||
	    tc_key_job_events(k_ev, sizeof(k_ev), cfg->prefix, id) < 0 ||
	    tc_key_events(k_events, sizeof(k_events), cfg->prefix) < 0 ||
	    tc_key_scheduled(k_sched, sizeof(k_sched), cfg->prefix) < 0 ||
	    tc_key_deliveries(k_dlv, sizeof(k_dlv), cfg->prefix, id) < 0 ||
	    tc_key_tombstone(k_tomb, sizeof(k_tomb), cfg->prefix, id) < 0)
		return NULL; /* cannot happen: prefix <= 64, id <= 135 */
	rep = redisCommand(c, "EVAL %s 6 %s %s %s %s %s %s %s %s %s %s %s", tc_lua_cancel,
			   k_job, k_ev, k_events, k_sched, k_dlv, k_tomb, now, id,
			   keep->ttl, keep->tomb_ttl, keep->expired_at);
	if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
	    rep->element[0]->type != REDIS_REPLY_STRING ||
	    rep->element[1]->type != REDIS_REPLY_STRING) {
		fprintf(stderr, "tocsin cancel: cancelling job %s failed: %s\n", id,
			!rep ? c->errstr : rep->type == REDIS_REPLY_ERROR ? rep->str :
			"unexpected reply");
		freeReplyObject(rep);
		return NULL;
	}
	return rep;
}

/* Cancels the escalation rounds of job id that are not done (asleep until
 * their send_at or running): a round is written by the round before it,
 * so the first that does not exist ends them. Returns how many this call
 * cancelled, or -1 when Redis failed. */
static int cancel_rounds(const struct tc_cfg *cfg, redisContext *c, const char *id,
			 const char *now, const struct tc_retain *keep, bool json)
{
	char round[TC_LIMIT_JOB_ID + 16];
	redisReply *rep;
	int n, done = 0;

	for (n = 1; n <= TC_ESC_ROUNDS_MAX; n++) {
		snprintf(round, sizeof(round), "%s.esc.%d", id, n);
		rep = cancel_one(cfg, c, round, now, keep);
		if (!rep)
			return -1;
		if (strcmp(rep->element[0]->str, "none") == 0) {
			freeReplyObject(rep);
			break;
		}
		if (strcmp(rep->element[0]->str, "now") == 0) {
			done++;
			if (!json)
				printf("escalation round %s cancelled\n", round);
		}
		freeReplyObject(rep);
	}
	return done;
}

int tc_cli_cancel(const struct tc_cfg *cfg, redisContext *c, int argc, char **argv)
{
	char now[40];
	int64_t now_ms = tc_time_now_ms();
	struct tc_retain keep;
	const char *id = NULL;
	bool json = false, bad = false;
	redisReply *rep;
	int r, rounds;

	if (!cfg) {
		fputs(cancel_help, stdout);
		return TC_EXIT_OK;
	}
	bad = tc_cli_one_arg(argc, argv, 1, &id, &json) < 0;
	if (!id || bad) {
		fputs(cancel_help, stderr);
		return TC_EXIT_USAGE;
	}
	if (!tc_job_id_valid(id)) {
		fprintf(stderr, "tocsin cancel: not a job id '%s' (1..%d of A-Z a-z 0-9 . _ : -)\n",
			id, TC_LIMIT_JOB_ID);
		return TC_EXIT_USAGE;
	}
	tc_time_format(now_ms, now, sizeof(now));
	tc_retain_args(&keep, cfg->retention_ms, now_ms);
	if (!c)
		return tc_cli_no_redis();
	rep = cancel_one(cfg, c, id, now, &keep);
	/* A job sent a moment ago may not be picked up yet (tocsind reads
	 * and accepts it within milliseconds): give it the time to be. */
	for (r = 0; rep && strcmp(rep->element[0]->str, "none") == 0 &&
		    r < CANCEL_WAIT_MS / CANCEL_POLL_MS; r++) {
		struct timespec ts = { 0, CANCEL_POLL_MS * 1000000L };

		freeReplyObject(rep);
		nanosleep(&ts, NULL);
		now_ms = tc_time_now_ms();
		tc_time_format(now_ms, now, sizeof(now));
		tc_retain_args(&keep, cfg->retention_ms, now_ms);
		rep = cancel_one(cfg, c, id, now, &keep);
	}
	if (!rep)
		return TC_EXIT_REDIS;
	/* A job that is done may still have rounds to come: they go too. */
	rounds = cancel_rounds(cfg, c, id, now, &keep, json);
	if (rounds < 0) {
		freeReplyObject(rep);
		return TC_EXIT_REDIS;
	}
	if (rounds > 0 && strcmp(rep->element[0]->str, "done") == 0 && !json) {
		printf("job %s was already done; its escalation rounds are cancelled\n", id);
		r = TC_EXIT_OK;
	} else {
		r = cancel_report(id, rep->element[0]->str, rep->element[1]->str, now, json);
		if (rounds > 0)
			r = TC_EXIT_OK;
	}
	freeReplyObject(rep);
	return r;
}
