/*
 * thread-echo.c - the second reference server for bench/run: a bare
 * thread-per-connection echo loop (blocking recv, send, 64 KiB stacks,
 * TCP_NODELAY), with none of tcpchatd's features.  It shows what the
 * design itself costs against epoll, so that tcpchatd / thread-echo
 * tells what tcpchatd's features cost on top.
 *
 *     cc -O2 -pthread -o thread-echo thread-echo.c
 *     ./thread-echo [HOST [PORT]]     (defaults 127.0.0.1, 0 = any)
 *
 * Prints "thread-echo: listening on HOST:PORT" and serves until killed.
 */
#define _GNU_SOURCE
#include <sys/resource.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <err.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define STACK_SIZE (64 * 1024)

static void *
serve(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char buf[8192];
	ssize_t n;

	while ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
		if (send(fd, buf, (size_t)n, MSG_NOSIGNAL) != n)
			break;
	close(fd);
	return NULL;
}

int
main(int argc, char **argv)
{
	const char *host = argc > 1 ? argv[1] : "127.0.0.1";
	int port = argc > 2 ? atoi(argv[2]) : 0, on = 1, lfd;
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t len = sizeof(sin);
	struct rlimit rl;
	pthread_attr_t attr;

	signal(SIGPIPE, SIG_IGN);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (inet_pton(AF_INET, host, &sin.sin_addr) != 1)
		errx(2, "not an IPv4 address: %s", host);
	sin.sin_port = htons((uint16_t)port);
	if ((lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		err(1, "socket");
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(lfd, 4096) == -1 ||
	    getsockname(lfd, (struct sockaddr *)&sin, &len) == -1)
		err(1, "listen on %s:%d", host, port);
	printf("thread-echo: listening on %s:%d\n", host, ntohs(sin.sin_port));
	fflush(stdout);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, STACK_SIZE);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	for (;;) {
		pthread_t t;
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EMFILE || errno == ENFILE)
				usleep(100000); /* no busy loop */
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
		if (pthread_create(&t, &attr, serve, (void *)(intptr_t)fd) != 0)
			close(fd);
	}
}
