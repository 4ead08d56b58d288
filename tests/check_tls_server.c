/*
 * check_tls_server.c - the real tcpchatd serving TLS: openssl s_client
 * and ncat --ssl as its clients, many TLS clients at once (made with the
 * test's own TLS transport), a plain-text client closed while 100 TLS
 * clients chat, 200 handshakes at once, 50 connections that never
 * handshake while others get in, client certificates, bad files.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/wait.h>
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "io.h"
#include "net.h"
#include "testutil.h"
#include "tls.h"

static char certdir[] = "/tmp/check_tls_server.XXXXXX";

static const char *
cert(const char *name)
{
	static char paths[16][256];
	static int next;
	char *p = paths[next++ % 16];

	snprintf(p, 256, "%s/%s", certdir, name);
	return p;
}

static void
certs_setup(void)
{
	static int made;

	if (made++)
		return;
	ck_assert_ptr_nonnull(mkdtemp(certdir));
	testutil_make_certs(certdir);
}

/* Starts tcpchatd in mode serving TLS with the test's server certificate. */
static void
tls_chatd(struct testutil_chatd *d, const char *mode, const char *more)
{
	/* 2 s, stretched as every wait is (a sanitizer's slow handshakes). */
	static char timeout[32];
	snprintf(timeout, sizeof(timeout), "%dms", testutil_wait_ms(2000));
	const char *extra[12] = {"--tls-cert", cert("server.pem"), "--tls-key",
	    cert("server.key"), "--handshake-timeout", timeout, NULL};
	int n = 6;

	if (more != NULL) {
		extra[n++] = "--tls-client-ca";
		extra[n++] = cert(more);
	}
	extra[n] = NULL;
	testutil_chatd_start(d, mode, extra);
}

/* A TLS client end, driven without blocking. */
struct tclient {
	struct transport t;
	int state;
	short events;
	char err[TLS_ERR_MAX];
	char buf[4096];
	size_t len;
};

