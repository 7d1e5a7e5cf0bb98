/*
 * mustache: the template engine. A template compiles once, at load, into a
 * flat program per text (the template, then each partial it names, each
 * compiled once and referred to by index); rendering walks that program
 * over jansson data.
 *
 * What it keeps true:
 * - Rendering never parses and allocates nothing of its own: names are
 *   split into NUL-terminated parts at compile time, contexts, indentation
 *   and inheritance frames live on the C stack, and the only memory taken
 *   is the output tc_buf's growth.
 * - Everything is bounded: text size, nesting while compiling, partials per
 *   template, nesting while rendering, and the output (the caller's max).
 * - A failed compile leaves *out alone; a failed render leaves out as it
 *   was. Both say where in a tc_diag.
 *
 * Compilation runs in four passes over one text: tokens (text split after
 * each newline, and tags, with delimiter changes applied as they come),
 * structure (each closing tag matched to its opening one), whitespace
 * (which tags stand alone on their line and what they take with them),
 * then the program. Standalone rules for parents and blocks follow the
 * spec's ~inheritance tests: a parent pair stands alone when its opening
 * tag starts its line and its closing tag ends one; a block's content is
 * re-indented from the indentation where it is written (its first line's)
 * to the indentation of the block it fills.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "templates/internal.h"
#include "templates/templates.h"

/* Grows *p (elements of size bytes, *cap of them) to hold need. */
int tc_tpl_grow(void **p, size_t *cap, size_t need, size_t size)
{
	size_t cap2 = *cap ? *cap : 16;
	void *q;

	if (need <= *cap)
		return 0;
	while (cap2 < need)
		cap2 *= 2;
	q = realloc(*p, cap2 * size);
	if (!q)
		return -ENOMEM;
	*p = q;
	*cap = cap2;
	return 0;
}

/* Copies n bytes (and a NUL) into the pool; *off says where. */
static int pool_add(struct tc_tpl *t, const char *s, size_t n, uint32_t *off)
{
	int r = tc_tpl_grow((void **)&t->pool, &t->pool_cap, t->pool_len + n + 1, 1);

	if (r < 0)
		return r;
	if (n)
		memcpy(t->pool + t->pool_len, s, n);
	t->pool[t->pool_len + n] = '\0';
	*off = (uint32_t)t->pool_len;
	t->pool_len += n + 1;
	return 0;
}

bool tc_tpl_uses(const struct tc_tpl *t, const char *name)
{
	const struct tpl_op *op;
	size_t u, i;

	for (u = 0; u < t->n_units; u++)
		for (i = 0; i < t->units[u].n_ops; i++) {
			op = &t->units[u].ops[i];
			if (op->kind != OP_VAR && op->kind != OP_RAW &&
			    op->kind != OP_SECTION && op->kind != OP_INVERTED)
				continue;
			/* "." may be the whole data, printed as JSON. */
			if (op->n_parts == 0 ||
			    strcmp(t->pool + t->parts[op->str], name) == 0)
				return true;
		}
	return false;
}

void tc_tpl_free(struct tc_tpl *t)
{
	size_t i;

	if (!t)
		return;
	for (i = 0; i < t->n_units; i++)
		free(t->units[i].ops);
	free(t->pool);
	free(t->parts);
	free(t);
}

enum tc_tpl_escape tc_tpl_escape_for(const char *filename)
{
	const char *dot = filename ? strrchr(filename, '.') : NULL;

	if (!dot)
		return TC_TPL_ESC_NONE;
	if (strcmp(dot, ".html") == 0 || strcmp(dot, ".htm") == 0)
		return TC_TPL_ESC_HTML;
	if (strcmp(dot, ".json") == 0)
		return TC_TPL_ESC_JSON;
	return TC_TPL_ESC_NONE;
}

/* ---- compiling: the program ----------------------------------------------- */

/* A source range of spaces and tabs. */
struct span {
	uint32_t off, len;
};

struct open_item {
	uint32_t op;
	char sigil;
	struct span strip; /* indentation removed from each line within */
};

struct emitter {
	struct tpl_unit *u;
	size_t ops_cap;
	struct open_item stack[TC_TPL_MAX_NESTING];
	size_t depth;
	bool line_start; /* the next output starts a line of the text */
};

static struct tpl_op *add_op(struct comp *c, struct emitter *e,
			     enum op_kind kind, unsigned line)
{
	struct tpl_op *op;

	if (tc_tpl_grow((void **)&e->u->ops, &e->ops_cap, e->u->n_ops + 1,
		 sizeof(*op)) < 0)
		return NULL;
	op = &e->u->ops[e->u->n_ops++];
	memset(op, 0, sizeof(*op));
	op->kind = (uint8_t)kind;
	op->line = line;
	op->end = e->u->n_ops;
	return op;
}

