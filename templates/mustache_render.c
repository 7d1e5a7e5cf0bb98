/*
 * mustache, rendering: walks a compiled program (mustache.c compiles it)
 * over jansson data. Allocates nothing of its own: contexts, indentation
 * and inheritance frames live on the C stack, and the only memory taken is
 * the output tc_buf's growth; a failed render leaves the output as it was.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "templates/internal.h"
#include "templates/templates.h"

/* ---- rendering: values ------------------------------------------------------ */

struct rstate {
	const struct tc_tpl *t;
	struct tc_buf *out;
	struct tc_diag *d;
	enum tc_tpl_escape esc;
	unsigned depth;
	bool deep;        /* TC_TPL_MAX_DEPTH was crossed */
	bool diag_set;
	int first;        /* how the first line of a block's content starts */
	size_t first_len; /* out->len when that block began */
};

enum { FIRST_NONE, FIRST_EMIT, FIRST_SKIP };

/* Where escaped or raw bytes go. */
typedef int (*sink_fn)(struct rstate *rs, const char *s, size_t n);

static int sink_raw(struct rstate *rs, const char *s, size_t n)
{
	return tc_buf_add(rs->out, s, n);
}

static int sink_html(struct rstate *rs, const char *s, size_t n)
{
	return tc_buf_add_html(rs->out, s, n);
}

/* The escape for an ASCII byte inside a JSON string, NULL when none. */
static const char *json_ascii_escape(unsigned char ch, char *buf)
{
	static const char hex[] = "0123456789abcdef";

	switch (ch) {
	case '"': return "\\\"";
	case '\\': return "\\\\";
	case '\n': return "\\n";
	case '\r': return "\\r";
	case '\t': return "\\t";
	case '\b': return "\\b";
	case '\f': return "\\f";
	}
	if (ch >= 0x20 && ch != 0x7f && ch != '<' && ch != '>' && ch != '&')
		return NULL;
	memcpy(buf, "\\u00", 4);
	buf[4] = hex[ch >> 4];
	buf[5] = hex[ch & 15];
	buf[6] = '\0';
	return buf;
}

/* The escape for the byte sequence at s, NULL when it is fine; *adv is
 * how many bytes it covers. */
static const char *json_escape_at(const unsigned char *s, size_t n,
				  char *buf, size_t *adv)
{
	uint32_t cp;
	size_t len;

	*adv = 1;
	if (s[0] < 0x80)
		return json_ascii_escape(s[0], buf);
	len = tc_utf8_decode(s, n, &cp);
	if (!len)
		return "\\ufffd";
	*adv = len;
	if (cp == 0x2028)
		return "\\u2028";
	if (cp == 0x2029)
		return "\\u2029";
	return NULL;
}

/* Writes s as the inside of a JSON string into sink. */
static int json_quote(struct rstate *rs, const char *s, size_t n, sink_fn sink)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, run = 0, adv;
	char buf[8];
	int r;

	while (i < n) {
		const char *esc = json_escape_at(u + i, n - i, buf, &adv);

		if (!esc) {
			i += adv;
			continue;
		}
		r = sink(rs, s + run, i - run);
		if (r == 0)
			r = sink(rs, esc, strlen(esc));
		if (r < 0)
			return r;
		i += adv;
		run = i;
	}
	return sink(rs, s + run, n - run);
}

static int sink_json(struct rstate *rs, const char *s, size_t n)
{
	return json_quote(rs, s, n, sink_raw);
}

static sink_fn sink_for(const struct rstate *rs, bool raw)
{
	if (raw || rs->esc == TC_TPL_ESC_NONE)
		return sink_raw;
	return rs->esc == TC_TPL_ESC_HTML ? sink_html : sink_json;
}

/* The shortest of %.15g, %.16g, %.17g that reads back as x. */
static int format_real(double x, char *buf, size_t n)
{
	int prec, len = 0;

	for (prec = 15; prec <= 17; prec++) {
		len = snprintf(buf, n, "%.*g", prec, x);
		if (strtod(buf, NULL) == x)
			break;
	}
	return len;
}

/* The text of a scalar in buf (64 bytes) or in the value; false for
 * objects and arrays. */
