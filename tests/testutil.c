/* testutil.c - helpers the Check suites share (see testutil.h). */
#include "config.h"

#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "clock.h"
#include "escape.h"
#include "io.h"
#include "net.h"
#include "testutil.h"
#include "tls.h"

struct testutil_conn {
	struct testutil_server *server;
	int fd;
};

/* The most a TESTUTIL_ENDLESS server sends before it gives up. */
#define TESTUTIL_ENDLESS_MAX (256u * 1024 * 1024)

/*
 * The behaviours that are no echo at all, for len bytes just read.
 * Returns 0 to go on, -1 to end the connection.
 */
static int
testutil_conn_misbehave(
    struct testutil_server *s, int fd, const char *buf, size_t len, int delay)
{
	static const char reply[] = "not an echo\n";
	char junk[4096];

	switch (s->behaviour) {
	case TESTUTIL_OTHER_BYTES:
		for (size_t i = 0; i < len; i++)
			if (buf[i] == '\n' &&
			    io_write_full(fd, reply, sizeof(reply) - 1) == -1)
				return -1;
		return 0;
	case TESTUTIL_SLOW:
		/* Deliberately slow: the delay is the behaviour under test. */
		poll(NULL, 0, delay);
		return io_write_full(fd, buf, len) == -1 ? -1 : 0;
	case TESTUTIL_TRICKLE:
		for (size_t i = 0; i < len; i++) {
			poll(NULL, 0, delay);
			if (io_write_full(fd, buf + i, 1) == -1)
				return -1;
		}
		return 0;
	case TESTUTIL_ENDLESS:
		memset(junk, 'x', sizeof(junk));
		for (size_t sent = 0; sent < TESTUTIL_ENDLESS_MAX;
		     sent += sizeof(junk))
			if (io_write_full(fd, junk, sizeof(junk)) == -1)
				break;
		return -1;
	default: /* TESTUTIL_SILENT */
		return 0;
	}
}

/* One connection of the test server: echo with the chosen fault. */
static void *
testutil_conn_main(void *arg)
{
	struct testutil_conn *c = arg;
	struct testutil_server *s = c->server;
	char buf[16384];
	size_t total = 0, lines = 0;
	ssize_t n;

	int delay = atomic_load(&s->delay_ms);
	while ((n = io_read_some(c->fd, buf, sizeof(buf))) > 0) {
		size_t len = (size_t)n, i, out = 0;
		char *dst = buf;
		if (s->behaviour > TESTUTIL_CLOSE_EARLY) {
			if (testutil_conn_misbehave(
			        s, c->fd, buf, len, delay) == -1)
				break;
			continue;
		}
		switch (s->behaviour) {
		case TESTUTIL_CORRUPT:
			if (s->corrupt_at >= total &&
			    s->corrupt_at < total + len)
				buf[s->corrupt_at - total] ^= 0x20;
			out = len;
			break;
		case TESTUTIL_DROP_LINE:
			/* Keep every byte except those of line drop_at. */
			for (i = 0; i < len; i++) {
				if (lines != s->drop_at)
					dst[out++] = buf[i];
				if (buf[i] == '\n')
					lines++;
			}
			break;
		case TESTUTIL_CLOSE_EARLY:
			out = total + len > s->close_after
			    ? s->close_after - total
			    : len;
			break;
		default: /* TESTUTIL_ECHO */
			out = len;
			break;
		}
		total += len;
		if (out > 0 && io_write_full(c->fd, dst, out) == -1)
			break;
		atomic_fetch_add(&s->echoed, out);
		if (s->behaviour == TESTUTIL_CLOSE_EARLY &&
		    total >= s->close_after)
			break;
	}
	close(c->fd);
	free(c);
	return NULL;
}

static void *
testutil_accept_main(void *arg)
{
	struct testutil_server *s = arg;

	for (;;) {
		int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		pthread_mutex_lock(&s->lock);
		int stopping = s->stopping;
		if (fd != -1 && !stopping)
			s->accepted++;
		pthread_mutex_unlock(&s->lock);
		if (stopping) {
			if (fd != -1)
				close(fd);
			return NULL;
		}
		if (fd == -1) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return NULL;
		}
		struct testutil_conn *c = malloc(sizeof(*c));
		ck_assert_ptr_nonnull(c);
		c->server = s;
		c->fd = fd;
		pthread_t t;
		pthread_attr_t attr;
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		ck_assert_int_eq(
		    pthread_create(&t, &attr, testutil_conn_main, c), 0);
		pthread_attr_destroy(&attr);
	}
}

int
testutil_server_start_on(struct testutil_server *s, const char *host,
    enum testutil_behaviour behaviour)
{
	int gai;

	memset(s, 0, sizeof(*s));
	s->behaviour = behaviour;
	snprintf(s->host, sizeof(s->host), "%s", host);
	s->listen_fd = net_listen(host, "0", 1024, &gai);
	if (s->listen_fd == -1)
		return -1;
	s->port = net_local_port(s->listen_fd);
	ck_assert_int_gt(s->port, 0);
	pthread_mutex_init(&s->lock, NULL);
	ck_assert_int_eq(
	    pthread_create(&s->thread, NULL, testutil_accept_main, s), 0);
	return 0;
}

