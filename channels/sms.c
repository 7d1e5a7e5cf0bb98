/*
 * The SMS channel: composes the text of sms.txt fitted to
 * channels.sms.max_segments (GSM-7 or UCS-2, truncated or refused as
 * channels.sms.overflow says), counted in segments, the unit providers
 * bill and rate-limit by, and sends it through the configured providers
 * (channels/sms/: twilio, vonage, a generic http gateway) in failover
 * order, over the shared HTTP client.
 *
 * Each provider has a token bucket in segments, a "not before" (a 429's
 * Retry-After, a throttling status) and a circuit breaker: after
 * breaker.failures transient failures in a row it is open (skipped) for
 * breaker.cooldown, then half-open: one message probes it, and its
 * outcome closes it or opens it again.
 *
 * One request is one attempt. A transient failure says `again` while a
 * provider not yet tried in this round has a breaker that lets it send:
 * the dispatcher sends at once, and next_at picks that provider. When every
 * provider has failed, the round ends and the dispatcher backs off.
 *
 * Keeps true: a generic gateway is reached only at addresses in
 * channels.sms.allow, checked as webhooks check theirs; credentials go into
 * requests only, never into an outcome, a log or a record.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channels/internal.h"
#include "channels/sms/provider.h"

#define NO_PROVIDER_WAIT_MS 1000 /* how soon to look again while every
				  * breaker is open and one is probing */

/* What a provider's requests came to, for /metrics. */
enum req_outcome { REQ_SENT, REQ_TRANSIENT, REQ_PERMANENT, REQ_OUTCOMES };
static const char *const req_outcome_names[REQ_OUTCOMES] = {
	"sent", "transient", "permanent",
};

struct sms_prov {
	/* Its name, copied: a reload that drops the SMS channel frees the
	 * configuration while the channel still finishes its sends and
	 * /metrics still shows it. */
	char name[TC_LIMIT_PROVIDER + 1];
	const struct tc_sms_provider *cfg;
	const struct tc_sms_kind_ops *ops;
	struct tc_bucket bucket;    /* segments; per_ms 0: no rate */
	int64_t not_before;         /* held back until then; 0: not held */
	unsigned fails;             /* transient failures in a row */
	int64_t open_until;         /* breaker: 0 closed; else open until then,
				     * half-open after */
	bool probing;               /* half-open: its one probe is under way */
	struct tc_tpl *body;        /* http: the body template, compiled */
	unsigned in_flight;         /* requests under way */
	uint64_t requests[REQ_OUTCOMES]; /* answered, since tocsind started */
};

struct tc_sms {
	struct tc_http *http;
	const struct tc_cfg *cfg;
	struct tc_ranges *ranges;   /* of channels.sms.allow */
	struct sms_prov prov[TC_LIMIT_PROVIDERS];
	size_t n;
};

/* One request under way. What reading its answer needs is copied: a
 * reload frees the configuration it started under. */
struct sms_send {
	struct tc_sms *s;
	char name[TC_LIMIT_PROVIDER + 1]; /* the provider's, to find it again */
	struct tc_sms_provider reader; /* kind, success and message_id only */
	const struct tc_sms_kind_ops *ops;
	struct tc_ranges *ranges;   /* generic gateways: a reference */
	char *host;                 /* ... and the URL's host name, or NULL */
	uint32_t tried;             /* this round's providers, this one too */
	unsigned segments;
	bool gsm7;
	struct tc_sms_req req;
	struct tc_buf creds;        /* tc_sms_credentials of the provider, as
				     * sent: blanked out of its answer */
	tc_chan_cb cb;
	void *data;
};

static const struct tc_sms_kind_ops *kind_ops(enum tc_sms_kind k)
{
	return k == TC_SMS_TWILIO ? &tc_sms_twilio_ops :
	       k == TC_SMS_VONAGE ? &tc_sms_vonage_ops : &tc_sms_http_ops;
}

/* ---- composing ------------------------------------------------------------- */

static int sms_compose(const struct tc_cfg *cfg, const struct tc_tpl_store *store,
		       const struct tc_chan_dlv *v, const json_t *data,
		       struct tc_msg *msg, char *why, size_t n)
{
	struct tc_diag d;
	int r = tc_chan_render(store, v, TC_PART_SMS_TXT, data, msg, why, n);

