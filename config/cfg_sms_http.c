/*
 * cfg_sms_http: the keys of a generic SMS gateway (kind http): where the
 * request goes and how (url, method, headers, content_type), its body
 * template, and how to read the answer (success, message_id).
 *
 * What it keeps true: a header that carries a credential (Authorization,
 * or a name with auth, token, key, secret, password, signature or cookie
 * in it) takes its value from ${NAME} and is never shown; the headers
 * tocsind sets itself cannot be set here; a URL that names an address
 * outside channels.sms.allow is refused now rather than at every send.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <curl/curl.h>

#include "config/config_internal.h"

#define HEADER_NAME_MAX 64

static const char *const method_names[] = { "POST", "PUT", NULL };
static const char *const content_names[] = { "json", "form", NULL };
static const char *const success_keys[] = { "status", "pointer", "equals", NULL };

/* ---- headers ------------------------------------------------------------------- */

/* What the HTTP client sets itself, or content_type says. */
static const char *const reserved_headers[] = {
	"content-type", "content-length", "host", "transfer-encoding",
	"connection", "expect", "te", "trailer", "upgrade", "keep-alive", NULL
};
/* Words that make a header's value a credential. */
static const char *const secret_words[] = {
	"auth", "token", "key", "secret", "password", "signature", "cookie", NULL
};

/* An HTTP field name: 1..HEADER_NAME_MAX token characters (RFC 9110). */
static bool header_name_ok(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > HEADER_NAME_MAX)
		return false;
	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("!#$%&'*+-.^_`|~", s[i]))
			return false;
	return true;
}

static bool in_list(const char *const *list, const char *s)
{
	size_t i;

	for (i = 0; list[i]; i++)
		if (strcasecmp(list[i], s) == 0)
			return true;
	return false;
}

static bool secret_header(const char *name)
{
	size_t i;

	for (i = 0; secret_words[i]; i++)
		if (strcasestr(name, secret_words[i]))
			return true;
	return false;
}

/* One header: name (checked) and its value into h. */
static void load_header(struct tc_load *ld, struct fy_node_pair *pair,
			unsigned line, const char *hpath, struct tc_sms_provider *p)
{
	struct tc_sms_header *h = &p->headers[p->n_headers];
	struct fy_node *k = fy_node_pair_key(pair);
	unsigned kl = tc_yaml_line(k, line);
	char path[TC_PATH], q[TC_SHOW_BYTES];
	size_t len, i;
	const char *s = tc_yaml_key(k, &len);

	if (!s || !header_name_ok(s, len)) {
		tc_yaml_report(ld, kl, hpath, "not a header name '%s': 1 to %d of "
			       "A-Z a-z 0-9 ! # $ %% & ' * + - . ^ _ ` | ~",
			       s ? tc_yaml_show(q, sizeof(q), s, len) : "",
			       HEADER_NAME_MAX);
		return;
	}
	tc_yaml_path_fmt(path, sizeof(path), "%s.%.*s", hpath, (int)len, s);
	h->name = strndup(s, len);
	if (!h->name) {
		ld->oom = true;
		return;
	}
	if (in_list(reserved_headers, h->name)) {
		tc_yaml_report(ld, kl, path, "set by tocsind%s, not here",
			       strcasecmp(h->name, "content-type") == 0 ?
			       " from content_type" : "");
		goto bad;
	}
	for (i = 0; i < p->n_headers; i++)
		if (strcasecmp(p->headers[i].name, h->name) == 0) {
			tc_yaml_report(ld, kl, path, "header '%s' given twice",
				       tc_yaml_shows(q, sizeof(q), h->name));
			goto bad;
		}
	h->secret = secret_header(h->name);
	if (tc_yaml_scalar(ld, fy_node_pair_value(pair), kl, path,
			   h->secret ? TC_F_SECRET : 0, "a string",
			   &h->value) != TC_V_OK)
		goto bad;
	p->n_headers++;
	return;
bad:
	free(h->name);
	h->name = NULL;
}

/* headers: {Name: value, ...}. */
static void load_headers(struct tc_load *ld, struct tc_ymap *m,
			 struct tc_sms_provider *p)
{
	struct tc_yfield *f = tc_yaml_field(m, "headers");
	struct fy_node_pair *pair;
	char path[TC_PATH];
	void *it = NULL;
	int n;

