/*
 * check_client_tls.c - the real tcpchat over TLS: against ncat --ssl -l
 * and openssl s_server (one-shot and scripted, the exact bytes both
 * ways), against tcpchatd --tls-cert in echo, chat and room modes with
 * several clients at once, certificates that must be refused (expired,
 * for another name, from an unknown issuer) with the reason and exit 1,
 * --tls-insecure taking them with its warning, a handshake bounded by
 * -w, and client certificates for tcpchatd --tls-client-ca.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/wait.h>
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "io.h"
#include "testutil.h"
#include "tls.h"
#include "transport.h"

/* Room for what one tcpchat run prints. */
#define T_OUT_MAX (4u << 20)
#define T_ERR_MAX 8192

/* What a finished tcpchat said and how it ended. */
struct run {
	char *out;
	char err[T_ERR_MAX];
	int status; /* exit status, or -1 when it did not exit normally */
	uint64_t ms; /* how long it ran */
};

/* Feeds a child's standard input from a thread: big inputs never block. */
struct feeder {
	pthread_t thread;
	int fd;
	const char *bytes;
	size_t len;
};

static void *
feeder_main(void *arg)
{
	struct feeder *f = arg;

	(void)io_write_full(f->fd, f->bytes, f->len);
	close(f->fd);
	return NULL;
}

/*
 * Runs tcpchat with args (NULL-terminated), input (len bytes) on its
 * standard input, and collects what it prints.
 */
static void
tcpchat_run(
    struct run *r, const char *input, size_t len, const char *const args[])
{
	const char *argv[32] = {testutil_program("tcpchat")};
	struct testutil_proc p;
	struct feeder f;
	int n = 1;

