/* args.c - the command-line vocabulary the three programs share. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"

static int args_fail(char *err, size_t errsz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes the reason into err.  Returns -1, for the parsers to return. */
static int
args_fail(char *err, size_t errsz, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errsz > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errsz, fmt, ap);
		va_end(ap);
	}
	return -1;
}

int
args_port(
    const char *text, int allow_zero, unsigned *port, char *err, size_t errsz)
{
	unsigned long v = 0;
	size_t n = strlen(text);

	if (n == 0 || n > 5 || strspn(text, "0123456789") != n)
		return args_fail(err, errsz,
		    "'%s' is not a port number (%d to 65535)", text,
		    allow_zero ? 0 : 1);
	v = strtoul(text, NULL, 10);
	if (v > 65535 || (v == 0 && !allow_zero))
		return args_fail(err, errsz,
		    "port %s is out of range (%d to 65535)", text,
		    allow_zero ? 0 : 1);
	*port = (unsigned)v;
	return 0;
}

/* Copies a checked port into ep.  0 or -1. */
static int
args_set_port(const char *text, int allow_zero, struct args_endpoint *ep,
    char *err, size_t errsz)
{
	unsigned port;

	if (args_port(text, allow_zero, &port, err, errsz) == -1)
		return -1;
	snprintf(ep->port, sizeof(ep->port), "%u", port);
	return 0;
}

/* Copies len bytes of a host name into ep.  0 or -1. */
static int
args_set_host(const char *text, size_t len, struct args_endpoint *ep, char *err,
    size_t errsz)
{
	if (len == 0)
		return args_fail(err, errsz, "empty host name");
	if (len >= sizeof(ep->host))
		return args_fail(
		    err, errsz, "host name too long (%zu bytes)", len);
	memcpy(ep->host, text, len);
	ep->host[len] = '\0';
	return 0;
}

int
args_endpoint(const char *text, int allow_zero, struct args_endpoint *ep,
    char *err, size_t errsz)
{
	const char *colon;

	if (text[0] == '[') {
		const char *close = strchr(text, ']');
		if (close == NULL)
			return args_fail(err, errsz,
			    "'%s': missing ']' after the IPv6 address", text);
		if (close[1] != '\0' && close[1] != ':')
			return args_fail(err, errsz,
			    "'%s': expected ':PORT' after ']'", text);
		if (args_set_host(text + 1, (size_t)(close - text - 1), ep, err,
		        errsz) == -1)
			return -1;
		if (close[1] == ':')
			return args_set_port(
			    close + 2, allow_zero, ep, err, errsz);
		return 0;
	}
	colon = strchr(text, ':');
	if (colon == NULL || strchr(colon + 1, ':') != NULL)
		/* A name, an IPv4 address, or a bare IPv6 literal. */
		return args_set_host(text, strlen(text), ep, err, errsz);
	if (colon == text) {
		/* ":PORT": the default host. */
		return args_set_port(colon + 1, allow_zero, ep, err, errsz);
	}
	if (args_set_host(text, (size_t)(colon - text), ep, err, errsz) == -1)
		return -1;
	return args_set_port(colon + 1, allow_zero, ep, err, errsz);
}

int
args_operands(int argc, char *const argv[], struct args_endpoint *ep, char *err,
    size_t errsz)
{
	char given[ARGS_PORT_MAX];

	if (argc > 2)
		return args_fail(
		    err, errsz, "too many arguments: '%s'", argv[2]);
	if (argc == 0)
		return 0;
	snprintf(given, sizeof(given), "%s", ep->port);
	ep->port[0] = '\0';
	if (args_endpoint(argv[0], 0, ep, err, errsz) == -1)
		return -1;
	if (argc == 2) {
		if (ep->port[0] != '\0')
			return args_fail(err, errsz,
			    "port given twice: '%s' and '%s'", argv[0],
			    argv[1]);
		return args_set_port(argv[1], 0, ep, err, errsz);
	}
	if (ep->port[0] == '\0')
		snprintf(ep->port, sizeof(ep->port), "%s", given);
	return 0;
}

int
args_number(const char *text, long long min, long long max, long long *value,
    char *err, size_t errsz)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || v < min || v > max)
		return args_fail(err, errsz,
		    "'%s' is not a whole number from %lld to %lld", text, min,
		    max);
	*value = v;
	return 0;
}

