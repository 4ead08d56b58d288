/*
 * transcript.h - the --log file: every message in and out and every
 * connection event, with time, client id and address, escaped, one line
 * each.  One object with its own lock, written by every thread.
 *
 * Each record is written whole or not at all: a record the file took
 * only part of is cut off again (or, where it cannot be, ended with a
 * newline before the next one).  Every outage is reported, and so is
 * every recovery, with the number of records lost, which the file is
 * told too.  A file deleted or replaced while open is opened again at
 * its path, as on SIGHUP (transcript_reopen).
 */
#ifndef TCPCHAT_TRANSCRIPT_H
#define TCPCHAT_TRANSCRIPT_H

#include <stddef.h>
#include <stdint.h>

struct transcript;

enum transcript_event {
	TRANSCRIPT_FAILING, /* a record could not be written (err) */
	TRANSCRIPT_RECOVERED, /* records go in again; lost were lost */
	TRANSCRIPT_STILL_FAILING, /* at the end: lost, and still failing */
	TRANSCRIPT_REOPENED, /* the file at the path was opened (why) */
	TRANSCRIPT_REOPEN_FAILED /* it could not be (why, err) */
};

struct transcript_report {
	enum transcript_event event;
	int err; /* the errno, for FAILING and REOPEN_FAILED */
	uint64_t lost; /* records lost in the outage */
	const char *why; /* for REOPENED and REOPEN_FAILED */
};

/*
 * Told of every outage, recovery and reopening, in order (called with
 * the transcript's lock held: it must not write to the transcript).
 */
typedef void (*transcript_report_fn)(
    void *ctx, const char *path, const struct transcript_report *r);

/*
 * Opens path for appending.  NULL with errno set when it cannot.  report
 * (may be NULL) hears of failures and reopenings.
 */
struct transcript *transcript_open(
    const char *path, transcript_report_fn report, void *ctx);

/* Closes it; NULL does nothing. */
void transcript_close(struct transcript *t);

/*
 * Appends "TIME #ID ADDR WHAT: TEXT" (TEXT escaped; id 0: no "#ID
 * ADDR").  t NULL (no --log) does nothing.  Returns 0, or -1 with errno
 * set (the record is lost, and counted).
 */
int transcript_write(struct transcript *t, uint64_t id, const char *addr,
    const char *what, const char *text, size_t len);

/*
 * Opens the file at the path again (logrotate renamed it: SIGHUP) and
 * says so in the new file.  0, or -1 with errno set (the old one is
 * kept).  Reported either way.
 */
int transcript_reopen(struct transcript *t, const char *why);

/*
 * At the end: an outage still going on is reported with the records it
 * lost.  NULL does nothing.
 */
void transcript_finish(struct transcript *t);

#endif
