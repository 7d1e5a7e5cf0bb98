/*
 * tocsind's internal header: the daemon's state and the functions its
 * parts (redis, intake, run, track, roster reader) call on each other.
 * Nothing outside dispatcher/ includes it.
 */
#ifndef TC_DISPATCHER_H
#define TC_DISPATCHER_H

#include <stdbool.h>
#include <stdint.h>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <uv.h>

#include "channels/channels.h"
#include "common/common.h"
#include "config/config.h"
#include "listener/listener.h"
#include "templates/templates.h"

#define TC_PLAN_BATCH    128 /* deliveries per PLAN script call */
#define TC_MOVE_BATCH    64  /* transitions per MOVE script call: Redis runs
			      * one script at a time, so a short one keeps a
			      * critical job's acceptance from waiting long */
#define TC_ACTIVE_JOBS   16  /* jobs worked on at once */
#define TC_REDIS_STALL_MS  5000 /* a reply later than this: the server is gone */
#define TC_INTAKE_BLOCK_MS 5000 /* XREADGROUP BLOCK */
#define TC_PEEK_US       200 /* how often a busy loop turn looks for new jobs */
#define TC_READ_RETRY_MS 1000 /* after Redis refused a read */
#define TC_PARK_MS       5000 /* a retry further away than this leaves memory */
#define TC_WAITING_JOBS  1024 /* runs only waiting for parked retries that take
			       * no run slot (past it they count again) */
#define TC_WAKE_POLL_MS  5000 /* the longest a due sleeping job waits to be woken */
#define TC_WAKE_BATCH    256  /* sleeping jobs woken per script call */
#define TC_BEAT_MS       1000 /* the loop's heartbeat, for /healthz */
#define TC_HEALTH_LOOP_MS 5000 /* a heartbeat older than this: the loop is
				* stuck or starved, /healthz says 503 */

/* ---- Redis connections (redis.c) ------------------------------------------ */
struct tc_rconn;
typedef void (*tc_rconn_fn)(struct tc_rconn *rc, void *data);

/* A connection to cfg's Redis that reconnects with backoff (100 ms
 * doubling to 5 s) and logs in (AUTH, then SELECT of the URL's database)
 * before it counts as connected; a refused login is a lost connection.
 * up runs each time it is (re)connected, down each time it is lost. A
 * command without a reply for stall_ms gets the connection dropped and made
 * again (a paused server). */
struct tc_rconn *tc_rconn_new(uv_loop_t *loop, const struct tc_cfg *cfg,
			      const char *name, uint64_t stall_ms, tc_rconn_fn up,
			      tc_rconn_fn down, void *data);
/* The live context, or NULL while disconnected (or rc is NULL: closed). */
redisAsyncContext *tc_rconn_ctx(struct tc_rconn *rc);
/* Sends one command (argv borrowed for the call). Returns 0, or TC_EREDIS
 * when disconnected or rc is NULL (not made yet, or closed: a timer that
 * fires while tocsind starts or stops), and then cb is never called. A NULL reply in cb means
 * the connection was lost. */
int tc_rconn_cmd(struct tc_rconn *rc, redisCallbackFn *cb, void *priv,
		 int argc, const char **argv, const size_t *lens);
/* Formats argv (lens[i] bytes each; lens NULL: NUL-terminated strings) as
 * one RESP command, as redisFormatCommandArgv does but without a printf
 * per argument: the tracker formats a few arguments per delivery. Returns
 * its length and a new *out (NUL-terminated; free with free()), or
 * -ENOMEM (also past INT_MAX bytes). */
int tc_resp_format(char **out, int argc, const char **argv, const size_t *lens);
/* Sends a command already in RESP form (cmd/len borrowed for the call;
 * hiredis copies it). Same returns as tc_rconn_cmd. */
int tc_rconn_send(struct tc_rconn *rc, redisCallbackFn *cb, void *priv,
		  const char *cmd, size_t len);
/* Writes the commands queued so far now, instead of when the next loop
 * turn finds the socket writable: a busy turn takes milliseconds. */
void tc_rconn_flush(struct tc_rconn *rc);
/* Reads and handles the replies that arrived, if any, without waiting
 * for the loop to poll. Never call it from inside a hiredis callback. */
