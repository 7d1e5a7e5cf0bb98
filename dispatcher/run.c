/*
 * Runs: one job being worked on, from its acceptance to its finish. The
 * run's phases (counting a roster against the budgets, accepting, waiting
 * for send_at, expanding, draining, finishing, broken) move on in one
 * switch (run_step); count.c, the planner, scheduler and tracker do the
 * work of each. A new job's first batch is planned by the ACCEPT call
 * itself, so a critical job without a roster to count is read, accepted
 * and planned in one round trip.
 *
 * Keeps true: a job is finished (and its entry acknowledged) only once
 * every delivery it planned reached a final state in Redis; if Redis is
 * lost, runs wind down without acknowledging anything, and intake resumes
 * them from the pending list.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "dispatcher/dispatcher.h"

#define CANCEL_WATCH_MS    500     /* how often running jobs are checked for cancel */

static void watch_cancel(uv_timer_t *t);

int tc_runs_init(struct tc_disp *d)
{
	tc_key_retry(d->key_retry, sizeof(d->key_retry), d->cfg->prefix);
	tc_key_dead(d->key_dead, sizeof(d->key_dead), d->cfg->prefix);
	if (tc_sched_init(d) < 0 || uv_timer_init(d->loop, &d->cancel_timer) < 0 ||
	    uv_idle_init(d->loop, &d->turn) < 0)
		return -ENOMEM;
	return uv_timer_start(&d->cancel_timer, watch_cancel, CANCEL_WATCH_MS,
			      CANCEL_WATCH_MS) < 0 ? -ENOMEM : 0;
}

/* Stops a run: nothing more is planned; queued, waiting and retrying
 * deliveries become `cancelled` as they come up; those in flight finish. */
static void run_cancel(struct tc_run *r)
{
	struct tc_disp *d = r->disp;

	tc_log(TC_LOG_WARN, "run", "job=%s event=cancelled, stopping its remaining deliveries",
	       r->job.id);
	r->cancelled = true;
	r->expanded = true;
	tc_sched_hurry(d, r);
	tc_park_hurry(d, r);
	tc_disp_poke(d);
}

static void state_read(redisAsyncContext *ac, void *reply, void *priv)
{
	struct tc_run *r = priv;
	redisReply *rep = reply;

	(void)ac;
	r->writes--;
	if (rep && rep->type == REDIS_REPLY_STRING && strcmp(rep->str, "cancelled") == 0 &&
	    !r->cancelled && r->phase != TC_RUN_BROKEN)
		run_cancel(r);
	tc_disp_poke(r->disp);
}

static void watch_cancel(uv_timer_t *t)
{
	struct tc_disp *d = container_of(t, struct tc_disp, cancel_timer);
	const char *argv[3];
	struct tc_run *r;

	for (r = d->runs; r; r = r->next) {
		if (r->cancelled || (r->phase != TC_RUN_EXPANDING &&
				     r->phase != TC_RUN_DRAINING))
			continue;
		argv[0] = "HGET";
		argv[1] = r->key_job;
		argv[2] = "state";
		/* Counted as a write: the run waits for the answer to finish. */
		if (tc_rconn_cmd(d->cmd, state_read, r, 3, argv, NULL) == 0)
			r->writes++;
	}
}

static void run_unlink(struct tc_run *r)
{
	struct tc_run **p;

	for (p = &r->disp->runs; *p; p = &(*p)->next)
		if (*p == r) {
			*p = r->next;
			r->disp->n_runs--;
			return;
		}
}

static void run_timer_closed(uv_handle_t *h)
{
	struct tc_run *r = container_of((uv_timer_t *)h, struct tc_run, timer);

	tc_job_release(&r->job);
	free(r->vars_json);
	json_decref(r->data);
	free(r);
}

