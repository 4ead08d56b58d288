/* tcpchatd.c - the server's main: options in, server_run() out. */
#include "config.h"

#include <sys/socket.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "args.h"
#include "server.h"
#include "service.h"
#include "version.h"

#define PROG "tcpchatd"

/* The longest --idle-timeout, --line-timeout and --drain-time. */
#define TCPCHATD_MAX_IDLE_MS (365LL * 86400 * 1000)
#define TCPCHATD_MAX_LINE_TIMEOUT_MS (86400LL * 1000)
#define TCPCHATD_MAX_DRAIN_MS (600LL * 1000)
#define TCPCHATD_MAX_HANDSHAKE_MS (3600LL * 1000)

static void
tcpchatd_help(void)
{
	printf(
	    "usage: tcpchatd [-46qv] [-l ADDR[:PORT]] [-p PORT] "
	    "[-m echo|chat|room]\n"
	    "                [OPTIONS]\n"
	    "\n"
	    "A multi-client TCP chat and echo server, one thread per "
	    "connection.\n"
	    "\n"
	    "  -l, --listen ADDR[:PORT]\n"
	    "                         address to listen on (default "
	    "127.0.0.1, ::1 with\n"
	    "                         -6; 0.0.0.0 or :: serves the LAN); "
	    "[V6ADDR]:PORT\n"
	    "                         for IPv6 with a port\n"
	    "  -p, --port PORT        port (default %s; 0 picks a free "
	    "one)\n"
	    "  -4, -6                 IPv4 or IPv6 addresses only\n"
	    "  -m, --mode MODE        echo, chat (default) or room\n"
	    "  -q, --quiet            no connect and disconnect events\n"
	    "  -v, --verbose          more on the console: the limits, "
	    "each\n"
	    "                         connection's time and messages; "
	    "-vv also the\n"
	    "                         address each client reached\n"
	    "      --max-line BYTES   longest message (default %d)\n"
	    "      --max-queue BYTES  most bytes queued for one client "
	    "(default %d)\n"
	    "      --max-queue-total BYTES  most bytes queued for all "
	    "clients\n"
	    "                         (default: 512 MiB or a quarter of "
	    "memory)\n"
	    "      --max-clients N    most clients at once (default: from "
	    "the\n"
	    "                         open-file limit)\n"
	    "      --max-per-ip N     most clients from one address "
	    "(default: no limit)\n"
	    "      --allow CIDR       admit only these addresses "
	    "(repeatable)\n"
	    "      --deny CIDR        refuse these addresses (repeatable; "
	    "wins over\n"
	    "                         --allow)\n"
	    "      --log FILE         append a transcript of every message\n"
	    "      --idle-timeout T   close a client silent for T (default "
	    "off)\n"
	    "      --line-timeout T   close a client whose line is not "
	    "complete in T\n"
	    "                         (default %ds; 0: off)\n"
	    "      --drain-time T     how long queued messages get at "
	    "shutdown\n"
	    "                         (default %gs)\n"
	    "      --tls-cert FILE    serve TLS only, with this certificate "
	    "chain (PEM)\n"
	    "      --tls-key FILE     its private key (default: in "
	    "--tls-cert's file)\n"
	    "      --tls-client-ca FILE  require client certificates "
	    "signed by this CA\n"
	    "      --handshake-timeout T  a TLS handshake must end within "
	    "T (default %ds)\n"
	    "      --history N        room lines replayed to a joiner "
	    "(default %d; 0: none)\n"
	    "      --max-rate LINES   lines a second one client may send, "
	    "a burst of\n"
	    "                         twice that (default %d; 0: no "
	    "limit)\n"
	    "      --password-file FILE  chat and room: a client's first "
	    "line must be\n"
	    "                         the first line of FILE (mode 600)\n"
	    "      --control PATH     operators attach at this Unix socket "
	    "(mode 0600)\n"
	    "      --no-console       read no console; standard output "
	    "gets events only\n"
	    "      --syslog           events to syslog (facility daemon), "
	    "never text\n"
	    "  -h, --help             this help\n"
	    "  -V, --version          version and license\n"
	    "\n"
	    "Durations T take a unit: 500ms, 10s, 2m, 1h (a bare number is "
	    "seconds).\n"
	    "Console commands (chat and room): /list /to ID /msg ID TEXT "
	    "/r TEXT\n"
	    "/all TEXT /kick ID [REASON] /history /stats /help /quit (a "
	    "name will do\n"
	    "for an ID).  Client commands: /nick /who /me /msg /quit /help.  "
	    "See tcpchatd(1).\n"
	    "\n" VERSION_HELP_FOOTER,
	    SERVER_DEFAULT_PORT, SERVER_DEFAULT_MAX_LINE,
	    SERVER_DEFAULT_MAX_QUEUE, SERVER_DEFAULT_LINE_TIMEOUT,
	    SERVER_DEFAULT_DRAIN_MS / 1000.0, SERVER_DEFAULT_HANDSHAKE_TIMEOUT,
	    SERVER_DEFAULT_HISTORY, SERVER_DEFAULT_MAX_RATE);
}