void tc_rconn_peek(struct tc_rconn *rc);
/* Whether rep is an array of at least min elements, all strings: what the
 * listener's scripts answer. */
bool tc_reply_strings(const redisReply *rep, size_t min);
/* Disconnects for good (pending callbacks get NULL); down is not called.
 * Never call it from inside a hiredis callback. */
void tc_rconn_free(struct tc_rconn *rc);
/* Checks at start, with a blocking connection, that url is reachable and
 * creates the consumer group on every job stream. Returns 0, or TC_EREDIS
 * with why filled. */
int tc_redis_prepare(const struct tc_cfg *cfg, char *why, size_t n);

/* ---- the Redis reply bound and entries too large to read (poison.c) ------ */
/* What the reply being read has cost so far, as TC_LIMIT_REDIS_* count it. */
struct tc_poison {
	size_t reply_cost;
	const void *fields;         /* the field list of the stream entry being
				     * read (a redisReply), or NULL */
	size_t entry_cost;          /* ... and what it has cost */
	char entry[48];             /* ... and its id */
	char why[256];              /* why the last reply was refused, or "" */
};
/* Makes reader r build replies within TC_LIMIT_REDIS_ARRAY, _BULK, _ENTRY
 * and _REPLY, counted in p (borrowed for r's life, emptied now). A reply
 * that would cross one is refused before the object is made: r fails ("out
 * of memory"), hiredis drops the connection, p->why says which limit. */
void tc_poison_attach(redisReader *r, struct tc_poison *p);
/* Checks the string r is still reading: more than TC_LIMIT_REDIS_BULK of
 * it already is refused. Call after each read. Returns 0, or TC_ELIMIT
 * with p->why filled: then drop the connection. */
int tc_poison_pending(const redisReader *r, struct tc_poison *p);
/* Sends SWEEP on ac (tc_lua_sweep): every entry pending for consumer in
 * prefix's job streams that crosses the limits is dead-lettered inside
 * Redis, unread. cb gets the reply (see tc_poison_swept). Returns 0, or
 * TC_EREDIS (then cb is never called). */
int tc_poison_sweep(redisAsyncContext *ac, const char *prefix, const char *consumer,
		    redisCallbackFn *cb, void *priv);
/* Logs what SWEEP's reply r says, for connection conn. Returns how many
 * entries it dead-lettered, or TC_EREDIS when it failed. */
int tc_poison_swept(const char *conn, const redisReply *r);

/* ---- a delivery in memory ----------------------------------------------- */
struct tc_run;

/* An acknowledgement link: public_url (a URL the configuration checked,
 * at most TC_LIMIT_ADDRESS), "/ack/" and a token. */
#define TC_ACK_URL_MAX (TC_LIMIT_ADDRESS + 6 + TC_TOKEN_MAX + 1)

struct tc_dlv {
	struct tc_run *run;
	struct tc_dlv *next;        /* in a ready queue */
	enum tc_channel ch;
	enum tc_dstate state;       /* as last written (or read) in Redis */
	unsigned attempts;
	char id[TC_DELIVERY_ID_LEN + 1];
	char member_key[TC_MEMBER_KEY_LEN + 1]; /* of the strings below, for
						 * every record written */
	char *address;              /* these six share one allocation */
	char *group;                /* "" for a job's own recipients */
	char *name;
	char *role;                 /* "" when none */
	char *email;                /* the member's, for templates; "" when none */
	char *phone;
	struct tc_msg msg;          /* the composed message, while sending */
	int64_t due_ms;             /* when retrying or held: the next attempt */
	bool reserved;              /* held until due_ms for its channel's rate:
				     * its units are reserved for then */
	uint64_t plan_write;        /* the PLAN call that planned it */
	struct tc_buf reasons;      /* every attempt's outcome, for the dead letter */
	uint64_t sent_ns;           /* uv_hrtime when the attempt under way began */
	struct tc_buf tried;        /* every attempt's provider and outcome, as the
				     * record's JSON array's items (TC_LIMIT_TRIED) */
	struct tc_chan_route route; /* the channel's, between its calls */
	unsigned segments;          /* of the last attempt's text (a text's
				     * parts), or 0 */
	const char *encoding;       /* ... and its encoding (static), or NULL */
};

