/* tcpchatd.c - the server's main: options in, server_run() out. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "server.h"
#include "version.h"

#define USAGE                                                                  \
	"usage: tcpchatd [-l ADDR] [-p PORT] [-m echo|chat|room] [OPTIONS]\n"

static void
tcpchatd_help(void)
{
	printf(USAGE
	    "\n"
	    "A multi-client TCP chat and echo server, one thread per "
	    "connection.\n"
	    "\n"
	    "  -l, --listen ADDR      address to listen on (default "
	    "127.0.0.1;\n"
	    "                         0.0.0.0 or :: serves the LAN)\n"
	    "  -p, --port PORT        port (default 9999; 0 picks a free one)\n"
	    "  -m, --mode MODE        echo, chat (default) or room\n"
	    "  -q, --quiet            no connect and disconnect events\n"
	    "      --max-line BYTES   longest message (default %d)\n"
	    "      --max-queue BYTES  most bytes queued for one client "
	    "(default %d)\n"
	    "      --max-queue-total BYTES  most bytes queued for all clients\n"
	    "                         (default: 512 MiB or a quarter of memory)\n"
	    "      --max-clients N    most clients at once (default: from "
	    "the\n"
	    "                         open-file limit)\n"
	    "      --log FILE         append a transcript of every message\n"
	    "      --drain-time MS    how long queued messages get at "
	    "shutdown\n"
	    "                         (default %d)\n"
	    "      --max-per-ip N     most clients from one address "
	    "(default: no limit)\n"
	    "      --allow CIDR       admit only these addresses "
	    "(repeatable)\n"
	    "      --deny CIDR        refuse these addresses (repeatable; "
	    "wins over\n"
	    "                         --allow)\n"
	    "      --idle-timeout S   close a client silent for S seconds "
	    "(default off)\n"
	    "      --line-timeout S   close a client whose line is not "
	    "complete in S\n"
	    "                         seconds (default %d; 0: off)\n"
	    "      --tls-cert FILE    serve TLS only, with this certificate "
	    "chain (PEM)\n"
	    "      --tls-key FILE     its private key (default: in "
	    "--tls-cert's file)\n"
	    "      --tls-client-ca FILE  require client certificates "
	    "signed by this CA\n"
	    "      --handshake-timeout S  a TLS handshake must end within "
	    "S seconds\n"
	    "                         (default 10)\n"
	    "  -h, --help             this help\n"
	    "  -V, --version          version\n"
	    "\n"
	    "Console commands (chat and room): /list /to ID /msg ID TEXT "
	    "/all TEXT\n"
	    "/kick ID /stats /help /quit.  See tcpchatd(1).\n"
	    "\n" VERSION_HELP_FOOTER,
	    SERVER_DEFAULT_MAX_LINE, SERVER_DEFAULT_MAX_QUEUE,
	    SERVER_DEFAULT_DRAIN_MS, SERVER_DEFAULT_LINE_TIMEOUT);
}

/* Parses a whole number in [min, max] or exits with a usage error. */
static long long
tcpchatd_number(const char *opt, const char *arg, long long min, long long max)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(arg, &end, 10);
	if (errno != 0 || end == arg || *end != '\0' || v < min || v > max) {
		fprintf(stderr,
		    "tcpchatd: %s: '%s' is not a number from %lld "
		    "to %lld\n" USAGE,
		    opt, arg, min, max);
		exit(2);
	}
	return v;
}

