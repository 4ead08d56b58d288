/*
 * tls.h - TLS over a connected socket, as a transport (transport.h):
 * contexts for a server (certificate, key, optionally a CA that client
 * certificates must be signed by) and for a client (verification
 * against the system store or a CA file, the server's name), and a
 * non-blocking handshake driven from the owner's own poll loop.  OpenSSL
 * 3 when configure found it (HAVE_TLS); without it every constructor
 * fails with "this build has no TLS".
 *
 * A TLS transport does not allow one thread to send while another
 * receives (transport.concurrent_send is 0): its owner does both.
 */
#ifndef TCPCHAT_TLS_H
#define TCPCHAT_TLS_H

#include <stddef.h>

#include "transport.h"

/* Room for a reason, e.g. "certificate has expired". */
#define TLS_ERR_MAX 256

/* Whether this build has TLS. */
int tls_available(void);

struct tls_context;

struct tls_server_options {
	const char *cert_file; /* PEM chain, the server's certificate first */
	const char *key_file; /* PEM private key */
	const char *client_ca_file; /* require client certificates: or NULL */
};

struct tls_client_options {
	const char *ca_file; /* trust these; NULL: the system's store */
	const char *servername; /* verify and send (SNI) this name */
	int insecure; /* no verification at all */
	const char *cert_file; /* a client certificate, or NULL */
	const char *key_file;
};

/*
 * A server context (TLS 1.2 and later, the library's default ciphers)
 * with one reference, or NULL with one line of why in err.
 */
struct tls_context *tls_server_new(
    const struct tls_server_options *o, char *err, size_t errsz);

/* A client context, or NULL with one line of why in err. */
struct tls_context *tls_client_new(
    const struct tls_client_options *o, char *err, size_t errsz);

/* Contexts are shared by the connections made with them. */
void tls_context_ref(struct tls_context *c);
void tls_context_unref(struct tls_context *c);

/*
 * Makes t a TLS transport over the connected socket fd (non-blocking
 * from now on), server or client side as ctx is, not yet handshaken.
 * 0, or -1 with the reason in err (fd is left open, t untouched).
 */
int tls_transport(struct transport *t, int fd, struct tls_context *ctx,
    char *err, size_t errsz);

/* Results of tls_handshake. */
enum tls_handshake_result {
	TLS_DONE = 1, /* handshaken: the transport carries data now */
	TLS_AGAIN = 0, /* wait for *events on t->fd, then call again */
	TLS_FAILED = -1 /* the reason is in err */
};

/*
 * Takes the handshake as far as it goes without blocking.  A failed
 * verification names its reason ("certificate has expired", "unable to
 * get local issuer certificate", "hostname mismatch"); a peer speaking
 * plain text, what the library saw ("wrong version number").
 */
int tls_handshake(struct transport *t, short *events, char *err, size_t errsz);

/*
 * Takes the handshake to its end, waiting in poll: TLS_DONE; TLS_FAILED
 * with the reason in err ("timed out after 10 s" when timeout_ms, if
 * not negative, ran out first); or TLS_AGAIN when stop_fd (unless -1)
 * became readable first.
 */
int tls_handshake_wait(
    struct transport *t, int timeout_ms, int stop_fd, char *err, size_t errsz);

/* The negotiated protocol ("TLSv1.3"), or "" before the handshake. */
const char *tls_version(struct transport *t);

/*
 * Why the last recv or send on a TLS transport failed with EPROTO (an
 * alert from the peer, say "tlsv13 alert certificate required"), or ""
 * (also for any other transport).
 */
const char *tls_error(struct transport *t);

#endif
