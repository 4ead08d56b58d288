/*
 * session.h - one client connection, served by its own thread: the
 * mechanism only.
 *
 * A session knows a transport (the socket, or later TLS over it), a line
 * assembler, a bounded outbound queue, its deadlines and a wake-up.  What
 * a message means is not its business: it hands each one to the
 * callbacks it was created with, as console.c hands lines to a
 * console_line_fn.  It includes nothing from the server's side.
 *
 * A session has a 64-bit id that is never reused and a reference count,
 * so others can hold it while the connection ends.  Only its own thread
 * touches its transport: other threads hand messages to its queue with
 * session_send(), which wakes it.
 */
#ifndef TCPCHAT_SESSION_H
#define TCPCHAT_SESSION_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <sys/socket.h>

#include "msgbuf.h"
#include "net.h"
#include "transport.h"

struct session;
struct session_flusher;

/*
 * The signal that wakes a session's thread (and, in tcpchatd, the accept
 * loop): blocked everywhere except inside their waits.
 */
#define SESSION_WAKE_SIGNAL SIGUSR1

/* One queued message, or part of one already partly written. */
struct session_msg {
	struct session_msg *next;
	struct msgbuf *buf; /* its bytes, shared with other queues */
	size_t off; /* bytes already written */
	int counted; /* a message (not echoed bytes): counts as one out */
};

/* A joinable session thread that has finished, waiting to be joined. */
struct session_ended;

/*
 * Counters shared by every session of a server, updated without locks.
 * threads counts session threads started and not yet gone: a detached
 * one decrements it as its last act; a joinable one is counted until it
 * has been joined (session_reap), so the count bounds the threads the
 * kernel has, not just those still serving.
 */
struct session_totals {
	atomic_uint_fast64_t bytes_in;
	atomic_uint_fast64_t bytes_out;
	atomic_uint_fast64_t msgs_out;
	atomic_int threads;
	_Atomic(struct session_ended *) ended; /* finished, not joined */
};

/* What a session may do; fixed when it is created. */
struct session_limits {
	size_t max_line; /* longest message, newline excluded */
	size_t max_queue; /* bytes queued for the client at most */
	int flush_ms; /* a pause this long ends an unterminated message */
	int idle_timeout_ms; /* silent this long: closed; 0 none */
	int line_timeout_ms; /* a begun line must end within; 0 none */
	int handshake_timeout_ms; /* a transport's handshake; 0: none */
	int drain_ms; /* closing: how long the queue gets */
	int linger_ms; /* then: how long the peer gets to close */
	/*
	 * Other threads may write a message straight to the transport
	 * when nothing is queued (under the session's lock), instead of
	 * queueing it and waking the session's thread; only where the
	 * transport allows concurrent sending and receiving.
	 */
	int direct_send;
	/*
	 * Framed sessions: telnet's commands are taken out of the input
	 * before framing, and its requests refused (telnet.h).
	 */
	int telnet;
	/*
	 * Framed sessions: the end of the client's input means it is done
	 * sending, not gone.  The session sends finish_notice (its last
	 * two bytes 0.1 s and 1 s later, one at a time), goes on writing
	 * what it is sent, and calls cb->finished once finish_probe_ms
	 * more pass without the peer resetting; it ends when closed,
	 * kicked or idle too long.  A peer that closed completely, or
	 * closes within that second even after reading the first parts,
	 * answers a write with a reset, and the session ends as "closed"
	 * by then.  0: the end of input ends it.
	 */
	int half_close;
	const char *finish_notice; /* a whole line, or NULL for none */
	int finish_probe_ms;
	struct session_totals *totals; /* shared counters; not NULL */
	struct msgbuf_budget *budget; /* charged for queued bytes, or NULL */
	/*
	 * With direct sends: lines for a client written to within the last
	 * batch window are queued and written together by this thread a
	 * moment later, so a client many talk to gets a few lines per
	 * system call, not one.  NULL: every line goes out at once.
	 */
	struct session_flusher *flusher;
};

/*
 * What a session tells its owner, on the session's own thread.  ctx is
 * the pointer given to session_new.
 */
struct session_callbacks {
	/* The thread runs; nothing has been read yet. */
	void (*opened)(void *ctx, struct session *s);
	/*
	 * One message (newline removed), or NULL to hand on bytes
	 * unframed to data instead; s->unterminated tells whether it ended
	 * with a pause (or the end of input) instead of a newline.
	 * Returns NULL to go on, or the reason the session ends.
	 */
	const char *(*message)(
	    void *ctx, struct session *s, const char *msg, size_t len);
	/*
	 * With limits->half_close: the client ended its input and is still
	 * there, listening (see session_limits).  May be NULL.
	 */
	void (*finished)(void *ctx, struct session *s);
	/*
	 * Bytes as they arrive, when message is NULL; reading pauses while
	 * anything is queued for the client.  NULL, or why it ends.
	 */
	const char *(*data)(
	    void *ctx, struct session *s, const char *buf, size_t len);
	/*
	 * The connection has closed (the transport is gone) for reason;
	 * lost messages were never delivered, of which undelivered holds
	 * those still queued, in order (freed after the call).
	 */
	void (*closed)(void *ctx, struct session *s, const char *reason,
	    const struct session_msg *undelivered, size_t lost);
};

enum session_state {
	SESSION_STARTING, /* thread not yet running */
	SESSION_RUNNING, /* thread running, can be woken */
	SESSION_GONE /* connection closed: nothing more is taken */
};

struct session {
	/* Fixed at creation: anyone holding a reference may read them. */
	uint64_t id;
	char addr[NET_ADDRSTRLEN];
	struct sockaddr_storage peer;
	socklen_t peer_len;
	uint64_t connected_ms;

