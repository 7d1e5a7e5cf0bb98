/*
 * The planner: expands a job's audience lazily (groups in order, inline
 * members then roster rows, then the job's recipients) into deliveries,
 * one per member and channel, while memory allows, and learns from the
 * PLAN script which of them are new (a member listed twice gets one
 * message per channel; a restarted daemon resumes what it planned before).
 *
 * Keeps true: memory holds at most cfg->in_flight deliveries over all runs
 * (or one member's, up to one per channel, when in_flight is smaller); a
 * job below critical leaves part of it free for a critical one.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "dispatcher/dispatcher.h"

/* Copies the strings a delivery needs into one allocation after it. */
struct tc_dlv *tc_dlv_new(struct tc_run *r, enum tc_channel c, const char *address,
			  const char *group, const struct tc_member *m)
{
	const char *src[6] = { address, group, m->name, m->role, m->email, m->phone };
	size_t len[6], total = 0;
	struct tc_dlv *v;
	char *p, **dst[6];
	int i;

	for (i = 0; i < 6; i++) {
		if (!src[i])
			src[i] = "";
		total += len[i] = strlen(src[i]) + 1;
	}
	v = malloc(sizeof(*v) + total);
	if (!v)
		return NULL;
	memset(v, 0, sizeof(*v));
	v->run = r;
	v->ch = c;
	v->state = TC_DS_QUEUED;
	dst[0] = &v->address;
	dst[1] = &v->group;
	dst[2] = &v->name;
	dst[3] = &v->role;
	dst[4] = &v->email;
	dst[5] = &v->phone;
	for (i = 0, p = (char *)(v + 1); i < 6; p += len[i], i++)
		*dst[i] = memcpy(p, src[i], len[i]);
	tc_delivery_id(r->job.id, c, address, v->id);
	tc_member_key(v->name, v->email, v->phone, v->address, v->member_key);
	tc_msg_init(&v->msg);
	tc_buf_init(&v->reasons, TC_LIMIT_REASONS);
	tc_buf_init(&v->tried, TC_LIMIT_TRIED);
	tc_chan_route_init(&v->route);
	r->live++;
	r->disp->live++;
	return v;
}

void tc_dlv_free(struct tc_dlv *v)
{
	v->run->live--;
	v->run->disp->live--;
	tc_msg_release(&v->msg);
	tc_buf_release(&v->reasons);
	tc_buf_release(&v->tried);
	free(v);
}

/* Learns what PLAN said of each of the n deliveries dlv and queues those
 * to send. */
void tc_plan_result(struct tc_run *r, struct tc_dlv **dlv, unsigned n,
		    const redisReply *rep)
{
	unsigned i;

	for (i = 0; i < n; i++) {
		struct tc_dlv *v = dlv[i];
		const redisReply *e = rep->element[i];
		json_t *old = NULL, *st;
		int s = TC_DS_QUEUED;

		if (e->type == REDIS_REPLY_STRING && (strcmp(e->str, "dup") == 0 ||
						      strcmp(e->str, "acked") == 0)) {
			/* The same address on the same channel, listed again;
			 * or, in an escalation round, a member who already
			 * acknowledged: nothing to send. */
			tc_dlv_free(v);
			continue;
		}
		if (e->type == REDIS_REPLY_STRING && e->len > 0 && strcmp(e->str, "mine") != 0) {
			/* Planned by an earlier pass: a restart resumes it. */
			old = json_loadb(e->str, e->len, 0, NULL);
			st = json_object_get(old, "state");
			s = json_is_string(st) ? tc_dstate_parse(json_string_value(st)) : -1;
			v->attempts = (unsigned)tc_json_int(old, "attempts", 0, UINT32_MAX);
			v->due_ms = tc_json_int(old, "next_attempt_ms", 0, INT64_MAX / 2);
			json_decref(old);
			if (s < 0 || tc_dstate_final(s)) {
				r->finals++;
				tc_dlv_free(v);
				continue;
			}
		} else {
			r->planned++;
			r->disp->stats.moves[v->ch][TC_DS_QUEUED]++;
		}
		v->state = s;
		/* A retry that was waiting when tocsind stopped keeps its time:
		 * in memory when it is near, parked when it is far. */
		if (s == TC_DS_RETRYING && v->due_ms > tc_time_now_ms() + TC_PARK_MS &&
		    tc_park(r->disp, v) == 0)
			continue;
		if (s == TC_DS_RETRYING && v->due_ms > tc_time_now_ms() &&
		    tc_sched_wait(r->disp, v) == 0)
			continue;
		tc_sched_ready(r->disp, v);
	}
}

