/*
 * room-compare.c - one harness for a tcpchatd room and an IRC channel
 * (ngircd), so the two are measured the same way side by side.
 *
 *     cc -O2 -pthread -o room-compare room-compare.c
 *     ./room-compare [-p tcpchat|irc] [-c CLIENTS] [-s SCENARIO] ... HOST PORT
 *
 * CLIENTS members join (IRC: NICK, USER, JOIN #bench; tcpchatd: just
 * connect), at most -a at a time so small listen backlogs keep up.  Then:
 *
 *   -s one      one member sends -b lines, each once the last has reached
 *               every other member: fan-out latency per line (until the
 *               last recipient has it) and per delivery.
 *   -s talkers  -t members each send -r lines per second for -d seconds,
 *               all at once; every member counts what reaches it.  Reports
 *               deliveries per second (offered and achieved), delivery
 *               latency, and how far behind the last delivery came.
 *
 * Each line carries "rlc SENDER SEQ NANOSECONDS", found anywhere in what a
 * member receives (a room's "#3: ...", IRC's ":n!u@h PRIVMSG #bench :...").
 * Output is one JSON object.  Exit status 0 when every line reached every
 * member.
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

#define MAX_CLIENTS 20000
#define LINE_MAX_BYTES 512
#define MAX_SAMPLES (64u << 20)
#define JOIN_TIMEOUT_S 120
#define DRAIN_TIMEOUT_MS 60000

enum proto { PROTO_TCPCHAT, PROTO_IRC };

struct member {
	int fd;
	int joined; /* IRC: JOIN acknowledged; tcpchat: connected */
	int registered; /* IRC: 001 seen */
	size_t len;
	int overlong;
	uint32_t last_one; /* -s one: newest line seen */
	char line[LINE_MAX_BYTES];
};

static enum proto proto = PROTO_TCPCHAT;
static struct member *ms;
static int nmembers;
static uint64_t *samples;
static size_t nsamples;
static uint64_t deliveries;
static uint64_t last_delivery_ns;

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
static double
pct_ms(const uint64_t *v, size_t n, double p)
{
	size_t rank;

	if (n == 0)
		return 0;
	rank = (size_t)(p / 100.0 * (double)n + 0.999999);
	if (rank < 1)
		rank = 1;
	return v[rank > n ? n - 1 : rank - 1] / 1e6;
}

static void
send_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n == -1 && errno == EAGAIN) {
			usleep(100);
			continue;
		}
		if (n <= 0)
			err(1, "send");
		buf += n;
		len -= (size_t)n;
	}
}

/* A line a member received.  seq: -s one's current line (0: any). */
static void
on_line(struct member *m, int index, const char *line, size_t len,
    uint64_t t, uint32_t one_seq, int *arrived)
{
	char copy[LINE_MAX_BYTES + 1];
	unsigned sender, seq;
	unsigned long long ts;

	memcpy(copy, line, len);
	copy[len] = '\0';
	if (proto == PROTO_IRC) {
		if (strncmp(copy, "PING ", 5) == 0) {
			char pong[LINE_MAX_BYTES + 8];
			int n = snprintf(pong, sizeof(pong), "PONG %s\r\n",
			    copy + 5);
			send_all(m->fd, pong, (size_t)n);
			return;
		}
		if (!m->registered && strstr(copy, " 001 ") != NULL) {
			char join[64];
			int n = snprintf(join, sizeof(join), "JOIN #bench\r\n");
			m->registered = 1;
			send_all(m->fd, join, (size_t)n);
			return;
		}
		if (!m->joined && strstr(copy, " 366 ") != NULL) {
			m->joined = 1;
			return;
		}
	}
	const char *p = strstr(copy, "rlc ");
	if (p == NULL || sscanf(p, "rlc %u %u %llu", &sender, &seq, &ts) != 3)
		return;
	(void)index;
	if (one_seq != 0) {
		if (seq != one_seq || m->last_one == seq)
			return;
		m->last_one = seq;
		*arrived = 1;
	}
	deliveries++;
	last_delivery_ns = t;
	if (nsamples < MAX_SAMPLES)
		samples[nsamples++] = t - ts;
}

/* Reads what member i has.  Returns arrivals of one_seq, -1 at close. */
static int
drain(int i, uint32_t one_seq)
{
	struct member *m = &ms[i];
	char buf[65536];
	int arrived = 0;

	for (;;) {
		ssize_t n = recv(m->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0)
			return -1;
		if (n == -1)
			return errno == EAGAIN || errno == EINTR ? arrived : -1;
		uint64_t t = now_ns();
		for (ssize_t k = 0; k < n; k++) {
			char c = buf[k];
			if (c == '\r')
				continue;
			if (c != '\n') {
				if (m->len < LINE_MAX_BYTES - 2)
					m->line[m->len++] = c;
				else
					m->overlong = 1;
				continue;
			}
			if (!m->overlong)
				on_line(m, i, m->line, m->len, t, one_seq,
				    &arrived);
			m->len = 0;
			m->overlong = 0;
		}
	}
}

