/*
 * allow: where tocsind may connect. An allow list (channels.webhook.allow,
 * channels.sms.allow) holds address ranges, addresses, host names,
 * "*.example.org" and the word public, each maybe limited to one port;
 * this file reads its entries and judges an address about to be connected
 * against it.
 *
 * What it keeps true:
 * - the judgement is made on the address actually connected to, so DNS
 *   cannot be used to get past a list;
 * - public means globally routable: never loopback, private, shared
 *   (CGNAT), unique-local, link-local, multicast, reserved, documentation
 *   or unspecified addresses, and an IPv6 address that embeds an IPv4 one
 *   (mapped, compatible, NAT64, 6to4) is judged by that IPv4 address;
 * - a listed name never allows a link-local (cloud metadata) or an
 *   unspecified address;
 * - an entry is a name only when it cannot be read as a number: IPv4
 *   spelled in decimal, hex, octal or short form ("2130706433",
 *   "0x7f000001", "0177.0.0.1", "127.1") is refused, with what it means.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "common/common.h"

#define NAME_MAX_BYTES 253 /* a DNS name, without the trailing dot */

/* ---- classifying addresses ------------------------------------------------- */

/* One IPv4 block, as a 32-bit number and a prefix length. */
struct v4_block {
	uint32_t net;
	unsigned prefix;
};

/* Not globally routable (IANA's IPv4 special-purpose registry, and what
 * is private or local in practice). */
static const struct v4_block v4_not_public[] = {
	{ 0x00000000, 8 },  /* 0.0.0.0/8: this network, unspecified */
	{ 0x0a000000, 8 },  /* 10.0.0.0/8: private (RFC 1918) */
	{ 0x64400000, 10 }, /* 100.64.0.0/10: shared, CGNAT (RFC 6598) */
	{ 0x7f000000, 8 },  /* 127.0.0.0/8: loopback */
	{ 0xa9fe0000, 16 }, /* 169.254.0.0/16: link-local, cloud metadata */
	{ 0xac100000, 12 }, /* 172.16.0.0/12: private */
	{ 0xc0000000, 24 }, /* 192.0.0.0/24: IETF protocol assignments */
	{ 0xc0000200, 24 }, /* 192.0.2.0/24: documentation (TEST-NET-1) */
	{ 0xc0586300, 24 }, /* 192.88.99.0/24: 6to4 relay anycast (RFC 7526) */
	{ 0xc0a80000, 16 }, /* 192.168.0.0/16: private */
	{ 0xc6120000, 15 }, /* 198.18.0.0/15: benchmarking */
	{ 0xc6336400, 24 }, /* 198.51.100.0/24: documentation (TEST-NET-2) */
	{ 0xcb007100, 24 }, /* 203.0.113.0/24: documentation (TEST-NET-3) */
	{ 0xe0000000, 4 },  /* 224.0.0.0/4: multicast */
	{ 0xf0000000, 4 },  /* 240.0.0.0/4: reserved, and 255.255.255.255 */
};

static bool v4_in(uint32_t a, uint32_t net, unsigned prefix)
{
	uint32_t mask = prefix ? ~(uint32_t)0 << (32 - prefix) : 0;

	return (a & mask) == net;
}

