/* topic_validate.h: the field rules of MQS (spec §5.1-5.6) as pure functions: request bodies of the
 * control plane (TopicCreate, topic update, batch delete, ACL update / batch-add, the import file) and of
 * the data plane (produce, ack), query parameters, names, and the consume handler format.
 * No database, no civetweb, no bus: the unit tests and the libFuzzer target link this file alone.
 *
 * Every parse function takes the raw body bytes and returns 0 with a NORMALISED cJSON value the caller
 * owns (defaults filled in, unknown fields dropped, exactly the shape topic_cmd.h carries), or
 * ROMA_EINVAL with a tv_err naming the offending field for the documented 400. */
#ifndef ROMA_API_TOPIC_VALIDATE_H
#define ROMA_API_TOPIC_VALIDATE_H

#include <cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "errors.h"

/* ---- limits (spec §5.2-5.6; code points unless stated) ---- */
#define TV_NAME_MIN 3
#define TV_NAME_MAX 200
#define TV_PARTITION_DEFAULT 3
#define TV_PARTITION_MAX 50
#define TV_REPLICATION_DEFAULT 3
#define TV_REPLICATION_MAX 3
#define TV_RETENTION_DEFAULT 72
#define TV_RETENTION_MAX 720
#define TV_DESCRIPTION_MAX 1000
#define TV_TEXT_MAX 1000        /* tag, sensitive_word (no documented limit: ours) */
#define TV_APP_ID_MAX 64
#define TV_POLICY_TAG_MAX 48    /* batch-add tag rule */
#define TV_BATCH_MAX 100        /* topics per update / delete / ACL body (ours) */
#define TV_POLICIES_MAX 100     /* policies per topic in one ACL body (ours) */
#define TV_GROUP_MAX 249
#define TV_PRODUCE_MAX 10
#define TV_PRODUCE_BYTES (2 * 1024 * 1024) /* aggregated content of one produce */
#define TV_MSG_ID_MAX 128       /* producer message id (ours) */
#define TV_ACK_MAX 10
#define TV_ACK_WAIT_DEFAULT 15
#define TV_ACK_WAIT_MAX 300
#define TV_TIME_WAIT_DEFAULT 3
#define TV_TIME_WAIT_MAX 30
#define TV_MAX_MSGS_DEFAULT 10
#define TV_MAX_BYTES_DEFAULT 524288
#define TV_MAX_BYTES_MAX 2097152
#define TV_HANDLER_MAX 128      /* bytes of a base64 handler */
#define TV_QUERY_LIMIT_DEFAULT 10
#define TV_QUERY_LIMIT_MAX 1000

typedef struct tv_err {
    char field[64]; /* JSON path or parameter name, e.g. "topics[2].name" */
    char msg[256];  /* complete sentence for error_msg */
} tv_err;

/* ---- names ---- */
int tv_topic_name_ok(const char *s);  /* 3-200, starts with a letter, [A-Za-z0-9_-] */
int tv_group_name_ok(const char *s);  /* 1-249, [A-Za-z0-9_-] */
int tv_policy_ok(const char *s);      /* all | pub | sub */

/* Decimal integer in [lo, hi] (a whole string, optional leading '-'). 0 or ROMA_EINVAL. */
int tv_parse_int(const char *s, long lo, long hi, long *out) ROMA_MUST_USE;

/* ---- control plane bodies ---- */
/* TopicCreate -> {name, app_id, partition, replication, access_policy, sync_message_flush,
 * sync_replication, retention_time, tag, description, sensitive_word}. */
int tv_topic_create(const char *body, size_t len, cJSON **out, tv_err *err) ROMA_MUST_USE;
/* {topics:[{name, retention_time?, sync_replication?, sync_message_flush?, description?, sensitive_word?}]}
 * -> the topics array (1..TV_BATCH_MAX items, only present fields kept). */
int tv_topic_update(const char *body, size_t len, cJSON **out, tv_err *err) ROMA_MUST_USE;
/* {topics:[name...]} -> array of 1..TV_BATCH_MAX names (strings; names that break the naming rule are
 * kept: they cannot exist, so they simply report success false). */
int tv_batch_delete(const char *body, size_t len, cJSON **out, tv_err *err) ROMA_MUST_USE;
/* "a,b,c" (the ?name= of DeleteMqsInstanceTopic / export) -> array of 1..TV_BATCH_MAX non-empty names. */
int tv_name_list(const char *csv, cJSON **out, tv_err *err) ROMA_MUST_USE;
/* ACLUpdate -> topics array [{name, policies:[{app_id, access_policy, owner, tag}], description?,
 * sensitive_word?}]. */
int tv_acl_update(const char *body, size_t len, cJSON **out, tv_err *err) ROMA_MUST_USE;
/* {policies:[{user_name, app_name?, access_policy, tag?}]} -> policies array. */
int tv_acl_batch_add(const char *body, size_t len, cJSON **out, tv_err *err) ROMA_MUST_USE;
/* The export file (services/api/topics.c documents the format) -> topics array of items
 * {name, app_name, partition, replication, access_policy, sync_message_flush, sync_replication,
 *  retention_time, tag, description, sensitive_word, policies:[{app_name, access_policy, tag}]}. */
int tv_import_doc(const char *body, size_t len, cJSON **out, tv_err *err) ROMA_MUST_USE;
/* ResetMessages body -> {topic, partition, message_offset, consumer_key?}. */
int tv_resend(const char *body, size_t len, cJSON **out, tv_err *err) ROMA_MUST_USE;

/* ---- data plane ---- */
/* {messages:[{content (any JSON value but null), id (string)}]} with 1..10 items and at most
 * TV_PRODUCE_BYTES of content -> array of {content: compact JSON text, id}. *bytes = content bytes. */
int tv_produce(const char *body, size_t len, cJSON **out, size_t *bytes, tv_err *err) ROMA_MUST_USE;

typedef struct tv_ack_item {
    int valid;          /* handler decoded (otherwise counted as a failed acknowledgement) */
    int partition;
    int64_t offset;
    int gen;
    int64_t topic_id;
    int ok;             /* status success */
} tv_ack_item;

/* {messages:[{handler, status: success|fail}]} with 1..10 items. */
int tv_ack(const char *body, size_t len, tv_ack_item items[TV_ACK_MAX], int *n, tv_err *err) ROMA_MUST_USE;

/* Consume handler: base64("partition#offset#gen#topic_id") (the shape ROMA's handlers decode to). The
 * encoder writes a NUL-terminated string into out (>= TV_HANDLER_MAX + 1). */
int tv_handler_encode(int partition, int64_t offset, int gen, int64_t topic_id, char *out, size_t outlen) ROMA_MUST_USE;
int tv_handler_decode(const char *h, tv_ack_item *out) ROMA_MUST_USE;

#endif