/* ---- a job being worked on (run.c) ---------------------------------------- */
struct tc_roster_reader;
struct tc_count;

/* A tracking write (a PLAN or MOVE script call) kept until Redis answered
 * it: one that was lost with the connection is sent again once it is back.
 * Both scripts are idempotent for a replay (see track.c). */
struct tc_write {
	struct tc_write *next;      /* in run->outbox, in the order written */
	struct tc_run *run;
	char *cmd;                  /* the call in RESP form (tc_resp_format) */
	size_t len;
	bool sent;                  /* on the live connection, no answer yet */
	unsigned n;                 /* PLAN: the deliveries it plans */
	struct tc_dlv **dlv;        /* PLAN: those deliveries; NULL for MOVE */
};

enum tc_run_phase {
	TC_RUN_COUNTING,   /* counting the audience against budgets (count.c) */
	TC_RUN_ACCEPTING,  /* ACCEPT script under way */
	TC_RUN_EXPANDING,  /* planning deliveries */
	TC_RUN_DRAINING,   /* everything planned; waiting for final states */
	TC_RUN_FINISHING,  /* FINISH script under way */
	TC_RUN_BROKEN,     /* Redis was lost: wind down, leave it pending */
};

struct tc_run {
	struct tc_disp *disp;
	struct tc_run *next;        /* in disp->runs, by severity then arrival */
	struct tc_job job;
	enum tc_run_phase phase;
	char entry_ref[96];         /* "<severity>/<entry id>" */
	char key_job[TC_KEY_MAX], key_dlv[TC_KEY_MAX], key_ev[TC_KEY_MAX];
	int round;                  /* an escalation round's number, 0 for any
				       other job (escalate.c) */
	char key_acks[TC_KEY_MAX];  /* a round's family acknowledgements (its
				       root job's), "" for any other job */
	char *vars_json;            /* the job's vars, serialized once */
	json_t *data;               /* the render data; the member changes per delivery */
	unsigned pass;              /* times this job was started (ACCEPT) */
	bool cancelled;             /* an operator cancelled it: send no more */
	uv_timer_t timer;           /* closed to free the run, never from its own callback */
	struct tc_count *count;     /* while counting before ACCEPT, else NULL */

	/* expansion cursor: groups in order, then the job's recipients */
	size_t gi;                  /* group index; n_groups: recipients */
	size_t mi;                  /* member index in the inline list */
	bool roster_phase;          /* reading the current group's roster */
	struct tc_roster_reader *rr;
	bool expanded;              /* every member was planned */
	bool audience_seen;         /* ... by this pass, to its end */
	uint64_t unreachable;       /* members with no address on the job's channels */
	uint64_t roster_errors;     /* roster rows that no longer validate */

	unsigned live;              /* deliveries in memory */
	unsigned parked;            /* deliveries parked until a far retry (park.c) */
	unsigned writes;            /* other calls under way (ACCEPT, FINISH, ...) */
	struct tc_write *outbox;    /* tracking writes not yet answered, in order */
	struct tc_write **outbox_tail;
	uint64_t n_writes;          /* PLAN and MOVE calls made in this pass */
	uint64_t planned, finals;   /* this process's view */

	/* batches being built, flushed at the end of each loop turn */
	struct tc_dlv *plan[TC_PLAN_BATCH];
	unsigned n_plan;
	const char **move_argv;     /* MOVE script arguments (owned strings) */
	size_t *move_lens;
	unsigned n_move;            /* transitions in the batch */
};

/* ---- what tocsind counts since it started, for /metrics (metrics.c) ------- */
enum tc_job_end { TC_JOB_DONE, TC_JOB_CANCELLED, TC_JOB_INVALID, TC_JOB_DUPLICATE,
		  TC_JOB_REFUSED, TC_JOB_END_COUNT };
/* Counts that live in Redis, read with one O(1) command each per
 * heartbeat: jobs asleep until send_at (ZCARD <prefix>:scheduled),
 * retries due or waiting, of every instance (ZCARD <prefix>:retry), dead
 * letters (XLEN <prefix>:dead). */
