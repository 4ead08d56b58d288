/*
 * check_reliability.c - the real tcpchatd under attack (issue 17), each
 * case printing its figures: fan-out to clients that never read (RSS
 * against their number), a join storm (server CPU, an innocent member's
 * latency), exhaustion of address space and of threads (every client
 * served or told), counters after dropping slow readers, and
 * connect/reset churn against --max-clients (threads read from /proc).
 *
 * The assertions are properties with loose bounds, never speeds: the
 * figures are for reading (bench/attack runs these cases in an optimised
 * build and holds them to the targets).  Sanitizer builds run
 * smaller sizes, and say so.
 */
#include "config.h"

#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "io.h"
#include "testutil.h"

#ifdef TCPCHAT_SANITIZED
#define RELY_SANITIZED 1
#else
#define RELY_SANITIZED 0
#endif
/* ThreadSanitizer's shadow of every thread swamps the server's RSS. */
#if defined(__SANITIZE_THREAD__)
#define RELY_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define RELY_TSAN 1
#endif
#endif
#ifndef RELY_TSAN
#define RELY_TSAN 0
#endif

/* Sizes: the issue's, or smaller where a sanitizer slows everything. */
#define RELY_NONREADERS_SMALL (RELY_SANITIZED ? 60 : 250)
#define RELY_NONREADERS_LARGE (RELY_SANITIZED ? 240 : 1000)
#define RELY_JOINS (RELY_SANITIZED ? 750 : 3000)
#define RELY_EXHAUST_CLIENTS (RELY_SANITIZED ? 1000 : 3000)
/* Joined threads whose task the kernel has not yet let go. */
#define RELY_EXITING_SLACK 2
/* How often the innocent member talks; in a storm, to thousands. */
#define RELY_PING_MS 5
#define RELY_STORM_PING_MS 20
/* The attack: 24 lines of about 64 KiB (1.5 MiB in all). */
#define RELY_BIG_LINES 24
#define RELY_BIG_LINE 65000
#define RELY_LINES_AHEAD 4
/* What thread creation may use: a few hundred session threads. */
#define RELY_THREADS_ALLOWED 300
#define RELY_AS_HEADROOM ((rlim_t)RELY_THREADS_ALLOWED * 72 * 1024)

static const char rely_exhausted[] =
    "tcpchatd: error: cannot serve more clients now, try again later\n";

static void
rely_say_sizes(const char *what)
{
	if (RELY_SANITIZED)
		printf("reliability: %s: sanitizer build, sizes scaled down\n",
		    what);
}

/*
 * Raises the open-file limit for want clients (and some to spare):
 * how many clients it allows, said when fewer.
 */
static int
rely_clients_allowed(int want, const char *what)
{
	long limit = testutil_raise_nofile(want + 64);

	if (limit >= want + 64)
		return want;
	printf("reliability: %s: %ld clients only (open-file limit %ld)\n",
	    what, limit - 64, limit);
	return (int)limit - 64;
}

/* ---- lines from a byte stream --------------------------------------- */

/* Keeps the start of the line being read; longer lines are counted. */
struct rely_lines {
	char head[128];
	size_t len; /* bytes of the current line so far */
};

typedef void (*rely_line_fn)(
    void *ctx, const char *head, size_t shown, size_t len);

/* Splits buf into lines for fn (the head of each and its length). */
static void
rely_lines_push(
    struct rely_lines *l, const char *buf, size_t n, rely_line_fn fn, void *ctx)
{
	for (size_t i = 0; i < n; i++) {
		if (buf[i] == '\n') {
			size_t shown = l->len < sizeof(l->head) - 1
			    ? l->len
			    : sizeof(l->head) - 1;
			l->head[shown] = '\0';
			fn(ctx, l->head, shown, l->len);
			l->len = 0;
			continue;
		}
		if (l->len < sizeof(l->head) - 1)
			l->head[l->len] = buf[i];
		l->len++;
	}
}

/* ---- the console, read by a thread of its own ------------------------ */

/* What the console said so far, parsed. */
struct rely_console {
	struct testutil_chatd *d;
	pthread_t thread;
	pthread_mutex_t lock; /* guards everything below */
	pthread_cond_t changed;
	int eof;
	/* /stats */
	int stats_seen;
	long online, connections, refused, undelivered;
	long reported_at_stats; /* reported when /stats answered */
	/* "not delivered" reports, summed */
	long reported;
	int disconnected, too_slow, dropped_budget, refusals;
	char marker[64]; /* a line holding it sets marker_seen */
	int marker_seen;
};

/* The number just before what in line (as in "12 online"), or -1. */
static long
rely_number_before(const char *line, const char *what)
{
	const char *p = strstr(line, what);

	if (p == NULL)
		return -1;
	while (p > line && p[-1] >= '0' && p[-1] <= '9')
		p--;
	return atol(p);
}

/* One console line, parsed; called with c->lock held. */
static void
rely_console_line_locked(struct rely_console *c, const char *line)
{
	long n;

	if (strncmp(line, "up ", 3) == 0 && strstr(line, ", mode ")) {
		c->online = rely_number_before(line, " online, ");
		c->connections = rely_number_before(line, " connections, ");
		c->refused = rely_number_before(line, " refused");
	} else if (sscanf(line, "messages %*d in, %*d out, %ld undelivered",
	               &n) == 1) {
		c->undelivered = n;
		c->reported_at_stats = c->reported;
		c->stats_seen++;
	} else if (line[0] == '#' && strstr(line, ": not delivered (")) {
		c->reported++;
	} else if (line[0] == '#' &&
	    sscanf(line, "#%*u %*s %ld message", &n) == 1 &&
	    strstr(line, " not delivered (client gone")) {
		c->reported += n;
	} else if (strstr(line,
	               "tcpchatd: no memory for a message to "
	               "everyone: not delivered")) {
		c->reported++;
	}
	if (line[0] == '#' && strstr(line, " disconnected: ")) {
		c->disconnected++;
		if (strstr(line, " disconnected: too slow"))
			c->too_slow++;
	}
	if (line[0] == '#' && strstr(line, ": dropped, holding "))
		c->dropped_budget++;
	if (strstr(line, " refused: "))
		c->refusals++;
	if (c->marker[0] != '\0' && strstr(line, c->marker))
		c->marker_seen = 1;
}

static void
rely_console_on_line(void *ctx, const char *head, size_t shown, size_t len)
{
	struct rely_console *c = ctx;

	(void)shown;
	(void)len;
	pthread_mutex_lock(&c->lock);
	rely_console_line_locked(c, head);
	pthread_cond_broadcast(&c->changed);
	pthread_mutex_unlock(&c->lock);
}

