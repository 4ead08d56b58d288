/* net.h - TCP listening and connecting through getaddrinfo. */
#ifndef TCPCHAT_NET_H
#define TCPCHAT_NET_H

#include <sys/types.h>
#include <sys/socket.h>

/* Room for "[ipv6-address%scope]:65535" and a NUL. */
#define NET_ADDRSTRLEN 80

/*
 * Errors: the functions below return -1 and set errno, except when the
 * name lookup failed: then *gai_error (when not NULL) holds the
 * getaddrinfo code and errno is 0.  net_strerror() turns either into text.
 */

/*
 * Listens on host:port (host NULL or "" for every address, port "0" for
 * any free port) with SOCK_CLOEXEC and SO_REUSEADDR.  "::" also accepts
 * IPv4 where the system allows it.  Returns the socket or -1.
 */
int net_listen(const char *host, const char *port, int backlog, int *gai_error);

/*
 * As net_listen, on addresses of one family only: AF_INET, AF_INET6 (an
 * IPv6 socket then takes no IPv4) or AF_UNSPEC (any, as net_listen).
 * With no address of that family errno is EAFNOSUPPORT.
 */
int net_listen_family(const char *host, const char *port, int family,
    int backlog, int *gai_error);

/*
 * Connects to host:port, trying each address in turn until one answers,
 * within timeout_ms in all (negative: no limit).  Returns a blocking,
 * close-on-exec socket or -1 (errno ETIMEDOUT when time ran out).
 */
int net_connect(
    const char *host, const char *port, int timeout_ms, int *gai_error);

/*
 * As net_connect, to the addresses of one family only: AF_INET (-4),
 * AF_INET6 (-6) or AF_UNSPEC (any, as net_connect).  A host with no
 * address of that family is a lookup error (*gai_error set, as
 * getaddrinfo says it: EAI_ADDRFAMILY, EAI_NONAME or EAI_NODATA).
 */
int net_connect_family(const char *host, const char *port, int family,
    int timeout_ms, int *gai_error);

/*
 * host without the brackets of "[::1]" (copied into buf, size bytes),
 * or host itself when it has none (or buf is too small).
 */
const char *net_unbracket(const char *host, char *buf, size_t size);

/* Text for an error from the functions above. */
const char *net_strerror(int gai_error, int saved_errno);

/*
 * Formats an address as "127.0.0.1:PORT" or "[::1]:PORT" (IPv4-mapped
 * IPv6 addresses as IPv4).  buf holds at least NET_ADDRSTRLEN bytes.
 * Returns 0, or -1 for an unknown address family.
 */
int net_format(
    const struct sockaddr *sa, socklen_t len, char *buf, size_t size);

/* The socket's own address, formatted as net_format does.  0 or -1. */
int net_local_name(int fd, char *buf, size_t size);

/* The peer's address, formatted as net_format does.  0 or -1. */
int net_peer_name(int fd, char *buf, size_t size);

/* The port a socket is bound to, or -1. */
int net_local_port(int fd);

/* Sets or clears O_NONBLOCK.  0 or -1. */
int net_set_nonblock(int fd, int on);

/* Disables Nagle's algorithm: small messages leave at once.  0 or -1. */
int net_set_nodelay(int fd);

#endif
