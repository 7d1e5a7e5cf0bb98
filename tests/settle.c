/*
 * settle: moves one delivery on by its id through the SETTLE script, as a
 * receipt or an acknowledgement will, with no tocsind involved. For the
 * integration tests of the tracker outside a running job.
 *
 *   settle REDIS_URL PREFIX JOB DELIVERY[,DELIVERY...] TO FROM...
 *
 * Prints the script's answer per delivery ("moved delivered") and exits 0,
 * or prints why and exits 1.
 */
#include <stdio.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "common/common.h"

int main(int argc, char **argv)
{
	char keys[3 * TC_KEY_MAX + 128], why[512], now[40];
	const char *args[TC_SETTLE_ARGS];
	size_t lens[TC_SETTLE_ARGS];
	struct tc_settle s = { 0 };
	redisContext *c;
	redisReply *r;
	char *id, *save = NULL;
	int i, to, n;

	if (argc < 7) {
		fprintf(stderr, "usage: settle REDIS_URL PREFIX JOB DELIVERY TO FROM...\n");
		return 2;
	}
	to = tc_dstate_parse(argv[5]);
	for (i = 6; i < argc; i++)
		if (tc_dstate_parse(argv[i]) >= 0)
			s.from |= 1u << tc_dstate_parse(argv[i]);
	if (to < 0 || !s.from) {
		fprintf(stderr, "settle: unknown state\n");
		return 2;
	}
	tc_time_format(tc_time_now_ms(), now, sizeof(now));
	c = tc_redis_connect(argv[1], NULL, NULL, 5, why, sizeof(why));
	if (!c) {
		fprintf(stderr, "settle: %s\n", why);
		return 1;
	}
	s.prefix = argv[2];
	s.job_id = argv[3];
	s.to = to;
	s.outcome = "settled by a test";
	s.now = now;
	for (id = strtok_r(argv[4], ",", &save); id; id = strtok_r(NULL, ",", &save)) {
		s.delivery_id = id;
		n = tc_settle_args(&s, keys, sizeof(keys), args, lens);
		r = n < 0 ? NULL : redisCommandArgv(c, n, args, lens);
		if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
			fprintf(stderr, "settle: %s\n", r && r->type == REDIS_REPLY_ERROR ?
				r->str : "no reply");
			return 1;
		}
		printf("%s %s\n", r->element[0]->str, r->element[1]->str);
		freeReplyObject(r);
	}
	redisFree(c);
	return 0;
}
