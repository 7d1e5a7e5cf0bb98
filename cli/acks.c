/*
 * Acknowledgements in `tocsin status` and `tocsin report`: who confirmed,
 * with which answer, and the members to chase (--unreached,
 * --unconfirmed).
 *
 * A member is recognised across channels by the member_key of their
 * delivery records (common/delivery.c). The deliveries are read page by
 * page with HSCAN and folded per member in a sorted array: a CLI read,
 * never tocsind's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

/* One member as the deliveries tell. */
struct who {
	char key[TC_MEMBER_KEY_LEN + 1];
	bool human;       /* has a delivery on a channel other than webhook */
	bool reached;     /* a delivery sent, delivered or acknowledged */
	bool confirmed;   /* acknowledged */
};

static int by_key(const void *a, const void *b)
{
	return strcmp(((const struct who *)a)->key, ((const struct who *)b)->key);
}

/* Every member of job id, folded per member_key, sorted; NULL with *n 0
 * for none, or on failure (*n (size_t)-1). Free with free(). */
static struct who *members(const struct tc_cfg *cfg, redisContext *c, const char *id,
			   size_t *n)
{
	char key[TC_KEY_MAX], cursor[32] = "0";
	struct who *w = NULL, *grown;
	size_t len = 0, cap = 0, i, k;
	redisReply *r;

	*n = (size_t)-1;
	if (tc_key_deliveries(key, sizeof(key), cfg->prefix, id) < 0)
		return NULL;
	do {
		r = redisCommand(c, "HSCAN %s %s COUNT 1000", key, cursor);
		if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
		    r->element[0]->type != REDIS_REPLY_STRING ||
		    r->element[1]->type != REDIS_REPLY_ARRAY) {
			freeReplyObject(r);
			free(w);
			return NULL;
		}
		snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
		for (i = 1; i < r->element[1]->elements; i += 2) {
			const redisReply *t = r->element[1]->element[i];
			json_t *d = t->type == REDIS_REPLY_STRING ?
				    json_loadb(t->str, t->len, 0, NULL) : NULL;
			const char *mk = json_string_value(json_object_get(d, "member_key"));
			const char *ch = json_string_value(json_object_get(d, "channel"));
			int st = tc_dstate_parse(json_string_value(json_object_get(d, "state")) ?
						 json_string_value(json_object_get(d, "state")) : "");

			if (mk && strlen(mk) == TC_MEMBER_KEY_LEN && ch) {
				if (len == cap) {
					cap = cap ? 2 * cap : 1024;
					grown = realloc(w, cap * sizeof(*w));
					if (!grown) {
						json_decref(d);
						freeReplyObject(r);
						free(w);
						return NULL;
					}
					w = grown;
				}
				memcpy(w[len].key, mk, TC_MEMBER_KEY_LEN + 1);
				w[len].human = strcmp(ch, "webhook") != 0;
				w[len].confirmed = st == TC_DS_ACKNOWLEDGED;
				w[len].reached = st == TC_DS_SENT || st == TC_DS_DELIVERED ||
						 st == TC_DS_ACKNOWLEDGED;
				len++;
			}
			json_decref(d);
		}
		freeReplyObject(r);
	} while (strcmp(cursor, "0") != 0);
	if (len)
		qsort(w, len, sizeof(*w), by_key);
	/* fold: one entry per member */
	for (i = 0, k = 0; i < len; i++) {
		if (k && strcmp(w[k - 1].key, w[i].key) == 0) {
			w[k - 1].human |= w[i].human;
			w[k - 1].reached |= w[i].reached;
			w[k - 1].confirmed |= w[i].confirmed;
		} else {
			w[k++] = w[i];
		}
	}
	*n = k;
	return w;
}

