/* operator.c - commands and replies typed at tcpchatd's consoles. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "console.h"
#include "escape.h"
#include "net.h"
#include "operator.h"
#include "registry.h"
#include "relay.h"
#include "session.h"
#include "stats.h"

/* What a confirmation shows of the text sent, at most, in bytes. */
#define OPERATOR_ECHO_MAX 1024
/* Client ids tab completion offers at most. */
#define OPERATOR_COMPLETE_MAX 256
#define OPERATOR_PROMPT "tcpchatd> "

static const char *const operator_help[] = {"commands:",
    "  TEXT          send TEXT to the chosen client (chat) or to all (room)",
    "  /to ID        choose the client plain text goes to (/to: none)",
    "  /msg ID TEXT  send TEXT to client ID",
    "  /r TEXT       send TEXT to the client that spoke last (or /reply)",
    "  /all TEXT     send TEXT to every client",
    "  /list         clients online: id, address, time, messages in/out",
    "  /kick ID [REASON]  disconnect client ID, telling why",
    "  /history      the room's last lines, as joiners get them",
    "  /stats        server counters",
    "  /quit         tell every client, then shut down",
    "  //TEXT        send TEXT starting with one /",
    "  /help         this list",
    "(a client's name will do wherever an ID is asked)", NULL};

static const char *const operator_commands[] = {"/all", "/help", "/history",
    "/kick", "/list", "/msg", "/quit", "/r", "/reply", "/stats", "/to", NULL};

/* One operator's seat: the terminal, a pipe or a control socket peer. */
struct operator_seat {
	struct operator* op;
	struct console_att *att;
	uint64_t target; /* chosen with /to, 0 for none */
	char target_addr[NET_ADDRSTRLEN];
	uint64_t left; /* the chosen client that left: nothing goes till /to */
	char (*candidates)[24]; /* tab completion's client ids */
	size_t ncandidates;
};

static void
operator_update_prompt(struct operator_seat *seat)
{
	char prompt[64];

	if (seat->target != 0)
		snprintf(
		    prompt, sizeof(prompt), "to #%" PRIu64 "> ", seat->target);
	else
		snprintf(prompt, sizeof(prompt), OPERATOR_PROMPT);
	console_set_prompt(seat->att, prompt);
}

/*
 * Parses a client at *p: "7", "#7" or a name, advancing past it and the
 * spaces after.  Its id, or 0: none given (*said 0), or no such client
 * (*said 1: this operator was told).
 */
static uint64_t
operator_parse_id(struct operator_seat *seat, const char **p, int *said)
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
	if ((s = relay_find(seat->op->relay, word, (size_t)(end - word))) !=
	    NULL) {
		id = s->id;
		session_unref(s);
	} else {
		char shown[64];
		escape_render_bounded(
		    shown, sizeof(shown), word, (size_t)(end - word));
		console_reply(seat->att, "no such client %s%s",
		    word[0] >= '0' && word[0] <= '9' ? "#" : "", shown);
	}
	while (*end == ' ')
		end++;
	*p = end;
	return id;
}

/*
 * Shows once what was sent where ("-> #2: text", "-> all (3): text"),
 * escaped as a client's text is: a long text by its start and its size.
 */
static void
operator_confirm(
    struct operator_seat *seat, const char *where, const char *text, size_t len)
{
	char shown[ESCAPE_BOUND(OPERATOR_ECHO_MAX)];
	size_t cut = len;

	if (len > OPERATOR_ECHO_MAX) {
		/* Cut at a character's start, not inside one. */
		cut = OPERATOR_ECHO_MAX;
		while (cut > 0 && ((unsigned char)text[cut] & 0xc0) == 0x80)
			cut--;
	}
	escape_render_flags(shown, text, cut, ESCAPE_BACKSLASH);
	if (cut < len)
		console_reply(
		    seat->att, "-> %s: %s... (%zu bytes)", where, shown, len);
	else
		console_reply(seat->att, "-> %s: %s", where, shown);
}

/* The chosen client has gone: said, and nothing goes anywhere till /to. */
static void
operator_target_gone(struct operator_seat *seat)
{
	console_reply(seat->att, "#%" PRIu64 " %s has left: no client chosen",
	    seat->target, seat->target_addr);
	seat->left = seat->target;
	seat->target = 0;
	operator_update_prompt(seat);
}

/* Sends to client id and confirms it, or says there is no such client. */
static int
operator_send_to(
    struct operator_seat *seat, uint64_t id, const char *text, size_t len)
{
	struct operator* op = seat->op;
	struct session *s = registry_find(op->registry, id);
	char where[32];

