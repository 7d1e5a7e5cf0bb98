/*
 * test_mustache: the Mustache engine. Every test of the spec suite's files
 * (read as they are from the folder given as argv[1]), then tocsin's own
 * cases: compile errors that point, escaping of hostile values, limits
 * crossed, and a count showing that rendering allocates nothing of its own.
 *
 * The executable links with -Wl,--wrap=malloc,calloc,realloc (see
 * tests/meson.build): every allocation made by the engine, tc_buf and, via
 * json_set_alloc_funcs, jansson, goes through the counters below.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "templates/templates.h"
#include "alloc_count.h"
#include "tc_test.h"

static void *json_alloc(size_t n)
{
	return malloc(n);
}

static void json_release(void *p)
{
	free(p);
}

/* ---- helpers ------------------------------------------------------------------ */

/* Case names live until the end: tc_test keeps the pointer. */
static char **names;
static size_t n_names, names_cap;

static const char *keep_name(const char *a, const char *b)
{
	size_t n = strlen(a) + strlen(b) + 1;
	char *s = malloc(n);

	if (!s || (n_names == names_cap &&
		   !(names = realloc(names, (names_cap = names_cap * 2 + 64) *
				     sizeof(char *))))) {
		fprintf(stderr, "out of memory\n");
		exit(2);
	}
	snprintf(s, n, "%s%s", a, b);
	names[n_names++] = s;
	return s;
}

static void free_names(void)
{
	size_t i;

	for (i = 0; i < n_names; i++)
		free(names[i]);
	free(names);
}

/* s (n bytes) with newlines, tabs and other controls made visible, in out. */
static const char *visible(const char *s, size_t n, struct tc_buf *out)
{
	size_t i;

	tc_buf_reset(out);
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '\n')
			(void)tc_buf_adds(out, "\\n");
		else if (ch == '\r')
			(void)tc_buf_adds(out, "\\r");
		else if (ch == '\t')
			(void)tc_buf_adds(out, "\\t");
		else if (ch == '\\')
			(void)tc_buf_adds(out, "\\\\");
		else if (ch < 0x20 || ch == 0x7f)
			(void)tc_buf_printf(out, "\\x%02x", ch);
		else
			(void)tc_buf_addc(out, (char)ch);
	}
	return out->data ? out->data : "";
}

#define CHECK_OUT(got, want) check_out(__FILE__, __LINE__, (got), (want), \
				       strlen(want))

static bool check_out(const char *file, int line, const struct tc_buf *got,
		      const char *want, size_t want_len)
{
	struct tc_buf a, b;
	const char *g = got->data ? got->data : "";

	if (got->len == want_len && memcmp(g, want, want_len) == 0)
		return true;
	tc_buf_init(&a, 1u << 20);
	tc_buf_init(&b, 1u << 20);
	tc_test_fail(file, line, "expected \"%s\", got \"%s\"",
		     visible(want, want_len, &a), visible(g, got->len, &b));
	tc_buf_release(&a);
	tc_buf_release(&b);
	return false;
}

/* Partials from a JSON object name -> text (the spec's "partials"). */
static int json_partial(void *data, const char *name, struct tc_tpl_partial *p)
{
	json_t *v = data ? json_object_get(data, name) : NULL;

	if (!json_is_string(v))
		return -ENOENT;
	p->text = json_string_value(v);
	p->len = json_string_length(v);
	return 0;
}

/* Compiles text with partials (a JSON object, may be NULL), renders data
 * with esc into out. Returns the first failure; d says why. */
static int render_str(const char *text, json_t *partials, json_t *data,
		      enum tc_tpl_escape esc, struct tc_buf *out,
		      struct tc_diag *d)
{
	struct tc_tpl *t = NULL;
	int r;

	r = tc_tpl_compile("test", text, strlen(text), json_partial, partials,
			   &t, d);
	if (r == 0)
		r = tc_tpl_render(t, data, esc, out, d);
	tc_tpl_free(t);
	return r;
}

/* Whether text, with partials (JSON, may be NULL), may read name. */
static bool uses(const char *text, const char *partials_json, const char *name)
{
	json_t *partials = partials_json ? json_loads(partials_json, 0, NULL) : NULL;
	struct tc_tpl *t = NULL;
	struct tc_diag d;
	bool r = false;

	if (tc_tpl_compile("test", text, strlen(text), json_partial, partials, &t, &d) == 0)
		r = tc_tpl_uses(t, name);
	else
		printf("# did not compile: %s\n", d.msg);
	tc_tpl_free(t);
	json_decref(partials);
	return r;
}