void tc_run_free(struct tc_run *r)
{
	unsigned i;

	run_unlink(r);
	tc_count_free(r->count);
	r->count = NULL;
	for (i = 0; i < r->n_plan; i++)
		tc_dlv_free(r->plan[i]);
	tc_track_release(r);
	if (r->parked)
		tc_park_drop(r->disp, r);
	if (r->rr)
		tc_rr_free(r->rr);
	uv_timer_stop(&r->timer);
	uv_close((uv_handle_t *)&r->timer, run_timer_closed);
}

void tc_run_break(struct tc_run *r, const char *why)
{
	char q[TC_LIMIT_LOG_VALUE + 16];

	if (r->phase == TC_RUN_BROKEN)
		return;
	tc_log(TC_LOG_WARN, "run", "job=%s event=interrupted err=%s, it stays pending and resumes",
	       r->job.id, tc_log_quote(q, sizeof(q), why));
	r->phase = TC_RUN_BROKEN;
}

void tc_run_break_all(struct tc_disp *d)
{
	struct tc_run *r;

	for (r = d->runs; r; r = r->next)
		tc_run_break(r, "redis connection lost");
	tc_sched_drop_ready(d);
	tc_sched_drop_waiting(d);
	tc_park_drop(d, NULL);
	tc_disp_poke(d);
}

static void finish_done(redisAsyncContext *ac, void *reply, void *priv)
{
	struct tc_run *r = priv;
	struct tc_disp *d = r->disp;
	redisReply *rep = reply;

	(void)ac;
	r->writes--;
	if (!rep) {
		/* Lost with the connection: finish again once it is back (the
		 * script does the same thing twice). */
		r->phase = TC_RUN_DRAINING;
	} else if (rep->type == REDIS_REPLY_ERROR) {
		tc_run_break(r, rep->str);
	} else {
		d->stats.jobs[rep->type == REDIS_REPLY_STRING &&
			      strcmp(rep->str, "cancelled") == 0 ?
			      TC_JOB_CANCELLED : TC_JOB_DONE]++;
		tc_log(TC_LOG_INFO, "run", "job=%s event=%s planned=%llu final=%llu",
		       r->job.id, rep->type == REDIS_REPLY_STRING ? rep->str : "done",
		       (unsigned long long)r->planned, (unsigned long long)r->finals);
		tc_run_free(r);
	}
	tc_disp_poke(d);
}

static void run_finish(struct tc_run *r)
{
	const struct tc_cfg *cfg = r->disp->cfg;
	char k_stream[TC_KEY_MAX], k_events[TC_KEY_MAX], k_tomb[TC_KEY_MAX], now[40];
	char unreachable[24], roster_errors[24];
	int64_t now_ms = tc_time_now_ms();
	struct tc_retain keep;
	const char *argv[18];

	tc_key_jobs(k_stream, sizeof(k_stream), cfg->prefix, r->job.severity);
	tc_key_events(k_events, sizeof(k_events), cfg->prefix);
	tc_key_tombstone(k_tomb, sizeof(k_tomb), cfg->prefix, r->job.id);
	tc_time_format(now_ms, now, sizeof(now));
	tc_retain_args(&keep, cfg->retention_ms, now_ms);
	argv[0] = "EVAL";
	argv[1] = tc_lua_finish;
	argv[2] = "6";
	argv[3] = r->key_job;
	argv[4] = k_stream;
	argv[5] = k_events;
	argv[6] = r->key_ev;
	argv[7] = r->key_dlv;
	argv[8] = k_tomb;
	argv[9] = TC_GROUP_NAME;
	argv[10] = r->job.entry;
	argv[11] = now;
	argv[12] = r->job.id;
	snprintf(unreachable, sizeof(unreachable), "%llu", (unsigned long long)r->unreachable);
	snprintf(roster_errors, sizeof(roster_errors), "%llu",
		 (unsigned long long)r->roster_errors);
	argv[13] = r->audience_seen ? unreachable : "";
	argv[14] = r->audience_seen ? roster_errors : "";
	argv[15] = keep.ttl;
	argv[16] = keep.tomb_ttl;
	argv[17] = keep.expired_at;
	if (tc_rconn_cmd(r->disp->cmd, finish_done, r, 18, argv, NULL) < 0)
		return; /* Redis is away: finish when it is back */
	r->writes++;
	r->phase = TC_RUN_FINISHING;
}

