/*
 * Unit tests of dispatcher/poison.c's reply bound: hiredis' own reader,
 * fed RESP by hand, building replies through tc_poison_attach. Each limit
 * is crossed by one and met exactly; what is within them parses as hiredis
 * would have parsed it.
 */
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "dispatcher/dispatcher.h"
#include "tc_test.h"

/* A reader with the bound, and the bound. */
struct rd {
	redisReader *r;
	struct tc_poison p;
};

static void rd_init(struct rd *d)
{
	d->r = redisReaderCreate();
	tc_poison_attach(d->r, &d->p);
}

static void rd_free(struct rd *d)
{
	redisReaderFree(d->r);
}

/* Feeds b and reads one reply: 0 and *out (or NULL: incomplete), or -1
 * when the reader failed. */
static int rd_feed(struct rd *d, const struct tc_buf *b, redisReply **out)
{
	void *reply = NULL;

	*out = NULL;
	if (redisReaderFeed(d->r, b->data, b->len) != REDIS_OK ||
	    redisReaderGetReply(d->r, &reply) != REDIS_OK)
		return -1;
	*out = reply;
	return 0;
}

static void bulk(struct tc_buf *b, const char *s, size_t n)
{
	(void)tc_buf_printf(b, "$%zu\r\n", n);
	(void)tc_buf_add(b, s, n);
	(void)tc_buf_adds(b, "\r\n");
}

static void bulks(struct tc_buf *b, const char *s)
{
	bulk(b, s, strlen(s));
}

/* A bulk of n bytes of 'x'. */
static void bulk_n(struct tc_buf *b, size_t n)
{
	char *s = malloc(n + 1);

	memset(s, 'x', n);
	bulk(b, s, n);
	free(s);
}

/* One stream entry [id, [job, <value of n bytes>]], plus extra one-byte
 * fields. */
static void entry(struct tc_buf *b, const char *id, size_t n, unsigned extra)
{
	unsigned i;

	(void)tc_buf_adds(b, "*2\r\n");
	bulks(b, id);
	(void)tc_buf_printf(b, "*%u\r\n", 2 + 2 * extra);
	bulks(b, "job");
	bulk_n(b, n);
	for (i = 0; i < extra; i++) {
		bulks(b, "f");
		bulks(b, "v");
	}
}