static uint32_t v4_num(const unsigned char *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static bool v4_public(const unsigned char *b)
{
	uint32_t a = v4_num(b);
	size_t i;

	for (i = 0; i < sizeof(v4_not_public) / sizeof(v4_not_public[0]); i++)
		if (v4_in(a, v4_not_public[i].net, v4_not_public[i].prefix))
			return false;
	return true;
}

/* Whether the IPv4 address b is link-local or unspecified ("this
 * network": 0.0.0.0 reaches the host itself). */
static bool v4_local_or_unspecified(const unsigned char *b)
{
	return b[0] == 0 || (b[0] == 169 && b[1] == 254);
}

static bool zeros(const unsigned char *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

/* The IPv4 address an IPv6 address stands for, when it is one of the forms
 * that carry one in their last 32 bits: IPv4-mapped ::ffff:a.b.c.d,
 * IPv4-compatible ::a.b.c.d (but :: and ::1), NAT64 64:ff9b::a.b.c.d.
 * Returns a pointer into a, or NULL. */
static const unsigned char *v6_embedded_v4(const unsigned char *a)
{
	static const unsigned char nat64[12] = { 0, 0x64, 0xff, 0x9b };

	if (zeros(a, 10) && a[10] == 0xff && a[11] == 0xff)
		return a + 12;
	if (zeros(a, 12) && !(zeros(a + 12, 3) && a[15] <= 1))
		return a + 12;
	if (memcmp(a, nat64, 12) == 0)
		return a + 12;
	return NULL;
}

static bool v6_public(const unsigned char *a)
{
	const unsigned char *v4 = v6_embedded_v4(a);

	if (v4)
		return v4_public(v4);
	/* Only 2000::/3 is global unicast: the rest is loopback, unspecified,
	 * unique-local fc00::/7, link-local fe80::/10, multicast ff00::/8,
	 * discard 100::/64, local-use NAT64 64:ff9b:1::/48, SRv6 5f00::/16,
	 * or unassigned. */
	if ((a[0] & 0xe0) != 0x20)
		return false;
	/* 2001::/23: IETF protocol assignments, Teredo 2001::/32 among them. */
	if (a[0] == 0x20 && a[1] == 0x01 && a[2] < 0x02)
		return false;
	/* 2001:db8::/32 and 3fff::/20: documentation. */
	if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0d && a[3] == 0xb8)
		return false;
	if (a[0] == 0x3f && a[1] == 0xff && (a[2] & 0xf0) == 0)
		return false;
	/* 2002::/16: 6to4, the IPv4 address in the next 32 bits. */
	if (a[0] == 0x20 && a[1] == 0x02)
		return v4_public(a + 2);
	return true;
}

bool tc_allow_addr_public(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return v4_public((const unsigned char *)
				 &((const struct sockaddr_in *)(const void *)sa)->sin_addr);
	if (sa->sa_family == AF_INET6)
		return v6_public(((const struct sockaddr_in6 *)(const void *)sa)
				 ->sin6_addr.s6_addr);
	return false;
}

/* ---- matching ------------------------------------------------------------------ */

/* The family, address bytes and port of sa; an IPv4-mapped IPv6 address
 * comes out as the IPv4 address it is. False for other families. */
static bool sa_parts(const struct sockaddr *sa, int *family,
		     const unsigned char **addr, unsigned *port)
{
	const struct sockaddr_in6 *s6;
	const struct sockaddr_in *s4;
	const unsigned char *a;

	if (sa->sa_family == AF_INET) {
		s4 = (const struct sockaddr_in *)(const void *)sa;
		*family = AF_INET;
		*addr = (const unsigned char *)&s4->sin_addr;
		*port = ntohs(s4->sin_port);
		return true;
	}
	if (sa->sa_family != AF_INET6)
		return false;
	s6 = (const struct sockaddr_in6 *)(const void *)sa;
	a = s6->sin6_addr.s6_addr;
	*port = ntohs(s6->sin6_port);
	if (zeros(a, 10) && a[10] == 0xff && a[11] == 0xff) {
		*family = AF_INET;
		*addr = a + 12;
	} else {
		*family = AF_INET6;
		*addr = a;
	}
	return true;
}

/* What a listed name may never reach: link-local (169.254/16, fe80::/10:
 * cloud metadata lives there) and unspecified addresses, in any of the
 * IPv6 forms that embed an IPv4 one. */
static bool local_or_unspecified(int family, const unsigned char *a)
{
	const unsigned char *v4;

	if (family == AF_INET)
		return v4_local_or_unspecified(a);
	if (zeros(a, 16))
		return true;
	if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
		return true;
	v4 = v6_embedded_v4(a);
	return v4 && v4_local_or_unspecified(v4);
}

static bool in_range(const struct tc_allow *a, const unsigned char *addr)
{
	unsigned full = a->prefix / 8, rest = a->prefix % 8;
	unsigned char mask;

	if (memcmp(a->addr, addr, full) != 0)
		return false;
	if (!rest)
		return true;
	mask = (unsigned char)(0xff << (8 - rest));
	return (a->addr[full] & mask) == (addr[full] & mask);
}

/* Whether listed (a name, or "*.name") covers host (len bytes, without a
 * trailing dot), ignoring case. */
static bool name_covers(const char *listed, const char *host, size_t len)
{
	size_t ll;

	if (listed[0] == '*' && listed[1] == '.') {
		/* "*.example.org" takes any name below example.org. */
		ll = strlen(listed + 1);
		return len > ll && strncasecmp(host + len - ll, listed + 1, ll) == 0;
	}
	return strlen(listed) == len && strncasecmp(listed, host, len) == 0;
}

/* host's length without one trailing dot ("example.org." is
 * "example.org"). */
static size_t host_len(const char *host)
{
	size_t len = strlen(host);

	return len > 0 && host[len - 1] == '.' ? len - 1 : len;
}

bool tc_allow_host_listed(const struct tc_allow *a, size_t n, const char *host,
			  unsigned port)
{
	size_t i, len = host_len(host);

	for (i = 0; i < n; i++)
		if (a[i].host && (!a[i].port || !port || a[i].port == port) &&
		    name_covers(a[i].host, host, len))
			return true;
	return false;
}

bool tc_allow_match(const struct tc_allow *a, size_t n, const char *host,
		    const struct sockaddr *sa)
{
	const unsigned char *addr;
	unsigned port;
	int family;
	size_t i, len = host ? host_len(host) : 0;

	if (!sa_parts(sa, &family, &addr, &port))
		return false;
	for (i = 0; i < n; i++) {
		if (a[i].port && a[i].port != port)
			continue;
		if (a[i].public) {
			if (tc_allow_addr_public(sa))
				return true;
		} else if (a[i].host) {
			if (host && name_covers(a[i].host, host, len) &&
			    !local_or_unspecified(family, addr))
				return true;
		} else if (a[i].family == family && in_range(&a[i], addr)) {
			return true;
		}
	}
	return false;
}

/* ---- reading entries -------------------------------------------------------------- */

/* A DNS name: labels of letters, digits and '-', not all-numeric at the
 * end (so "10.0.0.300" is not taken for a name). */
bool tc_host_name_ok(const char *s, size_t len)
{
	size_t i, label = 0;
	bool digits = true;

	if (len == 0 || len > NAME_MAX_BYTES)
		return false;
	for (i = 0; i < len; i++) {
		char c = s[i];

		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
			digits = true;
			continue;
		}
		if (!isalnum((unsigned char)c) && c != '-')
			return false;
		if (label == 0 && c == '-')
			return false;
		if (!isdigit((unsigned char)c))
			digits = false;
		if (++label > 63)
			return false;
	}
	return label > 0 && s[len - 1] != '-' && !digits;
}

