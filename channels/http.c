/*
 * tc_http: libcurl's multi_socket API driven by a libuv loop. One multi
 * handle per loop; libcurl tells us which sockets to watch (uv_poll) and
 * when to wake it (uv_timer); we tell it what happened. Nothing blocks the
 * loop: name resolution runs in libcurl's resolver thread, or, through a
 * proxy, in libuv's thread pool (uv_getaddrinfo).
 *
 * Keeps true: a transfer's callback runs exactly once, from the loop and
 * never from inside tc_http_post; easy handles are reused, and with them
 * libcurl's connection cache keeps connections alive. With an allow
 * function, no socket is opened to an address it refuses and no request
 * goes on a reused connection it refuses; a refused address fails the
 * transfer only when no other address was connected to. Through a proxy,
 * the proxy is asked to CONNECT to an address allow accepted, never to a
 * name it would resolve itself, and a proxy comes only from the request:
 * never from http_proxy and friends, never skipped for no_proxy.
 * libcurl's connection cache keeps connections alive. A peer's Retry-After
 * is read here, with range checks, never as libcurl's unchecked number: it
 * reaches the caller as a wait of 0 to TC_RETRY_AFTER_MAX_MS, or not at all.
 * TLS peers are always verified (chain, dates, name; nothing turns it
 * off): against the request's ca_file when it has one, else the system's.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "channels/channels.h"

#define HTTP_FREE_HANDLES 1024 /* easy handles kept for reuse */

/* A socket of libcurl's the loop watches, from its first socket callback
 * until libcurl closes it (on_closesocket): a kept-alive connection keeps
 * its handle and what it watches between transfers (each change of that
 * is two epoll_ctl calls, and a new handle an ioctl). */
struct http_sock {
	uv_poll_t poll;
	curl_socket_t fd;
	struct tc_http *h;
	int events;                 /* UV_READABLE | UV_WRITABLE watched; 0: none */
	bool idle;                  /* libcurl let go of it (CURL_POLL_REMOVE) */
};

struct http_xfer {
	struct tc_http *h;
	CURL *easy;
	tc_http_cb cb;
	void *data;
	tc_http_allow_fn allow;
	void *allow_data;
	/* What allow said of this transfer's addresses. */
	unsigned n_refused;         /* addresses refused */
	unsigned n_opened;          /* sockets opened to allowed addresses */
	bool reuse_refused;         /* a reused connection refused */
	char refused_addr[TC_HTTP_ADDR_LEN]; /* the first refused */
	char peer[TC_HTTP_ADDR_LEN];  /* the address a request went to */
	/* Through a proxy: the destination is resolved here, then pinned. */
	bool via_proxy;
	bool started;               /* added to the multi handle */
	bool resolving;             /* uv_getaddrinfo under way */
	bool orphan;                /* the client is gone: free when resolved */
	char *host;                 /* the URL's host, while resolving (curl_free) */
	char port[8];               /* the URL's port, while resolving */
	uv_getaddrinfo_t resolve;
	struct curl_slist connect_to; /* "::ADDR:PORT": every CONNECT to ADDR */
	char connect_line[TC_HTTP_ADDR_LEN + 2];
	int64_t retry_after_ms;  /* of the last response so far, or -1 */
	size_t body_len;
	char body[TC_LIMIT_RESPONSE_BODY];
	char error[CURL_ERROR_SIZE];
	struct http_xfer *next;  /* in the active list, or the free list */
	struct http_xfer *prev;  /* in the active list */
};

struct tc_http {
	uv_loop_t *loop;
	CURLM *multi;
	uv_timer_t timer;
	uv_idle_t kick;             /* a zero timeout: act on the next turn */
	int open_handles;           /* while closing */
	struct http_xfer *active_list;
	unsigned n_free;
	struct http_xfer *free_list;
	bool closing;
	struct http_sock **socks;   /* by fd: every socket watched or kept */
	size_t n_socks;
	char *sys_cainfo;           /* libcurl's default CA bundle and folder */
	char *sys_capath;           /* (either may be NULL) */
};

static void check_done(struct tc_http *h);
static void on_kick(uv_idle_t *k);

static void sock_closed(uv_handle_t *handle)
{
	free(container_of((uv_poll_t *)handle, struct http_sock, poll));
}