/*
 * The parsed command line: cfg, and the storage its strings point into.
 * A usage error (already said on stderr) makes tcpchatd_parse return -1.
 */
struct tcpchatd_options {
	struct server_config cfg;
	struct args_endpoint listen; /* -l, and -p's port */
	char port[ARGS_PORT_MAX];
	int listen_given, port_in_listen, port_given;
};

/* A whole number option in [min, max] into *v, or a usage error.  0 or -1. */
static int
tcpchatd_number(const char *opt, const char *arg, long long min, long long max,
    long long *v)
{
	char err[ARGS_ERR_MAX];

	if (args_number(arg, min, max, v, err, sizeof(err)) == -1) {
		args_usage_error(PROG, "%s: %s", opt, err);
		return -1;
	}
	return 0;
}

/* A duration option in [min_ms, max_ms] into *ms, or a usage error. */
static int
tcpchatd_duration(const char *opt, const char *arg, long long min_ms,
    long long max_ms, int *ms)
{
	char err[ARGS_ERR_MAX];
	int64_t v;

	if (args_duration_ms(arg, min_ms, max_ms, &v, err, sizeof(err)) == -1) {
		args_usage_error(PROG, "%s: %s", opt, err);
		return -1;
	}
	*ms = (int)v;
	return 0;
}

/* -l ADDR, ADDR:PORT, [V6ADDR]:PORT, :PORT or a bare IPv6 literal. */
static int
tcpchatd_listen(struct tcpchatd_options *o, const char *arg)
{
	char err[ARGS_ERR_MAX];

	o->listen.port[0] = '\0';
	if (args_endpoint(arg, 1, &o->listen, err, sizeof(err)) == -1) {
		args_usage_error(PROG, "--listen: %s", err);
		return -1;
	}
	o->listen_given = 1;
	o->port_in_listen = o->listen.port[0] != '\0';
	return 0;
}

/* The options that take a value and have no letter. */
enum {
	OPT_MAX_LINE = 256,
	OPT_MAX_QUEUE,
	OPT_MAX_QUEUE_TOTAL,
	OPT_MAX_CLIENTS,
	OPT_LOG,
	OPT_DRAIN,
	OPT_MAX_PER_IP,
	OPT_ALLOW,
	OPT_DENY,
	OPT_IDLE,
	OPT_LINE_TIMEOUT,
	OPT_TLS_CERT,
	OPT_TLS_KEY,
	OPT_TLS_CLIENT_CA,
	OPT_HANDSHAKE_TIMEOUT,
	OPT_HISTORY,
	OPT_MAX_RATE,
	OPT_CONTROL,
	OPT_NO_CONSOLE,
	OPT_SYSLOG,
	OPT_PASSWORD_FILE
};

