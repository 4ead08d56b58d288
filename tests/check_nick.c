/*
 * check_nick.c - the name rules alone: length in characters, UTF-8,
 * the allowed classes (Chinese and other scripts in, spaces, symbols,
 * controls and invisible characters out), digits alone, reserved words,
 * and sameness without regard to case or compatibility forms.
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "nick.h"

static enum nick_error
check(const char *name)
{
	return nick_check(name, strlen(name));
}

static int
same(const char *a, const char *b)
{
	return nick_same(a, strlen(a), b, strlen(b));
}

START_TEST(test_valid_names)
{
	static const char *const good[] = {"alice", "Bob_2", "a.b-c", "x",
	    "张伟", "李小龙", "Zoë", "Ørjan", "Дмитрий", "محمد", "हिन्दी", "_",
	    "-", "r2d2", "ﾀﾛｳ",
	    /* 32 characters exactly, in ASCII and in Chinese */
	    "abcdefghijklmnopqrstuvwxyz012345",
	    "一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十一二"};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ck_assert_msg(check(good[i]) == NICK_OK, "\"%s\": %s", good[i],
		    nick_strerror(check(good[i])));
}
END_TEST

START_TEST(test_too_long)
{
	ck_assert_int_eq(
	    check("abcdefghijklmnopqrstuvwxyz0123456"), NICK_TOO_LONG);
	/* 33 Chinese characters: 99 bytes, too many characters. */
	ck_assert_int_eq(check("一二三四五六七八九十一二三四五六七八九十一"
	                       "二三四五六七八九十一二三"),
	    NICK_TOO_LONG);
	ck_assert_int_eq(check(""), NICK_EMPTY);
}
END_TEST

START_TEST(test_invalid_utf8)
{
	static const char *const bad[] = {"\xff", "ab\xc3", "\xc3\x28",
	    "\xed\xa0\x80" /* a surrogate */, "\xc0\xaf" /* overlong */,
	    "\xf4\x90\x80\x80" /* past U+10FFFF */};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_int_eq(check(bad[i]), NICK_BAD_UTF8);
}
END_TEST

START_TEST(test_bad_characters)
{
	static const char *const bad[] = {"al ice", "bob!", "#3", "a/b",
	    "tab\there", "nul", "bell\x07", "esc\x1b[31m", "a@b", "a,b", "😀",
	    "zero\xe2\x80\x8bwidth", "rlo\xe2\x80\xae",
	    "\xcc\x81"
	    "a",
	    "a\xc2\xa0"
	    "b",
	    "（x）"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t len = strlen(bad[i]);
		if (i == 5)
			len = 4; /* "nul" and its NUL */
		ck_assert_msg(nick_check(bad[i], len) == NICK_BAD_CHAR,
		    "\"%s\" accepted", bad[i]);
	}
}
END_TEST

START_TEST(test_digits_and_reserved)
{
	ck_assert_int_eq(check("3"), NICK_DIGITS);
	ck_assert_int_eq(check("12345"), NICK_DIGITS);
	ck_assert_int_eq(check("3a"), NICK_OK);
	ck_assert_int_eq(check("operator"), NICK_RESERVED);
	ck_assert_int_eq(check("Operator"), NICK_RESERVED);
	ck_assert_int_eq(check("TCPCHATD"), NICK_RESERVED);
	ck_assert_int_eq(check("ｏｐｅｒａｔｏｒ"), NICK_RESERVED);
	ck_assert_int_eq(check("operator2"), NICK_OK);
	for (int e = NICK_RESERVED; e <= NICK_OK; e++)
		ck_assert(strlen(nick_strerror((enum nick_error)e)) > 0);
}
END_TEST

START_TEST(test_sameness)
{
	ck_assert(same("bob", "bob"));
	ck_assert(same("Bob", "bOB"));
	ck_assert(same("ＢＯＢ", "bob"));
	ck_assert(same("Straße", "STRASSE"));
	ck_assert(same("ΣΊΣΥΦΟΣ", "σίσυφος"));
	ck_assert(same("Zoë", "ZOË"));
	/* Precomposed and combining forms are one name. */
	ck_assert(same("Zo\xc3\xab", "Zoe\xcc\x88"));
	ck_assert(!same("bob", "bobby"));
	ck_assert(!same("张伟", "张三"));
	ck_assert(!same("a.b", "a_b"));
}
END_TEST

static Suite *
nick_suite(void)
{
	Suite *s = suite_create("nick");
	TCase *tc = tcase_create("rules");

	tcase_add_test(tc, test_valid_names);
	tcase_add_test(tc, test_too_long);
	tcase_add_test(tc, test_invalid_utf8);
	tcase_add_test(tc, test_bad_characters);
	tcase_add_test(tc, test_digits_and_reserved);
	suite_add_tcase(s, tc);
	tc = tcase_create("sameness");
	tcase_add_test(tc, test_sameness);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(nick_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
