/*
 * Intake: reads jobs from <prefix>:jobs:<severity> as consumer group
 * "tocsind", critical before high before normal before low, validates them,
 * dead-letters what is invalid and hands the rest to the runs.
 *
 * Keeps true: an entry is acknowledged only by the dead-letter script (with
 * its reason stored in the same step) or when its job is done; after a
 * start or a lost connection, this consumer's own pending entries are read
 * again first, so nothing read is forgotten.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "dispatcher/dispatcher.h"

#define RESCAN_COUNT    "16" /* at most 16: 64 entries at TC_LIMIT_REDIS_ENTRY must
			       * fit TC_LIMIT_REDIS_REPLY (poison.c) */

static void dead_done(redisAsyncContext *ac, void *reply, void *priv)
{
	redisReply *r = reply;

	(void)ac;
	(void)priv;
	if (r && r->type == REDIS_REPLY_ERROR)
		tc_log(TC_LOG_ERROR, "intake", "event=dead-letter-failed err=\"%s\", the entry stays pending",
		       r->str);
}

/* Dead-letters one entry with its reason and acknowledges it. */
static void dead_letter(struct tc_disp *d, enum tc_severity s, const char *entry,
			const char *job_id, const char *reason, const char *body,
			size_t body_len, const char *event)
{
	const char *prefix = d->cfg->prefix;
	char k_dead[TC_KEY_MAX], k_stream[TC_KEY_MAX], k_ev[TC_KEY_MAX], now[40];
	char q[TC_LIMIT_LOG_VALUE + 16];
	const char *argv[14];
	size_t lens[14];
	int i;

	tc_key_dead(k_dead, sizeof(k_dead), prefix);
	tc_key_jobs(k_stream, sizeof(k_stream), prefix, s);
	tc_key_events(k_ev, sizeof(k_ev), prefix);
	tc_time_format(tc_time_now_ms(), now, sizeof(now));
	argv[0] = "EVAL";
	argv[1] = tc_lua_dead;
	argv[2] = "3";
	argv[3] = k_dead;
	argv[4] = k_stream;
	argv[5] = k_ev;
	argv[6] = TC_GROUP_NAME;
	argv[7] = entry;
	argv[8] = tc_severity_name(s);
	argv[9] = job_id ? job_id : "";
	argv[10] = reason;
	argv[11] = body ? body : "";
	argv[12] = now;
	argv[13] = event;
	for (i = 0; i < 14; i++)
		lens[i] = strlen(argv[i]);
	lens[11] = body ? (body_len > TC_LIMIT_JOB_BYTES ? TC_LIMIT_JOB_BYTES : body_len) : 0;
	d->stats.jobs[TC_JOB_INVALID]++;
	tc_log(TC_LOG_WARN, "intake", "stream=%s entry=%s event=%s reason=%s, dead-lettered",
	       tc_severity_name(s), entry, event, tc_log_quote(q, sizeof(q), reason));
	if (tc_rconn_cmd(d->cmd, dead_done, NULL, 14, argv, lens) < 0)
		tc_log(TC_LOG_WARN, "intake", "entry=%s event=dead-letter-deferred err=\"redis down\", the entry stays pending",
		       entry);
}

/* The value of field name in a stream entry's field list, or NULL. */
static const redisReply *entry_field(const redisReply *fields, const char *name)
{
	size_t i;

	if (!fields || fields->type != REDIS_REPLY_ARRAY)
		return NULL;
	for (i = 0; i + 1 < fields->elements; i += 2)
		if (fields->element[i]->type == REDIS_REPLY_STRING &&
		    strcmp(fields->element[i]->str, name) == 0 &&
		    fields->element[i + 1]->type == REDIS_REPLY_STRING)
			return fields->element[i + 1];
	return NULL;
}

