/*
 * client.c - the tcpchat client's session: one poll loop over the
 * server's socket, the user's input and an optional stop descriptor, so
 * what the server sends is printed as soon as it arrives, whatever the
 * user is doing.
 */
#include "config.h"

#include <sys/socket.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "clock.h"
#include "escape.h"
#include "framing.h"
#include "io.h"
#include "lineedit.h"
#include "net.h"

/*
 * Longest run of text held back for the terminal: a line without a
 * newline is shown in pieces of about this size rather than held.
 */
#define CLIENT_DISPLAY_MAX (4 * CLIENT_CHUNK)

/* "[address]:port" of any length a user may type, and a NUL. */
#define CLIENT_PEER_MAX 512

#define CLIENT_PROMPT "> "

/* No deadline: poll without a timeout. */
#define CLIENT_NEVER UINT64_MAX

struct client {
	const struct client_options *opts;
	int in_fd, out_fd, err_fd, sock;
	char peer[CLIENT_PEER_MAX]; /* host:port, for messages */
	int status; /* what client_run returns */
	int done; /* the session is over */

	/* Server to user. */
	struct framing display; /* escape_output: text not yet shown */
	char *rendered; /* ESCAPE_BOUND(CLIENT_DISPLAY_MAX) bytes */
	int midline; /* our output left the cursor mid-line */
	uint64_t rx_total; /* bytes received */
	uint64_t last_rx_ms; /* when the last bytes arrived */
	int rx_ends_line; /* the last byte received was a LF */
	int server_closed;

	/* User to server. */
	char in_buf[CLIENT_CHUNK]; /* input read but not yet taken */
	size_t in_off, in_len;
	int in_eof;
	size_t line_len; /* bytes of the current input line so far */
	char line_head[2]; /* its first two bytes, to spot `q` */
	int quit; /* `q` was typed */
	int awaiting_reply; /* raw script: next line once answered */
	uint64_t reply_deadline_ms;
	char *out_buf; /* bytes for the server not yet sent */
	size_t out_off, out_len, out_cap;
	int shut_wr; /* we half-closed */
	uint64_t idle_deadline_ms; /* after half-close: when to give up */

	int editing; /* readline/libedit owns the terminal */
};

void
client_options_init(struct client_options *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->host = CLIENT_DEFAULT_HOST;
	opts->port = CLIENT_DEFAULT_PORT;
	opts->mode = CLIENT_SCRIPTED;
	opts->wait_ms = CLIENT_DEFAULT_WAIT_MS;
	opts->stop_fd = -1;
}

int
client_has_line_editing(void)
{
	return lineedit_available();
}

/* One line on err_fd, "tcpchat: " first; errno is kept. */
static void
client_error(struct client *c, const char *fmt, ...)
{
	char line[1024];
	int saved_errno = errno, n;
	va_list ap;

	n = snprintf(line, sizeof(line), "tcpchat: ");
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	strcat(line, "\n");
	(void)io_write_full(c->err_fd, line, strlen(line));
	errno = saved_errno;
}

/* Ends the session with an error message and CLIENT_EXIT_ERROR. */
static void
client_fail(struct client *c, const char *fmt, ...)
{
	char text[900];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	client_error(c, "%s", text);
	c->status = CLIENT_EXIT_ERROR;
	c->done = 1;
}

/* Seconds in a wait, for messages: "10 s" or "0.5 s". */
static double
client_seconds(int ms)
{
	return ms / 1000.0;
}

/* ---- line editing ------------------------------------------------- */

static void client_take_line(struct client *c, const char *line, size_t len);

/* The line editor's callback: a typed line, or NULL for Ctrl-D. */
static void
client_editing_line(void *ctx, const char *line, size_t len)
{
	struct client *c = ctx;

	if (line == NULL) {
		/* Ctrl-D: end of input, as in a script. */
		c->in_eof = 1;
		c->editing = 0;
		return;
	}
	client_take_line(c, line, len);
}

