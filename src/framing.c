/* framing.c - a pure line assembler: bytes in, messages out. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "framing.h"

#define FRAMING_MIN_CAP 256

void
framing_init(struct framing *f, size_t max)
{
	memset(f, 0, sizeof(*f));
	f->max = max;
}

void
framing_free(struct framing *f)
{
	free(f->buf);
	framing_init(f, f->max);
}

/* Forgets the bytes handed out by the previous call. */
static void
framing_forget_delivered(struct framing *f)
{
	if (f->drop == 0)
		return;
	f->len -= f->drop;
	if (f->len > 0)
		memmove(f->buf, f->buf + f->drop, f->len);
	f->drop = 0;
}

/* Makes room for need bytes in all.  0, or -1 when memory ran out. */
static int
framing_reserve(struct framing *f, size_t need)
{
	size_t cap;
	char *p;

	if (need <= f->cap)
		return 0;
	cap = f->cap ? f->cap : FRAMING_MIN_CAP;
	while (cap < need)
		cap *= 2;
	if (cap - 1 > f->max) /* not cap > max + 1: max may be SIZE_MAX */
		cap = f->max + 1;
	if (cap < need)
		cap = need;
	if ((p = realloc(f->buf, cap)) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	f->buf = p;
	f->cap = cap;
	return 0;
}

static int
framing_overflow(struct framing *f)
{
	f->too_long = 1;
	return FRAMING_TOO_LONG;
}

int
framing_push(struct framing *f, const char **in, size_t *inlen,
    const char **msg, size_t *msglen)
{
	const char *p = *in, *lf;
	size_t n = *inlen, take, line;

	framing_forget_delivered(f);
	if (f->too_long)
		return FRAMING_TOO_LONG;
	lf = memchr(p, '\n', n);
	take = lf ? (size_t)(lf - p) : n;
	line = f->len + take;

	if (lf == NULL) {
		/*
		 * A CR may still be the first half of a CRLF: allow one.  With
		 * no input the line's last byte is the assembler's, and max + 1
		 * is never computed, as max may be SIZE_MAX.
		 */
		if (line > f->max &&
		    (line - f->max > 1 ||
		        (n > 0 ? p[n - 1] : f->buf[f->len - 1]) != '\r'))
			return framing_overflow(f);
		if (n > 0) {
			if (framing_reserve(f, line) == -1)
				return FRAMING_TOO_LONG;
			memcpy(f->buf + f->len, p, n);
			f->len = line;
		}
		*in += n;
		*inlen = 0;
		return FRAMING_INCOMPLETE;
	}

	/* A terminated line: drop the CR of a CRLF. */
	if (line > 0 && (take > 0 ? p[take - 1] : f->buf[f->len - 1]) == '\r')
		line--;
	if (line > f->max)
		return framing_overflow(f);
	if (f->len == 0) {
		/* The whole line is in the caller's input: no copy. */
		*msg = p;
	} else {
		if (framing_reserve(f, f->len + take) == -1)
			return FRAMING_TOO_LONG;
		memcpy(f->buf + f->len, p, take);
		f->len += take;
		f->drop = f->len;
		*msg = f->buf;
	}
	*msglen = line;
	*in += take + 1;
	*inlen -= take + 1;
	return FRAMING_COMPLETE;
}

/*
 * Where the last whole UTF-8 character ends in buf[0..len): len, or the
 * start of a multi-byte character whose bytes have not all arrived.
 */
static size_t
framing_utf8_boundary(const unsigned char *buf, size_t len)
{
	size_t i, need;

	for (i = len; i > 0 && len - i < 4; i--) {
		unsigned char c = buf[i - 1];
		if ((c & 0xc0) == 0x80)
			continue; /* a continuation byte: look further back */
		if (c >= 0xc2 && c <= 0xdf)
			need = 2;
		else if (c >= 0xe0 && c <= 0xef)
			need = 3;
		else if (c >= 0xf0 && c <= 0xf4)
			need = 4;
		else
			return len; /* ASCII or a byte no character starts with
			             */
		return len - (i - 1) < need ? i - 1 : len;
	}
	return len;
}

int
framing_flush(struct framing *f, int force, const char **msg, size_t *msglen)
{
	size_t cut, line;

	framing_forget_delivered(f);
	if (f->too_long || f->len == 0)
		return 0;
	cut = force
	    ? f->len
	    : framing_utf8_boundary((const unsigned char *)f->buf, f->len);
	if (cut == 0)
		return 0;
	line = cut;
	if (f->buf[line - 1] == '\r')
		line--;
	*msg = f->buf;
	*msglen = line;
	f->drop = cut;
	return 1;
}

size_t
framing_pending(const struct framing *f)
{
	return f->len - f->drop;
}
