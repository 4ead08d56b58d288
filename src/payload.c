/* payload.c - building and verifying tcpchat-bench's messages. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "payload.h"

#define PAYLOAD_HEAD 18 /* "CCCCCCCC SSSSSSSS " */
#define PAYLOAD_TAIL 10 /* " KKKKKKKK\n" */

static const char payload_hex[] = "0123456789abcdef";
static const char payload_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-.";

static void
payload_put_hex(char *dst, uint32_t value)
{
	for (int i = 7; i >= 0; i--) {
		dst[i] = payload_hex[value & 0xf];
		value >>= 4;
	}
}

/* Reads 8 lowercase hex digits.  0, or -1 if they are not. */
static int
payload_get_hex(const char *src, uint32_t *value)
{
	uint32_t v = 0;

	for (int i = 0; i < 8; i++) {
		char ch = src[i];
		if (ch >= '0' && ch <= '9')
			v = v << 4 | (uint32_t)(ch - '0');
		else if (ch >= 'a' && ch <= 'f')
			v = v << 4 | (uint32_t)(ch - 'a' + 10);
		else
			return -1;
	}
	*value = v;
	return 0;
}

static uint32_t
payload_fnv1a(const char *p, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)p[i];
		h *= 16777619u;
	}
	return h;
}

/* splitmix64: cheap, and every (conn, seq) gives its own padding. */
static uint64_t
payload_mix(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void
payload_build(char *buf, size_t size, uint32_t conn, uint32_t seq)
{
	uint64_t state = (uint64_t)conn << 32 | seq;
	size_t pad = size - PAYLOAD_MIN_SIZE, i = 0;

	payload_put_hex(buf, conn);
	buf[8] = ' ';
	payload_put_hex(buf + 9, seq);
	buf[17] = ' ';
	/* Ten 6-bit letters from each 64-bit draw. */
	while (i < pad) {
		uint64_t bits = payload_mix(&state);
		for (int k = 0; k < 10 && i < pad; k++, bits >>= 6)
			buf[PAYLOAD_HEAD + i++] = payload_alphabet[bits & 63];
	}
	buf[size - PAYLOAD_TAIL] = ' ';
	payload_put_hex(buf + size - 9, payload_fnv1a(buf, size - 9));
	buf[size - 1] = '\n';
}

int
payload_parse(
    const char *line, size_t len, size_t size, uint32_t *conn, uint32_t *seq)
{
	uint32_t sum;

	if (len != size || size < PAYLOAD_MIN_SIZE || line[size - 1] != '\n')
		return -1;
	if (line[8] != ' ' || line[17] != ' ' || line[size - 10] != ' ')
		return -1;
	if (payload_get_hex(line, conn) == -1 ||
	    payload_get_hex(line + 9, seq) == -1 ||
	    payload_get_hex(line + size - 9, &sum) == -1)
		return -1;
	return payload_fnv1a(line, size - 9) == sum ? 0 : -1;
}

int
payload_check_init(struct payload_check *c, uint32_t conn, size_t size)
{
	memset(c, 0, sizeof(*c));
	c->conn = conn;
	c->size = size;
	c->partial = malloc(size);
	c->expected = malloc(size);
	if (c->partial == NULL || c->expected == NULL) {
		payload_check_free(c);
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

void
payload_check_free(struct payload_check *c)
{
	free(c->partial);
	free(c->expected);
	c->partial = NULL;
	c->expected = NULL;
}

uint32_t
payload_check_outstanding(const struct payload_check *c)
{
	return c->sent - c->expect;
}

static uint64_t
payload_shift(uint64_t bits, uint64_t by)
{
	return by >= 64 ? 0 : bits << by;
}

/*
 * A line that is not the message expected and not any other message
 * we sent: its bytes stand for as many outstanding messages as its
 * length suggests (a lost LF joins two), which are corrupt.
 */
static void
payload_check_corrupt(
    struct payload_check *c, size_t len, struct payload_counts *counts)
{
	uint32_t outstanding = payload_check_outstanding(c);
	size_t stands_for = (len + c->size / 2) / c->size;

	if (outstanding == 0) {
		counts->extra_bytes += len;
		return;
	}
	if (stands_for == 0)
		stands_for = 1;
	if (stands_for > outstanding)
		stands_for = outstanding;
	counts->corrupt += stands_for;
	c->expect += (uint32_t)stands_for;
	c->missing = payload_shift(c->missing, stands_for);
}

/* One whole line (LF included) came back: account for it. */
static void
payload_check_line(struct payload_check *c, const char *line, size_t len,
    struct payload_counts *counts, payload_verified_fn *on_verified, void *arg)
{
	uint32_t conn, seq;

	if (len == c->size && c->expect != c->sent) {
		payload_build(c->expected, c->size, c->conn, c->expect);
		if (memcmp(c->expected, line, len) == 0) {
			seq = c->expect++;
			c->missing <<= 1;
			counts->verified++;
			if (on_verified != NULL)
				on_verified(arg, seq);
			return;
		}
	}
	/* Checksum good but not the bytes expected: corrupt all the same. */
	if (payload_parse(line, len, c->size, &conn, &seq) == -1 ||
	    (conn == c->conn && seq == c->expect)) {
		payload_check_corrupt(c, len, counts);
		return;
	}
	if (conn != c->conn || seq >= c->sent) {
		/* Intact, but not a message this connection sent. */
		counts->extra_bytes += len;
		return;
	}
	if (seq > c->expect) {
		/* Skipped some: lost unless they turn up later. */
		uint64_t gap = seq - c->expect;
		uint64_t skipped =
		    gap >= 63 ? ~(uint64_t)1 : (((uint64_t)1 << gap) - 1) << 1;
		c->missing = payload_shift(c->missing, gap + 1) | skipped;
		counts->lost += gap;
		c->expect = seq + 1;
		counts->verified++;
		if (on_verified != NULL)
			on_verified(arg, seq);
		return;
	}
	uint32_t back = c->expect - 1 - seq;
	if (back < PAYLOAD_REORDER_WINDOW &&
	    (c->missing & (uint64_t)1 << back) != 0) {
		c->missing &= ~((uint64_t)1 << back);
		counts->lost--;
		counts->reordered++;
		return;
	}
	/* Came back twice, or too late to tell. */
	counts->extra_bytes += len;
}

void
payload_check_feed(struct payload_check *c, const char *data, size_t len,
    struct payload_counts *counts, payload_verified_fn *on_verified, void *arg)
{
	while (len > 0) {
		const char *lf = memchr(data, '\n', len);
		size_t take = lf != NULL ? (size_t)(lf - data) + 1 : len;

		if (c->overlong_len > 0) {
			/* Skipping a line already too long to be ours. */
			c->overlong_len += take;
			if (lf != NULL) {
				payload_check_corrupt(
				    c, c->overlong_len, counts);
				c->overlong_len = 0;
			}
		} else if (c->partial_len + take > c->size) {
			if (lf != NULL)
				payload_check_corrupt(
				    c, c->partial_len + take, counts);
			else
				c->overlong_len = c->partial_len + take;
			c->partial_len = 0;
		} else if (c->partial_len == 0 && lf != NULL) {
			/* The common case: a whole line, checked in place. */
			payload_check_line(
			    c, data, take, counts, on_verified, arg);
		} else {
			memcpy(c->partial + c->partial_len, data, take);
			c->partial_len += take;
			if (lf != NULL) {
				payload_check_line(c, c->partial,
				    c->partial_len, counts, on_verified, arg);
				c->partial_len = 0;
			}
		}
		data += take;
		len -= take;
	}
}

void
payload_check_finish(struct payload_check *c, struct payload_counts *counts)
{
	uint32_t outstanding = payload_check_outstanding(c);
	size_t unfinished = c->partial_len + c->overlong_len;

	/* A cut-off line is one of the outstanding messages, lost. */
	if (outstanding == 0)
		counts->extra_bytes += unfinished;
	counts->lost += outstanding;
	c->expect = c->sent;
	c->partial_len = 0;
	c->overlong_len = 0;
}

int
payload_check_overrun(const struct payload_check *c)
{
	uint64_t outstanding = payload_check_outstanding(c);
	uint64_t line = (uint64_t)c->partial_len + c->overlong_len;

	return line > (outstanding > 0 ? outstanding : 1) * (uint64_t)c->size;
}

uint32_t
payload_check_abandon(struct payload_check *c)
{
	uint32_t outstanding = payload_check_outstanding(c);

	c->expect = c->sent;
	c->partial_len = 0;
	c->overlong_len = 0;
	return outstanding;
}

void
payload_counts_add(struct payload_counts *dst, const struct payload_counts *src)
{
	dst->verified += src->verified;
	dst->corrupt += src->corrupt;
	dst->lost += src->lost;
	dst->reordered += src->reordered;
	dst->extra_bytes += src->extra_bytes;
}
