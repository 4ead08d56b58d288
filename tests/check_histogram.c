/* check_histogram.c - bucket bounds, percentiles against known data. */
#include "config.h"

#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "histogram.h"

/* The bound histogram.h promises for a reported percentile. */
#define MAX_RELATIVE_ERROR 0.01

static struct histogram *
new_histogram(void)
{
	struct histogram *h = malloc(sizeof(*h));

	ck_assert_ptr_nonnull(h);
	histogram_reset(h);
	return h;
}

static int
compare_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The exact percentile of sorted data, by the same rank rule. */
static uint64_t
exact_percentile(const uint64_t *sorted, size_t n, double p)
{
	size_t rank = (size_t)ceil(p / 100.0 * (double)n);

	return sorted[rank == 0 ? 0 : rank - 1];
}

static void
assert_close(uint64_t got, uint64_t want, const char *what)
{
	double err = want == 0
	    ? (double)got
	    : fabs((double)got - (double)want) / (double)want;

	ck_assert_msg(err <= MAX_RELATIVE_ERROR,
	    "%s: got %llu, want %llu (relative error %.4f)", what,
	    (unsigned long long)got, (unsigned long long)want, err);
}

START_TEST(test_buckets_hold_their_values)
{
	uint64_t v = 1;

	for (uint64_t i = 0; i < 2 * HISTOGRAM_SUB_COUNT; i++) {
		unsigned b = histogram_bucket(i);
		ck_assert_uint_eq(histogram_bucket_low(b), i);
		ck_assert_uint_eq(histogram_bucket_high(b), i);
	}
	/* Walk values up to 2^64 - 1 by ~3% steps. */
	while (v < UINT64_MAX / 2) {
		unsigned b = histogram_bucket(v);
		uint64_t low = histogram_bucket_low(b);
		uint64_t high = histogram_bucket_high(b);
		ck_assert_uint_lt(b, HISTOGRAM_BUCKETS);
		ck_assert_uint_le(low, v);
		ck_assert_uint_ge(high, v);
		if (v >= 256)
			ck_assert_msg((double)(high - low + 1) / (double)low <=
			        1.0 / HISTOGRAM_SUB_COUNT,
			    "bucket of %llu too wide", (unsigned long long)v);
		v += v / 32 + 1;
	}
	ck_assert_uint_eq(histogram_bucket(UINT64_MAX), HISTOGRAM_BUCKETS - 1);
	ck_assert_uint_eq(
	    histogram_bucket_high(HISTOGRAM_BUCKETS - 1), UINT64_MAX);
	/* Buckets are contiguous. */
	for (unsigned b = 1; b < HISTOGRAM_BUCKETS; b++)
		ck_assert_uint_eq(
		    histogram_bucket_low(b), histogram_bucket_high(b - 1) + 1);
}
END_TEST

START_TEST(test_uniform_percentiles)
{
	struct histogram *h = new_histogram();
	const uint64_t n = 100000;

	/* 1 us .. 100 ms in 1 us steps: percentile p is p% of 100 ms. */
	for (uint64_t i = 1; i <= n; i++)
		histogram_record(h, i * 1000);
	ck_assert_uint_eq(histogram_count(h), n);
	ck_assert_uint_eq(histogram_min(h), 1000);
	ck_assert_uint_eq(histogram_max(h), n * 1000);
	ck_assert(fabs(histogram_mean(h) - 50000500.0) < 1.0);
	assert_close(histogram_percentile(h, 50), 50000000, "p50");
	assert_close(histogram_percentile(h, 90), 90000000, "p90");
	assert_close(histogram_percentile(h, 99), 99000000, "p99");
	assert_close(histogram_percentile(h, 99.9), 99900000, "p99.9");
	ck_assert_uint_eq(histogram_percentile(h, 100), n * 1000);
	ck_assert_uint_eq(histogram_percentile(h, 0), 1000);
	free(h);
}
END_TEST

START_TEST(test_skewed_percentiles)
{
	struct histogram *h = new_histogram();
	const size_t n = 200000;
	const double ps[] = {1, 10, 50, 75, 90, 99, 99.9, 99.99};
	uint64_t *data = malloc(n * sizeof(*data));
	unsigned seed = 12345;

	ck_assert_ptr_nonnull(data);
	/* Log-uniform from 1 ns to about 10 s: every scale at once. */
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		double u = (double)(seed >> 8) / (double)(1u << 24);
		data[i] = (uint64_t)exp(u * log(1e10));
		histogram_record(h, data[i]);
	}
	qsort(data, n, sizeof(*data), compare_u64);
	for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++)
		assert_close(histogram_percentile(h, ps[i]),
		    exact_percentile(data, n, ps[i]), "percentile");
	ck_assert_uint_eq(histogram_min(h), data[0]);
	ck_assert_uint_eq(histogram_max(h), data[n - 1]);
	free(data);
	free(h);
}
END_TEST

