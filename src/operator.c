/* operator.c - commands and replies typed at tcpchatd's console. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "console.h"
#include "escape.h"
#include "operator.h"
#include "registry.h"
#include "relay.h"
#include "session.h"
#include "stats.h"

#define OPERATOR_HELP                                                          \
	"commands:\n"                                                          \
	"  TEXT          send TEXT to the chosen client (chat) or to all "     \
	"(room)\n"                                                             \
	"  /to ID        choose the client plain text goes to\n"               \
	"  /msg ID TEXT  send TEXT to client ID\n"                             \
	"  /all TEXT     send TEXT to every client\n"                          \
	"  /list         clients online: id, address, time, messages in/out\n" \
	"  /kick ID [REASON]  disconnect client ID, telling why\n"             \
	"  /history      the room's last lines, as joiners get them\n"         \
	"                (a client's name will do wherever an ID is asked)\n"  \
	"  /stats        server counters\n"                                    \
	"  /quit         tell every client, then shut down\n"                  \
	"  //TEXT        send TEXT starting with one /\n"                      \
	"  /help         this list"

static void operator_update_prompt(struct operator* op)
{
	char prompt[64];

	if (op->target != 0)
		snprintf(
		    prompt, sizeof(prompt), "to #%" PRIu64 "> ", op->target);
	else
		snprintf(prompt, sizeof(prompt), "tcpchatd> ");
	console_set_prompt(op->console, prompt);
}

/*
 * Parses a client at *p: "7", "#7" or a name, advancing past it.  Its
 * id, or 0: none given (*said 0), or no such client (*said 1: the
 * console was told).
 */
static uint64_t
operator_parse_id(struct operator* op, const char **p, int *said)
{
	const char *word = *p, *end;
	struct session *s;
	uint64_t id = 0;

	*said = 0;
	while (*word == ' ')
		word++;
	for (end = word; *end != '\0' && *end != ' '; end++)
		;
	if (end == word)
		return 0;
	*said = 1;
	if ((s = relay_find(op->relay, word, (size_t)(end - word))) != NULL) {
		id = s->id;
		session_unref(s);
	} else {
		char shown[64];
		escape_render_bounded(
		    shown, sizeof(shown), word, (size_t)(end - word));
		console_print(op->console, "no such client %s%s",
		    word[0] >= '0' && word[0] <= '9' ? "#" : "", shown);
	}
	while (*end == ' ')
		end++;
	*p = end;
	return id;
}

/* Sends to client id, or says there is no such client. */
static void
operator_send_to(struct operator* op, uint64_t id, const char *text, size_t len)
{
	struct session *s = registry_find(op->registry, id);

	if (s == NULL) {
		console_print(op->console, "no such client #%" PRIu64, id);
		return;
	}
	relay_operator_send(op->relay, s, text, len);
	session_unref(s);
}

static void
operator_send_all(struct operator* op, const char *text, size_t len)
{
	struct session **list;
	size_t n, sent = 0;

	list = registry_snapshot(op->registry, &n);
	sent = relay_operator_send_all(op->relay, list, n, text, len);
	registry_release(list, n);
	if (n == 0)
		console_print(op->console, "no clients online: nothing sent");
	else if (sent < n)
		console_print(
		    op->console, "sent to %zu of %zu clients", sent, n);
}

/* Plain text: to the chosen client, or the only one, or everyone. */
static void
operator_plain(struct operator* op, const char *text, size_t len)
{
	struct session **list;
	size_t n;

	if (op->mode == RELAY_ROOM) {
		operator_send_all(op, text, len);
		return;
	}
	if (op->mode == RELAY_ECHO) {
		console_print(op->console,
		    "echo mode: clients get their own bytes back; nothing sent (try /help)");
		return;
	}
	if (op->target != 0) {
		operator_send_to(op, op->target, text, len);
		return;
	}
	list = registry_snapshot(op->registry, &n);
	if (n == 1)
		relay_operator_send(op->relay, list[0], text, len);
	else if (n == 0)
		console_print(op->console, "no clients online: nothing sent");
	else
		console_print(op->console,
		    "%zu clients online: choose one with /to ID or /msg ID TEXT (see /list); nothing sent",
		    n);
	registry_release(list, n);
}