static bool scalar_text(const json_t *v, char *buf, const char **s, size_t *n)
{
	int len;

	switch (json_typeof(v)) {
	case JSON_STRING:
		*s = json_string_value(v);
		*n = json_string_length(v);
		return true;
	case JSON_INTEGER:
		len = snprintf(buf, 64, "%" JSON_INTEGER_FORMAT,
			       json_integer_value(v));
		break;
	case JSON_REAL:
		len = format_real(json_real_value(v), buf, 64);
		break;
	case JSON_TRUE:
		len = snprintf(buf, 64, "true");
		break;
	case JSON_FALSE:
		len = snprintf(buf, 64, "false");
		break;
	case JSON_NULL:
		len = 0;
		break;
	default:
		return false;
	}
	*s = buf;
	*n = (size_t)len;
	return true;
}

static int dump_json(struct rstate *rs, const json_t *v, sink_fn sink,
		     unsigned depth);

static int dump_string(struct rstate *rs, const char *s, size_t n, sink_fn sink)
{
	int r = sink(rs, "\"", 1);

	if (r == 0)
		r = json_quote(rs, s, n, sink);
	return r < 0 ? r : sink(rs, "\"", 1);
}

static int dump_object(struct rstate *rs, const json_t *v, sink_fn sink,
		       unsigned depth)
{
	const char *key;
	json_t *val;
	bool first = true;
	int r = sink(rs, "{", 1);

	json_object_foreach((json_t *)v, key, val) {
		if (r == 0 && !first)
			r = sink(rs, ",", 1);
		if (r == 0)
			r = dump_string(rs, key, strlen(key), sink);
		if (r == 0)
			r = sink(rs, ":", 1);
		if (r == 0)
			r = dump_json(rs, val, sink, depth + 1);
		if (r < 0)
			return r;
		first = false;
	}
	return r < 0 ? r : sink(rs, "}", 1);
}

static int dump_array(struct rstate *rs, const json_t *v, sink_fn sink,
		      unsigned depth)
{
	size_t i;
	int r = sink(rs, "[", 1);

	for (i = 0; r == 0 && i < json_array_size(v); i++) {
		if (i)
			r = sink(rs, ",", 1);
		if (r == 0)
			r = dump_json(rs, json_array_get(v, i), sink, depth + 1);
	}
	return r < 0 ? r : sink(rs, "]", 1);
}

/* An object or array as compact JSON, through sink (so {{obj}} in a JSON
 * part is a string holding JSON, {{{obj}}} is JSON). */
static int dump_json(struct rstate *rs, const json_t *v, sink_fn sink,
		     unsigned depth)
{
	char buf[64];
	const char *s;
	size_t n;
	int r;

	if (depth > TC_TPL_MAX_DEPTH) {
		rs->deep = true;
		return TC_ELIMIT;
	}
	if (json_is_object(v))
		return dump_object(rs, v, sink, depth);
	if (json_is_array(v))
		return dump_array(rs, v, sink, depth);
	if (json_is_string(v))
		return dump_string(rs, json_string_value(v),
				   json_string_length(v), sink);
	if (json_is_null(v))
		return sink(rs, "null", 4);
	scalar_text(v, buf, &s, &n);
	r = sink(rs, s, n);
	/* a real stays a real: 1.0, not 1 */
	if (r == 0 && json_is_real(v) && !strpbrk(buf, ".eE"))
		r = sink(rs, ".0", 2);
	return r;
}

static int emit_value(struct rstate *rs, const json_t *v, bool raw)
{
	sink_fn sink = sink_for(rs, raw);
	char buf[64];
	const char *s;
	size_t n;

	if (!scalar_text(v, buf, &s, &n))
		return dump_json(rs, v, sink, 0);
	return sink(rs, s, n);
}

/* ---- rendering: the program ----------------------------------------------- */

/* The stack of contexts, innermost first. */
struct ctx {
	const json_t *v;
	const struct ctx *up;
};

/* Indentation added at each line start, outermost first. */
struct indent {
	const char *s;
	size_t n;
	const struct indent *up;
};

/* A parent being rendered: its overrides, outermost last. */
struct frame {
	const struct tpl_unit *u;
	uint32_t op;
	const struct frame *up;
};

struct scope {
	const struct ctx *ctx;
	const struct indent *ind;
	const struct frame *frames;
};

static int render_range(struct rstate *rs, const struct tpl_unit *u,
			uint32_t i, uint32_t end, const struct scope *sc);

static const char *op_name(const struct tc_tpl *t, const struct tpl_op *op)
{
	if (op->kind == OP_SECTION || op->kind == OP_INVERTED ||
	    op->kind == OP_VAR || op->kind == OP_RAW)
		return op->n_parts ? t->pool + t->parts[op->str] : ".";
	return t->pool + op->str;
}

