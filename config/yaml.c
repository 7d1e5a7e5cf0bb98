/*
 * yaml: the generic half of the configuration loader. Reads the file
 * (bounded by TC_LIMIT_CONFIG_BYTES), parses it with libfyaml as exactly
 * one document, and walks its nodes: the line each starts on, the dotted
 * key path of each value, mappings checked against the keys they may have,
 * scalars with their ${NAME} references expanded.
 *
 * What it keeps true:
 * - every problem becomes one diagnostic "file:line: key.path: message",
 *   with the user's value quoted through tc_yaml_show (escaped, cut);
 * - a value marked TC_F_SECRET is never shown, and must come from ${NAME};
 * - each value is at most TC_LIMIT_ADDRESS bytes, before and after
 *   expansion.
 * It knows nothing of what the keys mean: the cfg_*.c files do.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config_internal.h"

#define READ_CHUNK_CONFIG 4096     /* configuration bytes read at a time */

/* ---- reporting ------------------------------------------------------------ */

static void vreport(struct tc_load *ld, const char *src, unsigned line,
		    const char *path, const char *fmt, va_list ap)
{
	char msg[TC_MSG];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	tc_diags_add(ld->ds, src, line, path, "%s", msg);
}

void tc_yaml_report(struct tc_load *ld, unsigned line, const char *path,
		    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(ld, ld->src, line, path, fmt, ap);
	va_end(ap);
}

void tc_yaml_report_at(struct tc_load *ld, const char *src, unsigned line,
		       const char *path, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(ld, src, line, path, fmt, ap);
	va_end(ap);
}

const char *tc_yaml_show(char *out, size_t n, const char *v, size_t len)
{
	return tc_diag_show(out, n, v, len, TC_SHOW_CHARS);
}

const char *tc_yaml_shows(char *out, size_t n, const char *v)
{
	return tc_yaml_show(out, n, v, strlen(v));
}

/* Formats a key path into out, cut to fit as a tc_diag path is. */
void tc_yaml_path_fmt(char *out, size_t n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out, n, fmt, ap);
	va_end(ap);
}

void tc_yaml_path_key(char *out, size_t n, const char *parent, const char *key)
{
	tc_yaml_path_fmt(out, n, "%s%s%s", parent, parent[0] ? "." : "", key);
}

void tc_yaml_path_index(char *out, size_t n, const char *parent, size_t i)
{
	tc_yaml_path_fmt(out, n, "%s[%zu]", parent, i);
}

char *tc_yaml_strdup(struct tc_load *ld, const char *s)
{
	char *d = strdup(s);

	if (!d)
		ld->oom = true;
	return d;
}

/* ---- nodes --------------------------------------------------------------- */

/* The 1-based line node starts on; fallback when libfyaml does not say (an
 * empty value, an empty collection). Collections take their first child's
 * line: libfyaml 0.7 exports no marks for them. */
unsigned tc_yaml_line(struct fy_node *n, unsigned fallback)
{
	const struct fy_mark *mk;
	struct fy_node_pair *p;
	struct fy_token *t;
	void *it = NULL;

	if (!n)
		return fallback;
	switch (fy_node_get_type(n)) {
	case FYNT_SCALAR:
		t = fy_node_get_scalar_token(n);
		mk = t ? fy_token_start_mark(t) : NULL;
		return mk ? (unsigned)mk->line + 1 : fallback;
	case FYNT_MAPPING:
		p = fy_node_mapping_iterate(n, &it);
		return p ? tc_yaml_line(fy_node_pair_key(p), fallback) : fallback;
	case FYNT_SEQUENCE:
		return tc_yaml_line(fy_node_sequence_iterate(n, &it), fallback);
	}
	return fallback;
}

/* Whether n is YAML's null: nothing, "~" or "null" written plain. */
bool tc_yaml_is_null(struct fy_node *n)
{
	const char *s;
	size_t len;

	if (!n)
		return true;
	if (fy_node_get_type(n) != FYNT_SCALAR || fy_node_get_style(n) != FYNS_PLAIN)
		return false;
	s = fy_node_get_scalar(n, &len);
	return !s || len == 0 || (len == 1 && s[0] == '~') ||
	       (len == 4 && (memcmp(s, "null", 4) == 0 || memcmp(s, "Null", 4) == 0 ||
			     memcmp(s, "NULL", 4) == 0));
}

