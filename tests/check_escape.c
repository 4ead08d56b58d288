/* check_escape.c - rendering untrusted bytes for terminals and logs. */
#include "config.h"

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unictype.h>
#include <unistr.h>

#include "escape.h"

/* Renders in[0..len) with flags and compares with expect. */
static void
escape_expect(const char *in, size_t len, unsigned flags, const char *expect)
{
	char out[ESCAPE_BOUND(64)];

	ck_assert_uint_le(len, 64);
	size_t n = flags == 0 ? escape_render(out, in, len)
	                      : escape_render_flags(out, in, len, flags);
	ck_assert_uint_eq(n, strlen(out));
	ck_assert_str_eq(out, expect);
}

#define EXPECT(lit, expect) escape_expect((lit), sizeof(lit) - 1, 0, (expect))
/* The same in both modes: no backslash in, none added. */
#define EXPECT_BOTH(lit, expect)                                               \
	do {                                                                   \
		escape_expect((lit), sizeof(lit) - 1, 0, (expect));            \
		escape_expect(                                                 \
		    (lit), sizeof(lit) - 1, ESCAPE_BACKSLASH, (expect));       \
	} while (0)
#define EXPECT_VIS(lit, expect)                                                \
	escape_expect((lit), sizeof(lit) - 1, ESCAPE_BACKSLASH, (expect))

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
	/* Other scripts, combining marks and joining letters included. */
	EXPECT_BOTH("مرحبا بالعالم", "مرحبا بالعالم");
	EXPECT_BOTH("שלום", "שלום");
	EXPECT_BOTH("नमस्ते", "नमस्ते");
	EXPECT_BOTH("こんにちは 안녕하세요 สวัสดี", "こんにちは 안녕하세요 สวัสดี");
	EXPECT_BOTH("来自客户端消息：你好", "来自客户端消息：你好");
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

/*
 * Format characters (General Category Cf), found by property: the bidi
 * marks, embeddings, overrides and isolates, the Arabic letter mark a
 * hand-made list missed, the BOM, the soft hyphen, zero-width
 * characters, tags; and the line and paragraph separators.
 */
START_TEST(test_format_characters)
{
	EXPECT_BOTH("\xd8\x9c", "\\u061c"); /* ARABIC LETTER MARK */
	EXPECT_BOTH("abc\xd8\x9c"
	            "def",
	    "abc\\u061cdef");
	EXPECT_BOTH("\xe2\x80\x8e", "\\u200e"); /* LRM */
	EXPECT_BOTH("\xe2\x80\x8f", "\\u200f"); /* RLM */
	EXPECT_BOTH("\xe2\x81\xa6", "\\u2066"); /* LRI */
	EXPECT_BOTH("\xe2\x81\xa7", "\\u2067"); /* RLI */
	EXPECT_BOTH("\xe2\x81\xa8", "\\u2068"); /* FSI */
	EXPECT_BOTH("\xe2\x81\xa9", "\\u2069"); /* PDI */
	EXPECT_BOTH("\xe2\x80\xaa\xe2\x80\xab\xe2\x80\xac\xe2\x80\xad",
	    "\\u202a\\u202b\\u202c\\u202d");
	EXPECT_BOTH("\xef\xbb\xbf"
	            "BOM",
	    "\\ufeffBOM"); /* U+FEFF */
	EXPECT_BOTH("soft\xc2\xadhyphen", "soft\\u00adhyphen"); /* U+00AD */
	EXPECT_BOTH("zero\xe2\x80\x8bwidth", "zero\\u200bwidth"); /* ZWSP */
	EXPECT_BOTH("\xd8\x80", "\\u0600"); /* ARABIC NUMBER SIGN */
	EXPECT_BOTH("\xe2\x80\xa9", "\\u2029"); /* PARAGRAPH SEPARATOR */
	/* Past U+FFFF: eight hex digits, never ambiguous. */
	EXPECT_BOTH("\xf3\xa0\x80\x81", "\\U000e0001"); /* LANGUAGE TAG */
	EXPECT_BOTH("\xf0\x91\x82\xbd", "\\U000110bd"); /* KAITHI NUMBER */
	/*
	 * A zero-width joiner is Cf too: an emoji sequence joined by it
	 * shows its parts and the joiner, visibly.
	 */
	EXPECT_BOTH("\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9",
	    "\xf0\x9f\x91\xa8\\u200d\xf0\x9f\x91\xa9");
}
END_TEST

