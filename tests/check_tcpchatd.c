/*
 * check_tcpchatd.c - tcpchatd's command line, on the real program: -l
 * with its address forms, -4 and -6, -v and -vv, durations with units.
 * The usage errors themselves are tests/usage.sh's.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "net.h"
#include "testutil.h"

#define LINE_CAP 1024

/*
 * Starts tcpchatd with args (NULL-terminated) and reads its first line
 * into line.  Returns the port it names, or -1 when the first line is
 * not "tcpchatd: listening on ...".
 */
static int
cli_start(struct testutil_proc *p, const char *const args[], char *line)
{
	const char *argv[32];
	int argc = 0;

	argv[argc++] = testutil_program("tcpchatd");
	for (int i = 0; args[i] != NULL && argc < 31; i++)
		argv[argc++] = args[i];
	argv[argc] = NULL;
	testutil_spawn(p, (char *const *)argv);
	if (testutil_read_line(
	        p->out_fd, line, LINE_CAP, testutil_wait_ms(10000)) < 0 ||
	    strncmp(line, "tcpchatd: listening on ", 23) != 0)
		return -1;
	const char *colon = strrchr(line, ':');
	return colon != NULL ? atoi(colon + 1) : -1;
}

/* Stops the server with SIGTERM; it must exit 0. */
static void
cli_stop(struct testutil_proc *p)
{
	int status = testutil_proc_stop(p, SIGTERM, testutil_wait_ms(10000));

	ck_assert_msg(
	    status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "tcpchatd did not exit cleanly: %d", status);
	close(p->in_fd);
	close(p->out_fd);
	close(p->err_fd);
}

/* Whether this machine can listen on ::1 (a container may have no IPv6). */
static int
cli_have_ipv6(void)
{
	int fd = net_listen_family("::1", "0", AF_INET6, 1, NULL);

	if (fd == -1) {
		fprintf(stderr, "no IPv6 on the loopback: test skipped\n");
		return 0;
	}
	close(fd);
	return 1;
}

/* Connects to host:port and checks one echoed line. */
static void
cli_echo_via(const char *host, int port)
{
	char service[16];
	int fd;

	snprintf(service, sizeof(service), "%d", port);
	fd = net_connect(host, service, testutil_wait_ms(5000), NULL);
	ck_assert_msg(fd >= 0, "cannot connect to %s port %d", host, port);
	testutil_send_str(fd, "via the address given\n");
	testutil_expect_str(fd, "via the address given\n");
	close(fd);
}

/*
 * Starts tcpchatd with args, checks that it listens on an address that
 * starts with want ("[::1]:", "127.0.0.1:"), and, when echo_host is not
 * NULL, that an echo through echo_host works.
 */
static void
cli_expect_listening(
    const char *const args[], const char *want, const char *echo_host)
{
	struct testutil_proc p;
	char line[LINE_CAP], prefix[64];

	int port = cli_start(&p, args, line);
	ck_assert_msg(port > 0, "first line: %s", line);
	snprintf(prefix, sizeof(prefix), "tcpchatd: listening on %s", want);
	ck_assert_msg(strncmp(line, prefix, strlen(prefix)) == 0, "%s", line);
	if (echo_host != NULL)
		cli_echo_via(echo_host, port);
	cli_stop(&p);
}

START_TEST(test_listen_bracketed_v6_with_port)
{
	const char *args[] = {"-m", "echo", "-q", "-l", "[::1]:0", NULL};

	if (cli_have_ipv6())
		cli_expect_listening(args, "[::1]:", "::1");
}
END_TEST

START_TEST(test_listen_port_only)
{
	const char *args[] = {"-m", "echo", "-q", "-l", ":0", NULL};

	cli_expect_listening(args, "127.0.0.1:", "127.0.0.1");
}
END_TEST

/* -6 without -l: the IPv6 loopback, not 127.0.0.1. */
START_TEST(test_six_listens_on_v6_loopback)
{
	const char *args[] = {"-6", "-m", "echo", "-q", "-p", "0", NULL};

	if (cli_have_ipv6())
		cli_expect_listening(args, "[::1]:", "::1");
}
END_TEST

/* -4 with an IPv6 address: cannot start, says so, exits 1. */
START_TEST(test_four_with_v6_address_fails)
{
	const char *args[] = {"-4", "-l", "::1", "-p", "0", NULL};
	struct testutil_proc p;
	char line[LINE_CAP], err[LINE_CAP];

	ck_assert_int_eq(cli_start(&p, args, line), -1);
	size_t n = testutil_read_until(
	    p.err_fd, err, sizeof(err), "\n", testutil_wait_ms(5000));
	ck_assert_msg(
	    n > 0 && strncmp(err, "tcpchatd: cannot listen on ::1", 30) == 0,
	    "stderr: %s", err);
	int status = testutil_proc_wait(&p, testutil_wait_ms(5000));
	ck_assert_msg(
	    WIFEXITED(status) && WEXITSTATUS(status) == 1, "status %d", status);
	close(p.in_fd);
	close(p.out_fd);
	close(p.err_fd);
}
END_TEST

/* -4 with a name: its IPv4 address. */
START_TEST(test_four_with_name)
{
	const char *args[] = {
	    "-4", "-m", "echo", "-q", "-l", "localhost:0", NULL};

	cli_expect_listening(args, "127.0.0.1:", NULL);
}
END_TEST

/*
 * -v: the limits after the listening line, and each connection's time
 * and messages when it ends; -vv also the address the client reached.
 */
