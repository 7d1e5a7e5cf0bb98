/*
 * Logging: one line per event on stderr, key=value with stable keys. The
 * level is the only mutable global in tocsin.
 */
#include <stdio.h>
#include <string.h>

#include "common/common.h"

static enum tc_log_level log_level = TC_LOG_INFO;

static const char *const level_names[] = { "debug", "info", "warn", "error" };

void tc_log_set_level(enum tc_log_level level)
{
	log_level = level;
}

void tc_log(enum tc_log_level level, const char *module, const char *fmt, ...)
{
	char ts[40], line[2048];
	int n;
	va_list ap;

	if (level < log_level)
		return;
	tc_time_format(tc_time_now_ms(), ts, sizeof(ts));
	n = snprintf(line, sizeof(line), "%s level=%s module=%s ", ts,
		     level_names[level], module);
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	/* One write per line, so lines of threads do not interleave. */
	fprintf(stderr, "%s\n", line);
}

const char *tc_log_quote(char *out, size_t n, const char *v)
{
	const unsigned char *p;
	size_t o = 0, i, len, k;
	static const char hex[] = "0123456789abcdef";
	uint32_t cp;

	if (!v)
		v = "";
	p = (const unsigned char *)v;
	len = strlen(v);
	out[o++] = '"';
	/* whole characters, at most TC_LIMIT_LOG_VALUE bytes of v */
	for (i = 0; i < len; i += k) {
		k = tc_utf8_decode(p + i, len - i, &cp);
		if (i + (k ? k : 1) > TC_LIMIT_LOG_VALUE || o + 8 >= n)
			break;
		if (k == 0 || (k == 1 && tc_utf8_unsafe(cp))) {
			/* a control, or a byte that is not UTF-8 */
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[p[i] >> 4];
			out[o++] = hex[p[i] & 15];
			k = 1;
		} else if (tc_utf8_unsafe(cp)) {
			o += (size_t)snprintf(out + o, n - o, "\\u%04x", (unsigned)cp);
		} else if (cp == '"' || cp == '\\') {
			out[o++] = '\\';
			out[o++] = (char)cp;
		} else {
			memcpy(out + o, p + i, k);
			o += k;
		}
	}
	if (i < len && o + 4 < n) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o++] = '"';
	out[o] = '\0';
	return out;
}
