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

#include "templates/templates.h"

/* ---- the compiled form ---------------------------------------------------- */

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

/* Grows *p (elements of size bytes, *cap of them) to hold need. */
static int grow(void **p, size_t *cap, size_t need, size_t size)
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
	int r = grow((void **)&t->pool, &t->pool_cap, t->pool_len + n + 1, 1);

	if (r < 0)
		return r;
	if (n)
		memcpy(t->pool + t->pool_len, s, n);
	t->pool[t->pool_len + n] = '\0';
	*off = (uint32_t)t->pool_len;
	t->pool_len += n + 1;
	return 0;
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

/* ---- compiling: tokens ------------------------------------------------------ */

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

static int cerr(struct comp *c, int r, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Fills the diagnostic for an error at line of the current text. */
static int cerr(struct comp *c, int r, unsigned line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (!c->d)
		return r;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	tc_diag_set(c->d, c->source, line, NULL, "%s", msg);
	return r;
}

static bool is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

/* How many bytes of s (n) to quote in a message: up to 40, one line,
 * printable only. */
static int excerpt(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n && i < 40; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			break;
	return (int)i;
}

static struct tok *new_tok(struct comp *c)
{
	struct tok *k;

	if (grow((void **)&c->toks, &c->toks_cap, c->n_toks + 1,
		 sizeof(*c->toks)) < 0)
		return NULL;
	k = &c->toks[c->n_toks++];
	memset(k, 0, sizeof(*k));
	return k;
}

/* Adds the text from..to, one token per line. */
static int add_text(struct comp *c, size_t from, size_t to, unsigned *line)
{
	while (from < to) {
		const char *nl = memchr(c->src + from, '\n', to - from);
		size_t end = nl ? (size_t)(nl - c->src) + 1 : to;
		struct tok *k = new_tok(c);

		if (!k)
			return -ENOMEM;
		k->start = (uint32_t)from;
		k->end = (uint32_t)end;
		k->line = *line;
		if (nl)
			(*line)++;
		from = end;
	}
	return 0;
}

/* {{=<% %>=}}: two delimiters, no whitespace or '=' in either. */
static int set_delims(struct comp *c, struct delims *dl, const char *s,
		      size_t n, unsigned line)
{
	size_t a = 0, b;

	while (a < n && !is_space(s[a]))
		a++;
	b = a;
	while (b < n && is_space(s[b]))
		b++;
	if (a == 0 || b == a || b == n || a > TC_TPL_MAX_DELIM ||
	    n - b > TC_TPL_MAX_DELIM || memchr(s, '=', n) ||
	    memchr(s + b, ' ', n - b) || memchr(s + b, '\t', n - b) ||
	    memchr(s + b, '\n', n - b) || memchr(s + b, '\r', n - b))
		return cerr(c, TC_EINVAL, line, "bad delimiter change '%.*s': "
			    "want two delimiters of 1 to %d bytes, without "
			    "spaces or '='", excerpt(s, n), s, TC_TPL_MAX_DELIM);
	memcpy(dl->open, s, a);
	dl->open[a] = '\0';
	dl->olen = a;
	memcpy(dl->close, s + b, n - b);
	dl->close[n - b] = '\0';
	dl->clen = n - b;
	return 0;
}

/* A name: no whitespace or controls; dotted ones without empty parts. */
static int check_name(struct comp *c, char sigil, const char *s, size_t n,
		      unsigned line)
{
	bool dotted = strchr("v{&#^/", sigil) != NULL;
	size_t i;

	if (n == 0)
		return cerr(c, TC_EINVAL, line, "empty tag name");
	if (n > TC_TPL_MAX_NAME)
		return cerr(c, TC_ELIMIT, line, "tag name '%.*s...' over %d bytes",
			    excerpt(s, n), s, TC_TPL_MAX_NAME);
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f)
			return cerr(c, TC_EINVAL, line, "bad tag name '%.*s': no "
				    "spaces or control characters",
				    excerpt(s, n), s);
	if (!dotted || (n == 1 && s[0] == '.'))
		return 0;
	if (s[0] == '.' || s[n - 1] == '.' || memmem(s, n, "..", 2))
		return cerr(c, TC_EINVAL, line, "bad tag name '%.*s': an empty "
			    "part between dots", excerpt(s, n), s);
	return 0;
}

