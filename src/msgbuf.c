/* msgbuf.c - reference-counted message bytes, charged to a budget. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "msgbuf.h"

struct msgbuf *
msgbuf_new(struct msgbuf_budget *budget, const char *data, size_t len)
{
	struct msgbuf *b = malloc(MSGBUF_COST(len));

	if (b == NULL)
		return NULL;
	atomic_init(&b->refs, 1);
	b->budget = budget;
	b->len = len;
	memcpy(b->data, data, len);
	if (budget != NULL)
		atomic_fetch_add_explicit(
		    &budget->used, MSGBUF_COST(len), memory_order_relaxed);
	return b;
}

void
msgbuf_ref(struct msgbuf *b)
{
	atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
}

void
msgbuf_unref(struct msgbuf *b)
{
	if (b == NULL ||
	    atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) != 1)
		return;
	if (b->budget != NULL)
		atomic_fetch_sub_explicit(&b->budget->used, MSGBUF_COST(b->len),
		    memory_order_relaxed);
	free(b);
}

int
msgbuf_over(const struct msgbuf_budget *budget, size_t more)
{
	if (budget == NULL || budget->limit == 0)
		return 0;
	return atomic_load_explicit(&budget->used, memory_order_relaxed) +
	    more >
	    budget->limit;
}