	for (int i = 0; args[i] != NULL && n < 31; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	memset(r, 0, sizeof(*r));
	r->out = malloc(T_OUT_MAX);
	ck_assert_ptr_nonnull(r->out);
	uint64_t t0 = clock_now_ms();
	testutil_spawn(&p, (char *const *)argv);
	f = (struct feeder){.fd = p.in_fd, .bytes = input, .len = len};
	ck_assert_int_eq(pthread_create(&f.thread, NULL, feeder_main, &f), 0);
	int ws = testutil_proc_collect(&p, r->out, T_OUT_MAX, r->err,
	    sizeof(r->err), testutil_wait_ms(30000));
	pthread_join(f.thread, NULL);
	r->ms = clock_now_ms() - t0;
	r->status = WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
}

static void
run_free(struct run *r)
{
	free(r->out);
	r->out = NULL;
}

/* "localhost:PORT" (static storage: one at a time). */
static const char *
at(int port)
{
	static char buf[64];

	snprintf(buf, sizeof(buf), "localhost:%d", port);
	return buf;
}

/* Starts tcpchatd in mode serving TLS with the test's server certificate. */
static void
tls_chatd(struct testutil_chatd *d, const char *mode, const char *crt,
    const char *client_ca)
{
	char pem[64], key[64];
	const char *extra[10];
	int n = 0;

	snprintf(pem, sizeof(pem), "%s.pem", crt);
	snprintf(key, sizeof(key), "%s.key", crt);
	extra[n++] = "--tls-cert";
	extra[n++] = testutil_cert(pem);
	extra[n++] = "--tls-key";
	extra[n++] = testutil_cert(key);
	extra[n++] = "--handshake-timeout";
	extra[n++] = "3";
	if (client_ca != NULL) {
		extra[n++] = "--tls-client-ca";
		extra[n++] = testutil_cert(client_ca);
	}
	extra[n] = NULL;
	testutil_chatd_start(d, mode, extra);
}

/* Whether a command is on the PATH; says what is skipped when not. */
static int
have(const char *cmd, const char *test)
{
	if (testutil_find_in_path(cmd) != NULL)
		return 1;
	printf("%s not installed: %s skipped\n", cmd, test);
	return 0;
}

/* ---- other TLS servers --------------------------------------------- */

/*
 * Starts a TLS server (ncat --ssl -l or openssl s_server) on a free
 * port with the test's server certificate; its standard input is what
 * it sends, its standard output what it received.
 */
static int
peer_start(struct testutil_proc *p, const char *which)
{
	int port = testutil_free_port();
	char portstr[16], accept[32];

	snprintf(portstr, sizeof(portstr), "%d", port);
	snprintf(accept, sizeof(accept), "127.0.0.1:%d", port);
	if (strcmp(which, "ncat") == 0) {
		const char *argv[] = {"ncat", "--ssl", "--ssl-cert",
		    testutil_cert("server.pem"), "--ssl-key",
		    testutil_cert("server.key"), "-l", "127.0.0.1", portstr,
		    NULL};
		testutil_spawn(p, (char *const *)argv);
	} else {
		const char *argv[] = {"openssl", "s_server", "-quiet",
		    "-naccept", "1", "-accept", accept, "-cert",
		    testutil_cert("server.pem"), "-key",
		    testutil_cert("server.key"), NULL};
		testutil_spawn(p, (char *const *)argv);
	}
	ck_assert_msg(testutil_wait_listening(port, testutil_wait_ms(10000)),
	    "%s never listened on port %d", which, port);
	return port;
}

/* tcpchat in a thread, so the test can play the server meanwhile. */
struct background {
	pthread_t thread;
	struct run run;
	const char *input;
	size_t len;
	const char *args[16];
};

static void *
background_main(void *arg)
{
	struct background *b = arg;

	tcpchat_run(&b->run, b->input, b->len, b->args);
	return NULL;
}

static void
background_start(struct background *b)
{
	ck_assert_int_eq(
	    pthread_create(&b->thread, NULL, background_main, b), 0);
}

static void
background_join(struct background *b)
{
	ck_assert_int_eq(pthread_join(b->thread, NULL), 0);
}

/*
 * One-shot and scripted exchanges with a TLS server that is not ours:
 * the bytes it receives and the bytes tcpchat prints are exact.
 */
static void
exchange_with(const char *which)
{
	struct testutil_proc peer;
	struct background b;
	int port = peer_start(&peer, which);

	/* One-shot: the message as a line, its reply printed. */
	memset(&b, 0, sizeof(b));
	const char *one[] = {"--tls", "--tls-ca", testutil_cert("ca.pem"), "-w",
	    "10s", "-m", "hello over TLS 你好", at(port), NULL};
	memcpy(b.args, one, sizeof(one));
	background_start(&b);
	testutil_expect_str(peer.out_fd, "hello over TLS 你好\n");
	testutil_send_str(peer.in_fd, "reply from the server\n");
	background_join(&b);
	ck_assert_msg(
	    b.run.status == 0, "exit %d: %s", b.run.status, b.run.err);
	ck_assert_str_eq(b.run.out, "reply from the server\n");
	ck_assert_str_eq(b.run.err, "");
	run_free(&b.run);
	close(peer.in_fd);
	testutil_proc_stop(&peer, SIGTERM, testutil_wait_ms(5000));
}

/*
 * A scripted exchange: every input line arrives exactly, the answers
 * print exactly, and the end of input ends the conversation (these
 * servers close when tcpchat half-closes).
 */
static void
script_with(const char *which)
{
	static const char input[] =
	    "line one\n\tline two: 中文\n\x01\x7f end\n";
	struct testutil_proc peer, client;
	char *out = malloc(T_OUT_MAX), err[T_ERR_MAX];
	int port = peer_start(&peer, which);
	const char *argv[] = {testutil_program("tcpchat"), "--tls", "--tls-ca",
	    testutil_cert("ca.pem"), "-w", "5s", at(port), NULL};

	ck_assert_ptr_nonnull(out);
	testutil_spawn(&client, (char *const *)argv);
	testutil_send_str(client.in_fd, input);
	/* The dialect: the next line waits for the server's first word. */
	testutil_expect_str(peer.out_fd, "line one\n");
	testutil_send_str(peer.in_fd, "first answer\n");
	testutil_expect_str(client.out_fd, "first answer\n");
	testutil_expect_str(peer.out_fd, input + strlen("line one\n"));
	testutil_send_str(peer.in_fd, "second answer\n");
	testutil_expect_str(client.out_fd, "second answer\n");
	close(client.in_fd);
	int ws = testutil_proc_collect(
	    &client, out, T_OUT_MAX, err, sizeof(err), testutil_wait_ms(15000));
	ck_assert_msg(WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "%s", err);
	ck_assert_str_eq(out, "");
	ck_assert_str_eq(err, "");
	free(out);
	close(peer.in_fd);
	testutil_proc_stop(&peer, SIGTERM, testutil_wait_ms(5000));
}

START_TEST(test_ncat_ssl_server)
{
	if (!have("ncat", "test_ncat_ssl_server"))
		return;
	exchange_with("ncat");
	script_with("ncat");
}
END_TEST

START_TEST(test_openssl_s_server)
{
	exchange_with("s_server");
	script_with("s_server");
}
END_TEST

/* ---- tcpchatd over TLS ----------------------------------------------- */

/* Bytes that must come back unchanged, big enough for many records. */
static char *
big_input(size_t len)
{
	char *p = malloc(len);

	ck_assert_ptr_nonnull(p);
	for (size_t i = 0; i < len; i++)
		p[i] = i % 61 == 60 ? '\n' : (char)(' ' + (i * 7919) % 95);
	p[len - 1] = '\n';
	return p;
}

START_TEST(test_tcpchatd_echo)
{
	enum { BIG = 3 << 20 };
	struct testutil_chatd d;
	struct run r;
	char *input = big_input(BIG);

	tls_chatd(&d, "echo", "server", NULL);
	/* By name and by address: the certificate names both. */
	const char *one[] = {"--tls", "--tls-ca", testutil_cert("ca.pem"), "-m",
	    "hi", at(d.port), NULL};
	tcpchat_run(&r, "", 0, one);
	ck_assert_msg(r.status == 0, "%s", r.err);
	ck_assert_str_eq(r.out, "hi\n");
	run_free(&r);
	char addr[32];
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", d.port);
	const char *ip[] = {"--tls", "--tls-ca", testutil_cert("ca.pem"), "-m",
	    "by ip", addr, NULL};
	tcpchat_run(&r, "", 0, ip);
	ck_assert_msg(r.status == 0, "%s", r.err);
	ck_assert_str_eq(r.out, "by ip\n");
	run_free(&r);
	/* Megabytes both ways at once: TLS records, partial sends. */
	const char *script[] = {"--tls", "--tls-ca", testutil_cert("ca.pem"),
	    "-w", "5s", at(d.port), NULL};
	tcpchat_run(&r, input, BIG, script);
	ck_assert_msg(r.status == 0, "%s", r.err);
	ck_assert_msg(memcmp(r.out, input, BIG) == 0,
	    "the echo of %d bytes differs", BIG);
	run_free(&r);
	/* -v names what was negotiated. */
	const char *verbose[] = {"-v", "--tls", "--tls-ca",
	    testutil_cert("ca.pem"), "-m", "v", at(d.port), NULL};
	tcpchat_run(&r, "", 0, verbose);
	ck_assert_int_eq(r.status, 0);
	ck_assert_msg(strstr(r.err, " over TLSv1.3 in ") != NULL &&
	        strstr(r.err, "certificate verified") != NULL,
	    "%s", r.err);
	run_free(&r);
	testutil_chatd_expect_sub(&d, "connected over TLSv1.3");
	free(input);
	testutil_chatd_stop(&d);
}
END_TEST

/* A tcpchat whose input the test writes as it goes. */
struct live {
	struct testutil_proc proc;
};

static void
live_start(struct live *l, int port)
{
	const char *argv[] = {testutil_program("tcpchat"), "--tls", "--tls-ca",
	    testutil_cert("ca.pem"), "-w", "3s", at(port), NULL};

	testutil_spawn(&l->proc, (char *const *)argv);
}

/* The next line l prints must contain want (lines before it skipped). */
static void
live_expect(struct live *l, const char *want)
{
	char line[4096];

	ck_assert_msg(testutil_wait_line(l->proc.out_fd, want, line,
	                  sizeof(line), testutil_wait_ms(5000)),
	    "tcpchat never printed \"%s\"", want);
}

/* Ends l's input; it must then exit 0 having said nothing on stderr. */
static void
live_finish(struct live *l)
{
	char *out = malloc(T_OUT_MAX), err[T_ERR_MAX];

	ck_assert_ptr_nonnull(out);
	close(l->proc.in_fd);
	int ws = testutil_proc_collect(&l->proc, out, T_OUT_MAX, err,
	    sizeof(err), testutil_wait_ms(15000));
	ck_assert_msg(WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "%s", err);
	ck_assert_str_eq(err, "");
	free(out);
}

START_TEST(test_tcpchatd_chat)
{
	enum { N = 3 };
	struct testutil_chatd d;
	struct live c[N];
	char text[64];

	tls_chatd(&d, "chat", "server", NULL);
	for (int i = 0; i < N; i++) {
		live_start(&c[i], d.port);
		testutil_chatd_expect_sub(&d, "connected over TLSv1.3");
	}
	for (int i = 0; i < N; i++) {
		snprintf(text, sizeof(text), "client %d here\n", i);
		testutil_send_str(c[i].proc.in_fd, text);
		snprintf(text, sizeof(text), ": client %d here", i);
		testutil_chatd_expect_sub(&d, text);
	}
	/* The operator answers everyone. */
	testutil_chatd_type(&d, "/all 来自服务端消息：大家好");
	for (int i = 0; i < N; i++)
		live_expect(&c[i], "来自服务端消息：大家好");
	for (int i = 0; i < N; i++)
		live_finish(&c[i]);
	testutil_chatd_stop(&d);
}
END_TEST

START_TEST(test_tcpchatd_room)
{
	enum { N = 4 };
	struct testutil_chatd d;
	struct live c[N];
	char text[64], want[80];

	tls_chatd(&d, "room", "server", NULL);
	for (int i = 0; i < N; i++) {
		live_start(&c[i], d.port);
		snprintf(text, sizeof(text),
		    "connected over TLSv1.3 (%d online)", i + 1);
		testutil_chatd_expect_sub(&d, text);
	}
	/* Each says one line; every other member hears it, exactly. */
	for (int i = 0; i < N; i++) {
		snprintf(text, sizeof(text), "member %d: 你好\n", i);
		testutil_send_str(c[i].proc.in_fd, text);
		for (int j = 0; j < N; j++) {
			if (j == i)
				continue;
			snprintf(want, sizeof(want), "#%d: member %d: 你好",
			    i + 1, i);
			live_expect(&c[j], want);
		}
	}
	for (int i = 0; i < N; i++)
		live_finish(&c[i]);
	testutil_chatd_stop(&d);
}
END_TEST

/* ---- verification ------------------------------------------------------ */

/*
 * tcpchat -m against a tcpchatd serving crt must fail with exactly the
 * one line "tcpchat: TLS handshake with HOST:PORT failed: REASON" and
 * exit 1; the server hears no message.
 */
static void
expect_refused(const char *crt, const char *const args[], const char *host,
    const char *reason)
{
	struct testutil_chatd d;
	const char *argv[16];
	char target[64], want[256];
	struct run r;
	int n = 0;

	tls_chatd(&d, "echo", crt, NULL);
	snprintf(target, sizeof(target), "%s:%d", host, d.port);
	argv[n++] = "--tls";
	for (int i = 0; args[i] != NULL; i++)
		argv[n++] = args[i];
	argv[n++] = "-m";
	argv[n++] = "secret";
	argv[n++] = target;
	argv[n] = NULL;
	tcpchat_run(&r, "", 0, argv);
	snprintf(want, sizeof(want),
	    "tcpchat: TLS handshake with %s failed: %s\n", target, reason);
	ck_assert_int_eq(r.status, 1);
	ck_assert_str_eq(r.err, want);
	ck_assert_str_eq(r.out, "");
	run_free(&r);
	testutil_chatd_expect_sub(&d, "TLS handshake failed:");
	testutil_chatd_stop(&d);
}

START_TEST(test_refuses_bad_certificates)
{
	const char *ca[] = {"--tls-ca", testutil_cert("ca.pem"), NULL};
	const char *other[] = {"--tls-ca", testutil_cert("other-ca.pem"), NULL};
	const char *system_store[] = {NULL};
	const char *by_ip[] = {"--tls-ca", testutil_cert("ca.pem"),
	    "--tls-servername", "127.0.0.2", NULL};
	const char *renamed[] = {"--tls-ca", testutil_cert("ca.pem"),
	    "--tls-servername", "elsewhere.example", NULL};

	expect_refused("expired", ca, "localhost", "certificate has expired");
	expect_refused("wrongname", ca, "localhost", "hostname mismatch");
	expect_refused("server", by_ip, "127.0.0.1", "IP address mismatch");
	expect_refused("server", renamed, "localhost", "hostname mismatch");
	expect_refused("server", other, "localhost",
	    "unknown issuer (unable to get local issuer certificate)");
	/* The system's store knows nothing of the test's CA. */
	expect_refused("server", system_store, "localhost",
	    "unknown issuer (unable to get local issuer certificate)");
}
END_TEST

START_TEST(test_servername_and_insecure)
{
	struct testutil_chatd d;
	struct run r;
	char want[256];

	/* --tls-servername: the name the certificate carries. */
	tls_chatd(&d, "echo", "wrongname", NULL);
	const char *named[] = {"--tls", "--tls-ca", testutil_cert("ca.pem"),
	    "--tls-servername", "other.example", "-m", "named", at(d.port),
	    NULL};
	tcpchat_run(&r, "", 0, named);
	ck_assert_msg(r.status == 0, "%s", r.err);
	ck_assert_str_eq(r.out, "named\n");
	run_free(&r);
	/* --tls-insecure: taken, with one line of warning. */
	const char *insecure[] = {
	    "--tls", "--tls-insecure", "-m", "anyway", at(d.port), NULL};
	tcpchat_run(&r, "", 0, insecure);
	snprintf(want, sizeof(want),
	    "tcpchat: warning: --tls-insecure: the certificate of %s is not "
	    "verified; anyone in the way can read and change the "
	    "conversation\n",
	    at(d.port));
	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(r.err, want);
	ck_assert_str_eq(r.out, "anyway\n");
	run_free(&r);
	testutil_chatd_stop(&d);

	/* Even an expired certificate, scripted. */
	tls_chatd(&d, "echo", "expired", NULL);
	const char *script[] = {
	    "--tls", "--tls-insecure", "-w", "2s", at(d.port), NULL};
	tcpchat_run(&r, "a\nb\n", 4, script);
	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(r.out, "a\nb\n");
	ck_assert_ptr_nonnull(strstr(r.err, "warning: --tls-insecure"));
	ck_assert_ptr_eq(strchr(r.err, '\n'), r.err + strlen(r.err) - 1);
	run_free(&r);
	testutil_chatd_stop(&d);
}
END_TEST

START_TEST(test_handshake_bounded_by_wait)
{
	struct testutil_server silent, echo;
	struct run r;
	char target[64], want[128];

	/* Accepts and never answers the ClientHello. */
	testutil_server_start(&silent, TESTUTIL_SILENT);
	snprintf(target, sizeof(target), "127.0.0.1:%d", silent.port);
	const char *args[] = {"--tls", "-w", "1s", "-m", "x", target, NULL};
	tcpchat_run(&r, "", 0, args);
	snprintf(want, sizeof(want),
	    "tcpchat: TLS handshake with %s failed: timed out after 1 s\n",
	    target);
	ck_assert_int_eq(r.status, 1);
	ck_assert_str_eq(r.err, want);
	ck_assert_msg(r.ms >= 900 && r.ms < (uint64_t)testutil_wait_ms(5000),
	    "took %llu ms", (unsigned long long)r.ms);
	run_free(&r);
	testutil_server_stop(&silent);

	/* A plain-text server: whatever it says is no TLS. */
	testutil_server_start(&echo, TESTUTIL_ECHO);
	snprintf(target, sizeof(target), "127.0.0.1:%d", echo.port);
	const char *plain[] = {"--tls", "-w", "2s", "-m", "x", target, NULL};
	tcpchat_run(&r, "", 0, plain);
	snprintf(want, sizeof(want),
	    "tcpchat: TLS handshake with %s failed: ", target);
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strncmp(r.err, want, strlen(want)) == 0, "%s", r.err);
	ck_assert_ptr_eq(strchr(r.err, '\n'), r.err + strlen(r.err) - 1);
	run_free(&r);
	testutil_server_stop(&echo);
}
END_TEST