static void test_within(void)
{
	struct tc_buf b;
	redisReply *r;
	struct rd d;

	tc_test_begin("poison: a read of jobs parses as hiredis parses it");
	tc_buf_init(&b, 64u << 20);
	rd_init(&d);
	/* XREADGROUP: [[stream, [[id, [job, text]], ...]]], and a deleted one */
	(void)tc_buf_adds(&b, "*2\r\n*2\r\n");
	bulks(&b, "tocsin:jobs:critical");
	(void)tc_buf_adds(&b, "*2\r\n");
	entry(&b, "1796021844832-0", 10, 0);
	(void)tc_buf_adds(&b, "*2\r\n");
	bulks(&b, "1796021844832-1");
	(void)tc_buf_adds(&b, "*-1\r\n");
	(void)tc_buf_adds(&b, "*2\r\n");
	bulks(&b, "tocsin:jobs:low");
	(void)tc_buf_adds(&b, "*3\r\n:42\r\n$-1\r\n+OK\r\n");
	TC_CHECK_INT(rd_feed(&d, &b, &r), 0);
	TC_CHECK(r && r->type == REDIS_REPLY_ARRAY && r->elements == 2);
	if (r && r->elements == 2) {
		const redisReply *list = r->element[0]->element[1], *misc = r->element[1];

		TC_CHECK_STR(r->element[0]->element[0]->str, "tocsin:jobs:critical");
		TC_CHECK_INT(list->elements, 2);
		TC_CHECK_STR(list->element[0]->element[0]->str, "1796021844832-0");
		TC_CHECK_STR(list->element[0]->element[1]->element[0]->str, "job");
		TC_CHECK_STR(list->element[0]->element[1]->element[1]->str, "xxxxxxxxxx");
		TC_CHECK_INT(list->element[0]->element[1]->element[1]->len, 10);
		TC_CHECK_INT(list->element[1]->element[1]->type, REDIS_REPLY_NIL);
		TC_CHECK_INT(misc->element[1]->elements, 3);
		TC_CHECK_INT(misc->element[1]->element[0]->integer, 42);
		TC_CHECK_INT(misc->element[1]->element[1]->type, REDIS_REPLY_NIL);
		TC_CHECK_INT(misc->element[1]->element[2]->type, REDIS_REPLY_STATUS);
		TC_CHECK_STR(misc->element[1]->element[2]->str, "OK");
	}
	TC_CHECK_STR(d.p.why, "");
	freeReplyObject(r);

	tc_test_begin("poison: each reply is counted on its own");
	/* Two replies of 9 MiB each: together past TC_LIMIT_REDIS_REPLY. */
	tc_buf_reset(&b);
	(void)tc_buf_adds(&b, "*9\r\n");
	for (int i = 0; i < 9; i++)
		bulk_n(&b, TC_LIMIT_REDIS_BULK - 1024);
	TC_CHECK_INT(rd_feed(&d, &b, &r), 0);
	TC_CHECK(r && r->elements == 9);
	freeReplyObject(r);
	TC_CHECK_INT(rd_feed(&d, &b, &r), 0);
	TC_CHECK(r && r->elements == 9);
	freeReplyObject(r);
	TC_CHECK_STR(d.p.why, "");
	rd_free(&d);
	tc_buf_release(&b);
}

/* Feeds b to a new reader: whether it was refused, and why into why. */
static bool refused(const struct tc_buf *b, char *why, size_t n)
{
	struct rd d;
	redisReply *r;
	int rc;

	rd_init(&d);
	rc = rd_feed(&d, b, &r);
	snprintf(why, n, "%s", d.p.why);
	freeReplyObject(r);
	rd_free(&d);
	return rc < 0;
}

static void test_array(void)
{
	struct tc_buf b;
	char why[256];

	tc_test_begin("poison: an entry of a million fields is refused at its count");
	tc_buf_init(&b, 1u << 20);
	/* Only the headers: refused before the fields arrive. */
	(void)tc_buf_adds(&b, "*1\r\n*2\r\n");
	bulks(&b, "tocsin:jobs:normal");
	(void)tc_buf_adds(&b, "*1\r\n*2\r\n");
	bulks(&b, "1796021844832-0");
	(void)tc_buf_adds(&b, "*2000000\r\n$1\r\na\r\n");
	TC_CHECK(refused(&b, why, sizeof(why)));
	TC_CHECK_STR(why, "stream entry 1796021844832-0: an array of 2000000 elements, "
		     "more than 1024 (TC_LIMIT_REDIS_ARRAY)");

	tc_test_begin("poison: TC_LIMIT_REDIS_ARRAY elements are read, one more is not");
	tc_buf_reset(&b);
	(void)tc_buf_adds(&b, "*2\r\n");
	bulks(&b, "0-0");
	(void)tc_buf_adds(&b, "*1\r\n");
	entry(&b, "7-1", 1, TC_LIMIT_REDIS_ARRAY / 2 - 1);
	TC_CHECK(!refused(&b, why, sizeof(why)));
	tc_buf_reset(&b);
	entry(&b, "7-1", 1, TC_LIMIT_REDIS_ARRAY / 2);
	TC_CHECK(refused(&b, why, sizeof(why)));
	TC_CHECK_STR(why, "stream entry 7-1: an array of 1026 elements, more than 1024 "
		     "(TC_LIMIT_REDIS_ARRAY)");
	tc_buf_reset(&b);
	(void)tc_buf_printf(&b, "*%d\r\n", TC_LIMIT_REDIS_ARRAY + 1);
	TC_CHECK(refused(&b, why, sizeof(why)));
	TC_CHECK_STR(why, "an array of 1025 elements, more than 1024 (TC_LIMIT_REDIS_ARRAY)");
	tc_buf_release(&b);
}

