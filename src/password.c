/* password.c - the room password: loaded with care, compared in constant time.
 */
#include "config.h"

#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "password.h"

static int password_fail(char *err, size_t errsz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
password_fail(char *err, size_t errsz, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
	return -1;
}

int
password_load(const char *path, char **password, char *err, size_t errsz)
{
	char buf[PASSWORD_MAX + 3];
	struct stat st;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY), rc = -1;

	if (fd == -1)
		return password_fail(err, errsz,
		    "cannot read the password file %s: %s", path,
		    strerror(errno));
	if (fstat(fd, &st) == -1) {
		password_fail(err, errsz,
		    "cannot read the password file %s: %s", path,
		    strerror(errno));
		goto out;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		password_fail(err, errsz,
		    "the password file %s may be read by others (mode %03o): chmod 600 %s",
		    path, (unsigned)(st.st_mode & 0777), path);
		goto out;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	if (n == -1) {
		password_fail(err, errsz,
		    "cannot read the password file %s: %s", path,
		    strerror(errno));
		goto out;
	}
	buf[n] = '\0';
	size_t len = strcspn(buf, "\r\n");
	if (len == 0) {
		password_fail(err, errsz,
		    "the password file %s has an empty first line", path);
		goto out;
	}
	if (len > PASSWORD_MAX) {
		password_fail(err, errsz,
		    "the password in %s is longer than %d bytes", path,
		    PASSWORD_MAX);
		goto out;
	}
	if ((*password = strndup(buf, len)) == NULL) {
		password_fail(err, errsz, "%s", strerror(errno));
		goto out;
	}
	rc = 0;
out:
	/* What was read stays nowhere but in the copy. */
	memset(buf, 0, sizeof(buf));
	close(fd);
	return rc;
}

void
password_free(char *password)
{
	if (password == NULL)
		return;
	/* volatile: the zeroing is not optimised away before free. */
	for (volatile char *p = password; *p != '\0'; p++)
		*p = '\0';
	free(password);
}

int
password_matches(const char *password, const char *given, size_t len)
{
	size_t plen = strlen(password);

	if (plen == 0)
		return 0; /* no password is ever matched */
	volatile unsigned char diff = (unsigned char)(plen != len);

	/* Every byte given is looked at, whatever came before it. */
	for (size_t i = 0; i < len; i++)
		diff |= (unsigned char)(given[i] ^ password[i % plen]);
	return diff == 0;
}
