/* check_framing.c - the line assembler, without sockets. */
#include "config.h"

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "framing.h"

/* Collected output of feeding an assembler. */
struct framing_log {
	char msgs[16][300];
	size_t lens[16];
	int count;
	int result; /* last result of framing_push */
};

/* Feeds all of in[0..len), collecting complete messages. */
static void
framing_feed(
    struct framing *f, const char *in, size_t len, struct framing_log *log)
{
	const char *msg;
	size_t msglen;

	for (;;) {
		int rc = framing_push(f, &in, &len, &msg, &msglen);
		log->result = rc;
		if (rc != FRAMING_COMPLETE)
			return;
		ck_assert_int_lt(log->count, 16);
		ck_assert_uint_lt(msglen, sizeof(log->msgs[0]));
		memcpy(log->msgs[log->count], msg, msglen);
		log->lens[log->count++] = msglen;
	}
}

#define FEED(f, s, log) framing_feed((f), (s), sizeof(s) - 1, (log))

START_TEST(test_lines_and_empty_lines)
{
	struct framing f;
	struct framing_log log = {0};

	framing_init(&f, 100);
	FEED(&f, "hello\n\nworld\n", &log);
	ck_assert_int_eq(log.result, FRAMING_INCOMPLETE);
	ck_assert_int_eq(log.count, 3);
	ck_assert_uint_eq(log.lens[0], 5);
	ck_assert_mem_eq(log.msgs[0], "hello", 5);
	ck_assert_uint_eq(log.lens[1], 0);
	ck_assert_mem_eq(log.msgs[2], "world", 5);
	ck_assert_uint_eq(framing_pending(&f), 0);
	framing_free(&f);
}
END_TEST

START_TEST(test_crlf_split_across_reads)
{
	struct framing f;
	struct framing_log log = {0};

	framing_init(&f, 100);
	FEED(&f, "abc\r", &log);
	ck_assert_int_eq(log.count, 0);
	FEED(&f, "\ndef\r\n", &log);
	ck_assert_int_eq(log.count, 2);
	ck_assert_uint_eq(log.lens[0], 3);
	ck_assert_mem_eq(log.msgs[0], "abc", 3);
	ck_assert_uint_eq(log.lens[1], 3);
	ck_assert_mem_eq(log.msgs[1], "def", 3);
	/* A CR alone on its own read, then the LF. */
	FEED(&f, "xy", &log);
	FEED(&f, "\r", &log);
	FEED(&f, "\n", &log);
	ck_assert_int_eq(log.count, 3);
	ck_assert_uint_eq(log.lens[2], 2);
	ck_assert_mem_eq(log.msgs[2], "xy", 2);
	/* A CR not before LF is part of the message. */
	FEED(&f, "a\rb\n", &log);
	ck_assert_uint_eq(log.lens[3], 3);
	ck_assert_mem_eq(log.msgs[3], "a\rb", 3);
	framing_free(&f);
}
END_TEST

START_TEST(test_message_across_many_reads)
{
	struct framing f;
	struct framing_log log = {0};
	const char *line = "a long line that arrives one byte at a time\n";

	framing_init(&f, 100);
	for (size_t i = 0; i < strlen(line); i++)
		framing_feed(&f, line + i, 1, &log);
	ck_assert_int_eq(log.count, 1);
	ck_assert_uint_eq(log.lens[0], strlen(line) - 1);
	ck_assert_mem_eq(log.msgs[0], line, strlen(line) - 1);
	framing_free(&f);
}
END_TEST

START_TEST(test_nul_bytes_kept)
{
	struct framing f;
	struct framing_log log = {0};

	framing_init(&f, 100);
	framing_feed(&f, "a\0b", 3, &log);
	framing_feed(&f, "\0\n\0\n", 4, &log);
	ck_assert_int_eq(log.count, 2);
	ck_assert_uint_eq(log.lens[0], 4);
	ck_assert_mem_eq(log.msgs[0], "a\0b\0", 4);
	ck_assert_uint_eq(log.lens[1], 1);
	ck_assert_int_eq(log.msgs[1][0], '\0');
	framing_free(&f);
}
END_TEST

START_TEST(test_exactly_max)
{
	struct framing f;
	struct framing_log log = {0};
	char line[12];

	memset(line, 'x', 10);
	line[10] = '\n';
	/* Whole in one read. */
	framing_init(&f, 10);
	framing_feed(&f, line, 11, &log);
	ck_assert_int_eq(log.count, 1);
	ck_assert_uint_eq(log.lens[0], 10);
	/* In pieces, with CRLF: the CR may take the byte after max. */
	framing_feed(&f, line, 10, &log);
	ck_assert_int_eq(log.result, FRAMING_INCOMPLETE);
	framing_feed(&f, "\r", 1, &log);
	ck_assert_int_eq(log.result, FRAMING_INCOMPLETE);
	framing_feed(&f, "\n", 1, &log);
	ck_assert_int_eq(log.count, 2);
	ck_assert_uint_eq(log.lens[1], 10);
	framing_free(&f);
}
END_TEST

