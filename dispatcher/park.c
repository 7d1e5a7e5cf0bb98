/*
 * Parked deliveries: a retry more than TC_PARK_MS away does not wait in
 * memory. Its record says `retrying` with its due time (and the member's
 * fields and every attempt's reason), <prefix>:retry holds it, and here it
 * leaves only a small index entry: its in_flight slot goes back to new
 * work at once. When it comes due it is read back from its record and
 * queued again, as far as in_flight allows.
 *
 * Keeps true: a run never finishes while one of its deliveries is parked,
 * and a parked delivery of a run that stops stays as Redis has it, to be
 * resumed by the next pass (which parks it again if it is still far off).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "dispatcher/dispatcher.h"

struct tc_parked {
	int64_t due_ms;
	struct tc_run *run;
	enum tc_channel ch;
	char id[TC_DELIVERY_ID_LEN + 1];
};

/* An unpark under way: the record read back (HGET). */
struct unpark {
	struct tc_run *run;
	enum tc_channel ch;
	char id[TC_DELIVERY_ID_LEN + 1];
};

static void park_fire(uv_timer_t *t);

static bool less(const struct tc_parked *a, const struct tc_parked *b)
{
	return a->due_ms < b->due_ms;
}

static void sift_up(struct tc_parked *h, size_t i)
{
	while (i && less(&h[i], &h[(i - 1) / 2])) {
		struct tc_parked t = h[i];

		h[i] = h[(i - 1) / 2];
		h[(i - 1) / 2] = t;
		i = (i - 1) / 2;
	}
}

static void sift_down(struct tc_parked *h, size_t n, size_t i)
{
	for (;;) {
		size_t c = 2 * i + 1;
		struct tc_parked t;

		if (c >= n)
			return;
		if (c + 1 < n && less(&h[c + 1], &h[c]))
			c++;
		if (!less(&h[c], &h[i]))
			return;
		t = h[i];
		h[i] = h[c];
		h[c] = t;
		i = c;
	}
}

static void arm(struct tc_disp *d)
{
	int64_t wait;

	if (!d->n_parked) {
		uv_timer_stop(&d->park_timer);
		return;
	}
	wait = d->parked[0].due_ms - tc_time_now_ms();
	uv_timer_start(&d->park_timer, park_fire, wait > 0 ? (uint64_t)wait : 0, 0);
}

int tc_park_init(struct tc_disp *d)
{
	return uv_timer_init(d->loop, &d->park_timer) < 0 ? -ENOMEM : 0;
}

int tc_park(struct tc_disp *d, struct tc_dlv *v)
{
	struct tc_parked *e;

	if (d->n_parked == d->cap_parked) {
		size_t cap = d->cap_parked ? d->cap_parked * 2 : 64;
		struct tc_parked *h = realloc(d->parked, cap * sizeof(*h));

		if (!h)
			return -ENOMEM;
		d->parked = h;
		d->cap_parked = cap;
	}
	e = &d->parked[d->n_parked];
	e->due_ms = v->due_ms;
	e->run = v->run;
	e->ch = v->ch;
	memcpy(e->id, v->id, sizeof(e->id));
	sift_up(d->parked, d->n_parked++);
	v->run->parked++;
	tc_dlv_free(v);
	arm(d);
	return 0;
}

/* Drops the entries of r (every entry when r is NULL), or with hurry makes
 * them due now. */
static void filter(struct tc_disp *d, const struct tc_run *r, bool hurry)
{
	size_t i, n = 0;

	for (i = 0; i < d->n_parked; i++) {
		struct tc_parked *e = &d->parked[i];

		if (r && e->run != r) {
			d->parked[n++] = *e;
		} else if (hurry) {
			e->due_ms = 0;
			d->parked[n++] = *e;
		} else {
			e->run->parked--;
		}
	}
	d->n_parked = n;
	for (i = n / 2 + 1; i-- > 0;)
		sift_down(d->parked, d->n_parked, i);
	arm(d);
}

void tc_park_hurry(struct tc_disp *d, const struct tc_run *r)
{
	filter(d, r, true);
}

void tc_park_drop(struct tc_disp *d, const struct tc_run *r)
{
	filter(d, r, false);
}

/* The member and address of a record read back, into a new delivery. */
/* What a record keeps of the attempts before (tried, segments, encoding),
 * back into v. A record is read back, never trusted: only an array of
 * objects within TC_LIMIT_TRIED is taken, and known encodings. */
static void restore_tried(struct tc_dlv *v, const json_t *o)
{
	json_t *t = json_object_get(o, "tried");
	const char *enc = json_string_value(json_object_get(o, "encoding"));
	char *text;
	size_t i;

	v->segments = (unsigned)tc_json_int(o, "segments", 0, 1000);
	v->encoding = !enc ? NULL : strcmp(enc, "gsm7") == 0 ? "gsm7" :
		      strcmp(enc, "ucs2") == 0 ? "ucs2" : NULL;
	if (!json_is_array(t) || !json_array_size(t))
		return;
	for (i = 0; i < json_array_size(t); i++)
		if (!json_is_object(json_array_get(t, i)))
			return;
	text = json_dumps(t, JSON_COMPACT | JSON_ENSURE_ASCII);
	if (text && strlen(text) > 2)
		(void)tc_buf_add(&v->tried, text + 1, strlen(text) - 2);
	free(text);
}

