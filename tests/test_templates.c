/*
 * test_templates: the template store, render data, rendering parts, and SMS
 * encoding.
 *
 * usage: test_templates <tests/templates> [<examples/templates>]
 *
 * Store cases are data (tests/templates/):
 *   valid/                 a tree that loads; its parts are rendered below
 *   invalid/<name>/        a tree that must be refused, with exactly the
 *   invalid/<name>.expected  diagnostics listed there, in order
 * Limits (file size, templates, groups, entries, bytes compiled) are crossed
 * with trees written into a temporary folder at run time. The example
 * templates must load and render with the demo's variables.
 */
#define _XOPEN_SOURCE 700
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "channels/channels.h"
#include "templates/templates.h"
#include "tc_test.h"

#define OUT_MAX TC_LIMIT_BODY

/* ---- helpers ---------------------------------------------------------------- */

/* Case names live until the end: tc_test keeps the pointer. */
static char **names;
static size_t n_names, names_cap;

static const char *keep_name(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static const char *keep_name(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0 ||
	    (n_names == names_cap &&
	     !(names = realloc(names, (names_cap = names_cap * 2 + 64) * sizeof(char *))))) {
		fprintf(stderr, "out of memory\n");
		exit(2);
	}
	va_end(ap);
	names[n_names++] = s;
	return s;
}

static char *dup_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *dup_printf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0) {
		fprintf(stderr, "out of memory\n");
		exit(2);
	}
	va_end(ap);
	return s;
}

static void write_file(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "wb");

	if (!f || fwrite(text, 1, len, f) != len) {
		tc_test_fail(__FILE__, __LINE__, "cannot write %s", path);
		if (f)
			fclose(f);
		return;
	}
	fclose(f);
}

static void write_str(const char *path, const char *text)
{
	write_file(path, text, strlen(text));
}

