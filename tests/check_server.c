/*
 * check_server.c - the real tcpchatd, started as a child process with its
 * console on pipes (a scripted operator), and clients on 127.0.0.1.
 *
 * Client ids are given in accept order, so each test connects its clients
 * one at a time and waits for the "connected" console line before the
 * next.  That a client received nothing is shown without sleeping: a
 * later message to everyone must be the first thing it reads.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "escape.h"
#include "io.h"
#include "net.h"
#include "testutil.h"

/* A wait for something that should come at once (sanitizers: scaled). */
#define WAIT_MS 5000
/* Console lines read while looking for one before giving up. */
#define CONSOLE_MAX_LINES 1000
#define CONSOLE_LINE_MAX 70000
/* Output a stopping server may still write (console, stderr). */
#define DRAIN_MAX (1024 * 1024)

#define ECHO_CLIENTS 50
#define ECHO_MESSAGES 250
#define ECHO_MAX_SIZE 16384

struct client {
	int fd;
	int id;
	char addr[NET_ADDRSTRLEN]; /* as the server shows it */
};

/*
 * Connects client id and waits for the console to announce it with
 * online clients in all.
 */
static void
client_join(struct testutil_chatd *d, struct client *c, int id, int online)
{
	c->fd = testutil_connect(d->port);
	c->id = id;
	ck_assert_int_eq(net_local_name(c->fd, c->addr, sizeof(c->addr)), 0);
	testutil_chatd_expect(
	    d, "#%d %s connected (%d online)", id, c->addr, online);
}

/* Sends bytes as they are. */
static void
client_send(struct client *c, const void *data, size_t len)
{
	ck_assert_int_eq(io_write_full(c->fd, data, len), (ssize_t)len);
}

/* The next bytes the client reads must be exactly want[0..len). */
static void
client_expect_bytes(struct client *c, const char *want, size_t len)
{
	char *got = malloc(len + 1);

	ck_assert_ptr_nonnull(got);
	size_t n =
	    testutil_read_exact(c->fd, got, len, testutil_wait_ms(WAIT_MS));
	char shown[TESTUTIL_VISIBLE_MAX];
	snprintf(shown, sizeof(shown), "%s", testutil_visible(got, n));
	ck_assert_msg(n == len && memcmp(got, want, len) == 0,
	    "client #%d: expected \"%s\", got \"%s\"", c->id,
	    testutil_visible(want, len), shown);
	free(got);
}

static void
client_expect(struct client *c, const char *want)
{
	client_expect_bytes(c, want, strlen(want));
}

/* The server closes the connection, sending nothing more first. */
static void
client_expect_eof(struct client *c)
{
	char buf[256];
	struct pollfd pfd = {.fd = c->fd, .events = POLLIN};

	ck_assert_msg(poll(&pfd, 1, testutil_wait_ms(WAIT_MS)) == 1,
	    "client #%d: the server did not close the connection", c->id);
	ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
	ck_assert_msg(n == 0 || (n == -1 && errno == ECONNRESET),
	    "client #%d: expected end of file, got %zd bytes \"%s\"", c->id, n,
	    n > 0 ? testutil_visible(buf, (size_t)n) : strerror(errno));
}