/* Where the tag opened at `at` closes, and its sigil. */
static int find_close(struct comp *c, const struct delims *dl, size_t at,
		      unsigned line, char *sigil, size_t *body, size_t *close,
		      size_t *clen)
{
	char want[TC_TPL_MAX_DELIM + 2];
	size_t p = at + dl->olen, wlen = dl->clen;
	const char *hit;

	*sigil = 'v';
	if (p < c->len && c->src[p] && strchr("{&#^/!=><$", c->src[p]))
		*sigil = c->src[p++];
	if (*sigil == '{' || *sigil == '=') {
		want[0] = *sigil == '{' ? '}' : '=';
		memcpy(want + 1, dl->close, dl->clen);
		wlen++;
	} else {
		memcpy(want, dl->close, dl->clen);
	}
	hit = p <= c->len ? memmem(c->src + p, c->len - p, want, wlen) : NULL;
	if (!hit)
		return cerr(c, TC_EINVAL, line, "unclosed tag '%.*s': no '%.*s' "
			    "follows", excerpt(c->src + at, c->len - at),
			    c->src + at, (int)wlen, want);
	*body = p;
	*close = (size_t)(hit - c->src);
	*clen = wlen;
	return 0;
}

/* Adds the tag opened at `at`; *next is where the text goes on. */
static int add_tag(struct comp *c, struct delims *dl, size_t at,
		   unsigned *line, size_t *next)
{
	size_t body = 0, stop = 0, clen = 0, a, b, i;
	struct tok *k;
	char sigil;
	int r;

	r = find_close(c, dl, at, *line, &sigil, &body, &stop, &clen);
	if (r < 0)
		return r;
	a = body;
	b = stop;
	while (a < b && is_space(c->src[a]))
		a++;
	while (b > a && is_space(c->src[b - 1]))
		b--;
	if (sigil == '=')
		r = set_delims(c, dl, c->src + a, b - a, *line);
	else if (sigil != '!')
		r = check_name(c, sigil, c->src + a, b - a, *line);
	if (r < 0)
		return r;
	k = new_tok(c);
	if (!k)
		return -ENOMEM;
	k->start = (uint32_t)at;
	k->end = (uint32_t)(stop + clen);
	k->name = (uint32_t)a;
	k->name_len = (uint32_t)(b - a);
	k->line = *line;
	k->sigil = sigil;
	for (i = at; i < k->end; i++)
		if (c->src[i] == '\n')
			(*line)++;
	*next = k->end;
	return 0;
}

/* Pass 1: the tokens of the text, delimiter changes applied. */
static int tokenize(struct comp *c)
{
	struct delims dl = { "{{", "}}", 2, 2 };
	unsigned line = 1;
	size_t pos = 0;
	int r;

	while (pos < c->len) {
		const char *hit = memmem(c->src + pos, c->len - pos, dl.open,
					 dl.olen);
		size_t at = hit ? (size_t)(hit - c->src) : c->len;

		r = add_text(c, pos, at, &line);
		if (r < 0)
			return r;
		if (!hit)
			break;
		r = add_tag(c, &dl, at, &line, &pos);
		if (r < 0)
			return r;
	}
	/* the last line with something on it */
	c->last_line = line > 1 && c->src[c->len - 1] == '\n' ? line - 1 : line;
	return 0;
}

/* ---- compiling: structure ------------------------------------------------- */

static const char *kind_word(char sigil)
{
	return sigil == '$' ? "block" : sigil == '<' ? "parent" : "section";
}

static bool same_name(const struct comp *c, const struct tok *a,
		      const struct tok *b)
{
	return a->name_len == b->name_len &&
	       memcmp(c->src + a->name, c->src + b->name, a->name_len) == 0;
}

