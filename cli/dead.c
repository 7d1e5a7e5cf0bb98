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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/dead.h"

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


static const char purge_help[] =
	"usage: tocsin [-c FILE] dead purge [--yes] [--json]\n"
	"Deletes every dead letter there is now (ones added meanwhile stay). Asks\n"
	"first on a terminal, unless --yes.\n";

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
const char *tc_dead_fval(const redisReply *f, const char *name, size_t *len)
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

const char *tc_dead_fstr(const redisReply *f, const char *name)
{
	const char *v = tc_dead_fval(f, name, NULL);

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
bool tc_dead_id_valid(const char *s)
{
	uint64_t ms, seq;

	return entry_id_parse(s, &ms, &seq) == 0;
}

/* Reads dead letter id. Returns 0 and the reply in *out (free with
 * freeReplyObject; the entry is (*out)->element[0]), 1 when there is none,
 * or TC_EREDIS with the reason printed. */
int tc_dead_read(redisContext *c, const char *key, const char *id, redisReply **out)
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

void tc_dead_print_json(json_t *o, size_t flags)
{
	if (!o || tc_cli_json_print(stdout, o, flags) < 0)
		printf("{}\n");
}

/* ---- list ------------------------------------------------------------------- */

/* What the reason column says: for a delivery, whom it was for first. */
static void list_row(const redisReply *e)
{
	const redisReply *f = e->element[1];
	const char *kind = tc_dead_fstr(f, "kind"), *job = tc_dead_fstr(f, "job");
	struct tc_buf why;
	size_t len;
	const char *reason = tc_dead_fval(f, "reason", &len);

	tc_buf_init(&why, TC_LIMIT_ADDRESS + 64 + 4 * DEAD_REASON_CUT);
	if (strcmp(kind, "delivery") == 0) {
		const char *rec = tc_dead_fstr(f, "record");
		json_t *d = json_loads(rec, 0, NULL);
		const char *addr = json_string_value(json_object_get(d, "address"));

		(void)tc_buf_printf(&why, "%s %s: ", tc_dead_fstr(f, "channel"), addr ? addr : "?");
		json_decref(d);
	}
	/* Only the start shows: DEAD_REASON_CUT bytes. */
	(void)tc_buf_add(&why, reason ? reason : "", len < 4 * DEAD_REASON_CUT ? len :
			 4 * DEAD_REASON_CUT);
	printf("%-20s ", e->element[0]->str);
	tc_cli_put(stdout, "%-8s ", kind[0] ? kind : "?", kind[0] ? strlen(kind) : 1, 16);
	tc_cli_put(stdout, "%-24s ", tc_dead_fstr(f, "at"), strlen(tc_dead_fstr(f, "at")), 40);
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
			tc_dead_print_json(o, JSON_COMPACT | JSON_SORT_KEYS);
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
	if (!c)
		return tc_cli_no_redis();
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
	if (!tc_dead_id_valid(id)) {
		fprintf(stderr, "tocsin dead show: not an entry id '%s' (like 1732526400000-0)\n", id);
		return TC_EXIT_USAGE;
	}
	if (!c)
		return tc_cli_no_redis();
	tc_key_dead(key, sizeof(key), cfg->prefix);
	st = tc_dead_read(c, key, id, &r);
	if (st == TC_EREDIS)
		return TC_EXIT_REDIS;
	if (st == 1) {
		fprintf(stderr, "tocsin dead show: no dead letter '%s' in %s\n", id, key);
		return TC_EXIT_FAILED;
	}
	if (json) {
		json_t *o = entry_json(r->element[0]);

		tc_dead_print_json(o, JSON_COMPACT | JSON_SORT_KEYS);
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
	if (!c)
		return tc_cli_no_redis();
	tc_key_dead(key, sizeof(key), cfg->prefix);
	if (purge_count(c, key, &n, last, sizeof(last)) < 0)
		return TC_EXIT_REDIS;
	/* DESIGN.md's `dead purge` takes no option: a script (no terminal)
	 * purges; an operator at a terminal is asked first, unless --yes. */
	if (n > 0 && !yes && isatty(STDIN_FILENO) && !confirm(n)) {
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
	{ "retry", tc_dead_retry_help, tc_dead_cmd_retry },
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
