/* check_net.c - listening, connecting and address formatting. */
#include "config.h"

#include <sys/socket.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io.h"
#include "net.h"
#include "testutil.h"

#define NET_CLIENTS 24

START_TEST(test_listen_port_zero_reads_back)
{
	char name[NET_ADDRSTRLEN], expect[NET_ADDRSTRLEN];
	int gai, fd = net_listen("127.0.0.1", "0", 16, &gai);
	int port;

	ck_assert_int_ge(fd, 0);
	port = net_local_port(fd);
	ck_assert_int_gt(port, 0);
	ck_assert_int_eq(net_local_name(fd, name, sizeof(name)), 0);
	snprintf(expect, sizeof(expect), "127.0.0.1:%d", port);
	ck_assert_str_eq(name, expect);
	/* Close-on-exec, as every socket we make. */
	ck_assert_int_ne(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
	close(fd);
}
END_TEST

START_TEST(test_listen_ipv6)
{
	char name[NET_ADDRSTRLEN], expect[NET_ADDRSTRLEN];
	int gai, fd = net_listen("::1", "0", 16, &gai);

	if (fd == -1 &&
	    (gai != 0 || errno == EADDRNOTAVAIL || errno == EAFNOSUPPORT)) {
		fprintf(stderr, "check_net: no IPv6 loopback here, skipped\n");
		return;
	}
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(net_local_name(fd, name, sizeof(name)), 0);
	snprintf(expect, sizeof(expect), "[::1]:%d", net_local_port(fd));
	ck_assert_str_eq(name, expect);

	/* Connect to it by the bracketed form we print. */
	char port[16];
	snprintf(port, sizeof(port), "%d", net_local_port(fd));
	int c = net_connect("[::1]", port, 2000, &gai);
	ck_assert_int_ge(c, 0);
	int s = accept(fd, NULL, NULL);
	ck_assert_int_ge(s, 0);
	ck_assert_int_eq(net_peer_name(s, name, sizeof(name)), 0);
	ck_assert_msg(strncmp(name, "[::1]:", 6) == 0, "peer %s", name);
	close(s);
	close(c);
	close(fd);
}
END_TEST

START_TEST(test_reuseaddr_allows_rebind)
{
	int gai, fd = net_listen("127.0.0.1", "0", 16, &gai), fd2, c, s;
	char port[16];

	ck_assert_int_ge(fd, 0);
	snprintf(port, sizeof(port), "%d", net_local_port(fd));
	/* Leave a connection in TIME_WAIT on the server side. */
	c = net_connect("127.0.0.1", port, 2000, &gai);
	ck_assert_int_ge(c, 0);
	s = accept(fd, NULL, NULL);
	ck_assert_int_ge(s, 0);
	close(s);
	close(c);
	close(fd);
	fd2 = net_listen("127.0.0.1", port, 16, &gai);
	ck_assert_msg(fd2 >= 0, "rebind: %s", strerror(errno));
	close(fd2);
}
END_TEST

START_TEST(test_listen_in_use_fails)
{
	int gai, fd = net_listen("127.0.0.1", "0", 16, &gai), fd2;
	char port[16];

	ck_assert_int_ge(fd, 0);
	snprintf(port, sizeof(port), "%d", net_local_port(fd));
	fd2 = net_listen("127.0.0.1", port, 16, &gai);
	ck_assert_int_eq(fd2, -1);
	ck_assert_int_eq(gai, 0);
	ck_assert_int_eq(errno, EADDRINUSE);
	close(fd);
}
END_TEST

START_TEST(test_connect_refused)
{
	int gai, fd = net_listen("127.0.0.1", "0", 16, &gai), c;
	char port[16];

	ck_assert_int_ge(fd, 0);
	snprintf(port, sizeof(port), "%d", net_local_port(fd));
	close(fd); /* nobody listens there now */
	c = net_connect("127.0.0.1", port, 2000, &gai);
	ck_assert_int_eq(c, -1);
	ck_assert_int_eq(gai, 0);
	ck_assert_int_eq(errno, ECONNREFUSED);
	ck_assert_str_eq(net_strerror(gai, errno), strerror(ECONNREFUSED));
}
END_TEST

START_TEST(test_bad_names)
{
	int gai, fd;

	/* Only names resolved locally: no lookup may leave this machine. */
	fd = net_connect("127.0.0.1", "99999x", 2000, &gai);
	ck_assert_int_eq(fd, -1);
	ck_assert_int_ne(gai, 0);
	ck_assert_ptr_nonnull(net_strerror(gai, errno));
	fd = net_listen("127.0.0.1", "notaport", 16, &gai);
	ck_assert_int_eq(fd, -1);
	ck_assert_int_ne(gai, 0);
}
END_TEST

START_TEST(test_format)
{
	struct sockaddr_in6 sin6;
	char buf[NET_ADDRSTRLEN];

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_port = htons(8888);
	/* ::ffff:10.0.0.7 is shown as the IPv4 address it is. */
	sin6.sin6_addr.s6_addr[10] = 0xff;
	sin6.sin6_addr.s6_addr[11] = 0xff;
	sin6.sin6_addr.s6_addr[12] = 10;
	sin6.sin6_addr.s6_addr[15] = 7;
	ck_assert_int_eq(net_format((struct sockaddr *)&sin6, sizeof(sin6), buf,
	                     sizeof(buf)),
	    0);
	ck_assert_str_eq(buf, "10.0.0.7:8888");
	memset(&sin6.sin6_addr, 0, sizeof(sin6.sin6_addr));
	sin6.sin6_addr.s6_addr[15] = 1;
	net_format((struct sockaddr *)&sin6, sizeof(sin6), buf, sizeof(buf));
	ck_assert_str_eq(buf, "[::1]:8888");
}
END_TEST

/*
 * Many clients at once against a listener made with net_listen: every
 * client sends its own pattern and every byte comes back right.
 */
START_TEST(test_many_simultaneous_clients)
{
	struct testutil_server srv;
	int fds[NET_CLIENTS];
	char out[NET_CLIENTS][3000], in[3000];

	testutil_server_start(&srv, TESTUTIL_ECHO);
	testutil_connect_many(srv.port, NET_CLIENTS, fds);
	for (int i = 0; i < NET_CLIENTS; i++) {
		for (size_t j = 0; j < sizeof(out[i]); j++)
			out[i][j] = (char)(i * 31 + j * 7);
		ck_assert_int_eq(io_write_full(fds[i], out[i], sizeof(out[i])),
		    (ssize_t)sizeof(out[i]));
	}
	for (int i = 0; i < NET_CLIENTS; i++) {
		size_t got = testutil_read_exact(fds[i], in, sizeof(in), 10000);
		ck_assert_uint_eq(got, sizeof(in));
		ck_assert_mem_eq(in, out[i], sizeof(in));
	}
	ck_assert_int_eq(testutil_server_accepted(&srv), NET_CLIENTS);
	testutil_close_many(NET_CLIENTS, fds);
	testutil_server_stop(&srv);
}
END_TEST

static Suite *
net_suite(void)
{
	Suite *s = suite_create("net");
	TCase *tc;

	tc = tcase_create("listen");
	tcase_add_test(tc, test_listen_port_zero_reads_back);
	tcase_add_test(tc, test_listen_ipv6);
	tcase_add_test(tc, test_reuseaddr_allows_rebind);
	tcase_add_test(tc, test_listen_in_use_fails);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);

	tc = tcase_create("connect");
	tcase_add_test(tc, test_connect_refused);
	tcase_add_test(tc, test_bad_names);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);

	tc = tcase_create("format");
	tcase_add_test(tc, test_format);
	suite_add_tcase(s, tc);

	tc = tcase_create("many_clients");
	tcase_add_test(tc, test_many_simultaneous_clients);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(net_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
