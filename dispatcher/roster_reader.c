/*
 * The roster reader: a CSV roster read with uv_fs (libuv's thread pool) and
 * parsed as it arrives, so a broadcast to a million rows costs one chunk of
 * memory, and the loop never waits on the disk.
 *
 * Keeps true: at most one file operation is under way; reading pauses
 * while parsed members wait to be planned.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dispatcher/dispatcher.h"

#define RR_CHUNK 16384

struct rr_item {
	struct tc_member m;
	unsigned line;
	char *why;                  /* a bad row's reason, else NULL */
};

struct tc_roster_reader {
	uv_loop_t *loop;
	char *path;
	tc_rr_fn ready;
	void *data;
	uv_fs_t req;
	uv_file fd;
	bool busy;                  /* a uv_fs request is under way */
	bool eof;                   /* read to the end, or failed */
	bool freeing;
	struct tc_roster *parser;
	struct rr_item *items;
	size_t n, cap, head;
	struct rr_item cur;         /* what tc_rr_next returned last */
	char err[512];
	char buf[RR_CHUNK];
};

static void rr_start(struct tc_roster_reader *rr);

static void item_release(struct rr_item *it)
{
	tc_member_release(&it->m);
	free(it->why);
	it->why = NULL;
}

static void rr_destroy(struct tc_roster_reader *rr)
{
	size_t i;

	item_release(&rr->cur);
	for (i = rr->head; i < rr->n; i++)
		item_release(&rr->items[i]);
	free(rr->items);
	tc_roster_free(rr->parser);
	free(rr->path);
	free(rr);
}

static void fail(struct tc_roster_reader *rr, const char *what, int err)
{
	snprintf(rr->err, sizeof(rr->err), "%s: %s %s", rr->path, what, uv_strerror(err));
	rr->eof = true;
}

/* Called by the parser per record: queue a copy. */
static int on_row(void *data, const struct tc_member *m, unsigned line,
		  const struct tc_diag *d)
{
	struct tc_roster_reader *rr = data;
	struct rr_item *it;
	char why[1200];

	if (rr->n == rr->cap) {
		size_t cap = rr->cap ? rr->cap * 2 : 64;
		struct rr_item *p = realloc(rr->items, cap * sizeof(*p));

		if (!p)
			return -1;
		rr->items = p;
		rr->cap = cap;
	}
	it = &rr->items[rr->n];
	memset(it, 0, sizeof(*it));
	it->line = line;
	if (m) {
		struct tc_member *c = tc_member_dup(m);

		if (!c)
			return -1;
		it->m = *c;
		free(c);
	} else {
		tc_diag_format(d, why, sizeof(why));
		it->why = strdup(why);
		if (!it->why)
			return -1;
	}
	rr->n++;
	return 0;
}

static void on_closed(uv_fs_t *req)
{
	struct tc_roster_reader *rr = container_of(req, struct tc_roster_reader, req);

	uv_fs_req_cleanup(req);
	rr->busy = false;
	rr->fd = -1;
	if (rr->freeing) {
		rr_destroy(rr);
		return;
	}
	rr->ready(rr->data);
}

static void rr_close(struct tc_roster_reader *rr)
{
	if (rr->fd < 0 || uv_fs_close(rr->loop, &rr->req, rr->fd, on_closed) < 0) {
		rr->fd = -1;
		if (rr->freeing)
			rr_destroy(rr);
		else
			rr->ready(rr->data);
		return;
	}
	rr->busy = true;
}

