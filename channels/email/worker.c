/*
 * The email workers: `sessions` threads of tocsind's own (never libuv's
 * shared pool, which roster reads and reloads need), each running one
 * libesmtp session at a time. The loop queues messages; a worker takes
 * everything queued, up to TC_EMAIL_BATCH, into one session, so one
 * connection carries many messages (libesmtp sends a session's messages
 * with PIPELINING when offered, then QUITs). Each message's outcome goes
 * back on a result list and the loop is woken with uv_async_send; the
 * channel's callbacks run on the loop thread only.
 *
 * Keeps true: the loop thread never waits for a worker (the lock guards
 * two list moves); every queued item comes back exactly once; one bad
 * recipient fails only its own message; a broken session fails only what
 * it had not finished, and the next batch opens a new connection. The
 * password is read by libesmtp's AUTH callback on the worker and appears
 * in no outcome.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>
/* after openssl/ssl.h: libesmtp.h declares smtp_starttls_set_ctx only then */
#include <auth-client.h>
#include <libesmtp.h>

#include "channels/email/email.h"

#define MAX_WORKERS 64             /* channels.email.sessions at most */
#define ABORTED "aborted: shutting down"

struct worker {
	struct tc_email_pool *pool;
	unsigned idx;
	pthread_t thread;
	bool running;               /* started and not yet joined */
	bool exited;                /* left its loop (under the lock) */
	struct tc_email_sock sock;  /* its session's socket */
};

struct tc_email_pool {
	uv_loop_t *loop;
	uv_async_t *async;          /* freed in its close callback */
	void (*done)(void *arg, struct tc_email_item *it);
	void *arg;
	unsigned outstanding;       /* loop thread: pushed, not yet done */

	pthread_mutex_t lock;       /* guards everything below */
	pthread_cond_t cond;
	struct tc_email_item *queue, **queue_tail;
	struct tc_email_item *results, **results_tail;
	struct tc_email_conf *conf;
	unsigned want;              /* workers 0..want-1 run */
	bool stop;
	bool aborted;               /* tc_email_pool_abort: nothing is sent again */
	struct worker w[MAX_WORKERS];
};

/* One session: its batch, which of it was already handed back, and what
 * it saw beside the replies (the reason it ended early). */
struct session {
	struct tc_email_pool *pool;
	struct tc_email_conf *conf;
	struct tc_email_item *item[TC_EMAIL_BATCH];
	struct tc_email_item *slot[TC_EMAIL_BATCH]; /* message_cb's view */
	bool reported[TC_EMAIL_BATCH];
	bool untouched[TC_EMAIL_BATCH]; /* the session never reached it */
	unsigned n;
	unsigned sent;              /* messages the server accepted */
	char why[160];
	const char *err;            /* set when the session ended in error */
};

static void outcome_of(struct tc_email_item *it, smtp_message_t m,
		       const struct session *ss);
static void hand_back(struct tc_email_pool *p, struct tc_email_item *first,
		      struct tc_email_item **last_next);
static void requeue(struct tc_email_pool *p, struct tc_email_item *first,
		    struct tc_email_item **last_next);

static pthread_once_t auth_once = PTHREAD_ONCE_INIT;

static void auth_start(void)
{
	auth_client_init();
}

