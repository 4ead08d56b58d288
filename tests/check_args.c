/*
 * check_args.c - the command-line vocabulary the three programs share:
 * endpoints, ports, numbers, durations and the words of usage errors.
 */
#include "config.h"

#include <check.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"

/* The options of a made-up program, with look-alike long names. */
static const struct option args_test_longopts[] = {
    {"port", required_argument, NULL, 'p'}, {"quiet", no_argument, NULL, 'q'},
    {"max-line", required_argument, NULL, 256},
    {"max-queue", required_argument, NULL, 257},
    {"max", no_argument, NULL, 258}, /* exact: never ambiguous */
    {"maximal-fun", no_argument, NULL, 259}, {NULL, 0, NULL, 0}};

/*
 * Runs getopt_long over the words (getopt may permute them, hence not
 * const) as tcpchatd does (opterr 0, ':' first)
 * until it stops at an error, and returns what args_option_error said.
 */
static const char *
args_test_error(char **words)
{
	static char err[ARGS_ERR_MAX];
	int argc = 0, c;

	while (words[argc] != NULL)
		argc++;
	optind = 0; /* glibc: start afresh */
	opterr = 0;
	err[0] = '\0';
	while ((c = getopt_long(
	            argc, words, ":p:q", args_test_longopts, NULL)) != -1) {
		if (c == '?' || c == ':') {
			args_option_error(c, optopt, words, optind,
			    args_test_longopts, err, sizeof(err));
			break;
		}
	}
	return err;
}

#define ERROR_FOR(expect, ...)                                                 \
	do {                                                                   \
		const char *words[] = {"./path/to/prog", __VA_ARGS__, NULL};   \
		ck_assert_str_eq(args_test_error((char **)words), (expect));   \
	} while (0)

START_TEST(test_unknown_options)
{
	ERROR_FOR("unknown option '-x'", "-x");
	ERROR_FOR("unknown option '-x'", "-qx");
	ERROR_FOR("unknown option '--frobnicate'", "--frobnicate");
	ERROR_FOR("unknown option '--frobnicate'", "--frobnicate=1");
	ERROR_FOR("unknown option '--frobnicate'", "-q", "--frobnicate");
}
END_TEST

START_TEST(test_missing_and_extra_values)
{
	ERROR_FOR("option '-p' needs a value", "-p");
	ERROR_FOR("option '-p' needs a value", "-q", "-p");
	ERROR_FOR("option '--port' needs a value", "--port");
	ERROR_FOR("option '--max-line' needs a value", "--max-line");
	ERROR_FOR("option '--quiet' takes no value", "--quiet=yes");
}
END_TEST

START_TEST(test_ambiguous)
{
	ERROR_FOR("option '--max-' is ambiguous (--max-line, --max-queue)",
	    "--max-", "1");
	ERROR_FOR("option '--ma' is ambiguous (--max-line, --max-queue, "
	          "--max, --maximal-fun)",
	    "--ma");
	/* An abbreviation with one match is that option. */
	ERROR_FOR("", "--qui", "--max-l", "1");
}
END_TEST

/* The messages never name the program's path. */
START_TEST(test_no_path_in_messages)
{
	const char *words[] = {"./path/to/prog", "--bogus", NULL};

	ck_assert_ptr_null(strstr(args_test_error((char **)words), "path"));
}
END_TEST

