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
	"  /kick ID      disconnect client ID\n"                               \
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

/* Parses "7" or "#7" at *p, advancing past it.  The id, or 0. */
static uint64_t
operator_parse_id(const char **p)
{
	const char *s = *p;
	char *end;

	while (*s == ' ')
		s++;
	if (*s == '#')
		s++;
	if (*s < '0' || *s > '9')
		return 0;
	errno = 0;
	unsigned long long id = strtoull(s, &end, 10);
	if (errno != 0 || (*end != '\0' && *end != ' '))
		return 0;
	while (*end == ' ')
		end++;
	*p = end;
	return (uint64_t)id;
}

/* Formats a duration as 5s, 3m05s or 2h03m05s. */
static void
operator_duration(uint64_t ms, char *buf, size_t size)
{
	uint64_t s = ms / 1000;

	if (s < 60)
		snprintf(buf, size, "%" PRIu64 "s", s);
	else if (s < 3600)
		snprintf(
		    buf, size, "%" PRIu64 "m%02" PRIu64 "s", s / 60, s % 60);
	else
		snprintf(buf, size, "%" PRIu64 "h%02" PRIu64 "m%02" PRIu64 "s",
		    s / 3600, s / 60 % 60, s % 60);
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
	char dur[32];
	size_t n;

	list = registry_snapshot(op->registry, &n);
	console_print(op->console, "%zu client%s online", n, n == 1 ? "" : "s");
	for (size_t i = 0; i < n; i++) {
		session_counts(list[i], &in, &out);
		operator_duration(
		    now - list[i]->connected_ms, dur, sizeof(dur));
		console_print(op->console,
		    "  #%" PRIu64 " %s connected %s, %" PRIu64 " in, %" PRIu64
		    " out%s",
		    list[i]->id, list[i]->addr, dur, in, out,
		    list[i]->id == op->target ? " (chosen)" : "");
	}
	registry_release(list, n);
}

static void operator_stats(struct operator* op)
{
	struct stats *st = op->stats;
	char dur[32];

	operator_duration(clock_now_ms() - st->started_ms, dur, sizeof(dur));
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
		} else if ((id = operator_parse_id(&rest)) == 0) {
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
		if ((id = operator_parse_id(&rest)) == 0)
			console_print(con, "usage: /msg ID TEXT");
		else
			operator_send_to(op, id, rest, strlen(rest));
	} else if (operator_is(line, "/kick", &rest)) {
		struct session *s;
		if ((id = operator_parse_id(&rest)) == 0) {
			console_print(con, "usage: /kick ID");
		} else if ((s = registry_find(op->registry, id)) == NULL) {
			console_print(con, "no such client #%" PRIu64, id);
		} else {
			relay_kick(op->relay, s);
			session_unref(s);
		}
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
