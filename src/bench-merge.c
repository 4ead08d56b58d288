/*
 * bench-merge.c - several runs' JSON documents read back and added up
 * into one report (see bench-merge.h).
 */
#include "config.h"

#include <sys/socket.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench-json.h"
#include "bench-merge.h"

/* One document being read: where a bad field is reported. */
struct bench_merge_reader {
	const char *file;
	const struct bench_json *doc;
	char *why;
	size_t whylen;
	int failed;
};

static void bench_merge_fail(struct bench_merge_reader *rd, const char *fmt,
    ...) __attribute__((format(printf, 2, 3)));

/* Records the first problem with the document, naming its file. */
static void
bench_merge_fail(struct bench_merge_reader *rd, const char *fmt, ...)
{
	char what[256];
	va_list ap;

	if (rd->failed)
		return;
	rd->failed = 1;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(rd->why, rd->whylen, "%s: %s", rd->file, what);
}

/* The value at a dotted path ("messages.sent"), or NULL. */
static const struct bench_json *
bench_merge_at(const struct bench_merge_reader *rd, const char *path)
{
	const struct bench_json *v = rd->doc;
	char name[64];

	while (v != NULL && *path != '\0') {
		size_t n = strcspn(path, ".");
		if (n >= sizeof(name))
			return NULL;
		memcpy(name, path, n);
		name[n] = '\0';
		v = bench_json_get(v, name);
		path += path[n] == '.' ? n + 1 : n;
	}
	return v;
}

static uint64_t
bench_merge_u64(struct bench_merge_reader *rd, const char *path)
{
	uint64_t v = 0;

	if (bench_json_u64(bench_merge_at(rd, path), &v) == -1)
		bench_merge_fail(rd, "no whole number at %s", path);
	return v;
}

static double
bench_merge_real(struct bench_merge_reader *rd, const char *path)
{
	double v = 0;

	if (bench_json_real(bench_merge_at(rd, path), &v) == -1)
		bench_merge_fail(rd, "no number at %s", path);
	return v;
}

/* The string at path copied into buf ("" and a failure if none). */
static void
bench_merge_string(
    struct bench_merge_reader *rd, const char *path, char *buf, size_t size)
{
	const char *s = bench_json_string(bench_merge_at(rd, path));

	if (s == NULL)
		bench_merge_fail(rd, "no string at %s", path);
	snprintf(buf, size, "%s", s != NULL ? s : "");
}

static int
bench_merge_bool(struct bench_merge_reader *rd, const char *path)
{
	const struct bench_json *v = bench_merge_at(rd, path);

	if (v == NULL ||
	    (v->type != BENCH_JSON_TRUE && v->type != BENCH_JSON_FALSE))
		bench_merge_fail(rd, "no true or false at %s", path);
	return v != NULL && v->type == BENCH_JSON_TRUE;
}

/* Reads a whole file, at most BENCH_MERGE_MAX_BYTES.  NULL with errno. */
static char *
bench_merge_slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t room = 0, n = 0;
	int save_errno;

	if (f == NULL)
		return NULL;
	for (;;) {
		if (n == room) {
			if (room >= BENCH_MERGE_MAX_BYTES) {
				errno = EFBIG;
				goto fail;
			}
			room = room == 0 ? 65536 : room * 2;
			char *more = realloc(buf, room);
			if (more == NULL)
				goto fail;
			buf = more;
		}
		size_t got = fread(buf + n, 1, room - n, f);
		n += got;
		if (got == 0) {
			if (ferror(f)) {
				errno = EIO;
				goto fail;
			}
			break;
		}
	}
	fclose(f);
	*len = n;
	return buf;
fail:
	save_errno = errno;
	fclose(f);
	free(buf);
	errno = save_errno;
	return NULL;
}

/* The document was made with the same buckets as this program's? */
static void
bench_merge_layout(struct bench_merge_reader *rd)
{
	const char *name =
	    bench_json_string(bench_merge_at(rd, "histograms.layout.name"));
	uint64_t bits = 0, buckets = 0;

	if (rd->failed)
		return;
	(void)bench_json_u64(
	    bench_merge_at(rd, "histograms.layout.sub_bucket_bits"), &bits);
	(void)bench_json_u64(
	    bench_merge_at(rd, "histograms.layout.buckets"), &buckets);
	if (name == NULL || strcmp(name, HISTOGRAM_LAYOUT) != 0 ||
	    bits != HISTOGRAM_SUB_BITS || buckets != HISTOGRAM_BUCKETS)
		bench_merge_fail(rd,
		    "its histogram layout (%s, %llu sub-bucket bits, %llu "
		    "buckets) differs from this program's (%s, %d, %d): runs "
		    "can be merged exactly only with the same buckets",
		    name != NULL ? name : "none", (unsigned long long)bits,
		    (unsigned long long)buckets, HISTOGRAM_LAYOUT,
		    HISTOGRAM_SUB_BITS, HISTOGRAM_BUCKETS);
}

