/*
 * Time: the wall clock in milliseconds, RFC 3339 in and out, HTTP dates
 * in, durations such as "250ms", "5m" and "30d". Thread-safe (no
 * gmtime/localtime). Every number read is checked against its range
 * before it is used.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/common.h"

int64_t tc_time_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

/* Writes v as exactly `width` decimal digits at p; returns the end. */
static char *put_digits(char *p, unsigned v, int width)
{
	int i;

	for (i = width - 1; i >= 0; i--, v /= 10)
		p[i] = (char)('0' + v % 10);
	return p + width;
}

void tc_time_format(int64_t ms, char *out, size_t n)
{
	struct tm tm;
	time_t secs = (time_t)(ms / 1000);
	char *p;

	if (!gmtime_r(&secs, &tm)) {
		snprintf(out, n, "invalid-time");
		return;
	}
	if (ms < 0 || ms > TC_MAX_MS || n < sizeof("YYYY-MM-DDTHH:MM:SS.mmmZ")) {
		snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
			 (int)(ms % 1000));
		return;
	}
	/* The same text without printf: it is written for every record. */
	p = put_digits(out, (unsigned)tm.tm_year + 1900, 4);
	*p++ = '-';
	p = put_digits(p, (unsigned)tm.tm_mon + 1, 2);
	*p++ = '-';
	p = put_digits(p, (unsigned)tm.tm_mday, 2);
	*p++ = 'T';
	p = put_digits(p, (unsigned)tm.tm_hour, 2);
	*p++ = ':';
	p = put_digits(p, (unsigned)tm.tm_min, 2);
	*p++ = ':';
	p = put_digits(p, (unsigned)tm.tm_sec, 2);
	*p++ = '.';
	p = put_digits(p, (unsigned)(ms % 1000), 3);
	*p++ = 'Z';
	*p = '\0';
}

/* Reads exactly n digits at *p into *v. */
static int digits(const char **p, int n, int *v)
{
	int x = 0;

	while (n--) {
		if (!isdigit((unsigned char)**p))
			return -1;
		x = x * 10 + (**p - '0');
		(*p)++;
	}
	*v = x;
	return 0;
}

static int expect(const char **p, char c)
{
	if (**p != c && !(c == 'T' && (**p == 't' || **p == ' ')))
		return -1;
	(*p)++;
	return 0;
}

int tc_time_parse(const char *s, int64_t *ms)
{
	static const unsigned mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	const char *p = s;
	int y, mo, d, h, mi, sec, frac = 0, scale = 1000, oh, om;
	int64_t t, off = 0;

	if (digits(&p, 4, &y) || expect(&p, '-') || digits(&p, 2, &mo) ||
	    expect(&p, '-') || digits(&p, 2, &d) || expect(&p, 'T') ||
	    digits(&p, 2, &h) || expect(&p, ':') || digits(&p, 2, &mi) ||
	    expect(&p, ':') || digits(&p, 2, &sec))
		return TC_EINVAL;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return TC_EINVAL;
		while (isdigit((unsigned char)*p)) {
			if (scale > 1) {
				scale /= 10;
				frac += (*p - '0') * scale;
			}
			p++;
		}
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p == '-' ? -1 : 1;

		p++;
		if (digits(&p, 2, &oh) || expect(&p, ':') || digits(&p, 2, &om) ||
		    oh > 23 || om > 59)
			return TC_EINVAL;
		off = sign * ((int64_t)oh * 3600 + om * 60);
	} else {
		return TC_EINVAL;
	}
	if (*p || mo < 1 || mo > 12 || d < 1 || (unsigned)d > mdays[mo - 1] ||
	    h > 23 || mi > 59 || sec > 60)
		return TC_EINVAL;
	if (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		return TC_EINVAL;
	t = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 +
	    mi * 60 + sec - off;
	*ms = t * 1000 + frac;
	return 0;
}

int tc_duration_parse(const char *s, uint64_t *ms)
{
	uint64_t v = 0, unit;
	const char *p = s;

	if (!isdigit((unsigned char)*p))
		return TC_EINVAL;
	while (isdigit((unsigned char)*p)) {
		if (v > UINT64_MAX / 10 / 1000)
			return TC_EINVAL;
		v = v * 10 + (uint64_t)(*p++ - '0');
	}
	if (strcmp(p, "ms") == 0)
		unit = 1;
	else if (strcmp(p, "s") == 0)
		unit = 1000;
	else if (strcmp(p, "m") == 0)
		unit = 60000;
	else if (strcmp(p, "h") == 0)
		unit = 3600000;
	else if (strcmp(p, "d") == 0)
		unit = 86400000;
	else
		return TC_EINVAL;
	if (v > UINT64_MAX / unit)
		return TC_EINVAL;
	*ms = v * unit;
	return 0;
}

/* ---- HTTP dates (RFC 9110, section 5.6.7) --------------------------------- */

/* A cursor over the n bytes of an HTTP date. */
struct hd {
	const char *p, *end;
};

static bool hd_lit(struct hd *c, const char *lit)
{
	size_t n = strlen(lit);

	if ((size_t)(c->end - c->p) < n || memcmp(c->p, lit, n) != 0)
		return false;
	c->p += n;
	return true;
}

