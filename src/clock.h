/* clock.h - monotonic time in the units the rest of tcpchat uses. */
#ifndef TCPCHAT_CLOCK_H
#define TCPCHAT_CLOCK_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Monotonic time in nanoseconds since an arbitrary start. */
uint64_t clock_now_ns(void);

/* Monotonic time in milliseconds since an arbitrary start. */
uint64_t clock_now_ms(void);

/* Milliseconds left until deadline_ms (0 when passed), for poll(). */
int clock_ms_until(uint64_t deadline_ms);

/* ms milliseconds as a relative timespec, for ppoll() and the like. */
struct timespec clock_timespec_ms(int ms);

/*
 * The moment ms milliseconds from now on clock id (CLOCK_MONOTONIC for
 * a condition variable set to it, CLOCK_REALTIME for the _np joins), as
 * an absolute timespec.
 */
struct timespec clock_deadline_ms(clockid_t id, int ms);

/*
 * Formats a duration of ms milliseconds as 5s, 3m05s or 2h03m05s into
 * buf (size bytes).
 */
void clock_duration(uint64_t ms, char *buf, size_t size);

#endif
