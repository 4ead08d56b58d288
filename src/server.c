/*
 * server.c - tcpchatd's accept loop and admission: each connection
 * admitted gets a session (session.c) on a detached thread of its own,
 * wired to the relay (relay.c) through the callbacks here; the rest is
 * starting up and shutting down.
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "clock.h"
#include "console.h"
#include "control.h"
#include "io.h"
#include "msgbuf.h"
#include "net.h"
#include "operator.h"
#include "password.h"
#include "registry.h"
#include "relay.h"
#include "server.h"
#include "service.h"
#include "session.h"
#include "stats.h"
#include "tls.h"
#include "transcript.h"

/* Session thread stacks: small, as thousands of them may exist. */
#ifdef TCPCHAT_SANITIZED
#define SERVER_STACK_SIZE (1024 * 1024)
#else
#define SERVER_STACK_SIZE (64 * 1024)
#endif
/* Descriptors kept back from --max-clients for the server itself. */
#define SERVER_FD_RESERVE 32
/* Pause after accept fails for want of descriptors, memory or threads. */
#define SERVER_BACKOFF_MS 100
/* After a closing notice, how long a client gets to close first. */
#define SERVER_LINGER_MS 1000
/*
 * Address space kept back (mapped, never touched) for the clients being
 * served: given up when a thread or a session cannot be had, so that
 * they can still be relayed to while new clients are turned away.
 */
#define SERVER_RESERVE ((size_t)4 << 20)

struct server {
	struct server_config cfg;
	int err_fd; /* where start-up errors go */
	int lfd; /* the listening socket */
	char name[NET_ADDRSTRLEN]; /* its address */
	struct registry *registry;
	struct console *console;
	struct transcript *log; /* NULL without --log */
	struct relay *relay;
	struct operator op;
	struct session_limits limits;
	struct msgbuf_budget budget; /* --max-queue-total */
	struct session_flusher *flusher; /* batches lines to busy clients */
	pthread_mutex_t tls_lock; /* guards tls: SIGHUP replaces it */
	struct tls_context *tls; /* --tls-cert: serve TLS only; or NULL */
	char *password; /* --password-file's, or NULL */
	const struct session_callbacks *callbacks;
	struct stats stats;
	struct access_counter per_ip; /* --max-per-ip */
	/* Admission when out of threads or memory (the accept loop's). */
	void *reserve; /* SERVER_RESERVE bytes mapped, or NULL: given up */
	int ceiling; /* live threads when that happened; INT_MAX: none */
	pthread_t main_thread;
	atomic_int stopping; /* set once shutdown began */
	int console_running; /* its thread outlived console_stop */
	struct control control; /* --control: operators attach there */
};

static volatile sig_atomic_t server_signalled;
static volatile sig_atomic_t server_hup; /* SIGHUP: reopen the log */

static void
server_on_signal(int sig)
{
	server_signalled = sig;
}

static void
server_on_hup(int sig)
{
	(void)sig;
	server_hup = 1;
}

void
server_config_defaults(struct server_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->host = "127.0.0.1";
	cfg->port = SERVER_DEFAULT_PORT;
	cfg->mode = SERVER_CHAT;
	cfg->max_line = SERVER_DEFAULT_MAX_LINE;
	cfg->max_queue = SERVER_DEFAULT_MAX_QUEUE;
	cfg->backlog = 4096;
	cfg->drain_ms = SERVER_DEFAULT_DRAIN_MS;
	cfg->console_fd = 0;
	cfg->console_out_fd = 1;
	cfg->line_timeout_ms = SERVER_DEFAULT_LINE_TIMEOUT * 1000;
	cfg->handshake_timeout_ms = SERVER_DEFAULT_HANDSHAKE_TIMEOUT * 1000;
	cfg->family = AF_UNSPEC;
	cfg->history = SERVER_DEFAULT_HISTORY;
	cfg->max_rate = SERVER_DEFAULT_MAX_RATE;
}

size_t
server_default_queue_total(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
	size_t quarter;

	if (pages <= 0 || size <= 0)
		return SERVER_DEFAULT_MAX_QUEUE_TOTAL;
	quarter = (size_t)pages / 4 * (size_t)size;
	return quarter < SERVER_DEFAULT_MAX_QUEUE_TOTAL
	    ? quarter
	    : SERVER_DEFAULT_MAX_QUEUE_TOTAL;
}

int
server_mode_parse(const char *name, enum server_mode *mode)
{
	enum relay_mode m;

	if (relay_mode_parse(name, &m) == -1)
		return -1;
	*mode = (enum server_mode)m;
	return 0;
}

const char *
server_mode_name(enum server_mode mode)
{
	return relay_mode_name((enum relay_mode)mode);
}

/* ---- the sessions' callbacks ---------------------------------------- */

