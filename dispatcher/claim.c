/*
 * Claiming: several tocsind share one Redis through the consumer group.
 * Every instance keeps the entries it works on fresh (XCLAIM to itself,
 * JUSTID, which resets their idle time), and takes over entries idle for
 * longer than dispatcher.claim_idle (XAUTOCLAIM): those of an instance that
 * died. A live instance, however slow its job, keeps its work.
 *
 * Keeps true: an entry is never worked on twice in one process (a claimed
 * entry that is already running here is left alone), and nothing is
 * claimed while this instance still reads its own pending entries.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "dispatcher/dispatcher.h"

#define CLAIM_COUNT "16" /* at most 16: see RESCAN_COUNT in intake.c (poison.c) */

static void touched(redisAsyncContext *ac, void *reply, void *priv)
{
	redisReply *r = reply;

	(void)ac;
	(void)priv;
	if (r && r->type == REDIS_REPLY_ERROR)
		tc_log(TC_LOG_WARN, "claim", "event=heartbeat-failed err=\"%s\"", r->str);
}

/* Resets the idle time of every entry a run of ours works on. */
static void heartbeat(struct tc_disp *d)
{
	char key[TC_KEY_MAX];
	const char *argv[7];
	struct tc_run *r;

	for (r = d->runs; r; r = r->next) {
		if (r->phase == TC_RUN_BROKEN)
			continue;
		tc_key_jobs(key, sizeof(key), d->cfg->prefix, r->job.severity);
		argv[0] = "XCLAIM";
		argv[1] = key;
		argv[2] = TC_GROUP_NAME;
		argv[3] = d->cfg->consumer;
		argv[4] = "0";
		argv[5] = r->job.entry;
		argv[6] = "JUSTID";
		(void)tc_rconn_cmd(d->cmd, touched, NULL, 7, argv, NULL);
	}
}

struct claim_req {
	struct tc_disp *d;
	enum tc_severity s;
};

static void claimed(redisAsyncContext *ac, void *reply, void *priv)
{
	struct claim_req *q = priv;
	struct tc_disp *d = q->d;
	redisReply *r = reply;
	const redisReply *list;
	size_t i;

	(void)ac;
	if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 2 ||
	    r->element[1]->type != REDIS_REPLY_ARRAY) {
		if (r && r->type == REDIS_REPLY_ERROR)
			tc_log(TC_LOG_WARN, "claim", "event=claim-failed err=\"%s\"", r->str);
		free(q);
		return;
	}
	list = r->element[1];
	for (i = 0; i < list->elements; i++) {
		const redisReply *e = list->element[i];

		if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
		    e->element[0]->type != REDIS_REPLY_STRING ||
		    tc_disp_has_entry(d, q->s, e->element[0]->str))
			continue;
		tc_log(TC_LOG_WARN, "claim", "stream=%s entry=%s event=claimed, an instance stopped working on it",
		       tc_severity_name(q->s), e->element[0]->str);
		tc_intake_entry(d, q->s, e);
	}
	free(q);
	tc_disp_poke(d);
}

/* Takes over what another instance left idle too long. */
static void autoclaim(struct tc_disp *d)
{
	char key[TC_KEY_MAX], idle[24];
	const char *argv[9];
	struct claim_req *q;
	int s;

	snprintf(idle, sizeof(idle), "%llu", (unsigned long long)d->cfg->claim_idle_ms);
	for (s = 0; s < TC_SEV_COUNT; s++) {
		q = malloc(sizeof(*q));
		if (!q)
			return;
		q->d = d;
		q->s = s;
		tc_key_jobs(key, sizeof(key), d->cfg->prefix, s);
		argv[0] = "XAUTOCLAIM";
		argv[1] = key;
		argv[2] = TC_GROUP_NAME;
		argv[3] = d->cfg->consumer;
		argv[4] = idle;
		argv[5] = "0-0";
		argv[6] = "COUNT";
		argv[7] = CLAIM_COUNT;
		if (tc_rconn_cmd(d->cmd, claimed, q, 8, argv, NULL) < 0)
			free(q);
	}
}

static void on_claim_timer(uv_timer_t *t)
{
	struct tc_disp *d = container_of(t, struct tc_disp, claim_timer);

	if (d->stopping || !tc_rconn_ctx(d->cmd))
		return;
	heartbeat(d);
	if (!d->rescan && tc_runs_active(d) < TC_ACTIVE_JOBS)
		autoclaim(d);
}

int tc_claim_start(struct tc_disp *d)
{
	/* Three heartbeats per claim_idle: a live instance's entries never
	 * look idle for that long. */
	uint64_t every = d->cfg->claim_idle_ms / 3;

	if (every < 100)
		every = 100;
	if (uv_timer_init(d->loop, &d->claim_timer) < 0)
		return -1;
	return uv_timer_start(&d->claim_timer, on_claim_timer, every, every) < 0 ? -1 : 0;
}
