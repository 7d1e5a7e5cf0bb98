/*
 * Per destination host: a token bucket (a channel's per-host rate) and a
 * "not before" (a peer's Retry-After), so that a slow or throttling host
 * holds back its own deliveries and no others.
 *
 * Keeps true: at most TC_LIMIT_HOSTS hosts are tracked; past that the one
 * used least recently is forgotten (its bucket starts full again if it
 * comes back), which only matters with that many hosts busy at once.
 * Without a rate only held hosts are tracked.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "channels/internal.h"

#define SLOTS 4096 /* hash chains */

struct host {
	struct host *chain;         /* in its hash slot */
	struct host *newer, *older; /* by last use */
	struct tc_bucket bucket;
	int64_t not_before;         /* 0: none */
	size_t len;
	char name[];                /* lowercase */
};

struct tc_hosts {
	double per_second;          /* 0: no rate, only "not before" */
	unsigned burst;
	size_t n;
	struct host *newest, *oldest;
	struct host *slot[SLOTS];
};

static size_t hash(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	size_t i;

	for (i = 0; i < n; i++) {
		char c = s[i];

		h ^= (unsigned char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
		h *= 1099511628211ULL;
	}
	return (size_t)(h % SLOTS);
}

struct tc_hosts *tc_hosts_new(const struct tc_rate_cfg *rate)
{
	struct tc_hosts *h = calloc(1, sizeof(*h));

	if (h && rate) {
		h->per_second = rate->per_second;
		h->burst = rate->burst;
	}
	return h;
}

static void unlink_lru(struct tc_hosts *h, struct host *e)
{
	if (e->newer)
		e->newer->older = e->older;
	else
		h->newest = e->older;
	if (e->older)
		e->older->newer = e->newer;
	else
		h->oldest = e->newer;
	e->newer = e->older = NULL;
}

static void push_newest(struct tc_hosts *h, struct host *e)
{
	e->older = h->newest;
	e->newer = NULL;
	if (h->newest)
		h->newest->newer = e;
	h->newest = e;
	if (!h->oldest)
		h->oldest = e;
}

static void forget(struct tc_hosts *h, struct host *e)
{
	struct host **p = &h->slot[hash(e->name, e->len)];

	while (*p != e)
		p = &(*p)->chain;
	*p = e->chain;
	unlink_lru(h, e);
	h->n--;
	free(e);
}

/* The entry of host (len bytes), made the most recently used; NULL when
 * absent. */
static struct host *lookup(struct tc_hosts *h, const char *host, size_t len)
{
	struct host *e;

	for (e = h->slot[hash(host, len)]; e; e = e->chain)
		if (e->len == len && strncasecmp(e->name, host, len) == 0) {
			unlink_lru(h, e);
			push_newest(h, e);
			return e;
		}
	return NULL;
}

/* The entry of host (len bytes), made when absent; NULL if out of memory. */
static struct host *find(struct tc_hosts *h, const char *host, size_t len,
			 int64_t now)
{
	size_t s = hash(host, len), i;
	struct host *e = lookup(h, host, len);

	if (e)
		return e;
	if (h->n >= TC_LIMIT_HOSTS)
		forget(h, h->oldest);
	e = calloc(1, sizeof(*e) + len + 1);
	if (!e)
		return NULL;
	for (i = 0; i < len; i++)
		e->name[i] = (char)(host[i] >= 'A' && host[i] <= 'Z' ? host[i] + 32 : host[i]);
	e->len = len;
	tc_bucket_init(&e->bucket, h->per_second, h->burst, now);
	e->chain = h->slot[s];
	h->slot[s] = e;
	push_newest(h, e);
	h->n++;
	return e;
}

int64_t tc_hosts_reserve(struct tc_hosts *h, const char *host, size_t len,
			 unsigned units, int64_t now)
{
	struct host *e;
	int64_t at;

	if (!h->per_second) {
		/* Only a hold limits it: a host is looked up, never added,
		 * and forgotten once its hold has passed. Adding every host
		 * sent to would track them all, and enough of them would push
		 * a held host out of the table, its hold lost. */
		e = lookup(h, host, len);
		if (!e)
			return now;
		if (e->not_before > now)
			return e->not_before;
		forget(h, e);
		return now;
	}
	e = find(h, host, len, now);
	if (!e)
		return now;
	at = e->not_before > now ? e->not_before : now;
	return tc_bucket_reserve(&e->bucket, units, at);
}

void tc_hosts_hold(struct tc_hosts *h, const char *host, size_t len, int64_t until,
		   int64_t now)
{
	struct host *e = find(h, host, len, now);

	if (e && until > e->not_before)
		e->not_before = until;
}

void tc_hosts_set_rate(struct tc_hosts *h, const struct tc_rate_cfg *rate,
		       int64_t now)
{
	struct host *e;

	h->per_second = rate ? rate->per_second : 0;
	h->burst = rate ? rate->burst : 0;
	for (e = h->newest; e; e = e->older)
		tc_bucket_set(&e->bucket, h->per_second, h->burst, now);
}

size_t tc_hosts_count(const struct tc_hosts *h)
{
	return h->n;
}

void tc_hosts_free(struct tc_hosts *h)
{
	if (!h)
		return;
	while (h->oldest)
		forget(h, h->oldest);
	free(h);
}
