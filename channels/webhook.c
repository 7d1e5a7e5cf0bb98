/*
 * The webhook channel: a signed POST per delivery, as the Standard Webhooks
 * specification says (webhook-id, webhook-timestamp, webhook-signature), so
 * receivers verify with the specification's own libraries and drop
 * duplicates by webhook-id.
 *
 * Keeps true: nothing connects to a destination outside the allow list;
 * every address tried is checked (tc_allow_match, with the URL's host name
 * and the port) at the moment libcurl opens the socket, so DNS cannot be
 * used to sneak past.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "channels/channels.h"

/* The allow list, copied out of the configuration (its names into the
 * same allocation, after a[n]) and shared by the sends that started under
 * it: a reload may free that configuration while a connection is still
 * being opened. */
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
};

/* One send. Its header list lives here (no allocation per header): the
 * three signature headers, then the webhook's constant ones. libcurl only
 * reads the list. */
struct wh_send {
	struct tc_webhook *w;
	struct wh_ranges *ranges;   /* a reference, while the request runs */
	char *host;                 /* the URL's host name; NULL for an address */
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

static bool allow_sockaddr(void *data, const struct sockaddr *sa)
{
	const struct wh_send *s = data;

	return tc_allow_match(s->ranges->a, s->ranges->n, s->host, sa);
}

static void ranges_unref(struct wh_ranges *r)
{
	if (r && --r->refs == 0)
		free(r);
}

/* Copies cfg's allow list, names included. */
static struct wh_ranges *ranges_new(const struct tc_webhook_cfg *cfg)
{
	size_t i, len, names = 0;
	struct wh_ranges *r;
	char *p;

	for (i = 0; i < cfg->n_allow; i++)
		if (cfg->allow[i].host)
			names += strlen(cfg->allow[i].host) + 1;
	r = malloc(sizeof(*r) + cfg->n_allow * sizeof(struct tc_allow) + names);
	if (!r)
		return NULL;
	r->refs = 1;
	r->n = cfg->n_allow;
	p = (char *)&r->a[r->n];
	for (i = 0; i < r->n; i++) {
		r->a[i] = cfg->allow[i];
		if (!cfg->allow[i].host)
			continue;
		len = strlen(cfg->allow[i].host) + 1;
		memcpy(p, cfg->allow[i].host, len);
		r->a[i].host = p;
		p += len;
	}
	return r;
}

/* Judges the URL before anything is resolved: a URL naming an address
 * (with its port) outside the list is refused now (-1, why says so); a
 * name is judged with each address it resolves to. Returns 0 and the
 * host name as a new string in *name (NULL for an address). */
static int allow_url(const struct wh_ranges *r, const char *url, char **name,
		     char *why, size_t n)
{
	CURLU *u = curl_url();
	char *host = NULL, *port = NULL;
	struct sockaddr_in6 s6;
	struct sockaddr_in s4;
	struct sockaddr *sa = NULL;
	int rc = -1;

	*name = NULL;
	if (!u || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK) {
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
	if (inet_pton(AF_INET, host, &s4.sin_addr) == 1) {
		s4.sin_family = AF_INET;
		s4.sin_port = htons((uint16_t)strtoul(port, NULL, 10));
		sa = (struct sockaddr *)&s4;
	} else if (inet_pton(AF_INET6, host, &s6.sin6_addr) == 1) {
		s6.sin6_family = AF_INET6;
		s6.sin6_port = htons((uint16_t)strtoul(port, NULL, 10));
		sa = (struct sockaddr *)&s6;
	}
	if (sa && !tc_allow_match(r->a, r->n, NULL, sa)) {
		snprintf(why, n, "destination %.200s is not in channels.webhook.allow",
			 host);
		goto out;
	}
	if (!sa) {
		*name = strdup(host);
		if (!*name) {
			rc = -ENOMEM;
			goto out;
		}
	}
	rc = 0;
out:
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return rc;
}

struct tc_webhook *tc_webhook_new(struct tc_http *http,
				  const struct tc_webhook_cfg *cfg)
{
	struct tc_webhook *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->http = http;
	w->cfg = cfg;
	w->ranges = ranges_new(cfg);
	if (!w->ranges) {
		free(w);
		return NULL;
	}
	w->fixed = curl_slist_append(NULL, "content-type: application/json");
	/* "Name:" with no value makes libcurl leave the header out. */
	if (w->fixed && !curl_slist_append(w->fixed, "Expect:")) {
		curl_slist_free_all(w->fixed);
		w->fixed = NULL;
	}
	if (!w->fixed) {
		ranges_unref(w->ranges);
		free(w);
		return NULL;
	}
	return w;
}

int tc_webhook_set_cfg(struct tc_webhook *w, const struct tc_webhook_cfg *cfg)
{
	struct wh_ranges *r = ranges_new(cfg);

	if (!r)
		return -ENOMEM;
	ranges_unref(w->ranges);
	w->ranges = r;
	w->cfg = cfg;
	return 0;
}

void tc_webhook_free(struct tc_webhook *w)
{
	if (!w)
		return;
	ranges_unref(w->ranges);
	curl_slist_free_all(w->fixed);
	free(w);
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

static void on_http_done(void *data, const struct tc_http_result *r)
{
	struct wh_send *s = data;
	struct tc_outcome o;

	memset(&o, 0, sizeof(o));
	snprintf(o.provider, sizeof(o.provider), "webhook");
	classify(r, &o);
	ranges_unref(s->ranges);
	free(s->host);
	s->cb(s->data, &o);
	free(s);
}

int tc_webhook_send(struct tc_webhook *w, const char *id, const char *url,
		    const char *body, size_t len, tc_chan_cb cb, void *data)
{
	const struct tc_webhook_cfg *cfg = w->cfg;
	struct tc_http_req req;
	struct wh_send *s;
	struct tc_outcome o;
	char sig[100], *host;
	int64_t now = tc_time_now_ms() / 1000;
	int r;

	memset(&o, 0, sizeof(o));
	r = allow_url(w->ranges, url, &host, o.detail, sizeof(o.detail));
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		/* Refused before connecting; reported from the loop like
		 * every other outcome, never from inside this call. */
		o.kind = TC_OUT_PERMANENT;
		o.retry_after_ms = -1;
		snprintf(o.provider, sizeof(o.provider), "webhook");
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
	tc_webhook_sign(cfg->key, cfg->key_len, id, now, body, len, sig, sizeof(sig));
	snprintf(s->id_line, sizeof(s->id_line), "webhook-id: %s", id);
	snprintf(s->ts_line, sizeof(s->ts_line), "webhook-timestamp: %lld", (long long)now);
	snprintf(s->sig_line, sizeof(s->sig_line), "webhook-signature: %s", sig);
	s->hdr[0].data = s->id_line;
	s->hdr[0].next = &s->hdr[1];
	s->hdr[1].data = s->ts_line;
	s->hdr[1].next = &s->hdr[2];
	s->hdr[2].data = s->sig_line;
	s->hdr[2].next = w->fixed;
	memset(&req, 0, sizeof(req));
	req.url = url;
	req.headers = s->hdr;
	req.body = body;
	req.body_len = len;
	req.connect_timeout_ms = cfg->connect_timeout_ms;
	req.timeout_ms = cfg->timeout_ms;
	s->ranges = w->ranges;
	s->ranges->refs++;
	req.allow = allow_sockaddr;
	req.allow_data = s;
	r = tc_http_post(w->http, &req, on_http_done, s);
	if (r < 0) {
		ranges_unref(s->ranges);
		free(s->host);
		free(s);
	}
	return r;
}