	if (s == NULL) {
		console_reply(seat->att, "no such client #%" PRIu64, id);
		return 0;
	}
	int sent = relay_operator_send(op->relay, s, text, len);
	session_unref(s);
	if (sent) {
		snprintf(where, sizeof(where), "#%" PRIu64, id);
		operator_confirm(seat, where, text, len);
	}
	return sent;
}

static void
operator_send_all(struct operator_seat *seat, const char *text, size_t len)
{
	struct operator* op = seat->op;
	struct session **list;
	size_t n, sent = 0;
	char where[64];

	list = registry_snapshot(op->registry, &n);
	sent = relay_operator_send_all(op->relay, list, n, text, len);
	registry_release(list, n);
	if (n == 0) {
		console_reply(seat->att, "no clients online: nothing sent");
		return;
	}
	/* Each one it did not reach was reported by the relay. */
	if (sent == 0) {
		console_reply(seat->att,
		    "nothing sent: not delivered to any of the %zu clients", n);
		return;
	}
	if (sent == n)
		snprintf(where, sizeof(where), "all (%zu)", n);
	else
		snprintf(where, sizeof(where), "all (%zu of %zu)", sent, n);
	operator_confirm(seat, where, text, len);
}

/* Plain text: to the chosen client, or the only one, or everyone. */
static void
operator_plain(struct operator_seat *seat, const char *text, size_t len)
{
	struct operator* op = seat->op;
	struct session **list;
	size_t n;

	if (op->mode == RELAY_ROOM) {
		operator_send_all(seat, text, len);
		return;
	}
	if (op->mode == RELAY_ECHO) {
		console_reply(seat->att,
		    "echo mode: clients get their own bytes back; nothing sent (try /help)");
		return;
	}
	if (seat->target != 0) {
		struct session *s = registry_find(op->registry, seat->target);
		if (s != NULL) {
			session_unref(s);
			operator_send_to(seat, seat->target, text, len);
			return;
		}
		/* It left before the console heard of it. */
		operator_target_gone(seat);
	}
	if (seat->left != 0) {
		console_reply(seat->att,
		    "nothing sent: #%" PRIu64
		    " has left (choose a client with /to ID)",
		    seat->left);
		return;
	}
	list = registry_snapshot(op->registry, &n);
	if (n == 1)
		operator_send_to(seat, list[0]->id, text, len);
	else if (n == 0)
		console_reply(seat->att, "no clients online: nothing sent");
	else
		console_reply(seat->att,
		    "%zu clients online: choose one with /to ID or /msg ID TEXT (see /list); nothing sent",
		    n);
	registry_release(list, n);
}

static void
operator_list(struct operator_seat *seat)
{
	struct operator* op = seat->op;
	struct session **list;
	uint64_t now = clock_now_ms(), in, out;
	char dur[32], name[RELAY_NAME_MAX + 2];
	size_t n;

	list = registry_snapshot(op->registry, &n);
	console_reply(seat->att, "%zu client%s online", n, n == 1 ? "" : "s");
	for (size_t i = 0; i < n; i++) {
		session_counts(list[i], &in, &out);
		clock_duration(now - list[i]->connected_ms, dur, sizeof(dur));
		name[0] = ' ';
		relay_name(op->relay, list[i], name + 1, sizeof(name) - 1);
		console_reply(seat->att,
		    "  #%" PRIu64 " %s%s connected %s, %" PRIu64 " in, %" PRIu64
		    " out%s",
		    list[i]->id, list[i]->addr, name[1] ? name : "", dur, in,
		    out, list[i]->id == seat->target ? " (chosen)" : "");
	}
	registry_release(list, n);
}

static void
operator_stats(struct operator_seat *seat)
{
	struct operator* op = seat->op;
	struct stats *st = op->stats;
	char dur[32];

	clock_duration(clock_now_ms() - st->started_ms, dur, sizeof(dur));
	console_reply(seat->att,
	    "up %s, mode %s, %d online, %" PRIu64 " connections, %" PRIu64
	    " refused",
	    dur, relay_mode_name(op->mode), registry_count(op->registry),
	    (uint64_t)atomic_load(&st->connections),
	    (uint64_t)atomic_load(&st->refused));
	console_reply(seat->att,
	    "messages %" PRIu64 " in, %" PRIu64 " out, %" PRIu64
	    " undelivered; bytes %" PRIu64 " in, %" PRIu64 " out",
	    (uint64_t)atomic_load(&st->msgs_in),
	    (uint64_t)atomic_load(&st->io.msgs_out),
	    (uint64_t)atomic_load(&st->undelivered),
	    (uint64_t)atomic_load(&st->io.bytes_in),
	    (uint64_t)atomic_load(&st->io.bytes_out));
}