static int
connect_nb(const struct sockaddr_in *sin)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), on = 1;

	if (fd == -1)
		err(1, "socket");
	if (connect(fd, (const struct sockaddr *)sin, sizeof(*sin)) == -1)
		err(1, "connect");
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
}

/* Polls every member once for up to ms milliseconds. */
static void
pump(int ep, int ms_wait, uint32_t one_seq, int *got)
{
	struct epoll_event evs[1024];
	int n = epoll_wait(ep, evs, 1024, ms_wait);

	for (int i = 0; i < n; i++) {
		int rc = drain((int)evs[i].data.u32, one_seq);
		if (rc == -1)
			errx(1, "member %u was disconnected", evs[i].data.u32);
		if (got != NULL)
			*got += rc;
	}
}

static int
count_joined(void)
{
	int n = 0;

	for (int i = 0; i < nmembers; i++)
		n += ms[i].joined;
	return n;
}

/* Joins every member, at most at_once waiting at a time. */
static double
join_all(int ep, const struct sockaddr_in *sin, int at_once)
{
	uint64_t t0 = now_ns(), deadline = t0 + JOIN_TIMEOUT_S * 1000000000ull;
	int opened = 0;

	while (count_joined() < nmembers) {
		if (now_ns() > deadline)
			errx(1, "only %d of %d members joined in %d s",
			    count_joined(), nmembers, JOIN_TIMEOUT_S);
		while (opened < nmembers && opened - count_joined() < at_once) {
			struct member *m = &ms[opened];
			m->fd = connect_nb(sin);
			struct epoll_event ev = {
			    .events = EPOLLIN, .data.u32 = (uint32_t)opened};
			if (epoll_ctl(ep, EPOLL_CTL_ADD, m->fd, &ev) == -1)
				err(1, "epoll_ctl");
			if (proto == PROTO_IRC) {
				char reg[128];
				int n = snprintf(reg, sizeof(reg),
				    "NICK m%d\r\nUSER m%d 0 * :bench\r\n",
				    opened, opened);
				send_all(m->fd, reg, (size_t)n);
			} else {
				m->joined = 1;
			}
			opened++;
		}
		pump(ep, 20, 0, NULL);
	}
	/* Join notices go by before anything is timed. */
	uint64_t quiet = now_ns();
	while (now_ns() - quiet < 500000000ull) {
		uint64_t before = deliveries;
		pump(ep, 100, 0, NULL);
		(void)before;
	}
	return (now_ns() - t0) / 1e9;
}

