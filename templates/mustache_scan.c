/*
 * mustache, scanning a text before it compiles: tokens (text split after
 * each newline, and tags, with delimiter changes applied as they come),
 * structure (each closing tag matched to its opening one) and whitespace
 * (which tags stand alone on their line and what they take with them).
 * mustache.c turns the result into the program.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "templates/internal.h"
#include "templates/templates.h"

/* Fills the diagnostic for an error at line of the current text. */
int tc_tpl_cerr(struct comp *c, int r, unsigned line, const char *fmt, ...)
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

	if (tc_tpl_grow((void **)&c->toks, &c->toks_cap, c->n_toks + 1,
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
		return tc_tpl_cerr(c, TC_EINVAL, line, "bad delimiter change '%.*s': "
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
		return tc_tpl_cerr(c, TC_EINVAL, line, "empty tag name");
	if (n > TC_TPL_MAX_NAME)
		return tc_tpl_cerr(c, TC_ELIMIT, line, "tag name '%.*s...' over %d bytes",
			    excerpt(s, n), s, TC_TPL_MAX_NAME);
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f)
			return tc_tpl_cerr(c, TC_EINVAL, line, "bad tag name '%.*s': no "
				    "spaces or control characters",
				    excerpt(s, n), s);
	if (!dotted || (n == 1 && s[0] == '.'))
		return 0;
	if (s[0] == '.' || s[n - 1] == '.' || memmem(s, n, "..", 2))
		return tc_tpl_cerr(c, TC_EINVAL, line, "bad tag name '%.*s': an empty "
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
		return tc_tpl_cerr(c, TC_EINVAL, line, "unclosed tag '%.*s': no '%.*s' "
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
int tc_tpl_tokenize(struct comp *c)
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
		return tc_tpl_cerr(c, TC_EINVAL, k->line, "closing tag '%.*s' closes "
			    "nothing: no section is open", (int)k->name_len,
			    c->src + k->name);
	open = &c->toks[stack[*depth - 1]];
	if (!same_name(c, open, k))
		return tc_tpl_cerr(c, TC_EINVAL, k->line, "closing tag '%.*s' does not "
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
int tc_tpl_match_tags(struct comp *c)
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
			return tc_tpl_cerr(c, TC_EINVAL, k->line, "tag '%.*s' inside "
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
				return tc_tpl_cerr(c, TC_ELIMIT, k->line, "sections "
					    "nested over %d levels",
					    TC_TPL_MAX_NESTING);
			stack[depth++] = (uint32_t)i;
		}
	}
	if (depth) {
		struct tok *open = &c->toks[stack[depth - 1]];

		return tc_tpl_cerr(c, TC_EINVAL, c->last_line, "unclosed %s '%.*s' "
			    "opened at line %u", kind_word(open->sigil),
			    (int)open->name_len, c->src + open->name, open->line);
	}
	return 0;
}

/* ---- compiling: whitespace ------------------------------------------------ */

bool tc_tpl_ends_line(const struct comp *c, const struct tok *k)
{
	return k->end > k->start && c->src[k->end - 1] == '\n';
}

/* Text of spaces and tabs, maybe ending in "\n" or "\r\n". */
static bool blank(const struct comp *c, const struct tok *k)
{
	size_t i, end = k->end;

	if (tc_tpl_ends_line(c, k)) {
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
		if (tc_tpl_ends_line(c, k))
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
		if (tc_tpl_ends_line(c, k))
			return true;
	}
	return true;
}

static void drop_left(struct comp *c, size_t i)
{
	while (i-- > 0 && !c->toks[i].sigil && !tc_tpl_ends_line(c, &c->toks[i]))
		c->toks[i].flags |= TF_DROP;
}

static void drop_right(struct comp *c, size_t i)
{
	for (i++; i < c->n_toks && !c->toks[i].sigil; i++) {
		c->toks[i].flags |= TF_DROP;
		if (tc_tpl_ends_line(c, &c->toks[i]))
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
void tc_tpl_mark_standalone(struct comp *c)
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