	if (r < 0)
		return r;
	if (r == 0) {
		snprintf(why, n, "template '%s' has no part 'sms.txt'", v->job->template);
		return TC_EINVAL;
	}
	memset(&d, 0, sizeof(d));
	r = tc_sms_fit(&msg->part[TC_PART_SMS_TXT], cfg->sms.max_segments,
		       cfg->sms.overflow, &msg->sms, &d);
	if (r < 0) {
		msg->failed = TC_PART_SMS_TXT;
		tc_diag_format(&d, why, n);
		if (!why[0])
			snprintf(why, n, "fitting sms.txt failed: out of memory");
		return r;
	}
	msg->units = msg->sms.segments;
	return 0;
}

/* ---- providers: breaker and choice ------------------------------------------ */

/* Whether p's breaker lets a message through at now. */
static bool breaker_lets(const struct sms_prov *p, int64_t now)
{
	if (!p->open_until)
		return true;
	return now >= p->open_until && !p->probing;
}

/* The provider for a delivery that tried `tried` in this round: the first
 * in order whose breaker lets it send and that is not held; else the held
 * one free soonest. -1 when none is left; *wait then says when to look
 * again (a breaker half-opens), or 0 when every provider was tried. */
static int pick(const struct tc_sms *s, uint32_t tried, int64_t now, int64_t *wait)
{
	int best = -1;
	size_t i;

	*wait = 0;
	for (i = 0; i < s->n; i++) {
		const struct sms_prov *p = &s->prov[i];

		if (tried & (1u << i))
			continue;
		if (!breaker_lets(p, now)) {
			int64_t at = p->probing || p->open_until <= now ?
				     now + NO_PROVIDER_WAIT_MS : p->open_until;

			if (!*wait || at < *wait)
				*wait = at;
			continue;
		}
		if (p->not_before <= now)
			return (int)i;
		if (best < 0 || p->not_before < s->prov[best].not_before)
			best = (int)i;
	}
	return best;
}

/* What p's outcome o does to its breaker and hold. */
static void provider_saw(const struct tc_sms *s, struct sms_prov *p,
			 const struct tc_outcome *o, int64_t now)
{
	const struct tc_breaker_cfg *b = &s->cfg->sms.breaker;
	bool failed = o->kind == TC_OUT_TRANSIENT;

	p->probing = false;
	if (failed && o->retry_after_ms > 0) {
		int64_t ra = o->retry_after_ms > TC_RETRY_AFTER_MAX_MS ?
			     TC_RETRY_AFTER_MAX_MS : o->retry_after_ms;

		if (now + ra > p->not_before)
			p->not_before = now + ra;
	}
	if (!failed) {
		/* It answered as a provider should (a bad number is the
		 * number's fault): closed. */
		p->fails = 0;
		p->open_until = 0;
		return;
	}
	if (p->open_until || ++p->fails >= b->failures) {
		/* A failed probe, or failures in a row: open for a cooldown. */
		p->open_until = now + (int64_t)b->cooldown_ms;
		p->fails = 0;
	}
}

/* Whether a provider not in tried can still be asked in this round. */
static bool another_left(const struct tc_sms *s, uint32_t tried, int64_t now)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (!(tried & (1u << i)) && breaker_lets(&s->prov[i], now))
			return true;
	return false;
}

static struct sms_prov *find_prov(struct tc_sms *s, const char *name)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (strcmp(s->prov[i].name, name) == 0)
			return &s->prov[i];
	return NULL;
}

/* Takes cfg's providers; those of the same name and kind keep their
 * bucket (tc_bucket_set), hold and breaker. */
