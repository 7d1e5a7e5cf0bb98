/*
 * The template store: which templates exist, read once at load so that
 * intake can reject a job naming an unknown template without touching the
 * disk.
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "templates/templates.h"

#define TC_LIMIT_TEMPLATES 4096

struct tc_tpl_store {
	char **names;
	size_t n;
};

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int tc_tpl_store_load(const char *dir, struct tc_tpl_store **out,
		      struct tc_diags *ds)
{
	struct tc_tpl_store *s = calloc(1, sizeof(*s));
	struct dirent *e;
	DIR *d;
	int r = 0;

	if (!s)
		return -ENOMEM;
	d = opendir(dir);
	if (!d) {
		tc_diags_add(ds, dir, 0, "templates", "cannot open the folder: %s",
			     strerror(errno));
		free(s);
		return TC_EINVAL;
	}
	s->names = calloc(TC_LIMIT_TEMPLATES, sizeof(char *));
	if (!s->names)
		r = -ENOMEM;
	while (r == 0 && (e = readdir(d))) {
		if (e->d_name[0] == '.' || strcmp(e->d_name, "partials") == 0)
			continue;
		if (e->d_type != DT_DIR && e->d_type != DT_UNKNOWN)
			continue;
		if (s->n >= TC_LIMIT_TEMPLATES) {
			tc_diags_add(ds, dir, 0, "templates",
				     "more than %d templates", TC_LIMIT_TEMPLATES);
			r = TC_ELIMIT;
			break;
		}
		s->names[s->n] = strdup(e->d_name);
		if (!s->names[s->n++])
			r = -ENOMEM;
	}
	closedir(d);
	if (r < 0) {
		tc_tpl_store_free(s);
		return r;
	}
	qsort(s->names, s->n, sizeof(char *), cmp_name);
	*out = s;
	return 0;
}

void tc_tpl_store_free(struct tc_tpl_store *s)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; i < s->n; i++)
		free(s->names[i]);
	free(s->names);
	free(s);
}

bool tc_tpl_store_has(const struct tc_tpl_store *s, const char *name)
{
	return bsearch(&name, s->names, s->n, sizeof(char *), cmp_name) != NULL;
}
