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
