/*
 * check_console.c - the operator consoles of the real tcpchatd: strict
 * commands and confirmations, /r, the chosen client that leaves, the
 * overlong line, escaping of the operator's own input, several
 * operators on the control socket at once (each with its own /to), a
 * stuck operator dropped, refused peers, and the terminal console on a
 * pseudo-terminal (end of input, tab completion, the prompt).
 *
 * A client received nothing unexpected when a later message to it is
 * the first thing it reads (console commands keep their order).
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "clock.h"
#include "io.h"
#include "lineedit.h"
#include "net.h"
#include "testutil.h"

#define WAIT_MS 5000

/* The helpers' names, short. */
#define dir_make(dir, size) testutil_tmpdir(dir, size, "check_console")
#define dir_remove testutil_rmdir
#define client_join testutil_client_join
#define clients_sync(d, cs, n) testutil_clients_sync(d, cs, n, "sync", 0)

static void
client_expect(struct testutil_client *c, const char *want)
{
	testutil_expect_str(c->fd, want);
}

static void
client_close(struct testutil_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

/* The next console line starts with prefix. */
static void
expect_next_prefix(struct testutil_chatd *d, const char *prefix)
{
	ssize_t n = testutil_read_line(d->proc.out_fd, d->line, sizeof(d->line),
	    testutil_wait_ms(WAIT_MS));

	ck_assert_msg(n >= 0 && strncmp(d->line, prefix, strlen(prefix)) == 0,
	    "expected a line starting \"%s\", got \"%s\"", prefix,
	    n >= 0 ? testutil_visible(d->line, (size_t)n) : "(nothing)");
}

/* ---- strict commands ------------------------------------------------- */

START_TEST(test_strict_commands)
{
	static const struct {
		const char *typed, *answer;
	} cases[] = {
	    {"/msg 2", "usage: /msg ID TEXT"},
	    {"/msg 2    ", "usage: /msg ID TEXT"},
	    {"/msg two hello", "no such client two"},
	    {"/msg 2x hello", "no such client #2x"},
	    {"/all", "usage: /all TEXT"},
	    {"/all   ", "usage: /all TEXT"},
	    {"/list now", "usage: /list"},
	    {"/stats please", "usage: /stats"},
	    {"/help me", "usage: /help"},
	    {"/quit now", "usage: /quit"},
	    {"/kick", "usage: /kick ID [REASON]"},
	    {"/kick nobody now", "no such client nobody"},
	    {"/to 1 2", "usage: /to ID (or /to alone: none)"},
	    {"/to x", "no such client x"},
	    {"/r", "usage: /r TEXT (nobody has spoken yet)"},
	    {"/bogus", "unknown command /bogus (try /help)"},
	    {"/Quit", "unknown command /Quit (try /help)"},
	    {"/alls hi", "unknown command /alls (try /help)"},
	};
	struct testutil_chatd d;
	struct testutil_client cs[2];

	testutil_clients_start(&d, "chat", NULL, cs, 2);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		testutil_chatd_type(&d, cases[i].typed);
		testutil_chatd_expect_next(&d, "%s", cases[i].answer);
	}
	/* Nothing went to anyone, and /quit now did not stop the server. */
	clients_sync(&d, cs, 2);
	testutil_chatd_expect_next(&d, "-> all (2): sync");
	testutil_clients_done(&d, cs, 2);
}
END_TEST

/* ---- confirmations ----------------------------------------------------- */

START_TEST(test_confirmations)
{
	struct testutil_chatd d;
	struct testutil_client cs[2];
	char *line = malloc(6000), *want = malloc(6000);

	ck_assert_ptr_nonnull(line);
	ck_assert_ptr_nonnull(want);
	testutil_clients_start(&d, "chat", NULL, cs, 2);
	testutil_chatd_type(&d, "/msg 2 hello");
	client_expect(&cs[1], "hello\n");
	testutil_chatd_expect_next(&d, "-> #2: hello");
	testutil_chatd_type(&d, "/all 你好，世界");
	testutil_chatd_expect_next(&d, "-> all (2): 你好，世界");
	testutil_chatd_type(&d, "/to 1");
	testutil_chatd_expect_next(&d, "talking to #1 %s", cs[0].addr);
	testutil_chatd_type(&d, "plain for one");
	testutil_chatd_expect_next(&d, "-> #1: plain for one");
	testutil_chatd_type(&d, "//slash");
	testutil_chatd_expect_next(&d, "-> #1: /slash");
	client_expect(&cs[0], "你好，世界\nplain for one\n/slash\n");
	client_expect(&cs[1], "你好，世界\n");
	/* A long text: its start, and its size. */
	memcpy(line, "/msg 2 ", 7);
	memset(line + 7, 'x', 5000);
	line[5007] = '\0';
	testutil_chatd_type(&d, line);
	memset(want, 'x', 1024);
	want[1024] = '\0';
	testutil_chatd_expect_next(&d, "-> #2: %s... (5000 bytes)", want);
	line[5007] = '\n';
	line[5008] = '\0';
	client_expect(&cs[1], line + 7);
	clients_sync(&d, cs, 2);
	testutil_clients_done(&d, cs, 2);
	free(line);
	free(want);
}
END_TEST

