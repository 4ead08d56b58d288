/*
 * testutil.h - helpers the Check suites share: an in-process echo server
 * on 127.0.0.1 port 0, many clients at once, bounded reads, and child
 * processes (the real programs) driven through pipes.
 */
#ifndef TCPCHAT_TESTUTIL_H
#define TCPCHAT_TESTUTIL_H

#include <sys/types.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* What a test server does with each connection. */
enum testutil_behaviour {
	TESTUTIL_ECHO, /* send every byte back */
	TESTUTIL_CORRUPT, /* echo, but flip one byte after corrupt_at */
	TESTUTIL_DROP_LINE, /* echo, but skip the drop_at'th line */
	TESTUTIL_CLOSE_EARLY, /* echo close_after bytes, then close */
	TESTUTIL_OTHER_BYTES, /* answer each line with "not an echo" */
	TESTUTIL_SILENT, /* read everything, answer nothing */
	TESTUTIL_SLOW, /* echo each read after delay_ms */
	TESTUTIL_TRICKLE, /* echo one byte every delay_ms */
	TESTUTIL_ENDLESS /* answer with one line that never ends */
};

struct testutil_server {
	int listen_fd;
	int port;
	enum testutil_behaviour behaviour;
	size_t corrupt_at; /* TESTUTIL_CORRUPT: byte offset per conn */
	size_t drop_at; /* TESTUTIL_DROP_LINE: line number per conn */
	size_t close_after; /* TESTUTIL_CLOSE_EARLY: bytes per conn */
	_Atomic int delay_ms; /* TESTUTIL_SLOW and _TRICKLE */
	char host[64]; /* the address it listens on */
	pthread_t thread;
	pthread_mutex_t lock; /* guards accepted and stopping */
	int accepted;
	/*
	 * Bytes sent back over all connections: an atomic, as connection
	 * threads may outlive testutil_server_stop and its lock.
	 */
	_Atomic size_t echoed;
	int stopping;
};

/* Starts a server on 127.0.0.1 port 0 that behaves as asked. */
void testutil_server_start(
    struct testutil_server *s, enum testutil_behaviour behaviour);

/*
 * The same on host ("::1" for IPv6).  Returns 0, or -1 when host
 * cannot be listened on here (no IPv6): the caller decides.
 */
int testutil_server_start_on(struct testutil_server *s, const char *host,
    enum testutil_behaviour behaviour);

/* Sets delay_ms for a TESTUTIL_SLOW or _TRICKLE server. */
void testutil_server_set_delay(struct testutil_server *s, int delay_ms);

/* Stops it; connections still open are left to their own threads. */
void testutil_server_stop(struct testutil_server *s);

/* Connections accepted so far. */
int testutil_server_accepted(struct testutil_server *s);

/* Bytes an echoing server (TESTUTIL_ECHO) has sent back so far. */
size_t testutil_server_echoed(struct testutil_server *s);

/* Connects to 127.0.0.1:port (fails the test when it cannot). */
int testutil_connect(int port);

/* Connects n clients at once, all open together, into fds[0..n). */
void testutil_connect_many(int port, int n, int *fds);

/* Closes n descriptors. */
void testutil_close_many(int n, int *fds);

/*
 * Reads exactly n bytes within timeout_ms.  Returns the bytes read: n,
 * or fewer on end of file, error or timeout.
 */
size_t testutil_read_exact(int fd, void *buf, size_t n, int timeout_ms);

/*
 * Reads into buf (NUL-terminated, cap bytes in all) until it contains
 * needle, the peer closes or timeout_ms passes.  Returns the length read.
 */
size_t testutil_read_until(
    int fd, char *buf, size_t cap, const char *needle, int timeout_ms);

/* Waits for end of file within timeout_ms, discarding data: 1 if seen. */
int testutil_wait_eof(int fd, int timeout_ms);

/* Returns 1 if nothing arrives on fd within quiet_ms (data means 0). */
int testutil_nothing_arrives(int fd, int quiet_ms);

/* Writes all of s (fails the test otherwise). */
void testutil_send_str(int fd, const char *s);

/* A child process with its standard streams on pipes. */
struct testutil_proc {
	pid_t pid;
	int in_fd; /* its standard input, for us to write */
	int out_fd; /* its standard output, for us to read */
	int err_fd; /* its standard error, for us to read */
};

/* Path of a built program: $top_builddir/src/NAME (default "."). */
const char *testutil_program(const char *name);

