/* io.c - full-length reads and writes that survive short counts and EINTR. */
#include "config.h"

#include <sys/socket.h>
#include <errno.h>
#include <poll.h>
#include <unistd.h>

#include "io.h"

/* Waits until fd can take more bytes.  0, or -1 with errno set. */
static int
io_wait_writable(int fd)
{
	struct pollfd pfd = {.fd = fd, .events = POLLOUT};

	for (;;) {
		int rc = poll(&pfd, 1, -1);
		if (rc == 1)
			return 0;
		if (rc == -1 && errno != EINTR)
			return -1;
	}
}

ssize_t
io_write_full(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	size_t done = 0;
	int is_socket = 1;

	while (done < len) {
		ssize_t n;
		if (is_socket) {
			n = send(fd, p + done, len - done, MSG_NOSIGNAL);
			if (n == -1 && errno == ENOTSOCK) {
				is_socket = 0;
				continue;
			}
		} else {
			n = write(fd, p + done, len - done);
		}
		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if (n == 0) {
			errno = EPIPE;
			return -1;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if (io_wait_writable(fd) == -1)
				return -1;
			continue;
		}
		return -1;
	}
	return (ssize_t)done;
}

ssize_t
io_send_some(int fd, const void *buf, size_t len)
{
	for (;;) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n >= 0)
			return n;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		if (errno != EINTR)
			return -1;
	}
}

ssize_t
io_read_some(int fd, void *buf, size_t len)
{
	for (;;) {
		ssize_t n = read(fd, buf, len);
		if (n >= 0 || errno != EINTR)
			return n;
	}
}

ssize_t
io_read_full(int fd, void *buf, size_t len)
{
	char *p = buf;
	size_t done = 0;

	while (done < len) {
		ssize_t n = io_read_some(fd, p + done, len - done);
		if (n == 0)
			break;
		if (n == -1) {
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				struct pollfd pfd = {
				    .fd = fd, .events = POLLIN};
				if (poll(&pfd, 1, -1) == -1 && errno != EINTR)
					return -1;
				continue;
			}
			return -1;
		}
		done += (size_t)n;
	}
	return (ssize_t)done;
}
