/*
 * bench-json.h - a small strict JSON parser (RFC 8259) for reading
 * tcpchat-bench's own documents back (--merge).  Pure: it works on a
 * buffer with an explicit length and makes no syscalls.  Numbers keep
 * the text they were written with, so 64-bit counts come back exact.
 */
#ifndef TCPCHAT_BENCH_JSON_H
#define TCPCHAT_BENCH_JSON_H

#include <stddef.h>
#include <stdint.h>

/* Nesting deeper than this is refused (our documents use 5). */
#define BENCH_JSON_MAX_DEPTH 32

enum bench_json_type {
	BENCH_JSON_NULL,
	BENCH_JSON_FALSE,
	BENCH_JSON_TRUE,
	BENCH_JSON_NUMBER,
	BENCH_JSON_STRING,
	BENCH_JSON_ARRAY,
	BENCH_JSON_OBJECT
};

struct bench_json {
	enum bench_json_type type;
	char *text; /* a string, unescaped (UTF-8), or a number as written */
	char *key; /* the member's name, when in an object */
	struct bench_json *items; /* an array's elements, an object's members */
	size_t len;
};

/*
 * Parses the len bytes at text: one value, with only white space
 * around it.  An object with a key twice is refused.  0 with *root set
 * (free it with bench_json_free), or -1 with the reason and the byte
 * offset in why.
 */
int bench_json_parse(const char *text, size_t len, struct bench_json **root,
    char *why, size_t whylen);

/* Frees a tree from bench_json_parse (NULL is fine). */
void bench_json_free(struct bench_json *v);

/* The member key of object v, or NULL (v not an object, or no key). */
const struct bench_json *bench_json_get(
    const struct bench_json *v, const char *key);

/* v as a whole number 0 to 2^64-1.  0, or -1 when it is not one. */
int bench_json_u64(const struct bench_json *v, uint64_t *value);

/* v as a number.  0, or -1 when it is not one. */
int bench_json_real(const struct bench_json *v, double *value);

/* v's text when it is a string, else NULL. */
const char *bench_json_string(const struct bench_json *v);

#endif
