/*
 * tc_buf: growable bytes with a hard maximum. Every append either fits
 * completely or fails and leaves the buffer as it was; the data stays
 * NUL-terminated so it can be used as a C string.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"

void tc_buf_init(struct tc_buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

void tc_buf_release(struct tc_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

void tc_buf_reset(struct tc_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

/* Makes room for n more bytes and the terminating NUL. */
static int buf_grow(struct tc_buf *b, size_t n)
{
	size_t want, cap;
	char *p;

	if (n > b->max - b->len)
		return TC_ELIMIT;
	want = b->len + n + 1;
	if (want <= b->cap)
		return 0;
	/* Start at 256: most of what tocsin builds (records, envelopes)
	 * then takes one or two allocations. */
	cap = b->cap ? b->cap : 256;
	while (cap < want)
		cap *= 2;
	if (cap > b->max + 1)
		cap = b->max + 1;
	p = realloc(b->data, cap);
	if (!p)
		return -ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

int tc_buf_add(struct tc_buf *b, const void *p, size_t n)
{
	int r = buf_grow(b, n);

	if (r < 0)
		return r;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int tc_buf_adds(struct tc_buf *b, const char *s)
{
	return tc_buf_add(b, s, strlen(s));
}

int tc_buf_addc(struct tc_buf *b, char c)
{
	return tc_buf_add(b, &c, 1);
}

size_t tc_utoa(uint64_t v, char *out)
{
	char d[TC_UTOA_MAX];
	size_t i = sizeof(d), n;

	do {
		d[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	n = sizeof(d) - i;
	memcpy(out, d + i, n);
	out[n] = '\0';
	return n;
}

int tc_buf_add_uint(struct tc_buf *b, uint64_t v)
{
	char d[TC_UTOA_MAX];

	return tc_buf_add(b, d, tc_utoa(v, d));
}

size_t tc_join(char *out, size_t n, ...)
{
	const char *s;
	size_t len = 0, k;
	va_list ap;

	va_start(ap, n);
	while ((s = va_arg(ap, const char *)) != NULL && len + 1 < n) {
		k = strnlen(s, n - 1 - len);
		memcpy(out + len, s, k);
		len += k;
	}
	va_end(ap);
	out[len] = '\0';
	return len;
}

int tc_buf_printf(struct tc_buf *b, const char *fmt, ...)
{
	va_list ap;
	size_t room = b->cap > b->len ? b->cap - b->len : 0;
	int n, r;

	/* Try the room there is first: one pass in the common case. */
	va_start(ap, fmt);
	n = vsnprintf(room ? b->data + b->len : NULL, room, fmt, ap);
	va_end(ap);
	if (n < 0)
		return TC_EINVAL;
	if ((size_t)n < room && (size_t)n <= b->max - b->len) {
		b->len += (size_t)n;
		return 0;
	}
	if (b->data)
		b->data[b->len] = '\0'; /* undo a cut attempt */
	r = buf_grow(b, (size_t)n);
	if (r < 0)
		return r;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

char *tc_buf_take(struct tc_buf *b)
{
	char *p = b->data;

	if (!p)
		p = calloc(1, 1);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	return p;
}

static const char *html_entity(char ch)
{
	switch (ch) {
	case '&': return "&amp;";
	case '<': return "&lt;";
	case '>': return "&gt;";
	case '"': return "&quot;";
	case '\'': return "&#39;";
	default: return NULL;
	}
}

/* Which bytes HTML escaping replaces: a table, so that plain runs are
 * skipped at one lookup a byte. */
static const unsigned char html_special[256] = {
	['&'] = 1, ['<'] = 1, ['>'] = 1, ['"'] = 1, ['\''] = 1,
};

int tc_buf_add_html(struct tc_buf *b, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, run = 0;
	int r;

	for (;;) {
		const char *ent;

		while (i < n && !html_special[u[i]])
			i++;
		if (i == n)
			break;
		ent = html_entity(s[i]);
		r = tc_buf_add(b, s + run, i - run);
		if (r == 0)
			r = tc_buf_adds(b, ent);
		if (r < 0)
			return r;
		run = ++i;
	}
	return tc_buf_add(b, s + run, n - run);
}
