/*
 * client.h - the tcpchat client: connects (to a TCP server, or to a
 * tcpchatd control socket as an operator), sends what the user types or
 * pipes in, prints what the server sends.  tcpchat's main only parses
 * options and calls client_run(), so the tests drive the same code with
 * pipes in place of the terminal.
 */
#ifndef TCPCHAT_CLIENT_H
#define TCPCHAT_CLIENT_H

#include <stddef.h>

#include "tls.h"

/* Exit statuses, as documented in tcpchat(1). */
#define CLIENT_EXIT_OK 0
#define CLIENT_EXIT_ERROR 1
#define CLIENT_EXIT_USAGE 2
#define CLIENT_EXIT_REFUSED 3 /* the only answer: a tcpchatd refusal */

#define CLIENT_DEFAULT_HOST "127.0.0.1"
#define CLIENT_DEFAULT_PORT "9999"
#define CLIENT_DEFAULT_WAIT_MS 10000
/* Longest one-shot reply (--max-line), as tcpchatd's longest message. */
#define CLIENT_DEFAULT_MAX_LINE 65536
#define CLIENT_MAX_MAX_LINE (64 << 20)

/*
 * A reply without a newline (the seed's servers never send one) is
 * complete once the server pauses this long; tcpchatd uses the same
 * rule for messages, with 40 ms (SERVER_FLUSH_MS).
 */
#define CLIENT_PAUSE_MS 200

/* After `q`, how long the server gets to close before we do. */
#define CLIENT_QUIT_LINGER_MS 500

/*
 * Control socket from a pipe: once the server has answered the last
 * command, a quiet spell this long ends the session.
 */
#define CLIENT_CONTROL_QUIET_MS 300

/* Bytes moved per read, from the network or from the input. */
#define CLIENT_CHUNK 16384

enum client_mode {
	CLIENT_SCRIPTED, /* input is a pipe or file: send it all */
	CLIENT_INTERACTIVE, /* input is a person: `q` ends */
	CLIENT_ONE_SHOT /* send message, print the reply */
};

/* How the lines we send end; see "Dialect" in tcpchat(1). */
enum client_dialect {
	CLIENT_DIALECT_AUTO, /* as the server's first message does */
	CLIENT_DIALECT_LINES, /* --lines: with their newline */
	CLIENT_DIALECT_BARE /* --raw: without, one at a time */
};

struct client_options {
	const char *host; /* name or literal, "[::1]" accepted */
	const char *port; /* a number (tcpchat checks it with args.c) */
	int family; /* AF_UNSPEC, or AF_INET (-4) or AF_INET6 (-6) */
	const char *control_path; /* attach to this control socket */
	enum client_mode mode;
	const char *message; /* CLIENT_ONE_SHOT: what to send */
	int wait_ms; /* the bound on waiting for the server; tcpchat(1) */
	enum client_dialect dialect;
	size_t max_line; /* longest one-shot reply */
	int verbose; /* -v count: details and timings on err_fd */
	int escape_output; /* output is a terminal: escape what arrives */
	int style_output; /* and dim the server's own lines (SGR 2) */
	int line_editing; /* use readline/libedit when built with it */
	int stop_fd; /* readable: stop at once (signals); -1 none */
	int tls; /* --tls: TLS over the TCP connection */
	/*
	 * --tls-ca, --tls-servername (NULL: HOST), --tls-insecure,
	 * --tls-cert and --tls-key.
	 */
	struct tls_client_options tls_options;
	/*
	 * --password-file: sent as the first line (tcpchatd's room
	 * password), and the server's prompt for it not shown; or NULL.
	 */
	const char *password;
};

/* Fills in the defaults: 127.0.0.1:9999, scripted, 10 s, no stop_fd. */
void client_options_init(struct client_options *opts);

/*
 * Runs one session: connects (and with tls, handshakes within wait_ms,
 * the server's certificate verified unless tls_options.insecure, which
 * says so in one line on err_fd), then moves bytes between in_fd/out_fd and
 * the server until the mode's end.  Errors go to err_fd as one line
 * naming host:port (or the control socket).  Returns CLIENT_EXIT_OK,
 * CLIENT_EXIT_ERROR or CLIENT_EXIT_REFUSED.
 */
int client_run(
    const struct client_options *opts, int in_fd, int out_fd, int err_fd);

/* Whether line editing was compiled in (readline or libedit). */
int client_has_line_editing(void);

/*
 * Whether a line from the server (len bytes, newline or not) is one of
 * tcpchatd's refusals or errors: "tcpchatd: access denied", "server
 * full", "too many connections from your address", "server busy", or
 * "tcpchatd: error: ...".
 */
int client_is_refusal(const char *line, size_t len);

/* Longest name kept for completion: 32 characters of UTF-8, a NUL. */
#define CLIENT_NAME_MAX 129

/*
 * Reads one line of tcpchatd's answer to /who, such as "tcpchatd: #3
 * alice, online 5m" or "tcpchatd: #4, online 1h" (no name yet): 1 with
 * the name (or the id's digits when unnamed) in name, 0 for any other
 * line.  Tolerant of spacing, "(you)" after the name and a CR; a name
 * holds no control bytes, spaces or commas.
 */
int client_who_entry(const char *line, size_t len, char *name, size_t cap);

/* The names learnt from /who, for completion after "/msg ". */
#define CLIENT_NAMES_MAX 256
struct client_names {
	char name[CLIENT_NAMES_MAX][CLIENT_NAME_MAX];
	int count;
};

/* Adds a name (once; silently ignored when the table is full). */
void client_names_add(struct client_names *names, const char *name);

/*
 * Tab completion: the state'th candidate (0, 1, ...) for word, given
 * what stands before it on the line, or NULL.  At the start of a line:
 * the client's commands (/nick /who /me /msg /quit /help), or with
 * control set the console's (/list /to /msg /all /kick /stats /help
 * /quit /r); after "/msg " (not control): the names.  Nothing else,
 * never a file name.
 */
const char *client_complete(const struct client_names *names, int control,
    const char *before, const char *word, int state);

#endif