static void
server_on_opened(void *ctx, struct session *s)
{
	struct server *srv = ctx;

	relay_joined(srv->relay, s, registry_count(srv->registry));
}

static const char *
server_on_message(void *ctx, struct session *s, const char *msg, size_t len)
{
	struct server *srv = ctx;

	return relay_message(srv->relay, s, msg, len);
}

static void
server_on_finished(void *ctx, struct session *s)
{
	struct server *srv = ctx;

	relay_finished(srv->relay, s);
}

static const char *
server_on_data(void *ctx, struct session *s, const char *buf, size_t len)
{
	struct server *srv = ctx;

	return relay_data(srv->relay, s, buf, len);
}

/* -v: how long a connection lasted and the messages it moved. */
static void
server_say_session_totals(struct server *srv, struct session *s)
{
	uint64_t in, out, ms = clock_now_ms() - s->connected_ms;

	if (srv->cfg.mode == SERVER_ECHO) {
		/* Echoed bytes are not messages: only the time is told. */
		console_print(srv->console, "#%llu %s: %llu.%03llu s connected",
		    (unsigned long long)s->id, s->addr,
		    (unsigned long long)(ms / 1000),
		    (unsigned long long)(ms % 1000));
		return;
	}
	session_counts(s, &in, &out);
	console_print(srv->console,
	    "#%llu %s: %llu.%03llu s connected, %llu message%s in, %llu out",
	    (unsigned long long)s->id, s->addr, (unsigned long long)(ms / 1000),
	    (unsigned long long)(ms % 1000), (unsigned long long)in,
	    in == 1 ? "" : "s", (unsigned long long)out);
}

/* A session ended: its admission is undone, then the relay is told. */
static void
server_on_closed(void *ctx, struct session *s, const char *reason,
    const struct session_msg *undelivered, size_t lost)
{
	struct server *srv = ctx;

	if (srv->cfg.max_per_ip > 0)
		access_counter_put(&srv->per_ip, (struct sockaddr *)&s->peer);
	int online = registry_remove(srv->registry, s);
	relay_left(srv->relay, s, reason, undelivered, lost, online);
	if (srv->cfg.verbose >= 1)
		server_say_session_totals(srv, s);
	/* An operator who had chosen it hears so. */
	operator_client_left(&srv->op);
}

static const struct session_callbacks server_framed_callbacks = {
    .opened = server_on_opened,
    .message = server_on_message,
    .finished = server_on_finished,
    .closed = server_on_closed,
};

static const struct session_callbacks server_echo_callbacks = {
    .opened = server_on_opened,
    .data = server_on_data,
    .closed = server_on_closed,
};

/* ---- admission -------------------------------------------------------- */

/* Asks the accept loop to shut down (from any thread): /quit. */
static void
server_request_stop(void *ctx)
{
	struct server *srv = ctx;

	atomic_store(&srv->stopping, 1);
	pthread_kill(srv->main_thread, SESSION_WAKE_SIGNAL);
}

/* Writes a short notice to a socket we are about to close, never waiting. */
static void
server_refuse(int fd, const char *notice)
{
	(void)!send(fd, notice, strlen(notice), MSG_NOSIGNAL | MSG_DONTWAIT);
	close(fd);
}

/*
 * Turns a connection away: the client is told notice, the refusal is
 * counted, and the console hears "ADDR refused: why" (a refusal by rule
 * only without -q; an error always).
 */
static void
server_turn_away(struct server *srv, int fd, const char *addr,
    const char *notice, const char *why, int error)
{
	atomic_fetch_add(&srv->stats.refused, 1);
	server_refuse(fd, notice);
	if (error || !srv->cfg.quiet)
		console_log(srv->console, error ? LOG_WARNING : LOG_NOTICE,
		    "%s refused: %s", addr, why);
}

/*
 * Raises the open-file limit to the hard limit and derives the default
 * client limit from it: one descriptor per client, less a reserve.
 */
static int
server_default_max_clients(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return 1024 - SERVER_FD_RESERVE;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > INT_MAX)
		return INT_MAX - SERVER_FD_RESERVE;
	if (rl.rlim_cur <= 2 * SERVER_FD_RESERVE)
		return (int)rl.rlim_cur / 2;
	return (int)rl.rlim_cur - SERVER_FD_RESERVE;
}

/* How long admission waits for threads of clients already gone. */
#define SERVER_FINISHING_WAIT_MS 250

/*
 * Whether one more session thread fits under --max-clients.  Threads of
 * clients that have left (no longer online) may still be finishing:
 * they are waited for briefly, so a client that comes in just as
 * another leaves is not turned away, and threads stay bounded.
 */
