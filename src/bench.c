/*
 * bench.c - tcpchat-bench's engine: a few worker threads, each with its
 * own epoll and its share of the non-blocking connections, drive
 * closed-loop (up to in_flight messages outstanding) or open-loop
 * (fixed rate) traffic, verify every byte that comes back and time
 * each round trip.  Nothing is shared on the hot path: each worker
 * owns its connections, counters and histogram; the calling thread
 * only reads counters (relaxed atomics) for progress and merges the
 * rest once the workers are joined.
 */
#include "config.h"

#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
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

/* Connections one worker has in the middle of connecting at once. */
#define BENCH_CONNECTING_MAX 256
#define BENCH_EVENTS 512
#define BENCH_READ_SIZE 65536
#define BENCH_WRITE_SIZE 65536
/* How often deadlines are looked at. */
#define BENCH_TICK_NS 100000000ull
#define BENCH_NS 1000000000.0

#define RELAXED memory_order_relaxed

enum bench_state {
	BENCH_UNUSED, /* not started */
	BENCH_CONNECTING,
	BENCH_OPEN, /* has traffic to do in this phase */
	BENCH_DONE, /* finished this phase, still open */
	BENCH_CLOSED /* failed, or closed by the peer */
};

struct bench_worker;

struct bench_conn {
	struct bench_worker *worker;
	int fd;
	enum bench_state state;
	uint32_t id; /* global index: in every message */
	uint32_t target; /* send up to this sequence number */
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
	unsigned threads;
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
	uint32_t active; /* connections with work in this phase */
	/* Read by the progress reporter while the worker runs. */
	_Atomic uint64_t connected;
	_Atomic uint64_t open;
	_Atomic uint64_t verified;
	struct histogram latency;
	/* Private until the worker is joined. */
	uint64_t connect_failed, closed_early, timed_out, sent, measured;
	int connect_errno;
	struct payload_counts counts;
	uint64_t connect_start, connect_end, run_start, run_end;
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
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	memset(o, 0, sizeof(*o));
	o->host = "127.0.0.1";
	o->port = "9999";
	o->connections = 50;
	o->messages = 1000;
	o->size = 64;
	o->in_flight = 1;
	o->threads = cpus > 0 ? (unsigned)cpus : 1;
	o->timeout = 5.0;
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
	else if (!(o->timeout > 0) || o->timeout > 1e6)
		bad = "timeout must be more than 0 and at most 1000000 seconds";
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

int
bench_result_ok(const struct bench_result *r)
{
	return r->connect_failed == 0 && r->closed_early == 0 &&
	    r->timed_out == 0 && r->counts.corrupt == 0 &&
	    r->counts.lost == 0 && r->counts.reordered == 0 &&
	    r->counts.extra_bytes == 0 && r->counts.verified == r->sent &&
	    r->connected > 0;
}

/* ---- one connection ------------------------------------------------ */

static void
bench_conn_close(struct bench_conn *c)
{
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
	}
	free(c->pending);
	c->pending = NULL;
	c->pending_len = 0;
	payload_check_free(&c->check);
}

/* The connection ended before its work was done. */
static void
bench_conn_fail(struct bench_worker *w, struct bench_conn *c, uint64_t *reason)
{
	if (c->state == BENCH_OPEN)
		w->active--;
	if (c->state == BENCH_OPEN || c->state == BENCH_DONE) {
		payload_check_finish(&c->check, &w->counts);
		bench_bump(&w->open, -1);
	}
	if (reason != NULL)
		(*reason)++;
	close(c->fd);
	c->fd = -1;
	c->state = BENCH_CLOSED;
}

static void
bench_conn_finished(struct bench_worker *w, struct bench_conn *c)
{
	c->state = BENCH_DONE;
	c->deadline_ns = 0;
	w->active--;
}

/* Messages due by now at the fixed rate (open loop only). */
static uint32_t
bench_conn_due(struct bench_worker *w, struct bench_conn *c)
{
	uint64_t start = w->phase_start + c->offset_ns;
	uint64_t due;

	if (w->now < start)
		return (uint32_t)w->o->warmup;
	due = w->o->warmup + (w->now - start) / w->interval_ns + 1;
	return due < c->target ? (uint32_t)due : c->target;
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

	return epoll_ctl(w->epfd, op, c->fd, &ev);
}

