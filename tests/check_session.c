/*
 * check_session.c - the session mechanism alone, driven over
 * socketpair()s with no listener and no server: framing, the unframed
 * (echo) path, the wake-up, the queue limit, deadlines and the reason
 * every way a session can end.  The callbacks record what the session
 * told them; every wait is bounded.
 */
#include "config.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "io.h"
#include "net.h"
#include "session.h"
#include "testutil.h"

#define REC_MAX_MSGS 256
#define SESSION_TEST_PAUSE_MS 300
#define REC_MSG_MAX 512

/* What a session told its callbacks. */
struct rec {
	pthread_mutex_t lock; /* guards everything below */
	pthread_cond_t changed;
	int opened;
	int nmsgs;
	char msgs[REC_MAX_MSGS][REC_MSG_MAX];
	size_t lens[REC_MAX_MSGS];
	int unterminated[REC_MAX_MSGS]; /* it ended with no newline */
	int finished; /* calls of the finished callback */
	int closed;
	char reason[128];
	size_t lost;
	char first_lost[REC_MSG_MAX];
};

/* One session under test: its end of the pair is owned by the session. */
struct harness {
	struct rec rec;
	struct session_limits limits;
	struct session_totals totals;
	struct session *s; /* a reference of the test's own */
	int peer; /* the client's end */
	int small_sndbuf; /* the kernel holds little for the client */
	int tcp; /* a TCP connection on 127.0.0.1, not a socketpair */
};

/*
 * A connected TCP pair on 127.0.0.1: sv[0] the server's (accepted),
 * sv[1] the client's.  As a socketpair, but with TCP's ways of ending.
 */
static void
tcp_pair(int sv[2])
{
	int gai, lfd = net_listen("127.0.0.1", "0", 1, &gai);
	char port[16];

	ck_assert_int_ge(lfd, 0);
	snprintf(port, sizeof(port), "%d", net_local_port(lfd));
	sv[1] = net_connect("127.0.0.1", port, 5000, &gai);
	ck_assert_int_ge(sv[1], 0);
	sv[0] = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	ck_assert_int_ge(sv[0], 0);
	close(lfd);
}

static void
rec_opened(void *ctx, struct session *s)
{
	struct rec *r = ctx;

	pthread_mutex_lock(&r->lock);
	r->opened = 1;
	pthread_cond_broadcast(&r->changed);
	pthread_mutex_unlock(&r->lock);
}

static const char *
rec_message(void *ctx, struct session *s, const char *msg, size_t len)
{
	struct rec *r = ctx;

	pthread_mutex_lock(&r->lock);
	if (r->nmsgs < REC_MAX_MSGS) {
		size_t n = len < REC_MSG_MAX - 1 ? len : REC_MSG_MAX - 1;
		memcpy(r->msgs[r->nmsgs], msg, n);
		r->msgs[r->nmsgs][n] = '\0';
		r->lens[r->nmsgs] = len;
		r->unterminated[r->nmsgs] = s->unterminated;
		r->nmsgs++;
	}
	pthread_cond_broadcast(&r->changed);
	pthread_mutex_unlock(&r->lock);
	/* "pause": nothing more is read for SESSION_TEST_PAUSE_MS. */
	if (len == 5 && memcmp(msg, "pause", 5) == 0)
		session_pause_input(s, SESSION_TEST_PAUSE_MS);
	return len == 4 && memcmp(msg, "stop", 4) == 0 ? "asked to stop" : NULL;
}

static void
rec_finished(void *ctx, struct session *s)
{
	struct rec *r = ctx;

	pthread_mutex_lock(&r->lock);
	r->finished++;
	pthread_cond_broadcast(&r->changed);
	pthread_mutex_unlock(&r->lock);
}

/* Unframed: every byte straight back, as echo mode does. */
static const char *
rec_data(void *ctx, struct session *s, const char *buf, size_t len)
{
	(void)session_reply(s, buf, len);
	return NULL;
}

