/* mqs_common.h: what the MQS control plane (topics.c) and data plane (mqs_data.c) share: calling the
 * topic manager with the right deadline and turning its answers into E-MQS responses, and reading a
 * topic's metadata row (reads are the API's; every change goes through the topic manager). */
#ifndef ROMA_API_MQS_COMMON_H
#define ROMA_API_MQS_COMMON_H

#include <cJSON.h>
#include <stdint.h>

#include "command.h"
#include "http.h"

/* A topic as the API reads it from mqs_topics. */
typedef struct mqs_topic {
    int64_t id;
    char name[201];
    char instance_id[65];
    char app_id[65];        /* owner app */
    char access_policy[4];  /* owner's permission: all | pub | sub */
    int partitions;
    int retention_time;
    int sync_flush;         /* sync_message_flush */
} mqs_topic;

/* Sends a command to the topic manager (kind TOPIC_KIND or TOPIC_KIND_FETCH) and waits up to
 * timeout_ms. On 0 the caller owns *reply (proto_msg_clear) and reply->body is the answer. Otherwise it
 * has replied: 503 (no worker, worker lost, deadline), the manager's own E-MQS error, or 500. */
int mqs_call_or_reply(req *r, const char *kind, const char *type, cJSON *body, int timeout_ms, roma_msg *reply)
    ROMA_MUST_USE;

/* Looks a topic up by (instance, name). 0, ROMA_ENOTFOUND, or ROMA_EIO (logged). When app_id is non-NULL
 * the app's own policy row is read too: *app_policy (>= 4 bytes) is "" when the app has none. */
int mqs_topic_find(PGconn *db, const char *instance_id, const char *name, const char *app_id, mqs_topic *t,
                   char *app_policy, const char *rid) ROMA_MUST_USE;

/* mqs_topic_find through a cache of ROMA_MQS_TOPIC_CACHE_MS, for the data plane's per-message hot path:
 * borrows the request's database connection only on a miss. 0, ROMA_ENOTFOUND, or a negative code after
 * replying 503. Absent topics are never cached. */
int mqs_topic_find_cached(req *r, const char *instance_id, const char *name, const char *app_id, mqs_topic *t,
                          char *app_policy) ROMA_MUST_USE;

/* Invalidates the whole topic cache of this process (called after every topic change it submitted). */
void mqs_topics_changed(void);

/* The topic object T of topic_cmd.h; NULL on OOM. */
cJSON *mqs_topic_json(const mqs_topic *t);

#endif
