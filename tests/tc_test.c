/* tc_test: TAP output for the unit tests (see tc_test.h). */
#include <stdarg.h>

#include "tc_test.h"

struct tc_test_state tc_test;

static void report(void)
{
	if (!tc_test.cur)
		return;
	if (tc_test.cur_fail)
		tc_test.failed++;
	printf("%sok %d - %s\n", tc_test.cur_fail ? "not " : "", tc_test.n,
	       tc_test.cur);
	fflush(stdout);
}

void tc_test_begin(const char *name)
{
	report();
	tc_test.n++;
	tc_test.cur = name;
	tc_test.cur_fail = 0;
}

int tc_test_done(void)
{
	report();
	tc_test.cur = NULL;
	printf("1..%d\n", tc_test.n);
	return tc_test.failed ? 1 : 0;
}

void tc_test_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	tc_test.cur_fail++;
	printf("# %s:%d: %s: ", file, line, tc_test.cur ? tc_test.cur : "?");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}
