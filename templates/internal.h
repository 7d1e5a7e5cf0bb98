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

#endif
