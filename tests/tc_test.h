/*
 * tc_test: the assertions of tocsin's unit tests. Output is TAP: one
 * "ok N - name" or "not ok N - name" per test case, then "1..N".
 * Assertions are never compiled out and print file, line and both values.
 */
#ifndef TC_TEST_H
#define TC_TEST_H

#include <stdio.h>
#include <string.h>

struct tc_test_state {
	int n;        /* cases begun */
	int failed;   /* cases that failed */
	int cur_fail; /* failures in the current case */
	const char *cur;
};

extern struct tc_test_state tc_test;

/* Begins a case; the previous one, if any, is reported. */
void tc_test_begin(const char *name);
/* Reports the last case and the plan; returns the exit status. */
int tc_test_done(void);
void tc_test_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The whole file at path, NUL-terminated (free it), its length in *len
 * (may be NULL); NULL if it cannot be read. */
char *tc_test_read_file(const char *path, size_t *len);
/* For a test run as "NAME DATA_DIR [OTHER]": OTHER made absolute (free
 * it; NULL when not given or not found), then the working folder changed
 * to DATA_DIR. Prints usage and exits 2 when DATA_DIR is missing or
 * unusable. */
char *tc_test_enter(int argc, char **argv, const char *usage);
/* Prints text as TAP comment lines under a title. */
void tc_test_comment(const char *title, const char *text);

#define TC_CHECK(cond) do { if (!(cond)) \
	tc_test_fail(__FILE__, __LINE__, "%s", #cond); } while (0)
#define TC_CHECK_INT(a, b) do { long long a_ = (long long)(a), b_ = (long long)(b); \
	if (a_ != b_) tc_test_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld", \
				   #a, #b, a_, b_); } while (0)
#define TC_CHECK_STR(a, b) do { const char *a_ = (a), *b_ = (b); \
	if (!a_ || !b_ || strcmp(a_, b_) != 0) tc_test_fail(__FILE__, __LINE__, \
		"%s == %s: '%s' != '%s'", #a, #b, a_ ? a_ : "(null)", \
		b_ ? b_ : "(null)"); } while (0)

#endif
