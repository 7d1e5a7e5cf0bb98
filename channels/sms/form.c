/*
 * A provider's form-encoded callback (application/x-www-form-urlencoded),
 * read into its decoded fields: Twilio signs every field of the body, so
 * the whole form is needed, not one value. Pure and bounded: at most
 * TC_LIMIT_RECEIPT_FIELDS fields, names and values decoded into one
 * buffer no larger than the body.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "channels/sms/provider.h"

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

/* Decodes [s, e) to out ('+' a space, %XX a byte); returns its length or
 * TC_EINVAL (a bad escape, a NUL byte). */
static long decode(const char *s, const char *e, char *out)
{
	long n = 0;
	int hi, lo;

	for (; s < e; s++) {
		if (*s == '+') {
			out[n++] = ' ';
		} else if (*s == '%') {
			if (e - s < 3 || (hi = hexval(s[1])) < 0 || (lo = hexval(s[2])) < 0)
				return TC_EINVAL;
			if (hi == 0 && lo == 0)
				return TC_EINVAL;
			out[n++] = (char)(hi * 16 + lo);
			s += 2;
		} else if (*s == '\0') {
			return TC_EINVAL;
		} else {
			out[n++] = *s;
		}
	}
	out[n] = '\0';
	return n;
}

int tc_sms_form_read(const char *body, size_t len, struct tc_sms_form *f)
{
	const char *p = body, *end = body + len, *amp, *eq;
	size_t at = 0;
	long k;

	memset(f, 0, sizeof(*f));
	/* each decoded field is no longer than its bytes, plus two NULs */
	f->store = malloc(len + 2 * TC_LIMIT_RECEIPT_FIELDS + 1);
	if (!f->store)
		return -ENOMEM;
	while (p < end) {
		amp = memchr(p, '&', (size_t)(end - p));
		if (!amp)
			amp = end;
		if (amp > p) {
			if (f->n == TC_LIMIT_RECEIPT_FIELDS)
				return TC_ELIMIT;
			eq = memchr(p, '=', (size_t)(amp - p));
			if (!eq)
				eq = amp;
			f->name[f->n] = f->store + at;
			if ((k = decode(p, eq, f->store + at)) < 0)
				return (int)k;
			at += (size_t)k + 1;
			f->value[f->n] = f->store + at;
			if ((k = decode(eq < amp ? eq + 1 : amp, amp, f->store + at)) < 0)
				return (int)k;
			at += (size_t)k + 1;
			f->n++;
		}
		p = amp + 1;
	}
	return 0;
}

const char *tc_sms_form_value(const struct tc_sms_form *f, const char *name)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		if (strcmp(f->name[i], name) == 0)
			return f->value[i];
	return NULL;
}

void tc_sms_form_release(struct tc_sms_form *f)
{
	free(f->store);
	f->store = NULL;
	f->n = 0;
}
