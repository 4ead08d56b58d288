/* flood.c - a token bucket per client, and the course of a flood. */
#include "config.h"

#include "flood.h"

void
flood_init(struct flood *f, unsigned rate, uint64_t drop_ms, uint64_t now_ms)
{
	f->rate = rate;
	/* A burst of twice the rate, and never less than one line. */
	f->burst = rate > 0 ? 2 * (uint64_t)rate * FLOOD_LINE : FLOOD_LINE;
	f->tokens = f->burst;
	f->last_ms = now_ms;
	f->drop_ms = drop_ms;
	f->flooding = 0;
	f->since_ms = 0;
	f->held = 0;
}

/* Adds what the time since the last count earned, up to the burst. */
static void
flood_refill(struct flood *f, uint64_t now_ms)
{
	uint64_t elapsed = now_ms > f->last_ms ? now_ms - f->last_ms : 0;

	/* rate lines a second is rate thousandths of a line a ms. */
	if (elapsed >= f->burst / f->rate + 1)
		f->tokens = f->burst;
	else if ((f->tokens += elapsed * f->rate) > f->burst)
		f->tokens = f->burst;
	f->last_ms = now_ms;
}

enum flood_verdict
flood_take(struct flood *f, uint64_t now_ms)
{
	int resumed = 0;

	if (f->rate == 0)
		return FLOOD_PASS;
	flood_refill(f, now_ms);
	if (f->flooding && f->tokens == f->burst) {
		/* A full bucket again: the flood is over. */
		f->flooding = 0;
		resumed = 1;
	}
	if (f->tokens >= FLOOD_LINE) {
		f->tokens -= FLOOD_LINE;
		return resumed ? FLOOD_RESUMED : FLOOD_PASS;
	}
	if (!f->flooding) {
		f->flooding = 1;
		f->since_ms = now_ms;
		f->held = 1;
		return FLOOD_SLOW_DOWN;
	}
	f->held++;
	return now_ms - f->since_ms >= f->drop_ms ? FLOOD_DROP : FLOOD_HELD;
}
