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
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench-json.h"
#include "bench-report.h"
#include "bench.h"
#include "clock.h"
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
	bench_result_free(result);
	free(result);
}

static void
run(void)
{
	ck_assert_msg(bench_run(&opts, result, NULL, why, sizeof(why)) == 0,
	    "bench_run: %s", why);
}

/* Each message sent ends up in exactly one of the outcomes. */
static void
assert_accounted(void)
{
	const struct payload_counts *k = &result->counts;

	ck_assert_uint_eq(result->sent,
	    k->verified + k->corrupt + k->lost + k->reordered +
	        result->outstanding);
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
	ck_assert_int_eq(bench_run(&opts, r, NULL, why, sizeof(why)), -1);
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

/* What a run of the program left: status, output, time taken. */
struct program_run {
	int status; /* exit status, or 128 + the signal that ended it */
	int signal; /* the signal that ended it, or 0 */
	double seconds; /* from start to exit */
	char out[65536];
	char err[8192];
};

static struct program_run run_out;

/* Starts tcpchat-bench with args (NULL-terminated) into p. */
static void
start_program(struct testutil_proc *p, const char *const args[])
{
	const char *argv[40];
	int argc = 0;

	argv[argc++] = testutil_program("tcpchat-bench");
	for (int i = 0; args[i] != NULL && argc < 39; i++)
		argv[argc++] = args[i];
	argv[argc] = NULL;
	testutil_spawn(p, (char *const *)argv);
}

/* Collects what a started program writes until it exits, into *r. */
static void
finish_program(struct testutil_proc *p, uint64_t started, struct program_run *r)
{
	int status = testutil_proc_collect(p, r->out, sizeof(r->out), r->err,
	    sizeof(r->err), testutil_wait_ms(60000));

	r->seconds = (double)(clock_now_ms() - started) / 1000.0;
	r->signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
	r->status =
	    WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Runs tcpchat-bench with args to the end; its exit status. */
static int
run_program(const char *const args[])
{
	struct testutil_proc p;
	uint64_t started = clock_now_ms();

	start_program(&p, args);
	finish_program(&p, started, &run_out);
	return run_out.status;
}

/* The server as one operand: "127.0.0.1:PORT". */
static const char *
server_addr(void)
{
	static char buf[32];

	snprintf(buf, sizeof(buf), "127.0.0.1:%d", server.port);
	return buf;
}

/* The server's port alone, for "HOST PORT". */
static const char *
server_port(void)
{
	static char buf[16];

	snprintf(buf, sizeof(buf), "%d", server.port);
	return buf;
}

/* Room for the name of a file save() writes. */
#define SAVED_PATH_MAX 96
/* Files saved in one process (each test, when Check forks). */
#define SAVED_FILES 16

static char saved[SAVED_FILES][SAVED_PATH_MAX];
static int nsaved;

/* Removes what save() wrote, when the test's process exits. */
static void
remove_saved(void)
{
	for (int i = 0; i < nsaved; i++)
		unlink(saved[i]);
}

/*
 * Writes text into a temporary file named after name (removed when the
 * test ends); its path, in a buffer of its own for each name.
 */
static const char *
save(const char *text, const char *name)
{
	char *path = NULL;
	char want[SAVED_PATH_MAX];

	snprintf(
	    want, sizeof(want), "/tmp/check_bench-%d-%s", (int)getpid(), name);
	for (int i = 0; i < nsaved && path == NULL; i++)
		if (strcmp(saved[i], want) == 0)
			path = saved[i];
	if (path == NULL) {
		ck_assert_int_lt(nsaved, SAVED_FILES);
		if (nsaved == 0)
			atexit(remove_saved);
		path = saved[nsaved++];
		snprintf(path, SAVED_PATH_MAX, "%s", want);
	}
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fputs(text, f) >= 0, 1);
	ck_assert_int_eq(fclose(f), 0);
	return path;
}

/*
 * Runs a Python check (a real JSON parser) on the files: it must exit
 * 0; what it says on failure becomes the test's failure message.
 */
static void
python_check(const char *script, const char *file1, const char *file2)
{
	const char *argv[] = {
	    "/usr/bin/env", "python3", "-c", script, file1, file2, NULL};
	struct testutil_proc p;
	static char out[4096], err[8192];

	if (file2 == NULL)
		argv[5] = NULL;
	testutil_spawn(&p, (char *const *)argv);
	int status = testutil_proc_collect(
	    &p, out, sizeof(out), err, sizeof(err), testutil_wait_ms(30000));
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "python check failed (%#x): %s%s", status, out, err);
}

/* A usage error: exit 2, nothing on stdout, two lines on stderr. */
static void
assert_usage_error(const char *const args[], const char *named)
{
	ck_assert_int_eq(run_program(args), 2);
	ck_assert_str_eq(run_out.out, "");
	char *lf = strchr(run_out.err, '\n');
	ck_assert_msg(
	    lf != NULL && strncmp(run_out.err, "tcpchat-bench: ", 15) == 0,
	    "stderr: %s", run_out.err);
	ck_assert_msg(strstr(run_out.err, named) != NULL &&
	        strstr(run_out.err, named) < lf,
	    "first line does not name '%s': %s", named, run_out.err);
	ck_assert_str_eq(lf + 1, "Try 'tcpchat-bench --help'.\n");
}

