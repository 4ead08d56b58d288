/* transcript.c - the --log file of messages and events. */
#include "config.h"

#include <sys/stat.h>
#include <sys/uio.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "escape.h"
#include "transcript.h"

/* Records up to this size are assembled on the stack. */
#define TRANSCRIPT_STACK 1024
/* The log's own notes ("12 records lost ..."), at most. */
#define TRANSCRIPT_NOTE 256
/* A file that cannot be opened again is retried this often at most. */
#define TRANSCRIPT_RETRY_MS 1000

struct transcript {
	char *path;
	transcript_report_fn report;
	void *ctx;
	pthread_mutex_t lock; /* guards everything below */
	int fd;
	int regular; /* a regular file: checked, and cut back after a tear */
	dev_t dev; /* what was opened at path */
	ino_t ino;
	int torn; /* the file ends inside a record: a newline goes first */
	int failing; /* in an outage (reported) */
	int fail_err; /* its errno */
	uint64_t lost; /* records lost in this outage */
	int reopen_failed; /* reported; retried at most once a second */
	uint64_t reopen_retry_ms;
};

/* Tells the report callback. */
static void
transcript_tell(
    struct transcript *t, enum transcript_event event, int err, const char *why)
{
	struct transcript_report r = {event, err, t->lost, why};

	if (t->report != NULL)
		t->report(t->ctx, t->path, &r);
}

/* Notes what was opened, for transcript_check. */
static void
transcript_stat(struct transcript *t)
{
	struct stat st;

	t->regular = fstat(t->fd, &st) == 0 && S_ISREG(st.st_mode);
	t->dev = t->regular ? st.st_dev : 0;
	t->ino = t->regular ? st.st_ino : 0;
}

static int
transcript_open_path(const char *path)
{
	return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
}

struct transcript *
transcript_open(const char *path, transcript_report_fn report, void *ctx)
{
	struct transcript *t = calloc(1, sizeof(*t));

	if (t == NULL || (t->path = strdup(path)) == NULL)
		goto fail;
	if ((t->fd = transcript_open_path(path)) == -1)
		goto fail;
	t->report = report;
	t->ctx = ctx;
	transcript_stat(t);
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

/* A note of the log's own ("TIME log: TEXT") into note.  Its length. */
static size_t
transcript_note(char *note, const char *text)
{
	size_t n = strnlen(text, TRANSCRIPT_NOTE / 2);

	return transcript_format(note, TRANSCRIPT_NOTE, 0, "", "log", text, n);
}

/*
 * Writes iov in one go, short counts continued.  Returns the bytes
 * written (less than total only on error, errno set).
 */
static size_t
transcript_writev(int fd, struct iovec *iov, int cnt, size_t total)
{
	size_t done = 0;

	while (done < total) {
		ssize_t n = writev(fd, iov, cnt);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = ENOSPC;
			break;
		}
		done += (size_t)n;
		/* Past what went: the rest of a short write. */
		while (cnt > 0 && (size_t)n >= iov->iov_len) {
			n -= (ssize_t)iov->iov_len;
			iov++;
			cnt--;
		}
		if (cnt > 0) {
			iov->iov_base = (char *)iov->iov_base + n;
			iov->iov_len -= (size_t)n;
		}
	}
	return done;
}

/*
 * A write that went only part of the way: the part is cut off again, so
 * the file holds whole records only; where it cannot be (not a regular
 * file), the record stays torn and the next one starts on a new line.
 */
static void
transcript_untear(struct transcript *t, const char *last, size_t written)
{
	off_t end;

	if (written == 0)
		return;
	if (t->regular && (end = lseek(t->fd, 0, SEEK_END)) >= (off_t)written &&
	    ftruncate(t->fd, end - (off_t)written) == 0)
		return;
	t->torn = *last != '\n';
}

/*
 * Writes one record, whole or not at all, with what an outage owes the
 * file first: the newline a torn record lacks, the note of what was
 * lost.  Keeps the outage's account.  0, or -1 with errno set.
 */
