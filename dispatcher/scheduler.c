/*
 * The scheduler: deliveries ready to send wait in a queue per channel and
 * severity (critical first); each channel takes as many as its concurrency
 * allows. Before a send, the channel says when its rate (a token bucket
 * per host or provider) and any peer's "not before" let the message go: a
 * delivery that must wait is held on a timer, its units reserved, and the
 * next one is looked at, so a slow host holds back only its own. Failed
 * attempts come back after exponential backoff with full jitter, never
 * before a peer's Retry-After.
 *
 * Keeps true: a send is recorded (`sending`) before it starts, and every
 * send reports one outcome, which is recorded.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dispatcher/dispatcher.h"

static void retry_fire(uv_timer_t *t);

/* The retry policy of channel c (one attempt for channels without one). */
static struct tc_retry_cfg retry_cfg(const struct tc_disp *d, enum tc_channel c)
{
	return tc_chan_limits(d->cfg, c).retry;
}

static uint64_t rng_next(struct tc_disp *d)
{
	uint64_t x = d->rng;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return d->rng = x;
}

/* Exponential backoff with full jitter: a random wait up to base * 2^(n-1)
 * (at most max), but never earlier than the peer's Retry-After. */
static uint64_t backoff_ms(struct tc_disp *d, const struct tc_retry_cfg *rc,
			   unsigned attempt, int64_t retry_after_ms)
{
	uint64_t cap = rc->base_ms, wait;

	while (--attempt && cap < rc->max_ms)
		cap *= 2;
	if (cap > rc->max_ms)
		cap = rc->max_ms;
	wait = cap ? rng_next(d) % (cap + 1) : 0;
	if (retry_after_ms > 0) {
		uint64_t ra = (uint64_t)retry_after_ms;

		if (ra > TC_RETRY_AFTER_MAX_MS)
			ra = TC_RETRY_AFTER_MAX_MS;
		if (wait < ra)
			wait = ra;
	}
	return wait;
}

static bool heap_less(const struct tc_dlv *a, const struct tc_dlv *b)
{
	return a->due_ms < b->due_ms;
}

static void heap_swap(struct tc_dlv **h, size_t i, size_t j)
{
	struct tc_dlv *t = h[i];

	h[i] = h[j];
	h[j] = t;
}

static void retry_arm(struct tc_disp *d)
{
	int64_t wait;

	if (!d->n_retry) {
		uv_timer_stop(&d->retry_timer);
		return;
	}
	wait = d->retry_heap[0]->due_ms - tc_time_now_ms();
	uv_timer_start(&d->retry_timer, retry_fire, wait > 0 ? (uint64_t)wait : 0, 0);
}

/* Parks v until its due time; memory stays bounded by the in-flight cap,
 * since v stays counted as live. */
