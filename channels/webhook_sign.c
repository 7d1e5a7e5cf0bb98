/*
 * Standard Webhooks signatures: "v1," and the base64 HMAC-SHA256 of
 * "id.timestamp.body". The HMAC is keyed once per secret: OpenSSL keeps
 * the inner and outer pads' hash states, and each signature starts again
 * from a copy of them, where a one-shot HMAC() would fetch the digest,
 * allocate a context and hash the key's pads for every request.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "channels/internal.h"

struct tc_webhook_signer {
	EVP_MAC *mac;
	EVP_MAC_CTX *ctx;
};

void tc_webhook_signer_free(struct tc_webhook_signer *s)
{
	if (!s)
		return;
	EVP_MAC_CTX_free(s->ctx); /* cleanses the keyed state */
	EVP_MAC_free(s->mac);
	free(s);
}

struct tc_webhook_signer *tc_webhook_signer_new(const unsigned char *key,
						size_t key_len)
{
	struct tc_webhook_signer *s = calloc(1, sizeof(*s));
	OSSL_PARAM params[2];

	if (!s)
		return NULL;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
						     (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	s->mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	s->ctx = s->mac ? EVP_MAC_CTX_new(s->mac) : NULL;
	if (!s->ctx || !EVP_MAC_init(s->ctx, key, key_len, params)) {
		tc_webhook_signer_free(s);
		return NULL;
	}
	return s;
}

int tc_webhook_sign(struct tc_webhook_signer *s, const char *id, const char *timestamp,
		    const char *body, size_t len, char *out, size_t n)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	char b64[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
	size_t mac_len = 0;

	out[0] = '\0';
	/* A NULL key starts again from the key set by tc_webhook_signer_new. */
	if (!EVP_MAC_init(s->ctx, NULL, 0, NULL) ||
	    !EVP_MAC_update(s->ctx, (const unsigned char *)id, strlen(id)) ||
	    !EVP_MAC_update(s->ctx, (const unsigned char *)".", 1) ||
	    !EVP_MAC_update(s->ctx, (const unsigned char *)timestamp, strlen(timestamp)) ||
	    !EVP_MAC_update(s->ctx, (const unsigned char *)".", 1) ||
	    !EVP_MAC_update(s->ctx, (const unsigned char *)body, len) ||
	    !EVP_MAC_final(s->ctx, mac, &mac_len, sizeof(mac)))
		return -ENOMEM;
	EVP_EncodeBlock((unsigned char *)b64, mac, (int)mac_len);
	tc_join(out, n, "v1,", b64, NULL);
	return 0;
}