/* Starts argv[0] with argv; fails the test when it cannot. */
void testutil_spawn(struct testutil_proc *p, char *const argv[]);

/*
 * Runs in a spawned child between fork and exec, to set limits or
 * become another user: async-signal-safe calls only; it may write why
 * to standard error and _exit(127).
 */
typedef void (*testutil_child_fn)(void *arg);

/* testutil_spawn with child(arg) run in the child first (may be NULL). */
void testutil_spawn_with(struct testutil_proc *p, char *const argv[],
    testutil_child_fn child, void *arg);

/*
 * Reads one line (without its LF) from fd into buf within timeout_ms.
 * Returns its length, or -1 on end of file or timeout.
 */
ssize_t testutil_read_line(int fd, char *buf, size_t cap, int timeout_ms);

/*
 * Starts a tcpchatd with the given extra arguments (NULL-terminated)
 * on 127.0.0.1 port 0 and reads the port from its first line.
 */
int testutil_spawn_server(
    struct testutil_proc *p, const char *mode, const char *const extra[]);

/* testutil_spawn_server with child(arg) run in the child first. */
int testutil_spawn_server_with(struct testutil_proc *p, const char *mode,
    const char *const extra[], testutil_child_fn child, void *arg);

/* Sends sig and waits up to timeout_ms for exit: the wait status, or -1. */
int testutil_proc_stop(struct testutil_proc *p, int sig, int timeout_ms);

/* Waits up to timeout_ms for the child to exit: wait status, or -1. */
int testutil_proc_wait(struct testutil_proc *p, int timeout_ms);

/*
 * Reads the child's standard output and error (both at once, so
 * neither pipe fills) into out and err (NUL-terminated, cap bytes each)
 * until it exits, within timeout_ms; then reaps it.  Returns the wait
 * status; fails the test when it does not exit in time (it is killed).
 */
int testutil_proc_collect(struct testutil_proc *p, char *out, size_t outcap,
    char *err, size_t errcap, int timeout_ms);

/*
 * Sets where a TESTUTIL_CORRUPT, _DROP_LINE or _CLOSE_EARLY server
 * strikes (corrupt_at, drop_at or close_after) for connections accepted
 * from now on; under the lock, so the connection threads see it.
 */
void testutil_server_set_fault(struct testutil_server *s, size_t at);

/*
 * The next bytes on fd must be exactly want (a C string), within 5 s
 * stretched by CK_TIMEOUT_MULTIPLIER; fails the test otherwise, showing
 * both escaped.
 */
void testutil_expect_str(int fd, const char *want);

/* ms stretched by CK_TIMEOUT_MULTIPLIER, as Check stretches timeouts. */
int testutil_wait_ms(int ms);

/*
 * Reads lines from fd until one contains needle (copied into line, cap
 * bytes) or timeout_ms passes.  Lines before it are skipped.  1 if found.
 */
int testutil_wait_line(
    int fd, const char *needle, char *line, size_t cap, int timeout_ms);

/*
 * Makes test certificates in dir (which must exist) with the openssl
 * command: ca.pem/ca.key (a CA), server.pem/server.key (signed by it,
 * for localhost and 127.0.0.1), wrongname.pem/.key (for other.example),
 * expired.pem/.key (valid for no time at all), client.pem/client.key
 * (a client certificate signed by the CA) and other-ca.pem (a CA that
 * signed none of them).  Fails the test when it cannot.
 */
void testutil_make_certs(const char *dir);

/*
 * The path of name ("ca.pem", "server.key", ...) among certificates
 * made once per process, on first use, by testutil_make_certs in a
 * fresh directory under /tmp (static storage: 16 paths in turn).
 */
const char *testutil_cert(const char *name);

/*
 * An unchecked fixture that makes them before a TCase's tests fork, so
 * that every test finds the same ones.
 */
void testutil_certs_setup(void);

/*
 * Runs a suite that needs TLS and certificates, as a Check main does:
 * 77 (skipped, saying so) when the build has no TLS, else EXIT_SUCCESS
 * or EXIT_FAILURE; the certificates are removed at the end.
 */
struct Suite;
int testutil_run_tls_suite(const char *prog, struct Suite *s);

/* ---- a tcpchatd under test ------------------------------------------ */

/*
 * The next line on fd must be a room's welcome for client id ("tcpchatd:
 * welcome, you are #ID; ... ; /help for commands"); fails the test
 * otherwise.  Returns the line (a static buffer), newline removed.
 */