/* Hands the terminal to the line editor.  0, or -1 (the plain reader). */
static int
client_editing_start(struct client *c)
{
	if (c->in_fd != STDIN_FILENO || c->out_fd != STDOUT_FILENO ||
	    lineedit_start(CLIENT_PROMPT, client_editing_line, c) == -1)
		return -1;
	c->editing = 1;
	return 0;
}

/* Leaves the terminal as we found it, the half-typed line erased. */
static void
client_editing_stop(struct client *c)
{
	if (!c->editing)
		return;
	lineedit_stop();
	c->editing = 0;
}

/* Clears the prompt line so what follows prints where it stood. */
static void
client_editing_hide(struct client *c)
{
	if (c->editing)
		lineedit_hide();
}

/* Redraws the prompt and the half-typed line below what was printed. */
static void
client_editing_show(struct client *c)
{
	if (c->editing)
		lineedit_show();
}

/* ---- server to user ----------------------------------------------- */

/* Writes to the user's output.  0, or -1 (session over). */
static int
client_emit(struct client *c, const char *p, size_t len)
{
	if (len == 0 || io_write_full(c->out_fd, p, len) == (ssize_t)len)
		return 0;
	/* A closed pipe (`| head`) is the reader's choice: end quietly. */
	if (errno != EPIPE)
		client_error(c, "cannot write output: %s", strerror(errno));
	c->status = CLIENT_EXIT_ERROR;
	c->done = 1;
	return -1;
}

/* Escapes text for the terminal and writes it, a newline after if asked. */
static int
client_emit_escaped(struct client *c, const char *p, size_t len, int newline)
{
	size_t n = escape_render(c->rendered, p, len);

	if (newline)
		c->rendered[n++] = '\n';
	c->midline = !newline && (n > 0 || c->midline);
	return client_emit(c, c->rendered, n);
}

/*
 * Shows the text held back for the terminal.  force: also an unfinished
 * UTF-8 character.  newline: end the line (a pause, or the end).
 */
static int
client_flush_display(struct client *c, int force, int newline)
{
	const char *msg;
	size_t len;

	if (framing_flush(&c->display, force, &msg, &len) == 1 &&
	    client_emit_escaped(c, msg, len, 0) == -1)
		return -1;
	if (newline && c->midline) {
		c->midline = 0;
		return client_emit(c, "\n", 1);
	}
	return 0;
}

/*
 * Shows what the server sent: unchanged to a pipe or file, escaped line
 * by line to a terminal.  0, or -1 (session over).
 */
static int
client_display(struct client *c, const char *p, size_t len)
{
	const char *msg;
	size_t msglen;
	int rc = 0, r;

	if (!c->opts->escape_output)
		return client_emit(c, p, len);
	client_editing_hide(c);
	while ((r = framing_push(&c->display, &p, &len, &msg, &msglen)) ==
	    FRAMING_COMPLETE) {
		if ((rc = client_emit_escaped(c, msg, msglen, 1)) == -1)
			goto out;
	}
	if (r == FRAMING_TOO_LONG) {
		/* Never for lack of room (we flush first); memory then. */
		client_fail(c, "out of memory");
		rc = -1;
		goto out;
	}
	/*
	 * Text without a newline shows at once, except above a prompt:
	 * there it waits for a newline, a pause or a screenful.
	 */
	if (!c->editing || framing_pending(&c->display) >= CLIENT_CHUNK)
		rc = client_flush_display(c, 0, c->editing);
out:
	client_editing_show(c);
	return rc;
}

