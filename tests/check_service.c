/*
 * check_service.c - tcpchatd as a service: started in the background of
 * a terminal, with --no-console, with its standard descriptors closed,
 * socket-activated by systemd-socket-activate, telling $NOTIFY_SOCKET
 * when it is ready and stopping, SIGHUP reopening the log, --syslog,
 * and the systemd units passing systemd-analyze verify.
 */
#include "config.h"

#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "clock.h"
#include "io.h"
#include "net.h"
#include "testutil.h"

#define WAIT_MS 5000

#define dir_make(dir, size) testutil_tmpdir(dir, size, "check_service")
#define dir_remove testutil_rmdir

/* Whether a command is on the PATH; says why a test is skipped if not. */
static int
have(const char *cmd, const char *test)
{
	char sh[256];

	snprintf(sh, sizeof(sh), "command -v %s >/dev/null 2>&1", cmd);
	if (system(sh) == 0)
		return 1;
	fprintf(stderr,
	    "check_service: %s is not installed (Debian: apt-get install -y "
	    "systemd): %s skipped\n",
	    cmd, test);
	return 0;
}

/* A client on port sends line and must get it back (echo mode). */
static void
echo_round_trip(int port, const char *line)
{
	int fd = testutil_connect(port);

	testutil_send_str(fd, line);
	testutil_expect_str(fd, line);
	close(fd);
}

static int
pty_port(struct testutil_pty *t)
{
	ck_assert_msg(
	    testutil_pty_expect(t,
	        "tcpchatd: listening on 127.0.0.1:", testutil_wait_ms(WAIT_MS)),
	    "no listening line: %s", testutil_visible(t->out, t->len));
	return atoi(t->out + t->mark);
}

/* ---- no terminal needed -------------------------------------------------- */

/*
 * "tcpchatd -m echo &" at a shell: in the background, TOSTOP set, it
 * serves, is never stopped, leaves the terminal's modes alone and reads
 * nothing; brought to the foreground it is the console.
 */
START_TEST(test_background_on_terminal)
{
	const char *argv[] = {
	    testutil_program("tcpchatd"), "-p", "0", "-m", "echo", NULL};
	struct termios before, during;
	struct testutil_pty t;

	testutil_pty_spawn(&t, (char *const *)argv, 1);
	ck_assert_int_eq(tcgetattr(t.master, &before), 0);
	int port = pty_port(&t);
	for (int i = 0; i < 20; i++)
		echo_round_trip(port, "served from the background\n");
	/* Typed at the shell's terminal: not for tcpchatd. */
	testutil_pty_type(&t, "/stats\r");
	testutil_pty_drain(&t, 300);
	ck_assert_msg(t.mark == t.len || strstr(t.out + t.mark, "up ") == NULL,
	    "read the terminal in the background: %s",
	    testutil_visible(t.out + t.mark, t.len - t.mark));
	/* No prompt, no connection lines: operational lines only. */
	ck_assert_ptr_null(strstr(t.out, "tcpchatd> "));
	ck_assert_ptr_null(strstr(t.out, "connected ("));
	ck_assert_int_ne(testutil_proc_state(t.pid), 'T');
	ck_assert_int_eq(tcgetattr(t.master, &during), 0);
	ck_assert_int_eq(during.c_lflag, before.c_lflag);
	ck_assert_int_eq(during.c_iflag, before.c_iflag);
	/* fg: now it reads the terminal, the waiting /stats included. */
	testutil_pty_foreground(&t);
	ck_assert_msg(testutil_pty_expect(&t, "up ", testutil_wait_ms(WAIT_MS)),
	    "no console in the foreground: %s", testutil_visible(t.out, t.len));
	ck_assert(
	    testutil_pty_expect(&t, "tcpchatd> ", testutil_wait_ms(WAIT_MS)));
	testutil_pty_type(&t, "/quit\r");
	int status = testutil_pty_wait(&t, testutil_wait_ms(3 * WAIT_MS));
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "status %#x: %s", status, testutil_visible(t.out, t.len));
	ck_assert(testutil_pty_expect(&t, "tcpchatd: stopped\r\n", 0));
	ck_assert_msg(t.mark == t.len, "after stopped: %s",
	    testutil_visible(t.out + t.mark, t.len - t.mark));
}
END_TEST

