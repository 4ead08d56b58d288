/*
 * bench.h - the load generator's engine: worker threads, each with its
 * own epoll multiplexing a share of non-blocking connections, that
 * send payload messages, verify every byte echoed back and time each
 * round trip into per-thread histograms merged at the end.
 */
#ifndef TCPCHAT_BENCH_H
#define TCPCHAT_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include "histogram.h"
#include "payload.h"

#define BENCH_MAX_CONNECTIONS 1000000
#define BENCH_MAX_THREADS 256
#define BENCH_MAX_IN_FLIGHT 1024
/* Sequence numbers are 32-bit: messages per connection stop here. */
#define BENCH_MAX_MESSAGES 4000000000u
/* Descriptors needed besides the connections (stdio, epolls, slack). */
#define BENCH_SPARE_FILES 64

struct bench_options {
	const char *host;
	const char *port;
	unsigned connections; /* -c */
	uint64_t messages; /* -n per connection, when duration is 0 */
	double duration; /* -d seconds (0: use messages) */
	size_t size; /* -s bytes per message, LF included */
	unsigned in_flight; /* -P per connection */
	double rate; /* -r messages/s in all (0: closed loop) */
	double connect_rate; /* --connect-rate per second (0: no limit) */
	uint64_t warmup; /* --warmup round trips per connection */
	unsigned threads; /* -t worker threads */
	double timeout; /* seconds to connect, or to hear a reply */
};

/* Fills in the documented defaults. */
void bench_options_defaults(struct bench_options *o);

/*
 * Checks the options against each other and the limits.  0, or -1
 * with a message in why.
 */
int bench_options_check(
    const struct bench_options *o, char *why, size_t whylen);

struct bench_result {
	char target[96]; /* address actually connected to */
	unsigned threads; /* worker threads used */
	uint64_t connected; /* connections established */
	uint64_t connect_failed; /* connections that never were */
	int connect_errno; /* why the first of them failed */
	uint64_t closed_early; /* closed or reset by the peer */
	uint64_t timed_out; /* given up: no reply in time */
	uint64_t sent; /* messages, warmup included */
	uint64_t received; /* lines that came back */
	struct payload_counts counts; /* what became of the messages */
	uint64_t measured; /* verified outside the warmup */
	double connect_seconds; /* time to establish them all */
	double seconds; /* measured phase, start to end */
	struct histogram latency; /* ns, measured messages only */
};

/* Summary of the run so far, once a second while it runs. */
struct bench_progress {
	double elapsed; /* seconds since the start */
	uint64_t connected; /* connections established so far */
	uint64_t open; /* connections open now */
	uint64_t verified; /* messages verified so far */
	double rate; /* verified per second, last interval */
	uint64_t p99_ns; /* p99 latency over the last interval */
};

typedef void bench_progress_fn(void *arg, const struct bench_progress *p);

/*
 * Runs the benchmark the options describe (checked first) and fills
 * in *r.  progress, when not NULL, is called from the calling thread
 * about once a second.  Returns 0 when the run happened (whatever it
 * found: see bench_result_ok), or -1 with a message in why when it
 * could not (bad options, name lookup, the target refusing a first
 * connection, no memory or threads).
 */
int bench_run(const struct bench_options *o, struct bench_result *r,
    bench_progress_fn *progress, void *arg, char *why, size_t whylen);

/* 1 when every message was verified and no connection failed. */
int bench_result_ok(const struct bench_result *r);

/*
 * Makes room for the descriptors -c needs: raises the soft open-file
 * limit to the hard one if needed.  0, or -1 with errno EMFILE when
 * even the hard limit is too low; *limit gets the limit then in force.
 */
int bench_raise_nofile(unsigned connections, unsigned threads, uint64_t *limit);

#endif
