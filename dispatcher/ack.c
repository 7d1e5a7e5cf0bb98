/*
 * Acknowledgements and polls over HTTP (DESIGN.md, Receipts,
 * acknowledgements, metrics): GET /ack/<token> shows the member a small
 * page and records nothing (a mail gateway's link scanner opens links);
 * POST /ack/<token>, its form (`response=<label>` when the job has
 * responses), records the acknowledgement through the ACK script.
 *
 * The token is verified before anything is looked up; a refused one is
 * logged (quoted) and never applied. Everything the page shows from the
 * job or the roster is HTML-escaped.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dispatcher/dispatcher.h"

#define HTML "text/html; charset=utf-8"
#define PAGE_MAX (64u << 10)

/* One request waiting for Redis. */
struct ack_req {
	struct tc_exch *x;
	struct tc_disp *d;
	bool post;
	char job[TC_LIMIT_JOB_ID + 1];
	char dlv[TC_DELIVERY_ID_LEN + 1];
	char response[TC_LIMIT_RESPONSE_LABEL + 1];
};

static void esc(struct tc_buf *b, const char *s)
{
	if (s)
		tc_buf_add_html(b, s, strlen(s));
}

/* The page loads and runs nothing (its Content-Security-Policy), never
 * passes the link's token on as a Referer, and is not indexed. */
static void page_head(struct tc_buf *b, const char *title)
{
	tc_buf_adds(b, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
		    "<meta name=\"viewport\" content=\"width=device-width\">"
		    "<meta name=\"robots\" content=\"noindex\">"
		    "<meta name=\"referrer\" content=\"no-referrer\">"
		    "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
		    "style-src 'unsafe-inline'; form-action 'self'\"><title>");
	esc(b, title);
	tc_buf_adds(b, "</title></head>\n<body>\n<h1>");
	esc(b, title);
	tc_buf_adds(b, "</h1>\n");
}

/* Answers x with a page: title, then text (escaped). */
static void reply_page(struct tc_exch *x, int status, const char *title,
		       const char *text)
{
	struct tc_buf b;

	tc_buf_init(&b, PAGE_MAX);
	page_head(&b, title);
	tc_buf_adds(&b, "<p>");
	esc(&b, text);
	tc_buf_adds(&b, "</p>\n</body></html>\n");
	tc_exch_reply(x, status, HTML, b.data ? b.data : "", b.len);
	tc_buf_release(&b);
}

/* "Already recorded" from the acknowledgement kept (JSON). */
static void add_already(struct tc_buf *b, const char *prev)
{
	json_t *a = json_loads(prev, 0, NULL);
	const char *resp = json_string_value(json_object_get(a, "response"));
	const char *at = json_string_value(json_object_get(a, "at"));

	tc_buf_adds(b, "<p>Your answer was already recorded");
	if (resp && resp[0]) {
		tc_buf_adds(b, ": <strong>");
		esc(b, resp);
		tc_buf_adds(b, "</strong>");
	}
	if (at) {
		tc_buf_adds(b, " at ");
		esc(b, at);
	}
	tc_buf_adds(b, ". It was not changed.</p>\n");
	json_decref(a);
}

/* The page of a GET: whom it is for, what it is about, the form. */
static void view_page(struct tc_exch *x, const char *job_id, const redisReply *rep)
{
	const char *text = rep->element[1]->str, *incident = rep->element[2]->str;
	const char *member = rep->element[3]->str, *prev = rep->element[5]->str;
	json_t *job = json_loads(text, 0, NULL), *responses, *l;
	struct tc_buf b;
	size_t i;

	responses = json_object_get(job, "responses");
	tc_buf_init(&b, PAGE_MAX);
	page_head(&b, incident[0] ? incident : job_id);
	tc_buf_adds(&b, "<p>For ");
	esc(&b, member);
	tc_buf_adds(&b, " (");
	esc(&b, rep->element[4]->str);
	tc_buf_adds(&b, "), about ");
	esc(&b, job_id);
	tc_buf_adds(&b, ".</p>\n");
	if (prev[0]) {
		add_already(&b, prev);
	} else {
		tc_buf_adds(&b, "<form method=\"post\">\n");
		if (json_is_array(responses) && json_array_size(responses) > 0) {
			json_array_foreach(responses, i, l) {
				tc_buf_adds(&b, "<button type=\"submit\" name=\"response\" value=\"");
				esc(&b, json_string_value(l));
				tc_buf_adds(&b, "\">");
				esc(&b, json_string_value(l));
				tc_buf_adds(&b, "</button>\n");
			}
		} else {
			tc_buf_adds(&b, "<button type=\"submit\">Acknowledge</button>\n");
		}
		tc_buf_adds(&b, "</form>\n");
	}
	tc_buf_adds(&b, "</body></html>\n");
	tc_exch_reply(x, 200, HTML, b.data ? b.data : "", b.len);
	tc_buf_release(&b);
	json_decref(job);
}

