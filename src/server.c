/*
 * server.c - tcpchatd's accept loop: admits each connection and hands it
 * to a detached thread of its own (session.c); handles shutdown.
 */
#include "config.h"

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
#include <unistd.h>

#include "clock.h"
#include "console.h"
#include "io.h"
#include "net.h"
#include "operator.h"
#include "registry.h"
#include "server.h"
#include "session.h"
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

static volatile sig_atomic_t server_signalled;

static void
server_on_signal(int sig)
{
	server_signalled = sig;
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
	cfg->line_timeout_s = SERVER_DEFAULT_LINE_TIMEOUT;
}

static const char *const server_mode_names[] = {"echo", "chat", "room"};

int
server_mode_parse(const char *name, enum server_mode *mode)
{
	for (int i = 0; i < 3; i++)
		if (strcmp(name, server_mode_names[i]) == 0) {
			*mode = (enum server_mode)i;
			return 0;
		}
	return -1;
}

const char *
server_mode_name(enum server_mode mode)
{
	return server_mode_names[mode];
}

void
server_log(struct server *srv, uint64_t id, const char *addr, const char *what,
    const char *text, size_t len)
{
	if (transcript_write(srv->log_fd, id, addr, what, text, len) == 0)
		return;
	if (atomic_exchange(&srv->log_failed, 1) == 0)
		console_print(srv->console,
		    "tcpchatd: cannot write the log "
		    "%s: %s (lines are being lost)",
		    srv->cfg.log_path, strerror(errno));
}

void
server_request_stop(struct server *srv)
{
	atomic_store(&srv->stopping, 1);
	pthread_kill(srv->main_thread, SIGUSR1);
}

