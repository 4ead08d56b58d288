/*
 * tcpchat-bench.c - the load generator's main: options in, summary
 * out.  The engine is bench.c, the output bench-report.c.
 */
#include "config.h"

#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench-report.h"
#include "bench.h"
#include "version.h"

/* Exit statuses: 0 all verified, 1 errors found, 2 usage or setup. */
#define EXIT_ERRORS 1
#define EXIT_USAGE 2

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: tcpchat-bench [OPTIONS] [HOST [PORT]]\n"
	    "Drives many TCP connections against an echo server "
	    "(default 127.0.0.1 9999),\n"
	    "verifies every byte echoed back and reports throughput and "
	    "latency.\n\n"
	    "  -c, --connections N   simultaneous connections (default 50)\n"
	    "  -n, --messages N      messages per connection (default 1000)\n"
	    "  -d, --duration SECS   run for SECS instead of -n messages\n"
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
	    "  -T, --timeout SECS    to connect, and to wait for a reply "
	    "(default 5)\n"
	    "      --json            print one JSON object instead of the "
	    "summary\n"
	    "  -q, --quiet           no progress line on standard error\n"
	    "  -h, --help            show this help and exit\n"
	    "  -V, --version         show the version and exit\n\n"
	    "Exit status: 0 when every message came back intact, 1 when "
	    "anything was\n"
	    "corrupt, lost, reordered, extra or a connection failed, 2 on "
	    "usage errors.\n");
}

static uint64_t
parse_count(const char *arg, const char *what, uint64_t max)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(arg, &end, 10);
	if (errno != 0 || end == arg || *end != '\0' || arg[0] == '-' ||
	    v > max)
		errx(EXIT_USAGE, "%s: not a number from 0 to %" PRIu64 ": %s",
		    what, max, arg);
	return v;
}

static double
parse_real(const char *arg, const char *what)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(arg, &end);
	if (errno != 0 || end == arg || *end != '\0' || !isfinite(v) || v < 0)
		errx(
		    EXIT_USAGE, "%s: not a non-negative number: %s", what, arg);
	return v;
}

static void
show_progress(void *arg, const struct bench_progress *p)
{
	bench_report_progress(stderr, p);
}

int
main(int argc, char **argv)
{
	enum { OPT_CONNECT_RATE = 256, OPT_WARMUP, OPT_JSON };
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
	    {"json", no_argument, NULL, OPT_JSON},
	    {"quiet", no_argument, NULL, 'q'}, {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'}, {NULL, 0, NULL, 0}};
	struct bench_options o;
	struct bench_result *r;
	char why[256];
	int ch, json = 0, quiet = 0, status;
	uint64_t limit;

	bench_options_defaults(&o);
	while ((ch = getopt_long(
	            argc, argv, "c:n:d:s:P:r:t:T:qhV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			o.connections = (unsigned)parse_count(
			    optarg, "-c", BENCH_MAX_CONNECTIONS);
			break;
		case 'n':
			o.messages =
			    parse_count(optarg, "-n", BENCH_MAX_MESSAGES);
			break;
		case 'd':
			o.duration = parse_real(optarg, "-d");
			break;
		case 's':
			o.size =
			    (size_t)parse_count(optarg, "-s", PAYLOAD_MAX_SIZE);
			break;
		case 'P':
			o.in_flight = (unsigned)parse_count(
			    optarg, "-P", BENCH_MAX_IN_FLIGHT);
			break;
		case 'r':
			o.rate = parse_real(optarg, "-r");
			break;
		case OPT_CONNECT_RATE:
			o.connect_rate = parse_real(optarg, "--connect-rate");
			break;
		case OPT_WARMUP:
			o.warmup =
			    parse_count(optarg, "--warmup", BENCH_MAX_MESSAGES);
			break;
		case 't':
			o.threads = (unsigned)parse_count(
			    optarg, "-t", BENCH_MAX_THREADS);
			break;
		case 'T':
			o.timeout = parse_real(optarg, "-T");
			break;
		case OPT_JSON:
			json = 1;
			break;
		case 'q':
			quiet = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			fputs(VERSION_LINE("tcpchat-bench"), stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (argc - optind > 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (optind < argc)
		o.host = argv[optind++];
	if (optind < argc)
		o.port = argv[optind++];
	if (bench_options_check(&o, why, sizeof(why)) == -1)
		errx(EXIT_USAGE, "%s", why);
	if (bench_raise_nofile(o.connections, o.threads, &limit) == -1) {
		if (errno != EMFILE)
			err(EXIT_USAGE, "open-file limit");
		errx(EXIT_USAGE,
		    "-c %u does not fit: it needs about %u open "
		    "files and the limit is %" PRIu64 " even raised to the "
		    "hard limit (see ulimit -Hn); use fewer connections or "
		    "raise the hard limit",
		    o.connections,
		    o.connections + o.threads + BENCH_SPARE_FILES, limit);
	}
	/* Sends use MSG_NOSIGNAL; this covers anything else. */
	signal(SIGPIPE, SIG_IGN);

	r = malloc(sizeof(*r));
	if (r == NULL)
		err(EXIT_ERRORS, "malloc");
	if (bench_run(&o, r,
	        !quiet && isatty(STDERR_FILENO) ? show_progress : NULL, NULL,
	        why, sizeof(why)) == -1) {
		if (!quiet && isatty(STDERR_FILENO))
			fputs("\r\033[K", stderr);
		free(r);
		errx(EXIT_ERRORS, "%s", why);
	}
	if (!quiet && isatty(STDERR_FILENO))
		fputs("\r\033[K", stderr);
	if (json)
		bench_report_json(stdout, &o, r);
	else
		bench_report_text(stdout, &o, r);
	status = bench_result_ok(r) ? 0 : EXIT_ERRORS;
	free(r);
	if (fflush(stdout) == EOF)
		err(EXIT_ERRORS, "standard output");
	return status;
}
