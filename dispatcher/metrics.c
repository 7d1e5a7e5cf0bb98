/*
 * tocsind's own metric families, written from what it holds in memory:
 * counters kept as things happen (struct tc_stats), gauges read off the
 * runs, the scheduler's queues and heap, and the Redis connections. What
 * a gauge walks is bounded by the in-flight cap. Labels come from fixed
 * sets only: channel, delivery state, run phase, how a job ended,
 * connection name, refusal kind.
 */
#include "dispatcher/dispatcher.h"

/* Index for index with enum tc_run_phase. */
static const char *const phase_names[] = {
	"counting", "accepting", "expanding", "draining", "finishing", "broken",
};
#define PHASES (sizeof(phase_names) / sizeof(phase_names[0]))

static const char *const job_end_names[TC_JOB_END_COUNT] = {
	"done", "cancelled", "invalid", "duplicate", "refused",
};

/* A family of one gauge or counter per channel, from values v. */
static void per_channel(struct tc_mout *o, const char *name, const char *type,
			const char *help, const double *v)
{
	const char *l[3] = { "channel", NULL, NULL };
	int c;

	tc_mout_family(o, name, type, help);
	for (c = 0; c < TC_CH_COUNT; c++) {
		l[1] = tc_channel_name(c);
		tc_mout_sample(o, name, l, v[c]);
	}
}

static void jobs(struct tc_mout *o, const struct tc_disp *d)
{
	uint64_t n[PHASES] = { 0 };
	const struct tc_run *r;

	for (r = d->runs; r; r = r->next)
		n[r->phase]++;
	tc_mout_by(o, "tocsin_jobs_running", "gauge", "Jobs this tocsind works on, by phase.",
		   "phase", phase_names, n, PHASES);
	tc_mout_by(o, "tocsin_jobs_total", "counter",
		   "Jobs this tocsind ended since it started: finished (done, "
		   "cancelled) or refused at intake (invalid, duplicate).", "outcome",
		   job_end_names, d->stats.jobs, TC_JOB_END_COUNT);
}

static void deliveries(struct tc_mout *o, const struct tc_disp *d)
{
	const char *l[5] = { "channel", NULL, "state", NULL, NULL };
	double attempts[TC_CH_COUNT];
	int c, s;

	tc_mout_family(o, "tocsin_deliveries_total", "counter",
		       "Delivery moves this tocsind recorded, by channel and the "
		       "state moved to (queued: newly planned).");
	for (c = 0; c < TC_CH_COUNT; c++) {
		l[1] = tc_channel_name(c);
		for (s = 0; s < TC_DS_COUNT; s++) {
			l[3] = tc_dstate_name(s);
			tc_mout_sample(o, "tocsin_deliveries_total", l,
				       (double)d->stats.moves[c][s]);
		}
		attempts[c] = (double)d->stats.moves[c][TC_DS_SENDING];
	}
	per_channel(o, "tocsin_attempts_total", "counter",
		    "Send attempts started (moves to sending).", attempts);
}

/* The wait heap and the parked retries, per channel: retries waiting,
 * those already due (not yet taken up), and deliveries held for a rate's
 * token. */
