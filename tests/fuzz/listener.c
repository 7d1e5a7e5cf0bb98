/*
 * The listener's request parsing (listener/request.c, route.c): any bytes
 * as a client sends them, fed to tc_req_feed whole and again in chunks of
 * a size the input picks (its length modulo 7, plus 1), then routed. Both
 * feeds must end the same way (done, or refused) and read the same
 * request; a refusal names a status a client can be sent.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "listener/listener.h"
#include "tests/fuzz/fuzz.h"

static void noop(struct tc_exch *x, const char *const *args, unsigned n, void *data)
{
	(void)x;
	(void)args;
	(void)n;
	(void)data;
}

/* tocsind's routes, and the shapes receipts and acknowledgements take. */
static const struct tc_route routes[] = {
	{ "GET", "/healthz", "healthz", noop, NULL },
	{ "GET", "/metrics", "metrics", noop, NULL },
	{ "POST", "/receipts/*/*", "receipt", noop, NULL },
	{ "GET", "/ack/*", "ack", noop, NULL },
};

static int feed(struct tc_req *r, const uint8_t *data, size_t size, size_t chunk)
{
	size_t off = 0, n;
	int rc = TC_REQ_MORE;

	tc_req_init(r);
	while (rc == TC_REQ_MORE && off < size) {
		n = size - off < chunk ? size - off : chunk;
		rc = tc_req_feed(r, (const char *)data + off, n);
		off += n;
	}
	return rc;
}

static bool same_buf(const struct tc_buf *a, const struct tc_buf *b)
{
	return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

static void route(const struct tc_req *r)
{
	char seg[TC_ROUTE_ARGS * (TC_ROUTE_SEGMENT + 1)];
	const char *args[TC_ROUTE_ARGS];
	unsigned n_args = 0, i;
	int k;

	k = tc_route_match(routes, sizeof(routes) / sizeof(routes[0]),
			   tc_req_method(r), r->target.data ? r->target.data : "",
			   seg, args, &n_args);
	fz_assert(k == -404 || k == -405 ||
		  (k >= 0 && (size_t)k < sizeof(routes) / sizeof(routes[0])),
		  "a route, or 404 or 405");
	for (i = 0; k >= 0 && i < n_args; i++)
		fz_assert(args[i][0] && strlen(args[i]) <= TC_ROUTE_SEGMENT &&
			  !strchr(args[i], '/'), "a matched segment is one segment");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int statuses[] = { 400, 408, 413, 414, 431, 505 };
	struct tc_req whole, cut;
	size_t len, i;
	int a, b;

	/* A request at every limit, and a little more. */
	if (size > TC_LIMIT_HTTP_TARGET + TC_LIMIT_HTTP_HEADER_BYTES +
		   TC_LIMIT_HTTP_BODY + 4096)
		return 0;
	a = feed(&whole, data, size, size ? size : 1);
	b = feed(&cut, data, size, size % 7 + 1);
	/* A request with two faults may be refused for either, depending on
	 * where the bytes were cut (http-parser hands over a partial header
	 * at the end of each chunk): which one is not promised. */
	fz_assert((a < 0) == (b < 0) && (a == TC_REQ_DONE) == (b == TC_REQ_DONE),
		  "the same end however the bytes arrive");
	if (a < 0 && a != -ENOMEM) {
		for (i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++)
			if (whole.status == statuses[i])
				break;
		fz_assert(i < sizeof(statuses) / sizeof(statuses[0]) && whole.why,
			  "a refusal has a status and a reason");
	}
	if (a == TC_REQ_DONE) {
		fz_assert(same_buf(&whole.target, &cut.target) &&
			  same_buf(&whole.heads, &cut.heads) &&
			  same_buf(&whole.body, &cut.body) &&
			  whole.n_headers == cut.n_headers &&
			  strcmp(tc_req_method(&whole), tc_req_method(&cut)) == 0,
			  "the same request however the bytes arrive");
		fz_assert(whole.target.len <= TC_LIMIT_HTTP_TARGET &&
			  whole.heads.len <= TC_LIMIT_HTTP_HEADER_BYTES &&
			  whole.body.len <= TC_LIMIT_HTTP_BODY &&
			  whole.n_headers <= TC_LIMIT_HTTP_HEADERS,
			  "a request within the TC_LIMIT_HTTP_* limits");
		(void)tc_req_header(&whole, "content-type", &len);
		route(&whole);
	}
	tc_req_release(&whole);
	tc_req_release(&cut);
	return 0;
}
