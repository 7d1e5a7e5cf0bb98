/*
 * Numbers from outside: HTTP headers, Redis replies, configuration values,
 * stream entry ids. One parser for all of them, so that every integer that
 * crosses into tocsin is checked against a range before it is used, and an
 * overflow is an answer ("too large"), never undefined behaviour.
 *
 * Keeps true: a value is written only on success; "too large" is told
 * apart from "not a number", because a caller may cut a huge value to its
 * maximum (a Retry-After of a billion seconds means "a long time") where
 * it must refuse garbage.
 */
#include <string.h>

#include "common/common.h"

int tc_parse_uint(const char *s, size_t n, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	bool over = false;
	size_t i;

	if (!s || n == 0)
		return TC_EINVAL;
	for (i = 0; i < n; i++) {
		unsigned d = (unsigned char)s[i] - '0';

		if (d > 9)
			return TC_EINVAL;
		/* Past max already: read on, to tell garbage from big. */
		if (over || d > max || v > (max - d) / 10)
			over = true;
		else
			v = v * 10 + d;
	}
	if (over)
		return TC_ELIMIT;
	*out = v;
	return 0;
}

int tc_parse_uints(const char *s, uint64_t max, uint64_t *out)
{
	return tc_parse_uint(s, s ? strlen(s) : 0, max, out);
}

int tc_parse_int(const char *s, size_t n, int64_t min, int64_t max, int64_t *out)
{
	uint64_t v, lim;
	int r;

	if (!s || n == 0 || min > max)
		return TC_EINVAL;
	if (s[0] != '-') {
		if (max < 0)
			return tc_parse_uint(s, n, 0, &v) == TC_EINVAL ? TC_EINVAL : TC_ELIMIT;
		r = tc_parse_uint(s, n, (uint64_t)max, &v);
		if (r == 0 && (int64_t)v < min)
			return TC_ELIMIT;
		if (r == 0)
			*out = (int64_t)v;
		return r;
	}
	/* -min without overflow: INT64_MIN's magnitude is INT64_MAX + 1. */
	lim = min < 0 ? (uint64_t)(-(min + 1)) + 1 : 0;
	r = tc_parse_uint(s + 1, n - 1, lim, &v);
	if (r < 0)
		return r;
	if (v == 0) {
		if (min > 0)
			return TC_ELIMIT;
		*out = 0;
		return 0;
	}
	/* v <= lim <= 2^63, and v > 0: -(v - 1) - 1 cannot overflow. */
	if (-(int64_t)(v - 1) - 1 > max)
		return TC_ELIMIT;
	*out = -(int64_t)(v - 1) - 1;
	return 0;
}
