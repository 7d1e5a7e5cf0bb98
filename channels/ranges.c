/*
 * An allow list as the HTTP channels keep it: copied out of the
 * configuration (its names into the same allocation) and shared by the
 * sends that started under it, since a reload may free that configuration
 * while a connection is still being opened. And the check of a URL before
 * anything is resolved.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channels/internal.h"

void tc_ranges_unref(struct tc_ranges *r)
{
	if (r && --r->refs == 0)
		free(r);
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

int tc_ranges_check_url(const struct tc_ranges *r, const char *url,
			const char *list, char **name, char *why, size_t n)
{
	CURLU *u = curl_url();
	char *host = NULL, *port = NULL;
	struct sockaddr_in6 s6;
	struct sockaddr_in s4;
	struct sockaddr *sa = NULL;
	uint64_t port_no = 0;
	int rc = -1;

	*name = NULL;
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
	rc = 0;
out:
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return rc;
}
