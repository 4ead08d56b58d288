/*
 * bench.h - the load generator's engine: worker threads, each with its
 * own epoll multiplexing a share of non-blocking connections, that
 * send payload messages, verify every byte echoed back and time each
 * round trip into per-thread histograms merged at the end.
 */
#ifndef TCPCHAT_BENCH_H
#define TCPCHAT_BENCH_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "histogram.h"
#include "payload.h"
#include "tls.h"

#define BENCH_MAX_CONNECTIONS 1000000
#define BENCH_MAX_THREADS 256
#define BENCH_MAX_IN_FLIGHT 1024
/* Sequence numbers are 32-bit: messages per connection stop here. */
#define BENCH_MAX_MESSAGES 4000000000u
/* Descriptors needed besides the connections (stdio, epolls, slack). */
#define BENCH_SPARE_FILES 64
#define BENCH_MAX_PERCENTILES 16
/* Timeline rows kept (a day at 1 s); later ones are counted, not kept. */
#define BENCH_TIMELINE_MAX 86400
/* Room for why a connection failed: "TLS handshake failed: REASON". */
#define BENCH_ERROR_MAX (TLS_ERR_MAX + 32)
/* Open loop: the share of messages that must leave on time. */
#define BENCH_RATE_KEPT_PERCENT 95

struct bench_options {
	const char *host;
	const char *port;
	int family; /* AF_UNSPEC, or AF_INET (-4) or AF_INET6 (-6) only */
	unsigned connections; /* -c */
	uint64_t messages; /* -n per connection, when duration is 0 */
	double duration; /* -d seconds (0: use messages) */
	size_t size; /* -s bytes per message, LF included */
	unsigned in_flight; /* -P per connection */
	double rate; /* -r messages/s in all (0: closed loop) */
	double connect_rate; /* --connect-rate per second (0: no limit) */
	uint64_t warmup; /* --warmup round trips per connection */
	unsigned threads; /* -t worker threads */
	double timeout; /* seconds to connect, or to hear each reply */
	double interval; /* --interval: seconds per timeline row (0: none) */
	/* --percentiles to report, ascending, no two alike */
	double percentiles[BENCH_MAX_PERCENTILES];
	unsigned npercentiles;
	/*
	 * When not NULL: set it nonzero (from a signal handler: it is
	 * lock-free) and the run winds down as at the end of -d, waiting
	 * at most the timeout for what is outstanding.  Its value (the
	 * signal number) ends up in bench_result.interrupted.
	 */
	atomic_int *stop;
	int tls; /* --tls: every connection over TLS */
	/* --tls-ca, --tls-servername (NULL: the host), --tls-insecure */
	struct tls_client_options tls_options;
};

/* Fills in the documented defaults. */
void bench_options_defaults(struct bench_options *o);

/*
 * Checks the options against each other and the limits.  0, or -1
 * with a message in why.
 */
int bench_options_check(
    const struct bench_options *o, char *why, size_t whylen);

/* One row of the timeline: an interval of the run. */
struct bench_sample {
	double t; /* seconds since the run started, at the interval's end */
	double seconds; /* the interval's length */
	double msgs_per_sec; /* messages verified per second in it */
	uint64_t latencies; /* round trips timed in it */
	uint64_t p50_ns, p99_ns, max_ns; /* of those (0 when none) */
	uint64_t errors; /* errors found in it */
	uint64_t open; /* connections open at its end */
};

/* One run of a merged report (--merge): what it is known by. */
struct bench_run_row {
	char file[256]; /* the document it came from */
	char target[96];
	char start[32];
	unsigned connections;
	double seconds; /* measured phase */
	double msgs_per_sec;
	uint64_t latencies; /* round trips timed */
	uint64_t p50_ns, p99_ns, max_ns;
	uint64_t errors; /* as bench_result_errors counts them */
	int ok;
	int interrupted;
};