const char *testutil_expect_welcome(int fd, int id);

/* Longest console line a test reads. */
#define TESTUTIL_CONSOLE_LINE_MAX 70000
/* Bytes shown for a failure message (Check's messages stay under 4 KiB). */
#define TESTUTIL_VISIBLE_MAX 1024

/*
 * The real tcpchatd as a child process on 127.0.0.1 port 0, its console
 * on pipes: a scripted operator.
 */
struct testutil_chatd {
	struct testutil_proc proc;
	int port;
	char line[TESTUTIL_CONSOLE_LINE_MAX]; /* the console line last read */
};

/*
 * bytes escaped for a failure message, cut to TESTUTIL_VISIBLE_MAX (a
 * static buffer: one at a time).
 */
const char *testutil_visible(const char *bytes, size_t len);

/* Starts tcpchatd in mode with extra arguments (NULL-terminated). */
void testutil_chatd_start(
    struct testutil_chatd *d, const char *mode, const char *const extra[]);

/* testutil_chatd_start with child(arg) run in the child first. */
void testutil_chatd_start_with(struct testutil_chatd *d, const char *mode,
    const char *const extra[], testutil_child_fn child, void *arg);

/* Types one line at its console (the newline is added). */
void testutil_chatd_type(struct testutil_chatd *d, const char *line);

/*
 * Reads console lines until one contains needle (kept in d->line);
 * fails the test when none comes within 5 s (stretched).
 */
void testutil_chatd_expect_sub(struct testutil_chatd *d, const char *needle);

/*
 * Reads console lines until one equals the formatted text; _next: the
 * very next line must.  Fails the test, showing the last line seen.
 */
