/*
 * check_backlog.c - the ring of room lines alone: order, the oldest let
 * go when full, sequence numbers, the same buffers shared (references,
 * never copies), and a history of none.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backlog.h"
#include "msgbuf.h"

static struct msgbuf *
line(struct msgbuf_budget *budget, int i)
{
	char text[32];
	int n = snprintf(text, sizeof(text), "#1: line %d\n", i);
	struct msgbuf *b = msgbuf_new(budget, text, (size_t)n);

	ck_assert_ptr_nonnull(b);
	return b;
}

START_TEST(test_ring_order_and_seq)
{
	struct msgbuf_budget budget = {0};
	struct backlog h;
	struct msgbuf *kept[10];
	char want[32];

	ck_assert_int_eq(backlog_init(&h, 3), 0);
	for (int i = 0; i < 10; i++) {
		kept[i] = line(&budget, i);
		ck_assert_uint_eq(backlog_add(&h, kept[i]), (uint64_t)i + 1);
		ck_assert_uint_eq(h.count, i < 3 ? (size_t)i + 1 : 3);
		/* Oldest first, always the last three. */
		for (size_t j = 0; j < h.count; j++) {
			int at = i + 1 - (int)h.count + (int)j;
			snprintf(want, sizeof(want), "#1: line %d\n", at);
			const struct msgbuf *b = backlog_line(&h, j);
			ck_assert_ptr_eq(b, kept[at]);
			ck_assert_uint_eq(b->len, strlen(want));
			ck_assert(memcmp(b->data, want, b->len) == 0);
		}
	}
	/* The ring holds references of its own: ours can go. */
	for (int i = 0; i < 10; i++)
		msgbuf_unref(kept[i]);
	ck_assert_uint_eq(
	    atomic_load(&budget.used), 3 * MSGBUF_COST(strlen("#1: line 9\n")));
	backlog_free(&h);
	ck_assert_uint_eq(atomic_load(&budget.used), 0);
}
END_TEST

START_TEST(test_backlog_off)
{
	struct msgbuf_budget budget = {0};
	struct backlog h;

	ck_assert_int_eq(backlog_init(&h, 0), 0);
	struct msgbuf *b = line(&budget, 1);
	ck_assert_uint_eq(backlog_add(&h, b), 1);
	ck_assert_uint_eq(backlog_add(&h, b), 2);
	ck_assert_uint_eq(h.count, 0);
	msgbuf_unref(b);
	/* Nothing held: all memory back. */
	ck_assert_uint_eq(atomic_load(&budget.used), 0);
	backlog_free(&h);
}
END_TEST

static Suite *
backlog_suite(void)
{
	Suite *s = suite_create("backlog");
	TCase *tc = tcase_create("ring");

	tcase_add_test(tc, test_ring_order_and_seq);
	tcase_add_test(tc, test_backlog_off);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(backlog_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
