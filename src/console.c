/*
 * console.c - the operators' consoles on one thread: the terminal (or a
 * pipe) on standard input and output, the control socket's operators,
 * and the operational log (syslog).  Each is an attachment with its own
 * bounded queue of shared, reference-counted lines.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "console.h"
#include "control.h"
#include "escape.h"
#include "framing.h"
#include "io.h"
#include "lineedit.h"

/* How often a terminal is looked at for a change of foreground. */
#define CONSOLE_FOREGROUND_MS 500
/* Lines formatted up to this size need no allocation to be formatted. */
#define CONSOLE_SMALL_LINE 512
/* Bytes read from one operator per turn, so none can starve the rest. */
#define CONSOLE_READ_CHUNK 4096
/* Operators accepted per turn. */
#define CONSOLE_ACCEPT_BURST 16
/* How long the lines printed after the thread ended get to go out. */
#define CONSOLE_LAST_FLUSH_MS 1000
#define CONSOLE_ERASE "\r\033[K"
#define CONSOLE_SLOTS (CONSOLE_MAX_OPERATORS + 2)

struct console_line {
	atomic_uint refs;
	unsigned to; /* CONSOLE_* audiences */
	int priority; /* syslog's */
	const struct console_att *only; /* an answer: for this one alone */
	size_t len; /* with its newline */
	char text[];
};

enum console_kind {
	CONSOLE_LOCAL, /* standard input and output */
	CONSOLE_CONTROL, /* an operator on the control socket */
	CONSOLE_LOG /* syslog */
};

struct console_att {
	struct console *c;
	enum console_kind kind;
	char name[64];
	int in_fd; /* -1: reads nothing */
	int out_fd; /* -1: syslog */
	int out_send; /* a socket: send(2), never raising SIGPIPE */
	int out_owned; /* out_fd is ours to close */
	size_t limit; /* bytes queued at most */
	void *op; /* the operator layer's state, or NULL */

	/* Under c->lock. */
	unsigned wants; /* CONSOLE_* lines it takes now */
	struct console_line **ring;
	size_t cap, head, count, bytes;
	uint64_t dropped; /* lines lost to a stalled output */
	int overflowed; /* a control operator too slow: to be detached */

	/* Console thread only. */
	size_t off; /* bytes of the first queued line already written */
	struct framing in;
	int discarding; /* dropping the rest of an overlong line */
	int reading;
	int ended; /* input ended: detached once its answers are out */
	int failed; /* output failed */
	char prompt[128];
	int prompt_changed;
};

struct console {
	struct console_config cfg;
	int wake[2]; /* wakes the console thread */
	pthread_t thread;
	int started;
	struct console_att *local; /* standard input and output */
	struct console_att *log; /* syslog, or NULL */
	atomic_uint wanted; /* audiences some attachment takes now */

	/* Console thread only (set up before it starts). */
	int in_tty; /* the input is a terminal */
	int tty; /* input and output are a terminal */
	int foreground; /* in the terminal's foreground process group */
	int editing; /* the line editor has the terminal */
	int prompt_shown; /* a plain terminal's prompt is on the screen */
	int closed; /* console_closing was acted on */
	unsigned serial; /* control operators so far */
	char fifo[PATH_MAX]; /* a named pipe's path: opened again at its end */

	pthread_mutex_t lock; /* guards atts, every queue, the flags below */
	struct console_att *atts[CONSOLE_SLOTS];
	size_t natts;
	int wake_pending;
	int recheck;
	int closing;
	int stopping;
	uint64_t stop_deadline;
};

/* ---- lines ----------------------------------------------------------- */

static void
console_unref(struct console_line *l)
{
	if (l != NULL && atomic_fetch_sub(&l->refs, 1) == 1)
		free(l);
}

/*
 * Formats and escapes one line (its newline added): the only way text
 * reaches an operator, so no raw control byte ever does.  NULL when out
 * of memory.
 */
