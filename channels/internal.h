/*
 * The table each channel fills: channels/ only. A caller never names an
 * implementation; it goes through the tc_chan_ functions of channels.h,
 * which look the table up by channel.
 */
#ifndef TC_CHANNELS_INTERNAL_H
#define TC_CHANNELS_INTERNAL_H

#include "channels/channels.h"

struct tc_chan_ops {
	enum tc_channel ch;
	unsigned parts;             /* TC_PART bits it composes from */
	unsigned required;          /* ... of which a template must have */
	/* The channel's limits under cfg (enabled: configured). */
	struct tc_chan_limits (*limits)(const struct tc_cfg *cfg);
	/* Composes (see tc_chan_compose). Reads cfg and store only. */
	int (*compose)(const struct tc_cfg *cfg, const struct tc_tpl_store *store,
		       const struct tc_chan_dlv *v, const json_t *data,
		       struct tc_msg *msg, char *why, size_t n);
	/* A live channel, its state opaque to the caller; NULL if out of
	 * memory. */
	void *(*open)(const struct tc_chan_env *env, const struct tc_cfg *cfg);
	int (*set_cfg)(void *state, const struct tc_cfg *cfg);
	int64_t (*next_at)(void *state, const struct tc_chan_dlv *v,
			   const struct tc_msg *msg, int64_t now);
	int (*send)(void *state, const struct tc_chan_dlv *v,
		    const struct tc_msg *msg, tc_chan_cb cb, void *data);
	/* Reads a provider's status callback (see tc_chan_receipt); NULL
	 * for a channel whose peers send none (webhooks answer at once). */
	int (*receipt)(void *state, const struct tc_receipt_in *in,
		       struct tc_receipt *out, char *why, size_t n);
	/* Reads an inbound message (see tc_chan_inbound); NULL when the
	 * channel takes none. */
	int (*inbound)(void *state, const struct tc_receipt_in *in,
		       struct tc_inbound *out, char *why, size_t n);
	/* A budget the channel keeps over a job's whole audience before any
	 * of it is sent (see tc_chan_budget_new); all four NULL when it keeps
	 * none. budget_new sets *state (NULL: none for this job) and returns
	 * 0 or -ENOMEM; budget_add and budget_end return 0, or TC_EINVAL (or
	 * -ENOMEM) with d. */
	int (*budget_new)(const struct tc_cfg *cfg, const struct tc_tpl_store *store,
			  const struct tc_job *job, void **state);
	int (*budget_add)(void *state, const char *group, unsigned group_ch,
			  const struct tc_member *m, bool keep, struct tc_diag *d);
	int (*budget_end)(void *state, struct tc_diag *d);
	void (*budget_free)(void *state);
	/* What it checks of a configuration with its own code (see
	 * tc_chan_cfg_check); NULL: nothing. */
	int (*cfg_check)(const struct tc_cfg *cfg, struct tc_diags *ds);
	/* Ends what is under way at once (see tc_chan_stop); NULL: nothing
	 * to end (its transfers go with the shared HTTP client). */
	void (*stop)(void *state);
	/* Writes the channel's own metric families (see tc_chan_metrics);
	 * NULL: none. Label values from a bounded set only. */
	void (*metrics)(void *state, struct tc_mout *o);
	void (*close)(void *state);
};

/* Requests under way to one SMS provider at once: the SMS channel's
 * concurrency is this per provider. More would only wait inside libcurl
 * for a connection, where each waiting transfer costs every other one. */
#define TC_SMS_CONNECTIONS 16

/* open, set_cfg, next_at, send and close are NULL for a channel that
 * composes but cannot send yet (limits then says enabled false). */
extern const struct tc_chan_ops tc_email_ops, tc_sms_ops, tc_webhook_ops;

/* Renders part p of v's template for v's group over data into msg
 * (msg->part[p], msg->source[p]). Returns 1 when rendered, 0 when the
 * template has no such part, or TC_EINVAL with why. */
int tc_chan_render(const struct tc_tpl_store *store, const struct tc_chan_dlv *v,
		   enum tc_part p, const json_t *data, struct tc_msg *msg,
		   char *why, size_t n);

/* ---- allow lists (ranges.c) ------------------------------------------------ */
/* An allow list copied out of the configuration, shared by reference by
 * the sends that started under it (a reload frees the configuration). */
struct tc_ranges {
	unsigned refs;
	struct tc_ranges_seen *seen; /* authorities already judged (ranges.c) */
	size_t n;
	struct tc_allow a[];
};

/* A copy of allow[n_allow], names included, with one reference; NULL when
 * out of memory. */
struct tc_ranges *tc_ranges_new(const struct tc_allow *allow, size_t n_allow);
/* Drops a reference; accepts NULL. */
void tc_ranges_unref(struct tc_ranges *r);
/* Judges url before anything is resolved: a URL naming an address (with
 * its port) outside r is refused now (-1, why says it is not in list, the
 * key's name); a host name is judged with each address it resolves to.
 * Returns 0 and the host name as a new string in *name (NULL for an
 * address), or -ENOMEM. What libcurl's parser made of a URL's
 * "scheme://authority/" is remembered for the next URL that starts with
 * the same bytes (a broadcast's URLs mostly share a few). */
int tc_ranges_check_url(struct tc_ranges *r, const char *url,
			const char *list, char **name, char *why, size_t n);

/* ---- webhook destinations (webhook.c) ----------------------------------- */
/* The destination of an http(s) URL as rates and holds key it: its host
 * and port as written (after "://", without user info, up to the path),
 * so two services on one host are two destinations. The allow list parses
 * the URL properly; this only needs a stable key. Sets *len; returns the
 * start. */
const char *tc_webhook_url_host(const char *url, size_t *len);

/* ---- per destination host: rate and "not before" (hosts.c) ------------- */
struct tc_hosts;

/* Hosts limited to rate each (NULL or a zero rate: no limit, only holds).
 * NULL when out of memory. */
struct tc_hosts *tc_hosts_new(const struct tc_rate_cfg *rate);
/* Reserves units for host (len bytes, case-insensitive): the first time >=
 * now it may send, after any hold and within its rate. */
int64_t tc_hosts_reserve(struct tc_hosts *h, const char *host, size_t len,
			 unsigned units, int64_t now);
/* Holds host back until until (a Retry-After). */
void tc_hosts_hold(struct tc_hosts *h, const char *host, size_t len, int64_t until,
		   int64_t now);
/* Takes a new rate (reload), keeping each host's bucket as tc_bucket_set says. */
void tc_hosts_set_rate(struct tc_hosts *h, const struct tc_rate_cfg *rate,
		       int64_t now);
size_t tc_hosts_count(const struct tc_hosts *h);
void tc_hosts_free(struct tc_hosts *h);

#endif
