/*
 * tocsind's HTTP routes: /healthz and /metrics, on the listener that
 * serves `listen` (127.0.0.1:8725 by default) on the daemon's loop. Both
 * answer from memory at once: a health check or a scrape never waits on
 * Redis. Acknowledgements (/ack/<token>, ack.c) are rows of the same
 * table, and so are provider receipts (/receipts/<provider>/<token>,
 * receipt.c) and SMS replies (/inbound/<provider>, inbound.c).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "dispatcher/dispatcher.h"

#define DEFAULT_LISTEN "127.0.0.1:8725"
#define TEXT "text/plain; charset=utf-8"
#define PROMETHEUS_TEXT "text/plain; version=0.0.4; charset=utf-8"

/* 200 "ok" when both Redis connections are up and the heartbeat ran in
 * the last TC_HEALTH_LOOP_MS; else 503 with the first reason. */
static void healthz(struct tc_exch *x, const char *const *args, unsigned n, void *data)
{
	struct tc_disp *d = data;
	uint64_t age_ms = (uv_hrtime() - d->stats.beat_ns) / 1000000;
	char body[120];
	int len;

	(void)args;
	(void)n;
	if (!d->cmd || !tc_rconn_ctx(d->cmd) || !d->intake || !tc_rconn_ctx(d->intake)) {
		tc_exch_reply(x, 503, TEXT, "redis unreachable\n", 18);
		return;
	}
	if (age_ms > TC_HEALTH_LOOP_MS) {
		len = snprintf(body, sizeof(body), "loop stalled: no heartbeat for %llu ms\n",
			       (unsigned long long)age_ms);
		tc_exch_reply(x, 503, TEXT, body, (size_t)len);
		return;
	}
	tc_exch_reply(x, 200, TEXT, "ok\n", 3);
}

static void metrics(struct tc_exch *x, const char *const *args, unsigned n, void *data)
{
	struct tc_disp *d = data;
	struct tc_buf b;

	(void)args;
	(void)n;
	tc_buf_init(&b, TC_LIMIT_HTTP_RESPONSE);
	if (tc_metrics_write(d->metrics, &b) < 0)
		tc_exch_reply(x, 503, TEXT, "metrics too large to write\n", 27);
	else
		tc_exch_reply(x, 200, PROMETHEUS_TEXT, b.data ? b.data : "", b.len);
	tc_buf_release(&b);
}

/* The route table. The data pointers are filled at start: one daemon. */
static struct tc_route routes[] = {
	{ "GET", "/healthz", "healthz", healthz, NULL },
	{ "GET", "/metrics", "metrics", metrics, NULL },
	{ "GET", "/ack/*", "ack", tc_ack_get, NULL },
	{ "POST", "/ack/*", "ack", tc_ack_post, NULL },
	{ "POST", "/receipts/*/*", "receipts", tc_receipt_post, NULL },
	{ "POST", "/inbound/*", "inbound", tc_inbound_take, NULL },
	{ "GET", "/inbound/*", "inbound", tc_inbound_take, NULL },
};

static void beat(uv_timer_t *t)
{
	struct tc_disp *d = container_of(t, struct tc_disp, beat);
	uint64_t now = uv_hrtime(), want = d->stats.beat_ns + TC_BEAT_MS * 1000000ull;

	d->stats.lag_ns = now > want ? now - want : 0;
	d->stats.beat_ns = now;
	tc_disp_metrics_refresh(d);
}

int tc_serve_start(struct tc_disp *d)
{
	const char *addr = d->cfg->listen ? d->cfg->listen : DEFAULT_LISTEN;
	char why[300];
	size_t i;
	int e;

	d->metrics = tc_metrics_new();
	if (!d->metrics || tc_disp_metrics_add(d) < 0 ||
	    tc_metrics_add(d->metrics, tc_ack_metrics, d) < 0 ||
	    tc_metrics_add(d->metrics, tc_receipt_metrics, d) < 0 ||
	    tc_metrics_add(d->metrics, tc_inbound_metrics, d) < 0)
		return -ENOMEM;
	d->stats.beat_ns = uv_hrtime();
	if (uv_timer_init(d->loop, &d->beat) < 0 ||
	    uv_timer_start(&d->beat, beat, TC_BEAT_MS, TC_BEAT_MS) < 0)
		return -ENOMEM;
	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		routes[i].data = d;
	e = tc_listen_start(d->loop, addr, routes, sizeof(routes) / sizeof(routes[0]),
			    &d->listener, why, sizeof(why));
	if (e < 0) {
		tc_log(TC_LOG_ERROR, "tocsind", "event=listen-failed listen=%s err=\"%s\"",
		       addr, why);
		return e;
	}
	tc_log(TC_LOG_INFO, "tocsind", "event=listening listen=%s port=%d", addr,
	       tc_listen_port(d->listener));
	return 0;
}

void tc_serve_stop(struct tc_disp *d)
{
	if (d->listener)
		tc_listen_stop(d->listener);
	d->listener = NULL;
	if (d->beat.loop && !uv_is_closing((uv_handle_t *)&d->beat))
		uv_close((uv_handle_t *)&d->beat, NULL);
}