/* Moves a run on when it can; false when the run was freed. */
static bool run_step(struct tc_run *r)
{
	bool idle = r->live == 0 && r->parked == 0 && r->n_plan == 0 && r->n_move == 0 &&
		    r->writes == 0 && !r->outbox;

	switch (r->phase) {
	case TC_RUN_COUNTING:
		if (!r->disp->stopping && tc_rconn_ctx(r->disp->cmd))
			tc_count_step(r);
		return true;
	case TC_RUN_EXPANDING:
		/* Planning needs Redis: while it is away, nothing new starts. */
		if (!r->disp->stopping && tc_rconn_ctx(r->disp->cmd))
			tc_plan_expand(r);
		if (r->expanded)
			r->phase = TC_RUN_DRAINING;
		return true;
	case TC_RUN_DRAINING:
		if (idle && tc_rconn_ctx(r->disp->cmd))
			run_finish(r);
		return true;
	case TC_RUN_BROKEN:
		while (r->n_plan)
			tc_dlv_free(r->plan[--r->n_plan]);
		if (r->live || r->n_move || r->writes || r->outbox)
			return true;
		tc_run_free(r);
		return false;
	default:
		return true;
	}
}

static void on_turn(uv_idle_t *h)
{
	tc_disp_poke(container_of(h, struct tc_disp, turn));
}

void tc_run_more(struct tc_disp *d)
{
	/* An active idle handle makes the loop poll without waiting; the
	 * pump stops it, and whoever still has work starts it again. */
	uv_idle_start(&d->turn, on_turn);
}

void tc_run_pump_all(struct tc_disp *d)
{
	struct tc_run *r, *next;

	uv_idle_stop(&d->turn);
	/* Runs are in priority order, so critical jobs take memory first. */
	for (r = d->runs; r; r = next) {
		next = r->next;
		if (run_step(r) && r->phase == TC_RUN_EXPANDING)
			tc_track_plan_flush(r);
	}
	tc_sched_dispatch(d, true);
	for (r = d->runs; r; r = next) {
		next = r->next;
		/* An accepting run's batch is ACCEPT's. */
		if (r->phase != TC_RUN_BROKEN && r->phase != TC_RUN_ACCEPTING)
			tc_track_plan_flush(r);
		tc_track_move_flush(r);
		if (r->phase == TC_RUN_DRAINING || r->phase == TC_RUN_BROKEN)
			(void)run_step(r);
	}
}

void tc_run_ack_duplicate(struct tc_run *r)
{
	char k_stream[TC_KEY_MAX], k_events[TC_KEY_MAX], ref[128];
	const char *xack[4], *xadd[13];

	tc_key_jobs(k_stream, sizeof(k_stream), r->disp->cfg->prefix, r->job.severity);
	tc_key_events(k_events, sizeof(k_events), r->disp->cfg->prefix);
	snprintf(ref, sizeof(ref), "%s", r->entry_ref);
	r->disp->stats.jobs[TC_JOB_DUPLICATE]++;
	xadd[0] = "XADD";
	xadd[1] = k_events;
	xadd[2] = "MAXLEN";
	xadd[3] = "~";
	xadd[4] = "100000";
	xadd[5] = "*";
	xadd[6] = "job";
	xadd[7] = r->job.id;
	xadd[8] = "entry";
	xadd[9] = ref;
	xadd[10] = "event";
	xadd[11] = "duplicate";
	xack[0] = "XACK";
	xack[1] = k_stream;
	xack[2] = TC_GROUP_NAME;
	xack[3] = r->job.entry;
	(void)tc_rconn_cmd(r->disp->cmd, NULL, NULL, 12, xadd, NULL);
	(void)tc_rconn_cmd(r->disp->cmd, NULL, NULL, 4, xack, NULL);
}

