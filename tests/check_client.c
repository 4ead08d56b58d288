/*
 * check_client.c - the client's session, run in-process on pipes (and a
 * pty) against servers started here on 127.0.0.1 port 0.
 */
#include "config.h"

#include <sys/socket.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
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
#include "io.h"
#include "net.h"
#include "testutil.h"

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

/* Reads fd into buf until end of file or a pty hang-up, bounded. */
static size_t
harness_read_all(int fd, char *buf, size_t cap, int timeout_ms)
{
	uint64_t deadline = clock_now_ms() + (uint64_t)timeout_ms;
	size_t got = 0;

	while (got < cap) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int rc = poll(&pfd, 1, clock_ms_until(deadline));
		if (rc == 0)
			ck_abort_msg("no end of output within %d ms (%zu "
			             "bytes so far)",
			    timeout_ms, got);
		if (rc == -1 && errno == EINTR)
			continue;
		ssize_t n = io_read_some(fd, buf + got, cap - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	return got;
}

/* Collects output and errors, waits for the client, returns its status. */
static int
harness_finish(struct harness *h)
{
	size_t n;

	if (h->in_w >= 0)
		close(h->in_w);
	h->in_w = -1;
	h->out_len =
	    harness_read_all(h->out_r, h->out, T_OUT_MAX, T_WAIT_MS * 2);
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

static void
script_server_start(struct script_server *s, script_fn script,
    const char *reply, size_t reply_len)
{
	int gai;

	memset(s, 0, sizeof(*s));
	s->script = script;
	s->reply = reply;
	s->reply_len = reply_len;
	ck_assert_int_eq(pipe(s->release), 0);
	s->listen_fd = net_listen("127.0.0.1", "0", 4, &gai);
	ck_assert_int_ge(s->listen_fd, 0);
	s->port = net_local_port(s->listen_fd);
	ck_assert_int_eq(
	    pthread_create(&s->thread, NULL, script_server_main, s), 0);
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
	h.opts.raw = 1;
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
	ck_assert_str_eq(h.err, "");
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
	h.opts.raw = 1;
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
	h.opts.raw = 1;
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

/* A port on 127.0.0.1 with nobody listening. */
static int
free_port(void)
{
	int gai, fd = net_listen("127.0.0.1", "0", 1, &gai);
	int port;

	ck_assert_int_ge(fd, 0);
	port = net_local_port(fd);
	close(fd);
	return port;
}

START_TEST(test_refused)
{
	struct harness h;
	char expect[128];
	int port = free_port();

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
