/*
 * bench.c - tcpchat-bench's engine: a few worker threads, each with its
 * own epoll and its share of the non-blocking connections, drive
 * closed-loop (up to in_flight messages outstanding) or open-loop
 * (fixed rate) traffic, verify every byte that comes back and time
 * each round trip.  Nothing is shared on the hot path: each worker
 * owns its connections, counters and histograms; the calling thread
 * only reads counters (relaxed atomics) for progress and the timeline
 * and merges the rest once the workers are joined.
 */
#include "config.h"

#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "clock.h"
#include "io.h"
#include "net.h"
#include "tls.h"
#include "transport.h"

/* The transport's poll events are epoll's (Linux gives them one value). */
_Static_assert(
    POLLIN == EPOLLIN && POLLOUT == EPOLLOUT, "poll and epoll events differ");

/* Connections one worker has in the middle of connecting at once. */
#define BENCH_CONNECTING_MAX 256
#define BENCH_EVENTS 512
#define BENCH_READ_SIZE 65536
#define BENCH_WRITE_SIZE 65536
/* How often deadlines are looked at. */
#define BENCH_TICK_NS 100000000ull
#define BENCH_NS 1000000000.0
#define BENCH_SECOND_NS 1000000000ull
/*
 * Open loop: a message is on time when it leaves before the schedule's
 * end plus this share of the schedule's length, and at least
 * BENCH_LATE_MIN_NS: scheduling noise is not a missed rate.
 */
#define BENCH_LATE_PERCENT 5
#define BENCH_LATE_MIN_NS 50000000ull
/* An empty last timeline row under this share of an interval is left out. */
#define BENCH_SAMPLE_MIN_PART 4

#define RELAXED memory_order_relaxed

enum bench_state {
	BENCH_UNUSED, /* not started */
	BENCH_CONNECTING,
	BENCH_HANDSHAKING, /* --tls: connected, handshake under way */
	BENCH_OPEN, /* has traffic to do in this phase */
	BENCH_DONE, /* finished this phase, still open */
	BENCH_CLOSED /* failed, or closed by the peer */
};

struct bench_worker;

struct bench_conn {
	struct bench_worker *worker;
	struct transport t; /* plain TCP, or TLS; t.fd -1 when closed */
	uint32_t watching; /* the epoll events asked for */
	enum bench_state state;
	uint32_t id; /* global index: in every message */
	uint32_t target; /* send up to this sequence number */
	int answered; /* received a byte, ever */
	int scheduled; /* took part in the measured open-loop phase */
	uint64_t connect_ns; /* when connecting started */
	uint64_t handshake_ns; /* --tls: when the handshake started */
	uint64_t deadline_ns; /* connect, or reply, deadline (0: none) */
	uint64_t offset_ns; /* open loop: place in the schedule */
	uint64_t *sent_ns; /* send times, a ring of in_flight */
	char *pending; /* bytes the socket did not take yet */
	size_t pending_off;
	size_t pending_len;
	struct payload_check check;
};

struct bench_shared {
	const struct bench_options *options;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	struct tls_context *tls; /* --tls: every connection's, or NULL */
	unsigned threads;
	uint64_t start_ns; /* the workers were told to go */
	pthread_barrier_t barrier; /* phases start together */
	pthread_mutex_t lock; /* guards go and finished */
	pthread_cond_t cond; /* go or finished changed */
	int go; /* 1: start, -1: give up */
	unsigned finished; /* workers done */
};

struct bench_worker {
	struct bench_shared *shared;
	const struct bench_options *o;
	unsigned index;
	pthread_t thread;
	int epfd;
	struct bench_conn *conns;
	uint32_t nconns;
	char *rbuf;
	char *wbuf;
	size_t wbuf_size;
	uint64_t now; /* clock at the last wake-up */
	int measuring; /* 0 in the warmup phase */
	int open_loop; /* measuring at a fixed rate */
	uint64_t phase_start;
	uint64_t interval_ns; /* open loop: per-connection period */
	uint64_t schedule_end; /* open loop: nothing is due after this */
	uint64_t on_time_by; /* open loop: sent later is late */
	uint32_t active; /* connections with work in this phase */
	uint32_t phase_target; /* messages each connection was to send */
	/* Read by the progress reporter while the worker runs. */
	_Atomic uint64_t connected;
	_Atomic uint64_t open;
	_Atomic uint64_t verified;
	_Atomic uint64_t errors;
	struct histogram latency;
	struct histogram connect;
	struct histogram handshake;
	/* Private until the worker is joined. */
	uint64_t connect_failed, closed_early, timed_out, unanswered;
	uint64_t too_long, sent, measured, outstanding;
	uint64_t scheduled, on_schedule;
	int connect_errno;
	char connect_error[BENCH_ERROR_MAX]; /* the first failed handshake's */
	struct payload_counts counts;
	uint64_t connect_start, connect_end, warmup_start, warmup_end;
	uint64_t run_start, run_end;
};

static void
bench_bump(_Atomic uint64_t *counter, int64_t by)
{
	atomic_store_explicit(counter,
	    atomic_load_explicit(counter, RELAXED) + (uint64_t)by, RELAXED);
}

static uint64_t
bench_read(_Atomic uint64_t *counter)
{
	return atomic_load_explicit(counter, RELAXED);
}

void
bench_options_defaults(struct bench_options *o)
{
	static const double percentiles[] = {50, 90, 99, 99.9};
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	memset(o, 0, sizeof(*o));
	o->host = "127.0.0.1";
	o->port = "9999";
	o->family = AF_UNSPEC;
	o->connections = 50;
	o->messages = 1000;
	o->size = 64;
	o->in_flight = 1;
	o->threads = cpus > 0 ? (unsigned)cpus : 1;
	o->timeout = 5.0;
	o->interval = 1.0;
	o->npercentiles = sizeof(percentiles) / sizeof(percentiles[0]);
	memcpy(o->percentiles, percentiles, sizeof(percentiles));
}

/* Are the percentiles in (0, 100], ascending and all different? */
static int
bench_percentiles_ok(const struct bench_options *o)
{
	if (o->npercentiles < 1 || o->npercentiles > BENCH_MAX_PERCENTILES)
		return 0;
	for (unsigned i = 0; i < o->npercentiles; i++) {
		double p = o->percentiles[i];
		if (!(p > 0 && p <= 100) ||
		    (i > 0 && !(p > o->percentiles[i - 1])))
			return 0;
	}
	return 1;
}

