/*
 * values: what a scalar of the configuration may be. Typed getters
 * (integers in a range, durations, enumerations, rates, retry policies)
 * built on yaml.c's strings, the shapes of names, hosts, ports and URLs,
 * and paths relative to the configuration file.
 *
 * A getter reports what is wrong with the user's value quoted, and leaves
 * its output alone unless the value is good, so defaults stay.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/x509_vfy.h>

#include "config/config_internal.h"

/* ---- typed values ------------------------------------------------------------ */

bool tc_yaml_parse_u64(const char *s, uint64_t *v)
{
	return tc_parse_uints(s, UINT64_MAX, v) == 0;
}

/* An integer in min..max into *out (left alone unless TC_V_OK). */
int tc_yaml_get_uint(struct tc_load *ld, struct tc_ymap *m, const char *name,
		     unsigned min, unsigned max, unsigned *out)
{
	char q[TC_SHOW_BYTES], *s = NULL;
	uint64_t v;
	int r = tc_yaml_get_value(ld, m, name, 0, "a number", &s);

	if (r != TC_V_OK)
		return r;
	if (!tc_yaml_parse_u64(s, &v) || v < min || v > max) {
		tc_yaml_bad_value(ld, m, name, "not an integer in %u..%u '%s'", min, max,
				  tc_yaml_shows(q, sizeof(q), s));
		r = TC_V_BAD;
	} else {
		*out = (unsigned)v;
	}
	free(s);
	return r;
}

/* Writes ms as the largest unit that divides it ("24h", "400d") into out. */
static void duration_fmt(uint64_t ms, char *out, size_t n)
{
	static const struct { uint64_t ms; const char *unit; } units[] = {
		{ TC_DAY_MS, "d" }, { 3600000, "h" }, { 60000, "m" },
		{ 1000, "s" }, { 1, "ms" },
	};
	size_t i;

	for (i = 0; i < sizeof(units) / sizeof(units[0]) - 1; i++)
		/* 24h reads better than 1d. */
		if (ms % units[i].ms == 0 && ms > (i == 0 ? TC_DAY_MS : 0))
			break;
	snprintf(out, n, "%llu%s", (unsigned long long)(ms / units[i].ms),
		 units[i].unit);
}

/* A duration ("250ms", "10s", "5m", "2h", "30d") of min..max ms. */
int tc_yaml_get_duration(struct tc_load *ld, struct tc_ymap *m, const char *name,
			 uint64_t min, uint64_t max, uint64_t *out)
{
	char q[TC_SHOW_BYTES], most[32], *s = NULL;
	uint64_t v;
	int r = tc_yaml_get_value(ld, m, name, 0, "a duration", &s);

	if (r != TC_V_OK)
		return r;
	if (tc_duration_parse(s, &v) < 0) {
		tc_yaml_bad_value(ld, m, name, "not a duration '%s': write it like "
				  "250ms, 10s, 5m, 2h or 30d",
				  tc_yaml_shows(q, sizeof(q), s));
		r = TC_V_BAD;
	} else if (v < min) {
		tc_yaml_bad_value(ld, m, name, "too short '%s': at least %llums",
				  tc_yaml_shows(q, sizeof(q), s),
				  (unsigned long long)min);
		r = TC_V_BAD;
	} else if (v > max) {
		duration_fmt(max, most, sizeof(most));
		tc_yaml_bad_value(ld, m, name, "too long '%s': at most %s",
				  tc_yaml_shows(q, sizeof(q), s), most);
		r = TC_V_BAD;
	} else {
		*out = v;
	}
	free(s);
	return r;
}

