/*
 * histogram.h - log-bucketed latency histogram in the manner of
 * HdrHistogram: every value from 0 to 2^64-1 lands in a bucket at most
 * 1/128 of its size wide, so a reported percentile is within 0.4% of
 * the true one.  One thread writes a histogram; others may read it at
 * any time (for progress lines) and merge it once the writer is done.
 */
#ifndef TCPCHAT_HISTOGRAM_H
#define TCPCHAT_HISTOGRAM_H

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

/* Values below 2^(HISTOGRAM_SUB_BITS + 1) have a bucket each. */
#define HISTOGRAM_SUB_BITS 7
#define HISTOGRAM_SUB_COUNT (1u << HISTOGRAM_SUB_BITS)
#define HISTOGRAM_BUCKETS                                                      \
	(2 * HISTOGRAM_SUB_COUNT +                                             \
	    (64 - HISTOGRAM_SUB_BITS - 1) * HISTOGRAM_SUB_COUNT)
/*
 * The layout's name in saved runs: two histograms can be merged
 * exactly only when their buckets are the same.
 */
#define HISTOGRAM_LAYOUT "log-linear"

/*
 * Counters are atomics touched with relaxed loads and stores only: the
 * single writer pays nothing for them (plain moves on common CPUs) and
 * a reader sees whole, if slightly stale, numbers.
 */
struct histogram {
	_Atomic uint64_t counts[HISTOGRAM_BUCKETS];
	_Atomic uint64_t total;
	_Atomic uint64_t min;
	_Atomic uint64_t max;
	_Atomic uint64_t sum; /* for the mean; wraps after 584 years */
};

/* Empties h. */
void histogram_reset(struct histogram *h);

/* Records one value.  Only one thread may record into a histogram. */
void histogram_record(struct histogram *h, uint64_t value);

/* Adds every count of src into dst (the writer of dst calls this). */
void histogram_add(struct histogram *dst, const struct histogram *src);

/*
 * dst = a - b, bucket by bucket, for "since the last look" figures
 * when b is an earlier copy of a.  min and max become those of what is
 * left (bucket-accurate).
 */
void histogram_subtract(struct histogram *dst, const struct histogram *a,
    const struct histogram *b);

/* Number of values recorded. */
uint64_t histogram_count(const struct histogram *h);

/* Smallest and largest value recorded, exactly (0 when empty). */
uint64_t histogram_min(const struct histogram *h);
uint64_t histogram_max(const struct histogram *h);

/* Mean of the values recorded (0 when empty). */
double histogram_mean(const struct histogram *h);

/*
 * Standard deviation of the values recorded, from the buckets (each
 * value taken as its bucket's midpoint) around the exact mean, as
 * HdrHistogram computes it (0 when empty).
 */
double histogram_stddev(const struct histogram *h);

/*
 * The value at percentile (0 to 100): the midpoint of the bucket
 * holding the ceil(percentile% * count)'th smallest value, clamped to
 * [min, max]; the exact min and max for the first and last ranks.  0
 * when empty.
 */
uint64_t histogram_percentile(const struct histogram *h, double percentile);

/* The bucket a value falls in, and the bounds of a bucket. */
unsigned histogram_bucket(uint64_t value);
uint64_t histogram_bucket_low(unsigned bucket);
uint64_t histogram_bucket_high(unsigned bucket);

/* The count in one bucket (bucket < HISTOGRAM_BUCKETS). */
uint64_t histogram_bucket_count(const struct histogram *h, unsigned bucket);

/*
 * Rebuilding a histogram from its exported buckets (a saved run): adds
 * n values to bucket, then sets the exact minimum, maximum and sum,
 * which buckets alone cannot give.  Only the writer may call these.
 */
void histogram_add_bucket(struct histogram *h, unsigned bucket, uint64_t n);
void histogram_set_summary(
    struct histogram *h, uint64_t min, uint64_t max, uint64_t sum);

/* The exact sum of the values recorded (for saving and merging). */
uint64_t histogram_sum(const struct histogram *h);

/*
 * Writes h in HdrHistogram's percentile-distribution text format (the
 * .hgrm files its plotter reads): columns Value, Percentile, TotalCount
 * and 1/(1-Percentile), five reporting ticks per half distance, values
 * divided by unit (1e6: milliseconds from nanoseconds), then the
 * #[Mean, #[Max and #[Buckets footer lines.  0, or -1 when the stream
 * reports a write error.
 */
int histogram_write_hgrm(FILE *out, const struct histogram *h, double unit);

#endif