static int
transcript_put(struct transcript *t, const char *rec, size_t len)
{
	char note[TRANSCRIPT_NOTE], text[TRANSCRIPT_NOTE / 2];
	struct iovec iov[3], *v = iov;
	size_t total = 0, written;

	if (t->torn)
		*v++ = (struct iovec){(void *)"\n", 1};
	if (t->failing) {
		snprintf(text, sizeof(text), "%llu records lost (%s)",
		    (unsigned long long)t->lost, strerror(t->fail_err));
		*v = (struct iovec){note, transcript_note(note, text)};
		v++;
	}
	*v++ = (struct iovec){(void *)rec, len};
	int cnt = (int)(v - iov);
	struct iovec sent[3]; /* transcript_writev moves iov along */
	memcpy(sent, iov, (size_t)cnt * sizeof(*iov));
	for (int i = 0; i < cnt; i++)
		total += iov[i].iov_len;
	written = transcript_writev(t->fd, iov, cnt, total);
	if (written == total) {
		t->torn = 0;
		if (t->failing) {
			transcript_tell(t, TRANSCRIPT_RECOVERED, 0, NULL);
			t->failing = 0;
			t->lost = 0;
		}
		return 0;
	}
	int err = errno;
	/* The last byte that went: where a torn file would now end. */
	const char *last = "\n";
	size_t at = written;
	for (int i = 0; i < cnt && at > 0; i++) {
		if (at <= sent[i].iov_len)
			last = (const char *)sent[i].iov_base + at - 1;
		at = at <= sent[i].iov_len ? 0 : at - sent[i].iov_len;
	}
	transcript_untear(t, last, written);
	t->lost++;
	if (!t->failing) {
		t->failing = 1;
		t->fail_err = err;
		transcript_tell(t, TRANSCRIPT_FAILING, err, NULL);
	}
	errno = err;
	return -1;
}

/* Opens the file at the path again, with t->lock held.  0, or -1. */
static int
transcript_reopen_locked(struct transcript *t, const char *why)
{
	char note[TRANSCRIPT_NOTE], text[TRANSCRIPT_NOTE / 2];
	int fd = transcript_open_path(t->path);

	if (fd == -1) {
		int err = errno;
		t->reopen_retry_ms = clock_now_ms() + TRANSCRIPT_RETRY_MS;
		if (!t->reopen_failed)
			transcript_tell(t, TRANSCRIPT_REOPEN_FAILED, err, why);
		t->reopen_failed = 1;
		errno = err;
		return -1;
	}
	close(t->fd);
	t->fd = fd;
	t->torn = 0;
	t->reopen_failed = 0;
	transcript_stat(t);
	transcript_tell(t, TRANSCRIPT_REOPENED, 0, why);
	snprintf(text, sizeof(text), "reopened (%s)", why);
	(void)transcript_put(t, note, transcript_note(note, text));
	return 0;
}

/*
 * The file deleted (no link left) or replaced (another file at the
 * path) while open: records would go where nobody sees them, so it is
 * opened again.  A file renamed away (nothing at the path) keeps them
 * until SIGHUP, as logrotate expects.  With t->lock held.
 */
static void
transcript_check(struct transcript *t)
{
	struct stat st;

	if (!t->regular ||
	    (t->reopen_failed && clock_now_ms() < t->reopen_retry_ms))
		return;
	/* Replaced first: the file it replaced has no link left either. */
	if (stat(t->path, &st) == 0 &&
	    (st.st_dev != t->dev || st.st_ino != t->ino))
		(void)transcript_reopen_locked(
		    t, "another file took its place");
	else if (fstat(t->fd, &st) == 0 && st.st_nlink == 0)
		(void)transcript_reopen_locked(t, "the file was deleted");
}

static int __attribute__((noinline))
transcript_record(struct transcript *t, uint64_t id, const char *addr,
    const char *what, const char *text, size_t len)
{
	char stack[TRANSCRIPT_STACK];
	size_t need, n;
	char *line = stack;
	int rc;

	need = 128 + strlen(addr) + strlen(what) + ESCAPE_BOUND(len);
	if (need > sizeof(stack) && (line = malloc(need)) == NULL) {
		pthread_mutex_lock(&t->lock);
		t->lost++;
		if (!t->failing) {
			t->failing = 1;
			t->fail_err = ENOMEM;
			transcript_tell(t, TRANSCRIPT_FAILING, ENOMEM, NULL);
		}
		pthread_mutex_unlock(&t->lock);
		errno = ENOMEM;
		return -1;
	}
	n = transcript_format(line, need, id, addr, what, text, len);
	pthread_mutex_lock(&t->lock);
	transcript_check(t);
	rc = transcript_put(t, line, n);
	int err = errno;
	pthread_mutex_unlock(&t->lock);
	if (line != stack)
		free(line);
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

int
transcript_reopen(struct transcript *t, const char *why)
{
	pthread_mutex_lock(&t->lock);
	int rc = transcript_reopen_locked(t, why);
	int err = errno;
	pthread_mutex_unlock(&t->lock);
	errno = err;
	return rc;
}

void
transcript_finish(struct transcript *t)
{
	if (t == NULL)
		return;
	pthread_mutex_lock(&t->lock);
	if (t->failing)
		transcript_tell(t, TRANSCRIPT_STILL_FAILING, t->fail_err, NULL);
	pthread_mutex_unlock(&t->lock);
}