void
testutil_server_start(
    struct testutil_server *s, enum testutil_behaviour behaviour)
{
	ck_assert_msg(testutil_server_start_on(s, "127.0.0.1", behaviour) == 0,
	    "listen on 127.0.0.1: %s", strerror(errno));
}

size_t
testutil_server_echoed(struct testutil_server *s)
{
	return atomic_load(&s->echoed);
}

void
testutil_server_set_delay(struct testutil_server *s, int delay_ms)
{
	atomic_store(&s->delay_ms, delay_ms);
}

void
testutil_server_stop(struct testutil_server *s)
{
	char port[16];
	int gai;

	pthread_mutex_lock(&s->lock);
	s->stopping = 1;
	pthread_mutex_unlock(&s->lock);
	/* Wake the blocked accept with a connection of our own. */
	snprintf(port, sizeof(port), "%d", s->port);
	int fd = net_connect(s->host, port, 5000, &gai);
	ck_assert_msg(fd >= 0, "connect to %s port %s: %s", s->host, port,
	    net_strerror(gai, errno));
	close(fd);
	pthread_join(s->thread, NULL);
	close(s->listen_fd);
	pthread_mutex_destroy(&s->lock);
}

int
testutil_server_accepted(struct testutil_server *s)
{
	pthread_mutex_lock(&s->lock);
	int n = s->accepted;
	pthread_mutex_unlock(&s->lock);
	return n;
}

int
testutil_connect(int port)
{
	char portstr[16];
	int gai, fd;

	snprintf(portstr, sizeof(portstr), "%d", port);
	fd = net_connect("127.0.0.1", portstr, 5000, &gai);
	ck_assert_msg(fd >= 0, "connect to 127.0.0.1:%d: %s", port,
	    net_strerror(gai, errno));
	return fd;
}

void
testutil_connect_many(int port, int n, int *fds)
{
	for (int i = 0; i < n; i++)
		fds[i] = testutil_connect(port);
}

void
testutil_close_many(int n, int *fds)
{
	for (int i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

/* Waits up to the deadline for fd to be readable: 1, or 0 on timeout. */
static int
testutil_wait_readable(int fd, uint64_t deadline)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};

	for (;;) {
		int rc = poll(&pfd, 1, clock_ms_until(deadline));
		if (rc == 1)
			return 1;
		if (rc == 0)
			return 0;
		if (errno != EINTR)
			return 0;
	}
}