static void take_providers(struct tc_sms *s, const struct tc_sms_cfg *cfg,
			   int64_t now)
{
	struct sms_prov old[TC_LIMIT_PROVIDERS];
	char why[256], q[TC_LIMIT_LOG_VALUE + 16];
	size_t n_old = s->n, i, k;

	memcpy(old, s->prov, sizeof(old));
	memset(s->prov, 0, sizeof(s->prov));
	s->n = cfg->n_providers;
	for (i = 0; i < s->n; i++) {
		const struct tc_sms_provider *pc = &cfg->providers[i];
		struct sms_prov *p = &s->prov[i];

		for (k = 0; k < n_old; k++)
			if (strcmp(old[k].name, pc->name) == 0 &&
			    old[k].cfg->kind == pc->kind)
				break;
		if (k < n_old) {
			*p = old[k];
			p->body = NULL;
			tc_bucket_set(&p->bucket, pc->rate.per_second, pc->rate.burst, now);
		} else {
			tc_bucket_init(&p->bucket, pc->rate.per_second, pc->rate.burst, now);
		}
		snprintf(p->name, sizeof(p->name), "%s", pc->name);
		p->cfg = pc;
		p->ops = kind_ops(pc->kind);
		if (pc->kind == TC_SMS_HTTP &&
		    tc_sms_http_body(pc, &p->body, why, sizeof(why)) < 0)
			/* Each send says so, and the next provider carries it. */
			tc_log(TC_LOG_ERROR, "sms", "provider=%s event=bad-body err=%s",
			       pc->name, tc_log_quote(q, sizeof(q), why));
	}
	for (k = 0; k < n_old; k++)
		tc_tpl_free(old[k].body);
}

/* ---- the channel ------------------------------------------------------------- */

static struct tc_chan_limits sms_limits(const struct tc_cfg *cfg)
{
	unsigned conc = TC_SMS_CONNECTIONS * (unsigned)cfg->sms.n_providers;
	struct tc_chan_limits l = { cfg->sms.enabled && cfg->sms.n_providers > 0,
				    conc < cfg->in_flight ? conc : cfg->in_flight,
				    cfg->sms.retry };

	return l;
}

static void sms_close(void *state)
{
	struct tc_sms *s = state;

	size_t i;

	if (!s)
		return;
	for (i = 0; i < s->n; i++)
		tc_tpl_free(s->prov[i].body);
	tc_ranges_unref(s->ranges);
	free(s);
}

static void *sms_open(const struct tc_chan_env *env, const struct tc_cfg *cfg)
{
	struct tc_sms *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->http = env->http;
	s->cfg = cfg;
	s->ranges = tc_ranges_new(cfg->sms.allow, cfg->sms.n_allow);
	if (!s->ranges) {
		free(s);
		return NULL;
	}
	take_providers(s, &cfg->sms, tc_time_now_ms());
	return s;
}

static int sms_set_cfg(void *state, const struct tc_cfg *cfg)
{
	struct tc_sms *s = state;
	struct tc_ranges *r = tc_ranges_new(cfg->sms.allow, cfg->sms.n_allow);

	if (!r)
		return -ENOMEM;
	tc_ranges_unref(s->ranges);
	s->ranges = r;
	s->cfg = cfg;
	take_providers(s, &cfg->sms, tc_time_now_ms());
	return 0;
}

/* Picks the provider for v's next request and reserves its segments in
 * that provider's bucket. */
static int64_t sms_next_at(void *state, const struct tc_chan_dlv *v,
			   const struct tc_msg *msg, int64_t now)
{
	struct tc_sms *s = state;
	struct sms_prov *p;
	int64_t wait, at;
	int i = pick(s, v->route->tried, now, &wait);

	v->route->next = i;
	if (i < 0)
		return wait > now ? wait : now; /* send reports what is wrong */
	p = &s->prov[i];
	at = p->not_before > now ? p->not_before : now;
	return tc_bucket_reserve(&p->bucket, msg->units, at);
}

static void send_free(struct sms_send *x)
{
	tc_sms_req_release(&x->req);
	if (x->creds.data)
		explicit_bzero(x->creds.data, x->creds.len);
	tc_buf_release(&x->creds);
	tc_ranges_unref(x->ranges);
	free(x->host);
	free(x->reader.success.pointer);
	json_decref(x->reader.success.equals);
	free(x->reader.message_id);
	free(x);
}

