/*
 * The Redis reply bound (dispatcher/poison.c): bytes as a Redis server (or
 * something posing as one) sends them, read by hiredis' own reader through
 * tc_poison_attach, cut into chunks of a size the input picks (its length
 * modulo 13, plus 1), with tc_poison_pending after each. Every reply that
 * comes out must be within TC_LIMIT_REDIS_ARRAY and _BULK; a refusal must
 * say why, printably.
 */
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "dispatcher/dispatcher.h"
#include "tests/fuzz/fuzz.h"

static void check(const redisReply *r, unsigned depth)
{
	size_t i;

	fz_assert(depth < 64, "replies nest within reason");
	switch (r->type) {
	case REDIS_REPLY_ARRAY:
		fz_assert(r->elements <= TC_LIMIT_REDIS_ARRAY,
			  "an array within TC_LIMIT_REDIS_ARRAY");
		for (i = 0; i < r->elements; i++)
			check(r->element[i], depth + 1);
		break;
	case REDIS_REPLY_STRING:
	case REDIS_REPLY_STATUS:
	case REDIS_REPLY_ERROR:
		fz_assert(r->len <= TC_LIMIT_REDIS_BULK, "a string within TC_LIMIT_REDIS_BULK");
		fz_assert(r->str && r->str[r->len] == '\0', "a string is terminated");
		break;
	default:
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	redisReader *rd = redisReaderCreate();
	size_t off = 0, n, chunk = size % 13 + 1;
	struct tc_poison p;
	void *reply;

	/* Past one bulk string at its limit: the pending check's ground. */
	if (size > TC_LIMIT_REDIS_BULK + 64) {
		redisReaderFree(rd);
		return 0;
	}
	if (!rd)
		abort();
	tc_poison_attach(rd, &p);
	while (off < size) {
		n = size - off < chunk ? size - off : chunk;
		if (redisReaderFeed(rd, (const char *)data + off, n) != REDIS_OK)
			break;
		off += n;
		if (tc_poison_pending(rd, &p) < 0)
			break;
		for (;;) {
			reply = NULL;
			if (redisReaderGetReply(rd, &reply) != REDIS_OK || !reply)
				break;
			check(reply, 0);
			freeReplyObject(reply);
		}
		if (rd->err)
			break;
	}
	fz_shown(p.why, "why a reply was refused");
	redisReaderFree(rd);
	return 0;
}
