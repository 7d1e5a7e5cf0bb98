/*
 * The address validators (common/addr.c, redis.c, allow.c): one string from
 * outside (a roster cell, a job recipient, a configuration value) checked as
 * an email address, a phone number, a webhook URL, a Redis URL and a host
 * name. A normalized phone number must be E.164; what a check refuses must
 * say why without a control character (it becomes a diagnostic).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "common/phone.h"
#include "tests/fuzz/fuzz.h"

static void why_clean(const char *why, size_t n)
{
	fz_assert(strnlen(why, n) < n, "why is a terminated string");
	fz_shown(why, "why a check refused");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static size_t calls;
	struct tc_redis_where w;
	enum tc_phone_kind kind;
	char why[256], phone[TC_E164_MAX + 1];
	/* National spellings are read in a region every other call. */
	const char *region = calls++ % 2 ? "GB" : NULL;
	size_t i, len;
	char *s;

	/* The configuration's and a job's limit on an address, and one more. */
	if (size > TC_LIMIT_ADDRESS + 1)
		return 0;
	s = fz_strndup(data, size);
	why[0] = '\0';
	if (tc_addr_email_check(s, why, sizeof(why)) < 0)
		why_clean(why, sizeof(why));
	why[0] = '\0';
	if (tc_addr_phone_normalize(s, region, phone, &kind, why,
				    sizeof(why)) == 0) {
		len = strlen(phone);
		fz_assert(len >= 2 && len <= 16 && phone[0] == '+' && phone[1] != '0',
			  "E.164: '+', then up to 15 digits, not starting with 0");
		for (i = 1; i < len; i++)
			fz_assert(isdigit((unsigned char)phone[i]), "E.164: digits");
	} else {
		why_clean(why, sizeof(why));
	}
	why[0] = '\0';
	if (tc_addr_url_check(s, why, sizeof(why)) == 0)
		fz_assert(strncasecmp(s, "http://", 7) == 0 ||
			  strncasecmp(s, "https://", 8) == 0,
			  "a webhook URL is http or https");
	else
		why_clean(why, sizeof(why));
	if (tc_redis_url_parse(s, &w) == 0)
		fz_assert(strnlen(w.host, sizeof(w.host)) < sizeof(w.host) &&
			  w.port <= 65535 && w.db <= 65535,
			  "a Redis URL's parts within their ranges");
	(void)tc_host_name_ok(s, strlen(s));
	free(s);
	return 0;
}