static struct console_line *
console_format(unsigned to, int priority, const struct console_att *only,
    const char *fmt, va_list ap)
{
	char small[CONSOLE_SMALL_LINE], *raw = small;
	struct console_line *l, *shrunk;
	va_list ap2;
	int n;

	va_copy(ap2, ap);
	n = vsnprintf(small, sizeof(small), fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return NULL;
	if ((size_t)n >= sizeof(small)) {
		if ((raw = malloc((size_t)n + 1)) == NULL)
			return NULL;
		vsnprintf(raw, (size_t)n + 1, fmt, ap);
	}
	l = malloc(sizeof(*l) + ESCAPE_BOUND((size_t)n) + 1);
	if (l != NULL) {
		size_t m = escape_render(l->text, raw, (size_t)n);
		l->text[m] = '\n';
		l->len = m + 1;
		/* Escaping may have grown it four times: give back the rest. */
		if ((shrunk = realloc(l, sizeof(*l) + l->len)) != NULL)
			l = shrunk;
		atomic_init(&l->refs, 1);
		l->to = to;
		l->priority = priority;
		l->only = only;
	}
	if (raw != small)
		free(raw);
	return l;
}

/* Wakes the console thread; called with c->lock held. */
static void
console_wake_locked(struct console *c)
{
	if (c->wake_pending)
		return;
	c->wake_pending = 1;
	/* A full pipe is already a pending wake-up: the error is fine. */
	(void)!write(c->wake[1], "", 1);
}

/* Whether a takes l now; with c->lock held. */
static int
console_takes(const struct console_att *a, const struct console_line *l)
{
	if (a->overflowed)
		return 0;
	if (l->only != NULL)
		return l->only == a && (a->wants & CONSOLE_OPERATORS);
	return (l->to & a->wants) != 0;
}

/* Doubles a's ring, keeping its order.  0, or -1. */
static int
console_grow(struct console_att *a)
{
	size_t cap = a->cap ? a->cap * 2 : 16;
	struct console_line **ring;

	if (cap > CONSOLE_MAX_QUEUED_LINES)
		cap = CONSOLE_MAX_QUEUED_LINES;
	if (cap <= a->cap || (ring = malloc(cap * sizeof(*ring))) == NULL)
		return -1;
	for (size_t i = 0; i < a->count; i++)
		ring[i] = a->ring[(a->head + i) % a->cap];
	free(a->ring);
	a->ring = ring;
	a->cap = cap;
	a->head = 0;
	return 0;
}

/*
 * Queues l for a (a reference taken), with c->lock held.  Over a's
 * bound a control operator is marked too slow, to be detached; the
 * terminal's and syslog's lines are dropped and counted.
 */
static void
console_push(struct console *c, struct console_att *a, struct console_line *l)
{
	if (a->bytes + l->len > a->limit ||
	    (a->count == a->cap && console_grow(a) == -1)) {
		if (a->kind == CONSOLE_CONTROL)
			a->overflowed = 1;
		else
			a->dropped++;
		console_wake_locked(c);
		return;
	}
	a->ring[(a->head + a->count) % a->cap] = l;
	a->count++;
	a->bytes += l->len;
	atomic_fetch_add(&l->refs, 1);
	console_wake_locked(c);
}

/* The audiences someone takes; with c->lock held. */
static void
console_update_wanted_locked(struct console *c)
{
	unsigned wanted = 0;

	for (size_t i = 0; i < c->natts; i++)
		wanted |= c->atts[i]->wants;
	atomic_store(&c->wanted, wanted);
}

static void
console_set_wants(struct console *c, struct console_att *a, unsigned wants)
{
	pthread_mutex_lock(&c->lock);
	a->wants = wants;
	console_update_wanted_locked(c);
	pthread_mutex_unlock(&c->lock);
}

static void
console_vsend(struct console *c, unsigned to, int priority,
    const struct console_att *only, const char *fmt, va_list ap)
{
	struct console_line *l;

	/* Nobody to tell (no console, say): nothing formatted at all. */
	if (only == NULL && (atomic_load(&c->wanted) & to) == 0)
		return;
	if ((l = console_format(to, priority, only, fmt, ap)) == NULL) {
		pthread_mutex_lock(&c->lock);
		c->local->dropped++;
		pthread_mutex_unlock(&c->lock);
		return;
	}
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->natts; i++)
		if (console_takes(c->atts[i], l))
			console_push(c, c->atts[i], l);
	pthread_mutex_unlock(&c->lock);
	console_unref(l);
}

void
console_print(struct console *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	console_vsend(c, CONSOLE_OPERATORS, LOG_INFO, NULL, fmt, ap);
	va_end(ap);
}

void
console_log(struct console *c, int priority, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	console_vsend(c, CONSOLE_OPERATIONAL, priority, NULL, fmt, ap);
	va_end(ap);
}

void
console_send(struct console *c, unsigned to, int priority, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	console_vsend(c, to, priority, NULL, fmt, ap);
	va_end(ap);
}

void
console_reply(struct console_att *att, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	console_vsend(att->c, 0, LOG_INFO, att, fmt, ap);
	va_end(ap);
}

void
console_set_prompt(struct console_att *att, const char *prompt)
{
	if (strcmp(att->prompt, prompt) == 0)
		return;
	snprintf(att->prompt, sizeof(att->prompt), "%s", prompt);
	att->prompt_changed = 1;
}

const char *
console_att_name(const struct console_att *att)
{
	return att->name;
}

void
console_notify(struct console *c)
{
	pthread_mutex_lock(&c->lock);
	c->recheck = 1;
	console_wake_locked(c);
	pthread_mutex_unlock(&c->lock);
}

