/*
 * templates: the template store. For now it knows which templates exist
 * (one folder per template under the configured templates folder); the
 * Mustache engine and per-group parts build on it.
 */
#ifndef TC_TEMPLATES_H
#define TC_TEMPLATES_H

#include <stdbool.h>

#include "common/common.h"

struct tc_tpl_store;

/* Lists the templates in dir (each subfolder except "partials"). Returns 0
 * and a new store in *out (free with tc_tpl_store_free), or a negative code
 * with a diagnostic added to ds. Reads the disk: call it at start or off
 * the loop. */
int tc_tpl_store_load(const char *dir, struct tc_tpl_store **out,
		      struct tc_diags *ds);
void tc_tpl_store_free(struct tc_tpl_store *s);
/* Whether a template of that name exists. */
bool tc_tpl_store_has(const struct tc_tpl_store *s, const char *name);

#endif
