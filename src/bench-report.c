/*
 * bench-report.c - tcpchat-bench's summary, JSON document, timeline
 * rows and progress line.
 */
#include "config.h"

#include <sys/socket.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "bench-report.h"

/* Room for the error list and the notes. */
#define BENCH_REPORT_TEXT_MAX 1024

const char *
bench_report_duration(uint64_t ns, char *buf, size_t size)
{
	if (ns < 1000)
		snprintf(buf, size, "%" PRIu64 " ns", ns);
	else if (ns < 1000000)
		snprintf(buf, size, "%.2f us", (double)ns / 1e3);
	else if (ns < 1000000000)
		snprintf(buf, size, "%.2f ms", (double)ns / 1e6);
	else
		snprintf(buf, size, "%.2f s", (double)ns / 1e9);
	return buf;
}

/* Appends to buf what printf would print, never past size. */
static void bench_report_append(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
bench_report_append(char *buf, size_t size, const char *fmt, ...)
{
	size_t used = strlen(buf);
	va_list ap;

	if (used + 1 >= size)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + used, size - used, fmt, ap);
	va_end(ap);
}

/* "1 connection", "2 connections": the noun that goes with n. */
static const char *
bench_report_noun(uint64_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

char *
bench_report_errors(const struct bench_result *r, char *buf, size_t size)
{
	const struct {
		uint64_t count;
		const char *one, *many;
	} kinds[] = {
	    {r->connect_failed, "failed connection", "failed connections"},
	    {r->closed_early, "connection closed early",
	        "connections closed early"},
	    {r->timed_out, "connection timed out", "connections timed out"},
	    {r->too_long, "connection sent a reply too long",
	        "connections sent a reply too long"},
	    {r->counts.corrupt, "corrupt", "corrupt"},
	    {r->counts.lost, "lost", "lost"},
	    {r->counts.reordered, "reordered", "reordered"},
	    {r->counts.extra_bytes, "extra byte", "extra bytes"},
	    {r->outstanding, "unanswered when interrupted",
	        "unanswered when interrupted"},
	};

	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (kinds[i].count != 0)
			bench_report_append(buf, size, "%s%" PRIu64 " %s",
			    buf[0] != '\0' ? ", " : "", kinds[i].count,
			    bench_report_noun(
			        kinds[i].count, kinds[i].one, kinds[i].many));
	if (bench_result_rate_missed(r))
		bench_report_append(buf, size,
		    "%scould not keep the rate: %" PRIu64 " of %" PRIu64
		    " messages sent on schedule",
		    buf[0] != '\0' ? ", " : "", r->on_schedule, r->scheduled);
	if (buf[0] == '\0' && r->connected == 0)
		snprintf(buf, size, "no connection established");
	if (buf[0] == '\0')
		snprintf(buf, size, "none");
	return buf;
}

char *
bench_report_notes(const struct bench_options *o, const struct bench_result *r,
    char *buf, size_t size)
{
	uint64_t replies =
	    r->counts.verified + r->counts.corrupt + r->counts.reordered;

	buf[0] = '\0';
	/* Nearly every reply wrong: not an echo at all. */
	if (r->counts.corrupt > 0 && r->counts.verified * 20 < replies)
		bench_report_append(buf, size,
		    "the server does not appear to echo: %" PRIu64
		    " of %" PRIu64 " %s not what was sent\n",
		    r->counts.corrupt, replies,
		    bench_report_noun(replies, "reply was", "replies were"));
	if (r->unanswered > 0)
		bench_report_append(buf, size,
		    "%" PRIu64 " %s established but never answered in %g s: "
		    "a server that accepts slowly (a small listen backlog, as "
		    "with ncat --exec or socat fork) leaves connections "
		    "waiting; try --connect-rate or fewer connections\n",
		    r->unanswered,
		    bench_report_noun(
		        r->unanswered, "connection was", "connections were"),
		    o->timeout);
	if (bench_result_rate_missed(r))
		bench_report_append(buf, size,
		    "with -P %u the server's replies set the pace: raise -P "
		    "or lower -r\n",
		    o->in_flight);
	return buf;
}

/* Why the first connection that failed did, or NULL. */
static const char *
bench_report_first_error(const struct bench_result *r)
{
	if (r->connect_error[0] != '\0')
		return r->connect_error;
	return r->connect_errno != 0 ? strerror(r->connect_errno) : NULL;
}

/* "  latency      p50 1.00 ms ... max 3.00 ms (mean 1.20 ms, ...)". */
static void
bench_report_distribution(FILE *out, const char *label,
    const struct bench_options *o, const struct histogram *h)
{
	char a[32], b[32], c[32];

	fprintf(out, "  %-12s", label);
	if (histogram_count(h) == 0) {
		fprintf(out, " -\n");
		return;
	}
	for (unsigned i = 0; i < o->npercentiles; i++)
		fprintf(out, " p%g %s", o->percentiles[i],
		    bench_report_duration(
		        histogram_percentile(h, o->percentiles[i]), a,
		        sizeof(a)));
	fprintf(out, " max %s (mean %s, stddev %s)\n",
	    bench_report_duration(histogram_max(h), a, sizeof(a)),
	    bench_report_duration((uint64_t)histogram_mean(h), b, sizeof(b)),
	    bench_report_duration((uint64_t)histogram_stddev(h), c, sizeof(c)));
}

/* The rows of a merged result, one per run. */
static void
bench_report_runs(FILE *out, const struct bench_result *r)
{
	char a[32], b[32], c[32];

	fprintf(out, "%-4s %-24s %6s %12s %10s %10s %10s %7s  %s\n", "run",
	    "started", "conns", "msgs/s", "p50", "p99", "max", "errors",
	    "file");
	for (size_t i = 0; i < r->nruns; i++) {
		const struct bench_run_row *w = &r->runs[i];
		fprintf(out,
		    "%-4zu %-24s %6u %12.1f %10s %10s %10s %7" PRIu64
		    "  %s%s\n",
		    i + 1, w->start, w->connections, w->msgs_per_sec,
		    w->latencies ? bench_report_duration(w->p50_ns, a, 32)
		                 : "-",
		    w->latencies ? bench_report_duration(w->p99_ns, b, 32)
		                 : "-",
		    w->latencies ? bench_report_duration(w->max_ns, c, 32)
		                 : "-",
		    w->errors, w->file, w->interrupted ? " (interrupted)" : "");
	}
}

void
bench_report_text(
    FILE *out, const struct bench_options *o, const struct bench_result *r)
{
	char errors[BENCH_REPORT_TEXT_MAX], notes[BENCH_REPORT_TEXT_MAX];
	char a[32];

	if (r->nruns > 0)
		bench_report_runs(out, r);
	fprintf(out, "tcpchat-bench %s", r->target);
	if (o->tls)
		fprintf(out, " over %s",
		    r->tls_version[0] ? r->tls_version : "TLS");
	if (r->nruns > 0)
		fprintf(out, " (%zu %s merged)", r->nruns,
		    bench_report_noun(r->nruns, "run", "runs"));
	fprintf(out, ": %u %s, ", o->connections,
	    bench_report_noun(o->connections, "connection", "connections"));
	if (o->duration > 0)
		fprintf(out, "%g s", o->duration);
	else
		fprintf(out, "%" PRIu64 " %s each", o->messages,
		    bench_report_noun(o->messages, "message", "messages"));
	fprintf(out, ", %zu bytes, %u in flight, ", o->size, o->in_flight);
	if (o->rate > 0)
		fprintf(out, "open loop at %g msgs/s, ", o->rate);
	fprintf(out, "%u %s\n", r->threads,
	    bench_report_noun(r->threads, "thread", "threads"));
	fprintf(out,
	    "  connections  %" PRIu64 " established, %" PRIu64
	    " failed in %s\n",
	    r->connected, r->connect_failed,
	    bench_report_duration(
	        (uint64_t)(r->connect_seconds * 1e9), a, sizeof(a)));
	if (r->connect_failed > 0 && bench_report_first_error(r) != NULL)
		fprintf(
		    out, "  first error  %s\n", bench_report_first_error(r));
	bench_report_distribution(out, "connect", o, &r->connect);
	if (o->tls)
		bench_report_distribution(out, "handshake", o, &r->handshake);
	fprintf(out,
	    "  messages     %" PRIu64 " sent, %" PRIu64 " received, %" PRIu64
	    " verified",
	    r->sent, r->received, r->counts.verified);
	if (o->warmup > 0)
		fprintf(out, " (%" PRIu64 " measured)", r->measured);
	if (r->outstanding > 0)
		fprintf(out, ", %" PRIu64 " outstanding", r->outstanding);
	fprintf(out, "\n  errors       %s\n",
	    bench_report_errors(r, errors, sizeof(errors)));
	fprintf(out, "  throughput   %.1f msgs/s, %.2f MB/s in %s\n",
	    r->msgs_per_sec, r->bytes_per_sec / 1e6,
	    bench_report_duration((uint64_t)(r->seconds * 1e9), a, sizeof(a)));
	bench_report_distribution(out, "latency", o, &r->latency);
	if (r->interrupted)
		fprintf(out,
		    "  interrupted  sending stopped early; the figures cover "
		    "the run until then\n");
	bench_report_notes(o, r, notes, sizeof(notes));
	for (char *line = notes, *lf; (lf = strchr(line, '\n')) != NULL;
	     line = lf + 1)
		fprintf(out, "  note         %.*s\n", (int)(lf - line), line);
	if (bench_result_ok(r))
		fprintf(out, "OK: all %" PRIu64 " %s verified",
		    r->counts.verified,
		    bench_report_noun(
		        r->counts.verified, "message", "messages"));
	else
		fprintf(out, "FAILED: %s", errors);
	fprintf(out, "%s\n", r->interrupted ? " (interrupted)" : "");
}

/* ---- JSON -------------------------------------------------------------- */

/* Writes s as a JSON string. */
static void
bench_report_json_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			fprintf(out, "\\%c", ch);
		else if (ch < 0x20 || ch == 0x7f)
			fprintf(out, "\\u%04x", ch);
		else
			fputc(ch, out);
	}
	fputc('"', out);
}

