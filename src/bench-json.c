/* bench-json.c - a small strict JSON parser (see bench-json.h). */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench-json.h"

struct bench_json_parser {
	const char *text;
	size_t len;
	size_t pos;
	char *why;
	size_t whylen;
	int failed;
};

static int bench_json_fail(struct bench_json_parser *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Records the first error, with where it is.  Returns -1. */
static int
bench_json_fail(struct bench_json_parser *p, const char *fmt, ...)
{
	char what[128];
	va_list ap;

	if (p->failed)
		return -1;
	p->failed = 1;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(p->why, p->whylen, "%s at byte %zu", what, p->pos);
	return -1;
}

static void
bench_json_skip_space(struct bench_json_parser *p)
{
	while (p->pos < p->len &&
	    (p->text[p->pos] == ' ' || p->text[p->pos] == '\t' ||
	        p->text[p->pos] == '\n' || p->text[p->pos] == '\r'))
		p->pos++;
}

/* The next byte, or -1 at the end. */
static int
bench_json_peek(const struct bench_json_parser *p)
{
	return p->pos < p->len ? (unsigned char)p->text[p->pos] : -1;
}

static int
bench_json_digit(int ch)
{
	return ch >= '0' && ch <= '9';
}

/* A copy of len bytes at s, NUL-terminated; NULL when out of memory. */
static char *
bench_json_copy(const char *s, size_t len)
{
	char *copy = malloc(len + 1);

	if (copy != NULL) {
		memcpy(copy, s, len);
		copy[len] = '\0';
	}
	return copy;
}

/* A number, checked against JSON's grammar.  0 or -1. */
static int
bench_json_number(struct bench_json_parser *p, struct bench_json *v)
{
	size_t start = p->pos;

	if (bench_json_peek(p) == '-')
		p->pos++;
	if (bench_json_peek(p) == '0')
		p->pos++;
	else if (bench_json_digit(bench_json_peek(p)))
		while (bench_json_digit(bench_json_peek(p)))
			p->pos++;
	else
		return bench_json_fail(p, "bad number");
	if (bench_json_peek(p) == '.') {
		p->pos++;
		if (!bench_json_digit(bench_json_peek(p)))
			return bench_json_fail(p, "bad number");
		while (bench_json_digit(bench_json_peek(p)))
			p->pos++;
	}
	if (bench_json_peek(p) == 'e' || bench_json_peek(p) == 'E') {
		p->pos++;
		if (bench_json_peek(p) == '+' || bench_json_peek(p) == '-')
			p->pos++;
		if (!bench_json_digit(bench_json_peek(p)))
			return bench_json_fail(p, "bad number");
		while (bench_json_digit(bench_json_peek(p)))
			p->pos++;
	}
	v->type = BENCH_JSON_NUMBER;
	v->text = bench_json_copy(p->text + start, p->pos - start);
	return v->text == NULL ? bench_json_fail(p, "out of memory") : 0;
}

/* Four hex digits of a \u escape.  The value, or -1. */
static long
bench_json_hex4(struct bench_json_parser *p)
{
	long value = 0;

	if (p->len - p->pos < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		char ch = p->text[p->pos++];
		value <<= 4;
		if (ch >= '0' && ch <= '9')
			value |= ch - '0';
		else if (ch >= 'a' && ch <= 'f')
			value |= ch - 'a' + 10;
		else if (ch >= 'A' && ch <= 'F')
			value |= ch - 'A' + 10;
		else
			return -1;
	}
	return value;
}

/* Appends code point cp as UTF-8 at out; the bytes written. */
static size_t
bench_json_utf8(char *out, unsigned long cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | cp >> 12);
		out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | cp >> 18);
	out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* One \ escape, its UTF-8 appended at out.  The bytes written, or -1. */
