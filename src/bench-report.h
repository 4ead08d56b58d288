/*
 * bench-report.h - tcpchat-bench's output: the human summary, the JSON
 * document, the timeline rows and the progress line, written to a
 * stream the caller picks.
 */
#ifndef TCPCHAT_BENCH_REPORT_H
#define TCPCHAT_BENCH_REPORT_H

#include <stdio.h>

#include "bench.h"

/* The version of the JSON document's layout ("schema"). */
#define BENCH_REPORT_SCHEMA 1

/*
 * The summary in the manner of wrk, ending with the verdict line; a
 * merged result (r->nruns > 0) starts with a row per run.
 */
void bench_report_text(
    FILE *out, const struct bench_options *o, const struct bench_result *r);

/*
 * The JSON document: one object on one line, with the options, every
 * figure measured, the timeline and the histograms' buckets (what
 * --merge reads back).
 */
void bench_report_json(
    FILE *out, const struct bench_options *o, const struct bench_result *r);

/* A setup failure as a JSON document: {"error": why}, then LF. */
void bench_report_json_error(FILE *out, const char *why);

/* The header above the timeline rows. */
void bench_report_sample_header(FILE *out);

/* One timeline row, as bench_report_sample_header names the columns. */
void bench_report_sample(FILE *out, const struct bench_sample *s);

/* One progress line, starting with CR and without LF (for a terminal). */
void bench_report_progress(FILE *out, const struct bench_progress *p);

/*
 * The errors found, as "1 corrupt, 3 lost" (or "none"), into buf.
 * Returns buf.
 */
char *bench_report_errors(const struct bench_result *r, char *buf, size_t size);

/*
 * The diagnoses the figures call for, one a line ("the server does not
 * appear to echo: ..."), into buf ("" when none).  Returns buf.
 */
char *bench_report_notes(const struct bench_options *o,
    const struct bench_result *r, char *buf, size_t size);

/* A duration in ns with a unit that keeps 3-4 digits, into buf. */
const char *bench_report_duration(uint64_t ns, char *buf, size_t size);

#endif
