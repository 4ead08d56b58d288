/*
 * check_password.c - the room password: loading it and comparing it,
 * then the real tcpchatd with --password-file and clients speaking as
 * nc would over 127.0.0.1 (right, wrong, too many tries, nothing heard
 * or shown before it is given, the transcript and console free of it),
 * and tcpchat --password-file sending it.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <check.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "net.h"
#include "password.h"
#include "testutil.h"

#define WAIT_MS 5000
#define PASSWORD "open sesame 42"
/* What a client says before it is in: never shown, logged or relayed. */
#define GUESS "guess-xyzzy"
#define PROMPT "tcpchatd: password required\n"
#define WRONG "tcpchatd: error: wrong password\n"

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

/* ---- tcpchatd --password-file ------------------------------------------ */

/* A private directory with the password file (mode 600) and the log. */
struct room_files {
	char dir[64];
	char password[96];
	char log[96];
};

static void
room_files_make(struct room_files *f, const char *content, mode_t mode)
{
	FILE *fp;

	snprintf(f->dir, sizeof(f->dir), "/tmp/check_password.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(f->dir));
	snprintf(f->password, sizeof(f->password), "%s/pw", f->dir);
	snprintf(f->log, sizeof(f->log), "%s/log", f->dir);
	ck_assert_ptr_nonnull(fp = fopen(f->password, "w"));
	fputs(content, fp);
	fclose(fp);
	ck_assert_int_eq(chmod(f->password, mode), 0);
}

static void
room_files_remove(struct room_files *f)
{
	unlink(f->password);
	unlink(f->log);
	ck_assert_int_eq(rmdir(f->dir), 0);
}

/* One raw client, as nc would hold it. */
struct peer {
	int fd;
	char addr[NET_ADDRSTRLEN];
};

/*
 * Connects p: it must be greeted with the prompt and nothing else, and
 * the console must say so next.
 */
static void
peer_connect(struct testutil_chatd *d, struct peer *p, int id)
{
	p->fd = testutil_connect(d->port);
	ck_assert_int_eq(net_local_name(p->fd, p->addr, sizeof(p->addr)), 0);
	testutil_expect_str(p->fd, PROMPT);
	testutil_chatd_expect_next(
	    d, "#%d %s connected, password required", id, p->addr);
}

/* p gives a wrong password: the answer comes after a second. */
static void
peer_wrong(struct testutil_chatd *d, struct peer *p, int id, int n)
{
	uint64_t began = clock_now_ms();

	testutil_send_str(p->fd, GUESS "\n");
	testutil_expect_str(p->fd, WRONG);
	ck_assert_uint_ge(clock_now_ms() - began, 990);
	testutil_chatd_expect_next(
	    d, "#%d %s: wrong password (%d of 3)", id, p->addr, n);
}

/* Everything tcpchatd wrote and logged must hold neither secret. */
static void
expect_no_secrets(const char *what, const char *text)
{
	ck_assert_msg(strstr(text, PASSWORD) == NULL,
	    "%s shows the password:\n%s", what,
	    testutil_visible(text, strlen(text)));
	ck_assert_msg(strstr(text, GUESS) == NULL,
	    "%s shows what a client said before it was in:\n%s", what,
	    testutil_visible(text, strlen(text)));
}

/* Stops d and scans its console and transcript; returns the transcript. */
static char *
room_stop_and_scan(struct testutil_chatd *d, const struct room_files *f)
{
	char *console = NULL, *errors = NULL, *log;
	FILE *fp;
	long len;

	ck_assert_int_eq(kill(d->proc.pid, SIGTERM), 0);
	int status = testutil_chatd_wait(d, &console, &errors);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "status %#x, stderr: %s", status, errors);
	expect_no_secrets("the console", console);
	expect_no_secrets("stderr", errors);
	free(console);
	free(errors);
	ck_assert_ptr_nonnull(fp = fopen(f->log, "r"));
	fseek(fp, 0, SEEK_END);
	len = ftell(fp);
	rewind(fp);
	log = calloc(1, (size_t)len + 1);
	ck_assert_ptr_nonnull(log);
	ck_assert_int_eq(fread(log, 1, (size_t)len, fp), len);
	fclose(fp);
	expect_no_secrets("the transcript", log);
	return log;
}

