/* mqs_common.c: topic manager calls and topic lookups shared by the MQS modules (see mqs_common.h). */
#include "mqs_common.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "cache.h"
#include "log.h"
#include "mqs_config.h"
#include "topic_cmd.h"

int mqs_call_or_reply(req *r, const char *kind, const char *type, cJSON *body, int timeout_ms, roma_msg *reply)
{
    int rc = bus_call(kind, type, r->rid, body, timeout_ms, reply);
    if (rc != 0) {
        log_warn(r->rid, "mqs.manager_unavailable", "%s: %s", type, roma_strerror(rc));
        reply_unavailable(r, "topic manager");
        return rc;
    }
    if (reply->status == 0) return 0;
    rc = reply->status;
    const cJSON *hs = cJSON_GetObjectItemCaseSensitive(reply->body, "http_status");
    const char *code = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(reply->body, "error_code"));
    const char *msg = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(reply->body, "error_msg"));
    if (cJSON_IsNumber(hs) && hs->valuedouble >= 400 && hs->valuedouble < 600 && code && msg) {
        int status = (int)hs->valuedouble;
        if (status >= 500) log_warn(r->rid, "mqs.manager_error", "%s: %s %s", type, code, msg);
        reply_error(r, status, code, "%s", msg);
    } else if (rc == ROMA_EUNAVAIL || rc == ROMA_ETIMEDOUT) {
        reply_unavailable(r, "topic manager");
    } else {
        reply_internal(r, "topic manager answered an error without a body");
    }
    proto_msg_clear(reply);
    return rc;
}

int mqs_topic_find(PGconn *db, const char *instance_id, const char *name, const char *app_id, mqs_topic *t,
                   char *app_policy, const char *rid)
{
    memset(t, 0, sizeof *t);
    if (app_policy) app_policy[0] = '\0';
    const char *p[] = {instance_id, name, app_id ? app_id : ""};
    PGresult *res = db_exec(db,
                            "SELECT t.id, t.name, t.instance_id, t.app_id, t.access_policy, t.partitions,"
                            " t.retention_time, COALESCE(p.access_policy, ''), t.sync_message_flush"
                            " FROM mqs_topics t LEFT JOIN mqs_topic_policies p ON p.topic_id = t.id AND p.app_id = $3"
                            " WHERE t.instance_id = $1 AND t.name = $2",
                            3, p);
    if (!db_ok(res, PGRES_TUPLES_OK, rid)) {
        PQclear(res);
        return ROMA_EIO;
    }
    if (PQntuples(res) != 1) {
        PQclear(res);
        return ROMA_ENOTFOUND;
    }
    t->id = atoll(PQgetvalue(res, 0, 0));
    snprintf(t->name, sizeof t->name, "%s", PQgetvalue(res, 0, 1));
    snprintf(t->instance_id, sizeof t->instance_id, "%s", PQgetvalue(res, 0, 2));
    snprintf(t->app_id, sizeof t->app_id, "%s", PQgetvalue(res, 0, 3));
    snprintf(t->access_policy, sizeof t->access_policy, "%s", PQgetvalue(res, 0, 4));
    t->partitions = atoi(PQgetvalue(res, 0, 5));
    t->retention_time = atoi(PQgetvalue(res, 0, 6));
    if (app_policy) snprintf(app_policy, 4, "%s", PQgetvalue(res, 0, 7));
    t->sync_flush = PQgetvalue(res, 0, 8)[0] == 't';
    PQclear(res);
    return 0;
}

/* Cache keys carry a generation that every local topic change bumps: older entries become unreachable at
 * once and expire by themselves. */
static ttl_cache *topic_cache;
static atomic_ulong topic_gen;
static pthread_once_t topic_cache_once = PTHREAD_ONCE_INIT;
static void topic_cache_init(void) { topic_cache = ttl_cache_new(4096); }

void mqs_topics_changed(void) { atomic_fetch_add(&topic_gen, 1); }

int mqs_topic_find_cached(req *r, const char *instance_id, const char *name, const char *app_id, mqs_topic *t,
                          char *app_policy)
{
    pthread_once(&topic_cache_once, topic_cache_init);
    long ttl = mqs_cfg()->topic_cache_ms;
    char key[400], val[512];
    snprintf(key, sizeof key, "%lu|%.64s|%.200s|%.64s", (unsigned long)atomic_load(&topic_gen), instance_id, name,
             app_id ? app_id : "");
    if (ttl > 0 && topic_cache && ttl_cache_get(topic_cache, key, val, sizeof val)) {
        long long id;
        int parts, ret, sync, n = 0;
        memset(t, 0, sizeof *t);
        if (sscanf(val, "%lld|%d|%d|%d|%3[a-z]|%64[^|]|%n", &id, &parts, &ret, &sync, t->access_policy, t->app_id,
                   &n) == 6 && n > 0) {
            t->id = id;
            t->partitions = parts;
            t->retention_time = ret;
            t->sync_flush = sync;
            snprintf(t->name, sizeof t->name, "%s", name);
            snprintf(t->instance_id, sizeof t->instance_id, "%s", instance_id);
            if (app_policy) snprintf(app_policy, 4, "%s", val + n);
            return 0;
        }
    }
    PGconn *db = req_db_or_reply(r);
    if (!db) return ROMA_EUNAVAIL;
    char pol[4];
    int rc = mqs_topic_find(db, instance_id, name, app_id, t, pol, r->rid);
    if (rc == ROMA_EIO) {
        reply_unavailable(r, "database");
        return rc;
    }
    if (rc) return rc;
    if (app_policy) snprintf(app_policy, 4, "%s", pol);
    snprintf(val, sizeof val, "%" PRId64 "|%d|%d|%d|%s|%s|%s", t->id, t->partitions, t->retention_time, t->sync_flush,
             t->access_policy, t->app_id, pol);
    if (ttl > 0 && topic_cache) ttl_cache_put(topic_cache, key, val, ttl);
    return 0;
}

cJSON *mqs_topic_json(const mqs_topic *t)
{
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddNumberToObject(o, "id", (double)t->id) || !cJSON_AddStringToObject(o, "name", t->name) ||
        !cJSON_AddStringToObject(o, "instance_id", t->instance_id) ||
        !cJSON_AddNumberToObject(o, "partitions", t->partitions) ||
        !cJSON_AddNumberToObject(o, "retention_time", t->retention_time) ||
        !cJSON_AddBoolToObject(o, "sync_message_flush", t->sync_flush)) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}