enum tc_redis_count { TC_RC_ASLEEP, TC_RC_RETRY, TC_RC_DEAD, TC_RC_COUNT };
/* What became of acknowledgement POSTs (ack.c), for /metrics. */
enum { TC_ACK_RECORDED, TC_ACK_ALREADY, TC_ACK_REFUSED, TC_ACK_INVALID, TC_ACK_HELD,
       TC_ACK_GONE, TC_ACK_FAILED, TC_ACK_OUTCOMES };

/* What became of provider receipts (receipt.c), by provider kind (twilio,
 * vonage, http, and "unknown" for a name no provider has). */
enum { TC_RCPT_MOVED, TC_RCPT_PENDING, TC_RCPT_SKIPPED, TC_RCPT_REFUSED_TOKEN,
       TC_RCPT_REFUSED, TC_RCPT_GONE, TC_RCPT_FAILED, TC_RCPT_OUTCOMES };
#define TC_RCPT_KINDS 4
/* What became of SMS replies (inbound.c). */
enum { TC_REPLY_ACKNOWLEDGED, TC_REPLY_ALREADY, TC_REPLY_UNMATCHED, TC_REPLY_INVALID,
       TC_REPLY_REFUSED, TC_REPLY_FAILED, TC_REPLY_PENDING, TC_REPLY_OUTCOMES };

struct tc_stats {
	uint64_t jobs[TC_JOB_END_COUNT];             /* jobs ended here, by how */
	uint64_t receipts[TC_RCPT_KINDS][TC_RCPT_OUTCOMES]; /* by kind, by how */
	uint64_t replies[TC_REPLY_OUTCOMES];         /* SMS replies, by how */
	uint64_t acks[TC_ACK_OUTCOMES];              /* acknowledgement POSTs, by how */
	uint64_t moves[TC_CH_COUNT][TC_DS_COUNT];    /* deliveries moved to each state */
	struct tc_hist latency[TC_CH_COUNT];         /* an attempt, start to outcome */
	long long redis[TC_RC_COUNT];                /* -1 until read */
	uint64_t redis_at_ns;                        /* uv_hrtime of the last reading */
	uint64_t beat_ns;                            /* uv_hrtime of the last heartbeat */
	uint64_t lag_ns;                             /* ... and how late it came */
};

/* ---- the daemon ------------------------------------------------------------- */
struct tc_disp {
	uv_loop_t *loop;
	struct tc_cfg *cfg;
	struct tc_tpl_store *templates;
	struct tc_rconn *intake;    /* XREADGROUP ... BLOCK; ACCEPT between reads */
	struct tc_rconn *cmd;       /* everything else, pipelined */
	struct tc_http *http;
	struct tc_chan *chan[TC_CH_COUNT]; /* NULL: not configured */
	struct tc_phone_cache *phones; /* roster numbers normalised (loop thread) */

	struct tc_run *runs;
	unsigned n_runs;
	unsigned live;              /* deliveries in memory, all jobs */
	unsigned sending[TC_CH_COUNT];
	struct tc_dlv *ready[TC_CH_COUNT][TC_SEV_COUNT]; /* FIFO heads */
	struct tc_dlv *ready_tail[TC_CH_COUNT][TC_SEV_COUNT];
	char key_retry[TC_KEY_MAX], key_dead[TC_KEY_MAX];

	/* deliveries waiting for their next attempt: a min-heap by due_ms */
	struct tc_dlv **retry_heap;
	size_t n_retry, cap_retry;
	uv_timer_t retry_timer;
	/* retries far away, out of memory but for an index entry (park.c) */
	struct tc_parked *parked;
	size_t n_parked, cap_parked;
	unsigned unparking;         /* records being read back */
	uv_timer_t park_timer;
	uint64_t rng;               /* xorshift state, for backoff jitter */

	/* intake */
	bool reading;               /* an XREADGROUP is under way */
	bool reading_pending;       /* ... of our pending entries (a rescan) */
	unsigned scan_gen;          /* counts rescans */
	unsigned reading_gen;       /* the rescan the read belongs to */
	bool rescan;                /* read our own pending entries first */
	uv_timer_t read_retry;      /* a read Redis refused is tried again later */
	bool read_held;             /* ... and until then nothing is read */
	char scan_from[TC_SEV_COUNT][64];
	bool scan_done[TC_SEV_COUNT];

