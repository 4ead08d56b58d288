/*
 * relay.c - tcpchatd's policy: what echo, chat and room modes do with a
 * client's bytes, joins and leaves, fan-out, and the reports of what did
 * not get through.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "console.h"
#include "escape.h"
#include "registry.h"
#include "relay.h"
#include "session.h"
#include "stats.h"
#include "transcript.h"

/* Escaped messages up to this size are rendered on the stack. */
#define RELAY_STACK_ESCAPE 1024
/* Undelivered messages shown to the operator, and how much of each. */
#define RELAY_EXCERPTS 3
#define RELAY_EXCERPT 72

struct relay {
	struct relay_config cfg;
	struct registry *registry;
	struct console *console;
	struct transcript *log;
	struct stats *stats;
};

static const char *const relay_mode_names[] = {"echo", "chat", "room"};

int
relay_mode_parse(const char *name, enum relay_mode *mode)
{
	for (int i = 0; i < 3; i++)
		if (strcmp(name, relay_mode_names[i]) == 0) {
			*mode = (enum relay_mode)i;
			return 0;
		}
	return -1;
}

const char *
relay_mode_name(enum relay_mode mode)
{
	return relay_mode_names[mode];
}

struct relay *
relay_new(const struct relay_config *cfg, struct registry *registry,
    struct console *console, struct transcript *log, struct stats *stats)
{
	struct relay *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	r->cfg = *cfg;
	r->registry = registry;
	r->console = console;
	r->log = log;
	r->stats = stats;
	return r;
}

void
relay_free(struct relay *r)
{
	free(r);
}

/* Renders msg escaped into stack (or a malloc'd buffer, to be freed). */
static char *
relay_escape(const char *msg, size_t len, char *stack, size_t size)
{
	char *out = stack;

	if (ESCAPE_BOUND(len) > size &&
	    (out = malloc(ESCAPE_BOUND(len))) == NULL)
		return NULL;
	escape_render(out, msg, len);
	return out;
}

/*
 * Tells the operator that text (its newline, if any, not shown) did not
 * reach s, and why (rc from session_send): the one "not delivered"
 * report for a message the relay or the operator sent.
 */
static void
relay_report_failed(
    struct relay *r, struct session *s, int rc, const char *text, size_t len)
{
	char excerpt[RELAY_EXCERPT];

	if (len > 0 && text[len - 1] == '\n')
		len--;
	escape_render_bounded(excerpt, sizeof(excerpt), text, len);
	console_print(r->console, "#%" PRIu64 " %s: not delivered (%s): %s",
	    s->id, s->addr,
	    rc == SESSION_FULL ? "client too slow, dropping it" : "client gone",
	    excerpt);
}

/* How relay_broadcast chooses and reports. */
enum {
	/* Only to sessions accepted before the sender (ids grow in accept
	 * order): a client that came in later is not told of a join from
	 * before its time. */
	RELAY_EARLIER_ONLY = 1,
	/* A client's message: a recipient leaving meanwhile is reported
	 * as undelivered too (a server notice to it is not). */
	RELAY_REPORT_GONE = 2
};

/* Sends text (ending in LF) to every session but except. */
static void
relay_broadcast(struct relay *r, struct session *except, const char *text,
    size_t len, int how)
{
	struct session **list;
	size_t n;

	list = registry_snapshot(r->registry, &n);
	for (size_t i = 0; i < n; i++) {
		if (list[i] == except ||
		    ((how & RELAY_EARLIER_ONLY) && list[i]->id > except->id))
			continue;
		int rc = session_send(list[i], text, len);
		if (rc == SESSION_SENT ||
		    (rc == SESSION_GONE_ERR && !(how & RELAY_REPORT_GONE)))
			continue;
		relay_report_failed(r, list[i], rc, text, len);
	}
	registry_release(list, n);
}

/* Room mode: "#ID: text" to everyone else. */
static void
relay_to_room(struct relay *r, struct session *s, const char *text)
{
	size_t tlen = strlen(text), need = tlen + 32;
	char stack[RELAY_STACK_ESCAPE + 32];
	char *line = need <= sizeof(stack) ? stack : malloc(need);

	if (line == NULL)
		return;
	int n = snprintf(line, need, "#%" PRIu64 ": %s\n", s->id, text);
	relay_broadcast(r, s, line, (size_t)n, RELAY_REPORT_GONE);
	if (line != stack)
		free(line);
}

