/*
 * SMS replies (DESIGN.md: "An SMS reply from a member's number
 * acknowledges their latest open delivery"): /inbound/<provider name>,
 * the provider's inbound message webhook (POST; GET too, as Vonage's
 * dashboard may send it). The provider verifies and reads it
 * (tc_chan_inbound: Twilio's X-Twilio-Signature over this URL, Vonage's
 * signed-webhook sig and timestamp; there is no token in an inbound URL);
 * the REPLY script finds the latest SMS sent to the number
 * (<prefix>:phone:{<E.164>}, written before the SMS went out) and, when
 * the job has responses, the option whose number the reply is; the ACK
 * script records it as the acknowledgement page's POST does: once per
 * member and job, from `sent`, `delivered` or `undelivered`, or, when the
 * reply overtook the tracker's `sent` write, kept pending until that
 * write takes it.
 *
 * The answer is always a 200 once verified (for Twilio an empty TwiML
 * document, so it sends no SMS back; for Vonage an empty body): a reply
 * that matches nothing is logged, not retried.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dispatcher/dispatcher.h"

#define TWIML "text/xml; charset=utf-8"
#define EMPTY_TWIML "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>\n"

struct reply_req {
	struct tc_exch *x;
	struct tc_disp *d;
	bool twiml;                 /* answer Twilio's way */
	struct tc_inbound msg;
	char job[TC_LIMIT_JOB_ID + 1];
	char dlv[TC_DELIVERY_ID_LEN + 1];
	char label[TC_LIMIT_RESPONSE_LABEL + 1];
};

static void done(struct reply_req *q, int outcome, int status)
{
	q->d->stats.replies[outcome]++;
	if (status == 200 && q->twiml)
		tc_exch_reply(q->x, 200, TWIML, EMPTY_TWIML, strlen(EMPTY_TWIML));
	else if (status == 200)
		tc_exch_reply(q->x, 200, "text/plain; charset=utf-8", "", 0);
	else
		tc_exch_reply(q->x, status, "text/plain; charset=utf-8", "try again\n", 10);
	free(q);
}

static void acked(redisAsyncContext *ac, void *reply, void *priv)
{
	struct reply_req *q = priv;
	redisReply *rep = reply;
	const char *v;
	int outcome;

	(void)ac;
	if (!tc_reply_strings(rep, 1)) {
		done(q, TC_REPLY_FAILED, 503);
		return;
	}
	v = rep->element[0]->str;
	outcome = strcmp(v, "moved") == 0 ? TC_REPLY_ACKNOWLEDGED :
		  strcmp(v, "pending") == 0 ? TC_REPLY_PENDING :
		  strcmp(v, "already") == 0 ? TC_REPLY_ALREADY : TC_REPLY_UNMATCHED;
	tc_log(TC_LOG_INFO, "inbound", "job=%s delivery=%s event=reply-%s", q->job, q->dlv,
	       outcome == TC_REPLY_ACKNOWLEDGED ? "acknowledged" :
	       outcome == TC_REPLY_PENDING ? "pending" :
	       outcome == TC_REPLY_ALREADY ? "already" : "unmatched");
	done(q, outcome, 200);
}

static void resolved(redisAsyncContext *ac, void *reply, void *priv)
{
	struct reply_req *q = priv;
	redisReply *rep = reply;
	char k_job[TC_KEY_MAX], k_dlv[TC_KEY_MAX], k_acks[TC_KEY_MAX], k_tomb[TC_KEY_MAX];
	char k_ev[TC_KEY_MAX], now[40], qt[TC_LIMIT_LOG_VALUE + 16], root[TC_LIMIT_JOB_ID + 1];
	const char *argv[11];
	const char *pfx = q->d->cfg->prefix;

	(void)ac;
	if (!tc_reply_strings(rep, 1)) {
		done(q, TC_REPLY_FAILED, 503);
		return;
	}
	if (strcmp(rep->element[0]->str, "none") == 0 || rep->elements < 3) {
		tc_log(TC_LOG_INFO, "inbound", "event=reply-unmatched from=%s", q->msg.from);
		done(q, TC_REPLY_UNMATCHED, 200);
		return;
	}
	snprintf(q->job, sizeof(q->job), "%s", rep->element[1]->str);
	snprintf(q->dlv, sizeof(q->dlv), "%s", rep->element[2]->str);
	if (strcmp(rep->element[0]->str, "response") == 0 || rep->elements < 4) {
		tc_log(TC_LOG_INFO, "inbound", "job=%s delivery=%s event=reply-invalid text=%s",
		       q->job, q->dlv, tc_log_quote(qt, sizeof(qt), q->msg.text));
		done(q, TC_REPLY_INVALID, 200);
		return;
	}
	snprintf(q->label, sizeof(q->label), "%s", rep->element[3]->str);
	if (tc_key_job(k_job, sizeof(k_job), pfx, q->job) < 0 ||
	    tc_key_deliveries(k_dlv, sizeof(k_dlv), pfx, q->job) < 0 ||
	    /* a round's acknowledgements are its root job's, as ack.c has them */
	    tc_key_acks(k_acks, sizeof(k_acks), pfx,
			tc_job_round(q->job, root, sizeof(root)) ? root : q->job) < 0 ||
	    tc_key_tombstone(k_tomb, sizeof(k_tomb), pfx, q->job) < 0 ||
	    tc_key_job_events(k_ev, sizeof(k_ev), pfx, q->job) < 0) {
		done(q, TC_REPLY_UNMATCHED, 200);
		return;
	}
	snprintf(now, sizeof(now), "%s", tc_disp_now(q->d));
	argv[0] = "EVAL";
	argv[1] = tc_lua_ack;
	argv[2] = "5";
	argv[3] = k_job;
	argv[4] = k_dlv;
	argv[5] = k_acks;
	argv[6] = k_tomb;
	argv[7] = k_ev;
	argv[8] = q->dlv;
	argv[9] = now;
	argv[10] = q->label;
	if (tc_rconn_cmd(q->d->cmd, acked, q, 11, argv, NULL) < 0)
		done(q, TC_REPLY_FAILED, 503);
}

