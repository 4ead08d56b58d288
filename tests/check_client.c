/*
 * check_client.c - the client's session, run in-process on pipes (and a
 * pty) against servers started here on 127.0.0.1 port 0.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "client.h"
#include "clock.h"
#include "escape.h"
#include "io.h"
#include "net.h"
#include "testutil.h"
#include "version.h"

/* How long any wait in these tests may take before the test fails. */
#define T_WAIT_MS 5000
#define T_OUT_MAX (8u << 20)

/* ---- the client under test, in a thread ------------------------------ */

struct harness {
	struct client_options opts;
	char port[16];
	int in_w, out_r, err_r; /* our ends */
	int in_r, out_w, err_w; /* the client's ends */
	pthread_t thread;
	int status;
	char *out; /* everything it wrote, T_OUT_MAX bytes */
	size_t out_len;
	uint64_t out_total; /* bytes written, kept or not */
	char err[4096];
};

static void *
harness_main(void *arg)
{
	struct harness *h = arg;

	h->status = client_run(&h->opts, h->in_r, h->out_w, h->err_w);
	/* Our reader sees end of file when the client is done. */
	close(h->out_w);
	close(h->err_w);
	close(h->in_r);
	return NULL;
}

/* Options for port, scripted, output to a pipe. */
static void
harness_init(struct harness *h, int port)
{
	memset(h, 0, sizeof(*h));
	client_options_init(&h->opts);
	snprintf(h->port, sizeof(h->port), "%d", port);
	h->opts.host = "127.0.0.1";
	h->opts.port = h->port;
	h->opts.wait_ms = T_WAIT_MS;
	h->in_w = h->out_r = h->err_r = -1;
	h->out = malloc(T_OUT_MAX + 1);
	ck_assert_ptr_nonnull(h->out);
}

/* Starts the client; out_w may be given (a pty), else a pipe is made. */
static void
harness_start(struct harness *h, int out_w, int out_r)
{
	int in[2], err[2];

	ck_assert_int_eq(pipe2(in, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(err, O_CLOEXEC), 0);
	if (out_w < 0) {
		int out[2];
		ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
		out_r = out[0];
		out_w = out[1];
	}
	h->in_r = in[0];
	h->in_w = in[1];
	h->err_r = err[0];
	h->err_w = err[1];
	h->out_r = out_r;
	h->out_w = out_w;
	ck_assert_int_eq(pthread_create(&h->thread, NULL, harness_main, h), 0);
}

/*
 * Reads fd into buf until end of file or a pty hang-up, bounded; what
 * does not fit is read and counted in *total (when not NULL), so a
 * flood never blocks the writer.
 */
static size_t
harness_read_counted(
    int fd, char *buf, size_t cap, int timeout_ms, uint64_t *total)
{
	uint64_t deadline = clock_now_ms() + (uint64_t)timeout_ms, all = 0;
	size_t got = 0;
	char spill[16384];

	while (got < cap || total != NULL) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int rc = poll(&pfd, 1, clock_ms_until(deadline));
		if (rc == 0)
			ck_abort_msg("no end of output within %d ms (%zu "
			             "bytes so far)",
			    timeout_ms, got);
		if (rc == -1 && errno == EINTR)
			continue;
		ssize_t n = got < cap ? io_read_some(fd, buf + got, cap - got)
		                      : io_read_some(fd, spill, sizeof(spill));
		if (n <= 0)
			break;
		if (got < cap)
			got += (size_t)n;
		all += (uint64_t)n;
	}
	if (total != NULL)
		*total = all;
	return got;
}

/* Reads fd into buf until end of file or a pty hang-up, bounded. */
static size_t
harness_read_all(int fd, char *buf, size_t cap, int timeout_ms)
{
	return harness_read_counted(fd, buf, cap, timeout_ms, NULL);
}

/* Collects output and errors, waits for the client, returns its status. */
static int
harness_finish(struct harness *h)
{
	size_t n;

	if (h->in_w >= 0)
		close(h->in_w);
	h->in_w = -1;
	h->out_len = harness_read_counted(
	    h->out_r, h->out, T_OUT_MAX, T_WAIT_MS * 2, &h->out_total);
	h->out[h->out_len] = '\0';
	n = harness_read_all(h->err_r, h->err, sizeof(h->err) - 1, T_WAIT_MS);
	h->err[n] = '\0';
	ck_assert_int_eq(pthread_join(h->thread, NULL), 0);
	close(h->out_r);
	close(h->err_r);
	return h->status;
}

static void
harness_free(struct harness *h)
{
	free(h->out);
}

static void
harness_input(struct harness *h, const char *s)
{
	testutil_send_str(h->in_w, s);
}

/* ---- purpose-built servers -------------------------------------------- */

struct script_server;
typedef void (*script_fn)(struct script_server *s, int fd);

/* Accepts one connection and runs a script on it. */
struct script_server {
	int listen_fd, port;
	pthread_t thread;
	script_fn script;
	const char *reply; /* what the script sends, where it sends one */
	size_t reply_len;
	char got[65536]; /* what the client sent, in order */
	size_t got_len;
	char msgs[8][64]; /* raw: each recv() apart */
	int nmsgs;
	int saw_eof; /* the client half-closed */
	int release[2]; /* script_hold_open: written to let go */
};

static void *
script_server_main(void *arg)
{
	struct script_server *s = arg;
	int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);

	if (fd >= 0) {
		s->script(s, fd);
		close(fd);
	}
	return NULL;
}

/* Starts a script server on host (a loopback address), port 0. */
static void
script_server_start_at(struct script_server *s, const char *host,
    script_fn script, const char *reply, size_t reply_len)
{
	int gai;

	memset(s, 0, sizeof(*s));
	s->script = script;
	s->reply = reply;
	s->reply_len = reply_len;
	ck_assert_int_eq(pipe(s->release), 0);
	s->listen_fd = net_listen(host, "0", 4, &gai);
	ck_assert_int_ge(s->listen_fd, 0);
	s->port = net_local_port(s->listen_fd);
	ck_assert_int_eq(
	    pthread_create(&s->thread, NULL, script_server_main, s), 0);
}

static void
script_server_start(struct script_server *s, script_fn script,
    const char *reply, size_t reply_len)
{
	script_server_start_at(s, "127.0.0.1", script, reply, reply_len);
}

/* Waits for the script to end (the test's timeout bounds it). */
static void
script_server_join(struct script_server *s)
{
	pthread_join(s->thread, NULL);
	close(s->listen_fd);
	close(s->release[0]);
	close(s->release[1]);
}

/* Lets a script_hold_open server close its connection. */
static void
script_server_release(struct script_server *s)
{
	ck_assert_int_eq(write(s->release[1], "", 1), 1);
}

/* Reads until the client's end of file, keeping what came. */
static void
script_read_to_eof(struct script_server *s, int fd)
{
	ssize_t n;

	while ((n = io_read_some(
	            fd, s->got + s->got_len, sizeof(s->got) - s->got_len)) > 0)
		s->got_len += (size_t)n;
	s->saw_eof = n == 0;
}

/* Reads one chunk, sends the reply, closes: the seed's simple server. */
static void
script_reply_once(struct script_server *s, int fd)
{
	ssize_t n = io_read_some(fd, s->got, sizeof(s->got));

	if (n > 0)
		s->got_len = (size_t)n;
	io_write_full(fd, s->reply, s->reply_len);
}

/* Sends the reply at once, then waits for the client to leave. */
static void
script_send_then_drain(struct script_server *s, int fd)
{
	io_write_full(fd, s->reply, s->reply_len);
	script_read_to_eof(s, fd);
}

/* Never answers; reads until the client goes. */
static void
script_silent(struct script_server *s, int fd)
{
	script_read_to_eof(s, fd);
}

/* Never answers and keeps the connection after our end of file. */
static void
script_hold_open(struct script_server *s, int fd)
{
	char c;

	script_read_to_eof(s, fd);
	(void)io_read_some(s->release[0], &c, 1);
}

/* Answers only after the client's end of file: a late answer. */
static void
script_answer_after_eof(struct script_server *s, int fd)
{
	script_read_to_eof(s, fd);
	if (s->saw_eof)
		io_write_full(fd, s->reply, s->reply_len);
}

/*
 * The seed's chat server: each recv() is one message, answered with the
 * reply, until the message is exactly "q".
 */
static void
script_seed_chat(struct script_server *s, int fd)
{
	char buf[64];
	ssize_t n;

	while (
	    s->nmsgs < 8 && (n = io_read_some(fd, buf, sizeof(buf) - 1)) > 0) {
		buf[n] = '\0';
		snprintf(s->msgs[s->nmsgs++], sizeof(s->msgs[0]), "%s", buf);
		if (strcmp(buf, "q") == 0)
			break;
		io_write_full(fd, s->reply, s->reply_len);
	}
}

/* Reads one chunk, sends half a reply, then resets the connection. */
static void
script_reset_mid_reply(struct script_server *s, int fd)
{
	struct linger lg = {.l_onoff = 1, .l_linger = 0};

	(void)io_read_some(fd, s->got, sizeof(s->got));
	io_write_full(fd, s->reply, s->reply_len);
	/* Reset only once the client has the half and talks again. */
	char c;
	(void)io_read_some(fd, &c, 1);
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}

/* ---- one-shot ----------------------------------------------------------- */

START_TEST(test_one_shot_echo)
{
	struct testutil_server srv;
	struct harness h;

	testutil_server_start(&srv, TESTUTIL_ECHO);
	harness_init(&h, srv.port);
	h.opts.mode = CLIENT_ONE_SHOT;
	h.opts.message = "hello, 你好";
	harness_start(&h, -1, -1);
	ck_assert_int_eq(harness_finish(&h), CLIENT_EXIT_OK);
	ck_assert_str_eq(h.out, "hello, 你好\n");
	ck_assert_str_eq(h.err, "");
	harness_free(&h);
	testutil_server_stop(&srv);
}
END_TEST

START_TEST(test_one_shot_seed_simple_server)
{
	static const char reply[] = "来自服务端消息：我不好";
	struct script_server srv;
	struct harness h;

	script_server_start(&srv, script_reply_once, reply, strlen(reply));
	harness_init(&h, srv.port);
	h.opts.mode = CLIENT_ONE_SHOT;
	h.opts.dialect = CLIENT_DIALECT_BARE;
	h.opts.message = "来自客户端消息：你好";
	harness_start(&h, -1, -1);
	ck_assert_int_eq(harness_finish(&h), CLIENT_EXIT_OK);
	script_server_join(&srv);
	/* Byte-exact both ways: no newline added in either direction. */
	ck_assert_str_eq(h.out, reply);
	ck_assert_uint_eq(srv.got_len, strlen("来自客户端消息：你好"));
	ck_assert(memcmp(srv.got, "来自客户端消息：你好", srv.got_len) == 0);
	harness_free(&h);
}
END_TEST

START_TEST(test_one_shot_unterminated_reply_ends_on_pause)
{
	static const char reply[] = "no newline here";
	struct script_server srv;
	struct harness h;
	uint64_t start;

	/* The server keeps the connection: only the pause ends the reply. */
	script_server_start(&srv, script_send_then_drain, reply, strlen(reply));
	harness_init(&h, srv.port);
	h.opts.mode = CLIENT_ONE_SHOT;
	h.opts.message = "x";
	start = clock_now_ms();
	harness_start(&h, -1, -1);
	ck_assert_int_eq(harness_finish(&h), CLIENT_EXIT_OK);
	ck_assert_uint_lt(clock_now_ms() - start, T_WAIT_MS);
	ck_assert_str_eq(h.out, reply);
	script_server_join(&srv);
	ck_assert_int_eq(srv.saw_eof, 1);
	harness_free(&h);
}
END_TEST

/* ---- scripted input ------------------------------------------------------ */

