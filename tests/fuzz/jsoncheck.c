/*
 * The JSON validator that checks every rendered webhook body
 * (templates/jsoncheck.c), against jansson, the reference: on any bytes
 * both say the same, except for a number jansson cannot hold (a real past
 * a double, an integer past 64 bits), which JSON allows and the validator
 * accepts, and a NUL byte, where jansson's reading ends and which the
 * validator refuses wherever it is (JSON has no raw NUL).
 */
#include <string.h>

#include <jansson.h>

#include "common/common.h"
#include "templates/internal.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_error_t err;
	bool ours;
	json_t *j;

	if (size > TC_LIMIT_BODY)
		return 0;
	ours = tc_json_valid((const char *)data, size);
	if (memchr(data, 0, size)) {
		fz_assert(!ours, "the validator refuses a raw NUL byte");
		return 0;
	}
	j = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
	if (j) {
		fz_assert(ours, "the validator accepts what jansson accepts");
		json_decref(j);
		return 0;
	}
	fz_assert(!ours || strstr(err.text, "overflow") || strstr(err.text, "too big"),
		  "the validator refuses what jansson refuses, but for its numbers");
	return 0;
}