static void on_poll(uv_poll_t *poll, int status, int events)
{
	struct http_sock *s = container_of(poll, struct http_sock, poll);
	struct tc_http *h = s->h;
	int flags = 0, running;

	if (s->idle) {
		/* Between transfers: the peer closed or sent what nobody asked
		 * for. libcurl finds out when it would reuse the connection. */
		uv_poll_stop(poll);
		s->events = 0;
		return;
	}
	if (status < 0)
		flags = CURL_CSELECT_ERR;
	if (events & UV_READABLE)
		flags |= CURL_CSELECT_IN;
	if (events & UV_WRITABLE)
		flags |= CURL_CSELECT_OUT;
	(void)curl_multi_socket_action(h->multi, s->fd, flags, &running);
	check_done(h);
	/* A transfer that its completions started (the scheduler refills a
	 * slot at once) goes out now, not on the next turn of the loop. */
	if (uv_is_active((uv_handle_t *)&h->kick))
		on_kick(&h->kick);
}

/* fd's handle, kept or new (watching nothing yet); NULL if out of memory. */
static struct http_sock *sock_get(struct tc_http *h, curl_socket_t fd)
{
	struct http_sock *s, **grown;
	size_t n;

	if (fd < 0)
		return NULL;
	if ((size_t)fd < h->n_socks && h->socks[fd])
		return h->socks[fd];
	if ((size_t)fd >= h->n_socks) {
		n = (size_t)fd < 64 ? 128 : 2 * (size_t)fd;
		grown = realloc(h->socks, n * sizeof(*grown));
		if (!grown)
			return NULL;
		memset(grown + h->n_socks, 0, (n - h->n_socks) * sizeof(*grown));
		h->socks = grown;
		h->n_socks = n;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->fd = fd;
	s->h = h;
	if (uv_poll_init_socket(h->loop, &s->poll, fd) < 0) {
		free(s);
		return NULL;
	}
	h->socks[fd] = s;
	return s;
}

/* libcurl's socket callback: start, change or stop watching fd. */
static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp,
		     void *socketp)
{
	struct tc_http *h = userp;
	struct http_sock *s = socketp;
	int events = 0;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (s) {
			s->idle = true;
			curl_multi_assign(h->multi, fd, NULL);
		}
		return 0;
	}
	if (!s) {
		s = sock_get(h, fd);
		if (!s)
			return -1;
		curl_multi_assign(h->multi, fd, s);
	}
	s->idle = false;
	if (what & CURL_POLL_IN)
		events |= UV_READABLE;
	if (what & CURL_POLL_OUT)
		events |= UV_WRITABLE;
	if (events == s->events)
		return 0;
	if (uv_poll_start(&s->poll, events, on_poll) < 0)
		return -1;
	s->events = events;
	return 0;
}

/* libcurl closes a socket: its handle goes first, before the number can
 * be given to another socket. */
static int on_closesocket(void *userp, curl_socket_t fd)
{
	struct tc_http *h = userp;
	struct http_sock *s = (size_t)fd < h->n_socks ? h->socks[fd] : NULL;

	if (s) {
		h->socks[fd] = NULL;
		uv_close((uv_handle_t *)&s->poll, sock_closed);
	}
	return close(fd);
}

static void on_timer(uv_timer_t *t)
{
	struct tc_http *h = container_of(t, struct tc_http, timer);
	int running;

	(void)curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(h);
}

static void on_kick(uv_idle_t *k)
{
	struct tc_http *h = container_of(k, struct tc_http, kick);
	int running;

	uv_idle_stop(k);
	(void)curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(h);
}

/* libcurl's timer callback. A zero timeout is served on the next turn of
 * the loop (an idle handle), never by calling libcurl from inside its own
 * callback. Not a 1 ms timer, as STYLE.md suggests: that caps a connection
 * at under 1000 requests a second (bench/README.md). */
static int on_timeout(CURLM *multi, long ms, void *userp)
{
	struct tc_http *h = userp;

	(void)multi;
	if (ms < 0) {
		uv_idle_stop(&h->kick);
		return uv_timer_stop(&h->timer) < 0 ? -1 : 0;
	}
	if (ms == 0) {
		uv_timer_stop(&h->timer);
		return uv_idle_start(&h->kick, on_kick) < 0 ? -1 : 0;
	}
	uv_idle_stop(&h->kick);
	return uv_timer_start(&h->timer, on_timer, (uint64_t)ms, 0) < 0 ? -1 : 0;
}

