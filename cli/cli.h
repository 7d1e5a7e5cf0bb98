/*
 * cli: the commands of the tocsin tool. Each returns the exit code:
 * 0 success, 1 the operation failed, 2 usage, 3 Redis unreachable.
 */
#ifndef TC_CLI_H
#define TC_CLI_H

#include <stdio.h>

#include <hiredis/hiredis.h>

#include "common/common.h"
#include "config/config.h"

enum { TC_EXIT_OK, TC_EXIT_FAILED, TC_EXIT_USAGE, TC_EXIT_REDIS };

/* Reads "ARG [--json]" from argv[from..argc): one positional argument into
 * *arg, --json into *json. Returns 0, or -1 for anything else (usage). */
int tc_cli_one_arg(int argc, char **argv, int from, const char **arg, bool *json);

/* Adds "--var name=value" (kv) to vars as a string. Returns 0, or -1 with
 * the reason printed as "tocsin <cmd>: --var ...". */
int tc_cli_add_var(json_t *vars, const char *cmd, const char *kv);

/* Checks a job's text as tocsind's intake will (structure, groups,
 * channels, template and its parts), with the templates as they load
 * here: when they do not, it warns as "tocsin <cmd>: warning: ..." and
 * leaves the template unchecked. Returns 0, or TC_EINVAL with why (n
 * bytes) naming the field. */
int tc_cli_job_check(const struct tc_cfg *cfg, const char *cmd, const char *text,
		     size_t len, enum tc_severity sev, char *why, size_t n);

/* ---- showing what others wrote (safe.c) -------------------------------- */
/* Every value the tool prints that came from a producer, a roster, a peer
 * or Redis goes through these. In text, a C0 control (but a newline or tab
 * the flags allow), DEL and a byte that is not UTF-8 show as \xNN; a C1
 * control (U+0080..U+009F) and a bidi control (U+202A..U+202E,
 * U+2066..U+2069, U+200E, U+200F, U+061C) as \uXXXX; the rest as it is. */
#define TC_CLI_SHOW_MAX (4 * TC_LIMIT_BODY + 8) /* one value, escaped: a
						  * rendered body at its limit */
enum { TC_SAFE_NL = 1, TC_SAFE_TAB = 2 }; /* keep these as they are */

/* Appends s (len bytes) to b, escaped as above. Cut after max bytes of s (0:
 * no cut), or where b would pass its maximum, at a character boundary and
 * ended with "...". Returns 0, or -ENOMEM. */
int tc_cli_safe_add(struct tc_buf *b, const char *s, size_t len, size_t max,
		    unsigned flags);
/* s (len bytes; NULL is "") escaped into b, emptied first; returns b's text,
 * which lives until b changes. tc_cli_safes takes a NUL-terminated s. */
const char *tc_cli_safe(struct tc_buf *b, const char *s, size_t len);
const char *tc_cli_safes(struct tc_buf *b, const char *s);
/* Prints fmt (one %s, nothing else to format) to f with s escaped, cut
 * after max bytes of s (0: no cut). */
void tc_cli_put(FILE *f, const char *fmt, const char *s, size_t len, size_t max);
void tc_cli_puts(FILE *f, const char *fmt, const char *s);
/* A new JSON string of s, exactly (NUL bytes included); only bytes that
 * are not UTF-8, which JSON cannot hold, become the text \xNN. NULL when
 * out of memory. */
json_t *tc_cli_json_string(const char *s, size_t len);
/* Prints o and a newline to f as JSON (flags as json_dumps takes them),
 * ASCII only: every other character, DEL and the controls as \uXXXX, so
 * the strings are exact and nothing reaches a terminal raw. Returns 0, or
 * -1 when out of memory. */
int tc_cli_json_print(FILE *f, const json_t *o, size_t flags);

/* A blocking connection to cfg's Redis (5 s timeouts), or NULL (the
 * reason kept for tc_cli_no_redis). Free with redisFree. */
redisContext *tc_cli_connect(const struct tc_cfg *cfg);
/* Prints why Redis could not be reached; returns TC_EXIT_REDIS. */
int tc_cli_no_redis(void);

/* The commands below take c NULL when Redis could not be reached: they
 * check their arguments (exit 2) and what they can without Redis (exit 1)
 * first, then return TC_EXIT_REDIS.
 *
 * tocsin send ...; argv[0] is "send". With cfg NULL, prints --help. */
int tc_cli_send(const struct tc_cfg *cfg, redisContext *c, int argc, char **argv);

/* tocsin status|report JOB [--json]; argv[0] is the command. With cfg
 * NULL, prints --help. */
int tc_cli_status(const struct tc_cfg *cfg, redisContext *c, const char *cmd,
		  int argc, char **argv);

/* tocsin report JOB [--json] [--unreached | --unconfirmed] (report.c):
 * only is TC_WHO_*. Returns the exit code. */
extern const char tc_cli_report_help[];
int tc_cli_report(const struct tc_cfg *cfg, redisContext *c, const char *id, bool json,
		  int only);

enum tc_show { TC_SHOW_NONE, TC_SHOW_LINE, TC_SHOW_SUMMARY, TC_SHOW_JSON };

