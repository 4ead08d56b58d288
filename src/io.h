/* io.h - full-length reads and writes that survive short counts and EINTR. */
#ifndef TCPCHAT_IO_H
#define TCPCHAT_IO_H

#include <sys/types.h>

/*
 * Writes all len bytes to fd (a socket, pipe or file), retrying short
 * counts and EINTR and waiting for room when fd is non-blocking.  Never
 * raises SIGPIPE on a socket.  Returns len, or -1 with errno set (EPIPE
 * when the peer has gone).
 */
ssize_t io_write_full(int fd, const void *buf, size_t len);

/*
 * One send that never blocks and never raises SIGPIPE, retrying EINTR.
 * Returns the bytes that went (0 when the socket is full: EAGAIN), or
 * -1 with errno set (EPIPE or ECONNRESET when the peer has gone).
 */
ssize_t io_send_some(int fd, const void *buf, size_t len);

/*
 * Reads until len bytes have arrived or the peer closed.  Returns the
 * number of bytes read (less than len only at end of file), or -1 with
 * errno set.
 */
ssize_t io_read_full(int fd, void *buf, size_t len);

/*
 * One read that retries EINTR: returns what read(2) returns otherwise
 * (0 means the peer closed).
 */
ssize_t io_read_some(int fd, void *buf, size_t len);

#endif