/* One of names[] (NULL-ended); its index into *out. */
int tc_yaml_get_enum(struct tc_load *ld, struct tc_ymap *m, const char *name,
		     const char *const *names, const char *expect, int *out)
{
	char q[TC_SHOW_BYTES], *s = NULL;
	int r = tc_yaml_get_value(ld, m, name, 0, "a string", &s), i;

	if (r != TC_V_OK)
		return r;
	for (i = 0; names[i]; i++)
		if (strcmp(names[i], s) == 0)
			break;
	if (names[i]) {
		*out = i;
	} else {
		tc_yaml_bad_value(ld, m, name, "unknown value '%s': expected %s",
				  tc_yaml_shows(q, sizeof(q), s), expect);
		r = TC_V_BAD;
	}
	free(s);
	return r;
}

/* A rate in (0, 1000000] per second: digits with an optional fraction. */
static int rate_number(struct tc_load *ld, struct tc_ymap *m, const char *name,
		       double *out)
{
	char q[TC_SHOW_BYTES], *s = NULL, *end;
	size_t i, dots = 0;
	double v = 0;
	int r = tc_yaml_get_value(ld, m, name, 0, "a number", &s);
	bool ok = true;

	if (r != TC_V_OK)
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
		tc_yaml_bad_value(ld, m, name, "not a number above 0 and at most "
				  "1000000 '%s'", tc_yaml_shows(q, sizeof(q), s));
		r = TC_V_BAD;
	} else {
		*out = v;
	}
	free(s);
	return r;
}

/* ---- retry and rate ---------------------------------------------------------- */

static const char *const retry_keys[] = { "attempts", "base", "max", NULL };
static const char *const rate_keys[] = { "per_second", "burst", NULL };

/* retry: {attempts, base, max} under m; defaults stay for what is absent. */
void tc_yaml_get_retry(struct tc_load *ld, struct tc_ymap *m, struct tc_retry_cfg *rc)
{
	struct tc_ymap r;
	int a, b, c;

	if (tc_yaml_sub_map(ld, m, "retry", 0, retry_keys, &r) != TC_V_OK)
		return;
	a = tc_yaml_get_uint(ld, &r, "attempts", 1, 100, &rc->attempts);
	b = tc_yaml_get_duration(ld, &r, "base", 1, TC_DURATION_MAX, &rc->base_ms);
	c = tc_yaml_get_duration(ld, &r, "max", 1, TC_DURATION_MAX, &rc->max_ms);
	if (a != TC_V_BAD && b != TC_V_BAD && c != TC_V_BAD &&
	    rc->base_ms > rc->max_ms)
		tc_yaml_report(ld, r.line, r.path, "base (%llums) is longer than "
			       "max (%llums)", (unsigned long long)rc->base_ms,
			       (unsigned long long)rc->max_ms);
}

/* rate: {per_second, burst} under m. Absent: no limit (0/0). burst
 * defaults to per_second rounded up, and at least min_burst; a burst
 * written below min_burst (what min_name says) is an error. */
void tc_yaml_get_rate(struct tc_load *ld, struct tc_ymap *m, unsigned min_burst,
		      const char *min_name, struct tc_rate_cfg *rc)
{
	struct tc_ymap r;
	unsigned burst = 0;
	int rb;

	if (tc_yaml_sub_map(ld, m, "rate", 0, rate_keys, &r) != TC_V_OK)
		return;
	if (!tc_yaml_field(&r, "per_second")->present)
		tc_yaml_report(ld, r.line, r.path, "missing required key 'per_second'");
	if (rate_number(ld, &r, "per_second", &rc->per_second) == TC_V_OK) {
		burst = (unsigned)rc->per_second;
		if ((double)burst < rc->per_second || burst == 0)
			burst++;
	}
	rb = tc_yaml_get_uint(ld, &r, "burst", 1, 1000000, &rc->burst);
	if (rb == TC_V_NONE)
		rc->burst = burst > min_burst ? burst : min_burst;
	else if (rb == TC_V_OK && rc->burst < min_burst)
		tc_yaml_bad_value(ld, &r, "burst", "smaller than %s (%u) '%u': the "
				  "longest message would never be let through",
				  min_name, min_burst, rc->burst);
}

/* ---- allow lists ----------------------------------------------------------------- */