static int add_simple(struct comp *c, struct emitter *e, enum op_kind kind,
		      unsigned line)
{
	return add_op(c, e, kind, line) ? 0 : -ENOMEM;
}

static struct span top_strip(const struct emitter *e)
{
	struct span none = { 0, 0 };

	return e->depth ? e->stack[e->depth - 1].strip : none;
}

/* ws with the part it shares with strip taken off the front. */
static struct span unstrip(const struct comp *c, struct span ws,
			   struct span strip)
{
	uint32_t n = 0;

	while (n < ws.len && n < strip.len &&
	       c->src[ws.off + n] == c->src[strip.off + n])
		n++;
	ws.off += n;
	ws.len -= n;
	return ws;
}

/* The whitespace between the start of tag i's line and the tag. */
static struct span leading_ws(const struct comp *c, size_t i)
{
	uint32_t at = c->toks[i].start, from = at;
	struct span s;

	while (from > 0 && c->src[from - 1] != '\n')
		from--;
	s.off = from;
	s.len = at - from;
	return s;
}

/* The indentation of the first line with anything on it between from and
 * to; false when there is none. */
static bool first_indent(const struct comp *c, size_t from, size_t to,
			 struct span *out)
{
	while (from < to) {
		size_t q = from;

		while (q < to && (c->src[q] == ' ' || c->src[q] == '\t'))
			q++;
		if (q < to && c->src[q] != '\n' && c->src[q] != '\r') {
			out->off = (uint32_t)from;
			out->len = (uint32_t)(q - from);
			return true;
		}
		while (q < to && c->src[q] != '\n')
			q++;
		from = q + 1;
	}
	return false;
}

/* Where the line after tag i's starts. */
static size_t next_line(const struct comp *c, size_t i)
{
	const char *nl = memchr(c->src + c->toks[i].end, '\n',
				c->len - c->toks[i].end);

	return nl ? (size_t)(nl - c->src) + 1 : c->len;
}

/* The intrinsic indentation of a block whose opening tag i stands alone:
 * its first content line's, else fallback. */
static struct span block_indent(const struct comp *c, size_t i,
				struct span fallback)
{
	struct span s;

	if (first_indent(c, next_line(c, i), c->toks[c->toks[i].match].start,
			 &s))
		return s;
	return fallback;
}

static int set_indent(struct comp *c, struct tpl_op *op, struct span s)
{
	op->ind_len = s.len;
	return pool_add(c->t, c->src + s.off, s.len, &op->ind);
}

/* Splits a dotted name into pool strings; "." has no parts. */
static int add_name_parts(struct comp *c, const struct tok *k,
			  struct tpl_op *op)
{
	const char *s = c->src + k->name, *end = s + k->name_len;
	int r;

	op->str = (uint32_t)c->t->n_parts;
	if (k->name_len == 1 && s[0] == '.')
		return 0;
	while (s < end) {
		const char *dot = memchr(s, '.', (size_t)(end - s));
		const char *e = dot ? dot : end;
		uint32_t off;

		r = pool_add(c->t, s, (size_t)(e - s), &off);
		if (r == 0)
			r = tc_tpl_grow((void **)&c->t->parts, &c->t->parts_cap,
				 c->t->n_parts + 1, sizeof(uint32_t));
		if (r < 0)
			return r;
		c->t->parts[c->t->n_parts++] = off;
		op->n_parts++;
		s = e + 1;
	}
	return 0;
}

/* The unit for a partial's name, added (to compile later) if new. */
static int unit_for(struct comp *c, const struct tok *k, uint32_t *index)
{
	struct tc_tpl *t = c->t;
	struct tpl_unit *u;
	size_t i;
	int r;

	for (i = 1; i < t->n_units; i++) {
		const char *name = t->pool + t->units[i].name;

		if (strlen(name) == k->name_len &&
		    memcmp(name, c->src + k->name, k->name_len) == 0) {
			*index = (uint32_t)i;
			return 0;
		}
	}
	if (t->n_units > TC_TPL_MAX_PARTIALS)
		return tc_tpl_cerr(c, TC_ELIMIT, k->line, "partial '%.*s': more than "
			    "%d partials in one template", (int)k->name_len,
			    c->src + k->name, TC_TPL_MAX_PARTIALS);
	u = &t->units[t->n_units];
	memset(u, 0, sizeof(*u));
	r = pool_add(t, c->src + k->name, k->name_len, &u->name);
	if (r < 0)
		return r;
	*index = (uint32_t)t->n_units++;
	return 0;
}

