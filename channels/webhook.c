/*
 * The webhook channel: a signed POST per delivery, as the Standard Webhooks
 * specification says (webhook-id, webhook-timestamp, webhook-signature), so
 * receivers verify with the specification's own libraries and drop
 * duplicates by webhook-id.
 *
 * Keeps true: nothing connects to a destination outside the allow list;
 * every address tried is checked (tc_allow_match, with the URL's host name
 * and the port) at the moment libcurl opens the socket, and again before a
 * request goes on a reused connection, so DNS cannot be used to sneak
 * past. Through the configured proxy (and never one from the
 * environment), tc_http resolves the name, checks the addresses the same
 * way and tunnels to the one that passed. Redirects are never followed.
 * An outcome's provider is the address that answered.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channels/internal.h"

struct tc_webhook {
	struct tc_http *http;
	const struct tc_webhook_cfg *cfg;
	struct tc_ranges *ranges;   /* of cfg->allow */
	struct curl_slist *fixed;   /* content-type, no Expect: */
	struct tc_hosts *hosts;     /* per host: rate, Retry-After */
	struct tc_webhook_signer *signer; /* keyed with cfg's secret */
};

/* One send. Its header list lives here (no allocation per header): the
 * three signature headers, then the webhook's constant ones. libcurl only
 * reads the list. */
struct wh_send {
	struct tc_webhook *w;
	char rate_host[256];        /* the URL's host as rates key it (hosts.c) */
	struct tc_ranges *ranges;   /* a reference, while the request runs */
	char *host;                 /* the URL's host name; NULL for an address */
	tc_chan_cb cb;
	void *data;
	struct curl_slist hdr[3];
	char id_line[64 + TC_DELIVERY_ID_LEN];
	char ts_line[48];
	char sig_line[128];
};

static bool allow_sockaddr(void *data, const struct sockaddr *sa)
{
	const struct wh_send *s = data;

	return tc_allow_match(s->ranges->a, s->ranges->n, s->host, sa);
}

/* What allow refused of host (the URL's name, or NULL for an address)
 * into out: "localhost (127.0.0.1:80)", "a.example (192.0.2.1:443 and 2
 * other addresses)" or "[::1]:80". */
static void refused_text(const char *host, const struct tc_http_result *r,
			 char *out, size_t n)
{
	char more[48] = "";

	if (r->n_refused > 1)
		snprintf(more, sizeof(more), " and %u other address%s", r->n_refused - 1,
			 r->n_refused > 2 ? "es" : "");
	if (host)
		snprintf(out, n, "%.80s (%s%s)", host, r->refused_addr, more);
	else
		snprintf(out, n, "%s%s", r->refused_addr, more);
}

/* Turns an HTTP result for host (the URL's name, or NULL) into an
 * outcome. A refusal is permanent when nothing was connected to; beside a
 * transient failure of the addresses allowed, it is named in the detail. */
static void classify(const char *host, const struct tc_http_result *r,
		     struct tc_outcome *o)
{
	char what[200], status[TC_UTOA_MAX];

	o->status = r->status;
	o->retry_after_ms = r->retry_after_ms;
	tc_join(o->provider, sizeof(o->provider), r->peer, NULL);
	tc_utoa(r->status > 0 ? (uint64_t)r->status : 0, status);
	if (r->refused) {
		o->kind = TC_OUT_PERMANENT;
		refused_text(host, r, what, sizeof(what));
		snprintf(o->detail, sizeof(o->detail),
			 "destination %s is not in channels.webhook.allow", what);
	} else if (r->code != CURLE_OK) {
		o->kind = TC_OUT_TRANSIENT;
		if (r->n_refused) {
			refused_text(NULL, r, what, sizeof(what));
			snprintf(o->detail, sizeof(o->detail), "%.110s; refused %.100s: not "
				 "in channels.webhook.allow", r->error, what);
		} else {
			snprintf(o->detail, sizeof(o->detail), "%s", r->error);
		}
	} else if (r->status >= 200 && r->status < 300) {
		o->kind = TC_OUT_DELIVERED;
		tc_join(o->detail, sizeof(o->detail), "http ", status, NULL);
	} else {
		/* 408, 425, 429 and 5xx are worth another attempt; the rest
		 * say the request itself is wrong. */
		o->kind = (r->status == 408 || r->status == 425 || r->status == 429 ||
			   r->status >= 500) ? TC_OUT_TRANSIENT : TC_OUT_PERMANENT;
		tc_join(o->detail, sizeof(o->detail), "http ", status, NULL);
	}
}

/* ---- composing ------------------------------------------------------------- */

/* The body of a template without webhook.json: DESIGN.md's JSON envelope
 * (delivery id, job id, incident, severity, template, group, member,
 * message, vars). */
