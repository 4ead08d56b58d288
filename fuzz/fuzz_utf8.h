/*
 * fuzz_utf8.h - a strict UTF-8 decoder for the fuzz targets' property
 * checks, written apart from escape.c's so that the two check each other.
 */
#ifndef TCPCHAT_FUZZ_UTF8_H
#define TCPCHAT_FUZZ_UTF8_H

#include <stddef.h>
#include <stdint.h>

/*
 * Decodes one strict UTF-8 character (shortest form, no surrogates, at
 * most U+10FFFF) at s[0..len).  Returns its length with *cp set, or 0 if
 * the bytes start no valid character.
 */
static inline size_t
fuzz_utf8_decode(const unsigned char *s, size_t len, uint32_t *cp)
{
	size_t need, i;
	uint32_t c;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if ((s[0] & 0xe0) == 0xc0) {
		need = 2;
		c = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		need = 3;
		c = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		need = 4;
		c = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len < need)
		return 0;
	for (i = 1; i < need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if ((need == 2 && c < 0x80) || (need == 3 && c < 0x800) ||
	    (need == 4 && c < 0x10000) || c > 0x10ffff ||
	    (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return need;
}

#endif