void
console_closing(struct console *c)
{
	pthread_mutex_lock(&c->lock);
	c->closing = 1;
	console_wake_locked(c);
	pthread_mutex_unlock(&c->lock);
}

/* ---- attachments ----------------------------------------------------- */

static struct console_att *
console_att_new(struct console *c, enum console_kind kind, size_t limit)
{
	struct console_att *a = calloc(1, sizeof(*a));

	if (a == NULL)
		return NULL;
	a->c = c;
	a->kind = kind;
	a->in_fd = -1;
	a->out_fd = -1;
	a->limit = limit;
	framing_init(&a->in, CONSOLE_MAX_LINE);
	return a;
}

/* Adds a to the list.  0, or -1 when it is full. */
static int
console_att_add(struct console *c, struct console_att *a, unsigned wants)
{
	int rc = -1;

	pthread_mutex_lock(&c->lock);
	if (c->natts < CONSOLE_SLOTS) {
		c->atts[c->natts++] = a;
		a->wants = wants;
		console_update_wanted_locked(c);
		rc = 0;
	}
	pthread_mutex_unlock(&c->lock);
	return rc;
}

/* Takes a off the list (if on it) and frees what it holds. */
static void
console_att_free(struct console *c, struct console_att *a)
{
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->natts; i++)
		if (c->atts[i] == a) {
			c->atts[i] = c->atts[--c->natts];
			break;
		}
	console_update_wanted_locked(c);
	pthread_mutex_unlock(&c->lock);
	for (size_t i = 0; i < a->count; i++)
		console_unref(a->ring[(a->head + i) % a->cap]);
	free(a->ring);
	framing_free(&a->in);
	if (a->op != NULL && c->cfg.cb->detach != NULL)
		c->cfg.cb->detach(a->op);
	if (a->kind == CONSOLE_CONTROL)
		close(a->in_fd);
	else if (a->out_owned)
		close(a->out_fd);
	free(a);
}

/*
 * Standard output as the console writes it: a pipe or terminal through
 * a description of its own opened non-blocking (so a stalled reader
 * never stops the console thread, and the shell's own description is
 * left as it was), a socket with send(2).  Files never stall.
 */
static void
console_local_output(struct console_att *a, int fd)
{
	struct stat st;
	char path[64];

	a->out_fd = fd;
	if (fd < 0 || fstat(fd, &st) == -1)
		return;
	if (S_ISSOCK(st.st_mode)) {
		a->out_send = 1;
	} else if (S_ISFIFO(st.st_mode) ||
	    (S_ISCHR(st.st_mode) && isatty(fd))) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		int own =
		    open(path, O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
		if (own != -1) {
			a->out_fd = own;
			a->out_owned = 1;
		}
	}
}

/*
 * Whether fd can be a console: a terminal (*tty set), a pipe, a file or
 * a socket.  /dev/null and other devices are no console.  A named pipe's
 * path goes to fifo (it is opened again at the end of each writer).
 */
static int
console_input_usable(int fd, int *tty, char *fifo, size_t size)
{
	struct stat st;
	char path[64];

	*tty = 0;
	fifo[0] = '\0';
	if (fd < 0 || fstat(fd, &st) == -1)
		return 0;
	if (isatty(fd)) {
		*tty = 1;
		return 1;
	}
	if (S_ISFIFO(st.st_mode)) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		ssize_t n = readlink(path, fifo, size - 1);
		/* An anonymous pipe reads "pipe:[N]": it can have no writer
		 * again. */
		fifo[n > 0 && fifo[0] == '/' ? n : 0] = '\0';
	}
	return S_ISFIFO(st.st_mode) || S_ISREG(st.st_mode) ||
	    S_ISSOCK(st.st_mode);
}

/* Whether this process may read the terminal on fd now. */
static int
console_in_foreground(int fd)
{
	pid_t pg = tcgetpgrp(fd);

	/* Not our controlling terminal: reading it stops nobody. */
	return pg == -1 || pg == getpgrp();
}

/* What standard output takes when it is no console. */
static unsigned
console_log_wants(const struct console *c)
{
	return c->cfg.use_syslog ? 0 : CONSOLE_STDOUT;
}