START_TEST(test_program_reports_corruption)
{
	testutil_server_start(&server, TESTUTIL_CORRUPT);
	testutil_server_set_fault(&server, SIZE + 5);
	const char *args[] = {"-q", "-c", "5", "-n", "4", "-t", "1",
	    "127.0.0.1", server_port(), NULL};
	ck_assert_int_eq(run_program(args), 1);
	ck_assert_ptr_nonnull(strstr(run_out.out, "errors       5 corrupt\n"));
	ck_assert_ptr_nonnull(strstr(run_out.out, "FAILED: 5 corrupt\n"));
	/* One in four wrong is not "does not echo". */
	ck_assert_ptr_null(strstr(run_out.out, "does not appear"));
	testutil_server_stop(&server);
}
END_TEST

/* The document's fields, one by one, by Python's own JSON parser. */
static const char json_fields[] =
    "import json, re, sys\n"
    "def pairs(kv):\n"
    "    keys = [k for k, _ in kv]\n"
    "    assert len(keys) == len(set(keys)), 'duplicate key in %s' % keys\n"
    "    return dict(kv)\n"
    "text = open(sys.argv[1]).read()\n"
    "assert text.endswith('}\\n') and text.count('\\n') == 1, 'one line'\n"
    "d = json.loads(text, object_pairs_hook=pairs)\n"
    "port = int(sys.argv[2])\n"
    "num = (int, float)\n"
    "assert d['schema'] == 1 and d['program'] == 'tcpchat-bench'\n"
    "assert re.match(r'^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z$',"
    " d['start']), d['start']\n"
    "assert d['interrupted'] is False\n"
    "assert d['target'] == {'host': '127.0.0.1', 'port': port,"
    " 'address': '127.0.0.1:%d' % port, 'family': 'IPv4'}, d['target']\n"
    "o = d['options']\n"
    "assert o['connections'] == 3 and o['messages'] == 5 and o['size'] == 40\n"
    "assert o['percentiles'] == [50, 90, 99, 99.9, 99.99], o\n"
    "assert all(isinstance(o[k], num) for k in ('duration', 'rate',"
    " 'timeout', 'interval', 'in_flight', 'warmup', 'threads'))\n"
    "assert d['connections']['established'] == 3\n"
    "assert d['connections']['failed'] == 0\n"
    "assert d['connections']['first_error'] is None\n"
    "assert d['messages'] == {'sent': 15, 'received': 15, 'verified': 15,"
    " 'measured': 15, 'outstanding': 0}, d['messages']\n"
    "assert set(d['errors'].values()) == {0}, d['errors']\n"
    "assert d['schedule'] is None\n"
    "for k in ('seconds', 'warmup_seconds', 'msgs_per_sec', 'mb_per_sec'):\n"
    "    assert isinstance(d[k], num) and d[k] >= 0, k\n"
    "assert d['msgs_per_sec'] > 0\n"
    "lat = d['latency_ns']\n"
    "assert lat['count'] == 15\n"
    "keys = ['p50', 'p90', 'p99', 'p99_9', 'p99_99']\n"
    "assert all(isinstance(lat[k], int) for k in keys), lat\n"
    "assert lat['min'] <= lat['p50'] <= lat['p99_99'] <= lat['max']\n"
    "assert [p['percentile'] for p in lat['percentiles']] =="
    " [50, 90, 99, 99.9, 99.99]\n"
    "assert [p['ns'] for p in lat['percentiles']] == [lat[k] for k in keys]\n"
    "assert lat['mean'] > 0 and lat['stddev'] >= 0\n"
    "assert d['connect_ns']['count'] == 3\n"
    "assert o['tls'] is False and o['tls_insecure'] is False, o\n"
    "assert d['tls'] is None\n"
    "assert d['handshake_ns']['count'] == 0\n"
    "assert d['handshake_ns']['p50'] is None\n"
    "assert d['histograms']['handshake']['count'] == 0\n"
    "assert isinstance(d['timeline'], list) and d['timeline_dropped'] == 0\n"
    "h = d['histograms']\n"
    "assert h['layout'] == {'name': 'log-linear', 'sub_bucket_bits': 7,"
    " 'buckets': 7424, 'unit': 'ns'}, h['layout']\n"
    "for name, n in (('latency', 15), ('connect', 3)):\n"
    "    b = h[name]\n"
    "    assert b['count'] == n and sum(c for _, _, c in b['buckets']) == n\n"
    "    assert all(lo <= hi for lo, hi, _ in b['buckets'])\n"
    "    assert b['buckets'][0][1] >= b['min'] and b['max'] >= b['min']\n"
    "assert h['latency']['min'] == lat['min']\n"
    "assert h['latency']['max'] == lat['max']\n"
    "assert abs(h['latency']['sum'] / 15 - lat['mean']) < 1\n"
    "assert d['notes'] == [] and d['ok'] is True\n"
    "assert d['error_summary'] == 'none'\n";

START_TEST(test_program_json)
{
	char portarg[16];

	testutil_server_start(&server, TESTUTIL_ECHO);
	snprintf(portarg, sizeof(portarg), "%d", server.port);
	const char *args[] = {"--json", "-c", "3", "-n", "5", "-s", "40",
	    "--percentiles", "99.99,50,90,99,99.9,50", "127.0.0.1", portarg,
	    NULL};
	ck_assert_int_eq(run_program(args), 0);
	python_check(json_fields, save(run_out.out, "run.json"), portarg);
	testutil_server_stop(&server);
}
END_TEST

