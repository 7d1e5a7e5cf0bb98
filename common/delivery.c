/*
 * Delivery ids: deterministic from (job, channel, address), so that one
 * address gets one message per channel however often it is listed, and a
 * restarted daemon recognises what it had already planned.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/sha.h>

#include "common/common.h"

void tc_sha256_hex(const void *p, size_t n, size_t hex_len, char *out)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[SHA256_DIGEST_LENGTH];
	size_t i;

	SHA256(p, n, md);
	for (i = 0; i < hex_len && i < 2 * SHA256_DIGEST_LENGTH; i++)
		out[i] = hex[i % 2 ? md[i / 2] & 15 : md[i / 2] >> 4];
	out[i] = '\0';
}

void tc_delivery_id(const char *job_id, enum tc_channel c, const char *address,
		    char *out)
{
	char space[sizeof("tocsin-delivery") + TC_LIMIT_JOB_ID + 16 +
		   TC_LIMIT_ADDRESS + 2];
	const char *ch = tc_channel_name(c);
	size_t n = 0;

	/* "tocsin-delivery" NUL job NUL channel NUL address, on the stack:
	 * every part is bounded (the address is cut at its limit). */
	n += (size_t)snprintf(space, sizeof(space), "tocsin-delivery") + 1;
	n += (size_t)snprintf(space + n, sizeof(space) - n, "%.*s",
			      TC_LIMIT_JOB_ID, job_id) + 1;
	n += (size_t)snprintf(space + n, sizeof(space) - n, "%s", ch) + 1;
	n += (size_t)snprintf(space + n, sizeof(space) - n, "%.*s",
			      TC_LIMIT_ADDRESS, address);
	tc_sha256_hex(space, n, TC_DELIVERY_ID_LEN, out);
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
	n += (size_t)snprintf(space, sizeof(space), "tocsin-member") + 1;
	n += (size_t)snprintf(space + n, sizeof(space) - n, "%.*s", TC_LIMIT_TEXT,
			      name ? name : "") + 1;
	n += (size_t)snprintf(space + n, sizeof(space) - n, "%.*s", TC_LIMIT_ADDRESS,
			      email ? email : "") + 1;
	n += (size_t)snprintf(space + n, sizeof(space) - n, "%.*s", TC_LIMIT_ADDRESS,
			      phone ? phone : "") + 1;
	if (!reachable)
		n += (size_t)snprintf(space + n, sizeof(space) - n, "%.*s",
				      TC_LIMIT_ADDRESS, address ? address : "");
	tc_sha256_hex(space, n, TC_MEMBER_KEY_LEN, out);
}