static size_t on_write(char *p, size_t size, size_t n, void *userp)
{
	struct http_xfer *x = userp;
	size_t len = size * n, room = sizeof(x->body) - x->body_len;

	/* Keep the start for diagnostics; swallow the rest, or libcurl
	 * would fail a transfer that the server answered. */
	memcpy(x->body + x->body_len, p, len < room ? len : room);
	x->body_len += len < room ? len : room;
	return len;
}

/* libcurl's header callback: each header line of each response, whole.
 * A status line starts a response (an interim 100 Continue, then the
 * final one): only the final response's Retry-After counts. */
static size_t on_header(char *p, size_t size, size_t n, void *userp)
{
	static const char name[] = "retry-after:";
	struct http_xfer *x = userp;
	size_t len = size * n, k = sizeof(name) - 1;
	int64_t ms;

	if (len >= 5 && memcmp(p, "HTTP/", 5) == 0)
		x->retry_after_ms = -1;
	else if (len > k && strncasecmp(p, name, k) == 0)
		x->retry_after_ms = tc_http_retry_after(p + k, len - k, tc_time_now_ms(),
							&ms) == 0 ? ms : -1;
	return len;
}


/* sa as "a.b.c.d:port" or "[v6]:port" into out (TC_HTTP_ADDR_LEN). */
static void addr_text(const struct sockaddr *sa, char *out)
{
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)sa;
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)sa;
	char ip[INET6_ADDRSTRLEN], port[TC_UTOA_MAX];

	/* Per request (the peer of every outcome): no printf. */
	if (sa->sa_family == AF_INET && inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip))) {
		tc_utoa(ntohs(s4->sin_port), port);
		tc_join(out, TC_HTTP_ADDR_LEN, ip, ":", port, NULL);
	} else if (sa->sa_family == AF_INET6 &&
		   inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip))) {
		tc_utoa(ntohs(s6->sin6_port), port);
		tc_join(out, TC_HTTP_ADDR_LEN, "[", ip, "]:", port, NULL);
	} else
		snprintf(out, TC_HTTP_ADDR_LEN, "(family %d)", sa->sa_family);
}

/* Asks allow about sa; a refusal is counted and the first one kept. */
static bool xfer_allows(struct http_xfer *x, const struct sockaddr *sa)
{
	if (!x->allow || x->allow(x->allow_data, sa))
		return true;
	if (x->n_refused++ == 0)
		addr_text(sa, x->refused_addr);
	return false;
}

/* libcurl opens a socket to each address it tries: the check on the
 * address actually connected to. A refused address fails this attempt
 * only; libcurl goes on with the next. Through a proxy every socket goes
 * to the proxy (the operator's own, not judged); the destination was
 * checked and pinned before (on_resolved). */
static curl_socket_t on_opensocket(void *userp, curlsocktype purpose,
				   struct curl_sockaddr *a)
{
	struct http_xfer *x = userp;

	if (purpose != CURLSOCKTYPE_IPCXN)
		return CURL_SOCKET_BAD;
	if (!x->via_proxy && !xfer_allows(x, &a->addr))
		return CURL_SOCKET_BAD;
	x->n_opened++;
	return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

/* libcurl is about to send the request on a connection, new or reused: a
 * reused one was opened for another transfer, maybe under an allow list a
 * reload has since narrowed, so it is judged again. Records the peer. */
static int on_prereq(void *userp, char *ip, char *local_ip, int port, int local_port)
{
	struct http_xfer *x = userp;
	struct sockaddr_storage ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

	(void)local_ip;
	(void)local_port;
	if (x->via_proxy) {
		/* ip is the proxy's; the tunnel goes to the pinned address. */
		snprintf(x->peer, sizeof(x->peer), "%s", x->connect_line + 2);
		return CURL_PREREQFUNC_OK;
	}
	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, ip, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
	} else if (inet_pton(AF_INET6, ip, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
	} else {
		ss.ss_family = AF_UNSPEC; /* refused by any allow list */
	}
	if (!xfer_allows(x, (struct sockaddr *)&ss)) {
		x->reuse_refused = true;
		return CURL_PREREQFUNC_ABORT;
	}
	addr_text((struct sockaddr *)&ss, x->peer);
	return CURL_PREREQFUNC_OK;
}

/* Takes x out of the multi handle and the active list. */
static void xfer_unlink(struct tc_http *h, struct http_xfer *x)
{
	curl_multi_remove_handle(h->multi, x->easy);
	if (x->prev)
		x->prev->next = x->next;
	else
		h->active_list = x->next;
	if (x->next)
		x->next->prev = x->prev;
}

/* Reports transfer x as ended with code, and returns its handle to the
 * pool. Refused means nothing was connected to: every address tried was
 * refused (one refused among several that then connected is only counted),
 * or the connection about to be reused was. */
static void xfer_done(struct tc_http *h, struct http_xfer *x, CURLcode code)
{
	struct tc_http_result r;
	memset(&r, 0, sizeof(r));
	r.code = code;
	r.retry_after_ms = -1;
	/* A pooled handle that never ran still holds its last transfer's. */
	if (x->started) {
		(void)curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &r.status);
		r.retry_after_ms = r.status ? x->retry_after_ms : -1;
	}
	r.refused = code != CURLE_OK && x->n_refused > 0 &&
		    (x->reuse_refused || x->n_opened == 0);
	r.n_refused = x->n_refused;
	r.refused_addr = x->n_refused ? x->refused_addr : "";
	r.peer = x->peer;
	r.error = x->error[0] ? x->error : curl_easy_strerror(r.code);
	r.body = x->body;
	r.body_len = x->body_len;
	xfer_unlink(h, x);
	x->cb(x->data, &r);
	if (h->n_free < HTTP_FREE_HANDLES && !h->closing) {
		x->next = h->free_list;
		h->free_list = x;
		h->n_free++;
	} else {
		curl_easy_cleanup(x->easy);
		free(x);
	}
}

