/*
 * Unit tests of the scheduler's choices (dispatcher/scheduler.c), on a real
 * libuv loop but with no socket and no Redis: which ready delivery goes
 * next (severity, then arrival, per channel), that a channel at its cap
 * gives none while the others go on, and that the wait heap gives
 * deliveries back in due order, its timer included, with tc_sched_hurry
 * making one run's due now and leaving the others' order alone.
 *
 * The deliveries are real ones (tc_dlv_new) of runs that hold only what
 * the scheduler reads: a severity, a job id and the dispatcher.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dispatcher/dispatcher.h"
#include "tc_test.h"

/* ---- what tocsind's main.c provides to the dispatcher's parts ------------ */
/* The scheduler calls these; the tests play the daemon. */

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
	(void)d;
}

bool tc_disp_has_entry(const struct tc_disp *d, enum tc_severity s,
		       const char *entry)
{
	(void)d;
	(void)s;
	(void)entry;
	return false;
}

bool tc_disp_channel_ready(const struct tc_disp *d, enum tc_channel c)
{
	return d->chan[c] && tc_chan_limits(d->cfg, c).enabled;
}

/* ---- a dispatcher with nothing connected ------------------------------------ */

#define RUNS 6

struct fixture {
	uv_loop_t loop;
	struct tc_cfg cfg;
	struct tc_disp d;
	struct tc_run run[RUNS];
};

/* A dispatcher whose webhook channel takes webhook_cap at once and whose
 * other channels (not enabled) take in_flight; run[i] has severity sev[i]. */
static void fx_init(struct fixture *f, unsigned webhook_cap, unsigned in_flight,
		    const enum tc_severity sev[RUNS])
{
	int i;

	memset(f, 0, sizeof(*f));
	if (uv_loop_init(&f->loop) < 0)
		abort();
	f->cfg.in_flight = in_flight;
	f->cfg.webhook.enabled = webhook_cap > 0;
	f->cfg.webhook.concurrency = webhook_cap;
	f->d.loop = &f->loop;
	f->d.cfg = &f->cfg;
	if (tc_sched_init(&f->d) < 0)
		abort();
	for (i = 0; i < RUNS; i++) {
		f->run[i].disp = &f->d;
		f->run[i].job.severity = sev[i];
		(void)snprintf(f->run[i].job.id, sizeof(f->run[i].job.id), "job-%d", i);
	}
}

/* Checks nothing is left in memory (frees what a failed case left), then
 * closes the loop. */
