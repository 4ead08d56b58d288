/*
 * access.h - who may connect: --allow and --deny CIDR rules, and the
 * count of connections per source address for --max-per-ip.
 */
#ifndef TCPCHAT_ACCESS_H
#define TCPCHAT_ACCESS_H

#include <sys/socket.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

/* One CIDR rule; IPv4 rules are kept as IPv4-mapped IPv6. */
struct access_rule {
	uint8_t addr[16];
	unsigned prefix; /* 0..128 over the 16 bytes */
};

struct access_list {
	struct access_rule *allow;
	size_t nallow;
	struct access_rule *deny;
	size_t ndeny;
};

/*
 * Parses "192.168.1.0/24", "::1/128", or a bare address (a host rule).
 * 0, or -1 when it is not a valid rule.
 */
int access_parse(const char *text, struct access_rule *rule);

/* Adds a rule to the allow (allow != 0) or deny list.  0, or -1: ENOMEM. */
int access_add(struct access_list *list, int allow, const char *text);

/*
 * Whether the address may connect: deny wins over allow, and with any
 * allow rule given, addresses matching none are refused.  1 or 0.
 */
int access_allowed(const struct access_list *list, const struct sockaddr *sa);

void access_free(struct access_list *list);

/* Connections per source address, for --max-per-ip. */
/* A slot held for a while after a failed attempt (access_penalize). */
struct access_penalty {
	uint8_t addr[16];
	uint64_t until_ms; /* clock_now_ms when it is given back */
};

/* Most penalties held at once; the oldest go first beyond it. */
#define ACCESS_MAX_PENALTIES 65536

struct access_counter {
	pthread_mutex_t lock; /* guards everything below */
	struct access_slot *slots;
	size_t cap; /* a power of two */
	size_t used;
	struct access_penalty *penalties; /* in order of expiry */
	size_t npenalties, penalty_cap;
};

void access_counter_init(struct access_counter *c);
void access_counter_free(struct access_counter *c);

/* Counts one more connection from sa unless max are there.  0 or -1. */
int access_counter_take(
    struct access_counter *c, const struct sockaddr *sa, unsigned max);

/* Counts one connection from sa less. */
void access_counter_put(struct access_counter *c, const struct sockaddr *sa);

/*
 * A failed attempt from sa (a wrong password): it holds one of the
 * address's --max-per-ip slots for ms milliseconds, so guessing from one
 * address is slow.  Expired penalties are given back by the next take.
 */
void access_counter_penalize(
    struct access_counter *c, const struct sockaddr *sa, int ms);

#endif
