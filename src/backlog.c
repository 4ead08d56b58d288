/* backlog.c - a ring of the last lines said in a room. */
#include "config.h"

#include <stdlib.h>

#include "backlog.h"
#include "msgbuf.h"

int
backlog_init(struct backlog *h, size_t max)
{
	h->max = max;
	h->count = h->next = 0;
	h->seq = 0;
	h->ring = NULL;
	if (max > 0 && (h->ring = calloc(max, sizeof(*h->ring))) == NULL)
		return -1;
	return 0;
}

void
backlog_free(struct backlog *h)
{
	for (size_t i = 0; i < h->count; i++)
		msgbuf_unref(h->ring[i]);
	free(h->ring);
	h->ring = NULL;
	h->count = h->next = 0;
}

uint64_t
backlog_add(struct backlog *h, struct msgbuf *b)
{
	h->seq++;
	if (h->max == 0)
		return h->seq;
	if (h->count == h->max)
		msgbuf_unref(h->ring[h->next]);
	else
		h->count++;
	msgbuf_ref(b);
	h->ring[h->next] = b;
	h->next = (h->next + 1) % h->max;
	return h->seq;
}

const struct msgbuf *
backlog_line(const struct backlog *h, size_t i)
{
	/* The oldest is at next once the ring is full, else at 0. */
	size_t first = h->count == h->max ? h->next : 0;

	return h->ring[(first + i) % h->max];
}