START_TEST(test_client_certificate)
{
	struct testutil_chatd d;
	struct run r;

	tls_chatd(&d, "echo", "server", "ca.pem");
	/* Without one: TLS 1.3 says so in an alert after the handshake. */
	const char *none[] = {"--tls", "--tls-ca", testutil_cert("ca.pem"),
	    "-m", "let me in", at(d.port), NULL};
	tcpchat_run(&r, "", 0, none);
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(
	    strstr(r.err, "certificate required") != NULL, "%s", r.err);
	ck_assert_ptr_eq(strchr(r.err, '\n'), r.err + strlen(r.err) - 1);
	ck_assert_str_eq(r.out, "");
	run_free(&r);
	testutil_chatd_expect_sub(&d, "TLS handshake failed:");
	/* Signed by the CA the server asks for: served. */
	const char *mine[] = {"--tls", "--tls-ca", testutil_cert("ca.pem"),
	    "--tls-cert", testutil_cert("client.pem"), "--tls-key",
	    testutil_cert("client.key"), "-m", "signed", at(d.port), NULL};
	tcpchat_run(&r, "", 0, mine);
	ck_assert_msg(r.status == 0, "%s", r.err);
	ck_assert_str_eq(r.out, "signed\n");
	run_free(&r);
	testutil_chatd_stop(&d);
}
END_TEST

