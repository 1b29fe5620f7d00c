/* engine.h: the message engine behind the topic manager, as a table of function pointers.
 *
 * The topic manager (manager.c) owns topic METADATA (mqs_topics, mqs_topic_policies in PostgreSQL) and
 * calls an engine for everything that touches MESSAGES. The API never talks to an engine: it sends
 * commands to the topic manager over the bus, so swapping the engine changes no API code.
 *
 * The embedded default engine is "openroma-pg" (engine_pg.c): messages, consumer-group cursors and
 * leases live in PostgreSQL (migrations/005_topics.sql). A Kafka engine would implement the same table
 * with librdkafka:
 *   topic_create/alter/delete  -> rd_kafka_CreateTopics / AlterConfigs (retention.ms) / DeleteTopics
 *   append                     -> rd_kafka_producev + flush, offsets from the delivery reports
 *   fetch / ack                -> a consumer per (topic, group) with manual commits; leases kept by the
 *                                 engine (Kafka has no per-message ack: ack advances the committed offset
 *                                 past the contiguous acked prefix, nack seeks back)
 *   retention_run              -> nothing (the broker enforces retention.ms)
 *
 * Contract shared by every engine:
 * - Every function returns 0 or a negative ROMA_E* code and logs its own failures with the rid.
 * - topic_create / topic_alter / topic_delete are called INSIDE the manager's open metadata transaction
 *   (meta, a PGconn in a BEGIN block) after the metadata row was written and before COMMIT. The PG engine
 *   writes its own rows in that transaction, so a topic and its partitions appear or vanish together. An
 *   engine that keeps state elsewhere (Kafka) cannot join the transaction: it must treat "already exists"
 *   as success on create and "does not exist" as success on delete, because the manager retries an
 *   operation by topic name after a crash, and the metadata commit may still fail after the engine call.
 * - append / fetch / ack / query / resend use their own connections or clients (never meta) and may run
 *   concurrently on any number of executor threads: an engine must be thread-safe.
 * - Content is opaque text to the engine (the API stores compact JSON). Offsets are per partition,
 *   contiguous, starting at 0. Timestamps are epoch milliseconds.
 * - A delivery handed out by fetch is leased to one consumer of the group for lease_ms; the same message
 *   is never handed to two consumers of one group while a lease is live. gen counts deliveries: ack with
 *   an older gen, or after the lease expired, is refused (the handler is no longer valid). */
#ifndef ROMA_TOPIC_ENGINE_H
#define ROMA_TOPIC_ENGINE_H

#include <libpq-fe.h>
#include <stddef.h>
#include <signal.h>
#include <stdint.h>

#include "errors.h"

typedef struct topic_engine topic_engine;

/* A topic as the engine sees it. */
typedef struct engine_topic {
    int64_t id;               /* internal id, never reused */
    const char *instance_id;
    const char *name;
    int partitions;           /* 1..50 */
    int replication;          /* 1..3 (advisory for the PG engine) */
    int retention_hours;      /* 1..720 */
    int sync_flush;           /* sync_message_flush: appends are durable (fsync) before they are acknowledged */
} engine_topic;

/* One message to append. */
typedef struct engine_msg_in {
    const char *content;      /* NUL-terminated text */
    const char *id;           /* producer's message id, may be "" */
    const char *key;          /* may be NULL */
    const char *tag;          /* may be NULL */
} engine_msg_in;

/* Where one appended message went. */
typedef struct engine_append_out {
    int ok;                   /* 1 stored, 0 failed */
    int partition;
    int64_t offset;
} engine_append_out;

/* One delivered (fetched) or queried message. Strings are heap copies owned by the result. */
typedef struct engine_msg {
    int partition;
    int64_t offset;
    int gen;                  /* fetch: delivery number; query: 0 */
    int64_t ts_ms;
    char *msg_id;
    char *key;
    char *tag;
    char *app_id;
    char *headers;            /* JSON text or NULL */
    char *content;
    size_t content_len;
} engine_msg;

typedef struct engine_msgs {
    engine_msg *v;
    int n;
    int64_t total;            /* query: number of matches; fetch: n */
    int busy;                 /* fetch: n == 0 only because other consumers of the group held partitions:
                               * retry soon rather than waiting for new messages */
} engine_msgs;

void engine_msg_clear(engine_msg *m);   /* frees the strings, zeroes m */
void engine_msgs_free(engine_msgs *m); /* frees every message and the array */

