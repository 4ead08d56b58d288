/*
 * tcpchat.c - the client's main: options and signals; the session itself
 * is client_run() in client.c.
 */
#include "config.h"

#include <sys/socket.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "client.h"
#include "password.h"
#include "version.h"

#define PROG "tcpchat"

/* Longest --wait accepted: a day is already beyond any real use. */
#define TCPCHAT_MAX_WAIT_MS (86400 * 1000)

/* Signals end the session through this pipe; see tcpchat_on_signal. */
static int tcpchat_stop_pipe[2] = {-1, -1};
static volatile sig_atomic_t tcpchat_signal;

static void
tcpchat_usage(void)
{
	printf("usage: tcpchat [OPTIONS] [HOST[:PORT] | [V6ADDR]:PORT | HOST "
	       "PORT]\n"
	       "       tcpchat --control PATH [OPTIONS]\n"
	       "Talk to a TCP chat or echo server (default %s port %s), or\n"
	       "attach to a tcpchatd control socket as its operator.\n"
	       "\n"
	       "  -m, --message TEXT   send TEXT, print the reply, exit\n"
	       "  -w, --wait TIME      bound on every wait for the server "
	       "(500ms, 10s, 2m;\n"
	       "                       a bare number is seconds; default "
	       "10s; 0: none)\n"
	       "  -r, --raw            send lines without their newline, one "
	       "at a time\n"
	       "      --lines          send lines with their newline\n"
	       "                       (default: as the server's first "
	       "message does)\n"
	       "      --max-line BYTES longest one-shot reply (default %d)\n"
	       "  -4, -6               IPv4 or IPv6 addresses only\n"
	       "      --tls            TLS: verify the server's certificate "
	       "and name\n"
	       "      --tls-ca FILE    trust the CAs in FILE (default: the "
	       "system's)\n"
	       "      --tls-servername NAME  the name to verify and send "
	       "(default: HOST)\n"
	       "      --tls-insecure   TLS without verifying the server "
	       "(says so on stderr)\n"
	       "      --tls-cert FILE  present this client certificate\n"
	       "      --tls-key FILE   its private key (default: in "
	       "--tls-cert's file)\n"
	       "      --password-file FILE  send FILE's first line first: "
	       "tcpchatd's room\n"
	       "                       password (FILE must be mode 600)\n"
	       "  -v, --verbose        connection details and timings on "
	       "stderr (-vv: more)\n"
	       "      --control PATH   operate a tcpchatd through its control "
	       "socket\n"
	       "  -h, --help           show this help and exit\n"
	       "  -V, --version        show the version and exit\n"
	       "\n"
	       "Interactive when standard input is a terminal: lines are sent "
	       "as typed,\n"
	       "`q` sends q and quits, Ctrl-D ends sending.  Otherwise each "
	       "input line\n"
	       "is sent, then the client waits for the server to close.\n"
	       "Exit status: 0 normal end, 1 connection or runtime error, 2 "
	       "usage,\n"
	       "3 the server's only answer was a refusal.  See tcpchat(1).\n",
	    CLIENT_DEFAULT_HOST, CLIENT_DEFAULT_PORT, CLIENT_DEFAULT_MAX_LINE);
}

/*
 * Only records the signal and wakes the session through the pipe; the
 * session restores the terminal, then main dies of the same signal.
 */
static void
tcpchat_on_signal(int sig)
{
	int saved_errno = errno;

	tcpchat_signal = sig;
	if (write(tcpchat_stop_pipe[1], "", 1) == -1) {
		/* Full pipe: a wake-up is already pending. */
	}
	errno = saved_errno;
}

static void
tcpchat_catch_signals(void)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
	struct sigaction sa;

	/* Writes to a closed socket or pipe fail with EPIPE instead. */
	signal(SIGPIPE, SIG_IGN);
	if (pipe(tcpchat_stop_pipe) == -1)
		err(1, "pipe");
	for (int i = 0; i < 2; i++) {
		fcntl(tcpchat_stop_pipe[i], F_SETFD, FD_CLOEXEC);
		fcntl(tcpchat_stop_pipe[i], F_SETFL, O_NONBLOCK);
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = tcpchat_on_signal;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
}