/* The histogram at path, rebuilt from its buckets, into h. */
static void
bench_merge_histogram(
    struct bench_merge_reader *rd, const char *path, struct histogram *h)
{
	char at[64];
	const struct bench_json *buckets;

	snprintf(at, sizeof(at), "%s.buckets", path);
	buckets = bench_merge_at(rd, at);
	if (buckets == NULL || buckets->type != BENCH_JSON_ARRAY) {
		bench_merge_fail(rd, "no array at %s", at);
		return;
	}
	for (size_t i = 0; i < buckets->len && !rd->failed; i++) {
		const struct bench_json *b = &buckets->items[i];
		uint64_t low, high, n;
		if (b->type != BENCH_JSON_ARRAY || b->len != 3 ||
		    bench_json_u64(&b->items[0], &low) == -1 ||
		    bench_json_u64(&b->items[1], &high) == -1 ||
		    bench_json_u64(&b->items[2], &n) == -1) {
			bench_merge_fail(rd, "bad bucket %zu at %s", i, at);
			return;
		}
		unsigned bucket = histogram_bucket(low);
		if (histogram_bucket_low(bucket) != low ||
		    histogram_bucket_high(bucket) != high) {
			bench_merge_fail(rd,
			    "bucket [%llu, %llu] at %s is not one of this "
			    "program's: runs can be merged exactly only with "
			    "the same buckets",
			    (unsigned long long)low, (unsigned long long)high,
			    at);
			return;
		}
		histogram_add_bucket(h, bucket, n);
	}
	snprintf(at, sizeof(at), "%s.count", path);
	uint64_t count = bench_merge_u64(rd, at);
	snprintf(at, sizeof(at), "%s.min", path);
	uint64_t min = bench_merge_u64(rd, at);
	snprintf(at, sizeof(at), "%s.max", path);
	uint64_t max = bench_merge_u64(rd, at);
	snprintf(at, sizeof(at), "%s.sum", path);
	uint64_t sum = bench_merge_u64(rd, at);
	if (!rd->failed && count != histogram_count(h))
		bench_merge_fail(rd,
		    "%s: the buckets hold %llu values, not %llu", path,
		    (unsigned long long)histogram_count(h),
		    (unsigned long long)count);
	histogram_set_summary(h, min, max, sum);
}

static int
bench_merge_family(const char *name)
{
	return strcmp(name, "IPv6") == 0 ? AF_INET6
	    : strcmp(name, "IPv4") == 0  ? AF_INET
	                                 : AF_UNSPEC;
}

