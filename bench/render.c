/*
 * bench/render: how long one render of a realistic email body takes, and
 * how many allocations it makes, beside a baseline in the same run: the
 * same text built by hand-written C appends into the same buffer (what a
 * renderer cannot beat). Figures only; never a pass/fail test.
 *
 * The template is a ~1 KiB plain-text incident email with 15 variables and
 * one section over a list of affected components; it renders with HTML
 * escaping (as email.html would) and without (email.txt).
 *
 * usage: render [ROUNDS]   (default 200000 renders per measurement)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/common.h"
#include "templates/templates.h"
#include "tests/alloc_count.h"

static const char body[] =
	"Subject: [{{severity}}] {{service}} incident {{incident}}\n\n"
	"Hello {{member.name}},\n\n"
	"We are investigating an incident affecting {{service}} in {{region}}.\n"
	"Started at {{started_at}} (detected by {{detected_by}}).\n\n"
	"What customers see: {{impact}}\n"
	"Current status: {{status}}\n\n"
	"Affected components:\n"
	"{{#components}}\n"
	"  - {{name}}: {{state}}\n"
	"{{/components}}\n\n"
	"Our incident commander is {{commander}} ({{commander_email}}).\n"
	"The next update will follow {{next_update}}; live status at {{status_url}}.\n\n"
	"Workaround: {{workaround}}\n\n"
	"If you have questions, reply to this message or call {{hotline}}.\n"
	"Reference: {{ticket}} / job {{job.id}}.\n\n"
	"-- \n"
	"The incident desk, on behalf of {{company}}. You get this message as\n"
	"{{member.role}} because you are listed for {{service}} notifications.\n"
	"Please do not forward it outside your organisation: it may contain\n"
	"details that are not public yet.\n";

static json_t *make_data(void)
{
	json_t *d = json_pack(
		"{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s,"
		" s:s, s:s, s:{s:s}, s:{s:s, s:s}, s:[{s:s,s:s},{s:s,s:s},{s:s,s:s}]}",
		"severity", "critical", "service", "Payments & <Billing>",
		"incident", "INC-4242", "region", "eu-west-1",
		"started_at", "2026-11-25 09:58 UTC", "detected_by", "synthetic checks",
		"impact", "card payments fail for about 40% of checkouts",
		"status", "mitigation in progress", "commander", "Ada Lovelace",
		"commander_email", "ada@example.org", "next_update", "in 30 minutes",
		"status_url", "https://status.example.org/incidents/4242",
		"workaround", "retry the payment, or pay by bank transfer",
		"hotline", "+44 20 7946 0000", "ticket", "OPS-99812",
		"company", "Example \"Payments\" Ltd",
		"job", "id", "INC-4242-initial",
		"member", "name", "Grace Hopper", "role", "on-call engineer",
		"components",
		"name", "card gateway", "state", "degraded",
		"name", "3-D Secure", "state", "down",
		"name", "refunds", "state", "operational");

	return d;
}

static const char *s(json_t *d, const char *k)
{
	return json_string_value(json_object_get(d, k));
}

/* The baseline: the same text, appended by hand (no escaping). */
static int by_hand(json_t *d, struct tc_buf *b)
{
	json_t *c;
	size_t i;
	int r = 0;

	r |= tc_buf_printf(b, "Subject: [%s] %s incident %s\n\nHello %s,\n\n", s(d, "severity"),
			   s(d, "service"), s(d, "incident"),
			   s(json_object_get(d, "member"), "name"));
	r |= tc_buf_printf(b, "We are investigating an incident affecting %s in %s.\n"
			   "Started at %s (detected by %s).\n\nWhat customers see: %s\n"
			   "Current status: %s\n\nAffected components:\n", s(d, "service"),
			   s(d, "region"), s(d, "started_at"), s(d, "detected_by"),
			   s(d, "impact"), s(d, "status"));
	json_array_foreach(json_object_get(d, "components"), i, c)
		r |= tc_buf_printf(b, "  - %s: %s\n", s(c, "name"), s(c, "state"));
	r |= tc_buf_printf(b, "\nOur incident commander is %s (%s).\n"
			   "The next update will follow %s; live status at %s.\n\n"
			   "Workaround: %s\n\nIf you have questions, reply to this message or call %s.\n"
			   "Reference: %s / job %s.\n\n-- \nThe incident desk, on behalf of %s. You get this message as\n"
			   "%s because you are listed for %s notifications.\n"
			   "Please do not forward it outside your organisation: it may contain\n"
			   "details that are not public yet.\n", s(d, "commander"),
			   s(d, "commander_email"), s(d, "next_update"), s(d, "status_url"),
			   s(d, "workaround"), s(d, "hotline"), s(d, "ticket"),
			   s(json_object_get(d, "job"), "id"), s(d, "company"),
			   s(json_object_get(d, "member"), "role"), s(d, "service"));
	return r ? -1 : 0;
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

#define BATCHES 21

/* Median ns per render over BATCHES batches of rounds/BATCHES renders;
 * *per_render gets the allocations per render in the timed part. */
static double measure(const struct tc_tpl *t, enum tc_tpl_escape esc, json_t *d,
		      unsigned rounds, double *per_render, size_t *len)
{
	double batch[BATCHES];
	struct tc_buf b;
	unsigned long a0;
	unsigned i, k, n = rounds / BATCHES;

	tc_buf_init(&b, TC_LIMIT_BODY);
	/* One render to size the buffer, as a delivery's body buffer is. */
	if (t)
		(void)tc_tpl_render(t, d, esc, &b, NULL);
	else
		(void)by_hand(d, &b);
	*len = b.len;
	a0 = tc_allocs();
	for (k = 0; k < BATCHES; k++) {
		double t0 = now_ns();

		for (i = 0; i < n; i++) {
			tc_buf_reset(&b);
			if (t)
				(void)tc_tpl_render(t, d, esc, &b, NULL);
			else
				(void)by_hand(d, &b);
		}
		batch[k] = (now_ns() - t0) / n;
	}
	*per_render = (double)(tc_allocs() - a0) / ((double)n * BATCHES);
	tc_buf_release(&b);
	qsort(batch, BATCHES, sizeof(double), cmp_double);
	return batch[BATCHES / 2];
}

int main(int argc, char **argv)
{
	unsigned rounds = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 200000;
	struct tc_diag diag;
	struct tc_tpl *t;
	json_t *d = make_data();
	double ns, al;
	size_t len;

	if (!d || rounds < BATCHES) {
		fprintf(stderr, "usage: render [ROUNDS >= %d]\n", BATCHES);
		return 2;
	}
	if (tc_tpl_compile("bench/email.txt", body, strlen(body), NULL, NULL, &t, &diag) < 0) {
		fprintf(stderr, "render: %s\n", diag.msg);
		return 1;
	}
	printf("one 1 KiB email body, 15 variables, one section over 3 items; "
	       "median of %d batches of %u renders\n", BATCHES, rounds / BATCHES);
	printf("%-34s %10s %12s %8s\n", "renderer", "ns/render", "allocs/render", "bytes");
	ns = measure(NULL, TC_TPL_ESC_NONE, d, rounds, &al, &len);
	printf("%-34s %10.0f %12.2f %8zu\n", "baseline: hand-written appends", ns, al, len);
	ns = measure(t, TC_TPL_ESC_NONE, d, rounds, &al, &len);
	printf("%-34s %10.0f %12.2f %8zu\n", "tc_tpl_render, plain (email.txt)", ns, al, len);
	ns = measure(t, TC_TPL_ESC_HTML, d, rounds, &al, &len);
	printf("%-34s %10.0f %12.2f %8zu\n", "tc_tpl_render, HTML escaping", ns, al, len);
	tc_tpl_free(t);
	json_decref(d);
	return 0;
}
