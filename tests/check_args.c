/*
 * check_args.c - the shared command-line vocabulary: args_real (rates,
 * percentiles) and the durations' refusal of hexadecimal.
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"

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

static Suite *
args_suite(void)
{
	Suite *s = suite_create("args");
	TCase *tc;

	tc = tcase_create("real");
	tcase_add_test(tc, test_real_accepts_decimals);
	tcase_add_test(tc, test_real_refuses_the_rest);
	suite_add_tcase(s, tc);
	tc = tcase_create("duration");
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
