/*
 * Jobs that only wait cost no place that new work needs. A job accepted
 * with send_at in the future sleeps in Redis (ACCEPT scores it by send_at
 * in <prefix>:scheduled and acknowledges its entry), so thousands of jobs
 * scheduled for next year take no memory and no run slot, and intake keeps
 * reading. When send_at comes, the WAKE script writes each due job to its
 * stream again, and whichever instance reads it sends it.
 *
 * Keeps true: a sleeping job is either in <prefix>:scheduled or in its
 * stream, at every moment (both moves are one script each); a job is woken
 * once, by one instance, however many poll.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <hiredis/hiredis.h>

#include "dispatcher/dispatcher.h"

static void wake_fire(uv_timer_t *t);

/* Arms the timer for at_ms (at most TC_WAKE_POLL_MS away). */
static void arm(struct tc_disp *d, int64_t at_ms)
{
	int64_t now = tc_time_now_ms(), wait = at_ms - now;

	if (wait > TC_WAKE_POLL_MS)
		wait = TC_WAKE_POLL_MS;
	if (wait < 0)
		wait = 0;
	d->wake_due_ms = now + wait;
	uv_timer_start(&d->wake_timer, wake_fire, (uint64_t)wait, 0);
}

static void woken(redisAsyncContext *ac, void *reply, void *priv)
{
	struct tc_disp *d = priv;
	redisReply *r = reply;
	char q[TC_LIMIT_LOG_VALUE + 16];
	int64_t next = tc_time_now_ms() + TC_WAKE_POLL_MS, at;

	(void)ac;
	d->waking = false;
	if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
	    r->element[0]->type == REDIS_REPLY_INTEGER) {
		if (r->element[0]->integer > 0)
			tc_log(TC_LOG_INFO, "wake", "event=woken jobs=%lld, written to their streams again",
			       r->element[0]->integer);
		/* A full batch: more may be due at once. */
		if (r->element[0]->integer >= TC_WAKE_BATCH)
			next = 0;
		else if (r->element[1]->type == REDIS_REPLY_STRING &&
			 tc_parse_int(r->element[1]->str, r->element[1]->len, 0,
				      INT64_MAX / 2, &at) == 0)
			next = at;
	} else if (r && r->type == REDIS_REPLY_ERROR) {
		tc_log(TC_LOG_WARN, "wake", "event=wake-failed err=%s, trying again in %d ms",
		       tc_log_quote(q, sizeof(q), r->str), TC_WAKE_POLL_MS);
	}
	if (!d->stopping)
		arm(d, next);
}

static void wake_fire(uv_timer_t *t)
{
	struct tc_disp *d = container_of(t, struct tc_disp, wake_timer);
	char key[TC_KEY_MAX], now[24], batch[16];
	const char *argv[7];

	if (d->waking || d->stopping)
		return;
	tc_key_scheduled(key, sizeof(key), d->cfg->prefix);
	snprintf(now, sizeof(now), "%lld", (long long)tc_time_now_ms());
	snprintf(batch, sizeof(batch), "%d", TC_WAKE_BATCH);
	argv[0] = "EVAL";
	argv[1] = tc_lua_wake;
	argv[2] = "1";
	argv[3] = key;
	argv[4] = now;
	argv[5] = d->cfg->prefix;
	argv[6] = batch;
	if (tc_rconn_cmd(d->cmd, woken, d, 7, argv, NULL) == 0)
		d->waking = true;
	else
		arm(d, tc_time_now_ms() + TC_WAKE_POLL_MS); /* Redis is away */
}

int tc_wake_start(struct tc_disp *d)
{
	if (uv_timer_init(d->loop, &d->wake_timer) < 0)
		return -ENOMEM;
	arm(d, 0);
	return 0;
}

void tc_wake_at(struct tc_disp *d, int64_t at_ms)
{
	if (!d->waking && !d->stopping && at_ms < d->wake_due_ms)
		arm(d, at_ms);
}

void tc_wake_stop(struct tc_disp *d)
{
	uv_timer_stop(&d->wake_timer);
	uv_close((uv_handle_t *)&d->wake_timer, NULL);
}