/* Exactly n digits, into *v (at most 4: no overflow). */
static bool hd_num(struct hd *c, size_t n, unsigned *v)
{
	uint64_t x;

	if ((size_t)(c->end - c->p) < n || tc_parse_uint(c->p, n, 9999, &x) < 0)
		return false;
	c->p += n;
	*v = (unsigned)x;
	return true;
}

/* One of the names in list (each exactly as written), its index into *i. */
static bool hd_name(struct hd *c, const char *const *list, unsigned count, unsigned *i)
{
	for (*i = 0; *i < count; (*i)++)
		if (hd_lit(c, list[*i]))
			return true;
	return false;
}

static const char *const hd_months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
static const char *const hd_days[] = { "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun" };
static const char *const hd_long_days[] = { "Monday", "Tuesday", "Wednesday", "Thursday",
					    "Friday", "Saturday", "Sunday" };

/* "HH:MM:SS" into seconds of the day. */
static bool hd_clock(struct hd *c, unsigned *secs)
{
	unsigned h, m, s;

	if (!hd_num(c, 2, &h) || !hd_lit(c, ":") || !hd_num(c, 2, &m) ||
	    !hd_lit(c, ":") || !hd_num(c, 2, &s) || h > 23 || m > 59 || s > 60)
		return false;
	*secs = h * 3600 + m * 60 + s;
	return true;
}

/* IMF-fixdate after the day name: ", 06 Nov 1994 08:49:37 GMT". */
static bool hd_imf(struct hd *c, unsigned *y, unsigned *mo, unsigned *d, unsigned *secs)
{
	return hd_lit(c, ", ") && hd_num(c, 2, d) && hd_lit(c, " ") &&
	       hd_name(c, hd_months, 12, mo) && hd_lit(c, " ") && hd_num(c, 4, y) &&
	       hd_lit(c, " ") && hd_clock(c, secs) && hd_lit(c, " GMT");
}

/* RFC 850 after the day name: ", 06-Nov-94 08:49:37 GMT"; a two-digit
 * year from 70 is 19xx, below 70 20xx. */
static bool hd_850(struct hd *c, unsigned *y, unsigned *mo, unsigned *d, unsigned *secs)
{
	if (!hd_lit(c, ", ") || !hd_num(c, 2, d) || !hd_lit(c, "-") ||
	    !hd_name(c, hd_months, 12, mo) || !hd_lit(c, "-") || !hd_num(c, 2, y) ||
	    !hd_lit(c, " ") || !hd_clock(c, secs) || !hd_lit(c, " GMT"))
		return false;
	*y += *y >= 70 ? 1900 : 2000;
	return true;
}

/* asctime after the day name: " Nov  6 08:49:37 1994". */
static bool hd_asctime(struct hd *c, unsigned *y, unsigned *mo, unsigned *d, unsigned *secs)
{
	if (!hd_lit(c, " ") || !hd_name(c, hd_months, 12, mo) || !hd_lit(c, " "))
		return false;
	/* the day: two digits, or a space and one digit */
	if (hd_lit(c, " ") ? !hd_num(c, 1, d) : !hd_num(c, 2, d))
		return false;
	return hd_lit(c, " ") && hd_clock(c, secs) && hd_lit(c, " ") && hd_num(c, 4, y);
}

int tc_http_date_parse(const char *s, size_t n, int64_t *ms)
{
	static const unsigned mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	struct hd c = { s, s + n };
	unsigned y, mo, d, secs, day;
	bool ok;

	if (!s)
		return TC_EINVAL;
	if (hd_name(&c, hd_long_days, 7, &day))
		ok = hd_850(&c, &y, &mo, &d, &secs);
	else if (!hd_name(&c, hd_days, 7, &day))
		ok = false;
	else if (c.p < c.end && *c.p == ',')
		ok = hd_imf(&c, &y, &mo, &d, &secs);
	else
		ok = hd_asctime(&c, &y, &mo, &d, &secs);
	if (!ok || c.p != c.end || d < 1 || d > mdays[mo] ||
	    (mo == 1 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))))
		return TC_EINVAL;
	*ms = (days_from_civil(y, mo + 1, d) * 86400 + secs) * 1000;
	return 0;
}

int tc_http_retry_after(const char *v, size_t n, int64_t now_ms, int64_t *ms)
{
	uint64_t secs;
	int64_t at;
	int r;

	while (n && (*v == ' ' || *v == '\t')) {
		v++;
		n--;
	}
	while (n && (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '\r' ||
		     v[n - 1] == '\n'))
		n--;
	/* delay-seconds: a huge number is "a long time", cut to the maximum */
	r = tc_parse_uint(v, n, TC_RETRY_AFTER_MAX_MS / 1000, &secs);
	if (r == TC_ELIMIT) {
		*ms = TC_RETRY_AFTER_MAX_MS;
		return 0;
	}
	if (r == 0) {
		*ms = (int64_t)secs * 1000;
		return 0;
	}
	if (tc_http_date_parse(v, n, &at) < 0)
		return TC_EINVAL;
	/* both within years 0..9999: the difference cannot overflow */
	at -= now_ms;
	*ms = at < 0 ? 0 : at > TC_RETRY_AFTER_MAX_MS ? TC_RETRY_AFTER_MAX_MS : at;
	return 0;
}
