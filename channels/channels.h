/*
 * channels: the ways a message leaves tocsin, and the HTTP client they
 * share. Everything here runs on the libuv loop thread and never blocks it.
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
};

/* Called once per send, on the loop thread. o is borrowed for the call. */
typedef void (*tc_chan_cb)(void *data, const struct tc_outcome *o);

/* Reports o to cb on the next turn of the loop: for outcomes known before
 * anything was sent. Returns 0 or -ENOMEM (then cb is never called). */
int tc_chan_defer(uv_loop_t *loop, tc_chan_cb cb, void *data,
		  const struct tc_outcome *o);

/* ---- tc_http: libcurl's multi_socket API on a libuv loop ----------------- */
struct tc_http;

/* Decides whether a connection may be made to sa (the resolved address,
 * before connecting). Returns true to allow. */
typedef bool (*tc_http_allow_fn)(void *data, const struct sockaddr *sa);

/* One POST. Everything is borrowed until the callback runs. */
struct tc_http_req {
	const char *url;
	struct curl_slist *headers;
	const char *body;
	size_t body_len;
	uint64_t connect_timeout_ms;
	uint64_t timeout_ms;
	tc_http_allow_fn allow;     /* NULL: any address */
	void *allow_data;
};

struct tc_http_result {
	CURLcode code;              /* CURLE_OK when a response came */
	long status;                /* HTTP status, 0 without a response */
	bool refused;               /* allow() refused the address */
	int64_t retry_after_ms;     /* -1 when absent */
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
/* Starts a POST; the callback runs later on the loop, never from inside
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

/* ---- the webhook channel ---------------------------------------------------- */
struct tc_webhook;

/* A webhook channel sending through http with cfg (borrowed: it must
 * outlive the channel). NULL when out of memory. */
struct tc_webhook *tc_webhook_new(struct tc_http *http,
				  const struct tc_webhook_cfg *cfg);
/* Switches to a new configuration (reload); borrowed like the first. Sends
 * under way keep what they need of the old one, which may be freed at
 * once. Returns 0 or -ENOMEM (then the old configuration stays). */
int tc_webhook_set_cfg(struct tc_webhook *w, const struct tc_webhook_cfg *cfg);
/* POSTs body to url, signed as Standard Webhooks with webhook-id = id.
 * A destination outside the allow list ends as TC_OUT_PERMANENT without a
 * connection. id, url and body are borrowed until the callback. Returns 0,
 * or a negative code (then cb is never called). */
int tc_webhook_send(struct tc_webhook *w, const char *id, const char *url,
		    const char *body, size_t len, tc_chan_cb cb, void *data);
void tc_webhook_free(struct tc_webhook *w);

/* Computes the Standard Webhooks signature "v1,<base64>" of
 * "id.timestamp.body" with key into out (at least 64 bytes). */
void tc_webhook_sign(const unsigned char *key, size_t key_len, const char *id,
		     int64_t timestamp, const char *body, size_t len,
		     char *out, size_t n);

#endif
