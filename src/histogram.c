/* histogram.c - log-bucketed latency histogram (see histogram.h). */
#include "config.h"

#include <math.h>
#include <string.h>

#include "histogram.h"

#define RELAXED memory_order_relaxed

static uint64_t
histogram_get(const _Atomic uint64_t *counter)
{
	return atomic_load_explicit(counter, RELAXED);
}

static void
histogram_set(_Atomic uint64_t *counter, uint64_t value)
{
	atomic_store_explicit(counter, value, RELAXED);
}

void
histogram_reset(struct histogram *h)
{
	for (unsigned i = 0; i < HISTOGRAM_BUCKETS; i++)
		histogram_set(&h->counts[i], 0);
	histogram_set(&h->total, 0);
	histogram_set(&h->min, UINT64_MAX);
	histogram_set(&h->max, 0);
	histogram_set(&h->sum, 0);
}

unsigned
histogram_bucket(uint64_t value)
{
	const unsigned linear = 2 * HISTOGRAM_SUB_COUNT;

	if (value < linear)
		return (unsigned)value;
	/* top is the highest set bit: at least SUB_BITS + 1 here. */
	unsigned top = 63u - (unsigned)__builtin_clzll(value);
	unsigned shift = top - HISTOGRAM_SUB_BITS;
	unsigned sub = (unsigned)(value >> shift) - HISTOGRAM_SUB_COUNT;
	return linear + (shift - 1) * HISTOGRAM_SUB_COUNT + sub;
}

/* log2 of the width of a bucket: 0 for the exact ones. */
static unsigned
histogram_bucket_shift(unsigned bucket)
{
	const unsigned linear = 2 * HISTOGRAM_SUB_COUNT;

	return bucket < linear ? 0
	                       : (bucket - linear) / HISTOGRAM_SUB_COUNT + 1;
}

uint64_t
histogram_bucket_low(unsigned bucket)
{
	unsigned shift = histogram_bucket_shift(bucket);

	if (shift == 0)
		return bucket;
	uint64_t sub = (bucket - 2 * HISTOGRAM_SUB_COUNT) % HISTOGRAM_SUB_COUNT;
	return (HISTOGRAM_SUB_COUNT + sub) << shift;
}

uint64_t
histogram_bucket_high(unsigned bucket)
{
	return histogram_bucket_low(bucket) +
	    ((uint64_t)1 << histogram_bucket_shift(bucket)) - 1;
}

void
histogram_record(struct histogram *h, uint64_t value)
{
	_Atomic uint64_t *slot = &h->counts[histogram_bucket(value)];

	histogram_set(slot, histogram_get(slot) + 1);
	histogram_set(&h->total, histogram_get(&h->total) + 1);
	histogram_set(&h->sum, histogram_get(&h->sum) + value);
	if (value < histogram_get(&h->min))
		histogram_set(&h->min, value);
	if (value > histogram_get(&h->max))
		histogram_set(&h->max, value);
}

void
histogram_add(struct histogram *dst, const struct histogram *src)
{
	for (unsigned i = 0; i < HISTOGRAM_BUCKETS; i++) {
		uint64_t n = histogram_get(&src->counts[i]);
		if (n != 0)
			histogram_set(&dst->counts[i],
			    histogram_get(&dst->counts[i]) + n);
	}
	histogram_set(&dst->total,
	    histogram_get(&dst->total) + histogram_get(&src->total));
	histogram_set(
	    &dst->sum, histogram_get(&dst->sum) + histogram_get(&src->sum));
	if (histogram_get(&src->min) < histogram_get(&dst->min))
		histogram_set(&dst->min, histogram_get(&src->min));
	if (histogram_get(&src->max) > histogram_get(&dst->max))
		histogram_set(&dst->max, histogram_get(&src->max));
}

void
histogram_subtract(
    struct histogram *dst, const struct histogram *a, const struct histogram *b)
{
	uint64_t total = 0, lowest = UINT64_MAX, highest = 0;

	for (unsigned i = 0; i < HISTOGRAM_BUCKETS; i++) {
		uint64_t na = histogram_get(&a->counts[i]);
		uint64_t nb = histogram_get(&b->counts[i]);
		uint64_t n = na > nb ? na - nb : 0;
		histogram_set(&dst->counts[i], n);
		if (n == 0)
			continue;
		total += n;
		if (lowest == UINT64_MAX)
			lowest = histogram_bucket_low(i);
		highest = histogram_bucket_high(i);
	}
	/* The exact extremes of a still bound the difference's. */
	if (total != 0 && lowest < histogram_get(&a->min))
		lowest = histogram_get(&a->min);
	if (total != 0 && highest > histogram_get(&a->max))
		highest = histogram_get(&a->max);
	uint64_t sa = histogram_get(&a->sum), sb = histogram_get(&b->sum);
	histogram_set(&dst->total, total);
	histogram_set(&dst->sum, sa > sb ? sa - sb : 0);
	histogram_set(&dst->min, lowest);
	histogram_set(&dst->max, highest);
}

uint64_t
histogram_count(const struct histogram *h)
{
	return histogram_get(&h->total);
}

uint64_t
histogram_min(const struct histogram *h)
{
	return histogram_count(h) == 0 ? 0 : histogram_get(&h->min);
}