static void waiting(struct tc_mout *o, const struct tc_disp *d)
{
	double retrying[TC_CH_COUNT] = { 0 }, due[TC_CH_COUNT] = { 0 };
	double held[TC_CH_COUNT] = { 0 }, ready[TC_CH_COUNT] = { 0 };
	double sending[TC_CH_COUNT];
	int64_t now = tc_time_now_ms();
	const struct tc_dlv *v;
	size_t i;
	int c, s;

	for (i = 0; i < d->n_retry; i++) {
		v = d->retry_heap[i];
		if (v->reserved) {
			held[v->ch]++;
			continue;
		}
		retrying[v->ch]++;
		due[v->ch] += v->due_ms <= now;
	}
	tc_park_count(d, now, retrying, due);
	for (c = 0; c < TC_CH_COUNT; c++) {
		for (s = 0; s < TC_SEV_COUNT; s++)
			for (v = d->ready[c][s]; v; v = v->next)
				ready[c]++;
		sending[c] = d->sending[c];
	}
	per_channel(o, "tocsin_retries_waiting", "gauge",
		    "Deliveries waiting for their next attempt (in memory or parked).",
		    retrying);
	per_channel(o, "tocsin_retries_due", "gauge",
		    "Of those, the ones whose time has come.", due);
	per_channel(o, "tocsin_rate_held", "gauge",
		    "Deliveries held until their rate's token (or a peer's "
		    "Retry-After) allows them.", held);
	per_channel(o, "tocsin_ready", "gauge",
		    "Deliveries queued to send as soon as the channel has room.", ready);
	per_channel(o, "tocsin_in_flight", "gauge",
		    "Send attempts under way.", sending);
	tc_mout_family(o, "tocsin_deliveries_in_memory", "gauge",
		       "Deliveries held in memory, all channels (bounded by "
		       "dispatcher.in_flight).");
	tc_mout_sample(o, "tocsin_deliveries_in_memory", NULL, d->live);
	tc_mout_family(o, "tocsin_in_flight_limit", "gauge", "dispatcher.in_flight.");
	tc_mout_sample(o, "tocsin_in_flight_limit", NULL, d->cfg->in_flight);
}

static void latency(struct tc_mout *o, const struct tc_disp *d)
{
	const char *l[3] = { "channel", NULL, NULL };
	int c;

	tc_mout_family(o, "tocsin_send_seconds", "histogram",
		       "Time from the start of a send attempt to its outcome.");
	for (c = 0; c < TC_CH_COUNT; c++) {
		l[1] = tc_channel_name(c);
		tc_mout_hist(o, "tocsin_send_seconds", l, &d->stats.latency[c]);
	}
}

static void process(struct tc_mout *o, const struct tc_disp *d)
{
	const char *l[3] = { "connection", NULL, NULL };

	tc_mout_family(o, "tocsin_redis_up", "gauge",
		       "1 when the Redis connection is up (logged in), else 0.");
	l[1] = "intake";
	tc_mout_sample(o, "tocsin_redis_up", l, d->intake && tc_rconn_ctx(d->intake));
	l[1] = "command";
	tc_mout_sample(o, "tocsin_redis_up", l, d->cmd && tc_rconn_ctx(d->cmd));
	tc_mout_family(o, "tocsin_loop_lag_seconds", "gauge",
		       "How late the loop's last heartbeat timer ran.");
	tc_mout_sample(o, "tocsin_loop_lag_seconds", NULL, (double)d->stats.lag_ns / 1e9);
}

static void redis_counted(redisAsyncContext *ac, void *reply, void *priv)
{
	struct tc_disp *d = priv;
	redisReply *rep = reply;
	unsigned i;

	(void)ac;
	if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements != TC_RC_COUNT)
		return;
	for (i = 0; i < TC_RC_COUNT; i++)
		if (rep->element[i]->type != REDIS_REPLY_INTEGER)
			return;
	for (i = 0; i < TC_RC_COUNT; i++)
		d->stats.redis[i] = rep->element[i]->integer;
	d->stats.redis_at_ns = uv_hrtime();
}

/* One script call for the three counts, so they are read together. */
static const char lua_counts[] =
	"return {redis.call('ZCARD', KEYS[1]), redis.call('ZCARD', KEYS[2]),\n"
	"  redis.call('XLEN', KEYS[3])}\n";

