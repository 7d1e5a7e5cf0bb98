/*
 * test_roster: the CSV roster parser. Each case is a file under
 * tests/config/roster/: <name>.csv, fed to tc_roster, and <name>.expected,
 * the transcript it must produce: one line per callback ("<line>: fields"
 * or "<line>: error <diagnostic>") and the final result. Every case is fed
 * whole, byte by byte and in chunks of several sizes, and must give the
 * same transcript each way. The limits are crossed by generated input.
 *
 * Usage: test_roster <folder with the cases>
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "tests/tc_test.h"

/* What a run of the parser produced. */
struct run {
	struct tc_buf out;
	unsigned long calls;
	unsigned long stop_at; /* return 7 from this call on (0: never) */
	bool quiet;            /* count only */
};

static const char *or_dash(const char *s)
{
	return s ? s : "-";
}

static int on_row(void *data, const struct tc_member *m, unsigned line,
		  const struct tc_diag *d)
{
	struct run *run = data;
	char text[1200];
	int c, n = 0;

	run->calls++;
	if (run->quiet)
		return 0;
	if (!m) {
		tc_diag_format(d, text, sizeof(text));
		(void)tc_buf_printf(&run->out, "%u: error %s\n", line, text);
	} else {
		(void)tc_buf_printf(&run->out, "%u: %s|%s|%s|%s|%s|", line,
				    or_dash(m->name), or_dash(m->role),
				    or_dash(m->email), or_dash(m->phone),
				    or_dash(m->webhook));
		for (c = 0; c < TC_CH_COUNT; c++)
			if (m->channels & TC_CH_BIT(c))
				(void)tc_buf_printf(&run->out, "%s%s", n++ ? "+" : "",
						    tc_channel_name(c));
		(void)tc_buf_adds(&run->out, n ? "\n" : "-\n");
	}
	if (run->stop_at && run->calls >= run->stop_at)
		return 7;
	return 0;
}

static const char *rc_name(int rc)
{
	switch (rc) {
	case 0:
		return "0";
	case TC_EINVAL:
		return "TC_EINVAL";
	case TC_ELIMIT:
		return "TC_ELIMIT";
	case 7:
		return "7";
	default:
		return "other";
	}
}

/* Feeds data in chunks of chunk bytes (0: all at once) and writes the
 * transcript into run->out. Returns the final result. */
static int feed(const char *source, const char *data, size_t len, size_t chunk,
		struct run *run)
{
	struct tc_roster *r = tc_roster_new(source, "", NULL, on_row, run);
	struct tc_diag d;
	char text[1200];
	size_t off = 0;
	int rc = 0;

	if (!r) {
		tc_test_fail(__FILE__, __LINE__, "tc_roster_new failed");
		return -ENOMEM;
	}
	if (!chunk)
		chunk = len ? len : 1;
	while (off < len && rc == 0) {
		size_t n = len - off < chunk ? len - off : chunk;

		rc = tc_roster_feed(r, data + off, n, &d);
		off += n;
	}
	if (rc == 0)
		rc = tc_roster_finish(r, &d);
	if (!run->quiet) {
		if (rc != 0 && rc != 7) {
			tc_diag_format(&d, text, sizeof(text));
			(void)tc_buf_printf(&run->out, "rc=%s %s\n", rc_name(rc), text);
		} else {
			(void)tc_buf_printf(&run->out, "rc=%s\n", rc_name(rc));
		}
	}
	tc_roster_free(r);
	return rc;
}

/* Prints where two texts first differ, as TAP comments. */
static void show_diff(const char *want, const char *got)
{
	printf("# expected:\n");
	for (const char *p = want; *p;) {
		size_t n = strcspn(p, "\n");

		printf("#   %.*s\n", (int)n, p);
		p += n + (p[n] ? 1 : 0);
	}
	printf("# got:\n");
	for (const char *p = got; *p;) {
		size_t n = strcspn(p, "\n");

		printf("#   %.*s\n", (int)n, p);
		p += n + (p[n] ? 1 : 0);
	}
}

