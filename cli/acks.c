/*
 * Acknowledgements in `tocsin status` and `tocsin report`: who confirmed,
 * with which answer, and the members to chase (--unreached,
 * --unconfirmed).
 *
 * A member is recognised across channels by the member_key of their
 * delivery records (common/delivery.c). The share of members who
 * confirmed is counted in Redis, in the family's root record (`members`,
 * `confirmed`: see common/scripts.c), as escalation's stop_at reads it.
 * To list whom to chase, the deliveries of the job and its rounds are
 * read (tc_cli_scan) and folded per member in a sorted array: a CLI read,
 * never tocsind's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

/* One member as the deliveries tell. */
struct who {
	char key[TC_MEMBER_KEY_LEN + 1];
	bool reached;     /* a delivery sent, delivered or acknowledged */
	bool confirmed;   /* acknowledged */
};

static int by_key(const void *a, const void *b)
{
	return strcmp(((const struct who *)a)->key, ((const struct who *)b)->key);
}

/* Adds delivery d's member to the fold (tc_cli_dlv_fn). */
static void add_member(void *data, const char *did, size_t len, json_t *d)
{
	struct tc_cli_who *all = data;
	const char *mk = json_string_value(json_object_get(d, "member_key"));
	const char *ch = json_string_value(json_object_get(d, "channel"));
	const char *st = json_string_value(json_object_get(d, "state"));
	int s = tc_dstate_parse(st ? st : "");
	struct who *grown;

	(void)did;
	(void)len;
	if (!mk || strlen(mk) != TC_MEMBER_KEY_LEN || !ch || !all->w)
		return;
	if (all->n == all->cap) {
		grown = realloc(all->w, 2 * all->cap * sizeof(*all->w));
		if (!grown) {
			free(all->w);
			all->w = NULL; /* tc_cli_who_read says out of memory */
			return;
		}
		all->w = grown;
		all->cap *= 2;
	}
	memcpy(all->w[all->n].key, mk, TC_MEMBER_KEY_LEN + 1);
	all->w[all->n].confirmed = s == TC_DS_ACKNOWLEDGED;
	all->w[all->n].reached = s == TC_DS_SENT || s == TC_DS_DELIVERED ||
				 s == TC_DS_ACKNOWLEDGED;
	all->n++;
}

struct tc_cli_who *tc_cli_who_read(const struct tc_cfg *cfg, redisContext *c,
				   const struct tc_cli_family *f)
{
	struct tc_cli_who *all = calloc(1, sizeof(*all));
	size_t i, k;

	if (!all)
		return NULL;
	all->cap = 1024;
	all->w = malloc(all->cap * sizeof(*all->w));
	for (i = 0; i < f->n && all->w; i++)
		if (tc_cli_scan(cfg, c, f->id[i], add_member, all) < 0)
			break;
	if (!all->w || i < f->n) {
		tc_cli_who_free(all);
		return NULL;
	}
	if (all->n)
		qsort(all->w, all->n, sizeof(*all->w), by_key);
	/* fold: one entry per member, over every job of the family */
	for (i = 0, k = 0; i < all->n; i++) {
		if (k && strcmp(all->w[k - 1].key, all->w[i].key) == 0) {
			all->w[k - 1].reached |= all->w[i].reached;
			all->w[k - 1].confirmed |= all->w[i].confirmed;
		} else {
			all->w[k++] = all->w[i];
		}
	}
	all->n = k;
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

/* The family's root record's count name: the root's own when f is read
 * from a round (tocsin status JOB.esc.1). */
static long long root_num(const struct tc_cfg *cfg, redisContext *c,
			  const struct tc_cli_family *f, const char *name, bool *failed)
{
	char root[TC_LIMIT_JOB_ID + 1], key[TC_KEY_MAX];
	long long n = 0;
	redisReply *r;
	int64_t v;

	if (!tc_job_round(f->id[0], root, sizeof(root)))
		return tc_cli_record_num(f->rec[0], name);
	if (tc_key_job(key, sizeof(key), cfg->prefix, root) < 0)
		return 0;
	r = redisCommand(c, "HGET %s %s", key, name);
	if (!r || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_NIL))
		*failed = true;
	else if (r->type == REDIS_REPLY_STRING &&
		 tc_parse_int(r->str, r->len, 0, INT64_MAX, &v) == 0)
		n = v;
	freeReplyObject(r);
	return n;
}

json_t *tc_cli_acks(const struct tc_cfg *cfg, redisContext *c,
		    const struct tc_cli_family *f)
{
	json_t *labels = responses(tc_cli_record_str(f->rec[0], "job"));
	json_t *answers = json_array(), *l;
	long long members_n, confirmed, acked = 0, count;
	bool failed = false;
	size_t i, k;
	char name[32];

	members_n = root_num(cfg, c, f, "members", &failed);
	confirmed = root_num(cfg, c, f, "confirmed", &failed);
	if (failed) {
		json_decref(labels);
		json_decref(answers);
		return NULL;
	}
	for (k = 0; k < f->n; k++)
		acked += tc_cli_record_num(f->rec[k], "acknowledged");
	json_array_foreach(labels, i, l) {
		snprintf(name, sizeof(name), "response:%zu", i + 1);
		for (k = 0, count = 0; k < f->n; k++)
			count += tc_cli_record_num(f->rec[k], name);
		json_array_append_new(answers, json_pack("{s:O,s:I}", "label", l, "count",
							 (json_int_t)count));
	}
	json_decref(labels);
	return json_pack("{s:I,s:I,s:I,s:f,s:o}", "acknowledged", (json_int_t)acked,
			 "members", (json_int_t)members_n, "confirmed", (json_int_t)confirmed,
			 "share", members_n > 0 ? (double)confirmed / (double)members_n : 0.0,
			 "responses", answers);
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
