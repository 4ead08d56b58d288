/*
 * fuzz_telnet.c - libFuzzer target for the telnet filter.  The input is
 * cut into chunks at points it chooses and filtered; whatever the bytes,
 * the data and replies are the same as for the input whole (the state
 * carries across any cut), no call keeps more than it was given or
 * answers more than TELNET_REPLY_BOUND, every reply is a refusal
 * (IAC WONT x or IAC DONT x), and the data quoted as telnet sends it
 * (IAC doubled, a CR at the end or before NUL as CR NUL) comes back
 * exactly, with no reply.  A broken property aborts.
 *
 * Input: records of one control byte (low 5 bits: chunk length)
 * followed by the chunk.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "telnet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_TELNET_CHUNK_MASK 0x1f

static void
fuzz_telnet_fail(const char *what)
{
	fprintf(stderr, "fuzz_telnet: property broken: %s\n", what);
	abort();
}

/* What a run left and answered. */
struct fuzz_telnet_out {
	unsigned char *data;
	size_t len;
	unsigned char *reply;
	size_t reply_len;
};

/* Filters in[0..len) cut at cuts (ncuts of them, ascending) into out. */
static void
fuzz_telnet_run(const unsigned char *in, size_t len, const size_t *cuts,
    size_t ncuts, struct fuzz_telnet_out *out)
{
	struct telnet t;
	unsigned char *reply = malloc(TELNET_REPLY_BOUND(len) + 1);
	size_t from = 0, reply_len;

	if (reply == NULL)
		abort();
	telnet_init(&t);
	out->len = out->reply_len = 0;
	for (size_t i = 0; i <= ncuts; i++) {
		size_t to = i < ncuts ? cuts[i] : len, n = to - from;
		memcpy(out->data + out->len, in + from, n);
		size_t kept = telnet_filter(&t, (char *)out->data + out->len, n,
		    (char *)reply, &reply_len);
		if (kept > n)
			fuzz_telnet_fail("kept more than given");
		if (reply_len > TELNET_REPLY_BOUND(n))
			fuzz_telnet_fail("reply past TELNET_REPLY_BOUND");
		out->len += kept;
		memcpy(out->reply + out->reply_len, reply, reply_len);
		out->reply_len += reply_len;
		from = to;
	}
	free(reply);
}

/* Quotes in as telnet sends data; returns the quoted length. */
static size_t
fuzz_telnet_quote(const unsigned char *in, size_t len, unsigned char *out)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		out[n++] = in[i];
		if (in[i] == TELNET_IAC)
			out[n++] = TELNET_IAC;
		else if (in[i] == '\r' && (i + 1 == len || in[i + 1] == '\0'))
			out[n++] = '\0';
	}
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *stream = malloc(size + 1), *quoted;
	size_t *cuts = malloc((size + 1) * sizeof(*cuts)), len = 0, ncuts = 0;
	struct fuzz_telnet_out cut, whole, back;

	if (stream == NULL || cuts == NULL)
		abort();
	/* Records: a control byte, then that many bytes of stream. */
	for (size_t i = 0; i < size;) {
		size_t n = data[i++] & FUZZ_TELNET_CHUNK_MASK;
		if (n > size - i)
			n = size - i;
		memcpy(stream + len, data + i, n);
		len += n;
		i += n;
		if (i < size)
			cuts[ncuts++] = len;
	}
	cut.data = malloc(len + 1);
	whole.data = malloc(len + 1);
	cut.reply = malloc(TELNET_REPLY_BOUND(len) + 1);
	whole.reply = malloc(TELNET_REPLY_BOUND(len) + 1);
	quoted = malloc(2 * len + 1);
	if (!cut.data || !whole.data || !cut.reply || !whole.reply || !quoted)
		abort();
	fuzz_telnet_run(stream, len, cuts, ncuts, &cut);
	fuzz_telnet_run(stream, len, NULL, 0, &whole);
	if (cut.len != whole.len || memcmp(cut.data, whole.data, cut.len) != 0)
		fuzz_telnet_fail("data depends on where the input is cut");
	if (cut.reply_len != whole.reply_len ||
	    memcmp(cut.reply, whole.reply, cut.reply_len) != 0)
		fuzz_telnet_fail("replies depend on where the input is cut");
	if (whole.reply_len % 3 != 0)
		fuzz_telnet_fail("a reply that is not three bytes");
	for (size_t i = 0; i < whole.reply_len; i += 3)
		if (whole.reply[i] != TELNET_IAC ||
		    (whole.reply[i + 1] != TELNET_WONT &&
		        whole.reply[i + 1] != TELNET_DONT))
			fuzz_telnet_fail("a reply that is not a refusal");

	/* The data, quoted and filtered again, comes back as it was. */
	size_t qlen = fuzz_telnet_quote(whole.data, whole.len, quoted);
	back.data = malloc(qlen + 1);
	back.reply = malloc(TELNET_REPLY_BOUND(qlen) + 1);
	if (back.data == NULL || back.reply == NULL)
		abort();
	fuzz_telnet_run(quoted, qlen, NULL, 0, &back);
	if (back.len != whole.len ||
	    memcmp(back.data, whole.data, whole.len) != 0 || back.reply_len)
		fuzz_telnet_fail("quoted data did not come back exactly");

	free(back.data);
	free(back.reply);
	free(quoted);
	free(cut.data);
	free(whole.data);
	free(cut.reply);
	free(whole.reply);
	free(cuts);
	free(stream);
	return 0;
}
