/* service.c - standard descriptors, socket activation, readiness. */
#include "config.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "service.h"

int
service_sanitise_stdfd(void)
{
	int nullfd = -1;

	for (int fd = STDIN_FILENO; fd <= STDERR_FILENO; fd++) {
		if (fcntl(fd, F_GETFL) != -1 || errno != EBADF)
			continue;
		/* open() takes the lowest free descriptor: perhaps fd itself.
		 */
		if (nullfd == -1 && (nullfd = open("/dev/null", O_RDWR)) == -1)
			return -1;
		if (nullfd != fd && dup2(nullfd, fd) == -1) {
			int save_errno = errno;
			if (nullfd > STDERR_FILENO)
				close(nullfd);
			errno = save_errno;
			return -1;
		}
	}
	if (nullfd > STDERR_FILENO)
		close(nullfd);
	return 0;
}

/* Parses a whole decimal number into *v.  0, or -1. */
static int
service_number(const char *s, long *v)
{
	char *end;

	errno = 0;
	*v = strtol(s, &end, 10);
	return errno != 0 || end == s || *end != '\0' || *v < 0 ? -1 : 0;
}

/* The value of an integer socket option of fd, or -1. */
static int
service_sockopt(int fd, int level, int name)
{
	int v = -1;
	socklen_t len = sizeof(v);

	if (getsockopt(fd, level, name, &v, &len) == -1)
		return -1;
	return v;
}

int
service_listen_fd(int *fd, char *err, size_t size)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	long p, n;

	if (pid == NULL || fds == NULL || service_number(pid, &p) == -1 ||
	    p != (long)getpid())
		return 0;
	if (service_number(fds, &n) == -1 || n != 1) {
		snprintf(err, size,
		    "socket activation passed LISTEN_FDS=%s: tcpchatd takes "
		    "exactly one listening socket",
		    fds);
		return -1;
	}
	/* Not for our children, were there any. */
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	int domain = service_sockopt(SERVICE_LISTEN_FD, SOL_SOCKET, SO_DOMAIN);
	if (service_sockopt(SERVICE_LISTEN_FD, SOL_SOCKET, SO_TYPE) !=
	        SOCK_STREAM ||
	    service_sockopt(SERVICE_LISTEN_FD, SOL_SOCKET, SO_ACCEPTCONN) !=
	        1 ||
	    (domain != AF_INET && domain != AF_INET6)) {
		snprintf(err, size,
		    "socket activation: descriptor %d is not a listening TCP "
		    "socket (ListenStream= with an address or port)",
		    SERVICE_LISTEN_FD);
		return -1;
	}
	fcntl(SERVICE_LISTEN_FD, F_SETFD, FD_CLOEXEC);
	*fd = SERVICE_LISTEN_FD;
	return 1;
}

int
service_notify(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sun;
	size_t len;
	int fd, rc = 0;

	if (path == NULL || path[0] == '\0')
		return 0;
	len = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || len >= sizeof(sun.sun_path)) {
		errno = EAFNOSUPPORT;
		return -1;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, len);
	/* "@name": an abstract socket, its name without the NUL after it. */
	if (path[0] == '@')
		sun.sun_path[0] = '\0';
	socklen_t salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
	    len + (path[0] == '/'));
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (sendto(fd, state, strlen(state), MSG_NOSIGNAL,
	        (struct sockaddr *)&sun, salen) == -1)
		rc = -1;
	int save_errno = errno;
	close(fd);
	errno = save_errno;
	return rc;
}