void tc_intake_entry(struct tc_disp *d, enum tc_severity s, const redisReply *e)
{
	const redisReply *id = e->element[0], *fields = e->element[1], *body;
	struct tc_diag diag;
	struct tc_job job;
	char reason[1200];

	if (fields->type != REDIS_REPLY_ARRAY) {
		/* Read before, then deleted from the stream: nothing to do. */
		dead_letter(d, s, id->str, NULL, "entry was deleted from the stream",
			    NULL, 0, "invalid");
		return;
	}
	body = entry_field(fields, "job");
	if (!body) {
		dead_letter(d, s, id->str, NULL, "entry has no field 'job'", NULL, 0,
			    "invalid");
		return;
	}
	if (tc_job_parse(body->str, body->len, s, id->str, tc_cfg_phone_region(d->cfg),
			 &job, &diag) == 0) {
		if (job.escalation && !tc_cfg_escalation(d->cfg, job.escalation)) {
			char q[TC_LIMIT_LOG_VALUE + 16];

			tc_diag_set(&diag, "job", 0, "escalation",
				    "unknown escalation policy %s: not under escalations",
				    tc_log_quote(q, sizeof(q), job.escalation));
		} else if (tc_chan_job_check(d->cfg, d->templates, &job, &diag) == 0) {
			tc_run_start(d, &job, body->str, body->len);
			return;
		}
		tc_diag_format(&diag, reason, sizeof(reason));
		dead_letter(d, s, id->str, job.id, reason, body->str, body->len,
			    "invalid");
		tc_job_release(&job);
		return;
	}
	tc_diag_format(&diag, reason, sizeof(reason));
	dead_letter(d, s, id->str, NULL, reason, body->str, body->len, "invalid");
}

/* The severity a reply's stream key stands for. */
static int stream_severity(const struct tc_disp *d, const char *key)
{
	char k[TC_KEY_MAX];
	int s;

	for (s = 0; s < TC_SEV_COUNT; s++) {
		tc_key_jobs(k, sizeof(k), d->cfg->prefix, s);
		if (strcmp(k, key) == 0)
			return s;
	}
	return -1;
}

static void read_again(uv_timer_t *t)
{
	struct tc_disp *d = container_of(t, struct tc_disp, read_retry);

	d->read_held = false;
	tc_disp_poke(d);
}

static void on_read(redisAsyncContext *ac, void *reply, void *priv)
{
	struct tc_disp *d = priv;
	redisReply *r = reply;
	const redisReply *streams[TC_SEV_COUNT] = { 0 };
	bool got[TC_SEV_COUNT] = { 0 };
	/* A rescan that began since this read was sent starts from 0 again:
	 * this reply must not move it on. */
	bool pending = d->reading_pending && d->reading_gen == d->scan_gen;
	size_t i, j;
	int s;

	(void)ac;
	d->reading = false;
	if (!r)
		return; /* the connection was lost; up() starts again */
	if (r->type == REDIS_REPLY_ERROR) {
		/* Whatever Redis holds against it (a key of another type, a
		 * missing right), it will say again at once: not in a loop. */
		char q[TC_LIMIT_LOG_VALUE + 16];

		tc_log(TC_LOG_ERROR, "intake", "event=read-failed err=%s, retrying in %dms",
		       tc_log_quote(q, sizeof(q), r->str), TC_READ_RETRY_MS);
		d->read_held = true;
		uv_timer_start(&d->read_retry, read_again, TC_READ_RETRY_MS, 0);
		return;
	}
	for (i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
		const redisReply *st = r->element[i];

		if (st->type != REDIS_REPLY_ARRAY || st->elements != 2 ||
		    st->element[0]->type != REDIS_REPLY_STRING)
			continue;
		s = stream_severity(d, st->element[0]->str);
		if (s >= 0)
			streams[s] = st->element[1];
	}
	/* Critical first, whatever order Redis answered in. */
	for (s = 0; s < TC_SEV_COUNT; s++) {
		const redisReply *list = streams[s];

		for (j = 0; list && list->type == REDIS_REPLY_ARRAY && j < list->elements; j++) {
			const redisReply *e = list->element[j];

			if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
			    e->element[0]->type != REDIS_REPLY_STRING)
				continue;
			got[s] = true;
			if (pending && d->rescan)
				snprintf(d->scan_from[s], sizeof(d->scan_from[s]), "%s",
					 e->element[0]->str);
			if (!tc_disp_has_entry(d, (enum tc_severity)s, e->element[0]->str))
				tc_intake_entry(d, (enum tc_severity)s, e);
		}
	}
	if (pending && d->rescan) {
		bool all = true;

		for (s = 0; s < TC_SEV_COUNT; s++) {
			if (!got[s])
				d->scan_done[s] = true;
			all = all && d->scan_done[s];
		}
		if (all) {
			d->rescan = false;
			tc_log(TC_LOG_INFO, "intake", "event=resumed-pending, reading new jobs");
		}
	}
	tc_disp_poke(d);
}