static void test_uses(void)
{
	tc_test_begin("uses: a name read anywhere, in any tag that looks it up");
	TC_CHECK(uses("Ack: {{ack_url}}", NULL, "ack_url"));
	TC_CHECK(uses("{{{ack_url}}}", NULL, "ack_url"));
	TC_CHECK(uses("{{&ack_url}}", NULL, "ack_url"));
	TC_CHECK(uses("{{#ack_url}}yes{{/ack_url}}", NULL, "ack_url"));
	TC_CHECK(uses("{{^ack_url}}none{{/ack_url}}", NULL, "ack_url"));
	TC_CHECK(uses("{{ack_url.length}}", NULL, "ack_url"));
	TC_CHECK(uses("{{#member}}{{ack_url}}{{/member}}", NULL, "ack_url"));
	TC_CHECK(uses("{{=<% %>=}}<% ack_url %>", NULL, "ack_url"));

	tc_test_begin("uses: in a partial, a parent or a block");
	TC_CHECK(uses("{{>footer}}", "{\"footer\": \"{{ack_url}}\"}", "ack_url"));
	TC_CHECK(uses("{{>a}}", "{\"a\": \"{{>b}}\", \"b\": \"{{ack_url}}\"}", "ack_url"));
	TC_CHECK(uses("{{<base}}{{$x}}{{ack_url}}{{/x}}{{/base}}", "{\"base\": \"{{$x}}{{/x}}\"}",
		      "ack_url"));
	TC_CHECK(uses("{{<base}}{{/base}}", "{\"base\": \"{{$x}}{{ack_url}}{{/x}}\"}",
		      "ack_url"));

	tc_test_begin("uses: \".\" may be the whole data");
	TC_CHECK(uses("{{.}}", NULL, "ack_url"));
	TC_CHECK(uses("{{#list}}{{.}}{{/list}}", NULL, "ack_url"));

	tc_test_begin("uses: not for other names, text, comments or names inside another");
	TC_CHECK(!uses("{{job.id}} {{member.name}} {{#vars}}{{x}}{{/vars}}", NULL, "ack_url"));
	TC_CHECK(!uses("ack_url {{! ack_url }}", NULL, "ack_url"));
	TC_CHECK(!uses("{{member.ack_url}} {{ack_urls}} {{ack}}", NULL, "ack_url"));
	TC_CHECK(!uses("{{$ack_url}}block{{/ack_url}}", NULL, "ack_url"));
	TC_CHECK(!uses("{{>missing}}", NULL, "ack_url"));
	TC_CHECK(!uses("", NULL, "ack_url"));
}

/* Renders and checks; prints the diagnostic on failure. */
static void expect(const char *text, const char *data_json, const char *want,
		   enum tc_tpl_escape esc)
{
	json_t *data = data_json ? json_loads(data_json, JSON_DECODE_ANY, NULL)
				 : NULL;
	struct tc_diag d;
	struct tc_buf out;
	int r;

	memset(&d, 0, sizeof(d));
	tc_buf_init(&out, TC_LIMIT_BODY);
	r = render_str(text, NULL, data, esc, &out, &d);
	if (r != 0)
		tc_test_fail(__FILE__, __LINE__, "render failed %d: %s", r, d.msg);
	else
		CHECK_OUT(&out, want);
	tc_buf_release(&out);
	json_decref(data);
}

/* ---- the spec suite ----------------------------------------------------------- */

static bool run_spec_test(const char *file, json_t *test)
{
	const char *tpl = json_string_value(json_object_get(test, "template"));
	json_t *want = json_object_get(test, "expected");
	struct tc_tpl *t = NULL;
	struct tc_diag d;
	struct tc_buf out;
	int r;

	memset(&d, 0, sizeof(d));
	tc_buf_init(&out, TC_LIMIT_BODY);
	if (!tpl || !json_is_string(want)) {
		tc_test_fail(__FILE__, __LINE__, "%s: malformed test", file);
		return false;
	}
	r = tc_tpl_compile(file, tpl, strlen(tpl), json_partial,
			   json_object_get(test, "partials"), &t, &d);
	if (r == 0)
		r = tc_tpl_render(t, json_object_get(test, "data"),
				  TC_TPL_ESC_HTML, &out, &d);
	if (r != 0)
		tc_test_fail(__FILE__, __LINE__, "failed %d: %s:%u: %s", r,
			     d.source, d.line, d.msg);
	else if (!check_out(__FILE__, __LINE__, &out, json_string_value(want),
			    json_string_length(want)))
		r = -1;
	tc_tpl_free(t);
	tc_buf_release(&out);
	return r == 0;
}

