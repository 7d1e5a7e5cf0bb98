/*
 * The SMS providers behind one interface: each kind (twilio, vonage, http)
 * builds the HTTP request for a message and reads the provider's answer
 * into an outcome; a later slot reads its status callbacks. The SMS
 * channel (channels/sms.c) picks the provider, rates and fails over; it
 * never looks inside a request or an answer.
 *
 * Reading an answer is a pure function of the status and the body's bytes
 * (tc_sms_twilio_classify, tc_sms_vonage_classify, tc_sms_http_classify),
 * so it is unit-tested and fuzzed without a network.
 */
#ifndef TC_CHANNELS_SMS_PROVIDER_H
#define TC_CHANNELS_SMS_PROVIDER_H

#include <stdbool.h>
#include <stddef.h>

#include <curl/curl.h>

#include "channels/channels.h"

/* How long a provider that says "throttled" in its answer (Vonage status
 * 1), without a Retry-After, is held back. */
#define TC_SMS_THROTTLE_MS 1000

/* One message as a provider is asked to send it. Borrowed for the call. */
struct tc_sms_out {
	const char *to;             /* E.164, "+15550100" */
	const char *text;           /* UTF-8, fitted to max_segments */
	size_t text_len;
	bool ucs2;                  /* the text needs UCS-2 */
	const char *callback;       /* the status callback URL, or NULL */
	const struct tc_tpl *body;  /* http: the body template, compiled once
				     * (tc_sms_http_body); NULL: it did not
				     * compile */
};

/* A request built for one message; everything owned (tc_sms_req_release). */
struct tc_sms_req {
	char *url;
	const char *method;         /* NULL: POST; static text */
	struct tc_buf body;
	struct curl_slist *headers;
	char *userpwd;              /* "user:password" (a secret), or NULL */
};

void tc_sms_req_init(struct tc_sms_req *q);
void tc_sms_req_release(struct tc_sms_req *q);

/* What an answer reads as; o->provider is the caller's. A transient
 * outcome with retry_after_ms > 0 holds the provider back that long. */
typedef void (*tc_sms_classify_fn)(const struct tc_sms_provider *p, long status,
				   const char *body, size_t len,
				   struct tc_outcome *o);

struct tc_sms_kind_ops {
	/* Builds p's request for m into q (initialised). Returns 0, or
	 * TC_ELIMIT / TC_EINVAL with why (never a secret), or -ENOMEM. */
	int (*build)(const struct tc_sms_provider *p, const struct tc_sms_out *m,
		     struct tc_sms_req *q, char *why, size_t n);
	tc_sms_classify_fn classify;
	/* Verifies and reads a status callback (tc_chan_receipt); NULL:
	 * this kind takes none (http). */
	int (*receipt)(const struct tc_sms_provider *p, const struct tc_receipt_in *in,
		       struct tc_receipt *out, char *why, size_t n);
	/* Verifies and reads an inbound message (tc_chan_inbound); NULL:
	 * this kind takes none. */
	int (*inbound)(const struct tc_sms_provider *p, const struct tc_receipt_in *in,
		       struct tc_inbound *out, char *why, size_t n);
};

/* Compiles a generic gateway's body template into *out. Returns 0, or a
 * negative code with why (the template's line and error). */
int tc_sms_http_body(const struct tc_sms_provider *p, struct tc_tpl **out,
		     char *why, size_t n);

extern const struct tc_sms_kind_ops tc_sms_twilio_ops, tc_sms_vonage_ops,
	tc_sms_http_ops;

/* The pure answer readers (p: the provider's configuration; only the
 * generic gateway reads it, for success and message_id). */
void tc_sms_twilio_classify(const struct tc_sms_provider *p, long status,
			    const char *body, size_t len, struct tc_outcome *o);
void tc_sms_vonage_classify(const struct tc_sms_provider *p, long status,
			    const char *body, size_t len, struct tc_outcome *o);
void tc_sms_http_classify(const struct tc_sms_provider *p, long status,
			  const char *body, size_t len, struct tc_outcome *o);

/* ---- receipts ------------------------------------------------------------ */
/* A form body's fields, decoded (form.c). */
struct tc_sms_form {
	const char *name[TC_LIMIT_RECEIPT_FIELDS], *value[TC_LIMIT_RECEIPT_FIELDS];
	size_t n;
	char *store;                /* owned: the decoded bytes */
};
/* Reads the len bytes of body into f. Returns 0, TC_EINVAL (a bad
 * %-escape or a NUL byte), TC_ELIMIT (more than TC_LIMIT_RECEIPT_FIELDS
 * fields) or -ENOMEM; release f in every case. */
int tc_sms_form_read(const char *body, size_t len, struct tc_sms_form *f);
/* The first value of field name, or NULL. */
const char *tc_sms_form_value(const struct tc_sms_form *f, const char *name);
void tc_sms_form_release(struct tc_sms_form *f);
/* Twilio's X-Twilio-Signature of a request to url with form f, keyed with
 * auth_token, into out (n >= 29). Returns 0, TC_ELIMIT or -ENOMEM. */
int tc_sms_twilio_signature(const char *auth_token, const char *url,
			    const struct tc_sms_form *f, char *out, size_t n);
