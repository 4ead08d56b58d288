/* clock.c - monotonic time for deadlines, timeouts and latencies. */
#include "config.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <time.h>

#include "clock.h"

uint64_t
clock_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t
clock_now_ms(void)
{
	return clock_now_ns() / 1000000u;
}

int
clock_ms_until(uint64_t deadline_ms)
{
	uint64_t now = clock_now_ms();

	if (now >= deadline_ms)
		return 0;
	if (deadline_ms - now > INT_MAX)
		return INT_MAX;
	return (int)(deadline_ms - now);
}

struct timespec
clock_timespec_ms(int ms)
{
	struct timespec ts;

	if (ms < 0)
		ms = 0;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	return ts;
}

struct timespec
clock_deadline_ms(clockid_t id, int ms)
{
	struct timespec ts, rel = clock_timespec_ms(ms);

	clock_gettime(id, &ts);
	ts.tv_sec += rel.tv_sec;
	ts.tv_nsec += rel.tv_nsec;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

void
clock_duration(uint64_t ms, char *buf, size_t size)
{
	uint64_t s = ms / 1000;

	if (s < 60)
		snprintf(buf, size, "%" PRIu64 "s", s);
	else if (s < 3600)
		snprintf(
		    buf, size, "%" PRIu64 "m%02" PRIu64 "s", s / 60, s % 60);
	else
		snprintf(buf, size, "%" PRIu64 "h%02" PRIu64 "m%02" PRIu64 "s",
		    s / 3600, s / 60 % 60, s % 60);
}