/* One entry of an allow list into *a (left zeroed when it is bad). */
static void allow_entry(struct tc_load *ld, struct fy_node *item, unsigned line,
			const char *path, struct tc_allow *a, size_t *n)
{
	char q[TC_SHOW_BYTES], why[200], *s = NULL;
	int r;

	if (tc_yaml_scalar(ld, item, line, path, 0, "a string", &s) != TC_V_OK)
		return;
	r = tc_allow_parse(s, a, why, sizeof(why));
	if (r == 0)
		(*n)++;
	else if (r == -ENOMEM)
		ld->oom = true;
	else
		tc_yaml_report(ld, line, path, "not an address range, address or "
			       "host name '%s'%s%s", tc_yaml_shows(q, sizeof(q), s),
			       why[0] ? ": " : "", why);
	free(s);
}

int tc_yaml_get_allow(struct tc_load *ld, struct tc_ymap *m, const char *name,
		      unsigned flags, struct tc_allow **out, size_t *n_out)
{
	struct tc_yfield *f = tc_yaml_field(m, name);
	char path[TC_PATH], ipath[TC_PATH];
	struct fy_node *item;
	void *it = NULL;
	size_t i = 0;
	int n;

	tc_yaml_path_key(path, sizeof(path), m->path, name);
	if (!f->present) {
		if (flags & TC_F_REQUIRED)
			tc_yaml_report(ld, m->line, m->path, "missing required key "
				       "'%s'", name);
		return TC_V_NONE;
	}
	if (!tc_yaml_is_kind(ld, f->val, FYNT_SEQUENCE, f->line, path, "a list"))
		return TC_V_BAD;
	n = fy_node_sequence_item_count(f->val);
	if (n == 0) {
		tc_yaml_report(ld, f->line, path, "empty list: allow at least one "
			       "destination");
		return TC_V_BAD;
	}
	if (n > TC_LIMIT_ALLOW) {
		tc_yaml_report(ld, f->line, path, "more than %d entries "
			       "(TC_LIMIT_ALLOW)", TC_LIMIT_ALLOW);
		return TC_V_BAD;
	}
	*out = calloc((size_t)n, sizeof(**out));
	if (!*out) {
		ld->oom = true;
		return TC_V_BAD;
	}
	while ((item = fy_node_sequence_iterate(f->val, &it))) {
		tc_yaml_path_index(ipath, sizeof(ipath), path, i++);
		allow_entry(ld, item, tc_yaml_line(item, f->line), ipath,
			    &(*out)[*n_out], n_out);
	}
	return TC_V_OK;
}

/* ---- URLs and JSON pointers ------------------------------------------------------ */

/* Whether the authority of URL s (after "://", up to a '/', '?' or '#')
 * holds user information. */
static bool url_has_userinfo(const char *s)
{
	const char *a = strstr(s, "://");
	size_t len;

	if (!a)
		return false;
	a += 3;
	len = strcspn(a, "/?#");
	return memchr(a, '@', len) != NULL;
}

int tc_val_get_url(struct tc_load *ld, struct tc_ymap *m, const char *name,
		   unsigned flags, char **out)
{
	char why[600], *s = NULL;
	int r = tc_yaml_get_str(ld, m, name, flags, &s);

	if (r != TC_V_OK)
		return r;
	if (url_has_userinfo(s)) {
		/* user:password@ may hold a secret: not shown. */
		tc_yaml_bad_value(ld, m, name, "credentials in the URL are not "
				  "supported");
		r = TC_V_BAD;
	} else if (tc_addr_url_check(s, why, sizeof(why)) < 0) {
		tc_yaml_bad_value(ld, m, name, "%s", why);
		r = TC_V_BAD;
	}
	if (r == TC_V_OK)
		*out = s;
	else
		free(s);
	return r;
}

bool tc_val_json_pointer_ok(const char *s)
{
	if (s[0] != '/')
		return false;
	for (; *s; s++)
		if (*s == '~' && s[1] != '0' && s[1] != '1')
			return false;
	return true;
}

