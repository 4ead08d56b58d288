/* transcript.c - the --log file of messages and events. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "escape.h"
#include "io.h"
#include "transcript.h"

int
transcript_open(const char *path)
{
	return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
}

int
transcript_write(int fd, uint64_t id, const char *addr, const char *what,
    const char *text, size_t len)
{
	char stack[1024], stamp[32];
	struct timeval tv;
	struct tm tm;
	size_t need, n;
	char *line = stack;
	int rc;

	if (fd == -1)
		return 0;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	need = 128 + strlen(addr) + strlen(what) + ESCAPE_BOUND(len);
	if (need > sizeof(stack) && (line = malloc(need)) == NULL)
		return -1;
	if (id != 0)
		n = (size_t)snprintf(line, need,
		    "%s.%03dZ #%llu %s %s: ", stamp, (int)(tv.tv_usec / 1000),
		    (unsigned long long)id, addr, what);
	else
		n = (size_t)snprintf(line, need, "%s.%03dZ %s: ", stamp,
		    (int)(tv.tv_usec / 1000), what);
	n += escape_render(line + n, text, len);
	line[n++] = '\n';
	/* One write to an O_APPEND file: lines from threads never mix. */
	rc = io_write_full(fd, line, n) == (ssize_t)n ? 0 : -1;
	if (line != stack) {
		int save_errno = errno;
		free(line);
		errno = save_errno;
	}
	return rc;
}
