/*
 * Reading one field of an application/x-www-form-urlencoded body (the
 * acknowledgement form's `response`). A pure function over the bytes it
 * is given: no allocation, nothing read past len, the output bounded by
 * the caller's buffer (a fuzzing entry point, like tc_req_feed).
 */
#include <errno.h>
#include <string.h>

#include "listener/listener.h"

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes s[0..n) ('+' is a space, %XX a byte) into out (max bytes, and a
 * NUL). Returns the length, TC_EINVAL for a bad escape or a NUL byte, or
 * TC_ELIMIT past max. */
static long decode(const char *s, size_t n, char *out, size_t max)
{
	size_t i, o = 0;
	int hi, lo;
	char c;

	for (i = 0; i < n; i++) {
		c = s[i];
		if (c == '+') {
			c = ' ';
		} else if (c == '%') {
			if (n - i < 3)
				return TC_EINVAL;
			hi = hexval(s[i + 1]);
			lo = hexval(s[i + 2]);
			if (hi < 0 || lo < 0)
				return TC_EINVAL;
			c = (char)(hi << 4 | lo);
			i += 2;
		}
		if (c == '\0')
			return TC_EINVAL;
		if (o == max)
			return TC_ELIMIT;
		out[o++] = c;
	}
	out[o] = '\0';
	return (long)o;
}

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
		k = decode(body + i, eq - i, key, TC_FORM_NAME_MAX);
		if (k == (long)nl && memcmp(key, name, nl) == 0)
			return decode(body + (e ? eq + 1 : end), e ? end - eq - 1 : 0,
				      out, max);
		i = end + 1;
	}
	return -ENOENT;
}
