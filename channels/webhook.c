/*
 * The webhook channel: a signed POST per delivery, as the Standard Webhooks
 * specification says (webhook-id, webhook-timestamp, webhook-signature), so
 * receivers verify with the specification's own libraries and drop
 * duplicates by webhook-id.
 *
 * Keeps true: nothing connects to a destination outside the allow list; a
 * host name not listed is checked by the address it resolves to, at the
 * moment libcurl opens the socket (so DNS cannot be used to sneak past).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "channels/internal.h"

/* The address ranges of an allow list, copied out of the configuration and
 * shared by the sends that started under it: a reload may free that
 * configuration while a connection is still being opened. */
struct wh_ranges {
	unsigned refs;
	size_t n;
	struct tc_allow a[];
};

struct tc_webhook {
	struct tc_http *http;
	const struct tc_webhook_cfg *cfg;
	struct wh_ranges *ranges;   /* of cfg->allow */
	struct curl_slist *fixed;   /* content-type, no Expect: */
	struct tc_hosts *hosts;     /* per host: rate, Retry-After */
};

/* One send. Its header list lives here (no allocation per header): the
 * three signature headers, then the webhook's constant ones. libcurl only
 * reads the list. */
struct wh_send {
	struct tc_webhook *w;
	char host[256];             /* the URL's host, for a Retry-After hold */
	struct wh_ranges *ranges;   /* a reference, while the request runs */
	tc_chan_cb cb;
	void *data;
	struct curl_slist hdr[3];
	char id_line[64 + TC_DELIVERY_ID_LEN];
	char ts_line[48];
	char sig_line[128];
};

void tc_webhook_sign(const unsigned char *key, size_t key_len, const char *id,
		     int64_t timestamp, const char *body, size_t len,
		     char *out, size_t n)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;
	char b64[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
	struct tc_buf msg;

	/* The signed content is "id.timestamp.body". */
	tc_buf_init(&msg, TC_LIMIT_BODY + 256);
	if (tc_buf_printf(&msg, "%s.%lld.", id, (long long)timestamp) == 0 &&
	    tc_buf_add(&msg, body, len) == 0 &&
	    !HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)msg.data,
		  msg.len, mac, &mac_len))
		mac_len = 0;
	tc_buf_release(&msg);
	EVP_EncodeBlock((unsigned char *)b64, mac, (int)mac_len);
	snprintf(out, n, "v1,%s", mac_len ? b64 : "");
}

bool tc_allow_host(const struct tc_allow *a, size_t n, const char *host)
{
	size_t i, hl = strlen(host), sl;

	for (i = 0; i < n; i++) {
		if (!a[i].host)
			continue;
		if (strcasecmp(a[i].host, host) == 0)
			return true;
		/* "*.example.org" takes any name below example.org. */
		if (a[i].host[0] == '*' && a[i].host[1] == '.') {
			sl = strlen(a[i].host + 1);
			if (hl > sl && strcasecmp(host + hl - sl, a[i].host + 1) == 0)
				return true;
		}
	}
	return false;
}

static bool in_range(const struct tc_allow *a, const unsigned char *addr)
{
	unsigned full = a->prefix / 8, rest = a->prefix % 8;
	unsigned char mask;

	if (memcmp(a->addr, addr, full) != 0)
		return false;
	if (!rest)
		return true;
	mask = (unsigned char)(0xff << (8 - rest));
	return (a->addr[full] & mask) == (addr[full] & mask);
}

bool tc_allow_addr(const struct tc_allow *a, size_t n, const struct sockaddr *sa)
{
	const unsigned char *addr;
	int family = sa->sa_family;
	unsigned char v4[4];
	size_t i;

	if (family == AF_INET) {
		addr = (const unsigned char *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	} else if (family == AF_INET6) {
		addr = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
		/* An IPv4-mapped address is judged as the IPv4 address it is. */
		if (IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)(const void *)addr)) {
			memcpy(v4, addr + 12, 4);
			addr = v4;
			family = AF_INET;
		}
	} else {
		return false;
	}
	for (i = 0; i < n; i++)
		if (!a[i].host && a[i].family == family && in_range(&a[i], addr))
			return true;
	return false;
}

