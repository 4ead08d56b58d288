/* check_payload.c - message format, and the checker's verdicts. */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "payload.h"

#define SIZE 64
#define COUNT 5
#define CONN 7

/* COUNT messages of connection CONN back to back, as an echo returns. */
static char stream[COUNT * SIZE];

static void
setup(void)
{
	for (uint32_t i = 0; i < COUNT; i++)
		payload_build(stream + i * SIZE, SIZE, CONN, i);
}

/* A checker that has sent COUNT messages. */
static void
start(struct payload_check *c, struct payload_counts *counts)
{
	ck_assert_int_eq(payload_check_init(c, CONN, SIZE), 0);
	c->sent = COUNT;
	memset(counts, 0, sizeof(*counts));
}

static void
assert_counts(const struct payload_counts *k, uint64_t verified,
    uint64_t corrupt, uint64_t lost, uint64_t reordered, uint64_t extra)
{
	ck_assert_uint_eq(k->verified, verified);
	ck_assert_uint_eq(k->corrupt, corrupt);
	ck_assert_uint_eq(k->lost, lost);
	ck_assert_uint_eq(k->reordered, reordered);
	ck_assert_uint_eq(k->extra_bytes, extra);
}

/* Feeds all of data to a fresh checker, finishes, checks the counts. */
static void
assert_stream(const char *data, size_t len, uint64_t verified, uint64_t corrupt,
    uint64_t lost, uint64_t reordered, uint64_t extra)
{
	struct payload_check c;
	struct payload_counts k;

	start(&c, &k);
	payload_check_feed(&c, data, len, &k, NULL, NULL);
	payload_check_finish(&c, &k);
	assert_counts(&k, verified, corrupt, lost, reordered, extra);
	payload_check_free(&c);
}

static uint32_t seen[COUNT * 2];
static size_t nseen;

static void
record_seq(void *arg, uint32_t seq)
{
	(void)arg;
	if (nseen < COUNT * 2)
		seen[nseen++] = seq;
}

START_TEST(test_build_and_parse)
{
	char msg[PAYLOAD_MIN_SIZE], other[SIZE];
	uint32_t conn, seq;

	ck_assert_int_eq(
	    payload_parse(stream + 3 * SIZE, SIZE, SIZE, &conn, &seq), 0);
	ck_assert_uint_eq(conn, CONN);
	ck_assert_uint_eq(seq, 3);
	ck_assert_int_eq(memcmp(stream, "00000007 00000000 ", 18), 0);
	for (size_t i = 0; i < sizeof(stream); i++) {
		char ch = stream[i];
		ck_assert(ch == '\n' || (ch >= ' ' && ch <= '~'));
		ck_assert((ch == '\n') == (i % SIZE == SIZE - 1));
	}
	/* The smallest message has no padding. */
	payload_build(msg, sizeof(msg), 0xabcdef01u, 0xffffffffu);
	ck_assert_int_eq(memcmp(msg, "abcdef01 ffffffff  ", 19), 0);
	ck_assert_int_eq(
	    payload_parse(msg, sizeof(msg), sizeof(msg), &conn, &seq), 0);
	ck_assert_uint_eq(conn, 0xabcdef01u);
	ck_assert_uint_eq(seq, 0xffffffffu);
	/* Different messages, different padding. */
	payload_build(other, SIZE, CONN + 1, 3);
	ck_assert_int_ne(memcmp(other + 18, stream + 3 * SIZE + 18, 36), 0);
	/* Wrong size, or any flipped byte, fails to parse. */
	ck_assert_int_eq(
	    payload_parse(stream, SIZE - 1, SIZE, &conn, &seq), -1);
	for (size_t i = 0; i < SIZE; i++) {
		memcpy(other, stream, SIZE);
		other[i] ^= 0x20;
		ck_assert_int_eq(
		    payload_parse(other, SIZE, SIZE, &conn, &seq), -1);
	}
}
END_TEST

START_TEST(test_intact_in_any_pieces)
{
	struct payload_check c;
	struct payload_counts k;

	/* Every piece size from one byte to more than a message. */
	for (size_t piece = 1; piece <= SIZE + 3; piece++) {
		start(&c, &k);
		nseen = 0;
		for (size_t off = 0; off < sizeof(stream); off += piece) {
			size_t len = sizeof(stream) - off < piece
			    ? sizeof(stream) - off
			    : piece;
			payload_check_feed(
			    &c, stream + off, len, &k, record_seq, NULL);
		}
		assert_counts(&k, COUNT, 0, 0, 0, 0);
		ck_assert_uint_eq(payload_check_outstanding(&c), 0);
		ck_assert_uint_eq(nseen, COUNT);
		for (uint32_t i = 0; i < COUNT; i++)
			ck_assert_uint_eq(seen[i], i);
		payload_check_finish(&c, &k);
		assert_counts(&k, COUNT, 0, 0, 0, 0);
		payload_check_free(&c);
	}
}
END_TEST