/* --no-console in the foreground: the terminal is not touched either. */
START_TEST(test_no_console_on_terminal)
{
	const char *argv[] = {testutil_program("tcpchatd"), "-p", "0", "-m",
	    "chat", "--no-console", NULL};
	struct termios before, during;
	struct testutil_pty t;

	testutil_pty_spawn(&t, (char *const *)argv, 0);
	ck_assert_int_eq(tcgetattr(t.master, &before), 0);
	int port = pty_port(&t);
	int c = testutil_connect(port);
	testutil_send_str(c, "a secret message\n");
	testutil_pty_type(&t, "/quit\r");
	testutil_pty_drain(&t, 300);
	ck_assert_int_eq(tcgetattr(t.master, &during), 0);
	ck_assert_int_eq(during.c_lflag, before.c_lflag);
	ck_assert_int_ne(testutil_proc_state(t.pid), 'T');
	kill(t.pid, SIGTERM);
	testutil_expect_str(c, "tcpchatd: server shutting down\n");
	close(c);
	int status = testutil_pty_wait(&t, testutil_wait_ms(3 * WAIT_MS));
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_ptr_null(strstr(t.out, "secret"));
	ck_assert_ptr_null(strstr(t.out, "tcpchatd> "));
	ck_assert_ptr_nonnull(strstr(t.out, "tcpchatd: stopped\r\n"));
}
END_TEST

/*
 * --no-console with a pipe: nothing read from it, and standard output
 * carries operational events only, one line each, never message text.
 */
START_TEST(test_no_console_events_only)
{
	const char *extra[] = {"--no-console", "--max-clients", "1", NULL};
	struct testutil_chatd d;
	char *console, *errors;

	testutil_chatd_start(&d, "room", extra);
	int a = testutil_connect(d.port);
	(void)testutil_expect_welcome(a, 1);
	testutil_send_str(a, "private words\n");
	int refused = testutil_connect(d.port);
	testutil_expect_str(refused, "tcpchatd: server full (1 clients)\n");
	close(refused);
	testutil_chatd_expect_sub(&d, "refused: server full");
	testutil_chatd_type(&d, "/quit");
	testutil_chatd_type(&d, "/all typed but never read");
	/* Still serving: a second round in the room. */
	testutil_send_str(a, "more words\n");
	kill(d.proc.pid, SIGTERM);
	testutil_expect_str(a, "tcpchatd: server shutting down\n");
	close(a);
	int status = testutil_chatd_wait(&d, &console, &errors);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_str_eq(console,
	    "tcpchatd: shutting down, telling 1 client\ntcpchatd: stopped\n");
	ck_assert_str_eq(errors, "");
	free(console);
	free(errors);
}
END_TEST

/*
 * Started with 0, 1 and 2 closed: they are /dev/null, and the log
 * (opened next) gets transcript records only, no console line.
 */
START_TEST(test_closed_standard_descriptors)
{
	char dir[64], log[96], port[16], path[64], target[256];
	int p = testutil_free_port();

	dir_make(dir, sizeof(dir));
	snprintf(log, sizeof(log), "%s/log", dir);
	snprintf(port, sizeof(port), "%d", p);
	pid_t pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		close(0);
		close(1);
		close(2);
		execl(testutil_program("tcpchatd"), "tcpchatd", "-p", port,
		    "-m", "echo", "--log", log, (char *)NULL);
		_exit(127);
	}
	/* Ready when it answers. */
	int fd = -1, gai;
	uint64_t deadline =
	    clock_now_ms() + (uint64_t)testutil_wait_ms(WAIT_MS);
	while (fd == -1 && clock_ms_until(deadline) > 0)
		if ((fd = net_connect("127.0.0.1", port, 1000, &gai)) == -1)
			poll(NULL, 0, 20); /* nothing to wait on but a retry */
	ck_assert_int_ge(fd, 0);
	testutil_send_str(fd, "echoed\n");
	testutil_expect_str(fd, "echoed\n");
	for (int i = 0; i <= 2; i++) {
		snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)pid, i);
		ssize_t n = readlink(path, target, sizeof(target) - 1);
		ck_assert_int_gt(n, 0);
		target[n] = '\0';
		ck_assert_str_eq(target, "/dev/null");
	}
	close(fd);
	kill(pid, SIGTERM);
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	FILE *f = fopen(log, "r");
	char line[512];
	ck_assert_ptr_nonnull(f);
	int lines = 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		lines++;
		ck_assert_msg(line[4] == '-' && line[23] == 'Z',
		    "not a transcript record: %s", line);
		ck_assert_ptr_null(strstr(line, "tcpchatd: "));
	}
	fclose(f);
	ck_assert_int_ge(lines, 1);
	dir_remove(dir);
}
END_TEST

