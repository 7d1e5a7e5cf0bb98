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
 *
 * The same connect, with close(2), keeps the number of a worker's session
 * socket (tc_email_sock_watch), so that when tocsind's shutdown_grace is
 * over the loop thread can shut it down (tc_email_sock_cut) instead of
 * waiting out libesmtp's timeouts. The fd is forgotten, under the lock,
 * before libc closes it, so a cut never reaches a number reused since.
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
typedef int (*close_fn)(int);

static _Thread_local bool nodelay_on;
static _Thread_local struct tc_email_sock *watched;
static connect_fn next_connect;
static close_fn next_close;
static pthread_once_t next_once = PTHREAD_ONCE_INIT;

static void find_next(void)
{
	void *sym = dlsym(RTLD_NEXT, "connect");

	/* POSIX guarantees a function's address fits a data pointer. */
	memcpy(&next_connect, &sym, sizeof(next_connect));
	sym = dlsym(RTLD_NEXT, "close");
	memcpy(&next_close, &sym, sizeof(next_close));
}

void tc_email_nodelay(bool on)
{
	nodelay_on = on;
}

void tc_email_sock_watch(struct tc_email_sock *s)
{
	watched = s;
}

void tc_email_sock_cut(struct tc_email_sock *s)
{
	pthread_mutex_lock(&s->lock);
	s->cut = true;
	if (s->fd >= 0)
		(void)shutdown(s->fd, SHUT_RDWR);
	pthread_mutex_unlock(&s->lock);
}

/* Watches fd as the thread's socket; false when the thread was cut. */
static bool watch_fd(int fd)
{
	bool cut;

	pthread_mutex_lock(&watched->lock);
	cut = watched->cut;
	if (!cut)
		watched->fd = fd;
	pthread_mutex_unlock(&watched->lock);
	return !cut;
}

/* Declared by <sys/socket.h>; with _GNU_SOURCE its address is glibc's
 * transparent union of sockaddr pointers. */
int connect(int fd, __CONST_SOCKADDR_ARG addr, socklen_t len)
{
	const struct sockaddr *sa = addr.__sockaddr__;
	int type = 0, one = 1, r;
	socklen_t tl = sizeof(type);

	pthread_once(&next_once, find_next);
	if (!next_connect) {
		errno = ENOSYS;
		return -1;
	}
	if (nodelay_on && sa && (sa->sa_family == AF_INET || sa->sa_family == AF_INET6) &&
	    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) == 0 && type == SOCK_STREAM)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (!watched)
		return next_connect(fd, addr, len);
	if (!watch_fd(fd)) {
		errno = ECANCELED;
		return -1;
	}
	r = next_connect(fd, addr, len);
	/* A cut while connecting may have found the socket not connected
	 * yet, which shutdown(2) leaves alone: cut it again now. */
	if (!watch_fd(fd))
		(void)shutdown(fd, SHUT_RDWR);
	return r;
}

int close(int fd)
{
	pthread_once(&next_once, find_next);
	if (!next_close) {
		errno = ENOSYS;
		return -1;
	}
	if (watched) {
		pthread_mutex_lock(&watched->lock);
		if (watched->fd == fd)
			watched->fd = -1;
		pthread_mutex_unlock(&watched->lock);
	}
	return next_close(fd);
}
