/*
 * channels.sms.max_per_job: the segments a job would send, counted over its
 * whole audience before anything of it is sent, so a job over the budget
 * is refused first. Each member's text is composed with the channel's own
 * code (the same render and fit as the send: vars and names change the
 * length), once per phone number among the members the caller lets the
 * budget remember (inline members and a job's recipients: bounded lists).
 * Roster rows are counted each, never remembered, so that a million-row
 * roster costs no memory here: a number listed twice in rosters is counted
 * twice (an upper bound), a roster row with the number of an inline member
 * or recipient counted before is not.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channels/internal.h"
#include "channels/sms/provider.h"

struct budget {
	const struct tc_cfg *cfg;
	const struct tc_tpl_store *store;
	const struct tc_job *job;
	json_t *data;               /* the render data */
	json_t *seen;               /* phones remembered, as an object's keys */
	uint64_t segments;
	struct tc_msg msg;          /* reused from member to member */
};

int tc_sms_budget_new(const struct tc_cfg *cfg, const struct tc_tpl_store *store,
		      const struct tc_job *job, void **state)
{
	struct budget *b;

	*state = NULL;
	if (!(job->channels & TC_CH_BIT(TC_CH_SMS)))
		return 0;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->cfg = cfg;
	b->store = store;
	b->job = job;
	tc_msg_init(&b->msg);
	b->seen = json_object();
	b->data = tc_tpl_data_new(job->vars, job->id, job->incident,
				  tc_severity_name(job->severity));
	if (!b->seen || !b->data) {
		tc_sms_budget_free(b);
		return -ENOMEM;
	}
	*state = b;
	return 0;
}

int tc_sms_budget_add(void *state, const char *group, unsigned group_ch,
		      const struct tc_member *m, bool keep, struct tc_diag *d)
{
	struct budget *b = state;
	unsigned mask = tc_member_channels(m, group_ch, b->job->channels);
	const char *phone = tc_member_address(m, TC_CH_SMS);
	struct tc_chan_route route;
	struct tc_chan_dlv v;
	char why[256];
	int r;

	if (!(mask & TC_CH_BIT(TC_CH_SMS)) || json_object_get(b->seen, phone))
		return 0;
	if ((keep && json_object_set_new(b->seen, phone, json_true()) < 0) ||
	    tc_tpl_data_set_member(b->data, group, m) < 0) {
		tc_diag_set(d, "job", 0, NULL, "counting its SMS segments: out of memory");
		return -ENOMEM;
	}
	memset(&v, 0, sizeof(v));
	tc_chan_route_init(&route);
	v.id = "";
	v.job = b->job;
	v.group = group;
	v.member = m;
	v.address = phone;
	v.vars_json = "{}";
	v.route = &route;
	r = tc_chan_compose(TC_CH_SMS, b->cfg, b->store, &v, b->data, &b->msg, why,
			    sizeof(why));
	if (r == 0) {
		b->segments += b->msg.sms.segments;
		return 0;
	}
	if (r == -ENOMEM)
		tc_diag_set(d, "job", 0, NULL, "counting its SMS segments: out of memory");
	else
		tc_diag_set(d, "job", 0, "template", "sms for %s: %s",
			    m->name ? m->name : phone, why);
	return r;
}

int tc_sms_budget_end(void *state, struct tc_diag *d)
{
	const struct budget *b = state;

	if (b->segments <= b->cfg->sms.max_per_job)
		return 0;
	tc_diag_set(d, "job", 0, NULL, "would send %llu SMS segments, more than "
		    "channels.sms.max_per_job %u", (unsigned long long)b->segments,
		    b->cfg->sms.max_per_job);
	return TC_EINVAL;
}

void tc_sms_budget_free(void *state)
{
	struct budget *b = state;

	if (!b)
		return;
	json_decref(b->data);
	json_decref(b->seen);
	tc_msg_release(&b->msg);
	free(b);
}