static bool allow_sockaddr(void *data, const struct sockaddr *sa)
{
	const struct sms_send *x = data;

	return tc_allow_match(x->ranges->a, x->ranges->n, x->host, sa);
}

/* The outcome of a request that got no answer a provider gave. */
static void transport_outcome(const struct tc_http_result *r, struct tc_outcome *o)
{
	/* A gateway outside the allow list (only generic ones are judged)
	 * is this provider's fault, not the message's: another provider may
	 * carry it. */
	o->kind = TC_OUT_TRANSIENT;
	if (r->refused) {
		snprintf(o->detail, sizeof(o->detail), "gateway address %s is not in "
			 "channels.sms.allow", r->refused_addr);
	} else {
		snprintf(o->detail, sizeof(o->detail), "%s", r->error);
	}
}

/* Says in o's detail that the answer was read only in part. */
static void cut_note(struct tc_outcome *o)
{
	char note[64];
	size_t len = strlen(o->detail);

	snprintf(note, sizeof(note), " (answer cut at %u bytes)", TC_LIMIT_RESPONSE_BODY);
	if (len + strlen(note) >= sizeof(o->detail))
		len = sizeof(o->detail) - strlen(note) - 1;
	memcpy(o->detail + len, note, strlen(note) + 1);
}

/* r's body with x's credentials blanked: a provider may quote them (an
 * error naming the key it refused), and what is read of an answer ends in
 * records and logs. *copy (freed by the caller) holds it; without memory
 * for it, the answer reads as empty. */
static const char *answer_body(const struct sms_send *x, const struct tc_http_result *r,
			       size_t *len, char **copy)
{
	*copy = NULL;
	*len = r->body_len;
	if (!r->body_len)
		return "";
	if (!x->creds.len)
		return r->body;
	*copy = malloc(r->body_len + 1);
	if (!*copy) {
		*len = 0;
		return "";
	}
	memcpy(*copy, r->body, r->body_len);
	(*copy)[r->body_len] = '\0';
	(void)tc_sms_redact(*copy, r->body_len, x->creds.data, x->creds.len);
	return *copy;
}

static void on_http_done(void *data, const struct tc_http_result *r)
{
	struct sms_send *x = data;
	struct tc_sms *s = x->s;
	struct sms_prov *p = find_prov(s, x->name);
	int64_t now = tc_time_now_ms();
	struct tc_outcome o;
	const char *body;
	char *copy;
	size_t len;

	memset(&o, 0, sizeof(o));
	o.retry_after_ms = -1;
	o.status = r->status;
	if (r->code != CURLE_OK) {
		transport_outcome(r, &o);
	} else {
		o.retry_after_ms = r->retry_after_ms;
		body = answer_body(x, r, &len, &copy);
		x->ops->classify(&x->reader, r->status, body, len, &o);
		free(copy);
		if (o.kind != TC_OUT_SENT && r->body_len >= TC_LIMIT_RESPONSE_BODY)
			cut_note(&o);
	}
	snprintf(o.provider, sizeof(o.provider), "%.63s", x->name);
	o.segments = x->segments;
	o.encoding = x->gsm7 ? "gsm7" : "ucs2";
	/* Shutting down is no failure of the provider's. */
	if (p && r->code != CURLE_ABORTED_BY_CALLBACK) {
		provider_saw(s, p, &o, now);
		p->requests[o.kind == TC_OUT_TRANSIENT ? REQ_TRANSIENT :
			    o.kind == TC_OUT_PERMANENT ? REQ_PERMANENT : REQ_SENT]++;
	} else if (p) {
		p->probing = false;
	}
	if (p && p->in_flight)
		p->in_flight--;
	o.again = o.kind == TC_OUT_TRANSIENT && r->code != CURLE_ABORTED_BY_CALLBACK &&
		  another_left(s, x->tried, now);
	x->cb(x->data, &o);
	send_free(x);
}

/* Reports o for a request that never started, from the loop. */
static int report_now(struct tc_sms *s, const struct tc_msg *msg, struct tc_outcome *o,
		      tc_chan_cb cb, void *data)
{
	o->retry_after_ms = -1;
	o->segments = msg->sms.segments;
	o->encoding = msg->sms.gsm7 ? "gsm7" : "ucs2";
	return tc_chan_defer(tc_http_loop(s->http), cb, data, o);
}

