/*
 * The helpers of tests/fuzz/fuzz.h.
 */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/common.h"
#include "tests/fuzz/fuzz.h"

char *fz_strndup(const void *p, size_t n)
{
	char *s = malloc(n + 1);

	if (!s)
		abort();
	if (n)
		memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

const char *fz_next(struct fz_in *in, size_t *len)
{
	const char *start = in->p, *end;

	if (!start)
		return NULL;
	end = memchr(start, '\0', in->n);
	if (!end) {
		*len = in->n;
		in->p = NULL;
		in->n = 0;
		return start;
	}
	*len = (size_t)(end - start);
	in->n -= *len + 1;
	in->p = end + 1;
	return start;
}

static char dir[PATH_MAX / 2];

static int remove_one(const char *path, const struct stat *st, int flag,
		      struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void remove_dir(void)
{
	/* Only the process that made it: a forked child exits too. */
	if (dir[0] && (pid_t)strtol(strrchr(dir, '-') + 1, NULL, 10) == getpid())
		nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

const char *fz_dir(void)
{
	const char *tmp = getenv("TMPDIR");

	if (dir[0])
		return dir;
	if ((size_t)snprintf(dir, sizeof(dir), "%s/tocsin-fuzz-%ld",
			     tmp && tmp[0] ? tmp : "/tmp", (long)getpid()) >= sizeof(dir))
		fz_assert(false, "TMPDIR is a reasonable path");
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		perror(dir);
		abort();
	}
	atexit(remove_dir);
	return dir;
}

const char *fz_write(const char *rel, const void *p, size_t len)
{
	static char path[PATH_MAX];
	char *slash;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", fz_dir(), rel);
	for (slash = strchr(path + strlen(dir) + 1, '/'); slash;
	     slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		if (mkdir(path, 0700) < 0 && errno != EEXIST) {
			perror(path);
			abort();
		}
		*slash = '/';
	}
	f = fopen(path, "wb");
	if (!f || (len && fwrite(p, 1, len, f) != len) || fclose(f) != 0) {
		perror(path);
		abort();
	}
	return path;
}

const char *fz_writes(const char *rel, const char *text)
{
	return fz_write(rel, text, strlen(text));
}

void fz_assert(bool ok, const char *what)
{
	if (ok)
		return;
	fprintf(stderr, "fuzz: broken promise: %s\n", what);
	abort();
}

void fz_shown(const char *text, const char *what)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t off = 0, n = strlen(text), k;
	uint32_t cp;

	while (off < n) {
		k = tc_utf8_decode(s + off, n - off, &cp);
		if (k && tc_utf8_unsafe(cp)) {
			fprintf(stderr, "fuzz: %s holds U+%04X: ", what, (unsigned)cp);
			fz_assert(false, "nothing from outside reaches a terminal unescaped");
		}
		off += k ? k : 1;
	}
}
