/*
 * tcpchat.c - the client's main: options and signals; the session itself
 * is client_run() in client.c.
 */
#include "config.h"

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "version.h"

/* Longest --wait accepted: a day is already beyond any real use. */
#define TCPCHAT_MAX_WAIT_S 86400.0

/* Signals end the session through this pipe; see tcpchat_on_signal. */
static int tcpchat_stop_pipe[2] = {-1, -1};
static volatile sig_atomic_t tcpchat_signal;

static void
tcpchat_usage(FILE *out)
{
	fputs("usage: tcpchat [OPTIONS] [HOST [PORT]]\n"
	      "Talk to a TCP chat or echo server (default 127.0.0.1 9999).\n"
	      "\n"
	      "  -m, --message TEXT   send TEXT, print the reply, exit\n"
	      "  -w, --wait SECONDS   limit for connecting and for replies "
	      "(default 10,\n"
	      "                       0: no limit)\n"
	      "  -r, --raw            send each line without its newline, "
	      "byte-exact\n"
	      "  -h, --help           show this help and exit\n"
	      "  -V, --version        show the version and exit\n"
	      "\n"
	      "Interactive when standard input is a terminal: lines are sent "
	      "as typed,\n"
	      "`q` sends q and quits, Ctrl-D half-closes.  Otherwise each "
	      "input line\n"
	      "is sent, then the client waits for the server to close.\n"
	      "Exit status: 0 normal end, 1 connection or runtime error, 2 "
	      "usage.\n",
	    out);
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

/* Parses --wait: seconds, fractions allowed.  Milliseconds or -1. */
static int
tcpchat_parse_wait(const char *arg)
{
	char *end;
	double s;

	errno = 0;
	s = strtod(arg, &end);
	if (errno != 0 || end == arg || *end != '\0' || !isfinite(s) || s < 0 ||
	    s > TCPCHAT_MAX_WAIT_S)
		return -1;
	return (int)(s * 1000.0 + 0.5);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"message", required_argument, NULL, 'm'},
	    {"wait", required_argument, NULL, 'w'},
	    {"raw", no_argument, NULL, 'r'}, {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'}, {NULL, 0, NULL, 0}};
	struct client_options opts;
	int ch, status;

	client_options_init(&opts);
	while (
	    (ch = getopt_long(argc, argv, "m:w:rhV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'm':
			opts.mode = CLIENT_ONE_SHOT;
			opts.message = optarg;
			break;
		case 'w':
			if ((opts.wait_ms = tcpchat_parse_wait(optarg)) == -1)
				errx(CLIENT_EXIT_USAGE,
				    "--wait: not a number "
				    "of seconds from 0 to %.0f: %s",
				    TCPCHAT_MAX_WAIT_S, optarg);
			break;
		case 'r':
			opts.raw = 1;
			break;
		case 'h':
			tcpchat_usage(stdout);
			return CLIENT_EXIT_OK;
		case 'V':
			fputs(VERSION_LINE("tcpchat"), stdout);
			return CLIENT_EXIT_OK;
		default:
			tcpchat_usage(stderr);
			return CLIENT_EXIT_USAGE;
		}
	}
	if (argc - optind > 2) {
		warnx("too many arguments: %s", argv[optind + 2]);
		tcpchat_usage(stderr);
		return CLIENT_EXIT_USAGE;
	}
	if (optind < argc) {
		if (argv[optind][0] == '\0')
			errx(CLIENT_EXIT_USAGE, "empty host name");
		opts.host = argv[optind];
	}
	if (optind + 1 < argc) {
		if (argv[optind + 1][0] == '\0')
			errx(CLIENT_EXIT_USAGE, "empty port");
		opts.port = argv[optind + 1];
	}

	if (opts.mode != CLIENT_ONE_SHOT && isatty(STDIN_FILENO))
		opts.mode = CLIENT_INTERACTIVE;
	/* A hostile server must not reach the terminal with escapes. */
	opts.escape_output = isatty(STDOUT_FILENO);
	opts.line_editing =
	    opts.mode == CLIENT_INTERACTIVE && opts.escape_output;
	tcpchat_catch_signals();
	opts.stop_fd = tcpchat_stop_pipe[0];

	status = client_run(&opts, STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO);
	if (tcpchat_signal != 0) {
		/* Die of the signal, as the shell expects. */
		signal(tcpchat_signal, SIG_DFL);
		raise(tcpchat_signal);
	}
	return status;
}
