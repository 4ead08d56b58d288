/*
 * check_hardening.c - the real tcpchatd against hostile, slow and broken
 * clients: limits, access rules, timeouts, resets, signals, descriptor
 * and thread counts read from /proc.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "io.h"
#include "testutil.h"

/* Connects and waits until the console shows the connection. */
static int
hard_join(struct testutil_chatd *h)
{
	int fd = testutil_connect(h->port);

	testutil_chatd_expect_sub(h, "connected (");
	return fd;
}

/* Closes with a reset (RST) instead of an orderly FIN. */
static void
hard_reset(int fd)
{
	struct linger lg = {1, 0};

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

START_TEST(test_server_full_then_room_again)
{
	const char *extra[] = {"--max-clients", "2", NULL};
	struct testutil_chatd h;

	testutil_chatd_start(&h, "echo", extra);
	int a = hard_join(&h), b = hard_join(&h);
	int c = testutil_connect(h.port);
	testutil_expect_str(c, "tcpchatd: server full (2 clients)\n");
	ck_assert_int_eq(testutil_wait_eof(c, testutil_wait_ms(5000)), 1);
	close(c);
	testutil_chatd_expect_sub(&h, "refused: server full");
	/* Someone leaves: the next one gets in and is served. */
	close(a);
	testutil_chatd_expect_sub(&h, "disconnected: closed (1 online)");
	c = hard_join(&h);
	testutil_send_str(c, "ping\n");
	testutil_expect_str(c, "ping\n");
	close(b);
	close(c);
	testutil_chatd_stop(&h);
}
END_TEST

START_TEST(test_access_denied_reads_nothing)
{
	const char *extra[] = {
	    "--deny", "127.0.0.0/8", "--log", "/dev/null", NULL};
	struct testutil_chatd h;
	char buf[256];

	testutil_chatd_start(&h, "chat", extra);
	int c = testutil_connect(h.port);
	testutil_send_str(c, "secret\n");
	testutil_expect_str(c, "tcpchatd: access denied\n");
	ck_assert_int_eq(testutil_wait_eof(c, testutil_wait_ms(5000)), 1);
	close(c);
	testutil_chatd_expect_sub(&h, "refused: access denied");
	/* Nothing the refused client sent reached the console. */
	ck_assert_ptr_null(strstr(h.line, "secret"));
	io_write_full(h.proc.in_fd, "/stats\n", 7);
	testutil_chatd_expect_sub(&h, "messages 0 in");
	close(h.proc.in_fd);
	(void)buf;
	h.proc.in_fd = -1;
	kill(h.proc.pid, SIGTERM);
	ck_assert_int_ne(
	    testutil_proc_wait(&h.proc, testutil_wait_ms(10000)), -1);
}
END_TEST

START_TEST(test_allow_list_admits_only_listed)
{
	const char *extra[] = {"--allow", "10.0.0.0/8", NULL};
	const char *extra2[] = {"--allow", "10.0.0.0/8", "--allow",
	    "127.0.0.1/32", "--deny", "127.0.0.1", NULL};
	struct testutil_chatd h;

	testutil_chatd_start(&h, "echo", extra);
	int c = testutil_connect(h.port);
	testutil_expect_str(c, "tcpchatd: access denied\n");
	close(c);
	testutil_chatd_stop(&h);
	/* Deny wins over allow. */
	testutil_chatd_start(&h, "echo", extra2);
	c = testutil_connect(h.port);
	testutil_expect_str(c, "tcpchatd: access denied\n");
	close(c);
	testutil_chatd_stop(&h);
}
END_TEST

START_TEST(test_max_per_ip)
{
	const char *extra[] = {"--max-per-ip", "2", NULL};
	struct testutil_chatd h;

	testutil_chatd_start(&h, "echo", extra);
	int a = hard_join(&h), b = hard_join(&h);
	int c = testutil_connect(h.port);
	testutil_expect_str(c,
	    "tcpchatd: too many connections from your "
	    "address (max 2)\n");
	close(c);
	close(a);
	testutil_chatd_expect_sub(&h, "disconnected: closed");
	c = hard_join(&h);
	testutil_send_str(c, "x\n");
	testutil_expect_str(c, "x\n");
	close(b);
	close(c);
	testutil_chatd_stop(&h);
}
END_TEST

START_TEST(test_idle_timeout_closes_only_the_idle)
{
	const char *extra[] = {"--idle-timeout", "2", NULL};
	struct testutil_chatd h;
	int timed_out = 0;

	testutil_chatd_start(&h, "echo", extra);
	int idle = hard_join(&h), busy = hard_join(&h);
	uint64_t start = clock_now_ms();
	/* The busy one talks every 100 ms until the idle one is let go. */
	for (int i = 0; i < 200 && !timed_out; i++) {
		testutil_send_str(busy, "tick\n");
		testutil_expect_str(busy, "tick\n");
		poll(NULL, 0, 100); /* the pace of the busy client */
		timed_out = !testutil_nothing_arrives(idle, 0);
	}
	ck_assert_msg(timed_out, "the idle client was never closed");
	ck_assert_uint_ge(clock_now_ms() - start, 1900);
	testutil_expect_str(idle, "tcpchatd: idle timeout, closing\n");
	ck_assert_int_eq(testutil_wait_eof(idle, testutil_wait_ms(5000)), 1);
	testutil_chatd_expect_sub(&h, "disconnected: idle timeout");
	testutil_send_str(busy, "still here\n");
	testutil_expect_str(busy, "still here\n");
	/* The server itself goes on accepting. */
	int late = testutil_connect(h.port);
	testutil_send_str(late, "late\n");
	testutil_expect_str(late, "late\n");
	close(idle);
	close(busy);
	close(late);
	testutil_chatd_stop(&h);
}
END_TEST

/*
 * Trickles one byte every 5 ms into a line that never ends, for at most
 * 3 s.  Returns 1 if the server closed it with the line-timeout notice;
 * 0 if this process stalled long enough (40 ms) for the server to take
 * the pause as the end of a message, which restarts the line.
 */
static int
hard_trickle(int port)
{
	char buf[256];
	int fd = testutil_connect(port), closed = 0;
	uint64_t start = clock_now_ms(), last = start;

	while (!closed && clock_now_ms() - start < 3000) {
		if (send(fd, "x", 1, MSG_NOSIGNAL) != 1)
			break;
		poll(NULL, 0, 5); /* the trickle's pace */
		uint64_t now = clock_now_ms();
		if (now - last >= 30) {
			close(fd); /* a stall: the server saw a pause */
			return 0;
		}
		last = now;
		closed = !testutil_nothing_arrives(fd, 0);
	}
	size_t got = testutil_read_until(
	    fd, buf, sizeof(buf), "\n", testutil_wait_ms(5000));
	close(fd);
	ck_assert_msg(got > 0 &&
	        strstr(buf,
	            "tcpchatd: error: line not "
	            "completed in time\n") != NULL,
	    "got \"%s\"", buf);
	return 1;
}

START_TEST(test_slowloris_line_deadline)
{
	const char *extra[] = {"--line-timeout", "1", NULL};
	struct testutil_chatd h;
	int done = 0;

	testutil_chatd_start(&h, "chat", extra);
	int other = hard_join(&h);
	for (int attempt = 0; attempt < 5 && !done; attempt++)
		done = hard_trickle(h.port);
	ck_assert_msg(done, "never a trickle without a stall in 5 tries");
	testutil_chatd_expect_sub(&h, "disconnected: line timeout");
	/* The other client was served all along. */
	io_write_full(h.proc.in_fd, "/msg 1 hello\n", 13);
	testutil_expect_str(other, "hello\n");
	close(other);
	testutil_chatd_stop(&h);
}
END_TEST

/*
 * Connects a client that will never read, with a receive buffer as small
 * as the kernel allows, and waits for the console to show it.
 */
static int
hard_join_stuck(struct testutil_chatd *h)
{
	int small = 4096, fd = testutil_connect(h->port);

	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	testutil_chatd_expect_sub(h, "connected (");
	return fd;
}

/*
 * Reads console lines (up to cap bytes each: relayed messages can be
 * long) until one starts with prefix and contains needle.  Fails the
 * test if none comes.
 */
static void
hard_expect_report(struct testutil_chatd *h, const char *prefix,
    const char *needle, size_t cap)
{
	char *line = malloc(cap);
	int found = 0;

	ck_assert_ptr_nonnull(line);
	for (int i = 0; i < 5000 && !found; i++) {
		if (testutil_read_line(
		        h->proc.out_fd, line, cap, testutil_wait_ms(5000)) < 0)
			break;
		found = strncmp(line, prefix, strlen(prefix)) == 0 &&
		    strstr(line, needle) != NULL;
	}
	free(line);
	ck_assert_msg(found, "no \"%s...%s\" on the console", prefix, needle);
}

/*
 * A client that never reads while the operator keeps sending to all:
 * it is dropped when its queue is full, the operator is told what it
 * missed, and the reading client gets everything, promptly.
 */
START_TEST(test_reader_that_never_reads)
{
	/* Room for a few lines: one that reads is never dropped. */
	const char *extra[] = {"--max-queue", "262144", NULL};
	enum { TEXT = 60000, ROUNDS = 200 };
	struct testutil_chatd h;
	char *cmd = malloc(TEXT + 7), *got = malloc(TEXT + 1);

	testutil_chatd_start(&h, "chat", extra);
	int stuck = hard_join_stuck(&h);
	int reader = hard_join(&h);
	/* 12 MB in all: far more than socket buffers and the queue hold. */
	memcpy(cmd, "/all ", 5);
	for (int i = 0; i < TEXT; i++)
		cmd[5 + i] = (char)('a' + i % 26);
	cmd[5 + TEXT] = '\n';
	uint64_t start = clock_now_ms();
	for (int i = 0; i < ROUNDS; i++) {
		ck_assert_int_eq(
		    io_write_full(h.proc.in_fd, cmd, TEXT + 6), TEXT + 6);
		ck_assert_uint_eq(testutil_read_exact(reader, got, TEXT + 1,
		                      testutil_wait_ms(5000)),
		    TEXT + 1);
		ck_assert_mem_eq(got, cmd + 5, TEXT + 1);
	}
	uint64_t took = clock_now_ms() - start;
	ck_assert_msg(took < (uint64_t)testutil_wait_ms(20000),
	    "the reader waited %llu ms", (unsigned long long)took);
	/* The console said whom it could not reach, and dropped it. */
	hard_expect_report(&h, "#1 ", "not delivered", sizeof(h.line));
	testutil_chatd_expect_sub(&h, "disconnected: too slow");
	close(stuck);
	close(reader);
	free(cmd);
	free(got);
	testutil_chatd_stop(&h);
}
END_TEST

/* Room mode: a stuck recipient is dropped and named; the rest get all. */
START_TEST(test_room_relay_to_a_reader_that_never_reads)
{
	/* 300 lines as fast as they go: past any flood limit. */
	const char *extra[] = {
	    "--max-queue", "262144", "--max-rate", "0", NULL};
	enum { TEXT = 30000, ROUNDS = 300 };
	struct testutil_chatd h;
	char *line = malloc(TEXT + 1), *want = malloc(TEXT + 6);
	char *got = malloc(TEXT + 6);

	testutil_chatd_start(&h, "room", extra);
	int sender = hard_join(&h);
	int stuck = hard_join_stuck(&h);
	int reader = hard_join(&h);
	testutil_expect_welcome(reader, 3);
	for (int i = 0; i < TEXT; i++)
		line[i] = (char)('a' + i % 26);
	line[TEXT] = '\n';
	memcpy(want, "#1: ", 4);
	memcpy(want + 4, line, TEXT + 1);
	for (int i = 0, notices = 0; i < ROUNDS; i++) {
		ck_assert_int_eq(
		    io_write_full(sender, line, TEXT + 1), TEXT + 1);
		ssize_t n;
		/* The stuck one's leave may come between two lines. */
		while ((n = testutil_read_line(reader, got, TEXT + 6,
		            testutil_wait_ms(5000))) > 0 &&
		    strncmp(got, "tcpchatd: ", 10) == 0)
			ck_assert_int_lt(++notices, 10);
		ck_assert_int_eq(n, TEXT + 4);
		ck_assert(memcmp(got, want, TEXT + 4) == 0);
	}
	/* Console lines carry #1's long messages: a big buffer. */
	hard_expect_report(&h, "#2 ",
	    "not delivered (client too slow, dropping it): #1: abcdef",
	    4 * TEXT);
	close(sender);
	close(stuck);
	close(reader);
	free(line);
	free(want);
	free(got);
	testutil_chatd_stop(&h);
}
END_TEST

START_TEST(test_reset_while_operator_sends)
{
	struct testutil_chatd h;

	testutil_chatd_start(&h, "chat", NULL);
	int victim = hard_join(&h);
	int other = hard_join(&h);
	io_write_full(h.proc.in_fd, "/to 1\n", 6);
	testutil_chatd_expect_sub(&h, "talking to #1");
	hard_reset(victim);
	/* Send while it goes: it must never reach #2. */
	for (int i = 0; i < 50; i++)
		io_write_full(h.proc.in_fd, "for one only\n", 13);
	/* Its end (the sends before it may say "not delivered"). */
	testutil_chatd_expect_sub(&h, "disconnected:");
	ck_assert_msg(strncmp(h.line, "#1 ", 3) == 0, "%s", h.line);
	io_write_full(h.proc.in_fd, "/msg 1 late\n", 12);
	testutil_chatd_expect_sub(&h, "no such client #1");
	io_write_full(h.proc.in_fd, "/msg 2 marker\n", 14);
	/* The first bytes #2 sees are its own message: nothing leaked. */
	testutil_expect_str(other, "marker\n");
	close(other);
	testutil_chatd_stop(&h);
}
END_TEST

/* Hundreds of connect/close cycles, half of them resets: nothing left. */
START_TEST(test_cycles_leave_nothing_behind)
{
	struct testutil_chatd h;

	testutil_chatd_start(&h, "chat", NULL);
	/* Console up, no client yet: the threads the server always has. */
	io_write_full(h.proc.in_fd, "/help\n", 6);
	testutil_chatd_expect_sub(&h, "commands:");
	int base_threads = testutil_proc_threads(h.proc.pid);
	/* One full cycle first: the accept loop has everything it keeps. */
	close(hard_join(&h));
	testutil_chatd_expect_sub(&h, "(0 online)");
	int base_fds = testutil_proc_fds(h.proc.pid);
	for (int i = 0; i < 300; i++) {
		int fd = testutil_connect(h.port);
		if (i % 3 == 0)
			testutil_send_str(fd, "hello\n");
		if (i % 2)
			hard_reset(fd);
		else
			close(fd);
	}
	uint64_t deadline = clock_now_ms() + (uint64_t)testutil_wait_ms(10000);
	int fds, threads;
	do {
		fds = testutil_proc_fds(h.proc.pid);
		threads = testutil_proc_threads(h.proc.pid);
		if (fds == base_fds && threads == base_threads)
			break;
		poll(NULL, 0, 20); /* polling /proc: nothing to wait on */
	} while (clock_ms_until(deadline) > 0);
	ck_assert_int_eq(fds, base_fds);
	ck_assert_int_eq(threads, base_threads);
	testutil_chatd_stop(&h);
}
END_TEST

struct hard_load {
	int port;
	int ok;
};

/* 20 clients echoing 200 messages each while signals rain on the server. */
static void *
hard_load_main(void *arg)
{
	struct hard_load *l = arg;
	int fds[20];
	char out[100], in[100];

	testutil_connect_many(l->port, 20, fds);
	l->ok = 1;
	for (int m = 0; m < 200 && l->ok; m++) {
		for (int i = 0; i < 20; i++) {
			int n = snprintf(out, sizeof(out), "%d:%d\n", i, m);
			io_write_full(fds[i], out, (size_t)n);
		}
		for (int i = 0; i < 20; i++) {
			int n = snprintf(out, sizeof(out), "%d:%d\n", i, m);
			if (testutil_read_exact(fds[i], in, (size_t)n, 5000) !=
			        (size_t)n ||
			    memcmp(in, out, (size_t)n) != 0)
				l->ok = 0;
		}
	}
	testutil_close_many(20, fds);
	return NULL;
}

START_TEST(test_signals_during_load)
{
	struct testutil_chatd h;
	struct hard_load load;
	pthread_t t;
	const int sigs[] = {SIGUSR1, SIGWINCH, SIGCHLD, SIGCONT, SIGURG};

	testutil_chatd_start(&h, "echo", (const char *const[]){"-q", NULL});
	load.port = h.port;
	ck_assert_int_eq(pthread_create(&t, NULL, hard_load_main, &load), 0);
	for (int i = 0; i < 500; i++) {
		kill(h.proc.pid, sigs[i % 5]);
		if (i % 50 == 0)
			poll(NULL, 0, 2); /* spread them over the run */
	}
	pthread_join(t, NULL);
	ck_assert_msg(load.ok, "a message was lost or damaged");
	testutil_chatd_stop(&h);
}
END_TEST

START_TEST(test_restart_on_same_port)
{
	struct testutil_chatd h;
	char port[16];

	testutil_chatd_start(&h, "echo", NULL);
	int fds[5];
	testutil_connect_many(h.port, 5, fds);
	for (int i = 0; i < 5; i++) {
		testutil_send_str(fds[i], "x\n");
		testutil_expect_str(fds[i], "x\n");
	}
	testutil_chatd_stop(&h); /* it closes first: its side is in TIME_WAIT */
	testutil_close_many(5, fds);
	snprintf(port, sizeof(port), "%d", h.port);
	const char *argv[] = {
	    testutil_program("tcpchatd"), "-m", "echo", "-p", port, NULL};
	testutil_spawn(&h.proc, (char *const *)argv);
	testutil_chatd_expect_sub(&h, "listening on 127.0.0.1:");
	int c = testutil_connect(h.port);
	testutil_send_str(c, "again\n");
	testutil_expect_str(c, "again\n");
	close(c);
	testutil_chatd_stop(&h);
}
END_TEST

START_TEST(test_hostile_bytes_in_room_and_log)
{
	char path[] = "/tmp/check_hardening_logXXXXXX";
	int logfd = mkstemp(path);
	const char *extra[] = {"--log", path, NULL};
	const char *typed_shown = "typed \\\\x1b, real \\x1b, mark \\u061c";
	struct testutil_chatd h;
	char buf[1024];

	ck_assert_int_ge(logfd, 0);
	testutil_chatd_start(&h, "room", extra);
	int a = hard_join(&h), b = hard_join(&h);
	testutil_expect_welcome(a, 1);
	testutil_expect_welcome(b, 2);
	testutil_expect_str(a, "tcpchatd: #2 joined (2 online)\n");
	const char evil[] = "\x1b]0;owned\x07\x1b[2J\x9b"
	                    "2J\rfake\0nul "
	                    "\xe4\xbd\xa0\xe5\xa5\xbd\n";
	io_write_full(a, evil, sizeof(evil) - 1);
	testutil_expect_str(b,
	    "#1: \\x1b]0;owned\\x07\\x1b[2J\\x9b2J\\rfake"
	    "\\x00nul \xe4\xbd\xa0\xe5\xa5\xbd\n");
	testutil_chatd_expect_sub(&h, "#1 127.0.0.1");
	ck_assert_ptr_nonnull(strstr(h.line, "\\x1b]0;owned\\x07"));
	/*
	 * A backslash typed as text is doubled, so the text "\x1b" cannot
	 * pass for an escaped ESC byte; a format character is escaped.
	 */
	testutil_send_str(a, "typed \\x1b, real \x1b, mark \xd8\x9c\n");
	testutil_expect_str(b, "#1: typed \\\\x1b, real \\x1b, mark \\u061c\n");
	testutil_chatd_expect_sub(&h, "#1 127.0.0.1");
	ck_assert_msg(
	    strstr(h.line, typed_shown) != NULL, "console: %s", h.line);
	close(a);
	close(b);
	testutil_chatd_stop(&h);
	ssize_t n = read(logfd, buf, sizeof(buf) - 1);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	ck_assert_ptr_nonnull(strstr(buf, " in: \\x1b]0;owned"));
	ck_assert_msg(strstr(buf, typed_shown) != NULL, "transcript: %s", buf);
	for (ssize_t i = 0; i < n; i++)
		ck_assert_msg(buf[i] == '\n' ||
		        ((unsigned char)buf[i] >= 0x20 && buf[i] != 0x7f),
		    "raw byte 0x%02x in the transcript", (unsigned char)buf[i]);
	close(logfd);
	unlink(path);
}
END_TEST

/*
 * The server's side of a connection has TCP keepalive on: in
 * /proc/net/tcp its timer field ("tr") is 2, the keepalive timer, while
 * the connection is idle (the client's side, without keepalive, has 0).
 */
static int
hard_server_timer(int server_port, int client_port)
{
	char line[512];
	int timer = -1;
	FILE *f = fopen("/proc/net/tcp", "r");

	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		unsigned lport, rport, state, tr;
		if (sscanf(line, " %*d: %*x:%x %*x:%x %x %*x:%*x %x", &lport,
		        &rport, &state, &tr) == 4 &&
		    lport == (unsigned)server_port &&
		    rport == (unsigned)client_port)
			timer = (int)tr;
	}
	fclose(f);
	return timer;
}

