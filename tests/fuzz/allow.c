/*
 * Allow lists and webhook destinations (common/allow.c, channels/webhook.c).
 * The input is three pieces separated by NUL bytes: allow entries, one a
 * line (as channels.webhook.allow lists them); a webhook URL, judged
 * against them as a send does before resolving; and raw bytes read as an
 * IPv4 and an IPv6 address with a port, matched against them as a
 * connection would be. An entry written as exactly an address always
 * allows that address.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "channels/internal.h"
#include "tests/fuzz/fuzz.h"

struct list {
	struct tc_allow a[TC_LIMIT_ALLOW];
	size_t n;
};

static void list_add(struct list *l, const char *s)
{
	struct tc_allow e;
	char why[256];

	if (l->n == TC_LIMIT_ALLOW)
		return;
	if (tc_allow_parse(s, &e, why, sizeof(why)) < 0) {
		fz_shown(why, "why an allow entry was refused");
		return;
	}
	fz_assert(e.public || e.host ||
		  (e.family == AF_INET && e.prefix <= 32) ||
		  (e.family == AF_INET6 && e.prefix <= 128),
		  "an entry is public, a name or a range");
	fz_assert(e.port <= 65535, "a port within 0..65535");
	l->a[l->n++] = e;
}

static void list_release(struct list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->a[i].host);
	l->n = 0;
}

/* sa matched against l, and its own address as an entry matching it. */
static void match(struct list *l, const struct sockaddr *sa, const char *text)
{
	struct list self = { .n = 0 };

	(void)tc_allow_match(l->a, l->n, NULL, sa);
	(void)tc_allow_match(l->a, l->n, "hooks.example.org", sa);
	(void)tc_allow_addr_public(sa);
	list_add(&self, text);
	fz_assert(self.n == 1 && tc_allow_match(self.a, 1, NULL, sa),
		  "an address allows itself");
	list_release(&self);
}

static void addresses(struct list *l, const unsigned char *b, size_t n)
{
	struct sockaddr_in s4;
	struct sockaddr_in6 s6;
	char text[INET6_ADDRSTRLEN];

	if (n < 4 + 2)
		return;
	memset(&s4, 0, sizeof(s4));
	s4.sin_family = AF_INET;
	memcpy(&s4.sin_addr, b, 4);
	memcpy(&s4.sin_port, b + 4, 2);
	inet_ntop(AF_INET, &s4.sin_addr, text, sizeof(text));
	match(l, (struct sockaddr *)&s4, text);
	if (n < 16 + 2)
		return;
	memset(&s6, 0, sizeof(s6));
	s6.sin6_family = AF_INET6;
	memcpy(&s6.sin6_addr, b, 16);
	memcpy(&s6.sin6_port, b + 16, 2);
	inet_ntop(AF_INET6, &s6.sin6_addr, text, sizeof(text));
	match(l, (struct sockaddr *)&s6, text);
}

static void url(struct list *l, const char *u)
{
	char why[512], *name = NULL;
	size_t len;
	const char *host;
	struct tc_ranges *r = tc_ranges_new(l->a, l->n);

	if (!r)
		return;
	if (tc_ranges_check_url(r, u, "channels.webhook.allow", &name, why,
				sizeof(why)) == 0 && name)
		(void)tc_allow_host_listed(l->a, l->n, name, 0);
	free(name);
	tc_ranges_unref(r);
	host = tc_webhook_url_host(u, &len);
	fz_assert(host >= u && host + len <= u + strlen(u), "the host within the URL");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = { (const char *)data, size };
	struct list l = { .n = 0 };
	const char *p;
	char *s, *line, *save = NULL;
	size_t len;

	/* A list at its limit of entries of an address's length. */
	if (size > TC_LIMIT_ALLOW * 64 + 2 * TC_LIMIT_ADDRESS)
		return 0;
	p = fz_next(&in, &len);
	s = fz_strndup(p ? p : "", p ? len : 0);
	for (line = strtok_r(s, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		list_add(&l, line);
	free(s);
	p = fz_next(&in, &len);
	if (p && len <= TC_LIMIT_ADDRESS) {
		s = fz_strndup(p, len);
		url(&l, s);
		free(s);
	}
	p = fz_next(&in, &len);
	if (p)
		addresses(&l, (const unsigned char *)p, len);
	list_release(&l);
	return 0;
}