/* ---- shapes of values ----------------------------------------------------- */

static bool is_name_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '-' || c == '.';
}

/* A group or provider name: 1..NAME_MAX_CHARS of A-Z a-z 0-9 _ - ., not
 * starting with '.' or '-' (group names are folder names in templates/). */
bool tc_val_name_ok(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > TC_NAME_CHARS || s[0] == '.' || s[0] == '-')
		return false;
	for (i = 0; i < len; i++)
		if (!is_name_char(s[i]))
			return false;
	return true;
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
bool tc_val_host_ok(const char *s, size_t len)
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
	return tc_host_name_ok(s, len);
}

/* "host:port", or "host" alone when port_optional. Writes where the port
 * starts (or NULL) into *port. */
bool tc_val_host_port_ok(const char *s, bool port_optional, const char **port)
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
		return port_optional && tc_val_host_ok(s, strlen(s));
	return tc_val_host_ok(s, (size_t)(colon - s)) &&
	       port_ok(colon + 1, strlen(colon + 1));
}

/* redis://host[:port][/db] or unix:///path, as tocsin reads it, with a
 * host that is a name or an address. */
bool tc_val_redis_url_ok(const char *s)
{
	struct tc_redis_where w;
	char host[sizeof(w.host) + 2];

	if (tc_redis_url_parse(s, &w) < 0)
		return false;
	if (!w.port)
		return w.host[1] != '\0';
	snprintf(host, sizeof(host), strchr(w.host, ':') ? "[%s]" : "%s", w.host);
	return tc_val_host_ok(host, strlen(host));
}

/* 1..max of A-Z a-z 0-9 _ . : - */
bool tc_val_token_ok(const char *s, size_t max)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("_.:-", s[i]))
			return false;
	return i >= 1 && i <= max;
}

/* ---- paths ------------------------------------------------------------------ */

