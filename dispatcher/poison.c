/*
 * Poison: what one Redis reply can make tocsind allocate, and what becomes
 * of a stream entry that would make it allocate more.
 *
 * hiredis 0.14 builds a whole reply before tocsind sees any of it: one
 * stream entry of a million one-byte fields cost 200 MiB. So tocsind's
 * connections build replies through these functions, which see each
 * array's element count and each string's length before anything is
 * allocated, and count what the reply has cost so far (TC_REDIS_OBJ_COST
 * per object, plus a string's bytes and 8 per array element). A reply that
 * crosses TC_LIMIT_REDIS_ARRAY, TC_LIMIT_REDIS_BULK, TC_LIMIT_REDIS_REPLY,
 * or whose stream entry crosses TC_LIMIT_REDIS_ENTRY, is refused: the
 * reader fails, hiredis drops the connection, and nothing more of it is
 * read. A string still arriving is refused once the reader holds more of it
 * than TC_LIMIT_REDIS_BULK.
 *
 * The entry that did it is still pending for this consumer (XREADGROUP and
 * XAUTOCLAIM make it ours before it is sent), and would be read again at
 * once. So before the connection is used again, SWEEP measures the
 * entries pending for this consumer inside Redis, with the same counting,
 * and dead-letters those that cross the limits, without sending them.
 *
 * Keeps true: a reply that is refused was not going to fit; every entry
 * that can make one refused is one SWEEP dead-letters (intake reads at
 * most 4 streams x 16 entries at a time, and 64 entries within
 * TC_LIMIT_REDIS_ENTRY fit in TC_LIMIT_REDIS_REPLY), so a refusal never
 * repeats for the same entry; an entry that fits is never dead-lettered
 * here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "dispatcher/dispatcher.h"

#define SWEEP_LOOK "1024" /* pending entries of each stream SWEEP measures */

/* ---- the reply bound --------------------------------------------------------- */

/* Whether s (len bytes) is a stream entry id, "<ms>-<seq>". */
static bool entry_id(const char *s, size_t len)
{
	size_t a = strspn(s, "0123456789");

	return a > 0 && a < len && s[a] == '-' &&
	       strspn(s + a + 1, "0123456789") == len - a - 1 && len - a - 1 > 0;
}

/* Whether the object of task t is inside the field list of the stream
 * entry being read. */
static bool in_entry(const struct tc_poison *p, const redisReadTask *t)
{
	const redisReadTask *up;

	for (up = t->parent; p->fields && up; up = up->parent)
		if (up->obj == p->fields)
			return true;
	return false;
}

/* Refuses the reply being read: fills p->why (a printf format), naming
 * the stream entry when the object is one's. Returns NULL, which hiredis
 * takes for out of memory: it fails the reader. */