/* One document into one run's options and result.  0 or -1. */
static int
bench_merge_read(struct bench_merge_reader *rd, struct bench_merged *run)
{
	struct bench_options *o = &run->options;
	struct bench_result *r = &run->result;
	const struct bench_json *v;
	char family[16];

	if (rd->doc->type != BENCH_JSON_OBJECT) {
		bench_merge_fail(rd, "not a tcpchat-bench JSON document");
		return -1;
	}
	if ((v = bench_json_get(rd->doc, "error")) != NULL) {
		const char *error = bench_json_string(v);
		bench_merge_fail(rd, "a run that did not happen: %s",
		    error != NULL ? error : "(no reason)");
		return -1;
	}
	const char *program = bench_json_string(bench_merge_at(rd, "program"));
	uint64_t schema = 0;
	if (program == NULL || strcmp(program, "tcpchat-bench") != 0 ||
	    bench_json_u64(bench_merge_at(rd, "schema"), &schema) == -1) {
		bench_merge_fail(rd, "not a tcpchat-bench JSON document");
		return -1;
	}
	if (schema != 1) {
		bench_merge_fail(rd,
		    "schema %llu: this program reads schema 1 only",
		    (unsigned long long)schema);
		return -1;
	}
	bench_merge_layout(rd);

	bench_merge_string(rd, "target.host", run->host, sizeof(run->host));
	snprintf(run->port, sizeof(run->port), "%llu",
	    (unsigned long long)bench_merge_u64(rd, "target.port"));
	o->host = run->host;
	o->port = run->port;
	bench_merge_string(rd, "target.address", r->target, sizeof(r->target));
	bench_merge_string(rd, "target.family", family, sizeof(family));
	r->family = bench_merge_family(family);
	bench_merge_string(rd, "options.family", family, sizeof(family));
	o->family = bench_merge_family(family);
	o->connections = (unsigned)bench_merge_u64(rd, "options.connections");
	o->messages = bench_merge_u64(rd, "options.messages");
	o->duration = bench_merge_real(rd, "options.duration");
	o->size = (size_t)bench_merge_u64(rd, "options.size");
	o->in_flight = (unsigned)bench_merge_u64(rd, "options.in_flight");
	o->rate = bench_merge_real(rd, "options.rate");
	o->connect_rate = bench_merge_real(rd, "options.connect_rate");
	o->warmup = bench_merge_u64(rd, "options.warmup");
	o->threads = (unsigned)bench_merge_u64(rd, "options.threads");
	o->timeout = bench_merge_real(rd, "options.timeout");
	o->interval = bench_merge_real(rd, "options.interval");

	bench_merge_string(rd, "start", r->start, sizeof(r->start));
	r->interrupted = bench_merge_bool(rd, "interrupted");
	r->threads = (unsigned)bench_merge_u64(rd, "threads");
	r->connected = bench_merge_u64(rd, "connections.established");
	r->connect_failed = bench_merge_u64(rd, "connections.failed");
	r->connect_seconds = bench_merge_real(rd, "connections.seconds");
	r->sent = bench_merge_u64(rd, "messages.sent");
	r->received = bench_merge_u64(rd, "messages.received");
	r->counts.verified = bench_merge_u64(rd, "messages.verified");
	r->measured = bench_merge_u64(rd, "messages.measured");
	r->outstanding = bench_merge_u64(rd, "messages.outstanding");
	r->closed_early = bench_merge_u64(rd, "errors.closed_early");
	r->timed_out = bench_merge_u64(rd, "errors.timed_out");
	r->unanswered = bench_merge_u64(rd, "errors.never_answered");
	r->too_long = bench_merge_u64(rd, "errors.reply_too_long");
	r->counts.corrupt = bench_merge_u64(rd, "errors.corrupt");
	r->counts.lost = bench_merge_u64(rd, "errors.lost");
	r->counts.reordered = bench_merge_u64(rd, "errors.reordered");
	r->counts.extra_bytes = bench_merge_u64(rd, "errors.extra_bytes");
	v = bench_merge_at(rd, "schedule");
	if (v == NULL ||
	    (v->type != BENCH_JSON_NULL && v->type != BENCH_JSON_OBJECT))
		bench_merge_fail(rd, "no object or null at schedule");
	else if (v->type == BENCH_JSON_OBJECT) {
		r->scheduled = bench_merge_u64(rd, "schedule.scheduled");
		r->on_schedule = bench_merge_u64(rd, "schedule.on_schedule");
	}
	r->seconds = bench_merge_real(rd, "seconds");
	r->warmup_seconds = bench_merge_real(rd, "warmup_seconds");
	r->msgs_per_sec = bench_merge_real(rd, "msgs_per_sec");
	r->bytes_per_sec = bench_merge_real(rd, "mb_per_sec") * 1e6;
	bench_merge_histogram(rd, "histograms.latency", &r->latency);
	bench_merge_histogram(rd, "histograms.connect", &r->connect);
	/* Since --tls: absent from the documents of older versions. */
	if (bench_merge_at(rd, "histograms.handshake") != NULL)
		bench_merge_histogram(
		    rd, "histograms.handshake", &r->handshake);
	if (bench_merge_at(rd, "options.tls") != NULL)
		o->tls = bench_merge_bool(rd, "options.tls");
	if (bench_merge_at(rd, "tls.version") != NULL)
		bench_merge_string(
		    rd, "tls.version", r->tls_version, sizeof(r->tls_version));
	return rd->failed ? -1 : 0;
}

/* The row that stands for one run in the merged report. */
static void
bench_merge_row(
    struct bench_run_row *row, const char *file, const struct bench_merged *run)
{
	const struct bench_result *r = &run->result;

	memset(row, 0, sizeof(*row));
	snprintf(row->file, sizeof(row->file), "%s", file);
	snprintf(row->target, sizeof(row->target), "%s", r->target);
	snprintf(row->start, sizeof(row->start), "%s", r->start);
	row->connections = run->options.connections;
	row->seconds = r->seconds;
	row->msgs_per_sec = r->msgs_per_sec;
	row->latencies = histogram_count(&r->latency);
	row->p50_ns = histogram_percentile(&r->latency, 50);
	row->p99_ns = histogram_percentile(&r->latency, 99);
	row->max_ns = histogram_max(&r->latency);
	row->errors = bench_result_errors(r);
	row->ok = bench_result_ok(r);
	row->interrupted = r->interrupted;
}

/* Adds one run into the merged report. */
static void
bench_merge_add(
    struct bench_merged *m, const struct bench_merged *run, int first)
{
	struct bench_options *o = &m->options;
	struct bench_result *r = &m->result;
	const struct bench_result *q = &run->result;

