/*
 * password.h - the room password (--password-file): read from a file
 * nobody else may read, and compared in constant time.
 */
#ifndef TCPCHAT_PASSWORD_H
#define TCPCHAT_PASSWORD_H

#include <stddef.h>

/* Room for password_load's error: the path twice and some words. */
#define PASSWORD_ERR_MAX 2048

/* Longest password accepted, in bytes. */
#define PASSWORD_MAX 1024

/*
 * Reads the password: the first line of path, without its line end.
 * Refuses a file readable or writable by group or others, an empty
 * first line, or one longer than PASSWORD_MAX.  Returns 0 with a
 * malloc'd copy in *password (free it with password_free), or -1 with
 * one line of why in err.
 */
int password_load(const char *path, char **password, char *err, size_t errsz);

/* Zeroes and frees a loaded password. */
void password_free(char *password);

/*
 * Whether given (len bytes, a client's line) is the password.  The time
 * taken depends on len only, never on where the two first differ.
 */
int password_matches(const char *password, const char *given, size_t len);

#endif
