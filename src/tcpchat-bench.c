/*
 * tcpchat-bench.c - the load generator's main: options in, summary
 * out, Ctrl-C handled.  The engine is bench.c, the output
 * bench-report.c, --merge bench-merge.c.
 */
#include "config.h"

#include <sys/socket.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "bench-merge.h"
#include "bench-report.h"
#include "bench.h"
#include "version.h"

#define PROG "tcpchat-bench"

/* Exit statuses: 0 all verified, 1 errors found, 2 usage or setup. */
#define EXIT_ERRORS 1
#define EXIT_USAGE ARGS_EXIT_USAGE

/* What main decides besides the engine's options. */
struct bench_cli {
	int json; /* --json */
	int quiet; /* -q */
	int verbose; /* -v, -vv */
	int merge; /* --merge: the operands are documents */
	int interval_given; /* --interval: print rows even into a pipe */
	const char *hgrm; /* --hgrm FILE */
	int progress; /* the progress line is on (stderr, a terminal) */
	int rows; /* the timeline rows are printed */
	int rows_shown; /* rows printed so far */
};

/* The first SIGINT or SIGTERM; a second one ends the program. */
static atomic_int stop_signal;
/* What the first one says on standard error (written by the handler). */
static char stop_message[256];
static size_t stop_message_len;

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: tcpchat-bench [OPTIONS] [HOST[:PORT] | [V6ADDR]:PORT | "
	    "HOST PORT]\n"
	    "       tcpchat-bench --merge [--json] [--percentiles LIST] "
	    "[--hgrm FILE] FILE...\n"
	    "Drives many TCP connections against an echo server "
	    "(default 127.0.0.1:9999),\n"
	    "verifies every byte echoed back and reports throughput and "
	    "latency.\n\n"
	    "  -c, --connections N   simultaneous connections (default 50)\n"
	    "  -n, --messages N      messages per connection (default 1000)\n"
	    "  -d, --duration TIME   run for TIME (10s, 500ms, 2m) instead "
	    "of -n messages\n"
	    "  -s, --size BYTES      message size, LF included (default 64, "
	    "28 to 1048576)\n"
	    "  -P, --in-flight K     messages outstanding per connection "
	    "(default 1:\n"
	    "                        closed loop, next sent when the last "
	    "is back)\n"
	    "  -r, --rate RATE       open loop: RATE messages/s in all, "
	    "latency counted\n"
	    "                        from each message's scheduled send "
	    "time\n"
	    "      --connect-rate N  open at most N connections per second "
	    "(default no limit)\n"
	    "      --warmup N        N unmeasured round trips per "
	    "connection first\n"
	    "  -t, --threads N       worker threads (default: number of "
	    "CPUs)\n"
	    "  -T, --timeout TIME    to connect, and to wait for each reply "
	    "(default 5s)\n"
	    "  -4, -6                IPv4 or IPv6 addresses only\n"
	    "      --tls             every connection over TLS, the "
	    "server's certificate\n"
	    "                        and name verified; the handshake "
	    "timed apart\n"
	    "      --tls-ca FILE     trust the CAs in FILE (default: the "
	    "system's)\n"
	    "      --tls-servername NAME  the name to verify and send "
	    "(default: HOST)\n"
	    "      --tls-insecure    TLS without verifying the server\n"
	    "      --interval TIME   a timeline row every TIME (default 1s "
	    "at a terminal;\n"
	    "                        0 for none)\n"
	    "      --percentiles L   latency percentiles to report (default "
	    "50,90,99,99.9)\n"
	    "      --hgrm FILE       write the latency distribution in "
	    "HdrHistogram's format\n"
	    "      --json            print one JSON document instead of the "
	    "summary\n"
	    "      --merge FILE...   combine the JSON documents of runs made "
	    "together\n"
	    "  -v, --verbose         connection details; twice: timings too\n"
	    "  -q, --quiet           no progress line on standard error\n"
	    "  -h, --help            show this help and exit\n"
	    "  -V, --version         show the version and exit\n\n"
	    "Ctrl-C stops sending, waits at most -T for the replies "
	    "outstanding and\n"
	    "prints the summary; a second Ctrl-C ends the program at once.\n"
	    "Exit status: 0 when every message came back intact, 1 when "
	    "anything was\n"
	    "corrupt, lost, reordered, extra, late (-r) or a connection "
	    "failed, 2 on\n"
	    "usage errors.\n");
}

static void fail(const struct bench_cli *cli, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));