/* The port after an entry's ':' into *port: TC_EINVAL when it is not
 * digits (then it was not meant as a port), or with why when it is out of
 * 1..65535. */
static int port_parse(const char *s, unsigned *port, char *why, size_t n)
{
	uint64_t v = 0;
	int r = tc_parse_uints(s, 65535, &v);

	if (r == TC_EINVAL)
		return TC_EINVAL;
	if (r < 0 || v < 1) {
		snprintf(why, n, "bad port: expected 1 to 65535");
		return TC_EINVAL;
	}
	*port = (unsigned)v;
	return 0;
}

/* An IPv4-mapped range ::ffff:a.b.c.d/96+ becomes the IPv4 range it is,
 * as a connecting IPv4-mapped address is judged as IPv4. */
static void unmap(struct tc_allow *a)
{
	if (a->family == AF_INET6 && a->prefix >= 96 && zeros(a->addr, 10) &&
	    a->addr[10] == 0xff && a->addr[11] == 0xff) {
		memmove(a->addr, a->addr + 12, 4);
		memset(a->addr + 4, 0, 12);
		a->family = AF_INET;
		a->prefix -= 96;
	}
}

/* An address, or an address range "addr/prefix", of family (AF_INET6 only
 * when v6_only) into a. */
static int range_parse(const char *s, bool v6_only, struct tc_allow *a,
		       char *why, size_t n)
{
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s), i;
	char addr[INET6_ADDRSTRLEN + 1];
	uint64_t prefix = 0;
	unsigned max;
	struct in_addr legacy;

	if (alen >= sizeof(addr))
		return TC_EINVAL;
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	if (inet_pton(AF_INET, addr, a->addr) == 1) {
		a->family = AF_INET;
	} else if (inet_pton(AF_INET6, addr, a->addr) == 1) {
		a->family = AF_INET6;
	} else if (inet_aton(addr, &legacy) == 1) {
		/* What libc and curl would read as a number must not pass
		 * for a name. */
		char canon[INET_ADDRSTRLEN];

		inet_ntop(AF_INET, &legacy, canon, sizeof(canon));
		snprintf(why, n, "an IPv4 address not written as four decimal "
			 "numbers: it means %s", canon);
		return TC_EINVAL;
	} else {
		return TC_EINVAL;
	}
	if (v6_only && a->family != AF_INET6) {
		snprintf(why, n, "brackets are for IPv6 addresses");
		return TC_EINVAL;
	}
	max = a->family == AF_INET ? 32 : 128;
	if (!slash) {
		a->prefix = max;
		unmap(a);
		return 0;
	}
	if (tc_parse_uints(slash + 1, max, &prefix) < 0) {
		snprintf(why, n, "bad prefix length");
		return TC_EINVAL;
	}
	a->prefix = (unsigned)prefix;
	for (i = a->prefix; i < max; i++) {
		if (a->addr[i / 8] & (0x80 >> (i % 8))) {
			snprintf(why, n, "address bits set past the prefix length");
			return TC_EINVAL;
		}
	}
	unmap(a);
	return 0;
}

