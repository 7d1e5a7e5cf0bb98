/*
 * tocsin dead: the dead-letter stream <prefix>:dead, for the operator. It
 * holds rejected jobs (kind job: the job text as `body`, the `stream` it
 * came in, the `reason`) and deliveries whose retries ran out (kind
 * delivery: the job id, the delivery `record`, every attempt's `reason`).
 *
 * list and show read it; retry puts one entry back to work and removes it
 * in one Lua script, so a dead letter is never both retried and kept, nor
 * retried twice; purge deletes what the operator counted, not what arrived
 * after. Everything read from Redis is shown escaped: a job's text is
 * whatever a producer wrote.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli/cli.h"
#include "templates/templates.h"

#define DEAD_LIST_DEFAULT  100
#define DEAD_LIST_MAX      10000   /* entries one `dead list` shows */
#define DEAD_LIST_PAGE     100     /* entries per XRANGE: bounds one reply */
#define DEAD_REASON_CUT    100     /* bytes of a reason in the table */
#define DEAD_ENTRY_ID_MAX  41      /* "<20 digits>-<20 digits>" */

static const char list_help[] =
	"usage: tocsin [-c FILE] dead list [--count N] [--json]\n"
	"Lists dead letters, oldest first, one a line: entry id, kind (job or\n"
	"delivery), when, job, and the reason (cut; `dead show` has all of it).\n"
	"  --count N   at most N entries (default 100, at most 10000)\n"
	"  --json      a JSON array of objects with every field, as stored\n";

static const char show_help[] =
	"usage: tocsin [-c FILE] dead show ID [--json]\n"
	"Prints every field of dead letter ID; a job text or delivery record that\n"
	"is JSON is pretty-printed. --json prints one object with every field.\n";

static const char retry_help[] =
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

static const char purge_help[] =
	"usage: tocsin [-c FILE] dead purge [--yes] [--json]\n"
	"Deletes every dead letter there is now (ones added meanwhile stay). Asks\n"
	"first on a terminal; elsewhere it needs --yes.\n";

static const char dead_help[] =
	"usage: tocsin [-c FILE] dead list [--count N] [--json]\n"
	"       tocsin [-c FILE] dead show ID [--json]\n"
	"       tocsin [-c FILE] dead retry ID [--job FILE] [--json]\n"
	"       tocsin [-c FILE] dead purge [--yes] [--json]\n"
	"\n"
	"The dead letters in <prefix>:dead: jobs tocsind rejected (kind job) and\n"
	"deliveries whose retries ran out (kind delivery). `tocsin dead CMD --help`\n"
	"says more about each.\n"
	"Exit 0 success, 1 no such entry or the operation failed, 2 usage,\n"
	"3 Redis unreachable.\n";

/* ---- reading entries ----------------------------------------------------- */

/* The value of field name in a stream entry's field list, or NULL; *len
 * gets its length. */
static const char *fval(const redisReply *f, const char *name, size_t *len)
{
	size_t i;

	for (i = 0; f && f->type == REDIS_REPLY_ARRAY && i + 1 < f->elements; i += 2) {
		if (f->element[i]->type != REDIS_REPLY_STRING ||
		    f->element[i + 1]->type != REDIS_REPLY_STRING ||
		    strcmp(f->element[i]->str, name) != 0)
			continue;
		if (len)
			*len = f->element[i + 1]->len;
		return f->element[i + 1]->str;
	}
	if (len)
		*len = 0;
	return NULL;
}

static const char *fstr(const redisReply *f, const char *name)
{
	const char *v = fval(f, name, NULL);

	return v ? v : "";
}

/* Whether e is a stream entry: [id, [field, value, ...]]. */
static bool entry_ok(const redisReply *e)
{
	return e->type == REDIS_REPLY_ARRAY && e->elements == 2 &&
	       e->element[0]->type == REDIS_REPLY_STRING &&
	       e->element[1]->type == REDIS_REPLY_ARRAY;
}

/* Reads a stream entry id, "ms" or "ms-seq", each a 64-bit number.
 * Returns 0, or TC_EINVAL / TC_ELIMIT. */
static int entry_id_parse(const char *s, uint64_t *ms, uint64_t *seq)
{
	const char *dash = strchr(s, '-');
	int r;

	*seq = 0;
	r = tc_parse_uint(s, dash ? (size_t)(dash - s) : strlen(s), UINT64_MAX, ms);
	if (r == 0 && dash)
		r = tc_parse_uints(dash + 1, UINT64_MAX, seq);
	return r;
}

