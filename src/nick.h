/*
 * nick.h - the rules for a client's name: 1 to NICK_MAX_CHARS characters
 * of valid UTF-8, each a letter (with the combining marks that follow
 * it), a decimal digit, '_', '-' or '.', by Unicode General Category
 * (libunistring); not digits alone (those are ids); not a reserved word
 * (the console's "operator", the server's "tcpchatd").  Two names are
 * the same when they match without regard to case or compatibility
 * forms (Unicode case folding with NFKC: "Bob", "bob" and a fullwidth
 * "ｂｏｂ" are one name).  Pure: no state, no allocation kept.
 */
#ifndef TCPCHAT_NICK_H
#define TCPCHAT_NICK_H

#include <stddef.h>

/* Characters (code points) in a name at most. */
#define NICK_MAX_CHARS 32
/* Bytes of UTF-8 a valid name holds at most. */
#define NICK_MAX_BYTES (4 * NICK_MAX_CHARS)

enum nick_error {
	NICK_OK = 0,
	NICK_EMPTY = -1, /* no name at all */
	NICK_TOO_LONG = -2, /* more than NICK_MAX_CHARS characters */
	NICK_BAD_UTF8 = -3, /* not valid UTF-8 */
	NICK_BAD_CHAR = -4, /* a character other than those allowed */
	NICK_DIGITS = -5, /* digits only: it would read as an id */
	NICK_RESERVED = -6 /* "operator" or "tcpchatd", in any case */
};

/* Whether name[0..len) is a valid name: NICK_OK or why not. */
enum nick_error nick_check(const char *name, size_t len);

/* Why a name is not valid, as a phrase for "error: ..." messages. */
const char *nick_strerror(enum nick_error err);

/*
 * Whether two valid names are the same name (case and compatibility
 * forms aside).  1 if so, 0 if not (or when memory ran out comparing).
 */
int nick_same(const char *a, size_t alen, const char *b, size_t blen);

#endif
