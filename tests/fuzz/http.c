/*
 * What tocsind reads of an HTTP response's headers (channels/http.c): a
 * Retry-After value, delay-seconds or an HTTP date in any of its three
 * forms, and the number and time readers under it (common/parse.c,
 * time.c). A wait must come out within 0..TC_RETRY_AFTER_MAX_MS, a date
 * within years 0..9999.
 */
#include <stdlib.h>

#include "channels/channels.h"
#include "tests/fuzz/fuzz.h"

/* 2026-11-30T10:00:00Z: a fixed "now", so a crash replays. */
#define NOW_MS 1795946400000LL

/* Longer than a header line libcurl hands over would not be a header. */
#define MAX_VALUE (CURL_MAX_HTTP_HEADER)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *v = (const char *)data;
	uint64_t u, ms;
	int64_t at, i;
	char *s;

	if (size > MAX_VALUE)
		return 0;
	if (tc_http_retry_after(v, size, NOW_MS, &at) == 0)
		fz_assert(at >= 0 && at <= TC_RETRY_AFTER_MAX_MS,
			  "a Retry-After wait within 0..TC_RETRY_AFTER_MAX_MS");
	if (tc_http_retry_after(v, size, 0, &at) == 0)
		fz_assert(at >= 0 && at <= TC_RETRY_AFTER_MAX_MS,
			  "a Retry-After wait within 0..TC_RETRY_AFTER_MAX_MS");
	if (tc_http_date_parse(v, size, &at) == 0)
		fz_assert(at >= -62167219200000LL && at <= TC_MAX_MS,
			  "an HTTP date within years 0..9999");
	if (tc_parse_uint(v, size, 65535, &u) == 0)
		fz_assert(u <= 65535, "a number within its maximum");
	if (tc_parse_int(v, size, -1000, 1000, &i) == 0)
		fz_assert(i >= -1000 && i <= 1000, "a number within min..max");
	s = fz_strndup(data, size);
	if (tc_time_parse(s, &at) == 0)
		fz_assert(at >= -62167219200000LL && at <= TC_MAX_MS,
			  "an RFC 3339 time within years 0..9999");
	(void)tc_duration_parse(s, &ms);
	free(s);
	return 0;
}
