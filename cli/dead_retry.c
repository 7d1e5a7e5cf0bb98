/*
 * tocsin dead retry: puts a dead letter back to work. A rejected job is
 * queued again (its stored text, or a corrected one with --job FILE), a
 * delivery whose retries ran out is re-sent as a new one-recipient job
 * <id>.retry.<dead id>; either is checked first as tocsind will, and the
 * dead letter is removed in the same step as the new entry is written.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/dead.h"

const char tc_dead_retry_help[] =
	"usage: tocsin [-c FILE] dead retry ID [--job FILE] [--json]\n"
	"Puts dead letter ID back to work and removes it, in one step:\n"
	"  kind job       writes the stored job text again to <prefix>:jobs:<stream>\n"
	"                 and prints the new entry. A job that is still invalid is\n"
	"                 refused: fix it (`dead show ID` prints it) and give the\n"
	"                 corrected text with --job FILE.\n"
	"  kind delivery  writes a new job that re-sends just that delivery: the\n"
	"                 original job's template, vars, incident and severity, one\n"
	"                 recipient on one channel, id <job>.retry.<ID>. Prints it.\n"
	"  --job FILE     (kind job) the corrected job text, checked before it is sent\n"
	"  --json         machine-readable output\n";

/* ---- retry ------------------------------------------------------------------ */

/* Reads what a job says of itself, before it is checked: its id and its
 * severity (each "" when absent or not a string that fits). */
static void job_peek(const char *text, size_t len, char *id, size_t idn, char *sev,
		     size_t sevn)
{
	json_t *j = json_loadb(text, len, 0, NULL);
	const char *v;

	id[0] = sev[0] = '\0';
	v = json_string_value(json_object_get(j, "id"));
	if (v && strlen(v) < idn)
		snprintf(id, idn, "%s", v);
	v = json_string_value(json_object_get(j, "severity"));
	if (v && strlen(v) < sevn)
		snprintf(sev, sevn, "%s", v);
	json_decref(j);
}

/* Reads the corrected job text of --job: at most TC_LIMIT_JOB_BYTES.
 * Returns a new string (free with free) and its length, or NULL with the
 * reason printed. */
static char *read_job_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *text, err[128];
	size_t n;

	if (!f) {
		fprintf(stderr, "tocsin dead retry: --job '%s': %s\n", path,
			strerror_r(errno, err, sizeof(err)));
		return NULL;
	}
	text = malloc(TC_LIMIT_JOB_BYTES + 2);
	n = text ? fread(text, 1, TC_LIMIT_JOB_BYTES + 1, f) : 0;
	if (text && ferror(f)) {
		fprintf(stderr, "tocsin dead retry: --job '%s': read error\n", path);
		free(text);
		text = NULL;
	} else if (text && n > TC_LIMIT_JOB_BYTES) {
		fprintf(stderr, "tocsin dead retry: --job '%s': more than the limit of %u bytes\n",
			path, TC_LIMIT_JOB_BYTES);
		free(text);
		text = NULL;
	}
	fclose(f);
	if (text) {
		text[n] = '\0';
		*len = n;
	}
	return text;
}

/* Writes text to the jobs stream of sev and removes dead letter id, in one
 * step. Returns 0 with the new entry id in entry, 1 when the dead letter
 * is gone, TC_EREDIS with the reason printed. */
static int requeue(const struct tc_cfg *cfg, redisContext *c, const char *id,
		   enum tc_severity sev, const char *text, size_t len, char *entry,
		   size_t n)
{
	char k_dead[TC_KEY_MAX], k_jobs[TC_KEY_MAX];
	const char *argv[7];
	size_t lens[7];
	redisReply *r;
	int i;

	tc_key_dead(k_dead, sizeof(k_dead), cfg->prefix);
	tc_key_jobs(k_jobs, sizeof(k_jobs), cfg->prefix, sev);
	argv[0] = "EVAL";
	argv[1] = tc_lua_requeue;
	argv[2] = "2";
	argv[3] = k_dead;
	argv[4] = k_jobs;
	argv[5] = id;
	argv[6] = text;
	for (i = 0; i < 6; i++)
		lens[i] = strlen(argv[i]);
	lens[6] = len;
	r = redisCommandArgv(c, 7, argv, lens);
	if (!r || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_NIL)) {
		fprintf(stderr, "tocsin dead retry: writing to %s failed: %s\n", k_jobs,
			r && r->type == REDIS_REPLY_ERROR ? r->str : c->errstr);
		freeReplyObject(r);
		return TC_EREDIS;
	}
	if (r->type == REDIS_REPLY_NIL) {
		freeReplyObject(r);
		return 1;
	}
	snprintf(entry, n, "%s", r->str);
	freeReplyObject(r);
	return 0;
}