static void run_spec_file(const char *dir, const char *file)
{
	char path[4096];
	json_error_t err;
	json_t *root, *tests, *test;
	size_t i, passed = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	root = json_load_file(path, 0, &err);
	tests = json_object_get(root, "tests");
	if (!json_is_array(tests) || json_array_size(tests) == 0) {
		tc_test_begin(keep_name("mustache load ", file));
		tc_test_fail(__FILE__, __LINE__, "cannot read %s: %s", path,
			     err.text);
		json_decref(root);
		return;
	}
	json_array_foreach(tests, i, test) {
		const char *name = json_string_value(json_object_get(test, "name"));
		char prefix[256];

		snprintf(prefix, sizeof(prefix), "mustache %s: ", file);
		tc_test_begin(keep_name(prefix, name ? name : "?"));
		passed += run_spec_test(file, test);
	}
	printf("# %s: %zu of %zu passed\n", file, passed, json_array_size(tests));
	json_decref(root);
}

/* ---- compile errors ----------------------------------------------------------- */

static void expect_error(const char *name, const char *text, int want_r,
			 unsigned want_line, const char *want_msg)
{
	struct tc_tpl *t = NULL;
	struct tc_diag d;
	int r;

	tc_test_begin(keep_name("mustache error: ", name));
	memset(&d, 0, sizeof(d));
	r = tc_tpl_compile("templates/outage/email.txt", text, strlen(text),
			   NULL, NULL, &t, &d);
	TC_CHECK_INT(r, want_r);
	TC_CHECK(t == NULL);
	TC_CHECK_STR(d.source, "templates/outage/email.txt");
	TC_CHECK_INT(d.line, want_line);
	if (strncmp(d.msg, want_msg, strlen(want_msg)) != 0)
		tc_test_fail(__FILE__, __LINE__, "message '%s' does not start "
			     "with '%s'", d.msg, want_msg);
	tc_tpl_free(t);
}

static void test_errors(void)
{
	expect_error("unclosed tag", "Hello\n{{name\n", TC_EINVAL, 2,
		     "unclosed tag '{{name': no '}}' follows");
	expect_error("unclosed triple", "{{{name}}", TC_EINVAL, 1,
		     "unclosed tag '{{{name}}': no '}}}' follows");
	expect_error("unclosed section", "a\nb\n{{#items}}\nx\n", TC_EINVAL,
		     4, "unclosed section 'items' opened at line 3");
	expect_error("unclosed block", "{{$body}}\n", TC_EINVAL, 1,
		     "unclosed block 'body' opened at line 1");
	expect_error("unclosed parent", "x\n{{<layout}}\n", TC_EINVAL, 2,
		     "unclosed parent 'layout' opened at line 2");
	expect_error("wrong closing name", "{{#a}}\n{{#b}}\n{{/a}}\n",
		     TC_EINVAL, 3,
		     "closing tag 'a' does not match section 'b' opened at line 2");
	expect_error("closing nothing", "x\n\n{{/a}}", TC_EINVAL, 3,
		     "closing tag 'a' closes nothing");
	expect_error("bad delimiters: one", "{{=<% =}}", TC_EINVAL, 1,
		     "bad delimiter change '<%'");
	expect_error("bad delimiters: equals", "{{=<= %>=}}", TC_EINVAL, 1,
		     "bad delimiter change '<= %>'");
	expect_error("bad delimiters: too long",
		     "{{=<<<<<<<<<<<<<<<<<<<<<< >=}}", TC_EINVAL, 1,
		     "bad delimiter change");
	expect_error("empty name", "{{ }}", TC_EINVAL, 1, "empty tag name");
	expect_error("space in name", "{{a b}}", TC_EINVAL, 1,
		     "bad tag name 'a b'");
	expect_error("empty dotted part", "x\n{{#a..b}}{{/a..b}}", TC_EINVAL, 2,
		     "bad tag name 'a..b'");
	expect_error("leading dot", "{{.a}}", TC_EINVAL, 1, "bad tag name '.a'");
	expect_error("tag inside parent", "{{<p}}{{x}}{{/p}}", TC_EINVAL, 1,
		     "tag 'x' inside parent 'p': only blocks may appear there");
	expect_error("error after delimiter change",
		     "{{=<% %>=}}\n<%#a%>\n<%/b%>", TC_EINVAL, 3,
		     "closing tag 'b' does not match section 'a'");
}

/* Partials for the error cases: a broken footer and a failing callback. */
static int error_partial(void *data, const char *name, struct tc_tpl_partial *p)
{
	static const char footer[] = "Regards,\n{{#team}}\n{{name}}\n";

	if (strcmp(name, "denied") == 0)
		return -EACCES;
	if (strcmp(name, "footer") != 0)
		return -ENOENT;
	p->text = footer;
	p->len = strlen(footer);
	p->source = "templates/partials/footer.mustache";
	return 0;
}

