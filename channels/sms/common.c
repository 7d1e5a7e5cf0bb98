/*
 * What the SMS providers share: form encoding, the meaning of a bare HTTP
 * status, JSON pointers into an answer, and a safe sample of an answer for
 * a record. Everything from a provider's answer reaches an outcome escaped
 * (tc_log_quote): it ends in records, logs and `tocsin report`.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#include "channels/sms/provider.h"

void tc_sms_req_init(struct tc_sms_req *q)
{
	memset(q, 0, sizeof(*q));
	tc_buf_init(&q->body, TC_LIMIT_BODY);
}

void tc_sms_req_release(struct tc_sms_req *q)
{
	free(q->url);
	tc_buf_release(&q->body);
	curl_slist_free_all(q->headers);
	if (q->userpwd) {
		/* a secret: not left behind in freed memory */
		explicit_bzero(q->userpwd, strlen(q->userpwd));
		free(q->userpwd);
	}
	memset(q, 0, sizeof(*q));
}

int tc_sms_form_escape(struct tc_buf *b, const char *s, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i;
	int r = 0;

	for (i = 0; i < len && !r; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
		    c == '~') {
			r = tc_buf_addc(b, (char)c);
		} else {
			char e[3] = { '%', hex[c >> 4], hex[c & 15] };

			r = tc_buf_add(b, e, 3);
		}
	}
	return r;
}

int tc_sms_form_add(struct tc_buf *b, const char *name, const char *value,
		    size_t len)
{
	int r = b->len ? tc_buf_addc(b, '&') : 0;

	r = r ? r : tc_sms_form_escape(b, name, strlen(name));
	r = r ? r : tc_buf_addc(b, '=');
	return r ? r : tc_sms_form_escape(b, value, len);
}

size_t tc_sms_base_len(const char *base)
{
	size_t n = strlen(base);

	while (n && base[n - 1] == '/')
		n--;
	return n;
}

void tc_sms_status_outcome(long status, const char *what, struct tc_outcome *o)
{
	o->kind = (status == 408 || status == 425 || status == 429 || status >= 500)
		  ? TC_OUT_TRANSIENT : TC_OUT_PERMANENT;
	if (what && what[0])
		snprintf(o->detail, sizeof(o->detail), "http %ld: %.200s", status, what);
	else
		snprintf(o->detail, sizeof(o->detail), "http %ld", status);
}

/* One reference token of a JSON pointer (up to the next '/'), unescaped
 * (~1 is '/', ~0 is '~') into out. Returns its length in ptr, or 0 when it
 * does not fit. */
static size_t token(const char *ptr, char *out, size_t n)
{
	size_t i = 0, o = 0;

	while (ptr[i] && ptr[i] != '/') {
		char c = ptr[i];

		if (c == '~' && (ptr[i + 1] == '0' || ptr[i + 1] == '1')) {
			c = ptr[i + 1] == '0' ? '~' : '/';
			i++;
		}
		if (o + 1 >= n)
			return 0;
		out[o++] = c;
		i++;
	}
	out[o] = '\0';
	return i;
}

json_t *tc_sms_json_at(const json_t *root, const char *ptr)
{
	json_t *cur = (json_t *)root;
	char tok[256];

	if (!ptr || ptr[0] != '/')
		return NULL;
	while (cur && *ptr == '/') {
		size_t len;

		ptr++;
		len = token(ptr, tok, sizeof(tok));
		if (len == 0 && *ptr && *ptr != '/')
			return NULL;
		ptr += len;
		if (json_is_object(cur)) {
			cur = json_object_get(cur, tok);
		} else if (json_is_array(cur)) {
			char *end;
			unsigned long i;

			if (!tok[0] || (tok[0] == '0' && tok[1]) || tok[0] < '0' ||
			    tok[0] > '9')
				return NULL;
			i = strtoul(tok, &end, 10);
			cur = *end ? NULL : json_array_get(cur, i);
		} else {
			return NULL;
		}
	}
	return cur;
}

bool tc_sms_json_text(const json_t *root, const char *ptr, char *out, size_t n)
{
	json_t *v = tc_sms_json_at(root, ptr);
	char raw[TC_LIMIT_PROVIDER_ID + 1];

	if (json_is_string(v))
		snprintf(raw, sizeof(raw), "%s", json_string_value(v));
	else if (json_is_integer(v))
		snprintf(raw, sizeof(raw), "%lld", (long long)json_integer_value(v));
	else
		return false;
	/* an id goes into records and Redis keys: printable, or refused */
	for (size_t i = 0; raw[i]; i++)
		if ((unsigned char)raw[i] < 0x21 || (unsigned char)raw[i] > 0x7e)
			return false;
	if (!raw[0] || strlen(raw) >= n)
		return false;
	snprintf(out, n, "%s", raw);
	return true;
}

void tc_sms_body_sample(const char *body, size_t len, char *out, size_t n)
{
	char cut[65];

	if (len >= sizeof(cut))
		len = sizeof(cut) - 1;
	memcpy(cut, body, len);
	cut[len] = '\0';
	/* a NUL inside ends the sample: the rest is not text anyway */
	tc_log_quote(out, n, cut);
}

int tc_sms_callback_url(const char *public_url, const char *secret,
			const char *provider, const char *job_id,
			const char *delivery_id, struct tc_buf *out)
{
	char token[TC_TOKEN_MAX + 1];
	int r = tc_token_make(secret, job_id, delivery_id, token, sizeof(token));

	if (r < 0)
		return r;
	r = tc_buf_add(out, public_url, tc_sms_base_len(public_url));
	r |= tc_buf_adds(out, "/receipts/");
	r |= tc_buf_adds(out, provider);
	r |= tc_buf_addc(out, '/');
	r |= tc_buf_adds(out, token);
	return r ? TC_ELIMIT : 0;
}