static void make_dir(const char *path)
{
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		tc_test_fail(__FILE__, __LINE__, "cannot create %s", path);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void rm_tree(const char *path)
{
	(void)nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* A fresh temporary folder; free() it after rm_tree. */
static char *temp_dir(void)
{
	char *t = strdup("/tmp/tocsin-tpl-XXXXXX");

	if (!t || !mkdtemp(t)) {
		fprintf(stderr, "cannot create a temporary folder\n");
		exit(2);
	}
	return t;
}

static char *diags_text(const struct tc_diags *ds)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return NULL;
	tc_diags_print(ds, f);
	fclose(f);
	return text;
}

/* Loads dir, which must be refused with exactly the diagnostics want. */
static void expect_refused(const char *dir, const char *want)
{
	struct tc_diags *ds = calloc(1, sizeof(*ds));
	struct tc_tpl_store *s = NULL;
	char *got;
	int rc;

	if (!ds)
		exit(2);
	rc = tc_tpl_store_load(dir, &s, ds);
	TC_CHECK_INT(rc, TC_EINVAL);
	TC_CHECK(s == NULL);
	got = diags_text(ds);
	if (!got || strcmp(got, want) != 0) {
		tc_test_fail(__FILE__, __LINE__, "diagnostics of %s differ", dir);
		tc_test_comment("expected:", want);
		tc_test_comment("got:", got ? got : "");
	}
	free(got);
	tc_tpl_store_free(s);
	free(ds);
}

/* Loads dir, which must succeed. */
static struct tc_tpl_store *expect_loaded(const char *dir)
{
	struct tc_diags *ds = calloc(1, sizeof(*ds));
	struct tc_tpl_store *s = NULL;
	char *got;
	int rc;

	if (!ds)
		exit(2);
	rc = tc_tpl_store_load(dir, &s, ds);
	TC_CHECK_INT(rc, 0);
	if (rc != 0) {
		got = diags_text(ds);
		tc_test_comment("diagnostics:", got ? got : "");
		free(got);
	}
	free(ds);
	return s;
}

/* Renders part p of tpl for group over data; the text, or NULL (with the
 * diagnostic in d) when it fails. Free with free(). */
static char *render(const struct tc_tpl_store *s, const char *tpl, const char *group,
		    enum tc_part p, const json_t *data, struct tc_diag *d)
{
	const struct tc_tpl *t = tc_tpl_store_part(s, tpl, group, p);
	struct tc_buf out;

	if (!t) {
		tc_diag_set(d, NULL, 0, NULL, "no part");
		return NULL;
	}
	tc_buf_init(&out, OUT_MAX);
	if (tc_tpl_render_part(t, p, data, &out, d) < 0) {
		tc_buf_release(&out);
		return NULL;
	}
	return tc_buf_take(&out);
}

static json_t *demo_data(const char *group, const char *name)
{
	json_t *vars = json_pack("{s:s, s:s, s:s}", "service", "payments",
				 "summary", "card payments fail", "raw", "[1,2]");
	struct tc_member m = { .name = (char *)name, .role = (char *)"CTO",
			       .email = (char *)"ada@example.org" };
	json_t *data = tc_tpl_data_new(vars, "INC-42-1", "INC-42", "critical");

	json_decref(vars);
	if (!data || tc_tpl_data_set_member(data, group, &m) < 0)
		exit(2);
	return data;
}

/* ---- the store: valid tree ------------------------------------------------------- */

static void store_valid(void)
{
	struct tc_tpl_store *s;

	tc_test_begin("store: a valid tree loads; dot files and a README are ignored");
	s = expect_loaded("valid");
	if (!s)
		return;
	TC_CHECK(tc_tpl_store_has(s, "outage"));
	TC_CHECK(tc_tpl_store_has(s, "empty"));
	TC_CHECK(tc_tpl_store_has(s, "minimal"));
	TC_CHECK(!tc_tpl_store_has(s, "partials"));
	TC_CHECK(!tc_tpl_store_has(s, "README.md"));
	TC_CHECK(!tc_tpl_store_has(s, "nope"));
	TC_CHECK(!tc_tpl_store_has(s, ""));
	TC_CHECK(!tc_tpl_store_has(NULL, "outage"));

	tc_test_begin("store: a group's override, else the template's part, else NULL");
	TC_CHECK_STR(tc_tpl_store_part_path(s, "outage", "executives", TC_PART_EMAIL_TXT),
		     "valid/outage/executives/email.txt");
	TC_CHECK_STR(tc_tpl_store_part_path(s, "outage", "executives", TC_PART_EMAIL_SUBJECT),
		     "valid/outage/executives/email.subject");
	TC_CHECK_STR(tc_tpl_store_part_path(s, "outage", "executives", TC_PART_SMS_TXT),
		     "valid/outage/sms.txt");
	TC_CHECK_STR(tc_tpl_store_part_path(s, "outage", "customers", TC_PART_SMS_TXT),
		     "valid/outage/customers/sms.txt");
	TC_CHECK_STR(tc_tpl_store_part_path(s, "outage", "customers", TC_PART_EMAIL_TXT),
		     "valid/outage/email.txt");
	TC_CHECK_STR(tc_tpl_store_part_path(s, "outage", NULL, TC_PART_EMAIL_TXT),
		     "valid/outage/email.txt");
	TC_CHECK_STR(tc_tpl_store_part_path(s, "outage", "", TC_PART_EMAIL_TXT),
		     "valid/outage/email.txt");
	TC_CHECK_STR(tc_tpl_store_part_path(s, "outage", "nobody", TC_PART_WEBHOOK_JSON),
		     "valid/outage/webhook.json");
	TC_CHECK(tc_tpl_store_part(s, "outage", "executives", TC_PART_EMAIL_TXT) !=
		 tc_tpl_store_part(s, "outage", NULL, TC_PART_EMAIL_TXT));
	TC_CHECK(tc_tpl_store_part(s, "outage", "executives", TC_PART_SMS_TXT) ==
		 tc_tpl_store_part(s, "outage", NULL, TC_PART_SMS_TXT));
	TC_CHECK(tc_tpl_store_part(s, "empty", "executives", TC_PART_EMAIL_TXT) == NULL);
	TC_CHECK(tc_tpl_store_part_path(s, "empty", NULL, TC_PART_EMAIL_TXT) == NULL);
	TC_CHECK(tc_tpl_store_part(s, "minimal", NULL, TC_PART_SMS_TXT) == NULL);
	TC_CHECK(tc_tpl_store_part(s, "minimal", NULL, TC_PART_WEBHOOK_JSON) != NULL);
	TC_CHECK(tc_tpl_store_part(s, "nope", NULL, TC_PART_WEBHOOK_JSON) == NULL);
	TC_CHECK(tc_tpl_store_part(s, "outage", NULL, TC_PART_COUNT) == NULL);

	tc_test_begin("store: part names");
	TC_CHECK_STR(tc_part_name(TC_PART_EMAIL_SUBJECT), "email.subject");
	TC_CHECK_STR(tc_part_name(TC_PART_EMAIL_TXT), "email.txt");
	TC_CHECK_STR(tc_part_name(TC_PART_EMAIL_HTML), "email.html");
	TC_CHECK_STR(tc_part_name(TC_PART_SMS_TXT), "sms.txt");
	TC_CHECK_STR(tc_part_name(TC_PART_WEBHOOK_JSON), "webhook.json");
	TC_CHECK_STR(tc_part_name(TC_PART_COUNT), "?");
	TC_CHECK_INT(tc_part_parse("webhook.json"), TC_PART_WEBHOOK_JSON);
	TC_CHECK_INT(tc_part_parse("email.text"), -1);
	TC_CHECK_INT(tc_tpl_escape_for(tc_part_name(TC_PART_EMAIL_HTML)), TC_TPL_ESC_HTML);
	TC_CHECK_INT(tc_tpl_escape_for(tc_part_name(TC_PART_WEBHOOK_JSON)), TC_TPL_ESC_JSON);
	TC_CHECK_INT(tc_tpl_escape_for(tc_part_name(TC_PART_EMAIL_SUBJECT)), TC_TPL_ESC_NONE);
	TC_CHECK_INT(tc_tpl_escape_for(tc_part_name(TC_PART_SMS_TXT)), TC_TPL_ESC_NONE);

	tc_tpl_store_free(s);
}

static void check_diag(int rc, int want_rc, const struct tc_diag *d, const char *want)
{
	char got[1200];

	TC_CHECK_INT(rc, want_rc);
	if (!want)
		return;
	tc_diag_format(d, got, sizeof(got));
	TC_CHECK_STR(got, want);
}

/* What each channel in mask needs of template tpl, as the channels say
 * (tc_chan_template_check), after the template exists. */
static int store_check_channels(const struct tc_tpl_store *s, const char *tpl,
				unsigned mask, struct tc_diag *d)
{
	int c;

	if (!tc_tpl_store_has(s, tpl)) {
		if (d)
			tc_diag_set(d, NULL, 0, "template", "unknown template '%s'", tpl);
		return TC_EINVAL;
	}
	for (c = 0; c < TC_CH_COUNT; c++)
		if ((mask & TC_CH_BIT(c)) && tc_chan_template_check(s, tpl, c, d) < 0)
			return TC_EINVAL;
	return 0;
}

static void store_check(void)
{
	struct tc_tpl_store *s = expect_loaded("valid");
	struct tc_diag d;
	unsigned all = TC_CH_ALL;

	tc_test_begin("store: tc_tpl_store_check, what each channel needs");
	if (!s)
		return;
	check_diag(store_check_channels(s, "outage", all, &d), 0, &d, NULL);
	check_diag(store_check_channels(s, "minimal", TC_CH_BIT(TC_CH_WEBHOOK), &d), 0, &d, NULL);
	check_diag(store_check_channels(s, "empty", TC_CH_BIT(TC_CH_WEBHOOK), &d), 0, &d, NULL);
	check_diag(store_check_channels(s, "empty", 0, &d), 0, &d, NULL);
	check_diag(store_check_channels(s, "minimal", TC_CH_BIT(TC_CH_SMS), &d), TC_EINVAL, &d,
		   "template: 'minimal' has no part 'sms.txt' for channel 'sms'");
	check_diag(store_check_channels(s, "minimal", all, &d), TC_EINVAL, &d,
		   "template: 'minimal' has no part 'email.subject' for channel 'email'");
	check_diag(store_check_channels(s, "nope", all, &d), TC_EINVAL, &d,
		   "template: unknown template 'nope'");
	TC_CHECK_INT(store_check_channels(s, "minimal", all, NULL), TC_EINVAL);
	tc_tpl_store_free(s);

	/* email.txt without email.subject, and the other way round; html alone
	 * is not enough */
	{
		char *dir = temp_dir(), *p;

		p = dup_printf("%s/a", dir);
		make_dir(p);
		free(p);
		p = dup_printf("%s/a/email.txt", dir);
		write_str(p, "body\n");
		free(p);
		p = dup_printf("%s/b", dir);
		make_dir(p);
		free(p);
		p = dup_printf("%s/b/email.subject", dir);
		write_str(p, "subject\n");
		free(p);
		p = dup_printf("%s/b/email.html", dir);
		write_str(p, "<p>body</p>\n");
		free(p);
		s = expect_loaded(dir);
		check_diag(store_check_channels(s, "a", TC_CH_BIT(TC_CH_EMAIL), &d), TC_EINVAL, &d,
			   "template: 'a' has no part 'email.subject' for channel 'email'");
		check_diag(store_check_channels(s, "b", TC_CH_BIT(TC_CH_EMAIL), &d), TC_EINVAL, &d,
			   "template: 'b' has no part 'email.txt' for channel 'email'");
		check_diag(store_check_channels(s, "a", TC_CH_BIT(TC_CH_WEBHOOK), &d), 0, &d, NULL);
		tc_tpl_store_free(s);
		rm_tree(dir);
		free(dir);
	}
}

/* ---- the store: invalid trees ------------------------------------------------------ */

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int is_case(const struct dirent *e)
{
	return e->d_name[0] != '.' && !strchr(e->d_name, '.');
}

static void store_invalid(void)
{
	struct dirent **list;
	char *dir, *exp, *want;
	int n, i;

	n = scandir("invalid", &list, is_case, by_name);
	if (n <= 0) {
		tc_test_begin("store: invalid trees");
		tc_test_fail(__FILE__, __LINE__, "no cases in invalid/");
		return;
	}
	for (i = 0; i < n; i++) {
		tc_test_begin(keep_name("store: invalid/%s", list[i]->d_name));
		dir = dup_printf("invalid/%s", list[i]->d_name);
		exp = dup_printf("invalid/%s.expected", list[i]->d_name);
		want = tc_test_read_file(exp, NULL);
		if (!want)
			tc_test_fail(__FILE__, __LINE__, "cannot read %s", exp);
		else
			expect_refused(dir, want);
		free(want);
		free(exp);
		free(dir);
		free(list[i]);
	}
	free(list);

	tc_test_begin("store: a folder that cannot be opened");
	expect_refused("invalid/no-such-folder",
		       "invalid/no-such-folder: cannot open the folder: No such file or directory\n");
}

/* ---- the store: limits --------------------------------------------------------------- */

static void store_file_size(void)
{
	char *dir = temp_dir(), *p, *text, *want;
	struct tc_tpl_store *s;

	tc_test_begin("store: a part of TC_TPL_MAX_SOURCE bytes loads, one byte more is refused");
	text = malloc(TC_TPL_MAX_SOURCE + 1);
	if (!text)
		exit(2);
	memset(text, 'x', TC_TPL_MAX_SOURCE + 1);
	p = dup_printf("%s/outage", dir);
	make_dir(p);
	free(p);
	p = dup_printf("%s/outage/email.txt", dir);
	write_file(p, text, TC_TPL_MAX_SOURCE);
	s = expect_loaded(dir);
	tc_tpl_store_free(s);
	write_file(p, text, TC_TPL_MAX_SOURCE + 1);
	want = dup_printf("%s: %u bytes, more than the limit of %u bytes per template file\n",
			  p, TC_TPL_MAX_SOURCE + 1, TC_TPL_MAX_SOURCE);
	expect_refused(dir, want);
	free(want);
	free(p);

	tc_test_begin("store: a partial too large is reported once, not as unknown where included");
	p = dup_printf("%s/outage/email.txt", dir);
	write_str(p, "{{> big}}\n");
	free(p);
	p = dup_printf("%s/outage/sms.txt", dir);
	write_str(p, "{{> big}}\n");
	free(p);
	p = dup_printf("%s/partials", dir);
	make_dir(p);
	free(p);
	p = dup_printf("%s/partials/big.mustache", dir);
	write_file(p, text, TC_TPL_MAX_SOURCE + 1);
	want = dup_printf("%s: %u bytes, more than the limit of %u bytes per template file\n",
			  p, TC_TPL_MAX_SOURCE + 1, TC_TPL_MAX_SOURCE);
	expect_refused(dir, want);
	free(want);
	free(p);
	free(text);
	rm_tree(dir);
	free(dir);
}

/* n folders (or files) named <prefix><i> under dir. */
static void make_many(const char *dir, const char *prefix, int n, bool folders)
{
	char *p;
	int i;

	for (i = 0; i < n; i++) {
		p = dup_printf("%s/%s%05d", dir, prefix, i);
		if (folders)
			make_dir(p);
		else
			write_str(p, "");
		free(p);
	}
}

static void store_count_limits(void)
{
	char *dir = temp_dir(), *p, *want;
	struct tc_tpl_store *s;

	tc_test_begin("store: TC_TPL_MAX_TEMPLATES templates load, one more is refused");
	make_many(dir, "t", TC_TPL_MAX_TEMPLATES, true);
	s = expect_loaded(dir);
	TC_CHECK(s && tc_tpl_store_has(s, "t04095"));
	tc_tpl_store_free(s);
	p = dup_printf("%s/u", dir);
	make_dir(p);
	free(p);
	want = dup_printf("%s: more than %d templates\n", dir, TC_TPL_MAX_TEMPLATES);
	expect_refused(dir, want);
	free(want);
	rm_tree(dir);
	free(dir);

	tc_test_begin("store: TC_TPL_MAX_GROUPS group overrides load, one more is refused");
	dir = temp_dir();
	p = dup_printf("%s/outage", dir);
	make_dir(p);
	make_many(p, "g", TC_TPL_MAX_GROUPS, true);
	s = expect_loaded(dir);
	tc_tpl_store_free(s);
	free(p);
	p = dup_printf("%s/outage/h", dir);
	make_dir(p);
	want = dup_printf("%s: more than %d group overrides in one template\n", p,
			  TC_TPL_MAX_GROUPS);
	expect_refused(dir, want);
	free(want);
	free(p);
	rm_tree(dir);
	free(dir);

	tc_test_begin("store: more than TC_TPL_MAX_ENTRIES entries in a folder are refused");
	dir = temp_dir();
	p = dup_printf("%s/outage", dir);
	make_dir(p);
	make_many(p, "f", TC_TPL_MAX_ENTRIES + 1, false);
	want = dup_printf("%s: more than %d entries in one folder\n", p, TC_TPL_MAX_ENTRIES);
	expect_refused(dir, want);
	free(want);
	free(p);
	rm_tree(dir);
	free(dir);

	tc_test_begin("store: more than TC_TPL_MAX_PARTIAL_FILES partials are refused");
	dir = temp_dir();
	p = dup_printf("%s/partials", dir);
	make_dir(p);
	make_many(p, "p", TC_TPL_MAX_PARTIAL_FILES + 1, false);
	want = dup_printf("%s: more than %d partials\n", p, TC_TPL_MAX_PARTIAL_FILES);
	expect_refused(dir, want);
	free(want);
	free(p);
	rm_tree(dir);
	free(dir);
}

/* Parts that each include 8 partials of 256 KiB: 2 MiB compiled per part
 * (and its own 56 bytes), from 2 MiB on disk in all. */
static void store_bytes_limit(void)
{
	static const char include8[] = "{{>p0}}{{>p1}}{{>p2}}{{>p3}}{{>p4}}{{>p5}}{{>p6}}{{>p7}}";
	size_t per_part = 8 * (size_t)TC_TPL_MAX_SOURCE + strlen(include8);
	size_t parts = TC_TPL_MAX_STORE_BYTES / per_part; /* 31 fit */
	char *dir = temp_dir(), *p, *text, *want;
	struct tc_tpl_store *s;
	size_t i;

	tc_test_begin("store: more than TC_TPL_MAX_STORE_BYTES compiled in all is refused");
	text = malloc(TC_TPL_MAX_SOURCE);
	if (!text)
		exit(2);
	memset(text, 'x', TC_TPL_MAX_SOURCE);
	p = dup_printf("%s/partials", dir);
	make_dir(p);
	free(p);
	for (i = 0; i < 8; i++) {
		p = dup_printf("%s/partials/p%zu.mustache", dir, i);
		write_file(p, text, TC_TPL_MAX_SOURCE);
		free(p);
	}
	free(text);
	for (i = 0; i <= parts; i++) {
		p = dup_printf("%s/t%zu", dir, i / TC_PART_COUNT);
		make_dir(p);
		free(p);
		p = dup_printf("%s/t%zu/%s", dir, i / TC_PART_COUNT,
			       tc_part_name((enum tc_part)(i % TC_PART_COUNT)));
		write_str(p, include8);
		free(p);
	}
	want = dup_printf("%s: templates and the partials they include come to %zu bytes, "
			  "more than the limit of %u\n", dir, (parts + 1) * per_part,
			  TC_TPL_MAX_STORE_BYTES);
	expect_refused(dir, want);
	free(want);
	/* the last part without its partials: under the limit */
	p = dup_printf("%s/t%zu/%s", dir, parts / TC_PART_COUNT,
		       tc_part_name((enum tc_part)(parts % TC_PART_COUNT)));
	write_str(p, "small");
	free(p);
	s = expect_loaded(dir);
	tc_tpl_store_free(s);
	rm_tree(dir);
	free(dir);
}

/* ---- render data ------------------------------------------------------------------- */

static void data_cases(void)
{
	json_t *vars = json_pack("{s:s, s:i, s:{s:s}}", "service", "payments", "count", 3,
				 "nested", "a", "b");
	struct tc_member ada = { .name = (char *)"Ada", .role = (char *)"CTO",
				 .email = (char *)"ada@example.org",
				 .phone = (char *)"+442079460000" };
	struct tc_member bob = { .name = (char *)"Bob" };
	json_t *data, *m;
	char *s;

	tc_test_begin("data: vars at the top, then job, incident, severity, ack_url");
	data = tc_tpl_data_new(vars, "INC-42-1", "INC-42", "critical");
	TC_CHECK(data != NULL);
	if (!data)
		return;
	s = json_dumps(data, JSON_SORT_KEYS | JSON_COMPACT);
	TC_CHECK_STR(s, "{\"ack_url\":\"\",\"count\":3,\"incident\":\"INC-42\","
		     "\"job\":{\"id\":\"INC-42-1\"},\"nested\":{\"a\":\"b\"},"
		     "\"service\":\"payments\",\"severity\":\"critical\"}");
	free(s);
	/* shallow: the nested object is the job's own */
	TC_CHECK(json_object_get(data, "nested") == json_object_get(vars, "nested"));
	TC_CHECK_INT(json_object_size(vars), 3);

	tc_test_begin("data: set_member sets group and member, and replaces them");
	TC_CHECK_INT(tc_tpl_data_set_member(data, "executives", &ada), 0);
	m = json_object_get(data, "member");
	s = json_dumps(m, JSON_SORT_KEYS | JSON_COMPACT);
	TC_CHECK_STR(s, "{\"email\":\"ada@example.org\",\"name\":\"Ada\","
		     "\"phone\":\"+442079460000\",\"role\":\"CTO\"}");
	free(s);
	TC_CHECK_STR(json_string_value(json_object_get(data, "group")), "executives");
	TC_CHECK_INT(tc_tpl_data_set_member(data, NULL, &bob), 0);
	TC_CHECK(json_object_get(data, "member") == m); /* reused */
	s = json_dumps(data, JSON_SORT_KEYS | JSON_COMPACT);
	TC_CHECK_STR(s, "{\"ack_url\":\"\",\"count\":3,\"group\":\"\",\"incident\":\"INC-42\","
		     "\"job\":{\"id\":\"INC-42-1\"},\"member\":{\"name\":\"Bob\"},"
		     "\"nested\":{\"a\":\"b\"},\"service\":\"payments\","
		     "\"severity\":\"critical\"}");
	free(s);
	json_decref(data);

	tc_test_begin("data: no incident, no vars; reserved names are the data's own");
	data = tc_tpl_data_new(NULL, "J1", NULL, "low");
	s = data ? json_dumps(data, JSON_SORT_KEYS | JSON_COMPACT) : NULL;
	TC_CHECK_STR(s, "{\"ack_url\":\"\",\"job\":{\"id\":\"J1\"},\"severity\":\"low\"}");
	free(s);
	json_decref(data);
	json_decref(vars);
	vars = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "job", "x", "incident", "x",
			 "severity", "x", "group", "x", "member", "x", "ack_url", "x");
	data = tc_tpl_data_new(vars, "J1", NULL, "low");
	s = data ? json_dumps(data, JSON_SORT_KEYS | JSON_COMPACT) : NULL;
	TC_CHECK_STR(s, "{\"ack_url\":\"\",\"job\":{\"id\":\"J1\"},\"severity\":\"low\"}");
	free(s);
	json_decref(data);
	json_decref(vars);
}

