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
	size_t o = 0, i, shown = 0;
	static const char hex[] = "0123456789abcdef";

	if (!v)
		v = "";
	out[o++] = '"';
	for (i = 0; v[i] && shown < TC_LIMIT_LOG_VALUE; i++, shown++) {
		unsigned char c = (unsigned char)v[i];

		if (o + 8 >= n)
			break;
		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c < 0x20 || c == 0x7f) {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		} else {
			out[o++] = (char)c;
		}
	}
	if (v[i] && o + 4 < n) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o++] = '"';
	out[o] = '\0';
	return out;
}