size_t
testutil_read_exact(int fd, void *buf, size_t n, int timeout_ms)
{
	uint64_t deadline = clock_now_ms() + (uint64_t)timeout_ms;
	char *p = buf;
	size_t got = 0;

	while (got < n && testutil_wait_readable(fd, deadline)) {
		ssize_t r = io_read_some(fd, p + got, n - got);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	return got;
}

size_t
testutil_read_until(
    int fd, char *buf, size_t cap, const char *needle, int timeout_ms)
{
	uint64_t deadline = clock_now_ms() + (uint64_t)timeout_ms;
	size_t got = 0;

	buf[0] = '\0';
	while (got + 1 < cap && strstr(buf, needle) == NULL &&
	    testutil_wait_readable(fd, deadline)) {
		ssize_t r = io_read_some(fd, buf + got, cap - 1 - got);
		if (r <= 0)
			break;
		got += (size_t)r;
		buf[got] = '\0';
	}
	return got;
}

int
testutil_wait_eof(int fd, int timeout_ms)
{
	uint64_t deadline = clock_now_ms() + (uint64_t)timeout_ms;
	char buf[4096];

	while (testutil_wait_readable(fd, deadline)) {
		ssize_t r = io_read_some(fd, buf, sizeof(buf));
		if (r == 0 || (r == -1 && errno == ECONNRESET))
			return 1;
		if (r == -1)
			return 0;
	}
	return 0;
}

int
testutil_nothing_arrives(int fd, int quiet_ms)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	char c;

	if (poll(&pfd, 1, quiet_ms) == 0)
		return 1;
	/* Readable: only end of file counts as "nothing". */
	return recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

void
testutil_send_str(int fd, const char *s)
{
	ck_assert_int_eq(io_write_full(fd, s, strlen(s)), (ssize_t)strlen(s));
}

const char *
testutil_program(const char *name)
{
	static __thread char path[4096];
	const char *top = getenv("top_builddir");

	snprintf(path, sizeof(path), "%s/src/%s", top ? top : ".", name);
	return path;
}

void
testutil_spawn(struct testutil_proc *p, char *const argv[])
{
	testutil_spawn_with(p, argv, NULL, NULL);
}

void
testutil_spawn_with(struct testutil_proc *p, char *const argv[],
    testutil_child_fn child, void *arg)
{
	int in[2], out[2], err[2];

	ck_assert_int_eq(pipe2(in, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(err, O_CLOEXEC), 0);
	p->pid = fork();
	ck_assert_int_ne(p->pid, -1);
	if (p->pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		dup2(err[1], 2);
		if (child != NULL)
			child(arg);
		/* A bare name is looked up on the PATH (openssl, ncat). */
		if (strchr(argv[0], '/') != NULL)
			execv(argv[0], argv);
		else
			execvp(argv[0], argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	close(err[1]);
	p->in_fd = in[1];
	p->out_fd = out[0];
	p->err_fd = err[0];
}

ssize_t
testutil_read_line(int fd, char *buf, size_t cap, int timeout_ms)
{
	uint64_t deadline = clock_now_ms() + (uint64_t)timeout_ms;
	size_t got = 0;

	/* Byte at a time: the rest of the stream stays for the next call. */
	while (got + 1 < cap && testutil_wait_readable(fd, deadline)) {
		char c;
		ssize_t r = io_read_some(fd, &c, 1);
		if (r <= 0)
			break;
		if (c == '\n') {
			buf[got] = '\0';
			return (ssize_t)got;
		}
		buf[got++] = c;
	}
	buf[got] = '\0';
	return -1;
}

int
testutil_spawn_server(
    struct testutil_proc *p, const char *mode, const char *const extra[])
{
	return testutil_spawn_server_with(p, mode, extra, NULL, NULL);
}

int
testutil_spawn_server_with(struct testutil_proc *p, const char *mode,
    const char *const extra[], testutil_child_fn child, void *arg)
{
	const char *argv[64];
	char line[512];
	int argc = 0;
	char *colon;

	argv[argc++] = testutil_program("tcpchatd");
	argv[argc++] = "-l";
	argv[argc++] = "127.0.0.1";
	argv[argc++] = "-p";
	argv[argc++] = "0";
	argv[argc++] = "-m";
	argv[argc++] = mode;
	for (int i = 0; extra != NULL && extra[i] != NULL && argc < 63; i++)
		argv[argc++] = extra[i];
	argv[argc] = NULL;
	testutil_spawn_with(p, (char *const *)argv, child, arg);
	if (testutil_read_line(p->out_fd, line, sizeof(line), 10000) < 0) {
		char why[512];
		testutil_drain(
		    p->err_fd, why, sizeof(why), clock_now_ms() + 1000);
		ck_abort_msg("tcpchatd printed no first line; stderr: %s", why);
	}
	ck_assert_msg(strncmp(line, "tcpchatd: listening on ", 23) == 0,
	    "unexpected first line: %s", line);
	colon = strrchr(line, ':');
	ck_assert_ptr_nonnull(colon);
	return atoi(colon + 1);
}

int
testutil_proc_wait(struct testutil_proc *p, int timeout_ms)
{
	uint64_t deadline = clock_now_ms() + (uint64_t)timeout_ms;
	int status;

	for (;;) {
		pid_t r = waitpid(p->pid, &status, WNOHANG);
		if (r == p->pid)
			break;
		if (r == -1 || clock_ms_until(deadline) == 0)
			return -1;
		/* Polling a child's exit: there is no descriptor to wait on. */
		poll(NULL, 0, 10);
	}
	close(p->in_fd);
	close(p->out_fd);
	close(p->err_fd);
	p->pid = -1;
	return status;
}

int
testutil_proc_collect(struct testutil_proc *p, char *out, size_t outcap,
    char *err, size_t errcap, int timeout_ms)
{
	uint64_t deadline = clock_now_ms() + (uint64_t)timeout_ms;
	struct pollfd pfd[2] = {{.fd = p->out_fd, .events = POLLIN},
	    {.fd = p->err_fd, .events = POLLIN}};
	char *buf[2] = {out, err};
	size_t cap[2] = {outcap, errcap}, got[2] = {0, 0};
	int open = 2, status;

	out[0] = err[0] = '\0';
	while (open > 0 && clock_ms_until(deadline) > 0) {
		if (poll(pfd, 2, clock_ms_until(deadline)) <= 0)
			continue;
		for (int i = 0; i < 2; i++) {
			if (pfd[i].fd < 0 || pfd[i].revents == 0)
				continue;
			char scratch[4096], *to = buf[i] + got[i];
			size_t room = cap[i] - 1 - got[i];
			/* Past cap the rest is read and dropped. */
			ssize_t n =
			    io_read_some(pfd[i].fd, room > 0 ? to : scratch,
			        room > 0 ? room : sizeof(scratch));
			if (n <= 0) {
				pfd[i].fd = -1;
				open--;
				continue;
			}
			if (room > 0) {
				got[i] += (size_t)n;
				buf[i][got[i]] = '\0';
			}
		}
	}
	status = testutil_proc_wait(p, clock_ms_until(deadline) + 100);
	if (status == -1) {
		kill(p->pid, SIGKILL);
		testutil_proc_wait(p, 5000);
		ck_abort_msg(
		    "%s did not exit in time; stderr: %.2000s", "child", err);
	}
	return status;
}

int
testutil_proc_stop(struct testutil_proc *p, int sig, int timeout_ms)
{
	int status;

	if (p->pid <= 0)
		return -1;
	kill(p->pid, sig);
	status = testutil_proc_wait(p, timeout_ms);
	if (status == -1) {
		kill(p->pid, SIGKILL);
		testutil_proc_wait(p, 5000);
	}
	return status;
}

void
testutil_server_set_fault(struct testutil_server *s, size_t at)
{
	pthread_mutex_lock(&s->lock);
	s->corrupt_at = at;
	s->drop_at = at;
	s->close_after = at;
	pthread_mutex_unlock(&s->lock);
}

int
testutil_wait_ms(int ms)
{
	const char *m = getenv("CK_TIMEOUT_MULTIPLIER");
	int mult = m != NULL ? atoi(m) : 1;

	return ms * (mult > 1 ? mult : 1);
}

int
testutil_wait_line(
    int fd, const char *needle, char *line, size_t cap, int timeout_ms)
{
	uint64_t deadline = clock_now_ms() + (uint64_t)timeout_ms;
	int left;

	while ((left = clock_ms_until(deadline)) > 0) {
		if (testutil_read_line(fd, line, cap, left) < 0)
			return 0;
		if (strstr(line, needle) != NULL)
			return 1;
	}
	return 0;
}

void
testutil_expect_str(int fd, const char *want)
{
	size_t len = strlen(want);
	char *got = malloc(len + 1);
	char shown_want[256], shown_got[256];

	ck_assert_ptr_nonnull(got);
	size_t n = testutil_read_exact(fd, got, len, testutil_wait_ms(5000));
	escape_render_bounded(shown_want, sizeof(shown_want), want, len);
	escape_render_bounded(shown_got, sizeof(shown_got), got, n);
	ck_assert_msg(n == len && memcmp(got, want, len) == 0,
	    "expected \"%s\", got \"%s\"", shown_want, shown_got);
	free(got);
}

void
testutil_make_certs(const char *dir)
{
	static const char script[] =
	    "set -e; cd \"$1\"; "
	    "key() { openssl genpkey -algorithm EC "
	    "-pkeyopt ec_paramgen_curve:P-256 -out \"$1\" 2>/dev/null; }; "
	    "key ca.key; "
	    "openssl req -x509 -key ca.key -out ca.pem -days 30 "
	    "-subj '/CN=tcpchat test CA' 2>/dev/null; "
	    "key other-ca.key; "
	    "openssl req -x509 -key other-ca.key -out other-ca.pem -days 30 "
	    "-subj '/CN=another CA' 2>/dev/null; "
	    "sign() { key \"$1.key\"; "
	    "openssl req -new -key \"$1.key\" -out \"$1.csr\" "
	    "-subj \"/CN=$2\" 2>/dev/null; "
	    "printf '%s\\n' \"$3\" >\"$1.ext\"; "
	    "openssl x509 -req -in \"$1.csr\" -CA ca.pem -CAkey ca.key "
	    "-CAcreateserial -out \"$1.pem\" -days \"$4\" "
	    "-extfile \"$1.ext\" 2>/dev/null; }; "
	    "sign server localhost "
	    "'subjectAltName=DNS:localhost,IP:127.0.0.1' 30; "
	    "sign wrongname other.example 'subjectAltName=DNS:other.example' "
	    "30; "
	    "sign expired localhost "
	    "'subjectAltName=DNS:localhost,IP:127.0.0.1' 0; "
	    "sign client 'tcpchat test client' 'extendedKeyUsage=clientAuth' "
	    "30";
	char cmd[sizeof(script) + 512];

	/* The script goes through an environment variable: no quoting. */
	ck_assert_int_eq(setenv("TESTUTIL_CERT_SCRIPT", script, 1), 0);
	snprintf(cmd, sizeof(cmd), "sh -c \"$TESTUTIL_CERT_SCRIPT\" certs '%s'",
	    dir);
	int rc = system(cmd);
	ck_assert_msg(rc == 0,
	    "cannot make test certificates with openssl (status %d): "
	    "apt-get install -y openssl",
	    rc);
}

/* Where testutil_cert's certificates are, once made. */
static char testutil_certdir[] = "/tmp/tcpchat-certs.XXXXXX";
static int testutil_certs_made;

const char *
testutil_cert(const char *name)
{
	static char paths[16][256];
	static int next;
	char *p = paths[next++ % 16];

	if (!testutil_certs_made) {
		ck_assert_ptr_nonnull(mkdtemp(testutil_certdir));
		testutil_certs_made = 1;
		testutil_make_certs(testutil_certdir);
	}
	snprintf(p, 256, "%s/%s", testutil_certdir, name);
	return p;
}

void
testutil_certs_setup(void)
{
	(void)testutil_cert("ca.pem");
}

int
testutil_run_tls_suite(const char *prog, Suite *s)
{
	SRunner *sr;
	int failed;

	if (!tls_available()) {
		printf("%s: this build has no TLS: skipped\n", prog);
		srunner_free(srunner_create(s)); /* frees the suite */
		return 77;
	}
	signal(SIGPIPE, SIG_IGN);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", testutil_certdir);
	(void)!system(cmd);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* ---- a tcpchatd under test ------------------------------------------ */

/* Console lines read while looking for one before giving up. */
#define TESTUTIL_CONSOLE_MAX_LINES 1000
/* Output a stopping server may still write (console, stderr). */
#define TESTUTIL_DRAIN_MAX (1024 * 1024)

const char *
testutil_expect_welcome(int fd, int id)
{
	static char line[4096];
	char want[64];
	static const char tail[] = "; /help for commands";

	ssize_t n =
	    testutil_read_line(fd, line, sizeof(line), testutil_wait_ms(5000));
	snprintf(want, sizeof(want), "tcpchatd: welcome, you are #%d; ", id);
	ck_assert_msg(n >= 0 && strncmp(line, want, strlen(want)) == 0 &&
	        (size_t)n >= sizeof(tail) - 1 &&
	        strcmp(line + n - (sizeof(tail) - 1), tail) == 0,
	    "expected a welcome for #%d, got \"%s\"", id,
	    testutil_visible(line, n > 0 ? (size_t)n : 0));
	return line;
}

const char *
testutil_visible(const char *bytes, size_t len)
{
	static char out[TESTUTIL_VISIBLE_MAX];

	return escape_render_bounded(out, sizeof(out), bytes, len) > 0 ? out
	                                                               : "";
}

void
testutil_chatd_start(
    struct testutil_chatd *d, const char *mode, const char *const extra[])
{
	testutil_chatd_start_with(d, mode, extra, NULL, NULL);
}

void
testutil_chatd_start_with(struct testutil_chatd *d, const char *mode,
    const char *const extra[], testutil_child_fn child, void *arg)
{
	d->port = testutil_spawn_server_with(&d->proc, mode, extra, child, arg);
	ck_assert_int_gt(d->port, 0);
}

void
testutil_chatd_type(struct testutil_chatd *d, const char *line)
{
	testutil_send_str(d->proc.in_fd, line);
	testutil_send_str(d->proc.in_fd, "\n");
}

void
testutil_chatd_expect_sub(struct testutil_chatd *d, const char *needle)
{
	ck_assert_msg(testutil_wait_line(d->proc.out_fd, needle, d->line,
	                  sizeof(d->line), testutil_wait_ms(5000)),
	    "console never said \"%s\"", needle);
}

/* Reads console lines until one is exactly want[0..len) (strict: next). */
static void
testutil_chatd_expect_bytes(
    struct testutil_chatd *d, const char *want, size_t len, int strict)
{
	uint64_t deadline = clock_now_ms() + (uint64_t)testutil_wait_ms(5000);
	ssize_t n = -1;

	for (int i = 0; i < TESTUTIL_CONSOLE_MAX_LINES; i++) {
		n = testutil_read_line(d->proc.out_fd, d->line, sizeof(d->line),
		    clock_ms_until(deadline));
		if (n < 0)
			break;
		if ((size_t)n == len && memcmp(d->line, want, len) == 0)
			return;
		if (strict)
			break;
	}
	char shown[TESTUTIL_VISIBLE_MAX];
	snprintf(shown, sizeof(shown), "%s",
	    n >= 0 ? testutil_visible(d->line, (size_t)n) : "(nothing more)");
	ck_abort_msg("console: expected \"%s\", last line seen \"%s\"",
	    testutil_visible(want, len), shown);
}

void
testutil_chatd_expect(struct testutil_chatd *d, const char *fmt, ...)
{
	char want[TESTUTIL_CONSOLE_LINE_MAX];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(want, sizeof(want), fmt, ap);
	va_end(ap);
	testutil_chatd_expect_bytes(d, want, (size_t)n, 0);
}

void
testutil_chatd_expect_next(struct testutil_chatd *d, const char *fmt, ...)
{
	char want[TESTUTIL_CONSOLE_LINE_MAX];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(want, sizeof(want), fmt, ap);
	va_end(ap);
	testutil_chatd_expect_bytes(d, want, (size_t)n, 1);
}

size_t
testutil_drain(int fd, char *buf, size_t cap, uint64_t deadline_ms)
{
	size_t got =
	    testutil_read_exact(fd, buf, cap - 1, clock_ms_until(deadline_ms));

	buf[got] = '\0';
	return got;
}

int
testutil_chatd_wait(struct testutil_chatd *d, char **console, char **errors)
{
	uint64_t deadline = clock_now_ms() + (uint64_t)testutil_wait_ms(15000);
	char *out = malloc(TESTUTIL_DRAIN_MAX),
	     *err = malloc(TESTUTIL_DRAIN_MAX);
	int status;

	ck_assert_ptr_nonnull(out);
	ck_assert_ptr_nonnull(err);
	/* Both pipes end when it exits; a full one would block its exit. */
	testutil_drain(d->proc.out_fd, out, TESTUTIL_DRAIN_MAX, deadline);
	testutil_drain(d->proc.err_fd, err, TESTUTIL_DRAIN_MAX, deadline);
	status = testutil_proc_wait(&d->proc, clock_ms_until(deadline) + 100);
	if (status == -1) {
		kill(d->proc.pid, SIGKILL);
		testutil_proc_wait(&d->proc, 5000);
		ck_abort_msg("tcpchatd did not exit; stderr: %.2000s", err);
	}
	if (console != NULL)
		*console = out;
	else
		free(out);
	if (errors != NULL)
		*errors = err;
	else
		free(err);
	return status;
}

void
testutil_chatd_sync(
    struct testutil_chatd *d, const int *fds, int n, const char *text, int room)
{
	char cmd[256], want[256];

	snprintf(cmd, sizeof(cmd), "/all %s", text);
	snprintf(want, sizeof(want), "%s%s\n", room ? "operator: " : "", text);
	testutil_chatd_type(d, cmd);
	for (int i = 0; i < n; i++)
		if (fds[i] >= 0)
			testutil_expect_str(fds[i], want);
}

void
testutil_chatd_stop(struct testutil_chatd *d)
{
	kill(d->proc.pid, SIGTERM);
	testutil_chatd_expect_clean_exit(d);
}

void
testutil_chatd_expect_clean_exit(struct testutil_chatd *d)
{
	char *errors;
	int status = testutil_chatd_wait(d, NULL, &errors);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "tcpchatd exit status %#x; stderr: %.2000s", status, errors);
	ck_assert_msg(errors[0] == '\0', "tcpchatd stderr: %.2000s", errors);
	free(errors);
}

const char *
testutil_find_in_path(const char *name)
{
	static __thread char path[PATH_MAX];
	const char *dirs = getenv("PATH");

	while (dirs != NULL && *dirs != '\0') {
		size_t n = strcspn(dirs, ":");
		snprintf(path, sizeof(path), "%.*s/%s", (int)n, dirs, name);
		if (n > 0 && access(path, X_OK) == 0)
			return path;
		dirs += n + (dirs[n] == ':');
	}
	return NULL;
}

int
testutil_free_port(void)
{
	int gai, fd = net_listen("127.0.0.1", "0", 1, &gai), port;

	ck_assert_int_ge(fd, 0);
	port = net_local_port(fd);
	close(fd);
	return port;
}

/* Whether a /proc/net/tcp-style table lists port in state LISTEN. */
static int
testutil_listed(const char *table, int port)
{
	char line[512];
	unsigned local_port, state;
	int found = 0;
	FILE *f = fopen(table, "r");

	if (f == NULL)
		return 0;
	while (!found && fgets(line, sizeof(line), f) != NULL) {
		/* "  0: 0100007F:1F90 00000000:0000 0A ..." */
		const char *colon = strchr(line, ':');
		if (colon == NULL || (colon = strchr(colon + 1, ':')) == NULL)
			continue;
		if (sscanf(colon + 1, "%x %*s %x", &local_port, &state) == 2 &&
		    (int)local_port == port && state == 0x0A)
			found = 1;
	}
	fclose(f);
	return found;
}

int
testutil_wait_listening(int port, int timeout_ms)
{
	uint64_t deadline = clock_now_ms() + (uint64_t)timeout_ms;

	for (;;) {
		if (testutil_listed("/proc/net/tcp", port) ||
		    testutil_listed("/proc/net/tcp6", port))
			return 1;
		if (clock_ms_until(deadline) == 0)
			return 0;
		/* No descriptor tells when another process starts listening. */
		poll(NULL, 0, 20);
	}
}

const char *
testutil_seed_copy(const char *name, int port)
{
	static __thread char copy[PATH_MAX];
	char src[PATH_MAX], dir[] = "/tmp/tcpchat-seed-XXXXXX", text[8192];
	char out[sizeof(text) + 64];
	const char *top = getenv("top_srcdir");
	size_t len, o = 0;
	FILE *f;

	snprintf(src, sizeof(src), "%s/tests/seed/%s", top ? top : ".", name);
	ck_assert_msg(
	    (f = fopen(src, "r")) != NULL, "%s: %s", src, strerror(errno));
	len = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[len] = '\0';
	/* The tutorial's servers and clients bind or dial 9999 or 8888. */
	for (size_t i = 0; i < len;) {
		if (strncmp(text + i, "9999", 4) == 0 ||
		    strncmp(text + i, "8888", 4) == 0) {
			o += (size_t)snprintf(
			    out + o, sizeof(out) - o, "%d", port);
			i += 4;
		} else {
			out[o++] = text[i++];
		}
	}
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(copy, sizeof(copy), "%s/%s", dir, name);
	ck_assert_ptr_nonnull(f = fopen(copy, "w"));
	ck_assert_uint_eq(fwrite(out, 1, o, f), o);
	ck_assert_int_eq(fclose(f), 0);
	return copy;
}

void
testutil_seed_remove(const char *path)
{
	char dir[PATH_MAX];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	unlink(dir);
	if ((slash = strrchr(dir, '/')) != NULL) {
		*slash = '\0';
		rmdir(dir);
	}
}

/* ---- a process seen through /proc ------------------------------------ */

long
testutil_proc_status(pid_t pid, const char *name)
{
	char path[64], line[256];
	size_t len = strlen(name);
	long value = -1;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, name, len) == 0 && line[len] == ':') {
			value = atol(line + len + 1);
			break;
		}
	fclose(f);
	return value;
}

int
testutil_proc_threads(pid_t pid)
{
	return (int)testutil_proc_status(pid, "Threads");
}

int
testutil_proc_fds(pid_t pid)
{
	char path[64];
	struct dirent *d;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	DIR *dir = opendir(path);
	ck_assert_msg(dir != NULL, "%s: %s", path, strerror(errno));
	while ((d = readdir(dir)) != NULL)
		if (d->d_name[0] != '.')
			n++;
	closedir(dir);
	return n;
}

long
testutil_proc_cpu_ms(pid_t pid)
{
	char path[64], buf[1024];
	unsigned long utime = 0, stime = 0;
	long hz = sysconf(_SC_CLK_TCK);

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* Fields 14 and 15, counted after the name, which may hold spaces. */
	const char *p = strrchr(buf, ')');
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
	        &utime, &stime),
	    2);
	return (long)((utime + stime) * 1000 / (unsigned long)hz);
}