/* "key": with a comma before it unless it is the first. */
static void
bench_report_json_key(FILE *out, int *first, const char *key)
{
	if (!*first)
		fputc(',', out);
	*first = 0;
	bench_report_json_string(out, key);
	fputc(':', out);
}

static void
bench_report_json_u64(FILE *out, int *first, const char *key, uint64_t v)
{
	bench_report_json_key(out, first, key);
	fprintf(out, "%" PRIu64, v);
}

/* A real number, or null when it is not one (JSON has no inf or NaN). */
static void
bench_report_json_real(FILE *out, int *first, const char *key, double v)
{
	bench_report_json_key(out, first, key);
	if (isfinite(v))
		fprintf(out, "%.6f", v);
	else
		fputs("null", out);
}

static void
bench_report_json_str(FILE *out, int *first, const char *key, const char *v)
{
	bench_report_json_key(out, first, key);
	bench_report_json_string(out, v);
}

static void
bench_report_json_bool(FILE *out, int *first, const char *key, int v)
{
	bench_report_json_key(out, first, key);
	fputs(v ? "true" : "false", out);
}

/* A value in ns, or null when there is none. */
static void
bench_report_json_ns(
    FILE *out, int *first, const char *key, int have, uint64_t v)
{
	bench_report_json_key(out, first, key);
	if (have)
		fprintf(out, "%" PRIu64, v);
	else
		fputs("null", out);
}

