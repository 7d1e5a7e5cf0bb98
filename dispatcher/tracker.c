/*
 * The tracker: every write of a job's delivery records, batched per loop
 * turn into PLAN and MOVE script calls (track.c has the scripts). Each call
 * waits in its run's outbox until Redis answered it: one lost with the
 * connection is sent again when it is back, and the scripts recognise a
 * replay, so nothing is counted or sent twice. Meanwhile nothing new is
 * planned or sent, so an outbox holds at most what was in flight.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "dispatcher/dispatcher.h"

#define HEAD_ARGS 10 /* EVAL script 5 job dlv events retry dead now job-id */
#define MOVE_HEAD (HEAD_ARGS + 1) /* ... and the write number */
#define MOVE_ARGS 8  /* id, channel, from, to, json, outcome, due, reasons */

static void plan_done(redisAsyncContext *ac, void *reply, void *priv);
static void move_done(redisAsyncContext *ac, void *reply, void *priv);

/* The delivery's record, as stored in <prefix>:job:{<id>}:deliveries. */
static int dlv_json(const struct tc_dlv *v, const char *outcome,
		    const char *provider, const char *provider_id, struct tc_buf *b)
{
	struct tc_record rec = {
		.channel = v->ch, .address = v->address, .group = v->group,
		.member = v->name, .role = v->role, .email = v->email, .phone = v->phone,
		.state = v->state, .attempts = v->attempts, .reasons = v->reasons.data,
		.last_outcome = outcome, .provider = provider,
		.provider_message_id = provider_id,
		.updated_at = tc_disp_now(v->run->disp), .pass = v->run->pass,
		.plan = v->plan_write, .next_attempt_ms = v->due_ms,
		.tried = v->tried.data, .segments = v->segments, .encoding = v->encoding,
		.member_key = v->member_key,
	};

	return tc_record_json(b, &rec);
}

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
	len = tc_resp_format(&w->cmd, argc, argv, lens);
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
	free(w->cmd);
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

void tc_track_replay_all(struct tc_disp *d)
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
		tc_run_break(r, rep->type == REDIS_REPLY_ERROR ? rep->str : "unexpected reply");
		for (i = 0; i < w->n; i++)
			tc_dlv_free(w->dlv[i]);
	} else {
		tc_log(TC_LOG_DEBUG, "run", "job=%s event=planned deliveries=%u", r->job.id, w->n);
		tc_plan_result(r, w->dlv, w->n, rep);
	}
	write_free(w);
	tc_sched_dispatch(r->disp, false);
	tc_disp_poke(r->disp);
}

/* Appends the batch being planned as PLAN's (id, channel, record)
 * triples at argv[argc], numbered write_no; the records are built in
 * json[], which the caller releases. Returns the new argc. */
int tc_track_plan_args(struct tc_run *r, uint64_t write_no, const char **argv,
		     size_t *lens, int argc, struct tc_buf *json)
{
	bool failed = false;
	unsigned i;

	for (i = 0; i < r->n_plan; i++) {
		struct tc_dlv *v = r->plan[i];

		v->plan_write = write_no;
		tc_buf_init(&json[i], TC_LIMIT_RECORD);
		if (dlv_json(v, "", "", "", &json[i]) < 0)
			failed = true;
		argv[argc] = v->id;
		lens[argc++] = TC_DELIVERY_ID_LEN;
		argv[argc] = tc_channel_name(v->ch);
		lens[argc] = strlen(argv[argc]);
		argc++;
		argv[argc] = json[i].data;
		lens[argc++] = json[i].len;
	}
	return failed ? -ENOMEM : argc;
}

