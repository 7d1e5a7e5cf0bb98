/*
 * Redis connections: hiredis' async API on the libuv loop, reconnected with
 * backoff when lost. The daemon keeps two: intake, which blocks in
 * XREADGROUP and, between reads, accepts the job just read; and one for
 * everything else, pipelined.
 *
 * Keeps true: a lost connection is noticed once (down), retried without a
 * busy loop, and announced again (up) only when usable. A connection whose
 * oldest command waits longer than its stall limit (a paused or wedged
 * server) is dropped and made again.
 *
 * We drive hiredis with our own small libuv adapter: the one hiredis 0.14
 * ships ignores poll errors, so a server that died while we were writing
 * was never noticed. Replies are built within the limits of poison.c: a
 * reply that would cross one drops the connection, and before the
 * connection counts as usable again the stream entries pending for this
 * consumer that cross them are dead-lettered (SWEEP), so the same entry is
 * not read again.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "dispatcher/dispatcher.h"

#define RECONNECT_MIN_MS 100
#define RECONNECT_MAX_MS 5000
#define WATCHDOG_MS      1000
#define BULK_ADVISED     (1u << 20) /* Redis' smallest proto-max-bulk-len */

/* The adapter: one uv_poll per hiredis context. */
struct rc_events {
	uv_poll_t poll;
	redisAsyncContext *ac;      /* NULL once hiredis cleaned up */
	int events;
};

static void ev_closed(uv_handle_t *h)
{
	free(container_of((uv_poll_t *)h, struct rc_events, poll));
}

static void rc_read(struct tc_rconn *rc);

static void ev_poll(uv_poll_t *h, int status, int events)
{
	struct rc_events *e = container_of(h, struct rc_events, poll);

	/* An error (the peer went away mid-write) is for hiredis to find
	 * out by reading: it then disconnects and tells us. */
	if (status < 0)
		events = UV_READABLE;
	if (e->ac && (events & UV_WRITABLE))
		redisAsyncHandleWrite(e->ac);
	if (e->ac && (events & UV_READABLE))
		rc_read(e->ac->data);
	/* What the replies' callbacks asked of this connection (the ACCEPT
	 * of a job just read) leaves now, out of those callbacks. */
	if (e->ac)
		tc_rconn_flush(e->ac->data);
}

/* hiredis asks for reading after every write and for writing with every
 * command; only a change is passed on, as libuv makes each uv_poll_start
 * two epoll_ctl calls. */
static void ev_update(struct rc_events *e, int add, int del)
{
	int events = (e->events | add) & ~del;

	if (events == e->events)
		return;
	e->events = events;
	if (e->events)
		uv_poll_start(&e->poll, e->events, ev_poll);
	else
		uv_poll_stop(&e->poll);
}

static void ev_add_read(void *p)  { ev_update(p, UV_READABLE, 0); }
static void ev_del_read(void *p)  { ev_update(p, 0, UV_READABLE); }
static void ev_add_write(void *p) { ev_update(p, UV_WRITABLE, 0); }
static void ev_del_write(void *p) { ev_update(p, 0, UV_WRITABLE); }

static void ev_cleanup(void *p)
{
	struct rc_events *e = p;

	e->ac = NULL;
	uv_poll_stop(&e->poll);
	uv_close((uv_handle_t *)&e->poll, ev_closed);
}

static int ev_attach(redisAsyncContext *ac, uv_loop_t *loop)
{
	struct rc_events *e = calloc(1, sizeof(*e));

	if (!e)
		return -ENOMEM;
	if (uv_poll_init_socket(loop, &e->poll, ac->c.fd) < 0) {
		free(e);
		return -EINVAL;
	}
	e->ac = ac;
	ac->ev.data = e;
	ac->ev.addRead = ev_add_read;
	ac->ev.delRead = ev_del_read;
	ac->ev.addWrite = ev_add_write;
	ac->ev.delWrite = ev_del_write;
	ac->ev.cleanup = ev_cleanup;
	return 0;
}

/* A command under way: its reply resets the stall clock. */
struct rc_cmd {
	struct tc_rconn *rc;
	redisCallbackFn *cb;
	void *priv;
};