static void on_read(uv_fs_t *req)
{
	struct tc_roster_reader *rr = container_of(req, struct tc_roster_reader, req);
	ssize_t got = req->result;
	struct tc_diag d;
	int r;

	uv_fs_req_cleanup(req);
	rr->busy = false;
	if (rr->freeing) {
		rr_close(rr);
		return;
	}
	if (got < 0) {
		fail(rr, "cannot read:", (int)got);
	} else if (got == 0) {
		rr->eof = true;
		if (tc_roster_finish(rr->parser, &d) < 0 && d.msg[0])
			tc_diag_format(&d, rr->err, sizeof(rr->err));
	} else {
		r = tc_roster_feed(rr->parser, rr->buf, (size_t)got, &d);
		if (r < 0 && r != -1) {
			tc_diag_format(&d, rr->err, sizeof(rr->err));
			rr->eof = true;
		} else if (r == -1) {
			snprintf(rr->err, sizeof(rr->err), "%s: out of memory", rr->path);
			rr->eof = true;
		}
	}
	if (rr->eof) {
		rr_close(rr);
		return;
	}
	rr->ready(rr->data);
}

static void on_open(uv_fs_t *req)
{
	struct tc_roster_reader *rr = container_of(req, struct tc_roster_reader, req);
	ssize_t fd = req->result;

	uv_fs_req_cleanup(req);
	rr->busy = false;
	if (fd >= 0)
		rr->fd = (uv_file)fd;
	if (rr->freeing) {
		rr_close(rr);
		return;
	}
	if (fd < 0) {
		fail(rr, "cannot open:", (int)fd);
		rr->ready(rr->data);
		return;
	}
	rr_start(rr);
}

/* Starts the next file operation if none is under way and the queue is
 * drained. */
static void rr_start(struct tc_roster_reader *rr)
{
	uv_buf_t iov;
	int r;

	if (rr->busy || rr->eof || rr->head < rr->n)
		return;
	rr->head = rr->n = 0;
	iov = uv_buf_init(rr->buf, sizeof(rr->buf));
	r = uv_fs_read(rr->loop, &rr->req, rr->fd, &iov, 1, -1, on_read);
	if (r < 0) {
		fail(rr, "cannot read:", r);
		rr_close(rr);
		return;
	}
	rr->busy = true;
}

struct tc_roster_reader *tc_rr_new(uv_loop_t *loop, const char *path,
				   const char *region, struct tc_phone_cache *phones,
				   tc_rr_fn ready, void *data)
{
	struct tc_roster_reader *rr = calloc(1, sizeof(*rr));
	int r;

	if (!rr)
		return NULL;
	rr->loop = loop;
	rr->fd = -1;
	rr->ready = ready;
	rr->data = data;
	rr->path = strdup(path);
	rr->parser = tc_roster_new(path, region, phones, on_row, rr);
	if (!rr->path || !rr->parser) {
		rr_destroy(rr);
		return NULL;
	}
	r = uv_fs_open(loop, &rr->req, path, O_RDONLY | O_CLOEXEC, 0, on_open);
	if (r < 0) {
		fail(rr, "cannot open:", r);
		return rr;
	}
	rr->busy = true;
	return rr;
}

const struct tc_member *tc_rr_next(struct tc_roster_reader *rr, bool *bad,
				   unsigned *line, char *why, size_t n)
{
	struct rr_item *it;

	item_release(&rr->cur);
	*bad = false;
	if (rr->head == rr->n) {
		if (rr->fd >= 0)
			rr_start(rr);
		return NULL;
	}
	it = &rr->items[rr->head++];
	rr->cur = *it;
	memset(it, 0, sizeof(*it));
	*line = rr->cur.line;
	if (rr->cur.why) {
		*bad = true;
		snprintf(why, n, "%s", rr->cur.why);
		return NULL;
	}
	return &rr->cur.m;
}

bool tc_rr_done(const struct tc_roster_reader *rr, char *err, size_t n)
{
	snprintf(err, n, "%s", rr->err);
	return rr->eof && !rr->busy && rr->head == rr->n;
}

void tc_rr_free(struct tc_roster_reader *rr)
{
	if (!rr)
		return;
	rr->freeing = true;
	if (rr->busy)
		return; /* the pending callback finishes the job */
	if (rr->fd >= 0)
		rr_close(rr);
	else
		rr_destroy(rr);
}
