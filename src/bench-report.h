/*
 * bench-report.h - tcpchat-bench's output: the human summary, the JSON
 * object and the progress line, written to a stream the caller picks.
 */
#ifndef TCPCHAT_BENCH_REPORT_H
#define TCPCHAT_BENCH_REPORT_H

#include <stdio.h>

#include "bench.h"

/* The summary in the manner of wrk, ending with the verdict line. */
void bench_report_text(
    FILE *out, const struct bench_options *o, const struct bench_result *r);

/* One JSON object with the options and everything measured, then LF. */
void bench_report_json(
    FILE *out, const struct bench_options *o, const struct bench_result *r);

/* One progress line, starting with CR and without LF (for a terminal). */
void bench_report_progress(FILE *out, const struct bench_progress *p);

/*
 * The errors found, as "1 corrupt, 3 lost" (or "none"), into buf.
 * Returns buf.
 */
char *bench_report_errors(const struct bench_result *r, char *buf, size_t size);

#endif