/* Sends the rest of what the socket did not take.  0, or -1: closed. */
static int
bench_conn_flush(struct bench_worker *w, struct bench_conn *c)
{
	while (c->pending_off < c->pending_len) {
		ssize_t n = io_send_some(c->fd, c->pending + c->pending_off,
		    c->pending_len - c->pending_off);
		if (n == -1)
			return -1;
		if (n == 0)
			return 0;
		c->pending_off += (size_t)n;
	}
	free(c->pending);
	c->pending = NULL;
	c->pending_off = c->pending_len = 0;
	return bench_conn_watch(w, c, EPOLL_CTL_MOD, EPOLLIN);
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
		limit = bench_conn_due(w, c);
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
			len += o->size;
		}
		if (len == 0)
			return 0;
		ssize_t n = io_send_some(c->fd, w->wbuf, len);
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
		return bench_conn_watch(
		    w, c, EPOLL_CTL_MOD, EPOLLIN | EPOLLOUT);
	}
}

/* Reads what came back and checks it; sends more if it may. */
static void
bench_conn_readable(struct bench_worker *w, struct bench_conn *c)
{
	ssize_t n = recv(c->fd, w->rbuf, BENCH_READ_SIZE, 0);

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
	payload_check_feed(
	    &c->check, w->rbuf, (size_t)n, &w->counts, bench_conn_verified, c);
	if (c->state != BENCH_OPEN)
		return;
	c->deadline_ns = payload_check_outstanding(&c->check) == 0
	    ? 0
	    : w->now + (uint64_t)(w->o->timeout * BENCH_NS);
	if (c->check.sent == c->target &&
	    payload_check_outstanding(&c->check) == 0) {
		bench_conn_finished(w, c);
		return;
	}
	if (bench_conn_send(w, c) == -1)
		bench_conn_fail(w, c, &w->closed_early);
}

static void
bench_conn_event(struct bench_worker *w, struct bench_conn *c, uint32_t events)
{
	if ((events & EPOLLOUT) != 0 && c->pending_len > 0) {
		if (bench_conn_flush(w, c) == -1) {
			bench_conn_fail(w, c, &w->closed_early);
			return;
		}
		if (c->pending_len == 0 && bench_conn_send(w, c) == -1) {
			bench_conn_fail(w, c, &w->closed_early);
			return;
		}
	}
	if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0 && c->fd >= 0)
		bench_conn_readable(w, c);
}

/* ---- connecting ---------------------------------------------------- */

static void
bench_connect_failed(struct bench_worker *w, struct bench_conn *c, int err)
{
	if (w->connect_errno == 0)
		w->connect_errno = err;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->state = BENCH_CLOSED;
	w->connect_failed++;
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
	/* Best effort: a socket that keeps Nagle is merely slower. */
	(void)net_set_nodelay(c->fd);
	c->state = BENCH_DONE;
	c->deadline_ns = 0;
	bench_bump(&w->connected, 1);
	bench_bump(&w->open, 1);
}

