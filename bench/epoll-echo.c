/*
 * epoll-echo.c - the reference server for bench/compare-bench: a
 * minimal single-thread, level-triggered epoll echo server, with none
 * of tcpchatd's features, to measure the clients against.
 *
 *     cc -O2 -o epoll-echo epoll-echo.c
 *     ./epoll-echo [HOST [PORT]]     (defaults 127.0.0.1, 0 = any)
 *
 * Prints "epoll-echo: listening on HOST:PORT" and serves until killed.
 * A connection whose peer stops reading keeps at most BUF_MAX unsent
 * bytes; past that it is closed.
 */
#define _GNU_SOURCE
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <err.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BUF_MAX (1 << 20)

struct conn {
	int fd;
	char *out; /* bytes the socket did not take yet */
	size_t out_len;
};

static char buf[65536];

static void
drop(struct conn *c)
{
	close(c->fd);
	free(c->out);
	free(c);
}

/* Sends what is pending.  0, or -1 when the connection is finished. */
static int
flush(int ep, struct conn *c)
{
	ssize_t n = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL);

	if (n == -1 && errno != EAGAIN)
		return -1;
	if (n > 0) {
		memmove(c->out, c->out + n, c->out_len - (size_t)n);
		c->out_len -= (size_t)n;
	}
	struct epoll_event ev = {
	    .events = c->out_len ? EPOLLOUT : EPOLLIN, .data.ptr = c};
	return epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Echoes what arrived.  0, or -1 when the connection is finished. */
static int
echo(int ep, struct conn *c)
{
	ssize_t n = recv(c->fd, buf, sizeof(buf), 0), w;

	if (n == -1 && errno == EAGAIN)
		return 0;
	if (n <= 0)
		return -1;
	w = send(c->fd, buf, (size_t)n, MSG_NOSIGNAL);
	if (w == n)
		return 0;
	if (w == -1 && errno != EAGAIN)
		return -1;
	if (w < 0)
		w = 0;
	/* Rare: the client is not reading.  Keep the rest, stop reading. */
	if ((size_t)(n - w) > BUF_MAX || (c->out = malloc(BUF_MAX)) == NULL)
		return -1;
	memcpy(c->out, buf + w, (size_t)(n - w));
	c->out_len = (size_t)(n - w);
	return flush(ep, c);
}

int
main(int argc, char **argv)
{
	const char *host = argc > 1 ? argv[1] : "127.0.0.1";
	int port = argc > 2 ? atoi(argv[2]) : 0, one = 1, ls, ep;
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t len = sizeof(sin);
	struct epoll_event ev, events[512];
	struct rlimit rl;

	signal(SIGPIPE, SIG_IGN);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	sin.sin_port = htons((unsigned short)port);
	if (inet_pton(AF_INET, host, &sin.sin_addr) != 1)
		errx(2, "not an IPv4 address: %s", host);
	ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (ls == -1)
		err(1, "socket");
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(ls, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(ls, SOMAXCONN) == -1 ||
	    getsockname(ls, (struct sockaddr *)&sin, &len) == -1)
		err(1, "listen on %s:%d", host, port);
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		err(1, "epoll_create1");
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev) == -1)
		err(1, "epoll_ctl");
	printf("epoll-echo: listening on %s:%d\n", host, ntohs(sin.sin_port));
	fflush(stdout);

	for (;;) {
		int n = epoll_wait(ep, events, 512, -1);
		if (n == -1 && errno != EINTR)
			err(1, "epoll_wait");
		for (int i = 0; i < n; i++) {
			struct conn *c = events[i].data.ptr;
			if (c == NULL) {
				/* Accept all that wait. */
				int fd;
				while (
				    (fd = accept4(ls, NULL, NULL,
				         SOCK_NONBLOCK | SOCK_CLOEXEC)) != -1) {
					c = calloc(1, sizeof(*c));
					if (c == NULL) {
						close(fd);
						continue;
					}
					c->fd = fd;
					setsockopt(fd, IPPROTO_TCP, TCP_NODELAY,
					    &one, sizeof(one));
					ev.events = EPOLLIN;
					ev.data.ptr = c;
					if (epoll_ctl(ep, EPOLL_CTL_ADD, fd,
					        &ev) == -1)
						drop(c);
				}
				continue;
			}
			int rc = c->out_len ? flush(ep, c) : echo(ep, c);
			if (rc == -1)
				drop(c);
		}
	}
}
