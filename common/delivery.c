/*
 * Delivery ids: deterministic from (job, channel, address), so that one
 * address gets one message per channel however often it is listed, and a
 * restarted daemon recognises what it had already planned. Member keys:
 * who a delivery is for, across channels.
 */
#include <pthread.h>
#include <string.h>

#include <openssl/evp.h>

#include "common/common.h"

/* SHA-256 as OpenSSL 3 provides it, fetched once: the one-shot SHA256()
 * fetches the implementation again on every call, and both hashes here
 * are taken for every delivery. Each thread hashes with a context of its
 * own, made once, used again and freed when the thread ends: EVP_Digest
 * would allocate and free one (and its state) for every hash. */
static EVP_MD *sha256_md;
static pthread_key_t sha256_ctx_key;
static bool sha256_key_made;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_ctx_free(void *ctx)
{
	EVP_MD_CTX_free(ctx);
}

static void sha256_fetch(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
	sha256_key_made = pthread_key_create(&sha256_ctx_key, sha256_ctx_free) == 0;
}

static bool sha256_with_ctx(const void *p, size_t n, unsigned char *md)
{
	EVP_MD_CTX *ctx;

	if (!sha256_md || !sha256_key_made)
		return false;
	ctx = pthread_getspecific(sha256_ctx_key);
	if (!ctx) {
		ctx = EVP_MD_CTX_new();
		if (!ctx || pthread_setspecific(sha256_ctx_key, ctx) != 0) {
			EVP_MD_CTX_free(ctx);
			return false;
		}
	}
	return EVP_DigestInit_ex2(ctx, sha256_md, NULL) && EVP_DigestUpdate(ctx, p, n) &&
	       EVP_DigestFinal_ex(ctx, md, NULL);
}

/* A failure of OpenSSL (out of memory) hashes with the slower
 * EVP_sha256() instead: an id must not depend on memory. */
void tc_sha256_hex(const void *p, size_t n, size_t hex_len, char *out)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	size_t i;

	memset(md, 0, sizeof(md));
	(void)pthread_once(&sha256_once, sha256_fetch);
	if (!sha256_with_ctx(p, n, md))
		(void)EVP_Digest(p, n, md, NULL, EVP_sha256(), NULL);
	for (i = 0; i < hex_len && i < 64; i++)
		out[i] = hex[i % 2 ? md[i / 2] & 15 : md[i / 2] >> 4];
	out[i] = '\0';
}

/* Appends s, cut at max bytes, and a NUL at space + *n. */
static void put(char *space, size_t *n, const char *s, size_t max)
{
	size_t len = s ? strnlen(s, max) : 0;

	memcpy(space + *n, s ? s : "", len);
	*n += len;
	space[(*n)++] = '\0';
}

void tc_delivery_id(const char *job_id, enum tc_channel c, const char *address,
		    char *out)
{
	char space[sizeof("tocsin-delivery") + TC_LIMIT_JOB_ID + 16 +
		   TC_LIMIT_ADDRESS + 2];
	size_t n = 0;

	/* "tocsin-delivery" NUL job NUL channel NUL address, on the stack:
	 * every part is bounded (the address is cut at its limit). */
	put(space, &n, "tocsin-delivery", 16);
	put(space, &n, job_id, TC_LIMIT_JOB_ID);
	put(space, &n, tc_channel_name(c), 15);
	put(space, &n, address, TC_LIMIT_ADDRESS);
	tc_sha256_hex(space, n - 1, TC_DELIVERY_ID_LEN, out);
}

void tc_member_key(const char *name, const char *email, const char *phone,
		   const char *address, char *out)
{
	char space[sizeof("tocsin-member") + TC_LIMIT_TEXT + 3 * TC_LIMIT_ADDRESS + 4];
	bool reachable = (email && email[0]) || (phone && phone[0]);
	size_t n = 0;

	/* "tocsin-member" NUL name NUL email NUL phone NUL [address]: the
	 * address only for a member with neither email nor phone (a webhook),
	 * so one person's email and SMS deliveries share a key. */
	put(space, &n, "tocsin-member", 14);
	put(space, &n, name, TC_LIMIT_TEXT);
	put(space, &n, email, TC_LIMIT_ADDRESS);
	put(space, &n, phone, TC_LIMIT_ADDRESS);
	put(space, &n, reachable ? NULL : address, TC_LIMIT_ADDRESS);
	tc_sha256_hex(space, n - 1, TC_MEMBER_KEY_LEN, out);
}
