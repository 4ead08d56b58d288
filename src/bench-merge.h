/*
 * bench-merge.h - combining runs made at the same time on several
 * machines (tcpchat-bench --merge): their JSON documents are read back
 * and added up, histograms bucket by bucket, so the merged percentiles
 * are exactly those one histogram of every round trip would give.
 */
#ifndef TCPCHAT_BENCH_MERGE_H
#define TCPCHAT_BENCH_MERGE_H

#include <stddef.h>

#include "bench.h"

/* The most documents one merge reads. */
#define BENCH_MERGE_MAX_RUNS 1024
/* The largest document read (a day's timeline is about 10 MB). */
#define BENCH_MERGE_MAX_BYTES (64 * 1024 * 1024)

/* A merged report: options and result as one run's would be. */
struct bench_merged {
	struct bench_options options;
	struct bench_result result;
	char host[256]; /* options.host points here */
	char port[8]; /* and options.port here */
};

/*
 * Reads the n documents named in files and merges them into *m:
 * counts, errors, connections, threads and throughput summed, the
 * histograms merged, the measured time the longest run's, one row per
 * run.  The percentiles reported are those of o (its other fields are
 * not used).  A document that is not tcpchat-bench's, or whose
 * histogram layout differs from this program's, is refused.  0, or -1
 * with the reason (naming the file) in why; free m->result with
 * bench_result_free either way.
 */
int bench_merge_files(struct bench_merged *m, char *const files[], size_t n,
    const struct bench_options *o, char *why, size_t whylen);

#endif
