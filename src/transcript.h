/*
 * transcript.h - the --log file: every message in and out and every
 * connection event, with time, client id and address, escaped, one line
 * each, written with one append so lines from many threads never mix.
 */
#ifndef TCPCHAT_TRANSCRIPT_H
#define TCPCHAT_TRANSCRIPT_H

#include <stddef.h>
#include <stdint.h>

/* Opens path for appending.  The descriptor, or -1 with errno set. */
int transcript_open(const char *path);

/*
 * Appends "TIME #ID ADDR WHAT: TEXT" (TEXT escaped).  fd -1 does
 * nothing.  Returns 0, or -1 with errno set.
 */
int transcript_write(int fd, uint64_t id, const char *addr, const char *what,
    const char *text, size_t len);

#endif