START_TEST(test_corrupt_byte_anywhere)
{
	char bad[sizeof(stream)];

	/* Flip each byte of message 2 but its LF: one corrupt message. */
	for (size_t i = 2 * SIZE; i < 3 * SIZE - 1; i++) {
		memcpy(bad, stream, sizeof(bad));
		bad[i] ^= 0x20;
		assert_stream(bad, sizeof(bad), COUNT - 1, 1, 0, 0, 0);
	}
}
END_TEST

START_TEST(test_corrupt_newline_joins_two)
{
	char bad[sizeof(stream)];

	memcpy(bad, stream, sizeof(bad));
	bad[3 * SIZE - 1] = '*';
	assert_stream(bad, sizeof(bad), COUNT - 2, 2, 0, 0, 0);
}
END_TEST

START_TEST(test_truncated_message)
{
	/* Message 1 lost its last 10 bytes but kept its LF. */
	char bad[sizeof(stream)];
	memcpy(bad, stream, SIZE);
	memcpy(bad + SIZE, stream + SIZE, SIZE - 11);
	bad[2 * SIZE - 11] = '\n';
	memcpy(bad + 2 * SIZE - 10, stream + 2 * SIZE, 3 * SIZE);
	assert_stream(bad, sizeof(bad) - 10, COUNT - 1, 1, 0, 0, 0);
}
END_TEST

START_TEST(test_lost_message)
{
	struct payload_check c;
	struct payload_counts k;

	/* Message 2 never comes back: noticed as soon as 3 does. */
	start(&c, &k);
	nseen = 0;
	payload_check_feed(&c, stream, 2 * SIZE, &k, record_seq, NULL);
	payload_check_feed(&c, stream + 3 * SIZE, SIZE, &k, record_seq, NULL);
	assert_counts(&k, 3, 0, 1, 0, 0);
	payload_check_feed(&c, stream + 4 * SIZE, SIZE, &k, record_seq, NULL);
	payload_check_finish(&c, &k);
	assert_counts(&k, COUNT - 1, 0, 1, 0, 0);
	ck_assert_uint_eq(nseen, 4);
	ck_assert_uint_eq(seen[2], 3);
	payload_check_free(&c);
}
END_TEST

START_TEST(test_lost_at_the_end)
{
	struct payload_check c;
	struct payload_counts k;

	/* Three back, then half of the fourth, then the stream ends. */
	start(&c, &k);
	payload_check_feed(&c, stream, 3 * SIZE + SIZE / 2, &k, NULL, NULL);
	ck_assert_uint_eq(payload_check_outstanding(&c), 2);
	payload_check_finish(&c, &k);
	assert_counts(&k, 3, 0, 2, 0, 0);
	ck_assert_uint_eq(payload_check_outstanding(&c), 0);
	payload_check_free(&c);
}
END_TEST

START_TEST(test_reordered)
{
	const int order[COUNT] = {0, 1, 3, 2, 4};
	char swapped[sizeof(stream)];

	for (int i = 0; i < COUNT; i++)
		memcpy(swapped + i * SIZE, stream + order[i] * SIZE, SIZE);
	/* 2 came back after 3: not lost after all, but out of order. */
	assert_stream(swapped, sizeof(swapped), COUNT - 1, 0, 0, 1, 0);
}
END_TEST

START_TEST(test_extra_bytes)
{
	struct payload_check c;
	struct payload_counts k;
	char foreign[SIZE], unsent[SIZE];

	start(&c, &k);
	/* A duplicate of 1. */
	payload_check_feed(&c, stream, 2 * SIZE, &k, NULL, NULL);
	payload_check_feed(&c, stream + SIZE, SIZE, &k, NULL, NULL);
	assert_counts(&k, 2, 0, 0, 0, SIZE);
	/* Someone else's message, and one never sent. */
	payload_build(foreign, SIZE, CONN + 1, 2);
	payload_check_feed(&c, foreign, SIZE, &k, NULL, NULL);
	payload_build(unsent, SIZE, CONN, COUNT + 10);
	payload_check_feed(&c, unsent, SIZE, &k, NULL, NULL);
	assert_counts(&k, 2, 0, 0, 0, 3 * SIZE);
	/* The rest, then junk after everything came back. */
	payload_check_feed(&c, stream + 2 * SIZE, 3 * SIZE, &k, NULL, NULL);
	payload_check_feed(&c, "junk\nmore", 9, &k, NULL, NULL);
	payload_check_finish(&c, &k);
	assert_counts(&k, COUNT, 0, 0, 0, 3 * SIZE + 9);
	payload_check_free(&c);
}
END_TEST