/*
 * Every scalar value, alone, in both modes: escaped exactly when it is a
 * control, a format character or a separator, and never out raw then.
 */
START_TEST(test_every_code_point)
{
	const uc_general_category_t hidden = uc_general_category_or(
	    uc_general_category_or(UC_CATEGORY_Cc, UC_CATEGORY_Cf),
	    uc_general_category_or(UC_CATEGORY_Zl, UC_CATEGORY_Zp));
	char in[4], out[ESCAPE_BOUND(4)], plain[ESCAPE_BOUND(4)];
	size_t escaped = 0, wrong = 0;
	uint32_t first_wrong = 0;

	/* One assertion at the end: Check's cost a write each. */
	for (uint32_t cp = 0; cp <= 0x10ffff; cp++) {
		if (cp >= 0xd800 && cp <= 0xdfff)
			continue;
		size_t len = (size_t)u8_uctomb((uint8_t *)in, cp, 4);
		int must_escape = cp != '\t' &&
		    (uc_is_general_category(cp, hidden) || cp == '\\');
		size_t n = escape_render_flags(out, in, len, ESCAPE_BACKSLASH);
		int unchanged = n == len && memcmp(out, in, len) == 0;
		size_t pn = escape_render(plain, in, len);
		int plain_unchanged = pn == len && memcmp(plain, in, len) == 0;
		/*
		 * Escaped exactly when it must be, as a backslash escape;
		 * without flags only the backslash differs.
		 */
		if (unchanged == must_escape ||
		    (must_escape && out[0] != '\\') ||
		    plain_unchanged != (unchanged || cp == '\\')) {
			if (wrong++ == 0)
				first_wrong = cp;
		}
		escaped += !unchanged;
	}
	ck_assert_msg(wrong == 0, "%zu code points wrong, the first U+%04X",
	    wrong, (unsigned)first_wrong);
	/* Some 65 controls, 170 format characters, the backslash... */
	ck_assert_uint_gt(escaped, 200);
}
END_TEST

/*
 * In ESCAPE_BACKSLASH mode a backslash typed as text is doubled, so the
 * text "\x1b" and a real ESC byte can no longer look alike.
 */
START_TEST(test_backslash_mode)
{
	char typed[ESCAPE_BOUND(8)], real[ESCAPE_BOUND(8)];

	EXPECT_VIS("\\x1b", "\\\\x1b");
	EXPECT_VIS("\x1b", "\\x1b");
	escape_render_flags(typed, "\\x1b", 4, ESCAPE_BACKSLASH);
	escape_render_flags(real, "\x1b", 1, ESCAPE_BACKSLASH);
	ck_assert_str_ne(typed, real);
	EXPECT_VIS("\\u202e", "\\\\u202e");
	EXPECT_VIS("C:\\temp\\new", "C:\\\\temp\\\\new");
	EXPECT_VIS("\\\\", "\\\\\\\\");
	EXPECT_VIS("\\\n\\", "\\\\\\n\\\\");
	EXPECT_VIS("\xff\\", "\\xff\\\\");
	/* Without the flag a backslash passes, as before. */
	EXPECT("\\x1b", "\\x1b");
	EXPECT("\\", "\\");
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
	/* Nor a doubled backslash, nor an eight-digit escape. */
	n = escape_render_bounded_flags(
	    out, sizeof(out), "abcdefgh\\\\", 10, ESCAPE_BACKSLASH);
	ck_assert_str_eq(out, "abcdefgh...");
	ck_assert_uint_eq(n, 11);
	n = escape_render_bounded_flags(
	    out, sizeof(out), "ab\xf3\xa0\x80\x81", 6, ESCAPE_BACKSLASH);
	ck_assert_str_eq(out, "ab...");
	n = escape_render_bounded_flags(
	    out, sizeof(out), "a\\b", 3, ESCAPE_BACKSLASH);
	ck_assert_str_eq(out, "a\\\\b");
	ck_assert_uint_eq(n, 4);
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

	tc = tcase_create("unicode");
	tcase_add_test(tc, test_format_characters);
	tcase_add_test(tc, test_every_code_point);
	suite_add_tcase(s, tc);

	tc = tcase_create("backslash");
	tcase_add_test(tc, test_backslash_mode);
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
