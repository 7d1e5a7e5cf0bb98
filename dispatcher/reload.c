/*
 * Reload: SIGHUP loads the configuration and the templates again, off the
 * loop thread (uv_queue_work), and swaps them in between two loop turns.
 * A new configuration with any error is refused, its errors logged, and
 * the old one kept; one that changes what identifies this instance in Redis
 * (redis.url, redis.prefix, dispatcher.consumer), or its listen address,
 * needs a restart.
 *
 * Keeps true: work in flight is neither dropped nor sent again. Runs look
 * groups and channel settings up when they use them; deliveries copied what
 * they need; webhook sends keep their own copy of the allow ranges.
 */
#include <stdlib.h>
#include <string.h>

#include "dispatcher/dispatcher.h"

struct reload {
	uv_work_t work;
	struct tc_disp *d;
	struct tc_cfg *cfg;
	struct tc_tpl_store *store;
	struct tc_diags ds;
	int r;
};

/* On a worker thread: reads the files. */
static void reload_work(uv_work_t *w)
{
	struct reload *rl = container_of(w, struct reload, work);

	rl->r = tc_cfg_load(rl->d->cfg_path, TC_CFG_DAEMON, &rl->cfg, &rl->ds);
	if (rl->r == 0)
		rl->r = tc_tpl_store_load(rl->cfg->templates, &rl->store, &rl->ds);
	if (rl->r == 0)
		rl->r = tc_chan_cfg_check(rl->cfg, &rl->ds);
}

static bool differ(const char *a, const char *b)
{
	return (a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0);
}

/* What cannot change without a restart; NULL when nothing of it changed
 * (the connections keep their own copies of the Redis login). */
static const char *needs_restart(const struct tc_cfg *old, const struct tc_cfg *new)
{
	if (strcmp(old->redis_url, new->redis_url) != 0)
		return "redis.url";
	if (differ(old->redis_username, new->redis_username))
		return "redis.username";
	if (differ(old->redis_password, new->redis_password))
		return "redis.password";
	if (strcmp(old->prefix, new->prefix) != 0)
		return "redis.prefix";
	if (strcmp(old->consumer, new->consumer) != 0)
		return "dispatcher.consumer";
	if (differ(old->listen, new->listen))
		return "listen";
	return NULL;
}

/* Hands the new configuration to each channel (opening one newly
 * configured) before it replaces the old. A channel no longer configured
 * stays open for the sends under way, and takes no new ones. */
static int swap_in(struct tc_disp *d, struct reload *rl)
{
	struct tc_chan_env env = { d->loop, d->http };
	unsigned total, per_host;
	int c;

	for (c = 0; c < TC_CH_COUNT; c++) {
		if (!tc_chan_limits(rl->cfg, c).enabled)
			continue;
		if (!d->chan[c])
			d->chan[c] = tc_chan_new(c, &env, rl->cfg);
		else if (tc_chan_set_cfg(d->chan[c], rl->cfg) < 0)
			return -1;
		if (!d->chan[c])
			return -1;
	}
	tc_chan_http_caps(rl->cfg, &total, &per_host);
	tc_http_set_caps(d->http, total, per_host);
	tc_cfg_free(d->cfg);
	tc_tpl_store_free(d->templates);
	d->cfg = rl->cfg;
	d->templates = rl->store;
	rl->cfg = NULL;
	rl->store = NULL;
	tc_count_reload(d);
	return 0;
}

static void reload_done(uv_work_t *w, int status)
{
	struct reload *rl = container_of(w, struct reload, work);
	struct tc_disp *d = rl->d;
	char line[1200];
	const char *what;
	size_t i;

	d->reloading = false;
	if (status < 0 || d->stopping) {
		rl->r = -1;
	} else if (rl->r < 0) {
		for (i = 0; i < rl->ds.n; i++) {
			tc_diag_format(&rl->ds.item[i], line, sizeof(line));
			tc_log(TC_LOG_ERROR, "reload", "err=\"%s\"", line);
		}
		tc_log(TC_LOG_ERROR, "reload", "event=reload-refused errors=%zu, keeping the running configuration",
		       rl->ds.n + rl->ds.dropped);
	} else if ((what = needs_restart(d->cfg, rl->cfg))) {
		tc_log(TC_LOG_ERROR, "reload", "event=reload-refused key=%s err=\"changing it needs a restart\", keeping the running configuration",
		       what);
	} else if (swap_in(d, rl) < 0) {
		tc_log(TC_LOG_ERROR, "reload", "event=reload-refused err=\"out of memory\", keeping the running configuration");
	} else {
		tc_log(TC_LOG_INFO, "reload", "event=reloaded groups=%zu", d->cfg->n_groups);
	}
	tc_cfg_free(rl->cfg);
	tc_tpl_store_free(rl->store);
	free(rl);
	if (d->reload_again && !d->stopping) {
		d->reload_again = false;
		tc_reload_start(d);
	}
	tc_disp_poke(d);
}

void tc_reload_start(struct tc_disp *d)
{
	struct reload *rl;

	if (d->reloading) {
		d->reload_again = true; /* once this one is done */
		return;
	}
	rl = calloc(1, sizeof(*rl));
	if (!rl) {
		tc_log(TC_LOG_ERROR, "reload", "event=reload-refused err=\"out of memory\"");
		return;
	}
	rl->d = d;
	if (uv_queue_work(d->loop, &rl->work, reload_work, reload_done) < 0) {
		free(rl);
		return;
	}
	d->reloading = true;
	tc_log(TC_LOG_INFO, "reload", "event=reloading file=%s", d->cfg_path);
}
