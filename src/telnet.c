/* telnet.c - telnet's in-band commands taken out of a byte stream. */
#include "config.h"

#include "telnet.h"

#define TELNET_CR '\r'

enum telnet_state {
	TELNET_DATA, /* plain bytes */
	TELNET_CMD, /* after IAC */
	TELNET_OPTION, /* after IAC DO, DONT, WILL or WONT */
	TELNET_SUB, /* inside IAC SB ... */
	TELNET_SUB_IAC, /* an IAC inside a subnegotiation */
	TELNET_AFTER_CR /* a CR: a NUL after it is dropped */
};

void
telnet_init(struct telnet *t)
{
	t->state = TELNET_DATA;
	t->verb = 0;
}

/* The refusal of a request to turn option on, or 0 for none due. */
static unsigned char
telnet_refusal(unsigned char verb)
{
	if (verb == TELNET_DO)
		return TELNET_WONT;
	if (verb == TELNET_WILL)
		return TELNET_DONT;
	return 0;
}

size_t
telnet_filter(
    struct telnet *t, char *buf, size_t len, char *reply, size_t *reply_len)
{
	unsigned char *p = (unsigned char *)buf;
	size_t out = 0, nreply = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = p[i], refusal;

		switch (t->state) {
		case TELNET_AFTER_CR:
			t->state = TELNET_DATA;
			if (c == '\0')
				break; /* CR NUL: the CR alone */
			/* FALLTHROUGH */
		case TELNET_DATA:
			if (c == TELNET_IAC) {
				t->state = TELNET_CMD;
				break;
			}
			if (c == TELNET_CR)
				t->state = TELNET_AFTER_CR;
			p[out++] = c;
			break;
		case TELNET_CMD:
			t->state = TELNET_DATA;
			if (c == TELNET_IAC) {
				p[out++] = c; /* IAC IAC: a literal 0xFF */
			} else if (c == TELNET_SB) {
				t->state = TELNET_SUB;
			} else if (c >= TELNET_WILL) {
				t->verb = c;
				t->state = TELNET_OPTION;
			}
			/* Any other command (IP, AYT, NOP, ...): consumed. */
			break;
		case TELNET_OPTION:
			t->state = TELNET_DATA;
			if ((refusal = telnet_refusal(t->verb)) != 0) {
				reply[nreply++] = (char)TELNET_IAC;
				reply[nreply++] = (char)refusal;
				reply[nreply++] = (char)c;
			}
			break;
		case TELNET_SUB:
			if (c == TELNET_IAC)
				t->state = TELNET_SUB_IAC;
			break;
		case TELNET_SUB_IAC:
			/* IAC SE ends it; IAC IAC is a 0xFF inside it. */
			t->state = c == TELNET_SE ? TELNET_DATA : TELNET_SUB;
			break;
		}
	}
	*reply_len = nreply;
	return out;
}
