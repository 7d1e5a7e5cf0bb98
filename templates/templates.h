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

/* ---- the Mustache engine ------------------------------------------------ */
/* Mustache as the specification suite defines it (comments, delimiters,
 * interpolation, inverted, partials, sections, ~inheritance; no lambdas).
 * A template compiles once into a flat program; rendering walks it over
 * jansson data without parsing, and allocates nothing of its own: the only
 * memory it takes is the output buffer's growth.
 *
 * Data: names resolve through a stack of contexts, the innermost first;
 * "a.b.c" finds "a" in the stack, then "b" and "c" strictly inside it; "."
 * is the current context. Falsy, as the spec's `!!data`: missing, null,
 * false, 0, 0.0, "" and []. A section iterates an array, pushes any other
 * truthy value once. Values print as: strings as they are, integers in
 * decimal, reals in the shortest form that reads back the same ("1.21"),
 * true/false as words, null as nothing, objects and arrays as compact JSON.
 *
 * Whitespace: a section, inverted, comment, delimiter, partial, block or
 * parent tag alone on its line takes the line with it; a partial or parent
 * alone on its line indents each line of what it includes by the
 * whitespace before it; block content is re-indented from where it is
 * written to where it lands (the spec's ~inheritance rules). */

#define TC_TPL_MAX_SOURCE   (256u << 10) /* one template's or partial's text */
#define TC_TPL_MAX_PARTIALS 64           /* distinct partials and parents one template pulls in */
#define TC_TPL_MAX_NESTING  32           /* sections, blocks, parents open at once in one text */
#define TC_TPL_MAX_DEPTH    64           /* render nesting: sections, partials, parents, blocks */
#define TC_TPL_MAX_NAME     255          /* bytes of a tag's name */
#define TC_TPL_MAX_DELIM    16           /* bytes of a delimiter set with {{=<% %>=}} */

/* How {{name}} is escaped; {{{name}}} and {{&name}} are never escaped. */
enum tc_tpl_escape {
	TC_TPL_ESC_NONE, /* plain text parts: as is */
	TC_TPL_ESC_HTML, /* & < > " ' as entities (the spec's escaping, plus ') */
	TC_TPL_ESC_JSON, /* the inside of a JSON string: \" \\ \n \r \t \b \f,
			  * other controls, DEL, < > & and U+2028/9 as \uXXXX,
			  * invalid UTF-8 as \ufffd: a value cannot leave its
			  * string, nor close a <script> the JSON sits in */
};

/* The escaping a part's file name calls for: TC_TPL_ESC_HTML for ".html"
 * and ".htm", TC_TPL_ESC_JSON for ".json", TC_TPL_ESC_NONE otherwise. */
enum tc_tpl_escape tc_tpl_escape_for(const char *filename);

/* A partial's text, as a tc_tpl_partial_fn hands it over. */
struct tc_tpl_partial {
	const char *text; /* borrowed until tc_tpl_compile returns */
	size_t len;
	const char *source; /* for diagnostics, e.g. "partials/footer.mustache";
			     * borrowed likewise; NULL: "partial 'footer'" */
};

/* Finds the partial (or parent) called name for {{>name}} or {{<name}}.
 * Returns 0 with *p filled, -ENOENT when there is none (it then renders as
 * nothing, as the spec says), or another negative code, which fails the
 * compilation. Called once per distinct name, during tc_tpl_compile only.
 * name is whatever the template wrote (non-empty, no whitespace): the
 * callback decides what is allowed (no "../"). */
typedef int (*tc_tpl_partial_fn)(void *data, const char *name,
				 struct tc_tpl_partial *p);

struct tc_tpl; /* a compiled template and every partial it uses */

/* Compiles text (len bytes, at most TC_TPL_MAX_SOURCE; borrowed for the
 * call) and, once each, the partials it names through partials(data, ...)
 * (partials may be NULL: then none exist). source names the text in
 * diagnostics ("templates/outage/email.txt"); copied.
 * Returns 0 and a new template in *out (free with tc_tpl_free); TC_EINVAL
 * for a syntax error (unclosed tag, section or block, a closing tag naming
 * another section, a bad delimiter change, a bad name, a tag other than a
 * block inside a parent); TC_ELIMIT past a TC_TPL_MAX_ limit; -ENOMEM; or
 * the callback's error. On failure d (may be NULL) says where: source
 * (the partial's, for an error in a partial), 1-based line, message. */
int tc_tpl_compile(const char *source, const char *text, size_t len,
		   tc_tpl_partial_fn partials, void *data, struct tc_tpl **out,
		   struct tc_diag *d);

/* Renders t over data (borrowed; may be NULL: no names resolve) and
 * appends the result to out, escaping {{name}} as esc says. Reads t only,
 * so threads may render one template at once. Returns 0; TC_ELIMIT when
 * the output would pass out->max or nesting passes TC_TPL_MAX_DEPTH (a
 * partial that recurses without end); -ENOMEM. On failure out is as it
 * was and d (may be NULL) names the template, line and reason. */
int tc_tpl_render(const struct tc_tpl *t, const json_t *data,
		  enum tc_tpl_escape esc, struct tc_buf *out, struct tc_diag *d);

/* Frees t; accepts NULL. */
void tc_tpl_free(struct tc_tpl *t);

#endif