/* ---- rendering parts --------------------------------------------------------------- */

static void render_cases(void)
{
	struct tc_tpl_store *s = expect_loaded("valid");
	json_t *data;
	struct tc_diag d;
	char *out;

	tc_test_begin("render: each part for a group, overrides and partials included");
	if (!s)
		return;
	data = demo_data("executives", "Ada");
	out = render(s, "outage", NULL, TC_PART_EMAIL_TXT, data, &d);
	TC_CHECK_STR(out, "Hello Ada,\n\npayments is down: card payments fail\n\n"
		     "Sent to Ada (executives). -- tocsin, job INC-42-1\n");
	free(out);
	out = render(s, "outage", "executives", TC_PART_EMAIL_TXT, data, &d);
	TC_CHECK_STR(out, "Executive summary for Ada: payments\n");
	free(out);
	out = render(s, "outage", "executives", TC_PART_EMAIL_SUBJECT, data, &d);
	TC_CHECK_STR(out, "EXEC payments");
	free(out);
	out = render(s, "outage", NULL, TC_PART_EMAIL_SUBJECT, data, &d);
	TC_CHECK_STR(out, "[INC-42] Outage: payments");
	free(out);
	out = render(s, "outage", NULL, TC_PART_EMAIL_HTML, data, &d);
	TC_CHECK_STR(out, "<p>payments is down: card payments fail</p>\n"
		     "<p>Sent to Ada (executives). -- tocsin, job INC-42-1\n</p>\n");
	free(out);
	out = render(s, "outage", "customers", TC_PART_SMS_TXT, data, &d);
	TC_CHECK_STR(out, "Dear customer, payments is unavailable.\n");
	free(out);
	out = render(s, "outage", NULL, TC_PART_WEBHOOK_JSON, data, &d);
	TC_CHECK_STR(out, "{\"text\": \"payments: card payments fail\", \"group\": "
		     "\"executives\", \"raw\": [1,2]}\n");
	free(out);

	tc_test_begin("render: a subject is one line, trimmed");
	json_object_set_new(data, "service",
			    json_string("  \tline one\r\nline two\nthree\rfour\xe2\x80\xa8"
					"five\xc2\x85six\xe2\x80\xa9 \r\n"));
	out = render(s, "outage", NULL, TC_PART_EMAIL_SUBJECT, data, &d);
	TC_CHECK_STR(out, "[INC-42] Outage:   \tline one line two three four five six");
	free(out);
	json_object_del(data, "incident");
	out = render(s, "outage", NULL, TC_PART_EMAIL_SUBJECT, data, &d);
	TC_CHECK_STR(out, "Outage:   \tline one line two three four five six");
	free(out);
	json_object_set_new(data, "service", json_string("\r\n \n"));
	out = render(s, "outage", "executives", TC_PART_EMAIL_SUBJECT, data, &d);
	TC_CHECK_STR(out, "EXEC");
	free(out);

	tc_test_begin("render: webhook.json that does not parse is refused, out unchanged");
	json_object_set_new(data, "raw", json_string("{oops"));
	{
		const struct tc_tpl *t = tc_tpl_store_part(s, "outage", NULL, TC_PART_WEBHOOK_JSON);
		struct tc_buf b;
		char msg[1200];

		tc_buf_init(&b, OUT_MAX);
		(void)tc_buf_adds(&b, "kept");
		TC_CHECK_INT(tc_tpl_render_part(t, TC_PART_WEBHOOK_JSON, data, &b, &d), TC_EINVAL);
		TC_CHECK_STR(b.data, "kept");
		TC_CHECK_INT(b.len, 4);
		tc_diag_format(&d, msg, sizeof(msg));
		TC_CHECK_STR(msg, "webhook.json does not render to valid JSON: "
			     "string or '}' expected near 'oops' at line 1");
		json_object_del(data, "raw");
		TC_CHECK_INT(tc_tpl_render_part(t, TC_PART_WEBHOOK_JSON, data, &b, &d), TC_EINVAL);
		TC_CHECK_STR(b.data, "kept");
		/* the subject cannot take a render that passes the maximum */
		b.max = 10;
		TC_CHECK_INT(tc_tpl_render_part(tc_tpl_store_part(s, "outage", NULL,
								 TC_PART_EMAIL_TXT),
						TC_PART_EMAIL_TXT, data, &b, &d), TC_ELIMIT);
		TC_CHECK_STR(b.data, "kept");
		TC_CHECK_INT(tc_tpl_render_part(NULL, TC_PART_EMAIL_TXT, data, &b, &d), TC_EINVAL);
		tc_buf_release(&b);
	}
	json_decref(data);
	tc_tpl_store_free(s);
}