START_TEST(test_program_json_error)
{
	int gai, fd = net_listen("127.0.0.1", "0", 1, &gai);
	char addr[32];

	ck_assert_int_ge(fd, 0);
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", net_local_port(fd));
	close(fd);
	const char *args[] = {"--json", "-q", addr, NULL};
	ck_assert_int_eq(run_program(args), 1);
	python_check("import json, sys\n"
	             "text = open(sys.argv[1]).read()\n"
	             "d = json.loads(text)\n"
	             "assert list(d) == ['error'], d\n"
	             "assert d['error'].startswith("
	             "'cannot connect to 127.0.0.1 port '), d\n"
	             "assert 'refused' in d['error'], d\n"
	             "assert text.count('\\n') == 1\n",
	    save(run_out.out, "error.json"), NULL);
	ck_assert_msg(
	    strncmp(run_out.err, "tcpchat-bench: cannot connect", 29) == 0,
	    "stderr: %s", run_out.err);
}
END_TEST

START_TEST(test_program_usage)
{
	const char *help[] = {"--help", NULL};
	const char *version[] = {"--version", NULL};
	const char *many[] = {"-c", "999999", NULL};

	ck_assert_int_eq(run_program(help), 0);
	ck_assert_ptr_nonnull(strstr(run_out.out, "--in-flight"));
	ck_assert_ptr_nonnull(strstr(run_out.out, "--merge"));
	ck_assert_int_eq(run_program(version), 0);
	ck_assert_ptr_nonnull(strstr(run_out.out, "tcpchat-bench (tcpchat) "));

	/* Each bad value: one line naming it, then the hint. */
	const char *bad_size[] = {"-s", "10", NULL};
	assert_usage_error(bad_size, "'10'");
	const char *zero_port[] = {"127.0.0.1:0", NULL};
	assert_usage_error(zero_port, "0");
	const char *big_port[] = {"127.0.0.1:70000", NULL};
	assert_usage_error(big_port, "70000");
	const char *word_port[] = {"127.0.0.1", "echo", NULL};
	assert_usage_error(word_port, "'echo'");
	const char *v6_port[] = {"[::1]:99999", NULL};
	assert_usage_error(v6_port, "99999");
	const char *twice[] = {"127.0.0.1:9", "9", NULL};
	assert_usage_error(twice, "twice");
	const char *count[] = {"-c", "lots", NULL};
	assert_usage_error(count, "'lots'");
	const char *dur[] = {"-d", "10x", NULL};
	assert_usage_error(dur, "'10x'");
	const char *timeout[] = {"-T", "0", NULL};
	assert_usage_error(timeout, "-T");
	const char *rate[] = {"-r", "fast", NULL};
	assert_usage_error(rate, "'fast'");
	const char *pct[] = {"--percentiles", "50,,99", NULL};
	assert_usage_error(pct, "50,,99");
	const char *pct0[] = {"--percentiles", "0", NULL};
	assert_usage_error(pct0, "'0'");
	const char *interval[] = {"--interval", "5ms", NULL};
	assert_usage_error(interval, "'5ms'");
	const char *unknown[] = {"--bogus", NULL};
	assert_usage_error(unknown, "'--bogus'");
	const char *letter[] = {"-x", NULL};
	assert_usage_error(letter, "'-x'");
	const char *missing[] = {"-c", NULL};
	assert_usage_error(missing, "'-c'");
	const char *families[] = {"-4", "-6", NULL};
	assert_usage_error(families, "-6");
	const char *nothing[] = {"--merge", NULL};
	assert_usage_error(nothing, "--merge");

	/* Far more connections than any descriptor limit here allows. */
	struct rlimit rl;
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < 999999)
		ck_assert_int_eq(run_program(many), 2);
}
END_TEST

START_TEST(test_program_addresses)
{
	struct testutil_server v6;

	testutil_server_start(&server, TESTUTIL_ECHO);
	/* HOST:PORT, as tcpchatd prints it, with units on -d and -T. */
	const char *colon[] = {
	    "-q", "-c", "2", "-d", "300ms", "-T", "2s", server_addr(), NULL};
	ck_assert_int_eq(run_program(colon), 0);
	char header[64];
	snprintf(header, sizeof(header), "tcpchat-bench %s: 2 ", server_addr());
	ck_assert_ptr_nonnull(strstr(run_out.out, header));
	ck_assert_ptr_nonnull(strstr(run_out.out, ", 0.3 s, "));
	/* HOST PORT, and -4 with a name. */
	const char *pair[] = {
	    "-q", "-4", "-c", "1", "-n", "3", "localhost", server_port(), NULL};
	ck_assert_int_eq(run_program(pair), 0);
	ck_assert_ptr_nonnull(strstr(run_out.out, "OK: all 3 messages"));
	/* -6 against an IPv4 literal: no address to try. */
	const char *six[] = {"-q", "-6", server_addr(), NULL};
	ck_assert_int_eq(run_program(six), 1);
	ck_assert_ptr_nonnull(strstr(run_out.err, "no IPv6 address"));
	testutil_server_stop(&server);

	/* [V6ADDR]:PORT, where this machine has IPv6 at all. */
	if (testutil_server_start_on(&v6, "::1", TESTUTIL_ECHO) == -1)
		return;
	char addr[64];
	snprintf(addr, sizeof(addr), "[::1]:%d", v6.port);
	const char *bracket[] = {
	    "-q", "-v", "-c", "2", "-n", "4", "--json", addr, NULL};
	ck_assert_int_eq(run_program(bracket), 0);
	ck_assert_ptr_nonnull(strstr(run_out.out, "\"family\":\"IPv6\""));
	ck_assert_ptr_nonnull(strstr(run_out.out, "\"host\":\"::1\""));
	/* -v: the connection details, under the program's own name. */
	ck_assert_ptr_nonnull(strstr(run_out.err, "tcpchat-bench: ::1 port "));
	ck_assert_ptr_nonnull(strstr(run_out.err, "(IPv6): connected in "));
	testutil_server_stop(&v6);
}
END_TEST

