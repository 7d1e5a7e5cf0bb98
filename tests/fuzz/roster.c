/*
 * The CSV roster reader (config/roster.c), a push parser: the input fed
 * whole, then again cut into chunks of a size the input picks (its length
 * modulo 61, plus 1). Both must call back the same way, line for line, as
 * the reader promises however the bytes arrive; no diagnostic may carry a
 * control character from the file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "tests/fuzz/fuzz.h"

/* Holds what the callbacks say of any input it takes. */
#define LOG_MAX (64u << 20)

/* What the callbacks said, as text. */
static int record(void *data, const struct tc_member *m, unsigned line,
		  const struct tc_diag *d)
{
	struct tc_buf *log = data;
	char text[1200];

	if (m) {
		(void)tc_buf_printf(log, "%u ok %s|%s|%s|%s|%s|%x\n", line, m->name ? m->name : "",
				    m->role ? m->role : "", m->email ? m->email : "",
				    m->phone ? m->phone : "", m->webhook ? m->webhook : "",
				    m->channels);
	} else {
		tc_diag_format(d, text, sizeof(text));
		fz_shown(text, "a roster diagnostic");
		(void)tc_buf_printf(log, "%u bad %s\n", line, text);
	}
	return 0;
}

/* Feeds data in chunks of chunk bytes; the log of callbacks and the end. */
static void feed(const uint8_t *data, size_t size, size_t chunk, struct tc_buf *log)
{
	struct tc_roster *r = tc_roster_new("roster.csv", "US", NULL, record, log);
	struct tc_diag d;
	char text[1200];
	size_t off = 0, n;
	int rc = 0;

	if (!r)
		abort();
	while (rc == 0 && off < size) {
		n = size - off < chunk ? size - off : chunk;
		rc = tc_roster_feed(r, (const char *)data + off, n, &d);
		off += n;
	}
	if (rc == 0)
		rc = tc_roster_finish(r, &d);
	if (rc != 0) {
		tc_diag_format(&d, text, sizeof(text));
		fz_shown(text, "a roster diagnostic");
		(void)tc_buf_printf(log, "end %d %s\n", rc, text);
	}
	tc_roster_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tc_buf whole, cut;

	/* Enough for many records at their limit. */
	if (size > 16 * TC_LIMIT_ROSTER_ROW_BYTES)
		return 0;
	tc_buf_init(&whole, LOG_MAX);
	tc_buf_init(&cut, LOG_MAX);
	feed(data, size, size ? size : 1, &whole);
	feed(data, size, size % 61 + 1, &cut);
	if (whole.len != cut.len || (whole.len && memcmp(whole.data, cut.data, whole.len))) {
		fprintf(stderr, "whole:\n%s\ncut in %zu:\n%s\n", whole.data ? whole.data : "",
			size % 61 + 1, cut.data ? cut.data : "");
		fz_assert(false, "the same records however the input is cut");
	}
	tc_buf_release(&whole);
	tc_buf_release(&cut);
	return 0;
}