/* Opens op's body; match_tags made sure the stack has room. */
static void push(struct emitter *e, const struct tpl_op *op, char sigil,
		 struct span strip)
{
	struct open_item *it = &e->stack[e->depth++];

	it->op = (uint32_t)(op - e->u->ops);
	it->sigil = sigil;
	it->strip = strip;
}

static int emit_text(struct comp *c, struct emitter *e, size_t i)
{
	const struct tok *k = &c->toks[i];
	struct span s = { k->start, k->end - k->start };
	struct tpl_op *op;
	int r;

	if (k->flags & TF_DROP) {
		if (tc_tpl_ends_line(c, k))
			e->line_start = true;
		return 0;
	}
	if (e->line_start) {
		s = unstrip(c, s, top_strip(e));
		if (s.len == 0)
			return 0; /* only indentation: the line starts later */
		r = add_simple(c, e, OP_BOL, k->line);
		if (r < 0)
			return r;
		e->line_start = false;
	}
	op = add_op(c, e, OP_TEXT, k->line);
	if (!op)
		return -ENOMEM;
	op->len = s.len;
	r = pool_add(c->t, c->src + s.off, s.len, &op->str);
	if (tc_tpl_ends_line(c, k))
		e->line_start = true;
	return r;
}

/* {{$name}} outside a parent: where content goes, its default inside. */
static int emit_site(struct comp *c, struct emitter *e, size_t i,
		     struct tpl_op *op)
{
	const struct tok *k = &c->toks[i];
	struct span strip = top_strip(e), none = { 0, 0 }, ind = none;
	int r;

	if (k->flags & TF_ALONE) {
		op->flags |= OPF_STANDALONE;
		strip = block_indent(c, i, leading_ws(c, i));
		ind = unstrip(c, strip, top_strip(e));
	} else if (k->flags & TF_HOLD) {
		ind = unstrip(c, leading_ws(c, i), strip);
	}
	r = set_indent(c, op, ind);
	if (r < 0)
		return r;
	push(e, op, '$', strip);
	/* content that starts mid-line */
	return (k->flags & TF_ALONE) ? 0 : add_simple(c, e, OP_BOL_SOFT, k->line);
}

static int emit_named(struct comp *c, struct tpl_op *op, const struct tok *k)
{
	return pool_add(c->t, c->src + k->name, k->name_len, &op->str);
}

/* A partial or a parent: the unit it names, its indentation if alone. */
static int emit_include(struct comp *c, struct emitter *e, size_t i,
			struct tpl_op *op)
{
	const struct tok *k = &c->toks[i];
	struct span none = { 0, 0 };
	int r;

	r = emit_named(c, op, k);
	if (r == 0)
		r = unit_for(c, k, &op->target);
	if (r < 0)
		return r;
	if (k->flags & TF_ALONE)
		op->flags |= OPF_STANDALONE;
	return set_indent(c, op, k->flags & TF_ALONE ?
			  unstrip(c, leading_ws(c, i), top_strip(e)) : none);
}

static int emit_close(struct comp *c, struct emitter *e, size_t i)
{
	struct open_item *it = &e->stack[--e->depth];

	e->u->ops[it->op].end = e->u->n_ops;
	if (it->sigil == '<')
		e->line_start = false; /* a dropped line end says otherwise */
	return 0;
}

static enum op_kind tag_kind(char sigil)
{
	switch (sigil) {
	case '{': case '&': return OP_RAW;
	case '#': return OP_SECTION;
	case '^': return OP_INVERTED;
	case '>': return OP_PARTIAL;
	case '<': return OP_PARENT;
	case '$': return OP_BLOCK;
	default: return OP_VAR;
	}
}

static int emit_tag(struct comp *c, struct emitter *e, size_t i)
{
	const struct tok *k = &c->toks[i];
	struct tpl_op *op;
	int r;

	if (k->sigil == '!' || k->sigil == '=')
		return 0;
	if (k->sigil == '/')
		return emit_close(c, e, i);
	if (!(k->flags & TF_ALONE) && e->line_start) {
		r = add_simple(c, e, OP_BOL, k->line);
		if (r < 0)
			return r;
		e->line_start = false;
	}
	op = add_op(c, e, tag_kind(k->sigil), k->line);
	if (!op)
		return -ENOMEM;
	switch (k->sigil) {
	case '#': case '^':
		r = add_name_parts(c, k, op);
		break;
	case '>':
		return emit_include(c, e, i, op);
	case '<':
		r = emit_include(c, e, i, op);
		break;
	case '$':
		r = emit_named(c, op, k);
		return r < 0 ? r : emit_site(c, e, i, op);
	default:
		return add_name_parts(c, k, op);
	}
	if (r == 0)
		push(e, op, k->sigil, top_strip(e));
	return r;
}

