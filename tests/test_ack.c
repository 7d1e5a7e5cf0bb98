/*
 * Acknowledgements' pure parts: the signed token (made, verified, and
 * refused when tampered with, cut, padded or too long), the form body
 * reader and member keys.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "listener/listener.h"
#include "tc_test.h"

#define SECRET "0123456789abcdef-test-secret"
#define DLV "0123456789abcdef0123456789abcdef"

static void token_round_trip(void)
{
	char tok[TC_TOKEN_MAX + 1], job[TC_LIMIT_JOB_ID + 1], dlv[TC_DELIVERY_ID_LEN + 1];
	char longest[TC_LIMIT_JOB_ID + 1];
	int n;

	tc_test_begin("token: made and verified, naming its job and delivery");
	n = tc_token_make(SECRET, "INC-42-initial", DLV, tok, sizeof(tok));
	TC_CHECK(n > 0);
	TC_CHECK_INT(strlen(tok), n);
	TC_CHECK(strspn(tok, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			"0123456789-_.") == (size_t)n);
	TC_CHECK_INT(tc_token_verify(SECRET, tok, (size_t)n, job, dlv), 0);
	TC_CHECK_STR(job, "INC-42-initial");
	TC_CHECK_STR(dlv, DLV);

	tc_test_begin("token: the longest job id fits TC_TOKEN_MAX exactly");
	memset(longest, 'a', TC_LIMIT_JOB_ID);
	longest[TC_LIMIT_JOB_ID] = '\0';
	n = tc_token_make(SECRET, longest, DLV, tok, sizeof(tok));
	TC_CHECK_INT(n, TC_TOKEN_MAX);
	TC_CHECK_INT(tc_token_verify(SECRET, tok, (size_t)n, job, dlv), 0);
	TC_CHECK_STR(job, longest);
	TC_CHECK_INT(tc_token_make(SECRET, longest, DLV, tok, TC_TOKEN_MAX), TC_ELIMIT);

	tc_test_begin("token: invalid job ids and delivery ids are not signed");
	TC_CHECK_INT(tc_token_make(SECRET, "", DLV, tok, sizeof(tok)), TC_EINVAL);
	TC_CHECK_INT(tc_token_make(SECRET, "a b", DLV, tok, sizeof(tok)), TC_EINVAL);
	TC_CHECK_INT(tc_token_make(SECRET, "J", "0123", tok, sizeof(tok)), TC_EINVAL);
	TC_CHECK_INT(tc_token_make(SECRET, "J", "0123456789ABCDEF0123456789abcdef", tok,
				   sizeof(tok)), TC_EINVAL);
}

static void token_refused(void)
{
	char tok[TC_TOKEN_MAX + 1], bad[2 * TC_TOKEN_MAX];
	char job[TC_LIMIT_JOB_ID + 1], dlv[TC_DELIVERY_ID_LEN + 1];
	const char *alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t n, i, k;
	int refused = 0, tried = 0;

	n = (size_t)tc_token_make(SECRET, "J-1", DLV, tok, sizeof(tok));

	tc_test_begin("token: every one-character change is refused");
	for (i = 0; i < n; i++) {
		if (tok[i] == '.')
			continue;
		for (k = 0; k < 64; k += 7) {
			if (alpha[k] == tok[i])
				continue;
			memcpy(bad, tok, n);
			bad[i] = alpha[k];
			tried++;
			refused += tc_token_verify(SECRET, bad, n, job, dlv) == TC_EINVAL;
		}
	}
	TC_CHECK_INT(refused, tried);

	tc_test_begin("token: another secret, cut, padded, extended, too long: refused");
	TC_CHECK_INT(tc_token_verify("another-secret-of-16", tok, n, job, dlv), TC_EINVAL);
	for (i = 0; i < n; i++)
		TC_CHECK_INT(tc_token_verify(SECRET, tok, i, job, dlv), TC_EINVAL);
	memcpy(bad, tok, n);
	memcpy(bad + n, "=", 1);
	TC_CHECK_INT(tc_token_verify(SECRET, bad, n + 1, job, dlv), TC_EINVAL);
	memcpy(bad + n, "AA", 2);
	TC_CHECK_INT(tc_token_verify(SECRET, bad, n + 2, job, dlv), TC_EINVAL);
	memcpy(bad + n, ".x", 2);
	TC_CHECK_INT(tc_token_verify(SECRET, bad, n + 2, job, dlv), TC_EINVAL);
	memset(bad, 'A', sizeof(bad));
	bad[100] = '.';
	TC_CHECK_INT(tc_token_verify(SECRET, bad, TC_TOKEN_MAX + 1, job, dlv), TC_EINVAL);
	TC_CHECK_INT(tc_token_verify(SECRET, "", 0, job, dlv), TC_EINVAL);
	TC_CHECK_INT(tc_token_verify(SECRET, ".", 1, job, dlv), TC_EINVAL);
	/* the payload swapped for another job's, with this job's signature */
	{
		char other[TC_TOKEN_MAX + 1];
		size_t m = (size_t)tc_token_make(SECRET, "J-2", DLV, other, sizeof(other));
		const char *dot = strchr(tok, '.'), *odot = strchr(other, '.');

		memcpy(bad, other, (size_t)(odot - other));
		memcpy(bad + (odot - other), dot, n - (size_t)(dot - tok));
		TC_CHECK_INT(tc_token_verify(SECRET, bad, (size_t)(odot - other) + n -
					     (size_t)(dot - tok), job, dlv), TC_EINVAL);
		(void)m;
	}
}