int
main(int argc, char **argv)
{
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
		OPT_HANDSHAKE_TIMEOUT
	};
	static const struct option longopts[] = {
	    {"listen", required_argument, NULL, 'l'},
	    {"port", required_argument, NULL, 'p'},
	    {"mode", required_argument, NULL, 'm'},
	    {"quiet", no_argument, NULL, 'q'},
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
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'}, {NULL, 0, NULL, 0}};
	struct server_config cfg;
	int c;

	server_config_defaults(&cfg);
	while (
	    (c = getopt_long(argc, argv, "l:p:m:qhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'l':
			cfg.host = optarg;
			break;
		case 'p':
			tcpchatd_number("--port", optarg, 0, 65535);
			cfg.port = optarg;
			break;
		case 'm':
			if (server_mode_parse(optarg, &cfg.mode) == -1) {
				fprintf(stderr,
				    "tcpchatd: unknown mode '%s' "
				    "(echo, chat or room)\n" USAGE,
				    optarg);
				return 2;
			}
			break;
		case 'q':
			cfg.quiet = 1;
			break;
		case OPT_MAX_LINE:
			cfg.max_line = (size_t)tcpchatd_number(
			    "--max-line", optarg, 1, 64 << 20);
			break;
		case OPT_MAX_QUEUE_TOTAL:
			cfg.max_queue_total = (size_t)tcpchatd_number(
			    "--max-queue-total", optarg, 65536, 1LL << 40);
			break;
		case OPT_MAX_QUEUE:
			cfg.max_queue = (size_t)tcpchatd_number(
			    "--max-queue", optarg, 1024, 1LL << 32);
			break;
		case OPT_MAX_CLIENTS:
			cfg.max_clients = (int)tcpchatd_number(
			    "--max-clients", optarg, 1, INT_MAX);
			break;
		case OPT_LOG:
			cfg.log_path = optarg;
			break;
		case OPT_DRAIN:
			cfg.drain_ms = (int)tcpchatd_number(
			    "--drain-time", optarg, 0, 600000);
			break;
		case OPT_MAX_PER_IP:
			cfg.max_per_ip = (unsigned)tcpchatd_number(
			    "--max-per-ip", optarg, 0, INT_MAX);
			break;
		case OPT_ALLOW:
		case OPT_DENY:
			if (access_add(&cfg.access, c == OPT_ALLOW, optarg) ==
			    -1) {
				fprintf(stderr,
				    "tcpchatd: %s: '%s' is not an "
				    "address or CIDR block (e.g. "
				    "192.168.1.0/24, ::1/128)\n",
				    c == OPT_ALLOW ? "--allow" : "--deny",
				    optarg);
				return 2;
			}
			break;
		case OPT_IDLE:
			cfg.idle_timeout_s = (int)tcpchatd_number(
			    "--idle-timeout", optarg, 0, 86400 * 365);
			break;
		case OPT_TLS_CERT:
			cfg.tls_cert = optarg;
			break;
		case OPT_TLS_KEY:
			cfg.tls_key = optarg;
			break;
		case OPT_TLS_CLIENT_CA:
			cfg.tls_client_ca = optarg;
			break;
		case OPT_HANDSHAKE_TIMEOUT:
			cfg.handshake_timeout_s = (int)tcpchatd_number(
			    "--handshake-timeout", optarg, 1, 3600);
			break;
		case OPT_LINE_TIMEOUT:
			cfg.line_timeout_s = (int)tcpchatd_number(
			    "--line-timeout", optarg, 0, 86400);
			break;
		case 'h':
			tcpchatd_help();
			return 0;
		case 'V':
			fputs(VERSION_LINE("tcpchatd"), stdout);
			return 0;
		default:
			fputs(USAGE "Try 'tcpchatd --help'.\n", stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "tcpchatd: unexpected argument '%s'\n" USAGE,
		    argv[optind]);
		return 2;
	}
	if ((cfg.tls_key != NULL || cfg.tls_client_ca != NULL) &&
	    cfg.tls_cert == NULL) {
		fprintf(stderr,
		    "tcpchatd: --tls-key and --tls-client-ca need "
		    "--tls-cert\nTry 'tcpchatd --help'.\n");
		return 2;
	}
	/* Lines reach a pipe or file as soon as they are printed. */
	setvbuf(stdout, NULL, _IONBF, 0);
	int status = server_run(&cfg, 2);
	access_free(&cfg.access);
	return status;
}