static void rerr(struct rstate *rs, const struct tpl_unit *u,
		 const struct tpl_op *op, int r)
{
	if (rs->diag_set || !rs->d)
		return;
	rs->diag_set = true;
	if (r == TC_ELIMIT && rs->deep)
		tc_diag_set(rs->d, rs->t->pool + u->source, op->line, NULL,
			    "nested over %d levels at '%s' (sections, partials, "
			    "blocks; a partial that recurses without end?)",
			    TC_TPL_MAX_DEPTH, op_name(rs->t, op));
	else if (r == TC_ELIMIT)
		tc_diag_set(rs->d, rs->t->pool + u->source, op->line, NULL,
			    "rendered text over the limit of %zu bytes at '%s'",
			    rs->out->max, op->kind == OP_TEXT ? "text" :
			    op_name(rs->t, op));
	else
		tc_diag_set(rs->d, rs->t->pool + u->source, op->line, NULL,
			    "out of memory");
}

/* Enters one more level of nesting, or fails past TC_TPL_MAX_DEPTH. */
static int enter(struct rstate *rs)
{
	if (++rs->depth > TC_TPL_MAX_DEPTH) {
		rs->deep = true;
		return TC_ELIMIT;
	}
	return 0;
}

static json_t *lookup(const struct tc_tpl *t, const struct tpl_op *op,
		      const struct ctx *c)
{
	const uint32_t *part;
	json_t *v = NULL;
	uint16_t k;

	if (op->n_parts == 0)
		return c ? (json_t *)c->v : NULL;
	part = t->parts + op->str; /* parts is NULL in a template without names */
	for (; c && !v; c = c->up)
		if (json_is_object(c->v))
			v = json_object_get(c->v, t->pool + part[0]);
	for (k = 1; v && k < op->n_parts; k++)
		v = json_is_object(v) ? json_object_get(v, t->pool + part[k])
				      : NULL;
	return v;
}

/* The spec's `!!data`. */
static bool truthy(const json_t *v)
{
	switch (v ? json_typeof(v) : JSON_NULL) {
	case JSON_NULL: case JSON_FALSE: return false;
	case JSON_ARRAY: return json_array_size(v) > 0;
	case JSON_STRING: return json_string_length(v) > 0;
	case JSON_INTEGER: return json_integer_value(v) != 0;
	case JSON_REAL: return json_real_value(v) != 0.0;
	default: return true;
	}
}

static int emit_indent(struct rstate *rs, const struct indent *in)
{
	int r;

	if (!in)
		return 0;
	r = emit_indent(rs, in->up);
	return r < 0 ? r : tc_buf_add(rs->out, in->s, in->n);
}

static int render_bol(struct rstate *rs, const struct scope *sc, bool soft)
{
	bool fresh = rs->first != FIRST_NONE && rs->out->len == rs->first_len;

	if (soft ? !(fresh && rs->first == FIRST_EMIT)
		 : (fresh && rs->first == FIRST_SKIP))
		return 0;
	return emit_indent(rs, sc->ind);
}

/* The body of section op i with v (NULL: none) pushed on the contexts. */
static int render_body(struct rstate *rs, const struct tpl_unit *u,
		       uint32_t i, const struct scope *sc, const json_t *v)
{
	struct ctx c = { v, sc->ctx };
	struct scope s = *sc;
	int r = enter(rs);

	if (v)
		s.ctx = &c;
	if (r == 0)
		r = render_range(rs, u, i + 1, u->ops[i].end, &s);
	rs->depth--;
	return r;
}

static int render_section(struct rstate *rs, const struct tpl_unit *u,
			  uint32_t i, const struct scope *sc)
{
	const struct tpl_op *op = &u->ops[i];
	const json_t *v = lookup(rs->t, op, sc->ctx);
	size_t k;
	int r = 0;

	if (op->kind == OP_INVERTED)
		return truthy(v) ? 0 : render_body(rs, u, i, sc, NULL);
	if (!truthy(v))
		return 0;
	if (!json_is_array(v))
		return render_body(rs, u, i, sc, v);
	for (k = 0; r == 0 && k < json_array_size(v); k++)
		r = render_body(rs, u, i, sc, json_array_get(v, k));
	return r;
}

/* A whole unit (a partial or a parent) with scope s, at op's place. */
static int render_unit(struct rstate *rs, const struct tpl_op *op,
		       struct scope *s, const struct scope *sc)
{
	const struct tpl_unit *tu = &rs->t->units[op->target];
	struct indent in = { rs->t->pool + op->ind, op->ind_len, sc->ind };
	int first = rs->first, r;