static int
bench_json_escape(struct bench_json_parser *p, char *out)
{
	static const char plain[] = "\"\\/bfnrt", meant[] = "\"\\/\b\f\n\r\t";
	const char *which;
	long cp, low;

	if (p->pos >= p->len)
		return bench_json_fail(p, "unfinished string");
	char ch = p->text[p->pos++];
	if (ch != 'u') {
		if (ch == '\0' || (which = strchr(plain, ch)) == NULL)
			return bench_json_fail(p, "bad escape");
		*out = meant[which - plain];
		return 1;
	}
	if ((cp = bench_json_hex4(p)) < 0)
		return bench_json_fail(p, "bad \\u escape");
	if (cp >= 0xdc00 && cp <= 0xdfff)
		return bench_json_fail(p, "lone low surrogate");
	if (cp >= 0xd800 && cp <= 0xdbff) {
		if (p->len - p->pos < 2 || p->text[p->pos] != '\\' ||
		    p->text[p->pos + 1] != 'u')
			return bench_json_fail(p, "lone high surrogate");
		p->pos += 2;
		low = bench_json_hex4(p);
		if (low < 0xdc00 || low > 0xdfff)
			return bench_json_fail(p, "bad surrogate pair");
		cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
	}
	return (int)bench_json_utf8(out, (unsigned long)cp);
}

/* A string (the opening quote is next) into *text.  0 or -1. */
static int
bench_json_text(struct bench_json_parser *p, char **text)
{
	size_t start = ++p->pos, n = 0;
	char *out;

	/* Unescaping never makes a string longer than it was written. */
	while (p->pos < p->len && p->text[p->pos] != '"')
		p->pos += p->text[p->pos] == '\\' ? 2 : 1;
	if (p->pos >= p->len)
		return bench_json_fail(p, "unfinished string");
	size_t end = p->pos;
	if ((out = malloc(end - start + 1)) == NULL)
		return bench_json_fail(p, "out of memory");
	for (p->pos = start; p->pos < end;) {
		unsigned char ch = (unsigned char)p->text[p->pos++];
		if (ch < 0x20) {
			free(out);
			return bench_json_fail(p, "control byte in a string");
		}
		if (ch != '\\') {
			out[n++] = (char)ch;
			continue;
		}
		int got = bench_json_escape(p, out + n);
		if (got < 0 || p->pos > end) {
			free(out);
			return bench_json_fail(p, "bad escape");
		}
		n += (size_t)got;
	}
	p->pos = end + 1;
	out[n] = '\0';
	*text = out;
	return 0;
}

/* A literal word (true, false, null).  0 or -1. */
static int
bench_json_word(struct bench_json_parser *p, const char *word,
    enum bench_json_type type, struct bench_json *v)
{
	size_t n = strlen(word);

	if (p->len - p->pos < n || memcmp(p->text + p->pos, word, n) != 0)
		return bench_json_fail(p, "unexpected character");
	p->pos += n;
	v->type = type;
	return 0;
}

static int bench_json_value(
    struct bench_json_parser *p, struct bench_json *v, int depth);

/* Makes room for one more item in v.  The new item, or NULL. */
static struct bench_json *
bench_json_push(struct bench_json_parser *p, struct bench_json *v, size_t *room)
{
	if (v->len == *room) {
		size_t more = *room == 0 ? 4 : *room * 2;
		struct bench_json *items =
		    realloc(v->items, more * sizeof(*items));
		if (items == NULL) {
			bench_json_fail(p, "out of memory");
			return NULL;
		}
		v->items = items;
		*room = more;
	}
	memset(&v->items[v->len], 0, sizeof(v->items[0]));
	return &v->items[v->len++];
}

/* An array or an object (its opening bracket is next).  0 or -1. */
static int
bench_json_container(
    struct bench_json_parser *p, struct bench_json *v, int depth)
{
	int object = bench_json_peek(p) == '{';
	char close = object ? '}' : ']';
	size_t room = 0;