START_TEST(test_bad_files_and_usage)
{
	struct run r;

	/* A CA file that is not there: one line, exit 1, no connection. */
	const char *missing[] = {"--tls", "--tls-ca", "/nonexistent/ca.pem",
	    "-m", "x", "127.0.0.1:1", NULL};
	tcpchat_run(&r, "", 0, missing);
	ck_assert_int_eq(r.status, 1);
	ck_assert_str_eq(r.err,
	    "tcpchat: cannot read CA /nonexistent/ca.pem: No such file or "
	    "directory\n");
	run_free(&r);
	/* A key that is not the certificate's. */
	struct testutil_server echo;
	testutil_server_start(&echo, TESTUTIL_ECHO);
	char target[32];
	snprintf(target, sizeof(target), "127.0.0.1:%d", echo.port);
	const char *mismatch[] = {"--tls", "--tls-cert",
	    testutil_cert("client.pem"), "--tls-key",
	    testutil_cert("server.key"), "-m", "x", target, NULL};
	tcpchat_run(&r, "", 0, mismatch);
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strstr(r.err, "server.key") != NULL, "%s", r.err);
	ck_assert_ptr_eq(strchr(r.err, '\n'), r.err + strlen(r.err) - 1);
	run_free(&r);
	testutil_server_stop(&echo);
	/* Usage errors: exit 2, the hint. */
	const char *const bad[][8] = {
	    {"--tls-ca", testutil_cert("ca.pem"), "-m", "x", NULL},
	    {"--tls", "--tls-key", testutil_cert("client.key"), "-m", "x",
	        NULL},
	    {"--tls", "--tls-insecure", "--tls-ca", testutil_cert("ca.pem"),
	        NULL},
	    {"--tls", "--control", "/tmp/nowhere", NULL},
	    {"--tls", "--tls-servername", "", NULL}};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		tcpchat_run(&r, "", 0, bad[i]);
		ck_assert_msg(
		    r.status == 2, "case %zu: %d %s", i, r.status, r.err);
		ck_assert_ptr_nonnull(strstr(r.err, "Try 'tcpchat --help'."));
		run_free(&r);
	}
}
END_TEST