/* The -l forms of tcpchatd: a listener may have port 0. */
START_TEST(test_listen_endpoints)
{
	struct args_endpoint ep;
	char err[ARGS_ERR_MAX];

	memset(&ep, 0, sizeof(ep));
	ck_assert_int_eq(args_endpoint("[::1]:0", 1, &ep, err, sizeof(err)), 0);
	ck_assert_str_eq(ep.host, "::1");
	ck_assert_str_eq(ep.port, "0");
	memset(&ep, 0, sizeof(ep));
	ck_assert_int_eq(args_endpoint("::", 1, &ep, err, sizeof(err)), 0);
	ck_assert_str_eq(ep.host, "::");
	ck_assert_str_eq(ep.port, "");
	memset(&ep, 0, sizeof(ep));
	ck_assert_int_eq(args_endpoint(":8888", 1, &ep, err, sizeof(err)), 0);
	ck_assert_str_eq(ep.host, "");
	ck_assert_str_eq(ep.port, "8888");
	ck_assert_int_eq(
	    args_endpoint("0.0.0.0:99999", 1, &ep, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "port 99999 is out of range (0 to 65535)");
	ck_assert_int_eq(args_endpoint("[::1", 1, &ep, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "'[::1': missing ']' after the IPv6 address");
}
END_TEST

/* A bound is said in the largest unit that divides it. */
START_TEST(test_duration_messages)
{
	char err[ARGS_ERR_MAX];
	int64_t ms;

	ck_assert_int_eq(
	    args_duration_ms("2d", 0, 86400000, &ms, err, sizeof(err)), -1);
	ck_assert_str_eq(err,
	    "'2d' is not a duration from 0s to 24h "
	    "(e.g. 500ms, 10s, 2m)");
	ck_assert_int_eq(
	    args_duration_ms("11m", 0, 600000, &ms, err, sizeof(err)), -1);
	ck_assert_str_eq(err,
	    "'11m' is not a duration from 0s to 10m "
	    "(e.g. 500ms, 10s, 2m)");
	ck_assert_int_eq(
	    args_duration_ms("1ms", 1500, 2500, &ms, err, sizeof(err)), -1);
	ck_assert_str_eq(err,
	    "'1ms' is not a duration from 1500ms to 2500ms "
	    "(e.g. 500ms, 10s, 2m)");
	ck_assert_int_eq(
	    args_duration_ms("300ms", 0, 600000, &ms, err, sizeof(err)), 0);
	ck_assert_int_eq(ms, 300);
	ck_assert_int_eq(
	    args_duration_ms("3", 0, 600000, &ms, err, sizeof(err)), 0);
	ck_assert_int_eq(ms, 3000);
}
END_TEST

START_TEST(test_real_accepts_decimals)
{
	char err[ARGS_ERR_MAX];
	double v = -1;

	ck_assert_int_eq(args_real("2000", 0, 1e9, &v, err, sizeof(err)), 0);
	ck_assert(v == 2000);
	ck_assert_int_eq(args_real("0.5", 0, 1e9, &v, err, sizeof(err)), 0);
	ck_assert(v == 0.5);
	ck_assert_int_eq(args_real(".25", 0, 1, &v, err, sizeof(err)), 0);
	ck_assert(v == 0.25);
	ck_assert_int_eq(args_real("99.99", 0, 100, &v, err, sizeof(err)), 0);
	ck_assert(v == 99.99);
	ck_assert_int_eq(args_real("1e3", 0, 1e9, &v, err, sizeof(err)), 0);
	ck_assert(v == 1000);
	ck_assert_int_eq(args_real("100", 0, 100, &v, err, sizeof(err)), 0);
	ck_assert(v == 100);
}
END_TEST

START_TEST(test_real_refuses_the_rest)
{
	static const char *const bad[] = {"", "-1", "+1", " 1", "1 ", "abc",
	    "1x", "inf", "nan", "0x10", "1e999", "101", ".", "1,5", NULL};
	char err[ARGS_ERR_MAX];
	double v = 42;

	for (int i = 0; bad[i] != NULL; i++) {
		err[0] = '\0';
		ck_assert_msg(
		    args_real(bad[i], 0, 100, &v, err, sizeof(err)) == -1,
		    "accepted '%s'", bad[i]);
		ck_assert_msg(
		    strstr(err, "is not a number from 0 to 100") != NULL,
		    "'%s': %s", bad[i], err);
		ck_assert(v == 42);
	}
	ck_assert_int_eq(args_real("0.5", 1, 2, &v, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "'0.5' is not a number from 1 to 2");
}
END_TEST

START_TEST(test_duration_refuses_hex)
{
	char err[ARGS_ERR_MAX];
	int64_t ms = 7;

	ck_assert_int_eq(
	    args_duration_ms("0x10s", 0, 1000000, &ms, err, sizeof(err)), -1);
	ck_assert_int_eq(
	    args_duration_ms("0x1p3", 0, 1000000, &ms, err, sizeof(err)), -1);
	ck_assert_int_eq(ms, 7);
	ck_assert_int_eq(
	    args_duration_ms("1.5s", 0, 1000000, &ms, err, sizeof(err)), 0);
	ck_assert_int_eq(ms, 1500);
	ck_assert_int_eq(
	    args_duration_ms(".5", 0, 1000000, &ms, err, sizeof(err)), 0);
	ck_assert_int_eq(ms, 500);
}
END_TEST

/* Parses the operands, from the defaults 127.0.0.1 and 9999. */
static int
operands(int argc, char *const argv[], struct args_endpoint *ep, char *err)
{
	memset(ep, 0, sizeof(*ep));
	strcpy(ep->host, "127.0.0.1");
	strcpy(ep->port, "9999");
	return args_operands(argc, argv, ep, err, ARGS_ERR_MAX);
}

START_TEST(test_operands_forms)
{
	struct args_endpoint ep;
	char err[ARGS_ERR_MAX];
	char *none[] = {NULL}, *host[] = {"example.org"},
	     *hostport[] = {"127.0.0.1:9600"}, *v6port[] = {"[::1]:9600"},
	     *v6[] = {"::1"}, *v6br[] = {"[fe80::1%lo]"},
	     *two[] = {"::1", "9600"}, *colon[] = {":9600"};

	ck_assert_int_eq(operands(0, none, &ep, err), 0);
	ck_assert_str_eq(ep.host, "127.0.0.1");
	ck_assert_str_eq(ep.port, "9999");
	ck_assert_int_eq(operands(1, host, &ep, err), 0);
	ck_assert_str_eq(ep.host, "example.org");
	ck_assert_str_eq(ep.port, "9999");
	/* tcpchat 127.0.0.1:9600 once tried [127.0.0.1:9600]:9999. */
	ck_assert_int_eq(operands(1, hostport, &ep, err), 0);
	ck_assert_str_eq(ep.host, "127.0.0.1");
	ck_assert_str_eq(ep.port, "9600");
	ck_assert_int_eq(operands(1, v6port, &ep, err), 0);
	ck_assert_str_eq(ep.host, "::1");
	ck_assert_str_eq(ep.port, "9600");
	ck_assert_int_eq(operands(1, v6, &ep, err), 0);
	ck_assert_str_eq(ep.host, "::1");
	ck_assert_str_eq(ep.port, "9999");
	ck_assert_int_eq(operands(1, v6br, &ep, err), 0);
	ck_assert_str_eq(ep.host, "fe80::1%lo");
	ck_assert_int_eq(operands(2, two, &ep, err), 0);
	ck_assert_str_eq(ep.host, "::1");
	ck_assert_str_eq(ep.port, "9600");
	ck_assert_int_eq(operands(1, colon, &ep, err), 0);
	ck_assert_str_eq(ep.host, "127.0.0.1");
	ck_assert_str_eq(ep.port, "9600");
}
END_TEST

START_TEST(test_operands_errors)
{
	static const struct {
		int argc;
		char *argv[3];
		const char *why;
	} bad[] = {
	    {1, {"h:99999"}, "port 99999 is out of range (1 to 65535)"},
	    {1, {"h:0"}, "port 0 is out of range (1 to 65535)"},
	    {2, {"h", "abc"}, "'abc' is not a port number (1 to 65535)"},
	    {2, {"h", "-1"}, "'-1' is not a port number (1 to 65535)"},
	    {1, {"h:"}, "'' is not a port number (1 to 65535)"},
	    {1, {"[::1"}, "'[::1': missing ']' after the IPv6 address"},
	    {1, {"[::1]x"}, "'[::1]x': expected ':PORT' after ']'"},
	    {2, {"h:1", "2"}, "port given twice: 'h:1' and '2'"},
	    {3, {"a", "1", "c"}, "too many arguments: 'c'"},
	    {1, {""}, "empty host name"},
	};
	struct args_endpoint ep;
	char err[ARGS_ERR_MAX];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		ck_assert_msg(
		    operands(bad[i].argc, bad[i].argv, &ep, err) == -1,
		    "accepted case %zu", i);
		ck_assert_str_eq(err, bad[i].why);
	}
}
END_TEST

static Suite *
args_suite(void)
{
	Suite *s = suite_create("args");
	TCase *tc;

	tc = tcase_create("option_errors");
	tcase_add_test(tc, test_unknown_options);
	tcase_add_test(tc, test_missing_and_extra_values);
	tcase_add_test(tc, test_ambiguous);
	tcase_add_test(tc, test_no_path_in_messages);
	suite_add_tcase(s, tc);

	tc = tcase_create("real");
	tcase_add_test(tc, test_real_accepts_decimals);
	tcase_add_test(tc, test_real_refuses_the_rest);
	suite_add_tcase(s, tc);

	tc = tcase_create("endpoints");
	tcase_add_test(tc, test_listen_endpoints);
	tcase_add_test(tc, test_operands_forms);
	tcase_add_test(tc, test_operands_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("durations");
	tcase_add_test(tc, test_duration_messages);
	tcase_add_test(tc, test_duration_refuses_hex);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(args_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