static struct tls_context *
client_ctx(const char *mine)
{
	char crt[64], key[64], err[TLS_ERR_MAX];

	if (mine != NULL) {
		snprintf(crt, sizeof(crt), "%s.pem", mine);
		snprintf(key, sizeof(key), "%s.key", mine);
	}
	struct tls_client_options o = {cert("ca.pem"), "localhost", 0,
	    mine ? cert(crt) : NULL, mine ? cert(key) : NULL};
	struct tls_context *c = tls_client_new(&o, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	return c;
}

/* Connects n clients and steps all their handshakes at once. */
static void
tclients_connect(struct tclient *cs, int n, int port, struct tls_context *ctx)
{
	char err[TLS_ERR_MAX];
	struct pollfd *pfd = calloc((size_t)n, sizeof(*pfd));
	int *fds = calloc((size_t)n, sizeof(*fds));

	ck_assert_ptr_nonnull(pfd);
	ck_assert_ptr_nonnull(fds);
	testutil_connect_many(port, n, fds);
	for (int i = 0; i < n; i++) {
		memset(&cs[i], 0, sizeof(cs[i]));
		ck_assert_msg(
		    tls_transport(&cs[i].t, fds[i], ctx, err, sizeof(err)) == 0,
		    "%s", err);
		cs[i].state = TLS_AGAIN;
	}
	uint64_t deadline = clock_now_ms() + testutil_wait_ms(20000);
	for (int pending = n; pending > 0 && clock_now_ms() < deadline;) {
		int k = 0;
		pending = 0;
		for (int i = 0; i < n; i++) {
			if (cs[i].state != TLS_AGAIN)
				continue;
			cs[i].state = tls_handshake(&cs[i].t, &cs[i].events,
			    cs[i].err, sizeof(cs[i].err));
			if (cs[i].state == TLS_AGAIN) {
				pfd[k++] = (struct pollfd){
				    cs[i].t.fd, cs[i].events, 0};
				pending++;
			}
		}
		if (k > 0)
			poll(pfd, (nfds_t)k, 50);
	}
	for (int i = 0; i < n; i++)
		ck_assert_msg(
		    cs[i].state == TLS_DONE, "client %d: %s", i, cs[i].err);
	free(pfd);
	free(fds);
}

static void
tclient_send(struct tclient *c, const char *s)
{
	size_t len = strlen(s), done = 0;
	uint64_t deadline = clock_now_ms() + testutil_wait_ms(5000);

	while (done < len && clock_now_ms() < deadline) {
		ssize_t n = transport_send(&c->t, s + done, len - done);
		ck_assert_int_ge(n, 0);
		done += (size_t)n;
		if (done < len)
			poll(NULL, 0, 1);
	}
	ck_assert_uint_eq(done, len);
}

/*
 * Reads until a line (without its LF) comes, within the wait; returns 1
 * with it in line, 0 at end of stream or timeout.
 */
static int
tclient_line(struct tclient *c, char *line, size_t cap, int ms)
{
	uint64_t deadline = clock_now_ms() + testutil_wait_ms(ms);

	for (;;) {
		char *lf = memchr(c->buf, '\n', c->len);
		if (lf != NULL) {
			size_t n = (size_t)(lf - c->buf);
			snprintf(line, cap, "%.*s", (int)n, c->buf);
			memmove(c->buf, lf + 1, c->len - n - 1);
			c->len -= n + 1;
			return 1;
		}
		if (clock_now_ms() >= deadline || c->len == sizeof(c->buf))
			return 0;
		struct pollfd p = {c->t.fd, POLLIN, 0};
		if (transport_pending(&c->t) == 0)
			poll(&p, 1, 20);
		ssize_t n = transport_recv(
		    &c->t, c->buf + c->len, sizeof(c->buf) - c->len);
		/* The end of the stream, or an alert from the server. */
		if (n == 0 || (n == -1 && errno != EAGAIN))
			return 0;
		if (n > 0)
			c->len += (size_t)n;
	}
}

/* Reads lines until one equals want (room notices come and go). */
static void
tclient_expect(struct tclient *c, const char *want)
{
	char line[4096];

	for (int i = 0; i < 1000; i++) {
		ck_assert_msg(tclient_line(c, line, sizeof(line), 5000),
		    "never got \"%s\"", want);
		if (strcmp(line, want) == 0)
			return;
	}
	ck_abort_msg("never got \"%s\"", want);
}

static void
tclients_close(struct tclient *cs, int n)
{
	for (int i = 0; i < n; i++)
		transport_close(&cs[i].t);
}

/* Whether a command is on the PATH. */
static int
have(const char *cmd)
{
	char buf[256];

	snprintf(buf, sizeof(buf), "command -v %s >/dev/null 2>&1", cmd);
	return system(buf) == 0;
}

START_TEST(test_openssl_s_client_chats)
{
	struct testutil_chatd d;
	struct testutil_proc p;
	char port[16], line[512];

	tls_chatd(&d, "chat", NULL);
	snprintf(port, sizeof(port), "127.0.0.1:%d", d.port);
	const char *argv[] = {"openssl", "s_client", "-quiet", "-no_ign_eof",
	    "-connect", port, "-CAfile", cert("ca.pem"), "-verify_return_error",
	    "-servername", "localhost", NULL};
	testutil_spawn(&p, (char *const *)argv);
	testutil_chatd_expect_sub(&d, "connected over TLSv1.3 (1 online)");
	testutil_send_str(p.in_fd, "hello from s_client\n");
	testutil_chatd_expect_sub(&d, ": hello from s_client");
	testutil_chatd_type(&d, "来自服务端消息：我不好");
	ck_assert_msg(testutil_wait_line(p.out_fd, "来自服务端消息", line,
	                  sizeof(line), testutil_wait_ms(5000)),
	    "s_client never printed the operator's reply");
	ck_assert_str_eq(line, "来自服务端消息：我不好");
	close(p.in_fd);
	testutil_chatd_expect_sub(&d, "disconnected");
	testutil_proc_stop(&p, SIGTERM, testutil_wait_ms(5000));
	testutil_chatd_stop(&d);
}
END_TEST

START_TEST(test_ncat_ssl_echo)
{
	struct testutil_chatd d;
	struct testutil_proc p;
	char port[16];
	const char *text = "every byte back, over TLS: 中文 \x01\n";

	if (!have("ncat")) {
		puts("ncat not installed: test_ncat_ssl_echo skipped");
		return;
	}
	tls_chatd(&d, "echo", NULL);
	snprintf(port, sizeof(port), "%d", d.port);
	const char *argv[] = {"ncat", "--ssl", "--ssl-verify",
	    "--ssl-trustfile", cert("ca.pem"), "localhost", port, NULL};
	testutil_spawn(&p, (char *const *)argv);
	testutil_send_str(p.in_fd, text);
	testutil_expect_str(p.out_fd, text);
	close(p.in_fd);
	testutil_proc_stop(&p, SIGTERM, testutil_wait_ms(5000));
	testutil_chatd_stop(&d);
}
END_TEST

START_TEST(test_plain_client_while_100_chat)
{
	enum { N = 100 };
	struct testutil_chatd d;
	static struct tclient cs[N];
	struct tls_context *ctx = client_ctx(NULL);

	tls_chatd(&d, "room", NULL);
	tclients_connect(cs, N, d.port, ctx);
	/* A plain-text client: closed in bounded time, nothing relayed. */
	uint64_t t0 = clock_now_ms();
	int plain = testutil_connect(d.port);
	testutil_send_str(plain, "I speak plain text, please relay me\n");
	ck_assert_int_eq(testutil_wait_eof(plain, testutil_wait_ms(5000)), 1);
	printf("plain-text client closed after %llu ms\n",
	    (unsigned long long)(clock_now_ms() - t0));
	close(plain);
	testutil_chatd_expect_sub(&d, "TLS handshake failed:");
	/* Meanwhile the room goes on: every TLS client hears each line. */
	for (int round = 0; round < 3; round++) {
		char text[64], want[80];
		snprintf(text, sizeof(text), "round %d\n", round);
		tclient_send(&cs[round], text);
		for (int i = 0; i < N; i++) {
			if (i == round)
				continue;
			snprintf(want, sizeof(want), "#%d: round %d", round + 1,
			    round);
			tclient_expect(&cs[i], want);
		}
	}
	tclients_close(cs, N);
	tls_context_unref(ctx);
	testutil_chatd_stop(&d);
}
END_TEST

START_TEST(test_200_handshakes_at_once)
{
	enum { N = 200 };
	struct testutil_chatd d;
	static struct tclient cs[N];
	struct tls_context *ctx = client_ctx(NULL);
	char line[128], text[64];

	tls_chatd(&d, "echo", NULL);
	uint64_t t0 = clock_now_ms();
	tclients_connect(cs, N, d.port, ctx);
	printf("%d TLS handshakes at once: %llu ms\n", N,
	    (unsigned long long)(clock_now_ms() - t0));
	for (int i = 0; i < N; i++) {
		snprintf(text, sizeof(text), "client %d says hi\n", i);
		tclient_send(&cs[i], text);
	}
	for (int i = 0; i < N; i++) {
		snprintf(text, sizeof(text), "client %d says hi", i);
		ck_assert(tclient_line(&cs[i], line, sizeof(line), 5000));
		ck_assert_str_eq(line, text);
	}
	tclients_close(cs, N);
	tls_context_unref(ctx);
	testutil_chatd_stop(&d);
}
END_TEST

START_TEST(test_stalled_handshakes_hold_up_nobody)
{
	enum { STALLED = 50, GOOD = 10 };
	struct testutil_chatd d;
	int stalled[STALLED];
	static struct tclient cs[GOOD];
	struct tls_context *ctx = client_ctx(NULL);
	char line[128];

	tls_chatd(&d, "echo", NULL);
	testutil_connect_many(d.port, STALLED, stalled);
	/* They never say a word; others get in and are served at once. */
	uint64_t t0 = clock_now_ms();
	tclients_connect(cs, GOOD, d.port, ctx);
	for (int i = 0; i < GOOD; i++) {
		tclient_send(&cs[i], "quick\n");
		ck_assert(tclient_line(&cs[i], line, sizeof(line), 5000));
		ck_assert_str_eq(line, "quick");
	}
	uint64_t took = clock_now_ms() - t0;
	printf("%d clients served in %llu ms beside %d stalled handshakes\n",
	    GOOD, (unsigned long long)took, STALLED);
	ck_assert_uint_lt(took, (uint64_t)testutil_wait_ms(3000));
	/* --handshake-timeout (2 s, stretched): the stalled ones are closed. */
	for (int i = 0; i < STALLED; i++) {
		ck_assert_int_eq(
		    testutil_wait_eof(stalled[i], testutil_wait_ms(6000)), 1);
		close(stalled[i]);
	}
	testutil_chatd_expect_sub(&d, "TLS handshake failed: timed out");
	tclients_close(cs, GOOD);
	tls_context_unref(ctx);
	testutil_chatd_stop(&d);
}
END_TEST

START_TEST(test_client_certificate_required)
{
	struct testutil_chatd d;
	struct tclient c = {0};
	struct tls_context *none = client_ctx(NULL),
	                   *mine = client_ctx("client");
	char err[TLS_ERR_MAX], line[128];

	tls_chatd(&d, "echo", "ca.pem");
	/* Without one: the server refuses, the client hears the end. */
	int fd = testutil_connect(d.port);
	ck_assert_int_eq(tls_transport(&c.t, fd, none, err, sizeof(err)), 0);
	uint64_t deadline = clock_now_ms() + testutil_wait_ms(5000);
	int rc = TLS_AGAIN, got = -1;
	while (clock_now_ms() < deadline && rc == TLS_AGAIN) {
		rc = tls_handshake(&c.t, &c.events, c.err, sizeof(c.err));
		struct pollfd p = {c.t.fd, c.events, 0};
		if (rc == TLS_AGAIN)
			poll(&p, 1, 50);
	}
	/* TLS 1.3: the refusal may come only after the client's Finished. */
	if (rc == TLS_DONE)
		got = tclient_line(&c, line, sizeof(line), 5000);
	ck_assert(rc == TLS_FAILED || got == 0);
	transport_close(&c.t);
	testutil_chatd_expect_sub(&d, "TLS handshake failed:");
	/* With one signed by the CA: served. */
	tclients_connect(&c, 1, d.port, mine);
	tclient_send(&c, "signed\n");
	ck_assert(tclient_line(&c, line, sizeof(line), 5000));
	ck_assert_str_eq(line, "signed");
	transport_close(&c.t);
	tls_context_unref(none);
	tls_context_unref(mine);
	testutil_chatd_stop(&d);
}
END_TEST

START_TEST(test_bad_files_at_start)
{
	struct testutil_proc p;
	char err[1024];
	const char *argv[] = {testutil_program("tcpchatd"), "-p", "0",
	    "--tls-cert", cert("server.pem"), "--tls-key", cert("client.key"),
	    NULL};

	testutil_spawn(&p, (char *const *)argv);
	size_t n = testutil_read_until(
	    p.err_fd, err, sizeof(err), "\n", testutil_wait_ms(5000));
	int status = testutil_proc_wait(&p, testutil_wait_ms(5000));
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1);
	ck_assert_uint_gt(n, 0);
	ck_assert_msg(strstr(err, "client.key") != NULL, "%s", err);
	ck_assert_ptr_eq(strchr(err, '\n'), err + n - 1);
}
END_TEST

