/*
 * roster: reads CSV rosters (RFC 4180) as a push parser on top of libcsv.
 * Bytes go in as they are read; out comes one callback per record, with a
 * member checked by tc_member_check, or a diagnostic naming the file, the
 * line and the column.
 *
 * What it keeps true:
 * - memory is bounded: a record longer than TC_LIMIT_ROSTER_ROW_BYTES stops
 *   the file before libcsv would buffer it, and only the first columns of
 *   a record are kept;
 * - a record's line is the physical line it starts on, counted here (a
 *   quoted field may hold newlines), however the input is cut into chunks:
 *   libcsv is fed one line at a time, and a line cut after each CR too
 *   (a lone CR ends a record as well), so its callbacks run while the line
 *   being parsed is known and a record starts at the start of a piece;
 * - once the callback asked to stop, or the file proved broken, the
 *   callback is never called again and every later call returns the same.
 *
 * Lines are counted at LF; CRLF is fine. Blank lines are skipped. A UTF-8
 * byte order mark at the start (spreadsheets write one) is skipped.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <csv.h>

#include "config/config.h"

enum col { COL_NAME, COL_ROLE, COL_EMAIL, COL_PHONE, COL_WEBHOOK, COL_CHANNELS,
	   COL_COUNT };

static const char *const col_names[COL_COUNT] = {
	"name", "role", "email", "phone", "webhook", "channels"
};

static const unsigned char bom[3] = { 0xef, 0xbb, 0xbf };
#define BOM_DONE 4 /* r->bom: the start was seen, BOM or not */

struct tc_roster {
	struct csv_parser csv;
	char *source;
	tc_roster_cb cb;
	void *data;
	enum col cols[COL_COUNT];  /* from the header: column i holds cols[i] */
	size_t n_cols;
	bool header_done;
	char *field[COL_COUNT];    /* the current record's first fields */
	size_t flen[COL_COUNT];
	size_t n_fields;           /* fields seen in the current record */
	unsigned line;             /* the physical line being fed */
	unsigned rec_line;         /* where the current record started */
	bool in_record;
	size_t rec_bytes;          /* of the current record, fed so far */
	unsigned long rows;        /* data records */
	unsigned bom;              /* bytes of a BOM matched, or BOM_DONE */
	int stop;                  /* non-zero: the sticky result */
	struct tc_diag diag;       /* why, when stop is set */
	struct tc_diags *checks;   /* tc_member_check's, one record at a time */
	char region[3];            /* of national phone numbers, or "" */
	struct tc_phone_cache *phones; /* numbers normalised before, or NULL */
};

static void set_stop(struct tc_roster *r, int rc, unsigned line, const char *fmt,
		     ...) __attribute__((format(printf, 4, 5)));
static void set_stop(struct tc_roster *r, int rc, unsigned line, const char *fmt, ...)
{
	char msg[sizeof(r->diag.msg)];
	va_list ap;

	if (r->stop)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	tc_diag_set(&r->diag, r->source, line, NULL, "%s", msg);
	r->stop = rc;
}

static void clear_fields(struct tc_roster *r)
{
	size_t i;

	for (i = 0; i < COL_COUNT; i++) {
		free(r->field[i]);
		r->field[i] = NULL;
		r->flen[i] = 0;
	}
	r->n_fields = 0;
}

/* Writes v as it may appear inside '...' in a message. */
static const char *show(char *out, size_t n, const char *v)
{
	return tc_diag_show(out, n, v, strlen(v), 80);
}

/* ---- libcsv callbacks ---------------------------------------------------- */

static void on_field(void *s, size_t len, void *data)
{
	struct tc_roster *r = data;
	char *f;

	if (r->stop)
		return;
	if (!r->in_record) {
		/* A record that began after a lone CR on the same line. */
		r->in_record = true;
		r->rec_line = r->line;
	}
	if (r->n_fields < COL_COUNT) {
		f = malloc(len + 1);
		if (!f) {
			set_stop(r, -ENOMEM, r->rec_line, "out of memory");
			return;
		}
		if (len)
			memcpy(f, s, len);
		f[len] = '\0';
		r->field[r->n_fields] = f;
		r->flen[r->n_fields] = len;
	}
	r->n_fields++;
}

static void read_header(struct tc_roster *r)
{
	bool seen[COL_COUNT] = { false };
	char q[120];
	size_t i;
	int c;

	if (r->n_fields > COL_COUNT) {
		set_stop(r, TC_EINVAL, r->rec_line, "header has %zu columns: at most "
			 "name, role, email, phone, webhook, channels", r->n_fields);
		return;
	}
	for (i = 0; i < r->n_fields; i++) {
		for (c = 0; c < COL_COUNT; c++)
			if (strcasecmp(r->field[i], col_names[c]) == 0)
				break;
		if (c == COL_COUNT) {
			set_stop(r, TC_EINVAL, r->rec_line, "unknown column '%s': expected "
				 "name, role, email, phone, webhook or channels",
				 show(q, sizeof(q), r->field[i]));
			return;
		}
		if (seen[c]) {
			set_stop(r, TC_EINVAL, r->rec_line, "column '%s' appears twice",
				 col_names[c]);
			return;
		}
		seen[c] = true;
		r->cols[i] = (enum col)c;
	}
	if (!seen[COL_NAME]) {
		set_stop(r, TC_EINVAL, r->rec_line, "missing column 'name'");
		return;
	}
	if (!seen[COL_EMAIL] && !seen[COL_PHONE] && !seen[COL_WEBHOOK]) {
		set_stop(r, TC_EINVAL, r->rec_line, "no address column: expected "
			 "email, phone or webhook");
		return;
	}
	r->n_cols = r->n_fields;
	r->header_done = true;
}