static void
client_close(struct client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

/* Closes a client and waits for the console to say so. */
static void
client_leave(struct testutil_chatd *d, struct client *c, int online)
{
	client_close(c);
	testutil_chatd_expect(d, "#%d %s disconnected: closed (%d online)",
	    c->id, c->addr, online);
}

/*
 * Proves that none of the n clients received anything since their last
 * expected bytes: the operator sends sync to all and it must be the very
 * first thing each one reads (console commands and session queues keep
 * their order).
 */
static void
clients_sync(struct testutil_chatd *d, struct client *cs, int n,
    const char *sync, int room)
{
	int fds[16];

	ck_assert_int_le(n, 16);
	for (int i = 0; i < n; i++)
		fds[i] = cs[i].fd;
	testutil_chatd_sync(d, fds, n, sync, room);
}

/* ---- echo: 50 clients at once, every byte checked --------------------- */

struct echo_client {
	int fd;
	int index;
	pthread_t thread;
	char error[256]; /* empty when every byte came back */
	uint64_t bytes;
};

static uint32_t
echo_random(uint32_t *state)
{
	uint32_t x = *state;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *state = x;
}

/* Sizes: mostly small, some past the server's 8 KiB reads. */
static size_t
echo_size(uint32_t *state)
{
	uint32_t r = echo_random(state);

	switch (r % 10) {
	case 0:
	case 1:
	case 2:
	case 3:
	case 4:
		return 1 + r / 10 % 64;
	case 5:
	case 6:
	case 7:
		return 65 + r / 10 % 960;
	case 8:
		return 1025 + r / 10 % 7168;
	default:
		return 8193 + r / 10 % (ECHO_MAX_SIZE - 8192);
	}
}

/*
 * One client's life: messages of varied sizes and random bytes (NUL,
 * LF, CR, "q" included), each read back whole.  Reports in c->error,
 * as Check's assertions belong to the test's own thread.
 */
static void *
echo_client_main(void *arg)
{
	struct echo_client *c = arg;
	static const char *const fixed[] = {"q\n", "q", "", "\r\n"};
	uint32_t state = 2463534242u + (uint32_t)c->index * 7919u;
	char *out = malloc(ECHO_MAX_SIZE), *in = malloc(ECHO_MAX_SIZE);
	size_t len;

	if (out == NULL || in == NULL) {
		snprintf(c->error, sizeof(c->error), "out of memory");
		goto out;
	}
	for (int m = 0; m < ECHO_MESSAGES; m++) {
		if (m < 4) {
			/* The quit word and a lone NUL mean nothing here. */
			len = strlen(fixed[m]);
			memcpy(out, fixed[m], len);
			if (len == 0)
				out[len++] = '\0';
		} else {
			len = echo_size(&state);
			for (size_t i = 0; i < len; i++)
				out[i] = (char)(echo_random(&state) >> 24);
		}
		if (io_write_full(c->fd, out, len) != (ssize_t)len) {
			snprintf(c->error, sizeof(c->error),
			    "message %d: "
			    "write: %s",
			    m, strerror(errno));
			goto out;
		}
		size_t got = testutil_read_exact(
		    c->fd, in, len, testutil_wait_ms(10000));
		if (got != len) {
			snprintf(c->error, sizeof(c->error),
			    "message %d: %zu "
			    "of %zu bytes came back",
			    m, got, len);
			goto out;
		}
		for (size_t i = 0; i < len; i++)
			if (in[i] != out[i]) {
				snprintf(c->error, sizeof(c->error),
				    "message "
				    "%d (%zu bytes): byte %zu is %#x, sent %#x",
				    m, len, i, (unsigned char)in[i],
				    (unsigned char)out[i]);
				goto out;
			}
		c->bytes += len;
	}
	/* Our end of file: the server must close without a byte more. */
	shutdown(c->fd, SHUT_WR);
	if (testutil_read_exact(c->fd, in, 1, testutil_wait_ms(WAIT_MS)) != 0)
		snprintf(c->error, sizeof(c->error),
		    "a byte more than sent "
		    "came back");
out:
	free(out);
	free(in);
	return NULL;
}

/*
 * Reads console lines until count of them contain needle; fails the test,
 * showing the last line, if they do not come.  *also_seen is set when a
 * line contains also.
 */
static void
chatd_count_lines(struct testutil_chatd *d, const char *needle, int count,
    const char *also, int *also_seen)
{
	static char line[CONSOLE_LINE_MAX];
	uint64_t deadline = clock_now_ms() + (uint64_t)testutil_wait_ms(15000);
	ssize_t n = 0;
	int seen = 0;

	line[0] = '\0';
	for (int i = 0; i < CONSOLE_MAX_LINES && seen < count; i++) {
		if ((n = testutil_read_line(d->proc.out_fd, line, sizeof(line),
		         clock_ms_until(deadline))) < 0)
			break;
		if (strstr(line, needle) != NULL)
			seen++;
		if (also != NULL && strstr(line, also) != NULL)
			*also_seen = 1;
	}
	ck_assert_msg(seen == count,
	    "console: %d of %d lines with \"%s\"; "
	    "then %s \"%s\"",
	    seen, count, needle, n < 0 ? "no more after" : "last",
	    testutil_visible(line, strlen(line)));
}

START_TEST(test_echo_fifty_clients)
{
	struct testutil_chatd d;
	struct echo_client cs[ECHO_CLIENTS];
	int fds[ECHO_CLIENTS], full = 0;
	uint64_t total = 0;

	testutil_chatd_start(&d, "echo", NULL);
	testutil_connect_many(d.port, ECHO_CLIENTS, fds);
	/* All fifty are in before any byte moves. */
	chatd_count_lines(
	    &d, " connected (", ECHO_CLIENTS, "(50 online)", &full);
	ck_assert_msg(full, "no console line showed 50 online");
	for (int i = 0; i < ECHO_CLIENTS; i++) {
		memset(&cs[i], 0, sizeof(cs[i]));
		cs[i].fd = fds[i];
		cs[i].index = i;
		ck_assert_int_eq(pthread_create(&cs[i].thread, NULL,
		                     echo_client_main, &cs[i]),
		    0);
	}
	for (int i = 0; i < ECHO_CLIENTS; i++)
		pthread_join(cs[i].thread, NULL);
	for (int i = 0; i < ECHO_CLIENTS; i++) {
		ck_assert_msg(cs[i].error[0] == '\0', "echo client %d: %s", i,
		    cs[i].error);
		total += cs[i].bytes;
	}
	ck_assert_uint_gt(total, (uint64_t)ECHO_CLIENTS * ECHO_MESSAGES);
	testutil_close_many(ECHO_CLIENTS, fds);
	chatd_count_lines(
	    &d, " disconnected: closed (", ECHO_CLIENTS, NULL, NULL);
	testutil_chatd_stop(&d);
}
END_TEST

/* ---- chat: the scripted operator --------------------------------------- */

/* Starts a chat server and joins n clients as #1..#n. */
static void
chat_setup(struct testutil_chatd *d, const char *mode, struct client *cs, int n,
    const char *const extra[])
{
	testutil_chatd_start(d, mode, extra);
	for (int i = 0; i < n; i++)
		client_join(d, &cs[i], i + 1, i + 1);
}

static void
chat_teardown(struct testutil_chatd *d, struct client *cs, int n)
{
	for (int i = 0; i < n; i++)
		client_close(&cs[i]);
	testutil_chatd_stop(d);
}

/*
 * The next console line is /list's entry for c: "  #ID ADDR connected
 * TIME, N in, N out", marked " (chosen)" for the chosen client.
 */
static void
chatd_expect_list_entry(struct testutil_chatd *d, struct client *c, int chosen)
{
	char line[256], prefix[128];
	ssize_t n = testutil_read_line(
	    d->proc.out_fd, line, sizeof(line), testutil_wait_ms(WAIT_MS));

	snprintf(prefix, sizeof(prefix), "  #%d %s connected ", c->id, c->addr);
	ck_assert_msg(n > 0 && strncmp(line, prefix, strlen(prefix)) == 0,
	    "expected /list entry \"%s...\", got \"%.1000s\"", prefix, line);
	const char *mark = strstr(line, " (chosen)");
	ck_assert_msg(chosen ? mark != NULL && mark[9] == '\0' : mark == NULL,
	    "/list entry: %.1000s", line);
}

START_TEST(test_to_reaches_only_target)
{
	struct testutil_chatd d;
	struct client cs[3];

	chat_setup(&d, "chat", cs, 3, NULL);
	client_send(&cs[0], "one here\n", 9);
	testutil_chatd_expect(&d, "#1 %s: one here", cs[0].addr);

	/* Plain text with three online and none chosen goes nowhere. */
	testutil_chatd_type(&d, "to whom?");
	testutil_chatd_expect(&d,
	    "3 clients online: choose one with /to ID or /msg ID "
	    "TEXT (see /list); nothing sent");

	testutil_chatd_type(&d, "/to 2");
	testutil_chatd_expect(&d, "talking to #2 %s", cs[1].addr);
	testutil_chatd_type(&d, "just for two");
	client_expect(&cs[1], "just for two\n");
	testutil_chatd_type(&d, "and again, #2");
	client_expect(&cs[1], "and again, #2\n");
	/* /msg goes to its own target, without changing the chosen one. */
	testutil_chatd_type(&d, "/msg 3 for three");
	client_expect(&cs[2], "for three\n");
	testutil_chatd_type(&d, "two still");
	client_expect(&cs[1], "two still\n");
	clients_sync(&d, cs, 3, "sync", 0);

	testutil_chatd_type(&d, "/list");
	testutil_chatd_expect(&d, "3 clients online");
	for (int i = 0; i < 3; i++)
		chatd_expect_list_entry(&d, &cs[i], i == 1);
	chat_teardown(&d, cs, 3);
}
END_TEST

START_TEST(test_all_reaches_everyone)
{
	struct testutil_chatd d;
	struct client cs[3];

	chat_setup(&d, "chat", cs, 3, NULL);
	testutil_chatd_type(&d, "/all hello everyone");
	for (int i = 0; i < 3; i++)
		client_expect(&cs[i], "hello everyone\n");
	/* UTF-8 goes out as typed; "//" sends a line starting with "/". */
	testutil_chatd_type(&d, "/all 你好，世界");
	for (int i = 0; i < 3; i++)
		client_expect(&cs[i], "你好，世界\n");
	testutil_chatd_type(&d, "/to 1");
	testutil_chatd_expect(&d, "talking to #1 %s", cs[0].addr);
	testutil_chatd_type(&d, "//not a command");
	client_expect(&cs[0], "/not a command\n");
	clients_sync(&d, cs, 3, "done", 0);
	chat_teardown(&d, cs, 3);
}
END_TEST

START_TEST(test_kick)
{
	struct testutil_chatd d;
	struct client cs[3];

	chat_setup(&d, "chat", cs, 3, NULL);
	testutil_chatd_type(&d, "/kick 2");
	client_expect(&cs[1], "tcpchatd: disconnected by the operator\n");
	client_expect_eof(&cs[1]);
	client_close(&cs[1]);
	testutil_chatd_expect(
	    &d, "#2 %s disconnected: kicked (2 online)", cs[1].addr);
	testutil_chatd_type(&d, "/kick 2");
	testutil_chatd_expect_next(&d, "no such client #2");
	clients_sync(&d, cs, 3, "the others stay", 0);
	chat_teardown(&d, cs, 3);
}
END_TEST

START_TEST(test_stale_id)
{
	struct testutil_chatd d;
	struct client cs[2];

	chat_setup(&d, "chat", cs, 2, NULL);
	testutil_chatd_type(&d, "/to 2");
	testutil_chatd_expect(&d, "talking to #2 %s", cs[1].addr);
	client_leave(&d, &cs[1], 1);
	/* The console says so; plain text then goes nowhere, not to #1. */
	testutil_chatd_expect_next(
	    &d, "#2 %s has left: no client chosen", cs[1].addr);
	testutil_chatd_type(&d, "are you there?");
	testutil_chatd_expect_next(
	    &d, "nothing sent: #2 has left (choose a client with /to ID)");

	testutil_chatd_type(&d, "/msg 99 x");
	testutil_chatd_expect_next(&d, "no such client #99");
	testutil_chatd_type(&d, "/to 99");
	testutil_chatd_expect_next(&d, "no such client #99");
	testutil_chatd_type(&d, "/to 2");
	testutil_chatd_expect_next(&d, "no such client #2");
	testutil_chatd_type(&d, "/msg 2 late");
	testutil_chatd_expect_next(&d, "no such client #2");
	testutil_chatd_type(&d, "/kick 99");
	testutil_chatd_expect_next(&d, "no such client #99");
	clients_sync(&d, cs, 2, "only this", 0);
	chat_teardown(&d, cs, 2);
}
END_TEST

/* The seed's simple client: one message, no newline, one reply. */
START_TEST(test_single_client_seed_style)
{
	struct testutil_chatd d;
	struct client c;
	char shown[32];

	chat_setup(&d, "chat", &c, 1, NULL);
	uint64_t sent = clock_now_ms();
	client_send(&c, "Hello, server", 13);
	testutil_chatd_expect_next(&d, "#1 %s: Hello, server", c.addr);
	uint64_t took = clock_now_ms() - sent;
	/* Handed on after 40 ms of quiet; 100 ms is the promise. */
	snprintf(shown, sizeof(shown), "%llu ms", (unsigned long long)took);
	ck_assert_msg(took <= (uint64_t)testutil_wait_ms(400),
	    "unterminated message took %s", shown);
	/*
	 * One client online, none chosen: plain text goes to it, with no
	 * newline, as its own message came (the seed prints it as is).
	 */
	testutil_chatd_type(&d, "Hello, client");
	testutil_chatd_expect_next(&d, "-> #1: Hello, client");
	client_expect(&c, "Hello, client");
	ck_assert(testutil_nothing_arrives(c.fd, 100));
	/* Once it sends a line, it gets lines. */
	client_send(&c, "a line\n", 7);
	testutil_chatd_expect_next(&d, "#1 %s: a line", c.addr);
	testutil_chatd_type(&d, "lines now");
	client_expect(&c, "lines now\n");
	chat_teardown(&d, &c, 1);
}
END_TEST

/* ---- how sessions end -------------------------------------------------- */

START_TEST(test_q_ends_session)
{
	struct testutil_chatd d;
	struct client cs[3];

	testutil_chatd_start(&d, "chat", NULL);
	client_join(&d, &cs[0], 1, 1);
	client_send(&cs[0], "q\n", 2);
	client_expect_eof(&cs[0]);
	testutil_chatd_expect(
	    &d, "#1 %s disconnected: quit (0 online)", cs[0].addr);
	client_close(&cs[0]);

	/* The seed's clients send "q" with no newline. */
	client_join(&d, &cs[1], 2, 1);
	client_send(&cs[1], "q", 1);
	client_expect_eof(&cs[1]);
	testutil_chatd_expect(
	    &d, "#2 %s disconnected: quit (0 online)", cs[1].addr);
	client_close(&cs[1]);

	/* "quit" is a message; "q" with CRLF ends it too. */
	client_join(&d, &cs[2], 3, 1);
	client_send(&cs[2], "quit\n", 5);
	testutil_chatd_expect_next(&d, "#3 %s: quit", cs[2].addr);
	client_send(&cs[2], "q\r\n", 3);
	client_expect_eof(&cs[2]);
	testutil_chatd_expect_next(
	    &d, "#3 %s disconnected: quit (0 online)", cs[2].addr);
	chat_teardown(&d, cs, 3);
}
END_TEST

/* ---- framing: unterminated, split, CRLF, too long ---------------------- */

/* A stall of ours this long between writes is not the server's fault. */
#define STALL_MS 20

/*
 * Sends len bytes in writes of step bytes, gap_us apart.  Returns the
 * longest time between two writes in ms, as the server saw it.
 */
static int
client_send_paced(
    struct client *c, const char *data, size_t len, size_t step, long gap_us)
{
	struct timespec gap = {0, gap_us * 1000L};
	uint64_t last = 0, longest = 0;

	net_set_nodelay(c->fd);
	for (size_t off = 0; off < len; off += step) {
		size_t n = len - off < step ? len - off : step;
		/* Pacing between writes, not a wait for anything. */
		if (off > 0)
			nanosleep(&gap, NULL);
		client_send(c, data + off, n);
		uint64_t now = clock_now_ms();
		if (off > 0 && now - last > longest)
			longest = now - last;
		last = now;
	}
	return (int)longest;
}

/* Reads the next console line: 1 if it is exactly want[0..len). */
static int
chatd_next_is(struct testutil_chatd *d, const char *want, size_t len)
{
	static char line[CONSOLE_LINE_MAX];
	ssize_t n = testutil_read_line(
	    d->proc.out_fd, line, sizeof(line), testutil_wait_ms(WAIT_MS));

	return n >= 0 && (size_t)n == len && memcmp(line, want, len) == 0;
}

/*
 * Sends text (ending in LF or not) in writes of step bytes, gap_us
 * apart: the console must show it as one message.  When this process
 * stalled between two writes long enough for the server's pause rule to
 * end the message, the try does not count: a line of its own puts the
 * console back in step and it is tried again, a bounded number of times.
 */
static void
client_expect_one_message(struct testutil_chatd *d, struct client *c,
    const char *text, size_t len, size_t step, long gap_us)
{
	size_t shown = len > 0 && text[len - 1] == '\n' ? len - 1 : len;
	size_t prefix = strlen(c->addr) + 16;
	char *want = malloc(prefix + shown), marker[32];
	int stall = 0;

	ck_assert_ptr_nonnull(want);
	int n = snprintf(want, prefix, "#%d %s: ", c->id, c->addr);
	memcpy(want + n, text, shown);
	for (int try = 0; try < 5; try++) {
		stall = client_send_paced(c, text, len, step, gap_us);
		if (chatd_next_is(d, want, (size_t)n + shown)) {
			free(want);
			return;
		}
		ck_assert_msg(stall >= STALL_MS,
		    "a message sent in writes at "
		    "most %d ms apart was not shown as one",
		    stall);
		/* The LF first ends whatever part is still pending. */
		snprintf(marker, sizeof(marker), "\nresync %d\n", try);
		client_send(c, marker, strlen(marker));
		testutil_chatd_expect(
		    d, "#%d %s: resync %d", c->id, c->addr, try);
	}
	ck_abort_msg("this process stalled for %d ms between writes in "
	             "every try",
	    stall);
}

START_TEST(test_unterminated_split)
{
	struct testutil_chatd d;
	struct client c;
	static const char msg[] = "one message in three writes";

	chat_setup(&d, "chat", &c, 1, NULL);
	/* Gaps far below the 40 ms pause: still one message. */
	client_expect_one_message(&d, &c, msg, sizeof(msg) - 1, 9, 1000);
	client_send(&c, "next\n", 5);
	testutil_chatd_expect_next(&d, "#1 %s: next", c.addr);
	/* Two unterminated messages, a pause between them: two messages. */
	client_send(&c, "first", 5);
	testutil_chatd_expect_next(&d, "#1 %s: first", c.addr);
	client_send(&c, "second", 6);
	testutil_chatd_expect_next(&d, "#1 %s: second", c.addr);
	chat_teardown(&d, &c, 1);
}
END_TEST

START_TEST(test_long_line_many_segments)
{
	struct testutil_chatd d;
	struct client c;
	size_t len = 20000;
	char *line = malloc(len + 1);

	ck_assert_ptr_nonnull(line);
	for (size_t i = 0; i < len; i++)
		line[i] = (char)('a' + i % 26);
	line[len] = '\n';
	chat_setup(&d, "chat", &c, 1, NULL);
	/* 200 segments of 100 bytes, the newline in the last. */
	client_expect_one_message(&d, &c, line, len + 1, 100, 50);
	/* Unterminated and bigger than one read of the server's: one too. */
	client_expect_one_message(&d, &c, line, len, len, 0);
	free(line);
	chat_teardown(&d, &c, 1);
}
END_TEST

START_TEST(test_crlf)
{
	struct testutil_chatd d;
	struct client c;

	chat_setup(&d, "chat", &c, 1, NULL);
	client_send(&c, "windows line\r\nunix line\n", 24);
	testutil_chatd_expect_next(&d, "#1 %s: windows line", c.addr);
	testutil_chatd_expect_next(&d, "#1 %s: unix line", c.addr);
	/* A CR alone is content, shown escaped; a CR then a pause is not. */
	client_send(&c, "a\rb\r\n", 5);
	testutil_chatd_expect_next(&d, "#1 %s: a\\rb", c.addr);
	client_send(&c, "telnet\r", 7);
	testutil_chatd_expect_next(&d, "#1 %s: telnet", c.addr);
	chat_teardown(&d, &c, 1);
}
END_TEST

START_TEST(test_line_too_long)
{
	static const char *const extra[] = {"--max-line", "100", NULL};
	static const char notice[] =
	    "tcpchatd: error: line too long (max 100 bytes)\n";
	struct testutil_chatd d;
	struct client cs[3];
	char line[160];

	chat_setup(&d, "chat", cs, 2, extra);
	/* Exactly the limit is fine. */
	memset(line, 'b', 100);
	line[100] = '\n';
	client_send(&cs[1], line, 101);
	line[100] = '\0';
	testutil_chatd_expect(&d, "#2 %s: %s", cs[1].addr, line);

	memset(line, 'a', 101);
	line[101] = '\n';
	client_send(&cs[0], line, 102);
	client_expect(&cs[0], notice);
	client_expect_eof(&cs[0]);
	client_close(&cs[0]);
	testutil_chatd_expect(
	    &d, "#1 %s disconnected: line too long (1 online)", cs[0].addr);

	/* Too long with no newline at all: the same. */
	client_join(&d, &cs[2], 3, 2);
	memset(line, 'c', 150);
	client_send(&cs[2], line, 150);
	client_expect(&cs[2], notice);
	client_expect_eof(&cs[2]);
	client_close(&cs[2]);
	testutil_chatd_expect(
	    &d, "#3 %s disconnected: line too long (1 online)", cs[2].addr);

	/* The other client is unaffected, both ways. */
	client_send(&cs[1], "still here\n", 11);
	testutil_chatd_expect(&d, "#2 %s: still here", cs[1].addr);
	testutil_chatd_type(&d, "/msg 2 fine");
	client_expect(&cs[1], "fine\n");
	chat_teardown(&d, cs, 3);
}
END_TEST

/* ---- the console never gets a raw control byte ------------------------- */

/* Fails when the line holds a C0 control, DEL or any byte past ASCII. */
static void
assert_plain_ascii(const char *line)
{
	for (const unsigned char *p = (const unsigned char *)line; *p; p++)
		ck_assert_msg(*p >= 0x20 && *p < 0x7f, "raw byte %#x in \"%s\"",
		    *p, testutil_visible(line, strlen(line)));
}

START_TEST(test_control_bytes_escaped)
{
#define CASE(sent, shown)                                                      \
	{                                                                      \
		sent, sizeof(sent) - 1, shown                                  \
	}
	static const struct {
		const char *sent; /* line as sent, newline excluded */
		size_t len;
		const char *shown; /* as the console must show it */
	} cases[] = {
	    CASE("title\x1b]0;x\x07", "title\\x1b]0;x\\x07"),
	    CASE("\x1b[2Jcleared", "\\x1b[2Jcleared"),
	    CASE("csi\x9b"
	         "31m",
	        "csi\\x9b31m"),
	    CASE("bare\rCR", "bare\\rCR"),
	    CASE("nul\0byte", "nul\\x00byte"),
	    CASE("del\x7f bs\x08 c1\xc2\x9b rlo\xe2\x80\xae",
	        "del\\x7f bs\\x08 c1\\u009b rlo\\u202e"),
	};
#undef CASE
	struct testutil_chatd d;
	struct client c;
	char buf[64], want[128];

	chat_setup(&d, "chat", &c, 1, NULL);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memcpy(buf, cases[i].sent, cases[i].len);
		buf[cases[i].len] = '\n';
		client_send(&c, buf, cases[i].len + 1);
		snprintf(
		    want, sizeof(want), "#1 %s: %s", c.addr, cases[i].shown);
		assert_plain_ascii(want);
		testutil_chatd_expect_next(&d, "%s", want);
	}
	/* Chinese (and other printable UTF-8) passes unchanged. */
	client_send(&c, "你好，世界 😀\n", strlen("你好，世界 😀\n"));
	testutil_chatd_expect_next(&d, "#1 %s: 你好，世界 😀", c.addr);
	/* The operator's reply reaches the client byte for byte. */
	testutil_chatd_type(&d, "谢谢");
	client_expect(&c, "谢谢\n");
	chat_teardown(&d, &c, 1);
}
END_TEST

