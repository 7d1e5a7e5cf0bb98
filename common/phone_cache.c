/*
 * Normalised phone numbers, remembered: libphonenumber takes tens of
 * microseconds a number (its ICU regular expressions), and tocsind reads a
 * roster's numbers once to count a job against its budget and once more to
 * plan it, and again for the next job to the same roster. The cache keeps
 * the answers of tc_addr_phone_normalize that succeeded, keyed by the
 * number as written and its region, in a fixed table: 4-way sets chosen by
 * a hash, the oldest of a full set replaced. A number written longer than
 * TC_PHONE_CACHE_KEY bytes, or refused, is parsed each time.
 *
 * Keeps true: memory is the table, allocated once (TC_PHONE_CACHE_ENTRIES
 * entries); an answer from the cache is the one libphonenumber gave for the
 * same (number, region): its metadata does not change while tocsind runs.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"

#define WAYS 4
#define SETS (TC_PHONE_CACHE_ENTRIES / WAYS)

struct entry {
	uint64_t hash;              /* 0: empty */
	char key[TC_PHONE_CACHE_KEY + 1];
	char region[3];
	char e164[TC_E164_MAX + 1];
	unsigned char kind;
};

struct tc_phone_cache {
	struct entry set[SETS][WAYS];
	unsigned char next[SETS];   /* the way replaced next in a full set */
};

struct tc_phone_cache *tc_phone_cache_new(void)
{
	return calloc(1, sizeof(struct tc_phone_cache));
}

void tc_phone_cache_free(struct tc_phone_cache *c)
{
	free(c);
}

/* FNV-1a over region, a NUL and s; never 0 (that marks an empty entry). */
static uint64_t hash_of(const char *s, const char *region)
{
	uint64_t h = 14695981039346656037ull;
	const unsigned char *p;

	for (p = (const unsigned char *)region; *p; p++)
		h = (h ^ *p) * 1099511628211ull;
	h *= 1099511628211ull;
	for (p = (const unsigned char *)s; *p; p++)
		h = (h ^ *p) * 1099511628211ull;
	return h ? h : 1;
}

int tc_phone_cache_normalize(struct tc_phone_cache *c, const char *s, const char *region,
			     char *out, enum tc_phone_kind *kind, char *why, size_t n)
{
	struct entry *set, *e;
	uint64_t h;
	int i, r;

	if (!region)
		region = "";
	if (!c || strlen(s) > TC_PHONE_CACHE_KEY || strlen(region) > 2)
		return tc_addr_phone_normalize(s, region, out, kind, why, n);
	h = hash_of(s, region);
	set = c->set[h % SETS];
	for (i = 0; i < WAYS; i++) {
		e = &set[i];
		if (e->hash == h && strcmp(e->key, s) == 0 && strcmp(e->region, region) == 0) {
			memcpy(out, e->e164, strlen(e->e164) + 1);
			*kind = (enum tc_phone_kind)e->kind;
			return 0;
		}
	}
	r = tc_addr_phone_normalize(s, region, out, kind, why, n);
	if (r < 0)
		return r;
	for (i = 0; i < WAYS && set[i].hash; i++)
		;
	if (i == WAYS) {
		i = c->next[h % SETS];
		c->next[h % SETS] = (unsigned char)((i + 1) % WAYS);
	}
	e = &set[i];
	e->hash = h;
	memcpy(e->key, s, strlen(s) + 1);
	memcpy(e->region, region, strlen(region) + 1);
	memcpy(e->e164, out, strlen(out) + 1);
	e->kind = (unsigned char)*kind;
	return 0;
}