/* What retry did, for people or programs. */
struct retried {
	const char *dead, *kind, *job;
	char stream[TC_KEY_MAX], entry[64];
	char default_id[96];        /* "<severity>-<entry>", for a job without id */
};

static void retry_report(const struct retried *t, bool json)
{
	if (json) {
		json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s}", "dead", t->dead,
				      "kind", t->kind, "job", t->job, "stream", t->stream,
				      "entry", t->entry);

		tc_dead_print_json(o, JSON_COMPACT | JSON_SORT_KEYS);
		json_decref(o);
	} else if (strcmp(t->kind, "job") == 0) {
		printf("dead letter %s: job %s queued again on %s (entry %s)\n", t->dead,
		       t->job, t->stream, t->entry);
	} else {
		printf("dead letter %s: delivery re-sent as job %s on %s (entry %s)\n",
		       t->dead, t->job, t->stream, t->entry);
	}
}

/* Whether job id already has a record: tocsind would take the retry for
 * a duplicate and not send it (but for the record of a job refused over a
 * budget: nothing of it was sent, and the retry is counted again).
 * Returns 0 when it has none, else the exit code with the reason printed. */
static int retry_fresh(const struct tc_cfg *cfg, redisContext *c, const struct retried *t)
{
	char key[TC_KEY_MAX];
	redisReply *r;
	int code = TC_EXIT_OK;

	if (!t->job[0] || tc_key_job(key, sizeof(key), cfg->prefix, t->job) < 0)
		return TC_EXIT_OK;
	r = redisCommand(c, "HMGET %s state refused", key);
	if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    (r->element[0]->type != REDIS_REPLY_STRING &&
	     r->element[0]->type != REDIS_REPLY_NIL)) {
		fprintf(stderr, "tocsin dead retry: reading %s failed: %s\n", key,
			r && r->type == REDIS_REPLY_ERROR ? r->str : c->errstr);
		code = TC_EXIT_REDIS;
	} else if (r->element[0]->type == REDIS_REPLY_STRING &&
		   r->element[1]->type == REDIS_REPLY_NIL) {
		fprintf(stderr, "tocsin dead retry: %s: job %s was already accepted ",
			t->dead, t->job);
		tc_cli_put(stderr, "(state %s): tocsind would not send it again; give it "
			   "another id with --job FILE\n", r->element[0]->str,
			   r->element[0]->len, 64);
		code = TC_EXIT_FAILED;
	}
	freeReplyObject(r);
	return code;
}

/* Checks text, writes it, reports. Returns the exit code. */
static int retry_send(const struct tc_cfg *cfg, redisContext *c, struct retried *t,
		      enum tc_severity sev, const char *text, size_t len, bool json)
{
	char why[1200];
	int r;

	if (tc_cli_job_check(cfg, "dead retry", text, len, sev, why, sizeof(why)) < 0) {
		fprintf(stderr, "tocsin dead retry: %s: ", t->dead);
		tc_cli_puts(stderr, "the job is invalid: %s\n", why);
		if (strcmp(t->kind, "job") == 0)
			fprintf(stderr, "tocsin dead retry: fix it (tocsin dead show %s prints it) "
				"and give it with --job FILE\n", t->dead);
		return TC_EXIT_FAILED;
	}
	r = retry_fresh(cfg, c, t);
	if (r != TC_EXIT_OK)
		return r;
	r = requeue(cfg, c, t->dead, sev, text, len, t->entry, sizeof(t->entry));
	if (r == TC_EREDIS)
		return TC_EXIT_REDIS;
	if (r == 1) {
		fprintf(stderr, "tocsin dead retry: dead letter %s is gone (retried or purged "
			"meanwhile): nothing sent\n", t->dead);
		return TC_EXIT_FAILED;
	}
	tc_key_jobs(t->stream, sizeof(t->stream), cfg->prefix, sev);
	if (!t->job[0]) {
		/* a job without an id is named by its stream and entry */
		(void)tc_job_default_id(sev, t->entry, t->default_id, sizeof(t->default_id));
		t->job = t->default_id;
	}
	retry_report(t, json);
	return TC_EXIT_OK;
}

