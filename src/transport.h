/*
 * transport.h - the seam between a connection's owner and its byte
 * stream: plain TCP here, TLS over the same socket later, without the
 * session loop knowing which.  Every call is non-blocking; the owner
 * waits on fd with poll() and asks again.
 */
#ifndef TCPCHAT_TRANSPORT_H
#define TCPCHAT_TRANSPORT_H

#include <poll.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

struct transport;

struct transport_ops {
	/*
	 * Receives up to len bytes: the count, 0 at the end of the
	 * stream, or -1 with errno set (EAGAIN: nothing now).
	 */
	ssize_t (*recv)(struct transport *t, void *buf, size_t len);
	/*
	 * Receives, waiting for bytes on a socket in blocking mode (an
	 * interrupting signal handler may turn O_NONBLOCK on to end the
	 * wait: then -1 with EAGAIN); as recv otherwise.  NULL: the
	 * transport cannot (the owner polls and calls recv).
	 */
	ssize_t (*recv_wait)(struct transport *t, void *buf, size_t len);
	/*
	 * Sends what it can of len bytes: the count taken, 0 when full
	 * (wait for POLLOUT), or -1 with errno set (EPIPE, ECONNRESET).
	 */
	ssize_t (*send)(struct transport *t, const void *buf, size_t len);
	/*
	 * As send, for the n pieces of iov in order (a writev); NULL: the
	 * transport sends them one at a time.
	 */
	ssize_t (*sendv)(struct transport *t, const struct iovec *iov, int n);
	/*
	 * Bytes already received and buffered inside the transport, to
	 * be read before waiting on fd again (TLS records); NULL: none.
	 */
	size_t (*pending)(struct transport *t);
	/*
	 * Takes a handshake as far as it goes without blocking: 1 done,
	 * 0 to be called again once *events are ready on fd, -1 failed
	 * (why in err).  NULL: no handshake (plain TCP).
	 */
	int (*handshake)(
	    struct transport *t, short *events, char *err, size_t errsz);
	/*
	 * The events on fd that the last recv (sending 0) or send
	 * (sending 1) that made no progress waits for: TLS may have to
	 * write to read, or read to write.  NULL: POLLIN for recv,
	 * POLLOUT for send.
	 */
	short (*wants)(struct transport *t, int sending);
	/* What carries the bytes, e.g. "TLSv1.3"; NULL: plain TCP. */
	const char *(*describe)(struct transport *t);
	/* Ends the sending side (FIN, or close_notify then FIN). */
	int (*shutdown)(struct transport *t);
	/* Releases everything and closes fd. */
	void (*close)(struct transport *t);
	/*
	 * Whether one thread may send while another receives (plain
	 * sockets may; a TLS session may not).
	 */
	int concurrent_send;
	const char *name; /* "TCP", "TLS": for messages */
};

struct transport {
	const struct transport_ops *ops;
	int fd; /* the socket to poll; -1 once closed */
	void *impl; /* the implementation's state */
};

/* Plain TCP over a connected, non-blocking socket fd. */
void transport_plain(struct transport *t, int fd);

static inline ssize_t
transport_recv(struct transport *t, void *buf, size_t len)
{
	return t->ops->recv(t, buf, len);
}

/* The blocking receive (only where recv_wait is not NULL). */
static inline ssize_t
transport_recv_wait(struct transport *t, void *buf, size_t len)
{
	return t->ops->recv_wait(t, buf, len);
}

static inline ssize_t
transport_send(struct transport *t, const void *buf, size_t len)
{
	return t->ops->send(t, buf, len);
}

/* Sends iov[0..n) in order as far as the transport takes it. */
ssize_t transport_sendv(struct transport *t, const struct iovec *iov, int n);

static inline size_t
transport_pending(struct transport *t)
{
	return t->ops->pending != NULL ? t->ops->pending(t) : 0;
}

/* What the last recv or send that made no progress waits for on fd. */
static inline short
transport_wants(struct transport *t, int sending)
{
	if (t->ops->wants != NULL)
		return t->ops->wants(t, sending);
	return sending ? POLLOUT : POLLIN;
}

static inline int
transport_shutdown(struct transport *t)
{
	return t->ops->shutdown(t);
}

static inline void
transport_close(struct transport *t)
{
	if (t->fd != -1)
		t->ops->close(t);
}

#endif
