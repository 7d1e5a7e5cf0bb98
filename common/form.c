/*
 * Decoding one name or value of an application/x-www-form-urlencoded body:
 * the acknowledgement form's answer (listener/form.c) and a provider's
 * callback (channels/sms/form.c) go through the same bytes-to-text rules.
 * Pure and bounded: nothing read past n, nothing written past max.
 */
#include <string.h>

#include "common/common.h"

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

long tc_form_decode(const char *s, size_t n, char *out, size_t max)
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
