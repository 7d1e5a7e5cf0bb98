/*
 * Unit tests of the email channel's pure parts: SMTP reply classification
 * (channels/email/classify.c), the thread root (mime.c), and TCP_NODELAY
 * on the sockets of a thread that asked for it (nodelay.c), checked with
 * getsockopt on real loopback connections.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "channels/email/email.h"
#include "tc_test.h"

static bool classify(int code, int c, int s, int d, const char *text,
		     enum tc_smtp_stage stage, struct tc_outcome *o)
{
	struct tc_smtp_reply r = { code, c, s, d, text };

	memset(o, 0x55, sizeof(*o));
	return tc_smtp_classify(&r, stage, o);
}

static void test_classify(void)
{
	struct tc_outcome o;
	char big[4096];

	tc_test_begin("smtp: 2xx is sent, the queue id kept");
	TC_CHECK(!classify(250, 2, 0, 0, "Ok: queued as 4QmXyZ1abc\r\n", TC_SMTP_AFTER_DOT, &o));
	TC_CHECK_INT(o.kind, TC_OUT_SENT);
	TC_CHECK_STR(o.provider_id, "4QmXyZ1abc");
	TC_CHECK_STR(o.detail, "smtp 250 2.0.0: \"Ok: queued as 4QmXyZ1abc\"");
	TC_CHECK(!classify(250, 0, 0, 0, "OK", TC_SMTP_AFTER_DOT, &o));
	TC_CHECK_STR(o.provider_id, "");
	TC_CHECK_INT(o.retry_after_ms, -1);

	tc_test_begin("smtp: 5xx is permanent with the enhanced status and text");
	TC_CHECK(!classify(550, 5, 1, 1, "<bob@x>: User unknown", TC_SMTP_ENVELOPE, &o));
	TC_CHECK_INT(o.kind, TC_OUT_PERMANENT);
	TC_CHECK_INT(o.status, 550);
	TC_CHECK_STR(o.detail, "smtp 550 5.1.1 (envelope): \"<bob@x>: User unknown\"");
	/* without ENHANCEDSTATUSCODES, read from the text */
	TC_CHECK(!classify(554, 0, 0, 0, "5.7.1 rejected", TC_SMTP_AFTER_DOT, &o));
	TC_CHECK_STR(o.detail, "smtp 554 5.7.1 (after the final dot): \"rejected\"");
	TC_CHECK(!classify(554, 0, 0, 0, "5.7 rejected", TC_SMTP_DATA, &o));
	TC_CHECK_STR(o.detail, "smtp 554 (data): \"5.7 rejected\"");

	tc_test_begin("smtp: 4xx is transient; throttling answers slow the channel");
	TC_CHECK(!classify(450, 4, 2, 0, "mailbox busy", TC_SMTP_ENVELOPE, &o));
	TC_CHECK_INT(o.kind, TC_OUT_TRANSIENT);
	TC_CHECK(classify(421, 4, 7, 0, "too busy, closing", TC_SMTP_SESSION, &o));
	TC_CHECK_INT(o.kind, TC_OUT_TRANSIENT);
	TC_CHECK(classify(454, 4, 7, 0, "Throttling failure: Maximum sending rate exceeded.",
			  TC_SMTP_ENVELOPE, &o));
	TC_CHECK(classify(451, 4, 7, 1, "try later", TC_SMTP_ENVELOPE, &o));
	TC_CHECK(!classify(451, 4, 3, 0, "local error", TC_SMTP_ENVELOPE, &o));
	TC_CHECK(classify(452, 0, 0, 0, "Too many messages, slow down", TC_SMTP_ENVELOPE, &o));
	TC_CHECK(!classify(550, 5, 7, 1, "rate limit: you are blocked", TC_SMTP_ENVELOPE, &o));
	TC_CHECK_INT(o.kind, TC_OUT_PERMANENT);

	tc_test_begin("smtp: no answer is transient; after the final dot, ambiguous");
	TC_CHECK(!classify(0, 0, 0, 0, NULL, TC_SMTP_AFTER_DOT, &o));
	TC_CHECK_INT(o.kind, TC_OUT_TRANSIENT);
	TC_CHECK(strncmp(o.detail, "ambiguous: no answer after the final dot", 40) == 0);
	TC_CHECK(!classify(0, 0, 0, 0, NULL, TC_SMTP_SESSION, &o));
	TC_CHECK_STR(o.detail, "no answer from the server (session)");
	/* not SMTP at all */
	TC_CHECK(!classify(354, 0, 0, 0, "go ahead", TC_SMTP_AFTER_DOT, &o));
	TC_CHECK_INT(o.kind, TC_OUT_TRANSIENT);
	TC_CHECK(!classify(999999, 0, 0, 0, "", TC_SMTP_DATA, &o));
	TC_CHECK_INT(o.kind, TC_OUT_TRANSIENT);

	tc_test_begin("smtp: a hostile reply is escaped and cut");
	memset(big, 'A', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "x\x1b[31m\r\ny", 9);
	TC_CHECK(!classify(550, 5, 0, 0, big, TC_SMTP_ENVELOPE, &o));
	TC_CHECK(strstr(o.detail, "x\\x1b[31m\\x0d\\x0ay") != NULL);
	TC_CHECK(strlen(o.detail) < sizeof(o.detail));
	TC_CHECK(strstr(o.detail, "...\"") != NULL);
	TC_CHECK(!classify(250, 0, 0, 0, "queued as ab\"c;rm", TC_SMTP_AFTER_DOT, &o));
	TC_CHECK_STR(o.provider_id, "ab");
}