struct console *
console_new(const struct console_config *cfg)
{
	struct console *c = calloc(1, sizeof(*c));
	int usable;

	if (c == NULL)
		return NULL;
	c->cfg = *cfg;
	if (pipe2(c->wake, O_CLOEXEC | O_NONBLOCK) == -1) {
		free(c);
		return NULL;
	}
	pthread_mutex_init(&c->lock, NULL);
	/* On the list at once, so console_free frees whatever was made. */
	if ((c->local = console_att_new(
	         c, CONSOLE_LOCAL, CONSOLE_MAX_QUEUED_BYTES)) == NULL ||
	    console_att_add(c, c->local, 0) == -1 ||
	    (cfg->use_syslog &&
	        ((c->log = console_att_new(
	              c, CONSOLE_LOG, CONSOLE_MAX_QUEUED_BYTES)) == NULL ||
	            console_att_add(c, c->log, CONSOLE_SYSLOG) == -1))) {
		int save_errno = errno;
		console_free(c);
		errno = save_errno;
		return NULL;
	}
	snprintf(c->local->name, sizeof(c->local->name), "the console");
	snprintf(c->local->prompt, sizeof(c->local->prompt), "tcpchatd> ");
	if (c->log != NULL)
		snprintf(c->log->name, sizeof(c->log->name), "syslog");
	usable = console_input_usable(
	    cfg->in_fd, &c->in_tty, c->fifo, sizeof(c->fifo));
	c->local->in_fd = usable ? cfg->in_fd : -1;
	console_local_output(c->local, cfg->out_fd);
	c->tty = c->in_tty && isatty(cfg->out_fd);
	c->foreground = c->in_tty ? console_in_foreground(cfg->in_fd) : 1;
	console_set_wants(c, c->local,
	    usable && c->foreground ? CONSOLE_OPERATORS : console_log_wants(c));
	return c;
}

/* ---- writing --------------------------------------------------------- */

/* One write that never waits on a non-blocking output: bytes, 0, -1. */
static ssize_t
console_out(struct console_att *a, const char *buf, size_t len)
{
	ssize_t n;

	do {
		n = a->out_send
		    ? send(a->out_fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT)
		    : write(a->out_fd, buf, len);
	} while (n == -1 && errno == EINTR);
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	return n;
}

/* Whether a has lines waiting (or dropped ones to report). */
static int
console_pending(struct console_att *a)
{
	pthread_mutex_lock(&a->c->lock);
	int pending = a->count > 0 || a->dropped > 0;
	pthread_mutex_unlock(&a->c->lock);
	return pending;
}

/* Queues the notice that lines were dropped, with c->lock held. */
static void
console_report_dropped_locked(struct console *c, struct console_att *a)
{
	struct console_line *l = malloc(sizeof(*l) + 96);

	if (l == NULL)
		return;
	int n = snprintf(l->text, 96,
	    "tcpchatd: %llu console lines dropped (output stalled)\n",
	    (unsigned long long)a->dropped);
	atomic_init(&l->refs, 1);
	l->to = CONSOLE_OPERATIONAL;
	l->priority = LOG_WARNING;
	l->only = a;
	l->len = (size_t)n;
	a->dropped = 0;
	console_push(c, a, l);
	console_unref(l);
}

/*
 * Writes what a has queued, as far as its output takes it.  1 when all
 * is out, 0 when the output is full, -1 when it failed (a->failed); 2,
 * with upto_closing, before the first line taken once shutdown began
 * (the lines shutdown prints come after its flag is set, so under the
 * same lock the flag is seen first).
 */
static int
console_flush_upto(struct console_att *a, int upto_closing)
{
	struct console *c = a->c;

	for (;;) {
		pthread_mutex_lock(&c->lock);
		if (a->count == 0 && a->dropped > 0)
			console_report_dropped_locked(c, a);
		struct console_line *l = a->count > 0 ? a->ring[a->head] : NULL;
		int closing = c->closing || c->stopping;
		pthread_mutex_unlock(&c->lock);
		if (l == NULL)
			return 1;
		if (upto_closing && closing && a->off == 0)
			return 2;
		if (a->kind == CONSOLE_LOG) {
			const char *text = l->text;
			size_t len = l->len - 1;
			/* syslog names the program itself. */
			if (len >= 10 && memcmp(text, "tcpchatd: ", 10) == 0)
				text += 10, len -= 10;
			syslog(l->priority, "%.*s", (int)len, text);
			a->off = l->len;
		} else {
			ssize_t n =
			    console_out(a, l->text + a->off, l->len - a->off);
			if (n == 0)
				return 0;
			if (n < 0) {
				a->failed = 1;
				return -1;
			}
			a->off += (size_t)n;
			if (a->off < l->len)
				continue;
		}
		pthread_mutex_lock(&c->lock);
		a->ring[a->head] = NULL;
		a->head = (a->head + 1) % a->cap;
		a->count--;
		a->bytes -= l->len;
		pthread_mutex_unlock(&c->lock);
		a->off = 0;
		console_unref(l);
	}
}

static int
console_flush(struct console_att *a)
{
	return console_flush_upto(a, 0);
}

/* Bytes straight to the terminal (prompt, erase), never waiting. */
static void
console_out_raw(struct console_att *a, const char *s)
{
	(void)console_out(a, s, strlen(s));
}

/* Whether the terminal shows a prompt (and so lines go around it). */
static int
console_decorated(const struct console *c)
{
	return c->tty && c->foreground && !c->closed && c->local->op != NULL &&
	    c->local->reading;
}

static void console_close_local(struct console *c);

