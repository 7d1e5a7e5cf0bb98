/*
 * templates: the template store, the Mustache engine, the data a message
 * renders over, and SMS encoding.
 *
 * A template is a folder of parts under the configured templates folder
 * (DESIGN.md, "Templates"). The store reads and compiles every part and
 * partial once, at load, reporting every error with file and line; after
 * that, rendering touches no disk and a loaded store is read-only, so any
 * thread may render from it.
 */
#ifndef TC_TEMPLATES_H
#define TC_TEMPLATES_H

#include <stdbool.h>
#include <stddef.h>

#include "common/common.h"
#include "config/config.h" /* enum tc_overflow */

struct tc_tpl; /* a compiled template: the engine, below */

/* ---- the template store --------------------------------------------------- */
/* Layout of the folder:
 *   <dir>/<template>/<part>          email.subject email.txt email.html
 *                                    sms.txt webhook.json (each optional)
 *   <dir>/<template>/<group>/<part>  overrides that part for group <group>
 *   <dir>/partials/<name>.mustache   {{> name}} includes it
 * Names starting with "." are ignored everywhere (.gitkeep, editor files),
 * and so are plain files directly in <dir> (a README). Anything else is an
 * error: an unknown file in a template or group folder, a folder inside a
 * group folder, a partial not named <name>.mustache. A {{> name}} with no
 * partials/<name>.mustache is an error too (the spec renders it as nothing;
 * in a message written ahead of a crisis it is a typo). */

#define TC_TPL_MAX_TEMPLATES     4096            /* template folders in dir */
#define TC_TPL_MAX_GROUPS        TC_LIMIT_GROUPS /* group overrides per template */
#define TC_TPL_MAX_PARTIAL_FILES 1024            /* files in dir/partials */
#define TC_TPL_MAX_ENTRIES       8192            /* entries read from one folder */
#define TC_TPL_MAX_STORE_BYTES   (64u << 20)     /* text compiled in all: parts
						  * and each partial they include */

/* The parts of a template, one file each. */
enum tc_part {
	TC_PART_EMAIL_SUBJECT, /* "email.subject": one line */
	TC_PART_EMAIL_TXT,     /* "email.txt": the plain-text body */
	TC_PART_EMAIL_HTML,    /* "email.html": optional HTML alternative */
	TC_PART_SMS_TXT,       /* "sms.txt" */
	TC_PART_WEBHOOK_JSON,  /* "webhook.json": the POST body */
	TC_PART_COUNT
};

/* The part's file name ("email.subject", ...); "?" for a value out of
 * range. Escaping for a part: tc_tpl_escape_for(tc_part_name(p)). */
const char *tc_part_name(enum tc_part p);
/* The part named name, or -1. */
int tc_part_parse(const char *name);

struct tc_tpl_store;

/* Loads every template under dir: reads each part and partial (plain
 * blocking reads: call it at start, from the CLI, or off the loop) and
 * compiles it. Diagnostics name the file as dir + "/outage/email.txt", so a
 * relative dir gives relative names. Returns 0 and a new store in *out (free
 * with tc_tpl_store_free); TC_EINVAL with every error added to ds (each
 * once, with file and line where there is one); -ENOMEM. Nothing is
 * written to *out on failure. */
int tc_tpl_store_load(const char *dir, struct tc_tpl_store **out,
		      struct tc_diags *ds);
/* Frees the store and every template in it; accepts NULL. */
void tc_tpl_store_free(struct tc_tpl_store *s);
/* Whether a template of that name exists (a folder, even an empty one). */
bool tc_tpl_store_has(const struct tc_tpl_store *s, const char *name);

/* The compiled part p of template tpl for group: the group's override when
 * it has one (group may be NULL or "" for a job's ad-hoc recipients), else
 * the template's own, else NULL (no such part, or no such template).
 * Borrowed for the store's life. */
const struct tc_tpl *tc_tpl_store_part(const struct tc_tpl_store *s,
				       const char *tpl, const char *group,
				       enum tc_part p);
/* The file the same part came from ("templates/outage/executives/email.txt"),
 * for diagnostics; NULL when tc_tpl_store_part gives NULL. Borrowed for the
 * store's life. */
const char *tc_tpl_store_part_path(const struct tc_tpl_store *s,
				   const char *tpl, const char *group,
				   enum tc_part p);

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

/* Whether a render of t may read name (one name part, like "ack_url")
 * from the data: true when t or a partial it includes has a variable,
 * section or inverted section whose name starts with that part (names
 * resolve through the context stack, so {{ack_url}} inside any section
 * may reach the top level), or a "." tag (the context may be the whole
 * data, printed as JSON). false means no render of t reads name, whatever
 * the data, so the caller may leave it out. */
bool tc_tpl_uses(const struct tc_tpl *t, const char *name);

/* Frees t; accepts NULL. */
void tc_tpl_free(struct tc_tpl *t);

/* ---- render data -------------------------------------------------------------- */
/* What a message renders over (DESIGN.md): the job's vars at the top level,
 * then job.id, incident, severity, group, member.{name,role,email,phone}
 * and ack_url. Build it once per job, then set the member per delivery. */