void tc_disp_metrics_refresh(struct tc_disp *d)
{
	char k_sched[TC_KEY_MAX];
	const char *argv[6];

	if (!d->cmd || !tc_rconn_ctx(d->cmd))
		return;
	tc_key_scheduled(k_sched, sizeof(k_sched), d->cfg->prefix);
	argv[0] = "EVAL";
	argv[1] = lua_counts;
	argv[2] = "3";
	argv[3] = k_sched;
	argv[4] = d->key_retry;
	argv[5] = d->key_dead;
	(void)tc_rconn_cmd(d->cmd, redis_counted, d, 6, argv, NULL);
}

/* The counts read from Redis, as of the last heartbeat that could. */
static void redis_counts(struct tc_mout *o, const struct tc_disp *d)
{
	static const char *const name[TC_RC_COUNT] = {
		"tocsin_redis_jobs_asleep", "tocsin_redis_retries", "tocsin_redis_dead_letters",
	};
	static const char *const help[TC_RC_COUNT] = {
		"Jobs asleep in Redis until their send_at (all instances).",
		"Deliveries in <prefix>:retry (all instances).",
		"Entries in <prefix>:dead.",
	};
	unsigned i;

	if (d->stats.redis[0] < 0)
		return; /* not read yet */
	for (i = 0; i < TC_RC_COUNT; i++) {
		tc_mout_family(o, name[i], "gauge", help[i]);
		tc_mout_sample(o, name[i], NULL, (double)d->stats.redis[i]);
	}
	tc_mout_family(o, "tocsin_redis_counts_age_seconds", "gauge",
		       "How old the tocsin_redis_* counts above are.");
	tc_mout_sample(o, "tocsin_redis_counts_age_seconds", NULL,
		       (double)(uv_hrtime() - d->stats.redis_at_ns) / 1e9);
}

static void listener(struct tc_mout *o, const struct tc_disp *d)
{
	const struct tc_listen_stats *st;

	if (!d->listener)
		return;
	st = tc_listen_stats(d->listener);
	tc_mout_family(o, "tocsin_http_connections", "gauge", "HTTP connections open.");
	tc_mout_sample(o, "tocsin_http_connections", NULL, st->open);
	tc_mout_family(o, "tocsin_http_connections_total", "counter",
		       "HTTP connections accepted.");
	tc_mout_sample(o, "tocsin_http_connections_total", NULL, (double)st->accepted);
	tc_mout_family(o, "tocsin_http_evicted_total", "counter",
		       "HTTP connections closed because TC_LIMIT_HTTP_CONNECTIONS "
		       "were open.");
	tc_mout_sample(o, "tocsin_http_evicted_total", NULL, (double)st->evicted);
	tc_mout_family(o, "tocsin_http_timeouts_total", "counter",
		       "HTTP connections past TC_LIMIT_HTTP_REQUEST_MS or _WRITE_MS.");
	tc_mout_sample(o, "tocsin_http_timeouts_total", NULL, (double)st->timed_out);
	tc_mout_family(o, "tocsin_http_requests_total", "counter",
		       "HTTP requests handed to a route.");
	tc_mout_sample(o, "tocsin_http_requests_total", NULL, (double)st->answered);
	tc_mout_by(o, "tocsin_http_refused_total", "counter",
		   "HTTP requests refused, by reason.", "reason", tc_listen_refusal_names,
		   st->refused, TC_LISTEN_REFUSALS);
}

static void collect(struct tc_mout *o, void *data)
{
	const struct tc_disp *d = data;
	int c;

	jobs(o, d);
	deliveries(o, d);
	waiting(o, d);
	latency(o, d);
	process(o, d);
	redis_counts(o, d);
	listener(o, d);
	/* Each channel's own families (SMS: per provider). */
	for (c = 0; c < TC_CH_COUNT; c++)
		if (d->chan[c])
			tc_chan_metrics(d->chan[c], o);
}

int tc_disp_metrics_add(struct tc_disp *d)
{
	unsigned i;

	for (i = 0; i < TC_RC_COUNT; i++)
		d->stats.redis[i] = -1;
	return tc_metrics_add(d->metrics, collect, d);
}