/* Reads what the server sent and shows it. */
static void
client_receive(struct client *c)
{
	char buf[CLIENT_CHUNK];
	ssize_t n = io_read_some(c->sock, buf, sizeof(buf));

	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return;
	if (n == -1 && errno == ECONNRESET) {
		client_fail(c, "%s: connection reset by peer", c->peer);
		return;
	}
	if (n == -1) {
		client_fail(c, "%s: %s", c->peer, strerror(errno));
		return;
	}
	if (n == 0) {
		c->server_closed = 1;
		return;
	}
	c->rx_total += (uint64_t)n;
	c->last_rx_ms = clock_now_ms();
	c->rx_ends_line = buf[n - 1] == '\n';
	c->awaiting_reply = 0;
	if (c->shut_wr && !c->quit && c->opts->wait_ms > 0)
		c->idle_deadline_ms =
		    c->last_rx_ms + (uint64_t)c->opts->wait_ms;
	(void)client_display(c, buf, (size_t)n);
}

/* ---- user to server ----------------------------------------------- */

/* Queues bytes for the server.  0, or -1 when memory ran out. */
static int
client_queue(struct client *c, const char *p, size_t len)
{
	size_t need = c->out_len + len;

	if (need > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : CLIENT_CHUNK;
		char *grown;
		while (cap < need)
			cap *= 2;
		if ((grown = realloc(c->out_buf, cap)) == NULL) {
			client_fail(c, "out of memory");
			return -1;
		}
		c->out_buf = grown;
		c->out_cap = cap;
	}
	memcpy(c->out_buf + c->out_len, p, len);
	c->out_len += len;
	return 0;
}

/*
 * Sends what is queued, as far as the socket takes it without blocking:
 * waiting here while the server waits for us to read would deadlock an
 * echo of a large input.
 */
static void
client_send_queued(struct client *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = io_send_some(
		    c->sock, c->out_buf + c->out_off, c->out_len - c->out_off);
		if (n > 0) {
			c->out_off += (size_t)n;
			continue;
		}
		if (n == 0)
			return;
		if (errno == EPIPE) {
			/* The server is gone; reading says how. */
			c->server_closed = 1;
		} else if (errno == ECONNRESET) {
			client_fail(c, "%s: connection reset by peer", c->peer);
		} else {
			client_fail(c, "%s: %s", c->peer, strerror(errno));
		}
		c->out_off = c->out_len = 0;
		return;
	}
	c->out_off = c->out_len = 0;
}

/* Notes input bytes of the current line, to recognise a lone `q`. */
static void
client_note_line(struct client *c, const char *p, size_t len)
{
	for (size_t i = 0; i < len && c->line_len + i < 2; i++)
		c->line_head[c->line_len + i] = p[i];
	c->line_len += len;
}

/* Whether the line just ended was `q` (or `q` CR). */
static int
client_line_is_quit(const struct client *c)
{
	return (c->line_len == 1 && c->line_head[0] == 'q') ||
	    (c->line_len == 2 && c->line_head[0] == 'q' &&
	        c->line_head[1] == '\r');
}

/*
 * Moves input into the queue for the server, up to where we must stop
 * for an answer (a raw script) or for good (`q`).  A CR that may start
 * a CRLF stays unless at_eof.  Returns the bytes taken.
 */
static size_t
client_take_input(struct client *c, const char *p, size_t len, int at_eof)
{
	size_t i = 0;

	while (i < len && !c->quit && !c->awaiting_reply && !c->done) {
		const char *lf = memchr(p + i, '\n', len - i);
		size_t end = lf ? (size_t)(lf - p) : len, body = end - i;
		size_t sent = body;

		if (!c->opts->raw) {
			/* Unchanged, newline included: binary-safe. */
			sent = lf ? body + 1 : body;
		} else if (lf && body > 0 && p[end - 1] == '\r') {
			sent = body - 1;
		} else if (!lf && body > 0 && p[end - 1] == '\r' && !at_eof) {
			/* Maybe half a CRLF: decide when the rest comes. */
			body--;
			sent = body;
			if (body == 0)
				break;
		}
		client_note_line(c, p + i, body);
		if (sent > 0 && client_queue(c, p + i, sent) == -1)
			break;
		i += body;
		if (lf == NULL)
			continue;
		i++; /* the LF */
		if (c->opts->mode == CLIENT_INTERACTIVE &&
		    client_line_is_quit(c)) {
			c->quit = 1;
		} else if (c->opts->raw && c->opts->mode == CLIENT_SCRIPTED &&
		    c->line_len > 0) {
			/* Lines without newlines would run together. */
			c->awaiting_reply = 1;
			c->reply_deadline_ms = c->opts->wait_ms > 0
			    ? clock_now_ms() + (uint64_t)c->opts->wait_ms
			    : CLIENT_NEVER;
		}
		c->line_len = 0;
	}
	return i;
}