/* Matches the closing tag i to the innermost open one. */
static int close_tag(struct comp *c, uint32_t *stack, size_t *depth, size_t i)
{
	struct tok *k = &c->toks[i], *open;

	if (*depth == 0)
		return cerr(c, TC_EINVAL, k->line, "closing tag '%.*s' closes "
			    "nothing: no section is open", (int)k->name_len,
			    c->src + k->name);
	open = &c->toks[stack[*depth - 1]];
	if (!same_name(c, open, k))
		return cerr(c, TC_EINVAL, k->line, "closing tag '%.*s' does not "
			    "match %s '%.*s' opened at line %u",
			    (int)k->name_len, c->src + k->name,
			    kind_word(open->sigil), (int)open->name_len,
			    c->src + open->name, open->line);
	k->match = stack[*depth - 1];
	open->match = (uint32_t)i;
	k->flags |= open->flags & TF_OVERRIDE;
	(*depth)--;
	return 0;
}

/* Pass 2: every closing tag matches its opening one; inside a parent only
 * blocks (and comments, delimiter changes) may appear. */
static int match_tags(struct comp *c)
{
	uint32_t stack[TC_TPL_MAX_NESTING];
	size_t depth = 0, i;
	int r;

	for (i = 0; i < c->n_toks; i++) {
		struct tok *k = &c->toks[i], *top;

		if (!k->sigil)
			continue;
		top = depth ? &c->toks[stack[depth - 1]] : NULL;
		if (top && top->sigil == '<' && !strchr("$!=/", k->sigil))
			return cerr(c, TC_EINVAL, k->line, "tag '%.*s' inside "
				    "parent '%.*s': only blocks may appear there",
				    (int)k->name_len, c->src + k->name,
				    (int)top->name_len, c->src + top->name);
		if (top && top->sigil == '<' && k->sigil == '$')
			k->flags |= TF_OVERRIDE;
		if (k->sigil == '/') {
			r = close_tag(c, stack, &depth, i);
			if (r < 0)
				return r;
		} else if (strchr("#^$<", k->sigil)) {
			if (depth == TC_TPL_MAX_NESTING)
				return cerr(c, TC_ELIMIT, k->line, "sections "
					    "nested over %d levels",
					    TC_TPL_MAX_NESTING);
			stack[depth++] = (uint32_t)i;
		}
	}
	if (depth) {
		struct tok *open = &c->toks[stack[depth - 1]];

		return cerr(c, TC_EINVAL, c->last_line, "unclosed %s '%.*s' "
			    "opened at line %u", kind_word(open->sigil),
			    (int)open->name_len, c->src + open->name, open->line);
	}
	return 0;
}

/* ---- compiling: whitespace ------------------------------------------------ */

static bool ends_line(const struct comp *c, const struct tok *k)
{
	return k->end > k->start && c->src[k->end - 1] == '\n';
}

/* Text of spaces and tabs, maybe ending in "\n" or "\r\n". */
static bool blank(const struct comp *c, const struct tok *k)
{
	size_t i, end = k->end;

	if (ends_line(c, k)) {
		end--;
		if (end > k->start && c->src[end - 1] == '\r')
			end--;
	}
	for (i = k->start; i < end; i++)
		if (c->src[i] != ' ' && c->src[i] != '\t')
			return false;
	return true;
}

/* Only blank text between the start of its line and tag i. */
static bool clear_left(const struct comp *c, size_t i)
{
	while (i-- > 0) {
		const struct tok *k = &c->toks[i];

		if (k->sigil)
			return false;
		if (ends_line(c, k))
			return true;
		if (!blank(c, k))
			return false;
	}
	return true;
}

/* Only blank text between tag i and the end of its line. */
static bool clear_right(const struct comp *c, size_t i)
{
	for (i++; i < c->n_toks; i++) {
		const struct tok *k = &c->toks[i];

		if (k->sigil || !blank(c, k))
			return false;
		if (ends_line(c, k))
			return true;
	}
	return true;
}

static void drop_left(struct comp *c, size_t i)
{
	while (i-- > 0 && !c->toks[i].sigil && !ends_line(c, &c->toks[i]))
		c->toks[i].flags |= TF_DROP;
}

