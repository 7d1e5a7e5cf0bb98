/*
 * curl-floor — the fastest webhook fan-out libcurl and libuv allow here.
 *
 * A benchmark client that does nothing but what tocsind's HTTP client must
 * do at least: drive libcurl's multi_socket API (curl_multi_socket_action)
 * from a libuv loop and POST the same body N times over C kept-alive
 * connections. Its requests/s is the floor tocsind's webhook channel is
 * compared with: whatever tocsind does beyond this (templates, signing,
 * Redis) is its overhead.
 *
 * What it keeps true: C easy handles are set up once and re-added after
 * each transfer, so connections are reused; curl is never called from
 * inside one of its own callbacks (a zero timeout is deferred to a 1 ms
 * timer or to the next loop iteration); every transfer is counted as ok
 * (2xx) or failed, and any failure makes the exit status 1. It also prints
 * the CPU time it used from the first request to the last, user plus
 * system, from /proc/self/stat: the accounting bench/webhook-fanout reads
 * for tocsind and redis-server.
 *
 *   curl-floor [-n N] [-c C] [-b BYTES] [-z idle|timer] URL
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <uv.h>

#define FLOOR_DEFAULT_REQUESTS 20000UL
#define FLOOR_DEFAULT_CONNECTIONS 64UL
#define FLOOR_DEFAULT_BODY 1024UL
#define FLOOR_MAX_REQUESTS 100000000UL
#define FLOOR_MAX_CONNECTIONS 10000UL
#define FLOOR_MAX_BODY (16UL * 1024 * 1024)
/* /proc/PID/stat: 52 numbers of at most 20 digits and a 16-byte name. */
#define FLOOR_STAT_MAX 2048

#define FLOOR_CONTAINER_OF(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))

/* How a zero timeout from libcurl is honoured without calling it again
 * from inside its own timer callback. */
enum floor_zero {
	FLOOR_ZERO_IDLE,  /* next loop iteration (uv_idle keeps poll from blocking) */
	FLOOR_ZERO_TIMER, /* a 1 ms uv_timer */
};

struct floor_opts {
	unsigned long requests;
	unsigned long connections;
	unsigned long body_len;
	enum floor_zero zero;
	const char *url;
};

struct floor_app {
	uv_loop_t loop;
	uv_timer_t timer; /* libcurl's timeout */
	uv_idle_t kick;   /* a zero timeout in FLOOR_ZERO_IDLE mode */
	CURLM *multi;
	CURL **easy;
	struct curl_slist *headers;
	char *body;
	struct floor_opts opts;
	unsigned long started;
	unsigned long finished;
	unsigned long failed;
	long new_connections;
	uint64_t t_start;
	uint64_t t_end;
	long long cpu_start; /* clock ticks, or -1 if unknown */
	long long cpu_end;
	int fatal; /* a libuv or libcurl call failed: stop */
};

/* One socket libcurl asked us to watch; freed in its close callback. */
struct floor_sock {
	uv_poll_t poll;
	curl_socket_t fd;
	struct floor_app *app;
};

static void floor_usage(FILE *out)
{
	(void)fprintf(out,
		"usage: curl-floor [-n REQUESTS] [-c CONNECTIONS] [-b BODY_BYTES] "
		"[-z idle|timer] URL\n"
		"  POSTs a BODY_BYTES body REQUESTS times over CONNECTIONS kept-alive\n"
		"  connections and prints requests/s (defaults: %lu, %lu, %lu, idle)\n",
		FLOOR_DEFAULT_REQUESTS, FLOOR_DEFAULT_CONNECTIONS,
		FLOOR_DEFAULT_BODY);
}

/* Parses a decimal count in [1, max]; writes *out only on success. */
static int floor_parse_count(const char *text, unsigned long max,
			     const char *what, unsigned long *out)
{
	char *end = NULL;
	unsigned long long v;

	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || text[0] == '-' ||
	    v < 1 || v > max) {
		(void)fprintf(stderr,
			      "curl-floor: %s: not a count from 1 to %lu '%s'\n",
			      what, max, text);
		return -1;
	}
	*out = (unsigned long)v;
	return 0;
}

