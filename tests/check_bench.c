/*
 * check_bench.c - the engine against in-process servers on 127.0.0.1:
 * an honest echo (200 connections, everything verified) and servers
 * that corrupt a byte, drop a line or close early, each of which must
 * be reported as what it is; then the program itself.
 */
#include "config.h"

#include <sys/resource.h>
#include <sys/wait.h>
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench-report.h"
#include "bench.h"
#include "net.h"
#include "testutil.h"

#define SIZE 64

static struct testutil_server server;
static struct bench_options opts;
static struct bench_result *result;
static char port[16];
static char why[256];

/* Options for a run against server, small enough for TSan. */
static void
prepare(enum testutil_behaviour behaviour, size_t fault_at)
{
	testutil_server_start(&server, behaviour);
	testutil_server_set_fault(&server, fault_at);
	snprintf(port, sizeof(port), "%d", server.port);
	bench_options_defaults(&opts);
	opts.port = port;
	opts.threads = 2;
	opts.connections = 10;
	opts.messages = 10;
	opts.size = SIZE;
	opts.timeout = 10;
	result = malloc(sizeof(*result));
	ck_assert_ptr_nonnull(result);
}

static void
finish(void)
{
	testutil_server_stop(&server);
	free(result);
}

static void
run(void)
{
	ck_assert_msg(
	    bench_run(&opts, result, NULL, NULL, why, sizeof(why)) == 0,
	    "bench_run: %s", why);
}

/* Each message sent ends up in exactly one of the outcomes. */
static void
assert_accounted(void)
{
	const struct payload_counts *k = &result->counts;

	ck_assert_uint_eq(
	    result->sent, k->verified + k->corrupt + k->lost + k->reordered);
}

/* The text summary, for looking at what it names. */
static char *summary(void);

/*
 * The run found errors: every message is accounted for, the result is
 * not OK and the summary's last line is verdict.  Ends the test.
 */
static void
assert_failed_with(const char *verdict)
{
	assert_accounted();
	ck_assert_int_eq(bench_result_ok(result), 0);
	char *text = summary();
	ck_assert_msg(
	    strstr(text, verdict) != NULL, "no \"%s\" in:\n%s", verdict, text);
	free(text);
	finish();
}

/* The text summary, for looking at what it names. */
static char *
summary(void)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	ck_assert_ptr_nonnull(f);
	bench_report_text(f, &opts, result);
	fclose(f);
	return text;
}

START_TEST(test_echo_200_connections)
{
	prepare(TESTUTIL_ECHO, 0);
	opts.connections = 200;
	opts.messages = 20;
	run();
	ck_assert_uint_eq(result->connected, 200);
	ck_assert_uint_eq(result->connect_failed, 0);
	ck_assert_uint_eq(result->sent, 200 * 20);
	ck_assert_uint_eq(result->received, 200 * 20);
	ck_assert_uint_eq(result->counts.verified, 200 * 20);
	ck_assert_uint_eq(result->measured, 200 * 20);
	ck_assert_uint_eq(histogram_count(&result->latency), 200 * 20);
	ck_assert_uint_gt(histogram_min(&result->latency), 0);
	ck_assert(result->seconds > 0);
	ck_assert_int_eq(bench_result_ok(result), 1);
	char *text = summary();
	ck_assert_ptr_nonnull(strstr(text, "200 established, 0 failed"));
	ck_assert_ptr_nonnull(strstr(text, "errors       none"));
	ck_assert_ptr_nonnull(strstr(text, "OK: all 4000 messages verified"));
	free(text);
	finish();
}
END_TEST

START_TEST(test_echo_pipelined_with_warmup)
{
	prepare(TESTUTIL_ECHO, 0);
	opts.connections = 20;
	opts.in_flight = 4;
	opts.warmup = 3;
	opts.messages = 50;
	opts.size = 100;
	run();
	ck_assert_uint_eq(result->counts.verified, 20 * 53);
	ck_assert_uint_eq(result->measured, 20 * 50);
	ck_assert_uint_eq(histogram_count(&result->latency), 20 * 50);
	ck_assert_int_eq(bench_result_ok(result), 1);
	finish();
}
END_TEST

START_TEST(test_echo_open_loop)
{
	prepare(TESTUTIL_ECHO, 0);
	opts.connections = 10;
	opts.messages = 20;
	opts.rate = 2000; /* 200 messages: about 0.1 s */
	opts.connect_rate = 1000;
	run();
	ck_assert_uint_eq(result->counts.verified, 200);
	ck_assert_uint_eq(histogram_count(&result->latency), 200);
	ck_assert_int_eq(bench_result_ok(result), 1);
	/* The schedule, not the server, sets the pace. */
	ck_assert(result->seconds >= 0.09);
	finish();
}
END_TEST