START_TEST(test_keepalive_on_accepted_sockets)
{
	struct testutil_chatd h;
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	testutil_chatd_start(&h, "echo", NULL);
	int c = hard_join(&h);
	ck_assert_int_eq(getsockname(c, (struct sockaddr *)&sin, &len), 0);
	ck_assert_int_eq(hard_server_timer(h.port, ntohs(sin.sin_port)), 2);
	close(c);
	testutil_chatd_stop(&h);
}
END_TEST

static Suite *
hardening_suite(void)
{
	Suite *s = suite_create("hardening");
	TCase *tc;

	tc = tcase_create("limits");
	tcase_add_test(tc, test_server_full_then_room_again);
	tcase_add_test(tc, test_max_per_ip);
	tcase_add_test(tc, test_keepalive_on_accepted_sockets);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tc = tcase_create("access");
	tcase_add_test(tc, test_access_denied_reads_nothing);
	tcase_add_test(tc, test_allow_list_admits_only_listed);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tc = tcase_create("timeouts");
	tcase_add_test(tc, test_idle_timeout_closes_only_the_idle);
	tcase_add_test(tc, test_slowloris_line_deadline);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tc = tcase_create("slow_and_broken_clients");
	tcase_add_test(tc, test_reader_that_never_reads);
	tcase_add_test(tc, test_room_relay_to_a_reader_that_never_reads);
	tcase_add_test(tc, test_reset_while_operator_sends);
	tcase_add_test(tc, test_cycles_leave_nothing_behind);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);

	tc = tcase_create("process");
	tcase_add_test(tc, test_signals_during_load);
	tcase_add_test(tc, test_restart_on_same_port);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tc = tcase_create("hostile_bytes");
	tcase_add_test(tc, test_hostile_bytes_in_room_and_log);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(hardening_suite());
	int failed;

	/* A server that closes first must not kill us with SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