/* The length of the valid UTF-8 sequence at s (n bytes left), 0 if none:
 * no overlong forms, surrogates or values past U+10FFFF. */
static size_t utf8_valid(const unsigned char *s, size_t n)
{
	size_t len = s[0] < 0x80 ? 1 : s[0] >= 0xc2 && s[0] <= 0xdf ? 2 :
		     s[0] >= 0xe0 && s[0] <= 0xef ? 3 : s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : 0;
	unsigned long v = len == 1 ? s[0] : len == 2 ? s[0] & 0x1fu :
			  len == 3 ? s[0] & 0x0fu : s[0] & 0x07u;
	size_t i;

	if (len == 0 || n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		v = (v << 6) | (s[i] & 0x3fu);
	}
	if ((len == 3 && v < 0x800) || (len == 4 && v < 0x10000) || v > 0x10ffff ||
	    (v >= 0xd800 && v <= 0xdfff))
		return 0;
	return len;
}

/* v (n bytes) with each byte that starts no valid UTF-8 sequence replaced
 * by U+FFFD, new. */
static char *with_replacements(const char *v, size_t n)
{
	const unsigned char *s = (const unsigned char *)v;
	struct tc_buf b;
	size_t i = 0, k;

	tc_buf_init(&b, 1u << 24);
	while (i < n) {
		k = utf8_valid(s + i, n - i);
		if (k == 0) {
			(void)tc_buf_adds(&b, "\xef\xbf\xbd");
			i++;
			continue;
		}
		(void)tc_buf_add(&b, v + i, k);
		i += k;
	}
	return tc_buf_take(&b);
}