/*
 * Writes the terminal's lines: the prompt (and the half-typed line, when
 * editing) is taken off the screen first and put back once all is out,
 * so incoming lines never garble it.
 */
static void
console_flush_local(struct console *c)
{
	struct console_att *a = c->local;
	int decorated = console_decorated(c), pending = console_pending(a);

	if (a->out_fd < 0 || a->failed ||
	    (!pending && !(decorated && a->prompt_changed)))
		return;
	if (decorated && c->editing) {
		lineedit_set_prompt(a->prompt);
		if (pending)
			lineedit_hide();
	} else if (decorated && pending && c->prompt_shown) {
		console_out_raw(a, CONSOLE_ERASE);
		c->prompt_shown = 0;
	}
	int rc = console_flush_upto(a, decorated);
	if (rc == 2) {
		/* Shutdown's lines: the prompt goes first, for good. */
		console_close_local(c);
		rc = console_flush(a);
		decorated = 0;
	}
	if (rc == -1) {
		/* Nobody reads standard output any more: stop queuing. */
		console_set_wants(c, a, 0);
		return;
	}
	if (!decorated || rc != 1)
		return;
	if (c->editing) {
		lineedit_show();
	} else {
		console_out_raw(a, a->prompt);
		c->prompt_shown = 1;
	}
	a->prompt_changed = 0;
}

/* ---- reading ----------------------------------------------------------- */

static void
console_too_long(struct console_att *a)
{
	console_reply(a,
	    "tcpchatd: console line too long (max %d bytes): ignored, "
	    "nothing sent",
	    CONSOLE_MAX_LINE);
}

/* Hands one input line of a's to the operator layer. */
static void
console_line(
    struct console *c, struct console_att *a, const char *msg, size_t len)
{
	if (a->op != NULL && c->cfg.cb->line != NULL)
		c->cfg.cb->line(a->op, msg, len);
}

/*
 * Feeds bytes read from a into its line assembler and hands on each
 * complete line.  A line over CONSOLE_MAX_LINE is rejected whole: what
 * was assembled is dropped, and so is the rest of it, up to its LF.
 */
static void
console_input(
    struct console *c, struct console_att *a, const char *buf, size_t len)
{
	const char *in = buf, *msg;
	size_t msglen;

	while (len > 0) {
		if (a->discarding) {
			const char *lf = memchr(in, '\n', len);
			if (lf == NULL)
				return;
			len -= (size_t)(lf + 1 - in);
			in = lf + 1;
			a->discarding = 0;
			continue;
		}
		int rc = framing_push(&a->in, &in, &len, &msg, &msglen);
		if (rc == FRAMING_COMPLETE) {
			console_line(c, a, msg, msglen);
		} else if (rc == FRAMING_TOO_LONG) {
			/* Nothing of the line was taken from in: skip to LF. */
			console_too_long(a);
			framing_free(&a->in);
			a->discarding = 1;
		} else {
			return;
		}
	}
}

/* The end of a's input: its last unterminated line, then the end. */
static void
console_input_end(struct console *c, struct console_att *a)
{
	const char *msg;
	size_t msglen;

	if (!a->discarding && framing_flush(&a->in, 1, &msg, &msglen))
		console_line(c, a, msg, msglen);
	framing_free(&a->in);
	a->discarding = 0;
}

/*
 * A named pipe's writer has gone: it is opened again, so the next
 * writer's lines are read too.  0, or -1.
 */
