/*
 * The template store: every template folder under the templates folder,
 * its parts and per-group overrides, compiled once at load together with
 * the partials of <dir>/partials.
 *
 * What it keeps true:
 * - Loading reads the disk; nothing after it does. A loaded store is never
 *   written again, so threads may render from it at once.
 * - Every problem is reported, each once, with its file (and line when
 *   there is one), and a store with any problem is not handed out: a
 *   template that would fail in a crisis fails at start instead.
 * - Everything read is bounded: entries per folder, templates, groups per
 *   template, partials, bytes per file (checked before reading it) and
 *   bytes compiled in all.
 * - Templates and groups are kept sorted by name: lookups are binary
 *   searches, and diagnostics come in the same order on every machine.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "templates/internal.h"
#include "templates/templates.h"

#define PARTIALS_DIR   "partials"
#define PARTIAL_SUFFIX ".mustache"
#define PART_LIST      "email.subject, email.txt, email.html, sms.txt, webhook.json"

static const char *const part_names[TC_PART_COUNT] = {
	[TC_PART_EMAIL_SUBJECT] = "email.subject",
	[TC_PART_EMAIL_TXT] = "email.txt",
	[TC_PART_EMAIL_HTML] = "email.html",
	[TC_PART_SMS_TXT] = "sms.txt",
	[TC_PART_WEBHOOK_JSON] = "webhook.json",
};

/* A partial's file, read before any part compiles. */
struct partial_file {
	char *name; /* "footer" for partials/footer.mustache */
	char *path;
	char *text; /* NUL-terminated */
	size_t len;
};

/* One load. Functions below return 0 or -ENOMEM: every other problem is
 * reported into ds (setting failed) and loading goes on, to find the next. */
struct loader {
	const char *dir;
	struct tc_diags *ds;
	bool failed;
	struct partial_file *partials; /* sorted by name */
	size_t n_partials;
	size_t compiled;   /* bytes compiled into the store, parts and partials */
	/* the text being compiled, for the partial callback */
	const char *cur_path;
	const char *cur_text;
	size_t cur_len;
	size_t cur_bytes;  /* partial bytes it pulled in */
};

/* ---- names and diagnostics -------------------------------------------------- */

const char *tc_part_name(enum tc_part p)
{
	return (unsigned)p < TC_PART_COUNT ? part_names[p] : "?";
}

int tc_part_parse(const char *name)
{
	int p;

	for (p = 0; p < TC_PART_COUNT; p++)
		if (strcmp(name, part_names[p]) == 0)
			return p;
	return -1;
}

static bool same_diag(const struct tc_diag *a, const struct tc_diag *b)
{
	return a->line == b->line && strcmp(a->source, b->source) == 0 &&
	       strcmp(a->path, b->path) == 0 && strcmp(a->msg, b->msg) == 0;
}

/* Adds d to the load's diagnostics unless it is there already: a broken
 * partial is reported once, not once per part that includes it. */
static void report_diag(struct loader *l, const struct tc_diag *d)
{
	size_t i;

	l->failed = true;
	for (i = 0; i < l->ds->n; i++)
		if (same_diag(&l->ds->item[i], d))
			return;
	tc_diags_add(l->ds, d->source, d->line, d->path[0] ? d->path : NULL,
		     "%s", d->msg);
}