/* Reports finished transfers. */
static void check_done(struct tc_http *h)
{
	struct http_xfer *x;
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(h->multi, &left))) {
		if (m->msg != CURLMSG_DONE)
			continue;
		(void)curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
		xfer_done(h, x, m->data.result);
	}
}

/* The CAs libcurl trusts by default, kept to set again on a pooled handle
 * after a request with its own ca_file (libcurl has no "back to the
 * default" value). Returns 0 or -ENOMEM. */
static int sys_cas(struct tc_http *h)
{
	CURL *e = curl_easy_init();
	char *file = NULL, *path = NULL;

	if (!e)
		return -ENOMEM;
	(void)curl_easy_getinfo(e, CURLINFO_CAINFO, &file);
	(void)curl_easy_getinfo(e, CURLINFO_CAPATH, &path);
	h->sys_cainfo = file ? strdup(file) : NULL;
	h->sys_capath = path ? strdup(path) : NULL;
	curl_easy_cleanup(e);
	if ((file && !h->sys_cainfo) || (path && !h->sys_capath)) {
		free(h->sys_cainfo);
		free(h->sys_capath);
		return -ENOMEM;
	}
	return 0;
}

struct tc_http *tc_http_new(uv_loop_t *loop, unsigned max_total,
			    unsigned per_host)
{
	struct tc_http *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	if (sys_cas(h) < 0) {
		free(h);
		return NULL;
	}
	h->loop = loop;
	h->multi = curl_multi_init();
	if (!h->multi || uv_timer_init(loop, &h->timer) < 0 ||
	    uv_idle_init(loop, &h->kick) < 0) {
		if (h->multi)
			curl_multi_cleanup(h->multi);
		free(h->sys_cainfo);
		free(h->sys_capath);
		free(h);
		return NULL;
	}
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, on_timeout);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
	tc_http_set_caps(h, max_total, per_host);
	return h;
}

/* The options every transfer has, set once per handle. */
static void easy_setup(struct http_xfer *x)
{
	CURL *e = x->easy;

	curl_easy_setopt(e, CURLOPT_PRIVATE, x);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	/* Never a proxy from http_proxy and friends: it would carry requests
	 * past the allow list (DESIGN.md, Webhooks). Each transfer sets
	 * CURLOPT_PROXY again, "" or the request's; and no_proxy must not
	 * make a configured proxy go unused (it would anyway reach only the
	 * pinned address). */
	curl_easy_setopt(e, CURLOPT_PROXY, "");
	curl_easy_setopt(e, CURLOPT_NOPROXY, "");
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(e, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(e, CURLOPT_POST, 1L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, on_opensocket);
	curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, x);
	curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, on_closesocket);
	curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, x->h);
	curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, on_prereq);
	curl_easy_setopt(e, CURLOPT_PREREQDATA, x);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->error);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "tocsin/0.1");
}

/* A handle from the pool, or a new one. Pooled handles keep their
 * options: each transfer sets the same per-request ones again. */