static int has_suffix(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && strcmp(s + a - b, suffix) == 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int is_case(const struct dirent *e)
{
	return has_suffix(e->d_name, ".csv");
}

/* One file case, fed in every way. */
static void file_case(const char *dir, const char *file)
{
	static const size_t chunks[] = { 0, 1, 2, 3, 5, 7, 64 };
	char path[1024], exp_path[1024];
	char *data, *want;
	size_t len = 0, wlen = 0, i;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	snprintf(exp_path, sizeof(exp_path), "%.*s.expected", (int)strlen(path) - 4,
		 path);
	data = tc_test_read_file(path, &len);
	want = tc_test_read_file(exp_path, &wlen);
	if (!data || !want) {
		tc_test_fail(__FILE__, __LINE__, "cannot read %s or %s", path, exp_path);
		goto out;
	}
	for (i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		struct run run = { .stop_at = 0 };

		tc_buf_init(&run.out, 1u << 20);
		(void)feed(file, data, len, chunks[i], &run);
		if (strcmp(run.out.data ? run.out.data : "", want) != 0) {
			tc_test_fail(__FILE__, __LINE__, "%s fed in chunks of %zu: "
				     "transcript differs", file, chunks[i]);
			show_diff(want, run.out.data ? run.out.data : "");
			tc_buf_release(&run.out);
			break;
		}
		tc_buf_release(&run.out);
	}
out:
	free(data);
	free(want);
}

/* Runs every case in dir. The file names are the test names, so the
 * list is returned for the caller to free once the next case began. */
static int file_cases(const char *dir, struct dirent ***list)
{
	int n, i;

	n = scandir(dir, list, is_case, by_name);
	tc_test_begin("roster: the case folder has cases");
	TC_CHECK(n > 10);
	for (i = 0; i < n; i++) {
		tc_test_begin((*list)[i]->d_name);
		file_case(dir, (*list)[i]->d_name);
	}
	return n;
}

static void stop_case(void)
{
	static const char csv[] = "name,email\nA,a@example.org\nB,b@example.org\n"
				  "C,c@example.org\n";
	struct tc_roster *r;
	struct run run = { .stop_at = 2 };
	struct tc_diag d;
	size_t i;
	int rc = 0;

	tc_test_begin("roster: a callback's non-zero return stops the file");
	tc_buf_init(&run.out, 1u << 16);
	r = tc_roster_new("stop.csv", "", NULL, on_row, &run);
	TC_CHECK(r != NULL);
	for (i = 0; i < sizeof(csv) - 1 && rc == 0; i++)
		rc = tc_roster_feed(r, csv + i, 1, &d);
	TC_CHECK_INT(rc, 7);
	TC_CHECK_INT(run.calls, 2);
	/* Sticky: more input and the end give the same, and no callback. */
	TC_CHECK_INT(tc_roster_feed(r, "D,d@example.org\n", 16, &d), 7);
	TC_CHECK_INT(tc_roster_finish(r, &d), 7);
	TC_CHECK_INT(run.calls, 2);
	tc_roster_free(r);
	tc_buf_release(&run.out);
}

/* A record of exactly TC_LIMIT_ROSTER_ROW_BYTES passes; one byte more
 * stops the file at the line the record starts on, however it is fed. */
static void row_limit_cases(void)
{
	static const size_t chunks[] = { 0, 1, 100 };
	size_t limit = TC_LIMIT_ROSTER_ROW_BYTES, i, k;
	struct run run = { .quiet = true };
	struct tc_buf b;
	int rc;

	tc_test_begin("roster: a record of TC_LIMIT_ROSTER_ROW_BYTES is read");
	for (k = 0; k < sizeof(chunks) / sizeof(chunks[0]); k++) {
		tc_buf_init(&b, limit * 4);
		(void)tc_buf_adds(&b, "name,email\r\n\r\nA,a@example.org\r\n");
		(void)tc_buf_adds(&b, "B,");
		for (i = 2; i < limit; i++)
			(void)tc_buf_addc(&b, 'x');
		(void)tc_buf_adds(&b, "\r\nC,c@example.org\r\n");
		run.calls = 0;
		rc = feed("big.csv", b.data, b.len, chunks[k], &run);
		TC_CHECK_INT(rc, 0);
		TC_CHECK_INT(run.calls, 3);
		tc_buf_release(&b);
	}

	tc_test_begin("roster: a record over TC_LIMIT_ROSTER_ROW_BYTES stops the file");
	for (k = 0; k < sizeof(chunks) / sizeof(chunks[0]); k++) {
		struct run r2 = { .stop_at = 0 };

		tc_buf_init(&r2.out, 1u << 16);
		tc_buf_init(&b, limit * 4);
		(void)tc_buf_adds(&b, "name,email\n\nA,a@example.org\nB,");
		for (i = 2; i <= limit; i++)
			(void)tc_buf_addc(&b, 'x');
		(void)tc_buf_adds(&b, "\nC,c@example.org\n");
		rc = feed("big.csv", b.data, b.len, chunks[k], &r2);
		TC_CHECK_INT(rc, TC_ELIMIT);
		TC_CHECK_STR(r2.out.data, "3: A|-|a@example.org|-|-|-\n"
			     "rc=TC_ELIMIT big.csv:4: record longer than 4096 bytes "
			     "(TC_LIMIT_ROSTER_ROW_BYTES)\n");
		tc_buf_release(&b);
		tc_buf_release(&r2.out);
	}

	tc_test_begin("roster: a quoted record over the limit across lines stops the file");
	{
		struct run r3 = { .stop_at = 0 };

		tc_buf_init(&r3.out, 1u << 16);
		tc_buf_init(&b, limit * 4);
		(void)tc_buf_adds(&b, "name,email\nA,a@example.org\n\"B");
		for (i = 0; i < limit / 2; i++)
			(void)tc_buf_adds(&b, i % 64 ? "x" : "\n");
		for (i = 0; i < limit / 2; i++)
			(void)tc_buf_adds(&b, "y");
		(void)tc_buf_adds(&b, "\",b@example.org\n");
		rc = feed("big.csv", b.data, b.len, 1, &r3);
		TC_CHECK_INT(rc, TC_ELIMIT);
		TC_CHECK_STR(r3.out.data, "2: A|-|a@example.org|-|-|-\n"
			     "rc=TC_ELIMIT big.csv:3: record longer than 4096 bytes "
			     "(TC_LIMIT_ROSTER_ROW_BYTES)\n");
		tc_buf_release(&b);
		tc_buf_release(&r3.out);
	}
}

/* TC_LIMIT_ROSTER_ROWS records pass; one more stops the file. The rows are
 * short and bad (one field of two), so the callback is cheap. */
static void rows_limit_case(void)
{
	unsigned long rows = TC_LIMIT_ROSTER_ROWS;
	size_t len = 11 + (size_t)(rows + 1) * 2, i;
	char *data = malloc(len);
	struct run run = { .quiet = true };
	struct tc_roster *r;
	struct tc_diag d;
	char text[1200];
	int rc = 0;

	tc_test_begin("roster: more than TC_LIMIT_ROSTER_ROWS rows stops the file");
	TC_CHECK(data != NULL);
	if (!data)
		return;
	memcpy(data, "name,email\n", 11);
	for (i = 11; i < len; i += 2) {
		data[i] = 'x';
		data[i + 1] = '\n';
	}
	r = tc_roster_new("rows.csv", "", NULL, on_row, &run);
	/* All but the last row. */
	for (i = 0; i < len - 2 && rc == 0; i += 65536)
		rc = tc_roster_feed(r, data + i, len - 2 - i < 65536 ? len - 2 - i : 65536,
				    &d);
	TC_CHECK_INT(rc, 0);
	TC_CHECK_INT(run.calls, rows);
	rc = tc_roster_feed(r, data + len - 2, 2, &d);
	TC_CHECK_INT(rc, TC_ELIMIT);
	TC_CHECK_INT(run.calls, rows);
	tc_diag_format(&d, text, sizeof(text));
	TC_CHECK_STR(text, "rows.csv:10000002: more than 10000000 rows "
		     "(TC_LIMIT_ROSTER_ROWS)");
	tc_roster_free(r);
	free(data);
}

int main(int argc, char **argv)
{
	struct dirent **list = NULL;
	int n, i, rc;

	if (argc < 2) {
		fprintf(stderr, "usage: test_roster <folder with the cases>\n");
		return 2;
	}
	n = file_cases(argv[1], &list);
	stop_case();
	row_limit_cases();
	rows_limit_case();
	rc = tc_test_done();
	for (i = 0; i < n; i++)
		free(list[i]);
	free(list);
	return rc;
}