int
bench_options_check(const struct bench_options *o, char *why, size_t whylen)
{
	const char *bad = NULL;

	if (o->connections < 1 || o->connections > BENCH_MAX_CONNECTIONS)
		bad = "connections (-c) must be 1 to 1000000";
	else if (o->duration == 0 &&
	    (o->messages < 1 || o->messages > BENCH_MAX_MESSAGES))
		bad = "messages (-n) must be 1 to 4000000000";
	else if (o->duration < 0 || o->duration > 1e6 || isnan(o->duration))
		bad = "duration (-d) must be 0 to 1000000 seconds";
	else if (o->size < PAYLOAD_MIN_SIZE || o->size > PAYLOAD_MAX_SIZE)
		bad = "size (-s) must be 28 to 1048576 bytes";
	else if (o->in_flight < 1 || o->in_flight > BENCH_MAX_IN_FLIGHT)
		bad = "in flight (-P) must be 1 to 1024";
	else if (!(o->rate >= 0) || o->rate > 1e9)
		bad = "rate (-r) must be 0 to 1e9 messages per second";
	else if (!(o->connect_rate >= 0) || o->connect_rate > 1e9)
		bad = "connect rate must be 0 to 1e9 per second";
	else if (o->warmup > BENCH_MAX_MESSAGES ||
	    (o->duration == 0 && o->warmup + o->messages > BENCH_MAX_MESSAGES))
		bad = "warmup and messages together exceed 4000000000";
	else if (o->threads < 1 || o->threads > BENCH_MAX_THREADS)
		bad = "threads (-t) must be 1 to 256";
	else if (!(o->timeout >= 0.001) || o->timeout > 1e6)
		bad = "timeout (-T) must be 1 ms to 1000000 seconds";
	else if (!(o->interval == 0 ||
	             (o->interval >= 0.01 && o->interval <= 1e6)))
		bad = "interval must be 0 (none) or 10 ms to 1000000 seconds";
	else if (o->family != AF_UNSPEC && o->family != AF_INET &&
	    o->family != AF_INET6)
		bad = "address family must be IPv4 or IPv6";
	else if (!bench_percentiles_ok(o))
		bad = "percentiles must be 1 to 16 values above 0 and at "
		      "most 100, ascending";
	if (bad == NULL)
		return 0;
	snprintf(why, whylen, "%s", bad);
	return -1;
}

int
bench_raise_nofile(unsigned connections, unsigned threads, uint64_t *limit)
{
	struct rlimit rl;
	uint64_t need = (uint64_t)connections + threads + BENCH_SPARE_FILES;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return -1;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need &&
	    rl.rlim_cur < rl.rlim_max) {
		rlim_t old = rl.rlim_cur;
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			rl.rlim_cur = old;
	}
	*limit = rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : rl.rlim_cur;
	if (*limit < need) {
		errno = EMFILE;
		return -1;
	}
	return 0;
}

uint64_t
bench_result_errors(const struct bench_result *r)
{
	return r->connect_failed + r->closed_early + r->timed_out +
	    r->too_long + r->counts.corrupt + r->counts.lost +
	    r->counts.reordered + r->outstanding;
}

int
bench_result_rate_missed(const struct bench_result *r)
{
	return r->scheduled > 0 &&
	    r->on_schedule * 100 < r->scheduled * BENCH_RATE_KEPT_PERCENT;
}

int
bench_result_ok(const struct bench_result *r)
{
	return bench_result_errors(r) == 0 && r->counts.extra_bytes == 0 &&
	    r->counts.verified == r->sent && r->connected > 0 &&
	    !bench_result_rate_missed(r);
}

void
bench_result_free(struct bench_result *r)
{
	free(r->timeline);
	r->timeline = NULL;
	r->timeline_len = 0;
	free(r->runs);
	r->runs = NULL;
	r->nruns = 0;
}

/* Has the caller asked the run to wind down? */
static int
bench_stop_requested(const struct bench_options *o)
{
	return o->stop != NULL && atomic_load_explicit(o->stop, RELAXED) != 0;
}

/* ---- one connection ------------------------------------------------ */

/* Makes the worker's error count, as the timeline reads it, current. */
static void
bench_worker_publish_errors(struct bench_worker *w)
{
	uint64_t n = w->connect_failed + w->closed_early + w->timed_out +
	    w->too_long + w->counts.corrupt + w->counts.lost +
	    w->counts.reordered + w->outstanding;

	atomic_store_explicit(&w->errors, n, RELAXED);
}

static void
bench_conn_close(struct bench_conn *c)
{
	transport_close(&c->t);
	free(c->pending);
	c->pending = NULL;
	c->pending_len = 0;
	payload_check_free(&c->check);
}

/* Takes an open connection out of the phase and closes its socket. */
static void
bench_conn_end(struct bench_worker *w, struct bench_conn *c)
{
	if (c->state == BENCH_OPEN)
		w->active--;
	if (c->state == BENCH_OPEN || c->state == BENCH_DONE)
		bench_bump(&w->open, -1);
	transport_close(&c->t);
	c->state = BENCH_CLOSED;
}

/* The connection ended before its work was done. */
static void
bench_conn_fail(struct bench_worker *w, struct bench_conn *c, uint64_t *reason)
{
	if (c->state == BENCH_OPEN || c->state == BENCH_DONE)
		payload_check_finish(&c->check, &w->counts);
	if (reason != NULL)
		(*reason)++;
	bench_conn_end(w, c);
	bench_worker_publish_errors(w);
}

static void
bench_conn_finished(struct bench_worker *w, struct bench_conn *c)
{
	c->state = BENCH_DONE;
	c->deadline_ns = 0;
	w->active--;
}

/*
 * Messages due by time t at the fixed rate (open loop only), never
 * past the schedule's end or cap.
 */
static uint32_t
bench_conn_due_at(
    struct bench_worker *w, struct bench_conn *c, uint64_t t, uint32_t cap)
{
	uint64_t start = w->phase_start + c->offset_ns;
	uint64_t due;

	if (t > w->schedule_end)
		t = w->schedule_end;
	if (t < start)
		return (uint32_t)w->o->warmup;
	due = (t - start) / w->interval_ns;
	if (due >= cap)
		return cap;
	due += w->o->warmup + 1;
	return due < cap ? (uint32_t)due : cap;
}

/* When message seq was meant to leave (its latency starts there). */
static uint64_t
bench_conn_sent_at(struct bench_worker *w, struct bench_conn *c, uint32_t seq)
{
	if (w->open_loop)
		return w->phase_start + c->offset_ns +
		    (seq - w->o->warmup) * w->interval_ns;
	return c->sent_ns[seq % w->o->in_flight];
}

static void
bench_conn_verified(void *arg, uint32_t seq)
{
	struct bench_conn *c = arg;
	struct bench_worker *w = c->worker;

	bench_bump(&w->verified, 1);
	if (!w->measuring || seq < w->o->warmup)
		return;
	uint64_t at = bench_conn_sent_at(w, c, seq);
	histogram_record(&w->latency, w->now > at ? w->now - at : 0);
	w->measured++;
}

static int
bench_conn_watch(
    struct bench_worker *w, struct bench_conn *c, int op, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = c};

	c->watching = events;
	return epoll_ctl(w->epfd, op, c->t.fd, &ev);
}

/*
 * Asks epoll for what c waits for now: to read, and to send what the
 * socket did not take; TLS may need to write to read, or to read to
 * write (transport_wants).  0, or -1.
 */
