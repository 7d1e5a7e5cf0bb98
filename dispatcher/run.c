/*
 * Runs: one job being worked on. A run expands its audience lazily (groups
 * in order, inline members then roster rows, then the job's recipients),
 * plans deliveries in batches (the PLAN script decides which are new, so a
 * member listed twice gets one message per channel and a restarted daemon
 * knows what it already sent; a new job's first batch is planned by the
 * ACCEPT call itself), sends them through the channels, and writes every
 * state change in batches (the MOVE script). A critical job overtakes: it
 * is read, accepted and planned between a broadcast's completions, may use
 * the memory a broadcast leaves free, and takes the next free slot.
 *
 * Keeps true: memory holds at most cfg->in_flight deliveries over all runs
 * (or one member's, up to one per channel, when in_flight is smaller);
 * a job is finished (and its entry acknowledged) only once every delivery
 * it planned reached a final state in Redis; if Redis is lost, runs wind
 * down without acknowledging anything, and intake resumes them from the
 * pending list.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "dispatcher/dispatcher.h"

#define HEAD_ARGS 10 /* EVAL script 5 job dlv events retry dead now job-id */
#define MOVE_HEAD (HEAD_ARGS + 1) /* ... and the write number */
/* EVAL script 3 job dlv events now job-id entry template severity
 * incident state text write */
#define ACCEPT_ARGS 15
#define MOVE_ARGS 8  /* id, channel, from, to, json, outcome, due, reasons */
#define CANCEL_WATCH_MS    500     /* how often running jobs are checked for cancel */

/* ---- deliveries ------------------------------------------------------------ */

/* Copies the strings a delivery needs into one allocation after it. */
static struct tc_dlv *dlv_new(struct tc_run *r, enum tc_channel c,
			      const char *address, const char *group,
			      const struct tc_member *m)
{
	const char *src[6] = { address, group, m->name, m->role, m->email, m->phone };
	size_t len[6], total = 0;
	struct tc_dlv *v;
	char *p, **dst[6];
	int i;

	for (i = 0; i < 6; i++) {
		if (!src[i])
			src[i] = "";
		total += len[i] = strlen(src[i]) + 1;
	}
	v = malloc(sizeof(*v) + total);
	if (!v)
		return NULL;
	memset(v, 0, sizeof(*v));
	v->run = r;
	v->ch = c;
	v->state = TC_DS_QUEUED;
	dst[0] = &v->address;
	dst[1] = &v->group;
	dst[2] = &v->name;
	dst[3] = &v->role;
	dst[4] = &v->email;
	dst[5] = &v->phone;
	for (i = 0, p = (char *)(v + 1); i < 6; p += len[i], i++)
		*dst[i] = memcpy(p, src[i], len[i]);
	tc_delivery_id(r->job.id, c, address, v->id);
	tc_msg_init(&v->msg);
	tc_buf_init(&v->reasons, TC_LIMIT_REASONS);
	r->live++;
	r->disp->live++;
	return v;
}

static void dlv_free(struct tc_dlv *v)
{
	v->run->live--;
	v->run->disp->live--;
	tc_msg_release(&v->msg);
	tc_buf_release(&v->reasons);
	free(v);
}