static const char *kind_name(struct fy_node *n)
{
	if (tc_yaml_is_null(n))
		return "no value";
	switch (fy_node_get_type(n)) {
	case FYNT_MAPPING:
		return "a mapping";
	case FYNT_SEQUENCE:
		return "a list";
	default:
		return "a string";
	}
}

/* Whether n is of type want; reports "expected <what>, got ..." if not. */
bool tc_yaml_is_kind(struct tc_load *ld, struct fy_node *n, enum fy_node_type want,
		     unsigned line, const char *path, const char *what)
{
	/* A collection is pointed at by its key's line, not its first
	 * child's. */
	if (n && fy_node_get_type(n) == FYNT_SCALAR)
		line = tc_yaml_line(n, line);
	if (n && fy_node_get_style(n) == FYNS_ALIAS) {
		tc_yaml_report(ld, line, path, "aliases are not supported");
		return false;
	}
	if (!n || tc_yaml_is_null(n) || fy_node_get_type(n) != want) {
		tc_yaml_report(ld, line, path, "expected %s, got %s", what, kind_name(n));
		return false;
	}
	return true;
}

/* Reports the first place the document nests deeper than
 * TC_LIMIT_CONFIG_DEPTH; the walk below may then assume it does not. */
bool tc_yaml_depth_ok(struct tc_load *ld, struct fy_node *n, unsigned depth)
{
	struct fy_node_pair *p;
	struct fy_node *c;
	void *it = NULL;

	if (!n)
		return true;
	if (depth > TC_LIMIT_CONFIG_DEPTH) {
		tc_yaml_report(ld, tc_yaml_line(n, 0), NULL, "nested deeper than %d levels "
			       "(TC_LIMIT_CONFIG_DEPTH)", TC_LIMIT_CONFIG_DEPTH);
		return false;
	}
	if (fy_node_get_type(n) == FYNT_MAPPING) {
		while ((p = fy_node_mapping_iterate(n, &it)))
			if (!tc_yaml_depth_ok(ld, fy_node_pair_key(p), depth + 1) ||
			    !tc_yaml_depth_ok(ld, fy_node_pair_value(p), depth + 1))
				return false;
	} else if (fy_node_get_type(n) == FYNT_SEQUENCE) {
		while ((c = fy_node_sequence_iterate(n, &it)))
			if (!tc_yaml_depth_ok(ld, c, depth + 1))
				return false;
	}
	return true;
}

/* ---- mappings ------------------------------------------------------------- */

const char *tc_yaml_key(struct fy_node *k, size_t *len)
{
	const char *s = NULL;

	*len = 0;
	if (k && fy_node_get_type(k) == FYNT_SCALAR &&
	    fy_node_get_style(k) != FYNS_ALIAS && !tc_yaml_is_null(k))
		s = fy_node_get_scalar(k, len);
	if (!s || *len == 0) {
		*len = 0;
		return NULL;
	}
	return s;
}

/* Reads mapping v (at path, introduced on line) into m against the keys in
 * names (NULL-ended). Reports each unknown key. Returns false, reported,
 * when v is not a mapping. */
bool tc_yaml_map_read(struct tc_load *ld, struct fy_node *v, const char *path,
		      unsigned line, const char *const *names, struct tc_ymap *m)
{
	struct fy_node_pair *p;
	void *it = NULL;
	char q[TC_SHOW_BYTES];
	size_t i;

	memset(m, 0, sizeof(*m));
	tc_yaml_path_fmt(m->path, sizeof(m->path), "%s", path);
	m->line = line;
	for (i = 0; names[i] && i < TC_YMAP_FIELDS; i++)
		m->f[i].name = names[i];
	m->n = i;
	if (!tc_yaml_is_kind(ld, v, FYNT_MAPPING, line, path, "a mapping"))
		return false;
	while ((p = fy_node_mapping_iterate(v, &it))) {
		struct fy_node *k = fy_node_pair_key(p);
		unsigned kl = tc_yaml_line(k, line);
		size_t len;
		const char *s = tc_yaml_key(k, &len);

		if (!s) {
			tc_yaml_report(ld, kl, path, "not a valid key: expected a "
				       "string");
			continue;
		}
		for (i = 0; i < m->n; i++)
			if (strlen(m->f[i].name) == len &&
			    memcmp(m->f[i].name, s, len) == 0)
				break;
		if (i == m->n) {
			tc_yaml_report(ld, kl, path, "unknown key '%s'",
				       tc_yaml_show(q, sizeof(q), s, len));
			continue;
		}
		m->f[i].present = true;
		m->f[i].val = fy_node_pair_value(p);
		m->f[i].line = kl;
	}
	return true;
}