struct tc_rconn {
	uv_loop_t *loop;
	char *url;                  /* these three are copies of the configuration's */
	char *username, *password;
	char name[32];
	tc_rconn_fn up, down;
	void *data;
	redisAsyncContext *ac;      /* NULL while disconnected */
	bool connected;             /* connected and logged in: usable */
	unsigned login_left;        /* AUTH and SELECT replies still to come */
	bool login_bad;             /* the login could not be sent: never usable */
	bool in_connect;            /* inside hiredis' connect step: no flush */
	uv_timer_t timer;           /* reconnect backoff */
	uint64_t backoff_ms;
	uv_timer_t watchdog;
	uint64_t stall_ms;          /* longest wait for a reply */
	struct tc_poison bound;     /* the reply being read, within the limits */
	bool sweep;                 /* a reply was refused: SWEEP before use */
	char *prefix, *consumer;    /* for SWEEP: copies of the configuration's */
	unsigned outstanding;       /* commands without a reply yet */
	bool unwritten;             /* commands queued since the last flush */
	uint64_t last_reply;        /* uv_now of the last reply */
};

static void schedule_reconnect(struct tc_rconn *rc);
static void conn_lost(struct tc_rconn *rc, const char *why);

/* Usable now: tell the owner. */
static void ready(struct tc_rconn *rc)
{
	rc->connected = true;
	tc_log(TC_LOG_INFO, "redis", "conn=%s event=connected", rc->name);
	if (rc->up)
		rc->up(rc, rc->data);
}

/* SWEEP's answer: the entries too large to read are dead-lettered (or
 * the sweep failed, said so, and runs again after the next refusal). */
static void swept(redisAsyncContext *ac, void *reply, void *priv)
{
	struct tc_rconn *rc = priv;

	if (!reply)
		return; /* lost: on_disconnect says so; the next connect sweeps */
	rc->outstanding--;
	rc->last_reply = uv_now(rc->loop);
	if (tc_poison_swept(rc->name, reply) >= 0)
		rc->sweep = false;
	if (!(ac->c.flags & REDIS_DISCONNECTING))
		ready(rc);
}

/* Logged in. Usable now, or once SWEEP dead-lettered what a refused reply
 * left pending: read again at once, it would be refused again. */
static void usable(struct tc_rconn *rc)
{
	if (!rc->sweep) {
		ready(rc);
		return;
	}
	if (tc_poison_sweep(rc->ac, rc->prefix, rc->consumer, swept, rc) < 0) {
		tc_log(TC_LOG_ERROR, "redis", "conn=%s event=sweep-failed err=\"out of memory\", using the connection as it is",
		       rc->name);
		ready(rc);
		return;
	}
	tc_log(TC_LOG_INFO, "redis", "conn=%s event=sweeping, dead-lettering pending entries too large to read",
	       rc->name);
	rc->outstanding++;
	rc->last_reply = uv_now(rc->loop);
}

/* Refuses the reply being read (p->why says why): drops the connection
 * now, and makes SWEEP run before it is used again. Never from inside a
 * hiredis callback. */
static void refuse_reply(struct tc_rconn *rc)
{
	char q[TC_LIMIT_LOG_VALUE + 16];

	tc_log(TC_LOG_ERROR, "redis", "conn=%s event=reply-refused why=%s, dropping the connection",
	       rc->name, tc_log_quote(q, sizeof(q), rc->bound.why));
	rc->sweep = true;
	rc->ac->onDisconnect = NULL;
	redisAsyncFree(rc->ac); /* pending callbacks get NULL */
	conn_lost(rc, "reply refused");
}

/* Reads what arrived, and refuses a string that is growing past its
 * limit before hiredis holds all of it. */
static void rc_read(struct tc_rconn *rc)
{
	redisAsyncHandleRead(rc->ac);
	if (rc->ac && tc_poison_pending(rc->ac->c.reader, &rc->bound) < 0)
		refuse_reply(rc);
}