static int floor_parse_args(int argc, char **argv, struct floor_opts *opts)
{
	int c;

	opts->requests = FLOOR_DEFAULT_REQUESTS;
	opts->connections = FLOOR_DEFAULT_CONNECTIONS;
	opts->body_len = FLOOR_DEFAULT_BODY;
	opts->zero = FLOOR_ZERO_IDLE;
	while ((c = getopt(argc, argv, "n:c:b:z:h")) != -1) {
		switch (c) {
		case 'n':
			if (floor_parse_count(optarg, FLOOR_MAX_REQUESTS, "-n",
					      &opts->requests) < 0)
				return -1;
			break;
		case 'c':
			if (floor_parse_count(optarg, FLOOR_MAX_CONNECTIONS, "-c",
					      &opts->connections) < 0)
				return -1;
			break;
		case 'b':
			if (floor_parse_count(optarg, FLOOR_MAX_BODY, "-b",
					      &opts->body_len) < 0)
				return -1;
			break;
		case 'z':
			if (strcmp(optarg, "idle") == 0) {
				opts->zero = FLOOR_ZERO_IDLE;
			} else if (strcmp(optarg, "timer") == 0) {
				opts->zero = FLOOR_ZERO_TIMER;
			} else {
				(void)fprintf(stderr,
					      "curl-floor: -z: not idle or timer '%s'\n",
					      optarg);
				return -1;
			}
			break;
		case 'h':
			floor_usage(stdout);
			exit(0);
		default:
			floor_usage(stderr);
			return -1;
		}
	}
	if (optind != argc - 1) {
		floor_usage(stderr);
		return -1;
	}
	opts->url = argv[optind];
	if (opts->connections > opts->requests)
		opts->connections = opts->requests;
	return 0;
}

static void floor_fail_uv(struct floor_app *app, const char *what, int err)
{
	(void)fprintf(stderr, "curl-floor: %s: %s\n", what, uv_strerror(err));
	app->fatal = 1;
	uv_stop(&app->loop);
}

static void floor_fail_curlm(struct floor_app *app, const char *what,
			     CURLMcode rc)
{
	(void)fprintf(stderr, "curl-floor: %s: %s\n", what,
		      curl_multi_strerror(rc));
	app->fatal = 1;
	uv_stop(&app->loop);
}

/* Starts one more transfer on a finished (or fresh) easy handle. */
static int floor_start(struct floor_app *app, CURL *easy)
{
	CURLMcode rc;

	rc = curl_multi_add_handle(app->multi, easy);
	if (rc != CURLM_OK) {
		floor_fail_curlm(app, "curl_multi_add_handle", rc);
		return -1;
	}
	app->started++;
	return 0;
}

/* Counts one finished transfer; returns 0 if it succeeded with a 2xx. */
static int floor_judge(struct floor_app *app, CURL *easy, CURLcode result)
{
	long status = 0;
	long conns = 0;

	if (curl_easy_getinfo(easy, CURLINFO_NUM_CONNECTS, &conns) == CURLE_OK)
		app->new_connections += conns;
	if (result != CURLE_OK) {
		if (app->failed == 0)
			(void)fprintf(stderr, "curl-floor: first failure: %s\n",
				      curl_easy_strerror(result));
		return -1;
	}
	if (curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK ||
	    status < 200 || status > 299) {
		if (app->failed == 0)
			(void)fprintf(stderr,
				      "curl-floor: first failure: HTTP status %ld\n",
				      status);
		return -1;
	}
	return 0;
}

/* Collects finished transfers and re-adds their handles while work is left.
 * Called only after curl_multi_socket_action returned, never inside it. */
