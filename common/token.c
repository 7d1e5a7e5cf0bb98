/*
 * Acknowledgement and receipt tokens (DESIGN.md, Receipts,
 * acknowledgements, metrics):
 *
 *   base64url(job id NUL delivery id) "." base64url(HMAC-SHA256(ack_secret,
 *   the same bytes))
 *
 * unpadded. The token names its delivery and proves it was made with
 * ack_secret, so a request carrying one is verified before anything is
 * looked up in Redis. One function makes tokens and one verifies them.
 */
#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "common/common.h"

#define MAC_LEN 32
#define PAYLOAD_MAX (TC_LIMIT_JOB_ID + 1 + TC_DELIVERY_ID_LEN)

static const char b64url[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Appends n bytes of p, base64url without padding, at out; returns the
 * characters written. */
static size_t enc(const unsigned char *p, size_t n, char *out)
{
	size_t i, o = 0;
	uint32_t v;

	for (i = 0; i + 3 <= n; i += 3) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		out[o++] = b64url[v >> 18 & 63];
		out[o++] = b64url[v >> 12 & 63];
		out[o++] = b64url[v >> 6 & 63];
		out[o++] = b64url[v & 63];
	}
	if (n - i == 1) {
		v = (uint32_t)p[i] << 16;
		out[o++] = b64url[v >> 18 & 63];
		out[o++] = b64url[v >> 12 & 63];
	} else if (n - i == 2) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		out[o++] = b64url[v >> 18 & 63];
		out[o++] = b64url[v >> 12 & 63];
		out[o++] = b64url[v >> 6 & 63];
	}
	return o;
}

static int dec_char(char c)
{
	const char *p = c ? strchr(b64url, c) : NULL;

	return p ? (int)(p - b64url) : -1;
}

/* Decodes n characters of unpadded base64url at s into out (room for
 * max bytes). Returns the bytes, or -1 for a character outside the
 * alphabet, a length no encoder writes, bits left over (a second
 * spelling of the same bytes), or more than max bytes. */
static long dec(const char *s, size_t n, unsigned char *out, size_t max)
{
	size_t i, o = 0, bytes = n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
	uint32_t v = 0;
	int c;

	if (n % 4 == 1 || bytes > max)
		return -1;
	for (i = 0; i < n; i++) {
		c = dec_char(s[i]);
		if (c < 0)
			return -1;
		v = v << 6 | (uint32_t)c;
		if (i % 4 == 3) {
			out[o++] = (unsigned char)(v >> 16);
			out[o++] = (unsigned char)(v >> 8);
			out[o++] = (unsigned char)v;
			v = 0;
		}
	}
	if (n % 4 == 2) {
		if (v & 15)
			return -1;
		out[o++] = (unsigned char)(v >> 4);
	} else if (n % 4 == 3) {
		if (v & 3)
			return -1;
		out[o++] = (unsigned char)(v >> 10);
		out[o++] = (unsigned char)(v >> 2);
	}
	return (long)o;
}

static bool mac(const char *secret, const unsigned char *p, size_t n,
		unsigned char *md)
{
	unsigned md_len = 0;

	return HMAC(EVP_sha256(), secret, (int)strlen(secret), p, n, md, &md_len) &&
	       md_len == MAC_LEN;
}

static bool delivery_id_ok(const char *s, size_t n)
{
	size_t i;

	if (n != TC_DELIVERY_ID_LEN)
		return false;
	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

int tc_token_make(const char *secret, const char *job_id, const char *delivery_id,
		  char *out, size_t n)
{
	unsigned char p[PAYLOAD_MAX], md[MAC_LEN];
	size_t jl = strlen(job_id), dl = strlen(delivery_id), o;

	if (!tc_job_id_valid(job_id) || !delivery_id_ok(delivery_id, dl))
		return TC_EINVAL;
	if (n < TC_TOKEN_MAX + 1)
		return TC_ELIMIT;
	memcpy(p, job_id, jl);
	p[jl] = '\0';
	memcpy(p + jl + 1, delivery_id, dl);
	if (!mac(secret, p, jl + 1 + dl, md))
		return -ENOMEM;
	o = enc(p, jl + 1 + dl, out);
	out[o++] = '.';
	o += enc(md, MAC_LEN, out + o);
	out[o] = '\0';
	return (int)o;
}

int tc_token_verify(const char *secret, const char *token, size_t len,
		    char *job_id, char *delivery_id)
{
	unsigned char p[PAYLOAD_MAX], got[MAC_LEN + 2], want[MAC_LEN];
	const char *dot = len <= TC_TOKEN_MAX ? memchr(token, '.', len) : NULL;
	const unsigned char *nul;
	long pn, mn;
	size_t jl;

	if (!dot)
		return TC_EINVAL;
	pn = dec(token, (size_t)(dot - token), p, sizeof(p));
	mn = dec(dot + 1, len - (size_t)(dot - token) - 1, got, sizeof(got));
	if (pn < 0 || mn != MAC_LEN || !mac(secret, p, (size_t)pn, want) ||
	    CRYPTO_memcmp(got, want, MAC_LEN) != 0)
		return TC_EINVAL;
	/* Signed, so made by tc_token_make; checked again all the same. */
	nul = memchr(p, '\0', (size_t)pn);
	if (!nul)
		return TC_EINVAL;
	jl = (size_t)(nul - p);
	if (jl > TC_LIMIT_JOB_ID ||
	    !delivery_id_ok((const char *)nul + 1, (size_t)pn - jl - 1))
		return TC_EINVAL;
	memcpy(job_id, p, jl);
	job_id[jl] = '\0';
	if (!tc_job_id_valid(job_id))
		return TC_EINVAL;
	memcpy(delivery_id, nul + 1, TC_DELIVERY_ID_LEN);
	delivery_id[TC_DELIVERY_ID_LEN] = '\0';
	return 0;
}
