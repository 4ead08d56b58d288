/*
 * fuzz_framing.c - libFuzzer target for the line assembler.  The input
 * picks the maximum, then is cut into chunks at points it chooses, with
 * a flush (plain or forced) after any chunk.  Whatever the bytes, no
 * message passes the maximum or holds an LF, TOO_LONG comes only for a
 * line that really is too long and then nothing more is taken, no byte
 * is lost (messages, their terminators and what is pending rebuild the
 * bytes taken exactly), and an unforced flush never splits a valid
 * UTF-8 character.  A broken property aborts, which libFuzzer reports.
 *
 * Input: one byte choosing the maximum, then records of one control
 * byte (low 6 bits: chunk length; high 2 bits: 1 flush, 2 forced flush)
 * followed by the chunk.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "framing.h"
#include "fuzz_utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_FRAMING_CHUNK_MASK 0x3f
#define FUZZ_FRAMING_FLUSH 1
#define FUZZ_FRAMING_FORCE 2

/* The state of one run, checked against the assembler after each call. */
struct fuzz_framing_run {
	struct framing f;
	size_t max;
	unsigned char *stream; /* every byte the assembler took, in order */
	size_t total; /* bytes in stream */
	size_t pos; /* where the next message starts in stream */
	size_t *cuts; /* message start, end of unforced flushes */
	size_t ncuts;
	int too_long; /* the assembler said TOO_LONG */
};

/* Reports a broken property and aborts, so libFuzzer keeps the input. */
static void
fuzz_framing_fail(const struct fuzz_framing_run *run, const char *what)
{
	fprintf(stderr,
	    "fuzz_framing: property broken: %s\n"
	    "max %zu, bytes taken %zu, next message at %zu, pending %zu\n",
	    what, run->max, run->total, run->pos, framing_pending(&run->f));
	abort();
}

/* The maximum the first input byte chooses: mostly small, some edges. */
static size_t
fuzz_framing_max(uint8_t b)
{
	static const size_t edges[] = {
	    SIZE_MAX, SIZE_MAX - 1, 255, 256, 257, 1023, 1024, 4096};

	if (b >= 0xf0)
		return edges[(b - 0xf0) % (sizeof(edges) / sizeof(edges[0]))];
	return b % 40;
}

/*
 * Checks a message against the bytes taken and moves past it.  used is
 * the number of stream bytes the message accounts for: its own bytes
 * and its terminator, "\n" or "\r\n" after a push, nothing or a dropped
 * "\r" after a flush.
 */
static void
fuzz_framing_message(struct fuzz_framing_run *run, const char *msg,
    size_t msglen, size_t used, int pushed)
{
	const unsigned char *at = run->stream + run->pos;
	size_t term;

	if (msglen > run->max)
		fuzz_framing_fail(run, "message longer than the maximum");
	if (used < msglen || run->pos + used > run->total)
		fuzz_framing_fail(run, "message not made of bytes taken");
	if (msglen > 0 && memcmp(msg, at, msglen) != 0)
		fuzz_framing_fail(run, "message differs from the bytes taken");
	if (msglen > 0 && memchr(msg, '\n', msglen) != NULL)
		fuzz_framing_fail(run, "message holds an LF");
	term = used - msglen;
	if (pushed) {
		if (!(term == 1 && at[msglen] == '\n') &&
		    !(term == 2 && at[msglen] == '\r' &&
		        at[msglen + 1] == '\n'))
			fuzz_framing_fail(run, "bytes lost at a line's end");
		if (term == 1 && msglen > 0 && msg[msglen - 1] == '\r')
			fuzz_framing_fail(run, "CR before LF kept");
	} else if (term > 1 || (term == 1 && at[msglen] != '\r')) {
		fuzz_framing_fail(run, "flush lost bytes");
	}
	run->pos += used;
}

/* The last byte of a line made of what is pending and in[0..inlen). */
static char
fuzz_framing_last(
    const struct fuzz_framing_run *run, const char *in, size_t inlen)
{
	return inlen > 0 ? in[inlen - 1] : (char)run->stream[run->total - 1];
}

/* Pushes one chunk, taking messages until the assembler wants more. */
static void
fuzz_framing_push_chunk(
    struct fuzz_framing_run *run, const char *chunk, size_t len)
{
	const char *in = chunk, *msg, *lf;
	size_t inlen = len, before, pending, taken, msglen, line;
	int rc;