static struct http_xfer *xfer_get(struct tc_http *h)
{
	struct http_xfer *x = h->free_list;

	if (x) {
		h->free_list = x->next;
		h->n_free--;
	} else {
		x = malloc(sizeof(*x));
		if (!x)
			return NULL;
		x->easy = curl_easy_init();
		if (!x->easy) {
			free(x);
			return NULL;
		}
		x->h = h; /* before easy_setup: the close callback's data */
		easy_setup(x);
	}
	x->n_refused = 0;
	x->n_opened = 0;
	x->reuse_refused = false;
	x->refused_addr[0] = '\0';
	x->peer[0] = '\0';
	x->via_proxy = false;
	x->started = false;
	x->resolving = false;
	x->orphan = false;
	x->host = NULL;
	x->connect_line[0] = '\0';
	x->retry_after_ms = -1;
	x->body_len = 0;
	x->error[0] = '\0';
	return x;
}

/* Pins every connection of x to sa: the proxy is asked to CONNECT to it
 * whatever the URL's host ("::" matches any host and port). */
static void xfer_pin(struct http_xfer *x, const struct sockaddr *sa)
{
	char addr[TC_HTTP_ADDR_LEN];

	addr_text(sa, addr);
	snprintf(x->connect_line, sizeof(x->connect_line), "::%s", addr);
	x->connect_to.data = x->connect_line;
	x->connect_to.next = NULL;
	curl_easy_setopt(x->easy, CURLOPT_CONNECT_TO, &x->connect_to);
}

/* The destination's addresses, resolved off the loop: the first one allow
 * accepts is pinned and the transfer starts; with none, it ends refused
 * and the proxy never hears of it. */
static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
	struct http_xfer *x = container_of(req, struct http_xfer, resolve);
	struct tc_http *h = x->h;
	const struct addrinfo *ai;
	CURLcode code = CURLE_OK;

	x->resolving = false;
	if (x->orphan) { /* tc_http_free reported it and let go */
		uv_freeaddrinfo(res);
		curl_free(x->host);
		curl_easy_cleanup(x->easy);
		free(x);
		return;
	}
	for (ai = status < 0 ? NULL : res; ai; ai = ai->ai_next)
		if (xfer_allows(x, ai->ai_addr))
			break;
	if (status < 0) {
		code = CURLE_COULDNT_RESOLVE_HOST;
		snprintf(x->error, sizeof(x->error), "Could not resolve host: %s (%s)",
			 x->host, uv_strerror(status));
	} else if (!ai) {
		code = CURLE_COULDNT_CONNECT;
		snprintf(x->error, sizeof(x->error), "no address of %s is allowed",
			 x->host);
	} else {
		xfer_pin(x, ai->ai_addr);
	}
	uv_freeaddrinfo(res);
	curl_free(x->host);
	x->host = NULL;
	if (code == CURLE_OK) {
		x->started = curl_multi_add_handle(h->multi, x->easy) == CURLM_OK;
		if (!x->started) {
			code = CURLE_OUT_OF_MEMORY;
			snprintf(x->error, sizeof(x->error), "out of memory");
		}
	}
	if (code != CURLE_OK)
		xfer_done(h, x, code);
}

/* Starts resolving url's host for x, through proxy. */
static int proxy_start(struct tc_http *h, struct http_xfer *x, const char *url,
		       const char *proxy)
{
	struct addrinfo hints;
	CURLU *u = curl_url();
	char *port = NULL;
	size_t len;
	int r = -EINVAL;

	if (!u)
		return -ENOMEM;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &x->host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK ||
	    strlen(port) >= sizeof(x->port))
		goto out;
	len = strlen(x->host);
	if (x->host[0] == '[' && len > 2) { /* an IPv6 literal comes bracketed */
		memmove(x->host, x->host + 1, len - 2);
		x->host[len - 2] = '\0';
	}
	memcpy(x->port, port, strlen(port) + 1);
	x->via_proxy = true;
	curl_easy_setopt(x->easy, CURLOPT_PROXY, proxy);
	/* CONNECT for http:// too: the proxy never resolves a name. */
	curl_easy_setopt(x->easy, CURLOPT_HTTPPROXYTUNNEL, 1L);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	r = uv_getaddrinfo(h->loop, &x->resolve, on_resolved, x->host, x->port, &hints);
	if (r == 0)
		x->resolving = true;
