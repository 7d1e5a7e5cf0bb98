/*
 * The route table's lookup: a request's method and path against patterns
 * whose "*" segments each match one non-empty path segment. Adding a
 * route (receipts, acknowledgements) is one more table row; nothing here
 * knows a route by name.
 */
#include <string.h>

#include "listener/listener.h"

/* Matches path (up to its end or '?') against pattern; copies each "*"
 * segment into seg. Returns the number of "*" segments, or -1. */
static int match(const char *pattern, const char *path, char *seg,
		 const char **args)
{
	const char *p = pattern, *s = path;
	int n = 0;
	size_t len;

	for (;;) {
		if (*p != '/' || *s != '/')
			return -1;
		p++;
		s++;
		len = strcspn(s, "/?");
		if (p[0] == '*' && (p[1] == '/' || p[1] == '\0')) {
			if (len == 0 || len > TC_ROUTE_SEGMENT || n == TC_ROUTE_ARGS)
				return -1;
			args[n] = seg + (size_t)n * (TC_ROUTE_SEGMENT + 1);
			memcpy(seg + (size_t)n * (TC_ROUTE_SEGMENT + 1), s, len);
			seg[(size_t)n * (TC_ROUTE_SEGMENT + 1) + len] = '\0';
			n++;
			p++;
		} else {
			size_t plen = strcspn(p, "/");

			if (plen != len || memcmp(p, s, len) != 0)
				return -1;
			p += plen;
		}
		s += len;
		if (*p == '\0')
			return *s == '\0' || *s == '?' ? n : -1;
	}
}

int tc_route_match(const struct tc_route *table, size_t n, const char *method,
		   const char *target, char *seg, const char **args, unsigned *n_args)
{
	bool path_known = false;
	size_t i;
	int k;

	for (i = 0; i < n; i++) {
		k = match(table[i].pattern, target, seg, args);
		if (k < 0)
			continue;
		path_known = true;
		if (strcmp(table[i].method, method) == 0 ||
		    (strcmp(method, "HEAD") == 0 && strcmp(table[i].method, "GET") == 0)) {
			*n_args = (unsigned)k;
			return (int)i;
		}
	}
	return path_known ? -405 : -404;
}
