/*
 * server.h - tcpchatd: its configuration, the accept loop and admission,
 * and the wiring of sessions (session.c, the mechanism) to the relay
 * (relay.c, the policy), the operator's console and the transcript.
 * One detached thread per connection.
 */
#ifndef TCPCHAT_SERVER_H
#define TCPCHAT_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "access.h"
#include "relay.h"

enum server_mode {
	SERVER_ECHO = RELAY_ECHO,
	SERVER_CHAT = RELAY_CHAT,
	SERVER_ROOM = RELAY_ROOM
};

#define SERVER_DEFAULT_PORT "9999"
#define SERVER_DEFAULT_MAX_LINE 65536
#define SERVER_DEFAULT_MAX_QUEUE (1024 * 1024)
/* --max-queue-total by default: the smaller of this and memory / 4. */
#define SERVER_DEFAULT_MAX_QUEUE_TOTAL ((size_t)512 << 20)
/*
 * The kernel's send buffer for each client in chat and room modes: what
 * it holds for a reader that stops lies outside --max-queue and
 * --max-queue-total, so it is kept small (Linux doubles it).
 */
#define SERVER_CHAT_SNDBUF (64 * 1024)
#define SERVER_DEFAULT_DRAIN_MS 3000
/* An unterminated message is handed on after this much quiet. */
#define SERVER_FLUSH_MS 40
/* A line must be complete within this many seconds (slowloris). */
#define SERVER_DEFAULT_LINE_TIMEOUT 60
/* A TLS handshake must be over within this time. */
#define SERVER_DEFAULT_HANDSHAKE_TIMEOUT 10
/* Room lines replayed to a joiner, by default (room mode). */
#define SERVER_DEFAULT_HISTORY 20
/* Lines a second one client may send, by default (chat and room). */
#define SERVER_DEFAULT_MAX_RATE 20
/*
 * A client that ends its input is taken as listening once its notice
 * has gone out (over a second) and this passes without a reset.
 */
#define SERVER_FINISH_PROBE_MS 200

struct server_config {
	const char *host; /* address to listen on */
	const char *port; /* port, "0" for any */
	enum server_mode mode;
	size_t max_line; /* longest message, newline excluded */
	size_t max_queue; /* bytes queued for one client at most */
	size_t max_queue_total; /* for all clients; 0: from memory */
	int max_clients; /* 0: derived from the open-file limit */
	int backlog;
	int quiet; /* no connect/disconnect events */
	int drain_ms; /* time queued messages get at shutdown */
	const char *log_path; /* transcript, or NULL */
	int console_fd; /* operator input, -1 for none */
	int console_out_fd; /* operator output */
	struct access_list access; /* --allow and --deny */
	unsigned max_per_ip; /* 0: no limit */
	int idle_timeout_ms; /* 0: none */
	int line_timeout_ms; /* an unfinished line gets this long; 0: none */
	const char *tls_cert; /* serve TLS only: this certificate chain */
	const char *tls_key; /* and its key (NULL: in tls_cert's file) */
	const char *tls_client_ca; /* require client certificates, or NULL */
	int handshake_timeout_ms; /* a TLS handshake gets this long */
	int family; /* AF_UNSPEC, or AF_INET (-4) or AF_INET6 (-6) only */
	int verbose; /* -v given this often: more on the console */
	size_t history; /* --history: room lines for joiners; 0: none */
	unsigned max_rate; /* --max-rate: lines a second; 0: no limit */
	const char *control_path; /* --control: operators attach here */
	int no_console; /* --no-console: read no console at all */
	int use_syslog; /* --syslog: operational events to syslog */
	/* --password-file: chat and room need its first line; or NULL. */
	const char *password_file;
};

/* The default --max-queue-total for this machine. */
size_t server_default_queue_total(void);

/* Fills cfg with the defaults documented in tcpchatd(1). */
void server_config_defaults(struct server_config *cfg);

/* Parses "echo", "chat" or "room".  0, or -1 for anything else. */
int server_mode_parse(const char *name, enum server_mode *mode);

/* The mode's name. */
const char *server_mode_name(enum server_mode mode);

/*
 * Runs tcpchatd until a signal or /quit.  Prints the listening line
 * first, to the console's output.  Returns the exit status: 0 after a
 * clean shutdown, 1 when the server could not start (why is written to
 * err_fd).
 */
int server_run(const struct server_config *cfg, int err_fd);

struct server;

/*
 * Loads --tls-cert and --tls-key again for new connections (SIGHUP); a
 * bad new pair is reported on the console and the old one kept.  0, or
 * -1 when it was kept.
 */
int server_tls_reload(struct server *srv);

#endif
