/*
 * The HTTP server on the loop: accepts connections, feeds their bytes to
 * tc_req_feed, hands a whole request to its route and writes the answer.
 * A connection lives READING -> HANDLING -> WRITING -> LINGERING and is
 * then closed: one request each.
 *
 * Keeps true: no client holds the loop or a connection slot for long.
 * Each connection has one timer: the request must arrive whole within
 * TC_LIMIT_HTTP_REQUEST_MS of connecting (a slow-loris is answered 408),
 * and the answer must be taken within TC_LIMIT_HTTP_WRITE_MS. Past
 * TC_LIMIT_HTTP_CONNECTIONS open, a new connection closes an older one
 * (evict_one), so connections held open cannot lock out a health check.
 * Nothing a client sent is ever echoed or logged.
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "listener/listener.h"

#define READ_CHUNK 16384 /* bytes read at once, into one listener buffer */

enum conn_state { C_READING, C_HANDLING, C_WRITING, C_LINGERING, C_CLOSING };

/* A connection and its one exchange (one request per connection): the
 * struct a route's handler holds as struct tc_exch. */
struct tc_exch {
	struct tc_listener *l;
	struct tc_exch *prev, *next;   /* in l's list, oldest first */
	enum conn_state state;
	bool awaiting;              /* a route has not replied yet */
	bool head;                  /* a HEAD request: no body in the answer */
	unsigned handles;           /* open: tcp and timer */
	uv_tcp_t tcp;
	uv_timer_t timer;
	uv_write_t wr;
	uv_shutdown_t sd;
	struct tc_req req;
	struct tc_buf out;
	char seg[TC_ROUTE_ARGS * (TC_ROUTE_SEGMENT + 1)];
	const char *args[TC_ROUTE_ARGS];
};

struct tc_listener {
	uv_loop_t *loop;
	uv_tcp_t tcp;
	const struct tc_route *table;
	size_t n_routes;
	struct tc_exch *head, *tail;   /* connections not yet freed */
	bool stopping, tcp_open;
	bool spare_busy;            /* spare is turning a connection away */
	bool spare_took;            /* ... and took one: look for another after */
	uv_tcp_t spare;             /* accepts and closes one when out of memory */
	int port;
	struct tc_listen_stats st;
	char rbuf[READ_CHUNK];
};

const char *const tc_listen_refusal_names[TC_LISTEN_REFUSALS] = {
	"bad_request", "target", "headers", "header_bytes", "body", "timeout",
	"version", "not_found",
};

static const char *status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 431: return "Request Header Fields Too Large";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default:  return "Status";
	}
}

/* Which refusal a status (and crossed limit) counts as. */
static unsigned refusal_index(int status, const char *limit)
{
	switch (status) {
	case 414: return 1;
	case 431: return limit && strcmp(limit, "TC_LIMIT_HTTP_HEADERS") == 0 ? 2 : 3;
	case 413: return 4;
	case 408: return 5;
	case 505: return 6;
	case 404: case 405: return 7;
	default:  return 0;
	}
}

static void listener_maybe_free(struct tc_listener *l)
{
	if (l->stopping && !l->tcp_open && !l->head && !l->spare_busy)
		free(l);
}

static void conn_unlink(struct tc_exch *c)
{
	struct tc_listener *l = c->l;

	if (c->prev)
		c->prev->next = c->next;
	else
		l->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		l->tail = c->prev;
}

/* Frees c once its handles are closed and its route replied. */
static void conn_maybe_free(struct tc_exch *c)
{
	struct tc_listener *l = c->l;

	if (c->handles || c->awaiting)
		return;
	conn_unlink(c);
	tc_req_release(&c->req);
	tc_buf_release(&c->out);
	free(c);
	listener_maybe_free(l);
}

static void handle_closed(uv_handle_t *h)
{
	struct tc_exch *c = h->data;

	c->handles--;
	conn_maybe_free(c);
}

