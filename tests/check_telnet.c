/*
 * check_telnet.c - the telnet filter alone: each RFC 854 sequence taken
 * out, IAC IAC and CR NUL kept as data, refusals for DO and WILL only,
 * and the same result however the input is cut, down to byte by byte.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "telnet.h"
#include "testutil.h"

#define IAC "\xff"
#define DO "\xfd"
#define DONT "\xfe"
#define WILL "\xfb"
#define WONT "\xfc"
#define SB "\xfa"
#define SE "\xf0"
#define IP "\xf4"

/* What one run of the filter left and answered. */
struct filtered {
	char data[1024];
	size_t len;
	char reply[1024];
	size_t reply_len;
};

/*
 * Runs in[0..len) through a fresh filter in pieces of step bytes (0: all
 * at once), collecting data and replies.
 */
static void
run(const char *in, size_t len, size_t step, struct filtered *out)
{
	struct telnet t;
	char buf[1024], reply[TELNET_REPLY_BOUND(1024)];
	size_t reply_len;

	ck_assert_uint_le(len, sizeof(buf));
	telnet_init(&t);
	out->len = out->reply_len = 0;
	if (step == 0)
		step = len > 0 ? len : 1;
	for (size_t off = 0; off < len; off += step) {
		size_t n = len - off < step ? len - off : step;
		memcpy(buf, in + off, n);
		size_t kept = telnet_filter(&t, buf, n, reply, &reply_len);
		ck_assert_uint_le(kept, n);
		ck_assert_uint_le(reply_len, TELNET_REPLY_BOUND(n));
		memcpy(out->data + out->len, buf, kept);
		out->len += kept;
		memcpy(out->reply + out->reply_len, reply, reply_len);
		out->reply_len += reply_len;
	}
}

/* in must give want and reply, whole and cut at every step size. */
static void
expect(const char *in, size_t len, const char *want, size_t want_len,
    const char *reply, size_t reply_len)
{
	struct filtered f;

	for (size_t step = 0; step <= len; step++) {
		run(in, len, step, &f);
		char shown[TESTUTIL_VISIBLE_MAX];
		snprintf(shown, sizeof(shown), "%s",
		    testutil_visible(f.data, f.len));
		ck_assert_msg(
		    f.len == want_len && memcmp(f.data, want, want_len) == 0,
		    "step %zu: \"%s\" gave \"%s\", wanted \"%s\"", step,
		    testutil_visible(in, len), shown,
		    testutil_visible(want, want_len));
		ck_assert_msg(f.reply_len == reply_len &&
		        memcmp(f.reply, reply, reply_len) == 0,
		    "step %zu: wrong reply \"%s\"", step,
		    testutil_visible(f.reply, f.reply_len));
	}
}

#define EXPECT(in, want, reply)                                                \
	expect(in, sizeof(in) - 1, want, sizeof(want) - 1, reply,              \
	    sizeof(reply) - 1)

START_TEST(test_plain_text_untouched)
{
	EXPECT("hello, world\r\n", "hello, world\r\n", "");
	EXPECT("你好，世界 😀\n", "你好，世界 😀\n", "");
	EXPECT("", "", "");
	/* Other bytes past ASCII pass: only 0xFF is telnet's. */
	EXPECT("\xfe\xfd\xc3\x28\x80", "\xfe\xfd\xc3\x28\x80", "");
}
END_TEST

START_TEST(test_ctrl_c_from_telnet)
{
	/* What netkit telnet sends for Ctrl-C: IP, then DO TIMING-MARK. */
	EXPECT("hi" IAC IP IAC DO "\x06"
	       "there\r\n",
	    "hithere\r\n", IAC WONT "\x06");
	EXPECT(IAC IP, "", "");
}
END_TEST

START_TEST(test_negotiations)
{
	/* DO and WILL are refused; DONT and WONT need no answer. */
	EXPECT(IAC DO "\x01", "", IAC WONT "\x01");
	EXPECT(IAC WILL "\x1f", "", IAC DONT "\x1f");
	EXPECT(IAC DONT "\x01" IAC WONT "\x03", "", "");
	/* The option byte may be anything, 0xFF included. */
	EXPECT(IAC DO IAC "a", "a", IAC WONT IAC);
	EXPECT("a" IAC WILL "\x18"
	       "b" IAC DO "\x20"
	       "c",
	    "abc", IAC DONT "\x18" IAC WONT "\x20");
}
END_TEST

