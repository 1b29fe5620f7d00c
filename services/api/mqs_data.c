/* mqs_data.c: the MQS data-plane REST API (spec §5.6), served by the API itself (ROMA serves it on
 * rest_connect_address:9292; ours is the address ShowMqsInstance reports as rest_connect_address):
 *
 *   POST /v1/topic/{topic}/messages                 produce 1-10 messages (<= 2 MB of content)
 *                                                   -> 200 [{"state": "success"|"fail", "id"}]
 *   GET  /v1/topic/{topic}/group/{group}/messages   consume: ack_wait 1-300 s (15), time_wait 1-30 s (3),
 *                                                   max_msgs 1-10 (10), max_bytes 1-2097152 (524288)
 *                                                   -> 200 [{"handler", "message": {"content": base64}}]
 *   POST /v1/topic/{topic}/group/{group}/messages   ack [{handler, status: success|fail}]
 *                                                   -> 200 {"success": n, "fail": n}
 *
 * Authentication: the app key and secret (mqs_auth.h: SDK-HMAC-SHA256 signature or HTTP Basic).
 * Authorisation: the owner app has the topic's access_policy, any other app the policy granted to it
 * (UpdateTopicAccessPolicy / batch-add); producing needs all|pub (else 403 MQS.00403001), consuming and
 * acknowledging need all|sub (else 403 MQS.00403002). An unknown topic is 404 MQS.00404001.
 *
 * Every request goes API -> topic manager -> engine over the bus (so a Kafka engine needs no change
 * here). Content is stored as the compact JSON text of the produced "content" value and returned base64
 * encoded, as ROMA does ("hello" comes back as base64 of "\"hello\"").
 *
 * Long-poll: a consume with nothing to deliver waits up to time_wait in the topic manager, which sleeps
 * on a LISTEN/NOTIFY doorbell holding NO database connection (services/topic_worker/notify.h); the API
 * thread waits on the bus reply, also without a database connection. Acknowledgement semantics: a
 * "success" removes the message from the group, a "fail" makes it consumable again at once; a handler
 * that is malformed, of another topic, or whose ack_wait expired (the message may already have been
 * handed to another consumer) counts in "fail". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "log.h"
#include "mqs_auth.h"
#include "mqs_common.h"
#include "mqs_config.h"
#include "routes.h"
#include "topic_cmd.h"
#include "topic_validate.h"

/* slack on top of time_wait for the consume call: the manager's last fetch and the bus round trip */
#define CONSUME_SLACK_MS 5000

/* Authenticates the app, resolves the topic in the app's instance and checks the permission `need`
 * ('p' produce, 's' consume). 0, or a negative code after replying. */
static int open_topic_or_reply(req *r, char need, mqs_app *app, mqs_topic *t)
{
    if (mqs_auth_app_or_reply(r, app) != 0) return ROMA_EDENIED;
    const char *name = req_param(r, "topic");
    char policy[4];
    int rc = tv_topic_name_ok(name) ? mqs_topic_find_cached(r, app->instance_id, name, app->id, t, policy)
                                    : ROMA_ENOTFOUND;
    if (rc == ROMA_ENOTFOUND) {
        reply_error(r, 404, MQS_E_TOPIC_NOT_FOUND, "The topic %.200s does not exist.", name);
        return rc;
    }
    if (rc) return rc; /* replied */
    const char *granted = !strcmp(t->app_id, app->id) ? t->access_policy : policy;
    int ok = !strcmp(granted, "all") || (need == 'p' ? !strcmp(granted, "pub") : !strcmp(granted, "sub"));
    if (!ok) {
        log_info(r->rid, "mqs.forbidden", "app %s may not %s topic %s (policy '%s')", app->id,
                 need == 'p' ? "produce to" : "consume from", t->name, granted);
        if (need == 'p')
            reply_error(r, 403, MQS_E_NO_PUB, "The app has no permission to produce messages to the topic %s.", t->name);
        else
            reply_error(r, 403, MQS_E_NO_SUB, "The app has no permission to consume messages from the topic %s.", t->name);
        return ROMA_EDENIED;
    }
    return 0;
}

/* Builds {topic:T, ...} for a message command. NULL on OOM. */
static cJSON *msg_cmd(const mqs_topic *t)
{
    cJSON *cmd = cJSON_CreateObject();
    cJSON *tj = mqs_topic_json(t);
    if (!cmd || !tj || !cJSON_AddItemToObject(cmd, "topic", tj)) {
        if (cmd && tj && !cJSON_GetObjectItemCaseSensitive(cmd, "topic")) cJSON_Delete(tj);
        if (!cmd) cJSON_Delete(tj);
        cJSON_Delete(cmd);
        return NULL;
    }
    return cmd;
}

