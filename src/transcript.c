/* transcript.c - the --log file of messages and events. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "escape.h"
#include "io.h"
#include "transcript.h"

/* Records up to this size are assembled on the stack. */
#define TRANSCRIPT_STACK 1024

struct transcript {
	char *path;
	transcript_report_fn report;
	void *ctx;
	pthread_mutex_t lock; /* guards everything below */
	int fd;
	int failed; /* a write failed and was reported */
};

struct transcript *
transcript_open(const char *path, transcript_report_fn report, void *ctx)
{
	struct transcript *t = calloc(1, sizeof(*t));

	if (t == NULL || (t->path = strdup(path)) == NULL)
		goto fail;
	t->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (t->fd == -1)
		goto fail;
	t->report = report;
	t->ctx = ctx;
	pthread_mutex_init(&t->lock, NULL);
	return t;
fail:
	if (t != NULL) {
		int save_errno = errno;
		free(t->path);
		free(t);
		errno = save_errno;
	}
	return NULL;
}

void
transcript_close(struct transcript *t)
{
	if (t == NULL)
		return;
	close(t->fd);
	pthread_mutex_destroy(&t->lock);
	free(t->path);
	free(t);
}

/* Formats the record into line (need bytes).  Returns its length. */
static size_t
transcript_format(char *line, size_t need, uint64_t id, const char *addr,
    const char *what, const char *text, size_t len)
{
	char stamp[32];
	struct timeval tv;
	struct tm tm;
	size_t n;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	if (id != 0)
		n = (size_t)snprintf(line, need,
		    "%s.%03dZ #%llu %s %s: ", stamp, (int)(tv.tv_usec / 1000),
		    (unsigned long long)id, addr, what);
	else
		n = (size_t)snprintf(line, need, "%s.%03dZ %s: ", stamp,
		    (int)(tv.tv_usec / 1000), what);
	n += escape_render_flags(line + n, text, len, ESCAPE_BACKSLASH);
	line[n++] = '\n';
	return n;
}

static int __attribute__((noinline))
transcript_record(struct transcript *t, uint64_t id, const char *addr,
    const char *what, const char *text, size_t len)
{
	char stack[TRANSCRIPT_STACK];
	size_t need, n;
	char *line = stack;
	int rc, err = 0, report = 0;

	need = 128 + strlen(addr) + strlen(what) + ESCAPE_BOUND(len);
	if (need > sizeof(stack) && (line = malloc(need)) == NULL)
		return -1;
	n = transcript_format(line, need, id, addr, what, text, len);
	pthread_mutex_lock(&t->lock);
	/* One write to an O_APPEND file: records never mix. */
	rc = io_write_full(t->fd, line, n) == (ssize_t)n ? 0 : -1;
	if (rc == -1) {
		err = errno;
		report = !t->failed;
		t->failed = 1;
	}
	pthread_mutex_unlock(&t->lock);
	if (line != stack)
		free(line);
	if (report && t->report != NULL)
		t->report(t->ctx, t->path, err);
	errno = err;
	return rc;
}

int
transcript_write(struct transcript *t, uint64_t id, const char *addr,
    const char *what, const char *text, size_t len)
{
	/*
	 * Without a log, no frame with a record buffer: a session thread's
	 * stack stays two pages deep (see session.c).
	 */
	if (t == NULL)
		return 0;
	return transcript_record(t, id, addr, what, text, len);
}
