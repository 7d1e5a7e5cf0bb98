/*
 * Provider receipts over HTTP (DESIGN.md, Receipts, acknowledgements,
 * metrics): POST /receipts/<provider name>/<token>, the status callback
 * URL the SMS channel put in its request.
 *
 * The token is verified first (it names the job and the delivery, so
 * nothing is looked up for a forged one); then the provider's own
 * verification and reading (tc_chan_receipt: Twilio's X-Twilio-Signature;
 * for Vonage, whose callbacks tocsin does not have signed, the token is
 * the verification); then the tracker applies it (tc_track_receipt). A
 * refused receipt is logged, quoted, and never applied.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dispatcher/dispatcher.h"

#define TEXT "text/plain; charset=utf-8"

/* One receipt waiting for Redis. */
struct rcpt_req {
	struct tc_exch *x;
	struct tc_disp *d;
	unsigned kind;
	char provider[TC_LIMIT_PROVIDER + 1];
	char job[TC_LIMIT_JOB_ID + 1];
	char dlv[TC_DELIVERY_ID_LEN + 1];
	struct tc_receipt rc;
};

static const char *const kind_names[TC_RCPT_KINDS] = { "twilio", "vonage", "http", "unknown" };

/* The kind of the provider called name, or TC_RCPT_KINDS - 1 (unknown). */
static unsigned provider_kind(const struct tc_cfg *cfg, const char *name)
{
	size_t i;

	for (i = 0; i < cfg->sms.n_providers; i++)
		if (strcmp(cfg->sms.providers[i].name, name) == 0)
			return cfg->sms.providers[i].kind == TC_SMS_TWILIO ? 0 :
			       cfg->sms.providers[i].kind == TC_SMS_VONAGE ? 1 : 2;
	return TC_RCPT_KINDS - 1;
}

static void reply(struct tc_exch *x, int status, const char *text)
{
	tc_exch_reply(x, status, TEXT, text, strlen(text));
}

static void applied(redisAsyncContext *ac, void *reply_, void *priv)
{
	struct rcpt_req *q = priv;
	redisReply *rep = reply_;
	const char *v;
	uint64_t *count = q->d->stats.receipts[q->kind];
	char qr[TC_LIMIT_LOG_VALUE + 16];

	(void)ac;
	if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
	    rep->element[0]->type != REDIS_REPLY_STRING ||
	    rep->element[1]->type != REDIS_REPLY_STRING) {
		count[TC_RCPT_FAILED]++;
		tc_log(TC_LOG_WARN, "receipt", "job=%s delivery=%s event=receipt-failed err=%s",
		       q->job, q->dlv, rep && rep->type == REDIS_REPLY_ERROR ?
		       tc_log_quote(qr, sizeof(qr), rep->str) : "\"redis unreachable\"");
		reply(q->x, 503, "try again\n"); /* the provider sends it again */
		goto out;
	}
	v = rep->element[0]->str;
	if (strcmp(v, "none") == 0 || strcmp(v, "expired") == 0) {
		count[TC_RCPT_GONE]++;
		reply(q->x, 410, "no such delivery any more\n");
		goto out;
	}
	count[strcmp(v, "moved") == 0 ? TC_RCPT_MOVED :
	      strcmp(v, "pending") == 0 ? TC_RCPT_PENDING : TC_RCPT_SKIPPED]++;
	tc_log(TC_LOG_INFO, "receipt", "job=%s delivery=%s event=receipt-%s provider=%s "
	       "state=%s from=%s", q->job, q->dlv, v, q->provider,
	       tc_dstate_name(q->rc.state), tc_log_quote(qr, sizeof(qr), rep->element[1]->str));
	reply(q->x, 200, "ok\n");
out:
	free(q);
}

/* The full URL the provider requested: public_url (without its trailing
 * slashes) and the request target, as Twilio signs it. */
static int full_url(const struct tc_disp *d, const struct tc_req *req, struct tc_buf *b)
{
	const char *pub = d->cfg->public_url ? d->cfg->public_url : "";
	const char *end = pub + strlen(pub);
	const char *target = req->target.data ? req->target.data : "";

	while (end > pub && end[-1] == '/')
		end--;
	if (tc_buf_add(b, pub, (size_t)(end - pub)) < 0 ||
	    tc_buf_add(b, target, req->target.len) < 0)
		return TC_ELIMIT;
	return 0;
}