uint64_t
histogram_max(const struct histogram *h)
{
	return histogram_get(&h->max);
}

double
histogram_mean(const struct histogram *h)
{
	uint64_t n = histogram_count(h);

	return n == 0 ? 0.0 : (double)histogram_get(&h->sum) / (double)n;
}

/* The midpoint of a bucket, within the exact extremes of h. */
static uint64_t
histogram_bucket_mid(const struct histogram *h, unsigned bucket)
{
	uint64_t low = histogram_bucket_low(bucket);
	uint64_t mid = low + (histogram_bucket_high(bucket) - low) / 2;

	if (mid < histogram_min(h))
		mid = histogram_min(h);
	if (mid > histogram_max(h))
		mid = histogram_max(h);
	return mid;
}

double
histogram_stddev(const struct histogram *h)
{
	uint64_t n = histogram_count(h);
	double mean = histogram_mean(h), squares = 0;

	if (n == 0)
		return 0.0;
	for (unsigned i = 0; i < HISTOGRAM_BUCKETS; i++) {
		uint64_t k = histogram_get(&h->counts[i]);
		if (k == 0)
			continue;
		double d = (double)histogram_bucket_mid(h, i) - mean;
		squares += d * d * (double)k;
	}
	return sqrt(squares / (double)n);
}

uint64_t
histogram_bucket_count(const struct histogram *h, unsigned bucket)
{
	return histogram_get(&h->counts[bucket]);
}

void
histogram_add_bucket(struct histogram *h, unsigned bucket, uint64_t n)
{
	histogram_set(
	    &h->counts[bucket], histogram_get(&h->counts[bucket]) + n);
	histogram_set(&h->total, histogram_get(&h->total) + n);
}

void
histogram_set_summary(
    struct histogram *h, uint64_t min, uint64_t max, uint64_t sum)
{
	histogram_set(&h->min, histogram_count(h) == 0 ? UINT64_MAX : min);
	histogram_set(&h->max, max);
	histogram_set(&h->sum, sum);
}

uint64_t
histogram_sum(const struct histogram *h)
{
	return histogram_get(&h->sum);
}

/*
 * The next percentile HdrHistogram's iterator reports after p: ticks
 * steps per halving of the distance to 100.
 */
static double
histogram_hgrm_next(double p, int ticks)
{
	double half = pow(2, floor(log(100.0 / (100.0 - p)) / log(2)) + 1);

	return p + 100.0 / (ticks * half);
}

/* One line of the distribution. */
static void
histogram_hgrm_line(
    FILE *out, double value, double percentile, uint64_t cumulative)
{
	double fraction = percentile / 100.0;

	fprintf(out, "%12.6f %12.6f %12llu %12.2f\n", value, fraction,
	    (unsigned long long)cumulative, 1.0 / (1.0 - fraction));
}

int
histogram_write_hgrm(FILE *out, const struct histogram *h, double unit)
{
	const int ticks = 5;
	uint64_t total = histogram_count(h), cumulative = 0;
	double next = 0.0, value = 0.0;

	fprintf(out, "%12s %12s %12s %12s\n\n", "Value", "Percentile",
	    "TotalCount", "1/(1-Percentile)");
	for (unsigned i = 0; i < HISTOGRAM_BUCKETS && cumulative < total; i++) {
		uint64_t k = histogram_get(&h->counts[i]);
		if (k == 0)
			continue;
		cumulative += k;
		uint64_t high = histogram_bucket_high(i);
		value = (double)(high < histogram_max(h) ? high
		                                         : histogram_max(h)) /
		    unit;
		if (cumulative >= total) {
			/* The last bucket: one line, then 100%. */
			histogram_hgrm_line(out, value, next, cumulative);
			break;
		}
		while (next <= 100.0 * (double)cumulative / (double)total) {
			histogram_hgrm_line(out, value, next, cumulative);
			next = histogram_hgrm_next(next, ticks);
		}
	}
	if (total > 0)
		histogram_hgrm_line(out, value, 100.0, total);
	fprintf(out,
	    "#[Mean    = %12.3f, StdDeviation   = %12.3f]\n"
	    "#[Max     = %12.3f, Total count    = %12llu]\n"
	    "#[Buckets = %12d, SubBuckets     = %12d]\n",
	    histogram_mean(h) / unit, histogram_stddev(h) / unit,
	    (double)histogram_max(h) / unit, (unsigned long long)total,
	    64 - HISTOGRAM_SUB_BITS, 2 * HISTOGRAM_SUB_COUNT);
	return ferror(out) ? -1 : 0;
}

uint64_t
histogram_percentile(const struct histogram *h, double percentile)
{
	uint64_t total = histogram_count(h), seen = 0, rank;

	if (total == 0)
		return 0;
	if (percentile < 0.0)
		percentile = 0.0;
	if (percentile > 100.0)
		percentile = 100.0;
	rank = (uint64_t)ceil(percentile / 100.0 * (double)total);
	if (rank <= 1)
		return histogram_min(h);
	if (rank >= total)
		return histogram_max(h);
	for (unsigned i = 0; i < HISTOGRAM_BUCKETS; i++) {
		seen += histogram_get(&h->counts[i]);
		if (seen >= rank)
			return histogram_bucket_mid(h, i);
	}
	return histogram_max(h);
}
