/*
 * config: reads the YAML configuration of DESIGN.md with libfyaml and checks
 * every part of it before anything runs: types, ranges, durations, enums,
 * addresses, unknown and missing keys, ${NAME} references, the webhook
 * secret, the allow list, each group's members and every row of every
 * roster.
 *
 * What it keeps true:
 * - a struct tc_cfg it hands out is complete and valid, defaults filled in;
 * - every error found is reported, not just the first, each as
 *   "file:line: key.path: what is wrong" with the file named as the caller
 *   gave it, and the line the one the offending key or value is on;
 * - the value of a secret (ack_secret, webhook secret, passwords, tokens)
 *   never reaches a diagnostic, and must come from the environment;
 * - input is bounded: the file by TC_LIMIT_CONFIG_BYTES, nesting by
 *   TC_LIMIT_CONFIG_DEPTH, each value by TC_LIMIT_ADDRESS, lists by their
 *   named limits, checked before anything is allocated for them.
 *
 * The document is walked in a fixed order (channels before groups, so a
 * member can be checked against the channels that exist), whatever the
 * order of the keys in the file.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libfyaml.h>

#include "config/config.h"

#define TC_PATH        sizeof(((struct tc_diag *)0)->path)
#define TC_MSG         sizeof(((struct tc_diag *)0)->msg)
#define MAP_FIELDS     12          /* the most keys one mapping knows */
#define SHOW_CHARS     80          /* of a user value quoted in a message */
#define SHOW_BYTES     (SHOW_CHARS * 4 + 8)
#define NAME_MAX_CHARS 64          /* a group or provider name */
#define CONSUMER_CHARS 128         /* a consumer name */
#define DURATION_MAX   (24ull * 3600 * 1000)  /* any duration: a day */
#define READ_CHUNK     (64u << 10) /* roster bytes read at a time */
#define READ_CHUNK_CONFIG 4096     /* configuration bytes read at a time */

/* What a value getter found. */
enum {
	V_BAD = -1,  /* wrong; reported */
	V_NONE = 0,  /* the key is absent */
	V_OK = 1,    /* *out was written */
	V_UNSET = 2, /* a ${NAME} is unset and may be (TC_CFG_CLIENT) */
};

/* Flags of a value. */
#define F_REQUIRED 1u /* missing is an error */
#define F_SECRET   2u /* never shown; must come from ${NAME} */

/* One load in progress. */
struct ld {
	struct tc_cfg *cfg;
	struct tc_diags *ds;
	struct tc_diags *local;  /* tc_member_check's, before lines are fixed */
	const char *src;         /* the path as given: diagnostics name it */
	char *shown_dir;         /* src's folder as given: "" or ending in '/' */
	enum tc_cfg_mode mode;
	bool in_redis;           /* unset references are errors in any mode */
	bool oom;
	unsigned enabled;        /* TC_CH_BIT of each channel configured */
};

/* One known key of a mapping, and what the file has for it. */
struct field {
	const char *name;
	struct fy_node *val;     /* when present; may be NULL for no value */
	unsigned line;           /* the key's line */
	bool present;
};

/* A mapping read against the keys it may have. */
struct map {
	char path[TC_PATH];
	unsigned line;           /* where it is introduced */
	struct field f[MAP_FIELDS];
	size_t n;
};

/* ---- reporting ------------------------------------------------------------ */

static void vreport(struct ld *ld, const char *src, unsigned line,
		    const char *path, const char *fmt, va_list ap)
{
	char msg[TC_MSG];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	tc_diags_add(ld->ds, src, line, path, "%s", msg);
}

static void report(struct ld *ld, unsigned line, const char *path,
		   const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void report(struct ld *ld, unsigned line, const char *path,
		   const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(ld, ld->src, line, path, fmt, ap);
	va_end(ap);
}

static void report_at(struct ld *ld, const char *src, unsigned line,
		      const char *path, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static void report_at(struct ld *ld, const char *src, unsigned line,
		      const char *path, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(ld, src, line, path, fmt, ap);
	va_end(ap);
}

/* Writes v as it may appear inside '...' in a message: control characters
 * and quotes as \xNN, cut at SHOW_CHARS with "...". Returns out. */
static const char *show(char *out, size_t n, const char *v, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 0;

	for (i = 0; i < len && i < SHOW_CHARS && o + 8 < n; i++) {
		unsigned char c = (unsigned char)v[i];

		if (c < 0x20 || c == 0x7f || c == '\'' || c == '\\') {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		} else {
			out[o++] = (char)c;
		}
	}
	if (i < len && o + 4 < n) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	return out;
}

static const char *shows(char *out, size_t n, const char *v)
{
	return show(out, n, v, strlen(v));
}

/* Formats a key path into out, cut to fit as a tc_diag path is. */
static void path_fmt(char *out, size_t n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void path_fmt(char *out, size_t n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out, n, fmt, ap);
	va_end(ap);
}

static void path_key(char *out, size_t n, const char *parent, const char *key)
{
	path_fmt(out, n, "%s%s%s", parent, parent[0] ? "." : "", key);
}

static void path_index(char *out, size_t n, const char *parent, size_t i)
{
	path_fmt(out, n, "%s[%zu]", parent, i);
}

static char *xstrdup(struct ld *ld, const char *s)
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
static unsigned node_line(struct fy_node *n, unsigned fallback)
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
		return p ? node_line(fy_node_pair_key(p), fallback) : fallback;
	case FYNT_SEQUENCE:
		return node_line(fy_node_sequence_iterate(n, &it), fallback);
	}
	return fallback;
}

/* Whether n is YAML's null: nothing, "~" or "null" written plain. */
static bool is_null(struct fy_node *n)
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
	if (is_null(n))
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
static bool is_kind(struct ld *ld, struct fy_node *n, enum fy_node_type want,
		    unsigned line, const char *path, const char *what)
{
	/* A collection is pointed at by its key's line, not its first
	 * child's. */
	if (n && fy_node_get_type(n) == FYNT_SCALAR)
		line = node_line(n, line);
	if (n && fy_node_get_style(n) == FYNS_ALIAS) {
		report(ld, line, path, "aliases are not supported");
		return false;
	}
	if (!n || is_null(n) || fy_node_get_type(n) != want) {
		report(ld, line, path, "expected %s, got %s", what, kind_name(n));
		return false;
	}
	return true;
}

/* Reports the first place the document nests deeper than
 * TC_LIMIT_CONFIG_DEPTH; the walk below may then assume it does not. */
static bool depth_ok(struct ld *ld, struct fy_node *n, unsigned depth)
{
	struct fy_node_pair *p;
	struct fy_node *c;
	void *it = NULL;

	if (!n)
		return true;
	if (depth > TC_LIMIT_CONFIG_DEPTH) {
		report(ld, node_line(n, 0), NULL, "nested deeper than %d levels "
		       "(TC_LIMIT_CONFIG_DEPTH)", TC_LIMIT_CONFIG_DEPTH);
		return false;
	}
	if (fy_node_get_type(n) == FYNT_MAPPING) {
		while ((p = fy_node_mapping_iterate(n, &it)))
			if (!depth_ok(ld, fy_node_pair_key(p), depth + 1) ||
			    !depth_ok(ld, fy_node_pair_value(p), depth + 1))
				return false;
	} else if (fy_node_get_type(n) == FYNT_SEQUENCE) {
		while ((c = fy_node_sequence_iterate(n, &it)))
			if (!depth_ok(ld, c, depth + 1))
				return false;
	}
	return true;
}

/* ---- mappings ------------------------------------------------------------- */

/* Reads mapping v (at path, introduced on line) into m against the keys in
 * names (NULL-ended). Reports each unknown key. Returns false, reported,
 * when v is not a mapping. */
static bool map_read(struct ld *ld, struct fy_node *v, const char *path,
		     unsigned line, const char *const *names, struct map *m)
{
	struct fy_node_pair *p;
	void *it = NULL;
	char q[SHOW_BYTES];
	size_t i;

	memset(m, 0, sizeof(*m));
	path_fmt(m->path, sizeof(m->path), "%s", path);
	m->line = line;
	for (i = 0; names[i] && i < MAP_FIELDS; i++)
		m->f[i].name = names[i];
	m->n = i;
	if (!is_kind(ld, v, FYNT_MAPPING, line, path, "a mapping"))
		return false;
	while ((p = fy_node_mapping_iterate(v, &it))) {
		struct fy_node *k = fy_node_pair_key(p);
		unsigned kl = node_line(k, line);
		const char *s = NULL;
		size_t len = 0;

		if (k && fy_node_get_type(k) == FYNT_SCALAR &&
		    fy_node_get_style(k) != FYNS_ALIAS && !is_null(k))
			s = fy_node_get_scalar(k, &len);
		if (!s || len == 0) {
			report(ld, kl, path, "not a valid key: expected a string");
			continue;
		}
		for (i = 0; i < m->n; i++)
			if (strlen(m->f[i].name) == len &&
			    memcmp(m->f[i].name, s, len) == 0)
				break;
		if (i == m->n) {
			report(ld, kl, path, "unknown key '%s'", show(q, sizeof(q), s, len));
			continue;
		}
		m->f[i].present = true;
		m->f[i].val = fy_node_pair_value(p);
		m->f[i].line = kl;
	}
	return true;
}

