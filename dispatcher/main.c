/*
 * tocsind: the dispatcher daemon. Loads and checks the configuration, makes
 * sure Redis is there, then runs the loop: intake reads jobs, runs plan and
 * send them, and a check handle pumps everything once per loop turn.
 *
 * Exit codes: 0 after a clean stop, 1 bad configuration or a fatal error,
 * 2 usage, 3 Redis unreachable at start.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "dispatcher/dispatcher.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: tocsind [-c FILE] [-v]\n"
		   "  -c FILE  configuration (default: $TOCSIN_CONFIG, then ./tocsin.yaml)\n"
		   "  -v       log debug lines too\n");
}

const char *tc_disp_now(struct tc_disp *d)
{
	int64_t now = tc_time_now_ms();

	if (now != d->now_ms) {
		d->now_ms = now;
		tc_time_format(now, d->now_str, sizeof(d->now_str));
	}
	return d->now_str;
}

void tc_disp_poke(struct tc_disp *d)
{
	d->dirty = true;
}

void tc_disp_peek(struct tc_disp *d)
{
	uint64_t now = uv_hrtime();

	if (d->stopping || now - d->peeked_ns < TC_PEEK_US * 1000ull)
		return;
	d->peeked_ns = now;
	tc_rconn_peek(d->intake);
	/* What it started (an ACCEPT, a send's record) leaves now. */
	tc_rconn_flush(d->intake);
	tc_rconn_flush(d->cmd);
}

bool tc_disp_has_entry(const struct tc_disp *d, enum tc_severity s,
		       const char *entry)
{
	const struct tc_run *r;

	for (r = d->runs; r; r = r->next)
		if (r->job.severity == s && strcmp(r->job.entry, entry) == 0 &&
		    r->phase != TC_RUN_BROKEN)
			return true;
	return false;
}

bool tc_disp_channel_ready(const struct tc_disp *d, enum tc_channel c)
{
	return d->chan[c] && tc_chan_limits(d->cfg, c).enabled;
}

static bool all_quiet(const struct tc_disp *d)
{
	int c;

	for (c = 0; c < TC_CH_COUNT; c++)
		if (d->sending[c])
			return false;
	return d->runs == NULL || d->live == 0;
}

static bool writing(const struct tc_disp *d)
{
	const struct tc_run *r;

	for (r = d->runs; r; r = r->next)
		if (r->writes || r->outbox)
			return true;
	return false;
}

static void close_all(struct tc_disp *d);

static void on_check(uv_check_t *h)
{
	struct tc_disp *d = container_of(h, struct tc_disp, check);

	d->peeked_ns = uv_hrtime(); /* the loop polled */
	if (d->dirty) {
		d->dirty = false;
		tc_run_pump_all(d);
		tc_intake_pump(d);
		if (d->stopping && all_quiet(d) && !writing(d)) {
			close_all(d);
			return;
		}
	}
	/* What this turn asked of Redis leaves now, not next turn. */
	tc_rconn_flush(d->cmd);
	tc_rconn_flush(d->intake);
}