/* ---- what a poll loop relies on ----------------------------------- */

/*
 * A client and a server transport with the test between them: what one
 * sends reaches the other only when relay() moves it, in whole or in
 * part.
 */
struct pair {
	struct transport srv, cli;
	int cli_side, srv_side; /* the test's ends */
	struct tls_context *sctx, *cctx;
};

/* Moves up to max bytes (all there are, when 0) from fd to fd. */
static size_t
relay(int from, int to, size_t max)
{
	char buf[65536];
	ssize_t n = recv(from, buf,
	    max && max < sizeof(buf) ? max : sizeof(buf), MSG_DONTWAIT);

	if (n <= 0)
		return 0;
	ck_assert_int_eq(io_write_full(to, buf, (size_t)n), n);
	return (size_t)n;
}

static void
pair_open(struct pair *p)
{
	struct tls_server_options so = {
	    testutil_cert("server.pem"), testutil_cert("server.key"), NULL};
	struct tls_client_options co = {
	    testutil_cert("ca.pem"), "localhost", 0, NULL, NULL};
	char err[TLS_ERR_MAX];
	int a[2], b[2], done_s = 0, done_c = 0;

	p->sctx = tls_server_new(&so, err, sizeof(err));
	ck_assert_msg(p->sctx != NULL, "%s", err);
	p->cctx = tls_client_new(&co, err, sizeof(err));
	ck_assert_msg(p->cctx != NULL, "%s", err);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, a), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, b), 0);
	ck_assert_int_eq(tls_transport(&p->cli, a[1], p->cctx, err, 256), 0);
	ck_assert_int_eq(tls_transport(&p->srv, b[1], p->sctx, err, 256), 0);
	p->cli_side = a[0];
	p->srv_side = b[0];
	uint64_t deadline = clock_now_ms() + testutil_wait_ms(5000);
	while ((!done_s || !done_c) && clock_now_ms() < deadline) {
		short ev;
		if (!done_c) {
			int rc = tls_handshake(&p->cli, &ev, err, sizeof(err));
			ck_assert_msg(rc != TLS_FAILED, "client: %s", err);
			done_c = rc == TLS_DONE;
		}
		relay(p->cli_side, p->srv_side, 0);
		if (!done_s) {
			int rc = tls_handshake(&p->srv, &ev, err, sizeof(err));
			ck_assert_msg(rc != TLS_FAILED, "server: %s", err);
			done_s = rc == TLS_DONE;
		}
		relay(p->srv_side, p->cli_side, 0);
		poll(NULL, 0, 1);
	}
	ck_assert(done_s && done_c);
}

