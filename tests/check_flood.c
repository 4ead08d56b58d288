/*
 * check_flood.c - the token bucket alone, on a clock the test drives:
 * the burst, the refill, "slow down" once per flood, the end of a flood
 * once the bucket is full again, and the drop after drop_ms.
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>

#include "flood.h"

/* Takes n lines at now; returns how many passed (or resumed). */
static int
take_n(struct flood *f, int n, uint64_t now)
{
	int passed = 0;

	for (int i = 0; i < n; i++) {
		enum flood_verdict v = flood_take(f, now);
		passed += v == FLOOD_PASS || v == FLOOD_RESUMED;
	}
	return passed;
}

START_TEST(test_burst_then_held)
{
	struct flood f;

	flood_init(&f, 20, 10000, 1000);
	/* A burst of twice the rate at once. */
	ck_assert_int_eq(take_n(&f, 40, 1000), 40);
	ck_assert_int_eq(flood_take(&f, 1000), FLOOD_SLOW_DOWN);
	/* Told once: the rest of the flood is only held. */
	ck_assert_int_eq(flood_take(&f, 1000), FLOOD_HELD);
	ck_assert_int_eq(flood_take(&f, 1001), FLOOD_HELD);
	ck_assert_uint_eq(f.held, 3);
}
END_TEST

START_TEST(test_refill_at_the_rate)
{
	struct flood f;

	flood_init(&f, 20, 10000, 0);
	ck_assert_int_eq(take_n(&f, 40, 0), 40);
	/* 20 lines a second: one every 50 ms, not before. */
	ck_assert_int_eq(flood_take(&f, 49), FLOOD_SLOW_DOWN);
	ck_assert_int_eq(flood_take(&f, 50), FLOOD_PASS);
	ck_assert_int_eq(flood_take(&f, 60), FLOOD_HELD);
	/* 540 ms earn 10.8 lines: with the 0.2 left, 11. */
	ck_assert_int_eq(take_n(&f, 11, 600), 11);
	ck_assert_int_eq(flood_take(&f, 600), FLOOD_HELD);
}
END_TEST

START_TEST(test_flood_ends_when_full_again)
{
	struct flood f;

	flood_init(&f, 10, 10000, 0);
	take_n(&f, 20, 0);
	ck_assert_int_eq(flood_take(&f, 0), FLOOD_SLOW_DOWN);
	ck_assert_int_eq(flood_take(&f, 0), FLOOD_HELD);
	/* Not full yet after one second (10 of 20): still the flood. */
	ck_assert_int_eq(flood_take(&f, 1000), FLOOD_PASS);
	ck_assert(f.flooding);
	/* Quiet for the whole burst: over, and said so once. */
	ck_assert_int_eq(flood_take(&f, 4000), FLOOD_RESUMED);
	ck_assert_uint_eq(f.held, 2);
	ck_assert_int_eq(flood_take(&f, 4000), FLOOD_PASS);
	/* A new flood is told again. */
	take_n(&f, 18, 4000);
	ck_assert_int_eq(flood_take(&f, 4000), FLOOD_SLOW_DOWN);
}
END_TEST

START_TEST(test_drop_after_keeping_on)
{
	struct flood f;
	uint64_t t = 0;
	int dropped = 0;

	flood_init(&f, 20, 10000, 0);
	/* 40 lines a second, twice the rate: some pass, it never ends. */
	for (int i = 0; i < 1000 && !dropped; i++, t += 25)
		dropped = flood_take(&f, t) == FLOOD_DROP;
	ck_assert(dropped);
	ck_assert_uint_ge(t, 10000);
	ck_assert_uint_le(t, 12100);
}
END_TEST

START_TEST(test_no_limit)
{
	struct flood f;

	flood_init(&f, 0, 10000, 0);
	ck_assert_int_eq(take_n(&f, 100000, 5), 100000);
}
END_TEST

START_TEST(test_long_quiet_no_overflow)
{
	struct flood f;

	flood_init(&f, 1000000, 10000, 0);
	take_n(&f, 10, 0);
	/* Years later: a full bucket, not a wrapped one. */
	ck_assert_int_eq(flood_take(&f, UINT64_MAX / 2), FLOOD_PASS);
	ck_assert_uint_eq(f.tokens, f.burst - FLOOD_LINE);
}
END_TEST

static Suite *
flood_suite(void)
{
	Suite *s = suite_create("flood");
	TCase *tc = tcase_create("bucket");

	tcase_add_test(tc, test_burst_then_held);
	tcase_add_test(tc, test_refill_at_the_rate);
	tcase_add_test(tc, test_no_limit);
	tcase_add_test(tc, test_long_quiet_no_overflow);
	suite_add_tcase(s, tc);
	tc = tcase_create("course");
	tcase_add_test(tc, test_flood_ends_when_full_again);
	tcase_add_test(tc, test_drop_after_keeping_on);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(flood_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
