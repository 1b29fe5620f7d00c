/* manager.h: the topic manager: executes the commands of topic_cmd.h. It is the only writer of topic
 * metadata (mqs_topics, mqs_topic_policies) and the only caller of the message engine.
 *
 * Crash safety: every topic change is ONE PostgreSQL transaction (metadata rows + the engine's rows), so
 * a manager killed mid-operation leaves either the whole change or nothing; creation is idempotent by
 * name (a retry of an identical create that did commit answers success again), so the API's caller can
 * simply retry after a 503. */
#ifndef ROMA_TOPIC_MANAGER_H
#define ROMA_TOPIC_MANAGER_H

#include <signal.h>

#include "command.h"
#include "db.h"
#include "engine.h"
#include "gate.h"

typedef struct manager {
    db_pool *meta;                    /* connections for metadata transactions */
    topic_engine *engine;
    fetch_gate *gate;                 /* per-group admission of consume fetches */
    long test_delay_ms;               /* ROMA_TOPIC_TEST_DELAY_MS (test-only, 0 in production) */
    long poll_slice_ms;               /* longest single wait of a long-poll between two fetches */
    volatile sig_atomic_t *stop;      /* process stop flag: long-polls return early when set */
} manager;

/* roma_handler for both TOPIC_KIND and TOPIC_KIND_FETCH; arg is a manager *. */
void manager_handle(void *arg, const roma_msg *req, roma_msg *reply);

#endif