/* Whether dimming is welcome on this terminal (no-color.org, dumb). */
static int
tcpchat_styles_ok(void)
{
	const char *term = getenv("TERM");
	const char *no_color = getenv("NO_COLOR");

	return (no_color == NULL || no_color[0] == '\0') && term != NULL &&
	    strcmp(term, "dumb") != 0;
}

int
main(int argc, char **argv)
{
	enum {
		OPT_LINES = 256,
		OPT_MAX_LINE,
		OPT_CONTROL,
		OPT_TLS,
		OPT_TLS_CA,
		OPT_TLS_SERVERNAME,
		OPT_TLS_INSECURE,
		OPT_TLS_CERT,
		OPT_TLS_KEY,
		OPT_PASSWORD_FILE
	};
	static const struct option longopts[] = {
	    {"message", required_argument, NULL, 'm'},
	    {"wait", required_argument, NULL, 'w'},
	    {"raw", no_argument, NULL, 'r'},
	    {"lines", no_argument, NULL, OPT_LINES},
	    {"max-line", required_argument, NULL, OPT_MAX_LINE},
	    {"verbose", no_argument, NULL, 'v'},
	    {"control", required_argument, NULL, OPT_CONTROL},
	    {"tls", no_argument, NULL, OPT_TLS},
	    {"tls-ca", required_argument, NULL, OPT_TLS_CA},
	    {"tls-servername", required_argument, NULL, OPT_TLS_SERVERNAME},
	    {"tls-insecure", no_argument, NULL, OPT_TLS_INSECURE},
	    {"tls-cert", required_argument, NULL, OPT_TLS_CERT},
	    {"tls-key", required_argument, NULL, OPT_TLS_KEY},
	    {"password-file", required_argument, NULL, OPT_PASSWORD_FILE},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'}, {NULL, 0, NULL, 0}};
	static char host[ARGS_HOST_MAX], port[ARGS_PORT_MAX];
	struct client_options opts;
	struct args_endpoint ep;
	char why[ARGS_ERR_MAX];
	int ch, status, dialect_given = 0, tls_given = 0;
	const char *password_file = NULL;
	char *password = NULL;
	int64_t ms;
	long long n;

	client_options_init(&opts);
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":m:w:r46vhV", longopts, NULL)) !=
	    -1) {
		switch (ch) {
		case 'm':
			opts.mode = CLIENT_ONE_SHOT;
			opts.message = optarg;
			break;
		case 'w':
			if (args_duration_ms(optarg, 0, TCPCHAT_MAX_WAIT_MS,
			        &ms, why, sizeof(why)) == -1)
				return args_usage_error(
				    PROG, "--wait: %s", why);
			opts.wait_ms = (int)ms;
			break;
		case 'r':
		case OPT_LINES:
			if (dialect_given++ > 0)
				return args_usage_error(
				    PROG, "--raw and --lines: choose one");
			opts.dialect = ch == 'r' ? CLIENT_DIALECT_BARE
			                         : CLIENT_DIALECT_LINES;
			break;
		case OPT_MAX_LINE:
			if (args_number(optarg, 1, CLIENT_MAX_MAX_LINE, &n, why,
			        sizeof(why)) == -1)
				return args_usage_error(
				    PROG, "--max-line: %s", why);
			opts.max_line = (size_t)n;
			break;
		case '4':
		case '6':
			opts.family = ch == '4' ? AF_INET : AF_INET6;
			break;
		case 'v':
			opts.verbose++;
			break;
		case OPT_CONTROL:
			if (optarg[0] == '\0')
				return args_usage_error(
				    PROG, "--control: empty path");
			opts.control_path = optarg;
			break;
		case OPT_TLS:
			opts.tls = 1;
			break;
		case OPT_TLS_CA:
		case OPT_TLS_SERVERNAME:
		case OPT_TLS_CERT:
		case OPT_TLS_KEY:
			if (optarg[0] == '\0')
				return args_usage_error(PROG, "%s: empty value",
				    ch == OPT_TLS_CA         ? "--tls-ca"
				        : ch == OPT_TLS_CERT ? "--tls-cert"
				        : ch == OPT_TLS_KEY
				        ? "--tls-key"
				        : "--tls-servername");
			if (ch == OPT_TLS_CA)
				opts.tls_options.ca_file = optarg;
			else if (ch == OPT_TLS_SERVERNAME)
				opts.tls_options.servername = optarg;
			else if (ch == OPT_TLS_CERT)
				opts.tls_options.cert_file = optarg;
			else
				opts.tls_options.key_file = optarg;
			tls_given = 1;
			break;
		case OPT_PASSWORD_FILE:
			password_file = optarg;
			break;
		case OPT_TLS_INSECURE:
			opts.tls_options.insecure = 1;
			tls_given = 1;
			break;
		case 'h':
			tcpchat_usage();
			return CLIENT_EXIT_OK;
		case 'V':
			fputs(VERSION_LINE("tcpchat"), stdout);
			return CLIENT_EXIT_OK;
		default:
			args_option_error(ch, optopt, argv, optind, longopts,
			    why, sizeof(why));
			return args_usage_error(PROG, "%s", why);
		}
	}
	if (tls_given && !opts.tls)
		return args_usage_error(PROG,
		    "--tls-ca, --tls-servername, --tls-insecure, --tls-cert "
		    "and --tls-key need --tls");
	if (opts.tls_options.key_file != NULL &&
	    opts.tls_options.cert_file == NULL)
		return args_usage_error(PROG, "--tls-key needs --tls-cert");
	if (opts.tls_options.insecure && opts.tls_options.ca_file != NULL)
		return args_usage_error(PROG,
		    "--tls-insecure and --tls-ca: choose one (--tls-insecure "
		    "verifies nothing)");
	if (opts.control_path != NULL) {
		if (password_file != NULL)
			return args_usage_error(
			    PROG, "--control: --password-file does not apply");
		if (opts.tls)
			return args_usage_error(PROG,
			    "--control: --tls does not apply (a local "
			    "socket)");
		if (optind < argc)
			return args_usage_error(PROG,
			    "--control takes no HOST or PORT: '%s'",
			    argv[optind]);
		if (dialect_given || opts.family != AF_UNSPEC)
			return args_usage_error(PROG,
			    "--control: -4, -6, --raw and --lines do not "
			    "apply");
	} else {
		memset(&ep, 0, sizeof(ep));
		snprintf(ep.host, sizeof(ep.host), "%s", CLIENT_DEFAULT_HOST);
		snprintf(ep.port, sizeof(ep.port), "%s", CLIENT_DEFAULT_PORT);
		if (args_operands(argc - optind, argv + optind, &ep, why,
		        sizeof(why)) == -1)
			return args_usage_error(PROG, "%s", why);
		memcpy(host, ep.host, sizeof(host));
		memcpy(port, ep.port, sizeof(port));
		opts.host = host;
		opts.port = port;
	}

	if (password_file != NULL) {
		char perr[PASSWORD_ERR_MAX];
		if (password_load(
		        password_file, &password, perr, sizeof(perr)) == -1) {
			fprintf(stderr, "%s: %s\n", PROG, perr);
			return CLIENT_EXIT_ERROR;
		}
		opts.password = password;
	}
	if (opts.mode != CLIENT_ONE_SHOT && isatty(STDIN_FILENO))
		opts.mode = CLIENT_INTERACTIVE;
	/* A hostile server must not reach the terminal with escapes. */
	opts.escape_output = isatty(STDOUT_FILENO);
	opts.style_output = opts.escape_output && tcpchat_styles_ok();
	opts.line_editing =
	    opts.mode == CLIENT_INTERACTIVE && opts.escape_output;
	tcpchat_catch_signals();
	opts.stop_fd = tcpchat_stop_pipe[0];

	status = client_run(&opts, STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO);
	password_free(password);
	if (tcpchat_signal != 0) {
		/* Die of the signal, as the shell expects. */
		signal(tcpchat_signal, SIG_DFL);
		raise(tcpchat_signal);
	}
	return status;
}