static void test_partial_errors(void)
{
	struct tc_tpl *t = NULL;
	struct tc_diag d;
	char line[1200];
	const char *text = "Hello\n{{>footer}}\n";
	int r;

	tc_test_begin("mustache error: inside a partial names the partial");
	memset(&d, 0, sizeof(d));
	r = tc_tpl_compile("templates/outage/email.txt", text, strlen(text),
			   error_partial, NULL, &t, &d);
	TC_CHECK_INT(r, TC_EINVAL);
	tc_diag_format(&d, line, sizeof(line));
	TC_CHECK_STR(line, "templates/partials/footer.mustache:3: unclosed "
		     "section 'team' opened at line 2");

	tc_test_begin("mustache error: partial callback fails");
	text = "{{>denied}}";
	r = tc_tpl_compile("t", text, strlen(text), error_partial, NULL, &t, &d);
	TC_CHECK_INT(r, -EACCES);
	TC_CHECK_STR(d.source, "partial 'denied'");
	TC_CHECK(strstr(d.msg, "cannot load the partial") != NULL);

	tc_test_begin("mustache: unknown partials and parents render as nothing");
	expect("[{{>nope}}|{{<nope}}{{$b}}x{{/b}}{{/nope}}]", "{}", "[|]",
	       TC_TPL_ESC_HTML);
}

/* ---- escaping ----------------------------------------------------------------- */

static void test_html(void)
{
	tc_test_begin("mustache: HTML escaping");
	expect("{{x}}|{{{x}}}|{{&x}}", "{\"x\": \"<a href=\\\"u\\\">'&'</a>\"}",
	       "&lt;a href=&quot;u&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;|"
	       "<a href=\"u\">'&'</a>|<a href=\"u\">'&'</a>", TC_TPL_ESC_HTML);

	tc_test_begin("mustache: no escaping for plain text");
	expect("{{x}} {{{x}}}", "{\"x\": \"<b>&\\\"\\n\"}",
	       "<b>&\"\n <b>&\"\n", TC_TPL_ESC_NONE);

	tc_test_begin("mustache: escape mode from the file name");
	TC_CHECK_INT(tc_tpl_escape_for("outage/email.html"), TC_TPL_ESC_HTML);
	TC_CHECK_INT(tc_tpl_escape_for("outage/webhook.json"), TC_TPL_ESC_JSON);
	TC_CHECK_INT(tc_tpl_escape_for("outage/sms.txt"), TC_TPL_ESC_NONE);
	TC_CHECK_INT(tc_tpl_escape_for("outage/email.subject"), TC_TPL_ESC_NONE);
	TC_CHECK_INT(tc_tpl_escape_for("README"), TC_TPL_ESC_NONE);
	TC_CHECK_INT(tc_tpl_escape_for(NULL), TC_TPL_ESC_NONE);
}

/* Renders {"m":"{{v}}"} in JSON mode with v = s (n bytes); the result must
 * parse and give back want (wn bytes). */
static void json_roundtrip(const char *s, size_t n, const char *want, size_t wn)
{
	const char *text = "{\"m\":\"{{v}}\",\"k\":\"{{v}}\"}";
	json_t *data = json_object(), *got;
	struct tc_diag d;
	struct tc_buf out;
	json_error_t err;
	const char *m;
	size_t i;
	int r;

	json_object_set_new(data, "v", json_stringn_nocheck(s, n));
	tc_buf_init(&out, TC_LIMIT_BODY);
	r = render_str(text, NULL, data, TC_TPL_ESC_JSON, &out, &d);
	TC_CHECK_INT(r, 0);
	got = json_loadb(out.data, out.len, JSON_ALLOW_NUL, &err);
	if (!got) {
		struct tc_buf v;

		tc_buf_init(&v, 1u << 20);
		tc_test_fail(__FILE__, __LINE__, "does not parse: %s: %s",
			     err.text, visible(out.data, out.len, &v));
		tc_buf_release(&v);
	}
	m = json_string_value(json_object_get(got, "m"));
	TC_CHECK(m != NULL);
	TC_CHECK_INT(json_string_length(json_object_get(got, "m")), wn);
	TC_CHECK(m && memcmp(m, want, wn) == 0);
	TC_CHECK(json_object_size(got) == 2);
	/* nothing an HTML parser would see either */
	TC_CHECK(out.data && !memmem(out.data, out.len, "</", 2));
	for (i = 0; i < out.len; i++)
		TC_CHECK((unsigned char)out.data[i] >= 0x20);
	json_decref(got);
	json_decref(data);
	tc_buf_release(&out);
}