int
testutil_proc_reset_peak(pid_t pid)
{
	char path[64];
	int fd, rc;

	snprintf(path, sizeof(path), "/proc/%d/clear_refs", (int)pid);
	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) == -1)
		return -1;
	rc = write(fd, "5", 1) == 1 ? 0 : -1;
	close(fd);
	return rc;
}

long
testutil_raise_nofile(long want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return -1;
	if (rl.rlim_cur < (rlim_t)want) {
		rl.rlim_cur =
		    rl.rlim_max < (rlim_t)want ? rl.rlim_max : (rlim_t)want;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	return rl.rlim_cur > (rlim_t)LONG_MAX ? LONG_MAX : (long)rl.rlim_cur;
}

void
testutil_client_join(
    struct testutil_chatd *d, struct testutil_client *c, int id, int online)
{
	c->fd = testutil_connect(d->port);
	c->id = id;
	ck_assert_int_eq(net_local_name(c->fd, c->addr, sizeof(c->addr)), 0);
	testutil_chatd_expect(
	    d, "#%d %s connected (%d online)", id, c->addr, online);
}

void
testutil_clients_start(struct testutil_chatd *d, const char *mode,
    const char *const extra[], struct testutil_client *cs, int n)
{
	testutil_chatd_start(d, mode, extra);
	for (int i = 0; i < n; i++) {
		testutil_client_join(d, &cs[i], i + 1, i + 1);
		/* A room greets each joiner first: taken here. */
		if (strcmp(mode, "room") == 0)
			(void)testutil_expect_welcome(cs[i].fd, i + 1);
	}
}

void
testutil_clients_done(
    struct testutil_chatd *d, struct testutil_client *cs, int n)
{
	for (int i = 0; i < n; i++)
		if (cs[i].fd >= 0) {
			close(cs[i].fd);
			cs[i].fd = -1;
		}
	testutil_chatd_stop(d);
}

void
testutil_clients_sync(struct testutil_chatd *d, struct testutil_client *cs,
    int n, const char *sync, int room)
{
	char cmd[128], want[128];

	snprintf(cmd, sizeof(cmd), "/all %s", sync);
	snprintf(want, sizeof(want), "%s%s\n", room ? "operator: " : "", sync);
	testutil_chatd_type(d, cmd);
	for (int i = 0; i < n; i++)
		if (cs[i].fd >= 0)
			testutil_expect_str(cs[i].fd, want);
}

void
testutil_tmpdir(char *dir, size_t size, const char *prefix)
{
	snprintf(dir, size, "/tmp/%s_XXXXXX", prefix);
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

void
testutil_rmdir(const char *dir)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

int
testutil_unix_connect(const char *path)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		int save_errno = errno;
		close(fd);
		errno = save_errno;
		return -1;
	}
	return fd;
}