static int
server_thread_free(struct server *srv)
{
	uint64_t deadline = clock_now_ms() + SERVER_FINISHING_WAIT_MS;

	for (;;) {
		/* Those that have ended are joined, and counted gone. */
		session_reap(&srv->stats.io);
		if (atomic_load(&srv->stats.io.threads) < srv->cfg.max_clients)
			return 1;
		if (registry_count(srv->registry) >= srv->cfg.max_clients ||
		    clock_now_ms() >= deadline)
			return 0;
		poll(NULL, 0, 1);
	}
}

/* What a client is told when no thread or memory can be had for it. */
static void
server_exhausted_notice(char *notice, size_t size)
{
	snprintf(notice, size, "%s", RELAY_EXHAUSTED_NOTICE);
}

/* Maps the reserve: address space only, no memory.  0, or -1. */
static int
server_reserve_take(struct server *srv)
{
	void *p = mmap(NULL, SERVER_RESERVE, PROT_NONE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED)
		return -1;
	srv->reserve = p;
	return 0;
}

/*
 * A thread or a session could not be had: no more clients are admitted
 * than are served now, and the reserve goes to those being served (a
 * line relayed to them needs memory too).
 */
static void
server_exhausted(struct server *srv)
{
	int live = atomic_load(&srv->stats.io.threads);

	/* With nobody served, the next client is tried again. */
	if (live < srv->ceiling)
		srv->ceiling = live > 0 ? live : 1;
	if (srv->reserve != NULL) {
		munmap(srv->reserve, SERVER_RESERVE);
		srv->reserve = NULL;
		console_print(srv->console,
		    "tcpchatd: out of threads or memory with %d clients: "
		    "turning new ones away",
		    live);
	}
}

/*
 * Whether admission is held at the ceiling; it is lifted once clients
 * have left and the reserve can be mapped again.
 */
static int
server_at_ceiling(struct server *srv, int live)
{
	if (srv->ceiling == INT_MAX)
		return 0;
	if (live < srv->ceiling && server_reserve_take(srv) == 0) {
		srv->ceiling = INT_MAX;
		console_print(
		    srv->console, "tcpchatd: admitting clients again");
		return 0;
	}
	return live >= srv->ceiling;
}

/*
 * Checks the rules that need nothing but the address: --allow/--deny,
 * --max-clients, --max-per-ip (taking a slot).  NULL when admitted, or
 * why not, with the client's notice in notice.
 */
static const char *
server_check_rules(
    struct server *srv, const struct sockaddr *sa, char *notice, size_t size)
{
	/* Refused clients are closed before anything they send is read. */
	if (!access_allowed(&srv->cfg.access, sa)) {
		snprintf(notice, size, "tcpchatd: access denied\n");
		return "access denied";
	}
	/*
	 * Live session threads, not registered sessions: a thread that
	 * left the registry holds its stack until it has been joined.
	 */
	if (!server_thread_free(srv)) {
		snprintf(notice, size, "tcpchatd: server full (%d clients)\n",
		    srv->cfg.max_clients);
		return "server full";
	}
	if (server_at_ceiling(srv, atomic_load(&srv->stats.io.threads))) {
		server_exhausted_notice(notice, size);
		return "out of threads or memory";
	}
	if (srv->cfg.max_per_ip > 0 &&
	    access_counter_take(&srv->per_ip, sa, srv->cfg.max_per_ip) == -1) {
		snprintf(notice, size,
		    "tcpchatd: too many connections from your address (max %u)\n",
		    srv->cfg.max_per_ip);
		return "over --max-per-ip";
	}
	return NULL;
}

/* Socket options for an admitted client. */
static void
server_socket_options(struct server *srv, int fd)
{
	int on = 1, sndbuf = SERVER_CHAT_SNDBUF;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
	/* What the kernel holds for a reader that stopped stays small. */
	if (srv->cfg.mode != SERVER_ECHO)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
}

/* The TLS context new connections get, with a reference, or NULL. */
static struct tls_context *
server_tls_context(struct server *srv)
{
	pthread_mutex_lock(&srv->tls_lock);
	struct tls_context *c = srv->tls;
	if (c != NULL)
		tls_context_ref(c);
	pthread_mutex_unlock(&srv->tls_lock);
	return c;
}

/* Puts s's socket under TLS (handshaken on its thread).  0, or -1. */
static int
server_tls_wrap(struct server *srv, struct session *s, char *why, size_t size)
{
	struct tls_context *c = server_tls_context(srv);
	char err[TLS_ERR_MAX];
	int rc = -1;

	if (c != NULL &&
	    (rc = tls_transport(
	         &s->transport, s->transport.fd, c, err, sizeof(err))) == -1)
		snprintf(why, size, "%s", err);
	tls_context_unref(c);
	return rc;
}

/* A TLS context from the configuration.  NULL, with why in err. */
static struct tls_context *
server_tls_load(const struct server_config *cfg, char *err, size_t size)
{
	struct tls_server_options o = {cfg->tls_cert,
	    cfg->tls_key != NULL ? cfg->tls_key : cfg->tls_cert,
	    cfg->tls_client_ca};

	return tls_server_new(&o, err, size);
}