/* Appends v in decimal (the record is built per transition: no printf). */
static int add_uint(struct tc_buf *b, unsigned v)
{
	char d[12];
	int i = sizeof(d);

	do {
		d[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return tc_buf_add(b, d + i, sizeof(d) - (size_t)i);
}

/* The delivery's record, as stored in <prefix>:job:<id>:deliveries. */
static int dlv_json(const struct tc_dlv *v, const char *outcome,
		    const char *provider, const char *provider_id, struct tc_buf *b)
{
	const char *now = tc_disp_now(v->run->disp);
	int r = 0;

	r |= tc_buf_adds(b, "{\"channel\":\"");
	r |= tc_buf_adds(b, tc_channel_name(v->ch));
	r |= tc_buf_adds(b, "\",\"address\":");
	r |= tc_json_quote(b, v->address);
	r |= tc_buf_adds(b, ",\"group\":");
	r |= tc_json_quote(b, v->group);
	r |= tc_buf_adds(b, ",\"member\":");
	r |= tc_json_quote(b, v->name);
	r |= tc_buf_adds(b, ",\"state\":\"");
	r |= tc_buf_adds(b, tc_dstate_name(v->state));
	r |= tc_buf_adds(b, "\",\"attempts\":");
	r |= add_uint(b, v->attempts);
	r |= tc_buf_adds(b, ",\"last_outcome\":");
	r |= tc_json_quote(b, outcome);
	r |= tc_buf_adds(b, ",\"provider\":");
	r |= tc_json_quote(b, provider);
	r |= tc_buf_adds(b, ",\"provider_message_id\":");
	r |= tc_json_quote(b, provider_id);
	r |= tc_buf_adds(b, ",\"updated_at\":\"");
	r |= tc_buf_adds(b, now);
	r |= tc_buf_adds(b, "\",\"pass\":");
	r |= add_uint(b, v->run->pass);
	r |= tc_buf_adds(b, ",\"plan\":");
	r |= add_uint(b, v->plan_write);
	if (v->state == TC_DS_RETRYING)
		r |= tc_buf_printf(b, ",\"next_attempt_ms\":%lld", (long long)v->due_ms);
	r |= tc_buf_addc(b, '}');
	return r ? TC_ELIMIT : 0;
}

/* ---- tracking writes ------------------------------------------------------------ */
/* PLAN and MOVE calls go through the run's outbox: kept, in order, until
 * Redis answered them. A call lost with the connection is sent again when
 * it is back; the scripts recognise a replay (track.c). Meanwhile nothing
 * new is planned or sent, so the outbox holds at most what was in flight. */

static void run_break(struct tc_run *r, const char *why);
static void ready_push(struct tc_disp *d, struct tc_dlv *v);
static int retry_push(struct tc_disp *d, struct tc_dlv *v);
static void watch_cancel(uv_timer_t *t);
static void plan_done(redisAsyncContext *ac, void *reply, void *priv);
static void move_done(redisAsyncContext *ac, void *reply, void *priv);
static void dispatch(struct tc_disp *d, bool peek);

/* Frees a MOVE batch being built: each transition's strings are one
 * block, starting at its id (argv[MOVE_HEAD + MOVE_ARGS i]). */
static void free_args(const char **argv, size_t *lens, int argc)
{
	int i;

	for (i = MOVE_HEAD; i < argc; i += MOVE_ARGS)
		free((char *)argv[i]);
	free(argv);
	free(lens);
}

/* Fills the fixed head of a PLAN or MOVE call: EVAL script 5, the job's
 * record, deliveries and events, the retry set, the dead letters, now and
 * the job id. */
static int script_head(struct tc_run *r, const char *script, const char **argv,
		       size_t *lens, char *now)
{
	int i;

	snprintf(now, 40, "%s", tc_disp_now(r->disp));
	argv[0] = "EVAL";
	argv[1] = script;
	argv[2] = "5";
	argv[3] = r->key_job;
	argv[4] = r->key_dlv;
	argv[5] = r->key_ev;
	argv[6] = r->disp->key_retry;
	argv[7] = r->disp->key_dead;
	argv[8] = now;
	argv[9] = r->job.id;
	for (i = 0; i < HEAD_ARGS; i++)
		lens[i] = strlen(argv[i]);
	return HEAD_ARGS;
}

/* A write of argv, in RESP form; NULL if out of memory. */
static struct tc_write *write_new(struct tc_run *r, int argc, const char **argv,
				  const size_t *lens)
{
	struct tc_write *w = calloc(1, sizeof(*w));
	int len;

	if (!w)
		return NULL;
	len = redisFormatCommandArgv(&w->cmd, argc, argv, lens);
	if (len < 0) {
		free(w);
		return NULL;
	}
	w->len = (size_t)len;
	w->run = r;
	return w;
}

static void write_free(struct tc_write *w)
{
	redisFreeCommand(w->cmd);
	free(w->dlv);
	free(w);
}

/* Sends w if it is not on the wire and the connection is up. */
static void write_send(struct tc_write *w)
{
	if (w->sent)
		return;
	if (tc_rconn_send(w->run->disp->cmd, w->dlv ? plan_done : move_done, w,
			  w->cmd, w->len) == 0)
		w->sent = true;
}

static void outbox_push(struct tc_run *r, struct tc_write *w)
{
	if (!r->outbox_tail)
		r->outbox_tail = &r->outbox;
	*r->outbox_tail = w;
	r->outbox_tail = &w->next;
	write_send(w);
}

/* Takes w out of the outbox (answers come in order: it is the first). */
static void outbox_remove(struct tc_run *r, struct tc_write *w)
{
	struct tc_write **p;

	for (p = &r->outbox; *p; p = &(*p)->next) {
		if (*p != w)
			continue;
		*p = w->next;
		if (!*p)
			r->outbox_tail = p;
		return;
	}
}

void tc_run_replay_all(struct tc_disp *d)
{
	struct tc_write *w;
	struct tc_run *r;
	unsigned n = 0;

	char since[40], line[96];
	const char *argv[7];

	for (r = d->runs; r; r = r->next)
		for (w = r->outbox; w; w = w->next, n++)
			write_send(w);
	if (n)
		tc_log(TC_LOG_INFO, "run", "event=replaying writes=%u, what Redis did not answer before",
		       n);
	if (!d->paused_at_ms)
		return;
	/* Each job that waited says so in its record, for `tocsin status`. */
	tc_time_format(d->paused_at_ms, since, sizeof(since));
	snprintf(line, sizeof(line), "%s for %lld ms", since,
		 (long long)(tc_time_now_ms() - d->paused_at_ms));
	d->paused_at_ms = 0;
	for (r = d->runs; r; r = r->next) {
		if (r->phase == TC_RUN_BROKEN || r->phase == TC_RUN_ACCEPTING)
			continue;
		argv[0] = "HINCRBY";
		argv[1] = r->key_job;
		argv[2] = "paused";
		argv[3] = "1";
		(void)tc_rconn_cmd(d->cmd, NULL, NULL, 4, argv, NULL);
		argv[0] = "HSET";
		argv[2] = "last_pause";
		argv[3] = line;
		(void)tc_rconn_cmd(d->cmd, NULL, NULL, 4, argv, NULL);
	}
}

/* Learns what PLAN said of each of the n deliveries dlv and queues those
 * to send. */
static void planned(struct tc_run *r, struct tc_dlv **dlv, unsigned n,
		    const redisReply *rep)
{
	unsigned i;

	for (i = 0; i < n; i++) {
		struct tc_dlv *v = dlv[i];
		const redisReply *e = rep->element[i];
		json_t *old = NULL, *st;
		int s = TC_DS_QUEUED;

		if (e->type == REDIS_REPLY_STRING && strcmp(e->str, "dup") == 0) {
			/* The same address on the same channel, listed again. */
			dlv_free(v);
			continue;
		}
		if (e->type == REDIS_REPLY_STRING && e->len > 0 && strcmp(e->str, "mine") != 0) {
			/* Planned by an earlier pass: a restart resumes it. */
			old = json_loadb(e->str, e->len, 0, NULL);
			st = json_object_get(old, "state");
			s = json_is_string(st) ? tc_dstate_parse(json_string_value(st)) : -1;
			v->attempts = (unsigned)json_integer_value(json_object_get(old, "attempts"));
			v->due_ms = json_integer_value(json_object_get(old, "next_attempt_ms"));
			json_decref(old);
			if (s < 0 || tc_dstate_final(s)) {
				r->finals++;
				dlv_free(v);
				continue;
			}
		} else {
			r->planned++;
		}
		v->state = s;
		/* A retry that was waiting when tocsind stopped keeps its time. */
		if (s == TC_DS_RETRYING && v->due_ms > tc_time_now_ms() &&
		    retry_push(r->disp, v) == 0)
			continue;
		ready_push(r->disp, v);
	}
}

static void plan_done(redisAsyncContext *ac, void *reply, void *priv)
{
	struct tc_write *w = priv;
	struct tc_run *r = w->run;
	redisReply *rep = reply;
	unsigned i;

	(void)ac;
	if (!rep) {
		w->sent = false; /* lost with the connection: sent again */
		return;
	}
	outbox_remove(r, w);
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements != w->n) {
		run_break(r, rep->type == REDIS_REPLY_ERROR ? rep->str : "unexpected reply");
		for (i = 0; i < w->n; i++)
			dlv_free(w->dlv[i]);
	} else {
		tc_log(TC_LOG_DEBUG, "run", "job=%s event=planned deliveries=%u", r->job.id, w->n);
		planned(r, w->dlv, w->n, rep);
	}
	write_free(w);
	dispatch(r->disp, false);
	tc_disp_poke(r->disp);
}

/* Appends the batch being planned as PLAN's (id, channel, record)
 * triples at argv[argc], numbered write_no; the records are built in
 * json[], which the caller releases. Returns the new argc. */
static int plan_args(struct tc_run *r, uint64_t write_no, const char **argv,
		     size_t *lens, int argc, struct tc_buf *json)
{
	unsigned i;

	for (i = 0; i < r->n_plan; i++) {
		struct tc_dlv *v = r->plan[i];

		v->plan_write = write_no;
		tc_buf_init(&json[i], TC_LIMIT_ADDRESS * 4);
		if (dlv_json(v, "", "", "", &json[i]) < 0)
			(void)tc_buf_adds(&json[i], "{}");
		argv[argc] = v->id;
		lens[argc++] = TC_DELIVERY_ID_LEN;
		argv[argc] = tc_channel_name(v->ch);
		lens[argc] = strlen(argv[argc]);
		argc++;
		argv[argc] = json[i].data;
		lens[argc++] = json[i].len;
	}
	return argc;
}

/* Writes the batch of planned deliveries with the PLAN script. */
static void plan_flush(struct tc_run *r)
{
	const char *argv[HEAD_ARGS + 2 + 3 * TC_PLAN_BATCH];
	size_t lens[HEAD_ARGS + 2 + 3 * TC_PLAN_BATCH];
	struct tc_buf json[TC_PLAN_BATCH];
	struct tc_write *w = NULL;
	char now[40], pass[16], no[24];
	uint64_t write_no = ++r->n_writes;
	int argc;
	unsigned i, n = r->n_plan;

	if (!n)
		return;
	argc = script_head(r, tc_lua_plan, argv, lens, now);
	snprintf(pass, sizeof(pass), "%u", r->pass);
	snprintf(no, sizeof(no), "%llu", (unsigned long long)write_no);
	argv[argc] = pass;
	lens[argc++] = strlen(pass);
	argv[argc] = no;
	lens[argc++] = strlen(no);
	argc = plan_args(r, write_no, argv, lens, argc, json);
	w = write_new(r, argc, argv, lens);
	if (w)
		w->dlv = malloc(n * sizeof(*w->dlv));
	for (i = 0; i < n; i++)
		tc_buf_release(&json[i]);
	r->n_plan = 0;
	if (!w || !w->dlv) {
		if (w)
			write_free(w);
		run_break(r, "out of memory");
		for (i = 0; i < n; i++)
			dlv_free(r->plan[i]);
		return;
	}
	memcpy(w->dlv, r->plan, n * sizeof(*w->dlv));
	w->n = n;
	tc_log(TC_LOG_DEBUG, "run", "job=%s event=plan-write deliveries=%u", r->job.id, n);
	outbox_push(r, w);
}

static void move_done(redisAsyncContext *ac, void *reply, void *priv)
{
	struct tc_write *w = priv;
	struct tc_run *r = w->run;
	redisReply *rep = reply;

	(void)ac;
	if (!rep) {
		w->sent = false; /* lost with the connection: sent again */
		return;
	}
	outbox_remove(r, w);
	if (rep->type == REDIS_REPLY_ERROR)
		run_break(r, rep->str);
	write_free(w);
	tc_disp_poke(r->disp);
}

/* Writes the batch of transitions with the MOVE script. */
static void move_flush(struct tc_run *r)
{
	struct tc_write *w;
	char now[40], no[24];
	int argc;

	if (!r->n_move)
		return;
	argc = MOVE_HEAD + (int)r->n_move * MOVE_ARGS;
	script_head(r, tc_lua_move, r->move_argv, r->move_lens, now);
	/* Numbered across passes, so a replay is recognised. */
	snprintf(no, sizeof(no), "%llu",
		 (unsigned long long)(((uint64_t)r->pass << 32) | ++r->n_writes));
	r->move_argv[HEAD_ARGS] = no;
	r->move_lens[HEAD_ARGS] = strlen(no);
	w = write_new(r, argc, r->move_argv, r->move_lens);
	free_args(r->move_argv, r->move_lens, argc);
	r->move_argv = NULL;
	r->move_lens = NULL;
	r->n_move = 0;
	if (!w) {
		run_break(r, "out of memory");
		return;
	}
	outbox_push(r, w);
}

/* Records a transition of v to state `to` (batched); a final state frees v.
 * dead, when not NULL, dead-letters the delivery with that reason. */
static void dlv_move_dead(struct tc_dlv *v, enum tc_dstate to, const char *outcome,
			  const char *provider, const char *provider_id,
			  const char *dead)
{
	struct tc_run *r = v->run;
	enum tc_dstate from = v->state;
	struct tc_buf json;
	const char *vals[MOVE_ARGS];
	char *block, due[24] = "";
	size_t size;
	int base, i;

	if (!r->move_argv) {
		r->move_argv = calloc(MOVE_HEAD + TC_MOVE_BATCH * MOVE_ARGS, sizeof(char *));
		r->move_lens = calloc(MOVE_HEAD + TC_MOVE_BATCH * MOVE_ARGS, sizeof(size_t));
		if (!r->move_argv || !r->move_lens) {
			free(r->move_argv);
			free(r->move_lens);
			r->move_argv = NULL;
			r->move_lens = NULL;
			run_break(r, "out of memory");
		}
	}
	/* An interrupted run still records what happened, while it can: a
	 * send that finished during shutdown is not sent again. When it
	 * cannot, the delivery stays as Redis has it, and resumes. */
	if (!r->move_argv ||
	    (r->phase == TC_RUN_BROKEN && !tc_rconn_ctx(r->disp->cmd))) {
		if (tc_dstate_final(to))
			dlv_free(v);
		else
			v->state = to;
		return;
	}
	v->state = to;
	tc_buf_init(&json, TC_LIMIT_ADDRESS * 4);
	if (dlv_json(v, outcome, provider, provider_id, &json) < 0)
		(void)tc_buf_adds(&json, "{}");
	vals[0] = v->id;
	vals[1] = tc_channel_name(v->ch);
	vals[2] = tc_dstate_name(from);
	vals[3] = tc_dstate_name(to);
	vals[4] = json.data ? json.data : "{}";
	vals[5] = outcome;
	if (to == TC_DS_RETRYING)
		snprintf(due, sizeof(due), "%lld", (long long)v->due_ms);
	vals[6] = due;
	vals[7] = dead ? dead : "";
	base = MOVE_HEAD + (int)r->n_move * MOVE_ARGS;
	for (i = 0, size = 0; i < MOVE_ARGS; i++)
		size += (r->move_lens[base + i] = strlen(vals[i])) + 1;
	/* One block per transition, freed by free_args. */
	block = malloc(size);
	if (!block) {
		tc_buf_release(&json);
		run_break(r, "out of memory");
		if (tc_dstate_final(to))
			dlv_free(v);
		return;
	}
	for (i = 0, size = 0; i < MOVE_ARGS; i++) {
		r->move_argv[base + i] = memcpy(block + size, vals[i],
						r->move_lens[base + i] + 1);
		size += r->move_lens[base + i] + 1;
	}
	tc_buf_release(&json);
	r->n_move++;
	if (tc_dstate_final(to)) {
		r->finals++;
		dlv_free(v);
	}
	if (r->n_move == TC_MOVE_BATCH)
		move_flush(r);
}

static void dlv_move(struct tc_dlv *v, enum tc_dstate to, const char *outcome,
		     const char *provider, const char *provider_id)
{
	dlv_move_dead(v, to, outcome, provider, provider_id, NULL);
}

/* ---- retries --------------------------------------------------------------------- */

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

static void retry_fire(uv_timer_t *t);

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
static int retry_push(struct tc_disp *d, struct tc_dlv *v)
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

static void retry_fire(uv_timer_t *t)
{
	struct tc_disp *d = container_of(t, struct tc_disp, retry_timer);
	int64_t now = tc_time_now_ms();

	while (d->n_retry && d->retry_heap[0]->due_ms <= now)
		ready_push(d, retry_pop(d));
	retry_arm(d);
	tc_disp_poke(d);
}

void tc_run_drop_retries(struct tc_disp *d)
{
	struct tc_dlv *v;

	/* Their runs lose a delivery that is not final: they must not
	 * finish, only wind down and stay pending. */
	while ((v = retry_pop(d))) {
		run_break(v->run, "stopping with retries waiting");
		dlv_free(v);
	}
	retry_arm(d);
}

int tc_runs_init(struct tc_disp *d)
{
	tc_key_retry(d->key_retry, sizeof(d->key_retry), d->cfg->prefix);
	tc_key_dead(d->key_dead, sizeof(d->key_dead), d->cfg->prefix);
	d->rng = (uint64_t)tc_time_now_ms() * 0x9e3779b97f4a7c15ULL ^ (uint64_t)getpid();
	if (!d->rng)
		d->rng = 1;
	if (uv_timer_init(d->loop, &d->retry_timer) < 0 ||
	    uv_timer_init(d->loop, &d->cancel_timer) < 0)
		return -ENOMEM;
	return uv_timer_start(&d->cancel_timer, watch_cancel, CANCEL_WATCH_MS,
			      CANCEL_WATCH_MS) < 0 ? -ENOMEM : 0;
}

/* ---- sending ------------------------------------------------------------------ */

static void ready_push(struct tc_disp *d, struct tc_dlv *v)
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
		dlv_move_dead(v, TC_DS_FAILED, o->detail, o->provider, o->provider_id,
			      v->reasons.data ? v->reasons.data : o->detail);
		return;
	}
	wait = backoff_ms(d, &rc, v->attempts, o->retry_after_ms);
	v->due_ms = tc_time_now_ms() + (int64_t)wait;
	tc_log(TC_LOG_INFO, "run", "job=%s delivery=%s channel=%s event=attempt-failed attempt=%u err=%s, retrying in %llums",
	       v->run->job.id, v->id, tc_channel_name(v->ch), v->attempts,
	       tc_log_quote(q, sizeof(q), o->detail), (unsigned long long)wait);
	dlv_move(v, TC_DS_RETRYING, o->detail, o->provider, o->provider_id);
	if (retry_push(d, v) < 0) {
		run_break(v->run, "out of memory");
		dlv_free(v);
	}
}

