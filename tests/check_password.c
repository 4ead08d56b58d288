/* check_password.c - loading the room password and comparing it. */
#include "config.h"

#include <sys/stat.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "password.h"

static char dir[] = "/tmp/check_password.XXXXXX";

/* Writes content to dir/name with mode; returns the path (static). */
static const char *
file(const char *name, const char *content, mode_t mode)
{
	static char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fputs(content, f);
	fclose(f);
	ck_assert_int_eq(chmod(path, mode), 0);
	return path;
}

START_TEST(test_load)
{
	char *pw, err[512];

	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(
	    password_load(file("ok", "s3cret pass\r\nsecond\n", 0600), &pw, err,
	        sizeof(err)),
	    0);
	ck_assert_str_eq(pw, "s3cret pass");
	password_free(pw);
	ck_assert_int_eq(
	    password_load(file("nonl", "密码", 0400), &pw, err, sizeof(err)),
	    0);
	ck_assert_str_eq(pw, "密码");
	password_free(pw);
	/* Readable by others: refused, saying how to fix it. */
	ck_assert_int_eq(
	    password_load(file("open", "x\n", 0644), &pw, err, sizeof(err)),
	    -1);
	ck_assert_msg(strstr(err, "chmod 600") != NULL, "%s", err);
	ck_assert_int_eq(
	    password_load(file("group", "x\n", 0640), &pw, err, sizeof(err)),
	    -1);
	ck_assert_int_eq(
	    password_load(file("empty", "\nx\n", 0600), &pw, err, sizeof(err)),
	    -1);
	ck_assert_msg(strstr(err, "empty") != NULL, "%s", err);
	ck_assert_int_eq(
	    password_load("/nonexistent/pw", &pw, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "No such file") != NULL, "%s", err);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

START_TEST(test_matches)
{
	ck_assert(password_matches("s3cret", "s3cret", 6));
	ck_assert(!password_matches("s3cret", "s3cre", 5));
	ck_assert(!password_matches("s3cret", "s3crets", 7));
	ck_assert(!password_matches("s3cret", "S3cret", 6));
	ck_assert(!password_matches("s3cret", "", 0));
	/* A prefix repeated does not pass for the password. */
	ck_assert(!password_matches("ab", "abab", 4));
	ck_assert(password_matches("密码", "密码", strlen("密码")));
	ck_assert(!password_matches("s3cret", "s3cret\0", 7));
}
END_TEST

static Suite *
password_suite(void)
{
	Suite *s = suite_create("password");
	TCase *tc = tcase_create("password");

	tcase_add_test(tc, test_load);
	tcase_add_test(tc, test_matches);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(password_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