/* ---- SIGHUP -------------------------------------------------------------- */

/* Whether the file at path holds a line containing needle. */
static int
file_has(const char *path, const char *needle)
{
	char line[1024];
	int found = 0;
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return 0;
	while (!found && fgets(line, sizeof(line), f) != NULL)
		found = strstr(line, needle) != NULL;
	fclose(f);
	return found;
}

START_TEST(test_sighup_reopens_log)
{
	char dir[64], log[96], old[96];
	struct testutil_chatd d;

	dir_make(dir, sizeof(dir));
	snprintf(log, sizeof(log), "%s/log", dir);
	snprintf(old, sizeof(old), "%s/log.1", dir);
	const char *extra[] = {"--log", log, NULL};
	testutil_chatd_start(&d, "chat", extra);
	int c = testutil_connect(d.port);
	testutil_chatd_expect_sub(&d, "connected (1 online)");
	testutil_send_str(c, "before the rotation\n");
	testutil_chatd_expect_sub(&d, ": before the rotation");
	/* logrotate: rename, then SIGHUP. */
	ck_assert_int_eq(rename(log, old), 0);
	testutil_send_str(c, "between\n");
	testutil_chatd_expect_sub(&d, ": between");
	kill(d.proc.pid, SIGHUP);
	testutil_chatd_expect(&d, "tcpchatd: log %s reopened (SIGHUP)", log);
	testutil_send_str(c, "after the rotation\n");
	testutil_chatd_expect_sub(&d, ": after the rotation");
	/* It still serves, and nothing was lost on the way. */
	testutil_chatd_type(&d, "reply");
	testutil_expect_str(c, "reply\n");
	close(c);
	testutil_chatd_stop(&d);
	ck_assert(file_has(old, " in: before the rotation"));
	ck_assert(file_has(old, " in: between"));
	ck_assert(!file_has(old, "after the rotation"));
	ck_assert(file_has(log, " log: reopened (SIGHUP)"));
	ck_assert(file_has(log, " in: after the rotation"));
	ck_assert(file_has(log, " out: reply"));
	/* And a log deleted while open is reopened at its path. */
	testutil_chatd_start(&d, "chat", extra);
	ck_assert_int_eq(unlink(log), 0);
	c = testutil_connect(d.port);
	testutil_chatd_expect(
	    &d, "tcpchatd: log %s reopened (the file was deleted)", log);
	close(c);
	testutil_chatd_stop(&d);
	ck_assert(file_has(log, " log: reopened (the file was deleted)"));
	ck_assert(file_has(log, " event: connected"));
	/* Without --log, SIGHUP is said and changes nothing. */
	testutil_chatd_start(&d, "echo", NULL);
	kill(d.proc.pid, SIGHUP);
	testutil_chatd_expect(&d, "tcpchatd: SIGHUP: no --log to reopen");
	echo_round_trip(d.port, "after SIGHUP\n");
	testutil_chatd_stop(&d);
	dir_remove(dir);
}
END_TEST

/* ---- systemd ------------------------------------------------------------- */