/* Whether s is a stream entry id: "ms" or "ms-seq". */
static bool entry_id_valid(const char *s)
{
	uint64_t ms, seq;

	return entry_id_parse(s, &ms, &seq) == 0;
}

/* Reads dead letter id. Returns 0 and the reply in *out (free with
 * freeReplyObject; the entry is (*out)->element[0]), 1 when there is none,
 * or TC_EREDIS with the reason printed. */
static int dead_read(redisContext *c, const char *key, const char *id, redisReply **out)
{
	redisReply *r = redisCommand(c, "XRANGE %s %s %s", key, id, id);

	if (!r || r->type != REDIS_REPLY_ARRAY) {
		fprintf(stderr, "tocsin dead: reading %s failed: %s\n", key,
			r && r->type == REDIS_REPLY_ERROR ? r->str : c->errstr);
		freeReplyObject(r);
		return TC_EREDIS;
	}
	if (r->elements != 1 || !entry_ok(r->element[0])) {
		freeReplyObject(r);
		return 1;
	}
	*out = r;
	return 0;
}

/* A dead letter as one JSON object: "id" and every field as stored. */
static json_t *entry_json(const redisReply *e)
{
	const redisReply *f = e->element[1];
	json_t *o = json_object();
	size_t i;

	json_object_set_new(o, "id", tc_cli_json_string(e->element[0]->str, e->element[0]->len));
	for (i = 0; i + 1 < f->elements; i += 2) {
		if (f->element[i]->type != REDIS_REPLY_STRING ||
		    f->element[i + 1]->type != REDIS_REPLY_STRING)
			continue;
		json_object_set_new(o, f->element[i]->str,
				    tc_cli_json_string(f->element[i + 1]->str, f->element[i + 1]->len));
	}
	return o;
}

static void print_json(json_t *o, size_t flags)
{
	if (!o || tc_cli_json_print(stdout, o, flags) < 0)
		printf("{}\n");
}

/* ---- list ------------------------------------------------------------------- */

/* What the reason column says: for a delivery, whom it was for first. */
static void list_row(const redisReply *e)
{
	const redisReply *f = e->element[1];
	const char *kind = fstr(f, "kind"), *job = fstr(f, "job");
	struct tc_buf why;
	size_t len;
	const char *reason = fval(f, "reason", &len);

	tc_buf_init(&why, TC_LIMIT_ADDRESS + 64 + 4 * DEAD_REASON_CUT);
	if (strcmp(kind, "delivery") == 0) {
		const char *rec = fstr(f, "record");
		json_t *d = json_loads(rec, 0, NULL);
		const char *addr = json_string_value(json_object_get(d, "address"));

		(void)tc_buf_printf(&why, "%s %s: ", fstr(f, "channel"), addr ? addr : "?");
		json_decref(d);
	}
	/* Only the start shows: DEAD_REASON_CUT bytes. */
	(void)tc_buf_add(&why, reason ? reason : "", len < 4 * DEAD_REASON_CUT ? len :
			 4 * DEAD_REASON_CUT);
	printf("%-20s ", e->element[0]->str);
	tc_cli_put(stdout, "%-8s ", kind[0] ? kind : "?", kind[0] ? strlen(kind) : 1, 16);
	tc_cli_put(stdout, "%-24s ", fstr(f, "at"), strlen(fstr(f, "at")), 40);
	tc_cli_put(stdout, "%-24s ", job[0] ? job : "-", job[0] ? strlen(job) : 1, 0);
	tc_cli_put(stdout, "%s\n", why.data, why.len, DEAD_REASON_CUT);
	tc_buf_release(&why);
}

/* Reads --count N: 1..DEAD_LIST_MAX. */
static int parse_count(const char *s, long *out)
{
	uint64_t v;

	if (tc_parse_uints(s, DEAD_LIST_MAX, &v) < 0 || v < 1) {
		fprintf(stderr, "tocsin dead list: --count '%s': expected 1..%d\n", s,
			DEAD_LIST_MAX);
		return -1;
	}
	*out = (long)v;
	return 0;
}

/* Prints up to count entries, oldest first, a page at a time. Returns the
 * number shown, or TC_EREDIS. */
