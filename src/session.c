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

#include <sys/uio.h>
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
#include "telnet.h"

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
 * The end-of-input notice goes out in three writes: all but its last
 * two bytes at once, then one byte this long after the end of input,
 * and the last one at SESSION_NOTICE_LAST_MS.  A peer that closed
 * completely answers the first with a reset; one that reads a while
 * and then closes with nothing unread (openssl s_client, socat after
 * its -t half a second) gives no reset until a later write finds it
 * gone: so a client that leaves within a second of ending its input is
 * never taken for a listener.
 */
#define SESSION_NOTICE_NEXT_MS 100
#define SESSION_NOTICE_LAST_MS 1000
/* Input goes through the telnet filter this much at a time. */
#define SESSION_TELNET_CHUNK 128

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
	s->limits = limits;
	s->cb = cb;
	s->ctx = ctx;
	atomic_init(&s->refs, 1);
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->written, NULL);
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
	pthread_cond_destroy(&s->written);
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
	/* Echoed bytes and telnet's or the notice's are not messages. */
	if (!counted)
		return;
	s->msgs_out++;
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
 * The writer role.  At most one thread at a time writes a session's
 * queue to its transport: the one that set s->writing (under s->lock).
 * A relaying thread that finds the queue empty and nobody writing takes
 * the role and writes its line straight out, no queue entry, no wake-up;
 * lines other threads append meanwhile are written by it too, several
 * in one writev.  So a client many talk to gets batches, not a system
 * call per line.  When the transport is full the role is given back and
 * the session's own thread is woken to wait for room.  Appending never
 * writes, and only the writer removes entries: those it has in hand
 * stay valid without the lock.
 */

/* Batches are written this long after their first line at most. */
#define SESSION_BATCH_NS 4000000u

/* Entries written in one go (and kept by session_drop: see there). */
#define SESSION_IOV 64

/*
 * Takes the written bytes off the head of the queue, counting them;
 * called with s->lock held.  Returns the entries done with, to free.
 */
static struct session_msg *
session_consume_locked(struct session *s, size_t done)
{
	struct session_msg *freed = NULL, **tail = &freed;

	s->queued_bytes -= done;
	while (done > 0) {
		struct session_msg *m = s->head;
		size_t rest = m->buf->len - m->off;
		if (done < rest) {
			m->off += done;
			break;
		}
		done -= rest;
		s->head = m->next;
		if (s->head == NULL)
			s->tail = NULL;
		s->queued_msgs--;
		session_count_msg_locked(s, m->counted);
		m->next = NULL;
		*tail = m;
		tail = &m->next;
	}
	return freed;
}

/*
 * As the writer, writes what is queued until the queue is empty (1),
 * the transport is full (0) or it failed (-1, errno set).  Called with
 * s->lock held and s->writing set; the lock is dropped around writes.
 */
static int
session_flush_locked(struct session *s)
{
	struct iovec iov[SESSION_IOV];

	for (;;) {
		int n = 0;
		for (struct session_msg *m = s->head;
		     m != NULL && n < SESSION_IOV; m = m->next, n++)
			iov[n] = (struct iovec){
			    m->buf->data + m->off, m->buf->len - m->off};
		if (n == 0)
			return 1;
		pthread_mutex_unlock(&s->lock);
		ssize_t w = transport_sendv(&s->transport, iov, n);
		int err = errno;
		pthread_mutex_lock(&s->lock);
		if (w == -1) {
			errno = err;
			return -1;
		}
		if (w == 0)
			return 0;
		session_count_out(s, (size_t)w);
		struct session_msg *freed =
		    session_consume_locked(s, (size_t)w);
		pthread_mutex_unlock(&s->lock);
		session_free_msgs(freed);
		pthread_mutex_lock(&s->lock);
	}
}

/*
 * Gives the writer role back after a flush that returned rc: a full
 * transport wakes the session's thread to wait for room, a failed one
 * ends the session.  Called with s->lock held.
 */
static void
session_release_locked(struct session *s, int rc, int err)
{
	s->writing = 0;
	pthread_cond_broadcast(&s->written);
	if (rc == -1 && !s->closing) {
		s->closing = 1;
		s->close_reason = session_error_reason(err);
	}
	/* Full: the session's thread waits for room and writes then. */
	s->blocked = rc == 0;
	if (rc != 1 || s->closing)
		session_wake_locked(s);
}