static void produce(req *r)
{
    tv_err e;
    cJSON *msgs;
    size_t bytes;
    mqs_app app;
    mqs_topic t;
    if (open_topic_or_reply(r, 'p', &app, &t) != 0) return;
    int rc = tv_produce(r->body, r->body_len, &msgs, &bytes, &e);
    if (rc) {
        if (rc == ROMA_ENOMEM) reply_internal(r, "oom");
        else reply_error(r, 400, MQS_E_BAD_PARAM, "%s", e.msg);
        return;
    }
    cJSON *cmd = msg_cmd(&t);
    if (!cmd || !cJSON_AddStringToObject(cmd, "app_id", app.id) || !cJSON_AddItemReferenceToObject(cmd, "messages", msgs)) {
        cJSON_Delete(cmd);
        cJSON_Delete(msgs);
        reply_internal(r, "oom");
        return;
    }
    roma_msg reply;
    proto_msg_init(&reply);
    rc = mqs_call_or_reply(r, TOPIC_KIND, TOPIC_CMD_PRODUCE, cmd, (int)mqs_cfg()->call_timeout_ms, &reply);
    cJSON_Delete(cmd);
    if (rc) {
        cJSON_Delete(msgs);
        return;
    }
    const cJSON *results = cJSON_GetObjectItemCaseSensitive(reply.body, "results");
    cJSON *out = cJSON_CreateArray();
    int ok = out != NULL, i = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, msgs)
    {
        if (!ok) break;
        const cJSON *res = cJSON_GetArrayItem(results, i++);
        cJSON *o = cJSON_CreateObject();
        ok = o && cJSON_AddItemToArray(out, o);
        if (!ok) {
            cJSON_Delete(o);
            break;
        }
        ok = cJSON_AddStringToObject(o, "state", cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(res, "ok")) ? "success" : "fail") &&
             cJSON_AddStringToObject(o, "id", cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "id")));
    }
    proto_msg_clear(&reply);
    cJSON_Delete(msgs);
    if (ok) reply_json(r, 200, out);
    else reply_internal(r, "oom");
    cJSON_Delete(out);
}

/* An optional integer query parameter in [lo, hi] with a default. 0, or -1 after replying 400. */
static int consume_param(req *r, const char *name, long lo, long hi, long def, long *out)
{
    char buf[32];
    int n = req_query(r, name, buf, sizeof buf);
    if (n == -1 || (n == 0 && !*buf)) {
        *out = def;
        return 0;
    }
    if (n < 0 || tv_parse_int(buf, lo, hi, out) != 0) {
        reply_error(r, 400, MQS_E_BAD_PARAM, "The parameter %s must be an integer from %ld to %ld.", name, lo, hi);
        return -1;
    }
    return 0;
}

static int group_ok_or_reply(req *r)
{
    if (tv_group_name_ok(req_param(r, "group"))) return 0;
    reply_error(r, 400, MQS_E_BAD_PARAM,
                "The consumer group name must be 1 to 249 letters, digits, hyphens and underscores.");
    return -1;
}

static void consume(req *r)
{
    long ack_wait, time_wait, max_msgs, max_bytes;
    if (consume_param(r, "ack_wait", 1, TV_ACK_WAIT_MAX, TV_ACK_WAIT_DEFAULT, &ack_wait) ||
        consume_param(r, "time_wait", 1, TV_TIME_WAIT_MAX, TV_TIME_WAIT_DEFAULT, &time_wait) ||
        consume_param(r, "max_msgs", 1, TV_PRODUCE_MAX, TV_MAX_MSGS_DEFAULT, &max_msgs) ||
        consume_param(r, "max_bytes", 1, TV_MAX_BYTES_MAX, TV_MAX_BYTES_DEFAULT, &max_bytes) || group_ok_or_reply(r))
        return;
    mqs_app app;
    mqs_topic t;
    if (open_topic_or_reply(r, 's', &app, &t) != 0) return;
    /* the database connection of the lookup goes back to the pool now, not after the long-poll */
    if (r->db) {
        db_release(g_api->db, r->db);
        r->db = NULL;
    }
    cJSON *cmd = msg_cmd(&t);
    if (!cmd || !cJSON_AddStringToObject(cmd, "group", req_param(r, "group")) ||
        !cJSON_AddNumberToObject(cmd, "max_msgs", (double)max_msgs) ||
        !cJSON_AddNumberToObject(cmd, "max_bytes", (double)max_bytes) ||
        !cJSON_AddNumberToObject(cmd, "ack_wait_ms", (double)ack_wait * 1000) ||
        !cJSON_AddNumberToObject(cmd, "wait_ms", (double)time_wait * 1000)) {
        cJSON_Delete(cmd);
        reply_internal(r, "oom");
        return;
    }
    roma_msg reply;
    proto_msg_init(&reply);
    int rc = mqs_call_or_reply(r, TOPIC_KIND_FETCH, TOPIC_CMD_CONSUME, cmd, (int)(time_wait * 1000 + CONSUME_SLACK_MS),
                               &reply);
    cJSON_Delete(cmd);
    if (rc) return;
    const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(reply.body, "messages"), *m;
    cJSON *out = cJSON_CreateArray();
    int ok = out != NULL;
    cJSON_ArrayForEach(m, msgs)
    {
        if (!ok) break;
        char handler[TV_HANDLER_MAX + 1];
        const char *content = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "content"));
        double p = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(m, "p"));
        double o = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(m, "o"));
        double g = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(m, "g"));
        char *b64 = content ? crypto_b64_encode(content, strlen(content)) : NULL;
        cJSON *item = cJSON_CreateObject();
        cJSON *msg = item ? cJSON_AddObjectToObject(item, "message") : NULL;
        ok = b64 && msg && tv_handler_encode((int)p, (int64_t)o, (int)g, t.id, handler, sizeof handler) == 0 &&
             cJSON_AddStringToObject(item, "handler", handler) && cJSON_AddStringToObject(msg, "content", b64) &&
             cJSON_AddItemToArray(out, item);
        if (!ok) cJSON_Delete(item);
        free(b64);
    }
    proto_msg_clear(&reply);
    if (ok) reply_json(r, 200, out);
    else reply_internal(r, "oom");
    cJSON_Delete(out);
}