/* Retries a rejected job: its stored text, or the corrected one of FILE. */
static int retry_job(const struct tc_cfg *cfg, redisContext *c, struct retried *t,
		     const redisReply *f, const char *file, bool json)
{
	char id[TC_LIMIT_JOB_ID + 2], sevname[16];
	const char *text;
	char *owned = NULL;
	size_t len;
	int sev, r;

	text = tc_dead_fval(f, "body", &len);
	if (file) {
		owned = read_job_file(file, &len);
		if (!owned)
			return TC_EXIT_FAILED;
		text = owned;
	}
	if (!text) {
		fprintf(stderr, "tocsin dead retry: %s: no job text kept: give it with --job FILE\n",
			t->dead);
		return TC_EXIT_FAILED;
	}
	job_peek(text, len, id, sizeof(id), sevname, sizeof(sevname));
	sev = tc_severity_parse(sevname);
	if (sev < 0)
		sev = tc_severity_parse(tc_dead_fstr(f, "stream"));
	if (sev < 0) {
		fprintf(stderr, "tocsin dead retry: %s: ", t->dead);
		tc_cli_puts(stderr, "unknown stream '%s' and the job names no severity\n",
			    tc_dead_fstr(f, "stream"));
		free(owned);
		return TC_EXIT_FAILED;
	}
	t->job = id;
	r = retry_send(cfg, c, t, (enum tc_severity)sev, text, len, json);
	free(owned);
	return r;
}

/* The id of the job that re-sends a delivery: "<job>.retry.<dead id>".
 * When that passes TC_LIMIT_JOB_ID the job id is cut, and 12 hex digits of
 * the delivery id (SHA-256 of job, channel, address) keep it traceable.
 * out has TC_LIMIT_JOB_ID + 1 bytes. */
static void retry_id(const char *job, const char *dead, enum tc_channel ch,
		     const char *address, char *out, size_t n)
{
	char h[TC_DELIVERY_ID_LEN + 1];
	size_t tail = strlen(".retry.") + strlen(dead), keep;

	if (strlen(job) + tail <= TC_LIMIT_JOB_ID) {
		snprintf(out, n, "%s.retry.%s", job, dead);
		return;
	}
	tc_delivery_id(job, ch, address, h);
	keep = TC_LIMIT_JOB_ID - tail - 13;
	snprintf(out, n, "%.*s.%.12s.retry.%s", (int)keep, job, h, dead);
}

/* The recipient of a delivery record: its member on its channel only. */
static json_t *retry_recipient(json_t *rec, enum tc_channel ch)
{
	static const char *const field[TC_CH_COUNT] = { "email", "phone", "webhook" };
	const char *addr = json_string_value(json_object_get(rec, "address"));
	const char *name = json_string_value(json_object_get(rec, "member"));

	if (!addr || !addr[0])
		return NULL;
	return json_pack("{s:s, s:s, s:[s]}", "name", name && name[0] ? name : addr,
			 field[ch], addr, "channels", tc_channel_name(ch));
}

/* Builds the job that re-sends one dead delivery from the original job's
 * text (kept in its record). Returns the new text (free with free), or
 * NULL with why filled. */
static char *retry_build(const char *orig, size_t len, json_t *rec, const char *job,
			 const char *dead, const char *sev, char *id, char *why, size_t n)
{
	json_t *j = json_loadb(orig, len, 0, NULL), *to;
	const char *chname = json_string_value(json_object_get(rec, "channel"));
	int ch = chname ? tc_channel_parse(chname) : -1;
	char *text = NULL;

	if (!json_is_object(j)) {
		snprintf(why, n, "the job text in the record of %s is not a JSON object", job);
		goto out;
	}
	to = ch >= 0 ? retry_recipient(rec, (enum tc_channel)ch) : NULL;
	if (!to) {
		snprintf(why, n, "the delivery record has no channel and address");
		goto out;
	}
	retry_id(job, dead, (enum tc_channel)ch,
		 json_string_value(json_object_get(rec, "address")), id, TC_LIMIT_JOB_ID + 1);
	json_object_del(j, "groups");
	json_object_del(j, "send_at");
	json_object_del(j, "expires_at");
	json_object_set_new(j, "recipients", json_pack("[o]", to));
	json_object_set_new(j, "channels", json_pack("[s]", tc_channel_name(ch)));
	json_object_set_new(j, "id", json_string(id));
	json_object_set_new(j, "severity", json_string(sev));
	text = json_dumps(j, JSON_COMPACT);
	if (!text)
		snprintf(why, n, "out of memory");
out:
	json_decref(j);
	return text;
}

