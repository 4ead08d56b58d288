/*
 * lineedit.h - the one terminal line editor that tcpchatd's console and
 * the tcpchat client share: GNU readline or libedit, whichever configure
 * chose, driven through its callback interface from the caller's own
 * poll loop.  Text printed while the user types goes between
 * lineedit_hide() and lineedit_show(), so the prompt and the half-typed
 * line are taken off the screen and put back below it, never garbled.
 *
 * readline keeps one global state: one editor per process at a time,
 * used from one thread.
 */
#ifndef TCPCHAT_LINEEDIT_H
#define TCPCHAT_LINEEDIT_H

#include <stddef.h>

/*
 * Called from lineedit_read() with each line typed (no newline; the
 * editor frees it after the call), or with NULL at end of input
 * (Ctrl-D on an empty line), after which the editor has stopped.
 */
typedef void (*lineedit_line_fn)(void *ctx, const char *line, size_t len);

/*
 * Completion: called with the word being completed, what stands before
 * it on the line, and state 0, 1, 2 ... for the next candidate; returns
 * a candidate (copied by the editor) or NULL when there are no more.
 */
typedef const char *(*lineedit_complete_fn)(
    void *ctx, const char *before, const char *word, int state);

/* Whether line editing was compiled in (readline or libedit). */
int lineedit_available(void);

/*
 * Takes over the terminal on standard input and output, showing prompt.
 * 0, or -1 when not compiled in or another editor is active.
 */
int lineedit_start(const char *prompt, lineedit_line_fn on_line, void *ctx);

/* Whether an editor is active. */
int lineedit_active(void);

/*
 * Completion candidates come from fn (NULL: none at all; file names are
 * never offered).
 */
void lineedit_set_completion(lineedit_complete_fn fn);

/* Standard input is readable: lets the editor take what was typed. */
void lineedit_read(void);

/* Takes the prompt and the half-typed line off the screen. */
void lineedit_hide(void);

/* Draws the prompt and the half-typed line again. */
void lineedit_show(void);

/* The prompt for the next lineedit_show() (or now, if shown). */
void lineedit_set_prompt(const char *prompt);

/* Gives the terminal back, the prompt line erased. */
void lineedit_stop(void);

/*
 * Ends the editor without touching the terminal at all: for a process
 * that is no longer in the terminal's foreground, where the modes now
 * belong to the shell.
 */
void lineedit_abandon(void);

#endif