static void hostile_cases(void)
{
	static const char hostile[] =
		"\"quoted\" 'single' \\back\\slash\\ </script><script>alert(1)</script> "
		"<b>&amp;</b> {{service}} line\nbreak\r\ncrlf \t tab \x01\x1f\x7f "
		"\xe2\x80\xa8 sep \xff\xfe bad \xc3 cut \xed\xa0\x80 surrogate end";
	struct tc_tpl_store *s = expect_loaded("valid");
	size_t hn = sizeof(hostile) - 1, i;
	struct tc_buf longv;
	json_t *data, *v;
	struct tc_diag d;
	char *out, *want;

	tc_test_begin("render: hostile values through every part");
	if (!s)
		return;
	data = demo_data("oncall", "Ada");
	json_object_set_new(data, "summary", json_stringn_nocheck(hostile, hn));
	json_object_set_new(data, "service", json_string("svc"));
	json_object_set_new(data, "raw", json_string("null"));

	out = render(s, "outage", NULL, TC_PART_WEBHOOK_JSON, data, &d);
	v = out ? json_loads(out, 0, NULL) : NULL;
	TC_CHECK(v != NULL);
	want = with_replacements(hostile, hn);
	{
		char *expect = dup_printf("svc: %s", want);

		TC_CHECK_STR(json_string_value(json_object_get(v, "text")), expect);
		free(expect);
	}
	TC_CHECK(out && !strstr(out, "</script>"));
	TC_CHECK(out && strchr(out, '\n') == out + strlen(out) - 1);
	json_decref(v);
	free(out);

	out = render(s, "outage", NULL, TC_PART_EMAIL_HTML, data, &d);
	TC_CHECK(out && !strstr(out, "</script>") && !strstr(out, "<b>") &&
		 strstr(out, "&lt;/script&gt;") && strstr(out, "&quot;quoted&quot;") &&
		 strstr(out, "&#39;single&#39;") && strstr(out, "&amp;amp;"));
	free(out);

	out = render(s, "outage", NULL, TC_PART_EMAIL_SUBJECT, data, &d);
	TC_CHECK(out && !strchr(out, '\n') && !strchr(out, '\r'));
	free(out);

	/* plain text as it is, and {{service}} in a value is not expanded */
	out = render(s, "outage", NULL, TC_PART_SMS_TXT, data, &d);
	{
		char *expect = malloc(hn + 16);

		if (!expect)
			exit(2);
		memcpy(expect, "svc down: ", 10);
		memcpy(expect + 10, hostile, hn);
		memcpy(expect + 10 + hn, "\n", 2);
		TC_CHECK(out && memcmp(out, expect, hn + 11) == 0);
		free(expect);
	}
	free(out);
	free(want);

	tc_test_begin("render: a very long value through every part");
	tc_buf_init(&longv, 1u << 20);
	for (i = 0; i < 20000; i++)
		(void)tc_buf_adds(&longv, i % 2 ? "\"<\\" : "ab");
	json_object_set_new(data, "summary", json_stringn(longv.data, longv.len));
	out = render(s, "outage", NULL, TC_PART_WEBHOOK_JSON, data, &d);
	v = out ? json_loads(out, 0, NULL) : NULL;
	TC_CHECK(v != NULL);
	TC_CHECK(v && strlen(json_string_value(json_object_get(v, "text"))) == longv.len + 5);
	json_decref(v);
	free(out);
	out = render(s, "outage", NULL, TC_PART_EMAIL_SUBJECT, data, &d);
	TC_CHECK(out != NULL);
	free(out);
	out = render(s, "outage", NULL, TC_PART_EMAIL_HTML, data, &d);
	TC_CHECK(out && !strstr(out, "\"<"));
	free(out);
	/* past the body limit: refused, not cut */
	for (i = 0; i < 150000; i++)
		(void)tc_buf_adds(&longv, "<>");
	json_object_set_new(data, "summary", json_stringn(longv.data, longv.len));
	out = render(s, "outage", NULL, TC_PART_WEBHOOK_JSON, data, &d);
	TC_CHECK(out == NULL);
	free(out);
	tc_buf_release(&longv);
	json_decref(data);
	tc_tpl_store_free(s);
}

