/*
 * The email channel: composes a message from email.subject, email.txt and
 * the optional email.html. Sending (libesmtp on worker threads) is not
 * written yet: until it is, the channel composes for `tocsin preview` and
 * is never available to send, so a job naming it is refused.
 */
#include "channels/internal.h"

static struct tc_chan_limits email_limits(const struct tc_cfg *cfg)
{
	struct tc_chan_limits l = { false, cfg->email.sessions, cfg->email.retry };

	return l;
}

static int email_compose(const struct tc_cfg *cfg, const struct tc_tpl_store *store,
			 const struct tc_chan_dlv *v, const json_t *data,
			 struct tc_msg *msg, char *why, size_t n)
{
	static const enum tc_part parts[] = {
		TC_PART_EMAIL_SUBJECT, TC_PART_EMAIL_TXT, TC_PART_EMAIL_HTML,
	};
	size_t i;
	int r;

	(void)cfg;
	for (i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		r = tc_chan_render(store, v, parts[i], data, msg, why, n);
		if (r < 0)
			return r;
	}
	if (!msg->part[TC_PART_EMAIL_HTML].data)
		msg->note[TC_PART_EMAIL_HTML] = "no email.html: the email is plain text only";
	msg->units = 1; /* providers count messages */
	return 0;
}

const struct tc_chan_ops tc_email_ops = {
	.ch = TC_CH_EMAIL,
	.parts = 1u << TC_PART_EMAIL_SUBJECT | 1u << TC_PART_EMAIL_TXT |
		 1u << TC_PART_EMAIL_HTML,
	.required = 1u << TC_PART_EMAIL_SUBJECT | 1u << TC_PART_EMAIL_TXT,
	.limits = email_limits,
	.compose = email_compose,
};
