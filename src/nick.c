/* nick.c - which names a client may take, and when two are one. */
#include "config.h"

#include <string.h>

#include <unicase.h>
#include <unictype.h>
#include <uninorm.h>
#include <unistr.h>

#include "nick.h"

static const char *const nick_reserved[] = {"operator", "tcpchatd"};

/* Whether c may be in a name; first: it would be the first character. */
static int
nick_allowed(ucs4_t c, int first)
{
	if (c == '_' || c == '-' || c == '.')
		return 1;
	if (uc_is_general_category_withtable(
	        c, UC_CATEGORY_MASK_L | UC_CATEGORY_MASK_Nd))
		return 1;
	/* A combining mark belongs to the letter before it. */
	return !first &&
	    uc_is_general_category_withtable(c, UC_CATEGORY_MASK_M);
}

enum nick_error
nick_check(const char *name, size_t len)
{
	const uint8_t *s = (const uint8_t *)name;
	size_t chars = 0, digits = 0;

	if (len == 0)
		return NICK_EMPTY;
	for (size_t i = 0; i < len;) {
		ucs4_t c;
		int n = u8_mbtoucr(&c, s + i, len - i);
		if (n < 0)
			return NICK_BAD_UTF8;
		if (!nick_allowed(c, chars == 0))
			return NICK_BAD_CHAR;
		if (++chars > NICK_MAX_CHARS)
			return NICK_TOO_LONG;
		if (c >= '0' && c <= '9')
			digits++;
		i += (size_t)n;
	}
	if (digits == chars)
		return NICK_DIGITS;
	for (size_t i = 0; i < sizeof(nick_reserved) / sizeof(nick_reserved[0]);
	     i++)
		if (nick_same(
		        name, len, nick_reserved[i], strlen(nick_reserved[i])))
			return NICK_RESERVED;
	return NICK_OK;
}

const char *
nick_strerror(enum nick_error err)
{
	switch (err) {
	case NICK_OK:
		return "a valid name";
	case NICK_EMPTY:
		return "no name given";
	case NICK_TOO_LONG:
		return "a name has at most 32 characters";
	case NICK_BAD_UTF8:
		return "a name must be valid UTF-8";
	case NICK_BAD_CHAR:
		return "a name may hold only letters, digits, _ - and .";
	case NICK_DIGITS:
		return "a name cannot be digits alone (those are ids)";
	case NICK_RESERVED:
		return "that name is reserved";
	}
	return "not a valid name";
}

int
nick_same(const char *a, size_t alen, const char *b, size_t blen)
{
	int result;

	if (u8_casecmp((const uint8_t *)a, alen, (const uint8_t *)b, blen, NULL,
	        UNINORM_NFKC, &result) != 0)
		return 0;
	return result == 0;
}
