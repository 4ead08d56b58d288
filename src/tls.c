/* tls.c - TLS over a connected socket, as a transport (OpenSSL 3). */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "net.h"
#include "tls.h"

#ifdef HAVE_TLS
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#endif

static int tls_fail(char *err, size_t errsz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes the reason into err.  Returns -1. */
static int
tls_fail(char *err, size_t errsz, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errsz > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errsz, fmt, ap);
		va_end(ap);
	}
	return -1;
}

int
tls_handshake_wait(
    struct transport *t, int timeout_ms, int stop_fd, char *err, size_t errsz)
{
	uint64_t deadline =
	    clock_now_ms() + (uint64_t)(timeout_ms < 0 ? 0 : timeout_ms);

	for (;;) {
		struct pollfd pfd[2] = {
		    {.fd = t->fd}, {.fd = stop_fd, .events = POLLIN}};
		int rc = tls_handshake(t, &pfd[0].events, err, errsz);
		if (rc != TLS_AGAIN)
			return rc;
		int wait = timeout_ms < 0 ? -1 : clock_ms_until(deadline);
		int ready =
		    wait == 0 ? 0 : poll(pfd, stop_fd >= 0 ? 2 : 1, wait);
		if (ready == -1 && errno != EINTR)
			return tls_fail(
			    err, errsz, "poll: %s", strerror(errno));
		if (ready > 0 && stop_fd >= 0 && pfd[1].revents != 0)
			return TLS_AGAIN;
		if (ready == 0)
			return tls_fail(err, errsz, "timed out after %g s",
			    timeout_ms / 1000.0);
	}
}

#ifdef HAVE_TLS

struct tls_context {
	SSL_CTX *ctx;
	atomic_int refs;
	int server;
	char servername[256]; /* client: the name to verify, or "" */
	int insecure;
};

/* One transport's state. */
struct tls_conn {
	SSL *ssl;
	struct tls_context *ctx;
	/* What the last stalled recv and send wait for (0: as usual). */
	short want_recv, want_send;
	/* Why the last recv or send failed with EPROTO, or "". */
	char error[TLS_ERR_MAX];
};

int
tls_available(void)
{
	return 1;
}

/* The library's reason for the last failure, and its queue emptied. */
static const char *
tls_reason(char *buf, size_t size)
{
	unsigned long e = ERR_peek_last_error();
	const char *r = e != 0 ? ERR_reason_error_string(e) : NULL;

	snprintf(buf, size, "%s", r != NULL ? r : "unknown error");
	ERR_clear_error();
	return buf;
}