/* Retries a delivery whose attempts ran out, as a new one-recipient job. */
static int retry_delivery(const struct tc_cfg *cfg, redisContext *c, struct retried *t,
			  const redisReply *f, bool json)
{
	char key[TC_KEY_MAX], id[TC_LIMIT_JOB_ID + 1], why[512];
	const char *job = tc_dead_fstr(f, "job");
	json_t *rec = json_loads(tc_dead_fstr(f, "record"), 0, NULL);
	redisReply *r = NULL;
	char *text = NULL;
	int sev, code = TC_EXIT_FAILED;

	if (!tc_job_id_valid(job) || tc_key_job(key, sizeof(key), cfg->prefix, job) < 0) {
		fprintf(stderr, "tocsin dead retry: %s: no valid job id in the dead letter\n",
			t->dead);
		goto out;
	}
	r = redisCommand(c, "HMGET %s job severity", key);
	if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
		fprintf(stderr, "tocsin dead retry: reading %s failed: %s\n", key,
			r && r->type == REDIS_REPLY_ERROR ? r->str : c->errstr);
		code = TC_EXIT_REDIS;
		goto out;
	}
	sev = r->element[1]->type == REDIS_REPLY_STRING ?
	      tc_severity_parse(r->element[1]->str) : -1;
	if (r->element[0]->type != REDIS_REPLY_STRING || sev < 0) {
		fprintf(stderr, "tocsin dead retry: %s: the record of job %s is gone or keeps "
			"no job text: cannot rebuild the delivery\n", t->dead, job);
		goto out;
	}
	text = retry_build(r->element[0]->str, r->element[0]->len, rec, job, t->dead,
			   tc_severity_name((enum tc_severity)sev), id, why, sizeof(why));
	if (!text) {
		fprintf(stderr, "tocsin dead retry: %s: %s\n", t->dead, why);
		goto out;
	}
	t->job = id;
	code = retry_send(cfg, c, t, (enum tc_severity)sev, text, strlen(text), json);
out:
	free(text);
	freeReplyObject(r);
	json_decref(rec);
	return code;
}

int tc_dead_cmd_retry(const struct tc_cfg *cfg, redisContext *c, int argc, char **argv)
{
	struct retried t = { 0 };
	const char *file = NULL;
	char key[TC_KEY_MAX];
	bool json = false, bad = false;
	redisReply *r = NULL;
	const redisReply *f;
	int i, st;

	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = true;
		else if (strcmp(argv[i], "--job") == 0 && i + 1 < argc && !file)
			file = argv[++i];
		else if (argv[i][0] != '-' && !t.dead)
			t.dead = argv[i];
		else
			bad = true;
	}
	if (!t.dead || bad) {
		fputs(tc_dead_retry_help, stderr);
		return TC_EXIT_USAGE;
	}
	if (!tc_dead_id_valid(t.dead)) {
		fprintf(stderr, "tocsin dead retry: not an entry id '%s' (like 1732526400000-0)\n",
			t.dead);
		return TC_EXIT_USAGE;
	}
	if (!c)
		return tc_cli_no_redis();
	tc_key_dead(key, sizeof(key), cfg->prefix);
	st = tc_dead_read(c, key, t.dead, &r);
	if (st == TC_EREDIS)
		return TC_EXIT_REDIS;
	if (st == 1) {
		fprintf(stderr, "tocsin dead retry: no dead letter '%s' in %s\n", t.dead, key);
		return TC_EXIT_FAILED;
	}
	f = r->element[0]->element[1];
	t.kind = tc_dead_fstr(f, "kind");
	if (strcmp(t.kind, "job") == 0) {
		st = retry_job(cfg, c, &t, f, file, json);
	} else if (strcmp(t.kind, "delivery") == 0 && file) {
		fprintf(stderr, "tocsin dead retry: --job is for dead letters of kind job; "
			"%s is a delivery\n", t.dead);
		st = TC_EXIT_USAGE;
	} else if (strcmp(t.kind, "delivery") == 0) {
		st = retry_delivery(cfg, c, &t, f, json);
	} else {
		fprintf(stderr, "tocsin dead retry: %s: ", t.dead);
		tc_cli_puts(stderr, "unknown kind '%s'\n", t.kind);
		st = TC_EXIT_FAILED;
	}
	freeReplyObject(r);
	return st;
}