void testutil_chatd_expect(struct testutil_chatd *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void testutil_chatd_expect_next(struct testutil_chatd *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Reads fd until end of file (or cap - 1 bytes, or the deadline on
 * clock_now_ms) into buf, NUL-terminated.  Returns the length.
 */
size_t testutil_drain(int fd, char *buf, size_t cap, uint64_t deadline_ms);

/*
 * Waits for tcpchatd to exit (after a signal or /quit), collecting what
 * it wrote into *console and *errors (malloc'd; either may be NULL).
 * Returns the wait status; fails the test when it does not exit.
 */
int testutil_chatd_wait(
    struct testutil_chatd *d, char **console, char **errors);

/*
 * Shows that none of the n clients (fds; -1 entries skipped) received
 * anything since what they last read: the operator sends text to all
 * ("/all TEXT"), and it must be the very first thing each one reads
 * ("operator: TEXT" in room mode).  Console commands and session queues
 * keep their order, so no sleep is needed.
 */
void testutil_chatd_sync(struct testutil_chatd *d, const int *fds, int n,
    const char *text, int room);

/* Stops it with SIGTERM: it must exit 0 and say nothing on stderr. */
void testutil_chatd_stop(struct testutil_chatd *d);

/*
 * Waits for it to exit after a signal sent already (its console read
 * to the end by someone else, or not): it must exit 0 and say nothing
 * on stderr.
 */
void testutil_chatd_expect_clean_exit(struct testutil_chatd *d);

/*
 * Looks name up in $PATH, as a shell would: the path of an executable
 * (static storage, per thread), or NULL when there is none.
 */
const char *testutil_find_in_path(const char *name);

/* A port on 127.0.0.1 that nobody listened on a moment ago. */
int testutil_free_port(void);

/*
 * Waits until something listens on TCP port (IPv4 or IPv6, as
 * /proc/net/tcp and tcp6 show it) without connecting to it: a server
 * that accepts only once is left untouched.  1 when it does in time.
 */
int testutil_wait_listening(int port, int timeout_ms);

/*
 * Copies the tutorial's program tests/seed/NAME into a fresh temporary
 * directory, with its fixed port (9999 or 8888) replaced by port, so
 * parallel runs cannot clash.  Returns the copy's path (static storage,
 * per thread); testutil_seed_remove() deletes it.
 */
const char *testutil_seed_copy(const char *name, int port);

/* Deletes a copy made by testutil_seed_copy and its directory. */
void testutil_seed_remove(const char *path);

/* ---- a process seen through /proc ------------------------------------ */

/* A "Name:  value" field of /proc/PID/status (VmRSS, VmHWM: in KiB). */
long testutil_proc_status(pid_t pid, const char *name);

/* Threads of pid now. */
int testutil_proc_threads(pid_t pid);

/* Descriptors pid has open. */
int testutil_proc_fds(pid_t pid);

/* CPU time pid has used (user and system), in ms. */
long testutil_proc_cpu_ms(pid_t pid);

/* Resets pid's peak RSS (VmHWM) to its RSS now.  0, or -1. */
int testutil_proc_reset_peak(pid_t pid);

/*
 * Raises this process's open-file limit as far as allowed, towards
 * want; returns the limit now.
 */
long testutil_raise_nofile(long want);

/*
 * Attaches an operator to a control socket at path: op's in_fd and
 * out_fd are both the socket, so testutil_chatd_type and _expect work
 * on it as on the console (op->proc.pid is -1).
 */
void testutil_operator_attach(struct testutil_chatd *op, const char *path);

/* Closes the operator's socket. */
void testutil_operator_detach(struct testutil_chatd *op);

/* A client of a tcpchatd under test, with its id and address. */
struct testutil_client {
	int fd;
	int id;
	char addr[80]; /* as the server shows it (NET_ADDRSTRLEN) */
};

/*
 * Connects client id to d and waits for the console to announce it with
 * online clients in all.
 */
void testutil_client_join(
    struct testutil_chatd *d, struct testutil_client *c, int id, int online);

/* Starts tcpchatd in mode (extra arguments too) and joins #1..#n (in a
 * room, each one's welcome read). */
void testutil_clients_start(struct testutil_chatd *d, const char *mode,
    const char *const extra[], struct testutil_client *cs, int n);

/* Closes the n clients (those still open) and stops d (as _chatd_stop). */
void testutil_clients_done(
    struct testutil_chatd *d, struct testutil_client *cs, int n);

/*
 * Proves none of the n clients received anything since its last
 * expected bytes: the operator sends sync to all ("/all"), and it must
 * be the very first thing each one reads ("operator: " first in room).
 */
void testutil_clients_sync(struct testutil_chatd *d, struct testutil_client *cs,
    int n, const char *sync, int room);

/* Makes a fresh directory /tmp/PREFIX_XXXXXX into dir. */
void testutil_tmpdir(char *dir, size_t size, const char *prefix);

/* Removes dir and everything in it. */
void testutil_rmdir(const char *dir);

/* Connects to a Unix-domain stream socket: the socket, or -1 (errno). */
int testutil_unix_connect(const char *path);

/* ---- a program on a pseudo-terminal ----------------------------------- */

#define TESTUTIL_PTY_MAX (256 * 1024)

/*
 * A program whose standard streams are a new pseudo-terminal, its
 * controlling terminal, in a session led by a helper process that holds
 * the terminal's foreground process group (as an interactive shell
 * does).  out collects what the terminal showed.
 */
struct testutil_pty {
	pid_t pid; /* the program */
	pid_t leader; /* the session leader */
	int master;
	int ctl; /* to the leader: 'f' gives the program the foreground */
	int report; /* from the leader: the program's pid, then its status */
	char out[TESTUTIL_PTY_MAX];
	size_t len; /* bytes in out */
	size_t mark; /* where the next testutil_pty_expect looks from */
};

/*
 * Starts argv on a terminal: in the leader's (foreground) process group,
 * or with background set in a process group of its own, as "prog &"
 * does, with TOSTOP on so that a background write would stop it.
 */
void testutil_pty_spawn(
    struct testutil_pty *t, char *const argv[], int background);

/*
 * Reads the terminal until what it showed since the mark contains
 * needle: 1 (the mark moves past it), or 0 after timeout_ms.
 */
int testutil_pty_expect(
    struct testutil_pty *t, const char *needle, int timeout_ms);

/* Reads what the terminal shows for quiet_ms more (into out). */
void testutil_pty_drain(struct testutil_pty *t, int quiet_ms);

/* Types s at the terminal. */
void testutil_pty_type(struct testutil_pty *t, const char *s);

/* Makes the program's process group the terminal's foreground one. */
void testutil_pty_foreground(struct testutil_pty *t);

/*
 * Waits for the program to exit (reading the terminal meanwhile): its
 * wait status, or -1 after timeout_ms (then it is killed).
 */
int testutil_pty_wait(struct testutil_pty *t, int timeout_ms);

/* The program's process state from /proc ('S', 'R', 'T' stopped...). */
char testutil_proc_state(pid_t pid);

#endif
