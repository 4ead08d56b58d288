/*
 * check_faults.c - tcpchatd's server code run in-process, with faults
 * injected: thread creation failing (pthread_create interposed at link
 * time with --wrap) and the descriptor table running out (EMFILE).
 */
#include "config.h"

#include <sys/resource.h>
#include <sys/socket.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "io.h"
#include "server.h"
#include "testutil.h"

/* ---- pthread_create, interposed ------------------------------------ */

int __real_pthread_create(
    pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
int __wrap_pthread_create(
    pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);

static atomic_int faults_fail_threads;
/*
 * FAULTS_SLOW_FAILURE: the failing call first says so in
 * faults_failing and holds until the test sets faults_release (or 10 s
 * pass), so the test can act while a refused client is half admitted.
 */
#define FAULTS_SLOW_FAILURE 2
static atomic_int faults_failing, faults_release;

int
__wrap_pthread_create(pthread_t *thread, const pthread_attr_t *attr,
    void *(*fn)(void *), void *arg)
{
	int fail = atomic_load(&faults_fail_threads);

	if (fail == FAULTS_SLOW_FAILURE) {
		atomic_store(&faults_failing, 1);
		for (int i = 0; i < 1000 && !atomic_load(&faults_release); i++)
			poll(NULL, 0, 10); /* the test's turn: a flag to poll */
	}
	if (fail)
		return EAGAIN;
	return __real_pthread_create(thread, attr, fn, arg);
}

/* ---- a server in a thread of this process ---------------------------- */

struct faults_server {
	struct server_config cfg;
	pthread_t thread;
	int console_in; /* we write the operator's lines here */
	int console_out; /* and read the console from here */
	int port;
	int status;
	char line[4096];
};

static void *
faults_server_main(void *arg)
{
	struct faults_server *fs = arg;

	fs->status = server_run(&fs->cfg, 2);
	return NULL;
}

static void
faults_server_start(struct faults_server *fs, enum server_mode mode)
{
	int in[2], out[2];

	ck_assert_int_eq(pipe2(in, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
	server_config_defaults(&fs->cfg);
	fs->cfg.port = "0";
	fs->cfg.mode = mode;
	fs->cfg.drain_ms = 500;
	fs->cfg.console_fd = in[0];
	fs->cfg.console_out_fd = out[1];
	fs->console_in = in[1];
	fs->console_out = out[0];
	ck_assert_int_eq(
	    pthread_create(&fs->thread, NULL, faults_server_main, fs), 0);
	ck_assert_msg(testutil_wait_line(fs->console_out, "listening on",
	                  fs->line, sizeof(fs->line), testutil_wait_ms(5000)),
	    "server did not start");
	fs->port = atoi(strrchr(fs->line, ':') + 1);
	ck_assert_int_gt(fs->port, 0);
	/* Console thread and accept loop both running before any fault. */
	io_write_full(fs->console_in, "/help\n", 6);
	ck_assert(testutil_wait_line(fs->console_out, "commands:", fs->line,
	    sizeof(fs->line), testutil_wait_ms(5000)));
	int probe = testutil_connect(fs->port);
	ck_assert(testutil_wait_line(fs->console_out, "connected (1 online)",
	    fs->line, sizeof(fs->line), testutil_wait_ms(5000)));
	close(probe);
	ck_assert(testutil_wait_line(fs->console_out, "(0 online)", fs->line,
	    sizeof(fs->line), testutil_wait_ms(5000)));
}

static void
faults_expect(struct faults_server *fs, const char *needle)
{
	ck_assert_msg(testutil_wait_line(fs->console_out, needle, fs->line,
	                  sizeof(fs->line), testutil_wait_ms(5000)),
	    "console never said \"%s\"", needle);
}

static void
faults_server_stop(struct faults_server *fs)
{
	/* SIGTERM is unblocked only in the server's accept-loop wait. */
	pthread_kill(fs->thread, SIGTERM);
	pthread_join(fs->thread, NULL);
	ck_assert_int_eq(fs->status, 0);
}

START_TEST(test_thread_creation_fails)
{
	struct faults_server fs;

	faults_server_start(&fs, SERVER_CHAT);
	atomic_store(&faults_fail_threads, 1);
	int refused = testutil_connect(fs.port);
	testutil_expect_str(refused,
	    "tcpchatd: error: cannot serve more "
	    "clients now, try again later\n");
	ck_assert_int_eq(testutil_wait_eof(refused, testutil_wait_ms(5000)), 1);
	close(refused);
	faults_expect(&fs, "refused: cannot start a thread");
	atomic_store(&faults_fail_threads, 0);

	/* The next client is served, and the counts are right. */
	int ok = testutil_connect(fs.port);
	faults_expect(&fs, "connected (1 online)");
	testutil_send_str(ok, "hello\n");
	faults_expect(&fs, ": hello");
	io_write_full(fs.console_in, "/list\n", 6);
	faults_expect(&fs, "client");
	ck_assert_str_eq(fs.line, "1 client online");
	io_write_full(fs.console_in, "reply\n", 6);
	testutil_expect_str(ok, "reply\n");
	close(ok);
	faults_expect(&fs, "disconnected: closed (0 online)");
	faults_server_stop(&fs);
}
END_TEST

/*
 * A client refused because no thread could be had is told so, and hears
 * nothing else: not what the room said while it was half admitted (in
 * the registry, its thread failing to start).
 */
START_TEST(test_refused_client_hears_nothing_of_the_room)
{
	struct faults_server fs;

	faults_server_start(&fs, SERVER_ROOM);
	int talker = testutil_connect(fs.port);
	faults_expect(&fs, "connected (1 online)");
	int listener = testutil_connect(fs.port);
	faults_expect(&fs, "connected (2 online)");
	char buf[256];
	/* Joined: (the probe's leave may reach it too, just before). */
	testutil_read_until(talker, buf, sizeof(buf), "tcpchatd: #3 joined",
	    testutil_wait_ms(5000));
	ck_assert_msg(strstr(buf, "tcpchatd: #3 joined (2 online)\n") != NULL,
	    "talker got \"%s\"", testutil_visible(buf, strlen(buf)));
	atomic_store(&faults_fail_threads, FAULTS_SLOW_FAILURE);
	int refused = testutil_connect(fs.port);
	uint64_t deadline = clock_now_ms() + (uint64_t)testutil_wait_ms(5000);
	while (!atomic_load(&faults_failing) && clock_ms_until(deadline) > 0)
		poll(NULL, 0, 5); /* a flag set by the accept loop */
	ck_assert_msg(atomic_load(&faults_failing), "no thread was started");
	/* The room talks while the refused one is half admitted... */
	testutil_send_str(talker, "for members only\n");
	testutil_send_str(talker, "done\n");
	testutil_read_until(
	    listener, buf, sizeof(buf), "#2: done\n", testutil_wait_ms(5000));
	ck_assert_msg(strstr(buf, "#2: for members only\n#2: done\n") != NULL,
	    "listener got \"%s\"", testutil_visible(buf, strlen(buf)));
	/* ...and the first message had gone to everyone it was going to. */
	atomic_store(&faults_release, 1);
	testutil_expect_str(refused,
	    "tcpchatd: error: cannot serve more "
	    "clients now, try again later\n");
	ck_assert_int_eq(testutil_wait_eof(refused, testutil_wait_ms(5000)), 1);
	faults_expect(&fs, "refused: cannot start a thread");
	atomic_store(&faults_fail_threads, 0);
	close(refused);
	close(talker);
	close(listener);
	faults_server_stop(&fs);
}
END_TEST

START_TEST(test_out_of_descriptors)
{
	struct faults_server fs;
	struct rlimit rl = {64, 64};
	int fillers[64], nfill = 0;

	/* A small table that cannot be raised again. */
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	faults_server_start(&fs, SERVER_ECHO);
	while (nfill < 64 &&
	    (fillers[nfill] = open("/dev/null", O_RDONLY | O_CLOEXEC)) != -1)
		nfill++;
	ck_assert_int_eq(errno, EMFILE);

	/* Room for our socket only: the server has none for its side. */
	close(fillers[--nfill]);
	struct timespec cpu0, cpu1;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu0);
	int turned_away = testutil_connect(fs.port);
	testutil_expect_str(turned_away,
	    "tcpchatd: server busy (out of "
	    "descriptors), try again later\n");
	ck_assert_int_eq(
	    testutil_wait_eof(turned_away, testutil_wait_ms(5000)), 1);
	faults_expect(&fs, "out of file descriptors");
	/* Half a second with the table full: no busy loop in accept. */
	poll(NULL, 0, 500);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu1);
	double cpu = (double)(cpu1.tv_sec - cpu0.tv_sec) +
	    (double)(cpu1.tv_nsec - cpu0.tv_nsec) / 1e9;
	ck_assert_msg(
	    cpu < 0.25, "%.3f s of CPU while out of descriptors", cpu);
	close(turned_away);

	/* Descriptors free again: service resumes. */
	while (nfill > 0)
		close(fillers[--nfill]);
	int served = testutil_connect(fs.port);
	testutil_send_str(served, "back\n");
	testutil_expect_str(served, "back\n");
	close(served);
	faults_server_stop(&fs);
}
END_TEST

static Suite *
faults_suite(void)
{
	Suite *s = suite_create("faults");
	TCase *tc;

	tc = tcase_create("threads");
	tcase_add_test(tc, test_thread_creation_fails);
	tcase_add_test(tc, test_refused_client_hears_nothing_of_the_room);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tc = tcase_create("descriptors");
	tcase_add_test(tc, test_out_of_descriptors);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(faults_suite());
	int failed;

	/* Each test changes process-wide state: keep them in children. */
	srunner_set_fork_status(sr, CK_FORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