/* rel resolved against the configuration's folder: a new string. */
char *tc_val_resolve(struct tc_load *ld, const char *rel)
{
	struct tc_buf b;
	char *r;

	if (rel[0] == '/')
		return tc_yaml_strdup(ld, rel);
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
char *tc_val_shown_path(struct tc_load *ld, const char *rel)
{
	struct tc_buf b;
	char *r;

	tc_buf_init(&b, PATH_MAX);
	if ((rel[0] != '/' && tc_buf_adds(&b, ld->shown_dir) < 0) ||
	    tc_buf_adds(&b, rel) < 0) {
		tc_buf_release(&b);
		return tc_yaml_strdup(ld, rel);
	}
	r = tc_buf_take(&b);
	tc_buf_release(&b);
	if (!r)
		ld->oom = true;
	return r;
}

/* The canonical absolute path of rel, which must exist and be a folder
 * (want_dir) or a regular file; reported as key name of m if not. */
char *tc_val_existing_path(struct tc_load *ld, struct tc_ymap *m, const char *name,
			   const char *rel, bool want_dir)
{
	char q[TC_SHOW_BYTES], eb[128];
	char *abs = tc_val_resolve(ld, rel), *real = NULL;
	struct stat st;

	if (!abs) {
		if (!ld->oom)
			tc_yaml_bad_value(ld, m, name, "path too long '%s'",
					  tc_yaml_shows(q, sizeof(q), rel));
		return NULL;
	}
	if (stat(abs, &st) < 0) {
		tc_yaml_bad_value(ld, m, name, "cannot open '%s': %s",
				  tc_yaml_shows(q, sizeof(q), rel),
				  tc_yaml_errtext(errno, eb, sizeof(eb)));
	} else if (want_dir && !S_ISDIR(st.st_mode)) {
		tc_yaml_bad_value(ld, m, name, "not a folder '%s'",
				  tc_yaml_shows(q, sizeof(q), rel));
	} else if (!want_dir && !S_ISREG(st.st_mode)) {
		tc_yaml_bad_value(ld, m, name, "not a regular file '%s'",
				  tc_yaml_shows(q, sizeof(q), rel));
	} else {
		real = realpath(abs, NULL);
		if (!real)
			tc_yaml_bad_value(ld, m, name, "cannot resolve '%s': %s",
					  tc_yaml_shows(q, sizeof(q), rel),
					  tc_yaml_errtext(errno, eb, sizeof(eb)));
	}
	free(abs);
	return real;
}

/* A file of CAs in PEM, read here as TLS will read it (OpenSSL's
 * X509_STORE_load_file), so a file that trusts nothing fails at load, not
 * at the first delivery. */
char *tc_val_ca_file(struct tc_load *ld, struct tc_ymap *m, const char *name)
{
	char q[TC_SHOW_BYTES], eb[128], *rel = NULL, *real = NULL;
	X509_STORE *st = NULL;
	unsigned long e;

	if (tc_yaml_get_str(ld, m, name, 0, &rel) != TC_V_OK)
		return NULL;
	real = tc_val_existing_path(ld, m, name, rel, false);
	if (!real)
		goto out;
	st = X509_STORE_new();
	if (!st) {
		ld->oom = true;
		goto bad;
	}
	if (X509_STORE_load_file(st, real) != 1) {
		e = ERR_peek_error();
		if (ERR_GET_LIB(e) == ERR_LIB_SYS)
			tc_yaml_bad_value(ld, m, name, "cannot read '%s': %s",
					  tc_yaml_shows(q, sizeof(q), rel),
					  tc_yaml_errtext(ERR_GET_REASON(e), eb,
							  sizeof(eb)));
		else
			tc_yaml_bad_value(ld, m, name, "no PEM certificate in '%s'",
					  tc_yaml_shows(q, sizeof(q), rel));
		goto bad;
	}
	goto out;
bad:
	free(real);
	real = NULL;
out:
	ERR_clear_error();
	X509_STORE_free(st);
	free(rel);
	return real;
}


size_t tc_val_named_map(struct tc_load *ld, struct tc_ymap *top, const char *key,
			const char *noun, const char *nouns, int limit,
			const char *limit_name, size_t size, void **items,
			tc_val_named_fn fn)
{
	struct tc_yfield *f = tc_yaml_field(top, key);
	char path[TC_PATH], q[TC_SHOW_BYTES];
	struct fy_node_pair *p;
	void *it = NULL;
	size_t count = 0;
	int n;

	if (!f->present ||
	    !tc_yaml_is_kind(ld, f->val, FYNT_MAPPING, f->line, key, "a mapping"))
		return 0;
	n = fy_node_mapping_item_count(f->val);
	if (n > limit) {
		tc_yaml_report(ld, f->line, key, "more than %d %s (%s)", limit, nouns,
			       limit_name);
		return 0;
	}
	*items = calloc(n > 0 ? (size_t)n : 1, size);
	if (!*items) {
		ld->oom = true;
		return 0;
	}
	while ((p = fy_node_mapping_iterate(f->val, &it))) {
		struct fy_node *k = fy_node_pair_key(p);
		unsigned kl = tc_yaml_line(k, f->line);
		size_t len;
		const char *s = tc_yaml_key(k, &len);
		char *name;

		if (!s || !tc_val_name_ok(s, len)) {
			tc_yaml_report(ld, kl, key, "not a %s name '%s': 1 to %d of "
				       "A-Z a-z 0-9 _ - ., not starting with . or -", noun,
				       s ? tc_yaml_show(q, sizeof(q), s, len) : "",
				       TC_NAME_CHARS);
			continue;
		}
		name = strndup(s, len);
		if (!name) {
			ld->oom = true;
			break;
		}
		tc_yaml_path_fmt(path, sizeof(path), "%s.%s", key, name);
		fn(ld, (char *)*items + count++ * size, name, fy_node_pair_value(p), kl, path);
	}
	return count;
}