START_TEST(test_outsiders_hear_nothing)
{
	struct room_files f;
	struct testutil_chatd d;
	struct peer alice, out[3];
	char line[256];

	room_files_make(&f, PASSWORD "\nnot this line\n", 0600);
	const char *const extra[] = {
	    "--password-file", f.password, "--log", f.log, NULL};
	testutil_chatd_start(&d, "room", extra);
	peer_connect(&d, &alice, 1);
	testutil_send_str(alice.fd, PASSWORD "\n");
	testutil_chatd_expect_next(
	    &d, "#1 %s authenticated (1 online)", alice.addr);
	ck_assert_str_eq(testutil_expect_welcome(alice.fd, 1),
	    "tcpchatd: welcome, you are #1; nobody else online; /help for "
	    "commands");
	/* Three outside at once: not online, not announced. */
	for (int i = 0; i < 3; i++)
		peer_connect(&d, &out[i], i + 2);
	peer_wrong(&d, &out[0], 2, 1);
	/* The room talks; the operator speaks to all, and to #2. */
	testutil_send_str(alice.fd, "hello room\n");
	testutil_chatd_expect_next(&d, "#1 %s: hello room", alice.addr);
	testutil_chatd_type(&d, "/msg 2 psst");
	testutil_chatd_expect_next(&d,
	    "#2 %s: not delivered (no password given yet): psst", out[0].addr);
	/* Nobody else is online to those inside. */
	testutil_send_str(alice.fd, "/who\n");
	ck_assert_int_gt(testutil_read_line(alice.fd, line, sizeof(line),
	                     testutil_wait_ms(WAIT_MS)),
	    0);
	ck_assert_str_eq(line, "tcpchatd: 1 online:");
	ck_assert_int_gt(testutil_read_line(alice.fd, line, sizeof(line),
	                     testutil_wait_ms(WAIT_MS)),
	    0);
	ck_assert_msg(strncmp(line, "tcpchatd:   #1, ", 16) == 0 &&
	        strcmp(line + strlen(line) - 5, ", you") == 0,
	    "%s", line);
	/*
	 * Each comes in in turn: the first thing it hears is the history
	 * and its welcome, so nothing of the room reached it before.
	 */
	for (int i = 0; i < 3; i++) {
		char want[64];
		testutil_send_str(out[i].fd, PASSWORD "\n");
		testutil_expect_str(
		    out[i].fd, "tcpchatd: history: #1: hello room\n");
		testutil_expect_welcome(out[i].fd, i + 2);
		snprintf(want, sizeof(want),
		    "tcpchatd: #%d joined (%d online)\n", i + 2, i + 2);
		testutil_expect_str(alice.fd, want);
		for (int j = 0; j < i; j++)
			testutil_expect_str(out[j].fd, want);
	}
	testutil_chatd_expect(
	    &d, "#4 %s authenticated (4 online)", out[2].addr);
	testutil_send_str(out[0].fd, "now I am in\n");
	testutil_expect_str(alice.fd, "#2: now I am in\n");
	testutil_expect_str(out[1].fd, "#2: now I am in\n");
	testutil_expect_str(out[2].fd, "#2: now I am in\n");
	int fds[] = {alice.fd, out[0].fd, out[1].fd, out[2].fd};
	testutil_chatd_sync(&d, fds, 4, "sync", 1);
	char *log = room_stop_and_scan(&d, &f);
	ck_assert_msg(strstr(log, "wrong password (1 of 3)") != NULL &&
	        strstr(log, "hello room") != NULL &&
	        strstr(log, "now I am in") != NULL,
	    "transcript: %s", log);
	free(log);
	for (int i = 0; i < 3; i++)
		close(out[i].fd);
	close(alice.fd);
	room_files_remove(&f);
}
END_TEST

START_TEST(test_three_tries_then_closed)
{
	struct room_files f;
	struct testutil_chatd d;
	struct peer alice, bob, carol;
	char line[256];

	room_files_make(&f, PASSWORD "\n", 0400);
	const char *const extra[] = {"--password-file", f.password, "--log",
	    f.log, "--max-per-ip", "3", NULL};
	testutil_chatd_start(&d, "room", extra);
	peer_connect(&d, &alice, 1);
	testutil_send_str(alice.fd, PASSWORD "\n");
	testutil_chatd_expect_next(
	    &d, "#1 %s authenticated (1 online)", alice.addr);
	testutil_expect_welcome(alice.fd, 1);
	peer_connect(&d, &bob, 2);
	peer_wrong(&d, &bob, 2, 1);
	/* The rest at once: a second each, the third closes. */
	uint64_t began = clock_now_ms();
	testutil_send_str(bob.fd, GUESS "2\n" GUESS "3\n" PASSWORD "\n");
	testutil_expect_str(bob.fd, WRONG WRONG);
	ck_assert_int_eq(
	    testutil_wait_eof(bob.fd, testutil_wait_ms(WAIT_MS)), 1);
	ck_assert_uint_ge(clock_now_ms() - began, 1990);
	testutil_chatd_expect_next(
	    &d, "#2 %s: wrong password (2 of 3)", bob.addr);
	testutil_chatd_expect_next(
	    &d, "#2 %s: wrong password (3 of 3)", bob.addr);
	testutil_chatd_expect_next(
	    &d, "#2 %s disconnected: wrong password", bob.addr);
	/* Alice heard nothing of it. */
	testutil_chatd_sync(&d, &alice.fd, 1, "sync", 1);
	/*
	 * The three wrong ones hold --max-per-ip slots for a while, with
	 * alice's: the next client from this address is turned away.
	 */
	carol.fd = testutil_connect(d.port);
	ck_assert_int_gt(testutil_read_line(carol.fd, line, sizeof(line),
	                     testutil_wait_ms(WAIT_MS)),
	    0);
	ck_assert_str_eq(
	    line, "tcpchatd: too many connections from your address (max 3)");
	close(carol.fd);
	testutil_chatd_expect_sub(&d, "refused: over --max-per-ip");
	free(room_stop_and_scan(&d, &f));
	close(bob.fd);
	close(alice.fd);
	room_files_remove(&f);
}
END_TEST

