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

#if defined(HAVE_LIBEDIT)
#include <editline/readline.h>
#define CONSOLE_LINE_EDITING 1
#elif defined(HAVE_READLINE)
#include <readline/history.h>
#include <readline/readline.h>
#define CONSOLE_LINE_EDITING 1
#endif

#include "clock.h"
#include "console.h"
#include "framing.h"
#include "io.h"

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

	pthread_mutex_t lock; /* guards everything below */
	struct console_line *head, *tail;
	size_t queued_bytes;
	uint64_t dropped; /* lines lost to a stalled terminal */
	int wake_pending;
	int stopping;
	char prompt[128];
	int prompt_changed;
};

#ifdef CONSOLE_LINE_EDITING
/* readline's callback API has no context pointer: one console at a time. */
static struct console *console_rl_owner;
static char *console_rl_line;
static int console_rl_eof;

static void
console_rl_on_line(char *line)
{
	if (line == NULL) {
		console_rl_eof = 1;
		return;
	}
	if (*line != '\0')
		add_history(line);
	console_rl_line = line;
}
#endif

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

/*
 * Writes every queued line.  With line editing active, the half-typed
 * line is taken off the screen first and put back after, so incoming
 * lines never garble it.
 */
static void
console_write_queued(struct console *c, int editing)
{
	struct console_line *list, *l;
	uint64_t dropped;
	char buf[64], prompt[128];
	int prompt_changed;

	/*
	 * Empty the wake-up pipe before taking the lines: a line queued
	 * after the lock is released writes a fresh byte (wake_pending is
	 * clear by then), so its wake-up cannot be drained here and lost.
	 */
	while (read(c->wake[0], buf, sizeof(buf)) > 0)
		continue;
	pthread_mutex_lock(&c->lock);
	list = c->head;
	c->head = c->tail = NULL;
	c->queued_bytes = 0;
	dropped = c->dropped;
	c->dropped = 0;
	c->wake_pending = 0;
	prompt_changed = c->prompt_changed;
	c->prompt_changed = 0;
	memcpy(prompt, c->prompt, sizeof(prompt));
	pthread_mutex_unlock(&c->lock);
	if (list == NULL && dropped == 0 && !prompt_changed)
		return;

#if defined(HAVE_LIBEDIT)
	/* libedit cannot swap the line out: clear it, then redraw it whole. */
	if (editing && (list != NULL || dropped))
		io_write_full(c->out_fd, "\r\033[K", 4);
#elif defined(CONSOLE_LINE_EDITING)
	char *saved = NULL;
	int point = 0;
	if (editing && (list != NULL || dropped)) {
		saved = rl_copy_text(0, rl_end);
		point = rl_point;
		rl_set_prompt("");
		rl_replace_line("", 0);
		rl_redisplay();
	}
#else
	(void)editing;
#endif
	if (!editing && c->tty && (list != NULL || dropped))
		io_write_full(c->out_fd, "\r\033[K", 4);
	for (l = list; l != NULL; l = list) {
		list = l->next;
		io_write_full(c->out_fd, l->text, l->len);
		free(l);
	}
	if (dropped) {
		int n = snprintf(buf, sizeof(buf),
		    "tcpchatd: %llu console lines dropped (output stalled)\n",
		    (unsigned long long)dropped);
		io_write_full(c->out_fd, buf, (size_t)n);
	}
#if defined(HAVE_LIBEDIT)
	if (editing) {
		rl_set_prompt(prompt);
		/*
		 * libedit's redisplay shows a stale line and its buffer is
		 * not readable here: the prompt alone is drawn again, and
		 * what was half typed stays in the buffer, unseen.
		 */
		io_write_full(c->out_fd, prompt, strlen(prompt));
		return;
	}
#elif defined(CONSOLE_LINE_EDITING)
	if (editing) {
		rl_set_prompt(prompt);
		if (saved != NULL) {
			rl_replace_line(saved, 0);
			rl_point = point;
			free(saved);
		}
		rl_forced_update_display();
		return;
	}
#endif
	if (c->tty)
		io_write_full(c->out_fd, prompt, strlen(prompt));
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

static void *
console_main(void *arg)
{
	struct console *c = arg;
	struct framing f;
	int reading = c->in_fd >= 0, editing = 0;

	framing_init(&f, CONSOLE_MAX_LINE);
#ifdef CONSOLE_LINE_EDITING
	if (reading && c->tty && console_rl_owner == NULL) {
		console_rl_owner = c;
		rl_catch_signals = 0;
		rl_catch_sigwinch = 0;
		rl_callback_handler_install(c->prompt, console_rl_on_line);
		/* Installing it drew the prompt already. */
		pthread_mutex_lock(&c->lock);
		c->prompt_changed = 0;
		pthread_mutex_unlock(&c->lock);
		editing = 1;
	}
#endif
	if (c->tty && !editing)
		io_write_full(c->out_fd, c->prompt, strlen(c->prompt));
	for (;;) {
		struct pollfd pfd[2] = {
		    {.fd = c->wake[0], .events = POLLIN},
		    {.fd = reading ? c->in_fd : -1, .events = POLLIN},
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
#ifdef CONSOLE_LINE_EDITING
		if (editing) {
			rl_callback_read_char();
			if (console_rl_line != NULL) {
				char *line = console_rl_line;
				console_rl_line = NULL;
				c->on_line(c->ctx, line, strlen(line));
				free(line);
			}
			if (console_rl_eof) {
				rl_callback_handler_remove();
				editing = 0;
				reading = 0;
			}
			continue;
		}
#endif
		if (!console_read_plain(c, &f))
			reading = 0;
	}
#ifdef CONSOLE_LINE_EDITING
	if (editing) {
		rl_callback_handler_remove();
		io_write_full(c->out_fd, "\n", 1);
	}
	if (console_rl_owner == c)
		console_rl_owner = NULL;
#endif
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
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += timeout_ms / 1000 + 1;
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