static int
console_reopen_fifo(struct console *c)
{
	int fd = open(c->fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd == -1)
		return -1;
	/* Same descriptor number: standard input stays standard input. */
	if (dup2(fd, c->local->in_fd) == -1) {
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* Reads the local console without the line editor. */
static void
console_read_local(struct console *c)
{
	struct console_att *a = c->local;
	char buf[CONSOLE_READ_CHUNK];
	ssize_t n = io_read_some(a->in_fd, buf, sizeof(buf));

	if (n > 0) {
		console_input(c, a, buf, (size_t)n);
		return;
	}
	if (n == -1 &&
	    (errno == EAGAIN || errno == EWOULDBLOCK ||
	        (errno == EIO && c->in_tty &&
	            !console_in_foreground(a->in_fd))))
		return; /* nothing, or sent to the background meanwhile */
	console_input_end(c, a);
	if (c->fifo[0] != '\0' && n == 0 && console_reopen_fifo(c) == 0)
		return;
	a->reading = 0;
	if (a->op != NULL && c->cfg.cb->end != NULL)
		c->cfg.cb->end(a->op, c->in_tty);
}

/* The line editor's callback: a typed line, or NULL at end of input. */
static void
console_on_edited(void *ctx, const char *line, size_t len)
{
	struct console *c = ctx;
	struct console_att *a = c->local;

	if (line == NULL) {
		c->editing = 0;
		a->reading = 0;
		if (a->op != NULL && c->cfg.cb->end != NULL)
			c->cfg.cb->end(a->op, 1);
	} else if (len > CONSOLE_MAX_LINE) {
		console_too_long(a);
	} else {
		console_line(c, a, line, len);
	}
}

/* The line editor's completion, the terminal operator's. */
static const char *
console_complete(void *ctx, const char *before, const char *word, int state)
{
	struct console *c = ctx;

	if (c->local->op == NULL || c->cfg.cb->complete == NULL)
		return NULL;
	return c->cfg.cb->complete(c->local->op, before, word, state);
}

/* The terminal is ours to read: the prompt, or the line editor. */
static void
console_enter_foreground(struct console *c)
{
	struct console_att *a = c->local;

	if (!console_decorated(c))
		return;
	if (c->editing) {
		lineedit_show();
		return;
	}
	if (lineedit_available() && a->in_fd == STDIN_FILENO &&
	    c->cfg.out_fd == STDOUT_FILENO) {
		lineedit_set_completion(console_complete);
		/* Starting it draws the prompt. */
		if (lineedit_start(a->prompt, console_on_edited, c) == 0) {
			c->editing = 1;
			a->prompt_changed = 0;
			return;
		}
	}
	console_out_raw(a, a->prompt);
	c->prompt_shown = 1;
	a->prompt_changed = 0;
}

/*
 * Follows the terminal into and out of the foreground: only there is
 * it read, has a prompt and shows every event; in the background it is
 * never touched but for operational lines.
 */
static void
console_check_foreground(struct console *c)
{
	struct console_att *a = c->local;
	int fg;

	if (!c->in_tty || a->in_fd < 0)
		return;
	fg = console_in_foreground(a->in_fd);
	if (fg == c->foreground)
		return;
	c->foreground = fg;
	console_set_wants(c, a, fg ? CONSOLE_OPERATORS : console_log_wants(c));
	if (fg)
		console_enter_foreground(c);
}

/* Shutdown began: the prompt goes, for good. */
static void
console_close_local(struct console *c)
{
	c->closed = 1;
	if (c->editing) {
		/* In the background the terminal's modes are the shell's. */
		if (c->foreground)
			lineedit_stop();
		else
			lineedit_abandon();
		c->editing = 0;
	} else if (c->prompt_shown) {
		console_out_raw(c->local, CONSOLE_ERASE);
		c->prompt_shown = 0;
	}
}

/* ---- control operators ----------------------------------------------- */

/* Attaches the operator that connected on fd. */
static void
console_attach_control(struct console *c, const struct control_peer *p)
{
	struct console_att *a =
	    console_att_new(c, CONSOLE_CONTROL, CONSOLE_OPERATOR_MAX_QUEUE);

	if (a == NULL || console_att_add(c, a, CONSOLE_OPERATORS) == -1) {
		static const char full[] =
		    "tcpchatd: error: too many operators attached\n";
		(void)!send(
		    p->fd, full, sizeof(full) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		close(p->fd);
		free(a);
		console_log(c, LOG_WARNING,
		    "tcpchatd: control socket: uid %u turned away: too many "
		    "operators attached (max %d)",
		    (unsigned)p->uid, CONSOLE_MAX_OPERATORS);
		return;
	}
	a->in_fd = a->out_fd = p->fd;
	a->out_send = 1;
	a->reading = 1;
	snprintf(a->name, sizeof(a->name), "control #%u (uid %u)", ++c->serial,
	    (unsigned)p->uid);
	if (c->cfg.cb->attach != NULL)
		a->op = c->cfg.cb->attach(c->cfg.ctx, a);
	if (a->op == NULL) {
		console_att_free(c, a);
		return;
	}
	console_log(c, LOG_INFO, "tcpchatd: operator attached: %s", a->name);
}

static void
console_accept(struct console *c)
{
	struct control ctl = {.fd = c->cfg.control_fd};
	struct control_peer p;

	for (int i = 0; i < CONSOLE_ACCEPT_BURST; i++) {
		int rc = control_accept(&ctl, &p);
		if (rc == 0)
			return;
		if (rc == 1)
			console_attach_control(c, &p);
		else
			console_log(c, LOG_WARNING,
			    "tcpchatd: control socket: uid %u (pid %d) refused: "
			    "permission denied",
			    (unsigned)p.uid, (int)p.pid);
	}
}

/* Reads what a control operator sent; its end detaches it. */
static void
console_read_control(struct console *c, struct console_att *a)
{
	char buf[CONSOLE_READ_CHUNK];
	ssize_t n;

	do
		n = recv(a->in_fd, buf, sizeof(buf), MSG_DONTWAIT);
	while (n == -1 && errno == EINTR);
	if (n > 0) {
		console_input(c, a, buf, (size_t)n);
		return;
	}
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return;
	console_input_end(c, a);
	/* Its answers still go out; nothing new is queued for it. */
	a->reading = 0;
	a->ended = 1;
	console_set_wants(c, a, 0);
}

/*
 * Detaches control operators that are done: ended and answered, failed,
 * or too slow.  The others hear of it.
 */
static void
console_reap(struct console *c, int stopping)
{
	for (size_t i = 0; i < c->natts; i++) {
		struct console_att *a = c->atts[i];
		char name[sizeof(a->name)];
		size_t queued;
		if (a->kind != CONSOLE_CONTROL)
			continue;
		pthread_mutex_lock(&c->lock);
		int overflowed = a->overflowed;
		queued = a->bytes;
		int drained = a->count == 0;
		pthread_mutex_unlock(&c->lock);
		if (!overflowed && !a->failed && !(a->ended && drained))
			continue;
		snprintf(name, sizeof(name), "%s", a->name);
		if (overflowed) {
			static const char slow[] =
			    "tcpchatd: error: too slow, detached\n";
			(void)!send(a->out_fd, slow, sizeof(slow) - 1,
			    MSG_NOSIGNAL | MSG_DONTWAIT);
		}
		console_att_free(c, a);
		i--; /* the last one took its slot */
		if (stopping)
			continue;
		if (overflowed)
			console_log(c, LOG_WARNING,
			    "tcpchatd: operator %s too slow, detached (%zu "
			    "bytes unread)",
			    name, queued);
		else
			console_log(c, LOG_INFO,
			    "tcpchatd: operator %s detached", name);
	}
}

/* ---- the console thread -------------------------------------------------- */

/* Runs the rechecks console_notify asked for. */
static void
console_recheck(struct console *c)
{
	pthread_mutex_lock(&c->lock);
	int recheck = c->recheck;
	c->recheck = 0;
	pthread_mutex_unlock(&c->lock);
	if (!recheck || c->cfg.cb->recheck == NULL)
		return;
	/* Only this thread changes the list: it may be walked unlocked. */
	for (size_t i = 0; i < c->natts; i++)
		if (c->atts[i]->op != NULL)
			c->cfg.cb->recheck(c->atts[i]->op);
}

/* Everything written (or past hope): what stopping waits for. */
static int
console_drained(struct console *c)
{
	int drained = 1;

	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->natts; i++) {
		struct console_att *a = c->atts[i];
		if (a->count > 0 && !a->failed && a->out_fd >= 0)
			drained = 0;
	}
	pthread_mutex_unlock(&c->lock);
	return drained;
}

/* Empties the wake-up pipe and takes the flags the others set. */
static void
console_take_flags(struct console *c, int *closing, int *stopping)
{
	char buf[64];

	/*
	 * The pipe is emptied first: a line queued after the lock is
	 * released writes a fresh byte (wake_pending is clear by then), so
	 * its wake-up cannot be drained here and lost.
	 */
	while (read(c->wake[0], buf, sizeof(buf)) > 0)
		continue;
	pthread_mutex_lock(&c->lock);
	c->wake_pending = 0;
	*closing = c->closing || c->stopping;
	*stopping = c->stopping;
	pthread_mutex_unlock(&c->lock);
}

/* Whether the operators' input is still taken: not once shutdown began. */
static int
console_taking(const struct console *c, int closing)
{
	(void)c;
	return !closing;
}

/* One turn: waits for input, output room, operators or a wake-up. */
static int
console_turn(struct console *c)
{
	struct pollfd pfd[CONSOLE_SLOTS + 2];
	struct console_att *who[CONSOLE_SLOTS + 2];
	struct console_att *a = c->local;
	int n = 0, timeout = -1, closing, stopping;

	/*
	 * Only looked at here: the wake-up pipe is emptied after the poll,
	 * so a wake-up that comes now still ends it.
	 */
	pthread_mutex_lock(&c->lock);
	closing = c->closing || c->stopping;
	stopping = c->stopping;
	pthread_mutex_unlock(&c->lock);
	pfd[n] = (struct pollfd){.fd = c->wake[0], .events = POLLIN};
	who[n++] = NULL;
	if (a->reading && a->in_fd >= 0 && c->foreground &&
	    console_taking(c, closing)) {
		pfd[n] = (struct pollfd){.fd = a->in_fd, .events = POLLIN};
		who[n++] = a;
	}
	if (c->cfg.control_fd != -1 && !closing) {
		pfd[n] =
		    (struct pollfd){.fd = c->cfg.control_fd, .events = POLLIN};
		who[n++] = NULL;
	}
	for (size_t i = 0; i < c->natts; i++) {
		struct console_att *o = c->atts[i];
		short ev = 0;
		if (o->kind != CONSOLE_CONTROL && o != a)
			continue;
		if (o->kind == CONSOLE_CONTROL && o->reading &&
		    console_taking(c, closing))
			ev |= POLLIN;
		if (o->out_fd >= 0 && !o->failed && console_pending(o) &&
		    (o->out_send || o->out_owned))
			ev |= POLLOUT;
		if (ev == 0)
			continue;
		pfd[n] = (struct pollfd){.fd = o->out_fd, .events = ev};
		who[n++] = o;
	}
	if (c->in_tty && !c->closed)
		timeout = CONSOLE_FOREGROUND_MS;
	if (stopping) {
		pthread_mutex_lock(&c->lock);
		timeout = clock_ms_until(c->stop_deadline);
		pthread_mutex_unlock(&c->lock);
		if (timeout > 50)
			timeout = 50;
	}
	if (poll(pfd, (nfds_t)n, timeout) == -1 && errno != EINTR)
		return -1;
	console_take_flags(c, &closing, &stopping);
	if (closing && !c->closed)
		console_close_local(c);
	console_check_foreground(c);
	console_recheck(c);
	for (int i = 1; i < n; i++) {
		if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) ||
		    !console_taking(c, closing))
			continue;
		if (who[i] == NULL)
			console_accept(c);
		else if (who[i] == a && pfd[i].fd == a->in_fd && !c->foreground)
			continue; /* sent to the background meanwhile */
		else if (who[i] == a && pfd[i].fd == a->in_fd && c->editing)
			lineedit_read();
		else if (who[i] == a && pfd[i].fd == a->in_fd)
			console_read_local(c);
		else if (who[i] != a && who[i]->reading)
			console_read_control(c, who[i]);
	}
	console_flush_local(c);
	for (size_t i = 0; i < c->natts; i++)
		if (c->atts[i] != a)
			(void)console_flush(c->atts[i]);
	console_reap(c, stopping);
	if (!stopping)
		return 0;
	pthread_mutex_lock(&c->lock);
	int late = clock_now_ms() >= c->stop_deadline;
	pthread_mutex_unlock(&c->lock);
	return late || console_drained(c) ? 1 : 0;
}

