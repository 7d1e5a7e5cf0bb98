/*
 * JSON string literals for what tocsin writes by hand (delivery records,
 * the webhook envelope): quoted, escaped, and always valid JSON, whatever
 * bytes came in. Invalid UTF-8 becomes U+FFFD; a value can be cut to a
 * byte budget at a character boundary.
 */
#include <string.h>

#include "common/common.h"

static const char hex[] = "0123456789abcdef";

/* Appends the escaped form of one byte that JSON cannot carry as is. */
static int escape_byte(struct tc_buf *b, unsigned char c)
{
	char esc[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };

	if (c == '"' || c == '\\') {
		esc[1] = (char)c;
		return tc_buf_add(b, esc, 2);
	}
	return tc_buf_add(b, esc, 6);
}

int tc_json_quote_cut(struct tc_buf *b, const char *s, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t start = b->len, left = strlen(s), used = 0, k, cost;
	int r = tc_buf_addc(b, '"');

	while (r == 0 && left) {
		const unsigned char *run = p;
		uint32_t cp;

		/* Runs of plain ASCII at once. */
		while (left && *p >= 0x20 && *p < 0x7f && *p != '"' && *p != '\\' &&
		       used < max) {
			p++;
			left--;
			used++;
		}
		if (p > run)
			r = tc_buf_add(b, run, (size_t)(p - run));
		if (r < 0 || !left || used >= max)
			break;
		if (*p < 0x80) {
			if (used + 1 > max)
				break;
			r = escape_byte(b, *p);
			p++;
			left--;
			used++;
			continue;
		}
		k = tc_utf8_decode(p, left, &cp);
		cost = k ? k : 3; /* a byte that is not UTF-8 becomes U+FFFD */
		if (used + cost > max)
			break; /* never half a character */
		if (k) {
			r = tc_buf_add(b, p, k);
		} else {
			k = 1;
			r = tc_buf_add(b, "\xef\xbf\xbd", 3);
		}
		p += k;
		left -= k;
		used += cost;
	}
	if (r == 0)
		r = tc_buf_addc(b, '"');
	if (r < 0 && b->data) {
		b->len = start;
		b->data[start] = '\0';
	}
	return r;
}

int tc_json_quote(struct tc_buf *b, const char *s)
{
	return tc_json_quote_cut(b, s, (size_t)-1);
}

int64_t tc_json_int(const json_t *o, const char *key, int64_t min, int64_t max)
{
	json_t *v = json_object_get(o, key);
	json_int_t i;

	if (!json_is_integer(v))
		return min;
	i = json_integer_value(v);
	return i < min ? min : i > max ? max : (int64_t)i;
}
