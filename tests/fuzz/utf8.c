/*
 * UTF-8 and what is built on it (common/utf8.c, json.c, log.c): any bytes
 * decoded character by character, quoted as a JSON string (whole and cut
 * to a budget) and quoted for a log line. A decoded character must encode
 * back to the same bytes (no overlong form, no surrogate); a JSON string
 * must parse back, to the input itself when it was valid UTF-8; a log
 * value must hold nothing a terminal would act on.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/common.h"
#include "tests/fuzz/fuzz.h"

static size_t encode(uint32_t cp, unsigned char *out)
{
	if (cp < 0x80) {
		out[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (unsigned char)(0xc0 | cp >> 6);
		out[1] = (unsigned char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (unsigned char)(0xe0 | cp >> 12);
		out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (unsigned char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (unsigned char)(0xf0 | cp >> 18);
	out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (unsigned char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Decodes s throughout; returns whether it is all valid. */
static bool decode_all(const unsigned char *s, size_t n)
{
	unsigned char back[4];
	bool valid = true;
	size_t off = 0, k;
	uint32_t cp;

	while (off < n) {
		k = tc_utf8_decode(s + off, n - off, &cp);
		if (k == 0) {
			valid = false;
			off++;
			continue;
		}
		fz_assert(k <= 4 && k <= n - off, "a character within the input");
		fz_assert(cp <= 0x10ffff && (cp < 0xd800 || cp > 0xdfff),
			  "a Unicode scalar value");
		fz_assert(encode(cp, back) == k && memcmp(back, s + off, k) == 0,
			  "the shortest form of its character");
		(void)tc_utf8_unsafe(cp);
		off += k;
	}
	return valid;
}

static void json_quoted(const char *s, size_t max, bool valid)
{
	json_error_t err;
	struct tc_buf b;
	json_t *j;

	tc_buf_init(&b, 16 * strlen(s) + 16);
	fz_assert(tc_json_quote_cut(&b, s, max) == 0, "room for any escape");
	j = json_loadb(b.data, b.len, JSON_DECODE_ANY, &err);
	fz_assert(j && json_is_string(j), "tc_json_quote writes a JSON string");
	fz_assert(json_string_length(j) <= max, "cut to the budget");
	fz_assert(!valid || max < strlen(s) ||
		  strcmp(json_string_value(j), s) == 0,
		  "valid UTF-8 reads back as it was");
	json_decref(j);
	tc_buf_release(&b);
}

static void log_quoted(const char *s)
{
	char out[TC_LIMIT_LOG_VALUE * 4 + 16];
	size_t off = 0, k, n;
	uint32_t cp;

	tc_log_quote(out, sizeof(out), s);
	n = strlen(out);
	fz_assert(n >= 2 && out[0] == '"' && out[n - 1] == '"', "quoted");
	while (off < n) {
		k = tc_utf8_decode((const unsigned char *)out + off, n - off, &cp);
		fz_assert(k > 0, "a log value is valid UTF-8");
		fz_assert(!tc_utf8_unsafe(cp), "a log value holds no control character");
		off += k;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bool valid;
	char *s;

	if (size > TC_LIMIT_BODY)
		return 0;
	valid = decode_all(data, size);
	s = fz_strndup(data, size);
	valid = valid && strlen(s) == size;
	json_quoted(s, (size_t)-1, valid);
	json_quoted(s, size / 2, valid);
	log_quoted(s);
	free(s);
	return 0;
}