static bool allow_sockaddr(void *data, const struct sockaddr *sa)
{
	const struct wh_ranges *r = data;

	return tc_allow_addr(r->a, r->n, sa);
}

static void ranges_unref(struct wh_ranges *r)
{
	if (r && --r->refs == 0)
		free(r);
}

/* Copies the range entries of cfg's allow list (names are judged at send
 * time, from the configuration itself). */
static struct wh_ranges *ranges_new(const struct tc_webhook_cfg *cfg)
{
	struct wh_ranges *r = malloc(sizeof(*r) + cfg->n_allow * sizeof(struct tc_allow));
	size_t i;

	if (!r)
		return NULL;
	r->refs = 1;
	r->n = 0;
	for (i = 0; i < cfg->n_allow; i++) {
		if (cfg->allow[i].host)
			continue;
		r->a[r->n++] = cfg->allow[i];
	}
	return r;
}

/* Decides by the URL's host: 1 allowed by name, 0 to be checked by its
 * address when connecting, -1 refused now. */
static int allow_url(const struct tc_webhook_cfg *cfg, const char *url,
		     char *why, size_t n)
{
	CURLU *u = curl_url();
	char *host = NULL;
	unsigned char addr[16];
	struct sockaddr_in6 s6;
	struct sockaddr_in s4;
	int r = -1;

	if (!u || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		snprintf(why, n, "not a URL");
		goto out;
	}
	if (host[0] == '[') { /* an IPv6 literal comes bracketed */
		size_t l = strlen(host);

		memmove(host, host + 1, l - 2);
		host[l - 2] = '\0';
	}
	memset(&s4, 0, sizeof(s4));
	memset(&s6, 0, sizeof(s6));
	if (inet_pton(AF_INET, host, addr) == 1) {
		s4.sin_family = AF_INET;
		memcpy(&s4.sin_addr, addr, 4);
		r = tc_allow_addr(cfg->allow, cfg->n_allow, (struct sockaddr *)&s4) ? 1 : -1;
	} else if (inet_pton(AF_INET6, host, addr) == 1) {
		s6.sin6_family = AF_INET6;
		memcpy(&s6.sin6_addr, addr, 16);
		r = tc_allow_addr(cfg->allow, cfg->n_allow, (struct sockaddr *)&s6) ? 1 : -1;
	} else {
		r = tc_allow_host(cfg->allow, cfg->n_allow, host) ? 1 : 0;
	}
	if (r < 0)
		snprintf(why, n, "destination %.200s is not in channels.webhook.allow", host);
out:
	curl_free(host);
	curl_url_cleanup(u);
	return r;
}

