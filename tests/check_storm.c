/*
 * check_storm.c - join and leave notices under a storm (storm.c): a
 * burst one by one, the rest summed up at the window's end, and a storm
 * that goes on summed up whole, window after window.
 */
#include "config.h"

#include <check.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "clock.h"
#include "storm.h"
#include "testutil.h"

/* The summaries the storm sent, as the flush callback saw them. */
struct summaries {
	pthread_mutex_t lock; /* guards everything below */
	pthread_cond_t came;
	int n;
	unsigned joined, left; /* of the last one */
	uint64_t first_join;
};

static void
on_summary(void *ctx, unsigned joined, unsigned left, uint64_t first_join)
{
	struct summaries *s = ctx;

	pthread_mutex_lock(&s->lock);
	s->n++;
	s->joined = joined;
	s->left = left;
	s->first_join = first_join;
	pthread_cond_broadcast(&s->came);
	pthread_mutex_unlock(&s->lock);
}

/* Waits (bounded) for summary number n: 1 if it came. */
static int
wait_summary(struct summaries *s, int n)
{
	struct timespec until =
	    clock_deadline_ms(CLOCK_REALTIME, testutil_wait_ms(10000));

	pthread_mutex_lock(&s->lock);
	while (
	    s->n < n && pthread_cond_timedwait(&s->came, &s->lock, &until) == 0)
		;
	int got = s->n >= n;
	pthread_mutex_unlock(&s->lock);
	return got;
}

static struct storm *
start_storm(struct summaries *s, int window_ms, unsigned burst)
{
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->came, NULL);
	s->n = 0;
	struct storm *st = storm_new(window_ms, burst, on_summary, s);
	ck_assert_ptr_nonnull(st);
	ck_assert_int_eq(storm_start(st), 0);
	return st;
}

static void
stop_storm(struct storm *st, struct summaries *s)
{
	storm_stop(st);
	storm_free(st);
	pthread_cond_destroy(&s->came);
	pthread_mutex_destroy(&s->lock);
}

START_TEST(test_burst_then_summary)
{
	struct summaries s;
	struct storm *st = start_storm(&s, 200, 3);
	int alone = 0;

	for (uint64_t id = 1; id <= 5; id++)
		alone += storm_event(st, 1, id);
	alone += storm_event(st, 0, 2);
	ck_assert_int_eq(alone, 3);
	ck_assert(wait_summary(&s, 1));
	ck_assert_uint_eq(s.joined, 2);
	ck_assert_uint_eq(s.left, 1);
	ck_assert_uint_eq(s.first_join, 4);
	stop_storm(st, &s);
}
END_TEST

/*
 * A storm that goes on past its first window gets no second burst of
 * single notices: each next window is one summary, until a window
 * passes quietly.
 */
START_TEST(test_sustained_storm_is_summed_up)
{
	enum { WINDOW_MS = 1000 };
	struct summaries s;
	struct storm *st = start_storm(&s, WINDOW_MS, 3);
	int alone = 0;

	for (uint64_t id = 1; id <= 5; id++)
		alone += storm_event(st, 1, id);
	ck_assert_int_eq(alone, 3);
	ck_assert(wait_summary(&s, 1));
	/* Still stormy: the next window began with that summary. */
	alone = 0;
	for (uint64_t id = 6; id <= 10; id++)
		alone += storm_event(st, 1, id);
	ck_assert_int_eq(alone, 0);
	ck_assert(wait_summary(&s, 2));
	ck_assert_uint_eq(s.joined, 5);
	ck_assert_uint_eq(s.first_join, 6);
	/* A quiet window (the time is what is tested), then one alone. */
	poll(NULL, 0, 2 * WINDOW_MS + 200);
	ck_assert_int_eq(storm_event(st, 1, 11), 1);
	stop_storm(st, &s);
	ck_assert_int_eq(s.n, 2);
}
END_TEST

static Suite *
storm_suite(void)
{
	Suite *s = suite_create("storm");
	TCase *tc = tcase_create("windows");

	tcase_add_test(tc, test_burst_then_summary);
	tcase_add_test(tc, test_sustained_storm_is_summed_up);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(storm_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