static long list_pages(redisContext *c, const char *key, long count, bool json)
{
	char from[DEAD_ENTRY_ID_MAX + 2] = "-";
	long shown = 0, want;
	redisReply *r;
	size_t i;

	while (shown < count) {
		want = count - shown < DEAD_LIST_PAGE ? count - shown : DEAD_LIST_PAGE;
		r = redisCommand(c, "XRANGE %s %s + COUNT %ld", key, from, want);
		if (!r || r->type != REDIS_REPLY_ARRAY) {
			fprintf(stderr, "tocsin dead list: reading %s failed: %s\n", key,
				r && r->type == REDIS_REPLY_ERROR ? r->str : c->errstr);
			freeReplyObject(r);
			return TC_EREDIS;
		}
		for (i = 0; i < r->elements; i++) {
			const redisReply *e = r->element[i];
			json_t *o;

			if (!entry_ok(e))
				continue;
			snprintf(from, sizeof(from), "(%s", e->element[0]->str);
			if (!json) {
				list_row(e);
				shown++;
				continue;
			}
			o = entry_json(e);
			printf("%s", shown ? "," : "");
			print_json(o, JSON_COMPACT | JSON_SORT_KEYS);
			json_decref(o);
			shown++;
		}
		i = r->elements;
		freeReplyObject(r);
		if ((long)i < want)
			break;
	}
	return shown;
}

static int cmd_list(const struct tc_cfg *cfg, redisContext *c, int argc, char **argv)
{
	char key[TC_KEY_MAX];
	long count = DEAD_LIST_DEFAULT, shown;
	long long total;
	bool json = false;
	redisReply *r;
	int i;

	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			json = true;
		} else if (strcmp(argv[i], "--count") == 0 && i + 1 < argc) {
			if (parse_count(argv[++i], &count) < 0)
				return TC_EXIT_USAGE;
		} else {
			fputs(list_help, stderr);
			return TC_EXIT_USAGE;
		}
	}
	tc_key_dead(key, sizeof(key), cfg->prefix);
	r = redisCommand(c, "XLEN %s", key);
	if (!r || r->type != REDIS_REPLY_INTEGER) {
		fprintf(stderr, "tocsin dead list: XLEN %s failed: %s\n", key,
			r && r->type == REDIS_REPLY_ERROR ? r->str : c->errstr);
		freeReplyObject(r);
		return TC_EXIT_REDIS;
	}
	total = r->integer;
	freeReplyObject(r);
	if (json)
		printf("[\n");
	else if (total == 0)
		printf("no dead letters in %s\n", key);
	else
		printf("%-20s %-8s %-24s %-24s %s\n", "ID", "KIND", "AT", "JOB", "REASON");
	shown = total ? list_pages(c, key, count, json) : 0;
	if (shown == TC_EREDIS)
		return TC_EXIT_REDIS;
	if (json)
		printf("]\n");
	else if (shown < total)
		printf("(%ld of %lld, oldest first: --count N shows more)\n", shown, total);
	return TC_EXIT_OK;
}

/* ---- show ------------------------------------------------------------------- */

/* Prints a field that may hold JSON: pretty-printed under its name when it
 * parses, else escaped on one line. */
static void show_text(const char *name, const char *v, size_t len)
{
	json_t *j = json_loadb(v, len, 0, NULL);
	char *text = json_is_object(j) || json_is_array(j) ?
		     json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
	const char *p, *nl;

	json_decref(j);
	if (!text) {
		printf("  %-10s ", name);
		tc_cli_put(stdout, "%s\n", v, len, 0);
		return;
	}
	printf("  %-10s (JSON)\n", name);
	for (p = text; *p; p = nl + 1) {
		nl = strchr(p, '\n');
		if (!nl)
			nl = p + strlen(p);
		tc_cli_put(stdout, "    %s\n", p, (size_t)(nl - p), 0);
		if (!*nl)
			break;
	}
	free(text);
}