/* Turns an HTTP result into an outcome. */
static void classify(const struct tc_http_result *r, struct tc_outcome *o)
{
	o->status = r->status;
	o->retry_after_ms = r->retry_after_ms;
	if (r->refused) {
		o->kind = TC_OUT_PERMANENT;
		snprintf(o->detail, sizeof(o->detail),
			 "destination address is not in channels.webhook.allow");
	} else if (r->code != CURLE_OK) {
		o->kind = TC_OUT_TRANSIENT;
		snprintf(o->detail, sizeof(o->detail), "%s", r->error);
	} else if (r->status >= 200 && r->status < 300) {
		o->kind = TC_OUT_DELIVERED;
		snprintf(o->detail, sizeof(o->detail), "http %ld", r->status);
	} else {
		/* 408, 425, 429 and 5xx are worth another attempt; the rest
		 * say the request itself is wrong. */
		o->kind = (r->status == 408 || r->status == 425 || r->status == 429 ||
			   r->status >= 500) ? TC_OUT_TRANSIENT : TC_OUT_PERMANENT;
		snprintf(o->detail, sizeof(o->detail), "http %ld", r->status);
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
	ranges_unref(w->ranges);
	curl_slist_free_all(w->fixed);
	tc_hosts_free(w->hosts);
	free(w);
}

static void *wh_open(const struct tc_chan_env *env, const struct tc_cfg *cfg)
{
	struct tc_webhook *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->http = env->http;
	w->cfg = &cfg->webhook;
	w->ranges = ranges_new(w->cfg);
	w->hosts = tc_hosts_new(&w->cfg->rate);
	w->fixed = curl_slist_append(NULL, "content-type: application/json");
	/* "Name:" with no value makes libcurl leave the header out. */
	if (w->fixed && !curl_slist_append(w->fixed, "Expect:")) {
		curl_slist_free_all(w->fixed);
		w->fixed = NULL;
	}
	if (!w->ranges || !w->hosts || !w->fixed) {
		wh_close(w);
		return NULL;
	}
	return w;
}

static int wh_set_cfg(void *state, const struct tc_cfg *cfg)
{
	struct tc_webhook *w = state;
	struct wh_ranges *r = ranges_new(&cfg->webhook);

	if (!r)
		return -ENOMEM;
	ranges_unref(w->ranges);
	w->ranges = r;
	w->cfg = &cfg->webhook;
	tc_hosts_set_rate(w->hosts, &w->cfg->rate, tc_time_now_ms());
	return 0;
}

/* The host part of an http(s) URL: after "://", without user info and
 * port, up to the path. Enough to key a rate by; the allow list parses the
 * URL properly. Sets *len; returns the start. */
static const char *url_host(const char *url, size_t *len)
{
	const char *p = strstr(url, "://"), *end, *at;

	p = p ? p + 3 : url;
	end = p + strcspn(p, "/?#");
	for (at = p; at < end; at++)
		if (*at == '@')
			p = at + 1;
	if (*p == '[') {
		at = memchr(p, ']', (size_t)(end - p));
		*len = at ? (size_t)(at - p) + 1 : (size_t)(end - p);
		return p;
	}
	at = memchr(p, ':', (size_t)(end - p));
	*len = (size_t)((at ? at : end) - p);
	return p;
}

static int64_t wh_next_at(void *state, const struct tc_chan_dlv *v,
			  const struct tc_msg *msg, int64_t now)
{
	struct tc_webhook *w = state;
	size_t len;
	const char *host = url_host(v->address, &len);

	return tc_hosts_reserve(w->hosts, host, len, msg->units, now);
}

static void on_http_done(void *data, const struct tc_http_result *r)
{
	struct wh_send *s = data;
	struct tc_outcome o;

	memset(&o, 0, sizeof(o));
	snprintf(o.provider, sizeof(o.provider), "webhook");
	classify(r, &o);
	/* A peer that says when to come back holds back its host, every
	 * delivery to it, and no other. */
	if (o.kind == TC_OUT_TRANSIENT && o.retry_after_ms > 0) {
		int64_t now = tc_time_now_ms(), ra = o.retry_after_ms;

		if (ra > TC_RETRY_AFTER_MAX_MS)
			ra = TC_RETRY_AFTER_MAX_MS;
		tc_hosts_hold(s->w->hosts, s->host, strlen(s->host), now + ra, now);
	}
	ranges_unref(s->ranges);
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
	char sig[100];
	int64_t now = tc_time_now_ms() / 1000;
	const char *host;
	size_t hlen;
	int by_name, r;

	memset(&o, 0, sizeof(o));
	by_name = allow_url(cfg, v->address, o.detail, sizeof(o.detail));
	if (by_name < 0) {
		/* Refused before connecting; reported from the loop like
		 * every other outcome, never from inside this call. */
		o.kind = TC_OUT_PERMANENT;
		o.retry_after_ms = -1;
		snprintf(o.provider, sizeof(o.provider), "webhook");
		return tc_chan_defer(tc_http_loop(w->http), cb, data, &o);
	}
	s = malloc(sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->w = w;
	s->cb = cb;
	s->data = data;
	host = url_host(v->address, &hlen);
	snprintf(s->host, sizeof(s->host), "%.*s", (int)hlen, host);
	tc_webhook_sign(cfg->key, cfg->key_len, v->id, now, body->data, body->len, sig,
			sizeof(sig));
	snprintf(s->id_line, sizeof(s->id_line), "webhook-id: %s", v->id);
	snprintf(s->ts_line, sizeof(s->ts_line), "webhook-timestamp: %lld", (long long)now);
	snprintf(s->sig_line, sizeof(s->sig_line), "webhook-signature: %s", sig);
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
	req.allow = by_name ? NULL : allow_sockaddr;
	req.allow_data = s->ranges;
	r = tc_http_post(w->http, &req, on_http_done, s);
	if (r < 0) {
		ranges_unref(s->ranges);
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