/* A line from the line editor, without its newline. */
static void
client_take_line(struct client *c, const char *line, size_t len)
{
	(void)client_take_input(c, line, len, 0);
	(void)client_take_input(c, "\n", 1, 0);
}

/* Takes what is buffered of the input, keeping the rest at the front. */
static void
client_take_buffered(struct client *c)
{
	c->in_off += client_take_input(
	    c, c->in_buf + c->in_off, c->in_len - c->in_off, c->in_eof);
	if (c->in_off > 0 && c->in_off < c->in_len)
		memmove(
		    c->in_buf, c->in_buf + c->in_off, c->in_len - c->in_off);
	c->in_len -= c->in_off;
	c->in_off = 0;
}

/* Reads the user's input (plain reader). */
static void
client_read_input(struct client *c)
{
	ssize_t n = io_read_some(
	    c->in_fd, c->in_buf + c->in_len, sizeof(c->in_buf) - c->in_len);

	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return;
	if (n == -1) {
		client_fail(c, "cannot read input: %s", strerror(errno));
		return;
	}
	if (n == 0)
		c->in_eof = 1;
	c->in_len += (size_t)n;
	client_take_buffered(c);
}

/* Whether more input is wanted now: only with nothing left to send. */
static int
client_wants_input(const struct client *c)
{
	return c->opts->mode != CLIENT_ONE_SHOT && !c->in_eof && !c->quit &&
	    !c->awaiting_reply && c->out_len == 0 &&
	    c->in_len < sizeof(c->in_buf);
}

/* ---- the session -------------------------------------------------- */