static void
rec_closed(void *ctx, struct session *s, const char *reason,
    const struct session_msg *undelivered, size_t lost)
{
	struct rec *r = ctx;

	pthread_mutex_lock(&r->lock);
	r->closed = 1;
	snprintf(r->reason, sizeof(r->reason), "%s", reason);
	r->lost = lost;
	if (undelivered != NULL) {
		size_t len = undelivered->buf->len;
		size_t n = len < REC_MSG_MAX - 1 ? len : REC_MSG_MAX - 1;
		memcpy(r->first_lost, undelivered->buf->data, n);
		r->first_lost[n] = '\0';
	}
	pthread_cond_broadcast(&r->changed);
	pthread_mutex_unlock(&r->lock);
}

static const struct session_callbacks framed_cb = {.opened = rec_opened,
    .message = rec_message,
    .finished = rec_finished,
    .closed = rec_closed};
static const struct session_callbacks raw_cb = {
    .opened = rec_opened, .data = rec_data, .closed = rec_closed};

/* Limits for a test: generous, except what the test sets. */
static void
harness_limits(struct harness *h)
{
	h->limits = (struct session_limits){.max_line = 1024,
	    .max_queue = 64 * 1024,
	    .flush_ms = 40,
	    .drain_ms = 1000,
	    .linger_ms = 200,
	    .totals = &h->totals};
}

/* Starts a session on one end of a socketpair; the test holds the other. */
static void
harness_start(struct harness *h, const struct session_callbacks *cb)
{
	struct sockaddr_in peer = {
	    .sin_family = AF_INET, .sin_port = htons(40000)};
	pthread_attr_t attr;
	int sv[2];

	peer.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	pthread_mutex_init(&h->rec.lock, NULL);
	pthread_cond_init(&h->rec.changed, NULL);
	if (h->tcp)
		tcp_pair(sv);
	else
		ck_assert_int_eq(
		    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	ck_assert_int_eq(net_set_nonblock(sv[0], 1), 0);
	if (h->small_sndbuf) {
		int size = 1; /* the kernel's minimum */
		ck_assert_int_eq(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &size,
		                     sizeof(size)),
		    0);
	}
	h->peer = sv[1];
	h->s = session_new(sv[0], 7, (struct sockaddr *)&peer, sizeof(peer),
	    &h->limits, cb, &h->rec);
	ck_assert_ptr_nonnull(h->s);
	ck_assert_str_eq(h->s->addr, "127.0.0.1:40000");
	session_ref(h->s); /* the test's own, beyond the thread's */
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	ck_assert_int_eq(session_start(h->s, &attr), 0);
	pthread_attr_destroy(&attr);
}

/* Waits (bounded) until the callbacks saw what pred says.  1 if so. */
static int
harness_wait(struct harness *h, int (*pred)(const struct rec *, int), int arg,
    int timeout_ms)
{
	struct timespec deadline =
	    clock_deadline_ms(CLOCK_REALTIME, testutil_wait_ms(timeout_ms));
	int ok;

	pthread_mutex_lock(&h->rec.lock);
	while (!(ok = pred(&h->rec, arg)))
		if (pthread_cond_timedwait(
		        &h->rec.changed, &h->rec.lock, &deadline) == ETIMEDOUT)
			break;
	ok = pred(&h->rec, arg);
	pthread_mutex_unlock(&h->rec.lock);
	return ok;
}

static int
rec_has_msgs(const struct rec *r, int n)
{
	return r->nmsgs >= n;
}

static int
rec_is_closed(const struct rec *r, int unused)
{
	return r->closed;
}

static int
rec_is_opened(const struct rec *r, int unused)
{
	return r->opened;
}

static int
rec_has_finished(const struct rec *r, int unused)
{
	return r->finished > 0;
}

/* Waits for the session's end and its thread's; checks the reason. */
static void
harness_expect_end(struct harness *h, const char *reason)
{
	ck_assert_msg(harness_wait(h, rec_is_closed, 0, 5000),
	    "the session never ended (wanted \"%s\")", reason);
	ck_assert_str_eq(h->rec.reason, reason);
	for (int i = 0; i < 5000 && atomic_load(&h->totals.threads) > 0; i++)
		poll(NULL, 0, 1);
	ck_assert_int_eq(atomic_load(&h->totals.threads), 0);
}

static void
harness_finish(struct harness *h)
{
	session_unref(h->s);
	close(h->peer);
}