/* ---- SMS --------------------------------------------------------------------------- */

/* s repeated n times, new. */
static char *rep(const char *s, unsigned n)
{
	size_t len = strlen(s);
	char *r = malloc(len * n + 1);
	unsigned i;

	if (!r)
		exit(2);
	for (i = 0; i < n; i++)
		memcpy(r + i * len, s, len);
	r[len * n] = '\0';
	return r;
}

static char *cat3(char *a, char *b, char *c)
{
	char *r = dup_printf("%s%s%s", a, b ? b : "", c ? c : "");

	free(a);
	free(b);
	free(c);
	return r;
}

static void measure(const char *name, char *text, bool gsm7, unsigned chars,
		    unsigned segments)
{
	struct tc_sms_info info;

	tc_test_begin(name);
	TC_CHECK_INT(tc_sms_measure(text, strlen(text), &info), 0);
	TC_CHECK_INT(info.gsm7, gsm7);
	TC_CHECK_INT(info.chars, chars);
	TC_CHECK_INT(info.segments, segments);
	TC_CHECK_INT(info.truncated, false);
	free(text);
}

static void sms_measure_cases(void)
{
	measure("sms: empty", strdup(""), true, 0, 1);
	measure("sms: ASCII", strdup("Payments are down. @ $ _ # % & * ! ?"), true, 36, 1);
	measure("sms: euro sign is an extension character (2 septets)", strdup("5\xe2\x82\xac"),
		true, 3, 1);
	measure("sms: ^ { } \\ [ ~ ] | and form feed count 2", strdup("^{}\\[~]|\f"), true, 18, 1);
	/* e-acute e-grave a-grave u-umlaut N-tilde sharp-s Delta */
	measure("sms: GSM accented letters are one septet",
		strdup("\xc3\xa9\xc3\xa8\xc3\xa0\xc3\xbc\xc3\x91\xc3\x9f\xce\x94"),
		true, 7, 1);
	measure("sms: \xc5\x91 (outside GSM-7) makes it UCS-2",
		strdup("Hibaelh\xc5\x91r\xc3\xadt\xc3\xa1s"), false, 13, 1);
	measure("sms: c-cedilla and backtick are not GSM-7", strdup("\xc3\xa7`"), false, 2, 1);
	measure("sms: an emoji is a surrogate pair (2 units)", strdup("ok \xf0\x9f\x98\x80"), false, 5, 1);
	measure("sms: invalid UTF-8 counts as U+FFFD per byte", strdup("abc\xff"), false, 4, 1);
	measure("sms: a cut UTF-8 sequence", strdup("a\xe2\x82"), false, 3, 1);
	measure("sms: overlong and surrogate encodings are invalid", strdup("\xc0\xaf\xed\xa0\x80"),
		false, 5, 1);
	measure("sms: GSM 160 septets: 1 segment", rep("a", 160), true, 160, 1);
	measure("sms: GSM 161 septets: 2 segments", rep("a", 161), true, 161, 2);
	measure("sms: GSM 153*2 septets: 2 segments", rep("a", 306), true, 306, 2);
	measure("sms: GSM 153*2+1 septets: 3 segments", rep("a", 307), true, 307, 3);
	measure("sms: GSM 80 euro signs = 160 septets: 1 segment", rep("\xe2\x82\xac", 80), true,
		160, 1);
	measure("sms: GSM 81 euro signs: 2 segments of 76 and 5",
		rep("\xe2\x82\xac", 81), true, 162, 2);
	measure("sms: GSM an escape is not split across segments (306 septets, 3 segments)",
		cat3(rep("a", 152), strdup("\xe2\x82\xac"), rep("a", 152)), true, 306, 3);
	measure("sms: UCS-2 70 units: 1 segment", rep("\xc5\x91", 70), false, 70, 1);
	measure("sms: UCS-2 71 units: 2 segments", rep("\xc5\x91", 71), false, 71, 2);
	measure("sms: UCS-2 67*2 units: 2 segments", rep("\xc5\x91", 134), false, 134, 2);
	measure("sms: UCS-2 67*2+1 units: 3 segments", rep("\xc5\x91", 135), false, 135, 3);
	measure("sms: UCS-2 35 emoji = 70 units: 1 segment", rep("\xf0\x9f\x98\x80", 35), false,
		70, 1);
	measure("sms: UCS-2 a surrogate pair is not split (134 units, 3 segments)",
		cat3(rep("\xc5\x91", 66), strdup("\xf0\x9f\x98\x80"), rep("\xc5\x91", 66)), false,
		134, 3);
	measure("sms: a GSM text with one \xc5\x91 is UCS-2 throughout",
		cat3(rep("a", 100), strdup("\xc5\x91"), NULL), false, 101, 2);
}