/* One option with its value.  0, or -1 after a usage error. */
static int
tcpchatd_option(struct tcpchatd_options *o, int c, const char *arg)
{
	struct server_config *cfg = &o->cfg;
	char err[ARGS_ERR_MAX];
	unsigned port;
	long long v;

	switch (c) {
	case '4':
	case '6':
		if (cfg->family != AF_UNSPEC &&
		    cfg->family != (c == '4' ? AF_INET : AF_INET6)) {
			args_usage_error(PROG, "-4 and -6 exclude each other");
			return -1;
		}
		cfg->family = c == '4' ? AF_INET : AF_INET6;
		return 0;
	case 'l':
		return tcpchatd_listen(o, arg);
	case 'p':
		if (args_port(arg, 1, &port, err, sizeof(err)) == -1) {
			args_usage_error(PROG, "--port: %s", err);
			return -1;
		}
		snprintf(o->port, sizeof(o->port), "%u", port);
		o->port_given = 1;
		return 0;
	case 'm':
		if (server_mode_parse(arg, &cfg->mode) == -1) {
			args_usage_error(PROG,
			    "--mode: unknown mode '%s' (echo, chat or room)",
			    arg);
			return -1;
		}
		return 0;
	case 'q':
		cfg->quiet = 1;
		return 0;
	case 'v':
		if (cfg->verbose < 9)
			cfg->verbose++;
		return 0;
	case OPT_MAX_LINE:
		if (tcpchatd_number("--max-line", arg, 1, 64 << 20, &v) == -1)
			return -1;
		cfg->max_line = (size_t)v;
		return 0;
	case OPT_MAX_QUEUE:
		if (tcpchatd_number("--max-queue", arg, 1024, 1LL << 32, &v) ==
		    -1)
			return -1;
		cfg->max_queue = (size_t)v;
		return 0;
	case OPT_MAX_QUEUE_TOTAL:
		if (tcpchatd_number(
		        "--max-queue-total", arg, 65536, 1LL << 40, &v) == -1)
			return -1;
		cfg->max_queue_total = (size_t)v;
		return 0;
	case OPT_MAX_CLIENTS:
		if (tcpchatd_number("--max-clients", arg, 1, INT_MAX, &v) == -1)
			return -1;
		cfg->max_clients = (int)v;
		return 0;
	case OPT_MAX_PER_IP:
		if (tcpchatd_number("--max-per-ip", arg, 0, INT_MAX, &v) == -1)
			return -1;
		cfg->max_per_ip = (unsigned)v;
		return 0;
	case OPT_HISTORY:
		if (tcpchatd_number("--history", arg, 0, 10000, &v) == -1)
			return -1;
		cfg->history = (size_t)v;
		return 0;
	case OPT_MAX_RATE:
		if (tcpchatd_number("--max-rate", arg, 0, 1000000, &v) == -1)
			return -1;
		cfg->max_rate = (unsigned)v;
		return 0;
	case OPT_LOG:
		cfg->log_path = arg;
		return 0;
	case OPT_PASSWORD_FILE:
		cfg->password_file = arg;
		return 0;
	case OPT_DRAIN:
		return tcpchatd_duration("--drain-time", arg, 0,
		    TCPCHATD_MAX_DRAIN_MS, &cfg->drain_ms);
	case OPT_IDLE:
		return tcpchatd_duration("--idle-timeout", arg, 0,
		    TCPCHATD_MAX_IDLE_MS, &cfg->idle_timeout_ms);
	case OPT_LINE_TIMEOUT:
		return tcpchatd_duration("--line-timeout", arg, 0,
		    TCPCHATD_MAX_LINE_TIMEOUT_MS, &cfg->line_timeout_ms);
	case OPT_TLS_CERT:
		cfg->tls_cert = arg;
		return 0;
	case OPT_TLS_KEY:
		cfg->tls_key = arg;
		return 0;
	case OPT_TLS_CLIENT_CA:
		cfg->tls_client_ca = arg;
		return 0;
	case OPT_HANDSHAKE_TIMEOUT:
		return tcpchatd_duration("--handshake-timeout", arg, 1,
		    TCPCHATD_MAX_HANDSHAKE_MS, &cfg->handshake_timeout_ms);
	case OPT_CONTROL:
		if (arg[0] == '\0') {
			args_usage_error(PROG, "--control: the path is empty");
			return -1;
		}
		cfg->control_path = arg;
		return 0;
	case OPT_NO_CONSOLE:
		cfg->no_console = 1;
		return 0;
	case OPT_SYSLOG:
		cfg->use_syslog = 1;
		return 0;
	case OPT_ALLOW:
	case OPT_DENY:
		if (access_add(&cfg->access, c == OPT_ALLOW, arg) == -1) {
			args_usage_error(PROG,
			    "%s: '%s' is not an address or CIDR block "
			    "(e.g. 192.168.1.0/24, ::1/128)",
			    c == OPT_ALLOW ? "--allow" : "--deny", arg);
			return -1;
		}
		return 0;
	}
	return -1;
}

/*
 * Checks what only the whole command line shows and puts the address
 * together: -l's host, its port or -p's, and -6's default host.  0, or
 * -1 after a usage error.
 */