int
server_tls_reload(struct server *srv)
{
	char err[TLS_ERR_MAX];
	struct tls_context *c;

	if (srv->cfg.tls_cert == NULL)
		return 0;
	if ((c = server_tls_load(&srv->cfg, err, sizeof(err))) == NULL) {
		console_log(srv->console, LOG_ERR,
		    "tcpchatd: TLS certificate not reloaded, keeping the old one: %s",
		    err);
		return -1;
	}
	pthread_mutex_lock(&srv->tls_lock);
	struct tls_context *old = srv->tls;
	srv->tls = c;
	pthread_mutex_unlock(&srv->tls_lock);
	/* Connections made with the old one keep it until they end. */
	tls_context_unref(old);
	console_log(srv->console, LOG_NOTICE,
	    "tcpchatd: TLS certificate %s reloaded for new connections",
	    srv->cfg.tls_cert);
	return 0;
}

/* -vv: which of the server's addresses a client reached. */
static void
server_say_accepted(struct server *srv, const struct session *s, int fd)
{
	char local[NET_ADDRSTRLEN];

	if (net_local_name(fd, local, sizeof(local)) == -1)
		snprintf(local, sizeof(local), "?");
	console_print(srv->console, "#%llu %s accepted on %s",
	    (unsigned long long)s->id, s->addr, local);
}

/* Admits one accepted connection: a session and its thread, or a refusal. */
static void
server_admit(struct server *srv, int fd, const struct sockaddr *sa,
    socklen_t salen, const pthread_attr_t *attr)
{
	char addr[NET_ADDRSTRLEN], notice[128], why[TLS_ERR_MAX];
	const char *rule;
	struct session *s = NULL;
	int rc, error = 1, per_ip = 0;

	net_format(sa, salen, addr, sizeof(addr));
	if ((rule = server_check_rules(srv, sa, notice, sizeof(notice)))) {
		snprintf(why, sizeof(why), "%s", rule);
		error = 0;
		goto refuse;
	}
	per_ip = srv->cfg.max_per_ip > 0;
	server_socket_options(srv, fd);
	s = session_new(fd, registry_next_id(srv->registry), sa, salen,
	    &srv->limits, srv->callbacks, srv);
	if (s == NULL) {
		snprintf(why, sizeof(why), "out of memory");
		server_exhausted(srv);
		goto refuse;
	}
	if (registry_add(srv->registry, s, srv->cfg.max_clients) == -1) {
		snprintf(notice, sizeof(notice),
		    "tcpchatd: server busy, try again\n");
		snprintf(why, sizeof(why), "server busy");
		error = 0;
		goto refuse;
	}
	if (srv->cfg.tls_cert != NULL &&
	    server_tls_wrap(srv, s, why, sizeof(why)) == -1) {
		server_exhausted_notice(notice, sizeof(notice));
		goto refuse;
	}
	if (srv->cfg.verbose >= 2)
		server_say_accepted(srv, s, fd);
	if ((rc = session_start(s, attr)) != 0) {
		registry_remove(srv->registry, s);
		snprintf(why, sizeof(why), "cannot start a thread: %s",
		    strerror(rc));
		server_exhausted(srv);
		goto refuse;
	}
	atomic_fetch_add(&srv->stats.connections, 1);
	return; /* s transferred to its thread */
refuse:
	/*
	 * Out of threads or memory: the client is told at once, and so is
	 * every one after it until they can be had again, with no pause
	 * that would leave others waiting unserved in the backlog.
	 */
	if (error)
		server_exhausted_notice(notice, sizeof(notice));
	if (s != NULL)
		session_unref(s);
	if (per_ip)
		access_counter_put(&srv->per_ip, sa);
	server_turn_away(srv, fd, addr, notice, why, error);
}

/*
 * Out of descriptors: the spare one is given up to accept and turn away
 * the client at the head of the queue, then accepting pauses: no busy
 * loop.
 */
static void
server_out_of_fds(struct server *srv, int *spare)
{
	if (*spare != -1) {
		close(*spare);
		int fd = accept4(srv->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd != -1)
			server_refuse(fd,
			    "tcpchatd: server busy (out of descriptors), try again later\n");
		*spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
	}
	atomic_fetch_add(&srv->stats.refused, 1);
	console_log(srv->console, LOG_ERR,
	    "tcpchatd: out of file descriptors: turning clients away");
	poll(NULL, 0, SERVER_BACKOFF_MS);
}

/*
 * SIGHUP (logrotate, systemctl reload): the log is opened again at its
 * path and the TLS certificate loaded again; the server goes on.
 */