static int envelope(const struct tc_chan_dlv *v, struct tc_buf *b)
{
	const struct tc_job *job = v->job;
	const struct tc_member *m = v->member;
	json_t *msg = json_object_get(job->vars, "message");
	int r = 0;

	r |= tc_buf_adds(b, "{\"id\":\"");
	r |= tc_buf_adds(b, v->id);
	r |= tc_buf_adds(b, "\",\"job\":");
	r |= tc_json_quote(b, job->id);
	r |= tc_buf_adds(b, ",\"incident\":");
	r |= job->incident ? tc_json_quote(b, job->incident) : tc_buf_adds(b, "null");
	r |= tc_buf_adds(b, ",\"severity\":\"");
	r |= tc_buf_adds(b, tc_severity_name(job->severity));
	r |= tc_buf_adds(b, "\",\"template\":");
	r |= tc_json_quote(b, job->template);
	r |= tc_buf_adds(b, ",\"group\":");
	r |= v->group[0] ? tc_json_quote(b, v->group) : tc_buf_adds(b, "null");
	r |= tc_buf_adds(b, ",\"member\":{\"name\":");
	r |= tc_json_quote(b, m->name ? m->name : "");
	r |= tc_buf_adds(b, ",\"role\":");
	r |= m->role && m->role[0] ? tc_json_quote(b, m->role) : tc_buf_adds(b, "null");
	r |= tc_buf_adds(b, "},\"message\":");
	r |= json_is_string(msg) ? tc_json_quote(b, json_string_value(msg)) :
				   tc_buf_adds(b, "null");
	r |= tc_buf_adds(b, ",\"vars\":");
	r |= tc_buf_adds(b, v->vars_json);
	r |= tc_buf_addc(b, '}');
	return r ? TC_ELIMIT : 0;
}

/* The template's webhook.json for the group, rendered (and checked to be
 * JSON by the renderer), or the envelope. One request either way. */
static int wh_compose(const struct tc_cfg *cfg, const struct tc_tpl_store *store,
		      const struct tc_chan_dlv *v, const json_t *data,
		      struct tc_msg *msg, char *why, size_t n)
{
	int r = tc_chan_render(store, v, TC_PART_WEBHOOK_JSON, data, msg, why, n);

	(void)cfg;
	if (r < 0)
		return r;
	msg->units = 1;
	if (r == 1)
		return 0;
	tc_buf_reset(&msg->part[TC_PART_WEBHOOK_JSON]);
	msg->source[TC_PART_WEBHOOK_JSON] = NULL;
	msg->note[TC_PART_WEBHOOK_JSON] = "no webhook.json: tocsind sends its JSON envelope";
	if (envelope(v, &msg->part[TC_PART_WEBHOOK_JSON]) < 0) {
		snprintf(why, n, "message larger than the body limit of %u bytes",
			 TC_LIMIT_BODY);
		return TC_ELIMIT;
	}
	return 0;
}

/* ---- the channel ------------------------------------------------------------- */

static struct tc_chan_limits wh_limits(const struct tc_cfg *cfg)
{
	struct tc_chan_limits l = { cfg->webhook.enabled, cfg->webhook.concurrency,
				    cfg->webhook.retry };

	return l;
}

static void wh_close(void *state)
{
	struct tc_webhook *w = state;

	if (!w)
		return;
	tc_ranges_unref(w->ranges);
	curl_slist_free_all(w->fixed);
	tc_hosts_free(w->hosts);
	tc_webhook_signer_free(w->signer);
	free(w);
}

static void *wh_open(const struct tc_chan_env *env, const struct tc_cfg *cfg)
{
	struct tc_webhook *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->http = env->http;
	w->cfg = &cfg->webhook;
	w->ranges = tc_ranges_new(w->cfg->allow, w->cfg->n_allow);
	w->hosts = tc_hosts_new(&w->cfg->rate);
	w->signer = tc_webhook_signer_new(w->cfg->key, w->cfg->key_len);
	w->fixed = curl_slist_append(NULL, "content-type: application/json");
	/* "Name:" with no value makes libcurl leave the header out. */
	if (w->fixed && !curl_slist_append(w->fixed, "Expect:")) {
		curl_slist_free_all(w->fixed);
		w->fixed = NULL;
	}
	if (!w->ranges || !w->hosts || !w->signer || !w->fixed) {
		wh_close(w);
		return NULL;
	}
	return w;
}

static int wh_set_cfg(void *state, const struct tc_cfg *cfg)
{
	struct tc_webhook *w = state;
	struct tc_ranges *r = tc_ranges_new(cfg->webhook.allow, cfg->webhook.n_allow);
	struct tc_webhook_signer *sg = tc_webhook_signer_new(cfg->webhook.key,
							      cfg->webhook.key_len);

	if (!r || !sg) {
		tc_ranges_unref(r);
		tc_webhook_signer_free(sg);
		return -ENOMEM;
	}
	tc_ranges_unref(w->ranges);
	w->ranges = r;
	tc_webhook_signer_free(w->signer);
	w->signer = sg;
	w->cfg = &cfg->webhook;
	tc_hosts_set_rate(w->hosts, &w->cfg->rate, tc_time_now_ms());
	return 0;
}

const char *tc_webhook_url_host(const char *url, size_t *len)
{
	const char *p = strstr(url, "://"), *end, *at;

	p = p ? p + 3 : url;
	end = p + strcspn(p, "/?#");
	for (at = p; at < end; at++)
		if (*at == '@')
			p = at + 1;
	*len = (size_t)(end - p);
	return p;
}