START_TEST(test_room_confirmation)
{
	struct testutil_chatd d;
	struct testutil_client cs[3];

	testutil_clients_start(&d, "room", NULL, cs, 3);
	testutil_expect_str(cs[0].fd,
	    "tcpchatd: #2 joined (2 online)\n"
	    "tcpchatd: #3 joined (3 online)\n");
	testutil_expect_str(cs[1].fd, "tcpchatd: #3 joined (3 online)\n");
	testutil_chatd_type(&d, "welcome");
	testutil_chatd_expect_next(&d, "-> all (3): welcome");
	for (int i = 0; i < 3; i++)
		client_expect(&cs[i], "operator: welcome\n");
	testutil_clients_done(&d, cs, 3);
}
END_TEST

/* ---- /r ---------------------------------------------------------------- */

START_TEST(test_reply_to_last_speaker)
{
	struct testutil_chatd d;
	struct testutil_client cs[3];

	testutil_clients_start(&d, "chat", NULL, cs, 3);
	testutil_chatd_type(&d, "/r anyone?");
	testutil_chatd_expect_next(&d, "nobody has spoken yet: nothing sent");
	testutil_send_str(cs[1].fd, "question from two\n");
	testutil_chatd_expect_next(&d, "#2 %s: question from two", cs[1].addr);
	testutil_chatd_type(&d, "/r answer for two");
	testutil_chatd_expect_next(&d, "-> #2: answer for two");
	client_expect(&cs[1], "answer for two\n");
	testutil_send_str(cs[2].fd, "and three\n");
	testutil_chatd_expect_next(&d, "#3 %s: and three", cs[2].addr);
	testutil_chatd_type(&d, "/r");
	testutil_chatd_expect_next(
	    &d, "usage: /r TEXT (answers the last to speak: #3)");
	testutil_chatd_type(&d, "/reply for three");
	testutil_chatd_expect_next(&d, "-> #3: for three");
	client_expect(&cs[2], "for three\n");
	/* The last to speak left: nobody else gets the answer. */
	client_close(&cs[2]);
	testutil_chatd_expect_next(
	    &d, "#3 %s disconnected: closed (2 online)", cs[2].addr);
	testutil_chatd_type(&d, "/r too late");
	testutil_chatd_expect_next(&d, "no such client #3");
	clients_sync(&d, cs, 3);
	testutil_clients_done(&d, cs, 2);
}
END_TEST

/* ---- the chosen client leaves ------------------------------------------- */

START_TEST(test_chosen_client_kicked)
{
	struct testutil_chatd d;
	struct testutil_client cs[2];

	testutil_clients_start(&d, "chat", NULL, cs, 2);
	testutil_chatd_type(&d, "/to 2");
	testutil_chatd_expect_next(&d, "talking to #2 %s", cs[1].addr);
	testutil_chatd_type(&d, "/kick 2");
	client_expect(&cs[1], "tcpchatd: disconnected by the operator\n");
	testutil_chatd_expect_next(
	    &d, "#2 %s disconnected: kicked (1 online)", cs[1].addr);
	testutil_chatd_expect_next(
	    &d, "#2 %s has left: no client chosen", cs[1].addr);
	/* One client online, but the text was meant for #2: not sent. */
	testutil_chatd_type(&d, "still there?");
	testutil_chatd_expect_next(
	    &d, "nothing sent: #2 has left (choose a client with /to ID)");
	testutil_chatd_type(&d, "again");
	testutil_chatd_expect_next(
	    &d, "nothing sent: #2 has left (choose a client with /to ID)");
	/* /to alone clears it: the only client gets plain text again. */
	testutil_chatd_type(&d, "/to");
	testutil_chatd_expect_next(&d, "no client chosen");
	testutil_chatd_type(&d, "now for one");
	testutil_chatd_expect_next(&d, "-> #1: now for one");
	client_expect(&cs[0], "now for one\n");
	testutil_clients_done(&d, cs, 2);
}
END_TEST

/* ---- the overlong console line ------------------------------------------ */

