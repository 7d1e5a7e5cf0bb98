/*
 * tc_http on a real loop, without a peer: what happens to transfers that
 * allow refuses, and to a proxied transfer still resolving when the client
 * is freed. Every callback runs once, never from inside tc_http_post;
 * under ASan, nothing leaks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "channels/channels.h"
#include "tc_test.h"

/* Nothing listens on port 9 of loopback (discard, never run here). */
#define NO_PROXY_HERE "http://127.0.0.1:9"

struct seen {
	int calls;
	int asked;                  /* allow calls */
	CURLcode code;
	bool refused;
	unsigned n_refused;
	char refused_addr[TC_HTTP_ADDR_LEN];
	char peer[TC_HTTP_ADDR_LEN];
};

static bool refuse_all(void *data, const struct sockaddr *sa)
{
	struct seen *s = data;

	(void)sa;
	s->asked++;
	return false;
}

static void on_done(void *data, const struct tc_http_result *r)
{
	struct seen *s = data;

	s->calls++;
	s->code = r->code;
	s->refused = r->refused;
	s->n_refused = r->n_refused;
	snprintf(s->refused_addr, sizeof(s->refused_addr), "%s", r->refused_addr);
	snprintf(s->peer, sizeof(s->peer), "%s", r->peer);
}

static int post(struct tc_http *h, const char *url, const char *proxy, struct seen *s)
{
	struct tc_http_req req;

	memset(&req, 0, sizeof(req));
	req.url = url;
	req.body = "{}";
	req.body_len = 2;
	req.connect_timeout_ms = 2000;
	req.timeout_ms = 5000;
	req.allow = refuse_all;
	req.allow_data = s;
	req.proxy = proxy;
	return tc_http_post(h, &req, on_done, s);
}

/* Turns the loop until s has its callback (or 10 s of turns went by). */
static void run_until_done(uv_loop_t *loop, struct seen *s)
{
	uint64_t end = uv_now(loop) + 10000;

	while (!s->calls && uv_now(loop) < end) {
		(void)uv_run(loop, UV_RUN_ONCE);
		uv_update_time(loop);
	}
}

static void close_loop(uv_loop_t *loop, struct tc_http *h)
{
	tc_http_free(h);
	(void)uv_run(loop, UV_RUN_DEFAULT);
	TC_CHECK_INT(uv_loop_close(loop), 0);
}

static void test_direct_all_refused(void)
{
	uv_loop_t loop;
	struct tc_http *h;
	struct seen s = { 0 };

	tc_test_begin("http: every address refused: refused, no connection, no peer");
	TC_CHECK_INT(uv_loop_init(&loop), 0);
	h = tc_http_new(&loop, 10, 10);
	TC_CHECK_INT(post(h, "http://localhost:8/", NULL, &s), 0);
	TC_CHECK_INT(s.calls, 0);
	run_until_done(&loop, &s);
	TC_CHECK_INT(s.calls, 1);
	TC_CHECK(s.code != CURLE_OK);
	TC_CHECK(s.refused);
	/* libcurl's localhost is 127.0.0.1, then ::1 when IPv6 works. */
	TC_CHECK(s.n_refused >= 1 && (unsigned)s.asked == s.n_refused);
	TC_CHECK_STR(s.refused_addr, "127.0.0.1:8");
	TC_CHECK_STR(s.peer, "");
	close_loop(&loop, h);
}

static void test_proxy_all_refused(void)
{
	uv_loop_t loop;
	struct tc_http *h;
	struct seen s = { 0 };

	tc_test_begin("http: through a proxy, a refused destination ends before any "
		      "connection (the proxy is not even tried)");
	TC_CHECK_INT(uv_loop_init(&loop), 0);
	h = tc_http_new(&loop, 10, 10);
	TC_CHECK_INT(post(h, "http://localhost:8/", NO_PROXY_HERE, &s), 0);
	TC_CHECK_INT(s.calls, 0);
	run_until_done(&loop, &s);
	TC_CHECK_INT(s.calls, 1);
	/* Refused, not "could not connect" to the proxy that is not there. */
	TC_CHECK(s.refused);
	TC_CHECK_INT(s.code, CURLE_COULDNT_CONNECT);
	TC_CHECK_STR(s.refused_addr, "127.0.0.1:8");
	TC_CHECK_STR(s.peer, "");
	close_loop(&loop, h);
}

static void test_free_while_resolving(void)
{
	uv_loop_t loop;
	struct tc_http *h;
	struct seen s = { 0 };

	tc_test_begin("http: freed while a proxied transfer resolves: one aborted "
		      "callback, the transfer freed when the resolver returns");
	TC_CHECK_INT(uv_loop_init(&loop), 0);
	h = tc_http_new(&loop, 10, 10);
	TC_CHECK_INT(post(h, "http://localhost:8/", NO_PROXY_HERE, &s), 0);
	tc_http_free(h); /* before any turn of the loop: still resolving */
	TC_CHECK_INT(s.calls, 1);
	TC_CHECK_INT(s.code, CURLE_ABORTED_BY_CALLBACK);
	TC_CHECK(!s.refused);
	(void)uv_run(&loop, UV_RUN_DEFAULT);
	TC_CHECK_INT(s.calls, 1);
	TC_CHECK_INT(s.asked, 0); /* an orphan is not judged, only freed */
	TC_CHECK_INT(uv_loop_close(&loop), 0);
}

int main(void)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return 1;
	test_direct_all_refused();
	test_proxy_all_refused();
	test_free_while_resolving();
	curl_global_cleanup();
	return tc_test_done();
}