START_TEST(test_scripted_lines_echoed)
{
	static const char input[] = "one\ntwo\r\n\nthree 三\nno newline";
	struct testutil_server srv;
	struct harness h;

	testutil_server_start(&srv, TESTUTIL_ECHO);
	harness_init(&h, srv.port);
	harness_start(&h, -1, -1);
	harness_input(&h, input);
	/* The echo server closes after our end of file: exit 0 at once. */
	ck_assert_int_eq(harness_finish(&h), CLIENT_EXIT_OK);
	ck_assert_uint_eq(h.out_len, strlen(input));
	ck_assert_str_eq(h.out, input);
	ck_assert_str_eq(h.err, "");
	harness_free(&h);
	testutil_server_stop(&srv);
}
END_TEST

/* Writes a large input from its own thread: the pipe holds only 64 KiB. */
struct feeder {
	int fd;
	const char *buf;
	size_t len;
};

static void *
feeder_main(void *arg)
{
	struct feeder *f = arg;

	io_write_full(f->fd, f->buf, f->len);
	close(f->fd);
	return NULL;
}

START_TEST(test_scripted_large_binary_no_deadlock)
{
	const size_t len = 3u << 20;
	struct testutil_server srv;
	struct harness h;
	struct feeder f;
	pthread_t t;
	char *input = malloc(len);

	ck_assert_ptr_nonnull(input);
	/* NULs, ESC, bytes that are no UTF-8, and almost no newlines. */
	for (size_t i = 0; i < len; i++)
		input[i] = (char)((i * 7919u) >> 3);
	testutil_server_start(&srv, TESTUTIL_ECHO);
	harness_init(&h, srv.port);
	harness_start(&h, -1, -1);
	f = (struct feeder){.fd = h.in_w, .buf = input, .len = len};
	h.in_w = -1;
	ck_assert_int_eq(pthread_create(&t, NULL, feeder_main, &f), 0);
	ck_assert_int_eq(harness_finish(&h), CLIENT_EXIT_OK);
	pthread_join(t, NULL);
	ck_assert_uint_eq(h.out_len, len);
	ck_assert(memcmp(h.out, input, len) == 0);
	free(input);
	harness_free(&h);
	testutil_server_stop(&srv);
}
END_TEST

/* ---- half-close -----------------------------------------------------------
 */

/*
 * Sends input in the given mode, then ends it: the server must see end
 * of file after exactly that input, and its answer, sent only then, must
 * still reach the output, with nothing on stderr.
 */
static void
check_late_answer_after_eof(enum client_mode mode, const char *input)
{
	char notice[256];
	static const char late[] = "late answer 1\nlate answer 2\n";
	struct script_server srv;
	struct harness h;

	script_server_start(&srv, script_answer_after_eof, late, strlen(late));
	harness_init(&h, srv.port);
	h.opts.mode = mode;
	harness_start(&h, -1, -1);
	harness_input(&h, input);
	ck_assert_int_eq(harness_finish(&h), CLIENT_EXIT_OK);
	script_server_join(&srv);
	ck_assert_int_eq(srv.saw_eof, 1);
	ck_assert_uint_eq(srv.got_len, strlen(input));
	ck_assert(memcmp(srv.got, input, srv.got_len) == 0);
	ck_assert_str_eq(h.out, late);
	/* A person is told that sending is over and what happens next. */
	snprintf(notice, sizeof(notice),
	    "tcpchat: done sending; waiting for 127.0.0.1:%d to close "
	    "(up to 5 s of silence; Ctrl-C quits)\n",
	    srv.port);
	ck_assert_str_eq(h.err, mode == CLIENT_INTERACTIVE ? notice : "");
	harness_free(&h);
}

START_TEST(test_half_close_then_late_answer)
{
	check_late_answer_after_eof(CLIENT_SCRIPTED, "first\nsecond\n");
}
END_TEST

START_TEST(test_half_close_wait_runs_out)
{
	struct script_server srv;
	struct harness h;
	uint64_t start, took;

	/* A server that never closes: --wait ends the session, status 0. */
	script_server_start(&srv, script_hold_open, NULL, 0);
	harness_init(&h, srv.port);
	h.opts.wait_ms = 300;
	start = clock_now_ms();
	harness_start(&h, -1, -1);
	harness_input(&h, "anyone?\n");
	ck_assert_int_eq(harness_finish(&h), CLIENT_EXIT_OK);
	took = clock_now_ms() - start;
	ck_assert_uint_ge(took, 300);
	ck_assert_uint_lt(took, T_WAIT_MS);
	script_server_release(&srv);
	script_server_join(&srv);
	ck_assert_int_eq(srv.saw_eof, 1);
	ck_assert_str_eq(h.out, "");
	harness_free(&h);
}
END_TEST

/* ---- --raw ------------------------------------------------------------ */

START_TEST(test_raw_lines_exact_and_in_step)
{
	struct script_server srv;
	struct harness h;

	script_server_start(&srv, script_seed_chat, "ok", 2);
	harness_init(&h, srv.port);
	h.opts.dialect = CLIENT_DIALECT_BARE;
	harness_start(&h, -1, -1);
	harness_input(&h, "hi\r\nthere 你好\n\nq\n");
	ck_assert_int_eq(harness_finish(&h), CLIENT_EXIT_OK);
	script_server_join(&srv);
	/* Each line alone in its recv(), no newline: as the seed compares. */
	ck_assert_int_eq(srv.nmsgs, 3);
	ck_assert_str_eq(srv.msgs[0], "hi");
	ck_assert_str_eq(srv.msgs[1], "there 你好");
	ck_assert_str_eq(srv.msgs[2], "q");
	ck_assert_str_eq(h.out, "okok");
	harness_free(&h);
}
END_TEST

START_TEST(test_raw_no_reply_times_out)
{
	struct script_server srv;
	struct harness h;
	char expect[128];

	script_server_start(&srv, script_silent, NULL, 0);
	harness_init(&h, srv.port);
	h.opts.dialect = CLIENT_DIALECT_BARE;
	h.opts.wait_ms = 300;
	harness_start(&h, -1, -1);
	harness_input(&h, "one\ntwo\n");
	ck_assert_int_eq(harness_finish(&h), CLIENT_EXIT_ERROR);
	snprintf(expect, sizeof(expect),
	    "tcpchat: 127.0.0.1:%d: no reply within 0.3 s\n", srv.port);
	ck_assert_str_eq(h.err, expect);
	script_server_join(&srv);
	/* "two" waited for an answer to "one" and never went. */
	ck_assert_uint_eq(srv.got_len, 3);
	ck_assert(memcmp(srv.got, "one", 3) == 0);
	harness_free(&h);
}
END_TEST

/* ---- errors ------------------------------------------------------------ */

START_TEST(test_refused)
{
	struct harness h;
	char expect[128];
	int port = testutil_free_port();

	harness_init(&h, port);
	h.opts.mode = CLIENT_ONE_SHOT;
	h.opts.message = "hello";
	harness_start(&h, -1, -1);
	ck_assert_int_eq(harness_finish(&h), CLIENT_EXIT_ERROR);
	snprintf(expect, sizeof(expect),
	    "tcpchat: cannot connect to 127.0.0.1:%d: %s\n", port,
	    strerror(ECONNREFUSED));
	ck_assert_str_eq(h.err, expect);
	ck_assert_str_eq(h.out, "");
	harness_free(&h);
}
END_TEST

START_TEST(test_refused_ipv6_names_bracketed)
{
	struct harness h;
	char expect[128];
	int gai, fd = net_listen("::1", "0", 1, &gai), port;

	if (fd == -1) {
		fprintf(stderr, "check_client: no IPv6 loopback, skipped\n");
		return;
	}
	port = net_local_port(fd);
	close(fd);
	harness_init(&h, port);
	h.opts.host = "::1";
	harness_start(&h, -1, -1);
	ck_assert_int_eq(harness_finish(&h), CLIENT_EXIT_ERROR);
	snprintf(expect, sizeof(expect),
	    "tcpchat: cannot connect to [::1]:%d: %s\n", port,
	    strerror(ECONNREFUSED));
	ck_assert_str_eq(h.err, expect);
	harness_free(&h);
}
END_TEST

START_TEST(test_one_shot_wait_timeout)
{
	struct script_server srv;
	struct harness h;
	char expect[128];
	uint64_t start, took;

	script_server_start(&srv, script_silent, NULL, 0);
	harness_init(&h, srv.port);
	h.opts.mode = CLIENT_ONE_SHOT;
	h.opts.message = "hello?";
	h.opts.wait_ms = 400;
	start = clock_now_ms();
	harness_start(&h, -1, -1);
	ck_assert_int_eq(harness_finish(&h), CLIENT_EXIT_ERROR);
	took = clock_now_ms() - start;
	ck_assert_uint_ge(took, 400);
	ck_assert_uint_lt(took, T_WAIT_MS);
	snprintf(expect, sizeof(expect),
	    "tcpchat: 127.0.0.1:%d: no reply within 0.4 s\n", srv.port);
	ck_assert_str_eq(h.err, expect);
	script_server_join(&srv);
	harness_free(&h);
}
END_TEST

START_TEST(test_one_shot_closed_without_reply)
{
	struct script_server srv;
	struct harness h;
	char expect[128];

	script_server_start(&srv, script_reply_once, "", 0);
	harness_init(&h, srv.port);
	h.opts.mode = CLIENT_ONE_SHOT;
	h.opts.message = "hello";
	harness_start(&h, -1, -1);
	ck_assert_int_eq(harness_finish(&h), CLIENT_EXIT_ERROR);
	snprintf(expect, sizeof(expect),
	    "tcpchat: 127.0.0.1:%d closed the "
	    "connection without a reply\n",
	    srv.port);
	ck_assert_str_eq(h.err, expect);
	script_server_join(&srv);
	harness_free(&h);
}
END_TEST

/* ---- the server ending mid-reply ------------------------------------------
 */

START_TEST(test_server_closes_mid_reply)
{
	struct testutil_server srv;
	struct harness h;

	/* Echoes 7 bytes of our line, then closes. */
	testutil_server_start(&srv, TESTUTIL_CLOSE_EARLY);
	srv.close_after = 7;
	harness_init(&h, srv.port);
	harness_start(&h, -1, -1);
	harness_input(&h, "partial reply\n");
	ck_assert_int_eq(harness_finish(&h), CLIENT_EXIT_OK);
	ck_assert_str_eq(h.out, "partial");
	ck_assert_str_eq(h.err, "");
	harness_free(&h);
	testutil_server_stop(&srv);
}
END_TEST

START_TEST(test_server_resets_mid_reply)
{
	static const char half[] = "half a rep";
	struct script_server srv;
	struct harness h;
	char expect[128];

	script_server_start(&srv, script_reset_mid_reply, half, strlen(half));
	harness_init(&h, srv.port);
	harness_start(&h, -1, -1);
	/* Input stays open: the client is still talking when reset. */
	harness_input(&h, "question\n");
	h.out_len = harness_read_all(h.out_r, h.out, strlen(half), T_WAIT_MS);
	ck_assert_uint_eq(h.out_len, strlen(half));
	ck_assert(memcmp(h.out, half, h.out_len) == 0);
	harness_input(&h, "more\n");
	ck_assert_int_eq(harness_finish(&h), CLIENT_EXIT_ERROR);
	script_server_join(&srv);
	snprintf(expect, sizeof(expect),
	    "tcpchat: 127.0.0.1:%d: connection reset by peer\n", srv.port);
	ck_assert_str_eq(h.err, expect);
	harness_free(&h);
}
END_TEST

/* ---- interactive -------------------------------------------------------- */