	if (depth >= BENCH_JSON_MAX_DEPTH)
		return bench_json_fail(p, "nested too deeply");
	v->type = object ? BENCH_JSON_OBJECT : BENCH_JSON_ARRAY;
	p->pos++;
	bench_json_skip_space(p);
	if (bench_json_peek(p) == close) {
		p->pos++;
		return 0;
	}
	for (;;) {
		char *key = NULL;
		bench_json_skip_space(p);
		if (object) {
			if (bench_json_peek(p) != '"')
				return bench_json_fail(p, "expected a key");
			if (bench_json_text(p, &key) == -1)
				return -1;
			if (bench_json_get(v, key) != NULL) {
				bench_json_fail(p, "key \"%.40s\" twice", key);
				free(key);
				return -1;
			}
			bench_json_skip_space(p);
			if (bench_json_peek(p) != ':') {
				free(key);
				return bench_json_fail(p, "expected ':'");
			}
			p->pos++;
		}
		struct bench_json *item = bench_json_push(p, v, &room);
		if (item == NULL) {
			free(key);
			return -1;
		}
		item->key = key;
		if (bench_json_value(p, item, depth + 1) == -1)
			return -1;
		bench_json_skip_space(p);
		int ch = bench_json_peek(p);
		p->pos++;
		if (ch == close)
			return 0;
		if (ch != ',') {
			p->pos--;
			return bench_json_fail(
			    p, "expected ',' or '%c'", close);
		}
	}
}

static int
bench_json_value(struct bench_json_parser *p, struct bench_json *v, int depth)
{
	bench_json_skip_space(p);
	switch (bench_json_peek(p)) {
	case '{':
	case '[':
		return bench_json_container(p, v, depth);
	case '"':
		v->type = BENCH_JSON_STRING;
		return bench_json_text(p, &v->text);
	case 't':
		return bench_json_word(p, "true", BENCH_JSON_TRUE, v);
	case 'f':
		return bench_json_word(p, "false", BENCH_JSON_FALSE, v);
	case 'n':
		return bench_json_word(p, "null", BENCH_JSON_NULL, v);
	case -1:
		return bench_json_fail(p, "unexpected end");
	default:
		return bench_json_number(p, v);
	}
}

/* Frees what v holds (not v itself). */
static void
bench_json_clear(struct bench_json *v)
{
	for (size_t i = 0; i < v->len; i++)
		bench_json_clear(&v->items[i]);
	free(v->items);
	free(v->text);
	free(v->key);
}

void
bench_json_free(struct bench_json *v)
{
	if (v == NULL)
		return;
	bench_json_clear(v);
	free(v);
}

int
bench_json_parse(const char *text, size_t len, struct bench_json **root,
    char *why, size_t whylen)
{
	struct bench_json_parser p = {
	    .text = text, .len = len, .why = why, .whylen = whylen};
	struct bench_json *v = calloc(1, sizeof(*v));

	if (v == NULL) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	if (bench_json_value(&p, v, 0) == 0) {
		bench_json_skip_space(&p);
		if (p.pos != p.len)
			bench_json_fail(&p, "more after the document");
	}
	if (p.failed) {
		bench_json_free(v);
		return -1;
	}
	*root = v;
	return 0;
}

const struct bench_json *
bench_json_get(const struct bench_json *v, const char *key)
{
	if (v == NULL || v->type != BENCH_JSON_OBJECT)
		return NULL;
	for (size_t i = 0; i < v->len; i++)
		if (strcmp(v->items[i].key, key) == 0)
			return &v->items[i];
	return NULL;
}

int
bench_json_u64(const struct bench_json *v, uint64_t *value)
{
	char *end;
	unsigned long long n;

	if (v == NULL || v->type != BENCH_JSON_NUMBER ||
	    !bench_json_digit((unsigned char)v->text[0]))
		return -1;
	errno = 0;
	n = strtoull(v->text, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*value = n;
	return 0;
}

int
bench_json_real(const struct bench_json *v, double *value)
{
	if (v == NULL || v->type != BENCH_JSON_NUMBER)
		return -1;
	*value = strtod(v->text, NULL);
	return 0;
}

const char *
bench_json_string(const struct bench_json *v)
{
	return v != NULL && v->type == BENCH_JSON_STRING ? v->text : NULL;
}