/*
 * Ends the program for a reason other than bad usage: "tcpchat-bench:
 * WHY" on standard error and, with --json, {"error": WHY} on standard
 * output.
 */
static void
fail(const struct bench_cli *cli, int status, const char *fmt, ...)
{
	char why[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s: %s\n", PROG, why);
	if (cli->json) {
		bench_report_json_error(stdout, why);
		fflush(stdout);
	}
	exit(status);
}

static void
on_stop(int sig)
{
	if (atomic_load(&stop_signal) != 0) {
		/* The second: end now, as the signal would have. */
		signal(sig, SIG_DFL);
		raise(sig);
		return;
	}
	atomic_store(&stop_signal, sig);
	(void)!write(STDERR_FILENO, stop_message, stop_message_len);
}

/*
 * SIGINT and SIGTERM wind the run down, saying so at once (on a fresh
 * line when the progress line is showing); blocking calls see EINTR.
 */
static void
catch_stop_signals(const struct bench_cli *cli, const struct bench_options *o)
{
	struct sigaction sa;
	int n;

	n = snprintf(stop_message, sizeof(stop_message),
	    "%s%s: interrupted: sending stopped, waiting at most %g s for "
	    "the replies outstanding; interrupt again to quit at once\n",
	    cli->progress ? "\r\033[K" : "", PROG, o->timeout);
	stop_message_len =
	    n > 0 && (size_t)n < sizeof(stop_message) ? (size_t)n : 0;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

static void
show_progress(void *arg, const struct bench_progress *p)
{
	(void)arg;
	bench_report_progress(stderr, p);
}

static void
show_sample(void *arg, const struct bench_sample *s)
{
	struct bench_cli *cli = arg;

	if (!cli->rows)
		return;
	if (cli->progress)
		fputs("\r\033[K", stderr);
	if (cli->rows_shown++ == 0)
		bench_report_sample_header(stdout);
	bench_report_sample(stdout, s);
}

static void
show_note(void *arg, const char *text)
{
	(void)arg;
	fprintf(stderr, "%s: %s\n", PROG, text);
}

/* A whole number option: "-c: '0' is not a whole number from 1 ...". */
static long long
number_arg(const char *opt, const char *text, long long min, long long max)
{
	char err[ARGS_ERR_MAX];
	long long v;

	if (args_number(text, min, max, &v, err, sizeof(err)) == -1)
		exit(args_usage_error(PROG, "%s: %s", opt, err));
	return v;
}

static double
real_arg(const char *opt, const char *text, double min, double max)
{
	char err[ARGS_ERR_MAX];
	double v;

	if (args_real(text, min, max, &v, err, sizeof(err)) == -1)
		exit(args_usage_error(PROG, "%s: %s", opt, err));
	return v;
}

/* A duration option in seconds; min_ms and max_ms bound it. */
static double
duration_arg(const char *opt, const char *text, int64_t min_ms, int64_t max_ms)
{
	char err[ARGS_ERR_MAX];
	int64_t ms;

	if (args_duration_ms(text, min_ms, max_ms, &ms, err, sizeof(err)) == -1)
		exit(args_usage_error(PROG, "%s: %s", opt, err));
	return (double)ms / 1000.0;
}

static int
compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* --percentiles 50,99,99.9: ascending, each once, 1 to 16 of them. */
static void
percentiles_arg(const char *text, struct bench_options *o)
{
	char copy[512], *save = NULL, *item;
	unsigned n = 0;

	if (strlen(text) >= sizeof(copy))
		exit(args_usage_error(PROG, "--percentiles: list too long"));
	snprintf(copy, sizeof(copy), "%s", text);
	for (item = strtok_r(copy, ",", &save); item != NULL;
	     item = strtok_r(NULL, ",", &save)) {
		double p = real_arg("--percentiles", item, 0, 100);
		if (p == 0)
			exit(args_usage_error(
			    PROG, "--percentiles: '%s' is not above 0", item));
		if (n == BENCH_MAX_PERCENTILES)
			exit(args_usage_error(PROG,
			    "--percentiles: more than %d values",
			    BENCH_MAX_PERCENTILES));
		o->percentiles[n++] = p;
	}
	if (n == 0 || text[0] == ',' || text[strlen(text) - 1] == ',' ||
	    strstr(text, ",,") != NULL)
		exit(args_usage_error(PROG,
		    "--percentiles: '%s' is not a list like 50,99,99.9", text));
	qsort(o->percentiles, n, sizeof(o->percentiles[0]), compare_double);
	o->npercentiles = 0;
	for (unsigned i = 0; i < n; i++)
		if (i == 0 || o->percentiles[i] != o->percentiles[i - 1])
			o->percentiles[o->npercentiles++] = o->percentiles[i];
}

/* What getopt found wrong, as one usage line.  Returns the status. */
static int
getopt_error(int ch, char **argv)
{
	const char *arg = argv[optind - 1];
	int is_long = strncmp(arg, "--", 2) == 0;

	if (ch == ':')
		return is_long
		    ? args_usage_error(PROG, "option '%s' needs a value", arg)
		    : args_usage_error(
		          PROG, "option '-%c' needs a value", optopt);
	if (is_long || optopt == 0)
		return args_usage_error(PROG, "unknown option '%s'", arg);
	return args_usage_error(PROG, "unknown option '-%c'", optopt);
}

/* -v: what is about to happen. */
static void
verbose_plan(const struct bench_options *o, uint64_t limit)
{
	fprintf(stderr,
	    "%s: target %s port %s (%s), %u connections, %u threads at "
	    "most, open-file limit %" PRIu64 "\n",
	    PROG, o->host, o->port,
	    o->family == AF_INET        ? "IPv4 only"
	        : o->family == AF_INET6 ? "IPv6 only"
	                                : "any family",
	    o->connections, o->threads, limit);
}

/* -v and -vv: what happened, on standard error. */
static void
verbose_result(const struct bench_cli *cli, const struct bench_options *o,
    const struct bench_result *r)
{
	char a[32], b[32], c[32], first[BENCH_ERROR_MAX + 16] = "";

	if (r->connect_errno != 0)
		snprintf(first, sizeof(first), " (the first: %s)",
		    strerror(r->connect_errno));
	if (r->connect_error[0] != '\0')
		snprintf(
		    first, sizeof(first), " (the first: %s)", r->connect_error);
	fprintf(stderr,
	    "%s: %" PRIu64 " connections established to %s, %" PRIu64
	    " failed%s; connect time p50 %s, p99 %s, max %s\n",
	    PROG, r->connected, r->target, r->connect_failed, first,
	    bench_report_duration(
	        histogram_percentile(&r->connect, 50), a, sizeof(a)),
	    bench_report_duration(
	        histogram_percentile(&r->connect, 99), b, sizeof(b)),
	    bench_report_duration(histogram_max(&r->connect), c, sizeof(c)));
	if (cli->verbose < 2)
		return;
	fprintf(stderr,
	    "%s: started %s; connecting %.6f s, warmup %.6f s, measured "
	    "%.6f s; %zu timeline rows every %g s\n",
	    PROG, r->start, r->connect_seconds, r->warmup_seconds, r->seconds,
	    r->timeline_len, o->interval);
}

/* Writes the latency distribution to cli->hgrm (opened as out). */
static void
write_hgrm(const struct bench_cli *cli, FILE *out, const struct histogram *h)
{
	if (histogram_write_hgrm(out, h, 1e6) == -1 || fclose(out) == EOF)
		fail(cli, EXIT_ERRORS, "%s: %s", cli->hgrm, strerror(errno));
}

static FILE *
open_hgrm(const struct bench_cli *cli)
{
	FILE *f;

	if (cli->hgrm == NULL)
		return NULL;
	if ((f = fopen(cli->hgrm, "w")) == NULL)
		fail(cli, EXIT_USAGE, "%s: %s", cli->hgrm, strerror(errno));
	return f;
}

/* The report, the .hgrm file, the exit status. */
static int
report(const struct bench_cli *cli, FILE *hgrm, const struct bench_options *o,
    const struct bench_result *r)
{
	if (cli->json)
		bench_report_json(stdout, o, r);
	else
		bench_report_text(stdout, o, r);
	if (hgrm != NULL)
		write_hgrm(cli, hgrm, &r->latency);
	if (fflush(stdout) == EOF)
		fail(cli, EXIT_ERRORS, "standard output: %s", strerror(errno));
	return bench_result_ok(r) ? 0 : EXIT_ERRORS;
}

/* tcpchat-bench --merge FILE...: one report of several runs. */
static int
merge(const struct bench_cli *cli, const struct bench_options *o, int n,
    char **files)
{
	struct bench_merged *m = malloc(sizeof(*m));
	char why[512];
	int status;

	if (m == NULL)
		fail(cli, EXIT_ERRORS, "out of memory");
	if (n == 0)
		exit(args_usage_error(PROG,
		    "--merge needs the documents of "
		    "the runs to merge"));
	FILE *hgrm = open_hgrm(cli);
	if (bench_merge_files(m, files, (size_t)n, o, why, sizeof(why)) == -1) {
		bench_result_free(&m->result);
		fail(cli, EXIT_USAGE, "%s", why);
	}
	status = report(cli, hgrm, &m->options, &m->result);
	bench_result_free(&m->result);
	free(m);
	return status;
}

int
main(int argc, char **argv)
{
	enum {
		OPT_CONNECT_RATE = 256,
		OPT_WARMUP,
		OPT_JSON,
		OPT_INTERVAL,
		OPT_PERCENTILES,
		OPT_HGRM,
		OPT_MERGE,
		OPT_TLS,
		OPT_TLS_CA,
		OPT_TLS_SERVERNAME,
		OPT_TLS_INSECURE
	};
	static const struct option longopts[] = {
	    {"connections", required_argument, NULL, 'c'},
	    {"messages", required_argument, NULL, 'n'},
	    {"duration", required_argument, NULL, 'd'},
	    {"size", required_argument, NULL, 's'},
	    {"in-flight", required_argument, NULL, 'P'},
	    {"rate", required_argument, NULL, 'r'},
	    {"connect-rate", required_argument, NULL, OPT_CONNECT_RATE},
	    {"warmup", required_argument, NULL, OPT_WARMUP},
	    {"threads", required_argument, NULL, 't'},
	    {"timeout", required_argument, NULL, 'T'},
	    {"interval", required_argument, NULL, OPT_INTERVAL},
	    {"percentiles", required_argument, NULL, OPT_PERCENTILES},
	    {"hgrm", required_argument, NULL, OPT_HGRM},
	    {"json", no_argument, NULL, OPT_JSON},
	    {"merge", no_argument, NULL, OPT_MERGE},
	    {"tls", no_argument, NULL, OPT_TLS},
	    {"tls-ca", required_argument, NULL, OPT_TLS_CA},
	    {"tls-servername", required_argument, NULL, OPT_TLS_SERVERNAME},
	    {"tls-insecure", no_argument, NULL, OPT_TLS_INSECURE},
	    {"verbose", no_argument, NULL, 'v'},
	    {"quiet", no_argument, NULL, 'q'}, {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'}, {NULL, 0, NULL, 0}};
	struct bench_cli cli;
	struct bench_options o;
	struct bench_result *r;
	struct args_endpoint ep = {.host = "127.0.0.1", .port = "9999"};
	struct bench_hooks hooks;
	char why[256];
	int ch, status, tls_given = 0;
	uint64_t limit;

	memset(&cli, 0, sizeof(cli));
	bench_options_defaults(&o);
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":c:n:d:s:P:r:t:T:46vqhV",
	            longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			o.connections = (unsigned)number_arg(
			    "-c", optarg, 1, BENCH_MAX_CONNECTIONS);
			break;
		case 'n':
			o.messages = (uint64_t)number_arg(
			    "-n", optarg, 1, BENCH_MAX_MESSAGES);
			break;
		case 'd':
			o.duration = duration_arg("-d", optarg, 0, 1000000000);
			break;
		case 's':
			o.size = (size_t)number_arg(
			    "-s", optarg, PAYLOAD_MIN_SIZE, PAYLOAD_MAX_SIZE);
			break;
		case 'P':
			o.in_flight = (unsigned)number_arg(
			    "-P", optarg, 1, BENCH_MAX_IN_FLIGHT);
			break;
		case 'r':
			o.rate = real_arg("-r", optarg, 0, 1e9);
			break;
		case OPT_CONNECT_RATE:
			o.connect_rate =
			    real_arg("--connect-rate", optarg, 0, 1e9);
			break;
		case OPT_WARMUP:
			o.warmup = (uint64_t)number_arg(
			    "--warmup", optarg, 0, BENCH_MAX_MESSAGES);
			break;
		case 't':
			o.threads = (unsigned)number_arg(
			    "-t", optarg, 1, BENCH_MAX_THREADS);
			break;
		case 'T':
			o.timeout = duration_arg("-T", optarg, 1, 1000000000);
			break;
		case OPT_INTERVAL:
			o.interval =
			    duration_arg("--interval", optarg, 0, 1000000000);
			if (o.interval > 0 && o.interval < 0.01)
				return args_usage_error(PROG,
				    "--interval: '%s' is under 10ms (0 for "
				    "none)",
				    optarg);
			cli.interval_given = 1;
			break;
		case OPT_PERCENTILES:
			percentiles_arg(optarg, &o);
			break;
		case OPT_HGRM:
			cli.hgrm = optarg;
			break;
		case OPT_JSON:
			cli.json = 1;
			break;
		case OPT_MERGE:
			cli.merge = 1;
			break;
		case OPT_TLS:
			o.tls = 1;
			break;
		case OPT_TLS_CA:
		case OPT_TLS_SERVERNAME:
			if (optarg[0] == '\0')
				return args_usage_error(PROG, "%s: empty value",
				    ch == OPT_TLS_CA ? "--tls-ca"
				                     : "--tls-servername");
			if (ch == OPT_TLS_CA)
				o.tls_options.ca_file = optarg;
			else
				o.tls_options.servername = optarg;
			tls_given = 1;
			break;
		case OPT_TLS_INSECURE:
			o.tls_options.insecure = 1;
			tls_given = 1;
			break;
		case '4':
		case '6':
			if (o.family != AF_UNSPEC &&
			    o.family != (ch == '4' ? AF_INET : AF_INET6))
				return args_usage_error(
				    PROG, "-4 and -6 exclude each other");
			o.family = ch == '4' ? AF_INET : AF_INET6;
			break;
		case 'v':
			cli.verbose++;
			break;
		case 'q':
			cli.quiet = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			fputs(VERSION_LINE("tcpchat-bench"), stdout);
			return 0;
		default:
			return getopt_error(ch, argv);
		}
	}
	if (tls_given && !o.tls)
		return args_usage_error(PROG,
		    "--tls-ca, --tls-servername and --tls-insecure need --tls");
	if (o.tls_options.insecure && o.tls_options.ca_file != NULL)
		return args_usage_error(PROG,
		    "--tls-insecure and --tls-ca: choose one (--tls-insecure "
		    "verifies nothing)");
	if (cli.merge)
		return merge(&cli, &o, argc - optind, argv + optind);
	if (args_operands(
	        argc - optind, argv + optind, &ep, why, sizeof(why)) == -1)
		return args_usage_error(PROG, "%s", why);
	o.host = ep.host;
	o.port = ep.port;
	if (bench_options_check(&o, why, sizeof(why)) == -1)
		return args_usage_error(PROG, "%s", why);
	if (bench_raise_nofile(o.connections, o.threads, &limit) == -1) {
		if (errno != EMFILE)
			fail(&cli, EXIT_USAGE, "open-file limit: %s",
			    strerror(errno));
		fail(&cli, EXIT_USAGE,
		    "-c %u does not fit: it needs about %u open "
		    "files and the limit is %" PRIu64 " even raised to the "
		    "hard limit (see ulimit -Hn); use fewer connections or "
		    "raise the hard limit",
		    o.connections,
		    o.connections + o.threads + BENCH_SPARE_FILES, limit);
	}
	FILE *hgrm = open_hgrm(&cli);
	if (cli.verbose)
		verbose_plan(&o, limit);
	/* Sends use MSG_NOSIGNAL; this covers anything else. */
	signal(SIGPIPE, SIG_IGN);
	cli.progress = !cli.quiet && isatty(STDERR_FILENO);
	catch_stop_signals(&cli, &o);
	o.stop = &stop_signal;
	cli.rows = !cli.json && o.interval > 0 &&
	    (cli.interval_given || isatty(STDOUT_FILENO));
	memset(&hooks, 0, sizeof(hooks));
	hooks.progress = cli.progress ? show_progress : NULL;
	hooks.sample = show_sample;
	hooks.note = cli.verbose ? show_note : NULL;
	hooks.arg = &cli;

	r = malloc(sizeof(*r));
	if (r == NULL)
		fail(&cli, EXIT_ERRORS, "out of memory");
	if (bench_run(&o, r, &hooks, why, sizeof(why)) == -1) {
		if (cli.progress)
			fputs("\r\033[K", stderr);
		if (hgrm != NULL) {
			/* No run, no distribution: leave no empty file. */
			fclose(hgrm);
			unlink(cli.hgrm);
		}
		free(r);
		fail(&cli, EXIT_ERRORS, "%s", why);
	}
	if (cli.progress)
		fputs("\r\033[K", stderr);
	if (cli.verbose)
		verbose_result(&cli, &o, r);
	status = report(&cli, hgrm, &o, r);
	bench_result_free(r);
	free(r);
	return status;
}