int tc_hook_in_init(struct tc_hook_in *h, const struct tc_disp *d, struct tc_exch *x,
		    const char *provider)
{
	const struct tc_req *req = tc_exch_req(x);
	size_t offs[TC_LIMIT_HTTP_HEADERS], i, ct_len = 0;
	const char *ct = tc_req_header(req, "content-type", &ct_len);
	unsigned k;

	memset(h, 0, sizeof(*h));
	tc_buf_init(&h->url, TC_LIMIT_ADDRESS + TC_LIMIT_HTTP_TARGET);
	tc_buf_init(&h->heads, TC_LIMIT_HTTP_HEADER_BYTES + 4 * TC_LIMIT_HTTP_HEADERS);
	for (k = 0; k < req->n_headers; k++) {
		const struct tc_req_header *rh = &req->header[k];

		offs[k] = h->heads.len;
		if (tc_buf_add(&h->heads, req->heads.data + rh->name, rh->name_len) < 0 ||
		    tc_buf_adds(&h->heads, ": ") < 0 ||
		    tc_buf_add(&h->heads, req->heads.data + rh->value, rh->value_len) < 0 ||
		    tc_buf_addc(&h->heads, '\0') < 0)
			break;
	}
	for (i = 0; i < k; i++)
		h->lines[i] = h->heads.data + offs[i];
	snprintf(h->ctype, sizeof(h->ctype), "%.*s",
		 ct ? (int)(ct_len < sizeof(h->ctype) - 1 ? ct_len : sizeof(h->ctype) - 1) : 0,
		 ct ? ct : "");
	h->in.provider = provider;
	h->in.content_type = h->ctype;
	h->in.body = req->body.data ? req->body.data : "";
	h->in.body_len = req->body.len;
	h->in.headers = h->lines;
	h->in.n_headers = k;
	h->in.now_s = tc_time_now_ms() / 1000;
	if (full_url(d, req, &h->url) < 0)
		return TC_ELIMIT;
	h->in.url = h->url.data ? h->url.data : "";
	/* A GET's fields are its query (Vonage may be set to send them so) */
	if (strcmp(tc_req_method(req), "POST") != 0) {
		const char *q = strchr(h->in.url, '?');

		h->in.query = q ? q + 1 : "";
	}
	return 0;
}

void tc_hook_in_release(struct tc_hook_in *h)
{
	tc_buf_release(&h->url);
	tc_buf_release(&h->heads);
}

void tc_receipt_post(struct tc_exch *x, const char *const *args, unsigned n, void *data)
{
	struct tc_disp *d = data;
	struct tc_hook_in h;
	struct rcpt_req *q;
	char qp[TC_LIMIT_LOG_VALUE + 16], qt[TC_LIMIT_LOG_VALUE + 16], why[200];
	int e;

	if (n != 2 || !d->cfg->ack_secret || !d->chan[TC_CH_SMS]) {
		reply(x, 404, "receipts are not taken here\n");
		return;
	}
	q = calloc(1, sizeof(*q));
	if (!q) {
		reply(x, 503, "try again\n");
		return;
	}
	q->x = x;
	q->d = d;
	q->kind = provider_kind(d->cfg, args[0]);
	if (tc_token_verify(d->cfg->ack_secret, args[1], strlen(args[1]), q->job, q->dlv) < 0) {
		tc_log(TC_LOG_WARN, "receipt", "event=receipt-refused provider=%s token=%s "
		       "err=\"token does not verify\"", tc_log_quote(qp, sizeof(qp), args[0]),
		       tc_log_quote(qt, sizeof(qt), args[1]));
		d->stats.receipts[q->kind][TC_RCPT_REFUSED_TOKEN]++;
		reply(x, 403, "token does not verify\n");
		free(q);
		return;
	}
	snprintf(q->provider, sizeof(q->provider), "%s", q->kind == TC_RCPT_KINDS - 1 ?
		 "" : args[0]);
	e = tc_hook_in_init(&h, d, x, args[0]);
	if (e == 0 && q->provider[0])
		e = tc_chan_receipt(d->chan[TC_CH_SMS], &h.in, &q->rc, why, sizeof(why));
	else if (e == 0)
		e = TC_EINVAL, snprintf(why, sizeof(why), "no SMS provider of that name");
	else
		snprintf(why, sizeof(why), "URL too long");
	tc_hook_in_release(&h);
	if (e < 0) {
		tc_log(TC_LOG_WARN, "receipt", "job=%s delivery=%s event=receipt-refused "
		       "provider=%s err=%s", q->job, q->dlv, tc_log_quote(qp, sizeof(qp), args[0]),
		       tc_log_quote(qt, sizeof(qt), why));
		d->stats.receipts[q->kind][TC_RCPT_REFUSED]++;
		reply(x, 403, "receipt refused\n");
		free(q);
		return;
	}
	if (tc_track_receipt(d, q->job, q->dlv, q->provider, &q->rc, applied, q) < 0) {
		d->stats.receipts[q->kind][TC_RCPT_FAILED]++;
		reply(x, 503, "try again\n");
		free(q);
	}
}

void tc_receipt_metrics(struct tc_mout *o, void *data)
{
	static const char *const names[TC_RCPT_OUTCOMES] = {
		"moved", "pending", "skipped", "refused_token", "refused", "gone", "failed",
	};
	const struct tc_disp *d = data;
	const char *l[5] = { "provider_kind", NULL, "outcome", NULL, NULL };
	int k, i;

	tc_mout_family(o, "tocsin_receipts_total", "counter",
		       "Provider receipts this tocsind answered since it started, by provider "
		       "kind: moved (applied), pending (kept until the send is recorded), "
		       "skipped (duplicate, out of order, or the delivery is past it), "
		       "refused_token, refused (provider signature or body), gone (no such "
		       "job or expired), failed (Redis).");
	for (k = 0; k < TC_RCPT_KINDS; k++) {
		l[1] = kind_names[k];
		for (i = 0; i < TC_RCPT_OUTCOMES; i++) {
			l[3] = names[i];
			tc_mout_sample(o, "tocsin_receipts_total", l, (double)d->stats.receipts[k][i]);
		}
	}
}