static void
expect_msg(struct harness *h, int i, const char *want)
{
	ck_assert_msg(harness_wait(h, rec_has_msgs, i + 1, 5000),
	    "message %d (\"%s\") never came", i, want);
	ck_assert_str_eq(h->rec.msgs[i], want);
}

START_TEST(test_frames_lines_and_pauses)
{
	struct harness h = {0};

	harness_limits(&h);
	harness_start(&h, &framed_cb);
	ck_assert(harness_wait(&h, rec_is_opened, 0, 5000));
	testutil_send_str(h.peer, "one\ntwo\r\nthr");
	expect_msg(&h, 0, "one");
	expect_msg(&h, 1, "two");
	/* No newline: handed on once the client pauses for flush_ms. */
	expect_msg(&h, 2, "thr");
	/* A line split across writes is still one message. */
	testutil_send_str(h.peer, "sp");
	poll(NULL, 0, 5);
	testutil_send_str(h.peer, "lit\n");
	expect_msg(&h, 3, "split");
	ck_assert_int_eq(h.rec.nmsgs, 4);
	uint64_t in, out;
	session_counts(h.s, &in, &out);
	ck_assert_uint_eq(in, 4);
	ck_assert_uint_eq(atomic_load(&h.totals.bytes_in), 18);
	/* The peer closes: what it sent last still counts. */
	testutil_send_str(h.peer, "last");
	shutdown(h.peer, SHUT_WR);
	expect_msg(&h, 4, "last");
	harness_expect_end(&h, "closed");
	harness_finish(&h);
}
END_TEST

START_TEST(test_callback_ends_session)
{
	struct harness h = {0};

	harness_limits(&h);
	harness_start(&h, &framed_cb);
	testutil_send_str(h.peer, "hello\nstop\nnever\n");
	expect_msg(&h, 0, "hello");
	expect_msg(&h, 1, "stop");
	harness_expect_end(&h, "asked to stop");
	/* Nothing after the message that ended it was handed on. */
	ck_assert_int_eq(h.rec.nmsgs, 2);
	harness_finish(&h);
}
END_TEST

START_TEST(test_send_wakes_and_delivers)
{
	struct harness h = {0};
	char want[64];

	harness_limits(&h);
	harness_start(&h, &framed_cb);
	ck_assert(harness_wait(&h, rec_is_opened, 0, 5000));
	/* From this thread: each message wakes the session's thread. */
	for (int i = 0; i < 50; i++) {
		snprintf(want, sizeof(want), "message %d\n", i);
		ck_assert_int_eq(
		    session_send(h.s, want, strlen(want)), SESSION_SENT);
		testutil_expect_str(h.peer, want);
	}
	for (int i = 0; i < 2000 && atomic_load(&h.totals.msgs_out) < 50; i++)
		poll(NULL, 0, 1);
	ck_assert_uint_eq(atomic_load(&h.totals.msgs_out), 50);
	/* Closing: the notice goes out, then the end of the stream. */
	session_close(h.s, "bye\n", "kicked");
	testutil_expect_str(h.peer, "bye\n");
	ck_assert_int_eq(testutil_wait_eof(h.peer, testutil_wait_ms(5000)), 1);
	harness_expect_end(&h, "kicked");
	ck_assert_int_eq(session_send(h.s, "late\n", 5), SESSION_GONE_ERR);
	harness_finish(&h);
}
END_TEST

