/*
 * check_tls.c - the TLS transport over real loopback connections: both
 * ends driven by this test (non-blocking handshakes stepped in turn),
 * certificates made by the openssl command: a good one, an expired one,
 * one for another name, one from another CA, client certificates, a
 * plain-text peer, bad files.
 */
#include "config.h"

#include <sys/socket.h>
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "io.h"
#include "net.h"
#include "testutil.h"
#include "tls.h"

static char certdir[] = "/tmp/check_tls.XXXXXX";

/* A path in the certificate directory (static: one at a time each). */
static const char *
cert(const char *name)
{
	static char paths[8][256];
	static int next;
	char *p = paths[next++ % 8];

	snprintf(p, 256, "%s/%s", certdir, name);
	return p;
}

static void
certs_setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(certdir));
	testutil_make_certs(certdir);
}

/* A connected pair of loopback TCP sockets: *a connects to *b. */
static void
tcp_pair(int *a, int *b)
{
	int gai, lfd = net_listen("127.0.0.1", "0", 4, &gai);
	char port[16];

	ck_assert_int_ne(lfd, -1);
	snprintf(port, sizeof(port), "%d", net_local_port(lfd));
	*a = net_connect("127.0.0.1", port, 5000, &gai);
	ck_assert_int_ne(*a, -1);
	*b = accept(lfd, NULL, NULL);
	ck_assert_int_ne(*b, -1);
	close(lfd);
	net_set_nonblock(*a, 1);
	net_set_nonblock(*b, 1);
}

struct end {
	struct transport t;
	int state; /* TLS_AGAIN, TLS_DONE or TLS_FAILED */
	short events;
	char err[TLS_ERR_MAX];
};

/* Steps both handshakes until neither can go on (bounded in time). */
static void
handshake_both(struct end *c, struct end *s)
{
	uint64_t deadline = clock_now_ms() + testutil_wait_ms(5000);

	c->state = s->state = TLS_AGAIN;
	while ((c->state == TLS_AGAIN || s->state == TLS_AGAIN) &&
	    clock_now_ms() < deadline) {
		if (c->state == TLS_AGAIN)
			c->state = tls_handshake(
			    &c->t, &c->events, c->err, sizeof(c->err));
		if (s->state == TLS_AGAIN)
			s->state = tls_handshake(
			    &s->t, &s->events, s->err, sizeof(s->err));
		/* One side failed: the other hears of it on its next read. */
		if (c->state == TLS_FAILED || s->state == TLS_FAILED) {
			struct pollfd p[2] = {
			    {c->t.fd, POLLIN, 0}, {s->t.fd, POLLIN, 0}};
			poll(p, 2, 50);
		} else {
			struct pollfd p[2] = {
			    {c->t.fd, c->events, 0}, {s->t.fd, s->events, 0}};
			poll(p, 2, 50);
		}
		if ((c->state == TLS_FAILED) != (s->state == TLS_FAILED) &&
		    clock_now_ms() + 4000 > deadline)
			break;
	}
}

/* A server and a client over a fresh pair; handshake attempted. */
static void
pair_with(struct end *c, struct end *s, struct tls_context *cctx,
    struct tls_context *sctx)
{
	int a, b;
	char err[TLS_ERR_MAX];