int tc_sched_wait(struct tc_disp *d, struct tc_dlv *v)
{
	size_t i;

	if (d->n_retry == d->cap_retry) {
		size_t cap = d->cap_retry ? d->cap_retry * 2 : 64;
		struct tc_dlv **h = realloc(d->retry_heap, cap * sizeof(*h));

		if (!h)
			return -ENOMEM;
		d->retry_heap = h;
		d->cap_retry = cap;
	}
	i = d->n_retry++;
	d->retry_heap[i] = v;
	while (i && heap_less(d->retry_heap[i], d->retry_heap[(i - 1) / 2])) {
		heap_swap(d->retry_heap, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
	retry_arm(d);
	return 0;
}

static struct tc_dlv *retry_pop(struct tc_disp *d)
{
	struct tc_dlv **h = d->retry_heap, *top;
	size_t i = 0, c;

	if (!d->n_retry)
		return NULL;
	top = h[0];
	h[0] = h[--d->n_retry];
	for (;;) {
		c = 2 * i + 1;
		if (c >= d->n_retry)
			break;
		if (c + 1 < d->n_retry && heap_less(h[c + 1], h[c]))
			c++;
		if (!heap_less(h[c], h[i]))
			break;
		heap_swap(h, i, c);
		i = c;
	}
	return top;
}

/* The soonest waiting delivery if it is due at now; the caller re-arms. */
struct tc_dlv *tc_sched_due(struct tc_disp *d, int64_t now)
{
	if (!d->n_retry || d->retry_heap[0]->due_ms > now)
		return NULL;
	return retry_pop(d);
}

static void retry_fire(uv_timer_t *t)
{
	struct tc_disp *d = container_of(t, struct tc_disp, retry_timer);
	int64_t now = tc_time_now_ms();
	struct tc_dlv *v;

	while ((v = tc_sched_due(d, now)))
		tc_sched_ready(d, v);
	retry_arm(d);
	tc_disp_poke(d);
}

void tc_sched_drop_waiting(struct tc_disp *d)
{
	struct tc_dlv *v;

	/* Their runs lose a delivery that is not final: they must not
	 * finish, only wind down and stay pending. */
	while ((v = retry_pop(d))) {
		tc_run_break(v->run, "stopping with retries waiting");
		tc_dlv_free(v);
	}
	retry_arm(d);
}

void tc_sched_ready(struct tc_disp *d, struct tc_dlv *v)
{
	enum tc_severity s = v->run->job.severity;

	v->next = NULL;
	if (d->ready_tail[v->ch][s])
		d->ready_tail[v->ch][s]->next = v;
	else
		d->ready[v->ch][s] = v;
	d->ready_tail[v->ch][s] = v;
}

static struct tc_dlv *ready_pop(struct tc_disp *d, enum tc_channel c)
{
	struct tc_dlv *v;
	int s;

	for (s = 0; s < TC_SEV_COUNT; s++) {
		v = d->ready[c][s];
		if (!v)
			continue;
		d->ready[c][s] = v->next;
		if (!v->next)
			d->ready_tail[c][s] = NULL;
		return v;
	}
	return NULL;
}

/* Adds "attempt N: detail" to what the dead letter will say. */
static void note_reason(struct tc_dlv *v, const char *detail)
{
	if (tc_buf_printf(&v->reasons, "%sattempt %u: %s", v->reasons.len ? "; " : "",
			  v->attempts, detail) == TC_ELIMIT)
		(void)tc_buf_adds(&v->reasons, " ...");
}

/* Adds the attempt's provider and outcome to the record's `tried`, keeps
 * the text's segments and encoding, and ends the channel's round of
 * routes unless the outcome asks for another at once. A full list keeps
 * its first entries: the record's reasons say the rest. */
static void note_tried(struct tc_dlv *v, const struct tc_outcome *o)
{
	size_t len = v->tried.len;
	int r = 0;

	if (!o->again)
		tc_chan_route_init(&v->route);
	if (o->segments) {
		v->segments = o->segments;
		v->encoding = o->encoding;
	}
	if (!o->provider[0])
		return;
	r |= tc_buf_adds(&v->tried, len ? ",{\"provider\":" : "{\"provider\":");
	r |= tc_json_quote_cut(&v->tried, o->provider, TC_LIMIT_PROVIDER);
	r |= tc_buf_adds(&v->tried, ",\"outcome\":");
	r |= tc_json_quote_cut(&v->tried, o->detail, TC_LIMIT_OUTCOME);
	r |= tc_buf_addc(&v->tried, '}');
	if (r && v->tried.data) {
		v->tried.len = len;
		v->tried.data[len] = '\0';
	}
}

/* A transient failure: another attempt later, or the end of the road. */
static void retry_or_fail(struct tc_disp *d, struct tc_dlv *v,
			  const struct tc_outcome *o)
{
	struct tc_retry_cfg rc = retry_cfg(d, v->ch);
	char q[TC_LIMIT_LOG_VALUE + 16];
	uint64_t wait;

	note_reason(v, o->detail);
	if (v->attempts >= rc.attempts || v->run->phase == TC_RUN_BROKEN) {
		tc_log(TC_LOG_WARN, "run", "job=%s delivery=%s channel=%s event=failed attempts=%u err=%s, dead-lettered",
		       v->run->job.id, v->id, tc_channel_name(v->ch), v->attempts,
		       tc_log_quote(q, sizeof(q), o->detail));
		tc_track_move_dead(v, TC_DS_FAILED, o->detail, o->provider, o->provider_id,
			      v->reasons.data ? v->reasons.data : o->detail);
		return;
	}
	/* Another route (provider) is left: it is asked at once; the
	 * backoff comes once every route has failed. */
	wait = o->again ? 0 : backoff_ms(d, &rc, v->attempts, o->retry_after_ms);
	v->due_ms = tc_time_now_ms() + (int64_t)wait;
	tc_log(TC_LOG_INFO, "run", "job=%s delivery=%s channel=%s event=attempt-failed attempt=%u err=%s, retrying in %llums",
	       v->run->job.id, v->id, tc_channel_name(v->ch), v->attempts,
	       tc_log_quote(q, sizeof(q), o->detail), (unsigned long long)wait);
	tc_track_move(v, TC_DS_RETRYING, o->detail, o->provider, o->provider_id);
	/* Far off, it waits in Redis: its in_flight slot goes to new work. */
	if (wait > TC_PARK_MS && tc_park(d, v) == 0)
		return;
	if (tc_sched_wait(d, v) < 0) {
		tc_run_break(v->run, "out of memory");
		tc_dlv_free(v);
	}
}

/* The delivery as its channel sees it; m is filled from v's strings. */
static void chan_view(struct tc_dlv *v, struct tc_member *m,
		      struct tc_chan_dlv *cd)
{
	memset(m, 0, sizeof(*m));
	m->name = v->name;
	m->role = v->role[0] ? v->role : NULL;
	m->email = v->email[0] ? v->email : NULL;
	m->phone = v->phone[0] ? v->phone : NULL;
	cd->id = v->id;
	cd->job = &v->run->job;
	cd->group = v->group;
	cd->member = m;
	cd->address = v->address;
	cd->vars_json = v->run->vars_json;
	cd->route = &v->route;
}

/* v's acknowledgement link, <public_url>/ack/<token>, into out (n >=
 * TC_ACK_URL_MAX); "" when public_url or ack_secret is not configured:
 * then nobody could open it. */
static void ack_url(const struct tc_disp *d, const struct tc_dlv *v, char *out,
		    size_t n)
{
	const char *base = d->cfg->public_url;
	char tok[TC_TOKEN_MAX + 1];
	size_t bl;

	out[0] = '\0';
	if (!base || !d->cfg->ack_secret ||
	    tc_token_make(d->cfg->ack_secret, v->run->job.id, v->id, tok, sizeof(tok)) < 0)
		return;
	for (bl = strlen(base); bl > 0 && base[bl - 1] == '/'; bl--)
		;
	snprintf(out, n, "%.*s/ack/%s", (int)bl, base, tok);
}

/* Composes v's message on its channel. A failure is the delivery's
 * permanent failure (why). The acknowledgement link is signed only for a
 * message whose template may show it (an HMAC per delivery otherwise
 * spent for nothing); any other gets "", never another member's link. */
static int compose(struct tc_disp *d, struct tc_dlv *v, char *why, size_t n)
{
	char url[TC_ACK_URL_MAX] = "";
	struct tc_chan_dlv cd;
	struct tc_member m;

	chan_view(v, &m, &cd);
	if (tc_chan_uses(v->ch, d->templates, &cd, "ack_url"))
		ack_url(d, v, url, sizeof(url));
	if (tc_tpl_data_set_member(v->run->data, v->group, &m) < 0 ||
	    tc_tpl_data_set_ack_url(v->run->data, url) < 0) {
		snprintf(why, n, "composing the message failed: out of memory");
		return -ENOMEM;
	}
	return tc_chan_compose(v->ch, d->cfg, d->templates, &cd, v->run->data, &v->msg,
			       why, n);
}

static void on_outcome(void *data, const struct tc_outcome *o)
{
	struct tc_dlv *v = data;
	struct tc_disp *d = v->run->disp;
	enum tc_channel ch = v->ch;
	char q[TC_LIMIT_LOG_VALUE + 16];

	d->sending[ch]--;
	tc_hist_observe(&d->stats.latency[ch], (double)(uv_hrtime() - v->sent_ns) / 1e9);
	tc_msg_release(&v->msg);
	tc_msg_init(&v->msg);
	note_tried(v, o);
	switch (o->kind) {
	case TC_OUT_DELIVERED:
		tc_track_move(v, TC_DS_DELIVERED, o->detail, o->provider, o->provider_id);
		break;
	case TC_OUT_SENT:
		tc_track_move(v, TC_DS_SENT, o->detail, o->provider, o->provider_id);
		break;
	case TC_OUT_TRANSIENT:
		retry_or_fail(d, v, o);
		break;
	case TC_OUT_PERMANENT:
		tc_log(TC_LOG_WARN, "run", "job=%s delivery=%s channel=%s event=failed err=%s, not retried",
		       v->run->job.id, v->id, tc_channel_name(v->ch),
		       tc_log_quote(q, sizeof(q), o->detail));
		tc_track_move(v, TC_DS_FAILED, o->detail, o->provider, o->provider_id);
		break;
	}
	/* The most urgent ready delivery takes this slot now, not at the end
	 * of the turn: a turn busy with completions is long, and with 16
	 * connections a third of them sat idle waiting for it (bench/README.md).
	 * A turn busy with completions also looks for new jobs now and then. */
	tc_sched_dispatch(d, false);
	tc_disp_peek(d);
	tc_disp_poke(d);
}

/* Sends v, or holds it back until its channel's rate or a peer's "not
 * before" lets it go (its units reserved for then; its message composed
 * again when it is due, so held deliveries keep no body in memory). */
static void dlv_send(struct tc_disp *d, struct tc_dlv *v)
{
	struct tc_run *r = v->run;
	char attempt[32], no[TC_UTOA_MAX], why[sizeof(((struct tc_outcome *)0)->detail)];
	struct tc_chan_dlv cd;
	struct tc_member m;
	int64_t now, at;

	if (d->stopping)
		tc_run_break(r, "stopping before it was sent");
	if (r->phase == TC_RUN_BROKEN) {
		tc_dlv_free(v);
		return;
	}
	if (r->cancelled) {
		tc_track_move(v, TC_DS_CANCELLED, "cancelled by an operator", "", "");
		return;
	}
	now = tc_time_now_ms();
	if (r->job.expires_at_ms && now >= r->job.expires_at_ms) {
		tc_track_move(v, TC_DS_EXPIRED, "expired before it was sent", "", "");
		return;
	}
	if (!tc_disp_channel_ready(d, v->ch)) {
		snprintf(why, sizeof(why), "channel '%s' is not available on this dispatcher",
			 tc_channel_name(v->ch));
		tc_track_move(v, TC_DS_FAILED, why, "", "");
		return;
	}
	if (compose(d, v, why, sizeof(why)) < 0) {
		tc_track_move(v, TC_DS_FAILED, why, "", "");
		return;
	}
	chan_view(v, &m, &cd);
	if (!v->reserved) {
		at = tc_chan_next_at(d->chan[v->ch], &cd, &v->msg, now);
		if (at > now) {
			v->reserved = true;
			v->due_ms = at;
			tc_msg_release(&v->msg);
			tc_msg_init(&v->msg);
			/* Held far off (a Retry-After of an hour): it waits in
			 * Redis as retrying, without an attempt counted. */
			if (at - now > TC_PARK_MS) {
				tc_track_move(v, TC_DS_RETRYING,
					      "held back: its destination asked to wait", "", "");
				if (tc_park(d, v) == 0)
					return;
			}
			if (tc_sched_wait(d, v) < 0) {
				tc_run_break(r, "out of memory");
				tc_dlv_free(v);
			}
			return;
		}
	}
	v->reserved = false;
	v->attempts++;
	tc_utoa(v->attempts, no);
	tc_join(attempt, sizeof(attempt), "attempt ", no, NULL);
	tc_track_move(v, TC_DS_SENDING, attempt, "", "");
	v->sent_ns = uv_hrtime();
	if (tc_chan_send(d->chan[v->ch], &cd, &v->msg, on_outcome, v) < 0) {
		tc_track_move(v, TC_DS_FAILED, "could not start the request: out of memory",
			 "", "");
		return;
	}
	d->sending[v->ch]++;
}

/* The most deliveries of channel c that may be under way at once. */
static unsigned channel_cap(const struct tc_disp *d, enum tc_channel c)
{
	struct tc_chan_limits l = tc_chan_limits(d->cfg, c);

	return l.enabled ? l.concurrency : d->cfg->in_flight;
}

/* The next ready delivery of c, unless c already sends its most at once. */
struct tc_dlv *tc_sched_pop(struct tc_disp *d, enum tc_channel c)
{
	if (d->sending[c] >= channel_cap(d, c))
		return NULL;
	return ready_pop(d, c);
}

/* Starts what is ready while the channels have room, most urgent first.
 * Called as soon as deliveries are planned (and a slot frees for a
 * critical one), not only at the end of a loop turn, which a busy
 * broadcast makes a few ms long. peek: look for new jobs between sends
 * (tc_disp_peek); false inside a hiredis callback. */
void tc_sched_dispatch(struct tc_disp *d, bool peek)
{
	struct tc_dlv *v;
	int c;

	/* A send is recorded before it starts: not while Redis is away
	 * (sends under way go on; their outcomes wait in the outbox). */
	if (!tc_rconn_ctx(d->cmd) && !d->stopping)
		return;

	for (c = 0; c < TC_CH_COUNT; c++)
		while ((v = tc_sched_pop(d, c))) {
			dlv_send(d, v);
			if (peek)
				tc_disp_peek(d);
		}
}

int tc_sched_init(struct tc_disp *d)
{
	d->rng = (uint64_t)tc_time_now_ms() * 0x9e3779b97f4a7c15ULL ^ (uint64_t)getpid();
	if (!d->rng)
		d->rng = 1;
	return uv_timer_init(d->loop, &d->retry_timer) < 0 ? -ENOMEM : 0;
}

void tc_sched_hurry(struct tc_disp *d, const struct tc_run *r)
{
	size_t i, n = d->n_retry;

	/* Its waiting deliveries come due now; the others keep their order. */
	for (i = 0; i < n; i++)
		if (d->retry_heap[i]->run == r)
			d->retry_heap[i]->due_ms = 0;
	d->n_retry = 0;
	for (i = 0; i < n; i++)
		(void)tc_sched_wait(d, d->retry_heap[i]);
}

void tc_sched_drop_ready(struct tc_disp *d)
{
	struct tc_dlv *v;
	int c;

	for (c = 0; c < TC_CH_COUNT; c++)
		while ((v = ready_pop(d, c)))
			tc_dlv_free(v);
}