	if (!f->present)
		return;
	tc_yaml_path_key(path, sizeof(path), m->path, "headers");
	if (!tc_yaml_is_kind(ld, f->val, FYNT_MAPPING, f->line, path, "a mapping"))
		return;
	n = fy_node_mapping_item_count(f->val);
	if (n > TC_LIMIT_SMS_HEADERS) {
		tc_yaml_report(ld, f->line, path, "more than %d headers "
			       "(TC_LIMIT_SMS_HEADERS)", TC_LIMIT_SMS_HEADERS);
		return;
	}
	p->headers = calloc(n > 0 ? (size_t)n : 1, sizeof(*p->headers));
	if (!p->headers) {
		ld->oom = true;
		return;
	}
	while ((pair = fy_node_mapping_iterate(f->val, &it)))
		load_header(ld, pair, f->line, path, p);
}

/* ---- the answer ------------------------------------------------------------------ */

/* status: [200, 201, ...], HTTP codes 100..599, each once. */
static void load_statuses(struct tc_load *ld, struct tc_ymap *m,
			  struct tc_sms_success *s)
{
	struct tc_yfield *f = tc_yaml_field(m, "status");
	char path[TC_PATH], ipath[TC_PATH], q[TC_SHOW_BYTES];
	struct fy_node *item;
	void *it = NULL;
	uint64_t v;
	size_t i = 0, k;
	int n;

	if (!f->present)
		return;
	tc_yaml_path_key(path, sizeof(path), m->path, "status");
	if (!tc_yaml_is_kind(ld, f->val, FYNT_SEQUENCE, f->line, path, "a list"))
		return;
	n = fy_node_sequence_item_count(f->val);
	if (n == 0) {
		tc_yaml_report(ld, f->line, path, "empty list: name at least one "
			       "status");
		return;
	}
	if (n > TC_LIMIT_SMS_STATUSES) {
		tc_yaml_report(ld, f->line, path, "more than %d statuses "
			       "(TC_LIMIT_SMS_STATUSES)", TC_LIMIT_SMS_STATUSES);
		return;
	}
	while ((item = fy_node_sequence_iterate(f->val, &it))) {
		unsigned line = tc_yaml_line(item, f->line);
		char *text = NULL;

		tc_yaml_path_index(ipath, sizeof(ipath), path, i++);
		if (tc_yaml_scalar(ld, item, line, ipath, 0, "a number",
				   &text) != TC_V_OK)
			continue;
		v = 0;
		(void)tc_yaml_parse_u64(text, &v);
		for (k = 0; k < s->n_status; k++)
			if (s->status[k] == v)
				break;
		if (v < 100 || v > 599)
			tc_yaml_report(ld, line, ipath, "not an HTTP status in "
				       "100..599 '%s'",
				       tc_yaml_shows(q, sizeof(q), text));
		else if (k < s->n_status)
			tc_yaml_report(ld, line, ipath, "status %u listed twice",
				       (unsigned)v);
		else
			s->status[s->n_status++] = (unsigned)v;
		free(text);
	}
}

/* A YAML scalar as the JSON value it reads as: plain true, false and
 * numbers are themselves, anything else (or quoted) a string. */
static json_t *scalar_json(struct fy_node *v, const char *s)
{
	char *end;
	long long i;
	double d;

	if (fy_node_get_style(v) != FYNS_PLAIN)
		return json_string(s);
	if (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 ||
	    strcmp(s, "TRUE") == 0)
		return json_true();
	if (strcmp(s, "false") == 0 || strcmp(s, "False") == 0 ||
	    strcmp(s, "FALSE") == 0)
		return json_false();
	errno = 0;
	i = strtoll(s, &end, 10);
	if (*s && *end == '\0' && errno == 0 && (isdigit((unsigned char)s[0]) ||
						 s[0] == '-'))
		return json_integer(i);
	errno = 0;
	d = strtod(s, &end);
	if (*s && *end == '\0' && errno == 0 && strspn(s, "-+.0123456789eE") ==
	    strlen(s))
		return json_real(d);
	return json_string(s);
}

/* success: {status, pointer, equals}. */
static void load_success(struct tc_load *ld, struct tc_ymap *m,
			 struct tc_sms_success *s)
{
	struct tc_yfield *eq;
	char q[TC_SHOW_BYTES], *text = NULL;
	struct tc_ymap r;

