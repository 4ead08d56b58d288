/*
 * session.h - one client connection, served by its own detached thread.
 *
 * A session has a 64-bit id that is never reused and a reference count,
 * so the console or another session can hold it while the connection
 * ends.  Only its own thread touches its socket: others hand messages to
 * its bounded outbound queue with session_send(), which wakes it.
 */
#ifndef TCPCHAT_SESSION_H
#define TCPCHAT_SESSION_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <sys/socket.h>

#include "net.h"

struct server;

/* One queued message, or part of one already partly written. */
struct session_msg {
	struct session_msg *next;
	size_t len;
	size_t off; /* bytes already written */
	char data[];
};

enum session_state {
	SESSION_STARTING, /* thread not yet running */
	SESSION_RUNNING, /* thread running, can be woken */
	SESSION_GONE /* connection closed: nothing more is taken */
};

struct session {
	uint64_t id;
	int fd; /* only the session's thread uses it */
	char addr[NET_ADDRSTRLEN];
	struct sockaddr_storage peer;
	int counted_per_ip; /* holds a --max-per-ip slot */
	struct server *server;
	uint64_t connected_ms;
	atomic_int refs;

	pthread_mutex_t lock; /* guards everything below */
	enum session_state state;
	pthread_t thread; /* valid while SESSION_RUNNING */
	int wake_pending; /* a wake-up signal is on its way */
	int closing; /* drain the queue, then close */
	const char *close_reason; /* why closing, for the console */
	struct session_msg *head, *tail;
	size_t queued_bytes;
	size_t queued_msgs;
	uint64_t msgs_in;
	uint64_t msgs_out;
};

/* A new session for an accepted socket (one reference).  NULL: ENOMEM. */
struct session *session_new(
    struct server *srv, int fd, uint64_t id, const char *addr);

void session_ref(struct session *s);

/* Drops a reference; the last one frees the session. */
void session_unref(struct session *s);

/* The thread body: serves the connection, then drops its reference. */
void *session_main(void *arg);

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
 * Asks the session to end: the optional notice is queued, the queue is
 * drained (within the server's drain time) and the connection closed;
 * reason is shown on the console.
 */
void session_close(struct session *s, const char *notice, const char *reason);

/* Messages in and out so far (taken under the session's lock). */
void session_counts(struct session *s, uint64_t *in, uint64_t *out);

/* Blocks the wake-up signal; called once before any thread starts. */
void session_signals_init(void);

#endif