/* /to ID chooses a client; /to alone forgets the choice. */
static void
operator_to(struct operator_seat *seat, const char *rest)
{
	struct session *s;
	uint64_t id;
	int said;

	if (*rest == '\0') {
		seat->target = 0;
		seat->left = 0;
		console_reply(seat->att, "no client chosen");
	} else if ((id = operator_parse_id(seat, &rest, &said)) == 0) {
		if (!said)
			console_reply(
			    seat->att, "usage: /to ID (or /to alone: none)");
	} else if (*rest != '\0') {
		console_reply(seat->att, "usage: /to ID (or /to alone: none)");
	} else if ((s = registry_find(seat->op->registry, id)) == NULL) {
		console_reply(seat->att, "no such client #%" PRIu64, id);
	} else {
		seat->target = id;
		seat->left = 0;
		snprintf(seat->target_addr, sizeof(seat->target_addr), "%s",
		    s->addr);
		console_reply(
		    seat->att, "talking to #%" PRIu64 " %s", id, s->addr);
		session_unref(s);
	}
	operator_update_prompt(seat);
}

/* /r TEXT: to the client that spoke last, whoever chose whom. */
static void
operator_reply(struct operator_seat *seat, const char *rest)
{
	uint64_t id = relay_last_speaker(seat->op->relay);

	if (*rest == '\0' && id != 0)
		console_reply(seat->att,
		    "usage: /r TEXT (answers the last to speak: #%" PRIu64 ")",
		    id);
	else if (*rest == '\0')
		console_reply(
		    seat->att, "usage: /r TEXT (nobody has spoken yet)");
	else if (id == 0)
		console_reply(seat->att, "nobody has spoken yet: nothing sent");
	else
		operator_send_to(seat, id, rest, strlen(rest));
}

static void
operator_kick(struct operator_seat *seat, const char *rest)
{
	struct session *s;
	uint64_t id;
	int said;

	if ((id = operator_parse_id(seat, &rest, &said)) == 0) {
		if (!said)
			console_reply(seat->att, "usage: /kick ID [REASON]");
	} else if ((s = registry_find(seat->op->registry, id)) == NULL)
		console_reply(seat->att, "no such client #%" PRIu64, id);
	else {
		relay_kick(seat->op->relay, s, rest);
		session_unref(s);
	}
}

/* A command that takes no words: runs it, or says how it is used. */
static int
operator_bare(struct operator_seat *seat, const char *cmd, const char *rest)
{
	if (*rest == '\0')
		return 1;
	console_reply(seat->att, "usage: %s", cmd);
	return 0;
}

static void
operator_command(struct operator_seat *seat, const char *line)
{
	struct operator* op = seat->op;
	size_t n = strcspn(line, " ");
	const char *rest = line + n;
	uint64_t id;
	int said;

	while (*rest == ' ')
		rest++;
#define OPERATOR_IS(name) (n == sizeof(name) - 1 && memcmp(line, name, n) == 0)
	if (OPERATOR_IS("/help")) {
		if (operator_bare(seat, "/help", rest))
			for (int i = 0; operator_help[i] != NULL; i++)
				console_reply(
				    seat->att, "%s", operator_help[i]);
	} else if (OPERATOR_IS("/list")) {
		if (operator_bare(seat, "/list", rest))
			operator_list(seat);
	} else if (OPERATOR_IS("/stats")) {
		if (operator_bare(seat, "/stats", rest))
			operator_stats(seat);
	} else if (OPERATOR_IS("/quit")) {
		if (operator_bare(seat, "/quit", rest)) {
			atomic_store(&op->quitting, 1);
			op->quit(op->quit_ctx);
		}
	} else if (OPERATOR_IS("/to")) {
		operator_to(seat, rest);
	} else if (OPERATOR_IS("/msg")) {
		if ((id = operator_parse_id(seat, &rest, &said)) == 0) {
			if (!said)
				console_reply(seat->att, "usage: /msg ID TEXT");
		} else if (*rest == '\0')
			console_reply(seat->att, "usage: /msg ID TEXT");
		else
			operator_send_to(seat, id, rest, strlen(rest));
	} else if (OPERATOR_IS("/r") || OPERATOR_IS("/reply")) {
		operator_reply(seat, rest);
	} else if (OPERATOR_IS("/all")) {
		if (*rest == '\0')
			console_reply(seat->att, "usage: /all TEXT");
		else
			operator_send_all(seat, rest, strlen(rest));
	} else if (OPERATOR_IS("/kick")) {
		operator_kick(seat, rest);
	} else if (OPERATOR_IS("/history")) {
		if (operator_bare(seat, "/history", rest))
			relay_history_show(op->relay, seat->att);
	} else {
		char shown[128];
		escape_render_bounded_flags(
		    shown, sizeof(shown), line, n, ESCAPE_BACKSLASH);
		console_reply(
		    seat->att, "unknown command %s (try /help)", shown);
	}
#undef OPERATOR_IS
}

