/*
 * msgbuf.h - a message's bytes, stored once and shared by reference:
 * a line relayed to a thousand clients is one buffer in a thousand
 * queues, not a thousand copies.  Every buffer is charged to a budget
 * while it lives, so the memory all queues hold together is known.
 */
#ifndef TCPCHAT_MSGBUF_H
#define TCPCHAT_MSGBUF_H

#include <stdatomic.h>
#include <stddef.h>

/* What live buffers may hold in all; used is updated without locks. */
struct msgbuf_budget {
	atomic_size_t used; /* bytes charged now */
	size_t limit; /* 0: none */
};

struct msgbuf {
	atomic_int refs;
	struct msgbuf_budget *budget; /* charged to, or NULL */
	size_t len;
	char data[];
};

/* Bytes a buffer of len bytes is charged (its header included). */
#define MSGBUF_COST(len) (sizeof(struct msgbuf) + (len))

/*
 * A buffer holding a copy of len bytes, with one reference, charged to
 * budget (may be NULL).  NULL: out of memory.  It is not refused for
 * being over the budget: msgbuf_over tells the caller, who decides.
 */
struct msgbuf *msgbuf_new(
    struct msgbuf_budget *budget, const char *data, size_t len);

void msgbuf_ref(struct msgbuf *b);

/* Drops a reference; the last one frees it and uncharges the budget. */
void msgbuf_unref(struct msgbuf *b);

/* Whether adding more bytes would take budget over its limit. */
int msgbuf_over(const struct msgbuf_budget *budget, size_t more);

#endif