static void accept_done(redisAsyncContext *ac, void *reply, void *priv)
{
	struct tc_run *r = priv;
	redisReply *rep = reply;
	const redisReply *batch;
	const char *verdict, *state;

	(void)ac;
	r->writes--;
	if (r->phase == TC_RUN_BROKEN) {
		/* Interrupted meanwhile: whatever ACCEPT did, the next pass
		 * resumes it. */
		tc_disp_poke(r->disp);
		return;
	}
	if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements < 3 ||
	    rep->elements > 4 || rep->element[0]->type != REDIS_REPLY_STRING ||
	    rep->element[2]->type != REDIS_REPLY_INTEGER ||
	    rep->element[2]->integer < 0 || rep->element[2]->integer > UINT32_MAX ||
	    (rep->elements == 4 && (rep->element[3]->type != REDIS_REPLY_ARRAY ||
				    rep->element[3]->elements != r->n_plan))) {
		tc_run_break(r, !rep ? "no reply" : rep->type == REDIS_REPLY_ERROR ? rep->str :
			  "unexpected reply");
		tc_disp_poke(r->disp);
		return;
	}
	verdict = rep->element[0]->str;
	r->pass = (unsigned)rep->element[2]->integer;
	batch = rep->elements == 4 ? rep->element[3] : NULL;
	state = rep->element[1]->type == REDIS_REPLY_STRING ? rep->element[1]->str : "";
	if (strcmp(verdict, "duplicate") == 0) {
		tc_log(TC_LOG_INFO, "run", "job=%s entry=%s event=duplicate state=%s, not sent again",
		       r->job.id, r->entry_ref, state);
		tc_run_ack_duplicate(r);
		tc_run_free(r); /* the memory goes when its timer closed */
		tc_disp_poke(r->disp);
		return;
	}
	if (strcmp(state, "asleep") == 0) {
		/* Waiting for send_at, in Redis only: woken by tc_wake. */
		tc_log(TC_LOG_INFO, "run", "job=%s entry=%s event=scheduled severity=%s send_at_ms=%lld, asleep until then",
		       r->job.id, r->entry_ref, tc_severity_name(r->job.severity),
		       (long long)r->job.send_at_ms);
		tc_wake_at(r->disp, r->job.send_at_ms);
		tc_run_free(r);
		tc_disp_poke(r->disp);
		return;
	}
	tc_log(TC_LOG_INFO, "run", "job=%s entry=%s event=%s severity=%s",
	       r->job.id, r->entry_ref, verdict, tc_severity_name(r->job.severity));
	if (strcmp(state, "done") == 0) {
		/* Finished before a crash took the acknowledgement: nothing
		 * more to plan. */
		while (r->n_plan)
			tc_dlv_free(r->plan[--r->n_plan]);
		r->expanded = true;
		r->phase = TC_RUN_DRAINING;
	} else if (strcmp(state, "cancelled") == 0) {
		/* Cancelled, then interrupted: plan again so that whatever
		 * was not final is recorded as cancelled. */
		r->cancelled = true;
		r->phase = TC_RUN_EXPANDING;
	} else {
		/* A job woken at its send_at is sending from now on. */
		if (strcmp(state, "scheduled") == 0)
			tc_track_job_state(r, "sending");
		r->phase = TC_RUN_EXPANDING;
	}
	if (batch) {
		/* Planned with the acceptance: send them now. Otherwise
		 * PLAN plans them, as this pass's. */
		tc_plan_result(r, r->plan, r->n_plan, batch);
		r->n_plan = 0;
		tc_sched_dispatch(r->disp, false);
	}
	tc_disp_poke(r->disp);
}

/* Whether r only waits for parked retries: all planned, nothing in
 * memory or under way. */
