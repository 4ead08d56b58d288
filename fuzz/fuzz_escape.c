/*
 * fuzz_escape.c - libFuzzer target for the escaper: whatever the bytes,
 * the rendering holds no raw control byte (C0 but tab, DEL, C1 raw or as
 * UTF-8, the bidi and line-separator controls), is valid UTF-8, fits
 * ESCAPE_BOUND, and escape_render_bounded stays inside its buffer.  A
 * broken property aborts, which libFuzzer reports as a crash.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"
#include "fuzz_utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reports a broken property and aborts, so libFuzzer keeps the input. */
static void
fuzz_escape_fail(const char *what, const char *out, size_t outlen)
{
	size_t i;

	fprintf(stderr, "fuzz_escape: property broken: %s\noutput:", what);
	for (i = 0; i < outlen && i < 256; i++)
		fprintf(stderr, " %02x", (unsigned char)out[i]);
	fputc('\n', stderr);
	abort();
}

/* Whether a terminal must never see cp raw. */
static int
fuzz_escape_is_control(uint32_t cp)
{
	return (cp < 0x20 && cp != '\t') || cp == 0x7f ||
	    (cp >= 0x80 && cp <= 0x9f) || cp == 0x200e || cp == 0x200f ||
	    (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

/*
 * Whether s[0..len) is valid UTF-8 without a control.  Returns 1 if so,
 * 0 for a control, -1 for invalid UTF-8.
 */
static int
fuzz_escape_clean(const unsigned char *s, size_t len)
{
	size_t i = 0, n;
	uint32_t cp;

	while (i < len) {
		if ((n = fuzz_utf8_decode(s + i, len - i, &cp)) == 0)
			return -1;
		if (fuzz_escape_is_control(cp))
			return 0;
		i += n;
	}
	return 1;
}

/* Checks what every rendering promises: safe, valid, NUL-terminated. */
static void
fuzz_escape_check_output(const char *out, size_t outlen)
{
	switch (fuzz_escape_clean((const unsigned char *)out, outlen)) {
	case 0:
		fuzz_escape_fail("raw control in the output", out, outlen);
		break;
	case -1:
		fuzz_escape_fail("output is not valid UTF-8", out, outlen);
		break;
	}
	if (out[outlen] != '\0' || strlen(out) != outlen)
		fuzz_escape_fail("length or NUL terminator wrong", out, outlen);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	size_t full_len, outsize, n, cut;
	char *full, *out;

	/* The whole rendering, in a buffer of exactly ESCAPE_BOUND bytes. */
	if ((full = malloc(ESCAPE_BOUND(size))) == NULL)
		return 0;
	full_len = escape_render(full, in, size);
	if (full_len + 1 > ESCAPE_BOUND(size))
		fuzz_escape_fail("longer than ESCAPE_BOUND", full, full_len);
	fuzz_escape_check_output(full, full_len);
	if (fuzz_escape_clean(data, size) == 1 &&
	    (full_len != size || memcmp(full, in, size) != 0))
		fuzz_escape_fail("clean UTF-8 was changed", full, full_len);

	/*
	 * The bounded rendering, into exactly outsize bytes so that ASan
	 * sees any byte written past them.  outsize comes from the input's
	 * first two bytes so that every cut gets tried.
	 */
	outsize = size >= 2 ? ((size_t)data[0] << 8 | data[1]) : size;
	outsize %= ESCAPE_BOUND(size) + 8;
	if ((out = malloc(outsize)) == NULL && outsize > 0) {
		free(full);
		return 0;
	}
	n = escape_render_bounded(out, outsize, in, size);
	if (outsize == 0) {
		if (n != 0)
			fuzz_escape_fail("wrote into an empty buffer", full, 0);
	} else {
		if (n >= outsize)
			fuzz_escape_fail("bounded output overflows", out, n);
		fuzz_escape_check_output(out, n);
		if (full_len < outsize) {
			/* It all fits: nothing may be cut. */
			if (n != full_len || memcmp(out, full, n) != 0)
				fuzz_escape_fail(
				    "cut although it fits", out, n);
		} else if (outsize >= 4) {
			/* A cut: a prefix of the rendering, then "...". */
			if (n < 3 || memcmp(out + n - 3, "...", 3) != 0)
				fuzz_escape_fail("cut without \"...\"", out, n);
			cut = n - 3;
			if (memcmp(out, full, cut) != 0)
				fuzz_escape_fail("cut is not a prefix", out, n);
		} else if (n != 0) {
			fuzz_escape_fail(
			    "no room for \"...\" yet output", out, n);
		}
	}
	free(out);
	free(full);
	return 0;
}