/* Copies the certificate and key named from into live.pem and live.key. */
static void
live_pair(const char *dir, const char *from)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd),
	    "cp '%s/%s.pem' '%s/live.pem.new' && mv '%s/live.pem.new' "
	    "'%s/live.pem' && cp '%s/%s.key' '%s/live.key.new' && "
	    "mv '%s/live.key.new' '%s/live.key'",
	    certdir, from, dir, dir, dir, certdir, from, dir, dir, dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* A client for name (verified against the test CA): 1 if it handshook. */
static int
tclient_try(struct tclient *c, int port, const char *name)
{
	char err[TLS_ERR_MAX];
	struct tls_client_options o = {cert("ca.pem"), name, 0, NULL, NULL};
	struct tls_context *ctx = tls_client_new(&o, err, sizeof(err));
	int fd = testutil_connect(port);

	ck_assert_msg(ctx != NULL, "%s", err);
	memset(c, 0, sizeof(*c));
	ck_assert_int_eq(tls_transport(&c->t, fd, ctx, err, sizeof(err)), 0);
	tls_context_unref(ctx);
	uint64_t deadline = clock_now_ms() + testutil_wait_ms(5000);
	do {
		c->state =
		    tls_handshake(&c->t, &c->events, c->err, sizeof(c->err));
		struct pollfd pfd = {fd, c->events, 0};
		if (c->state == TLS_AGAIN)
			poll(&pfd, 1, 50);
	} while (c->state == TLS_AGAIN && clock_now_ms() < deadline);
	return c->state == TLS_DONE;
}