/* Fits text (taken) into max segments and checks the outcome against want
 * (taken too): the text kept, or the error. */
static void fit(const char *name, char *text, unsigned max, enum tc_overflow of,
		int want_rc, char *want, bool gsm7, unsigned chars,
		unsigned segments, bool truncated)
{
	struct tc_sms_info info = { 0 };
	struct tc_diag d;
	struct tc_buf b;
	char msg[1200];
	int rc;

	tc_test_begin(name);
	tc_buf_init(&b, TC_LIMIT_BODY);
	(void)tc_buf_adds(&b, text);
	rc = tc_sms_fit(&b, max, of, &info, &d);
	TC_CHECK_INT(rc, want_rc);
	if (rc < 0) {
		tc_diag_format(&d, msg, sizeof(msg));
		TC_CHECK_STR(msg, want);
	} else {
		TC_CHECK_STR(b.data, want);
		TC_CHECK_INT(b.len, strlen(want));
		TC_CHECK_INT(info.gsm7, gsm7);
		TC_CHECK_INT(info.chars, chars);
		TC_CHECK_INT(info.segments, segments);
		TC_CHECK_INT(info.truncated, truncated);
	}
	tc_buf_release(&b);
	free(text);
	free(want);
}

static void sms_fit_cases(void)
{
	fit("sms fit: fits: only the final newline goes", strdup("Payments down.\n"), 1,
	    TC_OVERFLOW_TRUNCATE, 0, strdup("Payments down."), true, 14, 1, false);
	fit("sms fit: invalid UTF-8 becomes U+FFFD", strdup("ab\xff" "c"), 1,
	    TC_OVERFLOW_TRUNCATE, 0, strdup("ab\xef\xbf\xbd" "c"), false, 4, 1, false);
	fit("sms fit: GSM cut to 157 + \"...\" for one segment", rep("a", 200), 1,
	    TC_OVERFLOW_TRUNCATE, 0,
	    cat3(rep("a", 157), strdup("..."), NULL),
	    true, 160, 1, true);
	fit("sms fit: GSM cut to 303 + \"...\" for two segments", rep("a", 400), 2,
	    TC_OVERFLOW_TRUNCATE, 0,
	    cat3(rep("a", 303), strdup("..."), NULL),
	    true, 306, 2, true);

	/* 156 a + euro: prefix + "..." would be 161: the euro sign goes whole */
	fit("sms fit: GSM never splits an extension escape",
	    cat3(rep("a", 156), strdup("\xe2\x82\xac"), rep("a", 10)), 1,
	    TC_OVERFLOW_TRUNCATE, 0,
	    cat3(rep("a", 156), strdup("..."), NULL),
	    true, 159, 1, true);
	fit("sms fit: GSM keeps an extension character that fits",
	    cat3(rep("a", 155), strdup("\xe2\x82\xac"), rep("a", 10)), 1,
	    TC_OVERFLOW_TRUNCATE, 0,
	    cat3(rep("a", 155), strdup("\xe2\x82\xac..."), NULL),
	    true, 160, 1, true);
	fit("sms fit: trailing space before the marker goes",
	    cat3(rep("a", 156), strdup(" "), rep("b", 10)), 1,
	    TC_OVERFLOW_TRUNCATE, 0,
	    cat3(rep("a", 156), strdup("..."), NULL),
	    true, 159, 1, true);

	/* UCS-2: 68 + emoji: prefix + ellipsis would be 71 */
	fit("sms fit: UCS-2 never splits a surrogate pair",
	    cat3(rep("\xc5\x91", 68), strdup("\xf0\x9f\x98\x80"), rep("\xc5\x91", 10)), 1,
	    TC_OVERFLOW_TRUNCATE, 0,
	    cat3(rep("\xc5\x91", 68), strdup("\xe2\x80\xa6"), NULL),
	    false, 69, 1, true);
	fit("sms fit: UCS-2 keeps a surrogate pair that fits",
	    cat3(rep("\xc5\x91", 67), strdup("\xf0\x9f\x98\x80"), rep("\xc5\x91", 10)), 1,
	    TC_OVERFLOW_TRUNCATE, 0,
	    cat3(rep("\xc5\x91", 67), strdup("\xf0\x9f\x98\x80\xe2\x80\xa6"), NULL),
	    false, 70, 1, true);
	fit("sms fit: UCS-2 cut to 133 + ellipsis for two segments", rep("\xc5\x91", 200), 2,
	    TC_OVERFLOW_TRUNCATE, 0,
	    cat3(rep("\xc5\x91", 133), strdup("\xe2\x80\xa6"), NULL),
	    false, 134, 2, true);
	/* the emoji would straddle segments 1 and 2: packed into 2 */
	fit("sms fit: UCS-2 packing is what counts, pairs kept whole",
	    cat3(rep("\xc5\x91", 66), strdup("\xf0\x9f\x98\x80"), rep("\xc5\x91", 80)), 2,
	    TC_OVERFLOW_TRUNCATE, 0,
	    cat3(cat3(rep("\xc5\x91", 66), strdup("\xf0\x9f\x98\x80"), rep("\xc5\x91", 64)),
		 strdup("\xe2\x80\xa6"), NULL),
	    false, 133, 2, true);
	fit("sms fit: a UCS-2 text cut before its only non-GSM character stays UCS-2",
	    cat3(rep("a", 200), strdup("\xc5\x91"), NULL), 1,
	    TC_OVERFLOW_TRUNCATE, 0,
	    cat3(rep("a", 69), strdup("\xe2\x80\xa6"), NULL),
	    false, 70, 1, true);

	fit("sms fit: reject mode", rep("a", 161), 1, TC_OVERFLOW_REJECT, TC_EINVAL,
	    strdup("sms.txt renders to 2 segments, more than channels.sms.max_segments 1"),
	    true, 0, 0, false);
	fit("sms fit: reject mode, 3 segments over 2", rep("\xc5\x91", 135), 2,
	    TC_OVERFLOW_REJECT, TC_EINVAL,
	    strdup("sms.txt renders to 3 segments, more than channels.sms.max_segments 2"),
	    false, 0, 0, false);
	fit("sms fit: reject mode, exactly at the limit", rep("a", 160), 1, TC_OVERFLOW_REJECT,
	    0, rep("a", 160), true, 160, 1, false);

	tc_test_begin("sms fit: every cut of a mixed text fits and is valid UTF-8");
	{
		static const char *const pieces[] = {
			"a", " ", "\xe2\x82\xac", "\xc5\x91", "\xf0\x9f\x98\x80", "^", "\xc3\xa9",
		};
		struct tc_sms_info info, before;
		struct tc_buf b;
		unsigned max, len, k;
		json_t *valid;
		int rc;

		for (max = 1; max <= 4; max++) {
			for (len = 100; len < 700; len += 37) {
				tc_buf_init(&b, TC_LIMIT_BODY);
				for (k = 0; k < len; k++)
					(void)tc_buf_adds(&b, pieces[(k * k + len) % 7]);
				(void)tc_sms_measure(b.data, b.len, &before);
				rc = tc_sms_fit(&b, max, TC_OVERFLOW_TRUNCATE, &info, NULL);
				valid = json_stringn(b.data, b.len); /* NULL: not UTF-8 */
				if (rc != 0 || info.segments > max || !valid ||
				    info.truncated != (before.segments > max))
					tc_test_fail(__FILE__, __LINE__, "max %u len %u: %u segments",
						     max, len, info.segments);
				json_decref(valid);
				tc_buf_release(&b);
			}
		}
	}
}