/* The field called name; the name is always one the map was read with. */
struct tc_yfield *tc_yaml_field(struct tc_ymap *m, const char *name)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		if (strcmp(m->f[i].name, name) == 0)
			return &m->f[i];
	abort(); /* a key missing from the list passed to tc_yaml_map_read: a bug */
}

unsigned tc_yaml_val_line(struct tc_yfield *f)
{
	return tc_yaml_line(f->val, f->line);
}

/* Reads the mapping under key name of m into sub. Returns TC_V_OK, TC_V_NONE
 * (absent; reported when required) or TC_V_BAD (reported). */
int tc_yaml_sub_map(struct tc_load *ld, struct tc_ymap *m, const char *name,
		    unsigned flags, const char *const *names, struct tc_ymap *sub)
{
	struct tc_yfield *f = tc_yaml_field(m, name);
	char path[TC_PATH];

	tc_yaml_path_key(path, sizeof(path), m->path, name);
	if (!f->present) {
		if (flags & TC_F_REQUIRED)
			tc_yaml_report(ld, m->line, m->path,
				       "missing required key '%s'", name);
		return TC_V_NONE;
	}
	return tc_yaml_map_read(ld, f->val, path, f->line, names, sub) ?
	       TC_V_OK : TC_V_BAD;
}

/* ---- scalar values ------------------------------------------------------- */

/* Expands each ${NAME} of s (len bytes) into b. Returns TC_V_OK, TC_V_UNSET (a
 * name is unset and may be) or TC_V_BAD (reported; nothing of s is shown when
 * it is a secret). *ref tells whether s had a reference. */
static int expand(struct tc_load *ld, const char *s, size_t len, unsigned line,
		  const char *path, bool secret, struct tc_buf *b, bool *ref)
{
	char q[TC_SHOW_BYTES];
	size_t i = 0, j, k;
	int r = TC_V_OK, br = 0;

	*ref = false;
	while (i < len) {
		const char *d = memmem(s + i, len - i, "${", 2);
		size_t upto = d ? (size_t)(d - s) : len;
		const char *v;
		char *name;

		br = tc_buf_add(b, s + i, upto - i);
		if (br < 0)
			goto fail;
		if (!d)
			break;
		j = upto + 2;
		for (k = j; k < len && (isalnum((unsigned char)s[k]) || s[k] == '_'); k++)
			;
		if (k == j || k >= len || s[k] != '}' || isdigit((unsigned char)s[j])) {
			if (secret)
				tc_yaml_report(ld, line, path, "bad environment reference: "
					       "expected ${NAME}");
			else
				tc_yaml_report(ld, line, path, "bad environment "
					       "reference '%s': expected ${NAME}",
					       tc_yaml_show(q, sizeof(q), s + upto,
							    k < len ? k - upto + 1
								    : k - upto));
			return TC_V_BAD;
		}
		*ref = true;
		name = strndup(s + j, k - j);
		if (!name) {
			ld->oom = true;
			return TC_V_BAD;
		}
		v = getenv(name);
		if (!v && ld->mode == TC_CFG_CLIENT && !ld->in_redis) {
			if (r == TC_V_OK)
				r = TC_V_UNSET;
		} else if (!v) {
			tc_yaml_report(ld, line, path, "environment variable '%s' is not set",
				       tc_yaml_shows(q, sizeof(q), name));
			r = TC_V_BAD;
		} else if (r == TC_V_OK && (br = tc_buf_adds(b, v)) < 0) {
			free(name);
			goto fail;
		}
		free(name);
		i = k + 1;
	}
	return r;
fail:
	if (br == -ENOMEM)
		ld->oom = true;
	else
		tc_yaml_report(ld, line, path, "longer than %d bytes (TC_LIMIT_ADDRESS)",
			       TC_LIMIT_ADDRESS);
	return TC_V_BAD;
}

static bool has_control(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return true;
	return false;
}

/* The text of scalar node v (at path, on about line) with its ${NAME}s
 * expanded, as a new string in *out. what names the expected kind ("a
 * string", "a number", ...). Returns TC_V_OK, TC_V_UNSET or TC_V_BAD (reported). */
