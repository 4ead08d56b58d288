/*
 * session.c - one client connection, served by its own thread: reading,
 * framing, the outbound queue, deadlines and the wake-up.
 *
 * The thread waits in ppoll() on its socket with the wake-up signal
 * unblocked only there: another thread that queues a message for it
 * sends that signal with pthread_kill(), so a session needs no
 * descriptor beyond its socket and a wake-up is never lost (a signal
 * sent while the thread is busy stays pending until its next ppoll).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "clock.h"
#include "framing.h"
#include "session.h"

/*
 * Reads go to a small buffer on the stack; once a read fills it, a
 * larger one from the heap takes over for that session.  So an idle
 * session, or one trading short lines, touches no more than two pages
 * of its stack (a large buffer would sit between the thread's first
 * frames and the ones that wait), and a bulk sender still reads in
 * large pieces.
 */
#define SESSION_READ_SMALL 1024
#define SESSION_READ_BIG 16384

/*
 * An unframed session with nothing queued waits in a blocking receive
 * (one system call per message, as a bare thread-per-connection loop)
 * rather than in ppoll() then recv().  The wake-up signal is unblocked
 * in such a thread, so it may arrive anywhere: the handler, seeing the
 * thread inside its wait (from just before it looks at wake_pending to
 * the receive's return), turns O_NONBLOCK on, so a receive about to
 * start or restarted (SA_RESTART) returns at once instead of sleeping
 * past the wake-up.  Nothing is lost either way: the receive returns
 * normally, and the thread then looks at its state again.
 */
static __thread volatile sig_atomic_t session_waiting;
static __thread int session_waiting_fd = -1;
static __thread volatile sig_atomic_t session_unblocked;

static void
session_on_wake(int sig)
{
	(void)sig; /* otherwise only here to interrupt ppoll() */
	if (session_waiting && session_waiting_fd >= 0) {
		int saved_errno = errno;
		fcntl(session_waiting_fd, F_SETFL, O_NONBLOCK);
		session_unblocked = 1;
		errno = saved_errno;
	}
}

void
session_signals_init(void)
{
	struct sigaction sa;
	sigset_t block;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = session_on_wake;
	sa.sa_flags = SA_RESTART; /* ppoll() is interrupted regardless */
	sigemptyset(&sa.sa_mask);
	sigaction(SESSION_WAKE_SIGNAL, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SESSION_WAKE_SIGNAL);
	pthread_sigmask(SIG_BLOCK, &block, NULL);
}

struct session *
session_new(int fd, uint64_t id, const struct sockaddr *peer,
    socklen_t peer_len, const struct session_limits *limits,
    const struct session_callbacks *cb, void *ctx)
{
	struct session *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->id = id;
	if (peer_len > sizeof(s->peer))
		peer_len = sizeof(s->peer);
	memcpy(&s->peer, peer, peer_len);
	s->peer_len = peer_len;
	net_format(peer, peer_len, s->addr, sizeof(s->addr));
	s->connected_ms = clock_now_ms();
	transport_plain(&s->transport, fd);
	s->direct = limits->direct_send && s->transport.ops->concurrent_send;
	s->limits = limits;
	s->cb = cb;
	s->ctx = ctx;
	atomic_init(&s->refs, 1);
	pthread_mutex_init(&s->lock, NULL);
	s->state = SESSION_STARTING;
	return s;
}

void
session_ref(struct session *s)
{
	atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
}

/* Frees queued messages from m on, letting go of their bytes. */
static void
session_free_msgs(struct session_msg *m)
{
	while (m != NULL) {
		struct session_msg *next = m->next;
		msgbuf_unref(m->buf);
		free(m);
		m = next;
	}
}