static struct tc_dlv *from_record(const struct unpark *u, const char *text, size_t len)
{
	json_t *o = json_loadb(text, len, 0, NULL);
	struct tc_dlv *v = NULL;
	struct tc_member m = { 0 };
	const char *addr, *group, *st;

	if (!json_is_object(o))
		goto out;
#define STR(k) (json_is_string(json_object_get(o, k)) ? \
		json_string_value(json_object_get(o, k)) : NULL)
	addr = STR("address");
	group = STR("group");
	st = STR("state");
	m.name = (char *)STR("member");
	m.role = (char *)STR("role");
	m.email = (char *)STR("email");
	m.phone = (char *)STR("phone");
	if (!addr || !st || strcmp(st, "retrying") != 0)
		goto out; /* moved on meanwhile (cancelled): nothing to send */
	v = tc_dlv_new(u->run, u->ch, addr, group ? group : "", &m);
	if (!v)
		goto out;
	if (strcmp(v->id, u->id) != 0) {
		/* not the delivery it says it is */
		tc_dlv_free(v);
		v = NULL;
		goto out;
	}
	v->state = TC_DS_RETRYING;
	v->attempts = (unsigned)tc_json_int(o, "attempts", 0, UINT32_MAX);
	v->plan_write = (uint64_t)tc_json_int(o, "plan", 0, INT64_MAX);
	if (STR("reasons"))
		(void)tc_buf_adds(&v->reasons, STR("reasons"));
	restore_tried(v, o);
#undef STR
out:
	json_decref(o);
	return v;
}

static void unparked(redisAsyncContext *ac, void *reply, void *priv)
{
	struct unpark *u = priv;
	struct tc_run *r = u->run;
	redisReply *rep = reply;
	struct tc_dlv *v = NULL;

	(void)ac;
	r->writes--;
	r->parked--;
	r->disp->unparking--;
	if (rep && rep->type == REDIS_REPLY_STRING && r->phase != TC_RUN_BROKEN)
		v = from_record(u, rep->str, rep->len);
	if (v) {
		tc_sched_ready(r->disp, v);
		tc_sched_dispatch(r->disp, false);
	} else if (!rep || rep->type == REDIS_REPLY_ERROR) {
		tc_run_break(r, "a parked delivery could not be read back");
	} else if (r->phase != TC_RUN_BROKEN) {
		tc_log(TC_LOG_INFO, "run", "job=%s delivery=%s event=unparked-gone, its record moved on",
		       r->job.id, u->id);
	}
	free(u);
	tc_disp_poke(r->disp);
}

/* Reads back the parked deliveries that are due, while in_flight has room. */
static void park_fire(uv_timer_t *t)
{
	struct tc_disp *d = container_of(t, struct tc_disp, park_timer);
	int64_t now = tc_time_now_ms();
	const char *argv[3];

	while (d->n_parked && d->parked[0].due_ms <= now &&
	       d->live + d->unparking < d->cfg->in_flight) {
		struct tc_parked e = d->parked[0];
		struct unpark *u = malloc(sizeof(*u));

		if (!u)
			break;
		d->parked[0] = d->parked[--d->n_parked];
		sift_down(d->parked, d->n_parked, 0);
		u->run = e.run;
		u->ch = e.ch;
		memcpy(u->id, e.id, sizeof(u->id));
		argv[0] = "HGET";
		argv[1] = e.run->key_dlv;
		argv[2] = e.id;
		if (tc_rconn_cmd(d->cmd, unparked, u, 3, argv, NULL) < 0) {
			/* Redis is away: the run breaks and resumes later. */
			e.run->parked--;
			tc_run_break(e.run, "redis down");
			free(u);
			continue;
		}
		e.run->writes++;
		d->unparking++;
	}
	if (d->n_parked && d->parked[0].due_ms <= now) {
		/* in_flight is full: look again soon */
		uv_timer_start(&d->park_timer, park_fire, 50, 0);
		return;
	}
	arm(d);
}

void tc_park_stop(struct tc_disp *d)
{
	tc_park_drop(d, NULL);
	uv_timer_stop(&d->park_timer);
	uv_close((uv_handle_t *)&d->park_timer, NULL);
}

void tc_park_count(const struct tc_disp *d, int64_t now, double *waiting, double *due)
{
	size_t i;

	for (i = 0; i < d->n_parked; i++) {
		waiting[d->parked[i].ch]++;
		due[d->parked[i].ch] += d->parked[i].due_ms <= now;
	}
}
