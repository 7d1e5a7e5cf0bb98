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
