/*
 * A provider's credentials kept out of what tocsind takes from its answers.
 * Some APIs quote what they refused (an error naming the key it was given,
 * an echo of the request), and an answer's text reaches outcomes, records,
 * the audit trail, dead letters, logs and `tocsin report`. So every form in
 * which the provider's credentials travel is blanked out of its answer,
 * byte for byte, before the answer is read: quoting and cutting come after,
 * and cannot leave a piece of one behind.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "channels/sms/provider.h"

/* A credential is shown as this, one per byte. */
#define BLANK '*'

/* Appends s and its NUL; an empty one is no credential. */
static int add(struct tc_buf *out, const char *s, size_t len)
{
	int r;

	if (len == 0)
		return 0;
	r = tc_buf_add(out, s, len);
	return r ? r : tc_buf_addc(out, '\0');
}

/* The Basic credentials "user:password" as they travel: base64. */
static int add_basic(struct tc_buf *out, const char *user, const char *password)
{
	size_t n = strlen(user) + 1 + strlen(password);
	unsigned char *plain = malloc(n + 1), *b64 = malloc(4 * ((n + 2) / 3) + 1);
	int r = -ENOMEM;

	if (plain && b64) {
		memcpy(plain, user, strlen(user));
		plain[strlen(user)] = ':';
		memcpy(plain + strlen(user) + 1, password, strlen(password));
		r = add(out, (const char *)b64, (size_t)EVP_EncodeBlock(b64, plain, (int)n));
		explicit_bzero(plain, n);
		explicit_bzero(b64, 4 * ((n + 2) / 3));
	}
	free(plain);
	free(b64);
	return r;
}

/* A secret and, when it differs, its form encoding (a Vonage request). */
static int add_form(struct tc_buf *out, const char *s)
{
	struct tc_buf esc;
	int r;

	tc_buf_init(&esc, TC_LIMIT_BODY);
	r = add(out, s, strlen(s));
	if (!r)
		r = tc_sms_form_escape(&esc, s, strlen(s));
	if (!r && (esc.len != strlen(s) || memcmp(esc.data, s, esc.len) != 0))
		r = add(out, esc.data, esc.len);
	if (esc.data)
		explicit_bzero(esc.data, esc.len);
	tc_buf_release(&esc);
	return r;
}

int tc_sms_credentials(const struct tc_sms_provider *p, struct tc_buf *out)
{
	const char *v, *word;
	size_t i;
	int r = 0;

	if (p->auth_token) {
		r = add(out, p->auth_token, strlen(p->auth_token));
		if (!r && p->kind == TC_SMS_TWILIO && p->account_sid)
			r = add_basic(out, p->account_sid, p->auth_token);
	}
	if (!r && p->api_secret)
		r = add_form(out, p->api_secret);
	for (i = 0; i < p->n_headers && !r; i++) {
		if (!p->headers[i].secret)
			continue;
		/* the value, and its last word: "Bearer xyz" quoted as "xyz" */
		v = p->headers[i].value;
		word = strrchr(v, ' ');
		r = add(out, v, strlen(v));
		if (!r && word)
			r = add(out, word + 1, strlen(word + 1));
	}
	return r;
}

size_t tc_sms_redact(char *buf, size_t len, const char *creds, size_t creds_len)
{
	const char *c = creds, *end = creds + creds_len;
	size_t n = 0, clen;
	char *at, *from;

	if (!buf || !creds)
		return 0;
	for (; c < end; c += clen + 1) {
		clen = strnlen(c, (size_t)(end - c));
		for (from = buf; clen && (size_t)(buf + len - from) >= clen;
		     from = at + clen) {
			at = memmem(from, (size_t)(buf + len - from), c, clen);
			if (!at)
				break;
			memset(at, BLANK, clen);
			n++;
		}
	}
	return n;
}