static void test_entry(void)
{
	/* [id, [job, value]]: 64 + 2 * 8 for the list, 64 + 3 for "job",
	 * 64 + n for the value. */
	size_t most = TC_LIMIT_REDIS_ENTRY - (64 + 16) - (64 + 3) - 64;
	struct tc_buf b;
	char why[256];

	tc_test_begin("poison: an entry is read up to TC_LIMIT_REDIS_ENTRY as counted");
	tc_buf_init(&b, 4u << 20);
	entry(&b, "1-1", most, 0);
	TC_CHECK(!refused(&b, why, sizeof(why)));
	TC_CHECK_STR(why, "");
	tc_buf_reset(&b);
	entry(&b, "1-1", most + 1, 0);
	TC_CHECK(refused(&b, why, sizeof(why)));
	TC_CHECK_STR(why, "stream entry 1-1: more than 131072 bytes as counted "
		     "(TC_LIMIT_REDIS_ENTRY)");

	tc_test_begin("poison: small fields count too");
	tc_buf_reset(&b);
	(void)tc_buf_adds(&b, "*2\r\n");
	bulks(&b, "2-0");
	(void)tc_buf_adds(&b, "*1000\r\n");
	for (int i = 0; i < 1000; i++)
		bulk_n(&b, 70);
	TC_CHECK(refused(&b, why, sizeof(why)));
	TC_CHECK_STR(why, "stream entry 2-0: more than 131072 bytes as counted "
		     "(TC_LIMIT_REDIS_ENTRY)");

	tc_test_begin("poison: XAUTOCLAIM's [cursor, entries] is not taken for an entry");
	/* Redis 6.2 answers [cursor, entries]; 7, [cursor, entries, deleted]. */
	tc_buf_reset(&b);
	(void)tc_buf_adds(&b, "*2\r\n");
	bulks(&b, "0-0");
	(void)tc_buf_adds(&b, "*16\r\n");
	for (int i = 0; i < 16; i++)
		entry(&b, "1796021844832-0", TC_LIMIT_JOB_BYTES, 0);
	TC_CHECK(!refused(&b, why, sizeof(why)));
	TC_CHECK_STR(why, "");

	tc_test_begin("poison: a pair that is not an entry is not counted as one");
	tc_buf_reset(&b);
	(void)tc_buf_adds(&b, "*2\r\n");
	bulks(&b, "tocsin:jobs:normal");
	(void)tc_buf_adds(&b, "*2\r\n");
	bulk_n(&b, most);
	bulk_n(&b, most);
	TC_CHECK(!refused(&b, why, sizeof(why)));
	tc_buf_release(&b);
}