static int cmd_show(const struct tc_cfg *cfg, redisContext *c, int argc, char **argv)
{
	const char *id = NULL;
	char key[TC_KEY_MAX];
	bool json = false, bad = false;
	const redisReply *f;
	redisReply *r = NULL;
	size_t i;
	int st;

	bad = tc_cli_one_arg(argc, argv, 2, &id, &json) < 0;
	if (!id || bad) {
		fputs(show_help, stderr);
		return TC_EXIT_USAGE;
	}
	if (!entry_id_valid(id)) {
		fprintf(stderr, "tocsin dead show: not an entry id '%s' (like 1732526400000-0)\n", id);
		return TC_EXIT_USAGE;
	}
	tc_key_dead(key, sizeof(key), cfg->prefix);
	st = dead_read(c, key, id, &r);
	if (st == TC_EREDIS)
		return TC_EXIT_REDIS;
	if (st == 1) {
		fprintf(stderr, "tocsin dead show: no dead letter '%s' in %s\n", id, key);
		return TC_EXIT_FAILED;
	}
	if (json) {
		json_t *o = entry_json(r->element[0]);

		print_json(o, JSON_COMPACT | JSON_SORT_KEYS);
		json_decref(o);
		freeReplyObject(r);
		return TC_EXIT_OK;
	}
	f = r->element[0]->element[1];
	printf("dead letter %s\n", r->element[0]->element[0]->str);
	for (i = 0; i + 1 < f->elements; i += 2) {
		const redisReply *k = f->element[i], *v = f->element[i + 1];

		if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
			continue;
		if (strcmp(k->str, "body") == 0 || strcmp(k->str, "record") == 0) {
			show_text(k->str, v->str, v->len);
			continue;
		}
		tc_cli_put(stdout, "  %-10s ", k->str, k->len, 64);
		tc_cli_put(stdout, "%s\n", v->str, v->len, 0);
	}
	freeReplyObject(r);
	return TC_EXIT_OK;
}

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

		print_json(o, JSON_COMPACT | JSON_SORT_KEYS);
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
 * a duplicate and not send it. Returns 0 when it has none, else the exit
 * code with the reason printed. */