START_TEST(test_commands_consumed)
{
	/* SE NOP DM BRK IP AO AYT EC EL GA, and an unknown command. */
	for (unsigned c = 0xf0; c <= 0xf9; c++) {
		char in[8];
		int n = snprintf(in, sizeof(in), "a\xff%cb", (char)c);
		expect(in, (size_t)n, "ab", 2, "", 0);
	}
	EXPECT("x" IAC "\x01"
	       "y",
	    "xy", "");
}
END_TEST

START_TEST(test_iac_iac_is_data)
{
	EXPECT(IAC IAC, "\xff", "");
	EXPECT("a" IAC IAC IAC IAC "b",
	    "a\xff\xff"
	    "b",
	    "");
	/* An IAC IAC, then a command. */
	EXPECT(IAC IAC IAC IP "z",
	    "\xff"
	    "z",
	    "");
}
END_TEST

START_TEST(test_subnegotiation)
{
	/* Terminal type and window size, data and an escaped 0xFF inside. */
	EXPECT("a" IAC SB "\x18\x00VT100" IAC SE "b", "ab", "");
	EXPECT(IAC SB "\x1f\x00\x50" IAC IAC "\x00\x18" IAC SE "ok", "ok", "");
	/* Negotiations inside are not answered. */
	EXPECT(IAC SB IAC DO "\x01" IAC SE "x", "x", "");
	/* Unfinished: swallowed until it ends. */
	EXPECT(IAC SB "endless\r\n", "", "");
}
END_TEST

START_TEST(test_cr_nul)
{
	EXPECT("a\r\0b", "a\rb", "");
	EXPECT("a\r\r\0b\r\n", "a\r\rb\r\n", "");
	/* A NUL not after a CR is data. */
	EXPECT("a\0b", "a\0b", "");
	EXPECT("\r" IAC IP "\0", "\r\0", "");
}
END_TEST

/* A byte string quoted as telnet sends it: IAC doubled, CR as CR NUL. */
static size_t
quote(const unsigned char *in, size_t len, char *out)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		out[n++] = (char)in[i];
		if (in[i] == 0xff)
			out[n++] = (char)0xff;
		else if (in[i] == '\r' && (i + 1 == len || in[i + 1] == '\0'))
			out[n++] = '\0';
	}
	return n;
}

START_TEST(test_quoted_bytes_come_back)
{
	unsigned char data[256];
	char quoted[600];
	struct filtered f;
	unsigned seed = 99;

	for (int round = 0; round < 200; round++) {
		size_t len = (size_t)(round % 40) + 1;
		for (size_t i = 0; i < len; i++) {
			seed = seed * 1103515245u + 12345u;
			/* Often the bytes that matter: 0xFF, CR, NUL. */
			unsigned pick = seed >> 16;
			data[i] = pick % 5 == 0 ? 0xff
			    : pick % 5 == 1     ? '\r'
			    : pick % 5 == 2     ? '\0'
			                        : (unsigned char)(pick >> 3);
		}
		size_t qlen = quote(data, len, quoted);
		for (size_t step = 1; step <= 3; step++) {
			run(quoted, qlen, step, &f);
			ck_assert_uint_eq(f.len, len);
			ck_assert(memcmp(f.data, data, len) == 0);
			ck_assert_uint_eq(f.reply_len, 0);
		}
	}
}
END_TEST

static Suite *
telnet_suite(void)
{
	Suite *s = suite_create("telnet");
	TCase *tc;

	tc = tcase_create("data");
	tcase_add_test(tc, test_plain_text_untouched);
	tcase_add_test(tc, test_iac_iac_is_data);
	tcase_add_test(tc, test_cr_nul);
	tcase_add_test(tc, test_quoted_bytes_come_back);
	suite_add_tcase(s, tc);

	tc = tcase_create("commands");
	tcase_add_test(tc, test_ctrl_c_from_telnet);
	tcase_add_test(tc, test_commands_consumed);
	tcase_add_test(tc, test_negotiations);
	tcase_add_test(tc, test_subnegotiation);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(telnet_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