struct bench_result {
	char target[96]; /* address actually connected to */
	int family; /* its family, AF_INET or AF_INET6 */
	char start[32]; /* when the run started: UTC, ISO 8601 */
	int interrupted; /* the stop value that cut the run short, or 0 */
	unsigned threads; /* worker threads used */
	uint64_t connected; /* connections established */
	uint64_t connect_failed; /* connections that never were */
	int connect_errno; /* why the first of them failed */
	char connect_error[BENCH_ERROR_MAX]; /* or this, for a handshake */
	char tls_version[16]; /* --tls: what the probe negotiated */
	uint64_t closed_early; /* closed or reset by the peer */
	uint64_t timed_out; /* given up: no reply in time */
	uint64_t unanswered; /* of those, never sent a single byte */
	uint64_t too_long; /* given up: a reply longer than was sent */
	uint64_t sent; /* messages, warmup included */
	uint64_t received; /* lines that came back */
	struct payload_counts counts; /* what became of the messages */
	uint64_t outstanding; /* unanswered when a cut-short run ended */
	uint64_t measured; /* verified outside the warmup */
	uint64_t scheduled; /* open loop: messages the schedule asked for */
	uint64_t on_schedule; /* of those, sent in time */
	double connect_seconds; /* time to establish them all */
	double warmup_seconds; /* the warmup phase */
	double seconds; /* measured phase, start to end */
	double msgs_per_sec; /* measured / seconds (summed when merged) */
	double bytes_per_sec; /* the same in bytes, one direction */
	struct histogram latency; /* ns, measured messages only */
	struct histogram connect; /* ns to establish each connection */
	struct histogram handshake; /* ns each TLS handshake took after it */
	struct bench_sample *timeline; /* every --interval, in order */
	size_t timeline_len;
	uint64_t timeline_dropped; /* rows past BENCH_TIMELINE_MAX */
	struct bench_run_row *runs; /* merged: the runs it was made of */
	size_t nruns;
};

/* Frees what bench_run (or a merge) allocated in r, not r itself. */
void bench_result_free(struct bench_result *r);

/* Summary of the run so far, once a second while it runs. */
struct bench_progress {
	double elapsed; /* seconds since the start */
	uint64_t connected; /* connections established so far */
	uint64_t open; /* connections open now */
	uint64_t verified; /* messages verified so far */
	uint64_t errors; /* errors found so far */
	double rate; /* verified per second, last interval */
	uint64_t p99_ns; /* p99 latency over the last interval */
};

typedef void bench_progress_fn(void *arg, const struct bench_progress *p);
typedef void bench_sample_fn(void *arg, const struct bench_sample *s);
typedef void bench_note_fn(void *arg, const char *text);

/* What the caller hears while a run goes on, all in its own thread. */
struct bench_hooks {
	bench_progress_fn *progress; /* about once a second */
	bench_sample_fn *sample; /* each timeline row, as it is made */
	bench_note_fn *note; /* connection details, for -v */
	void *arg;
};

/*
 * Runs the benchmark the options describe (checked first) and fills
 * in *r (free it with bench_result_free).  hooks (or any of its
 * functions) may be NULL.  Returns 0 when the run happened (whatever
 * it found: see bench_result_ok), or -1 with a message in why when it
 * could not (bad options, name lookup, the target refusing a first
 * connection, no memory or threads).
 */
int bench_run(const struct bench_options *o, struct bench_result *r,
    const struct bench_hooks *hooks, char *why, size_t whylen);

/* Errors of every kind found, as the timeline counts them. */
uint64_t bench_result_errors(const struct bench_result *r);

/* 1 when an open-loop run sent under 95% of its messages on time. */
int bench_result_rate_missed(const struct bench_result *r);

/*
 * 1 when every message was verified, no connection failed and, open
 * loop, the rate was kept.
 */
int bench_result_ok(const struct bench_result *r);

/*
 * Makes room for the descriptors -c needs: raises the soft open-file
 * limit to the hard one if needed.  0, or -1 with errno EMFILE when
 * even the hard limit is too low; *limit gets the limit then in force.
 */
int bench_raise_nofile(unsigned connections, unsigned threads, uint64_t *limit);

#endif