START_TEST(test_interactive_q_ends)
{
	struct script_server srv;
	struct harness h;

	script_server_start(&srv, script_seed_chat, "pong\n", 5);
	harness_init(&h, srv.port);
	h.opts.mode = CLIENT_INTERACTIVE;
	harness_start(&h, -1, -1);
	harness_input(&h, "ping\n");
	/* The answer arrives while input stays open. */
	ck_assert_uint_eq(testutil_read_exact(h.out_r, h.out, 5, T_WAIT_MS), 5);
	ck_assert(memcmp(h.out, "pong\n", 5) == 0);
	harness_input(&h, "q\nnot sent\n");
	/* Ends without our end of file: harness_finish would close it. */
	ck_assert_int_eq(testutil_wait_eof(h.out_r, T_WAIT_MS), 1);
	ck_assert_int_eq(harness_finish(&h), CLIENT_EXIT_OK);
	script_server_join(&srv);
	ck_assert_int_eq(srv.nmsgs, 2);
	ck_assert_str_eq(srv.msgs[0], "ping\n");
	ck_assert_str_eq(srv.msgs[1], "q\n");
	ck_assert_str_eq(h.err, "");
	harness_free(&h);
}
END_TEST

START_TEST(test_interactive_server_close_says_so)
{
	struct script_server srv;
	struct harness h;
	char expect[128], err[256];

	script_server_start(&srv, script_reply_once, "bye\n", 4);
	harness_init(&h, srv.port);
	h.opts.mode = CLIENT_INTERACTIVE;
	harness_start(&h, -1, -1);
	harness_input(&h, "hello\n");
	/* Input stays open: only the server's close can end the client. */
	snprintf(expect, sizeof(expect),
	    "tcpchat: 127.0.0.1:%d closed the connection\n", srv.port);
	testutil_read_until(h.err_r, err, sizeof(err), "\n", T_WAIT_MS);
	ck_assert_str_eq(err, expect);
	ck_assert_int_eq(harness_finish(&h), CLIENT_EXIT_OK);
	script_server_join(&srv);
	ck_assert_str_eq(h.out, "bye\n");
	ck_assert_str_eq(h.err, "");
	harness_free(&h);
}
END_TEST

START_TEST(test_interactive_end_of_input_half_closes)
{
	/* Ctrl-D: the user ended it, so the server's close is no news. */
	check_late_answer_after_eof(CLIENT_INTERACTIVE, "typed\n");
}
END_TEST

START_TEST(test_stop_fd_ends_session)
{
	struct script_server srv;
	struct harness h;
	int stop[2];

	script_server_start(&srv, script_silent, NULL, 0);
	harness_init(&h, srv.port);
	h.opts.mode = CLIENT_INTERACTIVE;
	ck_assert_int_eq(pipe(stop), 0);
	h.opts.stop_fd = stop[0];
	harness_start(&h, -1, -1);
	harness_input(&h, "hello\n");
	ck_assert_int_eq(write(stop[1], "", 1), 1);
	ck_assert_int_eq(testutil_wait_eof(h.out_r, T_WAIT_MS), 1);
	ck_assert_int_eq(harness_finish(&h), CLIENT_EXIT_ERROR);
	script_server_join(&srv);
	close(stop[0]);
	close(stop[1]);
	harness_free(&h);
}
END_TEST

/* ---- what reaches the user's output -------------------------------------- */

static const char hostile[] = "plain 你好\n"
                              "\x1b[2J\x1b]0;owned\x07red\r\n"
                              "nul\0byte\x7f\xff\xfe\n"
                              "tail";

START_TEST(test_escaped_on_a_tty)
{
	static const char expect[] = "plain 你好\n"
	                             "\\x1b[2J\\x1b]0;owned\\x07red\n"
	                             "nul\\x00byte\\x7f\\xff\\xfe\n"
	                             "tail\n";
	struct script_server srv;
	struct harness h;
	struct termios tio;
	int master, slave;

	ck_assert_int_eq(openpty(&master, &slave, NULL, NULL, NULL), 0);
	/* Exact bytes through the pty: no CRLF translation. */
	ck_assert_int_eq(tcgetattr(slave, &tio), 0);
	cfmakeraw(&tio);
	ck_assert_int_eq(tcsetattr(slave, TCSANOW, &tio), 0);
	ck_assert_int_eq(isatty(slave), 1);

	script_server_start(
	    &srv, script_reply_once, hostile, sizeof(hostile) - 1);
	harness_init(&h, srv.port);
	h.opts.escape_output = isatty(slave);
	harness_start(&h, slave, master);
	harness_input(&h, "show me\n");
	/* The pty reports EIO, not end of file, once the slave closes. */
	ck_assert_int_eq(harness_finish(&h), CLIENT_EXIT_OK);
	ck_assert_uint_eq(h.out_len, strlen(expect));
	ck_assert_str_eq(h.out, expect);
	script_server_join(&srv);
	harness_free(&h);
}
END_TEST

START_TEST(test_raw_bytes_to_a_pipe)
{
	struct script_server srv;
	struct harness h;

	script_server_start(
	    &srv, script_reply_once, hostile, sizeof(hostile) - 1);
	harness_init(&h, srv.port);
	h.opts.escape_output = 0;
	harness_start(&h, -1, -1);
	harness_input(&h, "show me\n");
	ck_assert_int_eq(harness_finish(&h), CLIENT_EXIT_OK);
	ck_assert_uint_eq(h.out_len, sizeof(hostile) - 1);
	ck_assert(memcmp(h.out, hostile, h.out_len) == 0);
	script_server_join(&srv);
	harness_free(&h);
}
END_TEST

START_TEST(test_escaped_huge_line_bounded)
{
	const size_t len = 1u << 20;
	struct script_server srv;
	struct harness h;
	char *junk = malloc(len);

	ck_assert_ptr_nonnull(junk);
	/* A megabyte of control bytes and NULs, no newline at all. */
	for (size_t i = 0; i < len; i++)
		junk[i] = (char)(i % 32);
	script_server_start(&srv, script_reply_once, junk, len);
	harness_init(&h, srv.port);
	h.opts.escape_output = 1;
	harness_start(&h, -1, -1);
	harness_input(&h, "flood me\n");
	ck_assert_int_eq(harness_finish(&h), CLIENT_EXIT_OK);
	script_server_join(&srv);
	/* Every byte escaped ("\x00" or "\t"...), no raw control left. */
	ck_assert_uint_gt(h.out_len, len);
	size_t raw_at = h.out_len;
	for (size_t i = 0; i < h.out_len && raw_at == h.out_len; i++)
		if ((unsigned char)h.out[i] < 0x20 && h.out[i] != '\t' &&
		    h.out[i] != '\n')
			raw_at = i;
	ck_assert_msg(raw_at == h.out_len, "raw control byte at %zu", raw_at);
	ck_assert_int_eq(h.out[h.out_len - 1], '\n');
	free(junk);
	harness_free(&h);
}
END_TEST

/* ---- what tcpchatd says: the pure readers ---------------------------- */

START_TEST(test_refusal_lines)
{
	static const char *const refusals[] = {"tcpchatd: access denied\n",
	    "tcpchatd: access denied", "tcpchatd: server full (3 clients)\n",
	    "tcpchatd: too many connections from your address (max 2)\r\n",
	    "tcpchatd: server busy, try again\n",
	    "tcpchatd: server busy (out of descriptors), try again later\n",
	    "tcpchatd: error: cannot serve more clients now, try again "
	    "later\n",
	    "tcpchatd: error: permission denied\n", NULL};
	static const char *const others[] = {"tcpchatd: password required\n",
	    "tcpchatd: server fullness\n", "tcpchatd: server shutting down\n",
	    "tcpchatd: idle timeout, closing\n",
	    "tcpchatd: welcome, you are #5; 3 online\n", "hello\n", "",
	    "tcpchatd: access", " tcpchatd: access denied\n",
	    "tcpchatd: errors: none\n", NULL};

	for (int i = 0; refusals[i] != NULL; i++)
		ck_assert_msg(
		    client_is_refusal(refusals[i], strlen(refusals[i])),
		    "not a refusal: %s", refusals[i]);
	for (int i = 0; others[i] != NULL; i++)
		ck_assert_msg(!client_is_refusal(others[i], strlen(others[i])),
		    "a refusal: %s", others[i]);
}
END_TEST

/* client_who_entry on a C string: the name, or "" for none. */
static const char *
who(const char *line)
{
	static char name[CLIENT_NAME_MAX];

	if (!client_who_entry(line, strlen(line), name, sizeof(name)))
		return "";
	return name;
}

START_TEST(test_who_entries)
{
	char small[4];

	ck_assert_str_eq(who("tcpchatd: #3 alice, online 5m"), "alice");
	ck_assert_str_eq(who("tcpchatd: #3 alice, online 5m\n"), "alice");
	ck_assert_str_eq(
	    who("tcpchatd:   #12 张三 (you), online 2s\r\n"), "张三");
	ck_assert_str_eq(who("tcpchatd: #7 bob.smith-2"), "bob.smith-2");
	ck_assert_str_eq(who("tcpchatd: #4, online 1h"), "4");
	ck_assert_str_eq(who("tcpchatd: #4"), "4");
	ck_assert_str_eq(who("tcpchatd: #4 (you), online 1h"), "4");
	/* Other lines of tcpchatd's that look alike. */
	ck_assert_str_eq(who("tcpchatd: #3 is now bob"), "");
	ck_assert_str_eq(who("tcpchatd: #4 bob left (quit: lunch)"), "");
	ck_assert_str_eq(who("tcpchatd: #4 joined (2 online)"), "");
	ck_assert_str_eq(who("tcpchatd: 3 online:"), "");
	ck_assert_str_eq(who("#3 alice: hi"), "");
	ck_assert_str_eq(who("tcpchatd: #x alice, online"), "");
	ck_assert_str_eq(who("tcpchatd: # alice, online"), "");
	ck_assert_str_eq(who("tcpchatd:#3alice"), "");
	/* Never a control byte into the line being edited. */
	ck_assert_str_eq(who("tcpchatd: #3 a\x1b[2Jb, online"), "");
	ck_assert_str_eq(who("tcpchatd: #3 a\xc2\x85z, online"), "");
	ck_assert_int_eq(
	    client_who_entry("tcpchatd: #3 alice", 18, small, sizeof(small)),
	    0);
}
END_TEST

/* All candidates client_complete offers, joined by spaces. */
static const char *
completions(const struct client_names *names, int control, const char *before,
    const char *word)
{
	static char all[1024];
	const char *c;

	all[0] = '\0';
	for (int i = 0; (c = client_complete(names, control, before, word, i));
	     i++) {
		ck_assert_int_lt(i, 64);
		if (all[0] != '\0')
			strcat(all, " ");
		strcat(all, c);
	}
	return all;
}

START_TEST(test_completion_candidates)
{
	static struct client_names names;

	names.count = 0;
	client_names_add(&names, "alice");
	client_names_add(&names, "Bob");
	client_names_add(&names, "bea");
	client_names_add(&names, "alice");
	ck_assert_int_eq(names.count, 3);
	ck_assert_str_eq(
	    completions(&names, 0, "", ""), "/nick /who /me /msg /quit /help");
	ck_assert_str_eq(completions(&names, 0, "", "/m"), "/me /msg");
	ck_assert_str_eq(completions(&names, 0, "", "/wh"), "/who");
	/* No file names, no words: nothing at all. */
	ck_assert_str_eq(completions(&names, 0, "", "./sr"), "");
	ck_assert_str_eq(completions(&names, 0, "hello ", "wor"), "");
	ck_assert_str_eq(completions(&names, 0, "/msg ", ""), "alice Bob bea");
	ck_assert_str_eq(completions(&names, 0, "/msg  ", "b"), "Bob bea");
	ck_assert_str_eq(completions(&names, 0, "/msg ", "AL"), "alice");
	ck_assert_str_eq(completions(&names, 0, "/msg bob ", "b"), "");
	ck_assert_str_eq(completions(&names, 0, "/nick ", "b"), "");
	ck_assert_str_eq(completions(NULL, 0, "/msg ", "b"), "");
	/* The console's own commands on a control socket. */
	ck_assert_str_eq(completions(&names, 1, "", ""),
	    "/list /to /msg /all /kick /stats /help /quit /r");
	ck_assert_str_eq(completions(&names, 1, "", "/l"), "/list");
	ck_assert_str_eq(completions(&names, 1, "/msg ", "b"), "");
	/* A full table takes no more. */
	for (int i = 0; i < CLIENT_NAMES_MAX + 10; i++) {
		char n[16];
		snprintf(n, sizeof(n), "n%d", i);
		client_names_add(&names, n);
	}
	ck_assert_int_eq(names.count, CLIENT_NAMES_MAX);
}
END_TEST