/* Counts the timeline rows ("  1.0 s ...") in text. */
static int
timeline_rows(const char *text)
{
	int rows = 0;

	for (const char *line = text; line != NULL && *line != '\0';) {
		double t;
		char unit[4];
		if (sscanf(line, "%lf %3s", &t, unit) == 2 &&
		    strcmp(unit, "s") == 0)
			rows++;
		line = strchr(line, '\n');
		line = line != NULL ? line + 1 : NULL;
	}
	return rows;
}

START_TEST(test_program_timeline)
{
	testutil_server_start(&server, TESTUTIL_ECHO);
	/* Into a pipe, rows only when --interval asks for them. */
	const char *plain[] = {
	    "-q", "-c", "2", "-d", "500ms", server_addr(), NULL};
	ck_assert_int_eq(run_program(plain), 0);
	ck_assert_int_eq(timeline_rows(run_out.out), 0);

	const char *args[] = {"-q", "-c", "4", "-d", "2s", "--interval",
	    "250ms", server_addr(), NULL};
	ck_assert_int_eq(run_program(args), 0);
	int rows = timeline_rows(run_out.out);
	/* One every 250 ms of the 2 s, the connecting and draining aside. */
	ck_assert_msg(rows >= 8 && rows <= (int)(run_out.seconds / 0.25) + 1,
	    "%d rows in %.2f s:\n%s", rows, run_out.seconds, run_out.out);
	ck_assert_ptr_nonnull(strstr(run_out.out,
	    "     time     msgs/s        p50        p99        max  errors"
	    "    open\n"));

	/* The JSON's timeline: the same rows, in order, with every field. */
	const char *json[] = {"-q", "-c", "4", "-d", "1s", "--interval",
	    "200ms", "--json", server_addr(), NULL};
	ck_assert_int_eq(run_program(json), 0);
	python_check(
	    "import json, sys\n"
	    "d = json.load(open(sys.argv[1]))\n"
	    "rows = d['timeline']\n"
	    "assert 5 <= len(rows) <= 7, len(rows)\n"
	    "assert all(set(r) == {'t', 'seconds', 'msgs_per_sec', 'latencies',"
	    " 'p50_ns', 'p99_ns', 'max_ns', 'errors', 'open'} for r in rows)\n"
	    "assert all(a['t'] < b['t'] for a, b in zip(rows, rows[1:]))\n"
	    "assert sum(r['latencies'] for r in rows) == "
	    "d['latency_ns']['count']\n"
	    "assert all(r['errors'] == 0 for r in rows)\n"
	    "busy = [r for r in rows if r['latencies']]\n"
	    "assert busy and all(r['p50_ns'] <= r['p99_ns'] <= r['max_ns']"
	    " for r in busy)\n"
	    "# Until -d runs out (connecting took a little of the 1 s):\n"
	    "during = [r for r in rows if r['t'] <= 0.8]\n"
	    "assert during and all(r['open'] == 4 and r['msgs_per_sec'] > 0"
	    " for r in during), during\n",
	    save(run_out.out, "timeline.json"), NULL);
	testutil_server_stop(&server);
}
END_TEST

/* Parses "  messages     S sent, R received, V verified". */
static void
summary_counts(const char *text, unsigned long *sent, unsigned long *verified)
{
	unsigned long received;
	const char *line = strstr(text, "  messages     ");

	ck_assert_ptr_nonnull(line);
	ck_assert_int_eq(sscanf(line,
	                     " messages %lu sent, %lu received, %lu "
	                     "verified",
	                     sent, &received, verified),
	    3);
}

START_TEST(test_program_interrupt)
{
	struct testutil_proc p;
	char line[512];
	uint64_t started = clock_now_ms();
	unsigned long sent, verified;

	testutil_server_start(&server, TESTUTIL_ECHO);
	const char *args[] = {"-q", "-c", "8", "-d", "60s", "--interval",
	    "100ms", server_addr(), NULL};
	start_program(&p, args);
	/* Two timeline rows: it is well into its run. */
	ck_assert(testutil_wait_line(p.out_fd, "     time ", line, sizeof(line),
	    testutil_wait_ms(10000)));
	ck_assert(testutil_wait_line(
	    p.out_fd, " s ", line, sizeof(line), testutil_wait_ms(10000)));
	ck_assert(testutil_wait_line(
	    p.out_fd, " s ", line, sizeof(line), testutil_wait_ms(10000)));
	ck_assert_int_eq(kill(p.pid, SIGINT), 0);
	finish_program(&p, started, &run_out);
	ck_assert_msg(run_out.status == 0, "status %d: %s%s", run_out.status,
	    run_out.out, run_out.err);
	ck_assert(run_out.seconds < 30);
	ck_assert_ptr_nonnull(strstr(run_out.out, "  interrupted  "));
	ck_assert_ptr_nonnull(strstr(run_out.out, "errors       none\n"));
	summary_counts(run_out.out, &sent, &verified);
	/* sent = verified + lost + outstanding, with none lost here. */
	ck_assert_uint_gt(verified, 0);
	ck_assert_uint_eq(sent, verified);
	char ok[64];
	snprintf(ok, sizeof(ok),
	    "OK: all %lu messages verified (interrupted)\n", verified);
	ck_assert_ptr_nonnull(strstr(run_out.out, ok));

	/* The same with --json and SIGTERM: the document says so. */
	const char *json[] = {"-q", "-c", "8", "-d", "60s", "--json",
	    "--interval", "100ms", server_addr(), NULL};
	size_t before = testutil_server_echoed(&server);
	started = clock_now_ms();
	start_program(&p, json);
	/* Sending: messages come back, so connections are established. */
	uint64_t deadline = clock_now_ms() + (uint64_t)testutil_wait_ms(10000);
	while (testutil_server_echoed(&server) < before + 100 * SIZE &&
	    clock_ms_until(deadline) > 0)
		poll(NULL, 0, 10);
	ck_assert_uint_ge(testutil_server_echoed(&server), before + 100 * SIZE);
	ck_assert_int_eq(kill(p.pid, SIGTERM), 0);
	finish_program(&p, started, &run_out);
	ck_assert_int_eq(run_out.status, 0);
	python_check("import json, sys\n"
	             "d = json.load(open(sys.argv[1]))\n"
	             "m, e = d['messages'], d['errors']\n"
	             "assert d['interrupted'] is True and d['ok'] is True\n"
	             "assert m['sent'] == m['verified'] + e['lost'] + "
	             "e['corrupt'] + e['reordered'] + m['outstanding'], d\n",
	    save(run_out.out, "interrupted.json"), NULL);
	testutil_server_stop(&server);
}
END_TEST

