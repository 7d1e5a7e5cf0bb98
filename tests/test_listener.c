/*
 * The listener's parts: tc_req_feed fed whole requests, byte by byte and
 * past every TC_LIMIT_HTTP_* limit; the route table's matching; the
 * metrics writer's format; and, on a real loop with a libuv client, a
 * route that answers later (the way receipts will, after Redis replied).
 */
#include <stdlib.h>
#include <string.h>

#include "listener/listener.h"
#include "tc_test.h"

/* Feeds text in pieces of step bytes; returns the last result. */
static int feed(struct tc_req *r, const char *text, size_t len, size_t step)
{
	size_t i, n;
	int res = TC_REQ_MORE;

	for (i = 0; i < len && res == TC_REQ_MORE; i += n) {
		n = len - i < step ? len - i : step;
		res = tc_req_feed(r, text + i, n);
	}
	return res;
}

static void test_whole_and_split(void)
{
	static const char req[] =
		"POST /receipts/twilio/tok?x=1 HTTP/1.1\r\nHost: a\r\n"
		"Content-Type: application/x-www-form-urlencoded\r\n"
		"X-Empty:\r\nContent-Length: 5\r\n\r\nhello";
	size_t steps[] = { sizeof(req), 1, 7 }, i, len;
	struct tc_req r;

	for (i = 0; i < 3; i++) {
		tc_test_begin(i == 0 ? "req: whole" : i == 1 ? "req: byte by byte" :
			      "req: 7 bytes at a time");
		tc_req_init(&r);
		TC_CHECK_INT(feed(&r, req, sizeof(req) - 1, steps[i]), TC_REQ_DONE);
		TC_CHECK_STR(tc_req_method(&r), "POST");
		TC_CHECK_STR(r.target.data, "/receipts/twilio/tok?x=1");
		TC_CHECK_INT(r.n_headers, 4);
		TC_CHECK_STR(tc_req_header(&r, "content-type", &len),
			     "application/x-www-form-urlencoded");
		TC_CHECK_INT(len, 33);
		TC_CHECK_STR(tc_req_header(&r, "x-empty", &len), "");
		TC_CHECK(tc_req_header(&r, "nope", &len) == NULL);
		TC_CHECK_INT(r.body.len, 5);
		TC_CHECK_STR(r.body.data, "hello");
		/* After the request, nothing more is taken. */
		TC_CHECK_INT(tc_req_feed(&r, "GET / HTTP/1.1\r\n\r\n", 18), TC_REQ_DONE);
		tc_req_release(&r);
	}
}

/* Feeds text (NUL-free) and checks the refusal. */
static void refused(const char *name, const char *text, size_t len, int status,
		    const char *limit)
{
	struct tc_req r;
	int res;

	tc_test_begin(name);
	tc_req_init(&r);
	res = feed(&r, text, len, 4096);
	TC_CHECK_INT(res, limit ? TC_ELIMIT : TC_EINVAL);
	TC_CHECK_INT(r.status, status);
	if (limit)
		TC_CHECK_STR(r.limit, limit);
	TC_CHECK(r.why != NULL);
	TC_CHECK_INT(tc_req_feed(&r, "x", 1), res); /* stays refused */
	tc_req_release(&r);
}

/* A request built to cross or stay at a limit. */
static char *build(struct tc_buf *b, const char *head, size_t n_fill, char fill,
		   const char *tail)
{
	size_t i;

	tc_buf_init(b, 1u << 22);
	(void)tc_buf_adds(b, head);
	for (i = 0; i < n_fill; i++)
		(void)tc_buf_addc(b, fill);
	(void)tc_buf_adds(b, tail);
	return b->data;
}