	int64_t now_ms;             /* the time now_str shows */
	char now_str[40];
	uv_timer_t claim_timer;     /* heartbeat and XAUTOCLAIM */
	uv_timer_t cancel_timer;    /* watches running jobs for `tocsin cancel` */
	uv_idle_t turn;             /* keeps the loop from waiting while a run has
				     * work left for the next turn (tc_run_more) */
	uv_timer_t wake_timer;      /* wakes jobs asleep until their send_at */
	int64_t wake_due_ms;        /* when wake_timer fires */
	bool waking;                /* a WAKE call is under way */
	int64_t paused_at_ms;       /* when the command connection was lost, or 0 */
	uv_check_t check;           /* pumps once per loop turn */
	bool dirty;
	uint64_t peeked_ns;         /* uv_hrtime of the last look at intake */
	uv_signal_t sigterm, sigint, sighup;
	struct tc_stats stats;
	struct tc_metrics *metrics; /* what /metrics shows: ours, the listener's */
	struct tc_listener *listener; /* NULL until started */
	uv_timer_t beat;            /* the heartbeat */
	const char *cfg_path;       /* for reloads */
	bool reloading, reload_again;
	uv_timer_t grace;
	bool stopping;
	int exit_code;
};

/* The wall clock as RFC 3339, formatted once per millisecond. */
const char *tc_disp_now(struct tc_disp *d);
/* Asks for a pump at the end of this loop turn. */
void tc_disp_poke(struct tc_disp *d);
/* Handles what arrived on the intake connection (a new job, an ACCEPT
 * reply) if the loop turn has run for TC_PEEK_US since the last look: a
 * turn busy with a broadcast's completions takes milliseconds. Called
 * between completions; never from inside a hiredis callback. */
void tc_disp_peek(struct tc_disp *d);
/* Whether a channel can send on this dispatcher. */
bool tc_disp_channel_ready(const struct tc_disp *d, enum tc_channel c);

/* Whether an entry of stream s is being worked on here. */
bool tc_disp_has_entry(const struct tc_disp *d, enum tc_severity s,
		       const char *entry);

/* serve.c: the HTTP listener's routes (/healthz, /metrics) */
/* Starts the heartbeat and, on cfg's listen address, the listener with its
 * routes. Returns 0, or a negative errno with the reason logged. */
int tc_serve_start(struct tc_disp *d);
/* Stops the listener and the heartbeat (shutdown). */
void tc_serve_stop(struct tc_disp *d);

/* metrics.c: tocsind's own families */
/* Adds tocsind's collectors (jobs, deliveries, queues, Redis, the
 * listener) to d->metrics. Returns 0 or -ENOMEM. */
int tc_disp_metrics_add(struct tc_disp *d);
/* Asks Redis for the tc_redis_count figures (answers land in d->stats);
 * nothing while the command connection is down. */
void tc_disp_metrics_refresh(struct tc_disp *d);

/* claim.c: heartbeat of our entries, XAUTOCLAIM of others' idle ones */
int tc_claim_start(struct tc_disp *d);

/* reload.c: SIGHUP */
void tc_reload_start(struct tc_disp *d);

/* intake.c */
/* Handles one stream entry ([id, fields]) read or claimed from stream s:
 * validates it and starts its run, or dead-letters it. */
void tc_intake_entry(struct tc_disp *d, enum tc_severity s, const redisReply *e);
/* Reads more jobs if there is room; called from the pump. */
void tc_intake_pump(struct tc_disp *d);
/* The intake connection is (again) up: make the consumer group if it is
 * missing, then read this consumer's pending entries before new ones. */
void tc_intake_up(struct tc_disp *d);
/* Reads this consumer's pending entries again before new ones, once no
 * interrupted run is left (after any lost connection). */
void tc_intake_rescan(struct tc_disp *d);

/* run.c: a job's life, its phases in one switch */
/* Starts working on a validated job (taken); text/len is its JSON as it
 * came (borrowed for the call). */
void tc_run_start(struct tc_disp *d, struct tc_job *job, const char *text,
		  size_t len);
/* Asks for a pump in the next loop turn, without waiting for any event
 * (a run that stopped to let others go, with work left). */
