/* escape.c - renders untrusted bytes for a terminal or a log. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unictype.h>

#include "escape.h"

/*
 * Decodes one UTF-8 character at in[0..len).  Returns its length (1 to
 * 4) with *cp set, or 0 when the bytes are not a valid, shortest-form
 * encoding of a scalar value (overlong forms, surrogates and values past
 * U+10FFFF are invalid).
 */
static size_t
escape_utf8_decode(const unsigned char *in, size_t len, uint32_t *cp)
{
	uint32_t c = in[0], min;
	size_t need, i;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		need = 2;
		c &= 0x1f;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		need = 3;
		c &= 0x0f;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 4;
		c &= 0x07;
		min = 0x10000;
	} else {
		return 0;
	}
	if (len < need)
		return 0;
	for (i = 1; i < need; i++) {
		if ((in[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (in[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return need;
}

/*
 * Code points shown as \uXXXX: controls (C1; C0 and DEL are handled
 * before), format characters and the line and paragraph separators.
 * Unassigned code points pass: a terminal shows them as a box.
 */
static int
escape_is_invisible(uint32_t cp)
{
	return uc_is_general_category_withtable(cp,
	    UC_CATEGORY_MASK_Cc | UC_CATEGORY_MASK_Cf | UC_CATEGORY_MASK_Zl |
	        UC_CATEGORY_MASK_Zp);
}

/*
 * Writes the escape for one byte or code point into out (16 bytes at
 * least); its length.
 */
static size_t
escape_one(char *out, const unsigned char *in, size_t len, size_t *used,
    unsigned flags)
{
	uint32_t cp;
	size_t n = escape_utf8_decode(in, len, &cp);

	if (n == 0) {
		*used = 1;
		return (size_t)sprintf(out, "\\x%02x", in[0]);
	}
	*used = n;
	if (cp == '\\' && (flags & ESCAPE_BACKSLASH))
		return (size_t)sprintf(out, "\\\\");
	if (cp == '\t' || (cp >= 0x20 && cp < 0x7f)) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp == '\n')
		return (size_t)sprintf(out, "\\n");
	if (cp == '\r')
		return (size_t)sprintf(out, "\\r");
	if (cp < 0x20 || cp == 0x7f)
		return (size_t)sprintf(out, "\\x%02x", cp);
	if (escape_is_invisible(cp))
		return (size_t)sprintf(
		    out, cp > 0xffff ? "\\U%08x" : "\\u%04x", cp);
	memcpy(out, in, n);
	return n;
}

size_t
escape_render_flags(char *out, const char *in, size_t len, unsigned flags)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t i = 0, o = 0, used;

	while (i < len) {
		o += escape_one(out + o, p + i, len - i, &used, flags);
		i += used;
	}
	out[o] = '\0';
	return o;
}

/* The length escape_render would return for in[0..len). */
static size_t
escape_rendered_length(const unsigned char *in, size_t len, unsigned flags)
{
	char one[16];
	size_t i = 0, o = 0, used;

	while (i < len) {
		o += escape_one(one, in + i, len - i, &used, flags);
		i += used;
	}
	return o;
}

size_t
escape_render(char *out, const char *in, size_t len)
{
	return escape_render_flags(out, in, len, 0);
}

size_t
escape_render_bounded_flags(
    char *out, size_t outsize, const char *in, size_t len, unsigned flags)
{
	const unsigned char *p = (const unsigned char *)in;
	char one[16];
	size_t i = 0, o = 0, used, n;
	int fits;

	if (outsize == 0)
		return 0;
	/* Only a rendering that does not fit is cut. */
	fits = escape_rendered_length(p, len, flags) < outsize;
	while (i < len) {
		n = escape_one(one, p + i, len - i, &used, flags);
		if (!fits && o + n + 4 > outsize) {
			/* No room for this and a "..." after it. */
			if (o + 4 <= outsize) {
				memcpy(out + o, "...", 3);
				o += 3;
			}
			break;
		}
		memcpy(out + o, one, n);
		o += n;
		i += used;
	}
	out[o] = '\0';
	return o;
}

size_t
escape_render_bounded(char *out, size_t outsize, const char *in, size_t len)
{
	return escape_render_bounded_flags(out, outsize, in, len, 0);
}