/* ---- every client's dialect ------------------------------------------ */

/*
 * Talks to a seed-like chat server (it answers "ok", no newline, until
 * "q") at a person's pace: each line after the answer to the one before,
 * the last one being `q`.  Leaves what the server got in srv->msgs.
 */
static void
converse(struct script_server *srv, enum client_dialect dialect,
    const char *const lines[])
{
	struct harness h;

	script_server_start(srv, script_seed_chat, "ok", 2);
	harness_init(&h, srv->port);
	h.opts.mode = CLIENT_INTERACTIVE;
	h.opts.dialect = dialect;
	harness_start(&h, -1, -1);
	for (int i = 0; lines[i] != NULL; i++) {
		harness_input(&h, lines[i]);
		if (lines[i + 1] != NULL)
			ck_assert_uint_eq(
			    testutil_read_exact(h.out_r, h.out, 2, T_WAIT_MS),
			    2);
	}
	/* `q` ends it without our end of file. */
	ck_assert_int_eq(testutil_wait_eof(h.out_r, T_WAIT_MS), 1);
	ck_assert_int_eq(harness_finish(&h), CLIENT_EXIT_OK);
	ck_assert_str_eq(h.err, "");
	script_server_join(srv);
	harness_free(&h);
}

START_TEST(test_dialect_follows_bare_server_interactive)
{
	static const char *const lines[] = {
	    "hello\n", "how are you\n", "q\n", NULL};
	struct script_server srv;

	converse(&srv, CLIENT_DIALECT_AUTO, lines);
	/* The first answer had no newline: from then on, neither do we. */
	ck_assert_int_eq(srv.nmsgs, 3);
	ck_assert_str_eq(srv.msgs[0], "hello\n");
	ck_assert_str_eq(srv.msgs[1], "how are you");
	ck_assert_str_eq(srv.msgs[2], "q");
}
END_TEST

START_TEST(test_dialect_q_before_any_message_is_bare)
{
	static const char *const lines[] = {"q\n", NULL};
	struct script_server srv;

	converse(&srv, CLIENT_DIALECT_AUTO, lines);
	ck_assert_int_eq(srv.nmsgs, 1);
	ck_assert_str_eq(srv.msgs[0], "q");
}
END_TEST

START_TEST(test_dialect_lines_forced)
{
	static const char *const lines[] = {"hello\n", "q\n", NULL};
	struct script_server srv;

	converse(&srv, CLIENT_DIALECT_LINES, lines);
	/* --lines: newlines kept, so this server never saw its "q". */
	ck_assert_int_ge(srv.nmsgs, 2);
	ck_assert_str_eq(srv.msgs[0], "hello\n");
	ck_assert_str_eq(srv.msgs[1], "q\n");
}
END_TEST

START_TEST(test_dialect_scripted_waits_for_first_message)
{
	struct script_server srv;
	struct harness h;

	script_server_start(&srv, script_seed_chat, "ok", 2);
	harness_init(&h, srv.port);
	harness_start(&h, -1, -1);
	/* All at once: only the wait for the first answer keeps them apart. */
	harness_input(&h, "hello\nsecond\r\n\nq\n");
	ck_assert_int_eq(harness_finish(&h), CLIENT_EXIT_OK);
	script_server_join(&srv);
	ck_assert_int_eq(srv.nmsgs, 3);
	ck_assert_str_eq(srv.msgs[0], "hello\n");
	ck_assert_str_eq(srv.msgs[1], "second");
	ck_assert_str_eq(srv.msgs[2], "q");
	ck_assert_str_eq(h.out, "okok");
	ck_assert_str_eq(h.err, "");
	harness_free(&h);
}
END_TEST

START_TEST(test_dialect_silent_server_gets_lines)
{
	struct script_server srv;
	struct harness h;
	uint64_t start, took;

	script_server_start(&srv, script_hold_open, NULL, 0);
	harness_init(&h, srv.port);
	h.opts.wait_ms = 300;
	start = clock_now_ms();
	harness_start(&h, -1, -1);
	harness_input(&h, "a\nb\n");
	ck_assert_int_eq(harness_finish(&h), CLIENT_EXIT_OK);
	took = clock_now_ms() - start;
	script_server_release(&srv);
	script_server_join(&srv);
	/* Silence is no dialect: lines, after one wait for an answer. */
	ck_assert_uint_eq(srv.got_len, 4);
	ck_assert(memcmp(srv.got, "a\nb\n", 4) == 0);
	ck_assert_uint_ge(took, 600);
	ck_assert_uint_lt(took, 600 + (uint64_t)testutil_wait_ms(3000));
	harness_free(&h);
}
END_TEST

/* ---- refusals: exit 3 ----------------------------------------------- */

/* Sends the reply without reading anything, then closes: a refusal. */
static void
script_turn_away(struct script_server *s, int fd)
{
	io_write_full(fd, s->reply, s->reply_len);
}

/* Runs a client in mode against a turn-away server sending reply. */
static int
run_against_turn_away(enum client_mode mode, const char *reply, char *out,
    size_t outsz, char *err, size_t errsz)
{
	struct script_server srv;
	struct harness h;
	int status;

	script_server_start(&srv, script_turn_away, reply, strlen(reply));
	harness_init(&h, srv.port);
	h.opts.mode = mode;
	h.opts.message = "let me in";
	harness_start(&h, -1, -1);
	if (mode != CLIENT_ONE_SHOT)
		(void)io_write_full(h.in_w, "let me in\nplease\n", 17);
	status = harness_finish(&h);
	script_server_join(&srv);
	memcpy(out, h.out, outsz - 1);
	out[outsz - 1] = '\0';
	memcpy(err, h.err, errsz - 1);
	err[errsz - 1] = '\0';
	harness_free(&h);
	return status;
}

START_TEST(test_refusal_exits_3)
{
	static const char *const lines[] = {"tcpchatd: access denied\n",
	    "tcpchatd: server full (1 clients)\n",
	    "tcpchatd: too many connections from your address (max 1)\n",
	    "tcpchatd: server busy, try again\n",
	    "tcpchatd: error: cannot serve more clients now, try again "
	    "later\n",
	    NULL};
	char out[256], err[256];

	for (int i = 0; lines[i] != NULL; i++) {
		ck_assert_int_eq(
		    run_against_turn_away(CLIENT_ONE_SHOT, lines[i], out,
		        sizeof(out), err, sizeof(err)),
		    CLIENT_EXIT_REFUSED);
		ck_assert_str_eq(out, lines[i]);
		ck_assert_str_eq(err, "");
		ck_assert_int_eq(
		    run_against_turn_away(CLIENT_SCRIPTED, lines[i], out,
		        sizeof(out), err, sizeof(err)),
		    CLIENT_EXIT_REFUSED);
		ck_assert_str_eq(out, lines[i]);
		ck_assert_str_eq(err, "");
	}
	/* Not refusals: a question, and a refusal among other lines. */
	ck_assert_int_eq(run_against_turn_away(CLIENT_ONE_SHOT,
	                     "tcpchatd: password required\n", out, sizeof(out),
	                     err, sizeof(err)),
	    CLIENT_EXIT_OK);
	/* A refusal among other lines is not the only answer. */
	{
		static const char two[] = "hello\ntcpchatd: access denied\n";
		struct script_server srv;
		struct harness h;
		script_server_start(
		    &srv, script_answer_after_eof, two, strlen(two));
		harness_init(&h, srv.port);
		harness_start(&h, -1, -1);
		harness_input(&h, "hi\n");
		ck_assert_int_eq(harness_finish(&h), CLIENT_EXIT_OK);
		script_server_join(&srv);
		ck_assert_str_eq(h.out, two);
		harness_free(&h);
	}
}
END_TEST

START_TEST(test_refusal_by_tcpchatd)
{
	static const char *const deny[] = {"--deny", "127.0.0.0/8", NULL};
	static const char *const one[] = {"--max-clients", "1", NULL};
	struct testutil_chatd d;
	struct harness h[3];
	int holder;

	testutil_chatd_start(&d, "echo", deny);
	harness_init(&h[0], d.port);
	h[0].opts.mode = CLIENT_ONE_SHOT;
	h[0].opts.message = "hi";
	harness_start(&h[0], -1, -1);
	ck_assert_int_eq(harness_finish(&h[0]), CLIENT_EXIT_REFUSED);
	ck_assert_str_eq(h[0].out, "tcpchatd: access denied\n");
	ck_assert_str_eq(h[0].err, "");
	harness_free(&h[0]);
	testutil_chatd_stop(&d);

	/* Full: three clients at once are all told, all exit 3. */
	testutil_chatd_start(&d, "echo", one);
	holder = testutil_connect(d.port);
	testutil_send_str(holder, "x\n");
	testutil_expect_str(holder, "x\n");
	for (int i = 0; i < 3; i++) {
		harness_init(&h[i], d.port);
		harness_start(&h[i], -1, -1);
		/* It may be gone already, told at once: no input needed. */
		(void)io_write_full(h[i].in_w, "hello\n", 6);
	}
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(harness_finish(&h[i]), CLIENT_EXIT_REFUSED);
		ck_assert_str_eq(
		    h[i].out, "tcpchatd: server full (1 clients)\n");
		ck_assert_str_eq(h[i].err, "");
		harness_free(&h[i]);
	}
	close(holder);
	testutil_chatd_stop(&d);
}
END_TEST

/* ---- -w bounds the exchange, --max-line the reply -------------------- */

/* Reads the question, then sends one line that never ends. */
static void
script_endless_line(struct script_server *s, int fd)
{
	char block[16384];

	(void)io_read_some(fd, s->got, sizeof(s->got));
	memset(block, 'x', sizeof(block));
	while (io_write_full(fd, block, sizeof(block)) != -1)
		;
}

/*
 * Reads the question, then drips a byte every 50 ms, never a newline:
 * well under the 200 ms pause that ends a reply, even on a loaded
 * machine (150 ms, the figure, sometimes slept past 200).
 */
static void
script_drip(struct script_server *s, int fd)
{
	(void)io_read_some(fd, s->got, sizeof(s->got));
	for (int i = 0; i < 1000 && io_write_full(fd, "d", 1) == 1; i++)
		poll(NULL, 0, 50); /* the drip's own pace */
}

/* Reads the question, then floods lines as fast as they go. */
static void
script_flood_lines(struct script_server *s, int fd)
{
	char line[64];
	unsigned i = 0;
	int n;

	(void)io_read_some(fd, s->got, sizeof(s->got));
	do
		n = snprintf(line, sizeof(line), "flood line %08u\n", i++);
	while (io_write_full(fd, line, (size_t)n) == n);
}

/* Never reads: its buffers fill up and stay full. */
static void
script_never_reads(struct script_server *s, int fd)
{
	char c;

	(void)fd;
	(void)io_read_some(s->release[0], &c, 1);
}

/* Whether buf[0..len) is made of byte c only. */
static int
all_bytes(const char *buf, size_t len, char c)
{
	for (size_t i = 0; i < len; i++)
		if (buf[i] != c)
			return 0;
	return 1;
}

