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
    .pending = NULL,
    .shutdown = transport_plain_shutdown,
    .close = transport_plain_close,
    .concurrent_send = 1,
};

void
transport_plain(struct transport *t, int fd)
{
	t->ops = &transport_plain_ops;
	t->fd = fd;
	t->impl = NULL;
}