static void conn_close(struct tc_exch *c)
{
	if (c->state == C_CLOSING)
		return;
	c->state = C_CLOSING;
	c->l->st.open--;
	uv_close((uv_handle_t *)&c->tcp, handle_closed);
	uv_close((uv_handle_t *)&c->timer, handle_closed);
}

static void on_linger_alloc(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
	struct tc_exch *c = h->data;

	(void)size;
	*buf = uv_buf_init(c->l->rbuf, sizeof(c->l->rbuf));
}

/* After the answer: what the client still sends is read and dropped until
 * it closes (or the timer fires), so closing does not reset the
 * connection before the client read the answer. */
static void on_linger_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	(void)buf;
	if (nread < 0)
		conn_close(s->data);
}

static void on_shutdown(uv_shutdown_t *sd, int status)
{
	struct tc_exch *c = sd->data;

	if (c->state != C_LINGERING)
		return;
	if (status < 0 || uv_read_start((uv_stream_t *)&c->tcp, on_linger_alloc,
					on_linger_read) < 0)
		conn_close(c);
}

static void on_written(uv_write_t *wr, int status)
{
	struct tc_exch *c = wr->data;

	if (c->state != C_WRITING)
		return;
	c->state = C_LINGERING;
	if (status < 0 || uv_shutdown(&c->sd, (uv_stream_t *)&c->tcp, on_shutdown) < 0)
		conn_close(c);
}

static void on_timeout(uv_timer_t *t);

/* Writes the answer and moves c to WRITING, on a fresh timer. */
static void conn_answer(struct tc_exch *c, int status, const char *ctype,
			const char *body, size_t len)
{
	uv_buf_t b;

	tc_buf_reset(&c->out);
	if (tc_buf_printf(&c->out, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
			  "Content-Length: %zu\r\nConnection: close\r\n"
			  "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n\r\n",
			  status, status_text(status), ctype, len) < 0 ||
	    (!c->head && tc_buf_add(&c->out, body, len) < 0)) {
		conn_close(c);
		return;
	}
	(void)uv_read_stop((uv_stream_t *)&c->tcp);
	c->state = C_WRITING;
	b = uv_buf_init(c->out.data, (unsigned)c->out.len);
	if (uv_write(&c->wr, (uv_stream_t *)&c->tcp, &b, 1, on_written) < 0) {
		conn_close(c);
		return;
	}
	(void)uv_timer_start(&c->timer, on_timeout, TC_LIMIT_HTTP_WRITE_MS, 0);
}

/* Answers a refused request with its status and a short reason. */
static void conn_refuse(struct tc_exch *c, int status, const char *why, const char *limit)
{
	char body[200];
	int n;

	c->l->st.refused[refusal_index(status, limit)]++;
	n = snprintf(body, sizeof(body), limit ? "%s (%s)\n" : "%s\n", why, limit);
	conn_answer(c, status, "text/plain; charset=utf-8", body,
		    n < 0 ? 0 : (size_t)n >= sizeof(body) ? sizeof(body) - 1 : (size_t)n);
}

static void on_timeout(uv_timer_t *t)
{
	struct tc_exch *c = t->data;

	/* A client that keeps the connection open after reading its
	 * answer (lingering) did nothing wrong: not counted. */
	if (c->state != C_LINGERING)
		c->l->st.timed_out++;
	switch (c->state) {
	case C_READING:
		conn_refuse(c, 408, "the request did not arrive in time",
			    "TC_LIMIT_HTTP_REQUEST_MS");
		break;
	case C_HANDLING:
		/* The route's reply comes later and is dropped. */
		conn_answer(c, 503, "text/plain; charset=utf-8", "no answer in time\n", 18);
		break;
	default:
		conn_close(c);
		break;
	}
}

