/*
 * TCP_NODELAY for libesmtp. libesmtp 1.1 writes a message through a 2 KiB
 * buffer and never sets TCP_NODELAY (nor lets the application see its
 * socket), so every message larger than that waits about 40 ms for the
 * server's delayed ACK under Nagle's algorithm: 91 messages/s instead of
 * thousands. tocsind therefore defines connect(2) itself: on a thread
 * that asked for it (the email workers, tc_email_nodelay), a TCP socket
 * gets TCP_NODELAY before libc's connect runs; on every other thread,
 * and for every other socket, it is libc's connect unchanged.
 *
 * This works because a symbol of the executable comes before the same
 * symbol of any shared library (libesmtp calls connect through the PLT);
 * libc's own is found with dlsym(RTLD_NEXT). The flag is thread-local, so
 * libuv, libcurl and hiredis sockets are never touched.
 */
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>

#include "channels/email/email.h"

typedef int (*connect_fn)(int, __CONST_SOCKADDR_ARG, socklen_t);

static _Thread_local bool nodelay_on;
static connect_fn next_connect;
static pthread_once_t next_once = PTHREAD_ONCE_INIT;

static void find_next(void)
{
	void *sym = dlsym(RTLD_NEXT, "connect");

	/* POSIX guarantees a function's address fits a data pointer. */
	memcpy(&next_connect, &sym, sizeof(next_connect));
}

void tc_email_nodelay(bool on)
{
	nodelay_on = on;
}

/* Declared by <sys/socket.h>; with _GNU_SOURCE its address is glibc's
 * transparent union of sockaddr pointers. */
int connect(int fd, __CONST_SOCKADDR_ARG addr, socklen_t len)
{
	const struct sockaddr *sa = addr.__sockaddr__;
	int type = 0, one = 1;
	socklen_t tl = sizeof(type);

	pthread_once(&next_once, find_next);
	if (!next_connect) {
		errno = ENOSYS;
		return -1;
	}
	if (nodelay_on && sa && (sa->sa_family == AF_INET || sa->sa_family == AF_INET6) &&
	    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) == 0 && type == SOCK_STREAM)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return next_connect(fd, addr, len);
}