/* The key of a percentile a jq user can address: 99.9 is "p99_9". */
static void
bench_report_percentile_key(double p, char *buf, size_t size)
{
	snprintf(buf, size, "p%g", p);
	for (char *dot = strchr(buf, '.'); dot != NULL; dot = strchr(dot, '.'))
		*dot = '_';
}

static const char *
bench_report_family(int family)
{
	return family == AF_INET6 ? "IPv6" : family == AF_INET ? "IPv4" : "any";
}

/* A distribution's figures: count, extremes, mean, percentiles. */
static void
bench_report_json_distribution(FILE *out, int *outer, const char *key,
    const struct bench_options *o, const struct histogram *h)
{
	int first = 1, have = histogram_count(h) > 0;
	char name[32];

	bench_report_json_key(out, outer, key);
	fputc('{', out);
	bench_report_json_u64(out, &first, "count", histogram_count(h));
	bench_report_json_ns(out, &first, "min", have, histogram_min(h));
	bench_report_json_ns(out, &first, "max", have, histogram_max(h));
	bench_report_json_real(
	    out, &first, "mean", have ? histogram_mean(h) : NAN);
	bench_report_json_real(
	    out, &first, "stddev", have ? histogram_stddev(h) : NAN);
	for (unsigned i = 0; i < o->npercentiles; i++) {
		bench_report_percentile_key(
		    o->percentiles[i], name, sizeof(name));
		bench_report_json_ns(out, &first, name, have,
		    histogram_percentile(h, o->percentiles[i]));
	}
	bench_report_json_key(out, &first, "percentiles");
	fputc('[', out);
	for (unsigned i = 0; i < o->npercentiles; i++) {
		int inner = 1;
		fputs(i > 0 ? ",{" : "{", out);
		bench_report_json_key(out, &inner, "percentile");
		fprintf(out, "%g", o->percentiles[i]);
		bench_report_json_ns(out, &inner, "ns", have,
		    histogram_percentile(h, o->percentiles[i]));
		fputc('}', out);
	}
	fputs("]}", out);
}

