/*
 * channels: the ways a message leaves tocsin, behind one interface, and
 * the HTTP client they share.
 *
 * A channel (email, sms, webhook) composes a delivery's message from the
 * template store, sends it, and reports exactly one outcome. The
 * dispatcher holds a struct tc_chan per configured channel and drives it
 * through the functions below without knowing which channel it is; each
 * channel is one file that fills a table of operations (channels/internal.h),
 * so adding one touches no caller. `tocsin preview` composes with the same
 * code, so a preview is byte for byte what is sent.
 *
 * Everything that sends runs on the libuv loop thread and never blocks it;
 * composing reads nothing but the store and may run on any thread.
 */
#ifndef TC_CHANNELS_H
#define TC_CHANNELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>
#include <uv.h>

#include "common/common.h"
#include "config/config.h"
#include "templates/templates.h"

/* ---- outcomes ------------------------------------------------------------ */
enum tc_outcome_kind {
	TC_OUT_DELIVERED, /* the destination took it (webhook 2xx) */
	TC_OUT_SENT,      /* the next hop accepted it (SMTP 250, SMS provider) */
	TC_OUT_TRANSIENT, /* worth another attempt, maybe after retry_after_ms */
	TC_OUT_PERMANENT, /* never worth another attempt */
};

/* What one attempt came to. detail is human text without secrets, such as
 * "http 503" or "connect timeout after 3000 ms". */
struct tc_outcome {
	enum tc_outcome_kind kind;
	long status;                /* protocol status (HTTP code), or 0 */
	int64_t retry_after_ms;     /* from Retry-After, or -1 */
	char detail[256];
	char provider[64];          /* e.g. "webhook" or a provider's name */
	char provider_id[128];      /* the provider's message id, or "" */
	bool again;                 /* TRANSIENT, and another route (an SMS
				     * provider) is left in this round: send
				     * again at once, without backoff */
	unsigned segments;          /* the parts a text went as (SMS), or 0 */
	const char *encoding;       /* ... and their encoding ("gsm7", "ucs2"),
				     * static text, or NULL */
};

/* Called once per send, on the loop thread. o is borrowed for the call. */
typedef void (*tc_chan_cb)(void *data, const struct tc_outcome *o);

/* Reports o to cb on the next turn of the loop: for outcomes known before
 * anything was sent. Returns 0 or -ENOMEM (then cb is never called). */
int tc_chan_defer(uv_loop_t *loop, tc_chan_cb cb, void *data,
		  const struct tc_outcome *o);

/* ---- a composed message -------------------------------------------------- */
/* The parts a channel composed for one delivery: each template part it
 * uses, rendered for the member (an SMS text fitted to max_segments; a
 * webhook body either the rendered webhook.json or the JSON envelope).
 * Owned by whoever initialised it. */
struct tc_msg {
	struct tc_buf part[TC_PART_COUNT]; /* data NULL: the channel has no such part */
	const char *source[TC_PART_COUNT]; /* the template file each came from
					    * (borrowed from the store), or NULL
					    * when the channel made it (envelope) */
	const char *note[TC_PART_COUNT];   /* static text on a part the channel
					    * made, or on an optional part the
					    * template lacks (for preview) */
	struct tc_buf wire;         /* email: the whole RFC 5322 message as
				     * handed to libesmtp (CRLF line ends) */
	int failed;                 /* the part a failed compose stopped at, or -1 */
	unsigned units;             /* what the channel's rate counts: webhook
				     * requests, email messages, SMS segments */
	struct tc_sms_info sms;     /* an SMS text's encoding and segments */
};

void tc_msg_init(struct tc_msg *m);
/* Frees the parts; m may be initialised again. */
void tc_msg_release(struct tc_msg *m);

/* What a channel with several routes (SMS providers in failover order)
 * keeps of one delivery between its calls: opaque to the dispatcher, which
 * keeps it with the delivery (tc_chan_route_init when planned) and starts
 * it again when an outcome ends a round (again false). */
struct tc_chan_route {
	uint32_t tried;             /* bit i: route i was tried in this round */
	int next;                   /* the route next_at reserved for, or -1 */
};

static inline void tc_chan_route_init(struct tc_chan_route *r)
{
	r->tried = 0;
	r->next = -1;
}

/* A delivery as a channel sees it. Everything is borrowed for the call:
 * a channel copies what it keeps (a message is borrowed until the send's
 * callback ran). */
struct tc_chan_dlv {
	const char *id;             /* the delivery id */
	const struct tc_job *job;
	const char *group;          /* "" for the job's own recipients */
	const struct tc_member *member;
	const char *address;        /* the member's address on this channel */
	const char *vars_json;      /* the job's vars as compact JSON */
	struct tc_chan_route *route; /* the delivery's, for next_at and send */
};