/* ---- room mode --------------------------------------------------------- */

#define ROOM_CLIENTS 5

START_TEST(test_room_relay_five)
{
	struct testutil_chatd d;
	struct client cs[ROOM_CLIENTS];
	char text[64], relayed[96];

	testutil_chatd_start(&d, "room", NULL);
	for (int k = 0; k < ROOM_CLIENTS; k++) {
		client_join(&d, &cs[k], k + 1, k + 1);
		/* Joining, each is welcomed first, told who is there. */
		testutil_expect_welcome(cs[k].fd, k + 1);
		snprintf(text, sizeof(text),
		    "tcpchatd: #%d joined (%d "
		    "online)\n",
		    k + 1, k + 1);
		for (int j = 0; j < k; j++)
			client_expect(&cs[j], text);
	}
	for (int i = 0; i < ROOM_CLIENTS; i++) {
		snprintf(text, sizeof(text), "hello from %d, 你好", i + 1);
		snprintf(relayed, sizeof(relayed), "#%d: %s\n", i + 1, text);
		client_send(&cs[i], text, strlen(text));
		client_send(&cs[i], "\n", 1);
		testutil_chatd_expect(
		    &d, "#%d %s: %s", i + 1, cs[i].addr, text);
		for (int j = 0; j < ROOM_CLIENTS; j++)
			if (j != i)
				client_expect(&cs[j], relayed);
	}
	/* Operator text goes to all; it comes first: no one got its own. */
	testutil_chatd_type(&d, "welcome, all");
	for (int j = 0; j < ROOM_CLIENTS; j++)
		client_expect(&cs[j], "operator: welcome, all\n");

	client_send(&cs[4], "q\n", 2);
	client_expect_eof(&cs[4]);
	client_close(&cs[4]);
	for (int j = 0; j < 4; j++)
		client_expect(&cs[j], "tcpchatd: #5 left (quit; 4 online)\n");
	clients_sync(&d, cs, ROOM_CLIENTS, "bye", 1);
	chat_teardown(&d, cs, ROOM_CLIENTS);
}
END_TEST