/* Whether provider name is a Twilio one (its answer is TwiML). */
static bool is_twilio(const struct tc_cfg *cfg, const char *name)
{
	size_t i;

	for (i = 0; i < cfg->sms.n_providers; i++)
		if (strcmp(cfg->sms.providers[i].name, name) == 0)
			return cfg->sms.providers[i].kind == TC_SMS_TWILIO;
	return false;
}

void tc_inbound_take(struct tc_exch *x, const char *const *args, unsigned n, void *data)
{
	struct tc_disp *d = data;
	struct tc_hook_in h;
	struct reply_req *q;
	char key[TC_KEY_MAX], why[200], qp[TC_LIMIT_LOG_VALUE + 16], qw[TC_LIMIT_LOG_VALUE + 16];
	const char *argv[6];
	int e;

	if (n != 1 || !d->chan[TC_CH_SMS]) {
		tc_exch_reply(x, 404, "text/plain; charset=utf-8", "not taken here\n", 15);
		return;
	}
	q = calloc(1, sizeof(*q));
	if (!q) {
		tc_exch_reply(x, 503, "text/plain; charset=utf-8", "try again\n", 10);
		return;
	}
	q->x = x;
	q->d = d;
	q->twiml = is_twilio(d->cfg, args[0]);
	e = tc_hook_in_init(&h, d, x, args[0]);
	if (e == 0)
		e = tc_chan_inbound(d->chan[TC_CH_SMS], &h.in, &q->msg, why, sizeof(why));
	else
		snprintf(why, sizeof(why), "URL too long");
	tc_hook_in_release(&h);
	if (e < 0) {
		tc_log(TC_LOG_WARN, "inbound", "event=reply-refused provider=%s err=%s",
		       tc_log_quote(qp, sizeof(qp), args[0]), tc_log_quote(qw, sizeof(qw), why));
		d->stats.replies[TC_REPLY_REFUSED]++;
		tc_exch_reply(x, 403, "text/plain; charset=utf-8", "refused\n", 8);
		free(q);
		return;
	}
	if (tc_key_phone(key, sizeof(key), d->cfg->prefix, q->msg.from) < 0) {
		done(q, TC_REPLY_UNMATCHED, 200);
		return;
	}
	argv[0] = "EVAL";
	argv[1] = tc_lua_reply;
	argv[2] = "1";
	argv[3] = key;
	argv[4] = d->cfg->prefix;
	argv[5] = q->msg.text;
	if (tc_rconn_cmd(d->cmd, resolved, q, 6, argv, NULL) < 0)
		done(q, TC_REPLY_FAILED, 503);
}

void tc_inbound_metrics(struct tc_mout *o, void *data)
{
	static const char *const names[TC_REPLY_OUTCOMES] = {
		"acknowledged", "already", "unmatched", "invalid", "refused", "failed", "pending",
	};
	const struct tc_disp *d = data;

	tc_mout_by(o, "tocsin_sms_replies_total", "counter",
		   "SMS replies this tocsind answered since it started: acknowledged, "
		   "already (the member had answered), unmatched (no open delivery for "
		   "the number, or not acknowledgeable now), invalid (not an option's "
		   "number), refused (signature), failed (Redis), pending (came before "
		   "the send was recorded: kept until it is).", "outcome", names,
		   d->stats.replies, TC_REPLY_OUTCOMES);
}