/* ---- the example templates ----------------------------------------------------------- */

/* Renders every part of every example template for every group over data,
 * each as tocsind would send it. */
static void render_examples(const struct tc_tpl_store *s, json_t *data, const char *how)
{
	static const char *const tpls[] = { "outage", "outage-update", "outage-resolved",
					    "security" };
	static const char *const groups[] = { "", "oncall", "executives", "customers",
					      "status-page" };
	struct tc_member m = { .name = (char *)"Ada Lovelace", .role = (char *)"CTO" };
	struct tc_sms_info info;
	struct tc_diag d;
	char *out, msg[1200];
	struct tc_buf b;
	size_t i, j;
	json_t *v;
	int p;

	for (i = 0; i < sizeof(tpls) / sizeof(tpls[0]); i++) {
		for (j = 0; j < sizeof(groups) / sizeof(groups[0]); j++) {
			tc_test_begin(keep_name("examples: %s for group '%s' renders (%s)",
						tpls[i], groups[j], how));
			(void)tc_tpl_data_set_member(data, groups[j], &m);
			for (p = 0; p < TC_PART_COUNT; p++) {
				out = render(s, tpls[i], groups[j], (enum tc_part)p, data, &d);
				if (!out) {
					tc_diag_format(&d, msg, sizeof(msg));
					tc_test_fail(__FILE__, __LINE__, "%s: %s",
						     tc_part_name((enum tc_part)p), msg);
					continue;
				}
				TC_CHECK(strstr(out, "payments"));
				TC_CHECK(!strstr(out, "{{") && !strstr(out, "}}"));
				if (p == TC_PART_WEBHOOK_JSON) {
					v = json_loads(out, 0, NULL);
					TC_CHECK(json_is_object(v));
					if (strcmp(groups[j], "status-page") != 0) {
						TC_CHECK(json_is_string(json_object_get(v, "text")));
						TC_CHECK(json_is_array(json_object_get(v, "blocks")));
					}
					json_decref(v);
				}
				if (p == TC_PART_EMAIL_HTML)
					TC_CHECK(!strstr(out, "</script>"));
				if (p == TC_PART_SMS_TXT) {
					tc_buf_init(&b, TC_LIMIT_BODY);
					(void)tc_buf_adds(&b, out);
					TC_CHECK_INT(tc_sms_fit(&b, 3, TC_OVERFLOW_REJECT, &info, &d), 0);
					tc_buf_release(&b);
				}
				free(out);
			}
		}
	}
}

static void example_cases(const char *dir)
{
	static const char *const tpls[] = { "outage", "outage-update", "outage-resolved",
					    "security" };
	struct tc_tpl_store *s;
	struct tc_diag d;
	json_t *vars, *data;
	size_t i;

	tc_test_begin("examples: the example templates load, with every part");
	s = expect_loaded(dir);
	if (!s)
		return;
	for (i = 0; i < sizeof(tpls) / sizeof(tpls[0]); i++) {
		TC_CHECK(tc_tpl_store_has(s, tpls[i]));
		TC_CHECK_INT(store_check_channels(s, tpls[i], TC_CH_ALL, &d), 0);
	}
	/* the demo's variables only */
	vars = json_pack("{s:s, s:s}", "service", "payments",
			 "summary", "Card payments are failing for most customers.");
	data = tc_tpl_data_new(vars, "INC-42-initial", "INC-42", "critical");
	json_decref(vars);
	render_examples(s, data, "demo vars");
	json_decref(data);
	/* every variable README.md lists, with hostile text in them */
	vars = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, "
			 "s:s, s:s, s:s}",
			 "service", "payments",
			 "summary", "Card payments fail for \"most\" customers </script>\n(EU & US)",
			 "impact", "About 40% of checkouts fail",
			 "status_url", "https://status.example.org",
			 "next_update", "10:30 UTC",
			 "workaround", "Pay by bank transfer",
			 "commander", "Grace Hopper",
			 "bridge_url", "https://meet.example.org/inc-42",
			 "eta", "11:00 UTC",
			 "resolved_at", "10:42 UTC",
			 "cause", "A configuration change \\ rolled back",
			 "postmortem_url", "https://wiki.example.org/pm/42",
			 "scope", "Customer emails of 2021",
			 "actions", "Rotate your API keys",
			 "contact", "security@example.org");
	data = tc_tpl_data_new(vars, "INC-42-initial", NULL, "high");
	json_decref(vars);
	render_examples(s, data, "every var");
	json_decref(data);
	tc_tpl_store_free(s);
}

int main(int argc, char **argv)
{
	char *examples;
	size_t i;
	int rc;

	examples = tc_test_enter(argc, argv,
				 "test_templates <tests/templates> [<examples/templates>]");
	store_valid();
	store_check();
	store_invalid();
	store_file_size();
	store_count_limits();
	store_bytes_limit();
	data_cases();
	render_cases();
	hostile_cases();
	sms_measure_cases();
	sms_fit_cases();
	if (examples)
		example_cases(examples);
	else if (argc > 2)
		printf("# cannot find %s\n", argv[2]);
	rc = tc_test_done();
	for (i = 0; i < n_names; i++)
		free(names[i]);
	free(names);
	free(examples);
	return rc;
}
