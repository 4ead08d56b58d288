/*
 * flood.h - flood control for one client: a token bucket that refills
 * at rate lines a second and holds a burst of twice that, and the
 * flood's course (begun, held lines, kept up too long, over).
 *
 * Pure: the caller passes the time (clock_now_ms in tcpchatd, any clock
 * in the tests), and the verdict says what to do with one line.  A
 * flood begins with the first line the bucket cannot pay for and is over
 * once the bucket has filled up again (the client stayed under the rate
 * long enough); a client still over the rate drop_ms after its flood
 * began is to be dropped.
 */
#ifndef TCPCHAT_FLOOD_H
#define TCPCHAT_FLOOD_H

#include <stdint.h>

/* A line's cost, in the bucket's units (thousandths of a line). */
#define FLOOD_LINE 1000u

enum flood_verdict {
	FLOOD_PASS, /* within the rate */
	FLOOD_RESUMED, /* within the rate again: a flood just ended */
	FLOOD_SLOW_DOWN, /* over the rate: the first line of a flood */
	FLOOD_HELD, /* over the rate, flooding still */
	FLOOD_DROP /* over the rate for drop_ms: the client goes */
};

struct flood {
	unsigned rate; /* lines a second; 0: no limit */
	uint64_t burst; /* the bucket's size, in thousandths of a line */
	uint64_t tokens; /* what it holds, in thousandths of a line */
	uint64_t last_ms; /* when tokens were last counted */
	uint64_t drop_ms; /* flooding this long: dropped */
	int flooding; /* a flood is on */
	uint64_t since_ms; /* when it began */
	uint64_t held; /* lines held back in the flood (last one, if over) */
};

/*
 * A full bucket for rate lines a second (0: none) at now_ms; a flood
 * kept up for drop_ms means FLOOD_DROP.
 */
void flood_init(
    struct flood *f, unsigned rate, uint64_t drop_ms, uint64_t now_ms);

/* One line at now_ms (never earlier than the last call's). */
enum flood_verdict flood_take(struct flood *f, uint64_t now_ms);

#endif