/* Writes a short notice to a socket we are about to close, never waiting. */
static void
server_refuse(int fd, const char *notice)
{
	(void)!send(fd, notice, strlen(notice), MSG_NOSIGNAL | MSG_DONTWAIT);
	close(fd);
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

/* Admits one accepted connection: a session and its thread, or a refusal. */
static void
server_admit(struct server *srv, int fd, const struct sockaddr *sa,
    socklen_t salen, pthread_attr_t *attr)
{
	char addr[NET_ADDRSTRLEN], notice[96];
	struct session *s;
	pthread_t thread;
	int on = 1, rc;

	net_format(sa, salen, addr, sizeof(addr));
	/* Refused clients are closed before anything they send is read. */
	if (!access_allowed(&srv->cfg.access, sa)) {
		atomic_fetch_add(&srv->stats.refused, 1);
		server_refuse(fd, "tcpchatd: access denied\n");
		if (!srv->cfg.quiet)
			console_print(
			    srv->console, "%s refused: access denied", addr);
		return;
	}
	if (registry_count(srv->registry) >= srv->cfg.max_clients) {
		snprintf(notice, sizeof(notice),
		    "tcpchatd: server full (%d clients)\n",
		    srv->cfg.max_clients);
		atomic_fetch_add(&srv->stats.refused, 1);
		server_refuse(fd, notice);
		if (!srv->cfg.quiet)
			console_print(
			    srv->console, "%s refused: server full", addr);
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
	if (srv->cfg.max_per_ip > 0 &&
	    access_counter_take(&srv->per_ip, sa, srv->cfg.max_per_ip) == -1) {
		snprintf(notice, sizeof(notice),
		    "tcpchatd: too many "
		    "connections from your address (max %u)\n",
		    srv->cfg.max_per_ip);
		atomic_fetch_add(&srv->stats.refused, 1);
		server_refuse(fd, notice);
		if (!srv->cfg.quiet)
			console_print(srv->console,
			    "%s refused: over "
			    "--max-per-ip",
			    addr);
		return;
	}
	s = session_new(srv, fd, registry_next_id(srv->registry), addr);
	if (s == NULL) {
		if (srv->cfg.max_per_ip > 0)
			access_counter_put(&srv->per_ip, sa);
		server_refuse(fd, "tcpchatd: error: out of memory\n");
		return;
	}
	memcpy(&s->peer, sa, salen);
	s->counted_per_ip = srv->cfg.max_per_ip > 0;
	if (registry_add(srv->registry, s, srv->cfg.max_clients) == -1) {
		if (s->counted_per_ip)
			access_counter_put(&srv->per_ip, sa);
		session_unref(s);
		server_refuse(fd, "tcpchatd: server busy, try again\n");
		return;
	}
	atomic_fetch_add(&srv->stats.connections, 1);
	atomic_fetch_add(&srv->threads, 1);
	rc = pthread_create(&thread, attr, session_main, s);
	if (rc != 0) {
		atomic_fetch_sub(&srv->threads, 1);
		if (s->counted_per_ip)
			access_counter_put(&srv->per_ip, sa);
		registry_remove(srv->registry, s);
		session_unref(s);
		server_refuse(fd,
		    "tcpchatd: error: cannot serve more "
		    "clients now, try again later\n");
		console_print(srv->console,
		    "%s refused: cannot start a "
		    "thread: %s",
		    addr, strerror(rc));
		poll(NULL, 0, SERVER_BACKOFF_MS);
	}
}

/*
 * Accepts until a signal or /quit.  When descriptors run out, the spare
 * one is given up to accept and turn away the client at the head of the
 * queue, then accepting pauses: no busy loop.
 */
static void
server_accept_loop(struct server *srv, int lfd, const sigset_t *waitmask)
{
	pthread_attr_t attr;
	int spare = open("/dev/null", O_RDONLY | O_CLOEXEC);

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, srv->stack_size);
	while (!server_signalled && !atomic_load(&srv->stopping)) {
		struct pollfd pfd = {.fd = lfd, .events = POLLIN};
		if (ppoll(&pfd, 1, NULL, waitmask) == -1)
			continue; /* EINTR: look at the flags again */
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int fd = accept4(lfd, (struct sockaddr *)&ss, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd != -1) {
			server_admit(
			    srv, fd, (struct sockaddr *)&ss, len, &attr);
			continue;
		}
		if (errno == EMFILE || errno == ENFILE) {
			if (spare != -1) {
				close(spare);
				fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
				if (fd != -1)
					server_refuse(fd,
					    "tcpchatd: server "
					    "busy (out of descriptors), try "
					    "again later\n");
				spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
			}
			atomic_fetch_add(&srv->stats.refused, 1);
			console_print(srv->console,
			    "tcpchatd: out of file "
			    "descriptors: turning clients away");
			poll(NULL, 0, SERVER_BACKOFF_MS);
		} else if (errno == ENOBUFS || errno == ENOMEM) {
			poll(NULL, 0, SERVER_BACKOFF_MS);
		}
		/* EAGAIN, ECONNABORTED, EINTR...: just go on. */
	}
	pthread_attr_destroy(&attr);
	if (spare != -1)
		close(spare);
}

/* Tells every client the server is going, lets queues drain, waits. */
static void
server_shutdown(struct server *srv)
{
	struct session **list;
	size_t n;

	list = registry_snapshot(srv->registry, &n);
	if (n > 0)
		console_print(srv->console,
		    "tcpchatd: shutting down, "
		    "telling %zu client%s",
		    n, n == 1 ? "" : "s");
	for (size_t i = 0; i < n; i++)
		session_close(list[i], "tcpchatd: server shutting down\n",
		    "server shutting down");
	registry_release(list, n);
	if (!registry_wait_empty(srv->registry, srv->cfg.drain_ms + 1500))
		console_print(srv->console,
		    "tcpchatd: %d client%s still "
		    "connected at exit",
		    registry_count(srv->registry),
		    registry_count(srv->registry) == 1 ? "" : "s");
	/* Threads out of the registry may still be announcing their end. */
	for (int i = 0; i < 1000 && atomic_load(&srv->threads) > 0; i++)
		poll(NULL, 0, 1);
	console_print(srv->console, "tcpchatd: stopped");
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
	/* Blocked everywhere, delivered only inside the accept loop's wait. */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &block, NULL);
	pthread_sigmask(SIG_BLOCK, NULL, waitmask);
	sigdelset(waitmask, SIGINT);
	sigdelset(waitmask, SIGTERM);
	sigdelset(waitmask, SIGUSR1);
}