static void report(struct loader *l, const char *source, unsigned line,
		   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void report(struct loader *l, const char *source, unsigned line,
		   const char *fmt, ...)
{
	struct tc_diag d;
	char msg[sizeof(d.msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	tc_diag_set(&d, source, line, NULL, "%s", msg);
	report_diag(l, &d);
}

static void report_errno(struct loader *l, const char *source, int err,
			 const char *what)
{
	char eb[128];

	report(l, source, 0, "%s: %s", what, strerror_r(err, eb, sizeof(eb)));
}

/* ---- reading the folder --------------------------------------------------------- */

/* "a" + "/" + "b", new (free()); NULL if out of memory. */
static char *path_join(const char *a, const char *b)
{
	size_t na = strlen(a), nb = strlen(b);
	char *p;

	while (na > 0 && a[na - 1] == '/')
		na--;
	p = malloc(na + 1 + nb + 1);
	if (!p)
		return NULL;
	memcpy(p, a, na);
	p[na] = '/';
	memcpy(p + na + 1, b, nb + 1);
	return p;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **names, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* The names in folder path, sorted, without those starting with ".".
 * A folder that cannot be read, or holds more than TC_TPL_MAX_ENTRIES, is
 * reported and lists as empty. */
static int list_dir(struct loader *l, const char *path, char ***out, size_t *n_out)
{
	char **names = NULL, **grown;
	size_t n = 0, cap = 0;
	struct dirent *e;
	DIR *dir = opendir(path);
	int r = 0;

	*out = NULL;
	*n_out = 0;
	if (!dir) {
		report_errno(l, path, errno, "cannot open the folder");
		return 0;
	}
	while ((e = readdir(dir))) {
		if (e->d_name[0] == '.')
			continue;
		if (n == TC_TPL_MAX_ENTRIES) {
			report(l, path, 0, "more than %d entries in one folder",
			       TC_TPL_MAX_ENTRIES);
			r = TC_ELIMIT;
			break;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			grown = realloc(names, cap * sizeof(*names));
			if (!grown) {
				r = -ENOMEM;
				break;
			}
			names = grown;
		}
		names[n] = strdup(e->d_name);
		if (!names[n]) {
			r = -ENOMEM;
			break;
		}
		n++;
	}
	closedir(dir);
	if (r < 0) {
		free_names(names, n);
		return r == -ENOMEM ? r : 0;
	}
	if (n)
		qsort(names, n, sizeof(*names), cmp_str);
	*out = names;
	*n_out = n;
	return 0;
}

/* What path is, following symbolic links: S_IFDIR, S_IFREG, another S_IF
 * type, or 0 after reporting why it cannot be examined. */
static unsigned kind_of(struct loader *l, const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		report_errno(l, path, errno, "cannot read");
		return 0;
	}
	return st.st_mode & S_IFMT;
}

/* Reads the regular file at path, at most TC_TPL_MAX_SOURCE bytes (checked
 * before reading). *text is new and NUL-terminated; NULL after a reported
 * problem. */
static int read_text(struct loader *l, const char *path, char **text, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	struct stat st;
	size_t size, got = 0;
	ssize_t n = 0;
	char *buf;

	*text = NULL;
	if (fd < 0) {
		report_errno(l, path, errno, "cannot read");
		return 0;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		report(l, path, 0, "not a regular file");
		close(fd);
		return 0;
	}
	if (st.st_size > (off_t)TC_TPL_MAX_SOURCE) {
		report(l, path, 0, "%lld bytes, more than the limit of %u bytes "
		       "per template file", (long long)st.st_size, TC_TPL_MAX_SOURCE);
		close(fd);
		return 0;
	}
	size = (size_t)st.st_size;
	/* one byte more than the size, to notice a file that grew */
	buf = malloc(size + 2);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while (got < size + 1) {
		n = read(fd, buf + got, size + 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	if (n < 0 || got > size) {
		if (n < 0)
			report_errno(l, path, errno, "cannot read");
		else
			report(l, path, 0, "changed while being read");
		free(buf);
		close(fd);
		return 0;
	}
	close(fd);
	buf[got] = '\0';
	*text = buf;
	*len = got;
	return 0;
}

/* ---- partials -------------------------------------------------------------------- */

static int cmp_partial(const void *a, const void *b)
{
	return strcmp(((const struct partial_file *)a)->name,
		      ((const struct partial_file *)b)->name);
}

static int find_partial_key(const void *key, const void *elem)
{
	return strcmp(key, ((const struct partial_file *)elem)->name);
}

static const struct partial_file *find_partial(const struct loader *l,
					       const char *name)
{
	if (!l->n_partials)
		return NULL;
	return bsearch(name, l->partials, l->n_partials, sizeof(*l->partials),
		       find_partial_key);
}

static bool is_tag_space(char c)
{
	return c == ' ' || c == '\t';
}

/* The line of the first {{> name}} or {{< name}} in text, 0 when there is
 * none written with the default delimiters. Only for pointing at a typo. */
static unsigned find_include(const char *text, size_t len, const char *name)
{
	size_t nl = strlen(name), i, j;
	unsigned line = 1;

	for (i = 0; i + 1 < len; i++) {
		if (text[i] == '\n')
			line++;
		if (text[i] != '{' || text[i + 1] != '{')
			continue;
		for (j = i + 2; j < len && is_tag_space(text[j]); j++)
			;
		if (j >= len || (text[j] != '>' && text[j] != '<'))
			continue;
		for (j++; j < len && is_tag_space(text[j]); j++)
			;
		if (len - j < nl || memcmp(text + j, name, nl) != 0)
			continue;
		for (j += nl; j < len && is_tag_space(text[j]); j++)
			;
		if (j < len && text[j] == '}')
			return line;
	}
	return 0;
}

/* Reports {{> name}} naming no partial: where it is written if it can be
 * found (in the text being compiled, else in a partial it includes). */
static void report_unknown_partial(struct loader *l, const char *name)
{
	const char *source = l->cur_path;
	unsigned line = find_include(l->cur_text, l->cur_len, name);
	size_t i;

	for (i = 0; !line && i < l->n_partials; i++) {
		if (!l->partials[i].text)
			continue;
		line = find_include(l->partials[i].text, l->partials[i].len, name);
		if (line)
			source = l->partials[i].path;
	}
	report(l, source, line, "unknown partial '%s' (no %s/%s%s)", name,
	       PARTIALS_DIR, name, PARTIAL_SUFFIX);
}

/* The engine's partial callback: serves partials/<name>.mustache from
 * memory. Names are looked up, never opened, so "../x" finds nothing. */
static int serve_partial(void *data, const char *name, struct tc_tpl_partial *p)
{
	struct loader *l = data;
	const struct partial_file *f = find_partial(l, name);

	if (!f || !f->text) {
		if (f)
			l->failed = true; /* reported when it was read */
		else
			report_unknown_partial(l, name);
		return -ENOENT;
	}
	p->text = f->text;
	p->len = f->len;
	p->source = f->path;
	l->cur_bytes += f->len;
	return 0;
}

/* Compiles text (from path) into *out (NULL after a reported problem). */
static int compile_text(struct loader *l, const char *path, const char *text,
			size_t len, struct tc_tpl **out)
{
	struct tc_diag d;
	bool failed = l->failed;
	int r;

	*out = NULL;
	l->failed = false;
	l->cur_path = path;
	l->cur_text = text;
	l->cur_len = len;
	l->cur_bytes = len;
	r = tc_tpl_compile(path, text, len, serve_partial, l, out, &d);
	if (r < 0 && r != -ENOMEM)
		report_diag(l, &d);
	if (l->failed) {
		/* an unknown partial compiles (as nothing) but is an error */
		tc_tpl_free(*out);
		*out = NULL;
	}
	l->failed = l->failed || failed;
	return r == -ENOMEM ? r : 0;
}

/* Reads partials/NAME.mustache files into l->partials. */
static int read_partials(struct loader *l, const char *dir)
{
	size_t n, i, sl = strlen(PARTIAL_SUFFIX), nl;
	struct partial_file *f;
	char **names, *path;
	unsigned kind;
	int r = list_dir(l, dir, &names, &n);

	if (r < 0 || !n)
		return r;
	if (n > TC_TPL_MAX_PARTIAL_FILES) {
		report(l, dir, 0, "more than %d partials", TC_TPL_MAX_PARTIAL_FILES);
		free_names(names, n);
		return 0;
	}
	l->partials = calloc(n, sizeof(*l->partials));
	if (!l->partials) {
		free_names(names, n);
		return -ENOMEM;
	}
	for (i = 0; r == 0 && i < n; i++) {
		nl = strlen(names[i]);
		path = path_join(dir, names[i]);
		if (!path) {
			r = -ENOMEM;
			break;
		}
		kind = kind_of(l, path); /* 0: reported */
		if (kind != S_IFREG || nl <= sl ||
		    strcmp(names[i] + nl - sl, PARTIAL_SUFFIX) != 0) {
			if (kind)
				report(l, path, 0, "not a partial (partials are "
				       "files NAME%s)", PARTIAL_SUFFIX);
			free(path);
			continue;
		}
		/* kept when it cannot be read (text NULL), so that including
		 * it adds no "unknown partial" to the read error */
		f = &l->partials[l->n_partials++];
		f->path = path;
		f->name = strndup(names[i], nl - sl);
		r = f->name ? read_text(l, path, &f->text, &f->len) : -ENOMEM;
	}
	free_names(names, n);
	if (r == 0 && l->n_partials)
		qsort(l->partials, l->n_partials, sizeof(*l->partials), cmp_partial);
	return r;
}

/* Compiles each partial on its own, so an error in one is reported once,
 * against its file, even when no part includes it. */
static int check_partials(struct loader *l)
{
	struct tc_tpl *t;
	size_t i;
	int r;

	for (i = 0; i < l->n_partials; i++) {
		if (!l->partials[i].text)
			continue;
		r = compile_text(l, l->partials[i].path, l->partials[i].text,
				 l->partials[i].len, &t);
		if (r < 0)
			return r;
		tc_tpl_free(t);
	}
	return 0;
}

static void free_partials(struct loader *l)
{
	size_t i;

	for (i = 0; i < l->n_partials; i++) {
		free(l->partials[i].name);
		free(l->partials[i].path);
		free(l->partials[i].text);
	}
	free(l->partials);
	l->partials = NULL;
	l->n_partials = 0;
}

/* ---- templates ----------------------------------------------------------------- */

/* Reads and compiles the part at path (taken) into *part. */
static int load_part(struct loader *l, struct tpl_part *part, char *path)
{
	size_t len = 0;
	char *text;
	int r = read_text(l, path, &text, &len);

	part->path = path;
	if (r < 0 || !text)
		return r;
	r = compile_text(l, path, text, len, &part->tpl);
	free(text);
	if (part->tpl)
		l->compiled += l->cur_bytes;
	return r;
}

/* The file or folder name in a template or group folder: a part (loaded),
 * or an error. path is taken. */
static int load_file(struct loader *l, struct tpl_part *parts, const char *name,
		     char *path, unsigned kind)
{
	int p = tc_part_parse(name);

	if (kind != S_IFREG || p < 0) {
		if (kind == S_IFREG)
			report(l, path, 0, "unknown part (%s)", PART_LIST);
		else if (kind)
			report(l, path, 0, "not a regular file");
		free(path);
		return 0;
	}
	return load_part(l, &parts[p], path);
}

/* A new group override of t, named name (copied). */
static struct tpl_group *add_group(struct tpl_entry *t, const char *name)
{
	struct tpl_group *g;
	size_t cap;

	if (t->n_groups == t->cap_groups) {
		cap = t->cap_groups ? t->cap_groups * 2 : 4;
		g = realloc(t->groups, cap * sizeof(*g));
		if (!g)
			return NULL;
		t->groups = g;
		t->cap_groups = cap;
	}
	g = &t->groups[t->n_groups];
	memset(g, 0, sizeof(*g));
	g->name = strdup(name);
	if (!g->name)
		return NULL;
	t->n_groups++;
	return g;
}

/* Loads the parts in folder path into parts. t: the template whose group
 * overrides the sub-folders are, or NULL for a group folder, which holds
 * parts only. */
static int load_folder(struct loader *l, struct tpl_part *parts, const char *path,
		       struct tpl_entry *t)
{
	struct tpl_group *g;
	char **names, *sub;
	size_t n, i;
	unsigned kind;
	int r = list_dir(l, path, &names, &n);

	for (i = 0; r == 0 && i < n; i++) {
		sub = path_join(path, names[i]);
		if (!sub) {
			r = -ENOMEM;
			break;
		}
		kind = kind_of(l, sub);
		if (kind != S_IFDIR) {
			r = load_file(l, parts, names[i], sub, kind);
			continue;
		}
		if (!t) {
			report(l, sub, 0, "a folder inside a group override "
			       "(a group folder holds parts only)");
			free(sub);
			continue;
		}
		if (t->n_groups == TC_TPL_MAX_GROUPS) {
			report(l, sub, 0, "more than %d group overrides in one "
			       "template", TC_TPL_MAX_GROUPS);
			free(sub);
			break;
		}
		g = add_group(t, names[i]);
		r = g ? load_folder(l, g->part, sub, NULL) : -ENOMEM;
		free(sub);
	}
	free_names(names, n);
	return r;
}

/* Loads every template folder of dir (names: its entries, sorted). */
static int load_templates(struct loader *l, struct tc_tpl_store *s,
			  char **names, size_t n)
{
	struct tpl_entry *t;
	char *path;
	unsigned kind;
	size_t i;
	int r = 0;

	s->tpls = calloc(n ? n : 1, sizeof(*s->tpls));
	if (!s->tpls)
		return -ENOMEM;
	for (i = 0; r == 0 && i < n; i++) {
		if (strcmp(names[i], PARTIALS_DIR) == 0)
			continue;
		path = path_join(l->dir, names[i]);
		if (!path)
			return -ENOMEM;
		kind = kind_of(l, path);
		if (kind != S_IFDIR) {
			free(path); /* a README beside the templates */
			continue;
		}
		if (s->n == TC_TPL_MAX_TEMPLATES) {
			report(l, l->dir, 0, "more than %d templates",
			       TC_TPL_MAX_TEMPLATES);
			free(path);
			break;
		}
		t = &s->tpls[s->n++];
		t->name = strdup(names[i]);
		r = t->name ? load_folder(l, t->part, path, t) : -ENOMEM;
		free(path);
	}
	return r;
}

static void free_parts(struct tpl_part *part)
{
	int p;

	for (p = 0; p < TC_PART_COUNT; p++) {
		tc_tpl_free(part[p].tpl);
		free(part[p].path);
	}
}

void tc_tpl_store_free(struct tc_tpl_store *s)
{
	size_t i, j;

	if (!s)
		return;
	for (i = 0; i < s->n; i++) {
		for (j = 0; j < s->tpls[i].n_groups; j++) {
			free(s->tpls[i].groups[j].name);
			free_parts(s->tpls[i].groups[j].part);
		}
		free(s->tpls[i].groups);
		free(s->tpls[i].name);
		free_parts(s->tpls[i].part);
	}
	free(s->tpls);
	free(s);
}

/* Reads partials/ (if there is one) and compiles each partial alone. */
static int load_partials(struct loader *l, char **names, size_t n)
{
	unsigned kind;
	char *path;
	int r = 0;

	if (!n || !bsearch(&(const char *){ PARTIALS_DIR }, names, n,
			   sizeof(*names), cmp_str))
		return 0;
	path = path_join(l->dir, PARTIALS_DIR);
	if (!path)
		return -ENOMEM;
	kind = kind_of(l, path);
	if (kind == S_IFDIR)
		r = read_partials(l, path);
	else if (kind)
		report(l, path, 0, "not a folder (partials are files %s/NAME%s)",
		       PARTIALS_DIR, PARTIAL_SUFFIX);
	free(path);
	if (r == 0)
		r = check_partials(l);
	return r;
}

int tc_tpl_store_load(const char *dir, struct tc_tpl_store **out,
		      struct tc_diags *ds)
{
	struct loader l = { .dir = dir, .ds = ds };
	struct tc_tpl_store *s = calloc(1, sizeof(*s));
	char **names = NULL;
	size_t n = 0;
	int r;

	if (!s)
		return -ENOMEM;
	r = list_dir(&l, dir, &names, &n);
	/* partials first, each compiled alone: an error in one is then
	 * reported against it, and a part including it adds nothing */
	if (r == 0)
		r = load_partials(&l, names, n);
	if (r == 0)
		r = load_templates(&l, s, names, n);
	if (r == 0 && l.compiled > TC_TPL_MAX_STORE_BYTES)
		report(&l, dir, 0, "templates and the partials they include come "
		       "to %zu bytes, more than the limit of %u", l.compiled,
		       TC_TPL_MAX_STORE_BYTES);
	free_names(names, n);
	free_partials(&l);
	if (r == 0 && l.failed)
		r = TC_EINVAL;
	if (r < 0) {
		tc_tpl_store_free(s);
		return r;
	}
	*out = s;
	return 0;
}
