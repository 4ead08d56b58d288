/*
 * telnet.h - a pure filter for telnet's in-band commands (RFC 854), so
 * that a telnet user can join a line-based chat with no setup.
 *
 * IAC followed by a command byte is consumed; so are the option
 * negotiations (IAC DO, DONT, WILL or WONT, then the option) and
 * subnegotiations (IAC SB ... IAC SE).  IAC IAC is one literal 0xFF
 * byte, and CR NUL a bare CR.  An Interrupt Process (IAC IP, what telnet
 * sends for Ctrl-C) is consumed like any command: ignored.
 *
 * A request to turn an option on (DO or WILL) is answered with a refusal
 * (WONT or DONT), the answer RFC 854 asks of a party that supports no
 * options.  Without it a telnet user would go deaf after Ctrl-C: telnet
 * sends IAC IP IAC DO TIMING-MARK and discards what arrives until the
 * TIMING-MARK is answered.  Refusals are never answered, so no
 * negotiation loops.
 *
 * 0xFF never occurs in UTF-8, so the filter leaves every UTF-8 client's
 * text alone.  State is kept across calls: a sequence may be split
 * anywhere.  No syscalls, no allocation.
 */
#ifndef TCPCHAT_TELNET_H
#define TCPCHAT_TELNET_H

#include <stddef.h>

/* The bytes of RFC 854 the filter knows. */
#define TELNET_IAC 0xff
#define TELNET_DONT 0xfe
#define TELNET_DO 0xfd
#define TELNET_WONT 0xfc
#define TELNET_WILL 0xfb
#define TELNET_SB 0xfa
#define TELNET_IP 0xf4
#define TELNET_SE 0xf0

/* Reply bytes telnet_filter may write for len input bytes. */
#define TELNET_REPLY_BOUND(len) ((len) + 2)

struct telnet {
	unsigned char state; /* where in a sequence the last byte left us */
	unsigned char verb; /* DO, DONT, WILL or WONT awaiting its option */
};

/* Starts a filter outside any sequence. */
void telnet_init(struct telnet *t);

/*
 * Filters buf[0..len) in place and returns the length of the data left
 * at its start.  Refusals to send to the peer are written to reply,
 * which holds at least TELNET_REPLY_BOUND(len) bytes; *reply_len gets
 * their length (0 when there are none).
 */
size_t telnet_filter(
    struct telnet *t, char *buf, size_t len, char *reply, size_t *reply_len);

#endif