START_TEST(test_raw_echo_exact)
{
	enum { N = 8, BYTES = 200000 };
	struct harness hs[N];
	static char sent[BYTES], got[BYTES];

	for (size_t i = 0; i < sizeof(sent); i++)
		sent[i] = (char)(i * 131 + 7);
	/* Several at once, each with its own thread. */
	for (int k = 0; k < N; k++) {
		memset(&hs[k], 0, sizeof(hs[k]));
		harness_limits(&hs[k]);
		harness_start(&hs[k], &raw_cb);
	}
	for (int k = 0; k < N; k++) {
		size_t off = 0, back = 0;
		uint64_t deadline = clock_now_ms() + testutil_wait_ms(10000);
		/* Write and read in turn: neither side's buffer fills. */
		while (back < sizeof(got) && clock_now_ms() < deadline) {
			if (off < sizeof(sent)) {
				ssize_t n = send(hs[k].peer, sent + off,
				    sizeof(sent) - off < 4096
				        ? sizeof(sent) - off
				        : 4096,
				    MSG_DONTWAIT);
				if (n > 0)
					off += (size_t)n;
			}
			struct pollfd pfd = {
			    .fd = hs[k].peer, .events = POLLIN};
			if (poll(&pfd, 1, 10) == 1) {
				ssize_t n = recv(hs[k].peer, got + back,
				    sizeof(got) - back, MSG_DONTWAIT);
				ck_assert_int_ne(n, 0);
				if (n > 0)
					back += (size_t)n;
			}
		}
		ck_assert_uint_eq(back, sizeof(got));
		ck_assert(memcmp(sent, got, sizeof(got)) == 0);
		ck_assert_int_eq(hs[k].rec.nmsgs, 0);
	}
	for (int k = 0; k < N; k++) {
		close(hs[k].peer);
		harness_expect_end(&hs[k], "closed");
		ck_assert_uint_eq(
		    atomic_load(&hs[k].totals.bytes_out), sizeof(sent));
		/* Echoed bytes are not messages. */
		ck_assert_uint_eq(atomic_load(&hs[k].totals.msgs_out), 0);
		session_unref(hs[k].s);
	}
}
END_TEST

/* What the session holds for its client now. */
static size_t
queued_bytes(struct session *s)
{
	pthread_mutex_lock(&s->lock);
	size_t n = s->queued_bytes;
	pthread_mutex_unlock(&s->lock);
	return n;
}

