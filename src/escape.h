/*
 * escape.h - renders untrusted bytes for a terminal or a log.
 *
 * Valid, printable UTF-8 (Chinese included) passes unchanged, and so
 * does tab.  C0 controls, DEL, ESC and invalid UTF-8 bytes become
 * visible escapes such as \x1b, \r and \n; C1 controls and the Unicode
 * controls that reorder or break lines (U+2028, U+202E, ...) become
 * \u0085-style escapes.  The output never holds a raw control byte.
 */
#ifndef TCPCHAT_ESCAPE_H
#define TCPCHAT_ESCAPE_H

#include <stddef.h>

/* Bytes escape_render may need for len input bytes, NUL included. */
#define ESCAPE_BOUND(len) ((len)*4 + 1)

/*
 * Renders in[0..len) into out, which holds at least ESCAPE_BOUND(len)
 * bytes, and NUL-terminates it.  Returns the output length.
 */
size_t escape_render(char *out, const char *in, size_t len);

/*
 * As escape_render, into a buffer of outsize bytes: stops before an
 * escape that would not fit and marks the cut with "...".  Returns the
 * output length.
 */
size_t escape_render_bounded(
    char *out, size_t outsize, const char *in, size_t len);

#endif
