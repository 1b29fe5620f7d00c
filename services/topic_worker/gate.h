/* gate.h: admission of consume fetches, per consumer group, inside one topic-worker process.
 *
 * Why: a group's partitions are claimed with FOR UPDATE SKIP LOCKED, so at most `partitions` fetches of one
 * group can make progress at once. Without a gate, twenty HTTP consumers of a three-partition topic would
 * find the partitions held, retry, and burn CPU and queries in the database. The gate lets at most
 * `partitions` fetches of a group run at a time in this process and queues the others on a condition
 * variable (no query, no database connection) until one finishes. Across processes, SKIP LOCKED and the
 * busy back-off of manager.c still arbitrate.
 *
 * Groups hash into GATE_BUCKETS buckets; two groups sharing a bucket share its limit (correct, just a
 * little less parallel). */
#ifndef ROMA_TOPIC_GATE_H
#define ROMA_TOPIC_GATE_H

#include <stdint.h>

#include "errors.h"

#define GATE_BUCKETS 64

typedef struct fetch_gate fetch_gate;

fetch_gate *gate_new(void) ROMA_MUST_USE;
void gate_free(fetch_gate *g);

/* Waits until fewer than limit fetches of (topic_id, group) run in this process, or until the monotonic
 * deadline (util_mono_ms). Returns 1 when admitted (call gate_leave), 0 on timeout. */
int gate_enter(fetch_gate *g, int64_t topic_id, const char *group, int limit, int64_t deadline_mono_ms);
void gate_leave(fetch_gate *g, int64_t topic_id, const char *group);

#endif
