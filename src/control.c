/* control.c - the control socket's file, its listener, who may attach. */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control.h"

/* Pending operators the kernel queues for us. */
#define CONTROL_BACKLOG 16

/* Fills sun with path.  0, or -1 when it does not fit. */
static int
control_address(struct sockaddr_un *sun, const char *path)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun->sun_path))
		return -1;
	memcpy(sun->sun_path, path, strlen(path));
	return 0;
}

/*
 * Whatever is at path must be a socket nobody answers on, and is then
 * removed.  0 (nothing there now), or -1 with why in err.
 */
static int
control_clear_stale(const char *path, char *err, size_t size)
{
	struct sockaddr_un sun;
	struct stat st;
	int fd, rc;

	if (lstat(path, &st) == -1) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, size, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, size,
		    "%s exists and is not a socket: not replacing it", path);
		return -1;
	}
	control_address(&sun, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		snprintf(err, size, "%s: %s", path, strerror(errno));
		return -1;
	}
	rc = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	int save_errno = errno;
	close(fd);
	if (rc == 0) {
		snprintf(err, size,
		    "%s is in use: another tcpchatd answers on it", path);
		return -1;
	}
	if (save_errno != ECONNREFUSED) {
		snprintf(err, size, "%s: %s", path, strerror(save_errno));
		return -1;
	}
	/* A socket nobody listens on: left by a server that is gone. */
	if (unlink(path) == -1 && errno != ENOENT) {
		snprintf(err, size, "cannot remove the stale socket %s: %s",
		    path, strerror(errno));
		return -1;
	}
	return 0;
}

int
control_open(struct control *ctl, const char *path, char *err, size_t size)
{
	struct sockaddr_un sun;
	struct stat st;
	int fd = -1;

	ctl->fd = -1;
	ctl->path = NULL;
	if (control_address(&sun, path) == -1) {
		snprintf(err, size, "%s: path too long for a socket (max %zu)",
		    path, sizeof(sun.sun_path) - 1);
		return -1;
	}
	if (control_clear_stale(path, err, size) == -1)
		return -1;
	if ((fd = socket(
	         AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) == -1)
		goto fail;
	/* Created 0600 from the start: no moment with a wider mode. */
	mode_t old = umask(0177);
	int rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (rc == -1)
		goto fail;
	if (chmod(path, 0600) == -1 || lstat(path, &st) == -1 ||
	    listen(fd, CONTROL_BACKLOG) == -1 ||
	    (ctl->path = strdup(path)) == NULL) {
		int save_errno = errno;
		unlink(path);
		errno = save_errno;
		goto fail;
	}
	ctl->fd = fd;
	ctl->dev = st.st_dev;
	ctl->ino = st.st_ino;
	return 0;
fail:
	snprintf(err, size, "cannot make the control socket %s: %s", path,
	    strerror(errno));
	if (fd != -1)
		close(fd);
	return -1;
}

int
control_accept(struct control *ctl, struct control_peer *p)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int fd;

	fd = accept4(ctl->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd == -1)
		return 0;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1) {
		cred.uid = (uid_t)-1;
		cred.pid = 0;
	}
	p->fd = fd;
	p->uid = cred.uid;
	p->pid = cred.pid;
	if (cred.uid == 0 || cred.uid == geteuid())
		return 1;
	(void)!send(fd, CONTROL_DENIED, strlen(CONTROL_DENIED),
	    MSG_NOSIGNAL | MSG_DONTWAIT);
	close(fd);
	p->fd = -1;
	return -1;
}

void
control_close(struct control *ctl)
{
	struct stat st;

	if (ctl->fd != -1)
		close(ctl->fd);
	ctl->fd = -1;
	if (ctl->path == NULL)
		return;
	/* Another server's socket, made after ours went, stays. */
	if (lstat(ctl->path, &st) == 0 && st.st_dev == ctl->dev &&
	    st.st_ino == ctl->ino)
		unlink(ctl->path);
	free(ctl->path);
	ctl->path = NULL;
}
