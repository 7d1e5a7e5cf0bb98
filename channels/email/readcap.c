/*
 * A bound on what an SMTP server can make a session read. libesmtp 1.1
 * joins the lines of a multi-line reply without a limit, so a server
 * sending "250-..." lines without end would grow tocsind's memory until
 * the session's timeout, which a steady stream never reaches. tocsind
 * therefore defines read(2) itself, like connect(2) in nodelay.c: on an
 * email worker that set a budget (tc_email_read_cap), every read (the
 * plain socket's, and OpenSSL's under TLS) counts against it, and once
 * it is spent reads fail with EMSGSIZE, which libesmtp takes as a dropped
 * connection. On every other thread it is libc's read unchanged.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "channels/email/email.h"

typedef ssize_t (*read_fn)(int, void *, size_t);

static _Thread_local size_t cap_left;
static _Thread_local bool cap_on, cap_hit;
static read_fn next_read;
static pthread_once_t next_once = PTHREAD_ONCE_INIT;

static void find_next(void)
{
	void *sym = dlsym(RTLD_NEXT, "read");

	/* POSIX guarantees a function's address fits a data pointer. */
	memcpy(&next_read, &sym, sizeof(next_read));
}

void tc_email_read_cap(size_t bytes)
{
	cap_on = bytes > 0;
	cap_left = bytes;
	cap_hit = false;
}

bool tc_email_read_capped(void)
{
	return cap_hit;
}

ssize_t read(int fd, void *buf, size_t n)
{
	ssize_t r;

	pthread_once(&next_once, find_next);
	if (!next_read) {
		errno = ENOSYS;
		return -1;
	}
	if (!cap_on)
		return next_read(fd, buf, n);
	if (cap_left == 0) {
		cap_hit = true;
		errno = EMSGSIZE;
		return -1;
	}
	r = next_read(fd, buf, n < cap_left ? n : cap_left);
	if (r > 0)
		cap_left -= (size_t)r;
	return r;
}