const char *
relay_message(struct relay *r, struct session *s, const char *msg, size_t len)
{
	char stack[RELAY_STACK_ESCAPE], *text;

	atomic_fetch_add_explicit(&r->stats->msgs_in, 1, memory_order_relaxed);
	if (len == 1 && msg[0] == 'q')
		return "quit";
	transcript_write(r->log, s->id, s->addr, "in", msg, len);
	if ((text = relay_escape(msg, len, stack, sizeof(stack))) == NULL)
		return "out of memory";
	console_print(r->console, "#%" PRIu64 " %s: %s", s->id, s->addr, text);
	if (r->cfg.mode == RELAY_ROOM)
		relay_to_room(r, s, text);
	if (text != stack)
		free(text);
	return NULL;
}

const char *
relay_data(struct relay *r, struct session *s, const char *buf, size_t len)
{
	(void)r;
	/* Echo: a failure ends the session with its error. */
	(void)session_reply(s, buf, len);
	return NULL;
}

/* Tells the console, the transcript and (room mode) the others. */
static void
relay_announce(struct relay *r, struct session *s, const char *event,
    int joined, int online)
{
	char line[160];

	transcript_write(r->log, s->id, s->addr, "event", event, strlen(event));
	if (!r->cfg.quiet)
		console_print(r->console, "#%" PRIu64 " %s %s (%d online)",
		    s->id, s->addr, event, online);
	if (r->cfg.mode == RELAY_ROOM) {
		int n = snprintf(line, sizeof(line),
		    "tcpchatd: #%" PRIu64 " %s (%d online)\n", s->id,
		    joined ? "joined" : "left", online);
		/* Clients that came in after it never hear it joined. */
		relay_broadcast(
		    r, s, line, (size_t)n, joined ? RELAY_EARLIER_ONLY : 0);
	}
}

void
relay_joined(struct relay *r, struct session *s, int online)
{
	relay_announce(r, s, "connected", 1, online);
}

/*
 * Tells the operator what a departed client never got: how many
 * messages, and the first few of them, escaped and cut short.
 */
static void
relay_report_lost(struct relay *r, struct session *s,
    const struct session_msg *m, size_t lost, const char *reason)
{
	char excerpt[RELAY_EXCERPT];

	atomic_fetch_add_explicit(
	    &r->stats->undelivered, lost, memory_order_relaxed);
	console_print(r->console,
	    "#%" PRIu64 " %s: %zu message%s not delivered (client gone: %s)",
	    s->id, s->addr, lost, lost == 1 ? "" : "s", reason);
	for (int shown = 0; m != NULL && shown < RELAY_EXCERPTS;
	     m = m->next, shown++) {
		size_t len = m->len;
		if (len > 0 && m->data[len - 1] == '\n')
			len--;
		escape_render_bounded(excerpt, sizeof(excerpt), m->data, len);
		console_print(r->console, "#%" PRIu64 "   not delivered%s: %s",
		    s->id, m->off ? " (partly sent)" : "", excerpt);
	}
	if (lost > RELAY_EXCERPTS)
		console_print(r->console, "#%" PRIu64 "   and %zu more", s->id,
		    lost - RELAY_EXCERPTS);
}

void
relay_left(struct relay *r, struct session *s, const char *reason,
    const struct session_msg *undelivered, size_t lost, int online)
{
	char event[128];

	if (lost > 0 && r->cfg.mode != RELAY_ECHO)
		relay_report_lost(r, s, undelivered, lost, reason);
	snprintf(event, sizeof(event), "disconnected: %s", reason);
	relay_announce(r, s, event, 0, online);
}

int
relay_operator_send(
    struct relay *r, struct session *s, const char *text, size_t len)
{
	int room = r->cfg.mode == RELAY_ROOM;
	size_t need = len + 16;
	char *line = malloc(need);
	int rc, n;

	if (line == NULL) {
		console_print(
		    r->console, "tcpchatd: out of memory: nothing sent");
		return 0;
	}
	n = snprintf(
	    line, need, "%s%.*s\n", room ? "operator: " : "", (int)len, text);
	rc = session_send(s, line, (size_t)n);
	free(line);
	if (rc == SESSION_SENT) {
		transcript_write(r->log, s->id, s->addr, "out", text, len);
		return 1;
	}
	/* Say which message did not get through, not just that one did not. */
	relay_report_failed(r, s, rc, text, len);
	return 0;
}

void
relay_kick(struct relay *r, struct session *s)
{
	(void)r;
	session_close(s, "tcpchatd: disconnected by the operator\n", "kicked");
}