/* A histogram's buckets and exact summary, for --merge to read back. */
static void
bench_report_json_buckets(
    FILE *out, int *outer, const char *key, const struct histogram *h)
{
	int first = 1, any = 0;

	bench_report_json_key(out, outer, key);
	fputc('{', out);
	bench_report_json_u64(out, &first, "count", histogram_count(h));
	bench_report_json_u64(out, &first, "min", histogram_min(h));
	bench_report_json_u64(out, &first, "max", histogram_max(h));
	bench_report_json_u64(out, &first, "sum", histogram_sum(h));
	bench_report_json_key(out, &first, "buckets");
	fputc('[', out);
	for (unsigned i = 0; i < HISTOGRAM_BUCKETS; i++) {
		uint64_t n = histogram_bucket_count(h, i);
		if (n == 0)
			continue;
		fprintf(out, "%s[%" PRIu64 ",%" PRIu64 ",%" PRIu64 "]",
		    any ? "," : "", histogram_bucket_low(i),
		    histogram_bucket_high(i), n);
		any = 1;
	}
	fputs("]}", out);
}

static void
bench_report_json_target(FILE *out, int *outer, const struct bench_options *o,
    const struct bench_result *r)
{
	int first = 1;

	bench_report_json_key(out, outer, "target");
	fputc('{', out);
	bench_report_json_str(out, &first, "host", o->host);
	bench_report_json_u64(out, &first, "port", strtoull(o->port, NULL, 10));
	bench_report_json_str(out, &first, "address", r->target);
	bench_report_json_str(
	    out, &first, "family", bench_report_family(r->family));
	fputc('}', out);
}

