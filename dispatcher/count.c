/*
 * The count before acceptance: a job whose audience includes a roster is
 * counted against the channels' budgets (SMS: channels.sms.max_per_job)
 * over every member, roster rows included, before ACCEPT records it. A job
 * over a budget is refused (REFUSE) before anything of it is sent, on any
 * channel: the budget guards the bill, and half a broadcast (its emails,
 * not its texts) is not what the sender asked for. Intake counted the
 * members the job names itself (tc_chan_job_check); only a roster, read
 * here off the disk as it will be read for planning, brings this pass.
 *
 * Keeps true: nothing of the job is written before the count ends (a crash
 * mid-count leaves its entry pending, and the next start counts again); a
 * job already accepted (a restart resuming it, a duplicate) is not
 * counted again; memory is one roster chunk, whatever the roster's size;
 * the loop counts COUNT_STEP members per turn, so sends go on meanwhile.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "dispatcher/dispatcher.h"

#define COUNT_STEP 256 /* members counted per loop turn */

enum count_state {
	COUNT_PROBING,              /* asking Redis whether to count */
	COUNT_READING,              /* counting, rosters being read */
	COUNT_REFUSING,             /* REFUSE under way */
};

struct tc_count {
	enum count_state state;
	struct tc_chan_budget *b;   /* under the configuration of its start */
	char *text;                 /* the job as it came, for ACCEPT or REFUSE */
	size_t len;
	size_t gi;                  /* the group whose roster is read next */
	struct tc_roster_reader *rr;
};

void tc_count_free(struct tc_count *c)
{
	if (!c)
		return;
	tc_rr_free(c->rr);
	tc_chan_budget_free(c->b);
	free(c->text);
	free(c);
}

/* Done counting, within every budget: accepted as any job. */
static void pass(struct tc_run *r)
{
	struct tc_count *c = r->count;

	r->count = NULL;
	tc_run_accept(r, c->text, c->len);
	tc_count_free(c);
}

static void refuse_done(redisAsyncContext *ac, void *reply, void *priv)
{
	struct tc_run *r = priv;
	redisReply *rep = reply;

	(void)ac;
	r->writes--;
	if (r->phase == TC_RUN_BROKEN) {
		tc_disp_poke(r->disp);
		return;
	}
	if (!rep || (rep->type != REDIS_REPLY_STATUS && rep->type != REDIS_REPLY_STRING)) {
		/* Nothing was written: the next start counts again. */
		tc_run_break(r, !rep ? "no reply" : rep->type == REDIS_REPLY_ERROR ? rep->str :
			     "unexpected reply");
	} else if (strcmp(rep->str, "duplicate") == 0) {
		tc_log(TC_LOG_INFO, "run", "job=%s entry=%s event=duplicate, accepted meanwhile: not sent again",
		       r->job.id, r->entry_ref);
		tc_run_ack_duplicate(r);
		tc_run_free(r);
	} else {
		r->disp->stats.jobs[TC_JOB_REFUSED]++;
		tc_run_free(r);
	}
	tc_disp_poke(r->disp);
}

/* Over a budget (or a member's message cannot be composed): the job is
 * refused with d's reason, in one script. */