static void floor_drain(struct floor_app *app)
{
	CURLMsg *msg;
	int pending;

	while ((msg = curl_multi_info_read(app->multi, &pending)) != NULL) {
		CURL *easy = msg->easy_handle;
		CURLMcode rc;

		if (msg->msg != CURLMSG_DONE)
			continue;
		if (floor_judge(app, easy, msg->data.result) < 0)
			app->failed++;
		app->finished++;
		rc = curl_multi_remove_handle(app->multi, easy);
		if (rc != CURLM_OK) {
			floor_fail_curlm(app, "curl_multi_remove_handle", rc);
			return;
		}
		if (app->started < app->opts.requests) {
			if (floor_start(app, easy) < 0)
				return;
		}
	}
	if (app->finished == app->opts.requests && app->t_end == 0) {
		app->t_end = uv_hrtime();
		uv_stop(&app->loop);
	}
}

static void floor_act(struct floor_app *app, curl_socket_t fd, int events)
{
	CURLMcode rc;
	int running;

	rc = curl_multi_socket_action(app->multi, fd, events, &running);
	if (rc != CURLM_OK) {
		floor_fail_curlm(app, "curl_multi_socket_action", rc);
		return;
	}
	floor_drain(app);
}

static void floor_on_poll(uv_poll_t *poll, int status, int events)
{
	struct floor_sock *sock = FLOOR_CONTAINER_OF(poll, struct floor_sock, poll);
	int flags = 0;

	if (status < 0)
		flags = CURL_CSELECT_ERR;
	if (events & UV_READABLE)
		flags |= CURL_CSELECT_IN;
	if (events & UV_WRITABLE)
		flags |= CURL_CSELECT_OUT;
	floor_act(sock->app, sock->fd, flags);
}

static void floor_on_timer(uv_timer_t *timer)
{
	struct floor_app *app = FLOOR_CONTAINER_OF(timer, struct floor_app, timer);

	floor_act(app, CURL_SOCKET_TIMEOUT, 0);
}

static void floor_on_kick(uv_idle_t *kick)
{
	struct floor_app *app = FLOOR_CONTAINER_OF(kick, struct floor_app, kick);
	int err;

	err = uv_idle_stop(kick);
	if (err < 0) {
		floor_fail_uv(app, "uv_idle_stop", err);
		return;
	}
	floor_act(app, CURL_SOCKET_TIMEOUT, 0);
}

/* CURLMOPT_TIMERFUNCTION: -1 stops the timer, 0 defers to the loop (see
 * enum floor_zero), more starts the timer. Runs inside libcurl: never
 * calls back into it. */
static int floor_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
	struct floor_app *app = userp;
	int err;

	(void)multi;
	if (timeout_ms < 0) {
		err = uv_timer_stop(&app->timer);
		if (err == 0)
			err = uv_idle_stop(&app->kick);
	} else if (timeout_ms == 0 && app->opts.zero == FLOOR_ZERO_IDLE) {
		err = uv_timer_stop(&app->timer);
		if (err == 0)
			err = uv_idle_start(&app->kick, floor_on_kick);
	} else {
		if (timeout_ms == 0)
			timeout_ms = 1;
		err = uv_timer_start(&app->timer, floor_on_timer,
				     (uint64_t)timeout_ms, 0);
	}
	if (err < 0) {
		floor_fail_uv(app, "timer", err);
		return -1;
	}
	return 0;
}

static void floor_on_sock_closed(uv_handle_t *handle)
{
	free(FLOOR_CONTAINER_OF((uv_poll_t *)handle, struct floor_sock, poll));
}

static struct floor_sock *floor_sock_new(struct floor_app *app,
					 curl_socket_t fd)
{
	struct floor_sock *sock;
	int err;

	sock = calloc(1, sizeof(*sock));
	if (sock == NULL)
		return NULL;
	err = uv_poll_init_socket(&app->loop, &sock->poll, fd);
	if (err < 0) {
		free(sock);
		floor_fail_uv(app, "uv_poll_init_socket", err);
		return NULL;
	}
	sock->fd = fd;
	sock->app = app;
	return sock;
}

