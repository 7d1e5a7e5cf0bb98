/*
 * channels.sms.max_per_job: the segments a job would send, counted before
 * it is accepted, so a job over the budget is refused before anything is
 * sent. Each known recipient's text is composed with the channel's own
 * code (the same render and fit as the send), once per phone number (a
 * member in two groups gets one message).
 *
 * What is counted: the inline members of the job's groups and the job's
 * recipients. Roster rows are read as the job is expanded, after it was
 * accepted, and are not counted here.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "channels/internal.h"
#include "channels/sms/provider.h"

struct budget {
	const struct tc_cfg *cfg;
	const struct tc_tpl_store *store;
	const struct tc_job *job;
	json_t *data;               /* the render data */
	json_t *seen;               /* phones counted, as an object's keys */
	uint64_t segments;
};

/* Adds m's segments (if it gets an SMS from this job, and was not
 * counted). Returns 0, or TC_EINVAL with d when its text cannot be
 * composed (the send would fail: refused now, naming it). */
static int count(struct budget *b, const char *group, unsigned group_ch,
		 const struct tc_member *m, struct tc_diag *d)
{
	unsigned mask = tc_member_channels(m, group_ch, b->job->channels);
	const char *phone = tc_member_address(m, TC_CH_SMS);
	struct tc_chan_route route;
	struct tc_chan_dlv v;
	struct tc_msg msg;
	char why[256];
	int r;

	if (!(mask & TC_CH_BIT(TC_CH_SMS)) || json_object_get(b->seen, phone))
		return 0;
	if (json_object_set_new(b->seen, phone, json_true()) < 0 ||
	    tc_tpl_data_set_member(b->data, group, m) < 0)
		return -ENOMEM;
	memset(&v, 0, sizeof(v));
	tc_chan_route_init(&route);
	v.id = "";
	v.job = b->job;
	v.group = group;
	v.member = m;
	v.address = phone;
	v.vars_json = "{}";
	v.route = &route;
	tc_msg_init(&msg);
	r = tc_chan_compose(TC_CH_SMS, b->cfg, b->store, &v, b->data, &msg, why,
			    sizeof(why));
	if (r == 0)
		b->segments += msg.sms.segments;
	tc_msg_release(&msg);
	if (r < 0 && r != -ENOMEM)
		tc_diag_set(d, "job", 0, "template", "sms for %s: %s",
			    m->name ? m->name : phone, why);
	return r;
}

int tc_sms_job_budget(const struct tc_cfg *cfg, const struct tc_tpl_store *store,
		      const struct tc_job *job, struct tc_diag *d)
{
	struct budget b = { cfg, store, job, NULL, json_object(), 0 };
	const struct tc_group *g;
	size_t i, k;
	int r = 0;

	b.data = tc_tpl_data_new(job->vars, job->id, job->incident,
				 tc_severity_name(job->severity));
	if (!b.data || !b.seen) {
		r = -ENOMEM;
		goto out;
	}
	for (i = 0; i < job->n_groups && r == 0; i++) {
		g = tc_cfg_group(cfg, job->groups[i]);
		for (k = 0; g && k < g->n_members && r == 0; k++)
			r = count(&b, g->name, g->channels, &g->members[k], d);
	}
	for (i = 0; i < job->n_recipients && r == 0; i++)
		r = count(&b, "", TC_CH_ALL, &job->recipients[i], d);
	if (r == 0 && b.segments > cfg->sms.max_per_job) {
		tc_diag_set(d, "job", 0, NULL, "would send %llu SMS segments, more than "
			    "channels.sms.max_per_job %u", (unsigned long long)b.segments,
			    cfg->sms.max_per_job);
		r = TC_EINVAL;
	}
out:
	if (r == -ENOMEM)
		tc_diag_set(d, "job", 0, NULL, "counting its SMS segments: out of memory");
	json_decref(b.data);
	json_decref(b.seen);
	return r;
}