/* Reads the job record of id and shows it: not at all, as one progress line
 * (printed when it changed), as a summary, or as JSON. Returns 1 when the
 * record shows failed deliveries, 0 otherwise, -1 when there is no such
 * job, TC_EREDIS when Redis failed. *done tells whether the job is done. */
int tc_cli_progress(const struct tc_cfg *cfg, redisContext *c, const char *id,
		    enum tc_show show, bool *done);

/* ---- operator control (cancel, dead) ---------------------------------- */
/* tocsin cancel JOB [--json]; argv[0] is "cancel". With cfg NULL, prints
 * --help. Marks the job record cancelled in one script; tocsind stops the
 * rest. */
/* A count (or text) of a job record read with HGETALL: 0 (or "") when
 * absent or not a number (status.c). */
long long tc_cli_record_num(const redisReply *rec, const char *name);
const char *tc_cli_record_str(const redisReply *rec, const char *name);

/* ---- a job's family and its deliveries (family.c) ---- */
/* A job and the escalation rounds it led to, in order: the job, then each
 * round its record before names (`escalation_next`). */
#define TC_CLI_FAMILY_MAX (TC_ESC_ROUNDS_MAX + 1)
struct tc_cli_family {
	size_t n;
	char id[TC_CLI_FAMILY_MAX][TC_LIMIT_JOB_ID + 1];
	redisReply *rec[TC_CLI_FAMILY_MAX]; /* each one's record (HGETALL) */
};
/* Reads the record of job id and, with rounds, its rounds' records into
 * f. Returns 0 (free f with tc_cli_family_free), -1 when there is no job
 * id, TC_EREDIS. */
int tc_cli_family_read(const struct tc_cfg *cfg, redisContext *c, const char *id,
		       bool rounds, struct tc_cli_family *f);
void tc_cli_family_free(struct tc_cli_family *f);
/* The round of f's i-th job (0 for one that is no round). */
int tc_cli_family_round(const struct tc_cli_family *f, size_t i);
/* Called with each delivery: its id (len bytes, not terminated) and its
 * record, an object ({"error": "unreadable record"} when it is no JSON
 * object), borrowed for the call. */
typedef void (*tc_cli_dlv_fn)(void *data, const char *did, size_t len, json_t *d);
/* Calls fn for every delivery record of job id. Returns 0 or TC_EREDIS. */
int tc_cli_scan(const struct tc_cfg *cfg, redisContext *c, const char *id,
		tc_cli_dlv_fn fn, void *data);

/* ---- acknowledgements (acks.c) ---- */
/* The members of a family folded per member_key from its delivery
 * records. */
struct who;
struct tc_cli_who {
	struct who *w;
	size_t n, cap;
};
enum { TC_WHO_ALL, TC_WHO_UNREACHED, TC_WHO_UNCONFIRMED };
/* Reads them (each job's deliveries); NULL when Redis failed or out of
 * memory. */
struct tc_cli_who *tc_cli_who_read(const struct tc_cfg *cfg, redisContext *c,
				   const struct tc_cli_family *f);
void tc_cli_who_free(struct tc_cli_who *all);
/* Whether a delivery of member key is listed under only (TC_WHO_*):
 * TC_WHO_UNREACHED, when none of the member's deliveries was sent,
 * delivered or acknowledged; TC_WHO_UNCONFIRMED, when none was
 * acknowledged. */
bool tc_cli_who_listed(const struct tc_cli_who *all, const char *key, int only);
/* {acknowledged, members, confirmed, share, responses: [{label, count}]}
 * of family f: acknowledged and each answer's count summed over its jobs;
 * members, confirmed and share as the family's root record counts them
 * (members reached only by webhook left out). NULL when Redis failed. */
json_t *tc_cli_acks(const struct tc_cfg *cfg, redisContext *c,
		    const struct tc_cli_family *f);
/* Prints it for people (status). */
void tc_cli_acks_show(const json_t *o);

int tc_cli_cancel(const struct tc_cfg *cfg, redisContext *c, int argc, char **argv);

/* tocsin dead list|show|retry|purge ...; argv[0] is "dead". With cfg NULL,
 * prints the --help of the subcommand in argv[1] (or of all). */
int tc_cli_dead(const struct tc_cfg *cfg, redisContext *c, int argc, char **argv);
/* ---- end operator control ---------------------------------------------- */

/* ---- tocsin preview (owner: templates) ------------------------------------ */
/* tocsin preview --template NAME --group GROUP [--channel C ...] [--var k=v ...]
 * [--severity S] [--incident I] [--job FILE] [--member NAME] [--json];
 * argv[0] is "preview". Renders what
 * the group would receive, reading the templates folder and rosters; never
 * connects to Redis (call it without tc_cli_connect). cfg is loaded in
 * TC_CFG_CLIENT mode; with cfg NULL, prints --help. Returns 0, 1 (a render
 * error, an unknown template, group or member) or 2 (usage). */
int tc_cli_preview(const struct tc_cfg *cfg, int argc, char **argv);
/* ---- end tocsin preview ------------------------------------------------------ */

#endif