static void
send_line(int fd, unsigned sender, unsigned seq)
{
	char line[128];
	int n;

	if (proto == PROTO_IRC)
		n = snprintf(line, sizeof(line),
		    "PRIVMSG #bench :rlc %u %u %" PRIu64 "\r\n", sender, seq,
		    now_ns());
	else
		n = snprintf(line, sizeof(line), "rlc %u %u %" PRIu64 "\n",
		    sender, seq, now_ns());
	send_all(fd, line, (size_t)n);
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: room-compare [-p tcpchat|irc] [-c CLIENTS] [-a AT_ONCE] "
	    "[-s one|talkers] [-b LINES] [-t TALKERS] [-r RATE] [-d SECONDS] "
	    "HOST PORT\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	int at_once = 100, lines = 100, talkers = 50, opt;
	double rate = 10, seconds = 10;
	const char *scenario = "one";
	struct sockaddr_in sin;
	struct rlimit rl;

	nmembers = 1000;
	while ((opt = getopt(argc, argv, "p:c:a:s:b:t:r:d:")) != -1) {
		switch (opt) {
		case 'p':
			if (strcmp(optarg, "irc") == 0)
				proto = PROTO_IRC;
			else if (strcmp(optarg, "tcpchat") != 0)
				usage();
			break;
		case 'c':
			nmembers = atoi(optarg);
			break;
		case 'a':
			at_once = atoi(optarg);
			break;
		case 's':
			scenario = optarg;
			break;
		case 'b':
			lines = atoi(optarg);
			break;
		case 't':
			talkers = atoi(optarg);
			break;
		case 'r':
			rate = atof(optarg);
			break;
		case 'd':
			seconds = atof(optarg);
			break;
		default:
			usage();
		}
	}
	int one = strcmp(scenario, "one") == 0;
	if (argc - optind != 2 || nmembers < 2 || nmembers > MAX_CLIENTS ||
	    at_once < 1 || lines < 1 || talkers < 1 || talkers > nmembers ||
	    rate <= 0 || seconds <= 0 ||
	    (!one && strcmp(scenario, "talkers") != 0))
		usage();
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)atoi(argv[optind + 1]));
	if (inet_pton(AF_INET, argv[optind], &sin.sin_addr) != 1)
		errx(2, "HOST must be an IPv4 address");
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	int ep = epoll_create1(EPOLL_CLOEXEC);
	ms = calloc((size_t)nmembers, sizeof(*ms));
	samples = malloc(MAX_SAMPLES * sizeof(*samples));
	if (ep == -1 || ms == NULL || samples == NULL)
		err(1, "setup");
	double join_s = join_all(ep, &sin, at_once);
	nsamples = 0;
	deliveries = 0;

	const char *name = proto == PROTO_IRC ? "irc" : "tcpchat";
	if (one) {
		uint64_t *fan = malloc((size_t)lines * sizeof(*fan));
		long missing = 0;
		for (int seq = 1; seq <= lines; seq++) {
			uint64_t start = now_ns();
			int got = 0;
			send_line(ms[0].fd, 0, (unsigned)seq);
			while (got < nmembers - 1 &&
			    now_ns() - start < 5000000000ull)
				pump(ep, 100, (uint32_t)seq, &got);
			missing += nmembers - 1 - got;
			fan[seq - 1] = last_delivery_ns - start;
		}
		qsort(fan, (size_t)lines, sizeof(*fan), compare_u64);
		qsort(samples, nsamples, sizeof(*samples), compare_u64);
		printf("{\"proto\":\"%s\",\"scenario\":\"one\",\"members\":%d,"
		       "\"join_s\":%.3f,\"lines\":%d,\"missing\":%ld,"
		       "\"fanout_ms\":{\"p50\":%.3f,\"p99\":%.3f,\"max\":%.3f},"
		       "\"delivery_ms\":{\"p50\":%.3f,\"p99\":%.3f,\"max\":%.3f}}\n",
		    name, nmembers, join_s, lines, missing,
		    pct_ms(fan, (size_t)lines, 50), pct_ms(fan, (size_t)lines, 99),
		    fan[lines - 1] / 1e6, pct_ms(samples, nsamples, 50),
		    pct_ms(samples, nsamples, 99),
		    nsamples ? samples[nsamples - 1] / 1e6 : 0.0);
		return missing == 0 ? 0 : 1;
	}

	/* Talkers: member k sends at its own pace, spread over the period. */
	uint64_t period = (uint64_t)(1e9 / rate), start = now_ns();
	uint64_t end = start + (uint64_t)(seconds * 1e9);
	unsigned *sent = calloc((size_t)talkers, sizeof(*sent));
	uint64_t offered = 0;
	for (;;) {
		uint64_t t = now_ns();
		if (t >= end)
			break;
		for (int k = 0; k < talkers; k++) {
			uint64_t due = start + period * sent[k] +
			    period * (uint64_t)k / (uint64_t)talkers;
			if (t >= due) {
				send_line(ms[k].fd, (unsigned)k, ++sent[k]);
				offered += (uint64_t)nmembers - 1;
			}
		}
		pump(ep, 1, 0, NULL);
	}
	/* What is still on its way: wait until all came or nothing moves. */
	uint64_t quiet_since = now_ns(), stall_ms = DRAIN_TIMEOUT_MS;
	while (deliveries < offered &&
	    (now_ns() - quiet_since) / 1000000 < 2000 &&
	    (now_ns() - end) / 1000000 < stall_ms) {
		uint64_t before = deliveries;
		pump(ep, 100, 0, NULL);
		if (deliveries != before)
			quiet_since = now_ns();
	}
	qsort(samples, nsamples, sizeof(*samples), compare_u64);
	double behind = last_delivery_ns > end ? (last_delivery_ns - end) / 1e9
	                                       : 0;
	printf("{\"proto\":\"%s\",\"scenario\":\"talkers\",\"members\":%d,"
	       "\"join_s\":%.3f,\"talkers\":%d,\"rate\":%.1f,\"seconds\":%.1f,"
	       "\"offered\":%" PRIu64 ",\"delivered\":%" PRIu64 ","
	       "\"offered_per_s\":%.0f,\"delivered_per_s\":%.0f,"
	       "\"behind_s\":%.3f,"
	       "\"delivery_ms\":{\"p50\":%.3f,\"p99\":%.3f,\"max\":%.3f}}\n",
	    name, nmembers, join_s, talkers, rate, seconds, offered, deliveries,
	    offered / seconds, deliveries / (seconds + behind), behind,
	    pct_ms(samples, nsamples, 50), pct_ms(samples, nsamples, 99),
	    nsamples ? samples[nsamples - 1] / 1e6 : 0.0);
	return deliveries == offered ? 0 : 1;
}