void tc_email_conf_unref(struct tc_email_conf *c)
{
	if (!c || __atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	free(c->server);
	free(c->ca_file);
	free(c->username);
	if (c->password) {
		explicit_bzero(c->password, strlen(c->password));
		free(c->password);
	}
	free(c);
}

/* ---- one session ------------------------------------------------------------ */

/* libesmtp asks for the message: NULL len rewinds, then the whole wire in
 * one piece, then NULL for its end (the final dot follows). arg is the
 * item's slot in its session, emptied once the item went back to the loop.
 * libesmtp frees *ctx itself, so the state is kept in the item and *ctx
 * stays NULL. */
static const char *message_cb(void **ctx, int *len, void *arg)
{
	struct tc_email_item *it = *(struct tc_email_item **)arg;

	(void)ctx;
	if (!it) {
		if (len)
			*len = 0;
		return NULL;
	}
	if (!len) {
		it->given = false;
		return NULL;
	}
	if (!it->given) {
		it->given = true;
		*len = (int)it->wire_len;
		return it->wire;
	}
	it->data_done = true;
	*len = 0;
	return NULL;
}

/* A message whose final answer came: its outcome goes back to the loop
 * now, while the session carries on with the next ones, so the loop
 * refills the queue without waiting for the whole batch. */
static void message_sent(struct session *ss, smtp_message_t m)
{
	uintptr_t i = (uintptr_t)smtp_message_get_application_data(m);
	struct tc_email_item *it;

	if (i == 0 || i > ss->n || ss->reported[i - 1])
		return;
	it = ss->item[i - 1];
	outcome_of(it, m, ss);
	if (it->o.kind == TC_OUT_SENT)
		ss->sent++;
	ss->reported[i - 1] = true;
	ss->slot[i - 1] = NULL;
	it->next = NULL;
	hand_back(ss->pool, it, &it->next);
}

static void event_cb(smtp_session_t s, int event, void *arg, ...)
{
	struct session *ss = arg;
	va_list ap;

	(void)s;
	va_start(ap, arg);
	switch (event) {
	case SMTP_EV_MESSAGESENT:
		message_sent(ss, va_arg(ap, smtp_message_t));
		break;
	case SMTP_EV_INVALID_PEER_CERTIFICATE: {
		long result = va_arg(ap, long);

		snprintf(ss->why, sizeof(ss->why), "server certificate not trusted: %s",
			 X509_verify_cert_error_string(result));
		break;
	}
	case SMTP_EV_NO_PEER_CERTIFICATE:
		snprintf(ss->why, sizeof(ss->why), "server sent no certificate");
		break;
	case SMTP_EV_WRONG_PEER_CERTIFICATE:
		snprintf(ss->why, sizeof(ss->why), "server certificate does not "
			 "name the host in channels.email.server");
		break;
	case SMTP_EV_EXTNA_STARTTLS:
		/* opportunistic carries on in clear, as configured */
		if (ss->conf->starttls == TC_STARTTLS_REQUIRED)
			snprintf(ss->why, sizeof(ss->why), "server offers no STARTTLS "
				 "and channels.email.starttls is required");
		break;
	default:
		break;
	}
	va_end(ap);
}

static int interact(auth_client_request_t req, char **result, int fields, void *arg)
{
	struct tc_email_conf *c = arg;
	int i;

	for (i = 0; i < fields; i++) {
		if (req[i].flags & AUTH_USER)
			result[i] = c->username;
		else if (req[i].flags & AUTH_PASS)
			result[i] = c->password;
		else
			return 0;
	}
	return 1;
}

/* A client TLS context that verifies the server against ca_file (or the
 * system's store). NULL when it cannot be made (why says so). */
static SSL_CTX *tls_ctx(const struct tc_email_conf *c, char *why, size_t n)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (!ctx) {
		snprintf(why, n, "cannot start TLS: out of memory");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/* At most TLS 1.2: under TLS 1.3 the server's session tickets come
	 * after the handshake, and when they arrive before libesmtp 1.1
	 * wrote its EHLO, libesmtp takes the readable socket for the EHLO
	 * reply, reads the tickets, and waits for an answer to a command it
	 * never sent until the timeout (seen against aiosmtpd with two
	 * sessions at once). TLS 1.2 sends its ticket inside the handshake. */
	SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION);
	if (c->ca_file ? SSL_CTX_load_verify_locations(ctx, c->ca_file, NULL) != 1
		       : SSL_CTX_set_default_verify_paths(ctx) != 1) {
		snprintf(why, n, "cannot load the CA certificates of channels.email.ca_file");
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

static void set_timeouts(smtp_session_t s, uint64_t ms)
{
	static const int which[] = { Timeout_GREETING, Timeout_ENVELOPE, Timeout_DATA,
				     Timeout_TRANSFER, Timeout_DATA2 };
	long v = ms > 3600000 ? 3600000 : (long)ms;
	size_t i;

	for (i = 0; i < sizeof(which) / sizeof(which[0]); i++)
		(void)smtp_set_timeout(s, which[i] | Timeout_OVERRIDE_RFC2822_MINIMUM, v);
}

static void reply_of(const smtp_status_t *st, struct tc_smtp_reply *r)
{
	r->code = st ? st->code : 0;
	r->enh_class = st ? st->enh_class : 0;
	r->enh_subject = st ? st->enh_subject : 0;
	r->enh_detail = st ? st->enh_detail : 0;
	r->text = st ? st->text : NULL;
}

/* The recipient of a message (each has exactly one). */
static void first_recipient(smtp_recipient_t rc, const char *mailbox, void *arg)
{
	(void)mailbox;
	*(smtp_recipient_t *)arg = rc;
}

/* The outcome of one message: the sender's refusal, else the recipient's,
 * else the answer to the message's data; without any, what broke the
 * session. */
static void outcome_of(struct tc_email_item *it, smtp_message_t m,
		       const struct session *ss)
{
	smtp_recipient_t rc = NULL;
	const smtp_status_t *rs, *ps, *ms;
	struct tc_smtp_reply r;

	smtp_enumerate_recipients(m, first_recipient, &rc);
	rs = rc ? smtp_recipient_status(rc) : NULL;
	ps = smtp_reverse_path_status(m);
	ms = smtp_message_transfer_status(m);
	if (ps && ps->code && ps->code / 100 != 2) {
		reply_of(ps, &r);
		it->throttled = tc_smtp_classify(&r, TC_SMTP_ENVELOPE, &it->o);
	} else if (rs && rs->code && rs->code / 100 != 2) {
		reply_of(rs, &r);
		it->throttled = tc_smtp_classify(&r, TC_SMTP_ENVELOPE, &it->o);
	} else if (ms && ms->code) {
		reply_of(ms, &r);
		it->throttled = tc_smtp_classify(&r, it->data_done ? TC_SMTP_AFTER_DOT
								 : TC_SMTP_DATA, &it->o);
	} else {
		reply_of(NULL, &r);
		(void)tc_smtp_classify(&r, it->data_done ? TC_SMTP_AFTER_DOT :
				       ps && ps->code ? TC_SMTP_DATA : TC_SMTP_SESSION,
				       &it->o);
		if (!it->data_done && (ss->why[0] || ss->err))
			snprintf(it->o.detail, sizeof(it->o.detail), "%s",
				 ss->why[0] ? ss->why : ss->err);
	}
	snprintf(it->o.provider, sizeof(it->o.provider), "%s", ss->conf->server);
}

static void message_walk(smtp_message_t m, void *arg)
{
	struct session *ss = arg;
	uintptr_t i = (uintptr_t)smtp_message_get_application_data(m);

	const smtp_status_t *ps = smtp_reverse_path_status(m);

	if (i == 0 || i > ss->n || ss->reported[i - 1])
		return;
	outcome_of(ss->item[i - 1], m, ss);
	ss->untouched[i - 1] = (!ps || ps->code == 0) && !ss->item[i - 1]->given;
}

/* After a session that delivered something and then broke (a server
 * that closes after so many messages per connection): the messages it
 * never reached go back to the front of the queue for the next session,
 * with no attempt counted; each such round delivers at least one. */
static void put_back_untouched(struct session *ss)
{
	struct tc_email_item *first = NULL, **tail = &first;
	unsigned i;

	if (ss->sent == 0)
		return;
	for (i = 0; i < ss->n; i++) {
		struct tc_email_item *it = ss->item[i];

		if (ss->reported[i] || !ss->untouched[i])
			continue;
		ss->reported[i] = true;
		memset(&it->o, 0, sizeof(it->o));
		it->given = it->data_done = it->throttled = false;
		*tail = it;
		tail = &it->next;
	}
	*tail = NULL;
	if (first)
		requeue(ss->pool, first, tail);
}

/* Sends the batch (a list) over one connection; hands each outcome back
 * as it is known, and the rest when the session ends. */
static void run_session(struct tc_email_pool *p, struct tc_email_conf *c,
			struct tc_email_item *batch)
{
	struct session *ss = calloc(1, sizeof(*ss));
	smtp_session_t s = NULL;
	auth_context_t auth = NULL;
	struct tc_email_item *it, *rest = NULL, **tail = &rest;
	char err[160] = "", ebuf[96];
	SSL_CTX *ctx = NULL;
	bool started = false;
	unsigned i;

	if (!ss) {
		snprintf(err, sizeof(err), "cannot start an SMTP session: out of memory");
		for (it = batch; it; it = it->next) {
			it->o.kind = TC_OUT_TRANSIENT;
			it->o.retry_after_ms = -1;
			snprintf(it->o.detail, sizeof(it->o.detail), "%s", err);
		}
		for (it = batch; it->next; it = it->next)
			;
		hand_back(p, batch, &it->next);
		return;
	}
	ss->pool = p;
	ss->conf = c;
	for (it = batch; it; it = it->next) {
		ss->slot[ss->n] = it;
		ss->item[ss->n++] = it;
	}
	s = smtp_create_session();
	if (!s) {
		snprintf(err, sizeof(err), "cannot start an SMTP session: out of memory");
		goto report;
	}
	smtp_set_server(s, c->server);
	smtp_set_eventcb(s, event_cb, ss);
	set_timeouts(s, c->timeout_ms);
	smtp_starttls_enable(s, c->starttls == TC_STARTTLS_REQUIRED ? Starttls_REQUIRED :
			     c->starttls == TC_STARTTLS_OPPORTUNISTIC ? Starttls_ENABLED :
			     Starttls_DISABLED);
	if (c->starttls != TC_STARTTLS_OFF) {
		ctx = tls_ctx(c, err, sizeof(err));
		if (!ctx)
			goto report;
		smtp_starttls_set_ctx(s, ctx); /* takes its own reference */
	}
	if (c->username) {
		pthread_once(&auth_once, auth_start);
		auth = auth_create_context();
		if (!auth) {
			snprintf(err, sizeof(err), "cannot start AUTH: out of memory");
			goto report;
		}
		auth_set_mechanism_flags(auth, AUTH_PLUGIN_PLAIN, 0);
		auth_set_interact_cb(auth, interact, c);
		smtp_auth_set_context(s, auth);
	}
	for (i = 0; i < ss->n; i++) {
		smtp_message_t m = smtp_add_message(s);

		it = ss->item[i];
		if (!m || !smtp_set_reverse_path(m, it->sender) ||
		    !smtp_set_messagecb(m, message_cb, &ss->slot[i]) ||
		    !smtp_add_recipient(m, it->rcpt)) {
			snprintf(err, sizeof(err), "cannot queue the message: out of memory");
			goto report;
		}
		/* its index, from 1: the item may be handed back (and freed
		 * by the loop) before the session ends */
		smtp_message_set_application_data_release(m, (void *)(uintptr_t)(i + 1), NULL);
	}
	started = true;
	tc_email_read_cap(TC_LIMIT_SMTP_READ + (size_t)ss->n * TC_LIMIT_SMTP_READ_PER_MSG);
	if (!smtp_start_session(s))
		snprintf(err, sizeof(err), "%s",
			 smtp_strerror(smtp_errno(), ebuf, sizeof(ebuf)) ? ebuf :
			 "the SMTP session failed");
	if (tc_email_read_capped())
		snprintf(ss->why, sizeof(ss->why), "the server sent more than %zu bytes "
			 "in one session (TC_LIMIT_SMTP_READ), connection closed",
			 TC_LIMIT_SMTP_READ + (size_t)ss->n * TC_LIMIT_SMTP_READ_PER_MSG);
	tc_email_read_cap(0);
	pthread_mutex_lock(&p->lock);
	if (p->aborted)
		snprintf(ss->why, sizeof(ss->why), "%s", ABORTED);
	pthread_mutex_unlock(&p->lock);
report:
	ss->err = err[0] ? err : NULL;
	for (i = 0; i < ss->n; i++) {
		if (ss->reported[i])
			continue;
		it = ss->item[i];
		it->o.kind = TC_OUT_TRANSIENT;
		it->o.status = 0;
		it->o.retry_after_ms = -1;
		snprintf(it->o.provider, sizeof(it->o.provider), "%s", c->server);
		snprintf(it->o.detail, sizeof(it->o.detail), "%s",
			 ss->why[0] ? ss->why : err[0] ? err : "not sent");
	}
	if (started) {
		smtp_enumerate_messages(s, message_walk, ss);
		put_back_untouched(ss);
	}
	for (i = 0; i < ss->n; i++) {
		if (ss->reported[i])
			continue;
		*tail = ss->item[i];
		tail = &ss->item[i]->next;
	}
	*tail = NULL;
	if (rest)
		hand_back(p, rest, tail);
	if (s)
		smtp_destroy_session(s);
	if (auth)
		auth_destroy_context(auth);
	SSL_CTX_free(ctx);
	free(ss);
}

/* ---- the pool ------------------------------------------------------------------- */

/* Appends the list first..(*last_next) to the results and wakes the loop. */
static void hand_back(struct tc_email_pool *p, struct tc_email_item *first,
		      struct tc_email_item **last_next)
{
	pthread_mutex_lock(&p->lock);
	*p->results_tail = first;
	p->results_tail = last_next;
	pthread_mutex_unlock(&p->lock);
	/* uv_async_send may be called from any thread; the handle lives
	 * until every worker was joined. */
	uv_async_send(p->async);
}

/* Puts the list first..(*last_next) back at the front of the queue. */
static void requeue(struct tc_email_pool *p, struct tc_email_item *first,
		    struct tc_email_item **last_next)
{
	pthread_mutex_lock(&p->lock);
	if (p->aborted) {
		pthread_mutex_unlock(&p->lock);
		hand_back(p, first, last_next);
		return;
	}
	*last_next = p->queue;
	if (!p->queue)
		p->queue_tail = last_next;
	p->queue = first;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

/* Takes everything queued, up to TC_EMAIL_BATCH, off the queue (locked). */
static struct tc_email_item *take_batch(struct tc_email_pool *p)
{
	struct tc_email_item *batch = p->queue, *last = NULL, *it = p->queue;
	unsigned n = 0;

	while (it && n < TC_EMAIL_BATCH) {
		last = it;
		it = it->next;
		n++;
	}
	if (!last)
		return NULL;
	last->next = NULL;
	p->queue = it;
	if (!it)
		p->queue_tail = &p->queue;
	return batch;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct tc_email_pool *p = w->pool;
	struct tc_email_item *batch;
	struct tc_email_conf *c;

	tc_email_nodelay(true);
	tc_email_sock_watch(&w->sock);
	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!p->queue && !p->stop && w->idx < p->want)
			pthread_cond_wait(&p->cond, &p->lock);
		if (w->idx >= p->want || (p->stop && !p->queue))
			break;
		batch = take_batch(p);
		c = p->conf;
		__atomic_add_fetch(&c->refs, 1, __ATOMIC_RELAXED);
		pthread_mutex_unlock(&p->lock);

		run_session(p, c, batch);

		pthread_mutex_lock(&p->lock);
		tc_email_conf_unref(c);
	}
	w->exited = true;
	pthread_mutex_unlock(&p->lock);
	tc_email_sock_watch(NULL);
	return NULL;
}

/* On the loop: hands each finished item to done. */
static void on_results(uv_async_t *a)
{
	struct tc_email_pool *p = a->data;
	struct tc_email_item *list, *it;

	pthread_mutex_lock(&p->lock);
	list = p->results;
	p->results = NULL;
	p->results_tail = &p->results;
	pthread_mutex_unlock(&p->lock);
	while (list) {
		it = list;
		list = it->next;
		it->next = NULL;
		p->outstanding--;
		p->done(p->arg, it);
	}
	/* An idle pool does not keep the loop alive. */
	if (p->outstanding == 0)
		uv_unref((uv_handle_t *)p->async);
}

/* Joins the workers that left (locked on entry and exit). */
static void reap(struct tc_email_pool *p)
{
	unsigned i;

	for (i = 0; i < MAX_WORKERS; i++) {
		if (!p->w[i].running || !p->w[i].exited)
			continue;
		pthread_mutex_unlock(&p->lock);
		pthread_join(p->w[i].thread, NULL);
		pthread_mutex_lock(&p->lock);
		p->w[i].running = false;
		p->w[i].exited = false;
	}
}

/* Starts workers 0..want-1 that are not running (locked). */
static int spawn(struct tc_email_pool *p)
{
	unsigned i;

	for (i = 0; i < p->want && i < MAX_WORKERS; i++) {
		if (p->w[i].running)
			continue;
		p->w[i].pool = p;
		p->w[i].idx = i;
		p->w[i].exited = false;
		if (pthread_create(&p->w[i].thread, NULL, worker_main, &p->w[i]) != 0)
			return -ENOMEM;
		p->w[i].running = true;
	}
	return 0;
}

static void pool_stop(struct tc_email_pool *p);

struct tc_email_pool *tc_email_pool_new(uv_loop_t *loop, struct tc_email_conf *conf,
					unsigned sessions,
					void (*done)(void *arg, struct tc_email_item *it),
					void *arg)
{
	struct tc_email_pool *p = calloc(1, sizeof(*p));
	unsigned i;

	if (!p)
		return NULL;
	p->async = calloc(1, sizeof(*p->async));
	if (!p->async || uv_async_init(loop, p->async, on_results) < 0) {
		free(p->async);
		free(p);
		return NULL;
	}
	p->async->data = p;
	uv_unref((uv_handle_t *)p->async);
	p->loop = loop;
	p->done = done;
	p->arg = arg;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	for (i = 0; i < MAX_WORKERS; i++) {
		pthread_mutex_init(&p->w[i].sock.lock, NULL);
		p->w[i].sock.fd = -1;
	}
	p->queue_tail = &p->queue;
	p->results_tail = &p->results;
	p->conf = conf;
	__atomic_add_fetch(&conf->refs, 1, __ATOMIC_RELAXED);
	p->want = sessions;
	pthread_mutex_lock(&p->lock);
	if (spawn(p) < 0) {
		pthread_mutex_unlock(&p->lock);
		pool_stop(p); /* maybe inside a loop callback: no uv_run */
		free(p);
		return NULL;
	}
	pthread_mutex_unlock(&p->lock);
	return p;
}

int tc_email_pool_set(struct tc_email_pool *p, struct tc_email_conf *conf,
		      unsigned sessions)
{
	int r;

	pthread_mutex_lock(&p->lock);
	__atomic_add_fetch(&conf->refs, 1, __ATOMIC_RELAXED);
	tc_email_conf_unref(p->conf);
	p->conf = conf;
	p->want = sessions;
	/* Workers past the new count leave when idle; they are joined here
	 * on a later reload or when the pool is freed. */
	pthread_cond_broadcast(&p->cond);
	reap(p);
	r = spawn(p);
	pthread_mutex_unlock(&p->lock);
	return r;
}

void tc_email_pool_push(struct tc_email_pool *p, struct tc_email_item *it)
{
	it->next = NULL;
	if (p->outstanding++ == 0)
		uv_ref((uv_handle_t *)p->async);
	pthread_mutex_lock(&p->lock);
	*p->queue_tail = it;
	p->queue_tail = &it->next;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

void tc_email_pool_abort(struct tc_email_pool *p)
{
	struct tc_email_item *list, *it, **tail;
	char server[sizeof(it->o.provider)];
	unsigned i;

	pthread_mutex_lock(&p->lock);
	p->stop = p->aborted = true;
	snprintf(server, sizeof(server), "%s", p->conf->server);
	list = p->queue;
	p->queue = NULL;
	p->queue_tail = &p->queue;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	for (i = 0; i < MAX_WORKERS; i++)
		tc_email_sock_cut(&p->w[i].sock);
	tail = &list;
	for (it = list; it; it = it->next) {
		it->o.kind = TC_OUT_TRANSIENT;
		it->o.retry_after_ms = -1;
		snprintf(it->o.provider, sizeof(it->o.provider), "%s", server);
		snprintf(it->o.detail, sizeof(it->o.detail), "%s", ABORTED);
		tail = &it->next;
	}
	if (list)
		hand_back(p, list, tail);
}

static void async_closed(uv_handle_t *h)
{
	free(h);
}

/* Stops and joins the workers and closes the async handle; the loop frees
 * it when it next runs. */
static void pool_stop(struct tc_email_pool *p)
{
	unsigned i;

	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	for (i = 0; i < MAX_WORKERS; i++)
		if (p->w[i].running)
			pthread_join(p->w[i].thread, NULL);
	/* The loop ran until nothing was outstanding (the handle is
	 * referenced while something is): this hands over nothing, unless
	 * tocsind stopped abnormally, and then no item is lost. */
	if (p->results)
		on_results(p->async);
	uv_close((uv_handle_t *)p->async, async_closed);
	tc_email_conf_unref(p->conf);
	for (i = 0; i < MAX_WORKERS; i++)
		pthread_mutex_destroy(&p->w[i].sock.lock);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
}

void tc_email_pool_free(struct tc_email_pool *p)
{
	uv_loop_t *loop;

	if (!p)
		return;
	loop = p->loop;
	pool_stop(p);
	free(p);
	(void)uv_run(loop, UV_RUN_NOWAIT); /* the handle's close */
}