static void test_bulk_and_reply(void)
{
	struct tc_buf b;
	char why[256];
	redisReply *r;
	struct rd d;

	tc_test_begin("poison: a string past TC_LIMIT_REDIS_BULK is refused");
	tc_buf_init(&b, 20u << 20);
	bulk_n(&b, TC_LIMIT_REDIS_BULK);
	TC_CHECK(!refused(&b, why, sizeof(why)));
	tc_buf_reset(&b);
	bulk_n(&b, TC_LIMIT_REDIS_BULK + 1);
	TC_CHECK(refused(&b, why, sizeof(why)));
	TC_CHECK_STR(why, "a string of 1048577 bytes, more than 1048576 (TC_LIMIT_REDIS_BULK)");

	tc_test_begin("poison: ... and while it arrives, before it is whole");
	rd_init(&d);
	tc_buf_reset(&b);
	(void)tc_buf_adds(&b, "$536870912\r\n");
	TC_CHECK_INT(rd_feed(&d, &b, &r), 0);
	TC_CHECK(r == NULL);
	tc_buf_reset(&b);
	bulk_n(&b, TC_LIMIT_REDIS_BULK);
	b.len = TC_LIMIT_REDIS_BULK - 64; /* just the bytes */
	TC_CHECK_INT(rd_feed(&d, &b, &r), 0);
	TC_CHECK_INT(tc_poison_pending(d.r, &d.p), 0);
	TC_CHECK_INT(rd_feed(&d, &b, &r), 0);
	TC_CHECK(r == NULL);
	TC_CHECK_INT(tc_poison_pending(d.r, &d.p), TC_ELIMIT);
	TC_CHECK_STR(d.p.why, "a string of more than 1048576 bytes still arriving "
		     "(TC_LIMIT_REDIS_BULK)");
	rd_free(&d);

	tc_test_begin("poison: a reply past TC_LIMIT_REDIS_REPLY is refused");
	tc_buf_reset(&b);
	(void)tc_buf_adds(&b, "*20\r\n");
	for (int i = 0; i < 20; i++)
		bulk_n(&b, TC_LIMIT_REDIS_BULK - 1024);
	TC_CHECK(refused(&b, why, sizeof(why)));
	TC_CHECK_STR(why, "a reply of more than 16777216 bytes as counted "
		     "(TC_LIMIT_REDIS_REPLY)");

	tc_test_begin("poison: intake's largest read of entries at their limit fits");
	/* 4 streams x 16 entries, each at TC_LIMIT_REDIS_ENTRY. */
	tc_buf_reset(&b);
	(void)tc_buf_adds(&b, "*4\r\n");
	for (int s = 0; s < 4; s++) {
		(void)tc_buf_adds(&b, "*2\r\n");
		bulks(&b, "tocsin:jobs:normal");
		(void)tc_buf_adds(&b, "*16\r\n");
		for (int i = 0; i < 16; i++)
			entry(&b, "1796021844832-0",
			      TC_LIMIT_REDIS_ENTRY - (64 + 16) - (64 + 3) - 64, 0);
	}
	TC_CHECK(!refused(&b, why, sizeof(why)));
	TC_CHECK_STR(why, "");
	tc_buf_release(&b);
}

/* tc_resp_format writes what hiredis' redisFormatCommandArgv writes. */
static void same_as_hiredis(int argc, const char **argv, const size_t *lens)
{
	char *ours = NULL, *theirs = NULL;
	int n = tc_resp_format(&ours, argc, argv, lens);
	int m = redisFormatCommandArgv(&theirs, argc, argv, lens);

	TC_CHECK_INT(n, m);
	TC_CHECK(n == m && n > 0 && memcmp(ours, theirs, (size_t)n) == 0);
	TC_CHECK(n > 0 && ours[n] == '\0');
	free(ours);
	redisFreeCommand(theirs);
}

static void test_resp_format(void)
{
	static const char bin[] = "a\0b\r\n$3\r\n";
	const char *argv[3] = { "HSET", "k", "" };
	size_t lens[3] = { 4, 1, 0 };
	char *big = malloc(100000);

	tc_test_begin("resp: a command as hiredis formats it, strings and lengths");
	same_as_hiredis(1, argv, NULL);
	same_as_hiredis(3, argv, NULL);
	same_as_hiredis(3, argv, lens);
	argv[2] = bin;
	lens[2] = sizeof(bin) - 1;
	same_as_hiredis(3, argv, lens);
	if (big) {
		memset(big, 'x', 99999);
		big[99999] = '\0';
		argv[2] = big;
		same_as_hiredis(3, argv, NULL);
	}
	free(big);
}

int main(void)
{
	test_resp_format();
	test_within();
	test_array();
	test_entry();
	test_bulk_and_reply();
	return tc_test_done();
}
