/* check_io.c - full-length writes and reads: short counts, EINTR, EPIPE. */
#include "config.h"

#include <sys/socket.h>
#include <sys/time.h>
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io.h"
#include "net.h"
#include "testutil.h"

#define IO_BIG (4u << 20) /* far more than a socket buffer holds */

struct io_reader {
	int fd;
	char *buf;
	size_t len;
	size_t got;
};

/* Reads in small pieces so the writer meets many short counts. */
static void *
io_slow_reader(void *arg)
{
	struct io_reader *r = arg;

	while (r->got < r->len) {
		size_t want = r->len - r->got < 1000 ? r->len - r->got : 1000;
		ssize_t n = io_read_some(r->fd, r->buf + r->got, want);
		if (n <= 0)
			break;
		r->got += (size_t)n;
	}
	return NULL;
}

static void
io_check_big_write(int nonblocking)
{
	int sv[2];
	char *out = malloc(IO_BIG), *in = malloc(IO_BIG);
	struct io_reader r = {.buf = in, .len = IO_BIG};
	pthread_t t;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	for (size_t i = 0; i < IO_BIG; i++)
		out[i] = (char)(i * 13 + i / 251);
	if (nonblocking)
		ck_assert_int_eq(net_set_nonblock(sv[0], 1), 0);
	r.fd = sv[1];
	ck_assert_int_eq(pthread_create(&t, NULL, io_slow_reader, &r), 0);
	ck_assert_int_eq(io_write_full(sv[0], out, IO_BIG), (ssize_t)IO_BIG);
	pthread_join(t, NULL);
	ck_assert_uint_eq(r.got, IO_BIG);
	ck_assert_mem_eq(in, out, IO_BIG);
	close(sv[0]);
	close(sv[1]);
	free(out);
	free(in);
}

START_TEST(test_write_full_short_counts)
{
	io_check_big_write(0);
}
END_TEST

START_TEST(test_write_full_nonblocking)
{
	io_check_big_write(1);
}
END_TEST

START_TEST(test_write_to_closed_peer_no_sigpipe)
{
	struct testutil_server srv;
	char buf[65536];
	int fd;
	ssize_t rc = 0;

	/* SIGPIPE left at its default would kill this test process. */
	signal(SIGPIPE, SIG_DFL);
	testutil_server_start(&srv, TESTUTIL_CLOSE_EARLY);
	srv.close_after = 1;
	fd = testutil_connect(srv.port);
	testutil_send_str(fd, "x");
	ck_assert_int_eq(testutil_wait_eof(fd, 5000), 1);
	memset(buf, 'a', sizeof(buf));
	for (int i = 0; i < 50 && rc != -1; i++)
		rc = io_write_full(fd, buf, sizeof(buf));
	ck_assert_int_eq(rc, -1);
	ck_assert_msg(errno == EPIPE || errno == ECONNRESET, "errno %d", errno);
	close(fd);
	testutil_server_stop(&srv);
}
END_TEST

static volatile sig_atomic_t io_alarms;

static void
io_on_alarm(int sig)
{
	(void)sig;
	io_alarms++;
}

/* Writes the message in pieces, slowly, while SIGALRM keeps arriving. */
static void *
io_trickle_writer(void *arg)
{
	int fd = *(int *)arg;

	for (int i = 0; i < 10; i++) {
		io_write_full(fd, "0123456789", 10);
		usleep(20000); /* the pace of the trickle, not a wait */
	}
	return NULL;
}

START_TEST(test_read_full_survives_eintr)
{
	struct sigaction sa;
	struct itimerval it = {{0, 5000}, {0, 5000}};
	char buf[100];
	int sv[2];
	pthread_t t;
	sigset_t block;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = io_on_alarm; /* no SA_RESTART: reads see EINTR */
	sigaction(SIGALRM, &sa, NULL);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	/* The alarms go to this thread, which is blocked in reads. */
	sigemptyset(&block);
	sigaddset(&block, SIGALRM);
	pthread_sigmask(SIG_BLOCK, &block, NULL);
	ck_assert_int_eq(
	    pthread_create(&t, NULL, io_trickle_writer, &sv[1]), 0);
	pthread_sigmask(SIG_UNBLOCK, &block, NULL);
	setitimer(ITIMER_REAL, &it, NULL);
	ssize_t n = io_read_full(sv[0], buf, sizeof(buf));
	memset(&it, 0, sizeof(it));
	setitimer(ITIMER_REAL, &it, NULL);
	pthread_join(t, NULL);
	ck_assert_int_eq(n, 100);
	for (int i = 0; i < 100; i++)
		ck_assert_int_eq(buf[i], '0' + i % 10);
	ck_assert_int_gt(io_alarms, 0);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(test_read_full_short_at_eof)
{
	char buf[64];
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(io_write_full(sv[1], "abc\0def", 7), 7);
	shutdown(sv[1], SHUT_WR);
	ck_assert_int_eq(io_read_full(sv[0], buf, sizeof(buf)), 7);
	ck_assert_mem_eq(buf, "abc\0def", 7);
	/* A read of 0 bytes means closed: it does not loop. */
	ck_assert_int_eq(io_read_full(sv[0], buf, sizeof(buf)), 0);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

static Suite *
io_suite(void)
{
	Suite *s = suite_create("io");
	TCase *tc;

	tc = tcase_create("write_full");
	tcase_add_test(tc, test_write_full_short_counts);
	tcase_add_test(tc, test_write_full_nonblocking);
	tcase_add_test(tc, test_write_to_closed_peer_no_sigpipe);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tc = tcase_create("read_full");
	tcase_add_test(tc, test_read_full_survives_eintr);
	tcase_add_test(tc, test_read_full_short_at_eof);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(io_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