/* Copies what reading p's answers needs into x->reader. */
static int copy_reader(struct sms_send *x, const struct tc_sms_provider *p)
{
	x->reader.name = x->name;
	x->reader.kind = p->kind;
	x->reader.success.n_status = p->success.n_status;
	memcpy(x->reader.success.status, p->success.status, sizeof(p->success.status));
	if (p->success.pointer && !(x->reader.success.pointer = strdup(p->success.pointer)))
		return -ENOMEM;
	if (p->success.equals)
		x->reader.success.equals = json_incref(p->success.equals);
	if (p->message_id && !(x->reader.message_id = strdup(p->message_id)))
		return -ENOMEM;
	return 0;
}

/* Builds p's request for v's message into x. Returns 0, -ENOMEM, or
 * another negative code with why: the message cannot go this way. */
static int build(struct tc_sms *s, struct sms_send *x, const struct sms_prov *p,
		 const struct tc_chan_dlv *v, const struct tc_msg *msg, char *why,
		 size_t n)
{
	const struct tc_buf *text = &msg->part[TC_PART_SMS_TXT];
	struct tc_buf cb;
	struct tc_sms_out m = {
		.to = v->address, .text = text->data ? text->data : "",
		.text_len = text->len, .ucs2 = !msg->sms.gsm7, .body = p->body,
	};
	int r;

	tc_buf_init(&cb, TC_LIMIT_ADDRESS);
	if (s->cfg->public_url && s->cfg->ack_secret) {
		r = tc_sms_callback_url(s->cfg->public_url, s->cfg->ack_secret,
					p->cfg->name, v->job->id, v->id, &cb);
		if (r < 0) {
			tc_buf_release(&cb);
			snprintf(why, n, "status callback URL longer than %u bytes",
				 TC_LIMIT_ADDRESS);
			return r;
		}
		m.callback = cb.data;
	}
	r = p->ops->build(p->cfg, &m, &x->req, why, n);
	tc_buf_release(&cb);
	if (r < 0 || p->cfg->kind != TC_SMS_HTTP)
		return r;
	r = tc_ranges_check_url(s->ranges, x->req.url, "channels.sms.allow", &x->host,
				why, n);
	if (r == 0) {
		x->ranges = s->ranges;
		x->ranges->refs++;
	}
	return r;
}

static int sms_send(void *state, const struct tc_chan_dlv *v, const struct tc_msg *msg,
		    tc_chan_cb cb, void *data)
{
	struct tc_sms *s = state;
	struct tc_chan_route *route = v->route;
	int64_t now = tc_time_now_ms(), wait;
	struct tc_http_req hr;
	struct tc_outcome o;
	struct sms_prov *p;
	struct sms_send *x;
	int i = route->next, r;

	memset(&o, 0, sizeof(o));
	if (i < 0 || (size_t)i >= s->n || (route->tried & (1u << i)) ||
	    !breaker_lets(&s->prov[i], now))
		i = pick(s, route->tried, now, &wait);
	route->next = -1;
	if (i < 0) {
		o.kind = TC_OUT_TRANSIENT;
		snprintf(o.detail, sizeof(o.detail), "no SMS provider can send: %s",
			 route->tried ? "each one tried failed, the others' breakers "
			 "are open" : "every provider's breaker is open");
		return report_now(s, msg, &o, cb, data);
	}
	p = &s->prov[i];
	route->tried |= 1u << i;
	x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->s = s;
	snprintf(x->name, sizeof(x->name), "%s", p->cfg->name);
	x->ops = p->ops;
	x->tried = route->tried;
	x->segments = msg->sms.segments;
	x->gsm7 = msg->sms.gsm7;
	x->cb = cb;
	x->data = data;
	tc_sms_req_init(&x->req);
	/* the credentials are configuration values of at most 2048 bytes
	 * each, far within TC_LIMIT_BODY: only memory can fail */
	tc_buf_init(&x->creds, TC_LIMIT_BODY);
	if (copy_reader(x, p->cfg) < 0 || tc_sms_credentials(p->cfg, &x->creds) < 0) {
		send_free(x);
		return -ENOMEM;
	}
	r = build(s, x, p, v, msg, o.detail, sizeof(o.detail));
	if (r == -ENOMEM) {
		send_free(x);
		return r;
	}
	if (r < 0) {
		/* This provider cannot take it (a gateway outside the allow
		 * list, a body over the limit): another one may. */
		send_free(x);
		o.kind = TC_OUT_TRANSIENT;
		snprintf(o.provider, sizeof(o.provider), "%.63s", p->cfg->name);
		o.again = another_left(s, route->tried, now);
		return report_now(s, msg, &o, cb, data);
	}
	if (p->open_until)
		p->probing = true;
	memset(&hr, 0, sizeof(hr));
	hr.url = x->req.url;
	hr.method = x->req.method;
	hr.userpwd = x->req.userpwd;
	hr.headers = x->req.headers;
	hr.body = x->req.body.data ? x->req.body.data : "";
	hr.body_len = x->req.body.len;
	hr.connect_timeout_ms = s->cfg->sms.connect_timeout_ms;
	hr.timeout_ms = s->cfg->sms.timeout_ms;
	hr.ca_file = s->cfg->sms.ca_file;
	if (x->ranges) {
		hr.allow = allow_sockaddr;
		hr.allow_data = x;
	}
	r = tc_http_post(s->http, &hr, on_http_done, x);
	if (r < 0) {
		p->probing = false;
		send_free(x);
	} else {
		p->in_flight++;
	}
	return r;
}