/* The pure receipt readers of tc_sms_kind_ops.receipt. */
int tc_sms_twilio_receipt(const struct tc_sms_provider *p, const struct tc_receipt_in *in,
			  struct tc_receipt *out, char *why, size_t n);
/* Twilio's inbound message webhook, verified as its status callbacks
 * (X-Twilio-Signature): From and Body. Returns 0, or TC_EINVAL /
 * TC_ELIMIT / -ENOMEM with why. Pure. */
int tc_sms_twilio_inbound(const struct tc_sms_provider *p, const struct tc_receipt_in *in,
			  struct tc_inbound *out, char *why, size_t n);
int tc_sms_vonage_receipt(const struct tc_sms_provider *p, const struct tc_receipt_in *in,
			  struct tc_receipt *out, char *why, size_t n);
/* How far from now (seconds, either way) the signed timestamp of a
 * Vonage inbound message may be: older is taken for a replay. */
#define TC_VONAGE_SIG_MAX_SKEW_S 300
/* The hex signature (lowercase) Vonage's signed webhooks carry as sig,
 * over every field of f but sig, by method, keyed with secret, into out
 * (n >= 129). Returns 0, TC_ELIMIT or -ENOMEM. Pure. */
int tc_sms_vonage_signature(const char *secret, enum tc_vonage_sig method,
			    const struct tc_sms_form *f, char *out, size_t n);
/* Vonage's inbound-sms webhook (JSON, form, or a GET's query), verified
 * by its sig (p->signature_secret; none: refused) and timestamp
 * (in->now_s): msisdn and text. Returns 0, or TC_EINVAL / TC_ELIMIT /
 * -ENOMEM with why. Pure. */
int tc_sms_vonage_inbound(const struct tc_sms_provider *p, const struct tc_receipt_in *in,
			  struct tc_inbound *out, char *why, size_t n);

/* The budget of channels.sms.max_per_job (budget.c; see tc_chan_ops'
 * budget_ operations). */
int tc_sms_budget_new(const struct tc_cfg *cfg, const struct tc_tpl_store *store,
		      const struct tc_job *job, void **state);
int tc_sms_budget_add(void *state, const char *group, unsigned group_ch,
		      const struct tc_member *m, bool keep, struct tc_diag *d);
int tc_sms_budget_end(void *state, struct tc_diag *d);
void tc_sms_budget_free(void *state);

/* ---- credentials kept out of answers (redact.c) ----------------------------- */
/* Appends to out each form in which p's credentials travel, each ended by
 * a NUL: the auth token (and for Twilio the Basic credentials carrying it,
 * base64 of "sid:token"), the api_secret and its form encoding, and each
 * credential header's value and its last word ("Bearer xyz": "xyz").
 * Returns 0, -ENOMEM or TC_ELIMIT (out's bound). */
int tc_sms_credentials(const struct tc_sms_provider *p, struct tc_buf *out);
/* Overwrites with '*' every occurrence in buf's len bytes of each of the
 * NUL-ended strings in creds' creds_len bytes. Returns how many. */
size_t tc_sms_redact(char *buf, size_t len, const char *creds, size_t creds_len);

/* ---- shared by the providers (common.c) -------------------------------------- */
/* Appends len bytes of s percent-encoded (all but A-Z a-z 0-9 - . _ ~). */
int tc_sms_form_escape(struct tc_buf *b, const char *s, size_t len);
/* Appends "name=value" (with '&' before it unless b is empty), both
 * encoded as application/x-www-form-urlencoded. */
int tc_sms_form_add(struct tc_buf *b, const char *name, const char *value,
		    size_t len);
/* The length of a base URL without its trailing slashes: paths are
 * appended to it. */
size_t tc_sms_base_len(const char *base);
/* The classification of an HTTP status that says nothing else: 408, 425,
 * 429 and 5xx are transient, other statuses permanent. Fills kind and a
 * detail "http N" (with what, when not NULL: "http 400: what"). */
void tc_sms_status_outcome(long status, const char *what, struct tc_outcome *o);
/* Copies a JSON scalar (string or integer) at ptr (a JSON pointer) in
 * root into out as text, escaped for logs; false when absent or not one. */
bool tc_sms_json_text(const json_t *root, const char *ptr, char *out, size_t n);
/* The value at JSON pointer ptr (RFC 6901) in root, or NULL. */
json_t *tc_sms_json_at(const json_t *root, const char *ptr);
/* The status callback URL of a delivery (DESIGN.md):
 * <public_url>/receipts/<provider>/<token>, the token the delivery's
 * acknowledgement token (tc_token_make), appended to out. Returns 0,
 * TC_EINVAL (ids a token cannot name), TC_ELIMIT or -ENOMEM. */
int tc_sms_callback_url(const char *public_url, const char *secret,
			const char *provider, const char *job_id,
			const char *delivery_id, struct tc_buf *out);
/* A short, printable, quoted sample of an answer body for a detail:
 * "'{\"a\":...'" (at most n bytes with its NUL). */
void tc_sms_body_sample(const char *body, size_t len, char *out, size_t n);

#endif
