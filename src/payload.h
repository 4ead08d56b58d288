/*
 * payload.h - the messages tcpchat-bench sends, and the checker that
 * verifies every byte the server sends back.
 *
 * A message is exactly `size` bytes of printable ASCII ending in LF:
 *
 *     CCCCCCCC SSSSSSSS PPPP...PPPP KKKKKKKK\n
 *
 * C: connection id, S: sequence number (8 lowercase hex digits each);
 * P: padding, letters, digits, '-' and '.' drawn from a generator
 * seeded by C and S, as many as make up the size (none at
 * PAYLOAD_MIN_SIZE); K: FNV-1a 32-bit checksum of everything before
 * it.  Text-safe, so it passes any line-based echo untouched.
 *
 * The checker is a pure parser: it is fed what came back, in pieces of
 * any length, and compares each line with the message it expects.
 */
#ifndef TCPCHAT_PAYLOAD_H
#define TCPCHAT_PAYLOAD_H

#include <stddef.h>
#include <stdint.h>

/* "CCCCCCCC SSSSSSSS " + " KKKKKKKK\n" with no padding: 28 bytes. */
#define PAYLOAD_MIN_SIZE 28
/* The largest message (one line); every bigger line is corrupt. */
#define PAYLOAD_MAX_SIZE (1024 * 1024)
/* How far back a late message can still be recognised as reordered. */
#define PAYLOAD_REORDER_WINDOW 64

/* Writes message (conn, seq) of size bytes into buf. */
void payload_build(char *buf, size_t size, uint32_t conn, uint32_t seq);

/*
 * Reads conn and seq back from a line of len bytes (LF included) if it
 * is a well-formed message of the given size with a good checksum.
 * Returns 0, or -1 when the line is not such a message.
 */
int payload_parse(
    const char *line, size_t len, size_t size, uint32_t *conn, uint32_t *seq);

/*
 * What became of the messages of one stream.  At the end each message
 * sent is in exactly one of verified, corrupt, lost and reordered.
 */
struct payload_counts {
	uint64_t verified; /* came back intact and in order */
	uint64_t corrupt; /* came back with wrong bytes */
	uint64_t lost; /* never came back */
	uint64_t reordered; /* came back intact but after a later one */
	uint64_t extra_bytes; /* bytes nobody sent: duplicates, junk */
};

/* Adds every count of src into dst. */
void payload_counts_add(
    struct payload_counts *dst, const struct payload_counts *src);

/* Called for each verified message with its sequence number. */
typedef void payload_verified_fn(void *arg, uint32_t seq);

/* The checker of one connection's returning stream. */
struct payload_check {
	uint32_t conn; /* whose messages to expect */
	size_t size; /* message size */
	uint32_t sent; /* messages sent so far: set by the sender */
	uint32_t expect; /* next sequence number expected */
	uint64_t missing; /* bit i: expect - 1 - i was skipped */
	char *partial; /* start of a line not complete yet */
	size_t partial_len; /* its length so far */
	size_t overlong_len; /* length of a too-long line being skipped */
	char *expected; /* scratch for the message expected */
};

/*
 * Prepares a checker for conn's messages of size bytes; it needs two
 * buffers of size bytes of its own.  0, or -1 with errno ENOMEM.
 */
int payload_check_init(struct payload_check *c, uint32_t conn, size_t size);

/* Frees what payload_check_init allocated. */
void payload_check_free(struct payload_check *c);

/* Messages sent and not yet accounted for. */
uint32_t payload_check_outstanding(const struct payload_check *c);

/*
 * Checks len more bytes of the returning stream, adding to counts and
 * calling on_verified (if not NULL) for each message verified.
 */
void payload_check_feed(struct payload_check *c, const char *data, size_t len,
    struct payload_counts *counts, payload_verified_fn *on_verified, void *arg);

/*
 * 1 when the line coming in is already longer than every outstanding
 * message together (than one message when none is): no echo explains
 * it, and waiting for its end may take forever.
 */
int payload_check_overrun(const struct payload_check *c);

/*
 * Stops waiting without blaming the stream (a run cut short): returns
 * the messages still outstanding, which are counted in none of the
 * counts, and drops an incomplete line.
 */
uint32_t payload_check_abandon(struct payload_check *c);

/*
 * The stream has ended: every message still outstanding is lost, and
 * an incomplete line that no outstanding message explains is extra.
 */
void payload_check_finish(
    struct payload_check *c, struct payload_counts *counts);

#endif
