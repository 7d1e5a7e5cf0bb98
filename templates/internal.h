/* templates' internal header: shared between templates/ files only. */
#ifndef TC_TEMPLATES_INTERNAL_H
#define TC_TEMPLATES_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

/* Whether text/len is exactly one JSON text (RFC 8259, UTF-8), checked
 * without building it (jsoncheck.c). */
bool tc_json_valid(const char *text, size_t len);

/* ---- mustache's compiled form: mustache.c builds it, mustache_render.c
 * walks it ---------------------------------------------------------------- */
#include <stdint.h>

#include "templates/templates.h"

enum op_kind {
	OP_TEXT,     /* pool bytes, as they are */
	OP_BOL,      /* a line of the text starts: the indentation in force */
	OP_BOL_SOFT, /* a block's content starts mid-line: indent only when the
		      * block it fills stood alone on its line */
	OP_VAR,      /* {{name}}: escaped */
	OP_RAW,      /* {{{name}}}, {{&name}} */
	OP_SECTION,  /* {{#name}}: the body is the ops up to end */
	OP_INVERTED, /* {{^name}} */
	OP_PARTIAL,  /* {{>name}} */
	OP_PARENT,   /* {{<name}}: the body holds only OP_BLOCK overrides */
	OP_BLOCK,    /* {{$name}}: its default content, or an override */
};

#define OPF_STANDALONE 1u /* partial, parent, block: alone on its line */

struct tpl_op {
	uint8_t kind;
	uint8_t flags;
	uint16_t n_parts; /* var, section: name parts; 0 for "." */
	uint32_t line;    /* 1-based, for diagnostics */
	uint32_t str;     /* text: pool offset; var, section: first index in
			   * parts; partial, parent, block: pool name */
	uint32_t len;     /* text: bytes */
	uint32_t end;     /* the index after this op and its body */
	uint32_t target;  /* partial, parent: unit index */
	uint32_t ind;     /* partial, parent, block: pool indentation */
	uint32_t ind_len;
};

/* One compiled text: the template (unit 0) or a partial. */
struct tpl_unit {
	uint32_t name;   /* pool: the partial's name, "" for the template */
	uint32_t source; /* pool: where the text came from */
	struct tpl_op *ops;
	uint32_t n_ops;
	bool missing;    /* no such partial: renders as nothing */
};

struct tc_tpl {
	struct tpl_unit units[TC_TPL_MAX_PARTIALS + 1];
	size_t n_units;
	char *pool;      /* text, names, indentation; referred to by offset */
	size_t pool_len, pool_cap;
	uint32_t *parts; /* pool offsets of NUL-terminated name parts */
	size_t n_parts, parts_cap;
};

/* ---- mustache's compilation, shared by mustache_scan.c and mustache.c -- */
/* A token: text (sigil 0, never past a newline) or a tag. */
struct tok {
	uint32_t start, end;     /* the whole token in the text */
	uint32_t name, name_len; /* a tag's trimmed content */
	uint32_t line;           /* where it starts */
	uint32_t match;          /* opening <-> closing tag */
	char sigil;              /* 'v' for {{name}}, else { & # ^ / ! = > < $ */
	uint8_t flags;
};

#define TF_DROP     1u /* text on a standalone line: not output */
#define TF_ALONE    2u /* tag: stands alone (its line's whitespace goes) */
#define TF_OVERRIDE 4u /* a block directly inside a parent, or its closer */
#define TF_HOLD     8u /* block: opening and closing alone on one line */

struct delims {
	char open[TC_TPL_MAX_DELIM + 1];
	char close[TC_TPL_MAX_DELIM + 2]; /* room for a leading '}' or '=' */
	size_t olen, clen;
};

/* One compilation: the template and its partials, one text at a time. */
struct comp {
	struct tc_tpl *t;
	struct tc_diag *d;
	tc_tpl_partial_fn fn;
	void *fn_data;
	/* the text being compiled */
	uint32_t unit;
	const char *src;
	size_t len;
	const char *source;
	unsigned last_line;
	struct tok *toks;
	size_t n_toks, toks_cap;
};

/* Grows *p (cap elements of size) to hold need. Returns 0 or -ENOMEM. */
int tc_tpl_grow(void **p, size_t *cap, size_t need, size_t size);
/* Fills the diagnostic for an error at line of the current text; returns r. */
int tc_tpl_cerr(struct comp *c, int r, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Splits c's text into tokens. Returns 0 or an error (tc_tpl_cerr said). */
int tc_tpl_tokenize(struct comp *c);
/* Matches each closing tag with its opening one. Same returns. */
int tc_tpl_match_tags(struct comp *c);
/* Marks the tags that stand alone on their line, and what they take. */
void tc_tpl_mark_standalone(struct comp *c);
/* Whether token k ends its line. */
bool tc_tpl_ends_line(const struct comp *c, const struct tok *k);

/* ---- the store's form: store.c loads it, store_lookup.c searches it ---- */
struct tpl_part {
	struct tc_tpl *tpl; /* NULL: no such file */
	char *path;         /* the file it came from */
};

struct tpl_group {
	char *name;
	struct tpl_part part[TC_PART_COUNT];
};

struct tpl_entry {
	char *name;
	struct tpl_part part[TC_PART_COUNT];
	struct tpl_group *groups; /* sorted by name */
	size_t n_groups, cap_groups;
};

struct tc_tpl_store {
	struct tpl_entry *tpls; /* sorted by name */
	size_t n;
};

#endif