/* A bound for a message, in the largest unit that divides it: "24h". */
static const char *
args_format_ms(int64_t ms, char *buf, size_t size)
{
	if (ms >= 3600000 && ms % 3600000 == 0)
		snprintf(buf, size, "%lldh", (long long)(ms / 3600000));
	else if (ms >= 60000 && ms % 60000 == 0)
		snprintf(buf, size, "%lldm", (long long)(ms / 60000));
	else if (ms % 1000 == 0)
		snprintf(buf, size, "%llds", (long long)(ms / 1000));
	else
		snprintf(buf, size, "%lldms", (long long)ms);
	return buf;
}

/* Does text start like a decimal number we accept (no sign, no "inf")? */
static int
args_decimal_start(const char *text)
{
	return (text[0] >= '0' && text[0] <= '9') ||
	    (text[0] == '.' && text[1] >= '0' && text[1] <= '9');
}

int
args_real(const char *text, double min, double max, double *value, char *err,
    size_t errsz)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(text, &end);
	if (!args_decimal_start(text) || errno != 0 || *end != '\0' ||
	    !isfinite(v) || v < min || v > max || strpbrk(text, "xXpP") != NULL)
		return args_fail(err, errsz,
		    "'%s' is not a number from %g to %g", text, min, max);
	*value = v;
	return 0;
}

int
args_duration_ms(const char *text, int64_t min_ms, int64_t max_ms, int64_t *ms,
    char *err, size_t errsz)
{
	static const struct {
		const char *name;
		double ms;
	} units[] = {
	    {"", 1000}, {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}};
	char *end;
	double v;

	errno = 0;
	v = strtod(text, &end);
	if (errno == 0 && end != text && isfinite(v) && v >= 0 &&
	    args_decimal_start(text) && strpbrk(text, "xXpP") == NULL)
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			if (strcmp(end, units[i].name) != 0)
				continue;
			double total = v * units[i].ms;
			if (total + 0.5 < (double)min_ms ||
			    total > (double)max_ms)
				break;
			*ms = (int64_t)(total + 0.5);
			if (*ms < min_ms)
				*ms = min_ms;
			return 0;
		}
	char lo[32], hi[32];
	return args_fail(err, errsz,
	    "'%s' is not a duration from %s to %s (e.g. 500ms, 10s, 2m)", text,
	    args_format_ms(min_ms, lo, sizeof(lo)),
	    args_format_ms(max_ms, hi, sizeof(hi)));
}

/*
 * The long options name[0..len) abbreviates, as "--a, --b", into buf.
 * Returns how many there are.
 */
static int
args_matches(const struct option *longopts, const char *name, size_t len,
    char *buf, size_t size)
{
	size_t used = 0;
	int n = 0;

	buf[0] = '\0';
	for (; longopts != NULL && longopts->name != NULL; longopts++) {
		if (strncmp(longopts->name, name, len) != 0)
			continue;
		if (strlen(longopts->name) == len)
			return 1; /* an exact match is never ambiguous */
		int w = snprintf(buf + used, size - used, "%s--%s",
		    n > 0 ? ", " : "", longopts->name);
		if (w > 0 && (size_t)w < size - used)
			used += (size_t)w;
		n++;
	}
	return n;
}

void
args_option_error(int c, int opt, char *const argv[], int ind,
    const struct option *longopts, char *err, size_t errsz)
{
	const char *typed = ind > 0 ? argv[ind - 1] : NULL;
	char name[64], matches[160];

	if (typed != NULL && strncmp(typed, "--", 2) == 0) {
		/* A long option, as typed, without any "=value". */
		size_t n = strcspn(typed, "=");
		snprintf(name, sizeof(name), "%.*s", (int)n, typed);
		if (c == ':')
			args_fail(
			    err, errsz, "option '%s' needs a value", name);
		else if (typed[n] == '=' && opt != 0)
			args_fail(
			    err, errsz, "option '%s' takes no value", name);
		else if (args_matches(longopts, typed + 2, n - 2, matches,
		             sizeof(matches)) > 1)
			args_fail(err, errsz, "option '%s' is ambiguous (%s)",
			    name, matches);
		else
			args_fail(err, errsz, "unknown option '%s'", name);
		return;
	}
	if (opt > 0 && opt < 256 && opt != '?' && opt != ':')
		snprintf(name, sizeof(name), "-%c", opt);
	else
		snprintf(name, sizeof(name), "%s", typed != NULL ? typed : "?");
	if (c == ':')
		args_fail(err, errsz, "option '%s' needs a value", name);
	else
		args_fail(err, errsz, "unknown option '%s'", name);
}

int
args_usage_error(const char *prog, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s --help'.\n", prog);
	return ARGS_EXIT_USAGE;
}
