/*
 * check_transcript.c - the --log transcript when the file fails: a full
 * filesystem (a 64 KiB tmpfs, when root), a file size limit that makes
 * writes short, the file deleted, replaced or renamed away.  Every line
 * in the file must be whole, every outage and recovery reported, and
 * the records written plus those reported lost must be all there were.
 */
#include "config.h"

#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"
#include "transcript.h"

#define REPORTS_MAX 64

/* What the transcript reported, in order. */
struct reports {
	int n;
	struct transcript_report r[REPORTS_MAX];
	char why[REPORTS_MAX][64];
};

static void
on_report(void *ctx, const char *path, const struct transcript_report *r)
{
	struct reports *rs = ctx;

	(void)path;
	ck_assert_int_lt(rs->n, REPORTS_MAX);
	rs->r[rs->n] = *r;
	snprintf(rs->why[rs->n], sizeof(rs->why[0]), "%s",
	    r->why != NULL ? r->why : "");
	rs->r[rs->n].why = rs->why[rs->n];
	rs->n++;
}

#define dir_make(dir, size) testutil_tmpdir(dir, size, "check_transcript")

/* Reads a whole file into a malloc'd, NUL-terminated buffer. */
static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *buf = malloc(1 << 20);

	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(buf);
	*len = fread(buf, 1, (1 << 20) - 1, f);
	buf[*len] = '\0';
	fclose(f);
	return buf;
}

/*
 * Every line of the file is a whole record: a time stamp, then either
 * "#1 ADDR in: record N padding" (counted in *records) or a note of
 * the log's own ("log: ...", counted in *notes, lost counts summed in
 * *noted_lost), and the file ends with a newline.
 */
static void
check_whole(const char *path, int *records, int *notes, uint64_t *noted_lost)
{
	size_t len;
	char *buf = slurp(path, &len);
	int lineno = 0;

	*records = *notes = 0;
	*noted_lost = 0;
	ck_assert_msg(
	    len == 0 || buf[len - 1] == '\n', "%s ends mid-record", path);
	for (char *line = buf, *end; *line != '\0'; line = end + 1) {
		end = strchr(line, '\n');
		*end = '\0';
		lineno++;
		ck_assert_msg(strlen(line) > 25 && line[4] == '-' &&
		        line[10] == 'T' && line[23] == 'Z' && line[24] == ' ',
		    "line %d has no time stamp: %.200s", lineno, line);
		const char *rest = line + 25;
		unsigned long long lost;
		int n;
		if (sscanf(rest, "log: %llu records lost", &lost) == 1) {
			(*notes)++;
			*noted_lost += lost;
		} else if (strncmp(rest, "log: reopened (", 15) == 0) {
			(*notes)++;
		} else {
			char pad[512];
			ck_assert_msg(
			    sscanf(rest, "#1 127.0.0.1:9 in: record %d %511s",
			        &n, pad) == 2 &&
			        strlen(pad) == 150,
			    "line %d torn: %.300s", lineno, line);
			(*records)++;
		}
	}
	free(buf);
}

/* Writes record number i: about 200 bytes. */
static int
put(struct transcript *t, int i)
{
	char text[200];
	int n = snprintf(text, sizeof(text), "record %d ", i);

	memset(text + n, 'p', 150);
	return transcript_write(
	    t, 1, "127.0.0.1:9", "in", text, (size_t)n + 150);
}

/* Writes records until one fails; returns how many went. */
static int
fill(struct transcript *t, int *next)
{
	int ok = 0;

	while (*next < 100000 && put(t, (*next)++) == 0)
		ok++;
	return ok;
}

/* Makes a file of size bytes (on a small filesystem: takes its room). */
static void
make_filler(const char *path, size_t size)
{
	char *buf = calloc(1, size);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	ck_assert_ptr_nonnull(buf);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, buf, size), (ssize_t)size);
	close(fd);
	free(buf);
}

