/*
 * test_allow: common/allow.c. The public-address classifier over every
 * range it refuses, on both sides of each boundary, and over the IPv6
 * forms that carry an IPv4 address; the matcher (ranges, ports, names,
 * public, what a listed name may never reach); the entry parser.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/common.h"
#include "tc_test.h"

/* s ("1.2.3.4" or an IPv6 address) and port as a socket address. */
static struct sockaddr_storage sa_of(const char *s, unsigned port)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(s, ':')) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, s, &a->sin6_addr) != 1)
			tc_test_fail(__FILE__, __LINE__, "bad test address '%s'", s);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, s, &a->sin_addr) != 1)
			tc_test_fail(__FILE__, __LINE__, "bad test address '%s'", s);
	}
	return ss;
}

/* ---- tc_allow_addr_public ------------------------------------------------------ */

struct verdict {
	const char *addr;
	bool public;
};

static void check_verdicts(const struct verdict *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		struct sockaddr_storage ss = sa_of(v[i].addr, 443);
		bool got = tc_allow_addr_public((struct sockaddr *)&ss);

		if (got != v[i].public)
			tc_test_fail(__FILE__, __LINE__, "%s: public %d, expected %d",
				     v[i].addr, got, v[i].public);
	}
}

#define CHECK_VERDICTS(t) check_verdicts(t, sizeof(t) / sizeof(t[0]))

static void test_public_v4(void)
{
	/* Each refused block: its first and last address, and the address
	 * just outside it on either side. */
	static const struct verdict v[] = {
		{ "0.0.0.0", false }, { "0.255.255.255", false },
		{ "1.0.0.0", true }, { "1.1.1.1", true }, { "8.8.8.8", true },
		{ "9.255.255.255", true }, { "10.0.0.0", false },
		{ "10.255.255.255", false }, { "11.0.0.0", true },
		{ "100.63.255.255", true }, { "100.64.0.0", false },
		{ "100.127.255.255", false }, { "100.128.0.0", true },
		{ "126.255.255.255", true }, { "127.0.0.0", false },
		{ "127.0.0.1", false }, { "127.255.255.255", false },
		{ "128.0.0.0", true }, { "169.253.255.255", true },
		{ "169.254.0.0", false }, { "169.254.169.254", false },
		{ "169.254.255.255", false }, { "169.255.0.0", true },
		{ "172.15.255.255", true }, { "172.16.0.0", false },
		{ "172.31.255.255", false }, { "172.32.0.0", true },
		{ "191.255.255.255", true }, { "192.0.0.0", false },
		{ "192.0.0.255", false }, { "192.0.1.0", true },
		{ "192.0.1.255", true }, { "192.0.2.0", false },
		{ "192.0.2.255", false }, { "192.0.3.0", true },
		{ "192.88.98.255", true }, { "192.88.99.0", false },
		{ "192.88.99.255", false }, { "192.88.100.0", true },
		{ "192.167.255.255", true }, { "192.168.0.0", false },
		{ "192.168.255.255", false }, { "192.169.0.0", true },
		{ "198.17.255.255", true }, { "198.18.0.0", false },
		{ "198.19.255.255", false }, { "198.20.0.0", true },
		{ "198.51.99.255", true }, { "198.51.100.0", false },
		{ "198.51.100.255", false }, { "198.51.101.0", true },
		{ "203.0.112.255", true }, { "203.0.113.0", false },
		{ "203.0.113.255", false }, { "203.0.114.0", true },
		{ "223.255.255.255", true }, { "224.0.0.0", false },
		{ "224.0.0.1", false }, { "239.255.255.255", false },
		{ "240.0.0.0", false }, { "250.1.2.3", false },
		{ "255.255.255.254", false }, { "255.255.255.255", false },
	};

	tc_test_begin("allow: public IPv4, every refused block and its edges");
	CHECK_VERDICTS(v);
}