static void refuse(struct tc_run *r, const struct tc_diag *d)
{
	struct tc_count *c = r->count;
	const struct tc_cfg *cfg = r->disp->cfg;
	char k_stream[TC_KEY_MAX], k_events[TC_KEY_MAX], k_dead[TC_KEY_MAX];
	char reason[1200], q[TC_LIMIT_LOG_VALUE + 16];
	struct tc_retain keep;
	const char *argv[19];
	size_t lens[19];
	int i;

	c->state = COUNT_REFUSING;
	tc_rr_free(c->rr);
	c->rr = NULL;
	tc_diag_format(d, reason, sizeof(reason));
	tc_log(TC_LOG_WARN, "run", "job=%s entry=%s event=refused reason=%s, nothing of it is sent",
	       r->job.id, r->entry_ref, tc_log_quote(q, sizeof(q), reason));
	tc_key_jobs(k_stream, sizeof(k_stream), cfg->prefix, r->job.severity);
	tc_key_events(k_events, sizeof(k_events), cfg->prefix);
	tc_key_dead(k_dead, sizeof(k_dead), cfg->prefix);
	tc_retain_args(&keep, cfg->retention_ms, tc_time_now_ms());
	argv[0] = "EVAL";
	argv[1] = tc_lua_refuse;
	argv[2] = "5";
	argv[3] = r->key_job;
	argv[4] = k_stream;
	argv[5] = k_events;
	argv[6] = r->key_ev;
	argv[7] = k_dead;
	argv[8] = TC_GROUP_NAME;
	argv[9] = r->job.entry;
	argv[10] = r->entry_ref;
	argv[11] = tc_disp_now(r->disp);
	argv[12] = r->job.id;
	argv[13] = reason;
	argv[14] = tc_severity_name(r->job.severity);
	argv[15] = r->job.template;
	argv[16] = r->job.incident ? r->job.incident : "";
	argv[17] = c->text;
	argv[18] = keep.ttl;
	for (i = 0; i < 19; i++)
		lens[i] = strlen(argv[i]);
	lens[17] = c->len > TC_LIMIT_JOB_BYTES ? TC_LIMIT_JOB_BYTES : c->len;
	if (tc_rconn_cmd(r->disp->cmd, refuse_done, r, 19, argv, lens) < 0) {
		tc_run_break(r, "redis down");
		return;
	}
	r->writes++;
}

/* Counts the members r's job names itself; false when it was refused. */
static bool count_known(struct tc_run *r)
{
	const struct tc_cfg *cfg = r->disp->cfg;
	const struct tc_job *job = &r->job;
	const struct tc_group *g;
	struct tc_diag d;
	size_t i, k;
	int e = 0;

	memset(&d, 0, sizeof(d));
	for (i = 0; i < job->n_groups && e == 0; i++) {
		g = tc_cfg_group(cfg, job->groups[i]);
		for (k = 0; g && k < g->n_members && e == 0; k++)
			e = tc_chan_budget_add(r->count->b, g->name, g->channels,
					       &g->members[k], true, &d);
	}
	for (i = 0; i < job->n_recipients && e == 0; i++)
		e = tc_chan_budget_add(r->count->b, "", TC_CH_ALL, &job->recipients[i],
				       true, &d);
	if (e == -ENOMEM) {
		tc_run_break(r, "out of memory");
		return false;
	}
	if (e < 0) {
		refuse(r, &d);
		return false;
	}
	return true;
}

static void probe_done(redisAsyncContext *ac, void *reply, void *priv)
{
	struct tc_run *r = priv;
	redisReply *rep = reply;
	const redisReply *entry, *state, *refused;

	(void)ac;
	r->writes--;
	if (r->phase == TC_RUN_BROKEN) {
		tc_disp_poke(r->disp);
		return;
	}
	if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements != 3) {
		tc_run_break(r, !rep ? "no reply" : rep->type == REDIS_REPLY_ERROR ? rep->str :
			     "unexpected reply");
		tc_disp_poke(r->disp);
		return;
	}
	entry = rep->element[0];
	state = rep->element[1];
	refused = rep->element[2];
	/* Counted: a new job, one refused before (sent again by `tocsin dead
	 * retry`), one woken at its send_at (nothing of it sent yet, and its
	 * rosters may have grown since). Any other was counted when it was
	 * accepted, or is a duplicate ACCEPT will tell. */
	if (!r->count->b ||
	    (entry->type == REDIS_REPLY_STRING && refused->type != REDIS_REPLY_STRING &&
	    !(strcmp(entry->str, r->entry_ref) == 0 && state->type == REDIS_REPLY_STRING &&
	      strcmp(state->str, "scheduled") == 0))) {
		/* (no budget left: a reload took it away) */
		pass(r);
	} else if (count_known(r)) {
		r->count->state = COUNT_READING;
	}
	tc_disp_poke(r->disp);
}

static void roster_ready(void *data)
{
	struct tc_run *r = data;

	tc_disp_poke(r->disp);
}

