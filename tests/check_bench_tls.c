/*
 * check_bench_tls.c - the load generator over TLS: bench_run against
 * tcpchatd --tls-cert (closed loop, pipelined large messages, open
 * loop), the real tcpchat-bench --tls against tcpchatd and against
 * ncat --ssl -l -k --exec /bin/cat, every message verified and the
 * handshake's percentiles in the JSON; certificates that do not verify
 * stop the run with the reason.
 */
#include "config.h"

#include <sys/wait.h>
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench-report.h"
#include "bench.h"
#include "clock.h"
#include "testutil.h"
#include "tls.h"

/* A tcpchatd -m echo serving TLS with the certificate crt. */
static void
tls_chatd(struct testutil_chatd *d, const char *crt)
{
	char pem[64], key[64];

	snprintf(pem, sizeof(pem), "%s.pem", crt);
	snprintf(key, sizeof(key), "%s.key", crt);
	const char *extra[] = {"-q", "--tls-cert", testutil_cert(pem),
	    "--tls-key", testutil_cert(key), NULL};
	testutil_chatd_start(d, "echo", extra);
}

/* ---- the engine ------------------------------------------------------ */

static struct bench_options opts;
static struct bench_result result;
static char port[16], why[256];

/* Options for n connections over TLS to 127.0.0.1:p, the test's CA. */
static void
prepare(int p, unsigned n)
{
	snprintf(port, sizeof(port), "%d", p);
	bench_options_defaults(&opts);
	opts.host = "127.0.0.1";
	opts.port = port;
	opts.connections = n;
	opts.threads = 2;
	opts.timeout = 10;
	opts.tls = 1;
	opts.tls_options.ca_file = testutil_cert("ca.pem");
}

/* Runs; every message must have been verified. */
static void
run_ok(void)
{
	ck_assert_msg(bench_run(&opts, &result, NULL, why, sizeof(why)) == 0,
	    "bench_run: %s", why);
	ck_assert_msg(bench_result_ok(&result), "errors: %llu, first: %s",
	    (unsigned long long)bench_result_errors(&result),
	    result.connect_error);
	ck_assert_uint_eq(result.connected, opts.connections);
	ck_assert_str_eq(result.tls_version, "TLSv1.3");
	/* One handshake timed for each connection, apart from connect. */
	ck_assert_uint_eq(histogram_count(&result.handshake), opts.connections);
	ck_assert_uint_eq(histogram_count(&result.connect), opts.connections);
	ck_assert_uint_gt(histogram_percentile(&result.handshake, 50), 0);
}

START_TEST(test_closed_loop)
{
	struct testutil_chatd d;

	tls_chatd(&d, "server");
	prepare(d.port, 50);
	opts.messages = 40;
	run_ok();
	ck_assert_uint_eq(result.counts.verified, 50 * 40);
	bench_result_free(&result);
	testutil_chatd_stop(&d);
}
END_TEST

START_TEST(test_pipelined_large_messages)
{
	struct testutil_chatd d;

	/* 16 messages of 100 kB in flight: records, partial sends. */
	tls_chatd(&d, "server");
	prepare(d.port, 8);
	opts.messages = 30;
	opts.size = 100000;
	opts.in_flight = 16;
	opts.warmup = 2;
	run_ok();
	ck_assert_uint_eq(result.counts.verified, 8 * 32);
	ck_assert_uint_eq(result.measured, 8 * 30);
	bench_result_free(&result);
	testutil_chatd_stop(&d);
}
END_TEST

START_TEST(test_open_loop)
{
	struct testutil_chatd d;

	tls_chatd(&d, "server");
	prepare(d.port, 20);
	opts.duration = 1;
	opts.rate = 2000;
	run_ok();
	ck_assert_uint_gt(result.counts.verified, 1000);
	ck_assert_int_eq(bench_result_rate_missed(&result), 0);
	bench_result_free(&result);
	testutil_chatd_stop(&d);
}
END_TEST

/* The run does not start: the probe's handshake says why. */
static void
expect_setup_error(const char *crt, const char *ca, const char *reason)
{
	struct testutil_chatd d;
	char want[256];

	tls_chatd(&d, crt);
	prepare(d.port, 5);
	opts.host = "localhost";
	opts.tls_options.ca_file = testutil_cert(ca);
	ck_assert_int_eq(bench_run(&opts, &result, NULL, why, sizeof(why)), -1);
	snprintf(want, sizeof(want),
	    "TLS handshake with localhost port %d failed: %s", d.port, reason);
	ck_assert_str_eq(why, want);
	testutil_chatd_stop(&d);
}

