/*
 * client.h - the tcpchat client: connects, sends what the user types or
 * pipes in, prints what the server sends.  tcpchat's main only parses
 * options and calls client_run(), so the tests drive the same code with
 * pipes in place of the terminal.
 */
#ifndef TCPCHAT_CLIENT_H
#define TCPCHAT_CLIENT_H

/* Exit statuses, as documented in tcpchat(1). */
#define CLIENT_EXIT_OK 0
#define CLIENT_EXIT_ERROR 1
#define CLIENT_EXIT_USAGE 2

#define CLIENT_DEFAULT_HOST "127.0.0.1"
#define CLIENT_DEFAULT_PORT "9999"
#define CLIENT_DEFAULT_WAIT_MS 10000

/*
 * A reply without a newline (the seed's servers never send one) is
 * complete once the server pauses this long; tcpchatd uses the same
 * rule for messages, with 40 ms (SERVER_FLUSH_MS).
 */
#define CLIENT_PAUSE_MS 200

/* After `q`, how long the server gets to close before we do. */
#define CLIENT_QUIT_LINGER_MS 500

/* Bytes moved per read, from the network or from the input. */
#define CLIENT_CHUNK 16384

enum client_mode {
	CLIENT_SCRIPTED, /* input is a pipe or file: send it all */
	CLIENT_INTERACTIVE, /* input is a person: `q` ends */
	CLIENT_ONE_SHOT /* send message, print the reply */
};

struct client_options {
	const char *host; /* name or literal, "[::1]" accepted */
	const char *port; /* service name or number */
	enum client_mode mode;
	const char *message; /* CLIENT_ONE_SHOT: what to send */
	int wait_ms; /* connect and reply timeout; see tcpchat(1) */
	int raw; /* send lines without their newline */
	int escape_output; /* output is a terminal: escape what arrives */
	int line_editing; /* use readline/libedit when built with it */
	int stop_fd; /* readable: stop at once (signals); -1 none */
};

/* Fills in the defaults: 127.0.0.1:9999, scripted, 10 s, no stop_fd. */
void client_options_init(struct client_options *opts);

/*
 * Runs one session: connects, then moves bytes between in_fd/out_fd and
 * the server until the mode's end.  Errors go to err_fd as one line
 * naming host:port.  Returns CLIENT_EXIT_OK or CLIENT_EXIT_ERROR.
 */
int client_run(
    const struct client_options *opts, int in_fd, int out_fd, int err_fd);

/* Whether line editing was compiled in (readline or libedit). */
int client_has_line_editing(void);

#endif