/* A whole request: finds its route and hands it over. */
static void conn_dispatch(struct tc_exch *c)
{
	const struct tc_route *rt;
	const char *method = tc_req_method(&c->req);
	unsigned n_args = 0;
	int i;

	(void)uv_read_stop((uv_stream_t *)&c->tcp);
	c->head = strcmp(method, "HEAD") == 0;
	i = tc_route_match(c->l->table, c->l->n_routes, method, c->req.target.data ?
			   c->req.target.data : "", c->seg, c->args, &n_args);
	if (i == -404) {
		conn_refuse(c, 404, "no such path", NULL);
		return;
	}
	if (i == -405) {
		conn_refuse(c, 405, "method not allowed here", NULL);
		return;
	}
	rt = &c->l->table[i];
	c->state = C_HANDLING;
	c->awaiting = true;
	c->l->st.answered++;
	rt->fn(c, c->args, n_args, rt->data);
}

static void on_alloc(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
	struct tc_exch *c = h->data;

	(void)size;
	*buf = uv_buf_init(c->l->rbuf, sizeof(c->l->rbuf));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct tc_exch *c = s->data;
	int r;

	if (nread < 0) {
		conn_close(c); /* gone before the request was whole */
		return;
	}
	if (nread == 0 || c->state != C_READING)
		return;
	r = tc_req_feed(&c->req, buf->base, (size_t)nread);
	if (r == TC_REQ_DONE)
		conn_dispatch(c);
	else if (r == -ENOMEM)
		conn_close(c);
	else if (r < 0)
		conn_refuse(c, c->req.status, c->req.why, c->req.limit);
}

/* At the cap: closes the oldest connection but fresh that is still
 * sending its request or already answered (lingering), else the oldest
 * of any: a new connection always gets in, so clients that hold
 * connections open, in any state, cannot lock out a health check. */
static void evict_one(struct tc_listener *l, const struct tc_exch *fresh)
{
	struct tc_exch *c, *oldest = NULL;

	for (c = l->head; c; c = c->next) {
		if (c == fresh || c->state == C_CLOSING)
			continue;
		if (c->state == C_READING || c->state == C_LINGERING) {
			oldest = c;
			break;
		}
		if (!oldest)
			oldest = c;
	}
	if (oldest) {
		l->st.evicted++;
		conn_close(oldest);
	}
}

static void turn_away(struct tc_listener *l);

/* The spare handle closed: if it took a connection, look for another
 * one left waiting while it was busy (libuv accepts nothing more until
 * that one is taken). */
static void spare_closed(uv_handle_t *h)
{
	struct tc_listener *l = container_of((uv_tcp_t *)h, struct tc_listener, spare);

	l->spare_busy = false;
	if (l->stopping)
		listener_maybe_free(l);
	else if (l->spare_took)
		turn_away(l);
}

/* Out of memory for a connection: accepts it on the spare handle and
 * closes it, so that the listening socket does not stall. */
static void turn_away(struct tc_listener *l)
{
	if (l->spare_busy || l->stopping || uv_tcp_init(l->loop, &l->spare) < 0)
		return;
	l->spare_busy = true;
	l->spare_took = uv_accept((uv_stream_t *)&l->tcp, (uv_stream_t *)&l->spare) == 0;
	if (l->spare_took)
		l->st.evicted++;
	uv_close((uv_handle_t *)&l->spare, spare_closed);
}

static void on_connection(uv_stream_t *server, int status)
{
	struct tc_listener *l = container_of((uv_tcp_t *)server, struct tc_listener, tcp);
	struct tc_exch *c;

	if (status < 0 || l->stopping)
		return;
	c = calloc(1, sizeof(*c));
	if (!c) {
		turn_away(l);
		return;
	}
	c->l = l;
	tc_req_init(&c->req);
	tc_buf_init(&c->out, TC_LIMIT_HTTP_RESPONSE + 1024);
	c->tcp.data = c;
	c->timer.data = c;
	c->wr.data = c;
	c->sd.data = c;
	(void)uv_tcp_init(l->loop, &c->tcp);
	(void)uv_timer_init(l->loop, &c->timer);
	c->handles = 2;
	c->prev = l->tail;
	if (l->tail)
		l->tail->next = c;
	else
		l->head = c;
	l->tail = c;
	l->st.open++;
	if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0) {
		conn_close(c);
		return;
	}
	l->st.accepted++;
	if (l->st.open > TC_LIMIT_HTTP_CONNECTIONS)
		evict_one(l, c);
	if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0 ||
	    uv_timer_start(&c->timer, on_timeout, TC_LIMIT_HTTP_REQUEST_MS, 0) < 0)
		conn_close(c);
}

