/*
 * transcript.h - the --log file: every message in and out and every
 * connection event, with time, client id and address, escaped, one line
 * each.  One object with its own lock, written by every thread.
 */
#ifndef TCPCHAT_TRANSCRIPT_H
#define TCPCHAT_TRANSCRIPT_H

#include <stddef.h>
#include <stdint.h>

struct transcript;

/*
 * Told when writing fails (once, until it works again), with the path
 * and the errno; so a transcript with holes never goes unnoticed.
 */
typedef void (*transcript_report_fn)(void *ctx, const char *path, int err);

/*
 * Opens path for appending.  NULL with errno set when it cannot.  report
 * (may be NULL) hears of write failures.
 */
struct transcript *transcript_open(
    const char *path, transcript_report_fn report, void *ctx);

/* Closes it; NULL does nothing. */
void transcript_close(struct transcript *t);

/*
 * Appends "TIME #ID ADDR WHAT: TEXT" (TEXT escaped; id 0: no "#ID
 * ADDR").  t NULL (no --log) does nothing.  Returns 0, or -1 with errno
 * set.
 */
int transcript_write(struct transcript *t, uint64_t id, const char *addr,
    const char *what, const char *text, size_t len);

#endif