START_TEST(test_socket_activation)
{
	struct testutil_chatd d;
	char listen[64], line[256], want[128], err[4096];
	int port = testutil_free_port();

	if (!have("systemd-socket-activate", "socket activation test"))
		return;
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
	const char *argv[] = {"systemd-socket-activate", "-l", listen,
	    testutil_program("tcpchatd"), "-m", "echo", "-p", "1", NULL};
	testutil_spawn(&d.proc, (char *const *)argv);
	/* The socket is there before tcpchatd is: connect, then wait. */
	int early = -1, gai;
	char portstr[16];
	snprintf(portstr, sizeof(portstr), "%d", port);
	uint64_t deadline =
	    clock_now_ms() + (uint64_t)testutil_wait_ms(WAIT_MS);
	while (early == -1 && clock_ms_until(deadline) > 0)
		if ((early = net_connect("127.0.0.1", portstr, 1000, &gai)) ==
		    -1)
			poll(NULL, 0, 20); /* nothing to wait on but a retry */
	ck_assert_int_ge(early, 0);
	ck_assert_int_ge(testutil_read_line(d.proc.out_fd, line, sizeof(line),
	                     testutil_wait_ms(WAIT_MS)),
	    0);
	/* -p 1 is not used: the port is the passed socket's. */
	snprintf(want, sizeof(want),
	    "tcpchatd: listening on 127.0.0.1:%d (mode echo)", port);
	ck_assert_str_eq(line, want);
	testutil_send_str(early, "queued before it ran\n");
	testutil_expect_str(early, "queued before it ran\n");
	close(early);
	echo_round_trip(port, "activated\n");
	kill(d.proc.pid, SIGTERM);
	int status = testutil_chatd_wait(&d, NULL, NULL);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	/* Two sockets: tcpchatd takes exactly one. */
	char listen2[64];
	snprintf(
	    listen2, sizeof(listen2), "127.0.0.1:%d", testutil_free_port());
	const char *two[] = {"systemd-socket-activate", "-l", listen, "-l",
	    listen2, testutil_program("tcpchatd"), NULL};
	testutil_spawn(&d.proc, (char *const *)two);
	deadline = clock_now_ms() + (uint64_t)testutil_wait_ms(WAIT_MS);
	early = -1;
	while (early == -1 && clock_ms_until(deadline) > 0)
		if ((early = net_connect("127.0.0.1", portstr, 1000, &gai)) ==
		    -1)
			poll(NULL, 0, 20); /* as above */
	ck_assert_int_ge(early, 0);
	testutil_drain(d.proc.err_fd, err, sizeof(err),
	    clock_now_ms() + (uint64_t)testutil_wait_ms(WAIT_MS));
	status = testutil_proc_wait(&d.proc, testutil_wait_ms(WAIT_MS));
	close(early);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1);
	ck_assert_msg(strstr(err,
	                  "tcpchatd: socket activation passed "
	                  "LISTEN_FDS=2: tcpchatd takes exactly one "
	                  "listening socket\n") != NULL,
	    "stderr: %s", err);
}
END_TEST

/* Receives one datagram on fd within the wait: into buf, NUL-ended. */
static void
notify_expect(int fd, const char *want)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	char buf[256];

	ck_assert_msg(poll(&pfd, 1, testutil_wait_ms(WAIT_MS)) == 1,
	    "no \"%s\" on NOTIFY_SOCKET", want);
	ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	ck_assert_str_eq(buf, want);
}

/* A datagram socket at name ("@..." abstract); its descriptor. */
static int
notify_socket(const char *name)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	size_t len = strlen(name);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	memcpy(sun.sun_path, name, len);
	if (name[0] == '@')
		sun.sun_path[0] = '\0';
	ck_assert_int_eq(
	    bind(fd, (struct sockaddr *)&sun,
	        (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len +
	            (name[0] != '@'))),
	    0);
	return fd;
}