struct session_flusher {
	pthread_t thread;
	int started;
	pthread_mutex_t lock; /* guards everything below */
	pthread_cond_t pushed;
	struct session *head; /* sessions with lines to write (referenced) */
	int stopping;
};

struct session_flusher *
session_flusher_new(void)
{
	struct session_flusher *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return NULL;
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->pushed, NULL);
	return f;
}

/* Puts s on the flusher's list; called with s->lock held. */
static void
session_flusher_push_locked(struct session_flusher *f, struct session *s)
{
	if (s->flush_pending)
		return;
	s->flush_pending = 1;
	session_ref(s);
	pthread_mutex_lock(&f->lock);
	s->flush_next = f->head;
	if (f->head == NULL)
		pthread_cond_signal(&f->pushed);
	f->head = s;
	pthread_mutex_unlock(&f->lock);
}

/* Writes what the flusher found queued for s, as the writer. */
static void
session_flusher_write(struct session *s)
{
	pthread_mutex_lock(&s->lock);
	s->flush_pending = 0;
	if (s->state != SESSION_GONE && !s->writing && !s->blocked &&
	    s->head != NULL) {
		s->writing = 1;
		int rc = session_flush_locked(s);
		session_release_locked(s, rc, errno);
	}
	pthread_mutex_unlock(&s->lock);
}

static void *
session_flusher_main(void *arg)
{
	struct session_flusher *f = arg;
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	pthread_mutex_lock(&f->lock);
	for (;;) {
		while (f->head == NULL && !f->stopping)
			pthread_cond_wait(&f->pushed, &f->lock);
		if (f->head == NULL)
			break;
		struct session *list = f->head;
		f->head = NULL;
		pthread_mutex_unlock(&f->lock);
		uint64_t started = clock_now_ns();
		while (list != NULL) {
			struct session *s = list;
			list = s->flush_next;
			session_flusher_write(s);
			session_unref(s);
		}
		/* Lines pushed meanwhile wait for the next window. */
		uint64_t spent = clock_now_ns() - started;
		if (spent < SESSION_BATCH_NS) {
			struct timespec ts = {
			    0, (long)(SESSION_BATCH_NS - spent)};
			nanosleep(&ts, NULL);
		}
		pthread_mutex_lock(&f->lock);
	}
	pthread_mutex_unlock(&f->lock);
	return NULL;
}

int
session_flusher_start(struct session_flusher *f)
{
	int rc = pthread_create(&f->thread, NULL, session_flusher_main, f);

	if (rc == 0)
		f->started = 1;
	return rc;
}

void
session_flusher_stop(struct session_flusher *f)
{
	if (f == NULL || !f->started)
		return;
	pthread_mutex_lock(&f->lock);
	f->stopping = 1;
	pthread_cond_signal(&f->pushed);
	pthread_mutex_unlock(&f->lock);
	pthread_join(f->thread, NULL);
	f->started = 0;
}