static void test_json(void)
{
	static const char *hostile[] = {
		"a \"quoted\" word", "back\\slash\\", "\\\"", "new\nline\r\n\ttab",
		"</script><script>alert(1)</script>", "\x01\x02\x08\x0c\x1b\x1f\x7f",
		"\"}, \"m\": \"overwritten", "caf\xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x80",
		"line\xe2\x80\xa8sep\xe2\x80\xa9para", "{{v}} <!-- & -->", "",
	};
	size_t i;

	tc_test_begin("mustache: JSON escaping of hostile values round-trips");
	for (i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++)
		json_roundtrip(hostile[i], strlen(hostile[i]), hostile[i],
			       strlen(hostile[i]));
	json_roundtrip("nul\0byte", 8, "nul\0byte", 8);

	tc_test_begin("mustache: JSON escaping replaces invalid UTF-8");
	json_roundtrip("\xff a \xc3 \xed\xa0\x80", 9,
		       "\xef\xbf\xbd a \xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd"
		       "\xef\xbf\xbd", 19);

	tc_test_begin("mustache: JSON escaping output");
	expect("\"{{x}}\"", "{\"x\": \"a\\\"b\\\\c\\nd</e>\\u0001\"}",
	       "\"a\\\"b\\\\c\\nd\\u003c/e\\u003e\\u0001\"", TC_TPL_ESC_JSON);
}

static void test_json_values(void)
{
	const char *text = "{\"d\": {{{d}}}, \"s\": \"{{d}}\", \"n\": {{n}}}";
	json_t *data = json_loads("{\"d\": {\"a\": [1, 2.5, 3.0, true, null, "
				  "\"x\\\"</y>\"], \"b\": {}}, \"n\": -7}", 0, NULL);
	json_t *got, *inner;
	struct tc_diag d;
	struct tc_buf out;
	int r;

	tc_test_begin("mustache: objects render as JSON, in a string or raw");
	tc_buf_init(&out, TC_LIMIT_BODY);
	r = render_str(text, NULL, data, TC_TPL_ESC_JSON, &out, &d);
	TC_CHECK_INT(r, 0);
	got = json_loadb(out.data, out.len, 0, NULL);
	TC_CHECK(got != NULL);
	TC_CHECK(json_equal(json_object_get(got, "d"), json_object_get(data, "d")));
	/* 3.0 stays a real */
	TC_CHECK(json_is_real(json_array_get(json_object_get(
		json_object_get(got, "d"), "a"), 2)));
	inner = json_loads(json_string_value(json_object_get(got, "s")), 0, NULL);
	TC_CHECK(json_equal(inner, json_object_get(data, "d")));
	TC_CHECK_INT(json_integer_value(json_object_get(got, "n")), -7);
	json_decref(inner);
	json_decref(got);
	json_decref(data);
	tc_buf_release(&out);
}

static void test_values(void)
{
	tc_test_begin("mustache: numbers, booleans, null");
	expect("{{i}} {{big}} {{r}} {{r2}} {{r3}} {{r4}} {{r5}} {{t}} {{f}} [{{n}}]",
	       "{\"i\": -42, \"big\": 9007199254740993, \"r\": 0.1, "
	       "\"r2\": 1e100, \"r3\": -2.5, \"r4\": 3.0, \"r5\": 0.30000000000000004, "
	       "\"t\": true, \"f\": false, \"n\": null}",
	       "-42 9007199254740993 0.1 1e+100 -2.5 3 0.30000000000000004 "
	       "true false []", TC_TPL_ESC_HTML);

	tc_test_begin("mustache: falsy values");
	expect("{{#zero}}z{{/zero}}{{^zero}}Z{{/zero}}{{#e}}e{{/e}}{{^e}}E{{/e}}"
	       "{{#o}}o{{/o}}{{#r}}r{{/r}}{{^r}}R{{/r}}",
	       "{\"zero\": 0, \"e\": \"\", \"o\": {}, \"r\": 0.0}", "ZEoR",
	       TC_TPL_ESC_HTML);

	tc_test_begin("mustache: no data");
	expect("a{{x}}b{{#y}}c{{/y}}{{^z}}d{{/z}}{{.}}", NULL, "abd",
	       TC_TPL_ESC_HTML);

	tc_test_begin("mustache: the dispatcher's data");
	expect("{{job.id}} {{severity}}: {{#member}}{{name}} ({{role}}){{/member}} "
	       "{{service}}{{#incident}} #{{incident}}{{/incident}}",
	       "{\"service\": \"api\", \"job\": {\"id\": \"j-1\"}, \"severity\": "
	       "\"critical\", \"member\": {\"name\": \"Ada\", \"role\": \"sre\"}, "
	       "\"incident\": \"\"}", "j-1 critical: Ada (sre) api",
	       TC_TPL_ESC_NONE);

	tc_test_begin("mustache: block indentation (spec PR 131 example)");
	{
		json_t *p = json_pack("{s:s}", "parent",
				      "I say,\n  {{$block}}\n  Hi there!\n  {{/block}}");
		struct tc_buf out;
		struct tc_diag d;

		tc_buf_init(&out, TC_LIMIT_BODY);
		TC_CHECK_INT(render_str("{{<parent}}\n        {{$block}}\n        "
					"Hello\n        {{/block}}\n{{/parent}}",
					p, NULL, TC_TPL_ESC_NONE, &out, &d), 0);
		CHECK_OUT(&out, "I say,\n  Hello\n");
		tc_buf_release(&out);
		json_decref(p);
	}
}