static void *
rely_console_main(void *arg)
{
	struct rely_console *c = arg;
	struct rely_lines lines = {.len = 0};
	char buf[65536];
	ssize_t n;

	/* Blocking reads: the server's exit ends them. */
	while ((n = read(c->d->proc.out_fd, buf, sizeof(buf))) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			break;
		rely_lines_push(
		    &lines, buf, (size_t)n, rely_console_on_line, c);
	}
	pthread_mutex_lock(&c->lock);
	c->eof = 1;
	pthread_cond_broadcast(&c->changed);
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

/* Starts tcpchatd (child may be NULL) with its console read by a thread. */
static void
rely_start(struct rely_console *c, struct testutil_chatd *d, const char *mode,
    const char *const extra[], testutil_child_fn child, void *arg)
{
	/* These attacks measure the server, not its flood control. */
	const char *args[16] = {"--max-rate", "0"};
	size_t n = 2;

	for (; extra != NULL && extra[n - 2] != NULL; n++) {
		ck_assert_uint_lt(n, sizeof(args) / sizeof(args[0]) - 1);
		args[n] = extra[n - 2];
	}
	args[n] = NULL;
	memset(c, 0, sizeof(*c));
	testutil_chatd_start_with(d, mode, args, child, arg);
	c->d = d;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->changed, NULL);
	ck_assert_int_eq(
	    pthread_create(&c->thread, NULL, rely_console_main, c), 0);
}

/* Stops tcpchatd: it must exit 0 with nothing on stderr. */
static void
rely_stop(struct rely_console *c)
{
	kill(c->d->proc.pid, SIGTERM);
	pthread_join(c->thread, NULL);
	testutil_chatd_expect_clean_exit(c->d);
	pthread_cond_destroy(&c->changed);
	pthread_mutex_destroy(&c->lock);
}

/* Waits up to ms for *field (under c->lock) to reach at least want. */
static int
rely_wait_field(struct rely_console *c, const int *field, int want, int ms)
{
	struct timespec until = clock_deadline_ms(CLOCK_REALTIME, ms);
	int got;

	pthread_mutex_lock(&c->lock);
	while ((got = *field) < want && !c->eof &&
	    pthread_cond_timedwait(&c->changed, &c->lock, &until) == 0)
		;
	got = *field;
	pthread_mutex_unlock(&c->lock);
	return got;
}

/* Types /stats and waits for its answer: 1, or 0 if none came. */
static int
rely_stats(struct rely_console *c)
{
	pthread_mutex_lock(&c->lock);
	int before = c->stats_seen;
	pthread_mutex_unlock(&c->lock);
	testutil_chatd_type(c->d, "/stats");
	return rely_wait_field(c, &c->stats_seen, before + 1,
	           testutil_wait_ms(10000)) > before;
}

/* A figure from the last /stats, read under the lock. */
static long
rely_get(struct rely_console *c, const long *field)
{
	pthread_mutex_lock(&c->lock);
	long v = *field;
	pthread_mutex_unlock(&c->lock);
	return v;
}

/* Asks /stats until online is want (within ms): the last count. */
static long
rely_wait_online(struct rely_console *c, long want, int ms)
{
	uint64_t deadline = clock_now_ms() + (uint64_t)ms;
	long online = -1;

	do {
		if (!rely_stats(c))
			break;
		if ((online = rely_get(c, &c->online)) == want)
			break;
		poll(NULL, 0, 50); /* the pace of asking */
	} while (clock_ms_until(deadline) > 0);
	return online;
}

/* ---- clients ---------------------------------------------------------- */