/* ---- metrics ------------------------------------------------------------------ */

/* One gauge or counter sample per provider, of v(p). */
static void per_provider(struct tc_mout *o, const struct tc_sms *s, const char *name,
			 const char *type, const char *help,
			 double (*v)(const struct sms_prov *p, int64_t now), int64_t now)
{
	const char *l[3] = { "provider", NULL, NULL };
	size_t i;

	tc_mout_family(o, name, type, help);
	for (i = 0; i < s->n; i++) {
		l[1] = s->prov[i].name;
		tc_mout_sample(o, name, l, v(&s->prov[i], now));
	}
}

static double owed(const struct sms_prov *p, int64_t now)
{
	return tc_bucket_owed(&p->bucket, now);
}

static double held(const struct sms_prov *p, int64_t now)
{
	return p->not_before > now ? (double)(p->not_before - now) / 1000.0 : 0;
}

static double in_flight(const struct sms_prov *p, int64_t now)
{
	(void)now;
	return p->in_flight;
}

/* Per provider (label values: the configured names, at most
 * TC_LIMIT_PROVIDERS): its circuit as a state set (one sample per state,
 * 1 for the one it is in: an alert or a graph selects a state by its
 * name, and a code number would mean nothing without this comment), the
 * segments its held messages wait for, the tokens it has, its hold, its
 * requests under way and answered. */
