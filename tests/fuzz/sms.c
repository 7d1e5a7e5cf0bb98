/*
 * SMS text fitting (templates/sms.c): a rendered sms.txt, any bytes, made
 * to fit 1, 2, 3 and 10 segments, cut and refused. What comes out must be
 * valid UTF-8, measure as tc_sms_fit says, and fit when it was cut.
 */
#include <string.h>

#include "templates/templates.h"
#include "tests/fuzz/fuzz.h"

static bool valid_utf8(const char *s, size_t n)
{
	size_t off = 0, k;
	uint32_t cp;

	while (off < n) {
		k = tc_utf8_decode((const unsigned char *)s + off, n - off, &cp);
		if (k == 0)
			return false;
		off += k;
	}
	return true;
}

static void fit(const uint8_t *data, size_t size, unsigned max,
		enum tc_overflow overflow)
{
	struct tc_sms_info info, again;
	struct tc_diag d;
	struct tc_buf b;
	int r;

	tc_buf_init(&b, TC_LIMIT_BODY);
	if (tc_buf_add(&b, data, size) < 0)
		abort();
	r = tc_sms_fit(&b, max, overflow, &info, &d);
	if (r == 0) {
		fz_assert(valid_utf8(b.data ? b.data : "", b.len),
			  "fitted text is valid UTF-8");
		fz_assert(tc_sms_measure(b.data ? b.data : "", b.len, &again) == 0 &&
			  again.segments == info.segments &&
			  again.chars == info.chars && again.gsm7 == info.gsm7,
			  "fitted text measures as reported");
		fz_assert(!info.truncated || info.segments <= max,
			  "cut text fits max_segments");
		fz_assert(overflow == TC_OVERFLOW_TRUNCATE || info.segments <= max,
			  "text that fits is accepted as it is");
		fz_assert(b.len <= b.max, "within the buffer's maximum");
	} else {
		fz_assert(overflow == TC_OVERFLOW_REJECT || r == TC_ELIMIT,
			  "truncate never refuses a text");
	}
	tc_buf_release(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned maxes[] = { 1, 2, 3, 10 };
	struct tc_sms_info info;
	size_t i;

	if (size > TC_LIMIT_BODY)
		return 0;
	(void)tc_sms_measure((const char *)data, size, &info);
	for (i = 0; i < sizeof(maxes) / sizeof(maxes[0]); i++) {
		fit(data, size, maxes[i], TC_OVERFLOW_TRUNCATE);
		fit(data, size, maxes[i], TC_OVERFLOW_REJECT);
	}
	return 0;
}