static void *
console_main(void *arg)
{
	struct console *c = arg;
	struct console_att *a = c->local;

	if (c->log != NULL)
		openlog("tcpchatd", LOG_PID, LOG_DAEMON);
	if (a->in_fd >= 0) {
		if (c->cfg.cb->attach != NULL)
			a->op = c->cfg.cb->attach(c->cfg.ctx, a);
		a->reading = 1;
	}
	if (c->in_tty && c->foreground)
		console_enter_foreground(c);
	while (console_turn(c) == 0)
		continue;
	if (!c->closed)
		console_close_local(c);
	/* Every control operator goes; standard output stays for the last
	 * lines. */
	for (size_t i = 0; i < c->natts; i++)
		if (c->atts[i]->kind == CONSOLE_CONTROL)
			console_att_free(c, c->atts[i--]);
	if (a->op != NULL && c->cfg.cb->detach != NULL)
		c->cfg.cb->detach(a->op);
	a->op = NULL;
	a->reading = 0;
	return NULL;
}

int
console_start(struct console *c)
{
	int rc = pthread_create(&c->thread, NULL, console_main, c);

	if (rc == 0)
		c->started = 1;
	return rc;
}

int
console_stop(struct console *c, int timeout_ms)
{
	struct timespec deadline;

	if (!c->started)
		return 0;
	pthread_mutex_lock(&c->lock);
	c->stopping = 1;
	c->stop_deadline = clock_now_ms() + (uint64_t)timeout_ms;
	console_wake_locked(c);
	pthread_mutex_unlock(&c->lock);
	/* A terminal nobody reads must not keep the server from exiting. */
	deadline = clock_deadline_ms(CLOCK_REALTIME, timeout_ms + 1000);
	if (pthread_timedjoin_np(c->thread, NULL, &deadline) != 0)
		return -1;
	c->started = 0;
	/* Lines printed after the thread ended still go out (a while). */
	uint64_t until = clock_now_ms() + CONSOLE_LAST_FLUSH_MS;
	struct console_att *a = c->local;
	while (a->out_fd >= 0 && console_flush(a) == 0 &&
	    clock_ms_until(until) > 0) {
		struct pollfd pfd = {.fd = a->out_fd, .events = POLLOUT};
		(void)poll(&pfd, 1, clock_ms_until(until));
	}
	if (c->log != NULL) {
		(void)console_flush(c->log);
		closelog();
	}
	return 0;
}

void
console_free(struct console *c)
{
	/*
	 * A console thread still blocked on a terminal nobody reads (see
	 * console_stop) may use c: it is left to process exit.
	 */
	if (c == NULL || c->started)
		return;
	while (c->natts > 0)
		console_att_free(c, c->atts[c->natts - 1]);
	close(c->wake[0]);
	close(c->wake[1]);
	pthread_mutex_destroy(&c->lock);
	free(c);
}