void
session_flusher_free(struct session_flusher *f)
{
	if (f == NULL)
		return;
	pthread_cond_destroy(&f->pushed);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

/*
 * Nothing queued and nobody writing: takes the writer role and sends b
 * straight out, then whatever was appended meanwhile.  Called with
 * s->lock held.  Returns a session_send result.
 */
static int
session_send_direct_locked(struct session *s, struct msgbuf *b, int counted)
{
	s->writing = 1;
	s->last_direct_ns = clock_now_ns();
	pthread_mutex_unlock(&s->lock);
	ssize_t n = transport_send(&s->transport, b->data, b->len);
	int err = errno, rc = 1;
	pthread_mutex_lock(&s->lock);
	if (n == -1) {
		session_release_locked(s, -1, err);
		return SESSION_GONE_ERR;
	}
	session_count_out(s, (size_t)n);
	if ((size_t)n == b->len) {
		session_count_msg_locked(s, counted);
	} else {
		/* The rest goes first: others may have appended since. */
		struct session_msg *m = session_msg_new(b, (size_t)n, counted);
		if (m == NULL) {
			/* Half a line went: the client cannot be served. */
			session_release_locked(s, -1, ENOMEM);
			return SESSION_FULL;
		}
		m->next = s->head;
		s->head = m;
		if (s->tail == NULL)
			s->tail = m;
		s->queued_bytes += b->len - (size_t)n;
		s->queued_msgs++;
		rc = 0;
	}
	if (rc == 1 && s->head != NULL)
		rc = session_flush_locked(s);
	session_release_locked(s, rc, errno);
	return SESSION_SENT;
}

/*
 * Whether other threads may write to the transport: direct sends are
 * allowed and the session's thread runs.  Until then lines are queued
 * for that thread, so a client turned away after registering (its thread
 * could not start) is never written a word of what others said.  Called
 * with s->lock held.
 */
static int
session_direct_locked(const struct session *s)
{
	/* The state first: direct is written by session_start unlocked,
	 * before the thread runs and sets the state. */
	return s->state == SESSION_RUNNING && s->direct;
}

/* Whether the last direct write is a batch window ago (s->lock held). */
static int
session_window_passed(const struct session *s)
{
	return clock_now_ns() - s->last_direct_ns >= SESSION_BATCH_NS;
}

/*
 * session_send_buf, for a message (counted) or for bytes that are not
 * one (telnet's answers).
 */
static int
session_queue_buf(struct session *s, struct msgbuf *b, int counted)
{
	struct session_msg *m = NULL;
	int rc = SESSION_SENT;

	pthread_mutex_lock(&s->lock);
	if (s->state == SESSION_GONE || s->closing) {
		rc = SESSION_GONE_ERR;
	} else if (session_direct_locked(s) && s->head == NULL && !s->writing &&
	    (s->limits->flusher == NULL || session_window_passed(s))) {
		rc = session_send_direct_locked(s, b, counted);
	} else if (s->queued_bytes + b->len > s->limits->max_queue ||
	    (m = session_msg_new(b, 0, counted)) == NULL) {
		/* It stopped reading: drop it rather than wait for it. */
		s->closing = 1;
		s->close_reason = m == NULL &&
		        s->queued_bytes + b->len <= s->limits->max_queue
		    ? "out of memory"
		    : "too slow (outbound queue full)";
		session_wake_locked(s);
		rc = SESSION_FULL;
	} else {
		/*
		 * A writer takes it along; else the flusher (the client was
		 * written to within the batch window: its lines go out
		 * together) or, when the transport is full or not to be
		 * shared, the session's own thread.
		 */
		session_append_locked(s, m);
		if (s->writing)
			;
		else if (session_direct_locked(s) && !s->blocked &&
		    s->limits->flusher)
			session_flusher_push_locked(s->limits->flusher, s);
		else
			session_wake_locked(s);
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int
session_send_buf(struct session *s, struct msgbuf *b)
{
	return session_queue_buf(s, b, 1);
}

/* session_send, counted as a message or not. */
static int
session_send_bytes(struct session *s, const char *data, size_t len, int counted)
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
	rc = session_queue_buf(s, b, counted);
	msgbuf_unref(b);
	return rc;
}

int
session_send(struct session *s, const char *data, size_t len)
{
	return session_send_bytes(s, data, len, 1);
}

/*
 * How many queued messages session_drop keeps: at least what a writer
 * may hold in hand, and the first few are the report's excerpts.
 */
#define SESSION_DROP_KEEP SESSION_IOV

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
		} else if (notice != NULL && s->head == NULL && !s->writing &&
		    s->state == SESSION_RUNNING &&
		    pthread_equal(s->thread, pthread_self())) {
			/*
			 * No memory to queue it: the session's own thread,
			 * with nothing queued, says it straight out (what
			 * the socket takes), rather than close in silence.
			 */
			(void)transport_send(
			    &s->transport, notice, strlen(notice));
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

/*
 * The session's own thread writes what is queued, as the writer.
 * Returns 0 (written, full, or someone else is writing), or -1 with
 * errno set when the connection failed.
 */
static int
session_write_queued(struct session *s)
{
	int rc = 1, err = 0;

	pthread_mutex_lock(&s->lock);
	if (!s->writing && s->head != NULL) {
		s->writing = 1;
		rc = session_flush_locked(s);
		err = errno;
		s->writing = 0;
		s->blocked = rc == 0;
		pthread_cond_broadcast(&s->written);
	}
	pthread_mutex_unlock(&s->lock);
	errno = err;
	return rc == -1 ? -1 : 0;
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
	s->reply_queued = 1;
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
	struct telnet telnet; /* limits->telnet: its commands taken out */
	int framed; /* messages go to cb->message, else bytes to data */
	int blocking; /* unframed: waits in a blocking receive */
	int input_ended; /* half_close: the client is done sending */
	int finished_told; /* cb->finished was called */
	uint64_t probe_end; /* input_ended: when to call it */
	uint64_t ended_at; /* input_ended: when */
	uint64_t tail_at; /* when the next of the notice's bytes goes */
	size_t tail_left; /* the notice's bytes not yet sent */
	uint64_t last_rx; /* when bytes last arrived */
	uint64_t line_start; /* when the unfinished line began, or 0 */
	char *buf; /* small, or big once allocated */
	size_t cap; /* bytes buf holds */
	char *big; /* the heap buffer, or NULL */
	char small[SESSION_READ_SMALL];
};

/*
 * One message to the owner, counted; unterminated: it ended with no
 * newline.  NULL, or why the session ends.
 */
static const char *
session_deliver(
    struct session *s, const char *msg, size_t len, int unterminated)
{
	pthread_mutex_lock(&s->lock);
	s->msgs_in++;
	pthread_mutex_unlock(&s->lock);
	s->unterminated = unterminated;
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
		if ((reason = session_deliver(s, msg, msglen, 0)) != NULL)
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
	return session_deliver(s, msg, len, 1);
}

void
session_pause_input(struct session *s, unsigned ms)
{
	s->paused_until = clock_now_ms() + ms;
}

/* Whether reading is paused now (session_pause_input). */
static int
session_paused(const struct session *s)
{
	return s->paused_until != 0 && clock_now_ms() < s->paused_until;
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
	if (r->input_ended && !r->finished_told && r->probe_end < deadline)
		deadline = r->probe_end;
	if (r->tail_left > 0 && r->tail_at < deadline)
		deadline = r->tail_at;
	/* Paused, the input's own deadlines wait for the pause's end. */
	if (session_paused(s))
		deadline = s->paused_until;
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
	else if (r->tail_left > 0 && now >= r->tail_at) {
		const char *notice = l->finish_notice;
		(void)session_send_bytes(
		    s, notice + strlen(notice) - r->tail_left--, 1, 0);
		r->tail_at = r->ended_at + SESSION_NOTICE_LAST_MS;
		if (r->tail_left == 0)
			r->probe_end = now + (uint64_t)l->finish_probe_ms;
	} else if (r->input_ended && !r->finished_told && now >= r->probe_end) {
		/* No reset in all that time: it is listening. */
		r->finished_told = 1;
		if (s->cb->finished != NULL)
			s->cb->finished(s->ctx, s);
	} else if (r->framed)
		reason = session_flush(s, r, 0);
	if (r->framed && framing_pending(&r->framing) == 0)
		r->line_start = 0;
	return reason;
}

static const char *session_take_bytes(
    struct session *s, struct session_reader *r, size_t n);

/*
 * Takes telnet's commands out of r->buf[0..n) and sends its answers.
 * Returns the bytes of data left at the start of r->buf.
 */
static size_t
session_telnet(struct session *s, struct session_reader *r, size_t n)
{
	char reply[TELNET_REPLY_BOUND(SESSION_TELNET_CHUNK)];
	size_t kept = 0, reply_len;

	for (size_t off = 0; off < n; off += SESSION_TELNET_CHUNK) {
		size_t chunk = n - off < SESSION_TELNET_CHUNK
		    ? n - off
		    : SESSION_TELNET_CHUNK;
		size_t m = telnet_filter(
		    &r->telnet, r->buf + off, chunk, reply, &reply_len);
		memmove(r->buf + kept, r->buf + off, m);
		kept += m;
		/* Not a message: telnet's own, uncounted. */
		if (reply_len > 0)
			(void)session_send_bytes(s, reply, reply_len, 0);
	}
	return kept;
}

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
	if (s->limits->telnet)
		n = session_telnet(s, r, n);
	/* A trickle does not move the line's deadline. */
	if (framing_pending(&r->framing) == 0)
		r->line_start = r->last_rx;
	reason = session_feed(s, r, r->buf, n);
	if (framing_pending(&r->framing) == 0)
		r->line_start = 0;
	return reason;
}

/*
 * The client ended its input (half_close): the notice goes out, and if
 * no reset answers it within the probe time, it is listening.  NULL, or
 * why the session ends.
 */
static const char *
session_input_ended(struct session *s, struct session_reader *r)
{
	const struct session_limits *l = s->limits;
	size_t len = l->finish_notice != NULL ? strlen(l->finish_notice) : 0;
	uint64_t now = clock_now_ms();

	r->input_ended = 1;
	r->ended_at = now;
	r->probe_end = now + (uint64_t)l->finish_probe_ms;
	if (len == 0)
		return NULL;
	if (len > 2) {
		/* The last two bytes later, one at a time (see above). */
		r->tail_left = 2;
		r->tail_at = now + SESSION_NOTICE_NEXT_MS;
		r->probe_end = UINT64_MAX; /* set once they have gone */
		len -= 2;
	}
	if (session_send_bytes(s, l->finish_notice, len, 0) == SESSION_FULL)
		return "out of memory";
	return NULL;
}

/* The transport is readable.  NULL, or why the session ends. */
static const char *
session_on_readable(struct session *s, struct session_reader *r)
{
	ssize_t n = transport_recv(&s->transport, r->buf, r->cap);

	if (n == 0) {
		/* The peer closed: what it sent last still counts. */
		const char *reason = r->framed ? session_flush(s, r, 1) : NULL;
		if (reason != NULL)
			return reason;
		return r->framed && s->limits->half_close
		    ? session_input_ended(s, r)
		    : "closed";
	}
	if (n == -1) {
		int err = errno;
		if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR)
			return NULL;
		/* A reset too: what arrived before it still counts. */
		const char *reason = r->framed ? session_flush(s, r, 1) : NULL;
		return reason != NULL ? reason : session_error_reason(err);
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
	s->reply_queued = 0;
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
	/* Done sending: a reset or an error is all there is to hear. */
	if (r->input_ended)
		events &= (short)~POLLIN;
	int paused = session_paused(s);
	if (paused)
		events &= (short)~POLLIN;
	else if (s->paused_until != 0) {
		/* The pause is over: its time counts as no silence. */
		s->paused_until = 0;
		r->last_rx = clock_now_ms();
	}
	int rc =
	    transport_pending(&s->transport) > 0 && !r->input_ended && !paused
	    ? POLLIN
	    : session_wait(s, events, session_next_deadline(s, r), waitmask);
	if (rc == -1)
		return errno == EINTR ? NULL : "poll failed";
	if (rc == 0)
		/* A pause's end is no deadline of the input's. */
		return paused ? NULL : session_on_timeout(s, r);
	if ((rc & (POLLOUT | POLLERR | POLLHUP)) && has_out &&
	    session_write_queued(s) == -1)
		return session_error_reason(errno);
	if (r->input_ended)
		return rc & (POLLERR | POLLHUP) ? "closed" : NULL;
	if (paused)
		return rc & POLLERR ? "closed" : NULL;
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
	r.input_ended = r.finished_told = 0;
	r.probe_end = r.tail_at = r.ended_at = 0;
	r.tail_left = 0;
	telnet_init(&r.telnet);
	framing_init(&r.framing, s->limits->max_line);
	has_out = 0;
	while (reason == NULL) {
		/*
		 * Waiting in a blocking receive with nothing queued, and
		 * nobody has asked for anything since (every request comes
		 * with a wake-up): the state needs no look under the lock.
		 */
		if (r.blocking && !has_out && !s->reply_queued &&
		    !atomic_load(&s->wake_pending)) {
			reason = session_turn_blocking(s, &r);
			continue;
		}
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
	/* Done sending, then a reset: what a peer that closed does. */
	if (r.input_ended && reason != NULL && strcmp(reason, "reset") == 0)
		reason = "closed";
	return reason;
}

/*
 * The transport's handshake (TLS), within limits->handshake_timeout_ms,
 * on this thread alone: a slow or hostile one holds up nobody else.
 * NULL when done, or why the session ends.
 */
static const char *
session_handshake(struct session *s, const sigset_t *waitmask)
{
	const struct session_limits *l = s->limits;
	struct transport *t = &s->transport;
	uint64_t deadline = l->handshake_timeout_ms
	    ? clock_now_ms() + (uint64_t)l->handshake_timeout_ms
	    : UINT64_MAX;
	char err[160];
	int has_out;

	if (t->ops->handshake == NULL)
		return NULL;
	for (;;) {
		if (session_take_state(s, &has_out)) {
			pthread_mutex_lock(&s->lock);
			const char *reason = s->close_reason;
			pthread_mutex_unlock(&s->lock);
			return reason;
		}
		short events = POLLIN;
		int rc = t->ops->handshake(t, &events, err, sizeof(err));
		if (rc == 1)
			return NULL;
		if (rc == 0) {
			rc = session_wait(s, events, deadline, waitmask);
			if (rc == -1 && errno != EINTR)
				snprintf(
				    err, sizeof(err), "%s", strerror(errno));
			else if (rc != 0)
				continue;
			else
				snprintf(err, sizeof(err), "timed out");
		}
		snprintf(s->failure, sizeof(s->failure),
		    "%s handshake failed: %s", t->ops->name, err);
		return s->failure;
	}
}

const char *
session_transport_name(struct session *s)
{
	struct transport *t = &s->transport;

	return t->ops->describe != NULL ? t->ops->describe(t) : NULL;
}

/*
 * One finished thread, queued to be joined.  Allocated when the thread
 * is started and freed by whoever joins it: never on the thread's own
 * stack, whose frames are dead once the thread function returns (the
 * thread's exit, and ASan's fake stacks, reuse them before the join).
 */
struct session_ended {
	pthread_t thread;
	struct session_ended *next;
};

/* Joins the threads of list e, counting each gone. */
static void
session_join_all(struct session_totals *totals, struct session_ended *e)
{
	while (e != NULL) {
		struct session_ended *next = e->next;
		pthread_join(e->thread, NULL);
		free(e);
		atomic_fetch_sub(&totals->threads, 1);
		e = next;
	}
}

void
session_reap(struct session_totals *totals)
{
	session_join_all(totals, atomic_exchange(&totals->ended, NULL));
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

	const char *reason = session_handshake(s, &waitmask);
	if (reason == NULL) {
		s->opened = 1;
		s->cb->opened(s->ctx, s);
		reason = session_serve(s, &waitmask);
	}

	pthread_mutex_lock(&s->lock);
	s->state = SESSION_GONE;
	/* A relaying thread may still be writing: it is over in a moment. */
	while (s->writing)
		pthread_cond_wait(&s->written, &s->lock);
	struct session_msg *undelivered = s->head;
	size_t lost = s->queued_msgs + s->dropped_msgs;
	s->head = s->tail = NULL;
	s->queued_bytes = s->queued_msgs = 0;
	pthread_mutex_unlock(&s->lock);
	transport_close(&s->transport);

	s->cb->closed(s->ctx, s, reason, undelivered, lost);
	session_free_msgs(undelivered);
	int joinable = s->joinable;
	struct session_ended *me = s->ended;
	session_unref(s);
	if (!joinable) {
		/* The last touch of shared state: the server may go after. */
		atomic_fetch_sub(&totals->threads, 1);
		return NULL;
	}
	/*
	 * Still counted until joined: queued to be joined (by the next
	 * thread to end, or the owner), it joins those that ended before.
	 */
	me->thread = pthread_self();
	struct session_ended *before = atomic_exchange(&totals->ended, NULL);
	me->next = atomic_load(&totals->ended);
	while (!atomic_compare_exchange_weak(&totals->ended, &me->next, me))
		;
	/* Joinable at once; whoever joins it waits for these too. */
	session_join_all(totals, before);
	return NULL;
}

int
session_start(struct session *s, const pthread_attr_t *attr)
{
	struct session_totals *totals = s->limits->totals;
	pthread_t thread;

	/* The transport is final now (TLS replaces the plain one). */
	s->direct = s->limits->direct_send && s->transport.ops->concurrent_send;
	int detached = PTHREAD_CREATE_DETACHED;
	pthread_attr_getdetachstate(attr, &detached);
	s->joinable = detached == PTHREAD_CREATE_JOINABLE;
	s->ended = NULL;
	if (s->joinable && (s->ended = calloc(1, sizeof(*s->ended))) == NULL)
		return ENOMEM;
	atomic_fetch_add(&totals->threads, 1);
	int rc = pthread_create(&thread, attr, session_thread, s);
	if (rc != 0) {
		atomic_fetch_sub(&totals->threads, 1);
		free(s->ended);
		s->ended = NULL;
	}
	return rc;
}