/* ---- limits ------------------------------------------------------------------- */

static void test_source_limit(void)
{
	char *text = malloc(TC_TPL_MAX_SOURCE + 1);
	struct tc_tpl *t = NULL;
	struct tc_diag d;
	int r;

	tc_test_begin("mustache limit: TC_TPL_MAX_SOURCE");
	memset(text, 'a', TC_TPL_MAX_SOURCE + 1);
	r = tc_tpl_compile("big", text, TC_TPL_MAX_SOURCE, NULL, NULL, &t, &d);
	TC_CHECK_INT(r, 0);
	tc_tpl_free(t);
	t = NULL;
	r = tc_tpl_compile("big", text, TC_TPL_MAX_SOURCE + 1, NULL, NULL, &t, &d);
	TC_CHECK_INT(r, TC_ELIMIT);
	TC_CHECK(t == NULL);
	TC_CHECK(strstr(d.msg, "over the limit of 262144") != NULL);
	free(text);
}

/* n nested sections around x. */
static char *nested(int n)
{
	struct tc_buf b;
	int i;

	tc_buf_init(&b, 1u << 20);
	for (i = 0; i < n; i++)
		(void)tc_buf_printf(&b, "{{#s%d}}", i);
	(void)tc_buf_adds(&b, "x");
	for (i = n; i-- > 0;)
		(void)tc_buf_printf(&b, "{{/s%d}}", i);
	return tc_buf_take(&b);
}

static void test_nesting_limit(void)
{
	char *ok = nested(TC_TPL_MAX_NESTING), *over = nested(TC_TPL_MAX_NESTING + 1);
	struct tc_tpl *t = NULL;
	struct tc_diag d;

	tc_test_begin("mustache limit: TC_TPL_MAX_NESTING");
	TC_CHECK_INT(tc_tpl_compile("n", ok, strlen(ok), NULL, NULL, &t, &d), 0);
	tc_tpl_free(t);
	t = NULL;
	TC_CHECK_INT(tc_tpl_compile("n", over, strlen(over), NULL, NULL, &t, &d),
		     TC_ELIMIT);
	TC_CHECK(strstr(d.msg, "nested over 32") != NULL);
	free(ok);
	free(over);
}

static void test_name_limit(void)
{
	char text[TC_TPL_MAX_NAME + 8];
	struct tc_tpl *t = NULL;
	struct tc_diag d;

	tc_test_begin("mustache limit: TC_TPL_MAX_NAME");
	memcpy(text, "{{", 2);
	memset(text + 2, 'n', TC_TPL_MAX_NAME);
	memcpy(text + 2 + TC_TPL_MAX_NAME, "}}", 3);
	TC_CHECK_INT(tc_tpl_compile("n", text, strlen(text), NULL, NULL, &t, &d), 0);
	tc_tpl_free(t);
	t = NULL;
	memcpy(text + 2 + TC_TPL_MAX_NAME, "n}}", 4);
	TC_CHECK_INT(tc_tpl_compile("n", text, strlen(text), NULL, NULL, &t, &d),
		     TC_ELIMIT);
}

/* Partial p<i> includes p<i+1>, up to p<last>, which is text. */
static int chain_partial(void *data, const char *name, struct tc_tpl_partial *p)
{
	char **texts = data;
	char *end;
	long i;

	if (name[0] != 'p')
		return -ENOENT;
	i = strtol(name + 1, &end, 10);
	if (*end || i < 0 || i > 200 || !texts[i])
		return -ENOENT;
	p->text = texts[i];
	p->len = strlen(texts[i]);
	return 0;
}

