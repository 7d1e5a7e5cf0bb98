/*
 * Unit tests of the JSON validator that checks every rendered webhook body
 * (templates/jsoncheck.c): each case is also given to jansson, the
 * reference, and both must agree.
 */
#include <string.h>

#include <jansson.h>

#include "templates/internal.h"
#include "tc_test.h"

static const char *const valid[] = {
	"{}", "[]", "0", "-0", "1.5e-3", "-12E+4", "\"\"", "true", "false", "null",
	" { \"a\" : [1, 2.0, {\"b\": null}], \"c\": \"d\" } ",
	"\"\\u00e9\\ud83d\\ude00 \\\" \\\\ \\/ \\b\\f\\n\\r\\t\"",
	"\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"",
	"[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]",
	"{\"text\": \"a\\u0000b\"}",
	"\n\t[\r\n]\n",
};

static const char *const invalid[] = {
	"", " ", "{", "}", "[1,]", "{\"a\":1,}", "{\"a\"}", "{\"a\":}", "{1:2}",
	"[1 2]", "01", "1.", "1e", "-", "+1", ".5", "tru", "nul", "True",
	"\"abc", "\"a\nb\"", "\"\\x\"", "\"\\u12\"", "\"\\ud800\"", "\"\\udc00\"",
	"\"\\ud800\\u0041\"", "\"\xc3\"", "\"\xc0\xaf\"", "\"\xed\xa0\x80\"",
	"\"\xf4\x90\x80\x80\"", "\"\xff\"", "{} {}", "[] x", "'a'", "[1,,2]",
	"{\"a\":1 \"b\":2}", "[\"a\"]]",
};

static bool jansson_ok(const char *s, size_t n)
{
	json_t *v = json_loadb(s, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);

	json_decref(v);
	return v != NULL;
}

int main(void)
{
	char deep[2 * 2100 + 1];
	size_t i;

	tc_test_begin("jsoncheck: accepts what JSON allows, as jansson does");
	for (i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
		if (!tc_json_valid(valid[i], strlen(valid[i])))
			tc_test_fail(__FILE__, __LINE__, "refused valid '%s'", valid[i]);
		if (!jansson_ok(valid[i], strlen(valid[i])))
			tc_test_fail(__FILE__, __LINE__, "jansson refuses '%s'", valid[i]);
	}

	tc_test_begin("jsoncheck: refuses what JSON does not allow, as jansson does");
	for (i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
		if (tc_json_valid(invalid[i], strlen(invalid[i])))
			tc_test_fail(__FILE__, __LINE__, "accepted invalid '%s'", invalid[i]);
		if (jansson_ok(invalid[i], strlen(invalid[i])))
			tc_test_fail(__FILE__, __LINE__, "jansson accepts '%s'", invalid[i]);
	}

	tc_test_begin("jsoncheck: a NUL byte inside the text ends nothing early");
	TC_CHECK(!tc_json_valid("{\"a\":\"x\0y\"}", 11));
	TC_CHECK(!tc_json_valid("[1]\0", 4));

	tc_test_begin("jsoncheck: every byte at every place of a string, as jansson says");
	{
		char s[2 + 19 + 2];
		unsigned c, at, bad = 0;

		/* "[" quote, 19 bytes, quote "]": the byte at each place of the
		 * 8-byte blocks the scanner takes at once, and after them. */
		for (at = 0; at < 19; at++)
			for (c = 0; c < 256; c++) {
				memcpy(s, "[\"abcdefghijklmnopqrs\"]", sizeof(s));
				s[2 + at] = (char)c;
				if (tc_json_valid(s, sizeof(s)) != jansson_ok(s, sizeof(s)) &&
				    bad++ < 5)
					tc_test_fail(__FILE__, __LINE__, "byte 0x%02x at %u: jansson "
						     "says %d", c, at, jansson_ok(s, sizeof(s)));
			}
		/* A two-byte character across the edge of a block. */
		memcpy(s, "[\"abcdefghijklmnopqrs\"]", sizeof(s));
		memcpy(s + 2 + 7, "\xc3\xa9", 2);
		TC_CHECK(tc_json_valid(s, sizeof(s)));
		memcpy(s + 2 + 7, "\xc3\x41", 2);
		TC_CHECK(!tc_json_valid(s, sizeof(s)));
	}

	tc_test_begin("jsoncheck: nesting up to 2048 levels, not past");
	memset(deep, '[', 2048);
	memset(deep + 2048, ']', 2048);
	TC_CHECK(tc_json_valid(deep, 4096));
	memset(deep, '[', 2049);
	memset(deep + 2049, ']', 2049);
	TC_CHECK(!tc_json_valid(deep, 4098));
	return tc_test_done();
}