START_TEST(test_overlong_console_line)
{
	enum { LONG = 70000 };
	struct testutil_chatd d;
	struct testutil_client c;
	char *buf = malloc(2 * LONG + 64);
	static const char notice[] = "tcpchatd: console line too long (max "
	                             "65536 bytes): ignored, nothing sent";

	ck_assert_ptr_nonnull(buf);
	testutil_clients_start(&d, "chat", NULL, &c, 1);
	testutil_chatd_type(&d, "/to 1");
	testutil_chatd_expect_next(&d, "talking to #1 %s", c.addr);
	/* Two overlong lines and a short one, all in one write. */
	memset(buf, 'L', LONG);
	buf[LONG] = '\n';
	memset(buf + LONG + 1, 'A', LONG);
	buf[2 * LONG + 1] = '\n';
	memcpy(buf + 2 * LONG + 2, "ok\n", 3);
	ck_assert_int_eq(
	    io_write_full(d.proc.in_fd, buf, 2 * LONG + 5), 2 * LONG + 5);
	testutil_chatd_expect_next(&d, "%s", notice);
	testutil_chatd_expect_next(&d, "%s", notice);
	testutil_chatd_expect_next(&d, "-> #1: ok");
	/* An overlong line in small pieces, its end in the last one. */
	for (int i = 0; i < LONG / 1000; i++)
		ck_assert_int_eq(io_write_full(d.proc.in_fd, buf, 1000), 1000);
	testutil_chatd_type(&d, "LLL tail");
	testutil_chatd_expect_next(&d, "%s", notice);
	testutil_chatd_type(&d, "next");
	testutil_chatd_expect_next(&d, "-> #1: next");
	/* Nothing of the long lines ever reached the client. */
	client_expect(&c, "ok\nnext\n");
	testutil_clients_done(&d, &c, 1);
	free(buf);
}
END_TEST

/* ---- the operator's own input goes through the escaper ------------------- */

START_TEST(test_operator_input_escaped)
{
	struct testutil_chatd d;
	struct testutil_client c;

	testutil_clients_start(&d, "chat", NULL, &c, 1);
	testutil_chatd_type(&d, "/bogus\x03\x10\x1b[2J");
	testutil_chatd_expect_next(
	    &d, "unknown command /bogus\\x03\\x10\\x1b[2J (try /help)");
	testutil_chatd_type(&d, "/msg 1 bell\x07 \xe2\x80\xae rlo");
	testutil_chatd_expect_next(&d, "-> #1: bell\\x07 \\u202e rlo");
	/* The client gets what the operator typed, byte for byte. */
	client_expect(&c, "bell\x07 \xe2\x80\xae rlo\n");
	/* A backslash typed is shown as one (\\), never as an escape. */
	testutil_chatd_type(&d, "/msg 1 typed \\x1b");
	testutil_chatd_expect_next(&d, "-> #1: typed \\\\x1b");
	client_expect(&c, "typed \\x1b\n");
	testutil_chatd_type(&d, "/to 9\x1b");
	testutil_chatd_expect_next(&d, "no such client #9\\x1b");
	testutil_clients_done(&d, &c, 1);
}
END_TEST

/* ---- shutdown ------------------------------------------------------------ */

START_TEST(test_no_commands_after_quit)
{
	struct testutil_chatd d;
	struct testutil_client c;
	char *console, *errors;

	testutil_clients_start(&d, "chat", NULL, &c, 1);
	/* In one write: the lines after /quit are not acted on. */
	testutil_send_str(d.proc.in_fd, "/quit\n/all late\n/list\n");
	client_expect(&c, "tcpchatd: server shutting down\n");
	ck_assert_int_eq(testutil_wait_eof(c.fd, testutil_wait_ms(WAIT_MS)), 1);
	client_close(&c);
	int status = testutil_chatd_wait(&d, &console, &errors);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_msg(strstr(console,
	                  "tcpchatd: shutting down, telling 1 "
	                  "client\n") != NULL,
	    "%s", console);
	ck_assert_msg(strstr(console, "-> all") == NULL &&
	        strstr(console, "clients online") == NULL &&
	        strstr(console, "client online") == NULL,
	    "commands after /quit ran:\n%s", console);
	const char *stopped = strstr(console, "tcpchatd: stopped\n");
	ck_assert_ptr_nonnull(stopped);
	ck_assert_str_eq(stopped, "tcpchatd: stopped\n");
	free(console);
	free(errors);
}
END_TEST

