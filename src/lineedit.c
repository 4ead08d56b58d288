/* lineedit.c - the one terminal line editor (readline or libedit). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(HAVE_LIBEDIT)
#include <editline/readline.h>
#define LINEEDIT_BUILT 1
#elif defined(HAVE_READLINE)
#include <readline/history.h>
#include <readline/readline.h>
#define LINEEDIT_BUILT 1
#endif

#include "io.h"
#include "lineedit.h"

/* Erases the terminal line the cursor is on. */
#define LINEEDIT_ERASE "\r\033[K"

int
lineedit_available(void)
{
#ifdef LINEEDIT_BUILT
	return 1;
#else
	return 0;
#endif
}

#ifdef LINEEDIT_BUILT
/* readline's callbacks carry no context pointer: the active editor's. */
static struct {
	int active;
	int installed; /* readline's callback handler is in place */
	int hidden;
	lineedit_line_fn on_line;
	void *ctx;
	lineedit_complete_fn complete;
	char *line; /* typed, not yet handed on */
	int eof;
	char prompt[128];
#ifndef HAVE_LIBEDIT
	char *saved; /* the half-typed line while hidden */
	int point;
#endif
} lineedit;

static void
lineedit_on_line(char *line)
{
	if (line == NULL) {
		lineedit.eof = 1;
		/*
		 * Removed here, inside the handler, or readline prompts again
		 * at once and leaves a stray prompt behind.
		 */
		rl_callback_handler_remove();
		lineedit.installed = 0;
		return;
	}
	if (*line != '\0')
		add_history(line);
	free(lineedit.line);
	lineedit.line = line;
}

/* readline's generator, on top of the caller's. */
static char *
lineedit_generate(const char *word, int state)
{
	const char *before = rl_line_buffer != NULL ? rl_line_buffer : "";
	char prefix[256];
	size_t n = (size_t)rl_point;

	if (lineedit.complete == NULL)
		return NULL;
	/* What precedes the word: from the line's start to the word. */
	n = n >= strlen(word) ? n - strlen(word) : 0;
	if (n >= sizeof(prefix))
		n = sizeof(prefix) - 1;
	memcpy(prefix, before, n);
	prefix[n] = '\0';
	const char *c = lineedit.complete(lineedit.ctx, prefix, word, state);
	return c != NULL ? strdup(c) : NULL;
}

/* What readline falls back on when asked to complete: nothing. */
static char *
lineedit_no_files(const char *word, int state)
{
	(void)word;
	(void)state;
	return NULL;
}

static char **
lineedit_attempt(const char *word, int start, int end)
{
	(void)start;
	(void)end;
	/* Never fall back to file names. */
	rl_attempted_completion_over = 1;
	return rl_completion_matches(word, lineedit_generate);
}

#if defined(HAVE_LIBEDIT)
/*
 * Ctrl-D.  libedit's rl_callback_read_char drops the end of input that
 * Ctrl-D on an empty line means (newer libedits pass it on): the key is
 * ours instead.  On a line with text it does nothing (Delete deletes).
 */
static int
lineedit_ctrl_d(int count, int key)
{
	(void)count;
	(void)key;
	if (rl_end == 0) {
		lineedit.eof = 1;
		rl_done = 1; /* el_gets returns now */
	}
	return 0;
}
#endif

int
lineedit_start(const char *prompt, lineedit_line_fn on_line, void *ctx)
{
	if (lineedit.active)
		return -1;
	lineedit.active = 1;
	lineedit.hidden = 0;
	lineedit.on_line = on_line;
	lineedit.ctx = ctx;
	lineedit.eof = 0;
	snprintf(lineedit.prompt, sizeof(lineedit.prompt), "%s", prompt);
	rl_instream = stdin;
	rl_outstream = stdout;
	/* Signals are the caller's: readline must not catch them. */
	rl_catch_signals = 0;
	rl_catch_sigwinch = 0;
	rl_attempted_completion_function = lineedit_attempt;
	/* Never file names, whichever completion path is taken. */
	rl_completion_entry_function = lineedit_no_files;
#ifndef HAVE_LIBEDIT
	rl_bind_keyseq("\\e/", rl_complete); /* was complete-filename */
	rl_bind_keyseq("\\C-x/", rl_possible_completions);
	/*
	 * Bracketed paste makes readline end the line at Ctrl-D, so the
	 * prompt could not be erased: a pasted newline sends a line.
	 */
	rl_variable_bind("enable-bracketed-paste", "off");
#endif
	rl_callback_handler_install(lineedit.prompt, lineedit_on_line);
	lineedit.installed = 1;
#if defined(HAVE_LIBEDIT)
	rl_add_defun("tcpchat-end-of-input", lineedit_ctrl_d, 4);
#endif
	return 0;
}

int
lineedit_active(void)
{
	return lineedit.active;
}