/* Writes the batch of planned deliveries with the PLAN script. */
void tc_track_plan_flush(struct tc_run *r)
{
	const char *argv[HEAD_ARGS + 3 + 3 * TC_PLAN_BATCH];
	size_t lens[HEAD_ARGS + 3 + 3 * TC_PLAN_BATCH];
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
	argv[argc] = r->key_acks;
	lens[argc++] = strlen(r->key_acks);
	argc = tc_track_plan_args(r, write_no, argv, lens, argc, json);
	w = argc < 0 ? NULL : write_new(r, argc, argv, lens);
	if (w)
		w->dlv = malloc(n * sizeof(*w->dlv));
	for (i = 0; i < n; i++)
		tc_buf_release(&json[i]);
	r->n_plan = 0;
	if (!w || !w->dlv) {
		if (w)
			write_free(w);
		tc_run_break(r, "out of memory");
		for (i = 0; i < n; i++)
			tc_dlv_free(r->plan[i]);
		return;
	}
	memcpy(w->dlv, r->plan, n * sizeof(*w->dlv));
	w->n = n;
	tc_log(TC_LOG_DEBUG, "run", "job=%s event=plan-write deliveries=%u", r->job.id, n);
	outbox_push(r, w);
}

/* Points the member's number at this delivery, its latest SMS, so that a
 * reply from it acknowledges it (inbound.c): <prefix>:phone:{<E.164>},
 * living dispatcher.retention, as long as the job's records at most.
 * Written when the send starts, on the connection every reply's lookup
 * uses after it, so a reply (which comes after the request went out)
 * always finds it; the ACK script keeps a reply that overtakes the `sent`
 * write pending until that write. */
static void index_phone(struct tc_dlv *v)
{
	struct tc_run *r = v->run;
	char key[TC_KEY_MAX], ttl[24];
	const char *argv[7] = { "EVAL", tc_lua_phone, "1", key, r->job.id, v->id, ttl };

	if (tc_key_phone(key, sizeof(key), r->disp->cfg->prefix, v->address) < 0)
		return;
	snprintf(ttl, sizeof(ttl), "%llu", (unsigned long long)r->disp->cfg->retention_ms);
	(void)tc_rconn_cmd(r->disp->cmd, NULL, NULL, 7, argv, NULL);
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
		tc_run_break(r, rep->str);
	write_free(w);
	tc_disp_poke(r->disp);
}

/* Writes the batch of transitions with the MOVE script. */
void tc_track_move_flush(struct tc_run *r)
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
		tc_run_break(r, "out of memory");
		return;
	}
	outbox_push(r, w);
}

/* Records a transition of v to state `to` (batched); a final state frees v.
 * dead, when not NULL, dead-letters the delivery with that reason. */
void tc_track_move_dead(struct tc_dlv *v, enum tc_dstate to, const char *outcome,
			  const char *provider, const char *provider_id,
			  const char *dead)
{
	struct tc_run *r = v->run;
	enum tc_dstate from = v->state;
	/* A first attempt is not recorded (DESIGN.md allows skipping
	 * `sending`): the record and the counts keep saying queued, and its
	 * outcome moves them from there. The counts are always the tally of
	 * the records, so a restart that resumes a delivery from its record
	 * moves its count from the state that was counted. A retry's attempt
	 * is recorded: it leaves the retry set, and a restart must not find
	 * it there. */
	bool unrecorded = to == TC_DS_SENDING && from == TC_DS_QUEUED;
	enum tc_dstate now = unrecorded ? from : to;
	struct tc_buf json;
	const char *vals[MOVE_ARGS];
	char *block, due[24] = "";
	size_t size;
	int base, i;

	r->disp->stats.moves[v->ch][to]++;

	if (!r->move_argv) {
		r->move_argv = calloc(MOVE_HEAD + TC_MOVE_BATCH * MOVE_ARGS, sizeof(char *));
		r->move_lens = calloc(MOVE_HEAD + TC_MOVE_BATCH * MOVE_ARGS, sizeof(size_t));
		if (!r->move_argv || !r->move_lens) {
			free(r->move_argv);
			free(r->move_lens);
			r->move_argv = NULL;
			r->move_lens = NULL;
			tc_run_break(r, "out of memory");
		}
	}
	/* An interrupted run still records what happened, while it can: a
	 * send that finished during shutdown is not sent again. When it
	 * cannot, the delivery stays as Redis has it, and resumes. */
	if (!r->move_argv ||
	    (r->phase == TC_RUN_BROKEN && !tc_rconn_ctx(r->disp->cmd))) {
		if (tc_dstate_final(to))
			tc_dlv_free(v);
		else
			v->state = now;
		return;
	}
	v->state = now;
	if (v->ch == TC_CH_SMS && to == TC_DS_SENDING)
		index_phone(v);
	tc_buf_init(&json, TC_LIMIT_RECORD);
	if (!unrecorded && dlv_json(v, outcome, provider, provider_id, &json) < 0) {
		/* Out of memory: never a record that says less than Redis has. */
		tc_buf_release(&json);
		tc_run_break(r, "out of memory");
		if (tc_dstate_final(to))
			tc_dlv_free(v);
		return;
	}
	vals[0] = v->id;
	vals[1] = tc_channel_name(v->ch);
	vals[2] = unrecorded ? "" : tc_dstate_name(from);
	vals[3] = tc_dstate_name(to);
	vals[4] = json.data ? json.data : "";
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
		tc_run_break(r, "out of memory");
		if (tc_dstate_final(to))
			tc_dlv_free(v);
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
		tc_dlv_free(v);
	}
	if (r->n_move == TC_MOVE_BATCH)
		tc_track_move_flush(r);
}