/* CURLMOPT_SOCKETFUNCTION: watches, re-arms or forgets one socket. Runs
 * inside libcurl: never calls back into it except curl_multi_assign,
 * which libcurl allows here. */
static int floor_curl_socket(CURL *easy, curl_socket_t fd, int what,
			     void *userp, void *socketp)
{
	struct floor_app *app = userp;
	struct floor_sock *sock = socketp;
	int events = 0;
	int err;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (sock != NULL) {
			(void)uv_poll_stop(&sock->poll);
			uv_close((uv_handle_t *)&sock->poll, floor_on_sock_closed);
			(void)curl_multi_assign(app->multi, fd, NULL);
		}
		return 0;
	}
	if (sock == NULL) {
		sock = floor_sock_new(app, fd);
		if (sock == NULL)
			return -1;
		if (curl_multi_assign(app->multi, fd, sock) != CURLM_OK) {
			uv_close((uv_handle_t *)&sock->poll, floor_on_sock_closed);
			return -1;
		}
	}
	if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
		events |= UV_READABLE;
	if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
		events |= UV_WRITABLE;
	err = uv_poll_start(&sock->poll, events, floor_on_poll);
	if (err < 0) {
		floor_fail_uv(app, "uv_poll_start", err);
		return -1;
	}
	return 0;
}

static size_t floor_discard(char *ptr, size_t size, size_t nmemb, void *userp)
{
	(void)ptr;
	(void)userp;
	return size * nmemb;
}

static int floor_easy_long(CURL *easy, CURLoption opt, long value,
			   const char *name)
{
	CURLcode rc = curl_easy_setopt(easy, opt, value);

	if (rc != CURLE_OK) {
		(void)fprintf(stderr, "curl-floor: %s: %s\n", name,
			      curl_easy_strerror(rc));
		return -1;
	}
	return 0;
}

static int floor_easy_ptr(CURL *easy, CURLoption opt, const void *value,
			  const char *name)
{
	CURLcode rc = curl_easy_setopt(easy, opt, value);

	if (rc != CURLE_OK) {
		(void)fprintf(stderr, "curl-floor: %s: %s\n", name,
			      curl_easy_strerror(rc));
		return -1;
	}
	return 0;
}

/* Sets up one reusable POST transfer. What each option buys is in
 * bench/README.md. */
static CURL *floor_easy_new(struct floor_app *app)
{
	CURL *easy = curl_easy_init();

	if (easy == NULL)
		return NULL;
	if (curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, floor_discard) != CURLE_OK ||
	    floor_easy_ptr(easy, CURLOPT_URL, app->opts.url, "URL") < 0 ||
	    floor_easy_ptr(easy, CURLOPT_POSTFIELDS, app->body, "POSTFIELDS") < 0 ||
	    floor_easy_long(easy, CURLOPT_POSTFIELDSIZE, (long)app->opts.body_len,
			    "POSTFIELDSIZE") < 0 ||
	    floor_easy_ptr(easy, CURLOPT_HTTPHEADER, app->headers, "HTTPHEADER") < 0 ||
	    floor_easy_long(easy, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1,
			    "HTTP_VERSION") < 0 ||
	    floor_easy_long(easy, CURLOPT_NOSIGNAL, 1L, "NOSIGNAL") < 0 ||
	    floor_easy_long(easy, CURLOPT_TCP_NODELAY, 1L, "TCP_NODELAY") < 0 ||
	    floor_easy_ptr(easy, CURLOPT_PRIVATE, app, "PRIVATE") < 0) {
		curl_easy_cleanup(easy);
		return NULL;
	}
	return easy;
}