	if (tu->missing)
		return 0;
	/* alone on its line, it indents each line it brings; inline, its
	 * text goes in as it is */
	s->ind = (op->flags & OPF_STANDALONE) ? &in : NULL;
	rs->first = FIRST_NONE;
	r = enter(rs);
	if (r == 0)
		r = render_range(rs, tu, 0, tu->n_ops, s);
	rs->depth--;
	rs->first = first;
	return r;
}

static int render_partial(struct rstate *rs, const struct tpl_unit *u,
			  uint32_t i, const struct scope *sc)
{
	struct scope s = *sc;

	return render_unit(rs, &u->ops[i], &s, sc);
}

static int render_parent(struct rstate *rs, const struct tpl_unit *u,
			 uint32_t i, const struct scope *sc)
{
	struct frame f = { u, i, sc->frames };
	struct scope s = *sc;

	s.frames = &f;
	return render_unit(rs, &u->ops[i], &s, sc);
}

/* The override of block `name` in parent frame f, or UINT32_MAX. */
static uint32_t find_override(const struct tc_tpl *t, const struct frame *f,
			      const char *name)
{
	const struct tpl_op *ops = f->u->ops;
	uint32_t k;

	for (k = f->op + 1; k < ops[f->op].end; k = ops[k].end)
		if (strcmp(t->pool + ops[k].str, name) == 0)
			return k;
	return UINT32_MAX;
}

/* {{$name}}: the outermost parent's override wins, else the default. An
 * override renders with the frames outside the one that gave it. */
static int render_block(struct rstate *rs, const struct tpl_unit *u,
			uint32_t i, const struct scope *sc)
{
	const struct tpl_op *op = &u->ops[i];
	const struct frame *f, *hit = NULL;
	struct indent in = { rs->t->pool + op->ind, op->ind_len, sc->ind };
	struct scope s = { sc->ctx, &in, sc->frames };
	int first = rs->first, r;
	size_t first_len = rs->first_len;
	uint32_t k, at = i;

	for (f = sc->frames; f; f = f->up) {
		k = find_override(rs->t, f, rs->t->pool + op->str);
		if (k != UINT32_MAX) {
			hit = f;
			at = k;
		}
	}
	if (hit) {
		u = hit->u;
		s.frames = hit->up;
	}
	rs->first = (op->flags & OPF_STANDALONE) ? FIRST_EMIT : FIRST_SKIP;
	rs->first_len = rs->out->len;
	r = enter(rs);
	if (r == 0)
		r = render_range(rs, u, at + 1, u->ops[at].end, &s);
	rs->depth--;
	rs->first = first;
	rs->first_len = first_len;
	return r;
}

static int render_op(struct rstate *rs, const struct tpl_unit *u, uint32_t i,
		     const struct scope *sc)
{
	const struct tpl_op *op = &u->ops[i];
	const json_t *v;

	switch ((enum op_kind)op->kind) {
	case OP_TEXT:
		return tc_buf_add(rs->out, rs->t->pool + op->str, op->len);
	case OP_BOL:
	case OP_BOL_SOFT:
		return render_bol(rs, sc, op->kind == OP_BOL_SOFT);
	case OP_VAR:
	case OP_RAW:
		v = lookup(rs->t, op, sc->ctx);
		return v ? emit_value(rs, v, op->kind == OP_RAW) : 0;
	case OP_SECTION:
	case OP_INVERTED:
		return render_section(rs, u, i, sc);
	case OP_PARTIAL:
		return render_partial(rs, u, i, sc);
	case OP_PARENT:
		return render_parent(rs, u, i, sc);
	case OP_BLOCK:
		return render_block(rs, u, i, sc);
	}
	return 0;
}

static int render_range(struct rstate *rs, const struct tpl_unit *u,
			uint32_t i, uint32_t end, const struct scope *sc)
{
	int r;

	for (; i < end; i = u->ops[i].end) {
		r = render_op(rs, u, i, sc);
		if (r < 0) {
			rerr(rs, u, &u->ops[i], r);
			return r;
		}
	}
	return 0;
}

int tc_tpl_render(const struct tc_tpl *t, const json_t *data,
		  enum tc_tpl_escape esc, struct tc_buf *out, struct tc_diag *d)
{
	struct rstate rs = { .t = t, .out = out, .d = d, .esc = esc,
			     .first = FIRST_NONE };
	struct ctx root = { data, NULL };
	struct scope sc = { data ? &root : NULL, NULL, NULL };
	size_t len0 = out->len;
	int r;

	r = render_range(&rs, &t->units[0], 0, t->units[0].n_ops, &sc);
	if (r < 0) {
		out->len = len0;
		if (out->data)
			out->data[len0] = '\0';
	}
	return r;
}
