/*
 * client.c - the tcpchat client's session: one poll loop over the
 * server's socket (TCP, or a tcpchatd control socket), the user's input
 * and an optional stop descriptor, so what the server sends is printed
 * as soon as it arrives, whatever the user is doing.  Also the small
 * pure readers of what tcpchatd says (refusals, /who) and the tab
 * completion they feed.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "client.h"
#include "clock.h"
#include "escape.h"
#include "framing.h"
#include "io.h"
#include "lineedit.h"
#include "net.h"
#include "tls.h"
#include "transport.h"

/*
 * Longest run of text held back for the terminal: a line without a
 * newline is shown in pieces of about this size rather than held.
 */
#define CLIENT_DISPLAY_MAX (4 * CLIENT_CHUNK)

/* "[address]:port" or a socket path of any length a user may type. */
#define CLIENT_PEER_MAX 512

#define CLIENT_PROMPT "> "
#define CLIENT_CONTROL_PROMPT "tcpchatd> "

/* How tcpchatd's own lines begin: shown dimmed at a terminal. */
#define CLIENT_SERVER_PREFIX "tcpchatd: "
#define CLIENT_DIM "\033[2m"
#define CLIENT_UNDIM "\033[0m"

/* Bytes of each received line kept to recognise a refusal. */
#define CLIENT_HEAD_MAX 64

/* Bytes of each input line kept: enough for `q` and "/who". */
#define CLIENT_LINE_HEAD 8

/* No deadline: poll without a timeout. */
#define CLIENT_NEVER UINT64_MAX

struct client {
	const struct client_options *opts;
	int in_fd, out_fd, err_fd;
	struct transport t; /* the server: plain, TLS or the control socket */
	struct tls_context *tls; /* --tls: made before connecting, or NULL */
	int control; /* attached to a control socket: lines, no dialect */
	char peer[CLIENT_PEER_MAX]; /* host:port or the path, for messages */
	int status; /* what client_run returns */
	int done; /* the session is over */
	uint64_t start_ms, start_ns;

	/* Server to user. */
	struct framing display; /* escape_output: text not yet shown */
	char *rendered; /* ESCAPE_BOUND(CLIENT_DISPLAY_MAX) and styles */
	int midline; /* our output left the cursor mid-line */
	int dim_line; /* the line being shown is the server's own */
	uint64_t rx_total; /* bytes received */
	uint64_t first_rx_ms, last_rx_ms;
	int rx_ends_line; /* the last byte received was a LF */
	int rx_saw_lf; /* some byte received was a LF */
	int server_closed;
	enum client_dialect dialect; /* how our lines end, once known */
	char head[CLIENT_HEAD_MAX]; /* the received line's first bytes */
	size_t head_len;
	unsigned answer_lines; /* complete lines received */
	int answer_refused; /* and every one was a refusal */
	/*
	 * The password sent: the prompt it answers is not shown.  Bytes
	 * of client_password_prompt matched so far, SIZE_MAX once past it.
	 */
	size_t prompt_matched;

	/* User to server. */
	char in_buf[CLIENT_CHUNK]; /* input read but not yet taken */
	size_t in_off, in_len;
	int in_eof;
	uint64_t in_done_ms; /* when all input had gone (control) */
	size_t line_len; /* bytes of the current input line so far */
	char line_head[CLIENT_LINE_HEAD]; /* its first bytes */
	int quit; /* `q` was typed */
	int awaiting_reply; /* script: next line once answered */
	uint64_t reply_deadline_ms;
	char *out_buf; /* bytes for the server not yet sent */
	size_t out_off, out_len, out_cap;
	uint64_t tx_total; /* bytes sent */
	uint64_t tx_progress_ms; /* when the server last took bytes */
	int tx_dead; /* the server takes no more: what it sent still counts */
	int shut_wr; /* we half-closed */
	uint64_t idle_deadline_ms; /* after half-close: when to give up */
	unsigned commands; /* control: lines sent */
	uint64_t rx_at_command; /* control: rx_total at the last one */

	int editing; /* readline/libedit owns the terminal */
	struct client_names names; /* learnt from /who */
	int who_pending; /* /who sent: its answer replaces the names */
};

void
client_options_init(struct client_options *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->host = CLIENT_DEFAULT_HOST;
	opts->port = CLIENT_DEFAULT_PORT;
	opts->family = AF_UNSPEC;
	opts->mode = CLIENT_SCRIPTED;
	opts->wait_ms = CLIENT_DEFAULT_WAIT_MS;
	opts->dialect = CLIENT_DIALECT_AUTO;
	opts->max_line = CLIENT_DEFAULT_MAX_LINE;
	opts->stop_fd = -1;
}

int
client_has_line_editing(void)
{
	return lineedit_available();
}

/* ---- what tcpchatd says ------------------------------------------- */

