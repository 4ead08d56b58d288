/*
 * registry.h - the table of live sessions, by id, with the count of
 * clients online.  Lookups hand out references.
 */
#ifndef TCPCHAT_REGISTRY_H
#define TCPCHAT_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

struct session;
struct registry;

struct registry *registry_new(void);
void registry_free(struct registry *r);

/*
 * Adds s (taking a reference) unless max sessions are online already.
 * Returns the number online after adding, or -1 when full.
 */
int registry_add(struct registry *r, struct session *s, int max);

/* Removes s (dropping the registry's reference).  Returns those left. */
int registry_remove(struct registry *r, struct session *s);

/* The session with this id, with a reference taken, or NULL. */
struct session *registry_find(struct registry *r, uint64_t id);

/* Sessions online now. */
int registry_count(struct registry *r);

/*
 * A snapshot of every session (each referenced), ordered by id, into a
 * malloc'd array; *n gets its length.  NULL with *n 0 when empty or out
 * of memory.  Release it with registry_release.
 */
struct session **registry_snapshot(struct registry *r, size_t *n);
void registry_release(struct session **list, size_t n);

/* Waits until nobody is online or timeout_ms passed: 1 if empty. */
int registry_wait_empty(struct registry *r, int timeout_ms);

/* The next session id: 1, 2, ... never reused. */
uint64_t registry_next_id(struct registry *r);

#endif