/* The answers both scripts share: nothing to look at. Returns whether
 * it answered. */
static bool reply_lookup(struct ack_req *q, const redisReply *rep)
{
	char msg[128];

	if (strcmp(rep->element[0]->str, "expired") == 0) {
		snprintf(msg, sizeof(msg), "The records of this message expired at %.40s: "
			 "answers are no longer taken.", rep->element[1]->str);
		reply_page(q->x, 410, "Expired", msg);
		return true;
	}
	if (strcmp(rep->element[0]->str, "none") == 0) {
		reply_page(q->x, 404, "Not found", "There is no such message.");
		return true;
	}
	return false;
}

static void answered(redisAsyncContext *ac, void *reply, void *priv)
{
	struct ack_req *q = priv;
	redisReply *rep = reply;
	const char *v;
	char msg[160], qr[TC_LIMIT_LOG_VALUE + 16];

	(void)ac;
	if (!tc_reply_strings(rep, 2)) {
		q->d->stats.acks[TC_ACK_FAILED] += q->post;
		tc_log(TC_LOG_WARN, "ack", "job=%s delivery=%s event=ack-failed err=%s", q->job,
		       q->dlv, rep && rep->type == REDIS_REPLY_ERROR ?
		       tc_log_quote(qr, sizeof(qr), rep->str) : "\"redis unreachable\"");
		reply_page(q->x, 503, "Try again",
			   "Your answer could not be read or recorded now. Please try again in a minute.");
		goto out;
	}
	if (reply_lookup(q, rep)) {
		q->d->stats.acks[TC_ACK_GONE] += q->post;
		goto out;
	}
	v = rep->element[0]->str;
	if (!q->post) {
		if (tc_reply_strings(rep, 6))
			view_page(q->x, q->job, rep);
		else
			reply_page(q->x, 503, "Try again", "Please try again in a minute.");
	} else if (strcmp(v, "moved") == 0 || strcmp(v, "pending") == 0) {
		/* pending: it came before the send was recorded, which takes it */
		q->d->stats.acks[TC_ACK_RECORDED]++;
		tc_log(TC_LOG_INFO, "ack", "job=%s delivery=%s event=acknowledged%s response=%s",
		       q->job, q->dlv, v[0] == 'p' ? "-pending" : "",
		       tc_log_quote(qr, sizeof(qr), q->response));
		snprintf(msg, sizeof(msg), "Thank you: your answer%s%s was recorded.",
			 q->response[0] ? " " : "", q->response);
		reply_page(q->x, 200, "Recorded", msg);
	} else if (strcmp(v, "already") == 0) {
		struct tc_buf b;

		q->d->stats.acks[TC_ACK_ALREADY]++;
		tc_buf_init(&b, PAGE_MAX);
		page_head(&b, "Already recorded");
		add_already(&b, rep->element[1]->str);
		tc_buf_adds(&b, "</body></html>\n");
		tc_exch_reply(q->x, 200, HTML, b.data ? b.data : "", b.len);
		tc_buf_release(&b);
	} else if (strcmp(v, "response") == 0) {
		q->d->stats.acks[TC_ACK_INVALID]++;
		reply_page(q->x, 400, "Not an option", "That answer is not one of this message's options.");
	} else {
		q->d->stats.acks[TC_ACK_HELD]++;
		snprintf(msg, sizeof(msg), "This message is %.20s: your answer cannot be recorded "
			 "now. If it is still being sent, try again in a minute.",
			 rep->element[1]->str);
		reply_page(q->x, 409, "Not recorded", msg);
	}
out:
	free(q);
}