/* The delivery as its channel sees it; m is filled from v's strings. */
static void chan_view(const struct tc_dlv *v, struct tc_member *m,
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
}

/* Composes v's message on its channel. A failure is the delivery's
 * permanent failure (why). */
static int compose(struct tc_disp *d, struct tc_dlv *v, char *why, size_t n)
{
	struct tc_chan_dlv cd;
	struct tc_member m;

	chan_view(v, &m, &cd);
	if (tc_tpl_data_set_member(v->run->data, v->group, &m) < 0) {
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
	tc_msg_release(&v->msg);
	tc_msg_init(&v->msg);
	switch (o->kind) {
	case TC_OUT_DELIVERED:
		dlv_move(v, TC_DS_DELIVERED, o->detail, o->provider, o->provider_id);
		break;
	case TC_OUT_SENT:
		dlv_move(v, TC_DS_SENT, o->detail, o->provider, o->provider_id);
		break;
	case TC_OUT_TRANSIENT:
		retry_or_fail(d, v, o);
		break;
	case TC_OUT_PERMANENT:
		tc_log(TC_LOG_WARN, "run", "job=%s delivery=%s channel=%s event=failed err=%s, not retried",
		       v->run->job.id, v->id, tc_channel_name(v->ch),
		       tc_log_quote(q, sizeof(q), o->detail));
		dlv_move(v, TC_DS_FAILED, o->detail, o->provider, o->provider_id);
		break;
	}
	/* A critical delivery waiting for a slot takes this one now, not at
	 * the end of the turn; and a turn busy with completions looks for
	 * new jobs now and then. */
	if (d->ready[ch][TC_SEV_CRITICAL])
		dispatch(d, false);
	tc_disp_peek(d);
	tc_disp_poke(d);
}

/* Sends v, or holds it back until its channel's rate or a peer's "not
 * before" lets it go (its units reserved for then; its message composed
 * again when it is due, so held deliveries keep no body in memory). */
static void dlv_send(struct tc_disp *d, struct tc_dlv *v)
{
	struct tc_run *r = v->run;
	char attempt[32], why[sizeof(((struct tc_outcome *)0)->detail)];
	struct tc_chan_dlv cd;
	struct tc_member m;
	int64_t now, at;

	if (d->stopping)
		run_break(r, "stopping before it was sent");
	if (r->phase == TC_RUN_BROKEN) {
		dlv_free(v);
		return;
	}
	if (r->cancelled) {
		dlv_move(v, TC_DS_CANCELLED, "cancelled by an operator", "", "");
		return;
	}
	now = tc_time_now_ms();
	if (r->job.expires_at_ms && now >= r->job.expires_at_ms) {
		dlv_move(v, TC_DS_EXPIRED, "expired before it was sent", "", "");
		return;
	}
	if (!tc_disp_channel_ready(d, v->ch)) {
		snprintf(why, sizeof(why), "channel '%s' is not available on this dispatcher",
			 tc_channel_name(v->ch));
		dlv_move(v, TC_DS_FAILED, why, "", "");
		return;
	}
	if (compose(d, v, why, sizeof(why)) < 0) {
		dlv_move(v, TC_DS_FAILED, why, "", "");
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
			if (retry_push(d, v) < 0) {
				run_break(r, "out of memory");
				dlv_free(v);
			}
			return;
		}
	}
	v->reserved = false;
	v->attempts++;
	snprintf(attempt, sizeof(attempt), "attempt %u", v->attempts);
	dlv_move(v, TC_DS_SENDING, attempt, "", "");
	if (tc_chan_send(d->chan[v->ch], &cd, &v->msg, on_outcome, v) < 0) {
		dlv_move(v, TC_DS_FAILED, "could not start the request: out of memory",
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

/* Starts what is ready while the channels have room, most urgent first.
 * Called as soon as deliveries are planned (and a slot frees for a
 * critical one), not only at the end of a loop turn, which a busy
 * broadcast makes a few ms long. peek: look for new jobs between sends
 * (tc_disp_peek); false inside a hiredis callback. */
static void dispatch(struct tc_disp *d, bool peek)
{
	struct tc_dlv *v;
	int c;

	/* A send is recorded before it starts: not while Redis is away
	 * (sends under way go on; their outcomes wait in the outbox). */
	if (!tc_rconn_ctx(d->cmd) && !d->stopping)
		return;

	for (c = 0; c < TC_CH_COUNT; c++)
		while (d->sending[c] < channel_cap(d, c) && (v = ready_pop(d, c))) {
			dlv_send(d, v);
			if (peek)
				tc_disp_peek(d);
		}
}

/* ---- expansion ---------------------------------------------------------------- */

/* Plans each channel member m should get. */
static void plan_member(struct tc_run *r, const char *group, unsigned group_ch,
			const struct tc_member *m)
{
	unsigned mask = (m->channels ? m->channels : group_ch) & r->job.channels;
	struct tc_dlv *v;
	const char *addr;
	bool any = false;
	int c;

	for (c = 0; c < TC_CH_COUNT && !any; c++)
		any = (mask & TC_CH_BIT(c)) && tc_member_address(m, c);
	if (!any) {
		/* No address on any channel the job uses: counted, not silent. */
		r->unreachable++;
		return;
	}
	for (c = 0; c < TC_CH_COUNT; c++) {
		addr = tc_member_address(m, c);
		if (!(mask & TC_CH_BIT(c)) || !addr)
			continue;
		v = dlv_new(r, c, addr, group, m);
		if (!v) {
			run_break(r, "out of memory");
			return;
		}
		r->plan[r->n_plan++] = v;
	}
}

static void roster_ready(void *data)
{
	struct tc_run *r = data;

	tc_disp_poke(r->disp);
}

static void next_group(struct tc_run *r)
{
	r->gi++;
	r->mi = 0;
	r->roster_phase = false;
	if (r->rr) {
		tc_rr_free(r->rr);
		r->rr = NULL;
	}
}

/* One step of a roster: false when it must wait for the file. */
static bool expand_roster(struct tc_run *r, const struct tc_group *g)
{
	char why[600], q[TC_LIMIT_LOG_VALUE + 16];
	const struct tc_member *m;
	unsigned line;
	bool bad;

	if (!r->rr) {
		r->rr = tc_rr_new(r->disp->loop, g->roster, roster_ready, r);
		if (!r->rr) {
			run_break(r, "out of memory");
			return false;
		}
	}
	m = tc_rr_next(r->rr, &bad, &line, why, sizeof(why));
	if (m) {
		plan_member(r, g->name, g->channels, m);
		return true;
	}
	if (bad) {
		/* The file changed since it was checked at load. */
		r->roster_errors++;
		tc_log(TC_LOG_ERROR, "run", "job=%s group=%s event=roster-row-skipped err=%s",
		       r->job.id, g->name, tc_log_quote(q, sizeof(q), why));
		return true;
	}
	if (!tc_rr_done(r->rr, why, sizeof(why)))
		return false;
	if (why[0])
		tc_log(TC_LOG_ERROR, "run", "job=%s group=%s event=roster-failed err=%s, going on with the next group",
		       r->job.id, g->name, tc_log_quote(q, sizeof(q), why));
	next_group(r);
	return true;
}

/* Whether r may plan another member (up to one delivery per channel): a
 * critical job may fill in_flight; others leave an eighth of it free (at
 * least a member's worth, at most one batch), so a critical job never
 * waits for memory behind a broadcast. With nothing in memory a member is
 * planned whatever in_flight says, so an in_flight below the channel count
 * still makes progress. */
static bool room_for_member(const struct tc_run *r)
{
	unsigned live = r->disp->live, cap = r->disp->cfg->in_flight;
	unsigned reserve = cap / 8 < TC_CH_COUNT ? TC_CH_COUNT : cap / 8;

	if (reserve > TC_PLAN_BATCH)
		reserve = TC_PLAN_BATCH;
	if (r->job.severity != TC_SEV_CRITICAL && reserve < cap)
		cap -= reserve;
	return live == 0 || live + TC_CH_COUNT <= cap;
}

/* Plans members while memory allows; stops to wait for a roster. Before
 * the job is accepted it gathers one batch only, for ACCEPT to plan. */
static void expand(struct tc_run *r)
{
	struct tc_disp *d = r->disp;
	const struct tc_group *g;

	while ((r->phase == TC_RUN_EXPANDING || r->phase == TC_RUN_ACCEPTING) &&
	       !r->expanded && room_for_member(r)) {
		if (r->n_plan + TC_CH_COUNT > TC_PLAN_BATCH) {
			if (r->phase == TC_RUN_ACCEPTING)
				return;
			plan_flush(r);
		}
		if (r->gi < r->job.n_groups) {
			g = tc_cfg_group(d->cfg, r->job.groups[r->gi]);
			if (!g) {
				next_group(r);
			} else if (!r->roster_phase && r->mi < g->n_members) {
				plan_member(r, g->name, g->channels, &g->members[r->mi++]);
			} else if (!r->roster_phase && g->roster) {
				r->roster_phase = true;
			} else if (!r->roster_phase) {
				next_group(r);
			} else if (!expand_roster(r, g)) {
				return;
			}
		} else if (r->mi < r->job.n_recipients) {
			plan_member(r, "", TC_CH_ALL, &r->job.recipients[r->mi++]);
		} else {
			r->expanded = true;
			r->audience_seen = true;
		}
	}
}

/* ---- cancellation ------------------------------------------------------------- */

/* Stops a run: nothing more is planned; queued, waiting and retrying
 * deliveries become `cancelled` as they come up; those in flight finish. */
static void run_cancel(struct tc_run *r)
{
	struct tc_disp *d = r->disp;
	size_t i, n = d->n_retry;

	tc_log(TC_LOG_WARN, "run", "job=%s event=cancelled, stopping its remaining deliveries",
	       r->job.id);
	r->cancelled = true;
	r->expanded = true;
	if (r->phase == TC_RUN_WAITING)
		r->phase = TC_RUN_EXPANDING;
	/* Its retries come due now; the others keep their order. */
	for (i = 0; i < n; i++)
		if (d->retry_heap[i]->run == r)
			d->retry_heap[i]->due_ms = 0;
	d->n_retry = 0;
	for (i = 0; i < n; i++)
		(void)retry_push(d, d->retry_heap[i]);
	tc_disp_poke(d);
}

static void state_read(redisAsyncContext *ac, void *reply, void *priv)
{
	struct tc_run *r = priv;
	redisReply *rep = reply;

	(void)ac;
	r->writes--;
	if (rep && rep->type == REDIS_REPLY_STRING && strcmp(rep->str, "cancelled") == 0 &&
	    !r->cancelled && r->phase != TC_RUN_BROKEN)
		run_cancel(r);
	tc_disp_poke(r->disp);
}

static void watch_cancel(uv_timer_t *t)
{
	struct tc_disp *d = container_of(t, struct tc_disp, cancel_timer);
	const char *argv[3];
	struct tc_run *r;

	for (r = d->runs; r; r = r->next) {
		if (r->cancelled || (r->phase != TC_RUN_WAITING &&
				     r->phase != TC_RUN_EXPANDING &&
				     r->phase != TC_RUN_DRAINING))
			continue;
		argv[0] = "HGET";
		argv[1] = r->key_job;
		argv[2] = "state";
		/* Counted as a write: the run waits for the answer to finish. */
		if (tc_rconn_cmd(d->cmd, state_read, r, 3, argv, NULL) == 0)
			r->writes++;
	}
}

/* ---- the run's life ----------------------------------------------------------- */

static void run_unlink(struct tc_run *r)
{
	struct tc_run **p;

	for (p = &r->disp->runs; *p; p = &(*p)->next)
		if (*p == r) {
			*p = r->next;
			r->disp->n_runs--;
			return;
		}
}

static void run_timer_closed(uv_handle_t *h)
{
	struct tc_run *r = container_of((uv_timer_t *)h, struct tc_run, timer);

	tc_job_release(&r->job);
	free(r->vars_json);
	json_decref(r->data);
	free(r);
}

static void run_free(struct tc_run *r)
{
	unsigned i;

	run_unlink(r);
	for (i = 0; i < r->n_plan; i++)
		dlv_free(r->plan[i]);
	while (r->outbox) {
		struct tc_write *w = r->outbox;

		r->outbox = w->next;
		for (i = 0; i < w->n; i++)
			dlv_free(w->dlv[i]);
		write_free(w);
	}
	if (r->move_argv)
		free_args(r->move_argv, r->move_lens, MOVE_HEAD + (int)r->n_move * MOVE_ARGS);
	if (r->rr)
		tc_rr_free(r->rr);
	uv_timer_stop(&r->timer);
	uv_close((uv_handle_t *)&r->timer, run_timer_closed);
}

static void run_break(struct tc_run *r, const char *why)
{
	char q[TC_LIMIT_LOG_VALUE + 16];

	if (r->phase == TC_RUN_BROKEN)
		return;
	tc_log(TC_LOG_WARN, "run", "job=%s event=interrupted err=%s, it stays pending and resumes",
	       r->job.id, tc_log_quote(q, sizeof(q), why));
	r->phase = TC_RUN_BROKEN;
}

void tc_run_break_all(struct tc_disp *d)
{
	struct tc_run *r;
	struct tc_dlv *v;
	int c;

	for (r = d->runs; r; r = r->next)
		run_break(r, "redis connection lost");
	for (c = 0; c < TC_CH_COUNT; c++)
		while ((v = ready_pop(d, c)))
			dlv_free(v);
	tc_run_drop_retries(d);
	tc_disp_poke(d);
}

static void finish_done(redisAsyncContext *ac, void *reply, void *priv)
{
	struct tc_run *r = priv;
	struct tc_disp *d = r->disp;
	redisReply *rep = reply;

	(void)ac;
	r->writes--;
	if (!rep) {
		/* Lost with the connection: finish again once it is back (the
		 * script does the same thing twice). */
		r->phase = TC_RUN_DRAINING;
	} else if (rep->type == REDIS_REPLY_ERROR) {
		run_break(r, rep->str);
	} else {
		tc_log(TC_LOG_INFO, "run", "job=%s event=%s planned=%llu final=%llu",
		       r->job.id, rep->type == REDIS_REPLY_STRING ? rep->str : "done",
		       (unsigned long long)r->planned, (unsigned long long)r->finals);
		run_free(r);
	}
	tc_disp_poke(d);
}

static void run_finish(struct tc_run *r)
{
	char k_stream[TC_KEY_MAX], k_events[TC_KEY_MAX], now[40];
	char unreachable[24], roster_errors[24];
	const char *argv[13];

	tc_key_jobs(k_stream, sizeof(k_stream), r->disp->cfg->prefix, r->job.severity);
	tc_key_events(k_events, sizeof(k_events), r->disp->cfg->prefix);
	tc_time_format(tc_time_now_ms(), now, sizeof(now));
	argv[0] = "EVAL";
	argv[1] = tc_lua_finish;
	argv[2] = "4";
	argv[3] = r->key_job;
	argv[4] = k_stream;
	argv[5] = k_events;
	argv[6] = r->key_ev;
	argv[7] = TC_GROUP_NAME;
	argv[8] = r->job.entry;
	argv[9] = now;
	argv[10] = r->job.id;
	snprintf(unreachable, sizeof(unreachable), "%llu", (unsigned long long)r->unreachable);
	snprintf(roster_errors, sizeof(roster_errors), "%llu",
		 (unsigned long long)r->roster_errors);
	argv[11] = r->audience_seen ? unreachable : "";
	argv[12] = r->audience_seen ? roster_errors : "";
	if (tc_rconn_cmd(r->disp->cmd, finish_done, r, 13, argv, NULL) < 0)
		return; /* Redis is away: finish when it is back */
	r->writes++;
	r->phase = TC_RUN_FINISHING;
}

/* Moves a run on when it can; false when the run was freed. */
static bool run_step(struct tc_run *r)
{
	bool idle = r->live == 0 && r->n_plan == 0 && r->n_move == 0 && r->writes == 0 &&
		    !r->outbox;

	switch (r->phase) {
	case TC_RUN_EXPANDING:
		/* Planning needs Redis: while it is away, nothing new starts. */
		if (!r->disp->stopping && tc_rconn_ctx(r->disp->cmd))
			expand(r);
		if (r->expanded)
			r->phase = TC_RUN_DRAINING;
		return true;
	case TC_RUN_DRAINING:
		if (idle && tc_rconn_ctx(r->disp->cmd))
			run_finish(r);
		return true;
	case TC_RUN_BROKEN:
		while (r->n_plan)
			dlv_free(r->plan[--r->n_plan]);
		if (r->live || r->n_move || r->writes || r->outbox)
			return true;
		run_free(r);
		return false;
	default:
		return true;
	}
}

void tc_run_pump_all(struct tc_disp *d)
{
	struct tc_run *r, *next;

	/* Runs are in priority order, so critical jobs take memory first. */
	for (r = d->runs; r; r = next) {
		next = r->next;
		if (run_step(r) && r->phase == TC_RUN_EXPANDING)
			plan_flush(r);
	}
	dispatch(d, true);
	for (r = d->runs; r; r = next) {
		next = r->next;
		/* An accepting run's batch is ACCEPT's. */
		if (r->phase != TC_RUN_BROKEN && r->phase != TC_RUN_ACCEPTING)
			plan_flush(r);
		move_flush(r);
		if (r->phase == TC_RUN_DRAINING || r->phase == TC_RUN_BROKEN)
			(void)run_step(r);
	}
}

static void send_at_fired(uv_timer_t *t)
{
	struct tc_run *r = container_of(t, struct tc_run, timer);

	const char *argv[4] = { "HSET", r->key_job, "state", "sending" };

	if (r->phase == TC_RUN_WAITING) {
		r->phase = TC_RUN_EXPANDING;
		(void)tc_rconn_cmd(r->disp->cmd, NULL, NULL, 4, argv, NULL);
	}
	tc_disp_poke(r->disp);
}

/* Acknowledges a duplicate entry and tells the watchers. */
static void ack_duplicate(struct tc_run *r)
{
	char k_stream[TC_KEY_MAX], k_events[TC_KEY_MAX], ref[128];
	const char *xack[4], *xadd[13];

	tc_key_jobs(k_stream, sizeof(k_stream), r->disp->cfg->prefix, r->job.severity);
	tc_key_events(k_events, sizeof(k_events), r->disp->cfg->prefix);
	snprintf(ref, sizeof(ref), "%s", r->entry_ref);
	xadd[0] = "XADD";
	xadd[1] = k_events;
	xadd[2] = "MAXLEN";
	xadd[3] = "~";
	xadd[4] = "100000";
	xadd[5] = "*";
	xadd[6] = "job";
	xadd[7] = r->job.id;
	xadd[8] = "entry";
	xadd[9] = ref;
	xadd[10] = "event";
	xadd[11] = "duplicate";
	xack[0] = "XACK";
	xack[1] = k_stream;
	xack[2] = TC_GROUP_NAME;
	xack[3] = r->job.entry;
	(void)tc_rconn_cmd(r->disp->cmd, NULL, NULL, 12, xadd, NULL);
	(void)tc_rconn_cmd(r->disp->cmd, NULL, NULL, 4, xack, NULL);
}

static void accept_done(redisAsyncContext *ac, void *reply, void *priv)
{
	struct tc_run *r = priv;
	redisReply *rep = reply;
	const redisReply *batch;
	const char *verdict, *state;
	int64_t wait;

	(void)ac;
	r->writes--;
	if (r->phase == TC_RUN_BROKEN) {
		/* Interrupted meanwhile: whatever ACCEPT did, the next pass
		 * resumes it. */
		tc_disp_poke(r->disp);
		return;
	}
	if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements < 3 ||
	    rep->elements > 4 || rep->element[0]->type != REDIS_REPLY_STRING ||
	    rep->element[2]->type != REDIS_REPLY_INTEGER ||
	    (rep->elements == 4 && (rep->element[3]->type != REDIS_REPLY_ARRAY ||
				    rep->element[3]->elements != r->n_plan))) {
		run_break(r, !rep ? "no reply" : rep->type == REDIS_REPLY_ERROR ? rep->str :
			  "unexpected reply");
		tc_disp_poke(r->disp);
		return;
	}
	verdict = rep->element[0]->str;
	r->pass = (unsigned)rep->element[2]->integer;
	batch = rep->elements == 4 ? rep->element[3] : NULL;
	state = rep->element[1]->type == REDIS_REPLY_STRING ? rep->element[1]->str : "";
	if (strcmp(verdict, "duplicate") == 0) {
		tc_log(TC_LOG_INFO, "run", "job=%s entry=%s event=duplicate state=%s, not sent again",
		       r->job.id, r->entry_ref, state);
		ack_duplicate(r);
		run_free(r); /* the memory goes when its timer closed */
		tc_disp_poke(r->disp);
		return;
	}
	tc_log(TC_LOG_INFO, "run", "job=%s entry=%s event=%s severity=%s",
	       r->job.id, r->entry_ref, verdict, tc_severity_name(r->job.severity));
	if (strcmp(state, "done") == 0) {
		/* Finished before a crash took the acknowledgement: nothing
		 * more to plan. */
		while (r->n_plan)
			dlv_free(r->plan[--r->n_plan]);
		r->expanded = true;
		r->phase = TC_RUN_DRAINING;
	} else if (strcmp(state, "cancelled") == 0) {
		/* Cancelled, then interrupted: plan again so that whatever
		 * was not final is recorded as cancelled. */
		r->cancelled = true;
		r->phase = TC_RUN_EXPANDING;
	} else {
		wait = r->job.send_at_ms - tc_time_now_ms();
		r->phase = wait > 0 ? TC_RUN_WAITING : TC_RUN_EXPANDING;
		if (wait > 0)
			uv_timer_start(&r->timer, send_at_fired, (uint64_t)wait, 0);
	}
	if (batch) {
		/* Planned with the acceptance: send them now. Otherwise
		 * PLAN plans them, as this pass's. */
		planned(r, r->plan, r->n_plan, batch);
		r->n_plan = 0;
		dispatch(r->disp, false);
	}
	tc_disp_poke(r->disp);
}

/* Inserts r after every run of the same or a higher severity. */
static void run_link(struct tc_disp *d, struct tc_run *r)
{
	struct tc_run **p = &d->runs;

	while (*p && (*p)->job.severity <= r->job.severity)
		p = &(*p)->next;
	r->next = *p;
	*p = r;
	d->n_runs++;
}

void tc_run_start(struct tc_disp *d, struct tc_job *job, const char *text,
		  size_t len)
{
	struct tc_run *r = calloc(1, sizeof(*r));
	const char *argv[ACCEPT_ARGS + 3 * TC_PLAN_BATCH];
	size_t lens[ACCEPT_ARGS + 3 * TC_PLAN_BATCH];
	struct tc_buf json[TC_PLAN_BATCH];
	const char *prefix = d->cfg->prefix;
	struct tc_rconn *conn;
	bool later;
	char no[24], now[40];
	int argc, i, sent;
	unsigned k;

	if (!r) {
		tc_log(TC_LOG_ERROR, "run", "job=%s event=out-of-memory, it stays pending",
		       job->id);
		tc_job_release(job);
		return;
	}
	r->disp = d;
	r->job = *job; /* taken */
	memset(job, 0, sizeof(*job));
	uv_timer_init(d->loop, &r->timer);
	snprintf(r->entry_ref, sizeof(r->entry_ref), "%s/%s",
		 tc_severity_name(r->job.severity), r->job.entry);
	tc_key_job(r->key_job, sizeof(r->key_job), prefix, r->job.id);
	tc_key_deliveries(r->key_dlv, sizeof(r->key_dlv), prefix, r->job.id);
	tc_key_job_events(r->key_ev, sizeof(r->key_ev), prefix, r->job.id);
	r->vars_json = json_dumps(r->job.vars, JSON_COMPACT);
	r->data = tc_tpl_data_new(r->job.vars, r->job.id, r->job.incident,
				  tc_severity_name(r->job.severity));
	r->phase = TC_RUN_ACCEPTING;
	run_link(d, r);
	if (!r->vars_json || !r->data) {
		run_break(r, "out of memory");
		return;
	}
	/* ACCEPT goes on the intake connection when no read waits there
	 * (right after a read, that is): a new job is then accepted at once,
	 * not behind the tracking writes a broadcast queued on the command
	 * connection. */
	conn = !d->reading && tc_rconn_ctx(d->intake) ? d->intake : d->cmd;
	later = r->job.send_at_ms > tc_time_now_ms();
	argc = 0;
	argv[argc++] = "EVAL";
	argv[argc++] = tc_lua_accept;
	argv[argc++] = "3";
	argv[argc++] = r->key_job;
	argv[argc++] = r->key_dlv;
	argv[argc++] = r->key_ev;
	snprintf(now, sizeof(now), "%s", tc_disp_now(d)); /* expand() moves it on */
	argv[argc++] = now;
	argv[argc++] = r->job.id;
	argv[argc++] = r->entry_ref;
	argv[argc++] = r->job.template;
	argv[argc++] = tc_severity_name(r->job.severity);
	argv[argc++] = r->job.incident ? r->job.incident : "";
	argv[argc++] = later ? "scheduled" : "sending";
	for (i = 0; i < argc; i++)
		lens[i] = strlen(argv[i]);
	argv[argc] = text;
	lens[argc++] = len;
	/* The first batch rides along, made for a first pass: a new job
	 * (the common case) is accepted and planned in one round trip. */
	r->pass = 1;
	r->n_writes = 1;
	snprintf(no, sizeof(no), "%llu", (unsigned long long)r->n_writes);
	argv[argc] = no;
	lens[argc++] = strlen(no);
	if (!later && !d->stopping && tc_rconn_ctx(d->cmd))
		expand(r);
	if (r->phase == TC_RUN_BROKEN)
		return; /* out of memory while expanding: it stays pending */
	argc = plan_args(r, r->n_writes, argv, lens, argc, json);
	sent = tc_rconn_cmd(conn, accept_done, r, argc, argv, lens);
	for (k = 0; k < r->n_plan; k++)
		tc_buf_release(&json[k]);
	if (sent < 0) {
		run_break(r, "redis down");
		return;
	}
	r->writes++;
}