static void
bench_report_json_options(FILE *out, int *outer, const struct bench_options *o)
{
	int first = 1;

	bench_report_json_key(out, outer, "options");
	fputc('{', out);
	bench_report_json_u64(out, &first, "connections", o->connections);
	bench_report_json_u64(
	    out, &first, "messages", o->duration > 0 ? 0 : o->messages);
	bench_report_json_real(out, &first, "duration", o->duration);
	bench_report_json_u64(out, &first, "size", o->size);
	bench_report_json_u64(out, &first, "in_flight", o->in_flight);
	bench_report_json_real(out, &first, "rate", o->rate);
	bench_report_json_real(out, &first, "connect_rate", o->connect_rate);
	bench_report_json_u64(out, &first, "warmup", o->warmup);
	bench_report_json_u64(out, &first, "threads", o->threads);
	bench_report_json_real(out, &first, "timeout", o->timeout);
	bench_report_json_real(out, &first, "interval", o->interval);
	bench_report_json_str(
	    out, &first, "family", bench_report_family(o->family));
	bench_report_json_bool(out, &first, "tls", o->tls);
	bench_report_json_bool(
	    out, &first, "tls_insecure", o->tls && o->tls_options.insecure);
	bench_report_json_key(out, &first, "percentiles");
	fputc('[', out);
	for (unsigned i = 0; i < o->npercentiles; i++)
		fprintf(out, "%s%g", i > 0 ? "," : "", o->percentiles[i]);
	fputs("]}", out);
}

static void
bench_report_json_counts(FILE *out, int *outer, const struct bench_result *r)
{
	int first = 1;

	bench_report_json_key(out, outer, "connections");
	fputc('{', out);
	bench_report_json_u64(out, &first, "established", r->connected);
	bench_report_json_u64(out, &first, "failed", r->connect_failed);
	bench_report_json_real(out, &first, "seconds", r->connect_seconds);
	bench_report_json_key(out, &first, "first_error");
	if (bench_report_first_error(r) != NULL)
		bench_report_json_string(out, bench_report_first_error(r));
	else
		fputs("null", out);
	fputc('}', out);

	first = 1;
	bench_report_json_key(out, outer, "messages");
	fputc('{', out);
	bench_report_json_u64(out, &first, "sent", r->sent);
	bench_report_json_u64(out, &first, "received", r->received);
	bench_report_json_u64(out, &first, "verified", r->counts.verified);
	bench_report_json_u64(out, &first, "measured", r->measured);
	bench_report_json_u64(out, &first, "outstanding", r->outstanding);
	fputc('}', out);

	first = 1;
	bench_report_json_key(out, outer, "errors");
	fputc('{', out);
	bench_report_json_u64(
	    out, &first, "failed_connections", r->connect_failed);
	bench_report_json_u64(out, &first, "closed_early", r->closed_early);
	bench_report_json_u64(out, &first, "timed_out", r->timed_out);
	bench_report_json_u64(out, &first, "never_answered", r->unanswered);
	bench_report_json_u64(out, &first, "reply_too_long", r->too_long);
	bench_report_json_u64(out, &first, "corrupt", r->counts.corrupt);
	bench_report_json_u64(out, &first, "lost", r->counts.lost);
	bench_report_json_u64(out, &first, "reordered", r->counts.reordered);
	bench_report_json_u64(
	    out, &first, "extra_bytes", r->counts.extra_bytes);
	bench_report_json_u64(out, &first, "outstanding", r->outstanding);
	fputc('}', out);

	first = 1;
	bench_report_json_key(out, outer, "schedule");
	if (r->scheduled == 0 && r->on_schedule == 0) {
		fputs("null", out);
		return;
	}
	fputc('{', out);
	bench_report_json_u64(out, &first, "scheduled", r->scheduled);
	bench_report_json_u64(out, &first, "on_schedule", r->on_schedule);
	bench_report_json_bool(
	    out, &first, "rate_kept", !bench_result_rate_missed(r));
	fputc('}', out);
}