static int floor_multi_setup(struct floor_app *app)
{
	long conns = (long)app->opts.connections;

	app->multi = curl_multi_init();
	if (app->multi == NULL)
		return -1;
	if (curl_multi_setopt(app->multi, CURLMOPT_SOCKETFUNCTION,
			      floor_curl_socket) != CURLM_OK ||
	    curl_multi_setopt(app->multi, CURLMOPT_SOCKETDATA, app) != CURLM_OK ||
	    curl_multi_setopt(app->multi, CURLMOPT_TIMERFUNCTION,
			      floor_curl_timer) != CURLM_OK ||
	    curl_multi_setopt(app->multi, CURLMOPT_TIMERDATA, app) != CURLM_OK ||
	    curl_multi_setopt(app->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
			      conns) != CURLM_OK ||
	    curl_multi_setopt(app->multi, CURLMOPT_MAXCONNECTS, conns) != CURLM_OK ||
	    curl_multi_setopt(app->multi, CURLMOPT_PIPELINING,
			      (long)CURLPIPE_NOTHING) != CURLM_OK) {
		(void)fprintf(stderr, "curl-floor: curl_multi_setopt failed\n");
		return -1;
	}
	return 0;
}

/* Builds everything but the loop handles; on failure the caller runs
 * floor_release, which accepts a half-built app. */
static int floor_setup(struct floor_app *app)
{
	struct curl_slist *list;
	unsigned long i;

	app->body = malloc(app->opts.body_len);
	app->easy = calloc(app->opts.connections, sizeof(*app->easy));
	if (app->body == NULL || app->easy == NULL)
		return -1;
	memset(app->body, 'x', app->opts.body_len);
	app->body[0] = '"';
	app->body[app->opts.body_len - 1] = '"';
	/* An empty "Expect:" stops libcurl waiting for 100-continue. */
	list = curl_slist_append(NULL, "Expect:");
	if (list == NULL)
		return -1;
	app->headers = list;
	list = curl_slist_append(app->headers, "Content-Type: application/json");
	if (list == NULL)
		return -1;
	app->headers = list;
	if (floor_multi_setup(app) < 0)
		return -1;
	for (i = 0; i < app->opts.connections; i++) {
		app->easy[i] = floor_easy_new(app);
		if (app->easy[i] == NULL)
			return -1;
	}
	return 0;
}

static void floor_close_any(uv_handle_t *handle, void *arg)
{
	(void)arg;
	if (uv_is_closing(handle))
		return;
	if (handle->type == UV_POLL)
		uv_close(handle, floor_on_sock_closed);
	else
		uv_close(handle, NULL);
}

/* Releases a fully or partly built app; the loop must not be running. */
static void floor_release(struct floor_app *app, int loop_ready)
{
	unsigned long i;

	if (app->easy != NULL) {
		for (i = 0; i < app->opts.connections; i++) {
			if (app->easy[i] == NULL)
				continue;
			if (app->multi != NULL)
				(void)curl_multi_remove_handle(app->multi, app->easy[i]);
			curl_easy_cleanup(app->easy[i]);
		}
	}
	if (app->multi != NULL)
		(void)curl_multi_cleanup(app->multi);
	curl_slist_free_all(app->headers);
	free(app->easy);
	free(app->body);
	if (loop_ready) {
		uv_walk(&app->loop, floor_close_any, NULL);
		(void)uv_run(&app->loop, UV_RUN_DEFAULT);
		if (uv_loop_close(&app->loop) != 0)
			(void)fprintf(stderr, "curl-floor: loop still busy at exit\n");
	}
}

static int floor_loop_init(struct floor_app *app)
{
	int err;

	err = uv_loop_init(&app->loop);
	if (err < 0) {
		(void)fprintf(stderr, "curl-floor: uv_loop_init: %s\n",
			      uv_strerror(err));
		return -1;
	}
	err = uv_timer_init(&app->loop, &app->timer);
	if (err == 0)
		err = uv_idle_init(&app->loop, &app->kick);
	if (err < 0) {
		(void)fprintf(stderr, "curl-floor: handle init: %s\n",
			      uv_strerror(err));
		return 1; /* the loop exists and must be closed */
	}
	return 0;
}