/* Reports a bad record to the callback. */
static void bad_record(struct tc_roster *r, const char *col, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void bad_record(struct tc_roster *r, const char *col, const char *fmt, ...)
{
	char msg[sizeof(r->diag.msg)];
	struct tc_diag d;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	tc_diag_set(&d, r->source, r->rec_line, col, "%s", msg);
	rc = r->cb(r->data, NULL, r->rec_line, &d);
	if (rc)
		set_stop(r, rc, r->rec_line, "stopped by the caller");
}

/* Cell text as a member field wants it: each run of tab, CR and LF (a
 * spreadsheet cell with line breaks) becomes one space, ends trimmed.
 * Returns false for any other control character or a NUL inside. */
static bool clean(char *s, size_t len)
{
	size_t i, o = 0;
	bool space = false;

	if (strlen(s) != len)
		return false;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\t' || c == '\r' || c == '\n') {
			space = true;
			continue;
		}
		if (c < 0x20 || c == 0x7f)
			return false;
		if (space && o > 0)
			s[o++] = ' ';
		space = false;
		s[o++] = (char)c;
	}
	while (o > 0 && s[o - 1] == ' ')
		o--;
	s[o] = '\0';
	return true;
}

/* The channels cell: names separated by spaces. */
static bool parse_channels(struct tc_roster *r, const char *s, unsigned *mask)
{
	char name[16], q[120];
	size_t len;
	int c;

	*mask = 0;
	while (*s) {
		while (*s == ' ')
			s++;
		len = strcspn(s, " ");
		if (!len)
			break;
		c = -1;
		if (len < sizeof(name)) {
			memcpy(name, s, len);
			name[len] = '\0';
			c = tc_channel_parse(name);
		}
		if (c < 0) {
			char bad[120];

			memcpy(bad, s, len < sizeof(bad) - 1 ? len : sizeof(bad) - 1);
			bad[len < sizeof(bad) - 1 ? len : sizeof(bad) - 1] = '\0';
			bad_record(r, "channels", "unknown channel '%s': expected email, "
				   "sms or webhook", show(q, sizeof(q), bad));
			return false;
		}
		*mask |= TC_CH_BIT(c);
		s += len;
	}
	return true;
}

static void read_record(struct tc_roster *r)
{
	struct tc_member m = { 0 };
	char **slot[COL_COUNT] = { &m.name, &m.role, &m.email, &m.phone,
				   &m.webhook, NULL };
	struct tc_diag d;
	size_t i;
	int rc;

	if (++r->rows > TC_LIMIT_ROSTER_ROWS) {
		set_stop(r, TC_ELIMIT, r->rec_line, "more than %u rows "
			 "(TC_LIMIT_ROSTER_ROWS)", TC_LIMIT_ROSTER_ROWS);
		return;
	}
	if (r->n_fields != r->n_cols) {
		bad_record(r, NULL, "expected %zu fields, got %zu", r->n_cols,
			   r->n_fields);
		return;
	}
	for (i = 0; i < r->n_cols; i++) {
		enum col c = r->cols[i];

		if (!clean(r->field[i], r->flen[i])) {
			bad_record(r, col_names[c], "contains a control character");
			goto out;
		}
		if (!r->field[i][0])
			continue;
		if (c == COL_CHANNELS) {
			if (!parse_channels(r, r->field[i], &m.channels))
				goto out;
			continue;
		}
		*slot[c] = r->field[i];
		r->field[i] = NULL;
	}
	r->checks->n = 0;
	r->checks->dropped = 0;
	if (tc_member_check(&m, r->region, r->phones, r->source, r->rec_line, "",
			    r->checks) < 0) {
		d = r->checks->item[0];
		/* The path is the column: "phone", not ".phone". */
		if (d.path[0] == '.')
			memmove(d.path, d.path + 1, strlen(d.path));
		rc = r->cb(r->data, NULL, r->rec_line, &d);
	} else {
		rc = r->cb(r->data, &m, r->rec_line, NULL);
	}
	if (rc)
		set_stop(r, rc, r->rec_line, "stopped by the caller");
out:
	tc_member_release(&m);
}

