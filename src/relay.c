/*
 * relay.c - tcpchatd's policy: what echo, chat and room modes do with a
 * client's bytes, client commands and names, the welcome and the room's
 * history, flood control, joins and leaves, fan-out, and the reports of
 * what did not get through.
 *
 * Each client the relay knows has a struct relay_client, hung on its
 * session's user pointer when it joins and let go when it leaves.  The
 * relay's lock guards the list of them, what other threads read of them
 * (name, dialect, leave reason, welcome) and the history; the client's
 * own session thread alone changes its name and keeps its flood bucket.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "access.h"
#include "clock.h"
#include "command.h"
#include "console.h"
#include "escape.h"
#include "flood.h"
#include "backlog.h"
#include "msgbuf.h"
#include "nick.h"
#include "password.h"
#include "registry.h"
#include "relay.h"
#include "session.h"
#include "stats.h"
#include "storm.h"
#include "transcript.h"

/* A send result beside session_send's: no memory under the budget. */
#define RELAY_NO_ROOM (-3)
/* Not sent: the client has not given the room password yet. */
#define RELAY_NOT_IN (-4)
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
/* Others named in the welcome, and in a /who reply, at most. */
#define RELAY_WELCOME_NAMES 20
#define RELAY_WHO_MAX 100
/* A leave reason (/quit REASON, /kick ID REASON), escaped, at most. */
#define RELAY_REASON_MAX 120
/* A command word shown back in an error, escaped, at most. */
#define RELAY_WORD_SHOWN 40
/* Room for a line's prefix: "#ID NAME (private): ". */
#define RELAY_PREFIX_MAX (RELAY_NAME_MAX + 64)
/* "ADDR NAME": how the console and the transcript show a client. */
#define RELAY_LABEL_MAX (NET_ADDRSTRLEN + RELAY_NAME_MAX + 2)
/* Replies and the welcome are built in a buffer of this size at most. */
#define RELAY_TEXT_MAX (RELAY_WHO_MAX * (RELAY_PREFIX_MAX + 32) + 512)

/* Every line a joiner gets from the history starts so. */
static const char relay_history_mark[] = "tcpchatd: history: ";

_Static_assert(RELAY_NAME_MAX == NICK_MAX_BYTES, "names fit RELAY_NAME_MAX");

/* What the relay keeps of one client. */
struct relay_client {
	struct relay_client *prev, *next; /* the relay's list, join order */
	struct session *s;
	/*
	 * Under the relay's lock; the name is changed only by the
	 * client's own thread, which may read it without the lock.
	 */
	char name[RELAY_NAME_MAX + 1]; /* "" until /nick */
	int welcomed; /* the history and the welcome have gone out */
	/*
	 * On the relay's list: in the room (with a password, once it gave
	 * it).  Until then it is only s->user, and hears nothing.
	 */
	int in_room;
	uint64_t seen_seq; /* history lines up to this came in its replay */
	int unterminated; /* its last message ended with no newline */
	char leave[RELAY_REASON_MAX]; /* /quit's or /kick's words, or "" */
	/* The client's own thread only. */
	struct flood flood;
	uint64_t held_unreported; /* lines held back, not yet reported */
	int wrong_passwords; /* given so far (--password-file) */
};

struct relay {
	struct relay_config cfg;
	struct registry *registry;
	struct console *console;
	struct transcript *log;
	struct stats *stats;
	struct msgbuf_budget *budget; /* what queued messages may hold */
	struct storm *storm; /* join and leave notices */
	struct msgbuf *mark; /* relay_history_mark, shared by replays */
	atomic_uint_fast64_t last_speaker; /* whom /r answers, 0: nobody */

	pthread_mutex_t lock; /* guards everything below, and see above */
	struct relay_client *first, *last; /* clients, in join order */
	size_t nclients;
	struct backlog backlog; /* room lines, for joiners */
};

