/*
 * Addresses: what an email address and a webhook URL must
 * look like before tocsin accepts them (phone numbers: phone.cc). Checks are deliberately strict
 * about shape and silent about reachability.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "common/common.h"

int tc_addr_email_check(const char *s, char *why, size_t n)
{
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
	snprintf(why, n, "not an email address '%.200s'", s);
	return TC_EINVAL;
}

static const char *phone_why(enum tc_phone_err e)
{
	switch (e) {
	case TC_PHONE_NO_COUNTRY:
		return "no country: write it as +<country> <number>, or set "
		       "channels.sms.default_region";
	case TC_PHONE_TOO_SHORT:
		return "too short";
	case TC_PHONE_TOO_LONG:
		return "too long";
	case TC_PHONE_BAD_COUNTRY:
		return "no such country code";
	case TC_PHONE_BAD_LENGTH:
		return "not a possible length for its country";
	default:
		return "not a phone number";
	}
}

int tc_addr_phone_normalize(const char *s, const char *region, char *out,
			    enum tc_phone_kind *kind, char *why, size_t n)
{
	char shown[TC_LIMIT_LOG_VALUE + 16];
	enum tc_phone_err e;

	*kind = TC_PHONE_OTHER;
	tc_log_quote(shown, sizeof(shown), s);
	if (strlen(s) > TC_PHONE_MAX_INPUT) {
		snprintf(why, n, "phone number %.80s longer than %d bytes", shown,
			 TC_PHONE_MAX_INPUT);
		return TC_EINVAL;
	}
	e = tc_phone_e164(s, region, out, TC_E164_MAX + 1, kind);
	if (e == TC_PHONE_NO_MEMORY) {
		snprintf(why, n, "out of memory");
		return -ENOMEM;
	}
	if (e != TC_PHONE_OK) {
		snprintf(why, n, "not a possible phone number %.100s: %s", shown,
			 phone_why(e));
		return TC_EINVAL;
	}
	return 0;
}

int tc_addr_url_check(const char *s, char *why, size_t n)
{
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
		snprintf(why, n, "not a URL '%.200s'", s);
		goto out;
	}
	if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) {
		snprintf(why, n, "not an http or https URL '%.200s'", s);
		goto out;
	}
	/* curl accepts "http:host" and friends; we want the whole form. */
	if (strncasecmp(s, "http://", 7) != 0 && strncasecmp(s, "https://", 8) != 0) {
		snprintf(why, n, "not an absolute URL '%.200s'", s);
		goto out;
	}
	if (strchr(s, ' ') || strchr(s, '\n') || strchr(s, '\r')) {
		snprintf(why, n, "URL contains white space '%.200s'", s);
		goto out;
	}
	r = 0;
out:
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return r;
}