START_TEST(test_echo_duration)
{
	prepare(TESTUTIL_ECHO, 0);
	opts.connections = 8;
	opts.duration = 0.3;
	run();
	ck_assert_uint_gt(result->counts.verified, 0);
	ck_assert_uint_eq(result->counts.verified, result->sent);
	ck_assert(result->seconds >= 0.3);
	ck_assert_int_eq(bench_result_ok(result), 1);
	finish();
}
END_TEST

START_TEST(test_corrupting_server)
{
	/* Byte 10 of every connection's fourth message. */
	prepare(TESTUTIL_CORRUPT, 3 * SIZE + 10);
	run();
	ck_assert_uint_eq(result->connected, 10);
	ck_assert_uint_eq(result->counts.corrupt, 10);
	ck_assert_uint_eq(result->counts.verified, 90);
	ck_assert_uint_eq(result->counts.lost, 0);
	assert_failed_with("FAILED: 10 corrupt\n");
}
END_TEST

START_TEST(test_dropping_server_pipelined)
{
	/* Line 3 of each connection vanishes; 4 shows the gap. */
	prepare(TESTUTIL_DROP_LINE, 3);
	opts.in_flight = 4;
	run();
	ck_assert_uint_eq(result->counts.lost, 10);
	ck_assert_uint_eq(result->counts.verified, 90);
	ck_assert_uint_eq(result->timed_out, 0);
	assert_failed_with("FAILED: 10 lost\n");
}
END_TEST

START_TEST(test_dropping_server_closed_loop)
{
	/* One in flight: the reply never comes, the timeout says so. */
	prepare(TESTUTIL_DROP_LINE, 3);
	opts.connections = 4;
	opts.timeout = 0.3;
	run();
	ck_assert_uint_eq(result->counts.lost, 4);
	ck_assert_uint_eq(result->counts.verified, 12);
	ck_assert_uint_eq(result->timed_out, 4);
	assert_failed_with("FAILED: 4 connections timed out, 4 lost\n");
}
END_TEST

START_TEST(test_server_closing_early)
{
	/* Two messages and 10 bytes of the third, then the close. */
	prepare(TESTUTIL_CLOSE_EARLY, 2 * SIZE + 10);
	run();
	ck_assert_uint_eq(result->closed_early, 10);
	ck_assert_uint_eq(result->counts.verified, 20);
	ck_assert_uint_eq(result->counts.lost, 10);
	ck_assert_uint_eq(result->sent, 30);
	assert_failed_with("FAILED: 10 connections closed early, 10 lost\n");
}
END_TEST

START_TEST(test_nobody_listening)
{
	struct bench_result *r = malloc(sizeof(*r));
	int gai, fd = net_listen("127.0.0.1", "0", 1, &gai);

	ck_assert_ptr_nonnull(r);
	ck_assert_int_ge(fd, 0);
	snprintf(port, sizeof(port), "%d", net_local_port(fd));
	close(fd);
	bench_options_defaults(&opts);
	opts.port = port;
	ck_assert_int_eq(bench_run(&opts, r, NULL, NULL, why, sizeof(why)), -1);
	ck_assert_ptr_nonnull(strstr(why, "cannot connect to 127.0.0.1"));
	ck_assert_ptr_nonnull(strstr(why, "refused"));
	free(r);
}
END_TEST

START_TEST(test_options_checked)
{
	bench_options_defaults(&opts);
	ck_assert_int_eq(bench_options_check(&opts, why, sizeof(why)), 0);
	opts.size = 27;
	ck_assert_int_eq(bench_options_check(&opts, why, sizeof(why)), -1);
	ck_assert_ptr_nonnull(strstr(why, "size"));
	bench_options_defaults(&opts);
	opts.in_flight = 0;
	ck_assert_int_eq(bench_options_check(&opts, why, sizeof(why)), -1);
	bench_options_defaults(&opts);
	opts.connections = 0;
	ck_assert_int_eq(bench_options_check(&opts, why, sizeof(why)), -1);
}
END_TEST

START_TEST(test_file_limit)
{
	struct rlimit rl;
	uint64_t limit;

	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	ck_assert_int_eq(bench_raise_nofile(100, 2, &limit), 0);
	ck_assert_uint_ge(limit, 100);
	if (rl.rlim_max == RLIM_INFINITY || rl.rlim_max > 900000)
		return;
	errno = 0;
	ck_assert_int_eq(
	    bench_raise_nofile((unsigned)rl.rlim_max, 2, &limit), -1);
	ck_assert_int_eq(errno, EMFILE);
	ck_assert_uint_eq(limit, rl.rlim_max);
}
END_TEST

