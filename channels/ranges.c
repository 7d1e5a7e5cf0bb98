/*
 * An allow list as the HTTP channels keep it: copied out of the
 * configuration (its names into the same allocation) and shared by the
 * sends that started under it, since a reload may free that configuration
 * while a connection is still being opened. And the check of a URL before
 * anything is resolved.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channels/internal.h"

#define SEEN_SLOTS 64     /* authorities remembered per allow list */
#define SEEN_KEY_MAX 256  /* the longest "scheme://authority/" remembered */

/* An authority libcurl's parser judged allowed: the URL's bytes up to and
 * including the first '/' after "scheme://", and the host name to
 * resolve ("" for an address, which was checked against the list). */
struct tc_ranges_seen {
	struct {
		size_t len;
		char key[SEEN_KEY_MAX];
		char name[SEEN_KEY_MAX];
	} slot[SEEN_SLOTS];
};

void tc_ranges_unref(struct tc_ranges *r)
{
	if (r && --r->refs == 0) {
		free(r->seen);
		free(r);
	}
}

struct tc_ranges *tc_ranges_new(const struct tc_allow *allow, size_t n_allow)
{
	size_t i, len, names = 0;
	struct tc_ranges *r;
	char *p;

	for (i = 0; i < n_allow; i++)
		if (allow[i].host)
			names += strlen(allow[i].host) + 1;
	r = malloc(sizeof(*r) + n_allow * sizeof(struct tc_allow) + names);
	if (!r)
		return NULL;
	r->refs = 1;
	r->seen = NULL;
	r->n = n_allow;
	p = (char *)&r->a[r->n];
	for (i = 0; i < r->n; i++) {
		r->a[i] = allow[i];
		if (!allow[i].host)
			continue;
		len = strlen(allow[i].host) + 1;
		memcpy(p, allow[i].host, len);
		r->a[i].host = p;
		p += len;
	}
	return r;
}

/* The length of url's "scheme://authority/", or 0 when it has none that
 * fits a slot. libcurl's parser ends the authority at the first '/' after
 * "scheme://" at the latest and reads nothing after it to find the host
 * and port, so every URL starting with these bytes has the host and port
 * of the one judged. */
static size_t seen_key_len(const char *url)
{
	const char *p = url, *slash;

	if (!isalpha((unsigned char)*p))
		return 0;
	while (isalnum((unsigned char)*p) || *p == '+' || *p == '-' || *p == '.')
		p++;
	if (strncmp(p, "://", 3) != 0)
		return 0;
	slash = strchr(p + 3, '/');
	if (!slash || (size_t)(slash + 1 - url) > SEEN_KEY_MAX)
		return 0;
	return (size_t)(slash + 1 - url);
}

static unsigned seen_slot(const char *key, size_t len)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ (unsigned char)key[i]) * 16777619u;
	return h % SEEN_SLOTS;
}

/* The judgement remembered for url's authority: 1 (and *name) if there is
 * one, 0 if not, -ENOMEM. */
static int seen_find(const struct tc_ranges *r, const char *url, size_t len,
		     char **name)
{
	unsigned i;

	if (!r->seen || !len)
		return 0;
	i = seen_slot(url, len);
	if (r->seen->slot[i].len != len || memcmp(r->seen->slot[i].key, url, len) != 0)
		return 0;
	*name = NULL;
	if (r->seen->slot[i].name[0]) {
		*name = strdup(r->seen->slot[i].name);
		if (!*name)
			return -ENOMEM;
	}
	return 1;
}

/* Remembers that url's authority was allowed (name: the host to resolve,
 * NULL for an address); a name too long to keep is not remembered. */
static void seen_keep(struct tc_ranges *r, const char *url, size_t len,
		      const char *name)
{
	unsigned i;

	if (!len || (name && strlen(name) >= SEEN_KEY_MAX))
		return;
	if (!r->seen)
		r->seen = calloc(1, sizeof(*r->seen));
	if (!r->seen)
		return;
	i = seen_slot(url, len);
	memcpy(r->seen->slot[i].key, url, len);
	r->seen->slot[i].len = len;
	snprintf(r->seen->slot[i].name, SEEN_KEY_MAX, "%s", name ? name : "");
}

int tc_ranges_check_url(struct tc_ranges *r, const char *url,
			const char *list, char **name, char *why, size_t n)
{
	size_t key_len = seen_key_len(url);
	int seen = seen_find(r, url, key_len, name);
	CURLU *u;
	char *host = NULL, *port = NULL;
	struct sockaddr_in6 s6;
	struct sockaddr_in s4;
	struct sockaddr *sa = NULL;
	uint64_t port_no = 0;
	int rc = -1;

	if (seen != 0)
		return seen < 0 ? seen : 0;
	*name = NULL;
	u = curl_url();
	if (!u || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK ||
	    tc_parse_uints(port, 65535, &port_no) < 0) {
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
		s4.sin_port = htons((uint16_t)port_no);
		sa = (struct sockaddr *)&s4;
	} else if (inet_pton(AF_INET6, host, &s6.sin6_addr) == 1) {
		s6.sin6_family = AF_INET6;
		s6.sin6_port = htons((uint16_t)port_no);
		sa = (struct sockaddr *)&s6;
	}
	if (sa && !tc_allow_match(r->a, r->n, NULL, sa)) {
		snprintf(why, n, "destination %.200s is not in %s", host, list);
		goto out;
	}
	if (!sa) {
		*name = strdup(host);
		if (!*name) {
			rc = -ENOMEM;
			goto out;
		}
	}
	seen_keep(r, url, key_len, *name);
	rc = 0;
out:
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return rc;
}
