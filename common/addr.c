/*
 * Addresses: what an email address, a phone number and a webhook URL must
 * look like before tocsin accepts them. Checks are deliberately strict
 * about shape and silent about reachability.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "common/common.h"

/* The value as a message shows it: escaped, at most SHOW_MAX bytes of it. */
#define SHOW_MAX 200
#define SHOW_BYTES (4 * SHOW_MAX + 8)
static const char *show(char *q, const char *s)
{
	return tc_diag_show(q, SHOW_BYTES, s, strlen(s), SHOW_MAX);
}

int tc_addr_email_check(const char *s, char *why, size_t n)
{
	char q[SHOW_BYTES];
	const char *at = strrchr(s, '@');
	const char *p;
	size_t len = strlen(s);

	if (len > 254 || !at || at == s || !at[1] || strchr(s, '@') != at)
		goto bad;
	for (p = s; *p; p++) {
		unsigned char c = (unsigned char)*p;

		/* No spaces, controls, quotes or header-breaking characters. */
		if (c <= ' ' || c == 0x7f || c == '"' || c == '<' || c == '>' ||
		    c == ',' || c == ';' || c == '(' || c == ')' || c == '\\')
			goto bad;
	}
	/* The domain: labels of letters, digits and '-', at least one dot. */
	if (!strchr(at + 1, '.') || at[1] == '.' || s[len - 1] == '.' ||
	    strstr(at, ".."))
		goto bad;
	for (p = at + 1; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.' &&
		    (unsigned char)*p < 0x80)
			goto bad;
	return 0;
bad:
	snprintf(why, n, "not an email address '%s'", show(q, s));
	return TC_EINVAL;
}

int tc_addr_phone_normalize(const char *s, char *out, char *why, size_t n)
{
	char q[SHOW_BYTES];
	char tmp[17];
	size_t o = 0;
	const char *p;

	if (*s != '+')
		goto bad;
	tmp[o++] = '+';
	for (p = s + 1; *p; p++) {
		if (*p == ' ' || *p == '-' || *p == '.' || *p == '(' || *p == ')')
			continue;
		if (!isdigit((unsigned char)*p) || o >= 16)
			goto bad;
		tmp[o++] = *p;
	}
	tmp[o] = '\0';
	/* E.164: a country code that does not start with 0, at most 15 digits. */
	if (o < 8 || tmp[1] == '0')
		goto bad;
	memcpy(out, tmp, o + 1);
	return 0;
bad:
	snprintf(why, n, "not an E.164 number '%s'", show(q, s));
	return TC_EINVAL;
}

int tc_addr_url_check(const char *s, char *why, size_t n)
{
	char q[SHOW_BYTES];
	CURLU *u;
	char *scheme = NULL, *host = NULL;
	int r = TC_EINVAL;

	if (strlen(s) > TC_LIMIT_ADDRESS) {
		snprintf(why, n, "URL longer than %d bytes", TC_LIMIT_ADDRESS);
		return TC_ELIMIT;
	}
	u = curl_url();
	if (!u) {
		snprintf(why, n, "out of memory");
		return TC_EINVAL;
	}
	if (curl_url_set(u, CURLUPART_URL, s, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		snprintf(why, n, "not a URL '%s'", show(q, s));
		goto out;
	}
	if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) {
		snprintf(why, n, "not an http or https URL '%s'", show(q, s));
		goto out;
	}
	/* curl accepts "http:host" and friends; we want the whole form. */
	if (strncasecmp(s, "http://", 7) != 0 && strncasecmp(s, "https://", 8) != 0) {
		snprintf(why, n, "not an absolute URL '%s'", show(q, s));
		goto out;
	}
	if (strchr(s, ' ') || strchr(s, '\n') || strchr(s, '\r')) {
		snprintf(why, n, "URL contains white space '%s'", show(q, s));
		goto out;
	}
	r = 0;
out:
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return r;
}