void tc_track_move(struct tc_dlv *v, enum tc_dstate to, const char *outcome,
		     const char *provider, const char *provider_id)
{
	tc_track_move_dead(v, to, outcome, provider, provider_id, NULL);
}

void tc_track_release(struct tc_run *r)
{
	unsigned i;

	while (r->outbox) {
		struct tc_write *w = r->outbox;

		r->outbox = w->next;
		for (i = 0; i < w->n; i++)
			tc_dlv_free(w->dlv[i]);
		write_free(w);
	}
	r->outbox_tail = NULL;
	if (r->move_argv)
		free_args(r->move_argv, r->move_lens, MOVE_HEAD + (int)r->n_move * MOVE_ARGS);
	r->move_argv = NULL;
	r->move_lens = NULL;
	r->n_move = 0;
}

/* ACCEPT's fixed arguments: EVAL script 8, eight keys, nineteen values. */
#define ACCEPT_ARGS 30

int tc_track_accept(struct tc_run *r, struct tc_rconn *conn, const char *text,
		    size_t len, bool later, redisCallbackFn *cb)
{
	const char *argv[ACCEPT_ARGS + 3 * TC_PLAN_BATCH];
	size_t lens[ACCEPT_ARGS + 3 * TC_PLAN_BATCH];
	struct tc_buf json[TC_PLAN_BATCH];
	struct tc_disp *d = r->disp;
	char k_sched[TC_KEY_MAX], k_stream[TC_KEY_MAX], k_tomb[TC_KEY_MAX];
	char k_events[TC_KEY_MAX], no[24], now[40];
	char send_at[24], now_ms[24], due[24], k_next[TC_KEY_MAX];
	char root[TC_LIMIT_JOB_ID + 1], k_root[TC_KEY_MAX], stop_at[16];
	const struct tc_escalation *p;
	struct tc_esc_child next;
	int argc = 0, i, sent;
	unsigned k;

	if (tc_esc_next(r, text, len, &next) < 0)
		return -ENOMEM;
	tc_key_job(k_next, sizeof(k_next), d->cfg->prefix,
		   next.id[0] ? next.id : r->job.id);
	snprintf(due, sizeof(due), "%lld", (long long)next.due_ms);
	k_root[0] = stop_at[0] = '\0';
	p = r->round ? tc_cfg_escalation(d->cfg, r->job.escalation) : NULL;
	if (p && tc_job_round(r->job.id, root, sizeof(root))) {
		tc_key_job(k_root, sizeof(k_root), d->cfg->prefix, root);
		snprintf(stop_at, sizeof(stop_at), "%u", p->stop_at);
	}

	tc_key_scheduled(k_sched, sizeof(k_sched), d->cfg->prefix);
	tc_key_jobs(k_stream, sizeof(k_stream), d->cfg->prefix, r->job.severity);
	tc_key_tombstone(k_tomb, sizeof(k_tomb), d->cfg->prefix, r->job.id);
	tc_key_events(k_events, sizeof(k_events), d->cfg->prefix);
	snprintf(now, sizeof(now), "%s", tc_disp_now(d));
	snprintf(no, sizeof(no), "%llu", (unsigned long long)r->n_writes);
	snprintf(send_at, sizeof(send_at), "%lld", (long long)r->job.send_at_ms);
	snprintf(now_ms, sizeof(now_ms), "%lld", (long long)tc_time_now_ms());
	argv[argc++] = "EVAL";
	argv[argc++] = tc_lua_accept;
	argv[argc++] = "8";
	argv[argc++] = r->key_job;
	argv[argc++] = r->key_dlv;
	argv[argc++] = r->key_ev;
	argv[argc++] = k_sched;
	argv[argc++] = k_stream;
	argv[argc++] = k_tomb;
	argv[argc++] = k_next;
	argv[argc++] = k_events;
	argv[argc++] = now;
	argv[argc++] = r->job.id;
	argv[argc++] = r->entry_ref;
	argv[argc++] = r->job.template;
	argv[argc++] = tc_severity_name(r->job.severity);
	argv[argc++] = r->job.incident ? r->job.incident : "";
	argv[argc++] = later ? "scheduled" : "sending";
	argv[argc++] = text;
	argv[argc++] = no;
	argv[argc++] = send_at;
	argv[argc++] = now_ms;
	argv[argc++] = TC_GROUP_NAME;
	argv[argc++] = r->job.entry;
	argv[argc++] = next.id;
	argv[argc++] = next.json ? next.json : "";
	argv[argc++] = due;
	argv[argc++] = r->key_acks;
	argv[argc++] = k_root;
	argv[argc++] = stop_at;
	for (i = 0; i < argc; i++)
		lens[i] = strlen(argv[i]);
	lens[18] = len; /* the job's text */
	argc = tc_track_plan_args(r, r->n_writes, argv, lens, argc, json);
	sent = argc < 0 ? -ENOMEM : tc_rconn_cmd(conn, cb, r, argc, argv, lens);
	for (k = 0; k < r->n_plan; k++)
		tc_buf_release(&json[k]);
	free(next.json);
	if (sent == 0 && next.id[0])
		tc_wake_at(d, next.due_ms);
	return sent;
}

