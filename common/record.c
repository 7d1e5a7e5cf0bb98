/*
 * The delivery record's serializer: the JSON each delivery keeps in
 * <prefix>:job:{<id>}:deliveries, built by hand (it is written on every
 * state change) but always valid JSON, whatever a producer put in a name
 * or an address, and never longer than TC_LIMIT_RECORD.
 */
#include <stdio.h>
#include <string.h>

#include "common/common.h"

static int add_str(struct tc_buf *b, const char *key, const char *v, size_t max)
{
	int r = tc_buf_adds(b, key);

	return r ? r : tc_json_quote_cut(b, v ? v : "", max);
}

int tc_record_json(struct tc_buf *b, const struct tc_record *rec)
{
	char key[TC_MEMBER_KEY_LEN + 1];
	size_t start = b->len;
	int r = 0;

	r |= tc_buf_adds(b, "{\"channel\":\"");
	r |= tc_buf_adds(b, tc_channel_name(rec->channel));
	r |= tc_buf_addc(b, '"');
	r |= add_str(b, ",\"address\":", rec->address, TC_LIMIT_ADDRESS);
	r |= add_str(b, ",\"group\":", rec->group, TC_LIMIT_TEXT);
	r |= add_str(b, ",\"member\":", rec->member, TC_LIMIT_TEXT);
	if (!rec->member_key)
		tc_member_key(rec->member, rec->email, rec->phone, rec->address, key);
	r |= tc_buf_adds(b, ",\"member_key\":\"");
	r |= tc_buf_add(b, rec->member_key ? rec->member_key : key,
			strnlen(rec->member_key ? rec->member_key : key, TC_MEMBER_KEY_LEN));
	r |= tc_buf_addc(b, '"');
	if (rec->role && rec->role[0])
		r |= add_str(b, ",\"role\":", rec->role, TC_LIMIT_TEXT);
	if (rec->email && rec->email[0])
		r |= add_str(b, ",\"email\":", rec->email, TC_LIMIT_ADDRESS);
	if (rec->phone && rec->phone[0])
		r |= add_str(b, ",\"phone\":", rec->phone, TC_LIMIT_ADDRESS);
	r |= tc_buf_adds(b, ",\"state\":\"");
	r |= tc_buf_adds(b, tc_dstate_name(rec->state));
	r |= tc_buf_adds(b, "\",\"attempts\":");
	r |= tc_buf_add_uint(b, rec->attempts);
	r |= add_str(b, ",\"last_outcome\":", rec->last_outcome, TC_LIMIT_OUTCOME);
	r |= add_str(b, ",\"provider\":", rec->provider, TC_LIMIT_PROVIDER);
	r |= add_str(b, ",\"provider_message_id\":", rec->provider_message_id,
		     TC_LIMIT_PROVIDER_ID);
	r |= add_str(b, ",\"updated_at\":", rec->updated_at, 40);
	r |= tc_buf_adds(b, ",\"pass\":");
	r |= tc_buf_add_uint(b, rec->pass);
	r |= tc_buf_adds(b, ",\"plan\":");
	r |= tc_buf_add_uint(b, rec->plan);
	if (rec->segments) {
		r |= tc_buf_adds(b, ",\"segments\":");
		r |= tc_buf_add_uint(b, rec->segments);
		r |= add_str(b, ",\"encoding\":", rec->encoding, 8);
	}
	/* Built by the dispatcher of escaped strings: valid JSON items. */
	if (rec->tried && rec->tried[0]) {
		r |= tc_buf_adds(b, ",\"tried\":[");
		r |= tc_buf_add(b, rec->tried, strnlen(rec->tried, TC_LIMIT_TRIED));
		r |= tc_buf_addc(b, ']');
	}
	if (rec->state == TC_DS_RETRYING) {
		r |= tc_buf_adds(b, ",\"next_attempt_ms\":");
		r |= tc_buf_add_uint(b, rec->next_attempt_ms > 0 ? (uint64_t)rec->next_attempt_ms : 0);
		if (rec->reasons && rec->reasons[0])
			r |= add_str(b, ",\"reasons\":", rec->reasons, TC_LIMIT_REASONS);
	}
	r |= tc_buf_addc(b, '}');
	if (r && b->data) {
		b->len = start;
		b->data[start] = '\0';
	}
	return r ? TC_ELIMIT : 0;
}

int tc_settle_args(const struct tc_settle *s, char *keys, size_t n,
		   const char **argv, size_t *lens)
{
	char *k_job = keys, *k_dlv = keys + TC_KEY_MAX, *k_ev = keys + 2 * TC_KEY_MAX;
	char *from = keys + 3 * TC_KEY_MAX;
	size_t used = 0;
	int i;

	if (n < 3 * TC_KEY_MAX + 128 ||
	    tc_key_job(k_job, TC_KEY_MAX, s->prefix, s->job_id) < 0 ||
	    tc_key_deliveries(k_dlv, TC_KEY_MAX, s->prefix, s->job_id) < 0 ||
	    tc_key_job_events(k_ev, TC_KEY_MAX, s->prefix, s->job_id) < 0)
		return TC_ELIMIT;
	from[0] = '\0';
	for (i = 0; i < TC_DS_COUNT; i++)
		if (s->from & (1u << i))
			used += (size_t)snprintf(from + used, 128 - used, "%s%s",
						 used ? " " : "", tc_dstate_name(i));
	argv[0] = "EVAL";
	argv[1] = tc_lua_settle;
	argv[2] = "3";
	argv[3] = k_job;
	argv[4] = k_dlv;
	argv[5] = k_ev;
	argv[6] = s->now;
	argv[7] = s->delivery_id;
	argv[8] = tc_dstate_name(s->to);
	argv[9] = s->outcome ? s->outcome : "";
	argv[10] = from;
	argv[11] = s->provider ? s->provider : "";
	argv[12] = s->provider_message_id ? s->provider_message_id : "";
	for (i = 0; i < TC_SETTLE_ARGS; i++)
		lens[i] = strlen(argv[i]);
	return TC_SETTLE_ARGS;
}