static int compile_chain(int n, struct tc_tpl **t, struct tc_diag *d)
{
	char *texts[202] = { NULL };
	int i, r;

	for (i = 0; i < n; i++) {
		struct tc_buf b;

		tc_buf_init(&b, 64);
		(void)tc_buf_printf(&b, "{{>p%d}}", i + 1);
		texts[i] = tc_buf_take(&b);
	}
	texts[n] = strdup("end");
	r = tc_tpl_compile("chain", "{{>p0}}", 7, chain_partial, texts, t, d);
	for (i = 0; i <= n; i++)
		free(texts[i]);
	return r;
}

static void test_partials_limit(void)
{
	struct tc_tpl *t = NULL;
	struct tc_diag d;
	struct tc_buf out;

	tc_test_begin("mustache limit: TC_TPL_MAX_PARTIALS");
	tc_buf_init(&out, 100);
	TC_CHECK_INT(compile_chain(TC_TPL_MAX_PARTIALS - 1, &t, &d), 0);
	TC_CHECK_INT(tc_tpl_render(t, NULL, TC_TPL_ESC_NONE, &out, &d), 0);
	CHECK_OUT(&out, "end");
	tc_tpl_free(t);
	t = NULL;
	TC_CHECK_INT(compile_chain(TC_TPL_MAX_PARTIALS, &t, &d), TC_ELIMIT);
	TC_CHECK(t == NULL);
	TC_CHECK(strstr(d.msg, "more than 64 partials") != NULL);
	tc_buf_release(&out);
}

/* {"kids": [{"kids": [... {"kids": []}]}]}, n levels. A leaf needs its
 * empty "kids": else the name resolves further up, and recursion goes on. */
static json_t *tree(int n)
{
	json_t *root = json_object(), *level = root;
	int i;

	for (i = 0; i < n; i++) {
		json_t *kid = json_object();

		json_object_set_new(level, "kids", json_pack("[o]", kid));
		level = kid;
	}
	json_object_set_new(level, "kids", json_array());
	return root;
}

static void test_depth_limit(void)
{
	json_t *p = json_pack("{s:s, s:s}", "loop", "x{{>loop}}",
			      "tree", "{{#kids}}({{>tree}}){{/kids}}");
	json_t *data = tree(20);
	struct tc_diag d;
	struct tc_buf out;

	tc_test_begin("mustache limit: TC_TPL_MAX_DEPTH");
	tc_buf_init(&out, TC_LIMIT_BODY);
	(void)tc_buf_adds(&out, "kept");
	memset(&d, 0, sizeof(d));
	TC_CHECK_INT(render_str("{{>loop}}", p, NULL, TC_TPL_ESC_NONE, &out, &d),
		     TC_ELIMIT);
	CHECK_OUT(&out, "kept"); /* a failed render leaves out as it was */
	TC_CHECK_STR(d.source, "partial 'loop'");
	TC_CHECK_INT(d.line, 1);
	TC_CHECK(strstr(d.msg, "nested over 64 levels at 'loop'") != NULL);

	/* recursion that the data ends: 20 levels of partial + section */
	tc_buf_reset(&out);
	TC_CHECK_INT(render_str("{{>tree}}", p, data, TC_TPL_ESC_NONE, &out, &d), 0);
	CHECK_OUT(&out, "(((((((((((((((((((())))))))))))))))))))");
	/* 31 levels: 63 of nesting (a partial, then a section and a partial
	 * per level); 32 levels: 65, over the limit */
	json_decref(data);
	data = tree(31);
	tc_buf_reset(&out);
	TC_CHECK_INT(render_str("{{>tree}}", p, data, TC_TPL_ESC_NONE, &out, &d), 0);
	TC_CHECK_INT(out.len, 62);
	json_decref(data);
	data = tree(32);
	tc_buf_reset(&out);
	TC_CHECK_INT(render_str("{{>tree}}", p, data, TC_TPL_ESC_NONE, &out, &d),
		     TC_ELIMIT);
	TC_CHECK_INT(out.len, 0);
	json_decref(data);
	json_decref(p);
	tc_buf_release(&out);
}

static void test_value_depth_limit(void)
{
	json_t *data = json_array(), *v = data;
	struct tc_diag d;
	struct tc_buf out;
	int i;

	tc_test_begin("mustache limit: a value nested too deeply to print");
	for (i = 0; i < TC_TPL_MAX_DEPTH + 5; i++) {
		json_t *a = json_array();

		json_array_append_new(v, a);
		v = a;
	}
	tc_buf_init(&out, TC_LIMIT_BODY);
	TC_CHECK_INT(render_str("{{{.}}}", NULL, data, TC_TPL_ESC_NONE, &out, &d),
		     TC_ELIMIT);
	TC_CHECK(strstr(d.msg, "nested over") != NULL);
	json_decref(data);
	tc_buf_release(&out);
}

