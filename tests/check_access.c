/* check_access.c - --allow/--deny rules and per-address counts. */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <poll.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "clock.h"

/* A sockaddr for a literal address. */
static struct sockaddr_storage
access_addr(const char *text)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, text, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
	} else {
		ck_assert_int_eq(
		    inet_pton(AF_INET6, text, &sin6->sin6_addr), 1);
		sin6->sin6_family = AF_INET6;
	}
	return ss;
}

static int
access_ok(const struct access_list *list, const char *text)
{
	struct sockaddr_storage ss = access_addr(text);

	return access_allowed(list, (struct sockaddr *)&ss);
}

START_TEST(test_parse)
{
	struct access_rule r;

	ck_assert_int_eq(access_parse("192.168.1.0/24", &r), 0);
	ck_assert_uint_eq(r.prefix, 96 + 24);
	ck_assert_int_eq(access_parse("::1/128", &r), 0);
	ck_assert_uint_eq(r.prefix, 128);
	ck_assert_int_eq(access_parse("10.0.0.7", &r), 0);
	ck_assert_uint_eq(r.prefix, 128);
	ck_assert_int_eq(access_parse("fe80::/10", &r), 0);
	ck_assert_int_eq(access_parse("0.0.0.0/0", &r), 0);
	ck_assert_int_eq(access_parse("10.0.0.0/33", &r), -1);
	ck_assert_int_eq(access_parse("::/129", &r), -1);
	ck_assert_int_eq(access_parse("10.0.0.0/", &r), -1);
	ck_assert_int_eq(access_parse("10.0.0.0/-1", &r), -1);
	ck_assert_int_eq(access_parse("host.example/8", &r), -1);
	ck_assert_int_eq(access_parse("/8", &r), -1);
	ck_assert_int_eq(access_parse("", &r), -1);
}
END_TEST

START_TEST(test_no_rules_allows_all)
{
	struct access_list list = {0};

	ck_assert_int_eq(access_ok(&list, "127.0.0.1"), 1);
	ck_assert_int_eq(access_ok(&list, "::1"), 1);
}
END_TEST

START_TEST(test_allow_only_listed)
{
	struct access_list list = {0};

	ck_assert_int_eq(access_add(&list, 1, "192.168.1.0/24"), 0);
	ck_assert_int_eq(access_ok(&list, "192.168.1.77"), 1);
	ck_assert_int_eq(access_ok(&list, "192.168.2.1"), 0);
	ck_assert_int_eq(access_ok(&list, "::1"), 0);
	/* IPv4 clients of a "::" listener arrive IPv4-mapped. */
	ck_assert_int_eq(access_ok(&list, "::ffff:192.168.1.5"), 1);
	ck_assert_int_eq(access_ok(&list, "::ffff:192.168.3.5"), 0);
	access_free(&list);
}
END_TEST

START_TEST(test_deny_wins)
{
	struct access_list list = {0};

	ck_assert_int_eq(access_add(&list, 1, "10.0.0.0/8"), 0);
	ck_assert_int_eq(access_add(&list, 0, "10.1.0.0/16"), 0);
	ck_assert_int_eq(access_add(&list, 0, "::1/128"), 0);
	ck_assert_int_eq(access_ok(&list, "10.2.3.4"), 1);
	ck_assert_int_eq(access_ok(&list, "10.1.3.4"), 0);
	ck_assert_int_eq(access_ok(&list, "::1"), 0);
	access_free(&list);

	/* Deny alone: everything else is allowed. */
	ck_assert_int_eq(access_add(&list, 0, "::1/128"), 0);
	ck_assert_int_eq(access_ok(&list, "::1"), 0);
	ck_assert_int_eq(access_ok(&list, "127.0.0.1"), 1);
	ck_assert_int_eq(access_add(&list, 0, "127.0.0.0/8"), 0);
	ck_assert_int_eq(access_ok(&list, "127.0.0.2"), 0);
	access_free(&list);
}
END_TEST

START_TEST(test_odd_prefixes)
{
	struct access_list list = {0};

	ck_assert_int_eq(access_add(&list, 1, "172.16.0.0/12"), 0);
	ck_assert_int_eq(access_ok(&list, "172.31.255.255"), 1);
	ck_assert_int_eq(access_ok(&list, "172.32.0.0"), 0);
	ck_assert_int_eq(access_ok(&list, "172.15.255.255"), 0);
	ck_assert_int_eq(access_add(&list, 1, "fe80::/10"), 0);
	ck_assert_int_eq(access_ok(&list, "febf::1"), 1);
	ck_assert_int_eq(access_ok(&list, "fec0::1"), 0);
	access_free(&list);
}
END_TEST

