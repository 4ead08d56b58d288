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
#include "msgbuf.h"
#include "registry.h"
#include "relay.h"
#include "session.h"
#include "stats.h"
#include "storm.h"
#include "transcript.h"

/* A send result beside session_send's: no memory under the budget. */
#define RELAY_NO_ROOM (-3)
/*
 * Join and leave notices: within any 100 ms the first few go out one by
 * one, the rest as one summary at the window's end (storm.h).
 */
#define RELAY_STORM_WINDOW_MS 100
#define RELAY_STORM_BURST 10
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
	struct msgbuf_budget *budget; /* what queued messages may hold */
	struct storm *storm; /* join and leave notices */
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

static void relay_storm_summary(
    void *ctx, unsigned joined, unsigned left, uint64_t first_join);

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
	r->budget = cfg->budget;
	r->storm = storm_new(
	    RELAY_STORM_WINDOW_MS, RELAY_STORM_BURST, relay_storm_summary, r);
	if (r->storm == NULL) {
		free(r);
		return NULL;
	}
	return r;
}

int
relay_start(struct relay *r)
{
	return storm_start(r->storm);
}

void
relay_stop(struct relay *r)
{
	if (r != NULL)
		storm_stop(r->storm);
}

void
relay_free(struct relay *r)
{
	if (r == NULL)
		return;
	storm_free(r->storm);
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
	escape_render_flags(out, msg, len, ESCAPE_BACKSLASH);
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

	/* Counted where it is reported: /stats and the console agree. */
	atomic_fetch_add_explicit(
	    &r->stats->undelivered, 1, memory_order_relaxed);
	if (len > 0 && text[len - 1] == '\n')
		len--;
	escape_render_bounded_flags(
	    excerpt, sizeof(excerpt), text, len, ESCAPE_BACKSLASH);
	console_print(r->console, "#%" PRIu64 " %s: not delivered (%s): %s",
	    s->id, s->addr,
	    rc == SESSION_FULL        ? "client too slow, dropping it"
	        : rc == RELAY_NO_ROOM ? "queued output at --max-queue-total"
	                              : "client gone",
	    excerpt);
}

/* A session and what it holds queued, for relay_shed. */
struct relay_holder {
	struct session *s;
	size_t queued;
};

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

/* Orders sessions by bytes queued, most first. */
static int
relay_by_queued(const void *a, const void *b)
{
	size_t qa = ((const struct relay_holder *)a)->queued;
	size_t qb = ((const struct relay_holder *)b)->queued;

	return qa < qb ? 1 : qa > qb ? -1 : 0;
}

/*
 * Queued output would go over --max-queue-total: the clients holding
 * the most unsent bytes are dropped first, as too slow, until need more
 * bytes fit (or nobody holds anything).  Said on the console.
 */
static void
relay_shed(struct relay *r, size_t need)
{
	struct relay_holder *h;
	struct session **list;
	size_t n, i;

	list = registry_snapshot(r->registry, &n);
	if ((h = malloc(n * sizeof(*h) + 1)) == NULL) {
		registry_release(list, n);
		return;
	}
	for (i = 0; i < n; i++)
		h[i] = (struct relay_holder){list[i], session_queued(list[i])};
	qsort(h, n, sizeof(*h), relay_by_queued);
	for (i = 0; i < n && h[i].queued > 0 && msgbuf_over(r->budget, need);
	     i++) {
		size_t held = session_drop(h[i].s, "too slow (memory budget)");
		if (held > 0)
			console_print(r->console,
			    "#%" PRIu64
			    " %s: dropped, holding %zu bytes: queued output is at --max-queue-total (%zu bytes)",
			    h[i].s->id, h[i].s->addr, held, r->budget->limit);
	}
	free(h);
	registry_release(list, n);
}

/* A shared buffer for text, room made within the budget.  NULL: none. */
static struct msgbuf *
relay_buffer(struct relay *r, const char *text, size_t len)
{
	if (msgbuf_over(r->budget, MSGBUF_COST(len)))
		relay_shed(r, MSGBUF_COST(len));
	if (msgbuf_over(r->budget, MSGBUF_COST(len)))
		return NULL;
	return msgbuf_new(r->budget, text, len);
}

/*
 * Sends text (ending in LF) to every session but the one with id except
 * (0: none is left out; with RELAY_EARLIER_ONLY, only those before it).
 */
static void
relay_broadcast(
    struct relay *r, uint64_t except, const char *text, size_t len, int how)
{
	struct session **list;
	size_t n;

