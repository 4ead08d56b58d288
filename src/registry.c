/* registry.c - the table of live sessions, by id. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "registry.h"
#include "session.h"

struct registry {
	pthread_mutex_t lock; /* guards everything below */
	pthread_cond_t emptied; /* signalled when count drops to 0 */
	struct session **items; /* sorted by id: ids only grow */
	size_t count;
	size_t cap;
	uint64_t last_id;
};

struct registry *
registry_new(void)
{
	struct registry *r = calloc(1, sizeof(*r));
	pthread_condattr_t attr;

	if (r == NULL)
		return NULL;
	pthread_mutex_init(&r->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&r->emptied, &attr);
	pthread_condattr_destroy(&attr);
	return r;
}

void
registry_free(struct registry *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->count; i++)
		session_unref(r->items[i]);
	free(r->items);
	pthread_cond_destroy(&r->emptied);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

/* Index of id in items, or where it would go. */
static size_t
registry_search(const struct registry *r, uint64_t id)
{
	size_t lo = 0, hi = r->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (r->items[mid]->id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int
registry_add(struct registry *r, struct session *s, int max)
{
	int online = -1;

	pthread_mutex_lock(&r->lock);
	if (max > 0 && r->count >= (size_t)max)
		goto out;
	if (r->count == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 64;
		struct session **p = realloc(r->items, cap * sizeof(*p));
		if (p == NULL)
			goto out;
		r->items = p;
		r->cap = cap;
	}
	size_t at = registry_search(r, s->id);
	memmove(r->items + at + 1, r->items + at,
	    (r->count - at) * sizeof(*r->items));
	r->items[at] = s;
	r->count++;
	session_ref(s);
	online = (int)r->count;
out:
	pthread_mutex_unlock(&r->lock);
	return online;
}

int
registry_remove(struct registry *r, struct session *s)
{
	int left, found = 0;

	pthread_mutex_lock(&r->lock);
	size_t at = registry_search(r, s->id);
	if (at < r->count && r->items[at] == s) {
		memmove(r->items + at, r->items + at + 1,
		    (r->count - at - 1) * sizeof(*r->items));
		r->count--;
		found = 1;
	}
	left = (int)r->count;
	if (left == 0)
		pthread_cond_broadcast(&r->emptied);
	pthread_mutex_unlock(&r->lock);
	if (found)
		session_unref(s);
	return left;
}

struct session *
registry_find(struct registry *r, uint64_t id)
{
	struct session *s = NULL;

	pthread_mutex_lock(&r->lock);
	size_t at = registry_search(r, id);
	if (at < r->count && r->items[at]->id == id) {
		s = r->items[at];
		session_ref(s);
	}
	pthread_mutex_unlock(&r->lock);
	return s;
}

int
registry_count(struct registry *r)
{
	pthread_mutex_lock(&r->lock);
	int n = (int)r->count;
	pthread_mutex_unlock(&r->lock);
	return n;
}

struct session **
registry_snapshot(struct registry *r, size_t *n)
{
	struct session **list = NULL;

	*n = 0;
	pthread_mutex_lock(&r->lock);
	if (r->count > 0 && (list = malloc(r->count * sizeof(*list))) != NULL) {
		for (size_t i = 0; i < r->count; i++) {
			list[i] = r->items[i];
			session_ref(list[i]);
		}
		*n = r->count;
	}
	pthread_mutex_unlock(&r->lock);
	return list;
}

void
registry_release(struct session **list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		session_unref(list[i]);
	free(list);
}

int
registry_wait_empty(struct registry *r, int timeout_ms)
{
	struct timespec deadline =
	    clock_deadline_ms(CLOCK_MONOTONIC, timeout_ms);
	int empty;

	pthread_mutex_lock(&r->lock);
	while (r->count > 0) {
		if (pthread_cond_timedwait(&r->emptied, &r->lock, &deadline) ==
		    ETIMEDOUT)
			break;
	}
	empty = r->count == 0;
	pthread_mutex_unlock(&r->lock);
	return empty;
}

uint64_t
registry_next_id(struct registry *r)
{
	pthread_mutex_lock(&r->lock);
	uint64_t id = ++r->last_id;
	pthread_mutex_unlock(&r->lock);
	return id;
}
