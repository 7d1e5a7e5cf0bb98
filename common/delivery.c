/*
 * Delivery ids: deterministic from (job, channel, address), so that one
 * address gets one message per channel however often it is listed, and a
 * restarted daemon recognises what it had already planned.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/sha.h>

#include "common/common.h"

void tc_delivery_id(const char *job_id, enum tc_channel c, const char *address,
		    char *out)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[SHA256_DIGEST_LENGTH];
	char space[sizeof("tocsin-delivery") + TC_LIMIT_JOB_ID + 16 +
		   TC_LIMIT_ADDRESS + 2];
	const char *ch = tc_channel_name(c);
	size_t n = 0;
	int i;

	/* "tocsin-delivery" NUL job NUL channel NUL address, on the stack:
	 * every part is bounded (the address is cut at its limit). */
	n += (size_t)snprintf(space, sizeof(space), "tocsin-delivery") + 1;
	n += (size_t)snprintf(space + n, sizeof(space) - n, "%.*s",
			      TC_LIMIT_JOB_ID, job_id) + 1;
	n += (size_t)snprintf(space + n, sizeof(space) - n, "%s", ch) + 1;
	n += (size_t)snprintf(space + n, sizeof(space) - n, "%.*s",
			      TC_LIMIT_ADDRESS, address);
	SHA256((const unsigned char *)space, n, md);
	for (i = 0; i < TC_DELIVERY_ID_LEN / 2; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[TC_DELIVERY_ID_LEN] = '\0';
}

void tc_member_key(const char *name, const char *email, const char *phone,
		   const char *address, char *out)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[SHA256_DIGEST_LENGTH];
	char space[sizeof("tocsin-member") + TC_LIMIT_TEXT + 3 * TC_LIMIT_ADDRESS + 4];
	bool reachable = (email && email[0]) || (phone && phone[0]);
	size_t n = 0;
	int i;

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
	SHA256((const unsigned char *)space, n, md);
	for (i = 0; i < TC_MEMBER_KEY_LEN / 2; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[TC_MEMBER_KEY_LEN] = '\0';
}
