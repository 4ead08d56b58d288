/* check_escape.c - rendering untrusted bytes for terminals and logs. */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"

/* Renders in[0..len) and compares with expect. */
static void
escape_expect(const char *in, size_t len, const char *expect)
{
	char out[ESCAPE_BOUND(64)];

	ck_assert_uint_le(len, 64);
	size_t n = escape_render(out, in, len);
	ck_assert_uint_eq(n, strlen(out));
	ck_assert_str_eq(out, expect);
}

#define EXPECT(lit, expect) escape_expect((lit), sizeof(lit) - 1, (expect))

START_TEST(test_printable_unchanged)
{
	EXPECT("hello, world ~!", "hello, world ~!");
	EXPECT("", "");
	EXPECT("tab\tkept", "tab\tkept");
	EXPECT("back\\slash", "back\\slash");
	/* Chinese, as the seed's messages. */
	EXPECT("来自客户端消息：你好", "来自客户端消息：你好");
	EXPECT("\xf0\x9f\x98\x80 emoji", "\xf0\x9f\x98\x80 emoji");
	EXPECT("caf\xc3\xa9", "caf\xc3\xa9");
}
END_TEST

START_TEST(test_c0_controls_and_del)
{
	EXPECT("\x1b[2J", "\\x1b[2J");
	EXPECT("\x1b]0;title\x07", "\\x1b]0;title\\x07");
	EXPECT("line\roverwrite", "line\\roverwrite");
	EXPECT("a\nb", "a\\nb");
	EXPECT("nul\0byte", "nul\\x00byte");
	EXPECT("\x7f", "\\x7f");
	EXPECT("\x01\x1f", "\\x01\\x1f");
}
END_TEST

START_TEST(test_c1_controls)
{
	/* The raw byte 0x9b is invalid UTF-8; U+009B encoded is a C1 CSI. */
	EXPECT("\x9b"
	       "2J",
	    "\\x9b2J");
	EXPECT("\xc2\x9b"
	       "2J",
	    "\\u009b2J");
	EXPECT("\xc2\x85", "\\u0085");
	/* Bidi overrides and separators, invisible but harmful. */
	EXPECT("\xe2\x80\xae", "\\u202e");
	EXPECT("\xe2\x80\xa8", "\\u2028");
}
END_TEST

START_TEST(test_invalid_utf8)
{
	EXPECT("\xc0\xaf", "\\xc0\\xaf"); /* overlong '/' */
	EXPECT("\xed\xa0\x80", "\\xed\\xa0\\x80"); /* surrogate */
	EXPECT("\x80", "\\x80"); /* lone continuation */
	EXPECT("\xe2\x82", "\\xe2\\x82"); /* truncated */
	EXPECT("\xe2\x82x", "\\xe2\\x82x");
	EXPECT("\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80"); /* > U+10FFFF */
	EXPECT("\xff\xfe", "\\xff\\xfe");
	/* Valid text around invalid bytes survives. */
	EXPECT("\xe4\xbd\xa0\xff\xe5\xa5\xbd", "\xe4\xbd\xa0\\xff\xe5\xa5\xbd");
}
END_TEST

START_TEST(test_never_a_raw_control_byte)
{
	char in[256], out[ESCAPE_BOUND(256)];
	size_t n;

	for (int i = 0; i < 256; i++)
		in[i] = (char)i;
	n = escape_render(out, in, sizeof(in));
	ck_assert_uint_le(n, 4 * sizeof(in));
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)out[i];
		ck_assert_msg(c == '\t' || (c >= 0x20 && c != 0x7f && c < 0x80),
		    "raw byte 0x%02x at %zu", c, i);
	}
}
END_TEST

START_TEST(test_bounded)
{
	char out[12];
	size_t n;

	n = escape_render_bounded(out, sizeof(out), "short", 5);
	ck_assert_str_eq(out, "short");
	ck_assert_uint_eq(n, 5);
	n = escape_render_bounded(out, sizeof(out), "a much longer line", 18);
	ck_assert_uint_lt(n, sizeof(out));
	ck_assert_str_eq(out, "a much l...");
	/* An escape is never cut in half. */
	n = escape_render_bounded(out, sizeof(out), "abcdef\x1b\x1b", 8);
	ck_assert_str_eq(out, "abcdef...");
}
END_TEST

/*
 * Found by fuzz/fuzz_escape: a rendering that fits exactly, or with
 * fewer than three bytes to spare, was cut and marked "...".
 */
START_TEST(test_bounded_exact_fit)
{
	char out[4];
	size_t n;

	n = escape_render_bounded(out, sizeof(out), "abc", 3);
	ck_assert_str_eq(out, "abc");
	ck_assert_uint_eq(n, 3);
	n = escape_render_bounded(out, sizeof(out), "ab\x7f", 3);
	ck_assert_str_eq(out, "...");
	n = escape_render_bounded(out, sizeof(out), "abcd", 4);
	ck_assert_str_eq(out, "...");
	ck_assert_uint_eq(n, 3);
}
END_TEST

static Suite *
escape_suite(void)
{
	Suite *s = suite_create("escape");
	TCase *tc;

	tc = tcase_create("text");
	tcase_add_test(tc, test_printable_unchanged);
	suite_add_tcase(s, tc);

	tc = tcase_create("controls");
	tcase_add_test(tc, test_c0_controls_and_del);
	tcase_add_test(tc, test_c1_controls);
	tcase_add_test(tc, test_never_a_raw_control_byte);
	suite_add_tcase(s, tc);

	tc = tcase_create("invalid");
	tcase_add_test(tc, test_invalid_utf8);
	suite_add_tcase(s, tc);

	tc = tcase_create("bounded");
	tcase_add_test(tc, test_bounded);
	tcase_add_test(tc, test_bounded_exact_fit);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(escape_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