/* The field called name; the name is always one the map was read with. */
static struct field *fld(struct map *m, const char *name)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		if (strcmp(m->f[i].name, name) == 0)
			return &m->f[i];
	abort(); /* a key missing from the list passed to map_read: a bug */
}

static unsigned val_line(struct field *f)
{
	return node_line(f->val, f->line);
}

/* Reads the mapping under key name of m into sub. Returns V_OK, V_NONE
 * (absent; reported when required) or V_BAD (reported). */
static int sub_map(struct ld *ld, struct map *m, const char *name,
		   unsigned flags, const char *const *names, struct map *sub)
{
	struct field *f = fld(m, name);
	char path[TC_PATH];

	path_key(path, sizeof(path), m->path, name);
	if (!f->present) {
		if (flags & F_REQUIRED)
			report(ld, m->line, m->path, "missing required key '%s'", name);
		return V_NONE;
	}
	return map_read(ld, f->val, path, f->line, names, sub) ? V_OK : V_BAD;
}

/* ---- scalar values ------------------------------------------------------- */

/* Expands each ${NAME} of s (len bytes) into b. Returns V_OK, V_UNSET (a
 * name is unset and may be) or V_BAD (reported; nothing of s is shown when
 * it is a secret). *ref tells whether s had a reference. */
static int expand(struct ld *ld, const char *s, size_t len, unsigned line,
		  const char *path, bool secret, struct tc_buf *b, bool *ref)
{
	char q[SHOW_BYTES];
	size_t i = 0, j, k;
	int r = V_OK, br = 0;

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
				report(ld, line, path, "bad environment reference: "
				       "expected ${NAME}");
			else
				report(ld, line, path, "bad environment reference '%s': "
				       "expected ${NAME}", show(q, sizeof(q), s + upto,
				       k < len ? k - upto + 1 : k - upto));
			return V_BAD;
		}
		*ref = true;
		name = strndup(s + j, k - j);
		if (!name) {
			ld->oom = true;
			return V_BAD;
		}
		v = getenv(name);
		if (!v && ld->mode == TC_CFG_CLIENT && !ld->in_redis) {
			if (r == V_OK)
				r = V_UNSET;
		} else if (!v) {
			report(ld, line, path, "environment variable '%s' is not set",
			       shows(q, sizeof(q), name));
			r = V_BAD;
		} else if (r == V_OK && (br = tc_buf_adds(b, v)) < 0) {
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
		report(ld, line, path, "longer than %d bytes (TC_LIMIT_ADDRESS)",
		       TC_LIMIT_ADDRESS);
	return V_BAD;
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
 * string", "a number", ...). Returns V_OK, V_UNSET or V_BAD (reported). */
static int scalar(struct ld *ld, struct fy_node *v, unsigned line,
		  const char *path, unsigned flags, const char *what, char **out)
{
	struct tc_buf b;
	const char *s;
	size_t len;
	bool ref;
	int r;

	if (!is_kind(ld, v, FYNT_SCALAR, line, path, what))
		return V_BAD;
	line = node_line(v, line);
	s = fy_node_get_scalar(v, &len);
	if (len > TC_LIMIT_ADDRESS) {
		report(ld, line, path, "longer than %d bytes (TC_LIMIT_ADDRESS)",
		       TC_LIMIT_ADDRESS);
		return V_BAD;
	}
	tc_buf_init(&b, TC_LIMIT_ADDRESS);
	r = expand(ld, s, len, line, path, flags & F_SECRET, &b, &ref);
	if (r == V_OK && (flags & F_SECRET) && !ref) {
		report(ld, line, path, "a secret must come from the environment "
		       "(${NAME}), not from the file");
		r = V_BAD;
	}
	if (r == V_OK && b.len == 0) {
		report(ld, line, path, "empty value");
		r = V_BAD;
	}
	if (r == V_OK && (has_control(b.data, b.len) || strlen(b.data) != b.len)) {
		report(ld, line, path, "contains a control character");
		r = V_BAD;
	}
	if (r == V_OK) {
		*out = tc_buf_take(&b);
		if (!*out) {
			ld->oom = true;
			r = V_BAD;
		}
	}
	tc_buf_release(&b);
	return r;
}

/* The value of key name in m as a new string in *out (left alone unless
 * V_OK). Returns V_OK, V_NONE (absent; reported if F_REQUIRED), V_UNSET or
 * V_BAD. */
static int get_value(struct ld *ld, struct map *m, const char *name,
		     unsigned flags, const char *what, char **out)
{
	struct field *f = fld(m, name);
	char path[TC_PATH];

	if (!f->present) {
		if (flags & F_REQUIRED)
			report(ld, m->line, m->path, "missing required key '%s'", name);
		return V_NONE;
	}
	path_key(path, sizeof(path), m->path, name);
	return scalar(ld, f->val, f->line, path, flags, what, out);
}

static int get_str(struct ld *ld, struct map *m, const char *name,
		   unsigned flags, char **out)
{
	return get_value(ld, m, name, flags, "a string", out);
}

/* Reports a bad value of key name of m. */
static void bad_value(struct ld *ld, struct map *m, const char *name,
		      const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void bad_value(struct ld *ld, struct map *m, const char *name,
		      const char *fmt, ...)
{
	char path[TC_PATH];
	va_list ap;

	path_key(path, sizeof(path), m->path, name);
	va_start(ap, fmt);
	vreport(ld, ld->src, val_line(fld(m, name)), path, fmt, ap);
	va_end(ap);
}

static bool parse_u64(const char *s, uint64_t *v)
{
	uint64_t x = 0;

	if (!*s)
		return false;
	for (; *s; s++) {
		if (!isdigit((unsigned char)*s) || x > (UINT64_MAX - 9) / 10)
			return false;
		x = x * 10 + (uint64_t)(*s - '0');
	}
	*v = x;
	return true;
}

/* An integer in min..max into *out (left alone unless V_OK). */
static int get_uint(struct ld *ld, struct map *m, const char *name,
		    unsigned min, unsigned max, unsigned *out)
{
	char q[SHOW_BYTES], *s = NULL;
	uint64_t v;
	int r = get_value(ld, m, name, 0, "a number", &s);

	if (r != V_OK)
		return r;
	if (!parse_u64(s, &v) || v < min || v > max) {
		bad_value(ld, m, name, "not an integer in %u..%u '%s'", min, max,
			  shows(q, sizeof(q), s));
		r = V_BAD;
	} else {
		*out = (unsigned)v;
	}
	free(s);
	return r;
}

/* A duration ("250ms", "10s", "5m", "2h") of min..DURATION_MAX ms. */
static int get_duration(struct ld *ld, struct map *m, const char *name,
			uint64_t min, uint64_t *out)
{
	char q[SHOW_BYTES], *s = NULL;
	uint64_t v;
	int r = get_value(ld, m, name, 0, "a duration", &s);

	if (r != V_OK)
		return r;
	if (tc_duration_parse(s, &v) < 0) {
		bad_value(ld, m, name, "not a duration '%s': write it like 250ms, "
			  "10s, 5m or 2h", shows(q, sizeof(q), s));
		r = V_BAD;
	} else if (v < min) {
		bad_value(ld, m, name, "too short '%s': at least %llums",
			  shows(q, sizeof(q), s), (unsigned long long)min);
		r = V_BAD;
	} else if (v > DURATION_MAX) {
		bad_value(ld, m, name, "too long '%s': at most 24h",
			  shows(q, sizeof(q), s));
		r = V_BAD;
	} else {
		*out = v;
	}
	free(s);
	return r;
}

/* One of names[] (NULL-ended); its index into *out. */
static int get_enum(struct ld *ld, struct map *m, const char *name,
		    const char *const *names, const char *expect, int *out)
{
	char q[SHOW_BYTES], *s = NULL;
	int r = get_value(ld, m, name, 0, "a string", &s), i;

	if (r != V_OK)
		return r;
	for (i = 0; names[i]; i++)
		if (strcmp(names[i], s) == 0)
			break;
	if (names[i]) {
		*out = i;
	} else {
		bad_value(ld, m, name, "unknown value '%s': expected %s",
			  shows(q, sizeof(q), s), expect);
		r = V_BAD;
	}
	free(s);
	return r;
}

/* A rate in (0, 1000000] per second: digits with an optional fraction. */
static int get_rate_value(struct ld *ld, struct map *m, const char *name,
			  double *out)
{
	char q[SHOW_BYTES], *s = NULL, *end;
	size_t i, dots = 0;
	double v = 0;
	int r = get_value(ld, m, name, 0, "a number", &s);
	bool ok = true;

	if (r != V_OK)
		return r;
	for (i = 0; s[i]; i++) {
		if (s[i] == '.')
			dots++;
		else if (!isdigit((unsigned char)s[i]))
			ok = false;
	}
	if (ok && dots <= 1 && s[0] != '.') {
		errno = 0;
		v = strtod(s, &end);
		ok = errno == 0 && *end == '\0' && v > 0 && v <= 1000000;
	} else {
		ok = false;
	}
	if (!ok) {
		bad_value(ld, m, name, "not a number above 0 and at most 1000000 '%s'",
			  shows(q, sizeof(q), s));
		r = V_BAD;
	} else {
		*out = v;
	}
	free(s);
	return r;
}

/* ---- shapes of values ----------------------------------------------------- */

static bool is_name_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '-' || c == '.';
}

/* A group or provider name: 1..NAME_MAX_CHARS of A-Z a-z 0-9 _ - ., not
 * starting with '.' or '-' (group names are folder names in templates/). */
static bool name_ok(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > NAME_MAX_CHARS || s[0] == '.' || s[0] == '-')
		return false;
	for (i = 0; i < len; i++)
		if (!is_name_char(s[i]))
			return false;
	return true;
}