/* The console's input ends: the server goes on serving. */
START_TEST(test_piped_console_end_keeps_serving)
{
	struct testutil_chatd d;
	struct testutil_client c;

	testutil_clients_start(&d, "chat", NULL, &c, 1);
	testutil_send_str(d.proc.in_fd, "/msg 1 the script's last line");
	close(d.proc.in_fd);
	d.proc.in_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	/* An unterminated last line still counts. */
	client_expect(&c, "the script's last line\n");
	testutil_send_str(c.fd, "still served\n");
	testutil_chatd_expect(&d, "#1 %s: still served", c.addr);
	struct testutil_client late;
	client_join(&d, &late, 2, 2);
	client_close(&c);
	client_close(&late);
	testutil_chatd_stop(&d);
}
END_TEST

/* A named pipe as the console: every writer's script is read in turn. */
START_TEST(test_fifo_console)
{
	char dir[64], fifo[96], port[16];
	struct testutil_chatd d;
	struct testutil_client c;
	int in[2], out[2], err[2];

	dir_make(dir, sizeof(dir));
	snprintf(fifo, sizeof(fifo), "%s/console", dir);
	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	snprintf(port, sizeof(port), "%d", testutil_free_port());
	ck_assert_int_eq(pipe2(in, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(err, O_CLOEXEC), 0);
	d.proc.pid = fork();
	ck_assert_int_ne(d.proc.pid, -1);
	if (d.proc.pid == 0) {
		/* Non-blocking: no writer needed to open it. */
		int fd = open(fifo, O_RDONLY | O_NONBLOCK);
		dup2(fd, 0);
		dup2(out[1], 1);
		dup2(err[1], 2);
		execl(testutil_program("tcpchatd"), "tcpchatd", "-p", port,
		    "-m", "chat", (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	close(in[0]);
	d.proc.in_fd = in[1];
	d.proc.out_fd = out[0];
	d.proc.err_fd = err[0];
	d.port = atoi(port);
	testutil_chatd_expect_sub(&d, "listening on");
	client_join(&d, &c, 1, 1);
	for (int i = 0; i < 3; i++) {
		char cmd[64], want[64];
		int w = open(fifo, O_WRONLY | O_CLOEXEC);
		ck_assert_int_ge(w, 0);
		snprintf(cmd, sizeof(cmd), "/msg 1 script %d\n", i);
		testutil_send_str(w, cmd);
		close(w);
		snprintf(want, sizeof(want), "script %d\n", i);
		client_expect(&c, want);
	}
	testutil_clients_done(&d, &c, 1);
	dir_remove(dir);
}
END_TEST

/* ---- operators on the control socket ------------------------------------ */

/* Starts tcpchatd in mode with --control dir/control and extra args. */
static void
control_start(struct testutil_chatd *d, const char *mode, const char *dir,
    char *path, size_t size, const char *const extra[])
{
	const char *args[16];
	int n = 0;

	snprintf(path, size, "%s/control", dir);
	args[n++] = "--control";
	args[n++] = path;
	for (int i = 0; extra != NULL && extra[i] != NULL && n < 15; i++)
		args[n++] = extra[i];
	args[n] = NULL;
	testutil_chatd_start(d, mode, args);
}

START_TEST(test_two_operators)
{
	char dir[64], path[96];
	struct testutil_chatd d, a, b;
	struct testutil_client cs[2];
	struct stat st;

	dir_make(dir, sizeof(dir));
	control_start(&d, "chat", dir, path, sizeof(path), NULL);
	/* The socket: mode 0600, ours. */
	ck_assert_int_eq(lstat(path, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_int_eq(st.st_mode & 07777, 0600);
	ck_assert_int_eq(st.st_uid, geteuid());

	testutil_operator_attach(&a, path);
	testutil_chatd_expect_next(&a,
	    "tcpchatd: operator attached: control #1 (uid %u)",
	    (unsigned)geteuid());
	testutil_operator_attach(&b, path);
	testutil_chatd_expect_next(&b,
	    "tcpchatd: operator attached: control #2 (uid %u)",
	    (unsigned)geteuid());
	testutil_chatd_expect_next(&a,
	    "tcpchatd: operator attached: control #2 (uid %u)",
	    (unsigned)geteuid());
	client_join(&d, &cs[0], 1, 1);
	testutil_chatd_expect_next(
	    &a, "#1 %s connected (1 online)", cs[0].addr);
	testutil_chatd_expect_next(
	    &b, "#1 %s connected (1 online)", cs[0].addr);
	client_join(&d, &cs[1], 2, 2);
	testutil_chatd_expect_next(
	    &a, "#2 %s connected (2 online)", cs[1].addr);
	testutil_chatd_expect_next(
	    &b, "#2 %s connected (2 online)", cs[1].addr);

	/* Each its own chosen client. */
	testutil_chatd_type(&a, "/to 1");
	testutil_chatd_expect_next(&a, "talking to #1 %s", cs[0].addr);
	testutil_chatd_type(&b, "/to 2");
	testutil_chatd_expect_next(&b, "talking to #2 %s", cs[1].addr);
	testutil_chatd_type(&a, "from a");
	testutil_chatd_expect_next(&a, "-> #1: from a");
	client_expect(&cs[0], "from a\n");
	testutil_chatd_type(&b, "from b");
	testutil_chatd_expect_next(&b, "-> #2: from b");
	client_expect(&cs[1], "from b\n");
	/* Answers are each one's own: b never saw a's. */
	testutil_chatd_type(&b, "/list");
	testutil_chatd_expect_next(&b, "2 clients online");
	expect_next_prefix(&b, "  #1 ");
	ck_assert_ptr_null(strstr(b.line, "(chosen)"));
	expect_next_prefix(&b, "  #2 ");
	ck_assert_ptr_nonnull(strstr(b.line, "(chosen)"));
	/* Both (and the terminal's console) see a client's message. */
	testutil_send_str(cs[0].fd, "hello operators\n");
	testutil_chatd_expect_next(&a, "#1 %s: hello operators", cs[0].addr);
	testutil_chatd_expect_next(&b, "#1 %s: hello operators", cs[0].addr);
	testutil_chatd_expect(&d, "#1 %s: hello operators", cs[0].addr);
	/* A detaches; b hears of it and goes on. */
	testutil_operator_detach(&a);
	testutil_chatd_expect_next(&b,
	    "tcpchatd: operator control #1 (uid %u) detached",
	    (unsigned)geteuid());
	testutil_chatd_type(&b, "still b");
	testutil_chatd_expect_next(&b, "-> #2: still b");
	client_expect(&cs[1], "still b\n");
	client_close(&cs[0]);
	client_close(&cs[1]);
	/* At shutdown an operator hears it, then the end. */
	kill(d.proc.pid, SIGTERM);
	testutil_chatd_expect_sub(&b, "tcpchatd: stopped");
	ck_assert_int_eq(
	    testutil_wait_eof(b.proc.out_fd, testutil_wait_ms(WAIT_MS)), 1);
	testutil_operator_detach(&b);
	char *errors;
	int status = testutil_chatd_wait(&d, NULL, &errors);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_str_eq(errors, "");
	free(errors);
	/* The socket file went with it. */
	ck_assert_int_eq(lstat(path, &st), -1);
	dir_remove(dir);
}
END_TEST

/* An operator's /quit stops the server; end of its input only detaches. */
START_TEST(test_operator_quit_and_end)
{
	char dir[64], path[96];
	struct testutil_chatd d, a;
	struct testutil_client c;

	dir_make(dir, sizeof(dir));
	control_start(&d, "chat", dir, path, sizeof(path), NULL);
	client_join(&d, &c, 1, 1);
	testutil_operator_attach(&a, path);
	testutil_chatd_expect_sub(&a, "operator attached");
	/* Half-closed: its answer comes, then it is detached. */
	testutil_chatd_type(&a, "/msg 1 bye from a");
	shutdown(a.proc.out_fd, SHUT_WR);
	testutil_chatd_expect_next(&a, "-> #1: bye from a");
	ck_assert_int_eq(
	    testutil_wait_eof(a.proc.out_fd, testutil_wait_ms(WAIT_MS)), 1);
	testutil_operator_detach(&a);
	testutil_chatd_expect_sub(&d, "detached");
	client_expect(&c, "bye from a\n");
	testutil_operator_attach(&a, path);
	testutil_chatd_type(&a, "/quit");
	client_expect(&c, "tcpchatd: server shutting down\n");
	testutil_chatd_expect_sub(&a, "tcpchatd: stopped");
	testutil_operator_detach(&a);
	client_close(&c);
	int status = testutil_chatd_wait(&d, NULL, NULL);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	dir_remove(dir);
}
END_TEST

/* socat is an operator too: lines in, console lines out. */
START_TEST(test_socat_operator)
{
	char dir[64], path[96], target[128], out[4096];
	struct testutil_chatd d;
	struct testutil_proc p;
	struct testutil_client c;

	if (system("command -v socat >/dev/null 2>&1") != 0) {
		fprintf(stderr,
		    "check_console: no socat here (apt-get install "
		    "socat): socat operator test skipped\n");
		return;
	}
	dir_make(dir, sizeof(dir));
	control_start(&d, "chat", dir, path, sizeof(path), NULL);
	client_join(&d, &c, 1, 1);
	snprintf(target, sizeof(target), "UNIX-CONNECT:%s", path);
	const char *argv[] = {"socat", "-", target, NULL};
	testutil_spawn(&p, (char *const *)argv);
	testutil_send_str(p.in_fd, "/msg 1 via socat\n/list\n");
	close(p.in_fd);
	p.in_fd = -1;
	client_expect(&c, "via socat\n");
	size_t n = testutil_drain(p.out_fd, out, sizeof(out),
	    clock_now_ms() + (uint64_t)testutil_wait_ms(WAIT_MS));
	ck_assert_msg(
	    strstr(out, "-> #1: via socat\n1 client online\n  #1 ") != NULL,
	    "socat printed: %s", testutil_visible(out, n));
	p.in_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	ck_assert_int_ne(testutil_proc_wait(&p, testutil_wait_ms(WAIT_MS)), -1);
	testutil_clients_done(&d, &c, 1);
	dir_remove(dir);
}
END_TEST

/*
 * An operator that never reads while clients chat hard: it is detached
 * when its queue is full, the others hear of it, and the clients never
 * wait.
 */
START_TEST(test_stuck_operator_dropped)
{
	enum { TEXT = 4000, ROUNDS = 600 };
	char dir[64], path[96];
	struct testutil_chatd d;
	struct testutil_client cs[2];
	char *line = malloc(TEXT + 2), *want = malloc(TEXT + 8);
	int small = 4096;

	ck_assert_ptr_nonnull(line);
	ck_assert_ptr_nonnull(want);
	dir_make(dir, sizeof(dir));
	/* 600 lines at once: no flood control in the way. */
	const char *const extra[] = {"--max-rate", "0", NULL};
	control_start(&d, "room", dir, path, sizeof(path), extra);
	int stuck = testutil_unix_connect(path);
	ck_assert_int_ge(stuck, 0);
	setsockopt(stuck, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	testutil_chatd_expect_sub(&d, "operator attached: control #1");
	client_join(&d, &cs[0], 1, 1);
	(void)testutil_expect_welcome(cs[0].fd, 1);
	client_join(&d, &cs[1], 2, 2);
	(void)testutil_expect_welcome(cs[1].fd, 2);
	testutil_expect_str(cs[0].fd, "tcpchatd: #2 joined (2 online)\n");
	memset(line, 'm', TEXT);
	line[TEXT] = '\n';
	line[TEXT + 1] = '\0';
	snprintf(want, TEXT + 8, "#1: %s", line);
	/* 2.4 MB of console lines: far past the 1 MiB an operator gets. */
	for (int i = 0; i < ROUNDS; i++) {
		testutil_send_str(cs[0].fd, line);
		testutil_expect_str(cs[1].fd, want);
	}
	testutil_chatd_expect_sub(&d, "tcpchatd: operator control #1");
	ck_assert_msg(
	    strstr(d.line, "too slow, detached") != NULL, "%s", d.line);
	/* The clients go on as before. */
	testutil_send_str(cs[1].fd, "after\n");
	testutil_expect_str(cs[0].fd, "#2: after\n");
	/* What it was sent, then the end. */
	ck_assert_int_eq(
	    testutil_wait_eof(stuck, testutil_wait_ms(WAIT_MS)), 1);
	close(stuck);
	testutil_clients_done(&d, cs, 2);
	dir_remove(dir);
	free(line);
	free(want);
}
END_TEST

/* ---- who may attach ---------------------------------------------------- */

/*
 * In a child that becomes nobody: connects to path and reads what
 * comes.  Returns what it read, or "connect: ERROR".
 */
static void
as_nobody_connect(const char *path, uid_t uid, gid_t gid, char *got, size_t cap)
{
	int out[2];

	ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
	pid_t pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		char buf[256];
		if (setgroups(0, NULL) == -1 || setgid(gid) == -1 ||
		    setuid(uid) == -1)
			_exit(1);
		int fd = testutil_unix_connect(path);
		if (fd == -1) {
			int n = snprintf(
			    buf, sizeof(buf), "connect: %s", strerror(errno));
			(void)!write(out[1], buf, (size_t)n);
			_exit(0);
		}
		size_t n = testutil_read_until(
		    fd, buf, sizeof(buf), "\n", testutil_wait_ms(WAIT_MS));
		if (n > 0)
			(void)!write(out[1], buf, n);
		/* And then the end: the server closed it. */
		if (testutil_wait_eof(fd, testutil_wait_ms(WAIT_MS)))
			(void)!write(out[1], "<eof>", 5);
		_exit(0);
	}
	close(out[1]);
	size_t n = testutil_drain(out[0], got, cap,
	    clock_now_ms() + (uint64_t)testutil_wait_ms(2 * WAIT_MS));
	(void)n;
	close(out[0]);
	waitpid(pid, NULL, 0);
}

START_TEST(test_refused_peer)
{
	char dir[64], path[96], got[512], want[128];
	struct testutil_chatd d, a;
	struct passwd *pw = getpwnam("nobody");

	if (geteuid() != 0 || pw == NULL) {
		fprintf(stderr,
		    "check_console: not root (or no user nobody): the refused "
		    "peer test needs another user, skipped\n");
		return;
	}
	dir_make(dir, sizeof(dir));
	control_start(&d, "chat", dir, path, sizeof(path), NULL);
	testutil_operator_attach(&a, path);
	testutil_chatd_expect_sub(&a, "operator attached");
	/* Mode 0600 keeps nobody out already... */
	ck_assert_int_eq(chmod(dir, 0755), 0);
	as_nobody_connect(path, pw->pw_uid, pw->pw_gid, got, sizeof(got));
	snprintf(want, sizeof(want), "connect: %s", strerror(EACCES));
	ck_assert_str_eq(got, want);
	/* ...and with the mode opened up, the credentials check does. */
	ck_assert_int_eq(chmod(path, 0666), 0);
	as_nobody_connect(path, pw->pw_uid, pw->pw_gid, got, sizeof(got));
	ck_assert_str_eq(got, "tcpchatd: error: permission denied\n<eof>");
	snprintf(want, sizeof(want), "tcpchatd: control socket: uid %u (pid ",
	    (unsigned)pw->pw_uid);
	testutil_chatd_expect_sub(&a, want);
	ck_assert_msg(strstr(a.line, ") refused: permission denied") != NULL,
	    "%s", a.line);
	testutil_operator_detach(&a);
	testutil_chatd_stop(&d);
	dir_remove(dir);
}
END_TEST

/* Runs tcpchatd with args: it must exit 1 at once, saying why. */
static void
expect_start_refused(const char *path, const char *why)
{
	const char *argv[] = {
	    testutil_program("tcpchatd"), "-p", "0", "--control", path, NULL};
	struct testutil_proc p;
	char out[1024], err[1024], want[512];

	testutil_spawn(&p, (char *const *)argv);
	uint64_t deadline =
	    clock_now_ms() + (uint64_t)testutil_wait_ms(WAIT_MS);
	testutil_drain(p.out_fd, out, sizeof(out), deadline);
	testutil_drain(p.err_fd, err, sizeof(err), deadline);
	int status = testutil_proc_wait(&p, testutil_wait_ms(WAIT_MS));
	ck_assert_msg(
	    status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 1,
	    "status %#x, stderr %s", status, err);
	ck_assert_str_eq(out, "");
	snprintf(want, sizeof(want), "tcpchatd: --control %s %s\n", path, why);
	ck_assert_str_eq(err, want);
}

START_TEST(test_control_path_checked)
{
	char dir[64], path[96];
	struct testutil_chatd d;
	struct stat st;

	dir_make(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/control", dir);
	/* A file is never replaced. */
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	close(fd);
	expect_start_refused(
	    path, "exists and is not a socket: not replacing it");
	ck_assert_int_eq(lstat(path, &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	unlink(path);
	/* A running server's socket is not taken over. */
	control_start(&d, "chat", dir, path, sizeof(path), NULL);
	expect_start_refused(path, "is in use: another tcpchatd answers on it");
	testutil_chatd_stop(&d);
	ck_assert_int_eq(lstat(path, &st), -1);
	/* A stale socket (its server killed) is replaced. */
	control_start(&d, "chat", dir, path, sizeof(path), NULL);
	kill(d.proc.pid, SIGKILL);
	testutil_chatd_wait(&d, NULL, NULL);
	ck_assert_int_eq(lstat(path, &st), 0);
	control_start(&d, "chat", dir, path, sizeof(path), NULL);
	struct testutil_chatd a;
	testutil_operator_attach(&a, path);
	testutil_chatd_expect_sub(&a, "operator attached: control #1");
	testutil_operator_detach(&a);
	testutil_chatd_stop(&d);
	dir_remove(dir);
}
END_TEST

/* ---- the terminal console ---------------------------------------------- */

/* Starts tcpchatd in mode on a terminal, in the foreground. */
static int
pty_start(struct testutil_pty *t, const char *mode, const char *extra)
{
	const char *argv[] = {
	    testutil_program("tcpchatd"), "-p", "0", "-m", mode, extra, NULL};
	char *p;

	testutil_pty_spawn(t, (char *const *)argv, 0);
	ck_assert_msg(
	    testutil_pty_expect(t,
	        "tcpchatd: listening on 127.0.0.1:", testutil_wait_ms(WAIT_MS)),
	    "no listening line: %s", testutil_visible(t->out, t->len));
	int port = (int)strtol(t->out + t->mark, &p, 10);
	ck_assert_int_gt(port, 0);
	return port;
}

/* What the terminal showed after the mark, escaped, for a message. */
static const char *
pty_shown(struct testutil_pty *t)
{
	return testutil_visible(t->out + t->mark, t->len - t->mark);
}

START_TEST(test_terminal_end_of_input_quits)
{
	struct testutil_pty t;
	int port = pty_start(&t, "chat", NULL);
	int c = testutil_connect(port);

	ck_assert(testutil_pty_expect(
	    &t, "connected (1 online)", testutil_wait_ms(WAIT_MS)));
	ck_assert(
	    testutil_pty_expect(&t, "tcpchatd> ", testutil_wait_ms(WAIT_MS)));
	/* Ctrl-D on an empty line: as /quit. */
	testutil_pty_type(&t, "\x04");
	testutil_expect_str(c, "tcpchatd: server shutting down\n");
	close(c);
	int status = testutil_pty_wait(&t, testutil_wait_ms(3 * WAIT_MS));
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "status %#x: %s", status, pty_shown(&t));
	ck_assert_msg(testutil_pty_expect(&t, "tcpchatd: stopped\r\n", 0), "%s",
	    pty_shown(&t));
	/* Nothing after it: no stray prompt. */
	ck_assert_msg(t.mark == t.len, "after stopped: %s", pty_shown(&t));
}
END_TEST

START_TEST(test_terminal_completion_and_prompt)
{
	struct testutil_pty t;
	char buf[64];

	if (!lineedit_available()) {
		fprintf(stderr,
		    "check_console: built without line editing: "
		    "tab completion test skipped\n");
		return;
	}
	int port = pty_start(&t, "chat", NULL);
	int c = testutil_connect(port);
	ck_assert(testutil_pty_expect(
	    &t, "connected (1 online)", testutil_wait_ms(WAIT_MS)));
	ck_assert(
	    testutil_pty_expect(&t, "tcpchatd> ", testutil_wait_ms(WAIT_MS)));
	/* A command, then the only client's id. */
	testutil_pty_type(&t, "/t\t\t\r");
	ck_assert_msg(testutil_pty_expect(
	                  &t, "talking to #1 ", testutil_wait_ms(WAIT_MS)),
	    "%s", pty_shown(&t));
	ck_assert_msg(
	    testutil_pty_expect(&t, "to #1> ", testutil_wait_ms(WAIT_MS)),
	    "prompt: %s", pty_shown(&t));
	/* Never a file name ("src/" is here), even after text. */
	testutil_pty_type(&t, "sr\t\r");
	testutil_expect_str(c, "sr\n");
	testutil_pty_type(&t, "/ki\t1\r");
	testutil_expect_str(c, "tcpchatd: disconnected by the operator\n");
	close(c);
	/* The chosen client left: said, and the prompt is the plain one. */
	ck_assert_msg(testutil_pty_expect(&t, "has left: no client chosen",
	                  testutil_wait_ms(WAIT_MS)),
	    "%s", pty_shown(&t));
	ck_assert_msg(
	    testutil_pty_expect(&t, "tcpchatd> ", testutil_wait_ms(WAIT_MS)),
	    "prompt: %s", pty_shown(&t));
	snprintf(buf, sizeof(buf), "/quit\r");
	testutil_pty_type(&t, buf);
	int status = testutil_pty_wait(&t, testutil_wait_ms(3 * WAIT_MS));
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "status %#x: %s", status, pty_shown(&t));
}
END_TEST

static Suite *
console_suite(void)
{
	Suite *s = suite_create("console");
	TCase *tc;

	tc = tcase_create("commands");
	tcase_add_test(tc, test_strict_commands);
	tcase_add_test(tc, test_confirmations);
	tcase_add_test(tc, test_room_confirmation);
	tcase_add_test(tc, test_reply_to_last_speaker);
	tcase_add_test(tc, test_chosen_client_kicked);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);

	tc = tcase_create("input");
	tcase_add_test(tc, test_overlong_console_line);
	tcase_add_test(tc, test_operator_input_escaped);
	tcase_add_test(tc, test_piped_console_end_keeps_serving);
	tcase_add_test(tc, test_fifo_console);
	tcase_add_test(tc, test_no_commands_after_quit);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);

	tc = tcase_create("control_socket");
	tcase_add_test(tc, test_two_operators);
	tcase_add_test(tc, test_operator_quit_and_end);
	tcase_add_test(tc, test_socat_operator);
	tcase_add_test(tc, test_stuck_operator_dropped);
	tcase_add_test(tc, test_refused_peer);
	tcase_add_test(tc, test_control_path_checked);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tc = tcase_create("terminal");
	tcase_add_test(tc, test_terminal_end_of_input_quits);
	tcase_add_test(tc, test_terminal_completion_and_prompt);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(console_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
