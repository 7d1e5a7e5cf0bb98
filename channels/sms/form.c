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

int tc_sms_form_read(const char *body, size_t len, struct tc_sms_form *f)
{
	const char *p = body, *end = body + len, *amp, *eq, *v;
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
			v = eq < amp ? eq + 1 : amp;
			/* a decoded name or value is no longer than its bytes */
			f->name[f->n] = f->store + at;
			k = tc_form_decode(p, (size_t)(eq - p), f->store + at, (size_t)(eq - p));
			if (k < 0)
				return (int)k;
			at += (size_t)k + 1;
			f->value[f->n] = f->store + at;
			k = tc_form_decode(v, (size_t)(amp - v), f->store + at, (size_t)(amp - v));
			if (k < 0)
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
