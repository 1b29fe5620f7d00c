/* retention.h: the background thread that enforces topic retention (messages older than a topic's
 * retention_time are deleted) and purges the messages of deleted topics, through the engine's
 * retention_run(). It runs every interval_ms in short batched transactions, so producers are never
 * blocked by it (see mqs_retention_batch in migrations/005_topics.sql). */
#ifndef ROMA_TOPIC_RETENTION_H
#define ROMA_TOPIC_RETENTION_H

#include "engine.h"
#include "errors.h"

typedef struct retention retention;

/* unit_s: seconds per retention hour (3600; tests shrink it with ROMA_TOPIC_RETENTION_UNIT_S). batch: rows
 * per delete. NULL on failure (logged). The engine must outlive the thread. */
retention *retention_start(topic_engine *e, long interval_ms, long unit_s, int batch) ROMA_MUST_USE;

/* Stops and joins the thread (returns within about one batch). NULL is fine. */
void retention_stop(retention *r);

#endif