/* ---- the channel interface ------------------------------------------------- */
struct tc_chan;
struct tc_http;

/* What a live channel needs of the daemon. */
struct tc_chan_env {
	uv_loop_t *loop;
	struct tc_http *http;       /* the shared HTTP client */
};

/* How far a channel lets the dispatcher go, from the configuration. */
struct tc_chan_limits {
	bool enabled;               /* configured (and implemented) */
	unsigned concurrency;       /* sends under way at once */
	struct tc_retry_cfg retry;
};

/* The limits of channel c under cfg (enabled false for a channel that is
 * not configured, or that this build cannot send yet). */
struct tc_chan_limits tc_chan_limits(const struct tc_cfg *cfg, enum tc_channel c);
/* The TC_CH_BIT mask of channels that can send under cfg. */
unsigned tc_chan_available(const struct tc_cfg *cfg);
/* The TC_CH_BIT mask of channels cfg has a section for, sendable or not. */
unsigned tc_chan_configured(const struct tc_cfg *cfg);
/* The shared HTTP client's connection caps under cfg: in all, and to one
 * host (the largest any HTTP channel asks for). */
void tc_chan_http_caps(const struct tc_cfg *cfg, unsigned *total, unsigned *per_host);
/* The template parts channel c composes (TC_PART bits, 1u << part), and
 * of those the ones a template must have. */
unsigned tc_chan_parts(enum tc_channel c);
unsigned tc_chan_parts_required(enum tc_channel c);

/* Whether composing v's message on channel c may read name from the
 * render data (tc_tpl_uses of each part it renders for v's group): when
 * not, the caller need not compute it. */
bool tc_chan_uses(enum tc_channel c, const struct tc_tpl_store *store,
		  const struct tc_chan_dlv *v, const char *name);

/* Composes v's message on channel c into msg (initialised by the caller):
 * the template's parts for v's group rendered over data (the render data
 * with v's member set). Returns 0; TC_EINVAL or TC_ELIMIT with why (n
 * bytes) saying what failed, a permanent failure of the delivery. */
int tc_chan_compose(enum tc_channel c, const struct tc_cfg *cfg,
		    const struct tc_tpl_store *store, const struct tc_chan_dlv *v,
		    const json_t *data, struct tc_msg *msg, char *why, size_t n);

/* Whether template tpl has every part channel c needs (the template's
 * own parts: a group's override replaces a part, it does not make up for
 * a missing one). Returns 0, or TC_EINVAL with d (may be NULL) such as
 * "template: 'outage' has no part 'sms.txt' for channel 'sms'". */
int tc_chan_template_check(const struct tc_tpl_store *store, const char *tpl,
			   enum tc_channel c, struct tc_diag *d);
/* Whether job may be accepted under cfg: its groups exist, its channels
 * can send, its template exists with every part needed by the channels
 * its deliveries use (its inline members' and recipients' exactly; a
 * roster's, its group's channels), and the channels' budgets hold over
 * the members it names itself (SMS: channels.sms.max_per_job; roster rows
 * are counted by tocsind, see tc_chan_budget_new).
 * store NULL skips the template (a CLI whose templates do not load here).
 * Returns 0, or TC_EINVAL with d naming the field. The one check that
 * intake, `tocsin send` and `tocsin dead retry` make. */
int tc_chan_job_check(const struct tc_cfg *cfg, const struct tc_tpl_store *store,
		      const struct tc_job *job, struct tc_diag *d);

/* ---- budgets over a job's whole audience -------------------------------- */
/* What a channel allows one job at most (SMS: channels.sms.max_per_job
 * segments), counted over every member before anything of the job is
 * sent: tc_chan_job_check counts the members the job names itself; tocsind
 * counts again over rosters too before it accepts a job with one. */
struct tc_chan_budget;

/* The budgets of the channels job may use under cfg (store and job
 * borrowed for the budget's life) in *b, NULL when none keeps one for it.
 * Returns 0 or -ENOMEM. */
int tc_chan_budget_new(const struct tc_cfg *cfg, const struct tc_tpl_store *store,
		       const struct tc_job *job, struct tc_chan_budget **b);
/* Counts member m of group (group_ch its channels; "" and TC_CH_ALL for a
 * job's recipient), borrowed for the call. keep: the budget may remember
 * m's addresses so that the same address later is not counted again
 * (members of bounded lists only: never roster rows, which are counted
 * each, an upper bound). Returns 0, or TC_EINVAL (a message of m cannot
 * be composed: the send would fail) or -ENOMEM, with d. */
int tc_chan_budget_add(struct tc_chan_budget *b, const char *group, unsigned group_ch,
		       const struct tc_member *m, bool keep, struct tc_diag *d);