void
testutil_operator_attach(struct testutil_chatd *op, const char *path)
{
	int fd = testutil_unix_connect(path);

	ck_assert_msg(fd >= 0, "connect to the control socket %s: %s", path,
	    strerror(errno));
	op->proc.pid = -1;
	op->proc.in_fd = op->proc.out_fd = fd;
	op->proc.err_fd = -1;
	op->port = -1;
	op->line[0] = '\0';
}

void
testutil_operator_detach(struct testutil_chatd *op)
{
	if (op->proc.in_fd >= 0)
		close(op->proc.in_fd);
	op->proc.in_fd = op->proc.out_fd = -1;
}

/* ---- a program on a pseudo-terminal ----------------------------------- */

/*
 * The session leader: gives the program the terminal, starts it, then
 * does what the test asks ('f': foreground) until it exits, and reports
 * its pid and its wait status.  Never returns.
 */
static void
testutil_pty_leader(const char *slave_name, char *const argv[], int background,
    int ctl, int report)
{
	struct termios tio;
	int slave, status;

	/* A test that times out takes the leader and the program along. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	setsid();
	if ((slave = open(slave_name, O_RDWR)) == -1)
		_exit(126);
	ioctl(slave, TIOCSCTTY, 0);
	if (background && tcgetattr(slave, &tio) == 0) {
		tio.c_lflag |= TOSTOP;
		tcsetattr(slave, TCSANOW, &tio);
	}
	/* Once the program has the foreground, we are in the background. */
	signal(SIGTTOU, SIG_IGN);
	pid_t pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		signal(SIGTTOU, SIG_DFL);
		if (background)
			setpgid(0, 0);
		dup2(slave, 0);
		dup2(slave, 1);
		dup2(slave, 2);
		if (slave > 2)
			close(slave);
		execv(argv[0], argv);
		_exit(127);
	}
	if (background)
		setpgid(pid, pid);
	(void)!write(report, &pid, sizeof(pid));
	for (;;) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
		struct pollfd pfd = {.fd = ctl, .events = POLLIN};
		char cmd;
		/* A closed ctl is polled no more (fd -1 just waits). */
		if (poll(&pfd, 1, 20) == 1) {
			if (read(ctl, &cmd, 1) == 1)
				tcsetpgrp(slave, pid);
			else
				ctl = -1;
		}
	}
	(void)!write(report, &status, sizeof(status));
	_exit(0);
}