/* The answer to AUTH or SELECT (what). A refusal drops the connection,
 * which is tried again with backoff: a password changed on the server
 * while tocsind runs is logged at every try, never busy-looped. */
static void login_done(redisAsyncContext *ac, void *reply, void *what)
{
	struct tc_rconn *rc = ac->data;
	redisReply *r = reply;
	char q[TC_LIMIT_LOG_VALUE + 16];

	if (!r || rc->login_bad)
		return; /* lost (on_disconnect says so), or left to the watchdog */
	rc->outstanding--;
	rc->last_reply = uv_now(rc->loop);
	if (ac->c.flags & REDIS_DISCONNECTING)
		return; /* a step after a refused one: said already */
	if (r->type == REDIS_REPLY_ERROR) {
		tc_log(TC_LOG_ERROR, "redis", "conn=%s event=login-failed step=%s err=%s, reconnecting",
		       rc->name, (const char *)what, tc_log_quote(q, sizeof(q), r->str));
		redisAsyncDisconnect(ac);
		return;
	}
	if (--rc->login_left == 0)
		usable(rc);
}

static void on_connect(const redisAsyncContext *cac, int status)
{
	redisAsyncContext *ac = (redisAsyncContext *)cac;
	struct tc_rconn *rc = ac->data;
	struct tc_redis_where w;

	if (status != REDIS_OK) {
		/* hiredis frees the context after this callback. */
		tc_log(TC_LOG_WARN, "redis", "conn=%s event=connect-failed err=\"%s\", retrying in %llums",
		       rc->name, ac->errstr, (unsigned long long)rc->backoff_ms);
		rc->ac = NULL;
		schedule_reconnect(rc);
		return;
	}
	/* Log in and select the database before anything else is sent. */
	(void)tc_redis_url_parse(rc->url, &w); /* checked by the configuration */
	rc->login_left = 0;
	rc->login_bad = false;
	if (rc->password) {
		if ((rc->username ?
		     redisAsyncCommand(ac, login_done, "AUTH", "AUTH %s %s", rc->username,
				       rc->password) :
		     redisAsyncCommand(ac, login_done, "AUTH", "AUTH %s", rc->password)) !=
		    REDIS_OK)
			goto unusable;
		rc->login_left++;
	}
	if (w.db) {
		if (redisAsyncCommand(ac, login_done, "SELECT", "SELECT %u", w.db) != REDIS_OK)
			goto unusable;
		rc->login_left++;
	}
	if (!rc->login_left) {
		rc->in_connect = true;
		usable(rc);
		rc->in_connect = false;
		return;
	}
	rc->outstanding = rc->login_left;
	rc->last_reply = uv_now(rc->loop);
	return;
unusable:
	/* Out of memory: the watchdog drops it (not from inside hiredis'
	 * connect step) and it is tried again. */
	tc_log(TC_LOG_ERROR, "redis", "conn=%s event=login-failed err=\"out of memory\", reconnecting",
	       rc->name);
	rc->login_bad = true;
	rc->outstanding = 1;
	rc->last_reply = 0;
}

/* The connection is gone: tell the owner once and try again later. */
static void conn_lost(struct tc_rconn *rc, const char *why)
{
	bool was = rc->connected;

	rc->ac = NULL;
	rc->connected = false;
	rc->outstanding = 0;
	tc_log(TC_LOG_WARN, "redis", "conn=%s event=lost err=\"%s\", reconnecting in %llums",
	       rc->name, why, (unsigned long long)rc->backoff_ms);
	if (was)
		rc->down(rc, rc->data);
	schedule_reconnect(rc);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
	struct tc_rconn *rc = ac->data;
	char q[TC_LIMIT_LOG_VALUE + 16];

	if (rc->bound.why[0]) {
		/* One of the reply functions refused, and hiredis dropped the
		 * connection (calling it out of memory). */
		tc_log(TC_LOG_ERROR, "redis", "conn=%s event=reply-refused why=%s, dropping the connection",
		       rc->name, tc_log_quote(q, sizeof(q), rc->bound.why));
		rc->sweep = true;
		conn_lost(rc, "reply refused");
		return;
	}
	conn_lost(rc, status == REDIS_OK ? "closed" : ac->errstr);
}