START_TEST(test_chat_mode_and_tcpchat)
{
	struct room_files f;
	struct testutil_chatd d;
	struct testutil_proc client;
	struct peer bob;
	char port[16], out[1024], err[1024];

	room_files_make(&f, PASSWORD "\n", 0600);
	const char *const extra[] = {
	    "--password-file", f.password, "--log", f.log, NULL};
	testutil_chatd_start(&d, "chat", extra);
	/* Outside, its lines go nowhere; inside, to the operator. */
	peer_connect(&d, &bob, 1);
	peer_wrong(&d, &bob, 1, 1);
	testutil_send_str(bob.fd, PASSWORD "\nhello operator\n");
	testutil_chatd_expect_next(
	    &d, "#1 %s authenticated (1 online)", bob.addr);
	testutil_chatd_expect_next(&d, "#1 %s: hello operator", bob.addr);
	testutil_chatd_type(&d, "/msg 1 hi bob");
	testutil_expect_str(bob.fd, "hi bob\n");
	close(bob.fd);
	testutil_chatd_expect_sub(&d, "#1 ");
	/* tcpchat sends it first; the prompt is not shown. */
	snprintf(port, sizeof(port), "%d", d.port);
	const char *argv[] = {testutil_program("tcpchat"), "--password-file",
	    f.password, "-m", "question", "127.0.0.1", port, NULL};
	testutil_spawn(&client, (char *const *)argv);
	testutil_chatd_expect_sub(&d, "authenticated");
	testutil_chatd_expect_sub(&d, ": question");
	testutil_chatd_type(&d, "/msg 2 answer");
	int status = testutil_proc_collect(&client, out, sizeof(out), err,
	    sizeof(err), testutil_wait_ms(WAIT_MS));
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "status %#x, stderr: %s", status, err);
	ck_assert_str_eq(out, "answer\n");
	ck_assert_str_eq(err, "");
	free(room_stop_and_scan(&d, &f));
	room_files_remove(&f);
}
END_TEST

/* Runs argv to its end: its exit status, with stderr in err. */
static int
run_to_end(const char *const argv[], char *err, size_t errcap)
{
	struct testutil_proc p;
	char out[1024];

	testutil_spawn(&p, (char *const *)argv);
	close(p.in_fd);
	int status = testutil_proc_collect(
	    &p, out, sizeof(out), err, errcap, testutil_wait_ms(WAIT_MS));
	ck_assert(WIFEXITED(status));
	return WEXITSTATUS(status);
}

START_TEST(test_file_rules)
{
	struct room_files f;
	char err[4096];

	room_files_make(&f, PASSWORD "\n", 0644);
	const char *const open_file[] = {testutil_program("tcpchatd"), "-m",
	    "room", "-p", "0", "--password-file", f.password, NULL};
	ck_assert_int_eq(run_to_end(open_file, err, sizeof(err)), 1);
	ck_assert_msg(strstr(err, "may be read by others (mode 644)") != NULL &&
	        strchr(err, '\n') == err + strlen(err) - 1,
	    "stderr: %s", err);
	const char *const client[] = {testutil_program("tcpchat"),
	    "--password-file", f.password, "-m", "x", "127.0.0.1", "1", NULL};
	ck_assert_int_eq(run_to_end(client, err, sizeof(err)), 1);
	ck_assert_msg(strstr(err, "chmod 600") != NULL, "stderr: %s", err);
	ck_assert_int_eq(chmod(f.password, 0600), 0);
	const char *const echo[] = {testutil_program("tcpchatd"), "-m", "echo",
	    "-p", "0", "--password-file", f.password, NULL};
	ck_assert_int_eq(run_to_end(echo, err, sizeof(err)), 2);
	ck_assert_msg(
	    strstr(err, "--password-file needs chat or room mode") != NULL,
	    "stderr: %s", err);
	room_files_remove(&f);
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

	tc = tcase_create("room");
	tcase_add_test(tc, test_outsiders_hear_nothing);
	tcase_add_test(tc, test_three_tries_then_closed);
	tcase_add_test(tc, test_chat_mode_and_tcpchat);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);

	tc = tcase_create("files");
	tcase_add_test(tc, test_file_rules);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(password_suite());
	int failed;

	signal(SIGPIPE, SIG_IGN);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