static void server_error(int err_fd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* One line on the error descriptor: server_run's way to say why. */
static void
server_error(int err_fd, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > 0)
		io_write_full(err_fd, buf,
		    (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

int
server_run(const struct server_config *cfg, int err_fd)
{
	/*
	 * On the heap: session and console threads that outlive a stalled
	 * shutdown still point at it, so it is freed only when they are
	 * all gone, and otherwise left to process exit.
	 */
	struct server_run_state {
		struct server srv;
		struct operator_state op;
	} *state = calloc(1, sizeof(*state));
	sigset_t waitmask;
	char name[NET_ADDRSTRLEN], line[NET_ADDRSTRLEN + 64];
	int lfd = -1, gai, status = 1, n, console_running = 0;

	if (state == NULL) {
		server_error(err_fd, "tcpchatd: %s\n", strerror(errno));
		return 1;
	}
	struct server *srv = &state->srv;
	srv->cfg = *cfg;
	srv->log_fd = -1;
	srv->main_thread = pthread_self();
	srv->started_ms = clock_now_ms();
	srv->stack_size = SERVER_STACK_SIZE;
	int limit = server_default_max_clients();
	if (srv->cfg.max_clients <= 0 || srv->cfg.max_clients > limit)
		srv->cfg.max_clients = limit;
	access_counter_init(&srv->per_ip);
	server_signalled = 0;
	server_signals_init(&waitmask);

	if (cfg->log_path != NULL &&
	    (srv->log_fd = transcript_open(cfg->log_path)) == -1) {
		server_error(err_fd, "tcpchatd: cannot open log %s: %s\n",
		    cfg->log_path, strerror(errno));
		goto out;
	}
	lfd = net_listen(cfg->host, cfg->port, cfg->backlog, &gai);
	if (lfd == -1) {
		server_error(err_fd,
		    "tcpchatd: cannot listen on %s port %s: "
		    "%s\n",
		    cfg->host, cfg->port, net_strerror(gai, errno));
		goto out;
	}
	net_set_nonblock(lfd, 1);
	net_local_name(lfd, name, sizeof(name));
	if ((srv->registry = registry_new()) == NULL)
		goto out;
	operator_init(&state->op, srv);
	srv->console = console_new(
	    cfg->mode == SERVER_ECHO && cfg->quiet ? -1 : cfg->console_fd,
	    cfg->console_out_fd, operator_on_line, &state->op);
	if (srv->console == NULL) {
		server_error(err_fd, "tcpchatd: %s\n", strerror(errno));
		goto out;
	}
	/* The first line, flushed at once: scripts read the port from it. */
	n = snprintf(line, sizeof(line),
	    "tcpchatd: listening on %s (mode %s)\n", name,
	    server_mode_name(cfg->mode));
	io_write_full(cfg->console_out_fd, line, (size_t)n);
	console_set_prompt(srv->console, "tcpchatd> ");
	if (console_start(srv->console) != 0) {
		server_error(err_fd, "tcpchatd: cannot start the console\n");
		goto out;
	}
	server_log(srv, 0, "", "listening", name, strlen(name));

	server_accept_loop(srv, lfd, &waitmask);
	close(lfd);
	lfd = -1;
	server_shutdown(srv);
	console_running = console_stop(srv->console, 2000) != 0;
	status = 0;
out:
	if (lfd != -1)
		close(lfd);
	/*
	 * Sessions still running (a peer that never let its queue drain)
	 * or a console blocked on an output nobody reads may still use the
	 * state, the log and the registry: leave them all to process exit.
	 */
	if (atomic_load(&srv->threads) == 0 && !console_running) {
		if (srv->log_fd != -1)
			close(srv->log_fd);
		registry_free(srv->registry);
		console_free(srv->console);
		access_counter_free(&srv->per_ip);
		free(state);
	}
	return status;
}
