/*
 * stats.h - tcpchatd's counters over its life, shown by /stats: updated
 * without locks from every thread.
 */
#ifndef TCPCHAT_STATS_H
#define TCPCHAT_STATS_H

#include <stdatomic.h>
#include <stdint.h>

#include "session.h"

struct stats {
	struct session_totals io; /* bytes and messages out, threads */
	atomic_uint_fast64_t connections;
	atomic_uint_fast64_t refused;
	atomic_uint_fast64_t msgs_in;
	atomic_uint_fast64_t undelivered;
	uint64_t started_ms; /* set once, before any thread starts */
};

#endif