void
lineedit_set_completion(lineedit_complete_fn fn)
{
	lineedit.complete = fn;
}

void
lineedit_read(void)
{
	if (!lineedit.active)
		return;
	rl_callback_read_char();
	/* Handed on here, outside readline: the callee may print. */
	if (lineedit.line != NULL) {
		char *line = lineedit.line;
		lineedit.line = NULL;
		lineedit.on_line(lineedit.ctx, line, strlen(line));
		free(line);
#if defined(HAVE_LIBEDIT)
		/*
		 * libedit leaves the terminal cooked until its next read:
		 * keys typed meanwhile (Ctrl-D above all) would go to the
		 * tty's own line discipline while we wait in poll.
		 */
		if (lineedit.active)
			rl_prep_terminal(1);
#endif
	}
	if (lineedit.eof && lineedit.active) {
		lineedit_stop();
		lineedit.on_line(lineedit.ctx, NULL, 0);
	}
}

void
lineedit_hide(void)
{
	if (!lineedit.active || lineedit.hidden)
		return;
	lineedit.hidden = 1;
	fflush(rl_outstream);
#if defined(HAVE_LIBEDIT)
	/* libedit cannot swap the line out: clear it, redraw it later. */
	(void)io_write_full(STDOUT_FILENO, LINEEDIT_ERASE, 4);
#else
	lineedit.saved = rl_copy_text(0, rl_end);
	lineedit.point = rl_point;
	rl_set_prompt("");
	rl_replace_line("", 0);
	rl_redisplay();
#endif
	fflush(rl_outstream);
}

void
lineedit_show(void)
{
	if (!lineedit.active)
		return;
	rl_set_prompt(lineedit.prompt);
#if defined(HAVE_LIBEDIT)
	/*
	 * libedit's redisplay shows a stale line and its buffer is not
	 * readable here: the prompt alone is drawn again, and what was half
	 * typed stays in the buffer, unseen.
	 */
	if (!lineedit.hidden)
		(void)io_write_full(STDOUT_FILENO, LINEEDIT_ERASE, 4);
	(void)io_write_full(
	    STDOUT_FILENO, lineedit.prompt, strlen(lineedit.prompt));
#else
	if (lineedit.hidden && lineedit.saved != NULL) {
		rl_replace_line(lineedit.saved, 0);
		rl_point = lineedit.point;
	}
	free(lineedit.saved);
	lineedit.saved = NULL;
	rl_forced_update_display();
#endif
	fflush(rl_outstream);
	lineedit.hidden = 0;
}

void
lineedit_set_prompt(const char *prompt)
{
	snprintf(lineedit.prompt, sizeof(lineedit.prompt), "%s", prompt);
}

/* The editor is off: what it held is let go. */
static void
lineedit_forget(void)
{
	lineedit.active = 0;
	lineedit.hidden = 0;
#ifndef HAVE_LIBEDIT
	free(lineedit.saved);
	lineedit.saved = NULL;
#endif
	free(lineedit.line);
	lineedit.line = NULL;
}

void
lineedit_stop(void)
{
	if (!lineedit.active)
		return;
	if (lineedit.installed)
		rl_callback_handler_remove();
	lineedit.installed = 0;
	/* readline's own output first, then the erase after it. */
	fflush(rl_outstream);
	(void)io_write_full(STDOUT_FILENO, LINEEDIT_ERASE, 4);
	lineedit_forget();
}

void
lineedit_abandon(void)
{
	if (!lineedit.active)
		return;
	/* Without its deprep hook, removing the handler restores no modes. */
	__typeof__(rl_deprep_term_function) deprep = rl_deprep_term_function;
	rl_deprep_term_function = NULL;
	rl_callback_handler_remove();
	rl_deprep_term_function = deprep;
	lineedit_forget();
}
#else
#if defined(HAVE_LIBEDIT)
/*
 * Ctrl-D.  libedit's rl_callback_read_char drops the end of input that
 * Ctrl-D on an empty line means (newer libedits pass it on): the key is
 * ours instead.  On a line with text it does nothing (Delete deletes).
 */
static int
lineedit_ctrl_d(int count, int key)
{
	(void)count;
	(void)key;
	if (rl_end == 0) {
		lineedit.eof = 1;
		rl_done = 1; /* el_gets returns now */
	}
	return 0;
}
#endif

int
lineedit_start(const char *prompt, lineedit_line_fn on_line, void *ctx)
{
	return -1;
}

int
lineedit_active(void)
{
	return 0;
}

void
lineedit_set_completion(lineedit_complete_fn fn)
{
}

void
lineedit_read(void)
{
}

void
lineedit_hide(void)
{
}

void
lineedit_show(void)
{
}

void
lineedit_set_prompt(const char *prompt)
{
}

void
lineedit_stop(void)
{
}

void
lineedit_abandon(void)
{
}
#endif
