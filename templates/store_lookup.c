/*
 * The template store's lookups: a loaded store (store.c) is read-only, its
 * templates and each template's groups sorted by name, so every lookup is
 * a binary search and any thread may make it.
 */
#include <stdlib.h>
#include <string.h>

#include "templates/internal.h"
#include "templates/templates.h"

static int find_entry_key(const void *key, const void *elem)
{
	return strcmp(key, ((const struct tpl_entry *)elem)->name);
}

static int find_group_key(const void *key, const void *elem)
{
	return strcmp(key, ((const struct tpl_group *)elem)->name);
}

static const struct tpl_entry *find_entry(const struct tc_tpl_store *s,
					  const char *name)
{
	if (!s || !name || !s->n)
		return NULL;
	return bsearch(name, s->tpls, s->n, sizeof(*s->tpls), find_entry_key);
}

bool tc_tpl_store_has(const struct tc_tpl_store *s, const char *name)
{
	return find_entry(s, name) != NULL;
}

/* The part a group gets: its override, else the template's. */
static const struct tpl_part *find_part(const struct tc_tpl_store *s,
					const char *tpl, const char *group,
					enum tc_part p)
{
	const struct tpl_entry *t = find_entry(s, tpl);
	const struct tpl_group *g = NULL;

	if (!t || (unsigned)p >= TC_PART_COUNT)
		return NULL;
	if (group && group[0] && t->n_groups)
		g = bsearch(group, t->groups, t->n_groups, sizeof(*t->groups),
			    find_group_key);
	if (g && g->part[p].tpl)
		return &g->part[p];
	return t->part[p].tpl ? &t->part[p] : NULL;
}

const struct tc_tpl *tc_tpl_store_part(const struct tc_tpl_store *s,
				       const char *tpl, const char *group,
				       enum tc_part p)
{
	const struct tpl_part *part = find_part(s, tpl, group, p);

	return part ? part->tpl : NULL;
}

const char *tc_tpl_store_part_path(const struct tc_tpl_store *s,
				   const char *tpl, const char *group,
				   enum tc_part p)
{
	const struct tpl_part *part = find_part(s, tpl, group, p);

	return part ? part->path : NULL;
}