int
client_is_refusal(const char *line, size_t len)
{
	static const char *const refusals[] = {"tcpchatd: access denied",
	    "tcpchatd: server full",
	    "tcpchatd: too many connections from your address",
	    "tcpchatd: server busy", "tcpchatd: error:"};

	for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
		size_t n = strlen(refusals[i]);
		if (len < n || memcmp(line, refusals[i], n) != 0)
			continue;
		/* A whole word: "server full", not "server fullness". */
		if (len == n ||
		    !((line[n] >= 'a' && line[n] <= 'z') ||
		        (line[n] >= 'A' && line[n] <= 'Z')))
			return 1;
	}
	return 0;
}

/* Whether a name's byte at p (of n left) may stand in a completion. */
static int
client_name_byte_ok(const unsigned char *p, size_t n)
{
	if (*p <= ' ' || *p == 0x7f || *p == ',' || *p == '(' || *p == ')')
		return 0;
	/* A C1 control in UTF-8 (U+0080 to U+009F): never into the line. */
	return !(*p == 0xc2 && n > 1 && p[1] >= 0x80 && p[1] <= 0x9f);
}

int
client_who_entry(const char *line, size_t len, char *name, size_t cap)
{
	static const char prefix[] = "tcpchatd:";
	const unsigned char *p = (const unsigned char *)line;
	size_t i = sizeof(prefix) - 1, id, start, n;

	while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == '\n'))
		len--;
	if (len < i || memcmp(line, prefix, i) != 0)
		return 0;
	while (i < len && p[i] == ' ')
		i++;
	if (i == len || p[i] != '#')
		return 0;
	id = ++i;
	while (i < len && p[i] >= '0' && p[i] <= '9')
		i++;
	if (i == id || i - id > 19)
		return 0;
	start = id;
	n = i - id;
	if (i < len && p[i] == ' ') {
		/* "#3 alice": a name, unless "(you)" or the like follows. */
		while (i < len && p[i] == ' ')
			i++;
		size_t name_at = i;
		while (i < len && client_name_byte_ok(p + i, len - i))
			i++;
		if (i > name_at) {
			start = name_at;
			n = i - name_at;
		}
		while (i < len && p[i] == ' ')
			i++;
		/* A one-word aside, "(you)", not "(2 online)". */
		if (i < len && p[i] == '(') {
			while (i < len && p[i] != ')' && p[i] != ' ')
				i++;
			if (i == len || p[i] != ')')
				return 0;
			for (i++; i < len && p[i] == ' '; i++)
				;
		}
		/* What ends an entry: the end of the line or a comma. */
		if (i < len && p[i] != ',')
			return 0;
	} else if (i < len && p[i] != ',') {
		return 0;
	}
	if (n + 1 > cap)
		return 0;
	memcpy(name, line + start, n);
	name[n] = '\0';
	return 1;
}

void
client_names_add(struct client_names *names, const char *name)
{
	for (int i = 0; i < names->count; i++)
		if (strcmp(names->name[i], name) == 0)
			return;
	if (names->count == CLIENT_NAMES_MAX ||
	    strlen(name) >= sizeof(names->name[0]))
		return;
	snprintf(
	    names->name[names->count++], sizeof(names->name[0]), "%s", name);
}

const char *
client_complete(const struct client_names *names, int control,
    const char *before, const char *word, int state)
{
	static const char *const commands[] = {
	    "/nick", "/who", "/me", "/msg", "/quit", "/help", NULL};
	static const char *const console[] = {"/list", "/to", "/msg", "/all",
	    "/kick", "/stats", "/help", "/quit", "/r", NULL};
	size_t wlen = strlen(word);
	int seen = 0;

	if (before[0] == '\0') {
		for (const char *const *c = control ? console : commands; *c;
		     c++)
			if (strncmp(*c, word, wlen) == 0 && seen++ == state)
				return *c;
		return NULL;
	}
	/* "/msg " and spaces: the one place a name goes. */
	if (control || names == NULL || strncmp(before, "/msg ", 5) != 0 ||
	    before[5 + strspn(before + 5, " ")] != '\0')
		return NULL;
	for (int i = 0; i < names->count; i++)
		if (strncasecmp(names->name[i], word, wlen) == 0 &&
		    seen++ == state)
			return names->name[i];
	return NULL;
}

/* ---- messages to the user ------------------------------------------ */

/* One line on err_fd, "tcpchat: " first, clear of the prompt. */
static void client_error(struct client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

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
	if (c->editing)
		lineedit_hide();
	(void)io_write_full(c->err_fd, line, strlen(line));
	if (c->editing)
		lineedit_show();
	errno = saved_errno;
}