	/* The session's thread only. */
	struct transport transport; /* replaceable until session_start */
	int opened; /* the handshake (if any) is done: opened was called */
	char failure[192]; /* why the handshake failed */
	const struct session_limits *limits;
	const struct session_callbacks *cb;
	void *ctx;
	int reply_error; /* errno of a failed session_reply, or 0 */
	int reply_queued; /* session_reply queued a rest since last look */
	int joinable; /* its thread is to be joined (session_reap) */
	/* joinable: the node it is queued by once finished (malloc'd) */
	struct session_ended *ended;
	/* The message being handed on ended with no newline. */
	int unterminated;
	/* session_pause_input: no reading before this (own thread only) */
	uint64_t paused_until;
	atomic_int refs;

	/*
	 * The owner's state for this client (set in its opened callback,
	 * let go in closed); the owner says which lock guards it.
	 */
	void *user;

	int direct; /* direct sends allowed (limits and transport) */

	pthread_mutex_t lock; /* guards everything below */
	enum session_state state;
	pthread_t thread; /* valid while SESSION_RUNNING */
	/* A wake-up signal is on its way: set under the lock, read
	 * without it by the session's thread before it blocks. */
	atomic_int wake_pending;
	int writing; /* a thread holds the writer role (session.c) */
	int blocked; /* the transport was full: the owner waits for room */
	int flush_pending; /* on the flusher's list */
	struct session *flush_next; /* next on that list */
	uint64_t last_direct_ns; /* when a line last went out directly */
	pthread_cond_t written; /* broadcast when it gives it back */
	int closing; /* drain the queue, then close */
	const char *close_reason; /* why closing, for the console */
	struct session_msg *head, *tail;
	size_t queued_bytes;
	size_t queued_msgs;
	size_t dropped_msgs; /* freed unsent by session_drop: lost too */
	uint64_t msgs_in;
	uint64_t msgs_out;
};

/*
 * A new session (one reference) for an accepted, non-blocking socket,
 * served by a plain transport until session_start.  limits, cb and ctx
 * must outlive it.  NULL: ENOMEM (fd is left open).
 */
struct session *session_new(int fd, uint64_t id, const struct sockaddr *peer,
    socklen_t peer_len, const struct session_limits *limits,
    const struct session_callbacks *cb, void *ctx);

void session_ref(struct session *s);

/* Drops a reference; the last one frees the session (and its socket). */
void session_unref(struct session *s);

/*
 * Starts the session's thread with attr, which takes over the caller's
 * reference.  A joinable thread is joined by session_reap (or by the
 * next session thread that ends); a detached one is never.  0, or an
 * error number: then the session was not started and the reference is
 * still the caller's.
 */
int session_start(struct session *s, const pthread_attr_t *attr);

/*
 * Joins the joinable session threads of totals that have finished (each
 * is in its last instructions), counting them gone.
 */
void session_reap(struct session_totals *totals);

/* Results of session_send. */
enum session_send_result {
	SESSION_SENT = 0, /* queued for the session's thread */
	SESSION_GONE_ERR = -1, /* the client has gone or is leaving */
	SESSION_FULL = -2 /* queue full: the client is being dropped */
};

/*
 * Queues len bytes (one message, newline included) for the client and
 * wakes its thread.  Never blocks on the network.
 */
int session_send(struct session *s, const char *data, size_t len);

/*
 * Queues b (taking a reference of its own) as session_send does, or
 * writes it straight out when the limits allow it and nothing is
 * queued.  The caller keeps its reference.
 */
int session_send_buf(struct session *s, struct msgbuf *b);

/*
 * Drops the client at once to free memory: what is queued is let go
 * (counted as lost, the first few kept for the closed callback's
 * report) and the session ends for reason.  Returns the bytes that were
 * queued, or 0 when it was ending anyway.
 */
size_t session_drop(struct session *s, const char *reason);

/*
 * The batching writer (see session_limits.flusher): one thread for all
 * sessions.  NULL: ENOMEM.  Start it before sessions use it; stop it
 * after they have all ended.
 */
struct session_flusher *session_flusher_new(void);
int session_flusher_start(struct session_flusher *f);
void session_flusher_stop(struct session_flusher *f);
void session_flusher_free(struct session_flusher *f);

/* Bytes queued for the client now. */
size_t session_queued(struct session *s);

/*
 * From the session's own thread (a data callback): sends at once what
 * the transport takes and queues the rest.  0, or -1 with errno set:
 * then the session ends with that error once the callback returns.
 */
int session_reply(struct session *s, const char *data, size_t len);

/*
 * From the session's own thread (a message callback): reads nothing
 * more for ms milliseconds (a framed session; what was read already is
 * still handed on), so that a client sending faster than it may is held
 * back by TCP instead of costing a thread that reads to discard.
 * Writes and the wake-up go on meanwhile.
 */
void session_pause_input(struct session *s, unsigned ms);

/*
 * Asks the session to end: the optional notice is queued (even past the
 * limit), the queue is drained (within limits->drain_ms) and the
 * connection closed; reason goes to the closed callback.
 */
void session_close(struct session *s, const char *notice, const char *reason);

/*
 * What carries the session's bytes once handshaken ("TLSv1.3"), or NULL
 * for plain TCP.
 */
const char *session_transport_name(struct session *s);

/* Messages in and out so far (taken under the session's lock). */
void session_counts(struct session *s, uint64_t *in, uint64_t *out);

/* Blocks the wake-up signal; called once before any thread starts. */
void session_signals_init(void);

#endif