void tc_run_more(struct tc_disp *d);
/* Plans, sends and flushes: one pump of every run. */
void tc_run_pump_all(struct tc_disp *d);
/* Stops every run without acknowledging (shutdown). */
void tc_run_break_all(struct tc_disp *d);
/* Sends ACCEPT for r (a new run, or one counted within its budgets) with
 * its first batch; text/len is its JSON as it came (borrowed for the
 * call). */
void tc_run_accept(struct tc_run *r, const char *text, size_t len);
/* Acknowledges r's entry as a duplicate and tells the watchers. */
void tc_run_ack_duplicate(struct tc_run *r);
/* Unlinks r and frees it once its timer closed. */
void tc_run_free(struct tc_run *r);
/* Interrupts r (Redis lost, out of memory, stopping): nothing more is
 * planned or sent; it winds down and stays pending, to be resumed. */
void tc_run_break(struct tc_run *r, const char *why);
/* Prepares what runs share (keys, the scheduler, the cancel watch).
 * Returns 0 or -ENOMEM. */
int tc_runs_init(struct tc_disp *d);

/* count.c: a job with a roster counted against the channels' budgets
 * before it is accepted */
/* Starts counting r's audience if its job has a roster and a channel keeps
 * a budget for it (text/len: the job as it came, copied). Returns 1 when
 * r counts first (TC_RUN_COUNTING: ACCEPT, or REFUSE, follows), 0 when it
 * need not (accept it now), -ENOMEM. */
int tc_count_start(struct tc_run *r, const char *text, size_t len);
/* Counts up to a loop turn's share of r's roster rows; at the end, r is
 * accepted or refused. */
void tc_count_step(struct tc_run *r);
/* The configuration was reloaded: the runs counting start again under it. */
void tc_count_reload(struct tc_disp *d);
/* Accepts NULL. */
void tc_count_free(struct tc_count *c);

/* escalate.c: a job's next escalation round, and what a round sends */
struct tc_esc_child {
	char id[TC_LIMIT_JOB_ID + 1]; /* "" when there is no next round */
	char *json;                   /* its job text (free()) */
	int64_t due_ms;               /* its send_at */
};
/* Learns whether r is an escalation round (r->round, r->key_acks) and puts
 * escalation.round in its render data. Returns 0 or -ENOMEM. */
int tc_esc_init(struct tc_run *r);
/* The round that follows r (from its job text) when its policy asks for
 * one, in c. Returns 0 (c->id "" for none) or -ENOMEM. */
int tc_esc_next(struct tc_run *r, const char *text, size_t len,
		struct tc_esc_child *c);
/* The channels of mask (tc_member_channels: those m has an address for)
 * member m gets: all of them in a job, the one of the round in a round
 * (0 when they have none of the policy's). */
unsigned tc_esc_channels(const struct tc_run *r, const struct tc_member *m,
			 unsigned mask);

/* planner.c: the audience, expanded into deliveries */
/* Plans members of r while memory allows; stops to wait for a roster.
 * Before the job is accepted it gathers one batch only, for ACCEPT. */
void tc_plan_expand(struct tc_run *r);
/* Learns what PLAN (or ACCEPT) said of each of the n deliveries dlv (rep,
 * one element each) and hands those to send to the scheduler. */
void tc_plan_result(struct tc_run *r, struct tc_dlv **dlv, unsigned n,
		    const redisReply *rep);
/* A new delivery of r on channel c to address, for member m of group
 * (strings copied), counted in memory; NULL when out of memory. */
struct tc_dlv *tc_dlv_new(struct tc_run *r, enum tc_channel c, const char *address,
			  const char *group, const struct tc_member *m);
/* Frees a delivery in memory (it leaves in_flight). */
void tc_dlv_free(struct tc_dlv *v);

/* scheduler.c: queues, caps, rates, retry and hold timers */
int tc_sched_init(struct tc_disp *d);
/* Queues v to be sent, behind others of its channel and severity. */
void tc_sched_ready(struct tc_disp *d, struct tc_dlv *v);
/* Holds v until v->due_ms (a retry, or a rate's reserved slot). Returns 0
 * or -ENOMEM. */