static void sms_metrics(void *state, struct tc_mout *o)
{
	static const char *const circuit[] = { "closed", "open", "half_open" };
	const struct tc_sms *s = state;
	const char *l[5] = { "provider", NULL, NULL, NULL, NULL };
	int64_t now = tc_time_now_ms();
	size_t i, k;

	tc_mout_family(o, "tocsin_sms_provider_circuit", "gauge",
		       "Circuit breaker of each SMS provider: 1 for the state it is in.");
	l[2] = "state";
	for (i = 0; i < s->n; i++) {
		const struct sms_prov *p = &s->prov[i];
		unsigned at = !p->open_until ? 0 : now < p->open_until ? 1 : 2;

		l[1] = p->name;
		for (k = 0; k < 3; k++) {
			l[3] = circuit[k];
			tc_mout_sample(o, "tocsin_sms_provider_circuit", l, k == at);
		}
	}
	per_provider(o, s, "tocsin_sms_provider_tokens_waiting", "gauge",
		     "Segments reserved in the provider's token bucket that it has not "
		     "gained yet: what messages held for its rate wait for.", owed, now);
	tc_mout_family(o, "tocsin_sms_provider_tokens", "gauge",
		       "Segments the provider's token bucket holds now (providers "
		       "without a rate: none).");
	l[2] = NULL;
	for (i = 0; i < s->n; i++) {
		const struct sms_prov *p = &s->prov[i];

		if (p->bucket.per_ms == 0)
			continue;
		l[1] = p->name;
		tc_mout_sample(o, "tocsin_sms_provider_tokens", l,
			       owed(p, now) > 0 ? 0 : tc_bucket_tokens(&p->bucket, now));
	}
	per_provider(o, s, "tocsin_sms_provider_held_seconds", "gauge",
		     "How long the provider is still held back by its Retry-After or "
		     "throttling answer (0: not held).", held, now);
	per_provider(o, s, "tocsin_sms_provider_in_flight", "gauge",
		     "Requests under way to the provider.", in_flight, now);
	tc_mout_family(o, "tocsin_sms_provider_requests_total", "counter",
		       "Requests the provider answered (or failed), by outcome: sent "
		       "(accepted), transient (failed, worth another try), permanent "
		       "(refused the message).");
	l[2] = "outcome";
	for (i = 0; i < s->n; i++) {
		l[1] = s->prov[i].name;
		for (k = 0; k < REQ_OUTCOMES; k++) {
			l[3] = req_outcome_names[k];
			tc_mout_sample(o, "tocsin_sms_provider_requests_total", l,
				       (double)s->prov[i].requests[k]);
		}
	}
}

/* Each generic gateway's body template compiles. */
static int sms_cfg_check(const struct tc_cfg *cfg, struct tc_diags *ds)
{
	char why[256], path[64];
	struct tc_tpl *t;
	size_t i;
	int r = 0;

	for (i = 0; i < cfg->sms.n_providers; i++) {
		const struct tc_sms_provider *p = &cfg->sms.providers[i];

		if (p->kind != TC_SMS_HTTP || !p->body)
			continue;
		t = NULL;
		if (tc_sms_http_body(p, &t, why, sizeof(why)) < 0) {
			snprintf(path, sizeof(path), "channels.sms.providers[%zu].body", i);
			tc_diags_add(ds, cfg->path, 0, path, "not a template: %s", why);
			r = TC_EINVAL;
		}
		tc_tpl_free(t);
	}
	return r;
}

/* A status callback goes to the provider its URL names, whose kind
 * verifies and reads it. */
static int sms_receipt(void *state, const struct tc_receipt_in *in,
		       struct tc_receipt *out, char *why, size_t n)
{
	struct sms_prov *p = find_prov(state, in->provider);

	if (!p) {
		snprintf(why, n, "no SMS provider of that name");
		return TC_EINVAL;
	}
	if (!p->ops->receipt) {
		snprintf(why, n, "provider kind takes no receipts");
		return -ENOTSUP;
	}
	return p->ops->receipt(p->cfg, in, out, why, n);
}

static int sms_inbound(void *state, const struct tc_receipt_in *in,
		       struct tc_inbound *out, char *why, size_t n)
{
	struct sms_prov *p = find_prov(state, in->provider);

	if (!p) {
		snprintf(why, n, "no SMS provider of that name");
		return TC_EINVAL;
	}
	if (!p->ops->inbound) {
		snprintf(why, n, "provider kind takes no inbound messages");
		return -ENOTSUP;
	}
	return p->ops->inbound(p->cfg, in, out, why, n);
}

const struct tc_chan_ops tc_sms_ops = {
	.ch = TC_CH_SMS,
	.parts = 1u << TC_PART_SMS_TXT,
	.required = 1u << TC_PART_SMS_TXT,
	.limits = sms_limits,
	.compose = sms_compose,
	.open = sms_open,
	.set_cfg = sms_set_cfg,
	.next_at = sms_next_at,
	.send = sms_send,
	.receipt = sms_receipt,
	.inbound = sms_inbound,
	.metrics = sms_metrics,
	.close = sms_close,
	.budget_new = tc_sms_budget_new,
	.budget_add = tc_sms_budget_add,
	.budget_end = tc_sms_budget_end,
	.budget_free = tc_sms_budget_free,
	.cfg_check = sms_cfg_check,
};