START_TEST(test_program_interrupt_twice)
{
	struct testutil_proc p;
	char line[512];
	uint64_t started = clock_now_ms();

	/* Nothing ever comes back: the first Ctrl-C would wait 60 s. */
	testutil_server_start(&server, TESTUTIL_SILENT);
	const char *args[] = {"-q", "-c", "3", "-n", "5", "-T", "60s",
	    "--interval", "100ms", server_addr(), NULL};
	start_program(&p, args);
	/* A row with all three open: they are waiting for replies. */
	uint64_t deadline = clock_now_ms() + (uint64_t)testutil_wait_ms(10000);
	int waiting = 0;
	while (!waiting && clock_ms_until(deadline) > 0) {
		ssize_t n = testutil_read_line(
		    p.out_fd, line, sizeof(line), clock_ms_until(deadline));
		ck_assert_int_ge(n, 0);
		size_t len = strlen(line);
		waiting = len > 8 && strstr(line, " s ") != NULL &&
		    strcmp(line + len - 8, "       3") == 0;
	}
	ck_assert(waiting);
	ck_assert_int_eq(kill(p.pid, SIGINT), 0);
	/* The second only once the first is seen: signals do not queue. */
	ck_assert(testutil_wait_line(p.err_fd,
	    "tcpchat-bench: interrupted: sending stopped, waiting at most 60 "
	    "s for the replies outstanding; interrupt again to quit at once",
	    line, sizeof(line), testutil_wait_ms(10000)));
	ck_assert_int_eq(kill(p.pid, SIGINT), 0);
	finish_program(&p, started, &run_out);
	ck_assert_int_eq(run_out.signal, SIGINT);
	ck_assert(run_out.seconds < 30);
	ck_assert_ptr_null(strstr(run_out.out, "FAILED"));
	ck_assert_ptr_null(strstr(run_out.out, "OK:"));
	testutil_server_stop(&server);
}
END_TEST

/* The merged figures are those its buckets give, and add up. */
static const char merge_check[] =
    "import json, sys\n"
    "runs = [json.load(open(f)) for f in sys.argv[1].split(',')]\n"
    "m = json.load(open(sys.argv[2]))\n"
    "a, b, twice = runs\n"
    "assert m['schema'] == 1 and len(m['runs']) == 2\n"
    "for k in ('sent', 'received', 'verified', 'measured'):\n"
    "    assert m['messages'][k] == a['messages'][k] + b['messages'][k], k\n"
    "    assert m['messages'][k] == twice['messages'][k], k\n"
    "assert m['options']['connections'] == 10\n"
    "assert m['connections']['established'] == 10\n"
    "assert all(v == 0 for v in m['errors'].values())\n"
    "assert abs(m['msgs_per_sec'] - a['msgs_per_sec'] - b['msgs_per_sec'])"
    " < 0.01\n"
    "assert m['seconds'] == max(a['seconds'], b['seconds'])\n"
    "assert [r['msgs_per_sec'] for r in m['runs']] =="
    " [a['msgs_per_sec'], b['msgs_per_sec']]\n"
    "def counts(h):\n"
    "    out = {}\n"
    "    for lo, hi, n in h['buckets']:\n"
    "        out[(lo, hi)] = out.get((lo, hi), 0) + n\n"
    "    return out\n"
    "for name in ('latency', 'connect'):\n"
    "    ha, hb, hm = (d['histograms'][name] for d in (a, b, m))\n"
    "    want = counts(ha)\n"
    "    for k, n in counts(hb).items():\n"
    "        want[k] = want.get(k, 0) + n\n"
    "    assert counts(hm) == want, name\n"
    "    assert hm['count'] == ha['count'] + hb['count']\n"
    "    assert hm['sum'] == ha['sum'] + hb['sum']\n"
    "    assert hm['min'] == min(ha['min'], hb['min'])\n"
    "    assert hm['max'] == max(ha['max'], hb['max'])\n"
    "# Percentiles recomputed from the merged buckets, by the documented\n"
    "# rule: the midpoint of the bucket holding rank ceil(p% * count),\n"
    "# within [min, max]; min and max themselves at the ends.\n"
    "import math\n"
    "def percentile(h, p):\n"
    "    total = h['count']\n"
    "    rank = math.ceil(p / 100.0 * total)\n"
    "    if rank <= 1: return h['min']\n"
    "    if rank >= total: return h['max']\n"
    "    seen = 0\n"
    "    for lo, hi, n in sorted(h['buckets']):\n"
    "        seen += n\n"
    "        if seen >= rank:\n"
    "            return min(max(lo + (hi - lo) // 2, h['min']), h['max'])\n"
    "for d in (m, a, b, twice):\n"
    "    lat, h = d['latency_ns'], d['histograms']['latency']\n"
    "    for p in lat['percentiles']:\n"
    "        assert p['ns'] == percentile(h, p['percentile']), (p, d['runs']"
    " if 'runs' in d else '')\n"
    "    assert lat['p50'] == percentile(h, 50)\n"
    "    assert lat['p99_9'] == percentile(h, 99.9)\n"
    "    assert abs(lat['mean'] - h['sum'] / h['count']) < 0.5\n"
    "assert m['latency_ns']['count'] == twice['latency_ns']['count']\n";