static void test_output_limit(void)
{
	json_t *data = json_pack("{s:s}", "x", "0123456789");
	struct tc_diag d;
	struct tc_buf out;

	tc_test_begin("mustache limit: the output buffer's max");
	tc_buf_init(&out, 12);
	TC_CHECK_INT(render_str("[{{x}}]", NULL, data, TC_TPL_ESC_HTML, &out, &d), 0);
	CHECK_OUT(&out, "[0123456789]");
	tc_buf_reset(&out);
	(void)tc_buf_adds(&out, "ab");
	TC_CHECK_INT(render_str("[{{x}}]", NULL, data, TC_TPL_ESC_HTML, &out, &d),
		     TC_ELIMIT);
	CHECK_OUT(&out, "ab");
	TC_CHECK_STR(d.source, "test");
	TC_CHECK(strstr(d.msg, "over the limit of 12 bytes at 'x'") != NULL);
	json_decref(data);
	tc_buf_release(&out);
}

/* ---- no allocation while rendering -------------------------------------------- */

static void test_no_alloc(void)
{
	static const char text[] =
		"{{#members}}\n"
		"  {{> line}}\n"
		"{{/members}}\n"
		"{{<layout}}{{$title}}{{job.id}} {{severity}}{{/title}}{{/layout}}\n"
		"{{{details}}} {{details}} {{n}} {{r}} {{#flag}}yes{{/flag}}\n";
	json_t *partials = json_pack("{s:s, s:s}",
		"line", "- {{name}} <{{contact.email}}> \"{{note}}\" {{job.id}}\n",
		"layout", "== {{$title}}untitled{{/title}} ==\n  {{$body}}\n  none\n  {{/body}}\n");
	json_t *data = json_pack("{s:{s:s}, s:s, s:[], s:{s:[i,f,b,n]}, s:i, s:f, s:b}",
		"job", "id", "j-42", "severity", "critical", "members",
		"details", "a", 1, 2.5, 1, "n", 7, "r", 0.25, "flag", 1);
	json_t *members = json_object_get(data, "members");
	struct tc_tpl *t = NULL;
	struct tc_diag d;
	struct tc_buf out;
	size_t before, i;
	char *first;

	tc_test_begin("mustache: rendering allocates nothing of its own");
	for (i = 0; i < 200; i++)
		json_array_append_new(members, json_pack("{s:s, s:{s:s}, s:s}",
			"name", "Ada \"the\" <admin>", "contact", "email",
			"ada@example.com", "note", "line\nbreak\\ \xe2\x80\xa8"));
	TC_CHECK_INT(tc_tpl_compile("alloc", text, strlen(text), json_partial,
				    partials, &t, &d), 0);
	tc_buf_init(&out, TC_LIMIT_BODY);
	TC_CHECK_INT(tc_tpl_render(t, data, TC_TPL_ESC_JSON, &out, &d), 0);
	first = strdup(out.data);
	tc_buf_reset(&out); /* keeps the memory: the next render fits */
	before = tc_allocs();
	TC_CHECK_INT(tc_tpl_render(t, data, TC_TPL_ESC_JSON, &out, &d), 0);
	TC_CHECK_INT(tc_allocs() - before, 0);
	TC_CHECK_STR(out.data, first);
	TC_CHECK(out.len > 200 * 40);
	before = tc_allocs();
	tc_buf_reset(&out);
	TC_CHECK_INT(tc_tpl_render(t, data, TC_TPL_ESC_HTML, &out, &d), 0);
	TC_CHECK_INT(tc_allocs() - before, 0);
	/* and the counter does count */
	before = tc_allocs();
	json_decref(json_pack("{s:i}", "x", 1));
	TC_CHECK(tc_allocs() > before);
	free(first);
	tc_tpl_free(t);
	tc_buf_release(&out);
	json_decref(data);
	json_decref(partials);
}

int main(int argc, char **argv)
{
	static const char *files[] = {
		"comments.json", "delimiters.json", "interpolation.json",
		"inverted.json", "partials.json", "sections.json",
		"~inheritance.json",
	};
	size_t i;
	int r;

	if (argc < 2) {
		fprintf(stderr, "usage: %s MUSTACHE_SPEC_DIR\n", argv[0]);
		return 2;
	}
	json_set_alloc_funcs(json_alloc, json_release);
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		run_spec_file(argv[1], files[i]);
	test_errors();
	test_partial_errors();
	test_html();
	test_json();
	test_json_values();
	test_values();
	test_source_limit();
	test_nesting_limit();
	test_name_limit();
	test_uses();
	test_partials_limit();
	test_depth_limit();
	test_value_depth_limit();
	test_output_limit();
	test_no_alloc();
	r = tc_test_done();
	free_names();
	return r;
}