/* ---- shutdown ---------------------------------------------------------- */

/* After shutdown began, nobody new gets in. */
static void
assert_refused(int port)
{
	char portstr[16];
	int gai;

	snprintf(portstr, sizeof(portstr), "%d", port);
	int fd =
	    net_connect("127.0.0.1", portstr, testutil_wait_ms(WAIT_MS), &gai);
	if (fd >= 0)
		close(fd);
	ck_assert_msg(fd == -1, "connected after shutdown began");
}

/* Every client gets the notice, then end of file; the exit status is 0. */
static void
shutdown_check(struct testutil_chatd *d, struct client *cs, int n, int sig)
{
	char *console, *errors, want[160];

	if (sig != 0)
		kill(d->proc.pid, sig);
	else
		testutil_chatd_type(d, "/quit");
	for (int i = 0; i < n; i++) {
		client_expect(&cs[i], "tcpchatd: server shutting down\n");
		client_expect_eof(&cs[i]);
	}
	assert_refused(d->port);
	for (int i = 0; i < n; i++)
		client_close(&cs[i]);
	int status = testutil_chatd_wait(d, &console, &errors);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "exit status %#x; stderr: %.2000s", status, errors);
	ck_assert_msg(errors[0] == '\0', "stderr: %.2000s", errors);
	for (int i = 0; i < n; i++) {
		snprintf(want, sizeof(want),
		    "#%d %s disconnected: server "
		    "shutting down (",
		    cs[i].id, cs[i].addr);
		ck_assert_msg(strstr(console, want) != NULL,
		    "no \"%s\" in the console output", want);
	}
	ck_assert_ptr_nonnull(strstr(console, "tcpchatd: stopped\n"));
	free(console);
	free(errors);
}

