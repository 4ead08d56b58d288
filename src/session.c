/*
 * session.c - one client connection, served by its own detached thread.
 *
 * The thread waits in ppoll() on its socket with the wake-up signal
 * unblocked only there: another thread that queues a message for it
 * sends that signal with pthread_kill(), so a session needs no
 * descriptor beyond its socket and a wake-up is never lost (a signal
 * sent while the thread is busy stays pending until its next ppoll).
 */
#include "config.h"

#include <sys/socket.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "console.h"
#include "escape.h"
#include "framing.h"
#include "registry.h"
#include "server.h"
#include "session.h"

#define SESSION_WAKE_SIGNAL SIGUSR1
/* Read size: small enough for a 64 KiB thread stack. */
#define SESSION_READ_BUF 8192
/* Escaped messages up to this size are rendered on the stack. */
#define SESSION_STACK_ESCAPE 1024
/* Undelivered messages shown to the operator, and how much of each. */
#define SESSION_EXCERPTS 3
#define SESSION_EXCERPT 72
/* After a closing notice, how long to wait for the peer to close. */
#define SESSION_LINGER_MS 1000

static void
session_on_wake(int sig)
{
	(void)sig; /* only here to interrupt ppoll() */
}

void
session_signals_init(void)
{
	struct sigaction sa;
	sigset_t block;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = session_on_wake;
	sigemptyset(&sa.sa_mask);
	sigaction(SESSION_WAKE_SIGNAL, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SESSION_WAKE_SIGNAL);
	pthread_sigmask(SIG_BLOCK, &block, NULL);
}