	tcp_pair(&a, &b);
	memset(c, 0, sizeof(*c));
	memset(s, 0, sizeof(*s));
	ck_assert_msg(
	    tls_transport(&c->t, a, cctx, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(
	    tls_transport(&s->t, b, sctx, err, sizeof(err)) == 0, "%s", err);
	handshake_both(c, s);
}

static struct tls_context *
server_ctx(const char *certname, const char *client_ca)
{
	char name[64], key[64], err[TLS_ERR_MAX];

	snprintf(name, sizeof(name), "%s.pem", certname);
	snprintf(key, sizeof(key), "%s.key", certname);
	struct tls_server_options o = {
	    cert(name), cert(key), client_ca ? cert(client_ca) : NULL};
	struct tls_context *c = tls_server_new(&o, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	return c;
}

static struct tls_context *
client_ctx(const char *ca, const char *name, int insecure, const char *mine)
{
	char crt[64], key[64], err[TLS_ERR_MAX];

	if (mine != NULL) {
		snprintf(crt, sizeof(crt), "%s.pem", mine);
		snprintf(key, sizeof(key), "%s.key", mine);
	}
	struct tls_client_options o = {ca ? cert(ca) : NULL, name, insecure,
	    mine ? cert(crt) : NULL, mine ? cert(key) : NULL};
	struct tls_context *c = tls_client_new(&o, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	return c;
}

/* Sends all of len bytes through t, reading the other end meanwhile. */
static void
exchange(struct end *from, struct end *to, const char *data, size_t len)
{
	char *got = malloc(len);
	size_t sent = 0, recvd = 0;
	uint64_t deadline = clock_now_ms() + testutil_wait_ms(10000);

	ck_assert_ptr_nonnull(got);
	while (recvd < len && clock_now_ms() < deadline) {
		if (sent < len) {
			ssize_t n =
			    transport_send(&from->t, data + sent, len - sent);
			ck_assert_int_ge(n, 0);
			sent += (size_t)n;
		}
		struct pollfd p = {to->t.fd, POLLIN, 0};
		if (transport_pending(&to->t) == 0)
			poll(&p, 1, 10);
		ssize_t n = transport_recv(&to->t, got + recvd, len - recvd);
		if (n == -1)
			ck_assert_int_eq(errno, EAGAIN);
		else
			recvd += (size_t)n;
	}
	ck_assert_uint_eq(recvd, len);
	ck_assert(memcmp(got, data, len) == 0);
	free(got);
}

START_TEST(test_handshake_and_bytes_both_ways)
{
	struct tls_context *sctx = server_ctx("server", NULL);
	struct tls_context *cctx = client_ctx("ca.pem", "localhost", 0, NULL);
	struct end c, s;
	static char big[300000];

	pair_with(&c, &s, cctx, sctx);
	ck_assert_msg(c.state == TLS_DONE, "client: %s", c.err);
	ck_assert_msg(s.state == TLS_DONE, "server: %s", s.err);
	ck_assert_str_eq(tls_version(&c.t), "TLSv1.3");
	ck_assert_str_eq(tls_version(&s.t), "TLSv1.3");
	exchange(&c, &s, "hello over TLS\n", 15);
	exchange(&s, &c, "来自服务端消息\n", strlen("来自服务端消息\n"));
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 7 + 1);
	exchange(&c, &s, big, sizeof(big));
	/* The client ends: the server reads the end of the stream. */
	ck_assert_int_eq(transport_shutdown(&c.t), 0);
	uint64_t deadline = clock_now_ms() + testutil_wait_ms(5000);
	ssize_t n = -1;
	while (clock_now_ms() < deadline &&
	    (n = transport_recv(&s.t, big, sizeof(big))) == -1 &&
	    errno == EAGAIN)
		poll(NULL, 0, 5);
	ck_assert_int_eq(n, 0);
	transport_close(&c.t);
	transport_close(&s.t);
	tls_context_unref(cctx);
	tls_context_unref(sctx);
}
END_TEST

/* The client refuses the server's certificate with reason. */
static void
expect_refused(const char *servercert, const char *ca, const char *name,
    const char *reason)
{
	struct tls_context *sctx = server_ctx(servercert, NULL);
	struct tls_context *cctx = client_ctx(ca, name, 0, NULL);
	struct end c, s;

	pair_with(&c, &s, cctx, sctx);
	ck_assert_int_eq(c.state, TLS_FAILED);
	ck_assert_msg(
	    strstr(c.err, reason) != NULL, "client said \"%s\"", c.err);
	transport_close(&c.t);
	transport_close(&s.t);
	tls_context_unref(cctx);
	tls_context_unref(sctx);
}

START_TEST(test_client_verification)
{
	/* -days 0: it expired the second it was made. */
	poll(NULL, 0, 1100);
	expect_refused("expired", "ca.pem", "localhost", "expired");
	expect_refused("wrongname", "ca.pem", "localhost", "mismatch");
	expect_refused("server", "other-ca.pem", "localhost", "issuer");
	expect_refused("server", "ca.pem", "127.0.0.2", "mismatch");

	/* The address itself verifies, and --tls-insecure skips it all. */
	struct tls_context *sctx = server_ctx("wrongname", NULL);
	struct tls_context *ictx = client_ctx(NULL, "localhost", 1, NULL);
	struct tls_context *ipctx = client_ctx("ca.pem", "127.0.0.1", 0, NULL);
	struct tls_context *gsctx = server_ctx("server", NULL);
	struct end c, s;
	pair_with(&c, &s, ictx, sctx);
	ck_assert_msg(
	    c.state == TLS_DONE && s.state == TLS_DONE, "%s %s", c.err, s.err);
	transport_close(&c.t);
	transport_close(&s.t);
	pair_with(&c, &s, ipctx, gsctx);
	ck_assert_msg(
	    c.state == TLS_DONE && s.state == TLS_DONE, "%s %s", c.err, s.err);
	transport_close(&c.t);
	transport_close(&s.t);
	tls_context_unref(ictx);
	tls_context_unref(ipctx);
	tls_context_unref(sctx);
	tls_context_unref(gsctx);
}
END_TEST

START_TEST(test_client_certificates)
{
	struct tls_context *sctx = server_ctx("server", "ca.pem");
	struct tls_context *none = client_ctx("ca.pem", "localhost", 0, NULL);
	struct tls_context *mine =
	    client_ctx("ca.pem", "localhost", 0, "client");
	struct end c, s;

	/* Without a certificate: refused by the server. */
	pair_with(&c, &s, none, sctx);
	ck_assert_int_eq(s.state, TLS_FAILED);
	ck_assert_msg(
	    strstr(s.err, "certificate") != NULL, "server: %s", s.err);
	transport_close(&c.t);
	transport_close(&s.t);
	/* With one signed by the CA: in. */
	pair_with(&c, &s, mine, sctx);
	ck_assert_msg(c.state == TLS_DONE && s.state == TLS_DONE, "%s / %s",
	    c.err, s.err);
	exchange(&c, &s, "signed\n", 7);
	transport_close(&c.t);
	transport_close(&s.t);
	tls_context_unref(none);
	tls_context_unref(mine);
	tls_context_unref(sctx);
}
END_TEST

START_TEST(test_plain_text_peer)
{
	struct tls_context *sctx = server_ctx("server", NULL);
	struct end s = {0};
	int a, b;
	char err[TLS_ERR_MAX];

	tcp_pair(&a, &b);
	ck_assert_int_eq(tls_transport(&s.t, b, sctx, err, sizeof(err)), 0);
	testutil_send_str(a, "hello, I speak plain text\n");
	uint64_t deadline = clock_now_ms() + testutil_wait_ms(5000);
	int rc = TLS_AGAIN;
	while (rc == TLS_AGAIN && clock_now_ms() < deadline) {
		rc = tls_handshake(&s.t, &s.events, s.err, sizeof(s.err));
		struct pollfd p = {s.t.fd, s.events, 0};
		if (rc == TLS_AGAIN)
			poll(&p, 1, 50);
	}
	ck_assert_int_eq(rc, TLS_FAILED);
	ck_assert_msg(strstr(s.err, "wrong version number") != NULL ||
	        strstr(s.err, "http") != NULL,
	    "server said \"%s\"", s.err);
	transport_close(&s.t);
	close(a);
	tls_context_unref(sctx);
}
END_TEST

START_TEST(test_bad_files)
{
	char err[TLS_ERR_MAX];
	struct tls_server_options o = {
	    "/nonexistent/cert.pem", cert("server.key"), NULL};

	ck_assert_ptr_null(tls_server_new(&o, err, sizeof(err)));
	ck_assert_msg(strstr(err, "/nonexistent/cert.pem") != NULL, "%s", err);
	o = (struct tls_server_options){
	    cert("server.pem"), cert("client.key"), NULL};
	ck_assert_ptr_null(tls_server_new(&o, err, sizeof(err)));
	ck_assert_msg(strstr(err, "match") != NULL, "%s", err);
	struct tls_client_options co = {
	    "/nonexistent/ca.pem", NULL, 0, NULL, NULL};
	ck_assert_ptr_null(tls_client_new(&co, err, sizeof(err)));
	ck_assert_msg(strstr(err, "/nonexistent/ca.pem") != NULL, "%s", err);
}
END_TEST

static Suite *
tls_suite(void)
{
	Suite *s = suite_create("tls");
	TCase *tc = tcase_create("transport");

	tcase_add_unchecked_fixture(tc, certs_setup, NULL);
	tcase_add_test(tc, test_handshake_and_bytes_both_ways);
	tcase_add_test(tc, test_client_verification);
	tcase_add_test(tc, test_client_certificates);
	tcase_add_test(tc, test_plain_text_peer);
	tcase_add_test(tc, test_bad_files);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	if (!tls_available()) {
		puts("check_tls: this build has no TLS: skipped");
		return 77;
	}
	sr = srunner_create(tls_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", certdir);
	(void)!system(cmd);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