static int
bench_conn_rewatch(struct bench_worker *w, struct bench_conn *c)
{
	uint32_t events = EPOLLIN;

	if (c->pending_len > 0)
		events |= (uint32_t)transport_wants(&c->t, 1);
	events |= (uint32_t)transport_wants(&c->t, 0);
	if (events == c->watching)
		return 0;
	return bench_conn_watch(w, c, EPOLL_CTL_MOD, events);
}

/* Sends the rest of what the socket did not take.  0, or -1: closed. */
static int
bench_conn_flush(struct bench_worker *w, struct bench_conn *c)
{
	while (c->pending_off < c->pending_len) {
		ssize_t n = transport_send(&c->t, c->pending + c->pending_off,
		    c->pending_len - c->pending_off);
		if (n == -1)
			return -1;
		if (n == 0)
			return bench_conn_rewatch(w, c);
		c->pending_off += (size_t)n;
	}
	free(c->pending);
	c->pending = NULL;
	c->pending_off = c->pending_len = 0;
	return bench_conn_rewatch(w, c);
}

/*
 * Sends every message the connection may send now: up to in_flight
 * outstanding, up to its target and, open loop, up to what is due.
 * 0, or -1 when the connection broke.
 */
static int
bench_conn_send(struct bench_worker *w, struct bench_conn *c)
{
	const struct bench_options *o = w->o;
	uint32_t limit = c->target;

	if (c->state != BENCH_OPEN || c->pending_len > 0)
		return 0;
	if (w->open_loop)
		limit = bench_conn_due_at(w, c, w->now, c->target);
	for (;;) {
		struct payload_check *k = &c->check;
		size_t len = 0;

		if (payload_check_outstanding(k) == 0 && k->sent < limit)
			c->deadline_ns =
			    w->now + (uint64_t)(o->timeout * BENCH_NS);
		while (k->sent < limit &&
		    payload_check_outstanding(k) < o->in_flight &&
		    len + o->size <= w->wbuf_size) {
			payload_build(w->wbuf + len, o->size, c->id, k->sent);
			c->sent_ns[k->sent % o->in_flight] = w->now;
			k->sent++;
			w->sent++;
			if (w->open_loop && w->now <= w->on_time_by)
				w->on_schedule++;
			len += o->size;
		}
		if (len == 0)
			return 0;
		ssize_t n = transport_send(&c->t, w->wbuf, len);
		if (n == -1)
			return -1;
		if (n == (ssize_t)len)
			continue;
		/* The socket is full: keep the rest until it drains. */
		size_t done = (size_t)n;
		c->pending = malloc(len - done);
		if (c->pending == NULL)
			return -1;
		memcpy(c->pending, w->wbuf + done, len - done);
		c->pending_off = 0;
		c->pending_len = len - done;
		return bench_conn_rewatch(w, c);
	}
}