int tc_yaml_scalar(struct tc_load *ld, struct fy_node *v, unsigned line,
		   const char *path, unsigned flags, const char *what, char **out)
{
	struct tc_buf b;
	const char *s;
	size_t len;
	bool ref;
	int r;

	if (!tc_yaml_is_kind(ld, v, FYNT_SCALAR, line, path, what))
		return TC_V_BAD;
	line = tc_yaml_line(v, line);
	s = fy_node_get_scalar(v, &len);
	if (len > TC_LIMIT_ADDRESS) {
		tc_yaml_report(ld, line, path, "longer than %d bytes (TC_LIMIT_ADDRESS)",
			       TC_LIMIT_ADDRESS);
		return TC_V_BAD;
	}
	tc_buf_init(&b, TC_LIMIT_ADDRESS);
	r = expand(ld, s, len, line, path, flags & TC_F_SECRET, &b, &ref);
	if (r == TC_V_OK && (flags & TC_F_SECRET) && !ref) {
		tc_yaml_report(ld, line, path, "a secret must come from the environment "
			       "(${NAME}), not from the file");
		r = TC_V_BAD;
	}
	if (r == TC_V_OK && b.len == 0) {
		tc_yaml_report(ld, line, path, "empty value");
		r = TC_V_BAD;
	}
	if (r == TC_V_OK && (has_control(b.data, b.len) || strlen(b.data) != b.len)) {
		tc_yaml_report(ld, line, path, "contains a control character");
		r = TC_V_BAD;
	}
	if (r == TC_V_OK) {
		*out = tc_buf_take(&b);
		if (!*out) {
			ld->oom = true;
			r = TC_V_BAD;
		}
	}
	tc_buf_release(&b);
	return r;
}

/* The value of key name in m as a new string in *out (left alone unless
 * TC_V_OK). Returns TC_V_OK, TC_V_NONE (absent; reported if TC_F_REQUIRED), TC_V_UNSET or
 * TC_V_BAD. */
int tc_yaml_get_value(struct tc_load *ld, struct tc_ymap *m, const char *name,
		      unsigned flags, const char *what, char **out)
{
	struct tc_yfield *f = tc_yaml_field(m, name);
	char path[TC_PATH];

	if (!f->present) {
		if (flags & TC_F_REQUIRED)
			tc_yaml_report(ld, m->line, m->path,
				       "missing required key '%s'", name);
		return TC_V_NONE;
	}
	tc_yaml_path_key(path, sizeof(path), m->path, name);
	return tc_yaml_scalar(ld, f->val, f->line, path, flags, what, out);
}

int tc_yaml_get_str(struct tc_load *ld, struct tc_ymap *m, const char *name,
		    unsigned flags, char **out)
{
	return tc_yaml_get_value(ld, m, name, flags, "a string", out);
}

/* Reports a bad value of key name of m. */
void tc_yaml_bad_value(struct tc_load *ld, struct tc_ymap *m, const char *name,
		       const char *fmt, ...)
{
	char path[TC_PATH];
	va_list ap;

	tc_yaml_path_key(path, sizeof(path), m->path, name);
	va_start(ap, fmt);
	vreport(ld, ld->src, tc_yaml_val_line(tc_yaml_field(m, name)), path, fmt, ap);
	va_end(ap);
}

/* ---- the file ------------------------------------------------------------------ */

const char *tc_yaml_errtext(int e, char *buf, size_t n)
{
	return strerror_r(e, buf, n);
}

/* Reads path (at most TC_LIMIT_CONFIG_BYTES) into a new buffer, reading
 * to the end whatever fstat said, so a file that grows is still bounded. */
int tc_yaml_read_file(struct tc_load *ld, const char *path, char **out, size_t *len)
{
	char eb[128], chunk[READ_CHUNK_CONFIG];
	struct tc_buf b;
	struct stat st;
	ssize_t n;
	int fd, r = TC_EINVAL;

	tc_buf_init(&b, TC_LIMIT_CONFIG_BYTES);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		tc_yaml_report(ld, 0, NULL, "cannot open: %s",
			       tc_yaml_errtext(errno, eb, sizeof(eb)));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		tc_yaml_report(ld, 0, NULL, "not a regular file");
		goto out;
	}
	if ((uint64_t)st.st_size > TC_LIMIT_CONFIG_BYTES)
		goto too_big;
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			tc_yaml_report(ld, 0, NULL, "cannot read: %s",
				       tc_yaml_errtext(errno, eb, sizeof(eb)));
			goto out;
		}
		if (n == 0)
			break;
		r = tc_buf_add(&b, chunk, (size_t)n);
		if (r == TC_ELIMIT)
			goto too_big;
		if (r < 0) {
			ld->oom = true;
			goto out;
		}
	}
	*len = b.len;
	*out = tc_buf_take(&b);
	if (!*out)
		ld->oom = true;
	r = *out ? 0 : -ENOMEM;
	goto out;