int tc_sched_wait(struct tc_disp *d, struct tc_dlv *v);
/* Makes every waiting delivery of r due now (cancel). */
void tc_sched_hurry(struct tc_disp *d, const struct tc_run *r);
/* The next delivery of channel c to send (taken off its ready queue: the
 * caller owns it), most urgent severity first, FIFO within one; NULL when
 * none is ready or the channel already sends as many as it may at once.
 * tc_sched_dispatch's choice, apart so that tests can check it. */
struct tc_dlv *tc_sched_pop(struct tc_disp *d, enum tc_channel c);
/* The waiting delivery due soonest, taken off the wait heap (the caller
 * owns it), if it is due at now; else NULL. The retry timer's choice,
 * apart so that tests can check it; the timer is not re-armed. */
struct tc_dlv *tc_sched_due(struct tc_disp *d, int64_t now);
/* Starts what is ready while the channels have room, most urgent first.
 * peek: look for new jobs between sends (tc_disp_peek); false inside a
 * hiredis callback. */
void tc_sched_dispatch(struct tc_disp *d, bool peek);
/* Frees what is queued, or waiting (their runs are broken: they stay as
 * Redis has them, and resume at the next start). */
void tc_sched_drop_ready(struct tc_disp *d);
void tc_sched_drop_waiting(struct tc_disp *d);

/* tracker.c: every write of a job's delivery records */
/* The command connection is back: sends every tracking write that was
 * not answered, in order, and notes the pause in each job's record. */
void tc_track_replay_all(struct tc_disp *d);
/* Records v's move to state to (batched per loop turn); a final state
 * frees v. tc_track_move_dead also dead-letters it with reason dead. */
void tc_track_move(struct tc_dlv *v, enum tc_dstate to, const char *outcome,
		   const char *provider, const char *provider_id);
void tc_track_move_dead(struct tc_dlv *v, enum tc_dstate to, const char *outcome,
			const char *provider, const char *provider_id,
			const char *dead);
/* Writes r's batch of planned deliveries (PLAN), and of moves (MOVE). */
void tc_track_plan_flush(struct tc_run *r);
void tc_track_move_flush(struct tc_run *r);
/* Appends r's batch being planned as PLAN's (id, channel, record) triples
 * at argv[argc], numbered write_no; the records are built in json[], which
 * the caller releases (all r->n_plan of them, also on failure). Returns
 * the new argc, or -ENOMEM. */
int tc_track_plan_args(struct tc_run *r, uint64_t write_no, const char **argv,
		       size_t *lens, int argc, struct tc_buf *json);
/* Frees r's writes not answered and its batch of moves (the run is gone). */
void tc_track_release(struct tc_run *r);
/* Sends ACCEPT for r on conn (text/len: the job as it came), with r's
 * batch being planned; a job still waiting for send_at (later) goes to
 * sleep in Redis instead. cb gets the reply. Returns 0, -ENOMEM, or
 * TC_EREDIS (then cb is never called). */
int tc_track_accept(struct tc_run *r, struct tc_rconn *conn, const char *text,
		    size_t len, bool later, redisCallbackFn *cb);
/* Applies a provider's receipt to delivery dlv of job, whether or not
 * its job runs here, after it is done too (the RECEIPT script: pending
 * until the send is recorded, only ever up the order sent < undelivered <
 * delivered). provider: its name. cb gets the script's answer. Returns 0,
 * TC_ELIMIT, or TC_EREDIS (then cb is never called). */
int tc_track_receipt(struct tc_disp *d, const char *job, const char *dlv,
		     const char *provider, const struct tc_receipt *rc,
		     redisCallbackFn *cb, void *data);
/* A provider's callback as the channels read it (receipt.c): the full URL
 * it was sent to (public_url and the request target), its headers as
 * "name: value" lines, its body (borrowed from x). */
struct tc_hook_in {
	struct tc_receipt_in in;
	struct tc_buf url, heads;
	const char *lines[TC_LIMIT_HTTP_HEADERS];
	char ctype[128];
};
/* Fills h from x's request for provider (borrowed). Returns 0 or
 * TC_ELIMIT; release h in every case. */
int tc_hook_in_init(struct tc_hook_in *h, const struct tc_disp *d, struct tc_exch *x,
		    const char *provider);