static void operator_list(struct operator* op)
{
	struct session **list;
	uint64_t now = clock_now_ms(), in, out;
	char dur[32], name[RELAY_NAME_MAX + 2];
	size_t n;

	list = registry_snapshot(op->registry, &n);
	console_print(op->console, "%zu client%s online", n, n == 1 ? "" : "s");
	for (size_t i = 0; i < n; i++) {
		session_counts(list[i], &in, &out);
		clock_duration(now - list[i]->connected_ms, dur, sizeof(dur));
		name[0] = ' ';
		relay_name(op->relay, list[i], name + 1, sizeof(name) - 1);
		console_print(op->console,
		    "  #%" PRIu64 " %s%s connected %s, %" PRIu64 " in, %" PRIu64
		    " out%s",
		    list[i]->id, list[i]->addr, name[1] ? name : "", dur, in,
		    out, list[i]->id == op->target ? " (chosen)" : "");
	}
	registry_release(list, n);
}

static void operator_stats(struct operator* op)
{
	struct stats *st = op->stats;
	char dur[32];

	clock_duration(clock_now_ms() - st->started_ms, dur, sizeof(dur));
	console_print(op->console,
	    "up %s, mode %s, %d online, %" PRIu64 " connections, %" PRIu64
	    " refused",
	    dur, relay_mode_name(op->mode), registry_count(op->registry),
	    (uint64_t)atomic_load(&st->connections),
	    (uint64_t)atomic_load(&st->refused));
	console_print(op->console,
	    "messages %" PRIu64 " in, %" PRIu64 " out, %" PRIu64
	    " undelivered; bytes %" PRIu64 " in, %" PRIu64 " out",
	    (uint64_t)atomic_load(&st->msgs_in),
	    (uint64_t)atomic_load(&st->io.msgs_out),
	    (uint64_t)atomic_load(&st->undelivered),
	    (uint64_t)atomic_load(&st->io.bytes_in),
	    (uint64_t)atomic_load(&st->io.bytes_out));
}

/* True when line is the command cmd, alone or followed by a space. */
static int
operator_is(const char *line, const char *cmd, const char **rest)
{
	size_t n = strlen(cmd);

	if (strncmp(line, cmd, n) != 0 || (line[n] != '\0' && line[n] != ' '))
		return 0;
	*rest = line + n;
	while (**rest == ' ')
		(*rest)++;
	return 1;
}

static void
operator_command(struct operator* op, const char *line)
{
	struct console *con = op->console;
	const char *rest;
	uint64_t id;
	int said;

	if (operator_is(line, "/help", &rest)) {
		console_print(con, "%s", OPERATOR_HELP);
	} else if (operator_is(line, "/list", &rest)) {
		operator_list(op);
	} else if (operator_is(line, "/stats", &rest)) {
		operator_stats(op);
	} else if (operator_is(line, "/quit", &rest)) {
		op->quit(op->quit_ctx);
	} else if (operator_is(line, "/all", &rest)) {
		operator_send_all(op, rest, strlen(rest));
	} else if (operator_is(line, "/to", &rest)) {
		if (*rest == '\0') {
			op->target = 0;
			console_print(con, "no client chosen");
		} else if ((id = operator_parse_id(op, &rest, &said)) == 0) {
			if (!said)
				console_print(con, "usage: /to ID");
		} else {
			struct session *s = registry_find(op->registry, id);
			if (s == NULL) {
				console_print(
				    con, "no such client #%" PRIu64, id);
			} else {
				op->target = id;
				console_print(con, "talking to #%" PRIu64 " %s",
				    id, s->addr);
				session_unref(s);
			}
		}
		operator_update_prompt(op);
	} else if (operator_is(line, "/msg", &rest)) {
		if ((id = operator_parse_id(op, &rest, &said)) == 0) {
			if (!said)
				console_print(con, "usage: /msg ID TEXT");
		} else
			operator_send_to(op, id, rest, strlen(rest));
	} else if (operator_is(line, "/kick", &rest)) {
		struct session *s;
		if ((id = operator_parse_id(op, &rest, &said)) == 0) {
			if (!said)
				console_print(con, "usage: /kick ID [REASON]");
		} else if ((s = registry_find(op->registry, id)) == NULL) {
			console_print(con, "no such client #%" PRIu64, id);
		} else {
			relay_kick(op->relay, s, rest);
			session_unref(s);
		}
	} else if (operator_is(line, "/history", &rest)) {
		relay_history_show(op->relay);
	} else {
		console_print(con, "unknown command %s (try /help)", line);
	}
}

void
operator_on_line(void *ctx, const char *line, size_t len)
{
	struct operator* op = ctx;
	char *copy;

	if (len == 0)
		return;
	/* Commands are parsed as C strings: a NUL typed in cuts them. */
	if ((copy = malloc(len + 1)) == NULL)
		return;
	memcpy(copy, line, len);
	copy[len] = '\0';
	if (copy[0] == '/' && copy[1] == '/')
		operator_plain(op, copy + 1, len - 1);
	else if (copy[0] == '/')
		operator_command(op, copy);
	else
		operator_plain(op, copy, len);
	free(copy);
}
