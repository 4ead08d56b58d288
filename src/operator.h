/*
 * operator.h - what the operator types at tcpchatd's console: plain text
 * for the chosen client (chat) or for everyone (room), and commands
 * (/list, /to, /msg, /all, /kick, /stats, /help, /quit).
 */
#ifndef TCPCHAT_OPERATOR_H
#define TCPCHAT_OPERATOR_H

#include <stddef.h>
#include <stdint.h>

struct server;

struct operator_state {
	struct server *srv;
	uint64_t target; /* chosen with /to, 0 for none */
};

void operator_init(struct operator_state *op, struct server *srv);

/* Handles one console line; a console_line_fn (ctx is the operator). */
void operator_on_line(void *ctx, const char *line, size_t len);

#endif