START_TEST(test_certificates_verified)
{
	expect_setup_error("expired", "ca.pem", "certificate has expired");
	expect_setup_error("wrongname", "ca.pem", "hostname mismatch");
	expect_setup_error("server", "other-ca.pem",
	    "unknown issuer (unable to get local issuer certificate)");
	/* Insecure: the same expired one is taken. */
	struct testutil_chatd d;
	tls_chatd(&d, "expired");
	prepare(d.port, 5);
	opts.tls_options.ca_file = NULL;
	opts.tls_options.insecure = 1;
	opts.messages = 5;
	run_ok();
	bench_result_free(&result);
	testutil_chatd_stop(&d);
}
END_TEST

START_TEST(test_plain_server_fails_each_handshake)
{
	struct testutil_server plain;

	/* A plain echo server echoes the ClientHello: the probe fails. */
	testutil_server_start(&plain, TESTUTIL_ECHO);
	prepare(plain.port, 3);
	ck_assert_int_eq(bench_run(&opts, &result, NULL, why, sizeof(why)), -1);
	ck_assert_msg(
	    strncmp(why, "TLS handshake with 127.0.0.1 port ", 34) == 0, "%s",
	    why);
	testutil_server_stop(&plain);
}
END_TEST

/* ---- the program ------------------------------------------------------ */

/* What tcpchat-bench printed and how it ended. */
static char out[1 << 20], err[8192];