/* Whether what was counted fits every budget: 0, or TC_EINVAL with d
 * saying the count and the limit. */
int tc_chan_budget_end(struct tc_chan_budget *b, struct tc_diag *d);
/* Accepts NULL. */
void tc_chan_budget_free(struct tc_chan_budget *b);

/* What the channels check of cfg beyond the configuration's own rules,
 * with their code (an SMS gateway's body template compiles). Adds each
 * error to ds (the configuration file, the key's path). Returns 0 or
 * TC_EINVAL. Called where the configuration and templates are loaded:
 * tocsind's start and reload, `tocsin check-config`. */
int tc_chan_cfg_check(const struct tc_cfg *cfg, struct tc_diags *ds);

/* A live channel c sending under cfg (borrowed: it must outlive the
 * channel, or be replaced with tc_chan_set_cfg first). NULL when out of
 * memory or c is not enabled under cfg. */
struct tc_chan *tc_chan_new(enum tc_channel c, const struct tc_chan_env *env,
			    const struct tc_cfg *cfg);
/* Switches to a new configuration (reload); sends under way keep what
 * they need of the old one. Rate state is kept where the rate is the same.
 * Returns 0 or -ENOMEM (then the old configuration stays). */
int tc_chan_set_cfg(struct tc_chan *ch, const struct tc_cfg *cfg);
/* When v's message may go, as far as rates and a peer's "not before" say
 * (a per-host or per-provider token bucket, a Retry-After): now when it
 * may go now, else a later time in ms. The units it takes are reserved
 * for that time, so asking once per message is enough. */
int64_t tc_chan_next_at(struct tc_chan *ch, const struct tc_chan_dlv *v,
			const struct tc_msg *msg, int64_t now);
/* Sends msg for v; cb runs once, later, on the loop (never from inside
 * this call) with the outcome. Returns 0, or a negative code (then cb is
 * never called). */
int tc_chan_send(struct tc_chan *ch, const struct tc_chan_dlv *v,
		 const struct tc_msg *msg, tc_chan_cb cb, void *data);
/* A provider's status callback as it arrived (the listener hands it over).
 * Everything is borrowed for the call. */
struct tc_receipt_in {
	const char *provider;       /* the provider's name, from the URL */
	const char *url;            /* the full URL it came to (signatures) */
	const char *content_type;
	const char *body;
	size_t body_len;
	const char *const *headers; /* "name: value", as received */
	size_t n_headers;
	const char *query;          /* a GET's query string (after '?'), or
				     * NULL: a POST's fields are its body */
	int64_t now_s;              /* the time it came (Unix seconds), for
				     * a signed timestamp's freshness */
};

/* What a receipt says of one message. */
struct tc_receipt {
	char provider_message_id[TC_LIMIT_PROVIDER_ID + 1];
	enum tc_dstate state;       /* delivered, undelivered, or sent for a
				     * status on the way (queued, accepted) */
	char reason[TC_LIMIT_OUTCOME + 1]; /* the provider's, escaped later */
};

/* Turns a provider's status callback into a receipt: verifies it as the
 * provider documents (a signature keyed with its credentials) and reads
 * the message id and status. Returns 0 with out filled; TC_EINVAL with why
 * when it does not verify or parse (never applied); -ENOTSUP when the
 * channel takes no receipts. */
int tc_chan_receipt(struct tc_chan *ch, const struct tc_receipt_in *in,
		    struct tc_receipt *out, char *why, size_t n);
/* A message a member sent back (an SMS reply). */
struct tc_inbound {
	char from[17];              /* E.164, "+15550100" */
	char text[TC_LIMIT_RESPONSE_LABEL + 1]; /* the start of the text, raw:
				     * escape it before it goes anywhere */
};
/* Turns a provider's inbound message webhook (in, as a receipt's) into
 * who sent what, verified as the provider documents. Same returns as
 * tc_chan_receipt. */
int tc_chan_inbound(struct tc_chan *ch, const struct tc_receipt_in *in,
		    struct tc_inbound *out, char *why, size_t n);
/* tocsind's shutdown_grace is over: every send under way or queued in the
 * channel ends now, reported (soon, on the loop) as transient "aborted",
 * so that nothing keeps the loop running. Accepts NULL. */
void tc_chan_stop(struct tc_chan *ch);
/* Accepts NULL. Sends under way must have finished. */
/* Writes channel ch's own metric families (an SMS provider's circuit,
 * tokens and requests), from memory, to o; nothing for a channel that has
 * none. */
void tc_chan_metrics(struct tc_chan *ch, struct tc_mout *o);
void tc_chan_free(struct tc_chan *ch);