START_TEST(test_notify_socket)
{
	char dir[64], path[96], abstract[64];
	struct testutil_chatd d;

	dir_make(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/notify", dir);
	snprintf(
	    abstract, sizeof(abstract), "@check_service_%d", (int)getpid());
	const char *names[] = {path, abstract};
	for (int i = 0; i < 2; i++) {
		int fd = notify_socket(names[i]);
		ck_assert_int_eq(setenv("NOTIFY_SOCKET", names[i], 1), 0);
		testutil_chatd_start(&d, "echo", NULL);
		/* Ready once it listens and serves. */
		notify_expect(fd, "READY=1");
		echo_round_trip(d.port, "ready\n");
		kill(d.proc.pid, SIGTERM);
		notify_expect(fd, "STOPPING=1");
		int status = testutil_chatd_wait(&d, NULL, NULL);
		ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		close(fd);
	}
	/* A socket nobody receives on: said, and it serves all the same. */
	unlink(path);
	testutil_chatd_start(&d, "echo", NULL);
	testutil_chatd_expect_sub(&d,
	    "tcpchatd: cannot notify the service "
	    "manager (READY=1): ");
	echo_round_trip(d.port, "still\n");
	kill(d.proc.pid, SIGTERM);
	testutil_chatd_wait(&d, NULL, NULL);
	unsetenv("NOTIFY_SOCKET");
	dir_remove(dir);
}
END_TEST

START_TEST(test_units_verify)
{
	const char *src = getenv("top_srcdir"), *build = getenv("top_builddir");
	char dir[64], cmd[2048], abs_build[1024];

	if (!have("systemd-analyze", "systemd-analyze verify of the units"))
		return;
	if (src == NULL)
		src = ".";
	ck_assert_ptr_nonnull(realpath(build != NULL ? build : ".", abs_build));
	dir_make(dir, sizeof(dir));
	/*
	 * The units as make install writes them, tcpchatd where it was
	 * built, and the man page they name where man finds it.
	 */
	snprintf(cmd, sizeof(cmd),
	    "set -e; mkdir -p '%s/man/man1'; "
	    "cp '%s/doc/tcpchatd.1' '%s/man/man1/'; "
	    "sed 's|@bindir@|%s/src|g' '%s/systemd/tcpchatd.service.in' "
	    ">'%s/tcpchatd.service'; "
	    "cp '%s/systemd/tcpchatd.socket' '%s/'; cd '%s'; "
	    "MANPATH='%s/man' systemd-analyze verify ./tcpchatd.socket "
	    "./tcpchatd.service >verify.out 2>&1",
	    dir, src, dir, abs_build, src, dir, src, dir, dir, dir);
	int rc = system(cmd);
	char out[4096] = "";
	snprintf(cmd, sizeof(cmd), "%s/verify.out", dir);
	FILE *f = fopen(cmd, "r");
	if (f != NULL) {
		out[fread(out, 1, sizeof(out) - 1, f)] = '\0';
		fclose(f);
	}
	ck_assert_msg(rc == 0, "systemd-analyze verify failed: %s", out);
	ck_assert_msg(out[0] == '\0', "systemd-analyze verify said: %s", out);
	dir_remove(dir);
}
END_TEST

/* ---- --syslog ------------------------------------------------------------ */

/*
 * In a mount namespace of its own with a /dev/log of ours: runs tcpchatd
 * with args, its stdout on out, and copies every syslog datagram to
 * logs, until it exits.  Its pid goes to pidfd first.  Never returns.
 */
static void
syslog_child(char *const argv[], int out, int logs, int pidfd)
{
	char dir[64] = "/tmp/check_service_devXXXXXX", path[128], buf[1024];
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd, status;

	if (unshare(CLONE_NEWNS) == -1 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == -1 ||
	    mkdtemp(dir) == NULL ||
	    mount("/dev", dir, NULL, MS_BIND | MS_REC, NULL) == -1 ||
	    mount("tmpfs", "/dev", "tmpfs", 0, "size=64k") == -1)
		_exit(77);
	snprintf(path, sizeof(path), "%s/null", dir);
	if ((fd = open("/dev/null", O_CREAT | O_WRONLY, 0666)) == -1 ||
	    mount(path, "/dev/null", NULL, MS_BIND, NULL) == -1)
		_exit(77);
	close(fd);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "/dev/log");
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd == -1 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		_exit(77);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(out, 1);
		execv(argv[0], argv);
		_exit(127);
	}
	(void)!write(pidfd, &pid, sizeof(pid));
	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		if (poll(&pfd, 1, 20) == 1) {
			ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
			if (n > 0) {
				buf[n++] = '\n';
				(void)!write(logs, buf, (size_t)n);
			}
		} else if (waitpid(pid, &status, WNOHANG) == pid) {
			break;
		}
	}
	_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 126);
}

