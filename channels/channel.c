/*
 * The channel interface: looks up each channel's table of operations and
 * drives it, so the dispatcher, intake and the CLI never name a channel.
 * Which template parts a channel composes is said here, by its table, and
 * nowhere else: the acceptance check and `tocsin preview` ask.
 *
 * A channel whose table is missing (not written yet) is never available:
 * a job naming it is refused, and no delivery is planned for it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channels/internal.h"

struct tc_chan {
	const struct tc_chan_ops *ops;
	void *state;
};

static const struct tc_chan_ops *ops_of(enum tc_channel c)
{
	static const struct tc_chan_ops *const table[TC_CH_COUNT] = {
		[TC_CH_EMAIL] = &tc_email_ops,
		[TC_CH_SMS] = &tc_sms_ops,
		[TC_CH_WEBHOOK] = &tc_webhook_ops,
	};

	return (unsigned)c < TC_CH_COUNT ? table[c] : NULL;
}

void tc_msg_init(struct tc_msg *m)
{
	int p;

	memset(m, 0, sizeof(*m));
	m->failed = -1;
	for (p = 0; p < TC_PART_COUNT; p++)
		tc_buf_init(&m->part[p], TC_LIMIT_BODY);
	tc_buf_init(&m->wire, TC_LIMIT_EMAIL_MESSAGE);
}

void tc_msg_release(struct tc_msg *m)
{
	int p;

	for (p = 0; p < TC_PART_COUNT; p++)
		tc_buf_release(&m->part[p]);
	tc_buf_release(&m->wire);
}

struct tc_chan_limits tc_chan_limits(const struct tc_cfg *cfg, enum tc_channel c)
{
	const struct tc_chan_ops *ops = ops_of(c);
	struct tc_chan_limits none = { false, 0, { 1, 0, 0 } };

	return ops && ops->open ? ops->limits(cfg) : none;
}

unsigned tc_chan_available(const struct tc_cfg *cfg)
{
	unsigned mask = 0;
	int c;

	for (c = 0; c < TC_CH_COUNT; c++)
		if (tc_chan_limits(cfg, c).enabled)
			mask |= TC_CH_BIT(c);
	return mask;
}

unsigned tc_chan_configured(const struct tc_cfg *cfg)
{
	return (cfg->email.enabled ? TC_CH_BIT(TC_CH_EMAIL) : 0) |
	       (cfg->sms.enabled ? TC_CH_BIT(TC_CH_SMS) : 0) |
	       (cfg->webhook.enabled ? TC_CH_BIT(TC_CH_WEBHOOK) : 0);
}

void tc_chan_http_caps(const struct tc_cfg *cfg, unsigned *total, unsigned *per_host)
{
	*total = 0;
	*per_host = 16;
	if (cfg->webhook.enabled) {
		*total = cfg->webhook.concurrency;
		*per_host = cfg->webhook.per_host;
	}
	if (cfg->sms.enabled) {
		*total += TC_SMS_CONNECTIONS * (unsigned)cfg->sms.n_providers;
		if (*per_host < TC_SMS_CONNECTIONS)
			*per_host = TC_SMS_CONNECTIONS;
	}
	if (!*total)
		*total = 16;
}

unsigned tc_chan_parts(enum tc_channel c)
{
	const struct tc_chan_ops *ops = ops_of(c);

	return ops ? ops->parts : 0;
}

unsigned tc_chan_parts_required(enum tc_channel c)
{
	const struct tc_chan_ops *ops = ops_of(c);

	return ops ? ops->required : 0;
}

int tc_chan_render(const struct tc_tpl_store *store, const struct tc_chan_dlv *v,
		   enum tc_part p, const json_t *data, struct tc_msg *msg,
		   char *why, size_t n)
{
	const char *tpl = v->job->template;
	const struct tc_tpl *t = tc_tpl_store_part(store, tpl, v->group, p);
	struct tc_diag d;

	if (!t)
		return 0;
	memset(&d, 0, sizeof(d));
	tc_buf_reset(&msg->part[p]);
	if (tc_tpl_render_part(t, p, data, &msg->part[p], &d) < 0) {
		msg->failed = p;
		tc_diag_format(&d, why, n);
		if (!why[0])
			snprintf(why, n, "rendering %s failed: out of memory", tc_part_name(p));
		return TC_EINVAL;
	}
	/* An empty part is still a part: data is set from here on. */
	if (!msg->part[p].data && tc_buf_add(&msg->part[p], "", 0) < 0) {
		msg->failed = p;
		snprintf(why, n, "rendering %s failed: out of memory", tc_part_name(p));
		return TC_EINVAL;
	}
	msg->source[p] = tc_tpl_store_part_path(store, tpl, v->group, p);
	return 1;
}