void
testutil_pty_spawn(struct testutil_pty *t, char *const argv[], int background)
{
	int ctl[2], report[2];

	memset(t, 0, sizeof(*t));
	t->master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	ck_assert_int_ge(t->master, 0);
	ck_assert_int_eq(grantpt(t->master), 0);
	ck_assert_int_eq(unlockpt(t->master), 0);
	const char *name = ptsname(t->master);
	ck_assert_ptr_nonnull(name);
	ck_assert_int_eq(pipe2(ctl, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(report, O_CLOEXEC), 0);
	t->leader = fork();
	ck_assert_int_ne(t->leader, -1);
	if (t->leader == 0) {
		close(ctl[1]);
		close(report[0]);
		testutil_pty_leader(name, argv, background, ctl[0], report[1]);
	}
	close(ctl[0]);
	close(report[1]);
	t->ctl = ctl[1];
	t->report = report[0];
	ck_assert_uint_eq(testutil_read_exact(t->report, &t->pid,
	                      sizeof(t->pid), testutil_wait_ms(5000)),
	    sizeof(t->pid));
}

/* Reads what the terminal has for up to timeout_ms.  0 when nothing. */
static int
testutil_pty_read(struct testutil_pty *t, int timeout_ms)
{
	struct pollfd pfd = {.fd = t->master, .events = POLLIN};

	if (t->len + 1 >= sizeof(t->out) || poll(&pfd, 1, timeout_ms) != 1)
		return 0;
	ssize_t n =
	    read(t->master, t->out + t->len, sizeof(t->out) - 1 - t->len);
	if (n <= 0) {
		/* The last process holding the terminal is gone (EIO). */
		poll(NULL, 0, timeout_ms > 20 ? 20 : timeout_ms);
		return 0;
	}
	t->len += (size_t)n;
	t->out[t->len] = '\0';
	return 1;
}

int
testutil_pty_expect(struct testutil_pty *t, const char *needle, int timeout_ms)
{
	uint64_t deadline = clock_now_ms() + (uint64_t)timeout_ms;

	t->out[t->len] = '\0';
	for (;;) {
		char *at = strstr(t->out + t->mark, needle);
		if (at != NULL) {
			t->mark = (size_t)(at - t->out) + strlen(needle);
			return 1;
		}
		int left = clock_ms_until(deadline);
		if (left <= 0)
			return 0;
		testutil_pty_read(t, left);
	}
}

void
testutil_pty_drain(struct testutil_pty *t, int quiet_ms)
{
	while (testutil_pty_read(t, quiet_ms))
		continue;
}

void
testutil_pty_type(struct testutil_pty *t, const char *s)
{
	testutil_send_str(t->master, s);
}

void
testutil_pty_foreground(struct testutil_pty *t)
{
	ck_assert_int_eq(write(t->ctl, "f", 1), 1);
}

int
testutil_pty_wait(struct testutil_pty *t, int timeout_ms)
{
	uint64_t deadline = clock_now_ms() + (uint64_t)timeout_ms;
	struct pollfd pfd = {.fd = t->report, .events = POLLIN};
	int status = -1;

	while (clock_ms_until(deadline) > 0) {
		testutil_pty_read(t, 10);
		if (poll(&pfd, 1, 0) == 1) {
			if (read(t->report, &status, sizeof(status)) !=
			    (ssize_t)sizeof(status))
				status = -1;
			break;
		}
	}
	if (status == -1)
		kill(t->pid, SIGKILL);
	testutil_pty_drain(t, 20);
	waitpid(t->leader, NULL, 0);
	close(t->master);
	close(t->ctl);
	close(t->report);
	return status;
}

char
testutil_proc_state(pid_t pid)
{
	char path[64], buf[512];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return '?';
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return '?';
	buf[n] = '\0';
	/* "pid (comm) S ...": the state follows the last ')'. */
	char *p = strrchr(buf, ')');
	return p != NULL && p[1] == ' ' ? p[2] : '?';
}