/* Inside a parent: only block overrides make ops; text is not output. */
static int emit_in_parent(struct comp *c, struct emitter *e, size_t i)
{
	const struct tok *k = &c->toks[i];
	struct span none = { 0, 0 }, strip = none;
	struct tpl_op *op;
	int r;

	if (k->sigil == '/')
		return emit_close(c, e, i);
	if (k->sigil != '$')
		return 0;
	op = add_op(c, e, OP_BLOCK, k->line);
	if (!op)
		return -ENOMEM;
	r = emit_named(c, op, k);
	if (r < 0)
		return r;
	if (k->flags & TF_ALONE)
		strip = block_indent(c, i, none);
	push(e, op, '$', strip);
	e->line_start = false; /* the dropped line end sets it */
	return (k->flags & TF_ALONE) ? 0 : add_simple(c, e, OP_BOL_SOFT, k->line);
}

/* Pass 4: the program of the current text into its unit. */
static int emit_ops(struct comp *c)
{
	struct emitter e;
	size_t i;
	int r = 0;

	memset(&e, 0, sizeof(e));
	e.u = &c->t->units[c->unit];
	e.line_start = true;
	for (i = 0; i < c->n_toks && r == 0; i++) {
		bool in_parent = e.depth && e.stack[e.depth - 1].sigil == '<';

		if (in_parent)
			r = emit_in_parent(c, &e, i);
		else if (c->toks[i].sigil)
			r = emit_tag(c, &e, i);
		else
			r = emit_text(c, &e, i);
	}
	return r;
}

/* Compiles one text into unit ui. */
static int compile_text(struct comp *c, uint32_t ui, const char *source,
			const char *text, size_t len)
{
	struct tpl_unit *u = &c->t->units[ui];
	int r;

	c->unit = ui;
	c->src = text;
	c->len = len;
	c->source = source;
	c->n_toks = 0;
	r = pool_add(c->t, source, strlen(source), &u->source);
	if (r < 0)
		return r;
	if (len > TC_TPL_MAX_SOURCE)
		return tc_tpl_cerr(c, TC_ELIMIT, 0, "template of %zu bytes, over the "
			    "limit of %u", len, TC_TPL_MAX_SOURCE);
	r = tc_tpl_tokenize(c);
	if (r == 0)
		r = tc_tpl_match_tags(c);
	if (r < 0)
		return r;
	tc_tpl_mark_standalone(c);
	return emit_ops(c);
}

static const char *err_text(int r, char *buf, size_t n)
{
	if (r == TC_EINVAL)
		return "invalid";
	if (r == TC_ELIMIT)
		return "over a limit";
	return strerror_r(-r, buf, n);
}

/* Fetches partial ui through the callback and compiles it. */
static int compile_partial(struct comp *c, uint32_t ui)
{
	struct tpl_unit *u = &c->t->units[ui];
	const char *name = c->t->pool + u->name;
	struct tc_tpl_partial p = { NULL, 0, NULL };
	char source[TC_TPL_MAX_NAME + 16], eb[128];
	int r = c->fn ? c->fn(c->fn_data, name, &p) : -ENOENT;

	if (r == -ENOENT || (r == 0 && !p.text)) {
		u->missing = true;
		return 0;
	}
	snprintf(source, sizeof(source), "partial '%s'", name);
	if (r < 0) {
		if (c->d)
			tc_diag_set(c->d, source, 0, NULL, "cannot load the "
				    "partial: %s", err_text(r, eb, sizeof(eb)));
		return r;
	}
	return compile_text(c, ui, p.source ? p.source : source, p.text, p.len);
}

int tc_tpl_compile(const char *source, const char *text, size_t len,
		   tc_tpl_partial_fn partials, void *data, struct tc_tpl **out,
		   struct tc_diag *d)
{
	struct comp c;
	uint32_t ui;
	int r;

	memset(&c, 0, sizeof(c));
	c.d = d;
	c.fn = partials;
	c.fn_data = data;
	c.t = calloc(1, sizeof(*c.t));
	if (!c.t)
		return -ENOMEM;
	c.t->n_units = 1;
	r = pool_add(c.t, "", 0, &c.t->units[0].name);
	if (r == 0)
		r = compile_text(&c, 0, source ? source : "template", text, len);
	/* partials named along the way, each once, in the order met */
	for (ui = 1; r == 0 && ui < c.t->n_units; ui++)
		r = compile_partial(&c, ui);
	free(c.toks);
	if (r < 0) {
		if (r == -ENOMEM && d)
			tc_diag_set(d, source, 0, NULL, "out of memory");
		tc_tpl_free(c.t);
		return r;
	}
	*out = c.t;
	return 0;
}
