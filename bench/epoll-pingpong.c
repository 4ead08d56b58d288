/*
 * epoll-pingpong.c - the reference client for bench/compare-bench: as
 * simple as a closed-loop epoll client gets.  Each connection sends a
 * SIZE-byte line, waits until SIZE bytes are back, sends the next; no
 * checking, no timing per message.  Counts round trips for SECONDS.
 *
 *     cc -O2 -o epoll-pingpong epoll-pingpong.c
 *     ./epoll-pingpong HOST PORT CONNECTIONS SECONDS [SIZE]
 *
 * Prints "epoll-pingpong: N connections, M msgs in S s, R msgs/s".
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
#include <time.h>
#include <unistd.h>

struct conn {
	int fd;
	size_t got; /* bytes of the current reply received */
};

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	struct epoll_event ev, events[512];
	struct rlimit rl;
	char msg[65536], buf[65536];
	unsigned long long done = 0;
	int one = 1, ep, nconns;
	size_t size;
	double seconds, start, end;

	if (argc < 5)
		errx(2,
		    "usage: epoll-pingpong HOST PORT CONNECTIONS SECONDS "
		    "[SIZE]");
	nconns = atoi(argv[3]);
	seconds = atof(argv[4]);
	size = argc > 5 ? (size_t)atoi(argv[5]) : 64;
	if (nconns < 1 || seconds <= 0 || size < 2 || size > sizeof(msg))
		errx(2, "bad arguments");
	signal(SIGPIPE, SIG_IGN);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	sin.sin_port = htons((unsigned short)atoi(argv[2]));
	if (inet_pton(AF_INET, argv[1], &sin.sin_addr) != 1)
		errx(2, "not an IPv4 address: %s", argv[1]);
	memset(msg, 'x', size - 1);
	msg[size - 1] = '\n';
	if ((ep = epoll_create1(0)) == -1)
		err(1, "epoll_create1");

	struct conn *conns = calloc((size_t)nconns, sizeof(*conns));
	if (conns == NULL)
		err(1, "calloc");
	for (int i = 0; i < nconns; i++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd == -1 ||
		    connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
			err(1, "connection %d", i);
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		conns[i].fd = fd;
		ev.events = EPOLLIN;
		ev.data.ptr = &conns[i];
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == -1)
			err(1, "epoll_ctl");
	}
	start = now();
	end = start + seconds;
	for (int i = 0; i < nconns; i++)
		if (send(conns[i].fd, msg, size, MSG_NOSIGNAL) != (ssize_t)size)
			err(1, "send");
	for (;;) {
		int n = epoll_wait(ep, events, 512, 100);
		if (n == -1 && errno != EINTR)
			err(1, "epoll_wait");
		if (now() >= end)
			break;
		for (int i = 0; i < n; i++) {
			struct conn *c = events[i].data.ptr;
			ssize_t r = recv(c->fd, buf, sizeof(buf), 0);
			if (r <= 0)
				errx(1, "connection closed");
			c->got += (size_t)r;
			if (c->got < size)
				continue;
			c->got -= size;
			done++;
			if (send(c->fd, msg, size, MSG_NOSIGNAL) !=
			    (ssize_t)size)
				err(1, "send");
		}
	}
	end = now();
	printf("epoll-pingpong: %d connections, %llu msgs in %.2f s, "
	       "%.1f msgs/s\n",
	    nconns, done, end - start, (double)done / (end - start));
	return 0;
}