/* A growing reply, cut (never overrun) at RELAY_TEXT_MAX. */
struct relay_text {
	char *buf;
	size_t len;
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
	pthread_mutex_init(&r->lock, NULL);
	if (backlog_init(
	        &r->backlog, cfg->mode == RELAY_ROOM ? cfg->history : 0) == -1)
		goto fail;
	r->mark = msgbuf_new(
	    NULL, relay_history_mark, sizeof(relay_history_mark) - 1);
	r->storm = storm_new(
	    RELAY_STORM_WINDOW_MS, RELAY_STORM_BURST, relay_storm_summary, r);
	if (r->mark == NULL || r->storm == NULL)
		goto fail;
	return r;
fail:
	relay_free(r);
	errno = ENOMEM;
	return NULL;
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
	backlog_free(&r->backlog);
	msgbuf_unref(r->mark);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

/* ---- small helpers --------------------------------------------------- */

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

static void relay_text_add(struct relay_text *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Appends to t, cutting what does not fit (t->buf NULL: nothing). */
static void
relay_text_add(struct relay_text *t, const char *fmt, ...)
{
	va_list ap;

	if (t->buf == NULL || t->len >= RELAY_TEXT_MAX - 1)
		return;
	va_start(ap, fmt);
	int n = vsnprintf(t->buf + t->len, RELAY_TEXT_MAX - t->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		t->len += (size_t)n < RELAY_TEXT_MAX - t->len
		    ? (size_t)n
		    : RELAY_TEXT_MAX - 1 - t->len;
}

/* The client the relay keeps for s, read under r->lock (or NULL). */
static struct relay_client *
relay_client_locked(struct session *s)
{
	return s->user;
}

/*
 * How a client is shown on the console and in the transcript: its
 * address, then its name once it has one.  On the client's own thread.
 */
static const char *
relay_label(struct session *s, char *buf, size_t size)
{
	const struct relay_client *c = s->user;

	if (c == NULL || c->name[0] == '\0')
		return s->addr;
	snprintf(buf, size, "%s %s", s->addr, c->name);
	return buf;
}

/* Who a client is in what others read: "#3 alice", or "#3". */
static void
relay_who(
    struct session *s, const struct relay_client *c, char *buf, size_t size)
{
	if (c != NULL && c->name[0] != '\0')
		snprintf(buf, size, "#%" PRIu64 " %s", s->id, c->name);
	else
		snprintf(buf, size, "#%" PRIu64, s->id);
}

/* Writes to the transcript under the client's label. */
static void
relay_log(struct relay *r, struct session *s, const char *what,
    const char *text, size_t len)
{
	char label[RELAY_LABEL_MAX];

	transcript_write(r->log, s->id, relay_label(s, label, sizeof(label)),
	    what, text, len);
}

/* ---- reports of what did not get through ------------------------------ */

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
	        : rc == RELAY_NOT_IN  ? "no password given yet"
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
	RELAY_REPORT_GONE = 2,
	/* A room line: kept in the history for those who join later. */
	RELAY_KEEP = 4
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

/* ---- sending ------------------------------------------------------------ */

/*
 * Sends b to one client under the relay's lock, so that it never falls
 * inside a joiner's replay.  A session_send result.
 */
static int
relay_send_one(struct relay *r, struct session *s, struct msgbuf *b)
{
	pthread_mutex_lock(&r->lock);
	int rc = session_send_buf(s, b);
	pthread_mutex_unlock(&r->lock);
	return rc;
}

/*
 * Sends text to s alone, reporting what did not go.  1 if it went.
 * The newline ending text is left off for a client whose last message
 * had none (lines: always with one).
 */
static int
relay_send_text(
    struct relay *r, struct session *s, const char *text, size_t len, int lines)
{
	struct relay_client *c;
	int rc;

	pthread_mutex_lock(&r->lock);
	c = relay_client_locked(s);
	if (!lines && c != NULL && c->unterminated && len > 0 &&
	    text[len - 1] == '\n')
		len--;
	pthread_mutex_unlock(&r->lock);
	struct msgbuf *b = relay_buffer(r, text, len);
	rc = b != NULL ? relay_send_one(r, s, b) : RELAY_NO_ROOM;
	msgbuf_unref(b);
	if (rc == SESSION_SENT)
		return 1;
	relay_report_failed(r, s, rc, text, len);
	return 0;
}

/* A reply to the client's own command, in its dialect. */
static void
relay_reply(struct relay *r, struct session *s, const char *text, size_t len)
{
	(void)relay_send_text(r, s, text, len, 0);
}

static void relay_replyf(struct relay *r, struct session *s, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));

/* A one-line reply, formatted ("\n" added). */
static void
relay_replyf(struct relay *r, struct session *s, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	relay_reply(r, s, line, (size_t)n);
}

/*
 * The sessions a broadcast from except goes to (see relay_broadcast),
 * each referenced, into a malloc'd array (*n its length); with
 * RELAY_KEEP, b is added to the history first.  NULL: none, or no
 * memory.
 */
static struct session **
relay_recipients(
    struct relay *r, uint64_t except, struct msgbuf *b, int how, size_t *n)
{
	struct session **list;
	uint64_t seq = UINT64_MAX;

	*n = 0;
	pthread_mutex_lock(&r->lock);
	if (how & RELAY_KEEP)
		seq = backlog_add(&r->backlog, b);
	list = malloc((r->nclients + 1) * sizeof(*list));
	for (struct relay_client *c = r->first; list != NULL && c != NULL;
	     c = c->next) {
		/*
		 * A joiner not yet welcomed gets the line in its replay, or
		 * it was said before its time; one welcomed since the line
		 * went into the history had it in its replay.
		 */
		if (c->s->id == except || !c->welcomed ||
		    (seq != UINT64_MAX && c->seen_seq >= seq) ||
		    ((how & RELAY_EARLIER_ONLY) && c->s->id > except))
			continue;
		session_ref(c->s);
		list[(*n)++] = c->s;
	}
	pthread_mutex_unlock(&r->lock);
	return list;
}

/*
 * Sends text (ending in LF) to every client the relay has welcomed but
 * the one with id except (0: none is left out; with RELAY_EARLIER_ONLY,
 * only those before it).
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
	list = relay_recipients(r, except, b, how, &n);
	for (size_t i = 0; i < n; i++) {
		int rc = session_send_buf(list[i], b);
		if (rc == SESSION_SENT ||
		    (rc == SESSION_GONE_ERR && !(how & RELAY_REPORT_GONE)))
			continue;
		relay_report_failed(r, list[i], rc, text, len);
	}
	registry_release(list, n);
	msgbuf_unref(b);
}

/* Room mode: prefix + text + LF to everyone else (a room line). */
static void
relay_to_room(struct relay *r, struct session *s, const char *prefix,
    const char *text, int how)
{
	size_t need = strlen(prefix) + strlen(text) + 2;
	char stack[RELAY_STACK_ESCAPE + RELAY_PREFIX_MAX];
	char *line = need <= sizeof(stack) ? stack : malloc(need);

	if (line == NULL)
		return;
	int n = snprintf(line, need, "%s%s\n", prefix, text);
	relay_broadcast(r, s->id, line, (size_t)n, how);
	if (line != stack)
		free(line);
}

/*
 * Clients in the room: with a password, those who gave it (the
 * registry also holds those who have not); else given, the registry's.
 * r->lock held.
 */
static int
relay_online_locked(const struct relay *r, int given)
{
	return r->cfg.password != NULL ? (int)r->nclients : given;
}

/* ---- joins and leaves ---------------------------------------------------- */

/*
 * Tells the console and the transcript of event, and (room mode, storms
 * aside) the others notice; label is how the client is shown.
 */
static void
relay_announce(struct relay *r, struct session *s, const char *label,
    const char *event, const char *notice, int joined, int online)
{
	transcript_write(r->log, s->id, label, "event", event, strlen(event));
	if (!r->cfg.quiet)
		console_print(r->console, "#%" PRIu64 " %s %s (%d online)",
		    s->id, label, event, online);
	/* In a storm of joins and leaves, only a summary goes out. */
	if (r->cfg.mode == RELAY_ROOM && storm_event(r->storm, joined, s->id))
		/* Clients that came in after it never hear it joined. */
		relay_broadcast(r, s->id, notice, strlen(notice),
		    joined ? RELAY_EARLIER_ONLY : 0);
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
	int online = registry_count(r->registry);
	pthread_mutex_lock(&r->lock);
	online = relay_online_locked(r, online);
	pthread_mutex_unlock(&r->lock);
	n += snprintf(
	    line + n, sizeof(line) - (size_t)n, " (%d online)\n", online);
	/* Those who joined in the storm do not hear of their own joins. */
	relay_broadcast(r, joined > 0 ? first_join : 0, line, (size_t)n,
	    joined > 0 ? RELAY_EARLIER_ONLY : 0);
}

/*
 * The welcome: "tcpchatd: welcome, you are #5; 3 online: #1 alice, #2,
 * #4 bob; /help for commands", naming the others (the first few).
 * Called with r->lock held.
 */
static void
relay_welcome_locked(
    struct relay *r, struct relay_client *self, struct relay_text *t)
{
	size_t others = r->nclients - 1, shown = 0;
	char who[RELAY_PREFIX_MAX];

	relay_text_add(t, "tcpchatd: welcome, you are #%" PRIu64, self->s->id);
	if (others == 0)
		relay_text_add(t, "; nobody else online");
	else
		relay_text_add(t, "; %zu online: ", others);
	for (struct relay_client *c = r->first; c != NULL; c = c->next) {
		if (c == self)
			continue;
		if (shown == RELAY_WELCOME_NAMES) {
			relay_text_add(t, ", and %zu more", others - shown);
			break;
		}
		relay_who(c->s, c, who, sizeof(who));
		relay_text_add(t, "%s%s", shown++ > 0 ? ", " : "", who);
	}
	relay_text_add(t, "; /help for commands\n");
}

/*
 * Room mode: the history, each line marked, then the welcome, queued
 * for the joiner c before anyone else may send to it (r->lock held).
 */
static void
relay_greet_locked(struct relay *r, struct relay_client *c)
{
	struct relay_text t = {malloc(RELAY_TEXT_MAX), 0};
	struct session *s = c->s;
	int rc = SESSION_SENT;

	for (size_t i = 0; i < r->backlog.count && rc == SESSION_SENT; i++) {
		/* The very buffers relayed: nothing copied. */
		struct msgbuf *line =
		    (struct msgbuf *)backlog_line(&r->backlog, i);
		if ((rc = session_send_buf(s, r->mark)) == SESSION_SENT)
			rc = session_send_buf(s, line);
	}
	c->seen_seq = r->backlog.seq;
	relay_welcome_locked(r, c, &t);
	if (rc == SESSION_SENT && t.buf != NULL)
		rc = session_send(s, t.buf, t.len);
	if (rc != SESSION_SENT || t.buf == NULL)
		console_print(r->console,
		    "#%" PRIu64 " %s: the welcome was not delivered", s->id,
		    s->addr);
	free(t.buf);
}

/*
 * c comes into the room: on the list, greeted (room mode), announced as
 * event ("connected", "authenticated") with what it is carried over.
 */
static void
relay_enter(
    struct relay *r, struct relay_client *c, const char *what, int online)
{
	struct session *s = c->s;
	const char *over = session_transport_name(s);
	char notice[96], event[64];

	pthread_mutex_lock(&r->lock);
	s->user = c;
	c->prev = r->last;
	if (r->last != NULL)
		r->last->next = c;
	else
		r->first = c;
	r->last = c;
	r->nclients++;
	c->in_room = 1;
	if (r->cfg.mode == RELAY_ROOM)
		relay_greet_locked(r, c);
	c->welcomed = 1;
	online = relay_online_locked(r, online);
	pthread_mutex_unlock(&r->lock);
	snprintf(notice, sizeof(notice),
	    "tcpchatd: #%" PRIu64 " joined (%d online)\n", s->id, online);
	/* The console shows what each TLS client negotiated. */
	if (over != NULL)
		snprintf(event, sizeof(event), "%s over %s", what, over);
	else
		snprintf(event, sizeof(event), "%s", what);
	/* No name yet: shown by its address. */
	relay_announce(r, s, s->addr, event, notice, 1, online);
}

void
relay_joined(struct relay *r, struct session *s, int online)
{
	struct relay_client *c = calloc(1, sizeof(*c));
	const char *over = session_transport_name(s);

	if (c == NULL) {
		/* Out of memory: told as a client turned away is. */
		session_close(s, RELAY_EXHAUSTED_NOTICE, "out of memory");
		return;
	}
	c->s = s;
	flood_init(
	    &c->flood, r->cfg.max_rate, RELAY_FLOOD_DROP_MS, clock_now_ms());
	if (r->cfg.password == NULL || r->cfg.mode == RELAY_ECHO) {
		relay_enter(r, c, "connected", online);
		return;
	}
	/* Outside the room until it gives the password. */
	pthread_mutex_lock(&r->lock);
	s->user = c;
	pthread_mutex_unlock(&r->lock);
	if (session_send(s, RELAY_PASSWORD_PROMPT,
	        sizeof(RELAY_PASSWORD_PROMPT) - 1) != SESSION_SENT)
		console_print(r->console,
		    "#%" PRIu64 " %s: the password prompt was not delivered",
		    s->id, s->addr);
	if (!r->cfg.quiet)
		console_print(r->console,
		    "#%" PRIu64 " %s connected%s%s, password required", s->id,
		    s->addr, over != NULL ? " over " : "",
		    over != NULL ? over : "");
}

/*
 * A line from a client not yet in the room: the password, or a wrong
 * one (after a pause; the last try closes it).  Never shown or logged.
 */
static void
relay_password(struct relay *r, struct session *s, struct relay_client *c,
    const char *msg, size_t len)
{
	char event[64];

	if (c->wrong_passwords >= RELAY_PASSWORD_TRIES)
		return; /* closing: the rest is ignored */
	if (password_matches(r->cfg.password, msg, len)) {
		relay_enter(r, c, "authenticated", 0);
		return;
	}
	c->wrong_passwords++;
	if (r->cfg.penalties != NULL)
		access_counter_penalize(r->cfg.penalties,
		    (const struct sockaddr *)&s->peer,
		    RELAY_PASSWORD_PENALTY_MS);
	/* Guessing costs a second a try, on this client's thread alone. */
	struct timespec pause = clock_timespec_ms(RELAY_PASSWORD_PAUSE_MS);
	while (nanosleep(&pause, &pause) == -1 && errno == EINTR)
		;
	snprintf(event, sizeof(event), "wrong password (%d of %d)",
	    c->wrong_passwords, RELAY_PASSWORD_TRIES);
	transcript_write(r->log, s->id, s->addr, "event", event, strlen(event));
	/* An operational event, as a refusal is: syslog hears it too. */
	console_log(r->console, LOG_NOTICE, "#%" PRIu64 " %s: %s", s->id,
	    s->addr, event);
	if (c->wrong_passwords < RELAY_PASSWORD_TRIES)
		relay_reply(r, s, RELAY_PASSWORD_WRONG,
		    sizeof(RELAY_PASSWORD_WRONG) - 1);
	else
		session_close(s, RELAY_PASSWORD_WRONG, "wrong password");
}

/*
 * What others are told of why a client left, from the session's
 * reason and the client's own words: "" for a plain close.
 */
static void
relay_leave_reason(
    const char *reason, const char *words, char *buf, size_t size)
{
	const char *sep = words[0] != '\0' ? ": " : "";

	if (strcmp(reason, "closed") == 0)
		snprintf(buf, size, "%s", "");
	else if (strcmp(reason, "quit") == 0)
		snprintf(buf, size, "quit%s%s", sep, words);
	else if (strcmp(reason, "kicked") == 0)
		snprintf(buf, size, "kicked by the operator%s%s", sep, words);
	else if (strcmp(reason, "reset") == 0)
		snprintf(buf, size, "connection reset");
	else if (strncmp(reason, "too slow", 8) == 0)
		snprintf(buf, size, "too slow");
	else
		snprintf(buf, size, "%s", reason);
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

/* Says on the console how many of c's lines flood control held back. */
static void
relay_report_held(struct relay *r, struct session *s, struct relay_client *c)
{
	char label[RELAY_LABEL_MAX];

	if (c->held_unreported == 0)
		return;
	console_print(r->console,
	    "#%" PRIu64 " %s: %" PRIu64 " more line%s not relayed (flooding)",
	    s->id, relay_label(s, label, sizeof(label)), c->held_unreported,
	    c->held_unreported == 1 ? "" : "s");
	c->held_unreported = 0;
}

void
relay_left(struct relay *r, struct session *s, const char *reason,
    const struct session_msg *undelivered, size_t lost, int online)
{
	struct relay_client *c = s->user;
	char event[RELAY_REASON_MAX + 64], why[RELAY_REASON_MAX + 64];
	char who[RELAY_PREFIX_MAX], notice[sizeof(who) + sizeof(why) + 48];
	char words[RELAY_REASON_MAX] = "", label[RELAY_LABEL_MAX];
	const char *shown = relay_label(s, label, sizeof(label));

	if (!s->opened) {
		/* Never joined (a failed TLS handshake): nobody to tell. */
		transcript_write(
		    r->log, s->id, s->addr, "event", reason, strlen(reason));
		console_print(
		    r->console, "#%" PRIu64 " %s %s", s->id, s->addr, reason);
		return;
	}
	if (c != NULL && !c->in_room) {
		/* Never in the room (no password): nobody else to tell. */
		transcript_write(
		    r->log, s->id, s->addr, "event", reason, strlen(reason));
		if (!r->cfg.quiet)
			console_print(r->console,
			    "#%" PRIu64 " %s disconnected: %s", s->id, s->addr,
			    reason);
		pthread_mutex_lock(&r->lock);
		s->user = NULL;
		pthread_mutex_unlock(&r->lock);
		free(c);
		return;
	}
	if (lost > 0 && r->cfg.mode != RELAY_ECHO)
		relay_report_lost(r, s, undelivered, lost, reason);
	if (c != NULL) {
		relay_report_held(r, s, c);
		pthread_mutex_lock(&r->lock);
		memcpy(words, c->leave, sizeof(words));
		pthread_mutex_unlock(&r->lock);
	}
	relay_who(s, c, who, sizeof(who));
	snprintf(event, sizeof(event), "disconnected: %s%s%s", reason,
	    words[0] != '\0' ? ": " : "", words);
	relay_leave_reason(reason, words, why, sizeof(why));
	if (r->cfg.password != NULL) {
		/* The registry counts those outside the room too. */
		pthread_mutex_lock(&r->lock);
		online = (int)r->nclients - (c != NULL);
		pthread_mutex_unlock(&r->lock);
	}
	if (why[0] != '\0')
		snprintf(notice, sizeof(notice),
		    "tcpchatd: %s left (%s; %d online)\n", who, why, online);
	else
		snprintf(notice, sizeof(notice),
		    "tcpchatd: %s left (%d online)\n", who, online);
	if (c != NULL) {
		/* Off the list first: nobody sends it anything more. */
		pthread_mutex_lock(&r->lock);
		if (c->prev != NULL)
			c->prev->next = c->next;
		else
			r->first = c->next;
		if (c->next != NULL)
			c->next->prev = c->prev;
		else
			r->last = c->prev;
		r->nclients--;
		s->user = NULL;
		pthread_mutex_unlock(&r->lock);
		free(c);
	}
	/* The last word: once it is out, the client may be replaced. */
	relay_announce(r, s, shown, event, notice, 0, online);
}

void
relay_finished(struct relay *r, struct session *s)
{
	char label[RELAY_LABEL_MAX];

	relay_log(r, s, "event", "finished sending", 16);
	console_print(r->console, "#%" PRIu64 " %s finished sending", s->id,
	    relay_label(s, label, sizeof(label)));
}

/* ---- client commands ------------------------------------------------------
 */

#define RELAY_HELP                                                               \
	"tcpchatd: commands:\n"                                                  \
	"tcpchatd:   /nick NAME          take a name (letters, digits, _ - .)\n" \
	"tcpchatd:   /who                who is online, and for how long\n"      \
	"tcpchatd:   /me ACTION          said as \"* NAME ACTION\"\n"            \
	"tcpchatd:   /msg ID|NAME TEXT   to that client alone (chat mode: to "   \
	"the operator)\n"                                                        \
	"tcpchatd:   /quit [REASON]      leave (so does a line \"q\")\n"         \
	"tcpchatd:   /help               this list\n"                            \
	"tcpchatd:   //TEXT              say TEXT starting with one /\n"

/* /nick NAME: takes the name if it is valid and free. */
static void
relay_nick(struct relay *r, struct session *s, struct relay_client *c,
    const char *name, size_t len)
{
	char shown[RELAY_WORD_SHOWN], old[RELAY_NAME_MAX + 1];
	char line[RELAY_PREFIX_MAX * 2], label[RELAY_LABEL_MAX];
	enum nick_error err = nick_check(name, len);
	uint64_t holder = 0;
	/* The change is logged under the name it had. */
	const char *was = relay_label(s, label, sizeof(label));

	if (err != NICK_OK) {
		relay_replyf(r, s, "tcpchatd: error: %s", nick_strerror(err));
		return;
	}
	pthread_mutex_lock(&r->lock);
	for (struct relay_client *o = r->first; o != NULL; o = o->next)
		if (o != c && o->name[0] != '\0' &&
		    nick_same(o->name, strlen(o->name), name, len))
			holder = o->s->id;
	memcpy(old, c->name, sizeof(old));
	if (holder == 0) {
		memcpy(c->name, name, len);
		c->name[len] = '\0';
	}
	pthread_mutex_unlock(&r->lock);
	escape_render_bounded_flags(
	    shown, sizeof(shown), name, len, ESCAPE_BACKSLASH);
	if (holder != 0) {
		relay_replyf(r, s,
		    "tcpchatd: error: %s is taken (by #%" PRIu64 ")", shown,
		    holder);
		return;
	}
	/*
	 * The others are told first: once the client has its answer, no
	 * one who joins later is told of the change as news.
	 */
	if (strcmp(old, c->name) != 0) {
		snprintf(line, sizeof(line), "is now %s", c->name);
		transcript_write(
		    r->log, s->id, was, "event", line, strlen(line));
		console_print(r->console, "#%" PRIu64 " %s%s%s is now %s",
		    s->id, s->addr, old[0] ? " " : "", old, c->name);
		snprintf(line, sizeof(line),
		    "tcpchatd: #%" PRIu64 "%s%s is now %s\n", s->id,
		    old[0] ? " " : "", old, c->name);
		if (r->cfg.mode == RELAY_ROOM)
			relay_broadcast(r, s->id, line, strlen(line), 0);
	}
	relay_replyf(r, s, "tcpchatd: you are now %s", c->name);
}

/* /who: "tcpchatd: N online:", then "tcpchatd:   #ID[ NAME], TIME[, you]". */
static void
relay_who_reply(struct relay *r, struct session *s)
{
	struct relay_text t = {malloc(RELAY_TEXT_MAX), 0};
	uint64_t now = clock_now_ms();
	char who[RELAY_PREFIX_MAX], dur[32];
	size_t shown = 0;

	if (t.buf == NULL)
		return;
	pthread_mutex_lock(&r->lock);
	relay_text_add(&t, "tcpchatd: %zu online:\n", r->nclients);
	for (struct relay_client *c = r->first; c != NULL; c = c->next) {
		if (shown++ == RELAY_WHO_MAX) {
			relay_text_add(&t, "tcpchatd:   and %zu more\n",
			    r->nclients - RELAY_WHO_MAX);
			break;
		}
		relay_who(c->s, c, who, sizeof(who));
		clock_duration(now - c->s->connected_ms, dur, sizeof(dur));
		relay_text_add(&t, "tcpchatd:   %s, %s%s\n", who, dur,
		    c->s == s ? ", you" : "");
	}
	pthread_mutex_unlock(&r->lock);
	relay_reply(r, s, t.buf, t.len);
	free(t.buf);
}

/* /msg TARGET TEXT (text escaped): to that client alone, or the operator. */
static void
relay_private(struct relay *r, struct session *s, struct relay_client *c,
    const struct command *cmd, const char *text)
{
	char label[RELAY_LABEL_MAX], from[RELAY_PREFIX_MAX];
	char to[RELAY_PREFIX_MAX], shown[RELAY_WORD_SHOWN];
	struct session *t;

	if (r->cfg.mode != RELAY_ROOM ||
	    nick_same(cmd->target, cmd->target_len, "operator", 8)) {
		console_print(r->console, "#%" PRIu64 " %s (private): %s",
		    s->id, relay_label(s, label, sizeof(label)), text);
		return;
	}
	if ((t = relay_find(r, cmd->target, cmd->target_len)) == NULL) {
		escape_render_bounded_flags(shown, sizeof(shown), cmd->target,
		    cmd->target_len, ESCAPE_BACKSLASH);
		relay_replyf(r, s, "tcpchatd: error: no such client %s", shown);
		return;
	}
	pthread_mutex_lock(&r->lock);
	relay_who(t, relay_client_locked(t), to, sizeof(to));
	pthread_mutex_unlock(&r->lock);
	relay_who(s, c, from, sizeof(from));
	console_print(r->console, "#%" PRIu64 " %s to %s (private): %s", s->id,
	    relay_label(s, label, sizeof(label)), to, text);
	size_t need = strlen(from) + strlen(text) + 16;
	char *line = malloc(need);
	if (line != NULL) {
		int n = snprintf(line, need, "%s (private): %s\n", from, text);
		if (!relay_send_text(r, t, line, (size_t)n, 1))
			relay_replyf(
			    r, s, "tcpchatd: error: %s did not get it", to);
		free(line);
	}
	session_unref(t);
}

/* A line of text said in the room, or to the operator (chat). */
static void
relay_say(struct relay *r, struct session *s, struct relay_client *c,
    const char *text)
{
	char label[RELAY_LABEL_MAX], prefix[RELAY_PREFIX_MAX];

	console_print(r->console, "#%" PRIu64 " %s: %s", s->id,
	    relay_label(s, label, sizeof(label)), text);
	if (r->cfg.mode != RELAY_ROOM)
		return;
	relay_who(s, c, prefix, sizeof(prefix) - 2);
	strcat(prefix, ": ");
	relay_to_room(r, s, prefix, text, RELAY_REPORT_GONE | RELAY_KEEP);
}

/* /me ACTION: "* NAME ACTION" (the id, before a name is taken). */
static void
relay_action(struct relay *r, struct session *s, struct relay_client *c,
    const char *action)
{
	char prefix[RELAY_PREFIX_MAX];

	if (c->name[0] != '\0')
		snprintf(prefix, sizeof(prefix), "* %s ", c->name);
	else
		snprintf(prefix, sizeof(prefix), "* #%" PRIu64 " ", s->id);
	console_print(
	    r->console, "#%" PRIu64 " %s %s%s", s->id, s->addr, prefix, action);
	if (r->cfg.mode == RELAY_ROOM)
		relay_to_room(
		    r, s, prefix, action, RELAY_REPORT_GONE | RELAY_KEEP);
}

/* Keeps /quit's words (escaped, cut short) for the others' notice. */
static void
relay_keep_words(
    struct relay *r, struct relay_client *c, const char *words, size_t len)
{
	char buf[RELAY_REASON_MAX];

	escape_render_bounded_flags(
	    buf, sizeof(buf), words, len, ESCAPE_BACKSLASH);
	pthread_mutex_lock(&r->lock);
	memcpy(c->leave, buf, sizeof(buf));
	pthread_mutex_unlock(&r->lock);
}

/*
 * A command or a line of text: what it asks, done.  text is arg escaped
 * (for TEXT, ME and MSG).  NULL, or why the session ends.
 */
static const char *
relay_command(struct relay *r, struct session *s, struct relay_client *c,
    const struct command *cmd, const char *text)
{
	char shown[RELAY_WORD_SHOWN];

	if (cmd->usage) {
		relay_replyf(r, s, "tcpchatd: error: usage: %s",
		    command_usage(cmd->kind));
		return NULL;
	}
	switch (cmd->kind) {
	case COMMAND_TEXT:
		relay_say(r, s, c, text);
		break;
	case COMMAND_NICK:
		relay_nick(r, s, c, cmd->arg, cmd->arg_len);
		break;
	case COMMAND_WHO:
		relay_who_reply(r, s);
		break;
	case COMMAND_ME:
		relay_action(r, s, c, text);
		break;
	case COMMAND_MSG:
		relay_private(r, s, c, cmd, text);
		break;
	case COMMAND_QUIT:
		relay_keep_words(r, c, cmd->arg, cmd->arg_len);
		return "quit";
	case COMMAND_HELP:
		relay_reply(r, s, RELAY_HELP, sizeof(RELAY_HELP) - 1);
		break;
	case COMMAND_UNKNOWN:
		escape_render_bounded_flags(shown, sizeof(shown), cmd->target,
		    cmd->target_len, ESCAPE_BACKSLASH);
		relay_replyf(r, s,
		    "tcpchatd: error: unknown command %s (try /help)", shown);
		break;
	}
	return NULL;
}

/*
 * Flood control for one line: 1 if it may go on, 0 if it is held back
 * (the client told once, the console told), or ends the session.
 */
static int
relay_flood_check(struct relay *r, struct session *s, struct relay_client *c,
    const char *msg, size_t len)
{
	char label[RELAY_LABEL_MAX], excerpt[RELAY_EXCERPT];

	switch (flood_take(&c->flood, clock_now_ms())) {
	case FLOOD_PASS:
		return 1;
	case FLOOD_RESUMED:
		relay_report_held(r, s, c);
		return 1;
	case FLOOD_SLOW_DOWN:
		escape_render_bounded_flags(
		    excerpt, sizeof(excerpt), msg, len, ESCAPE_BACKSLASH);
		console_print(r->console,
		    "#%" PRIu64
		    " %s: not relayed (flooding, over %u lines/s): %s",
		    s->id, relay_label(s, label, sizeof(label)),
		    r->cfg.max_rate, excerpt);
		relay_replyf(r, s, "tcpchatd: slow down");
		session_pause_input(s, RELAY_FLOOD_PAUSE_MS);
		return 0;
	case FLOOD_HELD:
		c->held_unreported++;
		session_pause_input(s, RELAY_FLOOD_PAUSE_MS);
		return 0;
	case FLOOD_DROP:
		c->held_unreported++;
		relay_report_held(r, s, c);
		session_close(
		    s, "tcpchatd: disconnected for flooding\n", "flooding");
		return 0;
	}
	return 0;
}

const char *
relay_message(struct relay *r, struct session *s, const char *msg, size_t len)
{
	struct relay_client *c = s->user;
	char stack[RELAY_STACK_ESCAPE], *text = NULL;
	struct command cmd;
	const char *reason;

	atomic_fetch_add_explicit(&r->stats->msgs_in, 1, memory_order_relaxed);
	if (c == NULL)
		return "out of memory";
	/* Only its own thread puts it in the room: read without the lock. */
	if (!c->in_room) {
		relay_password(r, s, c, msg, len);
		return NULL;
	}
	pthread_mutex_lock(&r->lock);
	c->unterminated = s->unterminated;
	pthread_mutex_unlock(&r->lock);
	if (len == 1 && msg[0] == 'q')
		return "quit";
	atomic_store_explicit(&r->last_speaker, s->id, memory_order_relaxed);
	if (!relay_flood_check(r, s, c, msg, len))
		return NULL;
	/* An empty line says nothing: not shown, not relayed. */
	if (len == 0)
		return NULL;
	relay_log(r, s, "in", msg, len);
	command_parse(msg, len, &cmd);
	if (cmd.arg != NULL &&
	    (text = relay_escape(cmd.arg, cmd.arg_len, stack, sizeof(stack))) ==
	        NULL)
		return "out of memory";
	reason = relay_command(r, s, c, &cmd, text);
	if (text != stack)
		free(text);
	return reason;
}

const char *
relay_data(struct relay *r, struct session *s, const char *buf, size_t len)
{
	(void)r;
	/* Echo: a failure ends the session with its error. */
	(void)session_reply(s, buf, len);
	return NULL;
}

/* ---- the operator's side --------------------------------------------------
 */

/* Whether s's last message came with no newline (chat: its dialect). */
static int
relay_unterminated(struct relay *r, struct session *s)
{
	struct relay_client *c;

	pthread_mutex_lock(&r->lock);
	c = relay_client_locked(s);
	int unterminated = c != NULL && c->unterminated;
	pthread_mutex_unlock(&r->lock);
	return unterminated;
}

/*
 * relay_send_one for a member of the room only: RELAY_NOT_IN for one
 * outside it (no password given yet), under the same lock.
 */
static int
relay_send_member(struct relay *r, struct session *s, struct msgbuf *b)
{
	struct relay_client *c;
	int rc;

	pthread_mutex_lock(&r->lock);
	c = relay_client_locked(s);
	rc = c != NULL && !c->in_room ? RELAY_NOT_IN : session_send_buf(s, b);
	pthread_mutex_unlock(&r->lock);
	return rc;
}

size_t
relay_operator_send_all(struct relay *r, struct session *const *list, size_t n,
    const char *text, size_t len)
{
	int room = r->cfg.mode == RELAY_ROOM;
	size_t need = len + 16, sent = 0;
	char *line = malloc(need);
	/*
	 * One copy of each form of the line, shared by every recipient's
	 * queue: with its newline, and (chat mode) without it, for clients
	 * whose own messages have none.  The room's lines are lines.
	 */
	struct msgbuf *b[2] = {NULL, NULL};
	int made[2] = {0, 0};

	if (line == NULL) {
		console_print(
		    r->console, "tcpchatd: out of memory: nothing sent");
		return 0;
	}
	int n_line = snprintf(
	    line, need, "%s%.*s\n", room ? "operator: " : "", (int)len, text);
	for (size_t i = 0; i < n; i++) {
		int bare = !room && relay_unterminated(r, list[i]);
		if (!made[bare]) {
			b[bare] = relay_buffer(r, line, (size_t)n_line - bare);
			made[bare] = 1;
		}
		int rc = b[bare] != NULL
		    ? relay_send_member(r, list[i], b[bare])
		    : RELAY_NO_ROOM;
		if (rc == SESSION_SENT) {
			relay_log(r, list[i], "out", text, len);
			sent++;
		} else {
			/* Which message did not get through, not just that one
			 * did not. */
			relay_report_failed(r, list[i], rc, text, len);
		}
	}
	msgbuf_unref(b[0]);
	msgbuf_unref(b[1]);
	free(line);
	return sent;
}

int
relay_operator_send(
    struct relay *r, struct session *s, const char *text, size_t len)
{
	return relay_operator_send_all(r, &s, 1, text, len) == 1;
}

void
relay_kick(struct relay *r, struct session *s, const char *reason)
{
	char notice[RELAY_REASON_MAX + 64];
	struct relay_client *c;
	size_t len = reason != NULL ? strlen(reason) : 0;

	pthread_mutex_lock(&r->lock);
	if ((c = relay_client_locked(s)) != NULL)
		escape_render_bounded_flags(c->leave, sizeof(c->leave),
		    len > 0 ? reason : "", len, ESCAPE_BACKSLASH);
	pthread_mutex_unlock(&r->lock);
	if (len > 0)
		snprintf(notice, sizeof(notice),
		    "tcpchatd: disconnected by the operator: %.*s\n",
		    RELAY_REASON_MAX, reason);
	else
		snprintf(notice, sizeof(notice),
		    "tcpchatd: disconnected by the operator\n");
	session_close(s, notice, "kicked");
}

struct session *
relay_find(struct relay *r, const char *who, size_t len)
{
	struct session *found = NULL;
	const char *p = who;
	uint64_t id = 0;

	if (len > 0 && *p == '#')
		p++;
	if (p < who + len) {
		const char *q = p;
		while (q < who + len && *q >= '0' && *q <= '9' &&
		    id < UINT64_MAX / 10)
			id = id * 10 + (uint64_t)(*q++ - '0');
		if (q == who + len)
			return registry_find(r->registry, id);
	}
	if (nick_check(who, len) != NICK_OK)
		return NULL;
	pthread_mutex_lock(&r->lock);
	for (struct relay_client *c = r->first; c != NULL; c = c->next)
		if (c->name[0] != '\0' &&
		    nick_same(c->name, strlen(c->name), who, len)) {
			session_ref(found = c->s);
			break;
		}
	pthread_mutex_unlock(&r->lock);
	return found;
}

void
relay_name(struct relay *r, struct session *s, char *buf, size_t size)
{
	struct relay_client *c;

	pthread_mutex_lock(&r->lock);
	c = relay_client_locked(s);
	snprintf(buf, size, "%s", c != NULL ? c->name : "");
	pthread_mutex_unlock(&r->lock);
}

void
relay_history_show(struct relay *r, struct console_att *att)
{
	pthread_mutex_lock(&r->lock);
	if (r->backlog.max == 0)
		console_reply(att, "no history kept (--history 0%s)",
		    r->cfg.mode == RELAY_ROOM ? "" : ", or not room mode");
	else
		console_reply(att, "%zu line%s of history (at most %zu)",
		    r->backlog.count, r->backlog.count == 1 ? "" : "s",
		    r->backlog.max);
	for (size_t i = 0; i < r->backlog.count; i++) {
		const struct msgbuf *b = backlog_line(&r->backlog, i);
		/* Relayed lines are escaped already: printed as they went. */
		console_reply(
		    att, "  %.*s", (int)(b->len > 0 ? b->len - 1 : 0), b->data);
	}
	pthread_mutex_unlock(&r->lock);
}

uint64_t
relay_last_speaker(struct relay *r)
{
	return atomic_load_explicit(&r->last_speaker, memory_order_relaxed);
}
