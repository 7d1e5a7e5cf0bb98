/*
 * listener: tocsind's HTTP/1.1 server, on the daemon's libuv loop.
 *
 * Requests are parsed with http-parser (Debian's libhttp-parser) by
 * tc_req_feed, a function fed bytes with no I/O of its own (the fuzzing
 * entry point). Every size and count a client controls is bounded by the
 * TC_LIMIT_HTTP_* limits of common/common.h; a slow or idle client is
 * closed after TC_LIMIT_HTTP_REQUEST_MS; at most TC_LIMIT_HTTP_CONNECTIONS
 * are open. One request per connection: every answer says
 * "Connection: close".
 *
 * Routes are a table: a method and a path pattern whose "*" segments
 * match one non-empty segment each and are handed to the handler (so
 * /receipts/<provider>/<token> is {"POST", "/receipts/ * / *"}). A handler
 * answers with tc_exch_reply, at once or later (after a Redis reply).
 */
#ifndef TC_LISTENER_H
#define TC_LISTENER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <http_parser.h>
#include <uv.h>

#include "common/common.h"

/* ---- a request, parsed from bytes (request.c) ------------------------------- */

#define TC_REQ_MORE  0   /* tc_req_feed: the request is not whole yet */
#define TC_REQ_DONE  1   /* ... it is: see the fields */

struct tc_req_header {
	size_t name, name_len;   /* offsets into tc_req.heads */
	size_t value, value_len;
};

struct tc_req {
	http_parser p;
	struct tc_buf target;    /* the request target as sent, at most
				  * TC_LIMIT_HTTP_TARGET */
	struct tc_buf heads;     /* header names (lowercased) and values, at
				  * most TC_LIMIT_HTTP_HEADER_BYTES */
	struct tc_req_header header[TC_LIMIT_HTTP_HEADERS];
	unsigned n_headers;
	bool in_value;           /* the last header bytes were a value */
	struct tc_buf body;      /* at most TC_LIMIT_HTTP_BODY */
	bool done;
	int status;              /* when refused: the status to answer */
	const char *why;         /* ... and why (static text) */
	const char *limit;       /* ... the TC_LIMIT_HTTP_* crossed, or NULL */
};

/* Prepares r (caller's storage) for one request. */
void tc_req_init(struct tc_req *r);
/* Frees what r holds. */
void tc_req_release(struct tc_req *r);
/* Parses the n bytes at data as the next part of r. Returns TC_REQ_MORE,
 * TC_REQ_DONE (bytes after the request are ignored: one request per
 * connection), or TC_EINVAL / TC_ELIMIT with r->status (400, 408, 413,
 * 414, 431, 505), r->why and, for TC_ELIMIT, r->limit set; r takes no
 * more bytes after either. -ENOMEM when out of memory. Does no I/O: feed
 * it any bytes. */
int tc_req_feed(struct tc_req *r, const char *data, size_t n);
/* The method's name ("GET"). */
const char *tc_req_method(const struct tc_req *r);
/* The value of header name (lowercase), the first of that name; NULL when
 * absent. *len gets its length. Borrowed from r. */
const char *tc_req_header(const struct tc_req *r, const char *name, size_t *len);

/* ---- routes (route.c) ------------------------------------------------------- */

#define TC_ROUTE_ARGS 4          /* "*" segments in one pattern */
#define TC_ROUTE_SEGMENT 512     /* bytes of one matched "*" segment */

struct tc_exch;
/* A handler: args[0..n) are the "*" segments matched (NUL-terminated,
 * not decoded, borrowed until the reply). Answers with tc_exch_reply,
 * now or later, exactly once. */
typedef void (*tc_route_fn)(struct tc_exch *x, const char *const *args, unsigned n,
			    void *data);

struct tc_route {
	const char *method;      /* "GET" (also answers HEAD), "POST", ... */
	const char *pattern;     /* "/healthz", "/ack/ *" (no spaces) */
	const char *name;        /* a metrics label: bounded, never the path */
	tc_route_fn fn;
	void *data;
};

/* Finds the route of table (n entries) for method and target (its path,
 * before any '?'). Returns its index with args filled (n_args segments,
 * copied into seg, TC_ROUTE_ARGS * (TC_ROUTE_SEGMENT + 1) bytes), or -404
 * when no pattern matches the path, -405 when one does but not for this
 * method. */
int tc_route_match(const struct tc_route *table, size_t n, const char *method,
		   const char *target, char *seg, const char **args, unsigned *n_args);

/* ---- the server (server.c) -------------------------------------------------- */

struct tc_listener;

#define TC_LISTEN_REFUSALS 8

/* What the listener counts, for /metrics. */
struct tc_listen_stats {
	uint64_t accepted;       /* connections */
	unsigned open;           /* connections open now */
	uint64_t evicted;        /* closed for a newer one (the cap), or turned
				  * away (out of memory) */
	uint64_t timed_out;      /* TC_LIMIT_HTTP_REQUEST_MS or _WRITE_MS */
	uint64_t refused[TC_LISTEN_REFUSALS]; /* requests refused, by kind: see
				  * tc_listen_refusal_names */
	uint64_t answered;       /* requests a route answered */
};
/* The refusal kinds, index for index with tc_listen_stats.refused:
 * "bad_request", "target", "headers", "header_bytes", "body", "timeout",
 * "version", "not_found". */
extern const char *const tc_listen_refusal_names[TC_LISTEN_REFUSALS];

/* Starts listening on addr ("host:port", port 0 for any free one) on
 * loop, with the n routes of table (borrowed for the listener's life).
 * Returns 0 with *out set, or a negative errno (why filled: what failed). */
int tc_listen_start(uv_loop_t *loop, const char *addr, const struct tc_route *table,
		    size_t n, struct tc_listener **out, char *why, size_t why_n);
/* The port listened on (the chosen one for port 0). */
int tc_listen_port(const struct tc_listener *l);
const struct tc_listen_stats *tc_listen_stats(const struct tc_listener *l);
/* Stops listening and closes every connection; the listener is freed once
 * its handles closed and every pending reply came (tc_exch_reply). */
void tc_listen_stop(struct tc_listener *l);

/* The request of an exchange (borrowed until the reply). */
const struct tc_req *tc_exch_req(const struct tc_exch *x);
/* Answers x with status, content type and body (copied) and ends the
 * exchange: x must not be used after. Fine after the client went away
 * (the answer is dropped). body is ignored for HEAD. */
void tc_exch_reply(struct tc_exch *x, int status, const char *content_type,
		   const char *body, size_t len);

#endif
