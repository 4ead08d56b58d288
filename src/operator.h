/*
 * operator.h - what operators type at tcpchatd's consoles (the terminal,
 * a pipe, the control socket): plain text for the chosen client (chat)
 * or for everyone (room), and commands (/list, /to, /msg, /r, /all,
 * /kick, /history, /stats, /help, /quit).  Each operator attached has
 * its own state: its chosen client and its prompt.  Commands are strict:
 * a malformed one gets a usage line and sends nothing; every message
 * sent is confirmed once ("-> #2: text").
 */
#ifndef TCPCHAT_OPERATOR_H
#define TCPCHAT_OPERATOR_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "console.h"
#include "relay.h"

struct registry;
struct stats;

/* Asks the server to shut down (/quit). */
typedef void (*operator_quit_fn)(void *ctx);

/* What every operator shares: the server they command. */
struct operator
{
	enum relay_mode mode;
	struct relay *relay; /* sends, and reports what did not go */
	struct registry *registry; /* who is online */
	struct console *console; /* where events go */
	struct stats *stats; /* for /stats */
	operator_quit_fn quit;
	void *quit_ctx;
	atomic_int quitting; /* /quit given: no more commands */
};

/* The console's callbacks for operators (ctx: a struct operator). */
extern const struct console_callbacks operator_console_callbacks;

/*
 * A client left (any thread): every operator that had chosen it is told
 * so, and its prompt changes back.
 */
void operator_client_left(struct operator* op);

#endif