/* Returns the CPU time this process has used so far, user plus system
 * (fields 14 and 15 of /proc/self/stat), in clock ticks; -1 if it cannot be
 * read. Read only outside the loop: before the first request, after the
 * loop stopped. */
static long long floor_cpu_ticks(void)
{
	char line[FLOOR_STAT_MAX];
	unsigned long long utime, stime;
	const char *p;
	char *end;
	size_t len;
	int field;
	FILE *f = fopen("/proc/self/stat", "r");

	if (f == NULL)
		return -1;
	len = fread(line, 1, sizeof(line) - 1, f);
	(void)fclose(f);
	line[len] = '\0';
	/* The name (field 2) is in parentheses and may hold any byte. */
	p = strrchr(line, ')');
	for (field = 2; p != NULL && field < 14; field++) {
		p = strchr(p, ' ');
		if (p != NULL)
			p++;
	}
	if (p == NULL)
		return -1;
	errno = 0;
	utime = strtoull(p, &end, 10);
	if (errno != 0 || end == p || *end != ' ')
		return -1;
	p = end + 1;
	stime = strtoull(p, &end, 10);
	if (errno != 0 || end == p || *end != ' ')
		return -1;
	return (long long)(utime + stime);
}

static int floor_run(struct floor_app *app)
{
	unsigned long i;
	int err;

	app->cpu_start = floor_cpu_ticks();
	app->t_start = uv_hrtime();
	for (i = 0; i < app->opts.connections; i++) {
		if (floor_start(app, app->easy[i]) < 0)
			return -1;
	}
	err = uv_run(&app->loop, UV_RUN_DEFAULT);
	(void)err; /* uv_stop ends the run early on purpose */
	app->cpu_end = floor_cpu_ticks();
	if (app->fatal || app->t_end == 0)
		return -1;
	return 0;
}

/* Prints the one result line; cpu_seconds is "n/a" if /proc could not be
 * read. */
static void floor_report(const struct floor_app *app)
{
	double seconds = (double)(app->t_end - app->t_start) / 1e9;
	long tck = sysconf(_SC_CLK_TCK);
	char cpu[32] = "n/a";

	if (app->cpu_start >= 0 && app->cpu_end >= app->cpu_start && tck > 0)
		(void)snprintf(cpu, sizeof(cpu), "%.2f",
			       (double)(app->cpu_end - app->cpu_start) / (double)tck);
	(void)printf("requests=%lu failed=%lu connections=%lu new_connections=%ld "
		     "body=%lu seconds=%.3f rps=%.0f cpu_seconds=%s\n",
		     app->finished, app->failed, app->opts.connections,
		     app->new_connections, app->opts.body_len, seconds,
		     seconds > 0 ? (double)app->finished / seconds : 0.0, cpu);
}

int main(int argc, char **argv)
{
	struct floor_app app;
	int loop_state;
	int status = 1;

	memset(&app, 0, sizeof(app));
	if (floor_parse_args(argc, argv, &app.opts) < 0)
		return 2;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		(void)fprintf(stderr, "curl-floor: curl_global_init failed\n");
		return 1;
	}
	loop_state = floor_loop_init(&app);
	if (loop_state < 0)
		goto out_global;
	if (loop_state > 0 || floor_setup(&app) < 0) {
		(void)fprintf(stderr, "curl-floor: setup failed\n");
		goto out_release;
	}
	if (floor_run(&app) < 0) {
		(void)fprintf(stderr, "curl-floor: run stopped after %lu of %lu requests\n",
			      app.finished, app.opts.requests);
		goto out_release;
	}
	floor_report(&app);
	status = app.failed == 0 ? 0 : 1;
out_release:
	floor_release(&app, 1);
out_global:
	curl_global_cleanup();
	return status;
}