/* Verifies the token of args[0] and starts the script (view or ack). */
static void ack_route(struct tc_exch *x, const char *const *args, unsigned n,
		      void *data, bool post)
{
	struct tc_disp *d = data;
	const struct tc_req *req = tc_exch_req(x);
	char k_job[TC_KEY_MAX], k_dlv[TC_KEY_MAX], k_acks[TC_KEY_MAX], k_tomb[TC_KEY_MAX];
	char k_ev[TC_KEY_MAX], qt[TC_LIMIT_LOG_VALUE + 16], now[40];
	char root[TC_LIMIT_JOB_ID + 1];
	const char *argv[12];
	struct ack_req *q;
	long len = 0;
	int argc;

	if (n != 1 || !d->cfg->ack_secret) {
		reply_page(x, 404, "Not found", "Acknowledgements are not configured here.");
		return;
	}
	q = calloc(1, sizeof(*q));
	if (!q) {
		reply_page(x, 503, "Try again", "Please try again in a minute.");
		return;
	}
	q->x = x;
	q->d = d;
	q->post = post;
	if (tc_token_verify(d->cfg->ack_secret, args[0], strlen(args[0]), q->job,
			    q->dlv) < 0) {
		tc_log(TC_LOG_WARN, "ack", "event=token-refused method=%s token=%s",
		       post ? "POST" : "GET", tc_log_quote(qt, sizeof(qt), args[0]));
		d->stats.acks[TC_ACK_REFUSED] += post;
		reply_page(x, 403, "Not valid", "This link is not valid.");
		free(q);
		return;
	}
	if (post) {
		len = tc_form_get(req->body.data ? req->body.data : "", req->body.len,
				  "response", q->response, sizeof(q->response) - 1);
		if (len < 0 && len != -ENOENT) {
			d->stats.acks[TC_ACK_INVALID]++;
			reply_page(x, 400, "Not an option",
				   "That answer is not one of this message's options.");
			free(q);
			return;
		}
	}
	tc_key_job(k_job, sizeof(k_job), d->cfg->prefix, q->job);
	tc_key_deliveries(k_dlv, sizeof(k_dlv), d->cfg->prefix, q->job);
	/* A round's acknowledgements are its root job's: one per member for
	 * the whole family, and the next round skips whoever gave one. */
	tc_key_acks(k_acks, sizeof(k_acks), d->cfg->prefix,
		    tc_job_round(q->job, root, sizeof(root)) ? root : q->job);
	tc_key_tombstone(k_tomb, sizeof(k_tomb), d->cfg->prefix, q->job);
	tc_key_job_events(k_ev, sizeof(k_ev), d->cfg->prefix, q->job);
	snprintf(now, sizeof(now), "%s", tc_disp_now(d));
	argv[0] = "EVAL";
	argv[1] = post ? tc_lua_ack : tc_lua_ack_view;
	argv[2] = post ? "5" : "4";
	argv[3] = k_job;
	argv[4] = k_dlv;
	argv[5] = k_acks;
	argv[6] = k_tomb;
	if (post) {
		argv[7] = k_ev;
		argv[8] = q->dlv;
		argv[9] = now;
		argv[10] = q->response;
		argc = 11;
	} else {
		argv[7] = q->dlv;
		argc = 8;
	}
	if (tc_rconn_cmd(d->cmd, answered, q, argc, argv, NULL) < 0) {
		reply_page(x, 503, "Try again",
			   "Your answer could not be read or recorded now. Please try again in a minute.");
		free(q);
	}
}

void tc_ack_get(struct tc_exch *x, const char *const *args, unsigned n, void *data)
{
	ack_route(x, args, n, data, false);
}

void tc_ack_post(struct tc_exch *x, const char *const *args, unsigned n, void *data)
{
	ack_route(x, args, n, data, true);
}

void tc_ack_metrics(struct tc_mout *o, void *data)
{
	static const char *const names[TC_ACK_OUTCOMES] = {
		"recorded", "already", "refused", "invalid", "held", "gone", "failed",
	};
	const struct tc_disp *d = data;

	tc_mout_by(o, "tocsin_acks_total", "counter",
		   "Acknowledgement POSTs this tocsind answered since it started: "
		   "recorded, already recorded, refused (token), invalid (answer), "
		   "held (delivery not final), gone (no such job or expired), "
		   "failed (Redis).", "outcome", names, d->stats.acks, TC_ACK_OUTCOMES);
}
