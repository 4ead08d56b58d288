/* bench-report.c - tcpchat-bench's summary, JSON and progress output. */
#include "config.h"

#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

#include "bench-report.h"

/* Formats a duration in ns with a unit that keeps 3-4 digits. */
static const char *
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

char *
bench_report_errors(const struct bench_result *r, char *buf, size_t size)
{
	const struct {
		const char *name;
		uint64_t count;
	} kinds[] = {
	    {"failed connections", r->connect_failed},
	    {"connections closed early", r->closed_early},
	    {"connections timed out", r->timed_out},
	    {"corrupt", r->counts.corrupt},
	    {"lost", r->counts.lost},
	    {"reordered", r->counts.reordered},
	    {"extra bytes", r->counts.extra_bytes},
	};

	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (kinds[i].count != 0)
			bench_report_append(buf, size, "%s%" PRIu64 " %s",
			    buf[0] != '\0' ? ", " : "", kinds[i].count,
			    kinds[i].name);
	if (buf[0] == '\0' && r->connected == 0)
		snprintf(buf, size, "no connection established");
	if (buf[0] == '\0')
		snprintf(buf, size, "none");
	return buf;
}

static double
bench_report_rate(const struct bench_result *r)
{
	return r->seconds > 0 ? (double)r->measured / r->seconds : 0.0;
}

static double
bench_report_mbps(const struct bench_options *o, const struct bench_result *r)
{
	return bench_report_rate(r) * (double)o->size / 1e6;
}

static const double bench_report_percentiles[] = {50, 90, 99, 99.9};

void
bench_report_text(
    FILE *out, const struct bench_options *o, const struct bench_result *r)
{
	char errors[256], a[32], b[32];

	fprintf(out, "tcpchat-bench %s: %u connections, ", r->target,
	    o->connections);
	if (o->duration > 0)
		fprintf(out, "%g s", o->duration);
	else
		fprintf(out, "%" PRIu64 " messages each", o->messages);
	fprintf(out, ", %zu bytes, %u in flight, ", o->size, o->in_flight);
	if (o->rate > 0)
		fprintf(out, "open loop at %g msgs/s, ", o->rate);
	fprintf(out, "%u threads\n", r->threads);
	fprintf(out,
	    "  connections  %" PRIu64 " established, %" PRIu64
	    " failed in %s\n",
	    r->connected, r->connect_failed,
	    bench_report_duration(
	        (uint64_t)(r->connect_seconds * 1e9), a, sizeof(a)));
	fprintf(out,
	    "  messages     %" PRIu64 " sent, %" PRIu64 " received, %" PRIu64
	    " verified",
	    r->sent, r->received, r->counts.verified);
	if (o->warmup > 0)
		fprintf(out, " (%" PRIu64 " measured)", r->measured);
	fprintf(out, "\n  errors       %s\n",
	    bench_report_errors(r, errors, sizeof(errors)));
	fprintf(out, "  throughput   %.1f msgs/s, %.2f MB/s in %s\n",
	    bench_report_rate(r), bench_report_mbps(o, r),
	    bench_report_duration((uint64_t)(r->seconds * 1e9), a, sizeof(a)));
	fprintf(out, "  latency     ");
	for (size_t i = 0; i < 4; i++)
		fprintf(out, " p%g %s", bench_report_percentiles[i],
		    bench_report_duration(histogram_percentile(&r->latency,
		                              bench_report_percentiles[i]),
		        a, sizeof(a)));
	fprintf(out, " max %s (mean %s)\n",
	    bench_report_duration(histogram_max(&r->latency), a, sizeof(a)),
	    bench_report_duration(
	        (uint64_t)histogram_mean(&r->latency), b, sizeof(b)));
	if (bench_result_ok(r))
		fprintf(out, "OK: all %" PRIu64 " messages verified\n",
		    r->counts.verified);
	else
		fprintf(out, "FAILED: %s\n", errors);
}