/* Starts connecting c.  Returns 1 if now in progress, else 0. */
static int
bench_connect_start(struct bench_worker *w, struct bench_conn *c)
{
	const struct bench_shared *sh = w->shared;
	int rc;

	c->fd = socket(
	    sh->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd == -1) {
		bench_connect_failed(w, c, errno);
		return 0;
	}
	c->state = BENCH_CONNECTING;
	c->deadline_ns = w->now + (uint64_t)(w->o->timeout * BENCH_NS);
	do
		rc = connect(
		    c->fd, (const struct sockaddr *)&sh->addr, sh->addrlen);
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
			if (c->state != BENCH_CONNECTING) {
				/* Early data or close from the server. */
				bench_conn_event(w, c, events[i].events);
				continue;
			}
			connecting--;
			if (getsockopt(
			        c->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
				err = errno;
			if (err != 0)
				bench_connect_failed(w, c, err);
			else
				bench_connect_done(w, c);
		}
		if (w->now < next_check)
			continue;
		next_check = w->now + BENCH_TICK_NS;
		for (uint32_t i = 0; i < next; i++) {
			struct bench_conn *c = &w->conns[i];
			if (c->state == BENCH_CONNECTING &&
			    c->deadline_ns <= w->now) {
				connecting--;
				bench_connect_failed(w, c, ETIMEDOUT);
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
		if (c->state == BENCH_OPEN && c->deadline_ns != 0 &&
		    c->deadline_ns <= w->now)
			bench_conn_fail(w, c, &w->timed_out);
	}
}

/* Time's up (-d): send nothing more, wait for what is outstanding. */
static void
bench_worker_stop_sending(struct bench_worker *w)
{
	for (uint32_t i = 0; i < w->nconns; i++) {
		struct bench_conn *c = &w->conns[i];
		if (c->state != BENCH_OPEN)
			continue;
		c->target = c->check.sent;
		if (payload_check_outstanding(&c->check) == 0 &&
		    c->pending_len == 0)
			bench_conn_finished(w, c);
	}
}

/*
 * One phase of traffic: the warmup (closed loop, unmeasured) or the
 * measured run.  Returns when every connection is done or gone.
 */
static void
bench_worker_traffic(struct bench_worker *w, int measuring)
{
	const struct bench_options *o = w->o;
	struct epoll_event events[BENCH_EVENTS];
	uint64_t end = 0, next_check, cursor_round = 0;
	uint32_t cursor = 0, target;
	int stopping = 0;

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
	if (w->open_loop)
		w->interval_ns =
		    (uint64_t)((double)o->connections / o->rate * BENCH_NS);
	if (w->interval_ns == 0)
		w->interval_ns = 1;
	w->active = 0;
	for (uint32_t i = 0; i < w->nconns; i++) {
		struct bench_conn *c = &w->conns[i];
		if (c->state != BENCH_DONE)
			continue;
		c->state = BENCH_OPEN;
		c->target = target;
		c->offset_ns = w->open_loop
		    ? (uint64_t)((double)c->id / o->rate * BENCH_NS)
		    : 0;
		w->active++;
		if (c->check.sent == target)
			bench_conn_finished(w, c);
		else if (!w->open_loop && bench_conn_send(w, c) == -1)
			bench_conn_fail(w, c, &w->closed_early);
	}
	while (w->active > 0) {
		int wait_ms = 100;

		if (end != 0 && !stopping && w->now >= end) {
			stopping = 1;
			bench_worker_stop_sending(w);
			continue;
		}
		/* Open loop: visit the connections in schedule order. */
		while (w->open_loop && !stopping &&
		    cursor_round + o->warmup < target) {
			struct bench_conn *c = &w->conns[cursor];
			uint64_t due = w->phase_start + c->offset_ns +
			    cursor_round * w->interval_ns;
			if (due > w->now) {
				uint64_t ms = (due - w->now + 999999) / 1000000;
				if (ms < (uint64_t)wait_ms)
					wait_ms = (int)ms;
				break;
			}
			if (bench_conn_send(w, c) == -1)
				bench_conn_fail(w, c, &w->closed_early);
			if (++cursor == w->nconns) {
				cursor = 0;
				cursor_round++;
			}
		}
		if (end != 0 && !stopping) {
			uint64_t ms = end > w->now
			    ? (end - w->now + 999999) / 1000000
			    : 0;
			if (ms < (uint64_t)wait_ms)
				wait_ms = (int)ms;
		}
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
	if (measuring)
		w->run_end = w->now;
	w->run_start = w->phase_start;
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

/* Resolves the target and checks it answers: the address to use. */
static int
bench_probe(const struct bench_options *o, struct bench_shared *sh,
    struct bench_result *r, char *why, size_t whylen)
{
	int gai, fd, save_errno;

	fd = net_connect(o->host, o->port, (int)(o->timeout * 1000), &gai);
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
		c->fd = -1;
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

/* Sums what the workers see right now, for a progress line. */
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
		histogram_add(latency, &workers[i].latency);
	}
}

/* Reports progress once a second until every worker has finished. */
static void
bench_watch(struct bench_shared *sh, struct bench_worker *workers,
    bench_progress_fn *progress, void *arg, struct histogram *scratch)
{
	struct histogram *seen = &scratch[0], *now = &scratch[1];
	struct histogram *recent = &scratch[2];
	uint64_t start = clock_now_ns(), last = start, last_verified = 0;
	struct timespec wake;

	histogram_reset(seen);
	clock_gettime(CLOCK_MONOTONIC, &wake);
	pthread_mutex_lock(&sh->lock);
	while (sh->finished < sh->threads) {
		wake.tv_sec++;
		while (sh->finished < sh->threads &&
		    pthread_cond_timedwait(&sh->cond, &sh->lock, &wake) == 0)
			;
		if (sh->finished == sh->threads || progress == NULL)
			continue;
		pthread_mutex_unlock(&sh->lock);
		struct bench_progress p;
		uint64_t t = clock_now_ns();
		bench_progress_sample(workers, sh->threads, &p, now);
		histogram_subtract(recent, now, seen);
		p.elapsed = (double)(t - start) / BENCH_NS;
		p.rate = (double)(p.verified - last_verified) /
		    ((double)(t - last) / BENCH_NS);
		p.p99_ns = histogram_percentile(recent, 99.0);
		histogram_reset(seen);
		histogram_add(seen, now);
		last = t;
		last_verified = p.verified;
		progress(arg, &p);
		pthread_mutex_lock(&sh->lock);
	}
	pthread_mutex_unlock(&sh->lock);
}

static void
bench_collect(
    struct bench_result *r, struct bench_worker *workers, unsigned threads)
{
	uint64_t connect_start = UINT64_MAX, connect_end = 0;
	uint64_t run_start = UINT64_MAX, run_end = 0;

	r->threads = threads;
	histogram_reset(&r->latency);
	for (unsigned i = 0; i < threads; i++) {
		struct bench_worker *w = &workers[i];
		r->connected += bench_read(&w->connected);
		r->connect_failed += w->connect_failed;
		if (r->connect_errno == 0)
			r->connect_errno = w->connect_errno;
		r->closed_early += w->closed_early;
		r->timed_out += w->timed_out;
		r->sent += w->sent;
		r->measured += w->measured;
		r->counts.verified += w->counts.verified;
		r->counts.corrupt += w->counts.corrupt;
		r->counts.lost += w->counts.lost;
		r->counts.reordered += w->counts.reordered;
		r->counts.extra_bytes += w->counts.extra_bytes;
		histogram_add(&r->latency, &w->latency);
		if (w->connect_start < connect_start)
			connect_start = w->connect_start;
		if (w->connect_end > connect_end)
			connect_end = w->connect_end;
		if (w->run_start != 0 && w->run_start < run_start)
			run_start = w->run_start;
		if (w->run_end > run_end)
			run_end = w->run_end;
	}
	r->received =
	    r->counts.verified + r->counts.corrupt + r->counts.reordered;
	if (connect_end > connect_start)
		r->connect_seconds =
		    (double)(connect_end - connect_start) / BENCH_NS;
	if (run_end > run_start)
		r->seconds = (double)(run_end - run_start) / BENCH_NS;
}

int
bench_run(const struct bench_options *o, struct bench_result *r,
    bench_progress_fn *progress, void *arg, char *why, size_t whylen)
{
	struct bench_shared sh;
	struct bench_worker *workers = NULL;
	struct histogram *scratch = NULL;
	pthread_condattr_t cattr;
	sigset_t all, old;
	unsigned created = 0, initialised = 0;
	int rc = -1, err;

	memset(r, 0, sizeof(*r));
	histogram_reset(&r->latency);
	if (bench_options_check(o, why, whylen) == -1)
		return -1;
	memset(&sh, 0, sizeof(sh));
	sh.options = o;
	sh.threads = o->threads < o->connections ? o->threads : o->connections;
	if (bench_probe(o, &sh, r, why, whylen) == -1)
		return -1;

	workers = calloc(sh.threads, sizeof(*workers));
	scratch = malloc(3 * sizeof(*scratch));
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
	sh.go = created == sh.threads ? 1 : -1;
	pthread_cond_broadcast(&sh.cond);
	pthread_mutex_unlock(&sh.lock);
	if (created == sh.threads)
		bench_watch(&sh, workers, progress, arg, scratch);
	for (unsigned i = 0; i < created; i++)
		pthread_join(workers[i].thread, NULL);
	if (created != sh.threads) {
		snprintf(
		    why, whylen, "starting worker threads: %s", strerror(err));
	} else {
		bench_collect(r, workers, sh.threads);
		rc = 0;
	}
	pthread_barrier_destroy(&sh.barrier);
	pthread_mutex_destroy(&sh.lock);
	pthread_cond_destroy(&sh.cond);
out:
	for (unsigned i = 0; i < initialised; i++)
		bench_worker_free(&workers[i]);
	free(workers);
	free(scratch);
	return rc;
}