START_TEST(test_sigterm_with_clients)
{
	struct testutil_chatd d;
	struct client cs[3];

	chat_setup(&d, "chat", cs, 3, NULL);
	/* One has half a message pending: it does not hold things up. */
	client_send(&cs[2], "half a", 6);
	testutil_chatd_expect(&d, "#3 %s: half a", cs[2].addr);
	shutdown_check(&d, cs, 3, SIGTERM);
}
END_TEST

START_TEST(test_sigint_room)
{
	struct testutil_chatd d;
	struct client cs[2];

	chat_setup(&d, "room", cs, 2, NULL);
	testutil_expect_welcome(cs[0].fd, 1);
	testutil_expect_welcome(cs[1].fd, 2);
	client_expect(&cs[0], "tcpchatd: #2 joined (2 online)\n");
	shutdown_check(&d, cs, 2, SIGINT);
}
END_TEST

START_TEST(test_quit_command)
{
	struct testutil_chatd d;
	struct client cs[2];

	chat_setup(&d, "chat", cs, 2, NULL);
	shutdown_check(&d, cs, 2, 0);
}
END_TEST

/* ---- --log ------------------------------------------------------------- */

/* A transcript line: "YYYY-MM-DDTHH:MM:SS.mmmZ " then the rest. */
static const char *
transcript_rest(const char *line)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ ";

	for (size_t i = 0; i < sizeof(shape) - 1; i++) {
		int digit = line[i] >= '0' && line[i] <= '9';
		if (shape[i] == 'd' ? !digit : line[i] != shape[i])
			return NULL;
	}
	return line + sizeof(shape) - 1;
}