/* Writes s as a JSON string. */
static void
bench_report_json_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			fprintf(out, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(out, "\\u%04x", ch);
		else
			fputc(ch, out);
	}
	fputc('"', out);
}

void
bench_report_json(
    FILE *out, const struct bench_options *o, const struct bench_result *r)
{
	char errors[256];

	fprintf(out, "{\"target\":");
	bench_report_json_string(out, r->target);
	fprintf(out, ",\"options\":{\"host\":");
	bench_report_json_string(out, o->host);
	fprintf(out, ",\"port\":");
	bench_report_json_string(out, o->port);
	fprintf(out,
	    ",\"connections\":%u,\"messages\":%" PRIu64
	    ",\"duration\":%g,\"size\":%zu,\"in_flight\":%u,\"rate\":%g,"
	    "\"connect_rate\":%g,\"warmup\":%" PRIu64 ",\"threads\":%u,"
	    "\"timeout\":%g}",
	    o->connections, o->duration > 0 ? 0 : o->messages, o->duration,
	    o->size, o->in_flight, o->rate, o->connect_rate, o->warmup,
	    o->threads, o->timeout);
	fprintf(out,
	    ",\"threads\":%u,\"connections\":{\"established\":%" PRIu64
	    ",\"failed\":%" PRIu64 ",\"seconds\":%.6f",
	    r->threads, r->connected, r->connect_failed, r->connect_seconds);
	if (r->connect_errno != 0) {
		fprintf(out, ",\"first_error\":");
		bench_report_json_string(out, strerror(r->connect_errno));
	}
	fprintf(out,
	    "},\"messages\":{\"sent\":%" PRIu64 ",\"received\":%" PRIu64
	    ",\"verified\":%" PRIu64 ",\"measured\":%" PRIu64 "}",
	    r->sent, r->received, r->counts.verified, r->measured);
	fprintf(out,
	    ",\"errors\":{\"failed_connections\":%" PRIu64
	    ",\"closed_early\":%" PRIu64 ",\"timed_out\":%" PRIu64
	    ",\"corrupt\":%" PRIu64 ",\"lost\":%" PRIu64
	    ",\"reordered\":%" PRIu64 ",\"extra_bytes\":%" PRIu64 "}",
	    r->connect_failed, r->closed_early, r->timed_out, r->counts.corrupt,
	    r->counts.lost, r->counts.reordered, r->counts.extra_bytes);
	fprintf(out,
	    ",\"seconds\":%.6f,\"msgs_per_sec\":%.1f,"
	    "\"mb_per_sec\":%.3f",
	    r->seconds, bench_report_rate(r), bench_report_mbps(o, r));
	fprintf(out,
	    ",\"latency_ns\":{\"count\":%" PRIu64 ",\"min\":%" PRIu64
	    ",\"mean\":%.0f",
	    histogram_count(&r->latency), histogram_min(&r->latency),
	    histogram_mean(&r->latency));
	fprintf(out,
	    ",\"p50\":%" PRIu64 ",\"p90\":%" PRIu64 ",\"p99\":%" PRIu64
	    ",\"p99.9\":%" PRIu64 ",\"max\":%" PRIu64 "}",
	    histogram_percentile(&r->latency, 50),
	    histogram_percentile(&r->latency, 90),
	    histogram_percentile(&r->latency, 99),
	    histogram_percentile(&r->latency, 99.9),
	    histogram_max(&r->latency));
	fprintf(out, ",\"ok\":%s,\"error_summary\":",
	    bench_result_ok(r) ? "true" : "false");
	bench_report_json_string(
	    out, bench_report_errors(r, errors, sizeof(errors)));
	fprintf(out, "}\n");
}

void
bench_report_progress(FILE *out, const struct bench_progress *p)
{
	char a[32];

	fprintf(out,
	    "\r%6.1f s  %" PRIu64 " connections  %" PRIu64
	    " verified  %.0f msgs/s  p99 %s   ",
	    p->elapsed, p->open, p->verified, p->rate,
	    bench_report_duration(p->p99_ns, a, sizeof(a)));
	fflush(out);
}