START_TEST(test_queue_limit_drops_slow_reader)
{
	struct harness h = {0};
	char line[300];
	int rc = SESSION_SENT, sent = 0;

	harness_limits(&h);
	h.limits.max_queue = 4096;
	/* Less than the queue holds: closing cannot flush the queue. */
	h.small_sndbuf = 1;
	harness_start(&h, &framed_cb);
	ck_assert(harness_wait(&h, rec_is_opened, 0, 5000));
	memset(line, 'x', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\n';
	/*
	 * The peer never reads.  First the kernel's buffer fills: each
	 * message leaves the queue at once, until one stays there.
	 */
	uint64_t deadline = clock_now_ms() + testutil_wait_ms(10000);
	for (int stuck = 0; !stuck && sent < 100000; sent++) {
		ck_assert_int_eq(
		    session_send(h.s, line, sizeof(line)), SESSION_SENT);
		uint64_t until = clock_now_ms() + 200;
		while (
		    !(stuck = clock_now_ms() >= until) && queued_bytes(h.s) > 0)
			poll(NULL, 0, 1);
		ck_assert(clock_now_ms() < deadline);
	}
	/* Then the queue, up to its limit. */
	while (
	    rc == SESSION_SENT && sent < 100000 && clock_now_ms() < deadline) {
		line[0] = (char)('a' + sent % 26);
		rc = session_send(h.s, line, sizeof(line));
		if (rc == SESSION_SENT)
			sent++;
	}
	ck_assert_int_eq(rc, SESSION_FULL);
	harness_expect_end(&h, "too slow (outbound queue full)");
	/* What was still queued is handed over, in order, as lost. */
	ck_assert_uint_gt(h.rec.lost, 0);
	ck_assert_uint_le(h.rec.lost, 4096 / sizeof(line));
	ck_assert_uint_eq(strlen(h.rec.first_lost), sizeof(line));
	ck_assert_int_eq(h.rec.first_lost[sizeof(line) - 1], '\n');
	harness_finish(&h);
}
END_TEST

/* One of several threads relaying numbered lines to one session. */
struct relayer {
	struct session *s;
	int index;
	int sent; /* lines queued or written */
};

enum { RELAYERS = 8, RELAYED = 3000 };

static void *
relayer_main(void *arg)
{
	struct relayer *r = arg;
	char line[64];

	for (int i = 0; i < RELAYED; i++) {
		int n = snprintf(line, sizeof(line), "r%d %d\n", r->index, i);
		struct msgbuf *b = msgbuf_new(NULL, line, (size_t)n);
		ck_assert_ptr_nonnull(b);
		if (session_send_buf(r->s, b) == SESSION_SENT)
			r->sent++;
		msgbuf_unref(b);
	}
	return NULL;
}

START_TEST(test_direct_sends_batched_in_order)
{
	struct harness h = {0};
	struct relayer rs[RELAYERS];
	pthread_t threads[RELAYERS];
	int next[RELAYERS] = {0};
	struct session_flusher *f = session_flusher_new();
	char buf[65536], line[64];
	size_t linelen = 0;
	int lines = 0;

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(session_flusher_start(f), 0);
	harness_limits(&h);
	h.limits.direct_send = 1;
	h.limits.flusher = f;
	h.limits.max_queue = 16 << 20;
	harness_start(&h, &framed_cb);
	ck_assert(harness_wait(&h, rec_is_opened, 0, 5000));
	/* Several threads at once, the reader keeping up meanwhile. */
	for (int i = 0; i < RELAYERS; i++) {
		rs[i] = (struct relayer){h.s, i, 0};
		ck_assert_int_eq(
		    pthread_create(&threads[i], NULL, relayer_main, &rs[i]), 0);
	}
	uint64_t deadline = clock_now_ms() + testutil_wait_ms(20000);
	while (lines < RELAYERS * RELAYED && clock_now_ms() < deadline) {
		struct pollfd pfd = {.fd = h.peer, .events = POLLIN};
		if (poll(&pfd, 1, 100) != 1)
			continue;
		ssize_t n = recv(h.peer, buf, sizeof(buf), 0);
		ck_assert_int_gt(n, 0);
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] != '\n') {
				ck_assert_uint_lt(linelen, sizeof(line) - 1);
				line[linelen++] = buf[i];
				continue;
			}
			line[linelen] = '\0';
			linelen = 0;
			int who, seq;
			ck_assert_int_eq(sscanf(line, "r%d %d", &who, &seq), 2);
			ck_assert_int_lt(who, RELAYERS);
			/* Each relayer's lines arrive whole and in order. */
			ck_assert_int_eq(seq, next[who]);
			next[who]++;
			lines++;
		}
	}
	for (int i = 0; i < RELAYERS; i++) {
		pthread_join(threads[i], NULL);
		ck_assert_int_eq(rs[i].sent, RELAYED);
		ck_assert_int_eq(next[i], RELAYED);
	}
	ck_assert_uint_eq(atomic_load(&h.totals.msgs_out), RELAYERS * RELAYED);
	close(h.peer);
	harness_expect_end(&h, "closed");
	session_unref(h.s);
	session_flusher_stop(f);
	session_flusher_free(f);
}
END_TEST

START_TEST(test_line_too_long)
{
	struct harness h = {0};

	harness_limits(&h);
	h.limits.max_line = 16;
	harness_start(&h, &framed_cb);
	testutil_send_str(h.peer, "short\n0123456789abcdefXYZ\n");
	expect_msg(&h, 0, "short");
	testutil_expect_str(
	    h.peer, "tcpchatd: error: line too long (max 16 bytes)\n");
	ck_assert_int_eq(testutil_wait_eof(h.peer, testutil_wait_ms(5000)), 1);
	harness_expect_end(&h, "line too long");
	ck_assert_int_eq(h.rec.nmsgs, 1);
	harness_finish(&h);
}
END_TEST

START_TEST(test_idle_timeout)
{
	struct harness h = {0};

	harness_limits(&h);
	h.limits.idle_timeout_ms = 300;
	harness_start(&h, &framed_cb);
	uint64_t start = clock_now_ms();
	testutil_send_str(h.peer, "still here\n");
	expect_msg(&h, 0, "still here");
	testutil_expect_str(h.peer, "tcpchatd: idle timeout, closing\n");
	ck_assert_uint_ge(clock_now_ms() - start, 300);
	harness_expect_end(&h, "idle timeout");
	harness_finish(&h);
}
END_TEST