START_TEST(test_log_transcript)
{
	char path[] = "/tmp/check_server_logXXXXXX";
	int fd = mkstemp(path);
	const char *extra[] = {"--log", path, NULL};
	struct testutil_chatd d;
	struct client c;
	char *log = malloc(DRAIN_MAX), want[5][160];

	ck_assert_int_ge(fd, 0);
	ck_assert_ptr_nonnull(log);
	chat_setup(&d, "chat", &c, 1, extra);
	client_send(&c, "hello \x1b[31mred\n", 15);
	testutil_chatd_expect_next(&d, "#1 %s: hello \\x1b[31mred", c.addr);
	testutil_chatd_type(&d, "/msg 1 bell\x07 and 中文");
	client_expect(&c, "bell\x07 and 中文\n");
	client_leave(&d, &c, 0);
	testutil_chatd_stop(&d);

	size_t len = testutil_read_exact(fd, log, DRAIN_MAX - 1, 1000);
	log[len] = '\0';
	close(fd);
	unlink(path);
	snprintf(want[0], sizeof(want[0]), "listening: 127.0.0.1:%d", d.port);
	snprintf(want[1], sizeof(want[1]), "#1 %s event: connected", c.addr);
	snprintf(
	    want[2], sizeof(want[2]), "#1 %s in: hello \\x1b[31mred", c.addr);
	snprintf(
	    want[3], sizeof(want[3]), "#1 %s out: bell\\x07 and 中文", c.addr);
	snprintf(want[4], sizeof(want[4]), "#1 %s event: disconnected: closed",
	    c.addr);
	/*
	 * Lines from different threads are in the order they were written:
	 * "out" is logged just after the message is queued, so the client
	 * may have read it and left before.  Hence order is checked only
	 * where it is certain.
	 */
	char *copy = strdup(log);
	int at[5] = {-1, -1, -1, -1, -1}, lines = 0;
	ck_assert_ptr_nonnull(copy);
	for (char *line = copy, *end; *line != '\0'; line = end + 1) {
		end = strchr(line, '\n');
		ck_assert_msg(end != NULL, "unterminated transcript line");
		*end = '\0';
		lines++;
		for (const unsigned char *p = (const unsigned char *)line; *p;
		     p++)
			ck_assert_msg(*p >= 0x20 && *p != 0x7f,
			    "raw byte %#x "
			    "in transcript line %d",
			    *p, lines);
		const char *rest = transcript_rest(line);
		ck_assert_msg(rest != NULL,
		    "transcript line %d has no time "
		    "stamp: %.1000s",
		    lines, line);
		for (int i = 0; i < 5; i++)
			if (at[i] == -1 && strcmp(rest, want[i]) == 0)
				at[i] = lines;
	}
	for (int i = 0; i < 5; i++)
		ck_assert_msg(at[i] != -1, "transcript lacks \"%s\":\n%.3000s",
		    want[i], log);
	ck_assert_msg(
	    at[0] < at[1] && at[1] < at[2] && at[2] < at[3] && at[2] < at[4],
	    "transcript out of order:\n%.3000s", log);
	free(copy);
	free(log);
}
END_TEST