static void test_thread_root(void)
{
	char a[256], b[256], c[256];

	tc_test_begin("email: the thread root is computed from incident and recipient");
	tc_email_thread_root("INC-7", "Zoe@Example.org", "example.org", a, sizeof(a));
	tc_email_thread_root("INC-7", "zoe@example.org", "example.org", b, sizeof(b));
	TC_CHECK_STR(a, b);
	TC_CHECK(strncmp(a, "thread.", 7) == 0);
	TC_CHECK(strlen(a) == strlen("thread.") + 16 + 1 + 16 + strlen("@example.org"));
	tc_email_thread_root("INC-8", "zoe@example.org", "example.org", c, sizeof(c));
	TC_CHECK(strcmp(b, c) != 0);
	tc_email_thread_root("INC-7", "bob@example.org", "example.org", c, sizeof(c));
	TC_CHECK(strcmp(b, c) != 0);
}

/* ---- TCP_NODELAY ------------------------------------------------------------ */

struct probe {
	bool flag;
	int port;
	int nodelay;                /* as getsockopt read it, or -1 */
};

static void *probe_thread(void *arg)
{
	struct probe *p = arg;
	struct sockaddr_in sa;
	socklen_t len = sizeof(p->nodelay);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	tc_email_nodelay(p->flag);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)p->port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	p->nodelay = -1;
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &p->nodelay, &len) < 0)
		p->nodelay = -1;
	if (fd >= 0)
		close(fd);
	return NULL;
}

static void test_nodelay(void)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	struct probe on = { true, 0, -1 }, off = { false, 0, -1 };
	pthread_t t1, t2;
	int lfd = socket(AF_INET, SOCK_STREAM, 0);

	tc_test_begin("nodelay: only a thread that asked gets TCP_NODELAY on connect");
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	TC_CHECK(lfd >= 0);
	TC_CHECK(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	TC_CHECK(listen(lfd, 8) == 0);
	TC_CHECK(getsockname(lfd, (struct sockaddr *)&sa, &len) == 0);
	on.port = off.port = ntohs(sa.sin_port);
	/* one after the other, and again together: the flag is per thread */
	pthread_create(&t1, NULL, probe_thread, &on);
	pthread_join(t1, NULL);
	pthread_create(&t2, NULL, probe_thread, &off);
	pthread_join(t2, NULL);
	TC_CHECK_INT(on.nodelay, 1);
	TC_CHECK_INT(off.nodelay, 0);
	on.nodelay = off.nodelay = -1;
	pthread_create(&t1, NULL, probe_thread, &on);
	pthread_create(&t2, NULL, probe_thread, &off);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	TC_CHECK_INT(on.nodelay, 1);
	TC_CHECK_INT(off.nodelay, 0);
	close(lfd);
}

int main(void)
{
	test_classify();
	test_thread_root();
	test_nodelay();
	return tc_test_done();
}
