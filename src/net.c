/* net.c - TCP listening and connecting through getaddrinfo. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "net.h"

const char *
net_unbracket(const char *host, char *buf, size_t size)
{
	size_t len = strlen(host);

	if (len < 3 || len - 1 > size || host[0] != '[' || host[len - 1] != ']')
		return host;
	memcpy(buf, host + 1, len - 2);
	buf[len - 2] = '\0';
	return buf;
}

/* Resolves host:port for a stream socket.  0, or the getaddrinfo code. */
static int
net_resolve(const char *host, const char *port, int family, int passive,
    struct addrinfo **res)
{
	struct addrinfo hints;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = family;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
	if (host != NULL && *host == '\0')
		host = NULL;
	/* A bracketed IPv6 literal, as users copy it from our own output. */
	char unbracketed[NET_ADDRSTRLEN];
	if (host != NULL)
		host = net_unbracket(host, unbracketed, sizeof(unbracketed));
	return getaddrinfo(host, port, &hints, res);
}

/*
 * Binds and listens on one address; an IPv6 socket takes IPv4 too unless
 * v6only.  Returns the socket or -1.
 */
static int
net_listen_one(const struct addrinfo *ai, int backlog, int v6only)
{
	int fd, on = 1, off = 0, save_errno;

	fd = socket(
	    ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
	if (fd == -1)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1)
		goto fail;
	/* "::" serves IPv4 too, whatever the system default says. */
	if (ai->ai_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY,
		    v6only ? &on : &off, sizeof(off));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) == -1)
		goto fail;
	if (listen(fd, backlog) == -1)
		goto fail;
	return fd;
fail:
	save_errno = errno;
	close(fd);
	errno = save_errno;
	return -1;
}

int
net_listen(const char *host, const char *port, int backlog, int *gai_error)
{
	return net_listen_family(host, port, AF_UNSPEC, backlog, gai_error);
}

int
net_listen_family(
    const char *host, const char *port, int family, int backlog, int *gai_error)
{
	struct addrinfo *res0, *res;
	int fd = -1, rc, save_errno = EAFNOSUPPORT;
	int v6only = family == AF_INET6;

	if (gai_error != NULL)
		*gai_error = 0;
	if ((rc = net_resolve(host, port, AF_UNSPEC, 1, &res0)) != 0) {
		if (gai_error != NULL)
			*gai_error = rc;
		errno = 0;
		return -1;
	}
	/* With no host, prefer the IPv6 wildcard: it serves both families. */
	if ((host == NULL || *host == '\0') && family != AF_INET) {
		for (res = res0; res; res = res->ai_next)
			if (res->ai_family == AF_INET6 &&
			    (fd = net_listen_one(res, backlog, v6only)) != -1)
				break;
	}
	for (res = res0; fd == -1 && res; res = res->ai_next) {
		if (family != AF_UNSPEC && res->ai_family != family)
			continue;
		if ((fd = net_listen_one(res, backlog, v6only)) == -1)
			save_errno = errno;
	}
	freeaddrinfo(res0);
	if (fd == -1)
		errno = save_errno;
	return fd;
}

/*
 * Connects one socket within timeout_ms (negative: no limit).  Returns the
 * blocking socket, or -1 with errno set.
 */
static int
net_connect_one(const struct addrinfo *ai, int timeout_ms)
{
	struct pollfd pfd;
	socklen_t len;
	int fd, rc, soerr, save_errno;

	fd = socket(ai->ai_family,
	    ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
	if (fd == -1)
		return -1;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == -1) {
		if (errno != EINPROGRESS)
			goto fail;
		uint64_t deadline = clock_now_ms() +
		    (uint64_t)(timeout_ms < 0 ? 0 : timeout_ms);
		pfd.fd = fd;
		pfd.events = POLLOUT;
		for (;;) {
			int wait =
			    timeout_ms < 0 ? -1 : clock_ms_until(deadline);
			rc = poll(&pfd, 1, wait);
			if (rc == 1)
				break;
			if (rc == 0) {
				errno = ETIMEDOUT;
				goto fail;
			}
			if (errno != EINTR)
				goto fail;
		}
		len = sizeof(soerr);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == -1)
			goto fail;
		if (soerr != 0) {
			errno = soerr;
			goto fail;
		}
	}
	if (net_set_nonblock(fd, 0) == -1)
		goto fail;
	return fd;