typedef struct engine_fetch_opts {
    int max_msgs;             /* 1..10 */
    int max_bytes;            /* content bytes per fetch (at least one message is always returned) */
    int64_t lease_ms;         /* ack_wait */
} engine_fetch_opts;

typedef struct engine_ack {
    int partition;
    int64_t offset;
    int gen;
    int ok;                   /* 1 consumed, 0 failed: redeliver now */
} engine_ack;

/* Message query of the control plane (ShowMqsInstanceMessages). Unset filters are NULL / -1. */
typedef struct engine_query {
    int64_t start_ms, end_ms; /* time range, both or neither (-1) */
    int partition;            /* with offset: one message; -1 = any */
    int64_t offset;           /* -1 = any */
    const char *key;
    const char *msg_id;
    const char *tag;
    int asc;                  /* order by time ascending */
    int limit, skip;          /* page */
} engine_query;

typedef struct engine_ops {
    const char *name; /* reported as the MQS instance "engine" */
    const char *version;

    int (*topic_create)(topic_engine *e, PGconn *meta, const engine_topic *t, const char *rid) ROMA_MUST_USE;
    int (*topic_alter)(topic_engine *e, PGconn *meta, const engine_topic *t, const char *rid) ROMA_MUST_USE;
    int (*topic_delete)(topic_engine *e, PGconn *meta, const engine_topic *t, const char *rid) ROMA_MUST_USE;

    /* Appends n messages (1..10) from app_id to the topic; headers is JSON text or NULL. Fills out[n].
     * ROMA_ENOTFOUND when the topic does not exist (any more). A failure may be partial: out[i].ok. */
    int (*append)(topic_engine *e, const engine_topic *t, const engine_msg_in *msgs, int n, const char *app_id,
                  const char *headers, engine_append_out *out, const char *rid) ROMA_MUST_USE;
    /* Leases up to o->max_msgs messages to a consumer of group; out->n may be 0. */
    int (*fetch)(topic_engine *e, const engine_topic *t, const char *group, const engine_fetch_opts *o,
                 engine_msgs *out, const char *rid) ROMA_MUST_USE;
    /* Acknowledges n deliveries; *acked = how many were valid. */
    int (*ack)(topic_engine *e, const engine_topic *t, const char *group, const engine_ack *acks, int n, int *acked,
               const char *rid) ROMA_MUST_USE;
    /* Control-plane message query. */
    int (*query)(topic_engine *e, const engine_topic *t, const engine_query *q, engine_msgs *out,
                 const char *rid) ROMA_MUST_USE;
    /* Reads one message (partition, offset); ROMA_ENOTFOUND when absent. */
    int (*get)(topic_engine *e, const engine_topic *t, int partition, int64_t offset, engine_msg *out,
               const char *rid) ROMA_MUST_USE;
    /* Appends a copy of msg to its partition with the given headers (resend). */
    int (*resend)(topic_engine *e, const engine_topic *t, const engine_msg *msg, const char *headers,
                  engine_append_out *out, const char *rid) ROMA_MUST_USE;

    /* One background retention pass: deletes messages older than each topic's retention (retention_unit_s
     * seconds per retention hour; 3600 in production) and purges deleted topics, in batches of batch rows.
     * *deleted = messages removed. Must never block producers. */
    int (*retention_run)(topic_engine *e, long retention_unit_s, int batch, int64_t *deleted,
                         const char *rid) ROMA_MUST_USE;

    /* Long-poll support. watch() returns a token to take BEFORE a fetch that may come back empty; wait()
     * then blocks up to timeout_ms until a message may have arrived on the topic since that token (from
     * any process), or *stop. Returns 1 when woken, 0 on timeout. Must not hold a database connection
     * while waiting. */
    uint64_t (*watch)(topic_engine *e, int64_t topic_id);
    int (*wait)(topic_engine *e, int64_t topic_id, uint64_t token, int timeout_ms, volatile sig_atomic_t *stop);

    void (*destroy)(topic_engine *e);
} engine_ops;

struct topic_engine {
    const engine_ops *ops;
    void *impl;
};

/* Creates the PostgreSQL engine on conninfo with a pool of pool_size connections, and starts its
 * LISTEN thread. NULL on failure (logged). */
topic_engine *engine_pg_new(const char *conninfo, int pool_size) ROMA_MUST_USE;

#endif
