/*
 * tocsin dead's internal header: what dead.c (list, show, purge, the
 * command) and dead_retry.c share. Nothing outside cli/ includes it.
 */
#ifndef TC_CLI_DEAD_H
#define TC_CLI_DEAD_H

#include <hiredis/hiredis.h>
#include <jansson.h>

#include "config/config.h"

/* The value of field name in a stream entry's field list, or NULL; *len
 * (may be NULL) gets its length. */
const char *tc_dead_fval(const redisReply *f, const char *name, size_t *len);
/* The same as a string, "" when absent. */
const char *tc_dead_fstr(const redisReply *f, const char *name);
/* Whether s is a stream entry id ("1732526400000-0"). */
bool tc_dead_id_valid(const char *s);
/* Reads dead letter id. Returns 0 and the reply in *out (free with
 * freeReplyObject; the entry is (*out)->element[0]), 1 when there is none,
 * or TC_EREDIS with the reason printed. */
int tc_dead_read(redisContext *c, const char *key, const char *id, redisReply **out);
/* Prints o as JSON with flags and a newline ("{}" when o is NULL or
 * printing fails). */
void tc_dead_print_json(json_t *o, size_t flags);

extern const char tc_dead_retry_help[];
/* tocsin dead retry ID [--job FILE] [--json]. */
int tc_dead_cmd_retry(const struct tc_cfg *cfg, redisContext *c, int argc, char **argv);

#endif
