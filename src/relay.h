/*
 * relay.h - tcpchatd's policy: what each mode does with what a client
 * sends (text, or a client command: command.h), names (nick.h), the
 * welcome and the room's history (backlog.h), flood control (flood.h),
 * the room password (password.h: a client outside hears nothing),
 * joins and leaves with their reasons, who gets a message, what the
 * console and the transcript are told, and the reports of messages that
 * did not get through.  Sessions (the mechanism) call in through
 * server.c's callbacks; the operator's commands call relay_find,
 * relay_operator_send, relay_kick and relay_history_show.
 */
#ifndef TCPCHAT_RELAY_H
#define TCPCHAT_RELAY_H

#include <stddef.h>
#include <stdint.h>

struct access_counter;
struct console;
struct console_att;
struct msgbuf_budget;
struct registry;
struct session;
struct session_msg;
struct stats;
struct transcript;

enum relay_mode {
	RELAY_ECHO, /* every byte back to its sender */
	RELAY_CHAT, /* clients talk with the operator */
	RELAY_ROOM /* clients talk with each other */
};

struct relay_config {
	enum relay_mode mode;
	int quiet; /* no connect and disconnect events on the console */
	struct msgbuf_budget *budget; /* charged for what is relayed */
	size_t history; /* room lines replayed to joiners; 0: none */
	unsigned max_rate; /* lines a second per client; 0: no limit */
	/*
	 * Chat and room: the room password (--password-file), or NULL for
	 * none.  A client's lines are password attempts until one matches;
	 * before that it is not in the room: nothing it says is shown,
	 * logged or relayed, it hears nothing, and it is not online.
	 */
	const char *password;
	/*
	 * Where a wrong password is held against the client's address
	 * (--max-per-ip) for RELAY_PASSWORD_PENALTY_MS, or NULL.
	 */
	struct access_counter *penalties;
};

/* What a client is greeted with when the room has a password. */
#define RELAY_PASSWORD_PROMPT "tcpchatd: password required\n"
/* The answer to a wrong one, after RELAY_PASSWORD_PAUSE_MS. */
#define RELAY_PASSWORD_WRONG "tcpchatd: error: wrong password\n"
#define RELAY_PASSWORD_PAUSE_MS 1000
/* Wrong passwords a connection may give; the last one closes it. */
#define RELAY_PASSWORD_TRIES 3
/* How long a wrong password holds a --max-per-ip slot. */
#define RELAY_PASSWORD_PENALTY_MS 60000

/* Bytes in a client's name at most (nick.h's NICK_MAX_BYTES). */
#define RELAY_NAME_MAX 128

/*
 * What a client that ends its input (and is still there) is told: the
 * session's finish_notice (session.h) in chat and room modes.
 */
#define RELAY_FINISH_NOTICE "tcpchatd: end of your input: still listening\n"

/*
 * What a client the server cannot serve is told, at admission or when
 * its state cannot be had (out of memory).
 */
#define RELAY_EXHAUSTED_NOTICE                                                 \
	"tcpchatd: error: cannot serve more clients now, try again later\n"

/* A client over --max-rate for this long is dropped as flooding. */
#define RELAY_FLOOD_DROP_MS 10000
/*
 * A client over the rate is not read for this long after each line held
 * back: TCP holds the rest of its flood back, so a flooder costs the
 * others neither CPU nor latency (what it sent meanwhile is read, and
 * not relayed, when the pause ends).
 */
#define RELAY_FLOOD_PAUSE_MS 1000

struct relay;

/*
 * A relay over the sessions in registry, telling console and log (NULL:
 * no --log) and counting in stats.  All must outlive it.  NULL: ENOMEM.
 */
struct relay *relay_new(const struct relay_config *cfg,
    struct registry *registry, struct console *console, struct transcript *log,
    struct stats *stats);

/* Starts the relay's thread (storm summaries).  0, or an error number. */
int relay_start(struct relay *r);

/* Sends what is pending and stops its thread; before relay_free. */
void relay_stop(struct relay *r);

void relay_free(struct relay *r);

/* "echo", "chat" or "room" to a mode.  0, or -1 for anything else. */
int relay_mode_parse(const char *name, enum relay_mode *mode);

/* The mode's name. */
const char *relay_mode_name(enum relay_mode mode);

/* s joined (on its thread, registered already); online counts it. */
void relay_joined(struct relay *r, struct session *s, int online);

/* One message from s (chat and room).  NULL, or why s ends. */
const char *relay_message(
    struct relay *r, struct session *s, const char *msg, size_t len);

/* s ended its input and is still there, listening (chat and room). */
void relay_finished(struct relay *r, struct session *s);

/* Bytes from s (echo mode).  NULL, or why s ends. */
const char *relay_data(
    struct relay *r, struct session *s, const char *buf, size_t len);

/*
 * s has gone for reason (out of the registry already; online left);
 * undelivered holds the lost messages still queued for it.
 */
void relay_left(struct relay *r, struct session *s, const char *reason,
    const struct session_msg *undelivered, size_t lost, int online);

/*
 * The operator's text for s (a line is made of it: "operator: " first
 * in room mode; in chat mode without its newline when the client's last
 * message had none); logged, or reported as not delivered.  1 if queued.
 */
int relay_operator_send(
    struct relay *r, struct session *s, const char *text, size_t len);

/*
 * relay_operator_send to each of list[0..n), each form of the line
 * stored once for all of them.  Returns how many it was queued for.
 */
size_t relay_operator_send_all(struct relay *r, struct session *const *list,
    size_t n, const char *text, size_t len);

/*
 * The operator disconnects s: it is told why (reason: the operator's
 * words, or NULL or "" for none), then closed; others hear the reason.
 */
void relay_kick(struct relay *r, struct session *s, const char *reason);

/*
 * The client who[0..len) names: an id ("7" or "#7") or a name (in any
 * case).  Returns it with a reference taken, or NULL.
 */
struct session *relay_find(struct relay *r, const char *who, size_t len);

/* s's name into buf (size bytes): "" when it has none. */
void relay_name(struct relay *r, struct session *s, char *buf, size_t size);

/* Shows the room's history to the operator at att (/history). */
void relay_history_show(struct relay *r, struct console_att *att);

/* The id of the client whose message came last (/r), or 0. */
uint64_t relay_last_speaker(struct relay *r);

#endif