START_TEST(test_line_timeout)
{
	struct harness h = {0};

	harness_limits(&h);
	/* A trickle of bytes never ending its line. */
	h.limits.flush_ms = 60000;
	h.limits.line_timeout_ms = 400;
	harness_start(&h, &framed_cb);
	uint64_t start = clock_now_ms();
	for (int i = 0; i < 4; i++) {
		testutil_send_str(h.peer, "x");
		poll(NULL, 0, 50);
	}
	testutil_expect_str(
	    h.peer, "tcpchatd: error: line not completed in time\n");
	ck_assert_uint_ge(clock_now_ms() - start, 400);
	harness_expect_end(&h, "line timeout");
	ck_assert_int_eq(h.rec.nmsgs, 0);
	harness_finish(&h);
}
END_TEST

START_TEST(test_write_to_gone_peer_is_reset)
{
	struct harness h = {0};

	harness_limits(&h);
	harness_start(&h, &framed_cb);
	ck_assert(harness_wait(&h, rec_is_opened, 0, 5000));
	/* The peer stops reading for good: the next write fails. */
	ck_assert_int_eq(shutdown(h.peer, SHUT_RD), 0);
	ck_assert_int_eq(
	    session_send(h.s, "into the void\n", 14), SESSION_SENT);
	harness_expect_end(&h, "reset");
	harness_finish(&h);
}
END_TEST

/* ---- half-close, telnet, dialect ---------------------------------------- */

#define FINISH_NOTICE "tcpchatd: end of your input: still listening\n"

/* Limits of a chat-like session: half-close, telnet, a short probe. */
static void
harness_chat_limits(struct harness *h)
{
	harness_limits(h);
	h->limits.half_close = 1;
	h->limits.telnet = 1;
	h->limits.finish_notice = FINISH_NOTICE;
	h->limits.finish_probe_ms = 300;
}

START_TEST(test_half_close_keeps_a_listener)
{
	struct harness h = {0};

	harness_chat_limits(&h);
	h.tcp = _i;
	harness_start(&h, &framed_cb);
	ck_assert(harness_wait(&h, rec_is_opened, 0, 5000));
	/* Its last words, unterminated, then the end of its input. */
	testutil_send_str(h.peer, "last words");
	ck_assert_int_eq(shutdown(h.peer, SHUT_WR), 0);
	expect_msg(&h, 0, "last words");
	testutil_expect_str(h.peer, FINISH_NOTICE);
	ck_assert_msg(harness_wait(&h, rec_has_finished, 0, 5000),
	    "the finished callback never came");
	/* Still served: what it is sent arrives, several times over. */
	for (int i = 0; i < 5; i++) {
		ck_assert_int_eq(
		    session_send(h.s, "still there\n", 12), SESSION_SENT);
		testutil_expect_str(h.peer, "still there\n");
	}
	pthread_mutex_lock(&h.rec.lock);
	ck_assert(!h.rec.closed);
	ck_assert_int_eq(h.rec.finished, 1);
	pthread_mutex_unlock(&h.rec.lock);
	/* It ends when the client closes: at the next write at the latest. */
	close(h.peer);
	h.peer = -1;
	(void)session_send(h.s, "into the void\n", 14);
	harness_expect_end(&h, "closed");
	session_unref(h.s);
}
END_TEST

START_TEST(test_closed_peer_seen_gone)
{
	struct harness h = {0};

	harness_chat_limits(&h);
	h.limits.finish_probe_ms = 2000;
	h.tcp = _i;
	harness_start(&h, &framed_cb);
	ck_assert(harness_wait(&h, rec_is_opened, 0, 5000));
	testutil_send_str(h.peer, "bye\n");
	expect_msg(&h, 0, "bye");
	/* A full close: it looks like a half-close until the notice. */
	uint64_t start = clock_now_ms();
	close(h.peer);
	h.peer = -1;
	harness_expect_end(&h, "closed");
	uint64_t took = clock_now_ms() - start;
	fprintf(stderr,
	    "check_session: a closed %s peer was seen gone in %llu ms\n",
	    _i ? "TCP" : "socketpair", (unsigned long long)took);
	/* Well within the probe time: it never counted as listening. */
	ck_assert_uint_lt(took, (uint64_t)testutil_wait_ms(1000));
	ck_assert_int_eq(h.rec.finished, 0);
	session_unref(h.s);
}
END_TEST