/*
 * SIGHUP loads the certificate and key again for new connections: those
 * made before keep theirs, and a bad new pair is reported and the old
 * one kept.
 */
START_TEST(test_sighup_reloads_the_certificate)
{
	char dir[] = "/tmp/check_tls_reload.XXXXXX", crt[64], key[64];
	struct testutil_chatd d;
	struct tclient before, after, kept;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(crt, sizeof(crt), "%s/live.pem", dir);
	snprintf(key, sizeof(key), "%s/live.key", dir);
	live_pair(dir, "server");
	const char *extra[] = {"--tls-cert", crt, "--tls-key", key, NULL};
	testutil_chatd_start(&d, "echo", extra);
	ck_assert_msg(
	    tclient_try(&before, d.port, "localhost"), "%s", before.err);
	/* A certificate for other.example from now on. */
	live_pair(dir, "wrongname");
	kill(d.proc.pid, SIGHUP);
	testutil_chatd_expect(&d,
	    "tcpchatd: TLS certificate %s reloaded for new connections", crt);
	ck_assert_msg(
	    tclient_try(&after, d.port, "other.example"), "%s", after.err);
	tclient_send(&after, "new pair\n");
	tclient_expect(&after, "new pair");
	/* The connection made before still works, on the old one. */
	tclient_send(&before, "old pair\n");
	tclient_expect(&before, "old pair");
	/* A bad pair: reported, and the last good one kept. */
	ck_assert_int_eq(truncate(key, 0), 0);
	kill(d.proc.pid, SIGHUP);
	testutil_chatd_expect_sub(&d,
	    "tcpchatd: TLS certificate not reloaded, keeping the old one: ");
	ck_assert_msg(
	    tclient_try(&kept, d.port, "other.example"), "%s", kept.err);
	tclient_send(&kept, "kept\n");
	tclient_expect(&kept, "kept");
	transport_close(&before.t);
	transport_close(&after.t);
	transport_close(&kept.t);
	testutil_chatd_stop(&d);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

static Suite *
tls_server_suite(void)
{
	Suite *s = suite_create("tls_server");
	TCase *tc = tcase_create("peers");

	tcase_add_unchecked_fixture(tc, certs_setup, NULL);
	tcase_add_test(tc, test_openssl_s_client_chats);
	tcase_add_test(tc, test_ncat_ssl_echo);
	tcase_add_test(tc, test_client_certificate_required);
	tcase_add_test(tc, test_bad_files_at_start);
	tcase_add_test(tc, test_sighup_reloads_the_certificate);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tc = tcase_create("many");
	tcase_add_unchecked_fixture(tc, certs_setup, NULL);
	tcase_add_test(tc, test_plain_client_while_100_chat);
	tcase_add_test(tc, test_200_handshakes_at_once);
	tcase_add_test(tc, test_stalled_handshakes_hold_up_nobody);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	if (!tls_available()) {
		puts("check_tls_server: this build has no TLS: skipped");
		return 77;
	}
	signal(SIGPIPE, SIG_IGN);
	sr = srunner_create(tls_server_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", certdir);
	(void)!system(cmd);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