static int
tcpchatd_address(struct tcpchatd_options *o)
{
	struct server_config *cfg = &o->cfg;

	if ((cfg->tls_key != NULL || cfg->tls_client_ca != NULL) &&
	    cfg->tls_cert == NULL) {
		args_usage_error(
		    PROG, "--tls-key and --tls-client-ca need --tls-cert");
		return -1;
	}
	if (cfg->password_file != NULL && cfg->mode == SERVER_ECHO) {
		args_usage_error(PROG,
		    "--password-file needs chat or room mode (-m chat, -m room)");
		return -1;
	}
	if (o->port_in_listen && o->port_given) {
		args_usage_error(PROG,
		    "port given twice: --listen %s:%s and --port %s",
		    o->listen.host, o->listen.port, o->port);
		return -1;
	}
	if (o->listen_given && o->listen.host[0] != '\0')
		cfg->host = o->listen.host;
	else if (cfg->family == AF_INET6)
		cfg->host = "::1";
	if (o->port_in_listen)
		cfg->port = o->listen.port;
	else if (o->port_given)
		cfg->port = o->port;
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"listen", required_argument, NULL, 'l'},
	    {"port", required_argument, NULL, 'p'},
	    {"mode", required_argument, NULL, 'm'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"max-line", required_argument, NULL, OPT_MAX_LINE},
	    {"max-queue", required_argument, NULL, OPT_MAX_QUEUE},
	    {"max-queue-total", required_argument, NULL, OPT_MAX_QUEUE_TOTAL},
	    {"max-clients", required_argument, NULL, OPT_MAX_CLIENTS},
	    {"log", required_argument, NULL, OPT_LOG},
	    {"drain-time", required_argument, NULL, OPT_DRAIN},
	    {"max-per-ip", required_argument, NULL, OPT_MAX_PER_IP},
	    {"allow", required_argument, NULL, OPT_ALLOW},
	    {"deny", required_argument, NULL, OPT_DENY},
	    {"idle-timeout", required_argument, NULL, OPT_IDLE},
	    {"line-timeout", required_argument, NULL, OPT_LINE_TIMEOUT},
	    {"tls-cert", required_argument, NULL, OPT_TLS_CERT},
	    {"tls-key", required_argument, NULL, OPT_TLS_KEY},
	    {"tls-client-ca", required_argument, NULL, OPT_TLS_CLIENT_CA},
	    {"handshake-timeout", required_argument, NULL,
	        OPT_HANDSHAKE_TIMEOUT},
	    {"history", required_argument, NULL, OPT_HISTORY},
	    {"max-rate", required_argument, NULL, OPT_MAX_RATE},
	    {"control", required_argument, NULL, OPT_CONTROL},
	    {"no-console", no_argument, NULL, OPT_NO_CONSOLE},
	    {"syslog", no_argument, NULL, OPT_SYSLOG},
	    {"password-file", required_argument, NULL, OPT_PASSWORD_FILE},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'}, {NULL, 0, NULL, 0}};
	static struct tcpchatd_options o;
	char err[ARGS_ERR_MAX];
	int c, status;

	/* Before anything opens a file: 0, 1 and 2 are never left closed. */
	if (service_sanitise_stdfd() == -1)
		return 1;
	server_config_defaults(&o.cfg);
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":46l:p:m:qvhV", longopts, NULL)) !=
	    -1) {
		switch (c) {
		case 'h':
			tcpchatd_help();
			return 0;
		case 'V':
			fputs(VERSION_LINE(PROG), stdout);
			return 0;
		case '?':
		case ':':
			args_option_error(c, optopt, argv, optind, longopts,
			    err, sizeof(err));
			status = args_usage_error(PROG, "%s", err);
			goto out;
		default:
			if (tcpchatd_option(&o, c, optarg) == -1) {
				status = ARGS_EXIT_USAGE;
				goto out;
			}
		}
	}
	if (optind < argc) {
		status = args_usage_error(
		    PROG, "unexpected argument '%s'", argv[optind]);
		goto out;
	}
	if (tcpchatd_address(&o) == -1) {
		status = ARGS_EXIT_USAGE;
		goto out;
	}
	/* Lines reach a pipe or file as soon as they are printed. */
	setvbuf(stdout, NULL, _IONBF, 0);
	status = server_run(&o.cfg, 2);
out:
	access_free(&o.cfg.access);
	return status;
}
