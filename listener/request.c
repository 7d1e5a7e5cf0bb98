/*
 * One HTTP/1.x request, parsed from bytes as they come with http-parser's
 * callbacks. Nothing here reads a socket or a clock, so tests and fuzzers
 * feed it any bytes (tc_req_feed). Every callback checks its limit before
 * the bytes are kept: a request past one stops the parser at once, and
 * the caller answers with the status set here.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "listener/listener.h"

static struct tc_req *req_of(http_parser *p)
{
	return p->data;
}

/* Stops the parser on a refusal: r takes no more bytes. */
static int refuse(struct tc_req *r, int status, const char *why, const char *limit)
{
	r->status = status;
	r->why = why;
	r->limit = limit;
	return -1;
}

/* tc_buf_add's failures as the callback's: -ENOMEM refuses with 503
 * (nothing the client did), TC_ELIMIT with the status of the limit. */
static int keep(struct tc_req *r, struct tc_buf *b, const char *at, size_t n,
		int status, const char *why, const char *limit)
{
	int e = tc_buf_add(b, at, n);

	if (e == -ENOMEM)
		return refuse(r, 503, "out of memory", NULL);
	if (e < 0)
		return refuse(r, status, why, limit);
	return 0;
}

static int on_url(http_parser *p, const char *at, size_t n)
{
	struct tc_req *r = req_of(p);

	return keep(r, &r->target, at, n, 414, "request target too long",
		    "TC_LIMIT_HTTP_TARGET");
}

static int on_header_field(http_parser *p, const char *at, size_t n)
{
	struct tc_req *r = req_of(p);
	struct tc_req_header *h;
	size_t i, start = r->heads.len;

	if (r->in_value || r->n_headers == 0) {
		if (r->n_headers == TC_LIMIT_HTTP_HEADERS)
			return refuse(r, 431, "too many header fields",
				      "TC_LIMIT_HTTP_HEADERS");
		/* A NUL ends the previous value, so each reads as a C string. */
		if (r->n_headers && keep(r, &r->heads, "", 1, 431, "header fields too large",
					 "TC_LIMIT_HTTP_HEADER_BYTES") < 0)
			return -1;
		h = &r->header[r->n_headers++];
		h->name = r->heads.len;
		h->name_len = 0;
		h->value = 0;
		h->value_len = 0;
		r->in_value = false;
		start = r->heads.len;
	}
	if (keep(r, &r->heads, at, n, 431, "header fields too large",
		 "TC_LIMIT_HTTP_HEADER_BYTES") < 0)
		return -1;
	h = &r->header[r->n_headers - 1];
	h->name_len += n;
	/* Names compare without case: keep them lowercase. */
	for (i = start; i < r->heads.len; i++)
		if (r->heads.data[i] >= 'A' && r->heads.data[i] <= 'Z')
			r->heads.data[i] = (char)(r->heads.data[i] - 'A' + 'a');
	return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t n)
{
	struct tc_req *r = req_of(p);
	struct tc_req_header *h = &r->header[r->n_headers - 1];

	if (!r->in_value) {
		/* A NUL ends the name. */
		if (keep(r, &r->heads, "", 1, 431, "header fields too large",
			 "TC_LIMIT_HTTP_HEADER_BYTES") < 0)
			return -1;
		h->value = r->heads.len;
		r->in_value = true;
	}
	if (keep(r, &r->heads, at, n, 431, "header fields too large",
		 "TC_LIMIT_HTTP_HEADER_BYTES") < 0)
		return -1;
	h->value_len += n;
	return 0;
}

static int on_headers_complete(http_parser *p)
{
	struct tc_req *r = req_of(p);

	if (p->http_major != 1)
		return refuse(r, 505, "only HTTP/1.0 and HTTP/1.1 are served", NULL);
	/* A declared length past the limit is refused before any body. */
	if (p->content_length != ULLONG_MAX && p->content_length > TC_LIMIT_HTTP_BODY)
		return refuse(r, 413, "request body too large", "TC_LIMIT_HTTP_BODY");
	/* The last value (or a name without one) ends with a NUL too. */
	if (r->n_headers && keep(r, &r->heads, "", 1, 431, "header fields too large",
				 "TC_LIMIT_HTTP_HEADER_BYTES") < 0)
		return -1;
	return 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
	struct tc_req *r = req_of(p);

	return keep(r, &r->body, at, n, 413, "request body too large",
		    "TC_LIMIT_HTTP_BODY");
}

static int on_message_complete(http_parser *p)
{
	struct tc_req *r = req_of(p);

	r->done = true;
	/* One request per connection: what follows is not parsed. */
	http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings settings = {
	.on_url = on_url,
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

void tc_req_init(struct tc_req *r)
{
	memset(r, 0, sizeof(*r));
	http_parser_init(&r->p, HTTP_REQUEST);
	r->p.data = r;
	tc_buf_init(&r->target, TC_LIMIT_HTTP_TARGET);
	tc_buf_init(&r->heads, TC_LIMIT_HTTP_HEADER_BYTES);
	tc_buf_init(&r->body, TC_LIMIT_HTTP_BODY);
}

void tc_req_release(struct tc_req *r)
{
	tc_buf_release(&r->target);
	tc_buf_release(&r->heads);
	tc_buf_release(&r->body);
}

int tc_req_feed(struct tc_req *r, const char *data, size_t n)
{
	enum http_errno e;

	if (r->done)
		return TC_REQ_DONE;
	if (r->status)
		return r->limit ? TC_ELIMIT : TC_EINVAL;
	(void)http_parser_execute(&r->p, &settings, data, n);
	e = HTTP_PARSER_ERRNO(&r->p);
	if (r->done)
		return TC_REQ_DONE;
	if (r->status == 503)
		return -ENOMEM;
	if (r->status)
		return r->limit ? TC_ELIMIT : TC_EINVAL;
	if (e != HPE_OK) {
		/* http-parser's own refusals: a malformed request line or
		 * header, a bad chunk size, an unknown method. Its header
		 * size limit (80 KiB) is above ours, so never the reason. */
		refuse(r, 400, http_errno_description(e), NULL);
		return TC_EINVAL;
	}
	/* A request that ends at the end of the connection is never whole:
	 * http-parser needs a length or chunks for a body. */
	return TC_REQ_MORE;
}

const char *tc_req_method(const struct tc_req *r)
{
	return http_method_str((enum http_method)r->p.method);
}

const char *tc_req_header(const struct tc_req *r, const char *name, size_t *len)
{
	unsigned i;

	for (i = 0; i < r->n_headers; i++) {
		const struct tc_req_header *h = &r->header[i];

		if (h->name_len == strlen(name) &&
		    memcmp(r->heads.data + h->name, name, h->name_len) == 0) {
			*len = h->value_len;
			return h->value_len ? r->heads.data + h->value : "";
		}
	}
	return NULL;
}