static void
bench_report_json_timeline(FILE *out, int *outer, const struct bench_result *r)
{
	bench_report_json_key(out, outer, "timeline");
	fputc('[', out);
	for (size_t i = 0; i < r->timeline_len; i++) {
		const struct bench_sample *s = &r->timeline[i];
		int first = 1, have = s->latencies > 0;
		fputs(i > 0 ? ",{" : "{", out);
		bench_report_json_real(out, &first, "t", s->t);
		bench_report_json_real(out, &first, "seconds", s->seconds);
		bench_report_json_real(
		    out, &first, "msgs_per_sec", s->msgs_per_sec);
		bench_report_json_u64(out, &first, "latencies", s->latencies);
		bench_report_json_ns(out, &first, "p50_ns", have, s->p50_ns);
		bench_report_json_ns(out, &first, "p99_ns", have, s->p99_ns);
		bench_report_json_ns(out, &first, "max_ns", have, s->max_ns);
		bench_report_json_u64(out, &first, "errors", s->errors);
		bench_report_json_u64(out, &first, "open", s->open);
		fputc('}', out);
	}
	fputc(']', out);
	bench_report_json_u64(
	    out, outer, "timeline_dropped", r->timeline_dropped);
}

static void
bench_report_json_runs(FILE *out, int *outer, const struct bench_result *r)
{
	bench_report_json_key(out, outer, "runs");
	fputc('[', out);
	for (size_t i = 0; i < r->nruns; i++) {
		const struct bench_run_row *w = &r->runs[i];
		int first = 1, have = w->latencies > 0;
		fputs(i > 0 ? ",{" : "{", out);
		bench_report_json_str(out, &first, "file", w->file);
		bench_report_json_str(out, &first, "address", w->target);
		bench_report_json_str(out, &first, "start", w->start);
		bench_report_json_u64(
		    out, &first, "connections", w->connections);
		bench_report_json_real(out, &first, "seconds", w->seconds);
		bench_report_json_real(
		    out, &first, "msgs_per_sec", w->msgs_per_sec);
		bench_report_json_u64(out, &first, "latencies", w->latencies);
		bench_report_json_ns(out, &first, "p50_ns", have, w->p50_ns);
		bench_report_json_ns(out, &first, "p99_ns", have, w->p99_ns);
		bench_report_json_ns(out, &first, "max_ns", have, w->max_ns);
		bench_report_json_u64(out, &first, "errors", w->errors);
		bench_report_json_bool(out, &first, "ok", w->ok);
		bench_report_json_bool(
		    out, &first, "interrupted", w->interrupted);
		fputc('}', out);
	}
	fputc(']', out);
}