static void drop_right(struct comp *c, size_t i)
{
	for (i++; i < c->n_toks && !c->toks[i].sigil; i++) {
		c->toks[i].flags |= TF_DROP;
		if (ends_line(c, &c->toks[i]))
			break;
	}
}

static void make_alone(struct comp *c, size_t i, bool left, bool right)
{
	c->toks[i].flags |= TF_ALONE;
	if (left)
		drop_left(c, i);
	if (right)
		drop_right(c, i);
}

/* Whether tag i stands alone, and the whitespace that goes with it. */
static void mark_one(struct comp *c, size_t i)
{
	struct tok *k = &c->toks[i];

	if (strchr("v{&", k->sigil))
		return; /* interpolation never stands alone */
	if (k->sigil == '<') {
		/* the pair: opening tag starts a line, closing tag ends one */
		if (clear_left(c, i) && clear_right(c, k->match)) {
			make_alone(c, i, true, false);
			make_alone(c, k->match, false, true);
		}
	} else if (k->sigil == '/' && c->toks[k->match].sigil == '<') {
		return; /* with its opening tag */
	} else if (k->flags & TF_OVERRIDE) {
		/* inside a parent, the text around is not output anyway:
		 * the opening tag takes its line's end, the closing tag the
		 * indentation before it */
		if (k->sigil == '$' && clear_right(c, i))
			make_alone(c, i, false, true);
		else if (k->sigil == '/' && clear_left(c, i))
			make_alone(c, i, true, false);
	} else if (clear_left(c, i) && clear_right(c, i)) {
		make_alone(c, i, true, true);
	}
}

/* Pass 3: standalone tags, then blocks whose pair sits alone on a line. */
static void mark_standalone(struct comp *c)
{
	size_t i;

	for (i = 0; i < c->n_toks; i++)
		if (c->toks[i].sigil)
			mark_one(c, i);
	for (i = 0; i < c->n_toks; i++) {
		struct tok *k = &c->toks[i], *end;

		if (k->sigil != '$' || (k->flags & (TF_OVERRIDE | TF_ALONE)))
			continue;
		end = &c->toks[k->match];
		if (!(end->flags & TF_ALONE) && end->line == k->line &&
		    clear_left(c, i) && clear_right(c, k->match))
			k->flags |= TF_HOLD;
	}
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

	if (grow((void **)&e->u->ops, &e->ops_cap, e->u->n_ops + 1,
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
			r = grow((void **)&c->t->parts, &c->t->parts_cap,
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
		return cerr(c, TC_ELIMIT, k->line, "partial '%.*s': more than "
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
		if (ends_line(c, k))
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
	if (ends_line(c, k))
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
		return cerr(c, TC_ELIMIT, 0, "template of %zu bytes, over the "
			    "limit of %u", len, TC_TPL_MAX_SOURCE);
	r = tokenize(c);
	if (r == 0)
		r = match_tags(c);
	if (r < 0)
		return r;
	mark_standalone(c);
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

static const char *html_entity(char ch)
{
	switch (ch) {
	case '&': return "&amp;";
	case '<': return "&lt;";
	case '>': return "&gt;";
	case '"': return "&quot;";
	case '\'': return "&#39;";
	default: return NULL;
	}
}

/* Which bytes HTML escaping replaces: a table, so that plain runs are
 * skipped at one lookup a byte. */
static const unsigned char html_special[256] = {
	['&'] = 1, ['<'] = 1, ['>'] = 1, ['"'] = 1, ['\''] = 1,
};

static int sink_html(struct rstate *rs, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, run = 0;
	int r;

	for (;;) {
		const char *ent;

		while (i < n && !html_special[u[i]])
			i++;
		if (i == n)
			break;
		ent = html_entity(s[i]);
		r = tc_buf_add(rs->out, s + run, i - run);
		if (r == 0)
			r = tc_buf_adds(rs->out, ent);
		if (r < 0)
			return r;
		run = ++i;
	}
	return tc_buf_add(rs->out, s + run, n - run);
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
	const uint32_t *part = t->parts + op->str;
	json_t *v = NULL;
	uint16_t k;

	if (op->n_parts == 0)
		return c ? (json_t *)c->v : NULL;
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
