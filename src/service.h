/*
 * service.h - what running under a service manager needs, without
 * libsystemd: standard descriptors that are never left closed, the
 * listening socket systemd passes (the sd_listen_fds protocol) and
 * readiness notices on $NOTIFY_SOCKET (the sd_notify protocol).
 */
#ifndef TCPCHAT_SERVICE_H
#define TCPCHAT_SERVICE_H

#include <stddef.h>

/* The descriptor systemd passes first (SD_LISTEN_FDS_START). */
#define SERVICE_LISTEN_FD 3

/*
 * Opens /dev/null on any of descriptors 0, 1 and 2 that is closed, so
 * that nothing opened later takes their place (OpenSSH's
 * sanitise_stdfd).  Call it before anything opens a file.  0, or -1
 * with errno set.
 */
int service_sanitise_stdfd(void);

/*
 * The listening socket of socket activation: when $LISTEN_PID is this
 * process and $LISTEN_FDS is 1, descriptor 3 must be a listening TCP
 * socket; *fd gets it (close-on-exec) and the variables are unset.
 * Returns 1 then, 0 when the server was not socket-activated, or -1 with
 * why in err (more than one descriptor, or not a TCP listener).
 */
int service_listen_fd(int *fd, char *err, size_t size);

/*
 * Sends state ("READY=1", "STOPPING=1", ...) to the service manager
 * when $NOTIFY_SOCKET names one (a path, or "@name" for an abstract
 * socket).  0 (also when the variable is not set), or -1 with errno set.
 */
int service_notify(const char *state);

#endif