static void *refuse(struct tc_poison *p, bool entry, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void *refuse(struct tc_poison *p, bool entry, const char *fmt, ...)
{
	size_t n = 0;
	va_list ap;

	if (entry)
		n = (size_t)snprintf(p->why, sizeof(p->why), "stream entry %s: ", p->entry);
	va_start(ap, fmt);
	vsnprintf(p->why + n, sizeof(p->why) - n, fmt, ap);
	va_end(ap);
	p->fields = NULL;
	return NULL;
}

/* Counts an object of cost about to be made for task t: a new reply
 * starts the count again; an object inside the field list of the stream
 * entry being read counts for that entry too. Returns 0, or -1 when a
 * limit is crossed (p->why says which). */
static int count(struct tc_poison *p, const redisReadTask *t, size_t cost)
{
	bool entry;

	if (!t->parent) {
		p->reply_cost = 0;
		p->fields = NULL;
	}
	entry = in_entry(p, t);
	p->reply_cost += cost;
	if (p->reply_cost > TC_LIMIT_REDIS_REPLY) {
		refuse(p, entry, "a reply of more than %u bytes as counted "
		       "(TC_LIMIT_REDIS_REPLY)", TC_LIMIT_REDIS_REPLY);
		return -1;
	}
	if (entry && (p->entry_cost += cost) > TC_LIMIT_REDIS_ENTRY) {
		refuse(p, true, "more than %u bytes as counted (TC_LIMIT_REDIS_ENTRY)",
		       TC_LIMIT_REDIS_ENTRY);
		return -1;
	}
	return 0;
}

/* Puts r in its parent's slot, as hiredis' own functions do. */
static void *attach(const redisReadTask *t, redisReply *r)
{
	if (t->parent)
		((redisReply *)t->parent->obj)->element[t->idx] = r;
	return r;
}

static void *make_string(const redisReadTask *t, char *str, size_t len)
{
	struct tc_poison *p = t->privdata;
	redisReply *r;

	if (len > TC_LIMIT_REDIS_BULK)
		return refuse(p, in_entry(p, t), "a string of %zu bytes, more than %u "
			      "(TC_LIMIT_REDIS_BULK)", len, TC_LIMIT_REDIS_BULK);
	if (count(p, t, TC_REDIS_OBJ_COST + len) < 0)
		return NULL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->type = t->type;
	r->str = malloc(len + 1);
	if (!r->str) {
		free(r);
		return NULL;
	}
	memcpy(r->str, str, len);
	r->str[len] = '\0';
	r->len = len;
	return attach(t, r);
}

/* Whether the array made for t is a stream entry's field list: the second
 * of [id, fields]. */
static bool is_fields(const redisReadTask *t)
{
	const redisReply *pair = t->parent ? t->parent->obj : NULL;

	return pair && pair->elements == 2 && t->idx == 1 && pair->element[0] &&
	       pair->element[0]->type == REDIS_REPLY_STRING &&
	       entry_id(pair->element[0]->str, pair->element[0]->len);
}

static void *make_array(const redisReadTask *t, int elements)
{
	struct tc_poison *p = t->privdata;
	size_t cost = TC_REDIS_OBJ_COST + 8 * (size_t)elements;
	bool fields;
	redisReply *r;

	/* A field list holds strings: what holds an array was not one (the
	 * [cursor, entries] of XAUTOCLAIM before Redis 7 looks like [id,
	 * fields]). */
	if (in_entry(p, t))
		p->fields = NULL;
	fields = is_fields(t);
	if (fields) {
		const redisReply *id = ((const redisReply *)t->parent->obj)->element[0];

		snprintf(p->entry, sizeof(p->entry), "%.*s", (int)id->len, id->str);
	}
	if (elements > TC_LIMIT_REDIS_ARRAY)
		return refuse(p, fields || in_entry(p, t), "an array of %d elements, more "
			      "than %d (TC_LIMIT_REDIS_ARRAY)", elements, TC_LIMIT_REDIS_ARRAY);
	if (count(p, t, cost) < 0)
		return NULL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->type = REDIS_REPLY_ARRAY;
	if (elements > 0) {
		r->element = calloc((size_t)elements, sizeof(*r->element));
		if (!r->element) {
			free(r);
			return NULL;
		}
	}
	r->elements = (size_t)elements;
	if (fields) {
		/* counted again as the entry's, from its field list on */
		p->fields = r;
		p->entry_cost = cost;
	}
	return attach(t, r);
}

/* An integer or a nil. */
static void *make_scalar(const redisReadTask *t, int type, long long v)
{
	struct tc_poison *p = t->privdata;
	redisReply *r;

	if (count(p, t, TC_REDIS_OBJ_COST) < 0)
		return NULL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->type = type;
	r->integer = v;
	return attach(t, r);
}

static void *make_integer(const redisReadTask *t, long long v)
{
	return make_scalar(t, REDIS_REPLY_INTEGER, v);
}

static void *make_nil(const redisReadTask *t)
{
	return make_scalar(t, REDIS_REPLY_NIL, 0);
}

static redisReplyObjectFunctions bounded = {
	make_string, make_array, make_integer, make_nil, freeReplyObject
};

void tc_poison_attach(redisReader *r, struct tc_poison *p)
{
	memset(p, 0, sizeof(*p));
	r->fn = &bounded;
	r->privdata = p;
}

int tc_poison_pending(const redisReader *r, struct tc_poison *p)
{
	/* What hiredis holds past its cursor is the one item it is reading
	 * (all complete ones were taken): a string still arriving. Its
	 * header ("$<length>\r\n") is a few bytes more. */
	if (r->err || !r->buf || r->ridx < 0 || r->len - r->pos <= TC_LIMIT_REDIS_BULK + 32)
		return 0;
	refuse(p, in_entry(p, &r->rstack[r->ridx]), "a string of more than %u bytes "
	       "still arriving (TC_LIMIT_REDIS_BULK)", TC_LIMIT_REDIS_BULK);
	return TC_ELIMIT;
}

/* ---- dead-lettering what was refused ---------------------------------------- */

int tc_poison_sweep(redisAsyncContext *ac, const char *prefix, const char *consumer,
		    redisCallbackFn *cb, void *priv)
{
	char keys[2 + TC_SEV_COUNT][TC_KEY_MAX], now[40], nkeys[8], max_n[16],
	     max_cost[24], obj[16], cut[24];
	const char *argv[3 + 2 + TC_SEV_COUNT + 8 + TC_SEV_COUNT];
	int argc = 0, s;

	tc_key_dead(keys[0], sizeof(keys[0]), prefix);
	tc_key_events(keys[1], sizeof(keys[1]), prefix);
	for (s = 0; s < TC_SEV_COUNT; s++)
		tc_key_jobs(keys[2 + s], sizeof(keys[2 + s]), prefix, s);
	tc_time_format(tc_time_now_ms(), now, sizeof(now));
	snprintf(nkeys, sizeof(nkeys), "%d", 2 + TC_SEV_COUNT);
	snprintf(max_n, sizeof(max_n), "%d", TC_LIMIT_REDIS_ARRAY);
	snprintf(max_cost, sizeof(max_cost), "%u", TC_LIMIT_REDIS_ENTRY);
	snprintf(obj, sizeof(obj), "%d", TC_REDIS_OBJ_COST);
	snprintf(cut, sizeof(cut), "%u", TC_LIMIT_JOB_BYTES);
	argv[argc++] = "EVAL";
	argv[argc++] = tc_lua_sweep;
	argv[argc++] = nkeys;
	for (s = 0; s < 2 + TC_SEV_COUNT; s++)
		argv[argc++] = keys[s];
	argv[argc++] = TC_GROUP_NAME;
	argv[argc++] = consumer;
	argv[argc++] = now;
	argv[argc++] = max_n;
	argv[argc++] = max_cost;
	argv[argc++] = obj;
	argv[argc++] = cut;
	argv[argc++] = SWEEP_LOOK;
	for (s = 0; s < TC_SEV_COUNT; s++)
		argv[argc++] = tc_severity_name(s);
	return redisAsyncCommandArgv(ac, cb, priv, argc, argv, NULL) == REDIS_OK ? 0 :
	       TC_EREDIS;
}

int tc_poison_swept(const char *conn, const redisReply *r)
{
	char q[TC_LIMIT_LOG_VALUE + 16];
	size_t i;

	if (r->type != REDIS_REPLY_ARRAY) {
		tc_log(TC_LOG_ERROR, "redis", "conn=%s event=sweep-failed err=%s, "
		       "the entries pending stay as they are", conn,
		       tc_log_quote(q, sizeof(q), r->type == REDIS_REPLY_ERROR ? r->str :
				    "unexpected reply"));
		return TC_EREDIS;
	}
	for (i = 0; i < r->elements; i++) {
		const redisReply *e = r->element[i];

		if (e->type != REDIS_REPLY_ARRAY || e->elements != 4 ||
		    e->element[0]->type != REDIS_REPLY_STRING ||
		    tc_severity_parse(e->element[0]->str) < 0 ||
		    e->element[1]->type != REDIS_REPLY_STRING ||
		    !entry_id(e->element[1]->str, e->element[1]->len) ||
		    e->element[2]->type != REDIS_REPLY_INTEGER ||
		    e->element[3]->type != REDIS_REPLY_INTEGER)
			continue;
		tc_log(TC_LOG_WARN, "intake", "stream=%s entry=%s event=too-large fields=%lld bytes=%lld, dead-lettered without reading it",
		       e->element[0]->str, e->element[1]->str, e->element[2]->integer,
		       e->element[3]->integer);
	}
	if (r->elements == 0)
		tc_log(TC_LOG_WARN, "redis", "conn=%s event=sweep-found-nothing, no pending entry crosses the limits: the refused reply was not an entry's",
		       conn);
	return (int)r->elements;
}