START_TEST(test_small_values_exact)
{
	struct histogram *h = new_histogram();

	for (uint64_t v = 0; v < 100; v++)
		histogram_record(h, v);
	ck_assert_uint_eq(histogram_percentile(h, 50), 49);
	ck_assert_uint_eq(histogram_percentile(h, 99), 98);
	ck_assert_uint_eq(histogram_min(h), 0);
	free(h);
}
END_TEST

START_TEST(test_empty)
{
	struct histogram *h = new_histogram();

	ck_assert_uint_eq(histogram_count(h), 0);
	ck_assert_uint_eq(histogram_percentile(h, 99), 0);
	ck_assert_uint_eq(histogram_min(h), 0);
	ck_assert_uint_eq(histogram_max(h), 0);
	ck_assert(histogram_mean(h) == 0.0);
	free(h);
}
END_TEST

START_TEST(test_merge_and_subtract)
{
	struct histogram *all = new_histogram(), *a = new_histogram();
	struct histogram *b = new_histogram(), *merged = new_histogram();
	struct histogram *diff = new_histogram();

	for (uint64_t v = 1; v <= 20000; v++) {
		histogram_record(all, v * 37);
		histogram_record(v % 2 ? a : b, v * 37);
	}
	histogram_add(merged, a);
	histogram_add(merged, b);
	ck_assert_uint_eq(histogram_count(merged), 20000);
	ck_assert_uint_eq(histogram_min(merged), 37);
	ck_assert_uint_eq(histogram_max(merged), 20000 * 37);
	for (double p = 1; p <= 100; p += 1.5)
		ck_assert_uint_eq(histogram_percentile(merged, p),
		    histogram_percentile(all, p));
	/* merged - a is b again. */
	histogram_subtract(diff, merged, a);
	ck_assert_uint_eq(histogram_count(diff), histogram_count(b));
	for (double p = 1; p <= 100; p += 1.5)
		assert_close(histogram_percentile(diff, p),
		    histogram_percentile(b, p), "difference");
	free(all);
	free(a);
	free(b);
	free(merged);
	free(diff);
}
END_TEST

START_TEST(test_stddev)
{
	struct histogram *h = new_histogram();

	ck_assert(histogram_stddev(h) == 0.0);
	/* Small values have buckets of their own: the figure is exact. */
	for (uint64_t v = 1; v <= 100; v++)
		histogram_record(h, v);
	ck_assert(
	    fabs(histogram_stddev(h) - sqrt((100.0 * 100 - 1) / 12)) < 1e-9);
	/* Large ones: within the buckets' width. */
	histogram_reset(h);
	for (uint64_t v = 1; v <= 10000; v++)
		histogram_record(h, 1000000 + (v % 2 ? 50000 : 0));
	/* Each half is off by at most half a bucket (4096 wide there). */
	ck_assert_msg(fabs(histogram_stddev(h) - 25000) <= 2048, "stddev %f",
	    histogram_stddev(h));
	free(h);
}
END_TEST

START_TEST(test_rebuilt_from_buckets)
{
	struct histogram *h = new_histogram(), *copy = new_histogram();

	for (uint64_t v = 1; v <= 5000; v++)
		histogram_record(h, v * v * 11);
	for (unsigned i = 0; i < HISTOGRAM_BUCKETS; i++)
		if (histogram_bucket_count(h, i) != 0)
			histogram_add_bucket(
			    copy, i, histogram_bucket_count(h, i));
	histogram_set_summary(
	    copy, histogram_min(h), histogram_max(h), histogram_sum(h));
	ck_assert_uint_eq(histogram_count(copy), 5000);
	ck_assert_uint_eq(histogram_min(copy), 11);
	ck_assert_uint_eq(histogram_max(copy), 5000ull * 5000 * 11);
	ck_assert(histogram_mean(copy) == histogram_mean(h));
	ck_assert(histogram_stddev(copy) == histogram_stddev(h));
	for (double p = 0; p <= 100; p += 0.7)
		ck_assert_uint_eq(
		    histogram_percentile(copy, p), histogram_percentile(h, p));
	free(h);
	free(copy);
}
END_TEST