void
session_unref(struct session *s)
{
	if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
		return;
	session_free_msgs(s->head);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* Wakes the session's thread; called with s->lock held. */
static void
session_wake_locked(struct session *s)
{
	if (s->state != SESSION_RUNNING || atomic_load(&s->wake_pending))
		return;
	atomic_store(&s->wake_pending, 1);
	pthread_kill(s->thread, SESSION_WAKE_SIGNAL);
}

/* Appends m to the queue; called with s->lock held. */
static void
session_append_locked(struct session *s, struct session_msg *m)
{
	m->next = NULL;
	if (s->tail)
		s->tail->next = m;
	else
		s->head = m;
	s->tail = m;
	s->queued_bytes += m->buf->len - m->off;
	s->queued_msgs++;
}

/* A queue entry for b from off on (taking a reference), or NULL. */
static struct session_msg *
session_msg_new(struct msgbuf *b, size_t off, int counted)
{
	struct session_msg *m = malloc(sizeof(*m));

	if (m == NULL)
		return NULL;
	msgbuf_ref(b);
	m->next = NULL;
	m->buf = b;
	m->off = off;
	m->counted = counted;
	return m;
}

/* Counts n bytes gone to the client. */
static void
session_count_out(struct session *s, size_t n)
{
	atomic_fetch_add_explicit(
	    &s->limits->totals->bytes_out, (uint64_t)n, memory_order_relaxed);
}

/* Counts one whole message gone; called with s->lock held. */
static void
session_count_msg_locked(struct session *s, int counted)
{
	s->msgs_out++;
	if (counted)
		atomic_fetch_add_explicit(
		    &s->limits->totals->msgs_out, 1, memory_order_relaxed);
}

/* Why a read or write failed, in the console's words. */
static const char *
session_error_reason(int err)
{
	if (err == ECONNRESET || err == EPIPE)
		return "reset";
	if (err == ETIMEDOUT)
		return "timed out";
	return "network error";
}

/*
 * With nothing queued, writes b straight to the transport from the
 * calling thread (under s->lock): no queue entry, no wake-up, no
 * context switch.  What the transport does not take is queued from
 * where it stopped.  Returns a session_send result.
 */
static int
session_send_direct_locked(struct session *s, struct msgbuf *b)
{
	struct session_msg *m;
	ssize_t n = transport_send(&s->transport, b->data, b->len);

	if (n == -1) {
		s->closing = 1;
		s->close_reason = session_error_reason(errno);
		session_wake_locked(s);
		return SESSION_GONE_ERR;
	}
	session_count_out(s, (size_t)n);
	if ((size_t)n == b->len) {
		session_count_msg_locked(s, 1);
		return SESSION_SENT;
	}
	if ((m = session_msg_new(b, (size_t)n, 1)) == NULL) {
		/* Half a line went: the client cannot be served sanely. */
		s->closing = 1;
		s->close_reason = "out of memory";
		session_wake_locked(s);
		return SESSION_FULL;
	}
	session_append_locked(s, m);
	session_wake_locked(s);
	return SESSION_SENT;
}

int
session_send_buf(struct session *s, struct msgbuf *b)
{
	struct session_msg *m = NULL;
	int rc = SESSION_SENT;

	pthread_mutex_lock(&s->lock);
	if (s->state == SESSION_GONE || s->closing) {
		rc = SESSION_GONE_ERR;
	} else if (s->head == NULL && s->direct) {
		rc = session_send_direct_locked(s, b);
	} else if (s->queued_bytes + b->len > s->limits->max_queue ||
	    (m = session_msg_new(b, 0, 1)) == NULL) {
		/* It stopped reading: drop it rather than wait for it. */
		s->closing = 1;
		s->close_reason = "too slow (outbound queue full)";
		session_wake_locked(s);
		rc = SESSION_FULL;
	} else {
		session_append_locked(s, m);
		session_wake_locked(s);
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int
session_send(struct session *s, const char *data, size_t len)
{
	struct msgbuf *b = msgbuf_new(s->limits->budget, data, len);
	int rc;

	if (b == NULL) {
		pthread_mutex_lock(&s->lock);
		if (s->state != SESSION_GONE && !s->closing) {
			s->closing = 1;
			s->close_reason = "out of memory";
			session_wake_locked(s);
		}
		pthread_mutex_unlock(&s->lock);
		return SESSION_FULL;
	}
	rc = session_send_buf(s, b);
	msgbuf_unref(b);
	return rc;
}

/* How many queued messages session_drop keeps for the report. */
#define SESSION_DROP_KEEP 3

size_t
session_drop(struct session *s, const char *reason)
{
	struct session_msg *rest = NULL, *m;
	size_t bytes = 0;

	pthread_mutex_lock(&s->lock);
	if (s->state != SESSION_GONE && !s->closing) {
		bytes = s->queued_bytes;
		m = s->head;
		for (int i = 1; m != NULL && i < SESSION_DROP_KEEP; i++)
			m = m->next;
		if (m != NULL) {
			rest = m->next;
			m->next = NULL;
			s->tail = m;
		}
		for (m = rest; m != NULL; m = m->next) {
			s->queued_bytes -= m->buf->len - m->off;
			s->queued_msgs--;
			s->dropped_msgs++;
		}
		s->closing = 1;
		s->close_reason = reason;
		session_wake_locked(s);
	}
	pthread_mutex_unlock(&s->lock);
	session_free_msgs(rest);
	return bytes;
}

size_t
session_queued(struct session *s)
{
	pthread_mutex_lock(&s->lock);
	size_t n = s->queued_bytes;
	pthread_mutex_unlock(&s->lock);
	return n;
}

void
session_close(struct session *s, const char *notice, const char *reason)
{
	struct msgbuf *b = notice
	    ? msgbuf_new(s->limits->budget, notice, strlen(notice))
	    : NULL;
	struct session_msg *m = b ? session_msg_new(b, 0, 1) : NULL;

	msgbuf_unref(b);
	pthread_mutex_lock(&s->lock);
	if (s->state != SESSION_GONE && !s->closing) {
		if (m != NULL) {
			/* A notice goes out even past the queue limit. */
			session_append_locked(s, m);
			m = NULL; /* transferred */
		}
		s->closing = 1;
		s->close_reason = reason;
		session_wake_locked(s);
	}
	pthread_mutex_unlock(&s->lock);
	session_free_msgs(m);
}

void
session_counts(struct session *s, uint64_t *in, uint64_t *out)
{
	pthread_mutex_lock(&s->lock);
	*in = s->msgs_in;
	*out = s->msgs_out;
	pthread_mutex_unlock(&s->lock);
}

/* Takes the fully written head m off the queue and frees it. */
static void
session_dequeue(struct session *s, struct session_msg *m)
{
	pthread_mutex_lock(&s->lock);
	s->head = m->next;
	if (s->head == NULL)
		s->tail = NULL;
	s->queued_msgs--;
	session_count_msg_locked(s, m->counted);
	pthread_mutex_unlock(&s->lock);
	m->next = NULL;
	session_free_msgs(m);
}

/*
 * Writes queued messages until done or the transport is full.  Returns
 * 0, or -1 with errno set when the connection failed.
 */
static int
session_write_queued(struct session *s)
{
	for (;;) {
		pthread_mutex_lock(&s->lock);
		struct session_msg *m = s->head;
		pthread_mutex_unlock(&s->lock);
		if (m == NULL)
			return 0;
		/*
		 * Only this thread removes messages, and direct senders
		 * write only to an empty queue: m stays valid and nobody
		 * else writes meanwhile.
		 */
		ssize_t n = transport_send(
		    &s->transport, m->buf->data + m->off, m->buf->len - m->off);
		if (n == -1)
			return -1;
		if (n == 0)
			return 0;
		m->off += (size_t)n;
		session_count_out(s, (size_t)n);
		pthread_mutex_lock(&s->lock);
		s->queued_bytes -= (size_t)n;
		pthread_mutex_unlock(&s->lock);
		if (m->off == m->buf->len)
			session_dequeue(s, m);
	}
}

/*
 * Sends at once what the transport takes; the rest is queued (and,
 * unframed, reading pauses until it is written).  Called on the
 * session's thread with the queue empty: a closing notice queued
 * meanwhile rightly goes after these bytes.
 */
int
session_reply(struct session *s, const char *data, size_t len)
{
	ssize_t n = transport_send(&s->transport, data, len);

	if (n == -1) {
		s->reply_error = errno;
		return -1;
	}
	session_count_out(s, (size_t)n);
	if ((size_t)n == len)
		return 0;
	struct msgbuf *b =
	    msgbuf_new(s->limits->budget, data + n, len - (size_t)n);
	struct session_msg *m = b ? session_msg_new(b, 0, 0) : NULL;
	msgbuf_unref(b);
	if (m == NULL) {
		s->reply_error = ENOMEM;
		return -1;
	}
	pthread_mutex_lock(&s->lock);
	session_append_locked(s, m);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

/* ppoll() on the transport until events, the deadline or a wake-up. */
static int
session_wait(struct session *s, short events, uint64_t deadline,
    const sigset_t *waitmask)
{
	struct pollfd pfd = {.fd = s->transport.fd, .events = events};
	struct timespec ts, *tsp = NULL;

	if (deadline != UINT64_MAX) {
		ts = clock_timespec_ms(clock_ms_until(deadline));
		tsp = &ts;
	}
	int rc = ppoll(&pfd, 1, tsp, waitmask);
	return rc == 1 ? pfd.revents : rc;
}

/*
 * Closing: writes what is queued (within the drain time), half-closes,
 * and waits briefly for the peer to close so the last bytes are not lost
 * to a reset.
 */
static void
session_linger(struct session *s, const sigset_t *waitmask)
{
	uint64_t deadline = clock_now_ms() + (uint64_t)s->limits->drain_ms;
	char discard[1024];

	for (;;) {
		if (session_write_queued(s) == -1)
			return;
		pthread_mutex_lock(&s->lock);
		int empty = s->head == NULL;
		pthread_mutex_unlock(&s->lock);
		if (empty || clock_ms_until(deadline) == 0)
			break;
		if (session_wait(s, POLLOUT, deadline, waitmask) == -1 &&
		    errno != EINTR)
			return;
	}
	transport_shutdown(&s->transport);
	deadline = clock_now_ms() + (uint64_t)s->limits->linger_ms;
	while (clock_ms_until(deadline) > 0) {
		int rc = session_wait(s, POLLIN, deadline, waitmask);
		if (rc == -1 && errno == EINTR)
			continue;
		if (rc <= 0 ||
		    transport_recv(&s->transport, discard, sizeof(discard)) <=
		        0)
			break;
	}
}

/* The reading side of a session's loop. */
struct session_reader {
	struct framing framing;
	int framed; /* messages go to cb->message, else bytes to data */
	int blocking; /* unframed: waits in a blocking receive */
	uint64_t last_rx; /* when bytes last arrived */
	uint64_t line_start; /* when the unfinished line began, or 0 */
	char *buf; /* small, or big once allocated */
	size_t cap; /* bytes buf holds */
	char *big; /* the heap buffer, or NULL */
	char small[SESSION_READ_SMALL];
};

/* One message to the owner, counted.  NULL, or why the session ends. */
static const char *
session_deliver(struct session *s, const char *msg, size_t len)
{
	pthread_mutex_lock(&s->lock);
	s->msgs_in++;
	pthread_mutex_unlock(&s->lock);
	return s->cb->message(s->ctx, s, msg, len);
}

/* Feeds bytes to the assembler.  NULL, or why the session ends. */
static const char *
session_feed(
    struct session *s, struct session_reader *r, const char *buf, size_t len)
{
	const char *msg, *reason;
	size_t msglen;
	int rc;

	while ((rc = framing_push(&r->framing, &buf, &len, &msg, &msglen)) ==
	    FRAMING_COMPLETE)
		if ((reason = session_deliver(s, msg, msglen)) != NULL)
			return reason;
	if (rc == FRAMING_TOO_LONG) {
		char notice[96];
		snprintf(notice, sizeof(notice),
		    "tcpchatd: error: line too long (max %zu bytes)\n",
		    s->limits->max_line);
		session_close(s, notice, "line too long");
	}
	return NULL;
}

/* Hands on a pending unterminated message.  NULL, or why it ends. */
static const char *
session_flush(struct session *s, struct session_reader *r, int force)
{
	const char *msg;
	size_t len;

	if (!framing_flush(&r->framing, force, &msg, &len))
		return NULL;
	return session_deliver(s, msg, len);
}

/* The nearest of: a pause to flush, the idle timeout, the line's end. */
static uint64_t
session_next_deadline(const struct session *s, const struct session_reader *r)
{
	const struct session_limits *l = s->limits;
	uint64_t deadline = UINT64_MAX;
	int pending = r->framed && framing_pending(&r->framing) > 0;

	if (pending)
		deadline = r->last_rx + (uint64_t)l->flush_ms;
	if (pending && l->line_timeout_ms &&
	    r->line_start + (uint64_t)l->line_timeout_ms < deadline)
		deadline = r->line_start + (uint64_t)l->line_timeout_ms;
	if (l->idle_timeout_ms &&
	    r->last_rx + (uint64_t)l->idle_timeout_ms < deadline)
		deadline = r->last_rx + (uint64_t)l->idle_timeout_ms;
	return deadline;
}

/* A deadline passed.  NULL, or why the session ends. */
static const char *
session_on_timeout(struct session *s, struct session_reader *r)
{
	const struct session_limits *l = s->limits;
	uint64_t now = clock_now_ms();
	int pending = r->framed && framing_pending(&r->framing) > 0;
	const char *reason = NULL;

	if (l->idle_timeout_ms &&
	    now >= r->last_rx + (uint64_t)l->idle_timeout_ms)
		session_close(
		    s, "tcpchatd: idle timeout, closing\n", "idle timeout");
	else if (pending && l->line_timeout_ms &&
	    now >= r->line_start + (uint64_t)l->line_timeout_ms)
		/* A trickle never completing its line. */
		session_close(s,
		    "tcpchatd: error: line not completed in time\n",
		    "line timeout");
	else if (r->framed)
		reason = session_flush(s, r, 0);
	if (r->framed && framing_pending(&r->framing) == 0)
		r->line_start = 0;
	return reason;
}

static const char *session_take_bytes(
    struct session *s, struct session_reader *r, size_t n);

/* Bytes arrived in r->buf.  NULL, or why the session ends. */
static const char *
session_on_bytes(struct session *s, struct session_reader *r, size_t n)
{
	const char *reason = session_take_bytes(s, r, n);

	/* A full small buffer: more is coming, in larger pieces. */
	if (n == r->cap && r->big == NULL &&
	    (r->big = malloc(SESSION_READ_BIG)) != NULL) {
		r->buf = r->big;
		r->cap = SESSION_READ_BIG;
	}
	return reason;
}

/* Bytes arrived: framed or handed on.  NULL, or why it ends. */
static const char *
session_take_bytes(struct session *s, struct session_reader *r, size_t n)
{
	const char *reason;

	atomic_fetch_add_explicit(
	    &s->limits->totals->bytes_in, (uint64_t)n, memory_order_relaxed);
	if (!r->framed) {
		if (s->limits->idle_timeout_ms)
			r->last_rx = clock_now_ms();
		reason = s->cb->data(s->ctx, s, r->buf, n);
		if (reason == NULL && s->reply_error != 0)
			reason = session_error_reason(s->reply_error);
		return reason;
	}
	r->last_rx = clock_now_ms();
	/* A trickle does not move the line's deadline. */
	if (framing_pending(&r->framing) == 0)
		r->line_start = r->last_rx;
	reason = session_feed(s, r, r->buf, n);
	if (framing_pending(&r->framing) == 0)
		r->line_start = 0;
	return reason;
}

/* The transport is readable.  NULL, or why the session ends. */
static const char *
session_on_readable(struct session *s, struct session_reader *r)
{
	ssize_t n = transport_recv(&s->transport, r->buf, r->cap);

	if (n == 0) {
		/* The peer closed: what it sent last still counts. */
		const char *reason = r->framed ? session_flush(s, r, 1) : NULL;
		return reason != NULL ? reason : "closed";
	}
	if (n == -1) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return NULL;
		return session_error_reason(errno);
	}
	return session_on_bytes(s, r, (size_t)n);
}

/*
 * Looks at what other threads asked for: returns 1 when the session is
 * closing, and tells whether anything is queued.
 */
static int
session_take_state(struct session *s, int *has_out)
{
	pthread_mutex_lock(&s->lock);
	int closing = s->closing;
	*has_out = s->head != NULL;
	atomic_store(&s->wake_pending, 0);
	pthread_mutex_unlock(&s->lock);
	return closing;
}

/*
 * Unframed with nothing queued: one blocking receive (see
 * session_on_wake).  NULL, or why the session ends.
 */
static const char *
session_turn_blocking(struct session *s, struct session_reader *r)
{
	const struct session_limits *l = s->limits;
	ssize_t n = -1;
	int err = EINTR;

	session_waiting = 1;
	if (!atomic_load(&s->wake_pending)) {
		n = transport_recv_wait(&s->transport, r->buf, r->cap);
		err = errno;
	}
	session_waiting = 0;
	if (session_unblocked) {
		session_unblocked = 0;
		fcntl(s->transport.fd, F_SETFL, 0);
	}
	if (n > 0)
		return session_on_bytes(s, r, (size_t)n);
	if (n == 0)
		return "closed";
	if (err != EINTR && err != EAGAIN && err != EWOULDBLOCK)
		return session_error_reason(err);
	/* Woken, or SO_RCVTIMEO ran out: the idle timeout, maybe. */
	if (l->idle_timeout_ms &&
	    clock_now_ms() >= r->last_rx + (uint64_t)l->idle_timeout_ms)
		session_close(
		    s, "tcpchatd: idle timeout, closing\n", "idle timeout");
	return NULL;
}

/* Whether anything is queued now. */
static int
session_has_out(struct session *s)
{
	pthread_mutex_lock(&s->lock);
	int has_out = s->head != NULL;
	pthread_mutex_unlock(&s->lock);
	return has_out;
}

/* One turn of the loop: wait, then write and read.  NULL, or why. */
static const char *
session_turn(struct session *s, struct session_reader *r, int has_out,
    const sigset_t *waitmask)
{
	short events = POLLIN;

	if (r->blocking && !has_out)
		return session_turn_blocking(s, r);
	/*
	 * Woken for something queued: write it before waiting, which
	 * spares a wait (direct senders queue only when the socket was
	 * full, so for them it is not worth a try).
	 */
	if (has_out && !s->direct) {
		if (session_write_queued(s) == -1)
			return session_error_reason(errno);
		has_out = session_has_out(s);
	}

	if (has_out)
		events = r->framed ? (POLLIN | POLLOUT) : POLLOUT;
	int rc = transport_pending(&s->transport) > 0
	    ? POLLIN
	    : session_wait(s, events, session_next_deadline(s, r), waitmask);
	if (rc == -1)
		return errno == EINTR ? NULL : "poll failed";
	if (rc == 0)
		return session_on_timeout(s, r);
	if ((rc & (POLLOUT | POLLERR | POLLHUP)) && has_out &&
	    session_write_queued(s) == -1)
		return session_error_reason(errno);
	/* Unframed, reading waits until what is queued has gone. */
	if (!(rc & (POLLIN | POLLERR | POLLHUP)) || (!r->framed && has_out))
		return NULL;
	return session_on_readable(s, r);
}

/*
 * Sets an unframed session up to wait in a blocking receive: the socket
 * blocking (sends still never block), the idle timeout as SO_RCVTIMEO,
 * the wake-up signal let through.  1 if done, 0 to poll instead.
 */
static int
session_blocking_init(struct session *s)
{
	int fd = s->transport.fd, ms = s->limits->idle_timeout_ms;
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	sigset_t wake;

	if (ms > 0 &&
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1)
		return 0;
	if (fcntl(fd, F_SETFL, 0) == -1)
		return 0;
	session_waiting_fd = fd;
	sigemptyset(&wake);
	sigaddset(&wake, SESSION_WAKE_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &wake, NULL);
	return 1;
}

/* Serves the connection until it ends.  Returns the reason. */
static const char *
session_serve(struct session *s, const sigset_t *waitmask)
{
	/* Not zeroed whole: an idle session never touches its buffer's
	 * stack pages, and thousands of them stay small. */
	struct session_reader r;
	const char *reason = NULL;
	int has_out;

	r.framed = s->cb->message != NULL;
	r.blocking = !r.framed && s->transport.ops->recv_wait != NULL &&
	    session_blocking_init(s);
	r.last_rx = clock_now_ms();
	r.line_start = 0;
	r.buf = r.small;
	r.cap = sizeof(r.small);
	r.big = NULL;
	framing_init(&r.framing, s->limits->max_line);
	while (reason == NULL) {
		if (session_take_state(s, &has_out)) {
			session_linger(s, waitmask);
			pthread_mutex_lock(&s->lock);
			reason = s->close_reason;
			pthread_mutex_unlock(&s->lock);
			break;
		}
		reason = session_turn(s, &r, has_out, waitmask);
	}
	framing_free(&r.framing);
	free(r.big);
	return reason;
}

/* The thread body: serves the connection, reports its end, lets go. */
static void *
session_thread(void *arg)
{
	struct session *s = arg;
	struct session_totals *totals = s->limits->totals;
	sigset_t waitmask;

	/* The wake-up signal gets through only while waiting in ppoll(). */
	pthread_sigmask(SIG_BLOCK, NULL, &waitmask);
	sigdelset(&waitmask, SESSION_WAKE_SIGNAL);
	pthread_mutex_lock(&s->lock);
	s->thread = pthread_self();
	s->state = SESSION_RUNNING;
	pthread_mutex_unlock(&s->lock);

	s->cb->opened(s->ctx, s);
	const char *reason = session_serve(s, &waitmask);

	pthread_mutex_lock(&s->lock);
	s->state = SESSION_GONE;
	struct session_msg *undelivered = s->head;
	size_t lost = s->queued_msgs + s->dropped_msgs;
	s->head = s->tail = NULL;
	s->queued_bytes = s->queued_msgs = 0;
	pthread_mutex_unlock(&s->lock);
	transport_close(&s->transport);

	s->cb->closed(s->ctx, s, reason, undelivered, lost);
	session_free_msgs(undelivered);
	session_unref(s);
	/* The last touch of shared state: the server may go after this. */
	atomic_fetch_sub(&totals->threads, 1);
	return NULL;
}

int
session_start(struct session *s, const pthread_attr_t *attr)
{
	struct session_totals *totals = s->limits->totals;
	pthread_t thread;

	atomic_fetch_add(&totals->threads, 1);
	int rc = pthread_create(&thread, attr, session_thread, s);
	if (rc != 0)
		atomic_fetch_sub(&totals->threads, 1);
	return rc;
}