/* A DNS name: labels of letters, digits and '-', not all-numeric at the
 * end (so "10.0.0.300" is not taken for a name). */
static bool host_name_ok(const char *s, size_t len)
{
	size_t i, label = 0;
	bool digits = true;

	if (len == 0 || len > 253)
		return false;
	for (i = 0; i < len; i++) {
		char c = s[i];

		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
			digits = true;
			continue;
		}
		if (!isalnum((unsigned char)c) && c != '-')
			return false;
		if (label == 0 && c == '-')
			return false;
		if (!isdigit((unsigned char)c))
			digits = false;
		if (++label > 63)
			return false;
	}
	return label > 0 && s[len - 1] != '-' && !digits;
}

static bool port_ok(const char *s, size_t len)
{
	unsigned v = 0;
	size_t i;

	if (len == 0 || len > 5)
		return false;
	for (i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	return v >= 1 && v <= 65535;
}

/* host (a name, an IPv4 address or a bracketed IPv6 address) of len
 * bytes. */
static bool host_ok(const char *s, size_t len)
{
	char tmp[64];
	unsigned char a[16];

	if (len >= 2 && s[0] == '[' && s[len - 1] == ']') {
		if (len - 2 >= sizeof(tmp))
			return false;
		memcpy(tmp, s + 1, len - 2);
		tmp[len - 2] = '\0';
		return inet_pton(AF_INET6, tmp, a) == 1;
	}
	if (len < sizeof(tmp)) {
		memcpy(tmp, s, len);
		tmp[len] = '\0';
		if (inet_pton(AF_INET, tmp, a) == 1)
			return true;
	}
	return host_name_ok(s, len);
}

/* "host:port", or "host" alone when port_optional. Writes where the port
 * starts (or NULL) into *port. */
static bool host_port_ok(const char *s, bool port_optional, const char **port)
{
	const char *colon;

	if (s[0] == '[') {
		const char *end = strchr(s, ']');

		if (!end)
			return false;
		colon = end[1] == ':' ? end + 1 : NULL;
		if (end[1] && !colon)
			return false;
	} else {
		colon = strchr(s, ':');
		if (colon && strchr(colon + 1, ':'))
			return false;
	}
	*port = colon ? colon + 1 : NULL;
	if (!colon)
		return port_optional && host_ok(s, strlen(s));
	return host_ok(s, (size_t)(colon - s)) && port_ok(colon + 1, strlen(colon + 1));
}

/* redis://host[:port][/db] or unix:///path, as tocsin reads it, with a
 * host that is a name or an address. */
static bool redis_url_ok(const char *s)
{
	struct tc_redis_where w;
	char host[sizeof(w.host) + 2];

	if (tc_redis_url_parse(s, &w) < 0)
		return false;
	if (!w.port)
		return w.host[1] != '\0';
	snprintf(host, sizeof(host), strchr(w.host, ':') ? "[%s]" : "%s", w.host);
	return host_ok(host, strlen(host));
}

/* 1..max of A-Z a-z 0-9 _ . : - */
static bool token_ok(const char *s, size_t max)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("_.:-", s[i]))
			return false;
	return i >= 1 && i <= max;
}

/* ---- files ---------------------------------------------------------------- */

static const char *errtext(int e, char *buf, size_t n)
{
	return strerror_r(e, buf, n);
}

/* rel resolved against the configuration's folder: a new string. */
static char *resolve(struct ld *ld, const char *rel)
{
	struct tc_buf b;
	char *r;

	if (rel[0] == '/')
		return xstrdup(ld, rel);
	tc_buf_init(&b, PATH_MAX);
	if (tc_buf_adds(&b, ld->cfg->dir) < 0 || tc_buf_addc(&b, '/') < 0 ||
	    tc_buf_adds(&b, rel) < 0) {
		tc_buf_release(&b);
		return NULL;
	}
	r = tc_buf_take(&b);
	tc_buf_release(&b);
	if (!r)
		ld->oom = true;
	return r;
}

/* rel as diagnostics name it: beside the configuration as given. */
static char *shown_path(struct ld *ld, const char *rel)
{
	struct tc_buf b;
	char *r;

	tc_buf_init(&b, PATH_MAX);
	if ((rel[0] != '/' && tc_buf_adds(&b, ld->shown_dir) < 0) ||
	    tc_buf_adds(&b, rel) < 0) {
		tc_buf_release(&b);
		return xstrdup(ld, rel);
	}
	r = tc_buf_take(&b);
	tc_buf_release(&b);
	if (!r)
		ld->oom = true;
	return r;
}

/* The canonical absolute path of rel, which must exist and be a folder
 * (want_dir) or a regular file; reported as key name of m if not. */
static char *existing_path(struct ld *ld, struct map *m, const char *name,
			   const char *rel, bool want_dir)
{
	char q[SHOW_BYTES], eb[128];
	char *abs = resolve(ld, rel), *real = NULL;
	struct stat st;

	if (!abs) {
		if (!ld->oom)
			bad_value(ld, m, name, "path too long '%s'",
				  shows(q, sizeof(q), rel));
		return NULL;
	}
	if (stat(abs, &st) < 0) {
		bad_value(ld, m, name, "cannot open '%s': %s", shows(q, sizeof(q), rel),
			  errtext(errno, eb, sizeof(eb)));
	} else if (want_dir && !S_ISDIR(st.st_mode)) {
		bad_value(ld, m, name, "not a folder '%s'", shows(q, sizeof(q), rel));
	} else if (!want_dir && !S_ISREG(st.st_mode)) {
		bad_value(ld, m, name, "not a regular file '%s'", shows(q, sizeof(q), rel));
	} else {
		real = realpath(abs, NULL);
		if (!real)
			bad_value(ld, m, name, "cannot resolve '%s': %s",
				  shows(q, sizeof(q), rel), errtext(errno, eb, sizeof(eb)));
	}
	free(abs);
	return real;
}

/* Reads path (at most TC_LIMIT_CONFIG_BYTES) into a new buffer, reading
 * to the end whatever fstat said, so a file that grows is still bounded. */
