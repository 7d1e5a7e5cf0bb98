/*
 * What the tool prints of what others wrote (cli/safe.c): any bytes shown
 * as text (with and without newlines and tabs kept, whole and cut) and as
 * JSON. Text must hold no control character but a newline or tab asked
 * for, and be valid UTF-8; JSON must be ASCII, parse back, and give back
 * the bytes exactly when they were UTF-8.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "tests/fuzz/fuzz.h"

static void text(const char *s, size_t len, size_t max, unsigned flags)
{
	const unsigned char *p;
	struct tc_buf b;
	size_t off = 0, k;
	uint32_t cp;

	tc_buf_init(&b, TC_CLI_SHOW_MAX);
	fz_assert(tc_cli_safe_add(&b, s, len, max, flags) == 0, "shown");
	p = (const unsigned char *)(b.data ? b.data : "");
	while (off < b.len) {
		k = tc_utf8_decode(p + off, b.len - off, &cp);
		fz_assert(k > 0, "shown text is valid UTF-8");
		fz_assert(!tc_utf8_unsafe(cp) || (cp == '\n' && (flags & TC_SAFE_NL)) ||
			  (cp == '\t' && (flags & TC_SAFE_TAB)),
			  "shown text holds no control character");
		off += k;
	}
	tc_buf_release(&b);
}

static void as_json(const char *s, size_t len, bool valid)
{
	json_t *j = tc_cli_json_string(s, len), *back;
	char *out = NULL;
	size_t n = 0, i;
	FILE *f;

	if (!j)
		abort();
	f = open_memstream(&out, &n);
	if (!f || tc_cli_json_print(f, j, JSON_ENCODE_ANY) < 0 || fclose(f) != 0)
		abort();
	for (i = 0; i < n; i++)
		fz_assert((unsigned char)out[i] < 0x7f &&
			  ((unsigned char)out[i] >= 0x20 || out[i] == '\n'),
			  "JSON output is printable ASCII");
	back = json_loadb(out, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
	fz_assert(back && json_is_string(back), "JSON output parses back");
	fz_assert(!valid || (json_string_length(back) == len &&
			     memcmp(json_string_value(back), s, len) == 0),
		  "a UTF-8 string comes back exactly");
	json_decref(back);
	json_decref(j);
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	size_t off = 0, k;
	bool valid = true;
	uint32_t cp;

	/* A rendered message at its limit is the longest value shown. */
	if (size > TC_LIMIT_BODY)
		return 0;
	while (valid && off < size) {
		k = tc_utf8_decode(data + off, size - off, &cp);
		valid = k > 0;
		off += k;
	}
	text(s, size, 0, 0);
	text(s, size, 0, TC_SAFE_NL | TC_SAFE_TAB);
	text(s, size, size / 2, TC_SAFE_NL);
	as_json(s, size, valid);
	return 0;
}