/* Ends the session with an error message and CLIENT_EXIT_ERROR. */
static void client_fail(struct client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

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

/* -v: details and timings, when asked for at this level. */
#define client_verbose(c, level, ...)                                          \
	do {                                                                   \
		if ((c)->opts->verbose >= (level))                             \
			client_error((c), __VA_ARGS__);                        \
	} while (0)

/* Seconds in a wait, for messages: "10 s" or "0.5 s". */
static double
client_seconds(int ms)
{
	return ms / 1000.0;
}

/* Milliseconds since the session started, for -v. */
static double
client_elapsed_ms(const struct client *c)
{
	return (double)(clock_now_ns() - c->start_ns) / 1e6;
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

/* The line editor's completion: commands and names, no file names. */
static const char *
client_editing_complete(
    void *ctx, const char *before, const char *word, int state)
{
	struct client *c = ctx;

	return client_complete(&c->names, c->control, before, word, state);
}

/* Hands the terminal to the line editor.  0, or -1 (the plain reader). */
static int
client_editing_start(struct client *c)
{
	const char *prompt = c->control ? CLIENT_CONTROL_PROMPT : CLIENT_PROMPT;

	if (c->in_fd != STDIN_FILENO || c->out_fd != STDOUT_FILENO ||
	    lineedit_start(prompt, client_editing_line, c) == -1)
		return -1;
	lineedit_set_completion(client_editing_complete);
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
	lineedit_set_completion(NULL);
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

/*
 * Renders text for the terminal into out.  A control socket's lines are
 * escaped by the server already: their backslashes stay as they are,
 * and only what is still unsafe is escaped.  Returns the length.
 */
static size_t
client_render(const struct client *c, char *out, const char *p, size_t len)
{
	size_t n = 0;

	if (!c->control)
		return escape_render(out, p, len);
	for (;;) {
		const char *bs = memchr(p, '\\', len);
		size_t run = bs != NULL ? (size_t)(bs - p) : len;
		n += escape_render(out + n, p, run);
		if (bs == NULL)
			return n;
		out[n++] = '\\';
		p += run + 1;
		len -= run + 1;
	}
}

/*
 * Escapes text for the terminal and writes it, a newline after if
 * asked; a line of the server's own (tcpchatd: ...) is dimmed.
 */
static int
client_emit_escaped(struct client *c, const char *p, size_t len, int newline)
{
	static const size_t plen = sizeof(CLIENT_SERVER_PREFIX) - 1;
	size_t n = 0;
	int dim;

	if (!c->midline)
		c->dim_line = c->opts->style_output && len >= plen &&
		    memcmp(p, CLIENT_SERVER_PREFIX, plen) == 0;
	dim = c->dim_line && len > 0;
	if (dim) {
		memcpy(c->rendered, CLIENT_DIM, sizeof(CLIENT_DIM) - 1);
		n = sizeof(CLIENT_DIM) - 1;
	}
	n += client_render(c, c->rendered + n, p, len);
	if (dim) {
		memcpy(c->rendered + n, CLIENT_UNDIM, sizeof(CLIENT_UNDIM) - 1);
		n += sizeof(CLIENT_UNDIM) - 1;
	}
	if (newline)
		c->rendered[n++] = '\n';
	c->midline = !newline && (len > 0 || c->midline);
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

/* Keeps what an answer to /who teaches, for completion after "/msg ". */
static void
client_learn(struct client *c, const char *line, size_t len)
{
	char name[CLIENT_NAME_MAX];

	if (c->control || !c->editing ||
	    !client_who_entry(line, len, name, sizeof(name)))
		return;
	if (c->who_pending) {
		/* A new answer to /who: who left is forgotten. */
		c->names.count = 0;
		c->who_pending = 0;
	}
	client_names_add(&c->names, name);
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
		client_learn(c, msg, msglen);
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

/* Follows the server's answer line by line, for client_refused(). */
static void
client_note_answer(struct client *c, const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (p[i] != '\n') {
			if (c->head_len < sizeof(c->head))
				c->head[c->head_len++] = p[i];
			continue;
		}
		if (!client_is_refusal(c->head, c->head_len))
			c->answer_refused = 0;
		c->answer_lines++;
		c->head_len = 0;
	}
}

/* Whether all the server said is one or more refusal lines. */
static int
client_refused(const struct client *c)
{
	if (c->head_len > 0)
		return c->answer_refused &&
		    client_is_refusal(c->head, c->head_len);
	return c->answer_lines > 0 && c->answer_refused;
}

/* The dialect is known: lines from now on end as the server's do. */
static void
client_decide(struct client *c, enum client_dialect dialect)
{
	c->dialect = dialect;
	c->awaiting_reply = 0;
	if (c->opts->mode == CLIENT_ONE_SHOT)
		return; /* no line follows: nothing to tell */
	if (dialect == CLIENT_DIALECT_BARE)
		client_verbose(c, 1,
		    "%s sends messages without a newline: "
		    "sending lines without one too",
		    c->peer);
	else
		client_verbose(c, 1, "%s %s: sending lines with their newline",
		    c->peer,
		    c->rx_total > 0 ? "sends lines" : "said nothing yet");
}

/* Decides the dialect from what arrived so far. */
static void
client_decide_now(struct client *c)
{
	client_decide(c,
	    c->rx_total > 0 && !c->rx_saw_lf ? CLIENT_DIALECT_BARE
	                                     : CLIENT_DIALECT_LINES);
}

/* What tcpchatd greets with when its room has a password. */
static const char client_password_prompt[] = "tcpchatd: password required\n";

/*
 * With the password sent, takes the server's prompt for it off the
 * front of what arrives (p, *len bytes): returns where the rest starts.
 * Anything else first is shown as it came.
 */
static void client_got(struct client *c, const char *p, size_t len);

static const char *
client_skip_prompt(struct client *c, const char *p, size_t *len)
{
	size_t want = sizeof(client_password_prompt) - 1 - c->prompt_matched;
	size_t n = 0;

	while (n < *len && n < want &&
	    p[n] == client_password_prompt[c->prompt_matched + n])
		n++;
	if (n < want && n == *len) {
		c->prompt_matched += n; /* the rest may come next */
		*len = 0;
		return p;
	}
	size_t matched = c->prompt_matched + n;
	c->prompt_matched = SIZE_MAX;
	if (n == want) {
		client_verbose(c, 1, "%s asked for the password", c->peer);
	} else {
		/* Not the prompt: what looked like it is shown after all. */
		client_got(c, client_password_prompt, matched);
	}
	*len -= n;
	return p + n;
}

/* Takes len received bytes: counts, dialect, refusal, display. */
static void
client_got(struct client *c, const char *p, size_t len)
{
	uint64_t now = clock_now_ms();

	if (c->prompt_matched != SIZE_MAX)
		p = client_skip_prompt(c, p, &len);
	if (len == 0)
		return;
	if (c->rx_total == 0)
		c->first_rx_ms = now;
	c->rx_total += len;
	c->last_rx_ms = now;
	c->rx_ends_line = p[len - 1] == '\n';
	if (memchr(p, '\n', len) != NULL)
		c->rx_saw_lf = 1;
	client_note_answer(c, p, len);
	if (c->dialect == CLIENT_DIALECT_AUTO && c->rx_saw_lf)
		client_decide(c, CLIENT_DIALECT_LINES);
	else if (c->dialect == CLIENT_DIALECT_BARE)
		c->awaiting_reply = 0; /* the answer to the last line */
	/* A person listening after Ctrl-D: silence, not time, ends it. */
	if (c->shut_wr && !c->quit && c->opts->mode == CLIENT_INTERACTIVE &&
	    c->opts->wait_ms > 0)
		c->idle_deadline_ms = now + (uint64_t)c->opts->wait_ms;
	(void)client_display(c, p, len);
}

/* Reads what the server sent and shows it. */
static void
client_receive(struct client *c)
{
	char buf[CLIENT_CHUNK];
	size_t room = sizeof(buf);
	int one_shot = c->opts->mode == CLIENT_ONE_SHOT && !c->control;
	ssize_t n;

	/* A one-shot reply is at most max_line: one byte more says so. */
	if (one_shot && c->opts->max_line + 1 - c->rx_total < room)
		room = (size_t)(c->opts->max_line + 1 - c->rx_total);
	n = transport_recv(&c->t, buf, room);
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return;
	if (n == -1 && (errno == ECONNRESET || errno == EPIPE) &&
	    client_refused(c)) {
		/* Turned away before it read what we sent: no news. */
		c->server_closed = 1;
		return;
	}
	if (n == -1 && errno == ECONNRESET) {
		client_fail(c, "%s: connection reset by peer", c->peer);
		return;
	}
	if (n == -1 && errno == EPROTO && tls_error(&c->t)[0] != '\0') {
		client_fail(c, "%s: TLS: %s", c->peer, tls_error(&c->t));
		return;
	}
	if (n == -1) {
		client_fail(c, "%s: %s", c->peer, strerror(errno));
		return;
	}
	if (n == 0) {
		c->server_closed = 1;
		client_verbose(c, 2, "+%.1f ms: %s closed the connection",
		    client_elapsed_ms(c), c->peer);
		return;
	}
	client_verbose(
	    c, 2, "+%.1f ms: received %zd bytes", client_elapsed_ms(c), n);
	if (one_shot && c->rx_total + (uint64_t)n > c->opts->max_line) {
		client_got(c, buf, (size_t)(c->opts->max_line - c->rx_total));
		if (c->opts->escape_output)
			(void)client_flush_display(c, 1, 1);
		client_fail(c,
		    "%s: reply longer than %zu bytes (--max-line): stopped",
		    c->peer, c->opts->max_line);
		return;
	}
	client_got(c, buf, (size_t)n);
}

/* ---- user to server ----------------------------------------------- */

/* Queues bytes for the server.  0, or -1 when memory ran out. */
static int
client_queue(struct client *c, const char *p, size_t len)
{
	size_t need = c->out_len + len;

	if (c->tx_dead)
		return 0; /* nobody to send it to */
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
	if (c->out_len == 0)
		c->tx_progress_ms = clock_now_ms();
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
		ssize_t n = transport_send(
		    &c->t, c->out_buf + c->out_off, c->out_len - c->out_off);
		if (n > 0) {
			c->out_off += (size_t)n;
			c->tx_total += (uint64_t)n;
			c->tx_progress_ms = clock_now_ms();
			client_verbose(c, 2, "+%.1f ms: sent %zd bytes",
			    client_elapsed_ms(c), n);
			continue;
		}
		if (n == 0)
			return;
		if (errno == EPIPE || errno == ECONNRESET) {
			/*
			 * The server is gone, maybe having said why (a
			 * refusal) before it read what we sent: reading says.
			 */
			c->tx_dead = 1;
			client_verbose(c, 2, "+%.1f ms: %s takes no more: %s",
			    client_elapsed_ms(c), c->peer, strerror(errno));
		} else {
			client_fail(c, "%s: %s", c->peer, strerror(errno));
		}
		c->out_off = c->out_len = 0;
		return;
	}
	c->out_off = c->out_len = 0;
}

/* Notes input bytes of the current line, to recognise `q` and /who. */
static void
client_note_line(struct client *c, const char *p, size_t len)
{
	for (size_t i = 0; i < len && c->line_len + i < CLIENT_LINE_HEAD; i++)
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

/* Whether the line just ended was the command /who. */
static int
client_line_is_who(const struct client *c)
{
	return c->line_len >= 4 && memcmp(c->line_head, "/who", 4) == 0 &&
	    (c->line_len == 4 || c->line_head[4] == ' ' ||
	        c->line_head[4] == '\r');
}

/* A deadline wait_ms from now, or never. */
static uint64_t
client_wait_deadline(const struct client *c)
{
	return c->opts->wait_ms > 0
	    ? clock_now_ms() + (uint64_t)c->opts->wait_ms
	    : CLIENT_NEVER;
}

/*
 * An input line has ended (its bytes queued): its newline, then what it
 * means: `q`, a wait for the answer, a command for the control socket.
 * 0, or -1 when memory ran out.
 */
static int
client_end_line(struct client *c, int bare)
{
	int quit = c->opts->mode == CLIENT_INTERACTIVE && !c->control &&
	    client_line_is_quit(c);
	int scripted = c->opts->mode == CLIENT_SCRIPTED && !c->control;

	/* Before the dialect is known, `q` goes bare, as the seed wants. */
	if (!bare && !(quit && c->dialect == CLIENT_DIALECT_AUTO) &&
	    client_queue(c, "\n", 1) == -1)
		return -1;
	if (client_line_is_who(c))
		c->who_pending = 1;
	if (c->control) {
		c->commands++;
		c->rx_at_command = c->rx_total;
	}
	if (quit) {
		c->quit = 1;
	} else if (scripted &&
	    (c->dialect == CLIENT_DIALECT_AUTO || (bare && c->line_len > 0))) {
		/*
		 * Bare lines would run together: each waits for the answer
		 * to the last.  Undecided, the next waits for the first.
		 */
		c->awaiting_reply = 1;
		c->reply_deadline_ms = client_wait_deadline(c);
		/* Even with no limit, silence turns into lines at last. */
		if (c->dialect == CLIENT_DIALECT_AUTO &&
		    c->reply_deadline_ms == CLIENT_NEVER)
			c->reply_deadline_ms =
			    clock_now_ms() + CLIENT_DEFAULT_WAIT_MS;
	}
	c->line_len = 0;
	return 0;
}

/*
 * Moves input into the queue for the server, up to where we must stop
 * for an answer (a script) or for good (`q`).  Bare, a CR that may
 * start a CRLF stays unless at_eof.  Returns the bytes taken.
 */
static size_t
client_take_input(struct client *c, const char *p, size_t len, int at_eof)
{
	size_t i = 0;

	while (i < len && !c->quit && !c->awaiting_reply && !c->done) {
		const char *lf = memchr(p + i, '\n', len - i);
		size_t end = lf ? (size_t)(lf - p) : len, body = end - i;
		size_t sent = body;
		int bare;

		/* A person answering what arrived: that settles it. */
		if (c->dialect == CLIENT_DIALECT_AUTO && c->rx_total > 0 &&
		    c->opts->mode == CLIENT_INTERACTIVE && c->line_len == 0)
			client_decide_now(c);
		bare = c->dialect == CLIENT_DIALECT_BARE;
		if (!bare) {
			/* Unchanged, newline added below: binary-safe. */
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
		if (client_end_line(c, bare) == -1)
			break;
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

/*
 * Whether more input is wanted now: only with nothing left to send, but
 * also while a line waits for an answer, to see the input end.
 */
static int
client_wants_input(const struct client *c)
{
	return c->opts->mode != CLIENT_ONE_SHOT && !c->in_eof && !c->quit &&
	    !c->tx_dead && c->out_len == 0 && c->in_len < sizeof(c->in_buf);
}

/* Whether all input is read and sent. */
static int
client_input_done(const struct client *c)
{
	return c->in_eof && c->in_len == 0 && c->out_len == 0;
}

/* ---- the session -------------------------------------------------- */

static uint64_t
client_min(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* A control socket fed from a pipe: has the last command's answer come? */
static int
client_control_answered(const struct client *c)
{
	return c->commands > 0 && c->rx_total > c->rx_at_command;
}

/* The earliest moment something must happen without any event. */
static uint64_t
client_next_deadline(const struct client *c, uint64_t oneshot_deadline)
{
	const struct client_options *o = c->opts;
	uint64_t t = CLIENT_NEVER, pause = c->last_rx_ms + CLIENT_PAUSE_MS;

	if (o->escape_output &&
	    (framing_pending(&c->display) > 0 || c->midline))
		t = pause;
	if (c->dialect == CLIENT_DIALECT_AUTO && c->rx_total > 0)
		t = client_min(t, pause);
	if (c->awaiting_reply)
		t = client_min(t, c->reply_deadline_ms);
	if (c->shut_wr)
		t = client_min(t, c->idle_deadline_ms);
	if (c->out_len > 0 && o->mode != CLIENT_INTERACTIVE && o->wait_ms > 0)
		t = client_min(t, c->tx_progress_ms + (uint64_t)o->wait_ms);
	if (c->control && o->mode != CLIENT_INTERACTIVE && c->in_done_ms) {
		if (o->wait_ms > 0)
			t = client_min(t, c->in_done_ms + (uint64_t)o->wait_ms);
		if (client_control_answered(c))
			t = client_min(
			    t, c->last_rx_ms + CLIENT_CONTROL_QUIET_MS);
	}
	if (o->mode == CLIENT_ONE_SHOT && !c->control) {
		t = client_min(t, oneshot_deadline);
		if (c->rx_total > 0)
			t = client_min(t, pause);
	}
	return t;
}

/* A control socket fed from a pipe: ends once answered and quiet. */
static void
client_check_control(struct client *c, uint64_t now)
{
	const struct client_options *o = c->opts;

	if (!client_input_done(c))
		return;
	if (c->in_done_ms == 0)
		c->in_done_ms = now;
	if (client_control_answered(c) &&
	    now >= c->last_rx_ms + CLIENT_CONTROL_QUIET_MS) {
		c->done = 1;
	} else if (o->wait_ms > 0 &&
	    now >= c->in_done_ms + (uint64_t)o->wait_ms) {
		if (c->commands > 0 && !client_control_answered(c))
			client_fail(c, "%s: no answer within %g s", c->peer,
			    client_seconds(o->wait_ms));
		else
			c->done = 1;
	}
}

/* Acts on the deadlines that have passed. */
static void
client_check_time(struct client *c, uint64_t oneshot_deadline)
{
	const struct client_options *o = c->opts;
	uint64_t now = clock_now_ms();
	int paused = c->rx_total > 0 && now >= c->last_rx_ms + CLIENT_PAUSE_MS;

	if (paused && o->escape_output &&
	    (c->midline || framing_pending(&c->display) > 0)) {
		/* A pause ends a message: finish its line on the terminal. */
		client_editing_hide(c);
		(void)client_flush_display(c, 1, 1);
		client_editing_show(c);
	}
	if (c->done)
		return;
	if (c->dialect == CLIENT_DIALECT_AUTO && paused)
		client_decide_now(c);
	if (c->out_len > 0 && o->mode != CLIENT_INTERACTIVE && o->wait_ms > 0 &&
	    now >= c->tx_progress_ms + (uint64_t)o->wait_ms) {
		client_fail(c, "%s: not reading what we send (stuck for %g s)",
		    c->peer, client_seconds(o->wait_ms));
		return;
	}
	if (c->control) {
		if (o->mode != CLIENT_INTERACTIVE)
			client_check_control(c, now);
		return;
	}
	if (o->mode == CLIENT_ONE_SHOT) {
		if (c->rx_total > 0 && (c->rx_ends_line || paused))
			c->done = 1;
		else if (now >= oneshot_deadline && c->rx_total == 0)
			client_fail(c, "%s: no reply within %g s", c->peer,
			    client_seconds(o->wait_ms));
		else if (now >= oneshot_deadline)
			client_fail(c,
			    "%s: reply not complete within %g s "
			    "(%" PRIu64 " bytes)",
			    c->peer, client_seconds(o->wait_ms), c->rx_total);
		return;
	}
	if (c->awaiting_reply && now >= c->reply_deadline_ms) {
		if (c->dialect == CLIENT_DIALECT_AUTO) {
			/* Silence is no dialect: lines, as most servers. */
			client_decide_now(c);
			return;
		}
		client_fail(c, "%s: no reply within %g s", c->peer,
		    client_seconds(o->wait_ms));
		return;
	}
	/* Half-closed and the server did not close in time: done. */
	if (c->shut_wr && now >= c->idle_deadline_ms)
		c->done = 1;
}

/* Half-closes once all input is sent: the server sees end of file. */
static void
client_maybe_shutdown(struct client *c)
{
	const struct client_options *o = c->opts;

	if (c->control || c->shut_wr || c->tx_dead || c->out_len > 0 ||
	    o->mode == CLIENT_ONE_SHOT)
		return;
	if (!c->quit && !(c->in_eof && c->in_len == 0))
		return;
	(void)transport_shutdown(&c->t);
	c->shut_wr = 1;
	client_verbose(c, 1,
	    "end of input after %" PRIu64 " bytes: half-closed", c->tx_total);
	if (c->quit) {
		c->idle_deadline_ms = clock_now_ms() + CLIENT_QUIT_LINGER_MS;
		return;
	}
	c->idle_deadline_ms = client_wait_deadline(c);
	if (o->mode != CLIENT_INTERACTIVE)
		return;
	/* Ctrl-D: say what happens now, or the user is left guessing. */
	if (o->wait_ms > 0)
		client_error(c,
		    "done sending; waiting for %s to close "
		    "(up to %g s of silence; Ctrl-C quits)",
		    c->peer, client_seconds(o->wait_ms));
	else
		client_error(c,
		    "done sending; waiting for %s to close (Ctrl-C quits)",
		    c->peer);
}

/* Formats host:port for messages, brackets around an IPv6 literal. */
static void
client_format_peer(struct client *c)
{
	const char *host = c->opts->host, *port = c->opts->port;

	if (c->control)
		snprintf(c->peer, sizeof(c->peer), "%s", c->opts->control_path);
	else if (strchr(host, ':') != NULL && host[0] != '[')
		snprintf(c->peer, sizeof(c->peer), "[%s]:%s", host, port);
	else
		snprintf(c->peer, sizeof(c->peer), "%s:%s", host, port);
}

/* Connects to the control socket.  The socket, or -1 with errno set. */
static int
client_connect_control(const char *path)
{
	struct sockaddr_un sun;
	int fd, save_errno;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path));
	/* Non-blocking: a full backlog is an error, not a hang. */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		save_errno = errno;
		close(fd);
		errno = save_errno;
		return -1;
	}
	return fd;
}

/*
 * The name the server's certificate must carry: --tls-servername, else
 * HOST (an IPv6 literal without its brackets, into buf).
 */
static const char *
client_tls_name(const struct client_options *o, char *buf, size_t size)
{
	if (o->tls_options.servername != NULL)
		return o->tls_options.servername;
	return net_unbracket(o->host, buf, size);
}

/*
 * Takes the TLS handshake to its end within the wait, or until stop_fd
 * is readable.  0, or -1 with the message given.
 */
static int
client_handshake(struct client *c)
{
	const struct client_options *o = c->opts;
	uint64_t began = clock_now_ns();
	char why[TLS_ERR_MAX];
	int rc = tls_handshake_wait(&c->t, o->wait_ms > 0 ? o->wait_ms : -1,
	    o->stop_fd, why, sizeof(why));

	if (rc == TLS_AGAIN) {
		/* A signal: main ends the program by it. */
		c->status = CLIENT_EXIT_ERROR;
		c->done = 1;
		return -1;
	}
	if (rc == TLS_FAILED) {
		client_fail(
		    c, "TLS handshake with %s failed: %s", c->peer, why);
		return -1;
	}
	client_verbose(c, 1, "%s over %s in %.1f ms%s", c->peer,
	    tls_version(&c->t), (double)(clock_now_ns() - began) / 1e6,
	    o->tls_options.insecure ? ", certificate not verified"
	                            : ", certificate verified");
	return 0;
}

/*
 * Makes the TLS context before anything is connected, so that a bad
 * file is reported without a connection.  0, or -1 (message given).
 */
static int
client_tls_setup(struct client *c)
{
	const struct client_options *o = c->opts;
	struct tls_client_options to = o->tls_options;
	char name[CLIENT_PEER_MAX], why[TLS_ERR_MAX];

	to.servername = client_tls_name(o, name, sizeof(name));
	if ((c->tls = tls_client_new(&to, why, sizeof(why))) == NULL) {
		client_fail(c, "%s", why);
		return -1;
	}
	if (to.insecure)
		client_error(c,
		    "warning: --tls-insecure: the certificate of %s is not "
		    "verified; anyone in the way can read and change the "
		    "conversation",
		    c->peer);
	return 0;
}

/* Starts TLS over the connected socket fd.  0, or -1 (message given). */
static int
client_start_tls(struct client *c, int fd)
{
	char why[TLS_ERR_MAX];

	if (tls_transport(&c->t, fd, c->tls, why, sizeof(why)) == -1) {
		close(fd);
		client_fail(c, "%s: %s", c->peer, why);
		return -1;
	}
	return client_handshake(c);
}

/* Connects within the wait.  0, or -1 with the message given. */
static int
client_connect(struct client *c)
{
	const struct client_options *o = c->opts;
	int fd, gai = 0, timeout = o->wait_ms > 0 ? o->wait_ms : -1;
	char local[NET_ADDRSTRLEN], remote[NET_ADDRSTRLEN];

	if (c->control) {
		if ((fd = client_connect_control(o->control_path)) == -1) {
			client_fail(c, "cannot attach to %s: %s", c->peer,
			    strerror(errno));
			return -1;
		}
		transport_plain(&c->t, fd);
		client_verbose(c, 1, "attached to %s in %.1f ms", c->peer,
		    client_elapsed_ms(c));
		return 0;
	}
	fd = net_connect_family(o->host, o->port, o->family, timeout, &gai);
	if (fd == -1) {
		if (gai == 0 && errno == ETIMEDOUT)
			client_fail(c,
			    "cannot connect to %s: timed out "
			    "after %g s",
			    c->peer, client_seconds(o->wait_ms));
		else
			client_fail(c, "cannot connect to %s: %s", c->peer,
			    net_strerror(gai, errno));
		return -1;
	}
	if (net_set_nonblock(fd, 1) == -1) {
		client_fail(c, "%s: %s", c->peer, strerror(errno));
		close(fd);
		return -1;
	}
	(void)net_set_nodelay(fd);
	if (o->verbose > 0 && net_peer_name(fd, remote, sizeof(remote)) == 0 &&
	    net_local_name(fd, local, sizeof(local)) == 0)
		client_verbose(c, 1, "connected to %s (%s) from %s in %.1f ms",
		    c->peer, remote, local, client_elapsed_ms(c));
	if (o->tls)
		return client_start_tls(c, fd);
	transport_plain(&c->t, fd);
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

	/* Bytes TLS has read and decrypted already: no wait for them. */
	if (transport_pending(&c->t) > 0)
		timeout = 0;
	sock_i = n;
	pfd[n++] = (struct pollfd){.fd = c->t.fd,
	    .events = transport_wants(&c->t, 0) |
	        (c->out_len > 0 ? transport_wants(&c->t, 1) : 0)};
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
	/*
	 * Either way may move the other (TLS): a ready socket tries both,
	 * each without blocking.
	 */
	if (pfd[sock_i].revents != 0 || transport_pending(&c->t) > 0)
		client_receive(c);
	if (!c->done && !c->server_closed && c->out_len > 0 &&
	    pfd[sock_i].revents != 0)
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
	else if (c->control && c->commands > 0 && !client_control_answered(c) &&
	    !client_refused(c))
		client_fail(
		    c, "%s closed the connection without an answer", c->peer);
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
		if (c->done || c->server_closed)
			break;
		if (c->control && c->opts->mode == CLIENT_INTERACTIVE &&
		    c->in_eof) {
			/* Ctrl-D at an operator's terminal: detach. */
			client_error(c, "detached from %s", c->peer);
			break;
		}
		client_maybe_shutdown(c);
		client_poll_once(c, oneshot_deadline);
		if (!c->done)
			client_check_time(c, oneshot_deadline);
	}
}

/* Queues the one-shot message: a line, or bare with --raw. */
static int
client_queue_message(struct client *c)
{
	const char *msg = c->opts->message ? c->opts->message : "";

	if (client_queue(c, msg, strlen(msg)) == -1 ||
	    (c->dialect != CLIENT_DIALECT_BARE &&
	        client_queue(c, "\n", 1) == -1))
		return -1;
	if (c->control) {
		/* A command, then the end: as a pipe of one line. */
		c->commands = 1;
		c->in_eof = 1;
	}
	return 0;
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
	c->t.fd = -1;
	c->status = CLIENT_EXIT_OK;
	c->start_ms = clock_now_ms();
	c->start_ns = clock_now_ns();
	c->control = opts->control_path != NULL;
	c->dialect = c->control ? CLIENT_DIALECT_LINES : opts->dialect;
	c->answer_refused = 1;
	/* Only a client that sends the password expects its prompt. */
	c->prompt_matched =
	    opts->password != NULL && !c->control ? 0 : SIZE_MAX;
	framing_init(&c->display, CLIENT_DISPLAY_MAX);
	client_format_peer(c);
	if (opts->escape_output &&
	    (c->rendered = malloc(ESCAPE_BOUND(CLIENT_DISPLAY_MAX) + 16)) ==
	        NULL) {
		client_fail(c, "out of memory");
		goto out;
	}
	if (opts->mode == CLIENT_ONE_SHOT && opts->wait_ms > 0)
		oneshot_deadline = c->start_ms + (uint64_t)opts->wait_ms;
	if (opts->tls && !c->control && client_tls_setup(c) == -1)
		goto out;
	if (client_connect(c) == -1)
		goto out;
	/* The password first, a line whatever the dialect. */
	if (c->prompt_matched == 0 &&
	    (client_queue(c, opts->password, strlen(opts->password)) == -1 ||
	        client_queue(c, "\n", 1) == -1))
		goto out;
	if (opts->mode == CLIENT_ONE_SHOT && client_queue_message(c) == -1)
		goto out;
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
	if (c->status == CLIENT_EXIT_OK && client_refused(c))
		c->status = CLIENT_EXIT_REFUSED;
	client_verbose(c, 1,
	    "sent %" PRIu64 " bytes, received %" PRIu64 " bytes in %.3f s%s",
	    c->tx_total, c->rx_total, client_elapsed_ms(c) / 1000.0,
	    c->status == CLIENT_EXIT_REFUSED ? " (refused)" : "");
	if (c->rx_total > 0)
		client_verbose(c, 1, "first bytes after %" PRIu64 " ms",
		    c->first_rx_ms - c->start_ms);
out:
	client_editing_stop(c);
	status = c->status;
	transport_close(&c->t);
	tls_context_unref(c->tls);
	framing_free(&c->display);
	free(c->rendered);
	free(c->out_buf);
	free(c);
	return status;
}