static int read_file(struct ld *ld, const char *path, char **out, size_t *len)
{
	char eb[128], chunk[READ_CHUNK_CONFIG];
	struct tc_buf b;
	struct stat st;
	ssize_t n;
	int fd, r = TC_EINVAL;

	tc_buf_init(&b, TC_LIMIT_CONFIG_BYTES);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		report(ld, 0, NULL, "cannot open: %s", errtext(errno, eb, sizeof(eb)));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		report(ld, 0, NULL, "not a regular file");
		goto out;
	}
	if ((uint64_t)st.st_size > TC_LIMIT_CONFIG_BYTES)
		goto too_big;
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			report(ld, 0, NULL, "cannot read: %s", errtext(errno, eb, sizeof(eb)));
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
	report(ld, 0, NULL, "larger than %u bytes (TC_LIMIT_CONFIG_BYTES)",
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
static void report_yaml_errors(struct ld *ld, struct fy_diag *diag)
{
	struct fy_diag_error *e;
	void *it = NULL;
	bool any = false;

	while ((e = fy_diag_errors_iterate(diag, &it))) {
		if (e->type < FYET_ERROR)
			continue;
		report(ld, e->line > 0 ? (unsigned)e->line : 0, NULL,
		       "not valid YAML: %s", e->msg ? e->msg : "parse error");
		any = true;
	}
	if (!any)
		report(ld, 0, NULL, "not valid YAML");
}

/* The document in buf/len, and the parser that owns it (destroy the
 * document with fy_parse_document_destroy before the parser). NULL,
 * reported, when it is not exactly one valid YAML document. */
static struct fy_document *parse_yaml(struct ld *ld, const char *buf, size_t len,
				      struct fy_parser **fypp, struct fy_diag **diagp)
{
	struct fy_parse_cfg pc;
	struct fy_diag_cfg dc;
	struct fy_document *doc = NULL, *next;
	struct fy_parser *fyp = NULL;
	struct fy_diag *diag;

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
			report(ld, 0, NULL, "empty: no YAML document");
		goto out;
	}
	next = fy_parse_load_document(fyp);
	if (next) {
		report(ld, node_line(fy_document_root(next), 0), NULL,
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

/* ---- common parts ---------------------------------------------------------- */

static const char *const retry_keys[] = { "attempts", "base", "max", NULL };
static const char *const rate_keys[] = { "per_second", "burst", NULL };

/* retry: {attempts, base, max} under m; defaults stay for what is absent. */
static void load_retry(struct ld *ld, struct map *m, struct tc_retry_cfg *rc)
{
	struct map r;
	int a, b, c;

	if (sub_map(ld, m, "retry", 0, retry_keys, &r) != V_OK)
		return;
	a = get_uint(ld, &r, "attempts", 1, 100, &rc->attempts);
	b = get_duration(ld, &r, "base", 1, &rc->base_ms);
	c = get_duration(ld, &r, "max", 1, &rc->max_ms);
	if (a != V_BAD && b != V_BAD && c != V_BAD && rc->base_ms > rc->max_ms)
		report(ld, r.line, r.path, "base (%llums) is longer than max (%llums)",
		       (unsigned long long)rc->base_ms, (unsigned long long)rc->max_ms);
}

/* rate: {per_second, burst} under m. Absent: no limit (0/0). burst
 * defaults to per_second, rounded up. */
static void load_rate(struct ld *ld, struct map *m, struct tc_rate_cfg *rc)
{
	struct map r;
	unsigned burst = 0;

	if (sub_map(ld, m, "rate", 0, rate_keys, &r) != V_OK)
		return;
	if (!fld(&r, "per_second")->present)
		report(ld, r.line, r.path, "missing required key 'per_second'");
	if (get_rate_value(ld, &r, "per_second", &rc->per_second) == V_OK) {
		burst = (unsigned)rc->per_second;
		if ((double)burst < rc->per_second || burst == 0)
			burst++;
	}
	if (get_uint(ld, &r, "burst", 1, 1000000, &rc->burst) == V_NONE)
		rc->burst = burst;
}

/* A list of channel names (key name of m) into *mask. */
static int load_channel_list(struct ld *ld, struct fy_node *v, unsigned line,
			     const char *path, unsigned *mask)
{
	char ipath[TC_PATH], q[SHOW_BYTES];
	struct fy_node *item;
	void *it = NULL;
	size_t i = 0;
	int r = V_OK;

	if (!is_kind(ld, v, FYNT_SEQUENCE, line, path, "a list"))
		return V_BAD;
	if (fy_node_sequence_item_count(v) == 0) {
		report(ld, node_line(v, line), path, "empty list: name at least one "
		       "channel (email, sms or webhook)");
		return V_BAD;
	}
	*mask = 0;
	while ((item = fy_node_sequence_iterate(v, &it))) {
		char *s = NULL;
		int c, sr;

		path_index(ipath, sizeof(ipath), path, i++);
		sr = scalar(ld, item, node_line(item, line), ipath, 0, "a channel name",
			    &s);
		if (sr == V_UNSET)
			continue;
		if (sr != V_OK) {
			r = V_BAD;
			continue;
		}
		c = tc_channel_parse(s);
		if (c < 0) {
			report(ld, node_line(item, line), ipath, "unknown channel '%s': "
			       "expected email, sms or webhook", shows(q, sizeof(q), s));
			r = V_BAD;
		} else if (*mask & TC_CH_BIT(c)) {
			report(ld, node_line(item, line), ipath, "channel '%s' listed twice",
			       s);
			r = V_BAD;
		} else {
			*mask |= TC_CH_BIT(c);
		}
		free(s);
	}
	return r;
}

/* Reports each channel of mask that the configuration does not have. */
static void check_enabled(struct ld *ld, const char *src, unsigned line,
			  const char *path, unsigned mask)
{
	int c;

	for (c = 0; c < TC_CH_COUNT; c++)
		if ((mask & TC_CH_BIT(c)) && !(ld->enabled & TC_CH_BIT(c)))
			report_at(ld, src, line, path, "channel '%s' is not configured "
				  "(no channels.%s)", tc_channel_name(c),
				  tc_channel_name(c));
}

/* Whether a member that passed tc_member_check can be reached: its own
 * channels must be configured; without its own, it needs an address for
 * one of the group's channels that is configured. */
static void check_reach(struct ld *ld, const struct tc_member *m,
			unsigned group_channels, const char *src, unsigned line,
			unsigned chan_line, const char *path)
{
	char cpath[TC_PATH], list[64] = "";
	unsigned eff = group_channels & ld->enabled;
	int c;

	if (m->channels) {
		path_key(cpath, sizeof(cpath), path, "channels");
		check_enabled(ld, src, chan_line, cpath, m->channels);
		return;
	}
	if (!eff)
		return; /* the group's own channels were reported */
	for (c = 0; c < TC_CH_COUNT; c++) {
		if (!(eff & TC_CH_BIT(c)))
			continue;
		if (tc_member_address(m, c))
			return;
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
			 list[0] ? " or " : "", tc_channel_name(c));
	}
	report_at(ld, src, line, path, "unreachable: no address for %s", list);
}

/* ---- top level sections --------------------------------------------------- */

static const char *const redis_keys[] = { "url", "prefix", "username", "password",
					   NULL };

static void load_redis(struct ld *ld, struct map *top)
{
	struct tc_cfg *cfg = ld->cfg;
	char q[SHOW_BYTES];
	struct map m;

	ld->in_redis = true;
	if (sub_map(ld, top, "redis", F_REQUIRED, redis_keys, &m) != V_OK)
		goto out;
	if (get_str(ld, &m, "url", F_REQUIRED, &cfg->redis_url) == V_OK &&
	    !redis_url_ok(cfg->redis_url)) {
		/* A URL with user:password@ may hold a secret: not shown. */
		if (strchr(cfg->redis_url, '@'))
			bad_value(ld, &m, "url", "credentials in the URL are not "
				  "supported: expected redis://host[:port][/db] or "
				  "unix:///path");
		else
			bad_value(ld, &m, "url", "expected redis://host[:port][/db] or "
				  "unix:///path, got '%s'",
				  shows(q, sizeof(q), cfg->redis_url));
	}
	if (get_str(ld, &m, "prefix", 0, &cfg->prefix) == V_OK &&
	    !token_ok(cfg->prefix, 64))
		bad_value(ld, &m, "prefix", "not a key prefix '%s': 1 to 64 of "
			  "A-Z a-z 0-9 _ . : -", shows(q, sizeof(q), cfg->prefix));
	/* AUTH: a password alone logs in as Redis' default user. */
	(void)get_str(ld, &m, "password", F_SECRET, &cfg->redis_password);
	if (get_str(ld, &m, "username", 0, &cfg->redis_username) == V_OK &&
	    !fld(&m, "password")->present)
		bad_value(ld, &m, "username", "a username needs redis.password too");
out:
	ld->in_redis = false;
	if (!cfg->prefix)
		cfg->prefix = xstrdup(ld, "tocsin");
}

static const char *const dispatcher_keys[] = {
	"consumer", "in_flight", "claim_idle", "shutdown_grace", NULL
};

/* The default consumer name: $HOSTNAME, else gethostname(). */
static char *default_consumer(struct ld *ld)
{
	const char *h = getenv("HOSTNAME");
	char name[256];

	if (!h || !h[0]) {
		if (gethostname(name, sizeof(name)) < 0)
			name[0] = '\0';
		name[sizeof(name) - 1] = '\0';
		h = name[0] ? name : "tocsind";
	}
	return xstrdup(ld, h);
}

static void load_dispatcher(struct ld *ld, struct map *top)
{
	struct tc_cfg *cfg = ld->cfg;
	char q[SHOW_BYTES];
	struct map m;

	if (sub_map(ld, top, "dispatcher", 0, dispatcher_keys, &m) == V_OK) {
		if (get_str(ld, &m, "consumer", 0, &cfg->consumer) == V_OK &&
		    !token_ok(cfg->consumer, CONSUMER_CHARS))
			bad_value(ld, &m, "consumer", "not a consumer name '%s': "
				  "1 to %d of A-Z a-z 0-9 _ . : -",
				  shows(q, sizeof(q), cfg->consumer), CONSUMER_CHARS);
		(void)get_uint(ld, &m, "in_flight", 1, 1000000, &cfg->in_flight);
		(void)get_duration(ld, &m, "claim_idle", 1, &cfg->claim_idle_ms);
		(void)get_duration(ld, &m, "shutdown_grace", 0, &cfg->shutdown_grace_ms);
	}
	if (!cfg->consumer) {
		cfg->consumer = default_consumer(ld);
		if (cfg->consumer && !token_ok(cfg->consumer, CONSUMER_CHARS))
			report(ld, 0, "dispatcher.consumer", "the host name '%s' is not "
			       "a consumer name: set dispatcher.consumer",
			       shows(q, sizeof(q), cfg->consumer));
	}
}

/* listen, public_url, ack_secret, templates. */
static void load_service(struct ld *ld, struct map *top)
{
	struct tc_cfg *cfg = ld->cfg;
	char q[SHOW_BYTES], why[600], *tpl = NULL;
	const char *port;

	if (get_str(ld, top, "listen", 0, &cfg->listen) == V_OK &&
	    !host_port_ok(cfg->listen, false, &port))
		bad_value(ld, top, "listen", "not host:port '%s'",
			  shows(q, sizeof(q), cfg->listen));
	if (get_str(ld, top, "public_url", 0, &cfg->public_url) == V_OK &&
	    tc_addr_url_check(cfg->public_url, why, sizeof(why)) < 0)
		bad_value(ld, top, "public_url", "%s", why);
	if (get_str(ld, top, "ack_secret", F_SECRET, &cfg->ack_secret) == V_OK &&
	    strlen(cfg->ack_secret) < 16)
		bad_value(ld, top, "ack_secret", "shorter than 16 bytes");
	switch (get_str(ld, top, "templates", 0, &tpl)) {
	case V_OK:
		cfg->templates = existing_path(ld, top, "templates", tpl, true);
		break;
	case V_NONE: {
		/* The default: templates/ beside the file. */
		char *abs = resolve(ld, "templates"), *shown;
		struct stat st;

		if (!abs)
			break;
		if (stat(abs, &st) == 0 && S_ISDIR(st.st_mode)) {
			cfg->templates = realpath(abs, NULL);
		} else {
			shown = shown_path(ld, "templates/");
			report(ld, top->line, "templates", "no folder '%s' (the default); "
			       "create it or set templates", shown ? shown : "templates/");
			free(shown);
		}
		free(abs);
		break;
	}
	default:
		break;
	}
	free(tpl);
}

/* ---- channels.webhook ---------------------------------------------------------- */

static const char *const webhook_keys[] = {
	"concurrency", "per_host", "connect_timeout", "timeout", "secret", "allow",
	"retry", NULL
};

static int b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Decodes standard base64 (padding optional) into out (max bytes).
 * Returns the length, -1 when s is not base64, -2 when it decodes to more
 * than max. */
static long b64_decode(const char *s, unsigned char *out, size_t max)
{
	size_t len = strlen(s), pad = 0, i, o = 0;
	uint32_t acc = 0;
	unsigned bits = 0;

	while (len > 0 && s[len - 1] == '=' && pad < 2) {
		len--;
		pad++;
	}
	if (len == 0 || len % 4 == 1 || (pad && (len + pad) % 4 != 0))
		return -1;
	for (i = 0; i < len; i++) {
		int v = b64_value(s[i]);

		if (v < 0)
			return -1;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o >= max)
				return -2;
			out[o++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	/* Leftover bits must be zero, or it is not canonical base64. */
	if (acc != 0)
		return -1;
	return (long)o;
}

/* A Standard Webhooks secret: "whsec_" and base64 of 16..128 bytes. The
 * value is never shown. */
static void load_webhook_secret(struct ld *ld, struct map *m,
				struct tc_webhook_cfg *w)
{
	char *s = NULL;
	long n;

	if (get_str(ld, m, "secret", F_REQUIRED | F_SECRET, &s) != V_OK)
		return;
	if (strncmp(s, "whsec_", 6) != 0) {
		bad_value(ld, m, "secret", "not a Standard Webhooks secret: expected "
			  "whsec_ and base64");
		goto out;
	}
	n = b64_decode(s + 6, w->key, sizeof(w->key));
	if (n == -1)
		bad_value(ld, m, "secret", "not a Standard Webhooks secret: what "
			  "follows whsec_ is not base64");
	else if (n == -2 || n < 16)
		bad_value(ld, m, "secret", "the key must be 16 to 128 bytes, got %s",
			  n == -2 ? "more" : "fewer");
	else
		w->key_len = (size_t)n;
out:
	if (!w->key_len)
		explicit_bzero(w->key, sizeof(w->key));
	explicit_bzero(s, strlen(s));
	free(s);
}

/* One allow entry: "10.0.0.0/8", "::1/128", "192.0.2.7", a host name, or
 * "*.example.org". Returns false when it is none of these; *why then says
 * more when it can. */
static bool allow_parse(const char *s, struct tc_allow *a, const char **why)
{
	char addr[64];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	uint64_t prefix;
	unsigned i, max;

	*why = NULL;
	if (alen < sizeof(addr)) {
		memcpy(addr, s, alen);
		addr[alen] = '\0';
		if (inet_pton(AF_INET, addr, a->addr) == 1)
			a->family = AF_INET;
		else if (inet_pton(AF_INET6, addr, a->addr) == 1)
			a->family = AF_INET6;
	}
	if (!a->family) {
		if (slash)
			return false;
		if (s[0] == '*' && s[1] == '.' && host_name_ok(s + 2, strlen(s + 2))) {
			a->host = strdup(s);
			return true;
		}
		if (host_name_ok(s, strlen(s))) {
			a->host = strdup(s);
			return true;
		}
		return false;
	}
	max = a->family == AF_INET ? 32 : 128;
	if (!slash) {
		a->prefix = max;
		return true;
	}
	if (!parse_u64(slash + 1, &prefix) || prefix > max || strlen(slash + 1) > 3) {
		*why = "bad prefix length";
		return false;
	}
	a->prefix = (unsigned)prefix;
	for (i = a->prefix; i < max; i++) {
		if (a->addr[i / 8] & (0x80 >> (i % 8))) {
			*why = "address bits set past the prefix length";
			return false;
		}
	}
	return true;
}

static void load_allow(struct ld *ld, struct map *m, struct tc_webhook_cfg *w)
{
	struct field *f = fld(m, "allow");
	char path[TC_PATH], ipath[TC_PATH], q[SHOW_BYTES];
	struct fy_node *item;
	void *it = NULL;
	size_t i = 0;
	int n;

	path_key(path, sizeof(path), m->path, "allow");
	if (!f->present) {
		report(ld, m->line, m->path, "missing required key 'allow'");
		return;
	}
	if (!is_kind(ld, f->val, FYNT_SEQUENCE, f->line, path, "a list"))
		return;
	n = fy_node_sequence_item_count(f->val);
	if (n == 0) {
		report(ld, f->line, path, "empty list: allow at least one destination");
		return;
	}
	if (n > TC_LIMIT_ALLOW) {
		report(ld, f->line, path, "more than %d entries (TC_LIMIT_ALLOW)",
		       TC_LIMIT_ALLOW);
		return;
	}
	w->allow = calloc((size_t)n, sizeof(*w->allow));
	if (!w->allow) {
		ld->oom = true;
		return;
	}
	while ((item = fy_node_sequence_iterate(f->val, &it))) {
		struct tc_allow *a = &w->allow[w->n_allow];
		const char *why;
		char *s = NULL;

		path_index(ipath, sizeof(ipath), path, i++);
		if (scalar(ld, item, node_line(item, f->line), ipath, 0, "a string",
			   &s) != V_OK)
			continue;
		if (allow_parse(s, a, &why)) {
			if (a->host) {
				char *p;

				for (p = a->host; *p; p++)
					*p = (char)tolower((unsigned char)*p);
			} else if (!a->family) {
				ld->oom = true;
			}
			w->n_allow++;
		} else {
			memset(a, 0, sizeof(*a));
			report(ld, node_line(item, f->line), ipath, "not an address "
			       "range, address or host name '%s'%s%s",
			       shows(q, sizeof(q), s), why ? ": " : "", why ? why : "");
		}
		free(s);
	}
}

static void load_webhook(struct ld *ld, struct map *ch)
{
	struct tc_webhook_cfg *w = &ld->cfg->webhook;
	struct map m;

	if (!fld(ch, "webhook")->present)
		return;
	w->enabled = true;
	ld->enabled |= TC_CH_BIT(TC_CH_WEBHOOK);
	if (sub_map(ld, ch, "webhook", 0, webhook_keys, &m) != V_OK)
		return;
	(void)get_uint(ld, &m, "concurrency", 1, 100000, &w->concurrency);
	(void)get_uint(ld, &m, "per_host", 1, 10000, &w->per_host);
	(void)get_duration(ld, &m, "connect_timeout", 1, &w->connect_timeout_ms);
	(void)get_duration(ld, &m, "timeout", 1, &w->timeout_ms);
	load_webhook_secret(ld, &m, w);
	load_allow(ld, &m, w);
	load_retry(ld, &m, &w->retry);
}

/* ---- channels.email --------------------------------------------------------- */

static const char *const email_keys[] = {
	"server", "starttls", "ca_file", "username", "password", "from",
	"reply_to", "sessions", "rate", "retry", NULL
};
static const char *const starttls_names[] = {
	"required", "opportunistic", "off", NULL
};

/* "addr" or "Name <addr>"; why says what is wrong. */
static bool from_ok(const char *s, char *why, size_t n)
{
	const char *lt = strchr(s, '<');
	size_t len = strlen(s);
	char addr[TC_LIMIT_ADDRESS + 1];

	if (!lt)
		return tc_addr_email_check(s, why, n) == 0;
	if (s[len - 1] != '>' || strchr(lt + 1, '<') || strchr(s, '>') != s + len - 1) {
		snprintf(why, n, "not an address or Name <address>");
		return false;
	}
	len = (size_t)(s + len - 1 - (lt + 1));
	memcpy(addr, lt + 1, len);
	addr[len] = '\0';
	return tc_addr_email_check(addr, why, n) == 0;
}

static void load_email(struct ld *ld, struct map *ch)
{
	struct tc_email_cfg *e = &ld->cfg->email;
	char q[SHOW_BYTES], why[600], *server = NULL, *ca = NULL;
	const char *port;
	int starttls = TC_STARTTLS_REQUIRED, ru, rp;
	struct map m;

	if (!fld(ch, "email")->present)
		return;
	e->enabled = true;
	ld->enabled |= TC_CH_BIT(TC_CH_EMAIL);
	if (sub_map(ld, ch, "email", 0, email_keys, &m) != V_OK)
		return;
	if (get_str(ld, &m, "server", F_REQUIRED, &server) == V_OK) {
		if (!host_port_ok(server, true, &port)) {
			bad_value(ld, &m, "server", "not host or host:port '%s'",
				  shows(q, sizeof(q), server));
		} else {
			e->port = port ? (unsigned)strtoul(port, NULL, 10) : 587;
			if (server[0] == '[')
				e->host = strndup(server + 1, strcspn(server + 1, "]"));
			else
				e->host = strndup(server, port ? (size_t)(port - 1 - server)
								: strlen(server));
			if (!e->host)
				ld->oom = true;
		}
	}
	if (get_enum(ld, &m, "starttls", starttls_names,
		     "required, opportunistic or off", &starttls) == V_OK)
		e->starttls = (enum tc_starttls)starttls;
	if (get_str(ld, &m, "ca_file", 0, &ca) == V_OK)
		e->ca_file = existing_path(ld, &m, "ca_file", ca, false);
	free(ca);
	ru = get_str(ld, &m, "username", 0, &e->username);
	rp = get_str(ld, &m, "password", F_SECRET, &e->password);
	if (rp == V_OK && ru == V_NONE)
		bad_value(ld, &m, "password", "a password without a username");
	if (ru == V_OK && rp == V_NONE)
		bad_value(ld, &m, "username", "a username without a password");
	if (ru == V_OK && e->starttls == TC_STARTTLS_OFF)
		bad_value(ld, &m, "starttls", "off, but a username is set: the "
			  "password would cross the network in clear");
	if (get_str(ld, &m, "from", F_REQUIRED, &e->from) == V_OK &&
	    !from_ok(e->from, why, sizeof(why)))
		bad_value(ld, &m, "from", "%s in '%s'", why, shows(q, sizeof(q), e->from));
	if (get_str(ld, &m, "reply_to", 0, &e->reply_to) == V_OK &&
	    tc_addr_email_check(e->reply_to, why, sizeof(why)) < 0)
		bad_value(ld, &m, "reply_to", "%s", why);
	(void)get_uint(ld, &m, "sessions", 1, 64, &e->sessions);
	load_rate(ld, &m, &e->rate);
	load_retry(ld, &m, &e->retry);
	free(server);
}

/* ---- channels.sms ------------------------------------------------------------ */

static const char *const sms_keys[] = {
	"max_segments", "overflow", "providers", "retry", NULL
};
static const char *const provider_keys[] = {
	"name", "kind", "base_url", "account_sid", "auth_token", "api_key",
	"api_secret", "from", "rate", NULL
};
static const char *const overflow_names[] = { "truncate", "reject", NULL };
static const char *const kind_names[] = { "twilio", "vonage", "http", NULL };

/* A provider's credentials: the kinds that need each, the kinds that may
 * have it (http may send an auth_token as a bearer token). */
#define KIND(k) (1u << (k))
static const struct {
	const char *name;
	unsigned flags;
	unsigned need, may;
} creds[] = {
	{ "account_sid", 0, KIND(TC_SMS_TWILIO), KIND(TC_SMS_TWILIO) },
	{ "auth_token", F_SECRET, KIND(TC_SMS_TWILIO),
	  KIND(TC_SMS_TWILIO) | KIND(TC_SMS_HTTP) },
	{ "api_key", 0, KIND(TC_SMS_VONAGE), KIND(TC_SMS_VONAGE) },
	{ "api_secret", F_SECRET, KIND(TC_SMS_VONAGE), KIND(TC_SMS_VONAGE) },
};

/* The credentials of m for kind (-1: unknown, take what is there). */
static void load_credentials(struct ld *ld, struct map *m, int kind,
			     struct tc_sms_provider *p)
{
	char **slot[] = { &p->account_sid, &p->auth_token, &p->api_key,
			  &p->api_secret };
	size_t i;

	for (i = 0; i < sizeof(creds) / sizeof(creds[0]); i++) {
		bool present = fld(m, creds[i].name)->present;

		if (kind >= 0 && present && !(creds[i].may & KIND(kind)))
			bad_value(ld, m, creds[i].name, "not used by kind '%s'",
				  kind_names[kind]);
		else if (kind >= 0 && !present && (creds[i].need & KIND(kind)))
			report(ld, m->line, m->path, "missing required key '%s' "
			       "(kind %s)", creds[i].name, kind_names[kind]);
		else
			(void)get_str(ld, m, creds[i].name, creds[i].flags, slot[i]);
	}
}

/* An SMS sender: E.164 (normalized into s) or an alphanumeric sender name of
 * 1..11 letters, digits and spaces with at least one letter. */
static bool sender_ok(char *s)
{
	char e164[17], why[64];
	size_t i, len = strlen(s);
	bool letter = false;

	if (s[0] == '+') {
		if (tc_addr_phone_normalize(s, e164, why, sizeof(why)) < 0)
			return false;
		memcpy(s, e164, strlen(e164) + 1);
		return true;
	}
	if (len > 11)
		return false;
	for (i = 0; i < len; i++) {
		if (isalpha((unsigned char)s[i]))
			letter = true;
		else if (!isdigit((unsigned char)s[i]) && s[i] != ' ')
			return false;
	}
	return letter;
}

static void load_provider(struct ld *ld, struct fy_node *v, unsigned line,
			  const char *path, struct tc_sms_provider *p)
{
	char q[SHOW_BYTES], why[600];
	int kind = -1;
	struct map m;

	if (!map_read(ld, v, path, line, provider_keys, &m))
		return;
	if (get_str(ld, &m, "name", F_REQUIRED, &p->name) == V_OK &&
	    !name_ok(p->name, strlen(p->name)))
		bad_value(ld, &m, "name", "not a provider name '%s': 1 to %d of "
			  "A-Z a-z 0-9 _ - .", shows(q, sizeof(q), p->name),
			  NAME_MAX_CHARS);
	if (!fld(&m, "kind")->present)
		report(ld, m.line, m.path, "missing required key 'kind'");
	else if (get_enum(ld, &m, "kind", kind_names, "twilio, vonage or http",
			  &kind) == V_OK)
		p->kind = (enum tc_sms_kind)kind;
	if (get_str(ld, &m, "base_url", F_REQUIRED, &p->base_url) == V_OK &&
	    tc_addr_url_check(p->base_url, why, sizeof(why)) < 0)
		bad_value(ld, &m, "base_url", "%s", why);
	load_credentials(ld, &m, kind, p);
	if (get_str(ld, &m, "from", F_REQUIRED, &p->from) == V_OK &&
	    !sender_ok(p->from))
		bad_value(ld, &m, "from", "not an E.164 number or a sender name "
			  "(1 to 11 letters, digits, spaces) '%s'",
			  shows(q, sizeof(q), p->from));
	load_rate(ld, &m, &p->rate);
}

static void load_providers(struct ld *ld, struct map *m, struct tc_sms_cfg *s)
{
	struct field *f = fld(m, "providers");
	char path[TC_PATH], ipath[TC_PATH];
	struct fy_node *item;
	void *it = NULL;
	size_t i, k;
	int n;

	path_key(path, sizeof(path), m->path, "providers");
	if (!f->present) {
		report(ld, m->line, m->path, "missing required key 'providers'");
		return;
	}
	if (!is_kind(ld, f->val, FYNT_SEQUENCE, f->line, path, "a list"))
		return;
	n = fy_node_sequence_item_count(f->val);
	if (n == 0) {
		report(ld, f->line, path, "empty list: name at least one provider");
		return;
	}
	if (n > TC_LIMIT_PROVIDERS) {
		report(ld, f->line, path, "more than %d providers (TC_LIMIT_PROVIDERS)",
		       TC_LIMIT_PROVIDERS);
		return;
	}
	s->providers = calloc((size_t)n, sizeof(*s->providers));
	if (!s->providers) {
		ld->oom = true;
		return;
	}
	for (i = 0; (item = fy_node_sequence_iterate(f->val, &it)); i++) {
		struct tc_sms_provider *p = &s->providers[i];

		path_index(ipath, sizeof(ipath), path, i);
		load_provider(ld, item, node_line(item, f->line), ipath, p);
		s->n_providers++;
		for (k = 0; p->name && k < i; k++)
			if (s->providers[k].name && strcmp(s->providers[k].name, p->name) == 0)
				report(ld, node_line(item, f->line), ipath,
				       "provider name '%s' used twice", p->name);
	}
}

static void load_sms(struct ld *ld, struct map *ch)
{
	struct tc_sms_cfg *s = &ld->cfg->sms;
	int overflow = TC_OVERFLOW_TRUNCATE;
	struct map m;

	if (!fld(ch, "sms")->present)
		return;
	s->enabled = true;
	ld->enabled |= TC_CH_BIT(TC_CH_SMS);
	if (sub_map(ld, ch, "sms", 0, sms_keys, &m) != V_OK)
		return;
	(void)get_uint(ld, &m, "max_segments", 1, 10, &s->max_segments);
	if (get_enum(ld, &m, "overflow", overflow_names, "truncate or reject",
		     &overflow) == V_OK)
		s->overflow = (enum tc_overflow)overflow;
	load_providers(ld, &m, s);
	load_retry(ld, &m, &s->retry);
}

static const char *const channels_keys[] = { "webhook", "email", "sms", NULL };

static void load_channels(struct ld *ld, struct map *top)
{
	struct map ch;

	if (sub_map(ld, top, "channels", F_REQUIRED, channels_keys, &ch) != V_OK)
		return;
	load_webhook(ld, &ch);
	load_email(ld, &ch);
	load_sms(ld, &ch);
	if (!ld->enabled)
		report(ld, ch.line, "channels", "no channel configured: "
		       "expected webhook, email or sms");
}

/* ---- groups ------------------------------------------------------------------- */

static const char *const group_keys[] = { "members", "roster", "channels", NULL };
static const char *const member_keys[] = {
	"name", "role", "email", "phone", "webhook", "channels", NULL
};

/* Moves what tc_member_check said from ld->local into ld->ds, each on the
 * line of the field it names when there is one. partial: some values were
 * unset (TC_CFG_CLIENT), so what may come from their absence (no address,
 * a channel without its address) is dropped. */
static void take_member_diags(struct ld *ld, struct map *m, bool partial)
{
	size_t i, k, plen = strlen(m->path);

	for (i = 0; i < ld->local->n; i++) {
		struct tc_diag *d = &ld->local->item[i];
		const char *field = strncmp(d->path, m->path, plen) == 0 &&
				    d->path[plen] == '.' ? d->path + plen + 1 : NULL;
		unsigned line = d->line;

		if (partial && (!field || strcmp(field, "channels") == 0))
			continue;
		for (k = 0; field && k < m->n; k++)
			if (m->f[k].present && strcmp(field, m->f[k].name) == 0)
				line = val_line(&m->f[k]);
		report_at(ld, d->source, line, d->path, "%s", d->msg);
	}
	ld->local->n = 0;
	ld->local->dropped = 0;
}

static void load_member(struct ld *ld, struct fy_node *v, unsigned line,
			const char *path, struct tc_group *g, struct tc_member *mb)
{
	static const char *const text[] = { "name", "role", "email", "phone", "webhook" };
	char **slot[5] = { &mb->name, &mb->role, &mb->email, &mb->phone, &mb->webhook };
	bool bad = false, unset = false;
	struct field *cf;
	struct map m;
	int i, r;

	if (!map_read(ld, v, path, line, member_keys, &m))
		return;
	for (i = 0; i < 5; i++) {
		r = get_str(ld, &m, text[i], 0, slot[i]);
		bad |= r == V_BAD;
		unset |= r == V_UNSET;
	}
	cf = fld(&m, "channels");
	if (cf->present) {
		char cpath[TC_PATH];

		path_key(cpath, sizeof(cpath), path, "channels");
		if (load_channel_list(ld, cf->val, cf->line, cpath, &mb->channels) != V_OK)
			bad = true;
	}
	/* A value already reported would only make tc_member_check say
	 * something less precise about it. */
	if (bad)
		return;
	if (tc_member_check(mb, ld->src, m.line, path, ld->local) < 0 || unset)
		take_member_diags(ld, &m, unset);
	else
		check_reach(ld, mb, g->channels, ld->src, m.line,
			    cf->present ? val_line(cf) : m.line, path);
}

static void load_members(struct ld *ld, struct map *gm, struct tc_group *g)
{
	struct field *f = fld(gm, "members");
	char path[TC_PATH], ipath[TC_PATH];
	struct fy_node *item;
	void *it = NULL;
	size_t i;
	int n;

	path_key(path, sizeof(path), gm->path, "members");
	if (!is_kind(ld, f->val, FYNT_SEQUENCE, f->line, path, "a list"))
		return;
	n = fy_node_sequence_item_count(f->val);
	if (n > TC_LIMIT_INLINE_MEMBERS) {
		report(ld, f->line, path, "more than %d members (TC_LIMIT_INLINE_MEMBERS); "
		       "use a roster", TC_LIMIT_INLINE_MEMBERS);
		return;
	}
	g->members = calloc(n > 0 ? (size_t)n : 1, sizeof(*g->members));
	if (!g->members) {
		ld->oom = true;
		return;
	}
	for (i = 0; (item = fy_node_sequence_iterate(f->val, &it)); i++) {
		path_index(ipath, sizeof(ipath), path, i);
		load_member(ld, item, node_line(item, f->line), ipath, g, &g->members[i]);
		g->n_members++;
	}
}

/* ---- rosters ------------------------------------------------------------------ */

struct roster_ctx {
	struct ld *ld;
	const struct tc_group *g;
	const char *shown; /* the roster's name in diagnostics */
};

static int roster_row(void *data, const struct tc_member *m, unsigned line,
		      const struct tc_diag *d)
{
	struct roster_ctx *rc = data;

	if (!m) {
		report_at(rc->ld, d->source, d->line, d->path, "%s", d->msg);
		return 0;
	}
	check_reach(rc->ld, m, rc->g->channels, rc->shown, line, line, "");
	return 0;
}

/* Reads every row of the roster at abs through tc_roster. */
static void read_roster(struct ld *ld, const struct tc_group *g, const char *abs,
			const char *shown)
{
	struct roster_ctx rc = { ld, g, shown };
	struct tc_roster *r;
	struct tc_diag d;
	char eb[128], *buf;
	ssize_t n;
	int fd, rr = 0;

	fd = open(abs, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		report_at(ld, shown, 0, NULL, "cannot open: %s",
			  errtext(errno, eb, sizeof(eb)));
		return;
	}
	buf = malloc(READ_CHUNK);
	r = tc_roster_new(shown, roster_row, &rc);
	if (!buf || !r) {
		ld->oom = true;
		goto out;
	}
	for (;;) {
		n = read(fd, buf, READ_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			report_at(ld, shown, 0, NULL, "cannot read: %s",
				  errtext(errno, eb, sizeof(eb)));
			goto out;
		}
		if (n == 0)
			break;
		rr = tc_roster_feed(r, buf, (size_t)n, &d);
		if (rr != 0)
			break;
	}
	if (rr == 0)
		rr = tc_roster_finish(r, &d);
	if (rr == -ENOMEM)
		ld->oom = true;
	else if (rr != 0)
		report_at(ld, d.source, d.line, d.path, "%s", d.msg);
out:
	tc_roster_free(r);
	free(buf);
	close(fd);
}

static void load_roster(struct ld *ld, struct map *gm, struct tc_group *g)
{
	char *rel = NULL, *shown;

	if (get_str(ld, gm, "roster", 0, &rel) != V_OK)
		return;
	g->roster = existing_path(ld, gm, "roster", rel, false);
	/* The CLI needs the group to exist, not its rows: tocsind and
	 * check-config read every row; a send to a big roster stays quick. */
	if (g->roster && ld->mode == TC_CFG_DAEMON) {
		shown = shown_path(ld, rel);
		if (shown)
			read_roster(ld, g, g->roster, shown);
		free(shown);
	}
	free(rel);
}

static void load_group(struct ld *ld, struct fy_node *v, unsigned line,
		       const char *path, struct tc_group *g)
{
	struct field *cf, *mf;
	struct map m;

	g->channels = TC_CH_ALL;
	if (!map_read(ld, v, path, line, group_keys, &m))
		return;
	cf = fld(&m, "channels");
	if (cf->present) {
		char cpath[TC_PATH];

		path_key(cpath, sizeof(cpath), path, "channels");
		if (load_channel_list(ld, cf->val, cf->line, cpath, &g->channels) == V_OK)
			check_enabled(ld, ld->src, val_line(cf), cpath, g->channels);
		else
			g->channels = 0; /* reported; members are not judged by it */
	}
	mf = fld(&m, "members");
	if (mf->present)
		load_members(ld, &m, g);
	if (fld(&m, "roster")->present)
		load_roster(ld, &m, g);
	else if (!mf->present || (mf->val && fy_node_get_type(mf->val) == FYNT_SEQUENCE &&
				  fy_node_sequence_item_count(mf->val) == 0))
		report(ld, line, path, "no members and no roster");
}

static void load_groups(struct ld *ld, struct map *top)
{
	struct tc_cfg *cfg = ld->cfg;
	struct field *f = fld(top, "groups");
	char path[TC_PATH], q[SHOW_BYTES];
	struct fy_node_pair *p;
	void *it = NULL;
	int n;

	if (!f->present)
		return;
	if (!is_kind(ld, f->val, FYNT_MAPPING, f->line, "groups", "a mapping"))
		return;
	n = fy_node_mapping_item_count(f->val);
	if (n > TC_LIMIT_GROUPS) {
		report(ld, f->line, "groups", "more than %d groups (TC_LIMIT_GROUPS)",
		       TC_LIMIT_GROUPS);
		return;
	}
	cfg->groups = calloc(n > 0 ? (size_t)n : 1, sizeof(*cfg->groups));
	if (!cfg->groups) {
		ld->oom = true;
		return;
	}
	while ((p = fy_node_mapping_iterate(f->val, &it))) {
		struct fy_node *k = fy_node_pair_key(p);
		struct tc_group *g = &cfg->groups[cfg->n_groups];
		unsigned kl = node_line(k, f->line);
		const char *s = NULL;
		size_t len = 0;

		if (k && fy_node_get_type(k) == FYNT_SCALAR &&
		    fy_node_get_style(k) != FYNS_ALIAS && !is_null(k))
			s = fy_node_get_scalar(k, &len);
		if (!s || !name_ok(s, len)) {
			report(ld, kl, "groups", "not a group name '%s': 1 to %d of "
			       "A-Z a-z 0-9 _ - ., not starting with . or -",
			       s ? show(q, sizeof(q), s, len) : "", NAME_MAX_CHARS);
			continue;
		}
		g->name = strndup(s, len);
		if (!g->name) {
			ld->oom = true;
			return;
		}
		cfg->n_groups++;
		path_fmt(path, sizeof(path), "groups.%s", g->name);
		load_group(ld, fy_node_pair_value(p), kl, path, g);
	}
}

/* ---- the whole file --------------------------------------------------------- */

static const char *const top_keys[] = {
	"redis", "dispatcher", "listen", "public_url", "ack_secret", "templates",
	"channels", "groups", NULL
};

static void set_defaults(struct tc_cfg *cfg)
{
	cfg->in_flight = 1000;
	cfg->claim_idle_ms = 60000;
	cfg->shutdown_grace_ms = 10000;
	cfg->webhook.concurrency = 256;
	cfg->webhook.per_host = 16;
	cfg->webhook.connect_timeout_ms = 3000;
	cfg->webhook.timeout_ms = 10000;
	cfg->webhook.retry = (struct tc_retry_cfg){ 8, 1000, 300000 };
	cfg->email.port = 587;
	cfg->email.starttls = TC_STARTTLS_REQUIRED;
	cfg->email.sessions = 4;
	cfg->email.retry = (struct tc_retry_cfg){ 6, 30000, 1800000 };
	cfg->sms.max_segments = 3;
	cfg->sms.overflow = TC_OVERFLOW_TRUNCATE;
	cfg->sms.retry = (struct tc_retry_cfg){ 5, 5000, 600000 };
}

/* path, its folder as given ("" or ending in '/') and that folder's
 * absolute form. */
static int set_paths(struct ld *ld, const char *path)
{
	const char *slash = strrchr(path, '/');
	size_t dlen = slash ? (size_t)(slash - path) + 1 : 0;
	char *dir;

	ld->shown_dir = strndup(path, dlen);
	dir = slash ? strndup(path, dlen == 1 ? 1 : dlen - 1) : strdup(".");
	if (!ld->shown_dir || !dir) {
		free(dir);
		return -ENOMEM;
	}
	ld->cfg->dir = realpath(dir, NULL);
	ld->cfg->path = realpath(path, NULL);
	free(dir);
	if (!ld->cfg->dir || !ld->cfg->path)
		return -errno;
	return 0;
}

static void load_root(struct ld *ld, struct fy_node *root)
{
	struct map top;

	if (!depth_ok(ld, root, 1))
		return;
	if (!map_read(ld, root, "", 1, top_keys, &top))
		return;
	load_redis(ld, &top);
	load_dispatcher(ld, &top);
	load_service(ld, &top);
	load_channels(ld, &top);
	load_groups(ld, &top);
}

/*
 * Loads and checks the whole file; see config.h. Rosters are read row by
 * row here, so a load may take a while for big ones: never on the loop
 * thread.
 */
int tc_cfg_load(const char *path, enum tc_cfg_mode mode, struct tc_cfg **out,
		struct tc_diags *ds)
{
	struct ld ld = { .ds = ds, .src = path, .mode = mode };
	struct fy_document *doc = NULL;
	struct fy_parser *fyp = NULL;
	struct fy_diag *diag = NULL;
	size_t before = ds->n + ds->dropped, len = 0;
	char *buf = NULL, eb[128];
	int r;

	ld.cfg = calloc(1, sizeof(*ld.cfg));
	ld.local = calloc(1, sizeof(*ld.local));
	if (!ld.cfg || !ld.local) {
		r = -ENOMEM;
		goto out;
	}
	set_defaults(ld.cfg);
	if (read_file(&ld, path, &buf, &len) < 0)
		goto done;
	r = set_paths(&ld, path);
	if (r == -ENOMEM)
		goto out;
	if (r < 0) {
		report(&ld, 0, NULL, "cannot resolve its folder: %s",
		       errtext(-r, eb, sizeof(eb)));
		goto done;
	}
	doc = parse_yaml(&ld, buf, len, &fyp, &diag);
	if (doc)
		load_root(&ld, fy_document_root(doc));
done:
	r = ld.oom ? -ENOMEM : ds->n + ds->dropped > before ? TC_EINVAL : 0;
out:
	if (doc)
		fy_parse_document_destroy(fyp, doc);
	if (fyp)
		fy_parser_destroy(fyp);
	if (diag)
		fy_diag_destroy(diag);
	free(buf);
	free(ld.local);
	free(ld.shown_dir);
	if (r < 0) {
		tc_cfg_free(ld.cfg);
		return r;
	}
	*out = ld.cfg;
	return 0;
}

static void free_secret(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

void tc_cfg_free(struct tc_cfg *cfg)
{
	size_t i, k;

	if (!cfg)
		return;
	free(cfg->path);
	free(cfg->dir);
	free(cfg->redis_url);
	free(cfg->redis_username);
	free(cfg->redis_password);
	free(cfg->prefix);
	free(cfg->consumer);
	free(cfg->listen);
	free(cfg->public_url);
	free_secret(cfg->ack_secret);
	free(cfg->templates);
	explicit_bzero(cfg->webhook.key, sizeof(cfg->webhook.key));
	for (i = 0; i < cfg->webhook.n_allow; i++)
		free(cfg->webhook.allow[i].host);
	free(cfg->webhook.allow);
	free(cfg->email.host);
	free(cfg->email.ca_file);
	free(cfg->email.username);
	free_secret(cfg->email.password);
	free(cfg->email.from);
	free(cfg->email.reply_to);
	for (i = 0; i < cfg->sms.n_providers; i++) {
		struct tc_sms_provider *p = &cfg->sms.providers[i];

		free(p->name);
		free(p->base_url);
		free(p->account_sid);
		free_secret(p->auth_token);
		free(p->api_key);
		free_secret(p->api_secret);
		free(p->from);
	}
	free(cfg->sms.providers);
	for (i = 0; i < cfg->n_groups; i++) {
		struct tc_group *g = &cfg->groups[i];

		free(g->name);
		for (k = 0; k < g->n_members; k++)
			tc_member_release(&g->members[k]);
		free(g->members);
		free(g->roster);
	}
	free(cfg->groups);
	free(cfg);
}

const struct tc_group *tc_cfg_group(const struct tc_cfg *cfg, const char *name)
{
	size_t i;

	for (i = 0; i < cfg->n_groups; i++)
		if (strcmp(cfg->groups[i].name, name) == 0)
			return &cfg->groups[i];
	return NULL;
}