/* Runs tcpchat-bench with args; its exit status and standard output. */
static int
run_program(const char *const args[], char *out, size_t cap)
{
	const char *argv[32];
	struct testutil_proc p;
	int argc = 0, status;
	size_t got = 0;

	argv[argc++] = testutil_program("tcpchat-bench");
	for (int i = 0; args[i] != NULL && argc < 31; i++)
		argv[argc++] = args[i];
	argv[argc] = NULL;
	testutil_spawn(&p, (char *const *)argv);
	out[0] = '\0';
	/* Read to end of file: the program exits when done. */
	for (;;) {
		size_t n = testutil_read_until(
		    p.out_fd, out + got, cap - got, "\x01", 30000);
		if (n == 0)
			break;
		got += n;
	}
	status = testutil_proc_wait(&p, 30000);
	ck_assert_int_ne(status, -1);
	ck_assert(WIFEXITED(status));
	return WEXITSTATUS(status);
}

START_TEST(test_program_reports_corruption)
{
	static char out[8192];
	char portarg[16];

	testutil_server_start(&server, TESTUTIL_CORRUPT);
	testutil_server_set_fault(&server, SIZE + 5);
	snprintf(portarg, sizeof(portarg), "%d", server.port);
	const char *args[] = {
	    "-q", "-c", "5", "-n", "4", "-t", "1", "127.0.0.1", portarg, NULL};
	ck_assert_int_eq(run_program(args, out, sizeof(out)), 1);
	ck_assert_ptr_nonnull(strstr(out, "errors       5 corrupt\n"));
	ck_assert_ptr_nonnull(strstr(out, "FAILED: 5 corrupt\n"));
	testutil_server_stop(&server);
}
END_TEST

START_TEST(test_program_json)
{
	static char out[8192];
	char portarg[16];

	testutil_server_start(&server, TESTUTIL_ECHO);
	snprintf(portarg, sizeof(portarg), "%d", server.port);
	const char *args[] = {"--json", "-c", "3", "-n", "5", "-s", "40",
	    "127.0.0.1", portarg, NULL};
	ck_assert_int_eq(run_program(args, out, sizeof(out)), 0);
	ck_assert_int_eq(out[0], '{');
	ck_assert_ptr_nonnull(strstr(out, "\"connections\":3,"));
	ck_assert_ptr_nonnull(strstr(out, "\"size\":40,"));
	ck_assert_ptr_nonnull(strstr(out, "\"verified\":15,"));
	ck_assert_ptr_nonnull(strstr(out, "\"ok\":true"));
	ck_assert_ptr_nonnull(strstr(out, "\"p99.9\":"));
	ck_assert_ptr_null(
	    strchr(out, '\n') == out + strlen(out) - 1 ? NULL : out);
	testutil_server_stop(&server);
}
END_TEST

START_TEST(test_program_usage)
{
	static char out[8192];
	const char *help[] = {"--help", NULL};
	const char *version[] = {"--version", NULL};
	const char *bad[] = {"-s", "10", NULL};
	const char *many[] = {"-c", "999999", NULL};

	ck_assert_int_eq(run_program(help, out, sizeof(out)), 0);
	ck_assert_ptr_nonnull(strstr(out, "--in-flight"));
	ck_assert_int_eq(run_program(version, out, sizeof(out)), 0);
	ck_assert_ptr_nonnull(strstr(out, "tcpchat-bench (tcpchat) "));
	ck_assert_int_eq(run_program(bad, out, sizeof(out)), 2);
	/* Far more connections than any descriptor limit here allows. */
	struct rlimit rl;
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < 999999)
		ck_assert_int_eq(run_program(many, out, sizeof(out)), 2);
}
END_TEST

static Suite *
bench_suite(void)
{
	Suite *s = suite_create("bench");
	TCase *tc;

	tc = tcase_create("echo");
	tcase_add_test(tc, test_echo_200_connections);
	tcase_add_test(tc, test_echo_pipelined_with_warmup);
	tcase_add_test(tc, test_echo_open_loop);
	tcase_add_test(tc, test_echo_duration);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	tc = tcase_create("faults");
	tcase_add_test(tc, test_corrupting_server);
	tcase_add_test(tc, test_dropping_server_pipelined);
	tcase_add_test(tc, test_dropping_server_closed_loop);
	tcase_add_test(tc, test_server_closing_early);
	tcase_add_test(tc, test_nobody_listening);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	tc = tcase_create("limits");
	tcase_add_test(tc, test_options_checked);
	tcase_add_test(tc, test_file_limit);
	suite_add_tcase(s, tc);
	tc = tcase_create("program");
	tcase_add_test(tc, test_program_reports_corruption);
	tcase_add_test(tc, test_program_json);
	tcase_add_test(tc, test_program_usage);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(bench_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