static void
pair_close(struct pair *p)
{
	transport_close(&p->srv);
	transport_close(&p->cli);
	close(p->cli_side);
	close(p->srv_side);
	tls_context_unref(p->sctx);
	tls_context_unref(p->cctx);
}

/* The server's next read, which must be exactly want. */
static void
expect_read(struct pair *p, const char *want)
{
	char buf[256];
	ssize_t n = transport_recv(&p->srv, buf, sizeof(buf));

	ck_assert_int_eq(n, (ssize_t)strlen(want));
	ck_assert(memcmp(buf, want, (size_t)n) == 0);
}

/*
 * Records that one read() took off the socket (TLS reads ahead) are
 * reported by transport_pending and read without the socket turning
 * readable again; once they are gone, and while only part of a record
 * has come, nothing is pending: a poll loop neither waits for bytes TLS
 * holds nor spins on bytes it cannot use yet.
 */
START_TEST(test_pending_after_read_ahead)
{
	struct pair p;
	char buf[256];

	pair_open(&p);
	/* Three records, all in the socket before the server reads. */
	const char *msgs[] = {"one\n", "two\n", "three\n"};
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(
		    transport_send(&p.cli, msgs[i], strlen(msgs[i])),
		    (ssize_t)strlen(msgs[i]));
	ck_assert_uint_gt(relay(p.cli_side, p.srv_side, 0), 0);
	expect_read(&p, "one\n");
	struct pollfd pfd = {p.srv.fd, POLLIN, 0};
	ck_assert_int_eq(poll(&pfd, 1, 0), 0); /* the socket is drained */
	ck_assert_uint_gt(transport_pending(&p.srv), 0);
	expect_read(&p, "two\n");
	ck_assert_uint_gt(transport_pending(&p.srv), 0);
	expect_read(&p, "three\n");
	if (transport_pending(&p.srv) > 0) {
		ck_assert_int_eq(transport_recv(&p.srv, buf, sizeof(buf)), -1);
		ck_assert_int_eq(errno, EAGAIN);
	}
	ck_assert_uint_eq(transport_pending(&p.srv), 0);
	ck_assert_int_eq(transport_wants(&p.srv, 0), POLLIN);
	/* Ten bytes of a record: the read wants more, nothing pending. */
	ck_assert_int_eq(transport_send(&p.cli, "later\n", 6), 6);
	ck_assert_uint_eq(relay(p.cli_side, p.srv_side, 10), 10);
	ck_assert_int_eq(transport_recv(&p.srv, buf, sizeof(buf)), -1);
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_uint_eq(transport_pending(&p.srv), 0);
	/* The rest: readable again, and whole. */
	ck_assert_uint_gt(relay(p.cli_side, p.srv_side, 0), 0);
	ck_assert_int_eq(poll(&pfd, 1, testutil_wait_ms(2000)), 1);
	expect_read(&p, "later\n");
	pair_close(&p);
}
END_TEST