static bool only_waiting(const struct tc_run *r)
{
	return r->phase == TC_RUN_DRAINING && r->parked && !r->live && !r->n_plan &&
	       !r->n_move && !r->writes && !r->outbox;
}

unsigned tc_runs_active(const struct tc_disp *d)
{
	const struct tc_run *r;
	unsigned n = 0, waiting = 0;

	for (r = d->runs; r; r = r->next)
		if (!only_waiting(r) || ++waiting > TC_WAITING_JOBS)
			n++;
	return n;
}

/* Inserts r after every run of the same or a higher severity. */
static void run_link(struct tc_disp *d, struct tc_run *r)
{
	struct tc_run **p = &d->runs;

	while (*p && (*p)->job.severity <= r->job.severity)
		p = &(*p)->next;
	r->next = *p;
	*p = r;
	d->n_runs++;
}

void tc_run_start(struct tc_disp *d, struct tc_job *job, const char *text,
		  size_t len)
{
	struct tc_run *r = calloc(1, sizeof(*r));
	const char *prefix = d->cfg->prefix;
	int counting;

	if (!r) {
		tc_log(TC_LOG_ERROR, "run", "job=%s event=out-of-memory, it stays pending",
		       job->id);
		tc_job_release(job);
		return;
	}
	r->disp = d;
	r->job = *job; /* taken */
	memset(job, 0, sizeof(*job));
	uv_timer_init(d->loop, &r->timer);
	snprintf(r->entry_ref, sizeof(r->entry_ref), "%s/%s",
		 tc_severity_name(r->job.severity), r->job.entry);
	tc_key_job(r->key_job, sizeof(r->key_job), prefix, r->job.id);
	tc_key_deliveries(r->key_dlv, sizeof(r->key_dlv), prefix, r->job.id);
	tc_key_job_events(r->key_ev, sizeof(r->key_ev), prefix, r->job.id);
	r->vars_json = json_dumps(r->job.vars, JSON_COMPACT);
	r->data = tc_tpl_data_new(r->job.vars, r->job.id, r->job.incident,
				  tc_severity_name(r->job.severity));
	if (r->data && r->job.responses &&
	    json_object_set_nocheck(r->data, "responses", r->job.responses) < 0) {
		json_decref(r->data);
		r->data = NULL;
	}
	r->phase = TC_RUN_ACCEPTING;
	run_link(d, r);
	if (!r->vars_json || !r->data || tc_esc_init(r) < 0) {
		tc_run_break(r, "out of memory");
		return;
	}
	counting = tc_count_start(r, text, len);
	if (counting < 0)
		tc_run_break(r, "out of memory");
	else if (counting == 0)
		tc_run_accept(r, text, len);
}

void tc_run_accept(struct tc_run *r, const char *text, size_t len)
{
	struct tc_disp *d = r->disp;
	struct tc_rconn *conn;
	bool later;
	int sent;

	r->phase = TC_RUN_ACCEPTING;
	/* ACCEPT goes on the intake connection when no read waits there
	 * (right after a read, that is): a new job is then accepted at once,
	 * not behind the tracking writes a broadcast queued on the command
	 * connection. */
	conn = !d->reading && tc_rconn_ctx(d->intake) ? d->intake : d->cmd;
	later = r->job.send_at_ms > tc_time_now_ms();
	/* The first batch rides along, made for a first pass: a new job
	 * (the common case) is accepted and planned in one round trip. */
	r->pass = 1;
	r->n_writes = 1;
	if (!later && !d->stopping && tc_rconn_ctx(d->cmd))
		tc_plan_expand(r);
	if (r->phase == TC_RUN_BROKEN)
		return; /* out of memory while expanding: it stays pending */
	sent = tc_track_accept(r, conn, text, len, later, accept_done);
	if (sent < 0) {
		tc_run_break(r, sent == -ENOMEM ? "out of memory" : "redis down");
		return;
	}
	r->writes++;
}