void
bench_report_json(
    FILE *out, const struct bench_options *o, const struct bench_result *r)
{
	char errors[BENCH_REPORT_TEXT_MAX], notes[BENCH_REPORT_TEXT_MAX];
	int first = 1, layout = 1;

	fputc('{', out);
	bench_report_json_u64(out, &first, "schema", BENCH_REPORT_SCHEMA);
	bench_report_json_str(out, &first, "program", "tcpchat-bench");
	bench_report_json_str(out, &first, "version", PACKAGE_VERSION);
	bench_report_json_str(out, &first, "start", r->start);
	bench_report_json_bool(out, &first, "interrupted", r->interrupted);
	bench_report_json_target(out, &first, o, r);
	bench_report_json_options(out, &first, o);
	bench_report_json_u64(out, &first, "threads", r->threads);
	bench_report_json_counts(out, &first, r);
	bench_report_json_real(out, &first, "seconds", r->seconds);
	bench_report_json_real(
	    out, &first, "warmup_seconds", r->warmup_seconds);
	bench_report_json_real(out, &first, "msgs_per_sec", r->msgs_per_sec);
	bench_report_json_real(
	    out, &first, "mb_per_sec", r->bytes_per_sec / 1e6);
	bench_report_json_distribution(
	    out, &first, "latency_ns", o, &r->latency);
	bench_report_json_distribution(
	    out, &first, "connect_ns", o, &r->connect);
	bench_report_json_distribution(
	    out, &first, "handshake_ns", o, &r->handshake);
	bench_report_json_key(out, &first, "tls");
	if (o->tls) {
		int inner = 1;
		fputc('{', out);
		bench_report_json_str(out, &inner, "version", r->tls_version);
		bench_report_json_bool(
		    out, &inner, "verified", !o->tls_options.insecure);
		fputc('}', out);
	} else {
		fputs("null", out);
	}
	bench_report_json_timeline(out, &first, r);
	if (r->nruns > 0)
		bench_report_json_runs(out, &first, r);
	bench_report_json_key(out, &first, "histograms");
	fputc('{', out);
	bench_report_json_key(out, &layout, "layout");
	fputc('{', out);
	int inner = 1;
	bench_report_json_str(out, &inner, "name", HISTOGRAM_LAYOUT);
	bench_report_json_u64(
	    out, &inner, "sub_bucket_bits", HISTOGRAM_SUB_BITS);
	bench_report_json_u64(out, &inner, "buckets", HISTOGRAM_BUCKETS);
	bench_report_json_str(out, &inner, "unit", "ns");
	fputc('}', out);
	bench_report_json_buckets(out, &layout, "latency", &r->latency);
	bench_report_json_buckets(out, &layout, "connect", &r->connect);
	bench_report_json_buckets(out, &layout, "handshake", &r->handshake);
	fputc('}', out);
	bench_report_json_key(out, &first, "notes");
	fputc('[', out);
	bench_report_notes(o, r, notes, sizeof(notes));
	for (char *line = notes, *lf; (lf = strchr(line, '\n')) != NULL;
	     line = lf + 1) {
		*lf = '\0';
		if (line != notes)
			fputc(',', out);
		bench_report_json_string(out, line);
	}
	fputc(']', out);
	bench_report_json_bool(out, &first, "ok", bench_result_ok(r));
	bench_report_json_str(out, &first, "error_summary",
	    bench_report_errors(r, errors, sizeof(errors)));
	fputs("}\n", out);
}

void
bench_report_json_error(FILE *out, const char *why)
{
	int first = 1;

	fputc('{', out);
	bench_report_json_str(out, &first, "error", why);
	fputs("}\n", out);
}

/* ---- while it runs ------------------------------------------------------ */

void
bench_report_sample_header(FILE *out)
{
	fprintf(out, "%9s %10s %10s %10s %10s %7s %7s\n", "time", "msgs/s",
	    "p50", "p99", "max", "errors", "open");
}

void
bench_report_sample(FILE *out, const struct bench_sample *s)
{
	char a[32], b[32], c[32];
	int have = s->latencies > 0;

	fprintf(out,
	    "%7.2f s %10.0f %10s %10s %10s %7" PRIu64 " %7" PRIu64 "\n", s->t,
	    s->msgs_per_sec,
	    have ? bench_report_duration(s->p50_ns, a, sizeof(a)) : "-",
	    have ? bench_report_duration(s->p99_ns, b, sizeof(b)) : "-",
	    have ? bench_report_duration(s->max_ns, c, sizeof(c)) : "-",
	    s->errors, s->open);
	fflush(out);
}

void
bench_report_progress(FILE *out, const struct bench_progress *p)
{
	char a[32];

	fprintf(out,
	    "\r%6.1f s  %" PRIu64 " %s  %" PRIu64
	    " verified  %.0f msgs/s  p99 %s  %" PRIu64 " %s   ",
	    p->elapsed, p->open,
	    bench_report_noun(p->open, "connection", "connections"),
	    p->verified, p->rate,
	    p->p99_ns > 0 ? bench_report_duration(p->p99_ns, a, sizeof(a))
	                  : "-",
	    p->errors, bench_report_noun(p->errors, "error", "errors"));
	fflush(out);
}