	if (tc_yaml_sub_map(ld, m, "success", 0, success_keys, &r) != TC_V_OK)
		return;
	load_statuses(ld, &r, s);
	if (tc_yaml_get_str(ld, &r, "pointer", 0, &s->pointer) == TC_V_OK &&
	    !tc_val_json_pointer_ok(s->pointer)) {
		tc_yaml_bad_value(ld, &r, "pointer", "not a JSON pointer '%s': "
				  "expected /name/0/...", tc_yaml_shows(q, sizeof(q),
									s->pointer));
		free(s->pointer);
		s->pointer = NULL;
	}
	eq = tc_yaml_field(&r, "equals");
	if (tc_yaml_get_value(ld, &r, "equals", 0, "a string, number or boolean",
			      &text) != TC_V_OK)
		return;
	if (!tc_yaml_field(&r, "pointer")->present)
		tc_yaml_bad_value(ld, &r, "equals", "equals needs a pointer: where "
				  "in the answer to look");
	s->equals = scalar_json(eq->val, text);
	if (!s->equals)
		ld->oom = true;
	free(text);
}

/* ---- where it goes ----------------------------------------------------------------- */

/* Refuses a URL whose host is an address (with its port) outside
 * channels.sms.allow: it could never be reached. Names are judged when
 * they resolve. */
static void check_allowed(struct tc_load *ld, struct tc_ymap *m, const char *url)
{
	const struct tc_sms_cfg *s = &ld->cfg->sms;
	char *host = NULL, *port = NULL;
	struct sockaddr_in6 s6;
	struct sockaddr_in s4;
	struct sockaddr *sa = NULL;
	CURLU *u = curl_url();
	uint64_t pn;

	if (!u || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK ||
	    tc_parse_uints(port, 65535, &pn) < 0)
		goto out;
	memset(&s4, 0, sizeof(s4));
	memset(&s6, 0, sizeof(s6));
	if (inet_pton(AF_INET, host, &s4.sin_addr) == 1) {
		s4.sin_family = AF_INET;
		s4.sin_port = htons((uint16_t)pn);
		sa = (struct sockaddr *)&s4;
	} else if (host[0] == '[') {
		host[strlen(host) - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, &s6.sin6_addr) == 1) {
			s6.sin6_family = AF_INET6;
			s6.sin6_port = htons((uint16_t)pn);
			sa = (struct sockaddr *)&s6;
		}
	}
	if (sa && !tc_allow_match(s->allow, s->n_allow, NULL, sa))
		tc_yaml_bad_value(ld, m, "url", "the gateway's address %s port %s "
				  "is not in channels.sms.allow",
				  host[0] == '[' ? host + 1 : host, port);
out:
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
}

void tc_cfg_read_sms_http(struct tc_load *ld, struct tc_ymap *m,
			  struct tc_sms_provider *p)
{
	char q[TC_SHOW_BYTES];
	int method = TC_SMS_POST, content = TC_SMS_CONTENT_JSON;
	size_t i;

	if (tc_val_get_url(ld, m, "url", 0, &p->url) == TC_V_OK)
		check_allowed(ld, m, p->url);
	if (tc_yaml_get_enum(ld, m, "method", method_names, "POST or PUT",
			     &method) == TC_V_OK)
		p->method = (enum tc_sms_method)method;
	load_headers(ld, m, p);
	for (i = 0; i < p->n_headers; i++)
		if (tc_yaml_field(m, "auth_token")->present &&
		    strcasecmp(p->headers[i].name, "authorization") == 0)
			tc_yaml_bad_value(ld, m, "auth_token", "both auth_token and "
					  "an Authorization header: keep one");
	if (tc_yaml_get_enum(ld, m, "content_type", content_names, "json or form",
			     &content) == TC_V_OK)
		p->content_type = (enum tc_sms_content)content;
	(void)tc_yaml_get_str(ld, m, "body", 0, &p->body);
	load_success(ld, m, &p->success);
	if (tc_yaml_get_str(ld, m, "message_id", 0, &p->message_id) == TC_V_OK &&
	    !tc_val_json_pointer_ok(p->message_id)) {
		tc_yaml_bad_value(ld, m, "message_id", "not a JSON pointer '%s': "
				  "expected /name/0/...",
				  tc_yaml_shows(q, sizeof(q), p->message_id));
		free(p->message_id);
		p->message_id = NULL;
	}
}