static void walk_close(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

static void close_all(struct tc_disp *d)
{
	struct tc_run *r;
	int i;

	if (!d->check.loop || uv_is_closing((uv_handle_t *)&d->check))
		return;
	tc_log(TC_LOG_INFO, "tocsind", "event=stopped jobs-left-pending=%u", d->n_runs);
	tc_run_break_all(d);
	tc_http_free(d->http);
	d->http = NULL;
	for (i = 0; i < TC_CH_COUNT; i++)
		tc_chan_stop(d->chan[i]);
	tc_serve_stop(d);
	tc_rconn_free(d->intake);
	tc_rconn_free(d->cmd);
	d->intake = d->cmd = NULL;
	for (r = d->runs; r; r = r->next)
		r->phase = TC_RUN_BROKEN;
	uv_close((uv_handle_t *)&d->check, NULL);
	uv_close((uv_handle_t *)&d->sigterm, NULL);
	uv_close((uv_handle_t *)&d->sigint, NULL);
	uv_close((uv_handle_t *)&d->sighup, NULL);
	uv_close((uv_handle_t *)&d->grace, NULL);
	uv_close((uv_handle_t *)&d->retry_timer, NULL);
	uv_timer_stop(&d->claim_timer);
	uv_close((uv_handle_t *)&d->claim_timer, NULL);
	uv_timer_stop(&d->cancel_timer);
	uv_close((uv_handle_t *)&d->cancel_timer, NULL);
	uv_close((uv_handle_t *)&d->turn, NULL);
	tc_wake_stop(d);
	tc_park_stop(d);
	uv_close((uv_handle_t *)&d->read_retry, NULL);
}

static void grace_over(uv_timer_t *t)
{
	struct tc_disp *d = container_of(t, struct tc_disp, grace);

	tc_log(TC_LOG_WARN, "tocsind", "event=grace-over, abandoning what is in flight (it stays pending)");
	close_all(d);
}

static void on_signal(uv_signal_t *s, int signum)
{
	struct tc_disp *d = s->data;

	if (d->stopping)
		return;
	tc_log(TC_LOG_INFO, "tocsind", "event=stopping signal=%d grace=%llums", signum,
	       (unsigned long long)d->cfg->shutdown_grace_ms);
	d->stopping = true;
	/* Waiting retries stay `retrying` in Redis, with their time. */
	tc_sched_drop_waiting(d);
	uv_timer_start(&d->grace, grace_over, d->cfg->shutdown_grace_ms, 0);
	tc_disp_poke(d);
}

static void on_hup(uv_signal_t *s, int signum)
{
	(void)signum;
	tc_reload_start(s->data);
}

static void intake_up(struct tc_rconn *rc, void *data)
{
	(void)rc;
	tc_intake_up(data);
}

static void cmd_up(struct tc_rconn *rc, void *data)
{
	(void)rc;
	tc_track_replay_all(data);
	tc_wake_at(data, 0); /* jobs that came due while it was away */
	tc_disp_poke(data);
}

static void conn_down(struct tc_rconn *rc, void *data)
{
	struct tc_disp *d = data;

	/* Losing intake loses at most a read's reply: the entries it
	 * carried are pending for us, so read our pending entries again
	 * (runs under way are skipped). Losing the command connection
	 * pauses the runs: sends under way finish, their outcomes wait in
	 * the runs' outboxes with every unanswered write, and all of it is
	 * written when the connection is back. */
	if (rc == d->intake)
		d->reading = false;
	else if (!d->paused_at_ms) {
		d->paused_at_ms = tc_time_now_ms();
		tc_log(TC_LOG_WARN, "run", "event=paused jobs=%u, sends under way finish and their outcomes are kept until Redis is back",
		       d->n_runs);
	}
	tc_intake_rescan(d);
}

/* Loads the configuration and the template list; prints every error. */
static int load(const char *path, struct tc_disp *d)
{
	struct tc_diags *ds = calloc(1, sizeof(*ds));
	int r;

	if (!ds)
		return 1;
	r = tc_cfg_load(path, TC_CFG_DAEMON, &d->cfg, ds);
	if (r == 0)
		r = tc_tpl_store_load(d->cfg->templates, &d->templates, ds);
	if (r == 0)
		r = tc_chan_cfg_check(d->cfg, ds);
	if (r < 0) {
		tc_diags_print(ds, stderr);
		tc_log(TC_LOG_ERROR, "tocsind", "event=config-invalid file=%s errors=%zu",
		       path, ds->n + ds->dropped);
	}
	free(ds);
	return r < 0 ? 1 : 0;
}

/* Opens every channel the configuration enables; says which it names
 * that this build cannot send yet. Returns 0 or -ENOMEM. */
static int open_channels(struct tc_disp *d)
{
	struct tc_chan_env env = { d->loop, d->http };
	unsigned missing = tc_chan_configured(d->cfg) & ~tc_chan_available(d->cfg);
	int c;

	for (c = 0; c < TC_CH_COUNT; c++) {
		if (missing & TC_CH_BIT(c))
			tc_log(TC_LOG_WARN, "tocsind", "event=channel-unavailable channel=%s, jobs naming it are refused until the channel lands",
			       tc_channel_name(c));
		if (!tc_chan_limits(d->cfg, c).enabled)
			continue;
		d->chan[c] = tc_chan_new(c, &env, d->cfg);
		if (!d->chan[c])
			return -ENOMEM;
	}
	return 0;
}

static int start(struct tc_disp *d)
{
	char why[600];
	unsigned total, per_host;

	if (tc_redis_prepare(d->cfg, why, sizeof(why)) < 0) {
		tc_log(TC_LOG_ERROR, "tocsind", "event=redis-unreachable err=\"%s\"", why);
		return 3;
	}
	tc_chan_http_caps(d->cfg, &total, &per_host);
	d->http = tc_http_new(d->loop, total, per_host);
	d->phones = tc_phone_cache_new();
	if (!d->http || !d->phones || open_channels(d) < 0)
		return 1;
	if (tc_runs_init(d) < 0 || tc_claim_start(d) < 0 || tc_wake_start(d) < 0 ||
	    tc_park_init(d) < 0)
		return 1;
	uv_check_init(d->loop, &d->check);
	uv_check_start(&d->check, on_check);
	uv_timer_init(d->loop, &d->grace);
	uv_timer_init(d->loop, &d->read_retry);
	uv_signal_init(d->loop, &d->sigterm);
	uv_signal_init(d->loop, &d->sigint);
	uv_signal_init(d->loop, &d->sighup);
	d->sigterm.data = d->sigint.data = d->sighup.data = d;
	uv_signal_start(&d->sigterm, on_signal, SIGTERM);
	uv_signal_start(&d->sigint, on_signal, SIGINT);
	uv_signal_start(&d->sighup, on_hup, SIGHUP);
	/* Before the Redis connections: a listen address in use stops the
	 * start with nothing to undo but handles. */
	if (tc_serve_start(d) < 0)
		return 1;
	d->cmd = tc_rconn_new(d->loop, d->cfg, "cmd", TC_REDIS_STALL_MS,
			      cmd_up, conn_down, d);
	/* intake waits in XREADGROUP BLOCK on purpose: allow for it. */
	d->intake = tc_rconn_new(d->loop, d->cfg, "intake",
				 TC_INTAKE_BLOCK_MS + TC_REDIS_STALL_MS, intake_up,
				 conn_down, d);
	if (!d->cmd || !d->intake)
		return 1;
	tc_log(TC_LOG_INFO, "tocsind", "event=started consumer=%s prefix=%s in_flight=%u",
	       d->cfg->consumer, d->cfg->prefix, d->cfg->in_flight);
	return 0;
}

int main(int argc, char **argv)
{
	const char *path = getenv("TOCSIN_CONFIG");
	struct tc_disp d;
	int opt, r;

	while ((opt = getopt(argc, argv, "c:vh")) != -1) {
		switch (opt) {
		case 'c':
			path = optarg;
			break;
		case 'v':
			tc_log_set_level(TC_LOG_DEBUG);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (!path || !path[0])
		path = "tocsin.yaml";
	/* A peer that went away must be an error return, not a signal:
	 * hiredis writes with write(2). */
	signal(SIGPIPE, SIG_IGN);
	memset(&d, 0, sizeof(d));
	d.cfg_path = path;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return 1;
	d.loop = uv_default_loop();
	r = load(path, &d);
	if (r == 0)
		r = start(&d);
	if (r == 0) {
		uv_run(d.loop, UV_RUN_DEFAULT);
		r = d.exit_code;
	} else {
		tc_http_free(d.http);
		/* Channels close their own handles (the email pool's async
		 * handle, with its callback) before the rest are closed bare. */
		for (opt = 0; opt < TC_CH_COUNT; opt++) {
			tc_chan_free(d.chan[opt]);
			d.chan[opt] = NULL;
		}
		uv_walk(d.loop, walk_close, NULL);
		uv_run(d.loop, UV_RUN_DEFAULT);
	}
	tc_metrics_free(d.metrics);
	free(d.retry_heap);
	free(d.parked);
	for (opt = 0; opt < TC_CH_COUNT; opt++)
		tc_chan_free(d.chan[opt]);
	tc_tpl_store_free(d.templates);
	tc_cfg_free(d.cfg);
	tc_phone_cache_free(d.phones);
	uv_loop_close(d.loop);
	curl_global_cleanup();
	return r;
}