/* Resolves addr (at start: a blocking lookup is fine then) and binds. */
static int listen_bind(struct tc_listener *l, const char *addr, char *why, size_t n)
{
	struct addrinfo hints = { 0 }, *ai = NULL;
	char host[300];
	const char *colon = strrchr(addr, ':'), *h = host;
	size_t hl;
	int e;

	if (!colon || (size_t)(colon - addr) >= sizeof(host))
		return snprintf(why, n, "not host:port"), -EINVAL;
	hl = (size_t)(colon - addr);
	memcpy(host, addr, hl);
	host[hl] = '\0';
	if (host[0] == '[' && hl >= 2 && host[hl - 1] == ']') {
		host[hl - 1] = '\0';
		h = host + 1;
	}
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	e = getaddrinfo(h, colon + 1, &hints, &ai);
	if (e != 0) {
		snprintf(why, n, "cannot resolve '%s': %s", h, gai_strerror(e));
		return -EINVAL;
	}
	e = uv_tcp_bind(&l->tcp, ai->ai_addr, 0);
	if (e == 0)
		e = uv_listen((uv_stream_t *)&l->tcp, 128, on_connection);
	freeaddrinfo(ai);
	if (e < 0)
		snprintf(why, n, "%s", uv_strerror(e));
	return e;
}

static void listener_closed(uv_handle_t *h)
{
	struct tc_listener *l = container_of((uv_tcp_t *)h, struct tc_listener, tcp);

	l->tcp_open = false;
	listener_maybe_free(l);
}

int tc_listen_start(uv_loop_t *loop, const char *addr, const struct tc_route *table,
		    size_t n, struct tc_listener **out, char *why, size_t why_n)
{
	struct tc_listener *l = calloc(1, sizeof(*l));
	struct sockaddr_storage ss;
	int e, len = sizeof(ss);

	if (!l) {
		snprintf(why, why_n, "out of memory");
		return -ENOMEM;
	}
	l->loop = loop;
	l->table = table;
	l->n_routes = n;
	e = uv_tcp_init(loop, &l->tcp);
	if (e < 0) {
		snprintf(why, why_n, "%s", uv_strerror(e));
		free(l);
		return e;
	}
	l->tcp_open = true;
	e = listen_bind(l, addr, why, why_n);
	if (e == 0)
		e = uv_tcp_getsockname(&l->tcp, (struct sockaddr *)&ss, &len);
	if (e < 0) {
		l->stopping = true;
		uv_close((uv_handle_t *)&l->tcp, listener_closed);
		return e;
	}
	l->port = ntohs(ss.ss_family == AF_INET6 ?
			((struct sockaddr_in6 *)&ss)->sin6_port :
			((struct sockaddr_in *)&ss)->sin_port);
	*out = l;
	return 0;
}

int tc_listen_port(const struct tc_listener *l)
{
	return l->port;
}

const struct tc_listen_stats *tc_listen_stats(const struct tc_listener *l)
{
	return &l->st;
}

void tc_listen_stop(struct tc_listener *l)
{
	struct tc_exch *c, *next;

	l->stopping = true;
	uv_close((uv_handle_t *)&l->tcp, listener_closed);
	for (c = l->head; c; c = next) {
		next = c->next;
		conn_close(c);
	}
}

const struct tc_req *tc_exch_req(const struct tc_exch *x)
{
	return &x->req;
}

void tc_exch_reply(struct tc_exch *c, int status, const char *content_type,
		   const char *body, size_t len)
{
	c->awaiting = false;
	if (c->state == C_HANDLING)
		conn_answer(c, status, content_type, body, len);
	else
		conn_maybe_free(c); /* closed or timed out meanwhile */
}