too_big:
	tc_yaml_report(ld, 0, NULL, "larger than %u bytes (TC_LIMIT_CONFIG_BYTES)",
		       TC_LIMIT_CONFIG_BYTES);
	r = TC_EINVAL;
out:
	tc_buf_release(&b);
	if (fd >= 0)
		close(fd);
	return r;
}

/* ---- YAML ---------------------------------------------------------------- */

static void fy_quiet(struct fy_diag *diag, void *user, const char *buf, size_t len)
{
	(void)diag;
	(void)user;
	(void)buf;
	(void)len;
}

/* Reports what libfyaml collected in diag as "file:line: not valid YAML". */
static void report_yaml_errors(struct tc_load *ld, struct fy_diag *diag)
{
	struct fy_diag_error *e;
	void *it = NULL;
	bool any = false;

	while ((e = fy_diag_errors_iterate(diag, &it))) {
		if (e->type < FYET_ERROR)
			continue;
		tc_yaml_report(ld, e->line > 0 ? (unsigned)e->line : 0, NULL,
			       "not valid YAML: %s", e->msg ? e->msg : "parse error");
		any = true;
	}
	if (!any)
		tc_yaml_report(ld, 0, NULL, "not valid YAML");
}

/* Whether buf/len is UTF-8 throughout; reports the first byte that is
 * not, with its line. */
static bool utf8_ok(struct tc_load *ld, const char *buf, size_t len)
{
	const unsigned char *s = (const unsigned char *)buf;
	size_t off = 0, k;
	unsigned line = 1;
	uint32_t cp;

	while (off < len) {
		k = tc_utf8_decode(s + off, len - off, &cp);
		if (k == 0) {
			tc_yaml_report(ld, line, NULL, "not UTF-8: byte 0x%02x", s[off]);
			return false;
		}
		line += cp == '\n';
		off += k;
	}
	return true;
}

/* The document in buf/len, and the parser that owns it (destroy the
 * document with fy_parse_document_destroy before the parser). NULL,
 * reported, when it is not exactly one valid YAML document. */
struct fy_document *tc_yaml_parse(struct tc_load *ld, const char *buf, size_t len,
				  struct fy_parser **fypp, struct fy_diag **diagp)
{
	struct fy_parse_cfg pc;
	struct fy_diag_cfg dc;
	struct fy_document *doc = NULL, *next;
	struct fy_parser *fyp = NULL;
	struct fy_diag *diag;

	/* YAML is Unicode, and libfyaml 0.7 loops for ever on some bytes
	 * that are not UTF-8 (fuzzing found "%\xff"): they never reach it. */
	*fypp = NULL;
	*diagp = NULL;
	if (!utf8_ok(ld, buf, len))
		return NULL;
	fy_diag_cfg_default(&dc);
	dc.fp = NULL;
	dc.output_fn = fy_quiet;
	dc.colorize = false;
	diag = fy_diag_create(&dc);
	if (!diag) {
		ld->oom = true;
		return NULL;
	}
	fy_diag_set_collect_errors(diag, true);
	memset(&pc, 0, sizeof(pc));
	pc.flags = FYPCF_QUIET;
	pc.diag = diag;
	fyp = fy_parser_create(&pc);
	if (!fyp || fy_parser_set_string(fyp, buf, len) != 0) {
		ld->oom = true;
		goto out;
	}
	doc = fy_parse_load_document(fyp);
	if (!doc) {
		if (fy_diag_got_error(diag))
			report_yaml_errors(ld, diag);
		else
			tc_yaml_report(ld, 0, NULL, "empty: no YAML document");
		goto out;
	}
	next = fy_parse_load_document(fyp);
	if (next) {
		tc_yaml_report(ld, tc_yaml_line(fy_document_root(next), 0), NULL,
			       "more than one YAML document");
		fy_parse_document_destroy(fyp, next);
	}
	if (next || fy_diag_got_error(diag)) {
		if (!next)
			report_yaml_errors(ld, diag);
		fy_parse_document_destroy(fyp, doc);
		doc = NULL;
	}
out:
	*fypp = fyp;
	*diagp = diag;
	return doc;
}