static void on_record(int c, void *data)
{
	struct tc_roster *r = data;

	(void)c;
	r->in_record = false;
	if (!r->stop) {
		/* One empty field: a line of only "" (no roster has one column). */
		if (r->n_fields == 1 && r->flen[0] == 0)
			;
		else if (!r->header_done)
			read_header(r);
		else
			read_record(r);
	}
	clear_fields(r);
}

/* ---- feeding ---------------------------------------------------------- */

/* The length of buf's first piece: up to and including its first CR or LF,
 * else all n bytes. */
static size_t piece_len(const char *buf, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (buf[i] == '\n' || buf[i] == '\r')
			return i + 1;
	return n;
}

static int stopped(struct tc_roster *r, struct tc_diag *d)
{
	if (d)
		*d = r->diag;
	return r->stop;
}

/* Passes one piece to libcsv: at most one line, ending at its first CR or
 * LF if it has one (which ends the record, unless it is inside quotes). */
static void feed_piece(struct tc_roster *r, const char *p, size_t n)
{
	bool eol = p[n - 1] == '\n' || p[n - 1] == '\r';
	size_t start = 0;

	if (!r->in_record) {
		/* libcsv skips lines of only white space without a word. */
		while (start < n && p[start] && strchr(" \t\r\n", p[start]))
			start++;
		if (start < n) {
			r->in_record = true;
			r->rec_line = r->line;
			r->rec_bytes = 0;
		}
	}
	/* The record's bytes, not counting the line end that may close it. */
	if (r->in_record &&
	    r->rec_bytes + (n - start - eol) > TC_LIMIT_ROSTER_ROW_BYTES) {
		set_stop(r, TC_ELIMIT, r->rec_line, "record longer than %u bytes "
			 "(TC_LIMIT_ROSTER_ROW_BYTES)",
			 (unsigned)TC_LIMIT_ROSTER_ROW_BYTES);
		return;
	}
	if (csv_parse(&r->csv, p, n, on_field, on_record, r) != n) {
		if (csv_error(&r->csv) == CSV_ENOMEM)
			set_stop(r, -ENOMEM, r->line, "out of memory");
		else
			set_stop(r, TC_EINVAL, r->line, "not valid CSV: a quote inside "
				 "an unquoted field, or text after a closing quote");
		return;
	}
	/* A line end inside quotes is the record's. */
	r->rec_bytes = r->in_record ? r->rec_bytes + n - start : 0;
	if (p[n - 1] == '\n')
		r->line++;
}

static void feed_bytes(struct tc_roster *r, const char *buf, size_t n)
{
	while (n > 0 && !r->stop) {
		size_t piece = piece_len(buf, n);

		feed_piece(r, buf, piece);
		buf += piece;
		n -= piece;
	}
}

struct tc_roster *tc_roster_new(const char *source, const char *region,
				struct tc_phone_cache *phones, tc_roster_cb cb, void *data)
{
	struct tc_roster *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	snprintf(r->region, sizeof(r->region), "%s", region ? region : "");
	r->source = strdup(source);
	r->checks = calloc(1, sizeof(*r->checks));
	if (!r->source || !r->checks ||
	    csv_init(&r->csv, CSV_STRICT | CSV_APPEND_NULL | CSV_STRICT_FINI) != 0) {
		free(r->source);
		free(r->checks);
		free(r);
		return NULL;
	}
	r->cb = cb;
	r->data = data;
	r->phones = phones;
	r->line = 1;
	return r;
}

/*
 * Parses n more bytes; see config.h. The first bytes of the file may be a
 * UTF-8 byte order mark, cut anywhere: it is matched across calls.
 */
int tc_roster_feed(struct tc_roster *r, const char *buf, size_t n,
		   struct tc_diag *d)
{
	if (r->stop)
		return stopped(r, d);
	while (r->bom < BOM_DONE && n > 0) {
		if (r->bom < 3 && (unsigned char)*buf == bom[r->bom]) {
			buf++;
			n--;
			if (++r->bom == 3)
				r->bom = BOM_DONE;
			continue;
		}
		/* Not a BOM: what looked like one is data. */
		feed_bytes(r, (const char *)bom, r->bom);
		r->bom = BOM_DONE;
	}
	feed_bytes(r, buf, n);
	return r->stop ? stopped(r, d) : 0;
}

int tc_roster_finish(struct tc_roster *r, struct tc_diag *d)
{
	if (r->stop)
		return stopped(r, d);
	if (r->bom > 0 && r->bom < BOM_DONE)
		feed_bytes(r, (const char *)bom, r->bom);
	r->bom = BOM_DONE;
	if (!r->stop && csv_fini(&r->csv, on_field, on_record, r) != 0)
		set_stop(r, TC_EINVAL, r->rec_line, "not valid CSV: a quoted field "
			 "is not closed");
	if (!r->stop && !r->header_done)
		set_stop(r, TC_EINVAL, 0, "empty: no header row");
	return r->stop ? stopped(r, d) : 0;
}

void tc_roster_free(struct tc_roster *r)
{
	if (!r)
		return;
	csv_free(&r->csv);
	clear_fields(r);
	free(r->checks);
	free(r->source);
	free(r);
}
