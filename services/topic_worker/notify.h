/* notify.h: the doorbell that wakes long-polling consumers when a topic gets messages.
 *
 * One thread holds ONE dedicated PostgreSQL connection doing LISTEN on a channel (mqs_append() in
 * migrations/005_topics.sql NOTIFYs the topic id on every append, from whichever process produced), and
 * rings per-topic buckets that waiting executor threads sleep on. So any number of consumers can wait
 * for up to time_wait seconds while holding no database connection at all: they sleep on a condition
 * variable, and fetch again when rung (or after their slice, which bounds the delay when a notification
 * is lost, e.g. while the LISTEN connection reconnects).
 *
 * Buckets are topic_id % NOTIFY_BUCKETS generation counters: a collision only causes a spurious wake-up
 * (the waiter fetches, finds nothing, and waits again). */
#ifndef ROMA_TOPIC_NOTIFY_H
#define ROMA_TOPIC_NOTIFY_H

#include <signal.h>
#include <stdint.h>

#include "errors.h"

#define NOTIFY_BUCKETS 256
#define NOTIFY_RECONNECT_MS 1000 /* pause before re-opening a broken LISTEN connection */

typedef struct notify_hub notify_hub;

/* Starts the LISTEN thread on conninfo / channel (both copied). NULL on failure (logged). The connection
 * is opened by the thread, so a database that is down at start only delays wake-ups. */
notify_hub *notify_hub_new(const char *conninfo, const char *channel) ROMA_MUST_USE;

/* Stops the thread and frees. NULL is fine. */
void notify_hub_free(notify_hub *h);

/* Wakes the waiters of topic_id in this process (also called for every notification received). */
void notify_hub_ring(notify_hub *h, int64_t topic_id);

/* Returns the current generation of topic_id's bucket: read it BEFORE the fetch that found nothing and
 * pass it to notify_hub_wait, so a message appended between the fetch and the wait is not missed. */
uint64_t notify_hub_generation(notify_hub *h, int64_t topic_id);

/* Sleeps until the bucket's generation differs from gen, timeout_ms passed, or *stop is set.
 * Returns 1 when rung, 0 otherwise. */
int notify_hub_wait(notify_hub *h, int64_t topic_id, uint64_t gen, int timeout_ms, volatile sig_atomic_t *stop);

#endif