/* Reads the next line of an .hgrm text; NULL at the end. */
static char *
next_line(char **cursor)
{
	char *line = *cursor, *lf;

	if (*line == '\0')
		return NULL;
	lf = strchr(line, '\n');
	ck_assert_ptr_nonnull(lf);
	*lf = '\0';
	*cursor = lf + 1;
	return line;
}

START_TEST(test_hgrm_format)
{
	/* The percentiles HdrHistogram reports with 5 ticks per half. */
	static const double first[] = {0, .1, .2, .3, .4, .5, .55, .6, .65, .7,
	    .75, .775, .8, .825, .85, .875, .8875, .9, .9125, .925};
	struct histogram *h = new_histogram();
	char *text = NULL, *cursor, *line;
	size_t len = 0;
	double value, pct, inv, last_value = -1, last_pct = -1;
	unsigned long long count, last_count = 0;
	unsigned n = 0;
	FILE *f = open_memstream(&text, &len);

	ck_assert_ptr_nonnull(f);
	for (uint64_t v = 1; v <= 1000; v++)
		histogram_record(h, v * 1000);
	ck_assert_int_eq(histogram_write_hgrm(f, h, 1e6), 0);
	fclose(f);
	cursor = text;
	ck_assert_str_eq(next_line(&cursor),
	    "       Value   Percentile   TotalCount 1/(1-Percentile)");
	ck_assert_str_eq(next_line(&cursor), "");
	while ((line = next_line(&cursor)) != NULL && line[0] != '#') {
		char tail[16];
		if (strstr(line, "inf") != NULL) {
			ck_assert_int_eq(sscanf(line, "%lf %lf %llu %15s",
			                     &value, &pct, &count, tail),
			    4);
			ck_assert_str_eq(tail, "inf");
			ck_assert(pct == 1.0);
		} else {
			ck_assert_int_eq(sscanf(line, "%lf %lf %llu %lf",
			                     &value, &pct, &count, &inv),
			    4);
			/* pct has 6 decimals, inv 2. */
			ck_assert(fabs(inv - 1 / (1 - pct)) <=
			    0.006 + 1e-6 * inv * inv);
		}
		if (n < sizeof(first) / sizeof(first[0]))
			ck_assert_msg(fabs(pct - first[n]) < 1e-6,
			    "line %u: percentile %f, want %f", n, pct,
			    first[n]);
		ck_assert(value >= last_value && pct > last_pct &&
		    count >= last_count);
		/* A value is an upper bound of what it counts, within 1%. */
		ck_assert_msg(value * 1000 >= (double)count * 0.99 - 1e-9,
		    "value %f for %llu values", value, count);
		last_value = value;
		last_pct = pct;
		last_count = count;
		n++;
	}
	ck_assert_uint_gt(n, 30);
	ck_assert(last_pct == 1.0 && last_count == 1000);
	ck_assert(fabs(last_value - 1.0) < 1e-9);
	ck_assert_ptr_nonnull(line);
	ck_assert_str_eq(line,
	    "#[Mean    =        0.500, StdDeviation   = "
	    "       0.289]");
	ck_assert_str_eq(next_line(&cursor),
	    "#[Max     =        1.000, Total count    =         1000]");
	ck_assert_str_eq(next_line(&cursor),
	    "#[Buckets =           57, SubBuckets     =          256]");
	ck_assert_ptr_null(next_line(&cursor));
	free(text);
	free(h);
}
END_TEST

static Suite *
histogram_suite(void)
{
	Suite *s = suite_create("histogram");
	TCase *tc;

	tc = tcase_create("buckets");
	tcase_add_test(tc, test_buckets_hold_their_values);
	tcase_add_test(tc, test_small_values_exact);
	suite_add_tcase(s, tc);
	tc = tcase_create("percentiles");
	tcase_add_test(tc, test_uniform_percentiles);
	tcase_add_test(tc, test_skewed_percentiles);
	tcase_add_test(tc, test_empty);
	suite_add_tcase(s, tc);
	tc = tcase_create("merge");
	tcase_add_test(tc, test_merge_and_subtract);
	tcase_add_test(tc, test_rebuilt_from_buckets);
	suite_add_tcase(s, tc);
	tc = tcase_create("statistics");
	tcase_add_test(tc, test_stddev);
	tcase_add_test(tc, test_hgrm_format);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(histogram_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