START_TEST(test_full_filesystem)
{
	char dir[64], path[96], fill_a[96], fill_b[96];
	struct reports rs = {0};
	int next = 0, written = 0, records, notes;
	uint64_t noted_lost, reported_lost = 0;

	if (geteuid() != 0) {
		fprintf(stderr,
		    "check_transcript: not root: cannot mount a small "
		    "tmpfs, the full-filesystem test is skipped\n");
		return;
	}
	dir_make(dir, sizeof(dir));
	if (mount("tmpfs", dir, "tmpfs", 0, "size=64k") == -1) {
		fprintf(stderr,
		    "check_transcript: mount -t tmpfs -o size=64k: %s: the "
		    "full-filesystem test is skipped\n",
		    strerror(errno));
		rmdir(dir);
		return;
	}
	snprintf(path, sizeof(path), "%s/log", dir);
	snprintf(fill_a, sizeof(fill_a), "%s/a", dir);
	snprintf(fill_b, sizeof(fill_b), "%s/b", dir);
	/* Two fillers: one freed to end each outage. */
	make_filler(fill_a, 16384);
	make_filler(fill_b, 16384);
	struct transcript *t = transcript_open(path, on_report, &rs);
	ck_assert_ptr_nonnull(t);
	for (int outage = 0; outage < 2; outage++) {
		written += fill(t, &next);
		/* The first failure is reported, once, with its cause. */
		ck_assert_int_eq(rs.n, 2 * outage + 1);
		ck_assert_int_eq(rs.r[rs.n - 1].event, TRANSCRIPT_FAILING);
		ck_assert_int_eq(rs.r[rs.n - 1].err, ENOSPC);
		/* More lost while the disk is full: nothing more said. */
		for (int i = 0; i < 20; i++)
			ck_assert_int_eq(put(t, next++), -1);
		ck_assert_int_eq(rs.n, 2 * outage + 1);
		ck_assert_int_eq(unlink(outage == 0 ? fill_a : fill_b), 0);
		ck_assert_int_eq(put(t, next++), 0);
		written++;
		/* The recovery, with all it lost: the failed one and 20. */
		ck_assert_int_eq(rs.n, 2 * outage + 2);
		ck_assert_int_eq(rs.r[rs.n - 1].event, TRANSCRIPT_RECOVERED);
		ck_assert_uint_eq(rs.r[rs.n - 1].lost, 21);
		reported_lost += rs.r[rs.n - 1].lost;
	}
	transcript_close(t);
	check_whole(path, &records, &notes, &noted_lost);
	printf("check_transcript: 64 KiB tmpfs: %d records attempted, %d "
	       "written, %llu lost in 2 outages, %d notes in the file\n",
	    next, records, (unsigned long long)reported_lost, notes);
	ck_assert_int_eq(records, written);
	ck_assert_int_eq(notes, 2);
	ck_assert_uint_eq(noted_lost, reported_lost);
	ck_assert_uint_eq((uint64_t)records + reported_lost, (uint64_t)next);
	ck_assert_int_eq(umount(dir), 0);
	rmdir(dir);
}
END_TEST