/* What is left of an entry once its port is off: public, an address or a
 * range, "*.name" or a name. */
static int body_parse(const char *s, struct tc_allow *a, char *why, size_t n)
{
	const char *name = s[0] == '*' && s[1] == '.' ? s + 2 : s;
	size_t i;
	int r;

	if (strcasecmp(s, "public") == 0) {
		a->public = true;
		return 0;
	}
	r = range_parse(s, false, a, why, n);
	if (r == 0 || why[0] || strchr(s, '/'))
		return r;
	if (!tc_host_name_ok(name, strlen(name)))
		return TC_EINVAL;
	a->host = strdup(s);
	if (!a->host)
		return -ENOMEM;
	for (i = 0; a->host[i]; i++)
		a->host[i] = (char)tolower((unsigned char)a->host[i]);
	return 0;
}

int tc_allow_parse(const char *s, struct tc_allow *a, char *why, size_t n)
{
	char body[NAME_MAX_BYTES + 3];
	const char *colon, *end;
	struct tc_allow e;
	size_t blen;
	int r;

	memset(&e, 0, sizeof(e));
	why[0] = '\0';
	if (s[0] == '[') {
		/* "[v6]", "[v6]:port", "[v6/prefix]:port". */
		end = strchr(s, ']');
		if (!end || (end[1] && end[1] != ':'))
			return TC_EINVAL;
		colon = end[1] ? end + 1 : NULL;
		blen = (size_t)(end - s - 1);
		s++;
	} else {
		/* A second ':' makes it IPv6, which takes a port only in
		 * brackets. */
		colon = strchr(s, ':');
		if (colon && strchr(colon + 1, ':'))
			colon = NULL;
		blen = colon ? (size_t)(colon - s) : strlen(s);
		end = NULL;
	}
	if (blen == 0 || blen >= sizeof(body))
		return TC_EINVAL;
	memcpy(body, s, blen);
	body[blen] = '\0';
	if (colon && port_parse(colon + 1, &e.port, why, n) < 0)
		return TC_EINVAL;
	r = end ? range_parse(body, true, &e, why, n) : body_parse(body, &e, why, n);
	if (r < 0)
		return r;
	*a = e;
	return 0;
}
