/*
 * A job's family for `tocsin status` and `tocsin report`: the job and the
 * escalation rounds it led to (<id>.esc.1, ... each named by the record
 * before it, `escalation_next`), and the one way the tool reads a job's
 * delivery records (HSCAN page by page: a broadcast can be large).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

/* The record of job id (HGETALL) in *rec: 0, -1 when it has none,
 * TC_EREDIS. */
static int record(const struct tc_cfg *cfg, redisContext *c, const char *id,
		  redisReply **rec)
{
	char key[TC_KEY_MAX];

	*rec = NULL;
	if (tc_key_job(key, sizeof(key), cfg->prefix, id) < 0)
		return -1;
	*rec = redisCommand(c, "HGETALL %s", key);
	if (!*rec || (*rec)->type != REDIS_REPLY_ARRAY) {
		freeReplyObject(*rec);
		*rec = NULL;
		return TC_EREDIS;
	}
	if ((*rec)->elements == 0) {
		freeReplyObject(*rec);
		*rec = NULL;
		return -1;
	}
	return 0;
}

int tc_cli_family_read(const struct tc_cfg *cfg, redisContext *c, const char *id,
		       bool rounds, struct tc_cli_family *f)
{
	const char *next;
	int r;

	memset(f, 0, sizeof(*f));
	snprintf(f->id[0], sizeof(f->id[0]), "%s", id);
	r = record(cfg, c, id, &f->rec[0]);
	if (r < 0)
		return r;
	f->n = 1;
	/* Each round names the next; a round whose record is gone (expired
	 * apart, or never written) ends the chain. */
	while (rounds && f->n < TC_CLI_FAMILY_MAX) {
		next = tc_cli_record_str(f->rec[f->n - 1], "escalation_next");
		if (!next[0] || !tc_job_id_valid(next))
			break;
		r = record(cfg, c, next, &f->rec[f->n]);
		if (r == TC_EREDIS) {
			tc_cli_family_free(f);
			return r;
		}
		if (r < 0)
			break;
		snprintf(f->id[f->n], sizeof(f->id[0]), "%s", next);
		f->n++;
	}
	return 0;
}

void tc_cli_family_free(struct tc_cli_family *f)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		freeReplyObject(f->rec[i]);
	f->n = 0;
}

int tc_cli_family_round(const struct tc_cli_family *f, size_t i)
{
	char root[TC_LIMIT_JOB_ID + 1];

	return tc_job_round(f->id[i], root, sizeof(root));
}

int tc_cli_scan(const struct tc_cfg *cfg, redisContext *c, const char *id,
		tc_cli_dlv_fn fn, void *data)
{
	char key[TC_KEY_MAX], cursor[32] = "0";
	const redisReply *did, *text;
	redisReply *r;
	json_t *d;
	size_t i;

	if (tc_key_deliveries(key, sizeof(key), cfg->prefix, id) < 0)
		return TC_EREDIS;
	do {
		r = redisCommand(c, "HSCAN %s %s COUNT 1000", key, cursor);
		if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
		    r->element[0]->type != REDIS_REPLY_STRING ||
		    r->element[1]->type != REDIS_REPLY_ARRAY) {
			freeReplyObject(r);
			return TC_EREDIS;
		}
		snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
		for (i = 0; i + 1 < r->element[1]->elements; i += 2) {
			did = r->element[1]->element[i];
			text = r->element[1]->element[i + 1];
			d = text->type == REDIS_REPLY_STRING ?
			    json_loadb(text->str, text->len, JSON_ALLOW_NUL, NULL) : NULL;
			if (!json_is_object(d)) {
				json_decref(d);
				d = json_pack("{s:s}", "error", "unreadable record");
			}
			if (d && did->type == REDIS_REPLY_STRING)
				fn(data, did->str, did->len, d);
			json_decref(d);
		}
		freeReplyObject(r);
	} while (strcmp(cursor, "0") != 0);
	return 0;
}