static int retry_fresh(const struct tc_cfg *cfg, redisContext *c, const struct retried *t)
{
	char key[TC_KEY_MAX];
	redisReply *r;
	int code = TC_EXIT_OK;

	if (!t->job[0] || tc_key_job(key, sizeof(key), cfg->prefix, t->job) < 0)
		return TC_EXIT_OK;
	r = redisCommand(c, "HGET %s state", key);
	if (!r || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_NIL)) {
		fprintf(stderr, "tocsin dead retry: reading %s failed: %s\n", key,
			r && r->type == REDIS_REPLY_ERROR ? r->str : c->errstr);
		code = TC_EXIT_REDIS;
	} else if (r->type == REDIS_REPLY_STRING) {
		fprintf(stderr, "tocsin dead retry: %s: job %s was already accepted ",
			t->dead, t->job);
		tc_cli_put(stderr, "(state %s): tocsind would not send it again; give it "
			   "another id with --job FILE\n", r->str, r->len, 64);
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

	text = fval(f, "body", &len);
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
		sev = tc_severity_parse(fstr(f, "stream"));
	if (sev < 0) {
		fprintf(stderr, "tocsin dead retry: %s: ", t->dead);
		tc_cli_puts(stderr, "unknown stream '%s' and the job names no severity\n",
			    fstr(f, "stream"));
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
	const char *job = fstr(f, "job");
	json_t *rec = json_loads(fstr(f, "record"), 0, NULL);
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

static int cmd_retry(const struct tc_cfg *cfg, redisContext *c, int argc, char **argv)
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
		fputs(retry_help, stderr);
		return TC_EXIT_USAGE;
	}
	if (!entry_id_valid(t.dead)) {
		fprintf(stderr, "tocsin dead retry: not an entry id '%s' (like 1732526400000-0)\n",
			t.dead);
		return TC_EXIT_USAGE;
	}
	tc_key_dead(key, sizeof(key), cfg->prefix);
	st = dead_read(c, key, t.dead, &r);
	if (st == TC_EREDIS)
		return TC_EXIT_REDIS;
	if (st == 1) {
		fprintf(stderr, "tocsin dead retry: no dead letter '%s' in %s\n", t.dead, key);
		return TC_EXIT_FAILED;
	}
	f = r->element[0]->element[1];
	t.kind = fstr(f, "kind");
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

/* ---- purge ------------------------------------------------------------------ */

/* The smallest entry id after id ("ms-seq"), for XTRIM MINID: everything
 * up to and including id goes. */
static int id_after(const char *id, char *out, size_t n)
{
	uint64_t ms, seq;

	if (entry_id_parse(id, &ms, &seq) < 0 || (ms == UINT64_MAX && seq == UINT64_MAX))
		return -1; /* nothing can come after the largest id */
	if (seq == UINT64_MAX)
		snprintf(out, n, "%llu-0", (unsigned long long)ms + 1);
	else
		snprintf(out, n, "%llu-%llu", (unsigned long long)ms,
			 (unsigned long long)seq + 1);
	return 0;
}

/* Asks on the terminal. */
static bool confirm(long long n)
{
	char line[16];

	fprintf(stderr, "purge %lld dead letter%s? [y/N] ", n, n == 1 ? "" : "s");
	fflush(stderr);
	if (!fgets(line, sizeof(line), stdin))
		return false;
	line[strcspn(line, "\r\n")] = '\0';
	return strcasecmp(line, "y") == 0 || strcasecmp(line, "yes") == 0;
}

/* The newest dead letter's id into last ("" when there is none) and the
 * count into *n. Returns 0 or TC_EREDIS with the reason printed. */
static int purge_count(redisContext *c, const char *key, long long *n, char *last,
		       size_t ln)
{
	redisReply *r = redisCommand(c, "XLEN %s", key), *rev;

	if (!r || r->type != REDIS_REPLY_INTEGER) {
		fprintf(stderr, "tocsin dead purge: XLEN %s failed: %s\n", key,
			r && r->type == REDIS_REPLY_ERROR ? r->str : c->errstr);
		freeReplyObject(r);
		return TC_EREDIS;
	}
	*n = r->integer;
	freeReplyObject(r);
	last[0] = '\0';
	rev = redisCommand(c, "XREVRANGE %s + - COUNT 1", key);
	if (!rev || rev->type != REDIS_REPLY_ARRAY) {
		fprintf(stderr, "tocsin dead purge: reading %s failed: %s\n", key,
			rev && rev->type == REDIS_REPLY_ERROR ? rev->str : c->errstr);
		freeReplyObject(rev);
		return TC_EREDIS;
	}
	if (rev->elements == 1 && entry_ok(rev->element[0]))
		snprintf(last, ln, "%s", rev->element[0]->element[0]->str);
	freeReplyObject(rev);
	return 0;
}

static int cmd_purge(const struct tc_cfg *cfg, redisContext *c, int argc, char **argv)
{
	char key[TC_KEY_MAX], last[64], after[64];
	bool yes = false, json = false;
	long long n, purged;
	redisReply *r;
	int i;

	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--yes") == 0) {
			yes = true;
		} else if (strcmp(argv[i], "--json") == 0) {
			json = true;
		} else {
			fputs(purge_help, stderr);
			return TC_EXIT_USAGE;
		}
	}
	tc_key_dead(key, sizeof(key), cfg->prefix);
	if (purge_count(c, key, &n, last, sizeof(last)) < 0)
		return TC_EXIT_REDIS;
	if (n > 0 && !yes && !isatty(STDIN_FILENO)) {
		fprintf(stderr, "tocsin dead purge: %lld dead letter%s in %s: use --yes to "
			"delete them\n", n, n == 1 ? "" : "s", key);
		return TC_EXIT_USAGE;
	}
	if (n > 0 && !yes && !confirm(n)) {
		fprintf(stderr, "tocsin dead purge: nothing deleted\n");
		return TC_EXIT_FAILED;
	}
	purged = 0;
	if (n > 0 && last[0] && id_after(last, after, sizeof(after)) == 0) {
		r = redisCommand(c, "XTRIM %s MINID %s", key, after);
		if (!r || r->type != REDIS_REPLY_INTEGER) {
			fprintf(stderr, "tocsin dead purge: XTRIM %s failed: %s\n", key,
				r && r->type == REDIS_REPLY_ERROR ? r->str : c->errstr);
			freeReplyObject(r);
			return TC_EXIT_REDIS;
		}
		purged = r->integer;
		freeReplyObject(r);
	}
	if (json)
		printf("{\"purged\":%lld}\n", purged);
	else
		printf("purged %lld dead letter%s from %s\n", purged, purged == 1 ? "" : "s", key);
	return TC_EXIT_OK;
}

/* ---- the command ------------------------------------------------------------ */

static const struct {
	const char *name;
	const char *help;
	int (*run)(const struct tc_cfg *cfg, redisContext *c, int argc, char **argv);
} subs[] = {
	{ "list", list_help, cmd_list },
	{ "show", show_help, cmd_show },
	{ "retry", retry_help, cmd_retry },
	{ "purge", purge_help, cmd_purge },
};

int tc_cli_dead(const struct tc_cfg *cfg, redisContext *c, int argc, char **argv)
{
	size_t i;

	for (i = 0; argc >= 2 && i < sizeof(subs) / sizeof(subs[0]); i++) {
		if (strcmp(argv[1], subs[i].name) != 0)
			continue;
		if (!cfg) {
			fputs(subs[i].help, stdout);
			return TC_EXIT_OK;
		}
		return subs[i].run(cfg, c, argc, argv);
	}
	if (!cfg) {
		fputs(dead_help, stdout);
		return TC_EXIT_OK;
	}
	if (argc >= 2)
		fprintf(stderr, "tocsin dead: unknown command '%s'\n", argv[1]);
	fputs(dead_help, stderr);
	return TC_EXIT_USAGE;
}