START_TEST(test_max_plus_one)
{
	struct framing f;
	struct framing_log log = {0};
	char line[12];

	memset(line, 'x', 11);
	line[11] = '\n';
	framing_init(&f, 10);
	framing_feed(&f, line, 12, &log);
	ck_assert_int_eq(log.result, FRAMING_TOO_LONG);
	ck_assert_int_eq(log.count, 0);
	framing_free(&f);

	/* Arriving in pieces: known too long as soon as byte 11 is in. */
	framing_init(&f, 10);
	framing_feed(&f, line, 10, &log);
	ck_assert_int_eq(log.result, FRAMING_INCOMPLETE);
	framing_feed(&f, line, 1, &log);
	ck_assert_int_eq(log.result, FRAMING_TOO_LONG);
	ck_assert_uint_le(framing_pending(&f), 11);
	/* Sticky: the rest of the stream is refused too. */
	framing_feed(&f, "\nok\n", 4, &log);
	ck_assert_int_eq(log.result, FRAMING_TOO_LONG);
	ck_assert_int_eq(log.count, 0);
	framing_free(&f);

	/* max bytes then CR then not-LF: too long. */
	framing_init(&f, 10);
	framing_feed(&f, line, 10, &log);
	framing_feed(&f, "\rx", 2, &log);
	ck_assert_int_eq(log.result, FRAMING_TOO_LONG);
	framing_free(&f);
}
END_TEST

START_TEST(test_too_long_takes_no_input)
{
	struct framing f;
	const char *in = "xxxxxxxxxxxx\n", *msg;
	size_t len = strlen(in), msglen;

	framing_init(&f, 4);
	ck_assert_int_eq(
	    framing_push(&f, &in, &len, &msg, &msglen), FRAMING_TOO_LONG);
	ck_assert_uint_eq(len, 13);
	framing_free(&f);
}
END_TEST

/*
 * Found by fuzz/fuzz_framing: with a line of max bytes plus a CR held,
 * an empty push read the byte before the caller's input.
 */
START_TEST(test_empty_push_after_held_cr)
{
	struct framing f;
	struct framing_log log = {0};
	const char before[] = "x", *in = before + 1, *msg;
	size_t len = 0, msglen;

	framing_init(&f, 3);
	FEED(&f, "abc\r", &log);
	ck_assert_int_eq(log.result, FRAMING_INCOMPLETE);
	ck_assert_int_eq(
	    framing_push(&f, &in, &len, &msg, &msglen), FRAMING_INCOMPLETE);
	FEED(&f, "\n", &log);
	ck_assert_int_eq(log.count, 1);
	ck_assert_uint_eq(log.lens[0], 3);
	ck_assert_mem_eq(log.msgs[0], "abc", 3);
	framing_free(&f);
}
END_TEST

/* Found by fuzz/fuzz_framing: max + 1 wrapped to 0 for SIZE_MAX. */
START_TEST(test_max_size_max)
{
	struct framing f;
	struct framing_log log = {0};

	framing_init(&f, SIZE_MAX);
	FEED(&f, "no end yet", &log);
	ck_assert_int_eq(log.result, FRAMING_INCOMPLETE);
	FEED(&f, " - now\n", &log);
	ck_assert_int_eq(log.count, 1);
	ck_assert_uint_eq(log.lens[0], 16);
	ck_assert_mem_eq(log.msgs[0], "no end yet - now", 16);
	framing_free(&f);
}
END_TEST

START_TEST(test_flush_unterminated)
{
	struct framing f;
	struct framing_log log = {0};
	const char *msg;
	size_t len;

	framing_init(&f, 100);
	/* The seed's clients send "q" with no newline at all. */
	FEED(&f, "q", &log);
	ck_assert_int_eq(log.count, 0);
	ck_assert_uint_eq(framing_pending(&f), 1);
	ck_assert_int_eq(framing_flush(&f, 0, &msg, &len), 1);
	ck_assert_uint_eq(len, 1);
	ck_assert_int_eq(msg[0], 'q');
	ck_assert_uint_eq(framing_pending(&f), 0);
	ck_assert_int_eq(framing_flush(&f, 0, &msg, &len), 0);
	/* After a flush, the next line starts clean. */
	FEED(&f, "next\n", &log);
	ck_assert_int_eq(log.count, 1);
	ck_assert_mem_eq(log.msgs[0], "next", 4);
	/* A trailing CR is dropped on flush. */
	FEED(&f, "hi\r", &log);
	ck_assert_int_eq(framing_flush(&f, 0, &msg, &len), 1);
	ck_assert_uint_eq(len, 2);
	framing_free(&f);
}
END_TEST