	/* One copy of the line, shared by every recipient's queue. */
	struct msgbuf *b = relay_buffer(r, text, len);
	if (b == NULL) {
		atomic_fetch_add_explicit(
		    &r->stats->undelivered, 1, memory_order_relaxed);
		console_print(r->console,
		    "tcpchatd: no memory for a message to everyone: not delivered");
		return;
	}
	list = registry_snapshot(r->registry, &n);
	for (size_t i = 0; i < n; i++) {
		if (list[i]->id == except ||
		    ((how & RELAY_EARLIER_ONLY) && list[i]->id > except))
			continue;
		int rc = session_send_buf(list[i], b);
		if (rc == SESSION_SENT ||
		    (rc == SESSION_GONE_ERR && !(how & RELAY_REPORT_GONE)))
			continue;
		relay_report_failed(r, list[i], rc, text, len);
	}
	registry_release(list, n);
	msgbuf_unref(b);
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
	relay_broadcast(r, s->id, line, (size_t)n, RELAY_REPORT_GONE);
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
	/* In a storm of joins and leaves, only a summary goes out. */
	if (r->cfg.mode == RELAY_ROOM && storm_event(r->storm, joined, s->id)) {
		int n = snprintf(line, sizeof(line),
		    "tcpchatd: #%" PRIu64 " %s (%d online)\n", s->id,
		    joined ? "joined" : "left", online);
		/* Clients that came in after it never hear it joined. */
		relay_broadcast(
		    r, s->id, line, (size_t)n, joined ? RELAY_EARLIER_ONLY : 0);
	}
}

/* The storm's summary: "250 joined, 3 left (1203 online)" to all. */
static void
relay_storm_summary(
    void *ctx, unsigned joined, unsigned left, uint64_t first_join)
{
	struct relay *r = ctx;
	char line[160];
	int n = snprintf(line, sizeof(line), "tcpchatd: ");

	if (joined > 0)
		n += snprintf(line + n, sizeof(line) - (size_t)n, "%u joined%s",
		    joined, left > 0 ? ", " : "");
	if (left > 0)
		n += snprintf(
		    line + n, sizeof(line) - (size_t)n, "%u left", left);
	n += snprintf(line + n, sizeof(line) - (size_t)n, " (%d online)\n",
	    registry_count(r->registry));
	/* Those who joined in the storm do not hear of their own joins. */
	relay_broadcast(r, joined > 0 ? first_join : 0, line, (size_t)n,
	    joined > 0 ? RELAY_EARLIER_ONLY : 0);
}

void
relay_joined(struct relay *r, struct session *s, int online)
{
	const char *over = session_transport_name(s);
	char event[64];

	/* The console shows what each TLS client negotiated. */
	if (over != NULL)
		snprintf(event, sizeof(event), "connected over %s", over);
	relay_announce(r, s, over != NULL ? event : "connected", 1, online);
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
		size_t len = m->buf->len;
		if (len > 0 && m->buf->data[len - 1] == '\n')
			len--;
		escape_render_bounded_flags(excerpt, sizeof(excerpt),
		    m->buf->data, len, ESCAPE_BACKSLASH);
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
	char event[256];

	if (!s->opened) {
		/* Never joined (a failed TLS handshake): nobody to tell. */
		transcript_write(
		    r->log, s->id, s->addr, "event", reason, strlen(reason));
		console_print(
		    r->console, "#%" PRIu64 " %s %s", s->id, s->addr, reason);
		return;
	}
	if (lost > 0 && r->cfg.mode != RELAY_ECHO)
		relay_report_lost(r, s, undelivered, lost, reason);
	snprintf(event, sizeof(event), "disconnected: %s", reason);
	relay_announce(r, s, event, 0, online);
}

/*
 * The operator's text as one line ("operator: " first in room mode),
 * stored within the budget, for any number of clients.  NULL when it
 * cannot be had: *said tells whether that was reported already.
 */
static struct msgbuf *
relay_operator_line(struct relay *r, const char *text, size_t len, int *said)
{
	int room = r->cfg.mode == RELAY_ROOM;
	size_t need = len + 16;
	char *line = malloc(need);

	*said = line == NULL;
	if (line == NULL) {
		console_print(
		    r->console, "tcpchatd: out of memory: nothing sent");
		return NULL;
	}
	int n = snprintf(
	    line, need, "%s%.*s\n", room ? "operator: " : "", (int)len, text);
	struct msgbuf *b = relay_buffer(r, line, (size_t)n);
	free(line);
	return b;
}

/* Sends the operator's line b (NULL: none) to s.  1 if queued. */
static int
relay_operator_deliver(struct relay *r, struct session *s, struct msgbuf *b,
    const char *text, size_t len)
{
	int rc = b != NULL ? session_send_buf(s, b) : RELAY_NO_ROOM;

	if (rc == SESSION_SENT) {
		transcript_write(r->log, s->id, s->addr, "out", text, len);
		return 1;
	}
	/* Say which message did not get through, not just that one did not. */
	relay_report_failed(r, s, rc, text, len);
	return 0;
}

int
relay_operator_send(
    struct relay *r, struct session *s, const char *text, size_t len)
{
	return relay_operator_send_all(r, &s, 1, text, len) == 1;
}

size_t
relay_operator_send_all(struct relay *r, struct session *const *list, size_t n,
    const char *text, size_t len)
{
	int said;
	size_t sent = 0;
	/* One copy of the line, shared by every recipient's queue. */
	struct msgbuf *b = relay_operator_line(r, text, len, &said);

	for (size_t i = 0; i < n && !said; i++)
		sent +=
		    (size_t)relay_operator_deliver(r, list[i], b, text, len);
	msgbuf_unref(b);
	return sent;
}

void
relay_kick(struct relay *r, struct session *s)
{
	(void)r;
	session_close(s, "tcpchatd: disconnected by the operator\n", "kicked");
}
