/* access.c - --allow/--deny CIDR rules and per-address connection counts. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "clock.h"

struct access_slot {
	uint8_t addr[16];
	unsigned count; /* 0: free (deleted slots are re-packed) */
};

/* An address as 16 bytes, IPv4 as IPv4-mapped IPv6.  0, or -1. */
static int
access_key(const struct sockaddr *sa, uint8_t key[16])
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)sa;
		memset(key, 0, 10);
		key[10] = key[11] = 0xff;
		memcpy(key + 12, &sin->sin_addr, 4);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)sa;
		memcpy(key, &sin6->sin6_addr, 16);
		return 0;
	}
	return -1;
}

int
access_parse(const char *text, struct access_rule *rule)
{
	char host[64];
	const char *slash = strchr(text, '/');
	size_t hlen = slash ? (size_t)(slash - text) : strlen(text);
	unsigned long prefix;
	struct in_addr v4;
	int is_v4;

	if (hlen == 0 || hlen >= sizeof(host))
		return -1;
	memcpy(host, text, hlen);
	host[hlen] = '\0';
	memset(rule, 0, sizeof(*rule));
	if (inet_pton(AF_INET, host, &v4) == 1) {
		is_v4 = 1;
		rule->addr[10] = rule->addr[11] = 0xff;
		memcpy(rule->addr + 12, &v4, 4);
	} else if (inet_pton(AF_INET6, host, rule->addr) == 1) {
		is_v4 = 0;
	} else {
		return -1;
	}
	prefix = is_v4 ? 32 : 128;
	if (slash != NULL) {
		char *end;
		if (slash[1] < '0' || slash[1] > '9')
			return -1;
		errno = 0;
		prefix = strtoul(slash + 1, &end, 10);
		if (errno != 0 || *end != '\0' || prefix > (is_v4 ? 32u : 128u))
			return -1;
	}
	rule->prefix = (unsigned)prefix + (is_v4 ? 96 : 0);
	return 0;
}

int
access_add(struct access_list *list, int allow, const char *text)
{
	struct access_rule rule, **rules = allow ? &list->allow : &list->deny;
	size_t *n = allow ? &list->nallow : &list->ndeny;
	struct access_rule *p;

	if (access_parse(text, &rule) == -1) {
		errno = EINVAL;
		return -1;
	}
	if ((p = realloc(*rules, (*n + 1) * sizeof(*p))) == NULL)
		return -1;
	p[(*n)++] = rule;
	*rules = p;
	return 0;
}

static int
access_match(const struct access_rule *rule, const uint8_t key[16])
{
	unsigned bytes = rule->prefix / 8, bits = rule->prefix % 8;

	if (memcmp(rule->addr, key, bytes) != 0)
		return 0;
	if (bits == 0)
		return 1;
	uint8_t mask = (uint8_t)(0xff << (8 - bits));
	return (rule->addr[bytes] & mask) == (key[bytes] & mask);
}

int
access_allowed(const struct access_list *list, const struct sockaddr *sa)
{
	uint8_t key[16];
	size_t i;

	if (access_key(sa, key) == -1)
		return 0;
	for (i = 0; i < list->ndeny; i++)
		if (access_match(&list->deny[i], key))
			return 0;
	if (list->nallow == 0)
		return 1;
	for (i = 0; i < list->nallow; i++)
		if (access_match(&list->allow[i], key))
			return 1;
	return 0;
}

void
access_free(struct access_list *list)
{
	free(list->allow);
	free(list->deny);
	memset(list, 0, sizeof(*list));
}

void
access_counter_init(struct access_counter *c)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
}

void
access_counter_free(struct access_counter *c)
{
	free(c->slots);
	free(c->penalties);
	pthread_mutex_destroy(&c->lock);
}

static void access_expire_locked(struct access_counter *c, uint64_t now);

static size_t
access_hash(const uint8_t key[16])
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */

	for (int i = 0; i < 16; i++)
		h = (h ^ key[i]) * 1099511628211ull;
	return (size_t)h;
}

/* The slot holding key, or the free slot where it would go. */
static struct access_slot *
access_find(struct access_counter *c, const uint8_t key[16])
{
	size_t i = access_hash(key) & (c->cap - 1);

	while (c->slots[i].count != 0 && memcmp(c->slots[i].addr, key, 16))
		i = (i + 1) & (c->cap - 1);
	return &c->slots[i];
}

