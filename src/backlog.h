/*
 * backlog.h - the last lines said in a room, replayed to whoever joins:
 * a ring of at most max shared buffers (the very msgbufs relayed, each
 * with a reference of the ring's own, so a line is never copied for
 * it).  Every line added gets a sequence number, 1, 2, ..., so a
 * joiner can tell which lines its replay already held.  No lock of its
 * own: the relay's lock guards it.
 */
#ifndef TCPCHAT_BACKLOG_H
#define TCPCHAT_BACKLOG_H

#include <stddef.h>
#include <stdint.h>

struct msgbuf;

struct backlog {
	struct msgbuf **ring; /* max slots; NULL when max is 0 */
	size_t max; /* lines kept at most; 0: none */
	size_t count; /* lines held now */
	size_t next; /* the slot the next line goes to */
	uint64_t seq; /* lines ever added: the last one's number */
};

/* An empty history of at most max lines.  0, or -1 (ENOMEM). */
int backlog_init(struct backlog *h, size_t max);

/* Lets go of every line held. */
void backlog_free(struct backlog *h);

/*
 * Adds b (taking a reference; the oldest line goes when full) and
 * returns its sequence number.  With max 0 only the number is counted.
 */
uint64_t backlog_add(struct backlog *h, struct msgbuf *b);

/* The i'th line held, oldest first (i < count): no reference taken. */
const struct msgbuf *backlog_line(const struct backlog *h, size_t i);

#endif
