/*
 * The SMS channel: composes the text of sms.txt fitted to
 * channels.sms.max_segments (GSM-7 or UCS-2, truncated or refused as
 * channels.sms.overflow says), counted in segments, the unit providers
 * bill and rate-limit by. Sending through the providers is not written
 * yet: until it is, the channel composes for `tocsin preview` and is never
 * available to send, so a job naming it is refused.
 */
#include <stdio.h>
#include <string.h>

#include "channels/internal.h"

static struct tc_chan_limits sms_limits(const struct tc_cfg *cfg)
{
	struct tc_chan_limits l = { false, cfg->in_flight, cfg->sms.retry };

	return l;
}

static int sms_compose(const struct tc_cfg *cfg, const struct tc_tpl_store *store,
		       const struct tc_chan_dlv *v, const json_t *data,
		       struct tc_msg *msg, char *why, size_t n)
{
	struct tc_diag d;
	int r = tc_chan_render(store, v, TC_PART_SMS_TXT, data, msg, why, n);

	if (r < 0)
		return r;
	if (r == 0) {
		snprintf(why, n, "template '%s' has no part 'sms.txt'", v->job->template);
		return TC_EINVAL;
	}
	memset(&d, 0, sizeof(d));
	r = tc_sms_fit(&msg->part[TC_PART_SMS_TXT], cfg->sms.max_segments,
		       cfg->sms.overflow, &msg->sms, &d);
	if (r < 0) {
		msg->failed = TC_PART_SMS_TXT;
		tc_diag_format(&d, why, n);
		if (!why[0])
			snprintf(why, n, "fitting sms.txt failed: out of memory");
		return r;
	}
	msg->units = msg->sms.segments;
	return 0;
}

const struct tc_chan_ops tc_sms_ops = {
	.ch = TC_CH_SMS,
	.parts = 1u << TC_PART_SMS_TXT,
	.required = 1u << TC_PART_SMS_TXT,
	.limits = sms_limits,
	.compose = sms_compose,
};