/*
 * A peer that ends its input, reads what comes for a while and then
 * closes with nothing unread (openssl s_client, socat) sends no reset
 * by itself: the notice's last byte, a second after the end of input,
 * finds it gone.
 */
START_TEST(test_reader_then_close_seen_gone)
{
	struct harness h = {0};
	char got[64];

	harness_chat_limits(&h);
	h.tcp = 1;
	harness_start(&h, &framed_cb);
	ck_assert(harness_wait(&h, rec_is_opened, 0, 5000));
	uint64_t start = clock_now_ms();
	ck_assert_int_eq(shutdown(h.peer, SHUT_WR), 0);
	/* All but the last two bytes at once, the next a moment later. */
	size_t n = testutil_read_exact(
	    h.peer, got, sizeof(FINISH_NOTICE) - 2, testutil_wait_ms(5000));
	ck_assert_uint_eq(n, sizeof(FINISH_NOTICE) - 2);
	ck_assert(memcmp(got, FINISH_NOTICE, n) == 0);
	close(h.peer);
	h.peer = -1;
	harness_expect_end(&h, "closed");
	uint64_t took = clock_now_ms() - start;
	fprintf(stderr,
	    "check_session: a peer that read, then closed, was seen gone in "
	    "%llu ms\n",
	    (unsigned long long)took);
	ck_assert_uint_lt(took, (uint64_t)testutil_wait_ms(1500));
	ck_assert_int_eq(h.rec.finished, 0);
	session_unref(h.s);
}
END_TEST

START_TEST(test_idle_listener_times_out)
{
	struct harness h = {0};

	harness_chat_limits(&h);
	/* Past the notice's second and the probe: a listener, then idle. */
	h.limits.idle_timeout_ms = 2500;
	harness_start(&h, &framed_cb);
	ck_assert_int_eq(shutdown(h.peer, SHUT_WR), 0);
	testutil_expect_str(h.peer, FINISH_NOTICE);
	testutil_expect_str(h.peer, "tcpchatd: idle timeout, closing\n");
	harness_expect_end(&h, "idle timeout");
	ck_assert_int_eq(h.rec.finished, 1);
	harness_finish(&h);
}
END_TEST

START_TEST(test_telnet_filtered_before_framing)
{
	struct harness h = {0};

	harness_chat_limits(&h);
	harness_start(&h, &framed_cb);
	/* Ctrl-C in telnet, in the middle of a line, and a 0xFF quoted. */
	testutil_send_str(h.peer, "he\xff\xf4\xff\xfd\x06llo\r\n");
	expect_msg(&h, 0, "hello");
	testutil_expect_str(h.peer, "\xff\xfc\x06");
	testutil_send_str(h.peer,
	    "a\xff\xff"
	    "b\xff\xfa\x18\x01xterm\xff\xf0\n");
	expect_msg(&h, 1,
	    "a\xff"
	    "b");
	/* Split anywhere: the same. */
	testutil_send_str(h.peer, "x\xff");
	poll(NULL, 0, 5);
	testutil_send_str(h.peer, "\xf4y\n");
	expect_msg(&h, 2, "xy");
	close(h.peer);
	harness_expect_end(&h, "closed");
	session_unref(h.s);
}
END_TEST

START_TEST(test_echo_stays_byte_exact)
{
	struct harness h = {0};
	static const char bytes[] = "\xff\xf4\xff\xfd\x06\r\0q\n";

	harness_chat_limits(&h); /* not framed: none of it applies */
	harness_start(&h, &raw_cb);
	ck_assert_int_eq(io_write_full(h.peer, bytes, sizeof(bytes) - 1),
	    (ssize_t)sizeof(bytes) - 1);
	char got[sizeof(bytes)];
	ck_assert_uint_eq(testutil_read_exact(h.peer, got, sizeof(bytes) - 1,
	                      testutil_wait_ms(5000)),
	    sizeof(bytes) - 1);
	ck_assert(memcmp(got, bytes, sizeof(bytes) - 1) == 0);
	/* And the end of input still ends it. */
	shutdown(h.peer, SHUT_WR);
	harness_expect_end(&h, "closed");
	harness_finish(&h);
}
END_TEST

