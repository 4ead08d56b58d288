/*
 * storm.h - join and leave notices under a storm: within a window of
 * window_ms the first burst events are announced one by one, the rest
 * only counted, and at the window's end one summary goes out ("250
 * joined, 3 left"); while the storm goes on, each next window is summed
 * up whole, until one passes quietly.  So a thousand joins at once cost
 * a few broadcasts, not a thousand: O(1) per event, and in a long storm
 * one broadcast per window.  A thread of its own ends windows.
 */
#ifndef TCPCHAT_STORM_H
#define TCPCHAT_STORM_H

#include <stdint.h>

struct storm;

/*
 * Sends the summary of a window: joined and left counted (not announced
 * one by one); first_join is the id of the first joiner counted (0 if
 * none), so that only those there before it hear of the joins.  Called
 * on the storm's thread with no lock held.
 */
typedef void (*storm_flush_fn)(
    void *ctx, unsigned joined, unsigned left, uint64_t first_join);

/* A storm filter.  NULL: out of memory. */
struct storm *storm_new(
    int window_ms, unsigned burst, storm_flush_fn flush, void *ctx);

/* Starts its thread.  0, or an error number. */
int storm_start(struct storm *st);

/* Flushes what is counted and ends the thread. */
void storm_stop(struct storm *st);

void storm_free(struct storm *st);

/*
 * One join (joined != 0) or leave, by client id.  Returns 1 when it is
 * to be announced on its own now, 0 when it was counted for the summary.
 */
int storm_event(struct storm *st, int joined, uint64_t id);

#endif
