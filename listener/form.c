/*
 * Reading one field of an application/x-www-form-urlencoded body (the
 * acknowledgement form's `response`). A pure function over the bytes it
 * is given: no allocation, nothing read past len, the output bounded by
 * the caller's buffer (a fuzzing entry point, like tc_req_feed).
 */
#include <errno.h>
#include <string.h>

#include "listener/listener.h"

long tc_form_get(const char *body, size_t len, const char *name, char *out,
		 size_t max)
{
	size_t i = 0, end, eq, nl = strlen(name);
	char key[TC_FORM_NAME_MAX + 1];
	long k;

	while (i < len) {
		const char *amp = memchr(body + i, '&', len - i);
		const char *e;

		end = amp ? (size_t)(amp - body) : len;
		e = memchr(body + i, '=', end - i);
		eq = e ? (size_t)(e - body) : end;
		k = tc_form_decode(body + i, eq - i, key, TC_FORM_NAME_MAX);
		if (k == (long)nl && memcmp(key, name, nl) == 0)
			return tc_form_decode(body + (e ? eq + 1 : end), e ? end - eq - 1 : 0,
				      out, max);
		i = end + 1;
	}
	return -ENOENT;
}