static void
server_reopen(struct server *srv)
{
	server_hup = 0;
	if (srv->log == NULL && srv->cfg.tls_cert == NULL)
		console_log(srv->console, LOG_NOTICE,
		    "tcpchatd: SIGHUP: no --log to reopen");
	if (srv->log != NULL)
		(void)transcript_reopen(srv->log, "SIGHUP");
	(void)server_tls_reload(srv);
}

/* Accepts until a signal or /quit. */
static void
server_accept_loop(struct server *srv, const sigset_t *waitmask)
{
	pthread_attr_t attr;
	int spare = open("/dev/null", O_RDONLY | O_CLOEXEC);

	pthread_attr_init(&attr);
	/* Joinable: a thread is counted until joined (session_reap). */
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_JOINABLE);
	pthread_attr_setstacksize(&attr, SERVER_STACK_SIZE);
	while (!server_signalled && !atomic_load(&srv->stopping)) {
		if (server_hup)
			server_reopen(srv);
		struct pollfd pfd = {.fd = srv->lfd, .events = POLLIN};
		if (ppoll(&pfd, 1, NULL, waitmask) == -1)
			continue; /* EINTR: look at the flags again */
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int fd = accept4(srv->lfd, (struct sockaddr *)&ss, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd != -1)
			server_admit(
			    srv, fd, (struct sockaddr *)&ss, len, &attr);
		else if (errno == EMFILE || errno == ENFILE)
			server_out_of_fds(srv, &spare);
		else if (errno == ENOBUFS || errno == ENOMEM)
			poll(NULL, 0, SERVER_BACKOFF_MS);
		/* EAGAIN, ECONNABORTED, EINTR...: just go on. */
	}
	pthread_attr_destroy(&attr);
	if (spare != -1)
		close(spare);
}

/* ---- starting and stopping ------------------------------------------- */

/* Tells every client the server is going, lets queues drain, waits. */
static void
server_shutdown(struct server *srv)
{
	struct session **list;
	size_t n;

	list = registry_snapshot(srv->registry, &n);
	if (n > 0)
		console_log(srv->console, LOG_NOTICE,
		    "tcpchatd: shutting down, telling %zu client%s", n,
		    n == 1 ? "" : "s");
	else
		console_log(
		    srv->console, LOG_NOTICE, "tcpchatd: shutting down");
	for (size_t i = 0; i < n; i++)
		session_close(list[i], "tcpchatd: server shutting down\n",
		    "server shutting down");
	registry_release(list, n);
	if (!registry_wait_empty(srv->registry, srv->cfg.drain_ms + 1500)) {
		int left = registry_count(srv->registry);
		console_log(srv->console, LOG_WARNING,
		    "tcpchatd: %d client%s still connected at exit", left,
		    left == 1 ? "" : "s");
	}
	/* Threads out of the registry may still be announcing their end. */
	for (int i = 0; i < 1000 && atomic_load(&srv->stats.io.threads) > 0;
	     i++) {
		session_reap(&srv->stats.io);
		if (atomic_load(&srv->stats.io.threads) > 0)
			poll(NULL, 0, 1);
	}
	transcript_finish(srv->log);
	console_log(srv->console, LOG_NOTICE, "tcpchatd: stopped");
}

/* Signal dispositions; returns the mask to wait with in the accept loop. */
static void
server_signals_init(sigset_t *waitmask)
{
	struct sigaction sa;
	sigset_t block;

	signal(SIGPIPE, SIG_IGN);
	session_signals_init();
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = server_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = server_on_hup;
	sigaction(SIGHUP, &sa, NULL);
	/* Never stopped for the terminal: the console knows when to use it. */
	signal(SIGTTIN, SIG_IGN);
	signal(SIGTTOU, SIG_IGN);
	/* Past a file size limit the log's write fails (and is reported). */
	signal(SIGXFSZ, SIG_IGN);
	/* Blocked everywhere, delivered only inside the accept loop's wait. */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &block, NULL);
	pthread_sigmask(SIG_BLOCK, NULL, waitmask);
	sigdelset(waitmask, SIGINT);
	sigdelset(waitmask, SIGTERM);
	sigdelset(waitmask, SIGHUP);
	sigdelset(waitmask, SESSION_WAKE_SIGNAL);
}

static void server_error(struct server *srv, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* One line on the error descriptor: how start-up says why not. */
static void
server_error(struct server *srv, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(buf) - 1)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	io_write_full(srv->err_fd, buf, (size_t)n);
}

/*
 * The transcript's outages, recoveries and reopenings: operational
 * events, each said once, with what was lost.
 */