static void ack(req *r)
{
    if (group_ok_or_reply(r)) return;
    mqs_app app;
    mqs_topic t;
    if (open_topic_or_reply(r, 's', &app, &t) != 0) return;
    tv_ack_item items[TV_ACK_MAX];
    int n;
    tv_err e;
    int rc = tv_ack(r->body, r->body_len, items, &n, &e);
    if (rc) {
        if (rc == ROMA_ENOMEM) reply_internal(r, "oom");
        else reply_error(r, 400, MQS_E_BAD_PARAM, "%s", e.msg);
        return;
    }
    cJSON *cmd = msg_cmd(&t);
    cJSON *acks = cmd ? cJSON_AddArrayToObject(cmd, "acks") : NULL;
    int ok = acks && cJSON_AddStringToObject(cmd, "group", req_param(r, "group"));
    int valid = 0;
    for (int i = 0; ok && i < n; i++) {
        /* a handler of another topic (or undecodable) cannot be acknowledged here: it counts as failed */
        if (!items[i].valid || items[i].topic_id != t.id || items[i].partition >= t.partitions) continue;
        cJSON *a = cJSON_CreateObject();
        ok = a && cJSON_AddItemToArray(acks, a);
        if (!ok) {
            cJSON_Delete(a);
            break;
        }
        ok = cJSON_AddNumberToObject(a, "p", items[i].partition) && cJSON_AddNumberToObject(a, "o", (double)items[i].offset) &&
             cJSON_AddNumberToObject(a, "g", items[i].gen) && cJSON_AddBoolToObject(a, "ok", items[i].ok);
        valid++;
    }
    if (!ok) {
        cJSON_Delete(cmd);
        reply_internal(r, "oom");
        return;
    }
    long acked = 0;
    if (valid > 0) {
        roma_msg reply;
        proto_msg_init(&reply);
        rc = mqs_call_or_reply(r, TOPIC_KIND, TOPIC_CMD_ACK, cmd, (int)mqs_cfg()->call_timeout_ms, &reply);
        if (rc) {
            cJSON_Delete(cmd);
            return;
        }
        acked = (long)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(reply.body, "acked"));
        proto_msg_clear(&reply);
        if (acked < 0 || acked > valid) acked = 0;
    }
    cJSON_Delete(cmd);
    cJSON *out = cJSON_CreateObject();
    if (out && cJSON_AddNumberToObject(out, "success", (double)acked) &&
        cJSON_AddNumberToObject(out, "fail", (double)(n - acked)))
        reply_json(r, 200, out);
    else
        reply_internal(r, "oom");
    cJSON_Delete(out);
}

const route mqs_data_routes[] = {
    {"POST", "/v1/topic/{topic}/messages", produce, ROUTE_PUBLIC, ERR_SHAPE_MQS},
    {"GET", "/v1/topic/{topic}/group/{group}/messages", consume, ROUTE_PUBLIC, ERR_SHAPE_MQS},
    {"POST", "/v1/topic/{topic}/group/{group}/messages", ack, ROUTE_PUBLIC, ERR_SHAPE_MQS},
    {NULL},
};
