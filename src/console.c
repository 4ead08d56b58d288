/* console.c - the operator's console: a thread that owns the terminal. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "console.h"
#include "framing.h"
#include "io.h"
#include "lineedit.h"

struct console_line {
	struct console_line *next;
	size_t len;
	char text[];
};

struct console {
	int in_fd;
	int out_fd;
	int wake[2]; /* wakes the console thread */
	int tty; /* input and output are a terminal */
	console_line_fn on_line;
	void *ctx;
	pthread_t thread;
	int started;
	int reading; /* console thread only: input still open */

	pthread_mutex_t lock; /* guards everything below */
	struct console_line *head, *tail;
	size_t queued_bytes;
	uint64_t dropped; /* lines lost to a stalled terminal */
	int wake_pending;
	int stopping;
	char prompt[128];
	int prompt_changed;
};

struct console *
console_new(int in_fd, int out_fd, console_line_fn on_line, void *ctx)
{
	struct console *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	if (pipe2(c->wake, O_CLOEXEC | O_NONBLOCK) == -1) {
		free(c);
		return NULL;
	}
	c->in_fd = in_fd;
	c->out_fd = out_fd;
	c->tty = in_fd >= 0 && isatty(in_fd) && isatty(out_fd);
	c->on_line = on_line;
	c->ctx = ctx;
	pthread_mutex_init(&c->lock, NULL);
	return c;
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

static void
console_vprint(struct console *c, const char *fmt, va_list ap)
{
	char small[512];
	va_list ap2;
	int n;

	va_copy(ap2, ap);
	n = vsnprintf(small, sizeof(small), fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return;
	struct console_line *l = malloc(sizeof(*l) + (size_t)n + 2);
	if (l == NULL)
		goto dropped;
	if ((size_t)n < sizeof(small))
		memcpy(l->text, small, (size_t)n + 1);
	else
		vsnprintf(l->text, (size_t)n + 1, fmt, ap);
	l->text[n] = '\n';
	l->len = (size_t)n + 1;
	l->next = NULL;

	pthread_mutex_lock(&c->lock);
	if (c->queued_bytes + l->len > CONSOLE_MAX_QUEUED_BYTES) {
		c->dropped++;
		pthread_mutex_unlock(&c->lock);
		free(l);
		return;
	}
	if (c->tail)
		c->tail->next = l;
	else
		c->head = l;
	c->tail = l;
	c->queued_bytes += l->len;
	console_wake_locked(c);
	pthread_mutex_unlock(&c->lock);
	return;
dropped:
	pthread_mutex_lock(&c->lock);
	c->dropped++;
	pthread_mutex_unlock(&c->lock);
}

void
console_print(struct console *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	console_vprint(c, fmt, ap);
	va_end(ap);
}

void
console_set_prompt(struct console *c, const char *prompt)
{
	pthread_mutex_lock(&c->lock);
	if (strcmp(c->prompt, prompt) != 0) {
		snprintf(c->prompt, sizeof(c->prompt), "%s", prompt);
		c->prompt_changed = 1;
		console_wake_locked(c);
	}
	pthread_mutex_unlock(&c->lock);
}

/* What console_take_queued took from the queue, for the writer. */
struct console_batch {
	struct console_line *lines;
	uint64_t dropped;
	int prompt_changed;
	char prompt[128];
};

/*
 * Takes everything queued for output.  The wake-up pipe is emptied
 * first: a line queued after the lock is released writes a fresh byte
 * (wake_pending is clear by then), so its wake-up cannot be drained here
 * and lost.  Returns 0 when there is nothing to do.
 */
static int
console_take_queued(struct console *c, struct console_batch *b)
{
	char buf[64];

	while (read(c->wake[0], buf, sizeof(buf)) > 0)
		continue;
	pthread_mutex_lock(&c->lock);
	b->lines = c->head;
	c->head = c->tail = NULL;
	c->queued_bytes = 0;
	b->dropped = c->dropped;
	c->dropped = 0;
	c->wake_pending = 0;
	b->prompt_changed = c->prompt_changed;
	c->prompt_changed = 0;
	memcpy(b->prompt, c->prompt, sizeof(b->prompt));
	pthread_mutex_unlock(&c->lock);
	return b->lines != NULL || b->dropped != 0 || b->prompt_changed;
}

/* Writes the batch's lines (freeing them) and the count of dropped ones. */
static void
console_write_lines(struct console *c, struct console_batch *b)
{
	struct console_line *l;
	char buf[96];

	while ((l = b->lines) != NULL) {
		b->lines = l->next;
		io_write_full(c->out_fd, l->text, l->len);
		free(l);
	}
	if (b->dropped) {
		int n = snprintf(buf, sizeof(buf),
		    "tcpchatd: %llu console lines dropped (output stalled)\n",
		    (unsigned long long)b->dropped);
		io_write_full(c->out_fd, buf, (size_t)n);
	}
}

/*
 * Writes every queued line.  At a terminal the prompt (and, with line
 * editing, the half-typed line) is taken off the screen first and put
 * back after, so incoming lines never garble it.
 */
static void
console_write_queued(struct console *c, int editing)
{
	struct console_batch b;

	if (!console_take_queued(c, &b))
		return;
	int text = b.lines != NULL || b.dropped != 0;
	if (editing) {
		lineedit_set_prompt(b.prompt);
		if (text)
			lineedit_hide();
	} else if (c->tty && text) {
		io_write_full(c->out_fd, "\r\033[K", 4);
	}
	console_write_lines(c, &b);
	if (editing)
		lineedit_show();
	else if (c->tty)
		io_write_full(c->out_fd, b.prompt, strlen(b.prompt));
}

/* Reads what the plain reader can and hands complete lines on. 0 at EOF. */
static int
console_read_plain(struct console *c, struct framing *f)
{
	char buf[4096];
	const char *in = buf, *msg;
	size_t len, msglen;
	ssize_t n = io_read_some(c->in_fd, buf, sizeof(buf));
	int rc;

	if (n <= 0) {
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 1;
		if (framing_flush(f, 1, &msg, &msglen))
			c->on_line(c->ctx, msg, msglen);
		return 0;
	}
	len = (size_t)n;
	while ((rc = framing_push(f, &in, &len, &msg, &msglen)) ==
	    FRAMING_COMPLETE)
		c->on_line(c->ctx, msg, msglen);
	if (rc == FRAMING_TOO_LONG) {
		console_print(c,
		    "tcpchatd: console line too long (max %d "
		    "bytes), ignored",
		    CONSOLE_MAX_LINE);
		framing_free(f);
		framing_init(f, CONSOLE_MAX_LINE);
	}
	return 1;
}

/* The line editor's callback: a typed line, or NULL at end of input. */
static void
console_on_edited(void *ctx, const char *line, size_t len)
{
	struct console *c = ctx;

	if (line == NULL)
		c->reading = 0;
	else
		c->on_line(c->ctx, line, len);
}

/* Hands the terminal to the line editor.  1 if it took it. */
static int
console_editing_start(struct console *c)
{
	if (!c->reading || !c->tty || c->in_fd != STDIN_FILENO ||
	    c->out_fd != STDOUT_FILENO)
		return 0;
	pthread_mutex_lock(&c->lock);
	char prompt[sizeof(c->prompt)];
	memcpy(prompt, c->prompt, sizeof(prompt));
	/* Starting it draws the prompt. */
	c->prompt_changed = 0;
	pthread_mutex_unlock(&c->lock);
	return lineedit_start(prompt, console_on_edited, c) == 0;
}

static void *
console_main(void *arg)
{
	struct console *c = arg;
	struct framing f;
	int editing;

	framing_init(&f, CONSOLE_MAX_LINE);
	c->reading = c->in_fd >= 0;
	editing = console_editing_start(c);
	if (c->tty && !editing)
		io_write_full(c->out_fd, c->prompt, strlen(c->prompt));
	for (;;) {
		struct pollfd pfd[2] = {
		    {.fd = c->wake[0], .events = POLLIN},
		    {.fd = c->reading ? c->in_fd : -1, .events = POLLIN},
		};
		if (poll(pfd, 2, -1) == -1 && errno != EINTR)
			break;
		console_write_queued(c, editing);
		pthread_mutex_lock(&c->lock);
		int stopping = c->stopping;
		pthread_mutex_unlock(&c->lock);
		if (stopping)
			break;
		if (!(pfd[1].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		if (editing) {
			lineedit_read();
			editing = lineedit_active();
		} else if (!console_read_plain(c, &f)) {
			c->reading = 0;
		}
	}
	if (editing)
		lineedit_stop();
	framing_free(&f);
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
	c->wake_pending = 0;
	console_wake_locked(c);
	pthread_mutex_unlock(&c->lock);
	/* A terminal nobody reads must not keep the server from exiting. */
	deadline = clock_deadline_ms(CLOCK_REALTIME, timeout_ms + 1000);
	if (pthread_timedjoin_np(c->thread, NULL, &deadline) != 0)
		return -1;
	c->started = 0;
	/* Lines printed after the thread ended still go out. */
	console_write_queued(c, 0);
	return 0;
}

void
console_free(struct console *c)
{
	struct console_line *l;

	/*
	 * A console thread still blocked on a terminal nobody reads (see
	 * console_stop) may use c: it is left to process exit.
	 */
	if (c == NULL || c->started)
		return;
	while ((l = c->head) != NULL) {
		c->head = l->next;
		free(l);
	}
	close(c->wake[0]);
	close(c->wake[1]);
	pthread_mutex_destroy(&c->lock);
	free(c);
}