/* Plans each channel member m should get. */
static void plan_member(struct tc_run *r, const char *group, unsigned group_ch,
			const struct tc_member *m)
{
	unsigned mask = tc_esc_channels(r, m, tc_member_channels(m, group_ch,
								 r->job.channels));
	struct tc_dlv *v;
	int c;

	if (!mask) {
		/* No address on any channel the job uses: counted, not silent. */
		r->unreachable++;
		return;
	}
	for (c = 0; c < TC_CH_COUNT; c++) {
		if (!(mask & TC_CH_BIT(c)))
			continue;
		v = tc_dlv_new(r, c, tc_member_address(m, c), group, m);
		if (!v) {
			tc_run_break(r, "out of memory");
			return;
		}
		r->plan[r->n_plan++] = v;
	}
}

static void roster_ready(void *data)
{
	struct tc_run *r = data;

	tc_disp_poke(r->disp);
}

static void next_group(struct tc_run *r)
{
	r->gi++;
	r->mi = 0;
	r->roster_phase = false;
	if (r->rr) {
		tc_rr_free(r->rr);
		r->rr = NULL;
	}
}

/* One step of a roster: false when it must wait for the file. */
static bool expand_roster(struct tc_run *r, const struct tc_group *g)
{
	char why[600], q[TC_LIMIT_LOG_VALUE + 16];
	const struct tc_member *m;
	unsigned line;
	bool bad;

	if (!r->rr) {
		r->rr = tc_rr_new(r->disp->loop, g->roster, tc_cfg_phone_region(r->disp->cfg),
				  r->disp->phones, roster_ready, r);
		if (!r->rr) {
			tc_run_break(r, "out of memory");
			return false;
		}
	}
	m = tc_rr_next(r->rr, &bad, &line, why, sizeof(why));
	if (m) {
		plan_member(r, g->name, g->channels, m);
		return true;
	}
	if (bad) {
		/* The file changed since it was checked at load. */
		r->roster_errors++;
		tc_log(TC_LOG_ERROR, "run", "job=%s group=%s event=roster-row-skipped err=%s",
		       r->job.id, g->name, tc_log_quote(q, sizeof(q), why));
		return true;
	}
	if (!tc_rr_done(r->rr, why, sizeof(why)))
		return false;
	if (why[0])
		tc_log(TC_LOG_ERROR, "run", "job=%s group=%s event=roster-failed err=%s, going on with the next group",
		       r->job.id, g->name, tc_log_quote(q, sizeof(q), why));
	next_group(r);
	return true;
}

/* Whether r may plan another member (up to one delivery per channel): a
 * critical job may fill in_flight; others leave an eighth of it free (at
 * least a member's worth, at most one batch), so a critical job never
 * waits for memory behind a broadcast. With nothing in memory a member is
 * planned whatever in_flight says, so an in_flight below the channel count
 * still makes progress. */
static bool room_for_member(const struct tc_run *r)
{
	unsigned live = r->disp->live, cap = r->disp->cfg->in_flight;
	unsigned reserve = cap / 8 < TC_CH_COUNT ? TC_CH_COUNT : cap / 8;

	if (reserve > TC_PLAN_BATCH)
		reserve = TC_PLAN_BATCH;
	if (r->job.severity != TC_SEV_CRITICAL && reserve < cap)
		cap -= reserve;
	return live == 0 || live + TC_CH_COUNT <= cap;
}

/* Plans members while memory allows; stops to wait for a roster. Before
 * the job is accepted it gathers one batch only, for ACCEPT to plan. */
void tc_plan_expand(struct tc_run *r)
{
	struct tc_disp *d = r->disp;
	const struct tc_group *g;

	while ((r->phase == TC_RUN_EXPANDING || r->phase == TC_RUN_ACCEPTING) &&
	       !r->expanded && room_for_member(r)) {
		if (r->n_plan + TC_CH_COUNT > TC_PLAN_BATCH) {
			if (r->phase == TC_RUN_ACCEPTING)
				return;
			tc_track_plan_flush(r);
		}
		if (r->gi < r->job.n_groups) {
			g = tc_cfg_group(d->cfg, r->job.groups[r->gi]);
			if (!g) {
				next_group(r);
			} else if (!r->roster_phase && r->mi < g->n_members) {
				plan_member(r, g->name, g->channels, &g->members[r->mi++]);
			} else if (!r->roster_phase && g->roster) {
				r->roster_phase = true;
			} else if (!r->roster_phase) {
				next_group(r);
			} else if (!expand_roster(r, g)) {
				return;
			}
		} else if (r->mi < r->job.n_recipients) {
			plan_member(r, "", TC_CH_ALL, &r->job.recipients[r->mi++]);
		} else {
			r->expanded = true;
			r->audience_seen = true;
		}
	}
}
