/* storm.c - join and leave notices summarised under a storm. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "clock.h"
#include "storm.h"

struct storm {
	int window_ms;
	unsigned burst;
	storm_flush_fn flush;
	void *ctx;
	pthread_t thread;
	int started;

	pthread_mutex_t lock; /* guards everything below */
	pthread_cond_t changed; /* a window opened, or stopping */
	uint64_t window_end; /* clock_now_ms; 0: no window open */
	unsigned announced; /* one by one in this window */
	unsigned joined, left; /* counted for the summary */
	uint64_t first_join;
	int stopping;
};

struct storm *
storm_new(int window_ms, unsigned burst, storm_flush_fn flush, void *ctx)
{
	struct storm *st = calloc(1, sizeof(*st));
	pthread_condattr_t attr;

	if (st == NULL)
		return NULL;
	st->window_ms = window_ms;
	st->burst = burst;
	st->flush = flush;
	st->ctx = ctx;
	pthread_mutex_init(&st->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&st->changed, &attr);
	pthread_condattr_destroy(&attr);
	return st;
}

int
storm_event(struct storm *st, int joined, uint64_t id)
{
	int alone = 0;

	pthread_mutex_lock(&st->lock);
	if (st->window_end == 0) {
		/* Quiet before: a new window, which the thread ends. */
		st->window_end = clock_now_ms() + (uint64_t)st->window_ms;
		st->announced = 0;
		pthread_cond_signal(&st->changed);
	}
	if (st->announced < st->burst && st->joined == 0 && st->left == 0) {
		st->announced++;
		alone = 1;
	} else if (joined) {
		if (st->joined++ == 0)
			st->first_join = id;
	} else {
		st->left++;
	}
	pthread_mutex_unlock(&st->lock);
	return alone;
}

/*
 * Ends the window: what was counted goes out as one summary.  Called
 * with st->lock held; drops it around the flush.
 */
static void
storm_end_window_locked(struct storm *st)
{
	unsigned joined = st->joined, left = st->left;
	uint64_t first_join = st->first_join;

	st->joined = st->left = 0;
	st->first_join = 0;
	/*
	 * Still stormy: the next window counts from here, and all of it
	 * goes into its summary (no burst of single notices again until a
	 * window passes quietly).
	 */
	st->announced = joined + left > 0 ? st->burst : 0;
	st->window_end =
	    joined + left > 0 ? clock_now_ms() + (uint64_t)st->window_ms : 0;
	if (joined + left == 0)
		return;
	pthread_mutex_unlock(&st->lock);
	st->flush(st->ctx, joined, left, first_join);
	pthread_mutex_lock(&st->lock);
}

static void *
storm_main(void *arg)
{
	struct storm *st = arg;

	pthread_mutex_lock(&st->lock);
	while (!st->stopping) {
		if (st->window_end == 0) {
			pthread_cond_wait(&st->changed, &st->lock);
			continue;
		}
		struct timespec until = {(time_t)(st->window_end / 1000),
		    (long)(st->window_end % 1000) * 1000000L};
		/* clock_now_ms is CLOCK_MONOTONIC, as the condition is. */
		if (clock_now_ms() < st->window_end &&
		    pthread_cond_timedwait(&st->changed, &st->lock, &until) !=
		        ETIMEDOUT)
			continue;
		if (clock_now_ms() >= st->window_end)
			storm_end_window_locked(st);
	}
	storm_end_window_locked(st);
	pthread_mutex_unlock(&st->lock);
	return NULL;
}

int
storm_start(struct storm *st)
{
	int rc = pthread_create(&st->thread, NULL, storm_main, st);

	if (rc == 0)
		st->started = 1;
	return rc;
}

void
storm_stop(struct storm *st)
{
	if (st == NULL || !st->started)
		return;
	pthread_mutex_lock(&st->lock);
	st->stopping = 1;
	pthread_cond_signal(&st->changed);
	pthread_mutex_unlock(&st->lock);
	pthread_join(st->thread, NULL);
	st->started = 0;
}

void
storm_free(struct storm *st)
{
	if (st == NULL)
		return;
	pthread_cond_destroy(&st->changed);
	pthread_mutex_destroy(&st->lock);
	free(st);
}