struct tc_cli_who *tc_cli_who_read(const struct tc_cfg *cfg, redisContext *c,
				   const char *id)
{
	struct tc_cli_who *all = calloc(1, sizeof(*all));

	if (!all)
		return NULL;
	all->w = members(cfg, c, id, &all->n);
	if (all->n == (size_t)-1) {
		free(all);
		return NULL;
	}
	return all;
}

void tc_cli_who_free(struct tc_cli_who *all)
{
	if (!all)
		return;
	free(all->w);
	free(all);
}

/* The member of key in all, or NULL. */
static const struct who *find(const struct tc_cli_who *all, const char *key)
{
	struct who k;

	if (!key || strlen(key) != TC_MEMBER_KEY_LEN || !all->n)
		return NULL;
	memcpy(k.key, key, TC_MEMBER_KEY_LEN + 1);
	return bsearch(&k, all->w, all->n, sizeof(k), by_key);
}

bool tc_cli_who_listed(const struct tc_cli_who *all, const char *key, int only)
{
	const struct who *w;

	if (only == TC_WHO_ALL)
		return true;
	w = find(all, key);
	if (!w)
		return false;
	return only == TC_WHO_UNREACHED ? !w->reached : !w->confirmed;
}

/* Confirmed and counted members: those with a channel other than webhook
 * (a chat channel or a status page cannot confirm). */
static void share(const struct tc_cli_who *all, size_t *members_n, size_t *confirmed)
{
	size_t i;

	*members_n = *confirmed = 0;
	for (i = 0; i < all->n; i++) {
		if (!all->w[i].human)
			continue;
		(*members_n)++;
		*confirmed += all->w[i].confirmed;
	}
}

/* The job's response labels (from its text in the record), or NULL. */
static json_t *responses(const char *job_text)
{
	json_t *job = json_loads(job_text, 0, NULL);
	json_t *r = json_incref(json_object_get(job, "responses"));

	json_decref(job);
	if (!json_is_array(r)) {
		json_decref(r);
		return NULL;
	}
	return r;
}

json_t *tc_cli_acks(const struct tc_cfg *cfg, redisContext *c, const char *id,
		    const redisReply *rec)
{
	json_t *labels = responses(tc_cli_record_str(rec, "job")), *o, *answers = json_array(), *l;
	struct tc_cli_who *all = tc_cli_who_read(cfg, c, id);
	size_t members_n, confirmed, i;
	char k[32];

	if (!all) {
		json_decref(labels);
		json_decref(answers);
		return NULL;
	}
	share(all, &members_n, &confirmed);
	tc_cli_who_free(all);
	json_array_foreach(labels, i, l) {
		snprintf(k, sizeof(k), "response:%zu", i + 1);
		json_array_append_new(answers, json_pack("{s:O,s:I}", "label", l, "count",
							 (json_int_t)tc_cli_record_num(rec, k)));
	}
	json_decref(labels);
	o = json_pack("{s:I,s:I,s:I,s:f,s:o}",
		      "acknowledged", (json_int_t)tc_cli_record_num(rec, "acknowledged"),
		      "members", (json_int_t)members_n, "confirmed", (json_int_t)confirmed,
		      "share", members_n ? (double)confirmed / (double)members_n : 0.0,
		      "responses", answers);
	return o;
}

void tc_cli_acks_show(const json_t *o)
{
	json_t *a;
	size_t i;

	if (!o)
		return;
	printf("  confirmed  %lld of %lld member%s (%.0f%%; members reached only by webhook not counted)\n",
	       json_integer_value(json_object_get(o, "confirmed")),
	       json_integer_value(json_object_get(o, "members")),
	       json_integer_value(json_object_get(o, "members")) == 1 ? "" : "s",
	       100.0 * json_real_value(json_object_get(o, "share")));
	json_array_foreach(json_object_get(o, "responses"), i, a) {
		printf("  answer     %lld ", json_integer_value(json_object_get(a, "count")));
		tc_cli_puts(stdout, "%s\n", json_string_value(json_object_get(a, "label")));
	}
}