static int64_t wh_next_at(void *state, const struct tc_chan_dlv *v,
			  const struct tc_msg *msg, int64_t now)
{
	struct tc_webhook *w = state;
	size_t len;
	const char *host = tc_webhook_url_host(v->address, &len);

	return tc_hosts_reserve(w->hosts, host, len, msg->units, now);
}

static void on_http_done(void *data, const struct tc_http_result *r)
{
	struct wh_send *s = data;
	struct tc_outcome o;

	memset(&o, 0, sizeof(o));
	classify(s->host, r, &o);
	/* A peer that says when to come back holds back its host, every
	 * delivery to it, and no other. */
	if (o.kind == TC_OUT_TRANSIENT && o.retry_after_ms > 0) {
		int64_t now = tc_time_now_ms(), ra = o.retry_after_ms;

		if (ra > TC_RETRY_AFTER_MAX_MS)
			ra = TC_RETRY_AFTER_MAX_MS;
		tc_hosts_hold(s->w->hosts, s->rate_host, strlen(s->rate_host), now + ra, now);
	}
	tc_ranges_unref(s->ranges);
	free(s->host);
	s->cb(s->data, &o);
	free(s);
}

/* POSTs the body to the member's URL, signed as Standard Webhooks with
 * webhook-id = the delivery id. A destination outside the allow list ends
 * as TC_OUT_PERMANENT without a connection. */
static int wh_send(void *state, const struct tc_chan_dlv *v, const struct tc_msg *msg,
		   tc_chan_cb cb, void *data)
{
	struct tc_webhook *w = state;
	const struct tc_webhook_cfg *cfg = w->cfg;
	const struct tc_buf *body = &msg->part[TC_PART_WEBHOOK_JSON];
	struct tc_http_req req;
	struct wh_send *s;
	struct tc_outcome o;
	char sig[TC_WEBHOOK_SIG_MAX], ts[TC_UTOA_MAX], *host;
	int64_t now = tc_time_now_ms() / 1000;
	const char *rate_host;
	size_t hlen;
	int r;

	memset(&o, 0, sizeof(o));
	r = tc_ranges_check_url(w->ranges, v->address, "channels.webhook.allow", &host,
				o.detail, sizeof(o.detail));
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		/* Refused before connecting; reported from the loop like
		 * every other outcome, never from inside this call. */
		o.kind = TC_OUT_PERMANENT;
		o.retry_after_ms = -1;
		return tc_chan_defer(tc_http_loop(w->http), cb, data, &o);
	}
	s = malloc(sizeof(*s));
	if (!s) {
		free(host);
		return -ENOMEM;
	}
	s->w = w;
	s->host = host;
	s->cb = cb;
	s->data = data;
	rate_host = tc_webhook_url_host(v->address, &hlen);
	if (hlen >= sizeof(s->rate_host))
		hlen = sizeof(s->rate_host) - 1;
	memcpy(s->rate_host, rate_host, hlen);
	s->rate_host[hlen] = '\0';
	/* One text for the header and the signature. */
	tc_utoa(now > 0 ? (uint64_t)now : 0, ts);
	if (tc_webhook_sign(w->signer, v->id, ts, body->data, body->len, sig,
			    sizeof(sig)) < 0) {
		free(host);
		free(s);
		return -ENOMEM;
	}
	tc_join(s->id_line, sizeof(s->id_line), "webhook-id: ", v->id, NULL);
	tc_join(s->ts_line, sizeof(s->ts_line), "webhook-timestamp: ", ts, NULL);
	tc_join(s->sig_line, sizeof(s->sig_line), "webhook-signature: ", sig, NULL);
	s->hdr[0].data = s->id_line;
	s->hdr[0].next = &s->hdr[1];
	s->hdr[1].data = s->ts_line;
	s->hdr[1].next = &s->hdr[2];
	s->hdr[2].data = s->sig_line;
	s->hdr[2].next = w->fixed;
	memset(&req, 0, sizeof(req));
	req.url = v->address;
	req.headers = s->hdr;
	req.body = body->data;
	req.body_len = body->len;
	req.connect_timeout_ms = cfg->connect_timeout_ms;
	req.timeout_ms = cfg->timeout_ms;
	s->ranges = w->ranges;
	s->ranges->refs++;
	req.allow = allow_sockaddr;
	req.allow_data = s;
	req.proxy = cfg->proxy;
	req.ca_file = cfg->ca_file;
	r = tc_http_post(w->http, &req, on_http_done, s);
	if (r < 0) {
		tc_ranges_unref(s->ranges);
		free(s->host);
		free(s);
	}
	return r;
}

const struct tc_chan_ops tc_webhook_ops = {
	.ch = TC_CH_WEBHOOK,
	.parts = 1u << TC_PART_WEBHOOK_JSON,
	.required = 0, /* without webhook.json, the envelope */
	.limits = wh_limits,
	.compose = wh_compose,
	.open = wh_open,
	.set_cfg = wh_set_cfg,
	.next_at = wh_next_at,
	.send = wh_send,
	.close = wh_close,
};
