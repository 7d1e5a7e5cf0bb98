/*
 * Escalation: a job with a policy (its `escalation`, or
 * dispatcher.escalation for its severity) gets its next round written as
 * a child job "<root>.esc.<n>" by the very ACCEPT that starts it, asleep
 * until now + after in <prefix>:scheduled, so a crash never loses it and
 * any instance may wake and send it. Round n is the job's template sent to
 * each member who has not acknowledged the root job (nor a round of it),
 * on the n-th channel of the policy's `channels` they have an address for
 * (their last one when they have fewer), to the job's groups and the
 * policy's; it writes round n + 1 in turn, up to `rounds`.
 *
 * A round is an ordinary job of the contract (DESIGN.md allows no other
 * keys): its id says it is a round and of which job, its `escalation`
 * names the policy, its `channels` are the policy's, its `send_at` when it
 * runs. Acknowledgements of every round are kept in the root job's acks,
 * so a member acknowledges once per job family.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dispatcher/dispatcher.h"

/* The policy r follows, or NULL. */
static const struct tc_escalation *policy(const struct tc_run *r)
{
	const struct tc_cfg *cfg = r->disp->cfg;
	const char *name = r->job.escalation ? r->job.escalation :
			   cfg->escalation[r->job.severity];

	return name ? tc_cfg_escalation(cfg, name) : NULL;
}

int tc_esc_init(struct tc_run *r)
{
	char root[TC_LIMIT_JOB_ID + 1];
	json_t *e;

	r->key_acks[0] = '\0';
	if (!r->job.escalation)
		return 0;
	r->round = tc_job_round(r->job.id, root, sizeof(root));
	if (!r->round)
		return 0;
	tc_key_acks(r->key_acks, sizeof(r->key_acks), r->disp->cfg->prefix, root);
	e = json_pack("{s:i}", "round", r->round);
	if (!e || json_object_set_new_nocheck(r->data, "escalation", e) < 0)
		return -ENOMEM;
	return 0;
}

/* Adds each of names not yet in groups (an array). */
static int add_groups(json_t *groups, char *const *names, size_t n)
{
	size_t i, j;
	json_t *g;

	for (i = 0; i < n; i++) {
		bool have = false;

		json_array_foreach(groups, j, g)
			have = have || strcmp(json_string_value(g), names[i]) == 0;
		if (!have && json_array_append_new(groups, json_string(names[i])) < 0)
			return -ENOMEM;
	}
	return 0;
}

int tc_esc_next(struct tc_run *r, const char *text, size_t len,
		struct tc_esc_child *c)
{
	const struct tc_escalation *p = policy(r);
	char root[TC_LIMIT_JOB_ID + 1], at[40];
	json_t *job = NULL, *groups, *chans;
	int64_t start = r->job.send_at_ms > tc_time_now_ms() ?
			r->job.send_at_ms : tc_time_now_ms();
	size_t i;
	int n;

	memset(c, 0, sizeof(*c));
	if (!p || (unsigned)r->round >= p->rounds)
		return 0;
	if (!r->round)
		snprintf(root, sizeof(root), "%s", r->job.id);
	else
		tc_job_round(r->job.id, root, sizeof(root));
	n = snprintf(c->id, sizeof(c->id), "%s.esc.%d", root, r->round + 1);
	if (n < 0 || !tc_job_id_valid(c->id)) {
		tc_log(TC_LOG_WARN, "escalate", "job=%s event=no-escalation reason=\"the id is too long for a round's id\"",
		       r->job.id);
		c->id[0] = '\0';
		return 0;
	}
	c->due_ms = start + (int64_t)p->after_ms;
	if (r->job.expires_at_ms && c->due_ms >= r->job.expires_at_ms) {
		c->id[0] = '\0'; /* it would be stale before it is sent */
		return 0;
	}
	job = json_loadb(text, len, 0, NULL);
	groups = json_object_get(job, "groups");
	if (!groups && job) {
		groups = json_array();
		if (json_object_set_new_nocheck(job, "groups", groups) < 0)
			groups = NULL;
	}
	chans = json_array();
	for (i = 0; chans && i < p->n_channels; i++)
		if (json_array_append_new(chans, json_string(tc_channel_name(p->channels[i]))) < 0)
			break;
	tc_time_format(c->due_ms, at, sizeof(at));
	if (!job || !groups || !chans || i < p->n_channels ||
	    add_groups(groups, p->groups, p->n_groups) < 0 ||
	    json_object_set_new_nocheck(job, "channels", chans) < 0 ||
	    json_object_set_new_nocheck(job, "id", json_string(c->id)) < 0 ||
	    json_object_set_new_nocheck(job, "escalation", json_string(p->name)) < 0 ||
	    json_object_set_new_nocheck(job, "send_at", json_string(at)) < 0) {
		json_decref(job);
		c->id[0] = '\0';
		return -ENOMEM;
	}
	c->json = json_dumps(job, JSON_COMPACT);
	json_decref(job);
	if (!c->json) {
		c->id[0] = '\0';
		return -ENOMEM;
	}
	return 0;
}

unsigned tc_esc_channels(const struct tc_run *r, const struct tc_member *m,
			 unsigned mask)
{
	const struct tc_escalation *p;
	unsigned pick = 0;
	int seen = 0;
	size_t i;

	if (!r->round || !(p = policy(r)))
		return mask;
	for (i = 0; i < p->n_channels && seen < r->round; i++) {
		enum tc_channel c = p->channels[i];

		if (mask & TC_CH_BIT(c)) {
			pick = TC_CH_BIT(c);
			seen++;
		}
	}
	return pick;
}
