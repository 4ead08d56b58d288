/*
 * console.h - the operator's console: a thread that owns the terminal.
 *
 * Any thread may print a line with console_print(); lines are queued
 * (bounded) and written whole by the console thread, so lines printed
 * for different clients never interleave and no session ever waits on
 * the operator's terminal.  The same thread reads the operator's input,
 * with readline or libedit when configured and the input is a terminal,
 * and hands each line to a callback.
 */
#ifndef TCPCHAT_CONSOLE_H
#define TCPCHAT_CONSOLE_H

#include <stddef.h>

struct console;

/* Called on the console thread for each input line (no newline). */
typedef void (*console_line_fn)(void *ctx, const char *line, size_t len);

/* Longest console input line, and most lines or bytes queued for output. */
#define CONSOLE_MAX_LINE 65536
#define CONSOLE_MAX_QUEUED_BYTES (4u << 20)

/*
 * A console writing to out_fd and, unless in_fd is -1, reading in_fd.
 * NULL when out of memory or descriptors (errno set).
 */
struct console *console_new(
    int in_fd, int out_fd, console_line_fn on_line, void *ctx);

/* Starts the console thread.  0, or an error number. */
int console_start(struct console *c);

/* Queues one line (a newline is added) for the console.  Never blocks. */
void console_print(struct console *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Sets the prompt shown when the input is a terminal. */
void console_set_prompt(struct console *c, const char *prompt);

/*
 * Writes what is still queued (within timeout_ms), restores the terminal
 * and ends the console thread.  Returns 0, or -1 if the thread is still
 * blocked writing after that (an output nobody reads): it is left
 * running, and c must not be freed.
 */
int console_stop(struct console *c, int timeout_ms);

/* Frees the console, unless its thread is still running (then nothing). */
void console_free(struct console *c);

#endif