/* XREADGROUP over the streams not yet done, from the given ids. */
static void read_streams(struct tc_disp *d, bool pending)
{
	char keys[TC_SEV_COUNT][TC_KEY_MAX], block[16];
	const char *argv[10 + 2 * TC_SEV_COUNT];
	int argc = 0, s, first;

	argv[argc++] = "XREADGROUP";
	argv[argc++] = "GROUP";
	argv[argc++] = TC_GROUP_NAME;
	argv[argc++] = d->cfg->consumer;
	argv[argc++] = "COUNT";
	argv[argc++] = pending ? RESCAN_COUNT : "1";
	if (!pending) {
		snprintf(block, sizeof(block), "%d", TC_INTAKE_BLOCK_MS);
		argv[argc++] = "BLOCK";
		argv[argc++] = block;
	}
	argv[argc++] = "STREAMS";
	first = argc;
	for (s = 0; s < TC_SEV_COUNT; s++) {
		if (pending && d->scan_done[s])
			continue;
		tc_key_jobs(keys[s], sizeof(keys[s]), d->cfg->prefix, s);
		argv[argc++] = keys[s];
	}
	for (s = 0; s < TC_SEV_COUNT; s++) {
		if (pending && d->scan_done[s])
			continue;
		argv[argc++] = pending ? d->scan_from[s] : ">";
	}
	if (argc == first)
		return;
	if (tc_rconn_cmd(d->intake, on_read, d, argc, argv, NULL) == 0) {
		d->reading = true;
		d->reading_pending = pending;
		d->reading_gen = d->scan_gen;
	}
}

void tc_intake_pump(struct tc_disp *d)
{
	struct tc_run *r;

	if (d->reading || d->read_held || d->stopping || !tc_rconn_ctx(d->intake) ||
	    !tc_rconn_ctx(d->cmd))
		return;
	for (r = d->runs; r; r = r->next)
		if (r->phase == TC_RUN_BROKEN)
			return; /* a run from before the loss still winds down */
	if (d->rescan) {
		read_streams(d, true);
		return;
	}
	if (tc_runs_active(d) < TC_ACTIVE_JOBS)
		read_streams(d, false);
}

static void group_done(redisAsyncContext *ac, void *reply, void *priv)
{
	redisReply *r = reply;

	(void)ac;
	(void)priv;
	if (r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "BUSYGROUP", 9) != 0)
		tc_log(TC_LOG_ERROR, "intake", "event=group-create-failed err=\"%s\"", r->str);
}

void tc_intake_rescan(struct tc_disp *d)
{
	int s;

	for (s = 0; s < TC_SEV_COUNT; s++) {
		snprintf(d->scan_from[s], sizeof(d->scan_from[s]), "0");
		d->scan_done[s] = false;
	}
	d->rescan = true;
	d->scan_gen++;
	tc_disp_poke(d);
}

void tc_intake_up(struct tc_disp *d)
{
	char key[TC_KEY_MAX];
	const char *argv[6];
	int s;

	/* A Redis that restarted without its data has no group: make it
	 * again, from the start of each stream (see README, "Guarantees"). */
	for (s = 0; s < TC_SEV_COUNT; s++) {
		tc_key_jobs(key, sizeof(key), d->cfg->prefix, s);
		argv[0] = "XGROUP";
		argv[1] = "CREATE";
		argv[2] = key;
		argv[3] = TC_GROUP_NAME;
		argv[4] = "0";
		argv[5] = "MKSTREAM";
		(void)tc_rconn_cmd(d->intake, group_done, NULL, 6, argv, NULL);
	}
	d->reading = false;
	tc_intake_rescan(d);
}
