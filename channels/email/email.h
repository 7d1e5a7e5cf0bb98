/*
 * The email channel's own parts (channels/email/ only): composing the
 * RFC 5322 message (mime.c), classifying SMTP replies (classify.c), the
 * worker threads that run libesmtp sessions (worker.c) and TCP_NODELAY on
 * their sockets (nodelay.c). channel.c fills the table of operations.
 */
#ifndef TC_CHANNELS_EMAIL_H
#define TC_CHANNELS_EMAIL_H

#include <pthread.h>
#include <stdbool.h>

#include "channels/internal.h"

/* ---- composing (mime.c) ---------------------------------------------------- */
/* Builds v's whole message, headers and MIME body, into msg->wire (CRLF
 * line ends, not dot-stuffed: libesmtp does that on the wire) from the
 * rendered parts in msg->part[] and cfg->email, with GMime. Date is now.
 * Returns 0, or TC_ELIMIT / TC_EINVAL with why. */
int tc_email_mime(const struct tc_email_cfg *cfg, const struct tc_chan_dlv *v,
		  struct tc_msg *msg, char *why, size_t n);
/* The Message-ID of thread root of (incident, recipient address) in the
 * sender's domain, without the angle brackets, into out (n bytes): two
 * hashes, so every message about one incident to one recipient points at
 * the same root without a lookup. */
void tc_email_thread_root(const char *incident, const char *address,
			  const char *domain, char *out, size_t n);

/* ---- SMTP replies (classify.c) --------------------------------------------- */
/* One reply as libesmtp reports it. text is the server's, untrusted and
 * possibly NULL. */
struct tc_smtp_reply {
	int code;                   /* 0: none came (connection broke, timeout) */
	int enh_class, enh_subject, enh_detail; /* enhanced status; 0 when absent */
	const char *text;
};

/* Where in the exchange a reply (or its absence) came. */
enum tc_smtp_stage {
	TC_SMTP_SESSION,            /* connecting, greeting, EHLO, STARTTLS, AUTH */
	TC_SMTP_ENVELOPE,           /* MAIL FROM, RCPT TO */
	TC_SMTP_DATA,               /* DATA, before the final dot was written */
	TC_SMTP_AFTER_DOT,          /* the final dot was written */
};

/*
 * Turns one reply into an outcome: 2xx sent (the server's queue id from
 * "queued as X" as provider_id), 4xx and no reply transient, 5xx permanent
 * with the code, enhanced status and the server's text (escaped, cut to
 * fit o->detail) as the reason. No reply after the final dot is transient
 * and says it is ambiguous. Returns true when the reply asks the sender
 * to slow down (421, 454 or 451 with 4.7.x, or the word throttl/rate in a
 * 4xx), so the channel's bucket waits. A pure function of its arguments:
 * fuzz it freely.
 */
bool tc_smtp_classify(const struct tc_smtp_reply *r, enum tc_smtp_stage stage,
		      struct tc_outcome *o);

/* ---- the workers' sockets (socket.c) ---------------------------------------- */
/* Makes every TCP connect(2) of the calling thread set TCP_NODELAY first
 * (on: true), through tocsin's own connect in front of libc's. Only the
 * email workers turn it on. */
void tc_email_nodelay(bool on);

/* The socket of one worker's session, so that another thread can cut it:
 * libesmtp shows its socket to no one, and waits up to its timeouts. */
struct tc_email_sock {
	pthread_mutex_t lock;       /* guards fd and cut */
	int fd;                     /* connected or connecting; -1: none */
	bool cut;                   /* no connection from now on */
};
/* Records the calling thread's sockets in s from now on (NULL: no
 * longer): its connect(2) sets s->fd (or fails with ECANCELED once s is
 * cut), its close(2) of that fd clears it, both through tocsin's own
 * connect and close in front of libc's. */
void tc_email_sock_watch(struct tc_email_sock *s);
/* From any thread: shuts the watched socket down, so the session's next
 * read or write fails at once, and refuses its thread any new connection. */
void tc_email_sock_cut(struct tc_email_sock *s);

/* ---- a bound on what a session reads (readcap.c) ----------------------------- */
/* From now on the calling thread's reads may bring in bytes in all (0: no
 * bound again); past them a read fails with EMSGSIZE. */
void tc_email_read_cap(size_t bytes);
/* Whether a read of this thread failed on the bound since the last
 * tc_email_read_cap. */
bool tc_email_read_capped(void);

/* ---- the workers (worker.c) ------------------------------------------------- */
/* What a session needs of channels.email, copied so a reload may free the
 * configuration while a session runs. Shared by reference. */
struct tc_email_conf {
	unsigned refs;              /* atomic: the loop and the workers each
				     * drop theirs, under no common lock */
	char *server;               /* "host:port" */
	enum tc_starttls starttls;
	char *ca_file;              /* NULL: the system's */
	char *username, *password;  /* NULL: no AUTH */
	uint64_t timeout_ms;        /* each wait for the server */
};

/* One message to send. The wire bytes are borrowed from the delivery's
 * tc_msg, which lives until cb ran. */
struct tc_email_item {
	struct tc_email_item *next;
	const char *wire;
	size_t wire_len;
	char rcpt[TC_LIMIT_ADDRESS + 1];
	char sender[TC_LIMIT_ADDRESS + TC_DELIVERY_ID_LEN + 1];
	tc_chan_cb cb;
	void *data;
	bool given;                 /* libesmtp has the wire (worker only) */
	bool data_done;             /* libesmtp read the whole message: the
				     * final dot went (or goes) out */
	bool throttled;             /* the answer asked to slow down */
	struct tc_outcome o;        /* filled by the worker */
};

struct tc_email_pool;

/* sessions worker threads on loop, each sending batches of at most
 * TC_EMAIL_BATCH queued messages over one connection; done runs on the
 * loop thread for each finished item (it takes the item). NULL when out
 * of memory or a thread could not start. */
struct tc_email_pool *tc_email_pool_new(uv_loop_t *loop, struct tc_email_conf *conf,
					unsigned sessions,
					void (*done)(void *arg, struct tc_email_item *it),
					void *arg);
/* Takes conf (a new reference) for sessions started from now, and runs
 * sessions workers (starting or retiring threads). Returns 0 or -ENOMEM
 * (then conf was not taken). */
int tc_email_pool_set(struct tc_email_pool *p, struct tc_email_conf *conf,
		      unsigned sessions);
/* Queues it (taken) for a worker. */
void tc_email_pool_push(struct tc_email_pool *p, struct tc_email_item *it);
/* Ends everything at once (tc_chan_stop): the queue is handed back and
 * each session's socket cut, every message not finished coming back
 * transient "aborted: shutting down"; no session starts from now on. */
void tc_email_pool_abort(struct tc_email_pool *p);
/* Stops the workers once the queue is empty, joins them, and frees the
 * pool. Called with the loop no longer running (tocsind's exit): it runs
 * the loop once more to close its handle. Accepts NULL. */
void tc_email_pool_free(struct tc_email_pool *p);

void tc_email_conf_unref(struct tc_email_conf *c);

/* Messages one connection carries before the session quits and a new one
 * starts (libesmtp sends a session's queued messages, then QUITs). */
#define TC_EMAIL_BATCH 200

#endif