void tc_count_step(struct tc_run *r)
{
	struct tc_count *c = r->count;
	const struct tc_cfg *cfg = r->disp->cfg;
	const struct tc_member *m;
	const struct tc_group *g;
	char why[600], q[TC_LIMIT_LOG_VALUE + 16];
	unsigned line, n = 0;
	struct tc_diag d;
	bool bad;
	int e;

	if (!c || c->state != COUNT_READING)
		return;
	while (c->gi < r->job.n_groups) {
		g = tc_cfg_group(cfg, r->job.groups[c->gi]);
		if (!g || !g->roster) {
			c->gi++;
			continue;
		}
		if (n++ == COUNT_STEP) {
			tc_run_more(r->disp); /* the rest next turn */
			return;
		}
		if (!c->rr) {
			c->rr = tc_rr_new(r->disp->loop, g->roster, tc_cfg_phone_region(cfg),
					  r->disp->phones, roster_ready, r);
			if (!c->rr) {
				tc_run_break(r, "out of memory");
				return;
			}
		}
		m = tc_rr_next(c->rr, &bad, &line, why, sizeof(why));
		if (m) {
			memset(&d, 0, sizeof(d));
			e = tc_chan_budget_add(c->b, g->name, g->channels, m, false, &d);
			if (e == -ENOMEM) {
				tc_run_break(r, "out of memory");
				return;
			}
			if (e < 0) {
				snprintf(d.source, sizeof(d.source), "%s", g->roster);
				d.line = line;
				refuse(r, &d);
				return;
			}
			continue;
		}
		/* A row that no longer validates is skipped here as the
		 * planner skips it (and counts it there). */
		if (bad)
			continue;
		if (!tc_rr_done(c->rr, why, sizeof(why)))
			return; /* roster_ready pokes when more is read */
		if (why[0])
			tc_log(TC_LOG_ERROR, "run", "job=%s group=%s event=roster-failed err=%s, counting the next group",
			       r->job.id, g->name, tc_log_quote(q, sizeof(q), why));
		tc_rr_free(c->rr);
		c->rr = NULL;
		c->gi++;
	}
	memset(&d, 0, sizeof(d));
	if (tc_chan_budget_end(c->b, &d) < 0)
		refuse(r, &d);
	else
		pass(r);
}

void tc_count_reload(struct tc_disp *d)
{
	struct tc_run *r;
	struct tc_count *c;

	for (r = d->runs; r; r = r->next) {
		c = r->count;
		if (!c || c->state == COUNT_REFUSING || r->phase != TC_RUN_COUNTING)
			continue;
		/* Counted again from the start under the new configuration:
		 * its budgets, groups and templates may all have changed. */
		tc_rr_free(c->rr);
		c->rr = NULL;
		c->gi = 0;
		tc_chan_budget_free(c->b);
		if (tc_chan_budget_new(d->cfg, d->templates, &r->job, &c->b) < 0) {
			c->b = NULL;
			tc_run_break(r, "out of memory");
		} else if (c->state == COUNT_READING && !c->b) {
			pass(r);
		} else if (c->state == COUNT_READING) {
			(void)count_known(r);
		}
	}
}

int tc_count_start(struct tc_run *r, const char *text, size_t len)
{
	const struct tc_cfg *cfg = r->disp->cfg;
	const struct tc_group *g;
	struct tc_count *c;
	const char *argv[5];
	bool roster = false;
	size_t i;

	for (i = 0; i < r->job.n_groups; i++) {
		g = tc_cfg_group(cfg, r->job.groups[i]);
		roster |= g && g->roster;
	}
	if (!roster)
		return 0;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->text = malloc(len + 1);
	if (!c->text || tc_chan_budget_new(cfg, r->disp->templates, &r->job, &c->b) < 0) {
		tc_count_free(c);
		return -ENOMEM;
	}
	if (!c->b) {
		tc_count_free(c);
		return 0;
	}
	memcpy(c->text, text, len);
	c->text[len] = '\0';
	c->len = len;
	r->count = c;
	r->phase = TC_RUN_COUNTING;
	argv[0] = "HMGET";
	argv[1] = r->key_job;
	argv[2] = "entry";
	argv[3] = "state";
	argv[4] = "refused";
	if (tc_rconn_cmd(r->disp->cmd, probe_done, r, 5, argv, NULL) < 0) {
		tc_run_break(r, "redis down");
		return 1;
	}
	r->writes++;
	return 1;
}