static void reconnect(uv_timer_t *t)
{
	struct tc_rconn *rc = container_of(t, struct tc_rconn, timer);
	struct tc_redis_where w;

	if (tc_redis_url_parse(rc->url, &w) < 0)
		return; /* checked by the configuration; cannot happen */
	rc->ac = w.port ? redisAsyncConnect(w.host, (int)w.port) :
			  redisAsyncConnectUnix(w.host);
	rc->last_reply = uv_now(rc->loop); /* the watchdog times the connect */
	if (!rc->ac || rc->ac->err) {
		tc_log(TC_LOG_WARN, "redis", "conn=%s event=connect-failed err=\"%s\", retrying in %llums",
		       rc->name, rc->ac ? rc->ac->errstr : "out of memory",
		       (unsigned long long)rc->backoff_ms);
		if (rc->ac)
			redisAsyncFree(rc->ac);
		rc->ac = NULL;
		schedule_reconnect(rc);
		return;
	}
	rc->ac->data = rc;
	tc_poison_attach(rc->ac->c.reader, &rc->bound);
	if (ev_attach(rc->ac, rc->loop) < 0) {
		redisAsyncFree(rc->ac);
		rc->ac = NULL;
		schedule_reconnect(rc);
		return;
	}
	redisAsyncSetConnectCallback(rc->ac, on_connect);
	redisAsyncSetDisconnectCallback(rc->ac, on_disconnect);
}

static void schedule_reconnect(struct tc_rconn *rc)
{
	uint64_t wait = rc->backoff_ms;

	rc->backoff_ms = rc->backoff_ms * 2 > RECONNECT_MAX_MS ?
		RECONNECT_MAX_MS : rc->backoff_ms * 2;
	uv_timer_start(&rc->timer, reconnect, wait, 0);
}

/* Drops a connection whose oldest command waited past the stall limit,
 * or that is not usable (connected and logged in) within it. */
static void watchdog(uv_timer_t *t)
{
	struct tc_rconn *rc = container_of(t, struct tc_rconn, watchdog);
	const char *what = rc->connected ? "stalled" : "connect-timeout";

	if (!rc->ac || (rc->connected && !rc->outstanding) ||
	    uv_now(rc->loop) - rc->last_reply < rc->stall_ms)
		return;
	tc_log(TC_LOG_WARN, "redis", "conn=%s event=%s waiting=%u for=%llums, dropping the connection",
	       rc->name, what, rc->outstanding,
	       (unsigned long long)(uv_now(rc->loop) - rc->last_reply));
	/* Pending callbacks get NULL; then we start again. */
	rc->ac->onDisconnect = NULL;
	redisAsyncFree(rc->ac);
	conn_lost(rc, what);
}

static void rconn_release(struct tc_rconn *rc)
{
	free(rc->url);
	free(rc->username);
	free(rc->password);
	free(rc->prefix);
	free(rc->consumer);
	free(rc);
}

struct tc_rconn *tc_rconn_new(uv_loop_t *loop, const struct tc_cfg *cfg,
			      const char *name, uint64_t stall_ms, tc_rconn_fn up,
			      tc_rconn_fn down, void *data)
{
	struct tc_rconn *rc = calloc(1, sizeof(*rc));

	if (!rc)
		return NULL;
	rc->url = strdup(cfg->redis_url);
	rc->username = cfg->redis_username ? strdup(cfg->redis_username) : NULL;
	rc->password = cfg->redis_password ? strdup(cfg->redis_password) : NULL;
	rc->prefix = strdup(cfg->prefix);
	rc->consumer = strdup(cfg->consumer);
	if (!rc->url || (cfg->redis_username && !rc->username) ||
	    (cfg->redis_password && !rc->password) || !rc->prefix || !rc->consumer) {
		rconn_release(rc);
		return NULL;
	}
	rc->loop = loop;
	snprintf(rc->name, sizeof(rc->name), "%s", name);
	rc->up = up;
	rc->down = down;
	rc->data = data;
	rc->backoff_ms = RECONNECT_MIN_MS;
	rc->stall_ms = stall_ms;
	uv_timer_init(loop, &rc->timer);
	uv_timer_init(loop, &rc->watchdog);
	uv_timer_start(&rc->watchdog, watchdog, WATCHDOG_MS, WATCHDOG_MS);
	reconnect(&rc->timer);
	return rc;
}

