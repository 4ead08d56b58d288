/*
 * room-latency.c - broadcast latency of a room server (tcpchatd -m room):
 * opens CLIENTS recipients and one sender, then, BROADCASTS times, sends
 * one timestamped line from the sender and times its arrival at every
 * recipient (the room relays it as "#ID: text\n").  Only complete lines
 * count.  The next broadcast goes out when every recipient has the last
 * one (or after a timeout), so each figure is one message's fan-out, not
 * a queue.
 *
 *     cc -O2 -o room-latency room-latency.c
 *     ./room-latency [-c CLIENTS] [-b BROADCASTS] [-j] HOST PORT
 *
 * Prints recipient latency (each delivery) and fan-out latency (until
 * the last recipient has it): p50, p99, max; -j prints one JSON object.
 * Exit status 0 when every broadcast reached every recipient.
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
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* A recipient's partial line; longer lines are not ours and are skipped. */
#define LINE_MAX_BYTES 256
#define MAX_CLIENTS 15000
#define MAX_BROADCASTS 100000
/* Quiet time that ends the settle phase (join notices). */
#define SETTLE_QUIET_MS 300
/* A broadcast not complete after this is counted as missing. */
#define BROADCAST_TIMEOUT_MS 2000

struct recipient {
	int fd;
	size_t len; /* bytes in line */
	int overlong; /* skipping the rest of a too-long line */
	uint32_t last_seq; /* newest broadcast seen, to spot duplicates */
	char line[LINE_MAX_BYTES];
};

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int
compare_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The p-th percentile (0..100) of sorted v[0..n), nearest rank. */
static uint64_t
percentile(const uint64_t *v, size_t n, double p)
{
	size_t rank;

	if (n == 0)
		return 0;
	rank = (size_t)(p / 100.0 * (double)n + 0.999999);
	if (rank < 1)
		rank = 1;
	return v[rank > n ? n - 1 : rank - 1];
}

/* Connects to host:port.  Returns the socket, or -1 with errno set. */
static int
connect_to(const struct sockaddr_in *sin)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), on = 1;

	if (fd == -1)
		return -1;
	if (connect(fd, (const struct sockaddr *)sin, sizeof(*sin)) == -1) {
		int save_errno = errno;
		close(fd);
		errno = save_errno;
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	return fd;
}

/*
 * Parses one complete line; when it is broadcast `seq`, returns 1 and
 * sets *sent to its timestamp.  Other lines (notices) return 0.
 */
static int
parse_line(const char *line, size_t len, uint32_t seq, uint64_t *sent)
{
	char copy[LINE_MAX_BYTES + 1];
	unsigned long long id, ts;
	unsigned int got;

	memcpy(copy, line, len);
	copy[len] = '\0';
	if (sscanf(copy, "#%llu: rl %u %llu", &id, &got, &ts) != 3)
		return 0;
	if (got != seq)
		return 0;
	*sent = ts;
	return 1;
}

/*
 * Reads what r has and handles its complete lines.  Returns the number of
 * arrivals of broadcast seq (0 or 1), or -1 when the connection ended.
 */