void tc_hook_in_release(struct tc_hook_in *h);
/* POST and GET /inbound/<provider> (inbound.c): an SMS reply
 * acknowledges the member's latest SMS delivery. */
void tc_inbound_take(struct tc_exch *x, const char *const *args, unsigned n, void *data);
void tc_inbound_metrics(struct tc_mout *o, void *data);
/* POST /receipts/<provider>/<token> (receipt.c). */
void tc_receipt_post(struct tc_exch *x, const char *const *args, unsigned n, void *data);
/* The /metrics collector of receipts (data: the tc_disp). */
void tc_receipt_metrics(struct tc_mout *o, void *data);
/* GET and POST /ack/<token> (ack.c): the acknowledgement page, and
 * recording the member's acknowledgement (and answer) from its form. */
void tc_ack_get(struct tc_exch *x, const char *const *args, unsigned n, void *data);
void tc_ack_post(struct tc_exch *x, const char *const *args, unsigned n, void *data);
/* The /metrics collector of acknowledgements (data: the tc_disp). */
void tc_ack_metrics(struct tc_mout *o, void *data);
/* Sets r's job record state (a woken job: "sending"). */
void tc_track_job_state(struct tc_run *r, const char *state);

/* park.c: retries far away wait in Redis, not in memory */
int tc_park_init(struct tc_disp *d);
/* Parks v (retrying, its record written with due_ms): frees it, keeping an
 * index entry until due_ms. Returns 0, or -ENOMEM (v is then kept). */
int tc_park(struct tc_disp *d, struct tc_dlv *v);
/* Makes r's parked deliveries due now (cancel). */
void tc_park_hurry(struct tc_disp *d, const struct tc_run *r);
/* Forgets r's parked deliveries (every run's when r is NULL): they stay
 * as Redis has them, for the next pass. */
void tc_park_drop(struct tc_disp *d, const struct tc_run *r);
void tc_park_stop(struct tc_disp *d);
/* Adds the parked deliveries per channel to waiting[], and those whose
 * time came by now to due[] (TC_CH_COUNT each), for /metrics. */
void tc_park_count(const struct tc_disp *d, int64_t now, double *waiting, double *due);
/* run.c: runs that take a run slot (TC_ACTIVE_JOBS): all but those only
 * waiting for parked retries, up to TC_WAITING_JOBS of them. */
unsigned tc_runs_active(const struct tc_disp *d);

/* wake.c: jobs that only wait, asleep in Redis */
/* Starts waking sleeping jobs: at once (those due while no tocsind ran),
 * then at the next send_at in <prefix>:scheduled, and at least every
 * TC_WAKE_POLL_MS (jobs other instances put to sleep). Returns 0 or
 * -ENOMEM. */
int tc_wake_start(struct tc_disp *d);
/* A job was put to sleep until at_ms: wake then, if that is sooner. */
void tc_wake_at(struct tc_disp *d, int64_t at_ms);
/* Stops the wake timer (shutdown). */
void tc_wake_stop(struct tc_disp *d);


/* roster_reader.c: a roster file read with uv_fs, parsed as it comes */
typedef void (*tc_rr_fn)(void *data);
/* Starts reading path (phone numbers in national spelling are in region,
 * "" for none; normalised through phones, the dispatcher's); ready is
 * called whenever members are queued or the file ended. NULL when out of
 * memory. */
struct tc_roster_reader *tc_rr_new(uv_loop_t *loop, const char *path,
				   const char *region, struct tc_phone_cache *phones,
				   tc_rr_fn ready, void *data);
/* The next member (borrowed until the next call), or NULL when none is
 * queued now; *bad is set, and *why filled, for a row that did not
 * validate (then the member is NULL and the row is reported). */
const struct tc_member *tc_rr_next(struct tc_roster_reader *rr, bool *bad,
				   unsigned *line, char *why, size_t n);
/* Whether the file was read to its end (or failed) and the queue is empty.
 * err is filled when reading failed. */
bool tc_rr_done(const struct tc_roster_reader *rr, char *err, size_t n);
/* Stops reading and frees once pending file operations finished. */
void tc_rr_free(struct tc_roster_reader *rr);

#endif
