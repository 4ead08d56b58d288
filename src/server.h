/*
 * server.h - tcpchatd: the accept loop, its configuration and the state
 * every session shares.  One detached thread per connection (session.c).
 */
#ifndef TCPCHAT_SERVER_H
#define TCPCHAT_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "access.h"

enum server_mode { SERVER_ECHO, SERVER_CHAT, SERVER_ROOM };

#define SERVER_DEFAULT_PORT "9999"
#define SERVER_DEFAULT_MAX_LINE 65536
#define SERVER_DEFAULT_MAX_QUEUE (1024 * 1024)
#define SERVER_DEFAULT_DRAIN_MS 3000
/* An unterminated message is handed on after this much quiet. */
#define SERVER_FLUSH_MS 40
/* A line must be complete within this time (slowloris). */
#define SERVER_DEFAULT_LINE_TIMEOUT 60

struct server_config {
	const char *host; /* address to listen on */
	const char *port; /* port, "0" for any */
	enum server_mode mode;
	size_t max_line; /* longest message, newline excluded */
	size_t max_queue; /* bytes queued for one client at most */
	int max_clients; /* 0: derived from the open-file limit */
	int backlog;
	int quiet; /* no connect/disconnect events */
	int drain_ms; /* time queued messages get at shutdown */
	const char *log_path; /* transcript, or NULL */
	int console_fd; /* operator input, -1 for none */
	int console_out_fd; /* operator output */
	struct access_list access; /* --allow and --deny */
	unsigned max_per_ip; /* 0: no limit */
	int idle_timeout_s; /* 0: none */
	int line_timeout_s; /* an unfinished line gets this long */
};

struct registry;
struct console;

/* Counters over the server's life; updated without locks. */
struct server_stats {
	atomic_uint_fast64_t connections;
	atomic_uint_fast64_t refused;
	atomic_uint_fast64_t msgs_in;
	atomic_uint_fast64_t msgs_out;
	atomic_uint_fast64_t bytes_in;
	atomic_uint_fast64_t bytes_out;
	atomic_uint_fast64_t undelivered;
};

struct server {
	struct server_config cfg;
	struct registry *registry;
	struct console *console;
	int log_fd; /* transcript, -1 for none */
	pthread_t main_thread;
	atomic_int stopping; /* set once shutdown began */
	atomic_int threads; /* session threads not yet finished */
	atomic_int log_failed; /* a transcript write failed already */
	uint64_t started_ms;
	size_t stack_size; /* for session threads */
	struct access_counter per_ip; /* --max-per-ip */
	struct server_stats stats;
};

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

/* Asks the accept loop to shut down (from any thread). */
void server_request_stop(struct server *srv);

/*
 * Appends a line to the --log transcript (see transcript.h); the first
 * failure to write it is reported on the console, so a transcript with
 * holes never goes unnoticed.
 */
void server_log(struct server *srv, uint64_t id, const char *addr,
    const char *what, const char *text, size_t len);

#endif
