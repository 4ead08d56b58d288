/*
 * framing.h - a pure line assembler: bytes in, messages out.
 *
 * LF ends a message and a CR just before it is dropped.  Messages are
 * binary-safe (NUL bytes kept, lengths explicit) and never longer than
 * the maximum given at init, terminator excluded.  No syscalls.
 */
#ifndef TCPCHAT_FRAMING_H
#define TCPCHAT_FRAMING_H

#include <stddef.h>

enum framing_result {
	FRAMING_TOO_LONG = -1, /* the line passed the maximum */
	FRAMING_INCOMPLETE = 0, /* all input taken, no message yet */
	FRAMING_COMPLETE = 1 /* one message out */
};

struct framing {
	char *buf; /* bytes of the unfinished line */
	size_t len; /* bytes held in buf */
	size_t cap; /* bytes allocated for buf, at most max + 1 */
	size_t max; /* longest message accepted */
	size_t drop; /* bytes at the front of buf already handed out */
	int too_long; /* sticky: once too long, always too long */
};

/* Starts an empty assembler for messages of at most max bytes. */
void framing_init(struct framing *f, size_t max);

/* Frees what the assembler holds; it may be initialised again. */
void framing_free(struct framing *f);

/*
 * Takes bytes from *in (advancing *in and shrinking *inlen) until one
 * message is complete.  On FRAMING_COMPLETE, *msg and *msglen describe
 * it; they point either into the caller's input or into the assembler
 * and stay valid until the next call on f.  On FRAMING_INCOMPLETE all
 * input was taken.  On FRAMING_TOO_LONG nothing more is taken, now or
 * later: the line exceeded the maximum.  Returns -1 also when memory ran
 * out (then f->too_long is 0 and errno is ENOMEM).
 */
int framing_push(struct framing *f, const char **in, size_t *inlen,
    const char **msg, size_t *msglen);

/*
 * Hands out the pending unterminated bytes as one message, for a peer
 * that sends no newline (a trailing CR is dropped).  Unless force is set,
 * an unfinished UTF-8 character at the end stays pending, so a character
 * is never split.  Returns 1 with *msg and *msglen set (valid until the
 * next call on f), or 0 when there is nothing to hand out.
 */
int framing_flush(
    struct framing *f, int force, const char **msg, size_t *msglen);

/* Bytes held for the unfinished line. */
size_t framing_pending(const struct framing *f);

#endif