static void
server_on_log_event(
    void *ctx, const char *path, const struct transcript_report *r)
{
	struct server *srv = ctx;
	unsigned long long lost = (unsigned long long)r->lost;

	switch (r->event) {
	case TRANSCRIPT_FAILING:
		console_log(srv->console, LOG_ERR,
		    "tcpchatd: cannot write the log %s: %s (records are being lost)",
		    path, strerror(r->err));
		break;
	case TRANSCRIPT_RECOVERED:
		console_log(srv->console, LOG_NOTICE,
		    "tcpchatd: the log %s is written again: %llu record%s lost",
		    path, lost, lost == 1 ? "" : "s");
		break;
	case TRANSCRIPT_STILL_FAILING:
		console_log(srv->console, LOG_ERR,
		    "tcpchatd: the log %s still cannot be written: %llu record%s lost",
		    path, lost, lost == 1 ? "" : "s");
		break;
	case TRANSCRIPT_REOPENED:
		console_log(srv->console, LOG_NOTICE,
		    "tcpchatd: log %s reopened (%s)", path, r->why);
		break;
	case TRANSCRIPT_REOPEN_FAILED:
		console_log(srv->console, LOG_ERR,
		    "tcpchatd: cannot reopen the log %s (%s): %s", path, r->why,
		    strerror(r->err));
		break;
	}
}

/* What every session may do, from the configuration. */
static void
server_limits_init(struct server *srv)
{
	const struct server_config *cfg = &srv->cfg;

	srv->limits = (struct session_limits){
	    .max_line = cfg->max_line,
	    .max_queue = cfg->max_queue,
	    .flush_ms = SERVER_FLUSH_MS,
	    .idle_timeout_ms = cfg->idle_timeout_ms,
	    .line_timeout_ms = cfg->line_timeout_ms,
	    .handshake_timeout_ms = cfg->handshake_timeout_ms,
	    .drain_ms = cfg->drain_ms,
	    .linger_ms = SERVER_LINGER_MS,
	    .direct_send = cfg->mode != SERVER_ECHO,
	    /* Chat and room: telnet users, and listeners done sending. */
	    .telnet = cfg->mode != SERVER_ECHO,
	    .half_close = cfg->mode != SERVER_ECHO,
	    .finish_notice = RELAY_FINISH_NOTICE,
	    .finish_probe_ms = SERVER_FINISH_PROBE_MS,
	    .totals = &srv->stats.io,
	    .budget = &srv->budget,
	    .flusher = cfg->mode != SERVER_ECHO ? srv->flusher : NULL,
	};
	srv->budget.limit = cfg->max_queue_total > 0
	    ? cfg->max_queue_total
	    : server_default_queue_total();
	srv->callbacks = cfg->mode == SERVER_ECHO ? &server_echo_callbacks
	                                          : &server_framed_callbacks;
}

/* --control PATH: the socket operators attach to.  0, or -1 (said why). */
static int
server_control_open(struct server *srv)
{
	char err[256];

	if (srv->cfg.control_path == NULL)
		return 0;
	if (control_open(
	        &srv->control, srv->cfg.control_path, err, sizeof(err)) == -1) {
		server_error(srv, "tcpchatd: --control %s", err);
		return -1;
	}
	return 0;
}

/*
 * Socket activation: the listener systemd passed, instead of one of our
 * own (-l and -p are then not used).  1 when there was one, 0 when not,
 * -1 when it is unusable (said why).
 */
static int
server_activated(struct server *srv)
{
	char err[256];
	int rc = service_listen_fd(&srv->lfd, err, sizeof(err));

	if (rc == -1)
		server_error(srv, "tcpchatd: %s", err);
	if (rc == 1) {
		net_set_nonblock(srv->lfd, 1);
		net_local_name(srv->lfd, srv->name, sizeof(srv->name));
	}
	return rc;
}

/* Opens the transcript and the listening socket.  0, or -1 (said why). */
static int
server_open(struct server *srv)
{
	const struct server_config *cfg = &srv->cfg;
	int gai;

	if (cfg->tls_cert != NULL) {
		char err[TLS_ERR_MAX];
		if ((srv->tls = server_tls_load(cfg, err, sizeof(err))) ==
		    NULL) {
			server_error(srv, "tcpchatd: %s", err);
			return -1;
		}
	}
	if (cfg->password_file != NULL) {
		char err[PASSWORD_ERR_MAX];
		if (password_load(cfg->password_file, &srv->password, err,
		        sizeof(err)) == -1) {
			server_error(srv, "tcpchatd: %s", err);
			return -1;
		}
	}
	if (cfg->log_path != NULL &&
	    (srv->log = transcript_open(
	         cfg->log_path, server_on_log_event, srv)) == NULL) {
		server_error(srv, "tcpchatd: cannot open log %s: %s",
		    cfg->log_path, strerror(errno));
		return -1;
	}
	if (server_control_open(srv) == -1)
		return -1;
	if ((gai = server_activated(srv)) != 0)
		return gai == 1 ? 0 : -1;
	srv->lfd = net_listen_family(
	    cfg->host, cfg->port, cfg->family, cfg->backlog, &gai);
	if (srv->lfd == -1) {
		server_error(srv, "tcpchatd: cannot listen on %s port %s: %s",
		    cfg->host, cfg->port, net_strerror(gai, errno));
		return -1;
	}
	net_set_nonblock(srv->lfd, 1);
	net_local_name(srv->lfd, srv->name, sizeof(srv->name));
	return 0;
}