START_TEST(test_program_merge)
{
	struct testutil_proc pa, pb;
	static struct program_run ra, rb;
	char files[3 * SAVED_PATH_MAX + 3];
	uint64_t started = clock_now_ms();

	testutil_server_start(&server, TESTUTIL_ECHO);
	/* Two runs at the same time against one server... */
	const char *args[] = {"-q", "--json", "-c", "5", "-n", "200", "-t", "1",
	    server_addr(), NULL};
	start_program(&pa, args);
	start_program(&pb, args);
	finish_program(&pa, started, &ra);
	finish_program(&pb, started, &rb);
	ck_assert_int_eq(ra.status, 0);
	ck_assert_int_eq(rb.status, 0);
	const char *a = save(ra.out, "a.json"), *b = save(rb.out, "b.json");
	/* ...and one of twice the connections. */
	const char *twice_args[] = {"-q", "--json", "-c", "10", "-n", "200",
	    "-t", "2", server_addr(), NULL};
	ck_assert_int_eq(run_program(twice_args), 0);
	const char *twice = save(run_out.out, "twice.json");
	snprintf(files, sizeof(files), "%s,%s,%s", a, b, twice);

	const char *merge[] = {"--merge", "--json", a, b, NULL};
	ck_assert_int_eq(run_program(merge), 0);
	python_check(merge_check, files, save(run_out.out, "merged.json"));

	/* In text: a row per run, then the merged summary. */
	const char *text[] = {"--merge", a, b, NULL};
	ck_assert_int_eq(run_program(text), 0);
	ck_assert_ptr_nonnull(strstr(run_out.out, "run  started"));
	ck_assert_ptr_nonnull(strstr(run_out.out, " (2 runs merged): 10 "));
	ck_assert_ptr_nonnull(strstr(run_out.out, "OK: all 2000 messages"));

	/* Other buckets cannot be merged exactly: refused, and said why. */
	char *changed = strdup(ra.out),
	     *at = strstr(changed, "\"sub_bucket_bits\":7");
	ck_assert_ptr_nonnull(at);
	at[strlen("\"sub_bucket_bits\":")] = '5';
	const char *layout = save(changed, "layout.json");
	free(changed);
	const char *refused[] = {"--merge", "--json", a, layout, NULL};
	ck_assert_int_eq(run_program(refused), 2);
	ck_assert_ptr_nonnull(strstr(run_out.err, "histogram layout"));
	ck_assert_ptr_nonnull(strstr(run_out.out, "{\"error\":"));
	const char *not_json[] = {"--merge", a, "/dev/null", NULL};
	ck_assert_int_eq(run_program(not_json), 2);
	ck_assert_ptr_nonnull(strstr(run_out.err, "/dev/null: not JSON"));
	testutil_server_stop(&server);
}
END_TEST

START_TEST(test_program_hgrm)
{
	char path[64], *text = NULL, *line, *save_ptr = NULL;
	unsigned long long total = 0, count;
	double value, pct, last_pct = -1;
	int rows = 0;

	testutil_server_start(&server, TESTUTIL_ECHO);
	snprintf(path, sizeof(path), "/tmp/check_bench-%d.hgrm", (int)getpid());
	const char *args[] = {"-q", "-c", "4", "-n", "250", "--hgrm", path,
	    "--json", server_addr(), NULL};
	ck_assert_int_eq(run_program(args), 0);
	ck_assert_ptr_nonnull(
	    strstr(run_out.out, "\"latency_ns\":{\"count\":1000,"));
	FILE *f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	size_t len = 0;
	ck_assert_int_gt(getdelim(&text, &len, '\0', f), 0);
	fclose(f);
	unlink(path);
	line = strtok_r(text, "\n", &save_ptr);
	ck_assert_str_eq(
	    line, "       Value   Percentile   TotalCount 1/(1-Percentile)");
	while ((line = strtok_r(NULL, "\n", &save_ptr)) != NULL &&
	    line[0] != '#') {
		char last[32];
		ck_assert_int_eq(sscanf(line, "%lf %lf %llu %31s", &value, &pct,
		                     &count, last),
		    4);
		ck_assert(pct > last_pct && count >= total && value > 0);
		last_pct = pct;
		total = count;
		rows++;
	}
	ck_assert_int_gt(rows, 20);
	ck_assert(last_pct == 1.0);
	ck_assert_uint_eq(total, 1000);
	ck_assert_ptr_nonnull(line);
	ck_assert_int_eq(strncmp(line, "#[Mean    = ", 12), 0);
	line = strtok_r(NULL, "\n", &save_ptr);
	ck_assert_ptr_nonnull(strstr(line, "Total count    =         1000]"));
	line = strtok_r(NULL, "\n", &save_ptr);
	ck_assert_str_eq(
	    line, "#[Buckets =           57, SubBuckets     =          256]");
	free(text);
	testutil_server_stop(&server);
}
END_TEST