	do {
		before = inlen;
		pending = framing_pending(&run->f);
		if (pending != run->total - run->pos)
			fuzz_framing_fail(run, "pending count wrong");
		rc = framing_push(&run->f, &in, &inlen, &msg, &msglen);
		taken = before - inlen;
		if (in != chunk + (len - inlen))
			fuzz_framing_fail(
			    run, "input pointer and length disagree");
		if (rc == FRAMING_TOO_LONG) {
			if (taken != 0)
				fuzz_framing_fail(run, "TOO_LONG took input");
			if (run->too_long)
				return;
			/* The line so far, CR of a CRLF left out, must be long.
			 */
			lf = memchr(in, '\n', inlen);
			line = pending + (lf ? (size_t)(lf - in) : inlen);
			if (line > 0 &&
			    fuzz_framing_last(run, in, line - pending) == '\r')
				line--;
			if (line <= run->max)
				fuzz_framing_fail(
				    run, "TOO_LONG for a short line");
			run->too_long = 1;
			return;
		}
		if (run->too_long)
			fuzz_framing_fail(run, "took input after TOO_LONG");
		memcpy(run->stream + run->total, in - taken, taken);
		run->total += taken;
		if (rc == FRAMING_COMPLETE) {
			if (framing_pending(&run->f) != 0)
				fuzz_framing_fail(
				    run, "bytes left after a line");
			fuzz_framing_message(
			    run, msg, msglen, pending + taken, 1);
		} else if (rc == FRAMING_INCOMPLETE) {
			if (inlen != 0)
				fuzz_framing_fail(run, "INCOMPLETE left input");
			line = run->total - run->pos;
			if (line > 0 && run->stream[run->total - 1] == '\r')
				line--;
			if (line > run->max)
				fuzz_framing_fail(
				    run, "held a line past the maximum");
		} else {
			fuzz_framing_fail(run, "unknown result");
		}
	} while (rc == FRAMING_COMPLETE && inlen > 0);
}

/* Flushes, forced or not, and checks what came out. */
static void
fuzz_framing_flush(struct fuzz_framing_run *run, int force)
{
	size_t before = framing_pending(&run->f), after, msglen;
	const char *msg;
	int rc;

	rc = framing_flush(&run->f, force, &msg, &msglen);
	after = framing_pending(&run->f);
	if (rc == 0) {
		if (after != before)
			fuzz_framing_fail(
			    run, "flush of nothing changed pending");
		if (!run->too_long && before > (force ? 0 : 3))
			fuzz_framing_fail(run, "flush held back whole bytes");
		return;
	}
	if (rc != 1 || run->too_long || after > before)
		fuzz_framing_fail(run, "flush result wrong");
	if (after > (force ? 0 : 3))
		fuzz_framing_fail(run, "flush held back whole bytes");
	if (!force)
		run->cuts[2 * run->ncuts] = run->pos;
	fuzz_framing_message(run, msg, msglen, before - after, 0);
	if (!force)
		run->cuts[2 * run->ncuts++ + 1] = run->pos;
}

/*
 * Checks that no unforced flush cut through a valid character.  One
 * that starts before the flushed message was already cut by the call
 * that handed out the bytes before it (a forced flush, say), so the
 * assembler could not see it whole.
 */
static void
fuzz_framing_check_cuts(const struct fuzz_framing_run *run)
{
	size_t i, first, start, cut, n;
	uint32_t cp;

	for (i = 0; i < run->ncuts; i++) {
		first = run->cuts[2 * i];
		cut = run->cuts[2 * i + 1];
		start = cut > first + 3 ? cut - 3 : first;
		for (; start < cut; start++) {
			n = fuzz_utf8_decode(
			    run->stream + start, run->total - start, &cp);
			if (n > 0 && start + n > cut)
				fuzz_framing_fail(run,
				    "unforced flush split a UTF-8 character");
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_framing_run run;
	size_t i = 1, len;
	char *chunk;
	int action;

	if (size == 0)
		return 0;
	memset(&run, 0, sizeof(run));
	run.max = fuzz_framing_max(data[0]);
	run.stream = malloc(size);
	run.cuts = malloc(2 * size * sizeof(*run.cuts));
	if (run.stream == NULL || run.cuts == NULL)
		goto out;
	framing_init(&run.f, run.max);
	while (i < size) {
		action = data[i] >> 6;
		len = data[i] & FUZZ_FRAMING_CHUNK_MASK;
		i++;
		if (len > size - i)
			len = size - i;
		/* Its own allocation, so ASan sees a read past either end. */
		if ((chunk = malloc(len)) == NULL && len > 0)
			break;
		if (len > 0)
			memcpy(chunk, data + i, len);
		i += len;
		fuzz_framing_push_chunk(&run, chunk, len);
		free(chunk);
		if (action == FUZZ_FRAMING_FLUSH ||
		    action == FUZZ_FRAMING_FORCE)
			fuzz_framing_flush(&run, action == FUZZ_FRAMING_FORCE);
	}
	/* What is left comes out with a forced flush, unless too long. */
	fuzz_framing_flush(&run, 1);
	if (run.pos + framing_pending(&run.f) != run.total)
		fuzz_framing_fail(&run, "bytes taken != messages + pending");
	if (!run.too_long && run.pos != run.total)
		fuzz_framing_fail(&run, "bytes left after a forced flush");
	fuzz_framing_check_cuts(&run);
	framing_free(&run.f);
out:
	free(run.cuts);
	free(run.stream);
	return 0;
}