/*
 * Where the console reads: nowhere with --no-console (nor in echo mode
 * with -q); the console itself decides whether that is a terminal it
 * may read now.
 */
static int
server_console_fd(const struct server_config *cfg)
{
	if (cfg->no_console || (cfg->mode == SERVER_ECHO && cfg->quiet))
		return -1;
	return cfg->console_fd;
}

/* The registry, the console, the relay and the operator.  0 or -1. */
static int
server_wire(struct server *srv)
{
	const struct server_config *cfg = &srv->cfg;
	struct relay_config rc = {.mode = (enum relay_mode)cfg->mode,
	    .quiet = cfg->quiet,
	    .budget = &srv->budget,
	    .history = cfg->history,
	    .max_rate = cfg->mode == SERVER_ECHO ? 0 : cfg->max_rate,
	    .password = cfg->mode == SERVER_ECHO ? NULL : srv->password,
	    .penalties = cfg->max_per_ip > 0 ? &srv->per_ip : NULL};

	if ((srv->registry = registry_new()) == NULL) {
		server_error(srv, "tcpchatd: cannot make the client table: %s",
		    strerror(errno));
		return -1;
	}
	srv->console = console_new(
	    &(struct console_config){.in_fd = server_console_fd(cfg),
	        .out_fd = cfg->console_out_fd,
	        .control_fd = srv->control.fd,
	        .use_syslog = cfg->use_syslog,
	        .cb = &operator_console_callbacks,
	        .ctx = &srv->op});
	if (srv->console == NULL) {
		server_error(srv, "tcpchatd: cannot make the console: %s",
		    strerror(errno));
		return -1;
	}
	srv->relay =
	    relay_new(&rc, srv->registry, srv->console, srv->log, &srv->stats);
	if (srv->relay == NULL) {
		server_error(srv, "tcpchatd: %s", strerror(errno));
		return -1;
	}
	srv->op = (struct operator){.mode = rc.mode,
	    .relay = srv->relay,
	    .registry = srv->registry,
	    .console = srv->console,
	    .stats = &srv->stats,
	    .quit = server_request_stop,
	    .quit_ctx = srv};
	return 0;
}

static void server_free(struct server *srv);

/*
 * Removes the control socket's file; the socket itself is closed only
 * once the console thread, which listens on it, has ended.
 */
static void
server_control_close(struct server *srv)
{
	if (srv->console_running)
		srv->control.fd = -1;
	control_close(&srv->control);
}

/*
 * A server for cfg, listening but not yet accepting, or NULL (why is on
 * err_fd).  Signals are set up for the calling thread, which must be
 * the one that runs server_wait.
 */
static struct server *
server_new(const struct server_config *cfg, int err_fd, sigset_t *waitmask)
{
	struct server *srv = calloc(1, sizeof(*srv));

	if (srv == NULL) {
		char line[128];
		int n = snprintf(
		    line, sizeof(line), "tcpchatd: %s\n", strerror(errno));
		io_write_full(err_fd, line, (size_t)n);
		return NULL;
	}
	srv->cfg = *cfg;
	srv->err_fd = err_fd;
	srv->lfd = -1;
	srv->control.fd = -1;
	srv->main_thread = pthread_self();
	srv->stats.started_ms = clock_now_ms();
	int limit = server_default_max_clients();
	if (srv->cfg.max_clients <= 0 || srv->cfg.max_clients > limit)
		srv->cfg.max_clients = limit;
	access_counter_init(&srv->per_ip);
	pthread_mutex_init(&srv->tls_lock, NULL);
	if ((srv->flusher = session_flusher_new()) == NULL) {
		server_error(srv, "tcpchatd: %s", strerror(errno));
		free(srv);
		return NULL;
	}
	/* Without a reserve, the ceiling still holds. */
	srv->ceiling = INT_MAX;
	(void)server_reserve_take(srv);
	server_limits_init(srv);
	server_signalled = 0;
	server_signals_init(waitmask);
	if (server_open(srv) == -1 || server_wire(srv) == -1) {
		server_free(srv);
		return NULL;
	}
	return srv;
}

/* A duration for the console: "off" for 0, else "1.5 s" or "40 ms". */
static const char *
server_format_ms(int ms, char *buf, size_t size)
{
	if (ms == 0)
		snprintf(buf, size, "off");
	else if (ms % 1000 == 0)
		snprintf(buf, size, "%d s", ms / 1000);
	else if (ms > 1000)
		snprintf(buf, size, "%.3g s", ms / 1000.0);
	else
		snprintf(buf, size, "%d ms", ms);
	return buf;
}