START_TEST(test_overlong_line)
{
	struct payload_check c;
	struct payload_counts k;
	char junk[3 * SIZE];

	/* A line as long as three messages stands for three of them. */
	memset(junk, 'x', sizeof(junk));
	junk[sizeof(junk) - 1] = '\n';
	start(&c, &k);
	payload_check_feed(&c, junk, 100, &k, NULL, NULL);
	payload_check_feed(&c, junk + 100, sizeof(junk) - 100, &k, NULL, NULL);
	payload_check_feed(&c, stream + 3 * SIZE, 2 * SIZE, &k, NULL, NULL);
	payload_check_finish(&c, &k);
	assert_counts(&k, 2, 3, 0, 0, 0);
	payload_check_free(&c);
}
END_TEST

START_TEST(test_overrun)
{
	struct payload_check c;
	struct payload_counts k;
	char junk[6 * SIZE];

	/* Five outstanding: a line may be as long as all five together. */
	memset(junk, 'x', sizeof(junk));
	start(&c, &k);
	payload_check_feed(&c, junk, SIZE - 1, &k, NULL, NULL);
	ck_assert_int_eq(payload_check_overrun(&c), 0);
	payload_check_feed(&c, junk, 4 * SIZE, &k, NULL, NULL);
	ck_assert_int_eq(payload_check_overrun(&c), 0);
	payload_check_feed(&c, junk, 1, &k, NULL, NULL);
	ck_assert_int_eq(payload_check_overrun(&c), 0);
	payload_check_feed(&c, junk, 1, &k, NULL, NULL);
	ck_assert_int_eq(payload_check_overrun(&c), 1);
	payload_check_free(&c);

	/* One verified, four outstanding: four messages' worth at most. */
	start(&c, &k);
	payload_check_feed(&c, stream, SIZE, &k, NULL, NULL);
	payload_check_feed(&c, junk, 4 * SIZE, &k, NULL, NULL);
	ck_assert_int_eq(payload_check_overrun(&c), 0);
	payload_check_feed(&c, junk, 1, &k, NULL, NULL);
	ck_assert_int_eq(payload_check_overrun(&c), 1);
	payload_check_free(&c);

	/* Nothing outstanding: anything longer than a message. */
	start(&c, &k);
	payload_check_feed(&c, stream, sizeof(stream), &k, NULL, NULL);
	payload_check_feed(&c, junk, SIZE, &k, NULL, NULL);
	ck_assert_int_eq(payload_check_overrun(&c), 0);
	payload_check_feed(&c, junk, 1, &k, NULL, NULL);
	ck_assert_int_eq(payload_check_overrun(&c), 1);
	payload_check_free(&c);
}
END_TEST

START_TEST(test_abandon)
{
	struct payload_check c;
	struct payload_counts k;

	/* Two back, half of the third: three abandoned, none blamed. */
	start(&c, &k);
	payload_check_feed(&c, stream, 2 * SIZE + SIZE / 2, &k, NULL, NULL);
	ck_assert_uint_eq(payload_check_abandon(&c), 3);
	ck_assert_uint_eq(payload_check_outstanding(&c), 0);
	ck_assert_int_eq(payload_check_overrun(&c), 0);
	payload_check_finish(&c, &k);
	assert_counts(&k, 2, 0, 0, 0, 0);
	payload_check_free(&c);
}
END_TEST

static Suite *
payload_suite(void)
{
	Suite *s = suite_create("payload");
	TCase *tc;

	tc = tcase_create("format");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_build_and_parse);
	suite_add_tcase(s, tc);
	tc = tcase_create("intact");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_intact_in_any_pieces);
	suite_add_tcase(s, tc);
	tc = tcase_create("corrupt");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_corrupt_byte_anywhere);
	tcase_add_test(tc, test_corrupt_newline_joins_two);
	tcase_add_test(tc, test_truncated_message);
	tcase_add_test(tc, test_overlong_line);
	suite_add_tcase(s, tc);
	tc = tcase_create("lost");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_lost_message);
	tcase_add_test(tc, test_lost_at_the_end);
	suite_add_tcase(s, tc);
	tc = tcase_create("reordered");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_reordered);
	suite_add_tcase(s, tc);
	tc = tcase_create("extra");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_extra_bytes);
	suite_add_tcase(s, tc);
	tc = tcase_create("giving up");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_overrun);
	tcase_add_test(tc, test_abandon);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(payload_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