/* ---- starting up: options, busy ports, IPv6 ---------------------------- */

/*
 * Runs tcpchatd with args; it must exit with status at once.  Returns
 * its standard error in err.
 */
static void
run_expect_exit(const char *const args[], int status, char *err, size_t cap)
{
	const char *argv[16];
	struct testutil_proc p;
	char out[4096];
	int argc = 0;

	argv[argc++] = testutil_program("tcpchatd");
	for (int i = 0; args[i] != NULL && argc < 15; i++)
		argv[argc++] = args[i];
	argv[argc] = NULL;
	testutil_spawn(&p, (char *const *)argv);
	uint64_t deadline =
	    clock_now_ms() + (uint64_t)testutil_wait_ms(WAIT_MS);
	size_t outlen = testutil_drain(p.out_fd, out, sizeof(out), deadline);
	testutil_drain(p.err_fd, err, cap, deadline);
	int ws = testutil_proc_wait(&p, clock_ms_until(deadline) + 100);
	if (ws == -1) {
		kill(p.pid, SIGKILL);
		testutil_proc_wait(&p, 5000);
	}
	ck_assert_msg(ws != -1 && WIFEXITED(ws) && WEXITSTATUS(ws) == status,
	    "tcpchatd %s: status %#x, expected exit %d; stderr: %.2000s",
	    args[0], ws, status, err);
	ck_assert_msg(
	    outlen == 0, "tcpchatd %s: stdout: %.1000s", args[0], out);
}

