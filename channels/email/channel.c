/*
 * The email channel: composes a delivery's message (mime.c) from
 * email.subject, email.txt and the optional email.html, and sends it
 * through the worker pool (worker.c), one message per recipient, from the
 * configured sender (or its VERP bounce address, with the delivery id).
 *
 * Keeps true: the channel's token bucket counts messages; a throttling
 * answer (421, 454, 451 4.7.x) holds the whole channel back, doubling
 * from TC_EMAIL_HOLD_MIN_MS to TC_EMAIL_HOLD_MAX_MS while the server keeps
 * asking, and the next message accepted ends the hold.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channels/email/email.h"

#define TC_EMAIL_HOLD_MIN_MS 1000
#define TC_EMAIL_HOLD_MAX_MS 60000
#define DELIVERY_MARK "{delivery}"

struct tc_email {
	uv_loop_t *loop;
	const struct tc_email_cfg *cfg;
	struct tc_bucket bucket;
	int64_t hold_until;         /* a throttling answer: nothing before */
	int64_t hold_ms;            /* the next hold's length */
	struct tc_email_pool *pool;
};

static struct tc_chan_limits email_limits(const struct tc_cfg *cfg)
{
	/* Enough in flight for every worker to fill a whole batch. */
	struct tc_chan_limits l = { cfg->email.enabled,
				    cfg->email.sessions * TC_EMAIL_BATCH,
				    cfg->email.retry };

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

	for (i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		r = tc_chan_render(store, v, parts[i], data, msg, why, n);
		if (r < 0)
			return r;
	}
	if (!msg->part[TC_PART_EMAIL_HTML].data)
		msg->note[TC_PART_EMAIL_HTML] = "no email.html: the email is plain text only";
	msg->units = 1; /* providers count messages */
	if (!cfg->email.from_addr)
		return 0; /* not configured: the parts only (preview) */
	return tc_email_mime(&cfg->email, v, msg, why, n);
}

/* The server, credentials and sender of cfg, copied for the workers. NULL
 * when out of memory. */
static struct tc_email_conf *conf_new(const struct tc_email_cfg *cfg)
{
	struct tc_email_conf *c = calloc(1, sizeof(*c));
	char port[16];
	size_t len;
	bool v6;

	if (!c)
		return NULL;
	c->refs = 1;
	snprintf(port, sizeof(port), "%u", cfg->port);
	v6 = strchr(cfg->host, ':') != NULL;
	len = strlen(cfg->host) + strlen(port) + 4;
	c->server = malloc(len);
	if (c->server)
		snprintf(c->server, len, v6 ? "[%s]:%s" : "%s:%s", cfg->host, port);
	c->starttls = cfg->starttls;
	c->ca_file = cfg->ca_file ? strdup(cfg->ca_file) : NULL;
	c->username = cfg->username ? strdup(cfg->username) : NULL;
	c->password = cfg->password ? strdup(cfg->password) : NULL;
	c->timeout_ms = cfg->timeout_ms;
	if (!c->server || (cfg->ca_file && !c->ca_file) ||
	    (cfg->username && !c->username) || (cfg->password && !c->password)) {
		tc_email_conf_unref(c);
		return NULL;
	}
	return c;
}

/* On the loop: one message's outcome. */
static void on_done(void *arg, struct tc_email_item *it)
{
	struct tc_email *e = arg;
	int64_t now = tc_time_now_ms();

	if (it->throttled) {
		if (e->hold_until < now + e->hold_ms)
			e->hold_until = now + e->hold_ms;
		it->o.retry_after_ms = e->hold_ms;
		e->hold_ms = e->hold_ms * 2 > TC_EMAIL_HOLD_MAX_MS ? TC_EMAIL_HOLD_MAX_MS
								  : e->hold_ms * 2;
	} else if (it->o.kind == TC_OUT_SENT) {
		e->hold_ms = TC_EMAIL_HOLD_MIN_MS;
	}
	it->cb(it->data, &it->o);
	free(it);
}

static void email_stop(void *state)
{
	struct tc_email *e = state;

	if (e)
		tc_email_pool_abort(e->pool);
}

static void email_close(void *state)
{
	struct tc_email *e = state;

	if (!e)
		return;
	tc_email_pool_free(e->pool);
	free(e);
}

