/*
 * args.h - the command-line vocabulary tcpchatd, tcpchat and
 * tcpchat-bench share: endpoints (HOST:PORT, [V6]:PORT, HOST PORT),
 * ports, whole numbers, durations with units, and the one format of a
 * usage error.  Parsers are pure: they fill in a value or say why not
 * in a buffer, and never print or exit.
 */
#ifndef TCPCHAT_ARGS_H
#define TCPCHAT_ARGS_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>

/* The exit status of every usage error. */
#define ARGS_EXIT_USAGE 2

/* Room for a host name (RFC 1035: 253) or an IPv6 literal with a scope. */
#define ARGS_HOST_MAX 256
/* "65535" and a NUL. */
#define ARGS_PORT_MAX 6
/* Room for a "why not" message. */
#define ARGS_ERR_MAX 256

struct args_endpoint {
	char host[ARGS_HOST_MAX]; /* without brackets */
	char port[ARGS_PORT_MAX]; /* digits only, "" when not given */
};

/*
 * Parses a port: digits only, 1 to 65535 (0 too when allow_zero).
 * 0 with *port set, or -1 with the reason in err.
 */
int args_port(
    const char *text, int allow_zero, unsigned *port, char *err, size_t errsz);

/*
 * Parses HOST, HOST:PORT, [V6ADDR], [V6ADDR]:PORT or a bare V6ADDR (two
 * colons or more: a literal, no port) into ep; a port given is checked
 * as args_port does (allow_zero for a listener).  A missing part is left
 * as it was in ep, so callers fill in defaults first.  0, or -1 with the
 * reason in err.
 */
int args_endpoint(const char *text, int allow_zero, struct args_endpoint *ep,
    char *err, size_t errsz);

/*
 * The operands of a client: none, "HOST", "HOST:PORT" (and the forms
 * above) or "HOST PORT".  A port in both places, or more than two
 * operands, is an error.  0, or -1 with the reason in err.
 */
int args_operands(int argc, char *const argv[], struct args_endpoint *ep,
    char *err, size_t errsz);

/* A whole number in [min, max].  0, or -1 with the reason in err. */
int args_number(const char *text, long long min, long long max,
    long long *value, char *err, size_t errsz);

/*
 * A decimal number (fractions and an exponent allowed, no sign, no
 * "inf" or "nan") in [min, max], for rates and percentiles.  0, or -1
 * with the reason in err.
 */
int args_real(const char *text, double min, double max, double *value,
    char *err, size_t errsz);

/*
 * A duration: a number (fractions allowed) with an optional unit, "ms",
 * "s", "m" or "h"; a bare number is seconds ("500ms", "1.5s", "2m",
 * "10").  The result in milliseconds, rounded, must lie in [min_ms,
 * max_ms].  0, or -1 with the reason in err.
 */
int args_duration_ms(const char *text, int64_t min_ms, int64_t max_ms,
    int64_t *ms, char *err, size_t errsz);

/*
 * Says why getopt_long stopped, for a usage error, when it was called
 * with opterr 0 and an optstring that starts with ':': c is what it
 * returned ('?' or ':'), opt the value of optopt, argv and ind (optind)
 * as it left them, longopts its table (or NULL).  Writes "unknown
 * option '--frobnicate'", "option '-p' needs a value", "option '--quiet'
 * takes no value" or "option '--max' is ambiguous (--max-line,
 * --max-queue)" into err, naming the option as typed, never with the
 * program's path.
 */
void args_option_error(int c, int opt, char *const argv[], int ind,
    const struct option *longopts, char *err, size_t errsz);

/*
 * Prints "PROG: MESSAGE" and "Try 'PROG --help'." on standard error and
 * returns ARGS_EXIT_USAGE, for main to exit with.
 */
int args_usage_error(const char *prog, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
