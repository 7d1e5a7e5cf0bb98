/*
 * A JSON validator: whether a rendered webhook.json is one JSON text (RFC
 * 8259), without building it. Every webhook body is checked before it is
 * sent; building a jansson tree for that cost more than rendering the body
 * (bench/README.md), so this scanner answers yes or no, and jansson is only
 * asked, on a "no", to say why.
 *
 * Keeps true: it accepts nothing jansson would refuse on the fields that
 * matter to a receiver (grammar, UTF-8, escapes, surrogate pairs, control
 * characters, nesting up to 2048 levels); no allocation, no recursion.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/common.h"
#include "templates/internal.h"

#define JSON_MAX_DEPTH 2048 /* jansson's own limit */

struct scan {
	const unsigned char *p, *end;
};

static void skip_ws(struct scan *s)
{
	while (s->p < s->end &&
	       (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

static bool lit(struct scan *s, const char *word)
{
	while (*word) {
		if (s->p >= s->end || *s->p != (unsigned char)*word)
			return false;
		s->p++;
		word++;
	}
	return true;
}

static bool digits(struct scan *s)
{
	const unsigned char *start = s->p;

	while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
		s->p++;
	return s->p > start;
}

static bool number(struct scan *s)
{
	if (s->p < s->end && *s->p == '-')
		s->p++;
	if (s->p < s->end && *s->p == '0')
		s->p++;
	else if (!digits(s))
		return false;
	if (s->p < s->end && *s->p == '.') {
		s->p++;
		if (!digits(s))
			return false;
	}
	if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
		s->p++;
		if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
			s->p++;
		if (!digits(s))
			return false;
	}
	return true;
}

static int hex4(struct scan *s)
{
	int v = 0, i;

	for (i = 0; i < 4; i++, s->p++) {
		int c;

		if (s->p >= s->end)
			return -1;
		c = *s->p;
		if (c >= '0' && c <= '9')
			c -= '0';
		else if (c >= 'a' && c <= 'f')
			c -= 'a' - 10;
		else if (c >= 'A' && c <= 'F')
			c -= 'A' - 10;
		else
			return -1;
		v = v * 16 + c;
	}
	return v;
}

static bool escape(struct scan *s)
{
	int u, lo;

	if (s->p >= s->end)
		return false;
	switch (*s->p++) {
	case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
		return true;
	case 'u':
		u = hex4(s);
		if (u < 0 || (u >= 0xdc00 && u <= 0xdfff))
			return false;
		if (u < 0xd800 || u > 0xdbff)
			return true;
		/* A high surrogate needs its low half. */
		if (!lit(s, "\\u"))
			return false;
		lo = hex4(s);
		return lo >= 0xdc00 && lo <= 0xdfff;
	default:
		return false;
	}
}

/* Whether each of the 8 bytes at p is printable ASCII other than '"' and
 * '\\': nothing that ends, escapes or must be decoded in a string. Eight
 * at a time, as a body is mostly such text: a byte below 0x20, equal to
 * '"' or '\\' (zero after the XOR), or from 0x80 up sets a top bit, and
 * these tests have no false negatives (a false positive only sends the
 * bytes through the byte-by-byte path). */
static bool plain8(const unsigned char *p)
{
	const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
	uint64_t v, q, b;

	memcpy(&v, p, 8);
	q = v ^ (ones * '"');
	b = v ^ (ones * '\\');
	return ((((v - ones * 0x20) & ~v) | ((q - ones) & ~q) | ((b - ones) & ~b) | v) &
		high) == 0;
}

/* A string, its opening quote already consumed. */
static bool string(struct scan *s)
{
	while (s->p < s->end) {
		unsigned c;

		if (s->end - s->p >= 8 && plain8(s->p)) {
			s->p += 8;
			continue;
		}
		c = *s->p;

		if (c == '"') {
			s->p++;
			return true;
		}
		if (c < 0x20)
			return false;
		if (c == '\\') {
			s->p++;
			if (!escape(s))
				return false;
		} else if (c >= 0x80) {
			uint32_t cp;
			size_t n = tc_utf8_decode(s->p, (size_t)(s->end - s->p), &cp);

			if (!n)
				return false;
			s->p += n;
		} else {
			s->p++;
		}
	}
	return false;
}

/* The grammar as a small state machine over a stack of open containers. */
bool tc_json_valid(const char *text, size_t len)
{
	char stack[JSON_MAX_DEPTH]; /* '{' or '[' */
	struct scan s = { (const unsigned char *)text, (const unsigned char *)text + len };
	int depth = 0;

value:
	skip_ws(&s);
	if (s.p >= s.end)
		return false;
	switch (*s.p) {
	case '{':
	case '[':
		if (depth == JSON_MAX_DEPTH)
			return false;
		stack[depth++] = (char)*s.p++;
		skip_ws(&s);
		if (s.p < s.end && *s.p == (stack[depth - 1] == '{' ? '}' : ']')) {
			s.p++;
			depth--;
			goto next;
		}
		if (stack[depth - 1] == '[')
			goto value;
		goto key;
	case '"':
		s.p++;
		if (!string(&s))
			return false;
		break;
	case 't':
		if (!lit(&s, "true"))
			return false;
		break;
	case 'f':
		if (!lit(&s, "false"))
			return false;
		break;
	case 'n':
		if (!lit(&s, "null"))
			return false;
		break;
	default:
		if (!number(&s))
			return false;
		break;
	}
next:
	skip_ws(&s);
	if (depth == 0)
		return s.p == s.end;
	if (s.p >= s.end)
		return false;
	if (*s.p == ',') {
		s.p++;
		if (stack[depth - 1] == '[')
			goto value;
		skip_ws(&s);
		goto key;
	}
	if (*s.p != (stack[depth - 1] == '{' ? '}' : ']'))
		return false;
	s.p++;
	depth--;
	goto next;
key:
	if (s.p >= s.end || *s.p != '"')
		return false;
	s.p++;
	if (!string(&s))
		return false;
	skip_ws(&s);
	if (s.p >= s.end || *s.p != ':')
		return false;
	s.p++;
	goto value;
}