static void form(void)
{
	char out[TC_LIMIT_RESPONSE_LABEL + 1];
	const char *b;

	tc_test_begin("form: a field decoded, '+' and %XX");
	b = "a=1&response=I+am+safe%21&response=second";
	TC_CHECK_INT(tc_form_get(b, strlen(b), "response", out, 64), 10);
	TC_CHECK_STR(out, "I am safe!");
	b = "response=caf%C3%a9";
	TC_CHECK_INT(tc_form_get(b, strlen(b), "response", out, 64), 5);
	TC_CHECK_STR(out, "caf\xc3\xa9");
	b = "re%73ponse=x";
	TC_CHECK_INT(tc_form_get(b, strlen(b), "response", out, 64), 1);

	tc_test_begin("form: absent, empty, bare and cut fields");
	TC_CHECK_INT(tc_form_get("", 0, "response", out, 64), -ENOENT);
	b = "responses=1&respons=2&&=3";
	TC_CHECK_INT(tc_form_get(b, strlen(b), "response", out, 64), -ENOENT);
	b = "response";
	TC_CHECK_INT(tc_form_get(b, strlen(b), "response", out, 64), 0);
	TC_CHECK_STR(out, "");
	b = "response=abc";
	/* only len bytes are read: the field is cut there */
	TC_CHECK_INT(tc_form_get(b, 10, "response", out, 64), 1);
	TC_CHECK_STR(out, "a");

	tc_test_begin("form: bad escapes, NUL bytes and values past max are refused");
	b = "response=%4";
	TC_CHECK_INT(tc_form_get(b, strlen(b), "response", out, 64), TC_EINVAL);
	b = "response=%zz";
	TC_CHECK_INT(tc_form_get(b, strlen(b), "response", out, 64), TC_EINVAL);
	b = "response=a%00b";
	TC_CHECK_INT(tc_form_get(b, strlen(b), "response", out, 64), TC_EINVAL);
	b = "response=12345";
	TC_CHECK_INT(tc_form_get(b, strlen(b), "response", out, 4), TC_ELIMIT);
	TC_CHECK_INT(tc_form_get(b, strlen(b), "response", out, 5), 5);
}

/* Vectors computed with Python's hashlib (tests/integration/test_ack.py
 * computes them the same way). */
static void member_keys(void)
{
	char k[TC_MEMBER_KEY_LEN + 1];

	tc_test_begin("member key: one person's email and SMS deliveries share it");
	tc_member_key("Ada Lovelace", "ada@example.org", "+447911123456", "ada@example.org", k);
	TC_CHECK_STR(k, "e05a58246b28e58b48c552dd2e9ae06c");
	tc_member_key("Ada Lovelace", "ada@example.org", "+447911123456", "+447911123456", k);
	TC_CHECK_STR(k, "e05a58246b28e58b48c552dd2e9ae06c");

	tc_test_begin("member key: webhook-only members are told apart by their URL");
	tc_member_key("Status page", NULL, "", "https://hooks.example.org/tocsin", k);
	TC_CHECK_STR(k, "81250b7dcdcf0a89a58e790838e3688c");
	tc_member_key("Status page", "", NULL, "https://hooks.example.org/other", k);
	TC_CHECK_STR(k, "9341f018519fa219f5dcb2efdf9b7ac4");
}

int main(void)
{
	token_round_trip();
	token_refused();
	form();
	member_keys();
	return tc_test_done();
}