static int
drain(struct recipient *r, uint32_t seq, uint64_t *latency)
{
	char buf[16384];
	int arrived = 0;

	for (;;) {
		ssize_t n = recv(r->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0)
			return -1;
		if (n == -1)
			return errno == EAGAIN || errno == EINTR ? arrived : -1;
		uint64_t t = now_ns();
		for (ssize_t i = 0; i < n; i++) {
			char c = buf[i];
			if (c != '\n') {
				if (r->len < LINE_MAX_BYTES)
					r->line[r->len++] = c;
				else
					r->overlong = 1;
				continue;
			}
			uint64_t sent;
			if (!r->overlong && seq != 0 &&
			    parse_line(r->line, r->len, seq, &sent) &&
			    r->last_seq != seq) {
				r->last_seq = seq;
				*latency = t - sent;
				arrived = 1;
			}
			r->len = 0;
			r->overlong = 0;
		}
	}
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: room-latency [-c CLIENTS] [-b BROADCASTS] "
	    "[-j] HOST PORT\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	int clients = 1000, broadcasts = 200, json = 0, opt;
	struct sockaddr_in sin;
	struct rlimit rl;

	while ((opt = getopt(argc, argv, "c:b:j")) != -1) {
		switch (opt) {
		case 'c':
			clients = atoi(optarg);
			break;
		case 'b':
			broadcasts = atoi(optarg);
			break;
		case 'j':
			json = 1;
			break;
		default:
			usage();
		}
	}
	if (argc - optind != 2 || clients < 1 || clients > MAX_CLIENTS ||
	    broadcasts < 1 || broadcasts > MAX_BROADCASTS)
		usage();
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)atoi(argv[optind + 1]));
	if (inet_pton(AF_INET, argv[optind], &sin.sin_addr) != 1)
		errx(2, "HOST must be an IPv4 address");
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}

	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct recipient *rs = calloc((size_t)clients, sizeof(*rs));
	uint64_t *each =
	    malloc((size_t)clients * (size_t)broadcasts * sizeof(*each));
	uint64_t *fanout = malloc((size_t)broadcasts * sizeof(*fanout));
	if (ep == -1 || rs == NULL || each == NULL || fanout == NULL)
		err(1, "setup");
	int sender = connect_to(&sin);
	if (sender == -1)
		err(1, "connect (sender)");
	for (int i = 0; i < clients; i++) {
		if ((rs[i].fd = connect_to(&sin)) == -1)
			err(1, "connect (recipient %d)", i);
		fcntl(rs[i].fd, F_SETFL, O_NONBLOCK);
		struct epoll_event ev = {
		    .events = EPOLLIN, .data.u32 = (uint32_t)i};
		if (epoll_ctl(ep, EPOLL_CTL_ADD, rs[i].fd, &ev) == -1)
			err(1, "epoll_ctl");
	}

	/* Settle: the join notices go by before anything is timed. */
	struct epoll_event evs[1024];
	uint64_t dummy;
	for (;;) {
		int n = epoll_wait(ep, evs, 1024, SETTLE_QUIET_MS);
		if (n == 0)
			break;
		for (int i = 0; i < n; i++)
			if (drain(&rs[evs[i].data.u32], 0, &dummy) == -1)
				errx(1, "recipient %u closed while settling",
				    evs[i].data.u32);
	}
	{
		/* The sender's own join notices, unread so far. */
		char discard[65536];
		while (recv(sender, discard, sizeof(discard), MSG_DONTWAIT) > 0)
			;
	}

	size_t nsamples = 0;
	long missing = 0;
	for (uint32_t seq = 1; seq <= (uint32_t)broadcasts; seq++) {
		char line[64];
		uint64_t start = now_ns(), last = start;
		int n = snprintf(
		    line, sizeof(line), "rl %u %" PRIu64 "\n", seq, start);
		if (send(sender, line, (size_t)n, MSG_NOSIGNAL) != n)
			err(1, "send");
		int got = 0;
		while (got < clients) {
			int left = (int)(BROADCAST_TIMEOUT_MS -
			    (now_ns() - start) / 1000000);
			if (left <= 0)
				break;
			int ne = epoll_wait(ep, evs, 1024, left);
			for (int i = 0; i < ne; i++) {
				uint64_t lat;
				int rc = drain(&rs[evs[i].data.u32], seq, &lat);
				if (rc == -1)
					errx(1, "recipient %u closed",
					    evs[i].data.u32);
				if (rc == 1) {
					each[nsamples++] = lat;
					got++;
					if (start + lat > last)
						last = start + lat;
				}
			}
		}
		missing += clients - got;
		fanout[seq - 1] = last - start;
		/* The sender gets nothing back, but keep its buffer empty. */
		char discard[4096];
		while (recv(sender, discard, sizeof(discard), MSG_DONTWAIT) > 0)
			;
	}

	qsort(each, nsamples, sizeof(*each), compare_u64);
	qsort(fanout, (size_t)broadcasts, sizeof(*fanout), compare_u64);
	/* p50, p99 and max of each delivery, then of each whole fan-out. */
	double ms = 1e6,
	       fig[6] = {
	           percentile(each, nsamples, 50) / ms,
	           percentile(each, nsamples, 99) / ms,
	           nsamples ? each[nsamples - 1] / ms : 0.0,
	           percentile(fanout, (size_t)broadcasts, 50) / ms,
	           percentile(fanout, (size_t)broadcasts, 99) / ms,
	           fanout[broadcasts - 1] / ms,
	       };
	if (json)
		printf("{\"clients\":%d,\"broadcasts\":%d,\"deliveries\":%zu,"
		       "\"missing\":%ld,\"recipient_ms\":{\"p50\":%.3f,"
		       "\"p99\":%.3f,\"max\":%.3f},\"fanout_ms\":{\"p50\":%.3f,"
		       "\"p99\":%.3f,\"max\":%.3f}}\n",
		    clients, broadcasts, nsamples, missing, fig[0], fig[1],
		    fig[2], fig[3], fig[4], fig[5]);
	else
		printf(
		    "room-latency: %d recipients, %d broadcasts, %zu "
		    "deliveries, %ld missing\n"
		    "  each delivery  p50 %.3f ms  p99 %.3f ms  max %.3f ms\n"
		    "  all recipients p50 %.3f ms  p99 %.3f ms  max %.3f ms\n",
		    clients, broadcasts, nsamples, missing, fig[0], fig[1],
		    fig[2], fig[3], fig[4], fig[5]);
	for (int i = 0; i < clients; i++)
		close(rs[i].fd);
	close(sender);
	return missing == 0 ? 0 : 1;
}
