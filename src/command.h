/*
 * command.h - what a client's line means: text, or one of the client
 * commands (a line starting with one '/'; "//text" is the text "/text").
 * Command names are matched without regard to ASCII case; arguments are
 * separated by spaces or tabs.  Pure: it points into the line, copies
 * nothing and knows nothing of names or sessions.
 */
#ifndef TCPCHAT_COMMAND_H
#define TCPCHAT_COMMAND_H

#include <stddef.h>

enum command_kind {
	COMMAND_TEXT, /* not a command: arg is the text to relay */
	COMMAND_NICK, /* /nick NAME: arg is the name */
	COMMAND_WHO, /* /who */
	COMMAND_ME, /* /me ACTION: arg is the action */
	COMMAND_MSG, /* /msg TARGET TEXT: target, then arg the text */
	COMMAND_QUIT, /* /quit [REASON]: arg is the reason, maybe empty */
	COMMAND_HELP, /* /help */
	COMMAND_UNKNOWN /* target is the command word as typed, '/' first */
};

struct command {
	enum command_kind kind;
	int usage; /* the arguments it needs are missing */
	const char *target; /* see the kinds above */
	size_t target_len;
	const char *arg;
	size_t arg_len;
};

/* Parses line[0..len) (no newline) into cmd. */
void command_parse(const char *line, size_t len, struct command *cmd);

/* How a command is used ("/msg ID|NAME TEXT"); "" for TEXT and UNKNOWN. */
const char *command_usage(enum command_kind kind);

#endif
