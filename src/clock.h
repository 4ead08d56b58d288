/* clock.h - monotonic time in the units the rest of tcpchat uses. */
#ifndef TCPCHAT_CLOCK_H
#define TCPCHAT_CLOCK_H

#include <stdint.h>

/* Monotonic time in nanoseconds since an arbitrary start. */
uint64_t clock_now_ns(void);

/* Monotonic time in milliseconds since an arbitrary start. */
uint64_t clock_now_ms(void);

/* Milliseconds left until deadline_ms (0 when passed), for poll(). */
int clock_ms_until(uint64_t deadline_ms);

#endif