/* A new object: vars' members (borrowed; may be NULL; copied shallowly:
 * the values are shared, not copied), then "job": {"id": job_id},
 * "incident" (absent when NULL), "severity" (absent when NULL) and
 * "ack_url": "" (a later release signs acknowledgement links). The reserved
 * names win over vars of the same name (intake refuses those anyway).
 * Strings are borrowed for the call. Returns a new reference (release with
 * json_decref), NULL if out of memory. */
json_t *tc_tpl_data_new(json_t *vars, const char *job_id, const char *incident,
			const char *severity);

/* Sets "group" (group, or "" for none) and "member": {"name", "role",
 * "email", "phone"} (the fields m has; m borrowed for the call) on data,
 * replacing what a previous call set. Cheap: one call per delivery reuses
 * the member object. Member strings are taken as they are (no UTF-8
 * check: a roster is bytes; the engine's JSON escaping turns invalid
 * UTF-8 into \ufffd). Returns 0, or -ENOMEM (data may then lack "member").
 * Not for data shared with a thread rendering at the same time. */
int tc_tpl_data_set_member(json_t *data, const char *group,
			   const struct tc_member *m);

/* Sets "ack_url" (url, "" for none) on data, reusing the previous
 * string. Returns 0 or -ENOMEM. */
int tc_tpl_data_set_ack_url(json_t *data, const char *url);

/* Renders part p (compiled t, e.g. from tc_tpl_store_part) over data and
 * appends it to out, with the part's escaping (tc_tpl_escape_for), then
 * applies the part's rules:
 * - email.subject: every line break (CR, LF, CRLF, U+0085, U+2028, U+2029)
 *   becomes one space, and leading and trailing spaces and tabs go: a
 *   subject is one header line, whatever a variable holds;
 * - webhook.json: the result must parse as JSON (any JSON text; "\u0000"
 *   allowed), else TC_EINVAL with d "webhook.json does not render to valid
 *   JSON: <jansson's error> at line N". A permanent failure: the same data
 *   renders the same way on every retry;
 * - the others as rendered (SMS length: tc_sms_fit).
 * Returns 0; TC_EINVAL as above; TC_ELIMIT past out->max or the engine's
 * nesting limit; -ENOMEM. On failure out is as it was and d (may be NULL)
 * says why. Reads t and data only: threads may render at once. */
int tc_tpl_render_part(const struct tc_tpl *t, enum tc_part p, const json_t *data,
		       struct tc_buf *out, struct tc_diag *d);

/* ---- SMS encoding ------------------------------------------------------------- */
/* GSM 03.38 (the default alphabet and its extension table) when every
 * character has a septet, else UCS-2. A single message holds 160 septets
 * or 70 UTF-16 units; a multipart message 153 or 67 per segment (the rest
 * is the concatenation header). Extension characters (^ { } \ [ ~ ] |,
 * the euro sign and form feed) take two septets, characters outside the
 * BMP (emoji) two UTF-16 units, and neither pair is ever split across two
 * segments, as handsets and providers pack them. Invalid UTF-8 counts as
 * U+FFFD, one byte at a time, which makes the text UCS-2. */

#define TC_SMS_GSM_SINGLE   160 /* septets in a single message */
#define TC_SMS_GSM_MULTI    153 /* septets per segment of a multipart message */
#define TC_SMS_UCS2_SINGLE  70  /* UTF-16 units in a single message */
#define TC_SMS_UCS2_MULTI   67  /* UTF-16 units per segment */

struct tc_sms_info {
	bool gsm7;         /* GSM-7; false: UCS-2 */
	unsigned chars;    /* septets for GSM-7 (extension characters count
			    * 2), UTF-16 units for UCS-2 */
	unsigned segments; /* 1 for an empty text */
	bool truncated;    /* tc_sms_fit cut the text */
};

/* Measures len bytes of UTF-8 text (borrowed; need not be NUL-terminated).
 * Returns 0 and fills *info (truncated is false). */
int tc_sms_measure(const char *utf8, size_t len, struct tc_sms_info *info);

/* Makes text (the rendered sms.txt) fit max_segments (>= 1). First,
 * trailing whitespace is dropped (a template file's final newline) and
 * invalid UTF-8 replaced by U+FFFD, so that what is measured is what is
 * sent. If it then fits, that is all. If not, with TC_OVERFLOW_TRUNCATE it
 * is cut at a character boundary (never inside a UTF-8 sequence, an
 * extension escape or a surrogate pair), trailing whitespace dropped, and
 * a marker appended that the encoding has: an ellipsis (U+2026, one
 * UTF-16 unit) for UCS-2, "..." for GSM-7, which has no ellipsis. With
 * TC_OVERFLOW_REJECT it returns TC_EINVAL with d (may be NULL) "sms.txt
 * renders to N segments, more than channels.sms.max_segments M".
 * Returns 0 and fills *info (may be NULL) for the text as it now is
 * (truncated tells whether it was cut); TC_EINVAL as said; TC_ELIMIT when
 * replacing invalid UTF-8 passes text->max; -ENOMEM. */
int tc_sms_fit(struct tc_buf *text, unsigned max_segments,
	       enum tc_overflow overflow, struct tc_sms_info *info,
	       struct tc_diag *d);

#endif