static int
run_program(const char *const args[])
{
	const char *argv[40] = {testutil_program("tcpchat-bench")};
	struct testutil_proc p;
	int n = 1;

	for (int i = 0; args[i] != NULL && n < 39; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	testutil_spawn(&p, (char *const *)argv);
	close(p.in_fd);
	int ws = testutil_proc_collect(
	    &p, out, sizeof(out), err, sizeof(err), testutil_wait_ms(60000));
	return WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
}

/*
 * The JSON document of a TLS run, checked by Python's parser: every
 * message verified, the handshake's own distribution with a value per
 * connection, its buckets, the protocol.
 */
static const char json_tls[] =
    "import json, sys\n"
    "d = json.loads(sys.stdin.read())\n"
    "n, msgs, insecure = int(sys.argv[1]), int(sys.argv[2]), "
    "sys.argv[3] == '1'\n"
    "assert d['ok'] is True, d['error_summary']\n"
    "assert d['options']['tls'] is True\n"
    "assert d['options']['tls_insecure'] is insecure\n"
    "assert d['tls'] == {'version': 'TLSv1.3', 'verified': not insecure}, "
    "d['tls']\n"
    "assert d['connections']['established'] == n\n"
    "assert d['messages']['verified'] == n * msgs, d['messages']\n"
    "h = d['handshake_ns']\n"
    "assert h['count'] == n, h\n"
    "for k in ('p50', 'p90', 'p99', 'p99_9', 'min', 'max'):\n"
    "    assert isinstance(h[k], int) and h[k] > 0, (k, h)\n"
    "assert h['p50'] <= h['p99'] <= h['max']\n"
    "assert d['histograms']['handshake']['count'] == n\n"
    "assert d['connect_ns']['count'] == n\n";

/* Checks the JSON in out with json_tls. */
static void
check_json(int n, int msgs, int insecure)
{
	char ns[16], ms[16], in[4];
	struct testutil_proc p;
	static char pout[4096], perr[8192];

	snprintf(ns, sizeof(ns), "%d", n);
	snprintf(ms, sizeof(ms), "%d", msgs);
	snprintf(in, sizeof(in), "%d", insecure);
	const char *argv[] = {
	    "/usr/bin/env", "python3", "-c", json_tls, ns, ms, in, NULL};
	testutil_spawn(&p, (char *const *)argv);
	testutil_send_str(p.in_fd, out);
	close(p.in_fd);
	int ws = testutil_proc_collect(&p, pout, sizeof(pout), perr,
	    sizeof(perr), testutil_wait_ms(30000));
	ck_assert_msg(WIFEXITED(ws) && WEXITSTATUS(ws) == 0,
	    "JSON check failed: %s%.1500s", pout, perr);
}

START_TEST(test_program_against_tcpchatd)
{
	struct testutil_chatd d;
	char target[32];

	tls_chatd(&d, "server");
	snprintf(target, sizeof(target), "localhost:%d", d.port);
	const char *args[] = {"-q", "--json", "--tls", "--tls-ca",
	    testutil_cert("ca.pem"), "-c", "100", "-n", "20", target, NULL};
	ck_assert_msg(run_program(args) == 0, "%s%.1000s", err, out);
	check_json(100, 20, 0);
	/* The text summary names the protocol and the handshake. */
	const char *text[] = {"-q", "--tls", "--tls-ca",
	    testutil_cert("ca.pem"), "-c", "3", "-n", "5", target, NULL};
	ck_assert_int_eq(run_program(text), 0);
	ck_assert_msg(strstr(out, " over TLSv1.3: 3 connections") != NULL &&
	        strstr(out, "\n  handshake    p50 ") != NULL &&
	        strstr(out, "OK: all 15 messages verified") != NULL,
	    "%s", out);
	/* A certificate that does not verify: one line, exit 1. */
	const char *other[] = {"-q", "--tls", "--tls-ca",
	    testutil_cert("other-ca.pem"), "-c", "3", "-n", "5", target, NULL};
	ck_assert_int_eq(run_program(other), 1);
	char want[256];
	snprintf(want, sizeof(want),
	    "tcpchat-bench: TLS handshake with localhost port %d failed: "
	    "unknown issuer (unable to get local issuer certificate)\n",
	    d.port);
	ck_assert_str_eq(err, want);
	testutil_chatd_stop(&d);
}
END_TEST

START_TEST(test_program_against_ncat)
{
	struct testutil_proc ncat;
	char portarg[16], target[32];
	int p;

	if (testutil_find_in_path("ncat") == NULL) {
		puts("ncat not installed: test_program_against_ncat skipped");
		return;
	}
	p = testutil_free_port();
	snprintf(portarg, sizeof(portarg), "%d", p);
	const char *argv[] = {"ncat", "--ssl", "--ssl-cert",
	    testutil_cert("server.pem"), "--ssl-key",
	    testutil_cert("server.key"), "-l", "-k", "127.0.0.1", portarg,
	    "--exec", "/bin/cat", NULL};
	testutil_spawn(&ncat, (char *const *)argv);
	ck_assert(testutil_wait_listening(p, testutil_wait_ms(10000)));
	snprintf(target, sizeof(target), "127.0.0.1:%d", p);
	/* ncat forks a cat per connection: a few at a time. */
	const char *args[] = {"-q", "--json", "--tls", "--tls-insecure", "-c",
	    "20", "--connect-rate", "200", "-n", "10", "-T", "10s", target,
	    NULL};
	ck_assert_msg(run_program(args) == 0, "%s%.1000s", err, out);
	check_json(20, 10, 1);
	close(ncat.in_fd);
	testutil_proc_stop(&ncat, SIGTERM, testutil_wait_ms(5000));
}
END_TEST

START_TEST(test_program_usage)
{
	const char *const bad[][6] = {{"--tls-ca", "ca.pem", NULL},
	    {"--tls-insecure", NULL},
	    {"--tls", "--tls-insecure", "--tls-ca", "ca.pem", NULL},
	    {"--tls", "--tls-servername", "", NULL}};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(run_program(bad[i]) == 2, "case %zu: %s", i, err);
		ck_assert_ptr_nonnull(
		    strstr(err, "Try 'tcpchat-bench --help'."));
	}
}
END_TEST

static Suite *
bench_tls_suite(void)
{
	Suite *s = suite_create("bench_tls");
	TCase *tc = tcase_create("engine");

	tcase_add_unchecked_fixture(tc, testutil_certs_setup, NULL);
	tcase_add_test(tc, test_closed_loop);
	tcase_add_test(tc, test_pipelined_large_messages);
	tcase_add_test(tc, test_open_loop);
	tcase_add_test(tc, test_certificates_verified);
	tcase_add_test(tc, test_plain_server_fails_each_handshake);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);

	tc = tcase_create("program");
	tcase_add_unchecked_fixture(tc, testutil_certs_setup, NULL);
	tcase_add_test(tc, test_program_against_tcpchatd);
	tcase_add_test(tc, test_program_against_ncat);
	tcase_add_test(tc, test_program_usage);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return testutil_run_tls_suite("check_bench_tls", bench_tls_suite());
}