START_TEST(test_flush_never_splits_utf8)
{
	struct framing f;
	struct framing_log log = {0};
	const char *msg;
	size_t len;
	/* "你好" is e4 bd a0 e5 a5 bd; send it cut inside the second. */
	const char *hello = "\xe4\xbd\xa0\xe5\xa5\xbd";

	framing_init(&f, 100);
	framing_feed(&f, hello, 4, &log);
	ck_assert_int_eq(framing_flush(&f, 0, &msg, &len), 1);
	ck_assert_uint_eq(len, 3);
	ck_assert_mem_eq(msg, hello, 3);
	ck_assert_uint_eq(framing_pending(&f), 1);
	framing_feed(&f, hello + 4, 1, &log);
	/* Still unfinished: nothing to flush. */
	ck_assert_int_eq(framing_flush(&f, 0, &msg, &len), 0);
	framing_feed(&f, hello + 5, 1, &log);
	ck_assert_int_eq(framing_flush(&f, 0, &msg, &len), 1);
	ck_assert_uint_eq(len, 3);
	ck_assert_mem_eq(msg, hello + 3, 3);

	/* Truncated e2 82 held back, then forced out at the end. */
	framing_feed(&f, "ab\xe2\x82", 4, &log);
	ck_assert_int_eq(framing_flush(&f, 0, &msg, &len), 1);
	ck_assert_uint_eq(len, 2);
	ck_assert_int_eq(framing_flush(&f, 0, &msg, &len), 0);
	ck_assert_int_eq(framing_flush(&f, 1, &msg, &len), 1);
	ck_assert_uint_eq(len, 2);
	ck_assert_mem_eq(msg, "\xe2\x82", 2);

	/* Invalid bytes are not held: nothing could complete them. */
	framing_feed(&f, "x\x80", 2, &log);
	ck_assert_int_eq(framing_flush(&f, 0, &msg, &len), 1);
	ck_assert_uint_eq(len, 2);
	framing_feed(&f, "\xc0\xaf", 2, &log);
	ck_assert_int_eq(framing_flush(&f, 0, &msg, &len), 1);
	ck_assert_uint_eq(len, 2);
	framing_free(&f);
}
END_TEST

START_TEST(test_utf8_split_across_reads_in_lines)
{
	struct framing f;
	struct framing_log log = {0};

	framing_init(&f, 100);
	framing_feed(&f, "\xe4\xbd", 2, &log);
	framing_feed(&f, "\xa0\n", 2, &log);
	ck_assert_int_eq(log.count, 1);
	ck_assert_uint_eq(log.lens[0], 3);
	ck_assert_mem_eq(log.msgs[0], "\xe4\xbd\xa0", 3);
	framing_free(&f);
}
END_TEST

/* Every byte fed is accounted for: messages, terminators or pending. */
START_TEST(test_no_byte_lost)
{
	struct framing f;
	char stream[5000];
	size_t taken = 0, out_total = 0;
	unsigned seed = 12345;
	int rc = FRAMING_INCOMPLETE;

	/* Random bytes and LFs, no CR: each message costs msglen + 1. */
	for (size_t i = 0; i < sizeof(stream); i++) {
		seed = seed * 1103515245u + 12345u;
		stream[i] = (seed >> 16) % 9 == 0 ? '\n' : (char)(seed >> 8);
		if (stream[i] == '\r')
			stream[i] = 'r';
	}
	framing_init(&f, 64);
	for (size_t off = 0; off < sizeof(stream) && rc != FRAMING_TOO_LONG;) {
		size_t chunk = 1 + (off * 7) % 13;
		if (chunk > sizeof(stream) - off)
			chunk = sizeof(stream) - off;
		const char *in = stream + off, *msg;
		size_t len = chunk, msglen;
		while ((rc = framing_push(&f, &in, &len, &msg, &msglen)) ==
		    FRAMING_COMPLETE) {
			ck_assert_uint_le(msglen, 64);
			out_total += msglen + 1;
		}
		taken += chunk - len;
		off += chunk;
	}
	ck_assert_uint_eq(taken, out_total + framing_pending(&f));
	ck_assert_uint_le(framing_pending(&f), 65);
	framing_free(&f);
}
END_TEST

static Suite *
framing_suite(void)
{
	Suite *s = suite_create("framing");
	TCase *tc;

	tc = tcase_create("lines");
	tcase_add_test(tc, test_lines_and_empty_lines);
	tcase_add_test(tc, test_crlf_split_across_reads);
	tcase_add_test(tc, test_message_across_many_reads);
	tcase_add_test(tc, test_nul_bytes_kept);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_add_test(tc, test_exactly_max);
	tcase_add_test(tc, test_max_plus_one);
	tcase_add_test(tc, test_too_long_takes_no_input);
	tcase_add_test(tc, test_empty_push_after_held_cr);
	tcase_add_test(tc, test_max_size_max);
	tcase_add_test(tc, test_no_byte_lost);
	suite_add_tcase(s, tc);

	tc = tcase_create("flush");
	tcase_add_test(tc, test_flush_unterminated);
	tcase_add_test(tc, test_flush_never_splits_utf8);
	tcase_add_test(tc, test_utf8_split_across_reads_in_lines);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(framing_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