START_TEST(test_program_rate_shortfall)
{
	unsigned long on_time, scheduled;

	/* 20 ms a round trip, one in flight: 50 a second per connection. */
	testutil_server_start(&server, TESTUTIL_SLOW);
	testutil_server_set_delay(&server, 20);
	const char *args[] = {"-q", "-c", "2", "-P", "1", "-r", "400", "-n",
	    "20", "-T", "10s", server_addr(), NULL};
	ck_assert_int_eq(run_program(args), 1);
	const char *said = strstr(run_out.out,
	    "FAILED: could not keep the "
	    "rate: ");
	ck_assert_msg(said != NULL, "%s", run_out.out);
	ck_assert_int_eq(sscanf(said,
	                     "FAILED: could not keep the rate: %lu "
	                     "of %lu messages sent on schedule",
	                     &on_time, &scheduled),
	    2);
	ck_assert_uint_eq(scheduled, 40);
	ck_assert_uint_lt(on_time * 100, scheduled * 95);
	/* Everything still came back. */
	ck_assert_ptr_nonnull(
	    strstr(run_out.out, "40 sent, 40 received, 40 verified"));

	/* For a time: the schedule asked for 400/s over 0.5 s. */
	const char *timed[] = {"-q", "-c", "2", "-P", "1", "-r", "400", "-d",
	    "500ms", "-T", "10s", server_addr(), NULL};
	ck_assert_int_eq(run_program(timed), 1);
	said = strstr(run_out.out, "FAILED: could not keep the rate: ");
	ck_assert_msg(said != NULL, "%s", run_out.out);
	ck_assert_int_eq(sscanf(said,
	                     "FAILED: could not keep the rate: %lu of %lu "
	                     "messages sent on schedule",
	                     &on_time, &scheduled),
	    2);
	ck_assert_msg(
	    scheduled >= 190 && scheduled <= 202, "%lu scheduled", scheduled);
	ck_assert_uint_lt(on_time * 100, scheduled * 95);
	testutil_server_stop(&server);
}
END_TEST

START_TEST(test_program_not_an_echo)
{
	testutil_server_start(&server, TESTUTIL_OTHER_BYTES);
	const char *args[] = {"-q", "-c", "3", "-n", "5", server_addr(), NULL};
	ck_assert_int_eq(run_program(args), 1);
	ck_assert_ptr_nonnull(strstr(run_out.out,
	    "  note         the server does not appear to echo: 15 of 15 "
	    "replies were not what was sent\n"));
	ck_assert_ptr_nonnull(strstr(run_out.out, "FAILED: 15 corrupt"));
	/* No figures from wrong replies: "-", not zeros. */
	ck_assert_ptr_nonnull(strstr(run_out.out, "  latency      -\n"));
	testutil_server_stop(&server);
}
END_TEST

START_TEST(test_program_never_answered)
{
	testutil_server_start(&server, TESTUTIL_SILENT);
	const char *args[] = {
	    "-q", "-c", "2", "-n", "1", "-T", "300ms", server_addr(), NULL};
	ck_assert_int_eq(run_program(args), 1);
	ck_assert_ptr_nonnull(
	    strstr(run_out.out, "FAILED: 2 connections timed out, 2 lost\n"));
	ck_assert_ptr_nonnull(strstr(run_out.out,
	    "  note         2 connections were established but never "
	    "answered in 0.3 s"));
	ck_assert_ptr_nonnull(strstr(run_out.out, "listen backlog"));
	ck_assert_ptr_nonnull(strstr(run_out.out, "--connect-rate"));
	const char *one[] = {
	    "-q", "-c", "1", "-n", "1", "-T", "300ms", server_addr(), NULL};
	ck_assert_int_eq(run_program(one), 1);
	ck_assert_ptr_nonnull(
	    strstr(run_out.out, "FAILED: 1 connection timed out, 1 lost\n"));
	ck_assert_ptr_nonnull(strstr(
	    run_out.out, "1 connection was established but never answered"));
	ck_assert_ptr_nonnull(strstr(run_out.out,
	    ": 1 connection, 1 message "
	    "each, "));
	testutil_server_stop(&server);
}
END_TEST

START_TEST(test_program_endless_line)
{
	/* Issue 17: a line that never ends is no reason to wait 30 s. */
	testutil_server_start(&server, TESTUTIL_ENDLESS);
	const char *args[] = {
	    "-q", "-c", "1", "-n", "1", "-T", "3s", server_addr(), NULL};
	ck_assert_int_eq(run_program(args), 1);
	ck_assert_msg(run_out.seconds < 3.0, "took %.2f s", run_out.seconds);
	ck_assert_ptr_nonnull(strstr(run_out.out,
	    "FAILED: 1 connection sent a reply too long, 1 lost\n"));
	ck_assert_ptr_null(strstr(run_out.out, "closed early"));
	testutil_server_stop(&server);
}
END_TEST

START_TEST(test_program_trickle_times_out)
{
	/* A reply that keeps coming, a byte every 100 ms: -T bounds it. */
	testutil_server_start(&server, TESTUTIL_TRICKLE);
	testutil_server_set_delay(&server, 100);
	const char *args[] = {
	    "-q", "-c", "1", "-n", "1", "-T", "1s", server_addr(), NULL};
	ck_assert_int_eq(run_program(args), 1);
	ck_assert_msg(run_out.seconds >= 1.0 &&
	        run_out.seconds < 1.0 + testutil_wait_ms(2000) / 1000.0,
	    "took %.2f s with -T 1s", run_out.seconds);
	ck_assert_ptr_nonnull(
	    strstr(run_out.out, "FAILED: 1 connection timed out, 1 lost\n"));
	/* It did answer, if slowly: no backlog hint. */
	ck_assert_ptr_null(strstr(run_out.out, "never answered"));
	testutil_server_stop(&server);
}
END_TEST