/* -v: the limits in force, after the listening line. */
static void
server_say_limits(struct server *srv)
{
	const struct server_config *cfg = &srv->cfg;
	char idle[32], line[32], drain[32], per_ip[32];

	if (cfg->max_per_ip == 0)
		snprintf(per_ip, sizeof(per_ip), "off");
	else
		snprintf(per_ip, sizeof(per_ip), "%u", cfg->max_per_ip);
	console_print(srv->console,
	    "tcpchatd: limits: max-clients %d, max-per-ip %s, max-line %zu "
	    "bytes, max-queue %zu bytes, idle-timeout %s, line-timeout %s, "
	    "drain-time %s",
	    cfg->max_clients, per_ip, cfg->max_line, cfg->max_queue,
	    server_format_ms(cfg->idle_timeout_ms, idle, sizeof(idle)),
	    server_format_ms(cfg->line_timeout_ms, line, sizeof(line)),
	    server_format_ms(cfg->drain_ms, drain, sizeof(drain)));
}

/* Tells the service manager (NOTIFY_SOCKET), if there is one. */
static void
server_notify(struct server *srv, const char *state)
{
	if (service_notify(state) == -1)
		console_log(srv->console, LOG_WARNING,
		    "tcpchatd: cannot notify the service manager (%s): %s",
		    state, strerror(errno));
}

/* Prints the listening line and starts the console.  0, or -1. */
static int
server_start(struct server *srv)
{
	char line[NET_ADDRSTRLEN + 64];
	int n, rc;

	/* The first line, flushed at once: scripts read the port from it. */
	n = snprintf(line, sizeof(line),
	    "tcpchatd: listening on %s (mode %s)\n", srv->name,
	    server_mode_name(srv->cfg.mode));
	io_write_full(srv->cfg.console_out_fd, line, (size_t)n);
	console_send(
	    srv->console, CONSOLE_SYSLOG, LOG_NOTICE, "%.*s", n - 1, line);
	/* Helper threads first: once the console answers, all are up. */
	if ((rc = session_flusher_start(srv->flusher)) != 0) {
		server_error(srv, "tcpchatd: cannot start the flusher: %s",
		    strerror(rc));
		return -1;
	}
	if ((rc = relay_start(srv->relay)) != 0) {
		server_error(
		    srv, "tcpchatd: cannot start the relay: %s", strerror(rc));
		return -1;
	}
	if ((rc = console_start(srv->console)) != 0) {
		server_error(srv, "tcpchatd: cannot start the console: %s",
		    strerror(rc));
		return -1;
	}
	transcript_write(
	    srv->log, 0, "", "listening", srv->name, strlen(srv->name));
	if (srv->cfg.verbose >= 1)
		server_say_limits(srv);
	server_notify(srv, "READY=1");
	return 0;
}

/* Serves until a signal or /quit, then shuts down. */
static void
server_wait(struct server *srv, const sigset_t *waitmask)
{
	server_accept_loop(srv, waitmask);
	close(srv->lfd);
	srv->lfd = -1;
	server_notify(srv, "STOPPING=1");
	console_closing(srv->console);
	server_shutdown(srv);
	relay_stop(srv->relay);
	if (atomic_load(&srv->stats.io.threads) == 0)
		session_flusher_stop(srv->flusher);
	srv->console_running = console_stop(srv->console, 2000) != 0;
	server_control_close(srv);
}

/*
 * Frees the server, unless threads may still use it: sessions still
 * running (a peer that never let its queue drain) or a console blocked
 * on an output nobody reads.  Then it is left to process exit.
 */
static void
server_free(struct server *srv)
{
	if (srv->lfd != -1)
		close(srv->lfd);
	server_control_close(srv);
	if (atomic_load(&srv->stats.io.threads) != 0 || srv->console_running)
		return;
	/* After a failed start they may run; stopping twice is harmless. */
	relay_stop(srv->relay);
	session_flusher_stop(srv->flusher);
	if (srv->reserve != NULL)
		munmap(srv->reserve, SERVER_RESERVE);
	relay_free(srv->relay);
	session_flusher_free(srv->flusher);
	tls_context_unref(srv->tls);
	password_free(srv->password);
	pthread_mutex_destroy(&srv->tls_lock);
	transcript_close(srv->log);
	registry_free(srv->registry);
	console_free(srv->console);
	access_counter_free(&srv->per_ip);
	free(srv);
}

int
server_run(const struct server_config *cfg, int err_fd)
{
	sigset_t waitmask;
	struct server *srv = server_new(cfg, err_fd, &waitmask);
	int status = 1;

	if (srv == NULL)
		return 1;
	if (server_start(srv) == 0) {
		server_wait(srv, &waitmask);
		status = 0;
	}
	server_free(srv);
	return status;
}
