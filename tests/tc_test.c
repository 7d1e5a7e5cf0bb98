/* tc_test: TAP output for the unit tests (see tc_test.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

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

char *tc_test_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *p = NULL, chunk[4096];
	size_t n, total = 0;

	if (!f)
		return NULL;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		char *q = realloc(p, total + n + 1);

		if (!q) {
			free(p);
			fclose(f);
			return NULL;
		}
		p = q;
		memcpy(p + total, chunk, n);
		total += n;
	}
	fclose(f);
	if (!p)
		p = calloc(1, 1);
	else
		p[total] = '\0';
	if (p && len)
		*len = total;
	return p;
}

void tc_test_comment(const char *title, const char *text)
{
	const char *p;

	printf("# %s\n", title);
	for (p = text; *p;) {
		size_t n = strcspn(p, "\n");

		printf("#   %.*s\n", (int)n, p);
		p += n + (p[n] ? 1 : 0);
	}
}

char *tc_test_enter(int argc, char **argv, const char *usage)
{
	char *other = NULL;

	if (argc < 2) {
		fprintf(stderr, "usage: %s\n", usage);
		exit(2);
	}
	if (argc > 2)
		other = realpath(argv[2], NULL);
	if (chdir(argv[1]) < 0) {
		perror(argv[1]);
		exit(2);
	}
	return other;
}