/* Parses text; 0 or -1, the tree in *v (free it) and why. */
static int
parse(const char *text, struct bench_json **v)
{
	*v = NULL;
	return bench_json_parse(text, strlen(text), v, why, sizeof(why));
}

START_TEST(test_json_parser_reads)
{
	struct bench_json *v;
	uint64_t n;
	double x;

	ck_assert_int_eq(
	    parse(" {\"a\": [1, -2.5e3, true, false, null],"
	          " \"b\": {\"c\": \"x\\ty\\u00e9\\ud83d\\ude00\"},"
	          " \"big\": 18446744073709551615} ",
	        &v),
	    0);
	const struct bench_json *a = bench_json_get(v, "a");
	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(a->type, BENCH_JSON_ARRAY);
	ck_assert_uint_eq(a->len, 5);
	ck_assert_int_eq(bench_json_u64(&a->items[0], &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(bench_json_u64(&a->items[1], &n), -1);
	ck_assert_int_eq(bench_json_real(&a->items[1], &x), 0);
	ck_assert(x == -2500);
	ck_assert_int_eq(a->items[2].type, BENCH_JSON_TRUE);
	ck_assert_int_eq(a->items[3].type, BENCH_JSON_FALSE);
	ck_assert_int_eq(a->items[4].type, BENCH_JSON_NULL);
	ck_assert_str_eq(
	    bench_json_string(bench_json_get(bench_json_get(v, "b"), "c")),
	    "x\ty\xc3\xa9\xf0\x9f\x98\x80");
	ck_assert_int_eq(bench_json_u64(bench_json_get(v, "big"), &n), 0);
	ck_assert_uint_eq(n, UINT64_MAX);
	ck_assert_ptr_null(bench_json_get(v, "nothing"));
	ck_assert_ptr_null(bench_json_get(a, "a"));
	bench_json_free(v);
	ck_assert_int_eq(parse("[]", &v), 0);
	ck_assert_uint_eq(v->len, 0);
	bench_json_free(v);
}
END_TEST

START_TEST(test_json_parser_refuses)
{
	static const char *const bad[] = {"", "{", "[1,]", "{\"a\":1,}",
	    "{\"a\" 1}", "{a:1}", "01", "1.", "-", "1e", ".5", "+1", "\"abc",
	    "\"a\\x\"", "\"\\ud800\"", "\"\\udc00\"", "\"tab\tin\"", "tru",
	    "nul", "[1] [2]", "{\"a\":1,\"a\":2}", "\"\\u12g4\"", NULL};
	struct bench_json *v;
	char deep[2 * BENCH_JSON_MAX_DEPTH + 3];

	for (int i = 0; bad[i] != NULL; i++) {
		why[0] = '\0';
		ck_assert_msg(parse(bad[i], &v) == -1, "accepted %s", bad[i]);
		ck_assert_ptr_null(v);
		ck_assert_msg(
		    strstr(why, " at byte ") != NULL, "%s: %s", bad[i], why);
	}
	ck_assert_int_eq(parse("{\"a\":1,\"a\":2}", &v), -1);
	ck_assert_ptr_nonnull(strstr(why, "key \"a\" twice"));
	/* Nested one deeper than allowed. */
	memset(deep, '[', BENCH_JSON_MAX_DEPTH + 1);
	memset(deep + BENCH_JSON_MAX_DEPTH + 1, ']', BENCH_JSON_MAX_DEPTH + 1);
	deep[2 * BENCH_JSON_MAX_DEPTH + 2] = '\0';
	ck_assert_int_eq(parse(deep, &v), -1);
	ck_assert_ptr_nonnull(strstr(why, "nested too deeply"));
	/* As deep as allowed. */
	memset(deep, '[', BENCH_JSON_MAX_DEPTH);
	memset(deep + BENCH_JSON_MAX_DEPTH, ']', BENCH_JSON_MAX_DEPTH);
	deep[2 * BENCH_JSON_MAX_DEPTH] = '\0';
	ck_assert_int_eq(parse(deep, &v), 0);
	bench_json_free(v);
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
	tc = tcase_create("json parser");
	tcase_add_test(tc, test_json_parser_reads);
	tcase_add_test(tc, test_json_parser_refuses);
	suite_add_tcase(s, tc);
	tc = tcase_create("limits");
	tcase_add_test(tc, test_options_checked);
	tcase_add_test(tc, test_file_limit);
	suite_add_tcase(s, tc);
	tc = tcase_create("program");
	tcase_add_test(tc, test_program_reports_corruption);
	tcase_add_test(tc, test_program_usage);
	tcase_add_test(tc, test_program_addresses);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	tc = tcase_create("json");
	tcase_add_test(tc, test_program_json);
	tcase_add_test(tc, test_program_json_error);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	tc = tcase_create("timeline");
	tcase_add_test(tc, test_program_timeline);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	tc = tcase_create("interrupt");
	tcase_add_test(tc, test_program_interrupt);
	tcase_add_test(tc, test_program_interrupt_twice);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	tc = tcase_create("merge and hgrm");
	tcase_add_test(tc, test_program_merge);
	tcase_add_test(tc, test_program_hgrm);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	tc = tcase_create("diagnoses");
	tcase_add_test(tc, test_program_rate_shortfall);
	tcase_add_test(tc, test_program_not_an_echo);
	tcase_add_test(tc, test_program_never_answered);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	tc = tcase_create("reply timeout");
	tcase_add_test(tc, test_program_endless_line);
	tcase_add_test(tc, test_program_trickle_times_out);
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