static void test_limits(void)
{
	struct tc_buf b;
	struct tc_req r;
	unsigned i, k;

	/* The target: at the limit passes, one past it is 414. */
	build(&b, "GET /", TC_LIMIT_HTTP_TARGET - 1, 'a', " HTTP/1.1\r\n\r\n");
	tc_test_begin("limit: target at TC_LIMIT_HTTP_TARGET");
	tc_req_init(&r);
	TC_CHECK_INT(tc_req_feed(&r, b.data, b.len), TC_REQ_DONE);
	TC_CHECK_INT(r.target.len, TC_LIMIT_HTTP_TARGET);
	tc_req_release(&r);
	tc_buf_release(&b);
	build(&b, "GET /", TC_LIMIT_HTTP_TARGET, 'a', " HTTP/1.1\r\n\r\n");
	refused("limit: target past TC_LIMIT_HTTP_TARGET", b.data, b.len, 414,
		"TC_LIMIT_HTTP_TARGET");
	tc_buf_release(&b);

	/* Header fields: as many as allowed pass, one more is 431. */
	tc_buf_init(&b, 1u << 20);
	(void)tc_buf_adds(&b, "GET / HTTP/1.1\r\n");
	for (i = 0; i < TC_LIMIT_HTTP_HEADERS; i++)
		(void)tc_buf_printf(&b, "X-%u: v\r\n", i);
	(void)tc_buf_adds(&b, "\r\n");
	tc_test_begin("limit: TC_LIMIT_HTTP_HEADERS fields");
	tc_req_init(&r);
	TC_CHECK_INT(tc_req_feed(&r, b.data, b.len), TC_REQ_DONE);
	TC_CHECK_INT(r.n_headers, TC_LIMIT_HTTP_HEADERS);
	tc_req_release(&r);
	b.len -= 2;
	(void)tc_buf_adds(&b, "X-last: v\r\n\r\n");
	refused("limit: one field past TC_LIMIT_HTTP_HEADERS", b.data, b.len, 431,
		"TC_LIMIT_HTTP_HEADERS");
	tc_buf_release(&b);

	/* Header bytes: names, values and a NUL after each are counted. */
	build(&b, "GET / HTTP/1.1\r\nX: ", TC_LIMIT_HTTP_HEADER_BYTES - 3, 'v', "\r\n\r\n");
	tc_test_begin("limit: header bytes at TC_LIMIT_HTTP_HEADER_BYTES");
	tc_req_init(&r);
	TC_CHECK_INT(tc_req_feed(&r, b.data, b.len), TC_REQ_DONE);
	TC_CHECK_INT(r.heads.len, TC_LIMIT_HTTP_HEADER_BYTES);
	tc_req_release(&r);
	tc_buf_release(&b);
	build(&b, "GET / HTTP/1.1\r\nX: ", TC_LIMIT_HTTP_HEADER_BYTES - 2, 'v', "\r\n\r\n");
	refused("limit: header bytes past TC_LIMIT_HTTP_HEADER_BYTES", b.data, b.len,
		431, "TC_LIMIT_HTTP_HEADER_BYTES");
	tc_buf_release(&b);

	/* The body: declared too long is refused before any of it comes;
	 * chunked, as it crosses. */
	refused("limit: Content-Length past TC_LIMIT_HTTP_BODY",
		"POST / HTTP/1.1\r\nContent-Length: 65537\r\n\r\n",
		strlen("POST / HTTP/1.1\r\nContent-Length: 65537\r\n\r\n"), 413,
		"TC_LIMIT_HTTP_BODY");
	tc_buf_init(&b, 1u << 20);
	(void)tc_buf_adds(&b, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
	for (i = 0; i <= TC_LIMIT_HTTP_BODY / 1024; i++) {
		/* Chunks of 1024 bytes: one more than the limit holds. */
		(void)tc_buf_adds(&b, "400\r\n");
		for (k = 0; k < 1024; k++)
			(void)tc_buf_addc(&b, 'x');
		(void)tc_buf_adds(&b, "\r\n");
	}
	(void)tc_buf_adds(&b, "0\r\n\r\n");
	refused("limit: chunked body past TC_LIMIT_HTTP_BODY", b.data, b.len, 413,
		"TC_LIMIT_HTTP_BODY");
	tc_buf_release(&b);
}

static void test_malformed(void)
{
	static const struct {
		const char *name, *text;
		int status;
	} cases[] = {
		{ "bad: request line", "GARBAGE\r\n\r\n", 400 },
		{ "bad: unknown method", "BREW / HTTP/1.1\r\n\r\n", 400 },
		{ "bad: header without colon", "GET / HTTP/1.1\r\nNoColon\r\n\r\n", 400 },
		{ "bad: control bytes in the target", "GET /\x01 HTTP/1.1\r\n\r\n", 400 },
		{ "bad: chunk size", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
		  "zz\r\n", 400 },
		{ "bad: HTTP/2.0", "GET / HTTP/2.0\r\n\r\n", 505 },
		{ "bad: HTTP/0.9", "GET / HTTP/0.9\r\n\r\n", 505 },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		refused(cases[i].name, cases[i].text, strlen(cases[i].text),
			cases[i].status, NULL);
}

static void noop(struct tc_exch *x, const char *const *args, unsigned n, void *data)
{
	(void)x;
	(void)args;
	(void)n;
	(void)data;
}

static void test_routes(void)
{
	/* The table as receipts and acknowledgements will extend it. */
	static const struct tc_route t[] = {
		{ "GET", "/healthz", "healthz", noop, NULL },
		{ "GET", "/metrics", "metrics", noop, NULL },
		{ "POST", "/receipts/*/*", "receipts", noop, NULL },
		{ "GET", "/ack/*", "ack", noop, NULL },
		{ "POST", "/ack/*", "ack", noop, NULL },
	};
	char seg[TC_ROUTE_ARGS * (TC_ROUTE_SEGMENT + 1)], big[TC_ROUTE_SEGMENT + 20];
	const char *args[TC_ROUTE_ARGS];
	unsigned n = 99;

	tc_test_begin("route: fixed paths, query ignored, HEAD as GET");
	TC_CHECK_INT(tc_route_match(t, 5, "GET", "/healthz", seg, args, &n), 0);
	TC_CHECK_INT(n, 0);
	TC_CHECK_INT(tc_route_match(t, 5, "GET", "/metrics?x=1", seg, args, &n), 1);
	TC_CHECK_INT(tc_route_match(t, 5, "HEAD", "/healthz", seg, args, &n), 0);
	tc_test_begin("route: segments captured");
	TC_CHECK_INT(tc_route_match(t, 5, "POST", "/receipts/twilio-main/abc.def?s=1",
				    seg, args, &n), 2);
	TC_CHECK_INT(n, 2);
	TC_CHECK_STR(args[0], "twilio-main");
	TC_CHECK_STR(args[1], "abc.def");
	TC_CHECK_INT(tc_route_match(t, 5, "POST", "/ack/T0K", seg, args, &n), 4);
	TC_CHECK_STR(args[0], "T0K");
	tc_test_begin("route: 404 and 405");
	TC_CHECK_INT(tc_route_match(t, 5, "GET", "/", seg, args, &n), -404);
	TC_CHECK_INT(tc_route_match(t, 5, "GET", "/healthz/", seg, args, &n), -404);
	TC_CHECK_INT(tc_route_match(t, 5, "GET", "/healthzz", seg, args, &n), -404);
	TC_CHECK_INT(tc_route_match(t, 5, "GET", "/ack/", seg, args, &n), -404);
	TC_CHECK_INT(tc_route_match(t, 5, "GET", "/ack/a/b", seg, args, &n), -404);
	TC_CHECK_INT(tc_route_match(t, 5, "POST", "/receipts/x", seg, args, &n), -404);
	TC_CHECK_INT(tc_route_match(t, 5, "GET", "http://h/healthz", seg, args, &n), -404);
	TC_CHECK_INT(tc_route_match(t, 5, "POST", "/healthz", seg, args, &n), -405);
	TC_CHECK_INT(tc_route_match(t, 5, "GET", "/receipts/a/b", seg, args, &n), -405);
	tc_test_begin("route: a segment past TC_ROUTE_SEGMENT does not match");
	memcpy(big, "/ack/", 5);
	memset(big + 5, 'a', TC_ROUTE_SEGMENT + 1);
	big[5 + TC_ROUTE_SEGMENT + 1] = '\0';
	TC_CHECK_INT(tc_route_match(t, 5, "GET", big, seg, args, &n), -404);
	big[5 + TC_ROUTE_SEGMENT] = '\0';
	TC_CHECK_INT(tc_route_match(t, 5, "GET", big, seg, args, &n), 3);
	TC_CHECK_INT(strlen(args[0]), TC_ROUTE_SEGMENT);
}

static void collector(struct tc_mout *o, void *data)
{
	const char *l[] = { "channel", "we\"b\\\nhook", NULL };
	struct tc_hist *h = data;

	tc_mout_family(o, "x_total", "counter", "Things.");
	tc_mout_sample(o, "x_total", l, 3);
	tc_mout_sample(o, "x_total", NULL, 0.5);
	tc_mout_hist(o, "x_seconds", NULL, h);
}

static void test_metrics(void)
{
	struct tc_metrics *m = tc_metrics_new();
	struct tc_hist h = { { 0 }, 0, 0 };
	struct tc_buf b;

	tc_test_begin("metrics: text format, escaping, histogram");
	tc_hist_observe(&h, 0.004);
	tc_hist_observe(&h, 2);
	tc_hist_observe(&h, 100);
	TC_CHECK_INT(tc_metrics_add(m, collector, &h), 0);
	tc_buf_init(&b, 1u << 16);
	TC_CHECK_INT(tc_metrics_write(m, &b), 0);
	TC_CHECK(strstr(b.data, "# HELP x_total Things.\n# TYPE x_total counter\n") == b.data);
	TC_CHECK(strstr(b.data, "x_total{channel=\"we\\\"b\\\\\\nhook\"} 3\n") != NULL);
	TC_CHECK(strstr(b.data, "\nx_total 0.5\n") != NULL);
	TC_CHECK(strstr(b.data, "x_seconds_bucket{le=\"0.005\"} 1\n") != NULL);
	TC_CHECK(strstr(b.data, "x_seconds_bucket{le=\"2.5\"} 2\n") != NULL);
	TC_CHECK(strstr(b.data, "x_seconds_bucket{le=\"30\"} 2\n") != NULL);
	TC_CHECK(strstr(b.data, "x_seconds_bucket{le=\"+Inf\"} 3\n") != NULL);
	TC_CHECK(strstr(b.data, "x_seconds_count 3\n") != NULL);
	TC_CHECK(strstr(b.data, "x_seconds_sum 102.004\n") != NULL);
	tc_test_begin("metrics: a scrape past its buffer fails whole");
	tc_buf_release(&b);
	tc_buf_init(&b, 100);
	TC_CHECK_INT(tc_metrics_write(m, &b), TC_ELIMIT);
	tc_test_begin("metrics: a removed collector writes nothing");
	tc_metrics_remove(m, collector, &h);
	tc_buf_release(&b);
	tc_buf_init(&b, 100);
	TC_CHECK_INT(tc_metrics_write(m, &b), 0);
	TC_CHECK_INT(b.len, 0);
	tc_buf_release(&b);
	tc_metrics_free(m);
}

/* ---- a route that answers later, on a real loop --------------------------- */

struct later {
	uv_loop_t *loop;
	uv_timer_t timer;
	struct tc_exch *x;
	struct tc_listener *l;
	char arg[64];
	/* the client */
	uv_tcp_t tcp;
	uv_connect_t conn;
	uv_write_t wr;
	struct tc_buf got;
	bool closed;
	uint64_t answered;          /* the listener's count, before it stopped */
};

static void later_fire(uv_timer_t *t)
{
	struct later *s = container_of(t, struct later, timer);

	tc_exch_reply(s->x, 202, "text/plain", s->arg, strlen(s->arg));
	s->x = NULL;
	uv_close((uv_handle_t *)t, NULL);
}

static void later_route(struct tc_exch *x, const char *const *args, unsigned n,
			void *data)
{
	struct later *s = data;

	TC_CHECK_INT(n, 1);
	snprintf(s->arg, sizeof(s->arg), "%s", args[0]);
	TC_CHECK_STR(tc_req_method(tc_exch_req(x)), "POST");
	s->x = x;
	(void)uv_timer_init(s->loop, &s->timer);
	(void)uv_timer_start(&s->timer, later_fire, 50, 0);
}

static void client_alloc(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
	static char mem[4096];

	(void)h;
	(void)size;
	*buf = uv_buf_init(mem, sizeof(mem));
}

static void client_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
	struct later *s = st->data;

	if (n > 0) {
		(void)tc_buf_add(&s->got, buf->base, (size_t)n);
		return;
	}
	if (n < 0) {
		s->closed = true;
		uv_close((uv_handle_t *)st, NULL);
		s->answered = tc_listen_stats(s->l)->answered;
		tc_listen_stop(s->l);
	}
}

static void client_connected(uv_connect_t *c, int status)
{
	struct later *s = c->data;
	static const char req[] = "POST /ack/T0K3N HTTP/1.1\r\nContent-Length: 0\r\n\r\n";
	uv_buf_t b = uv_buf_init((char *)req, sizeof(req) - 1);

	TC_CHECK_INT(status, 0);
	(void)uv_write(&s->wr, (uv_stream_t *)&s->tcp, &b, 1, NULL);
	(void)uv_read_start((uv_stream_t *)&s->tcp, client_alloc, client_read);
}

static void test_reply_later(void)
{
	struct later s;
	struct tc_route t[] = { { "POST", "/ack/*", "ack", later_route, &s } };
	struct sockaddr_in sa;
	char why[200];

	tc_test_begin("server: a route answers after a timer");
	memset(&s, 0, sizeof(s));
	s.loop = uv_default_loop();
	tc_buf_init(&s.got, 1u << 16);
	TC_CHECK_INT(tc_listen_start(s.loop, "127.0.0.1:0", t, 1, &s.l, why, sizeof(why)), 0);
	uv_ip4_addr("127.0.0.1", tc_listen_port(s.l), &sa);
	(void)uv_tcp_init(s.loop, &s.tcp);
	s.tcp.data = &s;
	s.conn.data = &s;
	(void)uv_tcp_connect(&s.conn, &s.tcp, (struct sockaddr *)&sa, client_connected);
	uv_run(s.loop, UV_RUN_DEFAULT);
	TC_CHECK(s.closed);
	TC_CHECK(s.got.data && strncmp(s.got.data, "HTTP/1.1 202 Accepted\r\n", 23) == 0);
	TC_CHECK(s.got.data && strstr(s.got.data, "\r\nConnection: close\r\n") != NULL);
	TC_CHECK(s.got.data && strstr(s.got.data, "\r\n\r\nT0K3N") != NULL);
	TC_CHECK_INT(s.answered, 1);
	tc_buf_release(&s.got);
}

int main(void)
{
	test_whole_and_split();
	test_limits();
	test_malformed();
	test_routes();
	test_metrics();
	test_reply_later();
	return tc_test_done();
}