	if (first) {
		memcpy(m->host, run->host, sizeof(m->host));
		memcpy(m->port, run->port, sizeof(m->port));
		o->family = run->options.family;
		o->messages = run->options.messages;
		o->duration = run->options.duration;
		o->size = run->options.size;
		o->in_flight = run->options.in_flight;
		o->warmup = run->options.warmup;
		o->timeout = run->options.timeout;
		o->interval = run->options.interval;
		memcpy(r->target, q->target, sizeof(r->target));
		memcpy(r->start, q->start, sizeof(r->start));
		r->family = q->family;
	} else if (strcmp(r->target, q->target) != 0) {
		snprintf(r->target, sizeof(r->target), "several targets");
	}
	if (strcmp(q->start, r->start) < 0)
		memcpy(r->start, q->start, sizeof(r->start));
	o->connections += run->options.connections;
	o->rate += run->options.rate;
	o->connect_rate += run->options.connect_rate;
	o->threads += run->options.threads;
	if (q->interrupted)
		r->interrupted = q->interrupted;
	r->threads += q->threads;
	r->connected += q->connected;
	r->connect_failed += q->connect_failed;
	r->closed_early += q->closed_early;
	r->timed_out += q->timed_out;
	r->unanswered += q->unanswered;
	r->too_long += q->too_long;
	r->sent += q->sent;
	r->received += q->received;
	payload_counts_add(&r->counts, &q->counts);
	r->outstanding += q->outstanding;
	r->measured += q->measured;
	r->scheduled += q->scheduled;
	r->on_schedule += q->on_schedule;
	if (q->connect_seconds > r->connect_seconds)
		r->connect_seconds = q->connect_seconds;
	if (q->warmup_seconds > r->warmup_seconds)
		r->warmup_seconds = q->warmup_seconds;
	if (q->seconds > r->seconds)
		r->seconds = q->seconds;
	r->msgs_per_sec += q->msgs_per_sec;
	r->bytes_per_sec += q->bytes_per_sec;
	histogram_add(&r->latency, &q->latency);
	histogram_add(&r->connect, &q->connect);
	histogram_add(&r->handshake, &q->handshake);
	if (run->options.tls) {
		o->tls = 1;
		if (r->tls_version[0] == '\0')
			memcpy(r->tls_version, q->tls_version,
			    sizeof(r->tls_version));
	}
}

int
bench_merge_files(struct bench_merged *m, char *const files[], size_t n,
    const struct bench_options *o, char *why, size_t whylen)
{
	struct bench_merged *run = malloc(sizeof(*run));
	struct bench_json *doc = NULL;
	char *text = NULL;
	size_t len;
	int rc = -1;

	memset(m, 0, sizeof(*m));
	bench_options_defaults(&m->options);
	m->options.host = m->host;
	m->options.port = m->port;
	m->options.connections = 0;
	m->options.threads = 0;
	memcpy(m->options.percentiles, o->percentiles, sizeof(o->percentiles));
	m->options.npercentiles = o->npercentiles;
	histogram_reset(&m->result.latency);
	histogram_reset(&m->result.connect);
	histogram_reset(&m->result.handshake);
	if (run == NULL || n == 0 || n > BENCH_MERGE_MAX_RUNS) {
		snprintf(why, whylen,
		    run == NULL ? "out of memory"
		                : "--merge takes 1 to 1024 documents");
		goto out;
	}
	m->result.runs = calloc(n, sizeof(*m->result.runs));
	if (m->result.runs == NULL) {
		snprintf(why, whylen, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct bench_merge_reader rd = {
		    .file = files[i], .why = why, .whylen = whylen};
		char parse[256];
		if ((text = bench_merge_slurp(files[i], &len)) == NULL) {
			snprintf(
			    why, whylen, "%s: %s", files[i], strerror(errno));
			goto out;
		}
		if (bench_json_parse(text, len, &doc, parse, sizeof(parse)) ==
		    -1) {
			snprintf(
			    why, whylen, "%s: not JSON: %s", files[i], parse);
			goto out;
		}
		memset(run, 0, sizeof(*run));
		histogram_reset(&run->result.latency);
		histogram_reset(&run->result.connect);
		histogram_reset(&run->result.handshake);
		rd.doc = doc;
		if (bench_merge_read(&rd, run) == -1)
			goto out;
		bench_merge_add(m, run, i == 0);
		bench_merge_row(&m->result.runs[i], files[i], run);
		m->result.nruns++;
		bench_json_free(doc);
		doc = NULL;
		free(text);
		text = NULL;
	}
	rc = 0;
out:
	bench_json_free(doc);
	free(text);
	free(run);
	return rc;
}
