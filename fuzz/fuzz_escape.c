/*
 * fuzz_escape.c - libFuzzer target for the escaper, in both modes:
 * whatever the bytes, the rendering holds no raw control byte and no
 * code point of General Category Cc or Cf, nor U+2028 or U+2029 (tab
 * excepted); it is valid UTF-8, fits ESCAPE_BOUND, and the bounded
 * rendering stays inside its buffer.  With ESCAPE_BACKSLASH every
 * backslash out starts an escape and the rendering decodes back to the
 * input byte for byte, so no escape can be faked.  A broken property
 * aborts, which libFuzzer reports as a crash.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unictype.h>
#include <unistr.h>

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

/*
 * Whether a terminal must never see cp raw: by its Unicode property,
 * asked through another libunistring entry point than escape.c's.
 */
static int
fuzz_escape_is_control(uint32_t cp)
{
	uc_general_category_t gc = uc_general_category(cp);

	if (cp == '\t')
		return 0;
	return uc_is_general_category(cp, UC_CATEGORY_Cc) ||
	    uc_is_general_category(cp, UC_CATEGORY_Cf) ||
	    strcmp(uc_general_category_name(gc), "Zl") == 0 ||
	    strcmp(uc_general_category_name(gc), "Zp") == 0;
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

/* The value of n hex digits at s, or -1 if they are not all hex. */
static long
fuzz_escape_hex(const char *s, size_t avail, size_t n)
{
	long v = 0;

	if (avail < n)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c >= '0' && c <= '9')
			v = v * 16 + (c - '0');
		else if (c >= 'a' && c <= 'f')
			v = v * 16 + (c - 'a' + 10);
		else
			return -1;
	}
	return v;
}

/*
 * Decodes an ESCAPE_BACKSLASH rendering as a reader would: "\\", "\n",
 * "\r", "\xHH", "\uHHHH", "\UHHHHHHHH", anything else as it is.  Aborts
 * on a backslash that starts none of them.  Returns the decoded length;
 * out holds at least len bytes.
 */
static size_t
fuzz_escape_unvis(const char *in, size_t len, unsigned char *out)
{
	size_t i = 0, o = 0;
	long v;

	while (i < len) {
		if (in[i] != '\\') {
			out[o++] = (unsigned char)in[i++];
			continue;
		}
		if (i + 1 >= len)
			fuzz_escape_fail(
			    "a lone backslash at the end", in, len);
		switch (in[i + 1]) {
		case '\\':
			out[o++] = '\\';
			i += 2;
			break;
		case 'n':
			out[o++] = '\n';
			i += 2;
			break;
		case 'r':
			out[o++] = '\r';
			i += 2;
			break;
		case 'x':
			if ((v = fuzz_escape_hex(in + i + 2, len - i - 2, 2)) <
			    0)
				fuzz_escape_fail("a bad \\x escape", in, len);
			out[o++] = (unsigned char)v;
			i += 4;
			break;
		case 'u':
		case 'U': {
			size_t digits = in[i + 1] == 'u' ? 4 : 8;
			v = fuzz_escape_hex(in + i + 2, len - i - 2, digits);
			if (v < 0 || v > 0x10ffff ||
			    !fuzz_escape_is_control((uint32_t)v) ||
			    (digits == 8) != (v > 0xffff))
				fuzz_escape_fail("a bad \\u escape", in, len);
			o += (size_t)u8_uctomb(out + o, (ucs4_t)v, 4);
			i += 2 + digits;
			break;
		}
		default:
			fuzz_escape_fail(
			    "a backslash that starts no escape", in, len);
		}
	}
	return o;
}

/*
 * The ESCAPE_BACKSLASH rendering: safe like the other, and every
 * backslash in it is an escape, so that decoding gives the input back.
 */
static void
fuzz_escape_check_vis(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	char *vis = malloc(ESCAPE_BOUND(size));
	unsigned char *back = malloc(ESCAPE_BOUND(size));
	size_t n, m;

	if (vis == NULL || back == NULL)
		goto out;
	n = escape_render_flags(vis, in, size, ESCAPE_BACKSLASH);
	if (n + 1 > ESCAPE_BOUND(size))
		fuzz_escape_fail("longer than ESCAPE_BOUND", vis, n);
	fuzz_escape_check_output(vis, n);
	m = fuzz_escape_unvis(vis, n, back);
	if (m != size || memcmp(back, data, size) != 0)
		fuzz_escape_fail("does not decode to the input", vis, n);
	if (fuzz_escape_clean(data, size) == 1 &&
	    memchr(data, '\\', size) == NULL &&
	    (n != size || memcmp(vis, in, size) != 0))
		fuzz_escape_fail("clean UTF-8 was changed", vis, n);
out:
	free(back);
	free(vis);
}

/*
 * The bounded rendering with flags of a cut-off point: a prefix of the
 * whole one then "...", and in backslash mode still only escapes.
 */
static void
fuzz_escape_check_bounded_vis(const uint8_t *data, size_t size, size_t outsize)
{
	char *full = malloc(ESCAPE_BOUND(size)), *out = malloc(outsize + 1);
	unsigned char *back = malloc(ESCAPE_BOUND(size));
	size_t full_len, n;

	if (full == NULL || out == NULL || back == NULL || outsize == 0)
		goto out;
	full_len = escape_render_flags(
	    full, (const char *)data, size, ESCAPE_BACKSLASH);
	n = escape_render_bounded_flags(
	    out, outsize, (const char *)data, size, ESCAPE_BACKSLASH);
	if (n >= outsize)
		fuzz_escape_fail("bounded output overflows", out, n);
	fuzz_escape_check_output(out, n);
	if (full_len < outsize) {
		if (n != full_len || memcmp(out, full, n) != 0)
			fuzz_escape_fail("cut although it fits", out, n);
	} else if (n >= 3) {
		if (memcmp(out + n - 3, "...", 3) != 0 ||
		    memcmp(out, full, n - 3) != 0)
			fuzz_escape_fail(
			    "cut is not a prefix and \"...\"", out, n);
		/* The kept part is whole escapes only. */
		fuzz_escape_unvis(out, n - 3, back);
	}
out:
	free(back);
	free(out);
	free(full);
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
	fuzz_escape_check_vis(data, size);
	fuzz_escape_check_bounded_vis(data, size, outsize);
	return 0;
}