START_TEST(test_counter_limits_each_address)
{
	struct access_counter c;
	struct sockaddr_storage a = access_addr("10.0.0.1");
	struct sockaddr_storage b = access_addr("::ffff:10.0.0.2");

	access_counter_init(&c);
	ck_assert_int_eq(access_counter_take(&c, (struct sockaddr *)&a, 2), 0);
	ck_assert_int_eq(access_counter_take(&c, (struct sockaddr *)&a, 2), 0);
	ck_assert_int_eq(access_counter_take(&c, (struct sockaddr *)&a, 2), -1);
	ck_assert_int_eq(access_counter_take(&c, (struct sockaddr *)&b, 2), 0);
	access_counter_put(&c, (struct sockaddr *)&a);
	ck_assert_int_eq(access_counter_take(&c, (struct sockaddr *)&a, 2), 0);
	access_counter_free(&c);
}
END_TEST

/* Failed attempts hold a slot for a while, then give it back. */
START_TEST(test_penalties_expire)
{
	struct access_counter c;
	struct sockaddr_storage a = access_addr("10.0.0.7");
	struct sockaddr_storage b = access_addr("10.0.0.8");
	struct sockaddr *sa = (struct sockaddr *)&a;

	access_counter_init(&c);
	ck_assert_int_eq(access_counter_take(&c, sa, 2), 0);
	uint64_t t0 = clock_now_ms();
	access_counter_penalize(&c, sa, 300);
	/* One connection and one penalty: the limit of 2 is reached. */
	ck_assert_int_eq(access_counter_take(&c, sa, 2), -1);
	ck_assert_int_eq(access_counter_take(&c, (struct sockaddr *)&b, 2), 0);
	int rc = -1;
	while (rc == -1 && clock_now_ms() - t0 < 5000) {
		poll(NULL, 0, 20);
		rc = access_counter_take(&c, sa, 2);
	}
	ck_assert_int_eq(rc, 0);
	ck_assert_uint_ge(clock_now_ms() - t0, 300);
	/* Penalties beyond the limit are still counted. */
	for (int i = 0; i < 5; i++)
		access_counter_penalize(&c, sa, 60000);
	ck_assert_int_eq(access_counter_take(&c, sa, 6), -1);
	access_counter_free(&c);
}
END_TEST

/* Thousands of addresses in and out: counts stay exact. */
START_TEST(test_counter_many_addresses)
{
	struct access_counter c;
	char text[32];

	access_counter_init(&c);
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 3000; i++) {
			snprintf(
			    text, sizeof(text), "10.%d.%d.1", i / 256, i % 256);
			struct sockaddr_storage ss = access_addr(text);
			ck_assert_int_eq(
			    access_counter_take(&c, (struct sockaddr *)&ss, 1),
			    0);
		}
		/* Free every other one; the rest must still be found full. */
		for (int i = 0; i < 3000; i += 2) {
			snprintf(
			    text, sizeof(text), "10.%d.%d.1", i / 256, i % 256);
			struct sockaddr_storage ss = access_addr(text);
			access_counter_put(&c, (struct sockaddr *)&ss);
		}
		for (int i = 1; i < 3000; i += 2) {
			snprintf(
			    text, sizeof(text), "10.%d.%d.1", i / 256, i % 256);
			struct sockaddr_storage ss = access_addr(text);
			ck_assert_int_eq(
			    access_counter_take(&c, (struct sockaddr *)&ss, 1),
			    -1);
			access_counter_put(&c, (struct sockaddr *)&ss);
		}
	}
	ck_assert_uint_eq(c.used, 0);
	access_counter_free(&c);
}
END_TEST

static Suite *
access_suite(void)
{
	Suite *s = suite_create("access");
	TCase *tc;

	tc = tcase_create("rules");
	tcase_add_test(tc, test_parse);
	tcase_add_test(tc, test_no_rules_allows_all);
	tcase_add_test(tc, test_allow_only_listed);
	tcase_add_test(tc, test_deny_wins);
	tcase_add_test(tc, test_odd_prefixes);
	suite_add_tcase(s, tc);

	tc = tcase_create("per_ip");
	tcase_add_test(tc, test_counter_limits_each_address);
	tcase_add_test(tc, test_counter_many_addresses);
	tcase_add_test(tc, test_penalties_expire);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(access_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
