/* transport.c - the plain TCP transport: the socket itself. */
#include "config.h"

#include <sys/socket.h>
#include <errno.h>
#include <unistd.h>

#include "io.h"
#include "transport.h"

static ssize_t
transport_plain_recv(struct transport *t, void *buf, size_t len)
{
	for (;;) {
		ssize_t n = recv(t->fd, buf, len, MSG_DONTWAIT);
		if (n >= 0 || errno != EINTR)
			return n;
	}
}

static ssize_t
transport_plain_recv_wait(struct transport *t, void *buf, size_t len)
{
	/* No EINTR retry: a wake-up signal must end the wait. */
	return recv(t->fd, buf, len, 0);
}

static ssize_t
transport_plain_send(struct transport *t, const void *buf, size_t len)
{
	return io_send_some(t->fd, buf, len);
}

static ssize_t
transport_plain_sendv(struct transport *t, const struct iovec *iov, int n)
{
	struct msghdr msg = {
	    .msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)n};

	for (;;) {
		ssize_t w = sendmsg(t->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w >= 0)
			return w;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		if (errno != EINTR)
			return -1;
	}
}

static int
transport_plain_shutdown(struct transport *t)
{
	return shutdown(t->fd, SHUT_WR);
}

static void
transport_plain_close(struct transport *t)
{
	close(t->fd);
	t->fd = -1;
}

static const struct transport_ops transport_plain_ops = {
    .recv = transport_plain_recv,
    .recv_wait = transport_plain_recv_wait,
    .send = transport_plain_send,
    .sendv = transport_plain_sendv,
    .pending = NULL,
    .shutdown = transport_plain_shutdown,
    .close = transport_plain_close,
    .concurrent_send = 1,
    .name = "TCP",
};

void
transport_plain(struct transport *t, int fd)
{
	t->ops = &transport_plain_ops;
	t->fd = fd;
	t->impl = NULL;
}

ssize_t
transport_sendv(struct transport *t, const struct iovec *iov, int n)
{
	size_t done = 0;

	if (t->ops->sendv != NULL)
		return t->ops->sendv(t, iov, n);
	for (int i = 0; i < n; i++) {
		ssize_t w = t->ops->send(t, iov[i].iov_base, iov[i].iov_len);
		if (w == -1)
			return done > 0 ? (ssize_t)done : -1;
		done += (size_t)w;
		if ((size_t)w < iov[i].iov_len)
			break;
	}
	return (ssize_t)done;
}