/* A client; rcvbuf > 0 shrinks its receive buffer first.  Blocking. */
static int
rely_connect(int port, int rcvbuf)
{
	struct sockaddr_in sin = {
	    .sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (rcvbuf > 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	ck_assert_msg(connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0,
	    "connect: %s", strerror(errno));
	return fd;
}

/* Starts a non-blocking connect: the socket, or -1. */
static int
rely_connect_start(int port)
{
	struct sockaddr_in sin = {
	    .sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd == -1)
		return -1;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 &&
	    errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	return fd;
}

/* ---- an innocent member: round trips through the room ---------------- */

#define RELY_MAX_PINGS 100000

/*
 * Two room members: a says "rely-ping N", b waits to hear it; the time
 * between is one round trip through the server.  Both read everything
 * else too (they are readers, not victims), counting what b heard.
 */
struct rely_pinger {
	int a, b;
	pthread_t thread;
	atomic_int stop;
	int interval_ms; /* between round trips */
	atomic_int paused; /* no round trips now (still reading) */
	atomic_int recording; /* latencies and notices counted now */
	atomic_long big_lines; /* lines over 1000 bytes b heard */
	atomic_long notices; /* "tcpchatd: " lines b heard, recording */
	atomic_int marker_heard; /* b heard a line holding "rely-marker" */
	atomic_int pings; /* round trips done */
	/* after the thread ends */
	uint64_t *lat_us;
	size_t n;
	int lost;
	/* the thread's own */
	unsigned seq;
	int heard; /* b heard ping seq */
	struct rely_lines lines;
};

static void
rely_pinger_line(void *ctx, const char *head, size_t shown, size_t len)
{
	struct rely_pinger *p = ctx;
	char want[32];

	(void)shown;
	if (len > 1000)
		atomic_fetch_add(&p->big_lines, 1);
	if (strncmp(head, "tcpchatd: ", 10) == 0 && atomic_load(&p->recording))
		atomic_fetch_add(&p->notices, 1);
	if (strstr(head, "rely-marker") != NULL)
		atomic_store(&p->marker_heard, 1);
	snprintf(want, sizeof(want), ": rely-ping %u", p->seq);
	const char *at = strstr(head, want);
	if (at != NULL && at[strlen(want)] == '\0')
		p->heard = 1;
}

/*
 * Reads what a and b have (a's bytes thrown away) until b heard ping
 * p->seq or ms pass.  Returns 1 if heard, 0 if not, -1 if either closed.
 */
static int
rely_pinger_listen(struct rely_pinger *p, int ms, int until_heard)
{
	uint64_t deadline = clock_now_ms() + (uint64_t)ms;
	char buf[65536];

	for (;;) {
		struct pollfd pfd[2] = {{.fd = p->a, .events = POLLIN},
		    {.fd = p->b, .events = POLLIN}};
		if (until_heard && p->heard)
			return 1;
		int left = clock_ms_until(deadline);
		if (left == 0 || atomic_load(&p->stop))
			return until_heard ? 0 : 1;
		if (poll(pfd, 2, left < 20 ? left : 20) <= 0)
			continue;
		for (int i = 0; i < 2; i++) {
			if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			ssize_t n = read(pfd[i].fd, buf, sizeof(buf));
			if (n <= 0)
				return -1;
			if (i == 1)
				rely_lines_push(&p->lines, buf, (size_t)n,
				    rely_pinger_line, p);
		}
	}
}

static void *
rely_pinger_main(void *arg)
{
	struct rely_pinger *p = arg;
	char line[64];

	while (!atomic_load(&p->stop)) {
		if (atomic_load(&p->paused)) {
			if (rely_pinger_listen(p, 10, 0) == -1)
				break;
			continue;
		}
		int n =
		    snprintf(line, sizeof(line), "rely-ping %u\n", ++p->seq);
		p->heard = 0;
		uint64_t sent = clock_now_ns();
		if (io_write_full(p->a, line, (size_t)n) != n)
			break;
		int rc = rely_pinger_listen(p, testutil_wait_ms(10000), 1);
		uint64_t took = (clock_now_ns() - sent) / 1000;
		if (rc == -1)
			break;
		if (atomic_load(&p->recording)) {
			if (rc == 1 && p->n < RELY_MAX_PINGS)
				p->lat_us[p->n++] = took;
			else if (rc == 0)
				p->lost++;
		}
		atomic_fetch_add(&p->pings, 1);
		/* A member talking now and then, not a flood. */
		if (rely_pinger_listen(p, p->interval_ms, 0) == -1)
			break;
	}
	return NULL;
}

/* Two members join (ids in order) and talk every interval_ms. */
static void
rely_pinger_start(struct rely_pinger *p, int port, int interval_ms)
{
	memset(p, 0, sizeof(*p));
	p->interval_ms = interval_ms;
	p->lat_us = calloc(RELY_MAX_PINGS, sizeof(*p->lat_us));
	ck_assert_ptr_nonnull(p->lat_us);
	p->a = rely_connect(port, 0);
	p->b = rely_connect(port, 0);
	ck_assert_int_eq(
	    pthread_create(&p->thread, NULL, rely_pinger_main, p), 0);
}

/* Waits (bounded) until n more round trips were done: 1 if so. */
static int
rely_pinger_wait(struct rely_pinger *p, int n)
{
	int want = atomic_load(&p->pings) + n;
	uint64_t deadline = clock_now_ms() + (uint64_t)testutil_wait_ms(20000);

	while (atomic_load(&p->pings) < want && clock_ms_until(deadline) > 0)
		poll(NULL, 0, 10); /* a counter: nothing to wait on */
	return atomic_load(&p->pings) >= want;
}

static void
rely_pinger_stop(struct rely_pinger *p)
{
	atomic_store(&p->stop, 1);
	pthread_join(p->thread, NULL);
	close(p->a);
	close(p->b);
}

static int
rely_by_value(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

	return a < b ? -1 : a > b;
}

/* Latency figures of what was recorded, in ms. */
struct rely_latency {
	double p50, p99, max;
	size_t n;
	int lost;
};

static struct rely_latency
rely_pinger_figures(struct rely_pinger *p)
{
	struct rely_latency l = {0, 0, 0, p->n, p->lost};

	qsort(p->lat_us, p->n, sizeof(*p->lat_us), rely_by_value);
	if (p->n > 0) {
		l.p50 = (double)p->lat_us[(p->n - 1) / 2] / 1000.0;
		l.p99 = (double)p->lat_us[(p->n * 99 + 99) / 100 - 1] / 1000.0;
		l.max = (double)p->lat_us[p->n - 1] / 1000.0;
	}
	free(p->lat_us);
	p->lat_us = NULL;
	return l;
}

/* ---- 1. memory under fan-out to clients that never read -------------- */

struct rely_amplification {
	int nonreaders;
	long before, peak, after; /* RSS, KiB */
	struct rely_latency innocent;
	double seconds;
};

/* Waits until the server has at most want threads: how many it has. */
static int
rely_wait_threads(pid_t pid, int want)
{
	uint64_t deadline = clock_now_ms() + (uint64_t)testutil_wait_ms(20000);
	int n;

	while ((n = testutil_proc_threads(pid)) > want &&
	    clock_ms_until(deadline) > 0)
		poll(NULL, 0, 20); /* polling /proc: nothing to wait on */
	return n;
}

/*
 * A room of nonreaders clients that never read (small receive
 * buffers), one sender of RELY_BIG_LINES lines of RELY_BIG_LINE bytes
 * (the operator's /all with via_operator), two innocent members
 * talking.  Every non-reader must be dropped as too slow, the innocent
 * ones must hear everything.
 */
static void
rely_amplify(int nonreaders, int via_operator, struct rely_amplification *out)
{
	const char *const *extra = NULL;
	struct testutil_chatd d;
	struct rely_console c;
	struct rely_pinger p;
	int *fds = calloc((size_t)nonreaders, sizeof(int)), sender = -1;
	char *line = malloc(RELY_BIG_LINE + 8);

	ck_assert_ptr_nonnull(fds);
	ck_assert_ptr_nonnull(line);
	/*
	 * Under ASan, freed memory is held back (the quarantine) so that a
	 * use after free shows: RSS would count every allocation ever
	 * freed.  This server frees at once, as a release build does.
	 */
	const char *asan = getenv("ASAN_OPTIONS");
	char *saved = asan != NULL ? strdup(asan) : NULL, opts[512];
	snprintf(opts, sizeof(opts), "%s%squarantine_size_mb=0",
	    asan != NULL ? asan : "", asan != NULL && *asan ? ":" : "");
	setenv("ASAN_OPTIONS", opts, 1);
	rely_start(&c, &d, "room", extra, NULL, NULL);
	if (saved != NULL)
		setenv("ASAN_OPTIONS", saved, 1);
	else
		unsetenv("ASAN_OPTIONS");
	free(saved);
	rely_pinger_start(&p, d.port, RELY_PING_MS);
	if (!via_operator)
		sender = rely_connect(d.port, 0);
	for (int i = 0; i < nonreaders; i++)
		fds[i] = rely_connect(d.port, 4096);
	long members = nonreaders + 2 + (via_operator ? 0 : 1);
	ck_assert_int_eq(
	    rely_wait_online(&c, members, testutil_wait_ms(30000)), members);
	/* The server's own threads, besides one for each client. */
	int base_threads = testutil_proc_threads(d.proc.pid) - (int)members;
	/* Joined and talked: the storm of joins is over. */
	ck_assert(rely_pinger_wait(&p, 20));
	out->nonreaders = nonreaders;
	out->before = testutil_proc_status(d.proc.pid, "VmRSS");
	int reset = testutil_proc_reset_peak(d.proc.pid) == 0;
	long sampled = out->before;
	atomic_store(&p.recording, 1);

	uint64_t start = clock_now_ms();
	int n = 0;
	if (via_operator)
		n = snprintf(line, 8, "/all ");
	memset(line + n, 'a' + via_operator, RELY_BIG_LINE);
	line[n + RELY_BIG_LINE] = '\n';
	for (int i = 0; i < RELY_BIG_LINES; i++) {
		/*
		 * As fast as an innocent member hears them (a few lines
		 * ahead): one that reads is never too slow, even on a
		 * loaded machine, while the rest never read at all.
		 */
		uint64_t until =
		    clock_now_ms() + (uint64_t)testutil_wait_ms(20000);
		while (atomic_load(&p.big_lines) < i - RELY_LINES_AHEAD &&
		    clock_ms_until(until) > 0)
			poll(NULL, 0, 1); /* a counter: nothing to wait on */
		ck_assert_int_eq(
		    io_write_full(via_operator ? d.proc.in_fd : sender, line,
		        (size_t)n + RELY_BIG_LINE + 1),
		    n + RELY_BIG_LINE + 1);
	}
	/*
	 * Over when the innocent heard it all and the rest are dropped: as
	 * the console says one by one, or (a slow reader of the console
	 * loses lines, and is told how many) as /stats counts who is left:
	 * the pinger's two connections, and the sender.
	 */
	long left = via_operator ? 2 : 3;
	int gone = 0;
	uint64_t deadline = clock_now_ms() + (uint64_t)testutil_wait_ms(60000);
	while (
	    (atomic_load(&p.big_lines) < RELY_BIG_LINES ||
	        !(gone = rely_wait_field(&c, &c.too_slow, nonreaders, 10) >=
	                    nonreaders ||
	                (rely_stats(&c) && rely_get(&c, &c.online) <= left))) &&
	    clock_ms_until(deadline) > 0) {
		long rss = testutil_proc_status(d.proc.pid, "VmRSS");
		if (rss > sampled)
			sampled = rss;
	}
	out->seconds = (double)(clock_now_ms() - start) / 1000.0;
	atomic_store(&p.recording, 0);
	long hwm = reset ? testutil_proc_status(d.proc.pid, "VmHWM") : 0;
	out->peak = hwm > sampled ? hwm : sampled;
	rely_pinger_stop(&p);
	out->innocent = rely_pinger_figures(&p);
	ck_assert_msg(atomic_load(&p.big_lines) >= RELY_BIG_LINES,
	    "the innocent member heard %ld of %d long lines",
	    atomic_load(&p.big_lines), RELY_BIG_LINES);
	ck_assert_msg(gone,
	    "%d of %d non-readers reported dropped, %ld online at the end",
	    rely_wait_field(&c, &c.too_slow, nonreaders, 0), nonreaders,
	    rely_get(&c, &c.online));
	ck_assert_msg(
	    out->innocent.lost == 0, "%d pings lost", out->innocent.lost);
	rely_wait_threads(d.proc.pid, base_threads + (via_operator ? 0 : 1));
	out->after = testutil_proc_status(d.proc.pid, "VmRSS");
	printf("reliability: %s to %4d non-readers: RSS %ld KiB before, "
	       "%ld peak (+%ld), %ld after; %.1f s; innocent round trip "
	       "p50 %.2f ms, p99 %.2f ms, max %.2f ms (%zu)%s\n",
	    via_operator ? "operator /all" : "room line", nonreaders,
	    out->before, out->peak, out->peak - out->before, out->after,
	    out->seconds, out->innocent.p50, out->innocent.p99,
	    out->innocent.max, out->innocent.n,
	    reset ? "" : " (peak sampled: clear_refs refused)");
	fflush(stdout);
	if (sender != -1)
		close(sender);
	testutil_close_many(nonreaders, fds);
	free(fds);
	free(line);
	rely_stop(&c);
}

/*
 * Each line is stored once whoever it goes to: the peak RSS grows by
 * much less for each extra non-reader than a copy for each would cost
 * (16 lines, up to --max-queue, before it is dropped): less than 4
 * lines, which leaves room for a sanitizer's larger stacks and
 * quarantine.
 */
static void
rely_amplification_case(int via_operator)
{
	struct rely_amplification small, large;

	rely_say_sizes("amplification");
	ck_assert_int_eq(
	    rely_clients_allowed(RELY_NONREADERS_LARGE, "amplification"),
	    RELY_NONREADERS_LARGE);
	rely_amplify(RELY_NONREADERS_SMALL, via_operator, &small);
	rely_amplify(RELY_NONREADERS_LARGE, via_operator, &large);
	long extra = (large.peak - large.before) - (small.peak - small.before);
	long per = extra / (RELY_NONREADERS_LARGE - RELY_NONREADERS_SMALL);
	printf("reliability: %s: %+ld KiB of peak RSS for %d more "
	       "non-readers (%ld KiB each; a line is %d KiB, a copy for "
	       "each would be about 1 MiB)\n",
	    via_operator ? "operator /all" : "room line", extra,
	    RELY_NONREADERS_LARGE - RELY_NONREADERS_SMALL, per,
	    RELY_BIG_LINE / 1024);
	if (RELY_TSAN) {
		printf("reliability: %s: RSS not judged: ThreadSanitizer's "
		       "memory for each thread outweighs the server's own\n",
		    via_operator ? "operator /all" : "room line");
		fflush(stdout);
		return;
	}
	fflush(stdout);
	ck_assert_msg(per < 4 * RELY_BIG_LINE / 1024,
	    "RSS grows by %ld KiB per non-reader", per);
}

START_TEST(test_fanout_memory_does_not_scale_with_nonreaders)
{
	rely_amplification_case(0);
}
END_TEST

START_TEST(test_operator_fanout_memory_does_not_scale)
{
	rely_amplification_case(1);
}
END_TEST

/* ---- 2. a join storm ------------------------------------------------- */

/* Many clients that read and throw away what they hear (epoll). */
struct rely_crowd {
	int *fds;
	int n;
	int ep;
};

/* n clients start connecting at once. */
static void
rely_crowd_open(struct rely_crowd *cr, int port, int n)
{
	cr->fds = malloc((size_t)n * sizeof(int));
	ck_assert_ptr_nonnull(cr->fds);
	cr->n = n;
	ck_assert_int_ge(cr->ep = epoll_create1(EPOLL_CLOEXEC), 0);
	for (int i = 0; i < n; i++) {
		struct epoll_event ev = {
		    .events = EPOLLIN, .data.u32 = (uint32_t)i};
		ck_assert_int_ge(cr->fds[i] = rely_connect_start(port), 0);
		ck_assert_int_eq(
		    epoll_ctl(cr->ep, EPOLL_CTL_ADD, cr->fds[i], &ev), 0);
	}
}

/* Reads what arrives for up to ms. */
static void
rely_crowd_drain(struct rely_crowd *cr, int ms)
{
	struct epoll_event ev[256];
	char buf[4096];
	int n = epoll_wait(cr->ep, ev, 256, ms);

	for (int i = 0; i < n; i++) {
		int fd = cr->fds[ev[i].data.u32];
		ssize_t r = read(fd, buf, sizeof(buf));
		if (r == 0 || (r == -1 && errno != EAGAIN && errno != EINTR))
			epoll_ctl(cr->ep, EPOLL_CTL_DEL, fd, NULL);
	}
}

static void
rely_crowd_close(struct rely_crowd *cr)
{
	testutil_close_many(cr->n, cr->fds);
	close(cr->ep);
	free(cr->fds);
	cr->n = 0;
}

/*
 * Waits until the server's CPU time stops growing (no more than 10 ms
 * in 300 ms), the crowd (if any) reading meanwhile.  Returns its CPU
 * time then.
 */
static long
rely_settle_cpu(pid_t pid, struct rely_crowd *cr)
{
	uint64_t deadline = clock_now_ms() + (uint64_t)testutil_wait_ms(30000);
	long last = testutil_proc_cpu_ms(pid);
	uint64_t since = clock_now_ms();

	while (clock_ms_until(deadline) > 0) {
		if (cr->n > 0)
			rely_crowd_drain(cr, 10);
		else
			poll(NULL, 0, 10); /* CPU time: nothing to wait on */
		if (clock_now_ms() - since < 300)
			continue;
		long now = testutil_proc_cpu_ms(pid);
		if (now - last <= 10)
			return now;
		last = now;
		since = clock_now_ms();
	}
	return last;
}

/* Rounds of a storm: TCPCHAT_ATTACK_ROUNDS (bench/attack), else 1. */
static int
rely_rounds(void)
{
	const char *v = getenv("TCPCHAT_ATTACK_ROUNDS");
	int n = v != NULL ? atoi(v) : 1;

	return n < 1 ? 1 : n > 20 ? 20 : n;
}

/*
 * joins clients join at once, and (once the server is idle again) all
 * leave at once, the innocent pair talking through the joins.  Prints
 * the round's figures and checks its notices.
 */
static void
rely_storm_round(struct rely_console *c, struct testutil_chatd *d,
    struct rely_pinger *p, int joins, int round)
{
	struct rely_crowd crowd = {0};

	atomic_store(&p->notices, 0);
	atomic_store(&p->paused, 0);
	ck_assert(rely_pinger_wait(p, 5));
	long cpu0 = testutil_proc_cpu_ms(d->proc.pid);
	uint64_t start = clock_now_ms();
	atomic_store(&p->recording, 1);
	rely_crowd_open(&crowd, d->port, joins);
	/* Everyone in... */
	long online = 0;
	uint64_t deadline = clock_now_ms() + (uint64_t)testutil_wait_ms(60000);
	while (online != joins + 2 && clock_ms_until(deadline) > 0) {
		rely_crowd_drain(&crowd, 100);
		if (rely_stats(c))
			online = rely_get(c, &c->online);
	}
	ck_assert_int_eq(online, joins + 2);
	/* ...and told: the server has nothing left to do. */
	atomic_store(&p->paused, 1);
	long cpu1 = rely_settle_cpu(d->proc.pid, &crowd);
	double took = (double)(clock_now_ms() - start) / 1000.0;
	atomic_store(&p->recording, 0);
	long notices = atomic_load(&p->notices);

	/* And all leave at once. */
	long cpu2 = testutil_proc_cpu_ms(d->proc.pid);
	rely_crowd_close(&crowd);
	ck_assert_int_eq(rely_wait_online(c, 2, testutil_wait_ms(60000)), 2);
	long cpu3 = rely_settle_cpu(d->proc.pid, &crowd);
	printf("reliability: join storm %d: %d joins in %.1f s: server CPU "
	       "%.2f s; a member heard %ld notices; all leaving: CPU %.2f s\n",
	    round, joins, took, (double)(cpu1 - cpu0) / 1000.0, notices,
	    (double)(cpu3 - cpu2) / 1000.0);
	fflush(stdout);
	/*
	 * O(1) per event, and one line per 100 ms while the storm lasts:
	 * the first 10 joins one by one, then a summary each 100 ms.
	 */
	long windows = (long)(took * 10.0) + 2;
	ck_assert_msg(notices <= 10 + windows,
	    "%ld notices for %d joins in %.1f s", notices, joins, took);
}

START_TEST(test_join_storm)
{
	const char *extra[] = {"-q", NULL};
	struct testutil_chatd d;
	struct rely_console c;
	struct rely_pinger p;
	int rounds = rely_rounds();

	rely_say_sizes("join storm");
	int joins = rely_clients_allowed(RELY_JOINS, "join storm");
	rely_start(&c, &d, "room", extra, NULL, NULL);
	/* A member talking now and then: each line goes to everyone. */
	rely_pinger_start(&p, d.port, RELY_STORM_PING_MS);
	ck_assert_int_eq(rely_wait_online(&c, 2, testutil_wait_ms(10000)), 2);
	ck_assert(rely_pinger_wait(&p, 20));
	for (int r = 1; r <= rounds; r++)
		rely_storm_round(&c, &d, &p, joins, r);
	atomic_store(&p.paused, 0);
	ck_assert(rely_pinger_wait(&p, 1));
	rely_pinger_stop(&p);
	struct rely_latency l = rely_pinger_figures(&p);
	printf("reliability: join storm: innocent round trip during the "
	       "joins: p50 %.2f ms, p99 %.2f ms, max %.2f ms (%zu round "
	       "trips, %d rounds)\n",
	    l.p50, l.p99, l.max, l.n, rounds);
	fflush(stdout);
	ck_assert_msg(l.lost == 0, "%d pings lost in the storm", l.lost);
	rely_stop(&c);
}
END_TEST

/* ---- 3. exhaustion: every client served or told ---------------------- */

/* What became of one client. */
enum rely_fate {
	RELY_CONNECTING,
	RELY_WAITING, /* connected, no verdict yet */
	RELY_HEARD, /* room: heard the room, not yet the roll call */
	RELY_SERVED,
	RELY_TOLD,
	RELY_SILENT, /* closed without the notice */
	RELY_WRONG, /* got bytes it should not have */
	RELY_UNCONNECTED
};

struct rely_client {
	int fd;
	enum rely_fate fate;
	size_t got;
	char buf[sizeof(rely_exhausted) + 64];
	struct rely_lines lines;
	int roll_call; /* heard the roll call */
};

static void
rely_client_line(void *ctx, const char *head, size_t shown, size_t len)
{
	struct rely_client *cl = ctx;

	(void)shown;
	(void)len;
	if (strstr(head, ": roll call") != NULL)
		cl->roll_call = 1;
}

/* Whether b[0..n) starts want (or all of want, when whole). */
static int
rely_prefix(const char *b, size_t n, const char *want, int whole)
{
	size_t w = strlen(want);

	return whole ? n == w && memcmp(b, want, w) == 0
	             : n <= w && memcmp(b, want, n) == 0;
}

/* Bytes (or the end) arrived for cl: its verdict, as far as known. */
static void
rely_client_read(struct rely_client *cl, int room)
{
	char buf[4096];
	ssize_t n = read(cl->fd, buf, sizeof(buf));

	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		cl->fate = rely_prefix(cl->buf, cl->got, rely_exhausted, 1)
		    ? RELY_TOLD
		    : RELY_SILENT;
		close(cl->fd);
		cl->fd = -1;
		return;
	}
	if (cl->fate == RELY_HEARD) {
		rely_lines_push(
		    &cl->lines, buf, (size_t)n, rely_client_line, cl);
		if (cl->roll_call)
			cl->fate = RELY_SERVED;
		return;
	}
	size_t before = cl->got,
	       take = (size_t)n < sizeof(cl->buf) - cl->got
	    ? (size_t)n
	    : sizeof(cl->buf) - cl->got;
	memcpy(cl->buf + cl->got, buf, take);
	cl->got += take;
	if (!room && rely_prefix(cl->buf, cl->got, "ping\n", 1))
		cl->fate = RELY_SERVED;
	else if (rely_prefix(cl->buf, cl->got, rely_exhausted, 0) ||
	    (!room && rely_prefix(cl->buf, cl->got, "ping\n", 0)))
		; /* more to come */
	else if (room) {
		/* It hears the room: served, once the roll call comes. */
		cl->fate = RELY_HEARD;
		/* All of it: a welcome may be longer than cl->buf. */
		rely_lines_push(
		    &cl->lines, cl->buf, before, rely_client_line, cl);
		rely_lines_push(
		    &cl->lines, buf, (size_t)n, rely_client_line, cl);
		if (cl->roll_call)
			cl->fate = RELY_SERVED;
	} else
		cl->fate = RELY_WRONG;
}

/* A connect finished (or failed): echo clients say ping at once. */
static void
rely_client_connected(struct rely_client *cl, int room)
{
	int err = 0;
	socklen_t len = sizeof(err);

	getsockopt(cl->fd, SOL_SOCKET, SO_ERROR, &err, &len);
	if (err != 0) {
		close(cl->fd);
		cl->fd = -1;
		cl->fate = RELY_UNCONNECTED;
		return;
	}
	cl->fate = RELY_WAITING;
	if (!room)
		(void)!send(cl->fd, "ping\n", 5, MSG_NOSIGNAL);
}

/* Whether cl still waits for its verdict. */
static int
rely_client_pending(const struct rely_client *cl)
{
	return cl->fd >= 0 && cl->fate != RELY_SERVED;
}

/* One round of events for the clients (10 ms at most). */
static void
rely_clients_poll(struct rely_client *cl, int n, struct pollfd *pfd, int room)
{
	int m = 0;

	for (int i = 0; i < n; i++)
		if (rely_client_pending(&cl[i]))
			pfd[m++] = (struct pollfd){.fd = cl[i].fd,
			    .events = cl[i].fate == RELY_CONNECTING ? POLLOUT
			                                            : POLLIN};
	if (m == 0 || poll(pfd, (nfds_t)m, 10) <= 0)
		return;
	for (int i = 0, j = 0; i < n; i++) {
		if (!rely_client_pending(&cl[i]))
			continue;
		short ev = pfd[j++].revents;
		if (ev == 0)
			continue;
		if (cl[i].fate == RELY_CONNECTING)
			rely_client_connected(&cl[i], room);
		else
			rely_client_read(&cl[i], room);
	}
}

/* How many clients met fate. */
static int
rely_count(const struct rely_client *cl, int n, enum rely_fate fate)
{
	int k = 0;

	for (int i = 0; i < n; i++)
		k += cl[i].fate == fate;
	return k;
}

/* A limit for the server, set in its child before exec. */
struct rely_limit {
	int resource; /* RLIMIT_AS or RLIMIT_NPROC */
	rlim_t value;
	uid_t uid; /* become this user first (0: stay) */
	gid_t gid;
};

static void
rely_child_limit(void *arg)
{
	const struct rely_limit *l = arg;
	struct rlimit rl = {l->value, l->value};
	static const char why[] = "cannot set the limit or the user\n";

	if (setrlimit(l->resource, &rl) == -1 ||
	    (l->uid != 0 &&
	        (setgroups(0, NULL) == -1 || setgid(l->gid) == -1 ||
	            setuid(l->uid) == -1))) {
		(void)!write(2, why, sizeof(why) - 1);
		_exit(127);
	}
}

/*
 * clients connect to a tcpchatd under limit at once (echo clients say
 * ping, room clients listen and, at the end, hear a roll call): each
 * must be served or told rely_exhausted, and nothing else.
 */
static void
rely_exhaust(const char *mode, struct rely_limit *limit, const char *what)
{
	int room = strcmp(mode, "room") == 0, clients = RELY_EXHAUST_CLIENTS;
	struct testutil_chatd d;
	struct rely_console c;

	clients = rely_clients_allowed(clients, "exhaustion");
	struct rely_client *cl = calloc((size_t)clients, sizeof(*cl));
	struct pollfd *pfd = calloc((size_t)clients, sizeof(*pfd));
	ck_assert_ptr_nonnull(cl);
	ck_assert_ptr_nonnull(pfd);
	rely_start(&c, &d, mode, NULL, rely_child_limit, limit);
	ck_assert(rely_stats(&c));
	for (int i = 0; i < clients; i++) {
		cl[i].fd = rely_connect_start(d.port);
		cl[i].fate = cl[i].fd >= 0 ? RELY_CONNECTING : RELY_UNCONNECTED;
	}
	/* Until the server has decided on every one of them... */
	uint64_t deadline = clock_now_ms() + (uint64_t)testutil_wait_ms(60000);
	long decided = 0;
	while (decided < clients && clock_ms_until(deadline) > 0) {
		for (int i = 0; i < 20; i++)
			rely_clients_poll(cl, clients, pfd, room);
		if (rely_stats(&c))
			decided = rely_get(&c, &c.connections) +
			    rely_get(&c, &c.refused);
	}
	/*
	 * ...then every verdict must arrive; in a room the served hear a
	 * roll call from one of them (one that heard the room already).
	 */
	int speaker = -1;
	for (int pass = 0; room && pass < 2 && speaker == -1; pass++)
		for (int i = 0; i < clients && speaker == -1; i++)
			if (cl[i].fd >= 0 &&
			    (pass == 0 ? cl[i].fate == RELY_HEARD
			               : cl[i].fate == RELY_WAITING))
				speaker = i;
	if (speaker != -1)
		testutil_send_str(cl[speaker].fd, "roll call\n");
	deadline = clock_now_ms() + (uint64_t)testutil_wait_ms(10000);
	while (clock_ms_until(deadline) > 0) {
		int pending = 0;
		rely_clients_poll(cl, clients, pfd, room);
		for (int i = 0; i < clients; i++)
			pending += rely_client_pending(&cl[i]) && i != speaker;
		if (pending == 0)
			break;
	}
	if (speaker != -1 && cl[speaker].fd >= 0)
		cl[speaker].fate = RELY_SERVED; /* it spoke: it was heard */
	int served = rely_count(cl, clients, RELY_SERVED),
	    told = rely_count(cl, clients, RELY_TOLD);
	int silent = rely_count(cl, clients, RELY_SILENT),
	    wrong = rely_count(cl, clients, RELY_WRONG),
	    unconnected = rely_count(cl, clients, RELY_UNCONNECTED);
	int hung = clients - served - told - silent - wrong - unconnected;
	printf("reliability: exhaustion under %s, %s mode: %d clients: %d "
	       "served, %d told; %d neither (%d closed silently, %d heard "
	       "what they should not, %d could not connect, %d hung); "
	       "the server decided on %ld\n",
	    what, mode, clients, served, told,
	    silent + wrong + unconnected + hung, silent, wrong, unconnected,
	    hung, decided);
	for (int i = 0, shown = 0; i < clients && shown < 3; i++)
		if (cl[i].fate == RELY_SILENT || cl[i].fate == RELY_WRONG) {
			printf("reliability:   one got \"%s\"\n",
			    testutil_visible(cl[i].buf, cl[i].got));
			shown++;
		}
	fflush(stdout);
	ck_assert_msg(served + told == clients,
	    "%d of %d clients neither served nor told", clients - served - told,
	    clients);
	ck_assert_msg(told > 0, "the limit was never reached");
	ck_assert_msg(served > 0, "nobody was served");
	for (int i = 0; i < clients; i++)
		if (cl[i].fd >= 0)
			close(cl[i].fd);
	free(cl);
	free(pfd);
	rely_stop(&c);
}

/*
 * Address space pid maps, less the reservations of malloc's thread
 * arenas (64 MiB each, inaccessible but for what they use): under a
 * limit this much over it no arena fits, so none is made, and no thread
 * trying to make one holds 64 MiB for a moment that others then lack.
 */
static long
rely_mapped_without_arenas(pid_t pid)
{
	char path[64], line[512];
	unsigned long from, to, total = 0;
	char perms[8];

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	FILE *f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "%lx-%lx %7s", &from, &to, perms) == 3 &&
		    !(strcmp(perms, "---p") == 0 && to - from >= (16ul << 20)))
			total += to - from;
	fclose(f);
	return (long)total;
}