/* Reads what came back and checks it; sends more if it may. */
static void
bench_conn_readable(struct bench_worker *w, struct bench_conn *c)
{
	ssize_t n = transport_recv(&c->t, w->rbuf, BENCH_READ_SIZE);
	uint32_t expected = c->check.expect;

	if (n == -1 &&
	    (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0) {
		/* The peer closed; only an error if work was left. */
		if (c->state == BENCH_DONE && w->measuring &&
		    payload_check_outstanding(&c->check) == 0 &&
		    c->check.partial_len == 0) {
			bench_conn_fail(w, c, NULL);
			return;
		}
		bench_conn_fail(w, c, &w->closed_early);
		return;
	}
	c->answered = 1;
	payload_check_feed(
	    &c->check, w->rbuf, (size_t)n, &w->counts, bench_conn_verified, c);
	if (payload_check_overrun(&c->check)) {
		/* No end of line will explain it: stop waiting for one. */
		bench_conn_fail(w, c, &w->too_long);
		return;
	}
	if (c->check.expect != expected)
		bench_worker_publish_errors(w);
	if (c->state != BENCH_OPEN)
		return;
	/* -T bounds each reply: bytes that complete none do not count. */
	if (payload_check_outstanding(&c->check) == 0)
		c->deadline_ns = 0;
	else if (c->check.expect != expected)
		c->deadline_ns = w->now + (uint64_t)(w->o->timeout * BENCH_NS);
	if (c->check.sent == c->target &&
	    payload_check_outstanding(&c->check) == 0) {
		bench_conn_finished(w, c);
		return;
	}
	if (bench_conn_send(w, c) == -1)
		bench_conn_fail(w, c, &w->closed_early);
}

/* Records read from the socket whose bytes TLS still holds: read on. */
#define BENCH_PENDING_READS 64

static void
bench_conn_event(struct bench_worker *w, struct bench_conn *c, uint32_t events)
{
	/* Plain TCP: EPOLLOUT; TLS may wait for EPOLLIN to send. */
	if ((events & (uint32_t)transport_wants(&c->t, 1)) != 0 &&
	    c->pending_len > 0) {
		if (bench_conn_flush(w, c) == -1) {
			bench_conn_fail(w, c, &w->closed_early);
			return;
		}
		if (c->pending_len == 0 && bench_conn_send(w, c) == -1) {
			bench_conn_fail(w, c, &w->closed_early);
			return;
		}
	}
	if (c->t.fd < 0 ||
	    (events &
	        (EPOLLIN | EPOLLERR | EPOLLHUP |
	            (uint32_t)transport_wants(&c->t, 0))) == 0)
		goto out;
	bench_conn_readable(w, c);
	/* TLS: bytes it took off the socket and holds, decrypted. */
	for (int i = 0; i < BENCH_PENDING_READS && c->t.fd >= 0 &&
	     transport_pending(&c->t) > 0;
	     i++)
		bench_conn_readable(w, c);
out:
	/* TLS: what a stalled read or write waits for may have changed. */
	if (c->t.fd >= 0 && c->t.ops->wants != NULL &&
	    bench_conn_rewatch(w, c) == -1)
		bench_conn_fail(w, c, &w->closed_early);
}

/* ---- connecting ---------------------------------------------------- */

static void
bench_connect_failed(struct bench_worker *w, struct bench_conn *c, int err)
{
	if (w->connect_errno == 0 && w->connect_error[0] == '\0')
		w->connect_errno = err;
	transport_close(&c->t);
	c->state = BENCH_CLOSED;
	w->connect_failed++;
	bench_worker_publish_errors(w);
}

static void
bench_connect_done(struct bench_worker *w, struct bench_conn *c)
{
	const struct bench_options *o = w->o;

	if (payload_check_init(&c->check, c->id, o->size) == -1 ||
	    bench_conn_watch(w, c, EPOLL_CTL_MOD, EPOLLIN) == -1) {
		bench_connect_failed(w, c, errno);
		return;
	}
	c->state = BENCH_DONE;
	c->deadline_ns = 0;
	if (w->shared->tls != NULL) {
		/*
		 * The clock itself, not the wake-up's: a handshake may end
		 * within the call that began it (the server answered
		 * between its write and its read).
		 */
		uint64_t now = clock_now_ns();
		histogram_record(&w->handshake,
		    now > c->handshake_ns ? now - c->handshake_ns : 0);
	}
	bench_bump(&w->connected, 1);
	bench_bump(&w->open, 1);
}

/* A failed handshake: its reason is kept (the first one). */
static void
bench_handshake_failed(
    struct bench_worker *w, struct bench_conn *c, const char *why)
{
	if (w->connect_errno == 0 && w->connect_error[0] == '\0')
		snprintf(w->connect_error, sizeof(w->connect_error),
		    "TLS handshake failed: %s", why);
	bench_connect_failed(w, c, EPROTO);
}

/*
 * Takes c's handshake as far as it goes.  Returns 1 while it is still
 * under way, else 0 (done, or failed and counted).
 */
static int
bench_handshake_step(struct bench_worker *w, struct bench_conn *c)
{
	char why[TLS_ERR_MAX];
	short events = 0;
	int rc = c->t.ops->handshake(&c->t, &events, why, sizeof(why));

	if (rc == TLS_DONE) {
		bench_connect_done(w, c);
		return 0;
	}
	if (rc == TLS_FAILED) {
		bench_handshake_failed(w, c, why);
		return 0;
	}
	if ((uint32_t)events != c->watching &&
	    bench_conn_watch(w, c, EPOLL_CTL_MOD, (uint32_t)events) == -1) {
		bench_connect_failed(w, c, errno);
		return 0;
	}
	return 1;
}

/*
 * The TCP connection is up: its connect time counts, then TLS starts
 * or the connection is ready.  Returns 1 while a handshake is under
 * way, else 0.
 */
static int
bench_connect_established(struct bench_worker *w, struct bench_conn *c)
{
	char why[TLS_ERR_MAX];
	int fd = c->t.fd;

	histogram_record(
	    &w->connect, w->now > c->connect_ns ? w->now - c->connect_ns : 0);
	/* Best effort: a socket that keeps Nagle is merely slower. */
	(void)net_set_nodelay(fd);
	if (w->shared->tls == NULL) {
		bench_connect_done(w, c);
		return 0;
	}
	if (tls_transport(&c->t, fd, w->shared->tls, why, sizeof(why)) == -1) {
		bench_handshake_failed(w, c, why);
		return 0;
	}
	c->state = BENCH_HANDSHAKING;
	c->handshake_ns = clock_now_ns();
	c->deadline_ns = w->now + (uint64_t)(w->o->timeout * BENCH_NS);
	return bench_handshake_step(w, c);
}

/* Starts connecting c.  Returns 1 if now in progress, else 0. */
static int
bench_connect_start(struct bench_worker *w, struct bench_conn *c)
{
	const struct bench_shared *sh = w->shared;
	int rc;

	c->connect_ns = clock_now_ns();
	int fd = socket(
	    sh->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		bench_connect_failed(w, c, errno);
		return 0;
	}
	transport_plain(&c->t, fd);
	c->state = BENCH_CONNECTING;
	c->deadline_ns = w->now + (uint64_t)(w->o->timeout * BENCH_NS);
	do
		rc = connect(
		    fd, (const struct sockaddr *)&sh->addr, sh->addrlen);
	while (rc == -1 && errno == EINTR);
	if (rc == -1 && errno != EINPROGRESS) {
		bench_connect_failed(w, c, errno);
		return 0;
	}
	if (bench_conn_watch(w, c, EPOLL_CTL_ADD, EPOLLOUT) == -1) {
		bench_connect_failed(w, c, errno);
		return 0;
	}
	return 1;
}

/* When connection number id may start, at --connect-rate. */
static uint64_t
bench_connect_due(struct bench_worker *w, uint32_t id)
{
	if (w->o->connect_rate <= 0)
		return 0;
	return w->connect_start +
	    (uint64_t)((double)id / w->o->connect_rate * BENCH_NS);
}

/* Interrupted: drops the attempts in progress and those not begun. */
static void
bench_worker_stop_connecting(struct bench_worker *w, uint32_t started)
{
	for (uint32_t i = 0; i < started; i++) {
		struct bench_conn *c = &w->conns[i];
		if (c->state != BENCH_CONNECTING &&
		    c->state != BENCH_HANDSHAKING)
			continue;
		transport_close(&c->t);
		c->state = BENCH_CLOSED;
	}
}

/* Opens every connection of the worker, or gives up on it. */
static void
bench_worker_connect(struct bench_worker *w)
{
	struct epoll_event events[BENCH_EVENTS];
	uint32_t next = 0, connecting = 0;
	uint64_t next_check = 0;

	w->now = w->connect_start = clock_now_ns();
	while (next < w->nconns || connecting > 0) {
		int wait_ms = 100;

		if (bench_stop_requested(w->o)) {
			bench_worker_stop_connecting(w, next);
			break;
		}
		while (next < w->nconns && connecting < BENCH_CONNECTING_MAX) {
			struct bench_conn *c = &w->conns[next];
			uint64_t due = bench_connect_due(w, c->id);
			if (due > w->now) {
				uint64_t ms = (due - w->now) / 1000000 + 1;
				if (ms < (uint64_t)wait_ms)
					wait_ms = (int)ms;
				break;
			}
			connecting += (uint32_t)bench_connect_start(w, c);
			next++;
		}
		int n = epoll_wait(w->epfd, events, BENCH_EVENTS, wait_ms);
		w->now = clock_now_ns();
		for (int i = 0; i < n; i++) {
			struct bench_conn *c = events[i].data.ptr;
			int err = 0;
			socklen_t len = sizeof(err);
			if (c->state == BENCH_HANDSHAKING) {
				if (!bench_handshake_step(w, c))
					connecting--;
				continue;
			}
			if (c->state != BENCH_CONNECTING) {
				/* Early data or close from the server. */
				bench_conn_event(w, c, events[i].events);
				continue;
			}
			if (getsockopt(c->t.fd, SOL_SOCKET, SO_ERROR, &err,
			        &len) == -1)
				err = errno;
			if (err != 0) {
				connecting--;
				bench_connect_failed(w, c, err);
			} else if (!bench_connect_established(w, c)) {
				connecting--;
			}
		}
		if (w->now < next_check)
			continue;
		next_check = w->now + BENCH_TICK_NS;
		for (uint32_t i = 0; i < next; i++) {
			struct bench_conn *c = &w->conns[i];
			if (c->deadline_ns > w->now)
				continue;
			if (c->state == BENCH_CONNECTING) {
				connecting--;
				bench_connect_failed(w, c, ETIMEDOUT);
			} else if (c->state == BENCH_HANDSHAKING) {
				connecting--;
				bench_handshake_failed(w, c, "timed out");
			}
		}
	}
	w->connect_end = w->now;
}

/* ---- traffic ------------------------------------------------------- */

/* Fails the connections that waited too long for a reply. */
static void
bench_worker_expire(struct bench_worker *w)
{
	for (uint32_t i = 0; i < w->nconns; i++) {
		struct bench_conn *c = &w->conns[i];
		if (c->state != BENCH_OPEN || c->deadline_ns == 0 ||
		    c->deadline_ns > w->now)
			continue;
		if (!c->answered)
			w->unanswered++;
		bench_conn_fail(w, c, &w->timed_out);
	}
}

/*
 * The schedule is over (-d ran out, or the run is interrupted): open
 * loop, sends what fell due by its end; then sends nothing more and
 * waits for what is outstanding.
 */
static void
bench_worker_end_schedule(struct bench_worker *w)
{
	for (uint32_t i = 0; i < w->nconns; i++) {
		struct bench_conn *c = &w->conns[i];
		if (c->state != BENCH_OPEN)
			continue;
		if (w->open_loop && bench_conn_send(w, c) == -1) {
			bench_conn_fail(w, c, &w->closed_early);
			continue;
		}
		c->target = c->check.sent;
		if (payload_check_outstanding(&c->check) == 0 &&
		    c->pending_len == 0)
			bench_conn_finished(w, c);
	}
}

/* An interrupted run waited long enough: what is left is abandoned. */
static void
bench_worker_abandon(struct bench_worker *w)
{
	for (uint32_t i = 0; i < w->nconns; i++) {
		struct bench_conn *c = &w->conns[i];
		if (c->state != BENCH_OPEN)
			continue;
		w->outstanding += payload_check_abandon(&c->check);
		bench_conn_end(w, c);
	}
	bench_worker_publish_errors(w);
}

/* Open loop: the schedule's length, and when a message is late. */
static void
bench_worker_plan(struct bench_worker *w, uint64_t end)
{
	const struct bench_options *o = w->o;

	w->interval_ns =
	    (uint64_t)((double)o->connections / o->rate * BENCH_NS);
	if (w->interval_ns == 0)
		w->interval_ns = 1;
	uint64_t length =
	    end != 0 ? end - w->phase_start : o->messages * w->interval_ns;
	uint64_t late = length / 100 * BENCH_LATE_PERCENT;
	if (late < BENCH_LATE_MIN_NS)
		late = BENCH_LATE_MIN_NS;
	w->on_time_by = w->phase_start + length + late;
}

/*
 * Open loop, at the end: how many messages the schedule asked for, up
 * to its end (-d, or the interrupt) and whatever was sent.
 */
static void
bench_worker_count_scheduled(struct bench_worker *w)
{
	for (uint32_t i = 0; i < w->nconns; i++) {
		struct bench_conn *c = &w->conns[i];
		if (c->scheduled)
			w->scheduled += bench_conn_due_at(
			                    w, c, UINT64_MAX, w->phase_target) -
			    w->o->warmup;
	}
}

/* Puts the connections still open to work in a new phase. */
static void
bench_worker_activate(struct bench_worker *w, uint32_t target)
{
	const struct bench_options *o = w->o;

	w->active = 0;
	for (uint32_t i = 0; i < w->nconns; i++) {
		struct bench_conn *c = &w->conns[i];
		if (c->state != BENCH_DONE)
			continue;
		c->state = BENCH_OPEN;
		c->target = target;
		c->scheduled = w->open_loop;
		c->offset_ns = w->open_loop
		    ? (uint64_t)((double)c->id / o->rate * BENCH_NS)
		    : 0;
		w->active++;
		if (c->check.sent == target)
			bench_conn_finished(w, c);
		else if (!w->open_loop && bench_conn_send(w, c) == -1)
			bench_conn_fail(w, c, &w->closed_early);
	}
}

/* Lowers *wait_ms to the time until deadline (ns), rounded up. */
static void
bench_wait_until(const struct bench_worker *w, uint64_t deadline, int *wait_ms)
{
	uint64_t ms =
	    deadline > w->now ? (deadline - w->now + 999999) / 1000000 : 0;

	if (ms < (uint64_t)*wait_ms)
		*wait_ms = (int)ms;
}

/*
 * One phase of traffic: the warmup (closed loop, unmeasured) or the
 * measured run.  Returns when every connection is done or gone, or at
 * once when the run was interrupted before it began.
 */
static void
bench_worker_traffic(struct bench_worker *w, int measuring)
{
	const struct bench_options *o = w->o;
	struct epoll_event events[BENCH_EVENTS];
	uint64_t end = 0, next_check, cursor_round = 0, grace_end = 0;
	uint32_t cursor = 0, target;
	int stopping = 0, interrupted = 0;

	if (bench_stop_requested(o))
		return;
	w->measuring = measuring;
	w->open_loop = measuring && o->rate > 0;
	w->now = w->phase_start = clock_now_ns();
	next_check = w->now + BENCH_TICK_NS;
	if (!measuring)
		target = (uint32_t)o->warmup;
	else if (o->duration > 0)
		target = BENCH_MAX_MESSAGES;
	else
		target = (uint32_t)(o->warmup + o->messages);
	if (measuring && o->duration > 0)
		end = w->phase_start + (uint64_t)(o->duration * BENCH_NS);
	w->schedule_end = end != 0 ? end : UINT64_MAX;
	w->interval_ns = 1;
	if (w->open_loop)
		bench_worker_plan(w, end);
	w->phase_target = target;
	bench_worker_activate(w, target);
	while (w->active > 0) {
		int wait_ms = 100;

		if (!interrupted && bench_stop_requested(o)) {
			/* Stop sending; wait at most -T for the rest. */
			interrupted = 1;
			grace_end = w->now + (uint64_t)(o->timeout * BENCH_NS);
			if (!stopping) {
				stopping = 1;
				if (w->schedule_end > w->now)
					w->schedule_end = w->now;
				bench_worker_end_schedule(w);
			}
			continue;
		}
		if (end != 0 && !stopping && w->now >= end) {
			stopping = 1;
			bench_worker_end_schedule(w);
			continue;
		}
		if (interrupted && w->now >= grace_end) {
			bench_worker_abandon(w);
			break;
		}
		/* Open loop: visit the connections in schedule order. */
		while (w->open_loop && !stopping &&
		    cursor_round + o->warmup < target) {
			struct bench_conn *c = &w->conns[cursor];
			uint64_t due = w->phase_start + c->offset_ns +
			    cursor_round * w->interval_ns;
			if (due > w->now) {
				bench_wait_until(w, due, &wait_ms);
				break;
			}
			if (bench_conn_send(w, c) == -1)
				bench_conn_fail(w, c, &w->closed_early);
			if (++cursor == w->nconns) {
				cursor = 0;
				cursor_round++;
			}
		}
		if (end != 0 && !stopping)
			bench_wait_until(w, end, &wait_ms);
		if (interrupted)
			bench_wait_until(w, grace_end, &wait_ms);
		int n = epoll_wait(w->epfd, events, BENCH_EVENTS, wait_ms);
		for (int i = 0; i < n; i++) {
			w->now = clock_now_ns();
			bench_conn_event(
			    w, events[i].data.ptr, events[i].events);
		}
		w->now = clock_now_ns();
		if (w->now >= next_check) {
			next_check = w->now + BENCH_TICK_NS;
			bench_worker_expire(w);
		}
	}
	if (measuring) {
		w->run_start = w->phase_start;
		w->run_end = w->now;
	} else {
		w->warmup_start = w->phase_start;
		w->warmup_end = w->now;
	}
	if (w->open_loop)
		bench_worker_count_scheduled(w);
}

static void *
bench_worker_main(void *arg)
{
	struct bench_worker *w = arg;
	struct bench_shared *sh = w->shared;

	/* Wait for the word: every worker starts, or none does. */
	pthread_mutex_lock(&sh->lock);
	while (sh->go == 0)
		pthread_cond_wait(&sh->cond, &sh->lock);
	int go = sh->go;
	pthread_mutex_unlock(&sh->lock);
	if (go < 0)
		return NULL;
	bench_worker_connect(w);
	pthread_barrier_wait(&sh->barrier);
	if (w->o->warmup > 0) {
		bench_worker_traffic(w, 0);
		pthread_barrier_wait(&sh->barrier);
	}
	bench_worker_traffic(w, 1);
	for (uint32_t i = 0; i < w->nconns; i++) {
		struct bench_conn *c = &w->conns[i];
		if (c->state == BENCH_OPEN || c->state == BENCH_DONE)
			bench_bump(&w->open, -1);
		bench_conn_close(c);
	}
	pthread_mutex_lock(&sh->lock);
	sh->finished++;
	pthread_cond_broadcast(&sh->cond);
	pthread_mutex_unlock(&sh->lock);
	return NULL;
}

/* ---- the run --------------------------------------------------------- */

static void bench_note(const struct bench_hooks *hooks, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Tells the caller a detail of the run, for -v. */
static void
bench_note(const struct bench_hooks *hooks, const char *fmt, ...)
{
	char text[512];
	va_list ap;

	if (hooks == NULL || hooks->note == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	hooks->note(hooks->arg, text);
}

static const char *
bench_family_name(int family)
{
	return family == AF_INET6 ? "IPv6" : family == AF_INET ? "IPv4" : "any";
}

/*
 * --tls: the probe's handshake, within the timeout, so a certificate
 * that does not verify is one clear error, not a failure per
 * connection.  Closes fd.  0, or -1 with the reason in why.
 */
static int
bench_probe_tls(const struct bench_options *o, struct bench_shared *sh,
    struct bench_result *r, int fd, char *why, size_t whylen)
{
	struct transport t;
	char err[TLS_ERR_MAX];
	int rc;

	if (tls_transport(&t, fd, sh->tls, err, sizeof(err)) == -1) {
		close(fd);
		snprintf(why, whylen, "%s", err);
		return -1;
	}
	rc = tls_handshake_wait(
	    &t, (int)(o->timeout * 1000), -1, err, sizeof(err));
	if (rc == TLS_DONE)
		snprintf(r->tls_version, sizeof(r->tls_version), "%s",
		    tls_version(&t));
	else
		snprintf(why, whylen,
		    "TLS handshake with %s port %s failed: %s", o->host,
		    o->port, err);
	transport_close(&t);
	return rc == TLS_DONE ? 0 : -1;
}

/*
 * Resolves the target (in the family asked for) and checks that one of
 * its addresses answers: that address is the one every connection
 * uses.  0, or -1 with the reason in why.
 */
static int
bench_probe(const struct bench_options *o, struct bench_shared *sh,
    struct bench_result *r, const struct bench_hooks *hooks, char *why,
    size_t whylen)
{
	char numeric[NI_MAXHOST];
	int gai, fd, save_errno;
	uint64_t began = clock_now_ns();

	fd = net_connect_family(
	    o->host, o->port, o->family, (int)(o->timeout * 1000), &gai);
	if (fd == -1 && gai != 0 && o->family != AF_UNSPEC &&
	    (gai == EAI_NONAME || gai == EAI_ADDRFAMILY || gai == EAI_FAMILY ||
	        gai == EAI_NODATA)) {
		snprintf(why, whylen,
		    "cannot connect to %s port %s: no %s address", o->host,
		    o->port, bench_family_name(o->family));
		return -1;
	}
	if (fd == -1) {
		snprintf(why, whylen, "cannot connect to %s port %s: %s",
		    o->host, o->port, net_strerror(gai, errno));
		return -1;
	}
	sh->addrlen = sizeof(sh->addr);
	if (getpeername(fd, (struct sockaddr *)&sh->addr, &sh->addrlen) == -1 ||
	    net_format((struct sockaddr *)&sh->addr, sh->addrlen, r->target,
	        sizeof(r->target)) == -1) {
		save_errno = errno;
		close(fd);
		snprintf(why, whylen, "%s port %s: %s", o->host, o->port,
		    strerror(save_errno));
		return -1;
	}
	r->family = sh->addr.ss_family;
	if (sh->tls != NULL && bench_probe_tls(o, sh, r, fd, why, whylen) == -1)
		return -1;
	if (getnameinfo((struct sockaddr *)&sh->addr, sh->addrlen, numeric,
	        sizeof(numeric), NULL, 0, NI_NUMERICHOST) != 0)
		snprintf(numeric, sizeof(numeric), "%s", r->target);
	bench_note(hooks, "%s port %s (%s): connected in %.3f ms%s%s", numeric,
	    o->port, bench_family_name(r->family),
	    (double)(clock_now_ns() - began) / 1e6,
	    sh->tls != NULL ? ", over " : "", r->tls_version);
	if (sh->tls == NULL)
		close(fd);
	return 0;
}

/* Gives worker index its connections and buffers.  0, or -1. */
static int
bench_worker_init(
    struct bench_worker *w, struct bench_shared *sh, unsigned index)
{
	const struct bench_options *o = sh->options;

	w->shared = sh;
	w->o = o;
	w->index = index;
	w->epfd = -1;
	histogram_reset(&w->latency);
	histogram_reset(&w->connect);
	histogram_reset(&w->handshake);
	w->nconns = (uint32_t)((o->connections - index + sh->threads - 1) /
	    sh->threads);
	w->conns = calloc(w->nconns, sizeof(*w->conns));
	w->rbuf = malloc(BENCH_READ_SIZE);
	w->wbuf_size = o->size > BENCH_WRITE_SIZE ? o->size : BENCH_WRITE_SIZE;
	w->wbuf = malloc(w->wbuf_size);
	if (w->conns == NULL || w->rbuf == NULL || w->wbuf == NULL)
		return -1;
	for (uint32_t i = 0; i < w->nconns; i++) {
		struct bench_conn *c = &w->conns[i];
		c->worker = w;
		c->t.fd = -1;
		c->id = index + i * sh->threads;
		c->sent_ns = calloc(o->in_flight, sizeof(*c->sent_ns));
		if (c->sent_ns == NULL)
			return -1;
	}
	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	return w->epfd == -1 ? -1 : 0;
}

static void
bench_worker_free(struct bench_worker *w)
{
	for (uint32_t i = 0; w->conns != NULL && i < w->nconns; i++)
		free(w->conns[i].sent_ns);
	free(w->conns);
	free(w->rbuf);
	free(w->wbuf);
	if (w->epfd >= 0)
		close(w->epfd);
}

/* Sums what the workers see right now, for progress and the timeline. */
static void
bench_progress_sample(struct bench_worker *workers, unsigned threads,
    struct bench_progress *p, struct histogram *latency)
{
	memset(p, 0, sizeof(*p));
	histogram_reset(latency);
	for (unsigned i = 0; i < threads; i++) {
		p->connected += bench_read(&workers[i].connected);
		p->open += bench_read(&workers[i].open);
		p->verified += bench_read(&workers[i].verified);
		p->errors += bench_read(&workers[i].errors);
		histogram_add(latency, &workers[i].latency);
	}
}

/*
 * Keeps a timeline row in r (counted, not kept, past the limit); *room
 * is the rows r->timeline has room for.
 */
static void
bench_timeline_add(
    struct bench_result *r, size_t *room, const struct bench_sample *s)
{
	if (r->timeline_len == BENCH_TIMELINE_MAX) {
		r->timeline_dropped++;
		return;
	}
	if (r->timeline_len == *room) {
		size_t more = *room == 0 ? 64 : *room * 2;
		if (more > BENCH_TIMELINE_MAX)
			more = BENCH_TIMELINE_MAX;
		struct bench_sample *t =
		    realloc(r->timeline, more * sizeof(*t));
		if (t == NULL) {
			r->timeline_dropped++;
			return;
		}
		r->timeline = t;
		*room = more;
	}
	r->timeline[r->timeline_len++] = *s;
}

/* What the watcher remembers between two looks at the workers. */
struct bench_watch {
	struct histogram *now; /* the workers' latencies, this look */
	struct histogram *recent; /* scratch: since an earlier look */
	struct histogram *seen_progress; /* at the last progress line */
	struct histogram *seen_sample; /* at the last timeline row */
	uint64_t start, last_progress, last_sample; /* ns */
	uint64_t verified_progress, verified_sample, errors_sample;
	size_t room; /* timeline rows allocated */
};

/* Makes the timeline row for [w->last_sample, t] and hands it on. */
static void
bench_watch_sample(struct bench_watch *w, const struct bench_progress *p,
    uint64_t t, struct bench_result *r, const struct bench_hooks *hooks)
{
	struct bench_sample s;

	histogram_subtract(w->recent, w->now, w->seen_sample);
	memset(&s, 0, sizeof(s));
	s.t = (double)(t - w->start) / BENCH_NS;
	s.seconds = (double)(t - w->last_sample) / BENCH_NS;
	s.msgs_per_sec = (double)(p->verified - w->verified_sample) / s.seconds;
	s.latencies = histogram_count(w->recent);
	s.p50_ns = histogram_percentile(w->recent, 50);
	s.p99_ns = histogram_percentile(w->recent, 99);
	s.max_ns = histogram_max(w->recent);
	s.errors = p->errors - w->errors_sample;
	s.open = p->open;
	bench_timeline_add(r, &w->room, &s);
	if (hooks != NULL && hooks->sample != NULL)
		hooks->sample(hooks->arg, &s);
	histogram_reset(w->seen_sample);
	histogram_add(w->seen_sample, w->now);
	w->last_sample = t;
	w->verified_sample = p->verified;
	w->errors_sample = p->errors;
}

/* The progress line's figures since the last one. */
static void
bench_watch_progress(struct bench_watch *w, struct bench_progress *p,
    uint64_t t, const struct bench_hooks *hooks)
{
	histogram_subtract(w->recent, w->now, w->seen_progress);
	p->elapsed = (double)(t - w->start) / BENCH_NS;
	p->rate = (double)(p->verified - w->verified_progress) /
	    ((double)(t - w->last_progress) / BENCH_NS);
	p->p99_ns = histogram_percentile(w->recent, 99.0);
	histogram_reset(w->seen_progress);
	histogram_add(w->seen_progress, w->now);
	w->last_progress = t;
	w->verified_progress = p->verified;
	hooks->progress(hooks->arg, p);
}

/* Sleeps until deadline (ns) or until every worker has finished. */
static int
bench_watch_wait(struct bench_shared *sh, uint64_t deadline)
{
	int done;

	pthread_mutex_lock(&sh->lock);
	for (;;) {
		uint64_t t = clock_now_ns();
		if (sh->finished == sh->threads || t >= deadline)
			break;
		uint64_t ms = (deadline - t + 999999) / 1000000;
		struct timespec wake = clock_deadline_ms(
		    CLOCK_MONOTONIC, ms > INT_MAX ? INT_MAX : (int)ms);
		pthread_cond_timedwait(&sh->cond, &sh->lock, &wake);
	}
	done = sh->finished == sh->threads;
	pthread_mutex_unlock(&sh->lock);
	return done;
}

/*
 * Until every worker has finished: a progress line about once a
 * second and a timeline row every interval, and a last one at the end
 * unless it would be both empty and short.
 */
static void
bench_watch(struct bench_shared *sh, struct bench_worker *workers,
    const struct bench_hooks *hooks, struct bench_result *r,
    struct histogram *scratch)
{
	uint64_t interval = (uint64_t)(sh->options->interval * BENCH_NS);
	int progress = hooks != NULL && hooks->progress != NULL;
	struct bench_watch w = {.now = &scratch[0],
	    .recent = &scratch[1],
	    .seen_progress = &scratch[2],
	    .seen_sample = &scratch[3],
	    .start = sh->start_ns,
	    .last_progress = sh->start_ns,
	    .last_sample = sh->start_ns};
	uint64_t next_progress =
	    progress ? w.start + BENCH_SECOND_NS : UINT64_MAX;
	uint64_t next_sample = interval != 0 ? w.start + interval : UINT64_MAX;
	int done = 0;

	histogram_reset(w.seen_progress);
	histogram_reset(w.seen_sample);
	while (!done) {
		uint64_t wake =
		    next_sample < next_progress ? next_sample : next_progress;
		done = bench_watch_wait(sh, wake);
		uint64_t t = clock_now_ns();
		int show = progress && !done && t >= next_progress;
		int sample = interval != 0 && (t >= next_sample || done);
		if (!sample && !show)
			continue;
		struct bench_progress p;
		bench_progress_sample(workers, sh->threads, &p, w.now);
		/*
		 * The last row: only when it holds anything, or is long
		 * enough to be a row at all, so every message is in one.
		 */
		if (sample && done && t < next_sample &&
		    p.verified == w.verified_sample &&
		    p.errors == w.errors_sample &&
		    t < w.last_sample + interval / BENCH_SAMPLE_MIN_PART)
			sample = 0;
		if (sample) {
			bench_watch_sample(&w, &p, t, r, hooks);
			while (next_sample <= t)
				next_sample += interval;
		}
		if (show) {
			bench_watch_progress(&w, &p, t, hooks);
			while (next_progress <= t)
				next_progress += BENCH_SECOND_NS;
		}
	}
}

/* Seconds between two instants (ns), 0 when either is missing. */
static double
bench_span(uint64_t start, uint64_t end)
{
	return start != UINT64_MAX && end > start
	    ? (double)(end - start) / BENCH_NS
	    : 0.0;
}

static void
bench_collect(struct bench_result *r, struct bench_worker *workers,
    unsigned threads, const struct bench_options *o)
{
	uint64_t connect_start = UINT64_MAX, connect_end = 0;
	uint64_t warmup_start = UINT64_MAX, warmup_end = 0;
	uint64_t run_start = UINT64_MAX, run_end = 0;

	r->threads = threads;
	for (unsigned i = 0; i < threads; i++) {
		struct bench_worker *w = &workers[i];
		r->connected += bench_read(&w->connected);
		r->connect_failed += w->connect_failed;
		if (r->connect_errno == 0 && r->connect_error[0] == '\0') {
			r->connect_errno = w->connect_errno;
			memcpy(r->connect_error, w->connect_error,
			    sizeof(r->connect_error));
		}
		r->closed_early += w->closed_early;
		r->timed_out += w->timed_out;
		r->unanswered += w->unanswered;
		r->too_long += w->too_long;
		r->sent += w->sent;
		r->outstanding += w->outstanding;
		r->measured += w->measured;
		r->scheduled += w->scheduled;
		r->on_schedule += w->on_schedule;
		payload_counts_add(&r->counts, &w->counts);
		histogram_add(&r->latency, &w->latency);
		histogram_add(&r->connect, &w->connect);
		histogram_add(&r->handshake, &w->handshake);
		if (w->connect_start < connect_start)
			connect_start = w->connect_start;
		if (w->connect_end > connect_end)
			connect_end = w->connect_end;
		if (w->warmup_start != 0 && w->warmup_start < warmup_start)
			warmup_start = w->warmup_start;
		if (w->warmup_end > warmup_end)
			warmup_end = w->warmup_end;
		if (w->run_start != 0 && w->run_start < run_start)
			run_start = w->run_start;
		if (w->run_end > run_end)
			run_end = w->run_end;
	}
	r->received =
	    r->counts.verified + r->counts.corrupt + r->counts.reordered;
	r->connect_seconds = bench_span(connect_start, connect_end);
	r->warmup_seconds = bench_span(warmup_start, warmup_end);
	r->seconds = bench_span(run_start, run_end);
	if (r->seconds > 0) {
		r->msgs_per_sec = (double)r->measured / r->seconds;
		r->bytes_per_sec = r->msgs_per_sec * (double)o->size;
	}
}

/* The wall-clock time now, as 2026-11-05T10:20:30.123Z. */
static void
bench_start_time(char *buf, size_t size)
{
	struct timespec ts;
	struct tm tm;
	char date[20];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	if (strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		date[0] = '\0';
	snprintf(buf, size, "%s.%03uZ", date,
	    (unsigned)(ts.tv_nsec / 1000000) % 1000u);
}

/*
 * --tls: the context every connection shares, verifying the name given
 * or the host (an IPv6 literal unbracketed).  0, or -1 with why.
 */
static int
bench_tls_setup(const struct bench_options *o, struct bench_shared *sh,
    char *why, size_t whylen)
{
	struct tls_client_options to = o->tls_options;
	char name[NI_MAXHOST], err[TLS_ERR_MAX];

	if (to.servername == NULL)
		to.servername = net_unbracket(o->host, name, sizeof(name));
	if ((sh->tls = tls_client_new(&to, err, sizeof(err))) == NULL) {
		snprintf(why, whylen, "%s", err);
		return -1;
	}
	return 0;
}

int
bench_run(const struct bench_options *o, struct bench_result *r,
    const struct bench_hooks *hooks, char *why, size_t whylen)
{
	struct bench_shared sh;
	struct bench_worker *workers = NULL;
	struct histogram *scratch = NULL;
	pthread_condattr_t cattr;
	sigset_t all, old;
	unsigned created = 0, initialised = 0;
	int rc = -1, err = 0;

	memset(r, 0, sizeof(*r));
	histogram_reset(&r->latency);
	histogram_reset(&r->connect);
	histogram_reset(&r->handshake);
	bench_start_time(r->start, sizeof(r->start));
	if (bench_options_check(o, why, whylen) == -1)
		return -1;
	memset(&sh, 0, sizeof(sh));
	sh.options = o;
	sh.threads = o->threads < o->connections ? o->threads : o->connections;
	if (o->tls && bench_tls_setup(o, &sh, why, whylen) == -1)
		return -1;
	if (bench_probe(o, &sh, r, hooks, why, whylen) == -1)
		goto out;

	workers = calloc(sh.threads, sizeof(*workers));
	scratch = malloc(4 * sizeof(*scratch));
	if (workers == NULL || scratch == NULL) {
		snprintf(why, whylen, "out of memory");
		goto out;
	}
	for (; initialised < sh.threads; initialised++) {
		if (bench_worker_init(
		        &workers[initialised], &sh, initialised) == -1) {
			snprintf(why, whylen, "setting up worker: %s",
			    strerror(errno));
			initialised++;
			goto out;
		}
	}
	bench_note(hooks, "%u connections to %s on %u threads (%u to %u each)",
	    o->connections, r->target, sh.threads,
	    workers[sh.threads - 1].nconns, workers[0].nconns);
	pthread_condattr_init(&cattr);
	pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);
	pthread_cond_init(&sh.cond, &cattr);
	pthread_condattr_destroy(&cattr);
	pthread_mutex_init(&sh.lock, NULL);
	pthread_barrier_init(&sh.barrier, NULL, sh.threads);

	/* Workers take no signals: the caller handles them. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (; created < sh.threads; created++) {
		err = pthread_create(&workers[created].thread, NULL,
		    bench_worker_main, &workers[created]);
		if (err != 0)
			break;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_mutex_lock(&sh.lock);
	sh.start_ns = clock_now_ns();
	sh.go = created == sh.threads ? 1 : -1;
	pthread_cond_broadcast(&sh.cond);
	pthread_mutex_unlock(&sh.lock);
	if (created == sh.threads)
		bench_watch(&sh, workers, hooks, r, scratch);
	for (unsigned i = 0; i < created; i++)
		pthread_join(workers[i].thread, NULL);
	if (created != sh.threads) {
		snprintf(
		    why, whylen, "starting worker threads: %s", strerror(err));
		bench_result_free(r);
	} else {
		bench_collect(r, workers, sh.threads, o);
		if (o->stop != NULL)
			r->interrupted = atomic_load(o->stop);
		rc = 0;
	}
	pthread_barrier_destroy(&sh.barrier);
	pthread_mutex_destroy(&sh.lock);
	pthread_cond_destroy(&sh.cond);
out:
	tls_context_unref(sh.tls);
	for (unsigned i = 0; i < initialised; i++)
		bench_worker_free(&workers[i]);
	free(workers);
	free(scratch);
	return rc;
}