START_TEST(test_how_each_message_ended)
{
	struct harness h = {0};

	harness_limits(&h);
	harness_start(&h, &framed_cb);
	testutil_send_str(h.peer, "line\n");
	expect_msg(&h, 0, "line");
	testutil_send_str(h.peer, "paused");
	expect_msg(&h, 1, "paused");
	testutil_send_str(h.peer, "crlf\r\n");
	expect_msg(&h, 2, "crlf");
	testutil_send_str(h.peer, "at the end");
	shutdown(h.peer, SHUT_WR);
	expect_msg(&h, 3, "at the end");
	harness_expect_end(&h, "closed");
	ck_assert_int_eq(h.rec.unterminated[0], 0);
	ck_assert_int_eq(h.rec.unterminated[1], 1);
	ck_assert_int_eq(h.rec.unterminated[2], 0);
	ck_assert_int_eq(h.rec.unterminated[3], 1);
	harness_finish(&h);
}
END_TEST

/*
 * session_pause_input: what was read already is handed on at once, then
 * nothing is read until the pause is over; a line that arrived in two
 * pieces meanwhile is still one message, and writes go on.
 */
START_TEST(test_pause_input)
{
	struct harness h = {0};

	harness_limits(&h);
	harness_start(&h, &framed_cb);
	ck_assert(harness_wait(&h, rec_is_opened, 0, 5000));
	uint64_t t0 = clock_now_ms();
	testutil_send_str(h.peer, "pause\nsame read\n");
	expect_msg(&h, 0, "pause");
	expect_msg(&h, 1, "same read");
	testutil_send_str(h.peer, "ha");
	poll(NULL, 0, 100); /* longer than flush_ms: a pause in the line */
	testutil_send_str(h.peer, "lf\n");
	/* Writes are not paused. */
	ck_assert_int_eq(session_send(h.s, "out\n", 4), SESSION_SENT);
	testutil_expect_str(h.peer, "out\n");
	expect_msg(&h, 2, "half");
	uint64_t took = clock_now_ms() - t0;
	ck_assert_msg(took >= SESSION_TEST_PAUSE_MS - 20,
	    "read again after %llu ms", (unsigned long long)took);
	ck_assert_int_eq(h.rec.nmsgs, 3);
	testutil_send_str(h.peer, "stop\n");
	harness_expect_end(&h, "asked to stop");
	harness_finish(&h);
}
END_TEST

static Suite *
session_suite(void)
{
	Suite *s = suite_create("session");
	TCase *tc;

	tc = tcase_create("framing");
	tcase_add_test(tc, test_frames_lines_and_pauses);
	tcase_add_test(tc, test_callback_ends_session);
	tcase_add_test(tc, test_line_too_long);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);

	tc = tcase_create("output");
	tcase_add_test(tc, test_send_wakes_and_delivers);
	tcase_add_test(tc, test_raw_echo_exact);
	tcase_add_test(tc, test_queue_limit_drops_slow_reader);
	tcase_add_test(tc, test_direct_sends_batched_in_order);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tc = tcase_create("deadlines");
	tcase_add_test(tc, test_idle_timeout);
	tcase_add_test(tc, test_line_timeout);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);

	tc = tcase_create("close reasons");
	tcase_add_test(tc, test_write_to_gone_peer_is_reset);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);

	/* Each of these twice: over a socketpair (0) and over TCP (1). */
	tc = tcase_create("half-close");
	tcase_add_loop_test(tc, test_half_close_keeps_a_listener, 0, 2);
	tcase_add_loop_test(tc, test_closed_peer_seen_gone, 0, 2);
	tcase_add_test(tc, test_idle_listener_times_out);
	tcase_add_test(tc, test_reader_then_close_seen_gone);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);

	tc = tcase_create("input");
	tcase_add_test(tc, test_telnet_filtered_before_framing);
	tcase_add_test(tc, test_echo_stays_byte_exact);
	tcase_add_test(tc, test_how_each_message_ended);
	tcase_add_test(tc, test_pause_input);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(session_suite());
	int failed;

	signal(SIGPIPE, SIG_IGN);
	/* Before any thread: the wake-up signal blocked in all of them. */
	session_signals_init();
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
