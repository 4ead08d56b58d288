/*
 * check_command.c - a client's line taken apart, alone: text, "//"
 * text, each command with and without its arguments, spaces and case,
 * and unknown commands.
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "command.h"

static struct command
parse(const char *line)
{
	struct command cmd;

	command_parse(line, strlen(line), &cmd);
	return cmd;
}

/* p[0..len) must be exactly want. */
static void
expect_span(const char *p, size_t len, const char *want)
{
	ck_assert_msg(
	    len == strlen(want) && (len == 0 || memcmp(p, want, len) == 0),
	    "got \"%.*s\", wanted \"%s\"", (int)len, p ? p : "", want);
}

START_TEST(test_text)
{
	struct command c = parse("hello there");

	ck_assert_int_eq(c.kind, COMMAND_TEXT);
	expect_span(c.arg, c.arg_len, "hello there");
	c = parse("//nick is not a command");
	ck_assert_int_eq(c.kind, COMMAND_TEXT);
	expect_span(c.arg, c.arg_len, "/nick is not a command");
	c = parse("//");
	ck_assert_int_eq(c.kind, COMMAND_TEXT);
	expect_span(c.arg, c.arg_len, "/");
	c = parse(" /nick x");
	ck_assert_int_eq(c.kind, COMMAND_TEXT);
	c = parse("");
	ck_assert_int_eq(c.kind, COMMAND_TEXT);
	ck_assert_uint_eq(c.arg_len, 0);
}
END_TEST

START_TEST(test_nick)
{
	struct command c = parse("/nick alice");

	ck_assert_int_eq(c.kind, COMMAND_NICK);
	ck_assert(!c.usage);
	expect_span(c.arg, c.arg_len, "alice");
	c = parse("/NICK \t 张伟  ");
	ck_assert_int_eq(c.kind, COMMAND_NICK);
	expect_span(c.arg, c.arg_len, "张伟");
	/* More than one word is the name as given: the rules refuse it. */
	c = parse("/nick al ice");
	expect_span(c.arg, c.arg_len, "al ice");
	c = parse("/nick");
	ck_assert_int_eq(c.kind, COMMAND_NICK);
	ck_assert(c.usage);
	c = parse("/nick   ");
	ck_assert(c.usage);
	ck_assert_str_eq(command_usage(COMMAND_NICK), "/nick NAME");
}
END_TEST

START_TEST(test_msg)
{
	struct command c = parse("/msg bob  psst, over here ");

	ck_assert_int_eq(c.kind, COMMAND_MSG);
	ck_assert(!c.usage);
	expect_span(c.target, c.target_len, "bob");
	expect_span(c.arg, c.arg_len, "psst, over here");
	c = parse("/msg #3 hi");
	expect_span(c.target, c.target_len, "#3");
	expect_span(c.arg, c.arg_len, "hi");
	c = parse("/msg bob");
	ck_assert(c.usage);
	c = parse("/msg");
	ck_assert(c.usage);
	ck_assert_str_eq(command_usage(COMMAND_MSG), "/msg ID|NAME TEXT");
}
END_TEST

START_TEST(test_others)
{
	struct command c = parse("/me waves at everyone");

	ck_assert_int_eq(c.kind, COMMAND_ME);
	expect_span(c.arg, c.arg_len, "waves at everyone");
	ck_assert(parse("/me").usage);
	c = parse("/quit gone for lunch");
	ck_assert_int_eq(c.kind, COMMAND_QUIT);
	expect_span(c.arg, c.arg_len, "gone for lunch");
	c = parse("/quit");
	ck_assert_int_eq(c.kind, COMMAND_QUIT);
	ck_assert(!c.usage);
	ck_assert_uint_eq(c.arg_len, 0);
	ck_assert_int_eq(parse("/who").kind, COMMAND_WHO);
	ck_assert_int_eq(parse("/Who ignored").kind, COMMAND_WHO);
	ck_assert_int_eq(parse("/help").kind, COMMAND_HELP);
}
END_TEST

START_TEST(test_unknown)
{
	struct command c = parse("/x");

	ck_assert_int_eq(c.kind, COMMAND_UNKNOWN);
	expect_span(c.target, c.target_len, "/x");
	c = parse("/whois bob");
	ck_assert_int_eq(c.kind, COMMAND_UNKNOWN);
	expect_span(c.target, c.target_len, "/whois");
	/* A prefix of a command is not that command. */
	ck_assert_int_eq(parse("/ni bob").kind, COMMAND_UNKNOWN);
	ck_assert_int_eq(parse("/nickname bob").kind, COMMAND_UNKNOWN);
	c = parse("/");
	ck_assert_int_eq(c.kind, COMMAND_UNKNOWN);
	expect_span(c.target, c.target_len, "/");
	ck_assert_str_eq(command_usage(COMMAND_UNKNOWN), "");
}
END_TEST

static Suite *
command_suite(void)
{
	Suite *s = suite_create("command");
	TCase *tc = tcase_create("parse");

	tcase_add_test(tc, test_text);
	tcase_add_test(tc, test_nick);
	tcase_add_test(tc, test_msg);
	tcase_add_test(tc, test_others);
	tcase_add_test(tc, test_unknown);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(command_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