fail:
	save_errno = errno;
	close(fd);
	errno = save_errno;
	return -1;
}

int
net_connect(const char *host, const char *port, int timeout_ms, int *gai_error)
{
	return net_connect_family(host, port, AF_UNSPEC, timeout_ms, gai_error);
}

int
net_connect_family(const char *host, const char *port, int family,
    int timeout_ms, int *gai_error)
{
	struct addrinfo *res0, *res;
	uint64_t deadline;
	int fd = -1, rc, save_errno = ECONNREFUSED;

	if (gai_error != NULL)
		*gai_error = 0;
	if ((rc = net_resolve(host, port, family, 0, &res0)) != 0) {
		if (gai_error != NULL)
			*gai_error = rc;
		errno = 0;
		return -1;
	}
	deadline = clock_now_ms() + (uint64_t)(timeout_ms < 0 ? 0 : timeout_ms);
	for (res = res0; res; res = res->ai_next) {
		int left = timeout_ms < 0 ? -1 : clock_ms_until(deadline);
		if (timeout_ms >= 0 && left == 0) {
			save_errno = ETIMEDOUT;
			break;
		}
		if ((fd = net_connect_one(res, left)) != -1)
			break;
		save_errno = errno;
	}
	freeaddrinfo(res0);
	if (fd == -1)
		errno = save_errno;
	return fd;
}

const char *
net_strerror(int gai_error, int saved_errno)
{
	if (gai_error != 0)
		return gai_error == EAI_SYSTEM ? strerror(saved_errno)
		                               : gai_strerror(gai_error);
	return strerror(saved_errno);
}

int
net_format(const struct sockaddr *sa, socklen_t len, char *buf, size_t size)
{
	char host[INET6_ADDRSTRLEN];
	const struct sockaddr_in *sin;
	const struct sockaddr_in6 *sin6;
	struct in_addr v4;

	if (sa->sa_family == AF_INET && len >= sizeof(*sin)) {
		sin = (const struct sockaddr_in *)(const void *)sa;
		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		snprintf(buf, size, "%s:%u", host, ntohs(sin->sin_port));
		return 0;
	}
	if (sa->sa_family == AF_INET6 && len >= sizeof(*sin6)) {
		sin6 = (const struct sockaddr_in6 *)(const void *)sa;
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			memcpy(&v4, &sin6->sin6_addr.s6_addr[12], sizeof(v4));
			inet_ntop(AF_INET, &v4, host, sizeof(host));
			snprintf(
			    buf, size, "%s:%u", host, ntohs(sin6->sin6_port));
			return 0;
		}
		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		if (sin6->sin6_scope_id != 0)
			snprintf(buf, size, "[%s%%%u]:%u", host,
			    (unsigned)sin6->sin6_scope_id,
			    ntohs(sin6->sin6_port));
		else
			snprintf(
			    buf, size, "[%s]:%u", host, ntohs(sin6->sin6_port));
		return 0;
	}
	snprintf(buf, size, "?");
	errno = EAFNOSUPPORT;
	return -1;
}

int
net_local_name(int fd, char *buf, size_t size)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1)
		return -1;
	return net_format((struct sockaddr *)&ss, len, buf, size);
}

int
net_peer_name(int fd, char *buf, size_t size)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getpeername(fd, (struct sockaddr *)&ss, &len) == -1)
		return -1;
	return net_format((struct sockaddr *)&ss, len, buf, size);
}

int
net_local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1)
		return -1;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	errno = EAFNOSUPPORT;
	return -1;
}

int
net_set_nonblock(int fd, int on)
{
	int flags = fcntl(fd, F_GETFL);

	if (flags == -1)
		return -1;
	flags = on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
	return fcntl(fd, F_SETFL, flags);
}

int
net_set_nodelay(int fd)
{
	int on = 1;

	return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
}