static void *email_open(const struct tc_chan_env *env, const struct tc_cfg *cfg)
{
	struct tc_email *e = calloc(1, sizeof(*e));
	struct tc_email_conf *c;

	if (!e)
		return NULL;
	e->loop = env->loop;
	e->cfg = &cfg->email;
	e->hold_ms = TC_EMAIL_HOLD_MIN_MS;
	tc_bucket_init(&e->bucket, cfg->email.rate.per_second, cfg->email.rate.burst,
		       tc_time_now_ms());
	c = conf_new(&cfg->email);
	if (c)
		e->pool = tc_email_pool_new(env->loop, c, cfg->email.sessions, on_done, e);
	tc_email_conf_unref(c);
	if (!e->pool) {
		free(e);
		return NULL;
	}
	return e;
}

static int email_set_cfg(void *state, const struct tc_cfg *cfg)
{
	struct tc_email *e = state;
	struct tc_email_conf *c = conf_new(&cfg->email);
	int r;

	if (!c)
		return -ENOMEM;
	r = tc_email_pool_set(e->pool, c, cfg->email.sessions);
	tc_email_conf_unref(c);
	if (r < 0)
		return r;
	e->cfg = &cfg->email;
	tc_bucket_set(&e->bucket, cfg->email.rate.per_second, cfg->email.rate.burst,
		      tc_time_now_ms());
	return 0;
}

static int64_t email_next_at(void *state, const struct tc_chan_dlv *v,
			     const struct tc_msg *msg, int64_t now)
{
	struct tc_email *e = state;

	(void)v;
	return tc_bucket_reserve(&e->bucket, msg->units,
				 e->hold_until > now ? e->hold_until : now);
}

/* The envelope sender of v: bounce_address with its {delivery} the
 * delivery id (VERP), or the From address. */
static void sender_of(const struct tc_email_cfg *cfg, const struct tc_chan_dlv *v,
		      char *out, size_t n)
{
	const char *b = cfg->bounce_address, *mark = b ? strstr(b, DELIVERY_MARK) : NULL;

	if (!b)
		snprintf(out, n, "%s", cfg->from_addr);
	else if (!mark)
		snprintf(out, n, "%s", b);
	else
		snprintf(out, n, "%.*s%s%s", (int)(mark - b), b, v->id,
			 mark + strlen(DELIVERY_MARK));
}

static int email_send(void *state, const struct tc_chan_dlv *v, const struct tc_msg *msg,
		      tc_chan_cb cb, void *data)
{
	struct tc_email *e = state;
	struct tc_email_item *it = calloc(1, sizeof(*it));

	if (!it)
		return -ENOMEM;
	it->wire = msg->wire.data;
	it->wire_len = msg->wire.len;
	snprintf(it->rcpt, sizeof(it->rcpt), "%s", v->address);
	sender_of(e->cfg, v, it->sender, sizeof(it->sender));
	it->cb = cb;
	it->data = data;
	tc_email_pool_push(e->pool, it);
	return 0;
}

/* The channel's hold and rate, for /metrics: no labels (one server). */
static void email_metrics(void *state, struct tc_mout *o)
{
	const struct tc_email *e = state;
	int64_t now = tc_time_now_ms();

	tc_mout_family(o, "tocsin_email_held_seconds", "gauge",
		       "How long a throttling answer still holds the email channel back "
		       "(0: not held).");
	tc_mout_sample(o, "tocsin_email_held_seconds", NULL,
		       e->hold_until > now ? (double)(e->hold_until - now) / 1000.0 : 0);
	tc_mout_family(o, "tocsin_email_tokens_waiting", "gauge",
		       "Messages reserved in the email channel's token bucket that it has "
		       "not gained yet: what messages held for its rate wait for.");
	tc_mout_sample(o, "tocsin_email_tokens_waiting", NULL,
		       tc_bucket_owed(&e->bucket, now));
}

const struct tc_chan_ops tc_email_ops = {
	.ch = TC_CH_EMAIL,
	.parts = 1u << TC_PART_EMAIL_SUBJECT | 1u << TC_PART_EMAIL_TXT |
		 1u << TC_PART_EMAIL_HTML,
	.required = 1u << TC_PART_EMAIL_SUBJECT | 1u << TC_PART_EMAIL_TXT,
	.limits = email_limits,
	.compose = email_compose,
	.open = email_open,
	.set_cfg = email_set_cfg,
	.next_at = email_next_at,
	.send = email_send,
	.stop = email_stop,
	.metrics = email_metrics,
	.close = email_close,
};
