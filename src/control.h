/*
 * control.h - tcpchatd's control socket (--control PATH): a Unix-domain
 * stream socket, mode 0600, through which operators attach.  Peers are
 * checked with SO_PEERCRED: only root and the server's own user get in.
 * What an attached operator says and hears is console.c's business.
 */
#ifndef TCPCHAT_CONTROL_H
#define TCPCHAT_CONTROL_H

#include <sys/types.h>
#include <stddef.h>

/* What a refused peer is told before it is closed. */
#define CONTROL_DENIED "tcpchatd: error: permission denied\n"

/* The socket file, as created (so only ours is ever removed). */
struct control {
	int fd; /* listening, non-blocking; -1 when closed */
	char *path;
	dev_t dev;
	ino_t ino;
};

/* A peer that connected. */
struct control_peer {
	int fd; /* non-blocking, close-on-exec */
	uid_t uid;
	pid_t pid;
};

/*
 * Creates the socket at path, mode 0600, replacing a stale socket left
 * there by a server that is gone; anything else at path (a file, a
 * socket a running server answers on) is left alone and refused.
 * 0, or -1 with why in err.
 */
int control_open(struct control *ctl, const char *path, char *err, size_t size);

/*
 * Accepts one peer.  1: an operator (root or our own user) in *p; 0:
 * nobody waiting; -1: a peer refused (told CONTROL_DENIED and closed;
 * p->uid and p->pid say who).
 */
int control_accept(struct control *ctl, struct control_peer *p);

/* Closes the socket and removes the file if it is still the one made. */
void control_close(struct control *ctl);

#endif