START_TEST(test_bad_options)
{
	static const char *const bad[][5] = {
	    {"-m", "bogus", NULL},
	    {"--mode=shout", NULL},
	    {"-p", "99999", NULL},
	    {"-p", "http", NULL},
	    {"--port", "-1", NULL},
	    {"--max-line", "0", NULL},
	    {"--max-line", "12k", NULL},
	    {"--no-such-option", NULL},
	    {"-x", NULL},
	    {"-p", NULL},
	    {"stray", NULL},
	};
	char err[4096];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		run_expect_exit(bad[i], 2, err, sizeof(err));
		ck_assert_msg(strncmp(err, "tcpchatd: ", 10) == 0 &&
		        strstr(err, "\nTry 'tcpchatd --help'.\n") != NULL,
		    "tcpchatd %s: unclear stderr: %.2000s", bad[i][0], err);
	}
}
END_TEST

START_TEST(test_port_in_use)
{
	char port[16], err[4096], want[160];
	int gai, lfd = net_listen("127.0.0.1", "0", 16, &gai);

	ck_assert_int_ge(lfd, 0);
	snprintf(port, sizeof(port), "%d", net_local_port(lfd));
	const char *const args[] = {"-l", "127.0.0.1", "-p", port, NULL};
	run_expect_exit(args, 1, err, sizeof(err));
	close(lfd);
	snprintf(want, sizeof(want),
	    "tcpchatd: cannot listen on 127.0.0.1 "
	    "port %s: %s\n",
	    port, strerror(EADDRINUSE));
	ck_assert_str_eq(err, want);

	/* An address that is not ours: a runtime error too. */
	const char *const foreign[] = {"-l", "192.0.2.1", "-p", "0", NULL};
	run_expect_exit(foreign, 1, err, sizeof(err));
	static const char why[] = "tcpchatd: cannot listen on 192.0.2.1 "
	                          "port 0: ";
	ck_assert_msg(strncmp(err, why, sizeof(why) - 1) == 0 &&
	        strchr(err, '\n') == err + strlen(err) - 1,
	    "stderr: %.2000s", err);
}
END_TEST

START_TEST(test_ipv6_listen)
{
	struct testutil_chatd d;
	struct client c;
	char line[256], want[256], portstr[16];
	int gai, probe = net_listen("::1", "0", 16, &gai);

	if (probe == -1) {
		fprintf(stderr,
		    "check_server: no IPv6 loopback here (%s), "
		    "IPv6 test skipped\n",
		    net_strerror(gai, errno));
		return;
	}
	close(probe);
	const char *argv[] = {testutil_program("tcpchatd"), "-l", "::1", "-p",
	    "0", "-m", "echo", NULL};
	testutil_spawn(&d.proc, (char *const *)argv);
	ck_assert_int_ge(testutil_read_line(d.proc.out_fd, line, sizeof(line),
	                     testutil_wait_ms(WAIT_MS)),
	    0);
	ck_assert_msg(sscanf(line,
	                  "tcpchatd: listening on [::1]:%d (mode "
	                  "echo)",
	                  &d.port) == 1,
	    "first line: %.200s", line);
	snprintf(want, sizeof(want),
	    "tcpchatd: listening on [::1]:%d (mode "
	    "echo)",
	    d.port);
	ck_assert_str_eq(line, want);

	snprintf(portstr, sizeof(portstr), "%d", d.port);
	c.fd = net_connect("::1", portstr, testutil_wait_ms(WAIT_MS), &gai);
	ck_assert_int_ge(c.fd, 0);
	c.id = 1;
	ck_assert_int_eq(net_local_name(c.fd, c.addr, sizeof(c.addr)), 0);
	ck_assert_msg(strncmp(c.addr, "[::1]:", 6) == 0, "addr %s", c.addr);
	testutil_chatd_expect(&d, "#1 %s connected (1 online)", c.addr);
	client_send(&c, "over v6\n", 8);
	client_expect(&c, "over v6\n");
	chat_teardown(&d, &c, 1);
}
END_TEST

static Suite *
server_suite(void)
{
	Suite *s = suite_create("server");
	TCase *tc;

	tc = tcase_create("echo_many_clients");
	tcase_add_test(tc, test_echo_fifty_clients);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tc = tcase_create("operator_console");
	tcase_add_test(tc, test_to_reaches_only_target);
	tcase_add_test(tc, test_all_reaches_everyone);
	tcase_add_test(tc, test_kick);
	tcase_add_test(tc, test_stale_id);
	tcase_add_test(tc, test_single_client_seed_style);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);

	tc = tcase_create("session_end");
	tcase_add_test(tc, test_q_ends_session);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);

	tc = tcase_create("framing");
	tcase_add_test(tc, test_unterminated_split);
	tcase_add_test(tc, test_long_line_many_segments);
	tcase_add_test(tc, test_crlf);
	tcase_add_test(tc, test_line_too_long);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);

	tc = tcase_create("console_escaping");
	tcase_add_test(tc, test_control_bytes_escaped);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);

	tc = tcase_create("room");
	tcase_add_test(tc, test_room_relay_five);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);

	tc = tcase_create("shutdown");
	tcase_add_test(tc, test_sigterm_with_clients);
	tcase_add_test(tc, test_sigint_room);
	tcase_add_test(tc, test_quit_command);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);

	tc = tcase_create("transcript");
	tcase_add_test(tc, test_log_transcript);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);

	tc = tcase_create("startup");
	tcase_add_test(tc, test_bad_options);
	tcase_add_test(tc, test_port_in_use);
	tcase_add_test(tc, test_ipv6_listen);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(server_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