/* A context for method, TLS 1.2 at least.  NULL with why in err. */
static struct tls_context *
tls_context_new(const SSL_METHOD *method, int server, char *err, size_t errsz)
{
	struct tls_context *c = calloc(1, sizeof(*c));
	char why[TLS_ERR_MAX];

	if (c == NULL) {
		tls_fail(err, errsz, "%s", strerror(errno));
		return NULL;
	}
	/*
	 * No clean-up at exit: a connection thread still ending as the
	 * process exits would free its thread state a second time.
	 */
	OPENSSL_init_ssl(OPENSSL_INIT_NO_ATEXIT, NULL);
	if ((c->ctx = SSL_CTX_new(method)) == NULL) {
		tls_fail(err, errsz, "cannot make a TLS context: %s",
		    tls_reason(why, sizeof(why)));
		free(c);
		return NULL;
	}
	SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
	/* A peer closing without close_notify reads as an end, not an error. */
	SSL_CTX_set_options(
	    c->ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF);
	/* Sends may be partial and retried from a moved buffer. */
	SSL_CTX_set_mode(c->ctx,
	    SSL_MODE_ENABLE_PARTIAL_WRITE |
	        SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	/*
	 * One read() takes what the socket holds, many records at once,
	 * not a record's header then its body: half the reads for small
	 * messages.  What it took stays buffered: see tls_pending.
	 */
	SSL_CTX_set_read_ahead(c->ctx, 1);
	atomic_init(&c->refs, 1);
	c->server = server;
	return c;
}

/* Whether path can be read; else -1 with why (the system's words). */
static int
tls_readable(const char *what, const char *path, char *err, size_t errsz)
{
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return tls_fail(err, errsz, "cannot read %s %s: %s", what, path,
		    strerror(errno));
	fclose(f);
	return 0;
}

/* Loads a certificate chain and its key into c.  0, or -1 with why. */
static int
tls_load_pair(struct tls_context *c, const char *cert, const char *key,
    char *err, size_t errsz)
{
	char why[TLS_ERR_MAX];

	if (tls_readable("certificate", cert, err, errsz) == -1 ||
	    tls_readable("key", key, err, errsz) == -1)
		return -1;
	if (SSL_CTX_use_certificate_chain_file(c->ctx, cert) != 1)
		return tls_fail(err, errsz, "cannot use certificate %s: %s",
		    cert, tls_reason(why, sizeof(why)));
	if (SSL_CTX_use_PrivateKey_file(c->ctx, key, SSL_FILETYPE_PEM) != 1)
		return tls_fail(err, errsz, "cannot use key %s: %s", key,
		    tls_reason(why, sizeof(why)));
	if (SSL_CTX_check_private_key(c->ctx) != 1)
		return tls_fail(err, errsz,
		    "key %s does not match certificate %s", key, cert);
	return 0;
}

struct tls_context *
tls_server_new(const struct tls_server_options *o, char *err, size_t errsz)
{
	struct tls_context *c =
	    tls_context_new(TLS_server_method(), 1, err, errsz);
	char why[TLS_ERR_MAX];

	if (c == NULL)
		return NULL;
	if (tls_load_pair(c, o->cert_file, o->key_file, err, errsz) == -1)
		goto fail;
	if (o->client_ca_file != NULL &&
	    tls_readable("client CA", o->client_ca_file, err, errsz) == -1)
		goto fail;
	if (o->client_ca_file != NULL) {
		STACK_OF(X509_NAME) *names =
		    SSL_load_client_CA_file(o->client_ca_file);
		if (names == NULL ||
		    SSL_CTX_load_verify_locations(
		        c->ctx, o->client_ca_file, NULL) != 1) {
			if (names != NULL)
				sk_X509_NAME_pop_free(names, X509_NAME_free);
			tls_fail(err, errsz, "cannot use client CA %s: %s",
			    o->client_ca_file, tls_reason(why, sizeof(why)));
			goto fail;
		}
		SSL_CTX_set_client_CA_list(c->ctx, names);
		SSL_CTX_set_verify(c->ctx,
		    SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	}
	return c;
fail:
	tls_context_unref(c);
	return NULL;
}

struct tls_context *
tls_client_new(const struct tls_client_options *o, char *err, size_t errsz)
{
	struct tls_context *c =
	    tls_context_new(TLS_client_method(), 0, err, errsz);
	char why[TLS_ERR_MAX];

	if (c == NULL)
		return NULL;
	c->insecure = o->insecure;
	if (o->servername != NULL)
		snprintf(
		    c->servername, sizeof(c->servername), "%s", o->servername);
	if (!o->insecure && o->ca_file != NULL &&
	    tls_readable("CA", o->ca_file, err, errsz) == -1)
		goto fail;
	if (!o->insecure) {
		int ok = o->ca_file != NULL
		    ? SSL_CTX_load_verify_locations(c->ctx, o->ca_file, NULL)
		    : SSL_CTX_set_default_verify_paths(c->ctx);
		if (ok != 1) {
			tls_fail(err, errsz, "cannot load CA %s: %s",
			    o->ca_file ? o->ca_file : "(system store)",
			    tls_reason(why, sizeof(why)));
			goto fail;
		}
		SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
	}
	if (o->cert_file != NULL &&
	    tls_load_pair(c, o->cert_file,
	        o->key_file ? o->key_file : o->cert_file, err, errsz) == -1)
		goto fail;
	return c;
fail:
	tls_context_unref(c);
	return NULL;
}

void
tls_context_ref(struct tls_context *c)
{
	atomic_fetch_add(&c->refs, 1);
}

void
tls_context_unref(struct tls_context *c)
{
	if (c == NULL || atomic_fetch_sub(&c->refs, 1) != 1)
		return;
	SSL_CTX_free(c->ctx);
	free(c);
}

/* Maps an SSL_read or SSL_write result to the transport's convention. */
static ssize_t
tls_result(struct tls_conn *c, int rc, int reading)
{
	short *want = reading ? &c->want_recv : &c->want_send;
	int e;

	*want = 0;
	if (rc > 0)
		return rc;
	switch ((e = SSL_get_error(c->ssl, rc))) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		*want = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
		if (reading) {
			errno = EAGAIN;
			return -1;
		}
		return 0;
	case SSL_ERROR_ZERO_RETURN:
		/* close_notify: the end of the stream. */
		if (reading)
			return 0;
		errno = EPIPE;
		return -1;
	case SSL_ERROR_SYSCALL:
		ERR_clear_error();
		/* An end without close_notify still ends the stream. */
		if (errno == 0 && reading)
			return 0;
		if (errno == 0)
			errno = EPIPE;
		return -1;
	default:
		/* An alert from the peer, or a record that does not decrypt. */
		tls_reason(c->error, sizeof(c->error));
		errno = EPROTO;
		return -1;
	}
}

static short
tls_wants(struct transport *t, int sending)
{
	struct tls_conn *c = t->impl;
	short want = sending ? c->want_send : c->want_recv;

	return want != 0 ? want : sending ? POLLOUT : POLLIN;
}

static ssize_t
tls_recv(struct transport *t, void *buf, size_t len)
{
	struct tls_conn *c = t->impl;

	errno = 0;
	return tls_result(c,
	    SSL_read(c->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len), 1);
}

static ssize_t
tls_send(struct transport *t, const void *buf, size_t len)
{
	struct tls_conn *c = t->impl;

	if (len == 0)
		return 0;
	errno = 0;
	return tls_result(c,
	    SSL_write(c->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len), 0);
}

static size_t
tls_pending(struct transport *t)
{
	struct tls_conn *c = t->impl;
	int n = SSL_pending(c->ssl);

	if (n > 0)
		return (size_t)n;
	/*
	 * Read ahead, whole records may wait undecrypted (one that came
	 * with the handshake's last flight, say): 1, so the owner reads
	 * before it polls.  After a read that wanted more, what waits is
	 * no whole record: 0, or the owner would spin on it.
	 */
	return c->want_recv != POLLIN && SSL_has_pending(c->ssl) ? 1 : 0;
}

static int
tls_shutdown(struct transport *t)
{
	struct tls_conn *c = t->impl;

	/* close_notify, without waiting for the peer's. */
	(void)SSL_shutdown(c->ssl);
	ERR_clear_error();
	return shutdown(t->fd, SHUT_WR);
}

static void
tls_close(struct transport *t)
{
	struct tls_conn *c = t->impl;

	SSL_free(c->ssl);
	tls_context_unref(c->ctx);
	free(c);
	close(t->fd);
	t->fd = -1;
	t->impl = NULL;
}

static const struct transport_ops tls_ops = {
    .recv = tls_recv,
    .recv_wait = NULL,
    .send = tls_send,
    .sendv = NULL,
    .pending = tls_pending,
    .handshake = tls_handshake,
    .wants = tls_wants,
    .describe = tls_version,
    .shutdown = tls_shutdown,
    .close = tls_close,
    .concurrent_send = 0,
    .name = "TLS",
};

/* The client side's name check: a host name or an IP address. */
static int
tls_expect_name(SSL *ssl, const char *name)
{
	X509_VERIFY_PARAM *param = SSL_get0_param(ssl);

	X509_VERIFY_PARAM_set_hostflags(
	    param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	if (X509_VERIFY_PARAM_set1_ip_asc(param, name) == 1)
		return 1;
	if (SSL_set_tlsext_host_name(ssl, name) != 1)
		return 0;
	return SSL_set1_host(ssl, name) == 1;
}

int
tls_transport(struct transport *t, int fd, struct tls_context *ctx, char *err,
    size_t errsz)
{
	struct tls_conn *c = calloc(1, sizeof(*c));
	char why[TLS_ERR_MAX];

	if (c == NULL)
		return tls_fail(err, errsz, "%s", strerror(errno));
	if ((c->ssl = SSL_new(ctx->ctx)) == NULL ||
	    SSL_set_fd(c->ssl, fd) != 1) {
		tls_fail(err, errsz, "cannot start TLS: %s",
		    tls_reason(why, sizeof(why)));
		goto fail;
	}
	if (ctx->server) {
		SSL_set_accept_state(c->ssl);
	} else {
		SSL_set_connect_state(c->ssl);
		if (!ctx->insecure && ctx->servername[0] != '\0' &&
		    !tls_expect_name(c->ssl, ctx->servername)) {
			tls_fail(err, errsz, "cannot verify the name %s",
			    ctx->servername);
			goto fail;
		}
		if (ctx->insecure && ctx->servername[0] != '\0')
			SSL_set_tlsext_host_name(c->ssl, ctx->servername);
	}
	net_set_nonblock(fd, 1);
	tls_context_ref(ctx);
	c->ctx = ctx;
	t->ops = &tls_ops;
	t->fd = fd;
	t->impl = c;
	return 0;
fail:
	SSL_free(c->ssl);
	free(c);
	return -1;
}

/* Whether a verification failure means: nobody we trust signed it. */
static int
tls_unknown_issuer(long v)
{
	return v == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT ||
	    v == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
	    v == X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE ||
	    v == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT ||
	    v == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN;
}

int
tls_handshake(struct transport *t, short *events, char *err, size_t errsz)
{
	struct tls_conn *c = t->impl;
	char why[TLS_ERR_MAX];

	errno = 0;
	int rc = SSL_do_handshake(c->ssl);
	if (rc == 1)
		return TLS_DONE;
	switch (SSL_get_error(c->ssl, rc)) {
	case SSL_ERROR_WANT_READ:
		*events = POLLIN;
		return TLS_AGAIN;
	case SSL_ERROR_WANT_WRITE:
		*events = POLLOUT;
		return TLS_AGAIN;
	case SSL_ERROR_SYSCALL:
		ERR_clear_error();
		tls_fail(err, errsz, "%s",
		    errno != 0 ? strerror(errno) : "connection closed");
		return TLS_FAILED;
	case SSL_ERROR_ZERO_RETURN:
		/* The end of the stream (unexpected EOF is ignored). */
		ERR_clear_error();
		tls_fail(err, errsz, "connection closed");
		return TLS_FAILED;
	default: {
		long v = SSL_get_verify_result(c->ssl);
		if (v != X509_V_OK) {
			ERR_clear_error();
			tls_fail(err, errsz, "%s%s%s",
			    tls_unknown_issuer(v) ? "unknown issuer (" : "",
			    X509_verify_cert_error_string(v),
			    tls_unknown_issuer(v) ? ")" : "");
		} else {
			tls_fail(
			    err, errsz, "%s", tls_reason(why, sizeof(why)));
		}
		return TLS_FAILED;
	}
	}
}

const char *
tls_version(struct transport *t)
{
	struct tls_conn *c = t->impl;

	return t->ops == &tls_ops && SSL_is_init_finished(c->ssl)
	    ? SSL_get_version(c->ssl)
	    : "";
}

const char *
tls_error(struct transport *t)
{
	struct tls_conn *c = t->impl;

	return t->ops == &tls_ops ? c->error : "";
}

#else /* no TLS in this build */

#define TLS_NONE "this build has no TLS (configure --with-tls)"

int
tls_available(void)
{
	return 0;
}

struct tls_context *
tls_server_new(const struct tls_server_options *o, char *err, size_t errsz)
{
	tls_fail(err, errsz, TLS_NONE);
	return NULL;
}

struct tls_context *
tls_client_new(const struct tls_client_options *o, char *err, size_t errsz)
{
	tls_fail(err, errsz, TLS_NONE);
	return NULL;
}

void
tls_context_ref(struct tls_context *c)
{
}

void
tls_context_unref(struct tls_context *c)
{
}

int
tls_transport(struct transport *t, int fd, struct tls_context *ctx, char *err,
    size_t errsz)
{
	return tls_fail(err, errsz, TLS_NONE);
}

int
tls_handshake(struct transport *t, short *events, char *err, size_t errsz)
{
	tls_fail(err, errsz, TLS_NONE);
	return TLS_FAILED;
}

const char *
tls_version(struct transport *t)
{
	return "";
}

const char *
tls_error(struct transport *t)
{
	return "";
}

#endif