static void test_public_v6(void)
{
	static const struct verdict v[] = {
		/* unspecified, loopback */
		{ "::", false }, { "::1", false },
		/* unique-local fc00::/7 */
		{ "fbff:ffff::1", false }, { "fc00::", false }, { "fc00::1", false },
		{ "fd12:3456:789a::1", false },
		{ "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false },
		/* link-local fe80::/10, old site-local fec0::/10 */
		{ "fe80::", false }, { "fe80::1", false }, { "febf::1", false },
		{ "fec0::1", false },
		/* multicast */
		{ "ff00::", false }, { "ff02::1", false }, { "ff0e::101", false },
		/* documentation 2001:db8::/32 and 3fff::/20 */
		{ "2001:db7:ffff:ffff::1", true }, { "2001:db8::", false },
		{ "2001:db8::1", false }, { "2001:db8:ffff:ffff::1", false },
		{ "2001:db9::1", true }, { "3ffe:ffff::1", true },
		{ "3fff::", false }, { "3fff:fff:ffff::1", false },
		{ "3fff:1000::1", true },
		/* IETF protocol assignments 2001::/23, Teredo 2001::/32 */
		{ "2001::", false }, { "2001::1", false },
		{ "2001:0:4136:e378:8000:63bf:3fff:fdd2", false },
		{ "2001:1ff:ffff::1", false }, { "2001:200::1", true },
		/* discard-only, local-use NAT64, SRv6, unassigned */
		{ "100::1", false }, { "64:ff9b:1::1", false }, { "5f00::1", false },
		{ "4000::1", false }, { "1fff:ffff::1", false }, { "c000::1", false },
		/* global unicast */
		{ "2000::1", true }, { "2606:4700:4700::1111", true },
		{ "2001:4860:4860::8888", true },
		{ "3ffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true },
	};

	tc_test_begin("allow: public IPv6, every refused block and its edges");
	CHECK_VERDICTS(v);
}

static void test_public_embedded(void)
{
	static const struct verdict v[] = {
		/* IPv4-mapped ::ffff:0:0/96 */
		{ "::ffff:127.0.0.1", false }, { "::ffff:10.0.0.1", false },
		{ "::ffff:169.254.169.254", false }, { "::ffff:0.0.0.0", false },
		{ "::ffff:100.64.0.1", false }, { "::ffff:192.168.1.1", false },
		{ "::ffff:224.0.0.1", false }, { "::ffff:255.255.255.255", false },
		{ "::ffff:7f00:1", false }, { "::ffff:8.8.8.8", true },
		/* IPv4-compatible ::a.b.c.d */
		{ "::127.0.0.1", false }, { "::10.1.2.3", false },
		{ "::169.254.169.254", false }, { "::0.0.0.2", false },
		{ "::172.16.0.1", false }, { "::8.8.8.8", true },
		/* NAT64 64:ff9b::/96 */
		{ "64:ff9b::127.0.0.1", false }, { "64:ff9b::a9fe:a9fe", false },
		{ "64:ff9b::192.168.0.1", false }, { "64:ff9b::", false },
		{ "64:ff9b::8.8.8.8", true },
		/* 6to4 2002::/16 */
		{ "2002:7f00:1::1", false }, { "2002:c0a8:101::1", false },
		{ "2002:a00:1::", false }, { "2002:a9fe:a9fe::1", false },
		{ "2002:808:808::1", true },
	};

	tc_test_begin("allow: IPv6 carrying IPv4 is judged by that IPv4");
	CHECK_VERDICTS(v);

	tc_test_begin("allow: other address families are not public");
	{
		struct sockaddr_storage ss;

		memset(&ss, 0, sizeof(ss));
		ss.ss_family = AF_UNIX;
		TC_CHECK(!tc_allow_addr_public((struct sockaddr *)&ss));
	}
}

/* ---- tc_allow_parse ------------------------------------------------------------ */

/* Parses s, which must be accepted; the entry is in *a (free a->host). */
static void parse_ok(const char *s, struct tc_allow *a)
{
	char why[200];
	int r = tc_allow_parse(s, a, why, sizeof(why));

	if (r != 0)
		tc_test_fail(__FILE__, __LINE__, "'%s' refused: %d '%s'", s, r, why);
}

/* Parses s, which must be refused with why (may be ""). */
static void parse_bad(const char *s, const char *want)
{
	struct tc_allow a;
	char why[200];
	int r;

	memset(&a, 0x5a, sizeof(a));
	r = tc_allow_parse(s, &a, why, sizeof(why));
	if (r != TC_EINVAL)
		tc_test_fail(__FILE__, __LINE__, "'%s' gave %d, expected TC_EINVAL",
			     s, r);
	else if (strcmp(why, want) != 0)
		tc_test_fail(__FILE__, __LINE__, "'%s': why '%s', expected '%s'", s,
			     why, want);
}

static void test_parse(void)
{
	static const char legacy[] = "an IPv4 address not written as four "
				     "decimal numbers: it means 127.0.0.1";
	struct tc_allow a;

	tc_test_begin("allow: parse public, names, addresses, ranges, ports");
	parse_ok("public", &a);
	TC_CHECK(a.public && !a.host && a.port == 0);
	parse_ok("Public:8443", &a);
	TC_CHECK(a.public && a.port == 8443);
	parse_ok("Hooks.Example.ORG:443", &a);
	TC_CHECK_STR(a.host, "hooks.example.org");
	TC_CHECK_INT(a.port, 443);
	free(a.host);
	parse_ok("*.example.org", &a);
	TC_CHECK_STR(a.host, "*.example.org");
	TC_CHECK_INT(a.port, 0);
	free(a.host);
	parse_ok("10.1.0.0/16:65535", &a);
	TC_CHECK(a.family == AF_INET && a.prefix == 16 && a.port == 65535);
	TC_CHECK(a.addr[0] == 10 && a.addr[1] == 1 && !a.host && !a.public);
	parse_ok("[2001:db8::/32]:1", &a);
	TC_CHECK(a.family == AF_INET6 && a.prefix == 32 && a.port == 1);
	parse_ok("2001:db8::1", &a);
	TC_CHECK(a.family == AF_INET6 && a.prefix == 128 && a.port == 0);
	parse_ok("::ffff:192.168.0.0/112", &a);
	TC_CHECK(a.family == AF_INET && a.prefix == 16 && a.addr[0] == 192 &&
		 a.addr[1] == 168);
	parse_ok("::fffe:0:0/95", &a);
	TC_CHECK(a.family == AF_INET6 && a.prefix == 95);

	tc_test_begin("allow: parse refuses IPv4 in other spellings, with its meaning");
	parse_bad("2130706433", legacy);
	parse_bad("0x7f000001", legacy);
	parse_bad("0X7F000001", legacy);
	parse_bad("0177.0.0.1", legacy);
	parse_bad("0177.0.0.01", legacy);
	parse_bad("127.1", legacy);
	parse_bad("127.0.1", "an IPv4 address not written as four decimal "
		  "numbers: it means 127.0.0.1");
	parse_bad("0x7f.0.0.1:80", legacy);
	parse_bad("[0x7f000001]:80", legacy);
	parse_bad("017700000001/8", legacy);

	tc_test_begin("allow: parse refuses what is not an entry");
	parse_bad("", "");
	parse_bad(":443", "");
	parse_bad("10.0.0.256", "");
	parse_bad("4294967296", "");
	parse_bad("example.org.", "");
	parse_bad("*.", "");
	parse_bad("*", "");
	parse_bad("a..b", "");
	parse_bad("10.0.0.0/8/8", "bad prefix length");
	parse_bad("10.0.0.0/08x", "bad prefix length");
	parse_bad("10.0.0.1/24", "address bits set past the prefix length");
	parse_bad("[::1]:65536", "bad port: expected 1 to 65535");
	parse_bad("host:99999999999999999999", "bad port: expected 1 to 65535");
	parse_bad("::1:", "");
	parse_bad("[10.0.0.1]", "brackets are for IPv6 addresses");
	parse_bad("[public]", "");
	parse_bad("fe80::1%eth0", "");
}

/* ---- tc_allow_match ------------------------------------------------------------ */

/* The entries of a list written as in the configuration. */
static size_t list_of(struct tc_allow *a, size_t max, const char *const *s)
{
	size_t n;

	for (n = 0; s[n] && n < max; n++)
		parse_ok(s[n], &a[n]);
	return n;
}

static void free_list(struct tc_allow *a, size_t n)
{
	while (n--)
		free(a[n].host);
}

/* Whether a connection to addr:port for host (NULL: the URL named the
 * address) is allowed; fails the case when it is not want. */
static void expect(const struct tc_allow *a, size_t n, const char *host,
		   const char *addr, unsigned port, bool want, int line)
{
	struct sockaddr_storage ss = sa_of(addr, port);
	bool got = tc_allow_match(a, n, host, (struct sockaddr *)&ss);

	if (got != want)
		tc_test_fail(__FILE__, line, "%s (%s) port %u: allowed %d, expected %d",
			     addr, host ? host : "no name", port, got, want);
}

#define ALLOWED(host, addr, port) expect(a, n, host, addr, port, true, __LINE__)
#define REFUSED(host, addr, port) expect(a, n, host, addr, port, false, __LINE__)

static void test_match_ranges(void)
{
	static const char *const list[] = {
		"127.0.0.0/8", "192.168.10.0/23", "::1/128", "10.0.0.0/8:8443",
		"[fd00::/8]:443", "*.example.org", NULL,
	};
	struct tc_allow a[8];
	size_t n = list_of(a, 8, list);

	tc_test_begin("allow: address ranges, with prefix boundaries");
	ALLOWED(NULL, "127.0.0.1", 80);
	ALLOWED(NULL, "127.255.255.254", 80);
	REFUSED(NULL, "128.0.0.1", 80);
	ALLOWED(NULL, "192.168.10.7", 80);
	ALLOWED(NULL, "192.168.11.255", 80);
	REFUSED(NULL, "192.168.12.0", 80);
	REFUSED(NULL, "169.254.169.254", 80);
	ALLOWED(NULL, "::1", 80);
	REFUSED(NULL, "::2", 80);
	REFUSED(NULL, "fe80::1", 80);

	tc_test_begin("allow: an IPv4-mapped IPv6 address is judged as IPv4");
	ALLOWED(NULL, "::ffff:127.0.0.1", 80);
	REFUSED(NULL, "::ffff:10.0.0.1", 80);
	ALLOWED(NULL, "::ffff:10.0.0.1", 8443);
	/* Compatible and NAT64 forms are other addresses, not IPv4. */
	REFUSED(NULL, "::127.0.0.1", 80);
	REFUSED(NULL, "64:ff9b::7f00:1", 80);

	tc_test_begin("allow: an entry with a port allows that port only");
	REFUSED(NULL, "10.0.0.1", 80);
	REFUSED(NULL, "10.0.0.1", 8444);
	ALLOWED(NULL, "10.0.0.1", 8443);
	ALLOWED(NULL, "fd12::1", 443);
	REFUSED(NULL, "fd12::1", 80);
	REFUSED(NULL, "fc00::1", 443);

	tc_test_begin("allow: a name entry never allows an address by itself");
	REFUSED(NULL, "8.8.8.8", 443);
	REFUSED("hooks.example.com", "8.8.8.8", 443);
	free_list(a, n);
}

static void test_match_names(void)
{
	static const char *const list[] = {
		"hooks.example.org", "*.partners.example.net", "api.example.com:8443",
		NULL,
	};
	struct tc_allow a[4];
	size_t n = list_of(a, 4, list);

	tc_test_begin("allow: host names, exact and below a wildcard");
	TC_CHECK(tc_allow_host_listed(a, n, "hooks.example.org", 0));
	TC_CHECK(tc_allow_host_listed(a, n, "HOOKS.example.org.", 0));
	TC_CHECK(tc_allow_host_listed(a, n, "a.b.partners.EXAMPLE.net", 0));
	TC_CHECK(!tc_allow_host_listed(a, n, "partners.example.net", 0));
	TC_CHECK(!tc_allow_host_listed(a, n, "evil-partners.example.net", 0));
	TC_CHECK(!tc_allow_host_listed(a, n, "partners.example.net.evil.org", 0));
	TC_CHECK(!tc_allow_host_listed(a, n, "x.hooks.example.org", 0));
	TC_CHECK(!tc_allow_host_listed(a, n, "example.org", 0));
	TC_CHECK(tc_allow_host_listed(a, n, "api.example.com", 8443));
	TC_CHECK(!tc_allow_host_listed(a, n, "api.example.com", 443));
	TC_CHECK(tc_allow_host_listed(a, n, "api.example.com", 0));

	tc_test_begin("allow: a listed name allows what it resolves to");
	ALLOWED("hooks.example.org", "203.0.113.9", 443);
	ALLOWED("hooks.example.org", "127.0.0.1", 9000);
	ALLOWED("hooks.example.org", "10.1.2.3", 443);
	ALLOWED("hooks.example.org", "2001:db8::9", 443);
	ALLOWED("Hooks.Example.org.", "8.8.8.8", 443);
	ALLOWED("x.partners.example.net", "8.8.8.8", 443);
	ALLOWED("api.example.com", "8.8.8.8", 8443);
	REFUSED("api.example.com", "8.8.8.8", 443);
	REFUSED("other.example.org", "8.8.8.8", 443);

	tc_test_begin("allow: a listed name never reaches link-local or unspecified");
	REFUSED("hooks.example.org", "169.254.169.254", 80);
	REFUSED("hooks.example.org", "169.254.0.1", 80);
	REFUSED("hooks.example.org", "0.0.0.0", 80);
	REFUSED("hooks.example.org", "0.1.2.3", 80);
	REFUSED("hooks.example.org", "fe80::1", 80);
	REFUSED("hooks.example.org", "febf:ffff::1", 80);
	REFUSED("hooks.example.org", "::", 80);
	REFUSED("hooks.example.org", "::ffff:169.254.169.254", 80);
	REFUSED("hooks.example.org", "::ffff:0.0.0.0", 80);
	REFUSED("hooks.example.org", "::169.254.169.254", 80);
	REFUSED("hooks.example.org", "64:ff9b::a9fe:a9fe", 80);
	ALLOWED("hooks.example.org", "169.253.255.255", 80);
	ALLOWED("hooks.example.org", "fec0::1", 80);
	free_list(a, n);
}

static void test_match_public(void)
{
	static const char *const list[] = { "public", "127.0.0.1:9000", NULL };
	static const char *const list443[] = { "public:443", NULL };
	struct tc_allow a[2];
	size_t n = list_of(a, 2, list);

	tc_test_begin("allow: public allows globally routable addresses only");
	ALLOWED(NULL, "8.8.8.8", 80);
	ALLOWED("any.example.org", "1.1.1.1", 443);
	ALLOWED(NULL, "2606:4700:4700::1111", 443);
	ALLOWED(NULL, "::ffff:8.8.8.8", 443);
	REFUSED(NULL, "10.0.0.1", 443);
	REFUSED("hooks.example.org", "192.168.1.1", 443);
	REFUSED(NULL, "127.0.0.1", 443);
	ALLOWED(NULL, "127.0.0.1", 9000);
	REFUSED(NULL, "::ffff:127.0.0.1", 443);
	ALLOWED(NULL, "::ffff:127.0.0.1", 9000);
	REFUSED(NULL, "169.254.169.254", 80);
	REFUSED(NULL, "fd00::1", 443);
	REFUSED(NULL, "64:ff9b::10.0.0.1", 443);
	ALLOWED(NULL, "64:ff9b::8.8.8.8", 443);
	free_list(a, n);

	tc_test_begin("allow: public with a port");
	n = list_of(a, 2, list443);
	ALLOWED(NULL, "8.8.8.8", 443);
	REFUSED(NULL, "8.8.8.8", 80);
	free_list(a, n);

	tc_test_begin("allow: an empty list allows nothing");
	n = 0;
	REFUSED("hooks.example.org", "8.8.8.8", 443);
}

int main(void)
{
	test_public_v4();
	test_public_v6();
	test_public_embedded();
	test_parse();
	test_match_ranges();
	test_match_names();
	test_match_public();
	return tc_test_done();
}