START_TEST(test_verbose_levels)
{
	const char *args[] = {"-vv", "-l", "127.0.0.1", "-p", "0",
	    "--idle-timeout", "90s", "--line-timeout", "1500ms", NULL};
	struct testutil_proc p;
	char line[LINE_CAP], want[64];

	int port = cli_start(&p, args, line);
	ck_assert_msg(port > 0, "first line: %s", line);
	ck_assert_int_ge(testutil_read_line(p.out_fd, line, sizeof(line),
	                     testutil_wait_ms(5000)),
	    0);
	ck_assert_msg(strncmp(line, "tcpchatd: limits: max-clients ", 30) == 0,
	    "second line: %s", line);
	ck_assert_msg(
	    strstr(line, "idle-timeout 90 s, line-timeout 1.5 s") != NULL, "%s",
	    line);
	int fd = testutil_connect(port);
	snprintf(want, sizeof(want), " accepted on 127.0.0.1:%d", port);
	ck_assert_msg(testutil_wait_line(p.out_fd, want, line, sizeof(line),
	                  testutil_wait_ms(5000)),
	    "no \"%s\"", want);
	ck_assert_msg(strncmp(line, "#1 127.0.0.1:", 13) == 0, "%s", line);
	testutil_send_str(fd, "one\ntwo\n");
	ck_assert(testutil_wait_line(
	    p.out_fd, ": two", line, sizeof(line), testutil_wait_ms(5000)));
	close(fd);
	ck_assert_msg(testutil_wait_line(p.out_fd, " s connected, ", line,
	                  sizeof(line), testutil_wait_ms(5000)),
	    "no per-connection totals");
	ck_assert_msg(strstr(line, "#1 127.0.0.1:") == line, "%s", line);
	ck_assert_msg(
	    strstr(line, " s connected, 2 messages in, 0 out") != NULL, "%s",
	    line);
	cli_stop(&p);
}
END_TEST

/* In echo mode bytes are not messages: -v tells the time only. */
START_TEST(test_verbose_echo)
{
	const char *args[] = {
	    "-v", "-m", "echo", "-l", "127.0.0.1", "-p", "0", NULL};
	struct testutil_proc p;
	char line[LINE_CAP];

	int port = cli_start(&p, args, line);
	ck_assert_msg(port > 0, "first line: %s", line);
	cli_echo_via("127.0.0.1", port);
	ck_assert_msg(testutil_wait_line(p.out_fd, " s connected", line,
	                  sizeof(line), testutil_wait_ms(5000)),
	    "no per-connection time");
	ck_assert_msg(strstr(line, "message") == NULL, "%s", line);
	cli_stop(&p);
}
END_TEST

/* Without -v none of that. */
START_TEST(test_not_verbose)
{
	const char *args[] = {"-l", "127.0.0.1", "-p", "0", NULL};
	struct testutil_proc p;
	char line[LINE_CAP];

	int port = cli_start(&p, args, line);
	ck_assert_msg(port > 0, "first line: %s", line);
	int fd = testutil_connect(port);
	ck_assert(testutil_wait_line(p.out_fd, " connected (1 online)", line,
	    sizeof(line), testutil_wait_ms(5000)));
	ck_assert_msg(strstr(line, "accepted") == NULL, "%s", line);
	close(fd);
	ck_assert(testutil_wait_line(p.out_fd, " disconnected: ", line,
	    sizeof(line), testutil_wait_ms(5000)));
	/* The next lines are the shutdown's, not a -v total. */
	kill(p.pid, SIGTERM);
	ck_assert_int_ge(testutil_read_line(p.out_fd, line, sizeof(line),
	                     testutil_wait_ms(5000)),
	    0);
	ck_assert_str_eq(line, "tcpchatd: shutting down");
	ck_assert_int_ge(testutil_read_line(p.out_fd, line, sizeof(line),
	                     testutil_wait_ms(5000)),
	    0);
	ck_assert_str_eq(line, "tcpchatd: stopped");
	cli_stop(&p);
}
END_TEST

/* --idle-timeout 300ms: a unit below a second gets through. */
START_TEST(test_idle_timeout_in_ms)
{
	const char *args[] = {"-m", "echo", "-q", "-l", "127.0.0.1", "-p", "0",
	    "--idle-timeout", "300ms", NULL};
	struct testutil_proc p;
	char line[LINE_CAP], buf[256];

	int port = cli_start(&p, args, line);
	ck_assert_msg(port > 0, "first line: %s", line);
	int fd = testutil_connect(port);
	uint64_t start = clock_now_ms();
	testutil_read_until(
	    fd, buf, sizeof(buf), "closing\n", testutil_wait_ms(10000));
	uint64_t took = clock_now_ms() - start;
	ck_assert_str_eq(buf, "tcpchatd: idle timeout, closing\n");
	/* Not the second a bare "300" would have meant... */
	ck_assert_msg(
	    took >= 250, "closed after %llu ms", (unsigned long long)took);
	ck_assert(testutil_wait_eof(fd, testutil_wait_ms(5000)));
	close(fd);
	cli_stop(&p);
}
END_TEST

static Suite *
tcpchatd_suite(void)
{
	Suite *s = suite_create("tcpchatd");
	TCase *tc;

	tc = tcase_create("addresses");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_listen_bracketed_v6_with_port);
	tcase_add_test(tc, test_listen_port_only);
	tcase_add_test(tc, test_six_listens_on_v6_loopback);
	tcase_add_test(tc, test_four_with_v6_address_fails);
	tcase_add_test(tc, test_four_with_name);
	suite_add_tcase(s, tc);

	tc = tcase_create("verbose");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_verbose_levels);
	tcase_add_test(tc, test_verbose_echo);
	tcase_add_test(tc, test_not_verbose);
	suite_add_tcase(s, tc);

	tc = tcase_create("durations");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_idle_timeout_in_ms);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(tcpchatd_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