static Suite *
client_tls_suite(void)
{
	Suite *s = suite_create("client_tls");
	TCase *tc = tcase_create("peers");

	tcase_add_unchecked_fixture(tc, testutil_certs_setup, NULL);
	tcase_add_test(tc, test_ncat_ssl_server);
	tcase_add_test(tc, test_openssl_s_server);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tc = tcase_create("tcpchatd");
	tcase_add_unchecked_fixture(tc, testutil_certs_setup, NULL);
	tcase_add_test(tc, test_tcpchatd_echo);
	tcase_add_test(tc, test_tcpchatd_chat);
	tcase_add_test(tc, test_tcpchatd_room);
	tcase_set_timeout(tc, 90);
	suite_add_tcase(s, tc);

	tc = tcase_create("verification");
	tcase_add_unchecked_fixture(tc, testutil_certs_setup, NULL);
	tcase_add_test(tc, test_refuses_bad_certificates);
	tcase_add_test(tc, test_servername_and_insecure);
	tcase_add_test(tc, test_handshake_bounded_by_wait);
	tcase_add_test(tc, test_client_certificate);
	tcase_add_test(tc, test_bad_files_and_usage);
	tcase_set_timeout(tc, 90);
	suite_add_tcase(s, tc);

	tc = tcase_create("transport");
	tcase_add_unchecked_fixture(tc, testutil_certs_setup, NULL);
	tcase_add_test(tc, test_pending_after_read_ahead);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return testutil_run_tls_suite("check_client_tls", client_tls_suite());
}