/* ---- the console's callbacks ------------------------------------------ */

static void *
operator_attach(void *ctx, struct console_att *att)
{
	struct operator_seat *seat = calloc(1, sizeof(*seat));

	if (seat == NULL)
		return NULL;
	seat->op = ctx;
	seat->att = att;
	operator_update_prompt(seat);
	return seat;
}

static void
operator_on_line(void *opaque, const char *line, size_t len)
{
	struct operator_seat *seat = opaque;
	char *copy;

	/* After /quit, lines already read are not acted on. */
	if (len == 0 || atomic_load(&seat->op->quitting))
		return;
	/* Commands are parsed as C strings: a NUL typed in cuts them. */
	if ((copy = malloc(len + 1)) == NULL)
		return;
	memcpy(copy, line, len);
	copy[len] = '\0';
	if (copy[0] == '/' && copy[1] == '/')
		operator_plain(seat, copy + 1, len - 1);
	else if (copy[0] == '/')
		operator_command(seat, copy);
	else
		operator_plain(seat, copy, len);
	free(copy);
}

/* End of input: at the terminal it means /quit; elsewhere, nothing. */
static void
operator_on_end(void *opaque, int terminal)
{
	struct operator_seat *seat = opaque;
	struct operator* op = seat->op;

	if (!terminal || atomic_exchange(&op->quitting, 1))
		return;
	console_reply(seat->att, "end of input at the terminal: /quit");
	op->quit(op->quit_ctx);
}

/* A client left: was it the one this operator had chosen? */
static void
operator_recheck(void *opaque)
{
	struct operator_seat *seat = opaque;
	struct session *s;

	if (seat->target == 0)
		return;
	if ((s = registry_find(seat->op->registry, seat->target)) != NULL) {
		session_unref(s);
		return;
	}
	operator_target_gone(seat);
}

/* Whether before is "/to ", "/msg " or "/kick " and spaces: an id. */
static int
operator_wants_id(const char *before)
{
	size_t n = strcspn(before, " ");

	if (before[n] == '\0' || before[n + strspn(before + n, " ")] != '\0')
		return 0;
	return (n == 3 && memcmp(before, "/to", 3) == 0) ||
	    (n == 4 && memcmp(before, "/msg", 4) == 0) ||
	    (n == 5 && memcmp(before, "/kick", 5) == 0);
}

/* The ids online that start like word ("3", "#3"). */
static void
operator_find_candidates(struct operator_seat *seat, const char *word)
{
	struct session **list;
	size_t n, wlen = strlen(word);

	seat->ncandidates = 0;
	if (seat->candidates == NULL &&
	    (seat->candidates = malloc(
	         OPERATOR_COMPLETE_MAX * sizeof(*seat->candidates))) == NULL)
		return;
	list = registry_snapshot(seat->op->registry, &n);
	for (size_t i = 0; i < n && seat->ncandidates < OPERATOR_COMPLETE_MAX;
	     i++) {
		char *c = seat->candidates[seat->ncandidates];
		snprintf(c, sizeof(*seat->candidates), "%s%" PRIu64,
		    word[0] == '#' ? "#" : "", list[i]->id);
		if (strncmp(c, word, wlen) == 0)
			seat->ncandidates++;
	}
	registry_release(list, n);
}

/* Commands, and client ids after /to, /msg and /kick; nothing else. */
static const char *
operator_complete(void *opaque, const char *before, const char *word, int state)
{
	struct operator_seat *seat = opaque;
	size_t wlen = strlen(word);
	int seen = 0;

	if (before[0] == '\0') {
		if (word[0] != '/')
			return NULL; /* plain text */
		for (const char *const *c = operator_commands; *c != NULL; c++)
			if (strncmp(*c, word, wlen) == 0 && seen++ == state)
				return *c;
		return NULL;
	}
	if (!operator_wants_id(before))
		return NULL;
	if (state == 0)
		operator_find_candidates(seat, word);
	return (size_t)state < seat->ncandidates ? seat->candidates[state]
	                                         : NULL;
}

static void
operator_detach(void *opaque)
{
	struct operator_seat *seat = opaque;

	free(seat->candidates);
	free(seat);
}

const struct console_callbacks operator_console_callbacks = {
    .attach = operator_attach,
    .line = operator_on_line,
    .end = operator_on_end,
    .recheck = operator_recheck,
    .complete = operator_complete,
    .detach = operator_detach,
};

void operator_client_left(struct operator* op)
{
	console_notify(op->console);
}