static void fx_release(struct fixture *f)
{
	struct tc_dlv *v;

	TC_CHECK_INT(f->d.live, 0);
	TC_CHECK_INT(f->d.n_retry, 0);
	while ((v = tc_sched_due(&f->d, INT64_MAX)))
		tc_dlv_free(v);
	tc_sched_drop_ready(&f->d);
	uv_close((uv_handle_t *)&f->d.retry_timer, NULL);
	TC_CHECK_INT(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
	TC_CHECK_INT(uv_loop_close(&f->loop), 0);
	free(f->d.retry_heap);
}

/* A new delivery of run r on channel c to address (its name in checks). */
static struct tc_dlv *dlv(struct tc_run *r, enum tc_channel c, const char *address)
{
	struct tc_member m = { 0 };
	struct tc_dlv *v;

	m.name = "someone";
	v = tc_dlv_new(r, c, address, "", &m);
	if (!v)
		abort();
	return v;
}

static void ready(struct fixture *f, int run, enum tc_channel c, const char *address)
{
	tc_sched_ready(&f->d, dlv(&f->run[run], c, address));
}

static void wait_until(struct fixture *f, int run, const char *address, int64_t due)
{
	struct tc_dlv *v = dlv(&f->run[run], TC_CH_WEBHOOK, address);

	v->due_ms = due;
	TC_CHECK_INT(tc_sched_wait(&f->d, v), 0);
}

/* Pops the next delivery of c and checks it is address (NULL: none);
 * as tc_sched_dispatch does, a popped one counts as sending until
 * finished() is called. */
static void check_pop(struct fixture *f, enum tc_channel c, const char *address,
		      const char *file, int line)
{
	struct tc_dlv *v = tc_sched_pop(&f->d, c);

	if (!address) {
		if (v)
			tc_test_fail(file, line, "%s: expected nothing, got '%s'",
				     tc_channel_name(c), v->address);
	} else if (!v) {
		tc_test_fail(file, line, "%s: expected '%s', got nothing",
			     tc_channel_name(c), address);
	} else if (strcmp(v->address, address) != 0) {
		tc_test_fail(file, line, "%s: expected '%s', got '%s'",
			     tc_channel_name(c), address, v->address);
	}
	if (v) {
		f->d.sending[c]++;
		tc_dlv_free(v);
	}
}
#define POP(f, c, address) check_pop(f, c, address, __FILE__, __LINE__)

static void finished(struct fixture *f, enum tc_channel c)
{
	f->d.sending[c]--;
}

/* Pops the next due delivery at now and checks it is address (NULL: none). */
static void check_due(struct fixture *f, int64_t now, const char *address,
		      const char *file, int line)
{
	struct tc_dlv *v = tc_sched_due(&f->d, now);

	if (!address) {
		if (v)
			tc_test_fail(file, line, "expected nothing due, got '%s' (due %lld)",
				     v->address, (long long)v->due_ms);
	} else if (!v) {
		tc_test_fail(file, line, "expected '%s' due, got nothing", address);
	} else if (strcmp(v->address, address) != 0) {
		tc_test_fail(file, line, "expected '%s' due, got '%s' (due %lld)",
			     address, v->address, (long long)v->due_ms);
	}
	if (v)
		tc_dlv_free(v);
}
#define DUE(f, now, address) check_due(f, now, address, __FILE__, __LINE__)

static const enum tc_severity one_each[RUNS] = {
	TC_SEV_LOW, TC_SEV_NORMAL, TC_SEV_HIGH, TC_SEV_CRITICAL, TC_SEV_NORMAL,
	TC_SEV_CRITICAL,
};
enum { LOW, NORMAL, HIGH, CRITICAL, NORMAL2, CRITICAL2 };

/* ---- ready queues ------------------------------------------------------------- */

static void test_priority(void)
{
	struct fixture f;

	tc_test_begin("ready: critical, then high, normal, low");
	fx_init(&f, 100, 100, one_each);
	ready(&f, LOW, TC_CH_WEBHOOK, "low");
	ready(&f, NORMAL, TC_CH_WEBHOOK, "normal");
	ready(&f, HIGH, TC_CH_WEBHOOK, "high");
	ready(&f, CRITICAL, TC_CH_WEBHOOK, "critical");
	POP(&f, TC_CH_WEBHOOK, "critical");
	POP(&f, TC_CH_WEBHOOK, "high");
	POP(&f, TC_CH_WEBHOOK, "normal");
	POP(&f, TC_CH_WEBHOOK, "low");
	POP(&f, TC_CH_WEBHOOK, NULL);
	fx_release(&f);

	tc_test_begin("ready: first in, first out within one severity, across jobs");
	fx_init(&f, 100, 100, one_each);
	ready(&f, NORMAL, TC_CH_WEBHOOK, "n1");
	ready(&f, LOW, TC_CH_WEBHOOK, "l1");
	ready(&f, NORMAL2, TC_CH_WEBHOOK, "m1");
	ready(&f, NORMAL, TC_CH_WEBHOOK, "n2");
	ready(&f, CRITICAL2, TC_CH_WEBHOOK, "d1");
	ready(&f, LOW, TC_CH_WEBHOOK, "l2");
	ready(&f, NORMAL2, TC_CH_WEBHOOK, "m2");
	ready(&f, CRITICAL, TC_CH_WEBHOOK, "c1");
	ready(&f, CRITICAL2, TC_CH_WEBHOOK, "d2");
	POP(&f, TC_CH_WEBHOOK, "d1");
	POP(&f, TC_CH_WEBHOOK, "c1");
	POP(&f, TC_CH_WEBHOOK, "d2");
	POP(&f, TC_CH_WEBHOOK, "n1");
	POP(&f, TC_CH_WEBHOOK, "m1");
	POP(&f, TC_CH_WEBHOOK, "n2");
	POP(&f, TC_CH_WEBHOOK, "m2");
	POP(&f, TC_CH_WEBHOOK, "l1");
	POP(&f, TC_CH_WEBHOOK, "l2");
	POP(&f, TC_CH_WEBHOOK, NULL);
	fx_release(&f);

	tc_test_begin("ready: each channel has its own queues");
	fx_init(&f, 100, 100, one_each);
	ready(&f, LOW, TC_CH_EMAIL, "mail-low");
	ready(&f, CRITICAL, TC_CH_WEBHOOK, "hook-critical");
	ready(&f, CRITICAL, TC_CH_EMAIL, "mail-critical");
	ready(&f, NORMAL, TC_CH_WEBHOOK, "hook-normal");
	ready(&f, HIGH, TC_CH_EMAIL, "mail-high");
	POP(&f, TC_CH_SMS, NULL);
	POP(&f, TC_CH_EMAIL, "mail-critical");
	POP(&f, TC_CH_WEBHOOK, "hook-critical");
	POP(&f, TC_CH_EMAIL, "mail-high");
	POP(&f, TC_CH_EMAIL, "mail-low");
	POP(&f, TC_CH_EMAIL, NULL);
	POP(&f, TC_CH_WEBHOOK, "hook-normal");
	POP(&f, TC_CH_WEBHOOK, NULL);
	fx_release(&f);

	tc_test_begin("ready: a queue emptied takes new deliveries at its end");
	fx_init(&f, 100, 100, one_each);
	ready(&f, HIGH, TC_CH_WEBHOOK, "h1");
	POP(&f, TC_CH_WEBHOOK, "h1");
	ready(&f, HIGH, TC_CH_WEBHOOK, "h2");
	ready(&f, HIGH, TC_CH_WEBHOOK, "h3");
	POP(&f, TC_CH_WEBHOOK, "h2");
	ready(&f, HIGH, TC_CH_WEBHOOK, "h4");
	POP(&f, TC_CH_WEBHOOK, "h3");
	POP(&f, TC_CH_WEBHOOK, "h4");
	POP(&f, TC_CH_WEBHOOK, NULL);
	fx_release(&f);
}

/* ---- channel caps ---------------------------------------------------------------- */

static void test_caps(void)
{
	struct fixture f;

	tc_test_begin("caps: a channel at its concurrency gives nothing, even critical");
	fx_init(&f, 2, 100, one_each);
	ready(&f, NORMAL, TC_CH_WEBHOOK, "n1");
	ready(&f, NORMAL, TC_CH_WEBHOOK, "n2");
	ready(&f, NORMAL, TC_CH_WEBHOOK, "n3");
	POP(&f, TC_CH_WEBHOOK, "n1");
	POP(&f, TC_CH_WEBHOOK, "n2");
	POP(&f, TC_CH_WEBHOOK, NULL);
	ready(&f, CRITICAL, TC_CH_WEBHOOK, "c1");
	POP(&f, TC_CH_WEBHOOK, NULL);
	TC_CHECK_INT(f.d.sending[TC_CH_WEBHOOK], 2);
	finished(&f, TC_CH_WEBHOOK);
	POP(&f, TC_CH_WEBHOOK, "c1");
	POP(&f, TC_CH_WEBHOOK, NULL);
	finished(&f, TC_CH_WEBHOOK);
	finished(&f, TC_CH_WEBHOOK);
	POP(&f, TC_CH_WEBHOOK, "n3");
	finished(&f, TC_CH_WEBHOOK);
	TC_CHECK_INT(f.d.sending[TC_CH_WEBHOOK], 0);
	fx_release(&f);

	tc_test_begin("caps: a channel at its cap holds back no other channel");
	fx_init(&f, 1, 3, one_each);
	ready(&f, CRITICAL, TC_CH_WEBHOOK, "hook1");
	ready(&f, CRITICAL, TC_CH_WEBHOOK, "hook2");
	ready(&f, LOW, TC_CH_EMAIL, "mail1");
	ready(&f, LOW, TC_CH_EMAIL, "mail2");
	ready(&f, LOW, TC_CH_EMAIL, "mail3");
	ready(&f, LOW, TC_CH_EMAIL, "mail4");
	POP(&f, TC_CH_WEBHOOK, "hook1");
	POP(&f, TC_CH_WEBHOOK, NULL);
	/* A channel not enabled takes in_flight at once. */
	POP(&f, TC_CH_EMAIL, "mail1");
	POP(&f, TC_CH_EMAIL, "mail2");
	POP(&f, TC_CH_EMAIL, "mail3");
	POP(&f, TC_CH_EMAIL, NULL);
	finished(&f, TC_CH_WEBHOOK);
	POP(&f, TC_CH_EMAIL, NULL);
	POP(&f, TC_CH_WEBHOOK, "hook2");
	finished(&f, TC_CH_EMAIL);
	POP(&f, TC_CH_EMAIL, "mail4");
	fx_release(&f);

	tc_test_begin("caps: a cap lowered below what is sending gives nothing");
	fx_init(&f, 4, 100, one_each);
	ready(&f, HIGH, TC_CH_WEBHOOK, "h1");
	f.d.sending[TC_CH_WEBHOOK] = 3;
	f.cfg.webhook.concurrency = 2; /* as a reload could */
	POP(&f, TC_CH_WEBHOOK, NULL);
	f.d.sending[TC_CH_WEBHOOK] = 1;
	POP(&f, TC_CH_WEBHOOK, "h1");
	fx_release(&f);
}

/* ---- the wait heap ---------------------------------------------------------------- */

static void test_wait_order(void)
{
	static const int64_t due[] = { 700, 100, 900, 300, 300, 500, 0, 800, 200,
				       600, 100, 400, 1000, 50, 950, 650 };
	const size_t n = sizeof(due) / sizeof(due[0]);
	struct fixture f;
	int64_t base = tc_time_now_ms() + 3600 * 1000, last = 0;
	size_t i, got = 0;
	struct tc_dlv *v;
	char name[32];

	tc_test_begin("wait: deliveries come out in due order, only when due");
	fx_init(&f, 100, 100, one_each);
	for (i = 0; i < n; i++) {
		(void)snprintf(name, sizeof(name), "w%zu", i);
		wait_until(&f, (int)(i % RUNS), name, base + due[i]);
	}
	TC_CHECK_INT(f.d.n_retry, n);
	TC_CHECK(uv_is_active((uv_handle_t *)&f.d.retry_timer));
	DUE(&f, base - 1, NULL);
	DUE(&f, base, "w6");
	DUE(&f, base + 49, NULL);
	while ((v = tc_sched_due(&f.d, base + 1000))) {
		if (v->due_ms < last)
			tc_test_fail(__FILE__, __LINE__, "'%s' due %lld came after %lld",
				     v->address, (long long)(v->due_ms - base),
				     (long long)(last - base));
		last = v->due_ms;
		got++;
		tc_dlv_free(v);
	}
	TC_CHECK_INT(got, n - 1);
	TC_CHECK_INT(last, base + 1000);
	fx_release(&f);
}

static void test_wait_timer(void)
{
	int64_t now = tc_time_now_ms();
	struct fixture f;
	int turns;

	tc_test_begin("wait: the timer makes what is due ready, in due order");
	fx_init(&f, 100, 100, one_each);
	wait_until(&f, NORMAL, "later", now + 3600 * 1000);
	wait_until(&f, NORMAL, "second", now - 20);
	wait_until(&f, NORMAL2, "third", now - 10);
	wait_until(&f, NORMAL, "first", now - 30);
	wait_until(&f, CRITICAL, "critical", now - 5);
	/* Due in the past: the timer fires at the next turn without waiting. */
	for (turns = 0; f.d.n_retry > 1 && turns < 100; turns++)
		(void)uv_run(&f.loop, UV_RUN_NOWAIT);
	TC_CHECK_INT(f.d.n_retry, 1);
	TC_CHECK(f.d.dirty);
	TC_CHECK(uv_is_active((uv_handle_t *)&f.d.retry_timer));
	POP(&f, TC_CH_WEBHOOK, "critical");
	POP(&f, TC_CH_WEBHOOK, "first");
	POP(&f, TC_CH_WEBHOOK, "second");
	POP(&f, TC_CH_WEBHOOK, "third");
	POP(&f, TC_CH_WEBHOOK, NULL);
	DUE(&f, now, NULL);
	DUE(&f, now + 3600 * 1000, "later");
	fx_release(&f);
}

static void test_hurry(void)
{
	int64_t now = tc_time_now_ms(), h = 3600 * 1000;
	struct fixture f;
	struct tc_dlv *v;
	int seen[3] = { 0 }, i;

	tc_test_begin("wait: hurry makes one run's deliveries due now, others keep order");
	fx_init(&f, 100, 100, one_each);
	wait_until(&f, NORMAL2, "b3", now + 7 * h);
	wait_until(&f, NORMAL, "a0", now + 5 * h);
	wait_until(&f, NORMAL2, "b1", now + 3 * h);
	wait_until(&f, NORMAL, "a1", now + 1 * h);
	wait_until(&f, NORMAL2, "b0", now + 2 * h);
	wait_until(&f, NORMAL, "a2", now + 9 * h);
	wait_until(&f, NORMAL2, "b4", now + 8 * h);
	wait_until(&f, NORMAL2, "b2", now + 3 * h + 1);
	DUE(&f, now, NULL);
	tc_sched_hurry(&f.d, &f.run[NORMAL]);
	TC_CHECK_INT(f.d.n_retry, 8);
	/* a0..a2 in any order (all due now), then nothing until b0. */
	for (i = 0; i < 3; i++) {
		v = tc_sched_due(&f.d, now);
		TC_CHECK(v != NULL);
		if (!v)
			break;
		TC_CHECK(v->run == &f.run[NORMAL]);
		TC_CHECK(v->due_ms <= now);
		if (v->address[0] == 'a' && v->address[1] >= '0' && v->address[1] <= '2')
			seen[v->address[1] - '0']++;
		tc_dlv_free(v);
	}
	TC_CHECK(seen[0] == 1 && seen[1] == 1 && seen[2] == 1);
	DUE(&f, now, NULL);
	DUE(&f, now + 10 * h, "b0");
	DUE(&f, now + 10 * h, "b1");
	DUE(&f, now + 10 * h, "b2");
	DUE(&f, now + 10 * h, "b3");
	DUE(&f, now + 10 * h, "b4");
	DUE(&f, now + 10 * h, NULL);
	fx_release(&f);

	tc_test_begin("wait: hurry of a run with nothing waiting changes nothing");
	fx_init(&f, 100, 100, one_each);
	wait_until(&f, NORMAL2, "b1", now + 2 * h);
	wait_until(&f, NORMAL2, "b0", now + 1 * h);
	tc_sched_hurry(&f.d, &f.run[NORMAL]);
	DUE(&f, now, NULL);
	DUE(&f, now + 3 * h, "b0");
	DUE(&f, now + 3 * h, "b1");
	fx_release(&f);
}

int main(void)
{
	test_priority();
	test_caps();
	test_wait_order();
	test_wait_timer();
	test_hurry();
	return tc_test_done();
}
