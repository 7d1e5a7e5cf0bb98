/*
 * Deferred outcomes: an outcome known before anything was sent (a refused
 * destination, a channel that is not configured) still reaches its caller
 * from the loop, so every send has one shape: start now, hear later.
 */
#include <errno.h>
#include <stdlib.h>

#include "channels/channels.h"

struct deferred {
	uv_timer_t timer;
	tc_chan_cb cb;
	void *data;
	struct tc_outcome o;
};

static void deferred_closed(uv_handle_t *h)
{
	free(container_of((uv_timer_t *)h, struct deferred, timer));
}

static void deferred_fire(uv_timer_t *t)
{
	struct deferred *d = container_of(t, struct deferred, timer);

	d->cb(d->data, &d->o);
	uv_close((uv_handle_t *)t, deferred_closed);
}

int tc_chan_defer(uv_loop_t *loop, tc_chan_cb cb, void *data,
		  const struct tc_outcome *o)
{
	struct deferred *d = malloc(sizeof(*d));

	if (!d)
		return -ENOMEM;
	d->cb = cb;
	d->data = data;
	d->o = *o;
	if (uv_timer_init(loop, &d->timer) < 0 ||
	    uv_timer_start(&d->timer, deferred_fire, 0, 0) < 0) {
		free(d);
		return -ENOMEM;
	}
	return 0;
}
