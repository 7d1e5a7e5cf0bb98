/*
 * The metrics registry: collectors that write Prometheus text format
 * (version 0.0.4) from what they hold in memory. A scrape is built in one
 * buffer of at most TC_LIMIT_HTTP_RESPONSE bytes; the first append that
 * fails is kept in the writer and every later one is skipped, so a
 * collector never checks each call.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"

#define COLLECTORS_MAX 64 /* collectors in one registry: a few per module */

struct collector {
	tc_metrics_fn fn;
	void *data;
};

struct tc_metrics {
	struct collector c[COLLECTORS_MAX];
	unsigned n;
};

const double tc_hist_bounds[TC_HIST_BUCKETS] = {
	0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30
};

struct tc_metrics *tc_metrics_new(void)
{
	return calloc(1, sizeof(struct tc_metrics));
}

void tc_metrics_free(struct tc_metrics *m)
{
	free(m);
}

int tc_metrics_add(struct tc_metrics *m, tc_metrics_fn fn, void *data)
{
	if (m->n == COLLECTORS_MAX)
		return -ENOMEM;
	m->c[m->n].fn = fn;
	m->c[m->n].data = data;
	m->n++;
	return 0;
}

void tc_metrics_remove(struct tc_metrics *m, tc_metrics_fn fn, void *data)
{
	unsigned i;

	for (i = 0; i < m->n; i++)
		if (m->c[i].fn == fn && m->c[i].data == data) {
			memmove(&m->c[i], &m->c[i + 1], (m->n - i - 1) * sizeof(m->c[0]));
			m->n--;
			return;
		}
}

int tc_metrics_write(const struct tc_metrics *m, struct tc_buf *b)
{
	struct tc_mout o = { b, 0 };
	unsigned i;

	for (i = 0; i < m->n && !o.err; i++)
		m->c[i].fn(&o, m->c[i].data);
	return o.err;
}

static void out_add(struct tc_mout *o, const char *s, size_t n)
{
	if (!o->err)
		o->err = tc_buf_add(o->b, s, n);
}

static void out_adds(struct tc_mout *o, const char *s)
{
	out_add(o, s, strlen(s));
}

void tc_mout_family(struct tc_mout *o, const char *name, const char *type,
		    const char *help)
{
	out_adds(o, "# HELP ");
	out_adds(o, name);
	out_adds(o, " ");
	out_adds(o, help);
	out_adds(o, "\n# TYPE ");
	out_adds(o, name);
	out_adds(o, " ");
	out_adds(o, type);
	out_adds(o, "\n");
}

/* A label value as the text format wants it: \, " and newline escaped. */
static void label_value(struct tc_mout *o, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\')
			out_adds(o, "\\\\");
		else if (*v == '"')
			out_adds(o, "\\\"");
		else if (*v == '\n')
			out_adds(o, "\\n");
		else
			out_add(o, v, 1);
	}
}

static void labels_write(struct tc_mout *o, const char *const *labels,
			 const char *le)
{
	bool any = false;
	size_t i;

	for (i = 0; labels && labels[i] && labels[i + 1]; i += 2) {
		out_adds(o, any ? "," : "{");
		out_adds(o, labels[i]);
		out_adds(o, "=\"");
		label_value(o, labels[i + 1]);
		out_adds(o, "\"");
		any = true;
	}
	if (le) {
		out_adds(o, any ? ",le=\"" : "{le=\"");
		out_adds(o, le);
		out_adds(o, "\"");
		any = true;
	}
	if (any)
		out_adds(o, "}");
}

static void value_write(struct tc_mout *o, double v)
{
	char num[40];

	if (isnan(v))
		out_adds(o, "NaN");
	else if (isinf(v))
		out_adds(o, v > 0 ? "+Inf" : "-Inf");
	else if (v == floor(v) && fabs(v) < 1e15)
		out_add(o, num, (size_t)snprintf(num, sizeof(num), "%.0f", v));
	else
		out_add(o, num, (size_t)snprintf(num, sizeof(num), "%.9g", v));
}

void tc_mout_sample(struct tc_mout *o, const char *name, const char *const *labels,
		    double value)
{
	out_adds(o, name);
	labels_write(o, labels, NULL);
	out_adds(o, " ");
	value_write(o, value);
	out_adds(o, "\n");
}

void tc_hist_observe(struct tc_hist *h, double seconds)
{
	unsigned i;

	for (i = 0; i < TC_HIST_BUCKETS; i++)
		if (seconds <= tc_hist_bounds[i])
			h->bucket[i]++;
	h->count++;
	h->sum += seconds;
}

/* One sample of a histogram series: name plus suffix, labels, le. */
static void hist_line(struct tc_mout *o, const char *name, const char *suffix,
		      const char *const *labels, const char *le, double v)
{
	out_adds(o, name);
	out_adds(o, suffix);
	labels_write(o, labels, le);
	out_adds(o, " ");
	value_write(o, v);
	out_adds(o, "\n");
}

void tc_mout_hist(struct tc_mout *o, const char *name, const char *const *labels,
		  const struct tc_hist *h)
{
	char le[24];
	unsigned i;

	for (i = 0; i < TC_HIST_BUCKETS; i++) {
		snprintf(le, sizeof(le), "%g", tc_hist_bounds[i]);
		hist_line(o, name, "_bucket", labels, le, (double)h->bucket[i]);
	}
	hist_line(o, name, "_bucket", labels, "+Inf", (double)h->count);
	hist_line(o, name, "_sum", labels, NULL, h->sum);
	hist_line(o, name, "_count", labels, NULL, (double)h->count);
}

void tc_mout_by(struct tc_mout *o, const char *name, const char *type, const char *help,
		const char *label, const char *const *names, const uint64_t *values,
		unsigned n)
{
	const char *l[3] = { label, NULL, NULL };
	unsigned i;

	tc_mout_family(o, name, type, help);
	for (i = 0; i < n; i++) {
		l[1] = names[i];
		tc_mout_sample(o, name, l, (double)values[i]);
	}
}