void tc_track_job_state(struct tc_run *r, const char *state)
{
	const char *argv[4] = { "HSET", r->key_job, "state", state };

	(void)tc_rconn_cmd(r->disp->cmd, NULL, NULL, 4, argv, NULL);
}

int tc_track_receipt(struct tc_disp *d, const char *job, const char *dlv,
		     const char *provider, const struct tc_receipt *rc,
		     redisCallbackFn *cb, void *data)
{
	char k_job[TC_KEY_MAX], k_dlv[TC_KEY_MAX], k_ev[TC_KEY_MAX], k_tomb[TC_KEY_MAX];
	char now[40];
	const char *argv[13];
	const char *pfx = d->cfg->prefix;

	if (tc_key_job(k_job, sizeof(k_job), pfx, job) < 0 ||
	    tc_key_deliveries(k_dlv, sizeof(k_dlv), pfx, job) < 0 ||
	    tc_key_job_events(k_ev, sizeof(k_ev), pfx, job) < 0 ||
	    tc_key_tombstone(k_tomb, sizeof(k_tomb), pfx, job) < 0)
		return TC_ELIMIT;
	snprintf(now, sizeof(now), "%s", tc_disp_now(d));
	argv[0] = "EVAL";
	argv[1] = tc_lua_receipt;
	argv[2] = "4";
	argv[3] = k_job;
	argv[4] = k_dlv;
	argv[5] = k_ev;
	argv[6] = k_tomb;
	argv[7] = now;
	argv[8] = dlv;
	argv[9] = tc_dstate_name(rc->state);
	argv[10] = rc->reason;
	argv[11] = provider;
	argv[12] = rc->provider_message_id;
	return tc_rconn_cmd(d->cmd, cb, data, 13, argv, NULL);
}