bool tc_chan_uses(enum tc_channel c, const struct tc_tpl_store *store,
		  const struct tc_chan_dlv *v, const char *name)
{
	unsigned parts = tc_chan_parts(c);
	const struct tc_tpl *t;
	int p;

	for (p = 0; p < TC_PART_COUNT; p++) {
		if (!(parts & (1u << p)))
			continue;
		t = tc_tpl_store_part(store, v->job->template, v->group, p);
		if (t && tc_tpl_uses(t, name))
			return true;
	}
	return false;
}

int tc_chan_compose(enum tc_channel c, const struct tc_cfg *cfg,
		    const struct tc_tpl_store *store, const struct tc_chan_dlv *v,
		    const json_t *data, struct tc_msg *msg, char *why, size_t n)
{
	const struct tc_chan_ops *ops = ops_of(c);

	why[0] = '\0';
	if (!ops) {
		snprintf(why, n, "channel '%s' cannot send in this build", tc_channel_name(c));
		return TC_EINVAL;
	}
	return ops->compose(cfg, store, v, data, msg, why, n);
}

int tc_chan_template_check(const struct tc_tpl_store *store, const char *tpl,
			   enum tc_channel c, struct tc_diag *d)
{
	unsigned required = tc_chan_parts_required(c);
	struct tc_diag ignored;
	int p;

	if (!d)
		d = &ignored;
	for (p = 0; p < TC_PART_COUNT; p++) {
		if (!(required & (1u << p)) || tc_tpl_store_part(store, tpl, NULL, p))
			continue;
		tc_diag_set(d, NULL, 0, "template", "'%s' has no part '%s' for channel '%s'",
			    tpl, tc_part_name(p), tc_channel_name(c));
		return TC_EINVAL;
	}
	return 0;
}

/* The channels job's deliveries can use: those of its inline members and
 * recipients exactly, and for a roster, whose rows are read only once the
 * job runs, its group's channels (a row naming another channel whose part
 * the template lacks fails that delivery, with the reason). */
static unsigned job_channels(const struct tc_cfg *cfg, const struct tc_job *job)
{
	const struct tc_group *g;
	unsigned mask = 0;
	size_t i, k;

	for (i = 0; i < job->n_groups; i++) {
		g = tc_cfg_group(cfg, job->groups[i]);
		if (g->roster)
			mask |= g->channels & job->channels;
		for (k = 0; k < g->n_members; k++)
			mask |= tc_member_channels(&g->members[k], g->channels,
						   job->channels);
	}
	for (i = 0; i < job->n_recipients; i++)
		mask |= tc_member_channels(&job->recipients[i], TC_CH_ALL, job->channels);
	return mask;
}

/* The channels' budgets over the members job names itself (its groups'
 * inline members, its recipients): what is known before any roster is
 * read. Returns 0, or TC_EINVAL with d. */