/*
 * A one-shot "hi" against script, with -w wait_ms and --max-line
 * max_line (0: the default).  Fills h (for harness_free), *port and
 * *status; returns how long it took, in ms.
 */
static uint64_t
one_shot_against(script_fn script, int wait_ms, size_t max_line,
    struct harness *h, int *port, int *status)
{
	struct script_server srv;
	uint64_t start;

	script_server_start(&srv, script, NULL, 0);
	harness_init(h, srv.port);
	h->opts.mode = CLIENT_ONE_SHOT;
	h->opts.message = "hi";
	h->opts.wait_ms = wait_ms;
	if (max_line > 0)
		h->opts.max_line = max_line;
	start = clock_now_ms();
	harness_start(h, -1, -1);
	*status = harness_finish(h);
	*port = srv.port;
	script_server_join(&srv);
	return clock_now_ms() - start;
}

START_TEST(test_one_shot_endless_line_capped)
{
	struct harness h;
	char expect[160];
	uint64_t took;
	int port, status;

	took =
	    one_shot_against(script_endless_line, 2000, 0, &h, &port, &status);
	ck_assert_int_eq(status, CLIENT_EXIT_ERROR);
	/* Exactly --max-line bytes reach the output, then it stops. */
	ck_assert_uint_eq(h.out_total, CLIENT_DEFAULT_MAX_LINE);
	ck_assert(all_bytes(h.out, h.out_len, 'x'));
	snprintf(expect, sizeof(expect),
	    "tcpchat: 127.0.0.1:%d: reply longer than 65536 bytes "
	    "(--max-line): stopped\n",
	    port);
	ck_assert_str_eq(h.err, expect);
	ck_assert_uint_lt(took, 2000);
	fprintf(stderr,
	    "endless line, one-shot: %" PRIu64 " bytes in %" PRIu64 " ms\n",
	    h.out_total, took);
	harness_free(&h);

	one_shot_against(script_endless_line, 2000, 1000, &h, &port, &status);
	ck_assert_int_eq(status, CLIENT_EXIT_ERROR);
	ck_assert_uint_eq(h.out_total, 1000);
	harness_free(&h);
}
END_TEST

START_TEST(test_one_shot_drip_bounded)
{
	struct harness h;
	char expect[160];
	uint64_t took;
	int port, status;

	took = one_shot_against(script_drip, 1000, 0, &h, &port, &status);
	ck_assert_int_eq(status, CLIENT_EXIT_ERROR);
	/* The drip never pauses long enough to end a reply: -w ends it. */
	ck_assert_uint_ge(took, 1000);
	ck_assert_uint_lt(took, 1000 + (uint64_t)testutil_wait_ms(1500));
	ck_assert_uint_ge(h.out_len, 1);
	ck_assert_uint_le(h.out_len, 60);
	ck_assert(all_bytes(h.out, h.out_len, 'd'));
	snprintf(expect, sizeof(expect),
	    "tcpchat: 127.0.0.1:%d: reply not complete within 1 s "
	    "(%zu bytes)\n",
	    port, h.out_len);
	ck_assert_str_eq(h.err, expect);
	fprintf(stderr, "drip, one-shot -w 1s: %zu bytes in %" PRIu64 " ms\n",
	    h.out_len, took);
	harness_free(&h);
}
END_TEST

START_TEST(test_one_shot_flood_bounded)
{
	struct harness h;
	uint64_t took;
	int port, status;

	took =
	    one_shot_against(script_flood_lines, 2000, 0, &h, &port, &status);
	/* Whole lines or the cap: never more than --max-line, never late. */
	ck_assert(status == CLIENT_EXIT_OK || status == CLIENT_EXIT_ERROR);
	ck_assert_uint_le(h.out_total, CLIENT_DEFAULT_MAX_LINE);
	ck_assert_uint_gt(h.out_len, 0);
	ck_assert(memcmp(h.out, "flood line 00000000\n", 20) == 0);
	ck_assert_uint_lt(took, 2000);
	fprintf(stderr,
	    "line flood, one-shot: %zu bytes in %" PRIu64 " ms, exit %d\n",
	    h.out_len, took, status);
	harness_free(&h);
}
END_TEST

/* A scripted run against script: -w after the input ends bounds it. */
static void
check_scripted_bounded(script_fn script, const char *what, char byte)
{
	struct script_server srv;
	struct harness h;
	uint64_t start, took;

	script_server_start(&srv, script, NULL, 0);
	harness_init(&h, srv.port);
	h.opts.wait_ms = 500;
	start = clock_now_ms();
	harness_start(&h, -1, -1);
	harness_input(&h, "go\n");
	close(h.in_w);
	h.in_w = -1;
	ck_assert_int_eq(harness_finish(&h), CLIENT_EXIT_OK);
	took = clock_now_ms() - start;
	script_server_join(&srv);
	ck_assert_uint_ge(took, 500);
	ck_assert_uint_lt(took, 500 + (uint64_t)testutil_wait_ms(1500));
	ck_assert_uint_gt(h.out_total, 0);
	if (byte != 0)
		ck_assert(all_bytes(h.out, h.out_len, byte));
	ck_assert_str_eq(h.err, "");
	fprintf(stderr,
	    "%s, scripted -w 500ms: %" PRIu64 " bytes in %" PRIu64 " ms\n",
	    what, h.out_total, took);
	harness_free(&h);
}

START_TEST(test_scripted_endless_line_bounded)
{
	check_scripted_bounded(script_endless_line, "endless line", 'x');
}
END_TEST

START_TEST(test_scripted_drip_bounded)
{
	check_scripted_bounded(script_drip, "drip", 'd');
}
END_TEST

START_TEST(test_scripted_flood_bounded)
{
	check_scripted_bounded(script_flood_lines, "line flood", 0);
}
END_TEST

START_TEST(test_scripted_server_not_reading)
{
	const size_t len = 64u << 20;
	struct script_server srv;
	struct harness h;
	struct feeder f;
	pthread_t t;
	char expect[160];
	uint64_t start, took;
	char *input = malloc(len);

	ck_assert_ptr_nonnull(input);
	memset(input, 'y', len);
	script_server_start(&srv, script_never_reads, NULL, 0);
	harness_init(&h, srv.port);
	h.opts.wait_ms = 500;
	start = clock_now_ms();
	harness_start(&h, -1, -1);
	f = (struct feeder){.fd = h.in_w, .buf = input, .len = len};
	h.in_w = -1;
	ck_assert_int_eq(pthread_create(&t, NULL, feeder_main, &f), 0);
	ck_assert_int_eq(harness_finish(&h), CLIENT_EXIT_ERROR);
	took = clock_now_ms() - start;
	pthread_join(t, NULL);
	script_server_release(&srv);
	script_server_join(&srv);
	snprintf(expect, sizeof(expect),
	    "tcpchat: 127.0.0.1:%d: not reading what we send (stuck for "
	    "0.5 s)\n",
	    srv.port);
	ck_assert_str_eq(h.err, expect);
	ck_assert_uint_lt(took, (uint64_t)testutil_wait_ms(10000));
	free(input);
	harness_free(&h);
}
END_TEST

/* ---- --control: an operator on a control socket ---------------------- */

enum console_behaviour {
	CONSOLE_ANSWER, /* answers each line as a console would */
	CONSOLE_SILENT, /* reads, never answers */
	CONSOLE_STREAM, /* answers, and an event every 50 ms besides */
	CONSOLE_DENY /* turns the operator away */
};

#define CONSOLE_MAX_CONNS 4

/* A Unix-socket server that talks like tcpchatd's console. */
struct console_server {
	char dir[64], path[96];
	int listen_fd;
	enum console_behaviour behaviour;
	const char *greeting; /* sent on attach */
	int conns; /* how many operators it serves */
	pthread_t thread, conn_thread[CONSOLE_MAX_CONNS];
	int conn_fd[CONSOLE_MAX_CONNS];
};

struct console_conn {
	struct console_server *s;
	int fd;
};

/* Answers one console line, as tcpchatd's console would. */
static int
console_answer(int fd, const char *line)
{
	char out[640];

	if (strcmp(line, "/list") == 0 || strcmp(line, "/list ") == 0)
		snprintf(out, sizeof(out),
		    "#1 127.0.0.1:40000 alice\n#2 127.0.0.1:40001\n");
	else
		snprintf(out, sizeof(out), "-> #1: %s\n", line);
	return io_write_full(fd, out, strlen(out)) == -1 ? -1 : 0;
}

static void *
console_conn_main(void *arg)
{
	struct console_conn *cc = arg;
	struct console_server *s = cc->s;
	char line[512];
	size_t len = 0;
	unsigned tick = 0;

	if (s->behaviour == CONSOLE_DENY) {
		testutil_send_str(
		    cc->fd, "tcpchatd: error: permission denied\n");
		goto out;
	}
	if (s->greeting != NULL &&
	    io_write_full(cc->fd, s->greeting, strlen(s->greeting)) == -1)
		goto out;
	for (;;) {
		struct pollfd pfd = {.fd = cc->fd, .events = POLLIN};
		int wait = s->behaviour == CONSOLE_STREAM ? 50 : 10000;
		if (poll(&pfd, 1, wait) == 0) {
			if (s->behaviour != CONSOLE_STREAM)
				break; /* bounded: no test lasts that long */
			snprintf(line, sizeof(line),
			    "#2 127.0.0.1:40001: tick %u\n", tick++);
			if (io_write_full(cc->fd, line, strlen(line)) == -1)
				break;
			continue;
		}
		char c;
		if (io_read_some(cc->fd, &c, 1) <= 0)
			break; /* end of input: detached */
		if (c != '\n' && len + 1 < sizeof(line)) {
			line[len++] = c;
			continue;
		}
		line[len] = '\0';
		len = 0;
		if (s->behaviour != CONSOLE_SILENT &&
		    console_answer(cc->fd, line) == -1)
			break;
	}
out:
	close(cc->fd);
	free(cc);
	return NULL;
}

static void *
console_server_main(void *arg)
{
	struct console_server *s = arg;

	for (int i = 0; i < s->conns; i++) {
		struct console_conn *cc = malloc(sizeof(*cc));
		ck_assert_ptr_nonnull(cc);
		cc->s = s;
		cc->fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		ck_assert_int_ge(cc->fd, 0);
		ck_assert_int_eq(pthread_create(&s->conn_thread[i], NULL,
		                     console_conn_main, cc),
		    0);
	}
	for (int i = 0; i < s->conns; i++)
		pthread_join(s->conn_thread[i], NULL);
	return NULL;
}

static void
console_server_start(
    struct console_server *s, enum console_behaviour b, int conns)
{
	struct sockaddr_un sun;

