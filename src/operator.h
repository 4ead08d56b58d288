/*
 * operator.h - what the operator types at tcpchatd's console: plain text
 * for the chosen client (chat) or for everyone (room), and commands
 * (/list, /to, /msg, /all, /kick, /history, /stats, /help, /quit).
 */
#ifndef TCPCHAT_OPERATOR_H
#define TCPCHAT_OPERATOR_H

#include <stddef.h>
#include <stdint.h>

#include "relay.h"

struct console;
struct registry;
struct stats;

/* Asks the server to shut down (/quit). */
typedef void (*operator_quit_fn)(void *ctx);

struct operator
{
	enum relay_mode mode;
	struct relay *relay; /* sends, and reports what did not go */
	struct registry *registry; /* who is online */
	struct console *console; /* where answers go */
	struct stats *stats; /* for /stats */
	operator_quit_fn quit;
	void *quit_ctx;
	uint64_t target; /* chosen with /to, 0 for none */
};

/* Handles one console line; a console_line_fn (ctx is the operator). */
void operator_on_line(void *ctx, const char *line, size_t len);

#endif