out:
	if (r < 0) {
		curl_free(x->host);
		x->host = NULL;
	}
	curl_free(port);
	curl_url_cleanup(u);
	return r;
}

int tc_http_post(struct tc_http *h, const struct tc_http_req *req,
		 tc_http_cb cb, void *data)
{
	struct http_xfer *x;
	CURL *e;
	int r;

	if (h->closing)
		return -ECANCELED;
	x = xfer_get(h);
	if (!x)
		return -ENOMEM;
	e = x->easy;
	x->cb = cb;
	x->data = data;
	x->allow = req->allow;
	x->allow_data = req->allow_data;
	curl_easy_setopt(e, CURLOPT_URL, req->url);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, req->body);
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, req->headers);
	/* Both set per request (NULL clears): pooled handles keep options. */
	curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req->method);
	curl_easy_setopt(e, CURLOPT_USERPWD, req->userpwd);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)req->connect_timeout_ms);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)req->timeout_ms);
	curl_easy_setopt(e, CURLOPT_CONNECT_TO, NULL);
	curl_easy_setopt(e, CURLOPT_PROXY, "");
	curl_easy_setopt(e, CURLOPT_HTTPPROXYTUNNEL, 0L);
	/* A ca_file replaces the system's bundle and folder. It is read for
	 * each new connection (no cache), so a file changed by the operator
	 * counts from the next connection; the system's store stays cached.
	 * libcurl reuses a connection only for the same CAs. */
	curl_easy_setopt(e, CURLOPT_CAINFO, req->ca_file ? req->ca_file : h->sys_cainfo);
	curl_easy_setopt(e, CURLOPT_CAPATH, req->ca_file ? NULL : h->sys_capath);
	curl_easy_setopt(e, CURLOPT_CA_CACHE_TIMEOUT, req->ca_file ? 0L : 86400L);
	if (req->proxy) {
		r = proxy_start(h, x, req->url, req->proxy);
	} else {
		x->started = curl_multi_add_handle(h->multi, e) == CURLM_OK;
		r = x->started ? 0 : -ENOMEM;
	}
	if (r < 0) {
		curl_easy_cleanup(e);
		free(x);
		return r;
	}
	x->prev = NULL;
	x->next = h->active_list;
	if (x->next)
		x->next->prev = x;
	h->active_list = x;
	return 0;
}

void tc_http_set_caps(struct tc_http *h, unsigned max_total, unsigned per_host)
{
	curl_multi_setopt(h->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)max_total);
	curl_multi_setopt(h->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)per_host);
	curl_multi_setopt(h->multi, CURLMOPT_MAXCONNECTS, (long)max_total);
}

uv_loop_t *tc_http_loop(const struct tc_http *h)
{
	return h->loop;
}

static void http_closed(uv_handle_t *handle)
{
	struct tc_http *h = handle->data;

	/* Two handles: free after the last one closed. */
	if (--h->open_handles == 0)
		free(h);
}

void tc_http_free(struct tc_http *h)
{
	struct http_xfer *x;

	if (!h)
		return;
	h->closing = true;
	/* Removing a handle makes libcurl close its sockets through on_socket. */
	while ((x = h->active_list)) {
		struct tc_http_result r;

		xfer_unlink(h, x);
		memset(&r, 0, sizeof(r));
		r.code = CURLE_ABORTED_BY_CALLBACK;
		r.error = "aborted: shutting down";
		r.refused_addr = "";
		r.peer = "";
		r.retry_after_ms = -1;
		x->cb(x->data, &r);
		if (x->resolving) {
			/* The resolver still holds it: on_resolved frees it. */
			x->orphan = true;
			(void)uv_cancel((uv_req_t *)&x->resolve);
			continue;
		}
		curl_easy_cleanup(x->easy);
		free(x);
	}
	while ((x = h->free_list)) {
		h->free_list = x->next;
		curl_easy_cleanup(x->easy);
		free(x);
	}
	/* Closes the connections kept, each through on_closesocket. */
	curl_multi_cleanup(h->multi);
	free(h->socks);
	free(h->sys_cainfo);
	free(h->sys_capath);
	uv_timer_stop(&h->timer);
	uv_idle_stop(&h->kick);
	h->open_handles = 2;
	h->kick.data = h;
	h->timer.data = h;
	uv_close((uv_handle_t *)&h->kick, http_closed);
	uv_close((uv_handle_t *)&h->timer, http_closed);
}