static int known_budget(const struct tc_cfg *cfg, const struct tc_tpl_store *store,
			const struct tc_job *job, struct tc_diag *d)
{
	struct tc_chan_budget *b;
	const struct tc_group *g;
	size_t i, k;
	int r;

	if (tc_chan_budget_new(cfg, store, job, &b) < 0) {
		tc_diag_set(d, "job", 0, NULL, "checking its budgets: out of memory");
		return TC_EINVAL;
	}
	if (!b)
		return 0;
	for (i = r = 0; i < job->n_groups && r == 0; i++) {
		g = tc_cfg_group(cfg, job->groups[i]);
		for (k = 0; k < g->n_members && r == 0; k++)
			r = tc_chan_budget_add(b, g->name, g->channels, &g->members[k], true, d);
	}
	for (i = 0; i < job->n_recipients && r == 0; i++)
		r = tc_chan_budget_add(b, "", TC_CH_ALL, &job->recipients[i], true, d);
	if (r == 0)
		r = tc_chan_budget_end(b, d);
	tc_chan_budget_free(b);
	return r < 0 ? TC_EINVAL : 0;
}

int tc_chan_job_check(const struct tc_cfg *cfg, const struct tc_tpl_store *store,
		      const struct tc_job *job, struct tc_diag *d)
{
	char q[TC_LIMIT_LOG_VALUE + 16], p[64];
	unsigned ready = tc_chan_available(cfg), used;
	size_t i;
	int c;

	for (i = 0; i < job->n_groups; i++) {
		if (tc_cfg_group(cfg, job->groups[i]))
			continue;
		snprintf(p, sizeof(p), "groups[%zu]", i);
		tc_diag_set(d, "job", 0, p, "unknown group %s",
			    tc_log_quote(q, sizeof(q), job->groups[i]));
		return TC_EINVAL;
	}
	if (job->channels != TC_CH_ALL)
		for (c = 0; c < TC_CH_COUNT; c++) {
			if (!(job->channels & TC_CH_BIT(c)) || (ready & TC_CH_BIT(c)))
				continue;
			tc_diag_set(d, "job", 0, "channels",
				    "channel '%s' is not configured on this dispatcher",
				    tc_channel_name(c));
			return TC_EINVAL;
		}
	if (!store)
		return 0;
	if (!tc_tpl_store_has(store, job->template)) {
		tc_diag_set(d, "job", 0, "template", "unknown template %s",
			    tc_log_quote(q, sizeof(q), job->template));
		return TC_EINVAL;
	}
	/* What the channels the job's deliveries use need of the template,
	 * before anything is sent. */
	used = job_channels(cfg, job) & ready;
	for (c = 0; c < TC_CH_COUNT; c++)
		if ((used & TC_CH_BIT(c)) &&
		    tc_chan_template_check(store, job->template, c, d) < 0) {
			snprintf(d->source, sizeof(d->source), "job");
			return TC_EINVAL;
		}
	return known_budget(cfg, store, job, d);
}

struct tc_chan_budget {
	void *state[TC_CH_COUNT];   /* each channel's; NULL: none */
};

int tc_chan_budget_new(const struct tc_cfg *cfg, const struct tc_tpl_store *store,
		       const struct tc_job *job, struct tc_chan_budget **out)
{
	/* A roster row may name channels of its own: every channel the job
	 * allows that can send, not only those of its groups. */
	unsigned used = job->channels & tc_chan_available(cfg);
	struct tc_chan_budget *b = calloc(1, sizeof(*b));
	bool any = false;
	int c;

	*out = NULL;
	if (!b)
		return -ENOMEM;
	for (c = 0; c < TC_CH_COUNT; c++) {
		if (!(used & TC_CH_BIT(c)) || !ops_of(c)->budget_new)
			continue;
		if (ops_of(c)->budget_new(cfg, store, job, &b->state[c]) < 0) {
			tc_chan_budget_free(b);
			return -ENOMEM;
		}
		any |= b->state[c] != NULL;
	}
	if (!any) {
		free(b);
		return 0;
	}
	*out = b;
	return 0;
}