/* ---- tc_http: libcurl's multi_socket API on a libuv loop ----------------- */
struct tc_http;

/* Decides whether a connection may be made to sa (an address and port,
 * before connecting, and again before a request goes on a connection that
 * is reused). Returns true to allow. */
typedef bool (*tc_http_allow_fn)(void *data, const struct sockaddr *sa);

/* An address and port as text, "192.0.2.1:443" or "[2001:db8::1]:443",
 * with its NUL. */
#define TC_HTTP_ADDR_LEN 56

/* One request, a POST unless method says otherwise. Everything is
 * borrowed until the callback runs, but url, proxy, ca_file and userpwd,
 * which are copied. */
struct tc_http_req {
	const char *url;
	const char *method;         /* NULL: POST; else "PUT" (a body either way) */
	const char *userpwd;        /* "user:password" for HTTP basic
				       authentication, or NULL; a secret, never
				       logged */
	struct curl_slist *headers;
	const char *body;
	size_t body_len;
	uint64_t connect_timeout_ms;
	uint64_t timeout_ms;
	tc_http_allow_fn allow;     /* NULL: any address */
	void *allow_data;
	const char *proxy;          /* "http://host:port", or NULL: none (never
				       one from the environment). Through it,
				       the URL's host is resolved here and
				       checked with allow, and the proxy is
				       asked to CONNECT to the address that
				       passed; the proxy's own address is not
				       judged */
	const char *ca_file;        /* PEM CAs to trust instead of the
				       system's, or NULL: the system's. Peers
				       are verified either way (name, dates,
				       chain) */
};

struct tc_http_result {
	CURLcode code;              /* CURLE_OK when a response came */
	long status;                /* HTTP status, 0 without a response */
	bool refused;               /* allow() refused every address tried (no
				       connection was opened), or the
				       connection about to be reused */
	unsigned n_refused;         /* addresses allow() refused, even when
				       another then connected */
	const char *refused_addr;   /* the first of them, or "" */
	const char *peer;           /* the address that answered (through a
				       proxy: the one tunnelled to), or "" */
	int64_t retry_after_ms;     /* 0..TC_RETRY_AFTER_MAX_MS (tc_http_retry_after),
				     * -1 when absent or unreadable */
	const char *error;          /* curl's message when code != CURLE_OK */
	const char *body;           /* the first TC_LIMIT_RESPONSE_BODY bytes */
	size_t body_len;
};

typedef void (*tc_http_cb)(void *data, const struct tc_http_result *r);

/* A new client on loop: at most max_total connections, per_host to one
 * host (more transfers wait inside libcurl). NULL when out of memory or
 * libcurl could not start. */
struct tc_http *tc_http_new(uv_loop_t *loop, unsigned max_total,
			    unsigned per_host);
/* Starts a request (req->method); the callback runs later on the loop, never from inside
 * this call. Returns 0, or a negative code (then cb is never called). */
int tc_http_post(struct tc_http *h, const struct tc_http_req *req,
		 tc_http_cb cb, void *data);
/* Changes the connection caps (reload). */
void tc_http_set_caps(struct tc_http *h, unsigned max_total, unsigned per_host);
/* The loop the client runs on. */
uv_loop_t *tc_http_loop(const struct tc_http *h);
/* Aborts what is running (their callbacks run with CURLE_ABORTED_BY_CALLBACK)
 * and frees the client once its handles closed. Accepts NULL. */
void tc_http_free(struct tc_http *h);

/* ---- webhooks ---------------------------------------------------------------- */
/* A Standard Webhooks signer: HMAC-SHA256 keyed once with a decoded
 * whsec_ secret, so a signature costs the hashing of what it signs and
 * not the keying and fetching of a one-shot HMAC. One thread at a time. */
struct tc_webhook_signer;

/* A signer for key (key_len bytes, borrowed for the call); NULL if out of
 * memory or OpenSSL has no HMAC-SHA256. Free with tc_webhook_signer_free. */
struct tc_webhook_signer *tc_webhook_signer_new(const unsigned char *key,
						size_t key_len);
/* Frees s, wiping its key; accepts NULL. */
void tc_webhook_signer_free(struct tc_webhook_signer *s);
/* Computes the Standard Webhooks signature "v1,<base64>" of
 * "id.timestamp.body" into out (n >= TC_WEBHOOK_SIG_MAX); timestamp is the
 * decimal text the webhook-timestamp header carries, signed as written.
 * Returns 0, or -ENOMEM when OpenSSL failed (out is then ""). */
#define TC_WEBHOOK_SIG_MAX 64
int tc_webhook_sign(struct tc_webhook_signer *s, const char *id, const char *timestamp,
		    const char *body, size_t len, char *out, size_t n);

#endif
