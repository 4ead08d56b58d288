/*
 * console.h - tcpchatd's operator consoles: the terminal (or a pipe) and
 * every operator attached to the control socket, all served by one
 * thread, plus the operational log (standard output when there is no
 * console, syslog with --syslog).
 *
 * Any thread may print with console_print(): the line is formatted and
 * escaped once, then queued (by reference, bounded) for every operator;
 * it never waits for one.  A control operator whose queue is full is
 * detached, as a slow client is dropped; the terminal's lines are
 * dropped and counted instead.  The console thread reads each
 * operator's input and hands every line to the callbacks with that
 * operator's own state, so each has its own chosen client and prompt.
 *
 * The terminal is read only while tcpchatd is in its foreground process
 * group; in the background it is left alone (no SIGTTIN, no SIGTTOU,
 * its modes untouched) and gets operational events only, until brought
 * to the foreground.
 */
#ifndef TCPCHAT_CONSOLE_H
#define TCPCHAT_CONSOLE_H

#include <stddef.h>

struct console;
/* One operator attached: the terminal, a pipe or a control socket peer. */
struct console_att;

/* Who a line is for (console_send). */
#define CONSOLE_OPERATORS 1u /* every operator */
#define CONSOLE_STDOUT 2u /* standard output when it is no console */
#define CONSOLE_SYSLOG 4u /* syslog, with --syslog */
/* Operational events (listening, refusals, errors): everywhere. */
#define CONSOLE_OPERATIONAL                                                    \
	(CONSOLE_OPERATORS | CONSOLE_STDOUT | CONSOLE_SYSLOG)

/* Longest input line, and what may be queued for one operator. */
#define CONSOLE_MAX_LINE 65536
#define CONSOLE_MAX_QUEUED_BYTES (4u << 20) /* the terminal or pipe */
#define CONSOLE_OPERATOR_MAX_QUEUE (1u << 20) /* a control operator */
#define CONSOLE_MAX_QUEUED_LINES 65536
/* Control operators attached at once. */
#define CONSOLE_MAX_OPERATORS 64

/*
 * What the operator layer does; every callback runs on the console
 * thread.  op is what attach returned for that operator.
 */
struct console_callbacks {
	/* An operator attached: its state (NULL: refused for want of it). */
	void *(*attach)(void *ctx, struct console_att *att);
	/* One input line, no newline, at most CONSOLE_MAX_LINE bytes. */
	void (*line)(void *op, const char *line, size_t len);
	/* End of its input; terminal: it was the terminal console. */
	void (*end)(void *op, int terminal);
	/* console_notify() was called: look at the world again. */
	void (*recheck)(void *op);
	/* Tab completion at the terminal (lineedit_complete_fn's shape). */
	const char *(*complete)(
	    void *op, const char *before, const char *word, int state);
	/* It is gone: free op. */
	void (*detach)(void *op);
};

struct console_config {
	int in_fd; /* console input (terminal, pipe, file), -1 for none */
	int out_fd; /* standard output */
	int control_fd; /* a listening control socket, or -1 */
	int use_syslog; /* operational events to syslog (facility daemon) */
	const struct console_callbacks *cb;
	void *ctx; /* for cb->attach */
};

/*
 * A console as configured; the operator on in_fd attaches when it
 * starts.  NULL when out of memory or descriptors (errno set).
 */
struct console *console_new(const struct console_config *cfg);

/* Starts the console thread.  0, or an error number. */
int console_start(struct console *c);

/* An event for every operator (a newline is added).  Never blocks. */
void console_print(struct console *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * An operational event: for every operator, for standard output when
 * it is no console and (with --syslog) for syslog at priority (LOG_*).
 * Never message text.  Never blocks.
 */
void console_log(struct console *c, int priority, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A line for the audiences in to (CONSOLE_*).  Never blocks. */
void console_send(struct console *c, unsigned to, int priority, const char *fmt,
    ...) __attribute__((format(printf, 4, 5)));

/* An answer for one operator only (console thread). */
void console_reply(struct console_att *att, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Sets the operator's prompt, shown when it is the terminal. */
void console_set_prompt(struct console_att *att, const char *prompt);

/* Who the operator is: "the console", "control #2 (uid 1000)". */
const char *console_att_name(const struct console_att *att);

/* Asks every operator to recheck (from any thread): a client left. */
void console_notify(struct console *c);

/*
 * Shutdown began: no more commands are read, the prompt goes and is
 * never drawn again; what is printed still goes out.
 */
void console_closing(struct console *c);

/*
 * Writes what is still queued (within timeout_ms), restores the terminal,
 * detaches every operator and ends the console thread.  Returns 0, or -1
 * if the thread is still blocked writing after that (an output nobody
 * reads): it is left running, and c must not be freed.
 */
int console_stop(struct console *c, int timeout_ms);

/* Frees the console, unless its thread is still running (then nothing). */
void console_free(struct console *c);

#endif