/* A file size limit makes the write that crosses it short. */
START_TEST(test_short_writes_cut_back)
{
	char dir[64], path[96];
	struct reports rs = {0};
	struct rlimit rl = {10000, RLIM_INFINITY};
	int next = 0, written, records, notes;
	uint64_t noted_lost;

	/* Past the limit write() fails with EFBIG instead of a signal. */
	signal(SIGXFSZ, SIG_IGN);
	dir_make(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/log", dir);
	struct transcript *t = transcript_open(path, on_report, &rs);
	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
	written = fill(t, &next);
	ck_assert_int_eq(rs.n, 1);
	ck_assert_int_eq(rs.r[0].event, TRANSCRIPT_FAILING);
	ck_assert_int_eq(rs.r[0].err, EFBIG);
	/* The record that went only part of the way was cut off again. */
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_lt(st.st_size, 10000);
	check_whole(path, &records, &notes, &noted_lost);
	ck_assert_int_eq(records, written);
	rl.rlim_cur = RLIM_INFINITY;
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
	ck_assert_int_eq(put(t, next++), 0);
	ck_assert_int_eq(rs.n, 2);
	ck_assert_int_eq(rs.r[1].event, TRANSCRIPT_RECOVERED);
	ck_assert_uint_eq(rs.r[1].lost, 1);
	transcript_close(t);
	check_whole(path, &records, &notes, &noted_lost);
	ck_assert_int_eq(records, written + 1);
	ck_assert_int_eq(notes, 1);
	ck_assert_uint_eq(noted_lost, 1);
	unlink(path);
	rmdir(dir);
}
END_TEST

/* Deleted, replaced: opened again at the path, said, nothing lost. */
START_TEST(test_deleted_and_replaced)
{
	char dir[64], path[96], other[96];
	struct reports rs = {0};
	int records, notes;
	uint64_t noted_lost;

	dir_make(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/log", dir);
	snprintf(other, sizeof(other), "%s/other", dir);
	struct transcript *t = transcript_open(path, on_report, &rs);
	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(put(t, 0), 0);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(put(t, 1), 0);
	ck_assert_int_eq(rs.n, 1);
	ck_assert_int_eq(rs.r[0].event, TRANSCRIPT_REOPENED);
	ck_assert_str_eq(rs.r[0].why, "the file was deleted");
	check_whole(path, &records, &notes, &noted_lost);
	ck_assert_int_eq(records, 1);
	ck_assert_int_eq(notes, 1);
	/* Another file put in its place. */
	make_filler(other, 0);
	ck_assert_int_eq(rename(other, path), 0);
	ck_assert_int_eq(put(t, 2), 0);
	ck_assert_int_eq(rs.n, 2);
	ck_assert_int_eq(rs.r[1].event, TRANSCRIPT_REOPENED);
	ck_assert_str_eq(rs.r[1].why, "another file took its place");
	check_whole(path, &records, &notes, &noted_lost);
	ck_assert_int_eq(records, 1);
	ck_assert_int_eq(notes, 1);
	transcript_close(t);
	unlink(path);
	rmdir(dir);
}
END_TEST

/* Renamed away (logrotate): records follow it until reopened. */
START_TEST(test_renamed_then_reopened)
{
	char dir[64], path[96], old[96];
	struct reports rs = {0};
	int records, notes;
	uint64_t noted_lost;

	dir_make(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/log", dir);
	snprintf(old, sizeof(old), "%s/log.1", dir);
	struct transcript *t = transcript_open(path, on_report, &rs);
	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(put(t, 0), 0);
	ck_assert_int_eq(rename(path, old), 0);
	ck_assert_int_eq(put(t, 1), 0);
	ck_assert_int_eq(rs.n, 0);
	ck_assert_int_eq(transcript_reopen(t, "SIGHUP"), 0);
	ck_assert_int_eq(rs.n, 1);
	ck_assert_str_eq(rs.r[0].why, "SIGHUP");
	ck_assert_int_eq(put(t, 2), 0);
	transcript_close(t);
	check_whole(old, &records, &notes, &noted_lost);
	ck_assert_int_eq(records, 2);
	check_whole(path, &records, &notes, &noted_lost);
	ck_assert_int_eq(records, 1);
	ck_assert_int_eq(notes, 1);
	unlink(path);
	unlink(old);
	rmdir(dir);
}
END_TEST

static Suite *
transcript_suite(void)
{
	Suite *s = suite_create("transcript");
	TCase *tc;

	tc = tcase_create("outages");
	tcase_add_test(tc, test_full_filesystem);
	tcase_add_test(tc, test_short_writes_cut_back);
	suite_add_tcase(s, tc);

	tc = tcase_create("reopening");
	tcase_add_test(tc, test_deleted_and_replaced);
	tcase_add_test(tc, test_renamed_then_reopened);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(transcript_suite());
	int failed;

	/* Limits and mounts stay in each test's own process. */
	srunner_set_fork_status(sr, CK_FORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