/* Doubles the table.  0, or -1 when out of memory. */
static int
access_grow(struct access_counter *c)
{
	struct access_counter bigger = {.cap = c->cap ? c->cap * 2 : 64};

	if ((bigger.slots = calloc(bigger.cap, sizeof(*bigger.slots))) == NULL)
		return -1;
	for (size_t i = 0; i < c->cap; i++)
		if (c->slots[i].count != 0)
			*access_find(&bigger, c->slots[i].addr) = c->slots[i];
	free(c->slots);
	c->slots = bigger.slots;
	c->cap = bigger.cap;
	return 0;
}

int
access_counter_take(
    struct access_counter *c, const struct sockaddr *sa, unsigned max)
{
	uint8_t key[16];
	int rc = -1;

	if (access_key(sa, key) == -1)
		return -1;
	pthread_mutex_lock(&c->lock);
	access_expire_locked(c, clock_now_ms());
	if ((c->used + 1) * 2 > c->cap && access_grow(c) == -1)
		goto out;
	struct access_slot *slot = access_find(c, key);
	if (slot->count >= max)
		goto out;
	if (slot->count++ == 0) {
		memcpy(slot->addr, key, 16);
		c->used++;
	}
	rc = 0;
out:
	pthread_mutex_unlock(&c->lock);
	return rc;
}

/* Gives back one slot of key; called with c->lock held. */
static void
access_put_locked(struct access_counter *c, const uint8_t key[16])
{
	if (c->cap == 0)
		return;
	struct access_slot *slot = access_find(c, key);
	if (slot->count == 0 || --slot->count > 0)
		return;
	/* Freed: re-insert the rest of its cluster so lookups still work. */
	c->used--;
	size_t i = (size_t)(slot - c->slots);
	for (size_t j = (i + 1) & (c->cap - 1); c->slots[j].count != 0;
	     j = (j + 1) & (c->cap - 1)) {
		struct access_slot moved = c->slots[j];
		c->slots[j].count = 0;
		*access_find(c, moved.addr) = moved;
	}
}

void
access_counter_put(struct access_counter *c, const struct sockaddr *sa)
{
	uint8_t key[16];

	if (access_key(sa, key) == -1)
		return;
	pthread_mutex_lock(&c->lock);
	access_put_locked(c, key);
	pthread_mutex_unlock(&c->lock);
}

/* Gives back the slots of penalties expired by now (c->lock held). */
static void
access_expire_locked(struct access_counter *c, uint64_t now)
{
	size_t done = 0;

	while (done < c->npenalties && c->penalties[done].until_ms <= now)
		access_put_locked(c, c->penalties[done++].addr);
	if (done > 0) {
		memmove(c->penalties, c->penalties + done,
		    (c->npenalties - done) * sizeof(*c->penalties));
		c->npenalties -= done;
	}
}

void
access_counter_penalize(
    struct access_counter *c, const struct sockaddr *sa, int ms)
{
	uint8_t key[16];

	if (access_key(sa, key) == -1)
		return;
	pthread_mutex_lock(&c->lock);
	if (c->npenalties == ACCESS_MAX_PENALTIES)
		access_expire_locked(c, c->penalties[0].until_ms);
	if (c->npenalties == c->penalty_cap) {
		size_t cap = c->penalty_cap ? c->penalty_cap * 2 : 16;
		struct access_penalty *p =
		    realloc(c->penalties, cap * sizeof(*p));
		if (p == NULL)
			goto out;
		c->penalties = p;
		c->penalty_cap = cap;
	}
	if ((c->used + 1) * 2 > c->cap && access_grow(c) == -1)
		goto out;
	/* Held beyond --max-per-ip if need be: it is a penalty. */
	struct access_slot *slot = access_find(c, key);
	if (slot->count++ == 0) {
		memcpy(slot->addr, key, 16);
		c->used++;
	}
	/* Every penalty lasts as long: appending keeps expiry order. */
	struct access_penalty *p = &c->penalties[c->npenalties++];
	memcpy(p->addr, key, 16);
	p->until_ms = clock_now_ms() + (uint64_t)ms;
out:
	pthread_mutex_unlock(&c->lock);
}