int tc_chan_budget_add(struct tc_chan_budget *b, const char *group, unsigned group_ch,
		       const struct tc_member *m, bool keep, struct tc_diag *d)
{
	int c, r;

	for (c = 0; c < TC_CH_COUNT; c++)
		if (b->state[c] &&
		    (r = ops_of(c)->budget_add(b->state[c], group, group_ch, m, keep, d)) < 0)
			return r;
	return 0;
}

int tc_chan_budget_end(struct tc_chan_budget *b, struct tc_diag *d)
{
	int c;

	for (c = 0; c < TC_CH_COUNT; c++)
		if (b->state[c] && ops_of(c)->budget_end(b->state[c], d) < 0)
			return TC_EINVAL;
	return 0;
}

void tc_chan_budget_free(struct tc_chan_budget *b)
{
	int c;

	if (!b)
		return;
	for (c = 0; c < TC_CH_COUNT; c++)
		if (b->state[c])
			ops_of(c)->budget_free(b->state[c]);
	free(b);
}

int tc_chan_cfg_check(const struct tc_cfg *cfg, struct tc_diags *ds)
{
	int c, r = 0;

	for (c = 0; c < TC_CH_COUNT; c++)
		if ((tc_chan_configured(cfg) & TC_CH_BIT(c)) && ops_of(c)->cfg_check &&
		    ops_of(c)->cfg_check(cfg, ds) < 0)
			r = TC_EINVAL;
	return r;
}

struct tc_chan *tc_chan_new(enum tc_channel c, const struct tc_chan_env *env,
			    const struct tc_cfg *cfg)
{
	const struct tc_chan_ops *ops = ops_of(c);
	struct tc_chan *ch;

	if (!ops || !ops->open || !ops->limits(cfg).enabled)
		return NULL;
	ch = calloc(1, sizeof(*ch));
	if (!ch)
		return NULL;
	ch->ops = ops;
	ch->state = ops->open(env, cfg);
	if (!ch->state) {
		free(ch);
		return NULL;
	}
	return ch;
}

int tc_chan_set_cfg(struct tc_chan *ch, const struct tc_cfg *cfg)
{
	return ch->ops->set_cfg(ch->state, cfg);
}

int64_t tc_chan_next_at(struct tc_chan *ch, const struct tc_chan_dlv *v,
			const struct tc_msg *msg, int64_t now)
{
	return ch->ops->next_at(ch->state, v, msg, now);
}

int tc_chan_send(struct tc_chan *ch, const struct tc_chan_dlv *v,
		 const struct tc_msg *msg, tc_chan_cb cb, void *data)
{
	return ch->ops->send(ch->state, v, msg, cb, data);
}

int tc_chan_receipt(struct tc_chan *ch, const struct tc_receipt_in *in,
		    struct tc_receipt *out, char *why, size_t n)
{
	if (!ch->ops->receipt) {
		snprintf(why, n, "channel '%s' takes no receipts", tc_channel_name(ch->ops->ch));
		return -ENOTSUP;
	}
	return ch->ops->receipt(ch->state, in, out, why, n);
}

int tc_chan_inbound(struct tc_chan *ch, const struct tc_receipt_in *in,
		    struct tc_inbound *out, char *why, size_t n)
{
	if (!ch->ops->inbound) {
		snprintf(why, n, "channel '%s' takes no inbound messages",
			 tc_channel_name(ch->ops->ch));
		return -ENOTSUP;
	}
	return ch->ops->inbound(ch->state, in, out, why, n);
}

void tc_chan_stop(struct tc_chan *ch)
{
	if (ch && ch->ops->stop)
		ch->ops->stop(ch->state);
}

void tc_chan_metrics(struct tc_chan *ch, struct tc_mout *o)
{
	if (ch->ops->metrics)
		ch->ops->metrics(ch->state, o);
}

void tc_chan_free(struct tc_chan *ch)
{
	if (!ch)
		return;
	ch->ops->close(ch->state);
	free(ch);
}