	memset(s, 0, sizeof(*s));
	s->behaviour = b;
	s->conns = conns;
	s->greeting = "tcpchatd: operator attached\n";
	snprintf(s->dir, sizeof(s->dir), "/tmp/tcpchat-ctl-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(s->dir));
	snprintf(s->path, sizeof(s->path), "%s/control", s->dir);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", s->path);
	s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(s->listen_fd, 0);
	ck_assert_int_eq(
	    bind(s->listen_fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	ck_assert_int_eq(listen(s->listen_fd, 8), 0);
}

static void
console_server_run(struct console_server *s)
{
	ck_assert_int_eq(
	    pthread_create(&s->thread, NULL, console_server_main, s), 0);
}

static void
console_server_join(struct console_server *s)
{
	pthread_join(s->thread, NULL);
	close(s->listen_fd);
	unlink(s->path);
	rmdir(s->dir);
}

/* A client for the control socket at path, scripted. */
static void
harness_init_control(struct harness *h, const char *path)
{
	harness_init(h, 0);
	h->opts.control_path = path;
}

START_TEST(test_control_pipe_commands)
{
	static const char expect[] = "tcpchatd: operator attached\n"
	                             "#1 127.0.0.1:40000 alice\n"
	                             "#2 127.0.0.1:40001\n"
	                             "-> #1: hello 你好\n";
	struct console_server srv;
	struct harness h;
	uint64_t start, took;

	console_server_start(&srv, CONSOLE_ANSWER, 1);
	console_server_run(&srv);
	harness_init_control(&h, srv.path);
	start = clock_now_ms();
	harness_start(&h, -1, -1);
	harness_input(&h, "/list\nhello 你好\n");
	ck_assert_int_eq(harness_finish(&h), CLIENT_EXIT_OK);
	took = clock_now_ms() - start;
	console_server_join(&srv);
	ck_assert_str_eq(h.out, expect);
	ck_assert_str_eq(h.err, "");
	/* Answered, then quiet: over well before -w (5 s). */
	ck_assert_uint_ge(took, CLIENT_CONTROL_QUIET_MS);
	ck_assert_uint_lt(took, T_WAIT_MS);
	harness_free(&h);
}
END_TEST

START_TEST(test_control_one_shot)
{
	struct console_server srv;
	struct harness h;

	console_server_start(&srv, CONSOLE_ANSWER, 1);
	console_server_run(&srv);
	harness_init_control(&h, srv.path);
	h.opts.mode = CLIENT_ONE_SHOT;
	h.opts.message = "/list";
	harness_start(&h, -1, -1);
	ck_assert_int_eq(harness_finish(&h), CLIENT_EXIT_OK);
	console_server_join(&srv);
	ck_assert_str_eq(h.out,
	    "tcpchatd: operator attached\n"
	    "#1 127.0.0.1:40000 alice\n"
	    "#2 127.0.0.1:40001\n");
	harness_free(&h);
}
END_TEST

START_TEST(test_control_two_operators)
{
	struct console_server srv;
	struct harness a, b;

	console_server_start(&srv, CONSOLE_ANSWER, 2);
	console_server_run(&srv);
	harness_init_control(&a, srv.path);
	harness_init_control(&b, srv.path);
	harness_start(&a, -1, -1);
	harness_start(&b, -1, -1);
	harness_input(&a, "from a\n");
	harness_input(&b, "from b\n");
	ck_assert_int_eq(harness_finish(&a), CLIENT_EXIT_OK);
	ck_assert_int_eq(harness_finish(&b), CLIENT_EXIT_OK);
	console_server_join(&srv);
	ck_assert_str_eq(a.out, "tcpchatd: operator attached\n-> #1: from a\n");
	ck_assert_str_eq(b.out, "tcpchatd: operator attached\n-> #1: from b\n");
	harness_free(&a);
	harness_free(&b);
}
END_TEST

START_TEST(test_control_no_answer)
{
	struct console_server srv;
	struct harness h;
	char expect[256];
	uint64_t start, took;

	console_server_start(&srv, CONSOLE_SILENT, 1);
	srv.greeting = NULL;
	console_server_run(&srv);
	harness_init_control(&h, srv.path);
	h.opts.wait_ms = 500;
	start = clock_now_ms();
	harness_start(&h, -1, -1);
	harness_input(&h, "/stats\n");
	ck_assert_int_eq(harness_finish(&h), CLIENT_EXIT_ERROR);
	took = clock_now_ms() - start;
	console_server_join(&srv);
	snprintf(expect, sizeof(expect),
	    "tcpchat: %s: no answer within 0.5 s\n", srv.path);
	ck_assert_str_eq(h.err, expect);
	ck_assert_uint_ge(took, 500);
	ck_assert_uint_lt(took, 500 + (uint64_t)testutil_wait_ms(1500));
	harness_free(&h);
}
END_TEST

START_TEST(test_control_stream_bounded)
{
	struct console_server srv;
	struct harness h;
	uint64_t start, took;

	console_server_start(&srv, CONSOLE_STREAM, 1);
	console_server_run(&srv);
	harness_init_control(&h, srv.path);
	h.opts.wait_ms = 800;
	start = clock_now_ms();
	harness_start(&h, -1, -1);
	harness_input(&h, "hello\n");
	/* Never quiet: -w ends it, and the answer came, so status 0. */
	ck_assert_int_eq(harness_finish(&h), CLIENT_EXIT_OK);
	took = clock_now_ms() - start;
	console_server_join(&srv);
	ck_assert_uint_ge(took, 800);
	ck_assert_uint_lt(took, 800 + (uint64_t)testutil_wait_ms(1500));
	ck_assert_ptr_nonnull(strstr(h.out, "-> #1: hello\n"));
	ck_assert_ptr_nonnull(strstr(h.out, "tick 3\n"));
	harness_free(&h);
}
END_TEST

START_TEST(test_control_refused_and_missing)
{
	struct console_server srv;
	struct harness h;
	char expect[256];

	console_server_start(&srv, CONSOLE_DENY, 1);
	console_server_run(&srv);
	harness_init_control(&h, srv.path);
	harness_start(&h, -1, -1);
	/* It may be gone already, told at once. */
	(void)io_write_full(h.in_w, "/list\n", 6);
	ck_assert_msg(harness_finish(&h) == CLIENT_EXIT_REFUSED,
	    "status %d, stderr: %s", h.status, h.err);
	console_server_join(&srv);
	ck_assert_str_eq(h.out, "tcpchatd: error: permission denied\n");
	harness_free(&h);

	/* The socket is gone now: a clear error naming it. */
	harness_init_control(&h, srv.path);
	harness_start(&h, -1, -1);
	ck_assert_int_eq(harness_finish(&h), CLIENT_EXIT_ERROR);
	snprintf(expect, sizeof(expect), "tcpchat: cannot attach to %s: %s\n",
	    srv.path, strerror(ENOENT));
	ck_assert_str_eq(h.err, expect);
	harness_free(&h);
}
END_TEST

START_TEST(test_control_escaped_once_on_a_tty)
{
	struct console_server srv;
	struct harness h;
	struct termios tio;
	int master, slave;

	ck_assert_int_eq(openpty(&master, &slave, NULL, NULL, NULL), 0);
	ck_assert_int_eq(tcgetattr(slave, &tio), 0);
	cfmakeraw(&tio);
	ck_assert_int_eq(tcsetattr(slave, TCSANOW, &tio), 0);
	console_server_start(&srv, CONSOLE_ANSWER, 1);
	/* Escaped by the server (\x1b as text), and a raw ESC it let by. */
	srv.greeting = "#1 127.0.0.1:40000: a\\x1b b\x1b[2J\n";
	console_server_run(&srv);
	harness_init_control(&h, srv.path);
	h.opts.escape_output = 1;
	harness_start(&h, slave, master);
	harness_input(&h, "/list\n");
	ck_assert_int_eq(harness_finish(&h), CLIENT_EXIT_OK);
	console_server_join(&srv);
	/* The server's backslash stays single; the raw ESC is escaped. */
	ck_assert_str_eq(h.out,
	    "#1 127.0.0.1:40000: a\\x1b b\\x1b[2J\n"
	    "#1 127.0.0.1:40000 alice\n"
	    "#2 127.0.0.1:40001\n");
	harness_free(&h);
}
END_TEST

/* ---- the tutorial's Python programs ---------------------------------- */

/* The python3 to run the tutorial with, or NULL (the test says why). */
static const char *
seed_python(void)
{
	const char *py = testutil_find_in_path("python3");

	if (py == NULL)
		fprintf(stderr,
		    "check_client: no python3 in PATH: the "
		    "tutorial's programs are not run\n");
	return py;
}

/* Starts the tutorial's server name on a free port; returns the port. */
static int
seed_server_start(struct testutil_proc *p, const char *py, const char *name,
    const char **copy)
{
	char pybuf[4096];
	int port = testutil_free_port();
	char dash_u[] = "-u"; /* its prints and prompts arrive as made */
	char *argv[4];

	*copy = testutil_seed_copy(name, port);
	snprintf(pybuf, sizeof(pybuf), "%s", py);
	argv[0] = pybuf;
	argv[1] = dash_u;
	argv[2] = (char *)*copy;
	argv[3] = NULL;
	testutil_spawn(p, argv);
	ck_assert_msg(testutil_wait_listening(port, testutil_wait_ms(10000)),
	    "%s never listened on %d", name, port);
	return port;
}

/* Reads the Python server's output until needle; returns all read. */
static const char *
seed_expect(struct testutil_proc *p, const char *needle)
{
	static char buf[4096];

	testutil_read_until(
	    p->out_fd, buf, sizeof(buf), needle, testutil_wait_ms(T_WAIT_MS));
	ck_assert_msg(strstr(buf, needle) != NULL,
	    "the tutorial's server never printed \"%s\" (got \"%s\")", needle,
	    buf);
	return buf;
}

START_TEST(test_seed_simple_server)
{
	static const char reply[] = "来自服务端消息：我不好";
	struct testutil_proc py;
	struct harness h;
	const char *python = seed_python(), *copy;
	int port, status;

	if (python == NULL)
		return;
	port = seed_server_start(&py, python, "simple_server.py", &copy);
	harness_init(&h, port);
	h.opts.mode = CLIENT_ONE_SHOT;
	h.opts.message = "来自客户端消息：你好";
	harness_start(&h, -1, -1);
	ck_assert_int_eq(harness_finish(&h), CLIENT_EXIT_OK);
	/* The reply exactly: no newline added, nothing lost. */
	ck_assert_str_eq(h.out, reply);
	ck_assert_str_eq(h.err, "");
	seed_expect(&py, "来自客户端消息：你好");
	status = testutil_proc_wait(&py, testutil_wait_ms(T_WAIT_MS));
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "simple_server.py: status %#x", status);
	testutil_seed_remove(copy);
	harness_free(&h);
}
END_TEST

START_TEST(test_seed_chat_server_ends_with_q)
{
	struct testutil_proc py;
	struct harness h;
	const char *python = seed_python(), *copy, *said;
	int port, status;

	if (python == NULL)
		return;
	port = seed_server_start(&py, python, "chat_server.py", &copy);
	harness_init(&h, port);
	h.opts.mode = CLIENT_INTERACTIVE; /* no --raw */
	harness_start(&h, -1, -1);
	harness_input(&h, "hello\n");
	seed_expect(&py, "server--->client: ");
	testutil_send_str(py.in_fd, "hi there\n");
	ck_assert_uint_eq(testutil_read_exact(h.out_r, h.out, 8, T_WAIT_MS), 8);
	ck_assert(memcmp(h.out, "hi there", 8) == 0);
	/* Its answer had no newline: our next line goes without one. */
	harness_input(&h, "how are you\n");
	said = seed_expect(&py, "server--->client: ");
	ck_assert_msg(strcmp(said, "how are you\nserver--->client: ") == 0,
	    "chat_server.py printed \"%s\"", said);
	testutil_send_str(py.in_fd, "fine\n");
	ck_assert_uint_eq(testutil_read_exact(h.out_r, h.out, 4, T_WAIT_MS), 4);
	harness_input(&h, "q\n");
	/* "q" arrived as exactly "q": the tutorial's server ends. */
	status = testutil_proc_wait(&py, testutil_wait_ms(T_WAIT_MS));
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "chat_server.py did not end after q: status %#x", status);
	ck_assert_int_eq(harness_finish(&h), CLIENT_EXIT_OK);
	ck_assert_str_eq(h.err, "");
	testutil_seed_remove(copy);
	harness_free(&h);
}
END_TEST

START_TEST(test_seed_multi_server_two_scripts)
{
	struct testutil_proc py;
	struct harness h[2];
	const char *python = seed_python(), *copy, *said;
	int port, served[2] = {0, 0};

	if (python == NULL)
		return;
	port = seed_server_start(&py, python, "multi_server.py", &copy);
	/* Two scripts at once: it serves one, the other waits its turn. */
	for (int i = 0; i < 2; i++) {
		char input[64];
		harness_init(&h[i], port);
		harness_start(&h[i], -1, -1);
		snprintf(input, sizeof(input), "from %c\nq\n", 'A' + i);
		harness_input(&h[i], input);
	}
	for (int turn = 0; turn < 2; turn++) {
		said = seed_expect(&py, "server--->client:");
		int who = strstr(said, "from A") != NULL ? 0 : 1;
		ck_assert_msg(strstr(said, who ? "from B" : "from A") != NULL,
		    "multi_server.py printed \"%s\"", said);
		ck_assert_int_eq(served[who]++, 0);
		testutil_send_str(py.in_fd, who ? "for B\n" : "for A\n");
		ck_assert_int_eq(harness_finish(&h[who]), CLIENT_EXIT_OK);
		ck_assert_str_eq(h[who].out, who ? "for B" : "for A");
		ck_assert_str_eq(h[who].err, "");
	}
	/* Both "q"s ended their conversation: it waits for a third. */
	said = seed_expect(&py, "q\n");
	ck_assert_int_ne(
	    testutil_proc_stop(&py, SIGTERM, testutil_wait_ms(5000)), -1);
	testutil_seed_remove(copy);
	harness_free(&h[0]);
	harness_free(&h[1]);
}
END_TEST

/* ---- a room of tcpchatd: the server's lines stand apart --------------- */

/* A pty in raw mode (exact bytes); *slave is a terminal. */
static void
raw_pty(int *master, int *slave)
{
	struct termios tio;

	ck_assert_int_eq(openpty(master, slave, NULL, NULL, NULL), 0);
	ck_assert_int_eq(tcgetattr(*slave, &tio), 0);
	cfmakeraw(&tio);
	ck_assert_int_eq(tcsetattr(*slave, TCSANOW, &tio), 0);
}

START_TEST(test_room_server_lines_dimmed)
{
	struct testutil_chatd d;
	struct harness a, b;
	char seen[4096];
	int master, slave;

	testutil_chatd_start(&d, "room", NULL);
	raw_pty(&master, &slave);
	harness_init(&a, d.port);
	a.opts.mode = CLIENT_INTERACTIVE;
	a.opts.escape_output = 1;
	a.opts.style_output = 1;
	harness_start(&a, slave, master);
	testutil_chatd_expect_sub(&d, "connected");
	/* B, a script with plain output: tcpchatd's lines come unchanged. */
	harness_init(&b, d.port);
	harness_start(&b, -1, -1);
	testutil_read_until(a.out_r, seen, sizeof(seen), "joined", T_WAIT_MS);
	harness_input(&b, "hello from b\n");
	testutil_read_until(a.out_r, seen + strlen(seen),
	    sizeof(seen) - strlen(seen), "hello from b\n", T_WAIT_MS);
	/* The join notice dimmed, B's message as it came. */
	ck_assert_msg(strstr(seen, "\033[2mtcpchatd: #2 joined") != NULL,
	    "no dimmed notice in \"%s\"", seen);
	ck_assert_msg(strstr(seen, "\033[0m\n#2: hello from b\n") != NULL,
	    "no plain message in \"%s\"", seen);
	ck_assert_int_eq(harness_finish(&b), CLIENT_EXIT_OK);
	ck_assert_ptr_null(strchr(b.out, '\033'));
	ck_assert_int_eq(harness_finish(&a), CLIENT_EXIT_OK);
	harness_free(&a);
	harness_free(&b);
	testutil_chatd_stop(&d);
}
END_TEST

START_TEST(test_styles_only_when_asked)
{
	static const char sent[] = "tcpchatd: welcome\nbob: hi\ntcpchatd: ";
	struct script_server srv;
	struct harness h;
	int master, slave;

	for (int style = 0; style < 2; style++) {
		raw_pty(&master, &slave);
		script_server_start(
		    &srv, script_reply_once, sent, strlen(sent));
		harness_init(&h, srv.port);
		h.opts.escape_output = 1;
		h.opts.style_output = style;
		harness_start(&h, slave, master);
		harness_input(&h, "hi\n");
		ck_assert_int_eq(harness_finish(&h), CLIENT_EXIT_OK);
		script_server_join(&srv);
		ck_assert_str_eq(h.out,
		    style ? "\033[2mtcpchatd: welcome\033[0m\nbob: hi\n"
		            "\033[2mtcpchatd: \033[0m\n"
		          : "tcpchatd: welcome\nbob: hi\ntcpchatd: \n");
		harness_free(&h);
	}
}
END_TEST

/* ---- tcpchat's command line ------------------------------------------ */

struct run {
	int status; /* exit status, or -1 */
	char out[4096], err[4096];
};

/* Runs the real tcpchat with args (NULL-terminated), input on stdin. */
static void
run_tcpchat(struct run *r, const char *input, const char *const args[])
{
	const char *argv[32];
	struct testutil_proc p;
	int argc = 0, status;
	size_t n;

	argv[argc++] = testutil_program("tcpchat");
	for (int i = 0; args[i] != NULL && argc < 31; i++)
		argv[argc++] = args[i];
	argv[argc] = NULL;
	testutil_spawn(&p, (char *const *)argv);
	if (input != NULL)
		testutil_send_str(p.in_fd, input);
	close(p.in_fd);
	p.in_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	n = harness_read_all(
	    p.out_fd, r->out, sizeof(r->out) - 1, T_WAIT_MS * 2);
	r->out[n] = '\0';
	n = harness_read_all(p.err_fd, r->err, sizeof(r->err) - 1, T_WAIT_MS);
	r->err[n] = '\0';
	status = testutil_proc_wait(&p, T_WAIT_MS * 2);
	r->status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The usage error for args: exit 2, the line given, the hint, no output. */
static void
check_usage_error(const char *line, const char *const args[])
{
	struct run r;
	char expect[512];

	run_tcpchat(&r, NULL, args);
	snprintf(expect, sizeof(expect), "tcpchat: %s\nTry 'tcpchat --help'.\n",
	    line);
	ck_assert_int_eq(r.status, CLIENT_EXIT_USAGE);
	ck_assert_str_eq(r.err, expect);
	ck_assert_str_eq(r.out, "");
}

START_TEST(test_cli_usage_errors)
{
#define USAGE(line, ...)                                                       \
	do {                                                                   \
		const char *const a[] = {__VA_ARGS__, NULL};                   \
		check_usage_error(line, a);                                    \
	} while (0)
	USAGE("port 99999 is out of range (1 to 65535)", "127.0.0.1:99999");
	USAGE("port 0 is out of range (1 to 65535)", "127.0.0.1", "0");
	USAGE("'abc' is not a port number (1 to 65535)", "127.0.0.1", "abc");
	USAGE("port 70000 is out of range (1 to 65535)", "[::1]:70000");
	USAGE("too many arguments: 'c'", "a", "1", "c");
	USAGE("port given twice: 'h:1' and '2'", "h:1", "2");
	USAGE("unknown option '--bogus'", "--bogus");
	USAGE("unknown option '-x'", "-vx");
	USAGE("option '-w' needs a value", "-w");
	USAGE("option '--raw' takes no value", "--raw=yes");
	USAGE("--wait: '2x' is not a duration from 0s to 24h (e.g. 500ms, "
	      "10s, 2m)",
	    "-w", "2x");
	USAGE("--max-line: '0' is not a whole number from 1 to 67108864",
	    "--max-line", "0");
	USAGE("--raw and --lines: choose one", "--raw", "--lines");
	USAGE("--control takes no HOST or PORT: 'host'", "--control", "/x",
	    "host");
#undef USAGE
}
END_TEST

START_TEST(test_cli_endpoints)
{
	struct testutil_server srv;
	struct script_server v6;
	struct run r;
	char port[16], hostport[64], expect[256];
	int gai, fd;

	testutil_server_start(&srv, TESTUTIL_ECHO);
	snprintf(port, sizeof(port), "%d", srv.port);
	snprintf(hostport, sizeof(hostport), "127.0.0.1:%d", srv.port);
	{
		const char *const a[] = {"-m", "hi", hostport, NULL};
		run_tcpchat(&r, NULL, a);
		ck_assert_int_eq(r.status, 0);
		ck_assert_str_eq(r.out, "hi\n");
		ck_assert_str_eq(r.err, "");
	}
	{
		const char *const a[] = {"-m", "hi", "127.0.0.1", port, NULL};
		run_tcpchat(&r, NULL, a);
		ck_assert_int_eq(r.status, 0);
		ck_assert_str_eq(r.out, "hi\n");
	}
	{
		const char *const a[] = {
		    "-4", "-w", "2s", "-m", "four", "localhost", port, NULL};
		run_tcpchat(&r, NULL, a);
		ck_assert_int_eq(r.status, 0);
		ck_assert_str_eq(r.out, "four\n");
	}
	{
		/* -6 leaves no IPv4 address to try. */
		const char *const a[] = {
		    "-6", "-m", "hi", "127.0.0.1", port, NULL};
		run_tcpchat(&r, NULL, a);
		ck_assert_int_eq(r.status, 1);
		snprintf(expect, sizeof(expect),
		    "tcpchat: cannot connect to 127.0.0.1:%d: ", srv.port);
		ck_assert_msg(strncmp(r.err, expect, strlen(expect)) == 0,
		    "stderr: %s", r.err);
	}
	{
		/* -v: where it connected from, and the figures at the end. */
		const char *const a[] = {"-v", "-m", "hi", hostport, NULL};
		run_tcpchat(&r, NULL, a);
		ck_assert_int_eq(r.status, 0);
		snprintf(expect, sizeof(expect),
		    "tcpchat: connected to %s (%s) from 127.0.0.1:", hostport,
		    hostport);
		ck_assert_msg(strncmp(r.err, expect, strlen(expect)) == 0,
		    "stderr: %s", r.err);
		ck_assert_ptr_nonnull(strstr(
		    r.err, "\ntcpchat: sent 3 bytes, received 3 bytes in "));
	}
	testutil_server_stop(&srv);

	/* [V6ADDR]:PORT, where the machine has an IPv6 loopback. */
	fd = net_listen("::1", "0", 1, &gai);
	if (fd == -1) {
		fprintf(stderr, "check_client: no IPv6 loopback, skipped\n");
		return;
	}
	close(fd);
	script_server_start_at(&v6, "::1", script_reply_once, "v6 ok\n", 6);
	snprintf(hostport, sizeof(hostport), "[::1]:%d", v6.port);
	{
		const char *const a[] = {"-6", "-m", "hi", hostport, NULL};
		run_tcpchat(&r, NULL, a);
		ck_assert_int_eq(r.status, 0);
		ck_assert_str_eq(r.out, "v6 ok\n");
	}
	script_server_join(&v6);
}
END_TEST

START_TEST(test_cli_wait_units_help_version)
{
	struct script_server srv;
	struct run r;
	char hostport[64], expect[256];

	script_server_start(&srv, script_silent, NULL, 0);
	snprintf(hostport, sizeof(hostport), "127.0.0.1:%d", srv.port);
	{
		const char *const a[] = {
		    "-w", "300ms", "-m", "hi", hostport, NULL};
		run_tcpchat(&r, NULL, a);
		ck_assert_int_eq(r.status, 1);
		snprintf(expect, sizeof(expect),
		    "tcpchat: %s: no reply within 0.3 s\n", hostport);
		ck_assert_str_eq(r.err, expect);
	}
	script_server_join(&srv);
	{
		const char *const a[] = {"--version", NULL};
		run_tcpchat(&r, NULL, a);
		ck_assert_int_eq(r.status, 0);
		ck_assert_str_eq(r.out, VERSION_LINE("tcpchat"));
	}
	{
		const char *const a[] = {"--help", NULL};
		run_tcpchat(&r, NULL, a);
		ck_assert_int_eq(r.status, 0);
		ck_assert(strncmp(r.out, "usage: tcpchat ", 15) == 0);
		ck_assert_str_eq(r.err, "");
	}
}
END_TEST

/* ---- at a terminal: the real program on a pseudo-terminal ------------ */

struct tty {
	pid_t pid;
	int master;
	char screen[65536]; /* every byte it wrote */
	size_t len;
};

/* Starts the real tcpchat with args on a fresh pty, as a person would. */
static void
tty_start(struct tty *t, const char *const args[])
{
	const char *argv[16];
	struct winsize ws = {.ws_row = 24, .ws_col = 100};
	int argc = 0;

	argv[argc++] = testutil_program("tcpchat");
	for (int i = 0; args[i] != NULL && argc < 15; i++)
		argv[argc++] = args[i];
	argv[argc] = NULL;
	memset(t, 0, sizeof(*t));
	t->pid = forkpty(&t->master, NULL, NULL, &ws);
	ck_assert_int_ne(t->pid, -1);
	if (t->pid == 0) {
		setenv("TERM", "xterm", 1);
		setenv("INPUTRC", "/dev/null", 1);
		unsetenv("NO_COLOR");
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
}

/* Reads the screen until needle shows (after from), bounded. */
static void
tty_expect(struct tty *t, size_t from, const char *needle)
{
	uint64_t deadline =
	    clock_now_ms() + (uint64_t)testutil_wait_ms(T_WAIT_MS);

	for (;;) {
		t->screen[t->len] = '\0';
		if (strstr(t->screen + from, needle) != NULL)
			return;
		struct pollfd pfd = {.fd = t->master, .events = POLLIN};
		if (t->len + 1 >= sizeof(t->screen) ||
		    poll(&pfd, 1, clock_ms_until(deadline)) <= 0)
			break;
		ssize_t n = io_read_some(t->master, t->screen + t->len,
		    sizeof(t->screen) - 1 - t->len);
		if (n <= 0)
			break;
		t->len += (size_t)n;
	}
	char shown[1024], wanted[256];
	escape_render_bounded(
	    shown, sizeof(shown), t->screen + from, t->len - from);
	escape_render_bounded(wanted, sizeof(wanted), needle, strlen(needle));
	ck_abort_msg("the screen never showed \"%s\": \"%s\"", wanted, shown);
}

static void
tty_type(struct tty *t, const char *keys)
{
	testutil_send_str(t->master, keys);
}

/* Reads the rest of the screen and the exit status. */
static int
tty_finish(struct tty *t)
{
	int status;

	t->len += harness_read_all(t->master, t->screen + t->len,
	    sizeof(t->screen) - 1 - t->len, T_WAIT_MS * 2);
	t->screen[t->len] = '\0';
	ck_assert_int_eq(waitpid(t->pid, &status, 0), t->pid);
	close(t->master);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Reads lines; answers "/who" as tcpchatd does; ends at end of input. */
static void
script_who(struct script_server *s, int fd)
{
	static const char answer[] = "tcpchatd: 2 online:\n"
	                             "tcpchatd: #1 alice, online 5m\n"
	                             "tcpchatd: #2 bob (you), online 1m\n";
	ssize_t n;

	while ((n = io_read_some(fd, s->got + s->got_len,
	            sizeof(s->got) - s->got_len)) > 0) {
		s->got_len += (size_t)n;
		if (memmem(s->got + s->got_len - (size_t)n, (size_t)n, "/who",
		        4) != NULL)
			io_write_full(fd, answer, sizeof(answer) - 1);
	}
}

START_TEST(test_tty_completion_ctrl_d_no_stray_prompt)
{
	static const char typed[] = "/who \n/msg bob hi\n./sr\n";
	struct script_server srv;
	struct tty t;
	char port[16], notice[256];
	const char *after;

	if (!client_has_line_editing()) {
		fprintf(stderr,
		    "check_client: no line editing built in, "
		    "terminal test skipped\n");
		return;
	}
	script_server_start(&srv, script_who, NULL, 0);
	snprintf(port, sizeof(port), "%d", srv.port);
	{
		const char *const a[] = {"-w", "3s", "127.0.0.1", port, NULL};
		tty_start(&t, a);
	}
	tty_expect(&t, 0, "> ");
	/* Tab completes a client command... */
	tty_type(&t, "/wh\t\r");
	/* ...the server's own lines are dimmed... */
	tty_expect(&t, 0, "\033[2mtcpchatd: #2 bob (you), online 1m\033[0m");
	/* ...names from /who after /msg, and never file names. */
	tty_type(&t, "/msg b\thi\r");
	tty_type(&t, "./sr\t\t\r");
	size_t mark = t.len;
	tty_type(&t, "/m\t\t"); /* both candidates listed */
	tty_expect(&t, mark, "/me");
	/* The prompt again, below them (readline and libedit alike). */
	tty_expect(
	    &t, (size_t)(strstr(t.screen + mark, "/me") - t.screen), "> /m");
	tty_type(&t, "\025"); /* Ctrl-U: the line is dropped */
	mark = t.len;
	tty_type(&t, "\004"); /* Ctrl-D: done sending */
	snprintf(notice, sizeof(notice),
	    "tcpchat: done sending; waiting for 127.0.0.1:%d to close (up to "
	    "3 s of silence; Ctrl-C quits)",
	    srv.port);
	tty_expect(&t, 0, notice);
	ck_assert_int_eq(tty_finish(&t), 0);
	script_server_join(&srv);
	ck_assert_uint_eq(srv.got_len, strlen(typed));
	ck_assert(memcmp(srv.got, typed, srv.got_len) == 0);
	/*
	 * The notice takes the prompt's place (erased, no new line first),
	 * and nothing follows it but its end: no prompt left behind.
	 */
	after = strstr(t.screen + mark, notice);
	ck_assert_ptr_nonnull(after);
	ck_assert_msg(memchr(t.screen + mark, '\n',
	                  (size_t)(after - (t.screen + mark))) == NULL,
	    "a new line before the notice: the prompt stays on screen");
	after += strlen(notice);
	ck_assert_msg(
	    strcmp(after, "\r\n") == 0, "after the notice: \"%s\"", after);
}
END_TEST

START_TEST(test_tty_control_operator)
{
	struct console_server srv;
	struct tty t;
	char detached[256];

	if (!client_has_line_editing()) {
		fprintf(stderr,
		    "check_client: no line editing built in, "
		    "terminal test skipped\n");
		return;
	}
	console_server_start(&srv, CONSOLE_ANSWER, 1);
	console_server_run(&srv);
	{
		const char *const a[] = {"--control", srv.path, NULL};
		tty_start(&t, a);
	}
	tty_expect(&t, 0, "tcpchatd> ");
	tty_expect(&t, 0, "\033[2mtcpchatd: operator attached\033[0m");
	tty_type(&t, "/li\t\r");
	tty_expect(&t, 0, "#2 127.0.0.1:40001\r\n");
	tty_type(&t, "\004");
	snprintf(detached, sizeof(detached), "tcpchat: detached from %s\r\n",
	    srv.path);
	ck_assert_int_eq(tty_finish(&t), 0);
	console_server_join(&srv);
	ck_assert_msg(
	    strstr(t.screen, detached) != NULL, "screen: %s", t.screen);
	/* The end: the detach notice is the last thing, no prompt after. */
	ck_assert_str_eq(strstr(t.screen, detached), detached);
}
END_TEST

static Suite *
client_suite(void)
{
	Suite *s = suite_create("client");
	TCase *tc;

	tc = tcase_create("one_shot");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_one_shot_echo);
	tcase_add_test(tc, test_one_shot_seed_simple_server);
	tcase_add_test(tc, test_one_shot_unterminated_reply_ends_on_pause);
	suite_add_tcase(s, tc);

	tc = tcase_create("scripted");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_scripted_lines_echoed);
	tcase_add_test(tc, test_scripted_large_binary_no_deadlock);
	suite_add_tcase(s, tc);

	tc = tcase_create("half_close");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_half_close_then_late_answer);
	tcase_add_test(tc, test_half_close_wait_runs_out);
	suite_add_tcase(s, tc);

	tc = tcase_create("raw");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_raw_lines_exact_and_in_step);
	tcase_add_test(tc, test_raw_no_reply_times_out);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_refused);
	tcase_add_test(tc, test_refused_ipv6_names_bracketed);
	tcase_add_test(tc, test_one_shot_wait_timeout);
	tcase_add_test(tc, test_one_shot_closed_without_reply);
	suite_add_tcase(s, tc);

	tc = tcase_create("server_ends");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_server_closes_mid_reply);
	tcase_add_test(tc, test_server_resets_mid_reply);
	suite_add_tcase(s, tc);

	tc = tcase_create("interactive");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_interactive_q_ends);
	tcase_add_test(tc, test_interactive_server_close_says_so);
	tcase_add_test(tc, test_interactive_end_of_input_half_closes);
	tcase_add_test(tc, test_stop_fd_ends_session);
	suite_add_tcase(s, tc);

	tc = tcase_create("output");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_escaped_on_a_tty);
	tcase_add_test(tc, test_raw_bytes_to_a_pipe);
	tcase_add_test(tc, test_escaped_huge_line_bounded);
	tcase_add_test(tc, test_styles_only_when_asked);
	tcase_add_test(tc, test_room_server_lines_dimmed);
	suite_add_tcase(s, tc);

	tc = tcase_create("readers");
	tcase_add_test(tc, test_refusal_lines);
	tcase_add_test(tc, test_who_entries);
	tcase_add_test(tc, test_completion_candidates);
	suite_add_tcase(s, tc);

	tc = tcase_create("dialect");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_dialect_follows_bare_server_interactive);
	tcase_add_test(tc, test_dialect_q_before_any_message_is_bare);
	tcase_add_test(tc, test_dialect_lines_forced);
	tcase_add_test(tc, test_dialect_scripted_waits_for_first_message);
	tcase_add_test(tc, test_dialect_silent_server_gets_lines);
	suite_add_tcase(s, tc);

	tc = tcase_create("seed");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_seed_simple_server);
	tcase_add_test(tc, test_seed_chat_server_ends_with_q);
	tcase_add_test(tc, test_seed_multi_server_two_scripts);
	suite_add_tcase(s, tc);

	tc = tcase_create("refusal");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_refusal_exits_3);
	tcase_add_test(tc, test_refusal_by_tcpchatd);
	suite_add_tcase(s, tc);

	tc = tcase_create("bounded");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_one_shot_endless_line_capped);
	tcase_add_test(tc, test_one_shot_drip_bounded);
	tcase_add_test(tc, test_one_shot_flood_bounded);
	tcase_add_test(tc, test_scripted_endless_line_bounded);
	tcase_add_test(tc, test_scripted_drip_bounded);
	tcase_add_test(tc, test_scripted_flood_bounded);
	tcase_add_test(tc, test_scripted_server_not_reading);
	suite_add_tcase(s, tc);

	tc = tcase_create("control");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_control_pipe_commands);
	tcase_add_test(tc, test_control_one_shot);
	tcase_add_test(tc, test_control_two_operators);
	tcase_add_test(tc, test_control_no_answer);
	tcase_add_test(tc, test_control_stream_bounded);
	tcase_add_test(tc, test_control_refused_and_missing);
	tcase_add_test(tc, test_control_escaped_once_on_a_tty);
	suite_add_tcase(s, tc);

	tc = tcase_create("command_line");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_cli_usage_errors);
	tcase_add_test(tc, test_cli_endpoints);
	tcase_add_test(tc, test_cli_wait_units_help_version);
	suite_add_tcase(s, tc);

	tc = tcase_create("terminal");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_tty_completion_ctrl_d_no_stray_prompt);
	tcase_add_test(tc, test_tty_control_operator);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(client_suite());
	int failed;

	signal(SIGPIPE, SIG_IGN);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