START_TEST(test_exhaustion_address_space)
{
	if (RELY_SANITIZED) {
		printf("reliability: exhaustion under RLIMIT_AS: skipped: a "
		       "sanitizer reserves terabytes of address space for its "
		       "shadow memory, so no address-space limit lets it "
		       "start\n");
		return;
	}
	/* How much the server maps idle; a few hundred threads' more. */
	struct testutil_chatd d;
	struct rely_console c;
	const char *modes[] = {"echo", "room"};

	for (int i = 0; i < 2; i++) {
		rely_start(&c, &d, modes[i], NULL, NULL, NULL);
		ck_assert(rely_stats(&c));
		long idle = rely_mapped_without_arenas(d.proc.pid);
		rely_stop(&c);
		struct rely_limit l = {
		    RLIMIT_AS, (rlim_t)idle + RELY_AS_HEADROOM, 0, 0};
		char what[64];
		snprintf(what, sizeof(what), "RLIMIT_AS %ld MiB",
		    (long)(l.value >> 20));
		rely_exhaust(modes[i], &l, what);
	}
}
END_TEST

/* Whether uid can run the server binary (tried in a child as uid). */
static int
rely_can_run_as(uid_t uid, gid_t gid)
{
	const char *path = testutil_program("tcpchatd");
	pid_t pid = fork();
	int status;

	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		if (setgroups(0, NULL) == -1 || setgid(gid) == -1 ||
		    setuid(uid) == -1)
			_exit(2);
		_exit(access(path, X_OK) == 0 ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

START_TEST(test_exhaustion_threads)
{
	const char *modes[] = {"echo", "room"};
	struct passwd *pw;
	char what[96];

	if (geteuid() != 0) {
		printf("reliability: exhaustion under RLIMIT_NPROC: skipped: "
		       "not root, and the limit counts every process of this "
		       "user (other tests running now included); as root the "
		       "server runs as nobody\n");
		return;
	}
	/* Root is not held to RLIMIT_NPROC: the server becomes nobody. */
	uid_t uid = (pw = getpwnam("nobody")) != NULL ? pw->pw_uid : 65534;
	gid_t gid = pw != NULL ? pw->pw_gid : 65534;
	if (!rely_can_run_as(uid, gid)) {
		printf("reliability: exhaustion under RLIMIT_NPROC: skipped: "
		       "nobody (uid %d) cannot run %s\n",
		    (int)uid, testutil_program("tcpchatd"));
		return;
	}
	for (int i = 0; i < 2; i++) {
		struct rely_limit l = {
		    RLIMIT_NPROC, RELY_THREADS_ALLOWED, uid, gid};
		snprintf(what, sizeof(what), "RLIMIT_NPROC %d (as uid %d)",
		    RELY_THREADS_ALLOWED, (int)uid);
		rely_exhaust(modes[i], &l, what);
	}
}
END_TEST

/* ---- 6. counters agree after dropping slow readers ------------------- */

/*
 * Clients that never read, in a room with a talker: they are dropped
 * (queue full, or the budget), and /stats must count as many
 * undelivered messages as the console reported, one by one.
 */
static void
rely_counters(const char *const extra[], const char *what)
{
	enum { SLOW = 41, LINES = 400, TEXT = 2000 };
	struct testutil_chatd d;
	struct rely_console c;
	int slow[SLOW];
	char line[TEXT + 1];

	rely_start(&c, &d, "room", extra, NULL, NULL);
	int talker = rely_connect(d.port, 0);
	for (int i = 0; i < SLOW; i++)
		slow[i] = rely_connect(d.port, 4096);
	ck_assert_int_eq(
	    rely_wait_online(&c, SLOW + 1, testutil_wait_ms(10000)), SLOW + 1);
	memset(line, 'y', TEXT);
	line[TEXT] = '\n';
	for (int i = 0; i < LINES; i++)
		ck_assert_int_eq(
		    io_write_full(talker, line, sizeof(line)), sizeof(line));
	ck_assert_int_eq(
	    rely_wait_field(&c, &c.disconnected, SLOW, testutil_wait_ms(30000)),
	    SLOW);
	/*
	 * All the slow ones are gone, their reports printed first.  The
	 * console shows the talker's last word before it is relayed, so
	 * after every report of its earlier lines.
	 */
	pthread_mutex_lock(&c.lock);
	snprintf(c.marker, sizeof(c.marker), ": rely-marker");
	pthread_mutex_unlock(&c.lock);
	testutil_send_str(talker, "rely-marker\n");
	ck_assert_int_eq(
	    rely_wait_field(&c, &c.marker_seen, 1, testutil_wait_ms(10000)), 1);
	ck_assert(rely_stats(&c));
	long stats = rely_get(&c, &c.undelivered),
	     reported = rely_get(&c, &c.reported_at_stats);
	printf("reliability: counters (%s): %d slow readers dropped (%d by "
	       "the budget): the console reported %ld undelivered, /stats "
	       "says %ld\n",
	    what, SLOW, rely_wait_field(&c, &c.dropped_budget, 0, 0), reported,
	    stats);
	fflush(stdout);
	ck_assert_int_gt(reported, 0);
	ck_assert_int_eq(stats, reported);
	close(talker);
	testutil_close_many(SLOW, slow);
	rely_stop(&c);
}

START_TEST(test_counters_agree_queue_full)
{
	const char *extra[] = {"--max-queue", "16384", NULL};

	rely_counters(extra, "--max-queue 16384");
}
END_TEST

START_TEST(test_counters_agree_budget)
{
	const char *extra[] = {"--max-queue-total", "65536", NULL};

	rely_counters(extra, "--max-queue-total 65536");
}
END_TEST

/* ---- 7. connect/reset churn: threads bounded by --max-clients -------- */

struct rely_churn {
	int port;
	uint64_t until_ms;
	atomic_long cycles, failed;
};

static void *
rely_churn_main(void *arg)
{
	struct rely_churn *ch = arg;
	struct linger lg = {1, 0};

	for (long i = 0; clock_now_ms() < ch->until_ms; i++) {
		struct sockaddr_in sin = {.sin_family = AF_INET,
		    .sin_port = htons((uint16_t)ch->port)};
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (fd == -1 ||
		    connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
			atomic_fetch_add(&ch->failed, 1);
			if (fd != -1)
				close(fd);
			continue;
		}
		if (i % 3 == 0)
			(void)!send(fd, "hi\n", 3, MSG_NOSIGNAL);
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(fd);
		atomic_fetch_add(&ch->cycles, 1);
	}
	return NULL;
}

START_TEST(test_churn_threads_bounded)
{
	enum { MAX_CLIENTS = 16, CHURNERS = 4, SECONDS = 4 };
	const char *extra[] = {"-q", "--max-clients", "16", NULL};
	struct testutil_chatd d;
	struct rely_console c;
	struct rely_churn ch = {0};
	pthread_t t[CHURNERS];

	rely_start(&c, &d, "room", extra, NULL, NULL);
	/* One full cycle first: the server has all it keeps. */
	int first = rely_connect(d.port, 0);
	ck_assert_int_eq(rely_wait_online(&c, 1, testutil_wait_ms(5000)), 1);
	int base = testutil_proc_threads(d.proc.pid) - 1;
	close(first);
	ck_assert_int_eq(rely_wait_online(&c, 0, testutil_wait_ms(5000)), 0);
	ck_assert_int_eq(rely_wait_threads(d.proc.pid, base), base);
	int base_fds = testutil_proc_fds(d.proc.pid);
	long base_rss = testutil_proc_status(d.proc.pid, "VmRSS");
	ch.port = d.port;
	ch.until_ms = clock_now_ms() + SECONDS * 1000;
	for (int i = 0; i < CHURNERS; i++)
		ck_assert_int_eq(
		    pthread_create(&t[i], NULL, rely_churn_main, &ch), 0);
	int most = 0;
	long most_rss = 0;
	while (clock_now_ms() < ch.until_ms) {
		int n = testutil_proc_threads(d.proc.pid);
		long rss = testutil_proc_status(d.proc.pid, "VmRSS");
		most = n > most ? n : most;
		most_rss = rss > most_rss ? rss : most_rss;
	}
	for (int i = 0; i < CHURNERS; i++)
		pthread_join(t[i], NULL);
	int end = rely_wait_threads(d.proc.pid, base);
	uint64_t deadline = clock_now_ms() + (uint64_t)testutil_wait_ms(10000);
	int fds;
	while ((fds = testutil_proc_fds(d.proc.pid)) != base_fds &&
	    clock_ms_until(deadline) > 0)
		poll(NULL, 0, 20); /* polling /proc: nothing to wait on */
	printf("reliability: churn: %ld connect/reset cycles in %d s "
	       "against --max-clients %d (%ld failed to connect): threads "
	       "at most %d (%d without clients), RSS at most %ld KiB (%ld "
	       "without); after: %d threads, %d descriptors (%d before)\n",
	    atomic_load(&ch.cycles), SECONDS, MAX_CLIENTS,
	    atomic_load(&ch.failed), most, base, most_rss, base_rss, end, fds,
	    base_fds);
	fflush(stdout);
	ck_assert_int_gt(atomic_load(&ch.cycles), 100);
	ck_assert_int_eq(atomic_load(&ch.failed), 0);
	/*
	 * A thread is counted until joined; the kernel lets a joined one
	 * go a moment later (its task ends after the join returns), so a
	 * couple more may show for an instant.
	 */
	ck_assert_msg(most <= base + MAX_CLIENTS + RELY_EXITING_SLACK,
	    "%d threads with --max-clients %d (%d without clients)", most,
	    MAX_CLIENTS, base);
	ck_assert_int_eq(end, base);
	ck_assert_int_eq(fds, base_fds);
	rely_stop(&c);
}
END_TEST

static Suite *
reliability_suite(void)
{
	Suite *s = suite_create("reliability");
	TCase *tc;

	tc = tcase_create("memory");
	tcase_add_test(tc, test_fanout_memory_does_not_scale_with_nonreaders);
	tcase_add_test(tc, test_operator_fanout_memory_does_not_scale);
	tcase_set_timeout(tc, 300);
	suite_add_tcase(s, tc);

	tc = tcase_create("storm");
	tcase_add_test(tc, test_join_storm);
	tcase_set_timeout(tc, 300);
	suite_add_tcase(s, tc);

	tc = tcase_create("exhaustion");
	tcase_add_test(tc, test_exhaustion_address_space);
	tcase_add_test(tc, test_exhaustion_threads);
	tcase_set_timeout(tc, 300);
	suite_add_tcase(s, tc);

	tc = tcase_create("counters");
	tcase_add_test(tc, test_counters_agree_queue_full);
	tcase_add_test(tc, test_counters_agree_budget);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);

	tc = tcase_create("churn");
	tcase_add_test(tc, test_churn_threads_bounded);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(reliability_suite());
	int failed;

	/* A server that closes first must not kill us with SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