static uint64_t
client_min(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* The earliest moment something must happen without any event. */
static uint64_t
client_next_deadline(const struct client *c, uint64_t oneshot_deadline)
{
	uint64_t t = CLIENT_NEVER;

	if (c->opts->escape_output && framing_pending(&c->display) > 0)
		t = c->last_rx_ms + CLIENT_PAUSE_MS;
	if (c->opts->escape_output && c->midline)
		t = client_min(t, c->last_rx_ms + CLIENT_PAUSE_MS);
	if (c->awaiting_reply)
		t = client_min(t, c->reply_deadline_ms);
	if (c->shut_wr)
		t = client_min(t, c->idle_deadline_ms);
	if (c->opts->mode == CLIENT_ONE_SHOT)
		t = client_min(t,
		    c->rx_total == 0 ? oneshot_deadline
		                     : c->last_rx_ms + CLIENT_PAUSE_MS);
	return t;
}

/* Acts on the deadlines that have passed. */
static void
client_check_time(struct client *c, uint64_t oneshot_deadline)
{
	uint64_t now = clock_now_ms();
	int paused = c->rx_total > 0 && now >= c->last_rx_ms + CLIENT_PAUSE_MS;

	if (paused && c->opts->escape_output &&
	    (c->midline || framing_pending(&c->display) > 0)) {
		/* A pause ends a message: finish its line on the terminal. */
		client_editing_hide(c);
		(void)client_flush_display(c, 1, 1);
		client_editing_show(c);
	}
	if (c->done)
		return;
	if (c->opts->mode == CLIENT_ONE_SHOT) {
		if (c->rx_total == 0 && now >= oneshot_deadline)
			client_fail(c, "%s: no reply within %g s", c->peer,
			    client_seconds(c->opts->wait_ms));
		else if (c->rx_total > 0 && (c->rx_ends_line || paused))
			c->done = 1;
		return;
	}
	if (c->awaiting_reply && now >= c->reply_deadline_ms) {
		client_fail(c, "%s: no reply within %g s", c->peer,
		    client_seconds(c->opts->wait_ms));
		return;
	}
	/* Half-closed and the server neither closed nor spoke: done. */
	if (c->shut_wr && now >= c->idle_deadline_ms)
		c->done = 1;
}

/* Half-closes once all input is sent: the server sees end of file. */
static void
client_maybe_shutdown(struct client *c)
{
	if (c->shut_wr || c->out_len > 0 || c->opts->mode == CLIENT_ONE_SHOT)
		return;
	if (!c->quit && !(c->in_eof && c->in_len == 0))
		return;
	shutdown(c->sock, SHUT_WR);
	c->shut_wr = 1;
	if (c->quit)
		c->idle_deadline_ms = clock_now_ms() + CLIENT_QUIT_LINGER_MS;
	else if (c->opts->wait_ms > 0)
		c->idle_deadline_ms =
		    clock_now_ms() + (uint64_t)c->opts->wait_ms;
	else
		c->idle_deadline_ms = CLIENT_NEVER;
}

/* Formats host:port for messages, brackets around an IPv6 literal. */
static void
client_format_peer(struct client *c)
{
	const char *host = c->opts->host, *port = c->opts->port;

	if (strchr(host, ':') != NULL && host[0] != '[')
		snprintf(c->peer, sizeof(c->peer), "[%s]:%s", host, port);
	else
		snprintf(c->peer, sizeof(c->peer), "%s:%s", host, port);
}

/* Connects within the wait.  0, or -1 with the message given. */
static int
client_connect(struct client *c)
{
	int gai = 0, timeout = c->opts->wait_ms > 0 ? c->opts->wait_ms : -1;

	c->sock = net_connect(c->opts->host, c->opts->port, timeout, &gai);
	if (c->sock == -1) {
		if (gai == 0 && errno == ETIMEDOUT)
			client_fail(c,
			    "cannot connect to %s: timed out "
			    "after %g s",
			    c->peer, client_seconds(c->opts->wait_ms));
		else
			client_fail(c, "cannot connect to %s: %s", c->peer,
			    net_strerror(gai, errno));
		return -1;
	}
	if (net_set_nonblock(c->sock, 1) == -1) {
		client_fail(c, "%s: %s", c->peer, strerror(errno));
		return -1;
	}
	(void)net_set_nodelay(c->sock);
	return 0;
}

/* Waits for and handles one round of events. */
static void
client_poll_once(struct client *c, uint64_t oneshot_deadline)
{
	struct pollfd pfd[3];
	nfds_t n = 0, sock_i, in_i = 3, stop_i = 3;
	uint64_t deadline = client_next_deadline(c, oneshot_deadline);
	int timeout = deadline == CLIENT_NEVER ? -1 : clock_ms_until(deadline);

	sock_i = n;
	pfd[n++] = (struct pollfd){
	    .fd = c->sock, .events = POLLIN | (c->out_len > 0 ? POLLOUT : 0)};
	if (client_wants_input(c)) {
		in_i = n;
		pfd[n++] = (struct pollfd){.fd = c->in_fd, .events = POLLIN};
	}
	if (c->opts->stop_fd >= 0) {
		stop_i = n;
		pfd[n++] =
		    (struct pollfd){.fd = c->opts->stop_fd, .events = POLLIN};
	}
	if (poll(pfd, n, timeout) == -1) {
		if (errno != EINTR)
			client_fail(c, "poll: %s", strerror(errno));
		return;
	}
	if (stop_i < n && pfd[stop_i].revents != 0) {
		c->status = CLIENT_EXIT_ERROR;
		c->done = 1;
		return;
	}
	if (pfd[sock_i].revents & (POLLIN | POLLHUP | POLLERR))
		client_receive(c);
	if (!c->done && !c->server_closed &&
	    (pfd[sock_i].revents & (POLLOUT | POLLERR)))
		client_send_queued(c);
	if (!c->done && !c->server_closed && in_i < n &&
	    pfd[in_i].revents != 0) {
		if (c->editing)
			lineedit_read();
		else
			client_read_input(c);
	}
}

/* Says that the server closed, where the user needs to know. */
static void
client_report_close(struct client *c)
{
	/* After q or Ctrl-D the user expects the close: no news. */
	if (c->opts->mode == CLIENT_INTERACTIVE && !c->quit && !c->in_eof)
		client_error(c, "%s closed the connection", c->peer);
	else if (c->opts->mode == CLIENT_ONE_SHOT && c->rx_total == 0)
		client_fail(
		    c, "%s closed the connection without a reply", c->peer);
}

/* Runs the session on a connected socket until its end. */
static void
client_loop(struct client *c, uint64_t oneshot_deadline)
{
	while (!c->done) {
		/* Input held while we waited for an answer. */
		if (c->in_len > 0 && c->out_len == 0 && !c->awaiting_reply)
			client_take_buffered(c);
		if (c->out_len > 0)
			client_send_queued(c);
		if (c->done)
			break;
		if (c->server_closed)
			break;
		client_maybe_shutdown(c);
		client_poll_once(c, oneshot_deadline);
		if (!c->done)
			client_check_time(c, oneshot_deadline);
	}
}

int
client_run(const struct client_options *opts, int in_fd, int out_fd, int err_fd)
{
	struct client *c;
	uint64_t oneshot_deadline = CLIENT_NEVER;
	int status;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		const char *msg = "tcpchat: out of memory\n";
		(void)io_write_full(err_fd, msg, strlen(msg));
		return CLIENT_EXIT_ERROR;
	}
	c->opts = opts;
	c->in_fd = in_fd;
	c->out_fd = out_fd;
	c->err_fd = err_fd;
	c->sock = -1;
	c->status = CLIENT_EXIT_OK;
	framing_init(&c->display, CLIENT_DISPLAY_MAX);
	client_format_peer(c);
	if (opts->escape_output &&
	    (c->rendered = malloc(ESCAPE_BOUND(CLIENT_DISPLAY_MAX) + 1)) ==
	        NULL) {
		client_fail(c, "out of memory");
		goto out;
	}
	if (opts->mode == CLIENT_ONE_SHOT && opts->wait_ms > 0)
		oneshot_deadline = clock_now_ms() + (uint64_t)opts->wait_ms;
	if (client_connect(c) == -1)
		goto out;
	if (opts->mode == CLIENT_ONE_SHOT) {
		const char *msg = opts->message ? opts->message : "";
		if (client_queue(c, msg, strlen(msg)) == -1 ||
		    (!opts->raw && client_queue(c, "\n", 1) == -1))
			goto out;
	}
	if (opts->mode == CLIENT_INTERACTIVE && opts->line_editing)
		(void)client_editing_start(c);
	client_loop(c, oneshot_deadline);
	/* What was held back for a pause is shown now, the line ended. */
	if (opts->escape_output) {
		client_editing_hide(c);
		(void)client_flush_display(c, 1, 1);
	}
	/* The prompt goes before the last word, not after it. */
	client_editing_stop(c);
	if (c->server_closed && c->status == CLIENT_EXIT_OK)
		client_report_close(c);
out:
	client_editing_stop(c);
	status = c->status;
	if (c->sock >= 0)
		close(c->sock);
	framing_free(&c->display);
	free(c->rendered);
	free(c->out_buf);
	free(c);
	return status;
}