redisAsyncContext *tc_rconn_ctx(struct tc_rconn *rc)
{
	return rc && rc->connected ? rc->ac : NULL;
}

static void cmd_done(redisAsyncContext *ac, void *reply, void *priv)
{
	struct rc_cmd *c = priv;
	struct tc_rconn *rc = c->rc;

	if (reply) {
		rc->outstanding--;
		rc->last_reply = uv_now(rc->loop);
		if (((redisReply *)reply)->type != REDIS_REPLY_ERROR) {
			/* Working: the next loss starts its backoff anew. */
			rc->backoff_ms = RECONNECT_MIN_MS;
		} else if (strncmp(((redisReply *)reply)->str, "NOAUTH", 6) == 0 &&
			   !(ac->c.flags & REDIS_DISCONNECTING)) {
			/* The server wants a login it did not want before. */
			tc_log(TC_LOG_ERROR, "redis", "conn=%s event=login-failed err=\"NOAUTH\", Redis now requires a login: set redis.password and restart",
			       rc->name);
			redisAsyncDisconnect(ac);
		}
	}
	if (c->cb)
		c->cb(ac, reply, c->priv);
	free(c);
}

int tc_rconn_send(struct tc_rconn *rc, redisCallbackFn *cb, void *priv,
		  const char *cmd, size_t len)
{
	struct rc_cmd *c;

	if (!rc || !rc->connected || !rc->ac)
		return TC_EREDIS;
	c = malloc(sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->rc = rc;
	c->cb = cb;
	c->priv = priv;
	if (redisAsyncFormattedCommand(rc->ac, cmd_done, c, cmd, len) != REDIS_OK) {
		free(c);
		return TC_EREDIS;
	}
	if (!rc->outstanding++)
		rc->last_reply = uv_now(rc->loop);
	rc->unwritten = true;
	return 0;
}

void tc_rconn_peek(struct tc_rconn *rc)
{
	/* A read finding nothing is EAGAIN, which hiredis takes as "later". */
	if (rc->connected && rc->ac && rc->outstanding)
		rc_read(rc);
}

void tc_rconn_flush(struct tc_rconn *rc)
{
	/* Inside one of its callbacks, a failed write would free the context
	 * under hiredis' feet: the caller's turn ends with a flush anyway. */
	if (!rc || !rc->unwritten || !rc->connected || !rc->ac || rc->in_connect ||
	    (rc->ac->c.flags & REDIS_IN_CALLBACK))
		return;
	rc->unwritten = false;
	/* Writes what the socket takes now; hiredis keeps waiting for
	 * "writable" for the rest. */
	redisAsyncHandleWrite(rc->ac);
}

/* Writes "<c><n>\r\n" at p; returns the end. */
static char *resp_head(char *p, char c, size_t n)
{
	*p++ = c;
	p += tc_utoa(n, p);
	*p++ = '\r';
	*p++ = '\n';
	return p;
}

int tc_resp_format(char **out, int argc, const char **argv, const size_t *lens)
{
	size_t total = 24, len;
	char *cmd, *p;
	int i;

	for (i = 0; i < argc; i++)
		total += 24 + (lens ? lens[i] : strlen(argv[i])) + 2;
	if (total > INT_MAX || !(cmd = malloc(total)))
		return -ENOMEM;
	p = resp_head(cmd, '*', (size_t)argc);
	for (i = 0; i < argc; i++) {
		len = lens ? lens[i] : strlen(argv[i]);
		p = resp_head(p, '$', len);
		if (len)
			memcpy(p, argv[i], len);
		p += len;
		*p++ = '\r';
		*p++ = '\n';
	}
	*p = '\0';
	*out = cmd;
	return (int)(p - cmd);
}

int tc_rconn_cmd(struct tc_rconn *rc, redisCallbackFn *cb, void *priv,
		 int argc, const char **argv, const size_t *lens)
{
	char *cmd;
	int len, r;

	if (!rc || !rc->connected || !rc->ac)
		return TC_EREDIS;
	len = tc_resp_format(&cmd, argc, argv, lens);
	if (len < 0)
		return -ENOMEM;
	r = tc_rconn_send(rc, cb, priv, cmd, (size_t)len);
	free(cmd);
	return r;
}

static void rconn_watchdog_closed(uv_handle_t *h)
{
	struct tc_rconn *rc = container_of((uv_timer_t *)h, struct tc_rconn, watchdog);

	rconn_release(rc);
}

static void rconn_timer_closed(uv_handle_t *h)
{
	struct tc_rconn *rc = container_of((uv_timer_t *)h, struct tc_rconn, timer);

	if (rc->ac) {
		/* Now, not after pending replies (intake may be blocked in
		 * XREADGROUP); their callbacks get NULL. Never called from
		 * inside a hiredis callback, so the free is immediate. */
		rc->ac->onDisconnect = NULL;
		redisAsyncFree(rc->ac);
		rc->ac = NULL;
	}
	uv_close((uv_handle_t *)&rc->watchdog, rconn_watchdog_closed);
}

void tc_rconn_free(struct tc_rconn *rc)
{
	if (!rc)
		return;
	uv_timer_stop(&rc->timer);
	uv_timer_stop(&rc->watchdog);
	uv_close((uv_handle_t *)&rc->timer, rconn_timer_closed);
}

int tc_redis_prepare(const struct tc_cfg *cfg, char *why, size_t n)
{
	char key[TC_KEY_MAX];
	redisContext *c;
	redisReply *r;
	uint64_t bulk;
	int s, rc = 0;

	c = tc_redis_connect(cfg->redis_url, cfg->redis_username, cfg->redis_password,
			     3, why, n);
	if (!c)
		return TC_EREDIS;
	/* tocsind reads no string past TC_LIMIT_REDIS_BULK (poison.c), but
	 * every larger one it meets costs a dropped connection and a sweep,
	 * and Redis keeps it: say so when producers may write them. (A Redis
	 * that refuses CONFIG says nothing here.) */
	r = redisCommand(c, "CONFIG GET proto-max-bulk-len");
	if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
	    r->element[1]->type == REDIS_REPLY_STRING &&
	    tc_parse_uint(r->element[1]->str, r->element[1]->len, BULK_ADVISED, &bulk) ==
	    TC_ELIMIT)
		tc_log(TC_LOG_WARN, "redis", "event=large-input-limit proto-max-bulk-len=%s, a producer may write a field that large: tocsind refuses it past %u bytes and dead-letters its entry, Redis keeps it; set proto-max-bulk-len 1mb",
		       r->element[1]->str, TC_LIMIT_REDIS_BULK);
	freeReplyObject(r);
	for (s = 0; rc == 0 && s < TC_SEV_COUNT; s++) {
		tc_key_jobs(key, sizeof(key), cfg->prefix, s);
		/* From 0: jobs written before the first start are work too. */
		r = redisCommand(c, "XGROUP CREATE %s %s 0 MKSTREAM", key, TC_GROUP_NAME);
		if (!r) {
			snprintf(why, n, "Redis at %s: %s", cfg->redis_url, c->errstr);
			rc = TC_EREDIS;
		} else if (r->type == REDIS_REPLY_ERROR &&
			   strncmp(r->str, "BUSYGROUP", 9) != 0) {
			snprintf(why, n, "cannot create consumer group on %s: %s", key, r->str);
			rc = TC_EREDIS;
		}
		freeReplyObject(r);
	}
	redisFree(c);
	return rc;
}

bool tc_reply_strings(const redisReply *rep, size_t min)
{
	size_t i;

	if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements < min)
		return false;
	for (i = 0; i < rep->elements; i++)
		if (rep->element[i]->type != REDIS_REPLY_STRING)
			return false;
	return true;
}
