/*
 * Reaching Redis: the one reading of `redis.url`, and the blocking
 * connection the CLI and tocsind's start-up check use (connect, log in,
 * select the database). tocsind's own connections (dispatcher/redis.c) log
 * in the same way, asynchronously.
 *
 * Keeps true: the password never reaches a message; what Redis answers to
 * a refused login (WRONGPASS, NOAUTH) does, as the reason.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "common/common.h"

/* Digits only, at most max; false when empty or larger. */
static bool number(const char *s, size_t len, unsigned max, unsigned *out)
{
	uint64_t v;

	if (tc_parse_uint(s, len, max, &v) < 0)
		return false;
	*out = (unsigned)v;
	return true;
}

int tc_redis_url_parse(const char *url, struct tc_redis_where *w)
{
	const char *p, *host, *end;
	size_t hlen;

	memset(w, 0, sizeof(*w));
	if (strncmp(url, "unix://", 7) == 0) {
		p = url + 7;
		if (p[0] != '/' || strlen(p) > 107 || strpbrk(p, "?#"))
			return TC_EINVAL;
		snprintf(w->host, sizeof(w->host), "%s", p);
		return 0;
	}
	if (strncmp(url, "redis://", 8) != 0)
		return TC_EINVAL;
	p = url + 8;
	if (*p == '[') {
		/* [IPv6 address] */
		host = p + 1;
		end = strchr(host, ']');
		if (!end || !memchr(host, ':', (size_t)(end - host)))
			return TC_EINVAL;
		hlen = (size_t)(end - host);
		p = end + 1;
	} else {
		host = p;
		hlen = strcspn(p, ":/");
		p += hlen;
	}
	if (hlen == 0 || hlen >= sizeof(w->host) || memchr(host, '@', hlen))
		return TC_EINVAL;
	memcpy(w->host, host, hlen);
	w->host[hlen] = '\0';
	w->port = 6379;
	if (*p == ':') {
		end = p + 1 + strcspn(p + 1, "/");
		if (!number(p + 1, (size_t)(end - p - 1), 65535, &w->port) || w->port == 0)
			return TC_EINVAL;
		p = end;
	}
	if (*p == '\0' || (p[0] == '/' && p[1] == '\0'))
		return 0;
	if (*p != '/' || !number(p + 1, strlen(p + 1), 65535, &w->db))
		return TC_EINVAL;
	return 0;
}

/* Runs one login step; false with why filled when Redis said no. */
static bool login_step(redisContext *c, redisReply *r, const char *what,
		       char *why, size_t n)
{
	bool ok = r && r->type != REDIS_REPLY_ERROR;

	if (!r)
		snprintf(why, n, "lost Redis during %s: %s", what, c->errstr);
	else if (!ok)
		snprintf(why, n, "Redis refused %s: %s", what, r->str);
	freeReplyObject(r);
	return ok;
}

struct redisContext *tc_redis_connect(const char *url, const char *username,
				      const char *password, unsigned timeout_s,
				      char *why, size_t n)
{
	struct timeval tv = { (time_t)timeout_s, 0 };
	struct tc_redis_where w;
	redisContext *c;
	bool ok = true;

	if (tc_redis_url_parse(url, &w) < 0) {
		snprintf(why, n, "redis.url: expected redis://host[:port][/db] or unix:///path");
		return NULL;
	}
	c = w.port ? redisConnectWithTimeout(w.host, (int)w.port, tv) :
		     redisConnectUnixWithTimeout(w.host, tv);
	if (!c || c->err) {
		snprintf(why, n, "cannot reach Redis at %s: %s", url,
			 c ? c->errstr : "out of memory");
		redisFree(c);
		return NULL;
	}
	redisSetTimeout(c, tv);
	if (password && username)
		ok = login_step(c, redisCommand(c, "AUTH %s %s", username, password),
				"the login", why, n);
	else if (password)
		ok = login_step(c, redisCommand(c, "AUTH %s", password), "the login",
				why, n);
	if (ok && w.db)
		ok = login_step(c, redisCommand(c, "SELECT %u", w.db), "SELECT", why, n);
	if (!ok) {
		redisFree(c);
		return NULL;
	}
	return c;
}