START_TEST(test_syslog)
{
	char port[16], line[256], logs[16384], want[128];
	int out[2], log[2], pids[2];

	if (geteuid() != 0) {
		fprintf(stderr,
		    "check_service: not root: no /dev/log of the "
		    "test's own, --syslog test skipped\n");
		return;
	}
	snprintf(port, sizeof(port), "%d", testutil_free_port());
	const char *argv[] = {testutil_program("tcpchatd"), "-p", port, "-m",
	    "room", "--syslog", "--no-console", "--max-clients", "1", NULL};
	ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(log, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(pids, O_CLOEXEC), 0);
	pid_t child = fork();
	ck_assert_int_ne(child, -1);
	if (child == 0)
		syslog_child((char *const *)argv, out[1], log[1], pids[1]);
	close(out[1]);
	close(log[1]);
	close(pids[1]);
	pid_t pid;
	if (testutil_read_exact(pids[0], &pid, sizeof(pid),
	        testutil_wait_ms(WAIT_MS)) != sizeof(pid)) {
		int status;
		waitpid(child, &status, 0);
		fprintf(stderr,
		    "check_service: no mount namespace here (status %#x): "
		    "--syslog test skipped\n",
		    status);
		return;
	}
	ck_assert_int_ge(testutil_read_line(out[0], line, sizeof(line),
	                     testutil_wait_ms(WAIT_MS)),
	    0);
	int a = testutil_connect(atoi(port));
	testutil_send_str(a, "words for the room only\n");
	int b = testutil_connect(atoi(port));
	testutil_expect_str(b, "tcpchatd: server full (1 clients)\n");
	close(b);
	close(a);
	kill(pid, SIGTERM);
	size_t n = testutil_drain(log[0], logs, sizeof(logs),
	    clock_now_ms() + (uint64_t)testutil_wait_ms(2 * WAIT_MS));
	int status;
	ck_assert_int_eq(waitpid(child, &status, 0), child);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* Facility daemon (3), priority notice (5): <29>. */
	snprintf(want, sizeof(want),
	    "tcpchatd[%d]: listening on 127.0.0.1:%s (mode room)\n", (int)pid,
	    port);
	ck_assert_msg(
	    strstr(logs, want) != NULL && strncmp(logs, "<29>", 4) == 0,
	    "syslog got: %s", testutil_visible(logs, n));
	ck_assert_msg(strstr(logs, "refused: server full\n") != NULL &&
	        strstr(logs, "]: shutting down") != NULL &&
	        strstr(logs, "]: stopped\n") != NULL,
	    "syslog got: %s", testutil_visible(logs, n));
	ck_assert_ptr_null(strstr(logs, "words"));
	ck_assert_ptr_null(strstr(logs, "connected"));
	/* Standard output: the listening line and nothing else. */
	char rest[1024];
	testutil_drain(out[0], rest, sizeof(rest), clock_now_ms() + 1000);
	ck_assert_str_eq(rest, "");
	snprintf(want, sizeof(want),
	    "tcpchatd: listening on 127.0.0.1:%s (mode room)", port);
	ck_assert_str_eq(line, want);
	close(out[0]);
	close(log[0]);
	close(pids[0]);
}
END_TEST

static Suite *
service_suite(void)
{
	Suite *s = suite_create("service");
	TCase *tc;

	tc = tcase_create("no_terminal");
	tcase_add_test(tc, test_background_on_terminal);
	tcase_add_test(tc, test_no_console_on_terminal);
	tcase_add_test(tc, test_no_console_events_only);
	tcase_add_test(tc, test_closed_standard_descriptors);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);

	tc = tcase_create("signals");
	tcase_add_test(tc, test_sighup_reopens_log);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);

	tc = tcase_create("systemd");
	tcase_add_test(tc, test_socket_activation);
	tcase_add_test(tc, test_notify_socket);
	tcase_add_test(tc, test_units_verify);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tc = tcase_create("syslog");
	tcase_add_test(tc, test_syslog);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(service_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
