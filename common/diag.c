/*
 * Diagnostics that point: where (source, line, key path) and what. Fixed
 * storage only, so reporting an error never needs memory.
 */
#include <stdio.h>
#include <string.h>

#include "common/common.h"

static void copy_cut(char *dst, size_t n, const char *src)
{
	size_t len;

	if (!src) {
		dst[0] = '\0';
		return;
	}
	len = strlen(src);
	if (len >= n)
		len = n - 1;
	memcpy(dst, src, len);
	dst[len] = '\0';
}

/* tc_diag_show, escaping quotes and backslashes or not. */
static const char *show(char *out, size_t n, const char *v, size_t len,
			size_t max, bool quotes)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)v;
	size_t i, k, j, o = 0;
	uint32_t cp;
	bool esc;

	for (i = 0; i < len; i += k) {
		k = tc_utf8_decode(p + i, len - i, &cp);
		esc = k == 0 || tc_utf8_unsafe(cp) ||
		      (quotes && (cp == '\'' || cp == '\\'));
		k = k ? k : 1;
		/* room for it, then "..." and the NUL */
		if (i + k > max || o + (esc ? 4 * k : k) + 4 > n)
			break;
		for (j = 0; j < k; j++) {
			if (!esc) {
				out[o++] = (char)p[i + j];
				continue;
			}
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[p[i + j] >> 4];
			out[o++] = hex[p[i + j] & 15];
		}
	}
	if (i < len && o + 4 <= n) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	return out;
}

const char *tc_diag_show(char *out, size_t n, const char *v, size_t len,
			 size_t max)
{
	return show(out, n, v, len, max, true);
}

const char *tc_diag_clean(char *out, size_t n, const char *v)
{
	return show(out, n, v, strlen(v), (size_t)-1, false);
}

static void diag_vset(struct tc_diag *d, const char *source, unsigned line,
		      const char *path, const char *fmt, va_list ap)
{
	copy_cut(d->source, sizeof(d->source), source);
	d->line = line;
	copy_cut(d->path, sizeof(d->path), path);
	vsnprintf(d->msg, sizeof(d->msg), fmt, ap);
}

void tc_diag_set(struct tc_diag *d, const char *source, unsigned line,
		 const char *path, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diag_vset(d, source, line, path, fmt, ap);
	va_end(ap);
}

void tc_diag_format(const struct tc_diag *d, char *out, size_t n)
{
	if (d->source[0] && d->line && d->path[0])
		snprintf(out, n, "%s:%u: %s: %s", d->source, d->line, d->path, d->msg);
	else if (d->source[0] && d->line)
		snprintf(out, n, "%s:%u: %s", d->source, d->line, d->msg);
	else if (d->source[0] && d->path[0])
		snprintf(out, n, "%s: %s: %s", d->source, d->path, d->msg);
	else if (d->path[0])
		snprintf(out, n, "%s: %s", d->path, d->msg);
	else if (d->source[0])
		snprintf(out, n, "%s: %s", d->source, d->msg);
	else
		snprintf(out, n, "%s", d->msg);
}

void tc_diags_add(struct tc_diags *ds, const char *source, unsigned line,
		  const char *path, const char *fmt, ...)
{
	va_list ap;

	if (ds->n >= TC_LIMIT_DIAGS) {
		ds->dropped++;
		return;
	}
	va_start(ap, fmt);
	diag_vset(&ds->item[ds->n++], source, line, path, fmt, ap);
	va_end(ap);
}

void tc_diags_print(const struct tc_diags *ds, void *f)
{
	char line[1200];
	size_t i;

	for (i = 0; i < ds->n; i++) {
		tc_diag_format(&ds->item[i], line, sizeof(line));
		fprintf(f, "%s\n", line);
	}
	if (ds->dropped)
		fprintf(f, "... and %zu more\n", ds->dropped);
}
