/*
 * escape.h - renders untrusted bytes for a terminal or a log.
 *
 * Valid, printable UTF-8 (Chinese included) passes unchanged, and so
 * does tab.  C0 controls, DEL, ESC and invalid UTF-8 bytes become
 * visible escapes such as \x1b, \r and \n.  Code points a terminal must
 * not see raw, classified by Unicode property (libunistring), become
 * \u061c-style escapes (\U000e0001 past U+FFFF): the controls (Cc, so
 * C1 too), every format character (Cf: bidi marks, embeddings and
 * isolates, zero-width characters, the soft hyphen, the BOM, tags...)
 * and the line and paragraph separators (U+2028, U+2029).  The output
 * never holds a raw control byte or any of those code points.
 */
#ifndef TCPCHAT_ESCAPE_H
#define TCPCHAT_ESCAPE_H

#include <stddef.h>

/* Bytes escape_render may need for len input bytes, NUL included. */
#define ESCAPE_BOUND(len) ((len)*4 + 1)

/*
 * A literal backslash becomes "\\", as vis(3) renders it, so that every
 * backslash in the output starts an escape and text typed as "\x1b"
 * ("\\x1b" out) cannot pass for an escaped ESC byte ("\x1b" out).  For
 * what a person reads: the console, the transcript.
 */
#define ESCAPE_BACKSLASH 0x1u

/*
 * Renders in[0..len) into out, which holds at least ESCAPE_BOUND(len)
 * bytes, and NUL-terminates it.  flags: 0 or ESCAPE_BACKSLASH.  Returns
 * the output length.
 */
size_t escape_render_flags(
    char *out, const char *in, size_t len, unsigned flags);

/* escape_render_flags without flags: a backslash passes unchanged. */
size_t escape_render(char *out, const char *in, size_t len);

/*
 * As escape_render_flags, into a buffer of outsize bytes: stops before
 * an escape that would not fit and marks the cut with "...".  Returns
 * the output length.
 */
size_t escape_render_bounded_flags(
    char *out, size_t outsize, const char *in, size_t len, unsigned flags);

/* escape_render_bounded_flags without flags. */
size_t escape_render_bounded(
    char *out, size_t outsize, const char *in, size_t len);

#endif