struct session *
session_new(struct server *srv, int fd, uint64_t id, const char *addr)
{
	struct session *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->id = id;
	s->fd = fd;
	s->server = srv;
	snprintf(s->addr, sizeof(s->addr), "%s", addr);
	s->connected_ms = clock_now_ms();
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

/* Frees queued messages from m on. */
static void
session_free_msgs(struct session_msg *m)
{
	while (m != NULL) {
		struct session_msg *next = m->next;
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
	if (s->state != SESSION_RUNNING || s->wake_pending)
		return;
	s->wake_pending = 1;
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
	s->queued_bytes += m->len;
	s->queued_msgs++;
}

static struct session_msg *
session_msg_new(const char *data, size_t len)
{
	struct session_msg *m = malloc(sizeof(*m) + len);

	if (m == NULL)
		return NULL;
	memcpy(m->data, data, len);
	m->len = len;
	m->off = 0;
	return m;
}

int
session_send(struct session *s, const char *data, size_t len)
{
	struct session_msg *m = session_msg_new(data, len);
	int rc = SESSION_SENT;

	pthread_mutex_lock(&s->lock);
	if (s->state == SESSION_GONE || s->closing) {
		rc = SESSION_GONE_ERR;
	} else if (m == NULL ||
	    s->queued_bytes + len > s->server->cfg.max_queue) {
		/* It stopped reading: drop it rather than wait for it. */
		s->closing = 1;
		s->close_reason = "too slow (outbound queue full)";
		session_wake_locked(s);
		rc = SESSION_FULL;
	} else {
		session_append_locked(s, m);
		m = NULL; /* transferred */
		session_wake_locked(s);
	}
	pthread_mutex_unlock(&s->lock);
	free(m);
	return rc;
}

void
session_close(struct session *s, const char *notice, const char *reason)
{
	struct session_msg *m =
	    notice ? session_msg_new(notice, strlen(notice)) : NULL;

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
	free(m);
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
 * Writes queued messages until done or the socket is full.  Returns 0,
 * or -1 with errno set when the connection failed.
 */
static int
session_write_queued(struct session *s)
{
	struct server *srv = s->server;

	for (;;) {
		pthread_mutex_lock(&s->lock);
		struct session_msg *m = s->head;
		pthread_mutex_unlock(&s->lock);
		if (m == NULL)
			return 0;
		/* Only this thread removes messages: m stays valid. */
		ssize_t n = send(s->fd, m->data + m->off, m->len - m->off,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n == -1) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			if (errno == EINTR)
				continue;
			return -1;
		}
		m->off += (size_t)n;
		atomic_fetch_add_explicit(
		    &srv->stats.bytes_out, (uint64_t)n, memory_order_relaxed);
		if (m->off < m->len)
			continue;
		pthread_mutex_lock(&s->lock);
		s->head = m->next;
		if (s->head == NULL)
			s->tail = NULL;
		s->queued_bytes -= m->len;
		s->queued_msgs--;
		s->msgs_out++;
		pthread_mutex_unlock(&s->lock);
		free(m);
		if (srv->cfg.mode != SERVER_ECHO)
			atomic_fetch_add_explicit(
			    &srv->stats.msgs_out, 1, memory_order_relaxed);
	}
}

/*
 * Echo mode: sends back what arrived, at once; what the socket cannot
 * take now is queued (and reading pauses until it is written).  Called
 * only with the queue empty: in echo mode nobody else queues data, and a
 * closing notice queued meanwhile rightly goes after these bytes.
 */
static int
session_echo(struct session *s, const char *buf, size_t len)
{
	ssize_t n;

	do
		n = send(s->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (n == -1 && errno == EINTR);
	if (n == -1) {
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		n = 0;
	}
	atomic_fetch_add_explicit(
	    &s->server->stats.bytes_out, (uint64_t)n, memory_order_relaxed);
	if ((size_t)n == len)
		return 0;
	struct session_msg *m = session_msg_new(buf + n, len - (size_t)n);
	if (m == NULL)
		return -1;
	pthread_mutex_lock(&s->lock);
	session_append_locked(s, m);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

/* Renders msg escaped into stack (or a malloc'd buffer, to be freed). */
static char *
session_escape(const char *msg, size_t len, char *stack, size_t size)
{
	char *out = stack;

	if (ESCAPE_BOUND(len) > size &&
	    (out = malloc(ESCAPE_BOUND(len))) == NULL)
		return NULL;
	escape_render(out, msg, len);
	return out;
}

/* How session_broadcast chooses and reports. */
enum {
	/* Only to sessions accepted before the sender (ids grow in accept
	 * order): a client that came in later is not told of a join from
	 * before its time. */
	SESSION_EARLIER_ONLY = 1,
	/* A client's message: a recipient leaving meanwhile is reported
	 * as undelivered too (a server notice to it is not). */
	SESSION_REPORT_GONE = 2
};

/*
 * Sends text (ending in LF) to every session but except; what cannot be
 * queued is reported on the console with the start of the text.
 */
static void
session_broadcast(struct session *except, const char *text, size_t len, int how)
{
	struct server *srv = except->server;
	struct session **list;
	size_t n;

	list = registry_snapshot(srv->registry, &n);
	for (size_t i = 0; i < n; i++) {
		if (list[i] == except ||
		    ((how & SESSION_EARLIER_ONLY) && list[i]->id > except->id))
			continue;
		int rc = session_send(list[i], text, len);
		if (rc == SESSION_SENT ||
		    (rc == SESSION_GONE_ERR && !(how & SESSION_REPORT_GONE)))
			continue;
		char excerpt[SESSION_EXCERPT];
		escape_render_bounded(
		    excerpt, sizeof(excerpt), text, len > 0 ? len - 1 : 0);
		console_print(srv->console, "#%llu %s: not delivered (%s): %s",
		    (unsigned long long)list[i]->id, list[i]->addr,
		    rc == SESSION_FULL ? "client too slow, dropping it"
		                       : "client gone",
		    excerpt);
	}
	registry_release(list, n);
}

/*
 * One message from the client (chat and room modes).  Returns NULL, or
 * the reason the session ends.
 */
static const char *
session_on_message(struct session *s, const char *msg, size_t len)
{
	struct server *srv = s->server;
	char stack[SESSION_STACK_ESCAPE], *text;

	pthread_mutex_lock(&s->lock);
	s->msgs_in++;
	pthread_mutex_unlock(&s->lock);
	atomic_fetch_add_explicit(&srv->stats.msgs_in, 1, memory_order_relaxed);
	if (len == 1 && msg[0] == 'q')
		return "quit";
	server_log(srv, s->id, s->addr, "in", msg, len);
	if ((text = session_escape(msg, len, stack, sizeof(stack))) == NULL)
		return "out of memory";
	console_print(srv->console, "#%llu %s: %s", (unsigned long long)s->id,
	    s->addr, text);
	if (srv->cfg.mode == SERVER_ROOM) {
		size_t tlen = strlen(text), need = tlen + 32;
		char lstack[SESSION_STACK_ESCAPE + 32];
		char *line = need <= sizeof(lstack) ? lstack : malloc(need);
		if (line != NULL) {
			int n = snprintf(line, need, "#%llu: %s\n",
			    (unsigned long long)s->id, text);
			session_broadcast(
			    s, line, (size_t)n, SESSION_REPORT_GONE);
			if (line != lstack)
				free(line);
		}
	}
	if (text != stack)
		free(text);
	return NULL;
}

/* Feeds bytes to the assembler.  NULL, or why the session ends. */
static const char *
session_feed(struct session *s, struct framing *f, const char *buf, size_t len)
{
	const char *msg, *reason;
	size_t msglen;
	int rc;

	while ((rc = framing_push(f, &buf, &len, &msg, &msglen)) ==
	    FRAMING_COMPLETE)
		if ((reason = session_on_message(s, msg, msglen)) != NULL)
			return reason;
	if (rc == FRAMING_TOO_LONG) {
		char notice[96];
		snprintf(notice, sizeof(notice),
		    "tcpchatd: error: line too long (max %zu bytes)\n",
		    s->server->cfg.max_line);
		session_close(s, notice, "line too long");
	}
	return NULL;
}

/* Hands on a pending unterminated message.  NULL, or why it ends. */
static const char *
session_flush(struct session *s, struct framing *f, int force)
{
	const char *msg;
	size_t len;

	if (!framing_flush(f, force, &msg, &len))
		return NULL;
	return session_on_message(s, msg, len);
}

/*
 * Closing: writes what is queued (within the drain time), half-closes,
 * and waits briefly for the peer to close so the last bytes are not lost
 * to a reset.
 */
static void
session_linger(struct session *s, const sigset_t *waitmask)
{
	uint64_t deadline = clock_now_ms() + (uint64_t)s->server->cfg.drain_ms;
	struct pollfd pfd = {.fd = s->fd};
	char discard[1024];

	for (;;) {
		if (session_write_queued(s) == -1)
			return;
		pthread_mutex_lock(&s->lock);
		int empty = s->head == NULL;
		pthread_mutex_unlock(&s->lock);
		int left = clock_ms_until(deadline);
		if (empty || left == 0)
			break;
		struct timespec ts = {left / 1000, (left % 1000) * 1000000L};
		pfd.events = POLLOUT;
		if (ppoll(&pfd, 1, &ts, waitmask) == -1 && errno != EINTR)
			return;
	}
	shutdown(s->fd, SHUT_WR);
	deadline = clock_now_ms() + SESSION_LINGER_MS;
	pfd.events = POLLIN;
	for (int left; (left = clock_ms_until(deadline)) > 0;) {
		struct timespec ts = {left / 1000, (left % 1000) * 1000000L};
		int rc = ppoll(&pfd, 1, &ts, waitmask);
		if (rc == -1 && errno == EINTR)
			continue;
		if (rc != 1 ||
		    recv(s->fd, discard, sizeof(discard), MSG_DONTWAIT) <= 0)
			break;
	}
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

/* Serves the connection until it ends.  Returns the reason. */
static const char *
session_serve(struct session *s, const sigset_t *waitmask)
{
	struct server *srv = s->server;
	int echo = srv->cfg.mode == SERVER_ECHO;
	struct framing f;
	uint64_t last_rx = clock_now_ms(), line_start = 0;
	uint64_t idle_ms = (uint64_t)srv->cfg.idle_timeout_s * 1000;
	uint64_t line_ms = (uint64_t)srv->cfg.line_timeout_s * 1000;
	const char *reason = NULL;
	char buf[SESSION_READ_BUF];

	framing_init(&f, srv->cfg.max_line);
	while (reason == NULL) {
		pthread_mutex_lock(&s->lock);
		int closing = s->closing;
		int has_out = s->head != NULL;
		s->wake_pending = 0;
		pthread_mutex_unlock(&s->lock);
		if (closing) {
			session_linger(s, waitmask);
			pthread_mutex_lock(&s->lock);
			reason = s->close_reason;
			pthread_mutex_unlock(&s->lock);
			break;
		}

		struct pollfd pfd = {.fd = s->fd, .events = POLLIN};
		if (has_out)
			pfd.events = echo ? POLLOUT : (POLLIN | POLLOUT);
		/* The nearest of: flush a pause, idle timeout, line deadline.
		 */
		uint64_t deadline = UINT64_MAX;
		int pending = framing_pending(&f) > 0;
		if (pending)
			deadline = last_rx + SERVER_FLUSH_MS;
		if (pending && line_ms && line_start + line_ms < deadline)
			deadline = line_start + line_ms;
		if (idle_ms && last_rx + idle_ms < deadline)
			deadline = last_rx + idle_ms;
		struct timespec ts, *tsp = NULL;
		if (deadline != UINT64_MAX) {
			int left = clock_ms_until(deadline);
			ts.tv_sec = left / 1000;
			ts.tv_nsec = (left % 1000) * 1000000L;
			tsp = &ts;
		}
		int rc = ppoll(&pfd, 1, tsp, waitmask);
		if (rc == -1) {
			if (errno == EINTR)
				continue;
			reason = "poll failed";
			break;
		}
		if (rc == 0) {
			uint64_t now = clock_now_ms();
			if (idle_ms && now >= last_rx + idle_ms)
				session_close(s,
				    "tcpchatd: idle timeout, "
				    "closing\n",
				    "idle timeout");
			else if (pending && line_ms &&
			    now >= line_start + line_ms)
				/* A trickle never completing its line. */
				session_close(s,
				    "tcpchatd: error: line not "
				    "completed in time\n",
				    "line timeout");
			else
				reason = session_flush(s, &f, 0);
			if (framing_pending(&f) == 0)
				line_start = 0;
			continue;
		}
		if ((pfd.revents & (POLLOUT | POLLERR | POLLHUP)) && has_out &&
		    session_write_queued(s) == -1) {
			reason = session_error_reason(errno);
			break;
		}
		if (!(pfd.revents & (POLLIN | POLLERR | POLLHUP)) ||
		    (echo && has_out))
			continue;
		ssize_t n = recv(s->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0) {
			/* The peer closed: what it sent last still counts. */
			reason = session_flush(s, &f, 1);
			if (reason == NULL)
				reason = "closed";
			break;
		}
		if (n == -1) {
			if (errno == EAGAIN || errno == EWOULDBLOCK ||
			    errno == EINTR)
				continue;
			reason = session_error_reason(errno);
			break;
		}
		atomic_fetch_add_explicit(
		    &srv->stats.bytes_in, (uint64_t)n, memory_order_relaxed);
		if (echo) {
			if (idle_ms)
				last_rx = clock_now_ms();
			if (session_echo(s, buf, (size_t)n) == -1)
				reason = session_error_reason(errno);
			continue;
		}
		last_rx = clock_now_ms();
		/* A trickle does not move the line's deadline. */
		if (framing_pending(&f) == 0)
			line_start = last_rx;
		reason = session_feed(s, &f, buf, (size_t)n);
		if (framing_pending(&f) == 0)
			line_start = 0;
	}
	framing_free(&f);
	return reason;
}

/* Tells the console, the transcript and (room mode) the others. */
static void
session_announce(struct session *s, const char *event, int online)
{
	struct server *srv = s->server;
	char line[160];

	server_log(srv, s->id, s->addr, "event", event, strlen(event));
	if (!srv->cfg.quiet)
		console_print(srv->console, "#%llu %s %s (%d online)",
		    (unsigned long long)s->id, s->addr, event, online);
	if (srv->cfg.mode == SERVER_ROOM) {
		int joined = strncmp(event, "connected", 9) == 0;
		int n = snprintf(line, sizeof(line),
		    "tcpchatd: #%llu %s "
		    "(%d online)\n",
		    (unsigned long long)s->id, joined ? "joined" : "left",
		    online);
		/* Clients that came in after it never hear it joined. */
		session_broadcast(
		    s, line, (size_t)n, joined ? SESSION_EARLIER_ONLY : 0);
	}
}

/*
 * Tells the operator what a departed client never got: how many
 * messages, and the first few of them, escaped and cut short.
 */
static void
session_report_undelivered(struct session *s, const struct session_msg *m,
    size_t lost, const char *reason)
{
	struct server *srv = s->server;
	char excerpt[SESSION_EXCERPT];

	atomic_fetch_add_explicit(
	    &srv->stats.undelivered, lost, memory_order_relaxed);
	console_print(srv->console,
	    "#%llu %s: %zu message%s not delivered "
	    "(client gone: %s)",
	    (unsigned long long)s->id, s->addr, lost, lost == 1 ? "" : "s",
	    reason);
	for (int shown = 0; m != NULL && shown < SESSION_EXCERPTS;
	     m = m->next, shown++) {
		size_t len = m->len;
		if (len > 0 && m->data[len - 1] == '\n')
			len--;
		escape_render_bounded(excerpt, sizeof(excerpt), m->data, len);
		console_print(srv->console, "#%llu   not delivered%s: %s",
		    (unsigned long long)s->id, m->off ? " (partly sent)" : "",
		    excerpt);
	}
	if (lost > SESSION_EXCERPTS)
		console_print(srv->console, "#%llu   and %zu more",
		    (unsigned long long)s->id, lost - SESSION_EXCERPTS);
}

void *
session_main(void *arg)
{
	struct session *s = arg;
	struct server *srv = s->server;
	sigset_t waitmask;
	const char *reason;
	char event[128];

	/* The wake-up signal gets through only while waiting in ppoll(). */
	pthread_sigmask(SIG_BLOCK, NULL, &waitmask);
	sigdelset(&waitmask, SESSION_WAKE_SIGNAL);
	pthread_mutex_lock(&s->lock);
	s->thread = pthread_self();
	s->state = SESSION_RUNNING;
	pthread_mutex_unlock(&s->lock);

	session_announce(s, "connected", registry_count(srv->registry));
	reason = session_serve(s, &waitmask);

	pthread_mutex_lock(&s->lock);
	s->state = SESSION_GONE;
	struct session_msg *undelivered = s->head;
	size_t lost = s->queued_msgs;
	s->head = s->tail = NULL;
	s->queued_bytes = s->queued_msgs = 0;
	pthread_mutex_unlock(&s->lock);
	close(s->fd);
	s->fd = -1;

	if (s->counted_per_ip)
		access_counter_put(&srv->per_ip, (struct sockaddr *)&s->peer);
	int online = registry_remove(srv->registry, s);
	if (lost > 0 && srv->cfg.mode != SERVER_ECHO)
		session_report_undelivered(s, undelivered, lost, reason);
	session_free_msgs(undelivered);
	snprintf(event, sizeof(event), "disconnected: %s", reason);
	session_announce(s, event, online);
	session_unref(s);
	/* The last touch of shared state: the server may go after this. */
	atomic_fetch_sub(&srv->threads, 1);
	return NULL;
}
